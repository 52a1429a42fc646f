/* object.c — Seal's EncryptedObject in BCS (SEAL-RS lib.rs, SEAL-TS bcs.mjs): a strict decoder
 * that also checks the object's own rules, and the encoder the SDK's bytes are compared with. */
#include "cx_proto.h"
#include "cx_seal.h"
#include "seal_internal.h"

#include <stdlib.h>
#include <string.h>

void cx_seal_object_free(cx_seal_object *o)
{
    if (!o)
        return;
    free(o->id);
    free(o->services);
    free(o->encrypted_shares);
    free(o->blob);
    free(o->aad);
    free(o);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* The rules every object must satisfy, beyond its BCS shape. */
static cx_err object_check(const cx_seal_object *o, cx_error *e)
{
    if (o->version != CX_SEAL_OBJECT_VERSION)
        return cx_error_set(e, CX_ERR_FORMAT, "seal object: version %u (only %d is defined)",
                            o->version, CX_SEAL_OBJECT_VERSION);
    if (o->id_len > CX_SEAL_MAX_ID_LEN)
        return cx_error_set(e, CX_ERR_LIMIT, "seal object: id of %zu bytes exceeds %d", o->id_len,
                            CX_SEAL_MAX_ID_LEN);
    if (o->n_services == 0 || o->n_services > CX_SEAL_MAX_SERVERS)
        return cx_error_set(e, CX_ERR_FORMAT, "seal object: services: %zu (1..%d)", o->n_services,
                            CX_SEAL_MAX_SERVERS);
    if (o->threshold == 0 || o->threshold > o->n_services)
        return cx_error_set(e, CX_ERR_FORMAT, "seal object: threshold %u of %zu services",
                            o->threshold, o->n_services);
    for (size_t i = 0; i < o->n_services; i++) {
        if (o->services[i].index == 0)
            return cx_error_set(e, CX_ERR_FORMAT, "seal object: services[%zu]: share index 0", i);
        for (size_t j = 0; j < i; j++)
            if (o->services[j].index == o->services[i].index)
                return cx_error_set(e, CX_ERR_FORMAT,
                                    "seal object: services[%zu]: share index %u repeats "
                                    "services[%zu]'s",
                                    i, o->services[i].index, j);
    }
    if (o->dem != CX_SEAL_DEM_AES256GCM && o->dem != CX_SEAL_DEM_HMAC256CTR &&
        o->dem != CX_SEAL_DEM_PLAIN)
        return cx_error_set(e, CX_ERR_FORMAT, "seal object: ciphertext: DEM %d", (int)o->dem);
    if (o->dem != CX_SEAL_DEM_PLAIN && o->blob_len > CX_SEAL_MAX_BLOB_LEN)
        return cx_error_set(e, CX_ERR_LIMIT, "seal object: ciphertext blob of %zu bytes",
                            o->blob_len);
    if (o->dem == CX_SEAL_DEM_AES256GCM && o->blob_len < CX_SEAL_GCM_TAG_LEN)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "seal object: ciphertext: AES-256-GCM blob of %zu bytes has no tag",
                            o->blob_len);
    return CX_OK;
}

cx_err cx_seal_object_decode(const uint8_t *buf, size_t len, cx_seal_object **out, cx_error *e)
{
    *out = NULL;
    cx_seal_object *o = calloc(1, sizeof *o);
    if (!o)
        return cx_error_set(e, CX_ERR_NOMEM, "seal object");
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, buf, len);
    const uint8_t *p = NULL;
    size_t n = 0;
    uint32_t tag = 0;
    const char *field = "version";
    cx_err rc = cx_bcs_get_u8(&r, &o->version, e);
    if (rc == CX_OK && (field = "package_id"))
        rc = cx_bcs_get_addr(&r, o->package_id, e);
    if (rc == CX_OK && (field = "id")) {
        rc = cx_bcs_get_bytes(&r, CX_SEAL_MAX_ID_LEN, &p, &n, e);
        if (rc == CX_OK && !(o->id = dup_bytes(p, n)))
            rc = cx_error_set(e, CX_ERR_NOMEM, "id");
        o->id_len = n;
    }
    if (rc == CX_OK && (field = "services")) {
        rc = cx_bcs_get_seq_len(&r, CX_SEAL_MAX_SERVERS, CX_SEAL_ADDR_LEN + 1, &o->n_services, e);
        if (rc == CX_OK &&
            !(o->services = calloc(o->n_services ? o->n_services : 1, sizeof *o->services)))
            rc = cx_error_set(e, CX_ERR_NOMEM, "services");
        for (size_t i = 0; rc == CX_OK && i < o->n_services; i++) {
            rc = cx_bcs_get_addr(&r, o->services[i].object_id, e);
            if (rc == CX_OK)
                rc = cx_bcs_get_u8(&r, &o->services[i].index, e);
        }
    }
    if (rc == CX_OK && (field = "threshold"))
        rc = cx_bcs_get_u8(&r, &o->threshold, e);
    if (rc == CX_OK && (field = "encrypted_shares"))
        rc = cx_bcs_get_variant(&r, 1, &tag, e); /* BonehFranklinBLS12381 only */
    if (rc == CX_OK && (field = "encrypted_shares.nonce"))
        rc = cx_bcs_get_fixed(&r, o->nonce, CX_SEAL_G2_LEN, e);
    if (rc == CX_OK && (field = "encrypted_shares.encrypted_shares")) {
        rc = cx_bcs_get_seq_len(&r, CX_SEAL_MAX_SERVERS, CX_SEAL_KEY_LEN, &n, e);
        if (rc == CX_OK && n != o->n_services)
            rc = cx_error_set(e, CX_ERR_FORMAT, "%zu encrypted shares for %zu services", n,
                              o->n_services);
        if (rc == CX_OK && !(o->encrypted_shares = calloc(n ? n : 1, CX_SEAL_KEY_LEN)))
            rc = cx_error_set(e, CX_ERR_NOMEM, "shares");
        for (size_t i = 0; rc == CX_OK && i < n; i++)
            rc = cx_bcs_get_fixed(&r, o->encrypted_shares[i], CX_SEAL_KEY_LEN, e);
    }
    if (rc == CX_OK && (field = "encrypted_shares.encrypted_randomness"))
        rc = cx_bcs_get_fixed(&r, o->encrypted_randomness, CX_SEAL_SCALAR_LEN, e);
    if (rc == CX_OK && (field = "ciphertext")) {
        rc = cx_bcs_get_variant(&r, 3, &tag, e);
        o->dem = (cx_seal_dem)tag;
    }
    if (rc == CX_OK && o->dem != CX_SEAL_DEM_PLAIN) {
        field = "ciphertext.blob";
        rc = cx_bcs_get_bytes(&r, CX_SEAL_MAX_BLOB_LEN, &p, &n, e);
        if (rc == CX_OK && !(o->blob = dup_bytes(p, n)))
            rc = cx_error_set(e, CX_ERR_NOMEM, "blob");
        o->blob_len = n;
        if (rc == CX_OK && (field = "ciphertext.aad"))
            rc = cx_bcs_get_option(&r, &o->has_aad, e);
        if (rc == CX_OK && o->has_aad) {
            rc = cx_bcs_get_bytes(&r, CX_SEAL_MAX_BLOB_LEN, &p, &n, e);
            if (rc == CX_OK && !(o->aad = dup_bytes(p, n)))
                rc = cx_error_set(e, CX_ERR_NOMEM, "aad");
            o->aad_len = n;
        }
        if (rc == CX_OK && o->dem == CX_SEAL_DEM_HMAC256CTR && (field = "ciphertext.mac"))
            rc = cx_bcs_get_fixed(&r, o->mac, CX_SEAL_MAC_LEN, e);
    }
    if (rc == CX_OK && (field = "end"))
        rc = cx_bcs_reader_end(&r, e);
    if (rc != CX_OK) {
        cx_seal_object_free(o);
        return cx_error_wrap(rc, e, "seal object: %s: ", field);
    }
    rc = object_check(o, e);
    if (rc != CX_OK) {
        cx_seal_object_free(o);
        return rc;
    }
    *out = o;
    return CX_OK;
}

cx_err cx_seal_object_encode(const cx_seal_object *o, uint8_t **out, size_t *out_len, cx_error *e)
{
    *out = NULL;
    *out_len = 0;
    cx_err rc = object_check(o, e);
    if (rc != CX_OK)
        return rc;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_u8(&w, o->version);
    cx_bcs_put_addr(&w, o->package_id);
    cx_bcs_put_bytes(&w, o->id, o->id_len);
    cx_bcs_put_seq_len(&w, o->n_services);
    for (size_t i = 0; i < o->n_services; i++) {
        cx_bcs_put_addr(&w, o->services[i].object_id);
        cx_bcs_put_u8(&w, o->services[i].index);
    }
    cx_bcs_put_u8(&w, o->threshold);
    cx_bcs_put_variant(&w, 0);
    cx_bcs_put_fixed(&w, o->nonce, CX_SEAL_G2_LEN);
    cx_bcs_put_seq_len(&w, o->n_services);
    for (size_t i = 0; i < o->n_services; i++)
        cx_bcs_put_fixed(&w, o->encrypted_shares[i], CX_SEAL_KEY_LEN);
    cx_bcs_put_fixed(&w, o->encrypted_randomness, CX_SEAL_SCALAR_LEN);
    cx_bcs_put_variant(&w, (uint32_t)o->dem);
    if (o->dem != CX_SEAL_DEM_PLAIN) {
        cx_bcs_put_bytes(&w, o->blob, o->blob_len);
        cx_bcs_put_option(&w, o->has_aad);
        if (o->has_aad)
            cx_bcs_put_bytes(&w, o->aad, o->aad_len);
        if (o->dem == CX_SEAL_DEM_HMAC256CTR)
            cx_bcs_put_fixed(&w, o->mac, CX_SEAL_MAC_LEN);
    }
    rc = cx_bcs_writer_finish(&w, out, out_len, e);
    return rc == CX_OK ? CX_OK : cx_error_wrap(rc, e, "seal object: ");
}

cx_err cx_seal_full_id(const uint8_t package_id[CX_SEAL_ADDR_LEN], const uint8_t *id, size_t id_len,
                       uint8_t **out, size_t *len, cx_error *e)
{
    *out = NULL;
    if (id_len > CX_SEAL_MAX_ID_LEN)
        return cx_error_set(e, CX_ERR_LIMIT, "seal: id of %zu bytes exceeds %d", id_len,
                            CX_SEAL_MAX_ID_LEN);
    uint8_t *f = malloc(CX_SEAL_ADDR_LEN + id_len);
    if (!f)
        return cx_error_set(e, CX_ERR_NOMEM, "seal: full id");
    memcpy(f, package_id, CX_SEAL_ADDR_LEN);
    if (id_len)
        memcpy(f + CX_SEAL_ADDR_LEN, id, id_len);
    *out = f;
    *len = CX_SEAL_ADDR_LEN + id_len;
    return CX_OK;
}

void cx_seal_server_label(const uint8_t object_id[CX_SEAL_ADDR_LEN], const char *name,
                          char out[128])
{
    char hex[CX_ADDR_HEX_LEN + 1];
    cx_addr_to_hex(object_id, hex);
    if (name)
        snprintf(out, 128, "%.50s (%s)", name, hex);
    else
        snprintf(out, 128, "%s", hex);
}
