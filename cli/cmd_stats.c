/* cmd_stats.c — `cloakx stats`: per-column count, mean, std, min, max, quantiles and
 * the Pearson correlation matrix of plaintext development files (CSV, JSONL, f32). */
#include "cli.h"
#include "cx_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const q_names[CX_STATS_NQ] = {"p01", "p05", "p25", "p50", "p75", "p95", "p99"};

static void stats_help(void)
{
    printf("usage: cloakx stats --data FILE... [options] [--json]\n\n"
           "Parses plaintext data files (one blob each; format by extension: .csv, .jsonl,\n"
           ".f32) and prints per-column count, mean, std (n-1), min, max, quantiles\n"
           "(p01 p05 p25 p50 p75 p95 p99, exact, linear interpolation) and the Pearson\n"
           "correlation matrix (pairwise-complete rows). Missing values are left out of\n"
           "each column's figures. For development files only: enclave jobs use `stats`\n"
           "as a task of the job spec.\n\n"
           "options:\n"
           "  --data FILE...        one or more files, all of one format\n"
           "  --categorical NAME    one-hot encode this string column (repeatable)\n"
           "  --features A,B,...    only these columns (default: all)\n"
           "  --no-header           CSV without a header row (columns c0, c1, ...)\n"
           "  --skip-lines N        lines to skip before the header / data\n"
           "  --delimiter C         CSV field delimiter (default ',')\n"
           "  --missing POLICY      keep (default), reject, mean\n"
           "  --max-bad-fraction F  bad rows tolerated per file (default 0)\n"
           "  --threads N           parser threads (default: all cores)\n"
           "  --json                machine-readable output on stdout\n");
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int print_json(cx_cli *cli, const cx_dataset *ds, const cx_stats *st,
                      const char *const *files)
{
    json_t *cols = json_array(), *blobs = json_array(), *names = json_array();
    json_t *root = json_object();
    int ok = cols && blobs && names && root;
    for (size_t j = 0; ok && j < ds->d; j++) {
        const cx_column_stats *c = &st->cols[j];
        json_t *q = json_object();
        for (int k = 0; q && k < CX_STATS_NQ; k++)
            ok &= json_object_set_new(q, q_names[k], num(c->q[k])) == 0;
        json_t *o =
            json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:o}", "name", ds->feature_names[j], "count",
                      (json_int_t)c->count, "mean", num(c->mean), "std", num(c->std), "min",
                      num(c->min), "max", num(c->max), "quantiles", q ? q : json_null());
        ok &= o && json_array_append_new(cols, o) == 0;
        ok &= json_array_append_new(names, json_string(ds->feature_names[j])) == 0;
    }
    json_t *matrix = st->corr ? json_array() : json_null();
    for (size_t i = 0; ok && st->corr && i < ds->d; i++) {
        json_t *row = json_array();
        for (size_t j = 0; row && j < ds->d; j++)
            ok &= json_array_append_new(row, num(st->corr[i * ds->d + j])) == 0;
        ok &= row && json_array_append_new(matrix, row) == 0;
    }
    for (size_t b = 0; ok && b < ds->n_blobs; b++) {
        const cx_blob_rows *br = &ds->blobs[b];
        json_t *bad = json_array();
        for (size_t k = 0; bad && k < br->n_listed; k++)
            ok &= json_array_append_new(
                      bad, json_pack("{s:I, s:s, s:I}", "line", (json_int_t)br->listed[k].line,
                                     "reason", cx_bad_reason_name(br->listed[k].reason), "column",
                                     (json_int_t)br->listed[k].column)) == 0;
        json_t *o =
            json_pack("{s:s, s:I, s:I, s:o}", "file", files[b], "rows", (json_int_t)br->rows,
                      "bad_rows", (json_int_t)br->bad_rows, "bad", bad ? bad : json_null());
        ok &= o && json_array_append_new(blobs, o) == 0;
    }
    if (ok) {
        ok &= json_object_set_new(root, "rows", json_integer((json_int_t)ds->n)) == 0;
        ok &= json_object_set_new(root, "columns", cols) == 0;
        ok &= json_object_set_new(root, "correlation",
                                  json_pack("{s:o, s:o}", "names", names, "matrix", matrix)) == 0;
        ok &= json_object_set_new(root, "files", blobs) == 0;
    }
    if (!ok) {
        json_decref(root);
        cx_error e;
        cx_error_set(&e, CX_ERR_NOMEM, "building JSON");
        return cli_fail(cli, &e);
    }
    return cli_print_json(cli, root);
}

static void print_text(const cx_dataset *ds, const cx_stats *st, const char *const *files)
{
    printf("%zu rows, %zu columns\n", ds->n, ds->d);
    for (size_t b = 0; b < ds->n_blobs; b++) {
        printf("%s: %llu rows, %llu bad", files[b], (unsigned long long)ds->blobs[b].rows,
               (unsigned long long)ds->blobs[b].bad_rows);
        for (size_t k = 0; k < ds->blobs[b].n_listed; k++)
            printf("%s line %llu (%s)", k ? "," : ":",
                   (unsigned long long)ds->blobs[b].listed[k].line,
                   cx_bad_reason_name(ds->blobs[b].listed[k].reason));
        printf("\n");
    }
    printf("\n%-24s %10s %12s %12s %12s %12s %12s %12s %12s\n", "column", "count", "mean", "std",
           "min", "p25", "p50", "p75", "max");
    for (size_t j = 0; j < ds->d; j++) {
        const cx_column_stats *c = &st->cols[j];
        printf("%-24.24s %10llu %12.6g %12.6g %12.6g %12.6g %12.6g %12.6g %12.6g\n",
               ds->feature_names[j], (unsigned long long)c->count, c->mean, c->std, c->min, c->q[2],
               c->q[3], c->q[4], c->max);
    }
    if (!st->corr)
        return;
    if (ds->d > 16) {
        printf("\ncorrelation matrix: %zu x %zu (see --json)\n", ds->d, ds->d);
        return;
    }
    printf("\ncorrelation (Pearson)\n%-12s", "");
    for (size_t j = 0; j < ds->d; j++)
        printf(" %8.8s", ds->feature_names[j]);
    printf("\n");
    for (size_t i = 0; i < ds->d; i++) {
        printf("%-12.12s", ds->feature_names[i]);
        for (size_t j = 0; j < ds->d; j++)
            printf(" %8.4f", st->corr[i * ds->d + j]);
        printf("\n");
    }
}

int cmd_stats(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        stats_help();
        return CX_EXIT_OK;
    }
    cx_error e;
    cx_dataset_schema *s = NULL;
    const char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    int threads = 0, rc = CX_EXIT_OK;
    if (!files || cx_dataset_schema_new(&s, &e) != CX_OK) {
        free(files);
        cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
        return cli_fail(cli, &e);
    }
    (void)cx_dataset_schema_set_missing(s, CX_MISSING_KEEP_NAN, 0, NULL);
    int header = 1;
    size_t skip = 0;
    char delim = ',';
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--data") == 0) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                files[nfiles++] = argv[++i];
            continue;
        }
        if (strcmp(a, "--no-header") == 0) {
            header = 0;
            continue;
        }
        if (!v) {
            rc = cli_usage(cli, "'%s' needs a value", a);
            goto out;
        }
        i++;
        char *end = NULL;
        if (strcmp(a, "--categorical") == 0) {
            if (cx_dataset_schema_add_categorical(s, v, NULL, 0, &e) != CX_OK) {
                rc = cli_usage(cli, "%s", e.msg);
                goto out;
            }
        } else if (strcmp(a, "--features") == 0) {
            char *list = strdup(v), *save = NULL;
            if (!list) {
                cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
                rc = cli_fail(cli, &e);
                goto out;
            }
            for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (cx_dataset_schema_add_feature(s, t, &e) != CX_OK) {
                    free(list);
                    rc = cli_usage(cli, "--features: %s", e.msg);
                    goto out;
                }
            free(list);
        } else if (strcmp(a, "--skip-lines") == 0) {
            unsigned long n = strtoul(v, &end, 10);
            if (!*v || *end || n > 1000000) {
                rc = cli_usage(cli, "--skip-lines: '%s' is not a line count", v);
                goto out;
            }
            skip = n;
        } else if (strcmp(a, "--delimiter") == 0) {
            if (strlen(v) != 1 && strcmp(v, "\\t") != 0) {
                rc = cli_usage(cli, "--delimiter: one character expected");
                goto out;
            }
            delim = strcmp(v, "\\t") == 0 ? '\t' : v[0];
        } else if (strcmp(a, "--missing") == 0) {
            cx_missing_policy mp = strcmp(v, "keep") == 0     ? CX_MISSING_KEEP_NAN
                                   : strcmp(v, "reject") == 0 ? CX_MISSING_REJECT
                                   : strcmp(v, "mean") == 0   ? CX_MISSING_FILL_MEAN
                                                              : (cx_missing_policy)99;
            if (mp == (cx_missing_policy)99) {
                rc = cli_usage(cli, "--missing: keep, reject or mean");
                goto out;
            }
            (void)cx_dataset_schema_set_missing(s, mp, 0, NULL);
        } else if (strcmp(a, "--max-bad-fraction") == 0) {
            double f = strtod(v, &end);
            if (!*v || *end || cx_dataset_schema_set_bad_fraction(s, f, &e) != CX_OK) {
                rc = cli_usage(cli, "--max-bad-fraction: a number in [0, 1]");
                goto out;
            }
        } else if (strcmp(a, "--threads") == 0) {
            long t = strtol(v, &end, 10);
            if (!*v || *end || t < 1 || t > 1024) {
                rc = cli_usage(cli, "--threads: 1..1024");
                goto out;
            }
            threads = (int)t;
        } else {
            rc = cli_usage(cli, "unknown option '%s'", a);
            goto out;
        }
    }
    if (nfiles == 0) {
        rc = cli_usage(cli, "--data FILE... is required");
        goto out;
    }
    if (cx_dataset_schema_set_csv(s, delim, header, skip, &e) != CX_OK) {
        rc = cli_usage(cli, "%s", e.msg);
        goto out;
    }
    cx_dataset *ds = NULL;
    double t0 = cx_now_seconds();
    if (cx_dataset_load_files(s, files, nfiles, threads, &ds, &e) != CX_OK) {
        rc = cli_fail(cli, &e);
        goto out;
    }
    cx_log_info(&cli->log, "parsed %zu rows x %zu columns in %.3f s", ds->n, ds->d,
                cx_now_seconds() - t0);
    cx_stats st;
    if (cx_stats_compute(ds->X, ds->n, ds->d, &st, &e) != CX_OK) {
        cx_dataset_free(ds);
        rc = cli_fail(cli, &e);
        goto out;
    }
    if (cli->json)
        rc = print_json(cli, ds, &st, files);
    else
        print_text(ds, &st, files);
    cx_stats_free(&st);
    cx_dataset_free(ds);
out:
    cx_dataset_schema_free(s);
    free(files);
    return rc;
}
