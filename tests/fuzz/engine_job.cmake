# Fuzz target of engine/'s marketplace inputs: job requests (written by buyers, read by the
# worker) and result bundles (read and verified offline by `cloakx verify`).
cx_add_fuzz(engine_job SOURCES fuzz_engine_job.c LIBS cx_engine)
