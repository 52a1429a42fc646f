/* cmd_bench_train.c — `cloakx bench train`: the reference MLP (64 → 256 → 256 → 10, batch
 * 1024, Adam, fp32) on synthetic rows: samples/s and GFLOP/s beside this machine's
 * cblas_sgemm rate at the same layer shapes, and a DP-SGD epoch beside a plain one. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cblas.h>
#include <omp.h>

#include "cx_kernels.h"

#define IN 64
#define H 256
#define OUT 10
#define BATCH 1024

/* Seeded synthetic classification data: x ~ N(0, 1), y = argmax of a random linear
 * teacher plus noise, so the task is learnable (and the loss falls). */
static void synth(size_t rows, uint64_t seed, float *x, float *y)
{
    cx_rng r;
    cx_rng_seed(&r, seed);
    float w[IN * OUT];
    for (int i = 0; i < IN * OUT; i++)
        w[i] = (float)(cx_rng_uniform(&r) * 2.0 - 1.0);
    for (size_t i = 0; i < rows * IN; i += 2) {
        double u1 = 1.0 - cx_rng_uniform(&r), u2 = cx_rng_uniform(&r);
        double rad = sqrt(-2.0 * log(u1));
        x[i] = (float)(rad * cos(2 * M_PI * u2));
        if (i + 1 < rows * IN)
            x[i + 1] = (float)(rad * sin(2 * M_PI * u2));
    }
    for (size_t i = 0; i < rows; i++) {
        int best = 0;
        float bv = -INFINITY;
        for (int c = 0; c < OUT; c++) {
            float v = (float)(cx_rng_uniform(&r) - 0.5);
            for (int j = 0; j < IN; j++)
                v += x[i * IN + j] * w[j * OUT + c];
            if (v > bv) {
                bv = v;
                best = c;
            }
        }
        y[i] = (float)best;
    }
}

typedef struct epoch_times {
    double t[64];
    int n;
} epoch_times;

static void on_epoch(void *ud, int epoch, double tl, double vl, double lr)
{
    (void)epoch;
    (void)tl;
    (void)vl;
    (void)lr;
    epoch_times *et = ud;
    if (et->n < 64)
        et->t[et->n++] = cx_now_seconds();
}

/* Best epoch time after the first (warm-up) epoch; t0 is the time training began. */
static double best_epoch(const epoch_times *et, double t0)
{
    double best = INFINITY, prev = t0;
    for (int i = 0; i < et->n; i++) {
        double d = et->t[i] - prev;
        if (i > 0 || et->n == 1)
            best = fmin(best, d);
        prev = et->t[i];
    }
    return best;
}

/* GFLOP/s of one cblas_sgemm shape, repeated for at least min_s. */
static double sgemm_rate(int ta, int tb, int m, int n, int k, float *a, float *b, float *c,
                         double min_s)
{
    int lda = ta ? m : k, ldb = tb ? k : n;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    long reps = 0;
    double t0 = cx_now_seconds(), t;
    do {
        for (int i = 0; i < 8; i++)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c,
                        n);
        reps += 8;
        t = cx_now_seconds() - t0;
    } while (t < min_s);
    return 2.0 * m * n * (double)k * reps / t / 1e9;
}

/* OpenMP's wait policy is read from the environment when libgomp loads, so choosing another
 * than the one main() set (passive, unless the environment named one) means running the
 * command again in a fresh image with OMP_WAIT_POLICY set: `bench train --wait-policy`. */
void cli_reexec_omp_policy(cx_cli *cli, const char *group, int argc, char **argv,
                           const char *policy, int force)
{
    const char *cur = getenv("OMP_WAIT_POLICY");
    if (cur && (!force || strcasecmp(cur, policy) == 0))
        return;
    char **nv = calloc((size_t)argc + 8, sizeof *nv);
    if (!nv)
        return;
    int k = 0;
    nv[k++] = "/proc/self/exe";
    if (cli->json)
        nv[k++] = "--json";
    if (cli->log.level == CX_LOG_ERROR)
        nv[k++] = "-q";
    else if (cli->log.level == CX_LOG_INFO)
        nv[k++] = "-v";
    else if (cli->log.level >= CX_LOG_DEBUG)
        nv[k++] = "-vv";
    if (group)
        nv[k++] = (char *)group;
    for (int i = 0; i < argc; i++)
        nv[k++] = argv[i];
    nv[k] = NULL;
    if (setenv("OMP_WAIT_POLICY", policy, 1) == 0) {
        fflush(NULL);
        execv("/proc/self/exe", nv);
    }
    free(nv); /* exec failed: go on here with the policy we have */
}

int cmd_bench_train(cx_cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* --device: the backend-generic run, cmd_bench_train_gpu.c */
        if (strcmp(argv[i], "--device") == 0)
            return cmd_bench_train_device(cli, argc, argv);
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx bench train [--rows N] [--epochs N] [--threads N]\n"
               "                          [--wait-policy passive|active] [--save-data PREFIX]\n"
               "                          [--json]\n\n"
               "Trains the reference MLP 64 -> 256 -> 256 -> 10 (ReLU, softmax cross-entropy,\n"
               "batch 1024, Adam, fp32) on N synthetic rows (default 200000) on the CPU\n"
               "backend and reports samples/s and achieved GFLOP/s (best epoch after a\n"
               "warm-up epoch) beside cblas_sgemm's GFLOP/s at the same layer shapes, measured\n"
               "in the same run; then one DP-SGD configuration (Poisson sampling, sigma 1,\n"
               "C 1) beside the plain epoch. --save-data writes PREFIX.x.f32 / PREFIX.y.f32\n"
               "(raw little-endian float32) for bench/torch_mlp.py, the PyTorch peer.\n"
               "With --device auto|cpu|cuda[:N] it trains on that backend instead (the GPU\n"
               "run): see cloakx bench train --device cuda --help.\n");
        return CX_EXIT_OK;
    }
    long rows = 200000, epochs = 3, threads = 0;
    const char *save = NULL, *policy = "passive";
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--wait-policy") == 0 && i + 1 < argc) {
            policy = argv[i + 1];
            if (strcmp(policy, "passive") != 0 && strcmp(policy, "active") != 0)
                return cli_usage(cli, "--wait-policy takes passive or active");
            cli_reexec_omp_policy(cli, "bench", argc, argv, policy, 1);
        }
    for (int i = 1; i < argc; i++) {
        long *dst = NULL;
        if (strcmp(argv[i], "--wait-policy") == 0 && i + 1 < argc) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "--rows") == 0)
            dst = &rows;
        else if (strcmp(argv[i], "--epochs") == 0)
            dst = &epochs;
        else if (strcmp(argv[i], "--threads") == 0)
            dst = &threads;
        else if (strcmp(argv[i], "--save-data") == 0 && i + 1 < argc) {
            save = argv[++i];
            continue;
        } else
            return cli_usage(cli, "unexpected argument '%s'", argv[i]);
        char *end;
        if (i + 1 >= argc)
            return cli_usage(cli, "%s needs a value", argv[i]);
        *dst = strtol(argv[++i], &end, 10);
        if (*end || *dst < 0 || *dst > 100000000)
            return cli_usage(cli, "%s takes a non-negative number", argv[i - 1]);
    }
    if (rows < 2 * BATCH || epochs < 2 || epochs > 60)
        return cli_usage(cli, "need --rows >= %d and 2 <= --epochs <= 60", 2 * BATCH);

    cx_error e;
    cx_error_clear(&e);
    int rc_exit = CX_EXIT_OK;
    float *x = malloc((size_t)rows * IN * sizeof *x), *y = malloc((size_t)rows * sizeof *y);
    /* scratch for the SGEMM peer: every operand of its shapes fits in BATCH × H floats */
    float *a = malloc((size_t)BATCH * H * sizeof *a), *b = malloc((size_t)BATCH * H * sizeof *b);
    float *c = malloc((size_t)BATCH * H * sizeof *c);
    cx_model *m1 = NULL, *m2 = NULL;
    cx_spec s1, s2;
    int have1 = 0, have2 = 0;
    if (!x || !y || !a || !b || !c) {
        cx_error_set(&e, CX_ERR_NOMEM, "bench train: allocating %ld rows", rows);
        goto fail;
    }
    synth((size_t)rows, 20261126, x, y);
    if (save) {
        char p[4096];
        snprintf(p, sizeof p, "%s.x.f32", save);
        if (cx_file_write_atomic(p, x, (size_t)rows * IN * sizeof(float), 0644, &e) != CX_OK)
            goto fail;
        snprintf(p, sizeof p, "%s.y.f32", save);
        if (cx_file_write_atomic(p, y, (size_t)rows * sizeof(float), 0644, &e) != CX_OK)
            goto fail;
    }
    char txt[1024];
    snprintf(txt, sizeof txt,
             "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[%d,%d],"
             "\"activation\":\"relu\"},\"optimizer\":{\"type\":\"adam\",\"lr\":0.001},"
             "\"batch_size\":%d,\"epochs\":%ld,\"validation_split\":0,\"seed\":1,"
             "\"threads\":%ld}",
             H, H, BATCH, epochs, threads);
    json_t *j = json_loads(txt, 0, NULL);
    if (!j || cx_spec_parse(j, &s1, &e) != CX_OK) {
        json_decref(j);
        goto fail;
    }
    have1 = 1;
    /* the DP run: same network; Poisson rate B/N, 1/q steps per epoch */
    json_object_set_new(j, "privacy", json_pack("{s:f, s:f, s:f}", "noise_multiplier", 1.0,
                                                "max_grad_norm", 1.0, "delta", 1e-5));
    json_object_set_new(j, "epochs", json_integer(2));
    if (cx_spec_parse(j, &s2, &e) != CX_OK) {
        json_decref(j);
        goto fail;
    }
    json_decref(j);
    have2 = 1;

    cx_train_data d = {.rows = (size_t)rows, .cols = IN, .x = x, .y = y, .n_classes = OUT};
    cx_train_result r1, r2;
    epoch_times et1 = {.n = 0}, et2 = {.n = 0};
    cx_train_epoch_cb cb1 = {on_epoch, &et1}, cb2 = {on_epoch, &et2};
    cx_log_info(&cli->log, "bench train: plain run, %ld rows x %ld epochs", rows, epochs);
    double t0 = cx_now_seconds();
    if (cx_train(&s1, &d, NULL, &cb1, NULL, &m1, &r1, &e) != CX_OK)
        goto fail;
    /* the loop starts after setup (split, standardise): take epoch 2.. timings */
    double ep1 = best_epoch(&et1, t0);
    cx_log_info(&cli->log, "bench train: DP-SGD run, 2 epochs");
    t0 = cx_now_seconds();
    if (cx_train(&s2, &d, NULL, &cb2, NULL, &m2, &r2, &e) != CX_OK)
        goto fail;
    double ep2 = best_epoch(&et2, t0);

    /* FLOPs per sample: forward 2·Σ fi·fo, weight gradients 2·Σ fi·fo, input gradients
     * 2·Σ_{l>0} fi·fo (layer 0's input gradient is not needed) */
    const double fwd = (double)IN * H + (double)H * H + (double)H * OUT;
    const double flop_sample = 2.0 * fwd + 2.0 * fwd + 2.0 * ((double)H * H + (double)H * OUT);
    const double sps = (double)r1.train_rows / ep1;
    const double gflops = sps * flop_sample / 1e9;
    const double sps_dp = (double)r2.train_rows / ep2;

    /* cblas_sgemm at the step's shapes, same process, same threads */
    for (size_t i = 0; i < (size_t)BATCH * H; i++)
        a[i] = c[i] = (float)((i % 13) * 0.01);
    for (size_t i = 0; i < (size_t)BATCH * H; i++)
        b[i] = (float)((i % 7) * 0.01);
    struct {
        const char *what;
        int ta, tb, m, n, k;
    } shapes[] = {
        {"fwd 1024x64 . 64x256", 0, 0, BATCH, H, IN},
        {"fwd 1024x256 . 256x256", 0, 0, BATCH, H, H},
        {"fwd 1024x256 . 256x10", 0, 0, BATCH, OUT, H},
        {"dW 64x1024 . 1024x256", 1, 0, IN, H, BATCH},
        {"dW 256x1024 . 1024x256", 1, 0, H, H, BATCH},
        {"dW 256x1024 . 1024x10", 1, 0, H, OUT, BATCH},
        {"dX 1024x256 . 256x256", 0, 1, BATCH, H, H},
        {"dX 1024x10 . 10x256", 0, 1, BATCH, H, OUT},
    };
    const int ns = (int)(sizeof shapes / sizeof shapes[0]);
    /* the peer is OpenBLAS at its best: its own threading, as many threads as training */
    openblas_set_num_threads(threads > 0 ? (int)threads : omp_get_num_procs());
    double rate[8], gemm_time = 0.0, gemm_flop = 0.0;
    for (int i = 0; i < ns; i++) {
        rate[i] = sgemm_rate(shapes[i].ta, shapes[i].tb, shapes[i].m, shapes[i].n, shapes[i].k,
                             a, b, c, 0.2);
        double f = 2.0 * shapes[i].m * shapes[i].n * (double)shapes[i].k;
        gemm_flop += f;
        gemm_time += f / (rate[i] * 1e9);
    }
    openblas_set_num_threads(1); /* back to what the CPU backend expects */
    const double gemm_rate = gemm_flop / gemm_time / 1e9; /* the step's GEMM mix */
    const double gemm_bound_sps = BATCH / gemm_time;

    if (cli->json) {
        json_t *o = json_object(), *sh = json_array();
        for (int i = 0; i < ns; i++)
            json_array_append_new(sh, json_pack("{s:s, s:f}", "shape", shapes[i].what,
                                                "gflops", rate[i]));
        json_object_set_new(o, "model", json_string("mlp 64-256-256-10 relu, adam, fp32"));
        json_object_set_new(o, "rows", json_integer(rows));
        json_object_set_new(o, "batch", json_integer(BATCH));
        json_object_set_new(o, "threads", json_integer(threads ? threads : omp_get_num_procs()));
        json_object_set_new(o, "omp_wait_policy",
                            json_string(getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY")
                                                                  : "default"));
        json_object_set_new(o, "samples_per_s", json_real(sps));
        json_object_set_new(o, "epoch_s", json_real(ep1));
        json_object_set_new(o, "gflops", json_real(gflops));
        json_object_set_new(o, "flop_per_sample", json_real(flop_sample));
        json_object_set_new(o, "sgemm_gflops_step_mix", json_real(gemm_rate));
        json_object_set_new(o, "sgemm_bound_samples_per_s", json_real(gemm_bound_sps));
        json_object_set_new(o, "sgemm_shapes", sh);
        json_object_set_new(o, "final_train_loss", json_real(r1.train_loss));
        json_object_set_new(o, "train_accuracy", json_real(r1.val.accuracy));
        json_object_set_new(o, "dp_epoch_s", json_real(ep2));
        json_object_set_new(o, "dp_samples_per_s", json_real(sps_dp));
        json_object_set_new(o, "dp_over_plain_epoch", json_real(ep2 / ep1));
        json_object_set_new(o, "dp_steps_per_epoch",
                            json_integer((json_int_t)(r2.steps / (uint64_t)r2.epochs_run)));
        rc_exit = cli_print_json(cli, o);
    } else {
        printf("reference MLP 64-256-256-10 (relu, adam, fp32), batch %d, %ld rows, %d threads, "
               "OMP_WAIT_POLICY=%s\n",
               BATCH, rows, threads ? (int)threads : omp_get_num_procs(),
               getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "default");
        printf("  cloakx cpu     : %10.0f samples/s  %7.1f GFLOP/s  (epoch %.3f s, train "
               "loss %.4f, accuracy %.4f)\n",
               sps, gflops, ep1, r1.train_loss, r1.val.accuracy);
        printf("  cblas_sgemm    : %10.0f samples/s  %7.1f GFLOP/s  (GEMMs alone at the step's "
               "shapes)\n",
               gemm_bound_sps, gemm_rate);
        for (int i = 0; i < ns; i++)
            printf("      %-26s %7.1f GFLOP/s\n", shapes[i].what, rate[i]);
        printf("  DP-SGD epoch   : %.3f s vs plain %.3f s (%.2fx; sigma 1, C 1, Poisson q = "
               "%.5f)\n",
               ep2, ep1, ep2 / ep1, r2.sample_rate);
        printf("  peer: python3 bench/torch_mlp.py (PyTorch, same network and data)\n");
    }
    goto done;
fail:
    rc_exit = cli_fail(cli, &e);
done:
    if (have1)
        cx_spec_free(&s1);
    if (have2)
        cx_spec_free(&s2);
    cx_model_free(m1);
    cx_model_free(m2);
    free(x);
    free(y);
    free(a);
    free(b);
    free(c);
    return rc_exit;
}
