# bench/parse.cmake — Google Benchmark micro-benchmarks of the data parsers (CSV, JSONL,
# f32, the float parser) beside a strtof split loop, the peer, on the same bytes.
cx_add_bench(bench_parse SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_parse.cc LIBS cx_io)
# Smoke run of `cloakx bench parse` (CSV and JSON lines; the figures stay out of the tests).
add_test(NAME cloakx_bench_parse_smoke COMMAND cloakx bench parse --mb 1 --json)
set_tests_properties(cloakx_bench_parse_smoke PROPERTIES LABELS unit TIMEOUT 300)
