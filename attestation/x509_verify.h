/* x509_verify.h — helpers shared by the Nitro and NVIDIA GPU verifiers and the simulated TEE:
 * raw r||s ECDSA P-384 (verify with a certificate's key, sign), chain building to a root. */
#ifndef CX_ATTEST_X509_VERIFY_H
#define CX_ATTEST_X509_VERIFY_H

#include <time.h>

#include <openssl/x509.h>

#include "cx_util.h"

#define CX_ES384_SIG_LEN 96u /* raw r || s, 48 bytes each */

typedef enum cx_es384_verdict {
    CX_ES384_VALID = 0,
    CX_ES384_BAD_KEY, /* the certificate's key is not ECDSA on secp384r1 */
    CX_ES384_BAD_SIG, /* the signature does not verify */
} cx_es384_verdict;

/* ECDSA P-384 / SHA-384 over msg, signature as raw r||s (COSE ES384, SPDM). A refusal is CX_OK
 * with the verdict; an error return means the check could not run (memory, OpenSSL). */
cx_err cx_attest_es384_verify(X509 *cert, const uint8_t sig[CX_ES384_SIG_LEN], const uint8_t *msg,
                              size_t len, cx_es384_verdict *out, cx_error *e);

/* The signing side, for the simulated TEE: ECDSA P-384 / SHA-384 with key, out as raw r||s. */
cx_err cx_attest_es384_sign(EVP_PKEY *key, const uint8_t *msg, size_t len,
                            uint8_t sig[CX_ES384_SIG_LEN], cx_error *e);

/* Why OpenSSL refused a chain: its X509_V_ERR_* code, depth and that certificate's CN. */
typedef struct cx_attest_chain_fail {
    int err;
    int depth;
    char cn[128];
} cx_attest_chain_fail;

/* Builds and verifies leaf -> untrusted -> root with root as the only trust anchor, at *at
 * (NULL: no time check, the caller checks validity), at most max_depth deep (0: OpenSSL's
 * default). Verified: *built is the path, leaf first (caller frees with sk_X509_pop_free).
 * Refused: CX_OK, *built NULL and *why filled. */
cx_err cx_attest_chain_verify(X509 *leaf, STACK_OF(X509) * untrusted, X509 *root, const time_t *at,
                              int max_depth, STACK_OF(X509) * *built, cx_attest_chain_fail *why,
                              cx_error *e);

/* The subject CN, or "(no CN)". */
void cx_attest_cert_cn(X509 *x, char *out, size_t cap);

#endif /* CX_ATTEST_X509_VERIFY_H */
