/* bundle.c — the result bundle JSON (chain/RULES.md §5): the signed statement (its codec is
 * proto's), the enclave key and signature, the TEE and GPU reports and a multi-rank job's
 * per-rank attestations with their commitment (ranks_hash), strictly parsed. */
#include "cx_attest.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* --------------------------------------------------------------- ranks -- */

/* the domain of the ranks commitment (RULES.md §5), without a NUL */
#define CX_RANKS_DOMAIN "cloakx/ranks/v1"

static void put_u32le(uint8_t b[4], uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* What every list of ranks must be, written or hashed: 1..CX_BUNDLE_MAX_RANKS entries, rank i
 * at index i, a document each, GPU evidence bytes where a length is given. */
static cx_err ranks_shape(const cx_bundle_rank *r, size_t n, cx_error *e)
{
    if (n < 1 || n > CX_BUNDLE_MAX_RANKS || !r)
        return cx_error_set(e, CX_ERR_ARG, "bundle ranks: 1..%d ranks", CX_BUNDLE_MAX_RANKS);
    for (size_t i = 0; i < n; i++) {
        if (r[i].rank != i)
            return cx_error_set(e, CX_ERR_ARG,
                                "bundle ranks[%zu]: rank %u, not %zu (ranks 0..n-1 in order)", i,
                                r[i].rank, i);
        if (!r[i].document || !r[i].document_len)
            return cx_error_set(e, CX_ERR_ARG, "bundle ranks[%zu]: no attestation document", i);
        if (r[i].gpu_evidence_len && !r[i].gpu_evidence)
            return cx_error_set(e, CX_ERR_ARG, "bundle ranks[%zu]: GPU evidence length, no bytes",
                                i);
    }
    return CX_OK;
}

static int sha256(EVP_MD_CTX *c, const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned len = 0;
    return EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(c, p, n) == 1 &&
           EVP_DigestFinal_ex(c, out, &len) == 1 && len == 32;
}

cx_err cx_bundle_ranks_hash(const cx_bundle_rank *r, size_t n, uint8_t out[32], cx_error *e)
{
    cx_err rc = ranks_shape(r, n, e);
    if (rc != CX_OK)
        return rc;
    EVP_MD_CTX *outer = EVP_MD_CTX_new(), *inner = EVP_MD_CTX_new();
    uint8_t u32[4], h[32];
    int ok = outer && inner && EVP_DigestInit_ex(outer, EVP_sha256(), NULL) == 1;
    put_u32le(u32, (uint32_t)n);
    ok = ok && EVP_DigestUpdate(outer, CX_RANKS_DOMAIN, strlen(CX_RANKS_DOMAIN)) == 1 &&
         EVP_DigestUpdate(outer, u32, 4) == 1;
    for (size_t i = 0; ok && i < n; i++) {
        put_u32le(u32, r[i].rank);
        ok = EVP_DigestUpdate(outer, u32, 4) == 1 &&
             EVP_DigestUpdate(outer, r[i].x25519, sizeof r[i].x25519) == 1 &&
             sha256(inner, r[i].document, r[i].document_len, h) &&
             EVP_DigestUpdate(outer, h, 32) == 1;
        /* no GPU evidence: 32 zero bytes, never the hash of empty bytes */
        memset(h, 0, sizeof h);
        if (ok && r[i].gpu_evidence_len)
            ok = sha256(inner, r[i].gpu_evidence, r[i].gpu_evidence_len, h);
        ok = ok && EVP_DigestUpdate(outer, h, 32) == 1;
    }
    unsigned len = 0;
    ok = ok && EVP_DigestFinal_ex(outer, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(outer);
    EVP_MD_CTX_free(inner);
    if (!ok)
        return cx_error_set(e, CX_ERR_CRYPTO, "bundle ranks: SHA-256 failed");
    return CX_OK;
}

/* -------------------------------------------------------------- bundle -- */

#define CX_BUNDLE_FORMAT "cloakx-result-bundle/1"

/* takes ownership of v (NULL = an allocation already failed) */
static int put_str(json_t *o, const char *k, char *v)
{
    int rc = v ? json_object_set_new(o, k, json_string(v)) : -1;
    free(v);
    return rc;
}

/* The writer's checks of the ranks: the shape, and the sizes the parser takes. */
static cx_err ranks_write_check(const cx_bundle_rank *r, size_t n, cx_error *e)
{
    cx_err rc = ranks_shape(r, n, e);
    if (rc != CX_OK)
        return rc;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].document_len > CX_BUNDLE_REPORT_MAX ||
            r[i].gpu_evidence_len > CX_BUNDLE_REPORT_MAX)
            return cx_error_set(
                e, CX_ERR_LIMIT,
                "bundle ranks[%zu]: document and GPU evidence at most %d bytes each", i,
                CX_BUNDLE_REPORT_MAX);
        total += r[i].document_len + r[i].gpu_evidence_len;
        if (total > CX_BUNDLE_RANKS_MAX)
            return cx_error_set(e, CX_ERR_LIMIT, "bundle ranks: over %d bytes together",
                                CX_BUNDLE_RANKS_MAX);
    }
    return CX_OK;
}

static json_t *ranks_json(const cx_bundle_rank *r, size_t n)
{
    json_t *a = json_array();
    int bad = !a;
    for (size_t i = 0; !bad && i < n; i++) {
        json_t *x = json_object();
        if (!x || json_array_append_new(a, x) != 0) {
            bad = 1;
            break;
        }
        bad |= json_object_set_new(x, "rank", json_integer((json_int_t)r[i].rank)) != 0;
        bad |= put_str(x, "x25519", cx_hex_dup(r[i].x25519, sizeof r[i].x25519)) != 0;
        bad |= put_str(x, "document", cx_base64_dup(r[i].document, r[i].document_len)) != 0;
        if (r[i].gpu_evidence_len)
            bad |= put_str(x, "gpu_evidence",
                           cx_base64_dup(r[i].gpu_evidence, r[i].gpu_evidence_len)) != 0;
    }
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

cx_err cx_result_bundle_to_json(const cx_result_bundle *b, char **out, cx_error *e)
{
    *out = NULL;
    if (!b->statement || !b->statement_len || !b->tee_report || !b->tee_report_len)
        return cx_error_set(e, CX_ERR_ARG, "bundle: statement and TEE report are required");
    if (b->n_ranks || b->ranks) {
        cx_err rc = ranks_write_check(b->ranks, b->n_ranks, e);
        if (rc != CX_OK)
            return rc;
    }
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
    if (b->n_ranks) {
        json_t *a = ranks_json(b->ranks, b->n_ranks);
        bad |= !a || json_object_set_new(o, "ranks", a) != 0;
    }
    char *text = bad ? NULL : cx_json_dumps(o, 1);
    json_decref(o);
    if (!text)
        return cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
    *out = text;
    return CX_OK;
}

/* where: "bundle" or "bundle ranks[i]", the prefix of the messages */
static cx_err hex_field(const json_t *o, const char *where, const char *k, uint8_t *dst,
                        size_t want, cx_error *e)
{
    const char *s = NULL;
    cx_err rc = cx_json_get_string(o, k, 1, &s, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "%s: ", where);
    size_t got = 0;
    if (strlen(s) != 2 * want || (rc = cx_hex_decode(s, strlen(s), dst, want, &got, e)) != CX_OK ||
        got != want)
        return cx_error_set(e, CX_ERR_FORMAT, "%s: \"%s\" must be %zu bytes of hex", where, k,
                            want);
    return CX_OK;
}

static cx_err b64_field(const json_t *o, const char *where, const char *k, size_t max,
                        uint8_t **dst, size_t *n, cx_error *e)
{
    const char *s = NULL;
    cx_err rc = cx_json_get_string(o, k, 1, &s, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "%s: ", where);
    size_t sl = strlen(s);
    /* the decoded length, padding not counted: max bytes exactly may come with padding */
    size_t pad = (sl >= 1 && s[sl - 1] == '=') + (sl >= 2 && s[sl - 2] == '=');
    size_t most = sl / 4 * 3 + (sl % 4 ? sl % 4 - 1 : 0);
    most = most > pad ? most - pad : 0;
    if (sl == 0 || most > max)
        return cx_error_set(e, CX_ERR_FORMAT, "%s: \"%s\" must be 1..%zu bytes of base64", where, k,
                            max);
    *dst = malloc(sl / 4 * 3 + 3);
    if (!*dst)
        return cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
    if ((rc = cx_base64_decode(s, sl, *dst, sl / 4 * 3 + 3, n, e)) != CX_OK || *n == 0 ||
        *n > max) {
        free(*dst);
        *dst = NULL;
        return cx_error_set(e, CX_ERR_FORMAT, "%s: \"%s\" is not valid base64", where, k);
    }
    return CX_OK;
}

/* "ranks": 1..CX_BUNDLE_MAX_RANKS objects of exactly rank (= the index), x25519 (32 bytes of
 * hex), document (base64) and an optional gpu_evidence (base64, or null), the documents and
 * evidence at most CX_BUNDLE_REPORT_MAX bytes each and CX_BUNDLE_RANKS_MAX together. */
static cx_err ranks_parse(const json_t *a, cx_result_bundle *b, cx_error *e)
{
    static const char *const keys[] = {"rank", "x25519", "document", "gpu_evidence", NULL};
    size_t n = json_is_array(a) ? json_array_size(a) : 0;
    if (n < 1 || n > CX_BUNDLE_MAX_RANKS)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "bundle: \"ranks\" must be an array of 1..%d ranks (a one-rank job "
                            "has no \"ranks\")",
                            CX_BUNDLE_MAX_RANKS);
    b->ranks = calloc(n, sizeof *b->ranks);
    if (!b->ranks)
        return cx_error_set(e, CX_ERR_NOMEM, "bundle: out of memory");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(a, i);
        cx_bundle_rank *r = &b->ranks[i];
        b->n_ranks = i + 1; /* what a failure below leaves allocated is freed with the bundle */
        char where[40];
        snprintf(where, sizeof where, "bundle ranks[%zu]", i);
        int64_t rank = -1;
        cx_err rc = cx_json_check_keys(x, keys, where, e);
        if (rc == CX_OK &&
            (rc = cx_json_get_int(x, "rank", 1, 0, CX_BUNDLE_MAX_RANKS - 1, &rank, e)) != CX_OK)
            rc = cx_error_prefix(e, "%s: ", where);
        if (rc != CX_OK)
            return rc;
        if ((size_t)rank != i)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "%s: \"rank\" is %lld, not %zu (ranks 0..n-1 in order)", where,
                                (long long)rank, i);
        r->rank = (uint32_t)rank;
        if ((rc = hex_field(x, where, "x25519", r->x25519, sizeof r->x25519, e)) != CX_OK ||
            (rc = b64_field(x, where, "document", CX_BUNDLE_REPORT_MAX, &r->document,
                            &r->document_len, e)) != CX_OK)
            return rc;
        const json_t *g = json_object_get(x, "gpu_evidence");
        if (g && !json_is_null(g) &&
            (rc = b64_field(x, where, "gpu_evidence", CX_BUNDLE_REPORT_MAX, &r->gpu_evidence,
                            &r->gpu_evidence_len, e)) != CX_OK)
            return rc;
        total += r->document_len + r->gpu_evidence_len;
        if (total > CX_BUNDLE_RANKS_MAX)
            return cx_error_set(e, CX_ERR_LIMIT,
                                "bundle: \"ranks\" hold over %d bytes of documents and evidence",
                                CX_BUNDLE_RANKS_MAX);
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
    static const char *const keys[] = {"format",       "statement",  "signature",
                                       "public_key",   "enclave_id", "tee_report",
                                       "gpu_evidence", "ranks",      NULL};
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
    if ((rc = hex_field(o, "bundle", "signature", b->signature, sizeof b->signature, e)) != CX_OK ||
        (rc = hex_field(o, "bundle", "public_key", b->public_key, sizeof b->public_key, e)) !=
            CX_OK)
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
    if ((rc = b64_field(o, "bundle", "tee_report", CX_BUNDLE_REPORT_MAX, &b->tee_report,
                        &b->tee_report_len, e)) != CX_OK)
        goto out;
    json_t *g = json_object_get(o, "gpu_evidence");
    if (g && !json_is_null(g) &&
        (rc = b64_field(o, "bundle", "gpu_evidence", CX_BUNDLE_REPORT_MAX, &b->gpu_evidence,
                        &b->gpu_evidence_len, e)) != CX_OK)
        goto out;
    json_t *ranks = json_object_get(o, "ranks");
    if (ranks && (rc = ranks_parse(ranks, b, e)) != CX_OK)
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
    for (size_t i = 0; b->ranks && i < b->n_ranks; i++) {
        free(b->ranks[i].document);
        free(b->ranks[i].gpu_evidence);
    }
    free(b->ranks);
    memset(b, 0, sizeof *b);
}
