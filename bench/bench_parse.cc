// bench_parse.cc — CSV / JSONL / f32 parse rates (bytes/s per thread) of the chunk-fed
// parser, beside a plain strtof split loop on the same bytes (the peer).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>
#include <algorithm>

extern "C" {
#include "cx_io.h"
#include "parse_internal.h"
}

namespace
{

constexpr int kCols = 16;
constexpr size_t kChunk = 4 << 20;

std::string make_csv(size_t target)
{
    std::string s;
    s.reserve(target + 512);
    for (int c = 0; c < kCols; c++)
        s += (c ? ",f" : "f") + std::to_string(c);
    s += '\n';
    uint64_t x = 0x2545F4914F6CDD1Dull;
    char buf[64];
    while (s.size() < target) {
        for (int c = 0; c < kCols; c++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned ip = (unsigned)((x >> 8) % (c % 3 == 0 ? 10 : c % 3 == 1 ? 1000 : 100000));
            unsigned fp = (unsigned)((x >> 32) % 10000);
            int n = snprintf(buf, sizeof buf, "%s%u.%04u%c", (x & 1) ? "-" : "", ip, fp,
                             c + 1 < kCols ? ',' : '\n');
            s.append(buf, (size_t)n);
        }
    }
    return s;
}

std::string make_jsonl(size_t target)
{
    std::string s;
    uint64_t x = 42;
    char buf[64];
    while (s.size() < target) {
        s += '{';
        for (int c = 0; c < kCols; c++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int n = snprintf(buf, sizeof buf, "%s\"f%d\": %u.%04u", c ? ", " : "", c,
                             (unsigned)((x >> 8) % 1000), (unsigned)((x >> 32) % 10000));
            s.append(buf, (size_t)n);
        }
        s += "}\n";
    }
    return s;
}

const std::string &csv_data()
{
    static const std::string d = make_csv(16 << 20);
    return d;
}

void feed_all(benchmark::State &state, cx_data_format fmt, const std::string &data)
{
    cx_dataset_schema *s = nullptr;
    if (cx_dataset_schema_new(&s, nullptr) != CX_OK) {
        state.SkipWithError("schema");
        return;
    }
    for (auto _ : state) {
        cx_parser *p = nullptr;
        if (cx_parser_new(s, fmt, 1, &p, nullptr) != CX_OK) {
            state.SkipWithError("parser");
            break;
        }
        bool ok = true;
        for (size_t off = 0; off < data.size() && ok; off += kChunk) {
            size_t n = std::min(kChunk, data.size() - off);
            ok = cx_parser_feed(p, 0, data.data() + off, n, off + n == data.size(), nullptr) ==
                 CX_OK;
        }
        cx_parser_free(p);
        if (!ok) {
            state.SkipWithError("feed");
            break;
        }
    }
    state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)data.size());
    cx_dataset_schema_free(s);
}

void BM_csv_feed(benchmark::State &state)
{
    feed_all(state, CX_DATA_CSV, csv_data());
}
BENCHMARK(BM_csv_feed)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_jsonl_feed(benchmark::State &state)
{
    static const std::string d = make_jsonl(16 << 20);
    feed_all(state, CX_DATA_JSONL, d);
}
BENCHMARK(BM_jsonl_feed)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_f32_feed(benchmark::State &state)
{
    static std::string d;
    if (d.empty()) {
        const size_t rows = (16u << 20) / (4 * kCols);
        std::vector<float> X(rows * kCols);
        for (size_t i = 0; i < X.size(); i++)
            X[i] = (float)(i % 1000) * 0.25f;
        char path[] = "/tmp/cx_bench_f32_XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0) {
            state.SkipWithError("tmp");
            return;
        }
        close(fd);
        std::vector<std::string> nm(kCols);
        std::vector<const char *> names(kCols);
        for (int c = 0; c < kCols; c++) {
            nm[c] = "f" + std::to_string(c);
            names[c] = nm[c].c_str();
        }
        uint8_t *buf = nullptr;
        size_t len = 0;
        if (cx_f32_write(path, X.data(), rows, kCols, names.data(), -1, nullptr) != CX_OK ||
            cx_file_read_all(path, 1u << 30, &buf, &len, nullptr) != CX_OK) {
            unlink(path);
            state.SkipWithError("f32 write");
            return;
        }
        unlink(path);
        d.assign((const char *)buf, len);
        free(buf);
    }
    feed_all(state, CX_DATA_F32, d);
}
BENCHMARK(BM_f32_feed)->Unit(benchmark::kMillisecond)->UseRealTime();

// The peer: the loop one writes first (strtof per field, separators checked).
void BM_csv_strtof_peer(benchmark::State &state)
{
    const std::string &d = csv_data();
    std::vector<float> out(4096);
    for (auto _ : state) {
        const char *p = (const char *)memchr(d.data(), '\n', d.size()) + 1;
        const char *end = d.data() + d.size();
        size_t n = 0;
        while (p < end) {
            char *q;
            out[n++ % out.size()] = strtof(p, &q);
            if (q == p || (*q != ',' && *q != '\n')) {
                state.SkipWithError("strtof");
                return;
            }
            p = q + 1;
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)d.size());
}
BENCHMARK(BM_csv_strtof_peer)->Unit(benchmark::kMillisecond)->UseRealTime();

// The float parser alone over the same fields (the rest of the CSV loop excluded).
void BM_float_parser(benchmark::State &state)
{
    const std::string &d = csv_data();
    std::vector<float> out(4096);
    for (auto _ : state) {
        const char *p = (const char *)memchr(d.data(), '\n', d.size()) + 1;
        const char *end = d.data() + d.size();
        size_t n = 0;
        while (p < end) {
            float v;
            const char *q = cx_parse_f32(p, end, &v);
            if (!q) {
                state.SkipWithError("parse");
                return;
            }
            out[n++ % out.size()] = v;
            p = q + 1;
        }
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed((int64_t)state.iterations() * (int64_t)d.size());
}
BENCHMARK(BM_float_parser)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
