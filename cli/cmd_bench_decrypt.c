/* cmd_bench_decrypt.c — `cloakx bench decrypt`: the decryption pipeline's throughput on a
 * sealed blob in the local store, beside OpenSSL's own AES-256-GCM loop, in the same run. */
#include "cli.h"
#include "cx_io.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <omp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define REPEATS 3

/* CPU seconds of the whole process (all threads): throughput per CPU-second stays
 * meaningful when other work shares the cores, where wall-clock figures do not. */
static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The plaintext: a fast deterministic stream (AES speed does not depend on the bytes). */
typedef struct gen {
    uint64_t state, left;
} gen;

static void gen_fill(uint64_t *state, uint8_t *p, size_t len)
{
    uint64_t x = *state;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    for (; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
    *state = x;
}

static cx_err gen_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    (void)e;
    gen *g = ctx;
    size_t n = len < g->left ? len : (size_t)g->left;
    n &= ~(size_t)7;
    if (n == 0 && g->left)
        n = (size_t)g->left < len ? (size_t)g->left : len;
    gen_fill(&g->state, buf, n);
    g->left -= n;
    *got = n;
    return CX_OK;
}

static cx_err fd_write(void *ctx, const void *buf, size_t len, cx_error *e)
{
    return cx_write_full((int)(intptr_t)ctx, buf, len, e);
}

typedef struct count_sink {
    uint64_t bytes;
    uint8_t x;
} count_sink;

static cx_err count_chunk(void *ud, const cx_pipeline_chunk *c, cx_error *e)
{
    (void)e;
    count_sink *s = ud;
    s->bytes += c->len;
    if (c->len)
        s->x ^= c->data[c->len - 1]; /* touch the plaintext */
    return CX_OK;
}

/* The peer: OpenSSL's own EVP loop over the same plaintext, chunked and tagged the same way,
 * decrypted by the same number of threads into per-thread buffers (as the pipeline does). */
typedef struct peer {
    uint8_t *ct;
    uint8_t *tags;
    size_t bytes, chunk, nchunks;
    uint8_t key[32];
} peer;

static cx_err peer_prepare(peer *p, size_t bytes, size_t chunk, uint64_t seed, cx_error *e)
{
    memset(p, 0, sizeof *p);
    p->bytes = bytes;
    p->chunk = chunk;
    p->nchunks = bytes / chunk + (bytes % chunk != 0);
    p->ct = malloc(bytes ? bytes : 1);
    p->tags = malloc(p->nchunks * 16 + 1);
    if (!p->ct || !p->tags)
        return cx_error_set(e, CX_ERR_NOMEM, "peer buffers (%zu bytes)", bytes);
    if (RAND_bytes(p->key, 32) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "random key");
    gen_fill(&seed, p->ct, bytes);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c || EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1) {
        EVP_CIPHER_CTX_free(c);
        return cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM");
    }
    for (size_t i = 0; i < p->nchunks; i++) {
        uint8_t nonce[12] = {0};
        memcpy(nonce, &i, sizeof i);
        size_t len = i + 1 < p->nchunks ? chunk : bytes - i * chunk;
        int ol;
        if (EVP_EncryptInit_ex2(c, NULL, p->key, nonce, NULL) != 1 ||
            EVP_EncryptUpdate(c, p->ct + i * chunk, &ol, p->ct + i * chunk, (int)len) != 1 ||
            EVP_EncryptFinal_ex(c, p->ct + i * chunk + len, &ol) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, p->tags + i * 16) != 1) {
            EVP_CIPHER_CTX_free(c);
            return cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM encrypt");
        }
    }
    EVP_CIPHER_CTX_free(c);
    return CX_OK;
}

static void peer_free(peer *p)
{
    free(p->ct);
    free(p->tags);
    cx_memwipe(p->key, sizeof p->key);
}

/* One timed pass; returns seconds, or -1 if any tag failed or OpenSSL failed. */
static double peer_run(const peer *p, int threads)
{
    int bad = 0;
    double t0 = cx_now_seconds();
#pragma omp parallel num_threads(threads) reduction(+ : bad)
    {
        EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        uint8_t *out = malloc(p->chunk);
        if (!aes || !c || !out || EVP_DecryptInit_ex2(c, aes, NULL, NULL, NULL) != 1)
            bad++;
#pragma omp for schedule(static)
        for (size_t i = 0; i < p->nchunks; i++) {
            if (bad)
                continue;
            uint8_t nonce[12] = {0};
            memcpy(nonce, &i, sizeof i);
            size_t len = i + 1 < p->nchunks ? p->chunk : p->bytes - i * p->chunk;
            int ol;
            if (EVP_DecryptInit_ex2(c, NULL, p->key, nonce, NULL) != 1 ||
                EVP_DecryptUpdate(c, out, &ol, p->ct + i * p->chunk, (int)len) != 1 ||
                EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, p->tags + i * 16) != 1 ||
                EVP_DecryptFinal_ex(c, out + len, &ol) != 1)
                bad++;
        }
        free(out);
        EVP_CIPHER_CTX_free(c);
        EVP_CIPHER_free(aes);
    }
    double t = cx_now_seconds() - t0;
    return bad ? -1.0 : t;
}

/* Page faults of the process so far (minor: mapping a page already in memory; major: read
 * from disk) — the mapped path's hidden cost where a fault traps into a hypervisor. */
static uint64_t page_faults(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_minflt + (uint64_t)ru.ru_majflt;
}

typedef struct figures {
    int threads;
    uint64_t faults_pipeline, faults_stream, faults_openssl; /* per run */
    double pipeline_gbps, pipeline_stream_gbps, openssl_gbps;
    double pipeline_cpu_gbps, openssl_cpu_gbps; /* bytes per CPU-second */
} figures;

typedef struct source {
    const char *path; /* the sealed blob's file */
    cx_store *store;  /* the local store holding it, or NULL */
    char id[CX_STORE_ID_MAX];
} source;

static cx_err time_pipeline(const source *src, const cx_x25519_key *k, int threads, int stream,
                            uint64_t bytes, double *secs, cx_error *e)
{
    cx_pipeline_blob blob = {.id = src->store ? src->id : src->path, .fd = -1};
    int fd = -1;
    if (stream && src->store) {
        cx_err rc = cx_store_get(src->store, src->id, &blob.reader, e);
        if (rc != CX_OK)
            return rc;
    } else {
        fd = open(src->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return cx_error_errno(e, CX_ERR_IO, errno, "opening %s", src->path);
        if (stream)
            cx_reader_from_fd(&blob.reader, fd);
        else
            blob.fd = fd;
    }
    count_sink sink = {0, 0};
    cx_pipeline_config cfg = {.threads = threads, .policy = CX_PIPELINE_FATAL};
    cx_pipeline_consumer cons = {count_chunk, NULL, &sink};
    cx_pipeline_result res;
    double t0 = cx_now_seconds();
    cx_err rc = cx_pipeline_run(&cfg, k, &blob, 1, &cons, &res, e);
    *secs = cx_now_seconds() - t0;
    if (fd >= 0)
        close(fd);
    if (stream && src->store && blob.reader.close)
        blob.reader.close(blob.reader.ctx);
    if (rc == CX_OK && sink.bytes != bytes)
        rc = cx_error_set(e, CX_ERR_INTERNAL, "pipeline delivered %llu of %llu bytes",
                          (unsigned long long)sink.bytes, (unsigned long long)bytes);
    return rc;
}

static cx_err measure(const source *src, const cx_x25519_key *k, const peer *p, int threads,
                      uint64_t bytes, figures *f, cx_error *e)
{
    double best_pipe = 1e30, best_stream = 1e30, best_peer = 1e30;
    double cpu_pipe = 1e30, cpu_peer = 1e30;
    for (int r = 0; r < REPEATS; r++) {
        double t, c0 = cpu_seconds();
        uint64_t f0 = page_faults();
        cx_err rc = time_pipeline(src, k, threads, 0, bytes, &t, e);
        if (rc != CX_OK)
            return rc;
        f->faults_pipeline = page_faults() - f0;
        double c = cpu_seconds() - c0;
        if (t < best_pipe)
            best_pipe = t;
        if (c < cpu_pipe)
            cpu_pipe = c;
        c0 = cpu_seconds();
        f0 = page_faults();
        double tp = peer_run(p, threads);
        if (tp < 0)
            return cx_error_set(e, CX_ERR_CRYPTO, "OpenSSL loop: a tag did not verify");
        f->faults_openssl = page_faults() - f0;
        c = cpu_seconds() - c0;
        if (tp < best_peer)
            best_peer = tp;
        if (c < cpu_peer)
            cpu_peer = c;
        f0 = page_faults();
        rc = time_pipeline(src, k, threads, 1, bytes, &t, e);
        if (rc != CX_OK)
            return rc;
        f->faults_stream = page_faults() - f0;
        if (t < best_stream)
            best_stream = t;
    }
    f->threads = threads;
    f->pipeline_gbps = (double)bytes / best_pipe / 1e9;
    f->pipeline_stream_gbps = (double)bytes / best_stream / 1e9;
    f->openssl_gbps = (double)bytes / best_peer / 1e9;
    f->pipeline_cpu_gbps = cpu_pipe > 0 ? (double)bytes / cpu_pipe / 1e9 : 0;
    f->openssl_cpu_gbps = cpu_peer > 0 ? (double)bytes / cpu_peer / 1e9 : 0;
    return CX_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 ? 0 : -1;
}

static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return 0;
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    else if (*end == 'G' || *end == 'g')
        v <<= 30, end++;
    return *end ? 0 : (uint64_t)v;
}

int cmd_bench_decrypt(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx bench decrypt [--threads N] [--size BYTES] [--chunk-size N]\n"
               "                            [--dir DIR] [--json]\n\n"
               "Seals --size bytes (default 1G; K/M/G suffixes) into a local store in a temporary\n"
               "directory (or DIR), then measures, in the same run and best of %d each:\n"
               "  pipeline        the decryption pipeline on the blob's file (mapped),\n"
               "  pipeline_stream the pipeline reading the blob through the store's reader,\n"
               "  openssl         OpenSSL's own EVP AES-256-GCM loop on the same plaintext,\n"
               "                  same chunk size and thread count, from memory.\n"
               "Without --threads it runs 1 thread and every count up to the CPUs (max 2\n"
               "shown in the ratio), reporting 2-vs-1 scaling. JSON keys: threads, bytes,\n"
               "pipeline_gbps, openssl_gbps, ratio (pipeline / openssl), and runs[].\n",
               REPEATS);
        return CX_EXIT_OK;
    }
    int threads = 0;
    uint64_t size = (uint64_t)1 << 30;
    uint32_t chunk = CX_CXB_DEFAULT_CHUNK;
    const char *dir_opt = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
            if (threads < 1 || threads > 256)
                return cli_usage(cli, "--threads must be 1..256");
        } else if (strcmp(a, "--size") == 0 && i + 1 < argc) {
            size = parse_size(argv[++i]);
            if (size == 0 || size > ((uint64_t)64 << 30))
                return cli_usage(cli, "--size must be 1 byte .. 64G");
        } else if (strcmp(a, "--chunk-size") == 0 && i + 1 < argc) {
            uint64_t v = parse_size(argv[++i]);
            if (v < CX_CXB_MIN_CHUNK || v > CX_CXB_MAX_CHUNK)
                return cli_usage(cli, "--chunk-size must be %u..%u", CX_CXB_MIN_CHUNK,
                                 CX_CXB_MAX_CHUNK);
            chunk = (uint32_t)v;
        } else if (strcmp(a, "--dir") == 0 && i + 1 < argc) {
            dir_opt = argv[++i];
        } else
            return cli_usage(cli, "unexpected argument '%s'", a);
    }

    cx_error e;
    cx_error_clear(&e);
    int rc = CX_EXIT_OK;
    char tmpl[PATH_MAX], path[PATH_MAX + 32], url[PATH_MAX + 16];
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpl, sizeof tmpl, "%s/cloakx-bench-XXXXXX", dir_opt ? dir_opt : tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl)) {
        cx_error_errno(&e, CX_ERR_IO, errno, "creating a directory like %s", tmpl);
        return cli_fail(cli, &e);
    }
    snprintf(path, sizeof path, "%s/blob.cxb", tmpl);
    cx_x25519_key *k = NULL;
    source src = {path, NULL, {0}};
    peer p;
    memset(&p, 0, sizeof p);
    int fd = -1;
    figures runs[8];
    int nruns = 0, in_store = 0;

    if (cx_x25519_key_generate(&k, &e) != CX_OK)
        goto fail;
    /* seal the random plaintext to a file... */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        cx_error_errno(&e, CX_ERR_IO, errno, "creating %s", path);
        goto fail;
    }
    const uint64_t seed = 0x9e3779b97f4a7c15ull;
    gen g = {seed, size};
    cx_reader in = {gen_read, NULL, &g};
    cx_writer out = {fd_write, (void *)(intptr_t)fd};
    cx_cxb_seal_params sp = {.recipient_pub = cx_x25519_key_public(k),
                             .pool_id = "bench-pool",
                             .contributor = "bench-contributor",
                             .content_type = CX_CONTENT_RAW,
                             .chunk_size = chunk};
    cx_cxb_header h;
    cx_log_info(&cli->log, "sealing %llu bytes into %s", (unsigned long long)size, path);
    if (cx_cxb_seal(&sp, &in, size, &out, &h, NULL, &e) != CX_OK)
        goto fail;
    close(fd);
    fd = -1;
    /* ...and put it in a local store, reading it back through the store's own files */
    snprintf(url, sizeof url, "local:%s/store", tmpl);
    if (cx_store_open(url, NULL, &src.store, &e) == CX_OK) {
        int bfd = open(path, O_RDONLY | O_CLOEXEC);
        cx_reader br;
        if (bfd >= 0) {
            cx_reader_from_fd(&br, bfd);
            if (cx_store_put(src.store, &br, src.id, &e) != CX_OK) {
                cx_store_free(src.store);
                src.store = NULL;
            }
            close(bfd);
        }
    }
    char store_path[PATH_MAX + 128];
    if (src.store) {
        /* the local store keeps blob <id> as DIR/<id[0..1]>/<id> (io/cx_io.h) */
        snprintf(store_path, sizeof store_path, "%s/store/%.2s/%s", tmpl, src.id, src.id);
        if (access(store_path, R_OK) == 0) {
            unlink(path);
            src.path = store_path;
            in_store = 1;
        }
    } else {
        cx_log_warn(&cli->log, "local store unavailable (%s); benchmarking the plain file", e.msg);
    }
    if (peer_prepare(&p, (size_t)size, chunk, seed, &e) != CX_OK)
        goto fail;

    double load = -1;
    if (getloadavg(&load, 1) != 1)
        load = -1;
    int maxt = omp_get_num_procs();
    int list[8], nl = 0;
    if (threads)
        list[nl++] = threads;
    else
        for (int t = 1; t <= maxt && nl < 8; t++)
            list[nl++] = t;
    for (int i = 0; i < nl; i++) {
        if (measure(&src, k, &p, list[i], size, &runs[nruns], &e) != CX_OK)
            goto fail;
        cx_log_info(&cli->log,
                    "%d threads: pipeline %.2f GB/s, stream %.2f GB/s, openssl %.2f GB/s", list[i],
                    runs[nruns].pipeline_gbps, runs[nruns].pipeline_stream_gbps,
                    runs[nruns].openssl_gbps);
        nruns++;
    }
    /* the headline is the largest thread count, at most 2 unless asked */
    figures *top = &runs[nruns - 1];
    for (int i = 0; i < nruns; i++)
        if (!threads && runs[i].threads == 2)
            top = &runs[i];
    double scaling = 0;
    if (nruns >= 2 && runs[0].threads == 1)
        for (int i = 1; i < nruns; i++)
            if (runs[i].threads == 2)
                scaling = runs[i].pipeline_gbps / runs[0].pipeline_gbps;
    if (cli->json) {
        json_t *arr = json_array();
        for (int i = 0; i < nruns; i++)
            json_array_append_new(
                arr,
                json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I}", "threads",
                          runs[i].threads, "pipeline_gbps", runs[i].pipeline_gbps,
                          "pipeline_stream_gbps", runs[i].pipeline_stream_gbps, "openssl_gbps",
                          runs[i].openssl_gbps, "ratio",
                          runs[i].pipeline_gbps / runs[i].openssl_gbps, "pipeline_cpu_gbps",
                          runs[i].pipeline_cpu_gbps, "openssl_cpu_gbps", runs[i].openssl_cpu_gbps,
                          "page_faults_pipeline", (json_int_t)runs[i].faults_pipeline,
                          "page_faults_stream", (json_int_t)runs[i].faults_stream,
                          "page_faults_openssl", (json_int_t)runs[i].faults_openssl));
        json_t *j = json_pack("{s:i, s:I, s:I, s:f, s:f, s:f, s:f, s:s, s:o}", "threads",
                              top->threads, "bytes", (json_int_t)size, "chunk_size",
                              (json_int_t)chunk, "pipeline_gbps", top->pipeline_gbps,
                              "pipeline_stream_gbps", top->pipeline_stream_gbps, "openssl_gbps",
                              top->openssl_gbps, "ratio", top->pipeline_gbps / top->openssl_gbps,
                              "source", in_store ? "local-store" : "file", "runs", arr);
        if (j && scaling > 0)
            json_object_set_new(j, "scaling_2_over_1", json_real(scaling));
        if (j && load >= 0)
            json_object_set_new(j, "load_average_1m", json_real(load));
        if (!j) {
            cx_error_set(&e, CX_ERR_NOMEM, "building JSON");
            goto fail;
        }
        rc = cli_print_json(cli, j);
    } else {
        printf("decrypt %llu bytes, chunk %u, source %s (best of %d):\n", (unsigned long long)size,
               chunk, in_store ? "local store" : "file", REPEATS);
        printf("  %-8s %14s %14s %14s %8s %18s %18s %22s\n", "threads", "pipeline GB/s",
               "stream GB/s", "openssl GB/s", "ratio", "pipeline GB/cpu-s", "openssl GB/cpu-s",
               "faults pipe/strm/ossl");
        for (int i = 0; i < nruns; i++)
            printf("  %-8d %14.2f %14.2f %14.2f %8.2f %18.2f %18.2f %8llu/%llu/%llu\n",
                   runs[i].threads, runs[i].pipeline_gbps, runs[i].pipeline_stream_gbps,
                   runs[i].openssl_gbps, runs[i].pipeline_gbps / runs[i].openssl_gbps,
                   runs[i].pipeline_cpu_gbps, runs[i].openssl_cpu_gbps,
                   (unsigned long long)runs[i].faults_pipeline,
                   (unsigned long long)runs[i].faults_stream,
                   (unsigned long long)runs[i].faults_openssl);
        if (load >= 0)
            printf("  load average (1 min) at start: %.2f on %d CPUs: figures are only as quiet "
                   "as the machine\n",
                   load, omp_get_num_procs());
        if (scaling > 0)
            printf("  pipeline 2 threads / 1 thread: %.2f\n", scaling);
    }
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    if (fd >= 0)
        close(fd);
    peer_free(&p);
    cx_x25519_key_free(k);
    cx_store_free(src.store);
    /* the bench's own temporary directory: remove what it (and the store) created */
    if (nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        cx_log_warn(&cli->log, "could not remove %s", tmpl);
    return rc;
}
