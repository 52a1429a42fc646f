/* test_kernels_cuda_module.c — the cuda backend is a module loaded on first need: nothing of
 * cuBLAS is mapped before, a missing or foreign module is named, and a loaded one answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cx_kernels.h"

/* Whether a file whose path contains `needle` is mapped into this process. */
static int mapped(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4096];
    int hit = 0;
    while (!hit && fgets(line, sizeof line, f))
        hit = strstr(line, needle) != NULL;
    fclose(f);
    return hit;
}

static void test_not_loaded_for_cpu(void **state)
{
    (void)state;
    cx_backend *be = NULL;
    cx_error e;
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 1, &be, &e), CX_OK);
    /* the trainer asks a cpu backend for graphs and streams on every run */
    assert_int_equal(cx_backend_graph_begin(be, &e), CX_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "cuda backend (not cpu)"));
    assert_int_equal(cx_backend_stream_acquire(be, 0, &e), CX_ERR_UNSUPPORTED);
    cx_backend_graph_reset(be);
    cx_backend_destroy(be);
    assert_false(mapped("libcublas"));
    assert_false(mapped("libcloakx_cuda"));
}

static void test_missing_module(void **state)
{
    (void)state;
    int n = -1;
    cx_error e;
    assert_int_equal(setenv("CLOAKX_CUDA_MODULE", "/nonexistent/libcloakx_cuda.so", 1), 0);
    assert_int_equal(cx_cuda_device_count(&n, &e), CX_ERR_UNSUPPORTED);
    assert_int_equal(n, 0);
    assert_non_null(strstr(e.msg, "libcloakx_cuda.so is missing"));
    assert_non_null(strstr(e.msg, "/nonexistent/libcloakx_cuda.so"));
    assert_int_equal(unsetenv("CLOAKX_CUDA_MODULE"), 0);
}

static void test_foreign_module(void **state)
{
    (void)state;
    int n = -1;
    cx_error e;
    /* a loadable object that is not the module: the fake driver itself */
    assert_int_equal(setenv("CLOAKX_CUDA_MODULE", CX_FAKE_DRIVER, 1), 0);
    assert_int_equal(cx_cuda_device_count(&n, &e), CX_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "from another build"));
    assert_int_equal(unsetenv("CLOAKX_CUDA_MODULE"), 0);
}

static void test_module_answers(void **state)
{
    (void)state;
    int n = -1;
    cx_error e;
    cx_cuda_device_info info;
    /* the fake driver passes the loader's check; the module's CUDA runtime then refuses it */
    assert_int_equal(cx_cuda_device_count(&n, &e), CX_ERR_DEVICE);
    assert_non_null(strstr(e.msg, "no CUDA device: "));
    assert_null(strstr(e.msg, "no CUDA driver here"));
    assert_true(mapped("libcloakx_cuda"));
    /* loaded once, found again */
    assert_int_equal(cx_cuda_device_query(0, &info, &e), CX_ERR_DEVICE);
    assert_non_null(strstr(e.msg, "no CUDA device: "));
    assert_null(cx_cuda_pinned_alloc(NULL, 4096, &e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_loaded_for_cpu),
        cmocka_unit_test(test_missing_module),
        cmocka_unit_test(test_foreign_module),
        cmocka_unit_test(test_module_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
