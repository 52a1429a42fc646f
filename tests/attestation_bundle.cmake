# Tests of the result bundle (attestation/bundle.c) around the committed statement vector:
# written and read back, strict parsing, a statement of 100000 contributors; a multi-rank job's
# ranks and their hash (the known answer computed with OpenSSL's SHA256 in the test).
cx_add_test(test_attestation_bundle SOURCES test_attestation_bundle.c
            LIBS cx_attestation OpenSSL::Crypto)
