/* test_util_json.c — strict JSON helpers: unknown keys, wrong types and out-of-range
 * values are refused with a message that names the key; errors carry positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cx_util.h"

static void test_getters(void **state)
{
    (void)state;
    const char *text = "{\"n\": 0.5, \"i\": 7, \"s\": \"x\", \"b\": true}";
    json_t *j;
    cx_error e;
    assert_int_equal(cx_json_parse(text, strlen(text), &j, &e), CX_OK);
    double d = 0;
    int64_t i = 0;
    const char *s = NULL;
    int b = 0;
    assert_int_equal(cx_json_get_number(j, "n", 1, 0, 1, &d, &e), CX_OK);
    assert_true(d == 0.5);
    assert_int_equal(cx_json_get_int(j, "i", 1, 0, 10, &i, &e), CX_OK);
    assert_int_equal(i, 7);
    assert_int_equal(cx_json_get_string(j, "s", 1, &s, &e), CX_OK);
    assert_string_equal(s, "x");
    assert_int_equal(cx_json_get_bool(j, "b", 1, &b, &e), CX_OK);
    assert_int_equal(b, 1);
    /* optional and missing keeps the default */
    i = 42;
    assert_int_equal(cx_json_get_int(j, "zz", 0, 0, 10, &i, &e), CX_OK);
    assert_int_equal(i, 42);
    assert_int_equal(cx_json_get_int(j, "zz", 1, 0, 10, &i, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "\"zz\""));
    assert_int_equal(cx_json_get_int(j, "i", 1, 0, 5, &i, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "\"i\""));
    assert_non_null(strstr(e.msg, "range"));
    assert_int_equal(cx_json_get_string(j, "n", 1, &s, &e), CX_ERR_FORMAT);
    json_decref(j);
}

static void test_unknown_key(void **state)
{
    (void)state;
    const char *text = "{\"epochs\": 3, \"epoch\": 4}";
    json_t *j;
    cx_error e;
    assert_int_equal(cx_json_parse(text, strlen(text), &j, &e), CX_OK);
    static const char *const allowed[] = {"epochs", NULL};
    assert_int_equal(cx_json_check_keys(j, allowed, "spec", &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "\"epoch\""));
    json_decref(j);
}

static void test_parse_errors(void **state)
{
    (void)state;
    json_t *j;
    cx_error e;
    assert_int_equal(cx_json_parse("{\"a\":1,\n\"a\":2}", 14, &j, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "line 2"));
    assert_int_equal(cx_json_load_file("/nonexistent.json", &j, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "/nonexistent.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
