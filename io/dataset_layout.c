/* dataset_layout.c — how one blob's columns map onto the stored row: feature slots in
 * schema (or file) order, categoricals marked, the label slot last. */
#include "parse_internal.h"

#include <stdlib.h>

void cx_layout_free(cx_layout *L)
{
    cx_names_free(L->col_names, L->n_cols);
    free(L->col_slot);
    cx_dict_free(&L->col_dict);
    free(L->slot_kind);
    free(L->slot_cat);
    free(L->slot_col);
    free(L->col_raw);
    memset(L, 0, sizeof *L);
}

cx_err cx_layout_build(cx_layout *L, const cx_dataset_schema *s, char **names, size_t n,
                       int json_all, cx_error *e)
{
    memset(L, 0, sizeof *L);
    L->col_names = names;
    L->n_cols = n;
    L->json_all = json_all;
    L->label_slot = -1;
    cx_dict_init(&L->col_dict);
    L->col_slot = malloc((n ? n : 1) * sizeof *L->col_slot);
    L->slot_kind = calloc(n + 1, 1);
    L->slot_cat = malloc((n + 1) * sizeof *L->slot_cat);
    L->slot_col = malloc((n + 1) * sizeof *L->slot_col);
    L->col_raw = calloc(n + 1, 1);
    if (!L->col_slot || !L->slot_kind || !L->slot_cat || !L->slot_col || !L->col_raw) {
        cx_layout_free(L);
        return cx_error_set(e, CX_ERR_NOMEM, "layout: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        L->col_slot[i] = -1;
        L->col_raw[i] = 1;
        for (const char *c = names[i]; *c && L->col_raw[i]; c++)
            L->col_raw[i] = *c != '"' && *c != '\\' && (unsigned char)*c >= 0x20;
        if (cx_dict_find(&L->col_dict, names[i], strlen(names[i])) != CX_DICT_NONE) {
            cx_error_set(e, CX_ERR_FORMAT, "column '%s' appears twice", names[i]);
            cx_layout_free(L);
            return CX_ERR_FORMAT;
        }
        if (cx_dict_intern(&L->col_dict, names[i], strlen(names[i])) == CX_DICT_NONE) {
            cx_layout_free(L);
            return cx_error_set(e, CX_ERR_NOMEM, "layout: out of memory");
        }
    }
    /* Declared columns: the blob has exactly these, or it fails alone; the message names
     * the column (a key), never a value. */
    for (size_t i = 0; i < s->n_columns; i++)
        if (cx_names_find(names, n, s->columns[i]) < 0) {
            cx_error_set(e, CX_ERR_FORMAT, "column '%s' of the job's schema is missing",
                         s->columns[i]);
            cx_layout_free(L);
            return CX_ERR_FORMAT;
        }
    for (size_t i = 0; s->n_columns && i < n; i++)
        if (cx_names_find(s->columns, s->n_columns, names[i]) < 0) {
            cx_error_set(e, CX_ERR_FORMAT, "column '%.64s' is not in the job's schema", names[i]);
            cx_layout_free(L);
            return CX_ERR_FORMAT;
        }
    int64_t lcol = -1;
    if (s->label) {
        lcol = cx_names_find(names, n, s->label);
        if (lcol < 0) {
            cx_error_set(e, CX_ERR_FORMAT, "label column '%s' not found", s->label);
            cx_layout_free(L);
            return CX_ERR_FORMAT;
        }
    }
    size_t ns = 0;
    size_t nf = s->n_features ? s->n_features : n;
    for (size_t i = 0; i < nf; i++) {
        int64_t col;
        if (s->n_features) {
            col = cx_names_find(names, n, s->features[i]);
            if (col < 0 || col == lcol) {
                cx_error_set(e, CX_ERR_FORMAT, "feature column '%s' %s", s->features[i],
                             col < 0 ? "not found" : "is also the label");
                cx_layout_free(L);
                return CX_ERR_FORMAT;
            }
        } else {
            col = (int64_t)i;
            if (col == lcol)
                continue;
        }
        int64_t ci = cx_names_find(s->cat_names, s->n_cat, names[col]);
        L->col_slot[col] = (int32_t)ns;
        L->slot_col[ns] = (int32_t)col;
        L->slot_kind[ns] = ci >= 0 ? SLOT_CAT : SLOT_NUM;
        L->slot_cat[ns] = (int32_t)ci;
        ns++;
    }
    for (size_t c = 0; c < s->n_cat; c++) {
        int64_t col = cx_names_find(names, n, s->cat_names[c]);
        if (col < 0 || L->col_slot[col] < 0) {
            cx_error_set(e, CX_ERR_FORMAT, "categorical column '%s' is not a feature column",
                         s->cat_names[c]);
            cx_layout_free(L);
            return CX_ERR_FORMAT;
        }
    }
    if (ns == 0) {
        cx_layout_free(L);
        return cx_error_set(e, CX_ERR_FORMAT, "no feature columns");
    }
    if (lcol >= 0) {
        L->col_slot[lcol] = (int32_t)ns;
        L->slot_col[ns] = (int32_t)lcol;
        L->slot_kind[ns] = s->label_kind == CX_LABEL_CLASS ? SLOT_LABEL_CLASS : SLOT_LABEL_NUM;
        L->slot_cat[ns] = -1;
        L->label_slot = (int)ns;
        ns++;
    }
    L->n_slots = ns;
    return CX_OK;
}
