/* http_status.c — the read-only HTTP server of `cloakx worker --listen` (libmicrohttpd): the
 * status page, the JSON API and Prometheus metrics over a cx_status model; loopback by default. */
#include "cx_engine.h"
#include "http_internal.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

struct cx_status_server {
    struct MHD_Daemon *d;
    cx_status *status;
    int have_token;
    uint8_t token_hash[32]; /* SHA-256 of "Bearer <token>": compared in constant time */
    unsigned port;
};

/* The page: self-contained (no fetch beyond this server, no fonts, no CDN); it redraws from
 * /api/status every second. Only textContent is used, so nothing it shows is parsed as HTML. */
static const char PAGE[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>CloakX worker</title>\n"
    "<style>\n"
    "body{font:14px system-ui,sans-serif;margin:1.5em;color:#1b1f24;background:#fafbfc}\n"
    "h1{font-size:20px}h2{font-size:16px;margin-top:1.5em}\n"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#eef1f4}\n"
    ".job{border:1px solid #d0d7de;background:#fff;padding:.6em 1em;margin:.8em "
    "0;border-radius:6px}\n"
    ".state{font-weight:bold}.paid{color:#1a7f37}.failed{color:#cf222e}.refunded{color:#9a6700}"
    ".running{color:#0969da}\n"
    ".sim{background:#fff8c5;border:1px solid #d4a72c;padding:.3em .6em;display:inline-block}\n"
    "ol.phases li.current{font-weight:bold}code{font-size:12px;word-break:break-all}\n"
    "</style></head><body>\n"
    "<h1>CloakX worker</h1>\n"
    "<div id=\"conn\">loading…</div>\n"
    "<h2>Enclave</h2><table id=\"enclave\"></table>\n"
    "<h2>Jobs</h2><div id=\"jobs\"></div>\n"
    "<h2>Recent errors</h2><table id=\"errors\"></table>\n"
    "<script>\n"
    "'use strict';\n"
    "function el(t,a,txt){const e=document.createElement(t);if(a)for(const k in a)"
    "e.setAttribute(k,a[k]);if(txt!==undefined&&txt!==null)e.textContent=String(txt);return e;}\n"
    "function row(tb,k,v){const r=el('tr');r.appendChild(el('th',null,k));"
    "const d=el('td');if(v instanceof Node)d.appendChild(v);else d.textContent=v===null||"
    "v===undefined?'—':String(v);r.appendChild(d);tb.appendChild(r);}\n"
    "function bytes(n){const u=['B','KiB','MiB','GiB','TiB'];let i=0;while(n>=1024&&i<4)"
    "{n/=1024;i++;}return n.toFixed(i?1:0)+' '+u[i];}\n"
    "function curve(tr,va){const W=320,H=90,ns='http://www.w3.org/2000/svg';"
    "const s=document.createElementNS(ns,'svg');s.setAttribute('width',W);"
    "s.setAttribute('height',H);s.setAttribute('class','loss');"
    "const all=tr.concat(va).filter(x=>x!==null);if(!all.length)return s;"
    "const lo=Math.min(...all),hi=Math.max(...all),n=Math.max(tr.length,2);"
    "function pts(a){return a.map((y,i)=>y===null?null:((i/(n-1))*(W-10)+5).toFixed(1)+','+"
    "(H-5-((y-lo)/((hi-lo)||1))*(H-10)).toFixed(1)).filter(p=>p).join(' ');}\n"
    "[[tr,'#0969da','train'],[va,'#cf222e','validation']].forEach(([a,c,nm])=>{"
    "const p=document.createElementNS(ns,'polyline');p.setAttribute('points',pts(a));"
    "p.setAttribute('fill','none');p.setAttribute('stroke',c);p.setAttribute('stroke-width','2');"
    "p.setAttribute('data-series',nm);s.appendChild(p);});return s;}\n"
    "function job(j){const d=el('div',{'class':'job','data-job':j.job,'data-state':j.state});\n"
    "const "
    "h=el('div');h.appendChild(el('code',null,j.job));h.appendChild(document.createTextNode(' '));"
    "h.appendChild(el('span',{'class':'state '+j.state},j.state));d.appendChild(h);\n"
    "const t=el('table');d.appendChild(t);\n"
    "const ol=el('ol',{'class':'phases'});j.phases.forEach((p,i)=>{const li=el('li',"
    "{'data-phase':p.phase,'class':(i===j.phases.length-1&&j.state==='running')?'current':''},"
    "p.phase+' ('+p.seconds.toFixed(3)+' s)');ol.appendChild(li);});row(t,'phases',ol);\n"
    "const g=j.progress;row(t,'blobs fetched',g.blobs_fetched+' / '+g.blobs_total);"
    "row(t,'decrypted',bytes(g.bytes_decrypted)+' / '+bytes(g.bytes_total));"
    "row(t,'epoch',g.epoch+' / '+g.epochs);\n"
    "const L=j.loss.train;row(t,'loss',L.length?curve(j.loss.train,j.loss.validation):null);"
    "if(L.length)row(t,'last loss','train '+Number(L[L.length-1]).toFixed(5)+', validation '+"
    "Number(j.loss.validation[L.length-1]).toFixed(5));\n"
    "row(t,'ε spent',j.epsilon_spent===null?null:j.epsilon_spent.toFixed(4));"
    "row(t,'device',j.device);row(t,'seconds',j.seconds===null?null:j.seconds.toFixed(2));"
    "if(j.error)row(t,'reason',j.error);\n"
    "if(j.acceptance){const a=el('table',{'class':'acceptance'});const hr=el('tr');"
    "['contributor','status','rows','blobs / reason'].forEach(x=>hr.appendChild(el('th',null,x)));"
    "a.appendChild(hr);(j.acceptance.contributors||[]).forEach(c=>{const r=el('tr');"
    "r.appendChild(el('td',null,c.address));r.appendChild(el('td',null,'accepted'));"
    "r.appendChild(el('td',null,c.rows));r.appendChild(el('td',null,c.blobs));a.appendChild(r);});"
    "(j.acceptance.rejected||[]).forEach(c=>{const r=el('tr');"
    "r.appendChild(el('td',null,c.contributor));r.appendChild(el('td',null,'rejected'));"
    "r.appendChild(el('td',null,'—'));r.appendChild(el('td',null,c.reason));a.appendChild(r);});"
    "row(t,'contributors',a);}\n"
    "return d;}\n"
    "function draw(s){const e=document.getElementById('enclave');e.replaceChildren();\n"
    "const n=s.enclave;row(e,'enclave',n.enclave_id);"
    "row(e,'TEE',n.simulated?el('span',{'class':'sim'},n.tee_backend+' (SIMULATED TEE)'):"
    "n.tee_backend);row(e,'measurement',el('code',null,n.measurement));"
    "row(e,'attestation age',n.attestation_age_seconds===null?null:"
    "Math.round(n.attestation_age_seconds)+' s');row(e,'device',n.device);"
    "row(e,'GPU CC mode',n.cc_mode);\n"
    "const J=document.getElementById('jobs');J.replaceChildren();"
    "if(!s.jobs.length)J.appendChild(el('p',null,'no jobs yet'));s.jobs.forEach(j=>"
    "J.appendChild(job(j)));\n"
    "const E=document.getElementById('errors');E.replaceChildren();"
    "if(!s.errors.length)row(E,'none','');s.errors.forEach(x=>row(E,new Date(x.at_ms)"
    ".toISOString()+' '+x.level,x.message));\n"
    "document.getElementById('conn').textContent='updated '+new Date(s.now_ms).toISOString();"
    "document.body.setAttribute('data-loaded','1');}\n"
    "async function tick(){try{const r=await fetch('api/status',{cache:'no-store'});"
    "if(!r.ok)throw new Error('HTTP '+r.status);draw(await r.json());}catch(err){"
    "document.getElementById('conn').textContent='cannot reach the worker: '+err.message;}"
    "setTimeout(tick,1000);}\n"
    "tick();\n"
    "</script></body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, void *body,
                             size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    /* nothing loads from elsewhere: the page is its own script and style */
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; style-src "
                            "'unsafe-inline'; connect-src 'self'; img-src data:; "
                            "frame-ancestors 'none'");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    if (code == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"cloakx\"");
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned code, const char *msg)
{
    return reply(c, code, "text/plain; charset=utf-8", (void *)msg, strlen(msg),
                 MHD_RESPMEM_PERSISTENT);
}

static int authorized(const cx_status_server *srv, struct MHD_Connection *c)
{
    if (!srv->have_token)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    uint8_t got[32];
    SHA256((const uint8_t *)(h ? h : ""), h ? strlen(h) : 0, got);
    return CRYPTO_memcmp(got, srv->token_hash, 32) == 0 && h;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **req_ctx)
{
    cx_status_server *srv = cls;
    (void)version;
    (void)upload;
    /* the first call only announces the request; a body, if any, is never read */
    if (*req_ctx == NULL) {
        *req_ctx = srv;
        return MHD_YES;
    }
    if (*upload_len) {
        *upload_len = 0; /* discarded: this server takes no input */
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET and HEAD only\n");
    if (!authorized(srv, c))
        return text(c, MHD_HTTP_UNAUTHORIZED, "a bearer token is required\n");
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", (void *)PAGE, sizeof PAGE - 1,
                     MHD_RESPMEM_PERSISTENT);
    char *body = NULL;
    const char *type = NULL;
    if (strcmp(url, "/api/status") == 0) {
        body = cx_status_json(srv->status);
        type = "application/json";
    } else if (strcmp(url, "/metrics") == 0) {
        body = cx_status_metrics(srv->status);
        type = "text/plain; version=0.0.4; charset=utf-8";
    } else {
        return text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    if (!body)
        return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return reply(c, MHD_HTTP_OK, type, body, strlen(body), MHD_RESPMEM_MUST_FREE);
}

cx_err cx_status_server_start(cx_status *s, const char *listen, const char *token,
                              cx_status_server **out, cx_error *e)
{
    *out = NULL;
    struct sockaddr_in addr;
    cx_err rc = cx_http_parse_listen(listen, &addr, e);
    if (rc != CX_OK)
        return rc;
    int loopback = (ntohl(addr.sin_addr.s_addr) >> 24) == 127;
    if (token && !*token)
        return cx_error_set(e, CX_ERR_ARG, "the status token is empty");
    if (!loopback && !token)
        return cx_error_set(e, CX_ERR_ARG,
                            "--listen %s is beyond loopback: a bearer token is required "
                            "(--token-file or CLOAKX_STATUS_TOKEN)",
                            listen);
    cx_status_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return cx_error_set(e, CX_ERR_NOMEM, "status server: out of memory");
    srv->status = s;
    if (token) {
        char *h = NULL;
        if (asprintf(&h, "Bearer %s", token) < 0) {
            free(srv);
            return cx_error_set(e, CX_ERR_NOMEM, "status server: out of memory");
        }
        SHA256((const uint8_t *)h, strlen(h), srv->token_hash);
        OPENSSL_cleanse(h, strlen(h));
        free(h);
        srv->have_token = 1;
    }
    rc = cx_http_daemon_start(&addr, "status server", handle, srv, NULL, NULL, &srv->d, &srv->port,
                              e);
    if (rc != CX_OK) {
        OPENSSL_cleanse(srv->token_hash, sizeof srv->token_hash);
        free(srv);
        return rc;
    }
    *out = srv;
    return CX_OK;
}

unsigned cx_status_server_port(const cx_status_server *srv)
{
    return srv ? srv->port : 0;
}

void cx_status_server_stop(cx_status_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->d);
    OPENSSL_cleanse(srv->token_hash, sizeof srv->token_hash);
    free(srv);
}
