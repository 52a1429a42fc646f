/* dataset.c — schema, column layout, segment storage, the chunk-fed parser (carrying
 * records across chunks), parallel file loading and the deterministic merge into X. */
#include "parse_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ dict -- */

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void cx_dict_init(cx_dict *d)
{
    memset(d, 0, sizeof *d);
}

void cx_dict_free(cx_dict *d)
{
    for (size_t i = 0; i < d->n; i++) {
        cx_memwipe(d->names[i], strlen(d->names[i]));
        free(d->names[i]);
    }
    free(d->names);
    free(d->lens);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

uint32_t cx_dict_find(const cx_dict *d, const char *s, size_t len)
{
    if (!d->n_slots)
        return CX_DICT_NONE;
    size_t mask = d->n_slots - 1;
    for (size_t i = (size_t)hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t v = d->slots[i];
        if (!v)
            return CX_DICT_NONE;
        if (d->lens[v - 1] == len && memcmp(d->names[v - 1], s, len) == 0)
            return v - 1;
    }
}

static int dict_grow(cx_dict *d)
{
    size_t ns = d->n_slots ? 2 * d->n_slots : 16;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl)
        return 0;
    for (size_t id = 0; id < d->n; id++) {
        size_t i = (size_t)hash_bytes(d->names[id], d->lens[id]) & (ns - 1);
        while (sl[i])
            i = (i + 1) & (ns - 1);
        sl[i] = (uint32_t)id + 1;
    }
    free(d->slots);
    d->slots = sl;
    d->n_slots = ns;
    return 1;
}

uint32_t cx_dict_intern(cx_dict *d, const char *s, size_t len)
{
    uint32_t id = cx_dict_find(d, s, len);
    if (id != CX_DICT_NONE)
        return id;
    if (d->n >= 0x7FFFFFFFu)
        return CX_DICT_NONE;
    if ((d->n + 1) * 2 > d->n_slots && !dict_grow(d))
        return CX_DICT_NONE;
    if (d->n == d->cap) {
        size_t nc = d->cap ? 2 * d->cap : 8;
        char **nn = realloc(d->names, nc * sizeof *nn);
        if (!nn)
            return CX_DICT_NONE;
        d->names = nn;
        size_t *nl = realloc(d->lens, nc * sizeof *nl);
        if (!nl)
            return CX_DICT_NONE;
        d->lens = nl;
        d->cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c)
        return CX_DICT_NONE;
    memcpy(c, s, len);
    c[len] = 0;
    d->names[d->n] = c;
    d->lens[d->n] = len;
    size_t mask = d->n_slots - 1;
    size_t i = (size_t)hash_bytes(s, len) & mask;
    while (d->slots[i])
        i = (i + 1) & mask;
    d->slots[i] = (uint32_t)d->n + 1;
    return (uint32_t)d->n++;
}

void cx_names_free(char **names, size_t n)
{
    if (!names)
        return;
    /* a headerless CSV's first record is split into names: they may be data */
    for (size_t i = 0; i < n; i++) {
        if (names[i])
            cx_memwipe(names[i], strlen(names[i]));
        free(names[i]);
    }
    free(names);
}

int cx_names_push(char ***names, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        char **nn = realloc(*names, 2 * *cap * sizeof *nn);
        if (!nn)
            return -1;
        *names = nn;
        *cap *= 2;
    }
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, s, len);
    c[len] = 0;
    (*names)[(*n)++] = c;
    return 0;
}

/* ---------------------------------------------------------------- schema -- */

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

cx_err cx_data_format_parse(const char *name, cx_data_format *out, cx_error *e)
{
    if (name && strcmp(name, "csv") == 0)
        *out = CX_DATA_CSV;
    else if (name && (strcmp(name, "jsonl") == 0 || strcmp(name, "ndjson") == 0))
        *out = CX_DATA_JSONL;
    else if (name && strcmp(name, "f32") == 0)
        *out = CX_DATA_F32;
    else
        return cx_error_set(e, CX_ERR_ARG, "unknown data format '%s' (csv, jsonl, f32)",
                            name ? name : "");
    return CX_OK;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

cx_data_format cx_data_format_from_path(const char *path)
{
    if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson"))
        return CX_DATA_JSONL;
    if (ends_with(path, ".f32"))
        return CX_DATA_F32;
    return CX_DATA_CSV;
}

cx_err cx_dataset_schema_new(cx_dataset_schema **out, cx_error *e)
{
    cx_dataset_schema *s = calloc(1, sizeof *s);
    if (!s)
        return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
    s->delimiter = ',';
    s->has_header = 1;
    s->missing = CX_MISSING_REJECT;
    s->max_record_bytes = CX_MAX_RECORD_BYTES_DEFAULT;
    *out = s;
    return CX_OK;
}

void cx_dataset_schema_free(cx_dataset_schema *s)
{
    if (!s)
        return;
    cx_names_free(s->features, s->n_features);
    free(s->label);
    for (size_t i = 0; i < s->n_cat; i++)
        cx_dict_free(&s->cat_vocab[i]);
    cx_names_free(s->cat_names, s->n_cat);
    free(s->cat_vocab);
    free(s->cat_given);
    free(s);
}

static int names_has(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

cx_err cx_dataset_schema_add_feature(cx_dataset_schema *s, const char *name, cx_error *e)
{
    if (!s || !name || !*name)
        return cx_error_set(e, CX_ERR_ARG, "schema: empty feature name");
    if (names_has(s->features, s->n_features, name))
        return cx_error_set(e, CX_ERR_ARG, "schema: feature '%s' named twice", name);
    char **nf = realloc(s->features, (s->n_features + 1) * sizeof *nf);
    if (!nf)
        return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
    s->features = nf;
    if (!(nf[s->n_features] = strdup(name)))
        return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
    s->n_features++;
    return CX_OK;
}

cx_err cx_dataset_schema_set_label(cx_dataset_schema *s, const char *name, cx_label_kind kind,
                                   cx_error *e)
{
    if (!s || (kind != CX_LABEL_NONE && (!name || !*name)) || kind > CX_LABEL_CLASS)
        return cx_error_set(e, CX_ERR_ARG, "schema: label needs a name and a kind");
    char *c = NULL;
    if (kind != CX_LABEL_NONE && !(c = strdup(name)))
        return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
    free(s->label);
    s->label = c;
    s->label_kind = kind;
    return CX_OK;
}

cx_err cx_dataset_schema_add_categorical(cx_dataset_schema *s, const char *name,
                                         const char *const *vocab, size_t n_vocab, cx_error *e)
{
    if (!s || !name || !*name)
        return cx_error_set(e, CX_ERR_ARG, "schema: empty categorical column name");
    if (names_has(s->cat_names, s->n_cat, name))
        return cx_error_set(e, CX_ERR_ARG, "schema: categorical '%s' named twice", name);
    if (vocab && n_vocab == 0)
        return cx_error_set(e, CX_ERR_ARG, "schema: categorical '%s' has an empty vocabulary",
                            name);
    size_t n = s->n_cat + 1;
    char **nn = realloc(s->cat_names, n * sizeof *nn);
    if (!nn)
        return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
    s->cat_names = nn;
    cx_dict *nv = realloc(s->cat_vocab, n * sizeof *nv);
    if (!nv)
        return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
    s->cat_vocab = nv;
    int *ng = realloc(s->cat_given, n * sizeof *ng);
    if (!ng)
        return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
    s->cat_given = ng;
    cx_dict *d = &nv[s->n_cat];
    cx_dict_init(d);
    ng[s->n_cat] = vocab != NULL;
    for (size_t i = 0; vocab && i < n_vocab; i++) {
        size_t l = vocab[i] ? strlen(vocab[i]) : 0;
        if (l == 0 || cx_dict_find(d, vocab[i], l) != CX_DICT_NONE) {
            cx_dict_free(d);
            return cx_error_set(e, CX_ERR_ARG,
                                "schema: categorical '%s': vocabulary entry %zu empty or repeated",
                                name, i);
        }
        if (cx_dict_intern(d, vocab[i], l) == CX_DICT_NONE) {
            cx_dict_free(d);
            return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
        }
    }
    if (!(nn[s->n_cat] = strdup(name))) {
        cx_dict_free(d);
        return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
    }
    s->n_cat = n;
    return CX_OK;
}

cx_err cx_dataset_schema_set_missing(cx_dataset_schema *s, cx_missing_policy policy,
                                     float fill_value, cx_error *e)
{
    if (!s || policy > CX_MISSING_KEEP_NAN || !isfinite(fill_value))
        return cx_error_set(e, CX_ERR_ARG, "schema: invalid missing-value policy");
    s->missing = policy;
    s->fill_value = fill_value;
    return CX_OK;
}

cx_err cx_dataset_schema_set_bad_fraction(cx_dataset_schema *s, double f, cx_error *e)
{
    if (!s || !(f >= 0.0 && f <= 1.0))
        return cx_error_set(e, CX_ERR_ARG, "schema: max_bad_fraction must be in [0, 1]");
    s->max_bad_fraction = f;
    return CX_OK;
}

cx_err cx_dataset_schema_set_csv(cx_dataset_schema *s, char delimiter, int has_header,
                                 size_t skip_lines, cx_error *e)
{
    if (!s || delimiter == '"' || delimiter == '\n' || delimiter == '\r' || delimiter == 0)
        return cx_error_set(e, CX_ERR_ARG, "schema: invalid CSV delimiter");
    s->delimiter = delimiter;
    s->has_header = has_header != 0;
    s->skip_lines = skip_lines;
    return CX_OK;
}

cx_err cx_dataset_schema_set_max_record(cx_dataset_schema *s, size_t bytes, cx_error *e)
{
    if (!s || bytes == 0 || bytes > CX_MAX_RECORD_BYTES_MAX)
        return cx_error_set(e, CX_ERR_ARG, "schema: max_record_bytes must be in [1, %llu]",
                            (unsigned long long)CX_MAX_RECORD_BYTES_MAX);
    s->max_record_bytes = bytes;
    return CX_OK;
}

cx_err cx_dataset_schema_from_json(const json_t *j, cx_dataset_schema **out, cx_error *e)
{
    static const char *const keys[] = {
        "features",         "label",     "label_type", "categorical", "missing", "fill_value",
        "max_bad_fraction", "delimiter", "header",     "skip_lines",  "max_record_bytes",
        NULL};
    if (!json_is_object(j))
        return cx_error_set(e, CX_ERR_FORMAT, "data: must be a JSON object");
    cx_err rc = cx_json_check_keys(j, keys, "data", e);
    if (rc != CX_OK)
        return rc;
    cx_dataset_schema *s = NULL;
    if ((rc = cx_dataset_schema_new(&s, e)) != CX_OK)
        return rc;
    const json_t *f = json_object_get(j, "features");
    if (f) {
        if (!json_is_array(f)) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "data: \"features\" must be an array of names");
            goto fail;
        }
        size_t i;
        const json_t *v;
        json_array_foreach(f, i, v)
        {
            if (!json_is_string(v)) {
                rc = cx_error_set(e, CX_ERR_FORMAT, "data: \"features\"[%zu] is not a string", i);
                goto fail;
            }
            if ((rc = cx_dataset_schema_add_feature(s, json_string_value(v), e)) != CX_OK)
                goto fail;
        }
    }
    const char *label = NULL, *lt = "class", *miss = "reject", *delim = ",";
    if ((rc = cx_json_get_string(j, "label", 0, &label, e)) != CX_OK ||
        (rc = cx_json_get_string(j, "label_type", 0, &lt, e)) != CX_OK ||
        (rc = cx_json_get_string(j, "missing", 0, &miss, e)) != CX_OK ||
        (rc = cx_json_get_string(j, "delimiter", 0, &delim, e)) != CX_OK)
        goto fail;
    cx_label_kind lk;
    if (strcmp(lt, "class") == 0)
        lk = CX_LABEL_CLASS;
    else if (strcmp(lt, "numeric") == 0)
        lk = CX_LABEL_NUMERIC;
    else {
        rc =
            cx_error_set(e, CX_ERR_FORMAT, "data: \"label_type\" must be \"class\" or \"numeric\"");
        goto fail;
    }
    if (label && (rc = cx_dataset_schema_set_label(s, label, lk, e)) != CX_OK)
        goto fail;
    const json_t *c = json_object_get(j, "categorical");
    if (c) {
        if (!json_is_object(c)) {
            rc = cx_error_set(e, CX_ERR_FORMAT,
                              "data: \"categorical\" must map names to a vocabulary or null");
            goto fail;
        }
        const char *name;
        const json_t *v;
        json_object_foreach((json_t *)c, name, v)
        {
            const char **voc = NULL;
            size_t nv = 0;
            if (json_is_array(v)) {
                nv = json_array_size(v);
                voc = calloc(nv ? nv : 1, sizeof *voc);
                if (!voc) {
                    rc = cx_error_set(e, CX_ERR_NOMEM, "data: out of memory");
                    goto fail;
                }
                for (size_t i = 0; i < nv; i++) {
                    voc[i] = json_string_value(json_array_get(v, i));
                    if (!voc[i]) {
                        free(voc);
                        rc = cx_error_set(e, CX_ERR_FORMAT,
                                          "data: \"categorical\".\"%s\"[%zu] is not a string", name,
                                          i);
                        goto fail;
                    }
                }
            } else if (!json_is_null(v)) {
                rc = cx_error_set(e, CX_ERR_FORMAT,
                                  "data: \"categorical\".\"%s\" must be an array or null", name);
                goto fail;
            }
            rc = cx_dataset_schema_add_categorical(s, name, voc, nv, e);
            free(voc);
            if (rc != CX_OK) {
                e->code = CX_ERR_FORMAT;
                goto fail;
            }
        }
    }
    double fill = 0, frac = 0;
    if ((rc = cx_json_get_number(j, "fill_value", 0, -3.4e38, 3.4e38, &fill, e)) != CX_OK ||
        (rc = cx_json_get_number(j, "max_bad_fraction", 0, 0.0, 1.0, &frac, e)) != CX_OK)
        goto fail;
    cx_missing_policy mp;
    if (strcmp(miss, "reject") == 0)
        mp = CX_MISSING_REJECT;
    else if (strcmp(miss, "mean") == 0)
        mp = CX_MISSING_FILL_MEAN;
    else if (strcmp(miss, "value") == 0)
        mp = CX_MISSING_FILL_VALUE;
    else if (strcmp(miss, "keep") == 0)
        mp = CX_MISSING_KEEP_NAN;
    else {
        rc = cx_error_set(e, CX_ERR_FORMAT,
                          "data: \"missing\" must be \"reject\", \"mean\", \"value\" or \"keep\"");
        goto fail;
    }
    s->missing = mp;
    s->fill_value = (float)fill;
    s->max_bad_fraction = frac;
    int header = 1;
    int64_t skip = 0, maxrec = (int64_t)CX_MAX_RECORD_BYTES_DEFAULT;
    if ((rc = cx_json_get_bool(j, "header", 0, &header, e)) != CX_OK ||
        (rc = cx_json_get_int(j, "skip_lines", 0, 0, 1000000, &skip, e)) != CX_OK ||
        (rc = cx_json_get_int(j, "max_record_bytes", 0, 1, (int64_t)CX_MAX_RECORD_BYTES_MAX,
                              &maxrec, e)) != CX_OK)
        goto fail;
    s->max_record_bytes = (size_t)maxrec;
    if (strlen(delim) != 1 || cx_dataset_schema_set_csv(s, delim[0], header, (size_t)skip, NULL)) {
        rc = cx_error_set(e, CX_ERR_FORMAT,
                          "data: \"delimiter\" must be one character (not a quote)");
        goto fail;
    }
    *out = s;
    return CX_OK;
fail:
    cx_dataset_schema_free(s);
    return rc;
}

/* ---------------------------------------------------------------- layout -- */

void cx_layout_free(cx_layout *L)
{
    cx_names_free(L->col_names, L->n_cols);
    free(L->col_slot);
    cx_dict_free(&L->col_dict);
    free(L->slot_kind);
    free(L->slot_cat);
    free(L->slot_col);
    memset(L, 0, sizeof *L);
}

static int64_t find_col(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int64_t)i;
    return -1;
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
    if (!L->col_slot || !L->slot_kind || !L->slot_cat || !L->slot_col) {
        cx_layout_free(L);
        return cx_error_set(e, CX_ERR_NOMEM, "layout: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        L->col_slot[i] = -1;
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
    int64_t lcol = -1;
    if (s->label) {
        lcol = find_col(names, n, s->label);
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
            col = find_col(names, n, s->features[i]);
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
        int64_t ci = find_col(s->cat_names, s->n_cat, names[col]);
        L->col_slot[col] = (int32_t)ns;
        L->slot_col[ns] = (int32_t)col;
        L->slot_kind[ns] = ci >= 0 ? SLOT_CAT : SLOT_NUM;
        L->slot_cat[ns] = (int32_t)ci;
        ns++;
    }
    for (size_t c = 0; c < s->n_cat; c++) {
        int64_t col = find_col(names, n, s->cat_names[c]);
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

/* --------------------------------------------------------------- segment -- */

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

static void put_id(float *row, int32_t slot, uint32_t id)
{
    memcpy(&row[slot], &id, sizeof id);
}

static uint32_t get_id(const float *row, int32_t slot)
{
    uint32_t id;
    memcpy(&id, &row[slot], sizeof id);
    return id;
}

int cx_seg_put_missing(cx_seg *s, float *row, int32_t slot)
{
    int k = s->lay->slot_kind[slot];
    if (k == SLOT_LABEL_NUM || k == SLOT_LABEL_CLASS)
        return CX_BAD_LABEL;
    if (s->schema->missing == CX_MISSING_REJECT)
        return CX_BAD_MISSING;
    if (k == SLOT_CAT)
        put_id(row, slot, CX_CAT_MISSING);
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
    } else if ((id = cx_dict_intern(&s->labels, p, len)) == CX_DICT_NONE) {
        s->oom = CX_ERR_NOMEM;
        return CX_BAD_LABEL;
    }
    put_id(row, slot, id);
    return 0;
}

/* ---------------------------------------------------------------- parser -- */

typedef struct cx_blob_state {
    cx_layout lay;
    int have_lay;
    cx_seg *segs;
    size_t n_segs;
    char *carry; /* cx_secmem: the partial record between chunks */
    size_t carry_len, carry_cap;
    cx_csv_scan scan; /* how far the carried record is known to be incomplete */
    size_t skip_left;
    uint64_t pre_lines; /* lines consumed before the first data row */
    /* f32 */
    uint64_t f32_rows, f32_seen;
    size_t f32_rowbytes;
    int ended, failed;
    char error[256];
} cx_blob_state;

struct cx_parser {
    const cx_dataset_schema *schema;
    cx_data_format fmt;
    size_t n_blobs;
    cx_blob_state *blobs;
};

cx_err cx_parser_new(const cx_dataset_schema *s, cx_data_format fmt, size_t n_blobs,
                     cx_parser **out, cx_error *e)
{
    if (!s || !out || n_blobs == 0 || fmt > CX_DATA_F32)
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
    p->fmt = fmt;
    p->n_blobs = n_blobs;
    for (size_t i = 0; i < n_blobs; i++) {
        p->blobs[i].skip_left = fmt == CX_DATA_F32 ? 0 : s->skip_lines;
        p->blobs[i].scan = (cx_csv_scan)CX_CSV_SCAN_INIT;
    }
    *out = p;
    return CX_OK;
}

static void blob_reset_segs(cx_blob_state *b)
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
        blob_reset_segs(b);
        if (b->have_lay)
            cx_layout_free(&b->lay);
        cx_secmem_free(b->carry);
    }
    free(p->blobs);
    free(p);
}

static cx_err blob_fail(cx_blob_state *b, size_t idx, cx_error *e)
{
    b->failed = 1;
    cx_error_prefix(e, "blob %zu: ", idx);
    snprintf(b->error, sizeof b->error, "%.250s", e ? e->msg : "failed");
    blob_reset_segs(b);
    cx_secmem_free(b->carry);
    b->carry = NULL;
    b->carry_len = b->carry_cap = 0;
    b->scan = (cx_csv_scan)CX_CSV_SCAN_INIT;
    return e ? e->code : CX_ERR_FORMAT;
}

static cx_err blob_segs(cx_parser *p, cx_blob_state *b, size_t n, cx_error *e)
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

static uint64_t count_nl(const char *p, const char *end)
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

/* JSONL with named features needs no first record: the columns are the schema's. */
static cx_err layout_from_schema(cx_parser *p, cx_blob_state *b, cx_error *e)
{
    const cx_dataset_schema *s = p->schema;
    size_t n = s->n_features + (s->label ? 1 : 0);
    char **names = calloc(n, sizeof *names);
    if (!names)
        return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
    for (size_t i = 0; i < n; i++) {
        names[i] = strdup(i < s->n_features ? s->features[i] : s->label);
        if (!names[i]) {
            cx_names_free(names, i);
            return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
        }
    }
    cx_err rc = cx_layout_build(&b->lay, s, names, n, 0, e);
    if (rc != CX_OK)
        return rc;
    b->have_lay = 1;
    return blob_segs(p, b, 1, e);
}

/* Records before the data: skipped lines, the CSV header, the first JSONL object that
 * names the columns. *consumed says whether the record is used up (else it is data). */
static cx_err pre_record(cx_parser *p, cx_blob_state *b, const char *r, const char *re,
                         int *consumed, cx_error *e)
{
    const cx_dataset_schema *s = p->schema;
    *consumed = 1;
    if (b->skip_left) {
        b->skip_left--;
        b->pre_lines += count_nl(r, re) + (re > r && re[-1] != '\n');
        return CX_OK;
    }
    if (blank(r, re)) {
        b->pre_lines += count_nl(r, re);
        return CX_OK;
    }
    char **names = NULL;
    size_t n = 0;
    cx_err rc;
    int json_all = 0;
    if (p->fmt == CX_DATA_JSONL && s->n_features) {
        *consumed = 0;
        return layout_from_schema(p, b, e);
    }
    if (p->fmt == CX_DATA_CSV) {
        rc = cx_csv_split_header(r, re, s->delimiter, &names, &n, e);
        if (rc != CX_OK)
            return rc;
        if (s->has_header) {
            b->pre_lines += count_nl(r, re) + (re > r && re[-1] != '\n');
        } else {
            for (size_t i = 0; i < n; i++) {
                char nm[32];
                snprintf(nm, sizeof nm, "c%zu", i);
                char *d = strdup(nm);
                if (!d) {
                    cx_names_free(names, n);
                    return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
                }
                /* the record is data: its text must not outlive it as a name */
                cx_memwipe(names[i], strlen(names[i]));
                free(names[i]);
                names[i] = d;
            }
            *consumed = 0;
        }
    } else {
        rc = cx_jsonl_keys(r, re, &names, &n, e);
        if (rc != CX_OK)
            return rc;
        json_all = 1;
        *consumed = 0;
    }
    rc = cx_layout_build(&b->lay, s, names, n, json_all, e);
    if (rc != CX_OK)
        return rc;
    b->have_lay = 1;
    return blob_segs(p, b, 1, e);
}

static int need_pre(const cx_parser *p, const cx_blob_state *b)
{
    (void)p;
    return b->skip_left > 0 || !b->have_lay;
}

static const char *record_end(const cx_parser *p, const char *r, const char *end, int eof)
{
    if (p->fmt == CX_DATA_CSV)
        return cx_csv_record_end(r, end, p->schema->delimiter, eof);
    const char *nl = memchr(r, '\n', (size_t)(end - r));
    return nl ? nl + 1 : eof ? end : NULL;
}

/* record_end of the carried record, resumed where the previous call found it incomplete:
 * a record that grows a line (or a chunk) at a time is then scanned once in all. */
static const char *carry_record_end(const cx_parser *p, cx_blob_state *b, int eof)
{
    const char *c = b->carry, *end = c + b->carry_len;
    if (p->fmt == CX_DATA_CSV)
        return cx_csv_record_end_resume(c, end, p->schema->delimiter, eof, &b->scan);
    const char *nl = memchr(c + b->scan.off, '\n', b->carry_len - b->scan.off);
    if (nl)
        return nl + 1;
    if (eof)
        return end;
    b->scan.off = b->carry_len;
    return NULL;
}

static const char *parse_data(const cx_parser *p, cx_seg *s, const char *r, const char *end,
                              int eof)
{
    return p->fmt == CX_DATA_CSV ? cx_csv_parse(s, r, end, end, eof)
                                 : cx_jsonl_parse(s, r, end, end, eof);
}

static const char *parse_data_limit(const cx_parser *p, cx_seg *s, const char *r, const char *limit,
                                    const char *end)
{
    return p->fmt == CX_DATA_CSV ? cx_csv_parse(s, r, limit, end, 1)
                                 : cx_jsonl_parse(s, r, limit, end, 1);
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
                        p->fmt == CX_DATA_CSV ? "; an unterminated quoted field?" : "");
}

static cx_err seg_status(const cx_seg *s, cx_error *e)
{
    if (s->oom)
        return cx_error_set(e, CX_ERR_NOMEM, "out of memory storing rows");
    return CX_OK;
}

/* One complete record [r, re) (from the carry). */
static cx_err one_record(cx_parser *p, cx_blob_state *b, const char *r, const char *re, int eof,
                         cx_error *e)
{
    if (need_pre(p, b)) {
        int consumed;
        cx_err rc = pre_record(p, b, r, re, &consumed, e);
        if (rc != CX_OK || consumed)
            return rc;
    }
    cx_seg *s = &b->segs[0];
    const char *q = parse_data(p, s, r, re, 1);
    (void)eof;
    if (s->oom)
        return seg_status(s, e);
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
                        100.0 * p->schema->max_bad_fraction, p->fmt == CX_DATA_F32 ? "row" : "line",
                        (unsigned long long)(first ? first->line : 0),
                        first ? cx_bad_reason_name(first->reason) : "?");
}

static cx_err finish_blob(cx_parser *p, cx_blob_state *b, cx_error *e)
{
    b->ended = 1;
    if (!b->have_lay)
        return cx_error_set(e, CX_ERR_FORMAT, "no %s",
                            p->fmt == CX_DATA_F32                            ? "f32 header"
                            : p->fmt == CX_DATA_CSV && p->schema->has_header ? "CSV header"
                                                                             : "records");
    if (p->fmt == CX_DATA_F32 && b->f32_seen != b->f32_rows)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: %llu rows announced, %llu present",
                            (unsigned long long)b->f32_rows, (unsigned long long)b->f32_seen);
    return check_bad_fraction(p, b, e);
}

static cx_err feed_text(cx_parser *p, cx_blob_state *b, const char *d, const char *end, int last,
                        cx_error *e)
{
    cx_err rc;
    /* finish the record carried from the previous chunk, a line at a time */
    while (b->carry_len > 0) {
        if (d == end && !last)
            return CX_OK;
        const char *nl = memchr(d, '\n', (size_t)(end - d));
        const char *take = nl ? nl + 1 : end;
        if ((rc = carry_append(b, d, (size_t)(take - d), e)) != CX_OK ||
            (rc = carry_check(p, b, e)) != CX_OK)
            return rc;
        d = take;
        int eof = last && d == end;
        const char *cend = b->carry + b->carry_len;
        const char *re = carry_record_end(p, b, eof);
        if (!re)
            continue;
        if ((rc = one_record(p, b, b->carry, re, eof, e)) != CX_OK)
            return rc;
        size_t rest = (size_t)(cend - re);
        memmove(b->carry, re, rest);
        b->carry_len = rest;
        b->scan = (cx_csv_scan)CX_CSV_SCAN_INIT;
        if (rest && eof) {
            /* more complete records after the first (only when the chunk ended the blob) */
            continue;
        }
    }
    while (need_pre(p, b) && d < end) {
        const char *re = record_end(p, d, end, last);
        if (!re)
            break;
        int consumed;
        if ((rc = pre_record(p, b, d, re, &consumed, e)) != CX_OK)
            return rc;
        if (!consumed)
            break;
        d = re;
    }
    if (!need_pre(p, b) && d < end) {
        cx_seg *s = &b->segs[0];
        d = parse_data(p, s, d, end, last);
        if ((rc = seg_status(s, e)) != CX_OK)
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

static cx_err f32_layout(cx_parser *p, cx_blob_state *b, const uint8_t *h, size_t len, size_t *need,
                         size_t *off, cx_error *e)
{
    uint32_t cols;
    int32_t lc;
    char **names;
    cx_err rc = cx_f32_header_parse(h, len, need, &b->f32_rows, &cols, &lc, &names, off, e);
    if (rc != CX_OK)
        return rc;
    if ((rc = cx_layout_build(&b->lay, p->schema, names, cols, 0, e)) != CX_OK)
        return rc;
    b->have_lay = 1;
    b->f32_rowbytes = (size_t)cols * 4;
    if ((rc = blob_segs(p, b, 1, e)) != CX_OK)
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

static cx_err feed_f32(cx_parser *p, cx_blob_state *b, const uint8_t *d, size_t len, int last,
                       cx_error *e)
{
    cx_err rc;
    if (!b->have_lay) {
        if ((rc = carry_append(b, (const char *)d, len, e)) != CX_OK)
            return rc;
        size_t need = 0, off = 0;
        cx_error e2;
        rc = f32_layout(p, b, (const uint8_t *)b->carry, b->carry_len, &need, &off, &e2);
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
    if (b->carry_len) {
        size_t take = rb - b->carry_len % rb;
        if (b->carry_len >= rb)
            take = 0;
        if (take > len)
            take = len;
        if ((rc = carry_append(b, (const char *)d, take, e)) != CX_OK)
            return rc;
        d += take;
        len -= take;
        size_t nr = b->carry_len / rb;
        if (b->f32_seen + nr > b->f32_rows)
            return cx_error_set(e, CX_ERR_FORMAT, "f32: more rows than the header announces");
        cx_f32_rows(s, (const uint8_t *)b->carry, nr, b->f32_seen);
        b->f32_seen += nr;
        size_t rest = b->carry_len - nr * rb;
        memmove(b->carry, b->carry + nr * rb, rest);
        b->carry_len = rest;
    }
    size_t nr = len / rb;
    if (b->f32_seen + nr > b->f32_rows)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: more rows than the header announces");
    if (nr) {
        cx_f32_rows(s, d, nr, b->f32_seen);
        b->f32_seen += nr;
    }
    if ((rc = seg_status(s, e)) != CX_OK)
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
    cx_err rc = CX_OK;
    static const char empty[1] = {0};
    const char *d = bytes ? (const char *)bytes : empty;
    if (p->fmt == CX_DATA_F32)
        rc = feed_f32(p, b, (const uint8_t *)d, len, is_last, e);
    else
        rc = feed_text(p, b, d, d + len, is_last, e);
    if (rc == CX_OK && is_last)
        rc = finish_blob(p, b, e);
    if (rc != CX_OK)
        return blob_fail(b, blob, e);
    if (is_last) {
        cx_secmem_free(b->carry);
        b->carry = NULL;
        b->carry_len = b->carry_cap = 0;
        b->scan = (cx_csv_scan)CX_CSV_SCAN_INIT;
    }
    return CX_OK;
}

/* ---------------------------------------------------------------- merge -- */

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

/* Union of the names of one dictionary over all good segments, sorted; fills per-segment
 * remaps (local id -> global index). */
typedef struct seg_ref {
    cx_blob_state *b;
    cx_seg *s;
    size_t row0;
    const int32_t *perm; /* reference slot -> this blob's slot */
} seg_ref;

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
    size_t n = all.n;
    char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) {
        cx_dict_free(&all);
        return cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
    }
    if (n)
        memcpy(names, all.names, n * sizeof *names);
    qsort(names, n, sizeof *names, numeric_sort && all_numeric(names, n) ? cmp_num : cmp_str);
    /* the sorted order is the global id: rebuild the dict in that order */
    free(all.slots);
    free(all.names);
    free(all.lens);
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

static cx_err merge(cx_parser *p, cx_dataset **out, cx_error *e)
{
    const cx_dataset_schema *s = p->schema;
    cx_err rc = CX_OK;
    cx_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
    ds->n_blobs = p->n_blobs;
    ds->blobs = calloc(p->n_blobs, sizeof *ds->blobs);
    size_t ref = SIZE_MAX;
    for (size_t i = 0; i < p->n_blobs && ref == SIZE_MAX; i++)
        if (!p->blobs[i].failed)
            ref = i;
    int32_t **perms = calloc(p->n_blobs, sizeof *perms);
    seg_ref *refs = NULL;
    uint32_t ***cat_remap = NULL, **lab_remap = NULL;
    char ***cat_names = NULL;
    size_t *cat_n = NULL, nref = 0;
    double *fill = NULL;
    size_t *col_off = NULL;
    if (!ds->blobs || !perms) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
        goto done;
    }
    if (ref == SIZE_MAX) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "no blob could be parsed (blob 0: %s)",
                          p->blobs[0].error);
        goto done;
    }
    const cx_layout *R = &p->blobs[ref].lay;
    const size_t nfeat = R->n_slots - (R->label_slot >= 0);
    /* map every blob's slots onto the reference blob's by column name */
    size_t nseg = 0;
    for (size_t i = 0; i < p->n_blobs; i++) {
        cx_blob_state *b = &p->blobs[i];
        if (b->failed)
            continue;
        perms[i] = malloc(R->n_slots * sizeof **perms);
        if (!perms[i]) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
            goto done;
        }
        int ok = b->lay.n_slots == R->n_slots;
        for (size_t k = 0; ok && k < R->n_slots; k++) {
            const char *nm = R->col_names[R->slot_col[k]];
            int64_t col = find_col(b->lay.col_names, b->lay.n_cols, nm);
            ok = col >= 0 && b->lay.col_slot[col] >= 0;
            if (ok)
                perms[i][k] = b->lay.col_slot[col];
        }
        if (!ok) {
            b->failed = 1;
            snprintf(b->error, sizeof b->error, "blob %zu: columns differ from blob %zu", i, ref);
            blob_reset_segs(b);
            continue;
        }
        nseg += b->n_segs;
    }
    refs = calloc(nseg ? nseg : 1, sizeof *refs);
    if (!refs) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < p->n_blobs; i++) {
        cx_blob_state *b = &p->blobs[i];
        if (b->failed)
            continue;
        for (size_t k = 0; k < b->n_segs; k++) {
            refs[nref++] = (seg_ref){b, &b->segs[k], n, perms[i]};
            n += b->segs[k].n_rows;
        }
    }
    if (n == 0) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "no rows accepted");
        goto done;
    }
    /* vocabularies and classes */
    cat_remap = calloc(s->n_cat ? s->n_cat : 1, sizeof *cat_remap);
    cat_names = calloc(s->n_cat ? s->n_cat : 1, sizeof *cat_names);
    cat_n = calloc(s->n_cat ? s->n_cat : 1, sizeof *cat_n);
    if (!cat_remap || !cat_names || !cat_n) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
        goto done;
    }
    for (size_t c = 0; c < s->n_cat; c++) {
        if (s->cat_given[c]) {
            cat_n[c] = s->cat_vocab[c].n;
            continue;
        }
        cat_remap[c] = calloc(nref, sizeof **cat_remap);
        if (!cat_remap[c]) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
            goto done;
        }
        if ((rc = union_dict(refs, nref, (int)c, 0, &cat_names[c], &cat_n[c], cat_remap[c], e)) !=
            CX_OK)
            goto done;
    }
    ds->label_kind = R->label_slot >= 0 ? s->label_kind : CX_LABEL_NONE;
    if (ds->label_kind == CX_LABEL_CLASS) {
        lab_remap = calloc(nref, sizeof *lab_remap);
        if (!lab_remap) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
            goto done;
        }
        if ((rc = union_dict(refs, nref, -1, 1, &ds->class_names, &ds->n_classes, lab_remap, e)) !=
            CX_OK)
            goto done;
    }
    /* output columns and the mean of each numeric column for FILL_MEAN */
    col_off = malloc((nfeat + 1) * sizeof *col_off);
    fill = calloc(nfeat ? nfeat : 1, sizeof *fill);
    if (!col_off || !fill) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
        goto done;
    }
    size_t d = 0;
    for (size_t k = 0; k < nfeat; k++) {
        col_off[k] = d;
        d += R->slot_kind[k] == SLOT_CAT ? cat_n[R->slot_cat[k]] : 1;
    }
    col_off[nfeat] = d;
    if (d == 0) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "no feature values (empty vocabularies)");
        goto done;
    }
    if (s->missing == CX_MISSING_FILL_MEAN) {
        for (size_t k = 0; k < nfeat; k++) {
            if (R->slot_kind[k] != SLOT_NUM)
                continue;
            /* summed in blocks of 4096 global rows, blocks added in order: the same
             * double whatever the number of segments (threads) the rows came in */
            double sum = 0, part = 0;
            uint64_t cnt = 0;
            for (size_t r = 0; r < nref; r++) {
                const cx_seg *sg = refs[r].s;
                const int32_t slot = refs[r].perm[k];
                for (size_t i = 0; i < sg->n_rows; i++) {
                    if (((refs[r].row0 + i) & 4095) == 0) {
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
            fill[k] = cnt ? sum / (double)cnt : 0.0;
        }
        ds->fill_values = malloc(d * sizeof *ds->fill_values);
        if (!ds->fill_values)
            goto oom;
        for (size_t k = 0; k < nfeat; k++)
            for (size_t c = col_off[k]; c < col_off[k + 1]; c++)
                ds->fill_values[c] = R->slot_kind[k] == SLOT_NUM ? (float)fill[k] : NAN;
    }
    ds->feature_names = calloc(d, sizeof *ds->feature_names);
    if (!ds->feature_names) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
        goto done;
    }
    ds->d = d;
    for (size_t k = 0; k < nfeat; k++) {
        const char *nm = R->col_names[R->slot_col[k]];
        if (R->slot_kind[k] != SLOT_CAT) {
            ds->feature_names[col_off[k]] = strdup(nm);
            if (!ds->feature_names[col_off[k]])
                goto oom;
            continue;
        }
        int32_t c = R->slot_cat[k];
        for (size_t v = 0; v < cat_n[c]; v++) {
            const char *val = s->cat_given[c] ? s->cat_vocab[c].names[v] : cat_names[c][v];
            size_t l = strlen(nm) + strlen(val) + 2;
            char *f = malloc(l);
            if (!f)
                goto oom;
            snprintf(f, l, "%s=%s", nm, val);
            ds->feature_names[col_off[k] + v] = f;
        }
    }
    if (R->label_slot >= 0 && !(ds->label_name = strdup(R->col_names[R->slot_col[R->label_slot]])))
        goto oom;
    if (n > SIZE_MAX / sizeof(float) / d) {
        rc = cx_error_set(e, CX_ERR_LIMIT, "merge: dataset too large");
        goto done;
    }
    ds->X = cx_secmem_alloc(n * d * sizeof(float), 0, e);
    if (!ds->X) {
        rc = CX_ERR_NOMEM;
        goto done;
    }
    if (ds->label_kind != CX_LABEL_NONE && !(ds->y = cx_secmem_alloc(n * sizeof(float), 0, e))) {
        rc = CX_ERR_NOMEM;
        goto done;
    }
    ds->n = n;
    /* copy every segment's rows into place: each segment writes its own row range */
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t r = 0; r < nref; r++) {
        const cx_seg *sg = refs[r].s;
        const int32_t *perm = refs[r].perm;
        const size_t w = sg->lay->n_slots;
        for (size_t i = 0; i < sg->n_rows; i++) {
            const float *src = sg->rows + i * w;
            float *dst = ds->X + (refs[r].row0 + i) * d;
            memset(dst, 0, d * sizeof *dst);
            for (size_t k = 0; k < nfeat; k++) {
                int32_t slot = perm[k];
                if (R->slot_kind[k] == SLOT_CAT) {
                    uint32_t id = get_id(src, slot);
                    int32_t c = R->slot_cat[k];
                    if (id == CX_CAT_MISSING)
                        continue;
                    dst[col_off[k] + (s->cat_given[c] ? id : cat_remap[c][r][id])] = 1.0f;
                } else {
                    float v = src[slot];
                    if (isnan(v) && s->missing == CX_MISSING_FILL_MEAN)
                        v = (float)fill[k];
                    dst[col_off[k]] = v;
                }
            }
            if (ds->label_kind == CX_LABEL_NUMERIC)
                ds->y[refs[r].row0 + i] = src[perm[nfeat]];
            else if (ds->label_kind == CX_LABEL_CLASS)
                ds->y[refs[r].row0 + i] = (float)lab_remap[r][get_id(src, perm[nfeat])];
        }
    }
    goto done;
oom:
    rc = cx_error_set(e, CX_ERR_NOMEM, "merge: out of memory");
done:
    if (ds->blobs) {
        for (size_t i = 0; i < p->n_blobs; i++) {
            cx_blob_state *b = &p->blobs[i];
            cx_blob_rows *o = &ds->blobs[i];
            o->failed = b->failed;
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
    for (size_t c = 0; cat_remap && c < s->n_cat; c++) {
        free_remaps(cat_remap[c], cat_remap[c] ? nref : 0);
        if (cat_names && cat_names[c])
            cx_names_free(cat_names[c], cat_n[c]);
    }
    free(cat_remap);
    free(cat_names);
    free(cat_n);
    free_remaps(lab_remap, lab_remap ? nref : 0);
    for (size_t i = 0; perms && i < p->n_blobs; i++)
        free(perms[i]);
    free(perms);
    free(refs);
    free(fill);
    free(col_off);
    if (rc != CX_OK) {
        cx_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return CX_OK;
}

cx_err cx_parser_finalize(cx_parser *p, cx_dataset **out, cx_error *e)
{
    if (!p || !out)
        return cx_error_set(e, CX_ERR_ARG, "parser finalize: bad arguments");
    for (size_t i = 0; i < p->n_blobs; i++)
        if (!p->blobs[i].ended && !p->blobs[i].failed)
            return cx_error_set(e, CX_ERR_STATE, "parser finalize: blob %zu not ended", i);
    return merge(p, out, e);
}

/* ------------------------------------------------------- parallel files -- */

/* Parse the data part [d, end) of one text blob on nt threads: cut at newlines, let
 * each thread take the rows that start in its piece, then re-parse any piece whose
 * guessed start was inside a quoted field (the previous piece ended elsewhere). */
static cx_err parse_pieces(cx_parser *p, cx_blob_state *b, const char *d, const char *end, int nt,
                           cx_error *e)
{
    size_t len = (size_t)(end - d);
    if (nt < 1 || len < ((size_t)1 << 20))
        nt = 1;
    uint64_t line0 = b->segs[0].line;
    blob_reset_segs(b);
    cx_err rc = blob_segs(p, b, (size_t)nt, e);
    if (rc != CX_OK)
        return rc;
    const char **st = calloc((size_t)nt + 1, sizeof *st);
    const char **en = calloc((size_t)nt, sizeof *en);
    if (!st || !en) {
        free(st);
        free(en);
        return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
    }
    st[0] = d;
    st[nt] = end;
    for (int k = 1; k < nt; k++) {
        const char *g = d + len / (size_t)nt * (size_t)k - 1;
        if (g < st[k - 1])
            g = st[k - 1];
        const char *nl = memchr(g, '\n', (size_t)(end - g));
        st[k] = nl ? nl + 1 : end;
    }
    /* reserve each piece's rows from the line density of the first 256 KiB, so that
     * storage does not grow (copy, wipe) while parsing */
    size_t probe = len < ((size_t)256 << 10) ? len : ((size_t)256 << 10);
    size_t lines = (size_t)count_nl(d, d + probe) + 1;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int k = 0; k < nt; k++) {
        b->segs[k].line = 1;
        size_t plen = (size_t)(st[k + 1] - st[k]);
        (void)cx_seg_reserve(&b->segs[k],
                             (size_t)((double)plen / (double)probe * (double)lines * 1.05) + 16);
        b->segs[k].oom = CX_OK;
        en[k] = st[k] < st[k + 1] ? parse_data_limit(p, &b->segs[k], st[k], st[k + 1], end) : st[k];
    }
    for (int k = 1; k < nt && rc == CX_OK; k++) {
        if (en[k - 1] == st[k])
            continue;
        /* the guess was wrong (a quoted newline): redo this piece from the true start */
        cx_seg_free(&b->segs[k]);
        if ((rc = cx_seg_init(&b->segs[k], p->schema, &b->lay, e)) != CX_OK)
            break;
        b->segs[k].line = 1;
        st[k] = en[k - 1];
        en[k] = st[k] < st[k + 1] ? parse_data_limit(p, &b->segs[k], st[k], st[k + 1], end) : st[k];
    }
    /* line numbers: each piece counted from 1; shift by the lines before it */
    uint64_t base = line0 - 1;
    for (int k = 0; k < nt && rc == CX_OK; k++) {
        cx_seg *s = &b->segs[k];
        if (s->oom)
            rc = seg_status(s, e);
        for (size_t j = 0; j < s->n_listed; j++)
            s->listed[j].line += base;
        base += s->line - 1;
    }
    free(st);
    free(en);
    return rc;
}

static cx_err load_one(cx_parser *p, size_t idx, const char *path, int nt, cx_error *e)
{
    cx_blob_state *b = &p->blobs[idx];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cx_error_errno(e, errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO, errno, "open %s",
                              path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return cx_error_errno(e, CX_ERR_IO, err, "stat %s", path);
    }
    size_t len = (size_t)st.st_size;
    const char *map = NULL;
    if (len) {
        void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int err = errno;
            close(fd);
            return cx_error_errno(e, CX_ERR_IO, err, "mmap %s", path);
        }
        map = m;
        (void)madvise(m, len, MADV_SEQUENTIAL | MADV_WILLNEED);
    }
    close(fd);
    cx_err rc = CX_OK;
    const char *d = map ? map : "", *end = d + len;
    if (p->fmt == CX_DATA_F32) {
        size_t need = 0, off = 0;
        rc = f32_layout(p, b, (const uint8_t *)d, len, &need, &off, e);
        if (rc == CX_ERR_STATE)
            rc = cx_error_set(e, CX_ERR_FORMAT, "f32: file ends inside the header");
        if (rc == CX_OK) {
            const size_t rb = b->f32_rowbytes;
            size_t nr = (len - off) / rb;
            if ((len - off) % rb)
                rc = cx_error_set(e, CX_ERR_FORMAT, "f32: data ends inside a row");
            else if (nr != b->f32_rows)
                rc = cx_error_set(e, CX_ERR_FORMAT, "f32: %llu rows announced, %zu present",
                                  (unsigned long long)b->f32_rows, nr);
            if (nt < 1 || nr * rb < ((size_t)1 << 20))
                nt = 1;
            if (rc == CX_OK) {
                blob_reset_segs(b);
                rc = blob_segs(p, b, (size_t)nt, e);
            }
            if (rc == CX_OK) {
#pragma omp parallel for num_threads(nt) schedule(static, 1)
                for (int k = 0; k < nt; k++) {
                    size_t r0 = nr * (size_t)k / (size_t)nt, r1 = nr * (size_t)(k + 1) / (size_t)nt;
                    if (cx_seg_reserve(&b->segs[k], r1 - r0))
                        cx_f32_rows(&b->segs[k], (const uint8_t *)d + off + r0 * rb, r1 - r0, r0);
                }
                b->f32_seen = nr;
                for (int k = 0; k < nt && rc == CX_OK; k++)
                    rc = seg_status(&b->segs[k], e);
            }
        }
    } else {
        while (rc == CX_OK && need_pre(p, b) && d < end) {
            const char *re = record_end(p, d, end, 1);
            int consumed;
            if ((rc = pre_record(p, b, d, re, &consumed, e)) != CX_OK || !consumed)
                break;
            d = re;
        }
        if (rc == CX_OK && b->have_lay && !need_pre(p, b) && d < end)
            rc = parse_pieces(p, b, d, end, nt, e);
    }
    if (rc == CX_OK)
        rc = finish_blob(p, b, e);
    if (map)
        munmap((void *)map, len);
    if (rc != CX_OK) {
        cx_error_prefix(e, "%s: ", path);
        return blob_fail(b, idx, e);
    }
    return CX_OK;
}

cx_err cx_dataset_load_files(const cx_dataset_schema *s, const char *const *paths, size_t n_paths,
                             int threads, cx_dataset **out, cx_error *e)
{
    if (!s || !paths || n_paths == 0 || !out)
        return cx_error_set(e, CX_ERR_ARG, "load: needs a schema and files");
    cx_data_format fmt = cx_data_format_from_path(paths[0]);
    for (size_t i = 1; i < n_paths; i++)
        if (cx_data_format_from_path(paths[i]) != fmt)
            return cx_error_set(e, CX_ERR_ARG, "load: %s: all files must have one format",
                                paths[i]);
    cx_error local;
    if (!e)
        e = &local;
    int nt = threads > 0 ? threads : omp_get_max_threads();
    cx_parser *p;
    cx_err rc = cx_parser_new(s, fmt, n_paths, &p, e);
    if (rc != CX_OK)
        return rc;
    if (n_paths >= (size_t)nt && nt > 1) {
        /* enough files for every thread: one file per thread at a time */
        cx_error *errs = calloc(n_paths, sizeof *errs);
        cx_err *rcs = calloc(n_paths, sizeof *rcs);
        if (!errs || !rcs) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "load: out of memory");
        } else {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
            for (size_t i = 0; i < n_paths; i++)
                rcs[i] = load_one(p, i, paths[i], 1, &errs[i]);
            for (size_t i = 0; i < n_paths && rc == CX_OK; i++)
                if ((rc = rcs[i]) != CX_OK)
                    *e = errs[i];
        }
        free(errs);
        free(rcs);
    } else {
        for (size_t i = 0; i < n_paths && rc == CX_OK; i++)
            rc = load_one(p, i, paths[i], nt, e);
    }
    if (rc == CX_OK)
        rc = cx_parser_finalize(p, out, e);
    cx_parser_free(p);
    return rc;
}
