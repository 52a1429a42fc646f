/* chain_testutil.h — the local ledger fixture the chain tests share: a pool with its operator's
 * enclave, five contributors, an accepted job, and the enclave's signed statements and messages. */
#ifndef CX_TESTS_CHAIN_TESTUTIL_H
#define CX_TESTS_CHAIN_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_chain.h"

#define NCONTRIB 5
#define HOUR_MS 3600000ull

typedef struct fx {
    char dir[64], path[128];
    uint64_t now;
    cx_ledger *l;
    cx_chain_key *op, *buyer, *anyone, *contrib[NCONTRIB];
    uint8_t enclave_seed[32];
    cx_chain_key *enclave_key; /* same seed: gives the pk */
    uint8_t meas[48];
    cx_chain_id pool, enclave, job;
    cx_chain_addr protocol;
} fx;

static inline uint64_t clock_fn(void *ud)
{
    return ((fx *)ud)->now;
}

static inline void open_ledger(fx *f)
{
    cx_ledger_local_opts o = {0};
    o.protocol_addr = f->protocol;
    o.now_ms = clock_fn;
    o.clock_ud = f;
    cx_error e;
    if (cx_ledger_local_open(f->path, &o, &f->l, &e) != CX_OK)
        fail_msg("open: %s", e.msg);
}

/* the store id of an enclave's attestation document (a Walrus-like id: not a SHA-256) */
#define FIXTURE_DOC_BLOB "walrus-doc-0001"

static inline void set_doc_blob(cx_ledger_enclave *en, const char *id)
{
    en->attestation_blob_id_len = strlen(id);
    memcpy(en->attestation_blob_id, id, en->attestation_blob_id_len);
}

/* An enclave job message (RULES.md §6) for job, signed with seed (NULL: the fixture enclave). */
static inline void make_msg(fx *f, const cx_chain_id *job, uint8_t intent, const uint8_t *seed,
                            cx_chain_msg *m, uint8_t **out, size_t *len, uint8_t sig[64])
{
    m->intent = intent;
    m->version = CX_CHAIN_MSG_VERSION;
    m->timestamp_ms = f->now;
    m->job_id = *job;
    m->pool_id = f->pool;
    memcpy(m->code_measurement, f->meas, sizeof f->meas);
    m->code_measurement_len = sizeof f->meas;
    cx_error e;
    if (cx_chain_msg_encode(m, out, len, &e) != CX_OK)
        fail_msg("encode message: %s", e.msg);
    assert_int_equal(cx_ed25519_sign(seed ? seed : f->enclave_seed, *out, *len, sig, &e), CX_OK);
}

/* The enclave (signing with seed, NULL: the fixture's) accepts job for the fixture's spec. */
static inline cx_err accept_as(fx *f, const cx_chain_id *job, const cx_chain_id *enclave,
                               const uint8_t *seed, cx_error *e)
{
    cx_chain_msg m = {0};
    memset(m.config_hash, 0x55, 32); /* the fixture's spec hash */
    uint8_t *msg, sig[64];
    size_t len;
    make_msg(f, job, CX_CHAIN_MSG_ACCEPT, seed, &m, &msg, &len, sig);
    cx_ledger_signed sm = {msg, len, sig};
    cx_err rc = cx_ledger_job_accept(f->l, f->op, job, enclave, &sm, e);
    free(msg);
    return rc;
}

/* The wrapped model key of the fixture's key releases. */
#define WRAPPED_KEY_LEN 80
#define wrapped_key_byte ((uint8_t)0xc3)

/* A key release for job's model (result hash 0x77.., as make_statement's), signed with seed. */
static inline void make_key_release(fx *f, const cx_chain_id *job, const uint8_t *seed,
                                    uint8_t **out, size_t *len, uint8_t sig[64])
{
    cx_chain_msg m = {0};
    memset(m.result_hash, 0x77, 32);
    memset(m.wrapped_key, wrapped_key_byte, WRAPPED_KEY_LEN);
    m.wrapped_key_len = WRAPPED_KEY_LEN;
    make_msg(f, job, CX_CHAIN_MSG_KEY, seed, &m, out, len, sig);
}

/* Submits a statement with the fixture enclave's key release for its model. */
static inline cx_err submit(fx *f, const cx_chain_id *job, const cx_chain_id *enclave,
                            const uint8_t *msg, size_t len, const uint8_t *sig, cx_error *e)
{
    uint8_t *km, ksig[64];
    size_t kl;
    make_key_release(f, job, NULL, &km, &kl, ksig);
    cx_ledger_signed st = {msg, len, sig}, key = {km, kl, ksig};
    cx_err rc = cx_ledger_result_submit(f->l, f->op, job, enclave, &st, &key, e);
    free(km);
    return rc;
}

/* The fixture's blob of contributor i: 32 bytes of 0x30 + i. */
static inline void fixture_blob(int i, uint8_t blob[32])
{
    memset(blob, 0x30 + i, 32);
}

static inline int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cx_ledger_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/ledger.db", f->dir);
    f->now = 1760000000000ull;
    memset(f->protocol.b, 0xee, 32);
    open_ledger(f);
    cx_error e;
    assert_int_equal(cx_chain_key_generate(&f->op, &e), CX_OK);
    assert_int_equal(cx_chain_key_generate(&f->buyer, &e), CX_OK);
    assert_int_equal(cx_chain_key_generate(&f->anyone, &e), CX_OK);
    for (int i = 0; i < NCONTRIB; i++)
        assert_int_equal(cx_chain_key_generate(&f->contrib[i], &e), CX_OK);
    for (int i = 0; i < 32; i++)
        f->enclave_seed[i] = (uint8_t)(0x40 + i);
    assert_int_equal(cx_chain_key_from_seed(f->enclave_seed, &f->enclave_key, &e), CX_OK);
    memset(f->meas, 0xaa, sizeof f->meas);

    cx_ledger_pool_params p = {0};
    p.theme = "wearables and cardiac risk";
    p.price = 1000;
    p.min_contributors = 3;
    p.max_rows_per_contributor = 1000;
    p.operator_fee_bps = 500;
    p.protocol_fee_bps = 100;
    p.measurements[0] = f->meas;
    p.measurement_lens[0] = sizeof f->meas;
    p.n_measurements = 1;
    p.operator_addr = *cx_chain_key_address(f->op);
    if (cx_ledger_pool_create(f->l, f->op, &p, &f->pool, &e) != CX_OK)
        fail_msg("pool: %s", e.msg);

    cx_ledger_enclave en = {0};
    memcpy(en.ed25519_pk, cx_chain_key_public(f->enclave_key), 32);
    memset(en.x25519_pk, 0x11, 32);
    memcpy(en.measurement, f->meas, sizeof f->meas);
    en.measurement_len = sizeof f->meas;
    memset(en.attestation_hash, 0x22, 32);
    set_doc_blob(&en, FIXTURE_DOC_BLOB);
    if (cx_ledger_enclave_register(f->l, f->op, &en, &f->enclave, &e) != CX_OK)
        fail_msg("enclave: %s", e.msg);
    if (cx_ledger_pool_enclave_add(f->l, f->op, &f->pool, &f->enclave, &e) != CX_OK)
        fail_msg("pool add enclave: %s", e.msg);

    for (int i = 0; i < NCONTRIB; i++) {
        uint8_t blob[32];
        fixture_blob(i, blob);
        cx_chain_id c;
        if (cx_ledger_contribution_register(f->l, f->contrib[i], &f->pool, blob, sizeof blob, &c,
                                            &e) != CX_OK)
            fail_msg("contribute: %s", e.msg);
    }
    assert_int_equal(cx_ledger_local_faucet(f->l, cx_chain_key_address(f->buyer), 1000000, &e),
                     CX_OK);
    uint8_t spec[32];
    memset(spec, 0x55, 32);
    if (cx_ledger_job_create(f->l, f->buyer, &f->pool, spec, (const uint8_t *)"spec", 4, 100000,
                             f->now + HOUR_MS, &f->job, &e) != CX_OK)
        fail_msg("job: %s", e.msg);
    if (accept_as(f, &f->job, &f->enclave, NULL, &e) != CX_OK)
        fail_msg("accept: %s", e.msg);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fx *f = *state;
    cx_ledger_close(f->l);
    cx_chain_key_free(f->op);
    cx_chain_key_free(f->buyer);
    cx_chain_key_free(f->anyone);
    cx_chain_key_free(f->enclave_key);
    for (int i = 0; i < NCONTRIB; i++)
        cx_chain_key_free(f->contrib[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* What a statement says beyond the rows: its version (0: current), its config hash, its
 * rejected contributions (NULL: those of the contributors past n, each its fixture blob) and its
 * ranks hash (NULL: none, a one-rank job). */
typedef struct stmt_opts {
    uint8_t version;
    uint8_t config_byte; /* 0: the fixture's spec hash 0x55.. */
    const cx_statement_rejected *rejected;
    size_t n_rejected;
    const uint8_t *ranks_hash; /* 32 bytes */
} stmt_opts;

static inline void make_statement_opts(fx *f, const cx_chain_id *job, const uint64_t *rows, int n,
                                       const uint8_t *seed, const stmt_opts *o, uint8_t **msg,
                                       size_t *len, uint8_t sig[64])
{
    cx_statement s;
    memset(&s, 0, sizeof s);
    s.version = o->version;
    memcpy(s.job_id, job->b, 32);
    memcpy(s.pool_id, f->pool.b, 32);
    memcpy(s.code_measurement, f->meas, sizeof f->meas);
    s.code_measurement_len = sizeof f->meas;
    memset(s.config_hash, o->config_byte ? o->config_byte : 0x55, 32);
    memset(s.dataset_commitment, 0x66, 32);
    memcpy(s.result_blob_id, "model-blob", 10);
    s.result_blob_id_len = 10;
    memset(s.result_hash, 0x77, 32);
    if (o->ranks_hash) {
        memcpy(s.ranks_hash, o->ranks_hash, 32);
        s.ranks_hash_len = 32;
    }
    cx_statement_rows r[NCONTRIB];
    for (int i = 0; i < n; i++) {
        memcpy(r[i].contributor, cx_chain_key_address(f->contrib[i])->b, 32);
        r[i].rows = rows[i];
    }
    s.rows = r;
    s.n_rows = (size_t)n;
    cx_statement_rejected rej[NCONTRIB];
    if (o->rejected) {
        s.rejected = (cx_statement_rejected *)o->rejected;
        s.n_rejected = o->n_rejected;
    } else {
        memset(rej, 0, sizeof rej);
        for (int i = n; i < NCONTRIB; i++) {
            cx_statement_rejected *x = &rej[s.n_rejected++];
            memcpy(x->contributor, cx_chain_key_address(f->contrib[i])->b, 32);
            fixture_blob(i, x->blob_id);
            x->blob_id_len = 32;
            x->reason = CX_REJECT_PARSE;
        }
        s.rejected = rej;
    }
    cx_statement_metric m = {"val_auc", 871234};
    s.metrics = &m;
    s.n_metrics = 1;
    s.dp_epsilon_micro = 3000000;
    s.dp_delta_1e12 = 10000000;
    cx_error e;
    if (cx_statement_encode(&s, f->now, msg, len, &e) != CX_OK)
        fail_msg("encode: %s", e.msg);
    assert_int_equal(cx_ed25519_sign(seed ? seed : f->enclave_seed, *msg, *len, sig, &e), CX_OK);
}

/* A statement for job with rows[i] accepted rows for contributor i (n of them); the fixture's
 * other contributors rejected. */
static inline void make_statement(fx *f, const cx_chain_id *job, const uint64_t *rows, int n,
                                  const uint8_t *seed, uint8_t **msg, size_t *len, uint8_t sig[64])
{
    stmt_opts o = {0};
    make_statement_opts(f, job, rows, n, seed, &o, msg, len, sig);
}

static inline uint64_t bal(fx *f, const cx_chain_addr *a)
{
    uint64_t v = 0;
    assert_int_equal(cx_ledger_balance_get(f->l, a, &v, NULL), CX_OK);
    return v;
}

static inline cx_ledger_job_state job_state(fx *f, const cx_chain_id *job)
{
    cx_ledger_job j;
    assert_int_equal(cx_ledger_job_get(f->l, job, &j, NULL), CX_OK);
    return j.state;
}

#endif
