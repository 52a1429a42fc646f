# Tests of the cloakx train/predict commands (cli/) beyond the marketplace scripts
# (e2e.cmake): model metadata carries the gap fill values under "missing": "mean".
cx_add_script_test(test_engine_predict_fill
                   COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_engine_predict_fill.sh
                   LABELS integration)
# Seal key release under the marketplace's policies: the key server's checks on the ledger and
# the client against three local key servers over loopback (built with the seal module).
if(CLOAKX_HAVE_SEAL)
  cx_add_test(test_engine_seal_keyserver SOURCES test_engine_seal_keyserver.c
              LIBS cx_engine PkgConfig::JANSSON LABELS integration)
endif()
# The sealed channel between the ranks of a multi-rank job (engine/rank_link.c): ring sums and
# broadcast over socketpairs, tampered/replayed/foreign messages refused.
cx_add_test(test_engine_rank_link SOURCES test_engine_rank_link.c LIBS cx_engine LABELS unit)
# A rank's per-job attestation (engine/ranks.c): bound to the job, its place, rank 0's key and
# its channel key; another measurement, an edited document or an untrusted root refused.
cx_add_test(test_engine_ranks SOURCES test_engine_ranks.c LIBS cx_engine LABELS unit)
