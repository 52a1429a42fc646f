# Tests of kernels/: gradient checks, DP-SGD clipping, spec errors, metrics, training determinism,
# model quality against scikit-learn, the train/predict commands, the Rényi-DP accountant
# (Opacus' published values), `cloakx privacy`, and safetensors model files.
cx_add_test(test_kernels_gradcheck SOURCES test_kernels_gradcheck.c LIBS cx_kernels)
cx_add_test(test_kernels_spec SOURCES test_kernels_spec.c LIBS cx_kernels)
cx_add_test(test_kernels_metrics SOURCES test_kernels_metrics.c LIBS cx_kernels)
cx_add_test(test_kernels_quality SOURCES test_kernels_quality.c LIBS cx_kernels
            LABELS integration)
cx_add_test(test_kernels_train SOURCES test_kernels_train.c LIBS cx_kernels)
cx_add_test(test_kernels_gemm SOURCES test_kernels_gemm.c LIBS cx_kernels)
cx_add_test(test_kernels_gauss SOURCES test_kernels_gauss.c LIBS cx_kernels)
cx_add_script_test(test_kernels_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_kernels_cli.sh
                   LABELS e2e)

cx_add_test(test_kernels_privacy_accountant SOURCES test_kernels_privacy_accountant.c
            LIBS cx_kernels LABELS unit)
# The DP standardisation's noise scale (statistical) and clipping.
cx_add_test(test_kernels_dp_standardize SOURCES test_kernels_dp_standardize.c LIBS cx_kernels m
            LABELS unit)
cx_add_test(test_kernels_safetensors_format SOURCES test_kernels_safetensors_format.c
            LIBS cx_kernels LABELS unit)
cx_add_test(test_kernels_safetensors_numpy SOURCES test_kernels_safetensors_numpy.c
            LIBS cx_kernels LABELS integration)
cx_add_script_test(test_cli_privacy COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_privacy.sh
                   LABELS unit)

# Data-parallel training across ranks (issue 17): the communicators, and under mpirun 2, 3 and 4
# ranks against one process (test_kernels_mpi.sh; skipped where MPI or mpirun is absent).
cx_add_test(test_kernels_comm SOURCES test_kernels_comm.c LIBS cx_kernels)
# A job's blobs assigned to ranks balanced by bytes (LPT): the rule, determinism, the bounds.
cx_add_test(test_kernels_comm_assign SOURCES test_kernels_comm_assign.c LIBS cx_kernels
            LABELS unit)
add_executable(test_kernels_mpi_train test_kernels_mpi_train.c)
target_link_libraries(test_kernels_mpi_train PRIVATE cx_kernels)
target_compile_options(test_kernels_mpi_train PRIVATE ${CX_WARN_FLAGS})
target_compile_definitions(test_kernels_mpi_train PRIVATE _GNU_SOURCE)
cx_add_script_test(test_kernels_mpi COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_kernels_mpi.sh
                   $<TARGET_FILE:test_kernels_mpi_train> LABELS integration TIMEOUT 120)
cx_add_script_test(test_kernels_mpi_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_kernels_mpi_cli.sh
                   LABELS e2e TIMEOUT 120)
