# Fuzz targets of chain/: the result bundle JSON reader (the statement decoder's is proto's) and
# the enclave's job messages.
cx_add_fuzz(chain_bundle SOURCES fuzz_chain_bundle.c LIBS cx_attestation)
cx_add_fuzz(chain_enclave_msg SOURCES fuzz_chain_enclave_msg.c LIBS cx_chain)
