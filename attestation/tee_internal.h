/* tee_internal.h — internal to attestation/: the cx_tee function-pointer table that each
 * backend (tee_sim.c, tee.c's Nitro backend) fills, and the enclave key helpers. */
#ifndef CX_TEE_INTERNAL_H
#define CX_TEE_INTERNAL_H

#include "cx_attest.h"

typedef struct cx_tee_ops {
    const char *name;
    int simulated;
    /* A Nitro-format document over (user_data, nonce, public_key). */
    cx_err (*attest)(cx_tee *t, const uint8_t *ud, size_t ud_len, const uint8_t *nonce,
                     size_t nonce_len, const uint8_t *pk, size_t pk_len, uint8_t **doc,
                     size_t *doc_len, cx_error *e);
    cx_err (*sign)(cx_tee *t, const uint8_t *msg, size_t len, uint8_t sig[64], cx_error *e);
    void (*close)(cx_tee *t); /* frees t->impl */
} cx_tee_ops;

#define CX_TEE_SECRETS_LEN 64u /* Ed25519 seed (32) || X25519 secret (32) */

struct cx_tee {
    const cx_tee_ops *ops;
    void *impl;
    const cx_logger *log;
    uint8_t ed_pk[32], x_pk[32];
    uint8_t *secrets; /* cx_secmem */
};

cx_err cx_tee_new(const cx_tee_ops *ops, void *impl, const cx_logger *log, cx_tee **out,
                  cx_error *e);
/* Fresh random keys (RAND_priv_bytes) or given ones; derives the public halves. */
cx_err cx_tee_keys_generate(cx_tee *t, cx_error *e);
cx_err cx_tee_keys_set(cx_tee *t, const uint8_t ed_seed[32], const uint8_t x_sk[32], cx_error *e);
/* Plain Ed25519 (RFC 8032) with the enclave's seed. */
cx_err cx_tee_ed25519_sign(cx_tee *t, const uint8_t *msg, size_t len, uint8_t sig[64],
                           cx_error *e);

#endif
