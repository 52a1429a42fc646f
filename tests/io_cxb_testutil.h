/* io_cxb_testutil.h — helpers shared by the .cxb tests: a growable memory writer, a
 * deterministic pattern, seal-to-memory, and a pipeline consumer that collects plaintext. */
#ifndef CX_TESTS_IO_CXB_TESTUTIL_H
#define CX_TESTS_IO_CXB_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cx_io.h"

typedef struct membuf {
    uint8_t *data;
    size_t len, cap;
} membuf;

static inline cx_err membuf_write(void *ctx, const void *buf, size_t len, cx_error *e)
{
    membuf *m = ctx;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + len)
            cap *= 2;
        uint8_t *p = realloc(m->data, cap);
        if (!p)
            return cx_error_set(e, CX_ERR_NOMEM, "membuf");
        m->data = p;
        m->cap = cap;
    }
    if (len)
        memcpy(m->data + m->len, buf, len);
    m->len += len;
    return CX_OK;
}

static inline void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static inline void seal_to(const cx_x25519_key *k, const uint8_t *pt, size_t len, uint32_t cs,
                           cx_content_type type, membuf *out, cx_cxb_header *h, uint8_t th[32])
{
    cx_cxb_seal_params p = {.recipient_pub = cx_x25519_key_public(k),
                            .pool_id = "pool-1",
                            .contributor = "0xabc",
                            .content_type = type,
                            .chunk_size = cs};
    cx_mem_reader mr;
    cx_reader r;
    cx_reader_from_memory(&r, &mr, pt, len);
    cx_writer w = {membuf_write, out};
    cx_error e;
    cx_err rc = cx_cxb_seal(&p, &r, len, &w, h, th, &e);
    if (rc != CX_OK)
        fail_msg("seal: %s", e.msg);
}

typedef struct collect {
    uint8_t *data;
    size_t len, cap;
    uint64_t chunks;
    int order_errors;
    int blobs_done_ok, blobs_failed;
    int per_blob;      /* allow several blobs */
    size_t cur_blob;
    uint64_t next_index;
} collect;

static inline cx_err collect_chunk(void *ud, const cx_pipeline_chunk *c, cx_error *e)
{
    collect *s = ud;
    if (c->blob != s->cur_blob) {
        s->cur_blob = c->blob;
        s->next_index = 0;
    }
    if (c->index != s->next_index)
        s->order_errors++;
    s->next_index = c->index + 1;
    s->chunks++;
    membuf m = {s->data, s->len, s->cap};
    cx_err rc = membuf_write(&m, c->data, c->len, e);
    s->data = m.data;
    s->len = m.len;
    s->cap = m.cap;
    return rc;
}

static inline cx_err collect_done(void *ud, size_t blob, const cx_pipeline_result *r, cx_error *e)
{
    (void)blob;
    (void)e;
    collect *s = ud;
    if (r->status == CX_OK)
        s->blobs_done_ok++;
    else
        s->blobs_failed++;
    return CX_OK;
}

/* Decrypt blob (one) from memory (stream) or from a temporary file (mapped). */
static inline cx_err run_pipeline(const cx_x25519_key *k, const membuf *blob, int threads,
                                  int via_file, collect *c, cx_pipeline_result *res, cx_error *e)
{
    cx_pipeline_blob in = {.id = "blob-under-test", .fd = -1};
    cx_mem_reader mr;
    char path[] = "/tmp/cx_test_cxb_XXXXXX";
    int fd = -1;
    if (via_file) {
        fd = mkstemp(path);
        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(cx_write_full(fd, blob->data, blob->len, NULL), CX_OK);
        in.fd = fd;
    } else {
        cx_reader_from_memory(&in.reader, &mr, blob->data, blob->len);
    }
    cx_pipeline_config cfg = {.threads = threads, .buffers = 3, .buffer_size = 0};
    cx_pipeline_consumer cons = {collect_chunk, collect_done, c};
    cx_err rc = cx_pipeline_run(&cfg, k, &in, 1, &cons, res, e);
    if (fd >= 0)
        close(fd);
    return rc;
}

#endif
