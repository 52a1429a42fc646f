/* curve_report.c — a training run's curve as a report directory: the JSON it came from (epochs
 * with their losses and, under DP-SGD, the epsilon spent by each epoch's end) and SVG charts. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg_plot.h"

/* A finite number as JSON, else null (jansson has no NaN). */
static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* DIR/name: an SVG chart (lines) of the curve. */
static cx_err write_curve_svg(const char *dir, const char *name, const svg_chart *c, cx_error *e)
{
    char path[4096], *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return cx_error_errno(e, CX_ERR_NOMEM, errno, "open_memstream");
    cx_err rc = svg_chart_write_lines(c, m, e);
    if (fclose(m) != 0 && rc == CX_OK)
        rc = cx_error_set(e, CX_ERR_NOMEM, "formatting %s", name);
    snprintf(path, sizeof path, "%.3000s/%s", dir, name);
    if (rc == CX_OK)
        rc = cx_file_write_atomic(path, buf, len, 0644, e);
    free(buf);
    return rc;
}

/* The epochs array: {epoch, train_loss, validation_loss[, lr][, epsilon]} each. */
static json_t *epochs_json(const cli_curve *c)
{
    json_t *a = json_array();
    for (int i = 0; a && i < c->n; i++) {
        json_t *o = json_pack("{s:i, s:o, s:o}", "epoch", i + 1, "train_loss",
                              num_or_null(c->train[i]), "validation_loss", num_or_null(c->val[i]));
        if (o && c->lr)
            json_object_set_new(o, "lr", num_or_null(c->lr[i]));
        if (o && c->eps)
            json_object_set_new(o, "epsilon", num_or_null(c->eps[i]));
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

cx_err cli_curve_report(const char *dir, const char *json_name, json_t *head, const cli_curve *c,
                        cx_error *e)
{
    cx_err rc = c->n > SVG_PLOT_MAX_POINTS
                    ? cx_error_set(e, CX_ERR_LIMIT, "report: %d epochs (at most %d plotted)", c->n,
                                   SVG_PLOT_MAX_POINTS)
                    : cx_mkdir_p(dir, 0755, e);
    json_t *epochs = rc == CX_OK ? epochs_json(c) : NULL;
    if (rc == CX_OK && (!head || !epochs || json_object_set_new(head, "epochs", epochs) != 0))
        rc = cx_error_set(e, CX_ERR_NOMEM, "report");
    else
        epochs = NULL;
    json_decref(epochs);
    char *txt = rc == CX_OK ? json_dumps(head, JSON_INDENT(2)) : NULL;
    json_decref(head);
    char path[4096];
    snprintf(path, sizeof path, "%.3000s/%s", dir, json_name);
    if (rc == CX_OK)
        rc = txt ? cx_file_write_atomic(path, txt, strlen(txt), 0644, e)
                 : cx_error_set(e, CX_ERR_NOMEM, "report");
    free(txt);
    if (rc != CX_OK || c->n == 0)
        return rc;
    /* the charts' x and per-point source paths (data-ref: where each value is in the JSON) */
    struct curve_bufs {
        double x[SVG_PLOT_MAX_POINTS];
        char refs[3][SVG_PLOT_MAX_POINTS][40];
        const char *refp[3][SVG_PLOT_MAX_POINTS];
    } *cb = calloc(1, sizeof *cb);
    if (!cb)
        return cx_error_set(e, CX_ERR_NOMEM, "report");
    static const char *const keys[3] = {"train_loss", "validation_loss", "epsilon"};
    for (int i = 0; i < c->n; i++) {
        cb->x[i] = i + 1;
        for (int k = 0; k < 3; k++) {
            snprintf(cb->refs[k][i], sizeof cb->refs[k][i], "epochs.%d.%s", i, keys[k]);
            cb->refp[k][i] = cb->refs[k][i];
        }
    }
    svg_series loss[2] = {
        {.name = "train loss", .x = cb->x, .y = c->train, .refs = cb->refp[0], .n = (size_t)c->n},
        {.name = "validation loss",
         .x = cb->x,
         .y = c->val,
         .refs = cb->refp[1],
         .n = (size_t)c->n},
    };
    svg_chart lc = {.title = "Loss per epoch",
                    .x_label = "epoch",
                    .y_label = "loss",
                    .series = loss,
                    .n_series = 2};
    rc = write_curve_svg(dir, "loss.svg", &lc, e);
    if (rc == CX_OK && c->eps) {
        svg_series es = {.name = "epsilon spent",
                         .x = cb->x,
                         .y = c->eps,
                         .refs = cb->refp[2],
                         .n = (size_t)c->n};
        char title[128];
        snprintf(title, sizeof title, "Privacy spent by each epoch's end (delta %g)", c->delta);
        svg_chart ec = {.title = title,
                        .x_label = "epoch",
                        .y_label = "epsilon",
                        .y_from_zero = 1,
                        .series = &es,
                        .n_series = 1};
        rc = write_curve_svg(dir, "epsilon.svg", &ec, e);
    }
    free(cb);
    return rc;
}
