# Tests of io/ sealed blobs, HPKE, keys and the decryption pipeline, and the
# keygen / seal / unseal / bench decrypt command lines.
cx_add_test(test_io_hpke SOURCES test_io_hpke.c LIBS cx_io)
cx_add_test(test_io_keys SOURCES test_io_keys.c LIBS cx_io)
cx_add_test(test_io_cxb_roundtrip SOURCES test_io_cxb_roundtrip.c LIBS cx_io)
cx_add_test(test_io_cxb_tamper SOURCES test_io_cxb_tamper.c LIBS cx_io)
# The pipeline's default buffers: one secure ring, wiped and released after the run.
cx_add_test(test_io_pipeline_secure_ring SOURCES test_io_pipeline_secure_ring.c LIBS cx_io)
cx_add_test(test_io_cxb_kat SOURCES test_io_cxb_kat.c LIBS cx_io)
# Suite 2: the data key from a key object in the header (Seal), known to the reader by header hash.
cx_add_test(test_io_cxb_key_object SOURCES test_io_cxb_key_object.c LIBS cx_io)
cx_add_test(test_io_cxb_store SOURCES test_io_cxb_store.c LIBS cx_io LABELS integration)
cx_add_test(test_io_cxb_large SOURCES test_io_cxb_large.c LIBS cx_io
            LABELS "integration;slow" TIMEOUT 900)
cx_add_script_test(test_io_cli_seal COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_io_cli_seal.sh
                   LABELS integration)
cx_add_script_test(test_io_cli_seal_pipe_limit
                   COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_io_cli_seal_pipe_limit.sh
                   LABELS "integration;slow" TIMEOUT 300)
