/* cmd_bench_train.c — `cloakx bench train`: the reference MLP (64 → 256 → 256 → 10, batch
 * 1024, Adam, fp32) on synthetic rows at 1 and all threads beside the PyTorch peer at each of
 * its thread counts (same run), the core's FMA peak, cblas_sgemm at the step's shapes and a
 * DP-SGD epoch; --sweep: the same side by side over widths and batch sizes 64…4096. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
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
    double t[64], cpu[64]; /* wall and process CPU seconds at each epoch's end */
    int n;
} epoch_times;

static double process_cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_epoch(void *ud, int epoch, double tl, double vl, double lr)
{
    (void)epoch;
    (void)tl;
    (void)vl;
    (void)lr;
    epoch_times *et = ud;
    if (et->n < 64) {
        et->cpu[et->n] = process_cpu_seconds();
        et->t[et->n++] = cx_now_seconds();
    }
}

/* Best epoch time after the first (warm-up) epoch; t0 is the time training began. cpu: the
 * same over process CPU time (the figure a shared, loaded machine does not distort). */
static double best_epoch(const epoch_times *et, double t0, int cpu)
{
    double best = INFINITY, prev = t0;
    for (int i = 0; i < et->n; i++) {
        double v = cpu ? et->cpu[i] : et->t[i], d = v - prev;
        if (i > 0 || et->n == 1)
            best = fmin(best, d);
        prev = v;
    }
    return best;
}

/* One SGEMM: the CPU backend's (be) or, with be NULL, cblas_sgemm. */
static void sgemm_once(cx_backend *be, int ta, int tb, int m, int n, int k, const float *a, int lda,
                       const float *b, int ldb, float *c)
{
    if (be)
        be->sgemm(be, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    else
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
}

/* GFLOP/s of one SGEMM shape (be as in sgemm_once), repeated for at least min_s. */
static double sgemm_rate(cx_backend *be, int ta, int tb, int m, int n, int k, float *a, float *b,
                         float *c, double min_s)
{
    int lda = ta ? m : k, ldb = tb ? k : n;
    sgemm_once(be, ta, tb, m, n, k, a, lda, b, ldb, c);
    long reps = 0;
    double t0 = cx_now_seconds(), t;
    do {
        for (int i = 0; i < 8; i++)
            sgemm_once(be, ta, tb, m, n, k, a, lda, b, ldb, c);
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

/* The CPU's model name as the kernel reports it (the figures mean nothing without it). */
static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v += 1 + (v[1] == ' ');
                v[strcspn(v, "\n")] = '\0';
                snprintf(out, cap, "%s", v);
            }
            break;
        }
    fclose(f);
}

/* One training run of the MLP 64 → h → h → 10 at `threads` threads. */
typedef struct run_result {
    double wall_s, cpu_s; /* best epoch after the warm-up one */
    uint64_t rows;
    double loss, accuracy, sample_rate;
    uint64_t steps_per_epoch;
} run_result;

static cx_err bench_run(int hidden, int batch, long epochs, long threads, int dp,
                        const cx_train_data *d, run_result *out, cx_error *e)
{
    char txt[1024];
    snprintf(txt, sizeof txt,
             "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[%d,%d],"
             "\"activation\":\"relu\"},\"optimizer\":{\"type\":\"adam\",\"lr\":0.001},"
             "\"batch_size\":%d,\"epochs\":%ld,\"validation_split\":0,\"seed\":1,"
             "\"threads\":%ld%s}",
             hidden, hidden, batch, epochs, threads,
             dp ? ",\"privacy\":{\"noise_multiplier\":1.0,\"max_grad_norm\":1.0,"
                  "\"delta\":1e-5}"
                : "");
    json_t *j = json_loads(txt, 0, NULL);
    cx_spec s;
    if (!j)
        return cx_error_set(e, CX_ERR_INTERNAL, "bench train: spec text");
    cx_err rc = cx_spec_parse(j, &s, e);
    json_decref(j);
    if (rc != CX_OK)
        return rc;
    cx_model *m = NULL;
    cx_train_result r;
    epoch_times et = {.n = 0};
    cx_train_epoch_cb cb = {.fn = on_epoch, .ud = &et};
    double t0 = cx_now_seconds(), c0 = process_cpu_seconds();
    rc = cx_train(&s, d, NULL, &cb, NULL, &m, &r, e);
    cx_spec_free(&s);
    cx_model_free(m);
    if (rc != CX_OK)
        return rc;
    out->wall_s = best_epoch(&et, t0, 0);
    out->cpu_s = best_epoch(&et, c0, 1);
    out->rows = r.train_rows;
    out->loss = r.train_loss;
    out->accuracy = r.val.accuracy;
    out->sample_rate = r.sample_rate;
    out->steps_per_epoch = r.epochs_run ? r.steps / (uint64_t)r.epochs_run : 0;
    return CX_OK;
}

/* FLOPs per sample of one step of 64 → h → h → 10: forward 2·Σ fi·fo, weight gradients
 * 2·Σ fi·fo, input gradients 2·Σ_{l>0} fi·fo (layer 0's input gradient is not needed). */
static double flop_per_sample(int h)
{
    const double fwd = (double)IN * h + (double)h * h + (double)h * OUT;
    return 2.0 * fwd + 2.0 * fwd + 2.0 * ((double)h * h + (double)h * OUT);
}

/* The PyTorch peer: where bench/torch_mlp.py is (--peer, else beside the source tree). */
static const char *find_peer(const char *given, char *buf, size_t cap)
{
    if (given)
        return strcmp(given, "none") == 0 ? NULL : given;
    if (access("bench/torch_mlp.py", R_OK) == 0)
        return "bench/torch_mlp.py";
    char exe[2048];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    /* build/engine/cloakx (or build/cli/cloakx) → ../../bench/torch_mlp.py */
    for (int up = 2; up <= 3; up++) {
        char *p = exe + n;
        int k = 0;
        while (p > exe && k < up)
            if (*--p == '/')
                k++;
        if (k < up)
            break;
        snprintf(buf, cap, "%.*s/bench/torch_mlp.py", (int)(p - exe), exe);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    return NULL;
}

typedef struct peer_result {
    int ok, threads;
    double sps, sps_cpu;
    char torch[64], blas[256];
} peer_result;

/* Runs the peer at `threads` (torch's intra-op threads and OpenBLAS' both set to it, so one
 * thread means one core) and reads its JSON line. */
static void run_peer(const char *script, const char *data, long rows, int hidden, int batch,
                     long epochs, int threads, const char *policy, peer_result *out)
{
    memset(out, 0, sizeof *out);
    out->threads = threads;
    char cmd[4096];
    if (data)
        snprintf(cmd, sizeof cmd,
                 "OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d /usr/bin/python3 '%s' --data '%s' "
                 "--threads %d --epochs %ld --hidden %d --batch %d --wait-policy %s --json "
                 "2>/dev/null",
                 threads, threads, script, data, threads, epochs, hidden, batch, policy);
    else
        snprintf(cmd, sizeof cmd,
                 "OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d /usr/bin/python3 '%s' --rows %ld "
                 "--threads %d --epochs %ld --hidden %d --batch %d --wait-policy %s --json "
                 "2>/dev/null",
                 threads, threads, script, rows, threads, epochs, hidden, batch, policy);
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    char line[4096], last[4096] = "";
    while (fgets(line, sizeof line, p))
        if (line[0] == '{')
            snprintf(last, sizeof last, "%s", line);
    int st = pclose(p);
    json_t *j = st == 0 ? json_loads(last, 0, NULL) : NULL;
    if (!j)
        return;
    out->sps = json_real_value(json_object_get(j, "samples_per_s"));
    out->sps_cpu = json_real_value(json_object_get(j, "samples_per_cpu_s"));
    const char *tv = json_string_value(json_object_get(j, "torch"));
    const char *bl = json_string_value(json_object_get(j, "libblas.so.3"));
    snprintf(out->torch, sizeof out->torch, "%s", tv ? tv : "?");
    snprintf(out->blas, sizeof out->blas, "%s", bl ? bl : "?");
    out->ok = out->sps > 0.0;
    json_decref(j);
}

typedef struct bench_env {
    char cpu[256];
    const char *gemm, *peak_what, *policy, *peer;
    double peak; /* GFLOP/s per core */
    int procs, threads;
} bench_env;

static void print_env(const bench_env *b)
{
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("cpu: %s, %d cores; fp32 FMA peak %.1f GFLOP/s per core (%s, per CPU second), "
           "%.1f for %d\n",
           b->cpu, b->procs, b->peak, b->peak_what, b->peak * b->threads, b->threads);
    printf("kernels: gemm %s; openblas %s (OPENBLAS_CORETYPE=%s); OMP_WAIT_POLICY=%s\n", b->gemm,
           openblas_get_corename(), ct ? ct : "unset", b->policy);
}

static json_t *env_json(const bench_env *b)
{
    const char *ct = getenv("OPENBLAS_CORETYPE");
    return json_pack("{s:s, s:i, s:f, s:s, s:s, s:s, s:s, s:s}", "cpu", b->cpu, "cores", b->procs,
                     "fma_peak_gflops_per_core", b->peak, "fma_peak_loop", b->peak_what, "gemm",
                     b->gemm, "openblas_core", openblas_get_corename(), "openblas_coretype",
                     ct ? ct : "unset", "omp_wait_policy", b->policy);
}

/* --sweep: widths × batch sizes, cloakx (all threads) beside the peer's best thread count. */
static int bench_sweep(cx_cli *cli, const bench_env *b, long threads, const char *policy,
                       const long *sizes, int nsizes, double epoch_gflop)
{
    cx_error e;
    cx_error_clear(&e);
    json_t *arr = cli->json ? json_array() : NULL;
    if (!cli->json) {
        print_env(b);
        printf("sweep: MLP 64-W-W-10 (relu, adam, fp32), %ld threads; peer: %s (best of 1..%d "
               "threads)\n",
               threads, b->peer ? b->peer : "none", b->threads);
        printf("%6s %6s | %12s %9s %7s %7s | %12s %9s %3s | %6s\n", "width", "batch",
               "cloakx smp/s", "GFLOP/s", "%peak", "cpu%pk", "torch smp/s", "GFLOP/s", "thr",
               "ratio");
    }
    for (int wi = 0; wi < nsizes; wi++)
        for (int bi = 0; bi < nsizes; bi++) {
            const int h = (int)sizes[wi], batch = (int)sizes[bi];
            const double fps = flop_per_sample(h);
            /* an epoch of about epoch_gflop GFLOP (2 unless --sweep-gflop), at least two
             * batches */
            long rows = (long)(epoch_gflop * 1e9 / fps);
            rows = rows < 2L * batch ? 2L * batch : rows;
            rows = (rows + batch - 1) / batch * batch;
            float *x = malloc((size_t)rows * IN * sizeof *x), *y = malloc((size_t)rows * sizeof *y);
            if (!x || !y) {
                free(x);
                free(y);
                cx_error_set(&e, CX_ERR_NOMEM, "bench train --sweep: %ld rows", rows);
                json_decref(arr);
                return cli_fail(cli, &e);
            }
            synth((size_t)rows, 20261126, x, y);
            cx_train_data d = {.rows = (size_t)rows, .cols = IN, .x = x, .y = y, .n_classes = OUT};
            run_result r;
            cx_err rc = bench_run(h, batch, 2, threads, 0, &d, &r, &e);
            free(x);
            free(y);
            if (rc != CX_OK) {
                json_decref(arr);
                return cli_fail(cli, &e);
            }
            const double sps = (double)r.rows / r.wall_s, sps_cpu = (double)r.rows / r.cpu_s;
            peer_result best = {0}, pr;
            for (int t = 1; b->peer && t <= b->threads; t++) {
                run_peer(b->peer, NULL, rows, h, batch, 2, t, policy, &pr);
                if (pr.ok && pr.sps > best.sps)
                    best = pr;
            }
            const double gf = sps * fps / 1e9, gf_cpu = sps_cpu * fps / 1e9;
            const double pk = b->peak * (double)threads;
            if (cli->json) {
                json_array_append_new(
                    arr,
                    json_pack("{s:i, s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i}", "width", h,
                              "batch", batch, "rows", (json_int_t)rows, "samples_per_s", sps,
                              "gflops", gf, "pct_peak", pk > 0 ? 100.0 * gf / pk : 0.0,
                              "pct_peak_cpu_time", b->peak > 0 ? 100.0 * gf_cpu / b->peak : 0.0,
                              "peer_samples_per_s", best.sps, "peer_gflops", best.sps * fps / 1e9,
                              "peer_threads", best.threads));
            } else {
                printf("%6d %6d | %12.0f %9.1f %6.1f%% %6.1f%% | ", h, batch, sps, gf,
                       pk > 0 ? 100.0 * gf / pk : 0.0,
                       b->peak > 0 ? 100.0 * gf_cpu / b->peak : 0.0);
                if (best.ok)
                    printf("%12.0f %9.1f %3d | %5.2fx\n", best.sps, best.sps * fps / 1e9,
                           best.threads, sps / best.sps);
                else
                    printf("%12s %9s %3s | %6s\n", "-", "-", "-", "-");
                fflush(stdout);
            }
        }
    if (cli->json) {
        json_t *o = env_json(b);
        json_object_set_new(o, "threads", json_integer(threads));
        json_object_set_new(o, "peer", json_string(b->peer ? b->peer : "none"));
        json_object_set_new(o, "sweep", arr);
        return cli_print_json(cli, o);
    }
    return CX_EXIT_OK;
}

int cmd_bench_train(cx_cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* --device: the backend-generic run, cmd_bench_train_gpu.c */
        if (strcmp(argv[i], "--device") == 0)
            return cmd_bench_train_device(cli, argc, argv);
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx bench train [--rows N] [--epochs N] [--threads N]\n"
               "                          [--wait-policy passive|active] [--save-data PREFIX]\n"
               "                          [--peer PATH|none] [--json]\n"
               "                          [--sweep [--sizes A,B,..] [--sweep-gflop G]]\n\n"
               "Trains the reference MLP 64 -> 256 -> 256 -> 10 (ReLU, softmax cross-entropy,\n"
               "batch 1024, Adam, fp32) on N synthetic rows (default 200000) on the CPU\n"
               "backend at 1 thread and at all threads (or --threads), and in the same run the\n"
               "PyTorch peer (bench/torch_mlp.py, or --peer PATH; none skips it) at each thread\n"
               "count from 1 to that, on the same rows. Prints the CPU model, the GEMM kernels\n"
               "in use, the core's FMA peak (a register-only FMA loop), samples/s and GFLOP/s\n"
               "(best epoch after a warm-up epoch; per wall second and per CPU second, which a\n"
               "shared machine does not distort), %% of peak, cloakx over the peer's best\n"
               "configuration, cblas_sgemm at the step's shapes, and a DP-SGD epoch (Poisson,\n"
               "sigma 1, C 1) beside the plain one. --save-data writes PREFIX.x.f32 /\n"
               "PREFIX.y.f32 (raw little-endian float32) for the peer.\n"
               "--sweep: widths x batch sizes (--sizes, default 64,256,1024,4096) side by side\n"
               "with the peer's best thread count: samples/s, GFLOP/s, %% of peak; each epoch\n"
               "is about G GFLOP (--sweep-gflop G, default 2; smaller for a quick look).\n"
               "With --device auto|cpu|cuda[:N] it trains on that backend instead (the GPU\n"
               "run): see cloakx bench train --device cuda --help.\n");
        return CX_EXIT_OK;
    }
    long rows = 200000, epochs = 3, threads = 0;
    const char *save = NULL, *policy = "passive", *peer_arg = NULL;
    int sweep = 0;
    long sizes[8] = {64, 256, 1024, 4096};
    int nsizes = 4;
    double sweep_gflop = 2.0;
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
        if (strcmp(argv[i], "--sweep") == 0) {
            sweep = 1;
            continue;
        }
        if (strcmp(argv[i], "--sweep-gflop") == 0 && i + 1 < argc) {
            char *end;
            sweep_gflop = strtod(argv[++i], &end);
            if (*end || !(sweep_gflop >= 0.001 && sweep_gflop <= 1000))
                return cli_usage(cli, "--sweep-gflop takes 0.001..1000");
            continue;
        }
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            char *p = argv[++i], *end;
            nsizes = 0;
            while (*p && nsizes < 8) {
                sizes[nsizes] = strtol(p, &end, 10);
                if (end == p || sizes[nsizes] < 1 || sizes[nsizes] > 65536)
                    return cli_usage(cli, "--sizes takes a comma-separated list of 1..65536");
                nsizes++;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',')
                    return cli_usage(cli, "--sizes takes a comma-separated list of 1..65536");
            }
            if (nsizes == 0)
                return cli_usage(cli, "--sizes takes a comma-separated list of 1..65536");
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
        } else if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc) {
            peer_arg = argv[++i];
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

    bench_env b;
    memset(&b, 0, sizeof b);
    char peer_buf[2100];
    cpu_model(b.cpu, sizeof b.cpu);
    b.procs = omp_get_num_procs();
    b.threads = threads > 0 ? (int)threads : b.procs;
    b.gemm = cx_cpu_gemm_name(cx_cpu_gemm_select());
    b.policy = getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "default";
    b.peer = find_peer(peer_arg, peer_buf, sizeof peer_buf);
    b.peak = cx_cpu_fma_peak_gflops(0.3, &b.peak_what);
    if (sweep)
        return bench_sweep(cli, &b, b.threads, policy, sizes, nsizes, sweep_gflop);

    cx_error e;
    cx_error_clear(&e);
    int rc_exit = CX_EXIT_OK;
    char tmpdir[] = "/tmp/cloakx-bench-XXXXXX", prefix[4096] = "";
    int have_tmp = 0;
    float *x = malloc((size_t)rows * IN * sizeof *x), *y = malloc((size_t)rows * sizeof *y);
    /* scratch for the SGEMM peer: every operand of its shapes fits in BATCH × H floats */
    float *a = malloc((size_t)BATCH * H * sizeof *a), *bb = malloc((size_t)BATCH * H * sizeof *bb);
    float *c = malloc((size_t)BATCH * H * sizeof *c);
    if (!x || !y || !a || !bb || !c) {
        cx_error_set(&e, CX_ERR_NOMEM, "bench train: allocating %ld rows", rows);
        goto fail;
    }
    synth((size_t)rows, 20261126, x, y);
    if (!save && b.peer) { /* the peer reads the same rows from a scratch directory */
        if (!mkdtemp(tmpdir)) {
            cx_error_set(&e, CX_ERR_IO, "bench train: mkdtemp %s: %s", tmpdir, strerror(errno));
            goto fail;
        }
        have_tmp = 1;
        snprintf(prefix, sizeof prefix, "%s/ref", tmpdir);
        save = prefix;
    }
    if (save) {
        char p[4200];
        snprintf(p, sizeof p, "%s.x.f32", save);
        if (cx_file_write_atomic(p, x, (size_t)rows * IN * sizeof(float), 0644, &e) != CX_OK)
            goto fail;
        snprintf(p, sizeof p, "%s.y.f32", save);
        if (cx_file_write_atomic(p, y, (size_t)rows * sizeof(float), 0644, &e) != CX_OK)
            goto fail;
    }

    cx_train_data d = {.rows = (size_t)rows, .cols = IN, .x = x, .y = y, .n_classes = OUT};
    run_result r1 = {0}, rn = {0}, rdp = {0};
    cx_log_info(&cli->log, "bench train: plain run, 1 thread, %ld rows x %ld epochs", rows, epochs);
    if (bench_run(H, BATCH, epochs, 1, 0, &d, &r1, &e) != CX_OK)
        goto fail;
    rn = r1;
    if (b.threads > 1) {
        cx_log_info(&cli->log, "bench train: plain run, %d threads", b.threads);
        if (bench_run(H, BATCH, epochs, b.threads, 0, &d, &rn, &e) != CX_OK)
            goto fail;
    }
    cx_log_info(&cli->log, "bench train: DP-SGD run, %d threads, 2 epochs", b.threads);
    if (bench_run(H, BATCH, 2, b.threads, 1, &d, &rdp, &e) != CX_OK)
        goto fail;

    peer_result peers[64], best = {0};
    int npeers = 0;
    for (int t = 1; b.peer && t <= b.threads && t <= 64; t++) {
        cx_log_info(&cli->log, "bench train: peer %s at %d threads", b.peer, t);
        run_peer(b.peer, save, rows, H, BATCH, epochs, t, policy, &peers[npeers]);
        if (peers[npeers].ok && peers[npeers].sps > best.sps)
            best = peers[npeers];
        npeers++;
    }

    const double fps = flop_per_sample(H);
    const double sps1 = (double)r1.rows / r1.wall_s, sps1_cpu = (double)r1.rows / r1.cpu_s;
    const double spsn = (double)rn.rows / rn.wall_s, spsn_cpu = (double)rn.rows / rn.cpu_s;
    const double sps_dp = (double)rdp.rows / rdp.wall_s;
    double best_cpu = 0.0; /* the peer's best per CPU second (any thread count) */
    for (int i = 0; i < npeers; i++)
        if (peers[i].ok && peers[i].sps_cpu > best_cpu)
            best_cpu = peers[i].sps_cpu;

    /* cblas_sgemm at the step's shapes, same process */
    for (size_t i = 0; i < (size_t)BATCH * H; i++)
        a[i] = c[i] = (float)((i % 13) * 0.01);
    for (size_t i = 0; i < (size_t)BATCH * H; i++)
        bb[i] = (float)((i % 7) * 0.01);
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
    /* OpenBLAS at its best: its own threading, as many threads as training */
    openblas_set_num_threads(b.threads);
    double rate[8], own[8] = {0}, gemm_time = 0.0, gemm_flop = 0.0;
    cx_backend *gbe = NULL;
    cx_error ge;
    if (cx_backend_cpu_create(CX_PRECISION_FP32, b.threads, &gbe, &ge) != CX_OK)
        gbe = NULL; /* the column is left out; training above already ran on this backend */
    for (int i = 0; i < ns; i++) {
        if (gbe)
            own[i] = sgemm_rate(gbe, shapes[i].ta, shapes[i].tb, shapes[i].m, shapes[i].n,
                                shapes[i].k, a, bb, c, 0.2);
        rate[i] = sgemm_rate(NULL, shapes[i].ta, shapes[i].tb, shapes[i].m, shapes[i].n,
                             shapes[i].k, a, bb, c, 0.2);
        double f = 2.0 * shapes[i].m * shapes[i].n * (double)shapes[i].k;
        gemm_flop += f;
        gemm_time += f / (rate[i] * 1e9);
    }
    openblas_set_num_threads(1); /* back to what the CPU backend expects */
    if (gbe)
        gbe->destroy(gbe);
    const double gemm_rate = gemm_flop / gemm_time / 1e9; /* the step's GEMM mix */
    const double pk1 = b.peak, pkn = b.peak * b.threads;

    if (cli->json) {
        json_t *o = env_json(&b), *sh = json_array(), *pa = json_array();
        for (int i = 0; i < ns; i++)
            json_array_append_new(sh, json_pack("{s:s, s:f, s:f}", "shape", shapes[i].what,
                                                "gflops", rate[i], "cloakx_gflops", own[i]));
        for (int i = 0; i < npeers; i++)
            json_array_append_new(pa, json_pack("{s:i, s:b, s:f, s:f}", "threads", peers[i].threads,
                                                "ok", peers[i].ok, "samples_per_s", peers[i].sps,
                                                "samples_per_cpu_s", peers[i].sps_cpu));
        json_object_set_new(o, "model", json_string("mlp 64-256-256-10 relu, adam, fp32"));
        json_object_set_new(o, "rows", json_integer(rows));
        json_object_set_new(o, "batch", json_integer(BATCH));
        json_object_set_new(o, "threads", json_integer(b.threads));
        json_object_set_new(o, "flop_per_sample", json_real(fps));
        json_object_set_new(o, "samples_per_s_1thread", json_real(sps1));
        json_object_set_new(o, "samples_per_cpu_s_1thread", json_real(sps1_cpu));
        json_object_set_new(o, "samples_per_s", json_real(spsn));
        json_object_set_new(o, "samples_per_cpu_s", json_real(spsn_cpu));
        json_object_set_new(o, "epoch_s", json_real(rn.wall_s));
        json_object_set_new(o, "gflops", json_real(spsn * fps / 1e9));
        json_object_set_new(o, "gflops_1thread", json_real(sps1 * fps / 1e9));
        json_object_set_new(o, "pct_peak_1thread_cpu_time",
                            json_real(pk1 > 0 ? 100.0 * sps1_cpu * fps / 1e9 / pk1 : 0.0));
        json_object_set_new(o, "pct_peak_machine",
                            json_real(pkn > 0 ? 100.0 * spsn * fps / 1e9 / pkn : 0.0));
        json_object_set_new(o, "sgemm_gflops_step_mix", json_real(gemm_rate));
        json_object_set_new(o, "sgemm_bound_samples_per_s", json_real(BATCH / gemm_time));
        json_object_set_new(o, "sgemm_shapes", sh);
        json_object_set_new(o, "final_train_loss", json_real(rn.loss));
        json_object_set_new(o, "train_accuracy", json_real(rn.accuracy));
        json_object_set_new(o, "dp_epoch_s", json_real(rdp.wall_s));
        json_object_set_new(o, "dp_samples_per_s", json_real(sps_dp));
        json_object_set_new(o, "dp_over_plain_epoch", json_real(rdp.wall_s / rn.wall_s));
        json_object_set_new(o, "dp_over_plain_cpu", json_real(rdp.cpu_s / rn.cpu_s));
        json_object_set_new(o, "dp_steps_per_epoch", json_integer((json_int_t)rdp.steps_per_epoch));
        json_object_set_new(o, "peer", json_string(b.peer ? b.peer : "none"));
        json_object_set_new(o, "peer_runs", pa);
        if (best.ok) {
            json_object_set_new(o, "peer_torch", json_string(best.torch));
            json_object_set_new(o, "peer_blas", json_string(best.blas));
            json_object_set_new(o, "peer_best_threads", json_integer(best.threads));
            json_object_set_new(o, "peer_best_samples_per_s", json_real(best.sps));
            json_object_set_new(o, "peer_best_samples_per_cpu_s", json_real(best_cpu));
            json_object_set_new(o, "over_peer_best_1thread", json_real(sps1 / best.sps));
            json_object_set_new(o, "over_peer_best_machine", json_real(spsn / best.sps));
            json_object_set_new(o, "over_peer_best_per_cpu_s", json_real(sps1_cpu / best_cpu));
        }
        rc_exit = cli_print_json(cli, o);
    } else {
        print_env(&b);
        printf("reference MLP 64-256-256-10 (relu, adam, fp32), batch %d, %ld rows, "
               "%.0f FLOP/sample\n",
               BATCH, rows, fps);
        printf("  %-22s %11s %8s %7s | %13s %7s\n", "", "samples/s", "GFLOP/s", "%peak",
               "per CPU-sec", "%peak");
        printf("  %-22s %11.0f %8.1f %6.1f%% | %13.0f %6.1f%%   (loss %.4f, acc %.4f)\n",
               "cloakx, 1 thread", sps1, sps1 * fps / 1e9,
               pk1 > 0 ? 100 * sps1 * fps / 1e9 / pk1 : 0, sps1_cpu,
               pk1 > 0 ? 100 * sps1_cpu * fps / 1e9 / pk1 : 0, r1.loss, r1.accuracy);
        if (b.threads > 1) {
            char lbl[64];
            snprintf(lbl, sizeof lbl, "cloakx, %d threads", b.threads);
            printf("  %-22s %11.0f %8.1f %6.1f%% | %13.0f %6.1f%%   (per thread)\n", lbl, spsn,
                   spsn * fps / 1e9, pkn > 0 ? 100 * spsn * fps / 1e9 / pkn : 0, spsn_cpu,
                   pk1 > 0 ? 100 * spsn_cpu * fps / 1e9 / pk1 : 0);
        }
        for (int i = 0; i < npeers; i++) {
            char lbl[64];
            snprintf(lbl, sizeof lbl, "pytorch %s, %d thr", peers[i].torch, peers[i].threads);
            if (peers[i].ok)
                printf("  %-22s %11.0f %8.1f %6.1f%% | %13.0f %6.1f%%\n", lbl, peers[i].sps,
                       peers[i].sps * fps / 1e9,
                       pkn > 0 ? 100 * peers[i].sps * fps / 1e9 / (b.peak * peers[i].threads) : 0,
                       peers[i].sps_cpu, pk1 > 0 ? 100 * peers[i].sps_cpu * fps / 1e9 / pk1 : 0);
            else
                printf("  %-22s failed (python3 %s --json)\n", lbl, b.peer);
        }
        if (best.ok)
            printf("  vs the peer's best (%d threads, %.0f samples/s; %.0f per CPU-sec): cloakx "
                   "1 thread %.2fx, %d threads %.2fx, per CPU-sec %.2fx\n"
                   "  peer BLAS: libblas.so.3 -> %s\n",
                   best.threads, best.sps, best_cpu, sps1 / best.sps, b.threads, spsn / best.sps,
                   sps1_cpu / best_cpu, best.blas);
        else
            printf("  peer: %s\n", b.peer ? "failed to run (is python3-torch installed?)"
                                          : "not found (--peer PATH; bench/torch_mlp.py)");
        printf("  cblas_sgemm (openblas, %d threads): %.0f samples/s bound, %.1f GFLOP/s at the "
               "step's shapes\n",
               b.threads, BATCH / gemm_time, gemm_rate);
        printf("      %-26s %9s %9s   GFLOP/s, %d threads\n", "", "openblas", "cloakx", b.threads);
        for (int i = 0; i < ns; i++)
            printf("      %-26s %9.1f %9.1f\n", shapes[i].what, rate[i], own[i]);
        printf("  DP-SGD epoch   : %.3f s vs plain %.3f s (%.2fx wall, %.2fx CPU; sigma 1, C 1, "
               "Poisson q = %.5f)\n",
               rdp.wall_s, rn.wall_s, rdp.wall_s / rn.wall_s, rdp.cpu_s / rn.cpu_s,
               rdp.sample_rate);
    }
    goto done;
fail:
    rc_exit = cli_fail(cli, &e);
done:
    if (have_tmp) {
        char p[4200];
        snprintf(p, sizeof p, "%s.x.f32", prefix);
        unlink(p);
        snprintf(p, sizeof p, "%s.y.f32", prefix);
        unlink(p);
        rmdir(tmpdir);
    }
    free(x);
    free(y);
    free(a);
    free(bb);
    free(c);
    return rc_exit;
}
