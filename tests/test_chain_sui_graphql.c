/* test_chain_sui_graphql.c — chain/sui_graphql.c against the loopback fixture
 * (tests/fixtures/sui_graphql_fixture.py): every query's parsing, paging by cursor, executing a
 * transaction that sui_tx.c built and signed (the fixture verifies the signature), and the
 * failure handling: retries on 5xx/429/dropped/truncated responses, Retry-After, timeouts,
 * malformed JSON, GraphQL errors and oversized responses. With an argument, it also writes the
 * client's query texts there (JSON) for the schema check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "cx_chain.h"
#include "io_store_testutil.h"

static fixture fx;
static char url[128];

static cx_sui_gql *client(int attempts, long timeout_ms, long backoff_ms)
{
    cx_sui_gql_opts o = {0};
    o.url = url;
    o.max_attempts = attempts;
    o.timeout_ms = timeout_ms;
    o.backoff_ms = backoff_ms;
    o.max_response = 64 << 10;
    cx_sui_gql *g = NULL;
    assert_int_equal(cx_sui_gql_open(&o, &g, NULL), CX_OK);
    return g;
}

static void state(const char *json)
{
    free(fixture_call(&fx, "/_fixture/state", json));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int setup(void **st)
{
    (void)st;
    fixture_rules(&fx, "[]");
    return 0;
}

static void test_chain_id_and_gas_price(void **st)
{
    (void)st;
    cx_sui_gql *g = client(1, 0, 0);
    char id[CX_SUI_CHAIN_ID_MAX + 1];
    uint64_t price = 0;
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, NULL), CX_OK);
    assert_string_equal(id, "4c78adac");
    assert_int_equal(cx_sui_gql_reference_gas_price(g, &price, NULL), CX_OK);
    assert_int_equal(price, 750);
    assert_int_equal(cx_sui_gql_attempts(g), 1);
    cx_sui_gql_close(g);
}

static const char SHARED[] = "0x3333333333333333333333333333333333333333333333333333333333333333";
static const char OWNED[] = "0x4444444444444444444444444444444444444444444444444444444444444444";
static const char DIGEST_B58[] = "3JF3sEqM796hk5WFqA6EtmEwJQ9quALszsfJyvXNQKy3"; /* 0x22 x 32 */

static void test_objects(void **st)
{
    (void)st;
    char js[2048];
    snprintf(js, sizeof js,
             "{\"objects\": {\"%s\": {\"address\": \"%s\", \"version\": 12, \"digest\": \"%s\","
             " \"owner\": {\"__typename\": \"Shared\", \"initialSharedVersion\": 5},"
             " \"asMoveObject\": {\"contents\": {\"type\": {\"repr\": \"0xabc::market::Pool<0x2::sui::SUI>\"},"
             " \"bcs\": \"AQID\"}}},"
             " \"%s\": {\"address\": \"%s\", \"version\": 7, \"digest\": \"%s\","
             " \"owner\": {\"__typename\": \"AddressOwner\", \"address\": {\"address\": \"0x5\"}},"
             " \"asMoveObject\": null}}}",
             SHARED, SHARED, DIGEST_B58, OWNED, OWNED, DIGEST_B58);
    state(js);
    cx_sui_gql *g = client(1, 0, 0);
    cx_chain_id id;
    cx_sui_object o;
    assert_int_equal(cx_sui_address_parse(SHARED, &id, NULL), CX_OK);
    cx_error e;
    if (cx_sui_gql_object(g, &id, &o, &e) != CX_OK)
        fail_msg("object: %s", e.msg);
    assert_int_equal(o.ref.version, 12);
    assert_int_equal(o.ref.digest[0], 0x22);
    assert_int_equal(o.owner_kind, CX_SUI_OWNER_SHARED);
    assert_int_equal(o.initial_shared_version, 5);
    assert_string_equal(o.type, "0xabc::market::Pool<0x2::sui::SUI>");
    assert_int_equal(o.bcs_len, 3);
    assert_int_equal(o.bcs[2], 3);
    cx_sui_object_free(&o);
    assert_int_equal(cx_sui_address_parse(OWNED, &id, NULL), CX_OK);
    assert_int_equal(cx_sui_gql_object(g, &id, &o, NULL), CX_OK);
    assert_int_equal(o.owner_kind, CX_SUI_OWNER_ADDRESS);
    assert_int_equal(o.owner.b[31], 5);
    assert_null(o.bcs);
    cx_sui_object_free(&o);
    memset(id.b, 0x99, 32);
    assert_int_equal(cx_sui_gql_object(g, &id, &o, &e), CX_ERR_NOTFOUND);
    cx_sui_gql_close(g);
}

static void test_coins_paged(void **st)
{
    (void)st;
    /* 60 coins: two pages */
    char *js = malloc(64 << 10);
    assert_non_null(js);
    size_t n = (size_t)sprintf(js, "{\"coins\": {\"0x%064x\": [", 7);
    for (int i = 0; i < 60; i++)
        n += (size_t)sprintf(js + n,
                             "%s{\"address\": \"0x%064x\", \"version\": %d, \"digest\": \"%s\","
                             " \"contents\": {\"json\": {\"balance\": \"%d000\"}}}",
                             i ? "," : "", i + 1, i + 1, DIGEST_B58, i + 1);
    sprintf(js + n, "]}}");
    state(js);
    free(js);
    cx_sui_gql *g = client(1, 0, 0);
    cx_chain_addr owner = {{0}};
    owner.b[31] = 7;
    char cur[CX_CHAIN_CURSOR_MAX] = "", next[CX_CHAIN_CURSOR_MAX];
    uint64_t total = 0;
    size_t seen = 0;
    int more = 1;
    while (more) {
        cx_sui_coin *coins;
        size_t k;
        cx_error e;
        if (cx_sui_gql_coins(g, &owner, NULL, cur, &coins, &k, next, &more, &e) != CX_OK)
            fail_msg("coins: %s", e.msg);
        for (size_t i = 0; i < k; i++)
            total += coins[i].balance;
        seen += k;
        free(coins);
        snprintf(cur, sizeof cur, "%s", next);
    }
    assert_int_equal(seen, 60);
    assert_int_equal(total, 1000ull * 60 * 61 / 2);
    /* somebody with nothing */
    owner.b[31] = 8;
    cx_sui_coin *coins;
    size_t k;
    assert_int_equal(cx_sui_gql_coins(g, &owner, NULL, "", &coins, &k, next, &more, NULL), CX_OK);
    assert_int_equal(k, 0);
    cx_sui_gql_close(g);
}

static void test_events_by_cursor(void **st)
{
    (void)st;
    char *js = malloc(128 << 10);
    assert_non_null(js);
    size_t n = (size_t)sprintf(js, "{\"events\": [");
    for (int i = 0; i < 120; i++)
        n += (size_t)sprintf(js + n,
                             "%s{\"timestamp\": \"2026-12-04T12:00:0%d.5Z\", \"transaction\": {\"digest\":"
                             " \"%s\"}, \"sender\": {\"address\": \"0x%x\"}, \"contents\": {\"type\":"
                             " {\"repr\": \"0xabc::market::%s\"}, \"bcs\": \"%s\"}}",
                             i ? "," : "", i % 10, DIGEST_B58, i + 1,
                             i % 3 ? "JobCreated" : "PoolCreated", i % 2 ? "AAE=" : "AQ==");
    /* an event of another package that the filter leaves out */
    sprintf(js + n, ", {\"timestamp\": null, \"transaction\": {\"digest\": \"%s\"}, \"sender\":"
                    " {\"address\": \"0x1\"}, \"contents\": {\"type\": {\"repr\": \"0xdef::x::Y\"},"
                    " \"bcs\": \"\"}}]}",
            DIGEST_B58);
    state(js);
    free(js);
    cx_sui_gql *g = client(1, 0, 0);
    char cur[CX_CHAIN_CURSOR_MAX] = "", next[CX_CHAIN_CURSOR_MAX];
    size_t seen = 0, pages = 0;
    int more = 1;
    while (more) {
        cx_sui_event *ev;
        size_t k;
        cx_error e;
        if (cx_sui_gql_events(g, "0xabc::market", cur, &ev, &k, next, &more, &e) != CX_OK)
            fail_msg("events: %s", e.msg);
        for (size_t i = 0; i < k; i++) {
            assert_int_equal(ev[i].sender.b[31], (uint8_t)(seen + i + 1));
            assert_int_equal(ev[i].timestamp_ms % 1000, 500);
            assert_int_equal(ev[i].tx_digest[31], 0x22);
        }
        assert_string_equal(ev[0].type, seen % 3 ? "0xabc::market::JobCreated"
                                                 : "0xabc::market::PoolCreated");
        seen += k;
        pages++;
        cx_sui_events_free(ev, k);
        snprintf(cur, sizeof cur, "%s", next);
    }
    assert_int_equal(seen, 120);
    assert_int_equal(pages, 3);
    /* nothing new: an empty page, the cursor kept */
    cx_sui_event *ev;
    size_t k;
    assert_int_equal(cx_sui_gql_events(g, "0xabc::market", cur, &ev, &k, next, &more, NULL), CX_OK);
    assert_int_equal(k, 0);
    assert_string_equal(next, cur);
    cx_sui_gql_close(g);
}

/* a transfer of a split gas coin, built and signed by sui_tx.c */
static void signed_tx(uint8_t **tx, size_t *len, uint8_t sig[CX_SUI_SIGNATURE_LEN])
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    cx_chain_key *k;
    assert_int_equal(cx_chain_key_from_seed(seed, &k, NULL), CX_OK);
    cx_sui_tx t;
    cx_sui_tx_init(&t);
    cx_sui_arg amt, coin, to;
    assert_int_equal(cx_sui_tx_pure_u64(&t, 1000, &amt, NULL), CX_OK);
    assert_int_equal(cx_sui_tx_split_coins(&t, cx_sui_gas_coin(), &amt, 1, &coin, NULL), CX_OK);
    assert_int_equal(cx_sui_tx_pure_address(&t, cx_chain_key_address(k), &to, NULL), CX_OK);
    cx_sui_arg c0 = cx_sui_nested(coin, 0);
    assert_int_equal(cx_sui_tx_transfer_objects(&t, &c0, 1, to, NULL), CX_OK);
    t.sender = t.gas_owner = *cx_chain_key_address(k);
    t.gas_payment = calloc(1, sizeof *t.gas_payment);
    assert_non_null(t.gas_payment);
    t.n_gas_payment = 1;
    memset(t.gas_payment[0].id.b, 0x11, 32);
    t.gas_payment[0].version = 3;
    t.gas_price = 750;
    t.gas_budget = 5000000;
    assert_int_equal(cx_sui_tx_encode(&t, tx, len, NULL), CX_OK);
    assert_int_equal(cx_sui_tx_sign(k, *tx, *len, sig, NULL), CX_OK);
    cx_sui_tx_free(&t);
    cx_chain_key_free(k);
}

static void test_execute_and_simulate(void **st)
{
    (void)st;
    state("{\"execute\": {\"status\": \"SUCCESS\", \"events\": [{\"timestamp\": null, \"sender\":"
          " {\"address\": \"0x9\"}, \"contents\": {\"type\": {\"repr\": \"0xabc::market::JobCreated\"},"
          " \"bcs\": \"AAAA\"}}]}}");
    uint8_t *tx, sig[CX_SUI_SIGNATURE_LEN], d[32];
    size_t len;
    signed_tx(&tx, &len, sig);
    cx_sui_gql *g = client(1, 0, 0);
    cx_sui_effects fxs;
    cx_error e;
    if (cx_sui_gql_execute(g, tx, len, sig, &fxs, &e) != CX_OK)
        fail_msg("execute: %s", e.msg);
    assert_true(fxs.success);
    char b58[CX_SUI_DIGEST_B58_MAX + 1];
    assert_int_equal(cx_sui_tx_digest(tx, len, d, NULL), CX_OK);
    assert_int_equal(cx_sui_base58_encode(d, 32, b58, sizeof b58, NULL), CX_OK);
    assert_string_equal(fxs.digest, b58); /* the fixture computed Sui's digest of our bytes */
    assert_int_equal(fxs.n_created, 1);
    assert_int_equal(fxs.n_events, 1);
    assert_memory_equal(fxs.events[0].tx_digest, d, 32);
    assert_int_equal(fxs.events[0].bcs_len, 3);
    cx_sui_effects_free(&fxs);
    /* a wrong signature: the server refuses it, with its message */
    sig[10] ^= 1;
    assert_int_equal(cx_sui_gql_execute(g, tx, len, sig, &fxs, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "signature does not verify"));
    sig[10] ^= 1;
    /* executed but aborted: CX_OK, not a success, with the abort code */
    state("{\"execute\": {\"status\": \"FAILURE\", \"abortCode\": 23, \"message\": \"MoveAbort in "
          "market::accept_job\"}}");
    assert_int_equal(cx_sui_gql_execute(g, tx, len, sig, &fxs, NULL), CX_OK);
    assert_false(fxs.success);
    assert_true(fxs.has_abort_code);
    assert_int_equal(fxs.abort_code, 23);
    assert_non_null(strstr(fxs.error, "accept_job"));
    cx_sui_effects_free(&fxs);
    int ok;
    uint64_t gas;
    char err[512];
    assert_int_equal(cx_sui_gql_simulate(g, tx, len, &ok, &gas, err, NULL), CX_OK);
    assert_true(ok);
    assert_int_equal(gas, 2500000);
    cx_sui_gql_close(g);
    free(tx);
}

static void test_retries(void **st)
{
    (void)st;
    char id[CX_SUI_CHAIN_ID_MAX + 1];
    cx_error e;
    /* two 500s, then an answer */
    fixture_rules(&fx, "[{\"mode\":\"500\",\"count\":2}]");
    cx_sui_gql *g = client(5, 0, 10);
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, &e), CX_OK);
    assert_int_equal(cx_sui_gql_attempts(g), 3);
    /* a truncated body is retried */
    fixture_rules(&fx, "[{\"mode\":\"truncated\",\"count\":1}]");
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, &e), CX_OK);
    assert_int_equal(cx_sui_gql_attempts(g), 2);
    /* so is a dropped connection (libcurl itself may resend once on a reused connection that
     * died before answering, so one attempt of ours may be enough) */
    fixture_rules(&fx, "[{\"mode\":\"drop\",\"count\":1}]");
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, &e), CX_OK);
    assert_true(cx_sui_gql_attempts(g) <= 2);
    /* always 500: gives up after max_attempts, saying so */
    fixture_rules(&fx, "[{\"mode\":\"500\",\"count\":100}]");
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, &e), CX_ERR_NET);
    assert_int_equal(cx_sui_gql_attempts(g), 5);
    assert_non_null(strstr(e.msg, "after 5 attempts"));
    assert_non_null(strstr(e.msg, "HTTP 500"));
    cx_sui_gql_close(g);
    /* 429 with Retry-After: 0 is retried at once, not after the (long) backoff */
    fixture_rules(&fx, "[{\"mode\":\"429\",\"count\":1,\"retry_after\":0}]");
    g = client(3, 0, 5000);
    double t0 = now_s();
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, &e), CX_OK);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(cx_sui_gql_attempts(g), 2);
    cx_sui_gql_close(g);
}

static void test_refusals_not_retried(void **st)
{
    (void)st;
    char id[CX_SUI_CHAIN_ID_MAX + 1];
    cx_error e;
    cx_sui_gql *g = client(5, 500, 10);
    fixture_rules(&fx, "[{\"mode\":\"malformed\",\"count\":1}]");
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_sui_gql_attempts(g), 1);
    fixture_rules(&fx, "[{\"mode\":\"gql_error\",\"count\":1,\"message\":\"Query depth too large\"}]");
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "Query depth too large"));
    assert_int_equal(cx_sui_gql_attempts(g), 1);
    fixture_rules(&fx, "[{\"mode\":\"big\",\"count\":1,\"bytes\":200000}]");
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, &e), CX_ERR_LIMIT);
    assert_int_equal(cx_sui_gql_attempts(g), 1);
    /* too slow for the 500 ms timeout, every time: a network error after the attempts */
    fixture_rules(&fx, "[{\"mode\":\"slow\",\"count\":2,\"delay_ms\":1500}]");
    cx_sui_gql_close(g);
    g = client(2, 500, 10);
    assert_int_equal(cx_sui_gql_chain_identifier(g, id, &e), CX_ERR_NET);
    assert_int_equal(cx_sui_gql_attempts(g), 2);
    cx_sui_gql_close(g);
    /* the fixture's log holds only the client's own query texts */
    char *log = fixture_call(&fx, "/_fixture/log", NULL);
    json_t *doc = json_loads(log ? log : "", 0, NULL);
    free(log);
    json_t *reqs = json_object_get(doc, "requests"), *r;
    size_t i;
    assert_true(json_array_size(reqs) > 0);
    json_array_foreach(reqs, i, r)
    {
        const char *q = json_string_value(json_object_get(r, "query"));
        int known = 0;
        for (const char *const *t = cx_sui_gql_query_texts_for_tests; *t; t++)
            known |= q && !strcmp(q, *t);
        assert_true(known);
    }
    json_decref(doc);
}

int main(int argc, char **argv)
{
    if (argc == 2) { /* the query texts, for validate_graphql.mjs */
        json_t *a = json_array();
        for (const char *const *t = cx_sui_gql_query_texts_for_tests; *t; t++)
            json_array_append_new(a, json_string(*t));
        int rc = json_dump_file(a, argv[1], 0);
        json_decref(a);
        return rc == 0 ? 0 : 1;
    }
    if (fixture_start(&fx, CX_SUI_GRAPHQL_FIXTURE) != 0) {
        fprintf(stderr, "the Sui GraphQL fixture could not start (python3 + cryptography?)\n");
        return 1;
    }
    snprintf(url, sizeof url, "%s/graphql", fx.base);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_chain_id_and_gas_price, setup),
        cmocka_unit_test_setup(test_objects, setup),
        cmocka_unit_test_setup(test_coins_paged, setup),
        cmocka_unit_test_setup(test_events_by_cursor, setup),
        cmocka_unit_test_setup(test_execute_and_simulate, setup),
        cmocka_unit_test_setup(test_retries, setup),
        cmocka_unit_test_setup(test_refusals_not_retried, setup),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fixture_stop(&fx);
    return rc;
}
