# Fuzz targets of chain/: the result bundle JSON reader (the statement decoder's is proto's) and
# the enclave's job messages.
cx_add_fuzz(chain_bundle SOURCES fuzz_chain_bundle.c LIBS cx_attestation)
cx_add_fuzz(chain_enclave_msg SOURCES fuzz_chain_enclave_msg.c LIBS cx_chain)
# What a Seal key server reads: the PTB decoder (canonical re-encoding) and the fetch_key handler.
if(CLOAKX_HAVE_SEAL)
  cx_add_fuzz(chain_seal_request SOURCES fuzz_chain_seal_request.c LIBS cx_chain)
endif()
