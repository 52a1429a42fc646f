/* gpu_evidence.c — the de-facto GPU evidence JSON (spec attestation.md §3.7) that nvtrust,
 * NVAT and NRAS exchange, read strictly and written compatibly; and the §4.2 evidence digest. */
#include "cx_attest.h"

#include <string.h>

#include <openssl/evp.h>

#define EVIDENCE_MAX_GPUS 64
#define EVIDENCE_FILE_MAX (4u << 20)

void cx_gpu_evidence_list_free(cx_gpu_evidence_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].report);
        free(l->items[i].cert_chain);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static cx_err copy_str(char *dst, size_t cap, const char *src, const char *what, cx_error *e)
{
    if (!src) {
        dst[0] = '\0';
        return CX_OK;
    }
    size_t n = strlen(src);
    if (n >= cap)
        return cx_error_set(e, CX_ERR_FORMAT, "%s is too long (%zu bytes)", what, n);
    memcpy(dst, src, n + 1);
    return CX_OK;
}

cx_err cx_gpu_evidence_add(cx_gpu_evidence_list *l, const char *arch, const uint8_t *nonce,
                           const uint8_t *report, size_t report_len, const char *chain,
                           size_t chain_len, const char *driver, const char *vbios, cx_error *e)
{
    if (!l || !nonce || !report || !chain)
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_evidence_add: NULL argument");
    if (l->n >= EVIDENCE_MAX_GPUS)
        return cx_error_set(e, CX_ERR_LIMIT, "evidence: more than %d GPUs", EVIDENCE_MAX_GPUS);
    if (report_len == 0 || report_len > CX_GPU_REPORT_MAX)
        return cx_error_set(e, CX_ERR_FORMAT, "evidence: report of %zu bytes (1..%d allowed)",
                            report_len, CX_GPU_REPORT_MAX);
    if (chain_len == 0 || chain_len > CX_GPU_CHAIN_MAX || memchr(chain, 0, chain_len))
        return cx_error_set(e, CX_ERR_FORMAT,
                            "evidence: certificate chain of %zu bytes (1..%d of PEM text)",
                            chain_len, CX_GPU_CHAIN_MAX);
    cx_gpu_evidence ev;
    memset(&ev, 0, sizeof ev);
    if (copy_str(ev.arch, sizeof ev.arch, arch ? arch : "HOPPER", "evidence: arch", e) != CX_OK ||
        copy_str(ev.driver_version, sizeof ev.driver_version, driver, "evidence: driver_version",
                 e) != CX_OK ||
        copy_str(ev.vbios_version, sizeof ev.vbios_version, vbios, "evidence: vbios_version", e) !=
            CX_OK)
        return CX_ERR_FORMAT;
    memcpy(ev.nonce, nonce, CX_GPU_NONCE_LEN);
    cx_gpu_evidence *items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items)
        return cx_error_set(e, CX_ERR_NOMEM, "evidence: out of memory");
    l->items = items;
    ev.report = malloc(report_len);
    ev.cert_chain = malloc(chain_len + 1);
    if (!ev.report || !ev.cert_chain) {
        free(ev.report);
        free(ev.cert_chain);
        return cx_error_set(e, CX_ERR_NOMEM, "evidence: out of memory");
    }
    memcpy(ev.report, report, report_len);
    ev.report_len = report_len;
    memcpy(ev.cert_chain, chain, chain_len);
    ev.cert_chain[chain_len] = '\0';
    ev.cert_chain_len = chain_len;
    l->items[l->n++] = ev;
    return CX_OK;
}

/* One entry; `nonce_hex`/`arch` may come from the enclosing NRAS-style object. */
static cx_err parse_entry(const json_t *o, size_t i, const char *outer_nonce,
                          const char *outer_arch, cx_gpu_evidence_list *l, cx_error *e)
{
    if (!json_is_object(o))
        return cx_error_set(e, CX_ERR_FORMAT, "evidence[%zu]: expected an object", i);
    /* Unknown keys are tolerated: NVIDIA's tools add fields between versions. */
    const char *arch = outer_arch, *nonce_hex = outer_nonce, *ev_b64 = NULL, *cert_b64 = NULL,
               *drv = NULL, *vb = NULL;
    cx_err rc;
    if ((rc = cx_json_get_string(o, "arch", 0, &arch, e)) != CX_OK ||
        (rc = cx_json_get_string(o, "nonce", 0, &nonce_hex, e)) != CX_OK ||
        (rc = cx_json_get_string(o, "evidence", 1, &ev_b64, e)) != CX_OK ||
        (rc = cx_json_get_string(o, "certificate", 1, &cert_b64, e)) != CX_OK ||
        (rc = cx_json_get_string(o, "driver_version", 0, &drv, e)) != CX_OK ||
        (rc = cx_json_get_string(o, "vbios_version", 0, &vb, e)) != CX_OK)
        return cx_error_wrap(rc, e, "evidence[%zu]: ", i);
    if (!nonce_hex)
        return cx_error_set(e, CX_ERR_FORMAT, "evidence[%zu]: missing \"nonce\"", i);
    uint8_t nonce[CX_GPU_NONCE_LEN];
    size_t got = 0;
    if ((rc = cx_hex_decode(nonce_hex, strlen(nonce_hex), nonce, sizeof nonce, &got, e)) != CX_OK)
        return cx_error_wrap(rc, e, "evidence[%zu]: nonce: ", i);
    if (got != CX_GPU_NONCE_LEN)
        return cx_error_set(e, CX_ERR_FORMAT, "evidence[%zu]: nonce is %zu bytes, not %d", i, got,
                            CX_GPU_NONCE_LEN);
    /* Decoded sizes are bounded by the NVML buffers; oversized input is refused early. */
    size_t ev_cap = CX_GPU_REPORT_MAX, cert_cap = CX_GPU_CHAIN_MAX;
    if (strlen(ev_b64) > cx_base64_len(ev_cap, 0) || strlen(cert_b64) > cx_base64_len(cert_cap, 0))
        return cx_error_set(e, CX_ERR_FORMAT, "evidence[%zu]: evidence or certificate too large",
                            i);
    uint8_t *rep = malloc(ev_cap), *cert = malloc(cert_cap);
    size_t rep_len = 0, cert_len = 0;
    if (!rep || !cert) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "evidence: out of memory");
        goto done;
    }
    if ((rc = cx_base64_decode(ev_b64, strlen(ev_b64), rep, ev_cap, &rep_len, e)) != CX_OK) {
        cx_error_prefix(e, "evidence[%zu]: evidence: ", i);
        goto done;
    }
    if ((rc = cx_base64_decode(cert_b64, strlen(cert_b64), cert, cert_cap, &cert_len, e)) !=
        CX_OK) {
        cx_error_prefix(e, "evidence[%zu]: certificate: ", i);
        goto done;
    }
    if ((rc = cx_gpu_evidence_add(l, arch, nonce, rep, rep_len, (const char *)cert, cert_len, drv,
                                  vb, e)) != CX_OK)
        cx_error_prefix(e, "evidence[%zu]: ", i);
done:
    free(rep);
    free(cert);
    return rc;
}

cx_err cx_gpu_evidence_parse(const char *text, size_t len, cx_gpu_evidence_list *out, cx_error *e)
{
    if (!text || !out)
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_evidence_parse: NULL argument");
    memset(out, 0, sizeof *out);
    json_t *j = NULL;
    cx_err rc = cx_json_parse(text, len, &j, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "evidence: ");
    const json_t *list = j;
    const char *outer_nonce = NULL, *outer_arch = NULL;
    if (json_is_object(j)) {
        /* The NRAS request body: {"nonce", "arch", "evidence_list": [...]}. */
        list = json_object_get(j, "evidence_list");
        if ((rc = cx_json_get_string(j, "nonce", 0, &outer_nonce, e)) != CX_OK ||
            (rc = cx_json_get_string(j, "arch", 0, &outer_arch, e)) != CX_OK) {
            cx_error_prefix(e, "evidence: ");
            goto done;
        }
    }
    if (!json_is_array(list)) {
        rc = cx_error_set(e, CX_ERR_FORMAT,
                          "evidence: expected a JSON list of {arch, nonce, evidence, "
                          "certificate}");
        goto done;
    }
    if (json_array_size(list) == 0) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "evidence: the list is empty");
        goto done;
    }
    if (json_array_size(list) > EVIDENCE_MAX_GPUS) {
        rc = cx_error_set(e, CX_ERR_LIMIT, "evidence: more than %d GPUs", EVIDENCE_MAX_GPUS);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(list); i++)
        if ((rc = parse_entry(json_array_get(list, i), i, outer_nonce, outer_arch, out, e)) !=
            CX_OK)
            goto done;
done:
    json_decref(j);
    if (rc != CX_OK)
        cx_gpu_evidence_list_free(out);
    return rc;
}

cx_err cx_gpu_evidence_load(const char *path, cx_gpu_evidence_list *out, cx_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    cx_err rc = cx_file_read_all(path, EVIDENCE_FILE_MAX, &buf, &len, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "%s: ", path);
    rc = cx_gpu_evidence_parse((const char *)buf, len, out, e);
    free(buf);
    if (rc != CX_OK)
        cx_error_prefix(e, "%s: ", path);
    return rc;
}

cx_err cx_gpu_evidence_to_json(const cx_gpu_evidence_list *l, char **out, cx_error *e)
{
    *out = NULL;
    json_t *arr = json_array();
    if (!arr)
        return cx_error_set(e, CX_ERR_NOMEM, "evidence: out of memory");
    cx_err rc = CX_OK;
    for (size_t i = 0; i < l->n; i++) {
        const cx_gpu_evidence *ev = &l->items[i];
        char *nonce = cx_hex_dup(ev->nonce, CX_GPU_NONCE_LEN);
        char *rep = cx_base64_dup(ev->report, ev->report_len);
        char *cert = cx_base64_dup((const uint8_t *)ev->cert_chain, ev->cert_chain_len);
        json_t *o = nonce && rep && cert
                        ? json_pack("{s:s, s:s, s:s, s:s, s:s}", "arch", ev->arch, "nonce", nonce,
                                    "evidence", rep, "certificate", cert, "version", "1.0")
                        : NULL;
        free(nonce);
        free(rep);
        free(cert);
        if (!o ||
            (ev->driver_version[0] &&
             json_object_set_new(o, "driver_version", json_string(ev->driver_version)) != 0) ||
            (ev->vbios_version[0] &&
             json_object_set_new(o, "vbios_version", json_string(ev->vbios_version)) != 0) ||
            json_array_append_new(arr, o) != 0) {
            json_decref(o);
            rc = cx_error_set(e, CX_ERR_NOMEM, "evidence: out of memory building JSON");
            goto done;
        }
    }
    *out = cx_json_dumps(arr, 1);
    if (!*out)
        rc = cx_error_set(e, CX_ERR_NOMEM, "evidence: out of memory serialising JSON");
done:
    json_decref(arr);
    return rc;
}

cx_err cx_gpu_evidence_save(const char *path, const cx_gpu_evidence_list *l, cx_error *e)
{
    char *text = NULL;
    if (cx_gpu_evidence_to_json(l, &text, e) != CX_OK)
        return e ? e->code : CX_ERR_NOMEM;
    size_t n = strlen(text);
    text[n] = '\n';
    cx_err rc = cx_file_write_atomic(path, text, n + 1, 0644, e);
    free(text);
    return rc;
}

static int put_u32le(EVP_MD_CTX *md, size_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return EVP_DigestUpdate(md, b, 4);
}

cx_err cx_gpu_evidence_digest(const cx_gpu_evidence *items, size_t n,
                              uint8_t out[CX_GPU_DIGEST_LEN], cx_error *e)
{
    static const char label[] = "cloakx/gpu-evidence/v1"; /* hashed with its NUL: "..." 0x00 */
    if ((!items && n) || !out || n > UINT32_MAX)
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_evidence_digest: bad argument");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int olen = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha384(), NULL) == 1 &&
             EVP_DigestUpdate(md, label, sizeof label) == 1 && put_u32le(md, n) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        if (items[i].report_len > UINT32_MAX || items[i].cert_chain_len > UINT32_MAX) {
            EVP_MD_CTX_free(md);
            return cx_error_set(e, CX_ERR_LIMIT, "evidence digest: item %zu too large", i);
        }
        ok = put_u32le(md, items[i].report_len) == 1 &&
             EVP_DigestUpdate(md, items[i].report, items[i].report_len) == 1 &&
             put_u32le(md, items[i].cert_chain_len) == 1 &&
             EVP_DigestUpdate(md, items[i].cert_chain, items[i].cert_chain_len) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(md, out, &olen) == 1 && olen == CX_GPU_DIGEST_LEN;
    EVP_MD_CTX_free(md);
    if (!ok)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "evidence digest: SHA-384 failed");
    return CX_OK;
}
