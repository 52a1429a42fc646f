/* fuzz_parse.c — libFuzzer targets for the data parsers (CSV, JSONL, f32; one source,
 * the format chosen by FUZZ_FORMAT): arbitrary bytes fed whole and in chunks of a size
 * taken from the input must not crash and must give the identical dataset. */
#include <stdlib.h>
#include <string.h>

#include "cx_io.h"

#ifndef FUZZ_FORMAT
#error "FUZZ_FORMAT must name CX_DATA_CSV, CX_DATA_JSONL or CX_DATA_F32"
#endif

static cx_err run(const cx_dataset_schema *s, const uint8_t *d, size_t n, size_t chunk,
                  cx_dataset **out)
{
    cx_parser *p;
    cx_err rc = cx_parser_new(s, FUZZ_FORMAT, 1, &p, NULL);
    if (rc != CX_OK)
        return rc;
    size_t off = 0;
    do {
        size_t k = n - off < chunk ? n - off : chunk;
        rc = cx_parser_feed(p, 0, d + off, k, off + k == n, NULL);
        off += k;
    } while (rc == CX_OK && off < n);
    if (rc == CX_OK)
        rc = cx_parser_finalize(p, out, NULL);
    cx_parser_free(p);
    return rc;
}

static int same(const cx_dataset *a, const cx_dataset *b)
{
    if (a->n != b->n || a->d != b->d || a->n_classes != b->n_classes)
        return 0;
    /* NaN (kept missing values) compares bytewise: both parses store the same NaN */
    if (memcmp(a->X, b->X, a->n * a->d * sizeof(float)) != 0)
        return 0;
    if ((a->y == NULL) != (b->y == NULL) || (a->y && memcmp(a->y, b->y, a->n * sizeof(float)) != 0))
        return 0;
    for (size_t j = 0; j < a->d; j++)
        if (strcmp(a->feature_names[j], b->feature_names[j]) != 0)
            return 0;
    for (size_t k = 0; k < a->n_classes; k++)
        if (strcmp(a->class_names[k], b->class_names[k]) != 0)
            return 0;
    return a->blobs[0].bad_rows == b->blobs[0].bad_rows &&
           a->blobs[0].n_listed == b->blobs[0].n_listed &&
           memcmp(a->blobs[0].listed, b->blobs[0].listed,
                  a->blobs[0].n_listed * sizeof(cx_bad_row)) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t chunk = 1 + data[0] % 67;
    uint8_t flags = data[1];
    data += 2;
    size -= 2;
    cx_dataset_schema *s;
    if (cx_dataset_schema_new(&s, NULL) != CX_OK)
        return 0;
    (void)cx_dataset_schema_set_bad_fraction(s, 1.0, NULL);
    (void)cx_dataset_schema_set_missing(s, (cx_missing_policy)(flags & 3), 0.5f, NULL);
    (void)cx_dataset_schema_set_csv(s, (flags & 4) ? ';' : ',', !(flags & 8), (flags >> 6) & 1,
                                    NULL);
    if (flags & 16)
        (void)cx_dataset_schema_set_label(s, FUZZ_FORMAT == CX_DATA_CSV && (flags & 8) ? "c0" : "y",
                                          (flags & 32) ? CX_LABEL_CLASS : CX_LABEL_NUMERIC, NULL);
    if (flags & 128)
        (void)cx_dataset_schema_add_categorical(s, "c", NULL, 0, NULL);
    cx_dataset *whole = NULL, *parts = NULL;
    cx_err r1 = run(s, data, size, size ? size : 1, &whole);
    cx_err r2 = run(s, data, size, chunk, &parts);
    if (r1 != r2 || (r1 == CX_OK && !same(whole, parts)))
        abort(); /* chunking changed the result */
    if (r1 == CX_OK) {
        cx_standardizer st;
        if (cx_standardizer_fit(whole->X, whole->n, whole->d, &st, NULL) == CX_OK)
            cx_standardizer_free(&st);
    }
    cx_dataset_free(whole);
    cx_dataset_free(parts);
    cx_dataset_schema_free(s);
    return 0;
}
