/* gpu_verify.c — offline verifier of H100 CC evidence (spec attestation.md §3.3–3.5): nonce,
 * 5-certificate chain to the pinned NVIDIA root at a given time, signature, FWID, versions and
 * operator-pinned reference measurements. Online steps (OCSP, RIM) are reported not checked. */
#include "gpu_reference.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509_verify.h"

/* NVIDIA Device Identity CA (nvtrust verifier/certs/verifier_device_root.pem), the pin. */
static const char nvidia_root_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICCzCCAZCgAwIBAgIQLTZwscoQBBHB/sDoKgZbVDAKBggqhkjOPQQDAzA1MSIw\n"
    "IAYDVQQDDBlOVklESUEgRGV2aWNlIElkZW50aXR5IENBMQ8wDQYDVQQKDAZOVklE\n"
    "SUEwIBcNMjExMTA1MDAwMDAwWhgPOTk5OTEyMzEyMzU5NTlaMDUxIjAgBgNVBAMM\n"
    "GU5WSURJQSBEZXZpY2UgSWRlbnRpdHkgQ0ExDzANBgNVBAoMBk5WSURJQTB2MBAG\n"
    "ByqGSM49AgEGBSuBBAAiA2IABA5MFKM7+KViZljbQSlgfky/RRnEQScW9NDZF8SX\n"
    "gAW96r6u/Ve8ZggtcYpPi2BS4VFu6KfEIrhN6FcHG7WP05W+oM+hxj7nyA1r1jkB\n"
    "2Ry70YfThX3Ba1zOryOP+MJ9vaNjMGEwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8B\n"
    "Af8EBAMCAQYwHQYDVR0OBBYEFFeF/4PyY8xlfWi3Olv0jUrL+0lfMB8GA1UdIwQY\n"
    "MBaAFFeF/4PyY8xlfWi3Olv0jUrL+0lfMAoGCCqGSM49BAMDA2kAMGYCMQCPeFM3\n"
    "TASsKQVaT+8S0sO9u97PVGCpE9d/I42IT7k3UUOLSR/qvJynVOD1vQKVXf0CMQC+\n"
    "EY55WYoDBvs2wPAH1Gw4LbcwUN8QCff8bFmV4ZxjCRr4WXTLFHBKjbfneGSBWwA=\n"
    "-----END CERTIFICATE-----\n";

const char *cx_gpu_default_root_pem(void)
{
    return nvidia_root_pem;
}

const char *cx_gpu_check_name(cx_gpu_check c)
{
    switch (c) {
    case CX_GPU_CHECK_PASSED:
        return "passed";
    case CX_GPU_CHECK_FAILED:
        return "failed";
    default:
        return "not_checked";
    }
}

/* ------------------------------------------------------------ reference -- */

size_t cx_gpu_reference_count(const cx_gpu_reference *ref)
{
    return ref ? ref->n : 0;
}

void cx_gpu_reference_free(cx_gpu_reference *ref)
{
    free(ref);
}

static cx_err ref_value(const json_t *v, const char *key, cx_gpu_ref_entry *en, cx_error *e)
{
    if (!json_is_string(v))
        return cx_error_set(e, CX_ERR_FORMAT,
                            "reference: measurement \"%s\": expected a hex string", key);
    if (en->n_alt >= CX_GPU_REF_ALT_MAX)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "reference: measurement \"%s\": more than %d alternatives", key,
                            CX_GPU_REF_ALT_MAX);
    size_t got = 0;
    cx_err rc = cx_hex_decode(json_string_value(v), json_string_length(v), en->value[en->n_alt],
                              CX_GPU_MEAS_VALUE_MAX, &got, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "reference: measurement \"%s\": ", key);
    if (got == 0)
        return cx_error_set(e, CX_ERR_FORMAT, "reference: measurement \"%s\" is empty", key);
    en->len[en->n_alt++] = (uint16_t)got;
    return CX_OK;
}

cx_err cx_gpu_reference_parse(const char *text, size_t len, cx_gpu_reference **out, cx_error *e)
{
    *out = NULL;
    json_t *j = NULL;
    cx_err rc = cx_json_parse(text, len, &j, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "reference: ");
    cx_gpu_reference *ref = calloc(1, sizeof *ref);
    if (!ref) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "reference: out of memory");
        goto done;
    }
    static const char *const keys[] = {"format",        "measurements", "driver_version",
                                       "vbios_version", "comment",      NULL};
    if (!json_is_object(j)) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "reference: expected a JSON object");
        goto done;
    }
    if ((rc = cx_json_check_keys(j, keys, "reference", e)) != CX_OK)
        goto done;
    const char *fmt = NULL, *drv = NULL, *vb = NULL;
    if ((rc = cx_json_get_string(j, "format", 1, &fmt, e)) != CX_OK ||
        (rc = cx_json_get_string(j, "driver_version", 0, &drv, e)) != CX_OK ||
        (rc = cx_json_get_string(j, "vbios_version", 0, &vb, e)) != CX_OK)
        goto done;
    if (strcmp(fmt, "cloakx-gpu-reference/v1") != 0) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "reference: unknown format \"%s\"", fmt);
        goto done;
    }
    if ((drv && strlen(drv) >= sizeof ref->driver_version) ||
        (vb && strlen(vb) >= sizeof ref->vbios_version)) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "reference: version string too long");
        goto done;
    }
    if (drv)
        strcpy(ref->driver_version, drv);
    if (vb)
        strcpy(ref->vbios_version, vb);
    json_t *m = json_object_get(j, "measurements");
    if (!json_is_object(m)) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "reference: \"measurements\" must be an object");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v)
    {
        char *end = NULL;
        long idx = strtol(key, &end, 10);
        if (!isdigit((unsigned char)key[0]) || *end || idx < 1 || idx > 255) {
            rc = cx_error_set(e, CX_ERR_FORMAT,
                              "reference: measurement key \"%s\" is not an index 1..255", key);
            goto done;
        }
        for (size_t i = 0; i < ref->n; i++)
            if (ref->entries[i].index == idx) {
                rc = cx_error_set(e, CX_ERR_FORMAT, "reference: index %ld repeated", idx);
                goto done;
            }
        cx_gpu_ref_entry *en = &ref->entries[ref->n];
        en->index = (uint8_t)idx;
        if (json_is_array(v)) {
            size_t k;
            json_t *a;
            if (json_array_size(v) == 0) {
                rc =
                    cx_error_set(e, CX_ERR_FORMAT, "reference: measurement \"%s\": no values", key);
                goto done;
            }
            json_array_foreach(v, k, a)
            {
                if ((rc = ref_value(a, key, en, e)) != CX_OK)
                    goto done;
            }
        } else if ((rc = ref_value(v, key, en, e)) != CX_OK) {
            goto done;
        }
        ref->n++;
    }
    *out = ref;
    ref = NULL;
done:
    free(ref);
    json_decref(j);
    return rc;
}

cx_err cx_gpu_reference_load(const char *path, cx_gpu_reference **out, cx_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    *out = NULL;
    cx_err rc = cx_file_read_all(path, 1u << 20, &buf, &len, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "reference %s: ", path);
    rc = cx_gpu_reference_parse((const char *)buf, len, out, e);
    free(buf);
    if (rc != CX_OK)
        cx_error_prefix(e, "%s: ", path);
    return rc;
}

/* ----------------------------------------------------------- certificates -- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static cx_err asn1_time_seconds(const ASN1_TIME *t, int64_t *out, cx_error *e)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return cx_error_openssl(e, CX_ERR_FORMAT, "chain: unreadable certificate time");
    *out =
        days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday) *
            86400 +
        tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return CX_OK;
}

/* Reads up to max certificates; a trailing "no start line" is the normal end. */
static cx_err pem_read_certs(const char *pem, size_t len, STACK_OF(X509) * *out, int max,
                             const char *what, cx_error *e)
{
    if (len > INT32_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "%s: too large", what);
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    STACK_OF(X509) *sk = sk_X509_new_null();
    cx_err rc = CX_OK;
    if (!b || !sk) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "%s: out of memory", what);
        goto fail;
    }
    ERR_clear_error();
    for (;;) {
        X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (!c) {
            unsigned long err = ERR_peek_last_error();
            if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE &&
                sk_X509_num(sk) > 0) {
                ERR_clear_error();
                break;
            }
            rc = cx_error_openssl(e, CX_ERR_FORMAT, "%s: certificate %d unreadable", what,
                                  sk_X509_num(sk));
            goto fail;
        }
        if (sk_X509_num(sk) >= max || !sk_X509_push(sk, c)) {
            X509_free(c);
            rc = cx_error_set(e, CX_ERR_FORMAT, "%s: more than %d certificates", what, max);
            goto fail;
        }
    }
    BIO_free(b);
    *out = sk;
    return CX_OK;
fail:
    BIO_free(b);
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

/* Record a failed check; the first one becomes the error and result->failed. */
static void fail_check(cx_gpu_verify_result *r, cx_gpu_check *check, const char *name, cx_error *e,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail_check(cx_gpu_verify_result *r, cx_gpu_check *check, const char *name, cx_error *e,
                       const char *fmt, ...)
{
    *check = CX_GPU_CHECK_FAILED;
    if (r->failed[0])
        return;
    snprintf(r->failed, sizeof r->failed, "%s", name);
    char msg[CX_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cx_error_set(e, CX_ERR_VERIFY, "%s: %s", name, msg);
}

/* Validity of every certificate at `at` (seconds) by our own arithmetic, so that a time
 * past 9999-12-31 (the sample's notAfter) is "expired", not an OpenSSL format error. */
static cx_err check_validity(STACK_OF(X509) * certs, X509 *root, int64_t at,
                             cx_gpu_verify_result *r, cx_error *e)
{
    int n = sk_X509_num(certs);
    for (int i = 0; i <= n; i++) {
        X509 *c = i < n ? sk_X509_value(certs, i) : root;
        int64_t nb, na;
        if (asn1_time_seconds(X509_get0_notBefore(c), &nb, e) != CX_OK ||
            asn1_time_seconds(X509_get0_notAfter(c), &na, e) != CX_OK)
            return CX_ERR_FORMAT;
        char cn[128];
        cx_attest_cert_cn(c, cn, sizeof cn);
        if (at > na) {
            fail_check(r, &r->chain, "expired", e,
                       "certificate %d (%s) expired at %lld, verification time %lld", i < n ? i : 4,
                       cn, (long long)na, (long long)at);
            return CX_OK;
        }
        if (at < nb) {
            fail_check(r, &r->chain, "chain", e,
                       "certificate %d (%s) not valid before %lld, verification time %lld",
                       i < n ? i : 4, cn, (long long)nb, (long long)at);
            return CX_OK;
        }
    }
    return CX_OK;
}

static cx_err verify_chain(STACK_OF(X509) * certs, X509 *root, cx_gpu_verify_result *r, cx_error *e)
{
    /* nvtrust drops the device-supplied root and chains to its bundled one. */
    STACK_OF(X509) *untrusted = sk_X509_new_null(), *built = NULL;
    cx_err rc = CX_OK;
    if (!untrusted) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "chain: out of memory");
        goto done;
    }
    for (int i = 1; i < CX_GPU_CHAIN_CERTS - 1; i++)
        if (!sk_X509_push(untrusted, sk_X509_value(certs, i))) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "chain: out of memory");
            goto done;
        }
    /* Time is checked by check_validity (NULL: none here). */
    cx_attest_chain_fail why;
    rc = cx_attest_chain_verify(sk_X509_value(certs, 0), untrusted, root, NULL, 0, &built, &why,
                                e);
    if (rc != CX_OK)
        goto done;
    if (!built) {
        fail_check(r, &r->chain, "chain", e, "certificate %d (%s): %s", why.depth, why.cn,
                   X509_verify_cert_error_string(why.err));
        goto done;
    }
    if (sk_X509_num(built) != CX_GPU_CHAIN_CERTS) {
        fail_check(r, &r->chain, "chain", e, "built chain has %d certificates, expected %d",
                   sk_X509_num(built), CX_GPU_CHAIN_CERTS);
        goto done;
    }
    /* OpenSSL treats the untrusted certificates as a set; the evidence must be in order
     * (leaf first), since OCSP and the FWID rule address certificates by position. */
    for (int i = 0; i < CX_GPU_CHAIN_CERTS - 1; i++)
        if (X509_cmp(sk_X509_value(built, i), sk_X509_value(certs, i)) != 0) {
            fail_check(r, &r->chain, "chain", e,
                       "certificate %d is out of order (the chain must run leaf to root)", i);
            goto done;
        }
    if (r->chain != CX_GPU_CHECK_FAILED)
        r->chain = CX_GPU_CHECK_PASSED;
done:
    sk_X509_pop_free(built, X509_free);
    sk_X509_free(untrusted);
    return rc;
}

static cx_err verify_signature(const uint8_t *report, const cx_gpu_report *rep, X509 *leaf,
                               cx_gpu_verify_result *r, cx_error *e)
{
    cx_es384_verdict verdict;
    cx_err rc = cx_attest_es384_verify(leaf, rep->signature, report, rep->signed_len, &verdict, e);
    if (rc != CX_OK)
        return rc;
    if (verdict == CX_ES384_VALID)
        r->signature = CX_GPU_CHECK_PASSED;
    else if (verdict == CX_ES384_BAD_KEY)
        fail_check(r, &r->signature, "signature", e, "leaf key is not ECDSA P-384");
    else
        fail_check(r, &r->signature, "signature", e,
                   "ECDSA P-384/SHA-384 over the first %zu bytes does not verify with the "
                   "leaf key",
                   rep->signed_len);
    return CX_OK;
}

/* FWID = last 48 bytes of the leaf's TCG DICE TcbInfo extension (LGV extract_fwid). */
static void verify_fwid(const cx_gpu_report *rep, X509 *leaf, cx_gpu_verify_result *r, cx_error *e)
{
    const ASN1_OCTET_STRING *val = NULL;
    int n = X509_get_ext_count(leaf);
    for (int i = 0; i < n && !val; i++) {
        X509_EXTENSION *ext = X509_get_ext(leaf, i);
        char oid[64];
        if (OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(ext), 1) <= 0)
            continue;
        if (strcmp(oid, "2.23.133.5.4.1") == 0 || strcmp(oid, "2.23.133.5.4.1.1") == 0)
            val = X509_EXTENSION_get_data(ext);
    }
    if (!rep->has_fwid) {
        r->fwid = CX_GPU_CHECK_NOT_CHECKED; /* nvtrust compares only when the report has one */
        return;
    }
    if (!val || ASN1_STRING_length(val) < CX_GPU_FWID_LEN) {
        fail_check(r, &r->fwid, "fwid", e,
                   "the report carries an FWID but the leaf has no 2.23.133.5.4.1 extension");
        return;
    }
    const unsigned char *d = ASN1_STRING_get0_data(val);
    if (CRYPTO_memcmp(d + ASN1_STRING_length(val) - CX_GPU_FWID_LEN, rep->fwid, CX_GPU_FWID_LEN) !=
        0) {
        fail_check(r, &r->fwid, "fwid", e, "the report's FWID differs from the leaf certificate's");
        return;
    }
    r->fwid = CX_GPU_CHECK_PASSED;
}

static void verify_versions(const cx_gpu_report *rep, const cx_gpu_verify_opts *o,
                            cx_gpu_verify_result *r, cx_error *e)
{
    const cx_gpu_reference *ref = o->reference;
    const char *drv = o->expected_driver && o->expected_driver[0] ? o->expected_driver : NULL;
    const char *vb = o->expected_vbios && o->expected_vbios[0] ? o->expected_vbios : NULL;
    const char *ref_drv = ref && ref->driver_version[0] ? ref->driver_version : NULL;
    const char *ref_vb = ref && ref->vbios_version[0] ? ref->vbios_version : NULL;
    if (drv || ref_drv) {
        const char *want = drv ? drv : ref_drv;
        if (strcmp(rep->driver_version, want) != 0 ||
            (drv && ref_drv && strcmp(rep->driver_version, ref_drv) != 0))
            fail_check(r, &r->driver, "driver_version", e, "report says \"%s\", expected \"%s\"",
                       rep->driver_version,
                       drv && strcmp(rep->driver_version, drv) != 0 ? drv : ref_drv);
        else
            r->driver = CX_GPU_CHECK_PASSED;
    }
    if (vb || ref_vb) {
        const char *want = vb ? vb : ref_vb;
        if (strcasecmp(rep->vbios_version, want) != 0 ||
            (vb && ref_vb && strcasecmp(rep->vbios_version, ref_vb) != 0))
            fail_check(r, &r->vbios, "vbios_version", e, "report says \"%s\", expected \"%s\"",
                       rep->vbios_version,
                       vb && strcasecmp(rep->vbios_version, vb) != 0 ? vb : ref_vb);
        else
            r->vbios = CX_GPU_CHECK_PASSED;
    }
}

static void verify_measurements(const cx_gpu_report *rep, const cx_gpu_reference *ref,
                                cx_gpu_verify_result *r, cx_error *e)
{
    if (!ref)
        return;
    for (size_t i = 0; i < ref->n; i++) {
        const cx_gpu_ref_entry *en = &ref->entries[i];
        const cx_gpu_measurement *m = NULL;
        for (size_t k = 0; k < rep->n_meas && !m; k++)
            if (rep->meas[k].index == en->index)
                m = &rep->meas[k];
        char name[32];
        snprintf(name, sizeof name, "measurement %u", en->index);
        if (!m) {
            fail_check(r, &r->measurements, name, e, "absent from the report");
            return;
        }
        int match = 0;
        for (size_t a = 0; a < en->n_alt && !match; a++)
            match = en->len[a] == m->value_len &&
                    CRYPTO_memcmp(en->value[a], m->value, m->value_len) == 0;
        if (!match) {
            char got[2 * CX_GPU_MEAS_VALUE_MAX + 1];
            if (cx_hex_encode(m->value, m->value_len, got, sizeof got, NULL) != CX_OK)
                got[0] = '\0';
            fail_check(r, &r->measurements, name, e,
                       "value %s matches none of the %zu reference value(s)", got, en->n_alt);
            return;
        }
        r->meas_compared++;
    }
    r->measurements = CX_GPU_CHECK_PASSED;
}

cx_err cx_gpu_verify(const uint8_t *report, size_t report_len, const char *chain_pem,
                     size_t chain_len, const cx_gpu_verify_opts *opts, cx_gpu_verify_result *r,
                     cx_error *e)
{
    if (!report || !chain_pem || !r)
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_verify: NULL argument");
    static const cx_gpu_verify_opts none = {0};
    const cx_gpu_verify_opts *o = opts ? opts : &none;
    memset(r, 0, sizeof *r);
    cx_error_clear(e);

    if (cx_gpu_report_parse(report, report_len, &r->report, e) != CX_OK) {
        r->format = CX_GPU_CHECK_FAILED;
        snprintf(r->failed, sizeof r->failed, "format");
        return CX_ERR_FORMAT;
    }
    r->format = CX_GPU_CHECK_PASSED;
    const cx_gpu_report *rep = &r->report;

    if (o->expected_nonce) {
        if (CRYPTO_memcmp(o->expected_nonce, rep->nonce, CX_GPU_NONCE_LEN) != 0) {
            char want[2 * CX_GPU_NONCE_LEN + 1], got[2 * CX_GPU_NONCE_LEN + 1];
            if (cx_hex_encode(o->expected_nonce, CX_GPU_NONCE_LEN, want, sizeof want, NULL) !=
                    CX_OK ||
                cx_hex_encode(rep->nonce, CX_GPU_NONCE_LEN, got, sizeof got, NULL) != CX_OK)
                want[0] = got[0] = '\0';
            fail_check(r, &r->nonce, "nonce", e, "report nonce %s, expected %s", got, want);
        } else {
            r->nonce = CX_GPU_CHECK_PASSED;
        }
    }

    STACK_OF(X509) *certs = NULL, *roots = NULL;
    cx_err rc = CX_OK;
    if (pem_read_certs(chain_pem, chain_len, &certs, 16, "chain", e) != CX_OK) {
        r->format = CX_GPU_CHECK_FAILED;
        snprintf(r->failed, sizeof r->failed, "format");
        cx_error_prefix(e, "format: ");
        return CX_ERR_FORMAT;
    }
    const char *root_pem = o->root_pem ? o->root_pem : nvidia_root_pem;
    size_t root_len = o->root_pem ? o->root_pem_len : strlen(nvidia_root_pem);
    if (pem_read_certs(root_pem, root_len, &roots, 1, "root", e) != CX_OK) {
        cx_error_prefix(e, "root: ");
        if (e)
            e->code = CX_ERR_ARG;
        rc = CX_ERR_ARG;
        goto done;
    }
    X509 *root = sk_X509_value(roots, 0);
    X509 *leaf = sk_X509_value(certs, 0);
    cx_attest_cert_cn(leaf, r->leaf_subject, sizeof r->leaf_subject);

    if (sk_X509_num(certs) != CX_GPU_CHAIN_CERTS) {
        fail_check(r, &r->chain, "chain", e, "%d certificates, expected exactly %d",
                   sk_X509_num(certs), CX_GPU_CHAIN_CERTS);
    } else {
        int64_t at = o->at_unix_ms ? o->at_unix_ms / 1000 : (int64_t)time(NULL);
        if ((rc = check_validity(certs, root, at, r, e)) != CX_OK) {
            r->chain = CX_GPU_CHECK_FAILED;
            snprintf(r->failed, sizeof r->failed, "format");
            goto done;
        }
        if (r->chain != CX_GPU_CHECK_FAILED && (rc = verify_chain(certs, root, r, e)) != CX_OK)
            goto done;
    }
    if ((rc = verify_signature(report, rep, leaf, r, e)) != CX_OK)
        goto done;
    verify_fwid(rep, leaf, r, e);
    verify_versions(rep, o, r, e);
    verify_measurements(rep, o->reference, r, e);
    rc = r->failed[0] ? CX_ERR_VERIFY : CX_OK;
done:
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(roots, X509_free);
    return rc;
}
