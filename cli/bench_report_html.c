/* bench_report_html.c — `cloakx bench report`'s HTML: one self-contained page (inline CSS and
 * SVG, no script, nothing fetched) drawn from report.json, every plotted number read from it. */
#include "cli.h"
#include "svg_plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { FIG_MAX_POINTS = 32, FIG_REF_MAX = 128, FIG_NAME_MAX = 96 };

/* A chart being built: its series, and per point the JSON path its value was read from. */
typedef struct fig {
    svg_chart chart;
    int bars;
    svg_series series[SVG_PLOT_MAX_SERIES];
    char names[SVG_PLOT_MAX_SERIES][FIG_NAME_MAX];
    double x[SVG_PLOT_MAX_SERIES][FIG_MAX_POINTS], y[SVG_PLOT_MAX_SERIES][FIG_MAX_POINTS];
    char refs[SVG_PLOT_MAX_SERIES][FIG_MAX_POINTS][FIG_REF_MAX];
    const char *refp[SVG_PLOT_MAX_SERIES][FIG_MAX_POINTS];
    char cats[FIG_MAX_POINTS][FIG_NAME_MAX];
    const char *catp[FIG_MAX_POINTS];
} fig;

/* The value at a dotted path ("benches.decrypt.result.runs.1.pipeline_gbps"; numbers index
 * arrays) in root, or NULL. */
static const json_t *json_at(const json_t *root, const char *path)
{
    char key[FIG_REF_MAX];
    const json_t *v = root;
    while (v && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        path += n + (path[n] == '.');
        if (json_is_array(v)) {
            char *end;
            unsigned long i = strtoul(key, &end, 10);
            v = *end || end == key ? NULL : json_array_get(v, i);
        } else {
            v = json_object_get(v, key);
        }
    }
    return v;
}

static double num_at(const json_t *root, const char *path)
{
    const json_t *v = json_at(root, path);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str_at(const json_t *root, const char *path)
{
    return json_string_value(json_at(root, path));
}

static fig *fig_new(int bars, const char *title, const char *x_label, const char *y_label)
{
    fig *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->bars = bars;
    f->chart = (svg_chart){.title = title,
                           .x_label = x_label,
                           .y_label = y_label,
                           .y_from_zero = 1,
                           .series = f->series};
    return f;
}

/* A new series (its name printf-style); returns its index, or -1 when the chart is full. */
static int fig_series(fig *f, int dashed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fig_series(fig *f, int dashed, const char *fmt, ...)
{
    if (f->chart.n_series >= SVG_PLOT_MAX_SERIES)
        return -1;
    int s = (int)f->chart.n_series++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->names[s], sizeof f->names[s], fmt, ap);
    va_end(ap);
    f->series[s] = (svg_series){
        .name = f->names[s], .x = f->x[s], .y = f->y[s], .refs = f->refp[s], .dashed = dashed};
    if (f->bars) /* a bar series has a value (or a gap) for every category so far */
        for (size_t k = 0; k < f->chart.n_categories; k++)
            f->y[s][f->series[s].n++] = NAN;
    return s;
}

/* A bar chart's next category; returns its index, or -1 when full. */
static int fig_category(fig *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fig_category(fig *f, const char *fmt, ...)
{
    if (f->chart.n_categories >= FIG_MAX_POINTS)
        return -1;
    size_t k = f->chart.n_categories++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->cats[k], sizeof f->cats[k], fmt, ap);
    va_end(ap);
    f->catp[k] = f->cats[k];
    f->chart.categories = f->catp;
    for (size_t s = 0; s < f->chart.n_series; s++)
        f->y[s][f->series[s].n++] = NAN;
    return (int)k;
}

/* Sets point i of series s (a line chart's next point when i < 0) to the number at the path
 * in root; a missing or non-numeric value leaves a gap (lines) or no bar. */
static void fig_value(fig *f, int s, int i, double x, const json_t *root, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void fig_value(fig *f, int s, int i, double x, const json_t *root, const char *fmt, ...)
{
    if (s < 0 || (i < 0 && f->series[s].n >= FIG_MAX_POINTS) || i >= FIG_MAX_POINTS)
        return;
    size_t k = i < 0 ? f->series[s].n++ : (size_t)i;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->refs[s][k], sizeof f->refs[s][k], fmt, ap);
    va_end(ap);
    f->refp[s][k] = f->refs[s][k];
    f->x[s][k] = x;
    f->y[s][k] = num_at(root, f->refs[s][k]);
}

static int fig_has_values(const fig *f)
{
    for (size_t s = 0; s < f->chart.n_series; s++)
        for (size_t i = 0; i < f->series[s].n; i++)
            if (isfinite(f->y[s][i]))
                return 1;
    return 0;
}

static void html_text(FILE *out, const char *s)
{
    svg_write_escaped(out, s);
}

/* One cell of a figure's table: the printed value, its source and exact value beside it. */
static void html_value_cell(FILE *out, const fig *f, size_t s, size_t i)
{
    char v[64];
    if (!f->refp[s][i] || !isfinite(f->y[s][i])) {
        fputs("<td>-</td>", out);
        return;
    }
    svg_format_value(f->y[s][i], v, sizeof v);
    fputs("<td data-ref=\"", out);
    html_text(out, f->refp[s][i]);
    fprintf(out, "\" data-value=\"%.17g\">%s</td>", f->y[s][i], v);
}

/* The chart, then a table of its numbers (rows: x values or categories; columns: series). */
static cx_err fig_write(fig *f, FILE *out, cx_error *e)
{
    if (!fig_has_values(f)) {
        free(f);
        return CX_OK;
    }
    fputs("<figure>\n", out);
    cx_err rc = f->bars ? svg_chart_write_bars(&f->chart, out, e)
                        : svg_chart_write_lines(&f->chart, out, e);
    if (rc != CX_OK) {
        free(f);
        return rc;
    }
    fputs("<table class=\"values\"><tr><th>", out);
    html_text(out, f->bars ? "" : f->chart.x_label);
    fputs("</th>", out);
    for (size_t s = 0; s < f->chart.n_series; s++) {
        fputs("<th>", out);
        html_text(out, f->names[s]);
        fputs("</th>", out);
    }
    fputs("</tr>\n", out);
    if (f->bars) {
        for (size_t k = 0; k < f->chart.n_categories; k++) {
            fputs("<tr><th>", out);
            html_text(out, f->cats[k]);
            fputs("</th>", out);
            for (size_t s = 0; s < f->chart.n_series; s++)
                html_value_cell(out, f, s, k);
            fputs("</tr>\n", out);
        }
    } else { /* one row per distinct x, in order of first appearance */
        double xs[SVG_PLOT_MAX_SERIES * FIG_MAX_POINTS];
        size_t nx = 0;
        for (size_t s = 0; s < f->chart.n_series; s++)
            for (size_t i = 0; i < f->series[s].n; i++) {
                size_t j = 0;
                while (j < nx && xs[j] != f->x[s][i])
                    j++;
                if (j == nx && isfinite(f->y[s][i]))
                    xs[nx++] = f->x[s][i];
            }
        for (size_t j = 0; j < nx; j++) {
            fprintf(out, "<tr><th>%g</th>", xs[j]);
            for (size_t s = 0; s < f->chart.n_series; s++) {
                size_t i = 0;
                while (i < f->series[s].n && !(f->x[s][i] == xs[j] && isfinite(f->y[s][i])))
                    i++;
                if (i < f->series[s].n)
                    html_value_cell(out, f, s, i);
                else
                    fputs("<td>-</td>", out);
            }
            fputs("</tr>\n", out);
        }
    }
    fputs("</table>\n</figure>\n", out);
    free(f);
    return CX_OK;
}

#define FIG_NEW(var, ...)                                                                          \
    fig *var = fig_new(__VA_ARGS__);                                                               \
    if (!var)                                                                                      \
        return cx_error_set(e, CX_ERR_NOMEM, "bench report: a chart");

/* A section's heading and how its bench ran; returns the bench's result object, or NULL when
 * it was skipped or failed (said on the page). */
static const json_t *section(FILE *out, const json_t *r, const char *key, const char *title)
{
    char path[96];
    snprintf(path, sizeof path, "benches.%s", key);
    const json_t *b = json_at(r, path);
    fprintf(out, "<section id=\"%s\">\n<h2>", key);
    html_text(out, title);
    fputs("</h2>\n", out);
    const char *why = str_at(b, "skipped"), *err = str_at(b, "error");
    const json_t *res = json_object_get(b, "result");
    if (!b || why || err || !json_is_object(res)) {
        fprintf(out, "<p class=\"%s\">", err ? "failed" : "skipped");
        html_text(out, err ? "failed: " : "not run: ");
        html_text(out, err ? err : why ? why : "no result");
        fputs("</p>\n", out);
        return NULL;
    }
    const json_t *argv = json_object_get(b, "argv");
    fputs("<p class=\"cmd\"><code>", out);
    for (size_t i = 0; i < json_array_size(argv); i++) {
        html_text(out, i ? " " : "");
        html_text(out, json_string_value(json_array_get(argv, i)));
    }
    fprintf(out, "</code> (%.1f s)</p>\n", num_at(b, "seconds"));
    return res;
}

static void kv_row(FILE *out, const char *k, const char *v)
{
    fputs("<tr><th>", out);
    html_text(out, k);
    fputs("</th><td>", out);
    html_text(out, v ? v : "-");
    fputs("</td></tr>\n", out);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys in sorted order (a report drawn from a re-read report.json is the same). */
static size_t sorted_keys(const json_t *o, const char **keys, size_t cap)
{
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (n < cap)
            keys[n++] = k;
    }
    qsort(keys, n, sizeof *keys, cmp_str);
    return n;
}

static void host_table(FILE *out, const json_t *r)
{
    char buf[256];
    const char *keys[64];
    fputs("<table class=\"host\">\n", out);
    kv_row(out, "CPU", str_at(r, "host.cpu"));
    snprintf(buf, sizeof buf, "%g (load average %.2f at the start)", num_at(r, "host.cores"),
             num_at(r, "host.load_average_1m"));
    kv_row(out, "cores", buf);
    kv_row(out, "GEMM kernel", str_at(r, "host.kernels.gemm"));
    kv_row(out, "OpenBLAS core", str_at(r, "host.kernels.openblas_core"));
    kv_row(out, "OMP_WAIT_POLICY", str_at(r, "host.kernels.omp_wait_policy"));
    kv_row(out, "FMA peak loop", str_at(r, "benches.train.result.fma_peak_loop"));
    const json_t *cpu = json_at(r, "benches.version.result.cpu");
    buf[0] = '\0';
    size_t n = sorted_keys(cpu, keys, 64);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(buf);
        if (json_is_true(json_object_get(cpu, keys[i])))
            snprintf(buf + len, sizeof buf - len, "%s%s", len ? " " : "", keys[i]);
    }
    kv_row(out, "CPU features", buf);
    const json_t *libs = json_at(r, "host.libraries");
    n = sorted_keys(libs, keys, 64);
    for (size_t i = 0; i < n; i++)
        if (json_is_string(json_object_get(libs, keys[i])))
            kv_row(out, keys[i], json_string_value(json_object_get(libs, keys[i])));
    kv_row(out, "cloakx", str_at(r, "host.cloakx_version"));
    fputs("</table>\n", out);
}

static cx_err decrypt_section(FILE *out, const json_t *r, cx_error *e)
{
    const json_t *res = section(out, r, "decrypt", "Decryption: the pipeline beside OpenSSL");
    if (!res)
        return CX_OK;
    FIG_NEW(f, 0, "Decryption throughput vs threads", "threads", "GB/s");
    f->chart.x_log2 = 1;
    int sp = fig_series(f, 0, "cloakx pipeline (mapped blob)");
    int ss = fig_series(f, 0, "cloakx pipeline (store reader)");
    int so = fig_series(f, 1, "peer: OpenSSL EVP AES-256-GCM loop");
    const json_t *runs = json_object_get(res, "runs");
    for (size_t i = 0; i < json_array_size(runs) && i < FIG_MAX_POINTS; i++) {
        double t = num_at(json_array_get(runs, i), "threads");
        const char *p = "benches.decrypt.result.runs";
        fig_value(f, sp, -1, t, r, "%s.%zu.pipeline_gbps", p, i);
        fig_value(f, ss, -1, t, r, "%s.%zu.pipeline_stream_gbps", p, i);
        fig_value(f, so, -1, t, r, "%s.%zu.openssl_gbps", p, i);
    }
    fprintf(out, "<p>%.0f bytes sealed, chunk %.0f bytes, read from the %s.</p>\n",
            num_at(res, "bytes"), num_at(res, "chunk_size"),
            str_at(res, "source") ? str_at(res, "source") : "?");
    return fig_write(f, out, e);
}

static cx_err parse_section(FILE *out, const json_t *r, cx_error *e)
{
    const json_t *res = section(out, r, "parse", "Parsing: CSV and JSON lines beside strtof");
    if (!res)
        return CX_OK;
    int nt = (int)num_at(res, "threads");
    FIG_NEW(f, 1, "Parse rate (MB/s)", NULL, "MB/s");
    int c1 = fig_category(f, "1 thread");
    int cn = fig_category(f, "%d blobs on %d threads", nt, nt);
    int cf = fig_category(f, "file split, %d threads", nt);
    int scsv = fig_series(f, 0, "cloakx CSV");
    int sjs = fig_series(f, 0, "cloakx JSON lines");
    int speer = fig_series(f, 0, "peer: strtof split loop");
    const char *p = "benches.parse.result";
    fig_value(f, scsv, c1, 0, r, "%s.feed_1thread_mb_s", p);
    fig_value(f, scsv, cn, 0, r, "%s.feed_blobs_parallel_mb_s", p);
    fig_value(f, scsv, cf, 0, r, "%s.file_split_load_mb_s", p);
    fig_value(f, sjs, c1, 0, r, "%s.jsonl.feed_1thread_mb_s", p);
    fig_value(f, sjs, cn, 0, r, "%s.jsonl.feed_blobs_parallel_mb_s", p);
    fig_value(f, speer, c1, 0, r, "%s.peer_strtof_1thread_mb_s", p);
    fprintf(out, "<p>%.0f rows x %.0f numeric columns; target %g MB/s per thread.</p>\n",
            num_at(res, "rows"), num_at(res, "cols"), num_at(res, "target_mb_s_per_thread"));
    return fig_write(f, out, e);
}

static cx_err train_section(FILE *out, const json_t *r, cx_error *e)
{
    const json_t *res = section(out, r, "train", "Training: the reference MLP on the CPU");
    if (!res)
        return CX_OK;
    const char *p = "benches.train.result";
    fputs("<p>", out);
    html_text(out, str_at(res, "model"));
    fprintf(out, ", batch %g, %g rows; peer: ", num_at(res, "batch"), num_at(res, "rows"));
    html_text(out, str_at(res, "peer"));
    if (str_at(res, "peer_torch")) {
        html_text(out, " (torch ");
        html_text(out, str_at(res, "peer_torch"));
        html_text(out, ", BLAS ");
        html_text(out, str_at(res, "peer_blas"));
        html_text(out, ")");
    }
    fputs(".</p>\n", out);
    FIG_NEW(f, 0, "Training throughput vs threads", "threads", "samples/s");
    f->chart.x_log2 = 1;
    int sc = fig_series(f, 0, "cloakx");
    fig_value(f, sc, -1, 1, r, "%s.samples_per_s_1thread", p);
    if (num_at(res, "threads") > 1)
        fig_value(f, sc, -1, num_at(res, "threads"), r, "%s.samples_per_s", p);
    const json_t *peers = json_object_get(res, "peer_runs");
    if (json_array_size(peers) > 0) {
        int sp = fig_series(f, 1, "peer: PyTorch");
        for (size_t i = 0; i < json_array_size(peers) && i < FIG_MAX_POINTS; i++)
            if (json_is_true(json_object_get(json_array_get(peers, i), "ok")))
                fig_value(f, sp, -1, num_at(json_array_get(peers, i), "threads"), r,
                          "%s.peer_runs.%zu.samples_per_s", p, i);
    }
    cx_err rc = fig_write(f, out, e);
    if (rc != CX_OK)
        return rc;

    FIG_NEW(g, 1, "GFLOP/s: a training step beside cblas_sgemm at its shapes", NULL, "GFLOP/s");
    int k1 = fig_category(g, "1 thread");
    int kn = fig_category(g, "%g threads", num_at(res, "threads"));
    int gs = fig_series(g, 0, "cloakx training step");
    int gp = fig_series(g, 0, "peer: cblas_sgemm, the step's GEMM mix");
    fig_value(g, gs, k1, 0, r, "%s.gflops_1thread", p);
    fig_value(g, gs, kn, 0, r, "%s.gflops", p);
    fig_value(g, gp, kn, 0, r, "%s.sgemm_gflops_step_mix", p);
    if ((rc = fig_write(g, out, e)) != CX_OK)
        return rc;

    FIG_NEW(h, 1, "% of the FMA peak", NULL, "% of peak");
    int h1 = fig_category(h, "1 thread, per CPU second");
    int hn = fig_category(h, "%g threads, per wall second", num_at(res, "threads"));
    int hs = fig_series(h, 0, "cloakx");
    fig_value(h, hs, h1, 0, r, "%s.pct_peak_1thread_cpu_time", p);
    fig_value(h, hs, hn, 0, r, "%s.pct_peak_machine", p);
    if ((rc = fig_write(h, out, e)) != CX_OK)
        return rc;

    FIG_NEW(d, 1, "DP-SGD epoch beside a plain one", NULL, "seconds per epoch");
    int dp = fig_category(d, "plain");
    int dd = fig_category(d, "DP-SGD (sigma 1, C 1)");
    int ds = fig_series(d, 0, "cloakx");
    fig_value(d, ds, dp, 0, r, "%s.epoch_s", p);
    fig_value(d, ds, dd, 0, r, "%s.dp_epoch_s", p);
    return fig_write(d, out, e);
}

/* The distinct values of key over the sweep's rows, ascending (at most FIG_MAX_POINTS). */
static size_t sweep_values(const json_t *sweep, const char *key, double *v)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(sweep); i++) {
        double x = num_at(json_array_get(sweep, i), key);
        size_t j = 0;
        while (j < n && v[j] != x)
            j++;
        if (j == n && n < FIG_MAX_POINTS && isfinite(x))
            v[n++] = x;
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of sizes */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n;
}

/* One sweep chart: series per `group` value, points over `along`, of `what` (and the peer's
 * peer_what, dashed, when the sweep ran a peer). */
static cx_err sweep_chart(FILE *out, const json_t *r, const json_t *sweep, const char *title,
                          const char *group, const char *along, const char *what,
                          const char *peer_what, const char *y_label, cx_error *e)
{
    double gv[FIG_MAX_POINTS];
    size_t ng = sweep_values(sweep, group, gv);
    const char *peer_name = str_at(r, "benches.train_sweep.result.peer");
    int peer = peer_what && peer_name && strcmp(peer_name, "none") != 0;
    FIG_NEW(f, 0, title, along, y_label);
    f->chart.x_log2 = 1;
    for (size_t gi = 0; gi < ng; gi++) {
        int s = fig_series(f, 0, "cloakx %s %g", group, gv[gi]);
        int sp = peer ? fig_series(f, 1, "peer %s %g", group, gv[gi]) : -1;
        for (size_t i = 0; i < json_array_size(sweep); i++) {
            const json_t *row = json_array_get(sweep, i);
            if (num_at(row, group) != gv[gi])
                continue;
            double x = num_at(row, along);
            fig_value(f, s, -1, x, r, "benches.train_sweep.result.sweep.%zu.%s", i, what);
            if (sp >= 0 && num_at(row, peer_what) > 0)
                fig_value(f, sp, -1, x, r, "benches.train_sweep.result.sweep.%zu.%s", i, peer_what);
        }
    }
    return fig_write(f, out, e);
}

static cx_err sweep_section(FILE *out, const json_t *r, cx_error *e)
{
    const json_t *res =
        section(out, r, "train_sweep", "Training sweep: batch size and width, beside the peer");
    if (!res)
        return CX_OK;
    const json_t *sw = json_object_get(res, "sweep");
    fprintf(out, "<p>MLP 64-W-W-10, %g threads; the peer at its best thread count.</p>\n",
            num_at(res, "threads"));
    cx_err rc = sweep_chart(out, r, sw, "Samples/s vs batch size", "width", "batch",
                            "samples_per_s", "peer_samples_per_s", "samples/s", e);
    if (rc == CX_OK)
        rc = sweep_chart(out, r, sw, "% of the machine's FMA peak vs batch size", "width", "batch",
                         "pct_peak", NULL, "% of peak", e);
    if (rc == CX_OK)
        rc = sweep_chart(out, r, sw, "GFLOP/s vs width", "batch", "width", "gflops", "peer_gflops",
                         "GFLOP/s", e);
    return rc;
}

/* Index of the Google Benchmark entry called name (iterations, not aggregates), or -1. */
static long gbench_index(const json_t *benchmarks, const char *name)
{
    for (size_t i = 0; i < json_array_size(benchmarks); i++) {
        const json_t *b = json_array_get(benchmarks, i);
        const char *n = json_string_value(json_object_get(b, "name")), *rt = str_at(b, "run_type");
        if (n && strcmp(n, name) == 0 && (!rt || strcmp(rt, "iteration") == 0))
            return (long)i;
    }
    return -1;
}

static cx_err ledger_section(FILE *out, const json_t *r, cx_error *e)
{
    const json_t *res = section(out, r, "ledger", "Ledger and signing (Google Benchmark)");
    if (!res)
        return CX_OK;
    const json_t *bm = json_object_get(res, "benchmarks");
    const char *unit = str_at(json_array_get(bm, 0), "time_unit");
    char y_label[64];
    snprintf(y_label, sizeof y_label, "%s per operation (wall)", unit ? unit : "?");
    const char *p = "benches.ledger.result.benchmarks";
    static const struct {
        const char *name, *label;
    } txs[] = {{"BM_LedgerFaucetTx", "faucet"},
               {"BM_LedgerContributionTx", "signed contribution"},
               {"BM_LedgerResultSubmit20", "result submit, 20 contributors"}};
    FIG_NEW(f, 1, "Local-ledger transactions beside a bare durable SQLite transaction", NULL,
            y_label);
    int sc = fig_series(f, 0, "cloakx ledger");
    int sp = fig_series(f, 0, "peer: bare SQLite WAL transaction (synchronous=FULL)");
    long peer = gbench_index(bm, "BM_SqliteBareTx");
    for (size_t i = 0; i < sizeof txs / sizeof txs[0]; i++) {
        long k = gbench_index(bm, txs[i].name);
        if (k < 0)
            continue;
        int c = fig_category(f, "%s", txs[i].label);
        fig_value(f, sc, c, 0, r, "%s.%ld.real_time", p, k);
        if (peer >= 0)
            fig_value(f, sp, c, 0, r, "%s.%ld.real_time", p, peer);
    }
    cx_err rc = f->chart.n_categories ? fig_write(f, out, e) : (free(f), CX_OK);
    if (rc != CX_OK)
        return rc;
    long sign = gbench_index(bm, "BM_StatementEncodeSign20"),
         bare = gbench_index(bm, "BM_Ed25519SignBare");
    if (sign < 0)
        return CX_OK;
    FIG_NEW(g, 1, "Result statement: encode and sign beside a bare Ed25519 signature", NULL,
            y_label);
    int c = fig_category(g, "statement, 20 contributors");
    fig_value(g, fig_series(g, 0, "cloakx encode + sign"), c, 0, r, "%s.%ld.real_time", p, sign);
    if (bare >= 0)
        fig_value(g, fig_series(g, 0, "peer: bare Ed25519 sign"), c, 0, r, "%s.%ld.real_time", p,
                  bare);
    return fig_write(g, out, e);
}

static cx_err gpu_section(FILE *out, const json_t *r, cx_error *e)
{
    const json_t *res = section(out, r, "train_gpu", "Training on the GPU");
    if (!res)
        return CX_OK;
    fputs("<p>", out);
    html_text(out, str_at(res, "device"));
    html_text(out, "; ");
    html_text(out, str_at(res, "precision"));
    html_text(out, "; CC: ");
    html_text(out, str_at(res, "gpu_cc_state"));
    fputs("</p>\n", out);
    const char *p = "benches.train_gpu.result";
    FIG_NEW(f, 1, "GPU training beside the backend's own GEMM rate", NULL, "samples/s");
    int c = fig_category(f, "%s", str_at(res, "model") ? str_at(res, "model") : "MLP");
    fig_value(f, fig_series(f, 0, "cloakx training"), c, 0, r, "%s.samples_per_s", p);
    fig_value(f, fig_series(f, 0, "peer: GEMM-bound rate at the step's shapes"), c, 0, r,
              "%s.gemm_bound_samples_per_s", p);
    return fig_write(f, out, e);
}

static const char style[] =
    "body{font-family:sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;"
    "margin-top:32px}figure{margin:16px 0}table{border-collapse:collapse;font-size:12px;"
    "margin:8px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}"
    "table.host th,table.host td{text-align:left}th{background:#f4f4f4}"
    "p.skipped{color:#777}p.failed{color:#b00020;font-weight:bold}code{font-size:12px}"
    "svg{max-width:100%;height:auto;display:block}";

cx_err cli_bench_report_html(const json_t *r, FILE *out, cx_error *e)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
          "<title>CloakX benchmark report</title>\n<style>",
          out);
    fputs(style, out);
    fputs("</style>\n</head>\n<body>\n<h1>CloakX benchmark report</h1>\n<p>Generated ", out);
    html_text(out, str_at(r, "generated_at"));
    fputs(json_is_true(json_object_get(r, "quick"))
              ? " in <b>quick</b> mode (small inputs: a check that the suite runs, not figures "
                "to quote)."
              : ".",
          out);
    fputs(" Every figure is measured beside its peer in the same run; the numbers are those "
          "of report.json.</p>\n",
          out);
    host_table(out, r);
    cx_err (*const sections[])(FILE *, const json_t *, cx_error *) = {
        decrypt_section, parse_section, train_section, sweep_section, ledger_section, gpu_section};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        cx_err rc = sections[i](out, r, e);
        if (rc != CX_OK)
            return rc;
        fputs("</section>\n", out);
    }
    fputs("</body>\n</html>\n", out);
    return ferror(out) ? cx_error_set(e, CX_ERR_IO, "writing the report's HTML") : CX_OK;
}
