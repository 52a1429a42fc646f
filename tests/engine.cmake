# Tests of the cloakx train/predict commands (cli/) beyond the marketplace scripts
# (e2e.cmake): model metadata carries the gap fill values under "missing": "mean".
cx_add_script_test(test_engine_predict_fill
                   COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_engine_predict_fill.sh
                   LABELS integration)
