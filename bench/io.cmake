# io/ micro-benchmarks: the chunk decryptor beside OpenSSL's own EVP AES-256-GCM on
# the same chunk, and opening a .cxb header (HPKE) beside a bare X25519 key agreement.
cx_add_bench(bench_decrypt SOURCES bench_decrypt.cc LIBS cx_io OpenSSL::Crypto)
