# Tests of kernels/: gradient checks, DP-SGD clipping, spec errors, metrics,
# training determinism, model quality against scikit-learn, and the train/predict commands.
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
