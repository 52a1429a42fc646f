/* job.c — the job pipeline a worker runs inside the TEE (headers checked, blobs authenticated
 * and parsed, model trained, sealed to the buyer, statement signed) and the marketplace glue. */
#include "cx_engine.h"
#include "device_pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* ------------------------------------------------------------ small helpers -- */

cx_err cx_job_blob_id_str(const uint8_t *b, size_t n, char out[CX_STORE_ID_MAX], cx_error *e)
{
    if (n == 0 || n >= CX_STORE_ID_MAX)
        return cx_error_set(e, CX_ERR_FORMAT, "blob id of %zu bytes is not a store id", n);
    memcpy(out, b, n);
    out[n] = 0;
    if (!cx_store_id_valid(out))
        return cx_error_set(e, CX_ERR_FORMAT, "blob id \"%.64s\" is not a store id", out);
    return CX_OK;
}

cx_err cx_job_enclave_doc_id(const cx_ledger_enclave *en, char out[CX_STORE_ID_MAX], cx_error *e)
{
    if (en->attestation_blob_id_len > 0)
        return cx_job_blob_id_str(en->attestation_blob_id, en->attestation_blob_id_len, out, e);
    /* registered under ledger schema v1, which kept no blob id: the document was then in a
     * local:DIR store, found by base64url(SHA-256) */
    return cx_base64url_encode(en->attestation_hash, 32, out, CX_STORE_ID_MAX, e);
}

/* Fetch a registered enclave's attestation document (at most max bytes) by its recorded blob
 * id and check that it hashes to the SHA-256 the ledger recorded: a store may return anything
 * under an id it chose, so the hash is what binds the document to the registration. */
static cx_err enclave_doc_read(cx_store *s, const cx_ledger_enclave *en, size_t max, uint8_t **doc,
                               size_t *len, cx_error *e)
{
    char id[CX_STORE_ID_MAX];
    *doc = NULL;
    *len = 0;
    cx_err rc = cx_job_enclave_doc_id(en, id, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "the enclave's attestation document: ");
    if ((rc = cx_job_store_read_all(s, id, max, doc, len, e)) != CX_OK)
        return cx_error_wrap(rc, e, "the enclave's attestation document (blob %s): ", id);
    uint8_t h[32];
    SHA256(*doc, *len, h);
    if (memcmp(h, en->attestation_hash, 32) != 0) {
        free(*doc);
        *doc = NULL;
        *len = 0;
        return cx_error_set(e, CX_ERR_VERIFY,
                            "the enclave's attestation document (blob %s) does not hash to the "
                            "SHA-256 the ledger registered",
                            id);
    }
    return CX_OK;
}

cx_err cx_job_measure_self(uint8_t out[48], cx_error *e)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cx_error_errno(e, CX_ERR_IO, errno, "measuring /proc/self/exe");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    cx_err rc = CX_OK;
    if (!md || EVP_DigestInit_ex(md, EVP_sha384(), NULL) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-384");
        goto out;
    }
    uint8_t *buf = malloc(1 << 16);
    if (!buf) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "measuring: out of memory");
        goto out;
    }
    for (;;) {
        size_t got = 0;
        rc = cx_read_full(fd, buf, 1 << 16, &got, e);
        if (rc != CX_OK || got == 0)
            break;
        if (EVP_DigestUpdate(md, buf, got) != 1) {
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-384");
            break;
        }
    }
    free(buf);
    unsigned int len = 0;
    if (rc == CX_OK && (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 48))
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-384");
out:
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

cx_err cx_job_store_read_all(cx_store *s, const char *id, size_t max, uint8_t **buf, size_t *len,
                             cx_error *e)
{
    *buf = NULL;
    *len = 0;
    cx_reader r;
    cx_err rc = cx_store_get(s, id, &r, e);
    if (rc != CX_OK)
        return rc;
    /* room for one byte over max: a blob of exactly max bytes is read whole, a longer one is
     * seen to be longer (also when max is below the first buffer's size) */
    size_t lim = max < SIZE_MAX ? max + 1 : max;
    size_t cap = lim < 4096 ? lim : 4096, n = 0;
    uint8_t *b = malloc(cap);
    if (!b)
        rc = cx_error_set(e, CX_ERR_NOMEM, "reading blob %s: out of memory", id);
    while (rc == CX_OK) {
        if (n == cap) {
            if (cap >= lim) {
                rc = cx_error_set(e, CX_ERR_LIMIT, "blob %s is larger than %zu bytes", id, max);
                break;
            }
            size_t nc = cap > lim / 2 ? lim : cap * 2;
            uint8_t *nb = realloc(b, nc);
            if (!nb) {
                rc = cx_error_set(e, CX_ERR_NOMEM, "reading blob %s: out of memory", id);
                break;
            }
            b = nb;
            cap = nc;
        }
        size_t got = 0;
        rc = r.read(r.ctx, b + n, cap - n, &got, e);
        if (rc == CX_OK && got == 0)
            break;
        n += got;
    }
    if (r.close)
        r.close(r.ctx);
    if (rc != CX_OK) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return CX_OK;
}

cx_err cx_job_store_put_bytes(cx_store *s, const void *buf, size_t len, char id[CX_STORE_ID_MAX],
                              cx_error *e)
{
    cx_mem_reader m;
    cx_reader r;
    cx_reader_from_memory(&r, &m, buf, len);
    return cx_store_put(s, &r, id, e);
}

/* ------------------------------------------------------------ enclave state -- */

cx_err cx_job_tee_dir(const char *state_dir, char *out, size_t cap, cx_error *e)
{
    return cx_job_path_join(out, cap, state_dir, "tee", e);
}

cx_err cx_job_enclave_state_save(const char *state_dir, const cx_chain_id *id, cx_error *e)
{
    char path[PATH_MAX], hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_err rc = cx_job_path_join(path, sizeof path, state_dir, "enclave.json", e);
    if (rc != CX_OK)
        return rc;
    cx_chain_id_to_hex(id, hex);
    char text[128];
    int n = snprintf(text, sizeof text, "{\"enclave_id\":\"%s\"}\n", hex);
    return cx_file_write_atomic(path, text, (size_t)n, 0600, e);
}

cx_err cx_job_enclave_state_load(const char *state_dir, cx_chain_id *id, cx_error *e)
{
    char path[PATH_MAX];
    cx_err rc = cx_job_path_join(path, sizeof path, state_dir, "enclave.json", e);
    if (rc != CX_OK)
        return rc;
    json_t *j = NULL;
    rc = cx_json_load_file(path, &j, e);
    if (rc != CX_OK)
        return cx_error_wrap(
            rc, e, "no registered enclave in %s (run `cloakx enclave register`): ", state_dir);
    const char *s = NULL;
    rc = cx_json_get_string(j, "enclave_id", 1, &s, e);
    if (rc == CX_OK)
        rc = cx_chain_id_from_hex(s, id, e);
    json_decref(j);
    return rc;
}

cx_err cx_job_tee_open(const char *state_dir, const char *devca_dir, const cx_logger *log,
                       cx_tee **out, cx_error *e)
{
    char tee_dir[PATH_MAX];
    cx_err rc = cx_job_tee_dir(state_dir, tee_dir, sizeof tee_dir, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_tee_sim_devca_create(devca_dir, e);
    if (rc != CX_OK)
        return rc;
    cx_tee_sim_config c = {.devca_dir = devca_dir, .state_dir = tee_dir, .log = log};
    return cx_tee_sim_open(&c, out, e);
}

/* ------------------------------------------------------------- job requests -- */

cx_err cx_job_request_build(const json_t *spec, const uint8_t buyer_x25519[32], char **out,
                            size_t *len, cx_error *e)
{
    char b64[64];
    cx_err rc = cx_base64_encode(buyer_x25519, 32, b64, sizeof b64, e);
    if (rc != CX_OK)
        return rc;
    json_t *j = json_pack("{s:s, s:O, s:s}", "format", "cloakx-job-request/1", "spec", spec,
                          "buyer_x25519", b64);
    char *s = j ? cx_json_dumps(j, 0) : NULL;
    json_decref(j);
    if (!s)
        return cx_error_set(e, CX_ERR_NOMEM, "job request: out of memory");
    *out = s;
    *len = strlen(s);
    return CX_OK;
}

cx_err cx_job_request_parse(const uint8_t *buf, size_t len, cx_spec *spec, uint8_t buyer_x25519[32],
                            cx_error *e)
{
    json_t *j = NULL;
    cx_err rc = cx_json_parse((const char *)buf, len, &j, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "job request: ");
    static const char *const keys[] = {"format", "spec", "buyer_x25519", NULL};
    const char *fmt = NULL, *b64 = NULL;
    rc = cx_json_check_keys(j, keys, "job request", e);
    if (rc == CX_OK)
        rc = cx_json_get_string(j, "format", 1, &fmt, e);
    if (rc == CX_OK && strcmp(fmt, "cloakx-job-request/1") != 0)
        rc = cx_error_set(e, CX_ERR_FORMAT, "job request: unknown format \"%.40s\"", fmt);
    if (rc == CX_OK)
        rc = cx_json_get_string(j, "buyer_x25519", 1, &b64, e);
    size_t n = 0;
    if (rc == CX_OK)
        rc = cx_base64_decode(b64, strlen(b64), buyer_x25519, 32, &n, e);
    if (rc == CX_OK && n != 32)
        rc = cx_error_set(e, CX_ERR_FORMAT, "job request: buyer_x25519 is not 32 bytes");
    if (rc == CX_OK) {
        json_t *s = json_object_get(j, "spec");
        rc = s ? cx_spec_parse(s, spec, e)
               : cx_error_set(e, CX_ERR_FORMAT, "job request: missing \"spec\"");
    }
    json_decref(j);
    return rc;
}

/* ------------------------------------------------------------------- hooks -- */

void cx_job_hook_point(const cx_job_hooks *h, const char *phase, const cx_logger *log)
{
    if (!h || !h->pause_at || strcmp(h->pause_at, phase) != 0)
        return;
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/paused-%s", h->pause_dir ? h->pause_dir : ".",
                         phase) >= sizeof path)
        return;
    cx_log_warn(log, "test hook: pausing at \"%s\" (%s); kill me", phase, path);
    cx_error e;
    if (cx_file_write_atomic(path, "paused\n", 7, 0600, &e) != CX_OK)
        cx_log_error(log, "test hook: %s", e.msg);
    for (;;)
        pause();
}

/* ------------------------------------------------------- dataset commitment -- */

static int blob_id_cmp(const char *x, const char *y)
{
    size_t lx = strlen(x), ly = strlen(y);
    int c = memcmp(x, y, lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

static int commit_cmp(const void *a, const void *b)
{
    const cx_job_commit_item *x = a, *y = b;
    return blob_id_cmp(x->blob_id, y->blob_id);
}

cx_err cx_job_dataset_commitment(cx_job_commit_item *items, size_t n, uint8_t out[32], cx_error *e)
{
    if (n)
        qsort(items, n, sizeof *items, commit_cmp);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        uint8_t l = (uint8_t)strlen(items[i].blob_id);
        ok = EVP_DigestUpdate(md, &l, 1) == 1 && EVP_DigestUpdate(md, items[i].blob_id, l) == 1 &&
             EVP_DigestUpdate(md, items[i].header_hash, 32) == 1 &&
             EVP_DigestUpdate(md, items[i].tag_hash, 32) == 1;
    }
    unsigned int len = 0;
    ok = ok && EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(md);
    return ok ? CX_OK : cx_error_openssl(e, CX_ERR_CRYPTO, "dataset commitment: SHA-256");
}

/* ----------------------------------------------------------- job pipeline -- */

void cx_job_output_free(cx_job_output *o)
{
    if (!o)
        return;
    free(o->statement);
    json_decref(o->report);
    memset(o, 0, sizeof *o);
}

/* One registered contribution as the job sees it. */
typedef struct cand {
    cx_ledger_contribution c;
    char blob_id[CX_STORE_ID_MAX];
    char contributor[CX_CHAIN_ID_HEX_LEN + 1];
    cx_cxb_header h;
    int state; /* 0 rejected, 1 header ok, 2 authenticated, 3 parsed with rows */
    char reason[300];
    uint8_t tag_hash[32];
    uint64_t rows, bad_rows;
    int late_fail; /* failed after the header checks: its contributor is left out */
} cand;

static void reject(cand *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(cand *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof c->reason, fmt, ap);
    va_end(ap);
    c->state = 0;
}

typedef struct pipe_ud {
    cx_parser *parser;
    size_t base; /* parser index of the batch's first blob */
    cx_progress *prog;
    uint64_t done;
    const cx_logger *log;
} pipe_ud;

static cx_err on_chunk(void *ud, const cx_pipeline_chunk *c, cx_error *e)
{
    pipe_ud *u = ud;
    (void)e;
    u->done += c->len;
    if (u->prog)
        cx_progress_update(u->prog, u->done);
    if (u->parser) {
        /* A blob that does not parse fails alone (left out of the dataset); the others go on,
         * so the parser's error is recorded by the parser, not returned. */
        cx_error pe;
        if (cx_parser_feed(u->parser, u->base + c->blob, c->data, c->len, c->last, &pe) != CX_OK)
            cx_log_debug(u->log, "blob %s: %s", c->blob_id, pe.msg);
    }
    return CX_OK;
}

static uint64_t micro(double v)
{
    if (!(v >= 0) || isnan(v))
        return 0;
    if (v > 1.8e13)
        return UINT64_MAX - 1;
    return (uint64_t)llround(v * 1e6);
}

/* Phase 1: each candidate's header, read without any key, against what the ledger says. */
static void check_headers(const cx_job_params *p, cand *cs, size_t n, const char *pool_hex,
                          const uint8_t key_id[32])
{
    for (size_t i = 0; i < n; i++) {
        cand *c = &cs[i];
        cx_error e;
        if (cx_job_blob_id_str(c->c.blob_id, c->c.blob_id_len, c->blob_id, &e) != CX_OK) {
            snprintf(c->blob_id, sizeof c->blob_id, "(invalid)");
            reject(c, "%s", e.msg);
            continue;
        }
        cx_reader r;
        if (cx_store_get(p->store, c->blob_id, &r, &e) != CX_OK) {
            reject(c, "not retrievable from the store: %s", e.msg);
            continue;
        }
        uint8_t hb[CX_CXB_MAX_HEADER_LEN];
        cx_err rc = cx_cxb_header_read(&r, hb, &c->h, &e);
        if (r.close)
            r.close(r.ctx);
        if (rc != CX_OK) {
            reject(c, "not a sealed blob: %s", e.msg);
            continue;
        }
        if (memcmp(c->h.recipient_key_id, key_id, 32) != 0) {
            reject(c, "sealed to another recipient, not this pool's enclave");
            continue;
        }
        if (strcmp(c->h.pool_id, pool_hex) != 0) {
            reject(c, "sealed for pool %.70s, not this pool", c->h.pool_id);
            continue;
        }
        if (strcmp(c->h.contributor, c->contributor) != 0) {
            reject(c, "somebody else's blob: sealed by %.70s, registered by %s", c->h.contributor,
                   c->contributor);
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            if (cs[j].state && memcmp(cs[j].h.header_hash, c->h.header_hash, 32) == 0) {
                reject(c, "duplicate of blob %s (same sealed header)", cs[j].blob_id);
                dup = 1;
            }
        if (dup)
            continue;
        if (c->h.content_type != CX_CONTENT_CSV && c->h.content_type != CX_CONTENT_JSONL &&
            c->h.content_type != CX_CONTENT_F32) {
            reject(c, "content type %s is not training data",
                   cx_content_type_name(c->h.content_type));
            continue;
        }
        c->state = 1;
    }
}

/* Whether some blob still in the job (state 2) belongs to a contributor with a late failure. */
static int disqualify_pending(const cand *cs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cs[i].state == 0 && cs[i].late_fail)
            for (size_t j = 0; j < n; j++)
                if (cs[j].state == 2 &&
                    cx_chain_id_equal(&cs[j].c.contributor, &cs[i].c.contributor))
                    return 1;
    return 0;
}

/* Leave out every remaining blob of a contributor with a late failure; returns how many. */
static size_t disqualify(cand *cs, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].state != 0 || !cs[i].late_fail)
            continue;
        for (size_t j = 0; j < n; j++)
            if (cs[j].state == 2 && cx_chain_id_equal(&cs[j].c.contributor, &cs[i].c.contributor)) {
                reject(&cs[j], "left out: blob %s of the same contributor failed", cs[i].blob_id);
                k++;
            }
    }
    return k;
}

/* Run the pipeline over the candidates in state `want`, feeding the parser (blob k of the
 * parser = the k-th such candidate). First pass (fatal = 0): blobs that fail to authenticate
 * are rejected, the others move to state want + 1 with their tag hash; *n_failed counts the
 * failures. Re-parse pass (fatal = 1): only blobs that authenticated a moment ago, so a
 * failure now means the store changed under us and the job is retried. */
static cx_err run_pipeline(const cx_job_params *p, const cx_device_choice *dev,
                           const cx_x25519_key *key, cand *cs, size_t n, int want,
                           cx_parser *parser, int fatal, size_t *n_failed, cx_error *e)
{
    /* blobs go through the pipeline in batches, so a pool of thousands of blobs does not
     * hold thousands of open store readers (file descriptors, connections) at once */
    enum { BATCH = 64 };
    size_t m = 0;
    *n_failed = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (cs[i].state == want) {
            m++;
            total += cs[i].h.plaintext_len;
        }
    if (m == 0)
        return CX_OK;
    cx_pipeline_blob blobs[BATCH];
    cx_pipeline_result res[BATCH];
    size_t map[BATCH];
    cx_err rc = CX_OK;
    cx_progress prog;
    cx_progress_start(&prog, fatal ? "re-parsing" : "decrypting", total, p->progress);
    pipe_ud u = {.parser = parser, .prog = &prog, .log = p->log};
    cx_pipeline_consumer cons = {.chunk = on_chunk, .ud = &u};
    cx_pipeline_config cfg = {.threads = p->threads,
                              .policy = fatal ? CX_PIPELINE_FATAL : CX_PIPELINE_SKIP,
                              .log = p->log};
    /* blobs may be sealed with chunks larger than the default buffers (seal --chunk-size) */
    uint32_t max_chunk = 0;
    for (size_t i = 0; i < n; i++)
        if (cs[i].state == want && cs[i].h.chunk_size > max_chunk)
            max_chunk = cs[i].h.chunk_size;
    cx_pipeline_config_fit(&cfg, max_chunk, CX_PIPELINE_LARGE_CHUNK_BUDGET);
    /* with the CUDA backend: plaintext chunks in pinned memory, decrypt threads near the GPU */
    cx_device_pipeline dp;
    cx_device_pipeline_setup(dev, &dp, &cfg, p->log);
    size_t next = 0; /* next candidate index to look at */
    while (rc == CX_OK && u.base < m) {
        size_t nb = 0;
        memset(blobs, 0, sizeof blobs);
        memset(res, 0, sizeof res);
        for (; next < n && nb < BATCH; next++) {
            if (cs[next].state != want)
                continue;
            blobs[nb].id = cs[next].blob_id;
            blobs[nb].fd = -1;
            if ((rc = cx_store_get(p->store, cs[next].blob_id, &blobs[nb].reader, e)) != CX_OK)
                break;
            map[nb++] = next;
        }
        cx_error pe;
        cx_err prc = rc == CX_OK ? cx_pipeline_run(&cfg, key, blobs, nb, &cons, res, &pe) : rc;
        for (size_t k = 0; k < nb; k++)
            if (blobs[k].reader.close)
                blobs[k].reader.close(blobs[k].reader.ctx);
        if (rc != CX_OK)
            break;
        if (fatal) {
            if (prc != CX_OK)
                rc = cx_error_set(e, prc, "decrypting for parsing: %s", pe.msg);
        } else {
            int any_failed = 0;
            for (size_t k = 0; k < nb; k++) {
                cand *c = &cs[map[k]];
                if (res[k].status == CX_OK) {
                    c->state = want + 1;
                    memcpy(c->tag_hash, res[k].tag_hash, 32);
                } else {
                    reject(c, "tampered or corrupt: %s", res[k].error);
                    c->late_fail = 1;
                    ++*n_failed;
                    any_failed = 1;
                }
            }
            /* SKIP policy: failed blobs are in the results; anything else is fatal */
            if (prc != CX_OK && !any_failed)
                rc = cx_error_set(e, prc, "decryption pipeline: %s", pe.msg);
        }
        u.base += nb;
    }
    cx_progress_finish(&prog);
    return rc;
}

typedef struct epoch_ud {
    cx_progress *prog;
    const cx_logger *log;
} epoch_ud;

static void on_epoch(void *ud, int epoch, double train_loss, double val_loss, double lr)
{
    epoch_ud *u = ud;
    cx_progress_update(u->prog, (uint64_t)epoch);
    cx_log_info(u->log, "epoch %d: train loss %.5f, validation loss %.5f, lr %.3g", epoch,
                train_loss, val_loss, lr);
}

static int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CX_CHAIN_ID_LEN);
}

cx_err cx_job_execute(const cx_job_params *p, cx_job_output *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    double t0 = cx_now_seconds();
    cx_err rc;
    cx_ledger_job job;
    cx_ledger_pool pool;
    cx_ledger_enclave enc;
    cx_spec spec;
    int spec_ok = 0;
    uint8_t *req = NULL, *model_bytes = NULL, *doc = NULL;
    size_t req_len = 0, model_len = 0, doc_len = 0;
    cx_ledger_contribution *contribs = NULL;
    size_t n_contribs = 0, n_cands = 0;
    cand *cs = NULL;
    cx_x25519_key *key = NULL;
    cx_dataset_schema *schema = NULL;
    cx_parser *parser = NULL;
    cx_dataset *ds = NULL;
    cx_model *model = NULL;
    cx_backend *be = NULL;
    cx_device_choice dev;
    memset(&dev, 0, sizeof dev);
    json_t *report = NULL, *data = NULL, *extra = NULL;
    cx_job_membuf sealed = {0}; /* ciphertext: plain malloc is fine */
    cx_nitro_doc nd;
    memset(&nd, 0, sizeof nd);
    cx_statement_rows *srows = NULL;
    cx_job_commit_item *items = NULL;
    char job_hex[CX_CHAIN_ID_HEX_LEN + 1], pool_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&p->job_id, job_hex);

    if ((rc = cx_ledger_job_get(p->ledger, &p->job_id, &job, e)) != CX_OK)
        goto out;
    if (job.state != CX_LEDGER_JOB_OPEN) {
        rc = cx_error_set(e, CX_ERR_STATE, "job %s is %s, not open", job_hex,
                          cx_ledger_job_state_name(job.state));
        goto out;
    }
    if ((rc = cx_ledger_pool_get(p->ledger, &job.pool_id, &pool, e)) != CX_OK)
        goto out;
    cx_chain_id_to_hex(&job.pool_id, pool_hex);
    if ((rc = cx_ledger_enclave_get(p->ledger, &p->enclave_id, &enc, e)) != CX_OK)
        goto out;
    uint8_t ed_pk[32], x_pk[32];
    cx_tee_public_keys(p->tee, ed_pk, x_pk);
    if (memcmp(ed_pk, enc.ed25519_pk, 32) != 0 || memcmp(x_pk, enc.x25519_pk, 32) != 0) {
        rc = cx_error_set(e, CX_ERR_STATE,
                          "this TEE's keys are not those of the registered "
                          "enclave (re-register with `cloakx enclave register`)");
        goto out;
    }

    /* this TEE's own measurement, as its report gives it: what the statement will carry */
    if ((rc = cx_tee_attest(p->tee, NULL, 0, NULL, 0, &doc, &doc_len, e)) != CX_OK ||
        (rc = cx_nitro_doc_parse(doc, doc_len, &nd, e)) != CX_OK)
        goto out;
    if (!(nd.pcr_present & 1u) || nd.pcr_len[0] != enc.measurement_len ||
        memcmp(nd.pcr[0], enc.measurement, enc.measurement_len) != 0) {
        rc = cx_error_set(e, CX_ERR_STATE,
                          "this code's measurement (PCR0) is not the registered "
                          "enclave's: the binary changed since `cloakx enclave "
                          "register`; register it again");
        goto out;
    }

    /* the job request: spec and the buyer's key, bound by the spec hash on the ledger */
    char spec_id[CX_STORE_ID_MAX];
    if ((rc = cx_job_blob_id_str(job.spec_blob_id, job.spec_blob_id_len, spec_id, e)) != CX_OK ||
        (rc = cx_job_store_read_all(p->store, spec_id, 1 << 20, &req, &req_len, e)) != CX_OK) {
        cx_error_prefix(e, "job request: ");
        goto out;
    }
    uint8_t config_hash[32];
    SHA256(req, req_len, config_hash);
    if (memcmp(config_hash, job.spec_hash, 32) != 0) {
        rc = cx_error_set(e, CX_ERR_VERIFY, "job request: its SHA-256 is not the job's spec hash");
        goto out;
    }
    uint8_t buyer_x[32];
    if ((rc = cx_job_request_parse(req, req_len, &spec, buyer_x, e)) != CX_OK)
        goto out;
    spec_ok = 1;
    if (spec.task == CX_TASK_STATS || !spec.data || !json_object_get(spec.data, "label")) {
        rc = cx_error_set(e, CX_ERR_FORMAT,
                          "job spec: a training task with \"data.label\" "
                          "is required");
        goto out;
    }

    /* the compute device first: the decrypt pipeline's buffers and threads follow it */
    if ((rc = cx_backend_select(p->device ? p->device : "auto", spec.precision, spec.threads, &be,
                                &dev, e)) != CX_OK)
        goto out;
    cx_log_info(p->log, "job %s: device %s", job_hex, dev.report);

    report = json_object();
    if (!report) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "report: out of memory");
        goto out;
    }
    json_object_set_new(report, "job", json_string(job_hex));
    json_object_set_new(report, "pool", json_string(pool_hex));
    json_object_set_new(report, "tee",
                        json_pack("{s:s, s:b}", "backend", cx_tee_backend_name(p->tee), "simulated",
                                  cx_tee_is_simulated(p->tee)));

    /* the contributions registered before the job was created: a fixed, auditable set */
    if ((rc = cx_ledger_contributions_list(p->ledger, &job.pool_id, &contribs, &n_contribs, e)) !=
        CX_OK)
        goto out;
    cs = calloc(n_contribs ? n_contribs : 1, sizeof *cs);
    if (!cs) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_contribs; i++) {
        if (contribs[i].created_ms > job.created_ms)
            continue;
        cand *c = &cs[n_cands++];
        c->c = contribs[i];
        cx_chain_id_to_hex(&contribs[i].contributor, c->contributor);
    }
    cx_log_info(p->log, "job %s: %zu contribution(s) in the pool", job_hex, n_cands);

    if ((rc = cx_x25519_key_from_secret(cx_tee_x25519_secret(p->tee), &key, e)) != CX_OK)
        goto out;
    uint8_t key_id[32];
    cx_x25519_key_id(key, key_id);
    check_headers(p, cs, n_cands, pool_hex, key_id);
    /* canonical (blob id) order, for the parser's merge order and the commitment */
    for (size_t i = 0; i + 1 < n_cands; i++)
        for (size_t j = i + 1; j < n_cands; j++)
            if (blob_id_cmp(cs[i].blob_id, cs[j].blob_id) > 0) {
                cand t = cs[i];
                cs[i] = cs[j];
                cs[j] = t;
            }

    /* one data format per job: the first good header's (canonical order) */
    cx_content_type ct = CX_CONTENT_RAW;
    size_t n_ok = 0;
    for (size_t i = 0; i < n_cands; i++) {
        if (cs[i].state != 1)
            continue;
        if (ct == CX_CONTENT_RAW)
            ct = cs[i].h.content_type;
        if (cs[i].h.content_type != ct)
            reject(&cs[i], "content type %s differs from the job's %s",
                   cx_content_type_name(cs[i].h.content_type), cx_content_type_name(ct));
        else
            n_ok++;
    }
    if (n_ok == 0) {
        rc = cx_error_set(e, CX_ERR_STATE, "job %s: no contribution passed the header checks",
                          job_hex);
        goto out;
    }
    cx_data_format fmt = ct == CX_CONTENT_JSONL ? CX_DATA_JSONL
                         : ct == CX_CONTENT_F32 ? CX_DATA_F32
                                                : CX_DATA_CSV;
    data = json_deep_copy(spec.data);
    if (!data) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
        goto out;
    }
    const char *want_lt = spec.task == CX_TASK_REGRESSION ? "numeric" : "class";
    if (!json_object_get(data, "label_type"))
        json_object_set_new(data, "label_type", json_string(want_lt));
    if ((rc = cx_dataset_schema_from_json(data, &schema, e)) != CX_OK ||
        (rc = cx_parser_new(schema, fmt, n_ok, &parser, e)) != CX_OK) {
        cx_error_prefix(e, "job spec data: ");
        goto out;
    }

    /* one pass: decrypt, authenticate and parse together. Only when a blob fails part way
     * (tampered) are its rows already in the parser; then the good blobs are parsed again
     * into a fresh parser (a second decryption, paid only in that case). */
    double t_dec = cx_now_seconds();
    size_t n_failed = 0;
    if ((rc = run_pipeline(p, &dev, key, cs, n_cands, 1, parser, 0, &n_failed, e)) != CX_OK)
        goto out;
    cx_job_hook_point(p->hooks, "decrypted", p->log);
    size_t n_auth = 0;
    for (size_t i = 0; i < n_cands; i++)
        n_auth += cs[i].state == 2;
    if (n_auth == 0) {
        rc = cx_error_set(e, CX_ERR_STATE, "job %s: no contribution could be authenticated",
                          job_hex);
        goto out;
    }
    /* A blob that fails after the header checks (tampered, unparseable, no usable rows) is
     * something an auditor cannot see without the key, so its contributor is left out of
     * this job entirely: the accepted set is then exactly what `cloakx verify` recomputes,
     * every header-valid blob of the contributors the statement lists. Each round below
     * rejects at least one blob, so it ends. */
    int reparsed = 0, dirty = n_failed != 0;
    size_t n_left = n_auth;
    for (;;) {
        n_left -= disqualify(cs, n_cands);
        if (n_left == 0) {
            rc = cx_error_set(e, CX_ERR_STATE, "job %s: no contribution was accepted", job_hex);
            goto out;
        }
        if (dirty) {
            /* the parser holds rows of blobs now left out (or part of a failed one) */
            cx_dataset_free(ds);
            ds = NULL;
            cx_parser_free(parser);
            parser = NULL;
            size_t dummy = 0;
            if ((rc = cx_parser_new(schema, fmt, n_left, &parser, e)) != CX_OK ||
                (rc = run_pipeline(p, &dev, key, cs, n_cands, 2, parser, 1, &dummy, e)) != CX_OK)
                goto out;
            reparsed++;
        }
        if ((rc = cx_parser_finalize(parser, &ds, e)) != CX_OK) {
            cx_error_prefix(e, "job %s: ", job_hex);
            goto out;
        }
        size_t late = 0;
        for (size_t i = 0, k = 0; i < n_cands; i++) {
            if (cs[i].state != 2)
                continue;
            const cx_blob_rows *br = &ds->blobs[k++];
            cs[i].rows = br->rows;
            cs[i].bad_rows = br->bad_rows;
            if (br->failed || br->rows == 0) {
                if (br->failed)
                    reject(&cs[i], "data does not parse under the job's schema: %s", br->error);
                else
                    reject(&cs[i], "no usable rows");
                cs[i].late_fail = 1;
                late++;
                n_left--;
            }
        }
        if (late == 0 && !disqualify_pending(cs, n_cands))
            break;
        dirty = 1;
    }
    for (size_t i = 0; i < n_cands; i++)
        if (cs[i].state == 2)
            cs[i].state = 3;
    t_dec = cx_now_seconds() - t_dec;

    /* per-contributor accepted rows (ascending address, as the statement wants) */
    size_t n_acc_blobs = 0;
    for (size_t i = 0; i < n_cands; i++)
        n_acc_blobs += cs[i].state == 3;
    srows = calloc(n_acc_blobs ? n_acc_blobs : 1, sizeof *srows);
    items = calloc(n_acc_blobs ? n_acc_blobs : 1, sizeof *items);
    if (!srows || !items) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
        goto out;
    }
    size_t n_rows = 0, n_items = 0;
    uint64_t total_rows = 0;
    for (size_t i = 0; i < n_cands; i++) {
        if (cs[i].state != 3)
            continue;
        cx_job_commit_item *it = &items[n_items++];
        snprintf(it->blob_id, sizeof it->blob_id, "%s", cs[i].blob_id);
        memcpy(it->header_hash, cs[i].h.header_hash, 32);
        memcpy(it->tag_hash, cs[i].tag_hash, 32);
        total_rows += cs[i].rows;
        size_t k = 0;
        while (k < n_rows && memcmp(srows[k].contributor, cs[i].c.contributor.b, 32) != 0)
            k++;
        if (k == n_rows) {
            memcpy(srows[k].contributor, cs[i].c.contributor.b, 32);
            n_rows++;
        }
        srows[k].rows += cs[i].rows;
    }
    qsort(srows, n_rows, sizeof *srows, addr_cmp);
    uint8_t commitment[32];
    if ((rc = cx_job_dataset_commitment(items, n_items, commitment, e)) != CX_OK)
        goto out;

    /* train */
    cx_train_data td = {
        .rows = ds->n, .cols = (int)ds->d, .x = ds->X, .y = ds->y, .n_classes = (int)ds->n_classes};
    cx_train_result tr;
    cx_progress eprog;
    cx_progress_start(&eprog, "training", (uint64_t)spec.epochs, p->progress);
    epoch_ud eu = {&eprog, p->log};
    cx_train_epoch_cb cb = {on_epoch, &eu};
    cx_log_info(p->log, "job %s: training %s on %zu rows x %zu features (%s backend)", job_hex,
                cx_model_kind_name(spec.model), ds->n, ds->d, be->name);
    rc = cx_train(&spec, &td, be, &cb, p->log, &model, &tr, e);
    cx_progress_finish(&eprog);
    if (rc != CX_OK)
        goto out;
    double eps = NAN, order = NAN;
    if (spec.privacy && (rc = cx_privacy_epsilon(spec.noise_multiplier, tr.sample_rate, tr.steps,
                                                 spec.delta, NULL, 0, &eps, &order, e)) != CX_OK)
        goto out;
    cx_job_hook_point(p->hooks, "trained", p->log);

    /* the model, sealed to the buyer */
    if ((rc = cx_job_model_meta(&spec, data, ds, &tr, eps, order, &extra, e)) != CX_OK)
        goto out;
    json_object_set_new(extra, "job", json_string(job_hex));
    json_object_set_new(extra, "pool", json_string(pool_hex));
    /* the plaintext model bytes live in secure memory only (wiped when freed) */
    if ((rc = cx_model_serialize(model, extra, &model_bytes, &model_len, e)) != CX_OK)
        goto out;
    cx_cxb_seal_params sp = {.recipient_pub = buyer_x,
                             .pool_id = pool_hex,
                             .contributor = job_hex,
                             .content_type = CX_CONTENT_MODEL};
    if ((rc = cx_job_seal_bytes(&sp, model_bytes, model_len, &sealed, NULL, e)) != CX_OK ||
        (rc = cx_job_store_put_bytes(p->store, sealed.p, sealed.len, out->model_blob_id, e)) !=
            CX_OK)
        goto out;
    uint8_t result_hash[32];
    SHA256(sealed.p, sealed.len, result_hash);

    /* the statement */
    cx_statement st;
    memset(&st, 0, sizeof st);
    memcpy(st.job_id, p->job_id.b, 32);
    memcpy(st.pool_id, job.pool_id.b, 32);
    st.code_measurement_len = nd.pcr_len[0];
    memcpy(st.code_measurement, nd.pcr[0], nd.pcr_len[0]);
    memcpy(st.config_hash, config_hash, 32);
    memcpy(st.dataset_commitment, commitment, 32);
    st.result_blob_id_len = strlen(out->model_blob_id);
    memcpy(st.result_blob_id, out->model_blob_id, st.result_blob_id_len);
    memcpy(st.result_hash, result_hash, 32);
    st.gpu_evidence_hash_len = 0; /* no GPU evidence collected here (RULES.md §4: empty) */
    st.rows = srows;
    st.n_rows = n_rows;
    cx_statement_metric met[6];
    size_t nm = 0;
    const struct {
        const char *name;
        double v;
    } mv[] = {{"val_loss", tr.val.loss}, {"val_accuracy", tr.val.accuracy},
              {"val_auc", tr.val.auc},   {"val_macro_f1", tr.val.macro_f1},
              {"val_rmse", tr.val.rmse}, {"val_r2", tr.val.r2}};
    for (size_t i = 0; i < sizeof mv / sizeof mv[0]; i++) {
        if (isnan(mv[i].v) || mv[i].v < 0)
            continue;
        if (spec.task == CX_TASK_CLASSIFICATION && i >= 4)
            continue;
        if (spec.task != CX_TASK_CLASSIFICATION && i >= 1 && i <= 3)
            continue;
        snprintf(met[nm].name, sizeof met[nm].name, "%s", mv[i].name);
        met[nm++].value_micro = micro(mv[i].v);
    }
    st.metrics = met;
    st.n_metrics = nm;
    st.dp_epsilon_micro = spec.privacy ? micro(eps) : CX_STATEMENT_NO_DP;
    st.dp_delta_1e12 = spec.privacy ? (uint64_t)llround(spec.delta * 1e12) : 0;
    if ((rc = cx_statement_encode(&st, cx_unix_ms(), &out->statement, &out->statement_len, e)) !=
            CX_OK ||
        (rc = cx_tee_sign(p->tee, out->statement, out->statement_len, out->signature, e)) != CX_OK)
        goto out;

    /* the report: what the worker and the demo print */
    json_object_set_new(report, "backend", json_string(be->name));
    json_object_set_new(report, "device", json_string(dev.report));
    json_t *contributors = json_array(), *rejected = json_array();
    for (size_t k = 0; k < n_rows; k++) {
        cx_chain_addr a;
        memcpy(a.b, srows[k].contributor, 32);
        char ah[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(&a, ah);
        uint64_t bad = 0;
        unsigned nb = 0;
        for (size_t i = 0; i < n_cands; i++)
            if (cs[i].state == 3 && cx_chain_id_equal(&cs[i].c.contributor, &a)) {
                bad += cs[i].bad_rows;
                nb++;
            }
        json_array_append_new(contributors, json_pack("{s:s, s:I, s:I, s:i}", "address", ah, "rows",
                                                      (json_int_t)srows[k].rows, "bad_rows",
                                                      (json_int_t)bad, "blobs", (int)nb));
    }
    for (size_t i = 0; i < n_cands; i++)
        if (cs[i].state != 3)
            json_array_append_new(rejected, json_pack("{s:s, s:s, s:s}", "blob_id", cs[i].blob_id,
                                                      "contributor", cs[i].contributor, "reason",
                                                      cs[i].reason));
    json_object_set_new(report, "contributions", json_integer((json_int_t)n_cands));
    json_object_set_new(report, "accepted",
                        json_pack("{s:i, s:i, s:I, s:i}", "contributors", (int)n_rows, "blobs",
                                  (int)n_items, "rows", (json_int_t)total_rows, "features",
                                  (int)ds->d));
    json_object_set_new(report, "contributors", contributors);
    json_object_set_new(report, "rejected", rejected);
    json_object_set_new(report, "model",
                        json_pack("{s:s, s:s, s:i, s:I, s:I}", "task", cx_task_name(spec.task),
                                  "type", cx_model_kind_name(spec.model), "epochs_run",
                                  tr.epochs_run, "train_rows", (json_int_t)tr.train_rows,
                                  "validation_rows", (json_int_t)tr.val_rows));
    json_object_set(report, "metrics", json_object_get(extra, "metrics"));
    json_object_set_new(report, "privacy",
                        spec.privacy ? json_incref(json_object_get(extra, "privacy"))
                                     : json_null());
    json_object_set_new(report, "model_blob_id", json_string(out->model_blob_id));
    json_object_set_new(report, "result_hash", cx_job_hex_json(result_hash, 32));
    json_object_set_new(report, "config_hash", cx_job_hex_json(config_hash, 32));
    json_object_set_new(report, "dataset_commitment", cx_job_hex_json(commitment, 32));
    json_object_set_new(report, "code_measurement",
                        cx_job_hex_json(st.code_measurement, st.code_measurement_len));
    json_object_set_new(report, "gpu_evidence",
                        json_string(strcmp(dev.backend, "cuda") == 0
                                        ? "none: the simulated TEE collects no GPU evidence, the "
                                          "statement's gpu_evidence_hash is empty"
                                        : "none: CPU-only job, the statement's gpu_evidence_hash "
                                          "is empty"));
    json_object_set_new(report, "seconds",
                        json_pack("{s:f, s:b, s:f, s:f}", "decrypt_parse", t_dec,
                                  "reparsed_after_tamper", reparsed, "train", tr.seconds, "total",
                                  cx_now_seconds() - t0));
    out->report = report;
    report = NULL;
    rc = CX_OK;
out:
    if (rc != CX_OK && out->statement) {
        free(out->statement);
        out->statement = NULL;
    }
    json_decref(report);
    json_decref(data);
    json_decref(extra);
    cx_nitro_doc_free(&nd);
    free(doc);
    free(sealed.p);
    cx_secmem_free(model_bytes);
    cx_backend_destroy(be);
    cx_model_free(model);
    cx_dataset_free(ds);
    cx_parser_free(parser);
    cx_dataset_schema_free(schema);
    cx_x25519_key_free(key);
    free(cs);
    free(items);
    free(srows);
    free(contribs);
    free(req);
    if (spec_ok)
        cx_spec_free(&spec);
    (void)model_len;
    return rc;
}

/* ------------------------------------------------------------------ bundles -- */

cx_err cx_job_bundle_from_ledger(cx_ledger *l, cx_store *s, const cx_chain_id *job,
                                 cx_result_bundle *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    cx_ledger_result r;
    memset(&r, 0, sizeof r);
    cx_err rc = cx_ledger_result_get(l, job, &r, e);
    if (rc != CX_OK)
        return rc;
    cx_ledger_enclave en;
    rc = cx_ledger_enclave_get(l, &r.enclave_id, &en, e);
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    if (rc == CX_OK)
        rc = enclave_doc_read(s, &en, CX_BUNDLE_REPORT_MAX, &doc, &doc_len, e);
    if (rc == CX_OK) {
        out->statement = r.statement;
        out->statement_len = r.statement_len;
        r.statement = NULL;
        memcpy(out->signature, r.signature, 64);
        memcpy(out->public_key, en.ed25519_pk, 32);
        out->has_enclave_id = 1;
        memcpy(out->enclave_id, r.enclave_id.b, 32);
        out->tee_report = doc;
        out->tee_report_len = doc_len;
        doc = NULL;
    }
    free(doc);
    cx_ledger_result_free(&r);
    return rc;
}

/* ------------------------------------------------------------------- verify -- */

typedef struct vlog {
    json_t *checks;
} vlog;

static void vnote(vlog *v, const char *check, const char *status, const char *detail)
{
    if (v->checks)
        json_array_append_new(v->checks, json_pack("{s:s, s:s, s:s}", "check", check, "status",
                                                   status, "detail", detail ? detail : ""));
}

static cx_err vfail(vlog *v, cx_error *e, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static cx_err vfail(vlog *v, cx_error *e, const char *check, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vnote(v, check, "failed", msg);
    return cx_error_set(e, CX_ERR_VERIFY, "%s: %s", check, msg);
}

/* SHA-256 of a stored blob and of its chunk tags, streamed (no key needed). */
static cx_err blob_hashes(cx_store *s, const char *id, cx_cxb_header *h, uint8_t whole[32],
                          uint8_t tags[32], cx_error *e)
{
    cx_reader r;
    cx_err rc = cx_store_get(s, id, &r, e);
    if (rc != CX_OK)
        return rc;
    EVP_MD_CTX *mw = EVP_MD_CTX_new(), *mt = EVP_MD_CTX_new();
    uint8_t *buf = malloc(1 << 16);
    uint8_t hb[CX_CXB_MAX_HEADER_LEN];
    if (!mw || !mt || !buf || EVP_DigestInit_ex(mw, EVP_sha256(), NULL) != 1 ||
        EVP_DigestInit_ex(mt, EVP_sha256(), NULL) != 1) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "hashing blob %s", id);
        goto out;
    }
    if ((rc = cx_cxb_header_read(&r, hb, h, e)) != CX_OK)
        goto out;
    if (EVP_DigestUpdate(mw, hb, h->header_len) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 of blob %s", id);
        goto out;
    }
    for (uint64_t i = 0; i < h->chunk_count && rc == CX_OK; i++) {
        size_t left = cx_cxb_chunk_plain_len(h, i) + CX_CXB_TAG_LEN;
        uint8_t tag[CX_CXB_TAG_LEN];
        size_t tpos = 0;
        while (left && rc == CX_OK) {
            size_t want = left > (1u << 16) ? (1u << 16) : left, got = 0;
            rc = cx_reader_read_full(&r, buf, want, &got, e);
            if (rc == CX_OK && got != want)
                rc = cx_error_set(e, CX_ERR_FORMAT, "blob %s: truncated in chunk %llu", id,
                                  (unsigned long long)i);
            if (rc != CX_OK)
                break;
            if (EVP_DigestUpdate(mw, buf, got) != 1) {
                rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 of blob %s", id);
                break;
            }
            /* the tag is the chunk's last 16 bytes, possibly split across reads */
            size_t tail = left - got < CX_CXB_TAG_LEN ? CX_CXB_TAG_LEN - (left - got) : 0;
            if (tail) {
                size_t take = tail > got ? got : tail;
                memcpy(tag + tpos, buf + got - take, take);
                tpos += take;
            }
            left -= got;
        }
        if (rc == CX_OK && EVP_DigestUpdate(mt, tag, CX_CXB_TAG_LEN) != 1)
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 of blob %s tags", id);
    }
    if (rc == CX_OK) {
        size_t got = 0;
        rc = cx_reader_read_full(&r, buf, 1, &got, e);
        if (rc == CX_OK && got)
            rc = cx_error_set(e, CX_ERR_FORMAT, "blob %s: bytes after its last chunk", id);
    }
    unsigned int l1 = 0, l2 = 0;
    if (rc == CX_OK && (EVP_DigestFinal_ex(mw, whole, &l1) != 1 ||
                        EVP_DigestFinal_ex(mt, tags, &l2) != 1 || l1 != 32 || l2 != 32))
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256");
out:
    free(buf);
    EVP_MD_CTX_free(mw);
    EVP_MD_CTX_free(mt);
    if (r.close)
        r.close(r.ctx);
    return rc;
}

/* One registered contribution as an auditor sees it: ok when it passes the job's header
 * checks (check_headers: recipient, pool, contributor, no duplicate, training data). */
typedef struct vcand {
    char id[CX_STORE_ID_MAX];
    cx_cxb_header h;
    int ok, listed;
} vcand;

/* Recompute the dataset commitment as an auditor can: the pool's contributions registered
 * before the job that pass the job's header checks, are in the job's one data format (that
 * of the first such blob in blob id order, over all contributors) and whose contributor the
 * statement lists. */
static cx_err recompute_commitment(cx_ledger *l, cx_store *s, const cx_statement *st,
                                   const uint8_t x_pk[32], uint8_t out[32], size_t *n_blobs,
                                   cx_error *e)
{
    cx_chain_id job_id, pool_id;
    memcpy(job_id.b, st->job_id, 32);
    memcpy(pool_id.b, st->pool_id, 32);
    cx_ledger_job job;
    cx_err rc = cx_ledger_job_get(l, &job_id, &job, e);
    if (rc != CX_OK)
        return rc;
    cx_ledger_contribution *cs = NULL;
    size_t n = 0;
    if ((rc = cx_ledger_contributions_list(l, &pool_id, &cs, &n, e)) != CX_OK)
        return rc;
    cx_job_commit_item *items = calloc(n ? n : 1, sizeof *items);
    vcand *vc = calloc(n ? n : 1, sizeof *vc);
    if (!items || !vc) {
        free(items);
        free(vc);
        free(cs);
        return cx_error_set(e, CX_ERR_NOMEM, "verify: out of memory");
    }
    uint8_t key_id[32];
    rc = cx_x25519_public_key_id(x_pk, key_id, e);
    char pool_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&pool_id, pool_hex);
    for (size_t i = 0; i < n && rc == CX_OK; i++) {
        vcand *c = &vc[i];
        if (cs[i].created_ms > job.created_ms)
            continue;
        for (size_t k = 0; k < st->n_rows && !c->listed; k++)
            c->listed = memcmp(st->rows[k].contributor, cs[i].contributor.b, 32) == 0;
        char ch[CX_CHAIN_ID_HEX_LEN + 1];
        cx_error le;
        cx_reader r;
        if (cx_job_blob_id_str(cs[i].blob_id, cs[i].blob_id_len, c->id, &le) != CX_OK ||
            cx_store_get(s, c->id, &r, &le) != CX_OK)
            continue;
        uint8_t hb[CX_CXB_MAX_HEADER_LEN];
        cx_err hrc = cx_cxb_header_read(&r, hb, &c->h, &le);
        if (r.close)
            r.close(r.ctx);
        if (hrc != CX_OK)
            continue;
        cx_chain_id_to_hex(&cs[i].contributor, ch);
        if (memcmp(c->h.recipient_key_id, key_id, 32) != 0 || strcmp(c->h.pool_id, pool_hex) != 0 ||
            strcmp(c->h.contributor, ch) != 0)
            continue;
        int dup = 0;
        for (size_t k = 0; k < i && !dup; k++)
            dup = vc[k].ok && memcmp(vc[k].h.header_hash, c->h.header_hash, 32) == 0;
        if (dup)
            continue;
        c->ok = c->h.content_type == CX_CONTENT_CSV || c->h.content_type == CX_CONTENT_JSONL ||
                c->h.content_type == CX_CONTENT_F32;
    }
    const vcand *first = NULL;
    for (size_t i = 0; i < n; i++)
        if (vc[i].ok && (!first || blob_id_cmp(vc[i].id, first->id) < 0))
            first = &vc[i];
    size_t m = 0;
    for (size_t i = 0; i < n && rc == CX_OK; i++) {
        if (!vc[i].ok || !vc[i].listed || vc[i].h.content_type != first->h.content_type)
            continue;
        cx_cxb_header h;
        uint8_t whole[32], tags[32];
        cx_error le;
        if (blob_hashes(s, vc[i].id, &h, whole, tags, &le) != CX_OK)
            continue;
        snprintf(items[m].blob_id, sizeof items[m].blob_id, "%s", vc[i].id);
        memcpy(items[m].header_hash, h.header_hash, 32);
        memcpy(items[m].tag_hash, tags, 32);
        m++;
    }
    if (rc == CX_OK)
        rc = cx_job_dataset_commitment(items, m, out, e);
    *n_blobs = m;
    free(vc);
    free(items);
    free(cs);
    return rc;
}

cx_err cx_job_verify_bundle(const cx_result_bundle *b, const cx_job_verify_opts *o, json_t **checks,
                            cx_error *e)
{
    vlog v = {json_array()};
    cx_statement st;
    memset(&st, 0, sizeof st);
    cx_nitro_doc doc;
    memset(&doc, 0, sizeof doc);
    uint64_t ts = 0;
    char detail[400];
    cx_error le;
    cx_err rc;
    if (!v.checks)
        return cx_error_set(e, CX_ERR_NOMEM, "verify: out of memory");

    if (cx_statement_decode(b->statement, b->statement_len, &st, &ts, &le) != CX_OK) {
        rc = vfail(&v, e, "statement", "%s", le.msg);
        goto out;
    }
    char job_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id jid;
    memcpy(jid.b, st.job_id, 32);
    cx_chain_id_to_hex(&jid, job_hex);
    if (o->job && !cx_chain_id_equal(o->job, &jid)) {
        char want[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(o->job, want);
        rc = vfail(&v, e, "statement", "the statement is for job %s, not %s (replayed)", job_hex,
                   want);
        goto out;
    }
    snprintf(detail, sizeof detail, "job %s, %zu contributor(s), signed at %llu ms", job_hex,
             st.n_rows, (unsigned long long)ts);
    vnote(&v, "statement", "ok", detail);

    if (cx_statement_verify_ed25519(b->public_key, b->statement, b->statement_len, b->signature,
                                    &le) != CX_OK) {
        rc = vfail(&v, e, "signature",
                   "the statement's Ed25519 signature does not verify "
                   "under the bundle's enclave key (%s)",
                   le.msg);
        goto out;
    }
    vnote(&v, "signature", "ok", "Ed25519 over the intent message, by the enclave key");

    cx_nitro_policy pol = {.root_pem = o->root_pem,
                           .root_pem_len = o->root_pem_len,
                           .at_doc_time = 1,
                           .allow_simulated = o->allow_simulated};
    cx_nitro_check failed = CX_NITRO_CHECK_OK;
    if (cx_nitro_verify(b->tee_report, b->tee_report_len, &pol, &doc, &failed, &le) != CX_OK) {
        rc = vfail(&v, e, "report", "%s", le.msg);
        goto out;
    }
    snprintf(detail, sizeof detail, "%s document of %s verified (chain, ES384 signature)%s",
             doc.simulated ? "SIMULATED Nitro-format" : "Nitro", doc.module_id,
             doc.simulated ? "; accepted only because of --allow-simulated" : "");
    vnote(&v, "report", "ok", detail);

    if (!doc.has_public_key || doc.public_key_len != 32 ||
        memcmp(doc.public_key, b->public_key, 32) != 0) {
        rc = vfail(&v, e, "key_binding",
                   "the report's public_key is not the key that signed "
                   "the statement");
        goto out;
    }
    if (!doc.has_user_data || doc.user_data_len != CX_JOB_REG_USER_DATA_LEN ||
        cx_tee_x25519_endorsement_verify(b->public_key, doc.user_data, doc.user_data + 32, &le) !=
            CX_OK) {
        rc = vfail(&v, e, "key_binding",
                   "the report does not carry an endorsed X25519 "
                   "receiving key");
        goto out;
    }
    vnote(&v, "key_binding", "ok", "report public_key = signing key; X25519 key endorsed by it");

    if (!(doc.pcr_present & 1u) || doc.pcr_len[0] != st.code_measurement_len ||
        memcmp(doc.pcr[0], st.code_measurement, st.code_measurement_len) != 0) {
        rc = vfail(&v, e, "measurement",
                   "the statement's code measurement is not the report's "
                   "PCR0");
        goto out;
    }
    cx_ledger_pool pool;
    if (o->ledger) {
        cx_chain_id pid;
        memcpy(pid.b, st.pool_id, 32);
        if (cx_ledger_pool_get(o->ledger, &pid, &pool, &le) != CX_OK) {
            rc = vfail(&v, e, "measurement", "pool: %s", le.msg);
            goto out;
        }
        int ok = 0;
        for (size_t i = 0; i < pool.n_measurements && !ok; i++)
            ok = pool.measurement_lens[i] == st.code_measurement_len &&
                 memcmp(pool.measurements[i], st.code_measurement, st.code_measurement_len) == 0;
        if (!ok) {
            rc = vfail(&v, e, "measurement",
                       "the pool does not accept this enclave "
                       "measurement");
            goto out;
        }
        vnote(&v, "measurement", "ok", "statement = report PCR0, accepted by the pool");
    } else {
        vnote(&v, "measurement", "ok",
              "statement = report PCR0 (pool policy not checked: no "
              "ledger)");
    }

    if (o->ledger) {
        cx_ledger_result lr;
        memset(&lr, 0, sizeof lr);
        if (cx_ledger_result_get(o->ledger, &jid, &lr, &le) != CX_OK) {
            rc = vfail(&v, e, "ledger", "job %s has no accepted result: %s", job_hex, le.msg);
            goto out;
        }
        int same = lr.statement_len == b->statement_len &&
                   memcmp(lr.statement, b->statement, b->statement_len) == 0 &&
                   memcmp(lr.signature, b->signature, 64) == 0;
        int refunded = lr.refunded;
        cx_chain_id eid = lr.enclave_id;
        cx_ledger_result_free(&lr);
        if (!same) {
            rc = vfail(&v, e, "ledger",
                       "the ledger accepted a different statement for job %s "
                       "(this one is forged or replayed)",
                       job_hex);
            goto out;
        }
        /* the enclave is the one the ledger accepted the result from, whatever the bundle
         * says (its enclave_id is optional): a bundle naming another one is refused */
        char eid_hex[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(&eid, eid_hex);
        if (b->has_enclave_id && memcmp(b->enclave_id, eid.b, 32) != 0) {
            rc = vfail(&v, e, "ledger",
                       "the bundle names another enclave than the one the ledger accepted "
                       "the result from (%s)",
                       eid_hex);
            goto out;
        }
        cx_ledger_enclave en;
        uint8_t dh[32];
        SHA256(b->tee_report, b->tee_report_len, dh);
        if (cx_ledger_enclave_get(o->ledger, &eid, &en, &le) != CX_OK) {
            rc = vfail(&v, e, "ledger", "enclave %s: %s", eid_hex, le.msg);
            goto out;
        }
        if (memcmp(en.ed25519_pk, b->public_key, 32) != 0 ||
            memcmp(en.x25519_pk, doc.user_data, 32) != 0 ||
            memcmp(en.attestation_hash, dh, 32) != 0) {
            rc = vfail(&v, e, "ledger",
                       "the registered enclave's keys or attestation "
                       "document differ from the bundle's");
            goto out;
        }
        vnote(&v, "ledger", "ok",
              refunded ? "the ledger's accepted result (buyer refunded: k "
                         "not reached), from the bundle's registered enclave"
                       : "the ledger's accepted result (payment released), from the bundle's "
                         "registered enclave");
    } else {
        vnote(&v, "ledger", "skipped", "no --ledger");
    }

    if (o->store) {
        char rid[CX_STORE_ID_MAX];
        cx_cxb_header h;
        uint8_t whole[32], tags[32];
        if (cx_job_blob_id_str(st.result_blob_id, st.result_blob_id_len, rid, &le) != CX_OK ||
            blob_hashes(o->store, rid, &h, whole, tags, &le) != CX_OK) {
            rc = vfail(&v, e, "result_hash", "the result blob: %s", le.msg);
            goto out;
        }
        if (memcmp(whole, st.result_hash, 32) != 0) {
            rc = vfail(&v, e, "result_hash",
                       "the stored model blob %s does not hash to the "
                       "statement's result hash",
                       rid);
            goto out;
        }
        if (h.content_type != CX_CONTENT_MODEL || strcmp(h.contributor, job_hex) != 0) {
            rc = vfail(&v, e, "result_hash", "blob %s is not this job's sealed model", rid);
            goto out;
        }
        vnote(&v, "result_hash", "ok", "SHA-256 of the stored sealed model = result_hash");
    } else {
        vnote(&v, "result_hash", "skipped", "no --store");
    }

    if (o->store && o->ledger) { /* the enclave's keys were checked against the ledger above */
        uint8_t c[32];
        size_t nb = 0;
        if (recompute_commitment(o->ledger, o->store, &st, doc.user_data, c, &nb, &le) != CX_OK) {
            rc = vfail(&v, e, "dataset_commitment", "%s", le.msg);
            goto out;
        }
        if (memcmp(c, st.dataset_commitment, 32) != 0) {
            rc = vfail(&v, e, "dataset_commitment",
                       "recomputed over %zu blob(s) it differs "
                       "from the statement's",
                       nb);
            goto out;
        }
        snprintf(detail, sizeof detail, "recomputed over %zu blob(s): equal", nb);
        vnote(&v, "dataset_commitment", "ok", detail);
    } else {
        vnote(&v, "dataset_commitment", "skipped", "needs --ledger and --store");
    }
    rc = CX_OK;
out:
    cx_statement_free(&st);
    cx_nitro_doc_free(&doc);
    if (checks)
        *checks = v.checks;
    else
        json_decref(v.checks);
    return rc;
}

cx_err cx_job_enclave_check(cx_store *s, const cx_ledger_enclave *en, const cx_ledger_pool *pool,
                            const cx_nitro_policy *pol, cx_error *e)
{
    uint8_t *doc = NULL;
    size_t len = 0;
    cx_err rc = enclave_doc_read(s, en, CX_NITRO_DOC_MAX, &doc, &len, e);
    if (rc != CX_OK)
        return rc;
    cx_nitro_doc d;
    memset(&d, 0, sizeof d);
    cx_nitro_check failed;
    if ((rc = cx_nitro_verify(doc, len, pol, &d, &failed, e)) != CX_OK) {
        cx_error_prefix(e, "enclave attestation: ");
        goto out;
    }
    if (!d.has_public_key || d.public_key_len != 32 ||
        memcmp(d.public_key, en->ed25519_pk, 32) != 0 || !d.has_user_data ||
        d.user_data_len != CX_JOB_REG_USER_DATA_LEN ||
        memcmp(d.user_data, en->x25519_pk, 32) != 0 ||
        cx_tee_x25519_endorsement_verify(en->ed25519_pk, en->x25519_pk, d.user_data + 32, e) !=
            CX_OK) {
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "key binding: the attested keys are not the "
                          "registered ones");
        goto out;
    }
    if (!(d.pcr_present & 1u) || d.pcr_len[0] != en->measurement_len ||
        memcmp(d.pcr[0], en->measurement, en->measurement_len) != 0) {
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "measurement: the document's PCR0 is not the "
                          "registered measurement");
        goto out;
    }
    int ok = 0;
    for (size_t i = 0; pool && i < pool->n_measurements && !ok; i++)
        ok = pool->measurement_lens[i] == en->measurement_len &&
             memcmp(pool->measurements[i], en->measurement, en->measurement_len) == 0;
    if (pool && !ok)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "measurement: the pool does not accept this "
                          "enclave's measurement");
out:
    cx_nitro_doc_free(&d);
    free(doc);
    return rc;
}

/* ------------------------------------------------------ enclave registration -- */

cx_err cx_job_enclave_register(cx_ledger *l, cx_store *s, cx_tee *tee, const cx_chain_key *signer,
                               const char *root_pem, size_t root_len, int allow_simulated,
                               const cx_chain_id *pool, const char *state_dir,
                               cx_job_registration *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    uint8_t ud[CX_JOB_REG_USER_DATA_LEN], *doc = NULL;
    size_t doc_len = 0;
    cx_nitro_doc nd;
    memset(&nd, 0, sizeof nd);
    cx_ledger_enclave *en = &out->enclave;
    cx_tee_public_keys(tee, en->ed25519_pk, en->x25519_pk);
    memcpy(ud, en->x25519_pk, 32);
    cx_err rc = cx_tee_x25519_endorse(tee, ud + 32, e);
    if (rc == CX_OK)
        rc = cx_tee_attest(tee, ud, sizeof ud, NULL, 0, &doc, &doc_len, e);
    if (rc != CX_OK)
        return rc;
    /* verify our own document as anyone else will: the ledger records only what passed */
    cx_nitro_policy pol = {
        .root_pem = root_pem, .root_pem_len = root_len, .allow_simulated = allow_simulated};
    cx_nitro_check failed;
    if ((rc = cx_nitro_verify(doc, doc_len, &pol, &nd, &failed, e)) != CX_OK) {
        cx_error_prefix(e, "attestation refused: ");
        goto out;
    }
    if (!nd.has_public_key || nd.public_key_len != 32 ||
        memcmp(nd.public_key, en->ed25519_pk, 32) != 0 || !(nd.pcr_present & 1u)) {
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "attestation refused: the document does not attest "
                          "this enclave's key and PCR0");
        goto out;
    }
    en->measurement_len = nd.pcr_len[0];
    memcpy(en->measurement, nd.pcr[0], nd.pcr_len[0]);
    SHA256(doc, doc_len, en->attestation_hash);
    if (pool) {
        cx_ledger_pool p;
        if ((rc = cx_ledger_pool_get(l, pool, &p, e)) != CX_OK)
            goto out;
        int ok = 0;
        for (size_t i = 0; i < p.n_measurements && !ok; i++)
            ok = p.measurement_lens[i] == en->measurement_len &&
                 memcmp(p.measurements[i], en->measurement, en->measurement_len) == 0;
        if (!ok) {
            char ph[CX_CHAIN_ID_HEX_LEN + 1];
            cx_chain_id_to_hex(pool, ph);
            rc = cx_error_set(e, CX_ERR_VERIFY,
                              "measurement refused: pool %s does not accept "
                              "this enclave's PCR0",
                              ph);
            goto out;
        }
    }
    /* whatever id the store gives (local:DIR: base64url(SHA-256), Walrus: its blob id) goes
     * on the ledger beside the hash, so anybody can fetch the document and check it */
    if ((rc = cx_job_store_put_bytes(s, doc, doc_len, out->doc_blob_id, e)) != CX_OK) {
        cx_error_prefix(e, "storing the attestation document: ");
        goto out;
    }
    en->attestation_blob_id_len = strlen(out->doc_blob_id);
    memcpy(en->attestation_blob_id, out->doc_blob_id, en->attestation_blob_id_len);
    if ((rc = cx_ledger_enclave_register(l, signer, en, &out->id, e)) != CX_OK)
        goto out;
    en->id = out->id;
    if (state_dir)
        rc = cx_job_enclave_state_save(state_dir, &out->id, e);
out:
    cx_nitro_doc_free(&nd);
    free(doc);
    return rc;
}

/* ------------------------------------------------------------ model unseal -- */

/* Decrypt a whole sealed blob held in memory into secure memory. */
cx_err cx_job_model_unseal(const uint8_t *blob, size_t len, const cx_x25519_key *k,
                           const char *job_hex, uint8_t **out, size_t *out_len, cx_error *e)
{
    cx_cxb_header h;
    cx_err rc = cx_cxb_header_parse(blob, len, &h, NULL, e);
    if (rc != CX_OK)
        return rc;
    if (h.blob_len != len)
        return cx_error_set(e, CX_ERR_FORMAT, "model blob: %zu bytes, its header says %llu", len,
                            (unsigned long long)h.blob_len);
    if (h.content_type != CX_CONTENT_MODEL || strcmp(h.contributor, job_hex) != 0)
        return cx_error_set(e, CX_ERR_VERIFY, "the result blob is not this job's sealed model");
    if (h.plaintext_len > (1ull << 32))
        return cx_error_set(e, CX_ERR_LIMIT, "model larger than 4 GiB");
    cx_cxb_ctx *c = NULL;
    cx_cxb_worker *w = NULL;
    uint8_t *pt = cx_secmem_alloc(h.plaintext_len ? (size_t)h.plaintext_len : 1, 0, e);
    if (!pt)
        return e ? e->code : CX_ERR_NOMEM;
    if ((rc = cx_cxb_open(blob, h.header_len, k, &c, e)) == CX_OK &&
        (rc = cx_cxb_worker_new(&w, e)) == CX_OK) {
        size_t pos = 0;
        for (uint64_t i = 0; i < h.chunk_count && rc == CX_OK; i++) {
            size_t pl = cx_cxb_chunk_plain_len(&h, i);
            rc = cx_cxb_chunk_decrypt(c, w, i, blob + cx_cxb_chunk_offset(&h, i),
                                      pl + CX_CXB_TAG_LEN, pt + pos, NULL, NULL, e);
            pos += pl;
        }
    }
    cx_cxb_worker_free(w);
    cx_cxb_ctx_free(c);
    if (rc != CX_OK) {
        cx_secmem_free(pt);
        return rc;
    }
    *out = pt;
    *out_len = (size_t)h.plaintext_len;
    return CX_OK;
}
