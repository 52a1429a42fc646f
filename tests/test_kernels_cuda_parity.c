/* test_kernels_cuda_parity.c — every op of the cuda backend against the cpu reference backend
 * on fresh random inputs at odd and large sizes, and whole training runs cpu vs cuda (gpu). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cx_kernels.h"
#include "train_internal.h"

/* Tolerances: |got − ref| ≤ atol + |ref|·rtol. A reduction of N unit-scale terms carries a
 * rounding error that grows like √N in either summation order, so its atol is rtol·√N. */
#define RTOL_FP32 1e-5
#define RTOL_TF32 5e-3
#define RTOL_BF16 2e-2
#define ATOL_ELEM 1e-6

typedef struct par {
    cx_backend *cpu, *gpu;   /* gpu: fp32 */
    cx_backend *tf32, *bf16; /* NULL when the reference run is cpu-against-cpu */
    cx_rng rng;
} par;

/* One tensor on both backends. */
typedef struct pbuf {
    float *c, *g;
    size_t n;
} pbuf;

static float urand(par *p, float lo, float hi)
{
    return lo + (hi - lo) * (float)cx_rng_uniform(&p->rng);
}

static float *host_rand(par *p, size_t n, float lo, float hi)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    assert_non_null(h);
    for (size_t i = 0; i < n; i++)
        h[i] = urand(p, lo, hi);
    return h;
}

static void *dev_put(cx_backend *be, const void *host, size_t bytes)
{
    cx_error e;
    void *d = NULL;
    if (be->alloc(be, bytes, &d, &e) != CX_OK)
        fail_msg("%s alloc %zu: %s", be->name, bytes, e.msg);
    if (host && be->upload(be, d, host, bytes, &e) != CX_OK)
        fail_msg("%s upload %zu: %s", be->name, bytes, e.msg);
    return d;
}

/* The same host data on both backends (host NULL: zeros). */
static pbuf mk(par *p, cx_backend *g, const float *host, size_t n)
{
    pbuf b = {dev_put(p->cpu, host, n * sizeof(float)), dev_put(g, host, n * sizeof(float)), n};
    return b;
}

static pbuf mk_rand(par *p, cx_backend *g, size_t n, float lo, float hi)
{
    float *h = host_rand(p, n, lo, hi);
    pbuf b = mk(p, g, h, n);
    free(h);
    return b;
}

static void drop(par *p, cx_backend *g, pbuf *b)
{
    p->cpu->free(p->cpu, b->c);
    g->free(g, b->g);
    b->c = b->g = NULL;
}

/* Download both sides and compare; names the first few mismatches. */
static void check_buf(par *p, cx_backend *g, const char *what, const pbuf *b, double atol,
                      double rtol)
{
    cx_error e;
    size_t bytes = b->n * sizeof(float);
    float *hc = malloc(bytes ? bytes : 1), *hg = malloc(bytes ? bytes : 1);
    assert_non_null(hc);
    assert_non_null(hg);
    assert_int_equal(p->cpu->download(p->cpu, hc, b->c, bytes, &e), CX_OK);
    if (g->download(g, hg, b->g, bytes, &e) != CX_OK)
        fail_msg("%s: %s download: %s", what, g->name, e.msg);
    size_t bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < b->n; i++) {
        double ref = hc[i], got = hg[i], err = fabs(got - ref);
        int ok = (isnan(ref) && isnan(got)) || err <= atol + fabs(ref) * rtol;
        if (!ok) {
            if (bad < 5)
                print_error("%s[%zu]: cpu %.9g, %s %.9g (|err| %.3g > %.3g)\n", what, i, ref,
                            g->name, got, err, atol + fabs(ref) * rtol);
            bad++;
        }
        if (err > worst)
            worst = err;
    }
    free(hc);
    free(hg);
    if (bad)
        fail_msg("%s: %zu of %zu values out of tolerance (atol %.3g, rtol %.3g; max |err| %.3g)",
                 what, bad, b->n, atol, rtol, worst);
}

static void sync_both(par *p, cx_backend *g)
{
    cx_error e;
    assert_int_equal(p->cpu->sync(p->cpu, &e), CX_OK);
    if (g->sync(g, &e) != CX_OK)
        fail_msg("%s sync: %s", g->name, e.msg);
}

static const int SIZES[][2] = {{1, 1}, {3, 7}, {33, 65}, {257, 129}, {1000, 1}, {4099, 1031}};
#define NSIZES ((int)(sizeof SIZES / sizeof SIZES[0]))

/* ---------------------------------------------------------------------------------------- */

static void test_memory(void **state)
{
    par *p = *state;
    cx_backend *g = p->gpu;
    cx_error e;
    /* fresh memory is zero on both (optimizer state relies on it) */
    pbuf z = mk(p, g, NULL, 1031);
    check_buf(p, g, "alloc zeroed", &z, 0.0, 0.0);
    /* upload / copy / download round trip, odd byte counts and offsets */
    pbuf a = mk_rand(p, g, 4099, -3.0f, 3.0f);
    p->cpu->copy(p->cpu, z.c + 5, a.c + 17, 1000 * sizeof(float));
    g->copy(g, z.g + 5, a.g + 17, 1000 * sizeof(float));
    check_buf(p, g, "copy", &z, 0.0, 0.0);
    check_buf(p, g, "upload", &a, 0.0, 0.0);
    /* an impossible allocation fails cleanly and leaves the backend usable */
    void *huge = NULL;
    cx_err rc = g->alloc(g, (size_t)1 << 52, &huge, &e);
    assert_int_not_equal(rc, CX_OK);
    assert_null(huge);
    print_message("huge alloc refused as expected: %s\n", e.msg);
    sync_both(p, g);
    check_buf(p, g, "after refused alloc", &a, 0.0, 0.0);
    drop(p, g, &z);
    drop(p, g, &a);
}

static void gemm_case(par *p, cx_backend *g, double rtol, int ta, int tb, int m, int n, int k,
                      float alpha, float beta)
{
    char what[128];
    size_t sa = (size_t)m * k, sb = (size_t)k * n, sc = (size_t)m * n;
    pbuf a = mk_rand(p, g, sa, -1.0f, 1.0f), b = mk_rand(p, g, sb, -1.0f, 1.0f);
    pbuf c = mk_rand(p, g, sc, -1.0f, 1.0f);
    int lda = ta ? m : k, ldb = tb ? k : n;
    p->cpu->sgemm(p->cpu, ta, tb, m, n, k, alpha, a.c, lda, b.c, ldb, beta, c.c, n);
    g->sgemm(g, ta, tb, m, n, k, alpha, a.g, lda, b.g, ldb, beta, c.g, n);
    snprintf(what, sizeof what, "sgemm[%s] %c%c m%d n%d k%d a%g b%g",
             cx_precision_name(g->precision), ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, beta);
    check_buf(p, g, what, &c, rtol * sqrt((double)k + 1.0), rtol);
    drop(p, g, &a);
    drop(p, g, &b);
    drop(p, g, &c);
}

static void gemm_all(par *p, cx_backend *g, double rtol)
{
    static const int shapes[][3] = {{1, 1, 1},       {17, 31, 7},      {129, 65, 257},
                                    {1024, 10, 256}, {4097, 33, 1000}, {512, 512, 512}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            gemm_case(p, g, rtol, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f,
                      0.0f);
    gemm_case(p, g, rtol, 0, 1, 255, 129, 63, 0.5f, 1.0f); /* accumulate, as dW += */
    gemm_case(p, g, rtol, 1, 0, 64, 256, 1031, -1.5f, 0.25f);
}

static void test_sgemm_fp32(void **state)
{
    par *p = *state;
    gemm_all(p, p->gpu, RTOL_FP32);
}

static void test_sgemm_tf32(void **state)
{
    par *p = *state;
    if (!p->tf32)
        skip();
    gemm_all(p, p->tf32, RTOL_TF32);
}

static void test_sgemm_bf16(void **state)
{
    par *p = *state;
    if (!p->bf16)
        skip();
    gemm_all(p, p->bf16, RTOL_BF16);
}

static void test_bias_act(void **state)
{
    par *p = *state;
    cx_backend *g = p->gpu;
    for (int act = CX_ACT_NONE; act <= CX_ACT_SIGMOID; act++)
        for (int s = 0; s < NSIZES; s++) {
            int rows = SIZES[s][0], n = SIZES[s][1];
            size_t tot = (size_t)rows * n;
            char w[96];
            pbuf z = mk_rand(p, g, tot, -6.0f, 6.0f), bias = mk_rand(p, g, (size_t)n, -1, 1);
            pbuf out = mk(p, g, NULL, tot), dout = mk_rand(p, g, tot, -1, 1);
            pbuf dz = mk(p, g, NULL, tot);
            const int no_bias = s == 1;
            p->cpu->bias_act_forward(p->cpu, (cx_act)act, rows, n, z.c, no_bias ? NULL : bias.c,
                                     out.c);
            g->bias_act_forward(g, (cx_act)act, rows, n, z.g, no_bias ? NULL : bias.g, out.g);
            snprintf(w, sizeof w, "bias_act_forward %s %dx%d z", cx_act_name((cx_act)act), rows, n);
            check_buf(p, g, w, &z, ATOL_ELEM, RTOL_FP32);
            snprintf(w, sizeof w, "bias_act_forward %s %dx%d out", cx_act_name((cx_act)act), rows,
                     n);
            check_buf(p, g, w, &out, ATOL_ELEM, RTOL_FP32);
            p->cpu->act_backward(p->cpu, (cx_act)act, rows, n, z.c, out.c, dout.c, dz.c);
            g->act_backward(g, (cx_act)act, rows, n, z.g, out.g, dout.g, dz.g);
            snprintf(w, sizeof w, "act_backward %s %dx%d", cx_act_name((cx_act)act), rows, n);
            check_buf(p, g, w, &dz, ATOL_ELEM, RTOL_FP32);
            /* in place: dz aliases dout */
            p->cpu->act_backward(p->cpu, (cx_act)act, rows, n, z.c, out.c, dout.c, dout.c);
            g->act_backward(g, (cx_act)act, rows, n, z.g, out.g, dout.g, dout.g);
            snprintf(w, sizeof w, "act_backward in place %s %dx%d", cx_act_name((cx_act)act), rows,
                     n);
            check_buf(p, g, w, &dout, ATOL_ELEM, RTOL_FP32);
            drop(p, g, &z);
            drop(p, g, &bias);
            drop(p, g, &out);
            drop(p, g, &dout);
            drop(p, g, &dz);
        }
}

static void test_losses(void **state)
{
    par *p = *state;
    cx_backend *g = p->gpu;
    static const int cls[] = {1, 2, 3, 10, 33, 1000};
    static const int rows_l[] = {1, 7, 1025, 4099};
    char w[96];
    for (size_t ci = 0; ci < sizeof cls / sizeof cls[0]; ci++)
        for (size_t ri = 0; ri < sizeof rows_l / sizeof rows_l[0]; ri++) {
            int rows = rows_l[ri], c = cls[ci];
            size_t tot = (size_t)rows * c;
            pbuf logits = mk_rand(p, g, tot, -20.0f, 20.0f);
            float *hy = malloc((size_t)rows * sizeof *hy);
            assert_non_null(hy);
            for (int i = 0; i < rows; i++)
                hy[i] = (float)cx_rng_below(&p->rng, (uint64_t)c);
            pbuf y = mk(p, g, hy, (size_t)rows);
            free(hy);
            pbuf probs = mk(p, g, NULL, tot), dl = mk(p, g, NULL, tot);
            pbuf loss = mk(p, g, NULL, (size_t)rows);
            float gs = ri & 1 ? 1.0f : 1.0f / (float)rows;
            int partial = ri == 2; /* the evaluation form: no gradient */
            p->cpu->softmax_xent(p->cpu, rows, c, logits.c, y.c, gs, probs.c, partial ? NULL : dl.c,
                                 loss.c);
            g->softmax_xent(g, rows, c, logits.g, y.g, gs, probs.g, partial ? NULL : dl.g, loss.g);
            snprintf(w, sizeof w, "softmax_xent %dx%d probs", rows, c);
            check_buf(p, g, w, &probs, ATOL_ELEM, RTOL_FP32);
            snprintf(w, sizeof w, "softmax_xent %dx%d dlogits", rows, c);
            check_buf(p, g, w, &dl, ATOL_ELEM, RTOL_FP32);
            snprintf(w, sizeof w, "softmax_xent %dx%d loss", rows, c);
            check_buf(p, g, w, &loss, ATOL_ELEM * 10, RTOL_FP32);
            /* mse on the same shapes */
            pbuf tgt = mk_rand(p, g, tot, -3.0f, 3.0f);
            p->cpu->mse_loss(p->cpu, rows, c, logits.c, tgt.c, gs, partial ? NULL : dl.c, loss.c);
            g->mse_loss(g, rows, c, logits.g, tgt.g, gs, partial ? NULL : dl.g, loss.g);
            snprintf(w, sizeof w, "mse_loss %dx%d dpred", rows, c);
            check_buf(p, g, w, &dl, ATOL_ELEM, RTOL_FP32);
            snprintf(w, sizeof w, "mse_loss %dx%d loss", rows, c);
            check_buf(p, g, w, &loss, RTOL_FP32 * sqrt((double)c) * 400.0, RTOL_FP32);
            drop(p, g, &tgt);
            drop(p, g, &logits);
            drop(p, g, &y);
            drop(p, g, &probs);
            drop(p, g, &dl);
            drop(p, g, &loss);
        }
    for (size_t ri = 0; ri < sizeof rows_l / sizeof rows_l[0]; ri++) {
        int rows = rows_l[ri];
        pbuf z = mk_rand(p, g, (size_t)rows, -40.0f, 40.0f);
        float *hy = malloc((size_t)rows * sizeof *hy);
        assert_non_null(hy);
        for (int i = 0; i < rows; i++)
            hy[i] = (float)cx_rng_below(&p->rng, 2);
        pbuf y = mk(p, g, hy, (size_t)rows);
        free(hy);
        pbuf pr = mk(p, g, NULL, (size_t)rows), dl = mk(p, g, NULL, (size_t)rows);
        pbuf loss = mk(p, g, NULL, (size_t)rows);
        p->cpu->logistic_loss(p->cpu, rows, z.c, y.c, 0.5f, pr.c, dl.c, loss.c);
        g->logistic_loss(g, rows, z.g, y.g, 0.5f, pr.g, dl.g, loss.g);
        snprintf(w, sizeof w, "logistic_loss %d probs", rows);
        check_buf(p, g, w, &pr, ATOL_ELEM, RTOL_FP32);
        snprintf(w, sizeof w, "logistic_loss %d dlogits", rows);
        check_buf(p, g, w, &dl, ATOL_ELEM, RTOL_FP32);
        snprintf(w, sizeof w, "logistic_loss %d loss", rows);
        check_buf(p, g, w, &loss, ATOL_ELEM, RTOL_FP32);
        drop(p, g, &z);
        drop(p, g, &y);
        drop(p, g, &pr);
        drop(p, g, &dl);
        drop(p, g, &loss);
    }
}

static void test_reductions(void **state)
{
    par *p = *state;
    cx_backend *g = p->gpu;
    char w[96];
    for (int s = 0; s < NSIZES; s++) {
        int rows = SIZES[s][0], n = SIZES[s][1];
        size_t tot = (size_t)rows * n;
        pbuf x = mk_rand(p, g, tot, -1.0f, 1.0f), out = mk_rand(p, g, (size_t)n, -1, 1);
        pbuf rn = mk_rand(p, g, (size_t)rows, 0, 1);
        const double atol_r = RTOL_FP32 * sqrt((double)rows + 1.0);
        const double atol_n = RTOL_FP32 * sqrt((double)n + 1.0);
        /* bias gradient, then accumulated with beta 1 and a scale */
        p->cpu->col_sum(p->cpu, rows, n, x.c, 1.0f, 0.0f, out.c);
        g->col_sum(g, rows, n, x.g, 1.0f, 0.0f, out.g);
        snprintf(w, sizeof w, "col_sum %dx%d", rows, n);
        check_buf(p, g, w, &out, atol_r, RTOL_FP32);
        p->cpu->col_sum(p->cpu, rows, n, x.c, 0.25f, 1.0f, out.c);
        g->col_sum(g, rows, n, x.g, 0.25f, 1.0f, out.g);
        snprintf(w, sizeof w, "col_sum accumulate %dx%d", rows, n);
        check_buf(p, g, w, &out, atol_r, RTOL_FP32);
        for (int acc = 0; acc < 2; acc++) {
            p->cpu->row_norm_sq(p->cpu, rows, n, x.c, acc, rn.c);
            g->row_norm_sq(g, rows, n, x.g, acc, rn.g);
            snprintf(w, sizeof w, "row_norm_sq acc%d %dx%d", acc, rows, n);
            check_buf(p, g, w, &rn, atol_n, RTOL_FP32);
        }
        drop(p, g, &x);
        drop(p, g, &out);
        drop(p, g, &rn);
    }
    /* argmax with ties (values on a coarse grid): first maximum wins on both */
    static const int cls[] = {1, 2, 10, 37, 1000};
    for (size_t ci = 0; ci < sizeof cls / sizeof cls[0]; ci++) {
        int rows = 3001, c = cls[ci];
        float *h = host_rand(p, (size_t)rows * c, 0.0f, 4.0f);
        for (size_t i = 0; i < (size_t)rows * c; i++)
            h[i] = floorf(h[i]);
        float *dc = dev_put(p->cpu, h, (size_t)rows * c * sizeof(float));
        float *dg = dev_put(g, h, (size_t)rows * c * sizeof(float));
        int32_t *oc = dev_put(p->cpu, NULL, (size_t)rows * sizeof(int32_t));
        int32_t *og = dev_put(g, NULL, (size_t)rows * sizeof(int32_t));
        p->cpu->argmax(p->cpu, rows, c, dc, oc);
        g->argmax(g, rows, c, dg, og);
        int32_t *hc = malloc((size_t)rows * sizeof *hc), *hg = malloc((size_t)rows * sizeof *hg);
        cx_error e;
        assert_non_null(hc);
        assert_non_null(hg);
        assert_int_equal(p->cpu->download(p->cpu, hc, oc, (size_t)rows * sizeof(int32_t), &e),
                         CX_OK);
        if (g->download(g, hg, og, (size_t)rows * sizeof(int32_t), &e) != CX_OK)
            fail_msg("argmax download: %s", e.msg);
        for (int r = 0; r < rows; r++)
            if (hc[r] != hg[r])
                fail_msg("argmax %dx%d row %d: cpu %d, %s %d", rows, c, r, hc[r], g->name, hg[r]);
        free(h);
        free(hc);
        free(hg);
        p->cpu->free(p->cpu, dc);
        p->cpu->free(p->cpu, oc);
        g->free(g, dg);
        g->free(g, og);
    }
}

static void test_dpsgd_ops(void **state)
{
    par *p = *state;
    cx_backend *g = p->gpu;
    char w[96];
    cx_error e;
    for (int s = 0; s < NSIZES; s++) {
        int rows = SIZES[s][0], n = SIZES[s][1];
        size_t tot = (size_t)rows * n;
        pbuf a = mk_rand(p, g, (size_t)rows, 0, 4), b = mk_rand(p, g, (size_t)rows, 0, 4);
        pbuf o = mk_rand(p, g, (size_t)rows, 0, 1), f = mk(p, g, NULL, (size_t)rows);
        for (int acc = 0; acc < 2; acc++) {
            p->cpu->mul_acc(p->cpu, rows, a.c, b.c, acc, o.c);
            g->mul_acc(g, rows, a.g, b.g, acc, o.g);
            snprintf(w, sizeof w, "mul_acc acc%d %d", acc, rows);
            check_buf(p, g, w, &o, ATOL_ELEM, RTOL_FP32);
        }
        p->cpu->clip_factor(p->cpu, rows, o.c, 1.5f, f.c);
        g->clip_factor(g, rows, o.g, 1.5f, f.g);
        snprintf(w, sizeof w, "clip_factor %d", rows);
        check_buf(p, g, w, &f, ATOL_ELEM, RTOL_FP32);
        pbuf x = mk_rand(p, g, tot, -2, 2);
        p->cpu->row_scale(p->cpu, rows, n, x.c, f.c);
        g->row_scale(g, rows, n, x.g, f.g);
        snprintf(w, sizeof w, "row_scale %dx%d", rows, n);
        check_buf(p, g, w, &x, ATOL_ELEM, RTOL_FP32);
        p->cpu->scale(p->cpu, tot, x.c, -0.37f);
        g->scale(g, tot, x.g, -0.37f);
        snprintf(w, sizeof w, "scale %zu", tot);
        check_buf(p, g, w, &x, ATOL_ELEM, RTOL_FP32);
        float *noise = host_rand(p, tot, -3, 3);
        assert_int_equal(p->cpu->noise_add(p->cpu, tot, x.c, noise, 0.7f, &e), CX_OK);
        if (g->noise_add(g, tot, x.g, noise, 0.7f, &e) != CX_OK)
            fail_msg("noise_add: %s", e.msg);
        memset(noise, 0, tot * sizeof(float)); /* the caller may reuse it at once */
        free(noise);
        snprintf(w, sizeof w, "noise_add %zu", tot);
        check_buf(p, g, w, &x, ATOL_ELEM, RTOL_FP32);
        drop(p, g, &a);
        drop(p, g, &b);
        drop(p, g, &o);
        drop(p, g, &f);
        drop(p, g, &x);
    }
}

static void test_optimizers(void **state)
{
    par *p = *state;
    cx_backend *g = p->gpu;
    static const size_t ns[] = {1, 33, 100003, 2000001};
    char w[96];
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        size_t n = ns[i];
        for (int dec = 0; dec < 2; dec++) {
            pbuf prm = mk_rand(p, g, n, -1, 1), gr = mk_rand(p, g, n, -1, 1);
            pbuf m = mk(p, g, NULL, n), v = mk(p, g, NULL, n);
            for (int t = 1; t <= 3; t++) {
                p->cpu->adam_update(p->cpu, n, prm.c, gr.c, m.c, v.c, 1e-3f, 0.9f, 0.999f, 1e-8f,
                                    0.01f, dec, t);
                g->adam_update(g, n, prm.g, gr.g, m.g, v.g, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, dec,
                               t);
            }
            snprintf(w, sizeof w, "adam%s %zu params", dec ? "w" : "", n);
            check_buf(p, g, w, &prm, ATOL_ELEM, RTOL_FP32);
            snprintf(w, sizeof w, "adam%s %zu m", dec ? "w" : "", n);
            check_buf(p, g, w, &m, ATOL_ELEM, RTOL_FP32);
            snprintf(w, sizeof w, "adam%s %zu v", dec ? "w" : "", n);
            check_buf(p, g, w, &v, ATOL_ELEM, RTOL_FP32);
            drop(p, g, &m);
            drop(p, g, &v);
            for (int mom = 0; mom < 2; mom++) {
                pbuf buf = mk(p, g, NULL, n);
                for (int t = 0; t < 3; t++) {
                    p->cpu->sgd_update(p->cpu, n, prm.c, gr.c, buf.c, 0.05f, mom ? 0.9f : 0.0f,
                                       dec ? 1e-4f : 0.0f);
                    g->sgd_update(g, n, prm.g, gr.g, buf.g, 0.05f, mom ? 0.9f : 0.0f,
                                  dec ? 1e-4f : 0.0f);
                }
                snprintf(w, sizeof w, "sgd mom%d wd%d %zu params", mom, dec, n);
                check_buf(p, g, w, &prm, ATOL_ELEM, RTOL_FP32);
                check_buf(p, g, "sgd momentum buffer", &buf, ATOL_ELEM, RTOL_FP32);
                drop(p, g, &buf);
            }
            drop(p, g, &prm);
            drop(p, g, &gr);
        }
    }
}

/* The device-side forms a captured training step uses (per-step values read from device
 * memory): the gpu's against the cpu's plain forms, the reference the trainer used before. */
static void test_optimizers_dev(void **state)
{
    par *p = *state;
    cx_backend *g = p->gpu;
    static const size_t ns[] = {1, 33, 100003};
    char w[96];
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        size_t n = ns[i];
        for (int dec = 0; dec < 2; dec++) {
            pbuf prm = mk_rand(p, g, n, -1, 1), gr = mk_rand(p, g, n, -1, 1);
            pbuf m = mk(p, g, NULL, n), v = mk(p, g, NULL, n), hyp = mk(p, g, NULL, 3);
            for (int t = 1; t <= 3; t++) {
                float h[3] = {1e-3f, 1.0f - powf(0.9f, (float)t), 1.0f - powf(0.999f, (float)t)};
                cx_error e;
                if (g->upload(g, hyp.g, h, sizeof h, &e) != CX_OK)
                    fail_msg("upload: %s", e.msg);
                p->cpu->adam_update(p->cpu, n, prm.c, gr.c, m.c, v.c, 1e-3f, 0.9f, 0.999f, 1e-8f,
                                    0.01f, dec, t);
                g->adam_update_dev(g, n, prm.g, gr.g, m.g, v.g, hyp.g, 0.9f, 0.999f, 1e-8f, 0.01f,
                                   dec);
            }
            snprintf(w, sizeof w, "adam%s_dev %zu params", dec ? "w" : "", n);
            check_buf(p, g, w, &prm, ATOL_ELEM, RTOL_FP32);
            snprintf(w, sizeof w, "adam%s_dev %zu v", dec ? "w" : "", n);
            check_buf(p, g, w, &v, ATOL_ELEM, RTOL_FP32);
            for (int mom = 0; mom < 2; mom++) {
                pbuf buf = mk(p, g, NULL, n);
                for (int t = 0; t < 3; t++) {
                    float lr = 0.05f / (float)(t + 1);
                    cx_error e;
                    if (g->upload(g, hyp.g, &lr, sizeof lr, &e) != CX_OK)
                        fail_msg("upload: %s", e.msg);
                    p->cpu->sgd_update(p->cpu, n, prm.c, gr.c, buf.c, lr, mom ? 0.9f : 0.0f,
                                       dec ? 1e-4f : 0.0f);
                    g->sgd_update_dev(g, n, prm.g, gr.g, buf.g, hyp.g, mom ? 0.9f : 0.0f,
                                      dec ? 1e-4f : 0.0f);
                }
                snprintf(w, sizeof w, "sgd_dev mom%d wd%d %zu params", mom, dec, n);
                check_buf(p, g, w, &prm, ATOL_ELEM, RTOL_FP32);
                drop(p, g, &buf);
            }
            drop(p, g, &prm);
            drop(p, g, &gr);
            drop(p, g, &m);
            drop(p, g, &v);
            drop(p, g, &hyp);
        }
    }
    /* loss sums on the device, accumulated over several batches as an epoch does */
    static const size_t rs[] = {1, 255, 256, 257, 4099, 100003};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        size_t n = rs[i];
        float *h = host_rand(p, n, 0.0f, 3.0f);
        float *xg = dev_put(g, h, n * sizeof(float)), *xc = dev_put(p->cpu, h, n * sizeof(float));
        double zero = 0.0, ref = 0.0, got = -1.0, cpu = -1.0;
        double *ag = dev_put(g, &zero, sizeof zero), *ac = dev_put(p->cpu, &zero, sizeof zero);
        for (int rep = 0; rep < 3; rep++) {
            for (size_t k = 0; k < n; k++)
                ref += h[k];
            g->sum_acc(g, n, xg, ag);
            p->cpu->sum_acc(p->cpu, n, xc, ac);
        }
        cx_error e;
        if (g->download(g, &got, ag, sizeof got, &e) != CX_OK)
            fail_msg("sum_acc download: %s", e.msg);
        assert_int_equal(p->cpu->download(p->cpu, &cpu, ac, sizeof cpu, &e), CX_OK);
        assert_true(cpu == ref); /* the cpu sums in order, as the host loop did */
        if (!(fabs(got - ref) <= 1e-9 * fabs(ref) + 1e-12))
            fail_msg("sum_acc %zu: host %.17g, %s %.17g", n, ref, g->name, got);
        free(h);
        g->free(g, xg);
        g->free(g, ag);
        p->cpu->free(p->cpu, xc);
        p->cpu->free(p->cpu, ac);
    }
}

static void test_data_ops(void **state)
{
    par *p = *state;
    cx_backend *g = p->gpu;
    char w[96];
    for (int s = 0; s < NSIZES; s++) {
        int rows = SIZES[s][0], n = SIZES[s][1];
        size_t tot = (size_t)rows * n;
        pbuf x = mk_rand(p, g, tot, -100, 100), mean = mk_rand(p, g, (size_t)n, -50, 50);
        pbuf inv = mk_rand(p, g, (size_t)n, 0.01f, 3.0f);
        p->cpu->standardize(p->cpu, rows, n, x.c, mean.c, inv.c);
        g->standardize(g, rows, n, x.g, mean.g, inv.g);
        snprintf(w, sizeof w, "standardize %dx%d", rows, n);
        check_buf(p, g, w, &x, ATOL_ELEM, RTOL_FP32);
        /* a sampled batch: indices with repeats, gathered twice as many rows as exist */
        int b = rows * 2 + 1;
        int32_t *idx = malloc((size_t)b * sizeof *idx);
        assert_non_null(idx);
        for (int i = 0; i < b; i++)
            idx[i] = (int32_t)cx_rng_below(&p->rng, (uint64_t)rows);
        int32_t *ic = dev_put(p->cpu, idx, (size_t)b * sizeof *idx);
        int32_t *ig = dev_put(g, idx, (size_t)b * sizeof *idx);
        free(idx);
        pbuf dst = mk(p, g, NULL, (size_t)b * n);
        p->cpu->gather_rows(p->cpu, b, n, ic, x.c, dst.c);
        g->gather_rows(g, b, n, ig, x.g, dst.g);
        snprintf(w, sizeof w, "gather_rows %dx%d", b, n);
        check_buf(p, g, w, &dst, ATOL_ELEM, RTOL_FP32);
        p->cpu->free(p->cpu, ic);
        g->free(g, ig);
        drop(p, g, &dst);
        drop(p, g, &x);
        drop(p, g, &mean);
        drop(p, g, &inv);
    }
}

/* ---- whole training runs, same seed, cpu vs cuda ---- */

static void train_pair(par *p, const char *spec_text, cx_task task, int classes, size_t rows,
                       int cols)
{
    cx_error e;
    json_t *j = NULL;
    cx_spec s;
    if (cx_json_parse(spec_text, strlen(spec_text), &j, &e) != CX_OK ||
        cx_spec_parse(j, &s, &e) != CX_OK)
        fail_msg("spec: %s", e.msg);
    json_decref(j);
    float *x = malloc(rows * (size_t)cols * sizeof *x), *y = malloc(rows * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    /* a learnable target: a random linear teacher */
    float wt[64];
    for (int i = 0; i < cols && i < 64; i++)
        wt[i] = urand(p, -1, 1);
    for (size_t r = 0; r < rows; r++) {
        double v = 0;
        for (int c = 0; c < cols; c++) {
            x[r * cols + c] = urand(p, -2, 2) + (float)c;
            v += wt[c % 64] * (x[r * cols + c] - c);
        }
        if (task == CX_TASK_CLASSIFICATION) {
            int k = (int)floor((v / 2.0 + 1.5) * classes / 3.0);
            y[r] = (float)(k < 0 ? 0 : k >= classes ? classes - 1 : k);
        } else {
            y[r] = (float)(3.0 * v + 10.0);
        }
    }
    cx_train_data d = {.rows = rows, .cols = cols, .x = x, .y = y, .n_classes = classes};
    cx_model *mc = NULL, *mg = NULL;
    cx_train_result rc, rg;
    if (cx_train(&s, &d, p->cpu, NULL, NULL, &mc, &rc, &e) != CX_OK)
        fail_msg("cpu train: %s", e.msg);
    if (cx_train(&s, &d, p->gpu, NULL, NULL, &mg, &rg, &e) != CX_OK)
        fail_msg("%s train: %s", p->gpu->name, e.msg);
    print_message("train cpu vs %s: train loss %.7f / %.7f, val loss %.7f / %.7f, %.0f / %.0f "
                  "samples/s\n",
                  p->gpu->name, rc.train_loss, rg.train_loss, rc.val.loss, rg.val.loss,
                  rc.samples_per_s, rg.samples_per_s);
    assert_int_equal(rc.epochs_run, rg.epochs_run);
    assert_true(fabs(rg.train_loss - rc.train_loss) <= 1e-3 * fabs(rc.train_loss));
    assert_true(fabs(rg.val.loss - rc.val.loss) <= 1e-3 * fabs(rc.val.loss));
    /* the streamed path (forced: double-buffered pinned staging on a copy stream) against the
     * resident one on the same backend; the resident cuda run replays a captured step */
    assert_int_equal(rg.streamed, 0);
    if (strcmp(p->gpu->name, "cuda") == 0)
        assert_int_equal(rg.graph, 1);
    cx_model *ms = NULL;
    cx_train_result rs;
    assert_int_equal(setenv("CLOAKX_TRAIN_STREAM", "1", 1), 0);
    cx_err src = cx_train(&s, &d, p->gpu, NULL, NULL, &ms, &rs, &e);
    assert_int_equal(unsetenv("CLOAKX_TRAIN_STREAM"), 0);
    if (src != CX_OK)
        fail_msg("%s streamed train: %s", p->gpu->name, e.msg);
    print_message("train %s resident vs streamed: train loss %.7f / %.7f, val loss %.7f / %.7f, "
                  "%.0f / %.0f samples/s\n",
                  p->gpu->name, rg.train_loss, rs.train_loss, rg.val.loss, rs.val.loss,
                  rg.samples_per_s, rs.samples_per_s);
    assert_int_equal(rs.streamed, 1);
    assert_int_equal(rs.epochs_run, rg.epochs_run);
    assert_true(fabs(rs.train_loss - rg.train_loss) <= 1e-3 * fabs(rg.train_loss));
    assert_true(fabs(rs.val.loss - rg.val.loss) <= 1e-3 * fabs(rg.val.loss));
    cx_model_free(ms);
    /* and it learned something, so the comparison is not between two failures */
    assert_true(rc.train_loss <
                0.9 * (task == CX_TASK_CLASSIFICATION ? log((double)classes) : 0.5));
    cx_model_free(mc);
    cx_model_free(mg);
    cx_spec_free(&s);
    free(x);
    free(y);
}

static void test_train_classification(void **state)
{
    train_pair(*state,
               "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[67,33],"
               "\"activation\":\"gelu\"},\"optimizer\":{\"type\":\"adamw\",\"lr\":0.003,"
               "\"weight_decay\":0.01},\"batch_size\":100,\"epochs\":4,"
               "\"validation_split\":0.2,\"seed\":7,\"threads\":2}",
               CX_TASK_CLASSIFICATION, 5, 3001, 13);
}

static void test_train_regression(void **state)
{
    train_pair(*state,
               "{\"task\":\"regression\",\"model\":{\"type\":\"mlp\",\"hidden\":[40],"
               "\"activation\":\"tanh\"},\"optimizer\":{\"type\":\"sgd\",\"lr\":0.01,"
               "\"momentum\":0.9},\"batch_size\":64,\"epochs\":3,"
               "\"validation_split\":0.25,\"seed\":11,\"threads\":2}",
               CX_TASK_REGRESSION, 0, 2000, 9);
}

/* ---- one training step captured in a CUDA graph and replayed, against eager cpu steps ---- */

static void net_step(cx_net *n, cx_backend *be, const cx_spec *s, float *mbuf, int rows)
{
    cx_net_forward(n, rows);
    cx_net_loss(n, rows, 1.0f / (float)rows);
    cx_net_backward(n, rows, 0, 0, 0.0f);
    cx_optim_step(be, s, n->m->n_params, n->params, n->grads, mbuf, NULL, s->lr, 1);
}

static void test_graph_step(void **state)
{
    par *p = *state;
    cx_error e;
    /* graphs are the cuda backend's alone */
    assert_int_equal(cx_backend_graph_begin(p->cpu, &e), CX_ERR_UNSUPPORTED);
    if (strcmp(p->gpu->name, "cuda") != 0)
        skip();
    const int B = 257, cols = 31, classes = 7, steps = 6;
    const char *txt = "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\","
                      "\"hidden\":[129,65],\"activation\":\"gelu\"},\"optimizer\":{\"type\":"
                      "\"sgd\",\"lr\":0.05,\"momentum\":0.9},\"batch_size\":257,\"seed\":3}";
    json_t *j = NULL;
    cx_spec s;
    if (cx_json_parse(txt, strlen(txt), &j, &e) != CX_OK || cx_spec_parse(j, &s, &e) != CX_OK)
        fail_msg("spec: %s", e.msg);
    json_decref(j);
    cx_model *m = NULL;
    assert_int_equal(cx_model_create(&s, cols, classes, &m, &e), CX_OK);
    cx_model_init(m, 5);
    cx_net nc, ng;
    if (cx_net_create(p->cpu, m, B, &nc, &e) != CX_OK ||
        cx_net_create(p->gpu, m, B, &ng, &e) != CX_OK)
        fail_msg("net: %s", e.msg);
    float *x = host_rand(p, (size_t)B * cols, -2, 2), y[257];
    for (int i = 0; i < B; i++)
        y[i] = (float)cx_rng_below(&p->rng, (uint64_t)classes);
    assert_int_equal(p->cpu->upload(p->cpu, nc.act[0], x, (size_t)B * cols * 4, &e), CX_OK);
    assert_int_equal(p->gpu->upload(p->gpu, ng.act[0], x, (size_t)B * cols * 4, &e), CX_OK);
    assert_int_equal(p->cpu->upload(p->cpu, nc.labels, y, sizeof y, &e), CX_OK);
    assert_int_equal(p->gpu->upload(p->gpu, ng.labels, y, sizeof y, &e), CX_OK);
    free(x);
    float *mc = dev_put(p->cpu, NULL, m->n_params * 4),
          *mg = dev_put(p->gpu, NULL, m->n_params * 4);
    for (int i = 0; i < steps; i++)
        net_step(&nc, p->cpu, &s, mc, B);
    /* one eager step (cuBLAS picks its kernels), then capture one and replay it */
    net_step(&ng, p->gpu, &s, mg, B);
    if (cx_backend_graph_begin(p->gpu, &e) != CX_OK)
        fail_msg("graph begin: %s", e.msg);
    net_step(&ng, p->gpu, &s, mg, B);
    if (cx_backend_graph_end(p->gpu, &e) != CX_OK)
        fail_msg("graph end: %s", e.msg);
    for (int i = 1; i < steps; i++)
        if (cx_backend_graph_launch(p->gpu, &e) != CX_OK)
            fail_msg("graph launch: %s", e.msg);
    sync_both(p, p->gpu);
    pbuf prm = {nc.params, ng.params, m->n_params}, mom = {mc, mg, m->n_params};
    pbuf loss = {nc.loss_rows, ng.loss_rows, (size_t)B};
    check_buf(p, p->gpu, "graph-replayed params", &prm, 1e-5, 1e-4);
    check_buf(p, p->gpu, "graph-replayed momentum", &mom, 1e-5, 1e-4);
    check_buf(p, p->gpu, "graph-replayed loss", &loss, 1e-5, 1e-4);
    p->cpu->free(p->cpu, mc);
    p->gpu->free(p->gpu, mg);
    cx_net_destroy(&nc);
    cx_net_destroy(&ng);
    cx_model_free(m);
    cx_spec_free(&s);

    /* a host synchronisation inside a capture voids it, cleanly: the backend lives on */
    cx_backend *b2 = NULL;
    assert_int_equal(cx_backend_cuda_create(0, CX_PRECISION_FP32, &b2, &e), CX_OK);
    float h[64] = {1.0f}, *d = dev_put(b2, h, sizeof h);
    assert_int_equal(cx_backend_graph_launch(b2, &e), CX_ERR_STATE);
    assert_int_equal(cx_backend_graph_begin(b2, &e), CX_OK);
    assert_int_equal(cx_backend_graph_begin(b2, &e), CX_ERR_STATE);
    b2->scale(b2, 64, d, 2.0f);
    assert_int_not_equal(b2->download(b2, h, d, sizeof h, &e), CX_OK);
    assert_int_not_equal(cx_backend_graph_end(b2, &e), CX_OK);
    print_message("voided capture: %s\n", e.msg);
    assert_int_equal(cx_backend_graph_launch(b2, &e), CX_ERR_STATE);
    b2->scale(b2, 64, d, 3.0f);
    if (b2->download(b2, h, d, sizeof h, &e) != CX_OK)
        fail_msg("backend unusable after a voided capture: %s", e.msg);
    assert_true(h[0] == 3.0f); /* the captured scale by 2 never ran */
    b2->free(b2, d);
    cx_backend_destroy(b2);
}

/* ---- extras of the cuda backend ---- */

static void test_pinned_and_locality(void **state)
{
    par *p = *state;
    cx_error e;
    if (strcmp(p->gpu->name, "cuda") != 0)
        skip();
    size_t len = (size_t)3 << 20;
    float *h = cx_cuda_pinned_alloc(NULL, len, &e);
    if (!h)
        fail_msg("pinned alloc: %s", e.msg);
    for (size_t i = 0; i < len / sizeof(float); i++)
        h[i] = (float)i;
    float *d = dev_put(p->gpu, h, len); /* from pinned memory: a real async DMA */
    memset(h, 0, len);
    assert_int_equal(p->gpu->download(p->gpu, h, d, len, &e), CX_OK);
    for (size_t i = 0; i < len / sizeof(float); i += 4099)
        assert_true(h[i] == (float)i);
    p->gpu->free(p->gpu, d);
    cx_cuda_pinned_free(NULL, h, len);
    char cpus[1024];
    if (cx_cuda_device_cpulist(0, cpus, sizeof cpus, &e) != CX_OK)
        fail_msg("cpulist: %s", e.msg);
    print_message("CPUs near GPU 0: %s\n", cpus);
    assert_true(cpus[0] != '\0');
}

static int setup(void **state)
{
    par *p = calloc(1, sizeof *p);
    cx_error e;
    if (!p)
        return -1;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    const char *es = getenv("CX_TEST_SEED");
    if (es)
        seed = strtoull(es, NULL, 10);
    print_message("seed %llu (CX_TEST_SEED=%llu reproduces this run)\n", (unsigned long long)seed,
                  (unsigned long long)seed);
    cx_rng_seed(&p->rng, seed);
    if (cx_backend_cpu_create(CX_PRECISION_FP32, 2, &p->cpu, &e) != CX_OK)
        goto fail;
    /* CX_PARITY_AGAINST=cpu checks this harness itself on a machine without a GPU (a second
     * cpu backend with another thread count); it proves nothing about the cuda backend. */
    const char *against = getenv("CX_PARITY_AGAINST");
    if (against && strcmp(against, "cpu") == 0) {
        if (cx_backend_cpu_create(CX_PRECISION_FP32, 1, &p->gpu, &e) != CX_OK)
            goto fail;
    } else {
        if (cx_backend_cuda_create(0, CX_PRECISION_FP32, &p->gpu, &e) != CX_OK ||
            cx_backend_cuda_create(0, CX_PRECISION_TF32, &p->tf32, &e) != CX_OK ||
            cx_backend_cuda_create(0, CX_PRECISION_BF16, &p->bf16, &e) != CX_OK)
            goto fail;
    }
    *state = p;
    return 0;
fail:
    print_error("setup: %s\n", e.msg);
    cx_backend_destroy(p->cpu);
    cx_backend_destroy(p->gpu);
    cx_backend_destroy(p->tf32);
    free(p);
    return -1;
}

static int teardown(void **state)
{
    par *p = *state;
    cx_backend_destroy(p->cpu);
    cx_backend_destroy(p->gpu);
    cx_backend_destroy(p->tf32);
    cx_backend_destroy(p->bf16);
    free(p);
    return 0;
}

int main(void)
{
    const char *against = getenv("CX_PARITY_AGAINST");
    if (!against || strcmp(against, "cpu") != 0) {
        int n = 0;
        cx_error e;
        if (cx_cuda_device_count(&n, &e) != CX_OK) {
            printf("skipped: %s\n", e.msg);
            return 77;
        }
        cx_cuda_device_info info;
        if (cx_cuda_device_query(0, &info, &e) != CX_OK) {
            printf("skipped: %s\n", e.msg);
            return 77;
        }
        printf("GPU 0: %s (sm_%d%d, %d SMs)\n", info.name, info.cc_major, info.cc_minor,
               info.sm_count);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_sgemm_fp32),
        cmocka_unit_test(test_sgemm_tf32),
        cmocka_unit_test(test_sgemm_bf16),
        cmocka_unit_test(test_bias_act),
        cmocka_unit_test(test_losses),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_dpsgd_ops),
        cmocka_unit_test(test_optimizers),
        cmocka_unit_test(test_optimizers_dev),
        cmocka_unit_test(test_data_ops),
        cmocka_unit_test(test_train_classification),
        cmocka_unit_test(test_train_regression),
        cmocka_unit_test(test_graph_step),
        cmocka_unit_test(test_pinned_and_locality),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
