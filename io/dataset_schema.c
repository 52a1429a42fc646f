/* dataset_schema.c — the dataset schema: which columns are features, the label, the
 * categoricals and their vocabularies, missing values, CSV options; in code or from JSON. */
#include "parse_internal.h"

#include <stdlib.h>

cx_err cx_dataset_schema_new(cx_dataset_schema **out, cx_error *e)
{
    cx_dataset_schema *s = calloc(1, sizeof *s);
    if (!s)
        return cx_error_set(e, CX_ERR_NOMEM, "schema: out of memory");
    s->delimiter = ',';
    s->has_header = 1;
    s->missing = CX_MISSING_REJECT;
    s->max_record_bytes = CX_MAX_RECORD_BYTES_DEFAULT;
    cx_dict_init(&s->classes);
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
    cx_names_free(s->columns, s->n_columns);
    free(s->col_decl);
    cx_dict_free(&s->classes);
    free(s);
}

cx_err cx_dataset_schema_add_feature(cx_dataset_schema *s, const char *name, cx_error *e)
{
    if (!s || !name || !*name)
        return cx_error_set(e, CX_ERR_ARG, "schema: empty feature name");
    if (cx_names_find(s->features, s->n_features, name) >= 0)
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
    if (cx_names_find(s->cat_names, s->n_cat, name) >= 0)
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

/* A list of distinct, non-empty strings (a vocabulary or the class names). */
static cx_err string_list(const json_t *v, const char *where, const char ***out, size_t *n,
                          cx_error *e)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return cx_error_set(e, CX_ERR_FORMAT, "data: %s must be a non-empty list of strings",
                            where);
    *n = json_array_size(v);
    const char **l = calloc(*n, sizeof *l);
    if (!l)
        return cx_error_set(e, CX_ERR_NOMEM, "data: out of memory");
    for (size_t i = 0; i < *n; i++)
        if (!(l[i] = json_string_value(json_array_get(v, i))) || !l[i][0]) {
            free(l);
            return cx_error_set(e, CX_ERR_FORMAT, "data: %s[%zu] is not a non-empty string",
                                where, i);
        }
    *out = l;
    return CX_OK;
}

/* A column's "mean" and "std" (its standardisation) and "min" and "max" (its clipping range
 * for a DP standardisation): each pair goes together, on a numeric column only. */
static cx_err column_stats(const json_t *c, const char *name, int numeric, cx_column_decl *d,
                           cx_error *e)
{
    static const char *const pairs[2][2] = {{"mean", "std"}, {"min", "max"}};
    double *out[2][2] = {{&d->mean, &d->std}, {&d->lo, &d->hi}};
    static const double lowest[2][2] = {{-3.4e38, 1e-30}, {-3.4e38, -3.4e38}};
    for (int p = 0; p < 2; p++) {
        *out[p][0] = *out[p][1] = NAN;
        int has0 = json_object_get(c, pairs[p][0]) != NULL;
        int has1 = json_object_get(c, pairs[p][1]) != NULL;
        if (!has0 && !has1)
            continue;
        if (!numeric || !has0 || !has1)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: column '%s': \"%s\" and \"%s\" go together, on a "
                                "numeric column",
                                name, pairs[p][0], pairs[p][1]);
        for (int k = 0; k < 2; k++) {
            cx_err rc = cx_json_get_number(c, pairs[p][k], 1, lowest[p][k], 3.4e38, out[p][k], e);
            if (rc != CX_OK)
                return cx_error_wrap(rc, e, "data: column '%s': ", name);
        }
    }
    if (!isnan(d->lo) && !(d->hi > d->lo))
        return cx_error_set(e, CX_ERR_FORMAT, "data: column '%s': \"min\" must be below \"max\"",
                            name);
    return CX_OK;
}

/* One entry of "columns": {"name", "type": numeric|categorical|class, "values"}. */
static cx_err declared_column(cx_dataset_schema *s, const json_t *c, size_t i, int lt_given,
                              cx_error *e)
{
    static const char *const keys[] = {"name", "type", "values", "mean", "std", "min", "max", NULL};
    char where[48];
    snprintf(where, sizeof where, "columns[%zu]", i);
    if (!json_is_object(c))
        return cx_error_set(e, CX_ERR_FORMAT, "data: \"%s\" must be an object", where);
    cx_err rc = cx_json_check_keys(c, keys, where, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "data: ");
    const char *name = NULL, *type = NULL;
    if ((rc = cx_json_get_string(c, "name", 1, &name, e)) != CX_OK ||
        (rc = cx_json_get_string(c, "type", 1, &type, e)) != CX_OK)
        return cx_error_wrap(rc, e, "data: %s: ", where);
    if (!name[0])
        return cx_error_set(e, CX_ERR_FORMAT, "data: %s: empty column name", where);
    if (cx_names_find(s->columns, s->n_columns, name) >= 0)
        return cx_error_set(e, CX_ERR_FORMAT, "data: column '%s' declared twice", name);
    int is_label = s->label && strcmp(s->label, name) == 0;
    const json_t *vals = json_object_get(c, "values");
    const char **voc = NULL;
    size_t nv = 0;
    if (vals && !json_is_null(vals)) {
        char vw[80];
        snprintf(vw, sizeof vw, "column '%.40s' \"values\"", name);
        if ((rc = string_list(vals, vw, &voc, &nv, e)) != CX_OK)
            return rc;
    }
    cx_column_decl decl;
    rc = column_stats(c, name, strcmp(type, "numeric") == 0, &decl, e);
    if (rc != CX_OK) {
        free(voc);
        return rc;
    }
    if (strcmp(type, "numeric") == 0) {
        if (vals) {
            free(voc);
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: column '%s': \"values\" is for categorical and class "
                                "columns",
                                name);
        }
        if (is_label && lt_given && s->label_kind != CX_LABEL_NUMERIC)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: label column '%s' is numeric but \"label_type\" is "
                                "\"class\"",
                                name);
        if (is_label)
            s->label_kind = CX_LABEL_NUMERIC;
    } else if (strcmp(type, "categorical") == 0) {
        if (is_label) {
            free(voc);
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: label column '%s' must be of type \"class\" or "
                                "\"numeric\"",
                                name);
        }
        rc = cx_dataset_schema_add_categorical(s, name, voc, nv, e);
        free(voc);
        if (rc != CX_OK)
            return cx_error_wrap(CX_ERR_FORMAT, e, "data: ");
    } else if (strcmp(type, "class") == 0) {
        if (!is_label) {
            free(voc);
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: column '%s': type \"class\" is for the label column only",
                                name);
        }
        if (lt_given && s->label_kind != CX_LABEL_CLASS) {
            free(voc);
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: label column '%s' is a class but \"label_type\" is "
                                "\"numeric\"",
                                name);
        }
        s->label_kind = CX_LABEL_CLASS;
        for (size_t k = 0; k < nv; k++) {
            size_t l = strlen(voc[k]);
            if (cx_dict_find(&s->classes, voc[k], l) != CX_DICT_NONE) {
                free(voc);
                return cx_error_set(e, CX_ERR_FORMAT, "data: label column '%s': class %zu repeated",
                                    name, k);
            }
            if (cx_dict_intern(&s->classes, voc[k], l) == CX_DICT_NONE) {
                free(voc);
                return cx_error_set(e, CX_ERR_NOMEM, "data: out of memory");
            }
        }
        s->classes_given = voc != NULL;
        free(voc);
    } else {
        free(voc);
        return cx_error_set(e, CX_ERR_FORMAT,
                            "data: column '%s': type must be \"numeric\", \"categorical\" or "
                            "\"class\"",
                            name);
    }
    cx_column_decl *nd = realloc(s->col_decl, (s->n_columns + 1) * sizeof *nd);
    if (nd)
        s->col_decl = nd;
    char **nc = nd ? realloc(s->columns, (s->n_columns + 1) * sizeof *nc) : NULL;
    if (!nc)
        return cx_error_set(e, CX_ERR_NOMEM, "data: out of memory");
    s->columns = nc;
    s->col_decl[s->n_columns] = decl;
    if (!(nc[s->n_columns] = strdup(name)))
        return cx_error_set(e, CX_ERR_NOMEM, "data: out of memory");
    s->n_columns++;
    return CX_OK;
}

/* "format" and "columns": the data every blob must be, declared instead of taken from
 * whichever blob comes first. */
static cx_err schema_declared_from_json(cx_dataset_schema *s, const json_t *j, cx_error *e)
{
    const char *fmt = NULL;
    cx_err rc = cx_json_get_string(j, "format", 0, &fmt, e);
    if (rc != CX_OK)
        return rc;
    if (fmt) {
        if (cx_data_format_parse(fmt, &s->format, e) != CX_OK)
            return cx_error_wrap(CX_ERR_FORMAT, e, "data: \"format\": ");
        s->format_given = 1;
    }
    const json_t *cols = json_object_get(j, "columns");
    if (!cols)
        return CX_OK;
    if (!json_is_array(cols) || json_array_size(cols) == 0)
        return cx_error_set(e, CX_ERR_FORMAT, "data: \"columns\" must be a non-empty list");
    if (json_object_get(j, "categorical"))
        return cx_error_set(e, CX_ERR_FORMAT,
                            "data: with \"columns\", categorical columns are declared there "
                            "(type \"categorical\", \"values\"), not in \"categorical\"");
    int lt_given = json_object_get(j, "label_type") != NULL;
    for (size_t i = 0; i < json_array_size(cols); i++)
        if ((rc = declared_column(s, json_array_get(cols, i), i, lt_given, e)) != CX_OK)
            return rc;
    if (s->label && cx_names_find(s->columns, s->n_columns, s->label) < 0)
        return cx_error_set(e, CX_ERR_FORMAT, "data: label '%s' is not a declared column",
                            s->label);
    for (size_t i = 0; i < s->n_features; i++)
        if (cx_names_find(s->columns, s->n_columns, s->features[i]) < 0)
            return cx_error_set(e, CX_ERR_FORMAT, "data: feature '%s' is not a declared column",
                                s->features[i]);
    return CX_OK;
}

cx_err cx_dataset_schema_from_json(const json_t *j, cx_dataset_schema **out, cx_error *e)
{
    static const char *const keys[] = {
        "features",         "label",     "label_type", "categorical", "missing", "fill_value",
        "max_bad_fraction", "delimiter", "header",     "skip_lines",  "max_record_bytes",
        "format",           "columns",   NULL};
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
    if ((rc = schema_declared_from_json(s, j, e)) != CX_OK)
        goto fail;
    *out = s;
    return CX_OK;
fail:
    cx_dataset_schema_free(s);
    return rc;
}

int cx_dataset_schema_format(const cx_dataset_schema *s, cx_data_format *fmt)
{
    if (s->format_given && fmt)
        *fmt = s->format;
    return s->format_given;
}

const char *cx_dataset_schema_used_column(const cx_dataset_schema *s, size_t i, int *is_label)
{
    if (is_label)
        *is_label = 0;
    if (s->label) {
        if (i == 0) {
            if (is_label)
                *is_label = 1;
            return s->label;
        }
        i--;
    }
    if (s->n_features)
        return i < s->n_features ? s->features[i] : NULL;
    for (size_t c = 0; c < s->n_columns; c++) {
        if (s->label && strcmp(s->columns[c], s->label) == 0)
            continue;
        if (i-- == 0)
            return s->columns[c];
    }
    return NULL;
}

cx_err cx_dataset_schema_require_stats(const cx_dataset_schema *s, int dp_bounds, cx_error *e)
{
    for (size_t i = 0; i < s->n_columns; i++) {
        int is_label = s->label && strcmp(s->label, s->columns[i]) == 0;
        int numeric = is_label ? s->label_kind == CX_LABEL_NUMERIC
                               : cx_names_find(s->cat_names, s->n_cat, s->columns[i]) < 0;
        int used = is_label || !s->n_features ||
                   cx_names_find(s->features, s->n_features, s->columns[i]) >= 0;
        const cx_column_decl *d = &s->col_decl[i];
        if (!numeric || !used || !isnan(d->mean))
            continue;
        if (!dp_bounds)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: column '%s' needs \"mean\" and \"std\" under DP (the "
                                "standardisation may not come from the data; or \"min\" and "
                                "\"max\" with \"privacy.standardize\": \"dp\")",
                                s->columns[i]);
        if (isnan(d->lo))
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: column '%s' needs \"min\" and \"max\" (or \"mean\" and "
                                "\"std\") under \"privacy.standardize\": \"dp\"",
                                s->columns[i]);
        if (s->missing == CX_MISSING_FILL_MEAN && !is_label)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: column '%s': \"missing\": \"mean\" under DP fills with the "
                                "declared \"mean\", which it does not give",
                                s->columns[i]);
    }
    return CX_OK;
}

cx_err cx_dataset_schema_require_declared(const cx_dataset_schema *s, cx_error *e)
{
    if (!s->format_given)
        return cx_error_set(e, CX_ERR_FORMAT, "data: \"format\" is required");
    if (!s->n_columns)
        return cx_error_set(e, CX_ERR_FORMAT, "data: \"columns\" is required");
    if (!s->label)
        return cx_error_set(e, CX_ERR_FORMAT, "data: \"label\" is required");
    for (size_t c = 0; c < s->n_cat; c++)
        if (!s->cat_given[c])
            return cx_error_set(e, CX_ERR_FORMAT,
                                "data: categorical column '%s' needs its \"values\"",
                                s->cat_names[c]);
    if (s->label_kind == CX_LABEL_CLASS && !s->classes_given)
        return cx_error_set(e, CX_ERR_FORMAT, "data: label column '%s' needs its class \"values\"",
                            s->label);
    return CX_OK;
}
