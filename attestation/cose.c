/* cose.c — strict parser of AWS Nitro attestation documents: untagged (or tag 18) COSE_Sign1
 * around the CBOR AttestationDocument map (spec attestation.md §1.1–1.3), with libcbor. */
#include "attest_cbor.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ strict check -- */

#define CBOR_STACK_MAX 32

typedef struct strict_ctx {
    int ev;        /* what the last head was */
    uint64_t arg;  /* its count / value */
} strict_ctx;

enum { EV_SCALAR = 1, EV_ARRAY, EV_MAP, EV_TAG, EV_INDEF, EV_FLOAT };

static void cb_scalar8(void *c, uint8_t v) { ((strict_ctx *)c)->ev = EV_SCALAR; (void)v; }
static void cb_scalar16(void *c, uint16_t v) { ((strict_ctx *)c)->ev = EV_SCALAR; (void)v; }
static void cb_scalar32(void *c, uint32_t v) { ((strict_ctx *)c)->ev = EV_SCALAR; (void)v; }
static void cb_scalar64(void *c, uint64_t v) { ((strict_ctx *)c)->ev = EV_SCALAR; (void)v; }
static void cb_string(void *c, cbor_data d, size_t n) { ((strict_ctx *)c)->ev = EV_SCALAR; (void)d; (void)n; }
static void cb_indef(void *c) { ((strict_ctx *)c)->ev = EV_INDEF; }
static void cb_simple(void *c) { ((strict_ctx *)c)->ev = EV_SCALAR; }
static void cb_bool(void *c, bool b) { ((strict_ctx *)c)->ev = EV_SCALAR; (void)b; }
static void cb_float(void *c, float f) { ((strict_ctx *)c)->ev = EV_FLOAT; (void)f; }
static void cb_double(void *c, double f) { ((strict_ctx *)c)->ev = EV_FLOAT; (void)f; }
static void cb_array(void *c, size_t n) { ((strict_ctx *)c)->ev = EV_ARRAY; ((strict_ctx *)c)->arg = n; }
static void cb_map(void *c, size_t n) { ((strict_ctx *)c)->ev = EV_MAP; ((strict_ctx *)c)->arg = n; }
static void cb_tag(void *c, uint64_t t) { ((strict_ctx *)c)->ev = EV_TAG; ((strict_ctx *)c)->arg = t; }

static const struct cbor_callbacks strict_callbacks = {
    .uint8 = cb_scalar8, .uint16 = cb_scalar16, .uint32 = cb_scalar32, .uint64 = cb_scalar64,
    .negint8 = cb_scalar8, .negint16 = cb_scalar16, .negint32 = cb_scalar32,
    .negint64 = cb_scalar64, .byte_string_start = cb_indef, .byte_string = cb_string,
    .string = cb_string, .string_start = cb_indef, .indef_array_start = cb_indef,
    .array_start = cb_array, .indef_map_start = cb_indef, .map_start = cb_map, .tag = cb_tag,
    .float2 = cb_float, .float4 = cb_float, .float8 = cb_double, .undefined = cb_simple,
    .null = cb_simple, .boolean = cb_bool, .indef_break = cb_indef,
};

cx_err cx_cbor_check_strict(const uint8_t *buf, size_t len, unsigned max_depth, const char *what,
                            cx_error *e)
{
    uint64_t stack[CBOR_STACK_MAX];
    unsigned depth = 1;
    size_t off = 0;
    if (max_depth >= CBOR_STACK_MAX)
        max_depth = CBOR_STACK_MAX - 1;
    if (!buf || len == 0)
        return cx_error_set(e, CX_ERR_FORMAT, "format: %s: empty", what);
    stack[0] = 1; /* one top-level item */
    while (depth > 0) {
        if (off >= len)
            return cx_error_set(e, CX_ERR_FORMAT, "format: %s: truncated CBOR", what);
        strict_ctx c = {0};
        struct cbor_decoder_result r = cbor_stream_decode(buf + off, len - off, &strict_callbacks, &c);
        if (r.status == CBOR_DECODER_NEDATA)
            return cx_error_set(e, CX_ERR_FORMAT, "format: %s: truncated CBOR at byte %zu", what, off);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
            return cx_error_set(e, CX_ERR_FORMAT, "format: %s: malformed CBOR at byte %zu", what, off);
        if (c.ev == EV_INDEF)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "format: %s: indefinite-length item at byte %zu (not allowed)", what,
                                off);
        if (c.ev == EV_FLOAT)
            return cx_error_set(e, CX_ERR_FORMAT, "format: %s: floating-point item at byte %zu",
                                what, off);
        off += r.read;
        stack[depth - 1]--;
        size_t left = len - off;
        uint64_t need = 0;
        if (c.ev == EV_ARRAY)
            need = c.arg;
        else if (c.ev == EV_MAP) {
            if (c.arg > left / 2)
                return cx_error_set(e, CX_ERR_FORMAT, "format: %s: map count %llu exceeds input",
                                    what, (unsigned long long)c.arg);
            need = c.arg * 2;
        } else if (c.ev == EV_TAG)
            need = 1;
        if (need > left)
            return cx_error_set(e, CX_ERR_FORMAT, "format: %s: item count %llu exceeds input", what,
                                (unsigned long long)need);
        if (need > 0) {
            if (depth >= max_depth)
                return cx_error_set(e, CX_ERR_FORMAT, "format: %s: nesting deeper than %u", what,
                                    max_depth);
            stack[depth++] = need;
        }
        while (depth > 0 && stack[depth - 1] == 0)
            depth--;
    }
    if (off != len)
        return cx_error_set(e, CX_ERR_FORMAT, "format: %s: %zu trailing bytes after the CBOR item",
                            what, len - off);
    return CX_OK;
}

cx_err cx_cbor_load_strict(const uint8_t *buf, size_t len, unsigned max_depth, const char *what,
                           cbor_item_t **out, cx_error *e)
{
    *out = NULL;
    cx_err rc = cx_cbor_check_strict(buf, len, max_depth, what, e);
    if (rc != CX_OK)
        return rc;
    struct cbor_load_result res;
    cbor_item_t *it = cbor_load(buf, len, &res);
    if (!it || res.error.code != CBOR_ERR_NONE) {
        if (it)
            cbor_decref(&it);
        if (res.error.code == CBOR_ERR_MEMERROR)
            return cx_error_set(e, CX_ERR_NOMEM, "format: %s: out of memory decoding CBOR", what);
        return cx_error_set(e, CX_ERR_FORMAT, "format: %s: libcbor error %d at byte %zu", what,
                            (int)res.error.code, res.error.position);
    }
    if (res.read != len) {
        cbor_decref(&it);
        return cx_error_set(e, CX_ERR_FORMAT, "format: %s: trailing bytes", what);
    }
    *out = it;
    return CX_OK;
}

size_t cx_cbor_head(uint8_t *p, unsigned major, uint64_t arg)
{
    uint8_t mt = (uint8_t)(major << 5);
    if (arg < 24) {
        p[0] = (uint8_t)(mt | arg);
        return 1;
    }
    if (arg <= 0xff) {
        p[0] = mt | 24;
        p[1] = (uint8_t)arg;
        return 2;
    }
    if (arg <= 0xffff) {
        p[0] = mt | 25;
        p[1] = (uint8_t)(arg >> 8);
        p[2] = (uint8_t)arg;
        return 3;
    }
    size_t n = arg <= 0xffffffffu ? 4 : 8;
    p[0] = (uint8_t)(mt | (n == 4 ? 26 : 27));
    for (size_t i = 0; i < n; i++)
        p[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
    return 1 + n;
}

cx_err cx_cose_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
                             size_t payload_len, uint8_t **out, size_t *out_len, cx_error *e)
{
    static const char ctx[] = "Signature1";
    size_t cap = 1 + 1 + sizeof ctx - 1 + 9 + prot_len + 1 + 9 + payload_len;
    uint8_t *b = malloc(cap);
    if (!b)
        return cx_error_set(e, CX_ERR_NOMEM, "COSE Sig_structure: out of memory");
    size_t n = cx_cbor_head(b, 4, 4);
    n += cx_cbor_head(b + n, 3, sizeof ctx - 1);
    memcpy(b + n, ctx, sizeof ctx - 1);
    n += sizeof ctx - 1;
    n += cx_cbor_head(b + n, 2, prot_len);
    memcpy(b + n, prot, prot_len);
    n += prot_len;
    n += cx_cbor_head(b + n, 2, 0); /* external_aad = h'' */
    n += cx_cbor_head(b + n, 2, payload_len);
    memcpy(b + n, payload, payload_len);
    n += payload_len;
    *out = b;
    *out_len = n;
    return CX_OK;
}

int cx_cbor_text_is(const cbor_item_t *it, const char *s)
{
    size_t n = strlen(s);
    return cbor_isa_string(it) && cbor_string_is_definite(it) && cbor_string_length(it) == n &&
           memcmp(cbor_string_handle(it), s, n) == 0;
}

/* ----------------------------------------------------------- the document -- */

static const uint8_t ES384_PROTECTED[] = {0xa1, 0x01, 0x38, 0x22}; /* {1: -35} */
/* Sui requires these PCRs; a document without them could not register on chain. */
static const unsigned REQUIRED_PCRS[] = {0, 1, 2, 3, 4, 8};

static cx_err dup_bytes(const cbor_item_t *it, size_t min, size_t max, const char *key,
                        uint8_t **out, size_t *out_len, cx_error *e)
{
    if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
        return cx_error_set(e, CX_ERR_FORMAT, "format: %s: not a byte string", key);
    size_t n = cbor_bytestring_length(it);
    if (n < min || n > max)
        return cx_error_set(e, CX_ERR_FORMAT, "format: %s: %zu bytes (allowed %zu..%zu)", key, n,
                            min, max);
    uint8_t *p = malloc(n ? n : 1);
    if (!p)
        return cx_error_set(e, CX_ERR_NOMEM, "format: %s: out of memory", key);
    if (n)
        memcpy(p, cbor_bytestring_handle(it), n);
    *out = p;
    *out_len = n;
    return CX_OK;
}

static cx_err opt_bytes(const cbor_item_t *it, size_t min, size_t max, const char *key, int *has,
                        uint8_t **out, size_t *out_len, cx_error *e)
{
    if (cbor_is_null(it)) {
        *has = 0;
        return CX_OK;
    }
    cx_err rc = dup_bytes(it, min, max, key, out, out_len, e);
    if (rc == CX_OK)
        *has = 1;
    return rc;
}

static cx_err parse_pcrs(const cbor_item_t *m, cx_nitro_doc *d, cx_error *e)
{
    if (!cbor_isa_map(m) || !cbor_map_is_definite(m))
        return cx_error_set(e, CX_ERR_FORMAT, "format: pcrs: not a map");
    size_t n = cbor_map_size(m);
    if (n < 1 || n > CX_NITRO_PCR_COUNT)
        return cx_error_set(e, CX_ERR_FORMAT, "format: pcrs: %zu entries (allowed 1..32)", n);
    struct cbor_pair *p = cbor_map_handle(m);
    for (size_t i = 0; i < n; i++) {
        if (!cbor_isa_uint(p[i].key))
            return cx_error_set(e, CX_ERR_FORMAT, "format: pcrs: key is not an unsigned integer");
        uint64_t idx = cbor_get_int(p[i].key);
        if (idx >= CX_NITRO_PCR_COUNT)
            return cx_error_set(e, CX_ERR_FORMAT, "format: pcrs: index %llu out of range",
                                (unsigned long long)idx);
        if (d->pcr_present & (1u << idx))
            return cx_error_set(e, CX_ERR_FORMAT, "format: pcrs: duplicate index %llu",
                                (unsigned long long)idx);
        const cbor_item_t *v = p[i].value;
        if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v))
            return cx_error_set(e, CX_ERR_FORMAT, "format: pcrs: PCR%llu is not a byte string",
                                (unsigned long long)idx);
        size_t len = cbor_bytestring_length(v);
        if (len != 32 && len != 48 && len != 64)
            return cx_error_set(e, CX_ERR_FORMAT, "format: pcrs: PCR%llu has %zu bytes (32/48/64)",
                                (unsigned long long)idx, len);
        memcpy(d->pcr[idx], cbor_bytestring_handle(v), len);
        d->pcr_len[idx] = (uint8_t)len;
        d->pcr_present |= 1u << idx;
    }
    for (size_t i = 0; i < sizeof REQUIRED_PCRS / sizeof REQUIRED_PCRS[0]; i++)
        if (!(d->pcr_present & (1u << REQUIRED_PCRS[i])))
            return cx_error_set(e, CX_ERR_FORMAT, "format: pcrs: PCR%u missing", REQUIRED_PCRS[i]);
    return CX_OK;
}

static cx_err parse_cabundle(const cbor_item_t *a, cx_nitro_doc *d, cx_error *e)
{
    if (!cbor_isa_array(a) || !cbor_array_is_definite(a))
        return cx_error_set(e, CX_ERR_FORMAT, "format: cabundle: not an array");
    size_t n = cbor_array_size(a);
    if (n < 1 || n > CX_NITRO_CABUNDLE_MAX)
        return cx_error_set(e, CX_ERR_FORMAT, "format: cabundle: %zu certificates (allowed 1..%u)",
                            n, CX_NITRO_CABUNDLE_MAX);
    cbor_item_t **h = cbor_array_handle(a);
    for (size_t i = 0; i < n; i++) {
        cx_err rc = dup_bytes(h[i], 1, CX_NITRO_CERT_MAX, "cabundle entry", &d->cabundle[i],
                              &d->cabundle_len[i], e);
        if (rc != CX_OK)
            return rc;
        d->cabundle_count = i + 1;
    }
    return CX_OK;
}

enum {
    K_MODULE_ID = 1u << 0, K_DIGEST = 1u << 1, K_TIMESTAMP = 1u << 2, K_PCRS = 1u << 3,
    K_CERTIFICATE = 1u << 4, K_CABUNDLE = 1u << 5, K_PUBLIC_KEY = 1u << 6,
    K_USER_DATA = 1u << 7, K_NONCE = 1u << 8,
};
static const char *const KEY_NAMES[] = {"module_id", "digest", "timestamp", "pcrs", "certificate",
                                        "cabundle", "public_key", "user_data", "nonce"};
#define KEYS_REQUIRED (K_MODULE_ID | K_DIGEST | K_TIMESTAMP | K_PCRS | K_CERTIFICATE | K_CABUNDLE)

static cx_err parse_field(unsigned k, const cbor_item_t *v, cx_nitro_doc *d, cx_error *e)
{
    switch (k) {
    case K_MODULE_ID: {
        if (!cbor_isa_string(v) || !cbor_string_is_definite(v))
            return cx_error_set(e, CX_ERR_FORMAT, "format: module_id: not a text string");
        size_t n = cbor_string_length(v);
        if (n < 1 || n > CX_NITRO_MODULE_ID_MAX)
            return cx_error_set(e, CX_ERR_FORMAT, "format: module_id: %zu bytes (allowed 1..%u)", n,
                                CX_NITRO_MODULE_ID_MAX);
        if (memchr(cbor_string_handle(v), 0, n))
            return cx_error_set(e, CX_ERR_FORMAT, "format: module_id: contains NUL");
        d->module_id = malloc(n + 1);
        if (!d->module_id)
            return cx_error_set(e, CX_ERR_NOMEM, "format: module_id: out of memory");
        memcpy(d->module_id, cbor_string_handle(v), n);
        d->module_id[n] = 0;
        return CX_OK;
    }
    case K_DIGEST:
        if (!cx_cbor_text_is(v, "SHA384"))
            return cx_error_set(e, CX_ERR_FORMAT, "format: digest: not \"SHA384\"");
        memcpy(d->digest, "SHA384", 7);
        return CX_OK;
    case K_TIMESTAMP:
        if (!cbor_isa_uint(v) || cbor_get_int(v) == 0)
            return cx_error_set(e, CX_ERR_FORMAT, "format: timestamp: not a positive integer");
        d->timestamp_ms = cbor_get_int(v);
        return CX_OK;
    case K_PCRS:
        return parse_pcrs(v, d, e);
    case K_CERTIFICATE:
        return dup_bytes(v, 1, CX_NITRO_CERT_MAX, "certificate", &d->certificate,
                         &d->certificate_len, e);
    case K_CABUNDLE:
        return parse_cabundle(v, d, e);
    case K_PUBLIC_KEY:
        return opt_bytes(v, 1, CX_NITRO_FIELD_MAX, "public_key", &d->has_public_key,
                         &d->public_key, &d->public_key_len, e);
    case K_USER_DATA:
        return opt_bytes(v, 0, CX_NITRO_USER_DATA_MAX, "user_data", &d->has_user_data,
                         &d->user_data, &d->user_data_len, e);
    default:
        return opt_bytes(v, 0, CX_NITRO_USER_DATA_MAX, "nonce", &d->has_nonce, &d->nonce,
                         &d->nonce_len, e);
    }
}

static cx_err parse_payload(const uint8_t *buf, size_t len, cx_nitro_doc *d, cx_error *e)
{
    cbor_item_t *m = NULL;
    cx_err rc = cx_cbor_load_strict(buf, len, 4, "payload", &m, e);
    if (rc != CX_OK)
        return rc;
    unsigned seen = 0;
    if (!cbor_isa_map(m) || !cbor_map_is_definite(m)) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "format: payload: not a map");
        goto out;
    }
    size_t n = cbor_map_size(m);
    struct cbor_pair *p = cbor_map_handle(m);
    for (size_t i = 0; i < n && rc == CX_OK; i++) {
        unsigned k = 0;
        for (unsigned j = 0; j < sizeof KEY_NAMES / sizeof KEY_NAMES[0]; j++)
            if (cx_cbor_text_is(p[i].key, KEY_NAMES[j]))
                k = 1u << j;
        if (!k) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "format: payload: unknown or non-text key");
            break;
        }
        if (seen & k) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "format: payload: duplicate key");
            break;
        }
        seen |= k;
        rc = parse_field(k, p[i].value, d, e);
    }
    if (rc == CX_OK && (seen & KEYS_REQUIRED) != KEYS_REQUIRED) {
        for (unsigned j = 0; j < 6; j++)
            if (!(seen & (1u << j))) {
                rc = cx_error_set(e, CX_ERR_FORMAT, "format: payload: %s missing", KEY_NAMES[j]);
                break;
            }
    }
out:
    cbor_decref(&m);
    return rc;
}

void cx_nitro_doc_free(cx_nitro_doc *d)
{
    if (!d)
        return;
    free(d->module_id);
    free(d->certificate);
    for (size_t i = 0; i < d->cabundle_count; i++)
        free(d->cabundle[i]);
    free(d->public_key);
    free(d->user_data);
    free(d->nonce);
    free(d->protected_hdr);
    free(d->payload);
    memset(d, 0, sizeof *d);
}

cx_err cx_nitro_doc_parse(const uint8_t *buf, size_t len, cx_nitro_doc *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if (len > CX_NITRO_DOC_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "format: document of %zu bytes exceeds %u", len,
                            CX_NITRO_DOC_MAX);
    /* libcbor 0.8's decoder rejects the one-byte heads of tags 6..20, tag 18 (0xd2)
     * included, so the COSE_Sign1 tag is taken off here; other tag forms go to libcbor. */
    if (len > 0 && buf[0] == 0xd2) {
        buf++;
        len--;
    }
    cbor_item_t *root = NULL;
    cx_err rc = cx_cbor_load_strict(buf, len, 6, "COSE_Sign1", &root, e);
    if (rc != CX_OK)
        return rc;
    cbor_item_t *arr = root, *tagged = NULL;
    if (cbor_isa_tag(root)) {
        if (cbor_tag_value(root) != 18) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "format: COSE tag %llu (only 18 or none)",
                              (unsigned long long)cbor_tag_value(root));
            goto out;
        }
        tagged = cbor_tag_item(root);
        arr = tagged;
    }
    if (!cbor_isa_array(arr) || !cbor_array_is_definite(arr) || cbor_array_size(arr) != 4) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "format: COSE_Sign1 is not an array of 4");
        goto out;
    }
    cbor_item_t **it = cbor_array_handle(arr);
    if (!cbor_isa_bytestring(it[0]) || cbor_bytestring_length(it[0]) != sizeof ES384_PROTECTED ||
        memcmp(cbor_bytestring_handle(it[0]), ES384_PROTECTED, sizeof ES384_PROTECTED) != 0) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "format: protected header is not {1: -35} (ES384)");
        goto out;
    }
    if (!cbor_isa_map(it[1]) || cbor_map_size(it[1]) != 0) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "format: unprotected header is not an empty map");
        goto out;
    }
    if (!cbor_isa_bytestring(it[3]) || cbor_bytestring_length(it[3]) != CX_NITRO_SIG_LEN) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "format: signature is not 96 bytes (P-384 r||s)");
        goto out;
    }
    memcpy(out->signature, cbor_bytestring_handle(it[3]), CX_NITRO_SIG_LEN);
    rc = dup_bytes(it[0], 1, 64, "protected", &out->protected_hdr, &out->protected_hdr_len, e);
    if (rc == CX_OK)
        rc = dup_bytes(it[2], 1, CX_NITRO_PAYLOAD_MAX, "payload", &out->payload, &out->payload_len,
                       e);
    if (rc == CX_OK)
        rc = parse_payload(out->payload, out->payload_len, out, e);
    if (rc != CX_OK)
        goto out;
    int zero = 1;
    for (size_t i = 0; i < out->pcr_len[0]; i++)
        zero &= out->pcr[0][i] == 0;
    out->debug = zero;
    out->simulated = strncmp(out->module_id, CX_NITRO_SIM_MODULE_PREFIX,
                             strlen(CX_NITRO_SIM_MODULE_PREFIX)) == 0;
out:
    if (tagged)
        cbor_decref(&tagged);
    cbor_decref(&root);
    if (rc != CX_OK)
        cx_nitro_doc_free(out);
    return rc;
}
