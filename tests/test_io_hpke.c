/* test_io_hpke.c — HPKE against the official RFC 9180 / CFRG vector for our suite
 * (mode 0, DHKEM(X25519,HKDF-SHA256), HKDF-SHA256, AES-256-GCM): every field is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <stdlib.h>

#include "cx_io.h"

static json_t *vec;

static size_t hex(const char *key, uint8_t *out, size_t cap)
{
    json_t *j = json_object_get(vec, key);
    assert_non_null(j);
    const char *s = json_string_value(j);
    assert_non_null(s);
    size_t n = 0;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, cap, &n, NULL), CX_OK);
    return n;
}

static size_t hex_of(json_t *obj, const char *key, uint8_t *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(obj, key));
    assert_non_null(s);
    size_t n = 0;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, cap, &n, NULL), CX_OK);
    return n;
}

static int setup(void **state)
{
    (void)state;
    json_t *root;
    cx_error e;
    if (cx_json_load_file(CX_TESTDATA "/hpke/rfc9180_x25519_sha256_aes256gcm.json", &root, &e))
        return -1;
    vec = json_incref(json_object_get(root, "vector"));
    json_decref(root);
    return vec ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(vec);
    return 0;
}

static void test_suite_ids(void **state)
{
    (void)state;
    assert_int_equal(json_integer_value(json_object_get(vec, "mode")), 0);
    assert_int_equal(json_integer_value(json_object_get(vec, "kem_id")), 32);
    assert_int_equal(json_integer_value(json_object_get(vec, "kdf_id")), 1);
    assert_int_equal(json_integer_value(json_object_get(vec, "aead_id")), 2);
}

static void test_keys(void **state)
{
    (void)state;
    uint8_t ikm[64], sk[32], pk[32], want_sk[32], want_pk[32];
    /* DeriveKeyPair(ikmE) gives skEm and pkEm */
    size_t n = hex("ikmE", ikm, sizeof ikm);
    assert_int_equal(cx_hpke_derive_keypair(ikm, n, sk, pk, NULL), CX_OK);
    hex("skEm", want_sk, 32);
    hex("pkEm", want_pk, 32);
    assert_memory_equal(sk, want_sk, 32);
    assert_memory_equal(pk, want_pk, 32);
    /* skRm gives pkRm */
    cx_x25519_key *k;
    hex("skRm", want_sk, 32);
    hex("pkRm", want_pk, 32);
    assert_int_equal(cx_x25519_key_from_secret(want_sk, &k, NULL), CX_OK);
    assert_memory_equal(cx_x25519_key_public(k), want_pk, 32);
    cx_x25519_key_free(k);
}

static void check_schedule(const cx_hpke_ctx *c)
{
    uint8_t want[64];
    assert_int_equal(hex("shared_secret", want, sizeof want), 32);
    assert_memory_equal(c->shared_secret, want, 32);
    assert_int_equal(hex("key", want, sizeof want), 32);
    assert_memory_equal(c->key, want, 32);
    assert_int_equal(hex("base_nonce", want, sizeof want), 12);
    assert_memory_equal(c->base_nonce, want, 12);
    assert_int_equal(hex("exporter_secret", want, sizeof want), 32);
    assert_memory_equal(c->exporter_secret, want, 32);
}

static void test_sender_and_recipient(void **state)
{
    (void)state;
    uint8_t pkr[32], skr[32], ske[32], enc[32], want_enc[32], info[64];
    hex("pkRm", pkr, 32);
    hex("skRm", skr, 32);
    hex("skEm", ske, 32);
    hex("enc", want_enc, 32);
    size_t il = hex("info", info, sizeof info);
    cx_hpke_ctx s, r;
    assert_int_equal(cx_hpke_setup_sender(pkr, info, il, ske, enc, &s, NULL), CX_OK);
    assert_memory_equal(enc, want_enc, 32);
    check_schedule(&s);
    assert_int_equal(cx_hpke_setup_recipient(enc, skr, info, il, &r, NULL), CX_OK);
    check_schedule(&r);

    json_t *encs = json_object_get(vec, "encryptions");
    assert_true(json_array_size(encs) >= 5);
    size_t i;
    json_t *x;
    json_array_foreach(encs, i, x) {
        uint8_t aad[64], pt[128], ct[160], out[160];
        size_t al = hex_of(x, "aad", aad, sizeof aad);
        size_t pl = hex_of(x, "pt", pt, sizeof pt);
        size_t cl = hex_of(x, "ct", ct, sizeof ct);
        assert_int_equal(cl, pl + 16);
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(x, "seq"));
        s.seq = seq;
        assert_int_equal(cx_hpke_seal(&s, aad, al, pt, pl, out, NULL), CX_OK);
        assert_memory_equal(out, ct, cl);
        assert_int_equal(s.seq, seq + 1);
        r.seq = seq;
        assert_int_equal(cx_hpke_open(&r, aad, al, ct, cl, out, NULL), CX_OK);
        assert_memory_equal(out, pt, pl);
        /* a flipped bit in the tag, the wrong sequence number, other aad: all refused */
        ct[cl - 1] ^= 1;
        r.seq = seq;
        cx_error e;
        assert_int_equal(cx_hpke_open(&r, aad, al, ct, cl, out, &e), CX_ERR_AUTH);
        ct[cl - 1] ^= 1;
        r.seq = seq + 1;
        assert_int_equal(cx_hpke_open(&r, aad, al, ct, cl, out, &e), CX_ERR_AUTH);
        r.seq = seq;
        assert_int_equal(cx_hpke_open(&r, aad, al ? al - 1 : 0, ct, cl, out, &e), CX_ERR_AUTH);
    }

    json_t *exps = json_object_get(vec, "exports");
    assert_true(json_array_size(exps) >= 3);
    json_array_foreach(exps, i, x) {
        uint8_t ctxb[64], want[64], out[64];
        size_t cl = hex_of(x, "exporter_context", ctxb, sizeof ctxb);
        size_t L = (size_t)json_integer_value(json_object_get(x, "L"));
        assert_int_equal(hex_of(x, "exported_value", want, sizeof want), L);
        assert_int_equal(cx_hpke_export(&r, ctxb, cl, out, L, NULL), CX_OK);
        assert_memory_equal(out, want, L);
    }
    cx_memwipe(&s, sizeof s);
    cx_memwipe(&r, sizeof r);
}

static void test_small_order_point_refused(void **state)
{
    (void)state;
    uint8_t zero[32] = {0}, enc[32];
    cx_hpke_ctx s;
    cx_error e;
    /* the all-zero public key is of small order: DH output is zero and must be refused */
    assert_int_not_equal(cx_hpke_setup_sender(zero, NULL, 0, NULL, enc, &s, &e), CX_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_ids),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_sender_and_recipient),
        cmocka_unit_test(test_small_order_point_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
