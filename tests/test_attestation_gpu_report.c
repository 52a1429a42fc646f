/* test_attestation_gpu_report.c — the SPDM report parser on the real nvtrust H100 sample:
 * every field has the MANIFEST value, and every truncation or inconsistency is refused. */
#include "attestation_gpu_testutil.h"

static void test_sample_fields(void **state)
{
    (void)state;
    sample s;
    sample_load(&s);
    cx_gpu_report *r = malloc(sizeof *r);
    assert_non_null(r);
    cx_error e;
    assert_int_equal(cx_gpu_report_parse(s.report, s.report_len, r, &e), CX_OK);
    assert_int_equal(r->total_len, 4117);
    assert_int_equal(r->signed_len, 4021);
    assert_int_equal(r->req_version, 0x11);
    assert_int_equal(r->req_code, 0xE0);
    assert_int_equal(r->req_param1, 0x01);
    assert_int_equal(r->req_param2, 0xFF);
    assert_int_equal(r->resp_version, 0x11);
    assert_int_equal(r->resp_code, 0x60);
    uint8_t nonce[CX_GPU_NONCE_LEN];
    sample_nonce(nonce);
    assert_memory_equal(r->nonce, nonce, CX_GPU_NONCE_LEN);
    assert_int_equal(r->num_blocks, 64);
    assert_int_equal(r->n_meas, 64);
    assert_int_equal(r->record_len, 3520);
    for (size_t i = 0; i < r->n_meas; i++) {
        assert_int_equal(r->meas[i].index, i + 1);
        assert_int_equal(r->meas[i].spec, 0x01);
        assert_int_equal(r->meas[i].value_len, 48);
    }
    assert_int_equal(r->opaque_len, 422);
    assert_string_equal(r->driver_version, "550.90.07");
    assert_string_equal(r->vbios_version, "96.00.9f.00.01");
    assert_true(r->has_fwid);
    assert_true(r->n_opaque > 5);
    assert_memory_equal(r->signature, s.report + 4021, CX_GPU_SIG_LEN);
    free(r);
    sample_free(&s);
}

/* Every proper prefix is refused as a format error naming a field; none crashes. */
static void test_truncations(void **state)
{
    (void)state;
    sample s;
    sample_load(&s);
    cx_gpu_report *r = malloc(sizeof *r);
    assert_non_null(r);
    cx_error e;
    for (size_t n = 0; n < s.report_len; n++) {
        cx_err rc = cx_gpu_report_parse(s.report, n, r, &e);
        assert_int_equal(rc, CX_ERR_FORMAT);
        assert_non_null(strstr(e.msg, "format:"));
    }
    assert_int_equal(cx_gpu_report_parse(s.report, 100, r, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "truncated"));
    free(r);
    sample_free(&s);
}

static void test_inconsistencies(void **state)
{
    (void)state;
    sample s;
    sample_load(&s);
    cx_gpu_report *r = malloc(sizeof *r);
    uint8_t *b = malloc(s.report_len + 1);
    assert_non_null(r);
    assert_non_null(b);
    cx_error e;
    struct {
        size_t off;
        uint8_t val;
        const char *want;
    } cases[] = {
        {0, 0x10, "SPDMVersion"},        {1, 0xE1, "GET_MEASUREMENTS"},
        {2, 0x00, "signature"},          {3, 0x01, "Param2"},
        {38, 0x61, "MEASUREMENTS"},      {41, 63, "more than 63"},
        {42, 0xC1, "MeasurementRecord"}, {45, 0x00, "index"},
        {46, 0x02, "specification"},     {50, 47, "value size"},
        {45 + 55, 0x01, "repeated"},     {45 + 3520 + 32, 0xA7, "opaque"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(b, s.report, s.report_len);
        b[cases[i].off] = cases[i].val;
        assert_int_equal(cx_gpu_report_parse(b, s.report_len, r, &e), CX_ERR_FORMAT);
        if (!strstr(e.msg, cases[i].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, e.msg, cases[i].want);
    }
    /* a trailing byte */
    memcpy(b, s.report, s.report_len);
    b[s.report_len] = 0;
    assert_int_equal(cx_gpu_report_parse(b, s.report_len + 1, r, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "trailing"));
    free(b);
    free(r);
    sample_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_fields),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_inconsistencies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
