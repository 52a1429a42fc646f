/* dataset_rows.c — one segment's row storage (cx_secmem, grown without copies where it
 * can be reserved), storing one field's text or a missing value, and the bad-row list. */
#include "parse_internal.h"

#include <stdlib.h>

const char *cx_bad_reason_name(cx_bad_reason r)
{
    switch (r) {
    case CX_BAD_FIELD_COUNT:
        return "field_count";
    case CX_BAD_NUMBER:
        return "number";
    case CX_BAD_MISSING:
        return "missing";
    case CX_BAD_CATEGORY:
        return "category";
    case CX_BAD_LABEL:
        return "label";
    case CX_BAD_QUOTE:
        return "quote";
    case CX_BAD_JSON:
        return "json";
    case CX_BAD_KEY:
        return "key";
    case CX_BAD_TRUNCATED:
        return "truncated";
    }
    return "unknown";
}

cx_err cx_seg_init(cx_seg *s, const cx_dataset_schema *schema, const cx_layout *lay, cx_error *e)
{
    memset(s, 0, sizeof *s);
    s->schema = schema;
    s->lay = lay;
    s->delim = schema->delimiter;
    s->line = 1;
    cx_dict_init(&s->labels);
    s->cats = calloc(schema->n_cat ? schema->n_cat : 1, sizeof *s->cats);
    s->seen = calloc(lay->n_cols ? lay->n_cols : 1, sizeof *s->seen);
    if (!s->cats || !s->seen) {
        free(s->cats);
        free(s->seen);
        s->cats = NULL;
        s->seen = NULL;
        return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
    }
    return CX_OK;
}

void cx_seg_free(cx_seg *s)
{
    if (!s)
        return;
    cx_secmem_free(s->rows);
    cx_secmem_free(s->scratch);
    if (s->cats)
        for (size_t i = 0; i < s->schema->n_cat; i++)
            cx_dict_free(&s->cats[i]);
    free(s->cats);
    cx_dict_free(&s->labels);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

int cx_seg_reserve(cx_seg *s, size_t rows)
{
    const size_t w = s->lay->n_slots;
    if (rows <= s->cap_rows)
        return 1;
    if (rows > SIZE_MAX / sizeof(float) / w) {
        s->oom = CX_ERR_NOMEM;
        return 0;
    }
    float *nr = cx_secmem_alloc(rows * w * sizeof(float), 0, NULL);
    if (!nr) {
        s->oom = CX_ERR_NOMEM;
        return 0;
    }
    if (s->n_rows)
        memcpy(nr, s->rows, s->n_rows * w * sizeof(float));
    cx_secmem_free(s->rows);
    s->rows = nr;
    s->cap_rows = rows;
    return 1;
}

float *cx_seg_row(cx_seg *s)
{
    const size_t w = s->lay->n_slots;
    if (s->n_rows == s->cap_rows) {
        size_t nc = s->cap_rows ? s->cap_rows * 2 : (size_t)(65536 / (w * sizeof(float)) + 1);
        float *nr = cx_secmem_alloc(nc * w * sizeof(float), 0, NULL);
        if (!nr) {
            s->oom = CX_ERR_NOMEM;
            return NULL;
        }
        if (s->n_rows)
            memcpy(nr, s->rows, s->n_rows * w * sizeof(float));
        cx_secmem_free(s->rows);
        s->rows = nr;
        s->cap_rows = nc;
    }
    return s->rows + s->n_rows * w;
}

int cx_seg_scratch(cx_seg *s, size_t need)
{
    if (need <= s->scratch_cap)
        return 1;
    size_t nc = s->scratch_cap ? s->scratch_cap : 4096;
    while (nc < need)
        nc *= 2;
    char *n = cx_secmem_alloc(nc, 0, NULL);
    if (!n) {
        s->oom = CX_ERR_NOMEM;
        return 0;
    }
    if (s->scratch_cap)
        memcpy(n, s->scratch, s->scratch_cap);
    cx_secmem_free(s->scratch);
    s->scratch = n;
    s->scratch_cap = nc;
    return 1;
}

void cx_seg_bad(cx_seg *s, uint64_t line, cx_bad_reason why, uint32_t col)
{
    if (s->n_listed < CX_BAD_ROWS_LISTED)
        s->listed[s->n_listed++] = (cx_bad_row){line, why, col};
    s->bad++;
}

void cx_seg_row_done(cx_seg *s, uint64_t line, int bad, uint32_t col)
{
    if (bad)
        cx_seg_bad(s, line, (cx_bad_reason)bad, col);
    else
        s->n_rows++;
}

int cx_seg_put_missing(cx_seg *s, float *row, int32_t slot)
{
    int k = s->lay->slot_kind[slot];
    if (k == SLOT_LABEL_NUM || k == SLOT_LABEL_CLASS)
        return CX_BAD_LABEL;
    if (s->schema->missing == CX_MISSING_REJECT)
        return CX_BAD_MISSING;
    if (k == SLOT_CAT)
        cx_slot_put_id(row, slot, CX_CAT_MISSING);
    else
        row[slot] = s->schema->missing == CX_MISSING_FILL_VALUE ? s->schema->fill_value : NAN;
    return 0;
}

int cx_seg_put_text(cx_seg *s, float *row, int32_t slot, const char *p, size_t len)
{
    int k = s->lay->slot_kind[slot];
    if (k == SLOT_NUM || k == SLOT_LABEL_NUM) {
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
    }
    if (cx_is_missing_token(p, len))
        return cx_seg_put_missing(s, row, slot);
    if (k == SLOT_NUM || k == SLOT_LABEL_NUM) {
        float v;
        const char *q = cx_parse_f32(p, p + len, &v);
        if (!q || q != p + len || !isfinite(v))
            return k == SLOT_NUM ? CX_BAD_NUMBER : CX_BAD_LABEL;
        row[slot] = v;
        return 0;
    }
    if (memchr(p, 0, len)) /* a NUL byte is not text: no category or class holds one */
        return k == SLOT_CAT ? CX_BAD_CATEGORY : CX_BAD_LABEL;
    uint32_t id;
    if (k == SLOT_CAT) {
        int32_t ci = s->lay->slot_cat[slot];
        if (s->schema->cat_given[ci]) {
            id = cx_dict_find(&s->schema->cat_vocab[ci], p, len);
            if (id == CX_DICT_NONE)
                return CX_BAD_CATEGORY;
        } else if ((id = cx_dict_intern(&s->cats[ci], p, len)) == CX_DICT_NONE) {
            s->oom = CX_ERR_NOMEM;
            return CX_BAD_CATEGORY;
        }
    } else if (s->schema->classes_given) {
        if ((id = cx_dict_find(&s->schema->classes, p, len)) == CX_DICT_NONE)
            return CX_BAD_LABEL;
    } else if ((id = cx_dict_intern(&s->labels, p, len)) == CX_DICT_NONE) {
        s->oom = CX_ERR_NOMEM;
        return CX_BAD_LABEL;
    }
    cx_slot_put_id(row, slot, id);
    return 0;
}
