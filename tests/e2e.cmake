# End-to-end tests of the marketplace (engine/ and cli/: job pipeline, worker, role commands,
# verify, demo), driven through the cloakx binary by shell scripts; they need jq and python3.
foreach(t demo marketplace refunds worker_kill verify_content_types verify_no_enclave walrus_store
        model_key pool_enclaves verify_incomplete seller_decides_schema dp_model_meta
        sui_ledger pool_policy worker_mlock seal_dataset worker_reports pool_sealing worker_ranks)
  cx_add_script_test(test_e2e_${t}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_e2e_${t}.sh
    LABELS e2e TIMEOUT 240)
endforeach()
# Unit tests of the job library's marketplace helpers (commitment, job requests, blob ids).
cx_add_test(test_engine_job SOURCES test_engine_job.c LIBS cx_engine LABELS unit)
# A pool's policy against job specs: the checks, the budget, the epsilon cap, and the enclave's
# own check of a job created round the buyer's client.
cx_add_test(test_engine_policy SOURCES test_engine_policy.c LIBS cx_engine LABELS e2e)
# Issue 13's attacks through the engine: a blob store outside the TEE that serves other bytes on
# a later read (item 4: test-only cx_store ops from io/store_internal.h around the local store),
# a store that fails while headers are read and enclave-signed statements that leave a
# contributor out (item 5), forged results that verify must not pass (items 5 and 7).
cx_add_test(test_engine_attacks SOURCES test_engine_attacks.c LIBS cx_engine SQLite::SQLite3
            LABELS e2e)
target_include_directories(test_engine_attacks PRIVATE ${PROJECT_SOURCE_DIR}/io)
