/* comm_mpi.c — the MPI communicator (MPI_COMM_WORLD) behind cx_comm, built as the module
 * libcloakx_mpi.so: all-reduce of float and double sums (and double max), broadcast (also one
 * that waits asleep), point to point. */
#include "mpi/mpi_module.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <time.h>

/* MPI counts are int: longer buffers go in chunks of at most this many elements. */
#define CHUNK (1 << 28)

static cx_err mpi_fail(cx_error *e, int code, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS)
        len = 0;
    msg[len] = '\0';
    return cx_error_set(e, CX_ERR_NET, "mpi: %s: %s", what, len ? msg : "error");
}

static cx_err allreduce(void *buf, size_t n, size_t elem, MPI_Datatype t, MPI_Op op, cx_error *e)
{
    for (size_t i = 0; i < n; i += CHUNK) {
        int cnt = (int)(n - i < CHUNK ? n - i : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * elem, cnt, t, op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(e, rc, "MPI_Allreduce");
    }
    return CX_OK;
}

static cx_err mpi_allreduce_f32(cx_comm *c, float *buf, size_t n, cx_error *e)
{
    (void)c;
    return allreduce(buf, n, sizeof(float), MPI_FLOAT, MPI_SUM, e);
}

static cx_err mpi_allreduce_f64(cx_comm *c, double *buf, size_t n, cx_comm_op op, cx_error *e)
{
    (void)c;
    return allreduce(buf, n, sizeof(double), MPI_DOUBLE, op == CX_COMM_MAX ? MPI_MAX : MPI_SUM, e);
}

static cx_err mpi_bcast(cx_comm *c, void *buf, size_t bytes, int root, cx_error *e)
{
    (void)c;
    for (size_t i = 0; i < bytes; i += CHUNK) {
        int cnt = (int)(bytes - i < CHUNK ? bytes - i : CHUNK);
        int rc = MPI_Bcast((char *)buf + i, cnt, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(e, rc, "MPI_Bcast");
    }
    return CX_OK;
}

/* How long a waiting rank sleeps between checks: from 50 µs, doubling to 10 ms, so that a
 * broadcast arriving soon costs little latency and a long wait a hundred wake-ups a second. */
#define WAIT_NAP_MIN_NS 50000L
#define WAIT_NAP_MAX_NS 10000000L

static cx_err mpi_bcast_wait(cx_comm *c, void *buf, size_t bytes, int root, cx_error *e)
{
    if (bytes > CHUNK)
        return mpi_bcast(c, buf, bytes, root, e); /* not a wake-up message: no need to nap */
    MPI_Request req;
    int rc = MPI_Ibcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS)
        return mpi_fail(e, rc, "MPI_Ibcast");
    long nap = WAIT_NAP_MIN_NS;
    for (;;) {
        int done = 0;
        if ((rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE)) != MPI_SUCCESS)
            return mpi_fail(e, rc, "MPI_Test");
        if (done)
            return CX_OK;
        struct timespec ts = {0, nap};
        (void)nanosleep(&ts, NULL); /* a signal cutting it short only checks sooner */
        if (nap < WAIT_NAP_MAX_NS)
            nap = nap * 2 < WAIT_NAP_MAX_NS ? nap * 2 : WAIT_NAP_MAX_NS;
    }
}

static cx_err mpi_sendrecv(cx_comm *c, const void *send, size_t send_len, int dst, void *recv,
                           size_t recv_len, int src, cx_error *e)
{
    (void)c;
    const int to = dst < 0 ? MPI_PROC_NULL : dst, from = src < 0 ? MPI_PROC_NULL : src;
    for (size_t i = 0; i < send_len || i < recv_len; i += CHUNK) {
        int sn = (int)(i < send_len ? (send_len - i < CHUNK ? send_len - i : CHUNK) : 0);
        int rn = (int)(i < recv_len ? (recv_len - i < CHUNK ? recv_len - i : CHUNK) : 0);
        int rc =
            MPI_Sendrecv(sn ? (const char *)send + i : NULL, sn, MPI_BYTE, sn ? to : MPI_PROC_NULL,
                         0, rn ? (char *)recv + i : NULL, rn, MPI_BYTE, rn ? from : MPI_PROC_NULL,
                         0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return mpi_fail(e, rc, "MPI_Sendrecv");
    }
    return CX_OK;
}

static void mpi_abort(cx_comm *c, int code)
{
    (void)c;
    MPI_Abort(MPI_COMM_WORLD, code);
}

static void mpi_destroy(cx_comm *c)
{
    int fin = 1;
    if (MPI_Finalized(&fin) == MPI_SUCCESS && !fin)
        MPI_Finalize();
    free(c);
}

__attribute__((visibility("default"))) cx_err cx_mpi_module_create(int abi, size_t comm_size,
                                                                   cx_comm **out, cx_error *e)
{
    *out = NULL;
    if (abi != CX_MPI_MODULE_ABI || comm_size != sizeof(cx_comm))
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "the MPI module is from another build (ABI %d, want %d)",
                            CX_MPI_MODULE_ABI, abi);
    int init = 0, rc;
    if ((rc = MPI_Initialized(&init)) != MPI_SUCCESS)
        return mpi_fail(e, rc, "MPI_Initialized");
    if (!init && (rc = MPI_Init(NULL, NULL)) != MPI_SUCCESS)
        return mpi_fail(e, rc, "MPI_Init");
    /* errors come back as codes (each becomes a cx_err), not as MPI's default abort */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    cx_comm *c = calloc(1, sizeof *c);
    if (!c)
        return cx_error_set(e, CX_ERR_NOMEM, "mpi: allocating the communicator");
    c->name = "mpi";
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &c->rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(MPI_COMM_WORLD, &c->size)) != MPI_SUCCESS) {
        free(c);
        return mpi_fail(e, rc, "MPI_Comm_rank/size");
    }
    c->allreduce_f32 = mpi_allreduce_f32;
    c->allreduce_f64 = mpi_allreduce_f64;
    c->bcast = mpi_bcast;
    c->bcast_wait = mpi_bcast_wait;
    c->sendrecv = mpi_sendrecv;
    c->abort = mpi_abort;
    c->destroy = mpi_destroy;
    *out = c;
    return CX_OK;
}
