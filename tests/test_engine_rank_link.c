/* test_engine_rank_link.c — the sealed channel between ranks (cx_rank_link): ring sums equal to
 * the plain sums and the same bits on every rank, broadcast, nothing in the clear on the wire,
 * and a tampered message, a replayed one or a rank with other attested keys refused by name.
 * Ranks are threads joined by socketpairs, a transport like MPI_Sendrecv. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_engine.h"

enum { MAXR = 4, N = 1001 };

typedef struct rank_io {
    int fd_next, fd_prev; /* sockets to rank + 1 and from rank - 1 */
    int tamper;           /* flip a bit of the message sent at this step (1-based), 0: none */
    int replay;           /* send the first message again at this step (1-based), 0: none */
    int step;
    uint8_t first[1 << 16];
    size_t first_len;
    uint8_t *wire; /* every byte sent, for the test to search */
    size_t wire_len;
} rank_io;

static cx_err io_fail(cx_error *e, const char *what)
{
    return cx_error_set(e, CX_ERR_NET, "%s: %s", what, errno ? strerror(errno) : "closed");
}

/* send and receive at once (poll), as MPI_Sendrecv does: no ring deadlock on full buffers */
static cx_err sock_sendrecv(void *ud, const void *out_buf, size_t send_len, int dst, void *recv,
                            size_t recv_len, int src, cx_error *e)
{
    rank_io *io = ud;
    io->step++;
    uint8_t *copy = NULL;
    const uint8_t *out = out_buf;
    if (dst >= 0) {
        copy = malloc(send_len);
        assert_non_null(copy);
        memcpy(copy, out_buf, send_len);
        if (io->step == 1 && send_len <= sizeof io->first) {
            memcpy(io->first, out_buf, send_len);
            io->first_len = send_len;
        }
        if (io->tamper == io->step)
            copy[send_len / 2] ^= 0x01;
        if (io->replay == io->step && io->first_len == send_len)
            memcpy(copy, io->first, send_len);
        out = copy;
        io->wire = realloc(io->wire, io->wire_len + send_len);
        assert_non_null(io->wire);
        memcpy(io->wire + io->wire_len, out, send_len);
        io->wire_len += send_len;
    }
    size_t sent = dst >= 0 ? 0 : send_len, got = src >= 0 ? 0 : recv_len;
    cx_err rc = CX_OK;
    while (rc == CX_OK && (sent < send_len || got < recv_len)) {
        /* a half already done is left out of the poll: a peer that hung up after its last
         * message must not fail a rank that only receives from another */
        struct pollfd p[2] = {{sent < send_len ? io->fd_next : -1, POLLOUT, 0},
                              {got < recv_len ? io->fd_prev : -1, POLLIN, 0}};
        int r = poll(p, 2, 10000);
        if (r <= 0) {
            rc = r == 0 ? cx_error_set(e, CX_ERR_NET, "no answer in 10 s") : io_fail(e, "poll");
            break;
        }
        if (p[0].revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t w = send(io->fd_next, out + sent, send_len - sent, MSG_NOSIGNAL);
            if (w <= 0)
                rc = io_fail(e, "send");
            else
                sent += (size_t)w;
        }
        if (rc == CX_OK && (p[1].revents & (POLLIN | POLLERR | POLLHUP))) {
            ssize_t g = read(io->fd_prev, (uint8_t *)recv + got, recv_len - got);
            if (g <= 0)
                rc = io_fail(e, "receive");
            else
                got += (size_t)g;
        }
    }
    free(copy);
    return rc;
}

typedef struct rank_run {
    int rank, size;
    rank_io io;
    cx_x25519_key *key;
    const uint8_t (*pks)[32];
    uint8_t (*att)[32];
    uint8_t job[32];
    float data[N];
    double stats[3];
    char blob[40];
    cx_err rc;
    cx_error e;
} rank_run;

static void *rank_main(void *arg)
{
    rank_run *r = arg;
    cx_rank_link_params p = {.rank = r->rank,
                             .size = r->size,
                             .job_id = r->job,
                             .mine = r->key,
                             .peer_pks = r->pks,
                             .attestations = (const uint8_t(*)[32])r->att,
                             .transport = {sock_sendrecv, &r->io}};
    cx_rank_link *l = NULL;
    r->rc = cx_rank_link_open(&p, &l, &r->e);
    if (r->rc == CX_OK)
        r->rc = cx_rank_link_allreduce_f32(l, r->data, N, &r->e);
    if (r->rc == CX_OK)
        r->rc = cx_rank_link_allreduce_f64(l, r->stats, 3, &r->e);
    if (r->rc == CX_OK)
        r->rc = cx_rank_link_bcast(l, r->blob, sizeof r->blob, r->size - 1, &r->e);
    cx_rank_link_close(l);
    /* a failed rank hangs up: its neighbours fail instead of waiting */
    shutdown(r->io.fd_next, SHUT_RDWR);
    shutdown(r->io.fd_prev, SHUT_RDWR);
    return NULL;
}

typedef struct world {
    int size;
    rank_run r[MAXR];
    uint8_t pks[MAXR][32], att[MAXR][32];
    int fds[MAXR][2];
} world;

static void world_init(world *w, int size)
{
    memset(w, 0, sizeof *w);
    w->size = size;
    cx_error e;
    for (int i = 0; i < size; i++) {
        rank_run *r = &w->r[i];
        r->rank = i;
        r->size = size;
        assert_int_equal(cx_x25519_key_generate(&r->key, &e), CX_OK);
        memcpy(w->pks[i], cx_x25519_key_public(r->key), 32);
        memset(w->att[i], 0x40 + i, 32);
        memset(r->job, 0x77, 32);
        r->pks = (const uint8_t(*)[32])w->pks;
        r->att = w->att;
        for (int k = 0; k < N; k++)
            r->data[k] = (float)sin(0.37 * (k + 1) * (i + 2)) * (float)(1 + k % 7);
        r->stats[0] = i + 0.5;
        r->stats[1] = -1.25 * i;
        r->stats[2] = 1e-3;
        if (i == size - 1)
            snprintf(r->blob, sizeof r->blob, "the root's broadcast bytes");
    }
    /* socketpair k joins rank k (its next) and rank k + 1 (its prev) */
    for (int k = 0; k < size; k++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, w->fds[k]), 0);
        w->r[k].io.fd_next = w->fds[k][0];
        w->r[(k + 1) % size].io.fd_prev = w->fds[k][1];
    }
}

static void world_run(world *w)
{
    pthread_t th[MAXR];
    for (int i = 0; i < w->size; i++)
        assert_int_equal(pthread_create(&th[i], NULL, rank_main, &w->r[i]), 0);
    for (int i = 0; i < w->size; i++)
        pthread_join(th[i], NULL);
}

static void world_free(world *w)
{
    for (int i = 0; i < w->size; i++) {
        cx_x25519_key_free(w->r[i].key);
        free(w->r[i].io.wire);
        close(w->fds[i][0]);
        close(w->fds[i][1]);
    }
}

static void test_sums_and_broadcast(void **state)
{
    (void)state;
    for (int size = 1; size <= MAXR; size++) {
        world w;
        world_init(&w, size);
        double want[N];
        for (int k = 0; k < N; k++) {
            want[k] = 0;
            for (int i = 0; i < size; i++)
                want[k] += w.r[i].data[k];
        }
        float plain0[N];
        memcpy(plain0, w.r[0].data, sizeof plain0);
        world_run(&w);
        for (int i = 0; i < size; i++)
            if (w.r[i].rc != CX_OK)
                print_error("%d ranks, rank %d: %s\n", size, i, w.r[i].e.msg);
        for (int i = 0; i < size; i++) {
            assert_int_equal(w.r[i].rc, CX_OK);
            for (int k = 0; k < N; k++)
                assert_true(fabs(w.r[i].data[k] - want[k]) <= 1e-5 * (1 + fabs(want[k])));
            /* every rank the same bits */
            assert_memory_equal(w.r[i].data, w.r[0].data, sizeof w.r[0].data);
            assert_true(fabs(w.r[i].stats[0] - (size * (size - 1) / 2.0 + 0.5 * size)) < 1e-12);
            assert_true(fabs(w.r[i].stats[2] - 1e-3 * size) < 1e-15);
            assert_string_equal(w.r[i].blob, "the root's broadcast bytes");
            /* nothing of rank 0's gradient crosses in the clear */
            if (size > 1 && w.r[i].io.wire_len >= 4 * sizeof(float))
                for (size_t o = 0; o + 16 <= w.r[i].io.wire_len; o++)
                    assert_true(memcmp(w.r[i].io.wire + o, plain0 + 10, 16) != 0);
        }
        world_free(&w);
    }
}

/* One rank of three: the message it sends at step 2 flipped, or its first replayed at step 2;
 * the next rank refuses it naming the sender; nobody hangs. */
static void test_tampered_and_replayed_refused(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        world w;
        world_init(&w, 3);
        if (kind == 0)
            w.r[1].io.tamper = 2;
        else
            w.r[1].io.replay = 2;
        world_run(&w);
        assert_int_equal(w.r[2].rc, CX_ERR_AUTH);
        assert_non_null(strstr(w.r[2].e.msg, "from rank 1"));
        for (int i = 0; i < 3; i++)
            assert_int_not_equal(w.r[i].rc, CX_OK);
        world_free(&w);
    }
}

/* A rank whose attestation the others know differently (another document, or an X25519 key
 * other than the attested one) shares no key with them: its first message is refused. */
static void test_other_attestation_refused(void **state)
{
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        world w;
        world_init(&w, 2);
        static uint8_t att1[MAXR][32], pks1[MAXR][32];
        memcpy(att1, w.att, sizeof att1);
        memcpy(pks1, w.pks, sizeof pks1);
        if (kind == 0) {
            att1[1][0] ^= 1; /* rank 1 believes its own document is another */
            w.r[1].att = att1;
        } else {
            cx_x25519_key *other;
            cx_error e;
            assert_int_equal(cx_x25519_key_generate(&other, &e), CX_OK);
            memcpy(pks1[0], cx_x25519_key_public(other), 32); /* rank 1: not rank 0's key */
            cx_x25519_key_free(other);
            w.r[1].pks = (const uint8_t(*)[32])pks1;
        }
        world_run(&w);
        assert_true(w.r[0].rc == CX_ERR_AUTH || w.r[1].rc == CX_ERR_AUTH);
        world_free(&w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums_and_broadcast),
        cmocka_unit_test(test_tampered_and_replayed_refused),
        cmocka_unit_test(test_other_attestation_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
