/* test_chain_ledger_sui.c — the `sui:` ledger backend (chain/ledger_sui.c) against the GraphQL
 * fixture in market mode (tests/fixtures/sui_market_model.py, a Python model of the Move package):
 * opening, each call and the contract's refusals as cx_err classes and words, enclaves from their
 * Nitro documents, escrow, refunds (k not reached, enclave failure, expiry), exact payouts as
 * coins, and the event stream by cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "cx_attest.h"
#include "cx_chain.h"
#include "io_store_testutil.h"

static fixture fx;
static char devca[64] = "/tmp/cx-sui-devca-XXXXXX";

typedef struct world {
    cx_ledger *l;
    char spec[512];
    cx_chain_addr protocol;
    cx_chain_key *op, *buyer, *s1, *s2, *stranger;
    cx_tee *tee;
    cx_chain_id enclave, pool;
} world;

static cx_chain_key *funded_key(uint64_t amount)
{
    cx_chain_key *k = NULL;
    assert_int_equal(cx_chain_key_generate(&k, NULL), CX_OK);
    if (amount) {
        char a[CX_CHAIN_ID_HEX_LEN + 1], js[160];
        cx_chain_id_to_hex(cx_chain_key_address(k), a);
        snprintf(js, sizeof js, "{\"address\":\"%s\",\"amount\":%llu}", a,
                 (unsigned long long)amount);
        char *r = fixture_call(&fx, "/_fixture/faucet", js);
        assert_non_null(r);
        free(r);
    }
    return k;
}

static void set_clock(long long now_ms)
{
    char js[64];
    if (now_ms < 0)
        snprintf(js, sizeof js, "{\"now_ms\":null}");
    else
        snprintf(js, sizeof js, "{\"now_ms\":%lld}", now_ms);
    free(fixture_call(&fx, "/_fixture/clock", js));
}

static uint64_t balance(world *w, const cx_chain_key *k)
{
    uint64_t b = 0;
    assert_int_equal(cx_ledger_balance_get(w->l, cx_chain_key_address(k), &b, NULL), CX_OK);
    return b;
}

/* The enclave's registration: a simulated Nitro document with its keys. */
static cx_err register_tee(world *w, cx_tee *tee, const cx_chain_key *signer, int with_doc,
                           cx_chain_id *id, cx_error *e)
{
    cx_ledger_enclave en;
    memset(&en, 0, sizeof en);
    uint8_t ud[96], *doc = NULL;
    size_t doc_len = 0;
    cx_tee_public_keys(tee, en.ed25519_pk, en.x25519_pk);
    memcpy(ud, en.x25519_pk, 32);
    assert_int_equal(cx_tee_x25519_endorse(tee, ud + 32, NULL), CX_OK);
    assert_int_equal(cx_tee_attest(tee, ud, sizeof ud, NULL, 0, &doc, &doc_len, NULL), CX_OK);
    SHA256(doc, doc_len, en.attestation_hash);
    memcpy(en.attestation_blob_id, "doc-blob", 8);
    en.attestation_blob_id_len = 8;
    en.measurement_len = 1; /* the contract takes PCR0 from the document */
    cx_ledger_attestation att = {doc, doc_len, ud + 32};
    cx_err rc =
        cx_ledger_enclave_register_attested(w->l, signer, &en, with_doc ? &att : NULL, id, e);
    free(doc);
    return rc;
}

static cx_tee *new_tee(void)
{
    cx_tee_sim_config c = {.devca_dir = devca};
    cx_tee *tee = NULL;
    assert_int_equal(cx_tee_sim_open(&c, &tee, NULL), CX_OK);
    return tee;
}

static int world_setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    cx_chain_key *treasury = funded_key(0);
    w->protocol = *cx_chain_key_address(treasury);
    cx_chain_key_free(treasury);
    char a[CX_CHAIN_ID_HEX_LEN + 1], js[128];
    cx_chain_id_to_hex(&w->protocol, a);
    snprintf(js, sizeof js, "{\"protocol_addr\":\"%s\"}", a);
    char *pub = fixture_call(&fx, "/_fixture/publish", js);
    assert_non_null(pub);
    json_t *j = json_loads(pub, 0, NULL);
    free(pub);
    assert_non_null(j);
    snprintf(w->spec, sizeof w->spec, "sui:%s/graphql?package=%s&market=%s&gas_budget=1000",
             fx.base, json_string_value(json_object_get(j, "package")),
             json_string_value(json_object_get(j, "market")));
    json_decref(j);
    assert_int_equal(cx_ledger_sui_open_url(w->spec, NULL, &w->l, NULL), CX_OK);
    assert_string_equal(cx_ledger_backend_name(w->l), "sui");
    w->op = funded_key(100000);
    w->buyer = funded_key(100000);
    w->s1 = funded_key(100000);
    w->s2 = funded_key(100000);
    w->stranger = funded_key(100000);
    w->tee = new_tee();
    /* the enclave first: the pool accepts the PCR0 the contract took from its document */
    assert_int_equal(register_tee(w, w->tee, w->op, 1, &w->enclave, NULL), CX_OK);
    cx_ledger_enclave en;
    assert_int_equal(cx_ledger_enclave_get(w->l, &w->enclave, &en, NULL), CX_OK);
    cx_ledger_pool_params p = {.theme = "sui pool",
                               .price = 100,
                               .min_contributors = 2,
                               .max_rows_per_contributor = 1000,
                               .operator_fee_bps = 700,
                               .protocol_fee_bps = 300,
                               .n_measurements = 1,
                               .operator_addr = *cx_chain_key_address(w->op),
                               .policy = {.sealing = CX_LEDGER_SEALING_SEAL, .max_epochs = 50}};
    p.measurements[0] = en.measurement;
    p.measurement_lens[0] = en.measurement_len;
    assert_int_equal(cx_ledger_pool_create(w->l, w->op, &p, &w->pool, NULL), CX_OK);
    assert_int_equal(cx_ledger_pool_enclave_add(w->l, w->op, &w->pool, &w->enclave, NULL), CX_OK);
    cx_chain_id c;
    assert_int_equal(cx_ledger_contribution_register(w->l, w->s1, &w->pool,
                                                     (const uint8_t *)"blob-1", 6, &c, NULL),
                     CX_OK);
    assert_int_equal(cx_ledger_contribution_register(w->l, w->s2, &w->pool,
                                                     (const uint8_t *)"blob-2", 6, &c, NULL),
                     CX_OK);
    *state = w;
    return 0;
}

static int world_teardown(void **state)
{
    world *w = *state;
    set_clock(-1);
    cx_ledger_close(w->l);
    cx_chain_key_free(w->op);
    cx_chain_key_free(w->buyer);
    cx_chain_key_free(w->s1);
    cx_chain_key_free(w->s2);
    cx_chain_key_free(w->stranger);
    cx_tee_close(w->tee);
    free(w);
    return 0;
}

static void signed_msg(cx_tee *tee, const cx_chain_msg *m, uint8_t **bytes, size_t *len,
                       uint8_t sig[64])
{
    assert_int_equal(cx_chain_msg_encode(m, bytes, len, NULL), CX_OK);
    assert_int_equal(cx_tee_sign(tee, *bytes, *len, sig, NULL), CX_OK);
}

static void msg_for(world *w, const cx_chain_id *job, uint8_t intent, cx_chain_msg *m)
{
    cx_ledger_enclave en;
    assert_int_equal(cx_ledger_enclave_get(w->l, &w->enclave, &en, NULL), CX_OK);
    memset(m, 0, sizeof *m);
    m->intent = intent;
    m->timestamp_ms = cx_unix_ms();
    m->version = CX_CHAIN_MSG_VERSION;
    m->job_id = *job;
    m->pool_id = w->pool;
    memcpy(m->code_measurement, en.measurement, en.measurement_len);
    m->code_measurement_len = en.measurement_len;
}

static const uint8_t SPEC_HASH[32] = {1, 2, 3};

static void new_job(world *w, uint64_t pay, uint64_t deadline_ms, cx_chain_id *job)
{
    assert_int_equal(cx_ledger_job_create(w->l, w->buyer, &w->pool, SPEC_HASH,
                                          (const uint8_t *)"spec", 4, pay, deadline_ms, job, NULL),
                     CX_OK);
}

static cx_err accept_job(world *w, const cx_chain_id *job, cx_error *e)
{
    cx_chain_msg m;
    msg_for(w, job, CX_CHAIN_MSG_ACCEPT, &m);
    memcpy(m.config_hash, SPEC_HASH, 32);
    uint8_t *b, sig[64];
    size_t n;
    signed_msg(w->tee, &m, &b, &n, sig);
    cx_ledger_signed s = {b, n, sig};
    cx_err rc = cx_ledger_job_accept(w->l, w->op, job, &w->enclave, &s, e);
    free(b);
    return rc;
}

/* The enclave's statement for job, listing rows per contributor, and its key release; the
 * statement at version (0: the current one) with ranks_hash (NULL: a one-rank job's, empty). */
static cx_err submit_ranks(world *w, const cx_chain_id *job, uint64_t rows1, uint64_t rows2,
                           uint8_t version, const uint8_t *ranks_hash, cx_error *e)
{
    cx_chain_msg km;
    msg_for(w, job, CX_CHAIN_MSG_KEY, &km);
    cx_statement s;
    memset(&s, 0, sizeof s);
    memcpy(s.job_id, job->b, 32);
    memcpy(s.pool_id, w->pool.b, 32);
    memcpy(s.code_measurement, km.code_measurement, km.code_measurement_len);
    s.code_measurement_len = km.code_measurement_len;
    memcpy(s.config_hash, SPEC_HASH, 32);
    memcpy(s.result_blob_id, "model", 5);
    s.result_blob_id_len = 5;
    memset(s.result_hash, 0x77, 32);
    cx_statement_rows rows[2];
    memcpy(rows[0].contributor, cx_chain_key_address(w->s1)->b, 32);
    rows[0].rows = rows1;
    memcpy(rows[1].contributor, cx_chain_key_address(w->s2)->b, 32);
    rows[1].rows = rows2;
    s.rows = rows;
    s.n_rows = 2;
    s.dp_epsilon_micro = CX_STATEMENT_NO_DP;
    s.version = version;
    if (ranks_hash) {
        memcpy(s.ranks_hash, ranks_hash, 32);
        s.ranks_hash_len = 32;
    }
    uint8_t *st, ssig[64], *kb, ksig[64];
    size_t st_len, kn;
    assert_int_equal(cx_statement_encode(&s, cx_unix_ms(), &st, &st_len, NULL), CX_OK);
    assert_int_equal(cx_tee_sign(w->tee, st, st_len, ssig, NULL), CX_OK);
    memset(km.result_hash, 0x77, 32);
    memset(km.wrapped_key, 0xab, 80);
    km.wrapped_key_len = 80;
    signed_msg(w->tee, &km, &kb, &kn, ksig);
    cx_ledger_signed a = {st, st_len, ssig}, b = {kb, kn, ksig};
    cx_err rc = cx_ledger_result_submit(w->l, w->op, job, &w->enclave, &a, &b, e);
    free(st);
    free(kb);
    return rc;
}

static cx_err submit(world *w, const cx_chain_id *job, uint64_t rows1, uint64_t rows2, cx_error *e)
{
    return submit_ranks(w, job, rows1, rows2, 0, NULL, e);
}

static void test_open_refusals(void **state)
{
    world *w = *state;
    cx_ledger *l = NULL;
    cx_error e;
    assert_int_equal(cx_ledger_sui_open_url("sui:", NULL, &l, &e), CX_ERR_ARG);
    assert_int_equal(
        cx_ledger_sui_open_url("sui:http://127.0.0.1:1/graphql?package=0x1", NULL, &l, &e),
        CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "market"));
    /* the pool is no Market: refused when opened */
    char spec[512], pool[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&w->pool, pool);
    const char *pkg = strstr(w->spec, "package=") + 8;
    snprintf(spec, sizeof spec, "sui:%s/graphql?package=%.66s&market=%s", fx.base, pkg, pool);
    assert_int_equal(cx_ledger_sui_open_url(spec, NULL, &l, &e), CX_ERR_NOTFOUND);
    assert_null(l);
    /* no faucet on Sui */
    assert_int_equal(cx_ledger_local_faucet(w->l, &w->protocol, 5, &e), CX_ERR_UNSUPPORTED);
}

static void test_pool_and_enclaves(void **state)
{
    world *w = *state;
    cx_ledger_pool p;
    cx_error e;
    assert_int_equal(cx_ledger_pool_get(w->l, &w->pool, &p, NULL), CX_OK);
    assert_string_equal(p.theme, "sui pool");
    assert_int_equal(p.min_contributors, 2);
    assert_int_equal(p.operator_fee_bps, 700);
    assert_true(cx_chain_id_equal(&p.operator_addr, cx_chain_key_address(w->op)));
    assert_true(cx_chain_id_equal(&p.created_by, cx_chain_key_address(w->op)));
    assert_int_equal(p.policy.sealing, CX_LEDGER_SEALING_SEAL); /* the policy's last field */
    assert_int_equal(p.policy.max_epochs, 50);
    assert_true(p.shared_version > 1); /* the pool's initial shared version on Sui */
    /* an object of another type is no pool */
    assert_int_equal(cx_ledger_pool_get(w->l, &w->enclave, &p, &e), CX_ERR_NOTFOUND);

    /* an enclave without its document cannot register on Sui, and says why */
    cx_tee *t2 = new_tee();
    cx_chain_id id2;
    assert_int_equal(register_tee(w, t2, w->stranger, 0, &id2, &e), CX_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "Nitro attestation document"));
    /* anyone registers one; only the operator adds it to the pool */
    assert_int_equal(register_tee(w, t2, w->stranger, 1, &id2, NULL), CX_OK);
    assert_int_equal(register_tee(w, t2, w->stranger, 1, &id2, &e), CX_ERR_STATE); /* key taken */
    assert_non_null(strstr(e.msg, "already registered"));
    assert_int_equal(cx_ledger_pool_enclave_add(w->l, w->stranger, &w->pool, &id2, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "only the pool's operator"));
    assert_int_equal(cx_ledger_pool_enclave_add(w->l, w->op, &w->pool, &w->enclave, &e),
                     CX_ERR_STATE);
    assert_int_equal(cx_ledger_pool_enclave_add(w->l, w->op, &w->pool, &id2, NULL), CX_OK);
    /* the sealing targets: the most recently added first */
    cx_ledger_enclave *list = NULL;
    size_t n = 0;
    assert_int_equal(cx_ledger_enclaves_for_pool(w->l, &w->pool, &list, &n, NULL), CX_OK);
    assert_int_equal(n, 2);
    assert_true(cx_chain_id_equal(&list[0].id, &id2));
    assert_true(cx_chain_id_equal(&list[1].id, &w->enclave));
    uint8_t pk[32], x[32];
    cx_tee_public_keys(t2, pk, x);
    assert_memory_equal(list[0].ed25519_pk, pk, 32);
    assert_memory_equal(list[0].x25519_pk, x, 32);
    assert_memory_equal(list[0].attestation_blob_id, "doc-blob", 8);
    free(list);
    cx_tee_close(t2);

    /* contributions: one claim per contributor and blob; others may claim the same id */
    cx_chain_id c;
    assert_int_equal(cx_ledger_contribution_register(w->l, w->s1, &w->pool,
                                                     (const uint8_t *)"blob-1", 6, &c, &e),
                     CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "already registered this blob"));
    assert_int_equal(cx_ledger_contribution_register(w->l, w->stranger, &w->pool,
                                                     (const uint8_t *)"blob-1", 6, &c, NULL),
                     CX_OK);
    cx_ledger_contribution *cs = NULL;
    assert_int_equal(cx_ledger_contributions_list(w->l, &w->pool, &cs, &n, NULL), CX_OK);
    assert_int_equal(n, 3);
    assert_true(cx_chain_id_equal(&cs[0].contributor, cx_chain_key_address(w->s1)));
    assert_true(cx_chain_id_equal(&cs[2].id, &c));
    assert_memory_equal(cs[2].blob_id, "blob-1", 6);
    free(cs);
}

static void test_paid_exactly(void **state)
{
    world *w = *state;
    cx_chain_id job;
    cx_error e;
    uint64_t b0 = balance(w, w->buyer), s1 = balance(w, w->s1), s2 = balance(w, w->s2);
    uint64_t op0 = balance(w, w->op);
    new_job(w, 10007, cx_unix_ms() + 3600000, &job);
    assert_int_equal(balance(w, w->buyer), b0 - 10007);
    /* a Seal request names the job at the version Sui shared it, which later changes keep */
    cx_ledger_job j0;
    assert_int_equal(cx_ledger_job_get(w->l, &job, &j0, NULL), CX_OK);
    assert_true(j0.shared_version > 1);
    /* no enclave has the job yet: no result */
    assert_int_equal(submit(w, &job, 10, 20, &e), CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "no enclave has accepted"));
    assert_int_equal(accept_job(w, &job, NULL), CX_OK);
    assert_int_equal(accept_job(w, &job, &e), CX_ERR_STATE); /* a second acceptance */
    cx_ledger_job j;
    assert_int_equal(cx_ledger_job_get(w->l, &job, &j, NULL), CX_OK);
    assert_int_equal(j.state, CX_LEDGER_JOB_ACCEPTED);
    assert_true(cx_chain_id_equal(&j.enclave_id, &w->enclave));
    assert_int_equal(j.payment, 10007);
    assert_memory_equal(j.spec_blob_id, "spec", 4);
    assert_int_equal(j.shared_version, j0.shared_version);
    /* a version 2 statement (no ranks hash) is refused by the contract's decoder */
    assert_int_equal(submit_ranks(w, &job, 300, 2000, CX_STATEMENT_VERSION_2, NULL, &e),
                     CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "code 100"));
    /* a version 3 statement of a multi-rank job (its ranks hash) is taken */
    uint8_t ranks_hash[32];
    memset(ranks_hash, 0x5c, sizeof ranks_hash);
    assert_int_equal(submit_ranks(w, &job, 300, 2000, 0, ranks_hash, NULL),
                     CX_OK); /* s2 capped at 1000 */
    assert_int_equal(submit(w, &job, 300, 2000, &e), CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "not accepted"));
    cx_ledger_result r;
    assert_int_equal(cx_ledger_result_get(w->l, &job, &r, NULL), CX_OK);
    cx_statement rs;
    assert_int_equal(cx_statement_decode(r.statement, r.statement_len, &rs, NULL, NULL), CX_OK);
    assert_int_equal(rs.version, CX_STATEMENT_VERSION);
    assert_int_equal(rs.ranks_hash_len, 32);
    assert_memory_equal(rs.ranks_hash, ranks_hash, 32);
    cx_statement_free(&rs);
    assert_false(r.refunded);
    assert_int_equal(r.accepted_contributors, 2);
    assert_int_equal(r.model_key_len, 80); /* revealed by the paying transaction */
    assert_int_equal(r.split.protocol_fee, 300);
    assert_int_equal(r.split.operator_fee, 700);
    assert_int_equal(r.split.n_payouts, 2);
    uint64_t sum = r.split.protocol_fee + r.split.operator_fee;
    for (size_t i = 0; i < r.split.n_payouts; i++) {
        sum += r.split.payouts[i].amount;
        const cx_chain_key *k =
            cx_chain_id_equal(&r.split.payouts[i].to, cx_chain_key_address(w->s1)) ? w->s1 : w->s2;
        assert_int_equal(balance(w, k), (k == w->s1 ? s1 : s2) + r.split.payouts[i].amount);
    }
    assert_int_equal(sum, 10007);
    assert_int_equal(balance(w, w->op), op0 + 700);
    uint64_t prot = 0;
    assert_int_equal(cx_ledger_balance_get(w->l, &w->protocol, &prot, NULL), CX_OK);
    assert_true(prot >= 300);
    cx_ledger_result_free(&r);
}

/* RULES.md §2 Submit 12 on the contract (market.move, mirrored by the fixture's model): a
 * contribution registered before the job that the statement neither accepts nor rejects makes
 * the result refused; one registered after the job is not the job's. */
static void test_every_contribution_accounted(void **state)
{
    world *w = *state;
    cx_chain_id job, late_job, cid;
    cx_error e;
    /* the fixture's clock, so that "before" and "the same millisecond" are not left to chance */
    uint64_t now = cx_unix_ms();
    set_clock((long long)now);
    new_job(w, 1000, now + 3600000, &late_job); /* a millisecond before the stranger's blob */
    set_clock((long long)now + 1);
    assert_int_equal(cx_ledger_contribution_register(w->l, w->stranger, &w->pool,
                                                     (const uint8_t *)"stranger-blob", 13, &cid,
                                                     NULL),
                     CX_OK);
    new_job(w, 1000, now + 3600000, &job); /* the blob's millisecond: it is the job's */
    assert_int_equal(accept_job(w, &job, NULL), CX_OK);
    assert_int_equal(submit(w, &job, 10, 20, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "neither accepted nor rejected"));
    assert_int_equal(accept_job(w, &late_job, NULL), CX_OK);
    assert_int_equal(submit(w, &late_job, 10, 20, NULL), CX_OK);
    set_clock(-1);
}

static void test_refunds(void **state)
{
    world *w = *state;
    cx_chain_id job;
    cx_error e;
    uint64_t b0 = balance(w, w->buyer);
    /* k = 2 not reached: refunded in full, the model key not revealed */
    new_job(w, 500, cx_unix_ms() + 3600000, &job);
    assert_int_equal(accept_job(w, &job, NULL), CX_OK);
    assert_int_equal(submit(w, &job, 50, 0, NULL), CX_OK);
    cx_ledger_result r;
    assert_int_equal(cx_ledger_result_get(w->l, &job, &r, NULL), CX_OK);
    assert_true(r.refunded);
    assert_int_equal(r.model_key_len, 0);
    assert_int_equal(r.split.n_payouts, 0);
    cx_ledger_result_free(&r);
    assert_int_equal(balance(w, w->buyer), b0);

    /* the enclave's signed failure refunds at once; its reason is kept */
    new_job(w, 400, cx_unix_ms() + 3600000, &job);
    assert_int_equal(accept_job(w, &job, NULL), CX_OK);
    cx_chain_msg m;
    msg_for(w, &job, CX_CHAIN_MSG_FAIL, &m);
    m.reason = CX_CHAIN_FAIL_DATA;
    uint8_t *b, sig[64];
    size_t n;
    signed_msg(w->tee, &m, &b, &n, sig);
    cx_ledger_signed s = {b, n, sig};
    sig[0] ^= 1; /* a forged failure */
    assert_int_equal(cx_ledger_job_fail(w->l, w->stranger, &job, &s, &e), CX_ERR_AUTH);
    sig[0] ^= 1;
    assert_int_equal(cx_ledger_job_fail(w->l, w->stranger, &job, &s, NULL), CX_OK);
    free(b);
    cx_ledger_job j;
    assert_int_equal(cx_ledger_job_get(w->l, &job, &j, NULL), CX_OK);
    assert_int_equal(j.state, CX_LEDGER_JOB_REFUNDED);
    assert_int_equal(j.fail_reason, CX_CHAIN_FAIL_DATA);
    assert_int_equal(balance(w, w->buyer), b0);

    /* expiry: an open job after its deadline, an accepted one after deadline + grace */
    uint64_t now = cx_unix_ms();
    cx_chain_id open_job, acc_job;
    new_job(w, 300, now + 1000, &open_job);
    new_job(w, 300, now + 1000, &acc_job);
    assert_int_equal(accept_job(w, &acc_job, NULL), CX_OK);
    assert_int_equal(cx_ledger_job_refund_expired(w->l, w->stranger, &open_job, &e), CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "not expired"));
    set_clock((long long)now + 2000);
    assert_int_equal(cx_ledger_job_refund_expired(w->l, w->stranger, &open_job, NULL), CX_OK);
    assert_int_equal(cx_ledger_job_refund_expired(w->l, w->stranger, &acc_job, &e), CX_ERR_STATE);
    set_clock((long long)(now + 1000 + CX_LEDGER_RESULT_GRACE_MS + 1));
    assert_int_equal(cx_ledger_job_refund_expired(w->l, w->stranger, &acc_job, NULL), CX_OK);
    set_clock(-1);
    assert_int_equal(balance(w, w->buyer), b0);
    /* a deadline in the past is refused by the contract */
    assert_int_equal(
        cx_ledger_job_create(w->l, w->buyer, &w->pool, SPEC_HASH, NULL, 0, 300, now - 1, &job, &e),
        CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "not in the future"));
    /* and a buyer without the coins for it cannot pay */
    assert_int_equal(cx_ledger_job_create(w->l, w->stranger, &w->pool, SPEC_HASH, NULL, 0, 1000000,
                                          now + 100000, &job, &e),
                     CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "too little"));
}

static void test_events_by_cursor(void **state)
{
    world *w = *state;
    cx_ledger_event *ev = NULL;
    size_t n = 0;
    char next[CX_CHAIN_CURSOR_MAX];
    assert_int_equal(cx_ledger_events_read(w->l, "", 1000, &ev, &n, next, NULL), CX_OK);
    assert_int_equal(n, 5);
    /* the set-up's transactions, in order */
    cx_ledger_event_kind want[] = {CX_LEDGER_EV_ENCLAVE_REGISTERED, CX_LEDGER_EV_POOL_CREATED,
                                   CX_LEDGER_EV_POOL_ENCLAVE_ADDED,
                                   CX_LEDGER_EV_CONTRIBUTION_REGISTERED};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(ev[i].kind, want[i]);
    assert_true(cx_chain_id_equal(&ev[0].object_id, &w->enclave));
    assert_true(cx_chain_id_equal(&ev[1].object_id, &w->pool));
    assert_true(cx_chain_id_equal(&ev[2].pool_id, &w->pool));
    assert_true(ev[1].timestamp_ms > 0);
    size_t total = n;
    free(ev);
    /* nothing after the cursor; a new event appears after it, and only it */
    char again[CX_CHAIN_CURSOR_MAX];
    assert_int_equal(cx_ledger_events_read(w->l, next, 1000, &ev, &n, again, NULL), CX_OK);
    assert_int_equal(n, 0);
    assert_string_equal(again, next);
    cx_chain_id job;
    new_job(w, 123, cx_unix_ms() + 3600000, &job);
    assert_int_equal(cx_ledger_events_read(w->l, next, 1000, &ev, &n, again, NULL), CX_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, CX_LEDGER_EV_JOB_CREATED);
    assert_true(cx_chain_id_equal(&ev[0].object_id, &job));
    assert_int_equal(ev[0].amount, 123);
    assert_true(cx_chain_id_equal(&ev[0].addr, cx_chain_key_address(w->buyer)));
    free(ev);
    /* a small max still moves on, a page at a time */
    char cur[CX_CHAIN_CURSOR_MAX] = "";
    size_t seen = 0;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(cx_ledger_events_read(w->l, cur, 1, &ev, &n, next, NULL), CX_OK);
        free(ev);
        seen += n;
        if (!n)
            break;
        memcpy(cur, next, sizeof cur);
    }
    assert_int_equal(seen, total + 1);
}

int main(void)
{
    if (!mkdtemp(devca) || cx_tee_sim_devca_create(devca, NULL) != CX_OK) {
        fprintf(stderr, "no dev CA\n");
        return 1;
    }
    setenv("SUI_FIXTURE_MARKET", "1", 1);
    if (fixture_start(&fx, CX_SUI_GRAPHQL_FIXTURE) != 0) {
        fprintf(stderr, "the Sui GraphQL fixture could not start (python3 + cryptography?)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_refusals, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_pool_and_enclaves, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_paid_exactly, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_every_contribution_accounted, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_refunds, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_events_by_cursor, world_setup, world_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fixture_stop(&fx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", devca);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", devca);
    return rc;
}
