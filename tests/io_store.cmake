# Tests of the blob stores (io/store*.c): local directory store, Walrus client against the
# loopback fixture server (tests/fixtures/walrus_fixture.py), parsers, and `cloakx blob`.
if(TARGET cx_io)
  cx_add_test(test_io_store_local SOURCES test_io_store_local.c LIBS cx_io LABELS unit)
  cx_add_test(test_io_store_walrus_parse SOURCES test_io_store_walrus_parse.c LIBS cx_io
              LABELS unit)
  target_include_directories(test_io_store_walrus_parse PRIVATE ${PROJECT_SOURCE_DIR}/io)
  cx_add_test(test_io_store_walrus SOURCES test_io_store_walrus.c LIBS cx_io CURL::libcurl
              LABELS integration TIMEOUT 120)
  target_compile_definitions(test_io_store_walrus PRIVATE
    CX_WALRUS_FIXTURE="${CMAKE_CURRENT_SOURCE_DIR}/fixtures/walrus_fixture.py")
  cx_add_script_test(test_io_blob_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_io_blob_cli.sh
                     LABELS e2e TIMEOUT 120)
endif()
