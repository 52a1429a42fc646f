/* test_chain_ledger.c — the local ledger enforces RULES.md: escrow, the job state machine
 * (acceptance, enclave failure, grace), the model key revealed only by a paying result, exact
 * payouts, refunds (k not reached, deadline), only the operator's enclaves in a pool, and refuses
 * double submits, wrong keys, wrong measurements and replays; events read with cursors; schema
 * version and migrations. Statements come from attestation's encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "chain_testutil.h"

static void test_paid_exactly(void **state)
{
    fx *f = *state;
    assert_string_equal(cx_ledger_backend_name(f->l), "local");
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 1000000 - 100000); /* escrowed */
    uint64_t rows[NCONTRIB] = {10, 500, 5000 /* capped at 1000 */, 333, 0};
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    cx_error e;
    if (submit(f, &f->job, &f->enclave, msg, len, sig, &e) != CX_OK)
        fail_msg("submit: %s", e.msg);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_PAID);
    /* fees: 1 % protocol, 5 % operator of 100000 */
    assert_int_equal(bal(f, &f->protocol), 1000);
    assert_int_equal(bal(f, cx_chain_key_address(f->op)), 5000);
    uint64_t total = bal(f, &f->protocol) + bal(f, cx_chain_key_address(f->op));
    for (int i = 0; i < NCONTRIB; i++)
        total += bal(f, cx_chain_key_address(f->contrib[i]));
    assert_int_equal(total, 100000);
    assert_int_equal(bal(f, cx_chain_key_address(f->contrib[4])), 0);
    /* capped rows: contributor 2 (5000 rows) earns what 1000 rows earn */
    uint64_t c1 = bal(f, cx_chain_key_address(f->contrib[1]));
    uint64_t c2 = bal(f, cx_chain_key_address(f->contrib[2]));
    assert_true(c2 >= 2 * c1 - 1 && c2 <= 2 * c1 + 1);
    cx_ledger_result r;
    assert_int_equal(cx_ledger_result_get(f->l, &f->job, &r, NULL), CX_OK);
    assert_int_equal(r.accepted_contributors, 4);
    assert_int_equal(r.refunded, 0);
    assert_int_equal(r.split.n_payouts, 4);
    assert_int_equal(r.split.protocol_fee + r.split.operator_fee + r.split.contributors_total,
                     100000);
    assert_int_equal(r.statement_len, len);
    assert_memory_equal(r.statement, msg, len);
    /* paid: the model key the enclave released is revealed, exactly as wrapped */
    assert_int_equal(r.model_key_len, WRAPPED_KEY_LEN);
    for (size_t i = 0; i < WRAPPED_KEY_LEN; i++)
        assert_int_equal(r.model_key[i], wrapped_key_byte);
    cx_ledger_result_free(&r);
    /* submitted twice: refused, nothing paid again */
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e),
                     CX_ERR_STATE);
    assert_int_equal(bal(f, &f->protocol), 1000);
    /* the expired-refund path cannot pay the buyer back a paid job either */
    f->now += 2 * HOUR_MS;
    assert_int_equal(cx_ledger_job_refund_expired(f->l, f->anyone, &f->job, &e), CX_ERR_STATE);
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 900000);
    free(msg);
}

static void test_wrong_key_refused(void **state)
{
    fx *f = *state;
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t other[32], *msg, sig[64];
    memset(other, 0x99, 32);
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, other, &msg, &len, sig);
    cx_error e;
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e),
                     CX_ERR_AUTH);
    assert_non_null(strstr(e.msg, "registered enclave key"));
    /* a correctly signed statement that was altered after signing */
    free(msg);
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    msg[len - 1] ^= 1;
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e),
                     CX_ERR_AUTH);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_ACCEPTED);
    /* a good statement with a key release signed by another key: refused whole */
    free(msg);
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    uint8_t *km, ksig[64];
    size_t kl;
    make_key_release(f, &f->job, other, &km, &kl, ksig);
    cx_ledger_signed st = {msg, len, sig}, key = {km, kl, ksig};
    assert_int_equal(cx_ledger_result_submit(f->l, f->op, &f->job, &f->enclave, &st, &key, &e),
                     CX_ERR_AUTH);
    assert_non_null(strstr(e.msg, "key release"));
    /* ... or one for another model than the statement's */
    free(km);
    cx_chain_msg m = {0};
    memset(m.result_hash, 0x78, 32);
    m.wrapped_key_len = 1;
    make_msg(f, &f->job, CX_CHAIN_MSG_KEY, NULL, &m, &km, &kl, ksig);
    key = (cx_ledger_signed){km, kl, ksig};
    assert_int_equal(cx_ledger_result_submit(f->l, f->op, &f->job, &f->enclave, &st, &key, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "another model"));
    /* ... or no key release at all */
    assert_int_equal(cx_ledger_result_submit(f->l, f->op, &f->job, &f->enclave, &st, NULL, &e),
                     CX_ERR_ARG);
    /* an acceptance is not a key release */
    free(km);
    memset(m.config_hash, 0x55, 32);
    make_msg(f, &f->job, CX_CHAIN_MSG_ACCEPT, NULL, &m, &km, &kl, ksig);
    key = (cx_ledger_signed){km, kl, ksig};
    assert_int_equal(cx_ledger_result_submit(f->l, f->op, &f->job, &f->enclave, &st, &key, &e),
                     CX_ERR_VERIFY);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_ACCEPTED);
    free(km);
    free(msg);
}

static void test_wrong_measurement_refused(void **state)
{
    fx *f = *state;
    /* a second enclave, properly registered by the operator, but with a measurement the pool
     * does not accept: the operator cannot add it, and it cannot take the pool's jobs */
    uint8_t seed2[32];
    memset(seed2, 0x21, 32);
    cx_chain_key *k2;
    assert_int_equal(cx_chain_key_from_seed(seed2, &k2, NULL), CX_OK);
    cx_ledger_enclave en = {0};
    memcpy(en.ed25519_pk, cx_chain_key_public(k2), 32);
    memset(en.measurement, 0xbb, 48);
    en.measurement_len = 48;
    set_doc_blob(&en, "doc-of-enclave-2");
    cx_chain_id id2, job2;
    cx_error e;
    assert_int_equal(cx_ledger_enclave_register(f->l, f->op, &en, &id2, &e), CX_OK);
    assert_int_equal(cx_ledger_pool_enclave_add(f->l, f->op, &f->pool, &id2, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "measurement"));
    uint8_t spec[32];
    memset(spec, 0x55, 32);
    assert_int_equal(cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, NULL, 0, 5000,
                                          f->now + HOUR_MS, &job2, &e),
                     CX_OK);
    assert_int_equal(accept_as(f, &job2, &id2, seed2, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "measurement"));
    assert_int_equal(job_state(f, &job2), CX_LEDGER_JOB_OPEN);
    /* nor can it deliver the result of a job another enclave accepted */
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, seed2, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &id2, msg, len, sig, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "another enclave"));
    /* the pool's enclave list names only the accepted one */
    cx_ledger_enclave *list;
    size_t n;
    assert_int_equal(cx_ledger_enclaves_for_pool(f->l, &f->pool, &list, &n, NULL), CX_OK);
    assert_int_equal(n, 1);
    assert_true(cx_chain_id_equal(&list[0].id, &f->enclave));
    free(list);
    /* the same key cannot be registered twice */
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &id2, &e), CX_ERR_STATE);
    cx_chain_key_free(k2);
    free(msg);
}

static void test_replay_other_job_refused(void **state)
{
    fx *f = *state;
    uint8_t spec[32];
    memset(spec, 0x55, 32);
    cx_chain_id job2;
    cx_error e;
    assert_int_equal(cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, NULL, 0, 5000,
                                          f->now + HOUR_MS, &job2, &e),
                     CX_OK);
    /* job 1's acceptance does not take job 2 */
    cx_chain_msg m = {0};
    memset(m.config_hash, 0x55, 32);
    uint8_t *am, asig[64];
    size_t al;
    make_msg(f, &f->job, CX_CHAIN_MSG_ACCEPT, NULL, &m, &am, &al, asig);
    cx_ledger_signed acc = {am, al, asig};
    assert_int_equal(cx_ledger_job_accept(f->l, f->op, &job2, &f->enclave, &acc, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "another job"));
    free(am);
    assert_int_equal(accept_as(f, &job2, &f->enclave, NULL, &e), CX_OK);
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    /* valid signature, registered enclave, but the statement names job 1 */
    assert_int_equal(submit(f, &job2, &f->enclave, msg, len, sig, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "another job"));
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e),
                     CX_OK);
    assert_int_equal(job_state(f, &job2), CX_LEDGER_JOB_ACCEPTED);
    free(msg);
}

static void test_k_not_reached_refunds(void **state)
{
    fx *f = *state;
    uint64_t rows[NCONTRIB] = {100, 0, 200, 0, 0}; /* 2 accepted < k = 3 */
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    cx_error e;
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e),
                     CX_OK);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_REFUNDED);
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 1000000);
    assert_int_equal(bal(f, cx_chain_key_address(f->contrib[0])), 0);
    assert_int_equal(bal(f, cx_chain_key_address(f->op)), 0);
    cx_ledger_result r;
    assert_int_equal(cx_ledger_result_get(f->l, &f->job, &r, NULL), CX_OK);
    assert_int_equal(r.refunded, 1);
    assert_int_equal(r.accepted_contributors, 2);
    /* refunded: the buyer gets the money back and not the model's key */
    assert_int_equal(r.model_key_len, 0);
    cx_ledger_result_free(&r);
    free(msg);
}

static void test_unknown_contributor_refused(void **state)
{
    fx *f = *state;
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    /* swap contributor 4 for somebody who has no blob in the pool */
    cx_chain_key *saved = f->contrib[4];
    f->contrib[4] = f->anyone;
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    f->contrib[4] = saved;
    cx_error e;
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "no contribution"));
    free(msg);
}

/* Issue 13 item 5: a statement, signed by the job's own enclave, that leaves out a
 * contribution registered before the job (neither accepted nor rejected) is refused, nothing
 * paid; the same contribution rejected with a class is accepted. A rejected entry must be one
 * of the job's contributions; a contribution registered after the job is not the job's. */
static void test_dropped_contributor_refused(void **state)
{
    fx *f = *state;
    cx_error e;
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t *msg, sig[64];
    size_t len;
    /* contributor 4 silently dropped: not listed, not rejected */
    cx_statement_rejected none[1];
    stmt_opts drop = {.rejected = none, .n_rejected = 0};
    make_statement_opts(f, &f->job, rows, 4, NULL, &drop, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "neither accepted nor rejected"));
    char who[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(cx_chain_key_address(f->contrib[4]), who);
    assert_non_null(strstr(e.msg, who));
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_ACCEPTED);
    assert_int_equal(bal(f, cx_chain_key_address(f->contrib[0])), 0);
    free(msg);
    /* a rejected entry that is no contribution of the pool (another blob id) */
    cx_statement_rejected bogus[1] = {{{0}, {0}, 32, CX_REJECT_HEADER}};
    memcpy(bogus[0].contributor, cx_chain_key_address(f->contrib[4])->b, 32);
    memset(bogus[0].blob_id, 0x7e, 32);
    stmt_opts wrong = {.rejected = bogus, .n_rejected = 1};
    make_statement_opts(f, &f->job, rows, 4, NULL, &wrong, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "neither accepted nor rejected"));
    free(msg);
    /* ... also when everybody is accounted for */
    make_statement_opts(f, &f->job, rows, NCONTRIB, NULL, &wrong, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "is not one the job's pool registered"));
    free(msg);
    /* a contribution registered after the job was created is not the job's: not required */
    f->now += 1000;
    uint8_t late[32];
    memset(late, 0x4f, sizeof late);
    cx_chain_id lid;
    assert_int_equal(
        cx_ledger_contribution_register(f->l, f->anyone, &f->pool, late, sizeof late, &lid, &e),
        CX_OK);
    /* contributor 4 rejected with a class: accounted for, the result pays the other four */
    make_statement(f, &f->job, rows, 4, NULL, &msg, &len, sig);
    if (submit(f, &f->job, &f->enclave, msg, len, sig, &e) != CX_OK)
        fail_msg("submit: %s", e.msg);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_PAID);
    assert_int_equal(bal(f, cx_chain_key_address(f->contrib[4])), 0);
    assert_true(bal(f, cx_chain_key_address(f->contrib[0])) > 0);
    free(msg);
}

/* The statement's config hash must be the job's spec hash on the ledger (the enclave ran the
 * spec the buyer paid for); a version 1 statement (no rejected list) and a version 2 one (no
 * ranks hash) are no longer taken; a version 3 one with a multi-rank job's ranks hash is. */
static void test_statement_spec_and_version(void **state)
{
    fx *f = *state;
    cx_error e;
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t *msg, sig[64];
    size_t len;
    stmt_opts other_spec = {.config_byte = 0x56};
    make_statement_opts(f, &f->job, rows, NCONTRIB, NULL, &other_spec, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "config hash is not the job's spec hash"));
    free(msg);
    stmt_opts v1 = {.version = CX_STATEMENT_VERSION_1};
    make_statement_opts(f, &f->job, rows, NCONTRIB, NULL, &v1, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "version 1"));
    free(msg);
    stmt_opts v2 = {.version = CX_STATEMENT_VERSION_2};
    make_statement_opts(f, &f->job, rows, NCONTRIB, NULL, &v2, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "version 2"));
    free(msg);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_ACCEPTED);
    assert_int_equal(bal(f, &f->protocol), 0);
    uint8_t ranks_hash[32];
    memset(ranks_hash, 0x5c, sizeof ranks_hash);
    stmt_opts v3 = {.ranks_hash = ranks_hash};
    make_statement_opts(f, &f->job, rows, NCONTRIB, NULL, &v3, &msg, &len, sig);
    if (submit(f, &f->job, &f->enclave, msg, len, sig, &e) != CX_OK)
        fail_msg("submit: %s", e.msg);
    free(msg);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_PAID);
    /* the recorded statement is the one signed, with its ranks hash */
    cx_ledger_result r;
    assert_int_equal(cx_ledger_result_get(f->l, &f->job, &r, NULL), CX_OK);
    cx_statement d;
    assert_int_equal(cx_statement_decode(r.statement, r.statement_len, &d, NULL, NULL), CX_OK);
    assert_int_equal(d.version, CX_STATEMENT_VERSION);
    assert_int_equal(d.ranks_hash_len, 32);
    assert_memory_equal(d.ranks_hash, ranks_hash, 32);
    cx_statement_free(&d);
    cx_ledger_result_free(&r);
}

/* An open job (no enclave took it) is refunded by anyone once its deadline passed. */
static void test_deadline_refunds(void **state)
{
    fx *f = *state;
    cx_error e;
    uint8_t spec[32];
    memset(spec, 0x55, 32);
    cx_chain_id job2;
    assert_int_equal(cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, NULL, 0, 5000,
                                          f->now + HOUR_MS, &job2, &e),
                     CX_OK);
    /* too early to refund */
    assert_int_equal(cx_ledger_job_refund_expired(f->l, f->anyone, &job2, &e), CX_ERR_STATE);
    f->now += HOUR_MS + 1;
    /* too late to accept */
    assert_int_equal(accept_as(f, &job2, &f->enclave, NULL, &e), CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "deadline"));
    assert_int_equal(cx_ledger_job_refund_expired(f->l, f->anyone, &job2, &e), CX_OK);
    assert_int_equal(job_state(f, &job2), CX_LEDGER_JOB_REFUNDED);
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 900000);
    assert_int_equal(cx_ledger_job_refund_expired(f->l, f->anyone, &job2, &e), CX_ERR_STATE);
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 900000);
}

/* Issue 13 item 3, on the ledger: once an enclave accepted a job, the escrow is locked to it
 * past the deadline for the grace period (its result is still taken, the buyer cannot pull
 * the money); after the grace period (an operator that vanished) the result is refused,
 * nothing is revealed, and anyone may refund. */
static void test_accepted_escrow_locked_until_grace(void **state)
{
    fx *f = *state;
    cx_error e;
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t *msg, sig[64];
    size_t len;
    f->now += HOUR_MS + 1; /* past the deadline */
    assert_int_equal(cx_ledger_job_refund_expired(f->l, f->buyer, &f->job, &e), CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "locked"));
    f->now += CX_LEDGER_RESULT_GRACE_MS - 2; /* the last moment of the grace period */
    assert_int_equal(cx_ledger_job_refund_expired(f->l, f->anyone, &f->job, &e), CX_ERR_STATE);
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    f->now += 2; /* grace over */
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "grace"));
    cx_ledger_result r;
    assert_int_equal(cx_ledger_result_get(f->l, &f->job, &r, &e), CX_ERR_NOTFOUND);
    assert_int_equal(cx_ledger_job_refund_expired(f->l, f->anyone, &f->job, &e), CX_OK);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_REFUNDED);
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 1000000);
    /* the refunded job takes no result and reveals no key */
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_ERR_STATE);
    assert_int_equal(cx_ledger_result_get(f->l, &f->job, &r, &e), CX_ERR_NOTFOUND);
    free(msg);
}

/* A result inside the grace period pays (the enclave accepted in time). */
static void test_result_in_grace_pays(void **state)
{
    fx *f = *state;
    cx_error e;
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t *msg, sig[64];
    size_t len;
    f->now += HOUR_MS + CX_LEDGER_RESULT_GRACE_MS / 2;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_OK);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_PAID);
    free(msg);
}

/* The accepting enclave's signed failure refunds the buyer at once and reveals nothing; a
 * failure signed by anyone else, or for a job nobody accepted, is refused. */
static void test_enclave_failure_refunds(void **state)
{
    fx *f = *state;
    cx_error e;
    cx_chain_msg m = {0};
    uint8_t other[32], *msg, sig[64];
    size_t len;
    memset(other, 0x99, 32);
    m.reason = CX_CHAIN_FAIL_DATA;
    make_msg(f, &f->job, CX_CHAIN_MSG_FAIL, other, &m, &msg, &len, sig);
    cx_ledger_signed sm = {msg, len, sig};
    assert_int_equal(cx_ledger_job_fail(f->l, f->buyer, &f->job, &sm, &e), CX_ERR_AUTH);
    free(msg);
    /* a job nobody accepted cannot be failed (the buyer waits for the deadline instead) */
    uint8_t spec[32];
    memset(spec, 0x55, 32);
    cx_chain_id job2;
    assert_int_equal(cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, NULL, 0, 5000,
                                          f->now + HOUR_MS, &job2, &e),
                     CX_OK);
    make_msg(f, &job2, CX_CHAIN_MSG_FAIL, NULL, &m, &msg, &len, sig);
    sm = (cx_ledger_signed){msg, len, sig};
    assert_int_equal(cx_ledger_job_fail(f->l, f->op, &job2, &sm, &e), CX_ERR_STATE);
    free(msg);
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 900000 - 5000);
    make_msg(f, &f->job, CX_CHAIN_MSG_FAIL, NULL, &m, &msg, &len, sig);
    sm = (cx_ledger_signed){msg, len, sig};
    assert_int_equal(cx_ledger_job_fail(f->l, f->op, &f->job, &sm, &e), CX_OK);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_REFUNDED);
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 1000000 - 5000);
    cx_ledger_job j;
    assert_int_equal(cx_ledger_job_get(f->l, &f->job, &j, NULL), CX_OK);
    assert_int_equal(j.fail_reason, CX_CHAIN_FAIL_DATA);
    assert_true(cx_chain_id_equal(&j.enclave_id, &f->enclave));
    assert_string_equal(cx_chain_fail_reason_name(j.fail_reason), "data");
    /* failed once; then neither a second failure nor a result */
    assert_int_equal(cx_ledger_job_fail(f->l, f->op, &f->job, &sm, &e), CX_ERR_STATE);
    free(msg);
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_ERR_STATE);
    free(msg);
}

/* RULES.md §2 "Accept": only an enclave the pool's operator added, signing for this job's
 * spec, once; a result only from the enclave that accepted. */
static void test_accept_rules(void **state)
{
    fx *f = *state;
    cx_error e;
    uint8_t spec[32];
    memset(spec, 0x55, 32);
    cx_chain_id job2, id2;
    assert_int_equal(cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, NULL, 0, 5000,
                                          f->now + HOUR_MS, &job2, &e),
                     CX_OK);
    /* a result before any acceptance */
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &job2, rows, NCONTRIB, NULL, &msg, &len, sig);
    assert_int_equal(submit(f, &job2, &f->enclave, msg, len, sig, &e), CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "no enclave has accepted"));
    /* an enclave with the right measurement that somebody else registered: not the pool's */
    uint8_t seed2[32];
    memset(seed2, 0x23, 32);
    cx_chain_key *k2;
    assert_int_equal(cx_chain_key_from_seed(seed2, &k2, NULL), CX_OK);
    cx_ledger_enclave en = {0};
    memcpy(en.ed25519_pk, cx_chain_key_public(k2), 32);
    memcpy(en.measurement, f->meas, sizeof f->meas);
    en.measurement_len = sizeof f->meas;
    set_doc_blob(&en, "doc-of-enclave-3");
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &id2, &e), CX_OK);
    assert_int_equal(accept_as(f, &job2, &id2, seed2, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "operator has not added"));
    /* the operator adds it; an acceptance signed by another key, or for another spec, fails */
    assert_int_equal(cx_ledger_pool_enclave_add(f->l, f->op, &f->pool, &id2, &e), CX_OK);
    assert_int_equal(cx_ledger_pool_enclave_add(f->l, f->op, &f->pool, &id2, &e), CX_ERR_STATE);
    assert_int_equal(accept_as(f, &job2, &id2, NULL, &e), CX_ERR_AUTH);
    cx_chain_msg m = {0};
    memset(m.config_hash, 0x56, 32);
    uint8_t *am, asig[64];
    size_t al;
    make_msg(f, &job2, CX_CHAIN_MSG_ACCEPT, seed2, &m, &am, &al, asig);
    cx_ledger_signed acc = {am, al, asig};
    assert_int_equal(cx_ledger_job_accept(f->l, f->op, &job2, &id2, &acc, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "spec"));
    free(am);
    assert_int_equal(accept_as(f, &job2, &id2, seed2, &e), CX_OK);
    assert_int_equal(accept_as(f, &job2, &f->enclave, NULL, &e), CX_ERR_STATE);
    cx_ledger_job j;
    assert_int_equal(cx_ledger_job_get(f->l, &job2, &j, NULL), CX_OK);
    assert_true(cx_chain_id_equal(&j.enclave_id, &id2));
    assert_int_equal(j.accepted_ms, f->now);
    /* the fixture enclave (also the pool's) cannot deliver the job enclave 2 accepted */
    assert_int_equal(submit(f, &job2, &f->enclave, msg, len, sig, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "another enclave"));
    cx_chain_key_free(k2);
    free(msg);
}

/* Issue 13 item 6: only the pool's operator makes an enclave a sealing target of the pool. */
static void test_only_operator_adds_pool_enclaves(void **state)
{
    fx *f = *state;
    cx_error e;
    cx_ledger_enclave en = {0};
    memset(en.ed25519_pk, 0x3c, 32);
    memcpy(en.measurement, f->meas, sizeof f->meas); /* a measurement the pool accepts */
    en.measurement_len = sizeof f->meas;
    set_doc_blob(&en, "doc-of-the-intruder");
    cx_chain_id id;
    f->now += 1000; /* registered last */
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &id, &e), CX_OK);
    assert_int_equal(cx_ledger_pool_enclave_add(f->l, f->anyone, &f->pool, &id, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "only the pool's operator"));
    cx_ledger_enclave *list;
    size_t n;
    assert_int_equal(cx_ledger_enclaves_for_pool(f->l, &f->pool, &list, &n, NULL), CX_OK);
    assert_int_equal(n, 1);
    assert_true(cx_chain_id_equal(&list[0].id, &f->enclave));
    free(list);
    /* unknown enclave or pool */
    cx_chain_id none;
    memset(none.b, 0xab, 32);
    assert_int_equal(cx_ledger_pool_enclave_add(f->l, f->op, &f->pool, &none, &e), CX_ERR_NOTFOUND);
    assert_int_equal(cx_ledger_pool_enclave_add(f->l, f->op, &none, &id, &e), CX_ERR_NOTFOUND);
}

static void test_job_and_blob_rules(void **state)
{
    fx *f = *state;
    cx_error e;
    uint8_t spec[32] = {0};
    cx_chain_id j;
    /* not enough balance, below price, deadline in the past */
    assert_int_equal(
        cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, NULL, 0, 5000000, f->now + 1, &j, &e),
        CX_ERR_STATE);
    assert_int_equal(
        cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, NULL, 0, 999, f->now + 1, &j, &e),
        CX_ERR_ARG);
    assert_int_equal(
        cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, NULL, 0, 1000, f->now, &j, &e),
        CX_ERR_ARG);
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 900000);
    /* a contributor registers a blob once; somebody else may claim the same id (blob ids are
     * public): the enclave pays only the one whose key sealed it, and the owner is not locked
     * out by whoever registered first */
    uint8_t blob[32];
    memset(blob, 0x30, sizeof blob);
    assert_int_equal(
        cx_ledger_contribution_register(f->l, f->contrib[0], &f->pool, blob, 32, &j, &e),
        CX_ERR_STATE);
    assert_non_null(strstr(e.msg, "already registered this blob"));
    memset(blob, 0x31, sizeof blob); /* contrib[1]'s blob, claimed by somebody else */
    cx_chain_id claim;
    assert_int_equal(
        cx_ledger_contribution_register(f->l, f->anyone, &f->pool, blob, 32, &claim, &e), CX_OK);
    assert_int_equal(
        cx_ledger_contribution_register(f->l, f->anyone, &f->pool, blob, 32, &j, &e),
        CX_ERR_STATE);
    cx_ledger_contribution *cs;
    size_t n;
    assert_int_equal(cx_ledger_contributions_list(f->l, &f->pool, &cs, &n, NULL), CX_OK);
    assert_int_equal(n, NCONTRIB + 1);
    assert_true(cx_chain_id_equal(&cs[0].contributor, cx_chain_key_address(f->contrib[0])));
    int owner = 0, claimant = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].blob_id_len != 32 || memcmp(cs[i].blob_id, blob, 32) != 0)
            continue;
        owner += cx_chain_id_equal(&cs[i].contributor, cx_chain_key_address(f->contrib[1]));
        claimant += cx_chain_id_equal(&cs[i].contributor, cx_chain_key_address(f->anyone)) &&
                    cx_chain_id_equal(&cs[i].id, &claim);
    }
    assert_int_equal(owner, 1);
    assert_int_equal(claimant, 1);
    free(cs);
    /* unknown pool */
    cx_chain_id nopool;
    memset(nopool.b, 1, 32);
    assert_int_equal(cx_ledger_contribution_register(f->l, f->anyone, &nopool, blob, 31, &j, &e),
                     CX_ERR_NOTFOUND);
    cx_ledger_pool p;
    assert_int_equal(cx_ledger_pool_get(f->l, &f->pool, &p, NULL), CX_OK);
    assert_string_equal(p.theme, "wearables and cardiac risk");
    assert_int_equal(p.n_measurements, 1);
    assert_memory_equal(p.measurements[0], f->meas, 48);
}

static void test_events_cursor(void **state)
{
    fx *f = *state;
    uint64_t rows[NCONTRIB] = {1, 2, 3, 4, 5};
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, NULL), CX_OK);
    free(msg);
    cx_ledger_event *all;
    size_t n_all;
    char next[CX_CHAIN_CURSOR_MAX];
    assert_int_equal(cx_ledger_events_read(f->l, "", 0, &all, &n_all, next, NULL), CX_OK);
    /* pool, enclave, its addition to the pool, 5 contributions, job, acceptance, result,
     * protocol + operator + 5 payouts */
    assert_int_equal(n_all, 1 + 1 + 1 + NCONTRIB + 1 + 1 + 1 + 2 + NCONTRIB);
    assert_int_equal(all[0].kind, CX_LEDGER_EV_POOL_CREATED);
    assert_string_equal(cx_ledger_event_kind_name(all[2].kind), "PoolEnclaveAdded");
    assert_true(cx_chain_id_equal(&all[2].object_id, &f->enclave));
    assert_int_equal(all[8].kind, CX_LEDGER_EV_JOB_CREATED);
    assert_int_equal(all[8].amount, 100000);
    assert_string_equal(cx_ledger_event_kind_name(all[9].kind), "JobAccepted");
    assert_int_equal(all[10].kind, CX_LEDGER_EV_RESULT_SUBMITTED);
    assert_string_equal(cx_ledger_event_kind_name(all[11].kind), "PaymentReleased");
    uint64_t paid = 0;
    for (size_t i = 11; i < n_all; i++)
        paid += all[i].amount;
    assert_int_equal(paid, 100000);
    /* paging by 3 yields the same stream */
    char cur[CX_CHAIN_CURSOR_MAX] = "";
    size_t seen = 0;
    for (;;) {
        cx_ledger_event *ev;
        size_t n;
        assert_int_equal(cx_ledger_events_read(f->l, cur, 3, &ev, &n, next, NULL), CX_OK);
        if (n == 0) {
            assert_string_equal(next, cur); /* nothing new: cursor unchanged */
            break;
        }
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(ev[i].seq, all[seen + i].seq);
            assert_int_equal(ev[i].kind, all[seen + i].kind);
        }
        seen += n;
        free(ev);
        snprintf(cur, sizeof cur, "%s", next);
    }
    assert_int_equal(seen, n_all);
    free(all);
    cx_error e;
    cx_ledger_event *ev;
    size_t n;
    assert_int_equal(cx_ledger_events_read(f->l, "x1", 3, &ev, &n, next, &e), CX_ERR_ARG);
}

/* Rows of a ledger table, read straight from the file (the txs table has no API). */
static long long count_rows(fx *f, const char *table)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* RULES.md §1.1: a refused call leaves nothing behind, not even its signed transaction; an
 * accepted one records exactly one transaction. */
static void test_refused_leaves_nothing(void **state)
{
    fx *f = *state;
    static const char *const tables[] = {"txs",     "events",        "pools",
                                         "enclaves", "contributions", "jobs",
                                         "results", "payouts",       "pool_enclaves",
                                         "job_messages"};
    enum { NT = sizeof tables / sizeof tables[0] };
    long long before[NT];
    for (size_t t = 0; t < NT; t++)
        before[t] = count_rows(f, tables[t]);
    /* pool, enclave, its addition, contributions, job, acceptance */
    assert_int_equal(before[0], 1 + 1 + 1 + NCONTRIB + 1 + 1);
    cx_error e;
    cx_chain_id id, nopool;
    memset(nopool.b, 1, 32);
    uint8_t spec[32] = {0}, blob[32];
    memset(blob, 0x30, sizeof blob); /* contributor 0's blob */
    cx_ledger_enclave en = {0};
    memcpy(en.ed25519_pk, cx_chain_key_public(f->enclave_key), 32); /* already registered */
    memcpy(en.measurement, f->meas, sizeof f->meas);
    en.measurement_len = sizeof f->meas;
    set_doc_blob(&en, "another-doc");
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t other[32], *msg, sig[64];
    size_t len;
    memset(other, 0x99, 32);
    make_statement(f, &f->job, rows, NCONTRIB, other, &msg, &len, sig);
    assert_int_equal(
        cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, NULL, 0, 5000000, f->now + 1, &id, &e),
        CX_ERR_STATE);
    assert_int_equal(
        cx_ledger_job_create(f->l, f->buyer, &nopool, spec, NULL, 0, 5000, f->now + 1, &id, &e),
        CX_ERR_NOTFOUND);
    assert_int_equal(
        cx_ledger_contribution_register(f->l, f->contrib[0], &f->pool, blob, 32, &id, &e),
        CX_ERR_STATE); /* its own blob, again */
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &id, &e), CX_ERR_STATE);
    assert_int_equal(cx_ledger_job_refund_expired(f->l, f->anyone, &f->job, &e), CX_ERR_STATE);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e),
                     CX_ERR_AUTH);
    assert_int_equal(submit(f, &nopool, &f->enclave, msg, len, sig, &e),
                     CX_ERR_NOTFOUND);
    assert_int_equal(cx_ledger_pool_enclave_add(f->l, f->anyone, &f->pool, &f->enclave, &e),
                     CX_ERR_VERIFY);
    assert_int_equal(accept_as(f, &f->job, &f->enclave, NULL, &e), CX_ERR_STATE);
    free(msg);
    for (size_t t = 0; t < NT; t++)
        if (count_rows(f, tables[t]) != before[t])
            fail_msg("a refused call left rows in %s", tables[t]);
    assert_int_equal(bal(f, cx_chain_key_address(f->buyer)), 900000);
    /* one accepted call: one transaction, one event, one object */
    blob[0] = 0x01;
    assert_int_equal(cx_ledger_contribution_register(f->l, f->anyone, &f->pool, blob, 32, &id, &e),
                     CX_OK);
    assert_int_equal(count_rows(f, "txs"), before[0] + 1);
    assert_int_equal(count_rows(f, "events"), before[1] + 1);
    assert_int_equal(count_rows(f, "contributions"), before[4] + 1);
}

/* Lists longer than their first allocation come back whole and in order; gets of unknown ids
 * name what is missing. */
static void test_lists_and_gets(void **state)
{
    fx *f = *state;
    cx_error e;
    enum { MORE_BLOBS = 40, MORE_ENCLAVES = 9 };
    cx_chain_id ids[MORE_BLOBS], enc[MORE_ENCLAVES];
    for (int i = 0; i < MORE_BLOBS; i++) {
        uint8_t blob[3] = {'x', (uint8_t)i, (uint8_t)(i * 7)};
        assert_int_equal(cx_ledger_contribution_register(f->l, f->anyone, &f->pool, blob,
                                                         sizeof blob, &ids[i], &e),
                         CX_OK);
    }
    cx_ledger_contribution *cs;
    size_t n;
    assert_int_equal(cx_ledger_contributions_list(f->l, &f->pool, &cs, &n, NULL), CX_OK);
    assert_int_equal(n, NCONTRIB + MORE_BLOBS);
    for (int i = 0; i < MORE_BLOBS; i++) {
        const cx_ledger_contribution *c = &cs[NCONTRIB + i];
        assert_true(cx_chain_id_equal(&c->id, &ids[i]));
        assert_true(cx_chain_id_equal(&c->pool_id, &f->pool));
        assert_true(cx_chain_id_equal(&c->contributor, cx_chain_key_address(f->anyone)));
        assert_int_equal(c->blob_id_len, 3);
        assert_int_equal(c->blob_id[1], i);
        assert_int_equal(c->created_ms, f->now);
    }
    free(cs);
    /* enclaves of the pool: the most recently added first */
    for (int i = 0; i < MORE_ENCLAVES; i++) {
        f->now += 1000;
        cx_ledger_enclave en = {0};
        memset(en.ed25519_pk, 0x60 + i, 32);
        memcpy(en.measurement, f->meas, sizeof f->meas);
        en.measurement_len = sizeof f->meas;
        en.attestation_blob_id[0] = (uint8_t)(0x70 + i);
        en.attestation_blob_id_len = 1;
        assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &enc[i], &e), CX_OK);
        assert_int_equal(cx_ledger_pool_enclave_add(f->l, f->op, &f->pool, &enc[i], &e), CX_OK);
    }
    cx_ledger_enclave *list;
    assert_int_equal(cx_ledger_enclaves_for_pool(f->l, &f->pool, &list, &n, NULL), CX_OK);
    assert_int_equal(n, 1 + MORE_ENCLAVES);
    for (int i = 0; i < MORE_ENCLAVES; i++) {
        const cx_ledger_enclave *en = &list[MORE_ENCLAVES - 1 - i];
        assert_true(cx_chain_id_equal(&en->id, &enc[i]));
        assert_int_equal(en->ed25519_pk[0], 0x60 + i);
        assert_int_equal(en->measurement_len, sizeof f->meas);
        assert_int_equal(en->attestation_blob_id_len, 1);
        assert_int_equal(en->attestation_blob_id[0], 0x70 + i);
        assert_true(cx_chain_id_equal(&en->registered_by, cx_chain_key_address(f->anyone)));
    }
    assert_true(cx_chain_id_equal(&list[MORE_ENCLAVES].id, &f->enclave));
    free(list);
    cx_ledger_enclave one;
    assert_int_equal(cx_ledger_enclave_get(f->l, &enc[3], &one, NULL), CX_OK);
    assert_int_equal(one.ed25519_pk[31], 0x63);
    cx_ledger_job j;
    assert_int_equal(cx_ledger_job_get(f->l, &f->job, &j, NULL), CX_OK);
    assert_true(cx_chain_id_equal(&j.id, &f->job));
    assert_true(cx_chain_id_equal(&j.pool_id, &f->pool));
    assert_true(cx_chain_id_equal(&j.buyer, cx_chain_key_address(f->buyer)));
    assert_int_equal(j.payment, 100000);
    assert_int_equal(j.spec_blob_id_len, 4);
    assert_memory_equal(j.spec_blob_id, "spec", 4);
    /* unknown ids */
    cx_chain_id none;
    memset(none.b, 0xab, 32);
    cx_ledger_pool p;
    cx_ledger_result r;
    assert_int_equal(cx_ledger_pool_get(f->l, &none, &p, &e), CX_ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "no pool 0xabab"));
    assert_int_equal(cx_ledger_enclave_get(f->l, &none, &one, &e), CX_ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "no enclave 0xabab"));
    assert_int_equal(cx_ledger_job_get(f->l, &none, &j, &e), CX_ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "no job 0xabab"));
    assert_int_equal(cx_ledger_result_get(f->l, &f->job, &r, &e), CX_ERR_NOTFOUND);
    assert_int_equal(cx_ledger_enclaves_for_pool(f->l, &none, &list, &n, &e), CX_ERR_NOTFOUND);
    assert_null(list);
    assert_int_equal(n, 0);
}

static void test_schema_version(void **state)
{
    fx *f = *state;
    cx_ledger_close(f->l);
    f->l = NULL;
    /* reopening keeps everything */
    open_ledger(f);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_ACCEPTED);
    cx_ledger_close(f->l);
    f->l = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    int v = -1;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(v, CX_LEDGER_LOCAL_SCHEMA_VERSION);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cx_error e;
    cx_ledger *l;
    assert_int_equal(cx_ledger_local_open(f->path, NULL, &l, &e), CX_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "99"));
    /* put it back so teardown's state is consistent */
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char restore[64];
    snprintf(restore, sizeof restore, "PRAGMA user_version=%d", CX_LEDGER_LOCAL_SCHEMA_VERSION);
    assert_int_equal(sqlite3_exec(db, restore, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    open_ledger(f);
}

/* The enclave record keeps its document's blob id as given (the store's id, whatever its
 * scheme); a missing or over-long id is refused before any transaction. */
static void test_enclave_doc_blob_id(void **state)
{
    fx *f = *state;
    cx_ledger_enclave got;
    assert_int_equal(cx_ledger_enclave_get(f->l, &f->enclave, &got, NULL), CX_OK);
    assert_int_equal(got.attestation_blob_id_len, strlen(FIXTURE_DOC_BLOB));
    assert_memory_equal(got.attestation_blob_id, FIXTURE_DOC_BLOB, strlen(FIXTURE_DOC_BLOB));
    assert_int_equal(got.attestation_hash[0], 0x22);

    long long txs = count_rows(f, "txs");
    cx_ledger_enclave en = {0};
    memset(en.ed25519_pk, 0x5a, 32);
    memcpy(en.measurement, f->meas, sizeof f->meas);
    en.measurement_len = sizeof f->meas;
    cx_chain_id id;
    cx_error e;
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &id, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "blob id must be 1..64 bytes"));
    en.attestation_blob_id_len = CX_CHAIN_BLOB_ID_MAX + 1;
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &id, &e), CX_ERR_ARG);
    assert_int_equal(count_rows(f, "txs"), txs);
    /* the longest id is kept whole */
    memset(en.attestation_blob_id, 'z', CX_CHAIN_BLOB_ID_MAX);
    en.attestation_blob_id_len = CX_CHAIN_BLOB_ID_MAX;
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &id, &e), CX_OK);
    assert_int_equal(cx_ledger_enclave_get(f->l, &id, &got, NULL), CX_OK);
    assert_int_equal(got.attestation_blob_id_len, CX_CHAIN_BLOB_ID_MAX);
    assert_memory_equal(got.attestation_blob_id, en.attestation_blob_id, CX_CHAIN_BLOB_ID_MAX);
}

/* Turns a current file back into schema version 4 (no sealing in the pool policy). */
#define TO_V4_SQL "ALTER TABLE pools DROP COLUMN sealing;"
static const char to_v4[] = "BEGIN;" TO_V4_SQL "PRAGMA user_version=4;"
                            "COMMIT;";

/* Turns a current file back into schema version 3 (no pool policy), as the code before the
 * policy wrote it. */
#define TO_V3_SQL                                                                                  \
    TO_V4_SQL                                                                                      \
    "DROP TABLE pool_forbidden_columns;"                                                           \
    "ALTER TABLE pools DROP COLUMN require_dp;"                                                    \
    "ALTER TABLE pools DROP COLUMN max_epsilon_micro;"                                             \
    "ALTER TABLE pools DROP COLUMN max_params;"                                                    \
    "ALTER TABLE pools DROP COLUMN max_epochs;"                                                    \
    "ALTER TABLE pools DROP COLUMN max_flops;"
static const char to_v3[] = "BEGIN;" TO_V3_SQL "PRAGMA user_version=3;"
                            "COMMIT;";

/* Turns a current file back into schema version 2 (no pool enclaves, no job messages, no
 * accepted state, no model keys); an accepted job goes back to open. */
static const char to_v2[] =
    "BEGIN;" TO_V3_SQL
    "DROP TABLE pool_enclaves;"
    "DROP TABLE job_messages;"
    "CREATE TABLE j2(id BLOB PRIMARY KEY, pool_id BLOB NOT NULL REFERENCES pools(id),"
    " buyer BLOB NOT NULL, spec_hash BLOB NOT NULL, spec_blob_id BLOB NOT NULL,"
    " payment INTEGER NOT NULL CHECK(payment > 0), deadline_ms INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, state INTEGER NOT NULL CHECK(state IN (0, 1, 2)));"
    "INSERT INTO j2 SELECT id, pool_id, buyer, spec_hash, spec_blob_id, payment, deadline_ms,"
    " created_ms, CASE state WHEN 3 THEN 0 ELSE state END FROM jobs;"
    "DROP TABLE jobs;"
    "ALTER TABLE j2 RENAME TO jobs;"
    "ALTER TABLE results DROP COLUMN model_key;"
    "PRAGMA user_version=2;"
    "COMMIT;";

static void exec_on_file(fx *f, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("rewriting the ledger file: %s", msg);
    sqlite3_close(db);
}

/* A version-2 ledger opens as version 3: its jobs keep their state and money, and only the
 * enclaves the new rule allows become the pool's (registered by the pool's operator, with a
 * measurement the pool accepts); its jobs then follow the new state machine. */
static void test_schema_migration_v2(void **state)
{
    fx *f = *state;
    cx_error e;
    /* beside the fixture's enclave (the operator's): one by somebody else, one by the
     * operator with a measurement the pool does not accept */
    cx_ledger_enclave en = {0};
    cx_chain_id other, wrong;
    memset(en.ed25519_pk, 0x41, 32);
    memcpy(en.measurement, f->meas, sizeof f->meas);
    en.measurement_len = sizeof f->meas;
    set_doc_blob(&en, "someone-elses");
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &other, &e), CX_OK);
    memset(en.ed25519_pk, 0x42, 32);
    memset(en.measurement, 0xbb, sizeof f->meas);
    assert_int_equal(cx_ledger_enclave_register(f->l, f->op, &en, &wrong, &e), CX_OK);
    cx_ledger_close(f->l);
    f->l = NULL;
    exec_on_file(f, to_v2);
    open_ledger(f);
    cx_ledger_enclave *list;
    size_t n;
    assert_int_equal(cx_ledger_enclaves_for_pool(f->l, &f->pool, &list, &n, NULL), CX_OK);
    assert_int_equal(n, 1);
    assert_true(cx_chain_id_equal(&list[0].id, &f->enclave));
    free(list);
    cx_ledger_job j;
    assert_int_equal(cx_ledger_job_get(f->l, &f->job, &j, NULL), CX_OK);
    assert_int_equal(j.state, CX_LEDGER_JOB_OPEN);
    assert_int_equal(j.payment, 100000);
    assert_true(cx_chain_id_is_zero(&j.enclave_id));
    /* the migrated job runs through the new state machine */
    assert_int_equal(accept_as(f, &f->job, &f->enclave, NULL, &e), CX_OK);
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_OK);
    cx_ledger_result r;
    assert_int_equal(cx_ledger_result_get(f->l, &f->job, &r, NULL), CX_OK);
    assert_int_equal(r.model_key_len, WRAPPED_KEY_LEN);
    cx_ledger_result_free(&r);
    free(msg);
}

static int file_schema_version(fx *f)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Rewrites the fixture's closed ledger file back to an older schema, then opens it: the
 * opening must migrate it to the current version. */
static void reopen_migrated(fx *f, const char *to_old, int old_version)
{
    cx_ledger_close(f->l);
    f->l = NULL;
    exec_on_file(f, to_old);
    assert_int_equal(file_schema_version(f), old_version);
    open_ledger(f);
    assert_int_equal(file_schema_version(f), CX_LEDGER_LOCAL_SCHEMA_VERSION);
}

/* A policy of every kind, for pool creation. */
static void full_policy(cx_ledger_pool_policy *pol)
{
    memset(pol, 0, sizeof *pol);
    pol->require_dp = 1;
    pol->max_epsilon_micro = 8000000;
    pol->max_params = 5000;
    pol->max_epochs = 20;
    pol->max_flops = 1000000000000ull;
    pol->sealing = CX_LEDGER_SEALING_SEAL;
    snprintf(pol->forbidden_columns[0], sizeof pol->forbidden_columns[0], "ssn");
    snprintf(pol->forbidden_columns[1], sizeof pol->forbidden_columns[1], "Zip Code");
    pol->n_forbidden = 2;
}

static cx_err pool_with_policy(fx *f, const cx_ledger_pool_policy *pol, cx_chain_id *out,
                               cx_error *e)
{
    cx_ledger_pool_params p = {0};
    p.theme = "policy";
    p.price = 10;
    p.min_contributors = 1;
    p.max_rows_per_contributor = 100;
    p.measurements[0] = f->meas;
    p.measurement_lens[0] = sizeof f->meas;
    p.n_measurements = 1;
    p.operator_addr = *cx_chain_key_address(f->op);
    p.policy = *pol;
    return cx_ledger_pool_create(f->l, f->op, &p, out, e);
}

/* A pool keeps the policy it was created with (RULES.md §1 Pool policy), and a malformed
 * policy is refused before anything is written. */
static void test_pool_policy(void **state)
{
    fx *f = *state;
    cx_error e;
    cx_ledger_pool_policy pol;
    full_policy(&pol);
    cx_chain_id id;
    assert_int_equal(pool_with_policy(f, &pol, &id, &e), CX_OK);
    cx_ledger_pool got;
    assert_int_equal(cx_ledger_pool_get(f->l, &id, &got, &e), CX_OK);
    assert_int_equal(got.policy.require_dp, 1);
    assert_int_equal(got.policy.max_epsilon_micro, 8000000);
    assert_int_equal(got.policy.max_params, 5000);
    assert_int_equal(got.policy.max_epochs, 20);
    assert_int_equal(got.policy.max_flops, 1000000000000ull);
    assert_int_equal(got.policy.n_forbidden, 2);
    assert_string_equal(got.policy.forbidden_columns[0], "ssn");
    assert_string_equal(got.policy.forbidden_columns[1], "Zip Code");
    assert_true(cx_ledger_policy_forbids(&got.policy, "SSN"));
    assert_true(cx_ledger_policy_forbids(&got.policy, "zip code"));
    assert_false(cx_ledger_policy_forbids(&got.policy, "ssn2"));
    assert_int_equal(got.policy.sealing, CX_LEDGER_SEALING_SEAL);
    assert_true(cx_ledger_pool_accepts_sealing(&got.policy, CX_LEDGER_SEALING_SEAL));
    assert_false(cx_ledger_pool_accepts_sealing(&got.policy, CX_LEDGER_SEALING_HPKE));
    /* the fixture's pool, created without one, has none */
    assert_int_equal(cx_ledger_pool_get(f->l, &f->pool, &got, &e), CX_OK);
    assert_int_equal(got.policy.require_dp, 0);
    assert_int_equal(got.policy.n_forbidden, 0);
    assert_int_equal(got.policy.max_epochs, 0);
    assert_int_equal(got.policy.sealing, 0);
    assert_true(cx_ledger_pool_accepts_sealing(&got.policy, CX_LEDGER_SEALING_SEAL));
    assert_true(cx_ledger_pool_accepts_sealing(&got.policy, CX_LEDGER_SEALING_HPKE));

    size_t events_before = 0;
    cx_ledger_event *ev;
    char cur[CX_CHAIN_CURSOR_MAX];
    assert_int_equal(cx_ledger_events_read(f->l, "", 0, &ev, &events_before, cur, &e), CX_OK);
    free(ev);
    full_policy(&pol);
    snprintf(pol.forbidden_columns[1], sizeof pol.forbidden_columns[1], "SSN");
    assert_int_equal(pool_with_policy(f, &pol, &id, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "twice"));
    full_policy(&pol);
    pol.forbidden_columns[1][0] = 0;
    assert_int_equal(pool_with_policy(f, &pol, &id, &e), CX_ERR_ARG);
    full_policy(&pol);
    pol.n_forbidden = CX_CHAIN_FORBIDDEN_MAX + 1;
    assert_int_equal(pool_with_policy(f, &pol, &id, &e), CX_ERR_ARG);
    full_policy(&pol);
    pol.max_flops = UINT64_MAX;
    assert_int_equal(pool_with_policy(f, &pol, &id, &e), CX_ERR_LIMIT);
    full_policy(&pol);
    pol.sealing = 4;
    assert_int_equal(pool_with_policy(f, &pol, &id, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "sealing"));
    size_t events_after = 0;
    assert_int_equal(cx_ledger_events_read(f->l, "", 0, &ev, &events_after, cur, &e), CX_OK);
    free(ev);
    assert_int_equal(events_after, events_before);
}

/* A version-4 ledger (no sealing in the policy) opens as version 5: its pools accept either
 * sealing, what they took before; a pool created afterwards keeps the one it states. */
static void test_schema_migration_v4(void **state)
{
    fx *f = *state;
    cx_error e;
    reopen_migrated(f, to_v4, 4);
    cx_ledger_pool got;
    assert_int_equal(cx_ledger_pool_get(f->l, &f->pool, &got, &e), CX_OK);
    assert_int_equal(got.policy.sealing, 0);
    assert_true(cx_ledger_pool_accepts_sealing(&got.policy, CX_LEDGER_SEALING_HPKE));
    assert_true(cx_ledger_pool_accepts_sealing(&got.policy, CX_LEDGER_SEALING_SEAL));
    cx_ledger_pool_policy pol;
    full_policy(&pol);
    pol.sealing = CX_LEDGER_SEALING_HPKE;
    cx_chain_id id;
    assert_int_equal(pool_with_policy(f, &pol, &id, &e), CX_OK);
    assert_int_equal(cx_ledger_pool_get(f->l, &id, &got, &e), CX_OK);
    assert_int_equal(got.policy.sealing, CX_LEDGER_SEALING_HPKE);
}

/* A version-3 ledger (pools without a policy) opens as the current version: its pools read with no
 * policy and its jobs keep running; a pool created afterwards keeps its policy. */
static void test_schema_migration_v3(void **state)
{
    fx *f = *state;
    cx_error e;
    reopen_migrated(f, to_v3, 3);
    cx_ledger_pool got;
    assert_int_equal(cx_ledger_pool_get(f->l, &f->pool, &got, &e), CX_OK);
    assert_int_equal(got.policy.require_dp, 0);
    assert_int_equal(got.policy.max_epsilon_micro, 0);
    assert_int_equal(got.policy.n_forbidden, 0);
    assert_int_equal(got.price, 1000);
    assert_int_equal(got.n_measurements, 1);
    /* the accepted job of the v3 file is paid through as before */
    uint64_t rows[NCONTRIB] = {10, 10, 10, 10, 10};
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e), CX_OK);
    free(msg);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_PAID);
    cx_ledger_pool_policy pol;
    full_policy(&pol);
    cx_chain_id id;
    assert_int_equal(pool_with_policy(f, &pol, &id, &e), CX_OK);
    assert_int_equal(cx_ledger_pool_get(f->l, &id, &got, &e), CX_OK);
    assert_int_equal(got.policy.n_forbidden, 2);
    assert_int_equal(got.policy.max_epochs, 20);
}

/* A version-1 ledger (blob ids unique over the whole ledger) opens as version 3: its
 * contributions are kept, and another contributor may then claim one of its blob ids;
 * its enclaves get an empty document blob id. */
static void test_schema_migration_v1(void **state)
{
    fx *f = *state;
    cx_ledger_close(f->l);
    f->l = NULL;
    cx_chain_id pool = f->pool, enclave = f->enclave;
    /* turn the fixture's file back into version 1: the old contributions table, and enclaves
     * without a document blob id */
    exec_on_file(f, to_v2);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    const char *to_v1 =
        "BEGIN;"
        "CREATE TABLE c1(id BLOB PRIMARY KEY, pool_id BLOB NOT NULL REFERENCES pools(id),"
        " blob_id BLOB NOT NULL UNIQUE, contributor BLOB NOT NULL, created_ms INTEGER NOT NULL);"
        "INSERT INTO c1 SELECT id, pool_id, blob_id, contributor, created_ms FROM contributions;"
        "DROP TABLE contributions;"
        "ALTER TABLE c1 RENAME TO contributions;"
        "CREATE INDEX contributions_pool ON contributions(pool_id, contributor);"
        "ALTER TABLE enclaves DROP COLUMN attestation_blob_id;"
        "PRAGMA user_version=1;"
        "COMMIT;";
    char *msg = NULL;
    if (sqlite3_exec(db, to_v1, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("making a v1 file: %s", msg);
    sqlite3_close(db);

    open_ledger(f);
    cx_ledger_contribution *cs;
    size_t n;
    assert_int_equal(cx_ledger_contributions_list(f->l, &pool, &cs, &n, NULL), CX_OK);
    assert_int_equal(n, NCONTRIB);
    free(cs);
    uint8_t blob[32];
    memset(blob, 0x32, sizeof blob);
    cx_chain_id j;
    cx_error e;
    assert_int_equal(cx_ledger_contribution_register(f->l, f->anyone, &pool, blob, 32, &j, &e),
                     CX_OK);
    assert_int_equal(
        cx_ledger_contribution_register(f->l, f->contrib[2], &pool, blob, 32, &j, &e),
        CX_ERR_STATE);
    /* an enclave registered under v1 reads back with an empty blob id (readers then use
     * base64url(attestation_hash)); one registered now keeps its id */
    cx_ledger_enclave old, en = {0}, got;
    assert_int_equal(cx_ledger_enclave_get(f->l, &enclave, &old, NULL), CX_OK);
    assert_int_equal(old.attestation_blob_id_len, 0);
    assert_int_equal(old.attestation_hash[31], 0x22);
    assert_int_equal(old.measurement_len, sizeof f->meas);
    memset(en.ed25519_pk, 0x77, 32);
    memcpy(en.measurement, f->meas, sizeof f->meas);
    en.measurement_len = sizeof f->meas;
    set_doc_blob(&en, "after-migration");
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &j, &e), CX_OK);
    assert_int_equal(cx_ledger_enclave_get(f->l, &j, &got, NULL), CX_OK);
    assert_int_equal(got.attestation_blob_id_len, strlen("after-migration"));
    assert_memory_equal(got.attestation_blob_id, "after-migration", strlen("after-migration"));
    /* the pool's enclaves: the v1 one its operator registered, not the one registered now by
     * somebody else */
    cx_ledger_enclave *list;
    assert_int_equal(cx_ledger_enclaves_for_pool(f->l, &pool, &list, &n, NULL), CX_OK);
    assert_int_equal(n, 1);
    assert_true(cx_chain_id_equal(&list[0].id, &enclave));
    assert_int_equal(list[0].attestation_blob_id_len, 0);
    free(list);
    cx_ledger_close(f->l);
    f->l = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), CX_LEDGER_LOCAL_SCHEMA_VERSION);
    sqlite3_finalize(st);
    sqlite3_close(db);
    open_ledger(f);
}

/* A database failure while recording a payout (here a trigger standing in for a full disk or
 * an I/O error) is a database error the worker retries, not "already paid": nothing of the
 * transaction stays, and the same result is accepted once the database works again. */
static void test_payout_db_failure_retryable(void **state)
{
    fx *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER fail_payout BEFORE INSERT ON payouts "
                                  "BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    uint64_t rows[NCONTRIB] = {10, 20, 30, 40, 50};
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    cx_error e;
    assert_int_equal(submit(f, &f->job, &f->enclave, msg, len, sig, &e),
                     CX_ERR_DB);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_ACCEPTED);
    cx_ledger_result r;
    assert_int_equal(cx_ledger_result_get(f->l, &f->job, &r, NULL), CX_ERR_NOTFOUND);
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER fail_payout", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    if (submit(f, &f->job, &f->enclave, msg, len, sig, &e) != CX_OK)
        fail_msg("resubmit: %s", e.msg);
    assert_int_equal(job_state(f, &f->job), CX_LEDGER_JOB_PAID);
    free(msg);
}

/* The ledger needs WAL. SQLite answers a journal_mode it cannot set for an in-memory database
 * with the mode it kept ("memory"), not an error, so the open must read that answer; a
 * rollback-journal file another connection holds a read lock on is refused too (busy). */
static void test_wal_required(void **state)
{
    fx *f = *state;
    cx_error e;
    cx_ledger *l = NULL;
    assert_int_equal(cx_ledger_local_open(":memory:", NULL, &l, &e), CX_ERR_DB);
    assert_null(l);
    assert_non_null(strstr(e.msg, "write-ahead"));
    assert_non_null(strstr(e.msg, "memory"));

    cx_ledger_close(f->l);
    f->l = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW); /* holds a SHARED lock */
    cx_ledger_local_opts o = {0};
    o.busy_timeout_ms = 50;
    assert_int_equal(cx_ledger_local_open(f->path, &o, &l, &e), CX_ERR_DB);
    assert_null(l);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    open_ledger(f); /* unlocked, WAL can be set again */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paid_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_measurement_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_other_job_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_k_not_reached_refunds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_contributor_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_contributor_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statement_spec_and_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_refunds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accepted_escrow_locked_until_grace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_in_grace_pays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enclave_failure_refunds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_operator_adds_pool_enclaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_and_blob_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_and_gets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_migration_v4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_migration_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_migration_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_migration_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enclave_doc_blob_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payout_db_failure_retryable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_required, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
