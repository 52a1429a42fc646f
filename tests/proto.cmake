# Tests of proto/: Ed25519 against RFC 8032, BCS against the spec's vectors and its strictness,
# and the result statement codec (Nautilus vectors, the committed vector of
# tests/gen_statement_vector.py, strict decoding).
cx_add_test(test_proto_ed25519 SOURCES test_proto_ed25519.c LIBS cx_proto)
cx_add_test(test_proto_bcs SOURCES test_proto_bcs.c LIBS cx_proto)
cx_add_test(test_proto_statement SOURCES test_proto_statement.c LIBS cx_proto)
