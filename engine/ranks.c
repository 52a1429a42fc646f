/* ranks.c — the ranks of one multi-rank job meet (issue 17): each attests a fresh X25519 key
 * bound to the job and to rank 0's enclave key, all check all, and the channel is sealed. */
#include "cx_engine.h"

#include <math.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void cx_job_rank_binding(const uint8_t job_id[32], uint32_t rank, uint32_t size,
                         const uint8_t leader_pk[32], const uint8_t x25519_pk[32], uint8_t out[32])
{
    static const char dom[] = "cloakx/rank/v1";
    uint8_t m[sizeof dom + 32 + 4 + 4 + 32 + 32], *p = m;
    memcpy(p, dom, sizeof dom); /* with its NUL: the domain ends unambiguously */
    p += sizeof dom;
    memcpy(p, job_id, 32);
    p += 32;
    put_u32le(p, rank);
    put_u32le(p + 4, size);
    p += 8;
    memcpy(p, leader_pk, 32);
    memcpy(p + 32, x25519_pk, 32);
    SHA256(m, sizeof m, out);
}

cx_err cx_job_rank_doc_check(const uint8_t *doc, size_t len, const cx_nitro_policy *pol,
                             const uint8_t *measurement, size_t measurement_len,
                             const uint8_t job_id[32], uint32_t rank, uint32_t size,
                             const uint8_t leader_pk[32], const uint8_t x25519_pk[32], cx_error *e)
{
    cx_nitro_doc d;
    memset(&d, 0, sizeof d);
    cx_error ve;
    cx_err rc = cx_nitro_verify(doc, len, pol, &d, NULL, &ve);
    if (rc != CX_OK)
        return cx_error_set(e, CX_ERR_VERIFY, "rank %u: its attestation does not verify: %s", rank,
                            ve.msg);
    uint8_t want[32];
    cx_job_rank_binding(job_id, rank, size, leader_pk, x25519_pk, want);
    if (!(d.pcr_present & 1u) || d.pcr_len[0] != measurement_len ||
        CRYPTO_memcmp(d.pcr[0], measurement, measurement_len) != 0)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "rank %u: another measurement (PCR0): it runs other code than rank 0",
                          rank);
    else if (!d.has_user_data || d.user_data_len != 32 || CRYPTO_memcmp(d.user_data, want, 32) != 0)
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "rank %u: its attestation is not bound to this job, this rank, rank "
                          "0's key and its channel key",
                          rank);
    else if (rank == 0 && (!d.has_public_key || d.public_key_len != 32 ||
                           CRYPTO_memcmp(d.public_key, leader_pk, 32) != 0))
        rc = cx_error_set(e, CX_ERR_VERIFY,
                          "rank 0: its attestation is not of the enclave key that signs the job");
    cx_nitro_doc_free(&d);
    return rc;
}

void cx_job_ranks_free(cx_job_ranks *r)
{
    if (!r)
        return;
    if (r->sealed)
        cx_comm_destroy(r->sealed);
    cx_x25519_key_free(r->mine);
    for (int k = 0; r->docs && k < r->size; k++)
        free(r->docs[k]);
    free(r->docs);
    free(r->doc_lens);
    free(r->pks);
    free(r->att);
    free(r);
}

/* every rank's bytes (lens[k] of them at bufs[k], this rank's own filled) to every rank */
static cx_err allgather_bytes(cx_comm *c, uint8_t **bufs, size_t *lens, size_t max, cx_error *e)
{
    double *l = calloc((size_t)c->size, sizeof *l);
    if (!l)
        return cx_error_set(e, CX_ERR_NOMEM, "ranks: out of memory");
    l[c->rank] = (double)lens[c->rank];
    cx_err rc = c->allreduce_f64(c, l, (size_t)c->size, CX_COMM_SUM, e);
    for (int k = 0; rc == CX_OK && k < c->size; k++) {
        if (!(l[k] >= 1 && l[k] <= (double)max)) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "ranks: rank %d sends %.0f bytes (1..%zu)", k, l[k],
                              max);
            break;
        }
        if (k != c->rank) {
            lens[k] = (size_t)l[k];
            if (!(bufs[k] = malloc(lens[k]))) {
                rc = cx_error_set(e, CX_ERR_NOMEM, "ranks: out of memory");
                break;
            }
        }
        rc = c->bcast(c, bufs[k], lens[k], k, e);
    }
    free(l);
    return rc;
}

cx_err cx_job_ranks_join(cx_comm *inner, cx_tee *tee, const cx_nitro_policy *pol,
                         const uint8_t job_id[32], const uint8_t leader_pk[32],
                         const cx_logger *log, cx_job_ranks **out, cx_error *e)
{
    *out = NULL;
    const int P = inner->size, me = inner->rank;
    cx_job_ranks *r = calloc(1, sizeof *r);
    if (!r)
        return cx_error_set(e, CX_ERR_NOMEM, "ranks: out of memory");
    r->rank = me;
    r->size = P;
    r->docs = calloc((size_t)P, sizeof *r->docs);
    r->doc_lens = calloc((size_t)P, sizeof *r->doc_lens);
    r->pks = calloc((size_t)P, sizeof *r->pks);
    r->att = calloc((size_t)P, sizeof *r->att);
    uint8_t **pkb = calloc((size_t)P, sizeof *pkb);
    size_t *pkl = calloc((size_t)P, sizeof *pkl);
    double *refused = calloc((size_t)P, sizeof *refused);
    cx_nitro_doc own;
    memset(&own, 0, sizeof own);
    cx_err rc = r->docs && r->doc_lens && r->pks && r->att && pkb && pkl && refused
                    ? cx_x25519_key_generate(&r->mine, e)
                    : cx_error_set(e, CX_ERR_NOMEM, "ranks: out of memory");
    /* this rank's document: its fresh channel key bound to the job, its place and rank 0's
     * enclave key (a rank's key serves this job alone) */
    if (rc == CX_OK) {
        uint8_t ud[32];
        cx_job_rank_binding(job_id, (uint32_t)me, (uint32_t)P, leader_pk,
                            cx_x25519_key_public(r->mine), ud);
        rc = cx_tee_attest(tee, ud, sizeof ud, NULL, 0, &r->docs[me], &r->doc_lens[me], e);
    }
    if (rc == CX_OK)
        rc = cx_nitro_doc_parse(r->docs[me], r->doc_lens[me], &own, e);
    if (rc == CX_OK && !(own.pcr_present & 1u))
        rc = cx_error_set(e, CX_ERR_STATE, "ranks: this TEE's document has no PCR0");
    if (rc != CX_OK && inner->abort) {
        /* the other ranks wait in the exchange below, which this one cannot join: end them
         * all (the worker is restarted and runs the job again) */
        cx_log_error(log, "rank %d: %s: ending every rank", me, e->msg);
        inner->abort(inner, 1);
    }
    if (rc == CX_OK) {
        pkb[me] = r->pks[me];
        pkl[me] = 32;
        memcpy(r->pks[me], cx_x25519_key_public(r->mine), 32);
        rc = allgather_bytes(inner, r->docs, r->doc_lens, CX_NITRO_DOC_MAX, e);
    }
    if (rc == CX_OK) {
        for (int k = 0; k < P; k++)
            if (k != me)
                pkb[k] = NULL;
        rc = allgather_bytes(inner, pkb, pkl, 32, e);
        for (int k = 0; rc == CX_OK && k < P; k++) {
            if (k == me)
                continue;
            if (pkl[k] != 32)
                rc = cx_error_set(e, CX_ERR_FORMAT, "ranks: rank %d's key is not 32 bytes", k);
            else
                memcpy(r->pks[k], pkb[k], 32);
        }
    }
    /* each rank checks every other one against its own measurement; the refusals are then
     * summed, so that all ranks stop together rather than some waiting in a collective */
    cx_error why = {0};
    int refuses = 0;
    for (int k = 0; rc == CX_OK && k < P; k++) {
        SHA256(r->docs[k], r->doc_lens[k], r->att[k]);
        if (k == me)
            continue;
        cx_error ke;
        if (cx_job_rank_doc_check(r->docs[k], r->doc_lens[k], pol, own.pcr[0], own.pcr_len[0],
                                  job_id, (uint32_t)k, (uint32_t)P, leader_pk, r->pks[k],
                                  &ke) != CX_OK) {
            refused[k] = 1;
            if (!refuses++)
                why = ke;
            cx_log_error(log, "rank %d refuses %s", me, ke.msg);
        }
    }
    if (rc == CX_OK)
        rc = inner->allreduce_f64(inner, refused, (size_t)P, CX_COMM_MAX, e);
    if (rc == CX_OK) {
        int first = -1;
        for (int k = 0; k < P && first < 0; k++)
            if (refused[k] > 0)
                first = k;
        if (refuses)
            rc = cx_error_set(e, CX_ERR_VERIFY, "ranks: rank %d refuses to join: %s", me, why.msg);
        else if (first >= 0)
            rc = cx_error_set(e, CX_ERR_VERIFY,
                              "ranks: rank %d was refused by another rank (another measurement, "
                              "or an attestation not bound to this job): the job does not run",
                              first);
    }
    if (rc == CX_OK) {
        cx_rank_link_params lp = {.rank = me,
                                  .size = P,
                                  .job_id = job_id,
                                  .mine = r->mine,
                                  .peer_pks = (const uint8_t(*)[32])r->pks,
                                  .attestations = (const uint8_t(*)[32])r->att};
        rc = cx_comm_sealed_borrow(inner, &lp, &r->sealed, e);
    }
    for (int k = 0; k < P; k++)
        if (pkb && pkb[k] && k != me)
            free(pkb[k]);
    free(pkb);
    free(pkl);
    free(refused);
    cx_nitro_doc_free(&own);
    if (rc != CX_OK) {
        cx_job_ranks_free(r);
        return rc;
    }
    *out = r;
    return CX_OK;
}
