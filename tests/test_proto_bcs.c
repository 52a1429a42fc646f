/* test_proto_bcs.c — BCS writer/reader against the spec's vectors (Nautilus IntentMessage
 * serde, ULEB128), every primitive round-tripping, and the reader's strictness (non-minimal
 * ULEB128, bad bool/option tags, invalid UTF-8, limits, trailing bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cx_proto.h"

static char *hex(const uint8_t *p, size_t n)
{
    char *s = cx_hex_dup(p, n);
    assert_non_null(s);
    return s;
}

static void unhex(const char *s, uint8_t *out, size_t want)
{
    size_t got = 0;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, want, &got, NULL), CX_OK);
    assert_int_equal(got, want);
}

static void test_intent_message_vectors(void **state)
{
    (void)state;
    /* spec §6.3: NAUT enclave.move test_serde */
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_u8(&w, 0);
    cx_bcs_put_u64(&w, 1744038900000ull);
    cx_bcs_put_bytes(&w, (const uint8_t *)"San Francisco", 13);
    cx_bcs_put_u64(&w, 13);
    uint8_t *b;
    size_t n;
    assert_int_equal(cx_bcs_writer_finish(&w, &b, &n, NULL), CX_OK);
    char *h = hex(b, n);
    assert_string_equal(h, "0020b1d110960100000d53616e204672616e636973636f0d00000000000000");
    free(h);
    free(b);
    /* NAUT seal_policy.move test_serde: IntentMessage{1, ts, WalletPK{pk: vector<u8>}} */
    uint8_t pk[32];
    unhex("b8b91c7c3afff7e75e44ce64c11455e60989697a37d16421d727e4d01607cfda", pk, 32);
    cx_bcs_writer_init(&w);
    cx_bcs_put_u8(&w, 1);
    cx_bcs_put_u64(&w, 1767627884584ull);
    cx_bcs_put_bytes(&w, pk, 32);
    assert_int_equal(cx_bcs_writer_finish(&w, &b, &n, NULL), CX_OK);
    h = hex(b, n);
    assert_string_equal(h, "012808d58e9b01000020b8b91c7c3afff7e75e44ce64c11455e60989697a37d16421"
                           "d727e4d01607cfda");
    /* and the reader takes it apart again */
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, b, n);
    uint8_t intent;
    uint64_t ts;
    const uint8_t *p;
    size_t pl;
    assert_int_equal(cx_bcs_get_u8(&r, &intent, NULL), CX_OK);
    assert_int_equal(cx_bcs_get_u64(&r, &ts, NULL), CX_OK);
    assert_int_equal(cx_bcs_get_bytes(&r, 64, &p, &pl, NULL), CX_OK);
    assert_int_equal(intent, 1);
    assert_true(ts == 1767627884584ull);
    assert_int_equal(pl, 32);
    assert_memory_equal(p, pk, 32);
    assert_int_equal(cx_bcs_reader_end(&r, NULL), CX_OK);
    free(h);
    free(b);
}

static void test_uleb(void **state)
{
    (void)state;
    static const struct {
        uint64_t v;
        const char *hex;
    } vec[] = {{0, "00"},
               {1, "01"},
               {127, "7f"},
               {128, "8001"},
               {300, "ac02"},
               {16384, "808001"},
               {0x7fffffff, "ffffffff07"}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        cx_bcs_writer w;
        cx_bcs_writer_init(&w);
        cx_bcs_put_uleb(&w, vec[i].v);
        uint8_t *b;
        size_t n;
        assert_int_equal(cx_bcs_writer_finish(&w, &b, &n, NULL), CX_OK);
        char *h = hex(b, n);
        assert_string_equal(h, vec[i].hex);
        cx_bcs_reader r;
        cx_bcs_reader_init(&r, b, n);
        uint64_t v = 99;
        assert_int_equal(cx_bcs_get_uleb(&r, &v, NULL), CX_OK);
        assert_true(v == vec[i].v);
        free(h);
        free(b);
    }
    /* non-minimal, too large, too long, truncated */
    static const char *const bad[] = {"8000", "ff7f00", "8080808008", "8080808080", "80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t buf[8];
        size_t n = strlen(bad[i]) / 2;
        unhex(bad[i], buf, n);
        cx_bcs_reader r;
        cx_bcs_reader_init(&r, buf, n);
        uint64_t v;
        cx_error e;
        if (i == 1) { /* ff7f = 16383 is fine; the trailing 00 is left over */
            assert_int_equal(cx_bcs_get_uleb(&r, &v, &e), CX_OK);
            assert_int_equal(cx_bcs_reader_end(&r, &e), CX_ERR_FORMAT);
            continue;
        }
        assert_int_equal(cx_bcs_get_uleb(&r, &v, &e), CX_ERR_FORMAT);
    }
}

static void test_reader_strict(void **state)
{
    (void)state;
    uint8_t buf[4] = {0x05, 'a', 'b', 'c'};
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, buf, sizeof buf);
    const uint8_t *p;
    size_t n;
    cx_error e;
    assert_int_equal(cx_bcs_get_bytes(&r, 64, &p, &n, &e), CX_ERR_FORMAT); /* says 5, has 3 */
    cx_bcs_reader_init(&r, buf, sizeof buf);
    assert_int_equal(cx_bcs_get_bytes(&r, 4, &p, &n, &e), CX_ERR_FORMAT); /* over max */
    uint8_t bl = 2;
    int bv;
    cx_bcs_reader_init(&r, &bl, 1);
    assert_int_equal(cx_bcs_get_bool(&r, &bv, &e), CX_ERR_FORMAT);
    uint64_t v;
    cx_bcs_reader_init(&r, buf, 3);
    assert_int_equal(cx_bcs_get_u64(&r, &v, &e), CX_ERR_FORMAT);
}

/* Every put has its get: a value of each kind written and read back, bytes as BCS has them. */
static void test_primitives_roundtrip(void **state)
{
    (void)state;
    uint8_t u128[16], u256[32], addr[CX_BCS_ADDR_LEN];
    for (int i = 0; i < 16; i++)
        u128[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 32; i++) {
        u256[i] = (uint8_t)(0x10 + i);
        addr[i] = (uint8_t)(0xff - i);
    }
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_u16(&w, 0x1234);
    cx_bcs_put_u32(&w, 0x89abcdefu);
    cx_bcs_put_u128(&w, u128);
    cx_bcs_put_u256(&w, u256);
    cx_bcs_put_bool(&w, 1);
    cx_bcs_put_option(&w, 0);
    cx_bcs_put_option(&w, 1);
    cx_bcs_put_u8(&w, 7);
    cx_bcs_put_variant(&w, 2);
    cx_bcs_put_seq_len(&w, 2);
    cx_bcs_put_addr(&w, addr);
    cx_bcs_put_addr(&w, addr);
    cx_bcs_put_str(&w, "h\xc3\xa9", 3); /* "hé" */
    uint8_t *b;
    size_t n;
    assert_int_equal(cx_bcs_writer_finish(&w, &b, &n, NULL), CX_OK);
    assert_int_equal(n, 2 + 4 + 16 + 32 + 1 + 1 + 2 + 1 + 1 + 64 + 4);
    char *h = hex(b, 8);
    assert_string_equal(h, "3412efcdab89a0a1"); /* little-endian throughout */
    free(h);

    cx_bcs_reader r;
    cx_bcs_reader_init(&r, b, n);
    uint16_t v16;
    uint32_t v32, idx;
    uint8_t g128[16], g256[32], gaddr[CX_BCS_ADDR_LEN], v8;
    int flag, some;
    size_t cnt, sl;
    const char *s;
    assert_int_equal(cx_bcs_get_u16(&r, &v16, NULL), CX_OK);
    assert_int_equal(v16, 0x1234);
    assert_int_equal(cx_bcs_get_u32(&r, &v32, NULL), CX_OK);
    assert_true(v32 == 0x89abcdefu);
    assert_int_equal(cx_bcs_get_u128(&r, g128, NULL), CX_OK);
    assert_memory_equal(g128, u128, 16);
    assert_int_equal(cx_bcs_get_u256(&r, g256, NULL), CX_OK);
    assert_memory_equal(g256, u256, 32);
    assert_int_equal(cx_bcs_get_bool(&r, &flag, NULL), CX_OK);
    assert_int_equal(flag, 1);
    assert_int_equal(cx_bcs_get_option(&r, &some, NULL), CX_OK);
    assert_int_equal(some, 0);
    assert_int_equal(cx_bcs_get_option(&r, &some, NULL), CX_OK);
    assert_int_equal(some, 1);
    assert_int_equal(cx_bcs_get_u8(&r, &v8, NULL), CX_OK);
    assert_int_equal(v8, 7);
    assert_int_equal(cx_bcs_get_variant(&r, 3, &idx, NULL), CX_OK);
    assert_int_equal(idx, 2);
    assert_int_equal(cx_bcs_get_seq_len(&r, 2, CX_BCS_ADDR_LEN, &cnt, NULL), CX_OK);
    assert_int_equal(cnt, 2);
    for (size_t i = 0; i < cnt; i++) {
        assert_int_equal(cx_bcs_get_addr(&r, gaddr, NULL), CX_OK);
        assert_memory_equal(gaddr, addr, CX_BCS_ADDR_LEN);
    }
    assert_int_equal(cx_bcs_get_str(&r, 16, &s, &sl, NULL), CX_OK);
    assert_int_equal(sl, 3);
    assert_memory_equal(s, "h\xc3\xa9", 3);
    assert_int_equal(cx_bcs_reader_end(&r, NULL), CX_OK);
    free(b);

    /* an empty encoding is still a buffer the caller frees */
    cx_bcs_writer_init(&w);
    assert_int_equal(cx_bcs_writer_finish(&w, &b, &n, NULL), CX_OK);
    assert_non_null(b);
    assert_int_equal(n, 0);
    free(b);
}

/* What a strict reader refuses beyond lengths: tags, enum variants, counts the input cannot
 * hold, UTF-8 that is not, and a writer asked for what BCS cannot say. */
static void test_reader_refuses(void **state)
{
    (void)state;
    cx_bcs_reader r;
    cx_error e;
    int flag;
    uint32_t idx;
    size_t cnt, sl;
    const char *s;
    static const uint8_t opt2[] = {0x02};
    cx_bcs_reader_init(&r, opt2, sizeof opt2);
    assert_int_equal(cx_bcs_get_option(&r, &flag, &e), CX_ERR_FORMAT);
    static const uint8_t var3[] = {0x03};
    cx_bcs_reader_init(&r, var3, sizeof var3);
    assert_int_equal(cx_bcs_get_variant(&r, 3, &idx, &e), CX_ERR_FORMAT);
    /* 5 elements of at least 8 bytes in 16 bytes: refused before anyone allocates */
    uint8_t seq[17] = {0x05};
    cx_bcs_reader_init(&r, seq, sizeof seq);
    assert_int_equal(cx_bcs_get_seq_len(&r, 100, 8, &cnt, &e), CX_ERR_FORMAT);
    cx_bcs_reader_init(&r, seq, sizeof seq);
    assert_int_equal(cx_bcs_get_seq_len(&r, 4, 0, &cnt, &e), CX_ERR_FORMAT); /* over max */
    cx_bcs_reader_init(&r, seq, sizeof seq);
    assert_int_equal(cx_bcs_get_seq_len(&r, 5, 3, &cnt, NULL), CX_OK);
    assert_int_equal(cnt, 5);
    /* overlong, surrogate, above U+10FFFF, stray continuation, cut sequence */
    static const char *const bad_utf8[] = {"02c0af", "03eda080", "04f4908080", "0180", "02e282"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        uint8_t buf[8];
        size_t n = strlen(bad_utf8[i]) / 2;
        unhex(bad_utf8[i], buf, n);
        cx_bcs_reader_init(&r, buf, n);
        assert_int_equal(cx_bcs_get_str(&r, 16, &s, &sl, &e), CX_ERR_FORMAT);
        cx_bcs_writer w;
        cx_bcs_writer_init(&w);
        cx_bcs_put_str(&w, (const char *)buf + 1, n - 1);
        uint8_t *out = NULL;
        size_t on = 0;
        assert_int_equal(cx_bcs_writer_finish(&w, &out, &on, &e), CX_ERR_ARG);
        assert_null(out);
    }
    /* the largest code point and a 3-byte one are fine */
    static const uint8_t good[] = {0x07, 0xf4, 0x8f, 0xbf, 0xbf, 0xe2, 0x82, 0xac};
    cx_bcs_reader_init(&r, good, sizeof good);
    assert_int_equal(cx_bcs_get_str(&r, 16, &s, &sl, NULL), CX_OK);
    assert_int_equal(sl, 7);
    /* a ULEB128 above 2^31-1 cannot be written (the reader would refuse it) */
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_uleb(&w, CX_BCS_MAX_SEQ + 1);
    cx_bcs_put_u8(&w, 1); /* sticky: the first error is what finish reports */
    uint8_t *out = NULL;
    size_t on = 0;
    assert_int_equal(cx_bcs_writer_finish(&w, &out, &on, &e), CX_ERR_LIMIT);
}

/* Addresses in text: "0x" + 64 lowercase hex out; in, exactly that shape (any digit case). */
static void test_address_text(void **state)
{
    (void)state;
    uint8_t a[CX_BCS_ADDR_LEN], back[CX_BCS_ADDR_LEN];
    for (int i = 0; i < CX_BCS_ADDR_LEN; i++)
        a[i] = (uint8_t)(i * 7 + 0xa0);
    char t[CX_ADDR_HEX_LEN + 1];
    cx_addr_to_hex(a, t);
    assert_int_equal(strlen(t), CX_ADDR_HEX_LEN);
    assert_memory_equal(t, "0xa0a7aeb5", 10);
    assert_int_equal(cx_addr_from_hex(t, back, NULL), CX_OK);
    assert_memory_equal(back, a, CX_BCS_ADDR_LEN);
    t[5] = 'A'; /* upper-case digits read the same */
    assert_int_equal(cx_addr_from_hex(t, back, NULL), CX_OK);
    cx_error e;
    assert_int_equal(cx_addr_from_hex(t + 2, back, &e), CX_ERR_FORMAT); /* no 0x */
    assert_int_equal(cx_addr_from_hex("0x1601", back, &e), CX_ERR_FORMAT);
    t[1] = 'X';
    assert_int_equal(cx_addr_from_hex(t, back, &e), CX_ERR_FORMAT);
    t[1] = 'x';
    t[40] = 'g';
    assert_int_equal(cx_addr_from_hex(t, back, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_addr_from_hex(NULL, back, &e), CX_ERR_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intent_message_vectors), cmocka_unit_test(test_uleb),
        cmocka_unit_test(test_reader_strict),          cmocka_unit_test(test_primitives_roundtrip),
        cmocka_unit_test(test_reader_refuses),         cmocka_unit_test(test_address_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
