/* test_kernels_nccl_gpu.c — on a GPU (label gpu; exit 77, skipped, without a GPU or without the
 * NCCL module): one rank's NCCL all-reduce on a device buffer, and training on the cuda backend
 * with the gradients summed by NCCL against the host path and against one process. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_testutil.h"

#define SKIP 77

static int failures;

#define CHECK_TRUE(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

typedef struct captured {
    int warned;
    char msg[1024];
} captured;

static void capture(void *ud, cx_log_level level, const char *msg)
{
    captured *c = ud;
    if (level == CX_LOG_WARN && strstr(msg, "gradients summed through host memory")) {
        c->warned++;
        snprintf(c->msg, sizeof c->msg, "%s", msg);
    }
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        worst = d > worst || isnan(d) ? d : worst;
    }
    return worst;
}

/* One rank: the sum over ranks is the buffer itself, bit for bit. */
static void check_allreduce(cx_backend *be, cx_comm *self)
{
    cx_error e;
    cx_nccl *n = NULL;
    if (cx_nccl_create(be, self, &n, &e) != CX_OK) {
        CHECK_TRUE(0, "cx_nccl_create on a cuda backend, one rank: %s", e.msg);
        return;
    }
    const int v = cx_nccl_library_version(n);
    printf("NCCL %d.%d.%d on GPU %d\n", v / 10000, v / 100 % 100, v % 100, cx_nccl_device(n));
    enum { N = 100003 };
    float *h = malloc(N * sizeof *h), *back = malloc(N * sizeof *back), *d = NULL;
    for (int i = 0; i < N; i++)
        h[i] = (float)sin(i * 0.37) * 1e3f;
    CHECK_TRUE(be->alloc(be, N * sizeof(float), (void **)&d, &e) == CX_OK, "alloc: %s", e.msg);
    CHECK_TRUE(be->upload(be, d, h, N * sizeof(float), &e) == CX_OK, "upload: %s", e.msg);
    CHECK_TRUE(cx_nccl_allreduce_f32(n, d, N, &e) == CX_OK, "all-reduce: %s", e.msg);
    CHECK_TRUE(cx_nccl_allreduce_f32(n, d, 0, &e) == CX_OK, "empty all-reduce: %s", e.msg);
    CHECK_TRUE(cx_nccl_allreduce_f32(n, NULL, 4, &e) == CX_ERR_ARG, "NULL buffer accepted");
    CHECK_TRUE(be->download(be, back, d, N * sizeof(float), &e) == CX_OK, "download: %s", e.msg);
    CHECK_TRUE(memcmp(back, h, N * sizeof(float)) == 0, "one rank's all-reduce changed the data");
    be->free(be, d);
    cx_nccl_destroy(n);
    free(h);
    free(back);
}

static cx_model *train(cx_backend *be, const char *spec_txt, const float *x, const float *y,
                       size_t rows, int cols, int dist, int nccl, captured *cap,
                       cx_train_result *res)
{
    cx_error e;
    cx_spec s;
    if (kt_spec(spec_txt, &s, &e) != 0) {
        CHECK_TRUE(0, "spec: %s", e.msg);
        return NULL;
    }
    if (dist)
        setenv("CLOAKX_TRAIN_DIST", "1", 1);
    if (!nccl)
        setenv("CLOAKX_NCCL", "0", 1);
    cx_train_data d = {.rows = rows, .cols = cols, .x = x, .y = y};
    cx_logger lg = {.level = CX_LOG_INFO, .fn = capture, .ud = cap};
    cx_model *m = NULL;
    if (cx_train_comm(&s, &d, be, NULL, NULL, &lg, &m, res, &e) != CX_OK) {
        CHECK_TRUE(0, "train: %s", e.msg);
        m = NULL;
    }
    unsetenv("CLOAKX_TRAIN_DIST");
    unsetenv("CLOAKX_NCCL");
    cx_spec_free(&s);
    return m;
}

int main(void)
{
    cx_error e;
    int gpus = 0, v = 0;
    if (!cx_nccl_built()) {
        printf("skipped: this build has no NCCL module (CMake found no NCCL)\n");
        return SKIP;
    }
    if (cx_cuda_device_count(&gpus, &e) != CX_OK) {
        printf("skipped: no GPU: %s\n", e.msg);
        return SKIP;
    }
    if (cx_nccl_version(&v, &e) != CX_OK) {
        printf("skipped: libnccl does not load here: %s\n", e.msg);
        return SKIP;
    }
    cx_backend *be = NULL;
    cx_comm *self = NULL;
    if (cx_backend_cuda_create(0, CX_PRECISION_FP32, &be, &e) != CX_OK ||
        cx_comm_self_create(&self, &e) != CX_OK) {
        fprintf(stderr, "FAIL: %s\n", e.msg);
        return 1;
    }
    check_allreduce(be, self);

    enum { ROWS = 40000, COLS = 32 };
    float *x = malloc((size_t)ROWS * COLS * sizeof *x), *y = malloc(ROWS * sizeof *y);
    cx_rng r;
    cx_rng_seed(&r, 17);
    kt_data(&r, x, y, ROWS, COLS, CX_TASK_CLASSIFICATION, 10);
    const char *spec = "{\"task\": \"classification\", \"model\": {\"type\": \"mlp\", \"hidden\": "
                       "[256, 256]}, \"batch_size\": 512, \"epochs\": 3, \"seed\": 5}";
    captured c_one = {0}, c_nccl = {0}, c_host = {0};
    cx_train_result r_one, r_nccl, r_host;
    cx_model *one = train(be, spec, x, y, ROWS, COLS, 0, 1, &c_one, &r_one);
    cx_model *nccl = train(be, spec, x, y, ROWS, COLS, 1, 1, &c_nccl, &r_nccl);
    cx_model *host = train(be, spec, x, y, ROWS, COLS, 1, 0, &c_host, &r_host);
    if (one && nccl && host) {
        CHECK_TRUE(r_nccl.nccl == 1 && c_nccl.warned == 0, "NCCL not used: %s", c_nccl.msg);
        CHECK_TRUE(r_host.nccl == 0 && c_host.warned == 1 && strstr(c_host.msg, "CLOAKX_NCCL=0"),
                   "CLOAKX_NCCL=0 did not give the host path with its warning");
        CHECK_TRUE(r_one.nccl == 0 && c_one.warned == 0, "one process used NCCL or warned");
        const size_t np = one->n_params;
        /* one rank: NCCL's sum is the gradient itself, as the host path's is */
        const double d_host = rel_diff(nccl->params, host->params, np);
        /* against one process: the same ops but the fused graph step and the device-side
         * schedule values (identical by construction), reduction order on the GPU */
        const double d_one = rel_diff(nccl->params, one->params, np);
        printf("1 rank on GPU 0, MLP %d -> 256 -> 256 -> 10 (%zu params), %d rows, batch 512, "
               "3 epochs:\n  NCCL vs host path: max relative difference %.3g; vs one process "
               "%.3g\n  ms per step: NCCL %.3f, host path %.3f, one process (graph) %.3f\n",
               COLS, np, ROWS, d_host, d_one, 1e3 * r_nccl.seconds / (double)r_nccl.steps,
               1e3 * r_host.seconds / (double)r_host.steps,
               1e3 * r_one.seconds / (double)r_one.steps);
        CHECK_TRUE(d_host <= 1e-6, "NCCL vs host path: %.3g > 1e-6", d_host);
        CHECK_TRUE(d_one <= 1e-5, "NCCL vs one process: %.3g > 1e-5", d_one);
        CHECK_TRUE(fabs(r_nccl.val.accuracy - r_host.val.accuracy) <= 1e-3,
                   "accuracy %.4f (NCCL) vs %.4f (host)", r_nccl.val.accuracy, r_host.val.accuracy);
    }
    /* DP-SGD through NCCL: rank 0's noise added on the device before the sum */
    const char *dp = "{\"task\": \"classification\", \"model\": {\"type\": \"mlp\", \"hidden\": "
                     "[64]}, \"batch_size\": 512, \"epochs\": 1, \"seed\": 5, \"privacy\": "
                     "{\"noise_multiplier\": 1.0, \"max_grad_norm\": 1.0}}";
    captured c_dp = {0};
    cx_train_result r_dp;
    cx_model *mdp = train(be, dp, x, y, ROWS, COLS, 1, 1, &c_dp, &r_dp);
    if (mdp)
        CHECK_TRUE(r_dp.nccl == 1 && isfinite(r_dp.train_loss),
                   "DP-SGD through NCCL: nccl %d, "
                   "loss %g",
                   r_dp.nccl, r_dp.train_loss);
    cx_model_free(one);
    cx_model_free(nccl);
    cx_model_free(host);
    cx_model_free(mdp);
    free(x);
    free(y);
    cx_comm_destroy(self);
    cx_backend_destroy(be);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
