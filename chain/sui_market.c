/* sui_market.c — the cloakx_market Move package's calls as Sui programmable transactions, and
 * its events as ledger events: what a `sui:` ledger backend sends and reads (chain/move). */
#include "cx_chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MODULE[] = "market";
static const char SUI_COIN[] = "0x2::sui::SUI";

static const char *coin(const cx_sui_market *m)
{
    return m->coin_type ? m->coin_type : SUI_COIN;
}

/* The Clock: shared at 0x6 since genesis (initial shared version 1), always read-only. */
static cx_err clock_arg(cx_sui_tx *tx, cx_sui_arg *out, cx_error *e)
{
    cx_chain_id clock = {{0}};
    clock.b[31] = 6;
    return cx_sui_tx_shared(tx, &clock, 1, 0, out, e);
}

static cx_err shared(cx_sui_tx *tx, const cx_sui_shared_ref *r, int is_mutable, cx_sui_arg *out,
                     cx_error *e)
{
    return cx_sui_tx_shared(tx, &r->id, r->initial_shared_version, is_mutable, out, e);
}

static cx_err call(cx_sui_tx *tx, const cx_sui_market *m, const char *function, int generic,
                   const cx_sui_arg *args, size_t n, cx_error *e)
{
    const char *types[1] = {coin(m)};
    return cx_sui_tx_move_call(tx, &m->package, MODULE, function, generic ? types : NULL,
                               generic ? 1 : 0, args, n, NULL, e);
}

/* vector<vector<u8>> */
static cx_err pure_measurements(cx_sui_tx *tx, const cx_ledger_pool_params *p, cx_sui_arg *out,
                                cx_error *e)
{
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_uleb(&w, p->n_measurements);
    for (size_t i = 0; i < p->n_measurements; i++)
        cx_bcs_put_bytes(&w, p->measurements[i], p->measurement_lens[i]);
    uint8_t *b;
    size_t len;
    cx_err rc = cx_bcs_writer_finish(&w, &b, &len, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_sui_tx_pure(tx, b, len, out, e);
    free(b);
    return rc;
}

/* the policy's forbidden column names: vector<vector<u8>> */
static cx_err pure_forbidden(cx_sui_tx *tx, const cx_ledger_pool_policy *p, cx_sui_arg *out,
                             cx_error *e)
{
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_uleb(&w, p->n_forbidden);
    for (size_t i = 0; i < p->n_forbidden; i++)
        cx_bcs_put_bytes(&w, (const uint8_t *)p->forbidden_columns[i],
                         strlen(p->forbidden_columns[i]));
    uint8_t *b;
    size_t len;
    cx_err rc = cx_bcs_writer_finish(&w, &b, &len, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_sui_tx_pure(tx, b, len, out, e);
    free(b);
    return rc;
}

cx_err cx_sui_market_create_pool(cx_sui_tx *tx, const cx_sui_market *m,
                                 const cx_ledger_pool_params *p, cx_error *e)
{
    if (!p || !p->theme || p->n_measurements > CX_CHAIN_MAX_MEASUREMENTS ||
        p->policy.n_forbidden > CX_CHAIN_FORBIDDEN_MAX)
        return cx_error_set(e, CX_ERR_ARG, "sui market: create pool: bad parameters");
    const cx_ledger_pool_policy *pol = &p->policy;
    const uint8_t dp = pol->require_dp ? 1 : 0; /* BCS bool */
    cx_sui_arg a[16];
    cx_err rc;
    if ((rc = cx_sui_tx_pure_bytes(tx, (const uint8_t *)p->theme, strlen(p->theme), &a[0], e)) !=
            CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, p->price, &a[1], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, p->min_contributors, &a[2], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, p->max_rows_per_contributor, &a[3], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, p->operator_fee_bps, &a[4], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, p->protocol_fee_bps, &a[5], e)) != CX_OK ||
        (rc = pure_measurements(tx, p, &a[6], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_address(tx, &p->operator_addr, &a[7], e)) != CX_OK ||
        (rc = cx_sui_tx_pure(tx, &dp, 1, &a[8], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, pol->max_epsilon_micro, &a[9], e)) != CX_OK ||
        (rc = pure_forbidden(tx, pol, &a[10], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, pol->max_params, &a[11], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, pol->max_epochs, &a[12], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, pol->max_flops, &a[13], e)) != CX_OK ||
        (rc = cx_sui_tx_pure(tx, &pol->sealing, 1, &a[14], e)) != CX_OK || /* u8 */
        (rc = clock_arg(tx, &a[15], e)) != CX_OK)
        return rc;
    return call(tx, m, "create_pool", 1, a, 16, e);
}

cx_err cx_sui_market_register_enclave(cx_sui_tx *tx, const cx_sui_market *m, const uint8_t *doc,
                                      size_t doc_len, const uint8_t x25519_pk[32],
                                      const uint8_t endorsement[64], const uint8_t doc_sha256[32],
                                      const uint8_t *doc_blob_id, size_t doc_blob_id_len,
                                      cx_error *e)
{
    cx_sui_arg d, clock, load, a[7];
    cx_chain_addr sui_framework = {{0}};
    sui_framework.b[31] = 2;
    cx_err rc;
    if ((rc = cx_sui_tx_pure_bytes(tx, doc, doc_len, &d, e)) != CX_OK ||
        (rc = clock_arg(tx, &clock, e)) != CX_OK)
        return rc;
    cx_sui_arg load_args[2] = {d, clock};
    if ((rc = cx_sui_tx_move_call(tx, &sui_framework, "nitro_attestation",
                                  "load_nitro_attestation", NULL, 0, load_args, 2, &load, e)) !=
        CX_OK)
        return rc;
    a[1] = load;
    a[6] = clock;
    if ((rc = shared(tx, &m->market, 1, &a[0], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, x25519_pk, 32, &a[2], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, endorsement, 64, &a[3], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, doc_sha256, 32, &a[4], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, doc_blob_id, doc_blob_id_len, &a[5], e)) != CX_OK)
        return rc;
    return call(tx, m, "register_enclave", 0, a, 7, e);
}

cx_err cx_sui_market_add_pool_enclave(cx_sui_tx *tx, const cx_sui_market *m,
                                      const cx_sui_shared_ref *pool,
                                      const cx_sui_object_ref *enclave, cx_error *e)
{
    cx_sui_arg a[3];
    cx_err rc;
    if ((rc = shared(tx, pool, 1, &a[0], e)) != CX_OK ||
        (rc = cx_sui_tx_object(tx, enclave, &a[1], e)) != CX_OK ||
        (rc = clock_arg(tx, &a[2], e)) != CX_OK)
        return rc;
    return call(tx, m, "add_pool_enclave", 1, a, 3, e);
}

cx_err cx_sui_market_register_contribution(cx_sui_tx *tx, const cx_sui_market *m,
                                           const cx_sui_shared_ref *pool, const uint8_t *blob_id,
                                           size_t blob_id_len, cx_error *e)
{
    cx_sui_arg a[3];
    cx_err rc;
    if ((rc = shared(tx, pool, 1, &a[0], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, blob_id, blob_id_len, &a[1], e)) != CX_OK ||
        (rc = clock_arg(tx, &a[2], e)) != CX_OK)
        return rc;
    return call(tx, m, "register_contribution", 1, a, 3, e);
}

cx_err cx_sui_market_create_job(cx_sui_tx *tx, const cx_sui_market *m,
                                const cx_sui_shared_ref *pool, const uint8_t spec_hash[32],
                                const uint8_t *spec_blob_id, size_t spec_blob_id_len,
                                uint64_t payment, uint64_t deadline_ms, cx_error *e)
{
    cx_sui_arg amount, split, a[6];
    cx_err rc;
    if ((rc = cx_sui_tx_pure_u64(tx, payment, &amount, e)) != CX_OK ||
        (rc = cx_sui_tx_split_coins(tx, cx_sui_gas_coin(), &amount, 1, &split, e)) != CX_OK)
        return rc;
    a[3] = cx_sui_nested(split, 0);
    if ((rc = shared(tx, pool, 0, &a[0], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, spec_hash, 32, &a[1], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, spec_blob_id, spec_blob_id_len, &a[2], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_u64(tx, deadline_ms, &a[4], e)) != CX_OK ||
        (rc = clock_arg(tx, &a[5], e)) != CX_OK)
        return rc;
    return call(tx, m, "create_job", 1, a, 6, e);
}

cx_err cx_sui_market_accept_job(cx_sui_tx *tx, const cx_sui_market *m,
                                const cx_sui_shared_ref *job, const cx_sui_shared_ref *pool,
                                const cx_sui_object_ref *enclave, const uint8_t *msg, size_t len,
                                const uint8_t sig[64], cx_error *e)
{
    cx_sui_arg a[6];
    cx_err rc;
    if ((rc = shared(tx, job, 1, &a[0], e)) != CX_OK ||
        (rc = shared(tx, pool, 0, &a[1], e)) != CX_OK ||
        (rc = cx_sui_tx_object(tx, enclave, &a[2], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, msg, len, &a[3], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, sig, 64, &a[4], e)) != CX_OK ||
        (rc = clock_arg(tx, &a[5], e)) != CX_OK)
        return rc;
    return call(tx, m, "accept_job", 1, a, 6, e);
}

cx_err cx_sui_market_fail_job(cx_sui_tx *tx, const cx_sui_market *m, const cx_sui_shared_ref *job,
                              const cx_sui_object_ref *enclave, const uint8_t *msg, size_t len,
                              const uint8_t sig[64], cx_error *e)
{
    cx_sui_arg a[5];
    cx_err rc;
    if ((rc = shared(tx, job, 1, &a[0], e)) != CX_OK ||
        (rc = cx_sui_tx_object(tx, enclave, &a[1], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, msg, len, &a[2], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, sig, 64, &a[3], e)) != CX_OK ||
        (rc = clock_arg(tx, &a[4], e)) != CX_OK)
        return rc;
    return call(tx, m, "fail_job", 1, a, 5, e);
}

cx_err cx_sui_market_submit_result(cx_sui_tx *tx, const cx_sui_market *m,
                                   const cx_sui_shared_ref *job, const cx_sui_shared_ref *pool,
                                   const cx_sui_object_ref *enclave, const uint8_t *statement,
                                   size_t statement_len, const uint8_t sig[64],
                                   const uint8_t *key_release, size_t key_release_len,
                                   const uint8_t key_sig[64], cx_error *e)
{
    cx_sui_arg a[9];
    cx_err rc;
    if ((rc = shared(tx, &m->market, 0, &a[0], e)) != CX_OK ||
        (rc = shared(tx, job, 1, &a[1], e)) != CX_OK ||
        (rc = shared(tx, pool, 0, &a[2], e)) != CX_OK ||
        (rc = cx_sui_tx_object(tx, enclave, &a[3], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, statement, statement_len, &a[4], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, sig, 64, &a[5], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, key_release, key_release_len, &a[6], e)) != CX_OK ||
        (rc = cx_sui_tx_pure_bytes(tx, key_sig, 64, &a[7], e)) != CX_OK ||
        (rc = clock_arg(tx, &a[8], e)) != CX_OK)
        return rc;
    return call(tx, m, "submit_result", 1, a, 9, e);
}

cx_err cx_sui_market_refund_expired(cx_sui_tx *tx, const cx_sui_market *m,
                                    const cx_sui_shared_ref *job, cx_error *e)
{
    cx_sui_arg a[2];
    cx_err rc;
    if ((rc = shared(tx, job, 1, &a[0], e)) != CX_OK || (rc = clock_arg(tx, &a[1], e)) != CX_OK)
        return rc;
    return call(tx, m, "refund_expired", 1, a, 2, e);
}

/* The largest event kind number any build knows; names beyond are "Unknown". */
enum { EVENT_KIND_SCAN_MAX = 64 };

cx_err cx_sui_market_event_decode(const cx_sui_market *m, const cx_sui_event *ev,
                                  cx_ledger_event *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    /* "0x<64 hex>::market::<Kind>" */
    char prefix[CX_CHAIN_ID_HEX_LEN + sizeof "::market::"];
    cx_chain_id_to_hex(&m->package, prefix);
    strcat(prefix, "::market::");
    size_t pl = strlen(prefix);
    if (strncmp(ev->type, prefix, pl) != 0)
        return cx_error_set(e, CX_ERR_NOTFOUND, "sui market: event %s is not the package's",
                            ev->type);
    const char *name = ev->type + pl;
    int kind = 0;
    for (int k = 1; k <= EVENT_KIND_SCAN_MAX && !kind; k++)
        if (!strcmp(cx_ledger_event_kind_name((cx_ledger_event_kind)k), name))
            kind = k;
    if (!kind)
        return cx_error_set(e, CX_ERR_NOTFOUND, "sui market: event kind %s unknown", name);
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, ev->bcs, ev->bcs_len);
    cx_err rc;
    if ((rc = cx_bcs_get_fixed(&r, out->object_id.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = cx_bcs_get_fixed(&r, out->pool_id.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = cx_bcs_get_fixed(&r, out->addr.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = cx_bcs_get_u64(&r, &out->amount, e)) != CX_OK ||
        (rc = cx_bcs_get_u64(&r, &out->timestamp_ms, e)) != CX_OK ||
        (rc = cx_bcs_reader_end(&r, e)) != CX_OK) {
        memset(out, 0, sizeof *out);
        return cx_error_wrap(rc, e, "sui market: event %s: ", name);
    }
    out->kind = (cx_ledger_event_kind)kind;
    memcpy(out->tx_digest, ev->tx_digest, sizeof out->tx_digest);
    return CX_OK;
}

cx_err cx_sui_market_abort_class(uint64_t code)
{
    if (code >= 1 && code <= 19)
        return CX_ERR_ARG;
    if (code >= 20 && code <= 29)
        return CX_ERR_STATE;
    if (code >= 30 && code <= 49)
        return CX_ERR_VERIFY;
    if (code == 50)
        return CX_ERR_AUTH;
    if (code == 100)
        return CX_ERR_FORMAT;
    if (code == 200)
        return CX_ERR_ARG;
    return CX_ERR_INTERNAL;
}
