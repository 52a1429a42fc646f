/* model_key.c — the job state machine's enclave side and the model's key (chain/RULES.md §2,
 * §2.2, §6): acceptance and failure signed by the TEE, the model key wrapped to the buyer, and
 * the buyer's fetch that takes that key from the ledger's paying transaction. */
#include "cx_engine.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

/* HPKE info: the label, then the job id (a wrapped key opens for its own job only) */
static const char model_key_label[] = "cloakx/model-key/v1";
enum { MODEL_KEY_INFO_LEN = sizeof model_key_label - 1 + CX_CHAIN_ID_LEN };

static void model_key_info(const cx_chain_id *job, uint8_t info[MODEL_KEY_INFO_LEN])
{
    memcpy(info, model_key_label, sizeof model_key_label - 1);
    memcpy(info + sizeof model_key_label - 1, job->b, CX_CHAIN_ID_LEN);
}

cx_err cx_job_model_key_wrap(const uint8_t buyer_pub[32], const cx_chain_id *job,
                             const uint8_t result_hash[32], const uint8_t secret[32],
                             uint8_t out[CX_JOB_WRAPPED_KEY_LEN], cx_error *e)
{
    uint8_t info[MODEL_KEY_INFO_LEN];
    model_key_info(job, info);
    cx_hpke_ctx ctx;
    cx_err rc = cx_hpke_setup_sender(buyer_pub, info, sizeof info, NULL, out, &ctx, e);
    if (rc == CX_OK)
        rc = cx_hpke_seal(&ctx, result_hash, 32, secret, 32, out + CX_HPKE_ENC_LEN, e);
    cx_memwipe(&ctx, sizeof ctx);
    return rc == CX_OK ? CX_OK : cx_error_wrap(rc, e, "model key: ");
}

cx_err cx_job_model_key_unwrap(const cx_x25519_key *buyer, const cx_chain_id *job,
                               const uint8_t result_hash[32], const uint8_t *wrapped, size_t len,
                               uint8_t secret[32], cx_error *e)
{
    if (len != CX_JOB_WRAPPED_KEY_LEN)
        return cx_error_set(e, CX_ERR_FORMAT, "model key: %zu wrapped bytes, expected %d", len,
                            CX_JOB_WRAPPED_KEY_LEN);
    uint8_t info[MODEL_KEY_INFO_LEN];
    model_key_info(job, info);
    cx_hpke_ctx ctx;
    cx_err rc =
        cx_hpke_setup_recipient(wrapped, cx_x25519_key_secret(buyer), info, sizeof info, &ctx, e);
    if (rc == CX_OK)
        rc = cx_hpke_open(&ctx, result_hash, 32, wrapped + CX_HPKE_ENC_LEN, len - CX_HPKE_ENC_LEN,
                          secret, e);
    cx_memwipe(&ctx, sizeof ctx);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e,
                             "model key: not wrapped to this buyer key for this job's model: ");
    return rc;
}

void cx_job_model_split_key(const uint8_t share1[32], const uint8_t share2[32], uint8_t out[32])
{
    static const char label[] = "cloakx/model-key/v2";
    uint8_t in[sizeof label - 1 + 64];
    memcpy(in, label, sizeof label - 1);
    memcpy(in + sizeof label - 1, share1, 32);
    memcpy(in + sizeof label - 1 + 32, share2, 32);
    SHA256(in, sizeof in, out);
    cx_memwipe(in, sizeof in);
}

/* The fields every job message shares, from the ledger's job and the registered enclave. */
static cx_err msg_sign(cx_tee *tee, const cx_ledger_job *job, const cx_ledger_enclave *en,
                       cx_chain_msg *m, uint8_t **msg, size_t *len,
                       uint8_t sig[CX_CHAIN_ED25519_SIG_LEN], cx_error *e)
{
    m->version = CX_CHAIN_MSG_VERSION;
    m->timestamp_ms = cx_unix_ms();
    m->job_id = job->id;
    m->pool_id = job->pool_id;
    memcpy(m->code_measurement, en->measurement, en->measurement_len);
    m->code_measurement_len = en->measurement_len;
    cx_err rc = cx_chain_msg_encode(m, msg, len, e);
    if (rc == CX_OK && (rc = cx_tee_sign(tee, *msg, *len, sig, e)) != CX_OK) {
        free(*msg);
        *msg = NULL;
    }
    return rc;
}

cx_err cx_job_key_release_sign(cx_tee *tee, const cx_ledger_job *job, const cx_ledger_enclave *en,
                               const uint8_t result_hash[32],
                               const uint8_t wrapped[CX_JOB_WRAPPED_KEY_LEN], uint8_t **msg,
                               size_t *len, uint8_t sig[CX_CHAIN_ED25519_SIG_LEN], cx_error *e)
{
    cx_chain_msg m = {.intent = CX_CHAIN_MSG_KEY, .wrapped_key_len = CX_JOB_WRAPPED_KEY_LEN};
    memcpy(m.result_hash, result_hash, 32);
    memcpy(m.wrapped_key, wrapped, CX_JOB_WRAPPED_KEY_LEN);
    return msg_sign(tee, job, en, &m, msg, len, sig, e);
}

/* The job, the enclave this TEE is (its keys must be the registered ones). */
static cx_err job_and_enclave(cx_ledger *l, cx_tee *tee, const cx_chain_id *enclave_id,
                              const cx_chain_id *job_id, cx_ledger_job *job, cx_ledger_enclave *en,
                              cx_error *e)
{
    cx_err rc;
    if ((rc = cx_ledger_job_get(l, job_id, job, e)) != CX_OK ||
        (rc = cx_ledger_enclave_get(l, enclave_id, en, e)) != CX_OK)
        return rc;
    uint8_t ed_pk[32], x_pk[32];
    cx_tee_public_keys(tee, ed_pk, x_pk);
    if (memcmp(ed_pk, en->ed25519_pk, 32) != 0)
        return cx_error_set(e, CX_ERR_STATE,
                            "this TEE's keys are not those of the registered enclave "
                            "(re-register with `cloakx enclave register`)");
    return CX_OK;
}

cx_err cx_job_accept(cx_ledger *l, cx_tee *tee, const cx_chain_key *submitter,
                     const cx_chain_id *enclave_id, const cx_chain_id *job_id, cx_error *e)
{
    cx_ledger_job job;
    cx_ledger_enclave en;
    cx_err rc = job_and_enclave(l, tee, enclave_id, job_id, &job, &en, e);
    if (rc != CX_OK)
        return rc;
    /* the enclave takes on the job whose spec the buyer's transaction bound */
    cx_chain_msg m = {.intent = CX_CHAIN_MSG_ACCEPT};
    memcpy(m.config_hash, job.spec_hash, 32);
    uint8_t *msg = NULL, sig[CX_CHAIN_ED25519_SIG_LEN];
    size_t len = 0;
    if ((rc = msg_sign(tee, &job, &en, &m, &msg, &len, sig, e)) != CX_OK)
        return rc;
    cx_ledger_signed sm = {msg, len, sig};
    rc = cx_ledger_job_accept(l, submitter, job_id, enclave_id, &sm, e);
    free(msg);
    return rc;
}

cx_err cx_job_fail(cx_ledger *l, cx_tee *tee, const cx_chain_key *submitter,
                   const cx_chain_id *enclave_id, const cx_chain_id *job_id,
                   cx_chain_fail_reason reason, cx_error *e)
{
    cx_ledger_job job;
    cx_ledger_enclave en;
    cx_err rc = job_and_enclave(l, tee, enclave_id, job_id, &job, &en, e);
    if (rc != CX_OK)
        return rc;
    cx_chain_msg m = {.intent = CX_CHAIN_MSG_FAIL, .reason = (uint8_t)reason};
    uint8_t *msg = NULL, sig[CX_CHAIN_ED25519_SIG_LEN];
    size_t len = 0;
    if ((rc = msg_sign(tee, &job, &en, &m, &msg, &len, sig, e)) != CX_OK)
        return rc;
    cx_ledger_signed sm = {msg, len, sig};
    rc = cx_ledger_job_fail(l, submitter, job_id, &sm, e);
    free(msg);
    return rc;
}

/* The model's keys from what the ledger revealed (the wrapped key: the model's X25519 secret,
 * or with Seal the first share) and, with Seal, the key servers' share. */
static cx_err model_keys(const cx_ledger_result *r, const cx_statement *st,
                         const cx_ledger_job *job, const uint8_t *blob, size_t blob_len,
                         const cx_x25519_key *buyer, const cx_chain_key *account,
                         const struct cx_seal_config *seal, cx_x25519_key **mk,
                         cx_cxb_known_key *known, cx_error *e)
{
    cx_cxb_header h;
    cx_err rc = cx_cxb_header_parse(blob, blob_len, &h, NULL, e);
    if (rc != CX_OK)
        return rc;
    uint8_t *secret = cx_secmem_alloc(64, 0, e);
    if (!secret)
        return CX_ERR_NOMEM;
    rc = cx_job_model_key_unwrap(buyer, &job->id, st->result_hash, r->model_key, r->model_key_len,
                                 secret, e);
    if (rc == CX_OK && h.suite == CX_CXB_SUITE_HPKE) {
        rc = cx_x25519_key_from_secret(secret, mk, e);
    } else if (rc == CX_OK) {
#ifdef CX_HAVE_SEAL
        if (!seal || !account)
            rc = cx_error_set(e, CX_ERR_ARG,
                              "the model is sealed with Seal: half of its key comes from the key "
                              "servers (--keyservers FILE, and the buyer's key dir)");
        else
            rc = cx_seal_model_key(seal, account, job, blob + h.key_object_off, h.key_object_len,
                                   secret + 32, e);
        if (rc == CX_OK) {
            cx_job_model_split_key(secret, secret + 32, known->data_key);
            memcpy(known->header_hash, h.header_hash, 32);
        }
#else
        (void)account;
        (void)seal;
        (void)known;
        rc = cx_error_set(e, CX_ERR_UNSUPPORTED,
                          "the model is sealed with Seal: this build has none");
#endif
    }
    cx_secmem_free(secret);
    return rc;
}

cx_err cx_job_model_fetch(cx_ledger *l, cx_store *s, const cx_chain_id *job_id,
                          const cx_x25519_key *buyer, const cx_chain_key *account,
                          const struct cx_seal_config *seal, uint8_t **pt, size_t *pt_len,
                          char blob_id[CX_STORE_ID_MAX], cx_error *e)
{
    *pt = NULL;
    *pt_len = 0;
    char job_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(job_id, job_hex);
    cx_ledger_job job;
    cx_ledger_result r;
    memset(&r, 0, sizeof r);
    cx_statement st;
    memset(&st, 0, sizeof st);
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    uint64_t ts;
    cx_x25519_key *mk = NULL;
    cx_cxb_known_key *known = NULL;
    cx_err rc = cx_ledger_job_get(l, job_id, &job, e);
    if (rc != CX_OK)
        return rc;
    /* the model's key exists outside the enclave only in a paying transaction */
    if (job.state != CX_LEDGER_JOB_PAID)
        return cx_error_set(e, CX_ERR_STATE,
                            "job %s is %s: its model's key is released only with payment", job_hex,
                            cx_ledger_job_state_name(job.state));
    if ((rc = cx_ledger_result_get(l, job_id, &r, e)) != CX_OK ||
        (rc = cx_statement_decode(r.statement, r.statement_len, &st, &ts, e)) != CX_OK ||
        (rc = cx_job_blob_id_str(st.result_blob_id, st.result_blob_id_len, blob_id, e)) != CX_OK ||
        (rc = cx_job_store_read_all(s, blob_id, (size_t)1 << 32, &blob, &blob_len, e)) != CX_OK)
        goto out;
    uint8_t h[32];
    SHA256(blob, blob_len, h);
    if (memcmp(h, st.result_hash, 32) != 0) {
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "model blob %s does not match the statement's result hash", blob_id);
        goto out;
    }
    cx_cxb_keys keys = {.x25519 = buyer};
    if (r.model_key_len == 0) {
        /* a result of ledger schema v2, before keys were released with payment: its model was
         * sealed to the buyer directly (and the job is paid) */
        rc = cx_job_model_unseal(blob, blob_len, &keys, job_hex, pt, pt_len, e);
        goto out;
    }
    if (!(known = cx_secmem_alloc(sizeof *known, 0, e))) {
        rc = CX_ERR_NOMEM;
        goto out;
    }
    if ((rc = model_keys(&r, &st, &job, blob, blob_len, buyer, account, seal, &mk, known, e)) ==
        CX_OK) {
        keys = (cx_cxb_keys){.x25519 = mk, .known = known, .n_known = mk ? 0 : 1};
        rc = cx_job_model_unseal(blob, blob_len, &keys, job_hex, pt, pt_len, e);
    }
out:
    cx_secmem_free(known);
    cx_x25519_key_free(mk);
    free(blob);
    cx_statement_free(&st);
    cx_ledger_result_free(&r);
    return rc;
}
