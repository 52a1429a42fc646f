/* io_parse_testutil.h — what the parser tests share: feeding a text in pieces of a given
 * size to the chunk-fed parser, and a seeded xorshift for generated rows. */
#ifndef CX_TESTS_IO_PARSE_TESTUTIL_H
#define CX_TESTS_IO_PARSE_TESTUTIL_H

#include <stdint.h>

#include "cx_io.h"

/* data fed in pieces of chunk bytes (the last one says so), then finalized; NULL with *e
 * filled on any error */
static inline cx_dataset *parse_chunked(const cx_dataset_schema *s, cx_data_format fmt,
                                        const char *data, size_t len, size_t chunk, cx_error *e)
{
    cx_parser *p;
    if (cx_parser_new(s, fmt, 1, &p, e) != CX_OK)
        return NULL;
    size_t off = 0;
    cx_err rc = CX_OK;
    do {
        size_t n = len - off < chunk ? len - off : chunk;
        rc = cx_parser_feed(p, 0, data + off, n, off + n == len, e);
        off += n;
    } while (rc == CX_OK && off < len);
    cx_dataset *ds = NULL;
    if (rc == CX_OK && cx_parser_finalize(p, &ds, e) != CX_OK)
        ds = NULL;
    cx_parser_free(p);
    return ds;
}

static inline uint64_t xorshift_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

#endif
