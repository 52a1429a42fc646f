/* test_io_cxb_large.c — a multi-GiB round trip streamed through files, never all in memory:
 * seal ~2 GiB from a generator to disk, decrypt it mapped and as a stream, compare on the fly. */
#include "io_cxb_testutil.h"

#include <sys/stat.h>

typedef struct gen {
    uint64_t x, left;
} gen;

static void gen_fill(uint64_t *x, uint8_t *p, size_t len)
{
    uint64_t v = *x;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        memcpy(p + i, &v, 8);
    }
    if (i < len) {
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        memcpy(p + i, &v, len - i);
    }
    *x = v;
}

/* Byte-exact regardless of how reads are split: always whole 8-byte words except the end. */
static cx_err gen_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    (void)e;
    gen *g = ctx;
    size_t n = len < g->left ? len : (size_t)g->left;
    if (n > 8 && g->left > n)
        n &= ~(size_t)7;
    gen_fill(&g->x, buf, n);
    g->left -= n;
    *got = n;
    return CX_OK;
}

static cx_err fd_write(void *ctx, const void *buf, size_t len, cx_error *e)
{
    return cx_write_full((int)(intptr_t)ctx, buf, len, e);
}

typedef struct check {
    gen g;
    uint8_t *want;
    uint64_t bytes;
    int mismatch;
} check;

static cx_err check_chunk(void *ud, const cx_pipeline_chunk *c, cx_error *e)
{
    check *k = ud;
    size_t got = 0;
    cx_reader r = {gen_read, NULL, &k->g};
    cx_err rc = cx_reader_read_full(&r, k->want, c->len, &got, e);
    if (rc != CX_OK)
        return rc;
    if (got != c->len || memcmp(k->want, c->data, c->len) != 0)
        k->mismatch++;
    k->bytes += c->len;
    return CX_OK;
}

static void test_large(void **state)
{
    (void)state;
    const char *env = getenv("CX_LARGE_BYTES");
    uint64_t size = env ? strtoull(env, NULL, 10) : ((uint64_t)2 << 30) + 12345;
    const uint64_t seed = 0x1234567887654321ull;
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    char path[] = "/tmp/cx_test_large_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);

    gen g = {seed, size};
    cx_reader in = {gen_read, NULL, &g};
    cx_writer out = {fd_write, (void *)(intptr_t)fd};
    cx_cxb_seal_params p = {.recipient_pub = cx_x25519_key_public(k),
                            .pool_id = "pool-large",
                            .contributor = "0xlarge",
                            .content_type = CX_CONTENT_F32};
    cx_cxb_header h;
    uint8_t th[32];
    cx_error e;
    double t0 = cx_now_seconds();
    if (cx_cxb_seal(&p, &in, size, &out, &h, th, &e) != CX_OK)
        fail_msg("seal: %s", e.msg);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal((uint64_t)st.st_size, h.blob_len);
    print_message("sealed %llu bytes in %.2f s\n", (unsigned long long)size, cx_now_seconds() - t0);

    for (int stream = 0; stream < 2; stream++) {
        check ck = {{seed, size}, malloc(CX_CXB_DEFAULT_CHUNK), 0, 0};
        assert_non_null(ck.want);
        cx_pipeline_blob blob = {.id = "large", .fd = stream ? -1 : fd};
        if (stream) {
            assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
            cx_reader_from_fd(&blob.reader, fd);
        }
        cx_pipeline_config cfg = {.threads = 2};
        cx_pipeline_consumer cons = {check_chunk, NULL, &ck};
        cx_pipeline_result res;
        t0 = cx_now_seconds();
        if (cx_pipeline_run(&cfg, k, &blob, 1, &cons, &res, &e) != CX_OK)
            fail_msg("pipeline: %s", e.msg);
        print_message("decrypted (%s) in %.2f s\n", stream ? "stream" : "mapped",
                      cx_now_seconds() - t0);
        assert_int_equal(ck.mismatch, 0);
        assert_int_equal(ck.bytes, size);
        assert_int_equal(res.bytes, size);
        assert_memory_equal(res.tag_hash, th, 32);
        free(ck.want);
    }
    close(fd);
    cx_x25519_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
