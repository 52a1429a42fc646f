/* keyserver.c — the formats of Seal's key-server exchange (SEAL-KS, SEAL-SDK; spec §4.6):
 * the ElGamal key a requester sends and what it decrypts, the signed RequestFormat bytes, the
 * session certificate's message, and the fetch_key response, written and opened (every
 * returned key checked against the identity asked for and the server's pinned public key). */
#include "cx_proto.h"
#include "cx_seal.h"
#include "seal_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

cx_err cx_seal_elgamal_generate(cx_seal_elgamal_key *k, cx_error *e)
{
    blst_scalar s;
    cx_err rc = cx_seal_random_scalar(&s, e);
    if (rc == CX_OK) {
        blst_p1 p;
        blst_p2 q;
        blst_sk_to_pk_in_g1(&p, &s);
        blst_sk_to_pk_in_g2(&q, &s);
        blst_bendian_from_scalar(k->sk, &s);
        blst_p1_compress(k->enc_key, &p);
        blst_p2_compress(k->enc_vk, &q);
    }
    cx_memwipe(&s, sizeof s);
    return rc;
}

cx_err cx_seal_elgamal_encrypt(const uint8_t enc_key[CX_SEAL_G1_LEN],
                               const uint8_t usk[CX_SEAL_G1_LEN], uint8_t c0[CX_SEAL_G1_LEN],
                               uint8_t c1[CX_SEAL_G1_LEN], cx_error *e)
{
    blst_p1_affine pk, m;
    cx_err rc = cx_seal_g1_decode(enc_key, &pk, "enc_key", e);
    if (rc == CX_OK)
        rc = cx_seal_g1_decode(usk, &m, "user secret key", e);
    blst_scalar r;
    if (rc == CX_OK)
        rc = cx_seal_random_scalar(&r, e);
    if (rc != CX_OK)
        return rc;
    /* (r·G1, usk + r·pk) (SEAL-RS elgamal.rs encrypt) */
    blst_p1 a, b, pk_p;
    blst_sk_to_pk_in_g1(&a, &r);
    blst_p1_from_affine(&pk_p, &pk);
    blst_p1_mult(&b, &pk_p, r.b, 255);
    blst_p1_add_or_double_affine(&b, &b, &m);
    blst_p1_compress(c0, &a);
    blst_p1_compress(c1, &b);
    cx_memwipe(&r, sizeof r);
    cx_memwipe(&m, sizeof m);
    cx_memwipe(&b, sizeof b);
    return CX_OK;
}

cx_err cx_seal_elgamal_decrypt(const uint8_t sk[CX_SEAL_SCALAR_LEN],
                               const uint8_t c0[CX_SEAL_G1_LEN], const uint8_t c1[CX_SEAL_G1_LEN],
                               uint8_t usk[CX_SEAL_G1_LEN], cx_error *e)
{
    blst_p1_affine a, b;
    blst_scalar s;
    cx_err rc = cx_seal_g1_decode(c0, &a, "encrypted_key[0]", e);
    if (rc == CX_OK)
        rc = cx_seal_g1_decode(c1, &b, "encrypted_key[1]", e);
    if (rc == CX_OK)
        rc = cx_seal_scalar_decode(sk, &s, "ElGamal secret key", e);
    if (rc != CX_OK)
        return rc;
    /* c1 - s·c0 */
    blst_p1 t, a_p;
    blst_p1_from_affine(&a_p, &a);
    blst_p1_mult(&t, &a_p, s.b, 255);
    blst_p1_cneg(&t, 1);
    blst_p1_add_or_double_affine(&t, &t, &b);
    blst_p1_compress(usk, &t);
    cx_memwipe(&s, sizeof s);
    cx_memwipe(&t, sizeof t);
    return CX_OK;
}

cx_err cx_seal_request_bytes(const uint8_t *ptb, size_t ptb_len,
                             const uint8_t enc_key[CX_SEAL_G1_LEN],
                             const uint8_t enc_vk[CX_SEAL_G2_LEN], uint8_t **out, size_t *len,
                             cx_error *e)
{
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_bytes(&w, ptb, ptb_len);
    cx_bcs_put_bytes(&w, enc_key, CX_SEAL_G1_LEN);
    cx_bcs_put_bytes(&w, enc_vk, CX_SEAL_G2_LEN);
    cx_err rc = cx_bcs_writer_finish(&w, out, len, e);
    return rc == CX_OK ? CX_OK : cx_error_wrap(rc, e, "seal request: ");
}

cx_err cx_seal_certificate_message(const uint8_t package_id[CX_SEAL_ADDR_LEN], uint32_t ttl_min,
                                   uint64_t creation_ms, const uint8_t session_pk[32], char **out,
                                   cx_error *e)
{
    *out = NULL;
    char pkg[CX_ADDR_HEX_LEN + 1], b64[48], when[32];
    cx_addr_to_hex(package_id, pkg);
    cx_err rc = cx_base64_encode(session_pk, 32, b64, sizeof b64, e);
    if (rc != CX_OK)
        return rc;
    time_t secs = (time_t)(creation_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm) || strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        return cx_error_set(e, CX_ERR_ARG, "seal certificate: creation time %llu ms",
                            (unsigned long long)creation_ms);
    char *msg = NULL;
    if (asprintf(&msg, "Accessing keys of package %s for %u mins from %s UTC, session key %s", pkg,
                 ttl_min, when, b64) < 0)
        return cx_error_set(e, CX_ERR_NOMEM, "seal certificate message");
    *out = msg;
    return CX_OK;
}

cx_err cx_seal_fetch_key_response(const uint8_t *const *full_ids, const size_t *full_lens,
                                  const uint8_t (*usks)[CX_SEAL_G1_LEN], size_t n,
                                  const uint8_t enc_key[CX_SEAL_G1_LEN], char **out, cx_error *e)
{
    *out = NULL;
    json_t *keys = json_array();
    cx_err rc = keys ? CX_OK : cx_error_set(e, CX_ERR_NOMEM, "fetch_key response");
    for (size_t i = 0; rc == CX_OK && i < n; i++) {
        uint8_t c0[CX_SEAL_G1_LEN], c1[CX_SEAL_G1_LEN];
        rc = cx_seal_elgamal_encrypt(enc_key, usks[i], c0, c1, e);
        if (rc != CX_OK)
            break;
        json_t *id = json_array();
        for (size_t b = 0; id && b < full_lens[i]; b++)
            json_array_append_new(id, json_integer(full_ids[i][b]));
        char *b0 = cx_base64_dup(c0, sizeof c0), *b1 = cx_base64_dup(c1, sizeof c1);
        json_t *entry =
            id && b0 && b1 ? json_pack("{s:o, s:[s, s]}", "id", id, "encrypted_key", b0, b1) : NULL;
        free(b0);
        free(b1);
        if (!entry || json_array_append_new(keys, entry) != 0)
            rc = cx_error_set(e, CX_ERR_NOMEM, "fetch_key response");
    }
    json_t *root = rc == CX_OK ? json_pack("{s:O}", "decryption_keys", keys) : NULL;
    json_decref(keys);
    if (rc == CX_OK && (!root || !(*out = json_dumps(root, JSON_COMPACT))))
        rc = cx_error_set(e, CX_ERR_NOMEM, "fetch_key response");
    json_decref(root);
    return rc;
}

/* The id of one decryption_keys entry: a JSON array of byte values. */
static int id_equals(const json_t *id, const uint8_t *full_id, size_t full_len)
{
    if (!json_is_array(id) || json_array_size(id) != full_len)
        return 0;
    for (size_t b = 0; b < full_len; b++) {
        const json_t *v = json_array_get(id, b);
        if (!json_is_integer(v) || json_integer_value(v) != full_id[b])
            return 0;
    }
    return 1;
}

cx_err cx_seal_fetch_key_response_open(const char *body, size_t body_len,
                                       const cx_seal_elgamal_key *k, const uint8_t *full_id,
                                       size_t full_len, const uint8_t pk[CX_SEAL_G2_LEN],
                                       const char *server, uint8_t usk[CX_SEAL_G1_LEN], cx_error *e)
{
    json_t *root = NULL;
    cx_err rc = cx_json_parse(body, body_len, &root, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "key server %s: response: ", server);
    json_t *keys = json_object_get(root, "decryption_keys");
    if (!json_is_array(keys)) {
        json_decref(root);
        return cx_error_set(e, CX_ERR_FORMAT, "key server %s: response has no decryption_keys",
                            server);
    }
    const json_t *entry = NULL;
    for (size_t i = 0; i < json_array_size(keys) && !entry; i++)
        if (id_equals(json_object_get(json_array_get(keys, i), "id"), full_id, full_len))
            entry = json_array_get(keys, i);
    if (!entry) {
        json_decref(root);
        return cx_error_set(e, CX_ERR_VERIFY,
                            "key server %s: answered for another identity (no key for the one "
                            "asked for among its %zu)",
                            server, json_array_size(keys));
    }
    const json_t *ek = json_object_get(entry, "encrypted_key");
    const char *s0 = json_string_value(json_array_get(ek, 0));
    const char *s1 = json_string_value(json_array_get(ek, 1));
    uint8_t c0[CX_SEAL_G1_LEN], c1[CX_SEAL_G1_LEN];
    size_t n0 = 0, n1 = 0;
    if (!json_is_array(ek) || json_array_size(ek) != 2 || !s0 || !s1 ||
        cx_base64_decode(s0, strlen(s0), c0, sizeof c0, &n0, NULL) != CX_OK ||
        cx_base64_decode(s1, strlen(s1), c1, sizeof c1, &n1, NULL) != CX_OK || n0 != sizeof c0 ||
        n1 != sizeof c1) {
        json_decref(root);
        return cx_error_set(e, CX_ERR_FORMAT,
                            "key server %s: encrypted_key is not two base64 G1 points", server);
    }
    json_decref(root);
    rc = cx_seal_elgamal_decrypt(k->sk, c0, c1, usk, e);
    if (rc == CX_OK)
        rc = cx_seal_verify_user_secret_key(usk, full_id, full_len, pk, e);
    if (rc != CX_OK) {
        cx_memwipe(usk, CX_SEAL_G1_LEN);
        return cx_error_wrap(rc, e, "key server %s: ", server);
    }
    return CX_OK;
}

/* Appends "; what" to a bounded message. */
static void note(char *buf, size_t cap, size_t *at, const char *what)
{
    if (*at < cap) {
        int w = snprintf(buf + *at, cap - *at, "%s%s", *at ? "; " : "", what);
        *at += w > 0 ? (size_t)w : 0;
    }
}

cx_err cx_seal_collect_keys(const cx_seal_object *o, const cx_seal_elgamal_key *k,
                            const cx_seal_answer *answers, size_t n_answers, cx_seal_key *keys,
                            size_t *n_keys, cx_error *e)
{
    *n_keys = 0;
    uint8_t *full_id = NULL;
    size_t full_len = 0;
    cx_err rc = cx_seal_full_id(o->package_id, o->id, o->id_len, &full_id, &full_len, e);
    if (rc != CX_OK)
        return rc;
    char why[CX_ERROR_MSG_MAX];
    size_t at = 0, covered = 0;
    why[0] = 0;
    for (size_t a = 0; a < n_answers && covered < o->threshold; a++) {
        const cx_seal_answer *ans = &answers[a];
        char label[128];
        cx_seal_server_label(ans->object_id, ans->name, label);
        size_t services = 0;
        for (size_t i = 0; i < o->n_services; i++)
            services += memcmp(o->services[i].object_id, ans->object_id, CX_SEAL_ADDR_LEN) == 0;
        if (services == 0)
            continue; /* a server this object does not use */
        if (!ans->body) {
            char line[CX_ERROR_MSG_MAX];
            snprintf(line, sizeof line, "key server %s: %s", label,
                     ans->error ? ans->error : "no answer");
            note(why, sizeof why, &at, line);
            continue;
        }
        cx_seal_key *key = &keys[*n_keys];
        cx_error one;
        if (cx_seal_fetch_key_response_open(ans->body, ans->body_len, k, full_id, full_len, ans->pk,
                                            label, key->usk, &one) != CX_OK) {
            note(why, sizeof why, &at, one.msg);
            continue;
        }
        memcpy(key->object_id, ans->object_id, CX_SEAL_ADDR_LEN);
        memcpy(key->pk, ans->pk, CX_SEAL_G2_LEN);
        key->name = ans->name;
        (*n_keys)++;
        covered += services;
    }
    free(full_id);
    if (covered < o->threshold)
        return cx_error_set(e, CX_ERR_VERIFY, "seal: %zu of the %u key shares needed (%s)", covered,
                            o->threshold, at ? why : "no key server answered");
    return CX_OK;
}
