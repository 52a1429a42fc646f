/* cuda_module.h — the table through which cx_kernels reaches the cuda backend, built as a
 * module of its own (libcloakx_cuda.so) and loaded only when a GPU is asked for. */
#ifndef CX_CUDA_MODULE_H
#define CX_CUDA_MODULE_H

#include "cx_kernels.h"

/* Linking cuBLAS into every binary cost every process about a second of cuBLASLt's static
 * constructors before main(), GPU or not (`cloakx version` took 0.9 s on a machine without
 * one). So the backend lives in a module that cx_kernels dlopen()s on the first call that
 * needs it, after checking that a CUDA driver is there at all. */
#define CX_CUDA_MODULE_FILE "libcloakx_cuda.so"
#define CX_CUDA_MODULE_SYMBOL "cx_cuda_module_api"
/* Bumped whenever this table or cx_backend changes shape: a module from another build is
 * refused instead of being called through the wrong layout. */
#define CX_CUDA_MODULE_ABI 2

typedef struct cx_cuda_api {
    int abi;
    size_t table_size;   /* sizeof(cx_cuda_api) of the module's build */
    size_t backend_size; /* sizeof(cx_backend) of the module's build */
    cx_err (*device_count)(int *count, cx_error *e);
    cx_err (*device_query)(int device, cx_cuda_device_info *out, cx_error *e);
    cx_err (*backend_create)(int device, cx_precision precision, cx_backend **out, cx_error *e);
    void *(*pinned_alloc)(void *ud, size_t len, cx_error *e);
    void (*pinned_free)(void *ud, void *p, size_t len);
    cx_err (*device_cpulist)(int device, char *out, size_t cap, cx_error *e);
    cx_err (*graph_begin)(cx_backend *be, cx_error *e);
    cx_err (*graph_end)(cx_backend *be, cx_error *e);
    cx_err (*graph_launch)(cx_backend *be, cx_error *e);
    void (*graph_reset)(cx_backend *be);
    cx_err (*stream_upload)(cx_backend *be, int slot, void *dst_dev, const void *src_pinned,
                            size_t bytes, cx_error *e);
    cx_err (*stream_acquire)(cx_backend *be, int slot, cx_error *e);
    cx_err (*stream_release)(cx_backend *be, int slot, cx_error *e);
    cx_err (*stream_host_wait)(cx_backend *be, int slot, cx_error *e);
    /* The GPU and the stream (a cudaStream_t) of a backend this module made, for the NCCL
     * module to queue its collectives in order with the backend's ops; CX_ERR_UNSUPPORTED for
     * any other backend (one named "cuda" that this module did not make included). */
    cx_err (*backend_stream)(cx_backend *be, int *device, void **stream, cx_error *e);
} cx_cuda_api;

/* The one symbol the module exports. */
typedef const cx_cuda_api *(*cx_cuda_module_fn)(void);

/* cuda_loader.c's forward to backend_stream (the module loaded on first need), for nccl.c. */
cx_err cx_cuda_backend_stream(cx_backend *be, int *device, void **stream, cx_error *e);

#endif
