/* test_cli_helpers.c — the `cloakx` tool's own helpers: durations and integers from the
 * command line, argument tables, and the synthetic demo data (deterministic, parseable under
 * the demo spec, a learnable label present). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

static void test_durations(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(cli_parse_duration_ms("90", &v, NULL), CX_OK);
    assert_int_equal(v, 90000);
    assert_int_equal(cli_parse_duration_ms("1.5s", &v, NULL), CX_OK);
    assert_int_equal(v, 1500);
    assert_int_equal(cli_parse_duration_ms("15m", &v, NULL), CX_OK);
    assert_int_equal(v, 900000);
    assert_int_equal(cli_parse_duration_ms("2d", &v, NULL), CX_OK);
    assert_int_equal(v, 172800000);
    const char *bad[] = {"", "-1s", "0", "3w", "1hh", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(cli_parse_duration_ms(bad[i], &v, NULL), CX_OK);
    assert_int_equal(cli_parse_u64("18446744073709551615", "x", &v, NULL), CX_ERR_ARG);
    assert_int_equal(cli_parse_u64("-3", "x", &v, NULL), CX_ERR_ARG);
}

static void test_demo_data(void **state)
{
    (void)state;
    uint8_t *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    assert_int_equal(cli_demo_data_csv(1, 3, 400, &a, &la, NULL), CX_OK);
    assert_int_equal(cli_demo_data_csv(1, 3, 400, &b, &lb, NULL), CX_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la); /* deterministic */
    cx_secmem_free(b);
    assert_int_equal(cli_demo_data_csv(1, 4, 400, &b, &lb, NULL), CX_OK);
    assert_true(la != lb || memcmp(a, b, la) != 0); /* cohorts differ */
    /* it parses under the demo spec's schema, both classes present */
    cx_dataset_schema *sc = NULL;
    json_t *j = json_pack("{s:s, s:s}", "label", "risk", "label_type", "class");
    assert_int_equal(cx_dataset_schema_from_json(j, &sc, NULL), CX_OK);
    cx_parser *p = NULL;
    cx_dataset *ds = NULL;
    assert_int_equal(cx_parser_new(sc, CX_DATA_CSV, 1, &p, NULL), CX_OK);
    assert_int_equal(cx_parser_feed(p, 0, a, la, 1, NULL), CX_OK);
    assert_int_equal(cx_parser_finalize(p, &ds, NULL), CX_OK);
    assert_int_equal(ds->n, 400);
    assert_int_equal(ds->d, 10);
    assert_int_equal(ds->n_classes, 2);
    size_t pos = 0;
    for (size_t i = 0; i < ds->n; i++)
        pos += ds->y[i] > 0.5f;
    assert_true(pos > 40 && pos < 360);
    cx_dataset_free(ds);
    cx_parser_free(p);
    cx_dataset_schema_free(sc);
    json_decref(j);
    cx_secmem_free(a);
    cx_secmem_free(b);
}

static void test_args(void **state)
{
    (void)state;
    cx_cli cli;
    memset(&cli, 0, sizeof cli);
    cli.cmd = "test";
    const char *ledger = NULL, *pos = NULL, *list[2];
    size_t n = 0;
    int flag = 0;
    const cli_arg args[] = {{.name = "--ledger", .val = &ledger, .env = "CX_TEST_ARGS_LEDGER"},
                           {.name = "--flag", .flag = &flag},
                           {.name = "--m", .list = list, .n = &n, .cap = 2},
                           {.name = "", .val = &pos},
                           {0}};
    char *ok[] = {"x", "--m", "a", "POS", "--flag", "--ledger", "L", "--m", "b"};
    assert_int_equal(cli_args_parse(&cli, 9, ok, args), 0);
    assert_string_equal(ledger, "L");
    assert_string_equal(pos, "POS");
    assert_int_equal(flag, 1);
    assert_int_equal(n, 2);
    assert_string_equal(list[0], "a");
    assert_string_equal(list[1], "b");
    /* the environment fills what was not given, and only that */
    setenv("CX_TEST_ARGS_LEDGER", "E", 1);
    ledger = pos = NULL;
    n = 0;
    assert_int_equal(cli_args_parse(&cli, 1, ok, args), 0);
    assert_string_equal(ledger, "E");
    assert_int_equal(cli_args_parse(&cli, 7, ok, args), 0);
    assert_string_equal(ledger, "L");
    /* usage errors: a second positional, a full list, a value missing, an unknown option */
    char *two[] = {"x", "A", "B"};
    char *full[] = {"x", "--m", "1", "--m", "2", "--m", "3"};
    char *novalue[] = {"x", "--ledger"};
    char *unknown[] = {"x", "--nope", "1"};
    ledger = pos = NULL;
    assert_int_equal(cli_args_parse(&cli, 3, two, args), CX_EXIT_USAGE);
    n = 0;
    assert_int_equal(cli_args_parse(&cli, 7, full, args), CX_EXIT_USAGE);
    assert_int_equal(cli_args_parse(&cli, 2, novalue, args), CX_EXIT_USAGE);
    assert_int_equal(cli_args_parse(&cli, 3, unknown, args), CX_EXIT_USAGE);
    unsetenv("CX_TEST_ARGS_LEDGER");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_demo_data),
        cmocka_unit_test(test_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
