/* test_kernels_privacy_accountant.c — the Rényi-DP accountant against Opacus' published test
 * values (and recomputed ones, marked), its special cases, composition, solve and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "cx_kernels.h"

static void assert_rel(double got, double want, double rtol)
{
    if (!(fabs(got - want) <= rtol * fabs(want))) {
        print_error("got %.12g, want %.12g (rtol %g)\n", got, want, rtol);
        fail();
    }
}

/* T1: opacus/tests/accountants_test.py test_rdp_accountant: σ=1.5, q=0.04, 90 epochs
 * (int(90/0.04) = 2250 steps), δ=1e-5, default orders: ε = 7.32911117143 (α = 3.9). */
static void test_opacus_rdp_accountant(void **state)
{
    (void)state;
    cx_error e;
    double eps, ord;
    assert_int_equal(cx_privacy_epsilon(1.5, 0.04, 2250, 1e-5, NULL, 0, &eps, &ord, &e), CX_OK);
    assert_rel(eps, 7.32911117143, 1e-10);
    assert_true(ord == 3.9);

    /* The same through the accountant, in two segments of the same mechanism. */
    cx_privacy_accountant *acc;
    assert_int_equal(cx_privacy_accountant_new(NULL, 0, &acc, &e), CX_OK);
    assert_int_equal(cx_privacy_accountant_add(acc, 1.5, 0.04, 1000, &e), CX_OK);
    assert_int_equal(cx_privacy_accountant_add(acc, 1.5, 0.04, 1250, &e), CX_OK);
    double eps2;
    assert_int_equal(cx_privacy_accountant_epsilon(acc, 1e-5, &eps2, &ord, &e), CX_OK);
    assert_rel(eps2, eps, 1e-12);
    cx_privacy_accountant_free(acc);
}

/* T6: opacus/accountants/analysis/rdp.py docstring: (q=1e-5, σ=1, 10 steps) then
 * (q=1e-4, σ=3, 4 steps), orders 2..32, δ=1e-5: ε ≈ 0.336 (0.336344 recomputed), α = 23. */
static void test_opacus_segments(void **state)
{
    (void)state;
    double orders[31];
    for (int i = 0; i < 31; i++)
        orders[i] = 2 + i;
    cx_error e;
    cx_privacy_accountant *acc;
    assert_int_equal(cx_privacy_accountant_new(orders, 31, &acc, &e), CX_OK);
    assert_int_equal(cx_privacy_accountant_add(acc, 1.0, 1e-5, 10, &e), CX_OK);
    assert_int_equal(cx_privacy_accountant_add(acc, 3.0, 1e-4, 4, &e), CX_OK);
    double eps, ord;
    assert_int_equal(cx_privacy_accountant_epsilon(acc, 1e-5, &eps, &ord, &e), CX_OK);
    assert_true(fabs(eps - 0.336) < 5e-4);
    assert_rel(eps, 0.336344, 2e-6);
    assert_true(ord == 23);
    cx_privacy_accountant_free(acc);
}

/* T4/T5: opacus test_get_noise_multiplier_rdp_{epochs,steps}: target ε=8, δ=1e-5, q=0.04;
 * 90 epochs (2250 steps) → σ = 1.416, 2000 steps → σ = 1.3562 (4 places). */
static void test_opacus_noise_multiplier(void **state)
{
    (void)state;
    cx_error e;
    double sigma, eps, ord;
    assert_int_equal(cx_privacy_noise_solve(8.0, 0.04, 2250, 1e-5, NULL, 0, 0, &sigma, &eps, &ord,
                                            &e),
                     CX_OK);
    assert_true(fabs(sigma - 1.416) < 5e-5);
    assert_true(eps <= 8.0 && eps >= 8.0 - CX_PRIVACY_EPS_TOLERANCE);
    assert_int_equal(cx_privacy_noise_solve(8.0, 0.04, 2000, 1e-5, NULL, 0, 0, &sigma, &eps, &ord,
                                            &e),
                     CX_OK);
    assert_true(fabs(sigma - 1.3562) < 5e-5);
    assert_true(eps <= 8.0);

    /* A tight tolerance: ε(σ) is just below the target, and ε(σ - 1e-4) is above it. */
    assert_int_equal(cx_privacy_noise_solve(3.0, 0.01, 5000, 1e-6, NULL, 0, 1e-7, &sigma, &eps,
                                            &ord, &e),
                     CX_OK);
    assert_true(eps <= 3.0 && eps > 3.0 - 1e-7);
    double check;
    assert_int_equal(cx_privacy_epsilon(sigma, 0.01, 5000, 1e-6, NULL, 0, &check, NULL, &e), CX_OK);
    assert_rel(check, eps, 1e-12);
    assert_int_equal(cx_privacy_epsilon(sigma - 1e-4, 0.01, 5000, 1e-6, NULL, 0, &check, NULL, &e),
                     CX_OK);
    assert_true(check > 3.0);
}

/* T11 (google/differential-privacy rdp_privacy_accountant_test): q=0.01, σ=2.5, 50 steps.
 * Integer orders are computed identically by both libraries; at α=1.5 the Opacus-style
 * (sign-aware) series gives 6.5007e-4 (recomputed) where dp_accounting gives 6.7058e-4. */
static void test_rdp_values(void **state)
{
    (void)state;
    const double orders[] = {1.5, 5, 50, 100, INFINITY};
    double rdp[5];
    cx_error e;
    assert_int_equal(cx_privacy_rdp_compute(0.01, 2.5, 50, orders, 5, rdp, &e), CX_OK);
    assert_rel(rdp[0], 6.5007e-4, 1e-4);
    assert_rel(rdp[1], 2.18075656e-3, 1e-4);
    assert_rel(rdp[2], 2.38460375e-2, 1e-4);
    assert_rel(rdp[3], 1.67416308e2, 1e-4);
    assert_true(isinf(rdp[4]));
}

/* T13 (dp_accounting): a constant RDP of 1.1 on orders 2..32, δ=1e-5 → ε = 1.32783806176
 * at α = 32 (the conversion is the same formula in both libraries). */
static void test_conversion(void **state)
{
    (void)state;
    double orders[31], rdp[31];
    for (int i = 0; i < 31; i++) {
        orders[i] = 2 + i;
        rdp[i] = 1.1;
    }
    double eps, ord;
    cx_error e;
    assert_int_equal(cx_privacy_rdp_to_epsilon(orders, rdp, 31, 1e-5, &eps, &ord, &e), CX_OK);
    assert_rel(eps, 1.32783806176, 1e-10);
    assert_true(ord == 32);
}

/* T14 (recomputed only, not a library value): σ=1, q=0.01, 1000 steps, δ=1e-5 → 2.10137. */
static void test_recomputed(void **state)
{
    (void)state;
    double eps, ord;
    cx_error e;
    assert_int_equal(cx_privacy_epsilon(1.0, 0.01, 1000, 1e-5, NULL, 0, &eps, &ord, &e), CX_OK);
    assert_rel(eps, 2.10137, 5e-6);
    assert_true(ord == 7.8);
}

static void test_special_cases(void **state)
{
    (void)state;
    const double orders[] = {1.5, 2, 8, 32.5};
    double rdp[4], eps, ord;
    cx_error e;
    /* q = 0: no loss at any order. */
    assert_int_equal(cx_privacy_rdp_compute(0.0, 1.0, 100, orders, 4, rdp, &e), CX_OK);
    for (int i = 0; i < 4; i++)
        assert_true(rdp[i] == 0.0);
    /* σ = 0: no privacy; ε is infinite and no order is usable. */
    assert_int_equal(cx_privacy_epsilon(0.0, 0.5, 10, 1e-5, orders, 4, &eps, &ord, &e), CX_OK);
    assert_true(isinf(eps) && isnan(ord));
    /* q = 1: the plain Gaussian mechanism, α/(2σ²) per step. */
    assert_int_equal(cx_privacy_rdp_compute(1.0, 2.0, 3, orders, 4, rdp, &e), CX_OK);
    for (int i = 0; i < 4; i++)
        assert_rel(rdp[i], 3 * orders[i] / 8.0, 1e-15);
    /* zero steps: nothing spent, even with no noise. */
    assert_int_equal(cx_privacy_rdp_compute(0.5, 0.0, 0, orders, 4, rdp, &e), CX_OK);
    for (int i = 0; i < 4; i++)
        assert_true(rdp[i] == 0.0);
}

/* Properties any correct accountant has: more noise, less ε; more steps, more ε; RDP grows
 * with the order (so a fractional order never exceeds the next integer one). */
static void test_monotone(void **state)
{
    (void)state;
    cx_error e;
    double prev = INFINITY;
    for (double s = 0.6; s < 5.0; s += 0.2) {
        double eps;
        assert_int_equal(cx_privacy_epsilon(s, 0.02, 3000, 1e-5, NULL, 0, &eps, NULL, &e), CX_OK);
        assert_true(eps < prev);
        prev = eps;
    }
    prev = 0;
    for (uint64_t n = 10; n < 100000; n *= 3) {
        double eps;
        assert_int_equal(cx_privacy_epsilon(1.1, 0.01, n, 1e-5, NULL, 0, &eps, NULL, &e), CX_OK);
        assert_true(eps > prev);
        prev = eps;
    }
    const double *orders;
    size_t n = cx_privacy_default_orders(&orders);
    assert_int_equal(n, 151);
    double rdp[151];
    for (double s = 0.5; s < 20; s *= 2) {
        assert_int_equal(cx_privacy_rdp_compute(0.003, s, 1, orders, n, rdp, &e), CX_OK);
        for (size_t i = 1; i < n; i++) {
            assert_false(isnan(rdp[i]));
            assert_true(rdp[i] >= rdp[i - 1] * (1 - 1e-9));
        }
    }
}

/* Extreme but legal inputs stay finite and fast (log-space everywhere). */
static void test_extremes(void **state)
{
    (void)state;
    cx_error e;
    const double orders[] = {1.01, 1.25, 2.5, 128, 256, 512, 1024};
    double rdp[7], eps, ord;
    /* TF Privacy's T9 regime: huge dataset, σ=0.1. */
    assert_int_equal(cx_privacy_rdp_compute(1024.0 / 1e8, 0.1, 976562, orders, 7, rdp, &e), CX_OK);
    for (int i = 0; i < 7; i++)
        assert_false(isnan(rdp[i]));
    /* Large σ: a tiny but positive, finite loss. */
    assert_int_equal(cx_privacy_rdp_compute(1e-3, 5000.0, 1, orders, 7, rdp, &e), CX_OK);
    for (int i = 0; i < 7; i++)
        assert_true(rdp[i] >= 0 && rdp[i] < 1e-6);
    assert_int_equal(cx_privacy_epsilon(30.0, 0.5, 1000000, 1e-9, orders, 7, &eps, &ord, &e), CX_OK);
    assert_true(isfinite(eps) && eps > 0);
}

static void test_invalid(void **state)
{
    (void)state;
    cx_error e;
    double eps, ord, sigma, rdp[2];
    const double bad_orders[] = {2.0, 1.0};
    assert_int_equal(cx_privacy_epsilon(1.0, 0.01, 10, 0.0, NULL, 0, &eps, &ord, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "delta"));
    assert_int_equal(cx_privacy_epsilon(1.0, 0.01, 10, 1.0, NULL, 0, &eps, &ord, &e), CX_ERR_ARG);
    assert_int_equal(cx_privacy_epsilon(1.0, -0.1, 10, 1e-5, NULL, 0, &eps, &ord, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "sample rate"));
    assert_int_equal(cx_privacy_epsilon(1.0, 1.5, 10, 1e-5, NULL, 0, &eps, &ord, &e), CX_ERR_ARG);
    assert_int_equal(cx_privacy_epsilon(NAN, 0.1, 10, 1e-5, NULL, 0, &eps, &ord, &e), CX_ERR_ARG);
    assert_int_equal(cx_privacy_epsilon(-1, 0.1, 10, 1e-5, NULL, 0, &eps, &ord, &e), CX_ERR_ARG);
    assert_int_equal(cx_privacy_rdp_compute(0.1, 1, 1, bad_orders, 2, rdp, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "order"));
    assert_int_equal(cx_privacy_noise_solve(0.0, 0.01, 10, 1e-5, NULL, 0, 0, &sigma, NULL, NULL,
                                            &e),
                     CX_ERR_ARG);
    /* An ε below what δ alone costs at these orders cannot be reached by any noise. */
    assert_int_equal(cx_privacy_noise_solve(0.01, 0.05, 1000, 1e-5, NULL, 0, 0, &sigma, NULL, NULL,
                                            &e),
                     CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "out of reach"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opacus_rdp_accountant),
        cmocka_unit_test(test_opacus_segments),
        cmocka_unit_test(test_opacus_noise_multiplier),
        cmocka_unit_test(test_rdp_values),
        cmocka_unit_test(test_conversion),
        cmocka_unit_test(test_recomputed),
        cmocka_unit_test(test_special_cases),
        cmocka_unit_test(test_monotone),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
