/* parse_f32.c — the binary float32 matrix (content type f32, io/FORMAT.md): header
 * parsing with strict bounds, row copy into segment storage, and the writer. */
#include "parse_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define F32_MAGIC "CXF32MAT"
#define F32_HEADER 32u
#define F32_MAX_COLS (1u << 20)
#define F32_MAX_NAMES (64u << 20)

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static float rdf(const uint8_t *p)
{
    uint32_t u = rd32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

cx_err cx_f32_header_parse(const uint8_t *p, size_t len, size_t *need, uint64_t *rows,
                           uint32_t *cols, int32_t *label_col, char ***names_out, size_t *data_off,
                           cx_error *e)
{
    *names_out = NULL;
    if (len < F32_HEADER) {
        *need = F32_HEADER;
        return cx_error_set(e, CX_ERR_STATE, "f32: header incomplete");
    }
    if (memcmp(p, F32_MAGIC, 8) != 0)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: bad magic (not a CloakX f32 matrix)");
    uint32_t ver = rd32(p + 8), nc = rd32(p + 12);
    uint64_t nr = rd64(p + 16);
    int32_t lc = (int32_t)rd32(p + 24);
    uint32_t nlen = rd32(p + 28);
    if (ver != 1)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: unsupported version %u", ver);
    if (nc == 0 || nc > F32_MAX_COLS)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: column count %u out of range 1..%u", nc,
                            F32_MAX_COLS);
    if (lc < -1 || lc >= (int32_t)nc)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: label column %d out of range", lc);
    if (nlen < 2u * nc || nlen > F32_MAX_NAMES)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: names block of %u bytes invalid", nlen);
    if (nr > (UINT64_MAX / 4) / nc)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: row count overflows");
    size_t off = ((size_t)F32_HEADER + nlen + 7u) & ~(size_t)7u;
    if (len < off) {
        *need = off;
        return cx_error_set(e, CX_ERR_STATE, "f32: header incomplete");
    }
    const uint8_t *nb = p + F32_HEADER;
    if (nb[nlen - 1] != 0)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: names block not NUL-terminated");
    for (size_t i = F32_HEADER + nlen; i < off; i++)
        if (p[i] != 0)
            return cx_error_set(e, CX_ERR_FORMAT, "f32: non-zero header padding");
    char **names = calloc(nc, sizeof *names);
    if (!names)
        return cx_error_set(e, CX_ERR_NOMEM, "f32: out of memory");
    size_t pos = 0;
    for (uint32_t c = 0; c < nc; c++) {
        const uint8_t *z = memchr(nb + pos, 0, nlen - pos);
        size_t l = (size_t)(z - (nb + pos)); /* the last byte is NUL, so z exists */
        if (l == 0 || (c + 1 == nc && pos + l + 1 != nlen) || (c + 1 < nc && pos + l + 1 >= nlen)) {
            cx_names_free(names, c);
            return cx_error_set(e, CX_ERR_FORMAT,
                                "f32: names block must hold exactly %u non-empty names", nc);
        }
        names[c] = malloc(l + 1);
        if (!names[c]) {
            cx_names_free(names, c);
            return cx_error_set(e, CX_ERR_NOMEM, "f32: out of memory");
        }
        memcpy(names[c], nb + pos, l + 1);
        pos += l + 1;
    }
    *rows = nr;
    *cols = nc;
    *label_col = lc;
    *names_out = names;
    *data_off = off;
    return CX_OK;
}

void cx_f32_rows(cx_seg *s, const uint8_t *p, size_t n_rows, uint64_t first_row)
{
    const cx_layout *L = s->lay;
    const size_t nc = L->n_cols;
    /* Every column a numeric slot in file order, on a little-endian host: rows are the
     * stored layout already, so copy them and only look closer at non-finite values. */
    int identity = L->n_slots == nc;
    for (size_t c = 0; c < nc && identity; c++)
        identity = L->col_slot[c] == (int32_t)c &&
                   (L->slot_kind[c] == SLOT_NUM || L->slot_kind[c] == SLOT_LABEL_NUM);
    const uint16_t probe = 1;
    uint8_t le;
    memcpy(&le, &probe, 1);
    identity &= le;
    for (size_t r = 0; r < n_rows; r++, p += 4 * nc) {
        float *row = cx_seg_row(s);
        if (!row)
            return;
        if (identity) {
            memcpy(row, p, 4 * nc);
            int finite = 1;
            for (size_t c = 0; c < nc; c++)
                finite &= isfinite(row[c]);
            if (finite) {
                s->n_rows++;
                continue;
            }
        }
        int bad = 0;
        uint32_t badcol = 0;
        for (size_t c = 0; c < nc && !bad; c++) {
            int32_t slot = L->col_slot[c];
            if (slot < 0)
                continue;
            float v = rdf(p + 4 * c);
            int k = L->slot_kind[slot];
            if (isnan(v)) {
                bad = cx_seg_put_missing(s, row, slot);
            } else if (!isfinite(v)) {
                bad = k == SLOT_LABEL_NUM || k == SLOT_LABEL_CLASS ? CX_BAD_LABEL : CX_BAD_NUMBER;
            } else if (k == SLOT_NUM || k == SLOT_LABEL_NUM) {
                row[slot] = v;
            } else {
                char txt[32];
                int n = snprintf(txt, sizeof txt, "%.9g", (double)v);
                bad = cx_seg_put_text(s, row, slot, txt, (size_t)n);
            }
            if (bad)
                badcol = (uint32_t)c;
        }
        if (s->oom)
            return;
        cx_seg_row_done(s, first_row + r + 1, bad, badcol);
    }
}

cx_err cx_f32_write(const char *path, const float *X, size_t rows, size_t cols,
                    const char *const *names, int32_t label_col, cx_error *e)
{
    if (!path || (!X && rows) || !names || cols == 0 || cols > F32_MAX_COLS || label_col < -1 ||
        label_col >= (int64_t)cols)
        return cx_error_set(e, CX_ERR_ARG, "f32 write: invalid arguments");
    size_t nlen = 0;
    for (size_t c = 0; c < cols; c++) {
        size_t l = names[c] ? strlen(names[c]) : 0;
        if (l == 0)
            return cx_error_set(e, CX_ERR_ARG, "f32 write: column %zu has no name", c);
        nlen += l + 1;
    }
    if (nlen > F32_MAX_NAMES)
        return cx_error_set(e, CX_ERR_LIMIT, "f32 write: column names too long");
    size_t off = (F32_HEADER + nlen + 7u) & ~(size_t)7u;
    uint8_t *hdr = calloc(1, off);
    if (!hdr)
        return cx_error_set(e, CX_ERR_NOMEM, "f32 write: out of memory");
    memcpy(hdr, F32_MAGIC, 8);
    wr32(hdr + 8, 1);
    wr32(hdr + 12, (uint32_t)cols);
    wr32(hdr + 16, (uint32_t)((uint64_t)rows & 0xFFFFFFFFu));
    wr32(hdr + 20, (uint32_t)((uint64_t)rows >> 32));
    wr32(hdr + 24, (uint32_t)label_col);
    wr32(hdr + 28, (uint32_t)nlen);
    size_t pos = F32_HEADER;
    for (size_t c = 0; c < cols; c++) {
        size_t l = strlen(names[c]) + 1;
        memcpy(hdr + pos, names[c], l);
        pos += l;
    }
    cx_atomic_file f;
    cx_err rc = cx_atomic_open(&f, path, 0600, e);
    if (rc == CX_OK)
        rc = cx_atomic_write(&f, hdr, off, e);
    free(hdr);
    if (rc != CX_OK) {
        if (f.fd >= 0)
            cx_atomic_abort(&f);
        return rc;
    }
    /* Rows go out little-endian; on a little-endian host that is the memory itself. */
    const uint16_t probe = 1;
    uint8_t le;
    memcpy(&le, &probe, 1);
    if (le) {
        rc = cx_atomic_write(&f, X, rows * cols * sizeof(float), e);
    } else {
        uint8_t buf[4096];
        size_t total = rows * cols, i = 0;
        while (rc == CX_OK && i < total) {
            size_t k = 0;
            for (; k < sizeof buf / 4 && i < total; k++, i++) {
                uint32_t u;
                memcpy(&u, &X[i], 4);
                wr32(buf + 4 * k, u);
            }
            rc = cx_atomic_write(&f, buf, 4 * k, e);
        }
    }
    if (rc != CX_OK) {
        cx_atomic_abort(&f);
        return rc;
    }
    return cx_atomic_commit(&f, e);
}
