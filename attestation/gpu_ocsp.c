/* gpu_ocsp.c — the optional online step of GPU verification: OCSP status of the device
 * chain's certificates 1..3 (spec attestation.md §3.5 step 4), over libcurl, nonce-checked. */
#include "cx_attest.h"

#include <string.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define OCSP_DEFAULT_URL "https://ocsp.ndis.nvidia.com/"
#define OCSP_RESPONSE_MAX (64u * 1024)
#define OCSP_MAX_SKEW_S 300L

typedef struct membuf {
    uint8_t *p;
    size_t len;
    int overflow;
} membuf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    membuf *b = ud;
    size_t n = size * nmemb;
    if (n > OCSP_RESPONSE_MAX - b->len) {
        b->overflow = 1;
        return 0;
    }
    uint8_t *p = realloc(b->p, b->len + n);
    if (!p)
        return 0;
    memcpy(p + b->len, data, n);
    b->p = p;
    b->len += n;
    return n;
}

static cx_err http_post(const char *url, const uint8_t *body, size_t len, long timeout_s,
                        membuf *out, cx_error *e)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/ocsp-request");
    cx_err rc = CX_OK;
    if (!c || !h) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "ocsp: curl init failed");
        goto done;
    }
    long status = 0;
    CURLcode cc;
    if ((cc = curl_easy_setopt(c, CURLOPT_URL, url)) != CURLE_OK ||
        (cc = curl_easy_setopt(c, CURLOPT_POST, 1L)) != CURLE_OK ||
        (cc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body)) != CURLE_OK ||
        (cc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len)) != CURLE_OK ||
        (cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, h)) != CURLE_OK ||
        (cc = curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 10L)) != CURLE_OK ||
        (cc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
        (cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
        (cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body)) != CURLE_OK ||
        (cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, out)) != CURLE_OK ||
        (cc = curl_easy_perform(c)) != CURLE_OK) {
        rc = cx_error_set(e, CX_ERR_NET, "ocsp: POST %s: %s%s", url, curl_easy_strerror(cc),
                          out->overflow ? " (response too large)" : "");
        goto done;
    }
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200)
        rc = cx_error_set(e, CX_ERR_NET, "ocsp: POST %s: HTTP status %ld", url, status);
done:
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

static cx_err read_certs(const char *pem, size_t len, STACK_OF(X509) * *out, const char *what,
                         cx_error *e)
{
    BIO *b = len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (!b || !sk) {
        BIO_free(b);
        sk_X509_free(sk);
        return cx_error_set(e, CX_ERR_NOMEM, "ocsp: out of memory");
    }
    X509 *c;
    while (sk_X509_num(sk) < 16 && (c = PEM_read_bio_X509(b, NULL, NULL, NULL)))
        if (!sk_X509_push(sk, c)) {
            X509_free(c);
            break;
        }
    ERR_clear_error();
    BIO_free(b);
    if (sk_X509_num(sk) == 0) {
        sk_X509_free(sk);
        return cx_error_set(e, CX_ERR_FORMAT, "ocsp: %s holds no certificate", what);
    }
    *out = sk;
    return CX_OK;
}

/* One certificate: request with a fresh nonce, verify the signed answer, read its status. */
static cx_err check_one(X509 *cert, X509 *issuer, STACK_OF(X509) * untrusted, X509_STORE *store,
                        const char *url_override, long timeout_s, int idx, int *status_out,
                        cx_error *e)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha384(), cert, issuer);
    OCSP_CERTID *id_req = id ? OCSP_CERTID_dup(id) : NULL;
    STACK_OF(OPENSSL_STRING) *aia = X509_get1_ocsp(cert);
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    unsigned char *der = NULL;
    membuf body = {0};
    cx_err rc = CX_OK;
    if (!req || !id || !id_req || !OCSP_request_add0_id(req, id_req)) {
        OCSP_CERTID_free(id_req);
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "ocsp: certificate %d: building the request", idx);
        goto done;
    }
    if (OCSP_request_add1_nonce(req, NULL, 32) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "ocsp: adding the nonce");
        goto done;
    }
    int derlen = i2d_OCSP_REQUEST(req, &der);
    if (derlen <= 0) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "ocsp: encoding the request");
        goto done;
    }
    const char *url = url_override                     ? url_override
                      : sk_OPENSSL_STRING_num(aia) > 0 ? sk_OPENSSL_STRING_value(aia, 0)
                                                       : OCSP_DEFAULT_URL;
    if ((rc = http_post(url, der, (size_t)derlen, timeout_s, &body, e)) != CX_OK) {
        cx_error_prefix(e, "certificate %d: ", idx);
        goto done;
    }
    const unsigned char *p = body.p;
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long)body.len);
    if (!resp || p != body.p + body.len) {
        rc = cx_error_openssl(e, CX_ERR_VERIFY, "ocsp: certificate %d: malformed response", idx);
        goto done;
    }
    int rs = OCSP_response_status(resp);
    if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        rc = cx_error_set(e, CX_ERR_VERIFY, "ocsp: certificate %d: responder says %s", idx,
                          OCSP_response_status_str(rs));
        goto done;
    }
    bs = OCSP_response_get1_basic(resp);
    if (!bs) {
        rc = cx_error_openssl(e, CX_ERR_VERIFY, "ocsp: certificate %d: no basic response", idx);
        goto done;
    }
    if (OCSP_check_nonce(req, bs) != 1) {
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "ocsp: certificate %d: the response does not echo our nonce", idx);
        goto done;
    }
    if (OCSP_basic_verify(bs, untrusted, store, 0) != 1) {
        rc = cx_error_openssl(e, CX_ERR_VERIFY,
                              "ocsp: certificate %d: response signature or signer invalid", idx);
        goto done;
    }
    int status = -1, reason = -1;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
    if (OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisupd, &nextupd) != 1) {
        rc = cx_error_set(e, CX_ERR_VERIFY, "ocsp: certificate %d: the response does not cover it",
                          idx);
        goto done;
    }
    if (OCSP_check_validity(thisupd, nextupd, OCSP_MAX_SKEW_S, -1) != 1) {
        rc = cx_error_openssl(e, CX_ERR_VERIFY, "ocsp: certificate %d: stale response", idx);
        goto done;
    }
    *status_out = status;
    if (status != V_OCSP_CERTSTATUS_GOOD) {
        char cn[128] = "?";
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        rc = cx_error_set(e, CX_ERR_VERIFY, "ocsp: certificate %d (%s) is %s%s%s", idx, cn,
                          OCSP_cert_status_str(status), reason >= 0 ? ": " : "",
                          reason >= 0 ? OCSP_crl_reason_str(reason) : "");
    }
done:
    ERR_clear_error();
    free(body.p);
    OPENSSL_free(der);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    X509_email_free(aia);
    OCSP_CERTID_free(id);
    OCSP_REQUEST_free(req);
    return rc;
}

cx_err cx_gpu_ocsp_check(const char *chain_pem, size_t chain_len, const char *root_pem,
                         size_t root_len, const char *url_override, long timeout_s,
                         cx_gpu_check *out, cx_error *e)
{
    if (!chain_pem || !out)
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_ocsp_check: NULL argument");
    *out = CX_GPU_CHECK_NOT_CHECKED;
    STACK_OF(X509) *chain = NULL, *roots = NULL;
    X509_STORE *store = NULL;
    cx_err rc;
    if ((rc = read_certs(chain_pem, chain_len, &chain, "chain", e)) != CX_OK)
        return rc;
    if (!root_pem) {
        root_pem = cx_gpu_default_root_pem();
        root_len = strlen(root_pem);
    }
    if ((rc = read_certs(root_pem, root_len, &roots, "root", e)) != CX_OK)
        goto done;
    if (sk_X509_num(chain) != CX_GPU_CHAIN_CERTS) {
        rc = cx_error_set(e, CX_ERR_VERIFY, "ocsp: chain of %d certificates, expected %d",
                          sk_X509_num(chain), CX_GPU_CHAIN_CERTS);
        goto done;
    }
    store = X509_STORE_new();
    if (!store || X509_STORE_add_cert(store, sk_X509_value(roots, 0)) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "ocsp: building the trust store");
        goto done;
    }
    /* Not the leaf (no OCSP for per-boot FMC certificates) and not the pinned root (LGV). */
    for (int i = 1; i <= 3; i++) {
        int st = -1;
        X509 *issuer =
            i + 1 < CX_GPU_CHAIN_CERTS - 1 ? sk_X509_value(chain, i + 1) : sk_X509_value(roots, 0);
        rc = check_one(sk_X509_value(chain, i), issuer, chain, store, url_override, timeout_s, i,
                       &st, e);
        if (rc != CX_OK)
            break;
    }
    if (rc == CX_OK)
        *out = CX_GPU_CHECK_PASSED;
    else if (rc == CX_ERR_VERIFY)
        *out = CX_GPU_CHECK_FAILED;
done:
    X509_STORE_free(store);
    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(roots, X509_free);
    return rc;
}
