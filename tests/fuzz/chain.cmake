# Fuzz target of the result bundle JSON reader (the statement decoder's is proto's).
cx_add_fuzz(chain_bundle SOURCES fuzz_chain_bundle.c LIBS cx_attestation)
