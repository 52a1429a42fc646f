# Fuzz target of engine/'s marketplace inputs: job requests and result bundles (verify).
cx_add_fuzz(engine_job SOURCES fuzz_engine_job.c LIBS cx_engine)
