/* store_walrus.c — the walrus: blob store over the Walrus HTTP API with libcurl: PUT to a
 * publisher (parts + manifest above 10 MiB), stat, and the retry policy and header parsing
 * shared with the streamed GETs of store_walrus_get.c. */
#include "store_walrus_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define WAL_RETRY_AFTER_MAX_MS 60000L
#define WAL_STAT_PROBE 1024u

typedef struct walrus_store {
    char *publisher, *aggregator, *token;
} walrus_store;

/* ------------------------------------------------------------ shared bits -- */

int cx_wal_status_retryable(long st)
{
    return st == 408 || st == 429 || (st >= 500 && st != 501 && st != 505);
}

int cx_wal_curl_retryable(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* Exponential back-off with "equal jitter" (half fixed, half random) so that many
 * clients retrying the same aggregator spread out; Retry-After wins when longer. */
long cx_wal_backoff_ms(const cx_store_options *o, unsigned attempt, long retry_after_ms)
{
    uint64_t d = o->backoff_base_ms;
    for (unsigned i = 1; i < attempt && d < o->backoff_max_ms; i++)
        d *= 2;
    if (d > o->backoff_max_ms)
        d = o->backoff_max_ms;
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = 0;
    d = d / 2 + (d / 2 ? r % (d / 2 + 1) : 0);
    if (retry_after_ms > (long)d)
        d = (uint64_t)(retry_after_ms < WAL_RETRY_AFTER_MAX_MS ? retry_after_ms
                                                               : WAL_RETRY_AFTER_MAX_MS);
    return (long)d;
}

cx_err cx_wal_set_common(CURL *h, const cx_store_options *o, char *errbuf, cx_error *e)
{
    CURLcode c = CURLE_OK;
    errbuf[0] = 0;
#define SO(opt, val)                                                                               \
    if (c == CURLE_OK)                                                                             \
    c = curl_easy_setopt(h, opt, val)
    SO(CURLOPT_NOSIGNAL, 1L);
    SO(CURLOPT_ERRORBUFFER, errbuf);
    SO(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    SO(CURLOPT_LOW_SPEED_LIMIT, 1024L);
    SO(CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    SO(CURLOPT_FOLLOWLOCATION, 1L);
    SO(CURLOPT_MAXREDIRS, 3L);
    SO(CURLOPT_PROTOCOLS_STR, "http,https");
    SO(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SO(CURLOPT_TCP_KEEPALIVE, 1L);
    SO(CURLOPT_USERAGENT, "cloakx/0.1");
#undef SO
    if (c != CURLE_OK)
        return cx_error_set(e, CX_ERR_NET, "libcurl setup: %s", curl_easy_strerror(c));
    return CX_OK;
}

void cx_wal_hdr_reset(cx_wal_hdr *h)
{
    memset(h, 0, sizeof *h);
}

void cx_wal_hdr_line(cx_wal_hdr *hi, const char *p, size_t n)
{
    char line[256];
    if (n >= sizeof line)
        n = sizeof line - 1;
    memcpy(line, p, n);
    line[n] = 0;
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        line[--n] = 0;
    if (strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or 100-continue): forget the previous one. */
        cx_wal_hdr_reset(hi);
        const char *sp = strchr(line, ' ');
        if (sp)
            hi->status = strtol(sp + 1, NULL, 10);
        return;
    }
    char *colon = strchr(line, ':');
    if (!colon)
        return;
    *colon = 0;
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strcasecmp(line, "content-length") == 0) {
        char *end;
        unsigned long long x = strtoull(v, &end, 10);
        if (end != v && isdigit((unsigned char)v[0])) {
            hi->has_cl = 1;
            hi->cl = x;
        }
    } else if (strcasecmp(line, "content-range") == 0) {
        unsigned long long s, en, t;
        if (sscanf(v, "bytes %llu-%llu/%llu", &s, &en, &t) == 3) {
            hi->has_cr = 1;
            hi->cr_start = s;
            hi->cr_end = en;
            hi->cr_total = t;
        } else if (sscanf(v, "bytes */%llu", &t) == 1) {
            hi->has_cr = 2; /* unsatisfied range: only the total */
            hi->cr_total = t;
        }
    } else if (strcasecmp(line, "retry-after") == 0) {
        if (isdigit((unsigned char)v[0]))
            hi->retry_after_ms = strtol(v, NULL, 10) * 1000L;
    }
}

static size_t hdr_cb(char *p, size_t size, size_t n, void *ud)
{
    cx_wal_hdr_line(ud, p, size * n);
    return size * n;
}

/* ------------------------------------------------ blocking request (put, stat) -- */

typedef struct wal_resp {
    cx_wal_hdr h;
    uint8_t *body;
    size_t len, cap, max;
    int truncated; /* stopped on purpose after max bytes */
} wal_resp;

typedef struct upload_src {
    const uint8_t *p;
    size_t len, off;
} upload_src;

static size_t upload_cb(char *buf, size_t size, size_t n, void *ud)
{
    upload_src *u = ud;
    size_t k = size * n;
    if (k > u->len - u->off)
        k = u->len - u->off;
    memcpy(buf, u->p + u->off, k);
    u->off += k;
    return k;
}

static size_t resp_cb(char *p, size_t size, size_t n, void *ud)
{
    wal_resp *r = ud;
    size_t k = size * n;
    if (r->len + k > r->max) {
        size_t take = r->max - r->len;
        k = take;
        r->truncated = 1;
    }
    if (r->len + k > r->cap) {
        size_t nc = r->cap ? r->cap : 4096;
        while (nc < r->len + k)
            nc *= 2;
        uint8_t *nb = realloc(r->body, nc + 1);
        if (!nb)
            return 0;
        r->body = nb;
        r->cap = nc;
    }
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = 0;
    return r->truncated ? 0 : size * n; /* 0 ends the transfer: we have what we need */
}

/* One request with the retry policy; returns CX_OK with the final response (any status
 * the policy does not retry) or an error once retries or the time budget are spent. */
static cx_err wal_request(const walrus_store *w, const cx_store_options *o, CURL *h,
                          const char *url, const uint8_t *body, size_t blen, int is_put,
                          const char *range, size_t max_resp, wal_resp *r, cx_error *e)
{
    char errbuf[CURL_ERROR_SIZE];
    double t0 = cx_now_seconds();
    char last[300] = "";
    for (unsigned attempt = 0;; attempt++) {
        curl_easy_reset(h); /* keeps the connection cache: parts reuse the connection */
        free(r->body);
        memset(r, 0, sizeof *r);
        r->max = max_resp;
        cx_err rc = cx_wal_set_common(h, o, errbuf, e);
        if (rc != CX_OK)
            return rc;
        struct curl_slist *hl = NULL, *t;
        upload_src up = {body, blen, 0};
        char auth[1100];
        CURLcode c = CURLE_OK;
        c = curl_easy_setopt(h, CURLOPT_URL, url);
        if (c == CURLE_OK)
            c = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, resp_cb);
        if (c == CURLE_OK)
            c = curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
        if (c == CURLE_OK)
            c = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, hdr_cb);
        if (c == CURLE_OK)
            c = curl_easy_setopt(h, CURLOPT_HEADERDATA, &r->h);
        if (c == CURLE_OK && range)
            c = curl_easy_setopt(h, CURLOPT_RANGE, range);
        if (is_put) {
            if ((t = curl_slist_append(hl, "Content-Type: application/octet-stream")))
                hl = t;
            if ((t = curl_slist_append(hl, "Expect:")))
                hl = t;
            if (w->token) {
                snprintf(auth, sizeof auth, "Authorization: Bearer %s", w->token);
                if ((t = curl_slist_append(hl, auth)))
                    hl = t;
                cx_memwipe(auth, sizeof auth);
            }
            if (c == CURLE_OK)
                c = curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
            if (c == CURLE_OK)
                c = curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_cb);
            if (c == CURLE_OK)
                c = curl_easy_setopt(h, CURLOPT_READDATA, &up);
            if (c == CURLE_OK)
                c = curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blen);
            if (c == CURLE_OK)
                c = curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
            /* A publisher sends nothing while it encodes and certifies the blob, which can
             * take longer than the low-speed window: bound the whole request instead. */
            if (c == CURLE_OK)
                c = curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 0L);
            if (c == CURLE_OK)
                c = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->total_timeout_ms);
        }
        if (c != CURLE_OK) {
            curl_slist_free_all(hl);
            return cx_error_set(e, CX_ERR_NET, "libcurl setup: %s", curl_easy_strerror(c));
        }
        c = curl_easy_perform(h);
        curl_slist_free_all(hl); /* libcurl copied the Authorization line already */
        if (c == CURLE_WRITE_ERROR && r->truncated)
            c = CURLE_OK;
        long st = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        if (c == CURLE_OK)
            r->h.status = st;
        int retry;
        if (c != CURLE_OK) {
            retry = cx_wal_curl_retryable(c);
            snprintf(last, sizeof last, "%s", errbuf[0] ? errbuf : curl_easy_strerror(c));
            if (!retry)
                return cx_error_set(e, CX_ERR_NET, "%s: %s", url, last);
        } else if (cx_wal_status_retryable(st)) {
            char t2[256];
            cx_walrus_error_text((const char *)r->body, r->len, t2, sizeof t2);
            snprintf(last, sizeof last, "HTTP %ld: %s", st, t2);
            retry = 1;
        } else {
            return CX_OK;
        }
        long d = cx_wal_backoff_ms(o, attempt + 1, r->h.retry_after_ms);
        if (attempt >= o->max_retries ||
            (cx_now_seconds() - t0) * 1000.0 + (double)d > (double)o->total_timeout_ms)
            return cx_error_set(e, CX_ERR_NET, "%s: gave up after %u attempts: %s", url,
                                attempt + 1, last);
        cx_log_warn(o->log, "walrus: %s: %s; retry %u in %ld ms", url, last, attempt + 1, d);
        struct timespec ts = {d / 1000, (d % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ------------------------------------------------------------------- put -- */

static cx_err put_blob(const walrus_store *w, const cx_store_options *o, CURL *h,
                       const uint8_t *data, size_t len, char id[CX_STORE_ID_MAX], cx_error *e)
{
    size_t ul = strlen(w->publisher) + 64;
    char *url = malloc(ul);
    if (!url)
        return cx_error_set(e, CX_ERR_NOMEM, "walrus put");
    snprintf(url, ul, "%s/v1/blobs?epochs=%" PRIu32, w->publisher, o->epochs);
    wal_resp r = {0};
    cx_err rc = wal_request(w, o, h, url, data, len, 1, NULL, 1u << 20, &r, e);
    if (rc == CX_OK) {
        cx_walrus_result kind;
        rc = cx_walrus_parse_store_response(r.h.status, (const char *)r.body, r.len, id, &kind, e);
        if (rc == CX_ERR_LIMIT)
            cx_error_prefix(e, "a body of %zu bytes: ", len);
        if (rc == CX_OK)
            cx_log_info(o->log, "walrus: stored %zu bytes as %s (%s)", len, id,
                        kind == CX_WALRUS_NEWLY_CREATED ? "newlyCreated" : "alreadyCertified");
    }
    free(r.body);
    free(url);
    return rc;
}

static cx_err fill(cx_reader *src, uint8_t *buf, size_t want, size_t *got, cx_error *e)
{
    *got = 0;
    while (*got < want) {
        size_t n = 0;
        cx_err rc = src->read(src->ctx, buf + *got, want - *got, &n, e);
        if (rc != CX_OK)
            return cx_error_wrap(rc, e, "walrus put: reading input: ");
        if (n == 0)
            break;
        *got += n;
    }
    return CX_OK;
}

/* After a part of n bytes: one byte of look-ahead (kept in *look) tells "that was the last
 * part" (*eof) from "more to come"; a short part is the last. */
static cx_err at_end(cx_reader *src, size_t n, size_t ps, uint8_t *look, int *eof, cx_error *e)
{
    *eof = 1;
    if (n != ps)
        return CX_OK;
    size_t g = 0;
    cx_err rc = fill(src, look, 1, &g, e);
    if (rc == CX_OK)
        *eof = g != 1;
    return rc;
}

static cx_err walrus_put(cx_store *s, cx_reader *src, char id[CX_STORE_ID_MAX], cx_error *e)
{
    const walrus_store *w = s->impl;
    const cx_store_options *o = &s->opt;
    const size_t ps = o->part_size;
    cx_walrus_manifest m = {0};
    uint32_t cap = 0;
    uint8_t *buf = malloc(ps + 1);
    CURL *h = curl_easy_init();
    cx_err rc = CX_OK;
    if (!buf || !h) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "walrus put");
        goto out;
    }
    size_t n = 0;
    int eof = 0;
    uint8_t look = 0;
    rc = fill(src, buf, ps, &n, e);
    if (rc == CX_OK)
        rc = at_end(src, n, ps, &look, &eof, e);
    if (rc != CX_OK)
        goto out;
    int magic = n >= WAL_MAGIC_LEN && memcmp(buf, CX_WALRUS_MANIFEST_MAGIC, WAL_MAGIC_LEN) == 0;
    if (eof && !magic) {
        rc = put_blob(w, o, h, buf, n, id, e);
        goto out;
    }
    m.part_size = ps;
    for (;;) {
        if (m.nparts == CX_WALRUS_MANIFEST_MAX_PARTS) {
            rc = cx_error_set(e, CX_ERR_LIMIT, "walrus put: more than %u parts of %zu bytes",
                              CX_WALRUS_MANIFEST_MAX_PARTS, ps);
            goto out;
        }
        if (m.nparts == cap) {
            uint32_t nc = cap ? cap * 2 : 16;
            cx_walrus_part *np = realloc(m.parts, nc * sizeof *np);
            if (!np) {
                rc = cx_error_set(e, CX_ERR_NOMEM, "walrus put: manifest");
                goto out;
            }
            m.parts = np;
            cap = nc;
        }
        cx_walrus_part *p = &m.parts[m.nparts];
        unsigned dl = 0;
        if (EVP_Digest(buf, n, p->sha256, &dl, EVP_sha256(), NULL) != 1) {
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256");
            goto out;
        }
        p->size = n;
        rc = put_blob(w, o, h, buf, n, p->blob_id, e);
        if (rc != CX_OK) {
            cx_error_prefix(e, "part %u: ", m.nparts);
            goto out;
        }
        m.nparts++;
        m.size += n;
        if (eof)
            break;
        buf[0] = look;
        rc = fill(src, buf + 1, ps - 1, &n, e);
        if (rc != CX_OK)
            goto out;
        n += 1;
        rc = at_end(src, n, ps, &look, &eof, e);
        if (rc != CX_OK)
            goto out;
    }
    char *mtext = NULL;
    size_t mlen = 0;
    rc = cx_walrus_manifest_encode(&m, &mtext, &mlen, e);
    if (rc != CX_OK)
        goto out;
    if (mlen > CX_WALRUS_MAX_BODY) {
        free(mtext);
        rc = cx_error_set(e, CX_ERR_LIMIT, "walrus put: manifest of %zu bytes is too large", mlen);
        goto out;
    }
    rc = put_blob(w, o, h, (const uint8_t *)mtext, mlen, id, e);
    free(mtext);
    if (rc != CX_OK)
        cx_error_prefix(e, "manifest: ");
    else
        cx_log_info(o->log, "walrus: %" PRIu64 " bytes in %u parts, manifest %s", m.size, m.nparts,
                    id);
out:
    cx_walrus_manifest_free(&m);
    free(buf);
    if (h)
        curl_easy_cleanup(h);
    return rc;
}

static cx_err walrus_get(cx_store *s, const char *id, cx_reader *out, cx_error *e)
{
    const walrus_store *w = s->impl;
    return cx_walrus_get(&s->opt, w->aggregator, id, out, e);
}

/* ------------------------------------------------------------------ stat -- */

static cx_err walrus_stat(cx_store *s, const char *id, cx_store_info *st, cx_error *e)
{
    const walrus_store *w = s->impl;
    size_t ul = strlen(w->aggregator) + 64;
    char *url = malloc(ul);
    CURL *h = curl_easy_init();
    wal_resp r = {0};
    cx_err rc = CX_OK;
    if (!url || !h) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "walrus stat");
        goto out;
    }
    snprintf(url, ul, "%s/v1/blobs/%s", w->aggregator, id);
    char range[32];
    snprintf(range, sizeof range, "0-%u", WAL_STAT_PROBE - 1);
    rc = wal_request(w, &s->opt, h, url, NULL, 0, 0, range, WAL_STAT_PROBE, &r, e);
    if (rc != CX_OK)
        goto out;
    long code = r.h.status;
    char t[300];
    if (code == 404) {
        cx_walrus_error_text((const char *)r.body, r.len, t, sizeof t);
        rc = cx_error_set(e, CX_ERR_NOTFOUND,
                          "blob %s not found on aggregator %s (never stored, or its storage "
                          "epochs have expired): %s",
                          id, w->aggregator, t);
        goto out;
    }
    if (code == 416 && r.h.has_cr && r.h.cr_total == 0) {
        st->size = 0;
        st->parts = 1;
        goto out;
    }
    if (code == 206 && r.h.has_cr == 1)
        st->size = r.h.cr_total;
    else if (code == 200 && r.h.has_cl)
        st->size = r.h.cl;
    else if (code == 200 && !r.truncated)
        st->size = r.len;
    else {
        cx_walrus_error_text((const char *)r.body, r.len, t, sizeof t);
        rc = cx_error_set(e, CX_ERR_NET, "blob %s: aggregator answered HTTP %ld: %s", id, code, t);
        goto out;
    }
    st->parts = 1;
    if (r.len >= WAL_MAGIC_LEN && memcmp(r.body, CX_WALRUS_MANIFEST_MAGIC, WAL_MAGIC_LEN) == 0) {
        if (st->size > CX_WALRUS_MAX_BODY) {
            rc = cx_error_set(e, CX_ERR_LIMIT, "blob %s: manifest of %" PRIu64 " bytes", id,
                              st->size);
            goto out;
        }
        if (st->size > r.len) {
            free(r.body);
            memset(&r, 0, sizeof r);
            rc = wal_request(w, &s->opt, h, url, NULL, 0, 0, NULL, CX_WALRUS_MAX_BODY, &r, e);
            if (rc != CX_OK)
                goto out;
            if (r.h.status != 200) {
                cx_walrus_error_text((const char *)r.body, r.len, t, sizeof t);
                rc = cx_error_set(e, r.h.status == 404 ? CX_ERR_NOTFOUND : CX_ERR_NET,
                                  "blob %s: aggregator answered HTTP %ld: %s", id, r.h.status, t);
                goto out;
            }
        }
        cx_walrus_manifest m;
        rc = cx_walrus_manifest_parse(r.body, r.len, &m, e);
        if (rc != CX_OK) {
            cx_error_prefix(e, "blob %s: ", id);
            goto out;
        }
        st->is_manifest = 1;
        st->size = m.size;
        st->parts = m.nparts;
        cx_walrus_manifest_free(&m);
    }
out:
    free(r.body);
    free(url);
    if (h)
        curl_easy_cleanup(h);
    return rc;
}

/* ------------------------------------------------------------------ open -- */

static void walrus_free(cx_store *s)
{
    walrus_store *w = s->impl;
    if (!w)
        return;
    if (w->token) {
        cx_memwipe(w->token, strlen(w->token));
        free(w->token);
    }
    free(w->publisher);
    free(w->aggregator);
    free(w);
}

static const cx_store_ops walrus_ops = {.kind = "walrus",
                                        .put = walrus_put,
                                        .get = walrus_get,
                                        .stat = walrus_stat,
                                        .free = walrus_free};

/* Copy a base URL without trailing slashes; only http(s) makes sense here. */
static cx_err dup_base(const char *src, size_t n, char **out, const char *what, cx_error *e)
{
    while (n > 0 && src[n - 1] == '/')
        n--;
    if (!((n > 7 && strncmp(src, "http://", 7) == 0) ||
          (n > 8 && strncmp(src, "https://", 8) == 0)))
        return cx_error_set(e, CX_ERR_ARG, "walrus %s '%.*s' must be an http:// or https:// URL",
                            what, (int)(n < 200 ? n : 200), src);
    if (n > 400)
        return cx_error_set(e, CX_ERR_ARG, "walrus %s URL is too long", what);
    *out = strndup(src, n);
    return *out ? CX_OK : cx_error_set(e, CX_ERR_NOMEM, "walrus store");
}

cx_err cx_store_walrus_open(cx_store *s, const char *query, cx_error *e)
{
    walrus_store *w = calloc(1, sizeof *w);
    if (!w)
        return cx_error_set(e, CX_ERR_NOMEM, "walrus store");
    cx_err rc = CX_OK;
    const char *pub = s->opt.publisher, *agg = s->opt.aggregator;
    size_t publen = pub ? strlen(pub) : 0, agglen = agg ? strlen(agg) : 0;
    if (query[0] && query[0] != '?') {
        rc = cx_error_set(e, CX_ERR_ARG,
                          "store URL walrus:%s: expected walrus: or walrus:?key=value&...", query);
        goto fail;
    }
    /* walrus:?publisher=URL&aggregator=URL&epochs=N; explicit options win. */
    for (const char *p = query[0] ? query + 1 : query; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq) {
            rc =
                cx_error_set(e, CX_ERR_ARG, "walrus store URL: '%.*s' is not key=value", (int)n, p);
            goto fail;
        }
        size_t kl = (size_t)(eq - p), vl = n - kl - 1;
        const char *v = eq + 1;
        if (kl == 9 && strncmp(p, "publisher", 9) == 0) {
            if (!s->opt.publisher) {
                pub = v;
                publen = vl;
            }
        } else if (kl == 10 && strncmp(p, "aggregator", 10) == 0) {
            if (!s->opt.aggregator) {
                agg = v;
                agglen = vl;
            }
        } else if (kl == 6 && strncmp(p, "epochs", 6) == 0) {
            char tmp[16];
            char *end;
            snprintf(tmp, sizeof tmp, "%.*s", (int)(vl < 15 ? vl : 15), v);
            unsigned long x = strtoul(tmp, &end, 10);
            if (vl == 0 || vl > 3 || *end || x < 1 || x > 53) {
                rc = cx_error_set(e, CX_ERR_ARG, "walrus store URL: epochs must be 1..53");
                goto fail;
            }
            s->opt.epochs = (uint32_t)x;
        } else {
            rc = cx_error_set(
                e, CX_ERR_ARG,
                "walrus store URL: unknown key '%.*s' (publisher, aggregator, epochs)", (int)kl, p);
            goto fail;
        }
        p += n + (amp ? 1 : 0);
    }
    if (!pub) {
        pub = CX_WALRUS_TESTNET_PUBLISHER;
        publen = strlen(pub);
    }
    if (!agg) {
        agg = CX_WALRUS_TESTNET_AGGREGATOR;
        agglen = strlen(agg);
    }
    if ((rc = dup_base(pub, publen, &w->publisher, "publisher", e)) != CX_OK ||
        (rc = dup_base(agg, agglen, &w->aggregator, "aggregator", e)) != CX_OK)
        goto fail;
    if (s->opt.token && s->opt.token[0]) {
        if (strlen(s->opt.token) > 1000 || strpbrk(s->opt.token, "\r\n")) {
            rc = cx_error_set(e, CX_ERR_ARG, "walrus bearer token is malformed");
            goto fail;
        }
        w->token = strdup(s->opt.token);
        if (!w->token) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "walrus store");
            goto fail;
        }
    }
    s->opt.publisher = w->publisher;
    s->opt.aggregator = w->aggregator;
    s->opt.token = NULL; /* only the backend's copy, wiped on free */
    s->ops = &walrus_ops;
    s->impl = w;
    return CX_OK;
fail:
    s->impl = w;
    walrus_free(s);
    s->impl = NULL;
    return rc;
}
