# kernels/ micro-benchmarks: the CPU backend's split GEMM beside plain cblas_sgemm,
# fused element-wise kernels beside memcpy, and the DP-SGD noise generator.
cx_add_bench(bench_kernels SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_kernels.cc
             LIBS cx_kernels cx_dep_blas)
# Smoke runs of `cloakx bench train` (the figures stay out of the tests): the reference run on
# few rows without the PyTorch peer, and one point of the sweep.
add_test(NAME cloakx_bench_train_smoke
         COMMAND cloakx bench train --rows 4096 --epochs 2 --threads 2 --peer none --json)
add_test(NAME cloakx_bench_train_sweep_smoke
         COMMAND cloakx bench train --sweep --sizes 64 --threads 1 --peer none)
set_tests_properties(cloakx_bench_train_smoke cloakx_bench_train_sweep_smoke
                     PROPERTIES LABELS unit TIMEOUT 300)
