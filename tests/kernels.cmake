# Tests of kernels/ (task D): gradient checks, DP-SGD clipping, spec errors, metrics,
# training determinism, model quality against scikit-learn, and the train/predict commands.
cx_add_test(test_kernels_gradcheck SOURCES test_kernels_gradcheck.c LIBS cx_kernels)
cx_add_test(test_kernels_spec SOURCES test_kernels_spec.c LIBS cx_kernels)
cx_add_test(test_kernels_metrics SOURCES test_kernels_metrics.c LIBS cx_kernels)
cx_add_test(test_kernels_quality SOURCES test_kernels_quality.c LIBS cx_kernels
            LABELS integration)
