/* test_kernels_comm.c — the communicators without MPI: the shards, the one-process identity,
 * cx_train_comm on one rank being cx_train, and the clear refusal when MPI is not there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels_testutil.h"

static void test_comm_shard_partition(void **state)
{
    (void)state;
    const size_t ns[] = {0, 1, 2, 7, 601, 1000};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++)
        for (int size = 1; size <= 5; size++) {
            size_t next = 0, min = (size_t)-1, max = 0;
            for (int r = 0; r < size; r++) {
                size_t lo, hi;
                cx_comm_shard(ns[t], r, size, &lo, &hi);
                assert_int_equal(lo, next); /* contiguous, in rank order */
                assert_true(hi >= lo);
                min = hi - lo < min ? hi - lo : min;
                max = hi - lo > max ? hi - lo : max;
                next = hi;
            }
            assert_int_equal(next, ns[t]); /* every item once */
            assert_true(max - min <= 1);   /* balanced */
        }
}

static void test_comm_self_identity(void **state)
{
    (void)state;
    cx_error e;
    cx_comm *c = NULL;
    assert_int_equal(cx_comm_self_create(&c, &e), CX_OK);
    assert_int_equal(c->rank, 0);
    assert_int_equal(c->size, 1);
    float f[3] = {1.5f, -2.0f, 3.25f};
    double d[2] = {7.0, -1.0};
    char b[4] = "abc";
    assert_int_equal(c->allreduce_f32(c, f, 3, &e), CX_OK);
    assert_int_equal(c->allreduce_f64(c, d, 2, CX_COMM_MAX, &e), CX_OK);
    assert_int_equal(c->bcast(c, b, sizeof b, 0, &e), CX_OK);
    assert_true(f[0] == 1.5f && f[1] == -2.0f && f[2] == 3.25f);
    assert_true(d[0] == 7.0 && d[1] == -1.0);
    assert_string_equal(b, "abc");
    assert_int_equal(c->bcast(c, b, sizeof b, 1, &e), CX_ERR_ARG); /* no rank 1 */
    cx_comm_destroy(c);
}

/* One rank is one process: cx_train_comm with the identity gives cx_train's bits. */
static void test_comm_train_one_rank_is_train(void **state)
{
    (void)state;
    enum { ROWS = 300, COLS = 5 };
    static float x[ROWS * COLS], y[ROWS];
    cx_rng r;
    cx_rng_seed(&r, 4);
    kt_data(&r, x, y, ROWS, COLS, CX_TASK_CLASSIFICATION, 3);
    cx_error e;
    cx_spec s;
    assert_int_equal(kt_spec("{\"task\":\"classification\",\"model\":{\"type\":\"mlp\","
                             "\"hidden\":[8]},\"epochs\":3,\"batch_size\":32,\"threads\":1}",
                             &s, &e),
                     0);
    cx_train_data d = {.rows = ROWS, .cols = COLS, .x = x, .y = y};
    cx_comm *c = NULL;
    assert_int_equal(cx_comm_self_create(&c, &e), CX_OK);
    cx_model *a = NULL, *b = NULL;
    cx_train_result ra, rb;
    assert_int_equal(cx_train(&s, &d, NULL, NULL, NULL, &a, &ra, &e), CX_OK);
    assert_int_equal(cx_train_comm(&s, &d, NULL, c, NULL, NULL, &b, &rb, &e), CX_OK);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    assert_true(ra.val.loss == rb.val.loss);
    cx_model_free(a);
    cx_model_free(b);
    cx_comm_destroy(c);
    cx_spec_free(&s);
}

/* Where the MPI module cannot be loaded (not built, or libmpi absent at run time), creating
 * the MPI communicator is CX_ERR_UNSUPPORTED with a message saying so: callers fall back to
 * one process. CLOAKX_MPI_MODULE naming a missing file stands for the absent library. */
static void test_comm_mpi_absent_unsupported(void **state)
{
    (void)state;
    cx_error e;
    cx_comm *c = (cx_comm *)&e;
    assert_int_equal(setenv("CLOAKX_MPI_MODULE", "/nonexistent/libcloakx_mpi.so", 1), 0);
    assert_int_equal(cx_comm_mpi_create(&c, &e), CX_ERR_UNSUPPORTED);
    assert_null(c);
    assert_non_null(strstr(e.msg, "MPI is not available"));
    unsetenv("CLOAKX_MPI_MODULE");
}

static void test_comm_mpi_launched_env(void **state)
{
    (void)state;
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_SIZE");
    assert_int_equal(cx_comm_mpi_launched(), 0);
    assert_int_equal(setenv("OMPI_COMM_WORLD_SIZE", "4", 1), 0);
    assert_int_equal(cx_comm_mpi_launched(), 4);
    unsetenv("OMPI_COMM_WORLD_SIZE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_comm_shard_partition),
        cmocka_unit_test(test_comm_self_identity),
        cmocka_unit_test(test_comm_train_one_rank_is_train),
        cmocka_unit_test(test_comm_mpi_absent_unsupported),
        cmocka_unit_test(test_comm_mpi_launched_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
