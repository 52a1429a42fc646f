# Tests of the cuda backend: every op and whole training runs against the cpu backend (label gpu;
# exit 77 = skipped without a GPU), device selection with its cpu fallback, bench/gpu-check.sh
# failing fast and clearly on a machine without a GPU, and the decrypt pipeline's pinned buffers /
# CPU binding for the chosen GPU (engine/device_pipeline.c). Label cuda: a unit test that runs
# everywhere and takes its GPU branch when a GPU is there (gpu-check.sh runs those too).
cx_add_test(test_kernels_cuda_parity SOURCES test_kernels_cuda_parity.c LIBS cx_kernels
            LABELS gpu TIMEOUT 600)
# The parity harness itself against a second cpu backend (other thread count), everywhere: it
# proves nothing about CUDA, but a harness bug must not be found first on a rationed GPU run.
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/work/test_kernels_cuda_parity_harness)
add_test(NAME test_kernels_cuda_parity_harness COMMAND test_kernels_cuda_parity
         WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/work/test_kernels_cuda_parity_harness)
# (its impossible 2^52-byte allocation must come back as NULL under ASan too, not abort)
set_tests_properties(test_kernels_cuda_parity_harness PROPERTIES LABELS unit TIMEOUT 300
  ENVIRONMENT "CX_PARITY_AGAINST=cpu;ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1")
cx_add_test(test_kernels_device_select SOURCES test_kernels_device_select.c LIBS cx_kernels
            LABELS unit cuda)
cx_add_script_test(test_kernels_cuda_gpucheck_nogpu
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_kernels_cuda_gpucheck_nogpu.sh
  LABELS unit TIMEOUT 60)
cx_add_test(test_engine_device_pipeline SOURCES test_engine_device_pipeline.c LIBS cx_engine
            LABELS unit cuda)
if(CLOAKX_HAVE_CUDA)
  # bench/gpu-kit.sh packages this build for a GPU machine that cannot build it
  cx_add_script_test(test_kernels_cuda_gpukit
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_kernels_cuda_gpukit.sh
    LABELS integration TIMEOUT 300)
endif()
if(CLOAKX_HAVE_CUDA)
  # The cuda backend is a module loaded on first need (kernels/cuda_loader.c), checked here with
  # a stand-in driver so that it runs on machines without a GPU.
  add_library(cx_fake_libcuda SHARED fixtures/fake_libcuda.c)
  set_target_properties(cx_fake_libcuda PROPERTIES OUTPUT_NAME cuda SUFFIX ".so.1"
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fake_driver)
  cx_add_test(test_kernels_cuda_module SOURCES test_kernels_cuda_module.c LIBS cx_kernels
              LABELS unit)
  target_compile_definitions(test_kernels_cuda_module PRIVATE
    CX_FAKE_DRIVER="$<TARGET_FILE:cx_fake_libcuda>")
  add_dependencies(test_kernels_cuda_module cx_fake_libcuda)
  set_tests_properties(test_kernels_cuda_module PROPERTIES
    ENVIRONMENT "LD_LIBRARY_PATH=${CMAKE_CURRENT_BINARY_DIR}/fake_driver")
endif()
# NCCL (issue 17): what can be checked without a GPU, everywhere (the fallbacks to the host
# path, the module's table and its link to libnccl); and on a GPU one rank's NCCL all-reduce
# and training against the host path (label gpu: skipped without a GPU or without NCCL).
cx_add_test(test_kernels_nccl SOURCES test_kernels_nccl.c LIBS cx_kernels LABELS unit)
cx_add_test(test_kernels_nccl_gpu SOURCES test_kernels_nccl_gpu.c LIBS cx_kernels LABELS gpu
            TIMEOUT 300)
if(CLOAKX_HAVE_NCCL)
  target_compile_definitions(test_kernels_nccl PRIVATE
    CX_NCCL_MODULE="$<TARGET_FILE:cloakx_nccl>" CX_CUDA_MODULE="$<TARGET_FILE:cloakx_cuda>")
  target_link_libraries(test_kernels_nccl PRIVATE ${CMAKE_DL_LIBS})
endif()
cx_add_script_test(test_kernels_nccl_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/test_kernels_nccl_cli.sh
                   LABELS e2e TIMEOUT 120)
