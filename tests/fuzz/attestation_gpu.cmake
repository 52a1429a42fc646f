# Fuzz targets of the NVIDIA GPU evidence part of attestation/: SPDM report parser (+ verifier),
# evidence JSON and reference JSON readers.
cx_add_fuzz(attestation_gpu_spdm SOURCES fuzz_attestation_gpu_spdm.c LIBS cx_attestation)
cx_add_fuzz(attestation_gpu_evidence SOURCES fuzz_attestation_gpu_evidence.c LIBS cx_attestation)
