/* test_io_parse_record_limit.c — the schema's max_record_bytes bounds the record carried
 * between chunks: an unterminated quoted CSV field or an endless JSONL line fails its blob. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cx_io.h"

#define LIMIT 256
#define CHUNK 64

static cx_dataset_schema *schema(const char *spec)
{
    json_t *j;
    cx_error e;
    assert_int_equal(cx_json_parse(spec, strlen(spec), &j, &e), CX_OK);
    cx_dataset_schema *s = NULL;
    cx_err rc = cx_dataset_schema_from_json(j, &s, &e);
    json_decref(j);
    if (rc != CX_OK)
        fail_msg("%s", e.msg);
    return s;
}

/* Feeds blob 0 (bad) and blob 1 (good) CHUNK bytes at a time. Returns where blob 0's
 * feed failed (its length when it did not) and its error. */
static size_t feed_two(cx_dataset_schema *s, cx_data_format fmt, const char *bad, size_t bad_len,
                       const char *good, cx_error *bad_e, cx_dataset **out)
{
    cx_parser *p = NULL;
    cx_error e;
    assert_int_equal(cx_parser_new(s, fmt, 2, &p, &e), CX_OK);
    size_t off = 0, failed_at = bad_len;
    while (off < bad_len) {
        size_t k = bad_len - off < CHUNK ? bad_len - off : CHUNK;
        if (cx_parser_feed(p, 0, bad + off, k, off + k == bad_len, bad_e) != CX_OK) {
            failed_at = off + k;
            break;
        }
        off += k;
    }
    assert_int_equal(cx_parser_feed(p, 1, good, strlen(good), 1, &e), CX_OK);
    *out = NULL;
    if (cx_parser_finalize(p, out, &e) != CX_OK)
        fail_msg("finalize: %s", e.msg);
    cx_parser_free(p);
    return failed_at;
}

static char *unterminated_csv(size_t *len)
{
    const size_t body = 64 * 1024;
    char *buf = malloc(body + 64);
    assert_non_null(buf);
    size_t n = (size_t)sprintf(buf, "a,b\n1,2\n3,\"SECRETVALUE");
    for (size_t i = 0; i < body; i += 8)
        n += (size_t)sprintf(buf + n, "zzzzzzz\n");
    *len = n;
    return buf;
}

static void test_csv_unterminated_quote_fails_blob(void **state)
{
    (void)state;
    cx_dataset_schema *s = schema("{\"max_record_bytes\": 256}");
    size_t len;
    char *buf = unterminated_csv(&len);
    cx_error e;
    cx_dataset *ds;
    size_t at = feed_two(s, CX_DATA_CSV, buf, len, "a,b\n5,6\n", &e, &ds);
    /* failed as soon as the carry passed the limit, not at the end of the blob */
    assert_true(at < len);
    assert_true(at <= 8 + LIMIT + 2 * CHUNK);
    assert_int_equal(e.code, CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "blob 0"));
    assert_non_null(strstr(e.msg, "line 3"));
    assert_non_null(strstr(e.msg, "max_record_bytes (256 bytes)"));
    assert_null(strstr(e.msg, "SECRET"));
    assert_null(strstr(e.msg, "zzz"));
    /* the other blob goes on; the failed one is left out and says why */
    assert_int_equal(ds->n, 1);
    assert_true(ds->blobs[0].failed);
    assert_non_null(strstr(ds->blobs[0].error, "max_record_bytes"));
    assert_false(ds->blobs[1].failed);
    cx_dataset_free(ds);
    free(buf);
    cx_dataset_schema_free(s);
}

static void test_jsonl_long_line_fails_blob(void **state)
{
    (void)state;
    cx_dataset_schema *s = schema("{\"max_record_bytes\": 256}");
    char buf[4096];
    size_t n = (size_t)sprintf(buf, "{\"a\": 1}\n{\"a\": 2, \"b\": \"SECRET");
    memset(buf + n, 'z', 2000);
    n += 2000;
    n += (size_t)sprintf(buf + n, "\"}\n");
    cx_error e;
    cx_dataset *ds;
    size_t at = feed_two(s, CX_DATA_JSONL, buf, n, "{\"a\": 3}\n", &e, &ds);
    assert_true(at < n);
    assert_int_equal(e.code, CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "blob 0"));
    assert_non_null(strstr(e.msg, "line 2"));
    assert_non_null(strstr(e.msg, "256"));
    assert_null(strstr(e.msg, "SECRET"));
    assert_true(ds->blobs[0].failed);
    assert_int_equal(ds->n, 1);
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
}

/* A record spanning several chunks but within the limit (a quoted field with newlines)
 * still parses. */
static void test_record_within_limit_parses(void **state)
{
    (void)state;
    cx_dataset_schema *s = schema("{\"max_record_bytes\": 256, \"categorical\": {\"b\": null}}");
    char buf[512];
    size_t n = (size_t)sprintf(buf, "a,b\n1,\"");
    for (int i = 0; i < 20; i++)
        n += (size_t)sprintf(buf + n, "line%02d\n", i);
    n += (size_t)sprintf(buf + n, "\"\n2,x\n");
    cx_error e;
    cx_dataset *ds;
    size_t at = feed_two(s, CX_DATA_CSV, buf, n, "a,b\n3,y\n", &e, &ds);
    assert_int_equal(at, n);
    assert_false(ds->blobs[0].failed);
    assert_int_equal(ds->n, 3);
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
}

static void test_schema_key(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"max_record_bytes\": 0}", "{\"max_record_bytes\": \"1k\"}",
        "{\"max_record_bytes\": 1.5}", "{\"max_record_bytes\": 1e30}",
        "{\"max_record_byte\": 100}", /* unknown keys are still refused */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j;
        cx_error e;
        assert_int_equal(cx_json_parse(bad[i], strlen(bad[i]), &j, &e), CX_OK);
        cx_dataset_schema *s = NULL;
        assert_int_not_equal(cx_dataset_schema_from_json(j, &s, &e), CX_OK);
        assert_non_null(strstr(e.msg, "max_record_byte"));
        assert_null(s);
        json_decref(j);
    }
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_new(&s, NULL), CX_OK);
    assert_int_equal(cx_dataset_schema_set_max_record(s, 0, NULL), CX_ERR_ARG);
    assert_int_equal(cx_dataset_schema_set_max_record(s, CX_MAX_RECORD_BYTES_MAX + 1, NULL),
                     CX_ERR_ARG);
    assert_int_equal(cx_dataset_schema_set_max_record(s, 100, NULL), CX_OK);
    cx_dataset_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_unterminated_quote_fails_blob),
        cmocka_unit_test(test_jsonl_long_line_fails_blob),
        cmocka_unit_test(test_record_within_limit_parses),
        cmocka_unit_test(test_schema_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
