/* store.c — the cx_store interface: option defaults, store URLs (local:DIR, walrus:...)
 * and dispatch to the backend; blob-id validation shared by both backends. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

void cx_store_options_init(cx_store_options *o)
{
    memset(o, 0, sizeof *o);
    o->publisher = CX_WALRUS_TESTNET_PUBLISHER;
    o->aggregator = CX_WALRUS_TESTNET_AGGREGATOR;
    o->epochs = 1;
    o->part_size = CX_WALRUS_PART_SIZE_DEFAULT;
    o->parallel = 4;
    o->connect_timeout_ms = 10000;
    o->low_speed_time_s = 30;
    o->total_timeout_ms = 300000;
    o->max_retries = 6;
    o->backoff_base_ms = 200;
    o->backoff_max_ms = 10000;
}

/* Zero fields of the caller's options take the defaults; publisher/aggregator stay NULL
 * here when unset so that the walrus URL's own values can apply first. */
static void merge_options(cx_store_options *dst, const cx_store_options *src)
{
    cx_store_options_init(dst);
    dst->publisher = NULL;
    dst->aggregator = NULL;
    if (!src)
        return;
    dst->publisher = src->publisher;
    dst->aggregator = src->aggregator;
    dst->token = src->token;
    if (src->epochs)
        dst->epochs = src->epochs;
    if (src->part_size)
        dst->part_size = src->part_size;
    if (src->parallel)
        dst->parallel = src->parallel;
    if (src->connect_timeout_ms > 0)
        dst->connect_timeout_ms = src->connect_timeout_ms;
    if (src->low_speed_time_s > 0)
        dst->low_speed_time_s = src->low_speed_time_s;
    if (src->total_timeout_ms > 0)
        dst->total_timeout_ms = src->total_timeout_ms;
    if (src->max_retries)
        dst->max_retries = src->max_retries;
    if (src->backoff_base_ms)
        dst->backoff_base_ms = src->backoff_base_ms;
    if (src->backoff_max_ms)
        dst->backoff_max_ms = src->backoff_max_ms;
    dst->verify = src->verify;
    dst->log = src->log;
}

cx_err cx_store_open(const char *url, const cx_store_options *opt, cx_store **out, cx_error *e)
{
    *out = NULL;
    if (!url)
        return cx_error_set(e, CX_ERR_ARG, "store URL missing");
    cx_store *s = calloc(1, sizeof *s);
    if (!s)
        return cx_error_set(e, CX_ERR_NOMEM, "store %s", url);
    merge_options(&s->opt, opt);
    if (s->opt.part_size > CX_WALRUS_MAX_BODY) {
        size_t ps = s->opt.part_size;
        free(s);
        return cx_error_set(e, CX_ERR_ARG, "part size %zu exceeds the Walrus body limit %u", ps,
                            CX_WALRUS_MAX_BODY);
    }
    cx_err rc;
    if (strncmp(url, "local:", 6) == 0) {
        rc = cx_store_local_open(s, url + 6, e);
    } else if (strncmp(url, "walrus:", 7) == 0) {
        rc = cx_store_walrus_open(s, url + 7, e);
    } else {
        rc = cx_error_set(e, CX_ERR_ARG,
                          "store URL '%s': expected local:DIR or walrus:[?publisher=URL&"
                          "aggregator=URL&epochs=N]",
                          url);
    }
    if (rc != CX_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return CX_OK;
}

void cx_store_free(cx_store *s)
{
    if (!s)
        return;
    s->ops->free(s);
    free(s);
}

const char *cx_store_kind(const cx_store *s)
{
    return s->ops->kind;
}

int cx_store_id_valid(const char *id)
{
    if (!id || strlen(id) != CX_STORE_ID_LEN)
        return 0;
    uint8_t bin[33];
    size_t n = 0;
    return cx_base64url_decode(id, CX_STORE_ID_LEN, bin, sizeof bin, &n, NULL) == CX_OK && n == 32;
}

cx_err cx_store_put(cx_store *s, cx_reader *src, char id[CX_STORE_ID_MAX], cx_error *e)
{
    if (!s || !src || !src->read || !id)
        return cx_error_set(e, CX_ERR_ARG, "store put: missing argument");
    return s->ops->put(s, src, id, e);
}

cx_err cx_store_get(cx_store *s, const char *id, cx_reader *out, cx_error *e)
{
    if (!s || !out)
        return cx_error_set(e, CX_ERR_ARG, "store get: missing argument");
    if (!cx_store_id_valid(id))
        return cx_error_set(e, CX_ERR_ARG, "'%.64s' is not a blob id (43 base64url characters)",
                            id ? id : "(null)");
    return s->ops->get(s, id, out, e);
}

cx_err cx_store_stat(cx_store *s, const char *id, cx_store_info *st, cx_error *e)
{
    if (!s || !st)
        return cx_error_set(e, CX_ERR_ARG, "store stat: missing argument");
    if (!cx_store_id_valid(id))
        return cx_error_set(e, CX_ERR_ARG, "'%.64s' is not a blob id (43 base64url characters)",
                            id ? id : "(null)");
    memset(st, 0, sizeof *st);
    return s->ops->stat(s, id, st, e);
}
