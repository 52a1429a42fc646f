/* bench_allreduce.c — the time of one gradient all-reduce across the ranks of `mpirun -np N`, plain
 * (MPI_Allreduce) beside sealed (the ring of AES-256-GCM messages `cloakx train --ranks` uses):
 * the W and t_sync of the scaling model in kernels/README.md. Without a launcher: one rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cx_engine.h"
#include "cx_kernels.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median seconds of reps all-reduces of n floats (after two untimed ones). Every rank times
 * its own calls; the collective makes them wait for each other, so the times agree. */
static cx_err time_allreduce(cx_comm *c, float *buf, size_t n, int reps, double *median,
                             cx_error *e)
{
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t)
        return cx_error_set(e, CX_ERR_NOMEM, "bench allreduce: out of memory");
    cx_err rc = CX_OK;
    for (int i = -2; i < reps && rc == CX_OK; i++) {
        for (size_t k = 0; k < n; k++)
            buf[k] = (float)(k % 7) * 0.25f; /* the same values each time: sums stay finite */
        double t0 = cx_now_seconds();
        rc = c->allreduce_f32(c, buf, n, e);
        if (i >= 0)
            t[i] = cx_now_seconds() - t0;
    }
    if (rc == CX_OK) {
        qsort(t, (size_t)reps, sizeof *t, cmp_double);
        *median = t[reps / 2];
    }
    free(t);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: [mpirun -np N] bench_allreduce [--reps R] [--json] FLOATS...\n"
                    "  times the all-reduce of FLOATS float32 (the model's parameters P), plain\n"
                    "  MPI beside the sealed ring; median of R calls (default 21)\n");
    return 2;
}

int main(int argc, char **argv)
{
    int reps = 21, json = 0, nsz = 0;
    size_t sizes[32];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1 || reps > 100000)
                return usage();
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            char *end;
            unsigned long long v = strtoull(argv[i], &end, 10);
            if (*end || v == 0 || v > (1ull << 30) || nsz == 32)
                return usage();
            sizes[nsz++] = (size_t)v;
        }
    }
    if (nsz == 0)
        return usage();
    cx_error e;
    cx_error_clear(&e);
    cx_comm *comm = NULL;
    cx_err rc =
        cx_comm_mpi_launched() > 1 ? cx_comm_mpi_create(&comm, &e) : cx_comm_self_create(&comm, &e);
    size_t maxn = 0;
    for (int i = 0; i < nsz; i++)
        maxn = sizes[i] > maxn ? sizes[i] : maxn;
    float *buf = rc == CX_OK ? malloc(maxn * sizeof *buf) : NULL;
    double plain[32], sealed[32];
    if (rc == CX_OK && !buf)
        rc = cx_error_set(&e, CX_ERR_NOMEM, "bench allreduce: out of memory");
    for (int i = 0; i < nsz && rc == CX_OK; i++)
        rc = time_allreduce(comm, buf, sizes[i], reps, &plain[i], &e);
    static const uint8_t job[32] = "bench allreduce, ephemeral keys";
    if (rc == CX_OK)
        rc = cx_comm_seal_ephemeral(&comm, job, &e);
    for (int i = 0; i < nsz && rc == CX_OK; i++)
        rc = time_allreduce(comm, buf, sizes[i], reps, &sealed[i], &e);
    if (rc != CX_OK) {
        fprintf(stderr, "bench_allreduce: %s\n", e.msg);
        if (comm && comm->abort)
            comm->abort(comm, 1);
        free(buf);
        cx_comm_destroy(comm);
        return 1;
    }
    const int N = comm->size;
    if (comm->rank == 0) {
        /* bus bandwidth: the bytes a rank sends in a ring all-reduce, 2(N-1)/N · 4P, per second
         * (NCCL's busbw); with one rank nothing moves */
        const double f = N > 1 ? 2.0 * (N - 1) / N : 0.0;
        if (json)
            printf("{\"ranks\": %d, \"reps\": %d, \"results\": [", N, reps);
        else
            printf("ranks %d, median of %d calls\n%12s %12s %12s %12s %12s\n", N, reps, "floats",
                   "plain_us", "sealed_us", "plain_GB/s", "sealed_GB/s");
        for (int i = 0; i < nsz; i++) {
            double bytes = f * 4.0 * (double)sizes[i];
            if (json)
                printf("%s{\"floats\": %zu, \"plain_s\": %.9g, \"sealed_s\": %.9g, "
                       "\"plain_busbw\": %.6g, \"sealed_busbw\": %.6g}",
                       i ? ", " : "", sizes[i], plain[i], sealed[i], bytes / plain[i],
                       bytes / sealed[i]);
            else
                printf("%12zu %12.1f %12.1f %12.3f %12.3f\n", sizes[i], plain[i] * 1e6,
                       sealed[i] * 1e6, bytes / plain[i] / 1e9, bytes / sealed[i] / 1e9);
        }
        if (json)
            printf("]}\n");
    }
    free(buf);
    cx_comm_destroy(comm);
    return 0;
}
