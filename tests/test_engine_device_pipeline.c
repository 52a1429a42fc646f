/* test_engine_device_pipeline.c — the decrypt pipeline's device setup: nothing changes for the
 * cpu backend; for cuda, pinned chunk buffers and (on a GPU machine) CPUs near the GPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "device_pipeline.h"

static void test_cpu_untouched(void **state)
{
    (void)state;
    cx_device_choice ch = {.backend = "cpu", .device = -1};
    cx_device_pipeline dp;
    cx_pipeline_config cfg = {.threads = 3, .cpulist = NULL};
    assert_int_equal(cx_device_pipeline_setup(&ch, &dp, &cfg, NULL), 0);
    assert_null(cfg.allocator);
    assert_null(cfg.cpulist);
    assert_int_equal(cx_device_pipeline_setup(NULL, &dp, &cfg, NULL), 0);
    assert_null(cfg.allocator);
}

static void test_cuda(void **state)
{
    (void)state;
    cx_device_choice ch = {.backend = "cuda", .device = 0};
    cx_device_pipeline dp;
    cx_pipeline_config cfg = {.threads = 2};
    cx_logger quiet = {.level = CX_LOG_ERROR};
    assert_int_equal(cx_device_pipeline_setup(&ch, &dp, &cfg, &quiet), 1);
    assert_ptr_equal(cfg.allocator, &dp.pinned);
    cx_error e;
    int n = 0;
    void *p = cfg.allocator->alloc(cfg.allocator->ud, 65536, &e);
    if (cx_cuda_device_count(&n, &e) != CX_OK) {
        /* no GPU: the threads stay unbound and pinned memory is refused cleanly */
        assert_null(cfg.cpulist);
        assert_null(p);
        return;
    }
    assert_non_null(cfg.cpulist);
    assert_true(cfg.cpulist[0] != '\0');
    assert_non_null(p);
    memset(p, 0xA5, 65536);
    cfg.allocator->free(cfg.allocator->ud, p, 65536);
    /* an explicit binding is kept */
    cx_pipeline_config cfg2 = {.cpulist = "0"};
    assert_int_equal(cx_device_pipeline_setup(&ch, &dp, &cfg2, &quiet), 1);
    assert_string_equal(cfg2.cpulist, "0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cpu_untouched),
                                       cmocka_unit_test(test_cuda)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
