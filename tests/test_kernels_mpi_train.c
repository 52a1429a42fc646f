/* test_kernels_mpi_train.c — run under mpirun by test_kernels_mpi.sh: N ranks train the model of
 * one process (within a stated tolerance, bit-identical across runs), DP noise added once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_testutil.h"

/* Relative tolerance of N ranks against one process: the same arithmetic but for the order of
 * the sums (a batch's gradient summed per rank, then across ranks; the standardiser's sums
 * likewise), after tens of Adam steps on float32. Measured here: at most 7e-8 on 2, 3 and 4 ranks
 * (printed by each run). */
#define TOL 1e-5

static int failures;

#define CHECK_TRUE(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", comm->rank, __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Three clusters along different directions (a class label), or a noisy linear target. */
static void make_data(float *x, float *y, size_t rows, int cols, int regression, uint64_t seed)
{
    cx_rng r;
    cx_rng_seed(&r, seed);
    for (size_t i = 0; i < rows; i++) {
        int c = (int)cx_rng_below(&r, 3);
        double t = 0.0;
        for (int j = 0; j < cols; j++) {
            double v = (cx_rng_uniform(&r) - 0.5) * 2.0 + (j % 3 == c ? 1.5 : 0.0) + 5.0 * (j == 0);
            x[i * (size_t)cols + (size_t)j] = (float)v;
            t += (j + 1) * v;
        }
        y[i] = regression ? (float)(3.0 * t + 100.0 + cx_rng_uniform(&r)) : (float)c;
    }
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        worst = d > worst ? d : worst;
    }
    return worst;
}

static cx_model *train(cx_comm *comm, const char *spec_txt, const float *x, const float *y,
                       size_t rows, int cols, cx_train_result *res)
{
    cx_error e;
    cx_spec s;
    if (kt_spec(spec_txt, &s, &e) != 0) {
        fprintf(stderr, "spec: %s\n", e.msg);
        return NULL;
    }
    cx_train_data d = {.rows = rows, .cols = cols, .x = x, .y = y};
    cx_model *m = NULL;
    if (cx_train_comm(&s, &d, NULL, comm, NULL, NULL, &m, res, &e) != CX_OK) {
        fprintf(stderr, "rank %d: train: %s\n", comm ? comm->rank : 0, e.msg);
        m = NULL;
    }
    cx_spec_free(&s);
    return m;
}

/* N ranks on their shards against one process on all rows, and twice the same N. */
static void compare(cx_comm *comm, const char *name, const char *spec, size_t rows, int regression)
{
    const int cols = 6;
    float *x = malloc(rows * cols * sizeof *x), *y = malloc(rows * sizeof *y);
    make_data(x, y, rows, cols, regression, 11);
    size_t lo, hi;
    cx_comm_shard(rows, comm->rank, comm->size, &lo, &hi);
    cx_train_result ra, rb, r1;
    double t0 = cx_now_seconds();
    cx_model *a = train(comm, spec, x + lo * cols, y + lo, hi - lo, cols, &ra);
    double ta = cx_now_seconds() - t0;
    cx_model *b = train(comm, spec, x + lo * cols, y + lo, hi - lo, cols, &rb);
    CHECK_TRUE(a && b, "%s: training across ranks failed", name);
    if (a && b)
        CHECK_TRUE(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0 &&
                       memcmp(a->mean, b->mean, (size_t)cols * sizeof(float)) == 0,
                   "%s: two runs on %d ranks differ", name, comm->size);
    if (comm->rank == 0 && a) {
        t0 = cx_now_seconds();
        cx_model *one = train(NULL, spec, x, y, rows, cols, &r1);
        double t1 = cx_now_seconds() - t0;
        CHECK_TRUE(one != NULL, "%s: one-process training failed", name);
        if (one) {
            double dp = rel_diff(a->params, one->params, a->n_params);
            double ds = fmax(rel_diff(a->mean, one->mean, (size_t)cols),
                             rel_diff(a->inv_std, one->inv_std, (size_t)cols));
            double dy = fmax(fabs(a->y_mean - one->y_mean) / (1 + fabs(one->y_mean)),
                             fabs(a->y_std - one->y_std) / (1 + fabs(one->y_std)));
            printf("%s: %d ranks vs 1 process: %zu rows, %zu params, max relative difference "
                   "params %.3g, standardiser %.3g, target %.3g; validation loss %.6f vs %.6f; "
                   "epochs %d vs %d; %.3f s vs %.3f s\n",
                   name, comm->size, rows, a->n_params, dp, ds, dy, ra.val.loss, r1.val.loss,
                   ra.epochs_run, r1.epochs_run, ta, t1);
            CHECK_TRUE(dp <= TOL && ds <= TOL && dy <= TOL, "%s: differs beyond %g", name, TOL);
            CHECK_TRUE(ra.epochs_run == r1.epochs_run && ra.steps == r1.steps &&
                           ra.train_rows == r1.train_rows && ra.val_rows == r1.val_rows,
                       "%s: another plan (epochs %d/%d, steps %llu/%llu, rows %zu/%zu)", name,
                       ra.epochs_run, r1.epochs_run, (unsigned long long)ra.steps,
                       (unsigned long long)r1.steps, ra.train_rows, r1.train_rows);
            CHECK_TRUE(fabs(ra.val.loss - r1.val.loss) <= TOL * (1 + fabs(r1.val.loss)) &&
                           ra.val.n == r1.val.n,
                       "%s: validation loss %.9g vs %.9g", name, ra.val.loss, r1.val.loss);
            cx_model_free(one);
        }
    }
    cx_model_free(a);
    cx_model_free(b);
    free(x);
    free(y);
}

/* DP-SGD across ranks: with q = 1 (batch_size = rows), one SGD step at lr 1 moves the
 * parameters by -(clipped sum + noise) / N. With σC large against the clipped sum (whose
 * whole norm is at most N·C), the step is the noise: its variance per coordinate must be
 * (σC/N)², as in one process. Were the noise drawn on every rank it would be size times that.
 * Thousands of coordinates make the estimate's relative error about 2%; the bounds are 15%. */
static void dp_variance(cx_comm *comm)
{
    const size_t rows = 64;
    const int cols = 6;
    const double sigma = 20.0, C = 1.0;
    char spec[512];
    snprintf(spec, sizeof spec,
             "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[64,64]},"
             "\"optimizer\":{\"type\":\"sgd\",\"lr\":1},\"batch_size\":%zu,\"epochs\":1,"
             "\"validation_split\":0,\"seed\":3,\"threads\":1,"
             "\"privacy\":{\"noise_multiplier\":%g,\"max_grad_norm\":%g}}",
             rows, sigma, C);
    float *x = malloc(rows * cols * sizeof *x), *y = malloc(rows * sizeof *y);
    make_data(x, y, rows, cols, 0, 5);
    size_t lo, hi;
    cx_comm_shard(rows, comm->rank, comm->size, &lo, &hi);
    cx_train_result res;
    cx_model *m = train(comm, spec, x + lo * cols, y + lo, hi - lo, cols, &res);
    CHECK_TRUE(m != NULL, "dp: training across ranks failed");
    cx_error e;
    cx_spec s;
    cx_model *init = NULL;
    if (m && kt_spec(spec, &s, &e) == 0) {
        CHECK_TRUE(cx_model_create(&s, cols, 3, &init, &e) == CX_OK, "dp: %s", e.msg);
        cx_spec_free(&s);
    }
    if (m && init) {
        cx_model_init(init, 3);
        double ss = 0.0;
        for (size_t i = 0; i < m->n_params; i++) {
            double d = (double)m->params[i] - (double)init->params[i];
            ss += d * d;
        }
        double var = ss / (double)m->n_params, want = (sigma * C / (double)rows);
        want *= want;
        if (comm->rank == 0)
            printf("dp: %d ranks, %llu step, %zu params: step variance %.6g, expected (sigma C / "
                   "N)^2 = %.6g, ratio %.4f (noise on every rank would give %d)\n",
                   comm->size, (unsigned long long)res.steps, m->n_params, var, want, var / want,
                   comm->size);
        CHECK_TRUE(res.steps == 1 && res.sample_rate == 1.0, "dp: plan %llu steps, q %g",
                   (unsigned long long)res.steps, res.sample_rate);
        CHECK_TRUE(var / want > 0.85 && var / want < 1.15, "dp: variance ratio %.4f", var / want);
    }
    cx_model_free(init);
    cx_model_free(m);
    free(x);
    free(y);
}

/* "privacy.standardize": "dp" across ranks: the sums are reduced before rank 0's one Laplace
 * draw, so the ranks' standardiser is the one-process one up to that noise: with ε_s = 100 on
 * 1600 training rows of range 10 it moves a mean by about 4e-4 and a std by about 2e-3
 * (measured differences, max over 6 columns: up to 2.4e-3 and 6.3e-3). The bound, 0.05, is
 * over 30 Laplace scales away (sums left per rank would halve the means). */
static void dp_standardize_across(cx_comm *comm)
{
    const size_t rows = 2000;
    enum { COLS = 6 };
    const char *spec = "{\"task\":\"classification\",\"model\":{\"type\":\"softmax\"},"
                       "\"epochs\":1,\"batch_size\":100,\"seed\":4,\"threads\":1,"
                       "\"privacy\":{\"standardize\":\"dp\",\"standardize_epsilon\":100}}";
    float *x = malloc(rows * COLS * sizeof *x), *y = malloc(rows * sizeof *y);
    float lo[COLS], hi[COLS];
    for (int j = 0; j < COLS; j++) {
        lo[j] = -2.0f;
        hi[j] = 8.0f;
    }
    make_data(x, y, rows, COLS, 0, 8);
    size_t a, b;
    cx_comm_shard(rows, comm->rank, comm->size, &a, &b);
    cx_error e;
    cx_spec s;
    cx_model *m = NULL, *one = NULL;
    cx_train_result res;
    if (kt_spec(spec, &s, &e) != 0) {
        CHECK_TRUE(0, "spec: %s", e.msg);
        return;
    }
    cx_train_data d = {
        .rows = b - a, .cols = COLS, .x = x + a * COLS, .y = y + a, .lo = lo, .hi = hi};
    cx_err rc = cx_train_comm(&s, &d, NULL, comm, NULL, NULL, &m, &res, &e);
    CHECK_TRUE(rc == CX_OK, "dp standardisation across ranks: %s", rc ? e.msg : "");
    if (rc == CX_OK && comm->rank == 0) {
        cx_train_data d1 = {.rows = rows, .cols = COLS, .x = x, .y = y, .lo = lo, .hi = hi};
        rc = cx_train_comm(&s, &d1, NULL, NULL, NULL, NULL, &one, &res, &e);
        CHECK_TRUE(rc == CX_OK, "dp standardisation in one process: %s", rc ? e.msg : "");
        double dm = 0.0, ds = 0.0;
        for (int j = 0; one && j < COLS; j++) {
            dm = fmax(dm, fabs(m->mean[j] - one->mean[j]));
            ds = fmax(ds, fabs(1.0 / m->inv_std[j] - 1.0 / one->inv_std[j]));
        }
        printf("dp standardisation: %d ranks vs 1 process: max difference mean %.3g, std %.3g "
               "(each noised once)\n",
               comm->size, dm, ds);
        CHECK_TRUE(one && dm < 0.05 && ds < 0.05, "dp standardisation: mean %g, std %g apart", dm,
                   ds);
    }
    cx_model_free(m);
    cx_model_free(one);
    cx_spec_free(&s);
    free(x);
    free(y);
}

/* Failures agree: a rank refusing its shard (a NaN) fails every rank, and a rank past the time
 * limit stops every rank at the same step (the flag rides the gradients' all-reduce); none is
 * left waiting in a collective. */
static void failures_agree(cx_comm *comm)
{
    const size_t rows = 200;
    const int cols = 4;
    const char *spec_txt = "{\"task\":\"classification\",\"model\":{\"type\":\"softmax\"},"
                           "\"epochs\":3,\"batch_size\":20,\"threads\":1}";
    float *x = malloc(rows * cols * sizeof *x), *y = malloc(rows * sizeof *y);
    make_data(x, y, rows, cols, 0, 2);
    size_t lo, hi;
    cx_comm_shard(rows, comm->rank, comm->size, &lo, &hi);
    cx_error e;
    cx_spec s;
    if (kt_spec(spec_txt, &s, &e) != 0) {
        CHECK_TRUE(0, "spec: %s", e.msg);
        return;
    }
    cx_train_data d = {.rows = hi - lo, .cols = cols, .x = x + lo * cols, .y = y + lo};
    cx_model *m = NULL;
    cx_train_result res;
    if (comm->rank == comm->size - 1)
        x[lo * cols + 1] = NAN;
    cx_err rc = cx_train_comm(&s, &d, NULL, comm, NULL, NULL, &m, &res, &e);
    CHECK_TRUE(rc != CX_OK && m == NULL, "a NaN on the last rank: rank %d trained", comm->rank);
    if (comm->rank == comm->size - 1)
        CHECK_TRUE(rc == CX_ERR_FORMAT, "the NaN's rank: %d (%s)", rc, e.msg);
    else
        CHECK_TRUE(rc == CX_ERR_ARG && strstr(e.msg, "another rank"), "other ranks: %d (%s)", rc,
                   e.msg);
    make_data(x, y, rows, cols, 0, 2);
    /* the last rank's limit is already past */
    cx_train_epoch_cb cb = {.deadline = comm->rank == comm->size - 1 ? cx_now_seconds() - 1 : 0};
    rc = cx_train_comm(&s, &d, NULL, comm, &cb, NULL, &m, &res, &e);
    CHECK_TRUE(rc == CX_ERR_LIMIT && m == NULL, "time limit on the last rank: rank %d got %d (%s)",
               comm->rank, rc, rc == CX_OK ? "" : e.msg);
    cx_spec_free(&s);
    free(x);
    free(y);
}

int main(void)
{
    cx_error e;
    cx_comm *comm = NULL;
    if (cx_comm_mpi_create(&comm, &e) != CX_OK) {
        fprintf(stderr, "no MPI: %s\n", e.msg);
        return 77;
    }
    compare(comm, "mlp-adam",
            "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[16,8],"
            "\"activation\":\"tanh\"},\"epochs\":5,\"batch_size\":64,\"seed\":7,\"threads\":1}",
            601, 0);
    compare(comm, "linear-sgd-early-stopping",
            "{\"task\":\"regression\",\"model\":{\"type\":\"linear\"},"
            "\"optimizer\":{\"type\":\"sgd\",\"lr\":0.05,\"momentum\":0.9},\"epochs\":12,"
            "\"batch_size\":50,\"early_stopping\":{\"patience\":2},\"seed\":3,\"threads\":1}",
            500, 1);
    compare(comm, "logistic-no-validation",
            "{\"task\":\"classification\",\"model\":{\"type\":\"softmax\"},"
            "\"optimizer\":{\"type\":\"adamw\",\"lr\":0.01,\"weight_decay\":0.01},\"epochs\":4,"
            "\"batch_size\":32,\"validation_split\":0,\"seed\":9,\"threads\":1}",
            257, 0);
    dp_variance(comm);
    dp_standardize_across(comm);
    failures_agree(comm);
    double f = failures;
    if (comm->allreduce_f64(comm, &f, 1, CX_COMM_SUM, &e) != CX_OK)
        f = 1;
    if (comm->rank == 0)
        printf("%s\n", f > 0 ? "FAILED" : "ok");
    cx_comm_destroy(comm);
    return f > 0 ? 1 : 0;
}
