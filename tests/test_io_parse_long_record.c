/* test_io_parse_long_record.c — a record longer than a chunk (a quoted CSV field of many
 * lines, a long JSONL line) is carried in time linear in its length, not quadratic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_io.h"

/* Linear work here is a few megabytes (well under a second even with sanitizers); a
 * rescan of the whole carry per line or chunk is terabytes. alarm() tells them apart
 * with a margin of several hundred times, so it measures no speed, only the order. */
#define LONG_RECORD_SECONDS 60

static cx_dataset *feed_chunked(cx_dataset_schema *s, cx_data_format fmt, const char *data,
                                size_t len, size_t chunk)
{
    cx_parser *p = NULL;
    cx_error e;
    assert_int_equal(cx_parser_new(s, fmt, 1, &p, &e), CX_OK);
    cx_err rc = CX_OK;
    size_t off = 0;
    while (rc == CX_OK && off < len) {
        size_t k = len - off < chunk ? len - off : chunk;
        rc = cx_parser_feed(p, 0, data + off, k, off + k == len, &e);
        off += k;
    }
    cx_dataset *ds = NULL;
    if (rc == CX_OK)
        rc = cx_parser_finalize(p, &ds, &e);
    if (rc != CX_OK)
        print_error("%s\n", e.msg);
    cx_parser_free(p);
    assert_int_equal(rc, CX_OK);
    return ds;
}

/* A quoted field of three million newlines, fed 4 KiB at a time: the carry grows a line
 * at a time and must not be rescanned from its start for every line. */
static void test_csv_quoted_multiline_field(void **state)
{
    (void)state;
    const size_t nl = (size_t)3 << 20;
    char *buf = malloc(nl + 64);
    assert_non_null(buf);
    size_t n = (size_t)sprintf(buf, "a,b\n1,\"");
    memset(buf + n, '\n', nl);
    n += nl;
    n += (size_t)sprintf(buf + n, "\"\n2,x\n");
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_new(&s, NULL), CX_OK);
    assert_int_equal(cx_dataset_schema_add_categorical(s, "b", NULL, 0, NULL), CX_OK);
    alarm(LONG_RECORD_SECONDS);
    cx_dataset *ds = feed_chunked(s, CX_DATA_CSV, buf, n, 4096);
    alarm(0);
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->d, 3); /* a, b=<the newlines>, b=x */
    assert_int_equal(ds->blobs[0].bad_rows, 0);
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
    free(buf);
}

/* One JSONL line of 12 MiB fed 8 bytes at a time: no chunk may rescan the carry. */
static void test_jsonl_long_line(void **state)
{
    (void)state;
    const size_t vl = (size_t)12 << 20;
    char *buf = malloc(vl + 64);
    assert_non_null(buf);
    size_t n = (size_t)sprintf(buf, "{\"a\": 1, \"b\": \"");
    memset(buf + n, 'v', vl);
    n += vl;
    n += (size_t)sprintf(buf + n, "\"}\n{\"a\": 2, \"b\": \"w\"}\n");
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_new(&s, NULL), CX_OK);
    assert_int_equal(cx_dataset_schema_add_categorical(s, "b", NULL, 0, NULL), CX_OK);
    alarm(LONG_RECORD_SECONDS);
    cx_dataset *ds = feed_chunked(s, CX_DATA_JSONL, buf, n, 8);
    alarm(0);
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->d, 3);
    assert_int_equal(ds->blobs[0].bad_rows, 0);
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_quoted_multiline_field),
        cmocka_unit_test(test_jsonl_long_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
