/* dataset_format.c — the data formats (CSV, JSON lines, the f32 matrix) as ops tables:
 * their names and file suffixes, where a record ends, and where the column names come from. */
#include "dataset_internal.h"

#include <stdlib.h>

/* A copy of the schema's declared column names. */
static cx_err declared_names(const cx_dataset_schema *s, char ***names_out, size_t *n_out,
                             cx_error *e)
{
    char **names = calloc(s->n_columns, sizeof *names);
    if (!names)
        return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
    for (size_t i = 0; i < s->n_columns; i++)
        if (!(names[i] = strdup(s->columns[i]))) {
            cx_names_free(names, i);
            return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
        }
    *names_out = names;
    *n_out = s->n_columns;
    return CX_OK;
}

/* ------------------------------------------------------------------- csv -- */

static const char *csv_start_name(const cx_dataset_schema *s)
{
    return s->has_header ? "CSV header" : "records";
}

static const char *csv_record_end(const char *r, const char *end, char delim, int eof,
                                  cx_csv_scan *st)
{
    return cx_csv_record_end_resume(r, end, delim, eof, st);
}

/* The header's names; without a header the first record is data and the columns are
 * named c0, c1, ... */
static cx_err csv_columns(const cx_dataset_schema *s, const char *r, const char *re,
                          char ***names_out, size_t *n_out, int *json_all, int *consumed,
                          cx_error *e)
{
    char **names = NULL;
    size_t n = 0;
    cx_err rc = cx_csv_split_header(r, re, s->delimiter, &names, &n, e);
    if (rc != CX_OK)
        return rc;
    *json_all = 0;
    *consumed = s->has_header;
    if (!s->has_header && s->n_columns) {
        /* no header: the declared columns, in declared order, name the fields */
        cx_names_free(names, n); /* the record is data: wiped, not kept as names */
        return declared_names(s, names_out, n_out, e);
    }
    if (!s->has_header) {
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
    }
    *names_out = names;
    *n_out = n;
    return CX_OK;
}

/* ----------------------------------------------------------------- jsonl -- */

static const char *jsonl_start_name(const cx_dataset_schema *s)
{
    (void)s;
    return "records";
}

static const char *line_end(const char *r, const char *end, char delim, int eof, cx_csv_scan *st)
{
    (void)delim;
    const char *nl = memchr(r + st->off, '\n', (size_t)(end - r) - st->off);
    if (nl)
        return nl + 1;
    if (eof)
        return end;
    st->off = (size_t)(end - r);
    return NULL;
}

/* With named features the columns are the schema's (no record needed); otherwise the
 * keys of the first object, and a later key outside them makes its row bad. The first
 * record is data either way. */
static cx_err jsonl_columns(const cx_dataset_schema *s, const char *r, const char *re,
                            char ***names_out, size_t *n_out, int *json_all, int *consumed,
                            cx_error *e)
{
    *consumed = 0;
    if (s->n_columns) {
        /* the declared columns; a key outside them makes its row bad */
        *json_all = 1;
        return declared_names(s, names_out, n_out, e);
    }
    if (!s->n_features) {
        *json_all = 1;
        return cx_jsonl_keys(r, re, names_out, n_out, e);
    }
    *json_all = 0;
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
    *names_out = names;
    *n_out = n;
    return CX_OK;
}

/* ------------------------------------------------------------------- f32 -- */

static const char *f32_start_name(const cx_dataset_schema *s)
{
    (void)s;
    return "f32 header";
}

static cx_err f32_finish(const cx_blob_state *b, cx_error *e)
{
    if (b->f32_seen != b->f32_rows)
        return cx_error_set(e, CX_ERR_FORMAT, "f32: %llu rows announced, %llu present",
                            (unsigned long long)b->f32_rows, (unsigned long long)b->f32_seen);
    return CX_OK;
}

/* ---------------------------------------------------------------- tables -- */

static const char *const csv_names[] = {"csv", NULL};
static const char *const jsonl_names[] = {"jsonl", "ndjson", NULL};
static const char *const f32_names[] = {"f32", NULL};
static const char *const no_suffixes[] = {NULL}; /* CSV: whatever no other format claims */
static const char *const jsonl_suffixes[] = {".jsonl", ".ndjson", NULL};
static const char *const f32_suffixes[] = {".f32", NULL};

static const cx_format_ops csv_ops = {
    .name = "csv",
    .names = csv_names,
    .suffixes = no_suffixes,
    .skips_lines = 1,
    .row_unit = "line",
    .record_limit_hint = "; an unterminated quoted field?",
    .start_name = csv_start_name,
    .record_end = csv_record_end,
    .columns = csv_columns,
    .parse = cx_csv_parse,
    .feed = cx_blob_feed_text,
    .load = cx_blob_load_text,
    .finish = NULL,
};

static const cx_format_ops jsonl_ops = {
    .name = "jsonl",
    .names = jsonl_names,
    .suffixes = jsonl_suffixes,
    .skips_lines = 1,
    .row_unit = "line",
    .record_limit_hint = "",
    .start_name = jsonl_start_name,
    .record_end = line_end,
    .columns = jsonl_columns,
    .parse = cx_jsonl_parse,
    .feed = cx_blob_feed_text,
    .load = cx_blob_load_text,
    .finish = NULL,
};

static const cx_format_ops f32_ops = {
    .name = "f32",
    .names = f32_names,
    .suffixes = f32_suffixes,
    .skips_lines = 0,
    .row_unit = "row",
    .record_limit_hint = "",
    .start_name = f32_start_name,
    .record_end = NULL,
    .columns = NULL,
    .parse = NULL,
    .feed = cx_blob_feed_f32,
    .load = cx_blob_load_f32,
    .finish = f32_finish,
};

/* Indexed by cx_data_format. */
static const cx_format_ops *const formats[] = {
    [CX_DATA_CSV] = &csv_ops,
    [CX_DATA_JSONL] = &jsonl_ops,
    [CX_DATA_F32] = &f32_ops,
};
enum { N_FORMATS = sizeof formats / sizeof *formats };

const cx_format_ops *cx_format_ops_of(cx_data_format fmt)
{
    return (size_t)fmt < N_FORMATS ? formats[fmt] : NULL;
}

cx_err cx_data_format_parse(const char *name, cx_data_format *out, cx_error *e)
{
    for (size_t f = 0; name && f < N_FORMATS; f++)
        for (const char *const *n = formats[f]->names; *n; n++)
            if (strcmp(name, *n) == 0) {
                *out = (cx_data_format)f;
                return CX_OK;
            }
    return cx_error_set(e, CX_ERR_ARG, "unknown data format '%s' (csv, jsonl, f32)",
                        name ? name : "");
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

cx_data_format cx_data_format_from_path(const char *path)
{
    for (size_t f = 0; f < N_FORMATS; f++)
        for (const char *const *suf = formats[f]->suffixes; *suf; suf++)
            if (ends_with(path, *suf))
                return (cx_data_format)f;
    return CX_DATA_CSV;
}
