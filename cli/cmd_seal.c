/* cmd_seal.c — `cloakx seal` (streamed, to a recipient's X25519 key) and `cloakx unseal`
 * (through the decryption pipeline; plaintext reaches OUT's name only once all verified). */
#include "cli.h"
#include "cx_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An unsized input (a pipe) is held in secure memory up to this many bytes. */
#define SEAL_PIPE_MAX ((size_t)1 << 30)

static cx_err fd_writer(void *ctx, const void *buf, size_t len, cx_error *e)
{
    return cx_write_full((int)(intptr_t)ctx, buf, len, e);
}

static cx_err atomic_writer(void *ctx, const void *buf, size_t len, cx_error *e)
{
    return cx_atomic_write(ctx, buf, len, e);
}

/* Read a whole unsized stream into secure memory (doubling); *out is cx_secmem. */
static cx_err slurp(int fd, uint8_t **out, size_t *len, cx_error *e)
{
    size_t cap = 1 << 20, n = 0;
    uint8_t *buf = cx_secmem_alloc(cap, 0, e);
    if (!buf)
        return CX_ERR_NOMEM;
    for (;;) {
        if (n == cap) {
            if (cap >= SEAL_PIPE_MAX) {
                /* full: exactly the limit is fine, one byte more is not */
                uint8_t probe;
                size_t more = 0;
                cx_err prc = cx_read_full(fd, &probe, 1, &more, e);
                cx_memwipe(&probe, sizeof probe);
                if (prc == CX_OK && more == 0)
                    break;
                cx_secmem_free(buf);
                if (prc != CX_OK)
                    return prc;
                return cx_error_set(e, CX_ERR_LIMIT,
                                    "standard input is over %zu MiB; seal a file instead (its "
                                    "size is known, so it streams)",
                                    SEAL_PIPE_MAX >> 20);
            }
            uint8_t *nb = cx_secmem_alloc(cap * 2, 0, e);
            if (!nb) {
                cx_secmem_free(buf);
                return CX_ERR_NOMEM;
            }
            memcpy(nb, buf, n);
            cx_secmem_free(buf);
            buf = nb;
            cap *= 2;
        }
        size_t got = 0;
        cx_err rc = cx_read_full(fd, buf + n, cap - n, &got, e);
        if (rc != CX_OK) {
            cx_secmem_free(buf);
            return rc;
        }
        n += got;
        if (n < cap)
            break; /* cx_read_full stops short only at end of input */
    }
    *out = buf;
    *len = n;
    return CX_OK;
}

static json_t *header_json(const cx_cxb_header *h, const uint8_t tag_hash[32])
{
    char hh[65], th[65], kid[65];
    cx_hex_encode(h->header_hash, 32, hh, sizeof hh, NULL);
    cx_hex_encode(tag_hash, 32, th, sizeof th, NULL);
    cx_hex_encode(h->recipient_key_id, 32, kid, sizeof kid, NULL);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "pool_id", h->pool_id,
                     "contributor", h->contributor, "content_type",
                     cx_content_type_name(h->content_type), "plaintext_bytes",
                     (json_int_t)h->plaintext_len, "sealed_bytes", (json_int_t)h->blob_len,
                     "chunk_size", (json_int_t)h->chunk_size, "chunks",
                     (json_int_t)h->chunk_count, "recipient_key_id", kid, "header_hash", hh,
                     "chunk_tag_hash", th);
}

int cmd_seal(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx seal --to KEY.pub --pool ID --contributor ADDR\n"
               "                   [--type raw|csv|jsonl|f32|model] [--chunk-size N] IN OUT\n\n"
               "Seals IN into the .cxb format (io/FORMAT.md) for the holder of the X25519 key\n"
               "KEY.pub: a random data key sealed with HPKE in an authenticated header that\n"
               "binds pool, contributor, type, chunk size and length; AES-256-GCM chunks.\n"
               "IN and OUT may be '-' (stdin / stdout). A file streams in bounded memory; a\n"
               "pipe is held in locked memory (up to 1 GiB). OUT appears only when complete.\n"
               "Defaults: --type raw, --chunk-size %u (min %u, max %u).\n",
               CX_CXB_DEFAULT_CHUNK, CX_CXB_MIN_CHUNK, CX_CXB_MAX_CHUNK);
        return CX_EXIT_OK;
    }
    const char *to = NULL, *in_path = NULL, *out_path = NULL;
    cx_cxb_seal_params p = {0};
    p.content_type = CX_CONTENT_RAW;
    cx_error e;
    cx_error_clear(&e);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--to") == 0 && has)
            to = argv[++i];
        else if (strcmp(a, "--pool") == 0 && has)
            p.pool_id = argv[++i];
        else if (strcmp(a, "--contributor") == 0 && has)
            p.contributor = argv[++i];
        else if (strcmp(a, "--type") == 0 && has) {
            if (cx_content_type_parse(argv[++i], &p.content_type, &e) != CX_OK)
                return cli_usage(cli, "%s", e.msg);
        } else if (strcmp(a, "--chunk-size") == 0 && has) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (errno || *end || v < CX_CXB_MIN_CHUNK || v > CX_CXB_MAX_CHUNK)
                return cli_usage(cli, "--chunk-size must be %u..%u", CX_CXB_MIN_CHUNK,
                                 CX_CXB_MAX_CHUNK);
            p.chunk_size = (uint32_t)v;
        } else if (a[0] == '-' && a[1] != 0)
            return cli_usage(cli, "unknown option '%s'", a);
        else if (!in_path)
            in_path = a;
        else if (!out_path)
            out_path = a;
        else
            return cli_usage(cli, "unexpected argument '%s'", a);
    }
    if (!to || !p.pool_id || !p.contributor || !in_path || !out_path)
        return cli_usage(cli, "--to, --pool, --contributor, IN and OUT are required");

    uint8_t pub[CX_X25519_KEY_LEN];
    if (cx_x25519_public_load(to, pub, &e) != CX_OK)
        return cli_fail(cli, &e);
    p.recipient_pub = pub;

    int in_fd = 0;
    if (strcmp(in_path, "-") != 0) {
        in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
        if (in_fd < 0) {
            cx_error_errno(&e, errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO, errno, "opening %s",
                           in_path);
            return cli_fail(cli, &e);
        }
    }
    int rc = CX_EXIT_OK;
    uint8_t *held = NULL;
    size_t held_len = 0;
    cx_mem_reader mr;
    cx_reader reader;
    uint64_t len = 0;
    struct stat st;
    if (fstat(in_fd, &st) != 0) {
        cx_error_errno(&e, CX_ERR_IO, errno, "stat %s", in_path);
        rc = cli_fail(cli, &e);
        goto done;
    }
    if (S_ISREG(st.st_mode)) {
        len = (uint64_t)st.st_size;
        cx_reader_from_fd(&reader, in_fd);
    } else {
        if (slurp(in_fd, &held, &held_len, &e) != CX_OK) {
            rc = cli_fail(cli, &e);
            goto done;
        }
        len = held_len;
        cx_reader_from_memory(&reader, &mr, held, held_len);
    }

    cx_cxb_header h;
    uint8_t th[32];
    cx_atomic_file af = {.fd = -1};
    cx_writer w;
    int to_stdout = strcmp(out_path, "-") == 0;
    if (to_stdout) {
        w.write = fd_writer;
        w.ctx = (void *)(intptr_t)STDOUT_FILENO;
    } else {
        if (cx_atomic_open(&af, out_path, 0644, &e) != CX_OK) {
            rc = cli_fail(cli, &e);
            goto done;
        }
        w.write = atomic_writer;
        w.ctx = &af;
    }
    if (cx_cxb_seal(&p, &reader, len, &w, &h, th, &e) != CX_OK) {
        cx_error_prefix(&e, "sealing %s: ", in_path);
        if (!to_stdout)
            cx_atomic_abort(&af);
        rc = cli_fail(cli, &e);
        goto done;
    }
    if (!to_stdout && cx_atomic_commit(&af, &e) != CX_OK) {
        rc = cli_fail(cli, &e);
        goto done;
    }
    if (cli->json) {
        json_t *j = header_json(&h, th);
        if (j)
            json_object_set_new(j, "out", json_string(out_path));
        if (!j) {
            cx_error_set(&e, CX_ERR_NOMEM, "building JSON");
            rc = cli_fail(cli, &e);
            goto done;
        }
        if (to_stdout) {
            /* stdout carries the blob; the summary goes to stderr */
            char *s = cx_json_dumps(j, 0);
            json_decref(j);
            if (s)
                fprintf(stderr, "%s\n", s);
            free(s);
        } else {
            rc = cli_print_json(cli, j);
        }
    } else if (!to_stdout) {
        char hh[65];
        cx_hex_encode(h.header_hash, 32, hh, sizeof hh, NULL);
        printf("sealed %llu bytes into %s (%llu chunks of %u, header hash %s)\n",
               (unsigned long long)h.plaintext_len, out_path, (unsigned long long)h.chunk_count,
               h.chunk_size, hh);
    }
done:
    if (in_fd > 0)
        close(in_fd);
    cx_secmem_free(held);
    return rc;
}

/* ---------------------------------------------------------------- unseal -- */


/* A stream whose header was read ahead (to size the pipeline's buffers by its chunk size):
 * hands those bytes out again, then any read error met while reading ahead, then the rest. */
typedef struct replay_reader {
    uint8_t pre[CX_CXB_MAX_HEADER_LEN];
    size_t len, pos;
    cx_reader *rest;
    cx_err rc;
    cx_error err;
} replay_reader;

static cx_err replay_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    replay_reader *r = ctx;
    if (r->pos < r->len) {
        size_t n = r->len - r->pos < len ? r->len - r->pos : len;
        memcpy(buf, r->pre + r->pos, n);
        r->pos += n;
        *got = n;
        return CX_OK;
    }
    if (r->rc != CX_OK) {
        *got = 0;
        if (e)
            *e = r->err;
        return r->rc;
    }
    return r->rest->read(r->rest->ctx, buf, len, got, e);
}

/* Read the header ahead from src into rr; its chunk size, or 0 when it does not parse
 * (the pipeline then reports why, from the same bytes). */
static uint32_t read_ahead(replay_reader *rr, cx_reader *src)
{
    size_t need = CX_CXB_FIXED_HEADER_LEN;
    rr->rest = src;
    for (;;) {
        size_t got = 0;
        rr->rc = cx_reader_read_full(src, rr->pre + rr->len, need - rr->len, &got, &rr->err);
        rr->len += got;
        if (rr->rc != CX_OK || rr->len < need)
            return 0;
        cx_cxb_header h;
        size_t more = 0;
        if (cx_cxb_header_parse(rr->pre, rr->len, &h, &more, NULL) == CX_OK)
            return h.chunk_size;
        if (more <= rr->len || more > CX_CXB_MAX_HEADER_LEN)
            return 0;
        need = more;
    }
}

typedef struct unseal_sink {
    int fd;            /* stdout, or -1 */
    cx_atomic_file *af;
} unseal_sink;

static cx_err unseal_chunk(void *ud, const cx_pipeline_chunk *c, cx_error *e)
{
    unseal_sink *s = ud;
    if (s->af)
        return cx_atomic_write(s->af, c->data, c->len, e);
    return cx_write_full(s->fd, c->data, c->len, e);
}

int cmd_unseal(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx unseal --key SECRET [--threads N] IN OUT\n\n"
               "Decrypts the sealed blob IN with the X25519 secret key file SECRET (from\n"
               "'cloakx keygen'), checking the header and every chunk. IN and OUT may be '-'.\n"
               "OUT is written to a temporary file (mode 0600) renamed only after the last\n"
               "chunk verified; on any integrity failure nothing appears under OUT's name and\n"
               "the exit code is 3 (with '-', verified chunks may already have been written).\n");
        return CX_EXIT_OK;
    }
    const char *keyp = NULL, *in_path = NULL, *out_path = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--key") == 0 && i + 1 < argc)
            keyp = argv[++i];
        else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
            if (threads < 1 || threads > 256)
                return cli_usage(cli, "--threads must be 1..256");
        } else if (a[0] == '-' && a[1] != 0)
            return cli_usage(cli, "unknown option '%s'", a);
        else if (!in_path)
            in_path = a;
        else if (!out_path)
            out_path = a;
        else
            return cli_usage(cli, "unexpected argument '%s'", a);
    }
    if (!keyp || !in_path || !out_path)
        return cli_usage(cli, "--key, IN and OUT are required");
    cx_error e;
    cx_error_clear(&e);
    cx_x25519_key *k = NULL;
    if (cx_x25519_key_load(keyp, &k, &e) != CX_OK)
        return cli_fail(cli, &e);

    int rc = CX_EXIT_OK;
    cx_pipeline_blob blob = {.id = in_path, .fd = -1};
    int in_fd = -1;
    cx_reader src;
    replay_reader rr = {.rc = CX_OK};
    if (strcmp(in_path, "-") == 0) {
        cx_reader_from_fd(&src, STDIN_FILENO);
    } else {
        in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
        if (in_fd < 0) {
            cx_error_errno(&e, errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO, errno, "opening %s",
                           in_path);
            rc = cli_fail(cli, &e);
            goto done;
        }
        struct stat st;
        if (fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode))
            blob.fd = in_fd; /* mapped and decrypted straight from the page cache */
        cx_reader_from_fd(&src, in_fd);
    }
    /* The default buffers hold CX_CXB_DEFAULT_CHUNK; seal accepts chunks up to
     * CX_CXB_MAX_CHUNK, so size them from the header (a mapped file ignores the offset). */
    uint32_t chunk = read_ahead(&rr, &src);
    if (blob.fd < 0) {
        blob.reader.read = replay_read;
        blob.reader.close = NULL;
        blob.reader.ctx = &rr;
    }
    cx_atomic_file af = {.fd = -1};
    unseal_sink sink = {STDOUT_FILENO, NULL};
    if (strcmp(out_path, "-") != 0) {
        if (cx_atomic_open(&af, out_path, 0600, &e) != CX_OK) {
            rc = cli_fail(cli, &e);
            goto done;
        }
        sink.af = &af;
    }
    cx_pipeline_config cfg = {.threads = threads, .policy = CX_PIPELINE_FATAL, .log = &cli->log};
    cx_pipeline_config_fit(&cfg, chunk, CX_PIPELINE_LARGE_CHUNK_BUDGET);
    cx_pipeline_consumer cons = {unseal_chunk, NULL, &sink};
    cx_pipeline_result res;
    cx_err prc = cx_pipeline_run(&cfg, k, &blob, 1, &cons, &res, &e);
    if (prc != CX_OK) {
        if (sink.af)
            cx_atomic_abort(&af);
        rc = cli_fail(cli, &e);
        goto done;
    }
    if (sink.af && cx_atomic_commit(&af, &e) != CX_OK) {
        rc = cli_fail(cli, &e);
        goto done;
    }
    if (cli->json) {
        json_t *j = header_json(&res.header, res.tag_hash);
        if (!j) {
            cx_error_set(&e, CX_ERR_NOMEM, "building JSON");
            rc = cli_fail(cli, &e);
            goto done;
        }
        json_object_set_new(j, "out", json_string(out_path));
        if (sink.af) {
            rc = cli_print_json(cli, j);
        } else {
            char *s = cx_json_dumps(j, 0);
            json_decref(j);
            if (s)
                fprintf(stderr, "%s\n", s);
            free(s);
        }
    } else if (sink.af) {
        printf("unsealed %llu bytes into %s (pool %s, contributor %s, type %s)\n",
               (unsigned long long)res.bytes, out_path, res.header.pool_id,
               res.header.contributor, cx_content_type_name(res.header.content_type));
    }
done:
    if (in_fd >= 0)
        close(in_fd);
    cx_x25519_key_free(k);
    return rc;
}
