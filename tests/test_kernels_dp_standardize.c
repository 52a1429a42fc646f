/* test_kernels_dp_standardize.c — the DP standardisation (cx_dp_standardize): its noise has the
 * Laplace scale the budget says (statistically, over many releases), values are clipped to the
 * declared bounds, unbounded (one-hot) columns cost nothing and get mean 0, std 1. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cx_kernels.h"

enum { N = 1000, RUNS = 1000 };

/* Column 0 in [0, 10] (bounded), column 1 one-hot (NaN bounds). The noise of the released
 * mean is Laplace(b / n) with b = r · 2m / ε (r = 5, m = 1): its standard deviation is
 * √2 · b / n. Over 1000 releases the sample std is within 15 % of it (≈ 7 standard errors). */
static void test_noise_scale(void **state)
{
    (void)state;
    static float x[N * 2];
    double sum = 0;
    for (int i = 0; i < N; i++) {
        x[2 * i] = (float)(i % 11);
        x[2 * i + 1] = (float)(i & 1);
        sum += i % 11;
    }
    const double lo[2] = {0.0, NAN}, hi[2] = {10.0, NAN}, eps = 1.0;
    const double true_mean = sum / N, want_sd = sqrt(2.0) * (5.0 * 2.0 / eps) / N;
    cx_dp_rng *r = NULL;
    cx_error e;
    assert_int_equal(cx_dp_rng_create(&r, &e), CX_OK);
    double acc = 0, acc2 = 0;
    for (int k = 0; k < RUNS; k++) {
        float mean[2], sd[2];
        assert_int_equal(cx_dp_standardize(x, N, 2, lo, hi, eps, r, mean, sd, &e), CX_OK);
        assert_true(mean[1] == 0.0f && sd[1] == 1.0f);
        assert_true(mean[0] >= 0.0f && mean[0] <= 10.0f);
        assert_true(sd[0] >= 5e-3f && sd[0] <= 5.0f);
        double dev = mean[0] - true_mean;
        acc += dev;
        acc2 += dev * dev;
    }
    double m = acc / RUNS, sd = sqrt(acc2 / RUNS - m * m);
    assert_true(fabs(m) < 5 * want_sd / sqrt((double)RUNS)); /* unbiased */
    assert_true(sd > 0.85 * want_sd && sd < 1.15 * want_sd);
    /* ten times the budget: a tenth of the noise */
    acc = acc2 = 0;
    for (int k = 0; k < RUNS; k++) {
        float mean[2], s[2];
        assert_int_equal(cx_dp_standardize(x, N, 2, lo, hi, 10 * eps, r, mean, s, &e), CX_OK);
        double dev = mean[0] - true_mean;
        acc += dev;
        acc2 += dev * dev;
    }
    m = acc / RUNS;
    sd = sqrt(acc2 / RUNS - m * m);
    assert_true(sd > 0.085 * want_sd && sd < 0.115 * want_sd);
    cx_dp_rng_free(r);
}

/* A small budget on few rows: the noisy variance is often ≤ 0, and the std is floored at the
 * noise's own scale, rad / √(share · n), not at rad · 10⁻³ (which blew standardised inputs up
 * a thousandfold and wrecked training at ε_s = 0.5 on 600 rows). */
static void test_noisy_variance_floor(void **state)
{
    (void)state;
    enum { ROWS = 600 };
    static float x[ROWS];
    for (int i = 0; i < ROWS; i++)
        x[i] = 5.0f; /* a constant column: true std 0 */
    const double lo = 0.0, hi = 10.0, eps = 0.5, share = eps / 2.0;
    const double floor_sd = 5.0 / sqrt(share * ROWS);
    cx_dp_rng *r = NULL;
    cx_error e;
    assert_int_equal(cx_dp_rng_create(&r, &e), CX_OK);
    for (int k = 0; k < 200; k++) {
        float mean, sd;
        assert_int_equal(cx_dp_standardize(x, ROWS, 1, &lo, &hi, eps, r, &mean, &sd, &e), CX_OK);
        assert_true(sd >= (float)(floor_sd * (1 - 1e-6)) && sd <= 5.0f);
    }
    cx_dp_rng_free(r);
}

/* Values outside the bounds are clipped: a far outlier moves the mean by at most r / n. */
static void test_clipping(void **state)
{
    (void)state;
    static float x[N];
    for (int i = 0; i < N; i++)
        x[i] = 5.0f;
    x[0] = 1e30f;
    const double lo = 0.0, hi = 10.0;
    cx_dp_rng *r = NULL;
    cx_error e;
    assert_int_equal(cx_dp_rng_create(&r, &e), CX_OK);
    double acc = 0;
    for (int k = 0; k < 200; k++) {
        float mean, sd;
        assert_int_equal(cx_dp_standardize(x, N, 1, &lo, &hi, 1e6, r, &mean, &sd, &e), CX_OK);
        acc += mean;
    }
    assert_true(fabs(acc / 200 - (5.0 + 5.0 / N)) < 1e-3);
    float mean, sd;
    const double bad_hi = -1.0;
    assert_int_equal(cx_dp_standardize(x, N, 1, &lo, &bad_hi, 1.0, r, &mean, &sd, &e), CX_ERR_ARG);
    cx_dp_rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noise_scale),
        cmocka_unit_test(test_clipping),
        cmocka_unit_test(test_noisy_variance_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
