# bench/parse.cmake — Google Benchmark micro-benchmarks of the data parsers (CSV, JSONL,
# f32, the float parser) beside a strtof split loop, the peer, on the same bytes.
cx_add_bench(bench_parse SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_parse.cc LIBS cx_io)
