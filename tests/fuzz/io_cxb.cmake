# Fuzz target of io/ sealed blobs: the .cxb header parser and the chunk reader.
cx_add_fuzz(io_cxb SOURCES fuzz_io_cxb.c LIBS cx_io)
target_compile_definitions(fuzz_io_cxb PRIVATE CX_TESTDATA="${PROJECT_SOURCE_DIR}/tests/data")
