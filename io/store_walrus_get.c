/* store_walrus_get.c — the walrus: streamed GET: one curl multi handle per reader, a
 * manifest's parts in flight at once, CURLPAUSE back-pressure, retries with back-off,
 * resume by closed Range requests, length and SHA-256 checks per part. */
#include "store_walrus_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define WX_BUF (256u * 1024u) /* per-transfer buffer of a streaming read */
#define WX_ERRBODY 2048u      /* how much of an error body is kept */

enum { WX_IDLE, WX_ACTIVE, WX_WAIT, WX_DONE, WX_FAILED };

struct wal_reader;

/* One blob being downloaded: the root (the id asked for) or one manifest part. */
typedef struct wx {
    struct wal_reader *rd;
    CURL *h;
    int state, paused, fatal;
    char url[512];
    char label[160];    /* "blob ID" / "blob ID part 3/9 (PARTID)" for messages */
    uint64_t expect;    /* total length, UINT64_MAX until known */
    uint64_t received;  /* bytes accepted, in order, never twice */
    uint64_t att_start; /* where this attempt's Range starts */
    uint64_t skip;      /* bytes to drop when a server ignored our Range */
    uint8_t *buf;
    size_t cap, rpos, wpos, max_cap;
    int probe;       /* root: still deciding manifest vs data */
    int is_manifest; /* root: it is a manifest, buffered whole */
    cx_wal_hdr hi;
    int hdr_checked;
    char errbody[WX_ERRBODY];
    size_t errlen;
    unsigned attempts; /* attempts without progress */
    double t_progress, retry_at;
    EVP_MD_CTX *md; /* parts: SHA-256 of the accepted bytes */
    uint8_t sha_expect[32];
    cx_err fail;
    char msg[CX_ERROR_MSG_MAX];
    char last[300];
    char errbuf[CURL_ERROR_SIZE];
} wx;

typedef struct wal_reader {
    cx_store_options opt;
    char *aggregator;
    char id[CX_STORE_ID_MAX];
    CURLM *m;
    wx root;
    cx_walrus_manifest man;
    int have_man;
    uint32_t cur; /* part being consumed */
    unsigned nslots;
    wx *slots;    /* part p lives in slots[p % nslots] */
    cx_error err; /* sticky: once failed, every read fails the same way */
    int failed;
} wal_reader;

static void wx_fail(wx *x, cx_err code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void wx_fail(wx *x, cx_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
    x->fail = code;
    x->fatal = 1;
}

/* Checked once per attempt, on the first body byte: is this the response we asked for? */
static int wx_check_headers(wx *x)
{
    long st = x->hi.status;
    if (st < 200 || st >= 300)
        return 1; /* body is an error text, judged when the transfer ends */
    if (st == 206) {
        uint64_t want_end = x->expect - 1;
        if (x->hi.has_cr != 1 || x->hi.cr_start != x->att_start || x->hi.cr_end != want_end ||
            x->hi.cr_total != x->expect) {
            wx_fail(x, CX_ERR_NET,
                    "%s: asked for bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
                    ", aggregator answered 206 with Content-Range %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                    x->label, x->att_start, want_end, x->expect, x->hi.cr_start, x->hi.cr_end,
                    x->hi.cr_total);
            return 0;
        }
        return 1;
    }
    if (st != 200) {
        wx_fail(x, CX_ERR_NET, "%s: unexpected HTTP %ld from the aggregator", x->label, st);
        return 0;
    }
    /* A 200 to a ranged request carries the whole blob again: drop what we have. */
    x->skip = x->att_start;
    if (x->hi.has_cl) {
        if (x->expect == UINT64_MAX) {
            x->expect = x->hi.cl;
        } else if (x->hi.cl != x->expect) {
            wx_fail(x, CX_ERR_NET,
                    "%s: body length differs from what was announced: Content-Length %" PRIu64
                    ", expected %" PRIu64 " bytes",
                    x->label, x->hi.cl, x->expect);
            return 0;
        }
    }
    return 1;
}

static size_t wx_write(char *p, size_t size, size_t nm, void *ud)
{
    wx *x = ud;
    size_t n = size * nm;
    if (!x->hdr_checked) {
        x->hdr_checked = 1;
        if (!wx_check_headers(x))
            return 0;
    }
    if (x->hi.status < 200 || x->hi.status >= 300) {
        size_t k = n < WX_ERRBODY - 1 - x->errlen ? n : WX_ERRBODY - 1 - x->errlen;
        memcpy(x->errbody + x->errlen, p, k);
        x->errlen += k;
        return n;
    }
    size_t drop = x->skip < n ? (size_t)x->skip : n;
    size_t k = n - drop;
    if (k && x->expect != UINT64_MAX && x->received + k > x->expect) {
        wx_fail(x, CX_ERR_NET,
                "%s: body length differs from what was announced: more than %" PRIu64 " bytes",
                x->label, x->expect);
        return 0;
    }
    if (k > x->cap - x->wpos) {
        if (x->rpos) { /* compact: unread bytes to the front */
            memmove(x->buf, x->buf + x->rpos, x->wpos - x->rpos);
            x->wpos -= x->rpos;
            x->rpos = 0;
        }
        if (k > x->cap - x->wpos) {
            size_t need = x->wpos + k;
            if (need > x->max_cap && x->is_manifest) {
                wx_fail(x, CX_ERR_LIMIT, "%s: manifest longer than %u bytes", x->label,
                        CX_WALRUS_MAX_BODY);
                return 0;
            }
            if (x->probe || x->is_manifest || x->wpos == 0) {
                /* Grow only while buffering a manifest, or when one chunk is larger than
                 * the whole (empty) buffer; otherwise the consumer sets the pace. */
                size_t nc = x->cap;
                while (nc < need)
                    nc *= 2;
                uint8_t *nb = realloc(x->buf, nc);
                if (!nb) {
                    wx_fail(x, CX_ERR_NOMEM, "%s: buffer of %zu bytes", x->label, nc);
                    return 0;
                }
                x->buf = nb;
                x->cap = nc;
            } else {
                x->paused = 1;
                return CURL_WRITEFUNC_PAUSE; /* libcurl keeps the chunk and offers it again */
            }
        }
    }
    x->skip -= drop;
    if (k) {
        memcpy(x->buf + x->wpos, p + drop, k);
        if (x->md && EVP_DigestUpdate(x->md, p + drop, k) != 1) {
            wx_fail(x, CX_ERR_CRYPTO, "SHA-256 update");
            return 0;
        }
        x->wpos += k;
        x->received += k;
        x->t_progress = cx_now_seconds();
        x->attempts = 0;
    }
    if (x->probe && x->received >= WAL_MAGIC_LEN) {
        x->probe = 0;
        x->is_manifest = memcmp(x->buf, CX_WALRUS_MANIFEST_MAGIC, WAL_MAGIC_LEN) == 0;
    }
    return n;
}

static size_t wx_hdr(char *p, size_t size, size_t n, void *ud)
{
    wx *x = ud;
    cx_wal_hdr_line(&x->hi, p, size * n);
    return size * n;
}

static cx_err wx_start(wx *x, cx_error *e)
{
    wal_reader *rd = x->rd;
    if (!x->h) {
        x->h = curl_easy_init();
        if (!x->h)
            return cx_error_set(e, CX_ERR_NOMEM, "curl_easy_init");
    } else {
        curl_easy_reset(x->h);
    }
    cx_err rc = cx_wal_set_common(x->h, &rd->opt, x->errbuf, e);
    if (rc != CX_OK)
        return rc;
    char range[64];
    int ranged = x->received > 0;
    if (ranged) {
        if (x->expect == UINT64_MAX) {
            x->state = WX_FAILED;
            return cx_error_set(e, CX_ERR_NET,
                                "%s: connection lost after %" PRIu64
                                " bytes and the length was never announced, so it cannot be "
                                "resumed",
                                x->label, x->received);
        }
        /* Closed ranges only: Walrus aggregators refuse "bytes=N-". */
        snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, x->received, x->expect - 1);
    }
    cx_wal_hdr_reset(&x->hi);
    x->hdr_checked = 0;
    x->errlen = 0;
    x->skip = 0;
    x->paused = 0;
    x->att_start = x->received;
    CURLcode c = curl_easy_setopt(x->h, CURLOPT_URL, x->url);
    if (c == CURLE_OK)
        c = curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, wx_write);
    if (c == CURLE_OK)
        c = curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
    if (c == CURLE_OK)
        c = curl_easy_setopt(x->h, CURLOPT_HEADERFUNCTION, wx_hdr);
    if (c == CURLE_OK)
        c = curl_easy_setopt(x->h, CURLOPT_HEADERDATA, x);
    if (c == CURLE_OK)
        c = curl_easy_setopt(x->h, CURLOPT_RANGE, ranged ? range : NULL);
    if (c != CURLE_OK)
        return cx_error_set(e, CX_ERR_NET, "libcurl setup: %s", curl_easy_strerror(c));
    CURLMcode mc = curl_multi_add_handle(rd->m, x->h);
    if (mc != CURLM_OK)
        return cx_error_set(e, CX_ERR_NET, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    x->state = WX_ACTIVE;
    if (x->t_progress == 0)
        x->t_progress = cx_now_seconds();
    return CX_OK;
}

/* A transfer ended: done, retry later, or failed for good. */
static void wx_finished(wx *x, CURLcode res)
{
    wal_reader *rd = x->rd;
    const cx_store_options *o = &rd->opt;
    curl_multi_remove_handle(rd->m, x->h);
    long st = x->hi.status;
    if (x->fatal) {
        x->state = WX_FAILED;
        return;
    }
    if (res == CURLE_OK && st >= 200 && st < 300) {
        if (x->probe) { /* ended shorter than the magic line: plain data */
            x->probe = 0;
            x->is_manifest = 0;
        }
        if (x->expect == UINT64_MAX || x->received == x->expect) {
            x->expect = x->received;
            x->state = WX_DONE;
            return;
        }
        snprintf(x->last, sizeof x->last, "body ended after %" PRIu64 " of %" PRIu64 " bytes",
                 x->received, x->expect);
    } else if (res == CURLE_OK) {
        char t[300];
        cx_walrus_error_text(x->errbody, x->errlen, t, sizeof t);
        if (st == 404) {
            wx_fail(x, CX_ERR_NOTFOUND,
                    "%s not found on aggregator %s (never stored, or its storage epochs have "
                    "expired): %s",
                    x->label, rd->aggregator, t);
            x->state = WX_FAILED;
            return;
        }
        if (st == 416) {
            wx_fail(x, CX_ERR_NET,
                    "%s: body length differs from what was announced: received %" PRIu64
                    " of %" PRIu64 " bytes and the aggregator cannot serve the rest (HTTP 416: %s)",
                    x->label, x->received, x->expect, t);
            x->state = WX_FAILED;
            return;
        }
        if (!cx_wal_status_retryable(st)) {
            wx_fail(x, CX_ERR_NET, "%s: aggregator answered HTTP %ld: %s", x->label, st, t);
            x->state = WX_FAILED;
            return;
        }
        snprintf(x->last, sizeof x->last, "HTTP %ld: %.250s", st, t);
    } else {
        snprintf(x->last, sizeof x->last, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
        if (!cx_wal_curl_retryable(res)) {
            wx_fail(x, CX_ERR_NET, "%s: %s", x->label, x->last);
            x->state = WX_FAILED;
            return;
        }
    }
    x->attempts++;
    long d = cx_wal_backoff_ms(o, x->attempts, x->hi.retry_after_ms);
    double now = cx_now_seconds();
    if (x->attempts > o->max_retries ||
        (now - x->t_progress) * 1000.0 + (double)d > (double)o->total_timeout_ms) {
        wx_fail(x, CX_ERR_NET, "%s: gave up after %u attempts without progress: %s", x->label,
                x->attempts, x->last);
        x->state = WX_FAILED;
        return;
    }
    cx_log_warn(o->log, "walrus: %s: %s; retry %u in %ld ms%s", x->label, x->last, x->attempts, d,
                x->received ? " (resuming with a Range request)" : "");
    x->state = WX_WAIT;
    x->retry_at = now + (double)d / 1000.0;
}

static wx *find_wx(wal_reader *rd, CURL *h)
{
    if (rd->root.h == h)
        return &rd->root;
    for (unsigned i = 0; i < rd->nslots; i++)
        if (rd->slots[i].h == h)
            return &rd->slots[i];
    return NULL;
}

static int wx_live(const wx *x)
{
    return x->state == WX_ACTIVE || x->state == WX_WAIT;
}

/* Move transfers forward once: start due retries, let libcurl work, collect the ends,
 * and wait (bounded) when nothing can happen yet. */
static cx_err drive(wal_reader *rd, const wx *cur, cx_error *e)
{
    double now = cx_now_seconds(), next = now + 1.0;
    wx *all[1 + 64];
    unsigned na = 0;
    all[na++] = &rd->root;
    for (unsigned i = 0; i < rd->nslots; i++)
        all[na++] = &rd->slots[i];
    for (unsigned i = 0; i < na; i++) {
        wx *x = all[i];
        if (x->state != WX_WAIT)
            continue;
        if (x->retry_at <= now) {
            cx_err rc = wx_start(x, e);
            if (rc != CX_OK)
                return rc;
        } else if (x->retry_at < next) {
            next = x->retry_at;
        }
    }
    int running = 0;
    CURLMcode mc = curl_multi_perform(rd->m, &running);
    if (mc != CURLM_OK)
        return cx_error_set(e, CX_ERR_NET, "curl_multi_perform: %s", curl_multi_strerror(mc));
    int q, ended = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(rd->m, &q))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        wx *x = find_wx(rd, msg->easy_handle);
        if (!x)
            return cx_error_set(e, CX_ERR_INTERNAL, "curl finished an unknown transfer");
        wx_finished(x, msg->data.result);
        ended = 1;
    }
    /* Only sleep when the consumer still has nothing to take: a transfer paused on a
     * full buffer raises no socket event, so polling then would only wait out the timeout. */
    if (ended || (cur && (cur->wpos > cur->rpos || !wx_live(cur))))
        return CX_OK;
    int timeout = (int)((next - cx_now_seconds()) * 1000.0);
    if (timeout < 0)
        timeout = 0;
    if (timeout > 1000)
        timeout = 1000;
    mc = curl_multi_poll(rd->m, NULL, 0, timeout, NULL);
    if (mc != CURLM_OK)
        return cx_error_set(e, CX_ERR_NET, "curl_multi_poll: %s", curl_multi_strerror(mc));
    return CX_OK;
}

static void wx_clear(wal_reader *rd, wx *x)
{
    if (x->h) {
        if (x->state == WX_ACTIVE)
            curl_multi_remove_handle(rd->m, x->h);
        curl_easy_cleanup(x->h);
    }
    free(x->buf);
    EVP_MD_CTX_free(x->md);
    memset(x, 0, sizeof *x);
}

static cx_err wx_init_buf(wx *x, size_t cap, cx_error *e)
{
    if (!x->buf) {
        x->buf = malloc(cap);
        if (!x->buf)
            return cx_error_set(e, CX_ERR_NOMEM, "transfer buffer");
        x->cap = cap;
    }
    x->rpos = x->wpos = 0;
    return CX_OK;
}

/* Prepare slot for part p (reusing its handle and buffer) and start it. */
static cx_err part_start(wal_reader *rd, uint32_t p, cx_error *e)
{
    wx *x = &rd->slots[p % rd->nslots];
    const cx_walrus_part *pt = &rd->man.parts[p];
    CURL *h = x->h;
    uint8_t *buf = x->buf;
    size_t cap = x->cap;
    EVP_MD_CTX *md = x->md;
    memset(x, 0, sizeof *x);
    x->h = h;
    x->buf = buf;
    x->cap = cap;
    x->md = md ? md : EVP_MD_CTX_new();
    x->rd = rd;
    if (!x->md || EVP_DigestInit_ex(x->md, EVP_sha256(), NULL) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 init");
    cx_err rc = wx_init_buf(x, WX_BUF, e);
    if (rc != CX_OK)
        return rc;
    x->max_cap = WX_BUF;
    x->expect = pt->size;
    memcpy(x->sha_expect, pt->sha256, 32);
    snprintf(x->url, sizeof x->url, "%s/v1/blobs/%s", rd->aggregator, pt->blob_id);
    snprintf(x->label, sizeof x->label, "blob %s part %" PRIu32 "/%" PRIu32 " (%s)", rd->id, p + 1,
             rd->man.nparts, pt->blob_id);
    return wx_start(x, e);
}

static cx_err begin_parts(wal_reader *rd, cx_error *e)
{
    cx_err rc = cx_walrus_manifest_parse(rd->root.buf + rd->root.rpos,
                                         rd->root.wpos - rd->root.rpos, &rd->man, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "blob %s: ", rd->id);
    rd->have_man = 1;
    rd->nslots = rd->opt.parallel < 64 ? rd->opt.parallel : 64;
    if (rd->nslots > rd->man.nparts)
        rd->nslots = rd->man.nparts;
    rd->slots = calloc(rd->nslots, sizeof *rd->slots);
    if (!rd->slots)
        return cx_error_set(e, CX_ERR_NOMEM, "blob %s: %u transfers", rd->id, rd->nslots);
    wx_clear(rd, &rd->root); /* frees the manifest text: the parsed form is kept */
    for (uint32_t p = 0; p < rd->nslots; p++) {
        rc = part_start(rd, p, e);
        if (rc != CX_OK)
            return rc;
    }
    return CX_OK;
}

/* A part was fully consumed: check its length and digest, then reuse its slot. */
static cx_err part_end(wal_reader *rd, wx *x, cx_error *e)
{
    uint8_t dig[32];
    unsigned dl = 0;
    if (x->received != x->expect)
        return cx_error_set(e, CX_ERR_NET,
                            "%s: body length differs from the manifest: %" PRIu64
                            " bytes instead of %" PRIu64,
                            x->label, x->received, x->expect);
    if (EVP_DigestFinal_ex(x->md, dig, &dl) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 final");
    if (memcmp(dig, x->sha_expect, 32) != 0)
        return cx_error_set(e, CX_ERR_AUTH,
                            "%s: content does not match the SHA-256 in the manifest", x->label);
    uint32_t next = rd->cur + rd->nslots;
    rd->cur++;
    if (next < rd->man.nparts)
        return part_start(rd, next, e);
    x->state = WX_IDLE;
    return CX_OK;
}

static cx_err wr_read_inner(wal_reader *rd, uint8_t *out, size_t len, size_t *got, cx_error *e)
{
    for (;;) {
        wx *x;
        if (!rd->have_man) {
            x = &rd->root;
            if (x->probe || x->is_manifest) {
                if (x->state == WX_FAILED)
                    return cx_error_set(e, x->fail, "%s", x->msg);
                if (x->state == WX_DONE) {
                    if (x->is_manifest) {
                        cx_err rc = begin_parts(rd, e);
                        if (rc != CX_OK)
                            return rc;
                    }
                    continue;
                }
                cx_err rc = drive(rd, x, e);
                if (rc != CX_OK)
                    return rc;
                continue;
            }
        } else {
            if (rd->cur >= rd->man.nparts)
                return CX_OK; /* end of stream */
            x = &rd->slots[rd->cur % rd->nslots];
        }
        size_t avail = x->wpos - x->rpos;
        if (avail) {
            size_t n = avail < len ? avail : len;
            memcpy(out, x->buf + x->rpos, n);
            x->rpos += n;
            *got = n;
            if (x->rpos == x->wpos)
                x->rpos = x->wpos = 0;
            if (x->paused && x->state == WX_ACTIVE) {
                x->paused = 0;
                CURLcode c = curl_easy_pause(x->h, CURLPAUSE_CONT);
                if (c != CURLE_OK)
                    return cx_error_set(e, CX_ERR_NET, "%s: unpause: %s", x->label,
                                        curl_easy_strerror(c));
            }
            return CX_OK;
        }
        if (x->state == WX_FAILED)
            return cx_error_set(e, x->fail, "%s", x->msg);
        if (x->state == WX_DONE) {
            if (!rd->have_man)
                return CX_OK; /* plain blob: end of stream */
            cx_err rc = part_end(rd, x, e);
            if (rc != CX_OK)
                return rc;
            continue;
        }
        if (!wx_live(x))
            return cx_error_set(e, CX_ERR_INTERNAL, "%s: transfer in state %d", x->label, x->state);
        cx_err rc = drive(rd, x, e);
        if (rc != CX_OK)
            return rc;
    }
}

static cx_err wr_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    wal_reader *rd = ctx;
    *got = 0;
    if (rd->failed) {
        if (e)
            *e = rd->err;
        return rd->err.code;
    }
    if (len == 0)
        return CX_OK;
    cx_err rc = wr_read_inner(rd, buf, len, got, &rd->err);
    if (rc != CX_OK) {
        rd->failed = 1;
        rd->err.code = rc;
        if (e)
            *e = rd->err;
    }
    return rc;
}

static void wr_close(void *ctx)
{
    wal_reader *rd = ctx;
    if (!rd)
        return;
    wx_clear(rd, &rd->root);
    for (unsigned i = 0; i < rd->nslots; i++)
        wx_clear(rd, &rd->slots[i]);
    free(rd->slots);
    cx_walrus_manifest_free(&rd->man);
    if (rd->m)
        curl_multi_cleanup(rd->m);
    free(rd->aggregator);
    free(rd);
}

cx_err cx_walrus_get(const cx_store_options *opt, const char *aggregator, const char *id,
                     cx_reader *out, cx_error *e)
{
    wal_reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        return cx_error_set(e, CX_ERR_NOMEM, "walrus get");
    rd->opt = *opt;
    rd->opt.publisher = rd->opt.aggregator = rd->opt.token = NULL; /* not needed to read */
    rd->aggregator = strdup(aggregator);
    rd->m = curl_multi_init();
    snprintf(rd->id, sizeof rd->id, "%s", id);
    cx_err rc;
    if (!rd->aggregator || !rd->m) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "walrus get");
        goto fail;
    }
    /* Keep a few connections per host so parts reuse them instead of reconnecting. */
    curl_multi_setopt(rd->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)rd->opt.parallel + 1);
    wx *x = &rd->root;
    x->rd = rd;
    x->probe = 1;
    x->expect = UINT64_MAX;
    x->max_cap = CX_WALRUS_MAX_BODY;
    snprintf(x->url, sizeof x->url, "%s/v1/blobs/%s", rd->aggregator, id);
    snprintf(x->label, sizeof x->label, "blob %s", id);
    rc = wx_init_buf(x, WX_BUF, e);
    if (rc == CX_OK)
        rc = wx_start(x, e);
    if (rc != CX_OK)
        goto fail;
    out->read = wr_read;
    out->close = wr_close;
    out->ctx = rd;
    return CX_OK;
fail:
    wr_close(rd);
    return rc;
}
