# Fuzz targets of the data parsers: CSV, JSONL and f32, whole vs chunked (one source).
cx_add_fuzz(parse_csv SOURCES fuzz_parse.c LIBS cx_io)
target_compile_definitions(fuzz_parse_csv PRIVATE FUZZ_FORMAT=CX_DATA_CSV)
cx_add_fuzz(parse_jsonl SOURCES fuzz_parse.c LIBS cx_io)
target_compile_definitions(fuzz_parse_jsonl PRIVATE FUZZ_FORMAT=CX_DATA_JSONL)
cx_add_fuzz(parse_f32 SOURCES fuzz_parse.c LIBS cx_io)
target_compile_definitions(fuzz_parse_f32 PRIVATE FUZZ_FORMAT=CX_DATA_F32)
