# The worker's status server (engine/status.c, engine/http_status.c) through `cloakx worker
# --listen`: page in headless Chromium, JSON API, Prometheus metrics, read-only, token, no leaks.
cx_add_script_test(test_e2e_worker_status
                   COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_e2e_worker_status.sh
                   LABELS e2e TIMEOUT 300)
