/* cx_io.h — the data path: sealed blobs (.cxb), keys, blob stores (local, Walrus),
 * the streaming parallel decryption pipeline, and the data parsers (CSV, JSONL, f32). */
#ifndef CX_IO_H
#define CX_IO_H

#include "cx_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pull-based byte stream: what a blob store hands out and the pipeline consumes.
 * read() fills up to len bytes; *got == 0 means end of stream. */
typedef struct cx_reader {
    cx_err (*read)(void *ctx, void *buf, size_t len, size_t *got, cx_error *e);
    void (*close)(void *ctx);
    void *ctx;
} cx_reader;

/* ===================== sealed blobs, keys, decryption pipeline ===================== */

/* ===================== blob stores ===================== */

/* ===================== data parsers ===================== */

#ifdef __cplusplus
}
#endif
#endif /* CX_IO_H */
