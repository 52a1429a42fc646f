/* cx_seal.h — Seal (Mysten Labs' threshold key release) in C, bit-exact with @mysten/seal:
 * the EncryptedObject BCS, Boneh–Franklin IBE on BLS12-381 (blst), Shamir over GF(256), both DEMs.
 * Byte layouts and vectors: the Seal chapter (§4, §6.5) of the shared Sui/Walrus/Seal spec. */
#ifndef CX_SEAL_H
#define CX_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "cx_util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CX_SEAL_ADDR_LEN 32    /* package id, key server object id */
#define CX_SEAL_SCALAR_LEN 32  /* master key, randomness: big-endian, < r */
#define CX_SEAL_G1_LEN 48      /* compressed G1: user secret key, H1(id) */
#define CX_SEAL_G2_LEN 96      /* compressed G2: server public key, nonce */
#define CX_SEAL_GT_LEN 576     /* a pairing value, 12 Fp in blst/fastcrypto order */
#define CX_SEAL_KEY_LEN 32     /* base key, DEM key, shares */
#define CX_SEAL_MAC_LEN 32     /* HMAC-SHA3-256 */
#define CX_SEAL_GCM_TAG_LEN 16 /* AES-256-GCM tag, after the ciphertext in the blob */
#define CX_SEAL_MAX_SERVERS 254
#define CX_SEAL_MAX_ID_LEN 4096         /* inner id bytes (CloakX's limit; BCS allows more) */
#define CX_SEAL_MAX_BLOB_LEN (1u << 30) /* DEM ciphertext bytes */

/* The only object version Seal defines (decrypt refuses others). */
#define CX_SEAL_OBJECT_VERSION 0

typedef enum cx_seal_dem {
    CX_SEAL_DEM_AES256GCM = 0,  /* blob = ct || 16-byte tag, fixed 16-byte IV */
    CX_SEAL_DEM_HMAC256CTR = 1, /* blob = msg XOR HMAC-SHA3-256 keystream, then a MAC */
    CX_SEAL_DEM_PLAIN = 2,      /* no data: decryption yields the 32-byte DEM key */
} cx_seal_dem;

typedef struct cx_seal_service {
    uint8_t object_id[CX_SEAL_ADDR_LEN]; /* the KeyServer object on Sui */
    uint8_t index;                       /* Shamir x coordinate, 1..n */
} cx_seal_service;

/* A decoded EncryptedObject; every buffer is owned by it (cx_seal_object_free). */
typedef struct cx_seal_object {
    uint8_t version;
    uint8_t package_id[CX_SEAL_ADDR_LEN];
    uint8_t *id; /* inner id */
    size_t id_len;
    size_t n_services;
    cx_seal_service *services;
    uint8_t threshold;
    uint8_t nonce[CX_SEAL_G2_LEN];
    uint8_t (*encrypted_shares)[CX_SEAL_KEY_LEN]; /* n_services of them, same order */
    uint8_t encrypted_randomness[CX_SEAL_SCALAR_LEN];
    cx_seal_dem dem;
    uint8_t *blob; /* not for PLAIN */
    size_t blob_len;
    int has_aad; /* Option tag as encoded: the SDK writes Some(empty), Rust may write None */
    uint8_t *aad;
    size_t aad_len;
    uint8_t mac[CX_SEAL_MAC_LEN]; /* HMAC256CTR only */
} cx_seal_object;

/* Strict BCS decode: no trailing bytes, minimal ULEBs, known enum tags, and the object's own
 * rules (version 0, 1 <= threshold <= n <= 254, one encrypted share per service, share indices
 * 1..255 and distinct, blob/id within the limits above). Errors name the field. */
cx_err cx_seal_object_decode(const uint8_t *buf, size_t len, cx_seal_object **out, cx_error *e);
/* BCS encode (*out malloc'ed). The object must satisfy the rules decode checks. */
cx_err cx_seal_object_encode(const cx_seal_object *o, uint8_t **out, size_t *out_len, cx_error *e);
void cx_seal_object_free(cx_seal_object *o); /* NULL is fine */

/* full_id = package_id || inner id (*out malloc'ed, *len = 32 + id_len). */
cx_err cx_seal_full_id(const uint8_t package_id[CX_SEAL_ADDR_LEN], const uint8_t *id, size_t id_len,
                       uint8_t **out, size_t *len, cx_error *e);

/* ---- keys (a key server's side, and what a test key server needs) ---- */

/* A fresh master key: a uniformly random non-zero scalar < r, big-endian. */
cx_err cx_seal_master_key_generate(uint8_t msk[CX_SEAL_SCALAR_LEN], cx_error *e);
/* pk = msk·G2. Refuses a master key that is zero or not < r. */
cx_err cx_seal_public_key(const uint8_t msk[CX_SEAL_SCALAR_LEN], uint8_t pk[CX_SEAL_G2_LEN],
                          cx_error *e);
/* usk = msk·H1(full_id): the key a server releases for one identity. */
cx_err cx_seal_extract(const uint8_t msk[CX_SEAL_SCALAR_LEN], const uint8_t *full_id,
                       size_t full_id_len, uint8_t usk[CX_SEAL_G1_LEN], cx_error *e);
/* e(usk, G2) == e(H1(full_id), pk): CX_ERR_VERIFY when not; CX_ERR_FORMAT for bytes that are no
 * point of the right subgroup (or the identity). */
cx_err cx_seal_verify_user_secret_key(const uint8_t usk[CX_SEAL_G1_LEN], const uint8_t *full_id,
                                      size_t full_id_len, const uint8_t pk[CX_SEAL_G2_LEN],
                                      cx_error *e);

/* ---- encryption and decryption ---- */

/* A key server as the encryptor knows it. */
typedef struct cx_seal_server {
    uint8_t object_id[CX_SEAL_ADDR_LEN];
    uint8_t pk[CX_SEAL_G2_LEN];
} cx_seal_server;

typedef struct cx_seal_encrypt_params {
    const uint8_t *package_id; /* 32 bytes: the policy package's first version */
    const uint8_t *id;         /* inner id */
    size_t id_len;
    const cx_seal_server *servers; /* one share each, in this order; a server may repeat */
    size_t n_servers;
    uint8_t threshold;
    cx_seal_dem dem;
    const uint8_t *aad; /* may be NULL (encoded as Some(empty), as the SDK does) */
    size_t aad_len;
} cx_seal_encrypt_params;

/* Encrypts msg (ignored for PLAIN) to (package, id) under t of n servers; *out is the BCS
 * EncryptedObject (malloc'ed). dem_key (may be NULL) receives the DEM key: for PLAIN it is the
 * payload; otherwise it opens the object without the servers, so wipe it. */
cx_err cx_seal_encrypt(const cx_seal_encrypt_params *p, const uint8_t *msg, size_t msg_len,
                       uint8_t **out, size_t *out_len, uint8_t dem_key[CX_SEAL_KEY_LEN],
                       cx_error *e);

/* What a key server released for the object's identity, with the public key the caller pins for
 * that server (never one taken from the same answer). */
typedef struct cx_seal_key {
    uint8_t object_id[CX_SEAL_ADDR_LEN];
    uint8_t pk[CX_SEAL_G2_LEN];
    uint8_t usk[CX_SEAL_G1_LEN];
    const char *name; /* for messages (e.g. the server's URL); NULL: its object id */
} cx_seal_key;

typedef struct cx_seal_decrypt_params {
    const cx_seal_key *keys;
    size_t n_keys;
    /* Public keys of every service of the object (n_services, in the object's order) for the
     * full consistency check (every share, not only the ones used, lies on one polynomial), or
     * NULL to skip it. */
    const uint8_t (*all_pks)[CX_SEAL_G2_LEN];
} cx_seal_decrypt_params;

/* Verifies every key (pairing check, refusing the first that fails, named), combines the
 * shares of at least `threshold` services, checks the nonce, then opens the DEM. *pt is secure
 * memory (cx_secmem_free); for PLAIN it is the 32-byte DEM key. Errors: CX_ERR_VERIFY for a key
 * that does not verify or too few keys (naming the servers missing), CX_ERR_AUTH for an object
 * that fails its nonce or DEM check (naming the field), CX_ERR_FORMAT for a bad object. */
cx_err cx_seal_decrypt(const cx_seal_object *o, const cx_seal_decrypt_params *p, uint8_t **pt,
                       size_t *pt_len, cx_error *e);

/* ---- the key-server exchange (spec §4.6) ---- */

/* The requester's ElGamal key: sk (scalar, big-endian), enc_key = sk·G1 and
 * enc_verification_key = sk·G2, sent with fetch_key. Wipe sk after use. */
typedef struct cx_seal_elgamal_key {
    uint8_t sk[CX_SEAL_SCALAR_LEN];
    uint8_t enc_key[CX_SEAL_G1_LEN];
    uint8_t enc_vk[CX_SEAL_G2_LEN];
} cx_seal_elgamal_key;

cx_err cx_seal_elgamal_generate(cx_seal_elgamal_key *k, cx_error *e);
/* A key server's side: (c0, c1) = (r·G1, usk + r·enc_key). */
cx_err cx_seal_elgamal_encrypt(const uint8_t enc_key[CX_SEAL_G1_LEN],
                               const uint8_t usk[CX_SEAL_G1_LEN], uint8_t c0[CX_SEAL_G1_LEN],
                               uint8_t c1[CX_SEAL_G1_LEN], cx_error *e);
/* usk = c1 - sk·c0. */
cx_err cx_seal_elgamal_decrypt(const uint8_t sk[CX_SEAL_SCALAR_LEN],
                               const uint8_t c0[CX_SEAL_G1_LEN], const uint8_t c1[CX_SEAL_G1_LEN],
                               uint8_t usk[CX_SEAL_G1_LEN], cx_error *e);
/* BCS(RequestFormat{ptb, enc_key, enc_verification_key}): what the session key signs (raw
 * Ed25519, no intent). ptb is BCS(ProgrammableTransaction), without TransactionKind's tag. */
cx_err cx_seal_request_bytes(const uint8_t *ptb, size_t ptb_len,
                             const uint8_t enc_key[CX_SEAL_G1_LEN],
                             const uint8_t enc_vk[CX_SEAL_G2_LEN], uint8_t **out, size_t *len,
                             cx_error *e);
/* "Accessing keys of package 0x… for N mins from YYYY-MM-DD HH:MM:SS UTC, session key <b64>":
 * the personal message the user's Sui key signs for a session (*out malloc'ed). */
cx_err cx_seal_certificate_message(const uint8_t package_id[CX_SEAL_ADDR_LEN], uint32_t ttl_min,
                                   uint64_t creation_ms, const uint8_t session_pk[32], char **out,
                                   cx_error *e);
/* A key server's answer {"decryption_keys":[{"id":[…], "encrypted_key":[c0, c1]}]} for n
 * identities, each key ElGamal-encrypted to enc_key (*out malloc'ed JSON). */
cx_err cx_seal_fetch_key_response(const uint8_t *const *full_ids, const size_t *full_lens,
                                  const uint8_t (*usks)[CX_SEAL_G1_LEN], size_t n,
                                  const uint8_t enc_key[CX_SEAL_G1_LEN], char **out, cx_error *e);
/* Opens one server's answer for full_id: finds its entry (none: CX_ERR_VERIFY "answered for
 * another identity"), decrypts it with k and verifies it against the server's pinned pk.
 * Every error names the server. */
cx_err cx_seal_fetch_key_response_open(const char *body, size_t body_len,
                                       const cx_seal_elgamal_key *k, const uint8_t *full_id,
                                       size_t full_len, const uint8_t pk[CX_SEAL_G2_LEN],
                                       const char *server, uint8_t usk[CX_SEAL_G1_LEN],
                                       cx_error *e);

/* One key server's answer to fetch_key, as the transport got it. */
typedef struct cx_seal_answer {
    uint8_t object_id[CX_SEAL_ADDR_LEN];
    uint8_t pk[CX_SEAL_G2_LEN]; /* pinned by the caller */
    const char *name;           /* URL or name for messages; NULL: the object id */
    const char *body;           /* the response body, NULL when the request failed */
    size_t body_len;
    const char *error; /* why there is no body (timeout, HTTP status, …) */
} cx_seal_answer;

/* Opens the answers in order and stops once the servers that verified cover the object's
 * threshold; fills keys (room for n_answers) for cx_seal_decrypt. Too few: CX_ERR_VERIFY,
 * the message naming every server that failed and why. */
cx_err cx_seal_collect_keys(const cx_seal_object *o, const cx_seal_elgamal_key *k,
                            const cx_seal_answer *answers, size_t n_answers, cx_seal_key *keys,
                            size_t *n_keys, cx_error *e);

/* ---- building blocks (exposed for known-answer tests and the key-server client) ---- */

/* H1(full_id) = hash_to_G1("SUI-SEAL-IBE-BLS12381-00" || full_id), compressed. */
cx_err cx_seal_hash_to_g1(const uint8_t *full_id, size_t len, uint8_t out[CX_SEAL_G1_LEN],
                          cx_error *e);
/* e(usk, nonce) serialised (the value a share's KDF hashes). */
cx_err cx_seal_decap(const uint8_t usk[CX_SEAL_G1_LEN], const uint8_t nonce[CX_SEAL_G2_LEN],
                     uint8_t gt[CX_SEAL_GT_LEN], cx_error *e);
/* SHA3-256(DST_KDF || gt || nonce || H1(full_id) || object_id || index). */
cx_err cx_seal_kdf(const uint8_t gt[CX_SEAL_GT_LEN], const uint8_t nonce[CX_SEAL_G2_LEN],
                   const uint8_t *full_id, size_t full_id_len,
                   const uint8_t object_id[CX_SEAL_ADDR_LEN], uint8_t index,
                   uint8_t out[CX_SEAL_KEY_LEN], cx_error *e);
enum { CX_SEAL_KEY_RANDOMNESS = 0, CX_SEAL_KEY_DEM = 1 };
/* SHA3-256(DST_DERIVE_KEY || base_key || purpose || threshold || enc shares || object ids). */
cx_err cx_seal_derive_key(int purpose, const uint8_t base_key[CX_SEAL_KEY_LEN],
                          const cx_seal_object *o, uint8_t out[CX_SEAL_KEY_LEN], cx_error *e);

/* Shamir over GF(2^8) (AES polynomial): n shares of a 32-byte secret, x = 1..n. */
cx_err cx_seal_shamir_split(const uint8_t secret[CX_SEAL_KEY_LEN], uint8_t threshold, size_t n,
                            uint8_t (*shares)[CX_SEAL_KEY_LEN], cx_error *e);
/* Lagrange interpolation at 0 of k shares with distinct non-zero x. */
cx_err cx_seal_shamir_combine(const uint8_t *xs, const uint8_t (*ys)[CX_SEAL_KEY_LEN], size_t k,
                              uint8_t secret[CX_SEAL_KEY_LEN], cx_error *e);

/* The DEMs on their own (known-answer tests): *out malloc'ed. */
cx_err cx_seal_dem_encrypt(cx_seal_dem dem, const uint8_t key[CX_SEAL_KEY_LEN], const uint8_t *msg,
                           size_t len, const uint8_t *aad, size_t aad_len, uint8_t **blob,
                           size_t *blob_len, uint8_t mac[CX_SEAL_MAC_LEN], cx_error *e);
/* *pt is secure memory (cx_secmem_free). CX_ERR_AUTH when the tag or MAC fails. */
cx_err cx_seal_dem_decrypt(cx_seal_dem dem, const uint8_t key[CX_SEAL_KEY_LEN], const uint8_t *blob,
                           size_t blob_len, const uint8_t *aad, size_t aad_len,
                           const uint8_t mac[CX_SEAL_MAC_LEN], uint8_t **pt, size_t *pt_len,
                           cx_error *e);

#ifdef __cplusplus
}
#endif
#endif /* CX_SEAL_H */
