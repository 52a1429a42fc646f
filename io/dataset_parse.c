/* dataset_parse.c — the chunk-fed parser: per-blob state, the records before the data,
 * the record carried across chunks (bounded), f32 rows across chunks, and a blob's end. */
#include "dataset_internal.h"

#include <stdlib.h>

cx_err cx_parser_new(const cx_dataset_schema *s, cx_data_format fmt, size_t n_blobs,
                     cx_parser **out, cx_error *e)
{
    const cx_format_ops *ops = cx_format_ops_of(fmt);
    if (!s || !out || n_blobs == 0 || !ops)
        return cx_error_set(e, CX_ERR_ARG, "parser: needs a schema, a format and blobs");
    cx_parser *p = calloc(1, sizeof *p);
    if (!p)
        return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
    p->blobs = calloc(n_blobs, sizeof *p->blobs);
    if (!p->blobs) {
        free(p);
        return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
    }
    p->schema = s;
    p->ops = ops;
    p->n_blobs = n_blobs;
    for (size_t i = 0; i < n_blobs; i++) {
        p->blobs[i].skip_left = ops->skips_lines ? s->skip_lines : 0;
        p->blobs[i].scan = (cx_csv_scan)CX_CSV_SCAN_INIT;
    }
    *out = p;
    return CX_OK;
}

void cx_blob_reset_segs(cx_blob_state *b)
{
    for (size_t i = 0; i < b->n_segs; i++)
        cx_seg_free(&b->segs[i]);
    free(b->segs);
    b->segs = NULL;
    b->n_segs = 0;
}

void cx_parser_free(cx_parser *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_blobs; i++) {
        cx_blob_state *b = &p->blobs[i];
        cx_blob_reset_segs(b);
        if (b->have_lay)
            cx_layout_free(&b->lay);
        cx_secmem_free(b->carry);
    }
    free(p->blobs);
    free(p);
}

cx_err cx_blob_fail(cx_blob_state *b, size_t idx, cx_error *e)
{
    b->failed = 1;
    cx_error_prefix(e, "blob %zu: ", idx);
    snprintf(b->error, sizeof b->error, "%.250s", e ? e->msg : "failed");
    cx_blob_reset_segs(b);
    cx_secmem_free(b->carry);
    b->carry = NULL;
    b->carry_len = b->carry_cap = 0;
    b->scan = (cx_csv_scan)CX_CSV_SCAN_INIT;
    return e ? e->code : CX_ERR_FORMAT;
}

cx_err cx_blob_segs(cx_parser *p, cx_blob_state *b, size_t n, cx_error *e)
{
    b->segs = calloc(n, sizeof *b->segs);
    if (!b->segs)
        return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
    for (size_t i = 0; i < n; i++) {
        cx_err rc = cx_seg_init(&b->segs[i], p->schema, &b->lay, e);
        if (rc != CX_OK) {
            b->n_segs = i;
            return rc;
        }
        b->segs[i].line = b->pre_lines + 1;
    }
    b->n_segs = n;
    return CX_OK;
}

uint64_t cx_count_nl(const char *p, const char *end)
{
    uint64_t n = 0;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

static int blank(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p == end;
}

/* Lines a consumed record [r, re) took, its last line counted without a newline too. */
static uint64_t record_lines(const char *r, const char *re)
{
    return cx_count_nl(r, re) + (re > r && re[-1] != '\n');
}

cx_err cx_blob_pre_record(cx_parser *p, cx_blob_state *b, const char *r, const char *re,
                          int *consumed, cx_error *e)
{
    const cx_dataset_schema *s = p->schema;
    *consumed = 1;
    if (b->skip_left) {
        b->skip_left--;
        b->pre_lines += record_lines(r, re);
        return CX_OK;
    }
    if (blank(r, re)) {
        b->pre_lines += cx_count_nl(r, re);
        return CX_OK;
    }
    char **names = NULL;
    size_t n = 0;
    int json_all = 0;
    cx_err rc = p->ops->columns(s, r, re, &names, &n, &json_all, consumed, e);
    if (rc != CX_OK)
        return rc;
    if (*consumed)
        b->pre_lines += record_lines(r, re);
    rc = cx_layout_build(&b->lay, s, names, n, json_all, e);
    if (rc != CX_OK) {
        b->columns_differ = rc == CX_ERR_FORMAT;
        return rc;
    }
    b->have_lay = 1;
    return cx_blob_segs(p, b, 1, e);
}

int cx_blob_need_pre(const cx_blob_state *b)
{
    return b->skip_left > 0 || !b->have_lay;
}

static cx_err carry_append(cx_blob_state *b, const char *p, size_t len, cx_error *e)
{
    if (len == 0)
        return CX_OK;
    if (b->carry_len + len > b->carry_cap) {
        size_t nc = b->carry_cap ? b->carry_cap : 4096;
        while (nc < b->carry_len + len)
            nc *= 2;
        char *n = cx_secmem_alloc(nc, 0, e);
        if (!n)
            return e ? e->code : CX_ERR_NOMEM;
        if (b->carry_len)
            memcpy(n, b->carry, b->carry_len);
        cx_secmem_free(b->carry);
        b->carry = n;
        b->carry_cap = nc;
    }
    memcpy(b->carry + b->carry_len, p, len);
    b->carry_len += len;
    return CX_OK;
}

/* The carried record is the only part of a blob held whole: bound it, so that an
 * unterminated quoted CSV field (or a JSONL line without end) cannot grow it to the
 * whole blob. The message names the line and the limit, never the bytes. */
static cx_err carry_check(const cx_parser *p, const cx_blob_state *b, cx_error *e)
{
    if (b->carry_len <= p->schema->max_record_bytes)
        return CX_OK;
    uint64_t line = b->n_segs ? b->segs[0].line : b->pre_lines + 1;
    return cx_error_set(e, CX_ERR_LIMIT,
                        "line %llu: record longer than max_record_bytes (%zu bytes)%s",
                        (unsigned long long)line, p->schema->max_record_bytes,
                        p->ops->record_limit_hint);
}

cx_err cx_seg_status(const cx_seg *s, cx_error *e)
{
    if (s->oom)
        return cx_error_set(e, CX_ERR_NOMEM, "out of memory storing rows");
    return CX_OK;
}

/* One complete record [r, re) (from the carry). */
static cx_err one_record(cx_parser *p, cx_blob_state *b, const char *r, const char *re,
                         cx_error *e)
{
    if (cx_blob_need_pre(b)) {
        int consumed;
        cx_err rc = cx_blob_pre_record(p, b, r, re, &consumed, e);
        if (rc != CX_OK || consumed)
            return rc;
    }
    cx_seg *s = &b->segs[0];
    const char *q = p->ops->parse(s, r, re, re, 1);
    if (s->oom)
        return cx_seg_status(s, e);
    if (q != re)
        return cx_error_set(e, CX_ERR_INTERNAL, "parser: record not consumed");
    return CX_OK;
}

static cx_err check_bad_fraction(const cx_parser *p, cx_blob_state *b, cx_error *e)
{
    uint64_t rows = 0, bad = 0;
    const cx_bad_row *first = NULL;
    for (size_t i = 0; i < b->n_segs; i++) {
        rows += b->segs[i].n_rows;
        bad += b->segs[i].bad;
        if (!first && b->segs[i].n_listed)
            first = &b->segs[i].listed[0];
    }
    if (bad == 0)
        return CX_OK;
    double frac = (double)bad / (double)(rows + bad);
    if (frac <= p->schema->max_bad_fraction)
        return CX_OK;
    return cx_error_set(e, CX_ERR_FORMAT,
                        "%llu of %llu rows bad (%.2f%% > %.2f%% tolerated); first at %s %llu: %s",
                        (unsigned long long)bad, (unsigned long long)(rows + bad), 100.0 * frac,
                        100.0 * p->schema->max_bad_fraction, p->ops->row_unit,
                        (unsigned long long)(first ? first->line : 0),
                        first ? cx_bad_reason_name(first->reason) : "?");
}

cx_err cx_blob_finish(cx_parser *p, cx_blob_state *b, cx_error *e)
{
    b->ended = 1;
    if (!b->have_lay)
        return cx_error_set(e, CX_ERR_FORMAT, "no %s", p->ops->start_name(p->schema));
    cx_err rc;
    if (p->ops->finish && (rc = p->ops->finish(b, e)) != CX_OK)
        return rc;
    return check_bad_fraction(p, b, e);
}

/* Finish the record carried from the previous chunk, a line at a time; *dp advances
 * over what was taken from the chunk. */
static cx_err feed_carry(cx_parser *p, cx_blob_state *b, const char **dp, const char *end,
                         int last, cx_error *e)
{
    const char *d = *dp;
    cx_err rc = CX_OK;
    while (b->carry_len > 0) {
        if (d == end && !last)
            break;
        const char *nl = memchr(d, '\n', (size_t)(end - d));
        const char *take = nl ? nl + 1 : end;
        if ((rc = carry_append(b, d, (size_t)(take - d), e)) != CX_OK ||
            (rc = carry_check(p, b, e)) != CX_OK)
            break;
        d = take;
        int eof = last && d == end;
        const char *cend = b->carry + b->carry_len;
        const char *re = p->ops->record_end(b->carry, cend, p->schema->delimiter, eof, &b->scan);
        if (!re)
            continue;
        if ((rc = one_record(p, b, b->carry, re, e)) != CX_OK)
            break;
        /* more complete records may follow the first only when the chunk ended the blob */
        size_t rest = (size_t)(cend - re);
        memmove(b->carry, re, rest);
        b->carry_len = rest;
        b->scan = (cx_csv_scan)CX_CSV_SCAN_INIT;
    }
    *dp = d;
    return rc;
}

cx_err cx_blob_feed_text(cx_parser *p, cx_blob_state *b, const char *d, size_t len, int last,
                         cx_error *e)
{
    const char *end = d + len;
    cx_err rc = feed_carry(p, b, &d, end, last, e);
    if (rc != CX_OK || (b->carry_len > 0 && d == end && !last))
        return rc;
    while (cx_blob_need_pre(b) && d < end) {
        cx_csv_scan fresh = CX_CSV_SCAN_INIT;
        const char *re = p->ops->record_end(d, end, p->schema->delimiter, last, &fresh);
        if (!re)
            break;
        int consumed;
        if ((rc = cx_blob_pre_record(p, b, d, re, &consumed, e)) != CX_OK)
            return rc;
        if (!consumed)
            break;
        d = re;
    }
    if (!cx_blob_need_pre(b) && d < end) {
        cx_seg *s = &b->segs[0];
        d = p->ops->parse(s, d, end, end, last);
        if ((rc = cx_seg_status(s, e)) != CX_OK)
            return rc;
    }
    if (d < end) {
        if (last)
            return cx_error_set(e, CX_ERR_INTERNAL, "parser: data left at the end");
        if ((rc = carry_append(b, d, (size_t)(end - d), e)) != CX_OK)
            return rc;
    }
    return carry_check(p, b, e);
}

cx_err cx_blob_f32_layout(cx_parser *p, cx_blob_state *b, const uint8_t *h, size_t len,
                          size_t *need, size_t *off, cx_error *e)
{
    uint32_t cols;
    int32_t lc;
    char **names;
    cx_err rc = cx_f32_header_parse(h, len, need, &b->f32_rows, &cols, &lc, &names, off, e);
    if (rc != CX_OK)
        return rc;
    if ((rc = cx_layout_build(&b->lay, p->schema, names, cols, 0, e)) != CX_OK) {
        b->columns_differ = rc == CX_ERR_FORMAT;
        return rc;
    }
    b->have_lay = 1;
    b->f32_rowbytes = (size_t)cols * 4;
    if ((rc = cx_blob_segs(p, b, 1, e)) != CX_OK)
        return rc;
    /* the header says how many rows come: reserve them (up to 64 MiB before any row
     * has arrived, so a lying header cannot make us allocate the moon) */
    uint64_t want = b->f32_rows;
    uint64_t cap = (64u << 20) / (4u * (b->lay.n_slots ? b->lay.n_slots : 1));
    if (want > cap)
        want = cap;
    (void)cx_seg_reserve(&b->segs[0], (size_t)want); /* failure: grow row by row later */
    b->segs[0].oom = CX_OK;
    return CX_OK;
}

/* f32 rows whose first bytes were carried: complete them from the chunk at *dp. */
static cx_err f32_carried_rows(cx_blob_state *b, const uint8_t **dp, size_t *lenp, cx_error *e)
{
    const size_t rb = b->f32_rowbytes;
    size_t take = rb - b->carry_len % rb;
    if (b->carry_len >= rb)
        take = 0;
    if (take > *lenp)
        take = *lenp;
    cx_err rc = carry_append(b, (const char *)*dp, take, e);
    if (rc != CX_OK)
        return rc;
    *dp += take;
    *lenp -= take;
    size_t nr = b->carry_len / rb;
    if (b->f32_seen + nr > b->f32_rows)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: more rows than the header announces");
    cx_f32_rows(&b->segs[0], (const uint8_t *)b->carry, nr, b->f32_seen);
    b->f32_seen += nr;
    size_t rest = b->carry_len - nr * rb;
    memmove(b->carry, b->carry + nr * rb, rest);
    b->carry_len = rest;
    return CX_OK;
}

cx_err cx_blob_feed_f32(cx_parser *p, cx_blob_state *b, const char *chunk, size_t len, int last,
                        cx_error *e)
{
    const uint8_t *d = (const uint8_t *)chunk;
    cx_err rc;
    if (!b->have_lay) {
        if ((rc = carry_append(b, (const char *)d, len, e)) != CX_OK)
            return rc;
        size_t need = 0, off = 0;
        cx_error e2;
        rc = cx_blob_f32_layout(p, b, (const uint8_t *)b->carry, b->carry_len, &need, &off, &e2);
        if (rc == CX_ERR_STATE) {
            if (last)
                return cx_error_set(e, CX_ERR_FORMAT, "f32: file ends inside the header");
            return CX_OK;
        }
        if (rc != CX_OK) {
            if (e)
                *e = e2;
            return rc;
        }
        /* the rest of the carry is row data */
        size_t rest = b->carry_len - off;
        memmove(b->carry, b->carry + off, rest);
        b->carry_len = rest;
        static const uint8_t none[1] = {0};
        d = none;
        len = 0;
    }
    const size_t rb = b->f32_rowbytes;
    cx_seg *s = &b->segs[0];
    if (b->carry_len && (rc = f32_carried_rows(b, &d, &len, e)) != CX_OK)
        return rc;
    size_t nr = len / rb;
    if (b->f32_seen + nr > b->f32_rows)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: more rows than the header announces");
    if (nr) {
        cx_f32_rows(s, d, nr, b->f32_seen);
        b->f32_seen += nr;
    }
    if ((rc = cx_seg_status(s, e)) != CX_OK)
        return rc;
    if (len > nr * rb &&
        (rc = carry_append(b, (const char *)d + nr * rb, len - nr * rb, e)) != CX_OK)
        return rc;
    if (last && b->carry_len)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: data ends inside a row (%zu stray bytes)",
                            b->carry_len);
    return CX_OK;
}

cx_err cx_parser_feed(cx_parser *p, size_t blob, const void *bytes, size_t len, int is_last,
                      cx_error *e)
{
    if (!p || blob >= p->n_blobs || (!bytes && len))
        return cx_error_set(e, CX_ERR_ARG, "parser feed: bad blob index or buffer");
    cx_error local;
    if (!e)
        e = &local;
    cx_blob_state *b = &p->blobs[blob];
    if (b->failed)
        return cx_error_set(e, CX_ERR_STATE, "blob %zu: already failed: %s", blob, b->error);
    if (b->ended)
        return cx_error_set(e, CX_ERR_STATE, "blob %zu: fed after its last chunk", blob);
    static const char empty[1] = {0};
    const char *d = bytes ? (const char *)bytes : empty;
    cx_err rc = p->ops->feed(p, b, d, len, is_last, e);
    if (rc == CX_OK && is_last)
        rc = cx_blob_finish(p, b, e);
    if (rc != CX_OK)
        return cx_blob_fail(b, blob, e);
    if (is_last) {
        cx_secmem_free(b->carry);
        b->carry = NULL;
        b->carry_len = b->carry_cap = 0;
        b->scan = (cx_csv_scan)CX_CSV_SCAN_INIT;
    }
    return CX_OK;
}

cx_err cx_parser_finalize(cx_parser *p, cx_dataset **out, cx_error *e)
{
    if (!p || !out)
        return cx_error_set(e, CX_ERR_ARG, "parser finalize: bad arguments");
    for (size_t i = 0; i < p->n_blobs; i++)
        if (!p->blobs[i].ended && !p->blobs[i].failed)
            return cx_error_set(e, CX_ERR_STATE, "parser finalize: blob %zu not ended", i);
    return cx_dataset_merge(p, out, e);
}
