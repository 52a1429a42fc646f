/* test_io_store_walrus.c — the walrus: store against the loopback fixture server: exact
 * round trips (single blobs and manifests), and every misbehaviour the client must survive
 * or report clearly (drop, stall, 5xx, 429, 404, wrong length, ignored Range, 413, auth). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "io_store_testutil.h"

static fixture fx;

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (fixture_start(&fx, CX_WALRUS_FIXTURE) != 0) {
        fprintf(stderr, "walrus fixture could not start (python3?): skipping\n");
        exit(77);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_stop(&fx);
    curl_global_cleanup();
    return 0;
}

static cx_store *open_store(size_t part_size, unsigned parallel)
{
    cx_store_options o;
    memset(&o, 0, sizeof o);
    o.publisher = fx.base;
    o.aggregator = fx.base;
    o.part_size = part_size;
    o.parallel = parallel;
    o.backoff_base_ms = 20;
    o.backoff_max_ms = 200;
    o.low_speed_time_s = 1;
    o.connect_timeout_ms = 2000;
    cx_store *s = NULL;
    cx_error e;
    cx_err rc = cx_store_open("walrus:", &o, &s, &e);
    if (rc != CX_OK)
        fail_msg("open: %s", e.msg);
    return s;
}

static void put_bytes(cx_store *s, const uint8_t *p, size_t n, char id[CX_STORE_ID_MAX])
{
    mem_src m = {p, n, 0, 3000};
    cx_reader r = mem_reader(&m);
    cx_error e;
    cx_err rc = cx_store_put(s, &r, id, &e);
    if (rc != CX_OK)
        fail_msg("put %zu bytes: %s", n, e.msg);
}

static void expect_exact(cx_store *s, const char *id, const uint8_t *p, size_t n)
{
    uint8_t *got = NULL;
    size_t len = 0;
    cx_error e;
    cx_err rc = read_all(s, id, &got, &len, &e);
    if (rc != CX_OK)
        fail_msg("get %s: %s", id, e.msg);
    assert_int_equal(len, n);
    assert_true(n == 0 || memcmp(got, p, n) == 0);
    free(got);
}

/* Count GET requests whose Range header is open-ended (must never happen). */
static int log_count(const char *needle)
{
    char *log = fixture_call(&fx, "/_fixture/log", NULL);
    assert_non_null(log);
    int c = 0;
    for (const char *p = log; (p = strstr(p, needle)); p++)
        c++;
    free(log);
    return c;
}

/* Requests of one method in the fixture's log, and over how many TCP connections. */
static void log_conns(const char *method, int *requests, int *conns)
{
    char *log = fixture_call(&fx, "/_fixture/log", NULL);
    assert_non_null(log);
    json_t *j = NULL;
    assert_int_equal(cx_json_parse(log, strlen(log), &j, NULL), CX_OK);
    free(log);
    json_t *reqs = json_object_get(j, "requests");
    int64_t seen[256];
    int nseen = 0;
    *requests = 0;
    for (size_t i = 0; i < json_array_size(reqs); i++) {
        json_t *r = json_array_get(reqs, i);
        if (strcmp(json_string_value(json_object_get(r, "method")), method) != 0)
            continue;
        (*requests)++;
        int64_t c = json_integer_value(json_object_get(r, "conn"));
        int k = 0;
        while (k < nseen && seen[k] != c)
            k++;
        if (k == nseen && nseen < 256)
            seen[nseen++] = c;
    }
    *conns = nseen;
    json_decref(j);
}

static void test_roundtrip_sizes(void **state)
{
    (void)state;
    const size_t ps = 4096;
    cx_store *s = open_store(ps, 3);
    size_t sizes[] = {0, 1, ps - 1, ps, ps + 1, 3 * ps, 10 * ps + 17};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t *p = test_bytes(sizes[i], (uint32_t)i + 1);
        char id[CX_STORE_ID_MAX];
        put_bytes(s, p, sizes[i], id);
        assert_true(cx_store_id_valid(id));
        expect_exact(s, id, p, sizes[i]);
        cx_store_info st;
        cx_error e;
        assert_int_equal(cx_store_stat(s, id, &st, &e), CX_OK);
        assert_int_equal(st.size, sizes[i]);
        assert_int_equal(st.is_manifest, sizes[i] > ps);
        assert_int_equal(st.parts, sizes[i] > ps ? (sizes[i] + ps - 1) / ps : 1);
        /* Idempotent: the same bytes give the same id (alreadyCertified). */
        char id2[CX_STORE_ID_MAX];
        put_bytes(s, p, sizes[i], id2);
        assert_string_equal(id, id2);
        free(p);
    }
    cx_store_free(s);
}

static void test_magic_prefix_is_wrapped(void **state)
{
    (void)state;
    cx_store *s = open_store(4096, 2);
    const char *txt = CX_WALRUS_MANIFEST_MAGIC "{\"size\":1}";
    char id[CX_STORE_ID_MAX];
    put_bytes(s, (const uint8_t *)txt, strlen(txt), id);
    expect_exact(s, id, (const uint8_t *)txt, strlen(txt));
    cx_store_info st;
    cx_error e;
    assert_int_equal(cx_store_stat(s, id, &st, &e), CX_OK);
    assert_int_equal(st.is_manifest, 1);
    assert_int_equal(st.parts, 1);
    assert_int_equal(st.size, strlen(txt));
    cx_store_free(s);
}

static void test_drop_resumes_with_range(void **state)
{
    (void)state;
    cx_store *s = open_store(1 << 20, 2);
    size_t n = 300000;
    uint8_t *p = test_bytes(n, 7);
    char id[CX_STORE_ID_MAX];
    put_bytes(s, p, n, id);
    fixture_rules(&fx, "[{\"op\":\"get\",\"mode\":\"drop\",\"count\":2,\"drop_after\":70001}]");
    expect_exact(s, id, p, n);
    assert_int_equal(log_count("\"range\": \"bytes=70001-299999\""), 1);
    assert_int_equal(log_count("\"range\": \"bytes=140002-299999\""), 1);
    assert_int_equal(log_count("-\""), 0); /* never an open-ended range */
    free(p);
    cx_store_free(s);
}

static void test_drop_in_manifest_parts(void **state)
{
    (void)state;
    const size_t ps = 50000;
    cx_store *s = open_store(ps, 3);
    size_t n = 7 * ps + 123;
    uint8_t *p = test_bytes(n, 9);
    char id[CX_STORE_ID_MAX];
    put_bytes(s, p, n, id);
    fixture_rules(&fx, "[{\"op\":\"get\",\"mode\":\"drop\",\"count\":4,\"drop_after\":20000},"
                       "{\"op\":\"get\",\"mode\":\"500\",\"count\":2}]");
    expect_exact(s, id, p, n);
    assert_true(log_count("\"status\": 206") >= 3);
    free(p);
    cx_store_free(s);
}

static void test_parallel_parts_and_reuse(void **state)
{
    (void)state;
    const size_t ps = 40000;
    cx_store *s = open_store(ps, 4);
    size_t n = 8 * ps;
    uint8_t *p = test_bytes(n, 11);
    char id[CX_STORE_ID_MAX];
    fixture_rules(&fx, "[]");
    put_bytes(s, p, n, id);
    int reqs, conns;
    log_conns("PUT", &reqs, &conns);
    assert_int_equal(reqs, 9);  /* 8 parts + the manifest ... */
    assert_int_equal(conns, 1); /* ... over one kept-alive connection */
    fixture_rules(&fx, "[{\"op\":\"get\",\"mode\":\"slow\",\"count\":100,\"delay_ms\":40,"
                       "\"chunk\":8192}]");
    expect_exact(s, id, p, n);
    log_conns("GET", &reqs, &conns);
    assert_int_equal(reqs, 9);
    assert_true(conns <= 5); /* finished parts' connections are reused */
    char *log = fixture_call(&fx, "/_fixture/log", NULL);
    int maxin = 0;
    const char *m = strstr(log, "\"max_inflight\": ");
    assert_non_null(m);
    maxin = atoi(m + 16);
    free(log);
    assert_true(maxin >= 3); /* several parts were downloading at once */
    free(p);
    cx_store_free(s);
}

/* A consumer that stops reading stops the download: the server cannot push the whole
 * blob into the client (only its bounded buffers and the kernel's socket buffers fill). */
static void test_back_pressure(void **state)
{
    (void)state;
    const size_t ps = CX_WALRUS_MAX_BODY, n = 8 * ps;
    cx_store *s = open_store(ps, 2);
    uint8_t *p = test_bytes(n, 23);
    char id[CX_STORE_ID_MAX];
    put_bytes(s, p, n, id);
    fixture_rules(&fx, "[]");
    cx_reader r;
    cx_error e;
    assert_int_equal(cx_store_get(s, id, &r, &e), CX_OK);
    uint8_t *buf = malloc(1 << 20);
    size_t got = 0, off = 0;
    while (off < (1u << 20)) {
        assert_int_equal(r.read(r.ctx, buf, (1u << 20) - off, &got, &e), CX_OK);
        assert_true(got > 0);
        assert_memory_equal(buf, p + off, got);
        off += got;
    }
    usleep(1500 * 1000); /* the consumer is busy; downloads must stall, not buffer */
    char *log = fixture_call(&fx, "/_fixture/log", NULL);
    const char *bs = strstr(log, "\"bytes_sent\": ");
    assert_non_null(bs);
    long long sent = atoll(bs + 15);
    free(log);
    assert_true(sent < (long long)(n / 2)); /* far from the 80 MiB a buffering client takes */
    for (;;) {                              /* and the rest still arrives exactly */
        assert_int_equal(r.read(r.ctx, buf, 1 << 20, &got, &e), CX_OK);
        if (got == 0)
            break;
        assert_true(off + got <= n);
        assert_memory_equal(buf, p + off, got);
        off += got;
    }
    assert_int_equal(off, n);
    r.close(r.ctx);
    free(buf);
    free(p);
    cx_store_free(s);
}

static void test_500_then_ok_and_429(void **state)
{
    (void)state;
    cx_store *s = open_store(1 << 20, 2);
    uint8_t *p = test_bytes(5000, 13);
    char id[CX_STORE_ID_MAX];
    fixture_rules(&fx, "[{\"op\":\"put\",\"mode\":\"500\",\"count\":2},"
                       "{\"op\":\"get\",\"mode\":\"500\",\"count\":2},"
                       "{\"op\":\"get\",\"mode\":\"429\",\"count\":1,\"retry_after\":1}]");
    put_bytes(s, p, 5000, id);
    double t0 = cx_now_seconds();
    expect_exact(s, id, p, 5000);
    assert_true(cx_now_seconds() - t0 >= 0.9); /* Retry-After: 1 was honoured */
    assert_int_equal(log_count("\"status\": 500"), 4);
    assert_int_equal(log_count("\"status\": 429"), 1);
    free(p);
    cx_store_free(s);
}

static void test_retries_exhausted(void **state)
{
    (void)state;
    cx_store *s = open_store(1 << 20, 2);
    uint8_t *p = test_bytes(100, 15);
    char id[CX_STORE_ID_MAX];
    put_bytes(s, p, 100, id);
    fixture_rules(&fx, "[{\"op\":\"get\",\"mode\":\"500\",\"count\":1000}]");
    uint8_t *got;
    size_t len;
    cx_error e;
    assert_int_equal(read_all(s, id, &got, &len, &e), CX_ERR_NET);
    assert_non_null(strstr(e.msg, "gave up"));
    assert_non_null(strstr(e.msg, "simulated failure")); /* the JSON error body is quoted */
    assert_int_equal(log_count("\"status\": 500"), 7);   /* 1 + max_retries (6) */
    fixture_rules(&fx, "[{\"op\":\"put\",\"mode\":\"500\",\"count\":1000}]");
    mem_src m = {p, 100, 0, 0};
    cx_reader r = mem_reader(&m);
    assert_int_equal(cx_store_put(s, &r, id, &e), CX_ERR_NET);
    assert_non_null(strstr(e.msg, "gave up"));
    free(p);
    cx_store_free(s);
}

static void test_404(void **state)
{
    (void)state;
    cx_store *s = open_store(1 << 20, 2);
    fixture_rules(&fx, "[]");
    const char *missing = "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk";
    uint8_t *got;
    size_t len;
    cx_error e;
    assert_int_equal(read_all(s, missing, &got, &len, &e), CX_ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, missing));
    assert_non_null(strstr(e.msg, "expired"));
    assert_non_null(strstr(e.msg, "has not been found"));
    cx_store_info st;
    assert_int_equal(cx_store_stat(s, missing, &st, &e), CX_ERR_NOTFOUND);
    assert_int_equal(log_count("\"status\": 404"), 2); /* 404 is not retried */
    assert_int_equal(cx_store_stat(s, "../../etc/passwd", &st, &e), CX_ERR_ARG);
    cx_store_free(s);
}

static void test_wrong_length(void **state)
{
    (void)state;
    cx_store *s = open_store(1 << 20, 2);
    uint8_t *p = test_bytes(20000, 17);
    char id[CX_STORE_ID_MAX];
    put_bytes(s, p, 20000, id);
    fixture_rules(&fx, "[{\"op\":\"get\",\"mode\":\"wrong_length\",\"count\":1,\"extra\":100}]");
    uint8_t *got;
    size_t len;
    cx_error e;
    assert_int_equal(read_all(s, id, &got, &len, &e), CX_ERR_NET);
    assert_non_null(strstr(e.msg, "length differs"));
    /* In a manifest the part size is known: a short announcement is caught up front. */
    cx_store *s2 = open_store(8000, 2);
    put_bytes(s2, p, 20000, id);
    fixture_rules(&fx, "[{\"op\":\"get\",\"mode\":\"wrong_length\",\"count\":1,\"skip\":1,"
                       "\"extra\":100}]");
    assert_int_equal(read_all(s2, id, &got, &len, &e), CX_ERR_NET);
    assert_non_null(strstr(e.msg, "length differs"));
    assert_non_null(strstr(e.msg, "Content-Length 8100, expected 8000"));
    free(p);
    cx_store_free(s);
    cx_store_free(s2);
}

static void test_ignored_range_and_stall(void **state)
{
    (void)state;
    cx_store *s = open_store(1 << 20, 2);
    size_t n = 200000;
    uint8_t *p = test_bytes(n, 19);
    char id[CX_STORE_ID_MAX];
    put_bytes(s, p, n, id);
    /* Dropped, then the resume is answered 200 with the whole blob: the prefix we hold
     * must be skipped, not duplicated. */
    fixture_rules(&fx, "[{\"op\":\"get\",\"mode\":\"drop\",\"count\":1,\"drop_after\":65536},"
                       "{\"op\":\"get\",\"mode\":\"ignore_range\",\"count\":1}]");
    expect_exact(s, id, p, n);
    /* A stall longer than the low-speed window (1 s) is cut and resumed. */
    /* (libcurl averages speed over ~5 s, so the stall comes early in the body.) */
    fixture_rules(&fx, "[{\"op\":\"get\",\"mode\":\"stall\",\"count\":1,\"after\":1000,"
                       "\"stall_ms\":6000}]");
    double t0 = cx_now_seconds();
    expect_exact(s, id, p, n);
    assert_true(cx_now_seconds() - t0 < 5.5); /* cut after ~1-2 s, not waited out */
    assert_int_equal(log_count("\"range\": \"bytes=1000-199999\""), 1);
    free(p);
    cx_store_free(s);
}

static void test_publisher_limit_token_invalid(void **state)
{
    (void)state;
    cx_store *s = open_store(20000, 2);
    uint8_t *p = test_bytes(50000, 21);
    char id[CX_STORE_ID_MAX];
    cx_error e;
    fixture_rules(&fx, "[]");
    free(fixture_call(&fx, "/_fixture/config", "{\"max_body\": 10000}"));
    mem_src m = {p, 50000, 0, 0};
    cx_reader r = mem_reader(&m);
    assert_int_equal(cx_store_put(s, &r, id, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "20000 bytes"));
    free(fixture_call(&fx, "/_fixture/config", "{\"max_body\": 10485760, \"token\": \"s3cret\"}"));
    m.off = 0;
    assert_int_equal(cx_store_put(s, &r, id, &e), CX_ERR_NET);
    assert_non_null(strstr(e.msg, "401"));
    cx_store_options o;
    memset(&o, 0, sizeof o);
    o.publisher = o.aggregator = fx.base;
    o.token = "s3cret";
    o.part_size = 20000;
    o.backoff_base_ms = 20;
    o.backoff_max_ms = 100;
    cx_store *st = NULL;
    assert_int_equal(cx_store_open("walrus:", &o, &st, &e), CX_OK);
    m.off = 0;
    assert_int_equal(cx_store_put(st, &r, id, &e), CX_OK);
    expect_exact(st, id, p, 50000);
    free(fixture_call(&fx, "/_fixture/config", "{\"token\": null}"));
    fixture_rules(&fx, "[{\"op\":\"put\",\"mode\":\"invalid\",\"count\":1}]");
    m.off = 0;
    m.len = 10;
    assert_int_equal(cx_store_put(st, &r, id, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "markedInvalid"));
    fixture_rules(&fx, "[{\"op\":\"put\",\"mode\":\"error_result\",\"count\":100}]");
    m.off = 0;
    assert_int_equal(cx_store_put(st, &r, id, &e), CX_ERR_NET);
    assert_non_null(strstr(e.msg, "not enough WAL"));
    fixture_rules(&fx, "[]");
    free(p);
    cx_store_free(s);
    cx_store_free(st);
}

/* Nothing listens: connection errors are retried, then reported; and the time budget
 * ends retrying before the attempt count does. */
static void test_connect_errors_and_time_bound(void **state)
{
    (void)state;
    cx_store_options o;
    memset(&o, 0, sizeof o);
    o.publisher = o.aggregator = "http://127.0.0.1:9"; /* discard port: closed here */
    o.max_retries = 2;
    o.backoff_base_ms = 10;
    o.backoff_max_ms = 20;
    cx_store *s = NULL;
    cx_error e;
    assert_int_equal(cx_store_open("walrus:", &o, &s, &e), CX_OK);
    uint8_t *got;
    size_t len;
    const char *id = "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk";
    assert_int_equal(read_all(s, id, &got, &len, &e), CX_ERR_NET);
    assert_non_null(strstr(e.msg, "gave up after 3 attempts"));
    cx_store_info st;
    assert_int_equal(cx_store_stat(s, id, &st, &e), CX_ERR_NET);
    assert_non_null(strstr(e.msg, "gave up after 3 attempts"));
    cx_store_free(s);

    cx_store *b = NULL;
    memset(&o, 0, sizeof o);
    o.publisher = o.aggregator = fx.base;
    o.max_retries = 1000;
    o.backoff_base_ms = 100;
    o.backoff_max_ms = 100;
    o.total_timeout_ms = 600;
    assert_int_equal(cx_store_open("walrus:", &o, &b, &e), CX_OK);
    uint8_t one = 1;
    char bid[CX_STORE_ID_MAX];
    put_bytes(b, &one, 1, bid);
    fixture_rules(&fx, "[{\"op\":\"get\",\"mode\":\"500\",\"count\":100000}]");
    double t0 = cx_now_seconds();
    assert_int_equal(read_all(b, bid, &got, &len, &e), CX_ERR_NET);
    assert_true(cx_now_seconds() - t0 < 3.0);
    assert_non_null(strstr(e.msg, "gave up"));
    fixture_rules(&fx, "[]");
    cx_store_free(b);
}

static void test_url_parsing(void **state)
{
    (void)state;
    cx_store *s = NULL;
    cx_error e;
    assert_int_equal(cx_store_open("walrus:", NULL, &s, &e), CX_OK);
    assert_string_equal(cx_store_kind(s), "walrus");
    cx_store_free(s);
    char url[256];
    snprintf(url, sizeof url, "walrus:?publisher=%s/&aggregator=%s&epochs=5", fx.base, fx.base);
    assert_int_equal(cx_store_open(url, NULL, &s, &e), CX_OK);
    uint8_t b[3] = {1, 2, 3};
    char id[CX_STORE_ID_MAX];
    put_bytes(s, b, 3, id);
    expect_exact(s, id, b, 3);
    assert_true(log_count("epochs=5") >= 1);
    cx_store_free(s);
    assert_int_equal(cx_store_open("walrus:?epochs=0", NULL, &s, &e), CX_ERR_ARG);
    assert_int_equal(cx_store_open("walrus:?bogus=1", NULL, &s, &e), CX_ERR_ARG);
    assert_int_equal(cx_store_open("walrus:?publisher=ftp://x", NULL, &s, &e), CX_ERR_ARG);
    assert_int_equal(cx_store_open("s3:bucket", NULL, &s, &e), CX_ERR_ARG);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_sizes),
        cmocka_unit_test(test_magic_prefix_is_wrapped),
        cmocka_unit_test(test_drop_resumes_with_range),
        cmocka_unit_test(test_drop_in_manifest_parts),
        cmocka_unit_test(test_parallel_parts_and_reuse),
        cmocka_unit_test(test_back_pressure),
        cmocka_unit_test(test_500_then_ok_and_429),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_404),
        cmocka_unit_test(test_wrong_length),
        cmocka_unit_test(test_ignored_range_and_stall),
        cmocka_unit_test(test_publisher_limit_token_invalid),
        cmocka_unit_test(test_connect_errors_and_time_bound),
        cmocka_unit_test(test_url_parsing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
