/* test_kernels_gradcheck.c — finite-difference checks of the CPU backend's analytic
 * gradients: every layer type, activation and loss, and the DP-SGD clipped sum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kernels_testutil.h"

typedef struct gc_case {
    const char *name;
    const char *spec;
    int classes;
} gc_case;

/* mean loss at the current host params */
static double mean_loss(cx_net *n, cx_backend *be, const float *params, int rows)
{
    cx_error e;
    float lr[16];
    assert_int_equal(be->upload(be, n->params, params, n->m->n_params * sizeof(float), &e), CX_OK);
    cx_net_forward(n, rows);
    cx_net_loss(n, rows, 1.0f / rows);
    assert_int_equal(be->download(be, lr, n->loss_rows, (size_t)rows * sizeof(float), &e), CX_OK);
    double s = 0;
    for (int i = 0; i < rows; i++)
        s += lr[i];
    return s / rows;
}

static void run_case(const gc_case *c)
{
    cx_error e;
    cx_spec s;
    if (kt_spec(c->spec, &s, &e) != 0)
        fail_msg("%s: %s", c->name, e.msg);
    cx_backend *be;
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 1, &be, &e), CX_OK);
    const int rows = 5, cols = 4;
    cx_model *m;
    assert_int_equal(cx_model_create(&s, cols, c->classes, &m, &e), CX_OK);
    cx_model_init(m, 7);
    /* non-zero biases, so their gradients are checked away from a special point */
    cx_rng r;
    cx_rng_seed(&r, 99);
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] += (float)(0.1 * (cx_rng_uniform(&r) - 0.5));
    cx_net n;
    assert_int_equal(cx_net_create(be, m, rows, &n, &e), CX_OK);
    float x[5 * 4], y[5];
    kt_data(&r, x, y, rows, cols, s.task, c->classes);
    if (s.loss == CX_LOSS_BCE)
        for (int i = 0; i < rows; i++)
            y[i] = (float)((int)y[i] & 1);
    assert_int_equal(be->upload(be, n.act[0], x, sizeof x, &e), CX_OK);
    assert_int_equal(be->upload(be, n.labels, y, sizeof y, &e), CX_OK);

    float *g = malloc(m->n_params * sizeof *g), *p = malloc(m->n_params * sizeof *p);
    assert_non_null(g);
    assert_non_null(p);
    memcpy(p, m->params, m->n_params * sizeof *p);
    cx_net_forward(&n, rows);
    cx_net_loss(&n, rows, 1.0f / rows);
    cx_net_backward(&n, rows, 0, 0, 0.0f);
    assert_int_equal(be->download(be, g, n.grads, m->n_params * sizeof(float), &e), CX_OK);
    const float h = 1e-3f;
    double worst = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        float keep = p[i];
        p[i] = keep + h;
        double lp = mean_loss(&n, be, p, rows);
        p[i] = keep - h;
        double lm = mean_loss(&n, be, p, rows);
        p[i] = keep;
        double fd = (lp - lm) / (2.0 * h);
        double err = fabs(fd - g[i]) / fmax(1e-2, fabs(fd) + fabs(g[i]));
        if (err > worst)
            worst = err;
        if (err > 2e-2)
            fail_msg("%s: param %zu analytic %.6g finite-difference %.6g", c->name, i, g[i], fd);
    }
    print_message("%-28s %zu params, worst relative error %.2e\n", c->name, m->n_params, worst);
    free(g);
    free(p);
    cx_net_destroy(&n);
    cx_model_free(m);
    cx_backend_destroy(be);
    cx_spec_free(&s);
}

static void test_layers_activations_losses(void **state)
{
    (void)state;
    static const gc_case cases[] = {
        {"linear/mse", "{\"task\":\"regression\",\"model\":{\"type\":\"linear\"}}", 0},
        {"logistic/bce", "{\"task\":\"classification\",\"model\":{\"type\":\"logistic\"}}", 2},
        {"softmax/xent", "{\"task\":\"classification\",\"model\":{\"type\":\"softmax\"}}", 3},
        {"mlp relu/xent",
         "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[6,5],"
         "\"activation\":\"relu\"}}",
         3},
        {"mlp gelu/xent",
         "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[6,5],"
         "\"activation\":\"gelu\"}}",
         3},
        {"mlp tanh/xent",
         "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[6,5],"
         "\"activation\":\"tanh\"}}",
         4},
        {"mlp sigmoid/xent",
         "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[6],"
         "\"activation\":\"sigmoid\"}}",
         3},
        {"mlp tanh/mse",
         "{\"task\":\"regression\",\"model\":{\"type\":\"mlp\",\"hidden\":[5],"
         "\"activation\":\"tanh\"}}",
         0},
        {"mlp gelu/mse",
         "{\"task\":\"regression\",\"model\":{\"type\":\"mlp\",\"hidden\":[5, 3],"
         "\"activation\":\"gelu\"}}",
         0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
}

/* The ghost-norm clipped sum equals the explicit Σ_i min(1, C/(‖g_i‖+1e-6)) g_i computed
 * from per-example gradients (each from a 1-row pass). */
static void test_dp_clipped_sum(void **state)
{
    (void)state;
    cx_error e;
    cx_spec s;
    assert_int_equal(kt_spec("{\"task\":\"classification\",\"model\":{\"type\":\"mlp\","
                             "\"hidden\":[7,5],\"activation\":\"tanh\"}}",
                             &s, &e),
                     0);
    cx_backend *be;
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 2, &be, &e), CX_OK);
    const int rows = 6, cols = 5, classes = 3;
    cx_model *m;
    assert_int_equal(cx_model_create(&s, cols, classes, &m, &e), CX_OK);
    cx_model_init(m, 3);
    cx_net n;
    assert_int_equal(cx_net_create(be, m, rows, &n, &e), CX_OK);
    cx_rng r;
    cx_rng_seed(&r, 5);
    float x[6 * 5], y[6];
    kt_data(&r, x, y, rows, cols, s.task, classes);
    for (int i = 0; i < rows * cols; i++)
        x[i] *= (float)(1 + i % 4); /* spread the norms: some rows clipped, some not */
    const size_t np = m->n_params;
    double *want = calloc(np, sizeof *want);
    float *gi = malloc(np * sizeof *gi), *got = malloc(np * sizeof *got);
    assert_non_null(want);
    assert_non_null(gi);
    assert_non_null(got);
    float *all = malloc((size_t)rows * np * sizeof *all);
    double nrm[6];
    assert_non_null(all);
    for (int i = 0; i < rows; i++) {
        assert_int_equal(be->upload(be, n.act[0], x + i * cols, cols * sizeof(float), &e), CX_OK);
        assert_int_equal(be->upload(be, n.labels, y + i, sizeof(float), &e), CX_OK);
        cx_net_forward(&n, 1);
        cx_net_loss(&n, 1, 1.0f);
        cx_net_backward(&n, 1, 0, 0, 0.0f);
        assert_int_equal(be->download(be, all + i * np, n.grads, np * sizeof(float), &e), CX_OK);
        nrm[i] = 0;
        for (size_t k = 0; k < np; k++)
            nrm[i] += (double)all[i * np + k] * all[i * np + k];
        nrm[i] = sqrt(nrm[i]);
    }
    /* a bound between the smallest and largest norm: some rows clipped, some not */
    double lo = nrm[0], hi = nrm[0];
    for (int i = 1; i < rows; i++) {
        lo = fmin(lo, nrm[i]);
        hi = fmax(hi, nrm[i]);
    }
    const float C = (float)(0.5 * (lo + hi));
    int clipped = 0;
    for (int i = 0; i < rows; i++) {
        double f = fmin(1.0, C / (nrm[i] + 1e-6));
        clipped += f < 1.0;
        for (size_t k = 0; k < np; k++)
            want[k] += f * all[i * np + k];
    }
    free(all);
    assert_true(clipped > 0 && clipped < rows);
    assert_int_equal(be->upload(be, n.act[0], x, sizeof x, &e), CX_OK);
    assert_int_equal(be->upload(be, n.labels, y, sizeof y, &e), CX_OK);
    cx_net_forward(&n, rows);
    cx_net_loss(&n, rows, 1.0f);
    cx_net_backward(&n, rows, 0, 1, C);
    assert_int_equal(be->download(be, got, n.grads, np * sizeof(float), &e), CX_OK);
    for (size_t k = 0; k < np; k++)
        if (fabs(got[k] - want[k]) > 1e-4 * (1 + fabs(want[k])))
            fail_msg("param %zu: ghost-clipped %.7g, explicit %.7g", k, got[k], want[k]);
    free(want);
    free(gi);
    free(got);
    cx_net_destroy(&n);
    cx_model_free(m);
    cx_backend_destroy(be);
    cx_spec_free(&s);
}

/* The CPU backend's fused dp_clip gives the bits of the op-by-op sequence (row_norm_sq,
 * mul_acc, clip_factor, row_scale) it replaces, on one thread and two, below and above the
 * size at which its loop goes parallel; some rows clipped, some not. */
static void test_dp_clip_fused_matches_ops(void **state)
{
    (void)state;
    enum { L = 3 };
    const int dims[L + 1] = {64, 256, 256, 10};
    const int row_counts[] = {5, 300};
    for (int threads = 1; threads <= 2; threads++) {
        cx_error e;
        cx_backend *be;
        assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, threads, &be, &e), CX_OK);
        assert_non_null(be->dp_clip);
        for (size_t c = 0; c < sizeof row_counts / sizeof row_counts[0]; c++) {
            const int rows = row_counts[c];
            float *act[L], *d_ops[L], *d_fused[L];
            cx_rng r;
            cx_rng_seed(&r, 11 + (uint64_t)rows);
            for (int l = 0; l < L; l++) {
                const size_t na = (size_t)rows * dims[l], nd = (size_t)rows * dims[l + 1];
                act[l] = malloc(na * sizeof(float));
                d_ops[l] = malloc(nd * sizeof(float));
                d_fused[l] = malloc(nd * sizeof(float));
                assert_true(act[l] && d_ops[l] && d_fused[l]);
                for (size_t i = 0; i < na; i++)
                    act[l][i] = (float)(cx_rng_uniform(&r) - 0.5);
                /* rows of growing scale: the norms spread across the bound */
                for (size_t i = 0; i < nd; i++)
                    d_ops[l][i] = d_fused[l][i] =
                        (float)((cx_rng_uniform(&r) - 0.5) * (1.0 + (double)(i / dims[l + 1])));
            }
            float *tmp_a = malloc(rows * sizeof(float)), *tmp_d = malloc(rows * sizeof(float));
            float *nsq_ops = malloc(rows * sizeof(float)), *f_ops = malloc(rows * sizeof(float));
            float *nsq = malloc(rows * sizeof(float)), *f = malloc(rows * sizeof(float));
            assert_true(tmp_a && tmp_d && nsq_ops && f_ops && nsq && f);
            for (int l = 0; l < L; l++) {
                be->row_norm_sq(be, rows, dims[l], act[l], 0, tmp_a);
                be->row_norm_sq(be, rows, dims[l + 1], d_ops[l], 0, tmp_d);
                be->mul_acc(be, rows, tmp_a, tmp_d, l > 0, nsq_ops);
                be->row_norm_sq(be, rows, dims[l + 1], d_ops[l], 1, nsq_ops);
            }
            const float max_norm = sqrtf(nsq_ops[rows / 2]);
            be->clip_factor(be, rows, nsq_ops, max_norm, f_ops);
            for (int l = 0; l < L; l++)
                be->row_scale(be, rows, dims[l + 1], d_ops[l], f_ops);
            be->dp_clip(be, rows, L, dims, (const float *const *)act, d_fused, max_norm, nsq, f);
            int clipped = 0;
            for (int i = 0; i < rows; i++)
                clipped += f_ops[i] < 1.0f;
            assert_true(clipped > 0 && clipped < rows);
            assert_memory_equal(nsq, nsq_ops, rows * sizeof(float));
            assert_memory_equal(f, f_ops, rows * sizeof(float));
            for (int l = 0; l < L; l++) {
                assert_memory_equal(d_fused[l], d_ops[l],
                                    (size_t)rows * dims[l + 1] * sizeof(float));
                free(act[l]);
                free(d_ops[l]);
                free(d_fused[l]);
            }
            free(tmp_a);
            free(tmp_d);
            free(nsq_ops);
            free(f_ops);
            free(nsq);
            free(f);
        }
        cx_backend_destroy(be);
    }
}

/* Adam and SGD-momentum updates against their textbook formulas in double. */
static void test_optimizer_updates(void **state)
{
    (void)state;
    cx_error e;
    cx_backend *be;
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 1, &be, &e), CX_OK);
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.3f, -0.1f, 2.0f}, m[3] = {0}, v[3] = {0};
    double pd[3] = {1.0, -2.0, 0.5}, md[3] = {0}, vd[3] = {0};
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    for (int t = 1; t <= 3; t++) {
        be->adam_update(be, 3, p, g, m, v, (float)lr, (float)b1, (float)b2, (float)eps, (float)wd,
                        1, t);
        for (int i = 0; i < 3; i++) {
            pd[i] -= lr * wd * pd[i];
            md[i] = b1 * md[i] + (1 - b1) * g[i];
            vd[i] = b2 * vd[i] + (1 - b2) * g[i] * g[i];
            pd[i] -= lr * (md[i] / (1 - pow(b1, t))) / (sqrt(vd[i] / (1 - pow(b2, t))) + eps);
        }
    }
    for (int i = 0; i < 3; i++)
        assert_true(fabs(p[i] - pd[i]) < 1e-5);
    float q[2] = {1.0f, 2.0f}, gq[2] = {0.5f, -1.0f}, buf[2] = {0};
    be->sgd_update(be, 2, q, gq, buf, 0.1f, 0.9f, 0.0f);
    be->sgd_update(be, 2, q, gq, buf, 0.1f, 0.9f, 0.0f);
    /* buf: g, then 0.9g + g = 1.9g; p −= 0.1·(g + 1.9g) */
    assert_true(fabs(q[0] - (1.0 - 0.1 * 2.9 * 0.5)) < 1e-6);
    assert_true(fabs(q[1] - (2.0 + 0.1 * 2.9)) < 1e-6);
    cx_backend_destroy(be);
}

static void test_precision_refused_on_cpu(void **state)
{
    (void)state;
    cx_error e;
    cx_backend *be = NULL;
    assert_int_equal(cx_backend_create("cpu", CX_PRECISION_BF16, 1, &be, &e), CX_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "bf16"));
    assert_int_equal(cx_backend_create("cpu", CX_PRECISION_TF32, 1, &be, &e), CX_ERR_UNSUPPORTED);
    assert_int_equal(cx_backend_create("tpu", CX_PRECISION_FP32, 1, &be, &e), CX_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers_activations_losses), cmocka_unit_test(test_dp_clipped_sum),
        cmocka_unit_test(test_dp_clip_fused_matches_ops), cmocka_unit_test(test_optimizer_updates),
        cmocka_unit_test(test_precision_refused_on_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
