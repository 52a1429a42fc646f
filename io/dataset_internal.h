/* dataset_internal.h — what the dataset_*.c files share inside io/: the per-blob parse
 * state, the parser, the per-format ops table and the blob steps they call on each other. */
#ifndef CX_DATASET_INTERNAL_H
#define CX_DATASET_INTERNAL_H

#include "parse_internal.h"

/* One blob while it is parsed: its layout, its segments (one when fed, one per thread
 * when loaded from a file), the record carried between chunks, and how it ended. */
typedef struct cx_blob_state {
    cx_layout lay;
    int have_lay;
    cx_seg *segs;
    size_t n_segs;
    char *carry; /* cx_secmem: the partial record between chunks */
    size_t carry_len, carry_cap;
    cx_csv_scan scan; /* how far the carried record is known to be incomplete */
    size_t skip_left;
    uint64_t pre_lines; /* lines consumed before the first data row */
    /* f32 */
    uint64_t f32_rows, f32_seen;
    size_t f32_rowbytes;
    int ended, failed;
    int columns_differ; /* failed because its columns are not the job's (a format class) */
    char error[256];
} cx_blob_state;

typedef struct cx_format_ops cx_format_ops;

struct cx_parser {
    const cx_dataset_schema *schema;
    const cx_format_ops *ops;
    size_t n_blobs;
    cx_blob_state *blobs;
};

/* What differs between the data formats; one static const table per format in
 * dataset_format.c. The text hooks (record_end, columns, parse) are NULL for f32. */
struct cx_format_ops {
    const char *name;               /* as in job specs and messages: "csv", "jsonl", "f32" */
    const char *const *names;       /* every name cx_data_format_parse accepts, NULL-ended */
    const char *const *suffixes;    /* file names that have this format, NULL-ended */
    int skips_lines;                /* the schema's skip_lines applies */
    const char *row_unit;           /* what a bad row's number counts: "line" or "row" */
    const char *record_limit_hint;  /* appended when a record exceeds max_record_bytes */
    /* What must come before the data, for "no %s" when a blob ends without it. */
    const char *(*start_name)(const cx_dataset_schema *s);
    /* End of the record at r (after its newline), or NULL when incomplete; st carries
     * how far an incomplete record was scanned (CX_CSV_SCAN_INIT for a fresh one). */
    const char *(*record_end)(const char *r, const char *end, char delim, int eof,
                              cx_csv_scan *st);
    /* The column names, from the first record [r, re) that is neither skipped nor blank
     * (or from the schema). *consumed: the record was a header, not data. */
    cx_err (*columns)(const cx_dataset_schema *s, const char *r, const char *re, char ***names,
                      size_t *n, int *json_all, int *consumed, cx_error *e);
    /* Store the complete records starting before limit (cx_csv_parse, cx_jsonl_parse). */
    const char *(*parse)(cx_seg *s, const char *p, const char *limit, const char *end, int eof);
    /* The next chunk of a blob (cx_parser_feed). */
    cx_err (*feed)(cx_parser *p, cx_blob_state *b, const char *d, size_t len, int last,
                   cx_error *e);
    /* A whole file mapped at [d, d + len), on nt threads (cx_dataset_load_files). */
    cx_err (*load)(cx_parser *p, cx_blob_state *b, const char *d, size_t len, int nt,
                   cx_error *e);
    /* Checks once the blob has ended, before the bad-row fraction; NULL: none. */
    cx_err (*finish)(const cx_blob_state *b, cx_error *e);
};

const cx_format_ops *cx_format_ops_of(cx_data_format fmt); /* NULL for an unknown format */

/* --- blob steps (dataset_parse.c) --- */

/* (Re)create n empty segments, numbering lines after the blob's pre-data lines. */
cx_err cx_blob_segs(cx_parser *p, cx_blob_state *b, size_t n, cx_error *e);
void cx_blob_reset_segs(cx_blob_state *b);
/* Mark the blob failed with e's message (prefixed "blob idx: "); returns the error code. */
cx_err cx_blob_fail(cx_blob_state *b, size_t idx, cx_error *e);
/* Still before the data: lines to skip, or no layout yet. */
int cx_blob_need_pre(const cx_blob_state *b);
/* One record before the data (skipped line, blank line, header, the first JSONL object);
 * *consumed says whether it was used up (else it is data). */
cx_err cx_blob_pre_record(cx_parser *p, cx_blob_state *b, const char *r, const char *re,
                          int *consumed, cx_error *e);
/* The blob's last bytes are in: header present, format checks, bad-row fraction. */
cx_err cx_blob_finish(cx_parser *p, cx_blob_state *b, cx_error *e);
/* f32: the layout from the header at h (CX_ERR_STATE with *need set when more bytes are
 * needed); *off is where the rows start. */
cx_err cx_blob_f32_layout(cx_parser *p, cx_blob_state *b, const uint8_t *h, size_t len,
                          size_t *need, size_t *off, cx_error *e);
cx_err cx_blob_feed_text(cx_parser *p, cx_blob_state *b, const char *d, size_t len, int last,
                         cx_error *e);
cx_err cx_blob_feed_f32(cx_parser *p, cx_blob_state *b, const char *d, size_t len, int last,
                        cx_error *e);
cx_err cx_seg_status(const cx_seg *s, cx_error *e); /* the segment's allocation failure */
uint64_t cx_count_nl(const char *p, const char *end);

/* --- whole files (dataset_load.c) --- */

cx_err cx_blob_load_text(cx_parser *p, cx_blob_state *b, const char *d, size_t len, int nt,
                         cx_error *e);
cx_err cx_blob_load_f32(cx_parser *p, cx_blob_state *b, const char *d, size_t len, int nt,
                        cx_error *e);

/* --- merge (dataset_merge.c) --- */

/* Every blob has ended or failed: merge the good ones into one dataset. */
cx_err cx_dataset_merge(cx_parser *p, cx_dataset **out, cx_error *e);

#endif
