/* store_internal.h — what the blob-store backends share inside io/: the vtable behind
 * cx_store, the backends' constructors, and the Walrus parsers (fuzzed separately). */
#ifndef CX_IO_STORE_INTERNAL_H
#define CX_IO_STORE_INTERNAL_H

#include "cx_io.h"

typedef struct cx_store_ops {
    const char *kind;
    cx_err (*put)(cx_store *s, cx_reader *src, char id[CX_STORE_ID_MAX], cx_error *e);
    cx_err (*get)(cx_store *s, const char *id, cx_reader *out, cx_error *e);
    cx_err (*stat)(cx_store *s, const char *id, cx_store_info *st, cx_error *e);
    void (*free)(cx_store *s);
} cx_store_ops;

struct cx_store {
    const cx_store_ops *ops;
    cx_store_options opt; /* defaults filled in; strings point into the backend's copies */
    void *impl;
};

cx_err cx_store_local_open(cx_store *s, const char *dir, cx_error *e);
/* query: the text after "walrus:" ("" or "?publisher=...&aggregator=...&epochs=N"). */
cx_err cx_store_walrus_open(cx_store *s, const char *query, cx_error *e);

/* --- Walrus parsers (untrusted bytes from the network) --- */

typedef enum cx_walrus_result {
    CX_WALRUS_NEWLY_CREATED,
    CX_WALRUS_ALREADY_CERTIFIED,
} cx_walrus_result;

/* Parse a publisher's answer to PUT /v1/blobs given its HTTP status: on success the blob
 * id; markedInvalid, the {"error":{blobId,failurePhase,errorMsg}} result and the generic
 * {"error":{code,status,message}} body become errors that quote the publisher. */
cx_err cx_walrus_parse_store_response(long http_status, const char *body, size_t len,
                                      char id[CX_STORE_ID_MAX], cx_walrus_result *kind,
                                      cx_error *e);
/* Describe a non-2xx body ("NOT_FOUND: blob ... (404)") into msg; falls back to the raw
 * text (sanitised, truncated) when it is not the documented JSON error. */
void cx_walrus_error_text(const char *body, size_t len, char *msg, size_t cap);

typedef struct cx_walrus_part {
    char blob_id[CX_STORE_ID_MAX];
    uint64_t size;
    uint8_t sha256[32];
} cx_walrus_part;

typedef struct cx_walrus_manifest {
    uint64_t size, part_size;
    uint32_t nparts;
    cx_walrus_part *parts; /* malloc'ed */
} cx_walrus_manifest;

/* Parse manifest bytes (magic line included); strict: unknown keys, bad ids, sizes
 * that do not add up are refused. */
cx_err cx_walrus_manifest_parse(const uint8_t *buf, size_t len, cx_walrus_manifest *m, cx_error *e);
/* Serialise (magic line + JSON); *out is malloc'ed. */
cx_err cx_walrus_manifest_encode(const cx_walrus_manifest *m, char **out, size_t *len, cx_error *e);
void cx_walrus_manifest_free(cx_walrus_manifest *m);

#endif
