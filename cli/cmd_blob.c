/* cmd_blob.c — `cloakx blob put|get|stat --store URL`: move blobs in and out of a blob
 * store (local:DIR or walrus:), streaming, with atomic output files. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cx_io.h"

#define BLOB_IO_CHUNK (1u << 20)

typedef struct blob_args {
    const char *store, *publisher, *aggregator, *token;
    long epochs, part_size, parallel;
    const char *pos[3];
    int npos;
} blob_args;

static const char *const BLOB_OPTS_HELP =
    "store options:\n"
    "  --store URL        local:DIR or walrus:[?publisher=URL&aggregator=URL&epochs=N]\n"
    "  --publisher URL    Walrus publisher (default " CX_WALRUS_TESTNET_PUBLISHER ")\n"
    "  --aggregator URL   Walrus aggregator (default " CX_WALRUS_TESTNET_AGGREGATOR ")\n"
    "  --token TOKEN      bearer token for an authenticated publisher\n"
    "                     (default: $CLOAKX_WALRUS_TOKEN)\n"
    "  --epochs N         Walrus storage epochs ahead (default 1)\n"
    "  --part-size BYTES  split larger blobs into parts + a manifest (default 10 MiB - 64 KiB)\n"
    "  --parallel N       Walrus parts downloaded at once (default 4)\n";

static int parse_long(cx_cli *cli, const char *flag, const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max)
        return cli_usage(cli, "%s expects a number in %ld..%ld, not '%s'", flag, min, max, v);
    *out = x;
    return 0;
}

static int parse_args(cx_cli *cli, int argc, char **argv, int maxpos, blob_args *a)
{
    memset(a, 0, sizeof *a);
    a->token = getenv("CLOAKX_WALRUS_TOKEN");
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!only_pos && strcmp(s, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && s[0] == '-' && s[1] == '-') {
            if (i + 1 >= argc)
                return cli_usage(cli, "%s needs a value", s);
            const char *v = argv[++i];
            int rc = 0;
            if (strcmp(s, "--store") == 0)
                a->store = v;
            else if (strcmp(s, "--publisher") == 0)
                a->publisher = v;
            else if (strcmp(s, "--aggregator") == 0)
                a->aggregator = v;
            else if (strcmp(s, "--token") == 0)
                a->token = v;
            else if (strcmp(s, "--epochs") == 0)
                rc = parse_long(cli, s, v, 1, 53, &a->epochs);
            else if (strcmp(s, "--part-size") == 0)
                rc = parse_long(cli, s, v, 1, CX_WALRUS_MAX_BODY, &a->part_size);
            else if (strcmp(s, "--parallel") == 0)
                rc = parse_long(cli, s, v, 1, 64, &a->parallel);
            else
                return cli_usage(cli, "unknown option '%s'", s);
            if (rc)
                return rc;
            continue;
        }
        if (a->npos == maxpos)
            return cli_usage(cli, "unexpected argument '%s'", s);
        a->pos[a->npos++] = s;
    }
    if (!a->store)
        return cli_usage(cli, "--store URL is required (local:DIR or walrus:)");
    if (a->npos != maxpos)
        return cli_usage(cli, "expected %d argument%s", maxpos, maxpos == 1 ? "" : "s");
    return 0;
}

/* Each sub-command's start: with --help its usage and the store options (*rc = 0), else its
 * arguments (*rc = a usage error's code, or 0). Returns 1 when the command is done. */
static int blob_begin(cx_cli *cli, int argc, char **argv, const char *usage, int npos, blob_args *a,
                      int *rc)
{
    if (cli_wants_help(argc, argv)) {
        printf("%s\n%s", usage, BLOB_OPTS_HELP);
        *rc = CX_EXIT_OK;
        return 1;
    }
    *rc = parse_args(cli, argc, argv, npos, a);
    return *rc != 0;
}

static int open_store(cx_cli *cli, const blob_args *a, cx_store **s)
{
    cx_store_options o;
    memset(&o, 0, sizeof o);
    o.publisher = a->publisher;
    o.aggregator = a->aggregator;
    o.token = a->token;
    o.epochs = (uint32_t)a->epochs;
    o.part_size = (size_t)a->part_size;
    o.parallel = (unsigned)a->parallel;
    o.log = &cli->log;
    o.verify = 1; /* local: a user fetching a blob gets it re-hashed against its id */
    cx_error e;
    if (cx_store_open(a->store, &o, s, &e) != CX_OK)
        return cli_fail(cli, &e);
    return 0;
}

typedef struct fd_src {
    int fd;
    const char *name;
} fd_src;

static cx_err fd_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    fd_src *f = ctx;
    for (;;) {
        ssize_t n = read(f->fd, buf, len);
        if (n >= 0) {
            *got = (size_t)n;
            return CX_OK;
        }
        if (errno != EINTR)
            return cx_error_errno(e, CX_ERR_IO, errno, "read %s", f->name);
    }
}

static int blob_put(cx_cli *cli, int argc, char **argv)
{
    blob_args a;
    int rc;
    if (blob_begin(cli, argc, argv,
                   "usage: cloakx blob put --store URL [store options] FILE|-\n\n"
                   "Stores FILE (or stdin) and prints its blob id ({\"blob_id\":...} with "
                   "--json).\nInput is streamed; Walrus blobs above the part size become parts "
                   "+ a\nmanifest blob whose id is printed.\n",
                   1, &a, &rc))
        return rc;
    fd_src src = {STDIN_FILENO, "stdin"};
    if (strcmp(a.pos[0], "-") != 0) {
        src.fd = open(a.pos[0], O_RDONLY | O_CLOEXEC);
        src.name = a.pos[0];
        if (src.fd < 0) {
            cx_error e;
            cx_error_errno(&e, errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO, errno, "open %s",
                           a.pos[0]);
            return cli_fail(cli, &e);
        }
    }
    cx_store *s = NULL;
    if ((rc = open_store(cli, &a, &s)) != 0) {
        if (src.fd != STDIN_FILENO)
            close(src.fd);
        return rc;
    }
    cx_reader r = {fd_read, NULL, &src};
    char id[CX_STORE_ID_MAX];
    cx_error e;
    cx_err err = cx_store_put(s, &r, id, &e);
    if (src.fd != STDIN_FILENO)
        close(src.fd);
    const char *kind = cx_store_kind(s);
    if (err != CX_OK) {
        cx_store_free(s);
        return cli_fail(cli, &e);
    }
    int out;
    if (cli->json) {
        json_t *j = json_pack("{s:s,s:s}", "blob_id", id, "store", kind);
        out = j ? cli_print_json(cli, j) : CX_EXIT_FAILURE;
    } else {
        printf("%s\n", id);
        out = fflush(stdout) == 0 ? CX_EXIT_OK : CX_EXIT_FAILURE;
    }
    cx_store_free(s);
    return out;
}

static int blob_get(cx_cli *cli, int argc, char **argv)
{
    blob_args a;
    int rc;
    if (blob_begin(cli, argc, argv,
                   "usage: cloakx blob get --store URL [store options] ID OUT|-\n\n"
                   "Fetches blob ID into OUT (written to a temporary file and renamed only when\n"
                   "complete, so OUT never holds a partial blob) or to stdout with '-'.\n"
                   "A missing or expired blob exits 1 (error kind \"not found\").\n",
                   2, &a, &rc))
        return rc;
    const char *id = a.pos[0], *outp = a.pos[1];
    int to_stdout = strcmp(outp, "-") == 0;
    cx_store *s = NULL;
    if ((rc = open_store(cli, &a, &s)) != 0)
        return rc;
    cx_error e;
    cx_reader r = {0};
    cx_atomic_file af = {.fd = -1};
    uint8_t *buf = malloc(BLOB_IO_CHUNK);
    uint64_t total = 0;
    cx_err err = buf ? cx_store_get(s, id, &r, &e) : cx_error_set(&e, CX_ERR_NOMEM, "buffer");
    if (err == CX_OK && !to_stdout)
        err = cx_atomic_open(&af, outp, 0600, &e);
    while (err == CX_OK) {
        size_t got = 0;
        err = r.read(r.ctx, buf, BLOB_IO_CHUNK, &got, &e);
        if (err != CX_OK || got == 0)
            break;
        total += got;
        err = to_stdout ? cx_write_full(STDOUT_FILENO, buf, got, &e)
                        : cx_atomic_write(&af, buf, got, &e);
    }
    if (r.close)
        r.close(r.ctx);
    free(buf);
    if (!to_stdout && af.fd >= 0) {
        if (err == CX_OK)
            err = cx_atomic_commit(&af, &e);
        else
            cx_atomic_abort(&af);
    }
    cx_store_free(s);
    if (err != CX_OK)
        return cli_fail(cli, &e);
    if (cli->json && !to_stdout) {
        json_t *j =
            json_pack("{s:s,s:I,s:s}", "blob_id", id, "bytes", (json_int_t)total, "out", outp);
        return j ? cli_print_json(cli, j) : CX_EXIT_FAILURE;
    }
    if (!to_stdout)
        cx_log_info(&cli->log, "wrote %" PRIu64 " bytes to %s", total, outp);
    return CX_EXIT_OK;
}

static int blob_stat(cx_cli *cli, int argc, char **argv)
{
    blob_args a;
    int rc;
    if (blob_begin(cli, argc, argv,
                   "usage: cloakx blob stat --store URL [store options] ID\n\n"
                   "Prints the blob's size and, for Walrus, whether ID names a CloakX manifest\n"
                   "and of how many parts.\n",
                   1, &a, &rc))
        return rc;
    cx_store *s = NULL;
    if ((rc = open_store(cli, &a, &s)) != 0)
        return rc;
    cx_store_info st;
    cx_error e;
    cx_err err = cx_store_stat(s, a.pos[0], &st, &e);
    const char *kind = cx_store_kind(s);
    if (err != CX_OK) {
        cx_store_free(s);
        return cli_fail(cli, &e);
    }
    int out;
    if (cli->json) {
        json_t *j =
            json_pack("{s:s,s:s,s:I,s:b,s:i}", "blob_id", a.pos[0], "store", kind, "size",
                      (json_int_t)st.size, "manifest", st.is_manifest, "parts", (int)st.parts);
        out = j ? cli_print_json(cli, j) : CX_EXIT_FAILURE;
    } else {
        printf("blob     %s\nstore    %s\nsize     %" PRIu64 "\nmanifest %s\nparts    %u\n",
               a.pos[0], kind, st.size, st.is_manifest ? "yes" : "no", st.parts);
        out = CX_EXIT_OK;
    }
    cx_store_free(s);
    return out;
}

static const cx_command blob_cmds[] = {
    {"put", "store a file or stdin, print its blob id", blob_put},
    {"get", "fetch a blob into a file (atomically) or stdout", blob_get},
    {"stat", "size of a blob; for Walrus whether it is a manifest", blob_stat},
    {NULL, NULL, NULL},
};

int cmd_blob(cx_cli *cli, int argc, char **argv)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cx_error e;
        cx_error_set(&e, CX_ERR_NET, "libcurl initialisation failed");
        return cli_fail(cli, &e);
    }
    int rc = cli_dispatch(cli, "blob", blob_cmds, argc, argv);
    curl_global_cleanup();
    return rc;
}
