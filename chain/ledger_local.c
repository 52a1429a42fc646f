/* ledger_local.c — the embedded ledger: the rules of chain/RULES.md over SQLite (WAL, busy
 * timeout, one IMMEDIATE transaction per state change, schema version in PRAGMA user_version). */
#include "cx_chain.h"
#include "ledger_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <sodium.h>
#include <sqlite3.h>

/* Statement timestamps may run ahead of the ledger clock by at most this (clock skew). */
#define CX_LOCAL_SKEW_MS 300000u
#define CX_LOCAL_EVENTS_MAX 1000u
/* SQLite integers are signed 64-bit: every amount, row cap and time stays below 2^63. */
#define CX_LOCAL_U63_MAX ((uint64_t)INT64_MAX)

typedef struct local_ledger {
    sqlite3 *db;
    cx_ledger_local_opts opts;
} local_ledger;

static const cx_ledger_ops local_ops;

/* Version 1 of the schema. Unique keys carry the "once" rules: a job has one result, a payee
 * is paid once per job and role (and, since version 2, a contributor registers a blob once). */
static const char schema_v1[] =
    "CREATE TABLE txs(digest BLOB PRIMARY KEY, sender BLOB NOT NULL, kind TEXT NOT NULL,"
    " timestamp_ms INTEGER NOT NULL, signature BLOB NOT NULL);"
    "CREATE TABLE pools(id BLOB PRIMARY KEY, theme TEXT NOT NULL, price INTEGER NOT NULL,"
    " k INTEGER NOT NULL CHECK(k >= 1), max_rows INTEGER NOT NULL CHECK(max_rows >= 1),"
    " operator_bps INTEGER NOT NULL, protocol_bps INTEGER NOT NULL,"
    " operator_addr BLOB NOT NULL, created_by BLOB NOT NULL, created_ms INTEGER NOT NULL,"
    " CHECK(operator_bps >= 0 AND protocol_bps >= 0 AND operator_bps + protocol_bps <= 10000));"
    "CREATE TABLE pool_measurements(pool_id BLOB NOT NULL REFERENCES pools(id),"
    " idx INTEGER NOT NULL, measurement BLOB NOT NULL, PRIMARY KEY(pool_id, idx));"
    "CREATE TABLE enclaves(id BLOB PRIMARY KEY, ed25519_pk BLOB NOT NULL UNIQUE,"
    " x25519_pk BLOB NOT NULL, measurement BLOB NOT NULL, attestation_hash BLOB NOT NULL,"
    " registered_by BLOB NOT NULL, registered_ms INTEGER NOT NULL);"
    "CREATE TABLE contributions(id BLOB PRIMARY KEY, pool_id BLOB NOT NULL REFERENCES pools(id),"
    " blob_id BLOB NOT NULL UNIQUE, contributor BLOB NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE INDEX contributions_pool ON contributions(pool_id, contributor);"
    "CREATE TABLE jobs(id BLOB PRIMARY KEY, pool_id BLOB NOT NULL REFERENCES pools(id),"
    " buyer BLOB NOT NULL, spec_hash BLOB NOT NULL, spec_blob_id BLOB NOT NULL,"
    " payment INTEGER NOT NULL CHECK(payment > 0), deadline_ms INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, state INTEGER NOT NULL CHECK(state IN (0, 1, 2)));"
    "CREATE TABLE results(job_id BLOB PRIMARY KEY REFERENCES jobs(id), enclave_id BLOB NOT NULL,"
    " statement BLOB NOT NULL, signature BLOB NOT NULL UNIQUE, accepted INTEGER NOT NULL,"
    " refunded INTEGER NOT NULL, submitted_ms INTEGER NOT NULL);"
    "CREATE TABLE payouts(job_id BLOB NOT NULL REFERENCES jobs(id), role TEXT NOT NULL"
    " CHECK(role IN ('protocol', 'operator', 'contributor', 'refund')), payee BLOB NOT NULL,"
    " amount INTEGER NOT NULL CHECK(amount >= 0), PRIMARY KEY(job_id, role, payee));"
    "CREATE TABLE balances(addr BLOB PRIMARY KEY, amount INTEGER NOT NULL CHECK(amount >= 0));"
    "CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL,"
    " tx_digest BLOB NOT NULL, timestamp_ms INTEGER NOT NULL, object_id BLOB NOT NULL,"
    " pool_id BLOB NOT NULL, addr BLOB NOT NULL, amount INTEGER NOT NULL);";

/* Version 2: a blob id is unique per contributor, no longer over the whole ledger. Blob ids
 * are public (the store is), so "once over the ledger" let anybody who saw a blob register it
 * first and lock its owner out; the enclave pays only the registration whose contributor
 * sealed the blob (its authenticated header says who), so several claims cost nothing.
 * SQLite cannot drop a column constraint: the table is rebuilt.
 * An enclave also records its attestation document's blob id in the store: only local:DIR
 * names a blob by its SHA-256, Walrus does not, so the hash alone cannot find the document.
 * Enclaves registered under version 1 get an empty blob id; their readers fall back to the
 * version-1 rule, id = base64url(attestation_hash), which local:DIR satisfied. */
static const char schema_v2[] =
    "CREATE TABLE contributions_v2(id BLOB PRIMARY KEY,"
    " pool_id BLOB NOT NULL REFERENCES pools(id), blob_id BLOB NOT NULL,"
    " contributor BLOB NOT NULL, created_ms INTEGER NOT NULL, UNIQUE(blob_id, contributor));"
    "INSERT INTO contributions_v2(id, pool_id, blob_id, contributor, created_ms)"
    " SELECT id, pool_id, blob_id, contributor, created_ms FROM contributions;"
    "DROP TABLE contributions;"
    "ALTER TABLE contributions_v2 RENAME TO contributions;"
    "CREATE INDEX contributions_pool ON contributions(pool_id, contributor);"
    "ALTER TABLE enclaves ADD COLUMN attestation_blob_id BLOB NOT NULL DEFAULT x'';";

/* Version 3: the job state machine of RULES.md §2 and the pool's own enclaves of §2.1.
 * - pool_enclaves: the enclaves a pool's operator added (sealing targets, and the only
 *   enclaves that may accept its jobs). Enclaves of a version-2 file are carried over where
 *   the new rule would have allowed them: registered by the pool's operator, with a
 *   measurement the pool accepts.
 * - jobs: state 3 (ACCEPTED), the accepting enclave and time, the failure reason. SQLite
 *   cannot change a CHECK: the table is rebuilt (foreign keys are off during migrations and
 *   checked before the commit).
 * - job_messages: the enclave-signed acceptance, failure and key release, as signed.
 * - results.model_key: the wrapped model key, revealed only by a paying result; results of
 *   version 2 have none (their model was sealed to the buyer directly). */
static const char schema_v3[] =
    "CREATE TABLE pool_enclaves(pool_id BLOB NOT NULL REFERENCES pools(id),"
    " enclave_id BLOB NOT NULL REFERENCES enclaves(id), added_ms INTEGER NOT NULL,"
    " PRIMARY KEY(pool_id, enclave_id));"
    "INSERT INTO pool_enclaves(pool_id, enclave_id, added_ms)"
    " SELECT p.id, en.id, en.registered_ms FROM pools p JOIN enclaves en"
    " ON en.registered_by = p.operator_addr WHERE en.measurement IN"
    " (SELECT m.measurement FROM pool_measurements m WHERE m.pool_id = p.id);"
    "CREATE TABLE jobs_v3(id BLOB PRIMARY KEY, pool_id BLOB NOT NULL REFERENCES pools(id),"
    " buyer BLOB NOT NULL, spec_hash BLOB NOT NULL, spec_blob_id BLOB NOT NULL,"
    " payment INTEGER NOT NULL CHECK(payment > 0), deadline_ms INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, state INTEGER NOT NULL CHECK(state IN (0, 1, 2, 3)),"
    " enclave_id BLOB NOT NULL DEFAULT x'', accepted_ms INTEGER NOT NULL DEFAULT 0,"
    " fail_reason INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO jobs_v3(id, pool_id, buyer, spec_hash, spec_blob_id, payment, deadline_ms,"
    " created_ms, state) SELECT id, pool_id, buyer, spec_hash, spec_blob_id, payment,"
    " deadline_ms, created_ms, state FROM jobs;"
    "DROP TABLE jobs;"
    "ALTER TABLE jobs_v3 RENAME TO jobs;"
    "CREATE TABLE job_messages(job_id BLOB NOT NULL REFERENCES jobs(id),"
    " intent INTEGER NOT NULL CHECK(intent IN (1, 2, 3)), enclave_id BLOB NOT NULL,"
    " message BLOB NOT NULL, signature BLOB NOT NULL UNIQUE, PRIMARY KEY(job_id, intent));"
    "ALTER TABLE results ADD COLUMN model_key BLOB NOT NULL DEFAULT x'';";

/* Version 4: the pool's policy (RULES.md §1, §8, §9.8): DP required, the ε cap, the compute
 * budget per job, and the columns that may never be a feature or the label. Pools of a
 * version-3 file get none (no DP required, no caps, nothing forbidden): what they promised
 * when they were created. */
static const char schema_v4[] =
    "ALTER TABLE pools ADD COLUMN require_dp INTEGER NOT NULL DEFAULT 0"
    " CHECK(require_dp IN (0, 1));"
    "ALTER TABLE pools ADD COLUMN max_epsilon_micro INTEGER NOT NULL DEFAULT 0"
    " CHECK(max_epsilon_micro >= 0);"
    "ALTER TABLE pools ADD COLUMN max_params INTEGER NOT NULL DEFAULT 0 CHECK(max_params >= 0);"
    "ALTER TABLE pools ADD COLUMN max_epochs INTEGER NOT NULL DEFAULT 0 CHECK(max_epochs >= 0);"
    "ALTER TABLE pools ADD COLUMN max_flops INTEGER NOT NULL DEFAULT 0 CHECK(max_flops >= 0);"
    "CREATE TABLE pool_forbidden_columns(pool_id BLOB NOT NULL REFERENCES pools(id),"
    " idx INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY(pool_id, idx));";

/* Version 5: the sealings a pool accepts (RULES.md §1, §2.3), a set of bits, 0 = any. Pools of
 * a version-4 file get 0: they took either sealing. */
static const char schema_v5[] = "ALTER TABLE pools ADD COLUMN sealing INTEGER NOT NULL DEFAULT 0"
                                " CHECK(sealing BETWEEN 0 AND 3);";

/* migrations[v] takes the schema from version v to v+1 */
static const char *const migrations[] = {schema_v1, schema_v2, schema_v3, schema_v4, schema_v5};
_Static_assert(sizeof migrations / sizeof migrations[0] == CX_LEDGER_LOCAL_SCHEMA_VERSION,
               "one migration per schema version");

/* ------------------------------------------------------------- helpers -- */

static cx_err db_fail(sqlite3 *db, cx_error *e, const char *what)
{
    return cx_error_set(e, CX_ERR_DB, "ledger: %s: %s", what, sqlite3_errmsg(db));
}

static cx_err db_exec(sqlite3 *db, const char *sql, cx_error *e)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cx_err rc = cx_error_set(e, CX_ERR_DB, "ledger: %.60s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return rc;
    }
    return CX_OK;
}

/* Steps a statement unless one of its binds failed (then reports SQLITE_NOMEM: binds only
 * fail for memory or misuse, and misuse is a bug the tests would show). */
static int db_step(sqlite3_stmt *st, int bnd)
{
    return bnd == SQLITE_OK ? sqlite3_step(st) : SQLITE_NOMEM;
}

static cx_err db_prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, cx_error *e)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(db, e, "prepare");
    return CX_OK;
}

/* One parameter of a statement, bound in order from ?1: every query of this file states its
 * parameters as a PARAMS(...) list instead of a run of sqlite3_bind_* calls. */
typedef enum db_param_kind { DB_BLOB, DB_U64, DB_INT, DB_TEXT } db_param_kind;
typedef struct db_param {
    db_param_kind kind;
    const void *p; /* DB_BLOB, DB_TEXT */
    size_t n;      /* DB_BLOB */
    uint64_t v;    /* DB_U64, DB_INT */
} db_param;
/* clang-format off */
#define P_BLOB(ptr, len) {DB_BLOB, (ptr), (len), 0}
#define P_ID(id) {DB_BLOB, (id)->b, CX_CHAIN_ID_LEN, 0}
#define P_U64(x) {DB_U64, NULL, 0, (uint64_t)(x)}
#define P_INT(x) {DB_INT, NULL, 0, (uint64_t)(x)}
#define P_TEXT(s) {DB_TEXT, (s), 0, 0}
/* clang-format on */
/* the array and its length, as two arguments */
#define PARAMS(...)                                                                                \
    (const db_param[]){__VA_ARGS__}, sizeof((const db_param[]){__VA_ARGS__}) / sizeof(db_param)

static int db_bind(sqlite3_stmt *st, const db_param *a, size_t n)
{
    /* a zero-length blob must still bind as a blob, not NULL */
    static const uint8_t empty[1] = {0};
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    for (size_t i = 0; i < n; i++) {
        int c = (int)i + 1;
        switch (a[i].kind) {
        case DB_BLOB:
            bnd |= sqlite3_bind_blob(st, c, a[i].n ? a[i].p : empty, (int)a[i].n, SQLITE_TRANSIENT);
            break;
        case DB_U64:
            bnd |= sqlite3_bind_int64(st, c, (sqlite3_int64)a[i].v);
            break;
        case DB_INT:
            bnd |= sqlite3_bind_int(st, c, (int)a[i].v);
            break;
        case DB_TEXT:
            bnd |= sqlite3_bind_text(st, c, (const char *)a[i].p, -1, SQLITE_TRANSIENT);
            break;
        }
    }
    return bnd;
}

/* Prepares sql and binds its parameters; a failed bind is left in *bnd for db_step. */
static cx_err db_open(sqlite3 *db, const char *sql, const db_param *a, size_t n, sqlite3_stmt **st,
                      int *bnd, cx_error *e)
{
    cx_err rc = db_prep(db, sql, st, e);
    if (rc == CX_OK)
        *bnd = db_bind(*st, a, n);
    return rc;
}

/* Constraint failures of a write that mean "already there": a rule of RULES.md, reported as
 * CX_ERR_STATE, not as a database error. */
enum { DUP_UNIQUE = 1u << 0, DUP_PRIMARYKEY = 1u << 1 };

/* Runs one write; a failure on a constraint in dup_on is reported as dup, any other as a
 * database error while doing `what`. */
static cx_err db_write_once(sqlite3 *db, const char *what, unsigned dup_on, const char *dup,
                            const char *sql, const db_param *a, size_t n, cx_error *e)
{
    sqlite3_stmt *st;
    int bnd;
    cx_err rc = db_open(db, sql, a, n, &st, &bnd, e);
    if (rc != CX_OK)
        return rc;
    if (db_step(st, bnd) != SQLITE_DONE) {
        int x = sqlite3_extended_errcode(db);
        if (((dup_on & DUP_UNIQUE) && x == SQLITE_CONSTRAINT_UNIQUE) ||
            ((dup_on & DUP_PRIMARYKEY) && x == SQLITE_CONSTRAINT_PRIMARYKEY))
            rc = cx_error_set(e, CX_ERR_STATE, "%s", dup);
        else
            rc = db_fail(db, e, what);
    }
    sqlite3_finalize(st);
    return rc;
}

static cx_err db_write(sqlite3 *db, const char *what, const char *sql, const db_param *a, size_t n,
                       cx_error *e)
{
    return db_write_once(db, what, 0, NULL, sql, a, n, e);
}

/* Takes one result row into ctx (fn of db_read, fill of db_list_read). */
typedef cx_err (*db_row_fn)(sqlite3_stmt *st, void *ctx, cx_error *e);

/* Runs a query, handing each row to fn (NULL: only counted); *rows (may be NULL) is how many
 * rows there were. */
static cx_err db_read(sqlite3 *db, const char *what, const char *sql, const db_param *a, size_t n,
                      db_row_fn fn, void *ctx, size_t *rows, cx_error *e)
{
    sqlite3_stmt *st;
    int bnd, s;
    size_t k = 0;
    cx_err rc = db_open(db, sql, a, n, &st, &bnd, e);
    if (rc != CX_OK)
        return rc;
    while ((s = db_step(st, bnd)) == SQLITE_ROW) {
        k++;
        if (fn && (rc = fn(st, ctx, e)) != CX_OK)
            break;
    }
    if (rc == CX_OK && s != SQLITE_DONE)
        rc = db_fail(db, e, what);
    sqlite3_finalize(st);
    if (rows)
        *rows = k;
    return rc;
}

/* Room for one more item after the n in *items (doubling from `first`): the new slot, zeroed,
 * or NULL when out of memory (*items is then unchanged). */
static void *grow(void **items, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n == *cap) {
        size_t nc = *cap ? *cap * 2 : first;
        void *nb = realloc(*items, nc * elem);
        if (!nb)
            return NULL;
        *items = nb;
        *cap = nc;
    }
    uint8_t *slot = (uint8_t *)*items + n * elem;
    memset(slot, 0, elem);
    return slot;
}

typedef struct db_list {
    void *items;
    size_t n, cap, elem, first;
    db_row_fn fill;
} db_list;

static cx_err list_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    db_list *li = ctx;
    void *item = grow(&li->items, &li->cap, li->n, li->elem, li->first);
    if (!item)
        return cx_error_set(e, CX_ERR_NOMEM, "ledger: out of memory");
    li->n++;
    return li->fill(st, item, e);
}

/* Every row of a query, each filled into a zeroed item of `elem` bytes, as one malloc'ed
 * array (NULL when there are no rows or on failure). */
static cx_err db_list_read(sqlite3 *db, const char *what, const char *sql, const db_param *a,
                           size_t n, size_t elem, size_t first, db_row_fn fill, void **out,
                           size_t *count, cx_error *e)
{
    db_list li = {NULL, 0, 0, elem, first, fill};
    cx_err rc = db_read(db, what, sql, a, n, list_row, &li, NULL, e);
    if (rc != CX_OK) {
        free(li.items);
        li.items = NULL;
        li.n = 0;
    }
    *out = li.items;
    *count = li.n;
    return rc;
}

/* The one row of the object `obj` with this id, through fill into out (size bytes, zeroed
 * first); CX_ERR_NOTFOUND when absent. */
static cx_err db_get(sqlite3 *db, const char *obj, const char *sql, const cx_chain_id *id,
                     db_row_fn fill, void *out, size_t size, cx_error *e)
{
    char what[32], hex[CX_CHAIN_ID_HEX_LEN + 1];
    size_t found = 0;
    memset(out, 0, size);
    snprintf(what, sizeof what, "read %s", obj);
    cx_err rc = db_read(db, what, sql, PARAMS(P_ID(id)), fill, out, &found, e);
    if (rc != CX_OK || found)
        return rc;
    cx_chain_id_to_hex(id, hex);
    return cx_error_set(e, CX_ERR_NOTFOUND, "ledger: no %s %s", obj, hex);
}

static void col_id(sqlite3_stmt *st, int i, cx_chain_id *id)
{
    const void *p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    memset(id->b, 0, CX_CHAIN_ID_LEN);
    if (p && n == CX_CHAIN_ID_LEN)
        memcpy(id->b, p, CX_CHAIN_ID_LEN);
}

static size_t col_bytes(sqlite3_stmt *st, int i, uint8_t *dst, size_t cap)
{
    const void *p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (!p || n <= 0)
        return 0;
    size_t m = (size_t)n < cap ? (size_t)n : cap;
    memcpy(dst, p, m);
    return m;
}

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
    return (uint64_t)sqlite3_column_int64(st, i);
}

static uint64_t local_now(const local_ledger *L)
{
    return L->opts.now_ms ? L->opts.now_ms(L->opts.clock_ud) : cx_unix_ms();
}

static cx_err tx_begin(local_ledger *L, cx_error *e)
{
    return db_exec(L->db, "BEGIN IMMEDIATE", e);
}

static cx_err tx_end(local_ledger *L, cx_err rc, cx_error *e)
{
    if (rc == CX_OK)
        rc = db_exec(L->db, "COMMIT", e);
    if (rc == CX_OK)
        return CX_OK;
    /* a failed check or a failed COMMIT: nothing of this transaction may remain */
    cx_error keep = {0};
    if (e)
        keep = *e;
    (void)sqlite3_exec(L->db, "ROLLBACK", NULL, NULL, NULL);
    if (e)
        *e = keep;
    return rc;
}

/* ------------------------------------------------- signed transactions -- */

typedef struct local_tx {
    uint8_t digest[32];
    uint64_t now;
    uint32_t created; /* objects created so far (object ids derive from digest + counter) */
    cx_chain_addr sender;
} local_tx;

/* Every mutating call is a transaction signed like Sui's: TxData = BCS{kind, sender,
 * timestamp_ms, nonce[32], args}; the signer signs BLAKE2b-256(00 00 00 || TxData); the
 * ledger verifies it, records it, and names it by BLAKE2b-256("TransactionData::" || TxData). */
static cx_err tx_sign_record(local_ledger *L, const cx_chain_key *signer, const char *kind,
                             const uint8_t *args, size_t args_len, local_tx *tx, cx_error *e)
{
    memset(tx, 0, sizeof *tx);
    tx->now = local_now(L);
    tx->sender = *cx_chain_key_address(signer);
    uint8_t nonce[32];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "ledger: RAND_bytes failed");
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_bytes(&w, (const uint8_t *)kind, strlen(kind));
    cx_bcs_put_fixed(&w, tx->sender.b, CX_CHAIN_ID_LEN);
    cx_bcs_put_u64(&w, tx->now);
    cx_bcs_put_fixed(&w, nonce, sizeof nonce);
    cx_bcs_put_bytes(&w, args, args_len);
    uint8_t *bytes;
    size_t len;
    cx_err rc = cx_bcs_writer_finish(&w, &bytes, &len, e);
    if (rc != CX_OK)
        return rc;
    uint8_t signing[CX_SUI_DIGEST_LEN], sig[CX_CHAIN_ED25519_SIG_LEN];
    rc = cx_sui_intent_digest(CX_SUI_INTENT_TRANSACTION, bytes, len, signing, e);
    if (rc == CX_OK)
        rc = cx_sui_tx_digest(bytes, len, tx->digest, e);
    free(bytes);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "ledger: ");
    if ((rc = cx_chain_key_sign(signer, signing, sizeof signing, sig, e)) != CX_OK ||
        (rc = cx_ed25519_verify(cx_chain_key_public(signer), signing, sizeof signing, sig, e)) !=
            CX_OK)
        return cx_error_wrap(rc, e, "ledger: transaction signature: ");
    return db_write(L->db, "record transaction", "INSERT INTO txs VALUES(?,?,?,?,?)",
                    PARAMS(P_BLOB(tx->digest, 32), P_ID(&tx->sender), P_TEXT(kind), P_U64(tx->now),
                           P_BLOB(sig, sizeof sig)),
                    e);
}

/* Opens a state change: finishes its BCS args (w is consumed), begins the IMMEDIATE
 * transaction and records the signed transaction in it. On failure nothing stays open; on
 * success the caller ends it with tx_end (or tx_end_created). */
static cx_err tx_start(local_ledger *L, const cx_chain_key *signer, const char *kind,
                       cx_bcs_writer *w, local_tx *tx, cx_error *e)
{
    uint8_t *args;
    size_t alen;
    cx_err rc = cx_bcs_writer_finish(w, &args, &alen, e);
    if (rc != CX_OK)
        return rc;
    if ((rc = tx_begin(L, e)) == CX_OK &&
        (rc = tx_sign_record(L, signer, kind, args, alen, tx, e)) != CX_OK)
        rc = tx_end(L, rc, e);
    free(args);
    return rc;
}

static cx_err tx_new_id(local_tx *tx, cx_chain_id *out, cx_error *e)
{
    uint8_t in[36];
    memcpy(in, tx->digest, 32);
    uint32_t c = tx->created++;
    for (int i = 0; i < 4; i++)
        in[32 + i] = (uint8_t)(c >> (8 * i));
    if (crypto_generichash(out->b, CX_CHAIN_ID_LEN, in, sizeof in, NULL, 0) != 0)
        return cx_error_set(e, CX_ERR_CRYPTO, "ledger: BLAKE2b failed");
    return CX_OK;
}

static cx_err emit(local_ledger *L, const local_tx *tx, cx_ledger_event_kind kind,
                   const cx_chain_id *object, const cx_chain_id *pool, const cx_chain_addr *addr,
                   uint64_t amount, cx_error *e)
{
    static const cx_chain_id zero = {{0}};
    return db_write(L->db, "emit event",
                    "INSERT INTO events(kind,tx_digest,timestamp_ms,object_id,pool_id,addr,"
                    "amount) VALUES(?,?,?,?,?,?,?)",
                    PARAMS(P_INT(kind), P_BLOB(tx->digest, 32), P_U64(tx->now), P_ID(object),
                           P_ID(pool ? pool : &zero), P_ID(addr ? addr : &zero), P_U64(amount)),
                    e);
}

/* Ends a transaction that created object *id (in pool, NULL for none): on success its
 * creation event (sent by the sender), the commit, then *out. */
static cx_err tx_end_created(local_ledger *L, cx_err rc, const local_tx *tx,
                             cx_ledger_event_kind ev, const cx_chain_id *id,
                             const cx_chain_id *pool, uint64_t amount, cx_chain_id *out,
                             cx_error *e)
{
    if (rc == CX_OK)
        rc = emit(L, tx, ev, id, pool, &tx->sender, amount, e);
    rc = tx_end(L, rc, e);
    if (rc == CX_OK)
        *out = *id;
    return rc;
}

static cx_err u64_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    (void)e;
    *(uint64_t *)ctx = col_u64(st, 0);
    return CX_OK;
}

static cx_err balance_read(local_ledger *L, const cx_chain_addr *a, uint64_t *out, cx_error *e)
{
    *out = 0; /* no row: never credited */
    return db_read(L->db, "read balance", "SELECT amount FROM balances WHERE addr=?",
                   PARAMS(P_ID(a)), u64_row, out, NULL, e);
}

/* credits amount (debits it when debit is set); never below zero or above 2^63-1 */
static cx_err balance_add(local_ledger *L, const cx_chain_addr *a, uint64_t amount, int debit,
                          cx_error *e)
{
    uint64_t cur;
    cx_err rc = balance_read(L, a, &cur, e);
    if (rc != CX_OK)
        return rc;
    uint64_t next;
    if (debit) {
        if (amount > cur)
            return cx_error_set(e, CX_ERR_STATE,
                                "ledger: insufficient balance (%" PRIu64 " < %" PRIu64 ")", cur,
                                amount);
        next = cur - amount;
    } else {
        if (amount > CX_LOCAL_U63_MAX - cur)
            return cx_error_set(e, CX_ERR_LIMIT, "ledger: balance would exceed 2^63-1");
        next = cur + amount;
    }
    return db_write(L->db, "write balance",
                    "INSERT INTO balances(addr,amount) VALUES(?,?) "
                    "ON CONFLICT(addr) DO UPDATE SET amount=excluded.amount",
                    PARAMS(P_ID(a), P_U64(next)), e);
}

static cx_err payout_record(local_ledger *L, const local_tx *tx, const cx_chain_id *job,
                            const cx_chain_id *pool, const char *role, const cx_chain_addr *to,
                            uint64_t amount, cx_ledger_event_kind ev, cx_error *e)
{
    /* only the (job, role, payee) key means "paid already"; any other failure (I/O, full
     * disk) is a database error, which a worker retries */
    char dup[96];
    snprintf(dup, sizeof dup, "ledger: %s payout for this job already made", role);
    cx_err rc = db_write_once(L->db, "record payout", DUP_PRIMARYKEY, dup,
                              "INSERT INTO payouts VALUES(?,?,?,?)",
                              PARAMS(P_ID(job), P_TEXT(role), P_ID(to), P_U64(amount)), e);
    if (rc != CX_OK)
        return rc;
    if ((rc = balance_add(L, to, amount, 0, e)) != CX_OK)
        return rc;
    return emit(L, tx, ev, job, pool, to, amount, e);
}

/* ---------------------------------------------------------------- pools -- */

static cx_err local_pool_create(cx_ledger *l, const cx_chain_key *signer,
                                const cx_ledger_pool_params *p, cx_chain_id *out, cx_error *e)
{
    local_ledger *L = l->impl;
    if (p->price > CX_LOCAL_U63_MAX || p->max_rows_per_contributor > CX_LOCAL_U63_MAX ||
        p->policy.max_epsilon_micro > CX_LOCAL_U63_MAX || p->policy.max_params > CX_LOCAL_U63_MAX ||
        p->policy.max_epochs > CX_LOCAL_U63_MAX || p->policy.max_flops > CX_LOCAL_U63_MAX)
        return cx_error_set(e, CX_ERR_LIMIT,
                            "pool create: price, row cap and policy limits must be < 2^63");
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_bytes(&w, (const uint8_t *)p->theme, strlen(p->theme));
    cx_bcs_put_u64(&w, p->price);
    cx_bcs_put_u64(&w, p->min_contributors);
    cx_bcs_put_u64(&w, p->max_rows_per_contributor);
    cx_bcs_put_u64(&w, p->operator_fee_bps);
    cx_bcs_put_u64(&w, p->protocol_fee_bps);
    cx_bcs_put_uleb(&w, p->n_measurements);
    for (size_t i = 0; i < p->n_measurements; i++)
        cx_bcs_put_bytes(&w, p->measurements[i], p->measurement_lens[i]);
    cx_bcs_put_fixed(&w, p->operator_addr.b, CX_CHAIN_ID_LEN);
    /* the policy, in the Move call's argument order (chain/move: create_pool) */
    const cx_ledger_pool_policy *pol = &p->policy;
    cx_bcs_put_bool(&w, pol->require_dp != 0);
    cx_bcs_put_u64(&w, pol->max_epsilon_micro);
    cx_bcs_put_uleb(&w, pol->n_forbidden);
    for (size_t i = 0; i < pol->n_forbidden; i++)
        cx_bcs_put_bytes(&w, (const uint8_t *)pol->forbidden_columns[i],
                         strlen(pol->forbidden_columns[i]));
    cx_bcs_put_u64(&w, pol->max_params);
    cx_bcs_put_u64(&w, pol->max_epochs);
    cx_bcs_put_u64(&w, pol->max_flops);
    cx_bcs_put_u8(&w, pol->sealing);
    local_tx tx;
    cx_chain_id id = {{0}};
    cx_err rc = tx_start(L, signer, "pool::create", &w, &tx, e);
    if (rc != CX_OK)
        return rc;
    rc = tx_new_id(&tx, &id, e);
    if (rc == CX_OK)
        rc = db_write(L->db, "insert pool",
                      "INSERT INTO pools(id,theme,price,k,max_rows,operator_bps,protocol_bps,"
                      "operator_addr,created_by,created_ms,require_dp,max_epsilon_micro,"
                      "max_params,max_epochs,max_flops,sealing) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      PARAMS(P_ID(&id), P_TEXT(p->theme), P_U64(p->price),
                             P_U64(p->min_contributors), P_U64(p->max_rows_per_contributor),
                             P_U64(p->operator_fee_bps), P_U64(p->protocol_fee_bps),
                             P_ID(&p->operator_addr), P_ID(&tx.sender), P_U64(tx.now),
                             P_INT(pol->require_dp != 0), P_U64(pol->max_epsilon_micro),
                             P_U64(pol->max_params), P_U64(pol->max_epochs),
                             P_U64(pol->max_flops), P_INT(pol->sealing)),
                      e);
    for (size_t i = 0; rc == CX_OK && i < p->n_measurements; i++)
        rc = db_write(
            L->db, "insert pool measurement", "INSERT INTO pool_measurements VALUES(?,?,?)",
            PARAMS(P_ID(&id), P_INT(i), P_BLOB(p->measurements[i], p->measurement_lens[i])), e);
    for (size_t i = 0; rc == CX_OK && i < pol->n_forbidden; i++)
        rc = db_write(L->db, "insert pool forbidden column",
                      "INSERT INTO pool_forbidden_columns VALUES(?,?,?)",
                      PARAMS(P_ID(&id), P_INT(i), P_TEXT(pol->forbidden_columns[i])), e);
    return tx_end_created(L, rc, &tx, CX_LEDGER_EV_POOL_CREATED, &id, &id, 0, out, e);
}

static cx_err pool_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    (void)e;
    cx_ledger_pool *out = ctx;
    col_id(st, 0, &out->id);
    const unsigned char *t = sqlite3_column_text(st, 1);
    snprintf(out->theme, sizeof out->theme, "%s", t ? (const char *)t : "");
    out->price = col_u64(st, 2);
    out->min_contributors = (uint32_t)col_u64(st, 3);
    out->max_rows_per_contributor = col_u64(st, 4);
    out->operator_fee_bps = (uint32_t)col_u64(st, 5);
    out->protocol_fee_bps = (uint32_t)col_u64(st, 6);
    col_id(st, 7, &out->operator_addr);
    col_id(st, 8, &out->created_by);
    out->created_ms = col_u64(st, 9);
    out->policy.require_dp = sqlite3_column_int(st, 10) != 0;
    out->policy.max_epsilon_micro = col_u64(st, 11);
    out->policy.max_params = col_u64(st, 12);
    out->policy.max_epochs = col_u64(st, 13);
    out->policy.max_flops = col_u64(st, 14);
    out->policy.sealing = (uint8_t)sqlite3_column_int(st, 15);
    return CX_OK;
}

static cx_err forbidden_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    (void)e;
    cx_ledger_pool_policy *pol = ctx;
    if (pol->n_forbidden < CX_CHAIN_FORBIDDEN_MAX) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(pol->forbidden_columns[pol->n_forbidden++], CX_CHAIN_COLUMN_NAME_MAX + 1, "%s",
                 t ? (const char *)t : "");
    }
    return CX_OK;
}

static cx_err measurement_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    (void)e;
    cx_ledger_pool *out = ctx;
    if (out->n_measurements < CX_CHAIN_MAX_MEASUREMENTS) {
        size_t i = out->n_measurements++;
        out->measurement_lens[i] = col_bytes(st, 0, out->measurements[i], CX_CHAIN_MEASUREMENT_MAX);
    }
    return CX_OK;
}

static cx_err local_pool_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_pool *out, cx_error *e)
{
    local_ledger *L = l->impl;
    cx_err rc = db_get(L->db, "pool",
                       "SELECT id,theme,price,k,max_rows,operator_bps,protocol_bps,operator_addr,"
                       "created_by,created_ms,require_dp,max_epsilon_micro,max_params,max_epochs,"
                       "max_flops,sealing FROM pools WHERE id=?",
                       id, pool_row, out, sizeof *out, e);
    if (rc != CX_OK)
        return rc;
    rc = db_read(L->db, "read pool measurements",
                 "SELECT measurement FROM pool_measurements WHERE pool_id=? ORDER BY idx",
                 PARAMS(P_ID(id)), measurement_row, out, NULL, e);
    if (rc != CX_OK)
        return rc;
    return db_read(L->db, "read pool policy",
                   "SELECT name FROM pool_forbidden_columns WHERE pool_id=? ORDER BY idx",
                   PARAMS(P_ID(id)), forbidden_row, &out->policy, NULL, e);
}

static int pool_accepts(const cx_ledger_pool *p, const uint8_t *m, size_t mlen)
{
    for (size_t i = 0; i < p->n_measurements; i++)
        if (p->measurement_lens[i] == mlen && memcmp(p->measurements[i], m, mlen) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------- enclaves -- */

/* the columns in the order enclave_row reads them (ALTER TABLE appended the blob id) */
#define ENCLAVE_COLS                                                                               \
    "id,ed25519_pk,x25519_pk,measurement,attestation_hash,registered_by,registered_ms,"            \
    "attestation_blob_id"
#define ENCLAVE_PREFIXED_COLS                                                                      \
    "en.id,en.ed25519_pk,en.x25519_pk,en.measurement,en.attestation_hash,en.registered_by,"        \
    "en.registered_ms,en.attestation_blob_id"

/* att is not needed here: the registering client verified the document (RULES.md §2.1). */
static cx_err local_enclave_register(cx_ledger *l, const cx_chain_key *signer,
                                     const cx_ledger_enclave *en,
                                     const cx_ledger_attestation *att, cx_chain_id *out,
                                     cx_error *e)
{
    (void)att;
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_bytes(&w, en->ed25519_pk, sizeof en->ed25519_pk);
    cx_bcs_put_bytes(&w, en->x25519_pk, sizeof en->x25519_pk);
    cx_bcs_put_bytes(&w, en->measurement, en->measurement_len);
    cx_bcs_put_bytes(&w, en->attestation_hash, sizeof en->attestation_hash);
    cx_bcs_put_bytes(&w, en->attestation_blob_id, en->attestation_blob_id_len);
    local_tx tx;
    cx_chain_id id = {{0}};
    cx_err rc = tx_start(L, signer, "enclave::register", &w, &tx, e);
    if (rc != CX_OK)
        return rc;
    rc = tx_new_id(&tx, &id, e);
    if (rc == CX_OK)
        rc = db_write_once(
            L->db, "insert enclave", DUP_UNIQUE, "ledger: this enclave key is already registered",
            "INSERT INTO enclaves(" ENCLAVE_COLS ") VALUES(?,?,?,?,?,?,?,?)",
            PARAMS(P_ID(&id), P_BLOB(en->ed25519_pk, sizeof en->ed25519_pk),
                   P_BLOB(en->x25519_pk, sizeof en->x25519_pk),
                   P_BLOB(en->measurement, en->measurement_len),
                   P_BLOB(en->attestation_hash, sizeof en->attestation_hash), P_ID(&tx.sender),
                   P_U64(tx.now), P_BLOB(en->attestation_blob_id, en->attestation_blob_id_len)),
            e);
    return tx_end_created(L, rc, &tx, CX_LEDGER_EV_ENCLAVE_REGISTERED, &id, NULL, 0, out, e);
}

/* a row of SELECT ENCLAVE_COLS FROM enclaves, into a zeroed enclave */
static cx_err enclave_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    (void)e;
    cx_ledger_enclave *out = ctx;
    col_id(st, 0, &out->id);
    col_bytes(st, 1, out->ed25519_pk, sizeof out->ed25519_pk);
    col_bytes(st, 2, out->x25519_pk, sizeof out->x25519_pk);
    out->measurement_len = col_bytes(st, 3, out->measurement, sizeof out->measurement);
    col_bytes(st, 4, out->attestation_hash, sizeof out->attestation_hash);
    col_id(st, 5, &out->registered_by);
    out->registered_ms = col_u64(st, 6);
    out->attestation_blob_id_len =
        col_bytes(st, 7, out->attestation_blob_id, sizeof out->attestation_blob_id);
    return CX_OK;
}

static cx_err local_enclave_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_enclave *out,
                                cx_error *e)
{
    local_ledger *L = l->impl;
    return db_get(L->db, "enclave", "SELECT " ENCLAVE_COLS " FROM enclaves WHERE id=?", id,
                  enclave_row, out, sizeof *out, e);
}

/* RULES.md §2.1: only the pool's operator makes an enclave one of the pool's (a sealing
 * target, and the only kind that may accept the pool's jobs). */
static cx_err local_pool_enclave_add(cx_ledger *l, const cx_chain_key *signer,
                                     const cx_chain_id *pool, const cx_chain_id *enclave,
                                     cx_error *e)
{
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, pool->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_fixed(&w, enclave->b, CX_CHAIN_ID_LEN);
    local_tx tx;
    cx_ledger_pool p;
    cx_ledger_enclave en;
    cx_err rc = tx_start(L, signer, "pool::add_enclave", &w, &tx, e);
    if (rc != CX_OK)
        return rc;
    if ((rc = local_pool_get(l, pool, &p, e)) == CX_OK &&
        !cx_chain_id_equal(&tx.sender, &p.operator_addr))
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "pool add enclave: only the pool's operator adds enclaves to it");
    if (rc == CX_OK)
        rc = local_enclave_get(l, enclave, &en, e);
    if (rc == CX_OK && !pool_accepts(&p, en.measurement, en.measurement_len))
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "pool add enclave: the pool does not accept the enclave's measurement");
    if (rc == CX_OK)
        rc = db_write_once(L->db, "add pool enclave", DUP_PRIMARYKEY,
                           "pool add enclave: the enclave is already the pool's",
                           "INSERT INTO pool_enclaves(pool_id,enclave_id,added_ms) VALUES(?,?,?)",
                           PARAMS(P_ID(pool), P_ID(enclave), P_U64(tx.now)), e);
    if (rc == CX_OK)
        rc = emit(L, &tx, CX_LEDGER_EV_POOL_ENCLAVE_ADDED, enclave, pool, &tx.sender, 0, e);
    return tx_end(L, rc, e);
}

static cx_err local_enclaves_for_pool(cx_ledger *l, const cx_chain_id *pool,
                                      cx_ledger_enclave **out, size_t *n, cx_error *e)
{
    local_ledger *L = l->impl;
    *out = NULL;
    *n = 0;
    cx_ledger_pool p;
    cx_err rc = local_pool_get(l, pool, &p, e);
    if (rc != CX_OK)
        return rc;
    void *items;
    rc = db_list_read(L->db, "list enclaves",
                      "SELECT " ENCLAVE_PREFIXED_COLS " FROM pool_enclaves pe JOIN enclaves en"
                      " ON en.id = pe.enclave_id WHERE pe.pool_id=?1 AND en.measurement IN"
                      " (SELECT measurement FROM pool_measurements WHERE pool_id=?1)"
                      " ORDER BY pe.added_ms DESC, pe.rowid DESC",
                      PARAMS(P_ID(pool)), sizeof **out, 4, enclave_row, &items, n, e);
    *out = items;
    return rc;
}

/* Whether the pool's operator added the enclave to the pool. */
static cx_err enclave_in_pool(local_ledger *L, const cx_chain_id *pool, const cx_chain_id *enclave,
                              int *yes, cx_error *e)
{
    size_t rows = 0;
    cx_err rc = db_read(L->db, "read pool enclaves",
                        "SELECT 1 FROM pool_enclaves WHERE pool_id=? AND enclave_id=?",
                        PARAMS(P_ID(pool), P_ID(enclave)), NULL, NULL, &rows, e);
    if (rc == CX_OK)
        *yes = rows > 0;
    return rc;
}

/* -------------------------------------------------------- contributions -- */

static cx_err local_contribution_register(cx_ledger *l, const cx_chain_key *signer,
                                          const cx_chain_id *pool, const uint8_t *blob_id,
                                          size_t blob_id_len, cx_chain_id *out, cx_error *e)
{
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, pool->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_bytes(&w, blob_id, blob_id_len);
    local_tx tx;
    cx_chain_id id = {{0}};
    cx_ledger_pool p;
    cx_err rc = tx_start(L, signer, "pool::contribute", &w, &tx, e);
    if (rc != CX_OK)
        return rc;
    rc = local_pool_get(l, pool, &p, e);
    if (rc == CX_OK)
        rc = tx_new_id(&tx, &id, e);
    if (rc == CX_OK)
        rc = db_write_once(L->db, "insert contribution", DUP_UNIQUE,
                           "ledger: this contributor already registered this blob",
                           "INSERT INTO contributions VALUES(?,?,?,?,?)",
                           PARAMS(P_ID(&id), P_ID(pool), P_BLOB(blob_id, blob_id_len),
                                  P_ID(&tx.sender), P_U64(tx.now)),
                           e);
    return tx_end_created(L, rc, &tx, CX_LEDGER_EV_CONTRIBUTION_REGISTERED, &id, pool, 0, out, e);
}

static cx_err contribution_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    (void)e;
    cx_ledger_contribution *c = ctx;
    col_id(st, 0, &c->id);
    col_id(st, 1, &c->pool_id);
    c->blob_id_len = col_bytes(st, 2, c->blob_id, sizeof c->blob_id);
    col_id(st, 3, &c->contributor);
    c->created_ms = col_u64(st, 4);
    return CX_OK;
}

static cx_err local_contributions_list(cx_ledger *l, const cx_chain_id *pool,
                                       cx_ledger_contribution **out, size_t *n, cx_error *e)
{
    local_ledger *L = l->impl;
    void *items;
    cx_err rc = db_list_read(L->db, "list contributions",
                             "SELECT id,pool_id,blob_id,contributor,created_ms FROM contributions "
                             "WHERE pool_id=? ORDER BY rowid",
                             PARAMS(P_ID(pool)), sizeof **out, 16, contribution_row, &items, n, e);
    *out = items;
    return rc;
}

/* ----------------------------------------------------------------- jobs -- */

static cx_err local_job_create(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *pool,
                               const uint8_t spec_hash[32], const uint8_t *spec_blob_id,
                               size_t spec_blob_id_len, uint64_t payment, uint64_t deadline_ms,
                               cx_chain_id *out, cx_error *e)
{
    local_ledger *L = l->impl;
    if (payment > CX_LOCAL_U63_MAX || deadline_ms > CX_LOCAL_U63_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "job create: payment and deadline must be < 2^63");
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, pool->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_bytes(&w, spec_hash, 32);
    cx_bcs_put_bytes(&w, spec_blob_id, spec_blob_id_len);
    cx_bcs_put_u64(&w, payment);
    cx_bcs_put_u64(&w, deadline_ms);
    local_tx tx;
    cx_chain_id id = {{0}};
    cx_ledger_pool p;
    cx_err rc = tx_start(L, signer, "job::create", &w, &tx, e);
    if (rc != CX_OK)
        return rc;
    rc = local_pool_get(l, pool, &p, e);
    if (rc == CX_OK && payment < p.price)
        rc = cx_error_set(e, CX_ERR_ARG,
                          "job create: payment %" PRIu64 " is below the pool price %" PRIu64,
                          payment, p.price);
    if (rc == CX_OK && deadline_ms <= tx.now)
        rc = cx_error_set(e, CX_ERR_ARG, "job create: deadline is not in the future");
    /* escrow: the payment leaves the buyer's balance now and is held by the job */
    if (rc == CX_OK)
        rc = balance_add(L, &tx.sender, payment, 1, e);
    if (rc == CX_OK)
        rc = tx_new_id(&tx, &id, e);
    if (rc == CX_OK)
        rc = db_write(L->db, "insert job",
                      "INSERT INTO jobs(id,pool_id,buyer,spec_hash,spec_blob_id,payment,"
                      "deadline_ms,created_ms,state) VALUES(?,?,?,?,?,?,?,?,0)",
                      PARAMS(P_ID(&id), P_ID(pool), P_ID(&tx.sender), P_BLOB(spec_hash, 32),
                             P_BLOB(spec_blob_id, spec_blob_id_len), P_U64(payment),
                             P_U64(deadline_ms), P_U64(tx.now)),
                      e);
    return tx_end_created(L, rc, &tx, CX_LEDGER_EV_JOB_CREATED, &id, pool, payment, out, e);
}

static cx_err job_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    (void)e;
    cx_ledger_job *out = ctx;
    col_id(st, 0, &out->id);
    col_id(st, 1, &out->pool_id);
    col_id(st, 2, &out->buyer);
    col_bytes(st, 3, out->spec_hash, sizeof out->spec_hash);
    out->spec_blob_id_len = col_bytes(st, 4, out->spec_blob_id, sizeof out->spec_blob_id);
    out->payment = col_u64(st, 5);
    out->deadline_ms = col_u64(st, 6);
    out->created_ms = col_u64(st, 7);
    out->state = (cx_ledger_job_state)sqlite3_column_int(st, 8);
    col_id(st, 9, &out->enclave_id); /* x'' (no enclave yet) reads as the zero id */
    out->accepted_ms = col_u64(st, 10);
    out->fail_reason = (uint8_t)sqlite3_column_int(st, 11);
    return CX_OK;
}

static cx_err local_job_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_job *out, cx_error *e)
{
    local_ledger *L = l->impl;
    return db_get(L->db, "job",
                  "SELECT id,pool_id,buyer,spec_hash,spec_blob_id,payment,deadline_ms,created_ms,"
                  "state,enclave_id,accepted_ms,fail_reason FROM jobs WHERE id=?",
                  id, job_row, out, sizeof *out, e);
}

/* The one transition job->state -> s: the WHERE state guard makes a transition from a state
 * the job has left impossible even if a caller erred (RULES.md §2: nothing leaves PAID or
 * REFUNDED). */
static cx_err job_set_state(local_ledger *L, const cx_ledger_job *job, cx_ledger_job_state s,
                            cx_error *e)
{
    cx_err rc = db_write(L->db, "update job", "UPDATE jobs SET state=? WHERE id=? AND state=?",
                         PARAMS(P_INT(s), P_ID(&job->id), P_INT(job->state)), e);
    if (rc == CX_OK && sqlite3_changes(L->db) != 1)
        rc = cx_error_set(e, CX_ERR_STATE, "ledger: job is no longer %s",
                          cx_ledger_job_state_name(job->state));
    return rc;
}

static cx_err refund(local_ledger *L, const local_tx *tx, const cx_ledger_job *job, cx_error *e)
{
    cx_err rc = job_set_state(L, job, CX_LEDGER_JOB_REFUNDED, e);
    if (rc == CX_OK)
        rc = payout_record(L, tx, &job->id, &job->pool_id, "refund", &job->buyer, job->payment,
                           CX_LEDGER_EV_JOB_REFUNDED, e);
    return rc;
}

static cx_err local_job_refund_expired(cx_ledger *l, const cx_chain_key *signer,
                                       const cx_chain_id *job, cx_error *e)
{
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, job->b, CX_CHAIN_ID_LEN);
    cx_ledger_job j;
    local_tx tx;
    cx_err rc = tx_start(L, signer, "job::refund_expired", &w, &tx, e);
    if (rc != CX_OK)
        return rc;
    rc = local_job_get(l, job, &j, e);
    if (rc == CX_OK && j.state != CX_LEDGER_JOB_OPEN && j.state != CX_LEDGER_JOB_ACCEPTED)
        rc = cx_error_set(e, CX_ERR_STATE, "refund: job is %s, not open or accepted",
                          cx_ledger_job_state_name(j.state));
    if (rc == CX_OK && tx.now <= j.deadline_ms)
        rc = cx_error_set(e, CX_ERR_STATE, "refund: the job's deadline has not passed");
    /* an accepted job's escrow stays locked to its enclave for the grace period */
    if (rc == CX_OK && j.state == CX_LEDGER_JOB_ACCEPTED &&
        tx.now <= j.deadline_ms + CX_LEDGER_RESULT_GRACE_MS)
        rc = cx_error_set(e, CX_ERR_STATE,
                          "refund: an enclave accepted the job: its escrow stays locked until "
                          "its result or signed failure, or for %llu s after the deadline",
                          (unsigned long long)(CX_LEDGER_RESULT_GRACE_MS / 1000));
    if (rc == CX_OK)
        rc = refund(L, &tx, &j, e);
    return tx_end(L, rc, e);
}

/* -------------------------------------------------------------- results -- */

static cx_err contributor_in_pool(local_ledger *L, const cx_chain_id *pool,
                                  const cx_chain_addr *who, int *yes, cx_error *e)
{
    size_t rows = 0;
    cx_err rc = db_read(L->db, "read contributions",
                        "SELECT 1 FROM contributions WHERE pool_id=? AND contributor=? LIMIT 1",
                        PARAMS(P_ID(pool), P_ID(who)), NULL, NULL, &rows, e);
    if (rc == CX_OK)
        *yes = rows > 0;
    return rc;
}

/* RULES.md §2 Submit result 12 and 13: the statement accounts for the job's contributions,
 * those registered in the pool no later than the job's creation (the set the enclave reads):
 * each is accepted (its contributor listed) or rejected with a class, and every rejected
 * entry is one of them. An operator that drops a contributor cannot have it paid out. */
static cx_err contributions_accounted(cx_ledger *l, const cx_ledger_job *job,
                                      const cx_statement *s, cx_error *e)
{
    cx_ledger_contribution *cs = NULL;
    size_t n = 0;
    cx_err rc = local_contributions_list(l, &job->pool_id, &cs, &n, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "result: ");
    unsigned char *seen = calloc(s->n_rejected ? s->n_rejected : 1, 1);
    if (!seen) {
        free(cs);
        return cx_error_set(e, CX_ERR_NOMEM, "result: out of memory");
    }
    char who[CX_CHAIN_ID_HEX_LEN + 1];
    for (size_t i = 0; rc == CX_OK && i < n; i++) {
        const cx_ledger_contribution *c = &cs[i];
        if (c->created_ms > job->created_ms)
            continue;
        const cx_statement_rejected *r =
            cx_statement_find_rejected(s, c->contributor.b, c->blob_id, c->blob_id_len);
        if (r) {
            seen[r - s->rejected] = 1;
            continue;
        }
        if (cx_statement_find_contributor(s, c->contributor.b))
            continue;
        cx_chain_id_to_hex(&c->id, who);
        char by[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(&c->contributor, by);
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "result: contribution %s of %s is neither accepted nor rejected", who,
                          by);
    }
    for (size_t k = 0; rc == CX_OK && k < s->n_rejected; k++)
        if (!seen[k]) {
            cx_chain_addr a;
            memcpy(a.b, s->rejected[k].contributor, CX_CHAIN_ID_LEN);
            cx_chain_id_to_hex(&a, who);
            rc = cx_error_set(e, CX_ERR_VERIFY,
                              "result: rejected contribution %zu of %s is not one the job's "
                              "pool registered before the job",
                              k, who);
        }
    free(seen);
    free(cs);
    return rc;
}

/* The checks every enclave job message shares (RULES.md §6), after the caller checked the
 * job's state and the enclave: signed by the enclave's key, decodes as `intent`, names this
 * job and pool and the enclave's code, and was signed within the job's lifetime. */
static cx_err msg_checked(const local_tx *tx, const cx_ledger_job *job,
                          const cx_ledger_enclave *en, const cx_ledger_signed *sm, uint8_t intent,
                          const char *what, cx_chain_msg *m, cx_error *e)
{
    cx_err rc = cx_ed25519_verify(en->ed25519_pk, sm->msg, sm->len, sm->sig, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "%s: not signed by the enclave's key: ", what);
    if ((rc = cx_chain_msg_decode(sm->msg, sm->len, m, e)) != CX_OK)
        return cx_error_wrap(rc, e, "%s: ", what);
    if (m->intent != intent)
        return cx_error_set(e, CX_ERR_VERIFY, "%s: the message is a signed %s, intent %u", what,
                            m->intent == CX_CHAIN_MSG_ACCEPT ? "acceptance"
                            : m->intent == CX_CHAIN_MSG_FAIL ? "failure"
                                                             : "key release",
                            m->intent);
    if (!cx_chain_id_equal(&m->job_id, &job->id) || !cx_chain_id_equal(&m->pool_id, &job->pool_id))
        return cx_error_set(e, CX_ERR_VERIFY, "%s: signed for another job or pool", what);
    if (m->code_measurement_len != en->measurement_len ||
        memcmp(m->code_measurement, en->measurement, en->measurement_len) != 0)
        return cx_error_set(e, CX_ERR_VERIFY, "%s: its measurement differs from the enclave's",
                            what);
    if (m->timestamp_ms + CX_LOCAL_SKEW_MS < job->created_ms ||
        m->timestamp_ms > tx->now + CX_LOCAL_SKEW_MS)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "%s: timestamp %" PRIu64 " outside the job's lifetime", what,
                            m->timestamp_ms);
    return CX_OK;
}

/* Keeps an enclave-signed message of the job as it was signed (a signature is used once). */
static cx_err msg_record(local_ledger *L, const cx_chain_id *job, uint8_t intent,
                         const cx_chain_id *enclave, const cx_ledger_signed *sm, cx_error *e)
{
    return db_write_once(L->db, "record enclave message", DUP_UNIQUE | DUP_PRIMARYKEY,
                         "ledger: this enclave message was already used",
                         "INSERT INTO job_messages(job_id,intent,enclave_id,message,signature) "
                         "VALUES(?,?,?,?,?)",
                         PARAMS(P_ID(job), P_INT(intent), P_ID(enclave), P_BLOB(sm->msg, sm->len),
                                P_BLOB(sm->sig, CX_CHAIN_ED25519_SIG_LEN)),
                         e);
}

/* RULES.md §2 "Accept", checks in order. */
static cx_err accept_checked(local_ledger *L, cx_ledger *l, const local_tx *tx,
                             const cx_ledger_job *job, const cx_chain_id *enclave_id,
                             const cx_ledger_signed *sm, cx_error *e)
{
    cx_ledger_enclave en;
    cx_ledger_pool pool;
    cx_chain_msg m;
    int ours = 0;
    cx_err rc;
    if (job->state != CX_LEDGER_JOB_OPEN)
        return cx_error_set(e, CX_ERR_STATE, "accept: job is %s, not open",
                            cx_ledger_job_state_name(job->state));
    if (tx->now > job->deadline_ms)
        return cx_error_set(e, CX_ERR_STATE, "accept: the job's deadline has passed");
    if ((rc = local_enclave_get(l, enclave_id, &en, e)) != CX_OK)
        return cx_error_wrap(rc, e, "accept: ");
    if ((rc = local_pool_get(l, &job->pool_id, &pool, e)) != CX_OK)
        return rc;
    if (!pool_accepts(&pool, en.measurement, en.measurement_len))
        return cx_error_set(e, CX_ERR_VERIFY,
                            "accept: enclave measurement is not accepted by the pool");
    if ((rc = enclave_in_pool(L, &job->pool_id, enclave_id, &ours, e)) != CX_OK)
        return rc;
    if (!ours)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "accept: the pool's operator has not added this enclave to the pool");
    if ((rc = msg_checked(tx, job, &en, sm, CX_CHAIN_MSG_ACCEPT, "accept", &m, e)) != CX_OK)
        return rc;
    if (memcmp(m.config_hash, job->spec_hash, 32) != 0)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "accept: the enclave accepted another job spec than the job's");
    if ((rc = job_set_state(L, job, CX_LEDGER_JOB_ACCEPTED, e)) != CX_OK ||
        (rc = db_write(L->db, "accept job", "UPDATE jobs SET enclave_id=?, accepted_ms=? WHERE id=?",
                       PARAMS(P_ID(enclave_id), P_U64(tx->now), P_ID(&job->id)), e)) != CX_OK ||
        (rc = msg_record(L, &job->id, CX_CHAIN_MSG_ACCEPT, enclave_id, sm, e)) != CX_OK)
        return rc;
    return emit(L, tx, CX_LEDGER_EV_JOB_ACCEPTED, &job->id, &job->pool_id, &tx->sender, 0, e);
}

static cx_err local_job_accept(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                               const cx_chain_id *enclave, const cx_ledger_signed *acceptance,
                               cx_error *e)
{
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, job->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_fixed(&w, enclave->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_bytes(&w, acceptance->msg, acceptance->len);
    cx_bcs_put_bytes(&w, acceptance->sig, CX_CHAIN_ED25519_SIG_LEN);
    cx_ledger_job j;
    local_tx tx;
    cx_err rc = tx_start(L, signer, "job::accept", &w, &tx, e);
    if (rc != CX_OK)
        return rc;
    rc = local_job_get(l, job, &j, e);
    if (rc == CX_OK)
        rc = accept_checked(L, l, &tx, &j, enclave, acceptance, e);
    return tx_end(L, rc, e);
}

/* RULES.md §2 "Fail": the accepting enclave gives the job up; the buyer is refunded. */
static cx_err fail_checked(local_ledger *L, cx_ledger *l, const local_tx *tx,
                           const cx_ledger_job *job, const cx_ledger_signed *sm, cx_error *e)
{
    cx_ledger_enclave en;
    cx_chain_msg m;
    cx_err rc;
    if (job->state != CX_LEDGER_JOB_ACCEPTED)
        return cx_error_set(e, CX_ERR_STATE, "fail: job is %s, not accepted",
                            cx_ledger_job_state_name(job->state));
    if ((rc = local_enclave_get(l, &job->enclave_id, &en, e)) != CX_OK)
        return cx_error_wrap(rc, e, "fail: ");
    if ((rc = msg_checked(tx, job, &en, sm, CX_CHAIN_MSG_FAIL, "fail", &m, e)) != CX_OK)
        return rc;
    if ((rc = msg_record(L, &job->id, CX_CHAIN_MSG_FAIL, &job->enclave_id, sm, e)) != CX_OK ||
        (rc = db_write(L->db, "fail job", "UPDATE jobs SET fail_reason=? WHERE id=?",
                       PARAMS(P_INT(m.reason), P_ID(&job->id)), e)) != CX_OK ||
        (rc = emit(L, tx, CX_LEDGER_EV_JOB_FAILED, &job->id, &job->pool_id, &tx->sender, m.reason,
                   e)) != CX_OK)
        return rc;
    return refund(L, tx, job, e);
}

static cx_err local_job_fail(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                             const cx_ledger_signed *failure, cx_error *e)
{
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, job->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_bytes(&w, failure->msg, failure->len);
    cx_bcs_put_bytes(&w, failure->sig, CX_CHAIN_ED25519_SIG_LEN);
    cx_ledger_job j;
    local_tx tx;
    cx_err rc = tx_start(L, signer, "job::fail", &w, &tx, e);
    if (rc != CX_OK)
        return rc;
    rc = local_job_get(l, job, &j, e);
    if (rc == CX_OK)
        rc = fail_checked(L, l, &tx, &j, failure, e);
    return tx_end(L, rc, e);
}

/* All the checks of RULES.md §2 "Submit result" in order, then the payout of §3 with the key
 * revealed, or the refund with nothing revealed. */
static cx_err submit_checked(local_ledger *L, cx_ledger *l, const local_tx *tx,
                             const cx_ledger_job *job, const cx_chain_id *enclave_id,
                             const cx_ledger_signed *stmt, const cx_ledger_signed *key,
                             cx_error *e)
{
    cx_ledger_enclave en;
    cx_ledger_pool pool;
    cx_statement s;
    uint64_t stamp_ms = 0;
    cx_chain_rows *rows = NULL;
    cx_chain_msg km;
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_err rc;
    if (job->state == CX_LEDGER_JOB_OPEN)
        return cx_error_set(e, CX_ERR_STATE,
                            "result: no enclave has accepted the job (a result needs an accepted "
                            "job)");
    if (job->state != CX_LEDGER_JOB_ACCEPTED)
        return cx_error_set(e, CX_ERR_STATE, "result: job is %s, not accepted",
                            cx_ledger_job_state_name(job->state));
    if (tx->now > job->deadline_ms + CX_LEDGER_RESULT_GRACE_MS)
        return cx_error_set(e, CX_ERR_STATE,
                            "result: the job's deadline and its grace period have passed");
    if (!cx_chain_id_equal(enclave_id, &job->enclave_id))
        return cx_error_set(e, CX_ERR_VERIFY,
                            "result: from another enclave than the one that accepted the job");
    if ((rc = local_enclave_get(l, enclave_id, &en, e)) != CX_OK)
        return cx_error_wrap(rc, e, "result: ");
    if ((rc = local_pool_get(l, &job->pool_id, &pool, e)) != CX_OK)
        return rc;
    if (!pool_accepts(&pool, en.measurement, en.measurement_len))
        return cx_error_set(e, CX_ERR_VERIFY,
                            "result: enclave measurement is not accepted by the pool");
    if ((rc = cx_ed25519_verify(en.ed25519_pk, stmt->msg, stmt->len, stmt->sig, e)) != CX_OK)
        return cx_error_wrap(rc, e, "result: not signed by the registered enclave key: ");
    if ((rc = cx_statement_decode(stmt->msg, stmt->len, &s, &stamp_ms, e)) != CX_OK)
        return cx_error_wrap(rc, e, "result: ");
    if (s.version != CX_STATEMENT_VERSION)
        rc = cx_error_set(e, CX_ERR_FORMAT,
                          "result: statement version %u is no longer accepted (version %d "
                          "records the rejected contributions and commits to the job's ranks)",
                          s.version, CX_STATEMENT_VERSION);
    else if (memcmp(s.job_id, job->id.b, CX_CHAIN_ID_LEN) != 0 ||
        memcmp(s.pool_id, job->pool_id.b, CX_CHAIN_ID_LEN) != 0)
        rc = cx_error_set(e, CX_ERR_VERIFY, "result: the statement is for another job or pool");
    else if (s.code_measurement_len != en.measurement_len ||
             memcmp(s.code_measurement, en.measurement, en.measurement_len) != 0)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "result: statement measurement differs from the enclave's");
    else if (stamp_ms + CX_LOCAL_SKEW_MS < job->created_ms || stamp_ms > tx->now + CX_LOCAL_SKEW_MS)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "result: statement timestamp %" PRIu64 " outside the job's lifetime",
                          stamp_ms);
    else if (memcmp(s.config_hash, job->spec_hash, 32) != 0)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "result: the statement's config hash is not the job's spec hash (the "
                          "enclave ran another spec)");
    /* the statement's rows as the split takes them (same fields, chain's address type) */
    if (rc == CX_OK && s.n_rows && !(rows = calloc(s.n_rows, sizeof *rows)))
        rc = cx_error_set(e, CX_ERR_NOMEM, "result: out of memory");
    for (size_t i = 0; rc == CX_OK && i < s.n_rows; i++) {
        memcpy(rows[i].contributor.b, s.rows[i].contributor, CX_CHAIN_ID_LEN);
        rows[i].rows = s.rows[i].rows;
        int yes = 0;
        if ((rc = contributor_in_pool(L, &job->pool_id, &rows[i].contributor, &yes, e)) != CX_OK)
            break;
        if (!yes) {
            cx_chain_id_to_hex(&rows[i].contributor, hex);
            rc = cx_error_set(e, CX_ERR_VERIFY, "result: %s has no contribution in the pool", hex);
        }
    }
    if (rc == CX_OK)
        rc = contributions_accounted(l, job, &s, e);
    /* the key release: the same enclave's, for this result's sealed model */
    if (rc == CX_OK)
        rc = msg_checked(tx, job, &en, key, CX_CHAIN_MSG_KEY, "result key release", &km, e);
    if (rc == CX_OK && memcmp(km.result_hash, s.result_hash, 32) != 0)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "result key release: for another model than the statement's");
    cx_chain_split split = {0};
    if (rc == CX_OK)
        rc = cx_chain_split_compute(job->payment, pool.protocol_fee_bps, pool.operator_fee_bps,
                                    pool.max_rows_per_contributor, rows, s.n_rows, &split, e);
    free(rows);
    cx_statement_free(&s);
    if (rc != CX_OK)
        return rc;
    int refunded = split.n_payouts < pool.min_contributors;
    /* the model key is revealed by the paying transaction only; a refunded result keeps
     * none (and its key release is not recorded either) */
    rc = db_write_once(L->db, "insert result", DUP_UNIQUE | DUP_PRIMARYKEY,
                       "result: already submitted (replay)",
                       "INSERT INTO results(job_id,enclave_id,statement,signature,accepted,"
                       "refunded,submitted_ms,model_key) VALUES(?,?,?,?,?,?,?,?)",
                       PARAMS(P_ID(&job->id), P_ID(enclave_id), P_BLOB(stmt->msg, stmt->len),
                              P_BLOB(stmt->sig, CX_CHAIN_ED25519_SIG_LEN), P_U64(split.n_payouts),
                              P_INT(refunded),
                              P_U64(tx->now), P_BLOB(km.wrapped_key, refunded ? 0 : km.wrapped_key_len)),
                       e);
    if (rc == CX_OK)
        rc = emit(L, tx, CX_LEDGER_EV_RESULT_SUBMITTED, &job->id, &job->pool_id, &tx->sender,
                  split.n_payouts, e);
    if (rc == CX_OK && refunded) {
        rc = refund(L, tx, job, e);
    } else if (rc == CX_OK) {
        rc = job_set_state(L, job, CX_LEDGER_JOB_PAID, e);
        if (rc == CX_OK)
            rc = msg_record(L, &job->id, CX_CHAIN_MSG_KEY, enclave_id, key, e);
        if (rc == CX_OK)
            rc = payout_record(L, tx, &job->id, &job->pool_id, "protocol", &L->opts.protocol_addr,
                               split.protocol_fee, CX_LEDGER_EV_PAYMENT_RELEASED, e);
        if (rc == CX_OK)
            rc = payout_record(L, tx, &job->id, &job->pool_id, "operator", &pool.operator_addr,
                               split.operator_fee, CX_LEDGER_EV_PAYMENT_RELEASED, e);
        for (size_t i = 0; rc == CX_OK && i < split.n_payouts; i++)
            rc = payout_record(L, tx, &job->id, &job->pool_id, "contributor", &split.payouts[i].to,
                               split.payouts[i].amount, CX_LEDGER_EV_PAYMENT_RELEASED, e);
    }
    cx_chain_split_free(&split);
    return rc;
}

static cx_err local_result_submit(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                                  const cx_chain_id *enclave, const cx_ledger_signed *statement,
                                  const cx_ledger_signed *key_release, cx_error *e)
{
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, job->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_fixed(&w, enclave->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_bytes(&w, statement->msg, statement->len);
    cx_bcs_put_bytes(&w, statement->sig, CX_CHAIN_ED25519_SIG_LEN);
    cx_bcs_put_bytes(&w, key_release->msg, key_release->len);
    cx_bcs_put_bytes(&w, key_release->sig, CX_CHAIN_ED25519_SIG_LEN);
    cx_ledger_job j;
    local_tx tx;
    cx_err rc = tx_start(L, signer, "job::submit_result", &w, &tx, e);
    if (rc != CX_OK)
        return rc;
    rc = local_job_get(l, job, &j, e);
    if (rc == CX_OK)
        rc = submit_checked(L, l, &tx, &j, enclave, statement, key_release, e);
    return tx_end(L, rc, e);
}

static cx_err result_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    cx_ledger_result *out = ctx;
    col_id(st, 0, &out->enclave_id);
    int n = sqlite3_column_bytes(st, 1);
    out->statement = malloc(n > 0 ? (size_t)n : 1);
    if (!out->statement)
        return cx_error_set(e, CX_ERR_NOMEM, "ledger: out of memory");
    out->statement_len = col_bytes(st, 1, out->statement, (size_t)(n > 0 ? n : 0));
    col_bytes(st, 2, out->signature, sizeof out->signature);
    out->accepted_contributors = col_u64(st, 3);
    out->refunded = sqlite3_column_int(st, 4);
    out->submitted_ms = col_u64(st, 5);
    out->model_key_len = col_bytes(st, 6, out->model_key, sizeof out->model_key);
    return CX_OK;
}

typedef struct payout_rows {
    cx_chain_split *split;
    size_t cap;
} payout_rows;

static cx_err payout_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    payout_rows *pr = ctx;
    cx_chain_split *sp = pr->split;
    const char *role = (const char *)sqlite3_column_text(st, 0);
    uint64_t amount = col_u64(st, 2);
    if (role && strcmp(role, "protocol") == 0) {
        sp->protocol_fee = amount;
    } else if (role && strcmp(role, "operator") == 0) {
        sp->operator_fee = amount;
    } else {
        void *items = sp->payouts;
        cx_chain_payout *p = grow(&items, &pr->cap, sp->n_payouts, sizeof *p, 16);
        sp->payouts = items;
        if (!p)
            return cx_error_set(e, CX_ERR_NOMEM, "ledger: out of memory");
        sp->n_payouts++;
        col_id(st, 1, &p->to);
        p->amount = amount;
        sp->contributors_total += amount;
    }
    return CX_OK;
}

static cx_err local_result_get(cx_ledger *l, const cx_chain_id *job, cx_ledger_result *out,
                               cx_error *e)
{
    local_ledger *L = l->impl;
    memset(out, 0, sizeof *out);
    size_t found = 0;
    cx_err rc = db_read(L->db, "read result",
                        "SELECT enclave_id,statement,signature,accepted,refunded,submitted_ms,"
                        "model_key FROM results WHERE job_id=?",
                        PARAMS(P_ID(job)), result_row, out, &found, e);
    if (rc == CX_OK && !found)
        rc = cx_error_set(e, CX_ERR_NOTFOUND, "ledger: no result for this job");
    if (rc == CX_OK) {
        out->job_id = *job;
        payout_rows pr = {&out->split, 0};
        if (!out->refunded)
            rc = db_read(L->db, "read payouts",
                         "SELECT role,payee,amount FROM payouts WHERE job_id=? AND role!='refund' "
                         "ORDER BY role,payee",
                         PARAMS(P_ID(job)), payout_row, &pr, NULL, e);
    }
    if (rc != CX_OK)
        cx_ledger_result_free(out);
    return rc;
}

/* ------------------------------------------------------ balances, events -- */

static cx_err local_balance_get(cx_ledger *l, const cx_chain_addr *a, uint64_t *out, cx_error *e)
{
    return balance_read(l->impl, a, out, e);
}

static cx_err event_row(sqlite3_stmt *st, void *ctx, cx_error *e)
{
    (void)e;
    cx_ledger_event *ev = ctx;
    ev->seq = col_u64(st, 0);
    ev->kind = (cx_ledger_event_kind)sqlite3_column_int(st, 1);
    col_bytes(st, 2, ev->tx_digest, 32);
    ev->timestamp_ms = col_u64(st, 3);
    col_id(st, 4, &ev->object_id);
    col_id(st, 5, &ev->pool_id);
    col_id(st, 6, &ev->addr);
    ev->amount = col_u64(st, 7);
    return CX_OK;
}

static cx_err local_events_read(cx_ledger *l, const char *cursor, size_t max, cx_ledger_event **out,
                                size_t *n, char next_cursor[CX_CHAIN_CURSOR_MAX], cx_error *e)
{
    local_ledger *L = l->impl;
    *out = NULL;
    *n = 0;
    uint64_t after = 0;
    if (*cursor) {
        char *end = NULL;
        if (*cursor < '0' || *cursor > '9')
            return cx_error_set(e, CX_ERR_ARG, "events: bad cursor \"%.20s\"", cursor);
        unsigned long long v = strtoull(cursor, &end, 10);
        if (!end || *end || v > CX_LOCAL_U63_MAX)
            return cx_error_set(e, CX_ERR_ARG, "events: bad cursor \"%.20s\"", cursor);
        after = v;
    }
    snprintf(next_cursor, CX_CHAIN_CURSOR_MAX, "%s", cursor);
    if (max == 0 || max > CX_LOCAL_EVENTS_MAX)
        max = CX_LOCAL_EVENTS_MAX;
    void *items;
    cx_err rc =
        db_list_read(L->db, "read events",
                     "SELECT seq,kind,tx_digest,timestamp_ms,object_id,pool_id,addr,amount "
                     "FROM events WHERE seq>? ORDER BY seq LIMIT ?",
                     PARAMS(P_U64(after), P_U64(max)), sizeof **out, max, event_row, &items, n, e);
    *out = items;
    if (rc == CX_OK && *n > 0)
        snprintf(next_cursor, CX_CHAIN_CURSOR_MAX, "%" PRIu64, (*out)[*n - 1].seq);
    return rc;
}

/* ---------------------------------------------------------- open, close -- */

static void local_close(cx_ledger *l)
{
    local_ledger *L = l->impl;
    if (L) {
        sqlite3_close(L->db);
        free(L);
    }
    free(l);
}

static cx_err schema_migrate(local_ledger *L, const char *path, cx_error *e)
{
    /* the version is read and bumped inside one IMMEDIATE transaction so two processes
     * opening a fresh file do not both create the schema */
    cx_err rc = tx_begin(L, e);
    if (rc != CX_OK)
        return rc;
    sqlite3_stmt *st;
    int version = -1;
    if ((rc = db_prep(L->db, "PRAGMA user_version", &st, e)) == CX_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        else
            rc = db_fail(L->db, e, "read schema version");
        sqlite3_finalize(st);
    }
    if (rc == CX_OK && (version < 0 || version > CX_LEDGER_LOCAL_SCHEMA_VERSION))
        rc = cx_error_set(e, CX_ERR_UNSUPPORTED,
                          "ledger %s: schema version %d is newer than this build's %d", path,
                          version, CX_LEDGER_LOCAL_SCHEMA_VERSION);
    for (int v = version; rc == CX_OK && v < CX_LEDGER_LOCAL_SCHEMA_VERSION; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
        if ((rc = db_exec(L->db, migrations[v], e)) == CX_OK)
            rc = db_exec(L->db, pragma, e);
    }
    /* migrations rebuild tables with foreign keys off (SQLite's way): they must still hold */
    size_t broken = 0;
    if (rc == CX_OK && version < CX_LEDGER_LOCAL_SCHEMA_VERSION)
        rc = db_read(L->db, "check foreign keys", "PRAGMA foreign_key_check", NULL, 0, NULL, NULL,
                     &broken, e);
    if (rc == CX_OK && broken)
        rc = cx_error_set(e, CX_ERR_DB,
                          "ledger %s: migration to schema %d left %zu dangling references", path,
                          CX_LEDGER_LOCAL_SCHEMA_VERSION, broken);
    return tx_end(L, rc, e);
}

/* SQLite answers a journal_mode it cannot set (in-memory database, a lock held by another
 * connection, a VFS without shared memory) with the mode it kept instead of an error; the
 * ledger's readers-beside-a-writer design needs WAL, so anything else refuses the open. */
static cx_err set_wal(sqlite3 *db, const char *path, cx_error *e)
{
    sqlite3_stmt *st;
    cx_err rc = db_prep(db, "PRAGMA journal_mode=WAL", &st, e);
    if (rc != CX_OK)
        return rc;
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        rc = db_fail(db, e, "PRAGMA journal_mode=WAL");
    } else {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (!mode || strcmp(mode, "wal") != 0)
            rc = cx_error_set(e, CX_ERR_DB,
                              "ledger %s: cannot use write-ahead logging (journal mode stays "
                              "%s); the ledger needs a file on a local filesystem that no other "
                              "process holds locked",
                              path, mode ? mode : "unknown");
    }
    sqlite3_finalize(st);
    return rc;
}

cx_err cx_ledger_local_open(const char *path, const cx_ledger_local_opts *opts, cx_ledger **out,
                            cx_error *e)
{
    *out = NULL;
    if (!path)
        return cx_error_set(e, CX_ERR_ARG, "ledger: no path");
    cx_ledger *l = calloc(1, sizeof *l);
    local_ledger *L = calloc(1, sizeof *L);
    if (!l || !L) {
        free(l);
        free(L);
        return cx_error_set(e, CX_ERR_NOMEM, "ledger: out of memory");
    }
    l->ops = &local_ops;
    l->impl = L;
    if (opts)
        L->opts = *opts;
    if (sqlite3_open_v2(path, &L->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        cx_err rc = cx_error_set(e, CX_ERR_DB, "ledger %s: %s", path,
                                 L->db ? sqlite3_errmsg(L->db) : "out of memory");
        local_close(l);
        return rc;
    }
    cx_err rc = CX_OK;
    if (sqlite3_busy_timeout(L->db, L->opts.busy_timeout_ms > 0 ? L->opts.busy_timeout_ms
                                                                : 10000) != SQLITE_OK)
        rc = db_fail(L->db, e, "busy timeout");
    /* WAL lets readers (a worker following events) run beside a writer; FULL sync because
     * this file holds money */
    if (rc == CX_OK)
        rc = set_wal(L->db, path, e);
    if (rc == CX_OK)
        rc = db_exec(L->db, "PRAGMA synchronous=FULL", e);
    /* foreign keys go on after the migrations: a rebuilt table cannot be dropped while they
     * are on, and the pragma is a no-op inside the migration's transaction */
    if (rc == CX_OK)
        rc = schema_migrate(L, path, e);
    if (rc == CX_OK)
        rc = db_exec(L->db, "PRAGMA foreign_keys=ON", e);
    if (rc != CX_OK) {
        local_close(l);
        return rc;
    }
    *out = l;
    return CX_OK;
}

cx_err cx_ledger_local_faucet(cx_ledger *l, const cx_chain_addr *to, uint64_t amount, cx_error *e)
{
    if (!l || l->ops != &local_ops)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "faucet: only the local ledger has one");
    local_ledger *L = l->impl;
    cx_err rc = tx_begin(L, e);
    if (rc == CX_OK)
        rc = tx_end(L, balance_add(L, to, amount, 0, e), e);
    return rc;
}

static const cx_ledger_ops local_ops = {
    .name = "local",
    .pool_create = local_pool_create,
    .pool_get = local_pool_get,
    .enclave_register = local_enclave_register,
    .enclave_get = local_enclave_get,
    .pool_enclave_add = local_pool_enclave_add,
    .enclaves_for_pool = local_enclaves_for_pool,
    .contribution_register = local_contribution_register,
    .contributions_list = local_contributions_list,
    .job_create = local_job_create,
    .job_get = local_job_get,
    .job_accept = local_job_accept,
    .job_fail = local_job_fail,
    .result_submit = local_result_submit,
    .result_get = local_result_get,
    .job_refund_expired = local_job_refund_expired,
    .balance_get = local_balance_get,
    .events_read = local_events_read,
    .close = local_close,
};
