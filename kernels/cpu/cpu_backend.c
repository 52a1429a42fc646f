/* cpu_backend.c — the reference CPU backend (llm.c style): GEMMs on the kernel chosen for
 * this CPU (own AVX-512 kernel or OpenBLAS), plain OpenMP loops, fixed reduction orders. */
#include "cx_kernels.h"
#include "kernels_math.h"
#include "cpu_gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

_Static_assert(CXM_ACT_NONE == (int)CX_ACT_NONE && CXM_ACT_RELU == (int)CX_ACT_RELU &&
                   CXM_ACT_GELU == (int)CX_ACT_GELU && CXM_ACT_TANH == (int)CX_ACT_TANH &&
                   CXM_ACT_SIGMOID == (int)CX_ACT_SIGMOID,
               "kernels_math.h activation codes must equal cx_act");

typedef struct cpu_ctx {
    int threads;
    cx_cpu_gemm gemm;
    float *gemm_ws; /* threads × CX_GEMM_WS_FLOATS: packing buffers of the own kernel */
} cpu_ctx;

#define NT(be) (((cpu_ctx *)(be)->ctx)->threads)
/* Element-wise work below this many elements runs on the calling thread: a parallel
 * region's fork and barrier cost more than the work, badly so on a shared machine. */
#define CPU_PAR_MIN ((size_t)1 << 15)

/* The cpu backend's "device" memory is host memory holding the batches, activations and
 * per-example gradients of the rows: secure memory (page-aligned, so aligned for vector
 * loads; zeroed; locked where the limit allows; wiped on free). The backend plans its
 * buffers once per training run, so the mapping per buffer costs nothing in the loop. */
static cx_err cpu_alloc(cx_backend *be, size_t bytes, void **out, cx_error *e)
{
    (void)be;
    void *p = cx_secmem_alloc(bytes ? bytes : 64, 0, e);
    if (!p)
        return e ? e->code : CX_ERR_NOMEM;
    *out = p;
    return CX_OK;
}

static void cpu_free(cx_backend *be, void *p)
{
    (void)be;
    cx_secmem_free(p);
}

static cx_err cpu_upload(cx_backend *be, void *dst, const void *src, size_t bytes, cx_error *e)
{
    (void)be;
    (void)e;
    if (bytes)
        memcpy(dst, src, bytes);
    return CX_OK;
}

static cx_err cpu_download(cx_backend *be, void *dst, const void *src, size_t bytes, cx_error *e)
{
    (void)be;
    (void)e;
    if (bytes)
        memcpy(dst, src, bytes);
    return CX_OK;
}

static void cpu_copy(cx_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes && dst != src)
        memmove(dst, src, bytes);
}

/* OpenBLAS path: one thread pool only. OpenBLAS runs single-threaded inside our OpenMP
 * threads, each owning a block of C's rows. Two pools (OpenBLAS' pthreads spinning against
 * OpenMP's) thrash a small machine; and the split keeps every element's summation order
 * fixed for a given thread count. */
static void sgemm_openblas(int nt, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                           int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    const CBLAS_TRANSPOSE ota = ta ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE otb = tb ? CblasTrans : CblasNoTrans;
    if (nt <= 1) {
        cblas_sgemm(CblasRowMajor, ota, otb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        /* row blocks rounded to 8 rows for the kernel's register tiles */
        int per = ((m + nth - 1) / nth + 7) & ~7;
        int i0 = t * per, i1 = i0 + per < m ? i0 + per : m;
        if (i0 < i1) {
            const float *ai = ta ? a + i0 : a + (size_t)i0 * lda;
            cblas_sgemm(CblasRowMajor, ota, otb, i1 - i0, n, k, alpha, ai, lda, b, ldb, beta,
                        c + (size_t)i0 * ldc, ldc);
        }
    }
}

/* Own AVX-512 kernel: every element of C is summed by one thread in an order that depends
 * on k alone, so the split (rows or columns, whichever is longer) never changes a bit. */
static void sgemm_own(cpu_ctx *cc, int nt, int ta, int tb, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc, const cx_gemm_epilogue *ep)
{
    if (nt <= 1) {
        cx_gemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, cc->gemm_ws, ep);
        return;
    }
    const int split_rows = m > n;
    const int unit = split_rows ? CX_GEMM_MR : CX_GEMM_NR, len = split_rows ? m : n;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        int units = (len + unit - 1) / unit, per = (units + nth - 1) / nth;
        int i0 = t * per * unit, i1 = i0 + per * unit < len ? i0 + per * unit : len;
        float *ws = cc->gemm_ws + (size_t)t * CX_GEMM_WS_FLOATS;
        if (i0 < i1) {
            if (split_rows)
                cx_gemm_avx512(ta, tb, i1 - i0, n, k, alpha, ta ? a + i0 : a + (size_t)i0 * lda,
                               lda, b, ldb, beta, c + (size_t)i0 * ldc, ldc, ws, ep);
            else
                cx_gemm_avx512(ta, tb, m, i1 - i0, k, alpha, a, lda,
                               tb ? b + (size_t)i0 * ldb : b + i0, ldb, beta, c + i0, ldc, ws, ep);
        }
    }
}

/* Narrow outputs (n ≤ 16): rows split in whole 12-row tiles; each row is summed by one thread
 * in one order, so the split changes no bit. */
static void sgemm_narrow(cpu_ctx *cc, int nt, int ta, int tb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc)
{
    if (nt <= 1) {
        cx_gemm_avx512_narrow(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, cc->gemm_ws);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        int units = (m + CX_GEMM_MR - 1) / CX_GEMM_MR, per = (units + nth - 1) / nth;
        int i0 = t * per * CX_GEMM_MR, i1 = i0 + per * CX_GEMM_MR < m ? i0 + per * CX_GEMM_MR : m;
        if (i0 < i1)
            cx_gemm_avx512_narrow(ta, tb, i1 - i0, n, k, alpha, ta ? a + i0 : a + (size_t)i0 * lda,
                                  lda, b, ldb, beta, c + (size_t)i0 * ldc, ldc,
                                  cc->gemm_ws + (size_t)t * CX_GEMM_WS_FLOATS);
    }
}

/* One thread for a GEMM too small to pay for waking a team. */
static int own_gemm_threads(const cpu_ctx *cc, int m, int n, int k)
{
    return cc->threads > 1 && (double)m * n * k < 2.0e5 ? 1 : cc->threads;
}

static void cpu_sgemm(cx_backend *be, int ta, int tb, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    cpu_ctx *cc = be->ctx;
    int nt = own_gemm_threads(cc, m, n, k);
    if (cc->gemm == CX_CPU_GEMM_AVX512 && n > 16) {
        sgemm_own(cc, nt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL);
        return;
    }
    if (cc->gemm == CX_CPU_GEMM_AVX512) {
        sgemm_narrow(cc, nt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    if (nt > m)
        nt = m;
    sgemm_openblas(nt, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* "no loop-carried dependences" for GCC's vectoriser; clang vectorises these loops with
 * run-time alias checks and warns when a sanitizer build cannot honour a loop hint */
#if defined(__clang__)
#define CX_IVDEP
#else
#define CX_IVDEP _Pragma("GCC ivdep")
#endif

/* Per-row kernels, one per activation (a constant code folds kernels_math.h's switch away),
 * so each inner loop vectorises; ivdep: z/out and dout/dz may be the same buffer, element for
 * element. */
static inline void fwd_row(cx_act act, float *z, const float *b, float *o, int n)
{
    if (b) {
        CX_IVDEP
        for (int j = 0; j < n; j++)
            z[j] += b[j];
    }
    switch (act) {
    case CX_ACT_RELU:
        CX_IVDEP
        for (int j = 0; j < n; j++)
            o[j] = cxm_act(CXM_ACT_RELU, z[j]);
        break;
    case CX_ACT_GELU:
        for (int j = 0; j < n; j++)
            o[j] = cxm_act(CXM_ACT_GELU, z[j]);
        break;
    case CX_ACT_TANH:
        for (int j = 0; j < n; j++)
            o[j] = cxm_act(CXM_ACT_TANH, z[j]);
        break;
    case CX_ACT_SIGMOID:
        for (int j = 0; j < n; j++)
            o[j] = cxm_act(CXM_ACT_SIGMOID, z[j]);
        break;
    case CX_ACT_NONE:
    default:
        if (o != z)
            memcpy(o, z, (size_t)n * sizeof(float));
        break;
    }
}

static inline void bwd_row(cx_act act, const float *z, const float *y, const float *d, float *g,
                           int n)
{
    switch (act) {
    case CX_ACT_RELU:
        CX_IVDEP
        for (int j = 0; j < n; j++)
            g[j] = cxm_act_backward(CXM_ACT_RELU, z[j], y[j], d[j]);
        break;
    case CX_ACT_GELU:
        for (int j = 0; j < n; j++)
            g[j] = cxm_act_backward(CXM_ACT_GELU, z[j], y[j], d[j]);
        break;
    case CX_ACT_TANH:
        CX_IVDEP
        for (int j = 0; j < n; j++)
            g[j] = cxm_act_backward(CXM_ACT_TANH, z[j], y[j], d[j]);
        break;
    case CX_ACT_SIGMOID:
        CX_IVDEP
        for (int j = 0; j < n; j++)
            g[j] = cxm_act_backward(CXM_ACT_SIGMOID, z[j], y[j], d[j]);
        break;
    case CX_ACT_NONE:
    default:
        if (g != d)
            memcpy(g, d, (size_t)n * sizeof(float));
        break;
    }
}

static void cpu_bias_act_forward(cx_backend *be, cx_act act, int rows, int n, float *z,
                                 const float *bias, float *out)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++)
        fwd_row(act, z + (size_t)r * n, bias, out + (size_t)r * n, n);
}

static void cpu_act_backward(cx_backend *be, cx_act act, int rows, int n, const float *z,
                             const float *out, const float *dout, float *dz)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++)
        bwd_row(act, z + (size_t)r * n, out + (size_t)r * n, dout + (size_t)r * n,
                dz + (size_t)r * n, n);
}

/* The dense layer's GEMM with its bias and a relu (or none) added to each tile in registers
 * before it is stored (cx_gemm_epilogue): the same bits as sgemm then bias_act_forward, their
 * pass over the layer's output saved, one parallel region instead of two; 2-4 % of the
 * reference step. Other activations, narrow layers and OpenBLAS: the two ops. Fusing relu's
 * derivative into the dX GEMM the same way (it reads z per tile) measured no gain. */
static void cpu_dense_forward(cx_backend *be, cx_act act, int rows, int n, int k, const float *x,
                              const float *w, const float *bias, float *z, float *out)
{
    cpu_ctx *cc = be->ctx;
    if (cc->gemm != CX_CPU_GEMM_AVX512 || n <= 16 || rows <= 0 || !bias ||
        (act != CX_ACT_RELU && act != CX_ACT_NONE)) {
        cpu_sgemm(be, 0, 0, rows, n, k, 1.0f, x, k, w, n, 0.0f, z, n);
        cpu_bias_act_forward(be, act, rows, n, z, bias, out);
        return;
    }
    const cx_gemm_epilogue ep = {.c0 = z, .bias = bias, .out = out, .relu = act == CX_ACT_RELU};
    sgemm_own(cc, own_gemm_threads(cc, rows, n, k), 0, 0, rows, n, k, 1.0f, x, k, w, n, 0.0f, z, n,
              &ep);
}

static void cpu_softmax_xent(cx_backend *be, int rows, int classes, const float *logits,
                             const float *labels, float grad_scale, float *probs, float *dlogits,
                             float *loss_rows)
{
#pragma omp parallel for schedule(static)                                                          \
    num_threads(NT(be)) if ((size_t)rows * classes >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *l = logits + (size_t)r * classes;
        float *p = probs + (size_t)r * classes;
        float mx = l[0];
        for (int j = 1; j < classes; j++)
            mx = l[j] > mx ? l[j] : mx;
        float sum = 0.0f;
        for (int j = 0; j < classes; j++) {
            p[j] = expf(l[j] - mx);
            sum += p[j];
        }
        float inv = 1.0f / sum;
        int y = cxm_class_index(labels[r], classes);
        for (int j = 0; j < classes; j++)
            p[j] *= inv;
        if (loss_rows)
            loss_rows[r] = cxm_xent_loss(sum, mx, l[y]);
        if (dlogits) {
            float *d = dlogits + (size_t)r * classes;
            for (int j = 0; j < classes; j++)
                d[j] = cxm_xent_grad(p[j], j == y, grad_scale);
        }
    }
}

static void cpu_logistic_loss(cx_backend *be, int rows, const float *logits, const float *labels,
                              float grad_scale, float *probs, float *dlogits, float *loss_rows)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        float z = logits[r], y = labels[r];
        float p = cxm_act(CXM_ACT_SIGMOID, z);
        if (probs)
            probs[r] = p;
        if (loss_rows)
            loss_rows[r] = cxm_logistic_loss(z, y);
        if (dlogits)
            dlogits[r] = grad_scale * (p - y);
    }
}

static void cpu_mse_loss(cx_backend *be, int rows, int n, const float *pred, const float *target,
                         float grad_scale, float *dpred, float *loss_rows)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        float acc = 0.0f;
        for (int j = 0; j < n; j++) {
            size_t i = (size_t)r * n + j;
            float d = pred[i] - target[i];
            acc += d * d;
            if (dpred)
                dpred[i] = grad_scale * d;
        }
        if (loss_rows)
            loss_rows[r] = 0.5f * acc;
    }
}

static void cpu_col_sum(cx_backend *be, int rows, int n, const float *x, float alpha, float beta,
                        float *out)
{
    /* columns split in blocks across threads; each column summed over rows in order */
    const int blk = 64;
    int nblk = (n + blk - 1) / blk;
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int b = 0; b < nblk; b++) {
        int j0 = b * blk, j1 = j0 + blk < n ? j0 + blk : n;
        float acc[64];
        for (int j = j0; j < j1; j++)
            acc[j - j0] = 0.0f;
        for (int r = 0; r < rows; r++) {
            const float *xr = x + (size_t)r * n;
            for (int j = j0; j < j1; j++)
                acc[j - j0] += xr[j];
        }
        for (int j = j0; j < j1; j++)
            out[j] = cxm_blend(out[j], beta, alpha, acc[j - j0]);
    }
}

/* Σ_j x_j² in 16 partial sums of a fixed order: vectorises, and stays deterministic. The one
 * summation of row_norm_sq and dp_clip, so that the two give the same bits. */
static inline float row_sq(const float *xr, int n)
{
    float part[16] = {0};
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int k = 0; k < 16; k++)
            part[k] += xr[j + k] * xr[j + k];
    float acc = 0.0f;
    for (int k = 0; k < 16; k++)
        acc += part[k];
    for (; j < n; j++)
        acc += xr[j] * xr[j];
    return acc;
}

static void cpu_row_norm_sq(cx_backend *be, int rows, int n, const float *x, int accumulate,
                            float *out)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++)
        out[r] = (accumulate ? out[r] : 0.0f) + row_sq(x + (size_t)r * n, n);
}

static void cpu_mul_acc(cx_backend *be, int rows, const float *a, const float *b, int accumulate,
                        float *out)
{
    (void)be;
    for (int r = 0; r < rows; r++)
        out[r] = (accumulate ? out[r] : 0.0f) + a[r] * b[r];
}

static void cpu_clip_factor(cx_backend *be, int rows, const float *norm_sq, float max_norm,
                            float *factor)
{
    (void)be;
    for (int r = 0; r < rows; r++)
        factor[r] = cxm_clip_factor(norm_sq[r], max_norm);
}

static void cpu_row_scale(cx_backend *be, int rows, int n, float *x, const float *s)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        float f = s[r];
        float *xr = x + (size_t)r * n;
        for (int j = 0; j < n; j++)
            xr[j] *= f;
    }
}

static void cpu_dp_clip(cx_backend *be, int rows, int layers, const int *dims,
                        const float *const *act, float *const *delta, float max_norm,
                        float *norm_sq, float *factor)
{
    size_t width = 0;
    for (int l = 0; l < layers; l++)
        width += (size_t)dims[l] + (size_t)dims[l + 1];
#pragma omp parallel for schedule(static)                                                          \
    num_threads(NT(be)) if ((size_t)rows * width >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        float nsq = 0.0f;
        for (int l = 0; l < layers; l++) {
            const int fi = dims[l], fo = dims[l + 1];
            const float a = row_sq(act[l] + (size_t)r * fi, fi);
            const float d = row_sq(delta[l] + (size_t)r * fo, fo);
            nsq = (l > 0 ? nsq : 0.0f) + a * d; /* weights, as mul_acc sums them */
            nsq = nsq + d;                      /* bias */
        }
        const float f = cxm_clip_factor(nsq, max_norm);
        norm_sq[r] = nsq;
        factor[r] = f;
        for (int l = 0; l < layers; l++) {
            float *dr = delta[l] + (size_t)r * dims[l + 1];
            for (int j = 0; j < dims[l + 1]; j++)
                dr[j] *= f;
        }
    }
}

static void cpu_scale(cx_backend *be, size_t n, float *x, float alpha)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        x[i] *= alpha;
}

static void cpu_adam_update(cx_backend *be, size_t n, float *p, const float *g, float *m, float *v,
                            float lr, float b1, float b2, float eps, float wd, int decoupled, int t)
{
    const cxm_adam h =
        cxm_adam_make(lr, b1, b2, eps, wd, decoupled, cxm_adam_bias_correction(b1, t),
                      cxm_adam_bias_correction(b2, t));
#pragma omp parallel for schedule(static) num_threads(NT(be)) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        cxm_adam_step(i, p, g, m, v, h);
}

static void cpu_sgd_update(cx_backend *be, size_t n, float *p, const float *g, float *buf, float lr,
                           float mu, float wd)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        cxm_sgd_step(i, p, g, buf, lr, mu, wd);
}

/* The same updates with lr and the bias corrections read from memory. */
static void cpu_adam_update_dev(cx_backend *be, size_t n, float *p, const float *g, float *m,
                                float *v, const float *hyper, float b1, float b2, float eps,
                                float wd, int decoupled)
{
    const cxm_adam h = cxm_adam_make(hyper[0], b1, b2, eps, wd, decoupled, hyper[1], hyper[2]);
#pragma omp parallel for schedule(static) num_threads(NT(be)) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        cxm_adam_step(i, p, g, m, v, h);
}

static void cpu_sgd_update_dev(cx_backend *be, size_t n, float *p, const float *g, float *buf,
                               const float *lr, float mu, float wd)
{
    cpu_sgd_update(be, n, p, g, buf, *lr, mu, wd);
}

static void cpu_sum_acc(cx_backend *be, size_t n, const float *x, double *acc)
{
    (void)be;
    double a = *acc;
    for (size_t i = 0; i < n; i++) /* in order: the host loop it replaces gave these bits */
        a += x[i];
    *acc = a;
}

static cx_err cpu_noise_add(cx_backend *be, size_t n, float *x, const float *noise, float scale,
                            cx_error *e)
{
    (void)be;
    (void)e;
    for (size_t i = 0; i < n; i++)
        x[i] += scale * noise[i];
    return CX_OK;
}

static void cpu_standardize(cx_backend *be, int rows, int n, float *x, const float *mean,
                            const float *inv_std)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * n;
        for (int j = 0; j < n; j++)
            xr[j] = cxm_standardize(xr[j], mean[j], inv_std[j]);
    }
}

static void cpu_gather_rows(cx_backend *be, int rows, int n, const int32_t *idx, const float *src,
                            float *dst)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * n, src + (size_t)idx[r] * n, (size_t)n * sizeof(float));
}

static void cpu_argmax(cx_backend *be, int rows, int classes, const float *x, int32_t *out)
{
    (void)be;
    for (int r = 0; r < rows; r++)
        out[r] = cxm_argmax(x + (size_t)r * classes, classes);
}

static cx_err cpu_sync(cx_backend *be, cx_error *e)
{
    (void)be;
    (void)e;
    return CX_OK;
}

static void cpu_destroy(cx_backend *be)
{
    if (!be)
        return;
    cpu_ctx *c = be->ctx;
    if (c)
        cx_secmem_free(c->gemm_ws);
    free(c);
    free(be);
}

/* The ops of every cpu backend; cx_backend_cpu_create copies them and adds its state. */
static const cx_backend cpu_ops = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .copy = cpu_copy,
    .sgemm = cpu_sgemm,
    .bias_act_forward = cpu_bias_act_forward,
    .act_backward = cpu_act_backward,
    .dense_forward = cpu_dense_forward,
    .softmax_xent = cpu_softmax_xent,
    .logistic_loss = cpu_logistic_loss,
    .mse_loss = cpu_mse_loss,
    .col_sum = cpu_col_sum,
    .row_norm_sq = cpu_row_norm_sq,
    .mul_acc = cpu_mul_acc,
    .clip_factor = cpu_clip_factor,
    .row_scale = cpu_row_scale,
    .dp_clip = cpu_dp_clip,
    .scale = cpu_scale,
    .adam_update = cpu_adam_update,
    .sgd_update = cpu_sgd_update,
    .noise_add = cpu_noise_add,
    .standardize = cpu_standardize,
    .gather_rows = cpu_gather_rows,
    .adam_update_dev = cpu_adam_update_dev,
    .sgd_update_dev = cpu_sgd_update_dev,
    .sum_acc = cpu_sum_acc,
    .argmax = cpu_argmax,
    .sync = cpu_sync,
    .destroy = cpu_destroy,
};

cx_cpu_gemm cx_cpu_gemm_select(void)
{
    /* CLOAKX_CPU_GEMM=openblas|avx512 overrides the choice (benchmarks compare both) */
    const char *force = getenv("CLOAKX_CPU_GEMM");
    int avx512 = cx_gemm_avx512_usable();
    if (force && strcmp(force, "openblas") == 0)
        return CX_CPU_GEMM_OPENBLAS;
    return avx512 ? CX_CPU_GEMM_AVX512 : CX_CPU_GEMM_OPENBLAS;
}

const char *cx_cpu_gemm_name(cx_cpu_gemm g)
{
    return g == CX_CPU_GEMM_AVX512
               ? "cloakx avx512 12x32 (B packed, A in place, bias+relu epilogue), n <= 16 12x16"
               : "openblas cblas_sgemm";
}

cx_err cx_backend_cpu_create(cx_precision precision, int threads, cx_backend **out, cx_error *e)
{
    if (precision != CX_PRECISION_FP32)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "precision '%s' is not available on the cpu backend (fp32 only; "
                            "tf32/bf16 need the cuda backend)",
                            cx_precision_name(precision));
    cx_backend *be = calloc(1, sizeof *be);
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return cx_error_set(e, CX_ERR_NOMEM, "cpu backend: allocating context");
    }
    c->threads = threads > 0 ? threads : omp_get_num_procs();
    c->gemm = cx_cpu_gemm_select();
    if (c->gemm == CX_CPU_GEMM_AVX512) {
        size_t bytes = (size_t)c->threads * CX_GEMM_WS_FLOATS * sizeof(float);
        /* the packing buffers hold copies of activations: secure memory */
        c->gemm_ws = cx_secmem_alloc(bytes, 0, e);
        if (!c->gemm_ws) {
            free(be);
            free(c);
            return e ? e->code : CX_ERR_NOMEM;
        }
    }
    /* OpenBLAS keeps its thread count process-wide: single-threaded, because the GEMMs
     * are split across our OpenMP threads (see cpu_sgemm). */
    openblas_set_num_threads(1);
    *be = cpu_ops;
    be->precision = precision;
    be->ctx = c;
    *out = be;
    return CX_OK;
}
