/* test_engine_job.c — the job pipeline's small pieces: dataset commitment (canonical order,
 * binding every field), job requests (round trip, strictness), durations, blob ids, and the
 * synthetic demo data (deterministic, parseable, learnable label present). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "job.h"

static void test_commitment(void **state)
{
    (void)state;
    cx_job_commit_item a[3], b[3];
    memset(a, 0, sizeof a);
    const char *ids[3] = {"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                          "ccccccccccccccccccccccccccccccccccccccccccc"};
    for (int i = 0; i < 3; i++) {
        strcpy(a[i].blob_id, ids[i]);
        memset(a[i].header_hash, 0x10 + i, 32);
        memset(a[i].tag_hash, 0x20 + i, 32);
    }
    memcpy(b, a, sizeof a);
    uint8_t c1[32], c2[32], want[32];
    assert_int_equal(cx_job_dataset_commitment(a, 3, c1, NULL), CX_OK);
    /* the same set in another order: the same commitment */
    cx_job_commit_item t = b[0];
    b[0] = b[2];
    b[2] = t;
    assert_int_equal(cx_job_dataset_commitment(b, 3, c2, NULL), CX_OK);
    assert_memory_equal(c1, c2, 32);
    /* independently: SHA-256 over (len, id, header hash, tag hash) in ascending id order */
    uint8_t buf[3 * (1 + 43 + 64)], *p = buf;
    const int order[3] = {1, 0, 2};
    for (int k = 0; k < 3; k++) {
        int i = order[k];
        *p++ = 43;
        memcpy(p, ids[i], 43);
        p += 43;
        memset(p, 0x10 + i, 32);
        p += 32;
        memset(p, 0x20 + i, 32);
        p += 32;
    }
    SHA256(buf, sizeof buf, want);
    assert_memory_equal(c1, want, 32);
    /* any changed tag changes it */
    memcpy(b, a, sizeof a);
    b[1].tag_hash[31] ^= 1;
    assert_int_equal(cx_job_dataset_commitment(b, 3, c2, NULL), CX_OK);
    assert_memory_not_equal(c1, c2, 32);
    /* the empty set is SHA-256 of nothing */
    assert_int_equal(cx_job_dataset_commitment(NULL, 0, c2, NULL), CX_OK);
    SHA256((const uint8_t *)"", 0, want);
    assert_memory_equal(c2, want, 32);
}

static void test_request(void **state)
{
    (void)state;
    json_t *spec = NULL;
    const char *st = cx_demo_spec_json();
    assert_int_equal(cx_json_parse(st, strlen(st), &spec, NULL), CX_OK);
    uint8_t x[32], back[32];
    for (int i = 0; i < 32; i++)
        x[i] = (uint8_t)i;
    char *req = NULL;
    size_t len = 0;
    assert_int_equal(cx_job_request_build(spec, x, &req, &len, NULL), CX_OK);
    cx_spec s;
    cx_error e;
    assert_int_equal(cx_job_request_parse((uint8_t *)req, len, &s, back, &e), CX_OK);
    assert_memory_equal(x, back, 32);
    assert_int_equal(s.privacy, 1);
    assert_int_equal(s.task, CX_TASK_CLASSIFICATION);
    cx_spec_free(&s);
    free(req);
    /* strict: unknown keys, another format, a short key, a bad spec */
    const char *bad[] = {
        "{\"format\":\"cloakx-job-request/1\",\"spec\":{\"task\":\"regression\",\"model\":"
        "{\"type\":\"linear\"}},\"buyer_x25519\":\"AAEC\"}",
        "{\"format\":\"cloakx-job-request/2\",\"spec\":{},\"buyer_x25519\":\"\"}",
        "{\"format\":\"cloakx-job-request/1\",\"spec\":{\"task\":\"x\"},\"buyer_x25519\":"
        "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}",
        "{\"format\":\"cloakx-job-request/1\",\"extra\":1}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(cx_job_request_parse((const uint8_t *)bad[i], strlen(bad[i]), &s,
                                                  back, &e),
                             CX_OK);
    json_decref(spec);
}

static void test_durations_ids(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(cx_job_parse_duration_ms("90", &v, NULL), CX_OK);
    assert_int_equal(v, 90000);
    assert_int_equal(cx_job_parse_duration_ms("1.5s", &v, NULL), CX_OK);
    assert_int_equal(v, 1500);
    assert_int_equal(cx_job_parse_duration_ms("15m", &v, NULL), CX_OK);
    assert_int_equal(v, 900000);
    assert_int_equal(cx_job_parse_duration_ms("2d", &v, NULL), CX_OK);
    assert_int_equal(v, 172800000);
    const char *bad[] = {"", "-1s", "0", "3w", "1hh", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(cx_job_parse_duration_ms(bad[i], &v, NULL), CX_OK);
    assert_int_equal(cx_job_parse_u64("18446744073709551615", "x", &v, NULL), CX_ERR_ARG);
    assert_int_equal(cx_job_parse_u64("-3", "x", &v, NULL), CX_ERR_ARG);
    char out[CX_STORE_ID_MAX];
    const char *good = "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0";
    assert_int_equal(cx_job_blob_id_str((const uint8_t *)good, strlen(good), out, NULL), CX_OK);
    assert_string_equal(out, good);
    assert_int_not_equal(cx_job_blob_id_str((const uint8_t *)"../etc/passwd", 13, out, NULL),
                         CX_OK);
}

static void test_demo_data(void **state)
{
    (void)state;
    uint8_t *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    assert_int_equal(cx_demo_data_csv(1, 3, 400, &a, &la, NULL), CX_OK);
    assert_int_equal(cx_demo_data_csv(1, 3, 400, &b, &lb, NULL), CX_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la); /* deterministic */
    cx_secmem_free(b);
    assert_int_equal(cx_demo_data_csv(1, 4, 400, &b, &lb, NULL), CX_OK);
    assert_true(la != lb || memcmp(a, b, la) != 0); /* cohorts differ */
    /* it parses under the demo spec's schema, both classes present */
    cx_dataset_schema *sc = NULL;
    json_t *j = json_pack("{s:s, s:s}", "label", "risk", "label_type", "class");
    assert_int_equal(cx_dataset_schema_from_json(j, &sc, NULL), CX_OK);
    cx_parser *p = NULL;
    cx_dataset *ds = NULL;
    assert_int_equal(cx_parser_new(sc, CX_DATA_CSV, 1, &p, NULL), CX_OK);
    assert_int_equal(cx_parser_feed(p, 0, a, la, 1, NULL), CX_OK);
    assert_int_equal(cx_parser_finalize(p, &ds, NULL), CX_OK);
    assert_int_equal(ds->n, 400);
    assert_int_equal(ds->d, 10);
    assert_int_equal(ds->n_classes, 2);
    size_t pos = 0;
    for (size_t i = 0; i < ds->n; i++)
        pos += ds->y[i] > 0.5f;
    assert_true(pos > 40 && pos < 360);
    cx_dataset_free(ds);
    cx_parser_free(p);
    cx_dataset_schema_free(sc);
    json_decref(j);
    cx_secmem_free(a);
    cx_secmem_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commitment),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_durations_ids),
        cmocka_unit_test(test_demo_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
