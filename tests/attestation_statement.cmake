# Tests of the result statement (attestation/statement.c): Nautilus vectors, the committed
# statement vector (tests/gen_statement_vector.py), strict decoding, chain's decoder agreeing
# with attestation's encoder, and the result bundle JSON.
cx_add_test(test_attestation_statement SOURCES test_attestation_statement.c
            LIBS cx_attestation cx_chain)
