/* job_internal.h — what the job library's files share among themselves and no caller needs:
 * the blob-id order of the dataset commitment, the checked read of an enclave's document, and
 * the listen address of its HTTP servers. */
#ifndef CX_ENGINE_JOB_INTERNAL_H
#define CX_ENGINE_JOB_INTERNAL_H

#include "cx_engine.h"

/* The commitment's canonical order of blob ids: bytewise, a prefix before what extends it. */
int cx_job_blob_id_cmp(const char *x, const char *y);

/* Fetch a registered enclave's attestation document (at most max bytes, malloc'ed) by its
 * recorded blob id and check that it hashes to the SHA-256 the ledger recorded. */
cx_err cx_job_enclave_doc_read(cx_store *s, const cx_ledger_enclave *en, size_t max, uint8_t **doc,
                               size_t *len, cx_error *e);

/* The content type of the data format the job's spec declares: the job request read from
 * the store, checked against the ledger's spec hash, its spec checked as a job's. */
cx_err cx_job_spec_content_type(cx_store *s, const cx_ledger_job *job, cx_content_type *ct,
                                cx_error *e);

/* Whether a blob header's key part is this enclave's to open for pool (a sealing the pool's
 * policy accepts; suite 1: its recipient key id is key_id; suite 2: a Seal object with a data
 * key for pool id || nonce); else *why says what is wrong. hb: the header bytes. The enclave
 * and `cloakx verify` decide alike. */
int cx_job_header_key_ok(const uint8_t *hb, const cx_cxb_header *h, const uint8_t key_id[32],
                         const cx_ledger_pool *pool, char *why, size_t why_len);

#endif
