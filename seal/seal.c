/* seal.c — Seal encryption and decryption of whole objects (SEAL-RS lib.rs seal_encrypt /
 * seal_decrypt, SEAL-TS encrypt.mjs / decrypt.mjs): threshold IBE of a base key, the keys
 * derived from it, and the DEM; every key server's answer verified before use. */
#include "cx_proto.h"
#include "cx_seal.h"
#include "seal_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

static const char DST_DERIVE_KEY[] = "SUI-SEAL-IBE-BLS12381-H3-00";

cx_err cx_seal_derive_key(int purpose, const uint8_t base_key[CX_SEAL_KEY_LEN],
                          const cx_seal_object *o, uint8_t out[CX_SEAL_KEY_LEN], cx_error *e)
{
    if (purpose != CX_SEAL_KEY_RANDOMNESS && purpose != CX_SEAL_KEY_DEM)
        return cx_error_set(e, CX_ERR_ARG, "seal: key purpose %d", purpose);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return cx_error_set(e, CX_ERR_NOMEM, "SHA3-256 context");
    uint8_t head[2] = {(uint8_t)purpose, o->threshold};
    int ok = EVP_DigestInit_ex(md, EVP_sha3_256(), NULL) == 1 &&
             EVP_DigestUpdate(md, DST_DERIVE_KEY, sizeof DST_DERIVE_KEY - 1) == 1 &&
             EVP_DigestUpdate(md, base_key, CX_SEAL_KEY_LEN) == 1 &&
             EVP_DigestUpdate(md, head, sizeof head) == 1;
    for (size_t i = 0; ok && i < o->n_services; i++)
        ok = EVP_DigestUpdate(md, o->encrypted_shares[i], CX_SEAL_KEY_LEN) == 1;
    for (size_t i = 0; ok && i < o->n_services; i++)
        ok = EVP_DigestUpdate(md, o->services[i].object_id, CX_SEAL_ADDR_LEN) == 1;
    unsigned int outl = 0;
    ok = ok && EVP_DigestFinal_ex(md, out, &outl) == 1 && outl == CX_SEAL_KEY_LEN;
    EVP_MD_CTX_free(md);
    return ok ? CX_OK : cx_error_openssl(e, CX_ERR_CRYPTO, "SHA3-256");
}

/* ---------------------------------------------------------------- encrypt -- */

/* The secrets of one encryption, in one secure allocation. */
typedef struct enc_secrets {
    uint8_t base_key[CX_SEAL_KEY_LEN];
    uint8_t shares[CX_SEAL_MAX_SERVERS][CX_SEAL_KEY_LEN];
    uint8_t key[CX_SEAL_KEY_LEN]; /* kdf output, then the derived keys */
    uint8_t gt[CX_SEAL_GT_LEN];
    uint8_t r_be[CX_SEAL_SCALAR_LEN];
    blst_scalar r;
    blst_p1 gid_r;
    blst_fp12 pairing;
} enc_secrets;

static cx_err encrypt_params_check(const cx_seal_encrypt_params *p, size_t msg_len, cx_error *e)
{
    if (!p->package_id || (p->id_len && !p->id) || !p->servers)
        return cx_error_set(e, CX_ERR_ARG, "seal encrypt: missing package id, id or servers");
    if (p->n_servers == 0 || p->n_servers > CX_SEAL_MAX_SERVERS)
        return cx_error_set(e, CX_ERR_ARG, "seal encrypt: %zu key servers (1..%d)", p->n_servers,
                            CX_SEAL_MAX_SERVERS);
    if (p->threshold == 0 || p->threshold > p->n_servers)
        return cx_error_set(e, CX_ERR_ARG, "seal encrypt: threshold %u of %zu key servers",
                            p->threshold, p->n_servers);
    if (p->id_len > CX_SEAL_MAX_ID_LEN)
        return cx_error_set(e, CX_ERR_LIMIT, "seal encrypt: id of %zu bytes exceeds %d", p->id_len,
                            CX_SEAL_MAX_ID_LEN);
    if (p->dem != CX_SEAL_DEM_AES256GCM && p->dem != CX_SEAL_DEM_HMAC256CTR &&
        p->dem != CX_SEAL_DEM_PLAIN)
        return cx_error_set(e, CX_ERR_ARG, "seal encrypt: DEM %d", (int)p->dem);
    if (p->dem != CX_SEAL_DEM_PLAIN && msg_len > CX_SEAL_MAX_BLOB_LEN - CX_SEAL_GCM_TAG_LEN)
        return cx_error_set(e, CX_ERR_LIMIT, "seal encrypt: message of %zu bytes", msg_len);
    if (p->aad_len && !p->aad)
        return cx_error_set(e, CX_ERR_ARG, "seal encrypt: aad length without aad");
    return CX_OK;
}

/* Fills the object's KEM part: nonce, encrypted shares and randomness; s->base_key set. */
static cx_err encrypt_kem(const cx_seal_encrypt_params *p, cx_seal_object *o, enc_secrets *s,
                          cx_error *e)
{
    uint8_t *full_id = NULL;
    size_t full_len = 0;
    cx_err rc = cx_seal_full_id(p->package_id, p->id, p->id_len, &full_id, &full_len, e);
    if (rc != CX_OK)
        return rc;
    blst_p1 gid;
    uint8_t gid_bytes[CX_SEAL_G1_LEN];
    rc = cx_seal_h1(full_id, full_len, &gid, e);
    free(full_id);
    if (rc != CX_OK)
        return rc;
    blst_p1_compress(gid_bytes, &gid);
    if (RAND_bytes(s->base_key, CX_SEAL_KEY_LEN) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "seal encrypt: base key");
    rc = cx_seal_shamir_split(s->base_key, p->threshold, p->n_servers, s->shares, e);
    if (rc == CX_OK)
        rc = cx_seal_random_scalar(&s->r, e);
    if (rc != CX_OK)
        return rc;
    blst_p2 nonce;
    blst_sk_to_pk_in_g2(&nonce, &s->r);
    blst_p2_compress(o->nonce, &nonce);
    blst_p1_mult(&s->gid_r, &gid, s->r.b, 255);
    blst_p1_affine gid_r;
    blst_p1_to_affine(&gid_r, &s->gid_r);
    for (size_t i = 0; i < p->n_servers; i++) {
        blst_p2_affine pk;
        char what[64];
        snprintf(what, sizeof what, "key server %zu's public key", i);
        rc = cx_seal_g2_decode(p->servers[i].pk, &pk, what, e);
        if (rc != CX_OK)
            break;
        cx_seal_pairing(&gid_r, &pk, &s->pairing);
        cx_seal_gt_serialize(&s->pairing, s->gt);
        rc = cx_seal_kdf_gid(s->gt, o->nonce, gid_bytes, p->servers[i].object_id,
                             o->services[i].index, s->key, e);
        if (rc != CX_OK)
            break;
        for (size_t b = 0; b < CX_SEAL_KEY_LEN; b++)
            o->encrypted_shares[i][b] = s->shares[i][b] ^ s->key[b];
    }
    cx_memwipe(&gid_r, sizeof gid_r);
    if (rc == CX_OK)
        rc = cx_seal_derive_key(CX_SEAL_KEY_RANDOMNESS, s->base_key, o, s->key, e);
    if (rc != CX_OK)
        return rc;
    blst_bendian_from_scalar(s->r_be, &s->r);
    for (size_t b = 0; b < CX_SEAL_SCALAR_LEN; b++)
        o->encrypted_randomness[b] = s->r_be[b] ^ s->key[b];
    return CX_OK;
}

cx_err cx_seal_encrypt(const cx_seal_encrypt_params *p, const uint8_t *msg, size_t msg_len,
                       uint8_t **out, size_t *out_len, uint8_t dem_key[CX_SEAL_KEY_LEN],
                       cx_error *e)
{
    *out = NULL;
    *out_len = 0;
    cx_err rc = encrypt_params_check(p, msg_len, e);
    if (rc != CX_OK)
        return rc;
    cx_seal_object *o = calloc(1, sizeof *o);
    enc_secrets *s = cx_secmem_alloc(sizeof *s, 0, e);
    if (!o || !s) {
        free(o);
        cx_secmem_free(s);
        return cx_error_set(e, CX_ERR_NOMEM, "seal encrypt");
    }
    o->version = CX_SEAL_OBJECT_VERSION;
    memcpy(o->package_id, p->package_id, CX_SEAL_ADDR_LEN);
    o->id = malloc(p->id_len ? p->id_len : 1);
    o->id_len = p->id_len;
    o->n_services = p->n_servers;
    o->services = calloc(p->n_servers, sizeof *o->services);
    o->encrypted_shares = calloc(p->n_servers, CX_SEAL_KEY_LEN);
    o->threshold = p->threshold;
    o->dem = p->dem;
    if (!o->id || !o->services || !o->encrypted_shares) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "seal encrypt");
        goto out;
    }
    if (p->id_len)
        memcpy(o->id, p->id, p->id_len);
    for (size_t i = 0; i < p->n_servers; i++) {
        memcpy(o->services[i].object_id, p->servers[i].object_id, CX_SEAL_ADDR_LEN);
        o->services[i].index = (uint8_t)(i + 1);
    }
    rc = encrypt_kem(p, o, s, e);
    if (rc == CX_OK)
        rc = cx_seal_derive_key(CX_SEAL_KEY_DEM, s->base_key, o, s->key, e);
    if (rc == CX_OK && p->dem != CX_SEAL_DEM_PLAIN) {
        /* the SDK always writes Some(aad), empty when there is none */
        o->has_aad = 1;
        o->aad_len = p->aad_len;
        o->aad = malloc(p->aad_len ? p->aad_len : 1);
        if (!o->aad)
            rc = cx_error_set(e, CX_ERR_NOMEM, "seal encrypt: aad");
        else if (p->aad_len)
            memcpy(o->aad, p->aad, p->aad_len);
        if (rc == CX_OK)
            rc = cx_seal_dem_encrypt(p->dem, s->key, msg, msg_len, o->aad, o->aad_len, &o->blob,
                                     &o->blob_len, o->mac, e);
    }
    if (rc == CX_OK)
        rc = cx_seal_object_encode(o, out, out_len, e);
    if (rc == CX_OK && dem_key)
        memcpy(dem_key, s->key, CX_SEAL_KEY_LEN);
out:
    cx_seal_object_free(o);
    cx_secmem_free(s);
    return rc;
}

/* ---------------------------------------------------------------- decrypt -- */

typedef struct dec_secrets {
    uint8_t xs[CX_SEAL_MAX_SERVERS];
    uint8_t ys[CX_SEAL_MAX_SERVERS][CX_SEAL_KEY_LEN];
    uint8_t base_key[CX_SEAL_KEY_LEN];
    uint8_t key[CX_SEAL_KEY_LEN];
    uint8_t gt[CX_SEAL_GT_LEN];
    uint8_t r_be[CX_SEAL_SCALAR_LEN];
    blst_scalar r;
    blst_fp12 pairing;
    blst_p1 gid_r;
} dec_secrets;

static const cx_seal_key *key_for(const cx_seal_decrypt_params *p, const uint8_t *object_id,
                                  size_t *which)
{
    for (size_t k = 0; k < p->n_keys; k++)
        if (memcmp(p->keys[k].object_id, object_id, CX_SEAL_ADDR_LEN) == 0) {
            *which = k;
            return &p->keys[k];
        }
    return NULL;
}

/* Decrypts the share of every service whose server answered, each key verified first. */
static cx_err decrypt_shares(const cx_seal_object *o, const cx_seal_decrypt_params *p,
                             const blst_p1_affine *gid, const uint8_t gid_bytes[CX_SEAL_G1_LEN],
                             const blst_p2_affine *nonce, dec_secrets *s, size_t *k_out,
                             cx_error *e)
{
    /* 0 = not yet checked, 1 = verified (a server listed twice is checked once); keys past
     * the table are checked every time */
    uint8_t verified[256] = {0};
    size_t k = 0;
    char label[128];
    for (size_t i = 0; i < o->n_services; i++) {
        size_t which = 0;
        const cx_seal_key *key = key_for(p, o->services[i].object_id, &which);
        if (!key)
            continue;
        cx_seal_server_label(key->object_id, key->name, label);
        blst_p1_affine usk;
        cx_err rc = cx_seal_g1_decode(key->usk, &usk, "user secret key", e);
        if (rc != CX_OK)
            return cx_error_wrap(rc, e, "key server %s: ", label);
        if (which >= sizeof verified || !verified[which]) {
            blst_p2_affine pk;
            rc = cx_seal_g2_decode(key->pk, &pk, "public key", e);
            if (rc != CX_OK)
                return cx_error_wrap(rc, e, "key server %s: ", label);
            if (cx_seal_verify_usk_point(&usk, gid, &pk) != CX_OK)
                return cx_error_set(e, CX_ERR_VERIFY,
                                    "key server %s: user secret key does not verify for this "
                                    "object's identity under the server's public key (a key "
                                    "for another identity, or a wrong key or public key)",
                                    label);
            if (which < sizeof verified)
                verified[which] = 1;
        }
        cx_seal_pairing(&usk, nonce, &s->pairing);
        cx_seal_gt_serialize(&s->pairing, s->gt);
        rc = cx_seal_kdf_gid(s->gt, o->nonce, gid_bytes, o->services[i].object_id,
                             o->services[i].index, s->key, e);
        if (rc != CX_OK)
            return rc;
        for (size_t b = 0; b < CX_SEAL_KEY_LEN; b++)
            s->ys[k][b] = o->encrypted_shares[i][b] ^ s->key[b];
        s->xs[k++] = o->services[i].index;
    }
    *k_out = k;
    return CX_OK;
}

/* Too few keys: say which servers' answers are missing. */
static cx_err too_few(const cx_seal_object *o, const cx_seal_decrypt_params *p, size_t k,
                      cx_error *e)
{
    char missing[320] = "";
    size_t at = 0, shown = 0;
    for (size_t i = 0; i < o->n_services && at < sizeof missing - 80; i++) {
        size_t which = 0;
        if (key_for(p, o->services[i].object_id, &which))
            continue;
        char hex[CX_ADDR_HEX_LEN + 1];
        cx_addr_to_hex(o->services[i].object_id, hex);
        at += (size_t)snprintf(missing + at, sizeof missing - at, "%s%s", shown++ ? ", " : "", hex);
    }
    return cx_error_set(e, CX_ERR_VERIFY,
                        "seal: shares of %zu key server(s), the object needs %u (no key from %s)",
                        k, o->threshold, missing);
}

/* r from the encrypted randomness, checked against the nonce: this authenticates the shares. */
static cx_err check_nonce(const cx_seal_object *o, const blst_p2_affine *nonce, dec_secrets *s,
                          cx_error *e)
{
    cx_err rc = cx_seal_derive_key(CX_SEAL_KEY_RANDOMNESS, s->base_key, o, s->key, e);
    if (rc != CX_OK)
        return rc;
    for (size_t b = 0; b < CX_SEAL_SCALAR_LEN; b++)
        s->r_be[b] = o->encrypted_randomness[b] ^ s->key[b];
    blst_scalar_from_bendian(&s->r, s->r_be);
    blst_p2 want, got;
    blst_p2_from_affine(&want, nonce);
    if (blst_scalar_fr_check(&s->r)) {
        blst_sk_to_pk_in_g2(&got, &s->r);
        if (blst_p2_is_equal(&got, &want))
            return CX_OK;
    }
    return cx_error_set(e, CX_ERR_AUTH,
                        "seal object: nonce: the randomness the shares open does not match the "
                        "nonce (an encrypted share, the encrypted randomness or the nonce was "
                        "altered)");
}

/* Every service's share, recomputed from r and its public key, lies on the polynomial. */
static cx_err check_consistency(const cx_seal_object *o, const cx_seal_decrypt_params *p,
                                const blst_p1 *gid, const uint8_t gid_bytes[CX_SEAL_G1_LEN],
                                size_t k, dec_secrets *s, cx_error *e)
{
    blst_p1_mult(&s->gid_r, gid, s->r.b, 255);
    blst_p1_affine gid_r;
    blst_p1_to_affine(&gid_r, &s->gid_r);
    cx_err rc = CX_OK;
    for (size_t i = 0; rc == CX_OK && i < o->n_services; i++) {
        char label[128], what[200];
        cx_seal_server_label(o->services[i].object_id, NULL, label);
        snprintf(what, sizeof what, "services[%zu] %s: public key", i, label);
        blst_p2_affine pk;
        rc = cx_seal_g2_decode(p->all_pks[i], &pk, what, e);
        if (rc != CX_OK)
            break;
        cx_seal_pairing(&gid_r, &pk, &s->pairing);
        cx_seal_gt_serialize(&s->pairing, s->gt);
        rc = cx_seal_kdf_gid(s->gt, o->nonce, gid_bytes, o->services[i].object_id,
                             o->services[i].index, s->key, e);
        if (rc != CX_OK)
            break;
        uint8_t on_poly[CX_SEAL_KEY_LEN];
        cx_seal_shamir_eval(s->xs, (const uint8_t(*)[CX_SEAL_KEY_LEN])s->ys, k,
                            o->services[i].index, on_poly);
        uint8_t diff = 0;
        for (size_t b = 0; b < CX_SEAL_KEY_LEN; b++)
            diff |= (uint8_t)(on_poly[b] ^ o->encrypted_shares[i][b] ^ s->key[b]);
        cx_memwipe(on_poly, sizeof on_poly);
        if (diff)
            rc = cx_error_set(e, CX_ERR_AUTH,
                              "seal object: encrypted_shares[%zu] (key server %s): the share "
                              "is not on the others' polynomial (share altered, or its public "
                              "key is not the one it was encrypted to)",
                              i, label);
    }
    cx_memwipe(&gid_r, sizeof gid_r);
    return rc;
}

cx_err cx_seal_decrypt(const cx_seal_object *o, const cx_seal_decrypt_params *p, uint8_t **pt,
                       size_t *pt_len, cx_error *e)
{
    *pt = NULL;
    *pt_len = 0;
    if (o->version != CX_SEAL_OBJECT_VERSION)
        return cx_error_set(e, CX_ERR_FORMAT, "seal object: version %u", o->version);
    if (o->threshold == 0 || o->threshold > o->n_services || o->n_services > CX_SEAL_MAX_SERVERS)
        return cx_error_set(e, CX_ERR_FORMAT, "seal object: threshold %u of %zu services",
                            o->threshold, o->n_services);
    uint8_t *full_id = NULL;
    size_t full_len = 0;
    cx_err rc = cx_seal_full_id(o->package_id, o->id, o->id_len, &full_id, &full_len, e);
    if (rc != CX_OK)
        return rc;
    blst_p1 gid;
    rc = cx_seal_h1(full_id, full_len, &gid, e);
    free(full_id);
    if (rc != CX_OK)
        return rc;
    blst_p1_affine gid_a;
    blst_p2_affine nonce;
    uint8_t gid_bytes[CX_SEAL_G1_LEN];
    blst_p1_to_affine(&gid_a, &gid);
    blst_p1_compress(gid_bytes, &gid);
    rc = cx_seal_g2_decode(o->nonce, &nonce, "seal object: nonce", e);
    if (rc != CX_OK)
        return rc;
    dec_secrets *s = cx_secmem_alloc(sizeof *s, 0, e);
    if (!s)
        return e ? e->code : CX_ERR_NOMEM;
    size_t k = 0;
    rc = decrypt_shares(o, p, &gid_a, gid_bytes, &nonce, s, &k, e);
    if (rc == CX_OK && k < o->threshold)
        rc = too_few(o, p, k, e);
    if (rc == CX_OK)
        rc = cx_seal_shamir_combine(s->xs, (const uint8_t(*)[CX_SEAL_KEY_LEN])s->ys, k, s->base_key,
                                    e);
    if (rc == CX_OK)
        rc = check_nonce(o, &nonce, s, e);
    if (rc == CX_OK && p->all_pks)
        rc = check_consistency(o, p, &gid, gid_bytes, k, s, e);
    if (rc == CX_OK)
        rc = cx_seal_derive_key(CX_SEAL_KEY_DEM, s->base_key, o, s->key, e);
    if (rc == CX_OK && o->dem == CX_SEAL_DEM_PLAIN) {
        uint8_t *k_out = cx_secmem_alloc(CX_SEAL_KEY_LEN, 0, e);
        if (!k_out) {
            rc = e ? e->code : CX_ERR_NOMEM;
        } else {
            memcpy(k_out, s->key, CX_SEAL_KEY_LEN);
            *pt = k_out;
            *pt_len = CX_SEAL_KEY_LEN;
        }
    } else if (rc == CX_OK) {
        rc = cx_seal_dem_decrypt(o->dem, s->key, o->blob, o->blob_len, o->aad, o->aad_len, o->mac,
                                 pt, pt_len, e);
    }
    cx_secmem_free(s);
    return rc;
}
