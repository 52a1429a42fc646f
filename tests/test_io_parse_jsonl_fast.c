/* test_io_parse_jsonl_fast.c — JSON lines take two shortcuts: the key after the previous
 * one is tried before the hash lookup, and a plain number is read in one 16-byte step.
 * Every line must come out as without them: the same floats (strtof's), the same bad rows at
 * the same lines, for keys in order, shuffled, missing, repeated or unknown, and numbers in
 * every form (exponents, long digit runs, white space around them, at a line's end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "cx_io.h"
#include "io_parse_testutil.h"

enum { COLS = 5, ROWS = 3000 };

/* the parse of data fed in pieces of chunk bytes; any error fails the test */
static cx_dataset *must_parse(const cx_dataset_schema *s, const char *data, size_t len,
                              size_t chunk)
{
    cx_error e;
    cx_dataset *ds = parse_chunked(s, CX_DATA_JSONL, data, len, chunk, &e);
    if (!ds)
        fail_msg("parse: %s", e.msg);
    return ds;
}

static int number(char *o, uint64_t *x, int plain_only)
{
    uint64_t r = xorshift_next(x);
    unsigned ip = (unsigned)((r >> 8) % 100000000u), fp = (unsigned)((r >> 40) % 100000000u);
    const char *sign = (r >> 20) & 1 ? "-" : "";
    switch (plain_only ? 0 : r % 16) {
    case 1:
        return sprintf(o, "%s%u.%ue-2", sign, ip % 100, fp % 100);
    case 2:
        return sprintf(o, "%s1%08u.5", sign, ip); /* 9 integer digits */
    case 3:
        return sprintf(o, " %s%u.%u ", sign, ip % 100, fp % 1000); /* white space around */
    case 4:
        return sprintf(o, "%s0.%08u7", sign, fp); /* 9 fraction digits */
    case 5:
        return sprintf(o, "true");
    case 6:
        return sprintf(o, "null");
    case 7:
        return sprintf(o, "\"%u.%u\"", ip % 10, fp % 10); /* a number as a string */
    default:
        switch ((r >> 50) % 3) {
        case 0:
            return sprintf(o, "%s%u", sign, ip % 1000);
        case 1:
            return sprintf(o, "%s%u.%04u", sign, ip % 100000, fp % 10000);
        default:
            return sprintf(o, "%s%u.%08u", sign, ip, fp);
        }
    }
}

/* Lines of COLS keys: mostly in order; now and then shuffled, one missing, one repeated,
 * an unknown one, or a blank line. */
static char *make(uint64_t seed, int plain_only, size_t *len)
{
    size_t cap = (size_t)ROWS * COLS * 64 + 256, o = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    uint64_t x = seed;
    for (int r = 0; r < ROWS; r++) {
        uint64_t k = plain_only ? 99 : xorshift_next(&x) % 50;
        int order[COLS + 1], n = COLS;
        for (int c = 0; c < COLS; c++)
            order[c] = c;
        if (k == 0) /* shuffled */
            for (int c = COLS - 1; c > 0; c--) {
                int j = (int)(xorshift_next(&x) % (uint64_t)(c + 1)), t = order[c];
                order[c] = order[j];
                order[j] = t;
            }
        if (k == 1)
            n--; /* one missing */
        if (k == 2)
            order[n++] = 1; /* one repeated */
        if (k == 3)
            order[n++] = 9; /* unknown */
        b[o++] = '{';
        for (int c = 0; c < n; c++) {
            o += (size_t)sprintf(b + o, c ? ",\"k%d\":" : "\"k%d\":", order[c]);
            o += (size_t)number(b + o, &x, plain_only);
        }
        b[o++] = '}';
        b[o++] = '\n';
        if (k == 4)
            b[o++] = '\n';
    }
    *len = o;
    return b;
}

static cx_dataset_schema *schema(void)
{
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    for (int c = 0; c < COLS; c++) {
        char name[8];
        snprintf(name, sizeof name, "k%d", c);
        assert_int_equal(cx_dataset_schema_add_feature(s, name, &e), CX_OK);
    }
    assert_int_equal(cx_dataset_schema_set_missing(s, CX_MISSING_FILL_VALUE, -3.0f, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_bad_fraction(s, 1.0, &e), CX_OK);
    return s;
}

/* Whole (the shortcuts wherever 32 bytes follow) against 1- and 13-byte pieces (the plain
 * parse nearly everywhere): the same dataset. */
static void test_jsonl_shortcuts_same_as_plain_parse(void **state)
{
    (void)state;
    size_t len;
    char *js = make(0xD1B54A32D192ED03ull, 0, &len);
    cx_dataset_schema *s = schema();
    cx_dataset *whole = must_parse(s, js, len, len);
    assert_true(whole->blobs[0].bad_rows > 0);
    const size_t pieces[] = {1, 13};
    for (size_t i = 0; i < 2; i++) {
        cx_dataset *bit = must_parse(s, js, len, pieces[i]);
        assert_int_equal(whole->n, bit->n);
        assert_int_equal(whole->d, bit->d);
        assert_memory_equal(whole->X, bit->X, whole->n * whole->d * sizeof(float));
        assert_int_equal(whole->blobs[0].bad_rows, bit->blobs[0].bad_rows);
        assert_int_equal(whole->blobs[0].n_listed, bit->blobs[0].n_listed);
        for (size_t k = 0; k < whole->blobs[0].n_listed; k++) {
            assert_int_equal(whole->blobs[0].listed[k].line, bit->blobs[0].listed[k].line);
            assert_int_equal(whole->blobs[0].listed[k].reason, bit->blobs[0].listed[k].reason);
        }
        cx_dataset_free(bit);
    }
    cx_dataset_free(whole);
    cx_dataset_schema_free(s);
    free(js);
}

/* Plain lines: every value is strtof's of its text, bit for bit. */
static void test_jsonl_numbers_match_strtof(void **state)
{
    (void)state;
    size_t len;
    char *js = make(7, 1, &len);
    cx_dataset_schema *s = schema();
    cx_dataset *ds = must_parse(s, js, len, len);
    assert_int_equal(ds->n, ROWS);
    assert_int_equal(ds->d, COLS);
    const char *p = js;
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) {
        p = strchr(p, ':') + 1;
        char *q;
        float f = strtof(p, &q);
        assert_true(*q == ',' || *q == '}');
        if (memcmp(&f, &ds->X[i], sizeof f) != 0)
            fail_msg("value %zu: %.*s parsed as %.9g, strtof %.9g", i, (int)(q - p), p,
                     (double)ds->X[i], (double)f);
        p = q;
    }
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
    free(js);
}

/* Every line's keys shuffled (the guess mostly wrong): each value lands in its key's column,
 * as strtof reads it. */
static void test_jsonl_shuffled_keys_land_in_their_columns(void **state)
{
    (void)state;
    size_t cap = (size_t)ROWS * COLS * 64, o = 0;
    char *js = malloc(cap);
    assert_non_null(js);
    uint64_t x = 99;
    for (int r = 0; r < ROWS; r++) {
        int order[COLS];
        for (int c = 0; c < COLS; c++)
            order[c] = c;
        for (int c = COLS - 1; c > 0; c--) {
            int j = (int)(xorshift_next(&x) % (uint64_t)(c + 1)), t = order[c];
            order[c] = order[j];
            order[j] = t;
        }
        js[o++] = '{';
        for (int c = 0; c < COLS; c++) {
            o += (size_t)sprintf(js + o, c ? ",\"k%d\":" : "\"k%d\":", order[c]);
            o += (size_t)number(js + o, &x, 1);
        }
        js[o++] = '}';
        js[o++] = '\n';
    }
    cx_dataset_schema *s = schema();
    cx_dataset *ds = must_parse(s, js, o, o);
    assert_int_equal(ds->n, ROWS);
    const char *p = js;
    for (size_t r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++) {
            p = strstr(p, "\"k") + 2;
            int col = *p - '0';
            p = strchr(p, ':') + 1;
            char *q;
            float f = strtof(p, &q);
            if (memcmp(&f, &ds->X[r * COLS + (size_t)col], sizeof f) != 0)
                fail_msg("row %zu key k%d: %.9g, expected %.9g", r, col,
                         (double)ds->X[r * COLS + (size_t)col], (double)f);
            p = q;
        }
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
    free(js);
}

/* A key whose name needs escaping in JSON is matched by its decoded value, never by its
 * raw bytes: with a column named a\b (JSON "a\\b"), a line writing "a\b" (a backspace)
 * has an unknown key, while "a\\b" is the column. Repeated so that the expected-key shortcut
 * is tried on every line. */
static void test_jsonl_escaped_key_names(void **state)
{
    (void)state;
    const char *good = "{\"a\\\\b\":1.5,\"c\":2.25}\n", *bad = "{\"a\\b\":3.5,\"c\":4.25}\n";
    size_t gl = strlen(good), bl = strlen(bad), o = 0;
    char *js = malloc(100 * (gl + bl) + 1);
    assert_non_null(js);
    for (int r = 0; r < 100; r++) {
        memcpy(js + o, good, gl);
        o += gl;
        memcpy(js + o, bad, bl);
        o += bl;
    }
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_bad_fraction(s, 1.0, &e), CX_OK);
    cx_dataset *ds = must_parse(s, js, o, o);
    assert_int_equal(ds->d, 2);
    assert_string_equal(ds->feature_names[0], "a\\b");
    assert_int_equal(ds->n, 100);
    assert_int_equal(ds->blobs[0].bad_rows, 100);
    for (size_t i = 0; i < ds->n; i++) {
        assert_true(ds->X[2 * i] == 1.5f);
        assert_true(ds->X[2 * i + 1] == 2.25f);
    }
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
    free(js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl_shortcuts_same_as_plain_parse),
        cmocka_unit_test(test_jsonl_numbers_match_strtof),
        cmocka_unit_test(test_jsonl_shuffled_keys_land_in_their_columns),
        cmocka_unit_test(test_jsonl_escaped_key_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
