# Tests of the `cloakx` tool's own helpers (cli/): argument tables, durations, demo data.
cx_add_test(test_cli_helpers SOURCES test_cli_helpers.c LIBS cx_cli LABELS unit)
# The job library links without the tool: every cx_engine object goes into one program that
# is given no cli/ object, so a reference from engine/ to the tool fails this build.
add_executable(engine_links_alone engine_links_alone.c $<TARGET_OBJECTS:cx_engine>)
target_link_libraries(engine_links_alone PRIVATE cx_engine)
target_compile_options(engine_links_alone PRIVATE ${CX_WARN_FLAGS})
# The SVG chart writer (cli/svg_plot.c): well-formed charts, checked by tests/report_check.py.
cx_add_test(test_cli_svg_plot SOURCES test_cli_svg_plot.c LIBS cx_cli LABELS unit)
target_compile_definitions(test_cli_svg_plot PRIVATE
                           CX_REPORT_CHECK="${CMAKE_CURRENT_SOURCE_DIR}/report_check.py")
# `cloakx bench report --quick`: report.json, report.html with its numbers, headless Chromium.
cx_add_script_test(test_cli_bench_report
                   COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_bench_report.sh
                   LABELS integration TIMEOUT 300)
# `cloakx train --report DIR`: loss (and DP epsilon) per epoch in train.json, loss.svg, epsilon.svg.
cx_add_script_test(test_cli_train_report
                   COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_train_report.sh
                   LABELS integration TIMEOUT 120)
# `cloakx keyserver`: the local Seal key server's key file and its HTTP API on loopback.
cx_add_script_test(test_cli_keyserver
                   COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_keyserver.sh
                   LABELS integration TIMEOUT 60)
