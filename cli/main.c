/* main.c — the `cloakx` command line: global options, the command table, help.
 * Each command lives in its own cmd_*.c; this file only dispatches. */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Keep sorted by how a new user meets them: general, seller, buyer, operator, auditor. */
static const cx_command commands[] = {
    {"version", "print version and build/CPU features", cmd_version},
    {"demo", "the whole marketplace on one machine: sellers, buyer, worker, payouts", cmd_demo},
    /* seller */
    {"keygen", "create X25519 (receive) and Ed25519 (sign) key pairs", cmd_keygen},
    {"seal", "seal a data file to a recipient key (.cxb)", cmd_seal},
    {"unseal", "decrypt and verify a sealed blob with a secret key", cmd_unseal},
    {"blob", "put, get and stat blobs in a store (local:DIR or walrus:)", cmd_blob},
    {"contribute", "seal data to a pool's enclave, store it, register it on the ledger", cmd_contribute},
    {"balance", "an address's balance on the ledger (local: SIMULATED faucet)", cmd_balance},
    /* buyer */
    {"job", "create a paid job for a pool, show its status and result", cmd_job},
    {"model", "fetch and unseal a job's trained model (buyer)", cmd_model},
    {"train", "train a model from a job spec on plaintext data files (development)", cmd_train},
    {"predict", "predict with a trained model on a data file, to CSV", cmd_predict},
    {"stats", "column statistics and correlations of plaintext data files", cmd_stats},
    {"privacy", "DP budget: epsilon for a noise multiplier, or the noise for an epsilon", cmd_privacy},
    /* operator */
    {"pool", "create and show data pools on the ledger", cmd_pool},
    {"enclave", "register this node's (simulated) TEE enclave on the ledger", cmd_enclave},
    {"worker", "follow the ledger and run jobs in the TEE; submit attested results", cmd_worker},
    {"keyserver", "a local Seal key server: keys released under the market's policies", cmd_keyserver},
    {"attest", "verify, collect and inspect attestation evidence", cmd_attest},
    {"bench", "benchmarks, each beside its peer measured in the same run", cmd_bench},
    /* auditor */
    {"verify", "verify a result bundle: signature, report, measurement, hashes", cmd_verify},
    {NULL, NULL, NULL},
};

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: cloakx [-v|-q] [--json] <command> [options]\n\n"
            "CloakX confidential training engine.\n\ncommands:\n");
    for (const cx_command *c = commands; c->name; c++)
        fprintf(out, "  %-12s %s\n", c->name, c->summary);
    fprintf(out, "\nglobal options (accepted anywhere):\n"
                 "  --json         machine-readable output on stdout\n"
                 "  -v, --verbose  more log output on stderr (repeat for debug)\n"
                 "  -q, --quiet    errors only, no progress bars\n\n"
                 "exit codes: 0 ok, 1 runtime failure, 2 usage error,\n"
                 "            3 verification or integrity failure\n\n"
                 "'cloakx <command> --help' describes a command.\n");
}

/* Global flags may stand anywhere; they are removed before the command sees argv. */
static int take_global_flags(cx_cli *cli, int argc, char **argv)
{
    int out = 1, verbosity = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (i < argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "--json") == 0)
            cli->json = 1;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
            verbosity++;
        else if (strcmp(a, "-vv") == 0)
            verbosity += 2;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
            verbosity = -1;
        else
            argv[out++] = argv[i];
    }
    argv[out] = NULL;
    cli->log.level = verbosity < 0 ? CX_LOG_ERROR : verbosity == 0 ? CX_LOG_WARN
                                                 : verbosity == 1 ? CX_LOG_INFO
                                                                  : CX_LOG_DEBUG;
    cli->progress = verbosity >= 0 && isatty(STDERR_FILENO);
    return out;
}

/* libgomp reads OMP_WAIT_POLICY once, when it loads. Its default lets idle threads spin, and on a
 * shared machine a descheduled spinning team stalls every parallel region of the decrypt pipeline,
 * the parsers and the trainer (measured in `bench train` under load: 13 k vs 65 k samples/s). So
 * cloakx runs itself again with the passive policy unless the caller chose one. */
static void use_passive_omp_wait(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || setenv("OMP_WAIT_POLICY", "passive", 1) != 0)
        return;
    fflush(NULL);
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): go on with libgomp's default policy */
}

/* Blobs and data files are read through memory maps; if another process truncates one
 * meanwhile, touching the vanished pages raises SIGBUS. Unhandled, that is a crash (and a core
 * file of a process that may hold plaintext): report it and leave with the failure status
 * instead. Outputs are committed atomically, so none is left half-written. Async-signal-safe
 * calls only. */
static void on_sigbus(int sig)
{
    static const char msg[] = "cloakx: error: an input file was truncated by another process "
                              "while it was being read (SIGBUS on its memory map)\n";
    (void)sig;
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(CX_EXIT_FAILURE);
}

int main(int argc, char **argv)
{
    use_passive_omp_wait(argv);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    if (sigemptyset(&sa.sa_mask) != 0 || sigaction(SIGBUS, &sa, NULL) != 0)
        fprintf(stderr, "cloakx: warning: cannot handle SIGBUS: a truncated input will crash\n");
    cx_cli cli = {0};
    argc = take_global_flags(&cli, argc, argv);
    if (argc < 2) {
        print_help(stderr);
        return CX_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc > 2) {
            /* `cloakx help seal` is `cloakx seal --help` */
            char *sub[] = {argv[2], "--help", NULL};
            for (const cx_command *c = commands; c->name; c++)
                if (strcmp(c->name, argv[2]) == 0) {
                    cli.cmd = c->name;
                    return c->run(&cli, 2, sub);
                }
            fprintf(stderr, "cloakx: no help for '%s': not a command\n", argv[2]);
            return CX_EXIT_USAGE;
        }
        print_help(stdout);
        return CX_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0)
        name = "version";
    for (const cx_command *c = commands; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            cli.cmd = c->name;
            return c->run(&cli, argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "cloakx: '%s' is not a cloakx command. See 'cloakx help'.\n", name);
    return CX_EXIT_USAGE;
}
