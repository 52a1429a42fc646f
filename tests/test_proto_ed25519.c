/* test_proto_ed25519.c — the one Ed25519: RFC 8032 §7.1 vectors (keys from seeds, signatures
 * byte for byte, verification), tampering refused, and the X25519 public key of RFC 7748 §6.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cx_proto.h"

static void unhex(const char *s, uint8_t *out, size_t want)
{
    size_t got = 0;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, want, &got, NULL), CX_OK);
    assert_int_equal(got, want);
}

static void test_rfc8032_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *seed, *pk, *msg, *sig;
    } vec[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39"
         "701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f36"
         "13d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
        {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f7"
         "60984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        uint8_t seed[32], pk[32], want_pk[32], msg[2], sig[64], want_sig[64];
        size_t ml = strlen(vec[i].msg) / 2;
        unhex(vec[i].seed, seed, 32);
        unhex(vec[i].pk, want_pk, 32);
        if (ml)
            unhex(vec[i].msg, msg, ml);
        unhex(vec[i].sig, want_sig, 64);
        assert_int_equal(cx_ed25519_public_from_seed(seed, pk, NULL), CX_OK);
        assert_memory_equal(pk, want_pk, 32);
        assert_int_equal(cx_ed25519_sign(seed, msg, ml, sig, NULL), CX_OK);
        assert_memory_equal(sig, want_sig, 64);
        assert_int_equal(cx_ed25519_verify(pk, msg, ml, sig, NULL), CX_OK);
        cx_error e;
        sig[63] ^= 0x01;
        assert_int_equal(cx_ed25519_verify(pk, msg, ml, sig, &e), CX_ERR_AUTH);
        sig[63] ^= 0x01;
        pk[0] ^= 0x01; /* another key (or no point at all): refused as AUTH either way */
        assert_int_equal(cx_ed25519_verify(pk, msg, ml, sig, &e), CX_ERR_AUTH);
    }
}

static void test_fresh_seed_signs(void **state)
{
    (void)state;
    uint8_t a[32], b[32], pk[32], sig[64];
    assert_int_equal(cx_ed25519_seed_generate(a, NULL), CX_OK);
    assert_int_equal(cx_ed25519_seed_generate(b, NULL), CX_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(cx_ed25519_public_from_seed(a, pk, NULL), CX_OK);
    assert_int_equal(cx_ed25519_sign(a, (const uint8_t *)"m", 1, sig, NULL), CX_OK);
    assert_int_equal(cx_ed25519_verify(pk, (const uint8_t *)"m", 1, sig, NULL), CX_OK);
    cx_error e;
    assert_int_equal(cx_ed25519_verify(pk, (const uint8_t *)"n", 1, sig, &e), CX_ERR_AUTH);
}

static void test_x25519_public(void **state)
{
    (void)state;
    uint8_t sk[32], pk[32], want[32];
    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", sk, 32);
    unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", want, 32);
    assert_int_equal(cx_x25519_public_from_secret(sk, pk, NULL), CX_OK);
    assert_memory_equal(pk, want, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8032_vectors),
        cmocka_unit_test(test_fresh_seed_signs),
        cmocka_unit_test(test_x25519_public),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
