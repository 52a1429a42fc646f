/* test_io_parse_wipe.c — the text parsers leave no copy of a record's plaintext in freed heap
 * memory: free() is interposed here and every block freed during a parse is searched. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <malloc.h>

#include "cx_io.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define WIPE_NO_INTERPOSE 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WIPE_NO_INTERPOSE 1
#endif

/* Sanitizers own malloc/free; the check runs in the normal build only. */
#ifndef WIPE_NO_INTERPOSE
extern void __libc_free(void *p);

static const char *g_marker; /* plaintext that must not reach free() */
static size_t g_hits;

void free(void *p)
{
    if (p && g_marker) {
        size_t n = malloc_usable_size(p), m = strlen(g_marker);
        if (n >= m && memmem(p, n, g_marker, m) != NULL)
            g_hits++;
    }
    __libc_free(p);
}

/* Parse data in one piece under the watch of the free() hook; returns the hits. */
static size_t parse_watch_rc(cx_dataset_schema *s, cx_data_format fmt, const char *data,
                             const char *marker, cx_err want)
{
    cx_parser *p = NULL;
    cx_error e;
    assert_int_equal(cx_parser_new(s, fmt, 1, &p, &e), CX_OK);
    g_hits = 0;
    g_marker = marker;
    cx_err rc = cx_parser_feed(p, 0, data, strlen(data), 1, &e);
    cx_dataset *ds = NULL;
    if (rc == CX_OK)
        rc = cx_parser_finalize(p, &ds, &e);
    cx_parser_free(p);
    cx_dataset_free(ds);
    g_marker = NULL;
    assert_int_equal(rc, want);
    return g_hits;
}

static size_t parse_watch(cx_dataset_schema *s, cx_data_format fmt, const char *data,
                          const char *marker)
{
    return parse_watch_rc(s, fmt, data, marker, CX_OK);
}

/* Without a header the first record is data: splitting it for the column count must not
 * leave its text behind. */
static void test_csv_headerless_first_record_wiped(void **state)
{
    (void)state;
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_new(&s, NULL), CX_OK);
    assert_int_equal(cx_dataset_schema_set_csv(s, ',', 0, 0, NULL), CX_OK);
    size_t hits = parse_watch(s, CX_DATA_CSV, "7,31415.9265\n1,2\n", "31415.9265");
    cx_dataset_schema_free(s);
    assert_int_equal(hits, 0);
}

/* The same when that record is refused: the fields split so far are data too. */
static void test_csv_headerless_bad_first_record_wiped(void **state)
{
    (void)state;
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_new(&s, NULL), CX_OK);
    assert_int_equal(cx_dataset_schema_set_csv(s, ',', 0, 0, NULL), CX_OK);
    size_t hits = parse_watch_rc(s, CX_DATA_CSV, "31415.9265,\"x", "31415.9265", CX_ERR_FORMAT);
    cx_dataset_schema_free(s);
    assert_int_equal(hits, 0);
}

/* The first JSONL object names the columns and is data too; its escaped values are
 * decoded while its keys are read. */
static void test_jsonl_first_record_wiped(void **state)
{
    (void)state;
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_new(&s, NULL), CX_OK);
    size_t hits = parse_watch(s, CX_DATA_JSONL,
                              "{\"a\": \"\\u00312345.625\", \"b\": 2}\n"
                              "{\"a\": 3, \"b\": 4}\n",
                              "12345.625");
    cx_dataset_schema_free(s);
    assert_int_equal(hits, 0);
}

/* A number too long for the fast path goes to strtof through a heap copy. */
static void test_long_number_copy_wiped(void **state)
{
    (void)state;
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_new(&s, NULL), CX_OK);
    static const char digits[] = "14159265358979323846264338327950288419716939937510582097494459"
                                 "23078164062862089986280348253421170679821480865132823066470938"
                                 "4460955058223172535940812848111745028410270193852110555964462";
    char data[512];
    snprintf(data, sizeof data, "a,b\n3.%s,1\n", digits);
    size_t hits = parse_watch(s, CX_DATA_CSV, data, digits + 100);
    cx_dataset_schema_free(s);
    assert_int_equal(hits, 0);
}
#endif

int main(void)
{
#ifdef WIPE_NO_INTERPOSE
    return 77; /* skipped: the sanitizer's allocator cannot be interposed */
#else
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_headerless_first_record_wiped),
        cmocka_unit_test(test_csv_headerless_bad_first_record_wiped),
        cmocka_unit_test(test_jsonl_first_record_wiped),
        cmocka_unit_test(test_long_number_copy_wiped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
