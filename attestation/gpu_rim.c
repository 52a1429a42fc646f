/* gpu_rim.c — NVIDIA driver/VBIOS RIM files (ISO 19770-2 SWID tag XML, spec attestation.md
 * §3.5 steps 7-8) read as reference measurements with libxml2; their XMLDSig is NOT verified. */
#include "gpu_reference.h"

#include <ctype.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define RIM_MAX_BYTES (1u << 20)
#define NS_SWID "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
#define NS_SHA384 "http://www.w3.org/2001/04/xmlenc#sha384"

static int is_elem(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0 && n->ns &&
           xmlStrcmp(n->ns->href, BAD_CAST NS_SWID) == 0;
}

/* Decimal attribute in [lo, hi]; strict (digits only). */
static cx_err attr_uint(xmlNode *n, const char *name, long lo, long hi, long *out, cx_error *e)
{
    xmlChar *v = xmlGetNoNsProp(n, BAD_CAST name);
    if (!v)
        return cx_error_set(e, CX_ERR_FORMAT, "rim: Resource without \"%s\"", name);
    const char *s = (const char *)v;
    char *end = NULL;
    long x = isdigit((unsigned char)s[0]) && strlen(s) <= 6 ? strtol(s, &end, 10) : -1;
    int ok = end && *end == '\0' && x >= lo && x <= hi;
    xmlFree(v);
    if (!ok)
        return cx_error_set(e, CX_ERR_FORMAT, "rim: Resource \"%s\" out of range %ld..%ld", name,
                            lo, hi);
    *out = x;
    return CX_OK;
}

static cx_err add_resource(xmlNode *n, cx_gpu_reference *ref, cx_error *e)
{
    xmlChar *active = xmlGetNoNsProp(n, BAD_CAST "active");
    int on = active && xmlStrcasecmp(active, BAD_CAST "true") == 0;
    xmlFree(active);
    if (!on)
        return CX_OK; /* inactive golden values are not compared (LGV) */
    long index, alts, size;
    cx_err rc;
    if ((rc = attr_uint(n, "index", 0, CX_GPU_MEAS_MAX - 1, &index, e)) != CX_OK ||
        (rc = attr_uint(n, "alternatives", 1, CX_GPU_REF_ALT_MAX, &alts, e)) != CX_OK ||
        (rc = attr_uint(n, "size", 1, CX_GPU_MEAS_VALUE_MAX, &size, e)) != CX_OK)
        return rc;
    uint8_t block = (uint8_t)(index + 1); /* RIM index k-1 = report block k */
    for (size_t i = 0; i < ref->n; i++)
        if (ref->entries[i].index == block)
            return cx_error_set(e, CX_ERR_FORMAT, "rim: index %ld appears twice", index);
    if (ref->n >= CX_GPU_MEAS_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "rim: too many measurements");
    cx_gpu_ref_entry *en = &ref->entries[ref->n];
    memset(en, 0, sizeof *en);
    en->index = block;
    for (long a = 0; a < alts; a++) {
        char name[16];
        snprintf(name, sizeof name, "Hash%ld", a);
        xmlChar *h = xmlGetNsProp(n, BAD_CAST name, BAD_CAST NS_SHA384);
        if (!h)
            return cx_error_set(e, CX_ERR_FORMAT, "rim: index %ld lacks %s", index, name);
        size_t got = 0;
        rc = cx_hex_decode((const char *)h, strlen((const char *)h), en->value[a],
                           CX_GPU_MEAS_VALUE_MAX, &got, e);
        xmlFree(h);
        if (rc != CX_OK)
            return cx_error_wrap(rc, e, "rim: index %ld %s: ", index, name);
        if ((long)got != size)
            return cx_error_set(e, CX_ERR_FORMAT, "rim: index %ld %s is %zu bytes, size says %ld",
                                index, name, got, size);
        en->len[a] = (uint16_t)got;
        en->n_alt++;
    }
    ref->n++;
    return CX_OK;
}

/* Adds src's entries and version to dst; refuses overlaps (driver and VBIOS RIMs are disjoint). */
static cx_err merge(cx_gpu_reference *dst, const cx_gpu_reference *src, cx_gpu_rim_kind kind,
                    cx_error *e)
{
    char *slot = kind == CX_GPU_RIM_DRIVER ? dst->driver_version : dst->vbios_version;
    const char *ver = kind == CX_GPU_RIM_DRIVER ? src->driver_version : src->vbios_version;
    if (slot[0])
        return cx_error_set(e, CX_ERR_FORMAT, "rim: a second %s version",
                            kind == CX_GPU_RIM_DRIVER ? "driver" : "VBIOS");
    if (dst->n + src->n > CX_GPU_MEAS_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "rim: too many measurements");
    for (size_t i = 0; i < src->n; i++)
        for (size_t k = 0; k < dst->n; k++)
            if (dst->entries[k].index == src->entries[i].index)
                return cx_error_set(e, CX_ERR_FORMAT,
                                    "rim: index %u is active in two references (driver and "
                                    "VBIOS RIMs must be disjoint)",
                                    src->entries[i].index - 1u);
    memcpy(&dst->entries[dst->n], src->entries, src->n * sizeof src->entries[0]);
    dst->n += src->n;
    strcpy(slot, ver); /* same capacity: both are fields of the same struct type */
    dst->from_rim = 1;
    return CX_OK;
}

cx_err cx_gpu_reference_parse_rim(const char *text, size_t len, cx_gpu_rim_kind kind,
                                  cx_gpu_reference **inout, cx_error *e)
{
    if (!text || !inout || (kind != CX_GPU_RIM_DRIVER && kind != CX_GPU_RIM_VBIOS))
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_reference_parse_rim: bad argument");
    if (len > RIM_MAX_BYTES)
        return cx_error_set(e, CX_ERR_LIMIT, "rim: larger than %u bytes", RIM_MAX_BYTES);
    /* No network, no external DTD, no entity substitution. */
    xmlDoc *doc = xmlReadMemory(text, (int)len, "rim.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return cx_error_set(e, CX_ERR_FORMAT, "rim: not well-formed XML");
    cx_gpu_reference *ref = calloc(1, sizeof *ref);
    cx_err rc = CX_OK;
    if (!ref) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "rim: out of memory");
        goto done;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || !is_elem(root, "SoftwareIdentity")) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "rim: root element is not a SWID SoftwareIdentity");
        goto done;
    }
    xmlNode *meta = NULL, *payload = NULL;
    for (xmlNode *c = root->children; c; c = c->next) {
        if (is_elem(c, "Meta") && !meta) {
            meta = c;
        } else if (is_elem(c, "Payload")) {
            if (payload) {
                rc = cx_error_set(e, CX_ERR_FORMAT, "rim: more than one Payload");
                goto done;
            }
            payload = c;
        }
    }
    xmlChar *ver = meta ? xmlGetNoNsProp(meta, BAD_CAST "colloquialVersion") : NULL;
    if (!ver || !payload) {
        xmlFree(ver);
        rc = cx_error_set(e, CX_ERR_FORMAT, "rim: missing Meta@colloquialVersion or Payload");
        goto done;
    }
    char *slot = kind == CX_GPU_RIM_DRIVER ? ref->driver_version : ref->vbios_version;
    size_t cap = kind == CX_GPU_RIM_DRIVER ? sizeof ref->driver_version : sizeof ref->vbios_version;
    int too_long = xmlStrlen(ver) >= (int)cap || xmlStrlen(ver) == 0;
    if (!too_long)
        snprintf(slot, cap, "%s", (const char *)ver);
    xmlFree(ver);
    if (too_long) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "rim: colloquialVersion empty or too long");
        goto done;
    }
    for (xmlNode *c = payload->children; c && rc == CX_OK; c = c->next)
        if (is_elem(c, "Resource"))
            rc = add_resource(c, ref, e);
    if (rc == CX_OK && ref->n == 0)
        rc = cx_error_set(e, CX_ERR_FORMAT, "rim: no active measurement");
    if (rc != CX_OK)
        goto done;
    ref->from_rim = 1;
    if (!*inout) {
        *inout = ref;
        ref = NULL;
    } else {
        rc = merge(*inout, ref, kind, e);
    }
done:
    free(ref);
    xmlFreeDoc(doc);
    return rc;
}

cx_err cx_gpu_reference_load_rim(const char *path, cx_gpu_rim_kind kind, cx_gpu_reference **inout,
                                 cx_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cx_err rc = cx_file_read_all(path, RIM_MAX_BYTES, &buf, &len, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "rim %s: ", path);
    rc = cx_gpu_reference_parse_rim((const char *)buf, len, kind, inout, e);
    free(buf);
    if (rc != CX_OK)
        cx_error_prefix(e, "%s: ", path);
    return rc;
}

int cx_gpu_reference_from_rim(const cx_gpu_reference *ref)
{
    return ref && ref->from_rim;
}
