/* test_io_cxb_key_object.c — .cxb suite 2 (io/FORMAT.md): the data key comes from a key object in
 * the header (a Seal EncryptedObject, opaque to io). The header round-trips, the blob opens only
 * with the data key recovered for exactly that header (its hash), through cx_cxb_open_keys and the
 * pipeline (stream and mapped file), and a suite-1 reader or an edited key object gets no key. */
#include "io_cxb_testutil.h"

static const uint8_t object[] = "an opaque key object: Seal's EncryptedObject in practice";

static void seal_by_object(const uint8_t data_key[32], const uint8_t *pt, size_t len, membuf *out,
                           cx_cxb_header *h)
{
    cx_cxb_seal_params p = {.pool_id = "0xpool",
                            .contributor = "0xseller",
                            .content_type = CX_CONTENT_CSV,
                            .chunk_size = 100,
                            .key_object = object,
                            .key_object_len = sizeof object,
                            .data_key = data_key};
    cx_mem_reader mr;
    cx_reader r;
    cx_reader_from_memory(&r, &mr, pt, len);
    cx_writer w = {membuf_write, out};
    cx_error e;
    if (cx_cxb_seal(&p, &r, len, &w, h, NULL, &e) != CX_OK)
        fail_msg("seal: %s", e.msg);
}

static void test_key_object_round_trip(void **state)
{
    (void)state;
    uint8_t key[32], pt[1000];
    fill_pattern(key, sizeof key, 1);
    fill_pattern(pt, sizeof pt, 2);
    membuf blob = {0};
    cx_cxb_header h, parsed;
    seal_by_object(key, pt, sizeof pt, &blob, &h);
    cx_error e;
    assert_int_equal(cx_cxb_header_parse(blob.data, blob.len, &parsed, NULL, &e), CX_OK);
    assert_int_equal(parsed.suite, CX_CXB_SUITE_KEY_OBJECT);
    assert_int_equal(parsed.key_object_len, sizeof object);
    assert_memory_equal(blob.data + parsed.key_object_off, object, sizeof object);
    assert_int_equal(parsed.header_len, 24 + 6 + 8 + 2 + sizeof object);
    assert_int_equal(blob.len, parsed.blob_len);
    assert_memory_equal(parsed.header_hash, h.header_hash, 32);
    static const uint8_t zero[32];
    assert_memory_equal(parsed.recipient_key_id, zero, 32);

    /* the pipeline, stream and mapped, with the key known for this header */
    cx_cxb_known_key known;
    memcpy(known.header_hash, h.header_hash, 32);
    memcpy(known.data_key, key, 32);
    for (int via_file = 0; via_file < 2; via_file++) {
        cx_pipeline_blob in = {.id = "blob", .fd = -1};
        cx_mem_reader mr;
        char path[] = "/tmp/cx_test_cxb_XXXXXX";
        if (via_file) {
            in.fd = mkstemp(path);
            assert_true(in.fd >= 0);
            unlink(path);
            assert_int_equal(cx_write_full(in.fd, blob.data, blob.len, NULL), CX_OK);
        } else {
            cx_reader_from_memory(&in.reader, &mr, blob.data, blob.len);
        }
        cx_pipeline_config cfg = {.threads = 2, .known_keys = &known, .n_known_keys = 1};
        collect c = {0};
        cx_pipeline_consumer cons = {collect_chunk, collect_done, &c};
        cx_pipeline_result res;
        if (cx_pipeline_run(&cfg, NULL, &in, 1, &cons, &res, &e) != CX_OK)
            fail_msg("pipeline: %s", e.msg);
        assert_int_equal(c.len, sizeof pt);
        assert_memory_equal(c.data, pt, sizeof pt);
        assert_int_equal(res.header.suite, CX_CXB_SUITE_KEY_OBJECT);
        free(c.data);
        if (in.fd >= 0)
            close(in.fd);
    }

    /* a reader holding only an X25519 key gets nothing, before any decryption */
    cx_x25519_key *x;
    assert_int_equal(cx_x25519_key_generate(&x, &e), CX_OK);
    cx_cxb_ctx *ctx = NULL;
    assert_int_equal(cx_cxb_open(blob.data, h.header_len, x, &ctx, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "key object"));
    cx_x25519_key_free(x);
    /* a known key of another header does not open this one */
    known.header_hash[0] ^= 1;
    cx_cxb_keys keys = {.known = &known, .n_known = 1};
    assert_int_equal(cx_cxb_open_keys(blob.data, h.header_len, &keys, &ctx, &e), CX_ERR_VERIFY);
    known.header_hash[0] ^= 1;
    /* an edited key object changes the header hash: the recovered key no longer applies */
    blob.data[parsed.key_object_off + 3] ^= 0x20;
    assert_int_equal(cx_cxb_open_keys(blob.data, h.header_len, &keys, &ctx, &e), CX_ERR_VERIFY);
    blob.data[parsed.key_object_off + 3] ^= 0x20;
    /* the right key, a wrong data key: the chunks fail authentication */
    assert_int_equal(cx_cxb_open_keys(blob.data, h.header_len, &keys, &ctx, &e), CX_OK);
    cx_cxb_ctx_free(ctx);
    known.data_key[0] ^= 1;
    assert_int_equal(cx_cxb_open_keys(blob.data, h.header_len, &keys, &ctx, &e), CX_OK);
    cx_cxb_worker *w;
    assert_int_equal(cx_cxb_worker_new(&w, &e), CX_OK);
    uint8_t out[100];
    cx_cxb_fault fault;
    uint64_t found;
    assert_int_equal(
        cx_cxb_chunk_decrypt(ctx, w, 0, blob.data + h.header_len, 116, out, &fault, &found, &e),
        CX_ERR_AUTH);
    cx_cxb_worker_free(w);
    cx_cxb_ctx_free(ctx);
    free(blob.data);
}

static void test_key_object_header_checks(void **state)
{
    (void)state;
    uint8_t key[32] = {1}, pt[10] = {0};
    membuf blob = {0};
    cx_cxb_header h;
    seal_by_object(key, pt, sizeof pt, &blob, &h);
    cx_error e;
    size_t need = 0;
    cx_cxb_header cut;
    /* cut inside the key object: the parser says how much it needs */
    assert_int_equal(cx_cxb_header_parse(blob.data, h.header_len - 1, &cut, &need, &e),
                     CX_ERR_FORMAT);
    assert_int_equal(need, h.header_len);
    /* a zero length */
    size_t len_at = 24 + 6 + 8;
    uint8_t save[2] = {blob.data[len_at], blob.data[len_at + 1]};
    blob.data[len_at] = blob.data[len_at + 1] = 0;
    assert_int_equal(cx_cxb_header_parse(blob.data, blob.len, &h, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "key_object_len"));
    blob.data[len_at] = 0x10, blob.data[len_at + 1] = 0x01; /* 4097 */
    assert_int_equal(cx_cxb_header_parse(blob.data, blob.len, &h, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "key_object_len"));
    blob.data[len_at] = save[0], blob.data[len_at + 1] = save[1];
    /* sealing: a key object with a recipient, or without its data key, is refused */
    cx_cxb_seal_params p = {.recipient_pub = key,
                            .pool_id = "p",
                            .contributor = "c",
                            .key_object = object,
                            .key_object_len = sizeof object,
                            .data_key = key};
    cx_mem_reader mr;
    cx_reader r;
    cx_reader_from_memory(&r, &mr, pt, sizeof pt);
    membuf out = {0};
    cx_writer w = {membuf_write, &out};
    assert_int_equal(cx_cxb_seal(&p, &r, sizeof pt, &w, NULL, NULL, &e), CX_ERR_ARG);
    p.recipient_pub = NULL;
    p.data_key = NULL;
    assert_int_equal(cx_cxb_seal(&p, &r, sizeof pt, &w, NULL, NULL, &e), CX_ERR_ARG);
    assert_int_equal(out.len, 0);
    free(blob.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_object_round_trip),
        cmocka_unit_test(test_key_object_header_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
