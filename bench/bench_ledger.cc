// bench_ledger.cc — Google Benchmark: local-ledger transactions (faucet, signed contribution,
// result submit with 20 contributors) beside a bare SQLite write transaction with the same
// durability (WAL, synchronous=FULL); statement encode+sign beside a bare Ed25519 sign.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "cx_attest.h"
#include "cx_chain.h"

namespace {

enum { NCONTRIB = 20 };

std::string temp_dir()
{
    const char *base = std::getenv("TMPDIR");
    std::string t = std::string(base && *base ? base : "/tmp") + "/cx_bench_ledger_XXXXXX";
    if (!mkdtemp(&t[0]))
        std::abort();
    return t;
}

void remove_dir(const std::string &d)
{
    std::string cmd = "rm -rf '" + d + "'";
    if (std::system(cmd.c_str()) != 0)
        std::abort();
}

struct Market {
    std::string dir;
    cx_ledger *l = nullptr;
    cx_chain_key *op = nullptr, *buyer = nullptr, *contrib[NCONTRIB] = {};
    uint8_t seed[32];
    uint8_t meas[48];
    cx_chain_id pool{}, enclave{};
    Market()
    {
        dir = temp_dir();
        std::string path = dir + "/ledger.db";
        if (cx_ledger_local_open(path.c_str(), nullptr, &l, nullptr) != CX_OK ||
            cx_chain_key_generate(&op, nullptr) != CX_OK ||
            cx_chain_key_generate(&buyer, nullptr) != CX_OK)
            std::abort();
        std::memset(seed, 0x42, sizeof seed);
        std::memset(meas, 0xaa, sizeof meas);
        cx_ledger_pool_params p{};
        p.theme = "bench";
        p.price = 1;
        p.min_contributors = 3;
        p.max_rows_per_contributor = 100000;
        p.operator_fee_bps = 500;
        p.protocol_fee_bps = 100;
        p.measurements[0] = meas;
        p.measurement_lens[0] = sizeof meas;
        p.n_measurements = 1;
        p.operator_addr = *cx_chain_key_address(op);
        cx_chain_key *ek;
        if (cx_ledger_pool_create(l, op, &p, &pool, nullptr) != CX_OK ||
            cx_chain_key_from_seed(seed, &ek, nullptr) != CX_OK)
            std::abort();
        cx_ledger_enclave en{};
        std::memcpy(en.ed25519_pk, cx_chain_key_public(ek), 32);
        std::memcpy(en.measurement, meas, sizeof meas);
        en.measurement_len = sizeof meas;
        en.attestation_blob_id[0] = 'd'; /* the registry needs the document's store id */
        en.attestation_blob_id_len = 1;
        cx_chain_key_free(ek);
        if (cx_ledger_enclave_register(l, op, &en, &enclave, nullptr) != CX_OK ||
            cx_ledger_pool_enclave_add(l, op, &pool, &enclave, nullptr) != CX_OK)
            std::abort();
        for (int i = 0; i < NCONTRIB; i++) {
            uint8_t blob[4] = {'b', static_cast<uint8_t>(i), 0, 0};
            cx_chain_id c;
            if (cx_chain_key_generate(&contrib[i], nullptr) != CX_OK ||
                cx_ledger_contribution_register(l, contrib[i], &pool, blob, sizeof blob, &c,
                                                nullptr) != CX_OK)
                std::abort();
        }
        if (cx_ledger_local_faucet(l, cx_chain_key_address(buyer), 1ull << 60, nullptr) != CX_OK)
            std::abort();
    }
    ~Market()
    {
        cx_ledger_close(l);
        cx_chain_key_free(op);
        cx_chain_key_free(buyer);
        for (auto *k : contrib)
            cx_chain_key_free(k);
        remove_dir(dir);
    }
    void statement(const cx_chain_id &job, uint8_t **msg, size_t *len, uint8_t sig[64])
    {
        cx_statement s{};
        std::memcpy(s.job_id, job.b, 32);
        std::memcpy(s.pool_id, pool.b, 32);
        std::memcpy(s.code_measurement, meas, sizeof meas);
        s.code_measurement_len = sizeof meas;
        s.result_blob_id[0] = 1;
        s.result_blob_id_len = 1;
        cx_statement_rows rows[NCONTRIB];
        for (int i = 0; i < NCONTRIB; i++) {
            std::memcpy(rows[i].contributor, cx_chain_key_address(contrib[i])->b, 32);
            rows[i].rows = 1000 + static_cast<uint64_t>(i) * 37;
        }
        s.rows = rows;
        s.n_rows = NCONTRIB;
        s.dp_epsilon_micro = CX_STATEMENT_NO_DP;
        if (cx_statement_encode(&s, cx_unix_ms(), msg, len, nullptr) != CX_OK ||
            cx_ed25519_sign(seed, *msg, *len, sig, nullptr) != CX_OK)
            std::abort();
    }
    // The enclave's job message (RULES.md §6) of kind intent for job, signed.
    void job_msg(const cx_chain_id &job, uint8_t intent, const uint8_t spec[32], uint8_t **msg,
                 size_t *len, uint8_t sig[64])
    {
        cx_chain_msg mm{};
        mm.intent = intent;
        mm.version = CX_CHAIN_MSG_VERSION;
        mm.timestamp_ms = cx_unix_ms();
        mm.job_id = job;
        mm.pool_id = pool;
        std::memcpy(mm.code_measurement, meas, sizeof meas);
        mm.code_measurement_len = sizeof meas;
        std::memcpy(mm.config_hash, spec, 32);
        mm.wrapped_key_len = 80; // result hash 0: the statement's
        if (cx_chain_msg_encode(&mm, msg, len, nullptr) != CX_OK ||
            cx_ed25519_sign(seed, *msg, *len, sig, nullptr) != CX_OK)
            std::abort();
    }
};

void BM_LedgerFaucetTx(benchmark::State &state)
{
    Market m;
    cx_chain_addr a{};
    for (auto _ : state)
        if (cx_ledger_local_faucet(m.l, &a, 1, nullptr) != CX_OK)
            state.SkipWithError("faucet");
}
BENCHMARK(BM_LedgerFaucetTx)->Unit(benchmark::kMicrosecond);

void BM_LedgerContributionTx(benchmark::State &state)
{
    Market m;
    uint64_t i = 0;
    for (auto _ : state) {
        uint8_t blob[16] = {'c'};
        std::memcpy(blob + 8, &i, sizeof i);
        i++;
        cx_chain_id c;
        if (cx_ledger_contribution_register(m.l, m.contrib[0], &m.pool, blob, sizeof blob, &c,
                                            nullptr) != CX_OK)
            state.SkipWithError("contribute");
    }
}
BENCHMARK(BM_LedgerContributionTx)->Unit(benchmark::kMicrosecond);

// A result submit: two signature checks (statement, key release), BCS decodes, 20 membership
// checks, split, 22 payouts, the key revealed.
void BM_LedgerResultSubmit20(benchmark::State &state)
{
    Market m;
    uint8_t spec[32] = {};
    for (auto _ : state) {
        state.PauseTiming();
        cx_chain_id job;
        uint8_t *am, asig[64], *km, ksig[64];
        size_t al, kl;
        if (cx_ledger_job_create(m.l, m.buyer, &m.pool, spec, nullptr, 0, 1000000,
                                 cx_unix_ms() + 3600000, &job, nullptr) != CX_OK)
            std::abort();
        m.job_msg(job, CX_CHAIN_MSG_ACCEPT, spec, &am, &al, asig);
        cx_ledger_signed acc{am, al, asig};
        if (cx_ledger_job_accept(m.l, m.op, &job, &m.enclave, &acc, nullptr) != CX_OK)
            std::abort();
        std::free(am);
        uint8_t *msg, sig[64];
        size_t len;
        m.statement(job, &msg, &len, sig);
        m.job_msg(job, CX_CHAIN_MSG_KEY, spec, &km, &kl, ksig);
        cx_ledger_signed st{msg, len, sig}, key{km, kl, ksig};
        state.ResumeTiming();
        if (cx_ledger_result_submit(m.l, m.op, &job, &m.enclave, &st, &key, nullptr) != CX_OK)
            state.SkipWithError("submit");
        state.PauseTiming();
        std::free(msg);
        std::free(km);
        state.ResumeTiming();
    }
}
BENCHMARK(BM_LedgerResultSubmit20)->Unit(benchmark::kMicrosecond);

// Peer: the floor any durable ledger write pays here — one IMMEDIATE transaction updating one
// row, WAL + synchronous=FULL, nothing else.
void BM_SqliteBareTx(benchmark::State &state)
{
    std::string dir = temp_dir();
    std::string path = dir + "/bare.db";
    sqlite3 *db;
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         "CREATE TABLE t(k INTEGER PRIMARY KEY, v INTEGER);"
                         "INSERT INTO t VALUES(1, 0);",
                     nullptr, nullptr, nullptr) != SQLITE_OK)
        std::abort();
    for (auto _ : state)
        if (sqlite3_exec(db, "BEGIN IMMEDIATE; UPDATE t SET v=v+1 WHERE k=1; COMMIT;", nullptr,
                         nullptr, nullptr) != SQLITE_OK)
            state.SkipWithError("sqlite");
    sqlite3_close(db);
    remove_dir(dir);
}
BENCHMARK(BM_SqliteBareTx)->Unit(benchmark::kMicrosecond);

void BM_StatementEncodeSign20(benchmark::State &state)
{
    Market m;
    cx_chain_id job{};
    for (auto _ : state) {
        uint8_t *msg, sig[64];
        size_t len;
        m.statement(job, &msg, &len, sig);
        std::free(msg);
    }
}
BENCHMARK(BM_StatementEncodeSign20)->Unit(benchmark::kMicrosecond);

// Peer: a bare OpenSSL Ed25519 signature over a statement-sized message (1 KB).
void BM_Ed25519SignBare(benchmark::State &state)
{
    uint8_t seed[32] = {1}, msg[1000] = {2}, sig[64];
    EVP_PKEY *p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, 32);
    if (!p)
        std::abort();
    for (auto _ : state) {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        size_t sl = sizeof sig;
        if (!c || EVP_DigestSignInit(c, nullptr, nullptr, nullptr, p) != 1 ||
            EVP_DigestSign(c, sig, &sl, msg, sizeof msg) != 1)
            state.SkipWithError("sign");
        EVP_MD_CTX_free(c);
    }
    EVP_PKEY_free(p);
}
BENCHMARK(BM_Ed25519SignBare)->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
