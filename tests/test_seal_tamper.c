/* test_seal_tamper.c — Seal objects made and opened in C, t of n, both DEMs and PLAIN; and
 * every way a key server or an object can be wrong, each refused with the server or field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <stdlib.h>

#include "cx_proto.h"
#include "cx_seal.h"

#define N 5
static const char *const NAMES[N] = {"ks-0", "ks-1", "ks-2", "ks-3", "ks-4"};

typedef struct fixture {
    uint8_t msk[N][32];
    cx_seal_server servers[N];
    uint8_t package[32];
    uint8_t id[20];
    uint8_t *full_id;
    size_t full_len;
    cx_seal_key keys[N]; /* each server's verified answer for (package, id) */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    cx_error e;
    if (!f)
        return -1;
    for (int i = 0; i < 32; i++)
        f->package[i] = (uint8_t)(0xa0 + i);
    memcpy(f->id, "cloakx dataset 00001", 20);
    if (cx_seal_full_id(f->package, f->id, sizeof f->id, &f->full_id, &f->full_len, &e))
        return -1;
    for (int s = 0; s < N; s++) {
        if (cx_seal_master_key_generate(f->msk[s], &e) ||
            cx_seal_public_key(f->msk[s], f->servers[s].pk, &e))
            return -1;
        memset(f->servers[s].object_id, 0x10 + s, 32);
        memcpy(f->keys[s].object_id, f->servers[s].object_id, 32);
        memcpy(f->keys[s].pk, f->servers[s].pk, CX_SEAL_G2_LEN);
        if (cx_seal_extract(f->msk[s], f->full_id, f->full_len, f->keys[s].usk, &e))
            return -1;
        f->keys[s].name = NAMES[s];
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f->full_id);
    free(f);
    return 0;
}

static cx_seal_object *seal_msg(fixture *f, uint8_t t, size_t n, cx_seal_dem dem, const char *msg,
                                uint8_t **bytes, size_t *len)
{
    cx_seal_encrypt_params p = {.package_id = f->package,
                                .id = f->id,
                                .id_len = sizeof f->id,
                                .servers = f->servers,
                                .n_servers = n,
                                .threshold = t,
                                .dem = dem,
                                .aad = (const uint8_t *)"pool-7",
                                .aad_len = 6};
    cx_error e;
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(
        cx_seal_encrypt(&p, (const uint8_t *)msg, strlen(msg), &out, &out_len, NULL, &e), CX_OK);
    cx_seal_object *o = NULL;
    assert_int_equal(cx_seal_object_decode(out, out_len, &o, &e), CX_OK);
    if (bytes) {
        *bytes = out;
        *len = out_len;
    } else {
        free(out);
    }
    return o;
}

static cx_err open_with(const cx_seal_object *o, const cx_seal_key *keys, size_t n_keys,
                        const uint8_t (*all_pks)[CX_SEAL_G2_LEN], const char *want, cx_error *e)
{
    cx_seal_decrypt_params p = {.keys = keys, .n_keys = n_keys, .all_pks = all_pks};
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    cx_err rc = cx_seal_decrypt(o, &p, &pt, &pt_len, e);
    if (rc == CX_OK) {
        int expected = want != NULL;
        if (expected) {
            assert_int_equal(pt_len, strlen(want));
            assert_memory_equal(pt, want, pt_len);
        }
        cx_secmem_free(pt);
        if (!expected)
            fail_msg("opened an object that should have been refused");
    } else {
        assert_null(pt);
    }
    return rc;
}

static void test_t_of_n_both_dems_round_trip(void **state)
{
    fixture *f = *state;
    cx_error e;
    const char *msg = "row,label\n1,0\n2,1\n";
    uint8_t all_pks[N][CX_SEAL_G2_LEN];
    for (int s = 0; s < N; s++)
        memcpy(all_pks[s], f->servers[s].pk, CX_SEAL_G2_LEN);
    for (size_t n = 1; n <= N; n++)
        for (uint8_t t = 1; t <= n; t++)
            for (int dem = 0; dem < 2; dem++) {
                cx_seal_object *o = seal_msg(f, t, n, (cx_seal_dem)dem, msg, NULL, NULL);
                /* the last t servers' keys only, and all of them with the full check */
                assert_int_equal(open_with(o, f->keys + (n - t), t, NULL, msg, &e), CX_OK);
                assert_int_equal(open_with(o, f->keys, n, (const uint8_t(*)[96])all_pks, msg, &e),
                                 CX_OK);
                cx_seal_object_free(o);
            }
}

static void test_plain_yields_the_dem_key(void **state)
{
    fixture *f = *state;
    cx_seal_encrypt_params p = {.package_id = f->package,
                                .id = f->id,
                                .id_len = sizeof f->id,
                                .servers = f->servers,
                                .n_servers = 3,
                                .threshold = 2,
                                .dem = CX_SEAL_DEM_PLAIN};
    cx_error e;
    uint8_t *out = NULL, key[32], *pt = NULL;
    size_t out_len = 0, pt_len = 0;
    assert_int_equal(cx_seal_encrypt(&p, NULL, 0, &out, &out_len, key, &e), CX_OK);
    cx_seal_object *o = NULL;
    assert_int_equal(cx_seal_object_decode(out, out_len, &o, &e), CX_OK);
    cx_seal_decrypt_params dp = {.keys = f->keys + 1, .n_keys = 2};
    assert_int_equal(cx_seal_decrypt(o, &dp, &pt, &pt_len, &e), CX_OK);
    assert_int_equal(pt_len, 32);
    assert_memory_equal(pt, key, 32);
    cx_secmem_free(pt);
    cx_seal_object_free(o);
    free(out);
}

static void test_wrong_derived_key_is_refused_naming_the_server(void **state)
{
    fixture *f = *state;
    cx_error e;
    cx_seal_object *o = seal_msg(f, 2, 3, CX_SEAL_DEM_AES256GCM, "secret", NULL, NULL);
    cx_seal_key keys[3];
    memcpy(keys, f->keys, sizeof keys);
    /* server 1 answers with a key made under server 3's master key */
    assert_int_equal(cx_seal_extract(f->msk[3], f->full_id, f->full_len, keys[1].usk, &e), CX_OK);
    assert_int_equal(open_with(o, keys, 3, NULL, NULL, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "ks-1"));
    assert_non_null(strstr(e.msg, "does not verify"));
    /* bytes that are no G1 point at all */
    memset(keys[1].usk, 0xff, CX_SEAL_G1_LEN);
    assert_int_equal(open_with(o, keys, 3, NULL, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "ks-1"));
    cx_seal_object_free(o);
}

static void test_wrong_server_public_key_is_refused_naming_the_server(void **state)
{
    fixture *f = *state;
    cx_error e;
    cx_seal_object *o = seal_msg(f, 2, 3, CX_SEAL_DEM_HMAC256CTR, "secret", NULL, NULL);
    cx_seal_key keys[3];
    memcpy(keys, f->keys, sizeof keys);
    memcpy(keys[2].pk, f->servers[4].pk, CX_SEAL_G2_LEN); /* pinned the wrong key */
    assert_int_equal(open_with(o, keys, 3, NULL, NULL, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "ks-2"));
    /* the full check finds a share encrypted to another key than the one given for it */
    uint8_t all_pks[3][CX_SEAL_G2_LEN];
    for (int s = 0; s < 3; s++)
        memcpy(all_pks[s], f->servers[s].pk, CX_SEAL_G2_LEN);
    memcpy(all_pks[0], f->servers[4].pk, CX_SEAL_G2_LEN);
    assert_int_equal(open_with(o, f->keys + 1, 2, (const uint8_t(*)[96])all_pks, NULL, &e),
                     CX_ERR_AUTH);
    assert_non_null(strstr(e.msg, "encrypted_shares[0]"));
    char hex[CX_ADDR_HEX_LEN + 1];
    cx_addr_to_hex(f->servers[0].object_id, hex);
    assert_non_null(strstr(e.msg, hex));
    cx_seal_object_free(o);
}

static void test_fewer_than_t_keys_names_the_missing_servers(void **state)
{
    fixture *f = *state;
    cx_error e;
    cx_seal_object *o = seal_msg(f, 3, 5, CX_SEAL_DEM_AES256GCM, "secret", NULL, NULL);
    assert_int_equal(open_with(o, f->keys + 1, 2, NULL, NULL, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "needs 3"));
    char hex[CX_ADDR_HEX_LEN + 1];
    cx_addr_to_hex(f->servers[0].object_id, hex);
    assert_non_null(strstr(e.msg, hex));
    cx_addr_to_hex(f->servers[4].object_id, hex);
    assert_non_null(strstr(e.msg, hex));
    /* keys of servers the object does not list do not count */
    cx_seal_key stranger = f->keys[0];
    memset(stranger.object_id, 0x77, 32);
    cx_seal_key keys[3] = {f->keys[1], f->keys[2], stranger};
    assert_int_equal(open_with(o, keys, 3, NULL, NULL, &e), CX_ERR_VERIFY);
    cx_seal_object_free(o);
}

static void test_key_for_another_identity_is_refused(void **state)
{
    fixture *f = *state;
    cx_error e;
    cx_seal_object *o = seal_msg(f, 2, 3, CX_SEAL_DEM_AES256GCM, "secret", NULL, NULL);
    cx_seal_key keys[2] = {f->keys[0], f->keys[1]};
    uint8_t other[52];
    memcpy(other, f->full_id, sizeof other);
    other[51] ^= 1; /* "cloakx dataset 00000" */
    assert_int_equal(cx_seal_extract(f->msk[0], other, sizeof other, keys[0].usk, &e), CX_OK);
    assert_int_equal(open_with(o, keys, 2, NULL, NULL, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "ks-0"));
    assert_non_null(strstr(e.msg, "identity"));
    cx_seal_object_free(o);
}

/* A bad key deep in a long key list is still verified (the cache of verified keys has 256
 * places; keys past it were once used unchecked). */
static void test_bad_key_past_the_verified_cache_is_refused(void **state)
{
    fixture *f = *state;
    cx_error e;
    cx_seal_object *o = seal_msg(f, 1, 1, CX_SEAL_DEM_AES256GCM, "secret", NULL, NULL);
    size_t n = 300;
    cx_seal_key *keys = calloc(n, sizeof *keys);
    assert_non_null(keys);
    for (size_t i = 0; i < n; i++) {
        keys[i] = f->keys[1];
        memset(keys[i].object_id, 0x99, 32); /* servers the object does not use */
    }
    keys[290] = f->keys[0];
    assert_int_equal(cx_seal_extract(f->msk[2], f->full_id, f->full_len, keys[290].usk, &e), CX_OK);
    assert_int_equal(open_with(o, keys, n, NULL, NULL, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "ks-0"));
    keys[290] = f->keys[0];
    assert_int_equal(open_with(o, keys, n, NULL, "secret", &e), CX_OK);
    free(keys);
    cx_seal_object_free(o);
}

/* Every single-bit flip anywhere in an object is refused, by the decoder or by decryption. */
static void test_every_flipped_bit_is_refused(void **state)
{
    fixture *f = *state;
    cx_error e;
    for (int dem = 0; dem < 2; dem++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        cx_seal_object *o = seal_msg(f, 1, 2, (cx_seal_dem)dem, "seventeen bytes!!", &bytes, &len);
        cx_seal_object_free(o);
        size_t by_field[4] = {0}; /* nonce, shares/randomness, ciphertext, decode */
        for (size_t at = 0; at < len; at++) {
            uint8_t bit = (uint8_t)(1u << (at % 8));
            bytes[at] ^= bit;
            cx_seal_object *t = NULL;
            cx_err rc = cx_seal_object_decode(bytes, len, &t, &e);
            if (rc == CX_OK) {
                rc = open_with(t, f->keys, 2, NULL, NULL, &e);
                cx_seal_object_free(t);
                assert_int_not_equal(rc, CX_OK);
                if (strstr(e.msg, "nonce"))
                    by_field[0]++;
                else if (strstr(e.msg, "ciphertext"))
                    by_field[2]++;
                else
                    by_field[1]++;
            } else {
                by_field[3]++;
            }
            bytes[at] ^= bit;
        }
        assert_true(by_field[0] > 32);  /* shares and randomness fail the nonce check */
        assert_true(by_field[2] >= 17); /* every blob byte fails the DEM */
        free(bytes);
    }
}

static void test_decoder_is_strict(void **state)
{
    fixture *f = *state;
    cx_error e;
    uint8_t *bytes = NULL;
    size_t len = 0;
    cx_seal_object *o = seal_msg(f, 2, 3, CX_SEAL_DEM_HMAC256CTR, "x", &bytes, &len);
    cx_seal_object *t = NULL;
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, bytes, len);
    longer[len] = 0;
    assert_int_equal(cx_seal_object_decode(longer, len + 1, &t, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "trailing"));
    assert_int_equal(cx_seal_object_decode(bytes, len - 1, &t, &e), CX_ERR_FORMAT);
    free(longer);
    /* version */
    bytes[0] = 1;
    assert_int_equal(cx_seal_object_decode(bytes, len, &t, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "version"));
    bytes[0] = 0;
    /* offsets: 1 version, 32 package, 1+20 id, 1 count, 3 x 33 services, then threshold */
    size_t services = 1 + 32 + 1 + 20 + 1, thr = services + 3 * 33;
    assert_int_equal(bytes[thr], 2);
    bytes[thr] = 0;
    assert_int_equal(cx_seal_object_decode(bytes, len, &t, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "threshold"));
    bytes[thr] = 4;
    assert_int_equal(cx_seal_object_decode(bytes, len, &t, &e), CX_ERR_FORMAT);
    bytes[thr] = 2;
    bytes[services + 32 + 33] = 1; /* services[1] gets services[0]'s index */
    assert_int_equal(cx_seal_object_decode(bytes, len, &t, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "services[1]"));
    bytes[services + 32 + 33] = 2;
    bytes[thr + 1] = 1; /* an IBE variant that does not exist */
    assert_int_equal(cx_seal_object_decode(bytes, len, &t, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "encrypted_shares"));
    bytes[thr + 1] = 0;
    assert_int_equal(cx_seal_object_decode(bytes, len, &t, &e), CX_OK);
    cx_seal_object_free(t);
    cx_seal_object_free(o);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t_of_n_both_dems_round_trip),
        cmocka_unit_test(test_plain_yields_the_dem_key),
        cmocka_unit_test(test_wrong_derived_key_is_refused_naming_the_server),
        cmocka_unit_test(test_wrong_server_public_key_is_refused_naming_the_server),
        cmocka_unit_test(test_fewer_than_t_keys_names_the_missing_servers),
        cmocka_unit_test(test_key_for_another_identity_is_refused),
        cmocka_unit_test(test_bad_key_past_the_verified_cache_is_refused),
        cmocka_unit_test(test_every_flipped_bit_is_refused),
        cmocka_unit_test(test_decoder_is_strict),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
