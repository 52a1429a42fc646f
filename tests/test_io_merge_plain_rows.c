/* test_io_merge_plain_rows.c — the merge copies rows that already hold the output's features
 * (numeric, in the reference's order, nothing to fill) as they are; the dataset must equal
 * the general merge's (forced here with FILL_MEAN over data without gaps): without a label,
 * with a numeric label, over a file split into pieces on two threads, and beside a blob whose
 * columns come in another order (merged the general way). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_io.h"

enum { ROWS = 40000 }; /* over 1 MiB of CSV: the file load splits it on 2 threads */

/* CSV with columns a,b,y,c (y a numeric label when the schema says so); swapped puts c
 * first. */
static char *make(uint64_t seed, int swapped, size_t *len)
{
    size_t cap = (size_t)ROWS * 64 + 64, o = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    o += (size_t)sprintf(b, swapped ? "c,a,b,y\n" : "a,b,y,c\n");
    uint64_t x = seed;
    for (int r = 0; r < ROWS; r++) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[k] = (int)(x % 20001) - 10000;
        }
        if (swapped)
            o += (size_t)sprintf(b + o, "%d.%02d,%d.5,%d,%d\n", v[3], r % 100, v[0], v[1], v[2]);
        else
            o += (size_t)sprintf(b + o, "%d.5,%d,%d,%d.%02d\n", v[0], v[1], v[2], v[3], r % 100);
    }
    *len = o;
    return b;
}

static char *tmp_file(const char *data, size_t len)
{
    char *path = malloc(64);
    assert_non_null(path);
    snprintf(path, 64, "/tmp/cx_test_merge_%d_XXXXXX.csv", (int)getpid());
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static cx_dataset *load(const char *const *paths, size_t n, int label, cx_missing_policy pol,
                        int threads)
{
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    if (label)
        assert_int_equal(cx_dataset_schema_set_label(s, "y", CX_LABEL_NUMERIC, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_missing(s, pol, 0.0f, &e), CX_OK);
    cx_dataset *ds = NULL;
    if (cx_dataset_load_files(s, paths, n, threads, &ds, &e) != CX_OK)
        fail_msg("load: %s", e.msg);
    cx_dataset_schema_free(s);
    return ds;
}

static void assert_same(const cx_dataset *a, const cx_dataset *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->d, b->d);
    assert_memory_equal(a->X, b->X, a->n * a->d * sizeof(float));
    assert_int_equal(a->y != NULL, b->y != NULL);
    if (a->y)
        assert_memory_equal(a->y, b->y, a->n * sizeof(float));
}

static void test_plain_rows_merge_as_general(void **state)
{
    (void)state;
    size_t l1, l2;
    char *c1 = make(1, 0, &l1), *c2 = make(2, 1, &l2);
    char *f1 = tmp_file(c1, l1), *f2 = tmp_file(c2, l2);
    const char *one[] = {f1}, *two[] = {f1, f2};
    for (int label = 0; label < 2; label++)
        for (int threads = 1; threads <= 2; threads++) {
            cx_dataset *fast = load(one, 1, label, CX_MISSING_REJECT, threads);
            cx_dataset *gen = load(one, 1, label, CX_MISSING_FILL_MEAN, threads);
            assert_int_equal(fast->n, ROWS);
            assert_int_equal(fast->d, label ? 3 : 4);
            assert_same(fast, gen);
            /* the first row as written: a, b, (y), c */
            assert_true(fast->X[0] == strtof(c1 + 8, NULL));
            cx_dataset_free(fast);
            cx_dataset_free(gen);
            /* two blobs, the second's columns in another order */
            fast = load(two, 2, label, CX_MISSING_REJECT, threads);
            gen = load(two, 2, label, CX_MISSING_FILL_MEAN, threads);
            assert_int_equal(fast->n, 2 * ROWS);
            assert_same(fast, gen);
            cx_dataset_free(fast);
            cx_dataset_free(gen);
        }
    unlink(f1);
    unlink(f2);
    free(f1);
    free(f2);
    free(c1);
    free(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_rows_merge_as_general),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
