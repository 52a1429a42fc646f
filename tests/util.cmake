# Tests of util/: errors, encodings, secure memory, atomic files, JSON helpers; and the CLI conventions.
cx_add_test(test_util_encode SOURCES test_util_encode.c LIBS cx_util)
cx_add_test(test_util_secmem SOURCES test_util_secmem.c LIBS cx_util)
cx_add_test(test_util_file SOURCES test_util_file.c LIBS cx_util)
cx_add_test(test_util_json SOURCES test_util_json.c LIBS cx_util)
cx_add_script_test(test_cli_conventions COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_conventions.sh
                   LABELS unit)
cx_add_script_test(test_cli_sigbus COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_sigbus.sh
                   LABELS integration TIMEOUT 60)
cx_add_script_test(test_scripts_pipefail COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_scripts_pipefail.sh
                   LABELS unit)
cx_add_script_test(test_style_format COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_style_format.sh
                   LABELS unit)
