/* handles.c — what the job library and the tool both use to reach the outside: key-dir
 * identities, ledger and store handles, paths, hex for JSON, and an in-memory sealing sink. */
#include "cx_engine.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

cx_err cx_job_path_join(char *out, size_t cap, const char *a, const char *b, cx_error *e)
{
    if ((size_t)snprintf(out, cap, "%s/%s", a, b) >= cap)
        return cx_error_set(e, CX_ERR_ARG, "path too long: %s/%s", a, b);
    return CX_OK;
}

cx_err cx_job_identity_load(const char *keydir, cx_chain_key **out, cx_error *e)
{
    char path[PATH_MAX];
    cx_err rc = cx_job_path_join(path, sizeof path, keydir, "ed25519.key", e);
    if (rc != CX_OK)
        return rc;
    cx_ed25519_key *k = NULL;
    rc = cx_ed25519_key_load(path, &k, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "identity %s: ", keydir);
    rc = cx_chain_key_from_seed(cx_ed25519_key_seed(k), out, e);
    cx_ed25519_key_free(k);
    return rc;
}

cx_err cx_job_ledger_open(const char *url, const cx_logger *log, cx_ledger **out, cx_error *e)
{
    if (!url || !*url)
        return cx_error_set(e, CX_ERR_ARG, "no ledger given (--ledger PATH or CLOAKX_LEDGER)");
    (void)log;
    if (strncmp(url, "sui:", 4) == 0)
        return cx_ledger_sui_open_url(url, NULL, out, e);
    if (strncmp(url, "local:", 6) == 0)
        url += 6;
    cx_ledger_local_opts o = {0}; /* protocol fees go to the zero address (the treasury) */
    return cx_ledger_local_open(url, &o, out, e);
}

cx_err cx_job_store_open(const char *url, const cx_logger *log, cx_store **out, cx_error *e)
{
    if (!url || !*url)
        return cx_error_set(e, CX_ERR_ARG, "no blob store given (--store URL or CLOAKX_STORE)");
    cx_store_options o;
    cx_store_options_init(&o);
    /* explicit options win over the URL's: the testnet defaults set by init would hide a
     * walrus:?publisher=…&aggregator=… URL (the backend falls back to testnet itself) */
    o.publisher = o.aggregator = NULL;
    o.log = log;
    o.verify = 1; /* a store that serves other bytes than it was given is caught here */
    return cx_store_open(url, &o, out, e);
}

json_t *cx_job_hex_json(const uint8_t *b, size_t n)
{
    char *h = cx_hex_dup(b, n);
    json_t *j = h ? json_string(h) : NULL;
    free(h);
    return j;
}

cx_err cx_job_seal_bytes(const cx_cxb_seal_params *p, const uint8_t *data, size_t len,
                         cx_job_membuf *out, cx_cxb_header *h, cx_error *e)
{
    cx_mem_reader mr;
    cx_reader r;
    cx_reader_from_memory(&r, &mr, data, len);
    cx_writer w = {cx_job_membuf_write, out};
    return cx_cxb_seal(p, &r, len, &w, h, NULL, e);
}

cx_err cx_job_membuf_write(void *ctx, const void *buf, size_t len, cx_error *e)
{
    cx_job_membuf *m = ctx;
    if (m->len + len > m->cap) {
        size_t nc = m->cap ? m->cap : 65536;
        while (nc < m->len + len)
            nc *= 2;
        uint8_t *np = realloc(m->p, nc);
        if (!np)
            return cx_error_set(e, CX_ERR_NOMEM, "out of memory for %zu bytes", m->len + len);
        m->p = np;
        m->cap = nc;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return CX_OK;
}
