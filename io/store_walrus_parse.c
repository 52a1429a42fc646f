/* store_walrus_parse.c — parsers for the bytes a Walrus publisher/aggregator sends back
 * (store results, JSON error bodies) and for CloakX's own manifest blobs; fuzzed. */
#include "store_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *json_str(const json_t *o, const char *key)
{
    const json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Keep untrusted text printable and short before it goes into an error message. */
static void sanitize(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (cap)
        out[o] = 0;
}

void cx_walrus_error_text(const char *body, size_t len, char *msg, size_t cap)
{
    if (!cap)
        return;
    msg[0] = 0;
    if (!body || len == 0) {
        snprintf(msg, cap, "(no body)");
        return;
    }
    json_t *j = NULL;
    if (cx_json_parse(body, len, &j, NULL) == CX_OK) {
        const json_t *err = json_object_get(j, "error");
        const char *m = json_str(err, "message"), *st = json_str(err, "status");
        const char *em = json_str(err, "errorMsg"), *ph = json_str(err, "failurePhase");
        const char *reason = NULL;
        const json_t *det = json_is_object(err) ? json_object_get(err, "details") : NULL;
        if (json_is_array(det) && json_array_size(det) > 0)
            reason = json_str(json_array_get(det, 0), "reason");
        char tmp[256];
        if (m) {
            sanitize(m, strlen(m), tmp, sizeof tmp);
            snprintf(msg, cap, "%s%s%s%s%s", st ? st : "error", ": ", tmp, reason ? " reason " : "",
                     reason ? reason : "");
            sanitize(msg, strlen(msg), msg, cap);
            json_decref(j);
            return;
        }
        if (em) {
            sanitize(em, strlen(em), tmp, sizeof tmp);
            snprintf(msg, cap, "failed%s%s: %s", ph ? " in phase " : "", ph ? ph : "", tmp);
            sanitize(msg, strlen(msg), msg, cap);
            json_decref(j);
            return;
        }
        json_decref(j);
    }
    sanitize(body, len < 200 ? len : 200, msg, cap);
}

cx_err cx_walrus_parse_store_response(long http_status, const char *body, size_t len,
                                      char id[CX_STORE_ID_MAX], cx_walrus_result *kind, cx_error *e)
{
    id[0] = 0;
    json_t *j = NULL;
    int ok_status = http_status >= 200 && http_status < 300;
    if (cx_json_parse(body, len, &j, NULL) != CX_OK || !json_is_object(j)) {
        json_decref(j);
        char t[256];
        cx_walrus_error_text(body, len, t, sizeof t);
        if (!ok_status)
            return cx_error_set(e, http_status == 413 ? CX_ERR_LIMIT : CX_ERR_NET,
                                "publisher answered HTTP %ld: %s", http_status, t);
        return cx_error_set(e, CX_ERR_FORMAT, "publisher answer is not a JSON object: %s", t);
    }
    const json_t *nc = json_object_get(j, "newlyCreated");
    const json_t *ac = json_object_get(j, "alreadyCertified");
    const json_t *mi = json_object_get(j, "markedInvalid");
    const json_t *er = json_object_get(j, "error");
    const char *bid = NULL;
    cx_err rc = CX_OK;
    if (er || !ok_status) {
        char t[300];
        cx_walrus_error_text(body, len, t, sizeof t);
        rc = cx_error_set(e, http_status == 413 ? CX_ERR_LIMIT : CX_ERR_NET,
                          "publisher did not store the blob (HTTP %ld): %s", http_status, t);
        goto out;
    }
    if (json_object_size(j) != 1) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "publisher answer has %zu top-level keys, expected 1",
                          json_object_size(j));
        goto out;
    }
    if (mi) {
        const char *b = json_str(mi, "blobId");
        char t[CX_STORE_ID_MAX];
        sanitize(b ? b : "?", b ? strlen(b) : 1, t, sizeof t);
        rc = cx_error_set(e, CX_ERR_VERIFY, "publisher reports blob %s as markedInvalid", t);
        goto out;
    }
    if (nc) {
        bid = json_str(json_object_get(nc, "blobObject"), "blobId");
        *kind = CX_WALRUS_NEWLY_CREATED;
    } else if (ac) {
        bid = json_str(ac, "blobId");
        *kind = CX_WALRUS_ALREADY_CERTIFIED;
    } else {
        rc = cx_error_set(e, CX_ERR_FORMAT,
                          "publisher answer has none of newlyCreated, alreadyCertified, "
                          "markedInvalid, error");
        goto out;
    }
    if (!bid || !cx_store_id_valid(bid)) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "publisher answer carries no valid blobId");
        goto out;
    }
    snprintf(id, CX_STORE_ID_MAX, "%s", bid);
out:
    json_decref(j);
    return rc;
}

void cx_walrus_manifest_free(cx_walrus_manifest *m)
{
    if (!m)
        return;
    free(m->parts);
    memset(m, 0, sizeof *m);
}

cx_err cx_walrus_manifest_parse(const uint8_t *buf, size_t len, cx_walrus_manifest *m, cx_error *e)
{
    memset(m, 0, sizeof *m);
    const size_t ml = sizeof CX_WALRUS_MANIFEST_MAGIC - 1;
    if (len < ml || memcmp(buf, CX_WALRUS_MANIFEST_MAGIC, ml) != 0)
        return cx_error_set(e, CX_ERR_FORMAT, "manifest: missing the magic line");
    if (len > CX_WALRUS_MAX_BODY)
        return cx_error_set(e, CX_ERR_LIMIT, "manifest: %zu bytes, over the %u-byte limit", len,
                            CX_WALRUS_MAX_BODY);
    json_t *j = NULL;
    cx_err rc = cx_json_parse((const char *)buf + ml, len - ml, &j, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "manifest: ");
    static const char *const top_keys[] = {"size", "part_size", "parts", NULL};
    static const char *const part_keys[] = {"blob_id", "size", "sha256", NULL};
    int64_t size = 0, psz = 0;
    if ((rc = cx_json_check_keys(j, top_keys, "manifest", e)) != CX_OK ||
        (rc = cx_json_get_int(j, "size", 1, 1, INT64_MAX, &size, e)) != CX_OK ||
        (rc = cx_json_get_int(j, "part_size", 1, 1, CX_WALRUS_MAX_BODY, &psz, e)) != CX_OK)
        goto fail;
    const json_t *parts = json_object_get(j, "parts");
    size_t n = json_array_size(parts);
    if (!json_is_array(parts) || n == 0 || n > CX_WALRUS_MANIFEST_MAX_PARTS) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "manifest: \"parts\" must be an array of 1..%u",
                          CX_WALRUS_MANIFEST_MAX_PARTS);
        goto fail;
    }
    m->parts = calloc(n, sizeof *m->parts);
    if (!m->parts) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "manifest with %zu parts", n);
        goto fail;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(parts, i);
        const char *bid = NULL, *sha = NULL;
        int64_t ps = 0;
        char where[48];
        snprintf(where, sizeof where, "manifest part %zu", i);
        if ((rc = cx_json_check_keys(p, part_keys, where, e)) != CX_OK ||
            (rc = cx_json_get_string(p, "blob_id", 1, &bid, e)) != CX_OK ||
            (rc = cx_json_get_int(p, "size", 1, 1, psz, &ps, e)) != CX_OK ||
            (rc = cx_json_get_string(p, "sha256", 1, &sha, e)) != CX_OK) {
            cx_error_prefix(e, "%s: ", where);
            goto fail;
        }
        if (!cx_store_id_valid(bid)) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "%s: blob_id is not a Walrus blob id", where);
            goto fail;
        }
        size_t dl = 0;
        if (strlen(sha) != 64 ||
            cx_hex_decode(sha, 64, m->parts[i].sha256, 32, &dl, NULL) != CX_OK || dl != 32) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "%s: sha256 must be 64 hex digits", where);
            goto fail;
        }
        snprintf(m->parts[i].blob_id, CX_STORE_ID_MAX, "%s", bid);
        m->parts[i].size = (uint64_t)ps;
        sum += (uint64_t)ps; /* <= 65536 * 10 MiB: no overflow */
    }
    if (sum != (uint64_t)size) {
        rc = cx_error_set(e, CX_ERR_FORMAT,
                          "manifest: parts add up to %" PRIu64 " bytes but size is %" PRId64, sum,
                          size);
        goto fail;
    }
    m->size = (uint64_t)size;
    m->part_size = (uint64_t)psz;
    m->nparts = (uint32_t)n;
    json_decref(j);
    return CX_OK;
fail:
    json_decref(j);
    cx_walrus_manifest_free(m);
    return rc;
}

cx_err cx_walrus_manifest_encode(const cx_walrus_manifest *m, char **out, size_t *len, cx_error *e)
{
    *out = NULL;
    *len = 0;
    json_t *arr = json_array();
    json_t *top = arr ? json_pack("{s:I,s:I}", "size", (json_int_t)m->size, "part_size",
                                  (json_int_t)m->part_size)
                      : NULL;
    if (!top || json_object_set(top, "parts", arr) != 0)
        goto nomem;
    for (uint32_t i = 0; i < m->nparts; i++) {
        char hex[65];
        if (cx_hex_encode(m->parts[i].sha256, 32, hex, sizeof hex, e) != CX_OK)
            goto fail;
        json_t *p = json_pack("{s:s,s:I,s:s}", "blob_id", m->parts[i].blob_id, "size",
                              (json_int_t)m->parts[i].size, "sha256", hex);
        if (!p || json_array_append_new(arr, p) != 0)
            goto nomem;
    }
    char *js = cx_json_dumps(top, 0);
    if (!js)
        goto nomem;
    const size_t ml = sizeof CX_WALRUS_MANIFEST_MAGIC - 1, jl = strlen(js);
    char *buf = malloc(ml + jl + 1);
    if (!buf) {
        free(js);
        goto nomem;
    }
    memcpy(buf, CX_WALRUS_MANIFEST_MAGIC, ml);
    memcpy(buf + ml, js, jl + 1);
    free(js);
    json_decref(arr);
    json_decref(top);
    *out = buf;
    *len = ml + jl;
    return CX_OK;
nomem:
    cx_error_set(e, CX_ERR_NOMEM, "encoding a manifest of %u parts", m->nparts);
fail:
    json_decref(arr);
    json_decref(top);
    return e ? e->code : CX_ERR_NOMEM;
}
