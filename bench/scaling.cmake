# Scaling across ranks (issue 17): the gradient all-reduce's time, plain MPI beside the sealed
# ring, for the model in kernels/README.md; bench/scaling_mpi.sh runs it under mpirun. The smoke
# run is one rank (every collective the identity): the tool builds and runs, no figure checked.
add_executable(bench_allreduce ${CMAKE_CURRENT_SOURCE_DIR}/bench_allreduce.c)
target_link_libraries(bench_allreduce PRIVATE cx_engine cx_kernels)
target_compile_options(bench_allreduce PRIVATE ${CX_WARN_FLAGS})
add_test(NAME bench_allreduce_smoke COMMAND bench_allreduce --reps 3 1000 85002)
set_tests_properties(bench_allreduce_smoke PROPERTIES LABELS unit TIMEOUT 60)
