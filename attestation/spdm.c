/* spdm.c — parser of the H100 attestation report: SPDM 1.1 GET_MEASUREMENTS request ||
 * MEASUREMENTS response with its opaque TLVs (spec attestation.md §3.2), bounds-checked. */
#include "cx_attest.h"

#include <string.h>

/* A cursor that refuses to read past the end; every read names the field it wanted. */
typedef struct rd {
    const uint8_t *p;
    size_t len, off;
} rd;

static cx_err need(rd *r, size_t n, const char *field, cx_error *e)
{
    if (n > r->len - r->off)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "format: truncated report: %s needs %zu bytes at offset %zu, "
                            "%zu left",
                            field, n, r->off, r->len - r->off);
    return CX_OK;
}

static cx_err u8(rd *r, const char *field, uint8_t *v, cx_error *e)
{
    if (need(r, 1, field, e) != CX_OK)
        return CX_ERR_FORMAT;
    *v = r->p[r->off++];
    return CX_OK;
}

static cx_err u16(rd *r, const char *field, uint16_t *v, cx_error *e)
{
    if (need(r, 2, field, e) != CX_OK)
        return CX_ERR_FORMAT;
    *v = (uint16_t)(r->p[r->off] | (r->p[r->off + 1] << 8));
    r->off += 2;
    return CX_OK;
}

static cx_err bytes(rd *r, const char *field, uint8_t *dst, size_t n, cx_error *e)
{
    if (need(r, n, field, e) != CX_OK)
        return CX_ERR_FORMAT;
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return CX_OK;
}

static cx_err expect(uint8_t got, uint8_t want, const char *field, cx_error *e)
{
    if (got != want)
        return cx_error_set(e, CX_ERR_FORMAT, "format: %s is 0x%02x, expected 0x%02x", field, got,
                            want);
    return CX_OK;
}

/* Printable ASCII up to the first NUL; anything else is refused rather than escaped. */
static cx_err ascii_field(const uint8_t *v, size_t n, char *out, size_t cap, const char *field,
                          cx_error *e)
{
    size_t k = 0;
    while (k < n && v[k] != 0)
        k++;
    for (size_t i = k; i < n; i++)
        if (v[i] != 0)
            return cx_error_set(e, CX_ERR_FORMAT, "format: %s has bytes after its NUL", field);
    if (k >= cap)
        return cx_error_set(e, CX_ERR_FORMAT, "format: %s is too long (%zu bytes)", field, k);
    for (size_t i = 0; i < k; i++)
        if (v[i] < 0x20 || v[i] > 0x7e)
            return cx_error_set(e, CX_ERR_FORMAT, "format: %s is not printable ASCII", field);
    memcpy(out, v, k);
    out[k] = '\0';
    return CX_OK;
}

/* LGV format_vbios_version: bytes 3, 2, 1, 0 then byte 4 of the field, in hex:
 * 00 9f 00 96 01 00 00 00 -> "96.00.9f.00.01" (the MANIFEST value). */
static void format_vbios(const uint8_t v[8], char *out, size_t cap)
{
    snprintf(out, cap, "%02x.%02x.%02x.%02x.%02x", v[3], v[2], v[1], v[0], v[4]);
}

static cx_err parse_opaque(const uint8_t *buf, size_t start, size_t len, cx_gpu_report *o,
                           cx_error *e)
{
    size_t off = start, end = start + len;
    int seen_fwid = 0, seen_drv = 0, seen_vbios = 0;
    while (off < end) {
        if (end - off < 4)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "format: opaque data: truncated TLV header at offset %zu", off);
        uint16_t type = (uint16_t)(buf[off] | (buf[off + 1] << 8));
        uint16_t size = (uint16_t)(buf[off + 2] | (buf[off + 3] << 8));
        off += 4;
        if (size > end - off)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "format: opaque data: field type %u claims %u bytes, %zu left",
                                type, size, end - off);
        if (o->n_opaque >= CX_GPU_OPAQUE_FIELDS_MAX)
            return cx_error_set(e, CX_ERR_FORMAT, "format: opaque data: more than %d fields",
                                CX_GPU_OPAQUE_FIELDS_MAX);
        o->opaque[o->n_opaque++] = (cx_gpu_opaque_field){type, size, off};
        const uint8_t *v = buf + off;
        cx_err rc = CX_OK;
        switch (type) {
        case CX_GPU_OPAQUE_DRIVER_VERSION:
            if (seen_drv++)
                return cx_error_set(e, CX_ERR_FORMAT, "format: duplicate DRIVER_VERSION");
            rc = ascii_field(v, size, o->driver_version, sizeof o->driver_version, "DRIVER_VERSION",
                             e);
            break;
        case CX_GPU_OPAQUE_VBIOS_VERSION:
            if (seen_vbios++)
                return cx_error_set(e, CX_ERR_FORMAT, "format: duplicate VBIOS_VERSION");
            if (size != 8)
                return cx_error_set(e, CX_ERR_FORMAT, "format: VBIOS_VERSION is %u bytes, not 8",
                                    size);
            format_vbios(v, o->vbios_version, sizeof o->vbios_version);
            break;
        case CX_GPU_OPAQUE_FWID:
            if (seen_fwid++)
                return cx_error_set(e, CX_ERR_FORMAT, "format: duplicate FWID");
            if (size != CX_GPU_FWID_LEN)
                return cx_error_set(e, CX_ERR_FORMAT, "format: FWID is %u bytes, not %d", size,
                                    CX_GPU_FWID_LEN);
            memcpy(o->fwid, v, CX_GPU_FWID_LEN);
            o->has_fwid = 1;
            break;
        case CX_GPU_OPAQUE_PROJECT:
            rc = ascii_field(v, size, o->project, sizeof o->project, "PROJECT", e);
            break;
        case CX_GPU_OPAQUE_PROJECT_SKU:
            rc = ascii_field(v, size, o->project_sku, sizeof o->project_sku, "PROJECT_SKU", e);
            break;
        case CX_GPU_OPAQUE_CHIP_SKU:
            rc = ascii_field(v, size, o->chip_sku, sizeof o->chip_sku, "CHIP_SKU", e);
            break;
        default:
            break; /* kept in o->opaque for inspection; not interpreted */
        }
        if (rc != CX_OK)
            return rc;
        off += size;
    }
    return CX_OK;
}

cx_err cx_gpu_report_parse(const uint8_t *buf, size_t len, cx_gpu_report *o, cx_error *e)
{
    if (!buf || !o)
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_report_parse: NULL argument");
    memset(o, 0, sizeof *o);
    if (len > CX_GPU_REPORT_MAX)
        return cx_error_set(e, CX_ERR_FORMAT, "format: report is %zu bytes, more than %d", len,
                            CX_GPU_REPORT_MAX);
    rd r = {buf, len, 0};
    cx_err rc;
#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)) != CX_OK)                                                                   \
            return rc;                                                                             \
    } while (0)
    /* request */
    TRY(u8(&r, "request SPDMVersion", &o->req_version, e));
    TRY(expect(o->req_version, 0x11, "request SPDMVersion", e));
    TRY(u8(&r, "request code", &o->req_code, e));
    TRY(expect(o->req_code, 0xE0, "request code (GET_MEASUREMENTS)", e));
    TRY(u8(&r, "request Param1", &o->req_param1, e));
    if (!(o->req_param1 & 0x01))
        return cx_error_set(e, CX_ERR_FORMAT,
                            "format: request Param1 0x%02x asks for no "
                            "signature",
                            o->req_param1);
    TRY(u8(&r, "request Param2", &o->req_param2, e));
    TRY(expect(o->req_param2, 0xFF, "request Param2 (all blocks)", e));
    TRY(bytes(&r, "request nonce", o->nonce, CX_GPU_NONCE_LEN, e));
    TRY(u8(&r, "request SlotIDParam", &o->slot_id, e));
    /* response */
    TRY(u8(&r, "response SPDMVersion", &o->resp_version, e));
    TRY(expect(o->resp_version, 0x11, "response SPDMVersion", e));
    TRY(u8(&r, "response code", &o->resp_code, e));
    TRY(expect(o->resp_code, 0x60, "response code (MEASUREMENTS)", e));
    TRY(u8(&r, "response Param1", &o->resp_param1, e));
    TRY(u8(&r, "response Param2", &o->resp_param2, e));
    TRY(u8(&r, "NumberOfBlocks", &o->num_blocks, e));
    uint8_t l1[3];
    TRY(bytes(&r, "MeasurementRecordLength", l1, 3, e));
    o->record_len = (uint32_t)l1[0] | ((uint32_t)l1[1] << 8) | ((uint32_t)l1[2] << 16);
    TRY(need(&r, o->record_len, "MeasurementRecord", e));
    /* measurement blocks, confined to the record */
    rd m = {buf, r.off + o->record_len, r.off};
    uint32_t seen[8] = {0}; /* 256-bit set of indices */
    while (m.off < m.len) {
        if (o->n_meas >= o->num_blocks)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "format: MeasurementRecord holds more than %u blocks",
                                o->num_blocks);
        cx_gpu_measurement *b = &o->meas[o->n_meas];
        uint16_t msize, vsize;
        TRY(u8(&m, "measurement Index", &b->index, e));
        TRY(u8(&m, "MeasurementSpecification", &b->spec, e));
        TRY(u16(&m, "MeasurementSize", &msize, e));
        if (b->spec != 0x01)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "format: measurement %u: specification 0x%02x, expected DMTF",
                                b->index, b->spec);
        if (b->index == 0 || (seen[b->index / 32] >> (b->index % 32)) & 1u)
            return cx_error_set(e, CX_ERR_FORMAT, "format: measurement index %u repeated or 0",
                                b->index);
        seen[b->index / 32] |= 1u << (b->index % 32);
        if (msize < 3)
            return cx_error_set(e, CX_ERR_FORMAT, "format: measurement %u: size %u too small",
                                b->index, msize);
        TRY(u8(&m, "DMTFSpecMeasurementValueType", &b->value_type, e));
        TRY(u16(&m, "DMTFSpecMeasurementValueSize", &vsize, e));
        if (vsize != msize - 3)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "format: measurement %u: value size %u does not match block "
                                "size %u",
                                b->index, vsize, msize);
        if (vsize > CX_GPU_MEAS_VALUE_MAX)
            return cx_error_set(e, CX_ERR_FORMAT, "format: measurement %u: value of %u bytes",
                                b->index, vsize);
        b->value_len = vsize;
        TRY(bytes(&m, "measurement value", b->value, vsize, e));
        o->n_meas++;
    }
    if (o->n_meas != o->num_blocks)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "format: NumberOfBlocks is %u but the record holds %zu blocks",
                            o->num_blocks, o->n_meas);
    r.off += o->record_len;
    TRY(bytes(&r, "responder nonce", o->resp_nonce, CX_GPU_NONCE_LEN, e));
    TRY(u16(&r, "OpaqueLength", &o->opaque_len, e));
    TRY(need(&r, o->opaque_len, "OpaqueData", e));
    o->opaque_offset = r.off;
    TRY(parse_opaque(buf, r.off, o->opaque_len, o, e));
    r.off += o->opaque_len;
    o->signed_len = r.off;
    TRY(bytes(&r, "signature", o->signature, CX_GPU_SIG_LEN, e));
    if (r.off != len)
        return cx_error_set(e, CX_ERR_FORMAT, "format: %zu trailing bytes after the signature",
                            len - r.off);
    o->total_len = len;
#undef TRY
    return CX_OK;
}
