# Tests of kernels/: the Rényi-DP accountant (Opacus' published values), `cloakx
# privacy`, and safetensors model files (strict reader, writer, NumPy interoperability).
cx_add_test(test_kernels_privacy_accountant SOURCES test_kernels_privacy_accountant.c
            LIBS cx_kernels LABELS unit)
cx_add_test(test_kernels_safetensors_format SOURCES test_kernels_safetensors_format.c
            LIBS cx_kernels LABELS unit)
cx_add_test(test_kernels_safetensors_numpy SOURCES test_kernels_safetensors_numpy.c
            LIBS cx_kernels LABELS integration)
cx_add_script_test(test_cli_privacy COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_privacy.sh
                   LABELS unit)
