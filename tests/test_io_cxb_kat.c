/* test_io_cxb_kat.c — committed known-answer .cxb blobs (tests/data/cxb/kat.json) still parse,
 * open and decrypt to the recorded plaintext, header hash and chunk-tag hash. */
#include "io_cxb_testutil.h"

static void load_file(const char *name, membuf *m)
{
    char path[512];
    snprintf(path, sizeof path, "%s/cxb/%s", CX_TESTDATA, name);
    uint8_t *buf;
    size_t len;
    cx_error e;
    if (cx_file_read_all(path, 1 << 20, &buf, &len, &e) != CX_OK)
        fail_msg("%s", e.msg);
    m->data = buf;
    m->len = m->cap = len;
}

static void hex32(const json_t *o, const char *k, uint8_t out[32])
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    size_t n;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, 32, &n, NULL), CX_OK);
    assert_int_equal(n, 32);
}

static void test_kat(void **state)
{
    (void)state;
    json_t *root;
    cx_error e;
    assert_int_equal(cx_json_load_file(CX_TESTDATA "/cxb/kat.json", &root, &e), CX_OK);
    uint8_t sk[32], pk[32];
    hex32(root, "recipient_secret", sk);
    hex32(root, "recipient_public", pk);
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_from_secret(sk, &k, NULL), CX_OK);
    assert_memory_equal(cx_x25519_key_public(k), pk, 32);
    json_t *blobs = json_object_get(root, "blobs");
    assert_int_equal(json_array_size(blobs), 2);
    size_t i;
    json_t *b;
    json_array_foreach(blobs, i, b) {
        membuf m;
        load_file(json_string_value(json_object_get(b, "file")), &m);
        cx_cxb_header h;
        assert_int_equal(cx_cxb_header_parse(m.data, m.len, &h, NULL, &e), CX_OK);
        uint8_t want[32];
        hex32(b, "header_hash", want);
        assert_memory_equal(h.header_hash, want, 32);
        assert_int_equal(h.header_len, json_integer_value(json_object_get(b, "header_len")));
        assert_int_equal(h.blob_len, json_integer_value(json_object_get(b, "blob_len")));
        assert_int_equal(h.blob_len, m.len);
        assert_int_equal(h.chunk_size, json_integer_value(json_object_get(b, "chunk_size")));
        assert_int_equal(h.chunk_count, json_integer_value(json_object_get(b, "chunks")));
        assert_string_equal(h.pool_id, json_string_value(json_object_get(b, "pool_id")));
        assert_string_equal(h.contributor, json_string_value(json_object_get(b, "contributor")));
        assert_string_equal(cx_content_type_name(h.content_type),
                            json_string_value(json_object_get(b, "content_type")));
        uint8_t kid[32];
        cx_x25519_key_id(k, kid);
        assert_memory_equal(h.recipient_key_id, kid, 32);

        const char *pt = json_string_value(json_object_get(b, "plaintext"));
        for (int via = 0; via < 2; via++) {
            collect c = {0};
            cx_pipeline_result res;
            assert_int_equal(run_pipeline(k, &m, 2, via, &c, &res, &e), CX_OK);
            assert_int_equal(c.len, strlen(pt));
            if (c.len)
                assert_memory_equal(c.data, pt, c.len);
            hex32(b, "chunk_tag_hash", want);
            assert_memory_equal(res.tag_hash, want, 32);
            free(c.data);
        }
        /* and the same bytes under one flipped bit no longer open */
        m.data[m.len - 1] ^= 0x80;
        collect c = {0};
        cx_pipeline_result res;
        assert_int_equal(run_pipeline(k, &m, 1, 0, &c, &res, &e), CX_ERR_AUTH);
        free(c.data);
        free(m.data);
    }
    cx_x25519_key_free(k);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
