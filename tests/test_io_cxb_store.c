/* test_io_cxb_store.c — seal -> local store put -> store get -> pipeline decrypt: exact for
 * empty, one-byte and chunk-boundary inputs, several blobs in one run. */
#include "io_cxb_testutil.h"

static void test_seal_store_fetch_decrypt(void **state)
{
    (void)state;
    char dir[] = "/tmp/cx_test_cxb_store_XXXXXX", url[64];
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "local:%s", dir);
    cx_store *st;
    cx_error e;
    if (cx_store_open(url, NULL, &st, &e) != CX_OK)
        fail_msg("%s", e.msg);
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    enum { NB = 5, CS = 256 };
    const size_t lens[NB] = {0, 1, CS, CS + 1, 10 * CS - 1};
    uint8_t *pts[NB];
    char ids[NB][CX_STORE_ID_MAX];
    cx_pipeline_blob in[NB];
    for (int b = 0; b < NB; b++) {
        pts[b] = malloc(lens[b] + 1);
        fill_pattern(pts[b], lens[b], (uint32_t)(100 + b));
        membuf blob = {0};
        seal_to(k, pts[b], lens[b], CS, CX_CONTENT_RAW, &blob, NULL, NULL);
        cx_mem_reader mr;
        cx_reader r;
        cx_reader_from_memory(&r, &mr, blob.data, blob.len);
        if (cx_store_put(st, &r, ids[b], &e) != CX_OK)
            fail_msg("put: %s", e.msg);
        free(blob.data);
        in[b].id = ids[b];
        in[b].fd = -1;
        if (cx_store_get(st, ids[b], &in[b].reader, &e) != CX_OK)
            fail_msg("get: %s", e.msg);
    }
    collect c = {0};
    c.per_blob = 1;
    cx_pipeline_result res[NB];
    cx_pipeline_config cfg = {.threads = 2, .buffers = 4};
    cx_pipeline_consumer cons = {collect_chunk, collect_done, &c};
    if (cx_pipeline_run(&cfg, k, in, NB, &cons, res, &e) != CX_OK)
        fail_msg("pipeline: %s", e.msg);
    size_t off = 0;
    for (int b = 0; b < NB; b++) {
        assert_int_equal(res[b].status, CX_OK);
        assert_int_equal(res[b].bytes, lens[b]);
        if (lens[b])
            assert_memory_equal(c.data + off, pts[b], lens[b]);
        off += lens[b];
        if (in[b].reader.close)
            in[b].reader.close(in[b].reader.ctx);
        free(pts[b]);
    }
    assert_int_equal(c.len, off);
    assert_int_equal(c.order_errors, 0);
    free(c.data);
    cx_x25519_key_free(k);
    cx_store_free(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_store_fetch_decrypt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
