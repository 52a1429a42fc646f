/* tee.c — the cx_tee interface (dispatch through each backend's function table), the enclave
 * keys (Ed25519 signing, X25519 receiving; secrets in cx_secmem) and the Nitro backend. */
#include "tee_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

cx_err cx_tee_new(const cx_tee_ops *ops, void *impl, const cx_logger *log, cx_tee **out,
                  cx_error *e)
{
    *out = NULL;
    cx_tee *t = calloc(1, sizeof *t);
    if (!t)
        return cx_error_set(e, CX_ERR_NOMEM, "tee: out of memory");
    t->secrets = cx_secmem_alloc(CX_TEE_SECRETS_LEN, 0, e);
    if (!t->secrets) {
        free(t);
        return e ? e->code : CX_ERR_NOMEM;
    }
    t->ops = ops;
    t->impl = impl;
    t->log = log;
    *out = t;
    return CX_OK;
}

cx_err cx_tee_keys_set(cx_tee *t, const uint8_t ed_seed[32], const uint8_t x_sk[32], cx_error *e)
{
    memmove(t->secrets, ed_seed, 32);
    memmove(t->secrets + 32, x_sk, 32);
    cx_err rc = cx_ed25519_public_from_seed(t->secrets, t->ed_pk, e);
    if (rc == CX_OK)
        rc = cx_x25519_public_from_secret(t->secrets + 32, t->x_pk, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "tee: ");
    return CX_OK;
}

cx_err cx_tee_keys_generate(cx_tee *t, cx_error *e)
{
    if (RAND_priv_bytes(t->secrets, CX_TEE_SECRETS_LEN) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "tee: RAND_priv_bytes");
    return cx_tee_keys_set(t, t->secrets, t->secrets + 32, e);
}

cx_err cx_tee_ed25519_sign(cx_tee *t, const uint8_t *msg, size_t len, uint8_t sig[64],
                           cx_error *e)
{
    cx_err rc = cx_ed25519_sign(t->secrets, msg, len, sig, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "tee: ");
    return CX_OK;
}

/* ------------------------------------------------------------ public API -- */

const char *cx_tee_backend_name(const cx_tee *tee) { return tee->ops->name; }
int cx_tee_is_simulated(const cx_tee *tee) { return tee->ops->simulated; }

void cx_tee_public_keys(const cx_tee *tee, uint8_t ed25519_pk[32], uint8_t x25519_pk[32])
{
    if (ed25519_pk)
        memcpy(ed25519_pk, tee->ed_pk, 32);
    if (x25519_pk)
        memcpy(x25519_pk, tee->x_pk, 32);
}

cx_err cx_tee_attest(cx_tee *tee, const uint8_t *user_data, size_t ud_len, const uint8_t *nonce,
                     size_t nonce_len, uint8_t **doc, size_t *doc_len, cx_error *e)
{
    if ((user_data && ud_len > CX_NITRO_USER_DATA_MAX) ||
        (nonce && nonce_len > CX_NITRO_USER_DATA_MAX))
        return cx_error_set(e, CX_ERR_LIMIT, "tee: user_data and nonce are limited to %u bytes",
                            CX_NITRO_USER_DATA_MAX);
    /* public_key = raw 32-byte Ed25519 key: what Sui's registration stores (spec §2.3). */
    return tee->ops->attest(tee, user_data, ud_len, nonce, nonce_len, tee->ed_pk, 32, doc,
                            doc_len, e);
}

cx_err cx_tee_sign(cx_tee *tee, const uint8_t *msg, size_t len, uint8_t sig[64], cx_error *e)
{
    return tee->ops->sign(tee, msg, len, sig, e);
}

const uint8_t *cx_tee_x25519_secret(const cx_tee *tee) { return tee->secrets + 32; }

void cx_tee_close(cx_tee *tee)
{
    if (!tee)
        return;
    if (tee->ops && tee->ops->close)
        tee->ops->close(tee);
    cx_secmem_free(tee->secrets);
    free(tee);
}

/* ---------------------------------------------------------- Nitro backend -- */

typedef struct nitro_impl {
    cx_nsm_device dev;
} nitro_impl;

static cx_err nitro_attest(cx_tee *t, const uint8_t *ud, size_t ud_len, const uint8_t *nonce,
                           size_t nonce_len, const uint8_t *pk, size_t pk_len, uint8_t **doc,
                           size_t *doc_len, cx_error *e)
{
    nitro_impl *n = t->impl;
    return cx_nsm_attest(&n->dev, ud, ud_len, nonce, nonce_len, pk, pk_len, doc, doc_len, e);
}

static void nitro_close(cx_tee *t)
{
    nitro_impl *n = t->impl;
    if (n) {
        cx_nsm_device_close(&n->dev);
        free(n);
    }
}

static const cx_tee_ops NITRO_OPS = {
    .name = "nitro",
    .simulated = 0,
    .attest = nitro_attest,
    .sign = cx_tee_ed25519_sign,
    .close = nitro_close,
};

cx_err cx_tee_nitro_open(cx_nsm_device *dev, const cx_logger *log, cx_tee **out, cx_error *e)
{
    *out = NULL;
    nitro_impl *n = calloc(1, sizeof *n);
    if (!n) {
        cx_nsm_device_close(dev);
        return cx_error_set(e, CX_ERR_NOMEM, "tee: out of memory");
    }
    n->dev = *dev;
    memset(dev, 0, sizeof *dev);
    cx_tee *t;
    cx_err rc = cx_tee_new(&NITRO_OPS, n, log, &t, e);
    if (rc != CX_OK) {
        cx_nsm_device_close(&n->dev);
        free(n);
        return rc;
    }
    /* Keys are born inside the enclave and never leave it; the NSM's entropy is mixed in
     * through OpenSSL's DRBG seeding on real hardware (nsm feeds the kernel hwrng). */
    rc = cx_tee_keys_generate(t, e);
    if (rc != CX_OK) {
        cx_tee_close(t);
        return rc;
    }
    cx_log_info(log, "tee: nitro backend ready (keys generated in enclave memory)");
    *out = t;
    return CX_OK;
}

/* ------------------------------------------------- X25519 key endorsement -- */

static const char X25519_ENDORSE_DOMAIN[] = "cloakx/enclave-x25519/v1"; /* + its NUL byte */

static void endorse_message(const uint8_t x_pk[32], uint8_t msg[sizeof X25519_ENDORSE_DOMAIN + 32])
{
    memcpy(msg, X25519_ENDORSE_DOMAIN, sizeof X25519_ENDORSE_DOMAIN);
    memcpy(msg + sizeof X25519_ENDORSE_DOMAIN, x_pk, 32);
}

cx_err cx_tee_x25519_endorse(cx_tee *tee, uint8_t sig[64], cx_error *e)
{
    uint8_t msg[sizeof X25519_ENDORSE_DOMAIN + 32];
    endorse_message(tee->x_pk, msg);
    return cx_tee_sign(tee, msg, sizeof msg, sig, e);
}

cx_err cx_tee_x25519_endorsement_verify(const uint8_t ed25519_pk[32], const uint8_t x25519_pk[32],
                                        const uint8_t sig[64], cx_error *e)
{
    uint8_t msg[sizeof X25519_ENDORSE_DOMAIN + 32];
    endorse_message(x25519_pk, msg);
    cx_err rc = cx_ed25519_verify(ed25519_pk, msg, sizeof msg, sig, e);
    if (rc == CX_ERR_AUTH)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "tee: the X25519 key is not endorsed by the attested Ed25519 key");
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "tee: ");
    return CX_OK;
}
