/* store_local.c — the local:DIR blob store: content-addressed files (SHA-256, base64url),
 * fan-out directories, writes through DIR/.tmp + fsync + rename so readers never see half. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define LOCAL_IO_CHUNK (1u << 20)

typedef struct local_store {
    char *dir;
    char *tmpdir;
} local_store;

static char *path_join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
    char *p = malloc(n);
    if (!p)
        return NULL;
    if (c)
        snprintf(p, n, "%s/%s/%s", a, b, c);
    else
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* DIR/<first two id chars>/<id>: 4096 fan-out directories keep each one small. */
static char *blob_path(const local_store *ls, const char *id, char fan[3])
{
    fan[0] = id[0];
    fan[1] = id[1];
    fan[2] = 0;
    return path_join3(ls->dir, fan, id);
}

static cx_err local_put(cx_store *s, cx_reader *src, char id[CX_STORE_ID_MAX], cx_error *e)
{
    local_store *ls = s->impl;
    cx_err rc = CX_OK;
    char *tmp = path_join3(ls->tmpdir, "put-XXXXXX", NULL);
    uint8_t *buf = malloc(LOCAL_IO_CHUNK);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    char *final = NULL, *fandir = NULL;
    int fd = -1;
    if (!tmp || !buf || !md) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "local store put");
        goto out;
    }
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 init");
        goto out;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = cx_error_errno(e, CX_ERR_IO, errno, "create temporary file in %s", ls->tmpdir);
        goto out;
    }
    for (;;) {
        size_t got = 0;
        rc = src->read(src->ctx, buf, LOCAL_IO_CHUNK, &got, e);
        if (rc != CX_OK) {
            cx_error_prefix(e, "local store put: reading input: ");
            goto out;
        }
        if (got == 0)
            break;
        if (EVP_DigestUpdate(md, buf, got) != 1) {
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 update");
            goto out;
        }
        rc = cx_write_full(fd, buf, got, e);
        if (rc != CX_OK) {
            cx_error_prefix(e, "local store put: %s: ", tmp);
            goto out;
        }
    }
    uint8_t dig[32];
    unsigned dlen = 0;
    if (EVP_DigestFinal_ex(md, dig, &dlen) != 1 || dlen != 32) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 final");
        goto out;
    }
    rc = cx_base64url_encode(dig, sizeof dig, id, CX_STORE_ID_MAX, e);
    if (rc != CX_OK)
        goto out;
    if (fsync(fd) != 0) {
        rc = cx_error_errno(e, CX_ERR_IO, errno, "fsync %s", tmp);
        goto out;
    }
    int crc = close(fd);
    fd = -1;
    if (crc != 0) {
        rc = cx_error_errno(e, CX_ERR_IO, errno, "close %s", tmp);
        goto out;
    }
    char fan[3];
    final = blob_path(ls, id, fan);
    fandir = path_join3(ls->dir, fan, NULL);
    if (!final || !fandir) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "local store put");
        goto out;
    }
    if (mkdir(fandir, 0700) != 0 && errno != EEXIST) {
        rc = cx_error_errno(e, CX_ERR_IO, errno, "mkdir %s", fandir);
        goto out;
    }
    /* Same content = same name: a concurrent writer of the same blob renames an identical
     * file over ours, which readers cannot tell apart. */
    if (rename(tmp, final) != 0) {
        rc = cx_error_errno(e, CX_ERR_IO, errno, "rename %s to %s", tmp, final);
        goto out;
    }
    tmp[0] = 0; /* renamed: nothing to clean up */
    rc = cx_fsync_dir(fandir, e);
out:
    if (fd >= 0)
        close(fd);
    if (tmp && tmp[0] && rc != CX_OK)
        unlink(tmp);
    free(tmp);
    free(buf);
    free(final);
    free(fandir);
    EVP_MD_CTX_free(md);
    return rc;
}

typedef struct local_reader {
    int fd;
    EVP_MD_CTX *md; /* only when verifying */
    char id[CX_STORE_ID_MAX];
} local_reader;

static cx_err local_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    local_reader *r = ctx;
    *got = 0;
    if (len == 0)
        return CX_OK;
    for (;;) {
        ssize_t n = read(r->fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cx_error_errno(e, CX_ERR_IO, errno, "local blob %s: read", r->id);
        }
        *got = (size_t)n;
        break;
    }
    if (!r->md)
        return CX_OK;
    if (*got > 0) {
        if (EVP_DigestUpdate(r->md, buf, *got) != 1)
            return cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 update");
        return CX_OK;
    }
    uint8_t dig[32];
    unsigned dlen = 0;
    char have[CX_STORE_ID_MAX];
    if (EVP_DigestFinal_ex(r->md, dig, &dlen) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 final");
    EVP_MD_CTX_free(r->md);
    r->md = NULL;
    if (cx_base64url_encode(dig, 32, have, sizeof have, e) != CX_OK)
        return CX_ERR_INTERNAL;
    if (strcmp(have, r->id) != 0)
        return cx_error_set(e, CX_ERR_AUTH, "local blob %s is corrupt: its content hashes to %s",
                            r->id, have);
    return CX_OK;
}

static void local_reader_close(void *ctx)
{
    local_reader *r = ctx;
    if (!r)
        return;
    close(r->fd);
    EVP_MD_CTX_free(r->md);
    free(r);
}

static cx_err local_open_blob(local_store *ls, const char *id, int *fd, cx_error *e)
{
    char fan[3];
    char *p = blob_path(ls, id, fan);
    if (!p)
        return cx_error_set(e, CX_ERR_NOMEM, "local store");
    *fd = open(p, O_RDONLY | O_CLOEXEC);
    int err = errno;
    free(p);
    if (*fd < 0) {
        if (err == ENOENT)
            return cx_error_set(e, CX_ERR_NOTFOUND, "blob %s not found in local store %s", id,
                                ls->dir);
        return cx_error_errno(e, CX_ERR_IO, err, "local store %s: open blob %s", ls->dir, id);
    }
    return CX_OK;
}

static cx_err local_get(cx_store *s, const char *id, cx_reader *out, cx_error *e)
{
    local_store *ls = s->impl;
    local_reader *r = calloc(1, sizeof *r);
    if (!r)
        return cx_error_set(e, CX_ERR_NOMEM, "local store get");
    snprintf(r->id, sizeof r->id, "%s", id);
    cx_err rc = local_open_blob(ls, id, &r->fd, e);
    if (rc != CX_OK) {
        free(r);
        return rc;
    }
    if (s->opt.verify) {
        r->md = EVP_MD_CTX_new();
        if (!r->md || EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1) {
            local_reader_close(r);
            return cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 init");
        }
    }
    out->read = local_read;
    out->close = local_reader_close;
    out->ctx = r;
    return CX_OK;
}

static cx_err local_stat(cx_store *s, const char *id, cx_store_info *st, cx_error *e)
{
    int fd = -1; /* set by local_open_blob on success; -O3 cannot see that */
    cx_err rc = local_open_blob(s->impl, id, &fd, e);
    if (rc != CX_OK)
        return rc;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        rc = cx_error_errno(e, CX_ERR_IO, errno, "stat blob %s", id);
        close(fd);
        return rc;
    }
    close(fd);
    st->size = (uint64_t)sb.st_size;
    st->is_manifest = 0;
    st->parts = 1;
    return CX_OK;
}

static void local_free(cx_store *s)
{
    local_store *ls = s->impl;
    if (!ls)
        return;
    free(ls->dir);
    free(ls->tmpdir);
    free(ls);
}

static const cx_store_ops local_ops = {
    .kind = "local", .put = local_put, .get = local_get, .stat = local_stat, .free = local_free};

cx_err cx_store_local_open(cx_store *s, const char *dir, cx_error *e)
{
    if (!dir || !dir[0])
        return cx_error_set(e, CX_ERR_ARG, "store URL local:DIR needs a directory");
    local_store *ls = calloc(1, sizeof *ls);
    if (!ls)
        return cx_error_set(e, CX_ERR_NOMEM, "local store");
    ls->dir = strdup(dir);
    ls->tmpdir = path_join3(dir, ".tmp", NULL);
    if (!ls->dir || !ls->tmpdir) {
        free(ls->dir);
        free(ls->tmpdir);
        free(ls);
        return cx_error_set(e, CX_ERR_NOMEM, "local store");
    }
    cx_err rc = cx_mkdir_p(ls->tmpdir, 0700, e);
    if (rc != CX_OK) {
        cx_error_prefix(e, "local store %s: ", dir);
        free(ls->dir);
        free(ls->tmpdir);
        free(ls);
        return rc;
    }
    s->ops = &local_ops;
    s->impl = ls;
    return CX_OK;
}
