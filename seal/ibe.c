/* ibe.c — Seal's Boneh–Franklin IBE on BLS12-381 through blst: point and scalar decoding with
 * subgroup checks, H1, pairings and their byte order, master/public/user keys, the share KDF. */
#include "cx_seal.h"
#include "seal_internal.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

static const char DST_ID[] = "SUI-SEAL-IBE-BLS12381-00";
static const char DST_KDF[] = "SUI-SEAL-IBE-BLS12381-H2-00";
/* fastcrypto min_sig DST_G1: the hash-to-curve suite Seal hashes identities with */
static const char DST_G1[] = "BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

cx_err cx_seal_scalar_decode(const uint8_t in[CX_SEAL_SCALAR_LEN], blst_scalar *s, const char *what,
                             cx_error *e)
{
    blst_scalar_from_bendian(s, in);
    if (!blst_scalar_fr_check(s))
        return cx_error_set(e, CX_ERR_FORMAT, "%s: not a scalar below the group order", what);
    return CX_OK;
}

cx_err cx_seal_g1_decode(const uint8_t in[CX_SEAL_G1_LEN], blst_p1_affine *p, const char *what,
                         cx_error *e)
{
    if (blst_p1_uncompress(p, in) != BLST_SUCCESS)
        return cx_error_set(e, CX_ERR_FORMAT, "%s: not a compressed G1 point", what);
    if (blst_p1_affine_is_inf(p))
        return cx_error_set(e, CX_ERR_FORMAT, "%s: the point at infinity", what);
    if (!blst_p1_affine_in_g1(p))
        return cx_error_set(e, CX_ERR_FORMAT, "%s: not in the G1 subgroup", what);
    return CX_OK;
}

cx_err cx_seal_g2_decode(const uint8_t in[CX_SEAL_G2_LEN], blst_p2_affine *p, const char *what,
                         cx_error *e)
{
    if (blst_p2_uncompress(p, in) != BLST_SUCCESS)
        return cx_error_set(e, CX_ERR_FORMAT, "%s: not a compressed G2 point", what);
    if (blst_p2_affine_is_inf(p))
        return cx_error_set(e, CX_ERR_FORMAT, "%s: the point at infinity", what);
    if (!blst_p2_affine_in_g2(p))
        return cx_error_set(e, CX_ERR_FORMAT, "%s: not in the G2 subgroup", what);
    return CX_OK;
}

cx_err cx_seal_h1(const uint8_t *full_id, size_t len, blst_p1 *out, cx_error *e)
{
    if (len > CX_SEAL_ADDR_LEN + CX_SEAL_MAX_ID_LEN)
        return cx_error_set(e, CX_ERR_LIMIT, "seal: identity of %zu bytes exceeds %d", len,
                            CX_SEAL_ADDR_LEN + CX_SEAL_MAX_ID_LEN);
    /* The identity is hashed with a prefix, as one message: DST_ID || full_id. */
    size_t pl = sizeof DST_ID - 1;
    uint8_t msg[sizeof DST_ID - 1 + CX_SEAL_ADDR_LEN + CX_SEAL_MAX_ID_LEN];
    memcpy(msg, DST_ID, pl);
    if (len)
        memcpy(msg + pl, full_id, len);
    blst_hash_to_g1(out, msg, pl + len, (const byte *)DST_G1, sizeof DST_G1 - 1, NULL, 0);
    return CX_OK;
}

cx_err cx_seal_hash_to_g1(const uint8_t *full_id, size_t len, uint8_t out[CX_SEAL_G1_LEN],
                          cx_error *e)
{
    blst_p1 p;
    cx_err rc = cx_seal_h1(full_id, len, &p, e);
    if (rc == CX_OK)
        blst_p1_compress(out, &p);
    return rc;
}

void cx_seal_gt_serialize(const blst_fp12 *gt, uint8_t out[CX_SEAL_GT_LEN])
{
    /* fastcrypto's GTElement byte order (blst_bendian_from_fp12 in later blst versions). */
    size_t at = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++) {
                blst_bendian_from_fp(out + at, &gt->fp6[j].fp2[i].fp[k]);
                at += 48;
            }
}

void cx_seal_pairing(const blst_p1_affine *p, const blst_p2_affine *q, blst_fp12 *out)
{
    blst_fp12 ml;
    blst_miller_loop(&ml, q, p);
    blst_final_exp(out, &ml);
}

cx_err cx_seal_decap(const uint8_t usk[CX_SEAL_G1_LEN], const uint8_t nonce[CX_SEAL_G2_LEN],
                     uint8_t gt[CX_SEAL_GT_LEN], cx_error *e)
{
    blst_p1_affine u;
    blst_p2_affine n;
    cx_err rc = cx_seal_g1_decode(usk, &u, "user secret key", e);
    if (rc == CX_OK)
        rc = cx_seal_g2_decode(nonce, &n, "nonce", e);
    if (rc != CX_OK)
        return rc;
    blst_fp12 v;
    cx_seal_pairing(&u, &n, &v);
    cx_seal_gt_serialize(&v, gt);
    cx_memwipe(&v, sizeof v);
    return CX_OK;
}

cx_err cx_seal_sha3(const uint8_t *const *parts, const size_t *lens, size_t n, uint8_t out[32],
                    cx_error *e)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return cx_error_set(e, CX_ERR_NOMEM, "SHA3-256 context");
    int ok = EVP_DigestInit_ex(md, EVP_sha3_256(), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = lens[i] == 0 || EVP_DigestUpdate(md, parts[i], lens[i]) == 1;
    unsigned int outl = 0;
    ok = ok && EVP_DigestFinal_ex(md, out, &outl) == 1 && outl == 32;
    EVP_MD_CTX_free(md);
    return ok ? CX_OK : cx_error_openssl(e, CX_ERR_CRYPTO, "SHA3-256");
}

cx_err cx_seal_kdf_gid(const uint8_t gt[CX_SEAL_GT_LEN], const uint8_t nonce[CX_SEAL_G2_LEN],
                       const uint8_t gid[CX_SEAL_G1_LEN], const uint8_t object_id[CX_SEAL_ADDR_LEN],
                       uint8_t index, uint8_t out[CX_SEAL_KEY_LEN], cx_error *e)
{
    const uint8_t *parts[] = {(const uint8_t *)DST_KDF, gt, nonce, gid, object_id, &index};
    const size_t lens[] = {sizeof DST_KDF - 1, CX_SEAL_GT_LEN,   CX_SEAL_G2_LEN,
                           CX_SEAL_G1_LEN,     CX_SEAL_ADDR_LEN, 1};
    return cx_seal_sha3(parts, lens, 6, out, e);
}

cx_err cx_seal_kdf(const uint8_t gt[CX_SEAL_GT_LEN], const uint8_t nonce[CX_SEAL_G2_LEN],
                   const uint8_t *full_id, size_t full_id_len,
                   const uint8_t object_id[CX_SEAL_ADDR_LEN], uint8_t index,
                   uint8_t out[CX_SEAL_KEY_LEN], cx_error *e)
{
    uint8_t gid[CX_SEAL_G1_LEN];
    cx_err rc = cx_seal_hash_to_g1(full_id, full_id_len, gid, e);
    if (rc != CX_OK)
        return rc;
    return cx_seal_kdf_gid(gt, nonce, gid, object_id, index, out, e);
}

cx_err cx_seal_random_scalar(blst_scalar *s, cx_error *e)
{
    /* 64 random bytes reduced mod r: the bias (< 2^-256) is far below anything observable. */
    uint8_t buf[64];
    for (int tries = 0; tries < 8; tries++) {
        if (RAND_bytes(buf, sizeof buf) != 1)
            return cx_error_openssl(e, CX_ERR_CRYPTO, "seal: random scalar");
        int nonzero = blst_scalar_from_be_bytes(s, buf, sizeof buf);
        cx_memwipe(buf, sizeof buf);
        if (nonzero)
            return CX_OK;
    }
    return cx_error_set(e, CX_ERR_CRYPTO, "seal: the random generator keeps returning zero");
}

static cx_err master_key_decode(const uint8_t msk[CX_SEAL_SCALAR_LEN], blst_scalar *s, cx_error *e)
{
    cx_err rc = cx_seal_scalar_decode(msk, s, "master key", e);
    if (rc == CX_OK && !blst_sk_check(s))
        rc = cx_error_set(e, CX_ERR_FORMAT, "master key: zero");
    return rc;
}

cx_err cx_seal_master_key_generate(uint8_t msk[CX_SEAL_SCALAR_LEN], cx_error *e)
{
    blst_scalar s;
    cx_err rc = cx_seal_random_scalar(&s, e);
    if (rc == CX_OK)
        blst_bendian_from_scalar(msk, &s);
    cx_memwipe(&s, sizeof s);
    return rc;
}

cx_err cx_seal_public_key(const uint8_t msk[CX_SEAL_SCALAR_LEN], uint8_t pk[CX_SEAL_G2_LEN],
                          cx_error *e)
{
    blst_scalar s;
    cx_err rc = master_key_decode(msk, &s, e);
    if (rc == CX_OK) {
        blst_p2 p;
        blst_sk_to_pk_in_g2(&p, &s);
        blst_p2_compress(pk, &p);
    }
    cx_memwipe(&s, sizeof s);
    return rc;
}

cx_err cx_seal_extract(const uint8_t msk[CX_SEAL_SCALAR_LEN], const uint8_t *full_id,
                       size_t full_id_len, uint8_t usk[CX_SEAL_G1_LEN], cx_error *e)
{
    blst_p1 gid;
    cx_err rc = cx_seal_h1(full_id, full_id_len, &gid, e);
    if (rc != CX_OK)
        return rc;
    blst_scalar s;
    rc = master_key_decode(msk, &s, e);
    if (rc == CX_OK) {
        blst_p1 k;
        blst_p1_mult(&k, &gid, s.b, 255);
        blst_p1_compress(usk, &k);
        cx_memwipe(&k, sizeof k);
    }
    cx_memwipe(&s, sizeof s);
    return rc;
}

cx_err cx_seal_verify_usk_point(const blst_p1_affine *usk, const blst_p1_affine *gid,
                                const blst_p2_affine *pk)
{
    blst_fp12 lhs, rhs;
    cx_seal_pairing(usk, blst_p2_affine_generator(), &lhs);
    cx_seal_pairing(gid, pk, &rhs);
    return blst_fp12_is_equal(&lhs, &rhs) ? CX_OK : CX_ERR_VERIFY;
}

cx_err cx_seal_verify_user_secret_key(const uint8_t usk[CX_SEAL_G1_LEN], const uint8_t *full_id,
                                      size_t full_id_len, const uint8_t pk[CX_SEAL_G2_LEN],
                                      cx_error *e)
{
    blst_p1 gid_p;
    cx_err rc = cx_seal_h1(full_id, full_id_len, &gid_p, e);
    if (rc != CX_OK)
        return rc;
    blst_p1_affine u, gid;
    blst_p2_affine q;
    blst_p1_to_affine(&gid, &gid_p);
    rc = cx_seal_g1_decode(usk, &u, "user secret key", e);
    if (rc == CX_OK)
        rc = cx_seal_g2_decode(pk, &q, "key server public key", e);
    if (rc != CX_OK)
        return rc;
    if (cx_seal_verify_usk_point(&u, &gid, &q) != CX_OK)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "user secret key does not verify against the server's public key "
                            "for this identity (e(usk, G2) != e(H1(id), pk))");
    return CX_OK;
}
