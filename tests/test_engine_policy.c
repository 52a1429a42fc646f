/* test_engine_policy.c — a pool's policy (chain/RULES.md §9.8) against job specs: DP required,
 * forbidden columns as features or label, the compute budget (the smaller of the pool's and
 * the operator's), the epsilon cap on the real row count; and the enclave's own check of a
 * job whose buyer went round `cloakx job create` (created on the ledger directly). */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "cx_engine.h"

/* x0, x1 and a class label risk; DP with declared stats unless dp is 0. */
static const char *spec_text(int dp, const char *extra_data)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"task\": \"classification\", \"data\": {\"label\": \"risk\", \"format\": \"csv\","
             " \"columns\": [{\"name\": \"x0\", \"type\": \"numeric\", \"mean\": 5, \"std\": 3},"
             " {\"name\": \"x1\", \"type\": \"numeric\", \"mean\": 5, \"std\": 3},"
             " {\"name\": \"risk\", \"type\": \"class\", \"values\": [\"0\", \"1\"]}]%s},"
             " \"model\": {\"type\": \"logistic\"}, \"epochs\": 2, \"batch_size\": 16,"
             " \"seed\": 1%s}",
             extra_data ? extra_data : "",
             dp ? ", \"privacy\": {\"noise_multiplier\": 2.0, \"max_grad_norm\": 1.0,"
                  " \"delta\": 1e-5}"
                : "");
    return buf;
}

static cx_err check_text(const char *text, const cx_ledger_pool_policy *pol, cx_error *e)
{
    json_t *j = NULL;
    cx_spec spec;
    cx_dataset_schema *schema = NULL;
    assert_int_equal(cx_json_parse(text, strlen(text), &j, e), CX_OK);
    if (cx_spec_parse(j, &spec, e) != CX_OK)
        fail_msg("spec: %s", e->msg);
    json_decref(j);
    if (cx_job_spec_check(&spec, NULL, &schema, e) != CX_OK)
        fail_msg("spec check: %s", e->msg);
    cx_err rc = cx_job_policy_check(&spec, schema, pol, e);
    cx_dataset_schema_free(schema);
    cx_spec_free(&spec);
    return rc;
}

static void test_policy_check(void **state)
{
    (void)state;
    cx_error e;
    cx_ledger_pool_policy none = {0}, pol = {0};
    assert_int_equal(check_text(spec_text(0, NULL), &none, &e), CX_OK);
    pol.require_dp = 1;
    assert_int_equal(check_text(spec_text(0, NULL), &pol, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "\"privacy\""));
    assert_int_equal(check_text(spec_text(1, NULL), &pol, &e), CX_OK);
    /* a forbidden feature, any case; not when the spec leaves it out of its features */
    snprintf(pol.forbidden_columns[0], sizeof pol.forbidden_columns[0], "X1");
    pol.n_forbidden = 1;
    assert_int_equal(check_text(spec_text(1, NULL), &pol, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "column 'x1' may not be a feature"));
    assert_int_equal(check_text(spec_text(1, ", \"features\": [\"x0\"]"), &pol, &e), CX_OK);
    /* nor the label */
    snprintf(pol.forbidden_columns[0], sizeof pol.forbidden_columns[0], "risk");
    assert_int_equal(check_text(spec_text(1, ", \"features\": [\"x0\"]"), &pol, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "column 'risk' may not be the label"));
    pol.n_forbidden = 0;
    /* the budget from the spec alone: 2 epochs */
    pol.max_epochs = 1;
    assert_int_equal(check_text(spec_text(1, NULL), &pol, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "2 epochs asked, the budget allows 1"));
    pol.max_epochs = 2;
    pol.max_params = 1; /* a logistic model of one feature has 2 */
    assert_int_equal(check_text(spec_text(1, NULL), &pol, &e), CX_ERR_LIMIT);
    pol.max_params = 2;
    assert_int_equal(check_text(spec_text(1, NULL), &pol, &e), CX_OK);
}

static void test_budget_for_pool(void **state)
{
    (void)state;
    const cx_compute_budget op = {.max_params = 1000, .max_epochs = 50, .max_flops = 1e12};
    cx_ledger_pool_policy pol = {0};
    cx_compute_budget b;
    cx_job_budget_for_pool(&op, &pol, &b); /* no pool budget: the operator's */
    assert_int_equal(b.max_params, 1000);
    assert_int_equal(b.max_epochs, 50);
    assert_true(b.max_flops == 1e12);
    pol.max_params = 10;
    pol.max_epochs = 100;
    pol.max_flops = 1000000;
    cx_job_budget_for_pool(&op, &pol, &b); /* bound by bound, the smaller */
    assert_int_equal(b.max_params, 10);
    assert_int_equal(b.max_epochs, 50);
    assert_true(b.max_flops == 1e6);
    const cx_compute_budget unlimited = {0};
    pol.max_epochs = (uint64_t)INT_MAX + 10;
    cx_job_budget_for_pool(&unlimited, &pol, &b); /* an operator without limits: the pool's */
    assert_int_equal(b.max_params, 10);
    assert_int_equal(b.max_epochs, INT_MAX);
    assert_true(b.max_flops == 1e6);
}

/* The cap is checked on what training will spend: the planned epsilon equals the accountant's
 * on the sampling rate and steps cx_train reports. */
static void test_epsilon_cap_matches_training(void **state)
{
    (void)state;
    cx_error e;
    json_t *j = NULL;
    const char *text = spec_text(1, NULL);
    assert_int_equal(cx_json_parse(text, strlen(text), &j, &e), CX_OK);
    cx_spec spec;
    assert_int_equal(cx_spec_parse(j, &spec, &e), CX_OK);
    json_decref(j);
    enum { ROWS = 203 };
    float x[ROWS * 2], y[ROWS];
    for (int i = 0; i < ROWS; i++) {
        x[2 * i] = (float)(i % 10);
        x[2 * i + 1] = (float)((i * 7) % 10);
        y[i] = (float)((i % 10) + ((i * 7) % 10) > 9);
    }
    cx_train_data td = {.rows = ROWS, .cols = 2, .x = x, .y = y, .n_classes = 2};
    cx_model *m = NULL;
    cx_train_result tr;
    assert_int_equal(cx_train(&spec, &td, NULL, NULL, NULL, &m, &tr, &e), CX_OK);
    cx_model_free(m);
    double trained = 0, planned = 0;
    assert_int_equal(cx_privacy_epsilon(spec.noise_multiplier, tr.sample_rate, tr.steps, spec.delta,
                                        NULL, 0, &trained, NULL, &e),
                     CX_OK);
    cx_ledger_pool_policy pol = {0};
    assert_int_equal(cx_job_epsilon_check(&spec, ROWS, &pol, &planned, &e), CX_OK);
    assert_true(fabs(planned - trained) <= 1e-9 * trained);
    /* a cap just below refuses, naming the key; just above passes */
    pol.max_epsilon_micro = (uint64_t)floor(planned * 1e6) - 1;
    assert_int_equal(cx_job_epsilon_check(&spec, ROWS, &pol, NULL, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "\"privacy\""));
    pol.max_epsilon_micro = (uint64_t)ceil(planned * 1e6) + 1;
    assert_int_equal(cx_job_epsilon_check(&spec, ROWS, &pol, NULL, &e), CX_OK);
    cx_spec_free(&spec);
}

/* ------------------------------------------- the enclave checks it again -- */

typedef struct ident {
    char dir[256];
    cx_chain_key *key;
    uint8_t x_pub[32];
} ident;

static void ident_make(const char *root, const char *name, ident *id)
{
    cx_error e;
    memset(id, 0, sizeof *id);
    snprintf(id->dir, sizeof id->dir, "%s/keys/%s", root, name);
    assert_int_equal(cx_mkdir_p(id->dir, 0700, &e), CX_OK);
    char xk[PATH_MAX + 16], xp[PATH_MAX + 16], ek[PATH_MAX + 16], ep[PATH_MAX + 16];
    snprintf(xk, sizeof xk, "%s/x25519.key", id->dir);
    snprintf(xp, sizeof xp, "%s/x25519.pub", id->dir);
    snprintf(ek, sizeof ek, "%s/ed25519.key", id->dir);
    snprintf(ep, sizeof ep, "%s/ed25519.pub", id->dir);
    cx_x25519_key *x = NULL;
    cx_ed25519_key *ed = NULL;
    assert_int_equal(cx_x25519_key_generate(&x, &e), CX_OK);
    assert_int_equal(cx_ed25519_key_generate(&ed, &e), CX_OK);
    assert_int_equal(cx_x25519_key_save(x, xk, xp, &e), CX_OK);
    assert_int_equal(cx_ed25519_key_save(ed, ek, ep, &e), CX_OK);
    memcpy(id->x_pub, cx_x25519_key_public(x), 32);
    assert_int_equal(cx_chain_key_from_seed(cx_ed25519_key_seed(ed), &id->key, &e), CX_OK);
    cx_x25519_key_free(x);
    cx_ed25519_key_free(ed);
}

/* A buyer creates a job straight on the ledger (no client check) with a spec the pool's
 * policy forbids: the enclave fails it with reason `spec` before reading any data, and the
 * buyer is refunded. */
static void test_enclave_enforces_policy(void **state)
{
    (void)state;
    cx_error e;
    char dir[64], ledger[PATH_MAX], store[PATH_MAX], devca[PATH_MAX], opstate[PATH_MAX];
    snprintf(dir, sizeof dir, "policy-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(ledger, sizeof ledger, "%s/ledger.db", dir);
    snprintf(store, sizeof store, "local:%s/store", dir);
    snprintf(devca, sizeof devca, "%s/devca", dir);
    snprintf(opstate, sizeof opstate, "%s/operator", dir);
    cx_ledger *l = NULL;
    cx_store *s = NULL;
    assert_int_equal(cx_job_ledger_open(ledger, NULL, &l, &e), CX_OK);
    assert_int_equal(cx_job_store_open(store, NULL, &s, &e), CX_OK);
    assert_int_equal(cx_tee_sim_devca_create(devca, &e), CX_OK);
    ident op, buyer, alice;
    ident_make(dir, "operator", &op);
    ident_make(dir, "buyer", &buyer);
    ident_make(dir, "alice", &alice);
    uint8_t meas[48];
    assert_int_equal(cx_job_measure_self(meas, &e), CX_OK);
    cx_ledger_pool_params pp = {.theme = "policy",
                                .price = 100,
                                .min_contributors = 1,
                                .max_rows_per_contributor = 100000,
                                .n_measurements = 1,
                                .operator_addr = *cx_chain_key_address(op.key)};
    pp.measurements[0] = meas;
    pp.measurement_lens[0] = 48;
    pp.policy.require_dp = 1;
    cx_chain_id pool, job;
    assert_int_equal(cx_ledger_pool_create(l, op.key, &pp, &pool, &e), CX_OK);
    char root_path[PATH_MAX + 32];
    snprintf(root_path, sizeof root_path, "%s/%s", devca, CX_TEE_SIM_ROOT_CERT);
    uint8_t *root = NULL;
    size_t root_len = 0;
    assert_int_equal(cx_file_read_all(root_path, 1 << 20, &root, &root_len, &e), CX_OK);
    cx_tee *tee = NULL;
    cx_job_registration reg;
    assert_int_equal(cx_job_tee_open(opstate, devca, NULL, &tee, &e), CX_OK);
    assert_int_equal(cx_job_enclave_register(l, s, tee, op.key, (const char *)root, root_len, 1,
                                             &pool, opstate, &reg, &e),
                     CX_OK);
    cx_tee_close(tee);
    free(root);
    /* one contribution, so that a job that got to the data could run */
    char pool_hex[CX_CHAIN_ID_HEX_LEN + 1], alice_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&pool, pool_hex);
    cx_chain_id_to_hex(cx_chain_key_address(alice.key), alice_hex);
    const char csv[] = "x0,x1,risk\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n";
    cx_cxb_seal_params sp = {.recipient_pub = reg.enclave.x25519_pk,
                             .pool_id = pool_hex,
                             .contributor = alice_hex,
                             .content_type = CX_CONTENT_CSV};
    cx_job_membuf sealed = {0};
    assert_int_equal(cx_job_seal_bytes(&sp, (const uint8_t *)csv, strlen(csv), &sealed, NULL, &e),
                     CX_OK);
    char blob[CX_STORE_ID_MAX];
    assert_int_equal(cx_job_store_put_bytes(s, sealed.p, sealed.len, blob, &e), CX_OK);
    free(sealed.p);
    cx_chain_id cid;
    assert_int_equal(cx_ledger_contribution_register(l, alice.key, &pool, (const uint8_t *)blob,
                                                     strlen(blob), &cid, &e),
                     CX_OK);
    /* the job: a spec without DP, straight onto the ledger */
    const char *text = spec_text(0, NULL);
    json_t *spec = NULL;
    assert_int_equal(cx_json_parse(text, strlen(text), &spec, &e), CX_OK);
    char *req = NULL;
    size_t req_len = 0;
    assert_int_equal(cx_job_request_build(spec, buyer.x_pub, &req, &req_len, &e), CX_OK);
    json_decref(spec);
    uint8_t h[32];
    SHA256((const uint8_t *)req, req_len, h);
    char rid[CX_STORE_ID_MAX];
    assert_int_equal(cx_job_store_put_bytes(s, req, req_len, rid, &e), CX_OK);
    free(req);
    assert_int_equal(cx_ledger_local_faucet(l, cx_chain_key_address(buyer.key), 10000, &e), CX_OK);
    assert_int_equal(cx_ledger_job_create(l, buyer.key, &pool, h, (const uint8_t *)rid, strlen(rid),
                                          1000, cx_unix_ms() + 3600 * 1000, &job, &e),
                     CX_OK);
    cx_logger log = {.level = CX_LOG_ERROR};
    cx_worker_config wc = {.log = &log,
                           .ledger_url = ledger,
                           .store = s,
                           .state_dir = opstate,
                           .devca_dir = devca,
                           .key_dir = op.dir,
                           .once = 1,
                           .device = "cpu",
                           .threads = 1};
    cx_worker_stats ws;
    (void)cx_worker_run(&wc, &ws, &e); /* a pass with a failed job reports it */
    cx_ledger_job j;
    assert_int_equal(cx_ledger_job_get(l, &job, &j, &e), CX_OK);
    assert_int_equal(j.state, CX_LEDGER_JOB_REFUNDED);
    assert_int_equal(j.fail_reason, CX_CHAIN_FAIL_SPEC);
    uint64_t bal = 0;
    assert_int_equal(cx_ledger_balance_get(l, cx_chain_key_address(buyer.key), &bal, &e), CX_OK);
    assert_int_equal(bal, 10000);
    cx_ledger_result r;
    assert_int_equal(cx_ledger_result_get(l, &job, &r, &e), CX_ERR_NOTFOUND);
    cx_store_free(s);
    cx_ledger_close(l);
    cx_chain_key_free(op.key);
    cx_chain_key_free(buyer.key);
    cx_chain_key_free(alice.key);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_check),
        cmocka_unit_test(test_budget_for_pool),
        cmocka_unit_test(test_epsilon_cap_matches_training),
        cmocka_unit_test(test_enclave_enforces_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
