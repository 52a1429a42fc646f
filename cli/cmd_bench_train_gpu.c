/* cmd_bench_train_gpu.c — `cloakx bench train --device DEV`: an MLP trained on the chosen backend
 * (the cuda one on a GPU), samples/s beside that backend's own GEMM rate at the layer shapes. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cx_attest.h"
#include "cx_kernels.h"

#define BT_MAX_LAYERS 8
#define BT_MAX_SHAPES (3 * BT_MAX_LAYERS)

typedef struct bt_opts {
    const char *device, *save;
    cx_precision precision;
    long rows, epochs, inputs, width, hidden, classes, batch, threads;
} bt_opts;

typedef struct bt_times {
    double t[64];
    int n;
} bt_times;

static void bt_on_epoch(void *ud, int epoch, double tl, double vl, double lr)
{
    (void)epoch;
    (void)tl;
    (void)vl;
    (void)lr;
    bt_times *et = ud;
    if (et->n < 64)
        et->t[et->n++] = cx_now_seconds();
}

/* x ~ N(0, 1); y = argmax of a seeded random linear teacher plus noise: learnable. */
static void bt_synth(size_t rows, int in, int classes, uint64_t seed, float *x, float *y,
                     float *teacher)
{
    cx_rng r;
    cx_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)in * classes; i++)
        teacher[i] = (float)(cx_rng_uniform(&r) * 2.0 - 1.0);
    for (size_t i = 0; i < rows * (size_t)in; i += 2) {
        double u1 = 1.0 - cx_rng_uniform(&r), u2 = cx_rng_uniform(&r);
        double rad = sqrt(-2.0 * log(u1));
        x[i] = (float)(rad * cos(2 * M_PI * u2));
        if (i + 1 < rows * (size_t)in)
            x[i + 1] = (float)(rad * sin(2 * M_PI * u2));
    }
    for (size_t i = 0; i < rows; i++) {
        int best = 0;
        float bv = -INFINITY;
        for (int c = 0; c < classes; c++) {
            float v = (float)(cx_rng_uniform(&r) - 0.5);
            for (int j = 0; j < in; j++)
                v += x[i * in + j] * teacher[j * classes + c];
            if (v > bv) {
                bv = v;
                best = c;
            }
        }
        y[i] = (float)best;
    }
}

/* The GPU's confidential-computing state through NVML (attestation's loader), or why not. */
static void bt_cc_state(char *out, size_t cap)
{
    cx_gpu_nvml *nv = NULL;
    cx_gpu_cc_state st;
    cx_error e;
    if (cx_gpu_nvml_open(&nv, &e) != CX_OK) {
        snprintf(out, cap, "unknown (%.300s)", e.msg);
        return;
    }
    if (cx_gpu_cc_state_get(nv, &st, &e) != CX_OK)
        snprintf(out, cap, "unknown (%.300s)", e.msg);
    else
        snprintf(out, cap, "cc %s, environment %s%s, driver %s", st.cc_feature ? "ON" : "off",
                 st.environment == 2   ? "production"
                 : st.environment == 1 ? "simulated"
                                       : "unavailable",
                 st.devtools_mode ? ", DevTools mode (not confidential)" : "", st.driver_version);
    cx_gpu_nvml_close(nv);
}

static int bt_parse(cx_cli *cli, int argc, char **argv, bt_opts *o)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx bench train --device auto|cpu|cuda[:N] [--precision fp32|tf32|bf16]\n"
               "         [--rows N] [--epochs N] [--inputs N] [--width N] [--layers N]\n"
               "         [--classes N] [--batch N] [--threads N] [--save-data PREFIX] [--json]\n\n"
               "Trains an MLP (inputs -> layers x width -> classes, ReLU, softmax cross-entropy,\n"
               "Adam; default 64 -> 256 -> 256 -> 10, batch 1024, 200000 synthetic rows: the\n"
               "reference MLP) on the chosen backend and reports samples/s and GFLOP/s (best\n"
               "epoch after a warm-up epoch) beside the same backend's own GEMM rate (cuBLAS on\n"
               "a GPU, at the same precision) at the step's layer shapes, measured in the same\n"
               "run, and the GPU's confidential-computing state (NVML). PyTorch's peer figure\n"
               "comes from bench/torch_mlp.py --device cuda (bench/gpu-check.sh runs both).\n");
        return CX_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        long *dst = NULL, lo = 1, hi = 100000000;
        const char *a = argv[i];
        if (strcmp(a, "--device") == 0 || strcmp(a, "--save-data") == 0 ||
            strcmp(a, "--precision") == 0) {
            if (i + 1 >= argc)
                return cli_usage(cli, "%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--device") == 0)
                o->device = v;
            else if (strcmp(a, "--save-data") == 0)
                o->save = v;
            else if (strcmp(v, "fp32") == 0)
                o->precision = CX_PRECISION_FP32;
            else if (strcmp(v, "tf32") == 0)
                o->precision = CX_PRECISION_TF32;
            else if (strcmp(v, "bf16") == 0)
                o->precision = CX_PRECISION_BF16;
            else
                return cli_usage(cli, "--precision takes fp32, tf32 or bf16");
            continue;
        }
        if (strcmp(a, "--rows") == 0)
            dst = &o->rows;
        else if (strcmp(a, "--epochs") == 0)
            dst = &o->epochs, lo = 2, hi = 60;
        else if (strcmp(a, "--inputs") == 0)
            dst = &o->inputs, hi = 65536;
        else if (strcmp(a, "--width") == 0)
            dst = &o->width, hi = 65536;
        else if (strcmp(a, "--layers") == 0)
            dst = &o->hidden, hi = BT_MAX_LAYERS - 1;
        else if (strcmp(a, "--classes") == 0)
            dst = &o->classes, lo = 2, hi = 65536;
        else if (strcmp(a, "--batch") == 0)
            dst = &o->batch, hi = 1 << 20;
        else if (strcmp(a, "--threads") == 0)
            dst = &o->threads, lo = 0, hi = 4096;
        else
            return cli_usage(cli, "unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return cli_usage(cli, "%s needs a value", a);
        char *end;
        *dst = strtol(argv[++i], &end, 10);
        if (*end || argv[i][0] == '\0' || *dst < lo || *dst > hi)
            return cli_usage(cli, "%s takes a number in [%ld, %ld]", a, lo, hi);
    }
    if (o->rows < 2 * o->batch)
        return cli_usage(cli, "need --rows >= 2 x --batch (%ld)", 2 * o->batch);
    return -1;
}

int cmd_bench_train_device(cx_cli *cli, int argc, char **argv)
{
    bt_opts o = {.device = "auto",
                 .precision = CX_PRECISION_FP32,
                 .rows = 200000,
                 .epochs = 3,
                 .inputs = 64,
                 .width = 256,
                 .hidden = 2,
                 .classes = 10,
                 .batch = 1024};
    int prc = bt_parse(cli, argc, argv, &o);
    if (prc >= 0)
        return prc;

    cx_error e;
    cx_error_clear(&e);
    int rc_exit = CX_EXIT_OK, have_spec = 0;
    cx_backend *be = NULL;
    cx_device_choice ch;
    cx_model *m = NULL;
    cx_spec s;
    float *x = NULL, *y = NULL, *teacher = NULL;
    char cc[512] = "not a GPU run";

    if (cx_backend_select(o.device, o.precision, (int)o.threads, &be, &ch, &e) != CX_OK)
        goto fail;
    cx_log_info(&cli->log, "bench train: device %s", ch.report);
    if (strcmp(ch.backend, "cuda") == 0)
        bt_cc_state(cc, sizeof cc);

    x = malloc((size_t)o.rows * o.inputs * sizeof *x);
    y = malloc((size_t)o.rows * sizeof *y);
    teacher = malloc((size_t)o.inputs * o.classes * sizeof *teacher);
    if (!x || !y || !teacher) {
        cx_error_set(&e, CX_ERR_NOMEM, "bench train: allocating %ld rows x %ld inputs", o.rows,
                     o.inputs);
        goto fail;
    }
    bt_synth((size_t)o.rows, (int)o.inputs, (int)o.classes, 20261126, x, y, teacher);
    if (o.save) {
        char p[4096];
        snprintf(p, sizeof p, "%s.x.f32", o.save);
        if (cx_file_write_atomic(p, x, (size_t)o.rows * o.inputs * sizeof(float), 0644, &e) !=
            CX_OK)
            goto fail;
        snprintf(p, sizeof p, "%s.y.f32", o.save);
        if (cx_file_write_atomic(p, y, (size_t)o.rows * sizeof(float), 0644, &e) != CX_OK)
            goto fail;
    }

    /* the spec: `hidden` layers of `width`, ReLU, Adam, no validation split */
    char hid[256] = "", txt[1024];
    size_t hl = 0;
    for (long l = 0; l < o.hidden; l++)
        hl += (size_t)snprintf(hid + hl, sizeof hid - hl, "%s%ld", l ? "," : "", o.width);
    snprintf(txt, sizeof txt,
             "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[%s],"
             "\"activation\":\"relu\"},\"optimizer\":{\"type\":\"adam\",\"lr\":0.001},"
             "\"batch_size\":%ld,\"epochs\":%ld,\"validation_split\":0,\"seed\":1,"
             "\"precision\":\"%s\",\"threads\":%ld}",
             hid, o.batch, o.epochs, cx_precision_name(o.precision), o.threads);
    json_t *j = json_loads(txt, 0, NULL);
    if (!j) {
        cx_error_set(&e, CX_ERR_INTERNAL, "bench train: spec text does not parse");
        goto fail;
    }
    cx_err src = cx_spec_parse(j, &s, &e);
    json_decref(j);
    if (src != CX_OK)
        goto fail;
    have_spec = 1;

    cx_train_data d = {
        .rows = (size_t)o.rows, .cols = (int)o.inputs, .x = x, .y = y, .n_classes = (int)o.classes};
    cx_train_result r;
    bt_times et = {.n = 0};
    cx_train_epoch_cb cb = {.fn = bt_on_epoch, .ud = &et};
    cx_log_info(&cli->log, "bench train: %ld rows x %ld epochs on %s", o.rows, o.epochs,
                ch.backend);
    double t0 = cx_now_seconds();
    if (cx_train(&s, &d, be, &cb, NULL, &m, &r, &e) != CX_OK)
        goto fail;
    /* best epoch after the first (warm-up: cuBLAS heuristics, first-touch of the data) */
    double ep = INFINITY, prev = t0;
    for (int i = 0; i < et.n; i++) {
        if (i > 0)
            ep = fmin(ep, et.t[i] - prev);
        prev = et.t[i];
    }
    const double sps = (double)r.train_rows / ep;

    /* the step's GEMMs at their shapes, on the same backend and precision, same run */
    int dims[BT_MAX_LAYERS + 1], L = (int)o.hidden + 1;
    dims[0] = (int)o.inputs;
    for (int l = 1; l < L; l++)
        dims[l] = (int)o.width;
    dims[L] = (int)o.classes;
    struct {
        char what[64];
        int ta, tb, m, n, k;
        double gflops;
    } sh[BT_MAX_SHAPES];
    int ns = 0;
    const int B = (int)o.batch;
    for (int l = 0; l < L; l++) {
        int fi = dims[l], fo = dims[l + 1];
        snprintf(sh[ns].what, sizeof sh[ns].what, "fwd %dx%d . %dx%d", B, fi, fi, fo);
        sh[ns].ta = 0, sh[ns].tb = 0, sh[ns].m = B, sh[ns].n = fo, sh[ns].k = fi, ns++;
        snprintf(sh[ns].what, sizeof sh[ns].what, "dW %dx%d . %dx%d", fi, B, B, fo);
        sh[ns].ta = 1, sh[ns].tb = 0, sh[ns].m = fi, sh[ns].n = fo, sh[ns].k = B, ns++;
        if (l > 0) { /* the input layer's input gradient is never needed */
            snprintf(sh[ns].what, sizeof sh[ns].what, "dX %dx%d . %dx%d", B, fo, fo, fi);
            sh[ns].ta = 0, sh[ns].tb = 1, sh[ns].m = B, sh[ns].n = fi, sh[ns].k = fo, ns++;
        }
    }
    double gemm_time = 0.0, gemm_flop = 0.0;
    for (int i = 0; i < ns; i++) {
        if (cx_backend_gemm_gflops(be, sh[i].ta, sh[i].tb, sh[i].m, sh[i].n, sh[i].k, 0.2,
                                   &sh[i].gflops, &e) != CX_OK)
            goto fail;
        double f = 2.0 * sh[i].m * sh[i].n * (double)sh[i].k;
        gemm_flop += f;
        gemm_time += f / (sh[i].gflops * 1e9);
    }
    const double flop_sample = gemm_flop / B; /* = 6·Σ fi·fo minus layer 0's dX */
    const double gflops = sps * flop_sample / 1e9;
    const double gemm_rate = gemm_flop / gemm_time / 1e9;
    const double gemm_bound_sps = B / gemm_time;
    char model[128];
    snprintf(model, sizeof model, "mlp %ld-%ldx%ld-%ld relu, adam, %s", o.inputs, o.width, o.hidden,
             o.classes, cx_precision_name(o.precision));

    if (cli->json) {
        json_t *out = json_object(), *jsh = json_array();
        for (int i = 0; i < ns; i++)
            json_array_append_new(
                jsh, json_pack("{s:s, s:f}", "shape", sh[i].what, "gflops", sh[i].gflops));
        json_object_set_new(out, "device", json_string(ch.report));
        json_object_set_new(out, "backend", json_string(ch.backend));
        json_object_set_new(out, "precision", json_string(cx_precision_name(o.precision)));
        json_object_set_new(out, "gpu_cc_state", json_string(cc));
        json_object_set_new(out, "model", json_string(model));
        json_object_set_new(out, "rows", json_integer(o.rows));
        json_object_set_new(out, "batch", json_integer(o.batch));
        json_object_set_new(out, "samples_per_s", json_real(sps));
        json_object_set_new(out, "epoch_s", json_real(ep));
        json_object_set_new(out, "gflops", json_real(gflops));
        json_object_set_new(out, "flop_per_sample", json_real(flop_sample));
        json_object_set_new(out, "gemm_peer",
                            json_string(strcmp(ch.backend, "cuda") == 0
                                            ? "cuBLAS (cublasGemmEx)"
                                            : "cblas_sgemm (OpenBLAS)"));
        json_object_set_new(out, "gemm_gflops_step_mix", json_real(gemm_rate));
        json_object_set_new(out, "gemm_bound_samples_per_s", json_real(gemm_bound_sps));
        json_object_set_new(out, "fraction_of_gemm_rate", json_real(sps / gemm_bound_sps));
        json_object_set_new(out, "gemm_shapes", jsh);
        json_object_set_new(out, "final_train_loss", json_real(r.train_loss));
        json_object_set_new(out, "train_accuracy", json_real(r.val.accuracy));
        rc_exit = cli_print_json(cli, out);
    } else {
        printf("%s, batch %ld, %ld rows\n", model, o.batch, o.rows);
        printf("  device         : %s\n", ch.report);
        if (strcmp(ch.backend, "cuda") == 0)
            printf("  GPU CC state   : %s\n", cc);
        printf("  cloakx %-7s : %10.0f samples/s  %8.1f GFLOP/s  (epoch %.3f s, train loss "
               "%.4f)\n",
               ch.backend, sps, gflops, ep, r.train_loss);
        printf("  GEMMs alone    : %10.0f samples/s  %8.1f GFLOP/s  (%s at the step's shapes; "
               "end to end = %.0f %% of it)\n",
               gemm_bound_sps, gemm_rate,
               strcmp(ch.backend, "cuda") == 0 ? "cuBLAS" : "cblas_sgemm",
               100.0 * sps / gemm_bound_sps);
        for (int i = 0; i < ns; i++)
            printf("      %-28s %9.1f GFLOP/s\n", sh[i].what, sh[i].gflops);
        printf("  peer: bench/torch_mlp.py --device cuda (PyTorch, same network and data; "
               "bench/gpu-check.sh runs it when PyTorch has CUDA)\n");
    }
    goto done;
fail:
    rc_exit = cli_fail(cli, &e);
done:
    if (have_spec)
        cx_spec_free(&s);
    cx_model_free(m);
    cx_backend_destroy(be);
    free(x);
    free(y);
    free(teacher);
    return rc_exit;
}
