/* test_kernels_train.c — the training loop: bit-identical models for the same spec, seed,
 * data and threads; learning on separable data; early stopping; DP-SGD runs (Poisson steps,
 * noise from the CSPRNG); model files round-trip; bad data refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernels_testutil.h"

#define ROWS 2000
#define COLS 8

/* Three Gaussian-ish clusters along different directions: learnable, not trivial. */
static void clusters(float *x, float *y, uint64_t seed)
{
    cx_rng r;
    cx_rng_seed(&r, seed);
    for (size_t i = 0; i < ROWS; i++) {
        int c = (int)cx_rng_below(&r, 3);
        y[i] = (float)c;
        for (int j = 0; j < COLS; j++)
            x[i * COLS + j] = (float)((cx_rng_uniform(&r) - 0.5) * 2.0 +
                                      (j % 3 == c ? 1.5 : 0.0) + 10.0 * (j == 7));
    }
}

static cx_model *train(const char *spec_txt, const float *x, const float *y,
                       cx_train_result *res)
{
    cx_error e;
    cx_spec s;
    if (kt_spec(spec_txt, &s, &e) != 0)
        fail_msg("%s", e.msg);
    cx_train_data d = {.rows = ROWS, .cols = COLS, .x = x, .y = y};
    cx_model *m = NULL;
    if (cx_train(&s, &d, NULL, NULL, NULL, &m, res, &e) != CX_OK)
        fail_msg("%s", e.msg);
    cx_spec_free(&s);
    return m;
}

#define MLP_SPEC(extra)                                                                        \
    "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[16,8],"           \
    "\"activation\":\"tanh\"},\"epochs\":6,\"batch_size\":64,\"seed\":7,\"threads\":2" extra  \
    "}"

static void test_deterministic(void **state)
{
    (void)state;
    static float x[ROWS * COLS], y[ROWS];
    clusters(x, y, 1);
    cx_train_result r1, r2, r3;
    cx_model *a = train(MLP_SPEC(""), x, y, &r1);
    cx_model *b = train(MLP_SPEC(""), x, y, &r2);
    cx_model *c = train(MLP_SPEC(",\"optimizer\":{\"type\":\"sgd\",\"lr\":0.05,\"momentum\":0.9}"),
                        x, y, &r3);
    assert_int_equal(a->n_params, b->n_params);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    assert_memory_equal(a->mean, b->mean, COLS * sizeof(float));
    assert_true(r1.val.loss == r2.val.loss);
    assert_true(memcmp(a->params, c->params, a->n_params * sizeof(float)) != 0);
    /* it learned: well above chance (1/3) on the held-out 20 % */
    assert_int_equal(r1.val_rows, ROWS / 5);
    assert_true(r1.val.accuracy > 0.85);
    assert_true(r3.val.accuracy > 0.85);
    assert_true(r1.val.macro_f1 > 0.8);
    /* a different seed gives a different model */
    cx_model *d = train(
        "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[16,8],"
        "\"activation\":\"tanh\"},\"epochs\":6,\"batch_size\":64,\"seed\":8,\"threads\":2}",
        x, y, &r2);
    assert_true(memcmp(a->params, d->params, a->n_params * sizeof(float)) != 0);
    cx_model_free(a);
    cx_model_free(b);
    cx_model_free(c);
    cx_model_free(d);
}

static void test_early_stopping_and_schedules(void **state)
{
    (void)state;
    static float x[ROWS * COLS], y[ROWS];
    clusters(x, y, 2);
    cx_train_result r;
    /* a huge learning rate with SGD oscillates: validation loss stops improving */
    cx_model *m = train(
        "{\"task\":\"classification\",\"model\":{\"type\":\"softmax\"},\"epochs\":60,"
        "\"batch_size\":32,\"early_stopping\":{\"patience\":2},\"seed\":3,"
        "\"schedule\":{\"type\":\"step\",\"step_size\":1,\"gamma\":0.999},"
        "\"optimizer\":{\"type\":\"adam\",\"lr\":0.05}}",
        x, y, &r);
    assert_true(r.epochs_run < 60);
    assert_true(r.best_epoch >= 1 && r.best_epoch <= r.epochs_run);
    assert_true(r.val.accuracy > 0.85);
    cx_model_free(m);
}

static void test_regression_and_binary(void **state)
{
    (void)state;
    static float x[ROWS * COLS], y[ROWS];
    cx_rng r;
    cx_rng_seed(&r, 11);
    for (size_t i = 0; i < ROWS; i++) {
        double t = 3.0;
        for (int j = 0; j < COLS; j++) {
            x[i * COLS + j] = (float)(cx_rng_uniform(&r) * 4 - 2);
            t += (j + 1) * 0.5 * x[i * COLS + j];
        }
        y[i] = (float)(100.0 + 20.0 * t + (cx_rng_uniform(&r) - 0.5));
    }
    cx_train_result res;
    cx_model *m = train("{\"task\":\"regression\",\"model\":{\"type\":\"linear\"},\"epochs\":30,"
                        "\"batch_size\":32,\"optimizer\":{\"type\":\"adam\",\"lr\":0.01}}",
                        x, y, &res);
    assert_true(res.val.r2 > 0.99);
    assert_true(res.val.rmse < 5.0);
    /* predict on raw rows gives values on the original scale */
    float p[4];
    cx_error e;
    assert_int_equal(cx_model_predict(m, NULL, x, 4, 1, p, &e), CX_OK);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(p[i] - y[i]) < 10.0);
    cx_model_free(m);
    for (size_t i = 0; i < ROWS; i++)
        y[i] = (float)(x[i * COLS] + x[i * COLS + 1] > 0);
    m = train("{\"task\":\"classification\",\"model\":{\"type\":\"logistic\"},\"epochs\":20,"
              "\"optimizer\":{\"type\":\"adam\",\"lr\":0.05}}",
              x, y, &res);
    if (res.val.accuracy <= 0.95)
        fail_msg("logistic accuracy %.4f", res.val.accuracy);
    assert_true(res.val.auc > 0.98);
    cx_model_free(m);
}

static void test_dpsgd(void **state)
{
    (void)state;
    static float x[ROWS * COLS], y[ROWS];
    clusters(x, y, 4);
    cx_train_result r1, r2;
    const char *dp = MLP_SPEC(",\"privacy\":{\"noise_multiplier\":0.5,\"max_grad_norm\":1.0,"
                              "\"delta\":1e-5},\"optimizer\":{\"type\":\"adam\",\"lr\":0.01}");
    cx_model *a = train(dp, x, y, &r1);
    cx_model *b = train(dp, x, y, &r2);
    /* 1600 training rows, batch 64: q = 0.04, 25 Poisson steps per epoch */
    assert_true(fabs(r1.sample_rate - 64.0 / 1600.0) < 1e-12);
    assert_int_equal(r1.steps, 6 * 25);
    assert_true(r1.val.accuracy > 0.7); /* still learns under noise */
    /* noise comes from the CSPRNG, not the seed: two runs differ */
    assert_true(memcmp(a->params, b->params, a->n_params * sizeof(float)) != 0);
    cx_model_free(a);
    cx_model_free(b);
}

/* "privacy.standardize": "dp": columns with a declared range get the DP estimate of the
 * training split's statistics (at standardize_epsilon 100 within a few hundredths of the
 * fitted ones: Laplace noise beyond 20 of its scales has odds e^-20), a declared
 * standardisation is kept exactly, a regression target's range is used the same way, and a
 * column with neither is refused. */
static void test_dp_standardisation(void **state)
{
    (void)state;
    static float x[ROWS * COLS], y[ROWS];
    clusters(x, y, 6);
    float mean[COLS], sd[COLS], lo[COLS], hi[COLS];
    for (int j = 0; j < COLS; j++) {
        mean[j] = sd[j] = NAN;
        lo[j] = j == 7 ? 8.0f : -2.0f;
        hi[j] = j == 7 ? 14.0f : 4.0f;
    }
    mean[0] = 3.0f, sd[0] = 2.0f, lo[0] = hi[0] = NAN; /* column 0 declares its standardisation */
#define DP_SPEC(task, model, std)                                                              \
    "{\"task\":\"" task "\",\"model\":{\"type\":\"" model "\"},\"epochs\":1,\"batch_size\":64,"    \
    "\"seed\":3,\"threads\":1,\"privacy\":{\"noise_multiplier\":1.0" std "}}"
    const char *dp = DP_SPEC("classification", "softmax",
                             ",\"standardize\":\"dp\",\"standardize_epsilon\":100");
    cx_error e;
    cx_spec s;
    cx_train_result res;
    cx_model *fit = NULL, *m = NULL;
    assert_int_equal(kt_spec(DP_SPEC("classification", "softmax", ""), &s, &e), 0);
    cx_train_data d = {.rows = ROWS, .cols = COLS, .x = x, .y = y};
    assert_int_equal(cx_train(&s, &d, NULL, NULL, NULL, &fit, &res, &e), CX_OK);
    cx_spec_free(&s);
    assert_int_equal(kt_spec(dp, &s, &e), 0);
    d.mean = mean, d.std = sd, d.lo = lo, d.hi = hi;
    assert_int_equal(cx_train(&s, &d, NULL, NULL, NULL, &m, &res, &e), CX_OK);
    assert_true(m->mean[0] == 3.0f && m->inv_std[0] == 0.5f);
    for (int j = 1; j < COLS; j++) {
        if (fabsf(m->mean[j] - fit->mean[j]) > 0.01f ||
            fabsf(m->inv_std[j] / fit->inv_std[j] - 1.0f) > 0.05f)
            fail_msg("column %d: dp mean %g, 1/std %g; fitted %g, %g", j, m->mean[j],
                     m->inv_std[j], fit->mean[j], fit->inv_std[j]);
    }
    cx_model_free(m);
    m = NULL;
    /* a column with neither a standardisation nor a range */
    lo[3] = hi[3] = NAN;
    assert_int_equal(cx_train(&s, &d, NULL, NULL, NULL, &m, &res, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "feature column 3 has neither"));
    assert_null(m);
    cx_spec_free(&s);
    cx_model_free(fit);
    fit = NULL;

    /* regression: every feature declared, the target by its range */
    for (size_t i = 0; i < ROWS; i++)
        y[i] = x[i * COLS] + x[i * COLS + 1];
    for (int j = 0; j < COLS; j++)
        mean[j] = 0.0f, sd[j] = 1.0f;
    assert_int_equal(kt_spec(DP_SPEC("regression", "linear", ""), &s, &e), 0);
    cx_train_data r = {.rows = ROWS, .cols = COLS, .x = x, .y = y, .mean = mean, .std = sd};
    assert_int_equal(cx_train(&s, &r, NULL, NULL, NULL, &fit, &res, &e), CX_OK);
    cx_spec_free(&s);
    assert_int_equal(kt_spec(DP_SPEC("regression", "linear",
                                     ",\"standardize\":\"dp\",\"standardize_epsilon\":100"),
                             &s, &e),
                     0);
    assert_int_equal(cx_train(&s, &r, NULL, NULL, NULL, &m, &res, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "the target has neither"));
    r.y_bounds_given = 1, r.y_lo = -4.0f, r.y_hi = 8.0f;
    assert_int_equal(cx_train(&s, &r, NULL, NULL, NULL, &m, &res, &e), CX_OK);
    if (fabsf(m->y_mean - fit->y_mean) > 0.01f || fabsf(m->y_std / fit->y_std - 1.0f) > 0.05f)
        fail_msg("target: dp mean %g, std %g; fitted %g, %g", m->y_mean, m->y_std, fit->y_mean,
                 fit->y_std);
#undef DP_SPEC
    cx_spec_free(&s);
    cx_model_free(fit);
    cx_model_free(m);
}

/* The streamed path (data left in host memory, each batch gathered on the host and staged;
 * what a dataset larger than device memory takes), forced with CLOAKX_TRAIN_STREAM=1, gives
 * the resident path's bits on the cpu backend: same batches, same standardisation per element,
 * validation and final metrics from host rows. DP-SGD runs streamed too. */
static void test_streamed_equals_resident(void **state)
{
    (void)state;
    static float x[ROWS * COLS], y[ROWS];
    clusters(x, y, 5);
    static const char *const specs[] = {
        MLP_SPEC(""),
        MLP_SPEC(",\"optimizer\":{\"type\":\"sgd\",\"lr\":0.05,\"momentum\":0.9},"
                 "\"validation_split\":0,\"early_stopping\":{\"patience\":2}"),
        "{\"task\":\"regression\",\"model\":{\"type\":\"mlp\",\"hidden\":[9],"
        "\"activation\":\"relu\"},\"epochs\":3,\"batch_size\":100,\"seed\":2,"
        "\"validation_split\":0.25,\"threads\":1}",
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        cx_train_result r1, r2;
        assert_int_equal(setenv("CLOAKX_TRAIN_STREAM", "0", 1), 0);
        cx_model *a = train(specs[k], x, y, &r1);
        assert_int_equal(setenv("CLOAKX_TRAIN_STREAM", "1", 1), 0);
        cx_model *b = train(specs[k], x, y, &r2);
        assert_int_equal(unsetenv("CLOAKX_TRAIN_STREAM"), 0);
        assert_int_equal(r1.streamed, 0);
        assert_int_equal(r2.streamed, 1);
        assert_int_equal(r1.graph, 0); /* the cpu runs every step eagerly */
        assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
        assert_true(r1.train_loss == r2.train_loss);
        assert_true(r1.val.loss == r2.val.loss);
        assert_int_equal(r1.epochs_run, r2.epochs_run);
        if (k == 0)
            assert_true(r2.val.accuracy > 0.85);
        cx_model_free(a);
        cx_model_free(b);
    }
    cx_train_result r;
    assert_int_equal(setenv("CLOAKX_TRAIN_STREAM", "1", 1), 0);
    cx_model *m = train(MLP_SPEC(",\"privacy\":{\"noise_multiplier\":0.5,\"max_grad_norm\":1.0,"
                                 "\"delta\":1e-5},\"optimizer\":{\"type\":\"adam\",\"lr\":0.01}"),
                        x, y, &r);
    assert_int_equal(unsetenv("CLOAKX_TRAIN_STREAM"), 0);
    assert_int_equal(r.streamed, 1);
    assert_int_equal(r.steps, 6 * 25);
    assert_true(r.val.accuracy > 0.7);
    cx_model_free(m);
}

/* A cpu backend whose device memory is "small": allocations above a limit fail the way
 * cudaMalloc's out-of-memory does (CX_ERR_NOMEM), so the trainer must pick streaming itself. */
typedef struct small_dev {
    cx_backend be; /* a copy of the cpu backend's table (first: the ops get &be) */
    cx_err (*alloc)(cx_backend *, size_t, void **, cx_error *);
    size_t limit;
} small_dev;

static cx_err small_alloc(cx_backend *be, size_t bytes, void **out, cx_error *e)
{
    small_dev *d = (small_dev *)be;
    if (bytes > d->limit) {
        *out = NULL;
        return cx_error_set(e, CX_ERR_NOMEM, "test device: %zu bytes: out of device memory",
                            bytes);
    }
    return d->alloc(be, bytes, out, e);
}

static void test_streamed_when_too_large(void **state)
{
    (void)state;
    static float x[ROWS * COLS], y[ROWS];
    clusters(x, y, 6);
    cx_error e;
    cx_spec s;
    assert_int_equal(kt_spec(MLP_SPEC(""), &s, &e), 0);
    cx_backend *cpu = NULL;
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 2, &cpu, &e), CX_OK);
    small_dev dev = {.be = *cpu, .alloc = cpu->alloc, .limit = 40000};
    dev.be.alloc = small_alloc; /* the 1600 × 8 training rows (51200 bytes) do not fit */
    cx_train_data d = {.rows = ROWS, .cols = COLS, .x = x, .y = y};
    cx_model *a = NULL, *b = NULL;
    cx_train_result r1, r2;
    assert_int_equal(cx_train(&s, &d, cpu, NULL, NULL, &a, &r1, &e), CX_OK);
    assert_int_equal(cx_train(&s, &d, &dev.be, NULL, NULL, &b, &r2, &e), CX_OK);
    assert_int_equal(r1.streamed, 0);
    assert_int_equal(r2.streamed, 1);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    cx_model_free(b);
    b = NULL;
    /* streaming forbidden: the old answer, out of device memory */
    assert_int_equal(setenv("CLOAKX_TRAIN_STREAM", "0", 1), 0);
    cx_err rc = cx_train(&s, &d, &dev.be, NULL, NULL, &b, &r2, &e);
    assert_int_equal(unsetenv("CLOAKX_TRAIN_STREAM"), 0);
    assert_int_equal(rc, CX_ERR_NOMEM);
    assert_null(b);
    cx_model_free(a);
    cx_spec_free(&s);
    cx_backend_destroy(cpu);
}

static void test_dp_rng(void **state)
{
    (void)state;
    cx_error e;
    cx_dp_rng *r;
    assert_int_equal(cx_dp_rng_create(&r, &e), CX_OK);
    enum { N = 200000 };
    float *g = malloc(N * sizeof *g);
    int32_t *idx = malloc(N * sizeof *idx);
    assert_non_null(g);
    assert_non_null(idx);
    assert_int_equal(cx_dp_rng_gaussian(r, g, N, &e), CX_OK);
    double m = 0, v = 0, k4 = 0;
    for (int i = 0; i < N; i++)
        m += g[i];
    m /= N;
    for (int i = 0; i < N; i++) {
        double d = g[i] - m;
        v += d * d;
        k4 += d * d * d * d;
    }
    v /= N;
    k4 /= N * v * v;
    assert_true(fabs(m) < 0.01);        /* 4.5 standard errors */
    assert_true(fabs(v - 1.0) < 0.015); /* ~4.7 standard errors */
    assert_true(fabs(k4 - 3.0) < 0.1);  /* Gaussian kurtosis */
    /* Poisson sampling: count ~ Binomial(N, q), indices strictly increasing */
    size_t total = 0;
    for (int t = 0; t < 20; t++) {
        size_t k;
        assert_int_equal(cx_dp_rng_poisson(r, N, 0.01, idx, &k, &e), CX_OK);
        for (size_t i = 1; i < k; i++)
            assert_true(idx[i] > idx[i - 1]);
        if (k)
            assert_true(idx[k - 1] < N);
        total += k;
    }
    double mean = total / 20.0; /* expected 2000, sd of the mean ~ 9.95 */
    assert_true(fabs(mean - 2000.0) < 50.0);
    size_t k;
    assert_int_equal(cx_dp_rng_poisson(r, 10, 1.0, idx, &k, &e), CX_OK);
    assert_int_equal(k, 10);
    assert_int_equal(cx_dp_rng_poisson(r, 10, 0.0, idx, &k, &e), CX_OK);
    assert_int_equal(k, 0);
    free(g);
    free(idx);
    cx_dp_rng_free(r);
}

static void test_model_file_roundtrip(void **state)
{
    (void)state;
    static float x[ROWS * COLS], y[ROWS];
    clusters(x, y, 5);
    cx_train_result r;
    cx_model *m = train(MLP_SPEC(""), x, y, &r);
    char path[] = "/tmp/cx_test_model_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cx_error e;
    json_t *extra = json_pack("{s:s, s:[s,s]}", "note", "test", "classes", "a", "b");
    assert_int_equal(cx_model_save(m, extra, path, &e), CX_OK);
    json_decref(extra);
    cx_model *l = NULL;
    json_t *meta = NULL;
    if (cx_model_load(path, &l, &meta, &e) != CX_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(l->n_layers, m->n_layers);
    assert_int_equal(l->act, CX_ACT_TANH);
    assert_int_equal(l->n_classes, 3);
    assert_memory_equal(l->params, m->params, m->n_params * sizeof(float));
    assert_memory_equal(l->inv_std, m->inv_std, COLS * sizeof(float));
    assert_string_equal(json_string_value(json_object_get(meta, "note")), "test");
    assert_string_equal(json_string_value(json_object_get(meta, "classes")), "[\"a\",\"b\"]");
    float p1[3 * 3], p2[3 * 3];
    assert_int_equal(cx_model_predict(m, NULL, x, 3, 1, p1, &e), CX_OK);
    assert_int_equal(cx_model_predict(l, NULL, x, 3, 1, p2, &e), CX_OK);
    assert_memory_equal(p1, p2, sizeof p1);

    /* Python + NumPy read the file as it is (skipped without numpy) */
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import json,struct,numpy as np,sys\n"
                 "b=open('%s','rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n])\n"
                 "t=h['layers.0.weight']; s,e=t['data_offsets']\n"
                 "w=np.frombuffer(b[8+n+s:8+n+e],dtype='<f4').reshape(t['shape'])\n"
                 "assert t['dtype']=='F32' and w.shape==(%d,16) and np.isfinite(w).all()\n"
                 "assert h['__metadata__']['cloakx.format']=='cloakx-model-v1'\n"
                 "print(float(w[0,0]))\"",
                 path, COLS);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        float w00 = NAN;
        assert_int_equal(fscanf(p, "%f", &w00), 1);
        assert_int_equal(pclose(p), 0);
        assert_true(w00 == m->params[0]);
    } else {
        print_message("numpy absent: the Python read was skipped\n");
    }
    json_decref(meta);
    cx_model_free(l);

    /* a file that is not a cloakx model is refused */
    assert_int_equal(cx_file_write_atomic(path, "garbage!", 8, 0600, &e), CX_OK);
    assert_int_not_equal(cx_model_load(path, &l, NULL, &e), CX_OK);
    unlink(path);
    cx_model_free(m);
}

/* The rows, their split, the batches and the activations live in secure memory while the
 * model trains (they were plain malloc, freed unwiped), and all of it is wiped and released
 * when training returns. Secure bytes live at the end of each epoch are compared with the
 * split alone (ROWS x COLS floats): the network's buffers come on top. */
typedef struct secure_probe {
    cx_secmem_stats base;
    uint64_t min_live; /* least secure bytes seen live at an epoch's end, above base */
} secure_probe;

static void probe_epoch(void *ud, int epoch, double tl, double vl, double lr)
{
    (void)epoch, (void)tl, (void)vl, (void)lr;
    secure_probe *p = ud;
    cx_secmem_stats now;
    cx_secmem_stats_get(&now);
    uint64_t live = now.locked_bytes_live + now.unlocked_bytes_live -
                    (p->base.locked_bytes_live + p->base.unlocked_bytes_live);
    if (live < p->min_live)
        p->min_live = live;
}

static void test_plaintext_in_secure_memory(void **state)
{
    (void)state;
    float *x = malloc(ROWS * COLS * sizeof *x), *y = malloc(ROWS * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    clusters(x, y, 5);
    for (int streamed = 0; streamed < 2; streamed++)
        for (int dp = 0; dp < 2; dp++) {
            setenv("CLOAKX_TRAIN_STREAM", streamed ? "1" : "0", 1);
            cx_error e;
            cx_spec s;
            if (kt_spec(dp ? MLP_SPEC(",\"privacy\":{\"noise_multiplier\":1.0}")
                           : MLP_SPEC(""), &s, &e) != 0)
                fail_msg("%s", e.msg);
            s.epochs = 2;
            secure_probe p = {.min_live = UINT64_MAX};
            cx_secmem_stats_get(&p.base);
            cx_train_epoch_cb cb = {.fn = probe_epoch, .ud = &p};
            cx_train_data d = {.rows = ROWS, .cols = COLS, .x = x, .y = y};
            cx_model *m = NULL;
            cx_train_result r;
            if (cx_train(&s, &d, NULL, &cb, NULL, &m, &r, &e) != CX_OK)
                fail_msg("%s", e.msg);
            cx_model_free(m);
            cx_spec_free(&s);
            if (p.min_live < (uint64_t)ROWS * COLS * sizeof(float))
                fail_msg("streamed %d dp %d: %llu secure bytes live while training, less than "
                         "the split's %zu", streamed, dp, (unsigned long long)p.min_live,
                         (size_t)ROWS * COLS * sizeof(float));
            cx_secmem_stats now;
            cx_secmem_stats_get(&now);
            /* everything allocated during training was released, i.e. wiped */
            assert_int_equal(now.allocs - p.base.allocs, now.frees - p.base.frees);
            assert_true(now.allocs - p.base.allocs >= 10);
        }
    unsetenv("CLOAKX_TRAIN_STREAM");
    free(x);
    free(y);
}

/* A buyer's spec of 16 layers of 65,536 and 100,000 epochs used to run (one job at a time)
 * for as long as it liked: the budget refuses it from the spec alone, and a modest spec on
 * many rows by its flops. */
static void test_compute_budget(void **state)
{
    (void)state;
    cx_error e;
    cx_spec s;
    char big[512] = "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[";
    for (int i = 0; i < 16; i++)
        strcat(big, i ? ",65536" : "65536");
    strcat(big, "]},\"epochs\":100000}");
    if (kt_spec(big, &s, &e) != 0)
        fail_msg("%s", e.msg);
    const cx_compute_budget b = {.max_params = 100000000, .max_epochs = 10000, .max_flops = 1e16};
    cx_compute_cost c;
    cx_spec_cost(&s, 1, 2, 0, &c);
    assert_true(c.params > 60000000000ull); /* 15 x 65,536^2 and more */
    assert_int_equal(cx_compute_budget_check(&b, &c, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "parameters"));
    const cx_compute_budget epochs_only = {.max_epochs = 10000};
    assert_int_equal(cx_compute_budget_check(&epochs_only, &c, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "epochs"));
    cx_spec_free(&s);
    if (kt_spec(MLP_SPEC(""), &s, &e) != 0)
        fail_msg("%s", e.msg);
    cx_spec_cost(&s, COLS, 3, ROWS, &c);
    /* 8*16+16 + 16*8+8 + 8*3+3 = 307 parameters, 6 epochs */
    assert_int_equal(c.params, 307);
    assert_true(c.flops == 6.0 * ROWS * 6.0 * 307);
    assert_int_equal(cx_compute_budget_check(&b, &c, &e), CX_OK);
    const cx_compute_budget tight = {.max_flops = 1e6};
    assert_int_equal(cx_compute_budget_check(&tight, &c, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "flops"));
    cx_spec_free(&s);
}

/* The worker's time limit: training past its deadline stops within a step, plain or DP. */
static void test_deadline_stops_training(void **state)
{
    (void)state;
    float *x = malloc(ROWS * COLS * sizeof *x), *y = malloc(ROWS * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    clusters(x, y, 9);
    for (int dp = 0; dp < 2; dp++) {
        cx_error e;
        cx_spec s;
        if (kt_spec(dp ? MLP_SPEC(",\"privacy\":{\"noise_multiplier\":1.0}") : MLP_SPEC(""), &s,
                    &e) != 0)
            fail_msg("%s", e.msg);
        s.epochs = 100000; /* hours of work without the limit */
        cx_train_epoch_cb cb = {.deadline = cx_now_seconds() + 0.2};
        cx_train_data d = {.rows = ROWS, .cols = COLS, .x = x, .y = y};
        cx_model *m = NULL;
        cx_train_result r;
        double t0 = cx_now_seconds();
        assert_int_equal(cx_train(&s, &d, NULL, &cb, NULL, &m, &r, &e), CX_ERR_LIMIT);
        assert_null(m);
        assert_non_null(strstr(e.msg, "time limit"));
        assert_true(cx_now_seconds() - t0 < 20.0);
        cx_spec_free(&s);
    }
    free(x);
    free(y);
}

static void test_bad_data(void **state)
{
    (void)state;
    cx_error e;
    cx_spec s;
    assert_int_equal(kt_spec("{\"task\":\"classification\",\"model\":{\"type\":\"logistic\"}}",
                             &s, &e),
                     0);
    float x[6] = {1, 2, 3, 4, 5, 6}, y[3] = {0, 1, 2};
    cx_train_data d = {.rows = 3, .cols = 2, .x = x, .y = y};
    cx_model *m;
    cx_train_result r;
    assert_int_equal(cx_train(&s, &d, NULL, NULL, NULL, &m, &r, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "logistic"));
    y[2] = 0.5f;
    assert_int_equal(cx_train(&s, &d, NULL, NULL, NULL, &m, &r, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "row 2"));
    y[2] = 1;
    x[3] = NAN;
    assert_int_equal(cx_train(&s, &d, NULL, NULL, NULL, &m, &r, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "row 1 column 1"));
    cx_spec_free(&s);
    assert_int_equal(kt_spec("{\"task\":\"classification\",\"model\":{\"type\":\"softmax\"},"
                             "\"precision\":\"bf16\"}",
                             &s, &e),
                     0);
    x[3] = 4;
    assert_int_equal(cx_train(&s, &d, NULL, NULL, NULL, &m, &r, &e), CX_ERR_UNSUPPORTED);
    cx_spec_free(&s);
}

/* The device-side update forms the trainer's step uses (values read from device memory, so a
 * captured CUDA graph replays with new ones) give the plain forms' bits on the cpu backend,
 * and the device loss sum is the in-order double sum: the cpu path stays bit-identical. */
static void test_device_forms(void **state)
{
    (void)state;
    cx_error e;
    cx_backend *be = NULL;
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 2, &be, &e), CX_OK);
    enum { N = 5003 };
    static float p1[N], p2[N], g[N], m1[N], m2[N], v1[N], v2[N];
    cx_rng r;
    cx_rng_seed(&r, 99);
    for (int i = 0; i < N; i++) {
        p1[i] = p2[i] = (float)(cx_rng_uniform(&r) * 2 - 1);
        g[i] = (float)(cx_rng_uniform(&r) * 2 - 1);
        m1[i] = m2[i] = v1[i] = v2[i] = 0.0f;
    }
    for (int dec = 0; dec < 2; dec++)
        for (int t = 1; t <= 4; t++) {
            float lr = 0.01f / (float)t;
            float h[3] = {lr, 1.0f - powf(0.9f, (float)t), 1.0f - powf(0.99f, (float)t)};
            be->adam_update(be, N, p1, g, m1, v1, lr, 0.9f, 0.99f, 1e-8f, 0.01f, dec, t);
            be->adam_update_dev(be, N, p2, g, m2, v2, h, 0.9f, 0.99f, 1e-8f, 0.01f, dec);
        }
    assert_memory_equal(p1, p2, sizeof p1);
    assert_memory_equal(m1, m2, sizeof m1);
    assert_memory_equal(v1, v2, sizeof v1);
    for (int t = 0; t < 3; t++) {
        float lr = 0.05f / (float)(t + 1);
        be->sgd_update(be, N, p1, g, m1, lr, 0.9f, 1e-4f);
        be->sgd_update_dev(be, N, p2, g, m2, &lr, 0.9f, 1e-4f);
    }
    assert_memory_equal(p1, p2, sizeof p1);
    assert_memory_equal(m1, m2, sizeof m1);
    double acc = 0.5, ref = 0.5;
    be->sum_acc(be, N, g, &acc);
    for (int i = 0; i < N; i++)
        ref += g[i];
    assert_true(acc == ref);
    cx_backend_destroy(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plaintext_in_secure_memory),
        cmocka_unit_test(test_compute_budget),
        cmocka_unit_test(test_deadline_stops_training),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_device_forms),
        cmocka_unit_test(test_streamed_equals_resident),
        cmocka_unit_test(test_streamed_when_too_large),
        cmocka_unit_test(test_early_stopping_and_schedules),
        cmocka_unit_test(test_regression_and_binary),
        cmocka_unit_test(test_dpsgd),
        cmocka_unit_test(test_dp_standardisation),
        cmocka_unit_test(test_dp_rng),
        cmocka_unit_test(test_model_file_roundtrip),
        cmocka_unit_test(test_bad_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
