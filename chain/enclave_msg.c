/* enclave_msg.c — the enclave's job messages of chain/RULES.md §6 (JobAcceptance, JobFailure,
 * KeyRelease): one BCS encoder for the enclave that signs them, one strict decoder for the ledger. */
#include "cx_chain.h"

#include <stdlib.h>
#include <string.h>

const char *cx_chain_fail_reason_name(cx_chain_fail_reason r)
{
    switch (r) {
    case CX_CHAIN_FAIL_SPEC:
        return "spec";
    case CX_CHAIN_FAIL_DATA:
        return "data";
    case CX_CHAIN_FAIL_COMPUTE:
        return "compute";
    case CX_CHAIN_FAIL_INTERNAL:
        return "internal";
    }
    return "unknown";
}

static const char *intent_name(uint8_t intent)
{
    switch (intent) {
    case CX_CHAIN_MSG_ACCEPT:
        return "job acceptance";
    case CX_CHAIN_MSG_FAIL:
        return "job failure";
    case CX_CHAIN_MSG_KEY:
        return "key release";
    }
    return NULL;
}

/* The rules both directions share: what the encoder refuses to write is what the decoder
 * refuses to read. */
static cx_err msg_check(const cx_chain_msg *m, cx_error *e)
{
    const char *what = intent_name(m->intent);
    if (!what)
        return cx_error_set(e, CX_ERR_FORMAT, "enclave message: intent scope %u is not 1..3",
                            m->intent);
    if (m->version != CX_CHAIN_MSG_VERSION)
        return cx_error_set(e, CX_ERR_FORMAT, "%s: version %u is not %u", what, m->version,
                            CX_CHAIN_MSG_VERSION);
    if (m->code_measurement_len < 1 || m->code_measurement_len > CX_CHAIN_MEASUREMENT_MAX)
        return cx_error_set(e, CX_ERR_FORMAT, "%s: code measurement must be 1..%d bytes", what,
                            CX_CHAIN_MEASUREMENT_MAX);
    if (m->intent == CX_CHAIN_MSG_FAIL &&
        (m->reason < CX_CHAIN_FAIL_SPEC || m->reason > CX_CHAIN_FAIL_INTERNAL))
        return cx_error_set(e, CX_ERR_FORMAT, "%s: reason %u is not 1..4", what, m->reason);
    if (m->intent == CX_CHAIN_MSG_KEY &&
        (m->wrapped_key_len < 1 || m->wrapped_key_len > CX_CHAIN_WRAPPED_KEY_MAX))
        return cx_error_set(e, CX_ERR_FORMAT, "%s: wrapped key must be 1..%d bytes", what,
                            CX_CHAIN_WRAPPED_KEY_MAX);
    return CX_OK;
}

cx_err cx_chain_msg_encode(const cx_chain_msg *m, uint8_t **out, size_t *len, cx_error *e)
{
    *out = NULL;
    *len = 0;
    cx_err rc = msg_check(m, e);
    if (rc != CX_OK)
        return rc;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_u8(&w, m->intent);
    cx_bcs_put_u64(&w, m->timestamp_ms);
    cx_bcs_put_u8(&w, m->version);
    cx_bcs_put_fixed(&w, m->job_id.b, CX_CHAIN_ID_LEN);
    cx_bcs_put_fixed(&w, m->pool_id.b, CX_CHAIN_ID_LEN);
    cx_bcs_put_bytes(&w, m->code_measurement, m->code_measurement_len);
    switch (m->intent) {
    case CX_CHAIN_MSG_ACCEPT:
        cx_bcs_put_bytes(&w, m->config_hash, sizeof m->config_hash);
        break;
    case CX_CHAIN_MSG_FAIL:
        cx_bcs_put_u8(&w, m->reason);
        break;
    default: /* CX_CHAIN_MSG_KEY (msg_check refused anything else) */
        cx_bcs_put_bytes(&w, m->result_hash, sizeof m->result_hash);
        cx_bcs_put_bytes(&w, m->wrapped_key, m->wrapped_key_len);
        break;
    }
    return cx_bcs_writer_finish(&w, out, len, e);
}

/* a vector<u8> of exactly n bytes into dst */
static cx_err get_exact(cx_bcs_reader *r, const char *field, uint8_t *dst, size_t n, cx_error *e)
{
    const uint8_t *p;
    size_t got;
    cx_err rc = cx_bcs_get_bytes(r, n, &p, &got, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "%s: ", field);
    if (got != n)
        return cx_error_set(e, CX_ERR_FORMAT, "%s: %zu bytes, expected %zu", field, got, n);
    memcpy(dst, p, n);
    return CX_OK;
}

cx_err cx_chain_msg_decode(const uint8_t *b, size_t len, cx_chain_msg *m, cx_error *e)
{
    memset(m, 0, sizeof *m);
    if (!b)
        return cx_error_set(e, CX_ERR_ARG, "enclave message: no bytes");
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, b, len);
    const uint8_t *p;
    size_t n;
    cx_err rc;
    if ((rc = cx_bcs_get_u8(&r, &m->intent, e)) != CX_OK ||
        (rc = cx_bcs_get_u64(&r, &m->timestamp_ms, e)) != CX_OK ||
        (rc = cx_bcs_get_u8(&r, &m->version, e)) != CX_OK)
        return cx_error_wrap(rc, e, "enclave message header: ");
    /* intent and version first: the payload's layout depends on them */
    const char *what = intent_name(m->intent);
    if (!what || m->version != CX_CHAIN_MSG_VERSION)
        return msg_check(m, e);
    if ((rc = cx_bcs_get_fixed(&r, m->job_id.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = cx_bcs_get_fixed(&r, m->pool_id.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = cx_bcs_get_bytes(&r, CX_CHAIN_MEASUREMENT_MAX, &p, &n, e)) != CX_OK)
        return cx_error_wrap(rc, e, "%s: ", what);
    memcpy(m->code_measurement, p, n);
    m->code_measurement_len = n;
    switch (m->intent) {
    case CX_CHAIN_MSG_ACCEPT:
        rc = get_exact(&r, "job acceptance config_hash", m->config_hash, 32, e);
        break;
    case CX_CHAIN_MSG_FAIL:
        if ((rc = cx_bcs_get_u8(&r, &m->reason, e)) != CX_OK)
            rc = cx_error_wrap(rc, e, "%s reason: ", what);
        break;
    default:
        if ((rc = get_exact(&r, "key release result_hash", m->result_hash, 32, e)) != CX_OK)
            break;
        if ((rc = cx_bcs_get_bytes(&r, CX_CHAIN_WRAPPED_KEY_MAX, &p, &n, e)) != CX_OK) {
            rc = cx_error_wrap(rc, e, "key release wrapped_key: ");
            break;
        }
        memcpy(m->wrapped_key, p, n);
        m->wrapped_key_len = n;
        break;
    }
    if (rc == CX_OK)
        rc = msg_check(m, e);
    if (rc == CX_OK && (rc = cx_bcs_reader_end(&r, e)) != CX_OK)
        rc = cx_error_wrap(rc, e, "%s: ", what);
    if (rc != CX_OK)
        memset(m, 0, sizeof *m);
    return rc;
}
