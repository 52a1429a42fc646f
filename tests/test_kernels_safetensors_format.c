/* test_kernels_safetensors_format.c — safetensors writer layout, round trips, a hand-written
 * known-answer file, dtype conversion, and the strict reader's refusals of malformed files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_kernels.h"

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A model-like set: several dtypes, a scalar, an empty tensor, metadata. */
static cx_safetensors *make_set(int reversed)
{
    cx_error e;
    cx_safetensors *st;
    assert_int_equal(cx_safetensors_new(&st, &e), CX_OK);
    float w[6] = {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 42.0f};
    double d[4] = {1.0 / 3.0, -2.5, 1e300, 0};
    int64_t i64[2] = {-5, INT64_MAX};
    int32_t i32[3] = {7, -8, 9};
    uint8_t u8[5] = {0, 1, 2, 254, 255};
    uint16_t bf[4] = {0x3f80, 0xc000, 0x4049, 0x0000}; /* 1, -2, 3.140625, 0 */
    float sc = 2.75f;
    const uint64_t s23[] = {2, 3}, s4[] = {4}, s2[] = {2}, s3[] = {3}, s5[] = {5}, s22[] = {2, 2},
                   s03[] = {0, 3};
#define ADD(n, dt, sh, nd, p, sz) \
    assert_int_equal(cx_safetensors_add(st, n, dt, sh, nd, p, sz, &e), CX_OK)
    if (!reversed) {
        ADD("layer0.weight", CX_SAFETENSORS_F32, s23, 2, w, sizeof w);
        ADD("stats.f64", CX_SAFETENSORS_F64, s4, 1, d, sizeof d);
        ADD("ids", CX_SAFETENSORS_I64, s2, 1, i64, sizeof i64);
        ADD("counts", CX_SAFETENSORS_I32, s3, 1, i32, sizeof i32);
        ADD("bytes", CX_SAFETENSORS_U8, s5, 1, u8, sizeof u8);
        ADD("half", CX_SAFETENSORS_BF16, s22, 2, bf, sizeof bf);
        ADD("scalar", CX_SAFETENSORS_F32, NULL, 0, &sc, sizeof sc);
        ADD("empty", CX_SAFETENSORS_F32, s03, 2, NULL, 0);
    } else {
        ADD("empty", CX_SAFETENSORS_F32, s03, 2, NULL, 0);
        ADD("scalar", CX_SAFETENSORS_F32, NULL, 0, &sc, sizeof sc);
        ADD("half", CX_SAFETENSORS_BF16, s22, 2, bf, sizeof bf);
        ADD("bytes", CX_SAFETENSORS_U8, s5, 1, u8, sizeof u8);
        ADD("counts", CX_SAFETENSORS_I32, s3, 1, i32, sizeof i32);
        ADD("ids", CX_SAFETENSORS_I64, s2, 1, i64, sizeof i64);
        ADD("stats.f64", CX_SAFETENSORS_F64, s4, 1, d, sizeof d);
        ADD("layer0.weight", CX_SAFETENSORS_F32, s23, 2, w, sizeof w);
    }
#undef ADD
    assert_int_equal(cx_safetensors_meta_set(st, "format", "pt", &e), CX_OK);
    assert_int_equal(cx_safetensors_meta_set(st, "epsilon", "1.5", &e), CX_OK);
    assert_int_equal(cx_safetensors_meta_set(st, "epsilon", "7.25", &e), CX_OK); /* replaces */
    assert_int_equal(cx_safetensors_meta_set(st, "note", "ünïcode \"quoted\"\n", &e), CX_OK);
    return st;
}

static void test_roundtrip(void **state)
{
    (void)state;
    cx_error e;
    cx_safetensors *st = make_set(0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(cx_safetensors_serialize(st, &buf, &len, &e), CX_OK);

    /* Layout: u64 LE header length, multiple of 8, space padded, JSON object. */
    uint64_t hlen = rd64(buf);
    assert_true(hlen % 8 == 0 && 8 + hlen <= len);
    assert_int_equal(buf[8], '{');
    size_t end = 8 + hlen;
    while (buf[end - 1] == ' ')
        end--;
    assert_int_equal(buf[end - 1], '}');
    size_t body = 4 * 6 + 8 * 4 + 8 * 2 + 4 * 3 + 5 + 2 * 4 + 4;
    assert_int_equal(len, 8 + hlen + body);

    cx_safetensors *rd;
    assert_int_equal(cx_safetensors_parse(buf, len, &rd, &e), CX_OK);
    assert_int_equal(cx_safetensors_count(rd), 8);
    assert_string_equal(cx_safetensors_meta_get(rd, "epsilon"), "7.25");
    assert_string_equal(cx_safetensors_meta_get(rd, "format"), "pt");
    assert_string_equal(cx_safetensors_meta_get(rd, "note"), "ünïcode \"quoted\"\n");
    assert_null(cx_safetensors_meta_get(rd, "absent"));
    assert_int_equal(cx_safetensors_meta_count(rd), 3);

    /* Every tensor matches the original, byte for byte, and sits aligned to its element
     * size relative to the start of the data (file order: largest element first). */
    size_t prev_size = 8;
    for (size_t i = 0; i < cx_safetensors_count(rd); i++) {
        cx_safetensors_tensor a, b;
        assert_int_equal(cx_safetensors_at(rd, i, &a, &e), CX_OK);
        assert_int_equal(cx_safetensors_find(st, a.name, &b, &e), CX_OK);
        assert_int_equal(a.dtype, b.dtype);
        assert_int_equal(a.ndim, b.ndim);
        assert_int_equal(a.n_elements, b.n_elements);
        assert_int_equal(a.n_bytes, b.n_bytes);
        for (size_t d = 0; d < a.ndim; d++)
            assert_int_equal(a.shape[d], b.shape[d]);
        if (a.n_bytes)
            assert_memory_equal(a.data, b.data, a.n_bytes);
        size_t sz = cx_safetensors_dtype_size(a.dtype);
        assert_true(sz <= prev_size);
        prev_size = sz;
        assert_int_equal(((const uint8_t *)a.data - (buf + 8 + hlen)) % sz, 0);
    }
    cx_safetensors_tensor t;
    assert_int_equal(cx_safetensors_find(rd, "nope", &t, &e), CX_ERR_NOTFOUND);
    assert_int_equal(cx_safetensors_find(rd, "scalar", &t, &e), CX_OK);
    assert_int_equal(t.ndim, 0);
    assert_int_equal(t.n_elements, 1);
    assert_int_equal(cx_safetensors_find(rd, "empty", &t, &e), CX_OK);
    assert_int_equal(t.n_elements, 0);

    /* Deterministic: the same content added in another order gives the same bytes. */
    cx_safetensors *st2 = make_set(1);
    uint8_t *buf2;
    size_t len2;
    assert_int_equal(cx_safetensors_serialize(st2, &buf2, &len2, &e), CX_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    /* Re-serialising what was read gives the same bytes again. */
    free(buf2);
    assert_int_equal(cx_safetensors_serialize(rd, &buf2, &len2, &e), CX_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf2);
    free(buf);
    cx_safetensors_free(st2);
    cx_safetensors_free(rd);
    cx_safetensors_free(st);
}

static void test_to_f32(void **state)
{
    (void)state;
    cx_error e;
    cx_safetensors *st = make_set(0);
    cx_safetensors_tensor t;
    float out[8];
    assert_int_equal(cx_safetensors_find(st, "half", &t, &e), CX_OK);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 8, &e), CX_OK);
    assert_true(out[0] == 1.0f && out[1] == -2.0f && out[2] == 3.140625f && out[3] == 0.0f);
    assert_int_equal(cx_safetensors_find(st, "ids", &t, &e), CX_OK);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 8, &e), CX_OK);
    assert_true(out[0] == -5.0f);
    assert_int_equal(cx_safetensors_find(st, "bytes", &t, &e), CX_OK);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 8, &e), CX_OK);
    assert_true(out[4] == 255.0f);
    assert_int_equal(cx_safetensors_find(st, "stats.f64", &t, &e), CX_OK);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 8, &e), CX_OK);
    assert_true(out[1] == -2.5f && isinf(out[2]));
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 3, &e), CX_ERR_ARG);
    cx_safetensors_free(st);

    /* F16 and FP8: 1.0, -2.0, the smallest subnormal, infinity / NaN. */
    assert_int_equal(cx_safetensors_new(&st, &e), CX_OK);
    const uint16_t h[4] = {0x3c00, 0xc000, 0x0001, 0x7c00};
    const uint8_t f8a[3] = {0x38, 0xc0, 0x7f}; /* E4M3: 1.0, -2.0, NaN */
    const uint8_t f8b[2] = {0x3c, 0x7c};       /* E5M2: 1.0, inf */
    const uint64_t s4[] = {4}, s3[] = {3}, s2[] = {2};
    assert_int_equal(cx_safetensors_add(st, "h", CX_SAFETENSORS_F16, s4, 1, h, 8, &e), CX_OK);
    assert_int_equal(cx_safetensors_add(st, "a", CX_SAFETENSORS_F8_E4M3, s3, 1, f8a, 3, &e), CX_OK);
    assert_int_equal(cx_safetensors_add(st, "b", CX_SAFETENSORS_F8_E5M2, s2, 1, f8b, 2, &e), CX_OK);
    assert_int_equal(cx_safetensors_find(st, "h", &t, &e), CX_OK);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 8, &e), CX_OK);
    assert_true(out[0] == 1.0f && out[1] == -2.0f && out[2] == ldexpf(1.0f, -24) && isinf(out[3]));
    assert_int_equal(cx_safetensors_find(st, "a", &t, &e), CX_OK);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 8, &e), CX_OK);
    assert_true(out[0] == 1.0f && out[1] == -2.0f && isnan(out[2]));
    assert_int_equal(cx_safetensors_find(st, "b", &t, &e), CX_OK);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 8, &e), CX_OK);
    assert_true(out[0] == 1.0f && isinf(out[1]));
    cx_safetensors_free(st);
}

/* Build "<u64 len><header><data>" with an explicit header length. */
static uint8_t *file_of(const char *hdr, uint64_t hlen, const void *data, size_t dlen,
                        size_t *len)
{
    size_t tl = strlen(hdr);
    *len = 8 + tl + dlen;
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(b + 8, hdr, tl);
    if (dlen)
        memcpy(b + 8 + tl, data, dlen);
    return b;
}

/* A file written by hand the way huggingface/safetensors writes one (no padding needed by
 * the reader; metadata first): known answer. */
static void test_known_answer(void **state)
{
    (void)state;
    const char *hdr = "{\"__metadata__\":{\"format\":\"np\"},\"b\":{\"dtype\":\"I32\",\"shape\":[2],"
                      "\"data_offsets\":[8,16]},\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],"
                      "\"data_offsets\":[0,8]}}  ";
    const float a[2] = {1.5f, -4.0f};
    const int32_t bv[2] = {123456, -1};
    uint8_t data[16];
    memcpy(data, a, 8);
    memcpy(data + 8, bv, 8);
    size_t len;
    uint8_t *f = file_of(hdr, strlen(hdr), data, 16, &len);
    cx_error e;
    cx_safetensors *st;
    assert_int_equal(cx_safetensors_parse(f, len, &st, &e), CX_OK);
    free(f); /* the reader keeps its own copy */
    cx_safetensors_tensor t;
    assert_int_equal(cx_safetensors_at(st, 0, &t, &e), CX_OK); /* file order */
    assert_string_equal(t.name, "a");
    assert_int_equal(cx_safetensors_at(st, 1, &t, &e), CX_OK);
    assert_string_equal(t.name, "b");
    assert_int_equal(cx_safetensors_at(st, 2, &t, &e), CX_ERR_ARG);
    float out[2];
    assert_int_equal(cx_safetensors_find(st, "a", &t, &e), CX_OK);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.shape[0], 1);
    assert_int_equal(t.shape[1], 2);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 2, &e), CX_OK);
    assert_true(out[0] == 1.5f && out[1] == -4.0f);
    assert_int_equal(cx_safetensors_find(st, "b", &t, &e), CX_OK);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 2, &e), CX_OK);
    assert_true(out[0] == 123456.0f && out[1] == -1.0f);
    assert_string_equal(cx_safetensors_meta_get(st, "format"), "np");
    cx_safetensors_free(st);
}

/* Each malformed file is refused with a message naming the problem. */
static void expect_bad(const char *hdr, size_t dlen, long hlen_adj, cx_err want, const char *msg)
{
    uint8_t data[64] = {0};
    size_t len;
    uint8_t *f = file_of(hdr, (uint64_t)((long)strlen(hdr) + hlen_adj), data, dlen, &len);
    cx_error e = {0};
    cx_safetensors *st = (cx_safetensors *)(uintptr_t)1;
    cx_err rc = cx_safetensors_parse(f, len, &st, &e);
    if (rc != want || !strstr(e.msg, msg)) {
        print_error("header %s: got %s \"%s\", want %s \"%s\"\n", hdr, cx_err_name(rc), e.msg,
                    cx_err_name(want), msg);
        fail();
    }
    assert_null(st);
    free(f);
}

#define T8 "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"

static void test_strict_reader(void **state)
{
    (void)state;
    cx_error e;
    cx_safetensors *st;
    const uint8_t tiny[5] = {1, 0, 0, 0, 0};
    assert_int_equal(cx_safetensors_parse(tiny, 5, &st, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "too short"));
    /* The template is valid. */
    {
        size_t len;
        uint8_t z[8] = {0};
        uint8_t *f = file_of(T8, strlen(T8), z, 8, &len);
        assert_int_equal(cx_safetensors_parse(f, len, &st, &e), CX_OK);
        cx_safetensors_free(st);
        free(f);
    }
    expect_bad(T8, 8, 1000, CX_ERR_FORMAT, "exceeds");
    expect_bad(T8, 8, 200000000, CX_ERR_LIMIT, "over the limit");
    expect_bad(T8, 7, 0, CX_ERR_FORMAT, "past the end");
    expect_bad(T8, 9, 0, CX_ERR_FORMAT, "trailing");
    expect_bad(" " T8, 8, 0, CX_ERR_FORMAT, "start with '{'");
    expect_bad("[1]", 0, 0, CX_ERR_FORMAT, "start with '{'");
    expect_bad("{\"t\":", 0, 0, CX_ERR_FORMAT, "header JSON");
    expect_bad(T8 "x", 8, 0, CX_ERR_FORMAT, "header JSON");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, 0, CX_ERR_FORMAT, "header JSON");
    expect_bad("{\"t\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0,
               CX_ERR_FORMAT, "unknown dtype");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, 0,
               CX_ERR_FORMAT, "unknown key");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, 0,
               CX_ERR_FORMAT, "shape");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, 0,
               CX_ERR_FORMAT, "shape");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, 0,
               CX_ERR_FORMAT, "data_offsets");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0,
               CX_ERR_FORMAT, "needs 12");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, 0,
               CX_ERR_FORMAT, "reversed");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, 0,
               CX_ERR_FORMAT, "gap");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"u\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, 0, CX_ERR_FORMAT, "overlap");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
               "\"data_offsets\":[0,8]}}",
               8, 0, CX_ERR_FORMAT, "overflows");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
               "1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
               4, 0, CX_ERR_LIMIT, "dimensions");
    expect_bad("{\"__metadata__\":{\"a\":1}}", 0, 0, CX_ERR_FORMAT, "not a string");
    expect_bad("{\"__metadata__\":[]}", 0, 0, CX_ERR_FORMAT, "not an object");
    expect_bad("{\"t\":[1]}", 0, 0, CX_ERR_FORMAT, "not an object");
    expect_bad("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
               CX_ERR_FORMAT, "header JSON");
    /* Invalid UTF-8 in a name and a NUL inside the header are refused by the JSON parser. */
    expect_bad("{\"\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0,
               CX_ERR_FORMAT, "header JSON");
    expect_bad("{\"t\\u0000\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0,
               CX_ERR_FORMAT, "header JSON");
}

static void test_writer_refusals(void **state)
{
    (void)state;
    cx_error e;
    cx_safetensors *st;
    assert_int_equal(cx_safetensors_new(&st, &e), CX_OK);
    const float v[2] = {1, 2};
    const uint64_t s2[] = {2}, s3[] = {3};
    assert_int_equal(cx_safetensors_add(st, "x", CX_SAFETENSORS_F32, s2, 1, v, 8, &e), CX_OK);
    assert_int_equal(cx_safetensors_add(st, "x", CX_SAFETENSORS_F32, s2, 1, v, 8, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "already"));
    assert_int_equal(cx_safetensors_add(st, "y", CX_SAFETENSORS_F32, s3, 1, v, 8, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "need 12"));
    assert_int_equal(cx_safetensors_add(st, "__metadata__", CX_SAFETENSORS_F32, s2, 1, v, 8, &e),
                     CX_ERR_ARG);
    assert_int_equal(cx_safetensors_add(st, "", CX_SAFETENSORS_F32, s2, 1, v, 8, &e), CX_ERR_ARG);
    assert_int_equal(cx_safetensors_add(st, "z", CX_SAFETENSORS_DTYPE__COUNT, s2, 1, v, 8, &e),
                     CX_ERR_ARG);
    cx_safetensors_dtype dt;
    assert_int_equal(cx_safetensors_dtype_parse("BF16", &dt, &e), CX_OK);
    assert_int_equal(dt, CX_SAFETENSORS_BF16);
    assert_int_equal(cx_safetensors_dtype_parse("bf16", &dt, &e), CX_ERR_FORMAT);
    assert_null(cx_safetensors_dtype_name(CX_SAFETENSORS_DTYPE__COUNT));
    /* An empty set is a valid file: "{}" padded to 8. */
    cx_safetensors *empty;
    assert_int_equal(cx_safetensors_new(&empty, &e), CX_OK);
    uint8_t *buf;
    size_t len;
    assert_int_equal(cx_safetensors_serialize(empty, &buf, &len, &e), CX_OK);
    assert_int_equal(len, 16);
    assert_memory_equal(buf + 8, "{}      ", 8);
    cx_safetensors *rd;
    assert_int_equal(cx_safetensors_parse(buf, len, &rd, &e), CX_OK);
    assert_int_equal(cx_safetensors_count(rd), 0);
    cx_safetensors_free(rd);
    free(buf);
    cx_safetensors_free(empty);
    cx_safetensors_free(st);
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/cx_st_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cx_error e;
    cx_safetensors *st = make_set(0), *rd;
    assert_int_equal(cx_safetensors_write_file(st, path, &e), CX_OK);
    assert_int_equal(cx_safetensors_read_file(path, 0, &rd, &e), CX_OK);
    assert_int_equal(cx_safetensors_count(rd), cx_safetensors_count(st));
    cx_safetensors_free(rd);
    assert_int_equal(cx_safetensors_read_file(path, 64, &rd, &e), CX_ERR_LIMIT);
    /* A truncated file names the file and the problem. */
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(cx_safetensors_read_file(path, 0, &rd, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, path));
    unlink(path);
    assert_int_equal(cx_safetensors_read_file(path, 0, &rd, &e), CX_ERR_NOTFOUND);
    rmdir(dir);
    cx_safetensors_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_to_f32),
        cmocka_unit_test(test_known_answer),    cmocka_unit_test(test_strict_reader),
        cmocka_unit_test(test_writer_refusals), cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
