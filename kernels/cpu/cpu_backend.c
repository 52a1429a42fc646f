/* cpu_backend.c — the reference CPU backend (llm.c style): OpenBLAS cblas_sgemm for the
 * GEMMs and plain OpenMP loops, one pass per fused op, fixed reduction orders (deterministic). */
#include "cx_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

typedef struct cpu_ctx {
    int threads;
} cpu_ctx;

#define NT(be) (((cpu_ctx *)(be)->ctx)->threads)
/* Element-wise work below this many elements runs on the calling thread: a parallel
 * region's fork and barrier cost more than the work, badly so on a shared machine. */
#define CPU_PAR_MIN ((size_t)1 << 15)

static cx_err cpu_alloc(cx_backend *be, size_t bytes, void **out, cx_error *e)
{
    (void)be;
    /* 64-byte alignment for full-width vector loads; size rounded up as aligned_alloc wants */
    size_t sz = (bytes + 63) & ~(size_t)63;
    if (sz == 0)
        sz = 64;
    void *p = aligned_alloc(64, sz);
    if (!p)
        return cx_error_set(e, CX_ERR_NOMEM, "cpu backend: allocating %zu bytes", bytes);
    memset(p, 0, sz);
    *out = p;
    return CX_OK;
}

static void cpu_free(cx_backend *be, void *p)
{
    (void)be;
    free(p);
}

static cx_err cpu_upload(cx_backend *be, void *dst, const void *src, size_t bytes, cx_error *e)
{
    (void)be;
    (void)e;
    if (bytes)
        memcpy(dst, src, bytes);
    return CX_OK;
}

static cx_err cpu_download(cx_backend *be, void *dst, const void *src, size_t bytes,
                           cx_error *e)
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

static void cpu_sgemm(cx_backend *be, int ta, int tb, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    const CBLAS_TRANSPOSE ota = ta ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE otb = tb ? CblasTrans : CblasNoTrans;
    int nt = NT(be);
    /* One thread pool only: OpenBLAS runs single-threaded inside our OpenMP threads, each
     * owning a block of C's rows. Two pools (OpenBLAS' pthreads spinning against OpenMP's)
     * thrash a small machine; and the split keeps every element's summation order fixed. */
    if (nt > 1 && (double)m * n * k < 2.0e5)
        nt = 1;
    if (nt > m)
        nt = m;
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

#define GELU_S 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

static inline float act_f(cx_act act, float z)
{
    switch (act) {
    case CX_ACT_RELU:
        return z > 0.0f ? z : 0.0f;
    case CX_ACT_GELU:
        return 0.5f * z * (1.0f + tanhf(GELU_S * (z + GELU_C * z * z * z)));
    case CX_ACT_TANH:
        return tanhf(z);
    case CX_ACT_SIGMOID:
        return z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
    case CX_ACT_NONE:
    default:
        return z;
    }
}

static inline float act_df(cx_act act, float z, float y)
{
    switch (act) {
    case CX_ACT_RELU:
        return z > 0.0f ? 1.0f : 0.0f;
    case CX_ACT_GELU: {
        float u = GELU_S * (z + GELU_C * z * z * z);
        float t = tanhf(u);
        return 0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * GELU_S *
                                        (1.0f + 3.0f * GELU_C * z * z);
    }
    case CX_ACT_TANH:
        return 1.0f - y * y;
    case CX_ACT_SIGMOID:
        return y * (1.0f - y);
    case CX_ACT_NONE:
    default:
        return 1.0f;
    }
}

/* "no loop-carried dependences" for GCC's vectoriser; clang vectorises these loops with
 * run-time alias checks and warns when a sanitizer build cannot honour a loop hint */
#if defined(__clang__)
#define CX_IVDEP
#else
#define CX_IVDEP _Pragma("GCC ivdep")
#endif

/* Per-row kernels, one per activation, so each inner loop vectorises (no switch per
 * element; ivdep: z/out and dout/dz may be the same buffer, element for element). */
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
            o[j] = z[j] > 0.0f ? z[j] : 0.0f;
        break;
    case CX_ACT_GELU:
        for (int j = 0; j < n; j++)
            o[j] = act_f(CX_ACT_GELU, z[j]);
        break;
    case CX_ACT_TANH:
        for (int j = 0; j < n; j++)
            o[j] = tanhf(z[j]);
        break;
    case CX_ACT_SIGMOID:
        for (int j = 0; j < n; j++)
            o[j] = act_f(CX_ACT_SIGMOID, z[j]);
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
        for (int j = 0; j < n; j++) {
            const float dj = d[j], zj = z[j]; /* both loaded: no control flow to vectorise */
            g[j] = zj > 0.0f ? dj : 0.0f;
        }
        break;
    case CX_ACT_GELU:
        for (int j = 0; j < n; j++)
            g[j] = d[j] * act_df(CX_ACT_GELU, z[j], y[j]);
        break;
    case CX_ACT_TANH:
        CX_IVDEP
        for (int j = 0; j < n; j++)
            g[j] = d[j] * (1.0f - y[j] * y[j]);
        break;
    case CX_ACT_SIGMOID:
        CX_IVDEP
        for (int j = 0; j < n; j++)
            g[j] = d[j] * (y[j] * (1.0f - y[j]));
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

static void cpu_softmax_xent(cx_backend *be, int rows, int classes, const float *logits,
                             const float *labels, float grad_scale, float *probs,
                             float *dlogits, float *loss_rows)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * classes >= CPU_PAR_MIN)
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
        int y = (int)labels[r];
        if (y < 0 || y >= classes)
            y = 0; /* labels are validated before upload; keep memory safe regardless */
        for (int j = 0; j < classes; j++)
            p[j] *= inv;
        if (loss_rows)
            loss_rows[r] = logf(sum) + mx - l[y];
        if (dlogits) {
            float *d = dlogits + (size_t)r * classes;
            for (int j = 0; j < classes; j++)
                d[j] = grad_scale * (p[j] - (j == y ? 1.0f : 0.0f));
        }
    }
}

static void cpu_logistic_loss(cx_backend *be, int rows, const float *logits,
                              const float *labels, float grad_scale, float *probs,
                              float *dlogits, float *loss_rows)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        float z = logits[r], y = labels[r];
        float p = act_f(CX_ACT_SIGMOID, z);
        if (probs)
            probs[r] = p;
        if (loss_rows)
            loss_rows[r] = fmaxf(z, 0.0f) - z * y + log1pf(expf(-fabsf(z)));
        if (dlogits)
            dlogits[r] = grad_scale * (p - y);
    }
}

static void cpu_mse_loss(cx_backend *be, int rows, int n, const float *pred,
                         const float *target, float grad_scale, float *dpred, float *loss_rows)
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

static void cpu_col_sum(cx_backend *be, int rows, int n, const float *x, float alpha,
                        float beta, float *out)
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
            out[j] = (beta == 0.0f ? 0.0f : beta * out[j]) + alpha * acc[j - j0];
    }
}

static void cpu_row_norm_sq(cx_backend *be, int rows, int n, const float *x, int accumulate,
                            float *out)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        /* 16 partial sums in a fixed order: vectorises, and stays deterministic */
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
        out[r] = (accumulate ? out[r] : 0.0f) + acc;
    }
}

static void cpu_mul_acc(cx_backend *be, int rows, const float *a, const float *b,
                        int accumulate, float *out)
{
    (void)be;
    for (int r = 0; r < rows; r++)
        out[r] = (accumulate ? out[r] : 0.0f) + a[r] * b[r];
}

static void cpu_clip_factor(cx_backend *be, int rows, const float *norm_sq, float max_norm,
                            float *factor)
{
    (void)be;
    for (int r = 0; r < rows; r++) {
        float f = max_norm / (sqrtf(norm_sq[r]) + 1e-6f);
        factor[r] = f < 1.0f ? f : 1.0f;
    }
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

static void cpu_scale(cx_backend *be, size_t n, float *x, float alpha)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        x[i] *= alpha;
}

static void cpu_adam_update(cx_backend *be, size_t n, float *p, const float *g, float *m,
                            float *v, float lr, float b1, float b2, float eps, float wd,
                            int decoupled, int t)
{
    float bc1 = 1.0f - powf(b1, (float)t), bc2 = 1.0f - powf(b2, (float)t);
    float l2 = decoupled ? 0.0f : wd, dec = decoupled ? lr * wd : 0.0f;
#pragma omp parallel for schedule(static) num_threads(NT(be)) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * p[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mh = mi / bc1, vh = vi / bc2;
        p[i] = p[i] - dec * p[i] - lr * mh / (sqrtf(vh) + eps);
    }
}

static void cpu_sgd_update(cx_backend *be, size_t n, float *p, const float *g, float *buf,
                           float lr, float mu, float wd)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        if (mu != 0.0f) {
            buf[i] = mu * buf[i] + gi;
            gi = buf[i];
        }
        p[i] -= lr * gi;
    }
}

/* Same arithmetic as cpu_adam_update with lr and the bias corrections read from memory. */
static void cpu_adam_update_dev(cx_backend *be, size_t n, float *p, const float *g, float *m,
                                float *v, const float *hyper, float b1, float b2, float eps,
                                float wd, int decoupled)
{
    const float lr = hyper[0], bc1 = hyper[1], bc2 = hyper[2];
    float l2 = decoupled ? 0.0f : wd, dec = decoupled ? lr * wd : 0.0f;
#pragma omp parallel for schedule(static) num_threads(NT(be)) if (n >= CPU_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2 * p[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mh = mi / bc1, vh = vi / bc2;
        p[i] = p[i] - dec * p[i] - lr * mh / (sqrtf(vh) + eps);
    }
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

static cx_err cpu_noise_add(cx_backend *be, size_t n, float *x, const float *noise,
                            float scale, cx_error *e)
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
            xr[j] = (xr[j] - mean[j]) * inv_std[j];
    }
}

static void cpu_gather_rows(cx_backend *be, int rows, int n, const int32_t *idx,
                            const float *src, float *dst)
{
#pragma omp parallel for schedule(static) num_threads(NT(be)) if ((size_t)rows * n >= CPU_PAR_MIN)
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * n, src + (size_t)idx[r] * n, (size_t)n * sizeof(float));
}

static void cpu_argmax(cx_backend *be, int rows, int classes, const float *x, int32_t *out)
{
    (void)be;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * classes;
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (xr[j] > xr[best])
                best = j;
        out[r] = best;
    }
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
    free(be->ctx);
    free(be);
}

cx_err cx_backend_cpu_create(cx_precision precision, int threads, cx_backend **out,
                             cx_error *e)
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
    /* OpenBLAS keeps its thread count process-wide: single-threaded, because the GEMMs
     * are split across our OpenMP threads (see cpu_sgemm). */
    openblas_set_num_threads(1);
    be->name = "cpu";
    be->precision = precision;
    be->ctx = c;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->upload = cpu_upload;
    be->download = cpu_download;
    be->copy = cpu_copy;
    be->sgemm = cpu_sgemm;
    be->bias_act_forward = cpu_bias_act_forward;
    be->act_backward = cpu_act_backward;
    be->softmax_xent = cpu_softmax_xent;
    be->logistic_loss = cpu_logistic_loss;
    be->mse_loss = cpu_mse_loss;
    be->col_sum = cpu_col_sum;
    be->row_norm_sq = cpu_row_norm_sq;
    be->mul_acc = cpu_mul_acc;
    be->clip_factor = cpu_clip_factor;
    be->row_scale = cpu_row_scale;
    be->scale = cpu_scale;
    be->adam_update = cpu_adam_update;
    be->sgd_update = cpu_sgd_update;
    be->noise_add = cpu_noise_add;
    be->standardize = cpu_standardize;
    be->gather_rows = cpu_gather_rows;
    be->adam_update_dev = cpu_adam_update_dev;
    be->sgd_update_dev = cpu_sgd_update_dev;
    be->sum_acc = cpu_sum_acc;
    be->argmax = cpu_argmax;
    be->sync = cpu_sync;
    be->destroy = cpu_destroy;
    *out = be;
    return CX_OK;
}
