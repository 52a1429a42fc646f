/* job.c — the marketplace glue around a job: blob ids and store helpers, the binary's own
 * measurement, job requests, test hooks, the dataset commitment and the buyer's model unseal. */
#include "cx_engine.h"
#include "job_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
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

cx_err cx_job_spec_check(const cx_spec *spec, json_t **data_out, cx_dataset_schema **schema_out,
                         cx_error *e)
{
    if (spec->task == CX_TASK_STATS || !spec->data || !json_object_get(spec->data, "label"))
        return cx_error_set(e, CX_ERR_FORMAT,
                            "job spec: a job trains a model: it needs a training task and "
                            "\"data.label\"");
    json_t *data = json_deep_copy(spec->data);
    if (!data)
        return cx_error_set(e, CX_ERR_NOMEM, "job spec: out of memory");
    if (!json_object_get(data, "label_type"))
        json_object_set_new(data, "label_type",
                            json_string(spec->task == CX_TASK_REGRESSION ? "numeric" : "class"));
    cx_dataset_schema *schema = NULL;
    cx_err rc = cx_dataset_schema_from_json(data, &schema, e);
    if (rc == CX_OK)
        rc = cx_dataset_schema_require_declared(schema, e);
    /* under DP nothing about the data leaves outside the accounted mechanism (RULES.md §9) */
    if (rc == CX_OK && spec->privacy)
        rc = cx_dataset_schema_require_stats(schema, spec->dp_standardize, e);
    if (rc != CX_OK) {
        cx_dataset_schema_free(schema);
        json_decref(data);
        return cx_error_wrap(rc, e, "job spec: ");
    }
    if (data_out)
        *data_out = data;
    else
        json_decref(data);
    if (schema_out)
        *schema_out = schema;
    else
        cx_dataset_schema_free(schema);
    return CX_OK;
}

/* ------------------------------------------------------------ pool policy -- */

cx_err cx_job_policy_check(const cx_spec *spec, const cx_dataset_schema *schema,
                           const cx_ledger_pool_policy *pol, cx_error *e)
{
    if (pol->require_dp && !spec->privacy)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "pool policy: the pool requires differential privacy: the spec needs "
                            "\"privacy\"");
    int is_label = 0;
    const char *c;
    for (size_t i = 0; (c = cx_dataset_schema_used_column(schema, i, &is_label)) != NULL; i++)
        if (cx_ledger_policy_forbids(pol, c))
            return cx_error_set(e, CX_ERR_FORMAT,
                                "pool policy: column '%s' may not be %s (the pool forbids it)", c,
                                is_label ? "the label" : "a feature");
    /* what the spec alone fixes (the enclave checks it again, and the rest on the data) */
    cx_compute_budget b;
    cx_job_budget_for_pool(NULL, pol, &b);
    cx_compute_cost cost;
    cx_spec_cost(spec, 1, 2, 0, &cost);
    cx_err rc = cx_compute_budget_check(&b, &cost, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "pool policy: ");
    double fixed = spec->privacy && spec->dp_standardize ? spec->standardize_epsilon : 0.0;
    if (pol->max_epsilon_micro && fixed * 1e6 > (double)pol->max_epsilon_micro)
        return cx_error_set(e, CX_ERR_LIMIT,
                            "pool policy: \"privacy.standardize_epsilon\" %g is over the "
                            "pool's epsilon cap %g",
                            fixed, (double)pol->max_epsilon_micro / 1e6);
    return CX_OK;
}

static uint64_t min_limit(uint64_t a, uint64_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return a < b ? a : b;
}

void cx_job_budget_for_pool(const cx_compute_budget *operator_budget,
                            const cx_ledger_pool_policy *pol, cx_compute_budget *out)
{
    cx_compute_budget op = {0};
    if (operator_budget)
        op = *operator_budget;
    out->max_params = min_limit(op.max_params, pol->max_params);
    uint64_t ep = min_limit(op.max_epochs > 0 ? (uint64_t)op.max_epochs : 0, pol->max_epochs);
    out->max_epochs = ep > INT_MAX ? INT_MAX : (int)ep;
    /* flops: doubles on the worker, whole numbers on the ledger */
    double pf = (double)pol->max_flops;
    out->max_flops = !(op.max_flops > 0) ? pf : !pf ? op.max_flops : fmin(op.max_flops, pf);
}

cx_err cx_job_epsilon_check(const cx_spec *spec, size_t rows, const cx_ledger_pool_policy *pol,
                            double *planned, cx_error *e)
{
    if (planned)
        *planned = 0.0;
    if (!spec->privacy)
        return CX_OK;
    double q, eps = 0.0;
    uint64_t steps;
    cx_spec_dp_plan(spec, rows, &q, &steps);
    cx_err rc = cx_privacy_epsilon(spec->noise_multiplier, q, steps, spec->delta, NULL, 0, &eps,
                                   NULL, e);
    if (rc != CX_OK)
        return rc;
    if (spec->dp_standardize)
        eps += spec->standardize_epsilon;
    if (planned)
        *planned = eps;
    if (pol->max_epsilon_micro && !(eps * 1e6 <= (double)pol->max_epsilon_micro))
        return cx_error_set(e, CX_ERR_LIMIT,
                            "pool policy: \"privacy\" spends epsilon %.4g on this job's data, "
                            "over the pool's cap %g (raise privacy.noise_multiplier or lower "
                            "the epochs)",
                            eps, (double)pol->max_epsilon_micro / 1e6);
    return CX_OK;
}

cx_err cx_job_spec_content_type(cx_store *s, const cx_ledger_job *job, cx_content_type *ct,
                                cx_error *e)
{
    char spec_id[CX_STORE_ID_MAX];
    uint8_t *req = NULL, h[32], bx[32];
    size_t len = 0;
    cx_err rc = cx_job_blob_id_str(job->spec_blob_id, job->spec_blob_id_len, spec_id, e);
    if (rc == CX_OK)
        rc = cx_job_store_read_all(s, spec_id, 1 << 20, &req, &len, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "job request: ");
    SHA256(req, len, h);
    if (memcmp(h, job->spec_hash, 32) != 0) {
        free(req);
        return cx_error_set(e, CX_ERR_VERIFY, "job request: its SHA-256 is not the job's spec hash");
    }
    cx_spec spec;
    rc = cx_job_request_parse(req, len, &spec, bx, e);
    free(req);
    if (rc != CX_OK)
        return rc;
    cx_dataset_schema *schema = NULL;
    rc = cx_job_spec_check(&spec, NULL, &schema, e);
    cx_spec_free(&spec);
    if (rc != CX_OK)
        return rc;
    cx_data_format f = CX_DATA_CSV;
    cx_dataset_schema_format(schema, &f);
    cx_dataset_schema_free(schema);
    *ct = f == CX_DATA_JSONL ? CX_CONTENT_JSONL : f == CX_DATA_F32 ? CX_CONTENT_F32 : CX_CONTENT_CSV;
    return CX_OK;
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
    char what[48]; /* the pid: which process to kill when several (ranks) run */
    int n = snprintf(what, sizeof what, "paused %ld\n", (long)getpid());
    if (cx_file_write_atomic(path, what, (size_t)n, 0600, &e) != CX_OK)
        cx_log_error(log, "test hook: %s", e.msg);
    for (;;)
        pause();
}

/* ------------------------------------------------------- dataset commitment -- */

int cx_job_blob_id_cmp(const char *x, const char *y)
{
    size_t lx = strlen(x), ly = strlen(y);
    int c = memcmp(x, y, lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

static int commit_cmp(const void *a, const void *b)
{
    const cx_job_commit_item *x = a, *y = b;
    return cx_job_blob_id_cmp(x->blob_id, y->blob_id);
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

/* ------------------------------------------------------------ model unseal -- */

/* Decrypt a whole sealed blob held in memory into secure memory. */
cx_err cx_job_model_unseal(const uint8_t *blob, size_t len, const cx_cxb_keys *keys,
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
    if ((rc = cx_cxb_open_keys(blob, h.header_len, keys, &c, e)) == CX_OK &&
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
