# Tests of the `cloakx` tool's own helpers (cli/): argument tables, durations, demo data.
cx_add_test(test_cli_helpers SOURCES test_cli_helpers.c LIBS cx_cli LABELS unit)
# The job library links without the tool: every cx_engine object goes into one program that
# is given no cli/ object, so a reference from engine/ to the tool fails this build.
add_executable(engine_links_alone engine_links_alone.c $<TARGET_OBJECTS:cx_engine>)
target_link_libraries(engine_links_alone PRIVATE cx_engine)
target_compile_options(engine_links_alone PRIVATE ${CX_WARN_FLAGS})
