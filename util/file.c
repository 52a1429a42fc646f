/* file.c — file helpers that never leave a half-written file behind: atomic replace
 * (temp + fsync + rename + fsync of the directory), bounded whole-file reads, mkdir -p. */
#include "cx_util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
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

cx_err cx_atomic_open(cx_atomic_file *f, const char *path, mode_t mode, cx_error *e)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    size_t n = strlen(path) + 32;
    f->path = strdup(path);
    f->tmp_path = malloc(n);
    if (!f->path || !f->tmp_path) {
        free(f->path);
        free(f->tmp_path);
        f->path = f->tmp_path = NULL;
        return cx_error_set(e, CX_ERR_NOMEM, "atomic write of %s", path);
    }
    snprintf(f->tmp_path, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        int err = errno;
        free(f->path);
        free(f->tmp_path);
        f->path = f->tmp_path = NULL;
        return cx_error_errno(e, CX_ERR_IO, err, "cannot create a file next to %s", path);
    }
    if (fchmod(fd, mode) != 0) {
        int err = errno;
        close(fd);
        unlink(f->tmp_path);
        free(f->path);
        free(f->tmp_path);
        f->path = f->tmp_path = NULL;
        return cx_error_errno(e, CX_ERR_IO, err, "chmod of temporary file for %s", path);
    }
    f->fd = fd;
    return CX_OK;
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
    free(f->path);
    free(f->tmp_path);
    f->fd = -1;
    f->path = f->tmp_path = NULL;
}

cx_err cx_atomic_commit(cx_atomic_file *f, cx_error *e)
{
    if (f->fd < 0)
        return cx_error_set(e, CX_ERR_STATE, "atomic write: file is not open");
    if (fsync(f->fd) != 0) {
        cx_error_errno(e, CX_ERR_IO, errno, "fsync %s", f->tmp_path);
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
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
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
