/* cli.h — what every `cloakx` subcommand shares: global options (--json, -v, -q),
 * output and error conventions, and the command table. Internal to engine/. */
#ifndef CX_ENGINE_CLI_H
#define CX_ENGINE_CLI_H

#include "cx_util.h"

typedef struct cx_cli {
    const char *cmd;  /* "seal", "attest verify-nitro", ... */
    int json;         /* --json: machine-readable output on stdout */
    int progress;     /* progress bars allowed (stderr is a terminal, not -q) */
    cx_logger log;    /* stderr; level from -v / -q */
    char cmd_buf[64]; /* storage for a two-word cmd */
} cx_cli;

typedef int (*cx_cmd_fn)(cx_cli *cli, int argc, char **argv);

typedef struct cx_command {
    const char *name;
    const char *summary;
    cx_cmd_fn run;
} cx_command;

/* Report e (human text on stderr; with --json also {"error":...} on stdout);
 * returns the documented exit code for e->code. */
int cli_fail(cx_cli *cli, const cx_error *e);
/* A usage error: message and a pointer to --help on stderr; returns 2. */
int cli_usage(cx_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a JSON value on stdout (pretty when stdout is a terminal) and free it. */
int cli_print_json(cx_cli *cli, json_t *v);
/* True when argv holds -h or --help. */
int cli_wants_help(int argc, char **argv);
/* Dispatch argv[0] among sub-commands (for `cloakx attest ...`, `cloakx blob ...`). */
int cli_dispatch(cx_cli *cli, const char *group, const cx_command *cmds, int argc, char **argv);

/* One function per top-level command; each file cmd_*.c owns its command. */
int cmd_version(cx_cli *cli, int argc, char **argv);
int cmd_attest(cx_cli *cli, int argc, char **argv); /* group: cmd_groups.c */
int cmd_bench(cx_cli *cli, int argc, char **argv);  /* group: cmd_groups.c */
/* sub-commands of the groups */

/* io */
int cmd_keygen(cx_cli *cli, int argc, char **argv);        /* cmd_keygen.c */
int cmd_seal(cx_cli *cli, int argc, char **argv);          /* cmd_seal.c */
int cmd_unseal(cx_cli *cli, int argc, char **argv);        /* cmd_seal.c */
int cmd_bench_decrypt(cx_cli *cli, int argc, char **argv); /* cmd_bench_decrypt.c */
int cmd_blob(cx_cli *cli, int argc, char **argv); /* group: blob put|get|stat */
int cmd_stats(cx_cli *cli, int argc, char **argv); /* cmd_stats.c: column statistics */
int cmd_bench_parse(cx_cli *cli, int argc, char **argv); /* cmd_bench_parse.c: CSV parse rate */

/* kernels */
int cmd_train(cx_cli *cli, int argc, char **argv);       /* cmd_train.c */
int cmd_predict(cx_cli *cli, int argc, char **argv);     /* cmd_train.c */
int cmd_bench_train(cx_cli *cli, int argc, char **argv); /* cmd_bench_train.c */
/* Run this command again (same global flags, [group] argv...) with OMP_WAIT_POLICY=policy
 * unless the environment already sets it (force: unless it already equals policy); returns
 * only when no re-exec happened. cmd_bench_train.c. */
void cli_reexec_omp_policy(cx_cli *cli, const char *group, int argc, char **argv,
                           const char *policy, int force);
int cmd_bench_train_device(cx_cli *cli, int argc, char **argv); /* cmd_bench_train_gpu.c */
int cmd_privacy(cx_cli *cli, int argc, char **argv); /* cmd_privacy.c: DP accountant */

/* attestation */
int cmd_attest_verify_nitro(cx_cli *cli, int argc, char **argv); /* cmd_attest_nitro.c */
int cmd_attest_inspect(cx_cli *cli, int argc, char **argv);      /* cmd_attest_nitro.c */
int cmd_attest_verify_gpu(cx_cli *cli, int argc, char **argv);  /* cmd_attest_gpu.c */
int cmd_attest_collect_gpu(cx_cli *cli, int argc, char **argv); /* cmd_attest_gpu.c */

/* chain / marketplace */
/* marketplace roles, worker, verify, demo (task I) */
int cmd_pool(cx_cli *cli, int argc, char **argv);       /* cmd_pool.c: pool create|show */
int cmd_enclave(cx_cli *cli, int argc, char **argv);    /* cmd_enclave.c: enclave register|show */
int cmd_contribute(cx_cli *cli, int argc, char **argv); /* cmd_contribute.c */
int cmd_job(cx_cli *cli, int argc, char **argv);        /* cmd_job.c: job create|status|submit|refund */
int cmd_model(cx_cli *cli, int argc, char **argv);      /* cmd_model.c: model fetch */
int cmd_balance(cx_cli *cli, int argc, char **argv);    /* cmd_balance.c */
int cmd_worker(cx_cli *cli, int argc, char **argv);     /* cmd_worker.c */
int cmd_verify(cx_cli *cli, int argc, char **argv);     /* cmd_verify.c */
int cmd_demo(cx_cli *cli, int argc, char **argv);       /* cmd_demo.c */

#endif
