/* privacy.c — Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (DP-SGD):
 * RDP per order, composition, conversion to (ε, δ) and the noise solve, in Opacus' convention. */
#include "cx_kernels.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fractional orders: beyond this many series terms we fall back to the integer order
 * ceil(α), whose RDP bounds RDP(α) from above (Rényi divergence grows with the order), so
 * the answer stays sound while a huge σ cannot make one evaluation run for minutes. */
#define PRIVACY_FRAC_MAX_TERMS 20000
/* Opacus stops the fractional series once both terms are below e^-30. */
#define PRIVACY_FRAC_STOP (-30.0)
#define PRIVACY_SOLVE_MAX_BISECT 200

static const double log_half = -0.69314718055994530942;

/* Opacus' DEFAULT_ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)). */
static const double default_orders[] = {
    1.1,  1.2,  1.3,  1.4,  1.5,  1.6,  1.7,  1.8,  1.9,  2.0,  2.1,  2.2,  2.3,  2.4,  2.5,
    2.6,  2.7,  2.8,  2.9,  3.0,  3.1,  3.2,  3.3,  3.4,  3.5,  3.6,  3.7,  3.8,  3.9,  4.0,
    4.1,  4.2,  4.3,  4.4,  4.5,  4.6,  4.7,  4.8,  4.9,  5.0,  5.1,  5.2,  5.3,  5.4,  5.5,
    5.6,  5.7,  5.8,  5.9,  6.0,  6.1,  6.2,  6.3,  6.4,  6.5,  6.6,  6.7,  6.8,  6.9,  7.0,
    7.1,  7.2,  7.3,  7.4,  7.5,  7.6,  7.7,  7.8,  7.9,  8.0,  8.1,  8.2,  8.3,  8.4,  8.5,
    8.6,  8.7,  8.8,  8.9,  9.0,  9.1,  9.2,  9.3,  9.4,  9.5,  9.6,  9.7,  9.8,  9.9,  10.0,
    10.1, 10.2, 10.3, 10.4, 10.5, 10.6, 10.7, 10.8, 10.9, 12,   13,   14,   15,   16,   17,
    18,   19,   20,   21,   22,   23,   24,   25,   26,   27,   28,   29,   30,   31,   32,
    33,   34,   35,   36,   37,   38,   39,   40,   41,   42,   43,   44,   45,   46,   47,
    48,   49,   50,   51,   52,   53,   54,   55,   56,   57,   58,   59,   60,   61,   62,
    63,
};

size_t cx_privacy_default_orders(const double **orders)
{
    if (orders)
        *orders = default_orders;
    return sizeof default_orders / sizeof default_orders[0];
}

/* log(e^a + e^b) without overflow. */
static double log_add(double a, double b)
{
    if (a == -INFINITY)
        return b;
    if (b == -INFINITY)
        return a;
    double hi = a > b ? a : b, lo = a > b ? b : a;
    return hi + log1p(exp(lo - hi));
}

/* log(e^a - e^b); returns NAN when b > a (the series went negative: caller treats it as
 * a failed order). */
static double log_sub(double a, double b)
{
    if (b == -INFINITY)
        return a;
    if (a < b)
        return NAN;
    if (a == b)
        return -INFINITY;
    return a + log1p(-exp(b - a));
}

/* log|Γ(x)| without touching the global signgam (lgamma is not thread-safe). */
static double lgamma_abs(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

/* log erfc(x), accurate where erfc underflows (Opacus: log 2 + log_ndtr(-x√2)). */
static double log_erfc(double x)
{
    if (x < 25.0)
        return log(erfc(x));
    /* Asymptotic series: erfc(x) = e^{-x²}/(x√π) · Σ (-1)^n (2n-1)!! / (2x²)^n. */
    double inv = 1.0 / (2.0 * x * x), term = 1.0, sum = 1.0;
    for (int n = 1; n <= 8; n++) {
        term *= -(2.0 * n - 1.0) * inv;
        sum += term;
    }
    return -x * x - log(x) - 0.5 * log(M_PI) + log(sum);
}

/* log A_α for integer α: Σ_i C(α,i) q^i (1-q)^{α-i} exp((i²-i)/(2σ²)). */
static double log_a_int(double q, double sigma, unsigned long alpha)
{
    double log_a = -INFINITY, lq = log(q), l1q = log1p(-q), s2 = 2.0 * sigma * sigma;
    double lg_a1 = lgamma_abs((double)alpha + 1.0);
    for (unsigned long i = 0; i <= alpha; i++) {
        double di = (double)i;
        double log_coef = lg_a1 - lgamma_abs(di + 1.0) - lgamma_abs((double)(alpha - i) + 1.0);
        double s = log_coef + di * lq + (double)(alpha - i) * l1q + (di * di - di) / s2;
        log_a = log_add(log_a, s);
    }
    return log_a;
}

/* log A_α for fractional α: Opacus' sign-aware series (Mironov et al. 2019, §3.3).
 * *ok = 0 when the series did not settle within PRIVACY_FRAC_MAX_TERMS terms. */
static double log_a_frac(double q, double sigma, double alpha, int *ok)
{
    double log_a0 = -INFINITY, log_a1 = -INFINITY;
    double lq = log(q), l1q = log1p(-q), s2 = 2.0 * sigma * sigma;
    double z0 = sigma * sigma * log(1.0 / q - 1.0) + 0.5;
    double lg_a1 = lgamma_abs(alpha + 1.0), fl = floor(alpha), rs = sqrt(2.0) * sigma;
    *ok = 0;
    for (long i = 0; i < PRIVACY_FRAC_MAX_TERMS; i++) {
        double di = (double)i, j = alpha - di;
        /* C(α,i) = Π_{k<i} (α-k) / i!: one negative factor for each k > α. */
        long negs = i - 1 - (long)fl;
        int negative = negs > 0 && (negs & 1);
        double log_coef = lg_a1 - lgamma_abs(di + 1.0) - lgamma_abs(j + 1.0);
        double log_t0 = log_coef + di * lq + j * l1q;
        double log_t1 = log_coef + j * lq + di * l1q;
        double log_e0 = log_half + log_erfc((di - z0) / rs);
        double log_e1 = log_half + log_erfc((z0 - j) / rs);
        double log_s0 = log_t0 + (di * di - di) / s2 + log_e0;
        double log_s1 = log_t1 + (j * j - j) / s2 + log_e1;
        if (!negative) {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0);
            log_a1 = log_sub(log_a1, log_s1);
        }
        if (isnan(log_a0) || isnan(log_a1))
            return NAN;
        if (fmax(log_s0, log_s1) < PRIVACY_FRAC_STOP) {
            *ok = 1;
            break;
        }
    }
    return log_add(log_a0, log_a1);
}

/* RDP of one step at order alpha (Opacus `_compute_rdp`). */
static double rdp_one(double q, double sigma, double alpha)
{
    if (q == 0.0)
        return 0.0;
    if (sigma == 0.0)
        return INFINITY;
    if (q == 1.0)
        return alpha / (2.0 * sigma * sigma);
    if (isinf(alpha))
        return INFINITY;
    if (alpha == floor(alpha) && alpha <= (double)(1ul << 20))
        return log_a_int(q, sigma, (unsigned long)alpha) / (alpha - 1.0);
    int ok = 0;
    double la = log_a_frac(q, sigma, alpha, &ok);
    if (!ok || isnan(la)) {
        double up = ceil(alpha);
        if (up > (double)(1ul << 20))
            return INFINITY;
        /* RDP(α) <= RDP(ceil α): sound, slightly loose. */
        return log_a_int(q, sigma, (unsigned long)up) / (up - 1.0);
    }
    return la / (alpha - 1.0);
}

static cx_err check_orders(const double *orders, size_t n, cx_error *e)
{
    if (!orders || n == 0)
        return cx_error_set(e, CX_ERR_ARG, "privacy: no RDP orders given");
    if (n > CX_PRIVACY_MAX_ORDERS)
        return cx_error_set(e, CX_ERR_LIMIT, "privacy: %zu RDP orders, at most %d", n,
                            CX_PRIVACY_MAX_ORDERS);
    for (size_t i = 0; i < n; i++)
        if (isnan(orders[i]) || !(orders[i] > 1.0))
            return cx_error_set(e, CX_ERR_ARG, "privacy: RDP order %g must be > 1", orders[i]);
    return CX_OK;
}

static cx_err check_mechanism(double q, double sigma, cx_error *e)
{
    if (isnan(q) || q < 0.0 || q > 1.0)
        return cx_error_set(e, CX_ERR_ARG, "privacy: sample rate %g is not in [0, 1]", q);
    if (isnan(sigma) || sigma < 0.0 || isinf(sigma))
        return cx_error_set(e, CX_ERR_ARG, "privacy: noise multiplier %g must be finite and >= 0",
                            sigma);
    return CX_OK;
}

static cx_err check_delta(double delta, cx_error *e)
{
    if (isnan(delta) || !(delta > 0.0) || !(delta < 1.0))
        return cx_error_set(e, CX_ERR_ARG, "privacy: delta %g is not in (0, 1)", delta);
    return CX_OK;
}

cx_err cx_privacy_rdp_compute(double q, double sigma, uint64_t steps, const double *orders,
                              size_t n_orders, double *rdp, cx_error *e)
{
    cx_err rc = check_mechanism(q, sigma, e);
    if (rc == CX_OK)
        rc = check_orders(orders, n_orders, e);
    if (rc != CX_OK)
        return rc;
    if (!rdp)
        return cx_error_set(e, CX_ERR_ARG, "privacy: no output array");
    for (size_t i = 0; i < n_orders; i++) {
        double r = rdp_one(q, sigma, orders[i]);
        /* 0 · ∞ (no steps, no privacy) is no loss at all. */
        rdp[i] = steps == 0 ? 0.0 : r * (double)steps;
    }
    return CX_OK;
}

cx_err cx_privacy_rdp_to_epsilon(const double *orders, const double *rdp, size_t n_orders,
                                 double delta, double *epsilon, double *order, cx_error *e)
{
    cx_err rc = check_delta(delta, e);
    if (rc == CX_OK)
        rc = check_orders(orders, n_orders, e);
    if (rc != CX_OK)
        return rc;
    if (!rdp || !epsilon)
        return cx_error_set(e, CX_ERR_ARG, "privacy: missing RDP curve or output");
    double best = INFINITY, best_order = NAN, ld = log(delta);
    for (size_t i = 0; i < n_orders; i++) {
        double a = orders[i];
        if (isnan(rdp[i]) || rdp[i] < 0.0)
            continue;
        if (isinf(a) || isinf(rdp[i]))
            continue; /* ε = ∞ at this order */
        double eps = rdp[i] - (ld + log(a)) / (a - 1.0) + log1p(-1.0 / a);
        if (isnan(eps))
            continue;
        if (eps < best || isnan(best_order)) {
            best = eps;
            best_order = a;
        }
    }
    if (isnan(best_order)) {
        *epsilon = INFINITY;
    } else {
        *epsilon = best < 0.0 ? 0.0 : best; /* ε is a bound on a divergence: never < 0 */
    }
    if (order)
        *order = best_order;
    return CX_OK;
}

struct cx_privacy_accountant {
    size_t n;
    double *orders;
    double *rdp;
    double *tmp;
};

cx_err cx_privacy_accountant_new(const double *orders, size_t n_orders,
                                 cx_privacy_accountant **out, cx_error *e)
{
    if (!out)
        return cx_error_set(e, CX_ERR_ARG, "privacy: no output handle");
    *out = NULL;
    if (!orders || n_orders == 0)
        n_orders = cx_privacy_default_orders(&orders);
    cx_err rc = check_orders(orders, n_orders, e);
    if (rc != CX_OK)
        return rc;
    cx_privacy_accountant *acc = calloc(1, sizeof *acc);
    if (!acc)
        return cx_error_set(e, CX_ERR_NOMEM, "privacy: allocating the accountant");
    acc->n = n_orders;
    acc->orders = malloc(n_orders * sizeof(double));
    acc->rdp = calloc(n_orders, sizeof(double));
    acc->tmp = malloc(n_orders * sizeof(double));
    if (!acc->orders || !acc->rdp || !acc->tmp) {
        cx_privacy_accountant_free(acc);
        return cx_error_set(e, CX_ERR_NOMEM, "privacy: allocating %zu orders", n_orders);
    }
    memcpy(acc->orders, orders, n_orders * sizeof(double));
    *out = acc;
    return CX_OK;
}

void cx_privacy_accountant_free(cx_privacy_accountant *acc)
{
    if (!acc)
        return;
    free(acc->orders);
    free(acc->rdp);
    free(acc->tmp);
    free(acc);
}

cx_err cx_privacy_accountant_add(cx_privacy_accountant *acc, double sigma, double q,
                                 uint64_t steps, cx_error *e)
{
    if (!acc)
        return cx_error_set(e, CX_ERR_ARG, "privacy: no accountant");
    cx_err rc = cx_privacy_rdp_compute(q, sigma, steps, acc->orders, acc->n, acc->tmp, e);
    if (rc != CX_OK)
        return rc;
    for (size_t i = 0; i < acc->n; i++)
        acc->rdp[i] += acc->tmp[i];
    return CX_OK;
}

cx_err cx_privacy_accountant_epsilon(const cx_privacy_accountant *acc, double delta,
                                     double *epsilon, double *order, cx_error *e)
{
    if (!acc)
        return cx_error_set(e, CX_ERR_ARG, "privacy: no accountant");
    return cx_privacy_rdp_to_epsilon(acc->orders, acc->rdp, acc->n, delta, epsilon, order, e);
}

/* ε for one mechanism; tmp holds n_orders doubles. */
static cx_err eps_with(double sigma, double q, uint64_t steps, double delta,
                       const double *orders, size_t n, double *tmp, double *eps, double *order,
                       cx_error *e)
{
    cx_err rc = cx_privacy_rdp_compute(q, sigma, steps, orders, n, tmp, e);
    if (rc != CX_OK)
        return rc;
    return cx_privacy_rdp_to_epsilon(orders, tmp, n, delta, eps, order, e);
}

cx_err cx_privacy_epsilon(double sigma, double q, uint64_t steps, double delta,
                          const double *orders, size_t n_orders, double *epsilon,
                          double *order, cx_error *e)
{
    if (!orders || n_orders == 0)
        n_orders = cx_privacy_default_orders(&orders);
    cx_err rc = check_orders(orders, n_orders, e);
    if (rc != CX_OK)
        return rc;
    double *tmp = malloc(n_orders * sizeof(double));
    if (!tmp)
        return cx_error_set(e, CX_ERR_NOMEM, "privacy: allocating %zu orders", n_orders);
    rc = eps_with(sigma, q, steps, delta, orders, n_orders, tmp, epsilon, order, e);
    free(tmp);
    return rc;
}

cx_err cx_privacy_noise_solve(double target_eps, double q, uint64_t steps, double delta,
                              const double *orders, size_t n_orders, double eps_tolerance,
                              double *sigma, double *epsilon, double *order, cx_error *e)
{
    if (!sigma)
        return cx_error_set(e, CX_ERR_ARG, "privacy: no output for the noise multiplier");
    if (isnan(target_eps) || !(target_eps > 0.0) || isinf(target_eps))
        return cx_error_set(e, CX_ERR_ARG, "privacy: target epsilon %g must be finite and > 0",
                            target_eps);
    if (isnan(eps_tolerance) || isinf(eps_tolerance))
        return cx_error_set(e, CX_ERR_ARG, "privacy: epsilon tolerance %g is not finite",
                            eps_tolerance);
    if (eps_tolerance <= 0.0)
        eps_tolerance = CX_PRIVACY_EPS_TOLERANCE;
    cx_err rc = check_mechanism(q, 0.0, e);
    if (rc == CX_OK)
        rc = check_delta(delta, e);
    if (rc != CX_OK)
        return rc;
    if (!orders || n_orders == 0)
        n_orders = cx_privacy_default_orders(&orders);
    rc = check_orders(orders, n_orders, e);
    if (rc != CX_OK)
        return rc;
    double *tmp = malloc(n_orders * sizeof(double));
    if (!tmp)
        return cx_error_set(e, CX_ERR_NOMEM, "privacy: allocating %zu orders", n_orders);

    /* Opacus get_noise_multiplier, step for step, so its published σ are reproduced. */
    double lo = 0.0, hi = 10.0, eps_hi = INFINITY, ord_hi = NAN;
    while (eps_hi > target_eps) {
        hi *= 2.0;
        rc = eps_with(hi, q, steps, delta, orders, n_orders, tmp, &eps_hi, &ord_hi, e);
        if (rc != CX_OK)
            goto out;
        if (hi > CX_PRIVACY_SIGMA_MAX) {
            rc = cx_error_set(e, CX_ERR_LIMIT,
                              "privacy: epsilon %g is out of reach: even noise multiplier %g "
                              "gives epsilon %g (budget too low for these steps and delta)",
                              target_eps, hi, eps_hi);
            goto out;
        }
    }
    for (int it = 0; target_eps - eps_hi > eps_tolerance; it++) {
        double mid = 0.5 * (lo + hi), eps_mid, ord_mid;
        /* Once the bracket is as narrow as doubles allow, σ_high is the answer. */
        if (it >= PRIVACY_SOLVE_MAX_BISECT || mid <= lo || mid >= hi)
            break;
        rc = eps_with(mid, q, steps, delta, orders, n_orders, tmp, &eps_mid, &ord_mid, e);
        if (rc != CX_OK)
            goto out;
        if (eps_mid < target_eps) {
            hi = mid;
            eps_hi = eps_mid;
            ord_hi = ord_mid;
        } else {
            lo = mid;
        }
    }
    *sigma = hi;
    if (epsilon)
        *epsilon = eps_hi;
    if (order)
        *order = ord_hi;
out:
    free(tmp);
    return rc;
}
