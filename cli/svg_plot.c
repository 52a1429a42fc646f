/* svg_plot.c — line and grouped-bar charts as standalone SVG: "nice" linear ticks (1, 2, 2.5, 5
 * × 10^k) or powers of two, a legend that wraps, every mark carrying its exact value. */
#include "svg_plot.h"

#include <math.h>
#include <string.h>

enum {
    MARGIN_LEFT = 74,
    MARGIN_RIGHT = 18,
    MARGIN_TOP = 40,
    TICK_LABELS_H = 22,
    X_LABEL_H = 18,
    LEGEND_ROW_H = 18,
    TARGET_TICKS = 5,
    MAX_TICKS = 12,
};

/* Colour-blind-friendly enough, and distinct in print: one per series. */
static const char *const palette[SVG_PLOT_MAX_SERIES] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939",
};

void svg_write_escaped(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&apos;", out);
            break;
        default:
            if (ch >= 0x20 || ch == '\t' || ch == '\n')
                fputc(ch, out);
        }
    }
}

void svg_format_value(double v, char *buf, size_t cap)
{
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else if (fabs(v) >= 1000.0)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%.4g", v);
}

/* An axis: [lo, hi] in data units, ticks every step (linear) or at powers of two. */
typedef struct axis {
    double lo, hi, step;
    int log2;
    double px0, px1; /* where lo and hi are drawn */
} axis;

/* integer: the data are whole numbers (epochs, counts), so are the ticks. */
static double nice_step(double span, int integer)
{
    double raw = span / TARGET_TICKS, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    double nf = f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 2.5 ? 2.5 : f <= 5.0 ? 5.0 : 10.0;
    if (integer && nf == 2.5 && mag < 10.0)
        nf = 2.0;
    return integer ? fmax(1.0, nf * mag) : nf * mag;
}

static void axis_fit(axis *a, double vmin, double vmax, int log_scale, int from_zero, int integer)
{
    a->log2 = log_scale;
    if (log_scale) {
        double l = floor(log2(vmin)), h = ceil(log2(vmax));
        if (h <= l)
            h = l + 1;
        a->lo = exp2(l);
        a->hi = exp2(h);
        a->step = fmax(1.0, ceil((h - l) / (MAX_TICKS - 1))); /* in powers of two */
        return;
    }
    if (from_zero) {
        vmin = fmin(vmin, 0.0);
        vmax = fmax(vmax, 0.0);
    }
    if (vmax - vmin <= fabs(vmax) * 1e-12) { /* one value: a band around it */
        double d = vmax == 0.0 ? 1.0 : fabs(vmax) * 0.5;
        vmin = from_zero && vmin >= 0.0 ? 0.0 : vmin - d;
        vmax += d;
    }
    a->step = nice_step(vmax - vmin, integer);
    a->lo = floor(vmin / a->step + 1e-9) * a->step;
    a->hi = ceil(vmax / a->step - 1e-9) * a->step;
}

static double axis_px(const axis *a, double v)
{
    double t = a->log2 ? (log2(v) - log2(a->lo)) / (log2(a->hi) - log2(a->lo))
                       : (v - a->lo) / (a->hi - a->lo);
    return a->px0 + t * (a->px1 - a->px0);
}

/* The ticks' values, lo first; returns how many. */
static int axis_ticks(const axis *a, double *t)
{
    int n = 0;
    if (a->log2) {
        for (double p = log2(a->lo); p <= log2(a->hi) + 1e-9 && n < MAX_TICKS; p += a->step)
            t[n++] = exp2(p);
        return n;
    }
    for (int i = 0; n < MAX_TICKS; i++) {
        double v = a->lo + i * a->step;
        if (v > a->hi + a->step * 1e-6)
            break;
        t[n++] = fabs(v) < a->step * 1e-9 ? 0.0 : v;
    }
    return n;
}

/* A tick label: plain up to 9999, then k / M / G, with the decimals the step needs. */
static void tick_label(const axis *a, double v, char *buf, size_t cap)
{
    if (a->log2) {
        if (v >= 1.0)
            snprintf(buf, cap, "%.0f", v);
        else
            snprintf(buf, cap, "%g", v);
        return;
    }
    double m = fmax(fabs(a->lo), fabs(a->hi)), scale = 1.0;
    const char *suffix = "";
    if (m >= 1e9)
        scale = 1e9, suffix = "G";
    else if (m >= 1e6)
        scale = 1e6, suffix = "M";
    else if (m >= 1e4)
        scale = 1e3, suffix = "k";
    if (v == 0.0) {
        snprintf(buf, cap, "0");
        return;
    }
    double s = a->step / scale;
    int dec = 0;
    while (dec < 6 && fabs(s * pow(10.0, dec) - round(s * pow(10.0, dec))) > 1e-6)
        dec++;
    snprintf(buf, cap, "%.*f%s", dec, v / scale, suffix);
}

/* Rough width of 11 px sans-serif text (no font metrics at hand). */
static double text_width(const char *s, double font_px)
{
    return (double)strlen(s ? s : "") * font_px * 0.6;
}

/* The legend: items left to right, wrapping; returns the rows it takes (0: one unnamed series). */
static int legend_rows(const svg_chart *c, double width)
{
    if (c->n_series == 1 && !(c->series[0].name && *c->series[0].name))
        return 0;
    int rows = 1;
    double x = 0;
    for (size_t s = 0; s < c->n_series; s++) {
        double w = 30 + text_width(c->series[s].name, 11) + 16;
        if (x > 0 && x + w > width)
            rows++, x = 0;
        x += w;
    }
    return rows;
}

static void write_legend(const svg_chart *c, FILE *out, double y0, int lines)
{
    if (legend_rows(c, c->width - 20) == 0)
        return;
    fputs("<g class=\"legend\">\n", out);
    double x = 10, y = y0;
    for (size_t s = 0; s < c->n_series; s++) {
        double w = 30 + text_width(c->series[s].name, 11) + 16;
        if (x > 10 && x + w > c->width - 10)
            x = 10, y += LEGEND_ROW_H;
        if (lines)
            fprintf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-width=\"2.5\"%s/>\n",
                    x, y - 4, x + 24, y - 4, palette[s],
                    c->series[s].dashed ? " stroke-dasharray=\"6 4\"" : "");
        else
            fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"20\" height=\"10\" fill=\"%s\"/>\n",
                    x, y - 9, palette[s]);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">", x + 30, y);
        svg_write_escaped(out, c->series[s].name);
        fputs("</text>\n", out);
        x += w;
    }
    fputs("</g>\n", out);
}

static cx_err check_chart(const svg_chart *c, int bars, cx_error *e)
{
    if (!c->series || c->n_series == 0)
        return cx_error_set(e, CX_ERR_ARG, "chart \"%s\": no series", c->title ? c->title : "");
    if (c->n_series > SVG_PLOT_MAX_SERIES)
        return cx_error_set(e, CX_ERR_ARG, "chart \"%s\": %zu series, at most %d",
                            c->title ? c->title : "", c->n_series, SVG_PLOT_MAX_SERIES);
    if (bars && (!c->categories || c->n_categories == 0))
        return cx_error_set(e, CX_ERR_ARG, "chart \"%s\": no categories", c->title ? c->title : "");
    int any = 0;
    for (size_t s = 0; s < c->n_series; s++) {
        const svg_series *se = &c->series[s];
        if (se->n > SVG_PLOT_MAX_POINTS || (se->n && !se->y) || (!bars && se->n && !se->x))
            return cx_error_set(e, CX_ERR_ARG, "chart \"%s\": series %zu malformed",
                                c->title ? c->title : "", s);
        if (bars && se->n != c->n_categories)
            return cx_error_set(e, CX_ERR_ARG,
                                "chart \"%s\": series %zu has %zu values for %zu categories",
                                c->title ? c->title : "", s, se->n, c->n_categories);
        for (size_t i = 0; i < se->n; i++) {
            if (!isfinite(se->y[i]))
                continue;
            if (!bars && (!isfinite(se->x[i]) || (c->x_log2 && se->x[i] <= 0)))
                return cx_error_set(e, CX_ERR_ARG, "chart \"%s\": x %g cannot be drawn%s",
                                    c->title ? c->title : "", se->x[i],
                                    c->x_log2 ? " on a log2 axis" : "");
            any = 1;
        }
    }
    if (!any)
        return cx_error_set(e, CX_ERR_ARG, "chart \"%s\": no finite value",
                            c->title ? c->title : "");
    return CX_OK;
}

/* The frame around a plot: <svg>, title, axes with grid and ticks, axis labels. x: NULL for
 * bar charts (categories are drawn by the caller). */
static void write_frame(const svg_chart *c, FILE *out, const axis *x, const axis *y)
{
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n",
            c->width, c->height, c->width, c->height);
    fputs("<title>", out);
    svg_write_escaped(out, c->title);
    fputs("</title>\n", out);
    fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", c->width, c->height);
    fputs("<text class=\"chart-title\" x=\"10\" y=\"22\" font-size=\"14\" font-weight=\"bold\">",
          out);
    svg_write_escaped(out, c->title);
    fputs("</text>\n<g class=\"axes\" stroke=\"#cccccc\">\n", out);
    double t[MAX_TICKS];
    char lbl[64];
    int n = axis_ticks(y, t);
    for (int i = 0; i < n; i++)
        fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", MARGIN_LEFT,
                axis_px(y, t[i]), c->width - MARGIN_RIGHT, axis_px(y, t[i]));
    if (x) {
        n = axis_ticks(x, t);
        for (int i = 0; i < n; i++)
            fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    axis_px(x, t[i]), y->px0, axis_px(x, t[i]), y->px1);
    }
    fputs("</g>\n<g class=\"ticks\">\n", out);
    n = axis_ticks(y, t);
    for (int i = 0; i < n; i++) {
        tick_label(y, t[i], lbl, sizeof lbl);
        fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", MARGIN_LEFT - 6,
                axis_px(y, t[i]) + 4, lbl);
    }
    if (x) {
        n = axis_ticks(x, t);
        for (int i = 0; i < n; i++) {
            tick_label(x, t[i], lbl, sizeof lbl);
            fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                    axis_px(x, t[i]), y->px0 + 15, lbl);
        }
    }
    fputs("</g>\n", out);
    fprintf(out,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333333\"/>\n"
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
            MARGIN_LEFT, y->px0, MARGIN_LEFT, y->px1, MARGIN_LEFT, y->px0, c->width - MARGIN_RIGHT,
            y->px0);
    if (c->x_label) {
        fprintf(out, "<text class=\"x-label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                (MARGIN_LEFT + c->width - MARGIN_RIGHT) / 2.0,
                y->px0 + TICK_LABELS_H + X_LABEL_H - 4);
        svg_write_escaped(out, c->x_label);
        fputs("</text>\n", out);
    }
    if (c->y_label) {
        double cy = (y->px0 + y->px1) / 2.0;
        fprintf(out,
                "<text class=\"y-label\" x=\"14\" y=\"%.1f\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 14 %.1f)\">",
                cy, cy);
        svg_write_escaped(out, c->y_label);
        fputs("</text>\n", out);
    }
}

/* A mark's data attributes and tooltip: which series, where its value came from, the value
 * exactly (%.17g round-trips a double) and as printed. */
static void write_mark_data(FILE *out, const svg_series *se, size_t i, const char *where)
{
    char v[64];
    fputs(" data-series=\"", out);
    svg_write_escaped(out, se->name);
    fputc('"', out);
    if (se->refs && se->refs[i]) {
        fputs(" data-ref=\"", out);
        svg_write_escaped(out, se->refs[i]);
        fputc('"', out);
    }
    svg_format_value(se->y[i], v, sizeof v);
    fprintf(out, " data-value=\"%.17g\"><title>", se->y[i]);
    svg_write_escaped(out, se->name);
    fputs(", ", out);
    svg_write_escaped(out, where);
    fprintf(out, ": %s</title>", v);
}

/* Copies the chart with the default size filled in. */
static svg_chart sized(const svg_chart *c)
{
    svg_chart s = *c;
    if (s.width <= 0)
        s.width = SVG_PLOT_DEFAULT_WIDTH;
    if (s.height <= 0)
        s.height = SVG_PLOT_DEFAULT_HEIGHT;
    return s;
}

static cx_err finish(FILE *out, cx_error *e)
{
    fputs("</svg>\n", out);
    return ferror(out) ? cx_error_set(e, CX_ERR_IO, "writing an SVG chart failed") : CX_OK;
}

static double plot_bottom(const svg_chart *c)
{
    int rows = legend_rows(c, c->width - 20);
    return c->height - TICK_LABELS_H - (c->x_label ? X_LABEL_H : 0) - rows * LEGEND_ROW_H -
           (rows ? 8 : 4);
}

cx_err svg_chart_write_lines(const svg_chart *chart, FILE *out, cx_error *e)
{
    cx_err rc = check_chart(chart, 0, e);
    if (rc != CX_OK)
        return rc;
    svg_chart c = sized(chart);
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    int x_integer = 1;
    for (size_t s = 0; s < c.n_series; s++)
        for (size_t i = 0; i < c.series[s].n; i++)
            if (isfinite(c.series[s].y[i])) {
                x_integer &= c.series[s].x[i] == floor(c.series[s].x[i]);
                xmin = fmin(xmin, c.series[s].x[i]);
                xmax = fmax(xmax, c.series[s].x[i]);
                ymin = fmin(ymin, c.series[s].y[i]);
                ymax = fmax(ymax, c.series[s].y[i]);
            }
    axis x, y;
    axis_fit(&x, xmin, xmax, c.x_log2, 0, x_integer);
    axis_fit(&y, ymin, ymax, 0, c.y_from_zero, 0);
    x.px0 = MARGIN_LEFT;
    x.px1 = c.width - MARGIN_RIGHT;
    y.px0 = plot_bottom(&c);
    y.px1 = MARGIN_TOP;
    write_frame(&c, out, &x, &y);
    for (size_t s = 0; s < c.n_series; s++) {
        const svg_series *se = &c.series[s];
        fputs("<g class=\"series\" data-series=\"", out);
        svg_write_escaped(out, se->name);
        fputs("\">\n", out);
        int pen = 0, any = 0;
        for (size_t i = 0; i < se->n; i++) {
            if (!isfinite(se->y[i])) { /* a gap: lift the pen */
                pen = 0;
                continue;
            }
            if (!any)
                fprintf(out, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"",
                        palette[s], se->dashed ? " stroke-dasharray=\"6 4\"" : "");
            fprintf(out, "%s%c%.1f %.1f", any ? " " : "", pen ? 'L' : 'M', axis_px(&x, se->x[i]),
                    axis_px(&y, se->y[i]));
            pen = any = 1;
        }
        if (any)
            fputs("\"/>\n", out);
        for (size_t i = 0; i < se->n; i++) {
            if (!isfinite(se->y[i]))
                continue;
            char where[80];
            snprintf(where, sizeof where, "%s %g", c.x_label ? c.x_label : "x", se->x[i]);
            fprintf(out, "<circle class=\"mark\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"",
                    axis_px(&x, se->x[i]), axis_px(&y, se->y[i]), palette[s]);
            write_mark_data(out, se, i, where);
            fputs("</circle>\n", out);
        }
        fputs("</g>\n", out);
    }
    write_legend(&c, out, y.px0 + TICK_LABELS_H + (c.x_label ? X_LABEL_H : 0) + 14, 1);
    return finish(out, e);
}

cx_err svg_chart_write_bars(const svg_chart *chart, FILE *out, cx_error *e)
{
    cx_err rc = check_chart(chart, 1, e);
    if (rc != CX_OK)
        return rc;
    svg_chart c = sized(chart);
    double ymin = INFINITY, ymax = -INFINITY;
    for (size_t s = 0; s < c.n_series; s++)
        for (size_t i = 0; i < c.series[s].n; i++)
            if (isfinite(c.series[s].y[i])) {
                ymin = fmin(ymin, c.series[s].y[i]);
                ymax = fmax(ymax, c.series[s].y[i]);
            }
    axis y;
    axis_fit(&y, ymin, ymax, 0, 1, 0);
    y.px0 = plot_bottom(&c);
    y.px1 = MARGIN_TOP + 12; /* room for the value above the tallest bar */
    axis x = {.px0 = MARGIN_LEFT, .px1 = c.width - MARGIN_RIGHT};
    write_frame(&c, out, NULL, &y);
    const double group = (x.px1 - x.px0) / (double)c.n_categories;
    const double bar = group * 0.8 / (double)c.n_series;
    const double font = bar < 30 ? 8 : 10, base = axis_px(&y, 0.0);
    fputs("<g class=\"categories\">\n", out);
    for (size_t k = 0; k < c.n_categories; k++) {
        double cx = x.px0 + group * ((double)k + 0.5);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"", cx, y.px0 + 15);
        if (text_width(c.categories[k], 11) > group - 4) /* squeeze a long name into its group */
            fprintf(out, " textLength=\"%.1f\" lengthAdjust=\"spacingAndGlyphs\"", group - 4);
        fputc('>', out);
        svg_write_escaped(out, c.categories[k]);
        fputs("</text>\n", out);
    }
    fputs("</g>\n", out);
    for (size_t s = 0; s < c.n_series; s++) {
        const svg_series *se = &c.series[s];
        fputs("<g class=\"series\" data-series=\"", out);
        svg_write_escaped(out, se->name);
        fprintf(out, "\" fill=\"%s\">\n", palette[s]);
        for (size_t k = 0; k < se->n; k++) {
            if (!isfinite(se->y[k]))
                continue;
            double bx = x.px0 + group * (double)k + group * 0.1 + bar * (double)s;
            double top = axis_px(&y, se->y[k]);
            double y0 = fmin(top, base), h = fabs(base - top);
            fprintf(out,
                    "<rect class=\"mark\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", bx,
                    y0, bar * 0.92, h);
            write_mark_data(out, se, k, c.categories[k]);
            fputs("</rect>\n", out);
            char v[64];
            svg_format_value(se->y[k], v, sizeof v);
            fprintf(out,
                    "<text class=\"value\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                    "font-size=\"%.0f\" fill=\"#222222\">%s</text>\n",
                    bx + bar * 0.46, se->y[k] >= 0 ? top - 3 : top + font + 2, font, v);
        }
        fputs("</g>\n", out);
    }
    write_legend(&c, out, y.px0 + TICK_LABELS_H + (c.x_label ? X_LABEL_H : 0) + 14, 0);
    return finish(out, e);
}
