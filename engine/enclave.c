/* enclave.c — the enclave an operator runs: its state dir, its registration (attest, verify,
 * store the document, register on the ledger) and the check a seller makes before sealing to it. */
#include "cx_engine.h"
#include "job_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* ------------------------------------------------------------ enclave state -- */

cx_err cx_job_tee_dir(const char *state_dir, char *out, size_t cap, cx_error *e)
{
    return cx_job_path_join(out, cap, state_dir, "tee", e);
}

cx_err cx_job_enclave_state_save(const char *state_dir, const cx_chain_id *id, cx_error *e)
{
    char path[PATH_MAX], hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_err rc = cx_job_path_join(path, sizeof path, state_dir, "enclave.json", e);
    if (rc != CX_OK)
        return rc;
    cx_chain_id_to_hex(id, hex);
    char text[128];
    int n = snprintf(text, sizeof text, "{\"enclave_id\":\"%s\"}\n", hex);
    return cx_file_write_atomic(path, text, (size_t)n, 0600, e);
}

cx_err cx_job_enclave_state_load(const char *state_dir, cx_chain_id *id, cx_error *e)
{
    char path[PATH_MAX];
    cx_err rc = cx_job_path_join(path, sizeof path, state_dir, "enclave.json", e);
    if (rc != CX_OK)
        return rc;
    json_t *j = NULL;
    rc = cx_json_load_file(path, &j, e);
    if (rc != CX_OK)
        return cx_error_wrap(
            rc, e, "no registered enclave in %s (run `cloakx enclave register`): ", state_dir);
    const char *s = NULL;
    rc = cx_json_get_string(j, "enclave_id", 1, &s, e);
    if (rc == CX_OK)
        rc = cx_chain_id_from_hex(s, id, e);
    json_decref(j);
    return rc;
}

cx_err cx_job_tee_open(const char *state_dir, const char *devca_dir, const cx_logger *log,
                       cx_tee **out, cx_error *e)
{
    char tee_dir[PATH_MAX];
    cx_err rc = cx_job_tee_dir(state_dir, tee_dir, sizeof tee_dir, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_tee_sim_devca_create(devca_dir, e);
    if (rc != CX_OK)
        return rc;
    cx_tee_sim_config c = {.devca_dir = devca_dir, .state_dir = tee_dir, .log = log};
    return cx_tee_sim_open(&c, out, e);
}

/* -------------------------------------------------- attestation document -- */

/* The hash check is what binds the document to the registration: a store may return
 * anything under an id it chose. */
cx_err cx_job_enclave_doc_read(cx_store *s, const cx_ledger_enclave *en, size_t max, uint8_t **doc,
                               size_t *len, cx_error *e)
{
    char id[CX_STORE_ID_MAX];
    *doc = NULL;
    *len = 0;
    cx_err rc = cx_job_enclave_doc_id(en, id, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "the enclave's attestation document: ");
    if ((rc = cx_job_store_read_all(s, id, max, doc, len, e)) != CX_OK)
        return cx_error_wrap(rc, e, "the enclave's attestation document (blob %s): ", id);
    uint8_t h[32];
    SHA256(*doc, *len, h);
    if (memcmp(h, en->attestation_hash, 32) != 0) {
        free(*doc);
        *doc = NULL;
        *len = 0;
        return cx_error_set(e, CX_ERR_VERIFY,
                            "the enclave's attestation document (blob %s) does not hash to the "
                            "SHA-256 the ledger registered",
                            id);
    }
    return CX_OK;
}

/* ---------------------------------------------------------- seller check -- */

cx_err cx_job_enclave_check(cx_store *s, const cx_ledger_enclave *en, const cx_ledger_pool *pool,
                            const cx_nitro_policy *pol, cx_error *e)
{
    uint8_t *doc = NULL;
    size_t len = 0;
    cx_err rc = cx_job_enclave_doc_read(s, en, CX_NITRO_DOC_MAX, &doc, &len, e);
    if (rc != CX_OK)
        return rc;
    cx_nitro_doc d;
    memset(&d, 0, sizeof d);
    cx_nitro_check failed;
    if ((rc = cx_nitro_verify(doc, len, pol, &d, &failed, e)) != CX_OK) {
        cx_error_prefix(e, "enclave attestation: ");
        goto out;
    }
    if (!d.has_public_key || d.public_key_len != 32 ||
        memcmp(d.public_key, en->ed25519_pk, 32) != 0 || !d.has_user_data ||
        d.user_data_len != CX_JOB_REG_USER_DATA_LEN ||
        memcmp(d.user_data, en->x25519_pk, 32) != 0 ||
        cx_tee_x25519_endorsement_verify(en->ed25519_pk, en->x25519_pk, d.user_data + 32, e) !=
            CX_OK) {
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "key binding: the attested keys are not the "
                          "registered ones");
        goto out;
    }
    if (!(d.pcr_present & 1u) || d.pcr_len[0] != en->measurement_len ||
        memcmp(d.pcr[0], en->measurement, en->measurement_len) != 0) {
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "measurement: the document's PCR0 is not the "
                          "registered measurement");
        goto out;
    }
    int ok = 0;
    for (size_t i = 0; pool && i < pool->n_measurements && !ok; i++)
        ok = pool->measurement_lens[i] == en->measurement_len &&
             memcmp(pool->measurements[i], en->measurement, en->measurement_len) == 0;
    if (pool && !ok)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "measurement: the pool does not accept this "
                          "enclave's measurement");
out:
    cx_nitro_doc_free(&d);
    free(doc);
    return rc;
}

/* ------------------------------------------------------ enclave registration -- */

cx_err cx_job_enclave_register(cx_ledger *l, cx_store *s, cx_tee *tee, const cx_chain_key *signer,
                               const char *root_pem, size_t root_len, int allow_simulated,
                               const cx_chain_id *pool, const char *state_dir,
                               cx_job_registration *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    uint8_t ud[CX_JOB_REG_USER_DATA_LEN], *doc = NULL;
    size_t doc_len = 0;
    cx_nitro_doc nd;
    memset(&nd, 0, sizeof nd);
    cx_ledger_enclave *en = &out->enclave;
    cx_tee_public_keys(tee, en->ed25519_pk, en->x25519_pk);
    memcpy(ud, en->x25519_pk, 32);
    cx_err rc = cx_tee_x25519_endorse(tee, ud + 32, e);
    if (rc == CX_OK)
        rc = cx_tee_attest(tee, ud, sizeof ud, NULL, 0, &doc, &doc_len, e);
    if (rc != CX_OK)
        return rc;
    /* verify our own document as anyone else will: the ledger records only what passed */
    cx_nitro_policy pol = {
        .root_pem = root_pem, .root_pem_len = root_len, .allow_simulated = allow_simulated};
    cx_nitro_check failed;
    if ((rc = cx_nitro_verify(doc, doc_len, &pol, &nd, &failed, e)) != CX_OK) {
        cx_error_prefix(e, "attestation refused: ");
        goto out;
    }
    if (!nd.has_public_key || nd.public_key_len != 32 ||
        memcmp(nd.public_key, en->ed25519_pk, 32) != 0 || !(nd.pcr_present & 1u)) {
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "attestation refused: the document does not attest "
                          "this enclave's key and PCR0");
        goto out;
    }
    en->measurement_len = nd.pcr_len[0];
    memcpy(en->measurement, nd.pcr[0], nd.pcr_len[0]);
    SHA256(doc, doc_len, en->attestation_hash);
    if (pool) {
        cx_ledger_pool p;
        if ((rc = cx_ledger_pool_get(l, pool, &p, e)) != CX_OK)
            goto out;
        int ok = 0;
        for (size_t i = 0; i < p.n_measurements && !ok; i++)
            ok = p.measurement_lens[i] == en->measurement_len &&
                 memcmp(p.measurements[i], en->measurement, en->measurement_len) == 0;
        if (!ok) {
            char ph[CX_CHAIN_ID_HEX_LEN + 1];
            cx_chain_id_to_hex(pool, ph);
            rc = cx_error_set(e, CX_ERR_VERIFY,
                              "measurement refused: pool %s does not accept "
                              "this enclave's PCR0",
                              ph);
            goto out;
        }
        /* only the pool's operator makes an enclave one of the pool's (RULES.md §2.1):
         * refused here, before anything is registered */
        if (!cx_chain_id_equal(&p.operator_addr, cx_chain_key_address(signer))) {
            char ph[CX_CHAIN_ID_HEX_LEN + 1];
            cx_chain_id_to_hex(pool, ph);
            rc = cx_error_set(e, CX_ERR_VERIFY,
                              "pool %s: only the pool's operator adds enclaves to it "
                              "(--key is not its operator)",
                              ph);
            goto out;
        }
    }
    /* whatever id the store gives (local:DIR: base64url(SHA-256), Walrus: its blob id) goes
     * on the ledger beside the hash, so anybody can fetch the document and check it */
    if ((rc = cx_job_store_put_bytes(s, doc, doc_len, out->doc_blob_id, e)) != CX_OK) {
        cx_error_prefix(e, "storing the attestation document: ");
        goto out;
    }
    en->attestation_blob_id_len = strlen(out->doc_blob_id);
    memcpy(en->attestation_blob_id, out->doc_blob_id, en->attestation_blob_id_len);
    /* the Sui contract verifies the document itself; the local ledger keeps its hash */
    cx_ledger_attestation att = {.doc = doc, .doc_len = doc_len, .x25519_endorsement = ud + 32};
    if ((rc = cx_ledger_enclave_register_attested(l, signer, en, &att, &out->id, e)) != CX_OK)
        goto out;
    en->id = out->id;
    if (pool && (rc = cx_ledger_pool_enclave_add(l, signer, pool, &out->id, e)) != CX_OK)
        goto out;
    if (state_dir)
        rc = cx_job_enclave_state_save(state_dir, &out->id, e);
out:
    cx_nitro_doc_free(&nd);
    free(doc);
    return rc;
}
