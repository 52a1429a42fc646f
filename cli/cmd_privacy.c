/* cmd_privacy.c — `cloakx privacy`: the Rényi-DP accountant on the command line: ε for a
 * noise multiplier, or the noise multiplier for a target ε (Opacus' convention). */
#include "cli.h"
#include "cx_kernels.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void privacy_help(void)
{
    printf(
        "usage: cloakx privacy --noise SIGMA --sample-rate Q (--steps N | --epochs E)\n"
        "                      --delta DELTA [--orders LIST] [--json]\n"
        "       cloakx privacy --epsilon EPS --sample-rate Q (--steps N | --epochs E)\n"
        "                      --delta DELTA [--orders LIST] [--tolerance T] [--json]\n\n"
        "Differential privacy of DP-SGD with Poisson sampling (rate Q) and Gaussian noise of\n"
        "SIGMA x the clipping norm, by the Renyi-DP accountant in Opacus' convention\n"
        "(sign-aware series at fractional orders; eps = RDP + log1p(-1/a) - (log d + log a)/(a-1),\n"
        "minimised over the orders a).\n\n"
        "  --noise SIGMA      noise multiplier: prints epsilon and the best order\n"
        "  --epsilon EPS      target epsilon: solves for the smallest noise multiplier\n"
        "                     (Opacus' search; stops when target - eps <= T, so eps <= EPS)\n"
        "  --sample-rate Q    Poisson sampling probability, in [0, 1]\n"
        "  --steps N          number of noisy steps\n"
        "  --epochs E         instead of --steps: N = floor(E / Q) as in Opacus\n"
        "  --delta DELTA      in (0, 1)\n"
        "  --orders LIST      RDP orders > 1: comma-separated numbers and integer ranges\n"
        "                     LO:HI (default: Opacus' 1.1, 1.2, ..., 10.9, 12, ..., 63)\n"
        "  --tolerance T      epsilon tolerance of the solve (default 0.01, as Opacus)\n"
        "  --json             {\"epsilon\", \"order\", \"noise_multiplier\", ...} on stdout;\n"
        "                     an infinite epsilon or no usable order is null\n");
}

/* A finite number, the whole string. */
static int parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || strspn(s, "0123456789") != strlen(s))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno)
        return -1;
    *out = v;
    return 0;
}

/* "1.5,2,4:32" → orders; returns the count, or 0 with a message in err. */
static size_t parse_orders(const char *list, double *out, size_t cap, char *err, size_t errlen)
{
    size_t n = 0;
    char *copy = strdup(list);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return 0;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (colon) {
            *colon = '\0';
            uint64_t lo, hi;
            if (parse_u64(tok, &lo) || parse_u64(colon + 1, &hi) || lo < 2 || hi < lo) {
                snprintf(err, errlen, "bad order range '%s:%s' (integers, 2 <= LO <= HI)", tok,
                         colon + 1);
                goto fail;
            }
            for (uint64_t a = lo; a <= hi; a++) {
                if (n == cap) {
                    snprintf(err, errlen, "more than %zu orders", cap);
                    goto fail;
                }
                out[n++] = (double)a;
            }
            continue;
        }
        double v;
        if (parse_double(tok, &v) || !(v > 1.0)) {
            snprintf(err, errlen, "bad order '%s' (a number > 1)", tok);
            goto fail;
        }
        if (n == cap) {
            snprintf(err, errlen, "more than %zu orders", cap);
            goto fail;
        }
        out[n++] = v;
    }
    free(copy);
    if (n == 0)
        snprintf(err, errlen, "empty order list");
    return n;
fail:
    free(copy);
    return 0;
}

/* JSON number, or null for ∞ / NaN (JSON has neither). */
static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int cmd_privacy(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        privacy_help();
        return CX_EXIT_OK;
    }
    const char *s_noise = NULL, *s_eps = NULL, *s_q = NULL, *s_steps = NULL, *s_epochs = NULL,
               *s_delta = NULL, *s_orders = NULL, *s_tol = NULL;
    static const struct {
        const char *flag;
        size_t off;
    } opts[] = {
        {"--noise", 0}, {"--epsilon", 1}, {"--sample-rate", 2}, {"--steps", 3},
        {"--epochs", 4}, {"--delta", 5},  {"--orders", 6},      {"--tolerance", 7},
    };
    const char **slots[] = {&s_noise, &s_eps,   &s_q,      &s_steps,
                            &s_epochs, &s_delta, &s_orders, &s_tol};
    for (int i = 1; i < argc; i++) {
        size_t k = 0, nopts = sizeof opts / sizeof opts[0];
        while (k < nopts && strcmp(argv[i], opts[k].flag) != 0)
            k++;
        if (k == nopts)
            return cli_usage(cli, "unknown argument '%s'", argv[i]);
        if (i + 1 >= argc)
            return cli_usage(cli, "%s needs a value", argv[i]);
        if (*slots[opts[k].off])
            return cli_usage(cli, "%s given twice", argv[i]);
        *slots[opts[k].off] = argv[++i];
    }
    if (!s_noise == !s_eps)
        return cli_usage(cli, "give exactly one of --noise and --epsilon");
    if (!s_q)
        return cli_usage(cli, "--sample-rate is required");
    if (!s_delta)
        return cli_usage(cli, "--delta is required");
    if (!s_steps == !s_epochs)
        return cli_usage(cli, "give exactly one of --steps and --epochs");
    if (s_tol && !s_eps)
        return cli_usage(cli, "--tolerance only applies with --epsilon");

    double q, delta, sigma = 0, target = 0, tol = CX_PRIVACY_EPS_TOLERANCE;
    uint64_t steps = 0;
    if (parse_double(s_q, &q) || q < 0.0 || q > 1.0)
        return cli_usage(cli, "--sample-rate '%s' is not a number in [0, 1]", s_q);
    if (parse_double(s_delta, &delta) || !(delta > 0.0) || !(delta < 1.0))
        return cli_usage(cli, "--delta '%s' is not a number in (0, 1)", s_delta);
    if (s_noise && (parse_double(s_noise, &sigma) || sigma < 0.0))
        return cli_usage(cli, "--noise '%s' is not a number >= 0", s_noise);
    if (s_eps && (parse_double(s_eps, &target) || !(target > 0.0)))
        return cli_usage(cli, "--epsilon '%s' is not a number > 0", s_eps);
    if (s_tol && (parse_double(s_tol, &tol) || !(tol > 0.0)))
        return cli_usage(cli, "--tolerance '%s' is not a number > 0", s_tol);
    if (s_steps && parse_u64(s_steps, &steps))
        return cli_usage(cli, "--steps '%s' is not a whole number", s_steps);
    if (s_epochs) {
        double ep;
        if (parse_double(s_epochs, &ep) || !(ep > 0.0))
            return cli_usage(cli, "--epochs '%s' is not a number > 0", s_epochs);
        if (!(q > 0.0))
            return cli_usage(cli, "--epochs needs --sample-rate > 0");
        double st = floor(ep / q);
        if (!(st < 1e18))
            return cli_usage(cli, "--epochs %s / --sample-rate %s is too many steps", s_epochs,
                             s_q);
        steps = (uint64_t)st;
    }

    double orders_buf[CX_PRIVACY_MAX_ORDERS];
    const double *orders = NULL;
    size_t n_orders;
    if (s_orders) {
        char err[160];
        n_orders = parse_orders(s_orders, orders_buf, CX_PRIVACY_MAX_ORDERS, err, sizeof err);
        if (n_orders == 0)
            return cli_usage(cli, "--orders: %s", err);
        orders = orders_buf;
    } else {
        n_orders = cx_privacy_default_orders(&orders);
    }

    cx_error e = {0};
    double eps = NAN, order = NAN;
    cx_err rc;
    if (s_noise)
        rc = cx_privacy_epsilon(sigma, q, steps, delta, orders, n_orders, &eps, &order, &e);
    else
        rc = cx_privacy_noise_solve(target, q, steps, delta, orders, n_orders, tol, &sigma, &eps,
                                    &order, &e);
    if (rc != CX_OK)
        return cli_fail(cli, &e);

    double lo = orders[0], hi = orders[0];
    for (size_t i = 1; i < n_orders; i++) {
        lo = fmin(lo, orders[i]);
        hi = fmax(hi, orders[i]);
    }
    if (isfinite(order) && n_orders > 1 && (order == lo || order == hi))
        cx_log_warn(&cli->log, "the best order %g is the %s one given: widen --orders", order,
                    order == lo ? "smallest" : "largest");

    if (cli->json) {
        json_t *j = json_object();
        if (!j || json_object_set_new(j, "epsilon", num_or_null(eps)) ||
            json_object_set_new(j, "order", num_or_null(order)) ||
            json_object_set_new(j, "noise_multiplier", json_real(sigma)) ||
            json_object_set_new(j, "sample_rate", json_real(q)) ||
            json_object_set_new(j, "steps", json_integer((json_int_t)steps)) ||
            json_object_set_new(j, "delta", json_real(delta)) ||
            json_object_set_new(j, "accountant", json_string("rdp")) ||
            json_object_set_new(j, "convention", json_string("opacus")) ||
            (s_eps && (json_object_set_new(j, "target_epsilon", json_real(target)) ||
                       json_object_set_new(j, "tolerance", json_real(tol))))) {
            json_decref(j);
            cx_error_set(&e, CX_ERR_NOMEM, "building JSON");
            return cli_fail(cli, &e);
        }
        return cli_print_json(cli, j);
    }
    if (s_eps)
        printf("noise multiplier %.6g gives epsilon %.6g (target %g) at order %g\n", sigma, eps,
               target, order);
    else if (isfinite(eps))
        printf("epsilon %.6g at order %g\n", eps, order);
    else
        printf("epsilon infinite (no privacy)\n");
    printf("delta %g, sample rate %g, %llu steps, noise multiplier %g; RDP accountant, Opacus "
           "convention\n",
           delta, q, (unsigned long long)steps, sigma);
    return CX_EXIT_OK;
}
