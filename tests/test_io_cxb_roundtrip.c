/* test_io_cxb_roundtrip.c — seal then decrypt through the pipeline (stream and mapped-file
 * inputs, 1 and 2 threads) for empty, one-byte, chunk-boundary and multi-chunk inputs. */
#include "io_cxb_testutil.h"

static void roundtrip(size_t len, uint32_t cs, int threads, int via_file)
{
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    uint8_t *pt = malloc(len ? len : 1);
    assert_non_null(pt);
    fill_pattern(pt, len, (uint32_t)len * 31 + cs);
    membuf blob = {0};
    cx_cxb_header h;
    uint8_t th[32];
    seal_to(k, pt, len, cs, CX_CONTENT_CSV, &blob, &h, th);
    assert_int_equal(h.plaintext_len, len);
    assert_int_equal(h.blob_len, blob.len);
    uint32_t ecs = cs ? cs : CX_CXB_DEFAULT_CHUNK;
    assert_int_equal(h.chunk_size, ecs);
    assert_int_equal(h.chunk_count, len == 0 ? 1 : (len + ecs - 1) / ecs);

    collect c = {0};
    cx_pipeline_result res;
    cx_error e;
    cx_err rc = run_pipeline(k, &blob, threads, via_file, &c, &res, &e);
    if (rc != CX_OK)
        fail_msg("len %zu cs %u: %s", len, cs, e.msg);
    assert_int_equal(res.status, CX_OK);
    assert_int_equal(c.len, len);
    if (len)
        assert_memory_equal(c.data, pt, len);
    assert_int_equal(c.chunks, h.chunk_count);
    assert_int_equal(c.order_errors, 0);
    assert_int_equal(c.blobs_done_ok, 1);
    assert_int_equal(res.bytes, len);
    assert_memory_equal(res.tag_hash, th, 32);
    assert_memory_equal(res.header.header_hash, h.header_hash, 32);
    assert_string_equal(res.header.pool_id, "pool-1");
    assert_string_equal(res.header.contributor, "0xabc");
    assert_int_equal(res.header.content_type, CX_CONTENT_CSV);
    free(c.data);
    free(blob.data);
    free(pt);
    cx_x25519_key_free(k);
}

static void test_sizes(void **state)
{
    (void)state;
    const uint32_t cs = 64;
    const size_t sizes[] = {0, 1, cs - 1, cs, cs + 1, 2 * cs, 7 * cs + 5};
    for (int via = 0; via < 2; via++)
        for (int t = 1; t <= 2; t++)
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
                roundtrip(sizes[i], cs, t, via);
}

static void test_default_chunk(void **state)
{
    (void)state;
    roundtrip(3u * CX_CXB_DEFAULT_CHUNK + 12345, 0, 2, 1);
    roundtrip(CX_CXB_DEFAULT_CHUNK, 0, 2, 0);
}

/* Many blobs through one run, more chunks than buffers: ordering and back-pressure. */
static void test_many_blobs(void **state)
{
    (void)state;
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    enum { NB = 5 };
    membuf blobs[NB] = {{0}};
    uint8_t *pts[NB];
    size_t lens[NB] = {0, 100, 4096 * 3, 4096 * 10 + 1, 17};
    cx_mem_reader mr[NB];
    cx_pipeline_blob in[NB];
    char ids[NB][8];
    for (int b = 0; b < NB; b++) {
        pts[b] = malloc(lens[b] + 1);
        fill_pattern(pts[b], lens[b], (uint32_t)b);
        seal_to(k, pts[b], lens[b], 4096, CX_CONTENT_RAW, &blobs[b], NULL, NULL);
        snprintf(ids[b], sizeof ids[b], "b%d", b);
        in[b].id = ids[b];
        in[b].fd = -1;
        cx_reader_from_memory(&in[b].reader, &mr[b], blobs[b].data, blobs[b].len);
    }
    collect c = {0};
    c.per_blob = 1;
    cx_pipeline_result res[NB];
    cx_pipeline_config cfg = {.threads = 2, .buffers = 3, .buffer_size = 4096 + 16};
    cx_pipeline_consumer cons = {collect_chunk, collect_done, &c};
    cx_error e;
    assert_int_equal(cx_pipeline_run(&cfg, k, in, NB, &cons, res, &e), CX_OK);
    assert_int_equal(c.order_errors, 0);
    assert_int_equal(c.blobs_done_ok, NB);
    size_t off = 0;
    for (int b = 0; b < NB; b++) {
        assert_int_equal(res[b].status, CX_OK);
        assert_int_equal(res[b].bytes, lens[b]);
        if (lens[b])
            assert_memory_equal(c.data + off, pts[b], lens[b]);
        off += lens[b];
        free(pts[b]);
        free(blobs[b].data);
    }
    free(c.data);
    cx_x25519_key_free(k);
}

/* A blob whose chunks are larger than the pipeline's buffers is refused, not overrun. */
static void test_chunk_larger_than_buffers(void **state)
{
    (void)state;
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    uint8_t pt[300];
    fill_pattern(pt, sizeof pt, 1);
    membuf blob = {0};
    seal_to(k, pt, sizeof pt, 256, CX_CONTENT_RAW, &blob, NULL, NULL);
    cx_mem_reader mr;
    cx_pipeline_blob in = {.id = "big", .fd = -1};
    cx_reader_from_memory(&in.reader, &mr, blob.data, blob.len);
    collect c = {0};
    cx_pipeline_result res;
    cx_pipeline_config cfg = {.threads = 1, .buffers = 2, .buffer_size = 128};
    cx_pipeline_consumer cons = {collect_chunk, collect_done, &c};
    cx_error e;
    assert_int_equal(cx_pipeline_run(&cfg, k, &in, 1, &cons, &res, &e), CX_ERR_LIMIT);
    assert_int_equal(c.chunks, 0);
    free(blob.data);
    cx_x25519_key_free(k);
}

/* The seal refuses an input that is shorter or longer than announced. */
static void test_seal_length_mismatch(void **state)
{
    (void)state;
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    uint8_t pt[100] = {0};
    cx_cxb_seal_params p = {.recipient_pub = cx_x25519_key_public(k),
                            .pool_id = "pool",
                            .contributor = "me",
                            .content_type = CX_CONTENT_RAW,
                            .chunk_size = 64};
    for (int longer = 0; longer < 2; longer++) {
        cx_mem_reader mr;
        cx_reader r;
        cx_reader_from_memory(&r, &mr, pt, longer ? 100 : 50);
        membuf out = {0};
        cx_writer w = {membuf_write, &out};
        cx_error e;
        assert_int_equal(cx_cxb_seal(&p, &r, 80, &w, NULL, NULL, &e), CX_ERR_FORMAT);
        assert_non_null(strstr(e.msg, longer ? "longer" : "ended"));
        free(out.data);
    }
    /* bad parameters */
    cx_mem_reader mr;
    cx_reader r;
    cx_reader_from_memory(&r, &mr, pt, 10);
    membuf out = {0};
    cx_writer w = {membuf_write, &out};
    cx_cxb_seal_params bad = p;
    bad.pool_id = "has space";
    assert_int_equal(cx_cxb_seal(&bad, &r, 10, &w, NULL, NULL, NULL), CX_ERR_ARG);
    bad = p;
    bad.chunk_size = 63;
    assert_int_equal(cx_cxb_seal(&bad, &r, 10, &w, NULL, NULL, NULL), CX_ERR_ARG);
    /* another encoding of the recipient's point (top bit set, or >= 2^255 - 19): its key
     * id is not the recipient's and HPKE binds these bytes, so the blob could never open */
    uint8_t alt[32], big[32];
    memcpy(alt, cx_x25519_key_public(k), 32);
    alt[31] |= 0x80;
    memset(big, 0xff, 32);
    big[0] = 0xee;
    big[31] = 0x7f;
    bad = p;
    bad.recipient_pub = alt;
    assert_int_equal(cx_cxb_seal(&bad, &r, 10, &w, NULL, NULL, NULL), CX_ERR_ARG);
    bad.recipient_pub = big;
    assert_int_equal(cx_cxb_seal(&bad, &r, 10, &w, NULL, NULL, NULL), CX_ERR_ARG);
    assert_int_equal(out.len, 0);
    free(out.data);
    cx_x25519_key_free(k);
}

/* A pluggable buffer allocator (what the CUDA backend uses for pinned memory): the pipeline
 * takes exactly `buffers` buffers however many chunks flow, and wipes them before freeing. */
typedef struct counting_alloc {
    int allocs, frees, dirty_on_free;
    size_t len;
} counting_alloc;

static void *ca_alloc(void *ud, size_t len, cx_error *e)
{
    (void)e;
    counting_alloc *a = ud;
    a->allocs++;
    a->len = len;
    return malloc(len);
}

static void ca_free(void *ud, void *p, size_t len)
{
    counting_alloc *a = ud;
    a->frees++;
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i]) {
            a->dirty_on_free++;
            break;
        }
    free(p);
}

static void test_custom_allocator(void **state)
{
    (void)state;
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    size_t len = 200 * 1024 + 3;
    uint8_t *pt = malloc(len);
    fill_pattern(pt, len, 9);
    membuf blob = {0};
    seal_to(k, pt, len, 1024, CX_CONTENT_RAW, &blob, NULL, NULL); /* 201 chunks */
    counting_alloc ca = {0};
    cx_buf_allocator al = {ca_alloc, ca_free, &ca};
    cx_mem_reader mr;
    cx_pipeline_blob in = {.id = "alloc", .fd = -1};
    cx_reader_from_memory(&in.reader, &mr, blob.data, blob.len);
    collect c = {0};
    cx_pipeline_result res;
    cx_pipeline_config cfg = {.threads = 2, .buffers = 5, .buffer_size = 1024 + 16,
                              .allocator = &al};
    cx_pipeline_consumer cons = {collect_chunk, collect_done, &c};
    assert_int_equal(cx_pipeline_run(&cfg, k, &in, 1, &cons, &res, NULL), CX_OK);
    assert_int_equal(c.chunks, 201);
    assert_int_equal(c.len, len);
    assert_memory_equal(c.data, pt, len);
    assert_int_equal(ca.allocs, 5);
    assert_int_equal(ca.frees, 5);
    assert_int_equal(ca.len, 1024 + 16);
    assert_int_equal(ca.dirty_on_free, 0);
    free(c.data);
    free(blob.data);
    free(pt);
    cx_x25519_key_free(k);
}

/* Decrypt threads bound to a CPU list through hwloc; a bad list is refused. */
static void test_cpu_binding(void **state)
{
    (void)state;
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    uint8_t pt[1000];
    fill_pattern(pt, sizeof pt, 3);
    membuf blob = {0};
    seal_to(k, pt, sizeof pt, 128, CX_CONTENT_RAW, &blob, NULL, NULL);
    const char *lists[] = {"0", "not-a-cpu-list"};
    for (int i = 0; i < 2; i++) {
        cx_mem_reader mr;
        cx_pipeline_blob in = {.id = "bound", .fd = -1};
        cx_reader_from_memory(&in.reader, &mr, blob.data, blob.len);
        collect c = {0};
        cx_pipeline_result res;
        cx_pipeline_config cfg = {.threads = 2, .cpulist = lists[i]};
        cx_pipeline_consumer cons = {collect_chunk, collect_done, &c};
        cx_error e;
        cx_err rc = cx_pipeline_run(&cfg, k, &in, 1, &cons, &res, &e);
        if (i == 0) {
            assert_int_equal(rc, CX_OK);
            assert_int_equal(c.len, sizeof pt);
            assert_memory_equal(c.data, pt, sizeof pt);
        } else {
            assert_int_equal(rc, CX_ERR_ARG);
            assert_int_equal(c.chunks, 0);
        }
        free(c.data);
    }
    cx_error e;
    assert_int_equal(cx_io_bind_thread("", &e), CX_ERR_ARG);
    free(blob.data);
    cx_x25519_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_default_chunk),
        cmocka_unit_test(test_many_blobs),
        cmocka_unit_test(test_chunk_larger_than_buffers),
        cmocka_unit_test(test_seal_length_mismatch),
        cmocka_unit_test(test_cpu_binding),
        cmocka_unit_test(test_custom_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
