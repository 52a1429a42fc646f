/* seal_keyserver.c — the local Seal key server (`cloakx keyserver`): Seal's key-server HTTP API
 * (POST /v1/fetch_key) on libmicrohttpd, answering under the marketplace's policies on the ledger.
 */
#include "cx_engine.h"
#include "http_internal.h"
#include "job_internal.h"

#ifdef CX_HAVE_SEAL

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (180u * 1024u) /* Seal's key servers take no larger request */

struct cx_seal_ks_server {
    struct MHD_Daemon *d;
    const cx_seal_ks *ks;
    unsigned port;
};

typedef struct upload {
    char *buf;
    size_t len;
    int too_large;
} upload;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, "X-KeyServer-Version", "0.4.1");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result error(struct MHD_Connection *c, unsigned status, const char *kind,
                             const char *msg)
{
    char *body = NULL;
    if (asprintf(&body, "{\"error\":\"%s\",\"message\":\"%s\"}", kind, msg) < 0)
        return MHD_NO;
    return reply(c, status, body);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *data_len, void **req_ctx)
{
    cx_seal_ks_server *srv = cls;
    (void)version;
    upload *u = *req_ctx;
    if (!u) { /* the first call announces the request */
        if (!(u = calloc(1, sizeof *u)))
            return MHD_NO;
        *req_ctx = u;
        return MHD_YES;
    }
    if (*data_len) { /* a piece of the body */
        if (u->len + *data_len > BODY_MAX) {
            u->too_large = 1;
        } else if (!u->too_large) {
            char *nb = realloc(u->buf, u->len + *data_len);
            if (!nb)
                return MHD_NO;
            memcpy(nb + u->len, data, *data_len);
            u->buf = nb;
            u->len += *data_len;
        }
        *data_len = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/v1/fetch_key") != 0)
        return error(c, MHD_HTTP_NOT_FOUND, "NotFound", "this server serves POST /v1/fetch_key");
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
        return error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "InvalidParameter", "POST only");
    if (u->too_large)
        return error(c, 413, "InvalidParameter", "the request is over 180 KiB");
    const char *sdk = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Client-Sdk-Version");
    int status = 0;
    char *body = NULL;
    cx_error e;
    if (cx_seal_ks_fetch_key(srv->ks, u->buf ? u->buf : "", u->len, sdk, cx_unix_ms(), &status,
                             &body, &e) != CX_OK)
        return error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "Failure", "out of memory");
    return reply(c, (unsigned)status, body);
}

static void request_done(void *cls, struct MHD_Connection *c, void **req_ctx,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    upload *u = *req_ctx;
    if (u) {
        free(u->buf);
        free(u);
    }
    *req_ctx = NULL;
}

cx_err cx_seal_ks_server_start(const cx_seal_ks *ks, const char *listen, cx_seal_ks_server **out,
                               cx_error *e)
{
    *out = NULL;
    struct sockaddr_in addr;
    cx_err rc = cx_http_parse_listen(listen, &addr, e);
    if (rc != CX_OK)
        return rc;
    cx_seal_ks_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return cx_error_set(e, CX_ERR_NOMEM, "key server: out of memory");
    srv->ks = ks;
    rc = cx_http_daemon_start(&addr, "key server", handle, srv, request_done, srv, &srv->d,
                              &srv->port, e);
    if (rc != CX_OK) {
        free(srv);
        return rc;
    }
    *out = srv;
    return CX_OK;
}

unsigned cx_seal_ks_server_port(const cx_seal_ks_server *srv)
{
    return srv ? srv->port : 0;
}

void cx_seal_ks_server_stop(cx_seal_ks_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->d);
    free(srv);
}

#endif
