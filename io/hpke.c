/* hpke.c — RFC 9180 HPKE, base mode, for one suite: DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256, AES-256-GCM, on OpenSSL 3.0 EVP (Debian 12's OpenSSL has no OSSL_HPKE). */
#include "cx_io.h"
#include "cxb_internal.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* suite_id of the KEM (§4.1) and of the whole suite (§5.1). */
static const uint8_t kem_suite[5] = {'K', 'E', 'M', 0x00, 0x20};
static const uint8_t hpke_suite[10] = {'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x02};

#define LABEL_MAX 512

/* One HKDF-SHA256 step through the EVP_KDF API: extract (key = ikm, optional salt) or
 * expand (key = prk, info); what names the step in errors. */
static cx_err hkdf_run(int mode, const uint8_t *key, size_t key_len, const uint8_t *salt,
                       size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
                       size_t len, const char *what, cx_error *e)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (!kdf)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "fetching HKDF");
    EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!kc)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "HKDF context");
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
    /* An empty salt means HashLen zero bytes (RFC 5869 §2.2); HMAC pads either to the same key. */
    if (salt_len)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (mode == EVP_KDF_HKDF_MODE_EXPAND_ONLY)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();
    int ok = EVP_KDF_derive(kc, out, len, params);
    EVP_KDF_CTX_free(kc);
    return ok == 1 ? CX_OK : cx_error_openssl(e, CX_ERR_CRYPTO, "%s", what);
}

cx_err cx_io_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                          size_t ikm_len, uint8_t prk[32], cx_error *e)
{
    return hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, ikm_len, salt, salt_len, NULL, 0, prk,
                    32, "HKDF-Extract", e);
}

cx_err cx_io_hkdf_expand(const uint8_t prk[32], const uint8_t *info, size_t info_len,
                         uint8_t *out, size_t len, cx_error *e)
{
    return hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, 32, NULL, 0, info, info_len, out, len,
                    "HKDF-Expand", e);
}

/* Appends "HPKE-v1" || suite || label || data at buf + n (the caller checked the room). */
static size_t labeled_put(uint8_t *buf, size_t n, const uint8_t *suite, size_t suite_len,
                          const char *label, size_t ll, const uint8_t *data, size_t data_len)
{
    memcpy(buf + n, "HPKE-v1", 7), n += 7;
    memcpy(buf + n, suite, suite_len), n += suite_len;
    memcpy(buf + n, label, ll), n += ll;
    if (data_len)
        memcpy(buf + n, data, data_len), n += data_len;
    return n;
}

/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite || label || ikm). */
static cx_err labeled_extract(const uint8_t *suite, size_t suite_len, const uint8_t *salt,
                              size_t salt_len, const char *label, const uint8_t *ikm,
                              size_t ikm_len, uint8_t prk[32], cx_error *e)
{
    uint8_t buf[LABEL_MAX];
    size_t ll = strlen(label);
    if (7 + suite_len + ll + ikm_len > sizeof buf)
        return cx_error_set(e, CX_ERR_LIMIT, "HPKE: labeled input of %zu bytes too long",
                            ikm_len);
    size_t n = labeled_put(buf, 0, suite, suite_len, label, ll, ikm, ikm_len);
    cx_err rc = cx_io_hkdf_extract(salt, salt_len, buf, n, prk, e);
    cx_memwipe(buf, sizeof buf);
    return rc;
}

/* LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L,2) || "HPKE-v1" || suite ||
 * label || info, L). */
static cx_err labeled_expand(const uint8_t *suite, size_t suite_len, const uint8_t prk[32],
                             const char *label, const uint8_t *info, size_t info_len,
                             uint8_t *out, size_t len, cx_error *e)
{
    uint8_t buf[LABEL_MAX];
    size_t ll = strlen(label);
    if (len > 255 * 32 || 2 + 7 + suite_len + ll + info_len > sizeof buf)
        return cx_error_set(e, CX_ERR_LIMIT, "HPKE: expand input too long");
    buf[0] = (uint8_t)(len >> 8);
    buf[1] = (uint8_t)len;
    size_t n = labeled_put(buf, 2, suite, suite_len, label, ll, info, info_len);
    cx_err rc = cx_io_hkdf_expand(prk, buf, n, out, len, e);
    cx_memwipe(buf, sizeof buf);
    return rc;
}

/* DH(sk, pk) with the all-zero output rejected (§7.1.4: a small-order public key). */
static cx_err x25519_dh(const uint8_t sk[32], const uint8_t pk[32], uint8_t out[32],
                        cx_error *e)
{
    cx_err rc = CX_OK;
    EVP_PKEY *priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
    EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk, 32);
    EVP_PKEY_CTX *pc = priv ? EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL) : NULL;
    size_t len = 32;
    if (!priv || !pub || !pc)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "X25519 keys");
    else if (EVP_PKEY_derive_init(pc) != 1 || EVP_PKEY_derive_set_peer(pc, pub) != 1 ||
             EVP_PKEY_derive(pc, out, &len) != 1 || len != 32)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "X25519 key agreement (invalid public key?)");
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    if (rc == CX_OK) {
        uint8_t acc = 0;
        for (int i = 0; i < 32; i++)
            acc |= out[i];
        if (acc == 0)
            rc = cx_error_set(e, CX_ERR_CRYPTO, "X25519: all-zero shared secret "
                                                "(small-order public key)");
    }
    return rc;
}

cx_err cx_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[32], uint8_t pk[32],
                              cx_error *e)
{
    uint8_t prk[32];
    cx_err rc = labeled_extract(kem_suite, sizeof kem_suite, NULL, 0, "dkp_prk", ikm, ikm_len,
                                prk, e);
    if (rc == CX_OK)
        rc = labeled_expand(kem_suite, sizeof kem_suite, prk, "sk", NULL, 0, sk, 32, e);
    cx_memwipe(prk, sizeof prk);
    if (rc == CX_OK)
        rc = cx_x25519_public_from_secret(sk, pk, e);
    return rc;
}

/* ExtractAndExpand(dh, kem_context) (§4.1). */
static cx_err extract_and_expand(const uint8_t dh[32], const uint8_t enc[32],
                                 const uint8_t pk_r[32], uint8_t shared[32], cx_error *e)
{
    uint8_t kem_context[64], prk[32];
    memcpy(kem_context, enc, 32);
    memcpy(kem_context + 32, pk_r, 32);
    cx_err rc = labeled_extract(kem_suite, sizeof kem_suite, NULL, 0, "eae_prk", dh, 32, prk, e);
    if (rc == CX_OK)
        rc = labeled_expand(kem_suite, sizeof kem_suite, prk, "shared_secret", kem_context, 64,
                            shared, 32, e);
    cx_memwipe(prk, sizeof prk);
    return rc;
}

/* KeySchedule(mode_base, shared_secret, info, psk = "", psk_id = "") (§5.1). */
static cx_err key_schedule(const uint8_t *info, size_t info_len, cx_hpke_ctx *ctx, cx_error *e)
{
    uint8_t ksc[65], secret[32];
    ksc[0] = 0x00; /* mode_base */
    cx_err rc = labeled_extract(hpke_suite, sizeof hpke_suite, NULL, 0, "psk_id_hash", NULL, 0,
                                ksc + 1, e);
    if (rc == CX_OK)
        rc = labeled_extract(hpke_suite, sizeof hpke_suite, NULL, 0, "info_hash", info, info_len,
                             ksc + 33, e);
    if (rc == CX_OK)
        rc = labeled_extract(hpke_suite, sizeof hpke_suite, ctx->shared_secret, 32, "secret",
                             NULL, 0, secret, e);
    if (rc == CX_OK)
        rc = labeled_expand(hpke_suite, sizeof hpke_suite, secret, "key", ksc, sizeof ksc,
                            ctx->key, CX_HPKE_KEY_LEN, e);
    if (rc == CX_OK)
        rc = labeled_expand(hpke_suite, sizeof hpke_suite, secret, "base_nonce", ksc, sizeof ksc,
                            ctx->base_nonce, CX_HPKE_NONCE_LEN, e);
    if (rc == CX_OK)
        rc = labeled_expand(hpke_suite, sizeof hpke_suite, secret, "exp", ksc, sizeof ksc,
                            ctx->exporter_secret, 32, e);
    ctx->seq = 0;
    cx_memwipe(secret, sizeof secret);
    return rc;
}

/* The half of Encap / Decap both sides share (§4.1, §5.1): dh = X25519(sk, peer), then
 * shared_secret = ExtractAndExpand(dh, enc || pk_r) and the key schedule. */
static cx_err setup_from_dh(const uint8_t sk[32], const uint8_t peer[32], const uint8_t enc[32],
                            const uint8_t pk_r[32], const uint8_t *info, size_t info_len,
                            cx_hpke_ctx *ctx, cx_error *e)
{
    uint8_t dh[32];
    cx_err rc = x25519_dh(sk, peer, dh, e);
    if (rc == CX_OK)
        rc = extract_and_expand(dh, enc, pk_r, ctx->shared_secret, e);
    if (rc == CX_OK)
        rc = key_schedule(info, info_len, ctx, e);
    cx_memwipe(dh, sizeof dh);
    return rc;
}

cx_err cx_hpke_setup_sender(const uint8_t pk_r[32], const uint8_t *info, size_t info_len,
                            const uint8_t *eph_sk, uint8_t enc[32], cx_hpke_ctx *ctx,
                            cx_error *e)
{
    uint8_t sk_e[32];
    memset(ctx, 0, sizeof *ctx);
    cx_err rc = CX_OK;
    if (eph_sk) {
        memcpy(sk_e, eph_sk, 32);
    } else {
        uint8_t ikm[32];
        if (RAND_priv_bytes(ikm, sizeof ikm) != 1)
            return cx_error_openssl(e, CX_ERR_CRYPTO, "HPKE: random ephemeral key");
        uint8_t pk_unused[32];
        rc = cx_hpke_derive_keypair(ikm, sizeof ikm, sk_e, pk_unused, e);
        cx_memwipe(ikm, sizeof ikm);
    }
    if (rc == CX_OK)
        rc = cx_x25519_public_from_secret(sk_e, enc, e);
    if (rc == CX_OK)
        rc = setup_from_dh(sk_e, pk_r, enc, pk_r, info, info_len, ctx, e);
    cx_memwipe(sk_e, sizeof sk_e);
    if (rc != CX_OK)
        cx_memwipe(ctx, sizeof *ctx);
    return rc;
}

cx_err cx_hpke_setup_recipient(const uint8_t enc[32], const uint8_t sk_r[32], const uint8_t *info,
                               size_t info_len, cx_hpke_ctx *ctx, cx_error *e)
{
    uint8_t pk_r[32];
    memset(ctx, 0, sizeof *ctx);
    cx_err rc = cx_x25519_public_from_secret(sk_r, pk_r, e);
    if (rc == CX_OK)
        rc = setup_from_dh(sk_r, enc, enc, pk_r, info, info_len, ctx, e);
    if (rc != CX_OK)
        cx_memwipe(ctx, sizeof *ctx);
    return rc;
}

/* nonce = base_nonce XOR I2OSP(seq, 12) (§5.2). */
static void seq_nonce(const cx_hpke_ctx *ctx, uint8_t nonce[12])
{
    memcpy(nonce, ctx->base_nonce, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

cx_err cx_io_gcm_oneshot(int enc, const uint8_t key[32], const uint8_t nonce[12],
                         const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
                         uint8_t *out, uint8_t tag[16], cx_error *e)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return cx_error_openssl(e, CX_ERR_NOMEM, "AES-256-GCM context");
    cx_err rc = CX_OK;
    int outl = 0;
    if (len > INT32_MAX || aad_len > INT32_MAX) {
        rc = cx_error_set(e, CX_ERR_LIMIT, "AES-256-GCM: %zu bytes in one call", len);
        goto done;
    }
    if (EVP_CipherInit_ex2(c, EVP_aes_256_gcm(), key, nonce, enc, NULL) != 1 ||
        (aad_len && EVP_CipherUpdate(c, NULL, &outl, aad, (int)aad_len) != 1) ||
        (len && EVP_CipherUpdate(c, out, &outl, in, (int)len) != 1)) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM");
        goto done;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM set tag");
        goto done;
    }
    if (EVP_CipherFinal_ex(c, out + (len ? outl : 0), &outl) != 1) {
        if (enc)
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM final");
        else
            rc = cx_error_set(e, CX_ERR_AUTH, "authentication failed");
        goto done;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM get tag");
done:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

cx_err cx_hpke_seal(cx_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                    size_t pt_len, uint8_t *ct, cx_error *e)
{
    if (ctx->seq == UINT64_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "HPKE: message limit reached");
    uint8_t nonce[12];
    seq_nonce(ctx, nonce);
    cx_err rc = cx_io_gcm_oneshot(1, ctx->key, nonce, aad, aad_len, pt, pt_len, ct, ct + pt_len, e);
    if (rc == CX_OK)
        ctx->seq++;
    return rc;
}

cx_err cx_hpke_open(cx_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                    size_t ct_len, uint8_t *pt, cx_error *e)
{
    if (ct_len < CX_HPKE_TAG_LEN)
        return cx_error_set(e, CX_ERR_FORMAT, "HPKE: ciphertext shorter than its tag");
    if (ctx->seq == UINT64_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "HPKE: message limit reached");
    uint8_t nonce[12], tag[16];
    size_t len = ct_len - CX_HPKE_TAG_LEN;
    memcpy(tag, ct + len, 16);
    seq_nonce(ctx, nonce);
    cx_err rc = cx_io_gcm_oneshot(0, ctx->key, nonce, aad, aad_len, ct, len, pt, tag, e);
    if (rc == CX_OK)
        ctx->seq++;
    else if (len)
        cx_memwipe(pt, len); /* never hand out unauthenticated plaintext */
    return rc;
}

cx_err cx_hpke_export(const cx_hpke_ctx *ctx, const uint8_t *exp_ctx, size_t exp_ctx_len,
                      uint8_t *out, size_t len, cx_error *e)
{
    return labeled_expand(hpke_suite, sizeof hpke_suite, ctx->exporter_secret, "sec", exp_ctx,
                          exp_ctx_len, out, len, e);
}
