/* test_io_parse_number_rows.c — CSV rows of plain numbers take a loop of their own (no
 * per-field dispatch); every row must come out as the general loop makes it: the same
 * floats (strtof's, bit for bit), the same bad rows at the same lines, also for rows that
 * leave the number loop midway (quotes, CRLF, missing, text, exponents, long digit runs,
 * subnormals, wrong field counts) and at the data's end. */
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

enum { COLS = 6, ROWS = 3000 };

/* the parse of data fed in pieces of chunk bytes; any error fails the test */
static cx_dataset *must_parse(const cx_dataset_schema *s, const char *data, size_t len,
                              size_t chunk)
{
    cx_error e;
    cx_dataset *ds = parse_chunked(s, CX_DATA_CSV, data, len, chunk, &e);
    if (!ds)
        fail_msg("parse: %s", e.msg);
    return ds;
}

static void assert_same(const cx_dataset *a, const cx_dataset *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->d, b->d);
    assert_memory_equal(a->X, b->X, a->n * a->d * sizeof(float));
    assert_int_equal(a->blobs[0].rows, b->blobs[0].rows);
    assert_int_equal(a->blobs[0].bad_rows, b->blobs[0].bad_rows);
    assert_int_equal(a->blobs[0].n_listed, b->blobs[0].n_listed);
    for (size_t k = 0; k < a->blobs[0].n_listed; k++) {
        assert_int_equal(a->blobs[0].listed[k].line, b->blobs[0].listed[k].line);
        assert_int_equal(a->blobs[0].listed[k].reason, b->blobs[0].listed[k].reason);
    }
}

/* One field: mostly plain numbers of every length the number loop takes, sometimes a form
 * it leaves to the general loop. */
static int field(char *o, uint64_t *x, int plain_only)
{
    uint64_t r = xorshift_next(x);
    int kind = plain_only ? 0 : (int)(r % 40);
    unsigned ip = (unsigned)((r >> 8) % 100000000u), fp = (unsigned)((r >> 40) % 100000000u);
    const char *sign = (r >> 20) & 1 ? "-" : "";
    switch (kind) {
    case 1:
        return sprintf(o, "%s%u.%08u5", sign, ip, fp); /* 9 fraction digits */
    case 2:
        return sprintf(o, "%s1%08u", sign, ip); /* 9 integer digits */
    case 3:
        return sprintf(o, "%s%u.%ue-3", sign, ip % 1000, fp % 1000); /* exponent */
    case 4:
        return sprintf(o, "\"%u.%u\"", ip % 100, fp % 100); /* quoted number */
    case 5:
        return sprintf(o, "NA"); /* missing */
    case 6:
        return sprintf(o, "%s", ""); /* empty: missing */
    case 7:
        return sprintf(o, "abc"); /* text in a numeric column: bad row */
    case 8:
        return sprintf(o, "0.%s1", "000000000000000000000000000000000000000000000"); /* subnormal */
    case 9:
        return sprintf(o, "%s.%u", sign, fp % 1000); /* no integer digits */
    case 10:
        return sprintf(o, " %u.5", ip % 10); /* leading space */
    default:
        switch ((r >> 50) % 4) {
        case 0:
            return sprintf(o, "%s%u", sign, ip % 1000);
        case 1:
            return sprintf(o, "%s%u.%u", sign, ip % 10, fp % 10);
        case 2:
            return sprintf(o, "%s%u.%04u", sign, ip % 100000, fp % 10000);
        default:
            return sprintf(o, "%s%u.%08u", sign, ip, fp);
        }
    }
}

/* ROWS rows of COLS columns, a row now and then with a CRLF, a blank line, or one field too
 * few or too many; the last row without its newline when `open_end`. */
static char *make(uint64_t seed, int plain_only, int open_end, size_t *len)
{
    size_t cap = (size_t)ROWS * COLS * 96 + 256, o = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    for (int c = 0; c < COLS; c++)
        o += (size_t)sprintf(b + o, c ? ",c%d" : "c%d", c);
    b[o++] = '\n';
    uint64_t x = seed;
    for (int r = 0; r < ROWS; r++) {
        uint64_t k = plain_only ? 99 : xorshift_next(&x) % 100;
        int cols = k == 0 ? COLS - 1 : k == 1 ? COLS + 1 : COLS;
        for (int c = 0; c < cols; c++) {
            if (c)
                b[o++] = ',';
            o += (size_t)field(b + o, &x, plain_only);
        }
        if (k == 2)
            b[o++] = '\r';
        if (r + 1 < ROWS || !open_end)
            b[o++] = '\n';
        if (k == 3)
            b[o++] = '\n';
    }
    *len = o;
    return b;
}

static cx_dataset_schema *schema(cx_missing_policy missing)
{
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_missing(s, missing, -7.0f, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_bad_fraction(s, 1.0, &e), CX_OK);
    return s;
}

/* Whole (the number loop wherever 32 bytes follow) against small pieces (the general loop
 * nearly everywhere): the same dataset, for each missing-value policy and either ending. */
static void test_number_rows_same_as_general(void **state)
{
    (void)state;
    const cx_missing_policy pol[] = {CX_MISSING_REJECT, CX_MISSING_FILL_VALUE};
    for (int pi = 0; pi < 2; pi++)
        for (int open_end = 0; open_end < 2; open_end++) {
            size_t len;
            char *csv = make(0x9E3779B97F4A7C15ull + (uint64_t)open_end, 0, open_end, &len);
            cx_dataset_schema *s = schema(pol[pi]);
            cx_dataset *whole = must_parse(s, csv, len, len);
            assert_true(whole->blobs[0].bad_rows > 0); /* the odd rows were reached */
            const size_t pieces[] = {1, 7, 31};
            for (size_t i = 0; i < 3; i++) {
                cx_dataset *bit = must_parse(s, csv, len, pieces[i]);
                assert_same(whole, bit);
                cx_dataset_free(bit);
            }
            cx_dataset_free(whole);
            cx_dataset_schema_free(s);
            free(csv);
        }
}

/* Plain rows: every value is strtof's of its text, bit for bit. */
static void test_number_rows_match_strtof(void **state)
{
    (void)state;
    size_t len;
    char *csv = make(42, 1, 0, &len);
    cx_dataset_schema *s = schema(CX_MISSING_REJECT);
    cx_dataset *ds = must_parse(s, csv, len, len);
    assert_int_equal(ds->n, ROWS);
    assert_int_equal(ds->d, COLS);
    const char *p = strchr(csv, '\n') + 1;
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) {
        char *q;
        float f = strtof(p, &q);
        assert_true(*q == ',' || *q == '\n');
        if (memcmp(&f, &ds->X[i], sizeof f) != 0)
            fail_msg("value %zu: %.*s parsed as %.9g, strtof %.9g", i, (int)(q - p), p,
                     (double)ds->X[i], (double)f);
        p = q + 1;
    }
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
    free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_rows_same_as_general),
        cmocka_unit_test(test_number_rows_match_strtof),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
