/* cxb_internal.h — helpers shared by hpke.c, cxb.c, keys.c and pipeline.c (HKDF, one-shot
 * AES-256-GCM); internal to the io module (X25519 public keys: cx_proto.h). */
#ifndef CX_IO_CXB_INTERNAL_H
#define CX_IO_CXB_INTERNAL_H

#include "cx_io.h"

cx_err cx_io_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                          size_t ikm_len, uint8_t prk[32], cx_error *e);
cx_err cx_io_hkdf_expand(const uint8_t prk[32], const uint8_t *info, size_t info_len,
                         uint8_t *out, size_t len, cx_error *e);
/* enc=1: encrypt in -> out and write tag; enc=0: decrypt and check tag (CX_ERR_AUTH). */
cx_err cx_io_gcm_oneshot(int enc, const uint8_t key[32], const uint8_t nonce[12],
                         const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
                         uint8_t *out, uint8_t tag[16], cx_error *e);

/* The chunk nonce of FORMAT.md: 64-bit index, then a 32-bit last-chunk flag, big-endian. */
static inline void cx_cxb_nonce(uint64_t index, int last, uint8_t nonce[12])
{
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t)(index >> (56 - 8 * i));
    nonce[8] = nonce[9] = nonce[10] = 0;
    nonce[11] = last ? 1 : 0;
}

#endif
