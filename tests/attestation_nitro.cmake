# Tests of the Nitro part of attestation/: COSE/CBOR verifier on the real document, the /dev/nsm
# codec and seam, the simulated TEE, the §4.2 binding, and `cloakx attest verify-nitro|inspect`.
cx_add_test(test_attestation_nitro_verify SOURCES test_attestation_nitro_verify.c
            LIBS cx_attestation OpenSSL::Crypto LABELS unit)
cx_add_test(test_attestation_nsm SOURCES test_attestation_nsm.c LIBS cx_attestation LABELS unit)
cx_add_test(test_attestation_tee_sim SOURCES test_attestation_tee_sim.c
            LIBS cx_attestation OpenSSL::Crypto LABELS unit)
cx_add_test(test_attestation_binding SOURCES test_attestation_binding.c
            LIBS cx_attestation OpenSSL::Crypto LABELS unit)
cx_add_script_test(test_attestation_nitro_cli
                   COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_attestation_nitro_cli.sh
                   LABELS integration)
cx_add_script_test(test_attestation_inspect_cli
                   COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_attestation_inspect_cli.sh
                   LABELS integration)
