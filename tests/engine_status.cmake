# The worker's status server (engine/status.c, engine/http_status.c) through `cloakx worker
# --listen`: page in headless Chromium, JSON API, Prometheus metrics, read-only, token, no leaks.
cx_add_script_test(test_e2e_worker_status
                   COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_e2e_worker_status.sh
                   LABELS e2e TIMEOUT 300)
# The status model itself: states, totals, latencies, errors, GPU gauges, both renderings.
cx_add_test(test_engine_status SOURCES test_engine_status.c LIBS cx_engine LABELS unit)
