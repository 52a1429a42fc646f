/* bcs.c — Binary Canonical Serialization (spec §3.1): a writer with sticky errors and a
 * strict bounds-checked reader, the base of the statement codec, Sui transactions and Seal. */
#include "cx_proto.h"

#include <stdlib.h>
#include <string.h>

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

static void bcs_set_err(cx_bcs_writer *w, cx_err code)
{
    if (w->err == CX_OK)
        w->err = code;
}

/* Little-endian, the byte order of every BCS integer. */
static void put_le(cx_bcs_writer *w, uint64_t v, int bytes)
{
    if (!bcs_reserve(w, (size_t)bytes))
        return;
    for (int i = 0; i < bytes; i++)
        w->buf[w->len++] = (uint8_t)(v >> (8 * i));
}

void cx_bcs_put_u16(cx_bcs_writer *w, uint16_t v)
{
    put_le(w, v, 2);
}

void cx_bcs_put_u32(cx_bcs_writer *w, uint32_t v)
{
    put_le(w, v, 4);
}

void cx_bcs_put_u64(cx_bcs_writer *w, uint64_t v)
{
    put_le(w, v, 8);
}

void cx_bcs_put_u128(cx_bcs_writer *w, const uint8_t le[16])
{
    cx_bcs_put_fixed(w, le, 16);
}

void cx_bcs_put_u256(cx_bcs_writer *w, const uint8_t le[32])
{
    cx_bcs_put_fixed(w, le, 32);
}

void cx_bcs_put_bool(cx_bcs_writer *w, int v)
{
    cx_bcs_put_u8(w, v ? 1 : 0);
}

void cx_bcs_put_uleb(cx_bcs_writer *w, uint64_t v)
{
    /* the reader refuses larger values: writing one would make bytes nobody can read back */
    if (v > CX_BCS_MAX_SEQ) {
        bcs_set_err(w, CX_ERR_LIMIT);
        return;
    }
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

void cx_bcs_put_seq_len(cx_bcs_writer *w, size_t n)
{
    cx_bcs_put_uleb(w, (uint64_t)n);
}

void cx_bcs_put_variant(cx_bcs_writer *w, uint32_t index)
{
    cx_bcs_put_uleb(w, index);
}

void cx_bcs_put_option(cx_bcs_writer *w, int present)
{
    cx_bcs_put_u8(w, present ? 1 : 0);
}

void cx_bcs_put_addr(cx_bcs_writer *w, const uint8_t a[CX_BCS_ADDR_LEN])
{
    cx_bcs_put_fixed(w, a, CX_BCS_ADDR_LEN);
}

void cx_bcs_put_bytes(cx_bcs_writer *w, const uint8_t *p, size_t n)
{
    if ((uint64_t)n > CX_BCS_MAX_SEQ) {
        bcs_set_err(w, CX_ERR_LIMIT);
        return;
    }
    cx_bcs_put_uleb(w, n);
    cx_bcs_put_fixed(w, p, n);
}

/* RFC 3629 UTF-8: shortest form only, no surrogates, nothing above U+10FFFF (what Rust's
 * String, and so Move's and Sui's BCS, accept). */
static int utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t more;
        uint32_t lo = 0x80, hi = 0xbf; /* allowed range of the first continuation byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return 0;
        }
        if (n - i <= more)
            return 0;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= more; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
        i += more + 1;
    }
    return 1;
}

void cx_bcs_put_str(cx_bcs_writer *w, const char *s, size_t n)
{
    if (n && !utf8_valid((const uint8_t *)s, n)) {
        bcs_set_err(w, CX_ERR_ARG);
        return;
    }
    cx_bcs_put_bytes(w, (const uint8_t *)s, n);
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

/* A byte that must be 0 or 1 (a bool, an option tag). */
static cx_err get_zero_or_one(cx_bcs_reader *r, const char *what, int *v, cx_error *e)
{
    uint8_t b = 0;
    cx_err rc = cx_bcs_get_u8(r, &b, e);
    if (rc != CX_OK)
        return rc;
    if (b > 1)
        return cx_error_set(e, CX_ERR_FORMAT, "bcs: %s byte 0x%02x at offset %zu", what, b,
                            r->off - 1);
    *v = b;
    return CX_OK;
}

cx_err cx_bcs_get_bool(cx_bcs_reader *r, int *v, cx_error *e)
{
    return get_zero_or_one(r, "bool", v, e);
}

static cx_err get_le(cx_bcs_reader *r, int bytes, uint64_t *v, cx_error *e)
{
    if (r->len - r->off < (size_t)bytes)
        return bcs_short(r, (size_t)bytes, e);
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += (size_t)bytes;
    *v = x;
    return CX_OK;
}

cx_err cx_bcs_get_u16(cx_bcs_reader *r, uint16_t *v, cx_error *e)
{
    uint64_t x = 0;
    cx_err rc = get_le(r, 2, &x, e);
    if (rc == CX_OK)
        *v = (uint16_t)x;
    return rc;
}

cx_err cx_bcs_get_u32(cx_bcs_reader *r, uint32_t *v, cx_error *e)
{
    uint64_t x = 0;
    cx_err rc = get_le(r, 4, &x, e);
    if (rc == CX_OK)
        *v = (uint32_t)x;
    return rc;
}

cx_err cx_bcs_get_u64(cx_bcs_reader *r, uint64_t *v, cx_error *e)
{
    return get_le(r, 8, v, e);
}

cx_err cx_bcs_get_u128(cx_bcs_reader *r, uint8_t le[16], cx_error *e)
{
    return cx_bcs_get_fixed(r, le, 16, e);
}

cx_err cx_bcs_get_u256(cx_bcs_reader *r, uint8_t le[32], cx_error *e)
{
    return cx_bcs_get_fixed(r, le, 32, e);
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

cx_err cx_bcs_get_seq_len(cx_bcs_reader *r, size_t max, size_t min_elem_bytes, size_t *n,
                          cx_error *e)
{
    uint64_t v = 0;
    size_t at = r->off;
    cx_err rc = cx_bcs_get_uleb(r, &v, e);
    if (rc != CX_OK)
        return rc;
    if (v > max)
        return cx_error_set(e, CX_ERR_FORMAT, "bcs: %llu elements at offset %zu exceed %zu",
                            (unsigned long long)v, at, max);
    if (min_elem_bytes && v > (r->len - r->off) / min_elem_bytes)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "bcs: %llu elements at offset %zu but only %zu bytes left",
                            (unsigned long long)v, at, r->len - r->off);
    *n = (size_t)v;
    return CX_OK;
}

cx_err cx_bcs_get_variant(cx_bcs_reader *r, uint32_t n_variants, uint32_t *index, cx_error *e)
{
    uint64_t v = 0;
    size_t at = r->off;
    cx_err rc = cx_bcs_get_uleb(r, &v, e);
    if (rc != CX_OK)
        return rc;
    if (v >= n_variants)
        return cx_error_set(e, CX_ERR_FORMAT, "bcs: enum variant %llu at offset %zu (of %u)",
                            (unsigned long long)v, at, n_variants);
    *index = (uint32_t)v;
    return CX_OK;
}

cx_err cx_bcs_get_option(cx_bcs_reader *r, int *present, cx_error *e)
{
    return get_zero_or_one(r, "option tag", present, e);
}

cx_err cx_bcs_get_addr(cx_bcs_reader *r, uint8_t a[CX_BCS_ADDR_LEN], cx_error *e)
{
    return cx_bcs_get_fixed(r, a, CX_BCS_ADDR_LEN, e);
}

cx_err cx_bcs_get_str(cx_bcs_reader *r, size_t max, const char **s, size_t *n, cx_error *e)
{
    const uint8_t *p = NULL;
    size_t at = r->off, len = 0;
    cx_err rc = cx_bcs_get_bytes(r, max, &p, &len, e);
    if (rc != CX_OK)
        return rc;
    if (!utf8_valid(p, len))
        return cx_error_set(e, CX_ERR_FORMAT, "bcs: string at offset %zu is not valid UTF-8", at);
    *s = (const char *)p;
    *n = len;
    return CX_OK;
}

cx_err cx_bcs_reader_end(const cx_bcs_reader *r, cx_error *e)
{
    if (r->off != r->len)
        return cx_error_set(e, CX_ERR_FORMAT, "bcs: %zu trailing bytes after offset %zu",
                            r->len - r->off, r->off);
    return CX_OK;
}

/* ----------------------------------------------------------- addresses -- */

void cx_addr_to_hex(const uint8_t a[CX_BCS_ADDR_LEN], char out[CX_ADDR_HEX_LEN + 1])
{
    static const char hx[] = "0123456789abcdef";
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < CX_BCS_ADDR_LEN; i++) {
        out[2 + 2 * i] = hx[a[i] >> 4];
        out[3 + 2 * i] = hx[a[i] & 15];
    }
    out[CX_ADDR_HEX_LEN] = '\0';
}

cx_err cx_addr_from_hex(const char *s, uint8_t a[CX_BCS_ADDR_LEN], cx_error *e)
{
    size_t got = 0;
    if (!s || strlen(s) != CX_ADDR_HEX_LEN || s[0] != '0' || s[1] != 'x' ||
        cx_hex_decode(s + 2, CX_ADDR_HEX_LEN - 2, a, CX_BCS_ADDR_LEN, &got, NULL) != CX_OK ||
        got != CX_BCS_ADDR_LEN)
        return cx_error_set(e, CX_ERR_FORMAT, "address: expected 0x followed by 64 hex digits");
    return CX_OK;
}

/* ------------------------------------------------------ intent message -- */

cx_err cx_intent_message_encode(uint8_t intent, uint64_t timestamp_ms, const uint8_t *payload,
                                size_t payload_len, uint8_t **out, size_t *out_len, cx_error *e)
{
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_u8(&w, intent);
    cx_bcs_put_u64(&w, timestamp_ms);
    cx_bcs_put_fixed(&w, payload, payload_len);
    cx_err rc = cx_bcs_writer_finish(&w, out, out_len, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "intent message: ");
    return CX_OK;
}
