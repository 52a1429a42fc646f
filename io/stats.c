/* stats.c — standardisation statistics (one parallel pass, mergeable mean/variance)
 * and the per-column statistics and correlation matrix of the `stats` task. */
#include "parse_internal.h"

#include <omp.h>
#include <stdlib.h>

enum { STD_BLOCK = 4096, CORR_MAX_D = 2048 };

const double cx_stats_quantile_levels[CX_STATS_NQ] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};

cx_err cx_standardizer_fit(const float *X, size_t n, size_t d, cx_standardizer *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if ((!X && n) || d == 0)
        return cx_error_set(e, CX_ERR_ARG, "standardizer: empty input");
    size_t nb = (n + STD_BLOCK - 1) / STD_BLOCK;
    /* per block: count, mean, M2 per feature (block order fixes the merge order) */
    double *acc = malloc((nb ? nb : 1) * d * 3 * sizeof *acc);
    out->mean = malloc(d * sizeof *out->mean);
    out->std = malloc(d * sizeof *out->std);
    if (!acc || !out->mean || !out->std) {
        free(acc);
        cx_standardizer_free(out);
        return cx_error_set(e, CX_ERR_NOMEM, "standardizer: out of memory");
    }
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nb; b++) {
        double *cnt = acc + b * d * 3, *mean = cnt + d, *m2 = mean + d;
        size_t r0 = b * STD_BLOCK, r1 = r0 + STD_BLOCK < n ? r0 + STD_BLOCK : n;
        for (size_t j = 0; j < d; j++)
            cnt[j] = mean[j] = m2[j] = 0;
        /* two passes over a block that sits in cache: exact mean, then squared deviations */
        for (size_t r = r0; r < r1; r++) {
            const float *x = X + r * d;
            for (size_t j = 0; j < d; j++)
                if (!isnan(x[j])) {
                    cnt[j] += 1;
                    mean[j] += x[j];
                }
        }
        for (size_t j = 0; j < d; j++)
            mean[j] = cnt[j] > 0 ? mean[j] / cnt[j] : 0;
        for (size_t r = r0; r < r1; r++) {
            const float *x = X + r * d;
            for (size_t j = 0; j < d; j++)
                if (!isnan(x[j])) {
                    double t = x[j] - mean[j];
                    m2[j] += t * t;
                }
        }
    }
    for (size_t j = 0; j < d; j++) {
        double c = 0, m = 0, q = 0;
        for (size_t b = 0; b < nb; b++) { /* Chan et al. pairwise merge */
            const double *cnt = acc + b * d * 3;
            double cb = cnt[j], mb = cnt[d + j], qb = cnt[2 * d + j];
            if (cb == 0)
                continue;
            double tot = c + cb, delta = mb - m;
            m += delta * cb / tot;
            q += qb + delta * delta * c * cb / tot;
            c = tot;
        }
        double sd = c > 0 ? sqrt(q / c) : 0;
        out->mean[j] = (float)m;
        out->std[j] = sd > 0 && isfinite(sd) ? (float)sd : 1.0f;
    }
    free(acc);
    out->d = d;
    return CX_OK;
}

void cx_standardizer_apply(const cx_standardizer *st, float *X, size_t n)
{
    const size_t d = st->d;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < n; r++) {
        float *x = X + r * d;
        for (size_t j = 0; j < d; j++)
            x[j] = (x[j] - st->mean[j]) / st->std[j];
    }
}

void cx_standardizer_free(cx_standardizer *st)
{
    if (!st)
        return;
    free(st->mean);
    free(st->std);
    memset(st, 0, sizeof *st);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static void column_stats(const float *X, size_t n, size_t d, size_t j, float *buf,
                         cx_column_stats *cs)
{
    size_t m = 0;
    for (size_t r = 0; r < n; r++) {
        float v = X[r * d + j];
        if (!isnan(v))
            buf[m++] = v;
    }
    cs->count = m;
    if (m == 0) {
        cs->mean = cs->std = cs->min = cs->max = NAN;
        for (int k = 0; k < CX_STATS_NQ; k++)
            cs->q[k] = NAN;
        return;
    }
    qsort(buf, m, sizeof *buf, cmp_float);
    double sum = 0;
    for (size_t i = 0; i < m; i++)
        sum += buf[i];
    double mean = sum / (double)m, ss = 0;
    for (size_t i = 0; i < m; i++)
        ss += ((double)buf[i] - mean) * ((double)buf[i] - mean);
    cs->mean = mean;
    cs->std = m > 1 ? sqrt(ss / (double)(m - 1)) : NAN;
    cs->min = buf[0];
    cs->max = buf[m - 1];
    for (int k = 0; k < CX_STATS_NQ; k++) {
        double h = (double)(m - 1) * cx_stats_quantile_levels[k];
        size_t lo = (size_t)h;
        double frac = h - (double)lo;
        double a = buf[lo], b = lo + 1 < m ? buf[lo + 1] : buf[lo];
        cs->q[k] = a + frac * (b - a);
    }
}

cx_err cx_stats_compute(const float *X, size_t n, size_t d, cx_stats *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if ((!X && n) || d == 0)
        return cx_error_set(e, CX_ERR_ARG, "stats: empty input");
    out->cols = calloc(d, sizeof *out->cols);
    if (!out->cols)
        return cx_error_set(e, CX_ERR_NOMEM, "stats: out of memory");
    out->d = d;
    int fail = 0;
#pragma omp parallel reduction(| : fail)
    {
        float *buf = malloc((n ? n : 1) * sizeof *buf);
        if (!buf)
            fail = 1;
#pragma omp for schedule(dynamic, 1)
        for (size_t j = 0; j < d; j++)
            if (buf)
                column_stats(X, n, d, j, buf, &out->cols[j]);
        if (buf)
            cx_memwipe(buf, n * sizeof *buf);
        free(buf);
    }
    if (fail) {
        cx_stats_free(out);
        return cx_error_set(e, CX_ERR_NOMEM, "stats: out of memory");
    }
    if (d > CORR_MAX_D)
        return CX_OK; /* a d x d matrix this large is not a summary: left out */
    /* Pearson on pairwise-complete rows, from sums of centred values (per pair: count,
     * sum_i, sum_j, sum_ii, sum_jj, sum_ij), accumulated per thread, merged in order. */
    const size_t np = d * (d + 1) / 2;
    int nt = omp_get_max_threads();
    double *acc = calloc((size_t)nt * np * 6, sizeof *acc);
    out->corr = malloc(d * d * sizeof *out->corr);
    double *mean = malloc(d * sizeof *mean);
    if (!acc || !out->corr || !mean) {
        free(acc);
        free(mean);
        cx_stats_free(out);
        return cx_error_set(e, CX_ERR_NOMEM, "stats: out of memory");
    }
    for (size_t j = 0; j < d; j++)
        mean[j] = out->cols[j].count ? out->cols[j].mean : 0;
#pragma omp parallel num_threads(nt)
    {
        double *a = acc + (size_t)omp_get_thread_num() * np * 6;
        double *z = malloc(d * sizeof *z);
#pragma omp for schedule(static)
        for (size_t r = 0; r < n; r++) {
            if (!z)
                continue;
            for (size_t j = 0; j < d; j++)
                z[j] = (double)X[r * d + j] - mean[j];
            size_t p = 0;
            for (size_t i = 0; i < d; i++) {
                double zi = z[i];
                if (isnan(zi)) {
                    p += d - i;
                    continue;
                }
                for (size_t j = i; j < d; j++, p++) {
                    double zj = z[j];
                    if (isnan(zj))
                        continue;
                    double *t = a + p * 6;
                    t[0] += 1;
                    t[1] += zi;
                    t[2] += zj;
                    t[3] += zi * zi;
                    t[4] += zj * zj;
                    t[5] += zi * zj;
                }
            }
        }
        if (z)
            cx_memwipe(z, d * sizeof *z);
        else
            a[0] = NAN; /* marks the failure below */
        free(z);
    }
    int zfail = 0;
    for (int t = 0; t < nt; t++)
        zfail |= isnan(acc[(size_t)t * np * 6]);
    size_t p = 0;
    for (size_t i = 0; i < d && !zfail; i++)
        for (size_t j = i; j < d; j++, p++) {
            double s[6] = {0};
            for (int t = 0; t < nt; t++)
                for (int k = 0; k < 6; k++)
                    s[k] += acc[((size_t)t * np + p) * 6 + k];
            double c = s[0];
            double vi = s[3] - s[1] * s[1] / c, vj = s[4] - s[2] * s[2] / c;
            double cij = s[5] - s[1] * s[2] / c;
            double r = c > 1 && vi > 0 && vj > 0 ? cij / sqrt(vi * vj) : NAN;
            if (r > 1)
                r = 1;
            if (r < -1)
                r = -1;
            out->corr[i * d + j] = out->corr[j * d + i] = r;
        }
    free(acc);
    free(mean);
    if (zfail) {
        cx_stats_free(out);
        return cx_error_set(e, CX_ERR_NOMEM, "stats: out of memory");
    }
    return CX_OK;
}

void cx_stats_free(cx_stats *st)
{
    if (!st)
        return;
    free(st->cols);
    free(st->corr);
    memset(st, 0, sizeof *st);
}
