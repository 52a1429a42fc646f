/* io_store_testutil.h — what the blob-store tests share: in-memory readers, reading a
 * whole blob, and starting/steering the loopback Walrus fixture server. */
#ifndef CX_TESTS_IO_STORE_TESTUTIL_H
#define CX_TESTS_IO_STORE_TESTUTIL_H

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cx_io.h"

extern char **environ;

typedef struct mem_src {
    const uint8_t *p;
    size_t len, off, step; /* step: at most this many bytes per read (0: any) */
} mem_src;

static inline cx_err mem_src_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    (void)e;
    mem_src *m = ctx;
    size_t n = m->len - m->off;
    if (n > len)
        n = len;
    if (m->step && n > m->step)
        n = m->step;
    if (n)
        memcpy(buf, m->p + m->off, n);
    m->off += n;
    *got = n;
    return CX_OK;
}

static inline cx_reader mem_reader(mem_src *m)
{
    cx_reader r = {mem_src_read, NULL, m};
    return r;
}

/* Pseudo-random test bytes (xorshift), so a lost or duplicated range shows. */
static inline uint8_t *test_bytes(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; p && i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
    return p;
}

/* Read a whole blob with uneven read sizes; *out is malloc'ed. */
static inline cx_err read_all(cx_store *s, const char *id, uint8_t **out, size_t *len, cx_error *e)
{
    cx_reader r;
    *out = NULL;
    *len = 0;
    cx_err rc = cx_store_get(s, id, &r, e);
    if (rc != CX_OK)
        return rc;
    size_t cap = 1 << 16, n = 0, step = 1;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (n + 70000 > cap) {
            cap *= 2;
            b = realloc(b, cap);
        }
        size_t got = 0;
        step = step * 7 % 65521 + 1;
        rc = r.read(r.ctx, b + n, step, &got, e);
        if (rc != CX_OK || got == 0)
            break;
        n += got;
    }
    r.close(r.ctx);
    if (rc != CX_OK) {
        free(b);
        return rc;
    }
    *out = b;
    *len = n;
    return CX_OK;
}

typedef struct fixture {
    pid_t pid;
    int port;
    char base[64];
} fixture;

/* Returns 0 on success; -1 when python3 or the fixture cannot run (tests then skip). */
static inline int fixture_start(fixture *f, const char *script)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    char *argv[] = {"python3", (char *)script, NULL};
    int rc = posix_spawnp(&f->pid, "python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        return -1;
    }
    char line[64] = {0};
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t k = read(pfd[0], line + n, 1);
        if (k <= 0 || line[n] == '\n')
            break;
        n++;
    }
    close(pfd[0]);
    if (sscanf(line, "PORT %d", &f->port) != 1) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        return -1;
    }
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->port);
    return 0;
}

static inline void fixture_stop(fixture *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
}

typedef struct grow_buf {
    char *p;
    size_t n;
} grow_buf;

static inline size_t grow_cb(char *p, size_t s, size_t n, void *ud)
{
    grow_buf *g = ud;
    char *q = realloc(g->p, g->n + s * n + 1);
    if (!q)
        return 0;
    memcpy(q + g->n, p, s * n);
    g->n += s * n;
    q[g->n] = 0;
    g->p = q;
    return s * n;
}

/* POST json to the fixture's control path (or GET when json is NULL); returns the body. */
static inline char *fixture_call(const fixture *f, const char *path, const char *json)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    CURL *h = curl_easy_init();
    grow_buf g = {calloc(1, 1), 0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grow_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &g);
    if (json)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    CURLcode c = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (c != CURLE_OK) {
        free(g.p);
        return NULL;
    }
    return g.p;
}

static inline void fixture_rules(const fixture *f, const char *json)
{
    free(fixture_call(f, "/_fixture/reset", "{}"));
    free(fixture_call(f, "/_fixture/rules", json));
}

#endif
