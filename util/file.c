/* file.c — file helpers that never leave a half-written file behind: atomic replace
 * (unnamed O_TMPFILE + fsync + link + rename + fsync of the directory), bounded reads, mkdir -p. */
#include "cx_util.h"
#include "file_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

cx_err cx_write_full(int fd, const void *buf, size_t len, cx_error *e)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cx_error_errno(e, CX_ERR_IO, errno, "write");
        }
        p += n;
        len -= (size_t)n;
    }
    return CX_OK;
}

cx_err cx_read_full(int fd, void *buf, size_t len, size_t *got, cx_error *e)
{
    uint8_t *p = buf;
    size_t total = 0;
    while (total < len) {
        ssize_t n = read(fd, p + total, len - total);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (got)
                *got = total;
            return cx_error_errno(e, CX_ERR_IO, errno, "read");
        }
        if (n == 0)
            break;
        total += (size_t)n;
    }
    if (got)
        *got = total;
    return CX_OK;
}

cx_err cx_fsync_dir(const char *path, cx_error *e)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return cx_error_errno(e, CX_ERR_IO, errno, "open directory %s", path);
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    /* Some filesystems cannot fsync a directory; that is not a data-loss error. */
    if (rc != 0 && err != EINVAL && err != EROFS)
        return cx_error_errno(e, CX_ERR_IO, err, "fsync directory %s", path);
    return CX_OK;
}

static char *dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *d = strdup(dirname(copy));
    free(copy);
    return d;
}

/* Unique name next to path for the moment between linkat and rename (and for the fallback). */
static cx_err tmp_name(char *out, size_t n, const char *path, cx_error *e)
{
    uint8_t rnd[8];
    ssize_t got = getrandom(rnd, sizeof rnd, 0);
    if (got != (ssize_t)sizeof rnd)
        return cx_error_errno(e, CX_ERR_IO, got < 0 ? errno : EIO, "getrandom");
    char hex[2 * sizeof rnd + 1];
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    snprintf(out, n, "%s.tmp.%s", path, hex);
    return CX_OK;
}

static void atomic_release(cx_atomic_file *f)
{
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    f->fd = -1;
}

cx_err cx_atomic_open_flags(cx_atomic_file *f, const char *path, mode_t mode, unsigned flags,
                            cx_error *e)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = strdup(path);
    if (!f->path)
        return cx_error_set(e, CX_ERR_NOMEM, "atomic write of %s", path);
    int fd = -1;
    if (!(flags & CX_ATOMIC_NO_TMPFILE)) {
        /* An unnamed file dies with its last descriptor, so a writer killed before commit
         * leaves nothing (possibly plaintext) behind; it gets a name only at commit. */
        char *dir = dir_of(path);
        if (!dir) {
            atomic_release(f);
            return cx_error_set(e, CX_ERR_NOMEM, "atomic write of %s", path);
        }
        fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode & 0777);
        int err = errno;
        free(dir);
        if (fd < 0 && err != EOPNOTSUPP && err != EISDIR && err != EINVAL) {
            atomic_release(f);
            return cx_error_errno(e, CX_ERR_IO, err, "cannot create a file next to %s", path);
        }
    }
    if (fd < 0) {
        /* The filesystem has no O_TMPFILE: a named temporary, removed on abort. */
        size_t n = strlen(path) + 32;
        f->tmp_path = malloc(n);
        if (!f->tmp_path) {
            atomic_release(f);
            return cx_error_set(e, CX_ERR_NOMEM, "atomic write of %s", path);
        }
        snprintf(f->tmp_path, n, "%s.tmp.XXXXXX", path);
        fd = mkstemp(f->tmp_path);
        if (fd < 0) {
            int err = errno;
            atomic_release(f);
            return cx_error_errno(e, CX_ERR_IO, err, "cannot create a file next to %s", path);
        }
    }
    if (fchmod(fd, mode) != 0) {
        int err = errno;
        close(fd);
        if (f->tmp_path)
            unlink(f->tmp_path);
        atomic_release(f);
        return cx_error_errno(e, CX_ERR_IO, err, "chmod of temporary file for %s", path);
    }
    f->fd = fd;
    return CX_OK;
}

cx_err cx_atomic_open(cx_atomic_file *f, const char *path, mode_t mode, cx_error *e)
{
    return cx_atomic_open_flags(f, path, mode, 0, e);
}

cx_err cx_atomic_write(cx_atomic_file *f, const void *buf, size_t len, cx_error *e)
{
    if (f->fd < 0)
        return cx_error_set(e, CX_ERR_STATE, "atomic write: file is not open");
    cx_err rc = cx_write_full(f->fd, buf, len, e);
    if (rc != CX_OK)
        cx_error_prefix(e, "%s: ", f->path);
    return rc;
}

void cx_atomic_abort(cx_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp_path)
        unlink(f->tmp_path);
    atomic_release(f);
}

/* Give the unnamed file a unique temporary name (retrying on a clash). */
static cx_err link_tmpfile(cx_atomic_file *f, cx_error *e)
{
    size_t n = strlen(f->path) + 32;
    f->tmp_path = malloc(n);
    if (!f->tmp_path)
        return cx_error_set(e, CX_ERR_NOMEM, "atomic write of %s", f->path);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
    cx_err rc = CX_ERR_IO;
    int tries = 0;
    for (; tries < 16; tries++) {
        if ((rc = tmp_name(f->tmp_path, n, f->path, e)) != CX_OK)
            break;
        if (linkat(AT_FDCWD, proc, AT_FDCWD, f->tmp_path, AT_SYMLINK_FOLLOW) == 0)
            return CX_OK;
        int err = errno;
        /* without /proc, AT_EMPTY_PATH does the same (it needs CAP_DAC_READ_SEARCH) */
        if (err == ENOENT && linkat(f->fd, "", AT_FDCWD, f->tmp_path, AT_EMPTY_PATH) == 0)
            return CX_OK;
        if (err != EEXIST) {
            rc = cx_error_errno(e, CX_ERR_IO, err, "naming the temporary file for %s", f->path);
            break;
        }
    }
    if (tries == 16)
        rc = cx_error_set(e, CX_ERR_IO, "naming the temporary file for %s: no free name", f->path);
    free(f->tmp_path);
    f->tmp_path = NULL; /* nothing was linked: nothing to unlink */
    return rc;
}

cx_err cx_atomic_commit(cx_atomic_file *f, cx_error *e)
{
    if (f->fd < 0)
        return cx_error_set(e, CX_ERR_STATE, "atomic write: file is not open");
    if (fsync(f->fd) != 0) {
        cx_error_errno(e, CX_ERR_IO, errno, "fsync of the temporary file for %s", f->path);
        cx_atomic_abort(f);
        return CX_ERR_IO;
    }
    if (!f->tmp_path && link_tmpfile(f, e) != CX_OK) {
        cx_atomic_abort(f);
        return CX_ERR_IO;
    }
    if (close(f->fd) != 0) {
        f->fd = -1;
        cx_error_errno(e, CX_ERR_IO, errno, "close %s", f->tmp_path);
        cx_atomic_abort(f);
        return CX_ERR_IO;
    }
    f->fd = -1;
    if (rename(f->tmp_path, f->path) != 0) {
        cx_error_errno(e, CX_ERR_IO, errno, "rename %s to %s", f->tmp_path, f->path);
        cx_atomic_abort(f);
        return CX_ERR_IO;
    }
    char *dir = dir_of(f->path);
    cx_err rc = dir ? cx_fsync_dir(dir, e) : cx_error_set(e, CX_ERR_NOMEM, "dirname");
    free(dir);
    atomic_release(f);
    return rc;
}

cx_err cx_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
                            cx_error *e)
{
    cx_atomic_file f;
    cx_err rc = cx_atomic_open(&f, path, mode, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_atomic_write(&f, buf, len, e);
    if (rc != CX_OK) {
        cx_atomic_abort(&f);
        return rc;
    }
    return cx_atomic_commit(&f, e);
}

cx_err cx_file_read_all(const char *path, size_t max, uint8_t **buf, size_t *len, cx_error *e)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cx_error_errno(e, errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO, errno, "open %s",
                              path);
    /* Read at most max + 1 bytes so that a file of exactly max bytes is accepted. */
    size_t cap = max < 4096 ? max + 1 : 4096, n = 0;
    uint8_t *p = malloc(cap + 1);
    cx_err rc = CX_OK;
    if (!p) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "reading %s", path);
        goto out;
    }
    for (;;) {
        if (n == cap) {
            if (n > max) {
                rc = cx_error_set(e, CX_ERR_LIMIT, "%s is larger than the limit of %zu bytes",
                                  path, max);
                goto out;
            }
            size_t ncap = cap > max / 2 ? max + 1 : cap * 2;
            uint8_t *q = realloc(p, ncap + 1);
            if (!q) {
                rc = cx_error_set(e, CX_ERR_NOMEM, "reading %s", path);
                goto out;
            }
            p = q;
            cap = ncap;
        }
        ssize_t r = read(fd, p + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = cx_error_errno(e, CX_ERR_IO, errno, "read %s", path);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max) {
        rc = cx_error_set(e, CX_ERR_LIMIT, "%s is larger than the limit of %zu bytes", path, max);
        goto out;
    }
    p[n] = '\0';
    *buf = p;
    *len = n;
    p = NULL;
out:
    free(p);
    close(fd);
    return rc;
}

cx_err cx_mkdir_p(const char *path, mode_t mode, cx_error *e)
{
    char *copy = strdup(path);
    if (!copy)
        return cx_error_set(e, CX_ERR_NOMEM, "mkdir %s", path);
    for (char *p = copy + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, mode) != 0 && errno != EEXIST) {
                cx_err rc = cx_error_errno(e, CX_ERR_IO, errno, "mkdir %s", copy);
                free(copy);
                return rc;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(copy);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cx_error_set(e, CX_ERR_IO, "%s exists and is not a directory", path);
    return CX_OK;
}
