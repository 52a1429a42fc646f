# Tests of the data parsers (io/parse_*.c, io/dataset_*.c, io/stats.c) and of `cloakx stats`.
cx_add_test(test_io_parse SOURCES test_io_parse.c LIBS cx_io OpenMP::OpenMP_C m LABELS unit)
cx_add_script_test(test_cli_stats COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_stats.sh
                   LABELS integration)
set_property(TEST test_io_parse APPEND PROPERTY ENVIRONMENT
             "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/io_parse_lsan.supp")
cx_add_test(test_io_parse_wipe SOURCES test_io_parse_wipe.c LIBS cx_io OpenMP::OpenMP_C m
            LABELS unit)
cx_add_test(test_io_parse_long_record SOURCES test_io_parse_long_record.c LIBS cx_io
            OpenMP::OpenMP_C m LABELS unit)
cx_add_test(test_io_parse_record_limit SOURCES test_io_parse_record_limit.c LIBS cx_io
            OpenMP::OpenMP_C m LABELS unit)
# The dictionaries' strings (category values, class names) in pooled secure memory.
cx_add_test(test_io_dict_secmem SOURCES test_io_dict_secmem.c LIBS cx_io LABELS unit)
target_include_directories(test_io_dict_secmem PRIVATE ${PROJECT_SOURCE_DIR}/io)
# CSV rows of plain numbers (their own loop) parse as the general loop parses them.
cx_add_test(test_io_parse_number_rows SOURCES test_io_parse_number_rows.c LIBS cx_io m
            LABELS unit)
# JSON lines: the next-key guess and the one-step number parse change no result.
cx_add_test(test_io_parse_jsonl_fast SOURCES test_io_parse_jsonl_fast.c LIBS cx_io m LABELS unit)
# The merge copies rows that already hold the output's features; the same dataset as the
# general merge.
cx_add_test(test_io_merge_plain_rows SOURCES test_io_merge_plain_rows.c LIBS cx_io LABELS unit)
