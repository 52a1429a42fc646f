/* svg_plot.h — the cli's small SVG chart writer: line charts over a numeric x axis (linear or
 * log2) and grouped bar charts over categories, with axes, ticks, a legend and XML-escaped text.
 * Internal to cli/: the bench report and `cloakx train --report` draw with it. */
#ifndef CX_SVG_PLOT_H
#define CX_SVG_PLOT_H

#include <stddef.h>
#include <stdio.h>

#include "cx_util.h"

enum { SVG_PLOT_MAX_SERIES = 12, SVG_PLOT_MAX_POINTS = 4096 };
enum { SVG_PLOT_DEFAULT_WIDTH = 640, SVG_PLOT_DEFAULT_HEIGHT = 360 };

/* One series: n values y (NAN: no point or bar there). */
typedef struct svg_series {
    const char *name; /* legend text */
    const double *x;  /* line charts: each point's x (bar charts: ignored, may be NULL) */
    const double *y;
    const char *const *refs; /* NULL, or per point where the value came from (data-ref), so a
                                checker can find it in the data the chart was drawn from */
    size_t n;
    int dashed; /* line charts: a dashed line (the peers) */
} svg_series;

typedef struct svg_chart {
    const char *title, *x_label, *y_label;
    int width, height; /* pixels; 0: the defaults */
    int x_log2;        /* line charts: x on a log2 axis (thread counts, batch sizes, widths) */
    int y_from_zero;   /* line charts: the y axis includes 0 (bar charts always do) */
    const char *const *categories; /* bar charts: the groups; series[s].y[c] for category c */
    size_t n_categories;
    const svg_series *series;
    size_t n_series;
} svg_chart;

/* One <svg> element (no XML declaration, so it also stands inline in HTML) to out. Fails with
 * CX_ERR_ARG on an empty or oversized chart, CX_ERR_IO when out fails. */
cx_err svg_chart_write_lines(const svg_chart *c, FILE *out, cx_error *e);
cx_err svg_chart_write_bars(const svg_chart *c, FILE *out, cx_error *e);

/* s as XML character data or attribute value (&, <, >, ", ' escaped; control characters but
 * tab and newline dropped, as XML 1.0 cannot hold them). */
void svg_write_escaped(FILE *out, const char *s);
/* How the report prints a value: "%.0f" from 1000 up (no exponent), else 4 significant
 * digits ("%.4g"); "-" for NAN. */
void svg_format_value(double v, char *buf, size_t cap);

#endif
