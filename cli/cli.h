/* cli.h — what every `cloakx` subcommand shares: global options (--json, -v, -q), output
 * and error conventions, argument tables, key dirs and role handles, and the command table.
 * Internal to cli/; the tool is built on the job library (cx_engine.h), never the reverse. */
#ifndef CX_CLI_H
#define CX_CLI_H

#include "cx_engine.h"
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

/* ---- helpers shared by the marketplace commands (roles.c) ---- */

/* argv[*i] == name with a value after it: *val = the value, *i advanced; returns 1. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val);
/* given, else getenv(env) (NULL when neither). */
const char *cli_env_default(const char *given, const char *env);

/* A command's argument table, ended by an entry with name NULL. name "--x": an option with
 * a value (into *val, or appended to list), or with flag: a flag set to 1; name "": the
 * positional argument (one into *val, or each into list). env: after parsing, an unset
 * *val takes $env. */
typedef struct cli_arg {
    const char *name;
    const char **val;
    int *flag;
    const char *env;
    const char **list; /* repeated: up to cap values, count in *n */
    size_t *n;
    size_t cap;
} cli_arg;
/* 0 when argv[1..] fits the table; else the usage error's exit code (unknown argument, a
 * second positional, a full list). Required arguments stay the command's to check. */
int cli_args_parse(cx_cli *cli, int argc, char **argv, const cli_arg *args);

cx_err cli_parse_u64(const char *s, const char *what, uint64_t *out, cx_error *e);
/* "90", "90s", "15m", "2h", "7d" -> milliseconds. */
cx_err cli_parse_duration_ms(const char *s, uint64_t *out, cx_error *e);
/* --devca, else CLOAKX_DEVCA, else $HOME/.cloakx/devca. */
cx_err cli_devca_dir(const char *given, char *out, size_t cap, cx_error *e);
/* The simulated TEE's development root (DIR/SIMULATED-devroot.pem), for verifiers told
 * --allow-simulated. *pem malloc'ed. */
cx_err cli_devroot_load(const char *devca_dir, char **pem, size_t *len, cx_error *e);
/* The same, from --devca as given (cli_devca_dir's defaults). */
cx_err cli_devroot_for(const char *devca_given, char **pem, size_t *len, cx_error *e);
/* A key dir's X25519 public key (DIR/x25519.pub: receives sealed data, a buyer's model). */
cx_err cli_x25519_pub_load(const char *keydir, uint8_t pub[32], cx_error *e);

/* A key dir as `cloakx keygen` makes it: X25519 (receives sealed data) and Ed25519 (signs)
 * key pairs in io's key file formats, secrets 0600. */
enum { CLI_KEYDIR_X_KEY, CLI_KEYDIR_X_PUB, CLI_KEYDIR_ED_KEY, CLI_KEYDIR_ED_PUB, CLI_KEYDIR_FILES };
enum { CLI_KEYDIR_PATH_MAX = 4096 }; /* Linux's PATH_MAX, which strict C11 headers may hide */
typedef struct cli_keydir {
    char path[CLI_KEYDIR_FILES][CLI_KEYDIR_PATH_MAX];
    cx_x25519_key *x;
    cx_ed25519_key *ed;
} cli_keydir;
/* Makes dir (0700) and fresh keys in it; existing key files are an error (CX_ERR_STATE)
 * unless force. On success the caller frees the keys with cli_keydir_free. */
cx_err cli_keydir_create(const char *dir, int force, cli_keydir *k, cx_error *e);
void cli_keydir_free(cli_keydir *k);

/* What a role command works with: its identity (--key DIR), the ledger and the store. */
typedef struct cli_role {
    cx_chain_key *key;
    cx_ledger *ledger;
    cx_store *store;
} cli_role;
/* Loads / opens each one named (NULL: left NULL) in that order; on failure what was opened
 * stays in r for cli_role_close. */
cx_err cli_role_open(cli_role *r, const char *keydir, const char *ledger_url, const char *store_url,
                    const cx_logger *log, cx_error *e);
void cli_role_close(cli_role *r);

/* Output: j on stdout with --json, else the text, whose arguments may point into j (j is
 * freed either way; NULL j: out of memory). Returns the exit code. */
int cli_role_print(cx_cli *cli, json_t *j, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- demo data (demo_data.c) ---- */

/* Synthetic wearable and health measurements of one cohort (a contributor), as CSV with a
 * header: age, sex, bmi, resting_hr, hrv_ms, steps, sleep_h, active_min, systolic_bp, spo2,
 * risk (0/1, a cardiometabolic risk label drawn from a logistic model of the others, so a
 * model can learn it; cohorts differ in age, activity and device noise). Deterministic in
 * (seed, cohort). *out is cx_secmem (caller frees with cx_secmem_free). */
cx_err cli_demo_data_csv(uint64_t seed, unsigned cohort, size_t rows, uint8_t **out, size_t *len,
                        cx_error *e);
/* The demo buyer's job spec (JSON text): an MLP classifier of "risk" with DP-SGD. */
const char *cli_demo_spec_json(void);

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
/* `bench report`: the suite's JSON and an HTML page of plots (cmd_bench_report.c) */
int cmd_bench_report(cx_cli *cli, int argc, char **argv);
/* report.html from report.json: one self-contained page (bench_report_html.c) */
cx_err cli_bench_report_html(const json_t *report, FILE *out, cx_error *e);
int cmd_privacy(cx_cli *cli, int argc, char **argv); /* cmd_privacy.c: DP accountant */

/* attestation */
int cmd_attest_verify_nitro(cx_cli *cli, int argc, char **argv); /* cmd_attest_nitro.c */
int cmd_attest_inspect(cx_cli *cli, int argc, char **argv);      /* cmd_attest_nitro.c */
int cmd_attest_verify_gpu(cx_cli *cli, int argc, char **argv);  /* cmd_attest_gpu.c */
int cmd_attest_collect_gpu(cx_cli *cli, int argc, char **argv); /* cmd_attest_gpu.c */

/* chain / marketplace */
/* marketplace roles, worker, verify, demo */
int cmd_pool(cx_cli *cli, int argc, char **argv);       /* cmd_pool.c: pool create|show */
int cmd_enclave(cx_cli *cli, int argc, char **argv);    /* cmd_enclave.c: enclave register|show */
int cmd_contribute(cx_cli *cli, int argc, char **argv); /* cmd_contribute.c */
int cmd_job(cx_cli *cli, int argc, char **argv);        /* cmd_job.c: job create|status|submit|refund */
int cmd_model(cx_cli *cli, int argc, char **argv);      /* cmd_model.c: model fetch */
int cmd_balance(cx_cli *cli, int argc, char **argv);    /* cmd_balance.c */
int cmd_worker(cx_cli *cli, int argc, char **argv);     /* cmd_worker.c */
int cmd_keyserver(cx_cli *cli, int argc, char **argv);  /* group: cmd_keyserver.c */
int cmd_verify(cx_cli *cli, int argc, char **argv);     /* cmd_verify.c */
int cmd_demo(cx_cli *cli, int argc, char **argv);       /* cmd_demo.c */

/* A training run's curve (curve_report.c): n epochs of train and validation loss, and
 * optionally the learning rate and (DP-SGD) the epsilon spent by each epoch's end at delta. */
typedef struct cli_curve {
    int n;
    const double *train, *val, *lr, *eps; /* lr, eps may be NULL */
    double delta;
} cli_curve;
/* DIR/json_name: head (taken) with "epochs" added; DIR/loss.svg and, with eps, DIR/epsilon.svg,
 * each point carrying where its value is in the JSON (checked by tests/report_check.py). */
cx_err cli_curve_report(const char *dir, const char *json_name, json_t *head, const cli_curve *c,
                        cx_error *e);

/* --ranks N from a plain shell: `cloakx COMMAND` once more under mpirun with N ranks on this
 * machine (execv: no return when it starts; argv without --ranks N). Returns when MPI cannot be
 * used here, having said why ("DOING in one process"); the caller then goes on in one process.
 * The ranks find MPI from the launcher's environment (cx_comm_mpi_launched), as they do when
 * the user runs mpirun themself. */
void cli_exec_under_mpirun(cx_cli *cli, int argc, char **argv, int ranks, const char *command,
                           const char *doing);

#endif
