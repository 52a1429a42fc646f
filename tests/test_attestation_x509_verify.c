/* test_attestation_x509_verify.c — the certificate helpers Nitro and GPU verification share:
 * raw r||s ES384 with a certificate's key, and chain building to a pinned root, on the real
 * nvtrust sample (valid, flipped byte, non-P-384 key, wrong root, not yet valid). */
#include "attestation_gpu_testutil.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "x509_verify.h"

static STACK_OF(X509) * read_pem(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(cx_file_read_all(path, 1 << 20, &buf, &len, NULL), CX_OK);
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    assert_non_null(b);
    STACK_OF(X509) *sk = sk_X509_new_null();
    assert_non_null(sk);
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        assert_true(sk_X509_push(sk, x) > 0);
    BIO_free(b);
    free(buf);
    return sk;
}

static void test_es384_report_signature(void **state)
{
    (void)state;
    sample s;
    sample_load(&s);
    STACK_OF(X509) *chain = read_pem(GPU_DIR "nvtrust_hopper_certchain.pem");
    assert_int_equal(sk_X509_num(chain), 5);
    X509 *leaf = sk_X509_value(chain, 0);
    const uint8_t *sig = s.report + s.report_len - CX_ES384_SIG_LEN;
    size_t signed_len = s.report_len - CX_ES384_SIG_LEN;
    cx_es384_verdict v = CX_ES384_BAD_SIG;
    cx_error e;
    assert_int_equal(cx_attest_es384_verify(leaf, sig, s.report, signed_len, &v, &e), CX_OK);
    assert_int_equal(v, CX_ES384_VALID);
    s.report[100] ^= 1;
    assert_int_equal(cx_attest_es384_verify(leaf, sig, s.report, signed_len, &v, &e), CX_OK);
    assert_int_equal(v, CX_ES384_BAD_SIG);
    s.report[100] ^= 1;
    /* the signature of another key: an issuer's key does not verify the leaf's signature */
    assert_int_equal(
        cx_attest_es384_verify(sk_X509_value(chain, 1), sig, s.report, signed_len, &v, &e), CX_OK);
    assert_int_equal(v, CX_ES384_BAD_SIG);
    sk_X509_pop_free(chain, X509_free);
    sample_free(&s);
}

static void test_es384_refuses_p256_key(void **state)
{
    (void)state;
    EVP_PKEY *pk = EVP_EC_gen("prime256v1");
    X509 *x = X509_new();
    assert_non_null(pk);
    assert_non_null(x);
    assert_int_equal(X509_set_pubkey(x, pk), 1);
    uint8_t sig[CX_ES384_SIG_LEN] = {1};
    cx_es384_verdict v = CX_ES384_VALID;
    assert_int_equal(cx_attest_es384_verify(x, sig, (const uint8_t *)"m", 1, &v, NULL), CX_OK);
    assert_int_equal(v, CX_ES384_BAD_KEY);
    X509_free(x);
    EVP_PKEY_free(pk);
}

/* What the simulated TEE signs, the verifier accepts; a changed message it refuses. */
static void test_es384_sign_roundtrip(void **state)
{
    (void)state;
    EVP_PKEY *pk = EVP_EC_gen("secp384r1");
    X509 *x = X509_new();
    assert_non_null(pk);
    assert_non_null(x);
    assert_int_equal(X509_set_pubkey(x, pk), 1);
    uint8_t msg[200], sig[CX_ES384_SIG_LEN];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    cx_error e;
    cx_es384_verdict v = CX_ES384_BAD_SIG;
    for (int round = 0; round < 8; round++) { /* r or s with leading zero bytes stay 48 wide */
        assert_int_equal(cx_attest_es384_sign(pk, msg, sizeof msg, sig, &e), CX_OK);
        assert_int_equal(cx_attest_es384_verify(x, sig, msg, sizeof msg, &v, &e), CX_OK);
        assert_int_equal(v, CX_ES384_VALID);
    }
    msg[0] ^= 0x80;
    assert_int_equal(cx_attest_es384_verify(x, sig, msg, sizeof msg, &v, &e), CX_OK);
    assert_int_equal(v, CX_ES384_BAD_SIG);
    X509_free(x);
    EVP_PKEY_free(pk);
}

/* leaf + certificates 1..3 to root; returns the built path or NULL with *why */
static STACK_OF(X509) *
    build(STACK_OF(X509) * chain, X509 *root, const time_t *at, cx_attest_chain_fail *why)
{
    STACK_OF(X509) *untrusted = sk_X509_new_null(), *built = NULL;
    assert_non_null(untrusted);
    for (int i = 1; i < 4; i++)
        assert_true(sk_X509_push(untrusted, sk_X509_value(chain, i)) > 0);
    cx_error e;
    assert_int_equal(
        cx_attest_chain_verify(sk_X509_value(chain, 0), untrusted, root, at, 0, &built, why, &e),
        CX_OK);
    sk_X509_free(untrusted);
    return built;
}

static void test_chain_to_pinned_root(void **state)
{
    (void)state;
    STACK_OF(X509) *chain = read_pem(GPU_DIR "nvtrust_hopper_certchain.pem");
    STACK_OF(X509) *nv = read_pem(GPU_DIR "nvidia_device_identity_ca.pem");
    STACK_OF(X509) *aws = read_pem(CX_SHARED_TESTDATA "/attestation/nitro/aws_nitro_root_g1.pem");
    cx_attest_chain_fail why;

    STACK_OF(X509) *built = build(chain, sk_X509_value(nv, 0), NULL, &why);
    assert_non_null(built);
    assert_int_equal(sk_X509_num(built), 5);
    for (int i = 0; i < 4; i++)
        assert_int_equal(X509_cmp(sk_X509_value(built, i), sk_X509_value(chain, i)), 0);
    char cn[128];
    cx_attest_cert_cn(sk_X509_value(built, 4), cn, sizeof cn);
    assert_non_null(strstr(cn, "NVIDIA"));
    sk_X509_pop_free(built, X509_free);

    /* another root: refused, and the reason names where it stopped */
    assert_null(build(chain, sk_X509_value(aws, 0), NULL, &why));
    assert_int_not_equal(why.err, X509_V_OK);
    assert_true(why.cn[0] != '\0');

    /* with a time, validity counts: 2000-01-01 is before every notBefore */
    const time_t y2000 = 946684800;
    assert_null(build(chain, sk_X509_value(nv, 0), &y2000, &why));
    assert_int_equal(why.err, X509_V_ERR_CERT_NOT_YET_VALID);
    const time_t y2026 = (time_t)(SAMPLE_AT_MS / 1000);
    built = build(chain, sk_X509_value(nv, 0), &y2026, &why);
    assert_non_null(built);
    sk_X509_pop_free(built, X509_free);

    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(nv, X509_free);
    sk_X509_pop_free(aws, X509_free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_es384_report_signature),
        cmocka_unit_test(test_es384_refuses_p256_key),
        cmocka_unit_test(test_es384_sign_roundtrip),
        cmocka_unit_test(test_chain_to_pinned_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
