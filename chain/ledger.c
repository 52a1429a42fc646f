/* ledger.c — what every ledger backend shares: ids and Sui addresses, account keys
 * (Ed25519 via proto), the exact payout split of RULES.md §3, and the call dispatchers. */
#include "cx_chain.h"
#include "ledger_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

/* ----------------------------------------------------------------- ids -- */

void cx_chain_id_to_hex(const cx_chain_id *id, char out[CX_CHAIN_ID_HEX_LEN + 1])
{
    cx_addr_to_hex(id->b, out);
}

cx_err cx_chain_id_from_hex(const char *s, cx_chain_id *id, cx_error *e)
{
    cx_err rc = cx_addr_from_hex(s, id->b, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "id: ");
    return CX_OK;
}

int cx_chain_id_equal(const cx_chain_id *a, const cx_chain_id *b)
{
    return memcmp(a->b, b->b, CX_CHAIN_ID_LEN) == 0;
}

int cx_chain_id_is_zero(const cx_chain_id *a)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < CX_CHAIN_ID_LEN; i++)
        acc |= a->b[i];
    return acc == 0;
}

cx_err cx_chain_addr_from_ed25519(const uint8_t pk[CX_CHAIN_ED25519_PK_LEN], cx_chain_addr *out,
                                  cx_error *e)
{
    uint8_t in[1 + CX_CHAIN_ED25519_PK_LEN];
    in[0] = 0x00; /* Ed25519 signature-scheme flag */
    memcpy(in + 1, pk, CX_CHAIN_ED25519_PK_LEN);
    /* BLAKE2b-256 is not in OpenSSL 3.0 (spec §0): libsodium's generichash with outlen 32 */
    if (crypto_generichash(out->b, CX_CHAIN_ID_LEN, in, sizeof in, NULL, 0) != 0)
        return cx_error_set(e, CX_ERR_CRYPTO, "address: BLAKE2b-256 failed");
    return CX_OK;
}

/* ---------------------------------------------------------------- keys -- */

struct cx_chain_key {
    uint8_t *seed; /* 32 bytes in cx_secmem */
    uint8_t pk[CX_CHAIN_ED25519_PK_LEN];
    cx_chain_addr addr;
};

cx_err cx_chain_key_from_seed(const uint8_t seed[32], cx_chain_key **out, cx_error *e)
{
    *out = NULL;
    cx_chain_key *k = calloc(1, sizeof *k);
    if (!k)
        return cx_error_set(e, CX_ERR_NOMEM, "key: out of memory");
    k->seed = cx_secmem_alloc(32, 0, e);
    if (!k->seed) {
        free(k);
        return cx_error_wrap(CX_ERR_NOMEM, e, "key: "); /* unlocked secmem fails only so */
    }
    memcpy(k->seed, seed, 32);
    cx_err rc = cx_ed25519_public_from_seed(k->seed, k->pk, e);
    if (rc != CX_OK) {
        cx_chain_key_free(k);
        return cx_error_wrap(rc, e, "key: ");
    }
    rc = cx_chain_addr_from_ed25519(k->pk, &k->addr, e);
    if (rc != CX_OK) {
        cx_chain_key_free(k);
        return rc;
    }
    *out = k;
    return CX_OK;
}

cx_err cx_chain_key_generate(cx_chain_key **out, cx_error *e)
{
    uint8_t *seed = cx_secmem_alloc(32, 0, e);
    if (!seed)
        return cx_error_wrap(CX_ERR_NOMEM, e, "key: "); /* unlocked secmem fails only so */
    cx_err rc = cx_ed25519_seed_generate(seed, e);
    if (rc != CX_OK) {
        cx_secmem_free(seed);
        return cx_error_wrap(rc, e, "key: ");
    }
    rc = cx_chain_key_from_seed(seed, out, e);
    cx_secmem_free(seed);
    return rc;
}

void cx_chain_key_free(cx_chain_key *k)
{
    if (!k)
        return;
    cx_secmem_free(k->seed);
    free(k);
}

const uint8_t *cx_chain_key_public(const cx_chain_key *k)
{
    return k->pk;
}

const cx_chain_addr *cx_chain_key_address(const cx_chain_key *k)
{
    return &k->addr;
}

cx_err cx_chain_key_sign(const cx_chain_key *k, const uint8_t *msg, size_t len,
                         uint8_t sig[CX_CHAIN_ED25519_SIG_LEN], cx_error *e)
{
    cx_err rc = cx_ed25519_sign(k->seed, msg, len, sig, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "key: ");
    return CX_OK;
}

/* --------------------------------------------------------------- split -- */

typedef struct split_item {
    size_t idx;            /* index into payouts */
    unsigned __int128 rem; /* (C * w) mod W: the fractional part, scaled by W (W may exceed
                            * 2^64: up to 100000 weights below 2^63 each) */
} split_item;

static int split_cmp(const void *a, const void *b, void *ctx)
{
    const split_item *x = a, *y = b;
    const cx_chain_payout *pay = ctx;
    if (x->rem != y->rem)
        return x->rem > y->rem ? -1 : 1; /* larger remainder first */
    return memcmp(pay[x->idx].to.b, pay[y->idx].to.b, CX_CHAIN_ID_LEN);
}

cx_err cx_chain_split_compute(uint64_t pay, uint32_t protocol_bps, uint32_t operator_bps,
                              uint64_t max_rows, const cx_chain_rows *rows, size_t n_rows,
                              cx_chain_split *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if ((uint64_t)protocol_bps + operator_bps > CX_CHAIN_BPS_DENOM)
        return cx_error_set(e, CX_ERR_ARG, "split: fees %u + %u bps exceed 10000", protocol_bps,
                            operator_bps);
    for (size_t i = 1; i < n_rows; i++)
        if (memcmp(rows[i - 1].contributor.b, rows[i].contributor.b, CX_CHAIN_ID_LEN) >= 0)
            return cx_error_set(e, CX_ERR_ARG, "split: contributors not strictly ascending");
    out->protocol_fee = (uint64_t)(((unsigned __int128)pay * protocol_bps) / CX_CHAIN_BPS_DENOM);
    out->operator_fee = (uint64_t)(((unsigned __int128)pay * operator_bps) / CX_CHAIN_BPS_DENOM);
    uint64_t c = pay - out->protocol_fee - out->operator_fee;
    out->contributors_total = c;

    unsigned __int128 total_w = 0;
    size_t n_pos = 0;
    for (size_t i = 0; i < n_rows; i++) {
        uint64_t w = rows[i].rows;
        if (max_rows && w > max_rows)
            w = max_rows;
        if (w) {
            total_w += w;
            n_pos++;
        }
    }
    if (n_pos == 0)
        return CX_OK;
    out->payouts = calloc(n_pos, sizeof *out->payouts);
    split_item *items = calloc(n_pos, sizeof *items);
    if (!out->payouts || !items) {
        free(items);
        cx_chain_split_free(out);
        return cx_error_set(e, CX_ERR_NOMEM, "split: out of memory");
    }
    uint64_t given = 0;
    size_t k = 0;
    for (size_t i = 0; i < n_rows; i++) {
        uint64_t w = rows[i].rows;
        if (max_rows && w > max_rows)
            w = max_rows;
        if (!w)
            continue;
        unsigned __int128 num = (unsigned __int128)c * w;
        out->payouts[k].to = rows[i].contributor;
        out->payouts[k].amount = (uint64_t)(num / total_w);
        given += out->payouts[k].amount;
        items[k].idx = k;
        items[k].rem = num % total_w;
        k++;
    }
    /* largest remainder: the R = C - sum(floor) leftover units (R < n) go one each to the
     * contributors with the largest fractional parts, ties by ascending address */
    uint64_t left = c - given;
    qsort_r(items, n_pos, sizeof *items, split_cmp, out->payouts);
    for (size_t j = 0; j < n_pos && left; j++, left--)
        out->payouts[items[j].idx].amount++;
    free(items);
    out->n_payouts = n_pos;
    return CX_OK;
}

void cx_chain_split_free(cx_chain_split *s)
{
    if (!s)
        return;
    free(s->payouts);
    s->payouts = NULL;
    s->n_payouts = 0;
}

/* --------------------------------------------------------------- names -- */

const char *cx_ledger_job_state_name(cx_ledger_job_state s)
{
    switch (s) {
    case CX_LEDGER_JOB_OPEN:
        return "open";
    case CX_LEDGER_JOB_PAID:
        return "paid";
    case CX_LEDGER_JOB_REFUNDED:
        return "refunded";
    case CX_LEDGER_JOB_ACCEPTED:
        return "accepted";
    }
    return "unknown";
}

const char *cx_ledger_event_kind_name(cx_ledger_event_kind k)
{
    switch (k) {
    case CX_LEDGER_EV_POOL_CREATED:
        return "PoolCreated";
    case CX_LEDGER_EV_ENCLAVE_REGISTERED:
        return "EnclaveRegistered";
    case CX_LEDGER_EV_CONTRIBUTION_REGISTERED:
        return "ContributionRegistered";
    case CX_LEDGER_EV_JOB_CREATED:
        return "JobCreated";
    case CX_LEDGER_EV_RESULT_SUBMITTED:
        return "ResultSubmitted";
    case CX_LEDGER_EV_PAYMENT_RELEASED:
        return "PaymentReleased";
    case CX_LEDGER_EV_JOB_REFUNDED:
        return "JobRefunded";
    case CX_LEDGER_EV_POOL_ENCLAVE_ADDED:
        return "PoolEnclaveAdded";
    case CX_LEDGER_EV_JOB_ACCEPTED:
        return "JobAccepted";
    case CX_LEDGER_EV_JOB_FAILED:
        return "JobFailed";
    }
    return "Unknown";
}

void cx_ledger_result_free(cx_ledger_result *r)
{
    if (!r)
        return;
    free(r->statement);
    r->statement = NULL;
    cx_chain_split_free(&r->split);
}

/* ---------------------------------------------------------- dispatchers -- */

#define LEDGER_CHECK(l, fn)                                                                        \
    do {                                                                                           \
        if (!(l) || !(l)->ops || !(l)->ops->fn)                                                    \
            return cx_error_set(e, CX_ERR_UNSUPPORTED, "ledger: %s not supported by backend",      \
                                #fn);                                                              \
    } while (0)

int cx_ledger_policy_forbids(const cx_ledger_pool_policy *p, const char *column)
{
    for (size_t i = 0; p && column && i < p->n_forbidden; i++)
        if (strcasecmp(p->forbidden_columns[i], column) == 0)
            return 1;
    return 0;
}

int cx_ledger_pool_accepts_sealing(const cx_ledger_pool_policy *p, unsigned sealing)
{
    return p->sealing == 0 || (p->sealing & sealing) == sealing;
}

const char *cx_ledger_sealing_name(uint8_t sealing)
{
    switch (sealing) {
    case CX_LEDGER_SEALING_HPKE:
        return "hpke";
    case CX_LEDGER_SEALING_SEAL:
        return "seal";
    default:
        return "hpke,seal";
    }
}

/* RULES.md §1 Pool policy: names of 1..CX_CHAIN_COLUMN_NAME_MAX printable bytes, each once;
 * sealing bits among those defined. */
static cx_err policy_check(const cx_ledger_pool_policy *p, cx_error *e)
{
    if (p->sealing & ~CX_LEDGER_SEALING_ALL)
        return cx_error_set(e, CX_ERR_ARG,
                            "pool create: sealing %u is not a set of hpke (1), seal (2)",
                            p->sealing);
    if (p->n_forbidden > CX_CHAIN_FORBIDDEN_MAX)
        return cx_error_set(e, CX_ERR_ARG, "pool create: at most %d forbidden columns",
                            CX_CHAIN_FORBIDDEN_MAX);
    for (size_t i = 0; i < p->n_forbidden; i++) {
        const char *c = p->forbidden_columns[i];
        size_t n = strnlen(c, CX_CHAIN_COLUMN_NAME_MAX + 1);
        if (n < 1 || n > CX_CHAIN_COLUMN_NAME_MAX)
            return cx_error_set(e, CX_ERR_ARG,
                                "pool create: forbidden column %zu must be 1..%d bytes", i,
                                CX_CHAIN_COLUMN_NAME_MAX);
        for (size_t k = 0; k < n; k++)
            if ((unsigned char)c[k] < 0x20 || c[k] == 0x7f)
                return cx_error_set(e, CX_ERR_ARG,
                                    "pool create: forbidden column %zu has a control character", i);
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(p->forbidden_columns[j], c) == 0)
                return cx_error_set(e, CX_ERR_ARG,
                                    "pool create: forbidden column '%s' is listed twice", c);
    }
    return CX_OK;
}

cx_err cx_ledger_pool_create(cx_ledger *l, const cx_chain_key *signer,
                             const cx_ledger_pool_params *p, cx_chain_id *out, cx_error *e)
{
    LEDGER_CHECK(l, pool_create);
    if (!signer || !p || !out)
        return cx_error_set(e, CX_ERR_ARG, "pool create: missing argument");
    if (!p->theme || !*p->theme || strlen(p->theme) > CX_CHAIN_THEME_MAX)
        return cx_error_set(e, CX_ERR_ARG, "pool create: theme must be 1..%d bytes",
                            CX_CHAIN_THEME_MAX);
    if (p->min_contributors < 1)
        return cx_error_set(e, CX_ERR_ARG, "pool create: min contributors k must be >= 1");
    if (p->max_rows_per_contributor < 1)
        return cx_error_set(e, CX_ERR_ARG, "pool create: max rows per contributor must be >= 1");
    if ((uint64_t)p->operator_fee_bps + p->protocol_fee_bps > CX_CHAIN_BPS_DENOM)
        return cx_error_set(e, CX_ERR_ARG, "pool create: fees exceed 10000 bps");
    if (p->n_measurements < 1 || p->n_measurements > CX_CHAIN_MAX_MEASUREMENTS)
        return cx_error_set(e, CX_ERR_ARG, "pool create: 1..%d accepted measurements required",
                            CX_CHAIN_MAX_MEASUREMENTS);
    for (size_t i = 0; i < p->n_measurements; i++)
        if (!p->measurements[i] || p->measurement_lens[i] < 1 ||
            p->measurement_lens[i] > CX_CHAIN_MEASUREMENT_MAX)
            return cx_error_set(e, CX_ERR_ARG, "pool create: measurement %zu must be 1..%d bytes",
                                i, CX_CHAIN_MEASUREMENT_MAX);
    cx_err rc = policy_check(&p->policy, e);
    if (rc != CX_OK)
        return rc;
    return l->ops->pool_create(l, signer, p, out, e);
}

cx_err cx_ledger_pool_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_pool *out, cx_error *e)
{
    LEDGER_CHECK(l, pool_get);
    return l->ops->pool_get(l, id, out, e);
}

cx_err cx_ledger_enclave_register(cx_ledger *l, const cx_chain_key *signer,
                                  const cx_ledger_enclave *en, cx_chain_id *out, cx_error *e)
{
    return cx_ledger_enclave_register_attested(l, signer, en, NULL, out, e);
}

cx_err cx_ledger_enclave_register_attested(cx_ledger *l, const cx_chain_key *signer,
                                           const cx_ledger_enclave *en,
                                           const cx_ledger_attestation *att, cx_chain_id *out,
                                           cx_error *e)
{
    LEDGER_CHECK(l, enclave_register);
    if (!signer || !en || !out)
        return cx_error_set(e, CX_ERR_ARG, "enclave register: missing argument");
    if (en->measurement_len < 1 || en->measurement_len > CX_CHAIN_MEASUREMENT_MAX)
        return cx_error_set(e, CX_ERR_ARG, "enclave register: measurement must be 1..%d bytes",
                            CX_CHAIN_MEASUREMENT_MAX);
    if (en->attestation_blob_id_len < 1 || en->attestation_blob_id_len > CX_CHAIN_BLOB_ID_MAX)
        return cx_error_set(e, CX_ERR_ARG,
                            "enclave register: the attestation document's blob id must be "
                            "1..%d bytes (got %zu)",
                            CX_CHAIN_BLOB_ID_MAX, en->attestation_blob_id_len);
    return l->ops->enclave_register(l, signer, en, att, out, e);
}

cx_err cx_ledger_enclave_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_enclave *out,
                             cx_error *e)
{
    LEDGER_CHECK(l, enclave_get);
    return l->ops->enclave_get(l, id, out, e);
}

cx_err cx_ledger_pool_enclave_add(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *pool,
                                  const cx_chain_id *enclave, cx_error *e)
{
    LEDGER_CHECK(l, pool_enclave_add);
    if (!signer || !pool || !enclave)
        return cx_error_set(e, CX_ERR_ARG, "pool add enclave: missing argument");
    return l->ops->pool_enclave_add(l, signer, pool, enclave, e);
}

cx_err cx_ledger_enclaves_for_pool(cx_ledger *l, const cx_chain_id *pool, cx_ledger_enclave **out,
                                   size_t *n, cx_error *e)
{
    LEDGER_CHECK(l, enclaves_for_pool);
    return l->ops->enclaves_for_pool(l, pool, out, n, e);
}

cx_err cx_ledger_contribution_register(cx_ledger *l, const cx_chain_key *signer,
                                       const cx_chain_id *pool, const uint8_t *blob_id,
                                       size_t blob_id_len, cx_chain_id *out, cx_error *e)
{
    LEDGER_CHECK(l, contribution_register);
    if (!signer || !pool || !blob_id || !out)
        return cx_error_set(e, CX_ERR_ARG, "contribute: missing argument");
    if (blob_id_len < 1 || blob_id_len > CX_CHAIN_BLOB_ID_MAX)
        return cx_error_set(e, CX_ERR_ARG, "contribute: blob id must be 1..%d bytes",
                            CX_CHAIN_BLOB_ID_MAX);
    return l->ops->contribution_register(l, signer, pool, blob_id, blob_id_len, out, e);
}

cx_err cx_ledger_contributions_list(cx_ledger *l, const cx_chain_id *pool,
                                    cx_ledger_contribution **out, size_t *n, cx_error *e)
{
    LEDGER_CHECK(l, contributions_list);
    return l->ops->contributions_list(l, pool, out, n, e);
}

cx_err cx_ledger_job_create(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *pool,
                            const uint8_t spec_hash[32], const uint8_t *spec_blob_id,
                            size_t spec_blob_id_len, uint64_t payment, uint64_t deadline_ms,
                            cx_chain_id *out, cx_error *e)
{
    LEDGER_CHECK(l, job_create);
    if (!signer || !pool || !spec_hash || !out)
        return cx_error_set(e, CX_ERR_ARG, "job create: missing argument");
    if (spec_blob_id_len > CX_CHAIN_BLOB_ID_MAX || (spec_blob_id_len && !spec_blob_id))
        return cx_error_set(e, CX_ERR_ARG, "job create: spec blob id must be 0..%d bytes",
                            CX_CHAIN_BLOB_ID_MAX);
    if (payment == 0)
        return cx_error_set(e, CX_ERR_ARG, "job create: payment must be > 0");
    return l->ops->job_create(l, signer, pool, spec_hash, spec_blob_id, spec_blob_id_len, payment,
                              deadline_ms, out, e);
}

cx_err cx_ledger_job_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_job *out, cx_error *e)
{
    LEDGER_CHECK(l, job_get);
    return l->ops->job_get(l, id, out, e);
}

static int signed_ok(const cx_ledger_signed *s)
{
    return s && s->msg && s->len && s->sig;
}

cx_err cx_ledger_job_accept(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                            const cx_chain_id *enclave, const cx_ledger_signed *acceptance,
                            cx_error *e)
{
    LEDGER_CHECK(l, job_accept);
    if (!signer || !job || !enclave || !signed_ok(acceptance))
        return cx_error_set(e, CX_ERR_ARG, "job accept: missing argument");
    return l->ops->job_accept(l, signer, job, enclave, acceptance, e);
}

cx_err cx_ledger_job_fail(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                          const cx_ledger_signed *failure, cx_error *e)
{
    LEDGER_CHECK(l, job_fail);
    if (!signer || !job || !signed_ok(failure))
        return cx_error_set(e, CX_ERR_ARG, "job fail: missing argument");
    return l->ops->job_fail(l, signer, job, failure, e);
}

cx_err cx_ledger_result_submit(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                               const cx_chain_id *enclave, const cx_ledger_signed *statement,
                               const cx_ledger_signed *key_release, cx_error *e)
{
    LEDGER_CHECK(l, result_submit);
    if (!signer || !job || !enclave || !signed_ok(statement) || !signed_ok(key_release))
        return cx_error_set(e, CX_ERR_ARG,
                            "result submit: missing argument (a result needs its statement and "
                            "its key release)");
    return l->ops->result_submit(l, signer, job, enclave, statement, key_release, e);
}

cx_err cx_ledger_result_get(cx_ledger *l, const cx_chain_id *job, cx_ledger_result *out,
                            cx_error *e)
{
    LEDGER_CHECK(l, result_get);
    return l->ops->result_get(l, job, out, e);
}

cx_err cx_ledger_job_refund_expired(cx_ledger *l, const cx_chain_key *signer,
                                    const cx_chain_id *job, cx_error *e)
{
    LEDGER_CHECK(l, job_refund_expired);
    if (!signer || !job)
        return cx_error_set(e, CX_ERR_ARG, "refund: missing argument");
    return l->ops->job_refund_expired(l, signer, job, e);
}

cx_err cx_ledger_balance_get(cx_ledger *l, const cx_chain_addr *a, uint64_t *out, cx_error *e)
{
    LEDGER_CHECK(l, balance_get);
    return l->ops->balance_get(l, a, out, e);
}

cx_err cx_ledger_events_read(cx_ledger *l, const char *cursor, size_t max, cx_ledger_event **out,
                             size_t *n, char next_cursor[CX_CHAIN_CURSOR_MAX], cx_error *e)
{
    LEDGER_CHECK(l, events_read);
    if (!out || !n || !next_cursor)
        return cx_error_set(e, CX_ERR_ARG, "events: missing argument");
    return l->ops->events_read(l, cursor ? cursor : "", max, out, n, next_cursor, e);
}

const char *cx_ledger_backend_name(const cx_ledger *l)
{
    return l && l->ops && l->ops->name ? l->ops->name : "none";
}

void cx_ledger_close(cx_ledger *l)
{
    if (l && l->ops && l->ops->close)
        l->ops->close(l);
}
