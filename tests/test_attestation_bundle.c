/* test_attestation_bundle.c — the result bundle JSON around the committed statement vector:
 * written and read back, strict parsing, and a statement of 100000 contributors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_attest.h"
#include "proto_statement_vector.h"

/* b written to a bundle file in a fresh directory and read back into r (the file is gone after). */
static void bundle_file_roundtrip(const cx_result_bundle *b, cx_result_bundle *r)
{
    char dir[] = "/tmp/cx_bundle_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/result.json", dir);
    cx_error e;
    if (cx_result_bundle_write(b, path, &e) != CX_OK)
        fail_msg("write: %s", e.msg);
    cx_err rc = cx_result_bundle_read(path, r, &e);
    unlink(path);
    rmdir(dir);
    if (rc != CX_OK)
        fail_msg("read: %s", e.msg);
}

static void test_bundle(void **state)
{
    (void)state;
    cx_statement s;
    cx_statement_rows rows[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    vector_statement(&s, rows, rej, mets);
    cx_result_bundle b;
    memset(&b, 0, sizeof b);
    assert_int_equal(cx_statement_encode(&s, 5, &b.statement, &b.statement_len, NULL), CX_OK);
    uint8_t seed[32] = {9};
    assert_int_equal(cx_ed25519_sign(seed, b.statement, b.statement_len, b.signature, NULL), CX_OK);
    memset(b.public_key, 0xab, 32);
    b.has_enclave_id = 1;
    memset(b.enclave_id, 0xcd, 32);
    static uint8_t report[300];
    for (size_t i = 0; i < sizeof report; i++)
        report[i] = (uint8_t)(i * 7);
    b.tee_report = report;
    b.tee_report_len = sizeof report;
    cx_error e;
    cx_result_bundle r;
    bundle_file_roundtrip(&b, &r);
    assert_int_equal(r.statement_len, b.statement_len);
    assert_memory_equal(r.statement, b.statement, b.statement_len);
    assert_memory_equal(r.signature, b.signature, 64);
    assert_memory_equal(r.public_key, b.public_key, 32);
    assert_int_equal(r.has_enclave_id, 1);
    assert_memory_equal(r.enclave_id, b.enclave_id, 32);
    assert_int_equal(r.tee_report_len, sizeof report);
    assert_memory_equal(r.tee_report, report, sizeof report);
    assert_null(r.gpu_evidence);
    cx_result_bundle_free(&r);

    /* strict parsing: each broken variant is refused with a reason naming the key */
    char *text;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, NULL), CX_OK);
    json_t *j;
    assert_int_equal(cx_json_parse(text, strlen(text), &j, NULL), CX_OK);
    free(text);
    static const struct {
        const char *key, *value, *reason;
    } bad[] = {
        {"format", "cloakx-result-bundle/2", "format"},
        {"signature", "00", "signature"},
        {"public_key", "zz", "public_key"},
        {"statement", "00", "statement"},
        {"tee_report", "", "tee_report"},
        {"tee_report", "!!!!", "tee_report"},
        {"enclave_id", "0x12", "enclave_id"},
        {"extra", "1", "extra"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *c = json_deep_copy(j);
        assert_non_null(c);
        assert_int_equal(json_object_set_new(c, bad[i].key, json_string(bad[i].value)), 0);
        char *t = cx_json_dumps(c, 0);
        assert_non_null(t);
        cx_result_bundle x;
        assert_int_not_equal(cx_result_bundle_parse(t, strlen(t), &x, &e), CX_OK);
        if (!strstr(e.msg, bad[i].reason))
            fail_msg("case %zu: message \"%s\" does not name %s", i, e.msg, bad[i].reason);
        free(t);
        json_decref(c);
    }
    /* a missing required key */
    json_t *c = json_deep_copy(j);
    assert_int_equal(json_object_del(c, "signature"), 0);
    char *t = cx_json_dumps(c, 0);
    cx_result_bundle x;
    assert_int_equal(cx_result_bundle_parse(t, strlen(t), &x, &e), CX_ERR_FORMAT);
    free(t);
    json_decref(c);
    json_decref(j);

    /* RULES.md §5: GPU evidence and report up to 1 MiB; 1 MiB exactly (base64 with padding)
     * is accepted, one byte more refused */
    uint8_t *ev = calloc(1, CX_BUNDLE_REPORT_MAX + 1);
    assert_non_null(ev);
    b.gpu_evidence = ev;
    b.gpu_evidence_len = CX_BUNDLE_REPORT_MAX;
    assert_int_equal(cx_result_bundle_to_json(&b, &t, NULL), CX_OK);
    if (cx_result_bundle_parse(t, strlen(t), &x, &e) != CX_OK)
        fail_msg("1 MiB of GPU evidence refused: %s", e.msg);
    assert_int_equal(x.gpu_evidence_len, CX_BUNDLE_REPORT_MAX);
    cx_result_bundle_free(&x);
    free(t);
    b.gpu_evidence_len = CX_BUNDLE_REPORT_MAX + 1;
    assert_int_equal(cx_result_bundle_to_json(&b, &t, NULL), CX_OK);
    assert_int_equal(cx_result_bundle_parse(t, strlen(t), &x, &e), CX_ERR_FORMAT);
    free(t);
    free(ev);
    free(b.statement);
}

/* RULES.md §4 allows 100000 contributors in a statement (4 MB of rows): a bundle holding it
 * is written, read back and decoded; a statement over the bundle's cap is refused as a limit. */
static void test_bundle_max_contributors(void **state)
{
    (void)state;
    cx_statement s;
    cx_statement_rows two[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    vector_statement(&s, two, rej, mets);
    const size_t n = (size_t)100000 /* RULES.md §4 */;
    cx_statement_rows *rows = calloc(n, sizeof *rows);
    assert_non_null(rows);
    for (size_t i = 0; i < n; i++) {
        rows[i].contributor[0] = 0x10;
        rows[i].contributor[28] = (uint8_t)(i >> 24);
        rows[i].contributor[29] = (uint8_t)(i >> 16);
        rows[i].contributor[30] = (uint8_t)(i >> 8);
        rows[i].contributor[31] = (uint8_t)i;
        rows[i].rows = 1000 + i;
    }
    s.rows = rows;
    s.n_rows = n;
    s.n_rejected = 0; /* 100000 entries in all */
    cx_result_bundle b;
    memset(&b, 0, sizeof b);
    cx_error e;
    if (cx_statement_encode(&s, 5, &b.statement, &b.statement_len, &e) != CX_OK)
        fail_msg("encode: %s", e.msg);
    assert_true(b.statement_len > 4000000);
    assert_true(b.statement_len <= CX_BUNDLE_STATEMENT_MAX);
    uint8_t seed[32] = {9};
    assert_int_equal(cx_ed25519_sign(seed, b.statement, b.statement_len, b.signature, NULL), CX_OK);
    memset(b.public_key, 0xab, 32);
    static uint8_t report[1 << 20];
    b.tee_report = report;
    b.tee_report_len = sizeof report;
    b.gpu_evidence = report;
    b.gpu_evidence_len = sizeof report; /* every field at its largest at once */
    cx_result_bundle r;
    bundle_file_roundtrip(&b, &r); /* all 100000 contributors accepted */
    assert_int_equal(r.statement_len, b.statement_len);
    cx_statement d;
    assert_int_equal(cx_statement_decode(r.statement, r.statement_len, &d, NULL, &e), CX_OK);
    assert_int_equal(d.n_rows, n);
    assert_int_equal(d.rows[n - 1].rows, 1000 + n - 1);
    cx_statement_free(&d);
    cx_result_bundle_free(&r);

    /* the largest statement: 100000 rejected contributions with 64-byte blob ids */
    cx_statement_rejected *big_rej = calloc(n, sizeof *big_rej);
    assert_non_null(big_rej);
    for (size_t i = 0; i < n; i++) {
        memcpy(big_rej[i].contributor, rows[i].contributor, 32);
        memset(big_rej[i].blob_id, 0x5a, 64);
        big_rej[i].blob_id_len = 64;
        big_rej[i].reason = CX_REJECT_PARSE;
    }
    s.n_rows = 0;
    s.rejected = big_rej;
    s.n_rejected = n;
    free(b.statement);
    if (cx_statement_encode(&s, 5, &b.statement, &b.statement_len, &e) != CX_OK)
        fail_msg("encode: %s", e.msg);
    assert_true(b.statement_len > 9000000);
    assert_true(b.statement_len <= CX_BUNDLE_STATEMENT_MAX);
    assert_int_equal(cx_ed25519_sign(seed, b.statement, b.statement_len, b.signature, NULL), CX_OK);
    bundle_file_roundtrip(&b, &r);
    assert_int_equal(cx_statement_decode(r.statement, r.statement_len, &d, NULL, &e), CX_OK);
    assert_int_equal(d.n_rejected, n);
    cx_statement_free(&d);
    cx_result_bundle_free(&r);
    /* one entry more than 100000 in all: refused */
    s.n_rows = 1;
    uint8_t *over = NULL;
    size_t over_len = 0;
    assert_int_equal(cx_statement_encode(&s, 5, &over, &over_len, &e), CX_ERR_ARG);
    free(big_rej);

    /* a statement field over the cap: a limit error naming it */
    char *t = NULL;
    uint8_t *big = calloc(1, (size_t)CX_BUNDLE_STATEMENT_MAX + 1);
    assert_non_null(big);
    free(b.statement);
    b.statement = big;
    b.statement_len = (size_t)CX_BUNDLE_STATEMENT_MAX + 1;
    b.gpu_evidence = NULL;
    b.gpu_evidence_len = 0;
    assert_int_equal(cx_result_bundle_to_json(&b, &t, NULL), CX_OK);
    assert_int_equal(cx_result_bundle_parse(t, strlen(t), &r, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "statement"));
    free(t);
    free(big);
    free(rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_max_contributors),
        cmocka_unit_test(test_bundle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
