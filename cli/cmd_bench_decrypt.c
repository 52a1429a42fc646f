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
    uint8_t **out; /* one output buffer per thread, faulted in before any timing */
    int nout;
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
    p->nout = omp_get_num_procs() < 256 ? omp_get_num_procs() : 256;
    p->out = calloc((size_t)p->nout, sizeof *p->out);
    if (!p->ct || !p->tags || !p->out)
        return cx_error_set(e, CX_ERR_NOMEM, "peer buffers (%zu bytes)", bytes);
    for (int t = 0; t < p->nout; t++) {
        if (!(p->out[t] = malloc(chunk + 16)))
            return cx_error_set(e, CX_ERR_NOMEM, "peer buffers (%zu bytes)", bytes);
        memset(p->out[t], 0, chunk + 16);
    }
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
    for (int t = 0; p->out && t < p->nout; t++)
        free(p->out[t]);
    free(p->out);
    free(p->ct);
    free(p->tags);
    cx_memwipe(p->key, sizeof p->key);
}

/* pread until len bytes; 0 on success. */
static int pread_all(int fd, uint8_t *buf, size_t len, uint64_t off)
{
    while (len) {
        ssize_t k = pread(fd, buf, len, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        buf += k;
        len -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* One timed pass; returns seconds, or -1 if any tag failed or OpenSSL failed. With fd < 0
 * the ciphertext is decrypted from memory into a per-thread buffer (OpenSSL's best case);
 * with fd >= 0 each chunk is first read from that file (the same bytes) into the per-thread
 * buffer and decrypted there in place: what any reader of a file pays for the kernel's copy. */
static double peer_run(const peer *p, int threads, int fd)
{
    int bad = 0;
    double t0 = cx_now_seconds();
#pragma omp parallel num_threads(threads) reduction(+ : bad)
    {
        EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int me = omp_get_thread_num();
        uint8_t *out = me < p->nout ? p->out[me] : NULL;
        if (!aes || !c || !out || EVP_DecryptInit_ex2(c, aes, NULL, NULL, NULL) != 1)
            bad++;
#pragma omp for schedule(static)
        for (size_t i = 0; i < p->nchunks; i++) {
            if (bad)
                continue;
            uint8_t nonce[12] = {0};
            memcpy(nonce, &i, sizeof i);
            size_t len = i + 1 < p->nchunks ? p->chunk : p->bytes - i * p->chunk;
            const uint8_t *in = p->ct + i * p->chunk;
            if (fd >= 0) {
                if (pread_all(fd, out, len, (uint64_t)i * p->chunk) != 0) {
                    bad++;
                    continue;
                }
                in = out;
            }
            int ol;
            if (EVP_DecryptInit_ex2(c, NULL, p->key, nonce, NULL) != 1 ||
                EVP_DecryptUpdate(c, out, &ol, in, (int)len) != 1 ||
                EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, p->tags + i * 16) != 1 ||
                EVP_DecryptFinal_ex(c, out + len, &ol) != 1)
                bad++;
        }
        EVP_CIPHER_CTX_free(c);
        EVP_CIPHER_free(aes);
    }
    double t = cx_now_seconds() - t0;
    return bad ? -1.0 : t;
}

/* One timed pass of the file read alone (pread of each chunk into the per-thread buffer, no
 * decryption): the kernel's copy out of the page cache, which any reader of a file pays on
 * top of AES and which bounds it at 1 / (1 / openssl + 1 / copy). Seconds, or -1. */
static double copy_run(const peer *p, int threads, int fd)
{
    int bad = 0;
    double t0 = cx_now_seconds();
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : bad)
    for (size_t i = 0; i < p->nchunks; i++) {
        int me = omp_get_thread_num();
        size_t len = i + 1 < p->nchunks ? p->chunk : p->bytes - i * p->chunk;
        if (me >= p->nout || pread_all(fd, p->out[me], len, (uint64_t)i * p->chunk) != 0)
            bad++;
    }
    double t = cx_now_seconds() - t0;
    return bad ? -1.0 : t;
}

/* Page faults of the process so far, kept apart: minor (a page mapped that was already in
 * memory: the cost of a first touch, large where a fault traps into a hypervisor) and major
 * (a page read from disk). */
typedef struct faults {
    uint64_t minor, major;
} faults;

static faults faults_now(void)
{
    struct rusage ru;
    faults f = {0, 0};
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        f.minor = (uint64_t)ru.ru_minflt;
        f.major = (uint64_t)ru.ru_majflt;
    }
    return f;
}

static faults faults_since(faults f0)
{
    faults f = faults_now();
    f.minor -= f0.minor;
    f.major -= f0.major;
    return f;
}

/* The CPU's model name as /proc/cpuinfo says it, with its family and model numbers (a
 * hypervisor may pass a generic name: "AMD EPYC" family 26 is Zen 5). */
static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512], name[256] = "unknown CPU", family[32] = "?", model[32] = "?";
    int seen = 0;
    while (seen < 3 && fgets(line, sizeof line, f)) {
        const char *v = strchr(line, ':');
        if (!v)
            continue;
        v += 1 + (v[1] == ' ');
        int n = (int)strcspn(v, "\n");
        if (strncmp(line, "model name", 10) == 0)
            snprintf(name, sizeof name, "%.*s", n, v), seen++;
        else if (strncmp(line, "cpu family", 10) == 0)
            snprintf(family, sizeof family, "%.*s", n, v), seen++;
        else if (strncmp(line, "model\t", 6) == 0)
            snprintf(model, sizeof model, "%.*s", n, v), seen++;
    }
    fclose(f);
    snprintf(out, cap, "%s (family %s, model %s)", name, family, model);
}

typedef struct figures {
    int threads;
    faults faults_pipeline, faults_stream, faults_openssl; /* per run */
    double pipeline_gbps, pipeline_stream_gbps, openssl_gbps, openssl_file_gbps;
    double copy_gbps; /* the file read alone: pread into the per-thread buffers */
    /* bytes per CPU-second of the process: on a shared machine the steadier figure */
    double pipeline_cpu_gbps, stream_cpu_gbps, openssl_cpu_gbps, openssl_file_cpu_gbps;
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

static cx_err measure(const source *src, const cx_x25519_key *k, const peer *p, int peer_fd,
                      int threads, uint64_t bytes, figures *f, cx_error *e)
{
    double best_pipe = 1e30, best_stream = 1e30, best_peer = 1e30, best_file = 1e30;
    double best_copy = 1e30;
    double cpu_pipe = 1e30, cpu_peer = 1e30, cpu_stream = 1e30, cpu_file = 1e30;
    for (int r = 0; r < REPEATS; r++) {
        double t, c0 = cpu_seconds();
        faults f0 = faults_now();
        cx_err rc = time_pipeline(src, k, threads, 0, bytes, &t, e);
        if (rc != CX_OK)
            return rc;
        f->faults_pipeline = faults_since(f0);
        double c = cpu_seconds() - c0;
        if (t < best_pipe)
            best_pipe = t;
        if (c < cpu_pipe)
            cpu_pipe = c;
        c0 = cpu_seconds();
        f0 = faults_now();
        double tp = peer_run(p, threads, -1);
        if (tp < 0)
            return cx_error_set(e, CX_ERR_CRYPTO, "OpenSSL loop: a tag did not verify");
        f->faults_openssl = faults_since(f0);
        c = cpu_seconds() - c0;
        if (tp < best_peer)
            best_peer = tp;
        if (c < cpu_peer)
            cpu_peer = c;
        if (peer_fd >= 0) {
            c0 = cpu_seconds();
            tp = peer_run(p, threads, peer_fd);
            if (tp < 0)
                return cx_error_set(e, CX_ERR_CRYPTO, "OpenSSL loop on the file failed");
            c = cpu_seconds() - c0;
            if (tp < best_file)
                best_file = tp;
            if (c < cpu_file)
                cpu_file = c;
            tp = copy_run(p, threads, peer_fd);
            if (tp < 0)
                return cx_error_set(e, CX_ERR_IO, "reading the peer's file failed");
            if (tp < best_copy)
                best_copy = tp;
        }
        c0 = cpu_seconds();
        f0 = faults_now();
        rc = time_pipeline(src, k, threads, 1, bytes, &t, e);
        if (rc != CX_OK)
            return rc;
        f->faults_stream = faults_since(f0);
        c = cpu_seconds() - c0;
        if (t < best_stream)
            best_stream = t;
        if (c < cpu_stream)
            cpu_stream = c;
    }
    f->threads = threads;
    f->pipeline_gbps = (double)bytes / best_pipe / 1e9;
    f->pipeline_stream_gbps = (double)bytes / best_stream / 1e9;
    f->openssl_gbps = (double)bytes / best_peer / 1e9;
    f->openssl_file_gbps = peer_fd >= 0 ? (double)bytes / best_file / 1e9 : 0;
    f->copy_gbps = peer_fd >= 0 ? (double)bytes / best_copy / 1e9 : 0;
    f->pipeline_cpu_gbps = cpu_pipe > 0 ? (double)bytes / cpu_pipe / 1e9 : 0;
    f->openssl_cpu_gbps = cpu_peer > 0 ? (double)bytes / cpu_peer / 1e9 : 0;
    f->stream_cpu_gbps = cpu_stream > 0 ? (double)bytes / cpu_stream / 1e9 : 0;
    f->openssl_file_cpu_gbps = peer_fd >= 0 && cpu_file > 0 ? (double)bytes / cpu_file / 1e9 : 0;
    return CX_OK;
}

/* What any reader of a file can reach at best: OpenSSL's loop plus the kernel's copy, each
 * at its best speed measured apart, run one after the other on the same thread. */
static double file_bound(const figures *f)
{
    return 1.0 / (1.0 / f->openssl_gbps + 1.0 / f->copy_gbps);
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
               "  pipeline        the decryption pipeline on the blob's file (each chunk read at\n"
               "                  its offset by the thread that decrypts it),\n"
               "  pipeline_stream the pipeline reading the blob through the store's reader,\n"
               "  openssl         OpenSSL's own EVP AES-256-GCM loop on the same plaintext,\n"
               "                  same chunk size and thread count, from memory,\n"
               "  openssl_file    the same loop reading each chunk from a file first (pread):\n"
               "                  what the kernel's copy costs any reader of a file,\n"
               "  copy            that read alone, no decryption: it bounds any reader of a\n"
               "                  file at 1 / (1 / openssl + 1 / copy), printed as the bound.\n"
               "Page faults are counted per path, minor and major apart. Without --threads it\n"
               "runs 1 thread and every count up to the CPUs, reporting 2-vs-1 scaling; the\n"
               "peer is OpenSSL's best configuration of the run (its best thread count). JSON\n"
               "keys: cpu, threads, bytes, pipeline_gbps, openssl_gbps (the peer's best),\n"
               "openssl_threads, ratio (pipeline / openssl), ratio_per_thread, runs[] (with\n"
               "copy_gbps and file_bound_gbps).\n",
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
    int fd = -1, peer_fd = -1;
    char peer_path[PATH_MAX + 32];
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
    /* the peer's ciphertext also as a file, for OpenSSL's loop reading a file */
    snprintf(peer_path, sizeof peer_path, "%s/peer.bin", tmpl);
    peer_fd = open(peer_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (peer_fd < 0) {
        cx_error_errno(&e, CX_ERR_IO, errno, "creating %s", peer_path);
        goto fail;
    }
    if (cx_write_full(peer_fd, p.ct, p.bytes, &e) != CX_OK)
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
        if (measure(&src, k, &p, peer_fd, list[i], size, &runs[nruns], &e) != CX_OK)
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
    /* the peer's best configuration in this run: its best thread count overall, and its best
     * figure per thread (the per-thread target compares the pipeline's 1 thread with it) */
    const figures *peer_best = &runs[0];
    double peer_per_thread = 0, pipe_1t = 0, stream_1t = 0;
    for (int i = 0; i < nruns; i++) {
        if (runs[i].openssl_gbps > peer_best->openssl_gbps)
            peer_best = &runs[i];
        if (runs[i].openssl_gbps / runs[i].threads > peer_per_thread)
            peer_per_thread = runs[i].openssl_gbps / runs[i].threads;
        if (runs[i].threads == 1) {
            pipe_1t = runs[i].pipeline_gbps;
            stream_1t = runs[i].pipeline_stream_gbps;
        }
    }
    double scaling = 0, scaling_stream = 0, scaling_peer = 0;
    if (nruns >= 2 && runs[0].threads == 1)
        for (int i = 1; i < nruns; i++)
            if (runs[i].threads == 2) {
                scaling = runs[i].pipeline_gbps / runs[0].pipeline_gbps;
                scaling_stream = runs[i].pipeline_stream_gbps / runs[0].pipeline_stream_gbps;
                scaling_peer = runs[i].openssl_gbps / runs[0].openssl_gbps;
            }
    char cpu[512];
    cpu_model(cpu, sizeof cpu);
    if (cli->json) {
        json_t *arr = json_array();
        for (int i = 0; i < nruns; i++) {
            const figures *f = &runs[i];
            json_t *o = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "threads", f->threads,
                                  "pipeline_gbps", f->pipeline_gbps, "pipeline_stream_gbps",
                                  f->pipeline_stream_gbps, "openssl_gbps", f->openssl_gbps,
                                  "openssl_file_gbps", f->openssl_file_gbps, "ratio",
                                  f->pipeline_gbps / f->openssl_gbps, "pipeline_cpu_gbps",
                                  f->pipeline_cpu_gbps, "openssl_cpu_gbps", f->openssl_cpu_gbps);
            json_t *pf = json_pack(
                "{s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}}", "pipeline", "minor",
                (json_int_t)f->faults_pipeline.minor, "major", (json_int_t)f->faults_pipeline.major,
                "stream", "minor", (json_int_t)f->faults_stream.minor, "major",
                (json_int_t)f->faults_stream.major, "openssl", "minor",
                (json_int_t)f->faults_openssl.minor, "major", (json_int_t)f->faults_openssl.major);
            if (o) {
                json_object_set_new(o, "pipeline_stream_cpu_gbps", json_real(f->stream_cpu_gbps));
                json_object_set_new(o, "openssl_file_cpu_gbps",
                                    json_real(f->openssl_file_cpu_gbps));
                if (f->copy_gbps > 0) {
                    json_object_set_new(o, "copy_gbps", json_real(f->copy_gbps));
                    json_object_set_new(o, "file_bound_gbps", json_real(file_bound(f)));
                }
            }
            if (o && pf)
                json_object_set_new(o, "page_faults", pf);
            else
                json_decref(pf);
            json_array_append_new(arr, o);
        }
        json_t *j = json_pack("{s:s, s:i, s:I, s:I, s:f, s:f, s:f, s:i, s:f, s:s, s:o}", "cpu", cpu,
                              "threads", top->threads, "bytes", (json_int_t)size, "chunk_size",
                              (json_int_t)chunk, "pipeline_gbps", top->pipeline_gbps,
                              "pipeline_stream_gbps", top->pipeline_stream_gbps, "openssl_gbps",
                              peer_best->openssl_gbps, "openssl_threads", peer_best->threads,
                              "ratio", top->pipeline_gbps / peer_best->openssl_gbps, "source",
                              in_store ? "local-store" : "file", "runs", arr);
        if (j && pipe_1t > 0) {
            json_object_set_new(j, "ratio_per_thread", json_real(pipe_1t / peer_per_thread));
            json_object_set_new(j, "stream_ratio_per_thread",
                                json_real(stream_1t / peer_per_thread));
        }
        if (j && scaling > 0) {
            json_object_set_new(j, "scaling_2_over_1", json_real(scaling));
            json_object_set_new(j, "stream_scaling_2_over_1", json_real(scaling_stream));
            json_object_set_new(j, "openssl_scaling_2_over_1", json_real(scaling_peer));
        }
        if (j && load >= 0)
            json_object_set_new(j, "load_average_1m", json_real(load));
        if (!j) {
            cx_error_set(&e, CX_ERR_NOMEM, "building JSON");
            goto fail;
        }
        rc = cli_print_json(cli, j);
    } else {
        printf("decrypt %llu bytes, chunk %u, source %s (best of %d), CPU: %s\n",
               (unsigned long long)size, chunk, in_store ? "local store" : "file", REPEATS, cpu);
        printf("  %-7s %9s %9s %9s %9s %7s %7s   (GB/s, wall clock)\n", "threads", "pipeline",
               "stream", "openssl", "ossl+file", "ratio", "stream");
        for (int i = 0; i < nruns; i++) {
            const figures *f = &runs[i];
            printf("  %-7d %9.2f %9.2f %9.2f %9.2f %7.2f %7.2f\n", f->threads, f->pipeline_gbps,
                   f->pipeline_stream_gbps, f->openssl_gbps, f->openssl_file_gbps,
                   f->pipeline_gbps / f->openssl_gbps, f->pipeline_stream_gbps / f->openssl_gbps);
        }
        printf("  %-7s %9s %9s %9s %9s %7s %7s   (GB per CPU-second: steadier on a shared "
               "machine)\n",
               "threads", "pipeline", "stream", "openssl", "ossl+file", "ratio", "stream");
        for (int i = 0; i < nruns; i++) {
            const figures *f = &runs[i];
            printf("  %-7d %9.2f %9.2f %9.2f %9.2f %7.2f %7.2f\n", f->threads, f->pipeline_cpu_gbps,
                   f->stream_cpu_gbps, f->openssl_cpu_gbps, f->openssl_file_cpu_gbps,
                   f->pipeline_cpu_gbps / f->openssl_cpu_gbps,
                   f->stream_cpu_gbps / f->openssl_cpu_gbps);
        }
        printf("  page faults per run, minor/major:\n");
        for (int i = 0; i < nruns; i++) {
            const figures *f = &runs[i];
            printf("  %-7d pipeline %llu/%llu, stream %llu/%llu, openssl %llu/%llu\n", f->threads,
                   (unsigned long long)f->faults_pipeline.minor,
                   (unsigned long long)f->faults_pipeline.major,
                   (unsigned long long)f->faults_stream.minor,
                   (unsigned long long)f->faults_stream.major,
                   (unsigned long long)f->faults_openssl.minor,
                   (unsigned long long)f->faults_openssl.major);
        }
        for (int i = 0; i < nruns; i++) {
            const figures *f = &runs[i];
            if (f->copy_gbps <= 0)
                continue;
            if (i == 0)
                printf("  a file reader's bound, 1 / (1 / openssl + 1 / copy), the kernel's copy "
                       "timed alone:\n");
            printf("  %-7d copy %.2f GB/s, bound %.2f GB/s (%.2f of OpenSSL from memory); "
                   "pipeline at %.2f of the bound, stream %.2f\n",
                   f->threads, f->copy_gbps, file_bound(f), file_bound(f) / f->openssl_gbps,
                   f->pipeline_gbps / file_bound(f), f->pipeline_stream_gbps / file_bound(f));
        }
        printf(
            "  peer's best configuration: OpenSSL on %d thread(s), %.2f GB/s (%.2f per thread at "
            "best)\n",
            peer_best->threads, peer_best->openssl_gbps, peer_per_thread);
        if (pipe_1t > 0)
            printf("  per thread vs the peer's best per thread: pipeline %.2f, stream %.2f\n",
                   pipe_1t / peer_per_thread, stream_1t / peer_per_thread);
        if (load >= 0)
            printf("  load average (1 min) at start: %.2f on %d CPUs: figures are only as quiet "
                   "as the machine\n",
                   load, omp_get_num_procs());
        if (scaling > 0)
            printf(
                "  2 threads / 1 thread: pipeline %.2f, stream %.2f, openssl %.2f (the machine's "
                "own scaling)\n",
                scaling, scaling_stream, scaling_peer);
    }
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    if (fd >= 0)
        close(fd);
    if (peer_fd >= 0)
        close(peer_fd);
    peer_free(&p);
    cx_x25519_key_free(k);
    cx_store_free(src.store);
    /* the bench's own temporary directory: remove what it (and the store) created */
    if (nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        cx_log_warn(&cli->log, "could not remove %s", tmpl);
    return rc;
}
