/* binding.c — the two-way binding between GPU evidence and the CPU TEE report (spec
 * attestation.md §4.2, byte-exact): gpu_nonce, the 149-byte user_data and its verifier. */
#include "cx_attest.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char GPU_NONCE_DOMAIN[] = "cloakx/gpu-nonce/v1"; /* followed by one 0x00 byte */

cx_err cx_bind_gpu_nonce(const uint8_t job_id[32], const uint8_t pk_enc[32],
                         const uint8_t challenge[32], uint8_t out[32], cx_error *e)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, GPU_NONCE_DOMAIN, sizeof GPU_NONCE_DOMAIN) == 1 && /* incl. NUL */
             EVP_DigestUpdate(md, job_id, 32) == 1 && EVP_DigestUpdate(md, pk_enc, 32) == 1 &&
             EVP_DigestUpdate(md, challenge, 32) == 1 && EVP_DigestFinal_ex(md, out, &n) == 1 &&
             n == 32;
    EVP_MD_CTX_free(md);
    if (!ok)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "binding: SHA-256 of the GPU nonce");
    return CX_OK;
}

void cx_bind_user_data_encode(const cx_bind_user_data *ud, uint8_t out[CX_BIND_USER_DATA_LEN])
{
    memcpy(out, CX_BIND_MAGIC, 4);
    out[4] = CX_BIND_VERSION;
    memcpy(out + 5, ud->job_id, 32);
    memcpy(out + 37, ud->challenge, 32);
    memcpy(out + 69, ud->gpu_nonce, 32);
    memcpy(out + 101, ud->gpu_digest, 48);
}

cx_err cx_bind_user_data_decode(const uint8_t *buf, size_t len, cx_bind_user_data *out,
                                cx_error *e)
{
    if (!buf || len != CX_BIND_USER_DATA_LEN)
        return cx_error_set(e, CX_ERR_VERIFY, "binding: user_data: %zu bytes, expected %u",
                            buf ? len : 0, CX_BIND_USER_DATA_LEN);
    if (memcmp(buf, CX_BIND_MAGIC, 4) != 0)
        return cx_error_set(e, CX_ERR_VERIFY, "binding: user_data: magic is not \"CXAT\"");
    if (buf[4] != CX_BIND_VERSION)
        return cx_error_set(e, CX_ERR_VERIFY, "binding: user_data: version %u (expected %u)",
                            buf[4], CX_BIND_VERSION);
    memcpy(out->job_id, buf + 5, 32);
    memcpy(out->challenge, buf + 37, 32);
    memcpy(out->gpu_nonce, buf + 69, 32);
    memcpy(out->gpu_digest, buf + 101, 48);
    return CX_OK;
}

cx_err cx_bind_verify(const cx_nitro_doc *doc, const uint8_t job_id[32],
                      const uint8_t challenge[32], const uint8_t gpu_digest[48],
                      const uint8_t (*report_nonces)[32], size_t n_reports, cx_error *e)
{
    if (!doc->has_public_key || doc->public_key_len != 32)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "binding: public_key: the document has no 32-byte Ed25519 key");
    if (!doc->has_user_data)
        return cx_error_set(e, CX_ERR_VERIFY, "binding: user_data: absent from the document");
    cx_bind_user_data ud;
    cx_err rc = cx_bind_user_data_decode(doc->user_data, doc->user_data_len, &ud, e);
    if (rc != CX_OK)
        return rc;
    /* CRYPTO_memcmp: these are public values, but constant time costs nothing here. */
    if (CRYPTO_memcmp(ud.job_id, job_id, 32) != 0)
        return cx_error_set(e, CX_ERR_VERIFY, "binding: job_id: the document is for another job");
    if (CRYPTO_memcmp(ud.challenge, challenge, 32) != 0)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "binding: challenge: the document answers another challenge");
    uint8_t nonce[32];
    rc = cx_bind_gpu_nonce(job_id, doc->public_key, challenge, nonce, e);
    if (rc != CX_OK)
        return rc;
    if (CRYPTO_memcmp(ud.gpu_nonce, nonce, 32) != 0)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "binding: gpu_nonce: user_data's GPU nonce is not SHA-256(job_id, "
                            "public_key, challenge)");
    for (size_t i = 0; i < n_reports; i++)
        if (CRYPTO_memcmp(report_nonces[i], nonce, 32) != 0)
            return cx_error_set(e, CX_ERR_VERIFY,
                                "binding: gpu report %zu nonce: the GPU evidence was requested "
                                "for another job, enclave key or challenge",
                                i);
    if (CRYPTO_memcmp(ud.gpu_digest, gpu_digest, 48) != 0)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "binding: gpu_digest: the supplied GPU evidence is not what the "
                            "enclave attested");
    return CX_OK;
}
