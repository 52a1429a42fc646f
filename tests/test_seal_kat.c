/* test_seal_kat.c — Seal's known answers: the seal-cli object of the spec's §6.5 decrypted step
 * by step (every intermediate value), the H1 and KDF regressions, and the DEMs of §6.6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <stdlib.h>

#include <blst.h>
#include <openssl/evp.h>

#include "cx_seal.h"

static const char OBJECT_HEX[] =
    "00000000000000000000000000000000000000000000000000000000000000000020381dd9078c322a4663c392"
    "761a0211b527c127b29583851217f948d62131f40903034401905bebdf8c04f3cd5f04f442a39372c8dc321c29"
    "edfb4f9cb30b23ab9601d726ecf6f7036ee3557cd6c7b93a49b231070e8eecada9cfa157e40e3f02e5d302dba7"
    "2804cc9504a82bbaa13ed4a83a0e2c6219d7e45125cf57fd10cbab957a97030200b07b9e0e0bc81812957adee9"
    "0c1eab51e738641f82983f17fee55ac15b75d86bf92e59ebf1cc1548a3db27d18ee315391086bb95f3333d1627"
    "6d181bdf10c71d15c41d923d71d5c05383dda26b43004af78d7e08a6b086ebc3ea2e5d8752871b0305874fce4f"
    "5e944c97b13f60c2dcf1ff34410d2fcb07dc15405140a38d520606dbd23990a1c26f9ce2ce5776506cc1876848"
    "5525511e59fc1c3ad346c95bb9cc288e7584add871e16e3aaf067f77bddf7df52ddf81ce0ecb130822328ac063"
    "c3dd39b21a4847f3aad9a816fadd2541ead355d4120f876e29bff825e5c53bedf6010d05d48cbd0c25cc230193"
    "f9389a012000000000000000000000000000000000000000000000000000000000000000018ba15d967ab74e19"
    "75c3149806cb483b5ce730be8039c46d18c2eb7c551f9fc4";

static const char *const MSK_HEX[2] = {
    "1aa66668afc1893b66eb5ad690b14b32b41797dd92f7220b11f7441b11d22bfb",
    "0740419bedd2fdfb036f468a99d95d2f37ad66eb3111b815ca19ec001c35388a"};
static const char *const USK_HEX[2] = {
    "9376bdfac1abac0d81685c6ac9c944636709b76b500edaf20332b02b14de1b483996c68de07e77efad144ce01c"
    "6388e4",
    "a19f8891f888b65c4809bfa3181f8b26457c15bb41dbe61109b4ff5e06064e8afc95f70980f1ec1ef9b674b51f"
    "0d678d"};

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    cx_error e;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, cap, &n, &e), CX_OK);
    return n;
}

static void assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
    char *h = cx_hex_dup(got, len);
    assert_non_null(h);
    assert_string_equal(h, want_hex);
    free(h);
}

static void sha3(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned int outl = 0;
    assert_int_equal(EVP_Digest(p, n, out, &outl, EVP_sha3_256(), NULL), 1);
}

static cx_seal_object *object_65(void)
{
    uint8_t buf[600];
    size_t n = unhex(OBJECT_HEX, buf, sizeof buf);
    assert_int_equal(n, 474);
    cx_seal_object *o = NULL;
    cx_error e;
    assert_int_equal(cx_seal_object_decode(buf, n, &o, &e), CX_OK);
    return o;
}

static void test_object_bcs_fields_and_reencoding(void **state)
{
    (void)state;
    uint8_t buf[600];
    size_t n = unhex(OBJECT_HEX, buf, sizeof buf);
    cx_seal_object *o = object_65();
    assert_int_equal(o->version, 0);
    assert_int_equal(o->id_len, 32);
    assert_hex(o->id, o->id_len,
               "381dd9078c322a4663c392761a0211b527c127b29583851217f948d62131f409");
    assert_int_equal(o->n_services, 3);
    assert_int_equal(o->threshold, 2);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(o->services[i].index, i + 1);
    assert_int_equal(o->dem, CX_SEAL_DEM_HMAC256CTR);
    assert_hex(o->blob, o->blob_len, "05d48cbd0c25cc230193f9389a");
    assert_int_equal(o->has_aad, 1);
    assert_int_equal(o->aad_len, 32);
    uint8_t *out = NULL;
    size_t out_len = 0;
    cx_error e;
    assert_int_equal(cx_seal_object_encode(o, &out, &out_len, &e), CX_OK);
    assert_int_equal(out_len, n);
    assert_memory_equal(out, buf, n);
    free(out);
    cx_seal_object_free(o);
}

static void test_intermediates_match_sdk(void **state)
{
    (void)state;
    cx_error e;
    cx_seal_object *o = object_65();
    uint8_t *full_id = NULL;
    size_t full_len = 0;
    assert_int_equal(cx_seal_full_id(o->package_id, o->id, o->id_len, &full_id, &full_len, &e),
                     CX_OK);
    assert_hex(full_id, full_len,
               "0000000000000000000000000000000000000000000000000000000000000000"
               "381dd9078c322a4663c392761a0211b527c127b29583851217f948d62131f409");
    uint8_t gid[CX_SEAL_G1_LEN];
    assert_int_equal(cx_seal_hash_to_g1(full_id, full_len, gid, &e), CX_OK);
    assert_hex(gid, sizeof gid,
               "a7aa05321f6494f25c7b13af829d988ac3ce9ecfbf20b5f2e8e3b174842e990b954032a3b66c17"
               "52ba28c5ba5706970f");

    /* seal-cli's user secret keys are msk·H1(full_id) and verify against msk·G2 */
    uint8_t msk[2][32], pk[2][CX_SEAL_G2_LEN], usk[2][CX_SEAL_G1_LEN];
    for (int s = 0; s < 2; s++) {
        unhex(MSK_HEX[s], msk[s], 32);
        assert_int_equal(cx_seal_public_key(msk[s], pk[s], &e), CX_OK);
        assert_int_equal(cx_seal_extract(msk[s], full_id, full_len, usk[s], &e), CX_OK);
        assert_hex(usk[s], CX_SEAL_G1_LEN, USK_HEX[s]);
        assert_int_equal(cx_seal_verify_user_secret_key(usk[s], full_id, full_len, pk[s], &e),
                         CX_OK);
    }

    static const char *const gt_head[2] = {
        "102868b6ac0788e14b3a25abfd3caa02ba291135d429c4f9f467ed514fadb619ce814769281b00fa4d4b"
        "8dc152d53248",
        "18c992583175c7634d196e50b487104ad113e2b503f8b2c8ea3808718cc706610f9a7f6bf405c0aff3d8"
        "3bc936089f3e"};
    static const char *const gt_sha3[2] = {
        "4c85b54e9871526f5ae2719b58bc158b4226386cc381eacedeab10a400081236",
        "9eb99ef2e3b75d82dfb761aa80416e435db88c11b52a1b58ca70bad1a6a71999"};
    static const char *const kdf_out[2] = {
        "20da7e2a7b337006b49af0b3df53ed95f191311fb72559e9dcd3c24e1536b9fc",
        "9a5bd6d0764a96ba0aef0cb41f8ce4a3320fc4f8b57cd05ec7876dc63b0d10ed"};
    static const char *const share_hex[2] = {
        "255d31e4346de44a232bcfd31d8f1c6ac5d03c307c2285fc9c8282ed9864bffa",
        "4189ef40d788f926e8215bc24fe025245a4791dde46289a2dbbdbe80f256a921"};
    uint8_t xs[2], ys[2][CX_SEAL_KEY_LEN];
    for (int s = 0; s < 2; s++) {
        uint8_t gt[CX_SEAL_GT_LEN], h[32], k[32];
        assert_int_equal(cx_seal_decap(usk[s], o->nonce, gt, &e), CX_OK);
        assert_hex(gt, 48, gt_head[s]);
        sha3(gt, sizeof gt, h);
        assert_hex(h, 32, gt_sha3[s]);
        assert_int_equal(cx_seal_kdf(gt, o->nonce, full_id, full_len, o->services[s].object_id,
                                     o->services[s].index, k, &e),
                         CX_OK);
        assert_hex(k, 32, kdf_out[s]);
        for (int b = 0; b < 32; b++)
            ys[s][b] = o->encrypted_shares[s][b] ^ k[b];
        xs[s] = o->services[s].index;
        assert_hex(ys[s], 32, share_hex[s]);
    }
    uint8_t base[32], rkey[32], dem[32], r[32];
    assert_int_equal(cx_seal_shamir_combine(xs, (const uint8_t(*)[32])ys, 2, base, &e), CX_OK);
    assert_hex(base, 32, "f0117b719cc7ef6e932d4adcdaaa0b50b054ae6bfdeb813fa197963fbe8344b3");
    assert_int_equal(cx_seal_derive_key(CX_SEAL_KEY_RANDOMNESS, base, o, rkey, &e), CX_OK);
    assert_hex(rkey, 32, "eb5afcc93c13826b775a0bea99c48ef824d11d83e0cb2ff59d6835b8d5d08105");
    for (int b = 0; b < 32; b++)
        r[b] = o->encrypted_randomness[b] ^ rkey[b];
    assert_hex(r, 32, "36634ed3745471c1aef21d1044e1cf12f784c991ef4c41dc2290105d10eb6cf3");
    uint8_t nonce_again[CX_SEAL_G2_LEN];
    assert_int_equal(cx_seal_public_key(r, nonce_again, &e), CX_OK); /* r·G2 */
    assert_memory_equal(nonce_again, o->nonce, CX_SEAL_G2_LEN);
    assert_int_equal(cx_seal_derive_key(CX_SEAL_KEY_DEM, base, o, dem, &e), CX_OK);
    assert_hex(dem, 32, "92f488e520ee19ed6e067b131edc2dc80ba7f14f8fdd21d0b67d4f57acdbf34c");

    /* and the whole decryption, with the two servers' keys (either order of keys) */
    cx_seal_key keys[2];
    for (int s = 0; s < 2; s++) {
        memcpy(keys[1 - s].object_id, o->services[s].object_id, 32);
        memcpy(keys[1 - s].pk, pk[s], CX_SEAL_G2_LEN);
        memcpy(keys[1 - s].usk, usk[s], CX_SEAL_G1_LEN);
        keys[1 - s].name = NULL;
    }
    cx_seal_decrypt_params dp = {.keys = keys, .n_keys = 2, .all_pks = NULL};
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    assert_int_equal(cx_seal_decrypt(o, &dp, &pt, &pt_len, &e), CX_OK);
    assert_int_equal(pt_len, 13);
    assert_memory_equal(pt, "Hello, world!", 13);
    cx_secmem_free(pt);
    free(full_id);
    cx_seal_object_free(o);
}

static void test_h1_and_kdf_regressions(void **state)
{
    (void)state;
    cx_error e;
    uint8_t full_id[36] = {0};
    memcpy(full_id + 32, "\x01\x02\x03\x04", 4);
    uint8_t gid[CX_SEAL_G1_LEN];
    assert_int_equal(cx_seal_hash_to_g1(full_id, sizeof full_id, gid, &e), CX_OK);
    assert_hex(gid, sizeof gid,
               "a2f2624fda29c88ccacd286b560572d8c1261a5687e0c0cdbdcbef93bf0ec5c373563fac64a2cb"
               "5bb326cc6181ee65d7");

    /* SEAL-RS ibe.rs test_kdf_regression: GT = e(G1, G2)^12345 = e(12345·G1, G2) */
    uint8_t s12345[32] = {0};
    s12345[30] = 0x30, s12345[31] = 0x39;
    blst_scalar sc;
    blst_scalar_from_bendian(&sc, s12345);
    blst_p1 p1;
    blst_sk_to_pk_in_g1(&p1, &sc);
    uint8_t usk[CX_SEAL_G1_LEN], g2[CX_SEAL_G2_LEN], nonce[CX_SEAL_G2_LEN], gt[CX_SEAL_GT_LEN];
    blst_p1_compress(usk, &p1);
    blst_p2_affine_compress(g2, blst_p2_affine_generator());
    assert_int_equal(cx_seal_decap(usk, g2, gt, &e), CX_OK);
    assert_int_equal(cx_seal_public_key(s12345, nonce, &e), CX_OK);
    uint8_t object_id[32] = {0}, k[32], id0[1] = {0};
    assert_int_equal(cx_seal_kdf(gt, nonce, id0, 1, object_id, 42, k, &e), CX_OK);
    assert_hex(k, 32, "89befdfd6aecdce1305ddbca891d1c29f0507cfd5225cd6b11e52e60f088ea87");
}

static void test_dems_known_answers(void **state)
{
    (void)state;
    cx_error e;
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    const char *msg = "My super secret message";
    const uint8_t aad[4] = {1, 2, 3, 4};
    uint8_t *blob = NULL, mac[32], *pt = NULL;
    size_t blob_len = 0, pt_len = 0;
    assert_int_equal(cx_seal_dem_encrypt(CX_SEAL_DEM_AES256GCM, key, (const uint8_t *)msg,
                                         strlen(msg), aad, 4, &blob, &blob_len, mac, &e),
                     CX_OK);
    assert_hex(blob, blob_len,
               "d8fc7fe891f3a290f130dbcb0ba9661ae5430c698b48c0638d57cc72d87cf42c49dbf7389f1572");
    assert_int_equal(cx_seal_dem_decrypt(CX_SEAL_DEM_AES256GCM, key, blob, blob_len, aad, 4, NULL,
                                         &pt, &pt_len, &e),
                     CX_OK);
    assert_int_equal(pt_len, strlen(msg));
    assert_memory_equal(pt, msg, pt_len);
    cx_secmem_free(pt);
    blob[0] ^= 1;
    assert_int_equal(cx_seal_dem_decrypt(CX_SEAL_DEM_AES256GCM, key, blob, blob_len, aad, 4, NULL,
                                         &pt, &pt_len, &e),
                     CX_ERR_AUTH);
    assert_null(pt);
    free(blob);

    assert_int_equal(cx_seal_dem_encrypt(CX_SEAL_DEM_HMAC256CTR, key, (const uint8_t *)msg,
                                         strlen(msg), aad, 4, &blob, &blob_len, mac, &e),
                     CX_OK);
    assert_hex(blob, blob_len, "1043da23f57a6968cc8b3c5031e38ca7aabab87a62d754");
    assert_hex(mac, 32, "135300712bc2b2758754a73dae85c0587df6555f157e9b669b01fd64fbe71afc");
    assert_int_equal(cx_seal_dem_decrypt(CX_SEAL_DEM_HMAC256CTR, key, blob, blob_len, aad, 4, mac,
                                         &pt, &pt_len, &e),
                     CX_OK);
    assert_memory_equal(pt, msg, pt_len);
    cx_secmem_free(pt);
    assert_int_equal(cx_seal_dem_decrypt(CX_SEAL_DEM_HMAC256CTR, key, blob, blob_len, aad, 3, mac,
                                         &pt, &pt_len, &e),
                     CX_ERR_AUTH);
    assert_non_null(strstr(e.msg, "mac"));
    free(blob);
}

static void test_shamir_any_t_of_n_recombines(void **state)
{
    (void)state;
    cx_error e;
    uint8_t secret[32], shares[5][32], got[32];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(7 * i + 1);
    for (uint8_t t = 1; t <= 5; t++) {
        assert_int_equal(cx_seal_shamir_split(secret, t, 5, shares, &e), CX_OK);
        /* every subset of exactly t shares */
        for (unsigned mask = 0; mask < 32; mask++) {
            if ((unsigned)__builtin_popcount(mask) != t)
                continue;
            uint8_t xs[5], ys[5][32];
            size_t k = 0;
            for (int i = 0; i < 5; i++)
                if (mask & (1u << i)) {
                    xs[k] = (uint8_t)(i + 1);
                    memcpy(ys[k++], shares[i], 32);
                }
            assert_int_equal(cx_seal_shamir_combine(xs, (const uint8_t(*)[32])ys, k, got, &e),
                             CX_OK);
            assert_memory_equal(got, secret, 32);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_bcs_fields_and_reencoding),
        cmocka_unit_test(test_intermediates_match_sdk),
        cmocka_unit_test(test_h1_and_kdf_regressions),
        cmocka_unit_test(test_dems_known_answers),
        cmocka_unit_test(test_shamir_any_t_of_n_recombines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
