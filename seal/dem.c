/* dem.c — Seal's two data-encapsulation mechanisms on OpenSSL: AES-256-GCM with Seal's fixed
 * 16-byte IV, and HMAC-SHA3-256 in counter mode with an HMAC-SHA3-256 MAC (SEAL-TS dem.mjs). */
#include "cx_seal.h"
#include "seal_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* Constant in Seal: safe only because every DEM key encrypts exactly one message. */
static const uint8_t GCM_IV[16] = {0x8a, 0x37, 0x99, 0xfd, 0xc6, 0x2e, 0x79, 0xdb,
                                   0xa0, 0x80, 0x59, 0x07, 0xd6, 0x9c, 0x94, 0xdc};
static const char CTR_ENC_TAG[] = "HMAC-CTR-ENC";
static const char CTR_MAC_TAG[] = "HMAC-CTR-MAC";

static cx_err gcm_run(int enc, const uint8_t key[CX_SEAL_KEY_LEN], const uint8_t *in, size_t in_len,
                      const uint8_t *aad, size_t aad_len, uint8_t *out,
                      uint8_t tag[CX_SEAL_GCM_TAG_LEN], cx_error *e)
{
    if (in_len > INT_MAX || aad_len > INT_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "seal: AES-GCM input of %zu bytes", in_len);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return cx_error_set(e, CX_ERR_NOMEM, "AES-GCM context");
    int n = 0, ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
                    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, sizeof GCM_IV, NULL) == 1 &&
                    EVP_CipherInit_ex(c, NULL, NULL, key, GCM_IV, enc) == 1;
    ok = ok && (aad_len == 0 || EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) == 1);
    ok = ok && (in_len == 0 || EVP_CipherUpdate(c, out, &n, in, (int)in_len) == 1);
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CX_SEAL_GCM_TAG_LEN, tag) == 1;
    cx_err rc = CX_OK;
    if (!ok) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM");
    } else if (EVP_CipherFinal_ex(c, out + in_len, &n) != 1) {
        rc = enc ? cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM")
                 : cx_error_set(e, CX_ERR_AUTH,
                                "ciphertext: AES-256-GCM tag does not verify "
                                "(blob or aad altered, or a wrong key)");
    } else if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CX_SEAL_GCM_TAG_LEN, tag) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM tag");
    }
    EVP_CIPHER_CTX_free(c);
    return rc;
}

static cx_err hmac_sha3(const uint8_t key[CX_SEAL_KEY_LEN], const uint8_t *const *parts,
                        const size_t *lens, size_t n, uint8_t out[CX_SEAL_MAC_LEN], cx_error *e)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mc = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA3-256", 0),
                           OSSL_PARAM_construct_end()};
    int ok = mc && EVP_MAC_init(mc, key, CX_SEAL_KEY_LEN, params) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = lens[i] == 0 || EVP_MAC_update(mc, parts[i], lens[i]) == 1;
    size_t outl = 0;
    ok = ok && EVP_MAC_final(mc, out, &outl, CX_SEAL_MAC_LEN) == 1 && outl == CX_SEAL_MAC_LEN;
    EVP_MAC_CTX_free(mc);
    EVP_MAC_free(mac);
    return ok ? CX_OK : cx_error_openssl(e, CX_ERR_CRYPTO, "HMAC-SHA3-256");
}

/* out = in XOR HMAC(key, "HMAC-CTR-ENC" || u64_le(block)) per 32-byte block (in == out is fine). */
static cx_err ctr_xor(const uint8_t key[CX_SEAL_KEY_LEN], const uint8_t *in, size_t len,
                      uint8_t *out, cx_error *e)
{
    uint8_t ks[CX_SEAL_MAC_LEN], ctr[8];
    const uint8_t *parts[] = {(const uint8_t *)CTR_ENC_TAG, ctr};
    const size_t lens[] = {sizeof CTR_ENC_TAG - 1, sizeof ctr};
    for (uint64_t block = 0; block * CX_SEAL_MAC_LEN < len; block++) {
        for (int b = 0; b < 8; b++)
            ctr[b] = (uint8_t)(block >> (8 * b));
        cx_err rc = hmac_sha3(key, parts, lens, 2, ks, e);
        if (rc != CX_OK) {
            cx_memwipe(ks, sizeof ks);
            return rc;
        }
        size_t at = (size_t)block * CX_SEAL_MAC_LEN;
        size_t m = len - at < CX_SEAL_MAC_LEN ? len - at : CX_SEAL_MAC_LEN;
        for (size_t i = 0; i < m; i++)
            out[at + i] = in[at + i] ^ ks[i];
    }
    cx_memwipe(ks, sizeof ks);
    return CX_OK;
}

static cx_err ctr_mac(const uint8_t key[CX_SEAL_KEY_LEN], const uint8_t *aad, size_t aad_len,
                      const uint8_t *blob, size_t blob_len, uint8_t mac[CX_SEAL_MAC_LEN],
                      cx_error *e)
{
    uint8_t alen[8];
    for (int b = 0; b < 8; b++)
        alen[b] = (uint8_t)((uint64_t)aad_len >> (8 * b));
    const uint8_t *parts[] = {(const uint8_t *)CTR_MAC_TAG, alen, aad, blob};
    const size_t lens[] = {sizeof CTR_MAC_TAG - 1, sizeof alen, aad_len, blob_len};
    return hmac_sha3(key, parts, lens, 4, mac, e);
}

cx_err cx_seal_dem_encrypt(cx_seal_dem dem, const uint8_t key[CX_SEAL_KEY_LEN], const uint8_t *msg,
                           size_t len, const uint8_t *aad, size_t aad_len, uint8_t **blob,
                           size_t *blob_len, uint8_t mac[CX_SEAL_MAC_LEN], cx_error *e)
{
    *blob = NULL;
    *blob_len = 0;
    if (dem != CX_SEAL_DEM_AES256GCM && dem != CX_SEAL_DEM_HMAC256CTR)
        return cx_error_set(e, CX_ERR_ARG, "seal: DEM %d carries no data", (int)dem);
    if (len > CX_SEAL_MAX_BLOB_LEN - CX_SEAL_GCM_TAG_LEN)
        return cx_error_set(e, CX_ERR_LIMIT, "seal: message of %zu bytes exceeds %u", len,
                            CX_SEAL_MAX_BLOB_LEN - CX_SEAL_GCM_TAG_LEN);
    size_t out_len = dem == CX_SEAL_DEM_AES256GCM ? len + CX_SEAL_GCM_TAG_LEN : len;
    uint8_t *out = malloc(out_len ? out_len : 1);
    if (!out)
        return cx_error_set(e, CX_ERR_NOMEM, "seal: %zu-byte ciphertext", out_len);
    cx_err rc;
    if (dem == CX_SEAL_DEM_AES256GCM) {
        rc = gcm_run(1, key, msg, len, aad, aad_len, out, out + len, e);
    } else {
        rc = ctr_xor(key, msg, len, out, e);
        if (rc == CX_OK)
            rc = ctr_mac(key, aad, aad_len, out, len, mac, e);
    }
    if (rc != CX_OK) {
        free(out);
        return rc;
    }
    *blob = out;
    *blob_len = out_len;
    return CX_OK;
}

cx_err cx_seal_dem_decrypt(cx_seal_dem dem, const uint8_t key[CX_SEAL_KEY_LEN], const uint8_t *blob,
                           size_t blob_len, const uint8_t *aad, size_t aad_len,
                           const uint8_t mac[CX_SEAL_MAC_LEN], uint8_t **pt, size_t *pt_len,
                           cx_error *e)
{
    *pt = NULL;
    *pt_len = 0;
    if (dem != CX_SEAL_DEM_AES256GCM && dem != CX_SEAL_DEM_HMAC256CTR)
        return cx_error_set(e, CX_ERR_ARG, "seal: DEM %d carries no data", (int)dem);
    size_t len = blob_len;
    if (dem == CX_SEAL_DEM_AES256GCM) {
        if (blob_len < CX_SEAL_GCM_TAG_LEN)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "ciphertext: AES-256-GCM blob of %zu bytes has no tag", blob_len);
        len -= CX_SEAL_GCM_TAG_LEN;
    } else {
        /* the MAC first: nothing unauthenticated is decrypted */
        uint8_t want[CX_SEAL_MAC_LEN];
        cx_err rc = ctr_mac(key, aad, aad_len, blob, blob_len, want, e);
        if (rc != CX_OK)
            return rc;
        int same = CRYPTO_memcmp(want, mac, CX_SEAL_MAC_LEN) == 0;
        cx_memwipe(want, sizeof want);
        if (!same)
            return cx_error_set(e, CX_ERR_AUTH,
                                "ciphertext: HMAC-CTR mac does not verify "
                                "(blob, aad or mac altered, or a wrong key)");
    }
    /* secure memory: the page-rounded buffer always has room for a GCM final of 0 bytes */
    uint8_t *out = cx_secmem_alloc(len ? len : 1, 0, e);
    if (!out)
        return e ? e->code : CX_ERR_NOMEM;
    cx_err rc;
    if (dem == CX_SEAL_DEM_AES256GCM) {
        uint8_t tag[CX_SEAL_GCM_TAG_LEN];
        memcpy(tag, blob + len, sizeof tag);
        rc = gcm_run(0, key, blob, len, aad, aad_len, out, tag, e);
    } else {
        rc = ctr_xor(key, blob, len, out, e);
    }
    if (rc != CX_OK) {
        cx_secmem_free(out);
        return rc;
    }
    *pt = out;
    *pt_len = len;
    return CX_OK;
}
