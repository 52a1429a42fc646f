/* nitro.c — verification of AWS Nitro attestation documents: root pin, X.509 chain at a given
 * time, ES384 COSE signature over the Sig_structure, PCR / debug / simulated policy. */
#include "attest_cbor.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "x509_verify.h"

/* AWS Nitro Enclaves root G1, from https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip
 * (the same text as shared/testdata/attestation/nitro/aws_nitro_root_g1.pem and Sui's
 * crates/sui-types/src/nitro_root_certificate.pem). Certificate DER SHA-256 (its fingerprint):
 * 641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b; checked by a test. */
static const char AWS_NITRO_ROOT_G1_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL\n"
    "MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD\n"
    "VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4\n"
    "MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL\n"
    "DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG\n"
    "BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb\n"
    "48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE\n"
    "h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF\n"
    "R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC\n"
    "MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW\n"
    "rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N\n"
    "IwLz3/Y=\n"
    "-----END CERTIFICATE-----\n"    ;

const char *cx_nitro_aws_root_g1_pem(void) { return AWS_NITRO_ROOT_G1_PEM; }

const char *cx_nitro_check_name(cx_nitro_check c)
{
    static const char *const names[] = {"ok",   "format", "signature", "chain",    "expired",
                                        "root", "pcr",    "debug",     "simulated"};
    return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "unknown";
}

static X509 *der_to_x509(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x && p != der + len) { /* trailing bytes after the certificate */
        X509_free(x);
        return NULL;
    }
    return x;
}

static int subject_has_sim_mark(X509 *x)
{
    char buf[256];
    X509_NAME *n = X509_get_subject_name(x);
    if (!n)
        return 0;
    int idx = -1;
    while ((idx = X509_NAME_get_index_by_NID(n, NID_organizationName, idx)) >= 0) {
        ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
        int len = s ? ASN1_STRING_length(s) : 0;
        if (len > 0 && (size_t)len < sizeof buf) {
            memcpy(buf, ASN1_STRING_get0_data(s), (size_t)len);
            buf[len] = 0;
            if (strstr(buf, "SIMULATED"))
                return 1;
        }
    }
    return 0;
}

typedef struct vctx {
    cx_nitro_check failed;
    X509 *root, *leaf;
    STACK_OF(X509) *untrusted, *built;
    uint8_t *tbs;
} vctx;

static cx_err fail(vctx *v, cx_nitro_check c, cx_err code, cx_error *e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static cx_err fail(vctx *v, cx_nitro_check c, cx_err code, cx_error *e, const char *fmt, ...)
{
    char msg[CX_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->failed = c;
    ERR_clear_error();
    return cx_error_set(e, code, "%s", msg);
}

static cx_err load_root(vctx *v, const cx_nitro_policy *pol, cx_error *e)
{
    const char *pem = pol && pol->root_pem ? pol->root_pem : AWS_NITRO_ROOT_G1_PEM;
    size_t len = pol && pol->root_pem ? pol->root_pem_len : strlen(AWS_NITRO_ROOT_G1_PEM);
    if (len > INT32_MAX)
        return fail(v, CX_NITRO_CHECK_ROOT, CX_ERR_ARG, e, "root: PEM too large");
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b)
        return cx_error_openssl(e, CX_ERR_NOMEM, "root: BIO");
    v->root = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!v->root)
        return fail(v, CX_NITRO_CHECK_ROOT, CX_ERR_ARG, e, "root: the trusted root is not a PEM certificate");
    return CX_OK;
}

static cx_err check_chain(vctx *v, const cx_nitro_doc *d, uint64_t at_ms, cx_error *e)
{
    /* Pin: cabundle[0] must be the trusted root itself, byte for byte. */
    unsigned char *rder = NULL;
    int rlen = i2d_X509(v->root, &rder);
    if (rlen <= 0)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "root: encoding the pinned root");
    int same = (size_t)rlen == d->cabundle_len[0] && memcmp(rder, d->cabundle[0], (size_t)rlen) == 0;
    OPENSSL_free(rder);
    if (!same)
        return fail(v, CX_NITRO_CHECK_ROOT, CX_ERR_VERIFY, e,
                    "root: cabundle[0] is not the pinned root certificate");

    v->leaf = der_to_x509(d->certificate, d->certificate_len);
    if (!v->leaf)
        return fail(v, CX_NITRO_CHECK_FORMAT, CX_ERR_FORMAT, e, "format: certificate is not DER X.509");
    v->untrusted = sk_X509_new_null();
    if (!v->untrusted)
        return cx_error_set(e, CX_ERR_NOMEM, "chain: out of memory");
    for (size_t i = 1; i < d->cabundle_count; i++) {
        X509 *x = der_to_x509(d->cabundle[i], d->cabundle_len[i]);
        if (!x)
            return fail(v, CX_NITRO_CHECK_FORMAT, CX_ERR_FORMAT, e,
                        "format: cabundle[%zu] is not DER X.509", i);
        if (!sk_X509_push(v->untrusted, x)) {
            X509_free(x);
            return cx_error_set(e, CX_ERR_NOMEM, "chain: out of memory");
        }
    }
    const time_t at = (time_t)(at_ms / 1000);
    cx_attest_chain_fail why;
    cx_err rc = cx_attest_chain_verify(v->leaf, v->untrusted, v->root, &at,
                                       (int)CX_NITRO_CABUNDLE_MAX, &v->built, &why, e);
    if (rc != CX_OK)
        return rc;
    if (!v->built) {
        if (why.err == X509_V_ERR_CERT_HAS_EXPIRED || why.err == X509_V_ERR_CERT_NOT_YET_VALID)
            return fail(v, CX_NITRO_CHECK_EXPIRED, CX_ERR_VERIFY, e,
                        "expired: certificate '%s' (depth %d) is %s at %llu ms", why.cn,
                        why.depth,
                        why.err == X509_V_ERR_CERT_HAS_EXPIRED ? "expired" : "not yet valid",
                        (unsigned long long)at_ms);
        return fail(v, CX_NITRO_CHECK_CHAIN, CX_ERR_VERIFY, e,
                    "chain: certificate '%s' (depth %d): %s", why.cn, why.depth,
                    X509_verify_cert_error_string(why.err));
    }
    /* The path must be exactly [certificate] + reverse(cabundle) (NSM-DOC §3.2.3). */
    STACK_OF(X509) *built = v->built;
    if ( (size_t)sk_X509_num(built) != d->cabundle_count + 1)
        return fail(v, CX_NITRO_CHECK_CHAIN, CX_ERR_VERIFY, e,
                    "chain: path does not use every cabundle certificate");
    for (size_t i = 1; i < d->cabundle_count; i++)
        if (X509_cmp(sk_X509_value(built, (int)(d->cabundle_count - i)),
                     sk_X509_value(v->untrusted, (int)(i - 1))) != 0)
            return fail(v, CX_NITRO_CHECK_CHAIN, CX_ERR_VERIFY, e,
                        "chain: cabundle is not in root-to-leaf order");
    /* Leaf: a signing certificate, not a CA (NSM-DOC §3.2.3.3). */
    if (X509_check_ca(v->leaf) != 0 || !(X509_get_key_usage(v->leaf) & KU_DIGITAL_SIGNATURE))
        return fail(v, CX_NITRO_CHECK_CHAIN, CX_ERR_VERIFY, e,
                    "chain: leaf certificate is a CA or lacks digitalSignature");
    return CX_OK;
}

static cx_err check_signature(vctx *v, const cx_nitro_doc *d, cx_error *e)
{
    size_t tbs_len = 0;
    cx_err rc = cx_cose_sig_structure(d->protected_hdr, d->protected_hdr_len, d->payload,
                                      d->payload_len, &v->tbs, &tbs_len, e);
    if (rc != CX_OK)
        return rc;
    cx_es384_verdict verdict;
    rc = cx_attest_es384_verify(v->leaf, d->signature, v->tbs, tbs_len, &verdict, e);
    if (rc != CX_OK)
        return rc;
    if (verdict == CX_ES384_BAD_KEY)
        return fail(v, CX_NITRO_CHECK_SIGNATURE, CX_ERR_VERIFY, e,
                    "signature: leaf key is not EC P-384");
    if (verdict != CX_ES384_VALID)
        return fail(v, CX_NITRO_CHECK_SIGNATURE, CX_ERR_VERIFY, e,
                    "signature: COSE_Sign1 ES384 signature does not verify with the leaf key");
    return CX_OK;
}

static cx_err check_policy(vctx *v, const cx_nitro_doc *d, const cx_nitro_policy *pol,
                           cx_error *e)
{
    if (d->debug && !(pol && pol->allow_debug))
        return fail(v, CX_NITRO_CHECK_DEBUG, CX_ERR_VERIFY, e,
                    "debug: PCR0 is all zeros (debug-mode enclave; allow with --allow-debug)");
    for (size_t i = 0; pol && i < pol->n_pcrs; i++) {
        const cx_nitro_pcr_expect *x = &pol->pcrs[i];
        if (x->index >= CX_NITRO_PCR_COUNT || !(d->pcr_present & (1u << x->index)))
            return fail(v, CX_NITRO_CHECK_PCR, CX_ERR_VERIFY, e, "pcr %u: not in the document",
                        x->index);
        if (x->len != d->pcr_len[x->index] || memcmp(x->value, d->pcr[x->index], x->len) != 0) {
            char got[2 * CX_NITRO_PCR_MAXLEN + 1];
            cx_hex_encode(d->pcr[x->index], d->pcr_len[x->index], got, sizeof got, NULL);
            return fail(v, CX_NITRO_CHECK_PCR, CX_ERR_VERIFY, e,
                        "pcr %u: does not match the expected value (document has %s)", x->index,
                        got);
        }
    }
    return CX_OK;
}

cx_err cx_nitro_verify(const uint8_t *buf, size_t len, const cx_nitro_policy *pol,
                       cx_nitro_doc *out, cx_nitro_check *failed, cx_error *e)
{
    vctx v = {0};
    cx_nitro_doc d;
    cx_err rc = cx_nitro_doc_parse(buf, len, &d, e);
    if (rc != CX_OK) {
        if (failed)
            *failed = CX_NITRO_CHECK_FORMAT;
        if (out)
            memset(out, 0, sizeof *out);
        return rc;
    }
    rc = load_root(&v, pol, e);
    if (rc == CX_OK) {
        /* Simulated if the document or any of its certificates says so. */
        int sim = d.simulated || subject_has_sim_mark(v.root);
        for (size_t i = 0; i < d.cabundle_count && !sim; i++) {
            X509 *x = der_to_x509(d.cabundle[i], d.cabundle_len[i]);
            sim = x && subject_has_sim_mark(x);
            X509_free(x);
        }
        X509 *leaf = der_to_x509(d.certificate, d.certificate_len);
        sim = sim || (leaf && subject_has_sim_mark(leaf));
        X509_free(leaf);
        d.simulated = sim;
        if (sim && !(pol && pol->allow_simulated))
            rc = fail(&v, CX_NITRO_CHECK_SIMULATED, CX_ERR_VERIFY, e,
                      "simulated: document from the simulated TEE (development only; "
                      "allow with --allow-simulated)");
    }
    if (rc == CX_OK) {
        uint64_t at = pol && pol->at_doc_time ? d.timestamp_ms
                      : pol && pol->at_ms     ? pol->at_ms
                                              : cx_unix_ms();
        rc = check_chain(&v, &d, at, e);
    }
    if (rc == CX_OK)
        rc = check_signature(&v, &d, e);
    if (rc == CX_OK)
        rc = check_policy(&v, &d, pol, e);

    X509_free(v.root);
    X509_free(v.leaf);
    sk_X509_pop_free(v.untrusted, X509_free);
    sk_X509_pop_free(v.built, X509_free);
    free(v.tbs);
    if (failed)
        *failed = rc == CX_OK ? CX_NITRO_CHECK_OK
                  : v.failed  ? v.failed
                              : CX_NITRO_CHECK_FORMAT;
    if (rc != CX_OK || !out)
        cx_nitro_doc_free(&d);
    else
        *out = d;
    return rc;
}
