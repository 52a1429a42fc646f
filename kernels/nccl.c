/* nccl.c — the gradients' all-reduce on device buffers across ranks: loads the NCCL module
 * (libcloakx_nccl.so), agrees over the host communicator that every rank can use it, and
 * bootstraps NCCL by broadcasting rank 0's ncclUniqueId over that communicator. */
#include "cx_kernels.h"

#include <stdlib.h>
#include <string.h>

#ifdef CLOAKX_HAVE_NCCL
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "cuda/cuda_module.h"
#include "cuda/nccl_module.h"
#include "module_internal.h"

#ifndef CLOAKX_NCCL_MODULE_BUILD_PATH
#error "the build names where it put libcloakx_nccl.so (CLOAKX_NCCL_MODULE_BUILD_PATH)"
#endif

/* How long ncclCommInitRank may wait for its peers: a rank that failed before joining leaves
 * the others waiting, and they then fall back together instead of hanging. */
#define NCCL_INIT_TIMEOUT_S 120.0

struct cx_nccl {
    const cx_nccl_api *api;
    void *comm;
    int device, version;
};

int cx_nccl_built(void)
{
    return 1;
}

/* The module's table, loaded on first call ($CLOAKX_NCCL_MODULE alone when set; else beside
 * the executable, in ../lib/cloakx of it, and where this build wrote it). A second dlopen of a
 * loaded path is a lookup: the dynamic loader is the only state. */
static cx_err nccl_module(const cx_nccl_api **api, cx_error *e)
{
    const char *why;
    char looked[2 * PATH_MAX + 8];
    void *h =
        cx_module_open(CX_NCCL_MODULE_FILE, "CLOAKX_NCCL_MODULE", CLOAKX_NCCL_MODULE_BUILD_PATH,
                       RTLD_NOW | RTLD_LOCAL, &why, looked, sizeof looked);
    if (!h)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "the NCCL module %s could not be loaded (%s; looked in %s; "
                            "CLOAKX_NCCL_MODULE names another place)",
                            CX_NCCL_MODULE_FILE, why, looked);
    cx_nccl_module_fn get;
    *(void **)&get = dlsym(h, CX_NCCL_MODULE_SYMBOL);
    const cx_nccl_api *t = get ? get() : NULL;
    if (!t || t->abi != CX_NCCL_MODULE_ABI || t->table_size != sizeof(cx_nccl_api))
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "the NCCL module is from another build (ABI %d, want %d)",
                            t ? t->abi : -1, CX_NCCL_MODULE_ABI);
    *api = t;
    return CX_OK;
}

cx_err cx_nccl_version(int *version, cx_error *e)
{
    const cx_nccl_api *api;
    if (!version)
        return cx_error_set(e, CX_ERR_ARG, "cx_nccl_version: no output");
    *version = 0;
    cx_err rc = nccl_module(&api, e);
    if (rc == CX_OK && (rc = api->version(version, e)) != CX_OK)
        rc = cx_error_set(e, CX_ERR_UNSUPPORTED, "%s", e ? e->msg : "ncclGetVersion failed");
    return rc;
}

/* 52 bits of FNV-1a: exact in a double, so that the vote can carry it through a MAX. */
static double hash52(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return (double)(h >> 12);
}

/* What this rank alone can tell: whether it can use NCCL, its GPU and stream, the GPU's PCI
 * bus id (hashed). Every failure here is "cannot" (CX_ERR_UNSUPPORTED), saying why. */
static cx_err nccl_local(cx_backend *be, const cx_nccl_api **api, int *device, void **stream,
                         double *gpu, cx_error *e)
{
    const char *off = getenv("CLOAKX_NCCL");
    if (off && strcmp(off, "0") == 0)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "NCCL turned off (CLOAKX_NCCL=0)");
    if (!be->name || strcmp(be->name, "cuda") != 0)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "the backend is %s, not cuda: no device buffers to sum",
                            be->name ? be->name : "unnamed");
    cx_error le;
    cx_cuda_device_info info;
    if (cx_cuda_backend_stream(be, device, stream, &le) != CX_OK ||
        cx_cuda_device_query(*device, &info, &le) != CX_OK || nccl_module(api, &le) != CX_OK)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "%s", le.msg);
    int v;
    if ((*api)->version(&v, &le) != CX_OK)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "%s", le.msg);
    *gpu = hash52(info.pci_bus_id) + 1.0;
    return CX_OK;
}

cx_err cx_nccl_create(cx_backend *be, cx_comm *comm, cx_nccl **out, cx_error *e)
{
    if (!out)
        return cx_error_set(e, CX_ERR_ARG, "cx_nccl_create: no output");
    *out = NULL;
    if (!be || !comm || comm->size < 1 || comm->rank < 0 || comm->rank >= comm->size)
        return cx_error_set(e, CX_ERR_ARG, "cx_nccl_create needs a backend and a communicator");
    const cx_nccl_api *api = NULL;
    int device = -1;
    void *stream = NULL;
    double gpu = 0.0;
    cx_error why;
    cx_error_clear(&why);
    const cx_err lrc = nccl_local(be, &api, &device, &stream, &gpu, &why);

    /* The vote, one MAX all-reduce: [cannot, host, −host, GPU of rank 0, ..., of rank n−1] */
    const size_t nv = 3 + (size_t)comm->size;
    double *v = calloc(nv, sizeof *v);
    if (!v)
        return cx_error_set(e, CX_ERR_NOMEM, "nccl: allocating the vote");
    /* the node: its host name and this boot's id (two machines may share a host name) */
    char host[320] = "";
    if (gethostname(host, 255) != 0)
        snprintf(host, sizeof host, "?");
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        size_t used = strlen(host);
        if (!fgets(host + used, (int)(sizeof host - used), f))
            host[used] = '\0';
        fclose(f);
    }
    v[0] = lrc != CX_OK;
    v[1] = hash52(host);
    v[2] = -v[1];
    v[3 + comm->rank] = gpu;
    cx_err rc = comm->allreduce_f64(comm, v, nv, CX_COMM_MAX, e);
    if (rc != CX_OK) {
        free(v);
        return rc;
    }
    int shared = 0;
    for (int i = 0; i < comm->size && !shared && v[0] == 0.0; i++)
        for (int j = i + 1; j < comm->size && !shared; j++)
            shared = v[3 + i] == v[3 + j];
    const double cannot = v[0], host_hi = v[1], host_lo = -v[2];
    free(v);
    if (lrc != CX_OK)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "NCCL is not used: %s", why.msg);
    if (cannot > 0)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "NCCL is not used: another rank cannot use it (its log says why)");
    if (host_hi != host_lo)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "NCCL is not used: the ranks run on more than one node, where NCCL "
                            "would carry the gradients across the network in the clear");
    if (shared)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "NCCL is not used: two ranks share a GPU (one rank per GPU)");

    /* Rank 0's id to every rank: [ok, id] */
    unsigned char msg[1 + CX_NCCL_ID_BYTES];
    memset(msg, 0, sizeof msg);
    if (comm->rank == 0 && api->unique_id(msg + 1, &why) == CX_OK)
        msg[0] = 1;
    if ((rc = comm->bcast(comm, msg, sizeof msg, 0, e)) != CX_OK)
        return rc;
    if (!msg[0])
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "NCCL is not used: %s",
                            comm->rank == 0 ? why.msg : "rank 0 could not make NCCL's unique id");
    void *nc = NULL;
    cx_err irc =
        api->init(device, stream, msg + 1, comm->rank, comm->size, NCCL_INIT_TIMEOUT_S, &nc, &why);
    cx_memwipe(msg, sizeof msg);
    /* every rank's outcome: one that failed leaves the others' communicators useless */
    double failed = irc != CX_OK;
    if ((rc = comm->allreduce_f64(comm, &failed, 1, CX_COMM_MAX, e)) != CX_OK || failed > 0) {
        if (nc)
            api->destroy(nc);
        if (rc != CX_OK)
            return rc;
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "NCCL is not used: %s",
                            irc != CX_OK ? why.msg : "ncclCommInitRank failed on another rank");
    }
    cx_nccl *n = calloc(1, sizeof *n);
    if (!n) {
        api->destroy(nc);
        return cx_error_set(e, CX_ERR_NOMEM, "nccl: allocating");
    }
    n->api = api;
    n->comm = nc;
    n->device = device;
    if (api->version(&n->version, &why) != CX_OK)
        n->version = api->built_version;
    *out = n;
    return CX_OK;
}

cx_err cx_nccl_allreduce_f32(cx_nccl *n, float *buf_dev, size_t count, cx_error *e)
{
    if (!n || (!buf_dev && count))
        return cx_error_set(e, CX_ERR_ARG, "cx_nccl_allreduce_f32: no communicator or buffer");
    return n->api->allreduce_f32(n->comm, buf_dev, count, e);
}

int cx_nccl_library_version(const cx_nccl *n)
{
    return n ? n->version : 0;
}

int cx_nccl_device(const cx_nccl *n)
{
    return n ? n->device : -1;
}

void cx_nccl_destroy(cx_nccl *n)
{
    if (!n)
        return;
    n->api->destroy(n->comm);
    free(n);
}

#else /* no NCCL module in this build: every rank of a job runs the same build, so all answer      \
       * alike without a vote */

#define NOT_BUILT                                                                                  \
    "NCCL is not built into this binary (configure with the CUDA toolkit and NCCL installed, "     \
    "CLOAKX_NCCL=AUTO or ON)"

int cx_nccl_built(void)
{
    return 0;
}

cx_err cx_nccl_version(int *version, cx_error *e)
{
    if (!version)
        return cx_error_set(e, CX_ERR_ARG, "cx_nccl_version: no output");
    *version = 0;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

cx_err cx_nccl_create(cx_backend *be, cx_comm *comm, cx_nccl **out, cx_error *e)
{
    if (!out)
        return cx_error_set(e, CX_ERR_ARG, "cx_nccl_create: no output");
    *out = NULL;
    if (!be || !comm)
        return cx_error_set(e, CX_ERR_ARG, "cx_nccl_create needs a backend and a communicator");
    return cx_error_set(e, CX_ERR_UNSUPPORTED, "NCCL is not used: " NOT_BUILT);
}

cx_err cx_nccl_allreduce_f32(cx_nccl *n, float *buf_dev, size_t count, cx_error *e)
{
    (void)n, (void)buf_dev, (void)count;
    return cx_error_set(e, CX_ERR_ARG, "cx_nccl_allreduce_f32: no communicator or buffer");
}

int cx_nccl_library_version(const cx_nccl *n)
{
    (void)n;
    return 0;
}

int cx_nccl_device(const cx_nccl *n)
{
    (void)n;
    return -1;
}

void cx_nccl_destroy(cx_nccl *n)
{
    (void)n;
}

#endif
