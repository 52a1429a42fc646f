/* test_io_dict_secmem.c — the parsers' string dictionaries (category values, class names:
 * data) keep their strings in locked, wiped secure memory, pooled so that many values cost a
 * few mappings, and release all of it when freed (issue 13 item 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse_internal.h"

static uint64_t live(const cx_secmem_stats *s)
{
    return s->locked_bytes_live + s->unlocked_bytes_live;
}

static void test_dict_strings_in_secure_memory(void **state)
{
    (void)state;
    enum { N = 2000 };
    cx_secmem_stats before, during, after;
    cx_secmem_stats_get(&before);
    cx_dict d;
    cx_dict_init(&d);
    size_t bytes = 0;
    char v[64];
    for (int i = 0; i < N; i++) {
        int n = snprintf(v, sizeof v, "city-%d-of-the-data", i);
        bytes += (size_t)n + 1;
        assert_int_equal(cx_dict_intern(&d, v, (size_t)n), (uint32_t)i);
    }
    cx_secmem_stats_get(&during);
    /* every name's bytes are in secure memory, in a handful of pooled blocks */
    assert_true(live(&during) - live(&before) >= bytes);
    assert_true(during.allocs - before.allocs >= 1);
    assert_true(during.allocs - before.allocs <= 8);
    for (int i = 0; i < N; i += 97) {
        int n = snprintf(v, sizeof v, "city-%d-of-the-data", i);
        assert_int_equal(cx_dict_find(&d, v, (size_t)n), (uint32_t)i);
        assert_string_equal(d.names[i], v);
    }
    /* an interned name that is also a lookup key elsewhere is equal, not aliased */
    assert_int_equal(cx_dict_intern(&d, "city-5-of-the-data", 18), 5);
    cx_dict_free(&d);
    cx_secmem_stats_get(&after);
    assert_int_equal(live(&after), live(&before));
    assert_int_equal(after.frees - before.frees, during.allocs - before.allocs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dict_strings_in_secure_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
