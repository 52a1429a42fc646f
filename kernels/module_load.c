/* module_load.c — finds and loads the run-time modules of kernels/ (libcloakx_mpi.so,
 * libcloakx_nccl.so) by one rule, so that an install and a build tree behave alike. */
#include "module_internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *cx_module_open(const char *file, const char *env, const char *build_path, int flags,
                     const char **why, char *looked, size_t cap)
{
    char paths[3][PATH_MAX];
    int n = 0;
    const char *given = getenv(env);
    if (given && *given) {
        snprintf(paths[n++], PATH_MAX, "%s", given);
    } else {
        char exe[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        char *slash = len > 0 ? (exe[len] = '\0', strrchr(exe, '/')) : NULL;
        if (slash) {
            *slash = '\0';
            if (snprintf(paths[n], PATH_MAX, "%s/%s", exe, file) < PATH_MAX)
                n++;
            if (snprintf(paths[n], PATH_MAX, "%s/../lib/cloakx/%s", exe, file) < PATH_MAX)
                n++;
        }
        snprintf(paths[n++], PATH_MAX, "%s", build_path);
    }
    void *h = NULL;
    *why = "not found";
    for (int i = 0; i < n && !h; i++) {
        if (access(paths[i], R_OK) != 0)
            continue;
        h = dlopen(paths[i], flags);
        if (!h) {
            const char *d = dlerror(); /* e.g. libmpi.so.40 or libnccl.so.2 is not installed */
            *why = d ? d : "?";
        }
    }
    snprintf(looked, cap, "%s%s%s", paths[0], n > 1 ? " and " : "", n > 1 ? paths[n - 1] : "");
    return h;
}
