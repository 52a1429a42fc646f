/* backend_select.c — `--device auto|cpu|cuda[:N]`: which backend runs and why, the GEMM-rate
 * probe used by the benchmarks, and the "not built in" answers of a build without CUDA. */
#include "cx_kernels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELECT_MAX_GPU 1024

#ifndef CLOAKX_HAVE_CUDA
/* This binary was built without the CUDA toolkit: say so, whatever the machine has. */
#define NOT_BUILT                                                                                  \
    "the cuda backend is not built into this binary (configure with the CUDA "                     \
    "toolkit installed, CLOAKX_CUDA=AUTO or ON)"
cx_err cx_cuda_device_count(int *count, cx_error *e)
{
    *count = 0;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

cx_err cx_cuda_device_query(int device, cx_cuda_device_info *out, cx_error *e)
{
    (void)device;
    memset(out, 0, sizeof *out);
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

cx_err cx_backend_cuda_create(int device, cx_precision precision, cx_backend **out, cx_error *e)
{
    (void)device;
    (void)precision;
    *out = NULL;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

void *cx_cuda_pinned_alloc(void *ud, size_t len, cx_error *e)
{
    (void)ud;
    (void)len;
    cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
    return NULL;
}

void cx_cuda_pinned_free(void *ud, void *p, size_t len)
{
    (void)ud;
    (void)p;
    (void)len;
}

cx_err cx_cuda_device_cpulist(int device, char *out, size_t cap, cx_error *e)
{
    (void)device;
    if (cap)
        out[0] = '\0';
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

cx_err cx_backend_graph_begin(cx_backend *be, cx_error *e)
{
    (void)be;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

cx_err cx_backend_graph_end(cx_backend *be, cx_error *e)
{
    (void)be;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

cx_err cx_backend_graph_launch(cx_backend *be, cx_error *e)
{
    (void)be;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

void cx_backend_graph_reset(cx_backend *be)
{
    (void)be;
}

cx_err cx_backend_stream_upload(cx_backend *be, int slot, void *dst_dev, const void *src_pinned,
                                size_t bytes, cx_error *e)
{
    (void)be;
    (void)slot;
    (void)dst_dev;
    (void)src_pinned;
    (void)bytes;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

cx_err cx_backend_stream_acquire(cx_backend *be, int slot, cx_error *e)
{
    (void)be;
    (void)slot;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

cx_err cx_backend_stream_release(cx_backend *be, int slot, cx_error *e)
{
    (void)be;
    (void)slot;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}

cx_err cx_backend_stream_host_wait(cx_backend *be, int slot, cx_error *e)
{
    (void)be;
    (void)slot;
    return cx_error_set(e, CX_ERR_UNSUPPORTED, NOT_BUILT);
}
#endif

/* "cuda" → 0, "cuda:N" → N; -1 when the text is neither. */
static int parse_cuda(const char *s)
{
    if (strcmp(s, "cuda") == 0)
        return 0;
    if (strncmp(s, "cuda:", 5) != 0 || s[5] < '0' || s[5] > '9')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s + 5, &end, 10);
    if (errno || *end || v < 0 || v >= SELECT_MAX_GPU)
        return -1;
    return (int)v;
}

static cx_err make_cpu(cx_precision precision, int threads, cx_backend **out, cx_device_choice *ch,
                       const char *why, cx_error *e)
{
    cx_err rc = cx_backend_cpu_create(precision, threads, out, e);
    if (rc != CX_OK)
        return why ? cx_error_prefix(e, "--device auto fell back to cpu (%s): ", why) : rc;
    if (ch) {
        snprintf(ch->backend, sizeof ch->backend, "cpu");
        ch->device = -1;
        char th[32];
        if (threads > 0)
            snprintf(th, sizeof th, "%d thread%s", threads, threads == 1 ? "" : "s");
        else
            snprintf(th, sizeof th, "all cores");
        snprintf(ch->report, sizeof ch->report, "cpu (OpenBLAS + OpenMP, %s, %s)%s%s", th,
                 cx_precision_name(precision), why ? "; auto: " : "", why ? why : "");
    }
    return CX_OK;
}

static cx_err make_cuda(int dev, cx_precision precision, cx_backend **out, cx_device_choice *ch,
                        cx_error *e)
{
    cx_cuda_device_info info;
    cx_err rc = cx_backend_cuda_create(dev, precision, out, e);
    if (rc != CX_OK)
        return rc;
    if (ch) {
        snprintf(ch->backend, sizeof ch->backend, "cuda");
        ch->device = dev;
        cx_error qe;
        if (cx_cuda_device_query(dev, &info, &qe) == CX_OK)
            snprintf(ch->report, sizeof ch->report,
                     "cuda:%d (%s, sm_%d%d, %d SMs, %.1f GiB, PCI %s, cuBLAS %s)", dev, info.name,
                     info.cc_major, info.cc_minor, info.sm_count,
                     (double)info.total_mem / (1024.0 * 1024.0 * 1024.0), info.pci_bus_id,
                     cx_precision_name(precision));
        else
            snprintf(ch->report, sizeof ch->report, "cuda:%d (cuBLAS %s)", dev,
                     cx_precision_name(precision));
    }
    return CX_OK;
}

cx_err cx_backend_select(const char *device, cx_precision precision, int threads, cx_backend **out,
                         cx_device_choice *choice, cx_error *e)
{
    *out = NULL;
    if (choice)
        memset(choice, 0, sizeof *choice);
    if (!device || strcmp(device, "auto") == 0) {
        int n = 0;
        cx_error why;
        cx_error_clear(&why);
        if (cx_cuda_device_count(&n, &why) == CX_OK) {
            if (make_cuda(0, precision, out, choice, &why) == CX_OK)
                return CX_OK;
            /* a GPU that cannot run the job (wrong precision for it, out of memory):
             * the cpu backend still can, and the report says why */
        }
        return make_cpu(precision, threads, out, choice, why.msg, e);
    }
    if (strcmp(device, "cpu") == 0)
        return make_cpu(precision, threads, out, choice, NULL, e);
    int dev = parse_cuda(device);
    if (dev < 0)
        return cx_error_set(e, CX_ERR_ARG, "unknown device '%s' (auto, cpu, cuda, cuda:N)", device);
    return make_cuda(dev, precision, out, choice, e);
}

cx_err cx_backend_gemm_gflops(cx_backend *be, int trans_a, int trans_b, int m, int n, int k,
                              double min_seconds, double *gflops, cx_error *e)
{
    *gflops = 0.0;
    if (!be || m <= 0 || n <= 0 || k <= 0)
        return cx_error_set(e, CX_ERR_ARG, "gemm rate: need a backend and positive m, n, k");
    const size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
    const int lda = trans_a ? m : k, ldb = trans_b ? k : n;
    float *ha = malloc((na > nb ? na : nb) * sizeof *ha);
    float *da = NULL, *db = NULL, *dc = NULL;
    cx_err rc = CX_OK;
    if (!ha)
        return cx_error_set(e, CX_ERR_NOMEM, "gemm rate: allocating %dx%dx%d", m, n, k);
    /* small exact values: no denormals or overflow to skew the timing */
    for (size_t i = 0; i < (na > nb ? na : nb); i++)
        ha[i] = (float)((int)(i % 17) - 8) * 0.0625f;
    if ((rc = be->alloc(be, na * sizeof(float), (void **)&da, e)) != CX_OK ||
        (rc = be->alloc(be, nb * sizeof(float), (void **)&db, e)) != CX_OK ||
        (rc = be->alloc(be, nc * sizeof(float), (void **)&dc, e)) != CX_OK ||
        (rc = be->upload(be, da, ha, na * sizeof(float), e)) != CX_OK ||
        (rc = be->upload(be, db, ha, nb * sizeof(float), e)) != CX_OK)
        goto out;
    be->sgemm(be, trans_a, trans_b, m, n, k, 1.0f, da, lda, db, ldb, 0.0f, dc, n); /* warm-up */
    if ((rc = be->sync(be, e)) != CX_OK)
        goto out;
    long reps = 0, batch = 1;
    double t0 = cx_now_seconds(), t;
    do {
        for (long i = 0; i < batch; i++)
            be->sgemm(be, trans_a, trans_b, m, n, k, 1.0f, da, lda, db, ldb, 0.0f, dc, n);
        if ((rc = be->sync(be, e)) != CX_OK)
            goto out;
        reps += batch;
        if (batch < 64)
            batch *= 2; /* amortise the sync on fast devices */
        t = cx_now_seconds() - t0;
    } while (t < min_seconds);
    *gflops = 2.0 * m * (double)n * k * reps / t / 1e9;
out:
    be->free(be, da);
    be->free(be, db);
    be->free(be, dc);
    free(ha);
    return rc;
}
