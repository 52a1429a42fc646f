/* parse_csv.c — the CSV row parser (RFC 4180 quoting, CRLF, empty fields) writing
 * straight into segment row storage, and the fast correctly-rounded float parser. */
#include "parse_internal.h"

#include <errno.h>
#include <float.h>
#include <stdlib.h>

/* Slow path of cx_parse_f32: strtof on a bounded NUL-terminated copy. */
const char *cx_parse_f32_slow(const char *s, const char *p, float *out)
{
    char buf[128];
    char *heap = NULL, *b = buf;
    size_t len = (size_t)(p - s);
    if (len >= sizeof buf) {
        heap = malloc(len + 1);
        if (!heap)
            return NULL;
        b = heap;
    }
    memcpy(b, s, len);
    b[len] = 0;
    char *ep = NULL;
    errno = 0;
    float f = strtof(b, &ep);
    int ok = ep == b + len;
    cx_memwipe(b, len); /* a copy of a data value */
    free(heap);
    if (!ok)
        return NULL;
    *out = f;
    return p;
}

int cx_is_missing_token(const char *p, size_t len)
{
    switch (len) {
    case 0:
        return 1;
    case 2:
        return memcmp(p, "NA", 2) == 0;
    case 3:
        return memcmp(p, "N/A", 3) == 0 || memcmp(p, "NaN", 3) == 0 || memcmp(p, "nan", 3) == 0;
    case 4:
        return memcmp(p, "null", 4) == 0 || memcmp(p, "NULL", 4) == 0;
    default:
        return 0;
    }
}

const char *cx_csv_record_end(const char *p, const char *end, char delim, int eof)
{
    cx_csv_scan st = CX_CSV_SCAN_INIT;
    return cx_csv_record_end_resume(p, end, delim, eof, &st);
}

const char *cx_csv_record_end_resume(const char *r, const char *end, char delim, int eof,
                                     cx_csv_scan *st)
{
    /* The same grammar as cx_csv_parse: a quote opens quoting only at a field's start;
     * anywhere else it is data. Resumable so that a record growing a line at a time is
     * scanned once, not once per line. */
    const char *p = r + st->off;
    int in_quote = st->in_quote, field_start = st->field_start;
    for (;;) {
        if (in_quote) {
            const char *q = memchr(p, '"', (size_t)(end - p));
            if (!q) {
                if (eof)
                    return end;
                p = end;
                break;
            }
            if (q + 1 < end && q[1] == '"') {
                p = q + 2;
                continue;
            }
            if (q + 1 == end && !eof) {
                p = q; /* a doubled quote may follow: look at it again */
                break;
            }
            p = q + 1;
            in_quote = 0;
            field_start = 0;
            continue;
        }
        if (p >= end) {
            if (eof)
                return end;
            break;
        }
        if (field_start && *p == '"') {
            p++;
            in_quote = 1;
            continue;
        }
        if (*p == '\n')
            return p + 1;
        field_start = *p == delim;
        p++;
    }
    st->off = (size_t)(p - r);
    st->in_quote = in_quote;
    st->field_start = field_start;
    return NULL;
}

cx_err cx_csv_split_header(const char *p, const char *end, char delim, char ***names_out,
                           size_t *n_out, cx_error *e)
{
    size_t n = 0, cap = 16;
    const size_t buf_len = (size_t)(end - p) + 1;
    char **names = calloc(cap, sizeof *names);
    char *buf = malloc(buf_len);
    if (!names || !buf) {
        free(names);
        free(buf);
        return cx_error_set(e, CX_ERR_NOMEM, "CSV header: out of memory");
    }
    for (;;) {
        size_t o = 0;
        if (p < end && *p == '"') {
            p++;
            for (;;) {
                if (p >= end) {
                    cx_names_free(names, n);
                    cx_memwipe(buf, buf_len); /* without a header it holds data */
                    free(buf);
                    return cx_error_set(e, CX_ERR_FORMAT, "CSV header: unterminated quote");
                }
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        buf[o++] = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                buf[o++] = *p++;
            }
            while (p < end && *p != delim && *p != '\n')
                p++; /* text after a closing quote is dropped in a header */
        } else {
            while (p < end && *p != delim && *p != '\n')
                buf[o++] = *p++;
            if (o > 0 && buf[o - 1] == '\r' && (p == end || *p == '\n'))
                o--;
        }
        if (cx_names_push(&names, &n, &cap, buf, o) != 0)
            goto oom;
        if (p < end && *p == delim) {
            p++;
            continue;
        }
        break;
    }
    cx_memwipe(buf, buf_len); /* without a header it holds data */
    free(buf);
    *names_out = names;
    *n_out = n;
    return CX_OK;
oom:
    cx_names_free(names, n);
    cx_memwipe(buf, buf_len); /* without a header it holds data */
    free(buf);
    return cx_error_set(e, CX_ERR_NOMEM, "CSV header: out of memory");
}

/* Copy quoted bytes into scratch at offset *o, counting newlines. */
static int quoted_copy(cx_seg *s, size_t *o, const char *p, size_t len, uint64_t *nl)
{
    if (!cx_seg_scratch(s, *o + len + 1))
        return 0;
    char *d = s->scratch + *o;
    for (size_t i = 0; i < len; i++) {
        d[i] = p[i];
        *nl += p[i] == '\n';
    }
    *o += len;
    return 1;
}

/* A row of plain numbers only ([-]digits[.digits], each field a numeric slot, LF-ended):
 * parsed by a loop with no per-field dispatch on quoting, slot kinds or errors. Returns the
 * next row's start, or NULL for anything else (quotes, text, missing values, CRLF, a wrong
 * field count, the data's end near): the general loop then parses the row from its start,
 * writing the same row storage, so the result is the same either way. */
static const char *csv_row_numbers(const cx_layout *L, float *row, const char *p, const char *end,
                                   char d, size_t ncol)
{
    for (size_t c = 0; c < ncol; c++) {
        float v;
        const char *q = cx_csv_num_fast(p, end, d, &v); /* q < end: it needs 32 bytes */
        if (!q || *q != (c + 1 < ncol ? d : '\n'))
            return NULL;
        row[L->col_slot[c]] = v;
        p = q + 1;
    }
    return p;
}

const char *cx_csv_parse(cx_seg *s, const char *p, const char *limit, const char *end, int eof)
{
    const cx_layout *L = s->lay;
    const char d = s->delim;
    const size_t ncol = L->n_cols;
    int all_num = ncol > 0 && d != '\n' && d != '\r';
    for (size_t c = 0; c < ncol && all_num; c++)
        all_num = L->col_slot[c] >= 0 && L->slot_kind[L->col_slot[c]] == SLOT_NUM;
    while (p < limit) {
        const char *rs = p;
        if (*p == '\n') {
            p++;
            s->line++;
            continue;
        }
        if (*p == '\r') {
            if (p + 1 == end && !eof)
                return rs;
            if (p + 1 < end && p[1] == '\n') {
                p += 2;
                s->line++;
                continue;
            }
        }
        float *row = cx_seg_row(s);
        if (!row)
            return rs;
        if (all_num) {
            const char *q = csv_row_numbers(L, row, p, end, d, ncol);
            if (q) {
                cx_seg_row_done(s, s->line++, 0, 0);
                p = q;
                continue;
            }
        }
        uint64_t nl = 0;
        int bad = 0;
        uint32_t badcol = 0;
        size_t c = 0;
        for (;;) {
            int32_t slot = c < ncol ? L->col_slot[c] : -1;
            if (c >= ncol && !bad) {
                bad = CX_BAD_FIELD_COUNT;
                badcol = (uint32_t)c;
            }
            if (p < end && *p == '"') {
                size_t o = 0;
                p++;
                for (;;) {
                    const char *q = memchr(p, '"', (size_t)(end - p));
                    if (!q) {
                        if (!eof)
                            return rs;
                        if (!bad) {
                            bad = CX_BAD_QUOTE;
                            badcol = (uint32_t)c;
                        }
                        while (p < end)
                            nl += *p++ == '\n';
                        break;
                    }
                    if (!quoted_copy(s, &o, p, (size_t)(q - p), &nl))
                        return rs;
                    if (q + 1 == end && !eof)
                        return rs; /* a doubled quote may follow in the next chunk */
                    if (q + 1 < end && q[1] == '"') {
                        if (!quoted_copy(s, &o, q, 1, &nl))
                            return rs;
                        p = q + 2;
                        continue;
                    }
                    p = q + 1;
                    break;
                }
                if (p < end && *p == '\r' && p + 1 == end && !eof)
                    return rs;
                if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n')
                    p++;
                if (p < end && *p != d && *p != '\n') {
                    if (!bad) {
                        bad = CX_BAD_QUOTE;
                        badcol = (uint32_t)c;
                    }
                    while (p < end && *p != d && *p != '\n')
                        p++;
                    if (p == end && !eof)
                        return rs;
                }
                if (!bad && slot >= 0) {
                    int r = cx_seg_put_text(s, row, slot, s->scratch, o);
                    if (r) {
                        bad = r;
                        badcol = (uint32_t)c;
                    }
                }
            } else {
                int done = 0;
                if (slot >= 0 && L->slot_kind[slot] == SLOT_NUM && !bad) {
                    float v;
                    const char *q = cx_csv_num_fast(p, end, d, &v);
                    if (!q)
                        q = cx_parse_f32(p, end, &v);
                    if (q && q > p) {
                        if (q == end && !eof)
                            return rs;
                        if ((q == end || *q == d || *q == '\n' ||
                             (*q == '\r' && q + 1 < end && q[1] == '\n')) &&
                            isfinite(v)) {
                            row[slot] = v;
                            p = q;
                            if (q < end && *q == '\r')
                                p++;
                            done = 1;
                        }
                    }
                }
                if (!done) {
                    const char *fs = p;
                    while (p < end && *p != d && *p != '\n')
                        p++;
                    if (p == end && !eof)
                        return rs;
                    const char *fe = p;
                    if (fe > fs && fe[-1] == '\r')
                        fe--;
                    if (!bad && slot >= 0) {
                        int r = cx_seg_put_text(s, row, slot, fs, (size_t)(fe - fs));
                        if (r) {
                            bad = r;
                            badcol = (uint32_t)c;
                        }
                    }
                }
            }
            if (s->oom)
                return rs;
            if (p < end && *p == d) {
                p++;
                c++;
                continue;
            }
            if (p < end) /* '\n' */
                p++;
            break;
        }
        if (!bad && c + 1 != ncol) {
            bad = CX_BAD_FIELD_COUNT;
            badcol = (uint32_t)c;
        }
        uint64_t line = s->line;
        s->line += 1 + nl;
        cx_seg_row_done(s, line, bad, badcol);
    }
    return p;
}
