/* cx_kernels.h — the training engine: the compute backend interface (CPU, CUDA), models,
 * losses, optimizers, DP-SGD and its accountant, metrics, job specs and model files. */
#ifndef CX_KERNELS_H
#define CX_KERNELS_H

#include "cx_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================== backend, models, training, metrics, job spec ===================== */

/* ===================== privacy accountant, safetensors ===================== */

#ifdef __cplusplus
}
#endif
#endif /* CX_KERNELS_H */
