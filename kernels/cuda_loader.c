/* cuda_loader.c — the public cuda functions of cx_kernels.h in a CUDA build: each loads the
 * cuda backend module (libcloakx_cuda.so) on first need and forwards to its table. */
#include "cx_kernels.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda/cuda_module.h"

#ifndef CLOAKX_CUDA_MODULE_BUILD_PATH
#error "the build names where it put libcloakx_cuda.so (CLOAKX_CUDA_MODULE_BUILD_PATH)"
#endif

#define MODULE_CANDIDATES 3

/* Where the module may be, in order: $CLOAKX_CUDA_MODULE alone when it is set (a kit, a test
 * of a broken module); else beside the executable, in ../lib/cloakx of it (an installed or
 * relocated tree), and where this build wrote it. Returns how many paths were filled. */
static int module_candidates(char paths[MODULE_CANDIDATES][PATH_MAX])
{
    const char *env = getenv("CLOAKX_CUDA_MODULE");
    if (env && *env) {
        snprintf(paths[0], PATH_MAX, "%s", env);
        return 1;
    }
    int n = 0;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (snprintf(paths[n], PATH_MAX, "%s/%s", exe, CX_CUDA_MODULE_FILE) < PATH_MAX)
                n++;
            if (snprintf(paths[n], PATH_MAX, "%s/../lib/cloakx/%s", exe, CX_CUDA_MODULE_FILE) <
                PATH_MAX)
                n++;
        }
    }
    snprintf(paths[n++], PATH_MAX, "%s", CLOAKX_CUDA_MODULE_BUILD_PATH);
    return n;
}

/* The module's table. The dynamic loader is the only state: once loaded, RTLD_NOLOAD finds the
 * module again at the cost of a lookup, so this library keeps no handle of its own. */
static cx_err cuda_module(const cx_cuda_api **api, cx_error *e)
{
    char paths[MODULE_CANDIDATES][PATH_MAX];
    int n = module_candidates(paths);
    void *h = NULL;
    for (int i = 0; i < n && !h; i++)
        h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!h) {
        /* without a driver there is no GPU to use: say so before paying for cuBLAS */
        void *drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
        if (!drv)
            return cx_error_set(e, CX_ERR_DEVICE, "no CUDA device: no CUDA driver here (%s)",
                                dlerror());
        /* kept loaded: the CUDA runtime is about to load it for good */
        int found = -1;
        for (int i = 0; i < n && found < 0; i++)
            if (access(paths[i], R_OK) == 0)
                found = i;
        if (found < 0)
            return cx_error_set(e, CX_ERR_UNSUPPORTED,
                                "the cuda backend module %s is missing (looked in %s%s%s; "
                                "CLOAKX_CUDA_MODULE names another place)",
                                CX_CUDA_MODULE_FILE, paths[0], n > 1 ? " and " : "",
                                n > 1 ? paths[n - 1] : "");
        h = dlopen(paths[found], RTLD_NOW | RTLD_LOCAL);
        if (!h)
            return cx_error_set(e, CX_ERR_DEVICE, "loading the cuda backend module: %s", dlerror());
    }
    cx_cuda_module_fn get;
    *(void **)&get = dlsym(h, CX_CUDA_MODULE_SYMBOL);
    const cx_cuda_api *t = get ? get() : NULL;
    if (!t || t->abi != CX_CUDA_MODULE_ABI || t->table_size != sizeof(cx_cuda_api) ||
        t->backend_size != sizeof(cx_backend))
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "the cuda backend module is from another build (ABI %d, want %d)",
                            t ? t->abi : -1, CX_CUDA_MODULE_ABI);
    *api = t;
    return CX_OK;
}

cx_err cx_cuda_device_count(int *count, cx_error *e)
{
    const cx_cuda_api *m;
    *count = 0;
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->device_count(count, e) : rc;
}

cx_err cx_cuda_device_query(int device, cx_cuda_device_info *out, cx_error *e)
{
    const cx_cuda_api *m;
    memset(out, 0, sizeof *out);
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->device_query(device, out, e) : rc;
}

cx_err cx_backend_cuda_create(int device, cx_precision precision, cx_backend **out, cx_error *e)
{
    const cx_cuda_api *m;
    *out = NULL;
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->backend_create(device, precision, out, e) : rc;
}

void *cx_cuda_pinned_alloc(void *ud, size_t len, cx_error *e)
{
    const cx_cuda_api *m;
    return cuda_module(&m, e) == CX_OK ? m->pinned_alloc(ud, len, e) : NULL;
}

void cx_cuda_pinned_free(void *ud, void *p, size_t len)
{
    const cx_cuda_api *m;
    cx_error ignored;
    /* p came from cx_cuda_pinned_alloc, so the module is loaded */
    if (p && cuda_module(&m, &ignored) == CX_OK)
        m->pinned_free(ud, p, len);
}

cx_err cx_cuda_device_cpulist(int device, char *out, size_t cap, cx_error *e)
{
    const cx_cuda_api *m;
    if (cap)
        out[0] = '\0';
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->device_cpulist(device, out, cap, e) : rc;
}

/* Graphs and streams are the cuda backend's: another backend is answered here, without
 * loading the module for it (the trainer asks on every run). */
static int is_cuda(const cx_backend *be)
{
    return be && be->name && strcmp(be->name, "cuda") == 0;
}

static cx_err not_cuda(const cx_backend *be, const char *what, cx_error *e)
{
    return cx_error_set(e, CX_ERR_UNSUPPORTED, "%s need the cuda backend (not %s)", what,
                        be ? be->name : "none");
}

cx_err cx_backend_graph_begin(cx_backend *be, cx_error *e)
{
    const cx_cuda_api *m;
    if (!is_cuda(be))
        return not_cuda(be, "CUDA graphs", e);
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->graph_begin(be, e) : rc;
}

cx_err cx_backend_graph_end(cx_backend *be, cx_error *e)
{
    const cx_cuda_api *m;
    if (!is_cuda(be))
        return not_cuda(be, "CUDA graphs", e);
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->graph_end(be, e) : rc;
}

cx_err cx_backend_graph_launch(cx_backend *be, cx_error *e)
{
    const cx_cuda_api *m;
    if (!is_cuda(be))
        return not_cuda(be, "CUDA graphs", e);
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->graph_launch(be, e) : rc;
}

void cx_backend_graph_reset(cx_backend *be)
{
    const cx_cuda_api *m;
    cx_error ignored;
    if (is_cuda(be) && cuda_module(&m, &ignored) == CX_OK)
        m->graph_reset(be);
}

cx_err cx_backend_stream_upload(cx_backend *be, int slot, void *dst_dev, const void *src_pinned,
                                size_t bytes, cx_error *e)
{
    const cx_cuda_api *m;
    if (!is_cuda(be))
        return not_cuda(be, "streamed uploads", e);
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->stream_upload(be, slot, dst_dev, src_pinned, bytes, e) : rc;
}

cx_err cx_backend_stream_acquire(cx_backend *be, int slot, cx_error *e)
{
    const cx_cuda_api *m;
    if (!is_cuda(be))
        return not_cuda(be, "streamed uploads", e);
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->stream_acquire(be, slot, e) : rc;
}

cx_err cx_backend_stream_release(cx_backend *be, int slot, cx_error *e)
{
    const cx_cuda_api *m;
    if (!is_cuda(be))
        return not_cuda(be, "streamed uploads", e);
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->stream_release(be, slot, e) : rc;
}

cx_err cx_backend_stream_host_wait(cx_backend *be, int slot, cx_error *e)
{
    const cx_cuda_api *m;
    if (!is_cuda(be))
        return not_cuda(be, "streamed uploads", e);
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->stream_host_wait(be, slot, e) : rc;
}

cx_err cx_cuda_backend_stream(cx_backend *be, int *device, void **stream, cx_error *e)
{
    const cx_cuda_api *m;
    *device = -1;
    *stream = NULL;
    if (!is_cuda(be))
        return not_cuda(be, "device streams", e);
    cx_err rc = cuda_module(&m, e);
    return rc == CX_OK ? m->backend_stream(be, device, stream, e) : rc;
}
