/* test_attestation_gpu_rim.c — NVIDIA RIM (SWID XML) files as reference measurements: the
 * nvtrust sample RIMs load (active indices, alternatives, versions), driver and VBIOS sets
 * must be disjoint, malformed XML is refused, and the sample report is compared with them. */
#include "attestation_gpu_testutil.h"

#define DRIVER_RIM CX_TESTDATA "/gpu/Driver_RIM_test_no_gpu.swidtag"
#define VBIOS_RIM CX_TESTDATA "/gpu/1010_0200_882_96005E0001_test_no_gpu.swidtag"

static void test_load_samples(void **state)
{
    (void)state;
    cx_gpu_reference *ref = NULL;
    cx_error e;
    assert_int_equal(cx_gpu_reference_load_rim(DRIVER_RIM, CX_GPU_RIM_DRIVER, &ref, &e), CX_OK);
    assert_int_equal(cx_gpu_reference_count(ref), 21); /* indices 7 and 21..40 are active */
    assert_true(cx_gpu_reference_from_rim(ref));
    assert_int_equal(cx_gpu_reference_load_rim(VBIOS_RIM, CX_GPU_RIM_VBIOS, &ref, &e), CX_OK);
    assert_int_equal(cx_gpu_reference_count(ref), 33); /* + 0..6, 8..12 */
    /* a second driver RIM, or overlapping indices, are refused and leave the set as it was */
    assert_int_equal(cx_gpu_reference_load_rim(DRIVER_RIM, CX_GPU_RIM_DRIVER, &ref, &e),
                     CX_ERR_FORMAT);
    assert_int_equal(cx_gpu_reference_count(ref), 33);
    cx_gpu_reference_free(ref);
    ref = NULL;
    assert_int_equal(cx_gpu_reference_load_rim(DRIVER_RIM, CX_GPU_RIM_DRIVER, &ref, &e), CX_OK);
    assert_int_equal(cx_gpu_reference_load_rim(DRIVER_RIM, CX_GPU_RIM_VBIOS, &ref, &e),
                     CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "disjoint"));
    assert_int_equal(cx_gpu_reference_count(ref), 21);
    cx_gpu_reference_free(ref);
}

/* The public sample RIMs are for driver 545.00 / VBIOS 96.00.5E.00.01, not the sample
 * report's: the comparison must say so (spec §5: no public matching RIM exists). */
static void test_compare_with_sample_report(void **state)
{
    (void)state;
    sample s;
    sample_load(&s);
    cx_gpu_reference *ref = NULL;
    cx_error e;
    assert_int_equal(cx_gpu_reference_load_rim(DRIVER_RIM, CX_GPU_RIM_DRIVER, &ref, &e), CX_OK);
    assert_int_equal(cx_gpu_reference_load_rim(VBIOS_RIM, CX_GPU_RIM_VBIOS, &ref, &e), CX_OK);
    cx_gpu_verify_result *r = malloc(sizeof *r);
    assert_non_null(r);
    cx_gpu_verify_opts o = {.reference = ref, .at_unix_ms = SAMPLE_AT_MS};
    assert_int_equal(
        cx_gpu_verify(s.report, s.report_len, (const char *)s.chain, s.chain_len, &o, r, &e),
        CX_ERR_VERIFY);
    assert_string_equal(r->failed, "driver_version");
    assert_non_null(strstr(e.msg, "545.00"));
    assert_int_equal(r->driver, CX_GPU_CHECK_FAILED);
    assert_int_equal(r->vbios, CX_GPU_CHECK_FAILED);
    assert_int_equal(r->measurements, CX_GPU_CHECK_FAILED);
    assert_int_equal(r->signature, CX_GPU_CHECK_PASSED); /* the report itself is genuine */
    assert_int_equal(r->rim, CX_GPU_CHECK_NOT_CHECKED);
    free(r);
    cx_gpu_reference_free(ref);
    sample_free(&s);
}

#define RIM_HEAD                                                                                   \
    "<SoftwareIdentity xmlns=\"http://standards.iso.org/iso/19770/-2/2015/schema.xsd\" "           \
    "xmlns:h=\"http://www.w3.org/2001/04/xmlenc#sha384\"><Meta colloquialVersion=\"1.0\"/>"

static void test_malformed(void **state)
{
    (void)state;
    const char *good = RIM_HEAD "<Payload><Resource index=\"4\" active=\"True\" "
                                "alternatives=\"2\" size=\"2\" h:Hash0=\"abcd\" h:Hash1=\"0102\"/>"
                                "<Resource index=\"5\" active=\"False\" alternatives=\"1\" "
                                "size=\"2\" h:Hash0=\"zz\"/></Payload></SoftwareIdentity>";
    cx_gpu_reference *ref = NULL;
    cx_error e;
    assert_int_equal(cx_gpu_reference_parse_rim(good, strlen(good), CX_GPU_RIM_VBIOS, &ref, &e),
                     CX_OK);
    assert_int_equal(cx_gpu_reference_count(ref), 1);
    cx_gpu_reference_free(ref);
    const char *bad[] = {
        "<SoftwareIdentity",
        "<Other/>",
        RIM_HEAD "</SoftwareIdentity>",
        RIM_HEAD "<Payload/></SoftwareIdentity>",
        RIM_HEAD "<Payload><Resource index=\"4\" active=\"True\" alternatives=\"2\" size=\"2\" "
                 "h:Hash0=\"abcd\"/></Payload></SoftwareIdentity>",
        RIM_HEAD "<Payload><Resource index=\"4\" active=\"True\" alternatives=\"1\" size=\"3\" "
                 "h:Hash0=\"abcd\"/></Payload></SoftwareIdentity>",
        RIM_HEAD "<Payload><Resource index=\"-1\" active=\"True\" alternatives=\"1\" size=\"2\" "
                 "h:Hash0=\"abcd\"/></Payload></SoftwareIdentity>",
        RIM_HEAD "<Payload><Resource index=\"4\" active=\"True\" alternatives=\"1\" size=\"2\" "
                 "Hash0=\"abcd\"/></Payload></SoftwareIdentity>",
        RIM_HEAD "<Payload><Resource index=\"4\" active=\"True\" alternatives=\"1\" size=\"2\" "
                 "h:Hash0=\"abcd\"/><Resource index=\"4\" active=\"True\" alternatives=\"1\" "
                 "size=\"2\" h:Hash0=\"abcd\"/></Payload></SoftwareIdentity>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ref = NULL;
        if (cx_gpu_reference_parse_rim(bad[i], strlen(bad[i]), CX_GPU_RIM_DRIVER, &ref, &e) ==
            CX_OK)
            fail_msg("RIM %zu accepted", i);
        assert_null(ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_samples),
        cmocka_unit_test(test_compare_with_sample_report),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
