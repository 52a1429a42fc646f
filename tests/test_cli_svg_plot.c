/* test_cli_svg_plot.c — the cli's SVG chart writer: line and bar charts come out as well-formed
 * SVG (parsed by python3's xml.etree in tests/report_check.py), with every mark inside the
 * picture, titled with its value, names escaped; malformed charts are refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "svg_plot.h"

/* report_check.py svg FILE ARGS: 0 when the file passes. */
static int check_svg(const char *file, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "python3 '%s' svg '%s' %s", CX_REPORT_CHECK, file, args);
    return system(cmd);
}

static cx_err write_chart(const svg_chart *c, int bars, const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    cx_error e;
    cx_err rc = bars ? svg_chart_write_bars(c, f, &e) : svg_chart_write_lines(c, f, &e);
    assert_int_equal(fclose(f), 0);
    return rc;
}

static void test_lines_log2_gaps_and_escaping(void **state)
{
    (void)state;
    const double x[] = {1, 2, 4, 8, 16}, y1[] = {10, 19.5, NAN, 70, 120};
    const double y2[] = {12, 22, 40, 61, 90};
    const char *refs[] = {"a.0", "a.1", "a.2", "a.3", "a.4"};
    svg_series s[] = {
        {.name = "cloakx <fast> & \"safe\"", .x = x, .y = y1, .refs = refs, .n = 5},
        {.name = "peer's loop", .x = x, .y = y2, .n = 5, .dashed = 1},
    };
    svg_chart c = {.title = "Throughput <vs> threads & more",
                   .x_label = "threads",
                   .y_label = "GB/s",
                   .x_log2 = 1,
                   .y_from_zero = 1,
                   .series = s,
                   .n_series = 2};
    assert_int_equal(write_chart(&c, 0, "lines.svg"), CX_OK);
    /* 9 finite points; the names come back unescaped from the parser */
    assert_int_equal(check_svg("lines.svg", "--marks 9 --text 'cloakx <fast> & \"safe\"' "
                                            "--text \"peer's loop\" --text '16' "
                                            "--text 'Throughput <vs> threads & more'"),
                     0);
}

static void test_bars_negative_and_missing(void **state)
{
    (void)state;
    const char *cats[] = {"1 thread", "2 threads", "file split, 2 threads (a long name)"};
    const double a[] = {190.9, -35.5, 148.2}, b[] = {85.0, NAN, NAN};
    svg_series s[] = {{.name = "cloakx", .y = a, .n = 3}, {.name = "peer", .y = b, .n = 3}};
    svg_chart c = {.title = "Parse rate",
                   .y_label = "MB/s",
                   .categories = cats,
                   .n_categories = 3,
                   .series = s,
                   .n_series = 2};
    assert_int_equal(write_chart(&c, 1, "bars.svg"), CX_OK);
    assert_int_equal(check_svg("bars.svg", "--marks 4 --text '190.9' --text '-35.5' "
                                           "--text '1 thread' --text 'peer'"),
                     0);
}

static void test_degenerate_ranges(void **state)
{
    (void)state;
    /* one point, and equal values: the axes still have a span */
    const double x[] = {3}, y[] = {0.5}, x2[] = {1, 2, 3}, y2[] = {7, 7, 7};
    svg_series one = {.name = "", .x = x, .y = y, .n = 1};
    svg_chart c = {.title = "one", .series = &one, .n_series = 1, .width = 300, .height = 200};
    assert_int_equal(write_chart(&c, 0, "one.svg"), CX_OK);
    assert_int_equal(check_svg("one.svg", "--marks 1"), 0);
    svg_series flat = {.name = "flat", .x = x2, .y = y2, .n = 3};
    svg_chart f = {.title = "flat", .series = &flat, .n_series = 1};
    assert_int_equal(write_chart(&f, 0, "flat.svg"), CX_OK);
    assert_int_equal(check_svg("flat.svg", "--marks 3"), 0);
    c.x_log2 = 1; /* a log2 axis over one power of two */
    assert_int_equal(write_chart(&c, 0, "one_log2.svg"), CX_OK);
    assert_int_equal(check_svg("one_log2.svg", "--marks 1"), 0);
}

static void test_malformed_refused(void **state)
{
    (void)state;
    cx_error e;
    FILE *f = fopen("refused.svg", "w");
    assert_non_null(f);
    const double x[] = {0, 1}, y[] = {1, 2}, nan2[] = {NAN, NAN};
    const char *cats[] = {"a"};
    svg_series s = {.name = "s", .x = x, .y = y, .n = 2};
    svg_chart none = {.title = "none"};
    assert_int_equal(svg_chart_write_lines(&none, f, &e), CX_ERR_ARG);
    svg_chart log0 = {.title = "log", .x_log2 = 1, .series = &s, .n_series = 1};
    assert_int_equal(svg_chart_write_lines(&log0, f, &e), CX_ERR_ARG); /* x = 0 on log2 */
    assert_non_null(strstr(e.msg, "log2"));
    svg_chart mismatch = {
        .title = "bars", .categories = cats, .n_categories = 1, .series = &s, .n_series = 1};
    assert_int_equal(svg_chart_write_bars(&mismatch, f, &e), CX_ERR_ARG); /* 2 values, 1 cat */
    svg_series empty = {.name = "e", .x = x, .y = nan2, .n = 2};
    svg_chart nothing = {.title = "nan", .series = &empty, .n_series = 1};
    assert_int_equal(svg_chart_write_lines(&nothing, f, &e), CX_ERR_ARG);
    svg_series many[SVG_PLOT_MAX_SERIES + 1];
    for (size_t i = 0; i < SVG_PLOT_MAX_SERIES + 1; i++)
        many[i] = s;
    svg_chart crowd = {.title = "crowd", .series = many, .n_series = SVG_PLOT_MAX_SERIES + 1};
    assert_int_equal(svg_chart_write_lines(&crowd, f, &e), CX_ERR_ARG);
    assert_int_equal(fclose(f), 0);
}

static void test_write_failure(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        skip();
    assert_int_equal(setvbuf(f, NULL, _IONBF, 0), 0); /* each write fails at once */
    const double x[] = {1, 2}, y[] = {1, 2};
    svg_series s = {.name = "s", .x = x, .y = y, .n = 2};
    svg_chart c = {.title = "t", .series = &s, .n_series = 1};
    cx_error e;
    assert_int_equal(svg_chart_write_lines(&c, f, &e), CX_ERR_IO);
    fclose(f);
}

static void test_format_and_escape(void **state)
{
    (void)state;
    char b[64];
    svg_format_value(266164.2, b, sizeof b);
    assert_string_equal(b, "266164");
    svg_format_value(0.0123456, b, sizeof b);
    assert_string_equal(b, "0.01235");
    svg_format_value(-2500, b, sizeof b);
    assert_string_equal(b, "-2500");
    svg_format_value(152.02657, b, sizeof b);
    assert_string_equal(b, "152");
    svg_format_value(NAN, b, sizeof b);
    assert_string_equal(b, "-");
    char *txt = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&txt, &len);
    assert_non_null(m);
    svg_write_escaped(m, "a<b>&\"c'\x01\x1f\td");
    assert_int_equal(fclose(m), 0);
    assert_string_equal(txt, "a&lt;b&gt;&amp;&quot;c&apos;\td");
    free(txt);
}

/* The checker itself fails a malformed file (so the checks above can fail). */
static void test_checker_rejects_broken_svg(void **state)
{
    (void)state;
    FILE *f = fopen("broken.svg", "w");
    assert_non_null(f);
    fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\" viewBox=\"0 0 10 "
          "10\"><g><text>a & b</text></svg>\n",
          f);
    assert_int_equal(fclose(f), 0);
    assert_int_not_equal(check_svg("broken.svg", "2>/dev/null"), 0);
    f = fopen("outside.svg", "w");
    assert_non_null(f);
    fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\" viewBox=\"0 0 10 "
          "10\"><circle class=\"mark\" cx=\"50\" cy=\"5\" r=\"1\" data-value=\"1\"><title>s: "
          "1</title></circle></svg>\n",
          f);
    assert_int_equal(fclose(f), 0);
    assert_int_not_equal(check_svg("outside.svg", "2>/dev/null"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_log2_gaps_and_escaping),
        cmocka_unit_test(test_bars_negative_and_missing),
        cmocka_unit_test(test_degenerate_ranges),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_write_failure),
        cmocka_unit_test(test_format_and_escape),
        cmocka_unit_test(test_checker_rejects_broken_svg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
