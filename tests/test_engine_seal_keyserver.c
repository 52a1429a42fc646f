/* test_engine_seal_keyserver.c — Seal key release under the marketplace's policies (RULES.md
 * §2.3): a dataset key only to an enclave its pool's operator added, a model key only to the
 * job's buyer once paid; the key server's refusals by kind; and the client against three local
 * key servers over loopback HTTP (threshold 2 of 3: one down still opens, two down names both). */
#include "chain_testutil.h"
#include "cx_engine.h"

#include <jansson.h>

typedef struct ksfx {
    fx *f;
    cx_ledger *own[3]; /* each server its own handle on the fixture's ledger (its own thread) */
    cx_seal_ks ks[3];
    uint8_t pk[3][CX_SEAL_G2_LEN];
    uint8_t object_id[3][CX_SEAL_ADDR_LEN];
    uint8_t nonce[16];
} ksfx;

static int ks_setup(void **state)
{
    void *inner = NULL;
    setup(&inner);
    ksfx *k = calloc(1, sizeof *k);
    assert_non_null(k);
    k->f = inner;
    cx_error e;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cx_seal_master_key_generate(k->ks[i].msk, &e), CX_OK);
        assert_int_equal(cx_seal_public_key(k->ks[i].msk, k->pk[i], &e), CX_OK);
        memset(k->ks[i].package.b, 0xd0, CX_CHAIN_ID_LEN);
        if (cx_ledger_local_open(k->f->path, NULL, &k->own[i], &e) != CX_OK)
            fail_msg("open: %s", e.msg);
        k->ks[i].ledger = k->own[i];
        k->ks[i].max_ttl_min = CX_SEAL_TTL_MIN_MAX;
        memset(k->object_id[i], 0xa0 + i, CX_SEAL_ADDR_LEN);
    }
    memset(k->nonce, 0x5a, sizeof k->nonce);
    *state = k;
    return 0;
}

static int ks_teardown(void **state)
{
    ksfx *k = *state;
    for (int i = 0; i < 3; i++)
        cx_ledger_close(k->own[i]);
    void *inner = k->f;
    teardown(&inner);
    free(k);
    return 0;
}

/* The dataset identity of the fixture's pool: pool id || nonce. */
static size_t dataset_id(ksfx *k, uint8_t id[48])
{
    memcpy(id, k->f->pool.b, 32);
    memcpy(id + 32, k->nonce, 16);
    return 48;
}

/* A fetch_key body asking for function(id) of package, certified by user at now. */
static char *request(ksfx *k, const cx_chain_key *user, const cx_chain_addr *package,
                     const char *function, const uint8_t *id, size_t id_len, uint64_t now,
                     cx_seal_elgamal_key *eg)
{
    cx_error e;
    uint8_t *ptb;
    size_t ptb_len;
    cx_seal_object_arg obj = {.id = k->f->pool, .initial_shared_version = 1};
    if (cx_seal_ptb_approve(package, CX_SEAL_POLICY_MODULE, function, id, id_len, &obj, 1, &ptb,
                            &ptb_len, &e) != CX_OK)
        fail_msg("ptb: %s", e.msg);
    char *body;
    cx_seal_user u = cx_seal_user_of_key(user);
    if (cx_seal_request_build(&u, package->b, ptb, ptb_len, 10, now, eg, &body, &e) != CX_OK)
        fail_msg("request: %s", e.msg);
    free(ptb);
    return body;
}

/* Asks server 0 directly; returns the status, *resp the body. */
static int ask(ksfx *k, const char *body, const char *sdk, uint64_t now, char **resp)
{
    int status = 0;
    cx_error e;
    if (cx_seal_ks_fetch_key(&k->ks[0], body, strlen(body), sdk, now, &status, resp, &e) != CX_OK)
        fail_msg("fetch_key: %s", e.msg);
    return status;
}

static void expect_refused(ksfx *k, const char *body, const char *sdk, uint64_t now, int status,
                           const char *kind, const char *msg_part)
{
    char *resp;
    int got = ask(k, body, sdk, now, &resp);
    json_t *j = json_loads(resp, 0, NULL);
    const char *gk = json_string_value(json_object_get(j, "error"));
    const char *gm = json_string_value(json_object_get(j, "message"));
    if (got != status || !gk || strcmp(gk, kind) != 0 || !gm || !strstr(gm, msg_part))
        fail_msg("want %d %s (%s), got %d %s", status, kind, msg_part, got, resp);
    json_decref(j);
    free(resp);
}

/* A 1-of-1 Seal object to (package, id) under server 0 decrypts with the key it released. */
static void expect_key_opens(ksfx *k, const char *resp, const cx_seal_elgamal_key *eg,
                             const uint8_t *id, size_t id_len)
{
    cx_error e;
    uint8_t *full = NULL, usk[CX_SEAL_G1_LEN], *obj = NULL, *pt = NULL;
    size_t full_len = 0, obj_len = 0, pt_len = 0;
    assert_int_equal(cx_seal_full_id(k->ks[0].package.b, id, id_len, &full, &full_len, &e), CX_OK);
    if (cx_seal_fetch_key_response_open(resp, strlen(resp), eg, full, full_len, k->pk[0], "ks0",
                                        usk, &e) != CX_OK)
        fail_msg("open: %s", e.msg);
    cx_seal_server srv;
    memcpy(srv.object_id, k->object_id[0], CX_SEAL_ADDR_LEN);
    memcpy(srv.pk, k->pk[0], CX_SEAL_G2_LEN);
    cx_seal_encrypt_params p = {.package_id = k->ks[0].package.b,
                                .id = id,
                                .id_len = id_len,
                                .servers = &srv,
                                .n_servers = 1,
                                .threshold = 1,
                                .dem = CX_SEAL_DEM_AES256GCM};
    assert_int_equal(
        cx_seal_encrypt(&p, (const uint8_t *)"the data key", 12, &obj, &obj_len, NULL, &e), CX_OK);
    cx_seal_object *o = NULL;
    assert_int_equal(cx_seal_object_decode(obj, obj_len, &o, &e), CX_OK);
    cx_seal_key key = {.name = "ks0"};
    memcpy(key.object_id, srv.object_id, CX_SEAL_ADDR_LEN);
    memcpy(key.pk, srv.pk, CX_SEAL_G2_LEN);
    memcpy(key.usk, usk, CX_SEAL_G1_LEN);
    cx_seal_decrypt_params dp = {.keys = &key, .n_keys = 1};
    if (cx_seal_decrypt(o, &dp, &pt, &pt_len, &e) != CX_OK)
        fail_msg("decrypt: %s", e.msg);
    assert_int_equal(pt_len, 12);
    assert_memory_equal(pt, "the data key", 12);
    cx_secmem_free(pt);
    cx_seal_object_free(o);
    free(obj);
    free(full);
}

static void test_dataset_key_only_to_the_pools_enclave(void **state)
{
    ksfx *k = *state;
    fx *f = k->f;
    uint8_t id[48];
    size_t n = dataset_id(k, id);
    cx_seal_elgamal_key eg;
    char *body =
        request(k, f->enclave_key, &k->ks[0].package, CX_SEAL_APPROVE_DATASET, id, n, f->now, &eg);
    char *resp;
    assert_int_equal(ask(k, body, "0.1.0", f->now, &resp), 200);
    expect_key_opens(k, resp, &eg, id, n);
    free(resp);
    free(body);

    /* anyone else: refused */
    body = request(k, f->anyone, &k->ks[0].package, CX_SEAL_APPROVE_DATASET, id, n, f->now, &eg);
    expect_refused(k, body, "0.1.0", f->now, 403, "NoAccess",
                   "no enclave that the pool's operator added");
    free(body);
    /* an enclave that someone else registered and the operator never added: refused */
    cx_chain_key *rogue;
    cx_error e;
    assert_int_equal(cx_chain_key_generate(&rogue, &e), CX_OK);
    cx_ledger_enclave en = {0};
    memcpy(en.ed25519_pk, cx_chain_key_public(rogue), 32);
    memcpy(en.measurement, f->meas, sizeof f->meas);
    en.measurement_len = sizeof f->meas;
    set_doc_blob(&en, "rogue-doc");
    cx_chain_id rid;
    assert_int_equal(cx_ledger_enclave_register(f->l, f->anyone, &en, &rid, &e), CX_OK);
    body = request(k, rogue, &k->ks[0].package, CX_SEAL_APPROVE_DATASET, id, n, f->now, &eg);
    expect_refused(k, body, "0.1.0", f->now, 403, "NoAccess", "no enclave");
    free(body);
    cx_chain_key_free(rogue);
    /* an id that names another pool than the enclave's */
    id[0] ^= 1;
    body =
        request(k, f->enclave_key, &k->ks[0].package, CX_SEAL_APPROVE_DATASET, id, n, f->now, &eg);
    expect_refused(k, body, "0.1.0", f->now, 403, "NoAccess", "names no pool");
    free(body);
}

/* A pool whose policy takes only HPKE-sealed data (RULES.md §2.3): no dataset key for it, not
 * even to its own enclave. */
static void test_dataset_key_never_for_a_pool_without_seal(void **state)
{
    ksfx *k = *state;
    fx *f = k->f;
    cx_error e;
    cx_ledger_pool_params p = {.theme = "hpke only",
                               .price = 10,
                               .min_contributors = 1,
                               .max_rows_per_contributor = 10,
                               .n_measurements = 1,
                               .operator_addr = *cx_chain_key_address(f->op),
                               .policy = {.sealing = CX_LEDGER_SEALING_HPKE}};
    p.measurements[0] = f->meas;
    p.measurement_lens[0] = sizeof f->meas;
    cx_chain_id pool;
    assert_int_equal(cx_ledger_pool_create(f->l, f->op, &p, &pool, &e), CX_OK);
    assert_int_equal(cx_ledger_pool_enclave_add(f->l, f->op, &pool, &f->enclave, &e), CX_OK);
    uint8_t id[48];
    memcpy(id, pool.b, 32);
    memcpy(id + 32, k->nonce, 16);
    cx_seal_elgamal_key eg;
    char *body = request(k, f->enclave_key, &k->ks[0].package, CX_SEAL_APPROVE_DATASET, id,
                         sizeof id, f->now, &eg);
    expect_refused(k, body, "0.1.0", f->now, 403, "NoAccess", "does not accept Seal");
    free(body);
}

static void test_model_key_only_to_the_buyer_once_paid(void **state)
{
    ksfx *k = *state;
    fx *f = k->f;
    cx_seal_elgamal_key eg;
    char *body =
        request(k, f->buyer, &k->ks[0].package, CX_SEAL_APPROVE_MODEL, f->job.b, 32, f->now, &eg);
    expect_refused(k, body, "0.1.0", f->now, 403, "NoAccess", "the job is accepted, not paid");
    /* paid */
    uint64_t rows[NCONTRIB] = {10, 20, 30, 40, 50};
    uint8_t *msg, sig[64];
    size_t len;
    make_statement(f, &f->job, rows, NCONTRIB, NULL, &msg, &len, sig);
    cx_error e;
    if (submit(f, &f->job, &f->enclave, msg, len, sig, &e) != CX_OK)
        fail_msg("submit: %s", e.msg);
    free(msg);
    char *resp;
    assert_int_equal(ask(k, body, "0.1.0", f->now, &resp), 200);
    expect_key_opens(k, resp, &eg, f->job.b, 32);
    free(resp);
    free(body);
    /* the operator, the enclave, anyone but the buyer: refused even now */
    body = request(k, f->enclave_key, &k->ks[0].package, CX_SEAL_APPROVE_MODEL, f->job.b, 32,
                   f->now, &eg);
    expect_refused(k, body, "0.1.0", f->now, 403, "NoAccess", "not the job's buyer");
    free(body);
}

/* Replaces the string at key (a top-level key, or "certificate.KEY") in a request body. */
static char *edit(const char *body, const char *key, json_t *v)
{
    json_t *j = json_loads(body, 0, NULL);
    json_t *o = j;
    if (strncmp(key, "certificate.", 12) == 0) {
        o = json_object_get(j, "certificate");
        key += 12;
    }
    json_object_set_new(o, key, v);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void test_requests_refused_by_kind(void **state)
{
    ksfx *k = *state;
    fx *f = k->f;
    uint8_t id[48];
    size_t n = dataset_id(k, id);
    cx_seal_elgamal_key eg;
    char *body =
        request(k, f->enclave_key, &k->ks[0].package, CX_SEAL_APPROVE_DATASET, id, n, f->now, &eg);
    expect_refused(k, body, NULL, f->now, 400, "MissingRequiredHeader", "Client-Sdk-Version");
    /* the session ended (10 minutes) */
    expect_refused(k, body, "0.1.0", f->now + 11 * 60000, 403, "InvalidCertificate",
                   "not valid now");
    /* another request under the same session signature */
    uint8_t other[48];
    memcpy(other, id, sizeof other);
    other[47] ^= 1;
    char *b2 = request(k, f->enclave_key, &k->ks[0].package, CX_SEAL_APPROVE_DATASET, other, n,
                       f->now, &eg);
    json_t *j2 = json_loads(b2, 0, NULL);
    char *mixed = edit(body, "ptb", json_incref(json_object_get(j2, "ptb")));
    expect_refused(k, mixed, "0.1.0", f->now, 403, "InvalidSessionSignature", "does not verify");
    free(mixed);
    /* a certificate claiming another user */
    char hex[67] = "0x";
    cx_error e;
    assert_int_equal(cx_hex_encode(cx_chain_key_address(f->buyer)->b, 32, hex + 2, 65, &e), CX_OK);
    mixed = edit(body, "certificate.user", json_string(hex));
    expect_refused(k, mixed, "0.1.0", f->now, 403, "InvalidSignature", "not signed by its user");
    free(mixed);
    json_decref(j2);
    free(b2);
    free(body);
    /* a call to another package */
    cx_chain_addr pkg;
    memset(pkg.b, 0xd1, 32);
    body = request(k, f->enclave_key, &pkg, CX_SEAL_APPROVE_DATASET, id, n, f->now, &eg);
    expect_refused(k, body, "0.1.0", f->now, 403, "InvalidPackage", "another package");
    free(body);
    /* a policy this package does not have */
    body = request(k, f->enclave_key, &k->ks[0].package, "seal_approve_everything", id, n, f->now,
                   &eg);
    expect_refused(k, body, "0.1.0", f->now, 403, "NoAccess", "not a policy of this package");
    free(body);
    expect_refused(k, "{\"ptb\": 1}", "0.1.0", f->now, 400, "InvalidParameter", "fetch_key");
    expect_refused(k, "not json", "0.1.0", f->now, 400, "InvalidParameter", "not JSON");
}

/* Three local key servers over loopback; the object is 2 of 3. */
static void test_client_threshold_over_http(void **state)
{
    ksfx *k = *state;
    fx *f = k->f;
    cx_error e;
    cx_seal_ks_server *srv[3] = {0};
    char urls[3][64];
    cx_seal_endpoint ep[3];
    cx_seal_server ss[3];
    for (int i = 0; i < 3; i++) {
        if (cx_seal_ks_server_start(&k->ks[i], "127.0.0.1:0", &srv[i], &e) != CX_OK)
            fail_msg("start: %s", e.msg);
        snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%u/", cx_seal_ks_server_port(srv[i]));
        ep[i].url = urls[i];
        memcpy(ep[i].object_id, k->object_id[i], CX_SEAL_ADDR_LEN);
        memcpy(ep[i].pk, k->pk[i], CX_SEAL_G2_LEN);
        memcpy(ss[i].object_id, k->object_id[i], CX_SEAL_ADDR_LEN);
        memcpy(ss[i].pk, k->pk[i], CX_SEAL_G2_LEN);
    }
    /* the ledger's clock is the fixture's; the certificate must be valid on the servers' wall
     * clock */
    uint64_t now = cx_unix_ms();
    uint8_t id[48];
    size_t n = dataset_id(k, id);
    cx_seal_encrypt_params p = {.package_id = k->ks[0].package.b,
                                .id = id,
                                .id_len = n,
                                .servers = ss,
                                .n_servers = 3,
                                .threshold = 2,
                                .dem = CX_SEAL_DEM_HMAC256CTR};
    uint8_t *obj;
    size_t obj_len;
    assert_int_equal(
        cx_seal_encrypt(&p, (const uint8_t *)"pooled rows", 11, &obj, &obj_len, NULL, &e), CX_OK);
    cx_seal_object *o;
    assert_int_equal(cx_seal_object_decode(obj, obj_len, &o, &e), CX_OK);
    cx_seal_elgamal_key eg;
    char *body =
        request(k, f->enclave_key, &k->ks[0].package, CX_SEAL_APPROVE_DATASET, id, n, now, &eg);
    cx_seal_key keys[3];
    size_t nk = 0;
    /* one server down: two answers still open it */
    cx_seal_ks_server_stop(srv[1]);
    srv[1] = NULL;
    if (cx_seal_fetch_keys(ep, 3, body, 5000, o, &eg, keys, &nk, &e) != CX_OK)
        fail_msg("fetch: %s", e.msg);
    assert_true(nk >= 2);
    uint8_t *pt;
    size_t pt_len;
    cx_seal_decrypt_params dp = {.keys = keys, .n_keys = nk};
    if (cx_seal_decrypt(o, &dp, &pt, &pt_len, &e) != CX_OK)
        fail_msg("decrypt: %s", e.msg);
    assert_memory_equal(pt, "pooled rows", 11);
    cx_secmem_free(pt);
    /* two down: too few, each failing server named */
    cx_seal_ks_server_stop(srv[2]);
    srv[2] = NULL;
    assert_int_equal(cx_seal_fetch_keys(ep, 3, body, 5000, o, &eg, keys, &nk, &e), CX_ERR_VERIFY);
    if (!strstr(e.msg, urls[1]) || !strstr(e.msg, urls[2]))
        fail_msg("the failing servers are not named: %s", e.msg);
    free(body);
    /* a requester the policy refuses: the server's refusal is named with its kind */
    body = request(k, f->anyone, &k->ks[0].package, CX_SEAL_APPROVE_DATASET, id, n, now, &eg);
    assert_int_equal(cx_seal_fetch_keys(ep, 1, body, 5000, o, &eg, keys, &nk, &e), CX_ERR_VERIFY);
    if (!strstr(e.msg, "NoAccess"))
        fail_msg("the refusal is not named: %s", e.msg);
    free(body);
    cx_memwipe(&eg, sizeof eg);
    cx_seal_object_free(o);
    free(obj);
    cx_seal_ks_server_stop(srv[0]);
}

/* Several ids in one request (cx_seal_ptb_approve_many): one answer per server carries every
 * key, each verified against its own identity; one id the policy refuses refuses them all. */
static void test_client_many_ids_one_request(void **state)
{
    ksfx *k = *state;
    fx *f = k->f;
    cx_error e;
    cx_seal_ks_server *srv;
    char url[64];
    if (cx_seal_ks_server_start(&k->ks[0], "127.0.0.1:0", &srv, &e) != CX_OK)
        fail_msg("start: %s", e.msg);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", cx_seal_ks_server_port(srv));
    cx_seal_endpoint ep = {.url = url};
    cx_seal_server ss;
    memcpy(ep.object_id, k->object_id[0], CX_SEAL_ADDR_LEN);
    memcpy(ep.pk, k->pk[0], CX_SEAL_G2_LEN);
    memcpy(ss.object_id, k->object_id[0], CX_SEAL_ADDR_LEN);
    memcpy(ss.pk, k->pk[0], CX_SEAL_G2_LEN);
    enum { N = 3 };
    uint8_t ids[N][48], *objb[N];
    const uint8_t *idp[N];
    size_t id_lens[N], obj_lens[N], nk[N];
    cx_seal_object *o[N];
    for (int i = 0; i < N; i++) {
        id_lens[i] = dataset_id(k, ids[i]);
        ids[i][47] = (uint8_t)i; /* each seller's own nonce */
        idp[i] = ids[i];
        char msg[16];
        snprintf(msg, sizeof msg, "data key %d", i);
        cx_seal_encrypt_params p = {.package_id = k->ks[0].package.b,
                                    .id = ids[i],
                                    .id_len = id_lens[i],
                                    .servers = &ss,
                                    .n_servers = 1,
                                    .threshold = 1,
                                    .dem = CX_SEAL_DEM_AES256GCM};
        assert_int_equal(cx_seal_encrypt(&p, (const uint8_t *)msg, strlen(msg), &objb[i],
                                         &obj_lens[i], NULL, &e),
                         CX_OK);
        assert_int_equal(cx_seal_object_decode(objb[i], obj_lens[i], &o[i], &e), CX_OK);
    }
    cx_seal_object_arg pool = {.id = f->pool, .initial_shared_version = 1};
    uint64_t now = cx_unix_ms();
    for (int refused = 0; refused < 2; refused++) {
        if (refused)
            ids[1][0] ^= 1; /* the second id names another pool */
        uint8_t *ptb;
        size_t ptb_len;
        assert_int_equal(cx_seal_ptb_approve_many(&k->ks[0].package, CX_SEAL_POLICY_MODULE,
                                                  CX_SEAL_APPROVE_DATASET, idp, id_lens, N, &pool,
                                                  1, &ptb, &ptb_len, &e),
                         CX_OK);
        cx_seal_elgamal_key eg;
        char *body;
        cx_seal_user u = cx_seal_user_of_key(f->enclave_key);
        assert_int_equal(
            cx_seal_request_build(&u, k->ks[0].package.b, ptb, ptb_len, 10, now, &eg, &body, &e),
            CX_OK);
        cx_seal_key keys[N];
        const cx_seal_object *const objs[N] = {o[0], o[1], o[2]};
        cx_err rc = cx_seal_fetch_keys_many(&ep, 1, body, 5000, objs, N, &eg, keys, nk, &e);
        if (refused) {
            assert_int_equal(rc, CX_ERR_VERIFY);
            if (!strstr(e.msg, "NoAccess"))
                fail_msg("the refusal is not named: %s", e.msg);
        } else {
            if (rc != CX_OK)
                fail_msg("fetch: %s", e.msg);
            for (int i = 0; i < N; i++) {
                uint8_t *pt;
                size_t pt_len;
                cx_seal_decrypt_params dp = {.keys = &keys[i], .n_keys = nk[i]};
                assert_int_equal(nk[i], 1);
                if (cx_seal_decrypt(o[i], &dp, &pt, &pt_len, &e) != CX_OK)
                    fail_msg("decrypt %d: %s", i, e.msg);
                char want[16];
                snprintf(want, sizeof want, "data key %d", i);
                assert_int_equal(pt_len, strlen(want));
                assert_memory_equal(pt, want, pt_len);
                cx_secmem_free(pt);
            }
        }
        cx_memwipe(keys, sizeof keys);
        cx_memwipe(&eg, sizeof eg);
        free(body);
        free(ptb);
    }
    for (int i = 0; i < N; i++) {
        cx_seal_object_free(o[i]);
        free(objb[i]);
    }
    cx_seal_ks_server_stop(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dataset_key_only_to_the_pools_enclave, ks_setup,
                                        ks_teardown),
        cmocka_unit_test_setup_teardown(test_dataset_key_never_for_a_pool_without_seal, ks_setup,
                                        ks_teardown),
        cmocka_unit_test_setup_teardown(test_model_key_only_to_the_buyer_once_paid, ks_setup,
                                        ks_teardown),
        cmocka_unit_test_setup_teardown(test_requests_refused_by_kind, ks_setup, ks_teardown),
        cmocka_unit_test_setup_teardown(test_client_threshold_over_http, ks_setup, ks_teardown),
        cmocka_unit_test_setup_teardown(test_client_many_ids_one_request, ks_setup, ks_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
