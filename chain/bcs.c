/* bcs.c — Binary Canonical Serialization (spec §3.1): a writer, a strict bounds-checked
 * reader, and the decoder of the result statement whose layout chain/RULES.md §4 defines. */
#include "cx_chain.h"

#include <stdlib.h>
#include <string.h>

/* BCS caps sequence lengths at 2^31-1 (docs.rs/bcs MAX_SEQUENCE_LENGTH). */
#define CX_BCS_MAX_SEQ ((uint64_t)0x7fffffff)

void cx_bcs_writer_init(cx_bcs_writer *w)
{
    memset(w, 0, sizeof *w);
}

static int bcs_reserve(cx_bcs_writer *w, size_t n)
{
    if (w->err != CX_OK)
        return 0;
    if (n > SIZE_MAX - w->len) {
        w->err = CX_ERR_LIMIT;
        return 0;
    }
    if (w->len + n <= w->cap)
        return 1;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < w->len + n) {
        if (cap > SIZE_MAX / 2) {
            w->err = CX_ERR_LIMIT;
            return 0;
        }
        cap *= 2;
    }
    uint8_t *nb = realloc(w->buf, cap);
    if (!nb) {
        w->err = CX_ERR_NOMEM;
        return 0;
    }
    w->buf = nb;
    w->cap = cap;
    return 1;
}

void cx_bcs_put_u8(cx_bcs_writer *w, uint8_t v)
{
    if (bcs_reserve(w, 1))
        w->buf[w->len++] = v;
}

void cx_bcs_put_u64(cx_bcs_writer *w, uint64_t v)
{
    if (!bcs_reserve(w, 8))
        return;
    for (int i = 0; i < 8; i++)
        w->buf[w->len++] = (uint8_t)(v >> (8 * i));
}

void cx_bcs_put_uleb(cx_bcs_writer *w, uint64_t v)
{
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        cx_bcs_put_u8(w, (uint8_t)(b | (v ? 0x80 : 0)));
    } while (v);
}

void cx_bcs_put_fixed(cx_bcs_writer *w, const uint8_t *p, size_t n)
{
    if (n && bcs_reserve(w, n)) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
    }
}

void cx_bcs_put_bytes(cx_bcs_writer *w, const uint8_t *p, size_t n)
{
    if ((uint64_t)n > CX_BCS_MAX_SEQ) {
        if (w->err == CX_OK)
            w->err = CX_ERR_LIMIT;
        return;
    }
    cx_bcs_put_uleb(w, n);
    cx_bcs_put_fixed(w, p, n);
}

cx_err cx_bcs_writer_finish(cx_bcs_writer *w, uint8_t **out, size_t *len, cx_error *e)
{
    if (w->err != CX_OK) {
        cx_err c = w->err;
        cx_bcs_writer_free(w);
        return cx_error_set(e, c, "bcs: encoding failed (%s)", cx_err_name(c));
    }
    if (!w->buf && !bcs_reserve(w, 1)) /* an empty encoding still gets a buffer */
        return cx_error_set(e, CX_ERR_NOMEM, "bcs: out of memory");
    *out = w->buf;
    *len = w->len;
    w->buf = NULL;
    w->len = w->cap = 0;
    return CX_OK;
}

void cx_bcs_writer_free(cx_bcs_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

void cx_bcs_reader_init(cx_bcs_reader *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
}

static cx_err bcs_short(const cx_bcs_reader *r, size_t need, cx_error *e)
{
    return cx_error_set(e, CX_ERR_FORMAT, "bcs: truncated at offset %zu (need %zu more bytes)",
                        r->off, need);
}

cx_err cx_bcs_get_u8(cx_bcs_reader *r, uint8_t *v, cx_error *e)
{
    if (r->len - r->off < 1)
        return bcs_short(r, 1, e);
    *v = r->p[r->off++];
    return CX_OK;
}

cx_err cx_bcs_get_bool(cx_bcs_reader *r, int *v, cx_error *e)
{
    uint8_t b = 0;
    cx_err rc = cx_bcs_get_u8(r, &b, e);
    if (rc != CX_OK)
        return rc;
    if (b > 1)
        return cx_error_set(e, CX_ERR_FORMAT, "bcs: bool byte 0x%02x at offset %zu", b, r->off - 1);
    *v = b;
    return CX_OK;
}

cx_err cx_bcs_get_u64(cx_bcs_reader *r, uint64_t *v, cx_error *e)
{
    if (r->len - r->off < 8)
        return bcs_short(r, 8, e);
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += 8;
    *v = x;
    return CX_OK;
}

cx_err cx_bcs_get_uleb(cx_bcs_reader *r, uint64_t *v, cx_error *e)
{
    uint64_t x = 0;
    size_t start = r->off;
    for (unsigned shift = 0; shift < 35; shift += 7) {
        uint8_t b = 0;
        cx_err rc = cx_bcs_get_u8(r, &b, e);
        if (rc != CX_OK)
            return rc;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            /* minimal: a final zero group is only allowed as the single byte of 0 */
            if (b == 0 && shift > 0)
                return cx_error_set(e, CX_ERR_FORMAT, "bcs: non-minimal ULEB128 at offset %zu",
                                    start);
            if (x > CX_BCS_MAX_SEQ)
                return cx_error_set(e, CX_ERR_FORMAT,
                                    "bcs: ULEB128 value above 2^31-1 at offset %zu", start);
            *v = x;
            return CX_OK;
        }
    }
    return cx_error_set(e, CX_ERR_FORMAT, "bcs: ULEB128 longer than 5 bytes at offset %zu", start);
}

cx_err cx_bcs_get_fixed(cx_bcs_reader *r, uint8_t *out, size_t n, cx_error *e)
{
    if (r->len - r->off < n)
        return bcs_short(r, n, e);
    if (n)
        memcpy(out, r->p + r->off, n);
    r->off += n;
    return CX_OK;
}

cx_err cx_bcs_get_bytes(cx_bcs_reader *r, size_t max, const uint8_t **p, size_t *n, cx_error *e)
{
    uint64_t len = 0;
    size_t at = r->off;
    cx_err rc = cx_bcs_get_uleb(r, &len, e);
    if (rc != CX_OK)
        return rc;
    if (len > max)
        return cx_error_set(e, CX_ERR_FORMAT, "bcs: vector of %llu bytes at offset %zu exceeds %zu",
                            (unsigned long long)len, at, max);
    if (r->len - r->off < len)
        return bcs_short(r, (size_t)len, e);
    *p = r->p + r->off;
    *n = (size_t)len;
    r->off += (size_t)len;
    return CX_OK;
}

cx_err cx_bcs_reader_end(const cx_bcs_reader *r, cx_error *e)
{
    if (r->off != r->len)
        return cx_error_set(e, CX_ERR_FORMAT, "bcs: %zu trailing bytes after offset %zu",
                            r->len - r->off, r->off);
    return CX_OK;
}

/* ------------------------------------------------------- statement decoder -- */

static cx_err get_vec(cx_bcs_reader *r, const char *field, size_t min, size_t max, uint8_t *dst,
                      size_t *dst_len, cx_error *e)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    cx_err rc = cx_bcs_get_bytes(r, max, &p, &n, e);
    if (rc != CX_OK) {
        cx_error_prefix(e, "statement %s: ", field);
        return rc;
    }
    if (n < min)
        return cx_error_set(e, CX_ERR_FORMAT, "statement %s: %zu bytes, need at least %zu", field,
                            n, min);
    memcpy(dst, p, n);
    *dst_len = n;
    return CX_OK;
}

cx_err cx_chain_statement_decode(const uint8_t *msg, size_t len, cx_chain_statement *s, cx_error *e)
{
    memset(s, 0, sizeof *s);
    if (!msg)
        return cx_error_set(e, CX_ERR_ARG, "statement: no bytes");
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, msg, len);
    cx_err rc;
    if ((rc = cx_bcs_get_u8(&r, &s->intent, e)) != CX_OK ||
        (rc = cx_bcs_get_u64(&r, &s->timestamp_ms, e)) != CX_OK ||
        (rc = cx_bcs_get_u8(&r, &s->version, e)) != CX_OK)
        return cx_error_wrap(rc, e, "statement header: ");
    if (s->intent != CX_CHAIN_STATEMENT_INTENT)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: intent scope %u is not %u", s->intent,
                            CX_CHAIN_STATEMENT_INTENT);
    if (s->version != CX_CHAIN_STATEMENT_VERSION)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: version %u is not %u", s->version,
                            CX_CHAIN_STATEMENT_VERSION);
    if ((rc = cx_bcs_get_fixed(&r, s->job_id.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = cx_bcs_get_fixed(&r, s->pool_id.b, CX_CHAIN_ID_LEN, e)) != CX_OK)
        return cx_error_wrap(rc, e, "statement ids: ");
    if ((rc = get_vec(&r, "code_measurement", 1, CX_CHAIN_MEASUREMENT_MAX, s->code_measurement,
                      &s->code_measurement_len, e)) != CX_OK ||
        (rc = get_vec(&r, "config_hash", 32, 32, s->config_hash, &s->config_hash_len, e)) !=
            CX_OK ||
        (rc = get_vec(&r, "dataset_commitment", 32, 32, s->dataset_commitment,
                      &s->dataset_commitment_len, e)) != CX_OK ||
        (rc = get_vec(&r, "result_blob_id", 1, CX_CHAIN_BLOB_ID_MAX, s->result_blob_id,
                      &s->result_blob_id_len, e)) != CX_OK ||
        (rc = get_vec(&r, "result_hash", 32, 32, s->result_hash, &s->result_hash_len, e)) !=
            CX_OK ||
        (rc = get_vec(&r, "gpu_evidence_hash", 0, CX_CHAIN_HASH_MAX, s->gpu_evidence_hash,
                      &s->gpu_evidence_hash_len, e)) != CX_OK)
        return rc;
    uint64_t n;
    if ((rc = cx_bcs_get_uleb(&r, &n, e)) != CX_OK)
        return cx_error_wrap(rc, e, "statement contributors: ");
    if (n > CX_CHAIN_STATEMENT_MAX_CONTRIBUTORS)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: %llu contributors exceed %d",
                            (unsigned long long)n, CX_CHAIN_STATEMENT_MAX_CONTRIBUTORS);
    /* each entry is 40 bytes: refuse a count the input cannot hold before allocating */
    if (n > (r.len - r.off) / 40)
        return cx_error_set(e, CX_ERR_FORMAT, "statement: %llu contributors but %zu bytes left",
                            (unsigned long long)n, r.len - r.off);
    if (n) {
        s->rows = calloc((size_t)n, sizeof *s->rows);
        if (!s->rows)
            return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
    }
    for (size_t i = 0; i < (size_t)n; i++) {
        if ((rc = cx_bcs_get_fixed(&r, s->rows[i].contributor.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
            (rc = cx_bcs_get_u64(&r, &s->rows[i].rows, e)) != CX_OK) {
            cx_chain_statement_free(s);
            return cx_error_wrap(rc, e, "statement contributor %zu: ", i);
        }
        if (i > 0 &&
            memcmp(s->rows[i - 1].contributor.b, s->rows[i].contributor.b, CX_CHAIN_ID_LEN) >= 0) {
            cx_chain_statement_free(s);
            return cx_error_set(e, CX_ERR_FORMAT,
                                "statement: contributors not strictly ascending at %zu", i);
        }
    }
    s->n_rows = (size_t)n;
    if ((rc = cx_bcs_get_uleb(&r, &n, e)) != CX_OK) {
        cx_chain_statement_free(s);
        return cx_error_wrap(rc, e, "statement metrics: ");
    }
    if (n > CX_CHAIN_STATEMENT_MAX_METRICS) {
        cx_chain_statement_free(s);
        return cx_error_set(e, CX_ERR_FORMAT, "statement: %llu metrics exceed %d",
                            (unsigned long long)n, CX_CHAIN_STATEMENT_MAX_METRICS);
    }
    for (size_t i = 0; i < (size_t)n; i++) {
        const uint8_t *name;
        size_t nl;
        uint64_t v;
        if ((rc = cx_bcs_get_bytes(&r, CX_CHAIN_STATEMENT_METRIC_NAME_MAX, &name, &nl, e)) !=
                CX_OK ||
            (rc = cx_bcs_get_u64(&r, &v, e)) != CX_OK) {
            cx_chain_statement_free(s);
            return cx_error_wrap(rc, e, "statement metric %zu: ", i);
        }
        if (nl == 0) {
            cx_chain_statement_free(s);
            return cx_error_set(e, CX_ERR_FORMAT, "statement metric %zu: empty name", i);
        }
        for (size_t j = 0; j < nl; j++)
            if (name[j] < 0x21 || name[j] > 0x7e) {
                cx_chain_statement_free(s);
                return cx_error_set(e, CX_ERR_FORMAT,
                                    "statement metric %zu: name is not printable ASCII", i);
            }
    }
    s->n_metrics = (size_t)n;
    if ((rc = cx_bcs_get_u64(&r, &s->dp_epsilon_micro, e)) != CX_OK ||
        (rc = cx_bcs_get_u64(&r, &s->dp_delta_1e12, e)) != CX_OK) {
        cx_chain_statement_free(s);
        return cx_error_wrap(rc, e, "statement dp: ");
    }
    if ((rc = cx_bcs_reader_end(&r, e)) != CX_OK) {
        cx_chain_statement_free(s);
        return cx_error_wrap(rc, e, "statement: ");
    }
    return CX_OK;
}

void cx_chain_statement_free(cx_chain_statement *s)
{
    if (!s)
        return;
    free(s->rows);
    s->rows = NULL;
    s->n_rows = 0;
}
