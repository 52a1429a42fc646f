/* optim.c — learning-rate schedules (constant, cosine, step; per epoch) and the optimizer
 * step over the backend's fused update kernels. */
#include "train_internal.h"

#include <math.h>

double cx_lr_at(const cx_spec *s, int epoch)
{
    switch (s->schedule) {
    case CX_SCHED_COSINE:
        return s->min_lr + 0.5 * (s->lr - s->min_lr) *
                               (1.0 + cos(M_PI * (double)epoch / (double)s->epochs));
    case CX_SCHED_STEP:
        return s->lr * pow(s->gamma, (double)(epoch / s->step_size));
    case CX_SCHED_CONSTANT:
    default:
        return s->lr;
    }
}

void cx_optim_step(cx_backend *be, const cx_spec *s, size_t n, float *params,
                   const float *grads, float *m, float *v, double lr, int t)
{
    switch (s->optimizer) {
    case CX_OPTIM_ADAM:
    case CX_OPTIM_ADAMW:
        be->adam_update(be, n, params, grads, m, v, (float)lr, (float)s->beta1,
                        (float)s->beta2, (float)s->eps, (float)s->weight_decay,
                        s->optimizer == CX_OPTIM_ADAMW, t);
        break;
    case CX_OPTIM_SGD:
        be->sgd_update(be, n, params, grads, m, (float)lr, (float)s->momentum,
                       (float)s->weight_decay);
        break;
    }
}
