/* test_attestation_gpu_verify.c — the offline H100 evidence verifier on the real nvtrust
 * sample: it verifies, and each negative case (flipped byte, wrong nonce, truncated report,
 * swapped certificate, wrong root, expired, FWID, versions, measurements) fails by name. */
#include "attestation_gpu_testutil.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

typedef struct fx {
    sample s;
    cx_gpu_verify_result *r;
    uint8_t nonce[CX_GPU_NONCE_LEN];
    cx_gpu_verify_opts o;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    sample_load(&f->s);
    f->r = malloc(sizeof *f->r);
    assert_non_null(f->r);
    sample_nonce(f->nonce);
    f->o.expected_nonce = f->nonce;
    f->o.at_unix_ms = SAMPLE_AT_MS;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    sample_free(&f->s);
    free(f->r);
    free(f);
    return 0;
}

static cx_err run(fx *f, const uint8_t *rep, size_t rep_len, const char *chain, size_t chain_len,
                  cx_error *e)
{
    return cx_gpu_verify(rep, rep_len, chain, chain_len, &f->o, f->r, e);
}

static void test_sample_verifies(void **state)
{
    fx *f = *state;
    cx_error e;
    f->o.expected_driver = "550.90.07";
    f->o.expected_vbios = "96.00.9F.00.01"; /* NVML spells it upper-case; compared caselessly */
    assert_int_equal(
        run(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len, &e), CX_OK);
    const cx_gpu_verify_result *r = f->r;
    assert_int_equal(r->format, CX_GPU_CHECK_PASSED);
    assert_int_equal(r->nonce, CX_GPU_CHECK_PASSED);
    assert_int_equal(r->signature, CX_GPU_CHECK_PASSED);
    assert_int_equal(r->chain, CX_GPU_CHECK_PASSED);
    assert_int_equal(r->fwid, CX_GPU_CHECK_PASSED);
    assert_int_equal(r->driver, CX_GPU_CHECK_PASSED);
    assert_int_equal(r->vbios, CX_GPU_CHECK_PASSED);
    assert_int_equal(r->measurements, CX_GPU_CHECK_NOT_CHECKED);
    assert_int_equal(r->ocsp, CX_GPU_CHECK_NOT_CHECKED);
    assert_int_equal(r->rim, CX_GPU_CHECK_NOT_CHECKED);
    assert_string_equal(r->leaf_subject, "GH100 A01 GSP FMC LF");
    assert_int_equal(r->report.n_meas, 64);
    assert_string_equal(r->failed, "");
    /* now (the default time) is inside the validity too */
    f->o.at_unix_ms = 0;
    assert_int_equal(
        run(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len, &e), CX_OK);
}

static void expect_fail(fx *f, const uint8_t *rep, size_t rep_len, const char *chain,
                        size_t chain_len, cx_err want_rc, const char *want_failed)
{
    cx_error e;
    cx_err rc = run(f, rep, rep_len, chain, chain_len, &e);
    assert_int_equal(rc, want_rc);
    assert_string_equal(f->r->failed, want_failed);
    assert_non_null(strstr(e.msg, want_failed));
}

static void test_flipped_bytes(void **state)
{
    fx *f = *state;
    uint8_t *b = malloc(f->s.report_len);
    assert_non_null(b);
    /* a measurement value byte, a responder nonce byte, an opaque byte, a signature byte */
    size_t offs[] = {45 + 7 + 4 * 55, 45 + 3520 + 3, 45 + 3520 + 34 + 104, 4021 + 10, 4116};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        memcpy(b, f->s.report, f->s.report_len);
        b[offs[i]] ^= 0x01;
        expect_fail(f, b, f->s.report_len, (const char *)f->s.chain, f->s.chain_len, CX_ERR_VERIFY,
                    "signature");
        assert_int_equal(f->r->chain, CX_GPU_CHECK_PASSED);
    }
    free(b);
}

static void test_wrong_nonce(void **state)
{
    fx *f = *state;
    uint8_t other[CX_GPU_NONCE_LEN];
    memcpy(other, f->nonce, sizeof other);
    other[31] ^= 0x80;
    f->o.expected_nonce = other;
    expect_fail(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len,
                CX_ERR_VERIFY, "nonce");
    /* everything else about the report is still fine */
    assert_int_equal(f->r->signature, CX_GPU_CHECK_PASSED);
    /* a nonce changed inside the report breaks the signature instead */
    uint8_t *b = malloc(f->s.report_len);
    assert_non_null(b);
    memcpy(b, f->s.report, f->s.report_len);
    b[4 + 31] ^= 0x80;
    f->o.expected_nonce = other;
    cx_error e;
    assert_int_equal(run(f, b, f->s.report_len, (const char *)f->s.chain, f->s.chain_len, &e),
                     CX_ERR_VERIFY);
    assert_int_equal(f->r->nonce, CX_GPU_CHECK_PASSED);
    assert_int_equal(f->r->signature, CX_GPU_CHECK_FAILED);
    free(b);
}

static void test_truncated(void **state)
{
    fx *f = *state;
    expect_fail(f, f->s.report, f->s.report_len - 1, (const char *)f->s.chain, f->s.chain_len,
                CX_ERR_FORMAT, "format");
    expect_fail(f, f->s.report, 2000, (const char *)f->s.chain, f->s.chain_len, CX_ERR_FORMAT,
                "format");
}

/* Cut the PEM chain into its certificates (begin offsets). */
static size_t split_chain(const char *pem, size_t len, const char **starts, size_t *lens)
{
    size_t n = 0;
    const char *p = pem, *end = pem + len;
    while (n < 8 && (p = strstr(p, "-----BEGIN CERTIFICATE-----")) && p < end) {
        const char *q = strstr(p, "-----END CERTIFICATE-----");
        assert_non_null(q);
        q += strlen("-----END CERTIFICATE-----");
        if (*q == '\n')
            q++;
        starts[n] = p;
        lens[n] = (size_t)(q - p);
        n++;
        p = q;
    }
    return n;
}

static char *join(const char **starts, const size_t *lens, const int *order, size_t n,
                  size_t *out_len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += lens[order[i]];
    char *out = malloc(total + 1);
    assert_non_null(out);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + off, starts[order[i]], lens[order[i]]);
        off += lens[order[i]];
    }
    out[off] = '\0';
    *out_len = off;
    return out;
}

static void test_swapped_and_missing_certificates(void **state)
{
    fx *f = *state;
    const char *st[8];
    size_t ln[8];
    assert_int_equal(split_chain((const char *)f->s.chain, f->s.chain_len, st, ln), 5);
    size_t len;
    cx_error e;
    /* leaf and its issuer swapped: the chain breaks and the key is not the signer's */
    int swap01[] = {1, 0, 2, 3, 4};
    char *c = join(st, ln, swap01, 5, &len);
    assert_int_equal(run(f, f->s.report, f->s.report_len, c, len, &e), CX_ERR_VERIFY);
    assert_int_equal(f->r->chain, CX_GPU_CHECK_FAILED);
    assert_int_equal(f->r->signature, CX_GPU_CHECK_FAILED);
    free(c);
    /* two intermediates swapped: only the chain breaks */
    int swap23[] = {0, 1, 3, 2, 4};
    c = join(st, ln, swap23, 5, &len);
    expect_fail(f, f->s.report, f->s.report_len, c, len, CX_ERR_VERIFY, "chain");
    assert_int_equal(f->r->signature, CX_GPU_CHECK_PASSED);
    free(c);
    /* an identity certificate repeated in place of another */
    int dup[] = {0, 1, 1, 3, 4};
    c = join(st, ln, dup, 5, &len);
    expect_fail(f, f->s.report, f->s.report_len, c, len, CX_ERR_VERIFY, "chain");
    free(c);
    /* four certificates only */
    int four[] = {0, 1, 2, 3};
    c = join(st, ln, four, 4, &len);
    expect_fail(f, f->s.report, f->s.report_len, c, len, CX_ERR_VERIFY, "chain");
    free(c);
    /* a chain that is not PEM */
    expect_fail(f, f->s.report, f->s.report_len, "garbage", 7, CX_ERR_FORMAT, "format");
}

static void test_wrong_root(void **state)
{
    fx *f = *state;
    uint8_t *other = NULL;
    size_t other_len = 0;
    cx_error e;
    assert_int_equal(cx_file_read_all(GPU_DIR "nvidia_corim_signing_root_ca.pem", 1 << 20, &other,
                                      &other_len, &e),
                     CX_OK);
    f->o.root_pem = (const char *)other;
    f->o.root_pem_len = other_len;
    expect_fail(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len,
                CX_ERR_VERIFY, "chain");
    free(other);
    /* the testdata copy of the NVIDIA root is accepted as an explicit root */
    assert_int_equal(
        cx_file_read_all(GPU_DIR "nvidia_device_identity_ca.pem", 1 << 20, &other, &other_len, &e),
        CX_OK);
    f->o.root_pem = (const char *)other;
    f->o.root_pem_len = other_len;
    assert_int_equal(
        run(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len, &e), CX_OK);
    free(other);
}

/* The embedded pin is the NVIDIA Device Identity CA of spec §3.4 (DER SHA-256 102bf659…). */
static void test_embedded_root_pin(void **state)
{
    (void)state;
    const char *pem = cx_gpu_default_root_pem();
    BIO *b = BIO_new_mem_buf(pem, -1);
    assert_non_null(b);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(x);
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    assert_true(len > 0);
    unsigned char md[32];
    unsigned int mdlen = 0;
    assert_int_equal(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL), 1);
    char hex[65];
    assert_int_equal(cx_hex_encode(md, 32, hex, sizeof hex, NULL), CX_OK);
    assert_string_equal(hex, "102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48");
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(b);
}

static void test_validity_window(void **state)
{
    fx *f = *state;
    /* 10000-01-01T00:00:00Z: one second after every notAfter (9999-12-31 23:59:59) */
    f->o.at_unix_ms = 253402300800000LL;
    expect_fail(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len,
                CX_ERR_VERIFY, "expired");
    assert_int_equal(f->r->chain, CX_GPU_CHECK_FAILED);
    /* the last valid second */
    f->o.at_unix_ms = 253402300799000LL;
    cx_error e;
    assert_int_equal(
        run(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len, &e), CX_OK);
    /* 2021-01-01: before the root's notBefore (2021-11-05) */
    f->o.at_unix_ms = 1609459200000LL;
    expect_fail(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len,
                CX_ERR_VERIFY, "chain");
}

static void test_fwid_mismatch(void **state)
{
    fx *f = *state;
    cx_gpu_report *rep = malloc(sizeof *rep);
    assert_non_null(rep);
    cx_error e;
    assert_int_equal(cx_gpu_report_parse(f->s.report, f->s.report_len, rep, &e), CX_OK);
    size_t fwid_off = 0;
    for (size_t i = 0; i < rep->n_opaque; i++)
        if (rep->opaque[i].type == CX_GPU_OPAQUE_FWID)
            fwid_off = rep->opaque[i].offset;
    assert_true(fwid_off > 0);
    uint8_t *b = malloc(f->s.report_len);
    assert_non_null(b);
    memcpy(b, f->s.report, f->s.report_len);
    b[fwid_off + 47] ^= 0xff;
    assert_int_equal(run(f, b, f->s.report_len, (const char *)f->s.chain, f->s.chain_len, &e),
                     CX_ERR_VERIFY);
    assert_int_equal(f->r->fwid, CX_GPU_CHECK_FAILED);
    assert_int_equal(f->r->signature, CX_GPU_CHECK_FAILED); /* signed bytes changed too */
    free(b);
    free(rep);
}

static void test_versions(void **state)
{
    fx *f = *state;
    f->o.expected_driver = "550.90.08";
    expect_fail(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len,
                CX_ERR_VERIFY, "driver_version");
    f->o.expected_driver = NULL;
    f->o.expected_vbios = "96.00.9f.00.02";
    expect_fail(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len,
                CX_ERR_VERIFY, "vbios_version");
}

static void test_reference(void **state)
{
    fx *f = *state;
    cx_gpu_reference *ref = NULL;
    cx_error e;
    assert_int_equal(
        cx_gpu_reference_load(CX_TESTDATA "/gpu/reference_nvtrust_match.json", &ref, &e), CX_OK);
    assert_int_equal(cx_gpu_reference_count(ref), 64);
    f->o.reference = ref;
    assert_int_equal(
        run(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len, &e), CX_OK);
    assert_int_equal(f->r->measurements, CX_GPU_CHECK_PASSED);
    assert_int_equal(f->r->meas_compared, 64);
    assert_int_equal(f->r->driver, CX_GPU_CHECK_PASSED);
    cx_gpu_reference_free(ref);

    assert_int_equal(
        cx_gpu_reference_load(CX_TESTDATA "/gpu/reference_nvtrust_mismatch5.json", &ref, &e),
        CX_OK);
    f->o.reference = ref;
    expect_fail(f, f->s.report, f->s.report_len, (const char *)f->s.chain, f->s.chain_len,
                CX_ERR_VERIFY, "measurement 5");
    assert_int_equal(f->r->measurements, CX_GPU_CHECK_FAILED);
    assert_int_equal(f->r->signature, CX_GPU_CHECK_PASSED);
    cx_gpu_reference_free(ref);
    f->o.reference = NULL;

    /* malformed references are refused with the key named */
    const char *bad[] = {
        "[]",
        "{\"format\": \"cloakx-gpu-reference/v2\", \"measurements\": {}}",
        "{\"format\": \"cloakx-gpu-reference/v1\", \"measurements\": {\"0\": \"00\"}}",
        "{\"format\": \"cloakx-gpu-reference/v1\", \"measurements\": {\"1\": \"zz\"}}",
        "{\"format\": \"cloakx-gpu-reference/v1\", \"measurements\": {\"1\": []}}",
        "{\"format\": \"cloakx-gpu-reference/v1\", \"measurements\": {\"1\": 5}}",
        "{\"format\": \"cloakx-gpu-reference/v1\", \"measurements\": {}, \"extra\": 1}",
        "{\"format\": \"cloakx-gpu-reference/v1\", \"measurements\": {\"x1\": \"00\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ref = NULL;
        if (cx_gpu_reference_parse(bad[i], strlen(bad[i]), &ref, &e) == CX_OK)
            fail_msg("reference %zu accepted", i);
        assert_null(ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sample_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_nonce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_and_missing_certificates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_root, setup, teardown),
        cmocka_unit_test(test_embedded_root_pin),
        cmocka_unit_test_setup_teardown(test_validity_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fwid_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
