/* cuda_backend.c — the cuda cx_backend: cuBLAS for the GEMMs, the kernels of cuda_kernels.cu for
 * every other op, one stream per backend; plus device queries, pinned memory and GPU locality. */
#include "cx_kernels.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <hwloc.h>
#include <hwloc/cudart.h>

#include "cuda_kernels.h"
#include "cuda_module.h"

_Static_assert(CXM_ACT_NONE == (int)CX_ACT_NONE && CXM_ACT_RELU == (int)CX_ACT_RELU &&
                   CXM_ACT_GELU == (int)CX_ACT_GELU && CXM_ACT_TANH == (int)CX_ACT_TANH &&
                   CXM_ACT_SIGMOID == (int)CX_ACT_SIGMOID,
               "kernels_math.h activation codes must equal cx_act");

/* cuBLAS workspace set once at creation (NVIDIA's recommendation for Hopper is 32 MiB), so
 * that no GEMM allocates: the step stays free of allocations and capturable in a graph. */
#define CUDA_BLAS_WORKSPACE ((size_t)32 << 20)

typedef struct cuda_ctx {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    cublasComputeType_t compute;
    void *blas_ws;
    float *noise;     /* device staging for noise_add (DP noise is secret: wiped on destroy) */
    size_t noise_cap; /* floats */
    struct live_buf {
        void *p;
        size_t n;
    } * live; /* device buffers and their sizes, to wipe them when freed */
    size_t n_live, cap_live;
    cudaGraphExec_t graph; /* the last captured step (cx_backend_graph_*) */
    /* streaming (cx_backend_stream_*), created on first use: a copy stream, and per staging
     * slot the end of its last copy and the compute stream's release of its buffer */
    cudaStream_t copy;
    cudaEvent_t copied[2], consumed[2];
    int capturing;
    int failed; /* the first asynchronous failure, reported by sync()/download() */
    cx_error first;
} cuda_ctx;

#define CTX(be) ((cuda_ctx *)(be)->ctx)

/* Record the first failure of a void op; later ones are consequences of it. */
static void rec_cuda(cuda_ctx *c, cudaError_t st, const char *call)
{
    if (st == cudaSuccess || c->failed)
        return;
    c->failed = 1;
    cx_error_set(&c->first, CX_ERR_DEVICE, "cuda backend (GPU %d): %s failed: %s (%s)", c->device,
                 call, cudaGetErrorString(st), cudaGetErrorName(st));
}

static void rec_blas(cuda_ctx *c, cublasStatus_t st, const char *call)
{
    if (st == CUBLAS_STATUS_SUCCESS || c->failed)
        return;
    c->failed = 1;
    cx_error_set(&c->first, CX_ERR_DEVICE, "cuda backend (GPU %d): %s failed: %s (%s)", c->device,
                 call, cublasGetStatusString(st), cublasGetStatusName(st));
}

/* A recorded failure, copied into e. */
static cx_err take_failure(cuda_ctx *c, cx_error *e)
{
    if (!c->failed)
        return CX_OK;
    if (e)
        *e = c->first;
    return c->first.code;
}

/* A call whose status is returned at once (memory ops): recorded as well, since the
 * runtime's errors after a failed kernel are sticky. */
static cx_err chk(cuda_ctx *c, cudaError_t st, const char *call, cx_error *e)
{
    if (st == cudaSuccess)
        return CX_OK;
    rec_cuda(c, st, call);
    return cx_error_set(e, CX_ERR_DEVICE, "cuda backend (GPU %d): %s failed: %s (%s)", c->device,
                        call, cudaGetErrorString(st), cudaGetErrorName(st));
}

static cx_err cuda_alloc(cx_backend *be, size_t bytes, void **out, cx_error *e)
{
    cuda_ctx *c = CTX(be);
    *out = NULL;
    if (take_failure(c, e) != CX_OK)
        return c->first.code;
    size_t sz = (bytes + 255) & ~(size_t)255; /* also keeps a 0-byte request a real pointer */
    if (sz == 0)
        sz = 256;
    void *p = NULL;
    if (c->n_live == c->cap_live) {
        size_t cap = c->cap_live ? 2 * c->cap_live : 64;
        struct live_buf *nl = realloc(c->live, cap * sizeof *nl);
        if (!nl)
            return cx_error_set(e, CX_ERR_NOMEM, "cuda backend: growing the buffer table");
        c->live = nl;
        c->cap_live = cap;
    }
    cx_err rc = chk(c, cudaSetDevice(c->device), "cudaSetDevice", e);
    if (rc == CX_OK) {
        cudaError_t st = cudaMalloc(&p, sz);
        if (st == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError(); /* not sticky: the backend stays usable */
            return cx_error_set(e, CX_ERR_NOMEM,
                                "cuda backend (GPU %d): cudaMalloc of %zu bytes: out of device "
                                "memory",
                                c->device, bytes);
        }
        rc = chk(c, st, "cudaMalloc", e);
    }
    /* zeroed, as the cpu backend's memory is (optimizer state relies on it); and finished
     * before returning, since the copy stream may write the buffer next and is not ordered
     * after the compute stream (allocations happen at set-up, so the wait costs nothing) */
    if (rc == CX_OK)
        rc = chk(c, cudaMemsetAsync(p, 0, sz, c->stream), "cudaMemsetAsync", e);
    if (rc == CX_OK)
        rc = chk(c, cudaStreamSynchronize(c->stream), "cudaStreamSynchronize", e);
    if (rc != CX_OK) {
        if (p)
            (void)cudaFree(p);
        return rc;
    }
    c->live[c->n_live].p = p;
    c->live[c->n_live++].n = sz;
    *out = p;
    return CX_OK;
}

/* Device buffers hold plaintext rows: zero them before the memory goes back. */
static void cuda_free(cx_backend *be, void *p)
{
    if (!p)
        return;
    cuda_ctx *c = CTX(be);
    size_t i = 0;
    while (i < c->n_live && c->live[i].p != p)
        i++;
    if (i == c->n_live) {
        if (!c->failed) {
            c->failed = 1;
            cx_error_set(&c->first, CX_ERR_INTERNAL,
                         "cuda backend (GPU %d): free of a pointer it did not allocate", c->device);
        }
        return;
    }
    rec_cuda(c, cudaSetDevice(c->device), "cudaSetDevice");
    rec_cuda(c, cudaMemsetAsync(p, 0, c->live[i].n, c->stream), "cudaMemsetAsync (wipe)");
    rec_cuda(c, cudaStreamSynchronize(c->stream), "cudaStreamSynchronize");
    rec_cuda(c, cudaFree(p), "cudaFree");
    c->live[i] = c->live[--c->n_live];
}

/* Host→device on the backend's stream. From pageable memory the runtime stages the bytes
 * before returning; from pinned memory the copy is truly asynchronous, so wait for it, as
 * callers may reuse src at once. */
static cx_err h2d(cuda_ctx *c, void *dst, const void *src, size_t bytes, cx_error *e)
{
    struct cudaPointerAttributes at;
    cx_err rc = chk(c, cudaPointerGetAttributes(&at, src), "cudaPointerGetAttributes", e);
    if (rc == CX_OK)
        rc = chk(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream),
                 "cudaMemcpyAsync (host to device)", e);
    if (rc == CX_OK && at.type == cudaMemoryTypeHost)
        rc = chk(c, cudaStreamSynchronize(c->stream), "cudaStreamSynchronize", e);
    return rc;
}

static cx_err cuda_upload(cx_backend *be, void *dst, const void *src, size_t bytes, cx_error *e)
{
    cuda_ctx *c = CTX(be);
    if (take_failure(c, e) != CX_OK)
        return c->first.code;
    if (bytes == 0)
        return CX_OK;
    return h2d(c, dst, src, bytes, e);
}

static cx_err cuda_download(cx_backend *be, void *dst, const void *src, size_t bytes, cx_error *e)
{
    cuda_ctx *c = CTX(be);
    cx_err rc = CX_OK;
    if (bytes)
        rc = chk(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream),
                 "cudaMemcpyAsync (device to host)", e);
    if (rc == CX_OK)
        rc = chk(c, cudaStreamSynchronize(c->stream), "cudaStreamSynchronize", e);
    if (rc == CX_OK)
        rc = take_failure(c, e); /* an earlier kernel's failure invalidates the bytes */
    return rc;
}

static void cuda_copy(cx_backend *be, void *dst, const void *src, size_t bytes)
{
    cuda_ctx *c = CTX(be);
    if (bytes && dst != src)
        rec_cuda(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream),
                 "cudaMemcpyAsync (device to device)");
}

/* Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the same buffers with the
 * operands swapped, so no transposition is ever materialised. */
static void cuda_sgemm(cx_backend *be, int ta, int tb, int m, int n, int k, float alpha,
                       const float *a, int lda, const float *b, int ldb, float beta, float *cm,
                       int ldc)
{
    cuda_ctx *c = CTX(be);
    if (m <= 0 || n <= 0)
        return;
    rec_blas(c,
             cublasGemmEx(c->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                          n, m, k, &alpha, b, CUDA_R_32F, ldb, a, CUDA_R_32F, lda, &beta, cm,
                          CUDA_R_32F, ldc, c->compute, CUBLAS_GEMM_DEFAULT),
             "cublasGemmEx");
}

static void cuda_bias_act_forward(cx_backend *be, cx_act act, int rows, int n, float *z,
                                  const float *bias, float *out)
{
    rec_cuda(CTX(be), cxk_bias_act_forward(CTX(be)->stream, (int)act, rows, n, z, bias, out),
             "bias_act_forward kernel");
}

static void cuda_act_backward(cx_backend *be, cx_act act, int rows, int n, const float *z,
                              const float *out, const float *dout, float *dz)
{
    rec_cuda(CTX(be), cxk_act_backward(CTX(be)->stream, (int)act, rows, n, z, out, dout, dz),
             "act_backward kernel");
}

static void cuda_softmax_xent(cx_backend *be, int rows, int classes, const float *logits,
                              const float *labels, float grad_scale, float *probs, float *dlogits,
                              float *loss_rows)
{
    rec_cuda(CTX(be),
             cxk_softmax_xent(CTX(be)->stream, rows, classes, logits, labels, grad_scale, probs,
                              dlogits, loss_rows),
             "softmax_xent kernel");
}

static void cuda_logistic_loss(cx_backend *be, int rows, const float *logits, const float *labels,
                               float grad_scale, float *probs, float *dlogits, float *loss_rows)
{
    rec_cuda(CTX(be),
             cxk_logistic_loss(CTX(be)->stream, rows, logits, labels, grad_scale, probs, dlogits,
                               loss_rows),
             "logistic_loss kernel");
}

static void cuda_mse_loss(cx_backend *be, int rows, int n, const float *pred, const float *target,
                          float grad_scale, float *dpred, float *loss_rows)
{
    rec_cuda(CTX(be),
             cxk_mse_loss(CTX(be)->stream, rows, n, pred, target, grad_scale, dpred, loss_rows),
             "mse_loss kernel");
}

static void cuda_col_sum(cx_backend *be, int rows, int n, const float *x, float alpha, float beta,
                         float *out)
{
    rec_cuda(CTX(be), cxk_col_sum(CTX(be)->stream, rows, n, x, alpha, beta, out), "col_sum kernel");
}

static void cuda_row_norm_sq(cx_backend *be, int rows, int n, const float *x, int accumulate,
                             float *out)
{
    rec_cuda(CTX(be), cxk_row_norm_sq(CTX(be)->stream, rows, n, x, accumulate, out),
             "row_norm_sq kernel");
}

static void cuda_mul_acc(cx_backend *be, int rows, const float *a, const float *b, int accumulate,
                         float *out)
{
    rec_cuda(CTX(be), cxk_mul_acc(CTX(be)->stream, rows, a, b, accumulate, out), "mul_acc kernel");
}

static void cuda_clip_factor(cx_backend *be, int rows, const float *norm_sq, float max_norm,
                             float *factor)
{
    rec_cuda(CTX(be), cxk_clip_factor(CTX(be)->stream, rows, norm_sq, max_norm, factor),
             "clip_factor kernel");
}

static void cuda_row_scale(cx_backend *be, int rows, int n, float *x, const float *s)
{
    rec_cuda(CTX(be), cxk_row_scale(CTX(be)->stream, rows, n, x, s), "row_scale kernel");
}

static void cuda_scale(cx_backend *be, size_t n, float *x, float alpha)
{
    rec_cuda(CTX(be), cxk_scale(CTX(be)->stream, n, x, alpha), "scale kernel");
}

static void cuda_adam_update(cx_backend *be, size_t n, float *p, const float *g, float *m, float *v,
                             float lr, float b1, float b2, float eps, float wd, int decoupled,
                             int t)
{
    /* bias corrections on the host, as the cpu backend computes them (same rounding) */
    const cxm_adam h = cxm_adam_make(lr, b1, b2, eps, wd, decoupled,
                                     cxm_adam_bias_correction(b1, t),
                                     cxm_adam_bias_correction(b2, t));
    rec_cuda(CTX(be), cxk_adam_update(CTX(be)->stream, n, p, g, m, v, h), "adam_update kernel");
}

static void cuda_sgd_update(cx_backend *be, size_t n, float *p, const float *g, float *buf,
                            float lr, float mu, float wd)
{
    rec_cuda(CTX(be), cxk_sgd_update(CTX(be)->stream, n, p, g, buf, lr, mu, wd),
             "sgd_update kernel");
}

static void cuda_adam_update_dev(cx_backend *be, size_t n, float *p, const float *g, float *m,
                                 float *v, const float *hyper, float b1, float b2, float eps,
                                 float wd, int decoupled)
{
    rec_cuda(CTX(be),
             cxk_adam_update_dev(CTX(be)->stream, n, p, g, m, v, hyper, b1, b2, eps, wd,
                                 decoupled),
             "adam_update_dev kernel");
}

static void cuda_sgd_update_dev(cx_backend *be, size_t n, float *p, const float *g, float *buf,
                                const float *lr, float mu, float wd)
{
    rec_cuda(CTX(be), cxk_sgd_update_dev(CTX(be)->stream, n, p, g, buf, lr, mu, wd),
             "sgd_update_dev kernel");
}

static void cuda_sum_acc(cx_backend *be, size_t n, const float *x, double *acc)
{
    rec_cuda(CTX(be), cxk_sum_acc(CTX(be)->stream, n, x, acc), "sum_acc kernel");
}

static cx_err cuda_noise_add(cx_backend *be, size_t n, float *x, const float *noise, float scale,
                             cx_error *e)
{
    cuda_ctx *c = CTX(be);
    if (take_failure(c, e) != CX_OK)
        return c->first.code;
    if (n == 0)
        return CX_OK;
    if (n > c->noise_cap) { /* grows once (the first step), then reused */
        if (c->noise) {
            rec_cuda(c, cudaMemsetAsync(c->noise, 0, c->noise_cap * sizeof(float), c->stream),
                     "cudaMemsetAsync");
            rec_cuda(c, cudaStreamSynchronize(c->stream), "cudaStreamSynchronize");
            rec_cuda(c, cudaFree(c->noise), "cudaFree");
            c->noise = NULL;
            c->noise_cap = 0;
        }
        void *p = NULL;
        cx_err rc = chk(c, cudaMalloc(&p, n * sizeof(float)), "cudaMalloc (noise staging)", e);
        if (rc != CX_OK)
            return rc;
        c->noise = p;
        c->noise_cap = n;
    }
    cx_err rc = h2d(c, c->noise, noise, n * sizeof(float), e);
    if (rc != CX_OK)
        return rc;
    return chk(c, cxk_axpy(c->stream, n, x, c->noise, scale), "noise axpy kernel", e);
}

static void cuda_standardize(cx_backend *be, int rows, int n, float *x, const float *mean,
                             const float *inv_std)
{
    rec_cuda(CTX(be), cxk_standardize(CTX(be)->stream, rows, n, x, mean, inv_std),
             "standardize kernel");
}

static void cuda_gather_rows(cx_backend *be, int rows, int n, const int32_t *idx, const float *src,
                             float *dst)
{
    rec_cuda(CTX(be), cxk_gather_rows(CTX(be)->stream, rows, n, idx, src, dst),
             "gather_rows kernel");
}

static void cuda_argmax(cx_backend *be, int rows, int classes, const float *x, int32_t *out)
{
    rec_cuda(CTX(be), cxk_argmax(CTX(be)->stream, rows, classes, x, out), "argmax kernel");
}

static cx_err cuda_sync(cx_backend *be, cx_error *e)
{
    cuda_ctx *c = CTX(be);
    cx_err rc = chk(c, cudaStreamSynchronize(c->stream), "cudaStreamSynchronize", e);
    return rc != CX_OK ? rc : take_failure(c, e);
}

static void cuda_destroy(cx_backend *be)
{
    if (!be)
        return;
    cuda_ctx *c = CTX(be);
    if (c) {
        /* teardown errors have nowhere to go: the backend is being released */
        (void)cudaSetDevice(c->device);
        if (c->capturing) { /* first, so that the wipes below run rather than being recorded */
            cudaGraph_t g = NULL;
            if (cudaStreamEndCapture(c->stream, &g) == cudaSuccess && g)
                (void)cudaGraphDestroy(g);
        }
        if (c->noise)
            (void)cudaMemsetAsync(c->noise, 0, c->noise_cap * sizeof(float), c->stream);
        for (size_t i = 0; i < c->n_live; i++) /* buffers the caller did not free */
            (void)cudaMemsetAsync(c->live[i].p, 0, c->live[i].n, c->stream);
        if (c->stream)
            (void)cudaStreamSynchronize(c->stream);
        if (c->copy)
            (void)cudaStreamSynchronize(c->copy);
        if (c->graph)
            (void)cudaGraphExecDestroy(c->graph);
        for (int i = 0; i < 2; i++) {
            if (c->copied[i])
                (void)cudaEventDestroy(c->copied[i]);
            if (c->consumed[i])
                (void)cudaEventDestroy(c->consumed[i]);
        }
        if (c->copy)
            (void)cudaStreamDestroy(c->copy);
        if (c->blas)
            (void)cublasDestroy(c->blas);
        (void)cudaFree(c->noise);
        (void)cudaFree(c->blas_ws);
        for (size_t i = 0; i < c->n_live; i++)
            (void)cudaFree(c->live[i].p);
        free(c->live);
        if (c->stream)
            (void)cudaStreamDestroy(c->stream);
        free(c);
    }
    free(be);
}

/* The cuda backend's context, or NULL when be is another backend. */
static cuda_ctx *as_cuda(cx_backend *be)
{
    return be && be->destroy == cuda_destroy ? CTX(be) : NULL;
}

static cx_err cuda_graph_begin(cx_backend *be, cx_error *e)
{
    cuda_ctx *c = as_cuda(be);
    if (!c)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "CUDA graphs need the cuda backend (not %s)",
                            be ? be->name : "none");
    if (c->capturing)
        return cx_error_set(e, CX_ERR_STATE, "cuda backend: a graph capture is already open");
    if (take_failure(c, e) != CX_OK)
        return c->first.code;
    /* thread-local: other threads' CUDA calls are not disturbed by this capture */
    cx_err rc = chk(c, cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal),
                    "cudaStreamBeginCapture", e);
    if (rc == CX_OK)
        c->capturing = 1;
    return rc;
}

static cx_err cuda_graph_end(cx_backend *be, cx_error *e)
{
    cuda_ctx *c = as_cuda(be);
    if (!c)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "CUDA graphs need the cuda backend (not %s)",
                            be ? be->name : "none");
    if (!c->capturing)
        return cx_error_set(e, CX_ERR_STATE, "cuda backend: no graph capture is open");
    cudaGraph_t g = NULL;
    cudaError_t st = cudaStreamEndCapture(c->stream, &g);
    c->capturing = 0;
    cx_err rc = CX_OK;
    if (c->failed) {
        /* an op inside the capture failed (begin refuses a failed backend): nothing ran on
         * the device, so the backend is sound; report the op and forget it */
        rc = take_failure(c, e);
        cx_error_prefix(e, "graph capture voided: ");
        c->failed = 0;
        (void)cudaGetLastError();
    } else if (st != cudaSuccess) {
        (void)cudaGetLastError();
        rc = cx_error_set(e, CX_ERR_DEVICE,
                          "cuda backend (GPU %d): cudaStreamEndCapture failed: %s (%s): an op "
                          "in the capture synchronised with the host or allocated",
                          c->device, cudaGetErrorString(st), cudaGetErrorName(st));
    }
    if (rc == CX_OK) {
        if (c->graph) {
            rec_cuda(c, cudaGraphExecDestroy(c->graph), "cudaGraphExecDestroy");
            c->graph = NULL;
        }
        rc = chk(c, cudaGraphInstantiate(&c->graph, g, 0), "cudaGraphInstantiate", e);
        if (rc != CX_OK)
            c->graph = NULL;
    }
    if (g)
        (void)cudaGraphDestroy(g); /* the instantiated graph keeps what it needs */
    return rc;
}

static cx_err cuda_graph_launch(cx_backend *be, cx_error *e)
{
    cuda_ctx *c = as_cuda(be);
    if (!c)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "CUDA graphs need the cuda backend (not %s)",
                            be ? be->name : "none");
    if (!c->graph || c->capturing)
        return cx_error_set(e, CX_ERR_STATE, "cuda backend: no captured graph to launch");
    if (take_failure(c, e) != CX_OK)
        return c->first.code;
    return chk(c, cudaGraphLaunch(c->graph, c->stream), "cudaGraphLaunch", e);
}

static void cuda_graph_reset(cx_backend *be)
{
    cuda_ctx *c = as_cuda(be);
    if (c && c->graph) {
        rec_cuda(c, cudaGraphExecDestroy(c->graph), "cudaGraphExecDestroy");
        c->graph = NULL;
    }
}

/* The streaming calls' common checks: a cuda backend, a valid slot, no capture open. */
static cx_err stream_ctx(cx_backend *be, int slot, cuda_ctx **out, cx_error *e)
{
    cuda_ctx *c = as_cuda(be);
    *out = NULL;
    if (!c)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "streamed uploads need the cuda backend (not %s)",
                            be ? be->name : "none");
    if (slot < 0 || slot > 1)
        return cx_error_set(e, CX_ERR_ARG, "cuda backend: staging slot %d is not 0 or 1", slot);
    if (c->capturing)
        return cx_error_set(e, CX_ERR_STATE, "cuda backend: streaming inside a graph capture");
    if (take_failure(c, e) != CX_OK)
        return c->first.code;
    cx_err rc = chk(c, cudaSetDevice(c->device), "cudaSetDevice", e);
    for (int i = 0; rc == CX_OK && !c->copy && i < 2; i++) {
        if (!c->copied[i])
            rc = chk(c, cudaEventCreateWithFlags(&c->copied[i], cudaEventDisableTiming),
                     "cudaEventCreateWithFlags", e);
        if (rc == CX_OK && !c->consumed[i])
            rc = chk(c, cudaEventCreateWithFlags(&c->consumed[i], cudaEventDisableTiming),
                     "cudaEventCreateWithFlags", e);
    }
    if (rc == CX_OK && !c->copy) /* alloc's zeroing is complete when it returns */
        rc = chk(c, cudaStreamCreateWithFlags(&c->copy, cudaStreamNonBlocking),
                 "cudaStreamCreateWithFlags (copy stream)", e);
    if (rc == CX_OK)
        *out = c;
    return rc;
}

static cx_err cuda_stream_upload(cx_backend *be, int slot, void *dst_dev, const void *src_pinned,
                                size_t bytes, cx_error *e)
{
    cuda_ctx *c;
    cx_err rc = stream_ctx(be, slot, &c, e);
    if (rc != CX_OK || bytes == 0)
        return rc;
    /* the compute stream must be done with the slot's previous contents */
    rc = chk(c, cudaStreamWaitEvent(c->copy, c->consumed[slot], 0), "cudaStreamWaitEvent", e);
    if (rc == CX_OK)
        rc = chk(c, cudaMemcpyAsync(dst_dev, src_pinned, bytes, cudaMemcpyHostToDevice, c->copy),
                 "cudaMemcpyAsync (copy stream)", e);
    if (rc == CX_OK)
        rc = chk(c, cudaEventRecord(c->copied[slot], c->copy), "cudaEventRecord", e);
    return rc;
}

static cx_err cuda_stream_acquire(cx_backend *be, int slot, cx_error *e)
{
    cuda_ctx *c;
    cx_err rc = stream_ctx(be, slot, &c, e);
    if (rc == CX_OK)
        rc = chk(c, cudaStreamWaitEvent(c->stream, c->copied[slot], 0), "cudaStreamWaitEvent", e);
    return rc;
}

static cx_err cuda_stream_release(cx_backend *be, int slot, cx_error *e)
{
    cuda_ctx *c;
    cx_err rc = stream_ctx(be, slot, &c, e);
    if (rc == CX_OK)
        rc = chk(c, cudaEventRecord(c->consumed[slot], c->stream), "cudaEventRecord", e);
    return rc;
}

static cx_err cuda_stream_host_wait(cx_backend *be, int slot, cx_error *e)
{
    cuda_ctx *c;
    cx_err rc = stream_ctx(be, slot, &c, e);
    if (rc == CX_OK)
        rc = chk(c, cudaEventSynchronize(c->copied[slot]), "cudaEventSynchronize", e);
    return rc;
}

static cx_err cuda_backend_stream(cx_backend *be, int *device, void **stream, cx_error *e)
{
    cuda_ctx *c = as_cuda(be);
    if (!c)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "%s is not a backend of the cuda module (no device stream)",
                            be && be->name ? be->name : "none");
    *device = c->device;
    *stream = (void *)c->stream;
    return CX_OK;
}

static cx_err cuda_device_count(int *count, cx_error *e)
{
    int n = 0;
    *count = 0;
    cudaError_t st = cudaGetDeviceCount(&n);
    if (st != cudaSuccess) {
        (void)cudaGetLastError(); /* "no driver" / "no device" is not sticky: clear it */
        return cx_error_set(e, CX_ERR_DEVICE, "no CUDA device: %s (%s)", cudaGetErrorString(st),
                            cudaGetErrorName(st));
    }
    if (n <= 0)
        return cx_error_set(e, CX_ERR_DEVICE, "no CUDA device: the CUDA runtime sees none");
    *count = n;
    return CX_OK;
}

static cx_err cuda_device_query(int device, cx_cuda_device_info *out, cx_error *e)
{
    int n;
    memset(out, 0, sizeof *out);
    if (cuda_device_count(&n, e) != CX_OK)
        return e ? e->code : CX_ERR_DEVICE;
    if (device < 0 || device >= n)
        return cx_error_set(e, CX_ERR_DEVICE, "no CUDA device %d (this machine has %d)", device, n);
    struct cudaDeviceProp p;
    cudaError_t st = cudaGetDeviceProperties(&p, device);
    if (st == cudaSuccess)
        st = cudaDeviceGetPCIBusId(out->pci_bus_id, (int)sizeof out->pci_bus_id, device);
    if (st == cudaSuccess)
        st = cudaSetDevice(device);
    if (st == cudaSuccess)
        st = cudaMemGetInfo(&out->free_mem, &out->total_mem);
    if (st != cudaSuccess)
        return cx_error_set(e, CX_ERR_DEVICE, "CUDA device %d: querying properties: %s (%s)",
                            device, cudaGetErrorString(st), cudaGetErrorName(st));
    out->index = device;
    snprintf(out->name, sizeof out->name, "%s", p.name);
    out->cc_major = p.major;
    out->cc_minor = p.minor;
    out->sm_count = p.multiProcessorCount;
    return CX_OK;
}

/* The ops of every cuda backend; cx_backend_cuda_create copies them and adds its state. */
static const cx_backend cuda_ops = {
    .name = "cuda",
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .sgemm = cuda_sgemm,
    .bias_act_forward = cuda_bias_act_forward,
    .act_backward = cuda_act_backward,
    .softmax_xent = cuda_softmax_xent,
    .logistic_loss = cuda_logistic_loss,
    .mse_loss = cuda_mse_loss,
    .col_sum = cuda_col_sum,
    .row_norm_sq = cuda_row_norm_sq,
    .mul_acc = cuda_mul_acc,
    .clip_factor = cuda_clip_factor,
    .row_scale = cuda_row_scale,
    .scale = cuda_scale,
    .adam_update = cuda_adam_update,
    .sgd_update = cuda_sgd_update,
    .noise_add = cuda_noise_add,
    .standardize = cuda_standardize,
    .gather_rows = cuda_gather_rows,
    .adam_update_dev = cuda_adam_update_dev,
    .sgd_update_dev = cuda_sgd_update_dev,
    .sum_acc = cuda_sum_acc,
    .argmax = cuda_argmax,
    .sync = cuda_sync,
    .destroy = cuda_destroy,
};

static cx_err cuda_backend_create(int device, cx_precision precision, cx_backend **out, cx_error *e)
{
    cx_cuda_device_info info;
    *out = NULL;
    if (precision != CX_PRECISION_FP32 && precision != CX_PRECISION_TF32 &&
        precision != CX_PRECISION_BF16)
        return cx_error_set(e, CX_ERR_ARG, "cuda backend: unknown precision %d", (int)precision);
    if (cuda_device_query(device, &info, e) != CX_OK)
        return e ? e->code : CX_ERR_DEVICE;
    if (precision != CX_PRECISION_FP32 && info.cc_major < 8)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "cuda backend: %s GEMMs need compute capability 8.0 or newer; GPU "
                            "%d (%s) is %d.%d",
                            precision == CX_PRECISION_TF32 ? "tf32" : "bf16", device, info.name, info.cc_major,
                            info.cc_minor);
    cx_backend *be = calloc(1, sizeof *be);
    cuda_ctx *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return cx_error_set(e, CX_ERR_NOMEM, "cuda backend: allocating its context");
    }
    *be = cuda_ops; /* destroy included: the failure paths below free through it */
    be->precision = precision;
    be->ctx = c;
    c->device = device;
    c->compute = precision == CX_PRECISION_TF32   ? CUBLAS_COMPUTE_32F_FAST_TF32
                 : precision == CX_PRECISION_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF
                                                  : CUBLAS_COMPUTE_32F;
    cx_err rc = chk(c, cudaSetDevice(device), "cudaSetDevice", e);
    if (rc == CX_OK)
        rc = chk(c, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking),
                 "cudaStreamCreateWithFlags", e);
    if (rc == CX_OK)
        rc = chk(c, cudaMalloc(&c->blas_ws, CUDA_BLAS_WORKSPACE), "cudaMalloc (cuBLAS workspace)",
                 e);
    cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
    const char *call = NULL;
    if (rc == CX_OK) {
        if ((bs = cublasCreate(&c->blas)) != CUBLAS_STATUS_SUCCESS)
            call = "cublasCreate";
        else if ((bs = cublasSetStream(c->blas, c->stream)) != CUBLAS_STATUS_SUCCESS)
            call = "cublasSetStream";
        else if ((bs = cublasSetWorkspace(c->blas, c->blas_ws, CUDA_BLAS_WORKSPACE)) !=
                 CUBLAS_STATUS_SUCCESS)
            call = "cublasSetWorkspace";
        /* fp32 must not silently become TF32: the compute type says it, the math mode
         * must not override it */
        else if ((bs = cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS)
            call = "cublasSetMathMode";
        if (call)
            rc = cx_error_set(e, CX_ERR_DEVICE, "cuda backend (GPU %d): %s failed: %s (%s)", device,
                              call, cublasGetStatusString(bs), cublasGetStatusName(bs));
    }
    if (rc != CX_OK) {
        if (c->blas) {
            (void)cublasDestroy(c->blas);
            c->blas = NULL;
        }
        cuda_destroy(be);
        return rc;
    }
    *out = be;
    return CX_OK;
}

void *cuda_pinned_alloc(void *ud, size_t len, cx_error *e)
{
    (void)ud;
    void *p = NULL;
    cudaError_t st = cudaHostAlloc(&p, len ? len : 1, cudaHostAllocDefault);
    if (st != cudaSuccess) {
        (void)cudaGetLastError();
        cx_error_set(e, st == cudaErrorMemoryAllocation ? CX_ERR_NOMEM : CX_ERR_DEVICE,
                     "cudaHostAlloc of %zu pinned bytes failed: %s (%s)", len,
                     cudaGetErrorString(st), cudaGetErrorName(st));
        return NULL;
    }
    /* plaintext lands here: keep it out of core dumps (pinned pages never swap); on the
     * whole pages inside the block, in case the runtime's block is not page-aligned */
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p, lo = pg > 0 ? (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1) : a;
    uintptr_t hi = pg > 0 ? (a + len) & ~((uintptr_t)pg - 1) : a;
    if (lo < hi && madvise((void *)lo, hi - lo, MADV_DONTDUMP) != 0) {
        cx_error_errno(e, CX_ERR_IO, errno, "madvise(MADV_DONTDUMP) on pinned memory");
        (void)cudaFreeHost(p);
        return NULL;
    }
    return p;
}

static void cuda_pinned_free(void *ud, void *p, size_t len)
{
    (void)ud;
    if (!p)
        return;
    cx_memwipe(p, len);
    (void)cudaFreeHost(p); /* nothing to report to: the memory is gone either way */
}

static cx_err cuda_device_cpulist(int device, char *out, size_t cap, cx_error *e)
{
    int n;
    if (cap == 0)
        return cx_error_set(e, CX_ERR_ARG, "cx_cuda_device_cpulist: empty output buffer");
    out[0] = '\0';
    if (cuda_device_count(&n, e) != CX_OK)
        return e ? e->code : CX_ERR_DEVICE;
    if (device < 0 || device >= n)
        return cx_error_set(e, CX_ERR_DEVICE, "no CUDA device %d (this machine has %d)", device, n);
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return cx_error_errno(e, CX_ERR_NOMEM, errno, "hwloc_topology_init");
    cx_err rc = CX_OK;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "hwloc_bitmap_alloc");
    } else if (hwloc_topology_load(topo) != 0) {
        rc = cx_error_errno(e, CX_ERR_DEVICE, errno, "hwloc_topology_load");
    } else if (hwloc_cudart_get_device_cpuset(topo, device, set) != 0) {
        rc = cx_error_errno(e, CX_ERR_DEVICE, errno, "hwloc_cudart_get_device_cpuset (GPU %d)",
                            device);
    } else {
        int len = hwloc_bitmap_list_snprintf(out, cap, set);
        if (len < 0 || (size_t)len >= cap)
            rc = cx_error_set(e, CX_ERR_LIMIT, "CPU list of GPU %d does not fit %zu bytes", device,
                              cap);
        else if (hwloc_bitmap_iszero(set))
            rc = cx_error_set(e, CX_ERR_DEVICE, "hwloc reports no CPU near GPU %d", device);
    }
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(topo);
    if (rc != CX_OK)
        out[0] = '\0';
    return rc;
}

static const cx_cuda_api cuda_api = {
    .abi = CX_CUDA_MODULE_ABI,
    .table_size = sizeof(cx_cuda_api),
    .backend_size = sizeof(cx_backend),
    .device_count = cuda_device_count,
    .device_query = cuda_device_query,
    .backend_create = cuda_backend_create,
    .pinned_alloc = cuda_pinned_alloc,
    .pinned_free = cuda_pinned_free,
    .device_cpulist = cuda_device_cpulist,
    .graph_begin = cuda_graph_begin,
    .graph_end = cuda_graph_end,
    .graph_launch = cuda_graph_launch,
    .graph_reset = cuda_graph_reset,
    .stream_upload = cuda_stream_upload,
    .stream_acquire = cuda_stream_acquire,
    .stream_release = cuda_stream_release,
    .stream_host_wait = cuda_stream_host_wait,
    .backend_stream = cuda_backend_stream,
};

/* The module's only exported symbol (it is built with hidden visibility). */
__attribute__((visibility("default"))) const cx_cuda_api *cx_cuda_module_api(void);

const cx_cuda_api *cx_cuda_module_api(void)
{
    return &cuda_api;
}
