# Fuzz targets of chain/ and the result statement: the statement BCS decoders (chain's and
# attestation's, differentially) and the result bundle JSON reader.
cx_add_fuzz(chain_statement SOURCES fuzz_chain_statement.c LIBS cx_chain cx_attestation)
cx_add_fuzz(chain_bundle SOURCES fuzz_chain_bundle.c LIBS cx_attestation)
