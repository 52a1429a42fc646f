/* comm.c — the communicators of data-parallel training: the one-process identity, the loader
 * of the MPI module (libcloakx_mpi.so), the deterministic shard of n items per rank, and the
 * assignment of items of unequal sizes (blobs) to ranks balanced by bytes. */
#include "cx_kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef CLOAKX_HAVE_MPI
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "module_internal.h"
#include "mpi/mpi_module.h"
#endif

static cx_err self_allreduce_f32(cx_comm *c, float *buf, size_t n, cx_error *e)
{
    (void)c, (void)buf, (void)n, (void)e;
    return CX_OK;
}

static cx_err self_allreduce_f64(cx_comm *c, double *buf, size_t n, cx_comm_op op, cx_error *e)
{
    (void)c, (void)buf, (void)n, (void)op, (void)e;
    return CX_OK;
}

static cx_err self_bcast(cx_comm *c, void *buf, size_t bytes, int root, cx_error *e)
{
    (void)c, (void)buf, (void)bytes;
    return root == 0 ? CX_OK : cx_error_set(e, CX_ERR_ARG, "comm: no rank %d of 1", root);
}

/* one rank: only a message to itself, which is a copy */
static cx_err self_sendrecv(cx_comm *c, const void *send, size_t send_len, int dst, void *recv,
                            size_t recv_len, int src, cx_error *e)
{
    (void)c;
    if (dst > 0 || src > 0 || (dst == 0) != (src == 0) || (dst == 0 && send_len != recv_len))
        return cx_error_set(e, CX_ERR_ARG, "comm: rank 0 of 1 has no rank %d to talk to",
                            dst > 0 ? dst : src);
    if (dst == 0 && send_len)
        memmove(recv, send, send_len);
    return CX_OK;
}

static void self_destroy(cx_comm *c)
{
    free(c);
}

cx_err cx_comm_self_create(cx_comm **out, cx_error *e)
{
    cx_comm *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return cx_error_set(e, CX_ERR_NOMEM, "comm: allocating");
    c->name = "self";
    c->rank = 0;
    c->size = 1;
    c->allreduce_f32 = self_allreduce_f32;
    c->allreduce_f64 = self_allreduce_f64;
    c->bcast = self_bcast;
    c->bcast_wait = self_bcast;
    c->sendrecv = self_sendrecv;
    c->destroy = self_destroy;
    *out = c;
    return CX_OK;
}

void cx_comm_destroy(cx_comm *c)
{
    if (c)
        c->destroy(c);
}

void cx_comm_shard(size_t n, int rank, int size, size_t *lo, size_t *hi)
{
    /* the first n % size ranks hold one item more */
    size_t s = size > 0 ? (size_t)size : 1, r = rank > 0 ? (size_t)rank : 0;
    size_t q = n / s, rem = n % s;
    *lo = r * q + (r < rem ? r : rem);
    *hi = *lo + q + (r < rem ? 1 : 0);
}

/* an item by its sort key: size descending, then index ascending (a total order, so qsort's
 * instability cannot change the result) */
typedef struct {
    uint64_t size;
    size_t idx;
} assign_item;

static int assign_item_cmp(const void *pa, const void *pb)
{
    const assign_item *a = pa, *b = pb;
    if (a->size != b->size)
        return a->size > b->size ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* a rank in the min-heap, ordered by (bytes, items, rank): a total order again, so the rank
 * at the top is the one the greedy rule names, whatever the heap's shape */
typedef struct {
    uint64_t load;
    size_t count;
    int rank;
} assign_rank;

static int assign_rank_less(const assign_rank *a, const assign_rank *b)
{
    if (a->load != b->load)
        return a->load < b->load;
    if (a->count != b->count)
        return a->count < b->count;
    return a->rank < b->rank;
}

static void assign_sift_down(assign_rank *h, size_t m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < m && assign_rank_less(&h[l], &h[best]))
            best = l;
        if (r < m && assign_rank_less(&h[r], &h[best]))
            best = r;
        if (best == i)
            return;
        assign_rank t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

cx_err cx_comm_assign_by_size(const uint64_t *sizes, size_t n, int size, int *rank_of,
                              uint64_t *load, cx_error *e)
{
    if (size < 1)
        return cx_error_set(e, CX_ERR_ARG, "comm: assigning items to %d ranks", size);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (sizes[i] > UINT64_MAX - total)
            return cx_error_set(e, CX_ERR_ARG, "comm: the %zu items' sizes overflow 64 bits", n);
        total += sizes[i];
    }
    const size_t m = (size_t)size;
    assign_item *items = n ? malloc(n * sizeof *items) : NULL;
    assign_rank *heap = malloc(m * sizeof *heap);
    if ((n && !items) || !heap) {
        free(items);
        free(heap);
        return cx_error_set(e, CX_ERR_NOMEM, "comm: assigning %zu items", n);
    }
    for (size_t i = 0; i < n; i++)
        items[i] = (assign_item){sizes[i], i};
    if (n > 1)
        qsort(items, n, sizeof *items, assign_item_cmp);
    /* ranks in order, all empty: already a heap */
    for (size_t r = 0; r < m; r++)
        heap[r] = (assign_rank){0, 0, (int)r};
    for (size_t k = 0; k < n; k++) {
        /* the least loaded rank takes the largest item left; it grows, so it sinks */
        rank_of[items[k].idx] = heap[0].rank;
        heap[0].load += items[k].size;
        heap[0].count++;
        assign_sift_down(heap, m, 0);
    }
    if (load)
        for (size_t r = 0; r < m; r++)
            load[heap[r].rank] = heap[r].load;
    free(items);
    free(heap);
    return CX_OK;
}

size_t cx_comm_assigned(const int *rank_of, size_t n, int rank, size_t *items)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (rank_of[i] == rank)
            items[c++] = i;
    return c;
}

int cx_comm_mpi_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            long n = strtol(v, NULL, 10);
            return n > 0 && n < 1 << 20 ? (int)n : 0;
        }
    }
    return 0;
}

int cx_comm_local_rank(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                       "PMIX_LOCAL_RANK", "SLURM_LOCALID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            char *end;
            long n = strtol(v, &end, 10);
            return *end == '\0' && n >= 0 && n < 1 << 20 ? (int)n : -1;
        }
    }
    return -1;
}

#ifdef CLOAKX_HAVE_MPI

#ifndef CLOAKX_MPI_MODULE_BUILD_PATH
#error "the build names where it put libcloakx_mpi.so (CLOAKX_MPI_MODULE_BUILD_PATH)"
#endif

int cx_comm_mpi_built(void)
{
    return 1;
}

/* The module's entry point, loaded on first call (the dynamic loader keeps it: a second dlopen
 * of the same path is a lookup). Loading it loads libmpi; nothing is initialised yet. */
static cx_err mpi_module(cx_mpi_module_fn *create, cx_error *e)
{
    /* RTLD_GLOBAL: Open MPI dlopen()s its own components, which look for libmpi's symbols in
     * the global scope */
    const char *why;
    char looked[2 * PATH_MAX + 8];
    void *h = cx_module_open(CX_MPI_MODULE_FILE, "CLOAKX_MPI_MODULE", CLOAKX_MPI_MODULE_BUILD_PATH,
                             RTLD_NOW | RTLD_GLOBAL, &why, looked, sizeof looked);
    if (!h)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "MPI is not available: the module %s could not be loaded (%s; looked "
                            "in %s; CLOAKX_MPI_MODULE names another place)",
                            CX_MPI_MODULE_FILE, why, looked);
    *(void **)create = dlsym(h, CX_MPI_MODULE_SYMBOL);
    if (!*create)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "MPI is not available: the module lacks %s",
                            CX_MPI_MODULE_SYMBOL);
    return CX_OK;
}

cx_err cx_comm_mpi_available(cx_error *e)
{
    cx_mpi_module_fn create;
    return mpi_module(&create, e);
}

cx_err cx_comm_mpi_create(cx_comm **out, cx_error *e)
{
    *out = NULL;
    cx_mpi_module_fn create;
    cx_err rc = mpi_module(&create, e);
    return rc == CX_OK ? create(CX_MPI_MODULE_ABI, sizeof(cx_comm), out, e) : rc;
}

#else

int cx_comm_mpi_built(void)
{
    return 0;
}

static cx_err no_mpi(cx_error *e)
{
    return cx_error_set(e, CX_ERR_UNSUPPORTED,
                        "MPI is not available: this build has no MPI support (CMake did not find "
                        "MPI; scripts/deps.sh installs Open MPI)");
}

cx_err cx_comm_mpi_available(cx_error *e)
{
    return no_mpi(e);
}

cx_err cx_comm_mpi_create(cx_comm **out, cx_error *e)
{
    *out = NULL;
    return no_mpi(e);
}

#endif
