/* ed25519.c — the one Ed25519 (RFC 8032) and X25519 public-key implementation of the project:
 * thin wrappers over OpenSSL EVP with raw 32-byte keys, for io, chain and attestation alike. */
#include "cx_proto.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

cx_err cx_ed25519_seed_generate(uint8_t seed[CX_ED25519_SEED_LEN], cx_error *e)
{
    if (RAND_priv_bytes(seed, CX_ED25519_SEED_LEN) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "Ed25519: random seed");
    return CX_OK;
}

static cx_err raw_public(int type, const uint8_t sk[32], uint8_t pk[32], const char *what,
                         cx_error *e)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(type, NULL, sk, 32);
    size_t n = 32;
    int ok = k && EVP_PKEY_get_raw_public_key(k, pk, &n) == 1 && n == 32;
    EVP_PKEY_free(k);
    if (!ok)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "%s: deriving the public key", what);
    return CX_OK;
}

cx_err cx_ed25519_public_from_seed(const uint8_t seed[CX_ED25519_SEED_LEN],
                                   uint8_t pk[CX_ED25519_PK_LEN], cx_error *e)
{
    return raw_public(EVP_PKEY_ED25519, seed, pk, "Ed25519", e);
}

cx_err cx_x25519_public_from_secret(const uint8_t sk[32], uint8_t pk[32], cx_error *e)
{
    return raw_public(EVP_PKEY_X25519, sk, pk, "X25519", e);
}

cx_err cx_ed25519_sign(const uint8_t seed[CX_ED25519_SEED_LEN], const uint8_t *msg, size_t len,
                       uint8_t sig[CX_ED25519_SIG_LEN], cx_error *e)
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, CX_ED25519_SEED_LEN);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = CX_ED25519_SIG_LEN;
    cx_err rc = CX_OK;
    if (!k || !md || EVP_DigestSignInit(md, NULL, NULL, NULL, k) != 1 ||
        EVP_DigestSign(md, sig, &n, msg, len) != 1 || n != CX_ED25519_SIG_LEN)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "Ed25519: signing failed");
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}

cx_err cx_ed25519_verify(const uint8_t pk[CX_ED25519_PK_LEN], const uint8_t *msg, size_t len,
                         const uint8_t sig[CX_ED25519_SIG_LEN], cx_error *e)
{
    /* a key that is not a point comes from the same untrusted input as the signature:
     * both are "does not verify" (AUTH), not a local crypto failure */
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, CX_ED25519_PK_LEN);
    if (!k)
        return cx_error_openssl(e, CX_ERR_AUTH, "Ed25519: invalid public key");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    cx_err rc = CX_OK;
    if (!md)
        rc = cx_error_set(e, CX_ERR_NOMEM, "Ed25519: out of memory");
    else if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) != 1)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "Ed25519: verify init failed");
    else if (EVP_DigestVerify(md, sig, CX_ED25519_SIG_LEN, msg, len) != 1)
        rc = cx_error_openssl(e, CX_ERR_AUTH, "Ed25519: signature does not verify");
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}
