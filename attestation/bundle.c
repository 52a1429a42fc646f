/* bundle.c — the result bundle JSON (chain/RULES.md §5): the signed statement (its codec is
 * proto's), the enclave key and signature and the TEE and GPU reports, strictly parsed. */
#include "cx_attest.h"

#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- bundle -- */

#define CX_BUNDLE_FORMAT "cloakx-result-bundle/1"

/* takes ownership of v (NULL = an allocation already failed) */
static int put_str(json_t *o, const char *k, char *v)
{
    int rc = v ? json_object_set_new(o, k, json_string(v)) : -1;
    free(v);
    return rc;
}

cx_err cx_result_bundle_to_json(const cx_result_bundle *b, char **out, cx_error *e)
{
    *out = NULL;
    if (!b->statement || !b->statement_len || !b->tee_report || !b->tee_report_len)
        return cx_error_set(e, CX_ERR_ARG, "bundle: statement and TEE report are required");
    json_t *o = json_object();
    if (!o)
        return cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
    int bad = json_object_set_new(o, "format", json_string(CX_BUNDLE_FORMAT)) != 0;
    bad |= put_str(o, "statement", cx_hex_dup(b->statement, b->statement_len)) != 0;
    bad |= put_str(o, "signature", cx_hex_dup(b->signature, sizeof b->signature)) != 0;
    bad |= put_str(o, "public_key", cx_hex_dup(b->public_key, sizeof b->public_key)) != 0;
    if (b->has_enclave_id) {
        char id[CX_ADDR_HEX_LEN + 1];
        cx_addr_to_hex(b->enclave_id, id);
        bad |= json_object_set_new(o, "enclave_id", json_string(id)) != 0;
    }
    bad |= put_str(o, "tee_report", cx_base64_dup(b->tee_report, b->tee_report_len)) != 0;
    if (b->gpu_evidence && b->gpu_evidence_len)
        bad |= put_str(o, "gpu_evidence", cx_base64_dup(b->gpu_evidence, b->gpu_evidence_len)) != 0;
    else
        bad |= json_object_set_new(o, "gpu_evidence", json_null()) != 0;
    char *text = bad ? NULL : cx_json_dumps(o, 1);
    json_decref(o);
    if (!text)
        return cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
    *out = text;
    return CX_OK;
}

static cx_err hex_field(const json_t *o, const char *k, uint8_t *dst, size_t want, cx_error *e)
{
    const char *s = NULL;
    cx_err rc = cx_json_get_string(o, k, 1, &s, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "bundle: ");
    size_t got = 0;
    if (strlen(s) != 2 * want || (rc = cx_hex_decode(s, strlen(s), dst, want, &got, e)) != CX_OK ||
        got != want)
        return cx_error_set(e, CX_ERR_FORMAT, "bundle: \"%s\" must be %zu bytes of hex", k, want);
    return CX_OK;
}

static cx_err b64_field(const json_t *o, const char *k, size_t max, uint8_t **dst, size_t *n,
                        cx_error *e)
{
    const char *s = NULL;
    cx_err rc = cx_json_get_string(o, k, 1, &s, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "bundle: ");
    size_t sl = strlen(s);
    /* the decoded length, padding not counted: max bytes exactly may come with padding */
    size_t pad = (sl >= 1 && s[sl - 1] == '=') + (sl >= 2 && s[sl - 2] == '=');
    size_t most = sl / 4 * 3 + (sl % 4 ? sl % 4 - 1 : 0);
    most = most > pad ? most - pad : 0;
    if (sl == 0 || most > max)
        return cx_error_set(e, CX_ERR_FORMAT, "bundle: \"%s\" must be 1..%zu bytes of base64", k,
                            max);
    *dst = malloc(sl / 4 * 3 + 3);
    if (!*dst)
        return cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
    if ((rc = cx_base64_decode(s, sl, *dst, sl / 4 * 3 + 3, n, e)) != CX_OK || *n == 0 ||
        *n > max) {
        free(*dst);
        *dst = NULL;
        return cx_error_set(e, CX_ERR_FORMAT, "bundle: \"%s\" is not valid base64", k);
    }
    return CX_OK;
}

cx_err cx_result_bundle_parse(const char *text, size_t len, cx_result_bundle *b, cx_error *e)
{
    memset(b, 0, sizeof *b);
    if (len > CX_BUNDLE_MAX_BYTES)
        return cx_error_set(e, CX_ERR_LIMIT, "bundle: larger than %d bytes", CX_BUNDLE_MAX_BYTES);
    json_t *o = NULL;
    cx_err rc = cx_json_parse(text, len, &o, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "bundle: ");
    static const char *const keys[] = {"format",     "statement",  "signature",    "public_key",
                                       "enclave_id", "tee_report", "gpu_evidence", NULL};
    const char *fmt = NULL, *st = NULL, *eid = NULL;
    if ((rc = cx_json_check_keys(o, keys, "bundle", e)) != CX_OK)
        goto out;
    if ((rc = cx_json_get_string(o, "format", 1, &fmt, e)) != CX_OK)
        goto out;
    if (strcmp(fmt, CX_BUNDLE_FORMAT) != 0) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "bundle: format must be \"%s\"", CX_BUNDLE_FORMAT);
        goto out;
    }
    if ((rc = cx_json_get_string(o, "statement", 1, &st, e)) != CX_OK)
        goto out;
    size_t sl = strlen(st);
    if (sl / 2 > CX_BUNDLE_STATEMENT_MAX) {
        rc = cx_error_set(e, CX_ERR_LIMIT, "bundle: \"statement\" is over %d bytes",
                          CX_BUNDLE_STATEMENT_MAX);
        goto out;
    }
    if (sl == 0 || sl % 2) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "bundle: \"statement\" must be non-empty hex");
        goto out;
    }
    b->statement = malloc(sl / 2);
    if (!b->statement) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
        goto out;
    }
    if ((rc = cx_hex_decode(st, sl, b->statement, sl / 2, &b->statement_len, e)) != CX_OK) {
        rc = cx_error_prefix(e, "bundle: \"statement\": ");
        goto out;
    }
    cx_statement probe;
    if ((rc = cx_statement_decode(b->statement, b->statement_len, &probe, NULL, e)) != CX_OK) {
        rc = cx_error_prefix(e, "bundle: ");
        goto out;
    }
    cx_statement_free(&probe);
    if ((rc = hex_field(o, "signature", b->signature, sizeof b->signature, e)) != CX_OK ||
        (rc = hex_field(o, "public_key", b->public_key, sizeof b->public_key, e)) != CX_OK)
        goto out;
    if ((rc = cx_json_get_string(o, "enclave_id", 0, &eid, e)) != CX_OK)
        goto out;
    if (eid) {
        if (cx_addr_from_hex(eid, b->enclave_id, NULL) != CX_OK) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "bundle: \"enclave_id\" must be 0x + 64 hex");
            goto out;
        }
        b->has_enclave_id = 1;
    }
    if ((rc = b64_field(o, "tee_report", CX_BUNDLE_REPORT_MAX, &b->tee_report, &b->tee_report_len,
                        e)) != CX_OK)
        goto out;
    json_t *g = json_object_get(o, "gpu_evidence");
    if (g && !json_is_null(g) &&
        (rc = b64_field(o, "gpu_evidence", CX_BUNDLE_REPORT_MAX, &b->gpu_evidence,
                        &b->gpu_evidence_len, e)) != CX_OK)
        goto out;
out:
    json_decref(o);
    if (rc != CX_OK)
        cx_result_bundle_free(b);
    return rc;
}

cx_err cx_result_bundle_write(const cx_result_bundle *b, const char *path, cx_error *e)
{
    char *text = NULL;
    cx_err rc = cx_result_bundle_to_json(b, &text, e);
    if (rc != CX_OK)
        return rc;
    size_t n = strlen(text);
    rc = cx_file_write_atomic(path, text, n, 0644, e);
    free(text);
    return rc;
}

cx_err cx_result_bundle_read(const char *path, cx_result_bundle *out, cx_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    cx_err rc = cx_file_read_all(path, CX_BUNDLE_MAX_BYTES, &buf, &len, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_result_bundle_parse((const char *)buf, len, out, e);
    free(buf);
    if (rc != CX_OK)
        cx_error_prefix(e, "%s: ", path);
    return rc;
}

void cx_result_bundle_free(cx_result_bundle *b)
{
    if (!b)
        return;
    free(b->statement);
    free(b->tee_report);
    free(b->gpu_evidence);
    memset(b, 0, sizeof *b);
}
