# Tests of the NVIDIA H100 CC evidence part of attestation/: SPDM report parser, offline
# verifier on the real nvtrust sample, evidence JSON + §4.2 digest, NVML collection (fake).
cx_add_test(test_attestation_gpu_report SOURCES test_attestation_gpu_report.c
            LIBS cx_attestation LABELS unit)
cx_add_test(test_attestation_gpu_verify SOURCES test_attestation_gpu_verify.c
            LIBS cx_attestation OpenSSL::Crypto LABELS unit)
cx_add_test(test_attestation_gpu_evidence SOURCES test_attestation_gpu_evidence.c
            LIBS cx_attestation LABELS unit)
cx_add_test(test_attestation_gpu_rim SOURCES test_attestation_gpu_rim.c
            LIBS cx_attestation LABELS unit)
cx_add_test(test_attestation_gpu_nvml SOURCES test_attestation_gpu_nvml.c
            LIBS cx_attestation ${CMAKE_DL_LIBS} LABELS unit)
cx_add_script_test(test_attestation_gpu_cli
                   COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_attestation_gpu_cli.sh
                   LABELS integration)
cx_add_script_test(test_attestation_gpu_ocsp
                   COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_attestation_gpu_ocsp.sh
                   LABELS integration)
cx_add_test(test_attestation_x509_verify SOURCES test_attestation_x509_verify.c
            LIBS cx_attestation OpenSSL::Crypto LABELS unit)
