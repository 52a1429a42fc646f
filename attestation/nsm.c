/* nsm.c — the Nitro Secure Module interface (spec attestation.md §1.7): serde-style CBOR
 * requests/responses and the raw ioctl on /dev/nsm, behind the cx_nsm_device seam. */
#include "attest_cbor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* include/uapi/linux/nsm.h */
struct cx_nsm_iovec {
    uint64_t addr;
    uint64_t len;
};
struct cx_nsm_raw {
    struct cx_nsm_iovec request;
    struct cx_nsm_iovec response;
};
#define CX_NSM_MAGIC 0x0A
#define CX_NSM_IOCTL_RAW _IOWR(CX_NSM_MAGIC, 0x0, struct cx_nsm_raw) /* 0xC0200A00 */
_Static_assert(sizeof(struct cx_nsm_raw) == 32, "struct nsm_raw is 32 bytes");

/* ----------------------------------------------------------------- device -- */

typedef struct nsm_fd {
    int fd;
} nsm_fd;

static cx_err dev_transact(void *ud, const uint8_t *req, size_t req_len, uint8_t *resp,
                           size_t *resp_len, cx_error *e)
{
    nsm_fd *d = ud;
    struct cx_nsm_raw raw = {
        .request = {(uint64_t)(uintptr_t)req, req_len},
        .response = {(uint64_t)(uintptr_t)resp, *resp_len},
    };
    if (ioctl(d->fd, CX_NSM_IOCTL_RAW, &raw) != 0)
        return cx_error_errno(e, CX_ERR_DEVICE, errno, "nsm: ioctl NSM_IOCTL_RAW");
    if (raw.response.len > *resp_len)
        return cx_error_set(e, CX_ERR_DEVICE, "nsm: response length %llu exceeds the buffer",
                            (unsigned long long)raw.response.len);
    *resp_len = (size_t)raw.response.len;
    return CX_OK;
}

static void dev_close(void *ud)
{
    nsm_fd *d = ud;
    if (d) {
        close(d->fd);
        free(d);
    }
}

cx_err cx_nsm_device_open(const char *path, cx_nsm_device *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if (!path)
        path = "/dev/nsm";
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return cx_error_errno(e, errno == ENOENT ? CX_ERR_UNSUPPORTED : CX_ERR_DEVICE, errno,
                              "nsm: open %s (not inside a Nitro Enclave?)", path);
    nsm_fd *d = malloc(sizeof *d);
    if (!d) {
        close(fd);
        return cx_error_set(e, CX_ERR_NOMEM, "nsm: out of memory");
    }
    d->fd = fd;
    out->ud = d;
    out->transact = dev_transact;
    out->close = dev_close;
    return CX_OK;
}

void cx_nsm_device_close(cx_nsm_device *dev)
{
    if (dev && dev->close)
        dev->close(dev->ud);
    if (dev)
        memset(dev, 0, sizeof *dev);
}

/* --------------------------------------------------------------- requests -- */

typedef struct wbuf {
    uint8_t b[CX_NSM_REQUEST_MAX];
    size_t n;
    int overflow;
} wbuf;

static void w_head(wbuf *w, unsigned major, uint64_t arg)
{
    if (w->n + 9 > sizeof w->b) {
        w->overflow = 1;
        return;
    }
    w->n += cx_cbor_head(w->b + w->n, major, arg);
}

static void w_bytes(wbuf *w, unsigned major, const void *p, size_t len)
{
    w_head(w, major, len);
    if (w->overflow || len > sizeof w->b - w->n) {
        w->overflow = 1;
        return;
    }
    if (len)
        memcpy(w->b + w->n, p, len);
    w->n += len;
}

static void w_text(wbuf *w, const char *s) { w_bytes(w, 3, s, strlen(s)); }

static void w_opt_bytes(wbuf *w, const uint8_t *p, size_t len)
{
    if (!p) {
        if (w->n + 1 > sizeof w->b)
            w->overflow = 1;
        else
            w->b[w->n++] = 0xf6; /* null, as libnsm sends absent fields */
        return;
    }
    w_bytes(w, 2, p, len);
}

static cx_err w_finish(wbuf *w, uint8_t **out, size_t *out_len, cx_error *e)
{
    if (w->overflow)
        return cx_error_set(e, CX_ERR_LIMIT, "nsm: request larger than %u bytes",
                            CX_NSM_REQUEST_MAX);
    *out = malloc(w->n);
    if (!*out)
        return cx_error_set(e, CX_ERR_NOMEM, "nsm: out of memory");
    memcpy(*out, w->b, w->n);
    *out_len = w->n;
    return CX_OK;
}

cx_err cx_nsm_request_attestation(const uint8_t *user_data, size_t ud_len, const uint8_t *nonce,
                                  size_t nonce_len, const uint8_t *public_key, size_t pk_len,
                                  uint8_t **out, size_t *out_len, cx_error *e)
{
    if ((user_data && ud_len > CX_NITRO_USER_DATA_MAX) ||
        (nonce && nonce_len > CX_NITRO_USER_DATA_MAX) ||
        (public_key && (pk_len == 0 || pk_len > CX_NITRO_FIELD_MAX)))
        return cx_error_set(e, CX_ERR_LIMIT,
                            "nsm: user_data/nonce over 512 bytes or public_key not 1..1024");
    wbuf w = {.n = 0};
    w_head(&w, 5, 1);
    w_text(&w, "Attestation");
    w_head(&w, 5, 3);
    w_text(&w, "user_data");
    w_opt_bytes(&w, user_data, ud_len);
    w_text(&w, "nonce");
    w_opt_bytes(&w, nonce, nonce_len);
    w_text(&w, "public_key");
    w_opt_bytes(&w, public_key, pk_len);
    return w_finish(&w, out, out_len, e);
}

cx_err cx_nsm_request_describe_pcr(uint16_t index, uint8_t **out, size_t *out_len, cx_error *e)
{
    wbuf w = {.n = 0};
    w_head(&w, 5, 1);
    w_text(&w, "DescribePCR");
    w_head(&w, 5, 1);
    w_text(&w, "index");
    w_head(&w, 0, index);
    return w_finish(&w, out, out_len, e);
}

cx_err cx_nsm_request_get_random(uint8_t **out, size_t *out_len, cx_error *e)
{
    wbuf w = {.n = 0};
    w_text(&w, "GetRandom");
    return w_finish(&w, out, out_len, e);
}

/* -------------------------------------------------------------- responses -- */

void cx_nsm_response_free(cx_nsm_response *r)
{
    if (!r)
        return;
    if (r->data) {
        OPENSSL_cleanse(r->data, r->data_len);
        free(r->data);
    }
    memset(r, 0, sizeof *r);
}

/* The one value of a 1-entry map {name: {...}} whose inner map has exactly these keys. */
static const cbor_item_t *inner_field(const cbor_item_t *inner, const char *key)
{
    struct cbor_pair *p = cbor_map_handle(inner);
    for (size_t i = 0; i < cbor_map_size(inner); i++)
        if (cx_cbor_text_is(p[i].key, key))
            return p[i].value;
    return NULL;
}

static cx_err take_bytes(const cbor_item_t *v, const char *what, cx_nsm_response *out,
                         cx_error *e)
{
    if (!v || !cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v))
        return cx_error_set(e, CX_ERR_FORMAT, "nsm: response %s is not a byte string", what);
    size_t n = cbor_bytestring_length(v);
    out->data = malloc(n ? n : 1);
    if (!out->data)
        return cx_error_set(e, CX_ERR_NOMEM, "nsm: out of memory");
    if (n)
        memcpy(out->data, cbor_bytestring_handle(v), n);
    out->data_len = n;
    return CX_OK;
}

cx_err cx_nsm_response_decode(const uint8_t *buf, size_t len, cx_nsm_response *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if (len > CX_NSM_RESPONSE_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "nsm: response of %zu bytes", len);
    cbor_item_t *it = NULL;
    cx_err rc = cx_cbor_load_strict(buf, len, 4, "nsm response", &it, e);
    if (rc != CX_OK)
        return rc;
    if (!cbor_isa_map(it) || cbor_map_size(it) != 1) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "nsm: response is not a 1-entry map");
        goto out;
    }
    struct cbor_pair *p = cbor_map_handle(it);
    const cbor_item_t *v = p[0].value;
    if (cx_cbor_text_is(p[0].key, "Error")) {
        if (!cbor_isa_string(v) || !cbor_string_is_definite(v) ||
            cbor_string_length(v) >= sizeof out->error || cbor_string_length(v) == 0 ||
            memchr(cbor_string_handle(v), 0, cbor_string_length(v))) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "nsm: Error response is not a short text");
            goto out;
        }
        memcpy(out->error, cbor_string_handle(v), cbor_string_length(v));
        out->kind = CX_NSM_RESPONSE_ERROR;
        goto out;
    }
    size_t want;
    if (cx_cbor_text_is(p[0].key, "Attestation")) {
        out->kind = CX_NSM_RESPONSE_ATTESTATION;
        want = 1;
    } else if (cx_cbor_text_is(p[0].key, "DescribePCR")) {
        out->kind = CX_NSM_RESPONSE_DESCRIBE_PCR;
        want = 2;
    } else if (cx_cbor_text_is(p[0].key, "GetRandom")) {
        out->kind = CX_NSM_RESPONSE_GET_RANDOM;
        want = 1;
    } else {
        rc = cx_error_set(e, CX_ERR_FORMAT, "nsm: unknown response kind");
        goto out;
    }
    if (!cbor_isa_map(v) || cbor_map_size(v) != want) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "nsm: response body has the wrong shape");
        goto out;
    }
    if (out->kind == CX_NSM_RESPONSE_ATTESTATION) {
        rc = take_bytes(inner_field(v, "document"), "document", out, e);
    } else if (out->kind == CX_NSM_RESPONSE_GET_RANDOM) {
        rc = take_bytes(inner_field(v, "random"), "random", out, e);
    } else {
        const cbor_item_t *lock = inner_field(v, "lock");
        if (!lock || !cbor_is_bool(lock)) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "nsm: DescribePCR lock is not a bool");
            goto out;
        }
        out->lock = cbor_get_bool(lock);
        rc = take_bytes(inner_field(v, "data"), "data", out, e);
    }
out:
    cbor_decref(&it);
    if (rc != CX_OK)
        cx_nsm_response_free(out);
    return rc;
}

/* ------------------------------------------------------------ round trips -- */

static cx_err roundtrip(cx_nsm_device *dev, uint8_t *req, size_t req_len,
                        cx_nsm_response_kind want, cx_nsm_response *r, cx_error *e)
{
    size_t cap = CX_NSM_RESPONSE_MAX;
    uint8_t *resp = malloc(cap);
    if (!resp) {
        free(req);
        return cx_error_set(e, CX_ERR_NOMEM, "nsm: out of memory");
    }
    cx_err rc = dev->transact(dev->ud, req, req_len, resp, &cap, e);
    free(req);
    if (rc == CX_OK)
        rc = cx_nsm_response_decode(resp, cap, r, e);
    OPENSSL_cleanse(resp, CX_NSM_RESPONSE_MAX);
    free(resp);
    if (rc != CX_OK)
        return rc;
    if (r->kind == CX_NSM_RESPONSE_ERROR) {
        rc = cx_error_set(e, CX_ERR_DEVICE, "nsm: device answered Error %s", r->error);
        cx_nsm_response_free(r);
        return rc;
    }
    if (r->kind != want) {
        cx_nsm_response_free(r);
        return cx_error_set(e, CX_ERR_FORMAT, "nsm: response kind does not match the request");
    }
    return CX_OK;
}

cx_err cx_nsm_attest(cx_nsm_device *dev, const uint8_t *user_data, size_t ud_len,
                     const uint8_t *nonce, size_t nonce_len, const uint8_t *public_key,
                     size_t pk_len, uint8_t **doc, size_t *doc_len, cx_error *e)
{
    uint8_t *req;
    size_t req_len;
    cx_err rc = cx_nsm_request_attestation(user_data, ud_len, nonce, nonce_len, public_key,
                                           pk_len, &req, &req_len, e);
    if (rc != CX_OK)
        return rc;
    cx_nsm_response r;
    rc = roundtrip(dev, req, req_len, CX_NSM_RESPONSE_ATTESTATION, &r, e);
    if (rc != CX_OK)
        return rc;
    *doc = r.data;
    *doc_len = r.data_len;
    return CX_OK;
}

cx_err cx_nsm_describe_pcr(cx_nsm_device *dev, uint16_t index, int *lock, uint8_t *data,
                           size_t cap, size_t *len, cx_error *e)
{
    uint8_t *req;
    size_t req_len;
    cx_err rc = cx_nsm_request_describe_pcr(index, &req, &req_len, e);
    if (rc != CX_OK)
        return rc;
    cx_nsm_response r;
    rc = roundtrip(dev, req, req_len, CX_NSM_RESPONSE_DESCRIBE_PCR, &r, e);
    if (rc != CX_OK)
        return rc;
    if (r.data_len > cap) {
        cx_nsm_response_free(&r);
        return cx_error_set(e, CX_ERR_LIMIT, "nsm: PCR%u value larger than the buffer", index);
    }
    memcpy(data, r.data, r.data_len);
    *len = r.data_len;
    *lock = r.lock;
    cx_nsm_response_free(&r);
    return CX_OK;
}

cx_err cx_nsm_get_random(cx_nsm_device *dev, uint8_t *buf, size_t len, cx_error *e)
{
    size_t done = 0;
    while (done < len) {
        uint8_t *req;
        size_t req_len;
        cx_err rc = cx_nsm_request_get_random(&req, &req_len, e);
        if (rc != CX_OK)
            return rc;
        cx_nsm_response r;
        rc = roundtrip(dev, req, req_len, CX_NSM_RESPONSE_GET_RANDOM, &r, e);
        if (rc != CX_OK)
            return rc;
        if (r.data_len == 0) {
            cx_nsm_response_free(&r);
            return cx_error_set(e, CX_ERR_DEVICE, "nsm: GetRandom returned no bytes");
        }
        size_t take = r.data_len < len - done ? r.data_len : len - done;
        memcpy(buf + done, r.data, take);
        done += take;
        cx_nsm_response_free(&r);
    }
    return CX_OK;
}
