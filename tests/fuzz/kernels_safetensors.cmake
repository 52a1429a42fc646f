# Fuzz target of kernels/: the safetensors model-file reader (untrusted files).
cx_add_fuzz(kernels_safetensors SOURCES fuzz_kernels_safetensors.c LIBS cx_kernels)
