/* test_seal_keyserver.c — the key-server exchange's formats: the certificate message and the
 * signed RequestFormat against the spec's §6.4 vectors, ElGamal, and fetch_key answers opened
 * and verified — refused, naming the server, when they hold another identity or a wrong key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <stdlib.h>

#include "cx_seal.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, cap, &n, NULL), CX_OK);
    return n;
}

static void test_certificate_message_vectors(void **state)
{
    (void)state;
    cx_error e;
    uint8_t pkg[32], pk[32];
    size_t n = 0;
    unhex("0000c457b42d48924087ea3f22d35fd2fe9afdf5bdfe38cc51c0f14f3282f6d5", pkg, 32);
    const char *b64 = "DX2rNYyNrapO+gBJp1sHQ2VVsQo2ghm7aA9wVxNJ13U=";
    assert_int_equal(cx_base64_decode(b64, strlen(b64), pk, 32, &n, &e), CX_OK);
    char *msg = NULL;
    assert_int_equal(cx_seal_certificate_message(pkg, 30, 1622548800, pk, &msg, &e), CX_OK);
    assert_string_equal(msg, "Accessing keys of package "
                             "0x0000c457b42d48924087ea3f22d35fd2fe9afdf5bdfe38cc51c0f14f3282f6d5 "
                             "for 30 mins from 1970-01-19 18:42:28 UTC, session key "
                             "DX2rNYyNrapO+gBJp1sHQ2VVsQo2ghm7aA9wVxNJ13U=");
    free(msg);
    /* the TS SDK's shape: a real creation time in ms, the seed-00..1f session key */
    unhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8", pk, 32);
    assert_int_equal(cx_seal_certificate_message(pkg, 30, 1622548800000ull, pk, &msg, &e), CX_OK);
    assert_non_null(strstr(msg, "from 2021-06-01 12:00:00 UTC, session key "
                                "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="));
    free(msg);
}

static void test_request_format_matches_rust_regression(void **state)
{
    (void)state;
    static const char want_hex[] =
        "38000100d92bc457b42d48924087ea3f22d35fd2fe9afdf5bdfe38cc51c0f14f3282f6d503626c610e736561"
        "6c5f617070726f76655f7800003085946cd4134ecb8f7739bbd3522d1c8fab793c6c431a8b0b77b4f1885d4c"
        "096aafab755e7b8bce8688410cee9908fb29608faaf686c0dcbe3f65f1130e8be538d7ea009347d397f51718"
        "8dfa14417618887a0412e404fff56efbafb63d1fc4970a1187b4ccb6e767a91822312e533fa53dee69f77ef5"
        "130be095e147ff3d40e96e8ddc4bf554dae3bcc34048fe9330cccf";
    uint8_t want[256];
    size_t n = unhex(want_hex, want, sizeof want);
    assert_int_equal(n, 1 + 56 + 1 + 48 + 1 + 96);
    /* the parts, as the Rust test built them, re-encoded here */
    const uint8_t *ptb = want + 1, *enc_key = want + 58, *enc_vk = want + 107;
    uint8_t *out = NULL;
    size_t len = 0;
    cx_error e;
    assert_int_equal(cx_seal_request_bytes(ptb, 56, enc_key, enc_vk, &out, &len, &e), CX_OK);
    assert_int_equal(len, n);
    assert_memory_equal(out, want, n);
    free(out);
}

typedef struct server {
    uint8_t msk[32], pk[CX_SEAL_G2_LEN];
} server;

static void test_fetch_key_answers_are_opened_and_checked(void **state)
{
    (void)state;
    cx_error e;
    server s, other;
    assert_int_equal(cx_seal_master_key_generate(s.msk, &e), CX_OK);
    assert_int_equal(cx_seal_public_key(s.msk, s.pk, &e), CX_OK);
    assert_int_equal(cx_seal_master_key_generate(other.msk, &e), CX_OK);
    assert_int_equal(cx_seal_public_key(other.msk, other.pk, &e), CX_OK);
    cx_seal_elgamal_key k;
    assert_int_equal(cx_seal_elgamal_generate(&k, &e), CX_OK);

    uint8_t id_a[40] = {0}, id_b[40] = {0};
    memcpy(id_a + 32, "model-01", 8);
    memcpy(id_b + 32, "model-02", 8);
    uint8_t usks[2][CX_SEAL_G1_LEN];
    assert_int_equal(cx_seal_extract(s.msk, id_a, 40, usks[0], &e), CX_OK);
    assert_int_equal(cx_seal_extract(s.msk, id_b, 40, usks[1], &e), CX_OK);

    /* ElGamal on its own */
    uint8_t c0[48], c1[48], back[48];
    assert_int_equal(cx_seal_elgamal_encrypt(k.enc_key, usks[0], c0, c1, &e), CX_OK);
    assert_int_equal(cx_seal_elgamal_decrypt(k.sk, c0, c1, back, &e), CX_OK);
    assert_memory_equal(back, usks[0], 48);

    const uint8_t *ids[2] = {id_b, id_a};
    size_t lens[2] = {40, 40};
    uint8_t ordered[2][CX_SEAL_G1_LEN];
    memcpy(ordered[0], usks[1], 48);
    memcpy(ordered[1], usks[0], 48);
    char *body = NULL;
    assert_int_equal(cx_seal_fetch_key_response(ids, lens, (const uint8_t(*)[48])ordered, 2,
                                                k.enc_key, &body, &e),
                     CX_OK);
    uint8_t usk[48];
    assert_int_equal(cx_seal_fetch_key_response_open(body, strlen(body), &k, id_a, 40, s.pk,
                                                     "https://ks-1.test", usk, &e),
                     CX_OK);
    assert_memory_equal(usk, usks[0], 48);
    /* the pinned key is another server's */
    assert_int_equal(cx_seal_fetch_key_response_open(body, strlen(body), &k, id_a, 40, other.pk,
                                                     "https://ks-1.test", usk, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "https://ks-1.test"));
    free(body);

    /* an answer for another identity only */
    assert_int_equal(cx_seal_fetch_key_response(ids, lens, (const uint8_t(*)[48])ordered, 1,
                                                k.enc_key, &body, &e),
                     CX_OK);
    assert_int_equal(cx_seal_fetch_key_response_open(body, strlen(body), &k, id_a, 40, s.pk,
                                                     "https://ks-1.test", usk, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "https://ks-1.test"));
    assert_non_null(strstr(e.msg, "another identity"));
    free(body);

    /* a key for id_b presented as id_a's: the id says id_a, the key does not verify */
    const uint8_t *lying_ids[1] = {id_a};
    assert_int_equal(cx_seal_fetch_key_response(lying_ids, lens, (const uint8_t(*)[48])usks + 1, 1,
                                                k.enc_key, &body, &e),
                     CX_OK);
    assert_int_equal(cx_seal_fetch_key_response_open(body, strlen(body), &k, id_a, 40, s.pk,
                                                     "https://ks-1.test", usk, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "does not verify"));
    free(body);

    const char *junk = "{\"decryption_keys\":[{\"id\":[1],\"encrypted_key\":[\"AA==\"]}]}";
    assert_int_not_equal(
        cx_seal_fetch_key_response_open(junk, strlen(junk), &k, id_a, 40, s.pk, "ks-9", usk, &e),
        CX_OK);
    assert_non_null(strstr(e.msg, "ks-9"));
}

static void test_collect_stops_at_t_and_names_failed_servers(void **state)
{
    (void)state;
    cx_error e;
    server s[3];
    cx_seal_server srv[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cx_seal_master_key_generate(s[i].msk, &e), CX_OK);
        assert_int_equal(cx_seal_public_key(s[i].msk, s[i].pk, &e), CX_OK);
        memset(srv[i].object_id, 0x40 + i, 32);
        memcpy(srv[i].pk, s[i].pk, CX_SEAL_G2_LEN);
    }
    uint8_t pkg[32];
    memset(pkg, 0x5e, 32);
    cx_seal_encrypt_params p = {.package_id = pkg,
                                .id = (const uint8_t *)"job-9",
                                .id_len = 5,
                                .servers = srv,
                                .n_servers = 3,
                                .threshold = 2,
                                .dem = CX_SEAL_DEM_AES256GCM};
    uint8_t *bytes = NULL;
    size_t len = 0;
    assert_int_equal(cx_seal_encrypt(&p, (const uint8_t *)"model key", 9, &bytes, &len, NULL, &e),
                     CX_OK);
    cx_seal_object *o = NULL;
    assert_int_equal(cx_seal_object_decode(bytes, len, &o, &e), CX_OK);
    free(bytes);
    uint8_t full_id[37], wrong_id[37];
    memcpy(full_id, pkg, 32);
    memcpy(full_id + 32, "job-9", 5);
    memcpy(wrong_id, full_id, 37);
    wrong_id[36] = '8';

    cx_seal_elgamal_key k;
    assert_int_equal(cx_seal_elgamal_generate(&k, &e), CX_OK);
    char *bodies[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        uint8_t usk[1][48];
        const uint8_t *ids[1] = {i == 1 ? wrong_id : full_id};
        size_t lens[1] = {37};
        assert_int_equal(cx_seal_extract(s[i].msk, ids[0], 37, usk[0], &e), CX_OK);
        assert_int_equal(cx_seal_fetch_key_response(ids, lens, (const uint8_t(*)[48])usk, 1,
                                                    k.enc_key, &bodies[i], &e),
                         CX_OK);
    }
    static const char *const names[3] = {"ks-0", "ks-1", "ks-2"};
    cx_seal_answer ans[3];
    for (int i = 0; i < 3; i++) {
        memcpy(ans[i].object_id, srv[i].object_id, 32);
        memcpy(ans[i].pk, s[i].pk, CX_SEAL_G2_LEN);
        ans[i].name = names[i];
        ans[i].body = bodies[i];
        ans[i].body_len = strlen(bodies[i]);
        ans[i].error = NULL;
    }
    cx_seal_key keys[3];
    size_t n_keys = 0;
    /* ks-0 timed out, ks-1 answered for another identity: one good answer of two needed */
    ans[0].body = NULL;
    ans[0].error = "timed out after 10 s";
    assert_int_equal(cx_seal_collect_keys(o, &k, ans, 3, keys, &n_keys, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "ks-0"));
    assert_non_null(strstr(e.msg, "timed out"));
    assert_non_null(strstr(e.msg, "ks-1"));
    assert_non_null(strstr(e.msg, "another identity"));
    assert_non_null(strstr(e.msg, "1 of the 2"));
    /* all good: stops after two, and they open the object */
    ans[0].body = bodies[0];
    cx_seal_answer good[3] = {ans[0], ans[2], ans[1]};
    assert_int_equal(cx_seal_collect_keys(o, &k, good, 3, keys, &n_keys, &e), CX_OK);
    assert_int_equal(n_keys, 2);
    cx_seal_decrypt_params dp = {.keys = keys, .n_keys = n_keys};
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    assert_int_equal(cx_seal_decrypt(o, &dp, &pt, &pt_len, &e), CX_OK);
    assert_int_equal(pt_len, 9);
    assert_memory_equal(pt, "model key", 9);
    cx_secmem_free(pt);
    for (int i = 0; i < 3; i++)
        free(bodies[i]);
    cx_seal_object_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certificate_message_vectors),
        cmocka_unit_test(test_request_format_matches_rust_regression),
        cmocka_unit_test(test_fetch_key_answers_are_opened_and_checked),
        cmocka_unit_test(test_collect_stops_at_t_and_names_failed_servers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
