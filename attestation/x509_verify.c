/* x509_verify.c — raw r||s ECDSA P-384 and the chain building that the Nitro and NVIDIA GPU
 * verifiers (and the simulated TEE's signer) share, so all apply the same OpenSSL calls. */
#include "x509_verify.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

void cx_attest_cert_cn(X509 *x, char *out, size_t cap)
{
    out[0] = '\0';
    X509_NAME *n = X509_get_subject_name(x);
    if (!n || X509_NAME_get_text_by_NID(n, NID_commonName, out, (int)cap) < 0)
        snprintf(out, cap, "(no CN)");
}

cx_err cx_attest_es384_verify(X509 *cert, const uint8_t sig[CX_ES384_SIG_LEN], const uint8_t *msg,
                              size_t len, cx_es384_verdict *out, cx_error *e)
{
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    char group[64] = "";
    size_t glen = 0;
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC ||
        EVP_PKEY_get_group_name(pk, group, sizeof group, &glen) != 1 ||
        strcmp(group, "secp384r1") != 0) {
        ERR_clear_error();
        *out = CX_ES384_BAD_KEY;
        return CX_OK;
    }
    cx_err rc = CX_OK;
    /* OpenSSL verifies a DER ECDSA-Sig-Value; the formats carry raw r||s. */
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(sig, CX_ES384_SIG_LEN / 2, NULL);
    BIGNUM *bs = BN_bin2bn(sig + CX_ES384_SIG_LEN / 2, CX_ES384_SIG_LEN / 2, NULL);
    unsigned char *der = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!s || !br || !bs || !md || ECDSA_SIG_set0(s, br, bs) != 1) {
        BN_free(br);
        BN_free(bs);
        rc = cx_error_openssl(e, CX_ERR_NOMEM, "signature: building ECDSA_SIG");
        goto done;
    }
    int derlen = i2d_ECDSA_SIG(s, &der);
    if (derlen <= 0) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "signature: i2d_ECDSA_SIG");
        goto done;
    }
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, pk) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "signature: EVP_DigestVerifyInit");
        goto done;
    }
    *out = EVP_DigestVerify(md, der, (size_t)derlen, msg, len) == 1 ? CX_ES384_VALID
                                                                    : CX_ES384_BAD_SIG;
    ERR_clear_error();
done:
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    EVP_MD_CTX_free(md);
    return rc;
}

cx_err cx_attest_chain_verify(X509 *leaf, STACK_OF(X509) * untrusted, X509 *root, const time_t *at,
                              int max_depth, STACK_OF(X509) * *built, cx_attest_chain_fail *why,
                              cx_error *e)
{
    *built = NULL;
    memset(why, 0, sizeof *why);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    cx_err rc = CX_OK;
    if (!store || !ctx) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "chain: out of memory");
        goto done;
    }
    if (X509_STORE_add_cert(store, root) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "chain: X509_STORE_add_cert");
        goto done;
    }
    if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "chain: X509_STORE_CTX_init");
        goto done;
    }
    /* Partial chains are never accepted: the root is the only anchor. */
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    if (at)
        X509_VERIFY_PARAM_set_time(param, *at);
    else
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
    if (max_depth > 0)
        X509_VERIFY_PARAM_set_depth(param, max_depth);
    if (X509_verify_cert(ctx) != 1) {
        why->err = X509_STORE_CTX_get_error(ctx);
        why->depth = X509_STORE_CTX_get_error_depth(ctx);
        X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
        if (bad)
            cx_attest_cert_cn(bad, why->cn, sizeof why->cn);
        else
            snprintf(why->cn, sizeof why->cn, "?");
        ERR_clear_error();
        goto done;
    }
    *built = X509_STORE_CTX_get1_chain(ctx);
    if (!*built)
        rc = cx_error_openssl(e, CX_ERR_NOMEM, "chain: copying the built path");
done:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

cx_err cx_attest_es384_sign(EVP_PKEY *key, const uint8_t *msg, size_t len,
                            uint8_t sig[CX_ES384_SIG_LEN], cx_error *e)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t der_len = sizeof der;
    ECDSA_SIG *s = NULL;
    cx_err rc = CX_OK;
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) != 1 ||
        EVP_DigestSign(md, der, &der_len, msg, len) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "ES384 signature");
        goto out;
    }
    const unsigned char *p = der;
    s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!s || BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, CX_ES384_SIG_LEN / 2) != 48 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + CX_ES384_SIG_LEN / 2, CX_ES384_SIG_LEN / 2) != 48)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "ECDSA signature to r||s");
out:
    ECDSA_SIG_free(s);
    EVP_MD_CTX_free(md);
    return rc;
}
