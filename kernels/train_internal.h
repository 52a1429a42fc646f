/* train_internal.h — the device-side network workspace shared by training and prediction
 * (internal to kernels/): buffers planned once for a maximum batch, forward and backward. */
#ifndef CX_KERNELS_TRAIN_INTERNAL_H
#define CX_KERNELS_TRAIN_INTERNAL_H

#include "cx_kernels.h"

typedef struct cx_net {
    cx_backend *be;
    const cx_model *m; /* architecture (dims, act, loss) */
    int cap;           /* maximum rows per pass */
    int L;
    float *params, *grads;      /* device, n_params */
    float *z[CX_SPEC_MAX_HIDDEN + 1];     /* pre-activations of layer l (cap, dims[l+1]) */
    float *act[CX_SPEC_MAX_HIDDEN + 2];   /* act[0] = input (cap, dims[0]); act[l+1] = out of l */
    float *delta[CX_SPEC_MAX_HIDDEN + 1]; /* dLoss/dz of layer l (cap, dims[l+1]) */
    float *labels;   /* (cap) */
    float *probs;    /* (cap, n_out) */
    float *loss_rows; /* (cap) */
    float *norm_sq, *tmp_a, *tmp_d, *factor; /* (cap) DP-SGD */
    int32_t *idx;    /* (cap) */
} cx_net;

cx_err cx_net_create(cx_backend *be, const cx_model *m, int cap, cx_net *n, cx_error *e);
void cx_net_destroy(cx_net *n);
/* Forward on act[0] (rows ≤ cap); leaves the model output (logits/values) in act[L]. */
void cx_net_forward(cx_net *n, int rows);
/* Loss on the labels; fills probs, loss_rows and delta[L-1] scaled by grad_scale. */
void cx_net_loss(cx_net *n, int rows, float grad_scale);
/* Backward: deltas of every layer, then parameter gradients (accumulate: add to grads).
 * dp: per-example clipping to max_norm before the weight GEMMs (Opacus semantics; the
 * deltas must be per-example, i.e. grad_scale 1 in cx_net_loss). */
void cx_net_backward(cx_net *n, int rows, int accumulate, int dp, float max_norm);

/* Learning rate of epoch (0-based) per the spec's schedule. */
double cx_lr_at(const cx_spec *s, int epoch);
/* One optimizer step (t ≥ 1) with state m (and v for Adam), all device buffers of n. */
void cx_optim_step(cx_backend *be, const cx_spec *s, size_t n, float *params,
                   const float *grads, float *m, float *v, double lr, int t);

#endif
