/* test_chain_concurrency.c — two processes (fork) hammer one local ledger file at once:
 * no lost balance update, no lost contribution, and a result both race to submit pays once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_chain.h"

#define CREDITS 120
#define BLOBS 25
#define NCONTRIB 3

static uint8_t g_meas[48];

/* Runs in a child: returns 0 ok; 10 + submit result code otherwise encoded in bits. */
static int child(int gate, const char *path, int which, const cx_chain_id *job,
                 const cx_ledger_signed *stmt, const cx_ledger_signed *key,
                 const cx_chain_id *enclave, const cx_chain_addr *sink)
{
    /* both children start together: wait until the parent closes the gate */
    char g;
    if (read(gate, &g, 1) != 0)
        return 8;
    cx_ledger *l;
    cx_error e;
    if (cx_ledger_local_open(path, NULL, &l, &e) != CX_OK)
        return 2;
    cx_chain_key *k;
    if (cx_chain_key_generate(&k, &e) != CX_OK)
        return 3;
    cx_chain_id pool;
    cx_ledger_job j;
    if (cx_ledger_job_get(l, job, &j, &e) != CX_OK)
        return 4;
    pool = j.pool_id;
    int submitted = 0, submit_rc = -1;
    for (int i = 0; i < CREDITS; i++) {
        if (cx_ledger_local_faucet(l, sink, 1, &e) != CX_OK)
            return 5;
        if (i < BLOBS) {
            uint8_t blob[8] = {'b', (uint8_t)which, (uint8_t)i, 0, 0, 0, 0, 1};
            cx_chain_id c;
            if (cx_ledger_contribution_register(l, k, &pool, blob, sizeof blob, &c, &e) != CX_OK)
                return 6;
        }
        if (i == CREDITS / 2 && !submitted) {
            submit_rc = (int)cx_ledger_result_submit(l, k, job, enclave, stmt, key, &e);
            submitted = 1;
        }
    }
    cx_chain_key_free(k);
    cx_ledger_close(l);
    if (submit_rc == CX_OK)
        return 0;
    if (submit_rc == CX_ERR_STATE)
        return 1;
    return 7;
}

static void test_two_processes(void **state)
{
    (void)state;
    char dir[] = "/tmp/cx_ledger_conc_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/ledger.db", dir);
    cx_ledger *l;
    cx_error e;
    assert_int_equal(cx_ledger_local_open(path, NULL, &l, &e), CX_OK);
    cx_chain_key *op, *buyer, *contrib[NCONTRIB];
    assert_int_equal(cx_chain_key_generate(&op, NULL), CX_OK);
    assert_int_equal(cx_chain_key_generate(&buyer, NULL), CX_OK);
    uint8_t seed[32];
    memset(seed, 7, 32);
    cx_chain_key *ek;
    assert_int_equal(cx_chain_key_from_seed(seed, &ek, NULL), CX_OK);
    memset(g_meas, 0xcd, sizeof g_meas);
    cx_ledger_pool_params p = {0};
    p.theme = "concurrency";
    p.price = 1;
    p.min_contributors = 2;
    p.max_rows_per_contributor = 100;
    p.operator_fee_bps = 250;
    p.protocol_fee_bps = 50;
    p.measurements[0] = g_meas;
    p.measurement_lens[0] = sizeof g_meas;
    p.n_measurements = 1;
    p.operator_addr = *cx_chain_key_address(op);
    cx_chain_id pool, enclave, job;
    assert_int_equal(cx_ledger_pool_create(l, op, &p, &pool, &e), CX_OK);
    cx_ledger_enclave en = {0};
    memcpy(en.ed25519_pk, cx_chain_key_public(ek), 32);
    memcpy(en.measurement, g_meas, sizeof g_meas);
    en.measurement_len = sizeof g_meas;
    memcpy(en.attestation_blob_id, "doc", 3);
    en.attestation_blob_id_len = 3;
    assert_int_equal(cx_ledger_enclave_register(l, op, &en, &enclave, &e), CX_OK);
    assert_int_equal(cx_ledger_pool_enclave_add(l, op, &pool, &enclave, &e), CX_OK);
    cx_statement s;
    memset(&s, 0, sizeof s);
    cx_statement_rows rows[NCONTRIB];
    for (int i = 0; i < NCONTRIB; i++) {
        assert_int_equal(cx_chain_key_generate(&contrib[i], NULL), CX_OK);
        uint8_t blob[4] = {'p', (uint8_t)i, 0, 0};
        cx_chain_id c;
        assert_int_equal(cx_ledger_contribution_register(l, contrib[i], &pool, blob, 4, &c, &e),
                         CX_OK);
        memcpy(rows[i].contributor, cx_chain_key_address(contrib[i])->b, 32);
        rows[i].rows = 10 + (uint64_t)i;
    }
    assert_int_equal(cx_ledger_local_faucet(l, cx_chain_key_address(buyer), 77777, &e), CX_OK);
    uint8_t spec[32] = {1};
    assert_int_equal(cx_ledger_job_create(l, buyer, &pool, spec, NULL, 0, 77777,
                                          cx_unix_ms() + 3600000, &job, &e),
                     CX_OK);
    memcpy(s.job_id, job.b, 32);
    memcpy(s.pool_id, pool.b, 32);
    memcpy(s.code_measurement, g_meas, sizeof g_meas);
    s.code_measurement_len = sizeof g_meas;
    memcpy(s.config_hash, spec, 32); /* the job's spec hash */
    s.result_blob_id[0] = 1;
    s.result_blob_id_len = 1;
    s.rows = rows;
    s.n_rows = NCONTRIB;
    s.dp_epsilon_micro = CX_STATEMENT_NO_DP;
    uint8_t *msg, sig[64];
    size_t len;
    assert_int_equal(cx_statement_encode(&s, cx_unix_ms(), &msg, &len, &e), CX_OK);
    assert_int_equal(cx_ed25519_sign(seed, msg, len, sig, &e), CX_OK);
    /* the enclave accepts the job, and releases its (here: zero-hash) model's key */
    cx_chain_msg m = {.intent = CX_CHAIN_MSG_ACCEPT,
                      .version = CX_CHAIN_MSG_VERSION,
                      .timestamp_ms = cx_unix_ms(),
                      .job_id = job,
                      .pool_id = pool,
                      .code_measurement_len = sizeof g_meas};
    memcpy(m.code_measurement, g_meas, sizeof g_meas);
    memcpy(m.config_hash, spec, 32);
    uint8_t *am, asig[64], *km, ksig[64];
    size_t al, kl;
    assert_int_equal(cx_chain_msg_encode(&m, &am, &al, &e), CX_OK);
    assert_int_equal(cx_ed25519_sign(seed, am, al, asig, &e), CX_OK);
    cx_ledger_signed acc = {am, al, asig};
    assert_int_equal(cx_ledger_job_accept(l, op, &job, &enclave, &acc, &e), CX_OK);
    free(am);
    m.intent = CX_CHAIN_MSG_KEY;
    m.wrapped_key_len = 80;
    assert_int_equal(cx_chain_msg_encode(&m, &km, &kl, &e), CX_OK);
    assert_int_equal(cx_ed25519_sign(seed, km, kl, ksig, &e), CX_OK);
    cx_ledger_signed stmt = {msg, len, sig}, key = {km, kl, ksig};
    cx_ledger_close(l);

    cx_chain_addr sink;
    memset(sink.b, 0x5a, 32);
    pid_t pids[2];
    int gate[2];
    assert_int_equal(pipe(gate), 0);
    for (int w = 0; w < 2; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            close(gate[1]);
            _exit(child(gate[0], path, w, &job, &stmt, &key, &enclave, &sink));
        }
    }
    close(gate[0]);
    close(gate[1]); /* opens the gate: both reads return 0 */
    int codes[2];
    for (int w = 0; w < 2; w++) {
        int st = 0;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        assert_true(WIFEXITED(st));
        codes[w] = WEXITSTATUS(st);
    }
    /* exactly one submit won, the other saw the job no longer open */
    assert_true((codes[0] == 0 && codes[1] == 1) || (codes[0] == 1 && codes[1] == 0));

    assert_int_equal(cx_ledger_local_open(path, NULL, &l, &e), CX_OK);
    uint64_t b = 0;
    assert_int_equal(cx_ledger_balance_get(l, &sink, &b, NULL), CX_OK);
    assert_int_equal(b, 2 * CREDITS); /* no lost update */
    cx_ledger_contribution *cs;
    size_t n;
    assert_int_equal(cx_ledger_contributions_list(l, &pool, &cs, &n, NULL), CX_OK);
    assert_int_equal(n, NCONTRIB + 2 * BLOBS);
    free(cs);
    cx_ledger_event *ev;
    char next[CX_CHAIN_CURSOR_MAX];
    assert_int_equal(cx_ledger_events_read(l, "", 1000, &ev, &n, next, NULL), CX_OK);
    uint64_t paid = 0;
    size_t releases = 0, results = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].kind == CX_LEDGER_EV_PAYMENT_RELEASED) {
            paid += ev[i].amount;
            releases++;
        }
        results += ev[i].kind == CX_LEDGER_EV_RESULT_SUBMITTED;
        if (i)
            assert_true(ev[i].seq > ev[i - 1].seq);
    }
    assert_int_equal(results, 1);
    assert_int_equal(releases, 2 + NCONTRIB);
    assert_int_equal(paid, 77777);
    free(ev);
    cx_ledger_close(l);
    free(msg);
    free(km);
    cx_chain_key_free(op);
    cx_chain_key_free(buyer);
    cx_chain_key_free(ek);
    for (int i = 0; i < NCONTRIB; i++)
        cx_chain_key_free(contrib[i]);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
