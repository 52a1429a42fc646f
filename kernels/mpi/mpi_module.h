/* mpi_module.h — the one entry point of the MPI communicator module (libcloakx_mpi.so), which
 * cx_kernels loads with dlopen() only when a job runs across ranks. */
#ifndef CX_MPI_MODULE_H
#define CX_MPI_MODULE_H

#include "cx_kernels.h"

/* Linked into cx_kernels, libmpi would be a dependency of every binary: `cloakx` would not
 * start where Open MPI is not installed, and the fallback to one process would be impossible.
 * As a module it is loaded on first need and its absence is an ordinary error. */
#define CX_MPI_MODULE_FILE "libcloakx_mpi.so"
#define CX_MPI_MODULE_SYMBOL "cx_mpi_module_create"
/* Bumped whenever cx_comm changes shape: a module from another build is refused. */
#define CX_MPI_MODULE_ABI 3

/* Creates the MPI_COMM_WORLD communicator; abi and comm_size (sizeof(cx_comm)) of the caller's
 * build must match the module's. */
typedef cx_err (*cx_mpi_module_fn)(int abi, size_t comm_size, cx_comm **out, cx_error *e);

#endif
