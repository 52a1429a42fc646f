/* seal_internal.h — what the Seal module's files share: blst types, point/scalar decoding,
 * pairings, SHA3-256 over parts, H1 and the KDF on an already hashed identity. */
#ifndef CX_SEAL_INTERNAL_H
#define CX_SEAL_INTERNAL_H

#include "cx_seal.h"

#include <blst.h>

/* Decoders refuse non-canonical bytes, the identity and points outside the prime subgroup;
 * `what` names the field in the message. */
cx_err cx_seal_scalar_decode(const uint8_t in[CX_SEAL_SCALAR_LEN], blst_scalar *s, const char *what,
                             cx_error *e);
cx_err cx_seal_g1_decode(const uint8_t in[CX_SEAL_G1_LEN], blst_p1_affine *p, const char *what,
                         cx_error *e);
cx_err cx_seal_g2_decode(const uint8_t in[CX_SEAL_G2_LEN], blst_p2_affine *p, const char *what,
                         cx_error *e);
cx_err cx_seal_random_scalar(blst_scalar *s, cx_error *e); /* uniform, non-zero */

cx_err cx_seal_h1(const uint8_t *full_id, size_t len, blst_p1 *out, cx_error *e);
void cx_seal_pairing(const blst_p1_affine *p, const blst_p2_affine *q, blst_fp12 *out);
void cx_seal_gt_serialize(const blst_fp12 *gt, uint8_t out[CX_SEAL_GT_LEN]);
/* CX_OK when e(usk, G2) == e(gid, pk), CX_ERR_VERIFY otherwise (no message). */
cx_err cx_seal_verify_usk_point(const blst_p1_affine *usk, const blst_p1_affine *gid,
                                const blst_p2_affine *pk);

/* SHA3-256 over n parts, in order. */
cx_err cx_seal_sha3(const uint8_t *const *parts, const size_t *lens, size_t n, uint8_t out[32],
                    cx_error *e);
cx_err cx_seal_kdf_gid(const uint8_t gt[CX_SEAL_GT_LEN], const uint8_t nonce[CX_SEAL_G2_LEN],
                       const uint8_t gid[CX_SEAL_G1_LEN], const uint8_t object_id[CX_SEAL_ADDR_LEN],
                       uint8_t index, uint8_t out[CX_SEAL_KEY_LEN], cx_error *e);

/* Lagrange interpolation of k shares (distinct non-zero x) at x; x = 0 gives the secret. */
void cx_seal_shamir_eval(const uint8_t *xs, const uint8_t (*ys)[CX_SEAL_KEY_LEN], size_t k,
                         uint8_t x, uint8_t out[CX_SEAL_KEY_LEN]);

/* "0x" + 64 hex digits of an object id, or the caller's name when given. */
void cx_seal_server_label(const uint8_t object_id[CX_SEAL_ADDR_LEN], const char *name,
                          char out[128]);

#endif /* CX_SEAL_INTERNAL_H */
