/* test_io_parse.c — the data parsers: CSV (RFC 4180 quoting, CRLF, gaps), JSONL and f32
 * fed in every chunk size give the identical dataset; bad rows, policies, merge, stats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>
#include <omp.h>

#include "cx_io.h"
#include "io_parse_testutil.h"
#include "parse_internal.h" /* white-box: the float parser */

/* ------------------------------------------------------------ helpers -- */

static void assert_same(const cx_dataset *a, const cx_dataset *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->d, b->d);
    assert_memory_equal(a->X, b->X, a->n * a->d * sizeof(float));
    assert_int_equal(a->y != NULL, b->y != NULL);
    if (a->y)
        assert_memory_equal(a->y, b->y, a->n * sizeof(float));
    for (size_t j = 0; j < a->d; j++)
        assert_string_equal(a->feature_names[j], b->feature_names[j]);
    assert_int_equal(a->n_classes, b->n_classes);
    for (size_t k = 0; k < a->n_classes; k++)
        assert_string_equal(a->class_names[k], b->class_names[k]);
    for (size_t i = 0; i < a->n_blobs; i++) {
        assert_int_equal(a->blobs[i].rows, b->blobs[i].rows);
        assert_int_equal(a->blobs[i].bad_rows, b->blobs[i].bad_rows);
        assert_int_equal(a->blobs[i].n_listed, b->blobs[i].n_listed);
        for (size_t k = 0; k < a->blobs[i].n_listed; k++) {
            assert_int_equal(a->blobs[i].listed[k].line, b->blobs[i].listed[k].line);
            assert_int_equal(a->blobs[i].listed[k].reason, b->blobs[i].listed[k].reason);
        }
    }
}

static char *write_tmp(const char *suffix, const void *data, size_t len)
{
    char *path = malloc(256);
    assert_non_null(path);
    snprintf(path, 256, "/tmp/cx_test_parse_%d_XXXXXX%s", (int)getpid(), suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* -------------------------------------------------------------- tests -- */

static const char tricky_csv[] = "id,\"city\",score,\"note, with comma\",label\r\n"
                                 "1,Paris,1.5,\"he said \"\"hi\"\"\",yes\r\n"
                                 "2,\"New\nYork\",-2.25e1,\"multi\r\nline\",no\r\n"
                                 "\r\n"
                                 "3,Paris,,plain,yes\n"
                                 "4,\"Lon\"\"don\",.5,\"\",no\n"
                                 "5,Rome,7,x,maybe";

static cx_dataset_schema *tricky_schema(void)
{
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_add_feature(s, "score", &e), CX_OK);
    assert_int_equal(cx_dataset_schema_add_feature(s, "city", &e), CX_OK);
    assert_int_equal(cx_dataset_schema_add_categorical(s, "city", NULL, 0, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_label(s, "label", CX_LABEL_CLASS, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_missing(s, CX_MISSING_FILL_VALUE, -1.0f, &e), CX_OK);
    return s;
}

static void test_csv_tricky(void **state)
{
    (void)state;
    cx_dataset_schema *s = tricky_schema();
    cx_error e;
    cx_dataset *ds = parse_chunked(s, CX_DATA_CSV, tricky_csv, sizeof tricky_csv - 1, 1 << 20, &e);
    if (!ds)
        fail_msg("%s", e.msg);
    assert_int_equal(ds->n, 5);
    /* score + city one-hot over sorted {Lon"don, New\nYork, Paris, Rome} */
    assert_int_equal(ds->d, 5);
    assert_string_equal(ds->feature_names[0], "score");
    assert_string_equal(ds->feature_names[1], "city=Lon\"don");
    assert_string_equal(ds->feature_names[2], "city=New\nYork");
    assert_string_equal(ds->feature_names[3], "city=Paris");
    assert_string_equal(ds->feature_names[4], "city=Rome");
    const float want[5][5] = {{1.5f, 0, 0, 1, 0},
                              {-22.5f, 0, 1, 0, 0},
                              {-1.0f, 0, 0, 1, 0},
                              {0.5f, 1, 0, 0, 0},
                              {7.0f, 0, 0, 0, 1}};
    assert_memory_equal(ds->X, want, sizeof want);
    assert_int_equal(ds->n_classes, 3);
    assert_string_equal(ds->class_names[0], "maybe");
    assert_string_equal(ds->class_names[1], "no");
    assert_string_equal(ds->class_names[2], "yes");
    const float wy[5] = {2, 1, 2, 1, 0};
    assert_memory_equal(ds->y, wy, sizeof wy);
    assert_int_equal(((uintptr_t)ds->X) % 64, 0);
    assert_string_equal(ds->label_name, "label");
    /* every chunk size gives the identical dataset */
    static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 11, 13, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        cx_dataset *c =
            parse_chunked(s, CX_DATA_CSV, tricky_csv, sizeof tricky_csv - 1, sizes[i], &e);
        if (!c)
            fail_msg("chunk %zu: %s", sizes[i], e.msg);
        assert_same(ds, c);
        cx_dataset_free(c);
    }
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
}

static void test_csv_bad_rows(void **state)
{
    (void)state;
    const char csv[] = "a,b,y\n"
                       "1,2,0\n"
                       "1,\"x\ny\",1\n" /* lines 3-4: a string in a numeric column */
                       "1,2\n"          /* line 5: too few fields */
                       "1,,0\n"         /* line 6: missing under reject */
                       "3,4,1\n"
                       "5,6,7,8\n" /* line 8: too many */
                       "1,2,\n"    /* line 9: missing label */
                       "9,9,1\n";
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_label(s, "y", CX_LABEL_NUMERIC, &e), CX_OK);
    /* default tolerance 0: the blob fails, naming the first bad line, never contents */
    assert_null(parse_chunked(s, CX_DATA_CSV, csv, sizeof csv - 1, 1 << 20, &e));
    assert_int_equal(e.code, CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "5 of 8 rows bad"));
    assert_non_null(strstr(e.msg, "line 3: number"));
    assert_null(strstr(e.msg, "x\ny"));
    assert_int_equal(cx_dataset_schema_set_bad_fraction(s, 0.7, &e), CX_OK);
    for (size_t chunk = 1; chunk <= 64; chunk = chunk * 2 + 1) {
        cx_dataset *ds = parse_chunked(s, CX_DATA_CSV, csv, sizeof csv - 1, chunk, &e);
        if (!ds)
            fail_msg("%s", e.msg);
        assert_int_equal(ds->n, 3);
        assert_int_equal(ds->blobs[0].rows, 3);
        assert_int_equal(ds->blobs[0].bad_rows, 5);
        assert_int_equal(ds->blobs[0].n_listed, 5);
        const uint64_t lines[5] = {3, 5, 6, 8, 9};
        const cx_bad_reason why[5] = {CX_BAD_NUMBER, CX_BAD_FIELD_COUNT, CX_BAD_MISSING,
                                      CX_BAD_FIELD_COUNT, CX_BAD_LABEL};
        for (int k = 0; k < 5; k++) {
            assert_int_equal(ds->blobs[0].listed[k].line, lines[k]);
            assert_int_equal(ds->blobs[0].listed[k].reason, why[k]);
        }
        const float y[3] = {0, 1, 1};
        assert_memory_equal(ds->y, y, sizeof y);
        cx_dataset_free(ds);
    }
    cx_dataset_schema_free(s);
}

static void test_missing_mean_and_header_errors(void **state)
{
    (void)state;
    const char csv[] = "a,b\n1,10\n,20\n3,NA\n";
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_missing(s, CX_MISSING_FILL_MEAN, 0, &e), CX_OK);
    cx_dataset *ds = parse_chunked(s, CX_DATA_CSV, csv, sizeof csv - 1, 3, &e);
    assert_non_null(ds);
    const float want[6] = {1, 10, 2, 20, 3, 15};
    assert_memory_equal(ds->X, want, sizeof want);
    assert_null(ds->y);
    cx_dataset_free(ds);
    /* a named column that is absent fails the blob with its name */
    assert_int_equal(cx_dataset_schema_add_feature(s, "zz", &e), CX_OK);
    assert_null(parse_chunked(s, CX_DATA_CSV, csv, sizeof csv - 1, 5, &e));
    assert_non_null(strstr(e.msg, "'zz'"));
    cx_dataset_schema_free(s);
}

static const char jsonl[] = "{\"x\": 1.5, \"c\": \"red\", \"ok\": true, \"y\": \"b\"}\n"
                            "{\"y\":\"a\",\"c\":\"bl\\u00fce\\n\",\"x\":-2e-3,\"ok\":false}\r\n"
                            "\n"
                            "{\"x\": null, \"c\": \"red\", \"ok\": true, \"y\": \"a\"}\n"
                            "{\"x\": 3, \"c\": \"red\", \"y\": \"b\"}\n"
                            "{\"x\": [1], \"c\": \"red\", \"ok\": true, \"y\": \"b\"}\n"
                            "{\"x\": 4, \"c\": \"red\", \"ok\": true, \"y\": \"b\", \"zz\": 1}\n"
                            "{\"x\": 5, \"c\": \"red\", \"ok\": true, \"y\": \"a\"}";

static void test_jsonl(void **state)
{
    (void)state;
    const char *spec = "{\"label\": \"y\", \"categorical\": {\"c\": null}, \"missing\": \"value\","
                       " \"fill_value\": 9, \"max_bad_fraction\": 0.5}";
    json_t *j;
    cx_error e;
    assert_int_equal(cx_json_parse(spec, strlen(spec), &j, &e), CX_OK);
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_from_json(j, &s, &e), CX_OK);
    json_decref(j);
    cx_dataset *ds = parse_chunked(s, CX_DATA_JSONL, jsonl, sizeof jsonl - 1, 1 << 20, &e);
    if (!ds)
        fail_msg("%s", e.msg);
    /* columns from the first object: x, c (one-hot), ok */
    assert_int_equal(ds->d, 4);
    assert_string_equal(ds->feature_names[0], "x");
    assert_string_equal(ds->feature_names[1], "c=bl\xc3\xbc"
                                              "e\n");
    assert_string_equal(ds->feature_names[2], "c=red");
    assert_string_equal(ds->feature_names[3], "ok");
    assert_int_equal(ds->n, 5);
    const float want[5][4] = {
        {1.5f, 0, 1, 1}, {-2e-3f, 1, 0, 0}, {9, 0, 1, 1}, {3, 0, 1, 9}, {5, 0, 1, 1}};
    assert_memory_equal(ds->X, want, sizeof want);
    const float y[5] = {1, 0, 0, 1, 0};
    assert_memory_equal(ds->y, y, sizeof y);
    assert_int_equal(ds->blobs[0].bad_rows, 2);
    assert_int_equal(ds->blobs[0].listed[0].line, 6);
    assert_int_equal(ds->blobs[0].listed[0].reason, CX_BAD_JSON);
    assert_int_equal(ds->blobs[0].listed[1].line, 7);
    assert_int_equal(ds->blobs[0].listed[1].reason, CX_BAD_KEY);
    for (size_t chunk = 1; chunk < 80; chunk += 3) {
        cx_dataset *c = parse_chunked(s, CX_DATA_JSONL, jsonl, sizeof jsonl - 1, chunk, &e);
        if (!c)
            fail_msg("chunk %zu: %s", chunk, e.msg);
        assert_same(ds, c);
        cx_dataset_free(c);
    }
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
}

static void test_schema_json_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"label\": \"y\", \"lable\": 1}", "{\"missing\": \"drop\"}",
        "{\"max_bad_fraction\": 2}",        "{\"features\": [\"a\", 3]}",
        "{\"categorical\": {\"c\": 5}}",    "{\"delimiter\": \"ab\"}",
    };
    static const char *const name[] = {"lable",    "missing", "max_bad_fraction",
                                       "features", "\"c\"",   "delimiter"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j;
        cx_error e;
        assert_int_equal(cx_json_parse(bad[i], strlen(bad[i]), &j, &e), CX_OK);
        cx_dataset_schema *s = NULL;
        assert_int_equal(cx_dataset_schema_from_json(j, &s, &e), CX_ERR_FORMAT);
        assert_non_null(strstr(e.msg, name[i]));
        assert_null(s);
        json_decref(j);
    }
}

static void test_f32_roundtrip(void **state)
{
    (void)state;
    const float X[4][3] = {{1, 2, 0}, {3, -4.5f, 1}, {5, 6, 0}, {7, 8, 1}};
    const char *names[3] = {"u", "v", "target"};
    char *path = write_tmp(".f32", "", 0);
    cx_error e;
    assert_int_equal(cx_f32_write(path, &X[0][0], 4, 3, names, 2, &e), CX_OK);
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_label(s, "target", CX_LABEL_CLASS, &e), CX_OK);
    const char *paths[1] = {path};
    cx_dataset *ds = NULL;
    assert_int_equal(cx_dataset_load_files(s, paths, 1, 2, &ds, &e), CX_OK);
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->d, 2);
    const float want[8] = {1, 2, 3, -4.5f, 5, 6, 7, 8};
    assert_memory_equal(ds->X, want, sizeof want);
    assert_string_equal(ds->class_names[0], "0");
    assert_string_equal(ds->class_names[1], "1");
    /* fed in every chunk size from the file bytes */
    uint8_t *bytes;
    size_t len;
    assert_int_equal(cx_file_read_all(path, 1 << 20, &bytes, &len, &e), CX_OK);
    for (size_t chunk = 1; chunk <= len; chunk++) {
        cx_dataset *c = parse_chunked(s, CX_DATA_F32, (const char *)bytes, len, chunk, &e);
        if (!c)
            fail_msg("chunk %zu: %s", chunk, e.msg);
        assert_same(ds, c);
        cx_dataset_free(c);
    }
    /* truncated inside a row, and a wrong row count */
    assert_null(parse_chunked(s, CX_DATA_F32, (const char *)bytes, len - 2, 7, &e));
    assert_non_null(strstr(e.msg, "inside a row"));
    assert_null(parse_chunked(s, CX_DATA_F32, (const char *)bytes, len - 12, 7, &e));
    assert_non_null(strstr(e.msg, "rows announced"));
    bytes[0] ^= 1;
    assert_null(parse_chunked(s, CX_DATA_F32, (const char *)bytes, len, 64, &e));
    assert_non_null(strstr(e.msg, "magic"));
    free(bytes);
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
    unlink(path);
    free(path);
}

/* A few MB with quoted newlines, so that guessed split points land inside quotes. */
static char *big_csv(size_t rows, size_t *len)
{
    size_t cap = rows * 80 + 64, o = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    o += (size_t)snprintf(b + o, cap - o, "f1,f2,tag,y\n");
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < rows; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int k = (int)(x % 5);
        const char *tag = k == 0   ? "\"a\nb\""
                          : k == 1 ? "\"c,d\""
                          : k == 2 ? "e"
                          : k == 3 ? "\"\"\"q\"\"\""
                                   : "\"\n\n\"";
        if (i % 7 == 3) /* a gap, filled with the column mean */
            o += (size_t)snprintf(b + o, cap - o, ",%d,%s,%d\n", (int)(x % 1000) - 500, tag,
                                  (int)(x >> 60) % 3);
        else
            o += (size_t)snprintf(b + o, cap - o, "%.6f,%d,%s,%d\n", (double)(x % 100000) / 997.0,
                                  (int)(x % 1000) - 500, tag, (int)(x >> 60) % 3);
        if (i % 10007 == 5)
            o += (size_t)snprintf(b + o, cap - o, "1,oops,e,1\n");
    }
    *len = o;
    return b;
}

static void test_parallel_load_matches_feed(void **state)
{
    (void)state;
    size_t len;
    char *csv = big_csv(60000, &len);
    char *path = write_tmp(".csv", csv, len);
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_add_categorical(s, "tag", NULL, 0, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_label(s, "y", CX_LABEL_CLASS, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_bad_fraction(s, 0.01, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_missing(s, CX_MISSING_FILL_MEAN, 0, &e), CX_OK);
    cx_dataset *fed = parse_chunked(s, CX_DATA_CSV, csv, len, 65536 + 13, &e);
    if (!fed)
        fail_msg("%s", e.msg);
    assert_int_equal(fed->n, 60000);
    assert_int_equal(fed->blobs[0].bad_rows, 6);
    assert_int_equal(fed->d, 2 + 5);
    const char *paths[1] = {path};
    for (int t = 1; t <= 7; t += 2) {
        cx_dataset *ds = NULL;
        if (cx_dataset_load_files(s, paths, 1, t, &ds, &e) != CX_OK)
            fail_msg("threads %d: %s", t, e.msg);
        assert_same(fed, ds);
        cx_dataset_free(ds);
    }
    /* two files on two threads: one file per thread, merged in file order */
    const char *two[2] = {path, path};
    cx_dataset *ds2 = NULL;
    if (cx_dataset_load_files(s, two, 2, 2, &ds2, &e) != CX_OK)
        fail_msg("two files: %s", e.msg);
    assert_int_equal(ds2->n, 2 * fed->n);
    assert_int_equal(ds2->n_blobs, 2);
    assert_memory_equal(ds2->X, fed->X, fed->n * fed->d * sizeof(float));
    assert_memory_equal(ds2->X + fed->n * fed->d, fed->X, fed->n * fed->d * sizeof(float));
    assert_int_equal(ds2->blobs[1].bad_rows, 6);
    cx_dataset_free(ds2);
    cx_dataset_free(fed);
    cx_dataset_schema_free(s);
    unlink(path);
    free(path);
    free(csv);
}

static void test_multi_blob_merge(void **state)
{
    (void)state;
    const char a[] = "x,c,y\n1,p,0\n2,q,1\n";
    const char b[] = "y,c,x\n1,r,3\n0,p,4\n";
    const char bad[] = "x,z,y\n1,2,3\n";
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_add_categorical(s, "c", NULL, 0, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_label(s, "y", CX_LABEL_NUMERIC, &e), CX_OK);
    cx_parser *p;
    assert_int_equal(cx_parser_new(s, CX_DATA_CSV, 3, &p, &e), CX_OK);
    /* interleaved feeding of different blobs */
    assert_int_equal(cx_parser_feed(p, 1, b, 9, 0, &e), CX_OK);
    assert_int_equal(cx_parser_feed(p, 0, a, 7, 0, &e), CX_OK);
    assert_int_equal(cx_parser_feed(p, 2, bad, sizeof bad - 1, 1, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "blob 2"));
    assert_int_equal(cx_parser_feed(p, 1, b + 9, sizeof b - 10, 1, &e), CX_OK);
    assert_int_equal(cx_parser_feed(p, 0, a + 7, sizeof a - 8, 1, &e), CX_OK);
    assert_int_equal(cx_parser_feed(p, 0, a, 1, 1, &e), CX_ERR_STATE);
    cx_dataset *ds;
    assert_int_equal(cx_parser_finalize(p, &ds, &e), CX_OK);
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->d, 4);
    assert_string_equal(ds->feature_names[1], "c=p");
    assert_string_equal(ds->feature_names[3], "c=r");
    const float X[16] = {1, 1, 0, 0, 2, 0, 1, 0, 3, 0, 0, 1, 4, 1, 0, 0};
    assert_memory_equal(ds->X, X, sizeof X);
    const float y[4] = {0, 1, 1, 0};
    assert_memory_equal(ds->y, y, sizeof y);
    assert_true(ds->blobs[2].failed);
    assert_int_equal(ds->blobs[1].rows, 2);
    cx_dataset_free(ds);
    cx_parser_free(p);
    /* a given vocabulary: unknown values are bad rows, order is the job's */
    cx_dataset_schema_free(s);
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    const char *voc[2] = {"q", "p"};
    assert_int_equal(cx_dataset_schema_add_categorical(s, "c", voc, 2, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_label(s, "y", CX_LABEL_NUMERIC, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_bad_fraction(s, 0.5, &e), CX_OK);
    ds = parse_chunked(s, CX_DATA_CSV, b, sizeof b - 1, 4, &e);
    assert_non_null(ds);
    assert_int_equal(ds->n, 1);
    assert_string_equal(ds->feature_names[0], "c=q"); /* this blob's column order */
    assert_string_equal(ds->feature_names[1], "c=p");
    assert_int_equal(ds->blobs[0].listed[0].reason, CX_BAD_CATEGORY);
    cx_dataset_free(ds);
    cx_dataset_schema_free(s);
}

/* The blobs are merged in the reference columns (today: the first blob that parsed);
 * a blob whose columns differ is left out alone, naming the reference, and the others'
 * columns are matched by name whatever their order. */
static void test_merge_reference_and_mismatched_blob(void **state)
{
    (void)state;
    const char *blobs[4] = {"\n", "a,b,y\n1,2,0\n", "a,c,y\n5,6,1\n", "y,b,a\n1,4,3\n"};
    cx_dataset_schema *s;
    cx_error e;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_set_label(s, "y", CX_LABEL_NUMERIC, &e), CX_OK);
    cx_parser *p;
    assert_int_equal(cx_parser_new(s, CX_DATA_CSV, 4, &p, &e), CX_OK);
    assert_int_equal(cx_parser_feed(p, 0, blobs[0], strlen(blobs[0]), 1, &e), CX_ERR_FORMAT);
    assert_string_equal(e.msg, "blob 0: no CSV header");
    for (size_t i = 1; i < 4; i++)
        assert_int_equal(cx_parser_feed(p, i, blobs[i], strlen(blobs[i]), 1, &e), CX_OK);
    cx_dataset *ds;
    assert_int_equal(cx_parser_finalize(p, &ds, &e), CX_OK);
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->d, 2);
    assert_string_equal(ds->feature_names[0], "a");
    assert_string_equal(ds->feature_names[1], "b");
    const float X[4] = {1, 2, 3, 4};
    assert_memory_equal(ds->X, X, sizeof X);
    const float y[2] = {0, 1};
    assert_memory_equal(ds->y, y, sizeof y);
    assert_true(ds->blobs[0].failed);
    assert_false(ds->blobs[1].failed);
    assert_true(ds->blobs[2].failed);
    assert_string_equal(ds->blobs[2].error, "blob 2: columns differ from blob 1");
    assert_int_equal(ds->blobs[2].rows, 0);
    assert_false(ds->blobs[3].failed);
    assert_int_equal(ds->blobs[3].rows, 1);
    cx_dataset_free(ds);
    cx_parser_free(p);
    /* no blob parsed: the first blob's error is quoted */
    assert_int_equal(cx_parser_new(s, CX_DATA_CSV, 1, &p, &e), CX_OK);
    assert_int_equal(cx_parser_feed(p, 0, "", 0, 1, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_parser_finalize(p, &ds, &e), CX_ERR_FORMAT);
    assert_string_equal(e.msg, "no blob could be parsed (blob 0: blob 0: no CSV header)");
    cx_parser_free(p);
    cx_dataset_schema_free(s);
}

/* Issue 13.1: a blob that comes first in blob order decides nothing. With the columns
 * declared, the reference is the schema: a first blob with another column, or one missing
 * a column, fails alone (the message names the column, not data), the others are merged in
 * the declared order whatever their own; classes and vocabularies are the declared ones in
 * declared order (a value outside them is a bad row). */
static void test_declared_columns_decide(void **state)
{
    (void)state;
    const char *sj = "{\"format\": \"csv\", \"label\": \"y\", \"max_bad_fraction\": 0.5,"
                     " \"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"mean\": 2.5,"
                     " \"std\": 4}, {\"name\": \"c\", \"type\": \"categorical\", \"values\":"
                     " [\"x\", \"w\"]},"
                     " {\"name\": \"y\", \"type\": \"class\", \"values\": [\"yes\", \"no\"]}]}";
    json_t *j = NULL;
    cx_error e;
    assert_int_equal(cx_json_parse(sj, strlen(sj), &j, &e), CX_OK);
    cx_dataset_schema *s = NULL;
    assert_int_equal(cx_dataset_schema_from_json(j, &s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_require_declared(s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_require_stats(s, 0, &e), CX_OK);
    cx_data_format f = CX_DATA_JSONL;
    assert_int_equal(cx_dataset_schema_format(s, &f), 1);
    assert_int_equal(f, CX_DATA_CSV);
    const char *blobs[4] = {
        "a,b,c,y\n1,secret,x,yes\n",    /* an extra column: would have been the reference */
        "y,c,a\nno,w,2\nmaybe,x,9\n",   /* other order; "maybe" is not a class: a bad row */
        "a,c,y\n3,x,yes\n",
        "a,y\n4,no\n",                  /* a missing column */
    };
    cx_parser *p;
    assert_int_equal(cx_parser_new(s, CX_DATA_CSV, 4, &p, &e), CX_OK);
    assert_int_equal(cx_parser_feed(p, 0, blobs[0], strlen(blobs[0]), 1, &e), CX_ERR_FORMAT);
    assert_string_equal(e.msg, "blob 0: column 'b' is not in the job's schema");
    assert_int_equal(cx_parser_feed(p, 1, blobs[1], strlen(blobs[1]), 1, &e), CX_OK);
    assert_int_equal(cx_parser_feed(p, 2, blobs[2], strlen(blobs[2]), 1, &e), CX_OK);
    assert_int_equal(cx_parser_feed(p, 3, blobs[3], strlen(blobs[3]), 1, &e), CX_ERR_FORMAT);
    assert_string_equal(e.msg, "blob 3: column 'c' of the job's schema is missing");
    cx_dataset *ds;
    assert_int_equal(cx_parser_finalize(p, &ds, &e), CX_OK);
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->d, 3);
    assert_string_equal(ds->feature_names[0], "a");
    assert_string_equal(ds->feature_names[1], "c=x");
    assert_string_equal(ds->feature_names[2], "c=w");
    assert_int_equal(ds->n_classes, 2);
    assert_string_equal(ds->class_names[0], "yes");
    assert_string_equal(ds->class_names[1], "no");
    const float X[6] = {2, 0, 1, 3, 1, 0};
    assert_memory_equal(ds->X, X, sizeof X);
    const float y[2] = {1, 0};
    assert_memory_equal(ds->y, y, sizeof y);
    /* issue 13.2: the declared standardisation, one-hot columns left as they are */
    const float gm[3] = {2.5f, 0, 0}, gs[3] = {4, 1, 1};
    assert_non_null(ds->given_mean);
    assert_memory_equal(ds->given_mean, gm, sizeof gm);
    assert_memory_equal(ds->given_std, gs, sizeof gs);
    assert_true(ds->blobs[0].failed);
    assert_false(ds->blobs[1].failed);
    assert_int_equal(ds->blobs[1].bad_rows, 1);
    assert_int_equal(ds->blobs[1].listed[0].reason, CX_BAD_LABEL);
    assert_true(ds->blobs[3].failed);
    for (size_t i = 0; i < 4; i++)
        assert_null(strstr(ds->blobs[i].error, "secret"));
    cx_dataset_free(ds);
    cx_parser_free(p);
    cx_dataset_schema_free(s);
    json_decref(j);
    /* what a declaration must hold: each refused with a message naming the key */
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"format\": \"xml\"}", "data: \"format\": unknown data format 'xml' (csv, jsonl, f32)"},
        {"{\"label\": \"y\", \"columns\": [{\"name\": \"a\", \"type\": \"numeric\"}]}",
         "data: label 'y' is not a declared column"},
        {"{\"columns\": [{\"name\": \"a\", \"type\": \"class\"}]}",
         "data: column 'a': type \"class\" is for the label column only"},
        {"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\"}, {\"name\": \"a\", \"type\": "
         "\"numeric\"}]}",
         "data: column 'a' declared twice"},
        {"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\"}], \"categorical\": {\"a\": null}}",
         "data: with \"columns\", categorical columns are declared there (type \"categorical\", "
         "\"values\"), not in \"categorical\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(cx_json_parse(bad[i].json, strlen(bad[i].json), &j, &e), CX_OK);
        assert_int_equal(cx_dataset_schema_from_json(j, &s, &e), CX_ERR_FORMAT);
        assert_string_equal(e.msg, bad[i].msg);
        json_decref(j);
    }
    /* a job needs it all declared */
    static const struct {
        const char *json, *msg;
    } partial[] = {
        {"{\"label\": \"y\"}", "data: \"format\" is required"},
        {"{\"format\": \"csv\", \"label\": \"y\"}", "data: \"columns\" is required"},
        {"{\"format\": \"csv\", \"label\": \"y\", \"columns\": [{\"name\": \"c\", \"type\": "
         "\"categorical\"}, {\"name\": \"y\", \"type\": \"numeric\"}]}",
         "data: categorical column 'c' needs its \"values\""},
        {"{\"format\": \"csv\", \"label\": \"y\", \"columns\": [{\"name\": \"a\", \"type\": "
         "\"numeric\"}, {\"name\": \"y\", \"type\": \"class\"}]}",
         "data: label column 'y' needs its class \"values\""},
    };
    /* under DP a numeric column without its declared standardisation is refused */
    const char *nostats = "{\"label\": \"y\", \"label_type\": \"numeric\", \"columns\": "
                          "[{\"name\": \"a\", \"type\": \"numeric\", \"mean\": 0, \"std\": 1},"
                          " {\"name\": \"y\", \"type\": \"numeric\"}]}";
    assert_int_equal(cx_json_parse(nostats, strlen(nostats), &j, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_from_json(j, &s, &e), CX_OK);
    assert_int_equal(cx_dataset_schema_require_stats(s, 0, &e), CX_ERR_FORMAT);
    assert_string_equal(e.msg, "data: column 'y' needs \"mean\" and \"std\" under DP (the "
                               "standardisation may not come from the data; or \"min\" and "
                               "\"max\" with \"privacy.standardize\": \"dp\")");
    cx_dataset_schema_free(s);
    json_decref(j);
    for (size_t i = 0; i < sizeof partial / sizeof *partial; i++) {
        assert_int_equal(cx_json_parse(partial[i].json, strlen(partial[i].json), &j, &e), CX_OK);
        assert_int_equal(cx_dataset_schema_from_json(j, &s, &e), CX_OK);
        assert_int_equal(cx_dataset_schema_require_declared(s, &e), CX_ERR_FORMAT);
        assert_string_equal(e.msg, partial[i].msg);
        cx_dataset_schema_free(s);
        json_decref(j);
    }
}

/* A column's declared range ("min", "max"): parsed on numeric columns only, as a pair, min below
 * max; under "privacy.standardize": "dp" it stands in for a declared standardisation, except
 * for a "mean" fill, which still needs the declared mean. */
static void test_declared_ranges(void **state)
{
    (void)state;
    cx_error e;
    json_t *j = NULL;
    cx_dataset_schema *s = NULL;
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"min\": 0}]}",
         "data: column 'a': \"min\" and \"max\" go together, on a numeric column"},
        {"{\"columns\": [{\"name\": \"a\", \"type\": \"categorical\", \"values\": [\"x\"], "
         "\"min\": 0, \"max\": 1}]}",
         "data: column 'a': \"min\" and \"max\" go together, on a numeric column"},
        {"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"min\": 2, \"max\": 2}]}",
         "data: column 'a': \"min\" must be below \"max\""},
        {"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"mean\": 2}]}",
         "data: column 'a': \"mean\" and \"std\" go together, on a numeric column"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(cx_json_parse(bad[i].json, strlen(bad[i].json), &j, &e), CX_OK);
        assert_int_equal(cx_dataset_schema_from_json(j, &s, &e), CX_ERR_FORMAT);
        assert_string_equal(e.msg, bad[i].msg);
        json_decref(j);
    }
    static const struct {
        const char *json, *msg; /* msg NULL: accepted with dp_bounds */
    } dp[] = {
        {"{\"label\": \"y\", \"label_type\": \"numeric\", \"columns\": [{\"name\": \"a\", "
         "\"type\": \"numeric\", \"min\": 0, \"max\": 9}, {\"name\": \"y\", \"type\": "
         "\"numeric\", \"mean\": 1, \"std\": 2}]}",
         NULL},
        {"{\"label\": \"y\", \"label_type\": \"numeric\", \"columns\": [{\"name\": \"a\", "
         "\"type\": \"numeric\", \"min\": 0, \"max\": 9}, {\"name\": \"y\", \"type\": "
         "\"numeric\"}]}",
         "data: column 'y' needs \"min\" and \"max\" (or \"mean\" and \"std\") under "
         "\"privacy.standardize\": \"dp\""},
        {"{\"label\": \"y\", \"label_type\": \"numeric\", \"missing\": \"mean\", \"columns\": "
         "[{\"name\": \"a\", \"type\": \"numeric\", \"min\": 0, \"max\": 9}, {\"name\": \"y\", "
         "\"type\": \"numeric\", \"min\": 0, \"max\": 1}]}",
         "data: column 'a': \"missing\": \"mean\" under DP fills with the declared \"mean\", "
         "which it does not give"},
    };
    for (size_t i = 0; i < sizeof dp / sizeof *dp; i++) {
        assert_int_equal(cx_json_parse(dp[i].json, strlen(dp[i].json), &j, &e), CX_OK);
        assert_int_equal(cx_dataset_schema_from_json(j, &s, &e), CX_OK);
        /* without the DP standardisation a range is not enough */
        assert_int_equal(cx_dataset_schema_require_stats(s, 0, &e), CX_ERR_FORMAT);
        if (dp[i].msg) {
            assert_int_equal(cx_dataset_schema_require_stats(s, 1, &e), CX_ERR_FORMAT);
            assert_string_equal(e.msg, dp[i].msg);
        } else {
            assert_int_equal(cx_dataset_schema_require_stats(s, 1, &e), CX_OK);
        }
        cx_dataset_schema_free(s);
        json_decref(j);
    }
}

/* Formats by name and by file name; an unknown one is refused. */
static void test_format_names_and_suffixes(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        cx_data_format fmt;
    } names[] = {{"csv", CX_DATA_CSV}, {"jsonl", CX_DATA_JSONL}, {"ndjson", CX_DATA_JSONL},
                 {"f32", CX_DATA_F32}};
    cx_error e;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        cx_data_format f = (cx_data_format)99;
        assert_int_equal(cx_data_format_parse(names[i].name, &f, &e), CX_OK);
        assert_int_equal(f, names[i].fmt);
    }
    cx_data_format f;
    assert_int_equal(cx_data_format_parse("CSV", &f, &e), CX_ERR_ARG);
    assert_string_equal(e.msg, "unknown data format 'CSV' (csv, jsonl, f32)");
    assert_int_equal(cx_data_format_parse(NULL, &f, &e), CX_ERR_ARG);
    assert_string_equal(e.msg, "unknown data format '' (csv, jsonl, f32)");
    assert_int_equal(cx_data_format_from_path("d/x.jsonl"), CX_DATA_JSONL);
    assert_int_equal(cx_data_format_from_path("x.ndjson"), CX_DATA_JSONL);
    assert_int_equal(cx_data_format_from_path("x.f32"), CX_DATA_F32);
    assert_int_equal(cx_data_format_from_path("x.csv"), CX_DATA_CSV);
    assert_int_equal(cx_data_format_from_path("x.f32.txt"), CX_DATA_CSV);
    assert_int_equal(cx_data_format_from_path("jsonl"), CX_DATA_CSV);
    cx_dataset_schema *s;
    assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
    cx_parser *p = NULL;
    assert_int_equal(cx_parser_new(s, (cx_data_format)3, 1, &p, &e), CX_ERR_ARG);
    assert_null(p);
    cx_dataset_schema_free(s);
}

/* Different blobs fed from different threads at once (the pipeline's shape) give the
 * dataset a sequential feed gives. */
static void test_blobs_fed_concurrently(void **state)
{
    (void)state;
    enum { NB = 8 };
    cx_dataset_schema *s = tricky_schema();
    cx_error e;
    cx_dataset *ds[2] = {NULL, NULL};
    for (int par = 0; par < 2; par++) {
        cx_parser *p;
        assert_int_equal(cx_parser_new(s, CX_DATA_CSV, NB, &p, &e), CX_OK);
        int fails = 0;
        const size_t len = sizeof tricky_csv - 1;
#pragma omp parallel for num_threads(4) schedule(dynamic, 1) reduction(+ : fails) if (par)
        for (int b = 0; b < NB; b++) {
            size_t chunk = 1 + (size_t)b * 5;
            for (size_t off = 0; off < len; off += chunk) {
                size_t n = len - off < chunk ? len - off : chunk;
                fails += cx_parser_feed(p, (size_t)b, tricky_csv + off, n, off + n == len, NULL) !=
                         CX_OK;
            }
        }
        assert_int_equal(fails, 0);
        assert_int_equal(cx_parser_finalize(p, &ds[par], &e), CX_OK);
        cx_parser_free(p);
    }
    assert_int_equal(ds[0]->n, 5 * NB);
    assert_same(ds[0], ds[1]);
    cx_dataset_free(ds[0]);
    cx_dataset_free(ds[1]);
    cx_dataset_schema_free(s);
}

static void test_float_parser_matches_strtof(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int kind = (int)(x % 4);
        uint64_t m = (x >> 8) % (kind == 0   ? 1000
                                 : kind == 1 ? 100000000ull
                                             : 10000000000000000000ull);
        int ex = (int)((x >> 40) % 90) - 45;
        int n;
        if (kind == 3)
            n = snprintf(buf, sizeof buf, "%s%llu.%llue%d", (x & 1) ? "-" : "",
                         (unsigned long long)(m % 1000), (unsigned long long)m, ex);
        else
            n = snprintf(buf, sizeof buf, "%s%llue%d", (x & 2) ? "-" : "", (unsigned long long)m,
                         ex % 12);
        float a, b = strtof(buf, NULL);
        const char *q = cx_parse_f32(buf, buf + n, &a);
        assert_ptr_equal(q, buf + n);
        if (memcmp(&a, &b, sizeof a) != 0)
            fail_msg("%s: %a vs strtof %a", buf, (double)a, (double)b);
    }
    /* the 16-byte CSV field classifier agrees with strtof wherever it answers */
    int answered = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char fld[64];
        int ni = (int)(x % 10), nf = (int)((x >> 4) % 10);
        int n = 0;
        if (x & 0x100)
            fld[n++] = '-';
        uint64_t y = x;
        for (int k = 0; k < ni; k++, y /= 7)
            fld[n++] = (char)('0' + y % 10);
        if (nf || (x & 0x200))
            fld[n++] = '.';
        for (int k = 0; k < nf; k++, y /= 3)
            fld[n++] = (char)('0' + (y >> 3) % 10);
        fld[n] = 0;
        char line[96];
        snprintf(line, sizeof line, "%s%s", fld,
                 (x & 0x400) ? "\r\n1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9"
                             : ",9,8,7,6,5,4,3,2,1,0,9,8,7,6,5,4,3,2,1,0");
        float a, b = strtof(fld, NULL);
        const char *q = cx_csv_num_fast(line, line + strlen(line), ',', &a);
        if (!q)
            continue;
        answered++;
        assert_ptr_equal(q, line + n);
        if (memcmp(&a, &b, sizeof a) != 0)
            fail_msg("fast field %s: %a vs strtof %a", fld, (double)a, (double)b);
    }
    assert_true(answered > 50000);
    /* exact midpoints between two floats must round to even, as strtof does */
    const char *mid[] = {"16777217", "16777219",    "0.1", "3.4028235e38", "1e-40",
                         "1e39",     "000123.4500", "-0",  "7e-46"};
    for (size_t i = 0; i < sizeof mid / sizeof *mid; i++) {
        float a, b = strtof(mid[i], NULL);
        assert_non_null(cx_parse_f32(mid[i], mid[i] + strlen(mid[i]), &a));
        assert_memory_equal(&a, &b, sizeof a);
    }
    float v;
    static const char *const junk[] = {"abc", "1e", ".", "-", "+.e5", "e5"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
        assert_null(cx_parse_f32(junk[i], junk[i] + strlen(junk[i]), &v));
}

static void test_standardizer(void **state)
{
    (void)state;
    const size_t n = 10007, d = 5;
    float *X = malloc(n * d * sizeof *X);
    assert_non_null(X);
    uint64_t x = 12345;
    for (size_t i = 0; i < n * d; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        X[i] = (float)((double)(x % 100000) / 1000.0 + 1e4 * (double)(i % d));
    }
    for (size_t i = 0; i < n; i++)
        X[i * d + 4] = 3.0f; /* constant column */
    cx_standardizer a, b;
    cx_error e;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(cx_standardizer_fit(X, n, d, &a, &e), CX_OK);
    omp_set_num_threads(3);
    assert_int_equal(cx_standardizer_fit(X, n, d, &b, &e), CX_OK);
    omp_set_num_threads(saved);
    assert_memory_equal(a.mean, b.mean, d * sizeof(float));
    assert_memory_equal(a.std, b.std, d * sizeof(float));
    for (size_t j = 0; j < d; j++) {
        double s = 0, q = 0;
        for (size_t i = 0; i < n; i++)
            s += X[i * d + j];
        double m = s / (double)n;
        for (size_t i = 0; i < n; i++)
            q += (X[i * d + j] - m) * (X[i * d + j] - m);
        double sd = sqrt(q / (double)n);
        assert_true(fabs(a.mean[j] - m) <= 1e-6 * fabs(m) + 1e-6);
        if (j < 4)
            assert_true(fabs(a.std[j] - sd) <= 1e-5 * sd);
    }
    assert_true(a.std[4] == 1.0f);
    cx_standardizer_apply(&a, X, n);
    cx_standardizer c;
    assert_int_equal(cx_standardizer_fit(X, n, d, &c, &e), CX_OK);
    for (size_t j = 0; j < 4; j++) {
        assert_true(fabs(c.mean[j]) < 1e-4);
        assert_true(fabs(c.std[j] - 1) < 1e-4);
    }
    assert_true(c.mean[4] == 0.0f);
    cx_standardizer_free(&a);
    cx_standardizer_free(&b);
    cx_standardizer_free(&c);
    free(X);
}

static void test_stats(void **state)
{
    (void)state;
    /* columns: 1..10, its double minus 1, its negation, NaN in two places */
    float X[10][4];
    for (int i = 0; i < 10; i++) {
        X[i][0] = (float)(i + 1);
        X[i][1] = 2.0f * (float)(i + 1) - 1;
        X[i][2] = -(float)(i + 1);
        X[i][3] = i % 4 == 0 ? NAN : (float)((i * 7) % 10);
    }
    cx_stats st;
    cx_error e;
    assert_int_equal(cx_stats_compute(&X[0][0], 10, 4, &st, &e), CX_OK);
    assert_int_equal(st.cols[0].count, 10);
    assert_true(fabs(st.cols[0].mean - 5.5) < 1e-12);
    assert_true(fabs(st.cols[0].std - 3.0276503540974917) < 1e-12); /* numpy ddof=1 */
    assert_true(st.cols[0].min == 1 && st.cols[0].max == 10);
    /* numpy.quantile(1..10, [.01,.05,.25,.5,.75,.95,.99]) */
    const double q[7] = {1.09, 1.45, 3.25, 5.5, 7.75, 9.55, 9.91};
    for (int k = 0; k < 7; k++)
        assert_true(fabs(st.cols[0].q[k] - q[k]) < 1e-9);
    assert_int_equal(st.cols[3].count, 7);
    assert_true(fabs(st.corr[0 * 4 + 1] - 1) < 1e-12);
    assert_true(fabs(st.corr[0 * 4 + 2] + 1) < 1e-12);
    assert_true(fabs(st.corr[0 * 4 + 0] - 1) < 1e-12);
    assert_true(st.corr[1 * 4 + 3] == st.corr[3 * 4 + 1]);
    /* pairwise-complete: rows 1,2,3,5,6,7,9 of columns 0 and 3 (numpy.corrcoef) */
    assert_true(fabs(st.corr[0 * 4 + 3] - (-0.02353307636988471)) < 1e-9);
    cx_stats_free(&st);
}

static void test_sklearn_csvs(void **state)
{
    (void)state;
    const char *dir = "/usr/lib/python3/dist-packages/sklearn/datasets/data";
    char iris[256], wine[256], bc[256];
    snprintf(iris, sizeof iris, "%s/iris.csv", dir);
    snprintf(wine, sizeof wine, "%s/wine_data.csv", dir);
    snprintf(bc, sizeof bc, "%s/breast_cancer.csv", dir);
    if (access(iris, R_OK) != 0 || access(wine, R_OK) != 0 || access(bc, R_OK) != 0)
        skip();
    const struct {
        const char *path, *label;
        size_t n, d, k;
    } sets[] = {{iris, "c4", 150, 4, 3}, {wine, "c13", 178, 13, 3}, {bc, "c30", 569, 30, 2}};
    for (size_t i = 0; i < 3; i++) {
        cx_dataset_schema *s;
        cx_error e;
        assert_int_equal(cx_dataset_schema_new(&s, &e), CX_OK);
        assert_int_equal(cx_dataset_schema_set_csv(s, ',', 0, 1, &e), CX_OK);
        assert_int_equal(cx_dataset_schema_set_label(s, sets[i].label, CX_LABEL_CLASS, &e), CX_OK);
        cx_dataset *ds = NULL;
        const char *paths[1] = {sets[i].path};
        if (cx_dataset_load_files(s, paths, 1, 2, &ds, &e) != CX_OK)
            fail_msg("%s: %s", sets[i].path, e.msg);
        assert_int_equal(ds->n, sets[i].n);
        assert_int_equal(ds->d, sets[i].d);
        assert_int_equal(ds->n_classes, sets[i].k);
        assert_int_equal(ds->blobs[0].bad_rows, 0);
        if (i == 0) {
            assert_true(ds->X[0] == 5.1f && ds->X[3] == 0.2f);
            assert_true(ds->y[149] == 2.0f);
        }
        cx_dataset_free(ds);
        cx_dataset_schema_free(s);
    }
}

/* The name list both header readers share: it grows past its first 16 slots, keeps every
 * name intact, and the CSV header and JSONL first-record readers return the same 40 names. */
static void test_names_push_and_headers(void **state)
{
    (void)state;
    char csv[1024] = "", obj[2048] = "{";
    size_t n = 0, cap = 16;
    char **names = calloc(cap, sizeof *names);
    assert_non_null(names);
    for (int i = 0; i < 40; i++) {
        char nm[16];
        int l = snprintf(nm, sizeof nm, "col%d", i);
        assert_int_equal(cx_names_push(&names, &n, &cap, nm, (size_t)l), 0);
        snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%s%s", i ? "," : "", nm);
        snprintf(obj + strlen(obj), sizeof obj - strlen(obj), "%s\"%s\": %d",
                 i ? ", " : "", nm, i);
    }
    strcat(obj, "}");
    assert_int_equal(n, 40);
    assert_true(cap >= 40);
    char **hc = NULL, **hj = NULL;
    size_t nc = 0, nj = 0;
    cx_error e;
    assert_int_equal(cx_csv_split_header(csv, csv + strlen(csv), ',', &hc, &nc, &e), CX_OK);
    assert_int_equal(cx_jsonl_keys(obj, obj + strlen(obj), &hj, &nj, &e), CX_OK);
    assert_int_equal(nc, 40);
    assert_int_equal(nj, 40);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(hc[i], names[i]);
        assert_string_equal(hj[i], names[i]);
    }
    cx_names_free(names, n);
    cx_names_free(hc, nc);
    cx_names_free(hj, nj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_push_and_headers),
        cmocka_unit_test(test_csv_tricky),
        cmocka_unit_test(test_csv_bad_rows),
        cmocka_unit_test(test_missing_mean_and_header_errors),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_schema_json_errors),
        cmocka_unit_test(test_f32_roundtrip),
        cmocka_unit_test(test_parallel_load_matches_feed),
        cmocka_unit_test(test_multi_blob_merge),
        cmocka_unit_test(test_merge_reference_and_mismatched_blob),
        cmocka_unit_test(test_declared_columns_decide),
        cmocka_unit_test(test_declared_ranges),
        cmocka_unit_test(test_format_names_and_suffixes),
        cmocka_unit_test(test_blobs_fed_concurrently),
        cmocka_unit_test(test_float_parser_matches_strtof),
        cmocka_unit_test(test_standardizer),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_sklearn_csvs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
