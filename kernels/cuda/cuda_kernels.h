/* cuda_kernels.h — C entry points of the CUDA kernels (cuda_kernels.cu) used by the cuda
 * backend (cuda_backend.c): each enqueues on a stream and returns the launch status. */
#ifndef CX_KERNELS_CUDA_KERNELS_H
#define CX_KERNELS_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "../kernels_math.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activations are kernels_math.h's codes (CXM_ACT_*, the values of cx_act).
 * Every op below mirrors the cx_backend op of the same name (kernels/cx_kernels.h);
 * shapes are in the comments there. Pointers are device pointers. */
cudaError_t cxk_bias_act_forward(cudaStream_t s, int act, int rows, int n, float *z,
                                 const float *bias, float *out);
cudaError_t cxk_act_backward(cudaStream_t s, int act, int rows, int n, const float *z,
                             const float *out, const float *dout, float *dz);
cudaError_t cxk_softmax_xent(cudaStream_t s, int rows, int classes, const float *logits,
                             const float *labels, float grad_scale, float *probs, float *dlogits,
                             float *loss_rows);
cudaError_t cxk_logistic_loss(cudaStream_t s, int rows, const float *logits, const float *labels,
                              float grad_scale, float *probs, float *dlogits, float *loss_rows);
cudaError_t cxk_mse_loss(cudaStream_t s, int rows, int n, const float *pred, const float *target,
                         float grad_scale, float *dpred, float *loss_rows);
cudaError_t cxk_col_sum(cudaStream_t s, int rows, int n, const float *x, float alpha, float beta,
                        float *out);
cudaError_t cxk_row_norm_sq(cudaStream_t s, int rows, int n, const float *x, int accumulate,
                            float *out);
cudaError_t cxk_mul_acc(cudaStream_t s, int rows, const float *a, const float *b, int accumulate,
                        float *out);
cudaError_t cxk_clip_factor(cudaStream_t s, int rows, const float *norm_sq, float max_norm,
                            float *factor);
cudaError_t cxk_row_scale(cudaStream_t s, int rows, int n, float *x, const float *scale);
cudaError_t cxk_scale(cudaStream_t s, size_t n, float *x, float alpha);
/* x (n) += alpha · y (n) */
cudaError_t cxk_axpy(cudaStream_t s, size_t n, float *x, const float *y, float alpha);
/* h from cxm_adam_make, on the host as the CPU backend does (same bias-correction rounding). */
cudaError_t cxk_adam_update(cudaStream_t s, size_t n, float *p, const float *g, float *m, float *v,
                            cxm_adam h);
cudaError_t cxk_sgd_update(cudaStream_t s, size_t n, float *p, const float *g, float *buf, float lr,
                           float mu, float wd);
/* The same with the per-step values in device memory: hyper (3) = {lr, bc1, bc2}; lr (1). */
cudaError_t cxk_adam_update_dev(cudaStream_t s, size_t n, float *p, const float *g, float *m,
                                float *v, const float *hyper, float b1, float b2, float eps,
                                float wd, int decoupled);
cudaError_t cxk_sgd_update_dev(cudaStream_t s, size_t n, float *p, const float *g, float *buf,
                               const float *lr, float mu, float wd);
/* *acc (double) += Σ x (n) */
cudaError_t cxk_sum_acc(cudaStream_t s, size_t n, const float *x, double *acc);
cudaError_t cxk_standardize(cudaStream_t s, int rows, int n, float *x, const float *mean,
                            const float *inv_std);
cudaError_t cxk_gather_rows(cudaStream_t s, int rows, int n, const int32_t *idx, const float *src,
                            float *dst);
cudaError_t cxk_argmax(cudaStream_t s, int rows, int classes, const float *x, int32_t *out);

#ifdef __cplusplus
}
#endif
#endif
