/* test_io_store_walrus_parse.c — Walrus publisher answers (the spec's examples, camelCase),
 * error bodies, blob-id form (spec §6.7 vectors) and the manifest parser's strictness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_internal.h"

static const char *NEWLY =
    "{\"newlyCreated\": {\"blobObject\": {\"id\":\"0x1234\", \"registeredEpoch\":34,"
    "\"blobId\":\"M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk\", \"size\":17,"
    "\"encodingType\":\"RS2\", \"certifiedEpoch\":34, \"storage\":{\"id\":\"0x5678\","
    "\"startEpoch\":34,\"endEpoch\":35,\"storageSize\":66034000}, \"deletable\":true},"
    "\"resourceOperation\": {\"registerFromScratch\":{\"encodedLength\":66034000,"
    "\"epochsAhead\":1}}, \"cost\": 132300}}";

static void test_store_responses(void **state)
{
    (void)state;
    char id[CX_STORE_ID_MAX];
    cx_walrus_result k;
    cx_error e;
    assert_int_equal(cx_walrus_parse_store_response(200, NEWLY, strlen(NEWLY), id, &k, &e), CX_OK);
    assert_string_equal(id, "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk");
    assert_int_equal(k, CX_WALRUS_NEWLY_CREATED);
    const char *ac =
        "{\"alreadyCertified\": {\"blobId\":\"9k95lgtG9iPU8yk_wYz8m8CUY1snveemF8ypfpBLUUg\","
        "\"event\":{\"txDigest\":\"abc\",\"eventSeq\":\"0\"}, \"endEpoch\":35}}";
    assert_int_equal(cx_walrus_parse_store_response(200, ac, strlen(ac), id, &k, &e), CX_OK);
    assert_string_equal(id, "9k95lgtG9iPU8yk_wYz8m8CUY1snveemF8ypfpBLUUg");
    assert_int_equal(k, CX_WALRUS_ALREADY_CERTIFIED);
    const char *mi =
        "{\"markedInvalid\": {\"blobId\":\"9k95lgtG9iPU8yk_wYz8m8CUY1snveemF8ypfpBLUUg\","
        "\"event\":{}}}";
    assert_int_equal(cx_walrus_parse_store_response(200, mi, strlen(mi), id, &k, &e),
                     CX_ERR_VERIFY);
    const char *er = "{\"error\": {\"blobId\":null, \"failurePhase\":\"certify\","
                     "\"errorMsg\":\"too few nodes\"}}";
    assert_int_equal(cx_walrus_parse_store_response(200, er, strlen(er), id, &k, &e), CX_ERR_NET);
    assert_non_null(strstr(e.msg, "too few nodes"));
    assert_non_null(strstr(e.msg, "certify"));
    const char *ge = "{\"error\": {\"code\": 413, \"status\": \"PAYLOAD_TOO_LARGE\", \"message\":"
                     "\"too big\", \"details\":[{\"@type\":\"ErrorInfo\",\"reason\":\"BIG\"}]}}";
    assert_int_equal(cx_walrus_parse_store_response(413, ge, strlen(ge), id, &k, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "too big"));
    assert_int_equal(cx_walrus_parse_store_response(413, "", 0, id, &k, &e), CX_ERR_LIMIT);
    /* snake_case (what the OpenAPI file claims) is not what the wire carries */
    const char *snake = "{\"newlyCreated\": {\"blob_object\": {\"blob_id\":"
                        "\"M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk\"}}}";
    assert_int_equal(cx_walrus_parse_store_response(200, snake, strlen(snake), id, &k, &e),
                     CX_ERR_FORMAT);
    const char *badid = "{\"alreadyCertified\": {\"blobId\":\"abc\"}}";
    assert_int_equal(cx_walrus_parse_store_response(200, badid, strlen(badid), id, &k, &e),
                     CX_ERR_FORMAT);
    assert_int_equal(cx_walrus_parse_store_response(200, "[1]", 3, id, &k, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_walrus_parse_store_response(502, "<html>bad gateway", 17, id, &k, &e),
                     CX_ERR_NET);
    assert_non_null(strstr(e.msg, "bad gateway"));
}

static void test_blob_id_form(void **state)
{
    (void)state;
    assert_true(cx_store_id_valid("9k95lgtG9iPU8yk_wYz8m8CUY1snveemF8ypfpBLUUg"));
    assert_true(cx_store_id_valid("M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk"));
    assert_false(cx_store_id_valid("M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK+W7/4BUk"));
    assert_false(cx_store_id_valid("M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BU"));
    assert_false(cx_store_id_valid(""));
    assert_false(cx_store_id_valid(NULL));
}

static void test_error_text(void **state)
{
    (void)state;
    char t[200];
    const char *b = "{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\",\"message\":\"gone\","
                    "\"details\":[{\"@type\":\"ErrorInfo\",\"reason\":\"BLOB_NOT_FOUND\"}]}}";
    cx_walrus_error_text(b, strlen(b), t, sizeof t);
    assert_string_equal(t, "NOT_FOUND: gone reason BLOB_NOT_FOUND");
    cx_walrus_error_text("a\nb\x01", 4, t, sizeof t);
    assert_string_equal(t, "a?b?");
    cx_walrus_error_text(NULL, 0, t, sizeof t);
    assert_string_equal(t, "(no body)");
}

static void test_manifest(void **state)
{
    (void)state;
    cx_walrus_manifest m = {0}, m2;
    cx_walrus_part parts[2];
    memset(parts, 0, sizeof parts);
    snprintf(parts[0].blob_id, CX_STORE_ID_MAX, "9k95lgtG9iPU8yk_wYz8m8CUY1snveemF8ypfpBLUUg");
    snprintf(parts[1].blob_id, CX_STORE_ID_MAX, "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk");
    parts[0].size = 100;
    parts[1].size = 7;
    parts[1].sha256[31] = 0xab;
    m.size = 107;
    m.part_size = 100;
    m.nparts = 2;
    m.parts = parts;
    char *txt;
    size_t len;
    cx_error e;
    assert_int_equal(cx_walrus_manifest_encode(&m, &txt, &len, &e), CX_OK);
    assert_int_equal(strncmp(txt, CX_WALRUS_MANIFEST_MAGIC, strlen(CX_WALRUS_MANIFEST_MAGIC)), 0);
    assert_int_equal(cx_walrus_manifest_parse((uint8_t *)txt, len, &m2, &e), CX_OK);
    assert_int_equal(m2.size, 107);
    assert_int_equal(m2.nparts, 2);
    assert_int_equal(m2.parts[1].size, 7);
    assert_int_equal(m2.parts[1].sha256[31], 0xab);
    assert_string_equal(m2.parts[0].blob_id, parts[0].blob_id);
    cx_walrus_manifest_free(&m2);
    free(txt);

#define ZH "0000000000000000000000000000000000000000000000000000000000000000"
#define MID "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk"
    struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"size\":5,\"part_size\":5,\"parts\":[{\"blob_id\":\"" MID
         "\",\"size\":4,\"sha256\":\"" ZH "\"}]}",
         "add up"},
        {"{\"size\":5,\"part_size\":4,\"parts\":[{\"blob_id\":\"" MID
         "\",\"size\":5,\"sha256\":\"" ZH "\"}]}",
         "\"size\""},
        {"{\"size\":5,\"part_size\":5,\"parts\":[{\"blob_id\":\"" MID
         "\",\"size\":5,\"sha256\":\"" ZH "\",\"x\":1}]}",
         "\"x\""},
        {"{\"size\":5,\"part_size\":5,\"parts\":[]}", "parts"},
        {"{\"size\":5,\"part_size\":5,\"parts\":[{\"blob_id\":\"" MID
         "\",\"size\":5,\"sha256\":\"0000\"}]}",
         "sha256"},
        {"{\"size\":5,\"part_size\":99999999,\"parts\":[]}", "part_size"},
        {"{\"size\":1,\"part_size\":1,\"parts\":[{\"blob_id\":\"../x\",\"size\":1,\"sha256\":\"" ZH
         "\"}]}",
         "blob_id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char buf[600];
        snprintf(buf, sizeof buf, "%s%s", CX_WALRUS_MANIFEST_MAGIC, bad[i].json);
        assert_int_equal(cx_walrus_manifest_parse((uint8_t *)buf, strlen(buf), &m2, &e),
                         CX_ERR_FORMAT);
        if (!strstr(e.msg, bad[i].needle))
            fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, bad[i].needle);
    }
    const char *nomagic = "{\"size\":1}";
    assert_int_equal(cx_walrus_manifest_parse((const uint8_t *)nomagic, strlen(nomagic), &m2, &e),
                     CX_ERR_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_responses),
        cmocka_unit_test(test_blob_id_form),
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_manifest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
