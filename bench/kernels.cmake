# kernels/ micro-benchmarks (task D): the CPU backend's split GEMM beside plain cblas_sgemm,
# fused element-wise kernels beside memcpy, and the DP-SGD noise generator.
cx_add_bench(bench_kernels SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_kernels.cc
             LIBS cx_kernels cx_dep_blas)
