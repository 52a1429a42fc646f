/* roles.c — what the marketplace commands share: argument tables, environment defaults, key
 * dirs, ledger and store handles, the simulated TEE's development root, and output helpers. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- arguments -- */

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    if (strcmp(argv[*i], name) != 0 || *i + 1 >= argc)
        return 0;
    *val = argv[++*i];
    return 1;
}

const char *cli_env_default(const char *given, const char *env)
{
    if (given)
        return given;
    const char *v = getenv(env);
    return v && *v ? v : NULL;
}

/* One argument against the table: 1 taken, 0 not for this entry, -1 a list is full. */
static int take_arg(const cli_arg *a, int argc, char **argv, int *i)
{
    if (!a->name[0]) { /* positional */
        if (argv[*i][0] == '-')
            return 0;
        if (a->list) {
            if (*a->n == a->cap)
                return -1;
            a->list[(*a->n)++] = argv[*i];
            return 1;
        }
        if (*a->val)
            return 0;
        *a->val = argv[*i];
        return 1;
    }
    if (a->flag) {
        if (strcmp(argv[*i], a->name) != 0)
            return 0;
        *a->flag = 1;
        return 1;
    }
    const char *v = NULL;
    if (!cli_opt(argc, argv, i, a->name, &v))
        return 0;
    if (a->list) {
        if (*a->n == a->cap)
            return -1;
        a->list[(*a->n)++] = v;
    } else {
        *a->val = v;
    }
    return 1;
}

int cli_args_parse(cx_cli *cli, int argc, char **argv, const cli_arg *args)
{
    for (int i = 1; i < argc; i++) {
        int took = 0;
        for (const cli_arg *a = args; a->name && !took; a++) {
            took = take_arg(a, argc, argv, &i);
            if (took < 0)
                return cli_usage(cli, "at most %zu %s", a->cap, a->name[0] ? a->name : "arguments");
        }
        if (!took)
            return cli_usage(cli, "unexpected argument '%s'", argv[i]);
    }
    for (const cli_arg *a = args; a->name; a++)
        if (a->env && a->val)
            *a->val = cli_env_default(*a->val, a->env);
    return 0;
}

cx_err cli_parse_u64(const char *s, const char *what, uint64_t *out, cx_error *e)
{
    char *end = NULL;
    errno = 0;
    if (!s || !*s || *s == '-')
        return cx_error_set(e, CX_ERR_ARG, "%s: expected a non-negative integer", what);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v >= (1ull << 63))
        return cx_error_set(e, CX_ERR_ARG, "%s: \"%.40s\" is not an integer below 2^63", what, s);
    *out = v;
    return CX_OK;
}

cx_err cli_parse_duration_ms(const char *s, uint64_t *out, cx_error *e)
{
    char *end = NULL;
    errno = 0;
    double v = s ? strtod(s, &end) : -1;
    if (!s || errno || end == s || !(v > 0))
        return cx_error_set(e, CX_ERR_ARG, "duration \"%.40s\": expected e.g. 90s, 15m, 2h, 7d",
                            s ? s : "");
    double mult = 1000;
    if (*end == 's' || *end == 0)
        mult = 1000;
    else if (*end == 'm')
        mult = 60e3;
    else if (*end == 'h')
        mult = 3600e3;
    else if (*end == 'd')
        mult = 86400e3;
    else
        return cx_error_set(e, CX_ERR_ARG, "duration \"%.40s\": unknown unit", s);
    if (*end && end[1])
        return cx_error_set(e, CX_ERR_ARG, "duration \"%.40s\": unknown unit", s);
    if (v * mult > 9e15)
        return cx_error_set(e, CX_ERR_ARG, "duration \"%.40s\" is too long", s);
    *out = (uint64_t)(v * mult);
    return CX_OK;
}

/* ------------------------------------------------------ key dirs, handles -- */

cx_err cli_x25519_pub_load(const char *keydir, uint8_t pub[32], cx_error *e)
{
    char path[PATH_MAX];
    cx_err rc = cx_job_path_join(path, sizeof path, keydir, "x25519.pub", e);
    if (rc == CX_OK)
        rc = cx_x25519_public_load(path, pub, e);
    return rc;
}

cx_err cli_keydir_create(const char *dir, int force, cli_keydir *k, cx_error *e)
{
    static const char *const names[CLI_KEYDIR_FILES] = {"x25519.key", "x25519.pub", "ed25519.key",
                                                       "ed25519.pub"};
    memset(k, 0, sizeof *k);
    cx_err rc = cx_mkdir_p(dir, 0700, e);
    for (int i = 0; rc == CX_OK && i < CLI_KEYDIR_FILES; i++) {
        struct stat st;
        rc = cx_job_path_join(k->path[i], sizeof k->path[i], dir, names[i], e);
        if (rc == CX_OK && !force && lstat(k->path[i], &st) == 0)
            rc = cx_error_set(e, CX_ERR_STATE, "%s exists; not overwriting keys without --force",
                              k->path[i]);
    }
    if (rc == CX_OK && (rc = cx_x25519_key_generate(&k->x, e)) == CX_OK &&
        (rc = cx_ed25519_key_generate(&k->ed, e)) == CX_OK &&
        (rc = cx_x25519_key_save(k->x, k->path[CLI_KEYDIR_X_KEY], k->path[CLI_KEYDIR_X_PUB], e)) ==
            CX_OK)
        rc = cx_ed25519_key_save(k->ed, k->path[CLI_KEYDIR_ED_KEY], k->path[CLI_KEYDIR_ED_PUB], e);
    if (rc != CX_OK)
        cli_keydir_free(k);
    return rc;
}

void cli_keydir_free(cli_keydir *k)
{
    cx_x25519_key_free(k->x);
    cx_ed25519_key_free(k->ed);
    k->x = NULL;
    k->ed = NULL;
}

cx_err cli_role_open(cli_role *r, const char *keydir, const char *ledger_url, const char *store_url,
                    const cx_logger *log, cx_error *e)
{
    memset(r, 0, sizeof *r);
    cx_err rc = CX_OK;
    if (keydir)
        rc = cx_job_identity_load(keydir, &r->key, e);
    if (rc == CX_OK && ledger_url)
        rc = cx_job_ledger_open(ledger_url, log, &r->ledger, e);
    if (rc == CX_OK && store_url)
        rc = cx_job_store_open(store_url, log, &r->store, e);
    return rc;
}

void cli_role_close(cli_role *r)
{
    cx_chain_key_free(r->key);
    cx_ledger_close(r->ledger);
    cx_store_free(r->store);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------ the development root -- */

cx_err cli_devca_dir(const char *given, char *out, size_t cap, cx_error *e)
{
    const char *d = cli_env_default(given, "CLOAKX_DEVCA");
    if (d) {
        if ((size_t)snprintf(out, cap, "%s", d) >= cap)
            return cx_error_set(e, CX_ERR_ARG, "--devca path too long");
        return CX_OK;
    }
    const char *home = getenv("HOME");
    if (!home || !*home)
        return cx_error_set(e, CX_ERR_ARG, "no --devca given and no $HOME");
    if ((size_t)snprintf(out, cap, "%s/.cloakx/devca", home) >= cap)
        return cx_error_set(e, CX_ERR_ARG, "$HOME path too long");
    return CX_OK;
}

cx_err cli_devroot_load(const char *devca_dir, char **pem, size_t *len, cx_error *e)
{
    char path[PATH_MAX];
    cx_err rc = cx_job_path_join(path, sizeof path, devca_dir, CX_TEE_SIM_ROOT_CERT, e);
    uint8_t *b = NULL;
    if (rc == CX_OK)
        rc = cx_file_read_all(path, 1 << 20, &b, len, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "the simulated TEE's development root: ");
    *pem = (char *)b;
    return CX_OK;
}

cx_err cli_devroot_for(const char *devca_given, char **pem, size_t *len, cx_error *e)
{
    char devca[PATH_MAX];
    cx_err rc = cli_devca_dir(devca_given, devca, sizeof devca, e);
    return rc == CX_OK ? cli_devroot_load(devca, pem, len, e) : rc;
}

/* ---------------------------------------------------------------- output -- */

int cli_role_print(cx_cli *cli, json_t *j, const char *fmt, ...)
{
    if (!j) {
        cx_error e;
        cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
        return cli_fail(cli, &e);
    }
    if (cli->json)
        return cli_print_json(cli, j);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap); /* the arguments may point into j: freed after */
    va_end(ap);
    json_decref(j);
    return CX_EXIT_OK;
}

/* ------------------------------------------------------------------ MPI -- */

/* mpirun's path: $CLOAKX_MPIRUN, else the first executable `mpirun` on PATH; 0 when none. */
static int find_mpirun(char *out, size_t cap)
{
    const char *env = getenv("CLOAKX_MPIRUN");
    if (env && *env)
        return snprintf(out, cap, "%s", env) < (int)cap && access(out, X_OK) == 0;
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        if (len && snprintf(out, cap, "%.*s/mpirun", (int)len, path) < (int)cap &&
            access(out, X_OK) == 0)
            return 1;
        path = colon ? colon + 1 : NULL;
    }
    return 0;
}

void cli_exec_under_mpirun(cx_cli *cli, int argc, char **argv, int ranks, const char *command,
                           const char *doing)
{
    cx_error e;
    char mpirun[PATH_MAX], exe[PATH_MAX], np[16];
    if (cx_comm_mpi_available(&e) != CX_OK) {
        cx_log_warn(&cli->log, "--ranks %d: %s; %s in one process", ranks, e.msg, doing);
        return;
    }
    if (!find_mpirun(mpirun, sizeof mpirun)) {
        cx_log_warn(&cli->log,
                    "--ranks %d: MPI is not available: no mpirun on PATH (Open MPI's "
                    "openmpi-bin; CLOAKX_MPIRUN names another); %s in one process",
                    ranks, doing);
        return;
    }
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char **nargv = calloc((size_t)argc + 16, sizeof *nargv);
    if (len <= 0 || !nargv) {
        free(nargv);
        cx_log_warn(&cli->log, "--ranks %d: cannot name this executable; %s in one process",
                    ranks, doing);
        return;
    }
    exe[len] = '\0';
    snprintf(np, sizeof np, "%d", ranks);
    int k = 0;
    nargv[k++] = mpirun;
    if (geteuid() == 0) /* Open MPI refuses root unless told */
        nargv[k++] = "--allow-run-as-root";
    /* ranks may outnumber the cores; each rank's threads are not pinned to one core */
    nargv[k++] = "--oversubscribe";
    nargv[k++] = "--bind-to";
    nargv[k++] = "none";
    /* a rank waiting in an all-reduce yields its core instead of spinning: on a machine whose
     * cores the ranks share (with each other or other work) spinning stalled the rank being
     * waited for (2 ranks on 2 loaded cores: 55-85 k samples/s spinning, 114-135 k yielding,
     * one process 100-119 k) */
    if (!getenv("OMPI_MCA_mpi_yield_when_idle")) {
        nargv[k++] = "--mca";
        nargv[k++] = "mpi_yield_when_idle";
        nargv[k++] = "1";
    }
    nargv[k++] = "-np";
    nargv[k++] = np;
    nargv[k++] = exe;
    if (cli->json) /* the global flags main() took out */
        nargv[k++] = "--json";
    if (cli->log.level == CX_LOG_ERROR)
        nargv[k++] = "-q";
    else if (cli->log.level == CX_LOG_INFO)
        nargv[k++] = "-v";
    else if (cli->log.level == CX_LOG_DEBUG)
        nargv[k++] = "-vv";
    nargv[k++] = (char *)command;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ranks") == 0 && i + 1 < argc) {
            i++;
            continue;
        }
        nargv[k++] = argv[i];
    }
    nargv[k] = NULL;
    cx_log_info(&cli->log, "--ranks %d: running under %s", ranks, mpirun);
    fflush(NULL);
    execv(mpirun, nargv);
    cx_log_warn(&cli->log, "--ranks %d: cannot run %s (%s); %s in one process", ranks, mpirun,
                strerror(errno), doing);
    free(nargv);
}
