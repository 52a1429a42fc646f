/* keys.c — X25519 (receiving sealed data) and Ed25519 (signing) key pairs: generation via
 * EVP_PKEY, the one-line text files of io/FORMAT.md, secrets kept in cx_secmem memory. */
#include "cx_io.h"
#include "cxb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define TAG_X_SECRET "cloakx-x25519-secret-v1"
#define TAG_X_PUBLIC "cloakx-x25519-public-v1"
#define TAG_E_SECRET "cloakx-ed25519-secret-v1"
#define TAG_E_PUBLIC "cloakx-ed25519-public-v1"
#define KEY_FILE_MAX 256

/* Both key types are 32 secret bytes and 32 public bytes, the whole struct in secmem. */
struct cx_x25519_key {
    uint8_t sk[32];
    uint8_t pk[32];
};
struct cx_ed25519_key {
    uint8_t seed[32];
    uint8_t pk[32];
};

/* ------------------------------------------------------------ text files -- */

/* Parse "<tag> <base64 of 32 bytes>" with one optional trailing newline into out. */
static cx_err parse_key_line(const char *path, const char *tag, const uint8_t *buf, size_t len,
                             uint8_t out[32], cx_error *e)
{
    size_t tl = strlen(tag);
    if (len && buf[len - 1] == '\n')
        len--;
    if (len && buf[len - 1] == '\r')
        len--;
    if (len < tl + 1 || memcmp(buf, tag, tl) != 0 || buf[tl] != ' ')
        return cx_error_set(e, CX_ERR_FORMAT, "%s: not a %s file (expected '%s <base64>')",
                            path, tag, tag);
    uint8_t tmp[KEY_FILE_MAX]; /* room for any line's base64: a long one is FORMAT, not LIMIT */
    size_t got = 0;
    cx_err rc = cx_base64_decode((const char *)buf + tl + 1, len - tl - 1, tmp, sizeof tmp, &got,
                                 e);
    if (rc == CX_OK && got != 32)
        rc = cx_error_set(e, CX_ERR_FORMAT, "%s: key is %zu bytes, expected 32", path, got);
    if (rc == CX_OK)
        memcpy(out, tmp, 32);
    else
        cx_error_prefix(e, "%s: ", path);
    cx_memwipe(tmp, sizeof tmp);
    return rc;
}

/* Read a small key file into secure memory; secrets must not be readable by others. */
static cx_err read_key_file(const char *path, const char *tag, int secret, uint8_t out[32],
                            cx_error *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cx_error_errno(e, errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO, errno,
                              "opening key file %s", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return cx_error_errno(e, CX_ERR_IO, err, "stat %s", path);
    }
    if (!S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        close(fd);
        return cx_error_set(e, CX_ERR_FORMAT, "%s: not a key file (%s)", path,
                            S_ISREG(st.st_mode) ? "too large" : "not a regular file");
    }
    if (secret && (st.st_mode & 077)) {
        close(fd);
        return cx_error_set(e, CX_ERR_VERIFY,
                            "%s: secret key file is accessible by group/others (mode %03o); "
                            "chmod 600 it",
                            path, (unsigned)(st.st_mode & 0777));
    }
    uint8_t *buf = cx_secmem_alloc(KEY_FILE_MAX + 1, 0, e);
    if (!buf) {
        close(fd);
        return CX_ERR_NOMEM;
    }
    size_t got = 0;
    cx_err rc = cx_read_full(fd, buf, KEY_FILE_MAX + 1, &got, e);
    close(fd);
    if (rc == CX_OK && got > KEY_FILE_MAX)
        rc = cx_error_set(e, CX_ERR_FORMAT, "%s: key file too large", path);
    if (rc == CX_OK)
        rc = parse_key_line(path, tag, buf, got, out, e);
    cx_secmem_free(buf);
    return rc;
}

static cx_err write_key_file(const char *path, const char *tag, const uint8_t key[32], int secret,
                             cx_error *e)
{
    size_t cap = strlen(tag) + 1 + cx_base64_len(32, 0) + 2;
    char *buf = cx_secmem_alloc(cap, 0, e);
    if (!buf)
        return CX_ERR_NOMEM;
    size_t tl = strlen(tag);
    memcpy(buf, tag, tl);
    buf[tl] = ' ';
    cx_err rc = cx_base64_encode(key, 32, buf + tl + 1, cap - tl - 1, e);
    if (rc == CX_OK) {
        size_t n = strlen(buf);
        buf[n++] = '\n';
        rc = cx_file_write_atomic(path, buf, n, secret ? 0600 : 0644, e);
    }
    cx_secmem_free(buf);
    return rc;
}

/* ---------------------------------------------------------------- X25519 -- */

static cx_err x25519_new(const uint8_t sk[32], cx_x25519_key **out, cx_error *e)
{
    cx_x25519_key *k = cx_secmem_alloc(sizeof *k, 0, e);
    if (!k)
        return CX_ERR_NOMEM;
    memcpy(k->sk, sk, 32);
    cx_err rc = cx_x25519_public_from_secret(k->sk, k->pk, e);
    if (rc != CX_OK) {
        cx_secmem_free(k);
        return rc;
    }
    *out = k;
    return CX_OK;
}

cx_err cx_x25519_key_generate(cx_x25519_key **out, cx_error *e)
{
    uint8_t sk[32];
    if (RAND_priv_bytes(sk, sizeof sk) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "random X25519 key");
    cx_err rc = x25519_new(sk, out, e);
    cx_memwipe(sk, sizeof sk);
    return rc;
}

cx_err cx_x25519_key_from_secret(const uint8_t sk[32], cx_x25519_key **out, cx_error *e)
{
    return x25519_new(sk, out, e);
}

cx_err cx_x25519_key_load(const char *path, cx_x25519_key **out, cx_error *e)
{
    cx_x25519_key *k = cx_secmem_alloc(sizeof *k, 0, e);
    if (!k)
        return CX_ERR_NOMEM;
    cx_err rc = read_key_file(path, TAG_X_SECRET, 1, k->sk, e);
    if (rc == CX_OK)
        rc = cx_x25519_public_from_secret(k->sk, k->pk, e);
    if (rc != CX_OK) {
        cx_secmem_free(k);
        return rc;
    }
    *out = k;
    return CX_OK;
}

cx_err cx_x25519_key_save(const cx_x25519_key *k, const char *secret_path, const char *public_path,
                          cx_error *e)
{
    cx_err rc = write_key_file(secret_path, TAG_X_SECRET, k->sk, 1, e);
    if (rc == CX_OK && public_path)
        rc = write_key_file(public_path, TAG_X_PUBLIC, k->pk, 0, e);
    return rc;
}

const uint8_t *cx_x25519_key_public(const cx_x25519_key *k) { return k->pk; }
const uint8_t *cx_x25519_key_secret(const cx_x25519_key *k) { return k->sk; }

cx_err cx_x25519_public_key_id(const uint8_t pub[32], uint8_t id[32], cx_error *e)
{
    unsigned int len = 0;
    if (EVP_Digest(pub, 32, id, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 of public key");
    return CX_OK;
}

void cx_x25519_key_id(const cx_x25519_key *k, uint8_t id[32])
{
    /* SHA-256 of 32 bytes cannot fail short of a broken OpenSSL; zero id then never matches */
    if (cx_x25519_public_key_id(k->pk, id, NULL) != CX_OK)
        memset(id, 0, 32);
}

void cx_x25519_key_free(cx_x25519_key *k) { cx_secmem_free(k); }

cx_err cx_x25519_public_load(const char *path, uint8_t pub[32], cx_error *e)
{
    return read_key_file(path, TAG_X_PUBLIC, 0, pub, e);
}

cx_err cx_x25519_public_save(const char *path, const uint8_t pub[32], cx_error *e)
{
    return write_key_file(path, TAG_X_PUBLIC, pub, 0, e);
}

/* --------------------------------------------------------------- Ed25519 -- */

cx_err cx_ed25519_key_from_seed(const uint8_t seed[32], cx_ed25519_key **out, cx_error *e)
{
    cx_ed25519_key *k = cx_secmem_alloc(sizeof *k, 0, e);
    if (!k)
        return CX_ERR_NOMEM;
    memcpy(k->seed, seed, 32);
    cx_err rc = cx_ed25519_public_from_seed(k->seed, k->pk, e);
    if (rc != CX_OK) {
        cx_secmem_free(k);
        return rc;
    }
    *out = k;
    return CX_OK;
}

cx_err cx_ed25519_key_generate(cx_ed25519_key **out, cx_error *e)
{
    uint8_t seed[32];
    cx_err rc = cx_ed25519_seed_generate(seed, e);
    if (rc == CX_OK)
        rc = cx_ed25519_key_from_seed(seed, out, e);
    cx_memwipe(seed, sizeof seed);
    return rc;
}

cx_err cx_ed25519_key_load(const char *path, cx_ed25519_key **out, cx_error *e)
{
    uint8_t *seed = cx_secmem_alloc(32, 0, e);
    if (!seed)
        return CX_ERR_NOMEM;
    cx_err rc = read_key_file(path, TAG_E_SECRET, 1, seed, e);
    if (rc == CX_OK)
        rc = cx_ed25519_key_from_seed(seed, out, e);
    cx_secmem_free(seed);
    return rc;
}

cx_err cx_ed25519_key_save(const cx_ed25519_key *k, const char *secret_path,
                           const char *public_path, cx_error *e)
{
    cx_err rc = write_key_file(secret_path, TAG_E_SECRET, k->seed, 1, e);
    if (rc == CX_OK && public_path)
        rc = write_key_file(public_path, TAG_E_PUBLIC, k->pk, 0, e);
    return rc;
}

const uint8_t *cx_ed25519_key_public(const cx_ed25519_key *k) { return k->pk; }
const uint8_t *cx_ed25519_key_seed(const cx_ed25519_key *k) { return k->seed; }

cx_err cx_ed25519_key_sign(const cx_ed25519_key *k, const uint8_t *msg, size_t len,
                           uint8_t sig[64], cx_error *e)
{
    return cx_ed25519_sign(k->seed, msg, len, sig, e);
}

void cx_ed25519_key_free(cx_ed25519_key *k) { cx_secmem_free(k); }

cx_err cx_ed25519_public_load(const char *path, uint8_t pub[32], cx_error *e)
{
    return read_key_file(path, TAG_E_PUBLIC, 0, pub, e);
}

cx_err cx_ed25519_public_save(const char *path, const uint8_t pub[32], cx_error *e)
{
    return write_key_file(path, TAG_E_PUBLIC, pub, 0, e);
}
