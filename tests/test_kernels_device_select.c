/* test_kernels_device_select.c — `--device auto|cpu|cuda[:N]`: parsing, the cpu fallback of
 * auto with its reason, clean "no CUDA device" failures, the GEMM-rate probe and pinned memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cx_kernels.h"

/* Whether this machine has a usable GPU decides which answers are right. */
static int have_gpu(void)
{
    int n = 0;
    cx_error e;
    return cx_cuda_device_count(&n, &e) == CX_OK && n > 0;
}

static void test_cpu(void **state)
{
    (void)state;
    cx_backend *be = NULL;
    cx_device_choice ch;
    cx_error e;
    assert_int_equal(cx_backend_select("cpu", CX_PRECISION_FP32, 2, &be, &ch, &e), CX_OK);
    assert_string_equal(be->name, "cpu");
    assert_string_equal(ch.backend, "cpu");
    assert_int_equal(ch.device, -1);
    assert_non_null(strstr(ch.report, "cpu (OpenBLAS + OpenMP, 2 threads, fp32)"));
    assert_null(strstr(ch.report, "auto"));
    cx_backend_destroy(be);
    /* the cpu backend refuses tf32 with its own reason */
    be = NULL;
    assert_int_equal(cx_backend_select("cpu", CX_PRECISION_TF32, 1, &be, &ch, &e),
                     CX_ERR_UNSUPPORTED);
    assert_null(be);
    assert_non_null(strstr(e.msg, "tf32"));
}

static void test_bad_names(void **state)
{
    (void)state;
    static const char *bad[] = {"gpu",        "cuda:", "cuda:-1", "cuda:x", "cuda:1x",
                                "cuda:99999", "CPU",   "",        "cuda0",  "cuda:+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cx_backend *be = (cx_backend *)&be; /* must be reset to NULL */
        cx_error e;
        assert_int_equal(cx_backend_select(bad[i], CX_PRECISION_FP32, 1, &be, NULL, &e),
                         CX_ERR_ARG);
        assert_null(be);
        assert_non_null(strstr(e.msg, "auto, cpu, cuda, cuda:N"));
    }
}

static void test_auto(void **state)
{
    (void)state;
    cx_backend *be = NULL;
    cx_device_choice ch;
    cx_error e;
    assert_int_equal(cx_backend_select("auto", CX_PRECISION_FP32, 1, &be, &ch, &e), CX_OK);
    print_message("auto picked: %s\n", ch.report);
    if (have_gpu()) {
        assert_string_equal(be->name, "cuda");
        assert_int_equal(ch.device, 0);
        assert_non_null(strstr(ch.report, "cuda:0 ("));
    } else {
        /* falls back, and says why */
        assert_string_equal(be->name, "cpu");
        assert_string_equal(ch.backend, "cpu");
        assert_non_null(strstr(ch.report, "; auto: "));
        assert_true(strstr(ch.report, "no CUDA device") || strstr(ch.report, "not built"));
    }
    cx_backend_destroy(be);
    /* NULL means auto as well */
    be = NULL;
    assert_int_equal(cx_backend_select(NULL, CX_PRECISION_FP32, 1, &be, NULL, &e), CX_OK);
    assert_non_null(be);
    cx_backend_destroy(be);
}

static void test_cuda_absent(void **state)
{
    (void)state;
    if (have_gpu())
        skip(); /* the parity test covers the present case */
    static const char *names[] = {"cuda", "cuda:0", "cuda:3"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cx_backend *be = NULL;
        cx_error e;
        cx_err rc = cx_backend_select(names[i], CX_PRECISION_FP32, 1, &be, NULL, &e);
        assert_true(rc == CX_ERR_DEVICE || rc == CX_ERR_UNSUPPORTED);
        assert_null(be);
        assert_true(strstr(e.msg, "no CUDA device") || strstr(e.msg, "not built"));
    }
    cx_backend *be = NULL;
    cx_error e;
    cx_err rc = cx_backend_create("cuda", CX_PRECISION_FP32, 1, &be, &e);
    assert_true(rc == CX_ERR_DEVICE || rc == CX_ERR_UNSUPPORTED);
    assert_null(be);
    int n = 5;
    assert_int_not_equal(cx_cuda_device_count(&n, &e), CX_OK);
    assert_int_equal(n, 0);
    /* pinned memory needs the driver: a clean NULL with a reason, never a crash */
    void *p = cx_cuda_pinned_alloc(NULL, 4096, &e);
    assert_null(p);
    assert_true(e.msg[0] != '\0');
    cx_cuda_pinned_free(NULL, NULL, 0);
    char cpus[64] = "x";
    assert_int_not_equal(cx_cuda_device_cpulist(0, cpus, sizeof cpus, &e), CX_OK);
    assert_string_equal(cpus, "");
}

static void test_cuda_present(void **state)
{
    (void)state;
    if (!have_gpu())
        skip();
    cx_backend *be = NULL;
    cx_device_choice ch;
    cx_error e;
    assert_int_equal(cx_backend_select("cuda:0", CX_PRECISION_TF32, 1, &be, &ch, &e), CX_OK);
    assert_string_equal(be->name, "cuda");
    assert_int_equal(be->precision, CX_PRECISION_TF32);
    assert_non_null(strstr(ch.report, "tf32"));
    cx_backend_destroy(be);
    int n = 0;
    assert_int_equal(cx_cuda_device_count(&n, &e), CX_OK);
    be = NULL;
    char name[32];
    snprintf(name, sizeof name, "cuda:%d", n); /* one past the last GPU */
    assert_int_equal(cx_backend_select(name, CX_PRECISION_FP32, 1, &be, NULL, &e), CX_ERR_DEVICE);
    assert_null(be);
}

static void test_gemm_rate(void **state)
{
    (void)state;
    cx_backend *be = NULL;
    cx_error e;
    double gf = -1.0;
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 1, &be, &e), CX_OK);
    assert_int_equal(cx_backend_gemm_gflops(be, 1, 0, 67, 33, 129, 0.02, &gf, &e), CX_OK);
    print_message("cpu sgemm 67x33x129 (TN): %.2f GFLOP/s\n", gf);
    assert_true(gf > 0.0);
    assert_int_equal(cx_backend_gemm_gflops(be, 0, 0, 0, 33, 129, 0.02, &gf, &e), CX_ERR_ARG);
    assert_true(gf == 0.0);
    cx_backend_destroy(be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu),          cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_auto),         cmocka_unit_test(test_cuda_absent),
        cmocka_unit_test(test_cuda_present), cmocka_unit_test(test_gemm_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
