/* nccl_comm.c — the NCCL module (libcloakx_nccl.so): one communicator per rank on the cuda
 * backend's GPU and stream, summing device float buffers across the ranks in place. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "nccl_module.h"

_Static_assert(NCCL_UNIQUE_ID_BYTES == CX_NCCL_ID_BYTES, "CX_NCCL_ID_BYTES is NCCL's id size");
_Static_assert(sizeof(ncclUniqueId) == CX_NCCL_ID_BYTES, "ncclUniqueId is its bytes");

typedef struct nccl_ctx {
    ncclComm_t comm;
    cudaStream_t stream;
    int device;
} nccl_ctx;

static cx_err nccl_fail(cx_error *e, ncclResult_t r, const char *call)
{
    return cx_error_set(e, CX_ERR_DEVICE, "nccl: %s failed: %s (%d)", call, ncclGetErrorString(r),
                        (int)r);
}

static cx_err nccl_version(int *version, cx_error *e)
{
    ncclResult_t r = ncclGetVersion(version);
    return r == ncclSuccess ? CX_OK : nccl_fail(e, r, "ncclGetVersion");
}

static cx_err nccl_unique_id(void *id, cx_error *e)
{
    ncclUniqueId u;
    ncclResult_t r = ncclGetUniqueId(&u);
    if (r != ncclSuccess)
        return nccl_fail(e, r, "ncclGetUniqueId");
    memcpy(id, u.internal, sizeof u.internal);
    return CX_OK;
}

/* A non-blocking communicator answers ncclInProgress until its operation is through: wait for
 * the outcome, up to deadline (0: none), 1 ms at a time. */
static ncclResult_t wait_comm(ncclComm_t comm, ncclResult_t r, double deadline, int *timed_out)
{
    *timed_out = 0;
    while (r == ncclInProgress || r == ncclSuccess) {
        ncclResult_t st;
        ncclResult_t q = ncclCommGetAsyncError(comm, &st);
        if (q != ncclSuccess)
            return q;
        if (st != ncclInProgress)
            return st;
        if (deadline > 0 && cx_now_seconds() > deadline) {
            *timed_out = 1;
            return ncclInProgress;
        }
        const struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        r = ncclInProgress;
    }
    return r;
}

static cx_err nccl_init(int device, void *stream, const void *id, int rank, int nranks,
                        double timeout_s, void **out, cx_error *e)
{
    *out = NULL;
    if (!stream || !id || nranks < 1 || rank < 0 || rank >= nranks)
        return cx_error_set(e, CX_ERR_ARG, "nccl: rank %d of %d, stream and id required", rank,
                            nranks);
    cudaError_t cs = cudaSetDevice(device);
    if (cs != cudaSuccess)
        return cx_error_set(e, CX_ERR_DEVICE, "nccl: cudaSetDevice(%d) failed: %s", device,
                            cudaGetErrorString(cs));
    nccl_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return cx_error_set(e, CX_ERR_NOMEM, "nccl: allocating the communicator");
    c->stream = (cudaStream_t)stream;
    c->device = device;
    ncclUniqueId u;
    memcpy(u.internal, id, sizeof u.internal);
    /* non-blocking, so that a peer that never comes is a timeout here and not a hang */
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    ncclResult_t r = ncclCommInitRankConfig(&c->comm, nranks, u, rank, &cfg);
    int timed_out = 0;
    if (c->comm)
        r = wait_comm(c->comm, r, cx_now_seconds() + timeout_s, &timed_out);
    if (r != ncclSuccess) {
        if (c->comm)
            (void)ncclCommAbort(c->comm);
        free(c);
        if (timed_out)
            return cx_error_set(e, CX_ERR_DEVICE,
                                "nccl: ncclCommInitRank (rank %d of %d, GPU %d) did not complete "
                                "within %.0f s",
                                rank, nranks, device, timeout_s);
        return nccl_fail(e, r, "ncclCommInitRankConfig");
    }
    *out = c;
    return CX_OK;
}

static cx_err nccl_allreduce_f32(void *comm, float *buf, size_t n, cx_error *e)
{
    nccl_ctx *c = comm;
    if (!c || (!buf && n))
        return cx_error_set(e, CX_ERR_ARG, "nccl: all-reduce needs a communicator and a buffer");
    if (n == 0)
        return CX_OK;
    ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, c->comm, c->stream);
    int timed_out;
    if (r == ncclInProgress) /* queued once the communicator says so; no deadline here */
        r = wait_comm(c->comm, r, 0.0, &timed_out);
    return r == ncclSuccess ? CX_OK : nccl_fail(e, r, "ncclAllReduce");
}

static void nccl_destroy(void *comm)
{
    nccl_ctx *c = comm;
    if (!c)
        return;
    /* queued collectives finish first; teardown errors have nowhere to go. Finalising waits
     * for the peers: one that died makes it time out, and the communicator is aborted. */
    (void)cudaSetDevice(c->device);
    (void)cudaStreamSynchronize(c->stream);
    int timed_out;
    ncclResult_t r = ncclCommFinalize(c->comm);
    if (r == ncclInProgress || r == ncclSuccess)
        r = wait_comm(c->comm, r, cx_now_seconds() + 30.0, &timed_out);
    if (r == ncclSuccess)
        (void)ncclCommDestroy(c->comm);
    else
        (void)ncclCommAbort(c->comm);
    free(c);
}

static const cx_nccl_api nccl_api = {
    .abi = CX_NCCL_MODULE_ABI,
    .table_size = sizeof(cx_nccl_api),
    .built_version = NCCL_VERSION_CODE,
    .version = nccl_version,
    .unique_id = nccl_unique_id,
    .init = nccl_init,
    .allreduce_f32 = nccl_allreduce_f32,
    .destroy = nccl_destroy,
};

/* The module's only exported symbol (it is built with hidden visibility). */
__attribute__((visibility("default"))) const cx_nccl_api *cx_nccl_module_api(void);

const cx_nccl_api *cx_nccl_module_api(void)
{
    return &nccl_api;
}
