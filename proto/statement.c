/* statement.c — the signed result statement's one encoder and one strict decoder (layout of
 * chain/RULES.md §4) inside Nautilus's intent message, on the BCS reader and writer. */
#include "cx_proto.h"

#include <stdlib.h>
#include <string.h>

/* a contributor entry on the wire: address (32) || rows (u64) */
#define ROW_WIRE_BYTES (CX_STATEMENT_ID_LEN + 8)
/* the least a metric takes on the wire: name length (1) || one name byte || value (u64) */
#define METRIC_WIRE_MIN 10
/* the least a rejected contribution takes: address (32) || id length (1) || one id byte ||
 * reason (u8) */
#define REJECTED_WIRE_MIN (CX_STATEMENT_ID_LEN + 3)

static int rows_cmp(const void *a, const void *b)
{
    return memcmp(((const cx_statement_rows *)a)->contributor,
                  ((const cx_statement_rows *)b)->contributor, CX_STATEMENT_ID_LEN);
}

/* (contributor, blob id), the blob ids bytewise with a prefix first: the wire order */
static int rejected_cmp(const void *a, const void *b)
{
    const cx_statement_rejected *x = a, *y = b;
    int c = memcmp(x->contributor, y->contributor, CX_STATEMENT_ID_LEN);
    if (c)
        return c;
    size_t n = x->blob_id_len < y->blob_id_len ? x->blob_id_len : y->blob_id_len;
    c = n ? memcmp(x->blob_id, y->blob_id, n) : 0;
    if (c)
        return c;
    return (x->blob_id_len > y->blob_id_len) - (x->blob_id_len < y->blob_id_len);
}

const char *cx_reject_reason_name(unsigned reason)
{
    static const char *const names[] = {"unknown", "header", "format",     "decrypt",
                                        "parse",   "policy", "contributor"};
    return reason >= 1 && reason <= CX_REJECT_REASON_MAX ? names[reason] : names[0];
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

/* ------------------------------------------------------------ encoding -- */

/* A sorted copy of n elements (NULL when n = 0); two equal ones are refused with dup_msg. */
static cx_err sorted_copy(const void *src, size_t n, size_t size,
                          int (*cmp)(const void *, const void *), const char *dup_msg, void **out,
                          cx_error *e)
{
    *out = NULL;
    if (!n)
        return CX_OK;
    unsigned char *p = malloc(n * size);
    if (!p)
        return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
    memcpy(p, src, n * size);
    qsort(p, n, size, cmp);
    for (size_t i = 1; i < n; i++)
        if (cmp(p + (i - 1) * size, p + i * size) == 0) {
            free(p);
            return cx_error_set(e, CX_ERR_ARG, "statement: %s", dup_msg);
        }
    *out = p;
    return CX_OK;
}

static cx_err encode_check(const cx_statement *s, cx_error *e)
{
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
    if (s->version != 0 && s->version != CX_STATEMENT_VERSION &&
        s->version != CX_STATEMENT_VERSION_2 && s->version != CX_STATEMENT_VERSION_1)
        return cx_error_set(e, CX_ERR_ARG, "statement: version %u is not 1, 2 or 3", s->version);
    if (s->version == CX_STATEMENT_VERSION_1 && s->n_rejected)
        return cx_error_set(e, CX_ERR_ARG, "statement: version 1 has no rejected contributions");
    if (s->ranks_hash_len != 0 && s->ranks_hash_len != CX_STATEMENT_RANKS_HASH_LEN)
        return cx_error_set(e, CX_ERR_ARG, "statement: ranks hash must be 0 or %d bytes",
                            CX_STATEMENT_RANKS_HASH_LEN);
    if (s->version != 0 && s->version < CX_STATEMENT_VERSION && s->ranks_hash_len)
        return cx_error_set(e, CX_ERR_ARG, "statement: version %u has no ranks hash", s->version);
    if (s->n_rejected > CX_STATEMENT_MAX_REJECTED - s->n_rows || (s->n_rejected && !s->rejected))
        return cx_error_set(e, CX_ERR_ARG,
                            "statement: contributors and rejected contributions over %d in all",
                            CX_STATEMENT_MAX_REJECTED);
    for (size_t i = 0; i < s->n_rejected; i++) {
        const cx_statement_rejected *x = &s->rejected[i];
        if (x->blob_id_len < 1 || x->blob_id_len > CX_STATEMENT_BLOB_ID_MAX)
            return cx_error_set(e, CX_ERR_ARG,
                                "statement rejected %zu: blob id must be 1..%d bytes", i,
                                CX_STATEMENT_BLOB_ID_MAX);
        if (x->reason < 1 || x->reason > CX_REJECT_REASON_MAX)
            return cx_error_set(e, CX_ERR_ARG, "statement rejected %zu: reason %u is not 1..%d", i,
                                x->reason, CX_REJECT_REASON_MAX);
    }
    for (size_t i = 0; i < s->n_metrics; i++) {
        cx_err rc = metric_name_check(s->metrics[i].name,
                                      strnlen(s->metrics[i].name, CX_STATEMENT_METRIC_NAME_MAX + 1),
                                      i, CX_ERR_ARG, e);
        if (rc != CX_OK)
            return rc;
    }
    return CX_OK;
}

cx_err cx_statement_encode(const cx_statement *s, uint64_t timestamp_ms, uint8_t **out,
                           size_t *out_len, cx_error *e)
{
    *out = NULL;
    *out_len = 0;
    cx_err rc = encode_check(s, e);
    if (rc != CX_OK)
        return rc;
    /* the wire order is ascending (one canonical encoding per statement) */
    void *rows_copy = NULL, *rej_copy = NULL;
    if ((rc = sorted_copy(s->rows, s->n_rows, sizeof *s->rows, rows_cmp, "contributor listed twice",
                          &rows_copy, e)) != CX_OK)
        return rc;
    if ((rc = sorted_copy(s->rejected, s->n_rejected, sizeof *s->rejected, rejected_cmp,
                          "rejected contribution listed twice", &rej_copy, e)) != CX_OK) {
        free(rows_copy);
        return rc;
    }
    const cx_statement_rows *rows = rows_copy;
    const cx_statement_rejected *rej = rej_copy;
    uint8_t version = s->version ? s->version : CX_STATEMENT_VERSION;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_u8(&w, CX_STATEMENT_INTENT);
    cx_bcs_put_u64(&w, timestamp_ms);
    cx_bcs_put_u8(&w, version);
    cx_bcs_put_addr(&w, s->job_id);
    cx_bcs_put_addr(&w, s->pool_id);
    cx_bcs_put_bytes(&w, s->code_measurement, s->code_measurement_len);
    cx_bcs_put_bytes(&w, s->config_hash, CX_STATEMENT_HASH_LEN);
    cx_bcs_put_bytes(&w, s->dataset_commitment, CX_STATEMENT_HASH_LEN);
    cx_bcs_put_bytes(&w, s->result_blob_id, s->result_blob_id_len);
    cx_bcs_put_bytes(&w, s->result_hash, CX_STATEMENT_HASH_LEN);
    cx_bcs_put_bytes(&w, s->gpu_evidence_hash, s->gpu_evidence_hash_len);
    if (version >= CX_STATEMENT_VERSION)
        cx_bcs_put_bytes(&w, s->ranks_hash, s->ranks_hash_len);
    cx_bcs_put_seq_len(&w, s->n_rows);
    for (size_t i = 0; i < s->n_rows; i++) {
        cx_bcs_put_addr(&w, rows[i].contributor);
        cx_bcs_put_u64(&w, rows[i].rows);
    }
    if (version >= CX_STATEMENT_VERSION_2) {
        cx_bcs_put_seq_len(&w, s->n_rejected);
        for (size_t i = 0; i < s->n_rejected; i++) {
            cx_bcs_put_addr(&w, rej[i].contributor);
            cx_bcs_put_bytes(&w, rej[i].blob_id, rej[i].blob_id_len);
            cx_bcs_put_u8(&w, rej[i].reason);
        }
    }
    cx_bcs_put_seq_len(&w, s->n_metrics);
    for (size_t i = 0; i < s->n_metrics; i++) {
        cx_bcs_put_bytes(&w, (const uint8_t *)s->metrics[i].name, strlen(s->metrics[i].name));
        cx_bcs_put_u64(&w, s->metrics[i].value_micro);
    }
    cx_bcs_put_u64(&w, s->dp_epsilon_micro);
    cx_bcs_put_u64(&w, s->dp_delta_1e12);
    free(rows_copy);
    free(rej_copy);
    rc = cx_bcs_writer_finish(&w, out, out_len, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "statement: ");
    return CX_OK;
}

/* ------------------------------------------------------------ decoding -- */

/* A vector<u8> of min..max bytes copied into dst. */
static cx_err get_vec(cx_bcs_reader *r, const char *field, size_t min, size_t max, uint8_t *dst,
                      size_t *dst_len, cx_error *e)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    cx_err rc = cx_bcs_get_bytes(r, max, &p, &n, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "statement %s: ", field);
    if (n < min)
        return cx_error_set(e, CX_ERR_FORMAT, "statement %s: %zu bytes, need at least %zu", field,
                            n, min);
    if (n)
        memcpy(dst, p, n);
    *dst_len = n;
    return CX_OK;
}

static cx_err decode_header(cx_bcs_reader *r, uint64_t *ts, uint8_t *version_out, cx_error *e)
{
    uint8_t intent = 0, version = 0;
    cx_err rc;
    if ((rc = cx_bcs_get_u8(r, &intent, e)) != CX_OK || (rc = cx_bcs_get_u64(r, ts, e)) != CX_OK ||
        (rc = cx_bcs_get_u8(r, &version, e)) != CX_OK)
        return cx_error_wrap(rc, e, "statement header: ");
    if (intent != CX_STATEMENT_INTENT)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: intent scope %u is not %d", intent,
                            CX_STATEMENT_INTENT);
    if (version != CX_STATEMENT_VERSION && version != CX_STATEMENT_VERSION_2 &&
        version != CX_STATEMENT_VERSION_1)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: version %u is not %d, %d or %d", version,
                            CX_STATEMENT_VERSION_1, CX_STATEMENT_VERSION_2, CX_STATEMENT_VERSION);
    *version_out = version;
    return CX_OK;
}

static cx_err decode_fields(cx_bcs_reader *r, cx_statement *s, cx_error *e)
{
    size_t n;
    cx_err rc;
    if ((rc = cx_bcs_get_addr(r, s->job_id, e)) != CX_OK ||
        (rc = cx_bcs_get_addr(r, s->pool_id, e)) != CX_OK)
        return cx_error_wrap(rc, e, "statement ids: ");
    if ((rc = get_vec(r, "code_measurement", 1, CX_STATEMENT_MEASUREMENT_MAX, s->code_measurement,
                      &s->code_measurement_len, e)) != CX_OK ||
        (rc = get_vec(r, "config_hash", CX_STATEMENT_HASH_LEN, CX_STATEMENT_HASH_LEN,
                      s->config_hash, &n, e)) != CX_OK ||
        (rc = get_vec(r, "dataset_commitment", CX_STATEMENT_HASH_LEN, CX_STATEMENT_HASH_LEN,
                      s->dataset_commitment, &n, e)) != CX_OK ||
        (rc = get_vec(r, "result_blob_id", 1, CX_STATEMENT_BLOB_ID_MAX, s->result_blob_id,
                      &s->result_blob_id_len, e)) != CX_OK ||
        (rc = get_vec(r, "result_hash", CX_STATEMENT_HASH_LEN, CX_STATEMENT_HASH_LEN,
                      s->result_hash, &n, e)) != CX_OK ||
        (rc = get_vec(r, "gpu_evidence_hash", 0, CX_STATEMENT_GPU_HASH_MAX, s->gpu_evidence_hash,
                      &s->gpu_evidence_hash_len, e)) != CX_OK)
        return rc;
    /* version 3: empty (one rank) or exactly 32 bytes, nothing in between */
    if (s->version >= CX_STATEMENT_VERSION) {
        if ((rc = get_vec(r, "ranks_hash", 0, CX_STATEMENT_RANKS_HASH_LEN, s->ranks_hash,
                          &s->ranks_hash_len, e)) != CX_OK)
            return rc;
        if (s->ranks_hash_len != 0 && s->ranks_hash_len != CX_STATEMENT_RANKS_HASH_LEN)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "statement ranks_hash: %zu bytes, must be 0 or %d",
                                s->ranks_hash_len, CX_STATEMENT_RANKS_HASH_LEN);
    }
    return CX_OK;
}

static cx_err decode_rows(cx_bcs_reader *r, cx_statement *s, cx_error *e)
{
    size_t cnt = 0;
    cx_err rc = cx_bcs_get_seq_len(r, CX_STATEMENT_MAX_CONTRIBUTORS, ROW_WIRE_BYTES, &cnt, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "statement contributors: ");
    if (cnt) {
        s->rows = calloc(cnt, sizeof *s->rows);
        if (!s->rows)
            return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        if ((rc = cx_bcs_get_addr(r, s->rows[i].contributor, e)) != CX_OK ||
            (rc = cx_bcs_get_u64(r, &s->rows[i].rows, e)) != CX_OK)
            return cx_error_wrap(rc, e, "statement contributor %zu: ", i);
        s->n_rows = i + 1;
        if (i > 0 && rows_cmp(&s->rows[i - 1], &s->rows[i]) >= 0)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "statement: contributors not strictly ascending at %zu", i);
    }
    return CX_OK;
}

static cx_err decode_rejected(cx_bcs_reader *r, cx_statement *s, cx_error *e)
{
    size_t cnt = 0;
    /* contributors and rejected contributions together: at most one entry per registration */
    cx_err rc =
        cx_bcs_get_seq_len(r, CX_STATEMENT_MAX_REJECTED - s->n_rows, REJECTED_WIRE_MIN, &cnt, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "statement rejected: ");
    if (cnt) {
        s->rejected = calloc(cnt, sizeof *s->rejected);
        if (!s->rejected)
            return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        cx_statement_rejected *x = &s->rejected[i];
        if ((rc = cx_bcs_get_addr(r, x->contributor, e)) != CX_OK ||
            (rc = get_vec(r, "rejected blob id", 1, CX_STATEMENT_BLOB_ID_MAX, x->blob_id,
                          &x->blob_id_len, e)) != CX_OK ||
            (rc = cx_bcs_get_u8(r, &x->reason, e)) != CX_OK)
            return cx_error_wrap(rc, e, "statement rejected %zu: ", i);
        s->n_rejected = i + 1;
        if (x->reason < 1 || x->reason > CX_REJECT_REASON_MAX)
            return cx_error_set(e, CX_ERR_FORMAT, "statement rejected %zu: reason %u is not 1..%d",
                                i, x->reason, CX_REJECT_REASON_MAX);
        if (i > 0 && rejected_cmp(&s->rejected[i - 1], x) >= 0)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "statement: rejected contributions not strictly ascending at %zu",
                                i);
    }
    return CX_OK;
}

static cx_err decode_metrics(cx_bcs_reader *r, cx_statement *s, cx_error *e)
{
    size_t cnt = 0;
    cx_err rc = cx_bcs_get_seq_len(r, CX_STATEMENT_MAX_METRICS, METRIC_WIRE_MIN, &cnt, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "statement metrics: ");
    if (cnt) {
        s->metrics = calloc(cnt, sizeof *s->metrics);
        if (!s->metrics)
            return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
    }
    for (size_t i = 0; i < cnt; i++) {
        size_t nl = 0;
        if ((rc = get_vec(r, "metric name", 1, CX_STATEMENT_METRIC_NAME_MAX,
                          (uint8_t *)s->metrics[i].name, &nl, e)) != CX_OK ||
            (rc = cx_bcs_get_u64(r, &s->metrics[i].value_micro, e)) != CX_OK)
            return cx_error_wrap(rc, e, "statement metric %zu: ", i);
        s->metrics[i].name[nl] = '\0';
        s->n_metrics = i + 1;
        if ((rc = metric_name_check(s->metrics[i].name, nl, i, CX_ERR_FORMAT, e)) != CX_OK)
            return rc;
    }
    return CX_OK;
}

cx_err cx_statement_decode(const uint8_t *msg, size_t len, cx_statement *out,
                           uint64_t *timestamp_ms, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if (!msg)
        return cx_error_set(e, CX_ERR_ARG, "statement: no bytes");
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, msg, len);
    uint64_t ts = 0;
    cx_err rc;
    if ((rc = decode_header(&r, &ts, &out->version, e)) != CX_OK ||
        (rc = decode_fields(&r, out, e)) != CX_OK || (rc = decode_rows(&r, out, e)) != CX_OK ||
        (out->version >= CX_STATEMENT_VERSION_2 && (rc = decode_rejected(&r, out, e)) != CX_OK) ||
        (rc = decode_metrics(&r, out, e)) != CX_OK)
        goto fail;
    if ((rc = cx_bcs_get_u64(&r, &out->dp_epsilon_micro, e)) != CX_OK ||
        (rc = cx_bcs_get_u64(&r, &out->dp_delta_1e12, e)) != CX_OK ||
        (rc = cx_bcs_reader_end(&r, e)) != CX_OK) {
        rc = cx_error_wrap(rc, e, "statement: ");
        goto fail;
    }
    if (timestamp_ms)
        *timestamp_ms = ts;
    return CX_OK;
fail:
    cx_statement_free(out);
    return rc;
}

void cx_statement_free(cx_statement *s)
{
    if (!s)
        return;
    free(s->rows);
    free(s->rejected);
    free(s->metrics);
    s->rows = NULL;
    s->rejected = NULL;
    s->metrics = NULL;
    s->n_rows = s->n_rejected = s->n_metrics = 0;
}

const cx_statement_rows *cx_statement_find_contributor(const cx_statement *s,
                                                       const uint8_t contributor[32])
{
    if (!s->n_rows)
        return NULL;
    cx_statement_rows key;
    memcpy(key.contributor, contributor, CX_STATEMENT_ID_LEN);
    return bsearch(&key, s->rows, s->n_rows, sizeof *s->rows, rows_cmp);
}

const cx_statement_rejected *cx_statement_find_rejected(const cx_statement *s,
                                                        const uint8_t contributor[32],
                                                        const uint8_t *blob_id, size_t blob_id_len)
{
    if (!s->n_rejected || blob_id_len < 1 || blob_id_len > CX_STATEMENT_BLOB_ID_MAX)
        return NULL;
    cx_statement_rejected key;
    memcpy(key.contributor, contributor, CX_STATEMENT_ID_LEN);
    memcpy(key.blob_id, blob_id, blob_id_len);
    key.blob_id_len = blob_id_len;
    return bsearch(&key, s->rejected, s->n_rejected, sizeof *s->rejected, rejected_cmp);
}
