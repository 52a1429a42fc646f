// bench_decrypt.cc — Google Benchmark: cx_cxb_chunk_decrypt vs OpenSSL's EVP loop on one
// chunk (same size), and cx_cxb_open (HPKE open of a header) vs a bare X25519 derive.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cx_io.h"

namespace {

cx_err vec_write(void *ctx, const void *buf, size_t len, cx_error *)
{
    auto *v = static_cast<std::vector<uint8_t> *>(ctx);
    const auto *p = static_cast<const uint8_t *>(buf);
    v->insert(v->end(), p, p + len);
    return CX_OK;
}

struct Sealed {
    cx_x25519_key *key = nullptr;
    std::vector<uint8_t> blob;
    cx_cxb_header h{};
    explicit Sealed(size_t chunk)
    {
        if (cx_x25519_key_generate(&key, nullptr) != CX_OK)
            std::abort();
        std::vector<uint8_t> pt(chunk);
        RAND_bytes(pt.data(), static_cast<int>(pt.size()));
        cx_cxb_seal_params p{};
        p.recipient_pub = cx_x25519_key_public(key);
        p.pool_id = "bench";
        p.contributor = "bench";
        p.content_type = CX_CONTENT_RAW;
        p.chunk_size = static_cast<uint32_t>(chunk);
        cx_mem_reader mr;
        cx_reader r;
        cx_reader_from_memory(&r, &mr, pt.data(), pt.size());
        cx_writer w = {vec_write, &blob};
        if (cx_cxb_seal(&p, &r, pt.size(), &w, &h, nullptr, nullptr) != CX_OK)
            std::abort();
    }
    ~Sealed() { cx_x25519_key_free(key); }
};

void BM_CxbChunkDecrypt(benchmark::State &state)
{
    const size_t chunk = static_cast<size_t>(state.range(0));
    Sealed s(chunk);
    cx_cxb_ctx *ctx;
    cx_cxb_worker *w;
    if (cx_cxb_open(s.blob.data(), s.blob.size(), s.key, &ctx, nullptr) != CX_OK ||
        cx_cxb_worker_new(&w, nullptr) != CX_OK)
        std::abort();
    std::vector<uint8_t> out(chunk);
    const uint8_t *in = s.blob.data() + s.h.header_len;
    for (auto _ : state) {
        if (cx_cxb_chunk_decrypt(ctx, w, 0, in, chunk + CX_CXB_TAG_LEN, out.data(), nullptr,
                                 nullptr, nullptr) != CX_OK)
            state.SkipWithError("tag");
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk));
    cx_cxb_worker_free(w);
    cx_cxb_ctx_free(ctx);
}

// The peer: OpenSSL's own EVP AES-256-GCM decrypt + tag check of one chunk.
void BM_OpenSSLGcmDecrypt(benchmark::State &state)
{
    const size_t chunk = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> pt(chunk), ct(chunk), out(chunk);
    uint8_t key[32], iv[12] = {0}, tag[16];
    RAND_bytes(key, 32);
    RAND_bytes(pt.data(), static_cast<int>(chunk));
    EVP_CIPHER *aes = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ol;
    EVP_EncryptInit_ex2(c, aes, key, iv, nullptr);
    EVP_EncryptUpdate(c, ct.data(), &ol, pt.data(), static_cast<int>(chunk));
    EVP_EncryptFinal_ex(c, ct.data() + chunk, &ol);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
    EVP_DecryptInit_ex2(c, aes, nullptr, nullptr, nullptr);
    for (auto _ : state) {
        if (EVP_DecryptInit_ex2(c, nullptr, key, iv, nullptr) != 1 ||
            EVP_DecryptUpdate(c, out.data(), &ol, ct.data(), static_cast<int>(chunk)) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1 ||
            EVP_DecryptFinal_ex(c, out.data() + chunk, &ol) != 1)
            state.SkipWithError("tag");
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk));
    EVP_CIPHER_CTX_free(c);
    EVP_CIPHER_free(aes);
}

void BM_CxbOpenHeader(benchmark::State &state)
{
    Sealed s(64);
    for (auto _ : state) {
        cx_cxb_ctx *ctx;
        if (cx_cxb_open(s.blob.data(), s.blob.size(), s.key, &ctx, nullptr) != CX_OK)
            state.SkipWithError("open");
        cx_cxb_ctx_free(ctx);
    }
}

// The peer: the X25519 key agreement alone, the floor under any HPKE open.
void BM_X25519Derive(benchmark::State &state)
{
    EVP_PKEY *a = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
    EVP_PKEY *b = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
    uint8_t out[32];
    for (auto _ : state) {
        EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(nullptr, a, nullptr);
        size_t len = sizeof out;
        if (!pc || EVP_PKEY_derive_init(pc) != 1 || EVP_PKEY_derive_set_peer(pc, b) != 1 ||
            EVP_PKEY_derive(pc, out, &len) != 1)
            state.SkipWithError("derive");
        EVP_PKEY_CTX_free(pc);
        benchmark::DoNotOptimize(out);
    }
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

} // namespace

BENCHMARK(BM_CxbChunkDecrypt)->Arg(64 << 10)->Arg(1 << 20)->Arg(4 << 20);
BENCHMARK(BM_OpenSSLGcmDecrypt)->Arg(64 << 10)->Arg(1 << 20)->Arg(4 << 20);
BENCHMARK(BM_CxbOpenHeader);
BENCHMARK(BM_X25519Derive);
BENCHMARK_MAIN();
