/* metrics.c — validation metrics computed on the host in double precision: accuracy,
 * ROC AUC (binary, Mann–Whitney with ties), macro F1, RMSE and R². */
#include "cx_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct score_label {
    float s;
    float y;
} score_label;

static int cmp_score(const void *a, const void *b)
{
    float x = ((const score_label *)a)->s, y = ((const score_label *)b)->s;
    return (x > y) - (x < y);
}

cx_err cx_metrics_roc_auc(const float *y, const float *score, size_t n, double *auc,
                          cx_error *e)
{
    *auc = NAN;
    score_label *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return cx_error_set(e, CX_ERR_NOMEM, "metrics: allocating %zu scores", n);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].s = score[i];
        v[i].y = y[i];
        pos += y[i] > 0.5f;
    }
    size_t neg = n - pos;
    if (pos == 0 || neg == 0) {
        free(v);
        return CX_OK; /* undefined with one class: NaN */
    }
    qsort(v, n, sizeof *v, cmp_score);
    /* sum of (average) ranks of the positives */
    double rank_sum = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double avg = 0.5 * ((double)(i + 1) + (double)j);
        for (size_t k = i; k < j; k++)
            if (v[k].y > 0.5f)
                rank_sum += avg;
        i = j;
    }
    free(v);
    *auc = (rank_sum - (double)pos * (pos + 1) / 2.0) / ((double)pos * neg);
    return CX_OK;
}

cx_err cx_metrics_classification(const float *y, const float *pred, size_t n, int k,
                                 int n_classes, cx_metrics *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    out->auc = out->rmse = out->r2 = NAN;
    out->n = n;
    if (n_classes < 2 || (k != 1 && k != n_classes))
        return cx_error_set(e, CX_ERR_ARG, "metrics: %d outputs for %d classes", k, n_classes);
    size_t *tp = calloc((size_t)n_classes, sizeof *tp);
    size_t *fp = calloc((size_t)n_classes, sizeof *fp);
    size_t *fn = calloc((size_t)n_classes, sizeof *fn);
    float *p1 = n_classes == 2 ? malloc((n ? n : 1) * sizeof *p1) : NULL;
    cx_err rc = CX_OK;
    if (!tp || !fp || !fn || (n_classes == 2 && !p1)) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "metrics: allocating");
        goto out;
    }
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        int c;
        const float *p = pred + i * (size_t)k;
        if (k == 1) {
            c = p[0] >= 0.5f;
            if (p1)
                p1[i] = p[0];
        } else {
            c = 0;
            for (int j = 1; j < k; j++)
                if (p[j] > p[c])
                    c = j;
            if (p1)
                p1[i] = p[1];
        }
        int t = (int)y[i];
        if (t < 0 || t >= n_classes) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "metrics: label %d of row %zu out of range", t,
                              i);
            goto out;
        }
        if (c == t) {
            correct++;
            tp[c]++;
        } else {
            fp[c]++;
            fn[t]++;
        }
    }
    out->accuracy = n ? (double)correct / n : NAN;
    double f1 = 0.0;
    for (int c = 0; c < n_classes; c++) {
        double denom = 2.0 * tp[c] + fp[c] + fn[c];
        f1 += denom > 0 ? 2.0 * tp[c] / denom : 0.0;
    }
    out->macro_f1 = f1 / n_classes;
    if (p1)
        rc = cx_metrics_roc_auc(y, p1, n, &out->auc, e);
out:
    free(tp);
    free(fp);
    free(fn);
    free(p1);
    return rc;
}

cx_err cx_metrics_regression(const float *y, const float *pred, size_t n, cx_metrics *out,
                             cx_error *e)
{
    (void)e;
    memset(out, 0, sizeof *out);
    out->accuracy = out->auc = out->macro_f1 = NAN;
    out->n = n;
    if (n == 0) {
        out->rmse = out->r2 = NAN;
        return CX_OK;
    }
    double mean = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += y[i];
    mean /= (double)n;
    double ss_res = 0.0, ss_tot = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - y[i], t = (double)y[i] - mean;
        ss_res += d * d;
        ss_tot += t * t;
    }
    out->rmse = sqrt(ss_res / (double)n);
    out->r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : NAN;
    return CX_OK;
}
