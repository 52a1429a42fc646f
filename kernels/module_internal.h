/* module_internal.h — what kernels/ shares about its run-time modules (the MPI and NCCL
 * communicators): where a module is looked for, and its dlopen(). */
#ifndef CX_KERNELS_MODULE_INTERNAL_H
#define CX_KERNELS_MODULE_INTERNAL_H

#include <stddef.h>

/* dlopen() the module named file: $env alone when it is set; else beside the executable, in
 * ../lib/cloakx of it, and build_path (where this build wrote it). flags: dlopen's. NULL when
 * none loads: *why says why (dlerror's text, or "not found") and looked (cap bytes) where it
 * looked. */
void *cx_module_open(const char *file, const char *env, const char *build_path, int flags,
                     const char **why, char *looked, size_t cap);

#endif
