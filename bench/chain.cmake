# chain/ micro-benchmarks: local-ledger transactions beside a bare durable SQLite
# transaction, and statement encode+sign beside a bare Ed25519 signature.
cx_add_bench(bench_ledger SOURCES bench_ledger.cc
             LIBS cx_chain cx_attestation SQLite::SQLite3 OpenSSL::Crypto)
