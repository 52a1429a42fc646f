/* test_attestation_nitro_verify.c — the Nitro verifier on the real Nautilus document: it
 * verifies at its recorded time with the expected fields; MANIFEST negative cases (expired,
 * flipped payload byte, replaced cabundle[0], wrong PCR) and strict-format refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cx_attest.h"

#define DOC_PATH CX_SHARED_TESTDATA "/attestation/nitro/nautilus_weather_20250415.cose"
#define ROOT_PATH CX_SHARED_TESTDATA "/attestation/nitro/aws_nitro_root_g1.pem"
#define VERIFY_AT 1744684007462ull     /* Nautilus test clock (MANIFEST) */
#define LEAF_NOT_AFTER_S 1744694270ull /* 2025-04-15 05:17:50 UTC */
#define LEAF_NOT_BEFORE_S 1744683467ull /* 2025-04-15 02:17:47 UTC */

static const char PCR2_HEX[] = "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c"
                               "10edb30948c90ba67310f7b964fc500a";
static const char PK_HEX[] = "e8e62201dbe293b703c759f653107acbc2c911fa1d2e66f2c747bec95971a2af";

typedef struct fixture {
    uint8_t *doc;
    size_t len;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || cx_file_read_all(DOC_PATH, 1 << 20, &f->doc, &f->len, NULL) != CX_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f->doc);
    free(f);
    return 0;
}

static cx_nitro_check verify_at(const uint8_t *doc, size_t len, uint64_t at_ms,
                                const cx_nitro_policy *base, cx_error *e)
{
    cx_nitro_policy p = base ? *base : (cx_nitro_policy){0};
    p.at_ms = at_ms;
    cx_nitro_check c = CX_NITRO_CHECK_OK;
    cx_err rc = cx_nitro_verify(doc, len, &p, NULL, &c, e);
    assert_true((rc == CX_OK) == (c == CX_NITRO_CHECK_OK));
    return c;
}

static void test_real_document_verifies(void **state)
{
    fixture *f = *state;
    assert_int_equal(f->len, 4492);
    cx_nitro_policy p = {.at_ms = VERIFY_AT};
    cx_nitro_doc d;
    cx_nitro_check c;
    cx_error e = {0};
    assert_int_equal(cx_nitro_verify(f->doc, f->len, &p, &d, &c, &e), CX_OK);
    assert_int_equal(c, CX_NITRO_CHECK_OK);
    assert_string_equal(d.module_id, "i-06e4b98c6549ff803-enc0196373b195fb723");
    assert_string_equal(d.digest, "SHA384");
    assert_int_equal(d.timestamp_ms, 1744683923696ull);
    assert_int_equal(d.pcr_present, 0xffffu); /* 16 PCRs, 0..15 */
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(d.pcr_len[i], 48);
    char hex[129];
    cx_hex_encode(d.pcr[2], 48, hex, sizeof hex, NULL);
    assert_string_equal(hex, PCR2_HEX);
    cx_hex_encode(d.pcr[0], 4, hex, sizeof hex, NULL);
    assert_string_equal(hex, "cbe1afb6");
    assert_memory_equal(d.pcr[0], d.pcr[1], 48); /* reproducible build: PCR0 == PCR1 */
    assert_int_equal(d.cabundle_count, 4);
    assert_true(d.has_public_key);
    assert_int_equal(d.public_key_len, 32);
    cx_hex_encode(d.public_key, 32, hex, sizeof hex, NULL);
    assert_string_equal(hex, PK_HEX);
    assert_false(d.has_user_data);
    assert_false(d.has_nonce);
    assert_false(d.debug);
    assert_false(d.simulated);
    cx_nitro_doc_free(&d);

    /* verifying at the document's own time (offline audit) passes too */
    cx_nitro_policy q = {.at_doc_time = 1};
    assert_int_equal(cx_nitro_verify(f->doc, f->len, &q, NULL, &c, &e), CX_OK);
    /* and the explicit root file equals the embedded one */
    uint8_t *pem;
    size_t pem_len;
    assert_int_equal(cx_file_read_all(ROOT_PATH, 1 << 16, &pem, &pem_len, NULL), CX_OK);
    cx_nitro_policy r = {.at_ms = VERIFY_AT, .root_pem = (char *)pem, .root_pem_len = pem_len};
    assert_int_equal(cx_nitro_verify(f->doc, f->len, &r, NULL, &c, &e), CX_OK);
    free(pem);
}

/* The embedded root is the AWS G1 certificate: DER SHA-256 is its published fingerprint. */
static void test_embedded_root_fingerprint(void **state)
{
    (void)state;
    const char *pem = cx_nitro_aws_root_g1_pem();
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(x);
    unsigned char md[32];
    unsigned int n = 0;
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
    char hex[65];
    cx_hex_encode(md, 32, hex, sizeof hex, NULL);
    assert_string_equal(hex, "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");
    X509_free(x);
    BIO_free(b);
}

static void test_expired_and_not_yet_valid(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    /* last valid second, then one second later (MANIFEST: notAfter + 1 s must fail) */
    assert_int_equal(verify_at(f->doc, f->len, (LEAF_NOT_AFTER_S - 1) * 1000, NULL, &e),
                     CX_NITRO_CHECK_OK);
    assert_int_equal(verify_at(f->doc, f->len, (LEAF_NOT_AFTER_S + 1) * 1000, NULL, &e),
                     CX_NITRO_CHECK_EXPIRED);
    assert_non_null(strstr(e.msg, "expired: "));
    assert_int_equal(e.code, CX_ERR_VERIFY);
    assert_int_equal(verify_at(f->doc, f->len, (LEAF_NOT_BEFORE_S - 1) * 1000, NULL, &e),
                     CX_NITRO_CHECK_EXPIRED);
    /* default time = now, years after the 3-hour leaf */
    cx_nitro_check c;
    assert_int_equal(cx_nitro_verify(f->doc, f->len, NULL, NULL, &c, &e), CX_ERR_VERIFY);
    assert_int_equal(c, CX_NITRO_CHECK_EXPIRED);
}

static size_t find(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return i;
    fail_msg("pattern not found");
    return 0;
}

static void test_flipped_payload_byte(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    uint8_t *d = malloc(f->len);
    assert_non_null(d);
    /* one byte inside module_id, one inside PCR2's value, one in the signature */
    size_t offs[3] = {find(f->doc, f->len, "i-06e4b98c", 10) + 3,
                      find(f->doc, f->len, "\x21\xb9\xef\xbc", 4) + 10, f->len - 5};
    for (int i = 0; i < 3; i++) {
        memcpy(d, f->doc, f->len);
        d[offs[i]] ^= 0x01;
        assert_int_equal(verify_at(d, f->len, VERIFY_AT, NULL, &e), CX_NITRO_CHECK_SIGNATURE);
        assert_non_null(strstr(e.msg, "signature: "));
    }
    free(d);
}

/* Rebuild the document with cabundle[0] replaced by the given DER (libcbor re-encoding). */
static uint8_t *replace_cabundle0(const uint8_t *doc, size_t len, const uint8_t *der,
                                  size_t der_len, size_t *out_len)
{
    struct cbor_load_result r;
    cbor_item_t *cose = cbor_load(doc, len, &r);
    assert_non_null(cose);
    cbor_item_t *pl_item = cbor_array_get(cose, 2);
    cbor_item_t *pl = cbor_load(cbor_bytestring_handle(pl_item), cbor_bytestring_length(pl_item), &r);
    assert_non_null(pl);
    struct cbor_pair *p = cbor_map_handle(pl);
    int done = 0;
    for (size_t i = 0; i < cbor_map_size(pl); i++)
        if (cbor_string_length(p[i].key) == 8 && memcmp(cbor_string_handle(p[i].key), "cabundle", 8) == 0) {
            cbor_item_t *nb = cbor_build_bytestring(der, der_len);
            assert_true(cbor_array_replace(p[i].value, 0, nb));
            cbor_decref(&nb);
            done = 1;
        }
    assert_true(done);
    unsigned char *plb = NULL;
    size_t plcap = 0, pllen = cbor_serialize_alloc(pl, &plb, &plcap);
    assert_true(pllen > 0);
    cbor_item_t *npl = cbor_build_bytestring(plb, pllen);
    assert_true(cbor_array_replace(cose, 2, npl));
    unsigned char *out = NULL;
    size_t cap = 0;
    *out_len = cbor_serialize_alloc(cose, &out, &cap);
    assert_true(*out_len > 0);
    free(plb);
    cbor_decref(&npl);
    cbor_decref(&pl_item);
    cbor_decref(&pl);
    cbor_decref(&cose);
    return out;
}

static void test_replaced_root(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    cx_nitro_doc d;
    assert_int_equal(cx_nitro_doc_parse(f->doc, f->len, &d, NULL), CX_OK);
    /* cabundle[0] := cabundle[1] (a real AWS certificate, but not the root) */
    size_t n = 0;
    uint8_t *m = replace_cabundle0(f->doc, f->len, d.cabundle[1], d.cabundle_len[1], &n);
    assert_int_equal(verify_at(m, n, VERIFY_AT, NULL, &e), CX_NITRO_CHECK_ROOT);
    assert_non_null(strstr(e.msg, "root: "));
    free(m);
    /* identity re-encoding still verifies: the helper itself changes nothing else */
    m = replace_cabundle0(f->doc, f->len, d.cabundle[0], d.cabundle_len[0], &n);
    assert_int_equal(n, f->len);
    assert_int_equal(verify_at(m, n, VERIFY_AT, NULL, &e), CX_NITRO_CHECK_OK);
    free(m);
    /* one flipped byte inside the root's DER */
    uint8_t *c = malloc(f->len);
    memcpy(c, f->doc, f->len);
    c[find(c, f->len, d.cabundle[0], d.cabundle_len[0]) + 200] ^= 0x40;
    assert_int_equal(verify_at(c, f->len, VERIFY_AT, NULL, &e), CX_NITRO_CHECK_ROOT);
    free(c);
    /* a different pinned root */
    cx_nitro_policy p = {.root_pem = "not a pem", .root_pem_len = 9};
    assert_int_equal(verify_at(f->doc, f->len, VERIFY_AT, &p, &e), CX_NITRO_CHECK_ROOT);
    cx_nitro_doc_free(&d);
}

/* A broken intermediate: its signature no longer verifies (chain), not the root pin. */
static void test_broken_intermediate(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    cx_nitro_doc d;
    assert_int_equal(cx_nitro_doc_parse(f->doc, f->len, &d, NULL), CX_OK);
    uint8_t *c = malloc(f->len);
    memcpy(c, f->doc, f->len);
    size_t at = find(c, f->len, d.cabundle[2], d.cabundle_len[2]);
    c[at + d.cabundle_len[2] - 3] ^= 0x01; /* inside the signature value */
    assert_int_equal(verify_at(c, f->len, VERIFY_AT, NULL, &e), CX_NITRO_CHECK_CHAIN);
    assert_non_null(strstr(e.msg, "chain: "));
    free(c);
    cx_nitro_doc_free(&d);
}

static void test_pcr_policy(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    uint8_t pcr2[48], zero[48] = {0};
    size_t n;
    assert_int_equal(cx_hex_decode(PCR2_HEX, 96, pcr2, sizeof pcr2, &n, NULL), CX_OK);
    cx_nitro_pcr_expect good[] = {{2, pcr2, 48}};
    cx_nitro_policy p = {.pcrs = good, .n_pcrs = 1};
    assert_int_equal(verify_at(f->doc, f->len, VERIFY_AT, &p, &e), CX_NITRO_CHECK_OK);
    cx_nitro_pcr_expect bad[] = {{2, pcr2, 48}, {0, zero, 48}};
    p.pcrs = bad;
    p.n_pcrs = 2;
    assert_int_equal(verify_at(f->doc, f->len, VERIFY_AT, &p, &e), CX_NITRO_CHECK_PCR);
    assert_non_null(strstr(e.msg, "pcr 0: "));
    cx_nitro_pcr_expect absent[] = {{20, zero, 48}};
    p.pcrs = absent;
    p.n_pcrs = 1;
    assert_int_equal(verify_at(f->doc, f->len, VERIFY_AT, &p, &e), CX_NITRO_CHECK_PCR);
    assert_non_null(strstr(e.msg, "pcr 20: "));
    cx_nitro_pcr_expect short_len[] = {{2, pcr2, 32}};
    p.pcrs = short_len;
    assert_int_equal(verify_at(f->doc, f->len, VERIFY_AT, &p, &e), CX_NITRO_CHECK_PCR);
}

static void test_sig_structure(void **state)
{
    fixture *f = *state;
    cx_nitro_doc d;
    assert_int_equal(cx_nitro_doc_parse(f->doc, f->len, &d, NULL), CX_OK);
    assert_int_equal(d.protected_hdr_len, 4);
    assert_int_equal(d.payload_len, f->len - 1 - 5 - 1 - 3 - 2 - 96); /* 84 | 44 a1013822 | a0 | 59 LLLL | 58 60 */
    cx_nitro_doc_free(&d);
}

static void test_strict_format(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    cx_nitro_doc d;
    uint8_t *b = malloc(f->len + 2);
    assert_non_null(b);
    /* truncated */
    assert_int_equal(cx_nitro_doc_parse(f->doc, f->len - 1, &d, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "format: "));
    /* trailing byte */
    memcpy(b, f->doc, f->len);
    b[f->len] = 0x00;
    assert_int_equal(cx_nitro_doc_parse(b, f->len + 1, &d, &e), CX_ERR_FORMAT);
    /* tag 18 (COSE_Sign1) is accepted and verifies; tag 19 is not */
    b[0] = 0xd2;
    memcpy(b + 1, f->doc, f->len);
    assert_int_equal(verify_at(b, f->len + 1, VERIFY_AT, NULL, &e), CX_NITRO_CHECK_OK);
    b[0] = 0xd3;
    assert_int_equal(cx_nitro_doc_parse(b, f->len + 1, &d, &e), CX_ERR_FORMAT);
    /* indefinite-length outer array */
    b[0] = 0x9f;
    memcpy(b + 1, f->doc + 1, f->len - 1);
    b[f->len] = 0xff;
    assert_int_equal(cx_nitro_doc_parse(b, f->len + 1, &d, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "indefinite"));
    /* protected header {1: -36} (ES512) */
    memcpy(b, f->doc, f->len);
    b[5] = 0x23;
    assert_int_equal(cx_nitro_doc_parse(b, f->len, &d, &e), CX_ERR_FORMAT);
    /* a payload key renamed ("digest" -> "digesT"): unknown key */
    memcpy(b, f->doc, f->len);
    b[find(b, f->len, "digest", 6) + 5] = 'T';
    assert_int_equal(cx_nitro_doc_parse(b, f->len, &d, &e), CX_ERR_FORMAT);
    /* a lying array count: huge, must not allocate */
    static const uint8_t huge[] = {0x9b, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01};
    assert_int_equal(cx_nitro_doc_parse(huge, sizeof huge, &d, &e), CX_ERR_FORMAT);
    /* empty and oversized */
    assert_int_equal(cx_nitro_doc_parse(f->doc, 0, &d, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_nitro_doc_parse(f->doc, CX_NITRO_DOC_MAX + 1, &d, &e), CX_ERR_LIMIT);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_real_document_verifies, setup, teardown),
        cmocka_unit_test(test_embedded_root_fingerprint),
        cmocka_unit_test_setup_teardown(test_expired_and_not_yet_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_payload_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replaced_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_intermediate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pcr_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sig_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_format, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
