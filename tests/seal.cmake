# Tests of seal/ (built only when blst was fetched, CLOAKX_HAVE_SEAL): the spec's known answers
# and intermediates, tamper cases, and the differential test against @mysten/seal.
if(CLOAKX_HAVE_SEAL)
  cx_add_test(test_seal_kat SOURCES test_seal_kat.c LIBS cx_seal OpenSSL::Crypto)
  cx_add_test(test_seal_tamper SOURCES test_seal_tamper.c LIBS cx_seal)
  cx_add_test(test_seal_keyserver SOURCES test_seal_keyserver.c LIBS cx_seal)
  # Differential test against @mysten/seal 1.4.12 (npm, installed into the build tree by
  # tests/node/install.sh): >= 200 random objects each way; ~40 s of CPU in the SDK (noble
  # pairings), so `slow`: the normal build runs it, the sanitizer build does not.
  add_executable(test_seal_diff test_seal_diff.c)
  target_link_libraries(test_seal_diff PRIVATE cx_seal PkgConfig::JANSSON)
  target_compile_options(test_seal_diff PRIVATE ${CX_WARN_FLAGS})
  cx_add_script_test(test_seal_diff_sdk
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_seal_diff.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}
            $<TARGET_FILE:test_seal_diff>
    LABELS "integration;slow" TIMEOUT 600)
endif()
