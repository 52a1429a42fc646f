/* dataset_merge.c — the deterministic merge of the parsed blobs into X and y: every blob
 * mapped onto the reference columns, vocabularies and classes united, one-hot expansion. */
#include "dataset_internal.h"

#include <omp.h>
#include <stdlib.h>

void cx_dataset_free(cx_dataset *ds)
{
    if (!ds)
        return;
    cx_secmem_free(ds->X);
    cx_secmem_free(ds->y);
    cx_names_free(ds->feature_names, ds->d);
    cx_names_free(ds->class_names, ds->n_classes);
    free(ds->label_name);
    free(ds->blobs);
    free(ds->fill_values);
    free(ds->given_mean);
    free(ds->given_std);
    free(ds->bound_lo);
    free(ds->bound_hi);
    free(ds);
}

static int all_numeric(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v;
        size_t l = strlen(names[i]);
        const char *q = cx_parse_f32(names[i], names[i] + l, &v);
        if (!q || q != names[i] + l)
            return 0;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_num(const void *a, const void *b)
{
    double x = strtod(*(char *const *)a, NULL), y = strtod(*(char *const *)b, NULL);
    return x < y ? -1 : x > y ? 1 : strcmp(*(char *const *)a, *(char *const *)b);
}

/* One good segment, where its rows go in X, and how its slots map onto the reference. */
typedef struct seg_ref {
    cx_blob_state *b;
    cx_seg *s;
    size_t row0;
    const int32_t *perm; /* reference slot -> this blob's slot */
} seg_ref;

/* Union of the names of one dictionary over all good segments, sorted; fills per-segment
 * remaps (local id -> global index). */
static cx_err union_dict(seg_ref *refs, size_t nref, int which, int numeric_sort, char ***names_out,
                         size_t *n_out, uint32_t **remap, cx_error *e)
{
    cx_dict all;
    cx_dict_init(&all);
    for (size_t r = 0; r < nref; r++) {
        const cx_dict *d = which < 0 ? &refs[r].s->labels : &refs[r].s->cats[which];
        for (size_t i = 0; i < d->n; i++)
            if (cx_dict_intern(&all, d->names[i], strlen(d->names[i])) == CX_DICT_NONE) {
                cx_dict_free(&all);
                return cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
            }
    }
    size_t n = all.n, cap = n ? n : 1, k = 0;
    char **names = malloc(cap * sizeof *names);
    /* the merged vocabulary becomes the model's one-hot feature names (what a model tells
     * anyway); the per-blob dictionaries stay in secure memory until freed */
    for (size_t i = 0; names && i < n; i++)
        if (cx_names_push(&names, &k, &cap, all.names[i], all.lens[i]) != 0) {
            cx_names_free(names, k);
            names = NULL;
        }
    cx_dict_free(&all);
    if (!names)
        return cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
    qsort(names, n, sizeof *names, numeric_sort && all_numeric(names, n) ? cmp_num : cmp_str);
    /* the sorted order is the global id: rebuild the dict in that order */
    cx_dict sorted;
    cx_dict_init(&sorted);
    for (size_t i = 0; i < n; i++)
        if (cx_dict_intern(&sorted, names[i], strlen(names[i])) == CX_DICT_NONE) {
            cx_names_free(names, n);
            cx_dict_free(&sorted);
            return cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
        }
    for (size_t r = 0; r < nref; r++) {
        const cx_dict *d = which < 0 ? &refs[r].s->labels : &refs[r].s->cats[which];
        remap[r] = malloc((d->n ? d->n : 1) * sizeof **remap);
        if (!remap[r]) {
            cx_names_free(names, n);
            cx_dict_free(&sorted);
            return cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
        }
        for (size_t i = 0; i < d->n; i++)
            remap[r][i] = cx_dict_find(&sorted, d->names[i], strlen(d->names[i]));
    }
    cx_dict_free(&sorted);
    *names_out = names;
    *n_out = n;
    return CX_OK;
}

static void free_remaps(uint32_t **remap, size_t n)
{
    if (!remap)
        return;
    for (size_t i = 0; i < n; i++)
        free(remap[i]);
    free(remap);
}

/* Everything the merge phases build, in the order they build it. */
typedef struct merge_ctx {
    cx_parser *p;
    const cx_dataset_schema *s;
    cx_dataset *ds;
    /* the reference columns every blob is mapped onto, and how messages name them */
    const cx_layout *ref;
    cx_layout declared; /* the reference when the schema declares the columns */
    int have_declared;
    char ref_name[32];
    size_t nfeat;    /* reference feature slots (the label slot, if any, is last) */
    int32_t **perms; /* per blob: reference slot -> blob slot; NULL for a failed blob */
    seg_ref *refs;   /* good segments in blob order, then file order */
    size_t nref;
    size_t n;              /* rows in all */
    uint32_t ***cat_remap; /* per collected categorical, per segment: local id -> value */
    char ***cat_names;     /* per collected categorical: the sorted values */
    size_t *cat_n;         /* per categorical: values (given or collected) */
    uint32_t **lab_remap;  /* per segment: local class id -> class index */
    size_t *col_off;       /* (nfeat + 1) first output column of each feature slot */
    size_t d;
    double *fill; /* (nfeat) FILL_MEAN: the mean of each numeric slot */
} merge_ctx;

static cx_err merge_oom(cx_error *e)
{
    return cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
}

/* The columns blobs are checked against and merged in: the schema's declared columns
 * when it has them (a job: no blob decides them for the others), else the first blob
 * that parsed (its layout, label kind and column order). */
static cx_err merge_choose_reference(merge_ctx *m, cx_error *e)
{
    const cx_parser *p = m->p;
    const cx_dataset_schema *s = m->s;
    if (s->n_columns) {
        char **names = calloc(s->n_columns, sizeof *names);
        if (!names)
            return merge_oom(e);
        for (size_t i = 0; i < s->n_columns; i++)
            if (!(names[i] = strdup(s->columns[i]))) {
                cx_names_free(names, i);
                return merge_oom(e);
            }
        cx_err rc = cx_layout_build(&m->declared, s, names, s->n_columns, 0, e);
        if (rc != CX_OK)
            return cx_error_wrap(rc, e, "the job's schema: ");
        m->have_declared = 1;
        m->ref = &m->declared;
        snprintf(m->ref_name, sizeof m->ref_name, "the job's schema");
        m->nfeat = m->ref->n_slots - (m->ref->label_slot >= 0);
        return CX_OK;
    }
    for (size_t i = 0; i < p->n_blobs; i++)
        if (!p->blobs[i].failed) {
            m->ref = &p->blobs[i].lay;
            snprintf(m->ref_name, sizeof m->ref_name, "blob %zu", i);
            m->nfeat = m->ref->n_slots - (m->ref->label_slot >= 0);
            return CX_OK;
        }
    return cx_error_set(e, CX_ERR_FORMAT, "no blob could be parsed (blob 0: %s)",
                        p->blobs[0].error);
}

/* Map blob i's slots onto the reference by column name; a blob whose columns differ is
 * failed alone. Returns 0 when out of memory. */
static int merge_map_blob(merge_ctx *m, size_t i)
{
    cx_blob_state *b = &m->p->blobs[i];
    const cx_layout *R = m->ref;
    int32_t *perm = m->perms[i] = malloc(R->n_slots * sizeof *perm);
    if (!perm)
        return 0;
    int ok = b->lay.n_slots == R->n_slots;
    for (size_t k = 0; ok && k < R->n_slots; k++) {
        const char *nm = R->col_names[R->slot_col[k]];
        int64_t col = cx_names_find(b->lay.col_names, b->lay.n_cols, nm);
        ok = col >= 0 && b->lay.col_slot[col] >= 0;
        if (ok)
            perm[k] = b->lay.col_slot[col];
    }
    if (!ok) {
        b->failed = 1;
        b->columns_differ = 1;
        snprintf(b->error, sizeof b->error, "blob %zu: columns differ from %s", i, m->ref_name);
        cx_blob_reset_segs(b);
    }
    return 1;
}

/* Map every good blob, then list the good segments and where their rows go. */
static cx_err merge_collect_segments(merge_ctx *m, cx_error *e)
{
    cx_parser *p = m->p;
    size_t nseg = 0;
    for (size_t i = 0; i < p->n_blobs; i++) {
        if (p->blobs[i].failed)
            continue;
        if (!merge_map_blob(m, i))
            return merge_oom(e);
        nseg += p->blobs[i].n_segs;
    }
    m->refs = calloc(nseg ? nseg : 1, sizeof *m->refs);
    if (!m->refs)
        return merge_oom(e);
    for (size_t i = 0; i < p->n_blobs; i++) {
        cx_blob_state *b = &p->blobs[i];
        if (b->failed)
            continue;
        for (size_t k = 0; k < b->n_segs; k++) {
            m->refs[m->nref++] = (seg_ref){b, &b->segs[k], m->n, m->perms[i]};
            m->n += b->segs[k].n_rows;
        }
    }
    if (m->n == 0)
        return cx_error_set(e, CX_ERR_FORMAT, "no rows accepted");
    return CX_OK;
}

/* Collected categorical values and class names: the union over all segments, sorted. */
static cx_err merge_vocabularies(merge_ctx *m, cx_error *e)
{
    const cx_dataset_schema *s = m->s;
    size_t nc = s->n_cat ? s->n_cat : 1;
    m->cat_remap = calloc(nc, sizeof *m->cat_remap);
    m->cat_names = calloc(nc, sizeof *m->cat_names);
    m->cat_n = calloc(nc, sizeof *m->cat_n);
    if (!m->cat_remap || !m->cat_names || !m->cat_n)
        return merge_oom(e);
    cx_err rc;
    for (size_t c = 0; c < s->n_cat; c++) {
        if (s->cat_given[c]) {
            m->cat_n[c] = s->cat_vocab[c].n;
            continue;
        }
        m->cat_remap[c] = calloc(m->nref, sizeof **m->cat_remap);
        if (!m->cat_remap[c])
            return merge_oom(e);
        if ((rc = union_dict(m->refs, m->nref, (int)c, 0, &m->cat_names[c], &m->cat_n[c],
                             m->cat_remap[c], e)) != CX_OK)
            return rc;
    }
    cx_dataset *ds = m->ds;
    ds->label_kind = m->ref->label_slot >= 0 ? s->label_kind : CX_LABEL_NONE;
    if (ds->label_kind != CX_LABEL_CLASS)
        return CX_OK;
    if (s->classes_given) {
        /* the declared classes, in declared order: stored ids are already their indices */
        ds->class_names = calloc(s->classes.n, sizeof *ds->class_names);
        if (!ds->class_names)
            return merge_oom(e);
        ds->n_classes = s->classes.n;
        for (size_t i = 0; i < s->classes.n; i++)
            if (!(ds->class_names[i] = strdup(s->classes.names[i])))
                return merge_oom(e);
        return CX_OK;
    }
    m->lab_remap = calloc(m->nref, sizeof *m->lab_remap);
    if (!m->lab_remap)
        return merge_oom(e);
    return union_dict(m->refs, m->nref, -1, 1, &ds->class_names, &ds->n_classes, m->lab_remap, e);
}

/* Output columns: one per numeric slot, one per value of a categorical slot. */
static cx_err merge_columns(merge_ctx *m, cx_error *e)
{
    const cx_layout *R = m->ref;
    m->col_off = malloc((m->nfeat + 1) * sizeof *m->col_off);
    m->fill = calloc(m->nfeat ? m->nfeat : 1, sizeof *m->fill);
    if (!m->col_off || !m->fill)
        return merge_oom(e);
    size_t d = 0;
    for (size_t k = 0; k < m->nfeat; k++) {
        m->col_off[k] = d;
        d += R->slot_kind[k] == SLOT_CAT ? m->cat_n[R->slot_cat[k]] : 1;
    }
    m->col_off[m->nfeat] = d;
    m->d = d;
    if (d == 0)
        return cx_error_set(e, CX_ERR_FORMAT, "no feature values (empty vocabularies)");
    return CX_OK;
}

/* FILL_MEAN: the mean of each numeric column over the accepted rows, and what each
 * output column's gaps are filled with (kept for prediction). */
static cx_err merge_fill_means(merge_ctx *m, cx_error *e)
{
    const cx_layout *R = m->ref;
    if (m->s->missing != CX_MISSING_FILL_MEAN)
        return CX_OK;
    for (size_t k = 0; k < m->nfeat; k++) {
        if (R->slot_kind[k] != SLOT_NUM)
            continue;
        /* summed in blocks of 4096 global rows, blocks added in order: the same
         * double whatever the number of segments (threads) the rows came in */
        double sum = 0, part = 0;
        uint64_t cnt = 0;
        for (size_t r = 0; r < m->nref; r++) {
            const cx_seg *sg = m->refs[r].s;
            const int32_t slot = m->refs[r].perm[k];
            for (size_t i = 0; i < sg->n_rows; i++) {
                if (((m->refs[r].row0 + i) & 4095) == 0) {
                    sum += part;
                    part = 0;
                }
                float v = sg->rows[i * sg->lay->n_slots + (size_t)slot];
                if (!isnan(v)) {
                    part += v;
                    cnt++;
                }
            }
        }
        sum += part;
        m->fill[k] = cnt ? sum / (double)cnt : 0.0;
        /* a declared mean is the fill: nothing about the data leaves in the model */
        int64_t dc = cx_names_find(m->s->columns, m->s->n_columns, R->col_names[R->slot_col[k]]);
        if (dc >= 0 && !isnan(m->s->col_decl[dc].mean))
            m->fill[k] = m->s->col_decl[dc].mean;
    }
    float *fv = m->ds->fill_values = malloc(m->d * sizeof *fv);
    if (!fv)
        return merge_oom(e);
    for (size_t k = 0; k < m->nfeat; k++)
        for (size_t c = m->col_off[k]; c < m->col_off[k + 1]; c++)
            fv[c] = R->slot_kind[k] == SLOT_NUM ? (float)m->fill[k] : NAN;
    return CX_OK;
}

/* Feature names ("city=Paris" for a one-hot column) and the label's name. */
static cx_err merge_names(merge_ctx *m, cx_error *e)
{
    const cx_layout *R = m->ref;
    const cx_dataset_schema *s = m->s;
    cx_dataset *ds = m->ds;
    ds->feature_names = calloc(m->d, sizeof *ds->feature_names);
    if (!ds->feature_names)
        return merge_oom(e);
    ds->d = m->d;
    for (size_t k = 0; k < m->nfeat; k++) {
        const char *nm = R->col_names[R->slot_col[k]];
        size_t off = m->col_off[k];
        if (R->slot_kind[k] != SLOT_CAT) {
            if (!(ds->feature_names[off] = strdup(nm)))
                return merge_oom(e);
            continue;
        }
        int32_t c = R->slot_cat[k];
        for (size_t v = 0; v < m->cat_n[c]; v++) {
            const char *val = s->cat_given[c] ? s->cat_vocab[c].names[v] : m->cat_names[c][v];
            size_t l = strlen(nm) + strlen(val) + 2;
            char *f = malloc(l);
            if (!f)
                return merge_oom(e);
            snprintf(f, l, "%s=%s", nm, val);
            ds->feature_names[off + v] = f;
        }
    }
    if (R->label_slot >= 0 && !(ds->label_name = strdup(R->col_names[R->slot_col[R->label_slot]])))
        return merge_oom(e);
    return CX_OK;
}

/* The declared standardisation per output column, when every numeric feature declares it or
 * its range (one-hot columns: mean 0, std 1; a column with a range only: NaN, and its range in
 * bound_lo/bound_hi, for the trainer's DP standardisation), and a numeric label's. */
static cx_err merge_given_stats(merge_ctx *m, cx_error *e)
{
    const cx_layout *R = m->ref;
    const cx_dataset_schema *s = m->s;
    cx_dataset *ds = m->ds;
    if (!s->n_columns)
        return CX_OK;
    if (R->label_slot >= 0 && ds->label_kind == CX_LABEL_NUMERIC) {
        int64_t dc =
            cx_names_find(s->columns, s->n_columns, R->col_names[R->slot_col[R->label_slot]]);
        const cx_column_decl *d = dc >= 0 ? &s->col_decl[dc] : NULL;
        if (d && !isnan(d->mean)) {
            ds->y_stats_given = 1;
            ds->y_mean = (float)d->mean;
            ds->y_std = (float)d->std;
        } else if (d && !isnan(d->lo)) {
            ds->y_bounds_given = 1;
            ds->y_lo = (float)d->lo;
            ds->y_hi = (float)d->hi;
        }
    }
    int ranges = 0;
    for (size_t k = 0; k < m->nfeat; k++) {
        int64_t dc = cx_names_find(s->columns, s->n_columns, R->col_names[R->slot_col[k]]);
        if (R->slot_kind[k] != SLOT_NUM)
            continue;
        if (dc < 0 || (isnan(s->col_decl[dc].mean) && isnan(s->col_decl[dc].lo)))
            return CX_OK;
        ranges += isnan(s->col_decl[dc].mean);
    }
    ds->given_mean = malloc(m->d * sizeof *ds->given_mean);
    ds->given_std = malloc(m->d * sizeof *ds->given_std);
    if (ranges) {
        ds->bound_lo = malloc(m->d * sizeof *ds->bound_lo);
        ds->bound_hi = malloc(m->d * sizeof *ds->bound_hi);
    }
    if (!ds->given_mean || !ds->given_std || (ranges && (!ds->bound_lo || !ds->bound_hi)))
        return merge_oom(e);
    for (size_t k = 0; k < m->nfeat; k++) {
        int64_t dc = cx_names_find(s->columns, s->n_columns, R->col_names[R->slot_col[k]]);
        int num = R->slot_kind[k] == SLOT_NUM;
        const cx_column_decl *d = num ? &s->col_decl[dc] : NULL;
        for (size_t c = m->col_off[k]; c < m->col_off[k + 1]; c++) {
            ds->given_mean[c] = num ? (float)d->mean : 0.0f;
            ds->given_std[c] = num ? (float)d->std : 1.0f;
            if (ranges) {
                int range = num && isnan(d->mean);
                ds->bound_lo[c] = range ? (float)d->lo : NAN;
                ds->bound_hi[c] = range ? (float)d->hi : NAN;
            }
        }
    }
    return CX_OK;
}

static cx_err merge_alloc(merge_ctx *m, cx_error *e)
{
    cx_dataset *ds = m->ds;
    if (m->n > SIZE_MAX / sizeof(float) / m->d)
        return cx_error_set(e, CX_ERR_LIMIT, "merge: dataset too large");
    if (!(ds->X = cx_secmem_alloc(m->n * m->d * sizeof(float), 0, e)))
        return CX_ERR_NOMEM;
    if (ds->label_kind != CX_LABEL_NONE && !(ds->y = cx_secmem_alloc(m->n * sizeof(float), 0, e)))
        return CX_ERR_NOMEM;
    ds->n = m->n;
    return CX_OK;
}

/* A stored row's label into y: remapped to the global class index for classes. */
static void merge_label(const merge_ctx *m, size_t r, const float *src, size_t row)
{
    const int32_t *perm = m->refs[r].perm;
    cx_dataset *ds = m->ds;
    if (ds->label_kind == CX_LABEL_NUMERIC)
        ds->y[row] = src[perm[m->nfeat]];
    else if (ds->label_kind == CX_LABEL_CLASS && m->s->classes_given)
        ds->y[row] = (float)cx_slot_id(src, perm[m->nfeat]);
    else if (ds->label_kind == CX_LABEL_CLASS)
        ds->y[row] = (float)m->lab_remap[r][cx_slot_id(src, perm[m->nfeat])];
}

/* One stored row into its output row: one-hot categoricals, numbers (gaps filled under
 * FILL_MEAN), the label remapped to the global class index. */
static void merge_row(const merge_ctx *m, size_t r, const float *src, size_t row)
{
    const cx_layout *R = m->ref;
    const cx_dataset_schema *s = m->s;
    const int32_t *perm = m->refs[r].perm;
    cx_dataset *ds = m->ds;
    float *dst = ds->X + row * m->d;
    memset(dst, 0, m->d * sizeof *dst);
    for (size_t k = 0; k < m->nfeat; k++) {
        int32_t slot = perm[k];
        if (R->slot_kind[k] == SLOT_CAT) {
            uint32_t id = cx_slot_id(src, slot);
            int32_t c = R->slot_cat[k];
            if (id == CX_CAT_MISSING)
                continue;
            dst[m->col_off[k] + (s->cat_given[c] ? id : m->cat_remap[c][r][id])] = 1.0f;
        } else {
            float v = src[slot];
            if (isnan(v) && s->missing == CX_MISSING_FILL_MEAN)
                v = (float)m->fill[k];
            dst[m->col_off[k]] = v;
        }
    }
    merge_label(m, r, src, row);
}

/* Whether segment r's rows hold the output's features as they are: numeric features only,
 * stored in the reference's order and nothing to fill in (not FILL_MEAN). Then merge_row
 * would copy the first d floats of each row unchanged, which a memcpy does faster. */
static int plain_rows(const merge_ctx *m, size_t r)
{
    if (m->d != m->nfeat || m->s->missing == CX_MISSING_FILL_MEAN)
        return 0;
    for (size_t k = 0; k < m->nfeat; k++)
        if (m->ref->slot_kind[k] == SLOT_CAT || m->refs[r].perm[k] != (int32_t)k ||
            m->col_off[k] != k)
            return 0;
    return 1;
}

/* Every segment writes its own row range, so segments copy in parallel (on no more threads
 * than segments: an idle OpenMP thread spins, burning a core the machine may need). */
static void merge_copy_rows(const merge_ctx *m)
{
    int nt = omp_get_max_threads();
    if ((size_t)nt > m->nref)
        nt = m->nref ? (int)m->nref : 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t r = 0; r < m->nref; r++) {
        const cx_seg *sg = m->refs[r].s;
        const size_t w = sg->lay->n_slots, d = m->d, row0 = m->refs[r].row0;
        if (!plain_rows(m, r)) {
            for (size_t i = 0; i < sg->n_rows; i++)
                merge_row(m, r, sg->rows + i * w, row0 + i);
        } else if (w == d && m->ds->label_kind == CX_LABEL_NONE) {
            if (sg->n_rows)
                memcpy(m->ds->X + row0 * d, sg->rows, sg->n_rows * w * sizeof(float));
        } else {
            for (size_t i = 0; i < sg->n_rows; i++) {
                memcpy(m->ds->X + (row0 + i) * d, sg->rows + i * w, d * sizeof(float));
                merge_label(m, r, sg->rows + i * w, row0 + i);
            }
        }
    }
}

/* Per blob: accepted and bad rows, the first bad rows, why a blob was left out. */
static void merge_report_blobs(merge_ctx *m)
{
    const cx_parser *p = m->p;
    cx_dataset *ds = m->ds;
    if (!ds->blobs)
        return;
    for (size_t i = 0; i < p->n_blobs; i++) {
        const cx_blob_state *b = &p->blobs[i];
        cx_blob_rows *o = &ds->blobs[i];
        o->failed = b->failed;
        o->columns_differ = b->columns_differ;
        snprintf(o->error, sizeof o->error, "%s", b->error);
        for (size_t k = 0; k < b->n_segs; k++) {
            const cx_seg *sg = &b->segs[k];
            o->rows += sg->n_rows;
            o->bad_rows += sg->bad;
            for (size_t j = 0; j < sg->n_listed && o->n_listed < CX_BAD_ROWS_LISTED; j++)
                o->listed[o->n_listed++] = sg->listed[j];
        }
    }
}

static void merge_ctx_free(merge_ctx *m)
{
    for (size_t c = 0; m->cat_remap && c < m->s->n_cat; c++) {
        free_remaps(m->cat_remap[c], m->cat_remap[c] ? m->nref : 0);
        if (m->cat_names && m->cat_names[c])
            cx_names_free(m->cat_names[c], m->cat_n[c]);
    }
    free(m->cat_remap);
    free(m->cat_names);
    free(m->cat_n);
    free_remaps(m->lab_remap, m->lab_remap ? m->nref : 0);
    for (size_t i = 0; m->perms && i < m->p->n_blobs; i++)
        free(m->perms[i]);
    free(m->perms);
    free(m->refs);
    free(m->fill);
    free(m->col_off);
    if (m->have_declared)
        cx_layout_free(&m->declared);
}

cx_err cx_dataset_merge(cx_parser *p, cx_dataset **out, cx_error *e)
{
    merge_ctx m = {.p = p, .s = p->schema};
    cx_dataset *ds = m.ds = calloc(1, sizeof *ds);
    if (!ds)
        return merge_oom(e);
    ds->n_blobs = p->n_blobs;
    ds->blobs = calloc(p->n_blobs, sizeof *ds->blobs);
    m.perms = calloc(p->n_blobs, sizeof *m.perms);
    cx_err rc = !ds->blobs || !m.perms ? merge_oom(e) : CX_OK;
    if (rc == CX_OK)
        rc = merge_choose_reference(&m, e);
    if (rc == CX_OK)
        rc = merge_collect_segments(&m, e);
    if (rc == CX_OK)
        rc = merge_vocabularies(&m, e);
    if (rc == CX_OK)
        rc = merge_columns(&m, e);
    if (rc == CX_OK)
        rc = merge_fill_means(&m, e);
    if (rc == CX_OK)
        rc = merge_names(&m, e);
    if (rc == CX_OK)
        rc = merge_given_stats(&m, e);
    if (rc == CX_OK)
        rc = merge_alloc(&m, e);
    if (rc == CX_OK)
        merge_copy_rows(&m);
    merge_report_blobs(&m);
    merge_ctx_free(&m);
    if (rc != CX_OK) {
        cx_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return CX_OK;
}
