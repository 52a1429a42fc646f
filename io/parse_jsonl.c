/* parse_jsonl.c — JSON lines: one flat object per line (numbers, strings, booleans,
 * null), scanned without building a tree, values written straight into the row. */
#include "parse_internal.h"

#include <stdlib.h>

static const char *ws(const char *p, const char *end)
{
    /* one compare for the usual case, a byte above the space */
    while (p < end && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static int hex4(const char *p, const char *end, unsigned *v)
{
    if (end - p < 4)
        return 0;
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        x <<= 4;
        if (c >= '0' && c <= '9')
            x |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            x |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            x |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *v = x;
    return 1;
}

static size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* p is just after the opening quote. Plain strings are returned in place; escaped ones
 * are decoded into buf (which must hold end - p bytes). Returns after the closing quote
 * or NULL. */
static const char *json_str(const char *p, const char *end, char *buf, const char **out,
                            size_t *len)
{
    const char *q = p;
    while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
        q++;
    if (q < end && *q == '"') {
        *out = p;
        *len = (size_t)(q - p);
        return q + 1;
    }
    if (!buf)
        return NULL;
    size_t o = 0;
    while (p < end) {
        char c = *p++;
        if (c == '"') {
            *out = buf;
            *len = o;
            return p;
        }
        if ((unsigned char)c < 0x20)
            return NULL;
        if (c != '\\') {
            buf[o++] = c;
            continue;
        }
        if (p >= end)
            return NULL;
        c = *p++;
        switch (c) {
        case '"':
            buf[o++] = '"';
            break;
        case '\\':
            buf[o++] = '\\';
            break;
        case '/':
            buf[o++] = '/';
            break;
        case 'b':
            buf[o++] = '\b';
            break;
        case 'f':
            buf[o++] = '\f';
            break;
        case 'n':
            buf[o++] = '\n';
            break;
        case 'r':
            buf[o++] = '\r';
            break;
        case 't':
            buf[o++] = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (!hex4(p, end, &cp))
                return NULL;
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return NULL;
            }
            /* 6 escape bytes always hold the at most 4 UTF-8 bytes */
            o += put_utf8(buf + o, cp);
            break;
        }
        default:
            return NULL;
        }
    }
    return NULL;
}

static int lit(const char *p, const char *end, const char *w, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, w, n) == 0;
}

/* The column named k: most lines list their keys in the same order, so the column after
 * the previous key is tried first (a byte compare) before the hash lookup. */
static uint32_t key_col(const cx_dict *d, uint32_t guess, const char *k, size_t klen)
{
    if (guess < d->n && d->lens[guess] == klen && memcmp(d->names[guess], k, klen) == 0)
        return guess;
    return cx_dict_find(d, k, klen);
}

/* Parse one line's object (ending at le; the buffer's bytes go on to end) into row; returns 0
 * or a bad reason (and *col). */
static int jsonl_object(cx_seg *s, float *row, const char *p, const char *le, const char *end,
                        uint32_t *badcol)
{
    const cx_layout *L = s->lay;
    uint32_t guess = 0;
    if (p >= le || *p != '{')
        return CX_BAD_JSON;
    if (!cx_seg_scratch(s, (size_t)(le - p) + 8))
        return CX_BAD_JSON;
    if (++s->stamp == 0) {
        memset(s->seen, 0, L->n_cols * sizeof *s->seen);
        s->stamp = 1;
    }
    p = ws(p + 1, le);
    if (p < le && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (p >= le || *p != '"')
                return CX_BAD_JSON;
            const cx_dict *d = &L->col_dict;
            uint32_t col;
            size_t gl = guess < d->n ? d->lens[guess] : 0;
            if (guess < d->n && L->col_raw[guess] && (size_t)(le - p) > gl + 1 &&
                p[gl + 1] == '"' && memcmp(p + 1, d->names[guess], gl) == 0) {
                /* the expected key, written as its own bytes: no need to scan or look it up */
                col = guess;
                p += gl + 2;
            } else {
                const char *k;
                size_t klen;
                p = json_str(p + 1, le, s->scratch, &k, &klen);
                if (!p)
                    return CX_BAD_JSON;
                col = key_col(d, guess, k, klen);
            }
            int32_t slot = -1;
            if (col != CX_DICT_NONE)
                guess = col + 1;
            if (col == CX_DICT_NONE) {
                if (L->json_all)
                    return CX_BAD_KEY;
            } else {
                *badcol = col;
                if (s->seen[col] == s->stamp)
                    return CX_BAD_KEY;
                s->seen[col] = s->stamp;
                slot = L->col_slot[col];
            }
            p = ws(p, le);
            if (p >= le || *p != ':')
                return CX_BAD_JSON;
            p = ws(p + 1, le);
            if (p >= le)
                return CX_BAD_JSON;
            int r = 0;
            int numeric = slot >= 0 &&
                          (L->slot_kind[slot] == SLOT_NUM || L->slot_kind[slot] == SLOT_LABEL_NUM);
            if (*p == '"') {
                const char *v;
                size_t vlen;
                p = json_str(p + 1, le, s->scratch, &v, &vlen);
                if (!p)
                    return CX_BAD_JSON;
                if (slot >= 0)
                    r = cx_seg_put_text(s, row, slot, v, vlen);
            } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
                float v;
                /* the fast form stops at a terminator, and '\n' (at le) is one */
                const char *q = cx_json_num_fast(p, end, &v);
                if (!q || q > le)
                    q = cx_parse_f32(p, le, &v);
                if (!q)
                    return CX_BAD_JSON;
                if (numeric) {
                    if (!isfinite(v))
                        r = L->slot_kind[slot] == SLOT_NUM ? CX_BAD_NUMBER : CX_BAD_LABEL;
                    else
                        row[slot] = v;
                } else if (slot >= 0) {
                    r = cx_seg_put_text(s, row, slot, p, (size_t)(q - p));
                }
                p = q;
            } else if (lit(p, le, "true", 4) || lit(p, le, "false", 5)) {
                int t = *p == 't';
                p += t ? 4 : 5;
                if (numeric)
                    row[slot] = t ? 1.0f : 0.0f;
                else if (slot >= 0)
                    r = cx_seg_put_text(s, row, slot, t ? "true" : "false", t ? 4 : 5);
            } else if (lit(p, le, "null", 4)) {
                p += 4;
                if (slot >= 0)
                    r = cx_seg_put_missing(s, row, slot);
            } else {
                return CX_BAD_JSON; /* nested values are not flat data */
            }
            if (r)
                return r;
            if (s->oom)
                return CX_BAD_JSON;
            p = ws(p, le);
            if (p < le && *p == ',') {
                p = ws(p + 1, le);
                continue;
            }
            if (p < le && *p == '}') {
                p++;
                break;
            }
            return CX_BAD_JSON;
        }
    }
    if (ws(p, le) != le)
        return CX_BAD_JSON;
    for (size_t c = 0; c < L->n_cols; c++) {
        if (s->seen[c] != s->stamp && L->col_slot[c] >= 0) {
            *badcol = (uint32_t)c;
            int r = cx_seg_put_missing(s, row, L->col_slot[c]);
            if (r)
                return r;
        }
    }
    return 0;
}

const char *cx_jsonl_parse(cx_seg *s, const char *p, const char *limit, const char *end, int eof)
{
    while (p < limit) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl && !eof)
            return p;
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        const char *q = ws(p, le);
        uint64_t line = s->line++;
        if (q == le) {
            p = next;
            continue;
        }
        float *row = cx_seg_row(s);
        if (!row)
            return p;
        uint32_t badcol = 0;
        int r = jsonl_object(s, row, q, le, end, &badcol);
        if (s->oom)
            return p;
        cx_seg_row_done(s, line, r, badcol);
        p = next;
    }
    return p;
}

cx_err cx_jsonl_keys(const char *p, const char *end, char ***names_out, size_t *n_out, cx_error *e)
{
    size_t n = 0, cap = 16;
    const size_t buf_len = (size_t)(end - p) + 8;
    char **names = calloc(cap, sizeof *names);
    char *buf = malloc(buf_len);
    if (!names || !buf) {
        free(names);
        free(buf);
        return cx_error_set(e, CX_ERR_NOMEM, "JSONL: out of memory");
    }
    const char *why = "not a flat JSON object";
    while (p < end && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
        end--;
    p = ws(p, end);
    if (p >= end || *p != '{')
        goto bad;
    p = ws(p + 1, end);
    if (p < end && *p == '}')
        goto bad_empty;
    for (;;) {
        if (p >= end || *p != '"')
            goto bad;
        const char *k;
        size_t klen;
        p = json_str(p + 1, end, buf, &k, &klen);
        if (!p)
            goto bad;
        if (cx_names_push(&names, &n, &cap, k, klen) != 0)
            goto oom;
        p = ws(p, end);
        if (p >= end || *p != ':')
            goto bad;
        p = ws(p + 1, end);
        if (p < end && *p == '"') {
            const char *v;
            size_t vlen;
            p = json_str(p + 1, end, buf, &v, &vlen);
            if (!p)
                goto bad;
        } else if (lit(p, end, "true", 4) || lit(p, end, "null", 4)) {
            p += 4;
        } else if (lit(p, end, "false", 5)) {
            p += 5;
        } else {
            float v;
            const char *q = p < end ? cx_parse_f32(p, end, &v) : NULL;
            if (!q)
                goto bad;
            p = q;
        }
        p = ws(p, end);
        if (p < end && *p == ',') {
            p = ws(p + 1, end);
            continue;
        }
        if (p < end && *p == '}')
            break;
        goto bad;
    }
    cx_memwipe(buf, buf_len); /* decoded values of a data record */
    free(buf);
    *names_out = names;
    *n_out = n;
    return CX_OK;
bad_empty:
    why = "empty object";
bad:
    cx_names_free(names, n);
    cx_memwipe(buf, buf_len); /* decoded values of a data record */
    free(buf);
    return cx_error_set(e, CX_ERR_FORMAT, "JSONL: first record: %s", why);
oom:
    cx_names_free(names, n);
    cx_memwipe(buf, buf_len); /* decoded values of a data record */
    free(buf);
    return cx_error_set(e, CX_ERR_NOMEM, "JSONL: out of memory");
}
