// bench_kernels.cc — Google Benchmark micro-benchmarks of the CPU backend's kernels, each
// beside its peer in the same binary: the split GEMM beside a plain cblas_sgemm, the fused
// bias+ReLU and Adam update beside memcpy of the same bytes, and a whole training step.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstring>
#include <vector>

extern "C" {
#include "cx_kernels.h"
}

namespace {

struct Backend {
    cx_backend *be = nullptr;
    explicit Backend(int threads)
    {
        cx_error e;
        if (cx_backend_cpu_create(CX_PRECISION_FP32, threads, &be, &e) != CX_OK)
            be = nullptr;
    }
    ~Backend() { cx_backend_destroy(be); }
};

std::vector<float> filled(size_t n)
{
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++)
        v[i] = static_cast<float>((i % 17) * 0.01 - 0.08);
    return v;
}

// the backend's GEMM (row blocks over OpenMP, OpenBLAS single-threaded inside)
void BM_backend_sgemm(benchmark::State &st)
{
    const int m = 1024, n = static_cast<int>(st.range(0)), k = static_cast<int>(st.range(1));
    Backend b(static_cast<int>(st.range(2)));
    if (!b.be) {
        st.SkipWithError("backend");
        return;
    }
    auto a = filled(static_cast<size_t>(m) * k), w = filled(static_cast<size_t>(k) * n),
         c = filled(static_cast<size_t>(m) * n);
    for (auto _ : st) {
        b.be->sgemm(b.be, 0, 0, m, n, k, 1.0f, a.data(), k, w.data(), n, 0.0f, c.data(), n);
        benchmark::DoNotOptimize(c.data());
    }
    st.counters["FLOP/s"] = benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}
BENCHMARK(BM_backend_sgemm)->Args({256, 256, 1})->Args({256, 256, 2})->Args({256, 64, 2})->UseRealTime();

// peer: OpenBLAS with its own threads on the same shape
void BM_peer_cblas_sgemm(benchmark::State &st)
{
    const int m = 1024, n = static_cast<int>(st.range(0)), k = static_cast<int>(st.range(1));
    openblas_set_num_threads(static_cast<int>(st.range(2)));
    auto a = filled(static_cast<size_t>(m) * k), w = filled(static_cast<size_t>(k) * n),
         c = filled(static_cast<size_t>(m) * n);
    for (auto _ : st) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k,
                    w.data(), n, 0.0f, c.data(), n);
        benchmark::DoNotOptimize(c.data());
    }
    openblas_set_num_threads(1);
    st.counters["FLOP/s"] = benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}
BENCHMARK(BM_peer_cblas_sgemm)->Args({256, 256, 1})->Args({256, 256, 2})->Args({256, 64, 2})->UseRealTime();

void BM_bias_relu_forward(benchmark::State &st)
{
    Backend b(1);
    const int rows = 1024, n = 256;
    auto z = filled(static_cast<size_t>(rows) * n), o = z, bias = filled(n);
    for (auto _ : st) {
        b.be->bias_act_forward(b.be, CX_ACT_RELU, rows, n, z.data(), bias.data(), o.data());
        benchmark::DoNotOptimize(o.data());
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * rows * n * 3 * 4);
}
BENCHMARK(BM_bias_relu_forward)->UseRealTime();

void BM_adam_update(benchmark::State &st)
{
    Backend b(1);
    const size_t n = 84490; // the reference MLP's parameters
    auto p = filled(n), g = filled(n), m = filled(n), v = filled(n);
    for (auto &x : v)
        x = x * x;
    int t = 1;
    for (auto _ : st) {
        b.be->adam_update(b.be, n, p.data(), g.data(), m.data(), v.data(), 1e-3f, 0.9f, 0.999f,
                          1e-8f, 0.0f, 0, t++);
        benchmark::DoNotOptimize(p.data());
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * n * 7 * 4);
}
BENCHMARK(BM_adam_update)->UseRealTime();

// peer for the element-wise kernels: memcpy of 1 MiB (the memory-bandwidth bound)
void BM_peer_memcpy(benchmark::State &st)
{
    std::vector<float> a = filled(1 << 18), c(1 << 18);
    for (auto _ : st) {
        std::memcpy(c.data(), a.data(), a.size() * sizeof(float));
        benchmark::DoNotOptimize(c.data());
    }
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * (1 << 18) * 2 * 4);
}
BENCHMARK(BM_peer_memcpy)->UseRealTime();

// DP-SGD noise: N(0, 1) from the CSPRNG for the reference MLP's parameters
void BM_dp_gaussian(benchmark::State &st)
{
    cx_dp_rng *r = nullptr;
    cx_error e;
    if (cx_dp_rng_create(&r, &e) != CX_OK) {
        st.SkipWithError("dp rng");
        return;
    }
    std::vector<float> out(84490);
    for (auto _ : st) {
        cx_dp_rng_gaussian(r, out.data(), out.size(), &e);
        benchmark::DoNotOptimize(out.data());
    }
    st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * 84490);
    cx_dp_rng_free(r);
}
BENCHMARK(BM_dp_gaussian)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
