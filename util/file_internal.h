/* file_internal.h — util-internal knobs of the atomic-file code, for util/ and its tests only:
 * lets a test force the named-temporary fallback used where O_TMPFILE is refused. */
#ifndef CX_FILE_INTERNAL_H
#define CX_FILE_INTERNAL_H

#include "cx_util.h"

/* Skip O_TMPFILE and use the named mkstemp temporary, as on a filesystem without it. */
#define CX_ATOMIC_NO_TMPFILE 1u

cx_err cx_atomic_open_flags(cx_atomic_file *f, const char *path, mode_t mode, unsigned flags,
                            cx_error *e);

#endif
