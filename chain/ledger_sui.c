/* ledger_sui.c — the `sui:` ledger backend: every cx_ledger call as a cloakx_market transaction
 * (sui_market.c, signed by the caller's key) or a GraphQL read of the package's objects/events. */
#include "cx_chain.h"
#include "ledger_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SUI_DEFAULT_GAS_BUDGET = 50000000, /* MIST: 0.05 SUI, above any call of the package */
    SUI_EVENTS_PAGE = 50,              /* the GraphQL page size (QUERY_MAX_RESULT_LIMIT) */
    SUI_COINS_MAX_PAGES = 20,          /* gas selection reads at most this many pages */
    SUI_STATE_OPEN = 0,                /* market.move's job states */
    SUI_STATE_PAID = 1,
    SUI_STATE_REFUNDED = 2,
    SUI_STATE_ACCEPTED = 3,
};

typedef struct sui_ledger {
    cx_sui_gql *gql;
    cx_sui_market m;
    char *coin_type; /* owned copy behind m.coin_type, NULL = SUI */
    uint64_t gas_budget;
    cx_chain_addr protocol_addr;
    char pkg_hex[CX_CHAIN_ID_HEX_LEN + 1];
} sui_ledger;

/* --------------------------------------------------------------- aborts -- */

/* market.move's abort codes, as the local ledger words the same refusals. */
static const struct {
    uint64_t code;
    const char *text;
} ABORTS[] = {
    {1, "theme must be 1..200 bytes"},
    {2, "min contributors k must be >= 1"},
    {3, "max rows per contributor must be >= 1"},
    {4, "fees exceed 10000 bps"},
    {5, "1..16 accepted measurements required"},
    {6, "a measurement must be 1..64 bytes"},
    {7, "blob id must be 1..64 bytes"},
    {8, "spec hash must be 32 bytes"},
    {9, "spec blob id must be 0..64 bytes"},
    {10, "payment must be > 0"},
    {11, "payment is below the pool's price"},
    {12, "deadline is not in the future"},
    {13, "an enclave key must be 32 bytes"},
    {14, "the attestation document's blob id must be 1..64 bytes"},
    {15, "the attestation document carries no public key"},
    {16, "the attestation document carries no PCR0"},
    {17, "the attestation document's SHA-256 must be 32 bytes"},
    {18, "at most 32 forbidden columns"},
    {19, "a forbidden column must be 1..128 bytes, printable, listed once"},
    {20, "this enclave key is already registered"},
    {21, "this contributor already registered this blob in the pool"},
    {22, "the enclave is already one of the pool's"},
    {23, "job is not open"},
    {24, "job is not accepted"},
    {25, "the job's deadline has passed"},
    {26, "the job's deadline and its grace period have passed"},
    {27, "the job has not expired (deadline, or deadline + grace once accepted)"},
    {28, "no enclave has accepted the job (a result needs an accepted job)"},
    {30, "only the pool's operator adds enclaves to it"},
    {31, "enclave measurement is not accepted by the pool"},
    {32, "the enclave is not one of the pool's (its operator did not add it)"},
    {33, "the pool given is not the job's"},
    {35, "signed for another job or pool (replay)"},
    {36, "its measurement differs from the enclave's"},
    {37, "its timestamp is outside the job's lifetime"},
    {38, "the acceptance is for another spec than the job's"},
    {39, "a listed contributor has no contribution in the pool"},
    {40, "from another enclave than the one that accepted the job"},
    {41, "the message is signed for another purpose (intent)"},
    {42, "the key release is for another model than the statement's"},
    {43, "the X25519 key is not endorsed by the attested Ed25519 key"},
    {44, "a contribution of the job is neither accepted nor rejected"},
    {45, "a rejected entry is not a contribution of the job"},
    {50, "not signed by the enclave's registered key"},
    {100, "the signed bytes do not decode (RULES.md §4 / §6)"},
    {200, "fees exceed 10000 bps"},
};

static const char *abort_text(uint64_t code)
{
    for (size_t i = 0; i < sizeof ABORTS / sizeof ABORTS[0]; i++)
        if (ABORTS[i].code == code)
            return ABORTS[i].text;
    return "refused by the contract";
}

/* ------------------------------------------------------------- helpers -- */

static cx_err nomem(cx_error *e)
{
    return cx_error_set(e, CX_ERR_NOMEM, "sui ledger: out of memory");
}

/* The object `id` of the package's `market::<name>` type (generic or not). */
static cx_err get_typed(sui_ledger *L, const cx_chain_id *id, const char *name, cx_sui_object *o,
                        cx_error *e)
{
    char hex[CX_CHAIN_ID_HEX_LEN + 1], want[CX_CHAIN_ID_HEX_LEN + 64];
    cx_chain_id_to_hex(id, hex);
    cx_err rc = cx_sui_gql_object(L->gql, id, o, e);
    if (rc == CX_ERR_NOTFOUND)
        return cx_error_set(e, CX_ERR_NOTFOUND, "ledger: no %s %s", name, hex);
    if (rc != CX_OK)
        return rc;
    int n = snprintf(want, sizeof want, "%s::market::%s", L->pkg_hex, name);
    size_t wl = (size_t)n;
    if (!o->bcs || strncmp(o->type, want, wl) != 0 || (o->type[wl] && o->type[wl] != '<')) {
        rc = cx_error_set(e, CX_ERR_NOTFOUND, "ledger: no %s %s (object of type %s)", name, hex,
                          o->type);
        cx_sui_object_free(o);
        return rc;
    }
    return CX_OK;
}

static cx_err shared_ref(sui_ledger *L, const cx_chain_id *id, const char *name,
                         cx_sui_shared_ref *out, cx_error *e)
{
    cx_sui_object o;
    cx_err rc = get_typed(L, id, name, &o, e);
    if (rc != CX_OK)
        return rc;
    if (o.owner_kind != CX_SUI_OWNER_SHARED)
        rc = cx_error_set(e, CX_ERR_FORMAT, "sui ledger: the %s is not a shared object", name);
    out->id = *id;
    out->initial_shared_version = o.initial_shared_version;
    cx_sui_object_free(&o);
    return rc;
}

static cx_err immutable_ref(sui_ledger *L, const cx_chain_id *id, const char *name,
                            cx_sui_object_ref *out, cx_error *e)
{
    cx_sui_object o;
    cx_err rc = get_typed(L, id, name, &o, e);
    if (rc != CX_OK)
        return rc;
    *out = o.ref;
    cx_sui_object_free(&o);
    return CX_OK;
}

/* vector<u8> into a fixed buffer of at most cap bytes */
static cx_err get_vec(cx_bcs_reader *r, uint8_t *out, size_t cap, size_t *len, cx_error *e)
{
    const uint8_t *p;
    size_t n;
    cx_err rc = cx_bcs_get_bytes(r, cap, &p, &n, e);
    if (rc != CX_OK)
        return rc;
    memcpy(out, p, n);
    if (len)
        *len = n;
    else if (n != cap)
        return cx_error_set(e, CX_ERR_FORMAT, "sui ledger: a field of %zu bytes, not %zu", n, cap);
    return CX_OK;
}

/* a Table / VecSet header we skip: UID (32) and size (u64) */
static cx_err skip_table(cx_bcs_reader *r, cx_error *e)
{
    uint8_t id[CX_CHAIN_ID_LEN];
    uint64_t size;
    cx_err rc = cx_bcs_get_fixed(r, id, sizeof id, e);
    return rc == CX_OK ? cx_bcs_get_u64(r, &size, e) : rc;
}

/* ------------------------------------------------------- object layouts -- */

/* market.move's PoolPolicy (RULES.md §1 Pool policy) */
static cx_err decode_policy(cx_bcs_reader *r, cx_ledger_pool_policy *pol, cx_error *e)
{
    size_t n = 0;
    cx_err rc = cx_bcs_get_bool(r, &pol->require_dp, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(r, &pol->max_epsilon_micro, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_seq_len(r, CX_CHAIN_FORBIDDEN_MAX, 1, &n, e);
    for (size_t i = 0; rc == CX_OK && i < n; i++) {
        size_t len = 0;
        rc = get_vec(r, (uint8_t *)pol->forbidden_columns[i], CX_CHAIN_COLUMN_NAME_MAX, &len, e);
        if (rc == CX_OK)
            pol->forbidden_columns[i][len] = 0;
    }
    pol->n_forbidden = rc == CX_OK ? n : 0;
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(r, &pol->max_params, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(r, &pol->max_epochs, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(r, &pol->max_flops, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u8(r, &pol->sealing, e);
    return rc;
}

/* Pool<T> (market.move): also returns the enclaves VecSet in insertion order (malloc'ed). */
static cx_err decode_pool(const cx_sui_object *o, cx_ledger_pool *p, cx_chain_id **enclaves,
                          size_t *n_enclaves, cx_error *e)
{
    memset(p, 0, sizeof *p);
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, o->bcs, o->bcs_len);
    const char *theme;
    size_t theme_len = 0, n_meas = 0, n_enc = 0;
    uint64_t k = 0, op_bps = 0, prot_bps = 0;
    cx_chain_id *enc = NULL;
    cx_err rc = cx_bcs_get_fixed(&r, p->id.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK &&
        (rc = cx_bcs_get_str(&r, CX_CHAIN_THEME_MAX, &theme, &theme_len, e)) == CX_OK)
        memcpy(p->theme, theme, theme_len);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &p->price, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &k, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &p->max_rows_per_contributor, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &op_bps, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &prot_bps, e);
    if (rc == CX_OK &&
        (k > UINT32_MAX || op_bps > CX_CHAIN_BPS_DENOM || prot_bps > CX_CHAIN_BPS_DENOM))
        rc = cx_error_set(e, CX_ERR_FORMAT, "sui ledger: pool fields out of range");
    p->min_contributors = (uint32_t)k;
    p->operator_fee_bps = (uint32_t)op_bps;
    p->protocol_fee_bps = (uint32_t)prot_bps;
    if (rc == CX_OK)
        rc = cx_bcs_get_seq_len(&r, CX_CHAIN_MAX_MEASUREMENTS, 1, &n_meas, e);
    for (size_t i = 0; rc == CX_OK && i < n_meas; i++)
        rc = get_vec(&r, p->measurements[i], CX_CHAIN_MEASUREMENT_MAX, &p->measurement_lens[i], e);
    p->n_measurements = rc == CX_OK ? n_meas : 0;
    if (rc == CX_OK)
        rc = cx_bcs_get_fixed(&r, p->operator_addr.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_fixed(&r, p->created_by.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &p->created_ms, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_seq_len(&r, 1u << 20, CX_CHAIN_ID_LEN, &n_enc, e);
    if (rc == CX_OK && n_enc && !(enc = calloc(n_enc, sizeof *enc)))
        rc = nomem(e);
    for (size_t i = 0; rc == CX_OK && i < n_enc; i++)
        rc = cx_bcs_get_fixed(&r, enc[i].b, CX_CHAIN_ID_LEN, e);
    /* enclave_addrs: the enclaves' Sui addresses (the Seal dataset policy's), one per enclave */
    size_t n_addrs = 0;
    if (rc == CX_OK)
        rc = cx_bcs_get_seq_len(&r, 1u << 20, CX_CHAIN_ID_LEN, &n_addrs, e);
    for (size_t i = 0; rc == CX_OK && i < n_addrs; i++) {
        uint8_t skip[CX_CHAIN_ID_LEN];
        rc = cx_bcs_get_fixed(&r, skip, CX_CHAIN_ID_LEN, e);
    }
    if (rc == CX_OK)
        rc = skip_table(&r, e); /* claims */
    if (rc == CX_OK)
        rc = skip_table(&r, e); /* contributors */
    if (rc == CX_OK)
        rc = skip_table(&r, e); /* entries: the contributions in registration order */
    if (rc == CX_OK)
        rc = skip_table(&r, e); /* claim_index */
    uint64_t n_entries;
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &n_entries, e);
    if (rc == CX_OK)
        rc = decode_policy(&r, &p->policy, e);
    if (rc == CX_OK)
        rc = cx_bcs_reader_end(&r, e);
    if (rc != CX_OK) {
        free(enc);
        return cx_error_wrap(rc, e, "sui ledger: pool object: ");
    }
    if (enclaves) {
        *enclaves = enc;
        *n_enclaves = n_enc;
    } else {
        free(enc);
    }
    return CX_OK;
}

static cx_err decode_enclave(const cx_sui_object *o, cx_ledger_enclave *en, cx_error *e)
{
    memset(en, 0, sizeof *en);
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, o->bcs, o->bcs_len);
    cx_err rc = cx_bcs_get_fixed(&r, en->id.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = get_vec(&r, en->ed25519_pk, CX_CHAIN_ED25519_PK_LEN, NULL, e);
    if (rc == CX_OK)
        rc = get_vec(&r, en->x25519_pk, CX_CHAIN_X25519_PK_LEN, NULL, e);
    if (rc == CX_OK)
        rc = get_vec(&r, en->measurement, CX_CHAIN_MEASUREMENT_MAX, &en->measurement_len, e);
    if (rc == CX_OK)
        rc = get_vec(&r, en->attestation_hash, 32, NULL, e);
    if (rc == CX_OK)
        rc = get_vec(&r, en->attestation_blob_id, CX_CHAIN_BLOB_ID_MAX,
                     &en->attestation_blob_id_len, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_fixed(&r, en->registered_by.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &en->registered_ms, e);
    if (rc == CX_OK)
        rc = cx_bcs_reader_end(&r, e);
    return rc == CX_OK ? CX_OK : cx_error_wrap(rc, e, "sui ledger: enclave object: ");
}

static cx_err decode_contribution(const cx_sui_object *o, cx_ledger_contribution *c, cx_error *e)
{
    memset(c, 0, sizeof *c);
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, o->bcs, o->bcs_len);
    cx_err rc = cx_bcs_get_fixed(&r, c->id.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_fixed(&r, c->pool_id.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = get_vec(&r, c->blob_id, CX_CHAIN_BLOB_ID_MAX, &c->blob_id_len, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_fixed(&r, c->contributor.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &c->created_ms, e);
    if (rc == CX_OK)
        rc = cx_bcs_reader_end(&r, e);
    return rc == CX_OK ? CX_OK : cx_error_wrap(rc, e, "sui ledger: contribution object: ");
}

/* Option<Signed{message, signature}>: skipped (the ledger interface does not return them) */
static cx_err skip_signed(cx_bcs_reader *r, cx_error *e)
{
    int some;
    const uint8_t *p;
    size_t n;
    cx_err rc = cx_bcs_get_option(r, &some, e);
    if (rc == CX_OK && some && (rc = cx_bcs_get_bytes(r, 1u << 20, &p, &n, e)) == CX_OK)
        rc = cx_bcs_get_bytes(r, CX_CHAIN_ED25519_SIG_LEN, &p, &n, e);
    return rc;
}

/* Job<T>; the result (when res is given and the job has one) into *res, *has_result. */
static cx_err decode_job(const cx_sui_object *o, cx_ledger_job *j, cx_ledger_result *res,
                         int *has_result, cx_error *e)
{
    memset(j, 0, sizeof *j);
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, o->bcs, o->bcs_len);
    uint64_t escrow = 0;
    uint8_t state = 0;
    int some = 0;
    cx_err rc = cx_bcs_get_fixed(&r, j->id.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_fixed(&r, j->pool_id.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_fixed(&r, j->buyer.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = get_vec(&r, j->spec_hash, 32, NULL, e);
    if (rc == CX_OK)
        rc = get_vec(&r, j->spec_blob_id, CX_CHAIN_BLOB_ID_MAX, &j->spec_blob_id_len, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &j->payment, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &escrow, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &j->deadline_ms, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &j->created_ms, e);
    uint64_t n_contributions; /* the job's contributions: the pool's first n (RULES.md §2) */
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &n_contributions, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u8(&r, &state, e);
    if (rc == CX_OK) {
        switch (state) {
        case SUI_STATE_OPEN:
            j->state = CX_LEDGER_JOB_OPEN;
            break;
        case SUI_STATE_PAID:
            j->state = CX_LEDGER_JOB_PAID;
            break;
        case SUI_STATE_REFUNDED:
            j->state = CX_LEDGER_JOB_REFUNDED;
            break;
        case SUI_STATE_ACCEPTED:
            j->state = CX_LEDGER_JOB_ACCEPTED;
            break;
        default:
            rc = cx_error_set(e, CX_ERR_FORMAT, "job state %u unknown", state);
        }
    }
    if (rc == CX_OK && (rc = cx_bcs_get_option(&r, &some, e)) == CX_OK && some)
        rc = cx_bcs_get_fixed(&r, j->enclave_id.b, CX_CHAIN_ID_LEN, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u64(&r, &j->accepted_ms, e);
    if (rc == CX_OK)
        rc = cx_bcs_get_u8(&r, &j->fail_reason, e);
    for (int i = 0; rc == CX_OK && i < 3; i++) /* acceptance, failure, key release */
        rc = skip_signed(&r, e);
    some = 0;
    if (rc == CX_OK)
        rc = cx_bcs_get_option(&r, &some, e);
    if (rc == CX_OK && some) {
        cx_ledger_result tmp;
        cx_ledger_result *out = res ? res : &tmp;
        const uint8_t *p;
        size_t n;
        int refunded;
        memset(out, 0, sizeof *out);
        out->job_id = j->id;
        rc = cx_bcs_get_fixed(&r, out->enclave_id.b, CX_CHAIN_ID_LEN, e);
        if (rc == CX_OK && (rc = cx_bcs_get_bytes(&r, 1u << 20, &p, &n, e)) == CX_OK) {
            out->statement = malloc(n ? n : 1);
            if (!out->statement)
                rc = nomem(e);
            else
                memcpy(out->statement, p, n);
            out->statement_len = n;
        }
        if (rc == CX_OK)
            rc = get_vec(&r, out->signature, CX_CHAIN_ED25519_SIG_LEN, NULL, e);
        if (rc == CX_OK)
            rc = cx_bcs_get_u64(&r, &out->accepted_contributors, e);
        if (rc == CX_OK && (rc = cx_bcs_get_bool(&r, &refunded, e)) == CX_OK)
            out->refunded = refunded;
        if (rc == CX_OK)
            rc = cx_bcs_get_u64(&r, &out->submitted_ms, e);
        if (rc == CX_OK)
            rc = get_vec(&r, out->model_key, CX_CHAIN_WRAPPED_KEY_MAX, &out->model_key_len, e);
        if (rc != CX_OK || !res)
            cx_ledger_result_free(out);
    }
    if (has_result)
        *has_result = some;
    if (rc == CX_OK)
        rc = cx_bcs_reader_end(&r, e);
    if (rc != CX_OK && res)
        cx_ledger_result_free(res);
    return rc == CX_OK ? CX_OK : cx_error_wrap(rc, e, "sui ledger: job object: ");
}

/* --------------------------------------------------------- transactions -- */

typedef struct coin_sel {
    cx_sui_coin *all;
    size_t n;
} coin_sel;

static int coin_desc(const void *a, const void *b)
{
    const cx_sui_coin *x = a, *y = b;
    return x->balance < y->balance ? 1 : x->balance > y->balance ? -1 : 0;
}

/* Gas: the sender's coins, the largest first, until they hold the budget plus what the
 * transaction splits off the gas coin (a job's payment). Sui merges them into the first. */
static cx_err select_gas(sui_ledger *L, cx_sui_tx *tx, uint64_t extra, cx_error *e)
{
    coin_sel s = {0};
    char cursor[CX_CHAIN_CURSOR_MAX] = "";
    int has_next = 1;
    cx_err rc = CX_OK;
    for (int page = 0; rc == CX_OK && has_next && page < SUI_COINS_MAX_PAGES; page++) {
        cx_sui_coin *c = NULL;
        size_t n = 0;
        char next[CX_CHAIN_CURSOR_MAX];
        rc = cx_sui_gql_coins(L->gql, &tx->sender, L->m.coin_type, cursor, &c, &n, next, &has_next,
                              e);
        if (rc != CX_OK)
            break;
        cx_sui_coin *grown = n ? realloc(s.all, (s.n + n) * sizeof *grown) : s.all;
        if (n && !grown) {
            free(c);
            rc = nomem(e);
            break;
        }
        s.all = grown;
        if (n)
            memcpy(s.all + s.n, c, n * sizeof *c);
        s.n += n;
        free(c);
        memcpy(cursor, next, sizeof cursor);
    }
    if (rc != CX_OK) {
        free(s.all);
        return rc;
    }
    qsort(s.all, s.n, sizeof *s.all, coin_desc);
    unsigned __int128 need = (unsigned __int128)L->gas_budget + extra, have = 0;
    size_t k = 0;
    while (k < s.n && k < CX_SUI_GAS_OBJECTS_MAX && have < need)
        have += s.all[k++].balance;
    if (have < need) {
        char a[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(&tx->sender, a);
        free(s.all);
        return cx_error_set(e, CX_ERR_STATE,
                            "sui ledger: %s holds too little to pay (%" PRIu64
                            " needed: gas budget %" PRIu64 " + %" PRIu64 ")",
                            a, (uint64_t)need, L->gas_budget, extra);
    }
    tx->gas_payment = calloc(k, sizeof *tx->gas_payment);
    if (!tx->gas_payment) {
        free(s.all);
        return nomem(e);
    }
    for (size_t i = 0; i < k; i++)
        tx->gas_payment[i] = s.all[i].ref;
    tx->n_gas_payment = k;
    free(s.all);
    return CX_OK;
}

/* Sign and execute tx (inputs and commands built) as signer; a Move abort is the rule that
 * refused it, as a cx_err of its class. fx is filled on success (free with
 * cx_sui_effects_free). */
static cx_err run_tx(sui_ledger *L, const cx_chain_key *signer, cx_sui_tx *tx, uint64_t extra,
                     const char *what, cx_sui_effects *fx, cx_error *e)
{
    memset(fx, 0, sizeof *fx);
    tx->sender = *cx_chain_key_address(signer);
    tx->gas_owner = tx->sender;
    tx->gas_budget = L->gas_budget;
    uint8_t *bytes = NULL, sig[CX_SUI_SIGNATURE_LEN];
    size_t len = 0;
    cx_err rc = cx_sui_gql_reference_gas_price(L->gql, &tx->gas_price, e);
    if (rc == CX_OK)
        rc = select_gas(L, tx, extra, e);
    if (rc == CX_OK)
        rc = cx_sui_tx_encode(tx, &bytes, &len, e);
    if (rc == CX_OK)
        rc = cx_sui_tx_sign(signer, bytes, len, sig, e);
    if (rc == CX_OK)
        rc = cx_sui_gql_execute(L->gql, bytes, len, sig, fx, e);
    free(bytes);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "%s: ", what);
    if (!fx->success) {
        uint64_t code = fx->abort_code;
        int has = fx->has_abort_code;
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fx->error);
        cx_sui_effects_free(fx);
        if (has)
            return cx_error_set(e, cx_sui_market_abort_class(code),
                                "%s: %s (the contract aborted with code %" PRIu64 ")", what,
                                abort_text(code), code);
        return cx_error_set(e, CX_ERR_STATE, "%s: the transaction failed: %s", what, msg);
    }
    return CX_OK;
}

/* The object id of the first event of `kind` the transaction emitted. */
static cx_err created_by_event(sui_ledger *L, const cx_sui_effects *fx, cx_ledger_event_kind kind,
                               cx_chain_id *out, cx_error *e)
{
    for (size_t i = 0; i < fx->n_events; i++) {
        cx_ledger_event ev;
        if (cx_sui_market_event_decode(&L->m, &fx->events[i], &ev, NULL) == CX_OK &&
            ev.kind == kind) {
            *out = ev.object_id;
            return CX_OK;
        }
    }
    return cx_error_set(e, CX_ERR_FORMAT, "sui ledger: transaction %s emitted no %s event",
                        fx->digest, cx_ledger_event_kind_name(kind));
}

/* ----------------------------------------------------------------- calls -- */

static cx_err sui_pool_create(cx_ledger *l, const cx_chain_key *signer,
                              const cx_ledger_pool_params *p, cx_chain_id *out, cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_sui_tx tx;
    cx_sui_effects fx;
    cx_sui_tx_init(&tx);
    cx_err rc = cx_sui_market_create_pool(&tx, &L->m, p, e);
    if (rc == CX_OK && (rc = run_tx(L, signer, &tx, 0, "pool create", &fx, e)) == CX_OK) {
        rc = created_by_event(L, &fx, CX_LEDGER_EV_POOL_CREATED, out, e);
        cx_sui_effects_free(&fx);
    }
    cx_sui_tx_free(&tx);
    return rc;
}

static cx_err sui_pool_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_pool *out, cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_sui_object o;
    cx_err rc = get_typed(L, id, "Pool", &o, e);
    if (rc != CX_OK)
        return rc;
    rc = decode_pool(&o, out, NULL, NULL, e);
    out->shared_version = o.owner_kind == CX_SUI_OWNER_SHARED ? o.initial_shared_version : 0;
    cx_sui_object_free(&o);
    return rc;
}

static cx_err sui_enclave_register(cx_ledger *l, const cx_chain_key *signer,
                                   const cx_ledger_enclave *en, const cx_ledger_attestation *att,
                                   cx_chain_id *out, cx_error *e)
{
    sui_ledger *L = l->impl;
    if (!att || !att->doc || !att->doc_len || !att->x25519_endorsement)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "enclave register: the Sui contract registers an enclave only from "
                            "its Nitro attestation document, verified on chain "
                            "(0x2::nitro_attestation), with its X25519 key's endorsement; none "
                            "was given");
    cx_sui_tx tx;
    cx_sui_effects fx;
    cx_sui_tx_init(&tx);
    cx_err rc = cx_sui_market_register_enclave(
        &tx, &L->m, att->doc, att->doc_len, en->x25519_pk, att->x25519_endorsement,
        en->attestation_hash, en->attestation_blob_id, en->attestation_blob_id_len, e);
    if (rc == CX_OK && (rc = run_tx(L, signer, &tx, 0, "enclave register", &fx, e)) == CX_OK) {
        rc = created_by_event(L, &fx, CX_LEDGER_EV_ENCLAVE_REGISTERED, out, e);
        cx_sui_effects_free(&fx);
    }
    cx_sui_tx_free(&tx);
    return rc;
}

static cx_err sui_enclave_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_enclave *out,
                              cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_sui_object o;
    cx_err rc = get_typed(L, id, "Enclave", &o, e);
    if (rc != CX_OK)
        return rc;
    rc = decode_enclave(&o, out, e);
    cx_sui_object_free(&o);
    return rc;
}

static cx_err sui_pool_enclave_add(cx_ledger *l, const cx_chain_key *signer,
                                   const cx_chain_id *pool, const cx_chain_id *enclave, cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_sui_shared_ref p;
    cx_sui_object_ref en;
    cx_err rc = shared_ref(L, pool, "Pool", &p, e);
    if (rc == CX_OK)
        rc = immutable_ref(L, enclave, "Enclave", &en, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "pool add enclave: ");
    cx_sui_tx tx;
    cx_sui_effects fx;
    cx_sui_tx_init(&tx);
    rc = cx_sui_market_add_pool_enclave(&tx, &L->m, &p, &en, e);
    if (rc == CX_OK && (rc = run_tx(L, signer, &tx, 0, "pool add enclave", &fx, e)) == CX_OK)
        cx_sui_effects_free(&fx);
    cx_sui_tx_free(&tx);
    return rc;
}

static int pool_accepts(const cx_ledger_pool *p, const cx_ledger_enclave *en)
{
    for (size_t i = 0; i < p->n_measurements; i++)
        if (p->measurement_lens[i] == en->measurement_len &&
            memcmp(p->measurements[i], en->measurement, en->measurement_len) == 0)
            return 1;
    return 0;
}

static cx_err sui_enclaves_for_pool(cx_ledger *l, const cx_chain_id *pool, cx_ledger_enclave **out,
                                    size_t *n, cx_error *e)
{
    sui_ledger *L = l->impl;
    *out = NULL;
    *n = 0;
    cx_sui_object o;
    cx_ledger_pool p;
    cx_chain_id *ids = NULL;
    size_t n_ids = 0;
    cx_err rc = get_typed(L, pool, "Pool", &o, e);
    if (rc != CX_OK)
        return rc;
    rc = decode_pool(&o, &p, &ids, &n_ids, e);
    cx_sui_object_free(&o);
    if (rc != CX_OK)
        return rc;
    cx_ledger_enclave *list = n_ids ? calloc(n_ids, sizeof *list) : NULL;
    if (n_ids && !list)
        rc = nomem(e);
    size_t k = 0;
    /* the VecSet keeps insertion order: the most recently added is last */
    for (size_t i = n_ids; rc == CX_OK && i-- > 0;) {
        if ((rc = sui_enclave_get(l, &ids[i], &list[k], e)) != CX_OK)
            break;
        if (pool_accepts(&p, &list[k]))
            k++;
    }
    free(ids);
    if (rc != CX_OK || !k) {
        free(list);
        return rc;
    }
    *out = list;
    *n = k;
    return CX_OK;
}

static cx_err sui_contribution_register(cx_ledger *l, const cx_chain_key *signer,
                                        const cx_chain_id *pool, const uint8_t *blob_id,
                                        size_t blob_id_len, cx_chain_id *out, cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_sui_shared_ref p;
    cx_err rc = shared_ref(L, pool, "Pool", &p, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "contribute: ");
    cx_sui_tx tx;
    cx_sui_effects fx;
    cx_sui_tx_init(&tx);
    rc = cx_sui_market_register_contribution(&tx, &L->m, &p, blob_id, blob_id_len, e);
    if (rc == CX_OK && (rc = run_tx(L, signer, &tx, 0, "contribute", &fx, e)) == CX_OK) {
        rc = created_by_event(L, &fx, CX_LEDGER_EV_CONTRIBUTION_REGISTERED, out, e);
        cx_sui_effects_free(&fx);
    }
    cx_sui_tx_free(&tx);
    return rc;
}

/* Every event of the package in order, page by page, to fn (stops on its error). */
static cx_err each_event(sui_ledger *L, const char *type,
                         cx_err (*fn)(void *ud, const cx_ledger_event *ev, cx_error *e), void *ud,
                         cx_error *e)
{
    char cursor[CX_CHAIN_CURSOR_MAX] = "";
    int has_next = 1;
    cx_err rc = CX_OK;
    while (rc == CX_OK && has_next) {
        cx_sui_event *evs = NULL;
        size_t n = 0;
        char next[CX_CHAIN_CURSOR_MAX];
        rc = cx_sui_gql_events(L->gql, type, cursor, &evs, &n, next, &has_next, e);
        for (size_t i = 0; rc == CX_OK && i < n; i++) {
            cx_ledger_event ev;
            if (cx_sui_market_event_decode(&L->m, &evs[i], &ev, NULL) == CX_OK)
                rc = fn(ud, &ev, e);
        }
        cx_sui_events_free(evs, n);
        if (rc == CX_OK && !strcmp(next, cursor))
            break; /* an empty page: nothing more */
        memcpy(cursor, next, sizeof cursor);
    }
    return rc;
}

typedef struct contrib_scan {
    sui_ledger *L;
    cx_chain_id pool;
    cx_ledger_contribution *list;
    size_t n, cap;
} contrib_scan;

static cx_err contrib_found(void *ud, const cx_ledger_event *ev, cx_error *e)
{
    contrib_scan *s = ud;
    if (ev->kind != CX_LEDGER_EV_CONTRIBUTION_REGISTERED ||
        !cx_chain_id_equal(&ev->pool_id, &s->pool))
        return CX_OK;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        cx_ledger_contribution *g = realloc(s->list, cap * sizeof *g);
        if (!g)
            return nomem(e);
        s->list = g;
        s->cap = cap;
    }
    cx_sui_object o;
    cx_err rc = get_typed(s->L, &ev->object_id, "Contribution", &o, e);
    if (rc != CX_OK)
        return rc;
    rc = decode_contribution(&o, &s->list[s->n], e);
    cx_sui_object_free(&o);
    if (rc == CX_OK)
        s->n++;
    return rc;
}

/* Contributions are frozen objects named only by their ContributionRegistered events (the
 * pool keeps a table of claims, not a list): the events of the package, in order. */
static cx_err sui_contributions_list(cx_ledger *l, const cx_chain_id *pool,
                                     cx_ledger_contribution **out, size_t *n, cx_error *e)
{
    sui_ledger *L = l->impl;
    *out = NULL;
    *n = 0;
    char type[CX_CHAIN_ID_HEX_LEN + 64];
    snprintf(type, sizeof type, "%s::market::ContributionRegistered", L->pkg_hex);
    cx_ledger_pool p;
    cx_err rc = sui_pool_get(l, pool, &p, e); /* a pool that does not exist is NOTFOUND */
    contrib_scan s = {.L = L, .pool = *pool};
    if (rc == CX_OK)
        rc = each_event(L, type, contrib_found, &s, e);
    if (rc != CX_OK) {
        free(s.list);
        return rc;
    }
    *out = s.list;
    *n = s.n;
    return CX_OK;
}

static cx_err sui_job_create(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *pool,
                             const uint8_t spec_hash[32], const uint8_t *spec_blob_id,
                             size_t spec_blob_id_len, uint64_t payment, uint64_t deadline_ms,
                             cx_chain_id *out, cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_sui_shared_ref p;
    cx_err rc = shared_ref(L, pool, "Pool", &p, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "job create: ");
    cx_sui_tx tx;
    cx_sui_effects fx;
    cx_sui_tx_init(&tx);
    rc = cx_sui_market_create_job(&tx, &L->m, &p, spec_hash, spec_blob_id, spec_blob_id_len,
                                  payment, deadline_ms, e);
    if (rc == CX_OK && (rc = run_tx(L, signer, &tx, payment, "job create", &fx, e)) == CX_OK) {
        rc = created_by_event(L, &fx, CX_LEDGER_EV_JOB_CREATED, out, e);
        cx_sui_effects_free(&fx);
    }
    cx_sui_tx_free(&tx);
    return rc;
}

static cx_err sui_job_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_job *out, cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_sui_object o;
    cx_err rc = get_typed(L, id, "Job", &o, e);
    if (rc != CX_OK)
        return rc;
    rc = decode_job(&o, out, NULL, NULL, e);
    out->shared_version = o.owner_kind == CX_SUI_OWNER_SHARED ? o.initial_shared_version : 0;
    cx_sui_object_free(&o);
    return rc;
}

static cx_err sui_job_accept(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                             const cx_chain_id *enclave, const cx_ledger_signed *acceptance,
                             cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_ledger_job j;
    cx_sui_shared_ref jr, pr;
    cx_sui_object_ref er;
    cx_err rc = sui_job_get(l, job, &j, e);
    if (rc == CX_OK)
        rc = shared_ref(L, job, "Job", &jr, e);
    if (rc == CX_OK)
        rc = shared_ref(L, &j.pool_id, "Pool", &pr, e);
    if (rc == CX_OK)
        rc = immutable_ref(L, enclave, "Enclave", &er, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "accept: ");
    cx_sui_tx tx;
    cx_sui_effects fx;
    cx_sui_tx_init(&tx);
    rc = cx_sui_market_accept_job(&tx, &L->m, &jr, &pr, &er, acceptance->msg, acceptance->len,
                                  acceptance->sig, e);
    if (rc == CX_OK && (rc = run_tx(L, signer, &tx, 0, "accept", &fx, e)) == CX_OK)
        cx_sui_effects_free(&fx);
    cx_sui_tx_free(&tx);
    return rc;
}

static cx_err sui_job_fail(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                           const cx_ledger_signed *failure, cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_ledger_job j;
    cx_sui_shared_ref jr;
    cx_sui_object_ref er;
    cx_err rc = sui_job_get(l, job, &j, e);
    if (rc == CX_OK && j.state != CX_LEDGER_JOB_ACCEPTED)
        rc = cx_error_set(e, CX_ERR_STATE, "fail: job is %s, not accepted",
                          cx_ledger_job_state_name(j.state));
    if (rc == CX_OK)
        rc = shared_ref(L, job, "Job", &jr, e);
    if (rc == CX_OK)
        rc = immutable_ref(L, &j.enclave_id, "Enclave", &er, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "fail: ");
    cx_sui_tx tx;
    cx_sui_effects fx;
    cx_sui_tx_init(&tx);
    rc = cx_sui_market_fail_job(&tx, &L->m, &jr, &er, failure->msg, failure->len, failure->sig, e);
    if (rc == CX_OK && (rc = run_tx(L, signer, &tx, 0, "fail", &fx, e)) == CX_OK)
        cx_sui_effects_free(&fx);
    cx_sui_tx_free(&tx);
    return rc;
}

static cx_err sui_result_submit(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                                const cx_chain_id *enclave, const cx_ledger_signed *statement,
                                const cx_ledger_signed *key_release, cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_ledger_job j;
    cx_sui_shared_ref jr, pr;
    cx_sui_object_ref er;
    cx_err rc = sui_job_get(l, job, &j, e);
    if (rc == CX_OK)
        rc = shared_ref(L, job, "Job", &jr, e);
    if (rc == CX_OK)
        rc = shared_ref(L, &j.pool_id, "Pool", &pr, e);
    if (rc == CX_OK)
        rc = immutable_ref(L, enclave, "Enclave", &er, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "result: ");
    cx_sui_tx tx;
    cx_sui_effects fx;
    cx_sui_tx_init(&tx);
    rc = cx_sui_market_submit_result(&tx, &L->m, &jr, &pr, &er, statement->msg, statement->len,
                                     statement->sig, key_release->msg, key_release->len,
                                     key_release->sig, e);
    if (rc == CX_OK && (rc = run_tx(L, signer, &tx, 0, "result", &fx, e)) == CX_OK)
        cx_sui_effects_free(&fx);
    cx_sui_tx_free(&tx);
    return rc;
}

/* The payouts are not objects of the contract (they are coins sent to the payees, with a
 * PaymentReleased event each): they are computed again from the recorded statement and the
 * pool, with the rule the contract paid them by (RULES.md §3), which gives them exactly. */
static cx_err sui_result_get(cx_ledger *l, const cx_chain_id *job, cx_ledger_result *out,
                             cx_error *e)
{
    sui_ledger *L = l->impl;
    memset(out, 0, sizeof *out);
    cx_sui_object o;
    cx_ledger_job j;
    int has = 0;
    cx_err rc = get_typed(L, job, "Job", &o, e);
    if (rc != CX_OK)
        return rc;
    rc = decode_job(&o, &j, out, &has, e);
    cx_sui_object_free(&o);
    if (rc != CX_OK)
        return rc;
    if (!has)
        return cx_error_set(e, CX_ERR_NOTFOUND, "ledger: no result for this job");
    if (out->refunded)
        return CX_OK;
    cx_ledger_pool p;
    cx_statement s;
    cx_chain_rows *rows = NULL;
    if ((rc = sui_pool_get(l, &j.pool_id, &p, e)) != CX_OK) {
        cx_ledger_result_free(out);
        return rc;
    }
    if ((rc = cx_statement_decode(out->statement, out->statement_len, &s, NULL, e)) != CX_OK) {
        cx_ledger_result_free(out);
        return cx_error_wrap(rc, e, "sui ledger: the recorded statement: ");
    }
    if (s.n_rows && !(rows = calloc(s.n_rows, sizeof *rows)))
        rc = nomem(e);
    for (size_t i = 0; rc == CX_OK && i < s.n_rows; i++) {
        memcpy(rows[i].contributor.b, s.rows[i].contributor, CX_CHAIN_ID_LEN);
        rows[i].rows = s.rows[i].rows;
    }
    if (rc == CX_OK)
        rc = cx_chain_split_compute(j.payment, p.protocol_fee_bps, p.operator_fee_bps,
                                    p.max_rows_per_contributor, rows, s.n_rows, &out->split, e);
    free(rows);
    cx_statement_free(&s);
    if (rc != CX_OK)
        cx_ledger_result_free(out);
    return rc;
}

static cx_err sui_job_refund_expired(cx_ledger *l, const cx_chain_key *signer,
                                     const cx_chain_id *job, cx_error *e)
{
    sui_ledger *L = l->impl;
    cx_sui_shared_ref jr;
    cx_err rc = shared_ref(L, job, "Job", &jr, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "refund: ");
    cx_sui_tx tx;
    cx_sui_effects fx;
    cx_sui_tx_init(&tx);
    rc = cx_sui_market_refund_expired(&tx, &L->m, &jr, e);
    if (rc == CX_OK && (rc = run_tx(L, signer, &tx, 0, "refund", &fx, e)) == CX_OK)
        cx_sui_effects_free(&fx);
    cx_sui_tx_free(&tx);
    return rc;
}

/* The address's coins of the ledger's coin type, summed (what a payee holds on chain). */
static cx_err sui_balance_get(cx_ledger *l, const cx_chain_addr *a, uint64_t *out, cx_error *e)
{
    sui_ledger *L = l->impl;
    *out = 0;
    char cursor[CX_CHAIN_CURSOR_MAX] = "";
    int has_next = 1;
    unsigned __int128 sum = 0;
    cx_err rc = CX_OK;
    while (rc == CX_OK && has_next) {
        cx_sui_coin *c = NULL;
        size_t n = 0;
        char next[CX_CHAIN_CURSOR_MAX];
        rc = cx_sui_gql_coins(L->gql, a, L->m.coin_type, cursor, &c, &n, next, &has_next, e);
        for (size_t i = 0; rc == CX_OK && i < n; i++)
            sum += c[i].balance;
        free(c);
        if (rc == CX_OK && !strcmp(next, cursor))
            break;
        memcpy(cursor, next, sizeof cursor);
    }
    if (rc != CX_OK)
        return rc;
    if (sum > UINT64_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "sui ledger: balance above 2^64");
    *out = (uint64_t)sum;
    return CX_OK;
}

/* Sui GraphQL gives events a page at a time, resumed by the page's endCursor: whole pages are
 * returned while they fit in max (at least one page, so a caller asking for fewer than a page
 * still moves on), and seq is left 0 (the cursor orders them). */
static cx_err sui_events_read(cx_ledger *l, const char *cursor, size_t max, cx_ledger_event **out,
                              size_t *n, char next_cursor[CX_CHAIN_CURSOR_MAX], cx_error *e)
{
    sui_ledger *L = l->impl;
    *out = NULL;
    *n = 0;
    char filter[CX_CHAIN_ID_HEX_LEN + 16], cur[CX_CHAIN_CURSOR_MAX];
    snprintf(filter, sizeof filter, "%s::market", L->pkg_hex);
    if (strlen(cursor) >= sizeof cur)
        return cx_error_set(e, CX_ERR_ARG, "events: cursor too long");
    memcpy(cur, cursor, strlen(cursor) + 1);
    cx_ledger_event *list = NULL;
    size_t cnt = 0;
    int has_next = 1;
    cx_err rc = CX_OK;
    while (rc == CX_OK && has_next && (cnt == 0 || cnt + SUI_EVENTS_PAGE <= max)) {
        cx_sui_event *evs = NULL;
        size_t k = 0;
        char next[CX_CHAIN_CURSOR_MAX];
        rc = cx_sui_gql_events(L->gql, filter, cur, &evs, &k, next, &has_next, e);
        if (rc == CX_OK && k) {
            cx_ledger_event *g = realloc(list, (cnt + k) * sizeof *g);
            if (!g)
                rc = nomem(e);
            else
                list = g;
        }
        for (size_t i = 0; rc == CX_OK && i < k; i++) {
            /* an event kind this build does not know is passed over, not an error */
            if (cx_sui_market_event_decode(&L->m, &evs[i], &list[cnt], NULL) == CX_OK)
                cnt++;
        }
        cx_sui_events_free(evs, k);
        if (rc != CX_OK)
            break;
        int empty = !strcmp(next, cur);
        memcpy(cur, next, sizeof cur);
        if (empty || (cnt == 0 && !has_next))
            break;
    }
    if (rc != CX_OK) {
        free(list);
        return rc;
    }
    memcpy(next_cursor, cur, strlen(cur) + 1);
    if (!cnt) {
        free(list);
        list = NULL;
    }
    *out = list;
    *n = cnt;
    return CX_OK;
}

static void sui_close(cx_ledger *l)
{
    if (!l)
        return;
    sui_ledger *L = l->impl;
    if (L) {
        cx_sui_gql_close(L->gql);
        free(L->coin_type);
        free(L);
    }
    free(l);
}

static const cx_ledger_ops SUI_OPS = {
    .name = "sui",
    .pool_create = sui_pool_create,
    .pool_get = sui_pool_get,
    .enclave_register = sui_enclave_register,
    .enclave_get = sui_enclave_get,
    .pool_enclave_add = sui_pool_enclave_add,
    .enclaves_for_pool = sui_enclaves_for_pool,
    .contribution_register = sui_contribution_register,
    .contributions_list = sui_contributions_list,
    .job_create = sui_job_create,
    .job_get = sui_job_get,
    .job_accept = sui_job_accept,
    .job_fail = sui_job_fail,
    .result_submit = sui_result_submit,
    .result_get = sui_result_get,
    .job_refund_expired = sui_job_refund_expired,
    .balance_get = sui_balance_get,
    .events_read = sui_events_read,
    .close = sui_close,
};

/* ------------------------------------------------------------------ open -- */

cx_err cx_ledger_sui_open(const cx_ledger_sui_opts *o, cx_ledger **out, cx_error *e)
{
    *out = NULL;
    if (!o || !o->graphql_url || cx_chain_id_is_zero(&o->package) ||
        cx_chain_id_is_zero(&o->market))
        return cx_error_set(e, CX_ERR_ARG,
                            "sui ledger: a GraphQL URL, the package id and the Market id are "
                            "required");
    cx_ledger *l = calloc(1, sizeof *l);
    sui_ledger *L = calloc(1, sizeof *L);
    if (!l || !L) {
        free(l);
        free(L);
        return nomem(e);
    }
    l->ops = &SUI_OPS;
    l->impl = L;
    L->m.package = o->package;
    L->gas_budget = o->gas_budget ? o->gas_budget : SUI_DEFAULT_GAS_BUDGET;
    cx_chain_id_to_hex(&o->package, L->pkg_hex);
    cx_err rc = CX_OK;
    if (o->coin_type && !(L->coin_type = strdup(o->coin_type)))
        rc = nomem(e);
    L->m.coin_type = L->coin_type;
    cx_sui_gql_opts g = {0};
    if (o->gql)
        g = *o->gql;
    g.url = o->graphql_url;
    if (rc == CX_OK)
        rc = cx_sui_gql_open(&g, &L->gql, e);
    /* the Market: shared (its initial version goes into every transaction that takes it) and
     * the protocol fee address */
    cx_sui_object m;
    if (rc == CX_OK && (rc = get_typed(L, &o->market, "Market", &m, e)) == CX_OK) {
        cx_bcs_reader r;
        cx_bcs_reader_init(&r, m.bcs, m.bcs_len);
        uint8_t id[CX_CHAIN_ID_LEN];
        if (m.owner_kind != CX_SUI_OWNER_SHARED)
            rc = cx_error_set(e, CX_ERR_FORMAT, "sui ledger: the Market is not shared");
        if (rc == CX_OK)
            rc = cx_bcs_get_fixed(&r, id, sizeof id, e);
        if (rc == CX_OK)
            rc = cx_bcs_get_fixed(&r, L->protocol_addr.b, CX_CHAIN_ID_LEN, e);
        if (rc == CX_OK)
            rc = skip_table(&r, e);
        if (rc == CX_OK)
            rc = cx_bcs_reader_end(&r, e);
        L->m.market.id = o->market;
        L->m.market.initial_shared_version = m.initial_shared_version;
        cx_sui_object_free(&m);
    }
    if (rc != CX_OK) {
        sui_close(l);
        return cx_error_wrap(rc, e, "sui ledger %s: ", o->graphql_url);
    }
    *out = l;
    return CX_OK;
}

/* "name=value" of a query string into out (NUL-terminated); 0 when absent. */
static int query_param(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p;) {
        size_t len = strcspn(p, "&");
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= cap)
                return -1;
            memcpy(out, p + nl + 1, vl);
            out[vl] = 0;
            return 1;
        }
        p += len + (p[len] == '&');
    }
    return 0;
}

cx_err cx_ledger_sui_open_url(const char *spec, const cx_sui_gql_opts *gql, cx_ledger **out,
                              cx_error *e)
{
    *out = NULL;
    static const char usage[] = "sui:URL?package=0x..&market=0x..[&coin=TYPE][&gas_budget=MIST]";
    if (!spec || strncmp(spec, "sui:", 4) != 0)
        return cx_error_set(e, CX_ERR_ARG, "sui ledger: expected %s", usage);
    const char *url = spec + 4, *q = strchr(url, '?');
    if (!q || q == url)
        return cx_error_set(e, CX_ERR_ARG, "sui ledger: expected %s", usage);
    char *base = strndup(url, (size_t)(q - url));
    if (!base)
        return nomem(e);
    q++;
    char pkg[CX_CHAIN_ID_HEX_LEN + 1], market[CX_CHAIN_ID_HEX_LEN + 1],
        coin[CX_SUI_TYPE_REPR_MAX + 1], budget[24];
    cx_ledger_sui_opts o = {.graphql_url = base, .gql = gql};
    cx_err rc = CX_OK;
    if (query_param(q, "package", pkg, sizeof pkg) != 1 ||
        query_param(q, "market", market, sizeof market) != 1)
        rc = cx_error_set(e, CX_ERR_ARG, "sui ledger: package and market are required: %s", usage);
    if (rc == CX_OK && (rc = cx_sui_address_parse(pkg, &o.package, e)) == CX_OK)
        rc = cx_sui_address_parse(market, &o.market, e);
    int has = rc == CX_OK ? query_param(q, "coin", coin, sizeof coin) : 0;
    if (has < 0)
        rc = cx_error_set(e, CX_ERR_ARG, "sui ledger: coin type too long");
    if (has > 0)
        o.coin_type = coin;
    has = rc == CX_OK ? query_param(q, "gas_budget", budget, sizeof budget) : 0;
    if (has) {
        char *end;
        unsigned long long v = strtoull(budget, &end, 10);
        if (has < 0 || end == budget || *end || v == 0)
            rc = cx_error_set(e, CX_ERR_ARG, "sui ledger: gas_budget must be a positive integer");
        o.gas_budget = v;
    }
    if (rc == CX_OK)
        rc = cx_ledger_sui_open(&o, out, e);
    free(base);
    return rc;
}
