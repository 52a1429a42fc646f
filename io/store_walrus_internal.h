/* store_walrus_internal.h — what the walrus: backend's files share: the HTTP retry policy,
 * libcurl setup, response-header parsing, and the streaming get (store_walrus_get.c). */
#ifndef CX_IO_STORE_WALRUS_INTERNAL_H
#define CX_IO_STORE_WALRUS_INTERNAL_H

#include "store_internal.h"

#include <curl/curl.h>

#define WAL_MAGIC_LEN (sizeof CX_WALRUS_MANIFEST_MAGIC - 1)

/* An HTTP status, or a libcurl failure, that is worth retrying. */
int cx_wal_status_retryable(long st);
int cx_wal_curl_retryable(CURLcode c);
/* Delay before retry number attempt (1-based): exponential with jitter, or Retry-After. */
long cx_wal_backoff_ms(const cx_store_options *o, unsigned attempt, long retry_after_ms);
/* Options every request sets (timeouts, protocols, redirects); errbuf gets curl's text. */
cx_err cx_wal_set_common(CURL *h, const cx_store_options *o, char *errbuf, cx_error *e);

/* The response headers both request paths need. */
typedef struct cx_wal_hdr {
    long status;
    int has_cl, has_cr;
    uint64_t cl, cr_start, cr_end, cr_total;
    long retry_after_ms;
} cx_wal_hdr;

void cx_wal_hdr_reset(cx_wal_hdr *h);
/* One header line (status lines reset h: a redirect or 100-continue came first). */
void cx_wal_hdr_line(cx_wal_hdr *hi, const char *p, size_t n);

/* Open blob id on the aggregator as a stream: a plain blob, or a manifest whose parts
 * are fetched opt->parallel at a time, each checked against its length and SHA-256. */
cx_err cx_walrus_get(const cx_store_options *opt, const char *aggregator, const char *id,
                     cx_reader *out, cx_error *e);

#endif
