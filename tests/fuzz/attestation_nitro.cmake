# Fuzz targets of the Nitro part of attestation/: the COSE_Sign1/CBOR document parser (+ the
# verifier on what parses) and the /dev/nsm response decoder.
cx_add_fuzz(attestation_nitro_cose SOURCES fuzz_attestation_nitro_cose.c LIBS cx_attestation)
cx_add_fuzz(attestation_nitro_nsm SOURCES fuzz_attestation_nitro_nsm.c LIBS cx_attestation)
