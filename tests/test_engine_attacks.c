/* test_engine_attacks.c — issue 13's attacks on one small market run through the engine: a blob
 * store outside the TEE that serves other bytes on a later read (item 4), a store that fails
 * while headers are read and enclave-signed statements that drop a contributor or name another
 * spec or model (item 5), and results that `cloakx verify` must not call VERIFIED. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "cx_engine.h"
#include "store_internal.h" /* test-only cx_store ops around a real store */

/* ------------------------------------------------------- the lying store -- */

/* Reads of one blob id are counted; read n (0-based) serves `alt` instead of the stored bytes
 * when bit n of alt_reads is set, and fails as a store fails (a network error: an HTTP 503)
 * when bit n of fail_reads is set, or always with fail_always. Everything else goes to the
 * real store. */
typedef struct swap_store {
    cx_store *inner;
    char id[CX_STORE_ID_MAX];
    const uint8_t *alt;
    size_t alt_len;
    uint32_t alt_reads, fail_reads;
    int fail_always;
    unsigned reads;
} swap_store;

typedef struct alt_reader {
    cx_mem_reader m;
    cx_reader r;
} alt_reader;

static cx_err alt_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    alt_reader *a = ctx;
    return a->r.read(a->r.ctx, buf, len, got, e);
}

static void alt_close(void *ctx)
{
    free(ctx);
}

static cx_err swap_put(cx_store *s, cx_reader *src, char id[CX_STORE_ID_MAX], cx_error *e)
{
    swap_store *w = s->impl;
    return cx_store_put(w->inner, src, id, e);
}

static cx_err swap_get(cx_store *s, const char *id, cx_reader *out, cx_error *e)
{
    swap_store *w = s->impl;
    if (strcmp(id, w->id) != 0)
        return cx_store_get(w->inner, id, out, e);
    unsigned n = w->reads++;
    if (w->fail_always || (n < 32 && (w->fail_reads & (1u << n))))
        return cx_error_set(e, CX_ERR_NET, "blob %s: aggregator answered HTTP 503 (injected)", id);
    if (n >= 32 || !(w->alt_reads & (1u << n)))
        return cx_store_get(w->inner, id, out, e);
    alt_reader *a = calloc(1, sizeof *a);
    if (!a)
        return cx_error_set(e, CX_ERR_NOMEM, "swap store");
    cx_reader_from_memory(&a->r, &a->m, w->alt, w->alt_len);
    out->read = alt_read;
    out->close = alt_close;
    out->ctx = a;
    return CX_OK;
}

static cx_err swap_stat(cx_store *s, const char *id, cx_store_info *st, cx_error *e)
{
    swap_store *w = s->impl;
    return cx_store_stat(w->inner, id, st, e);
}

static void swap_free(cx_store *s)
{
    (void)s; /* the test owns the inner store and the state */
}

static const cx_store_ops swap_ops = {
    .kind = "local", .put = swap_put, .get = swap_get, .stat = swap_stat, .free = swap_free};

static cx_store *swap_store_new(swap_store *w)
{
    cx_store *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->ops = &swap_ops;
    s->impl = w;
    return s;
}

/* ------------------------------------------------------------ the market -- */

typedef struct ident {
    char dir[256];
    cx_chain_key *key;
    uint8_t x_pub[32];
    char addr[CX_CHAIN_ID_HEX_LEN + 1];
} ident;

typedef struct market {
    char dir[64], ledger_path[PATH_MAX], store_url[PATH_MAX], devca[PATH_MAX], opstate[PATH_MAX];
    cx_ledger *l;
    cx_store *s;
    ident op, buyer, alice, bob;
    cx_chain_id pool_id, job_id;
    char pool_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_job_registration reg;
    char alice_blob[CX_STORE_ID_MAX];
} market;

static void ident_make(market *m, const char *name, ident *id)
{
    cx_error e;
    memset(id, 0, sizeof *id);
    snprintf(id->dir, sizeof id->dir, "%s/keys/%s", m->dir, name);
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
    cx_chain_id_to_hex(cx_chain_key_address(id->key), id->addr);
    cx_x25519_key_free(x);
    cx_ed25519_key_free(ed);
}

/* CSV rows of one seller: x0, x1, label; `salt` makes each seller's data its own. */
static char *csv_rows(unsigned rows, unsigned salt, size_t *len)
{
    size_t cap = 64 + (size_t)rows * 48;
    char *b = malloc(cap);
    assert_non_null(b);
    size_t n = (size_t)snprintf(b, cap, "x0,x1,risk\n");
    for (unsigned i = 0; i < rows; i++) {
        double a = (double)((i * 37u + salt * 11u) % 100) / 10.0,
               c = (double)((i * 53u + salt * 7u) % 100) / 10.0;
        n += (size_t)snprintf(b + n, cap - n, "%.1f,%.1f,%d\n", a, c, a + c > 10.0);
    }
    *len = n;
    return b;
}

/* Seal a seller's rows to the enclave; the sealed bytes (malloc'ed) in *out. */
static void seal(market *m, const char *contributor, unsigned rows, unsigned salt,
                 cx_job_membuf *out, cx_cxb_header *h)
{
    cx_error e;
    size_t len = 0;
    char *csv = csv_rows(rows, salt, &len);
    cx_cxb_seal_params p = {.recipient_pub = m->reg.enclave.x25519_pk,
                            .pool_id = m->pool_hex,
                            .contributor = contributor,
                            .content_type = CX_CONTENT_CSV,
                            .chunk_size = 1024};
    memset(out, 0, sizeof *out);
    assert_int_equal(cx_job_seal_bytes(&p, (const uint8_t *)csv, len, out, h, &e), CX_OK);
    free(csv);
}

static void contribute(market *m, ident *who, const char *blob_id)
{
    cx_error e;
    cx_chain_id cid;
    assert_int_equal(cx_ledger_contribution_register(m->l, who->key, &m->pool_id,
                                                     (const uint8_t *)blob_id, strlen(blob_id),
                                                     &cid, &e),
                     CX_OK);
}

static void market_open(market *m)
{
    cx_error e;
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "swap-XXXXXX");
    assert_non_null(mkdtemp(m->dir));
    snprintf(m->ledger_path, sizeof m->ledger_path, "%s/ledger.db", m->dir);
    snprintf(m->store_url, sizeof m->store_url, "local:%s/store", m->dir);
    snprintf(m->devca, sizeof m->devca, "%s/devca", m->dir);
    snprintf(m->opstate, sizeof m->opstate, "%s/operator", m->dir);
    assert_int_equal(cx_job_ledger_open(m->ledger_path, NULL, &m->l, &e), CX_OK);
    assert_int_equal(cx_job_store_open(m->store_url, NULL, &m->s, &e), CX_OK);
    assert_int_equal(cx_tee_sim_devca_create(m->devca, &e), CX_OK);
    ident_make(m, "operator", &m->op);
    ident_make(m, "buyer", &m->buyer);
    ident_make(m, "alice", &m->alice);
    ident_make(m, "bob", &m->bob);

    uint8_t meas[48];
    assert_int_equal(cx_job_measure_self(meas, &e), CX_OK);
    cx_ledger_pool_params pp = {.theme = "store swap",
                                .price = 100,
                                .min_contributors = 1,
                                .max_rows_per_contributor = 100000,
                                .n_measurements = 1,
                                .operator_addr = *cx_chain_key_address(m->op.key)};
    pp.measurements[0] = meas;
    pp.measurement_lens[0] = 48;
    assert_int_equal(cx_ledger_pool_create(m->l, m->op.key, &pp, &m->pool_id, &e), CX_OK);
    cx_chain_id_to_hex(&m->pool_id, m->pool_hex);

    char root_path[PATH_MAX + 32];
    snprintf(root_path, sizeof root_path, "%s/%s", m->devca, CX_TEE_SIM_ROOT_CERT);
    uint8_t *root = NULL;
    size_t root_len = 0;
    assert_int_equal(cx_file_read_all(root_path, 1 << 20, &root, &root_len, &e), CX_OK);
    cx_tee *tee = NULL;
    assert_int_equal(cx_job_tee_open(m->opstate, m->devca, NULL, &tee, &e), CX_OK);
    assert_int_equal(cx_job_enclave_register(m->l, m->s, tee, m->op.key, (const char *)root,
                                             root_len, 1, &m->pool_id, m->opstate, &m->reg, &e),
                     CX_OK);
    cx_tee_close(tee);
    free(root);
}

static void job_create(market *m)
{
    cx_error e;
    json_t *spec = NULL;
    const char *text = "{\"task\": \"classification\", \"data\": {\"label\": \"risk\","
                       " \"format\": \"csv\", \"columns\": [{\"name\": \"x0\", \"type\": \"numeric\"},"
                       " {\"name\": \"x1\", \"type\": \"numeric\"}, {\"name\": \"risk\", \"type\":"
                       " \"class\", \"values\": [\"0\", \"1\"]}]},"
                       " \"model\": {\"type\": \"logistic\"}, \"epochs\": 2, \"seed\": 1}";
    assert_int_equal(cx_json_parse(text, strlen(text), &spec, &e), CX_OK);
    char *req = NULL;
    size_t req_len = 0;
    assert_int_equal(cx_job_request_build(spec, m->buyer.x_pub, &req, &req_len, &e), CX_OK);
    json_decref(spec);
    uint8_t h[32];
    SHA256((const uint8_t *)req, req_len, h);
    char rid[CX_STORE_ID_MAX];
    assert_int_equal(cx_job_store_put_bytes(m->s, req, req_len, rid, &e), CX_OK);
    free(req);
    assert_int_equal(cx_ledger_local_faucet(m->l, cx_chain_key_address(m->buyer.key), 10000, &e),
                     CX_OK);
    assert_int_equal(cx_ledger_job_create(m->l, m->buyer.key, &m->pool_id, h, (const uint8_t *)rid,
                                          strlen(rid), 1000, cx_unix_ms() + 3600 * 1000,
                                          &m->job_id, &e),
                     CX_OK);
}

/* One pass of the worker over the ledger with the given store. */
static void worker_once(market *m, cx_store *s)
{
    cx_error e;
    cx_logger log = {.level = CX_LOG_WARN};
    cx_worker_config wc = {.log = &log,
                           .ledger_url = m->ledger_path,
                           .store = s,
                           .state_dir = m->opstate,
                           .devca_dir = m->devca,
                           .key_dir = m->op.dir,
                           .once = 1,
                           .device = "cpu",
                           .threads = 2};
    cx_worker_stats ws;
    assert_int_equal(cx_worker_run(&wc, &ws, &e), CX_OK);
}

static void result_rows(market *m, uint64_t *alice, uint64_t *bob);

/* Whether the ledger accepted a result; when it did, what it gave alice and bob (stderr). */
static int has_result(market *m)
{
    cx_ledger_result r;
    memset(&r, 0, sizeof r);
    cx_error e;
    int ok = cx_ledger_result_get(m->l, &m->job_id, &r, &e) == CX_OK;
    cx_ledger_result_free(&r);
    if (ok) {
        uint64_t a = 0, b = 0;
        result_rows(m, &a, &b);
        fprintf(stderr, "result accepted: alice %llu rows, bob %llu rows\n", (unsigned long long)a,
                (unsigned long long)b);
    }
    return ok;
}

/* The rows the accepted statement gives each of alice and bob (0 when not listed). */
static void result_rows(market *m, uint64_t *alice, uint64_t *bob)
{
    cx_ledger_result r;
    memset(&r, 0, sizeof r);
    cx_error e;
    assert_int_equal(cx_ledger_result_get(m->l, &m->job_id, &r, &e), CX_OK);
    cx_statement st;
    uint64_t ts = 0;
    assert_int_equal(cx_statement_decode(r.statement, r.statement_len, &st, &ts, &e), CX_OK);
    *alice = *bob = 0;
    for (size_t i = 0; i < st.n_rows; i++) {
        if (memcmp(st.rows[i].contributor, cx_chain_key_address(m->alice.key)->b, 32) == 0)
            *alice = st.rows[i].rows;
        if (memcmp(st.rows[i].contributor, cx_chain_key_address(m->bob.key)->b, 32) == 0)
            *bob = st.rows[i].rows;
    }
    cx_statement_free(&st);
    cx_ledger_result_free(&r);
}

/* The checks cx_job_verify_bundle ran on the ledger's result of the job (*checks: JSON). */
static cx_err verify_checks(market *m, cx_store *s, json_t **checks, cx_error *e);

static void verify_with(market *m, cx_store *s, cx_err want)
{
    cx_error e;
    cx_result_bundle b;
    assert_int_equal(cx_job_bundle_from_ledger(m->l, m->s, &m->job_id, &b, &e), CX_OK);
    char root_path[PATH_MAX + 32];
    snprintf(root_path, sizeof root_path, "%s/%s", m->devca, CX_TEE_SIM_ROOT_CERT);
    uint8_t *root = NULL;
    size_t root_len = 0;
    assert_int_equal(cx_file_read_all(root_path, 1 << 20, &root, &root_len, &e), CX_OK);
    cx_job_verify_opts o = {.ledger = m->l,
                            .store = s,
                            .root_pem = (const char *)root,
                            .root_pem_len = root_len,
                            .allow_simulated = 1,
                            .job = &m->job_id};
    cx_err rc = cx_job_verify_bundle(&b, &o, NULL, &e);
    if (rc != want)
        fail_msg("verify: %d (%s), wanted %d", rc, rc == CX_OK ? "ok" : e.msg, want);
    free(root);
    cx_result_bundle_free(&b);
}

static cx_err verify_checks(market *m, cx_store *s, json_t **checks, cx_error *e)
{
    cx_result_bundle b;
    assert_int_equal(cx_job_bundle_from_ledger(m->l, m->s, &m->job_id, &b, e), CX_OK);
    char root_path[PATH_MAX + 32];
    snprintf(root_path, sizeof root_path, "%s/%s", m->devca, CX_TEE_SIM_ROOT_CERT);
    uint8_t *root = NULL;
    size_t root_len = 0;
    assert_int_equal(cx_file_read_all(root_path, 1 << 20, &root, &root_len, e), CX_OK);
    cx_job_verify_opts o = {.ledger = m->l,
                            .store = s,
                            .root_pem = (const char *)root,
                            .root_pem_len = root_len,
                            .allow_simulated = 1,
                            .job = &m->job_id};
    cx_err rc = cx_job_verify_bundle(&b, &o, checks, e);
    free(root);
    cx_result_bundle_free(&b);
    return rc;
}

/* The status and detail verify gave one check (NULL when it did not run). */
static const char *check_status(json_t *checks, const char *name, const char **detail)
{
    for (size_t i = 0; i < json_array_size(checks); i++) {
        json_t *c = json_array_get(checks, i);
        if (strcmp(json_string_value(json_object_get(c, "check")), name) == 0) {
            if (detail)
                *detail = json_string_value(json_object_get(c, "detail"));
            return json_string_value(json_object_get(c, "status"));
        }
    }
    return NULL;
}

static void market_close(market *m)
{
    cx_store_free(m->s);
    cx_ledger_close(m->l);
    cx_chain_key_free(m->op.key);
    cx_chain_key_free(m->buyer.key);
    cx_chain_key_free(m->alice.key);
    cx_chain_key_free(m->bob.key);
}

/* ------------------------------------------------------------------ tests -- */

/* Bob claims Alice's public blob id. The store shows the enclave, on the read whose header is
 * checked for Bob's claim, Bob's own sealed header in front of Alice's chunks; on every other
 * read, Alice's blob. Before the fix both claims were accepted and paid for the same rows. */
static void test_swapped_header_does_not_pay_twice(void **state)
{
    (void)state;
    market m;
    market_open(&m);
    cx_error e;
    cx_job_membuf a, b;
    cx_cxb_header ha, hb;
    seal(&m, m.alice.addr, 300, 1, &a, &ha);
    seal(&m, m.bob.addr, 10, 2, &b, &hb);
    assert_int_equal(cx_job_store_put_bytes(m.s, a.p, a.len, m.alice_blob, &e), CX_OK);
    /* what the store shows for Bob's claim: Bob's header, then Alice's chunks and tags */
    size_t flen = hb.header_len + (a.len - ha.header_len);
    uint8_t *forged = malloc(flen);
    assert_non_null(forged);
    memcpy(forged, b.p, hb.header_len);
    memcpy(forged + hb.header_len, a.p + ha.header_len, a.len - ha.header_len);
    contribute(&m, &m.bob, m.alice_blob); /* first: its claim is checked first */
    contribute(&m, &m.alice, m.alice_blob);
    job_create(&m);

    swap_store w = {.inner = m.s, .alt = forged, .alt_len = flen, .alt_reads = 1u << 0};
    snprintf(w.id, sizeof w.id, "%s", m.alice_blob);
    cx_store *ws = swap_store_new(&w);
    worker_once(&m, ws);
    /* the decrypting read is not the checked one: no result from this pass (retried later) */
    assert_false(has_result(&m));
    assert_true(w.reads >= 3);

    /* an honest store on the retry: Bob's claim is refused on Alice's real header */
    w.alt_reads = 0;
    w.reads = 0;
    worker_once(&m, ws);
    uint64_t ra = 0, rb = 0;
    result_rows(&m, &ra, &rb);
    assert_true(ra > 0);
    assert_int_equal(rb, 0);
    verify_with(&m, ws, CX_OK);

    cx_store_free(ws);
    free(forged);
    free(a.p);
    free(b.p);
    market_close(&m);
}

/* A tampered blob makes the job parse the good ones a second time; the store serves another
 * valid blob (sealed to the enclave, never registered) on that second decrypting read of
 * Alice's blob. Before the fix its rows were trained on and paid to Alice. */
static void test_swapped_blob_on_reparse(void **state)
{
    (void)state;
    market m;
    market_open(&m);
    cx_error e;
    cx_job_membuf a, t, d;
    cx_cxb_header ha, ht, hd;
    seal(&m, m.alice.addr, 300, 1, &a, &ha);
    seal(&m, m.bob.addr, 200, 3, &t, &ht);
    seal(&m, m.alice.addr, 50, 4, &d, &hd);
    /* Bob's blob is altered in its second chunk: it fails part way, after the parser saw its
     * first rows, so the good blobs are decrypted again */
    t.p[(size_t)cx_cxb_chunk_offset(&ht, 1) + 10] ^= 1;
    char tid[CX_STORE_ID_MAX];
    assert_int_equal(cx_job_store_put_bytes(m.s, a.p, a.len, m.alice_blob, &e), CX_OK);
    assert_int_equal(cx_job_store_put_bytes(m.s, t.p, t.len, tid, &e), CX_OK);
    contribute(&m, &m.alice, m.alice_blob);
    contribute(&m, &m.bob, tid);
    job_create(&m);

    swap_store w = {.inner = m.s, .alt = d.p, .alt_len = d.len, .alt_reads = 1u << 2};
    snprintf(w.id, sizeof w.id, "%s", m.alice_blob);
    cx_store *ws = swap_store_new(&w);
    worker_once(&m, ws);
    assert_int_equal(w.reads, 3); /* header check, first decryption, the re-parse */
    assert_false(has_result(&m));

    w.alt_reads = 0;
    worker_once(&m, ws);
    uint64_t ra = 0, rb = 0;
    result_rows(&m, &ra, &rb);
    assert_int_equal(ra, 300);
    assert_int_equal(rb, 0);
    verify_with(&m, ws, CX_OK);

    cx_store_free(ws);
    free(a.p);
    free(t.p);
    free(d.p);
    market_close(&m);
}

/* Alice's and Bob's blobs in the store and registered, the job created. */
static void two_sellers(market *m, cx_job_membuf *a, cx_job_membuf *b, char bob_blob[CX_STORE_ID_MAX])
{
    cx_error e;
    cx_cxb_header ha, hb;
    seal(m, m->alice.addr, 300, 1, a, &ha);
    seal(m, m->bob.addr, 200, 2, b, &hb);
    assert_int_equal(cx_job_store_put_bytes(m->s, a->p, a->len, m->alice_blob, &e), CX_OK);
    assert_int_equal(cx_job_store_put_bytes(m->s, b->p, b->len, bob_blob, &e), CX_OK);
    contribute(m, &m->alice, m->alice_blob);
    contribute(m, &m->bob, bob_blob);
    job_create(m);
}

static cx_ledger_job_state job_state(market *m)
{
    cx_ledger_job j;
    assert_int_equal(cx_ledger_job_get(m->l, &m->job_id, &j, NULL), CX_OK);
    return j.state;
}

/* Issue 13 item 5: the store fails twice while Alice's header is read (HTTP 503). Before the
 * fix that was a permanent rejection the statement did not record: Alice was left out and
 * unpaid. Now the header is read again and Alice is paid. */
static void test_store_fails_transiently_in_header_phase(void **state)
{
    (void)state;
    market m;
    market_open(&m);
    cx_job_membuf a, b;
    char bob_blob[CX_STORE_ID_MAX];
    two_sellers(&m, &a, &b, bob_blob);
    swap_store w = {.inner = m.s, .fail_reads = 3u /* reads 0 and 1 */};
    snprintf(w.id, sizeof w.id, "%s", m.alice_blob);
    cx_store *ws = swap_store_new(&w);
    worker_once(&m, ws);
    uint64_t ra = 0, rb = 0;
    result_rows(&m, &ra, &rb);
    assert_int_equal(ra, 300);
    assert_int_equal(rb, 200);
    assert_int_equal(w.reads, 4); /* three header reads, one decrypting read */
    assert_int_equal(job_state(&m), CX_LEDGER_JOB_PAID);
    verify_with(&m, ws, CX_OK);
    cx_store_free(ws);
    free(a.p);
    free(b.p);
    market_close(&m);
}

/* The store keeps failing on Alice's header: the job is not signed (no result, no signed
 * failure: the escrow stays with the accepting enclave) and nobody is dropped; once the store
 * answers, the job's retry pays both sellers. */
static void test_store_fails_permanently_in_header_phase(void **state)
{
    (void)state;
    market m;
    market_open(&m);
    cx_job_membuf a, b;
    char bob_blob[CX_STORE_ID_MAX];
    two_sellers(&m, &a, &b, bob_blob);
    swap_store w = {.inner = m.s, .fail_always = 1};
    snprintf(w.id, sizeof w.id, "%s", m.alice_blob);
    cx_store *ws = swap_store_new(&w);
    worker_once(&m, ws);
    assert_false(has_result(&m));
    assert_int_equal(w.reads, CX_JOB_STORE_TRIES);
    assert_int_equal(job_state(&m), CX_LEDGER_JOB_ACCEPTED);
    w.fail_always = 0;
    worker_once(&m, ws);
    uint64_t ra = 0, rb = 0;
    result_rows(&m, &ra, &rb);
    assert_int_equal(ra, 300);
    assert_int_equal(rb, 200);
    verify_with(&m, ws, CX_OK);
    cx_store_free(ws);
    free(a.p);
    free(b.p);
    market_close(&m);
}

/* What a forged statement changes in the ledger's honest one. */
typedef enum forgery { DROP_BOB, OTHER_SPEC, OTHER_MODEL } forgery;

/* The ledger's honest statement of job, altered as asked and re-signed by the enclave's own
 * key (a compromised or malicious enclave build; *msg malloc'ed). */
static void forge(market *m, const cx_chain_id *job, forgery f, uint8_t **msg, size_t *len,
                  uint8_t sig[64])
{
    cx_error e;
    cx_ledger_result r;
    memset(&r, 0, sizeof r);
    assert_int_equal(cx_ledger_result_get(m->l, &m->job_id, &r, &e), CX_OK);
    cx_statement st;
    uint64_t ts = 0;
    assert_int_equal(cx_statement_decode(r.statement, r.statement_len, &st, &ts, &e), CX_OK);
    memcpy(st.job_id, job->b, 32);
    if (f == DROP_BOB) {
        /* Bob is neither accepted nor rejected: Alice alone is paid */
        size_t k = 0;
        for (size_t i = 0; i < st.n_rows; i++)
            if (memcmp(st.rows[i].contributor, cx_chain_key_address(m->bob.key)->b, 32) != 0)
                st.rows[k++] = st.rows[i];
        assert_int_equal(k, st.n_rows - 1);
        st.n_rows = k;
    } else if (f == OTHER_SPEC) {
        st.config_hash[0] ^= 1;
    } else {
        st.result_hash[0] ^= 1;
    }
    assert_int_equal(cx_statement_encode(&st, ts, msg, len, &e), CX_OK);
    cx_tee *tee = NULL;
    assert_int_equal(cx_job_tee_open(m->opstate, m->devca, NULL, &tee, &e), CX_OK);
    assert_int_equal(cx_tee_sign(tee, *msg, *len, sig, &e), CX_OK);
    cx_tee_close(tee);
    cx_statement_free(&st);
    cx_ledger_result_free(&r);
}

/* Puts a statement in place of the ledger's result of the job, as a ledger that did not check
 * it would hold it (what `cloakx verify` must then catch on its own). */
static void ledger_holds(market *m, const uint8_t *msg, size_t len, const uint8_t sig[64])
{
    cx_ledger_close(m->l);
    m->l = NULL;
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(m->ledger_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE results SET statement=?, signature=? WHERE job_id=?",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(q, 1, msg, (int)len, SQLITE_TRANSIENT);
    sqlite3_bind_blob(q, 2, sig, 64, SQLITE_TRANSIENT);
    sqlite3_bind_blob(q, 3, m->job_id.b, 32, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
    cx_error e;
    assert_int_equal(cx_job_ledger_open(m->ledger_path, NULL, &m->l, &e), CX_OK);
}

/* An enclave-signed statement that leaves Bob out, or names another spec: the ledger refuses
 * it for a job the enclave accepted; and where a ledger held one anyway, `cloakx verify`
 * flags it (Bob's contribution unaccounted for; the config hash; the model's hash). */
static void test_forged_statements_refused_and_flagged(void **state)
{
    (void)state;
    market m;
    market_open(&m);
    cx_error e;
    cx_job_membuf a, b;
    char bob_blob[CX_STORE_ID_MAX];
    two_sellers(&m, &a, &b, bob_blob);
    worker_once(&m, m.s);
    uint64_t ra = 0, rb = 0;
    result_rows(&m, &ra, &rb);
    assert_true(ra > 0 && rb > 0);
    json_t *checks = NULL;
    assert_int_equal(verify_checks(&m, m.s, &checks, &e), CX_OK);
    assert_string_equal(check_status(checks, "contributions", NULL), "ok");
    json_decref(checks);
    cx_ledger_result honest;
    memset(&honest, 0, sizeof honest);
    assert_int_equal(cx_ledger_result_get(m.l, &m.job_id, &honest, &e), CX_OK);

    /* a second job the enclave accepts: the forged statements are refused for it */
    cx_chain_id job1 = m.job_id;
    job_create(&m);
    cx_chain_id job2 = m.job_id;
    m.job_id = job1;
    cx_tee *tee = NULL;
    assert_int_equal(cx_job_tee_open(m.opstate, m.devca, NULL, &tee, &e), CX_OK);
    assert_int_equal(cx_job_accept(m.l, tee, m.op.key, &m.reg.id, &job2, &e), CX_OK);
    cx_ledger_job j2;
    assert_int_equal(cx_ledger_job_get(m.l, &job2, &j2, &e), CX_OK);
    const forgery kinds[] = {DROP_BOB, OTHER_SPEC};
    const char *why[] = {"neither accepted nor rejected", "config hash"};
    for (size_t k = 0; k < 2; k++) {
        uint8_t *msg, sig[64], *km, ksig[64], wrapped[CX_JOB_WRAPPED_KEY_LEN] = {0};
        size_t len, kl;
        forge(&m, &job2, kinds[k], &msg, &len, sig);
        cx_statement st;
        assert_int_equal(cx_statement_decode(msg, len, &st, NULL, &e), CX_OK);
        assert_int_equal(cx_job_key_release_sign(tee, &j2, &m.reg.enclave, st.result_hash,
                                                 wrapped, &km, &kl, ksig, &e),
                         CX_OK);
        cx_statement_free(&st);
        cx_ledger_signed sm = {msg, len, sig}, key = {km, kl, ksig};
        assert_int_equal(cx_ledger_result_submit(m.l, m.op.key, &job2, &m.reg.id, &sm, &key, &e),
                         CX_ERR_VERIFY);
        assert_non_null(strstr(e.msg, why[k]));
        free(msg);
        free(km);
    }
    cx_tee_close(tee);

    /* a ledger that took them anyway: verify names what is wrong */
    const forgery held[] = {DROP_BOB, OTHER_SPEC, OTHER_MODEL};
    const char *failed_check[] = {"contributions", "spec", "result_hash"};
    for (size_t k = 0; k < 3; k++) {
        uint8_t *msg, sig[64];
        size_t len;
        ledger_holds(&m, honest.statement, honest.statement_len, honest.signature);
        forge(&m, &job1, held[k], &msg, &len, sig);
        ledger_holds(&m, msg, len, sig);
        free(msg);
        checks = NULL;
        assert_int_equal(verify_checks(&m, m.s, &checks, &e), CX_ERR_VERIFY);
        const char *detail = NULL;
        const char *st = check_status(checks, failed_check[k], &detail);
        if (!st) {
            char *dump = json_dumps(checks, JSON_INDENT(1));
            fail_msg("verify did not run %s: %s (%s)", failed_check[k], dump, e.msg);
        }
        assert_string_equal(st, "failed");
        if (held[k] == DROP_BOB) {
            assert_non_null(strstr(detail, m.bob.addr));
            assert_non_null(strstr(detail, "neither accepted nor rejected"));
        }
        json_decref(checks);
    }
    cx_ledger_result_free(&honest);
    free(a.p);
    free(b.p);
    market_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swapped_header_does_not_pay_twice),
        cmocka_unit_test(test_swapped_blob_on_reparse),
        cmocka_unit_test(test_store_fails_transiently_in_header_phase),
        cmocka_unit_test(test_store_fails_permanently_in_header_phase),
        cmocka_unit_test(test_forged_statements_refused_and_flagged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
