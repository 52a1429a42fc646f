/* test_util_encode.c — hex, base64 and base64url: RFC 4648 vectors, round trips,
 * strictness (bad digits, odd length, bad padding) and undersized buffers; error prefixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cx_util.h"

static void test_hex_roundtrip(void **state)
{
    (void)state;
    const uint8_t bin[] = {0x00, 0x01, 0xab, 0xff};
    char out[16];
    assert_int_equal(cx_hex_encode(bin, 4, out, sizeof out, NULL), CX_OK);
    assert_string_equal(out, "0001abff");
    uint8_t back[4];
    size_t n;
    assert_int_equal(cx_hex_decode("0001ABff", 8, back, sizeof back, &n, NULL), CX_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(back, bin, 4);
    assert_int_equal(cx_hex_decode("0x0001abff", 10, back, sizeof back, &n, NULL), CX_OK);
    assert_int_equal(n, 4);
}

static void test_hex_errors(void **state)
{
    (void)state;
    uint8_t b[8];
    size_t n;
    cx_error e;
    assert_int_equal(cx_hex_decode("abc", 3, b, sizeof b, &n, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "odd"));
    assert_int_equal(cx_hex_decode("zz", 2, b, sizeof b, &n, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_hex_decode("00112233445566778899", 20, b, sizeof b, &n, &e), CX_ERR_LIMIT);
    char small[4];
    assert_int_equal(cx_hex_encode(b, 2, small, sizeof small, &e), CX_ERR_LIMIT);
}

/* RFC 4648 §10 test vectors. */
static void test_base64_rfc4648(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const b64[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const b64url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        size_t len = strlen(plain[i]);
        char out[16];
        assert_int_equal(cx_base64_encode((const uint8_t *)plain[i], len, out, sizeof out, NULL), CX_OK);
        assert_string_equal(out, b64[i]);
        assert_int_equal(cx_base64_len(len, 0), strlen(b64[i]));
        assert_int_equal(cx_base64url_encode((const uint8_t *)plain[i], len, out, sizeof out, NULL),
                         CX_OK);
        assert_string_equal(out, b64url[i]);
        assert_int_equal(cx_base64_len(len, 1), strlen(b64url[i]));
        uint8_t back[16];
        size_t n = 99;
        assert_int_equal(cx_base64_decode(b64[i], strlen(b64[i]), back, sizeof back, &n, NULL), CX_OK);
        assert_int_equal(n, len);
        assert_memory_equal(back, plain[i], len);
        assert_int_equal(cx_base64url_decode(b64url[i], strlen(b64url[i]), back, sizeof back, &n, NULL),
                         CX_OK);
        assert_int_equal(n, len);
        assert_memory_equal(back, plain[i], len);
    }
}

static void test_base64_errors(void **state)
{
    (void)state;
    uint8_t b[4];
    size_t n;
    cx_error e;
    assert_int_equal(cx_base64_decode("Zm9v!", 5, b, sizeof b, &n, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_base64_decode("Zg=", 3, b, sizeof b, &n, &e), CX_ERR_FORMAT);
    /* url alphabet is not accepted by the standard decoder, and vice versa */
    assert_int_equal(cx_base64_decode("-_8", 3, b, sizeof b, &n, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_base64url_decode("+/8", 3, b, sizeof b, &n, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_base64url_decode("Zg==", 4, b, sizeof b, &n, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_base64_decode("Zm9vYmFy", 8, b, sizeof b, &n, &e), CX_ERR_LIMIT);
}

/* cx_error_wrap keeps the failure's code with or without a cx_error; cx_error_prefix keeps
 * e's code and message tail, truncating at the message size. */
static void test_error_context(void **state)
{
    (void)state;
    assert_int_equal(cx_error_wrap(CX_ERR_AUTH, NULL, "blob %s: ", "x"), CX_ERR_AUTH);
    cx_error e;
    cx_error_set(&e, CX_ERR_FORMAT, "bad digit");
    assert_int_equal(cx_error_wrap(CX_ERR_FORMAT, &e, "blob %s: ", "x"), CX_ERR_FORMAT);
    assert_string_equal(e.msg, "blob x: bad digit");
    assert_int_equal(cx_error_prefix(&e, "job: "), CX_ERR_FORMAT);
    assert_string_equal(e.msg, "job: blob x: bad digit");
    char longp[CX_ERROR_MSG_MAX + 10];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(cx_error_prefix(&e, "%s", longp), CX_ERR_FORMAT);
    assert_int_equal(strlen(e.msg), CX_ERROR_MSG_MAX - 1);
}

static void test_dup(void **state)
{
    (void)state;
    const uint8_t bin[] = {0xfb, 0xff};
    char *h = cx_hex_dup(bin, 2), *s = cx_base64_dup(bin, 2), *u = cx_base64url_dup(bin, 2);
    assert_string_equal(h, "fbff");
    assert_string_equal(s, "+/8=");
    assert_string_equal(u, "-_8");
    free(h);
    free(s);
    free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_roundtrip),  cmocka_unit_test(test_hex_errors),
        cmocka_unit_test(test_base64_rfc4648), cmocka_unit_test(test_base64_errors),
        cmocka_unit_test(test_dup),            cmocka_unit_test(test_error_context),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
