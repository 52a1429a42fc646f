# Fuzz targets of proto/: the BCS reader (every value read writes back to the same bytes) and
# the result statement decoder (what it accepts re-encodes to the input).
cx_add_fuzz(proto_bcs SOURCES fuzz_proto_bcs.c LIBS cx_proto)
cx_add_fuzz(proto_statement SOURCES fuzz_proto_statement.c LIBS cx_proto)
