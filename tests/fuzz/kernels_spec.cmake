# Fuzz target of kernels/: the job-spec parser.
cx_add_fuzz(kernels_spec SOURCES fuzz_kernels_spec.c LIBS cx_kernels)
