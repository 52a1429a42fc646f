/* backend.c — choosing a compute backend by name and the names of the shared enums;
 * the backends themselves live in cpu/ and cuda/. */
#include "cx_kernels.h"

#include <string.h>

cx_err cx_backend_create(const char *name, cx_precision precision, int threads,
                         cx_backend **out, cx_error *e)
{
    if (!name || strcmp(name, "cpu") == 0)
        return cx_backend_cpu_create(precision, threads, out, e);
    if (strcmp(name, "cuda") == 0) /* GPU 0; cx_backend_select takes "cuda:N" */
        return cx_backend_cuda_create(0, precision, out, e);
    return cx_error_set(e, CX_ERR_ARG, "unknown backend '%s' (cpu, cuda)", name);
}

void cx_backend_destroy(cx_backend *be)
{
    if (be && be->destroy)
        be->destroy(be);
}

const char *cx_precision_name(cx_precision p)
{
    switch (p) {
    case CX_PRECISION_FP32:
        return "fp32";
    case CX_PRECISION_TF32:
        return "tf32";
    case CX_PRECISION_BF16:
        return "bf16";
    }
    return "?";
}

const char *cx_act_name(cx_act a)
{
    static const char *const names[] = {"none", "relu", "gelu", "tanh", "sigmoid"};
    return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "?";
}
