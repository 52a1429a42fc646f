/* statement.c — the signed result statement: BCS encoding and strict decoding (layout of
 * chain/RULES.md §4) inside Nautilus's intent message, Ed25519, and the result bundle JSON. */
#include "cx_attest.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* --------------------------------------------------------- a small BCS -- */
/* attestation may not include chain's header, so it carries the few BCS primitives the
 * statement needs; test_attestation_statement_interop checks both codecs agree. */

typedef struct sbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const void *src, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u8(sbuf *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put_u64(sbuf *b, uint64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    put(b, le, 8);
}

static void put_uleb(sbuf *b, uint64_t v)
{
    do {
        uint8_t x = (uint8_t)(v & 0x7f);
        v >>= 7;
        put_u8(b, (uint8_t)(x | (v ? 0x80 : 0)));
    } while (v);
}

static void put_vec(sbuf *b, const uint8_t *p, size_t n)
{
    put_uleb(b, n);
    put(b, p, n);
}

typedef struct rd {
    const uint8_t *p;
    size_t len, off;
} rd;

static cx_err rd_short(const rd *r, cx_error *e)
{
    return cx_error_set(e, CX_ERR_FORMAT, "statement: truncated at offset %zu", r->off);
}

static cx_err get_u8(rd *r, uint8_t *v, cx_error *e)
{
    if (r->len - r->off < 1)
        return rd_short(r, e);
    *v = r->p[r->off++];
    return CX_OK;
}

static cx_err get_u64(rd *r, uint64_t *v, cx_error *e)
{
    if (r->len - r->off < 8)
        return rd_short(r, e);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 8;
    *v = x;
    return CX_OK;
}

static cx_err get_uleb(rd *r, uint64_t *v, cx_error *e)
{
    uint64_t x = 0;
    size_t at = r->off;
    for (unsigned shift = 0; shift < 35; shift += 7) {
        uint8_t b = 0;
        cx_err rc = get_u8(r, &b, e);
        if (rc != CX_OK)
            return rc;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if ((b == 0 && shift > 0) || x > 0x7fffffffu)
                return cx_error_set(e, CX_ERR_FORMAT, "statement: bad ULEB128 at offset %zu", at);
            *v = x;
            return CX_OK;
        }
    }
    return cx_error_set(e, CX_ERR_FORMAT, "statement: ULEB128 too long at offset %zu", at);
}

static cx_err get_fixed(rd *r, uint8_t *out, size_t n, cx_error *e)
{
    if (r->len - r->off < n)
        return rd_short(r, e);
    memcpy(out, r->p + r->off, n);
    r->off += n;
    return CX_OK;
}

static cx_err get_vec(rd *r, const char *field, size_t min, size_t max, uint8_t *out, size_t *n,
                      cx_error *e)
{
    uint64_t len;
    cx_err rc = get_uleb(r, &len, e);
    if (rc != CX_OK)
        return rc;
    if (len < min || len > max)
        return cx_error_set(e, CX_ERR_FORMAT, "statement %s: %llu bytes, allowed %zu..%zu", field,
                            (unsigned long long)len, min, max);
    if ((rc = get_fixed(r, out, (size_t)len, e)) != CX_OK)
        return rc;
    *n = (size_t)len;
    return CX_OK;
}

/* ------------------------------------------------------------ encoding -- */

cx_err cx_intent_message_encode(uint8_t intent, uint64_t timestamp_ms, const uint8_t *payload,
                                size_t payload_len, uint8_t **out, size_t *out_len, cx_error *e)
{
    sbuf b = {0};
    put_u8(&b, intent);
    put_u64(&b, timestamp_ms);
    put(&b, payload, payload_len);
    if (b.oom || !b.p) {
        free(b.p);
        return cx_error_set(e, CX_ERR_NOMEM, "intent message: out of memory");
    }
    *out = b.p;
    *out_len = b.len;
    return CX_OK;
}

static int rows_cmp(const void *a, const void *b)
{
    return memcmp(((const cx_statement_rows *)a)->contributor,
                  ((const cx_statement_rows *)b)->contributor, CX_STATEMENT_ID_LEN);
}

/* n is the byte count on the wire (decode) or strnlen (encode): an embedded NUL is refused */
static cx_err metric_name_check(const char *name, size_t n, size_t i, cx_err code, cx_error *e)
{
    if (n == 0 || n > CX_STATEMENT_METRIC_NAME_MAX)
        return cx_error_set(e, code, "statement metric %zu: name must be 1..%d bytes", i,
                            CX_STATEMENT_METRIC_NAME_MAX);
    for (size_t j = 0; j < n; j++)
        if (name[j] < 0x21 || name[j] > 0x7e)
            return cx_error_set(e, code, "statement metric %zu: name not printable ASCII", i);
    return CX_OK;
}

cx_err cx_statement_encode(const cx_statement *s, uint64_t timestamp_ms, uint8_t **out,
                           size_t *out_len, cx_error *e)
{
    *out = NULL;
    *out_len = 0;
    if (s->code_measurement_len < 1 || s->code_measurement_len > CX_STATEMENT_MEASUREMENT_MAX)
        return cx_error_set(e, CX_ERR_ARG, "statement: code measurement must be 1..%d bytes",
                            CX_STATEMENT_MEASUREMENT_MAX);
    if (s->result_blob_id_len < 1 || s->result_blob_id_len > CX_STATEMENT_BLOB_ID_MAX)
        return cx_error_set(e, CX_ERR_ARG, "statement: result blob id must be 1..%d bytes",
                            CX_STATEMENT_BLOB_ID_MAX);
    if (s->gpu_evidence_hash_len > CX_STATEMENT_GPU_HASH_MAX)
        return cx_error_set(e, CX_ERR_ARG, "statement: GPU evidence hash over %d bytes",
                            CX_STATEMENT_GPU_HASH_MAX);
    if (s->n_rows > CX_STATEMENT_MAX_CONTRIBUTORS || (s->n_rows && !s->rows))
        return cx_error_set(e, CX_ERR_ARG, "statement: 0..%d contributors",
                            CX_STATEMENT_MAX_CONTRIBUTORS);
    if (s->n_metrics > CX_STATEMENT_MAX_METRICS || (s->n_metrics && !s->metrics))
        return cx_error_set(e, CX_ERR_ARG, "statement: 0..%d metrics", CX_STATEMENT_MAX_METRICS);
    for (size_t i = 0; i < s->n_metrics; i++) {
        cx_err rc = metric_name_check(s->metrics[i].name,
                                      strnlen(s->metrics[i].name, CX_STATEMENT_METRIC_NAME_MAX + 1),
                                      i, CX_ERR_ARG, e);
        if (rc != CX_OK)
            return rc;
    }
    /* the wire order is ascending by address (one canonical encoding per statement) */
    cx_statement_rows *rows = NULL;
    if (s->n_rows) {
        rows = malloc(s->n_rows * sizeof *rows);
        if (!rows)
            return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
        memcpy(rows, s->rows, s->n_rows * sizeof *rows);
        qsort(rows, s->n_rows, sizeof *rows, rows_cmp);
        for (size_t i = 1; i < s->n_rows; i++)
            if (rows_cmp(&rows[i - 1], &rows[i]) == 0) {
                free(rows);
                return cx_error_set(e, CX_ERR_ARG, "statement: contributor listed twice");
            }
    }
    sbuf b = {0};
    put_u8(&b, CX_STATEMENT_INTENT);
    put_u64(&b, timestamp_ms);
    put_u8(&b, CX_STATEMENT_VERSION);
    put(&b, s->job_id, CX_STATEMENT_ID_LEN);
    put(&b, s->pool_id, CX_STATEMENT_ID_LEN);
    put_vec(&b, s->code_measurement, s->code_measurement_len);
    put_vec(&b, s->config_hash, CX_STATEMENT_HASH_LEN);
    put_vec(&b, s->dataset_commitment, CX_STATEMENT_HASH_LEN);
    put_vec(&b, s->result_blob_id, s->result_blob_id_len);
    put_vec(&b, s->result_hash, CX_STATEMENT_HASH_LEN);
    put_vec(&b, s->gpu_evidence_hash, s->gpu_evidence_hash_len);
    put_uleb(&b, s->n_rows);
    for (size_t i = 0; i < s->n_rows; i++) {
        put(&b, rows[i].contributor, CX_STATEMENT_ID_LEN);
        put_u64(&b, rows[i].rows);
    }
    put_uleb(&b, s->n_metrics);
    for (size_t i = 0; i < s->n_metrics; i++) {
        put_vec(&b, (const uint8_t *)s->metrics[i].name, strlen(s->metrics[i].name));
        put_u64(&b, s->metrics[i].value_micro);
    }
    put_u64(&b, s->dp_epsilon_micro);
    put_u64(&b, s->dp_delta_1e12);
    free(rows);
    if (b.oom) {
        free(b.p);
        return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
    }
    *out = b.p;
    *out_len = b.len;
    return CX_OK;
}

/* ------------------------------------------------------------ decoding -- */

static cx_err decode_body(rd *r, cx_statement *s, uint64_t *ts, cx_error *e)
{
    uint8_t intent = 0, version = 0;
    cx_err rc;
    size_t n;
    if ((rc = get_u8(r, &intent, e)) != CX_OK || (rc = get_u64(r, ts, e)) != CX_OK ||
        (rc = get_u8(r, &version, e)) != CX_OK)
        return rc;
    if (intent != CX_STATEMENT_INTENT)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: intent scope %u is not %d", intent,
                            CX_STATEMENT_INTENT);
    if (version != CX_STATEMENT_VERSION)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: version %u is not %d", version,
                            CX_STATEMENT_VERSION);
    if ((rc = get_fixed(r, s->job_id, CX_STATEMENT_ID_LEN, e)) != CX_OK ||
        (rc = get_fixed(r, s->pool_id, CX_STATEMENT_ID_LEN, e)) != CX_OK ||
        (rc = get_vec(r, "code_measurement", 1, CX_STATEMENT_MEASUREMENT_MAX, s->code_measurement,
                      &s->code_measurement_len, e)) != CX_OK ||
        (rc = get_vec(r, "config_hash", 32, 32, s->config_hash, &n, e)) != CX_OK ||
        (rc = get_vec(r, "dataset_commitment", 32, 32, s->dataset_commitment, &n, e)) != CX_OK ||
        (rc = get_vec(r, "result_blob_id", 1, CX_STATEMENT_BLOB_ID_MAX, s->result_blob_id,
                      &s->result_blob_id_len, e)) != CX_OK ||
        (rc = get_vec(r, "result_hash", 32, 32, s->result_hash, &n, e)) != CX_OK ||
        (rc = get_vec(r, "gpu_evidence_hash", 0, CX_STATEMENT_GPU_HASH_MAX, s->gpu_evidence_hash,
                      &s->gpu_evidence_hash_len, e)) != CX_OK)
        return rc;
    uint64_t cnt;
    if ((rc = get_uleb(r, &cnt, e)) != CX_OK)
        return rc;
    if (cnt > CX_STATEMENT_MAX_CONTRIBUTORS || cnt > (r->len - r->off) / 40)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: %llu contributors not possible here",
                            (unsigned long long)cnt);
    if (cnt) {
        s->rows = calloc((size_t)cnt, sizeof *s->rows);
        if (!s->rows)
            return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
    }
    for (size_t i = 0; i < (size_t)cnt; i++) {
        if ((rc = get_fixed(r, s->rows[i].contributor, CX_STATEMENT_ID_LEN, e)) != CX_OK ||
            (rc = get_u64(r, &s->rows[i].rows, e)) != CX_OK)
            return rc;
        s->n_rows = i + 1;
        if (i > 0 && rows_cmp(&s->rows[i - 1], &s->rows[i]) >= 0)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "statement: contributors not strictly ascending at %zu", i);
    }
    if ((rc = get_uleb(r, &cnt, e)) != CX_OK)
        return rc;
    if (cnt > CX_STATEMENT_MAX_METRICS)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: %llu metrics exceed %d",
                            (unsigned long long)cnt, CX_STATEMENT_MAX_METRICS);
    if (cnt) {
        s->metrics = calloc((size_t)cnt, sizeof *s->metrics);
        if (!s->metrics)
            return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
    }
    for (size_t i = 0; i < (size_t)cnt; i++) {
        size_t nl;
        if ((rc = get_vec(r, "metric name", 1, CX_STATEMENT_METRIC_NAME_MAX,
                          (uint8_t *)s->metrics[i].name, &nl, e)) != CX_OK ||
            (rc = get_u64(r, &s->metrics[i].value_micro, e)) != CX_OK)
            return rc;
        s->metrics[i].name[nl] = '\0';
        s->n_metrics = i + 1;
        if ((rc = metric_name_check(s->metrics[i].name, nl, i, CX_ERR_FORMAT, e)) != CX_OK)
            return rc;
    }
    if ((rc = get_u64(r, &s->dp_epsilon_micro, e)) != CX_OK ||
        (rc = get_u64(r, &s->dp_delta_1e12, e)) != CX_OK)
        return rc;
    if (r->off != r->len)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: %zu trailing bytes", r->len - r->off);
    return CX_OK;
}

cx_err cx_statement_decode(const uint8_t *msg, size_t len, cx_statement *out,
                           uint64_t *timestamp_ms, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if (!msg)
        return cx_error_set(e, CX_ERR_ARG, "statement: no bytes");
    rd r = {msg, len, 0};
    uint64_t ts = 0;
    cx_err rc = decode_body(&r, out, &ts, e);
    if (rc != CX_OK) {
        cx_statement_free(out);
        return rc;
    }
    if (timestamp_ms)
        *timestamp_ms = ts;
    return CX_OK;
}

void cx_statement_free(cx_statement *s)
{
    if (!s)
        return;
    free(s->rows);
    free(s->metrics);
    s->rows = NULL;
    s->metrics = NULL;
    s->n_rows = s->n_metrics = 0;
}

/* ------------------------------------------------------------- Ed25519 -- */

cx_err cx_statement_sign_ed25519(const uint8_t seed[32], const uint8_t *msg, size_t len,
                                 uint8_t sig[CX_STATEMENT_ED25519_SIG_LEN], cx_error *e)
{
    EVP_PKEY *p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t sl = CX_STATEMENT_ED25519_SIG_LEN;
    cx_err rc = CX_OK;
    if (!p || !c || EVP_DigestSignInit(c, NULL, NULL, NULL, p) != 1 ||
        EVP_DigestSign(c, sig, &sl, msg, len) != 1 || sl != CX_STATEMENT_ED25519_SIG_LEN)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "statement: Ed25519 signing failed");
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(p);
    return rc;
}

cx_err cx_statement_verify_ed25519(const uint8_t pk[CX_STATEMENT_ED25519_PK_LEN],
                                   const uint8_t *msg, size_t len,
                                   const uint8_t sig[CX_STATEMENT_ED25519_SIG_LEN], cx_error *e)
{
    EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
    if (!p)
        return cx_error_openssl(e, CX_ERR_AUTH, "statement: invalid Ed25519 public key");
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    cx_err rc = CX_OK;
    if (!c || EVP_DigestVerifyInit(c, NULL, NULL, NULL, p) != 1)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "statement: verify init failed");
    else if (EVP_DigestVerify(c, sig, CX_STATEMENT_ED25519_SIG_LEN, msg, len) != 1)
        rc = cx_error_openssl(e, CX_ERR_AUTH, "statement: signature does not verify");
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(p);
    return rc;
}

/* -------------------------------------------------------------- bundle -- */

#define CX_BUNDLE_FORMAT "cloakx-result-bundle/1"

/* takes ownership of v (NULL = an allocation already failed) */
static int put_str(json_t *o, const char *k, char *v)
{
    int rc = v ? json_object_set_new(o, k, json_string(v)) : -1;
    free(v);
    return rc;
}

cx_err cx_result_bundle_to_json(const cx_result_bundle *b, char **out, cx_error *e)
{
    *out = NULL;
    if (!b->statement || !b->statement_len || !b->tee_report || !b->tee_report_len)
        return cx_error_set(e, CX_ERR_ARG, "bundle: statement and TEE report are required");
    json_t *o = json_object();
    if (!o)
        return cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
    int bad = json_object_set_new(o, "format", json_string(CX_BUNDLE_FORMAT)) != 0;
    bad |= put_str(o, "statement", cx_hex_dup(b->statement, b->statement_len)) != 0;
    bad |= put_str(o, "signature", cx_hex_dup(b->signature, sizeof b->signature)) != 0;
    bad |= put_str(o, "public_key", cx_hex_dup(b->public_key, sizeof b->public_key)) != 0;
    if (b->has_enclave_id) {
        char *h = cx_hex_dup(b->enclave_id, sizeof b->enclave_id);
        char *x = h ? malloc(strlen(h) + 3) : NULL;
        if (x)
            sprintf(x, "0x%s", h);
        free(h);
        bad |= put_str(o, "enclave_id", x) != 0;
    }
    bad |= put_str(o, "tee_report", cx_base64_dup(b->tee_report, b->tee_report_len)) != 0;
    if (b->gpu_evidence && b->gpu_evidence_len)
        bad |= put_str(o, "gpu_evidence", cx_base64_dup(b->gpu_evidence, b->gpu_evidence_len)) != 0;
    else
        bad |= json_object_set_new(o, "gpu_evidence", json_null()) != 0;
    char *text = bad ? NULL : cx_json_dumps(o, 1);
    json_decref(o);
    if (!text)
        return cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
    *out = text;
    return CX_OK;
}

static cx_err hex_field(const json_t *o, const char *k, uint8_t *dst, size_t want, cx_error *e)
{
    const char *s = NULL;
    cx_err rc = cx_json_get_string(o, k, 1, &s, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "bundle: ");
    size_t got = 0;
    if (strlen(s) != 2 * want || (rc = cx_hex_decode(s, strlen(s), dst, want, &got, e)) != CX_OK ||
        got != want)
        return cx_error_set(e, CX_ERR_FORMAT, "bundle: \"%s\" must be %zu bytes of hex", k, want);
    return CX_OK;
}

static cx_err b64_field(const json_t *o, const char *k, size_t max, uint8_t **dst, size_t *n,
                        cx_error *e)
{
    const char *s = NULL;
    cx_err rc = cx_json_get_string(o, k, 1, &s, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "bundle: ");
    size_t sl = strlen(s);
    /* the decoded length, padding not counted: max bytes exactly may come with padding */
    size_t pad = (sl >= 1 && s[sl - 1] == '=') + (sl >= 2 && s[sl - 2] == '=');
    size_t most = sl / 4 * 3 + (sl % 4 ? sl % 4 - 1 : 0);
    most = most > pad ? most - pad : 0;
    if (sl == 0 || most > max)
        return cx_error_set(e, CX_ERR_FORMAT, "bundle: \"%s\" must be 1..%zu bytes of base64", k,
                            max);
    *dst = malloc(sl / 4 * 3 + 3);
    if (!*dst)
        return cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
    if ((rc = cx_base64_decode(s, sl, *dst, sl / 4 * 3 + 3, n, e)) != CX_OK || *n == 0 ||
        *n > max) {
        free(*dst);
        *dst = NULL;
        return cx_error_set(e, CX_ERR_FORMAT, "bundle: \"%s\" is not valid base64", k);
    }
    return CX_OK;
}

cx_err cx_result_bundle_parse(const char *text, size_t len, cx_result_bundle *b, cx_error *e)
{
    memset(b, 0, sizeof *b);
    if (len > CX_BUNDLE_MAX_BYTES)
        return cx_error_set(e, CX_ERR_LIMIT, "bundle: larger than %d bytes", CX_BUNDLE_MAX_BYTES);
    json_t *o = NULL;
    cx_err rc = cx_json_parse(text, len, &o, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "bundle: ");
    static const char *const keys[] = {"format",     "statement",  "signature",    "public_key",
                                       "enclave_id", "tee_report", "gpu_evidence", NULL};
    const char *fmt = NULL, *st = NULL, *eid = NULL;
    if ((rc = cx_json_check_keys(o, keys, "bundle", e)) != CX_OK)
        goto out;
    if ((rc = cx_json_get_string(o, "format", 1, &fmt, e)) != CX_OK)
        goto out;
    if (strcmp(fmt, CX_BUNDLE_FORMAT) != 0) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "bundle: format must be \"%s\"", CX_BUNDLE_FORMAT);
        goto out;
    }
    if ((rc = cx_json_get_string(o, "statement", 1, &st, e)) != CX_OK)
        goto out;
    size_t sl = strlen(st);
    if (sl / 2 > CX_BUNDLE_STATEMENT_MAX) {
        rc = cx_error_set(e, CX_ERR_LIMIT, "bundle: \"statement\" is over %d bytes",
                          CX_BUNDLE_STATEMENT_MAX);
        goto out;
    }
    if (sl == 0 || sl % 2) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "bundle: \"statement\" must be non-empty hex");
        goto out;
    }
    b->statement = malloc(sl / 2);
    if (!b->statement) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
        goto out;
    }
    if ((rc = cx_hex_decode(st, sl, b->statement, sl / 2, &b->statement_len, e)) != CX_OK) {
        rc = cx_error_prefix(e, "bundle: \"statement\": ");
        goto out;
    }
    cx_statement probe;
    if ((rc = cx_statement_decode(b->statement, b->statement_len, &probe, NULL, e)) != CX_OK) {
        rc = cx_error_prefix(e, "bundle: ");
        goto out;
    }
    cx_statement_free(&probe);
    if ((rc = hex_field(o, "signature", b->signature, sizeof b->signature, e)) != CX_OK ||
        (rc = hex_field(o, "public_key", b->public_key, sizeof b->public_key, e)) != CX_OK)
        goto out;
    if ((rc = cx_json_get_string(o, "enclave_id", 0, &eid, e)) != CX_OK)
        goto out;
    if (eid) {
        size_t got = 0;
        if (strlen(eid) != 66 || eid[0] != '0' || eid[1] != 'x' ||
            cx_hex_decode(eid + 2, 64, b->enclave_id, sizeof b->enclave_id, &got, NULL) != CX_OK ||
            got != sizeof b->enclave_id) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "bundle: \"enclave_id\" must be 0x + 64 hex");
            goto out;
        }
        b->has_enclave_id = 1;
    }
    if ((rc = b64_field(o, "tee_report", CX_BUNDLE_REPORT_MAX, &b->tee_report, &b->tee_report_len,
                        e)) != CX_OK)
        goto out;
    json_t *g = json_object_get(o, "gpu_evidence");
    if (g && !json_is_null(g) &&
        (rc = b64_field(o, "gpu_evidence", CX_BUNDLE_REPORT_MAX, &b->gpu_evidence,
                        &b->gpu_evidence_len, e)) != CX_OK)
        goto out;
out:
    json_decref(o);
    if (rc != CX_OK)
        cx_result_bundle_free(b);
    return rc;
}

cx_err cx_result_bundle_write(const cx_result_bundle *b, const char *path, cx_error *e)
{
    char *text = NULL;
    cx_err rc = cx_result_bundle_to_json(b, &text, e);
    if (rc != CX_OK)
        return rc;
    size_t n = strlen(text);
    rc = cx_file_write_atomic(path, text, n, 0644, e);
    free(text);
    return rc;
}

cx_err cx_result_bundle_read(const char *path, cx_result_bundle *out, cx_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    cx_err rc = cx_file_read_all(path, CX_BUNDLE_MAX_BYTES, &buf, &len, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_result_bundle_parse((const char *)buf, len, out, e);
    free(buf);
    if (rc != CX_OK)
        cx_error_prefix(e, "%s: ", path);
    return rc;
}

void cx_result_bundle_free(cx_result_bundle *b)
{
    if (!b)
        return;
    free(b->statement);
    free(b->tee_report);
    free(b->gpu_evidence);
    memset(b, 0, sizeof *b);
}
