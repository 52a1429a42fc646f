/* test_io_cxb_tamper.c — every tamper case is detected and named (blob, chunk, what):
 * altered, reordered, dropped, duplicated, truncated, extended chunks; any header byte
 * edited; wrong key / other recipient; skip versus fatal policy; the search that names a
 * fault costs a bounded amount of AES, however large the chunk. */
#include "io_cxb_testutil.h"

enum { CS = 64, NCHUNK = 8, PTLEN = NCHUNK * CS - 10 };

static cx_x25519_key *key;
static membuf good;
static cx_cxb_header hdr;

static int setup(void **state)
{
    (void)state;
    if (cx_x25519_key_generate(&key, NULL) != CX_OK)
        return -1;
    uint8_t pt[PTLEN];
    fill_pattern(pt, sizeof pt, 7);
    seal_to(key, pt, sizeof pt, CS, CX_CONTENT_JSONL, &good, &hdr, NULL);
    return hdr.chunk_count == NCHUNK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(good.data);
    cx_x25519_key_free(key);
    return 0;
}

static size_t coff(uint64_t i) { return (size_t)cx_cxb_chunk_offset(&hdr, i); }
static size_t clen(uint64_t i) { return cx_cxb_chunk_plain_len(&hdr, i) + CX_CXB_TAG_LEN; }

static membuf copy_good(void)
{
    membuf m = {0};
    assert_int_equal(membuf_write(&m, good.data, good.len, NULL), CX_OK);
    return m;
}

/* Run the tampered blob both as a stream and as a mapped file, with 1 and 2 threads. */
static void expect_fault(const membuf *bad, int64_t chunk, const char *word, cx_err code)
{
    for (int via = 0; via < 2; via++)
        for (int t = 1; t <= 2; t++) {
            collect c = {0};
            cx_pipeline_result res;
            cx_error e;
            cx_err rc = run_pipeline(key, bad, t, via, &c, &res, &e);
            if (rc != code || res.status != code || res.failed_chunk != chunk ||
                !strstr(res.error, "blob blob-under-test") || !strstr(res.error, word))
                fail_msg("via %s, %d threads: rc %s, failed chunk %lld, error '%s'; expected %s "
                         "at chunk %lld naming '%s'",
                         via ? "file" : "stream", t, cx_err_name(rc), (long long)res.failed_chunk,
                         res.error, cx_err_name(code), (long long)chunk, word);
            if (chunk >= 0) {
                char want[32];
                snprintf(want, sizeof want, "chunk %lld", (long long)chunk);
                assert_non_null(strstr(res.error, want));
                /* only the chunks before the fault were delivered, all authentic, in order */
                assert_int_equal(c.chunks, (uint64_t)chunk);
                assert_memory_equal(c.data, good.data, 0);
            } else {
                assert_int_equal(c.chunks, 0);
            }
            assert_int_equal(c.order_errors, 0);
            assert_int_equal(c.blobs_failed, 1);
            assert_int_equal(c.blobs_done_ok, 0);
            free(c.data);
        }
}

static void test_untouched_is_fine(void **state)
{
    (void)state;
    collect c = {0};
    cx_pipeline_result res;
    assert_int_equal(run_pipeline(key, &good, 2, 1, &c, &res, NULL), CX_OK);
    assert_int_equal(c.len, PTLEN);
    free(c.data);
}

static void test_altered(void **state)
{
    (void)state;
    membuf m = copy_good();
    m.data[coff(3) + 5] ^= 0x40;
    expect_fault(&m, 3, "altered", CX_ERR_AUTH);
    memcpy(m.data, good.data, good.len);
    m.data[coff(5) + clen(5) - 1] ^= 1; /* the tag itself */
    expect_fault(&m, 5, "altered", CX_ERR_AUTH);
    free(m.data);
}

static void test_reordered(void **state)
{
    (void)state;
    membuf m = copy_good();
    memcpy(m.data + coff(2), good.data + coff(3), clen(3));
    memcpy(m.data + coff(3), good.data + coff(2), clen(2));
    expect_fault(&m, 2, "reordered", CX_ERR_AUTH);
    free(m.data);
}

static void test_dropped(void **state)
{
    (void)state;
    membuf m = {0};
    membuf_write(&m, good.data, coff(2), NULL);
    membuf_write(&m, good.data + coff(3), good.len - coff(3), NULL);
    expect_fault(&m, 2, "dropped", CX_ERR_AUTH);
    free(m.data);
}

static void test_duplicated(void **state)
{
    (void)state;
    membuf m = {0};
    membuf_write(&m, good.data, coff(2), NULL);
    membuf_write(&m, good.data + coff(1), clen(1), NULL);
    membuf_write(&m, good.data + coff(2), good.len - coff(2), NULL);
    expect_fault(&m, 2, "duplicated", CX_ERR_AUTH);
    free(m.data);
}

static void test_truncated(void **state)
{
    (void)state;
    membuf m = copy_good();
    m.len -= 5; /* inside the last chunk */
    expect_fault(&m, NCHUNK - 1, "truncated", CX_ERR_AUTH);
    m.len = coff(NCHUNK - 1); /* the whole last chunk gone */
    expect_fault(&m, NCHUNK - 1, "truncated", CX_ERR_AUTH);
    m.len = coff(4) + 3; /* mid-blob */
    expect_fault(&m, 4, "truncated", CX_ERR_AUTH);
    free(m.data);
}

static void test_extended(void **state)
{
    (void)state;
    membuf m = copy_good();
    membuf_write(&m, "xyz", 3, NULL);
    expect_fault(&m, NCHUNK - 1, "extended", CX_ERR_AUTH);
    /* a whole extra chunk (a copy of the last) appended */
    membuf n = copy_good();
    membuf_write(&n, good.data + coff(NCHUNK - 1), clen(NCHUNK - 1), NULL);
    expect_fault(&n, NCHUNK - 1, "extended", CX_ERR_AUTH);
    free(m.data);
    free(n.data);
}

/* Every single header byte, flipped, makes the blob fail before any chunk is delivered. */
static void test_every_header_byte(void **state)
{
    (void)state;
    membuf m = copy_good();
    for (size_t i = 0; i < hdr.header_len; i++) {
        m.data[i] ^= 0x01;
        for (int via = 0; via < 2; via++) {
            collect c = {0};
            cx_pipeline_result res;
            cx_err rc = run_pipeline(key, &m, 1, via, &c, &res, NULL);
            if (rc == CX_OK || c.chunks != 0 || res.failed_chunk != -1 ||
                !strstr(res.error, "blob blob-under-test: header"))
                fail_msg("header byte %zu edited: rc %s, %llu chunks, '%s'", i, cx_err_name(rc),
                         (unsigned long long)c.chunks, res.error);
            free(c.data);
        }
        m.data[i] ^= 0x01;
    }
    free(m.data);
}

/* An enc replaced by a small-order point is a header edit like any other: CX_ERR_AUTH. */
static void test_small_order_enc(void **state)
{
    (void)state;
    static const uint8_t order8[32] = {
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
        0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00};
    size_t enc = hdr.header_len - 48 - 32;
    for (int pt = 0; pt < 2; pt++) {
        membuf m = copy_good();
        if (pt)
            memcpy(m.data + enc, order8, 32);
        else
            memset(m.data + enc, 0, 32);
        for (int via = 0; via < 2; via++) {
            collect c = {0};
            cx_pipeline_result res;
            cx_err rc = run_pipeline(key, &m, 1, via, &c, &res, NULL);
            if (rc != CX_ERR_AUTH || res.status != CX_ERR_AUTH || c.chunks != 0 ||
                res.failed_chunk != -1 || !strstr(res.error, "blob blob-under-test: header"))
                fail_msg("small-order enc %d via %d: rc %s, %llu chunks, '%s'", pt, via,
                         cx_err_name(rc), (unsigned long long)c.chunks, res.error);
            free(c.data);
        }
        free(m.data);
    }
}

static void test_header_fields_named(void **state)
{
    (void)state;
    membuf m = copy_good();
    cx_cxb_header h;
    cx_error e;
    m.data[19] ^= 0x01; /* plaintext length: parses, but the header no longer authenticates */
    assert_int_equal(cx_cxb_header_parse(m.data, m.len, &h, NULL, &e), CX_OK);
    collect c = {0};
    cx_pipeline_result res;
    assert_int_equal(run_pipeline(key, &m, 1, 0, &c, &res, &e), CX_ERR_AUTH);
    assert_non_null(strstr(res.error, "header authentication failed"));
    m.data[19] ^= 0x01;
    m.data[20] = 9; /* content type */
    assert_int_equal(cx_cxb_header_parse(m.data, m.len, &h, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "content_type"));
    m.data[20] = (uint8_t)CX_CONTENT_JSONL;
    m.data[0] = 'X';
    assert_int_equal(cx_cxb_header_parse(m.data, m.len, &h, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "magic"));
    m.data[0] = 'C';
    size_t need = 0;
    assert_int_equal(cx_cxb_header_parse(m.data, 30, &h, &need, &e), CX_ERR_FORMAT);
    assert_int_equal(need, hdr.header_len);
    free(m.data);
    free(c.data);
}

static void test_wrong_key(void **state)
{
    (void)state;
    cx_x25519_key *other;
    assert_int_equal(cx_x25519_key_generate(&other, NULL), CX_OK);
    for (int via = 0; via < 2; via++) {
        collect c = {0};
        cx_pipeline_result res;
        cx_error e;
        assert_int_equal(run_pipeline(other, &good, 2, via, &c, &res, &e), CX_ERR_VERIFY);
        assert_non_null(strstr(res.error, "blob blob-under-test"));
        assert_non_null(strstr(res.error, "sealed to another recipient"));
        assert_int_equal(c.chunks, 0);
        free(c.data);
    }
    cx_x25519_key_free(other);
}

static void test_policy(void **state)
{
    (void)state;
    membuf bad = copy_good();
    bad.data[coff(1)] ^= 1;
    for (int fatal = 0; fatal < 2; fatal++) {
        cx_mem_reader mr[3];
        cx_pipeline_blob in[3] = {{.id = "one", .fd = -1}, {.id = "two", .fd = -1},
                                  {.id = "three", .fd = -1}};
        cx_reader_from_memory(&in[0].reader, &mr[0], good.data, good.len);
        cx_reader_from_memory(&in[1].reader, &mr[1], bad.data, bad.len);
        cx_reader_from_memory(&in[2].reader, &mr[2], good.data, good.len);
        collect c = {0};
        c.per_blob = 1;
        cx_pipeline_result res[3];
        cx_pipeline_config cfg = {.threads = 2, .buffers = 4,
                                  .policy = fatal ? CX_PIPELINE_FATAL : CX_PIPELINE_SKIP};
        cx_pipeline_consumer cons = {collect_chunk, collect_done, &c};
        cx_error e;
        assert_int_equal(cx_pipeline_run(&cfg, key, in, 3, &cons, res, &e), CX_ERR_AUTH);
        assert_non_null(strstr(e.msg, "blob two: chunk 1"));
        assert_int_equal(res[0].status, CX_OK);
        assert_int_equal(res[1].status, CX_ERR_AUTH);
        assert_int_equal(res[1].failed_chunk, 1);
        if (fatal) {
            assert_int_not_equal(res[2].status, CX_OK);
            assert_int_equal(c.blobs_done_ok, 1);
        } else {
            assert_int_equal(res[2].status, CX_OK);
            assert_int_equal(res[2].bytes, PTLEN);
            assert_int_equal(c.blobs_done_ok, 2);
        }
        assert_int_equal(c.blobs_failed, 1);
        free(c.data);
    }
    free(bad.data);
}

/* A failed chunk used to be decrypted again at each of 128 neighbouring positions (twice,
 * in place): for 64 MiB chunks, 16 GiB of AES from one altered chunk. Now the search costs
 * one pass over the chunk plus one AES block per position, and still names moved chunks. */
static void test_fault_search_bounded(void **state)
{
    (void)state;
    enum { BCS = 16384, BN = 200 };
    size_t ptlen = (size_t)BCS * BN;
    uint8_t *pt = malloc(ptlen);
    assert_non_null(pt);
    fill_pattern(pt, ptlen, 11);
    membuf blob = {0};
    cx_cxb_header h;
    seal_to(key, pt, ptlen, BCS, CX_CONTENT_RAW, &blob, &h, NULL);
    free(pt);
    assert_int_equal(h.chunk_count, BN);
    size_t hlen = (size_t)cx_cxb_chunk_offset(&h, 0), cl = BCS + CX_CXB_TAG_LEN;
    cx_cxb_ctx *ctx = NULL;
    cx_cxb_worker *w = NULL;
    assert_int_equal(cx_cxb_open(blob.data, hlen, key, &ctx, NULL), CX_OK);
    assert_int_equal(cx_cxb_worker_new(&w, NULL), CX_OK);
    uint8_t *buf = malloc(cl), *out = malloc(cl);
    assert_non_null(buf);
    assert_non_null(out);
    /* most the search may cost beyond the first decryption: one pass, 129 AES blocks */
    const uint64_t bound = (uint64_t)BCS + (2 * 64 + 1) * 16;
    struct {
        uint64_t from;   /* chunk whose bytes are put at position 100 */
        int flip;        /* and a bit flipped in them */
        cx_cxb_fault fault;
    } cases[] = {
        {100, 1, CX_CXB_FAULT_ALTERED},
        {160, 0, CX_CXB_FAULT_MOVED},  /* 60 away: found */
        {40, 0, CX_CXB_FAULT_MOVED},
        {190, 0, CX_CXB_FAULT_ALTERED}, /* 90 away: beyond the window, not looked for */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int inplace = 0; inplace < 2; inplace++) {
            memcpy(buf, blob.data + cx_cxb_chunk_offset(&h, cases[k].from), cl);
            if (cases[k].flip)
                buf[7] ^= 1;
            uint8_t *dst = inplace ? buf : out;
            uint64_t before = cx_cxb_worker_bytes(w);
            cx_cxb_fault f = CX_CXB_FAULT_NONE;
            uint64_t found = 0;
            cx_error e;
            assert_int_equal(cx_cxb_chunk_decrypt(ctx, w, 100, buf, cl, dst, &f, &found, &e),
                             CX_ERR_AUTH);
            uint64_t spent = cx_cxb_worker_bytes(w) - before - BCS;
            if (spent > bound)
                fail_msg("case %zu: fault search ran %llu bytes through AES (bound %llu)", k,
                         (unsigned long long)spent, (unsigned long long)bound);
            assert_int_equal(f, cases[k].fault);
            if (f == CX_CXB_FAULT_MOVED)
                assert_int_equal(found, cases[k].from);
            /* in place: the input is left as it was */
            if (inplace && !cases[k].flip)
                assert_memory_equal(buf, blob.data + cx_cxb_chunk_offset(&h, cases[k].from), cl);
        }
    free(buf);
    free(out);
    cx_cxb_worker_free(w);
    cx_cxb_ctx_free(ctx);
    free(blob.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untouched_is_fine),
        cmocka_unit_test(test_altered),
        cmocka_unit_test(test_reordered),
        cmocka_unit_test(test_dropped),
        cmocka_unit_test(test_duplicated),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_extended),
        cmocka_unit_test(test_every_header_byte),
        cmocka_unit_test(test_small_order_enc),
        cmocka_unit_test(test_header_fields_named),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_fault_search_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
