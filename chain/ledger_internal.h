/* ledger_internal.h — the backend table behind the opaque cx_ledger handle (private to chain/):
 * every backend (local SQLite, Sui) fills one cx_ledger_ops. */
#ifndef CX_CHAIN_LEDGER_INTERNAL_H
#define CX_CHAIN_LEDGER_INTERNAL_H

#include "cx_chain.h"

typedef struct cx_ledger_ops {
    const char *name; /* "local", "sui" */
    cx_err (*pool_create)(cx_ledger *l, const cx_chain_key *signer, const cx_ledger_pool_params *p,
                          cx_chain_id *out, cx_error *e);
    cx_err (*pool_get)(cx_ledger *l, const cx_chain_id *id, cx_ledger_pool *out, cx_error *e);
    /* att may be NULL (the local ledger records the document's hash only; Sui needs it) */
    cx_err (*enclave_register)(cx_ledger *l, const cx_chain_key *signer,
                               const cx_ledger_enclave *en, const cx_ledger_attestation *att,
                               cx_chain_id *out, cx_error *e);
    cx_err (*enclave_get)(cx_ledger *l, const cx_chain_id *id, cx_ledger_enclave *out, cx_error *e);
    cx_err (*pool_enclave_add)(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *pool,
                               const cx_chain_id *enclave, cx_error *e);
    cx_err (*enclaves_for_pool)(cx_ledger *l, const cx_chain_id *pool, cx_ledger_enclave **out,
                                size_t *n, cx_error *e);
    cx_err (*contribution_register)(cx_ledger *l, const cx_chain_key *signer,
                                    const cx_chain_id *pool, const uint8_t *blob_id,
                                    size_t blob_id_len, cx_chain_id *out, cx_error *e);
    cx_err (*contributions_list)(cx_ledger *l, const cx_chain_id *pool,
                                 cx_ledger_contribution **out, size_t *n, cx_error *e);
    cx_err (*job_create)(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *pool,
                         const uint8_t spec_hash[32], const uint8_t *spec_blob_id,
                         size_t spec_blob_id_len, uint64_t payment, uint64_t deadline_ms,
                         cx_chain_id *out, cx_error *e);
    cx_err (*job_get)(cx_ledger *l, const cx_chain_id *id, cx_ledger_job *out, cx_error *e);
    cx_err (*job_accept)(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                         const cx_chain_id *enclave, const cx_ledger_signed *acceptance,
                         cx_error *e);
    cx_err (*job_fail)(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                       const cx_ledger_signed *failure, cx_error *e);
    cx_err (*result_submit)(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                            const cx_chain_id *enclave, const cx_ledger_signed *statement,
                            const cx_ledger_signed *key_release, cx_error *e);
    cx_err (*result_get)(cx_ledger *l, const cx_chain_id *job, cx_ledger_result *out, cx_error *e);
    cx_err (*job_refund_expired)(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                                 cx_error *e);
    cx_err (*balance_get)(cx_ledger *l, const cx_chain_addr *a, uint64_t *out, cx_error *e);
    /* Events after cursor ("" = from the start), at most max; next_cursor resumes after the
     * last one returned (unchanged when none). */
    cx_err (*events_read)(cx_ledger *l, const char *cursor, size_t max, cx_ledger_event **out,
                          size_t *n, char next_cursor[CX_CHAIN_CURSOR_MAX], cx_error *e);
    void (*close)(cx_ledger *l);
} cx_ledger_ops;

struct cx_ledger {
    const cx_ledger_ops *ops;
    void *impl;
};

#endif /* CX_CHAIN_LEDGER_INTERNAL_H */
