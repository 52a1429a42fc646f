/* kernels_math.h — the per-element math of both backends (internal to kernels/): activations
 * and their derivatives, the loss formulas, the Adam and SGD steps and the DP-SGD clip factor,
 * written once so the cpu loops and the cuda kernels cannot drift apart.
 *
 * Plain C that also compiles as CUDA: under nvcc every function is __host__ __device__, so
 * cuda_kernels.cu calls the same code the cpu backend does. Both sides round alike (GCC in ISO
 * C mode and nvcc with --fmad=false contract no a·b + c); only the libm functions (expf, tanhf,
 * logf, ...) may differ in the last bit between glibc and CUDA. No project header is included:
 * nvcc compiles the kernels as C++ without them. */
#ifndef CX_KERNELS_MATH_H
#define CX_KERNELS_MATH_H

#include <math.h>
#include <stddef.h>

#ifdef __CUDACC__
#define CXM_FN static __host__ __device__ inline
#else
#define CXM_FN static inline
#endif

/* Activation codes: the values of cx_act (cx_kernels.h; a static assertion in cpu_backend.c
 * and cuda_backend.c keeps them equal), so that the CUDA side need not see that header. */
enum {
    CXM_ACT_NONE = 0,
    CXM_ACT_RELU = 1,
    CXM_ACT_GELU = 2,
    CXM_ACT_TANH = 3,
    CXM_ACT_SIGMOID = 4
};

#define CXM_GELU_S 0.7978845608028654f /* sqrt(2/pi) */
#define CXM_GELU_C 0.044715f
/* added to the norm in the clip factor (Opacus), so a zero gradient divides safely */
#define CXM_CLIP_EPS 1e-6f

/* act(z). GELU is the tanh approximation; sigmoid never exponentiates a positive number. */
CXM_FN float cxm_act(int act, float z)
{
    switch (act) {
    case CXM_ACT_RELU:
        return z > 0.0f ? z : 0.0f;
    case CXM_ACT_GELU:
        return 0.5f * z * (1.0f + tanhf(CXM_GELU_S * (z + CXM_GELU_C * z * z * z)));
    case CXM_ACT_TANH:
        return tanhf(z);
    case CXM_ACT_SIGMOID:
        return z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
    case CXM_ACT_NONE:
    default:
        return z;
    }
}

/* act'(z) given z and y = act(z) (tanh and sigmoid are cheaper from y). */
CXM_FN float cxm_act_deriv(int act, float z, float y)
{
    switch (act) {
    case CXM_ACT_RELU:
        return z > 0.0f ? 1.0f : 0.0f;
    case CXM_ACT_GELU: {
        float u = CXM_GELU_S * (z + CXM_GELU_C * z * z * z);
        float t = tanhf(u);
        return 0.5f * (1.0f + t) +
               0.5f * z * (1.0f - t * t) * CXM_GELU_S * (1.0f + 3.0f * CXM_GELU_C * z * z);
    }
    case CXM_ACT_TANH:
        return 1.0f - y * y;
    case CXM_ACT_SIGMOID:
        return y * (1.0f - y);
    case CXM_ACT_NONE:
    default:
        return 1.0f;
    }
}

/* dz = dout · act'(z). ReLU selects instead of multiplying, so that a gradient that is not
 * finite does not leak through a dead unit (inf · 0 would be NaN). */
CXM_FN float cxm_act_backward(int act, float z, float y, float dout)
{
    if (act == CXM_ACT_RELU)
        return z > 0.0f ? dout : 0.0f;
    return dout * cxm_act_deriv(act, z, y);
}

/* A label stored as a float, as a class index in [0, classes). Labels are validated before
 * upload; an out-of-range one still reads memory safely (class 0). */
CXM_FN int cxm_class_index(float label, int classes)
{
    int y = (int)label;
    return y < 0 || y >= classes ? 0 : y;
}

/* Cross-entropy of one row from its softmax terms: log Σ exp(l − max) + max − l[y]. */
CXM_FN float cxm_xent_loss(float sum_exp, float max_logit, float logit_y)
{
    return logf(sum_exp) + max_logit - logit_y;
}

/* dLoss/dlogit of softmax + cross-entropy for a class with probability p. */
CXM_FN float cxm_xent_grad(float p, int is_label, float grad_scale)
{
    return grad_scale * (p - (is_label ? 1.0f : 0.0f));
}

/* Binary cross-entropy on logit z with label y, in the form that cannot overflow. */
CXM_FN float cxm_logistic_loss(float z, float y)
{
    return fmaxf(z, 0.0f) - z * y + log1pf(expf(-fabsf(z)));
}

/* out = beta · out + alpha · acc, where beta == 0 ignores out (it may be uninitialised:
 * NaN · 0 would poison the result), as BLAS does. */
CXM_FN float cxm_blend(float out, float beta, float alpha, float acc)
{
    return (beta == 0.0f ? 0.0f : beta * out) + alpha * acc;
}

/* The DP-SGD clipping factor of one example: min(1, C / (‖g‖ + 1e-6)), from ‖g‖². */
CXM_FN float cxm_clip_factor(float norm_sq, float max_norm)
{
    float f = max_norm / (sqrtf(norm_sq) + CXM_CLIP_EPS);
    return f < 1.0f ? f : 1.0f;
}

CXM_FN float cxm_standardize(float x, float mean, float inv_std)
{
    return (x - mean) * inv_std;
}

/* Index of the first maximum of x (n ≥ 1), scanning in order. */
CXM_FN int cxm_argmax(const float *x, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (x[j] > x[best])
            best = j;
    return best;
}

/* Adam's bias correction 1 − β^t, rounded as float: the host computes it for the plain and
 * the device-memory forms alike, so both give identical bits. */
CXM_FN float cxm_adam_bias_correction(float beta, int t)
{
    return 1.0f - powf(beta, (float)t);
}

/* The values an Adam step needs, fixed for all elements. l2: weight decay added to the
 * gradient (adam); dec: lr·wd decoupled decay (adamw); bc1, bc2: bias corrections. */
typedef struct cxm_adam {
    float lr, b1, b2, eps, l2, dec, bc1, bc2;
} cxm_adam;

CXM_FN cxm_adam cxm_adam_make(float lr, float b1, float b2, float eps, float wd, int decoupled,
                              float bc1, float bc2)
{
    cxm_adam h;
    h.lr = lr;
    h.b1 = b1;
    h.b2 = b2;
    h.eps = eps;
    h.l2 = decoupled ? 0.0f : wd;
    h.dec = decoupled ? lr * wd : 0.0f;
    h.bc1 = bc1;
    h.bc2 = bc2;
    return h;
}

/* One element of the fused Adam/AdamW update: moments m, v and parameter p at index i. */
CXM_FN void cxm_adam_step(size_t i, float *p, const float *g, float *m, float *v, cxm_adam h)
{
    float pi = p[i];
    float gi = g[i] + h.l2 * pi;
    float mi = h.b1 * m[i] + (1.0f - h.b1) * gi;
    float vi = h.b2 * v[i] + (1.0f - h.b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float mh = mi / h.bc1, vh = vi / h.bc2;
    p[i] = pi - h.dec * pi - h.lr * mh / (sqrtf(vh) + h.eps);
}

/* One element of SGD with momentum, PyTorch form: g' = g + wd·p; buf = mu·buf + g';
 * p −= lr·buf (buf is not touched, and may be NULL, when mu == 0). */
CXM_FN void cxm_sgd_step(size_t i, float *p, const float *g, float *buf, float lr, float mu,
                         float wd)
{
    float gi = g[i] + wd * p[i];
    if (mu != 0.0f) {
        buf[i] = mu * buf[i] + gi;
        gi = buf[i];
    }
    p[i] -= lr * gi;
}

#endif
