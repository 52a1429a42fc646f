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

/* Version 1 of the schema. Unique keys carry the "once" rules: a blob is registered once,
 * a job has one result, a payee is paid once per job and role. */
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

/* migrations[v] takes the schema from version v to v+1 */
static const char *const migrations[] = {schema_v1};

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

static int bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
    /* a zero-length blob must still bind as a blob, not NULL */
    static const uint8_t empty[1] = {0};
    return sqlite3_bind_blob(st, i, n ? p : empty, (int)n, SQLITE_TRANSIENT);
}

static int bind_id(sqlite3_stmt *st, int i, const cx_chain_id *id)
{
    return bind_blob(st, i, id->b, CX_CHAIN_ID_LEN);
}

static int bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
    return sqlite3_bind_int64(st, i, (sqlite3_int64)v);
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
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    memset(tx, 0, sizeof *tx);
    tx->now = local_now(L);
    tx->sender = *cx_chain_key_address(signer);
    uint8_t nonce[32];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "ledger: RAND_bytes failed");
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, (const uint8_t *)"\0\0\0", 3); /* intent: TransactionData, V0, Sui */
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
    uint8_t signing[32], sig[CX_CHAIN_ED25519_SIG_LEN];
    crypto_generichash_state hs;
    static const char tag[] = "TransactionData::";
    if (crypto_generichash(signing, 32, bytes, len, NULL, 0) != 0 ||
        crypto_generichash_init(&hs, NULL, 0, 32) != 0 ||
        crypto_generichash_update(&hs, (const uint8_t *)tag, sizeof tag - 1) != 0 ||
        crypto_generichash_update(&hs, bytes + 3, len - 3) != 0 ||
        crypto_generichash_final(&hs, tx->digest, 32) != 0) {
        free(bytes);
        return cx_error_set(e, CX_ERR_CRYPTO, "ledger: BLAKE2b failed");
    }
    free(bytes);
    if ((rc = cx_chain_key_sign(signer, signing, sizeof signing, sig, e)) != CX_OK ||
        (rc = cx_chain_ed25519_verify(cx_chain_key_public(signer), signing, sizeof signing, sig,
                                      e)) != CX_OK)
        return cx_error_prefix(e, "ledger: transaction signature: ");
    sqlite3_stmt *st;
    if ((rc = db_prep(L->db, "INSERT INTO txs VALUES(?,?,?,?,?)", &st, e)) != CX_OK)
        return rc;
    bnd |= bind_blob(st, 1, tx->digest, 32);
    bnd |= bind_id(st, 2, &tx->sender);
    bnd |= sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    bnd |= bind_u64(st, 4, tx->now);
    bnd |= bind_blob(st, 5, sig, sizeof sig);
    if (db_step(st, bnd) != SQLITE_DONE)
        rc = db_fail(L->db, e, "record transaction");
    sqlite3_finalize(st);
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
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    static const cx_chain_id zero = {{0}};
    sqlite3_stmt *st;
    cx_err rc = db_prep(L->db,
                        "INSERT INTO events(kind,tx_digest,timestamp_ms,object_id,pool_id,addr,"
                        "amount) VALUES(?,?,?,?,?,?,?)",
                        &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= sqlite3_bind_int(st, 1, (int)kind);
    bnd |= bind_blob(st, 2, tx->digest, 32);
    bnd |= bind_u64(st, 3, tx->now);
    bnd |= bind_id(st, 4, object);
    bnd |= bind_id(st, 5, pool ? pool : &zero);
    bnd |= bind_id(st, 6, addr ? addr : &zero);
    bnd |= bind_u64(st, 7, amount);
    if (db_step(st, bnd) != SQLITE_DONE)
        rc = db_fail(L->db, e, "emit event");
    sqlite3_finalize(st);
    return rc;
}

static cx_err balance_read(local_ledger *L, const cx_chain_addr *a, uint64_t *out, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    sqlite3_stmt *st;
    cx_err rc = db_prep(L->db, "SELECT amount FROM balances WHERE addr=?", &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, a);
    int s = db_step(st, bnd);
    if (s == SQLITE_ROW)
        *out = col_u64(st, 0);
    else if (s == SQLITE_DONE)
        *out = 0;
    else
        rc = db_fail(L->db, e, "read balance");
    sqlite3_finalize(st);
    return rc;
}

/* delta > 0 credits, < 0 debits; never below zero or above 2^63-1 */
static cx_err balance_add(local_ledger *L, const cx_chain_addr *a, uint64_t amount, int debit,
                          cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
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
    sqlite3_stmt *st;
    if ((rc = db_prep(L->db,
                      "INSERT INTO balances(addr,amount) VALUES(?,?) "
                      "ON CONFLICT(addr) DO UPDATE SET amount=excluded.amount",
                      &st, e)) != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, a);
    bnd |= bind_u64(st, 2, next);
    if (db_step(st, bnd) != SQLITE_DONE)
        rc = db_fail(L->db, e, "write balance");
    sqlite3_finalize(st);
    return rc;
}

static cx_err payout_record(local_ledger *L, const local_tx *tx, const cx_chain_id *job,
                            const cx_chain_id *pool, const char *role, const cx_chain_addr *to,
                            uint64_t amount, cx_ledger_event_kind ev, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    sqlite3_stmt *st;
    cx_err rc = db_prep(L->db, "INSERT INTO payouts VALUES(?,?,?,?)", &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, job);
    bnd |= sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
    bnd |= bind_id(st, 3, to);
    bnd |= bind_u64(st, 4, amount);
    int s = db_step(st, bnd);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return cx_error_set(e, CX_ERR_STATE, "ledger: %s payout for this job already made (%s)",
                            role, sqlite3_errmsg(L->db));
    if ((rc = balance_add(L, to, amount, 0, e)) != CX_OK)
        return rc;
    return emit(L, tx, ev, job, pool, to, amount, e);
}

/* ---------------------------------------------------------------- pools -- */

static cx_err local_pool_create(cx_ledger *l, const cx_chain_key *signer,
                                const cx_ledger_pool_params *p, cx_chain_id *out, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    local_ledger *L = l->impl;
    if (p->price > CX_LOCAL_U63_MAX || p->max_rows_per_contributor > CX_LOCAL_U63_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "pool create: price and row cap must be < 2^63");
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
    uint8_t *args;
    size_t alen;
    cx_err rc = cx_bcs_writer_finish(&w, &args, &alen, e);
    if (rc != CX_OK)
        return rc;
    if ((rc = tx_begin(L, e)) != CX_OK) {
        free(args);
        return rc;
    }
    local_tx tx;
    cx_chain_id id;
    sqlite3_stmt *st = NULL;
    rc = tx_sign_record(L, signer, "pool::create", args, alen, &tx, e);
    free(args);
    if (rc == CX_OK)
        rc = tx_new_id(&tx, &id, e);
    if (rc == CX_OK)
        rc = db_prep(L->db, "INSERT INTO pools VALUES(?,?,?,?,?,?,?,?,?,?)", &st, e);
    if (rc == CX_OK) {
        bnd |= bind_id(st, 1, &id);
        bnd |= sqlite3_bind_text(st, 2, p->theme, -1, SQLITE_TRANSIENT);
        bnd |= bind_u64(st, 3, p->price);
        bnd |= bind_u64(st, 4, p->min_contributors);
        bnd |= bind_u64(st, 5, p->max_rows_per_contributor);
        bnd |= bind_u64(st, 6, p->operator_fee_bps);
        bnd |= bind_u64(st, 7, p->protocol_fee_bps);
        bnd |= bind_id(st, 8, &p->operator_addr);
        bnd |= bind_id(st, 9, &tx.sender);
        bnd |= bind_u64(st, 10, tx.now);
        if (db_step(st, bnd) != SQLITE_DONE)
            rc = db_fail(L->db, e, "insert pool");
        sqlite3_finalize(st);
        st = NULL;
    }
    for (size_t i = 0; rc == CX_OK && i < p->n_measurements; i++) {
        if ((rc = db_prep(L->db, "INSERT INTO pool_measurements VALUES(?,?,?)", &st, e)) != CX_OK)
            break;
        bnd |= bind_id(st, 1, &id);
        bnd |= sqlite3_bind_int(st, 2, (int)i);
        bnd |= bind_blob(st, 3, p->measurements[i], p->measurement_lens[i]);
        if (db_step(st, bnd) != SQLITE_DONE)
            rc = db_fail(L->db, e, "insert pool measurement");
        sqlite3_finalize(st);
    }
    if (rc == CX_OK)
        rc = emit(L, &tx, CX_LEDGER_EV_POOL_CREATED, &id, &id, &tx.sender, 0, e);
    rc = tx_end(L, rc, e);
    if (rc == CX_OK)
        *out = id;
    return rc;
}

static cx_err local_pool_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_pool *out, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    local_ledger *L = l->impl;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    cx_err rc = db_prep(L->db,
                        "SELECT theme,price,k,max_rows,operator_bps,protocol_bps,operator_addr,"
                        "created_by,created_ms FROM pools WHERE id=?",
                        &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, id);
    int s = db_step(st, bnd);
    if (s == SQLITE_ROW) {
        out->id = *id;
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out->theme, sizeof out->theme, "%s", t ? (const char *)t : "");
        out->price = col_u64(st, 1);
        out->min_contributors = (uint32_t)col_u64(st, 2);
        out->max_rows_per_contributor = col_u64(st, 3);
        out->operator_fee_bps = (uint32_t)col_u64(st, 4);
        out->protocol_fee_bps = (uint32_t)col_u64(st, 5);
        col_id(st, 6, &out->operator_addr);
        col_id(st, 7, &out->created_by);
        out->created_ms = col_u64(st, 8);
    } else if (s == SQLITE_DONE) {
        char hex[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(id, hex);
        rc = cx_error_set(e, CX_ERR_NOTFOUND, "ledger: no pool %s", hex);
    } else {
        rc = db_fail(L->db, e, "read pool");
    }
    sqlite3_finalize(st);
    if (rc != CX_OK)
        return rc;
    if ((rc = db_prep(L->db,
                      "SELECT measurement FROM pool_measurements WHERE pool_id=? ORDER BY idx", &st,
                      e)) != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, id);
    while ((s = db_step(st, bnd)) == SQLITE_ROW &&
           out->n_measurements < CX_CHAIN_MAX_MEASUREMENTS) {
        size_t i = out->n_measurements++;
        out->measurement_lens[i] = col_bytes(st, 0, out->measurements[i], CX_CHAIN_MEASUREMENT_MAX);
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = db_fail(L->db, e, "read pool measurements");
    sqlite3_finalize(st);
    return rc;
}

static int pool_accepts(const cx_ledger_pool *p, const uint8_t *m, size_t mlen)
{
    for (size_t i = 0; i < p->n_measurements; i++)
        if (p->measurement_lens[i] == mlen && memcmp(p->measurements[i], m, mlen) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------- enclaves -- */

static cx_err local_enclave_register(cx_ledger *l, const cx_chain_key *signer,
                                     const cx_ledger_enclave *en, cx_chain_id *out, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_bytes(&w, en->ed25519_pk, sizeof en->ed25519_pk);
    cx_bcs_put_bytes(&w, en->x25519_pk, sizeof en->x25519_pk);
    cx_bcs_put_bytes(&w, en->measurement, en->measurement_len);
    cx_bcs_put_bytes(&w, en->attestation_hash, sizeof en->attestation_hash);
    uint8_t *args;
    size_t alen;
    cx_err rc = cx_bcs_writer_finish(&w, &args, &alen, e);
    if (rc != CX_OK)
        return rc;
    if ((rc = tx_begin(L, e)) != CX_OK) {
        free(args);
        return rc;
    }
    local_tx tx;
    cx_chain_id id;
    sqlite3_stmt *st;
    rc = tx_sign_record(L, signer, "enclave::register", args, alen, &tx, e);
    free(args);
    if (rc == CX_OK)
        rc = tx_new_id(&tx, &id, e);
    if (rc == CX_OK &&
        (rc = db_prep(L->db, "INSERT INTO enclaves VALUES(?,?,?,?,?,?,?)", &st, e)) == CX_OK) {
        bnd |= bind_id(st, 1, &id);
        bnd |= bind_blob(st, 2, en->ed25519_pk, sizeof en->ed25519_pk);
        bnd |= bind_blob(st, 3, en->x25519_pk, sizeof en->x25519_pk);
        bnd |= bind_blob(st, 4, en->measurement, en->measurement_len);
        bnd |= bind_blob(st, 5, en->attestation_hash, sizeof en->attestation_hash);
        bnd |= bind_id(st, 6, &tx.sender);
        bnd |= bind_u64(st, 7, tx.now);
        int s = db_step(st, bnd);
        if (s != SQLITE_DONE)
            rc = sqlite3_extended_errcode(L->db) == SQLITE_CONSTRAINT_UNIQUE
                     ? cx_error_set(e, CX_ERR_STATE,
                                    "ledger: this enclave key is already registered")
                     : db_fail(L->db, e, "insert enclave");
        sqlite3_finalize(st);
    }
    if (rc == CX_OK)
        rc = emit(L, &tx, CX_LEDGER_EV_ENCLAVE_REGISTERED, &id, NULL, &tx.sender, 0, e);
    rc = tx_end(L, rc, e);
    if (rc == CX_OK)
        *out = id;
    return rc;
}

static void enclave_from_row(sqlite3_stmt *st, cx_ledger_enclave *out)
{
    memset(out, 0, sizeof *out);
    col_id(st, 0, &out->id);
    col_bytes(st, 1, out->ed25519_pk, sizeof out->ed25519_pk);
    col_bytes(st, 2, out->x25519_pk, sizeof out->x25519_pk);
    out->measurement_len = col_bytes(st, 3, out->measurement, sizeof out->measurement);
    col_bytes(st, 4, out->attestation_hash, sizeof out->attestation_hash);
    col_id(st, 5, &out->registered_by);
    out->registered_ms = col_u64(st, 6);
}

static cx_err local_enclave_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_enclave *out,
                                cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    local_ledger *L = l->impl;
    sqlite3_stmt *st;
    cx_err rc = db_prep(L->db, "SELECT * FROM enclaves WHERE id=?", &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, id);
    int s = db_step(st, bnd);
    if (s == SQLITE_ROW) {
        enclave_from_row(st, out);
    } else if (s == SQLITE_DONE) {
        char hex[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(id, hex);
        rc = cx_error_set(e, CX_ERR_NOTFOUND, "ledger: no enclave %s", hex);
    } else {
        rc = db_fail(L->db, e, "read enclave");
    }
    sqlite3_finalize(st);
    return rc;
}

static cx_err local_enclaves_for_pool(cx_ledger *l, const cx_chain_id *pool,
                                      cx_ledger_enclave **out, size_t *n, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    local_ledger *L = l->impl;
    *out = NULL;
    *n = 0;
    cx_ledger_pool p;
    cx_err rc = local_pool_get(l, pool, &p, e);
    if (rc != CX_OK)
        return rc;
    sqlite3_stmt *st;
    if ((rc = db_prep(L->db,
                      "SELECT * FROM enclaves WHERE measurement IN (SELECT measurement FROM "
                      "pool_measurements WHERE pool_id=?) ORDER BY registered_ms DESC, id",
                      &st, e)) != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, pool);
    size_t cap = 0;
    int s;
    while ((s = db_step(st, bnd)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 4;
            cx_ledger_enclave *nb = realloc(*out, nc * sizeof **out);
            if (!nb) {
                rc = cx_error_set(e, CX_ERR_NOMEM, "ledger: out of memory");
                break;
            }
            *out = nb;
            cap = nc;
        }
        enclave_from_row(st, &(*out)[(*n)++]);
    }
    if (rc == CX_OK && s != SQLITE_DONE)
        rc = db_fail(L->db, e, "list enclaves");
    sqlite3_finalize(st);
    if (rc != CX_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* -------------------------------------------------------- contributions -- */

static cx_err local_contribution_register(cx_ledger *l, const cx_chain_key *signer,
                                          const cx_chain_id *pool, const uint8_t *blob_id,
                                          size_t blob_id_len, cx_chain_id *out, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, pool->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_bytes(&w, blob_id, blob_id_len);
    uint8_t *args;
    size_t alen;
    cx_err rc = cx_bcs_writer_finish(&w, &args, &alen, e);
    if (rc != CX_OK)
        return rc;
    if ((rc = tx_begin(L, e)) != CX_OK) {
        free(args);
        return rc;
    }
    local_tx tx;
    cx_chain_id id;
    cx_ledger_pool p;
    sqlite3_stmt *st;
    rc = local_pool_get(l, pool, &p, e);
    if (rc == CX_OK)
        rc = tx_sign_record(L, signer, "pool::contribute", args, alen, &tx, e);
    free(args);
    if (rc == CX_OK)
        rc = tx_new_id(&tx, &id, e);
    if (rc == CX_OK &&
        (rc = db_prep(L->db, "INSERT INTO contributions VALUES(?,?,?,?,?)", &st, e)) == CX_OK) {
        bnd |= bind_id(st, 1, &id);
        bnd |= bind_id(st, 2, pool);
        bnd |= bind_blob(st, 3, blob_id, blob_id_len);
        bnd |= bind_id(st, 4, &tx.sender);
        bnd |= bind_u64(st, 5, tx.now);
        if (db_step(st, bnd) != SQLITE_DONE)
            rc = sqlite3_extended_errcode(L->db) == SQLITE_CONSTRAINT_UNIQUE
                     ? cx_error_set(e, CX_ERR_STATE, "ledger: this blob is already registered")
                     : db_fail(L->db, e, "insert contribution");
        sqlite3_finalize(st);
    }
    if (rc == CX_OK)
        rc = emit(L, &tx, CX_LEDGER_EV_CONTRIBUTION_REGISTERED, &id, pool, &tx.sender, 0, e);
    rc = tx_end(L, rc, e);
    if (rc == CX_OK)
        *out = id;
    return rc;
}

static cx_err local_contributions_list(cx_ledger *l, const cx_chain_id *pool,
                                       cx_ledger_contribution **out, size_t *n, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    local_ledger *L = l->impl;
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    cx_err rc = db_prep(L->db,
                        "SELECT id,pool_id,blob_id,contributor,created_ms FROM contributions "
                        "WHERE pool_id=? ORDER BY rowid",
                        &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, pool);
    size_t cap = 0;
    int s;
    while ((s = db_step(st, bnd)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            cx_ledger_contribution *nb = realloc(*out, nc * sizeof **out);
            if (!nb) {
                rc = cx_error_set(e, CX_ERR_NOMEM, "ledger: out of memory");
                break;
            }
            *out = nb;
            cap = nc;
        }
        cx_ledger_contribution *c = &(*out)[(*n)++];
        memset(c, 0, sizeof *c);
        col_id(st, 0, &c->id);
        col_id(st, 1, &c->pool_id);
        c->blob_id_len = col_bytes(st, 2, c->blob_id, sizeof c->blob_id);
        col_id(st, 3, &c->contributor);
        c->created_ms = col_u64(st, 4);
    }
    if (rc == CX_OK && s != SQLITE_DONE)
        rc = db_fail(L->db, e, "list contributions");
    sqlite3_finalize(st);
    if (rc != CX_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ----------------------------------------------------------------- jobs -- */

static cx_err local_job_create(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *pool,
                               const uint8_t spec_hash[32], const uint8_t *spec_blob_id,
                               size_t spec_blob_id_len, uint64_t payment, uint64_t deadline_ms,
                               cx_chain_id *out, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
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
    uint8_t *args;
    size_t alen;
    cx_err rc = cx_bcs_writer_finish(&w, &args, &alen, e);
    if (rc != CX_OK)
        return rc;
    if ((rc = tx_begin(L, e)) != CX_OK) {
        free(args);
        return rc;
    }
    local_tx tx;
    cx_chain_id id;
    cx_ledger_pool p;
    sqlite3_stmt *st;
    rc = local_pool_get(l, pool, &p, e);
    if (rc == CX_OK)
        rc = tx_sign_record(L, signer, "job::create", args, alen, &tx, e);
    free(args);
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
    if (rc == CX_OK &&
        (rc = db_prep(L->db, "INSERT INTO jobs VALUES(?,?,?,?,?,?,?,?,0)", &st, e)) == CX_OK) {
        bnd |= bind_id(st, 1, &id);
        bnd |= bind_id(st, 2, pool);
        bnd |= bind_id(st, 3, &tx.sender);
        bnd |= bind_blob(st, 4, spec_hash, 32);
        bnd |= bind_blob(st, 5, spec_blob_id, spec_blob_id_len);
        bnd |= bind_u64(st, 6, payment);
        bnd |= bind_u64(st, 7, deadline_ms);
        bnd |= bind_u64(st, 8, tx.now);
        if (db_step(st, bnd) != SQLITE_DONE)
            rc = db_fail(L->db, e, "insert job");
        sqlite3_finalize(st);
    }
    if (rc == CX_OK)
        rc = emit(L, &tx, CX_LEDGER_EV_JOB_CREATED, &id, pool, &tx.sender, payment, e);
    rc = tx_end(L, rc, e);
    if (rc == CX_OK)
        *out = id;
    return rc;
}

static cx_err local_job_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_job *out, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    local_ledger *L = l->impl;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    cx_err rc = db_prep(L->db,
                        "SELECT pool_id,buyer,spec_hash,spec_blob_id,payment,deadline_ms,"
                        "created_ms,state FROM jobs WHERE id=?",
                        &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, id);
    int s = db_step(st, bnd);
    if (s == SQLITE_ROW) {
        out->id = *id;
        col_id(st, 0, &out->pool_id);
        col_id(st, 1, &out->buyer);
        col_bytes(st, 2, out->spec_hash, sizeof out->spec_hash);
        out->spec_blob_id_len = col_bytes(st, 3, out->spec_blob_id, sizeof out->spec_blob_id);
        out->payment = col_u64(st, 4);
        out->deadline_ms = col_u64(st, 5);
        out->created_ms = col_u64(st, 6);
        out->state = (cx_ledger_job_state)sqlite3_column_int(st, 7);
    } else if (s == SQLITE_DONE) {
        char hex[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(id, hex);
        rc = cx_error_set(e, CX_ERR_NOTFOUND, "ledger: no job %s", hex);
    } else {
        rc = db_fail(L->db, e, "read job");
    }
    sqlite3_finalize(st);
    return rc;
}

static cx_err job_set_state(local_ledger *L, const cx_chain_id *job, cx_ledger_job_state s,
                            cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    sqlite3_stmt *st;
    /* the WHERE state=0 guard makes a second transition impossible even if a caller erred */
    cx_err rc = db_prep(L->db, "UPDATE jobs SET state=? WHERE id=? AND state=0", &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= sqlite3_bind_int(st, 1, (int)s);
    bnd |= bind_id(st, 2, job);
    if (db_step(st, bnd) != SQLITE_DONE)
        rc = db_fail(L->db, e, "update job");
    else if (sqlite3_changes(L->db) != 1)
        rc = cx_error_set(e, CX_ERR_STATE, "ledger: job is no longer open");
    sqlite3_finalize(st);
    return rc;
}

static cx_err refund(local_ledger *L, const local_tx *tx, const cx_ledger_job *job, cx_error *e)
{
    cx_err rc = job_set_state(L, &job->id, CX_LEDGER_JOB_REFUNDED, e);
    if (rc == CX_OK)
        rc = payout_record(L, tx, &job->id, &job->pool_id, "refund", &job->buyer, job->payment,
                           CX_LEDGER_EV_JOB_REFUNDED, e);
    return rc;
}

static cx_err local_job_refund_expired(cx_ledger *l, const cx_chain_key *signer,
                                       const cx_chain_id *job, cx_error *e)
{
    local_ledger *L = l->impl;
    cx_err rc = tx_begin(L, e);
    if (rc != CX_OK)
        return rc;
    cx_ledger_job j;
    local_tx tx;
    rc = local_job_get(l, job, &j, e);
    if (rc == CX_OK)
        rc = tx_sign_record(L, signer, "job::refund_expired", job->b, CX_CHAIN_ID_LEN, &tx, e);
    if (rc == CX_OK && j.state != CX_LEDGER_JOB_OPEN)
        rc = cx_error_set(e, CX_ERR_STATE, "refund: job is %s, not open",
                          cx_ledger_job_state_name(j.state));
    if (rc == CX_OK && tx.now <= j.deadline_ms)
        rc = cx_error_set(e, CX_ERR_STATE, "refund: the job's deadline has not passed");
    if (rc == CX_OK)
        rc = refund(L, &tx, &j, e);
    return tx_end(L, rc, e);
}

/* -------------------------------------------------------------- results -- */

static cx_err contributor_in_pool(local_ledger *L, const cx_chain_id *pool,
                                  const cx_chain_addr *who, int *yes, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    sqlite3_stmt *st;
    cx_err rc = db_prep(
        L->db, "SELECT 1 FROM contributions WHERE pool_id=? AND contributor=? LIMIT 1", &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, pool);
    bnd |= bind_id(st, 2, who);
    int s = db_step(st, bnd);
    if (s == SQLITE_ROW || s == SQLITE_DONE)
        *yes = s == SQLITE_ROW;
    else
        rc = db_fail(L->db, e, "read contributions");
    sqlite3_finalize(st);
    return rc;
}

/* All the checks of RULES.md §2 in order, then the payout of §3 or the refund. */
static cx_err submit_checked(local_ledger *L, cx_ledger *l, const local_tx *tx,
                             const cx_ledger_job *job, const cx_chain_id *enclave_id,
                             const uint8_t *msg, size_t msg_len, const uint8_t *sig, cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    cx_ledger_enclave en;
    cx_ledger_pool pool;
    cx_chain_statement s;
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_err rc;
    if (job->state != CX_LEDGER_JOB_OPEN)
        return cx_error_set(e, CX_ERR_STATE, "result: job is %s, not open",
                            cx_ledger_job_state_name(job->state));
    if (tx->now > job->deadline_ms)
        return cx_error_set(e, CX_ERR_STATE, "result: the job's deadline has passed");
    if ((rc = local_enclave_get(l, enclave_id, &en, e)) != CX_OK)
        return cx_error_prefix(e, "result: ");
    if ((rc = local_pool_get(l, &job->pool_id, &pool, e)) != CX_OK)
        return rc;
    if (!pool_accepts(&pool, en.measurement, en.measurement_len))
        return cx_error_set(e, CX_ERR_VERIFY,
                            "result: enclave measurement is not accepted by the pool");
    if ((rc = cx_chain_ed25519_verify(en.ed25519_pk, msg, msg_len, sig, e)) != CX_OK)
        return cx_error_prefix(e, "result: not signed by the registered enclave key: ");
    if ((rc = cx_chain_statement_decode(msg, msg_len, &s, e)) != CX_OK)
        return cx_error_prefix(e, "result: ");
    if (!cx_chain_id_equal(&s.job_id, &job->id) || !cx_chain_id_equal(&s.pool_id, &job->pool_id))
        rc = cx_error_set(e, CX_ERR_VERIFY, "result: the statement is for another job or pool");
    else if (s.code_measurement_len != en.measurement_len ||
             memcmp(s.code_measurement, en.measurement, en.measurement_len) != 0)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "result: statement measurement differs from the enclave's");
    else if (s.timestamp_ms + CX_LOCAL_SKEW_MS < job->created_ms ||
             s.timestamp_ms > tx->now + CX_LOCAL_SKEW_MS)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "result: statement timestamp %" PRIu64 " outside the job's lifetime",
                          s.timestamp_ms);
    for (size_t i = 0; rc == CX_OK && i < s.n_rows; i++) {
        int yes = 0;
        if ((rc = contributor_in_pool(L, &job->pool_id, &s.rows[i].contributor, &yes, e)) != CX_OK)
            break;
        if (!yes) {
            cx_chain_id_to_hex(&s.rows[i].contributor, hex);
            rc = cx_error_set(e, CX_ERR_VERIFY, "result: %s has no contribution in the pool", hex);
        }
    }
    cx_chain_split split = {0};
    if (rc == CX_OK)
        rc = cx_chain_split_compute(job->payment, pool.protocol_fee_bps, pool.operator_fee_bps,
                                    pool.max_rows_per_contributor, s.rows, s.n_rows, &split, e);
    cx_chain_statement_free(&s);
    if (rc != CX_OK)
        return rc;
    int refunded = split.n_payouts < pool.min_contributors;
    sqlite3_stmt *st;
    if ((rc = db_prep(L->db, "INSERT INTO results VALUES(?,?,?,?,?,?,?)", &st, e)) == CX_OK) {
        bnd |= bind_id(st, 1, &job->id);
        bnd |= bind_id(st, 2, enclave_id);
        bnd |= bind_blob(st, 3, msg, msg_len);
        bnd |= bind_blob(st, 4, sig, CX_CHAIN_ED25519_SIG_LEN);
        bnd |= bind_u64(st, 5, split.n_payouts);
        bnd |= sqlite3_bind_int(st, 6, refunded);
        bnd |= bind_u64(st, 7, tx->now);
        if (db_step(st, bnd) != SQLITE_DONE)
            rc = sqlite3_extended_errcode(L->db) == SQLITE_CONSTRAINT_UNIQUE ||
                         sqlite3_extended_errcode(L->db) == SQLITE_CONSTRAINT_PRIMARYKEY
                     ? cx_error_set(e, CX_ERR_STATE, "result: already submitted (replay)")
                     : db_fail(L->db, e, "insert result");
        sqlite3_finalize(st);
    }
    if (rc == CX_OK)
        rc = emit(L, tx, CX_LEDGER_EV_RESULT_SUBMITTED, &job->id, &job->pool_id, &tx->sender,
                  split.n_payouts, e);
    if (rc == CX_OK && refunded) {
        rc = refund(L, tx, job, e);
    } else if (rc == CX_OK) {
        rc = job_set_state(L, &job->id, CX_LEDGER_JOB_PAID, e);
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
                                  const cx_chain_id *enclave, const uint8_t *statement,
                                  size_t statement_len, const uint8_t sig[CX_CHAIN_ED25519_SIG_LEN],
                                  cx_error *e)
{
    local_ledger *L = l->impl;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_fixed(&w, job->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_fixed(&w, enclave->b, CX_CHAIN_ID_LEN);
    cx_bcs_put_bytes(&w, statement, statement_len);
    cx_bcs_put_bytes(&w, sig, CX_CHAIN_ED25519_SIG_LEN);
    uint8_t *args;
    size_t alen;
    cx_err rc = cx_bcs_writer_finish(&w, &args, &alen, e);
    if (rc != CX_OK)
        return rc;
    if ((rc = tx_begin(L, e)) != CX_OK) {
        free(args);
        return rc;
    }
    cx_ledger_job j;
    local_tx tx;
    rc = local_job_get(l, job, &j, e);
    if (rc == CX_OK)
        rc = tx_sign_record(L, signer, "job::submit_result", args, alen, &tx, e);
    free(args);
    if (rc == CX_OK)
        rc = submit_checked(L, l, &tx, &j, enclave, statement, statement_len, sig, e);
    return tx_end(L, rc, e);
}

static cx_err local_result_get(cx_ledger *l, const cx_chain_id *job, cx_ledger_result *out,
                               cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
    local_ledger *L = l->impl;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    cx_err rc = db_prep(L->db,
                        "SELECT enclave_id,statement,signature,accepted,refunded,submitted_ms "
                        "FROM results WHERE job_id=?",
                        &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= bind_id(st, 1, job);
    int s = db_step(st, bnd);
    if (s == SQLITE_ROW) {
        out->job_id = *job;
        col_id(st, 0, &out->enclave_id);
        int n = sqlite3_column_bytes(st, 1);
        out->statement = malloc(n > 0 ? (size_t)n : 1);
        if (!out->statement)
            rc = cx_error_set(e, CX_ERR_NOMEM, "ledger: out of memory");
        else
            out->statement_len = col_bytes(st, 1, out->statement, (size_t)(n > 0 ? n : 0));
        col_bytes(st, 2, out->signature, sizeof out->signature);
        out->accepted_contributors = col_u64(st, 3);
        out->refunded = sqlite3_column_int(st, 4);
        out->submitted_ms = col_u64(st, 5);
    } else if (s == SQLITE_DONE) {
        rc = cx_error_set(e, CX_ERR_NOTFOUND, "ledger: no result for this job");
    } else {
        rc = db_fail(L->db, e, "read result");
    }
    sqlite3_finalize(st);
    if (rc != CX_OK || out->refunded) {
        if (rc != CX_OK)
            cx_ledger_result_free(out);
        return rc;
    }
    if ((rc = db_prep(L->db,
                      "SELECT role,payee,amount FROM payouts WHERE job_id=? AND role!='refund' "
                      "ORDER BY role,payee",
                      &st, e)) != CX_OK) {
        cx_ledger_result_free(out);
        return rc;
    }
    bnd |= bind_id(st, 1, job);
    size_t cap = 0;
    while ((s = db_step(st, bnd)) == SQLITE_ROW) {
        const char *role = (const char *)sqlite3_column_text(st, 0);
        uint64_t amount = col_u64(st, 2);
        if (role && strcmp(role, "protocol") == 0) {
            out->split.protocol_fee = amount;
        } else if (role && strcmp(role, "operator") == 0) {
            out->split.operator_fee = amount;
        } else {
            if (out->split.n_payouts == cap) {
                size_t nc = cap ? cap * 2 : 16;
                cx_chain_payout *nb = realloc(out->split.payouts, nc * sizeof *nb);
                if (!nb) {
                    rc = cx_error_set(e, CX_ERR_NOMEM, "ledger: out of memory");
                    break;
                }
                out->split.payouts = nb;
                cap = nc;
            }
            cx_chain_payout *p = &out->split.payouts[out->split.n_payouts++];
            col_id(st, 1, &p->to);
            p->amount = amount;
            out->split.contributors_total += amount;
        }
    }
    if (rc == CX_OK && s != SQLITE_DONE)
        rc = db_fail(L->db, e, "read payouts");
    sqlite3_finalize(st);
    if (rc != CX_OK)
        cx_ledger_result_free(out);
    return rc;
}

/* ------------------------------------------------------ balances, events -- */

static cx_err local_balance_get(cx_ledger *l, const cx_chain_addr *a, uint64_t *out, cx_error *e)
{
    return balance_read(l->impl, a, out, e);
}

static cx_err local_events_read(cx_ledger *l, const char *cursor, size_t max, cx_ledger_event **out,
                                size_t *n, char next_cursor[CX_CHAIN_CURSOR_MAX], cx_error *e)
{
    int bnd = SQLITE_OK; /* sticky: a failed bind fails the step */
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
    sqlite3_stmt *st;
    cx_err rc = db_prep(L->db,
                        "SELECT seq,kind,tx_digest,timestamp_ms,object_id,pool_id,addr,amount "
                        "FROM events WHERE seq>? ORDER BY seq LIMIT ?",
                        &st, e);
    if (rc != CX_OK)
        return rc;
    bnd |= bind_u64(st, 1, after);
    bnd |= bind_u64(st, 2, max);
    cx_ledger_event *ev = calloc(max, sizeof *ev);
    if (!ev) {
        sqlite3_finalize(st);
        return cx_error_set(e, CX_ERR_NOMEM, "events: out of memory");
    }
    int s;
    size_t k = 0;
    while (k < max && (s = db_step(st, bnd)) == SQLITE_ROW) {
        ev[k].seq = col_u64(st, 0);
        ev[k].kind = (cx_ledger_event_kind)sqlite3_column_int(st, 1);
        col_bytes(st, 2, ev[k].tx_digest, 32);
        ev[k].timestamp_ms = col_u64(st, 3);
        col_id(st, 4, &ev[k].object_id);
        col_id(st, 5, &ev[k].pool_id);
        col_id(st, 6, &ev[k].addr);
        ev[k].amount = col_u64(st, 7);
        k++;
    }
    if (k < max && s != SQLITE_DONE)
        rc = db_fail(L->db, e, "read events");
    sqlite3_finalize(st);
    if (rc != CX_OK || k == 0) {
        free(ev);
        return rc;
    }
    snprintf(next_cursor, CX_CHAIN_CURSOR_MAX, "%" PRIu64, ev[k - 1].seq);
    *out = ev;
    *n = k;
    return CX_OK;
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
    return tx_end(L, rc, e);
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
    sqlite3_busy_timeout(L->db, L->opts.busy_timeout_ms > 0 ? L->opts.busy_timeout_ms : 10000);
    /* WAL lets readers (a worker following events) run beside a writer; FULL sync because
     * this file holds money */
    cx_err rc = db_exec(L->db, "PRAGMA journal_mode=WAL", e);
    if (rc == CX_OK)
        rc = db_exec(L->db, "PRAGMA synchronous=FULL", e);
    if (rc == CX_OK)
        rc = db_exec(L->db, "PRAGMA foreign_keys=ON", e);
    if (rc == CX_OK)
        rc = schema_migrate(L, path, e);
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
    .enclaves_for_pool = local_enclaves_for_pool,
    .contribution_register = local_contribution_register,
    .contributions_list = local_contributions_list,
    .job_create = local_job_create,
    .job_get = local_job_get,
    .result_submit = local_result_submit,
    .result_get = local_result_get,
    .job_refund_expired = local_job_refund_expired,
    .balance_get = local_balance_get,
    .events_read = local_events_read,
    .close = local_close,
};
