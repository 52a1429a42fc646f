/* nccl_module.h — the table through which cx_kernels reaches NCCL: a module of its own
 * (libcloakx_nccl.so, linked against libnccl), loaded only when a job sums device buffers. */
#ifndef CX_NCCL_MODULE_H
#define CX_NCCL_MODULE_H

#include "cx_kernels.h"

/* Apart from the cuda module: where libnccl is missing the cuda backend must still load (one
 * GPU needs no NCCL), and a failed load of this module is the trainer's cue to sum through
 * host memory. The module knows nothing of cx_backend: it is handed the backend's device and
 * stream (cx_cuda_api.backend_stream). */
#define CX_NCCL_MODULE_FILE "libcloakx_nccl.so"
#define CX_NCCL_MODULE_SYMBOL "cx_nccl_module_api"
/* Bumped whenever this table changes shape: a module from another build is refused. */
#define CX_NCCL_MODULE_ABI 1
#define CX_NCCL_ID_BYTES 128 /* NCCL_UNIQUE_ID_BYTES, checked by the module */

typedef struct cx_nccl_api {
    int abi;
    size_t table_size; /* sizeof(cx_nccl_api) of the module's build */
    int built_version; /* NCCL_VERSION_CODE of the nccl.h it was compiled against */
    /* ncclGetVersion: the loaded library's version code (needs no GPU) */
    cx_err (*version)(int *version, cx_error *e);
    /* ncclGetUniqueId (rank 0 only): the bootstrap id every rank needs, CX_NCCL_ID_BYTES */
    cx_err (*unique_id)(void *id, cx_error *e);
    /* ncclCommInitRank on GPU `device` (made current first), collective over the nranks
     * processes holding the same id; gives up after timeout_s seconds (the communicator is then
     * aborted), so that a rank whose peer failed early does not wait forever. The collectives
     * are queued on `stream` (a cudaStream_t). */
    cx_err (*init)(int device, void *stream, const void *id, int rank, int nranks, double timeout_s,
                   void **out, cx_error *e);
    /* buf (n floats on the device) = the sum over the ranks, in place, queued on the stream */
    cx_err (*allreduce_f32)(void *comm, float *buf, size_t n, cx_error *e);
    void (*destroy)(void *comm);
} cx_nccl_api;

/* The one symbol the module exports. */
typedef const cx_nccl_api *(*cx_nccl_module_fn)(void);

#endif
