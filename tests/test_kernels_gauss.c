/* test_kernels_gauss.c — DP-SGD's vectorised Box–Muller against a scalar libm reference on
 * the same random words (odd and even counts, vector-width edges), and its moments. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu_gauss.h"
#include "cx_kernels.h"

static double one_two(uint64_t x)
{
    uint64_t b = 0x3ff0000000000000ull | (x >> 12);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static void test_matches_scalar_reference(void **state)
{
    (void)state;
    const size_t ns[] = {1, 2, 3, 15, 16, 17, 33, 1000, 84491};
    cx_rng r;
    cx_rng_seed(&r, 3);
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        const size_t n = ns[t], pairs = (n + 1) / 2;
        uint64_t *u = malloc(2 * pairs * sizeof *u);
        float *out = malloc(n * sizeof *out);
        assert_non_null(u);
        assert_non_null(out);
        for (size_t i = 0; i < 2 * pairs; i++)
            u[i] = cx_rng_next(&r);
        u[0] = ~(uint64_t)0; /* u1 at its smallest: 2 − (2 − 2⁻⁵²), log stays finite */
        cx_gauss_box_muller(u, out, n);
        for (size_t i = 0; i < pairs; i++) {
            double u1 = 2.0 - one_two(u[i]), th = 2.0 * M_PI * (one_two(u[pairs + i]) - 1.0);
            double rad = sqrt(-2.0 * log(u1));
            double want[2] = {rad * cos(th), rad * sin(th)};
            size_t at[2] = {i, pairs + i};
            for (int k = 0; k < 2; k++) {
                if (at[k] >= n)
                    continue;
                double got = out[at[k]];
                if (!isfinite(got) || fabs(got - want[k]) > 1e-5 + 1e-5 * fabs(want[k]))
                    fail_msg("n %zu: out[%zu] = %.9g, reference %.9g", n, at[k], got, want[k]);
            }
        }
        free(u);
        free(out);
    }
}

static void test_moments(void **state)
{
    (void)state;
    const size_t n = 1 << 20;
    uint64_t *u = malloc(n * sizeof *u);
    float *out = malloc(n * sizeof *out);
    assert_non_null(u);
    assert_non_null(out);
    cx_rng r;
    cx_rng_seed(&r, 5);
    for (size_t i = 0; i < n; i++)
        u[i] = cx_rng_next(&r);
    cx_gauss_box_muller(u, out, n);
    double s = 0, s2 = 0, s4 = 0;
    for (size_t i = 0; i < n; i++) {
        s += out[i];
        s2 += (double)out[i] * out[i];
        s4 += (double)out[i] * out[i] * out[i] * out[i];
    }
    double mean = s / n, var = s2 / n - mean * mean, kurt = s4 / n / (var * var);
    assert_true(fabs(mean) < 0.005);
    assert_true(fabs(var - 1.0) < 0.01);
    assert_true(fabs(kurt - 3.0) < 0.05);
    free(u);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_scalar_reference),
        cmocka_unit_test(test_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
