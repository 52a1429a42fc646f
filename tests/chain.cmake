# Tests of chain/: Sui addresses of known keys, account keys, the payout split, Sui
# transactions, the local ledger's rules, events and schema version, and two processes sharing
# one ledger.
cx_add_test(test_chain_keys_split SOURCES test_chain_keys_split.c LIBS cx_chain)
cx_add_test(test_chain_sui_tx SOURCES test_chain_sui_tx.c LIBS cx_chain)
# The ledger tests build statements with proto's encoder (what the enclave signs).
cx_add_test(test_chain_ledger SOURCES test_chain_ledger.c
            LIBS cx_chain SQLite::SQLite3)
cx_add_test(test_chain_concurrency SOURCES test_chain_concurrency.c
            LIBS cx_chain LABELS integration)
# The Move package: syntax under npm's Move grammar (installed into the build tree on first
# run; skipped only without npm access), its test vectors, and `sui move test` where sui exists.
cx_add_script_test(test_chain_move_syntax
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_chain_move_syntax.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}
  LABELS integration TIMEOUT 600)
# Differential test of chain/sui_tx.c against @mysten/sui 2.33.1 (npm, installed into the
# build tree by the test): >= 500 random transactions, bit for bit, both directions.
add_executable(test_chain_sui_diff test_chain_sui_diff.c)
target_link_libraries(test_chain_sui_diff PRIVATE cx_chain PkgConfig::JANSSON)
target_compile_options(test_chain_sui_diff PRIVATE ${CX_WARN_FLAGS})
cx_add_script_test(test_chain_sui_diff_sdk
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_chain_sui_diff.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}
          $<TARGET_FILE:test_chain_sui_diff>
  LABELS integration TIMEOUT 900)
# The Sui GraphQL client against a loopback fixture (python3 + cryptography), and its query
# texts validated against the GraphQL schema @mysten/sui ships.
cx_add_test(test_chain_sui_graphql SOURCES test_chain_sui_graphql.c
            LIBS cx_chain cx_io CURL::libcurl PkgConfig::JANSSON)
target_compile_definitions(test_chain_sui_graphql PRIVATE
  CX_SUI_GRAPHQL_FIXTURE="${CMAKE_CURRENT_SOURCE_DIR}/fixtures/sui_graphql_fixture.py")
cx_add_script_test(test_chain_sui_graphql_schema
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_chain_sui_graphql_schema.sh ${PROJECT_SOURCE_DIR}
          ${PROJECT_BINARY_DIR} $<TARGET_FILE:test_chain_sui_graphql>
  LABELS integration TIMEOUT 600)
# The Move tests' embedded messages (chain/move/cloakx_market/tests/vectors.move, from Python) are
# the bytes C's statement and job-message encoders write and Ed25519 signs.
cx_add_test(test_chain_move_vectors SOURCES test_chain_move_vectors.c LIBS cx_chain)
target_compile_definitions(test_chain_move_vectors PRIVATE
  CX_MOVE_VECTORS="${PROJECT_SOURCE_DIR}/chain/move/cloakx_market/tests/vectors.move")
# The sui: ledger backend against the fixture's model of the contract (python3 + cryptography;
# simulated Nitro documents from attestation/'s TEE).
cx_add_test(test_chain_ledger_sui SOURCES test_chain_ledger_sui.c
            LIBS cx_chain cx_attestation cx_io CURL::libcurl PkgConfig::JANSSON OpenSSL::Crypto)
target_compile_definitions(test_chain_ledger_sui PRIVATE
  CX_SUI_GRAPHQL_FIXTURE="${CMAKE_CURRENT_SOURCE_DIR}/fixtures/sui_graphql_fixture.py")
