/* execute.c — the job pipeline a worker runs inside the TEE: headers checked, blobs
 * authenticated and parsed, model trained, sealed to the buyer, stored, statement signed. */
#include "cx_engine.h"
#include "job_internal.h"
#include "device_pipeline.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

/* ----------------------------------------------------------- job pipeline -- */

void cx_job_output_free(cx_job_output *o)
{
    if (!o)
        return;
    free(o->statement);
    free(o->key_release);
    json_decref(o->report);
    cx_job_ranks_free(o->ranks);
    memset(o, 0, sizeof *o);
}

/* One registered contribution as the job sees it. */
typedef struct cand {
    cx_ledger_contribution c;
    char blob_id[CX_STORE_ID_MAX];
    char contributor[CX_CHAIN_ID_HEX_LEN + 1];
    cx_cxb_header h;
    uint8_t *key_object; /* suite 2: the header's Seal object (malloc'ed), for key recovery */
    int state;           /* 0 rejected, 1 header ok, 2 authenticated, 3 parsed with rows */
    uint8_t klass;       /* when rejected: its cx_reject_reason, what the statement commits to */
    char reason[300];
    uint8_t tag_hash[32];         /* of the decrypting read's chunk tags */
    uint8_t used_header_hash[32]; /* the decrypting read's header: the checked one (bound) */
    uint64_t rows, bad_rows;
    int late_fail;       /* failed after the header checks: its contributor is left out */
    uint8_t *header_raw; /* the checked header's bytes (malloc'ed): rank 0 opens its data key */
    size_t header_raw_len;
    int owner; /* across ranks: the rank that decrypts and parses it */
} cand;

static void reject(cand *c, cx_reject_reason klass, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reject(cand *c, cx_reject_reason klass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reason, sizeof c->reason, fmt, ap);
    va_end(ap);
    c->state = 0;
    c->klass = (uint8_t)klass;
}

typedef struct pipe_ud {
    cx_parser *parser;
    size_t base; /* parser index of the batch's first blob */
    cx_progress *prog;
    uint64_t done, total, blobs_done, blobs_total;
    const cx_logger *log;
    cx_status *status;
    const char *job_hex;
} pipe_ud;

static cx_err on_chunk(void *ud, const cx_pipeline_chunk *c, cx_error *e)
{
    pipe_ud *u = ud;
    (void)e;
    u->done += c->len;
    if (u->prog)
        cx_progress_update(u->prog, u->done);
    u->blobs_done += c->last != 0;
    cx_status_job_decrypt(u->status, u->job_hex, u->blobs_done, u->blobs_total, u->done, u->total);
    if (u->parser) {
        /* A blob that does not parse fails alone (left out of the dataset); the others go on,
         * so the parser's error is recorded by the parser, not returned. */
        cx_error pe;
        if (cx_parser_feed(u->parser, u->base + c->blob, c->data, c->len, c->last, &pe) != CX_OK)
            cx_log_debug(u->log, "blob %s: %s", c->blob_id, pe.msg);
    }
    return CX_OK;
}

static uint64_t micro(double v)
{
    if (!(v >= 0) || isnan(v))
        return 0;
    if (v > 1.8e13)
        return UINT64_MAX - 1;
    return (uint64_t)llround(v * 1e6);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Whether a store's answer is its own failure (I/O, network, a 5xx, memory), which says
 * nothing about the contribution: retried, never a rejection (RULES.md §7). */
static int store_failure(cx_err rc)
{
    return rc != CX_OK && rc != CX_ERR_NOTFOUND && rc != CX_ERR_FORMAT && rc != CX_ERR_AUTH &&
           rc != CX_ERR_ARG && rc != CX_ERR_LIMIT && rc != CX_ERR_UNSUPPORTED &&
           rc != CX_ERR_VERIFY;
}

/* One read of a blob's header. Returns CX_OK with *got set when the header was read, CX_OK
 * with *got = 0 and *why filled when the contribution is to be rejected for it, and the store's
 * error when the store failed. */
static cx_err read_header(const cx_job_params *p, cand *c, const uint8_t key_id[32],
                          const cx_ledger_pool *pool, int *got, cx_error *why, cx_error *e)
{
    cx_reader r;
    cx_error le;
    *got = 0;
    cx_err rc = cx_store_get(p->store, c->blob_id, &r, &le);
    if (rc != CX_OK) {
        if (store_failure(rc))
            return cx_error_set(e, rc, "blob %s: %s", c->blob_id, le.msg);
        cx_error_set(why, rc, "not in the store: %s", le.msg);
        return CX_OK;
    }
    uint8_t hb[CX_CXB_MAX_HEADER_LEN];
    rc = cx_cxb_header_read(&r, hb, &c->h, &le);
    if (r.close)
        r.close(r.ctx);
    if (rc == CX_OK) {
        char reason[200];
        if (!cx_job_header_key_ok(hb, &c->h, key_id, pool, reason, sizeof reason)) {
            cx_error_set(why, CX_ERR_VERIFY, "%s", reason);
            return CX_OK;
        }
        free(c->key_object);
        c->key_object = NULL;
        free(c->header_raw);
        c->header_raw = NULL;
        if (p->comm && p->comm->size > 1) { /* rank 0 opens its data key for another rank */
            if (!(c->header_raw = malloc(c->h.header_len)))
                return cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
            memcpy(c->header_raw, hb, c->h.header_len);
            c->header_raw_len = c->h.header_len;
        }
        if (c->h.suite == CX_CXB_SUITE_KEY_OBJECT) {
            if (!(c->key_object = malloc(c->h.key_object_len)))
                return cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
            memcpy(c->key_object, hb + c->h.key_object_off, c->h.key_object_len);
        }
        *got = 1;
        return CX_OK;
    }
    if (store_failure(rc))
        return cx_error_set(e, rc, "blob %s: reading its header: %s", c->blob_id, le.msg);
    cx_error_set(why, rc, "not a sealed blob: %s", le.msg);
    return CX_OK;
}

/* Phase 1: each candidate's header, read without any key, against what the ledger says. A
 * store that fails is asked again (tries, backoff doubling from backoff_ms); one that still
 * fails fails the job (retried later by the worker), so no contribution is dropped for the
 * store's failure (issue 13 item 5). */
static cx_err check_headers(const cx_job_params *p, cand *cs, size_t n, const char *pool_hex,
                            const cx_ledger_pool *pool, const uint8_t key_id[32], cx_error *e)
{
    unsigned tries = p->store_tries ? p->store_tries : CX_JOB_STORE_TRIES;
    unsigned backoff = p->store_backoff_ms ? p->store_backoff_ms : CX_JOB_STORE_BACKOFF_MS;
    for (size_t i = 0; i < n; i++) {
        cand *c = &cs[i];
        cx_error le;
        if (cx_job_blob_id_str(c->c.blob_id, c->c.blob_id_len, c->blob_id, &le) != CX_OK) {
            snprintf(c->blob_id, sizeof c->blob_id, "(invalid)");
            reject(c, CX_REJECT_HEADER, "%s", le.msg);
            continue;
        }
        int got = 0;
        cx_error why;
        cx_err rc = CX_OK;
        for (unsigned t = 0; t < tries; t++) {
            if (t) {
                unsigned ms = backoff << (t - 1 < 10 ? t - 1 : 10);
                cx_log_warn(p->log, "%s (the store failed; trying again in %u ms, %u of %u)",
                            le.msg, ms, t + 1, tries);
                sleep_ms(ms);
            }
            if ((rc = read_header(p, c, key_id, pool, &got, &why, &le)) == CX_OK)
                break;
        }
        if (rc != CX_OK) /* I/O or network: the worker retries the job, it signs no failure */
            return cx_error_set(e, rc == CX_ERR_NET || rc == CX_ERR_NOMEM ? rc : CX_ERR_IO,
                                "%s (the store failed %u times: no contribution is rejected for "
                                "it; the job is retried later)",
                                le.msg, tries);
        if (!got) {
            reject(c, CX_REJECT_HEADER, "%s", why.msg);
            continue;
        }
        if (strcmp(c->h.pool_id, pool_hex) != 0) {
            reject(c, CX_REJECT_HEADER, "sealed for pool %.70s, not this pool", c->h.pool_id);
            continue;
        }
        if (strcmp(c->h.contributor, c->contributor) != 0) {
            reject(c, CX_REJECT_HEADER, "somebody else's blob: sealed by %.70s, registered by %s",
                   c->h.contributor, c->contributor);
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            if (cs[j].state && memcmp(cs[j].h.header_hash, c->h.header_hash, 32) == 0) {
                reject(c, CX_REJECT_HEADER, "duplicate of blob %s (same sealed header)",
                       cs[j].blob_id);
                dup = 1;
            }
        if (dup)
            continue;
        if (c->h.content_type != CX_CONTENT_CSV && c->h.content_type != CX_CONTENT_JSONL &&
            c->h.content_type != CX_CONTENT_F32) {
            reject(c, CX_REJECT_HEADER, "content type %s is not training data",
                   cx_content_type_name(c->h.content_type));
            continue;
        }
        c->state = 1;
    }
    return CX_OK;
}

/* Whether some blob still in the job (state 2) belongs to a contributor with a late failure. */
static int disqualify_pending(const cand *cs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cs[i].state == 0 && cs[i].late_fail)
            for (size_t j = 0; j < n; j++)
                if (cs[j].state == 2 &&
                    cx_chain_id_equal(&cs[j].c.contributor, &cs[i].c.contributor))
                    return 1;
    return 0;
}

/* Leave out every remaining blob of a contributor with a late failure; returns how many. */
static size_t disqualify(cand *cs, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].state != 0 || !cs[i].late_fail)
            continue;
        for (size_t j = 0; j < n; j++)
            if (cs[j].state == 2 && cx_chain_id_equal(&cs[j].c.contributor, &cs[i].c.contributor)) {
                reject(&cs[j], CX_REJECT_CONTRIBUTOR,
                       "left out: blob %s of the same contributor failed", cs[i].blob_id);
                k++;
            }
    }
    return k;
}

/* The blob store is outside the TEE: every read of a blob may serve other bytes than the last
 * one. What the job uses must be what it checked (issue 13 item 4: a store that showed a
 * contributor's own header on the checking read and another contributor's blob on the
 * decrypting one had the same rows paid twice). So the decrypting read's header must hash to
 * the checked header (the pipeline authenticates every chunk under that header), and a
 * second decryption must also give the first one's chunk tags. A store that answers two
 * reads of one id differently is failing, not the contributor: the job fails with an I/O
 * error, which the worker retries, and no contributor is dropped or paid for it. */
static cx_err check_same_blob(const cand *c, const cx_pipeline_result *r, int second, cx_error *e)
{
    if (!r->header_ok)
        return cx_error_set(e, CX_ERR_IO,
                            "blob %s: the store served a blob whose header does not parse on "
                            "the decrypting read, after one that did on the checking read",
                            c->blob_id);
    if (memcmp(r->header.header_hash, c->h.header_hash, 32) != 0)
        return cx_error_set(e, CX_ERR_IO,
                            "blob %s: the store served another blob on the %s read than the "
                            "one whose header was checked (header hash differs)",
                            c->blob_id, second ? "second decrypting" : "decrypting");
    if (second && (r->status != CX_OK || memcmp(r->tag_hash, c->tag_hash, 32) != 0))
        return cx_error_set(e, CX_ERR_IO,
                            "blob %s: the store served other chunks on the second decrypting "
                            "read than on the first%s%s",
                            c->blob_id, r->status != CX_OK ? ": " : "",
                            r->status != CX_OK ? r->error : "");
    return CX_OK;
}

/* Run the pipeline over the candidates in state `want`, feeding the parser (blob k of the
 * parser = the k-th such candidate). First pass (fatal = 0): blobs that fail to authenticate
 * are rejected, the others move to state want + 1 with their tag hash; *n_failed counts the
 * failures. Re-parse pass (fatal = 1): only blobs that authenticated a moment ago, so a
 * failure now means the store changed under us and the job is retried. In both passes a blob
 * whose decrypting read is not the checked one fails the job (check_same_blob). */
static cx_err run_pipeline(const cx_job_params *p, const cx_device_choice *dev,
                           const cx_cxb_keys *keys, cand *cs, size_t n, int owner, int want,
                           cx_parser *parser, int fatal, size_t *n_failed, cx_error *e)
{
    /* blobs go through the pipeline in batches, so a pool of thousands of blobs does not
     * hold thousands of open store readers (file descriptors, connections) at once */
    enum { BATCH = 64 };
    size_t m = 0;
    *n_failed = 0;
    uint64_t total = 0;
    /* owner -1: every candidate; else only those of that rank */
#define TAKES(c) ((c).state == want && (owner < 0 || (c).owner == owner))
    for (size_t i = 0; i < n; i++)
        if (TAKES(cs[i])) {
            m++;
            total += cs[i].h.plaintext_len;
        }
    if (m == 0)
        return CX_OK;
    cx_pipeline_blob blobs[BATCH];
    cx_pipeline_result res[BATCH];
    size_t map[BATCH];
    cx_err rc = CX_OK;
    cx_progress prog;
    cx_progress_start(&prog, fatal ? "re-parsing" : "decrypting", total, p->progress);
    char job_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&p->job_id, job_hex);
    pipe_ud u = {.parser = parser,
                 .prog = &prog,
                 .log = p->log,
                 .status = p->status,
                 .job_hex = job_hex,
                 .total = total,
                 .blobs_total = m};
    cx_pipeline_consumer cons = {.chunk = on_chunk, .ud = &u};
    cx_pipeline_config cfg = {.threads = p->threads,
                              .policy = fatal ? CX_PIPELINE_FATAL : CX_PIPELINE_SKIP,
                              .log = p->log,
                              .known_keys = keys->known,
                              .n_known_keys = keys->n_known};
    /* blobs may be sealed with chunks larger than the default buffers (seal --chunk-size) */
    uint32_t max_chunk = 0;
    for (size_t i = 0; i < n; i++)
        if (TAKES(cs[i]) && cs[i].h.chunk_size > max_chunk)
            max_chunk = cs[i].h.chunk_size;
    cx_pipeline_config_fit(&cfg, max_chunk, CX_PIPELINE_LARGE_CHUNK_BUDGET);
    /* with the CUDA backend: plaintext chunks in pinned memory, decrypt threads near the GPU */
    cx_device_pipeline dp;
    cx_device_pipeline_setup(dev, &dp, &cfg, p->log);
    size_t next = 0; /* next candidate index to look at */
    while (rc == CX_OK && u.base < m) {
        size_t nb = 0;
        memset(blobs, 0, sizeof blobs);
        memset(res, 0, sizeof res);
        for (; next < n && nb < BATCH; next++) {
            if (!TAKES(cs[next]))
                continue;
            blobs[nb].id = cs[next].blob_id;
            blobs[nb].fd = -1;
            double t_get = cx_now_seconds();
            rc = cx_store_get(p->store, cs[next].blob_id, &blobs[nb].reader, e);
            cx_status_call(p->status, "store", "get", cx_now_seconds() - t_get, rc);
            if (rc != CX_OK)
                break;
            map[nb++] = next;
        }
        cx_error pe;
        cx_err prc =
            rc == CX_OK ? cx_pipeline_run(&cfg, keys->x25519, blobs, nb, &cons, res, &pe) : rc;
        for (size_t k = 0; k < nb; k++)
            if (blobs[k].reader.close)
                blobs[k].reader.close(blobs[k].reader.ctx);
        if (rc != CX_OK)
            break;
        for (size_t k = 0; k < nb && rc == CX_OK; k++) {
            if (!res[k].header_ok && res[k].status == CX_ERR_STATE)
                continue; /* not reached: the run stopped for another reason (prc) */
            /* a store that fails while a blob is read is not the contributor's doing: the
             * job is retried later rather than the blob rejected */
            if (res[k].status == CX_ERR_IO || res[k].status == CX_ERR_NET ||
                res[k].status == CX_ERR_NOMEM)
                rc = cx_error_set(e, res[k].status, "reading %s", res[k].error);
            else
                rc = check_same_blob(&cs[map[k]], &res[k], fatal, e);
        }
        if (rc != CX_OK)
            break;
        if (fatal) {
            if (prc != CX_OK) /* authenticated a moment ago: the store changed under us */
                rc = cx_error_set(e, CX_ERR_IO, "decrypting for parsing: %s", pe.msg);
        } else {
            int any_failed = 0;
            for (size_t k = 0; k < nb; k++) {
                cand *c = &cs[map[k]];
                if (res[k].status == CX_OK) {
                    c->state = want + 1;
                    memcpy(c->tag_hash, res[k].tag_hash, 32);
                    memcpy(c->used_header_hash, res[k].header.header_hash, 32);
                } else {
                    reject(c, CX_REJECT_DECRYPT, "tampered or corrupt: %s", res[k].error);
                    c->late_fail = 1;
                    ++*n_failed;
                    any_failed = 1;
                }
            }
            /* SKIP policy: failed blobs are in the results; anything else is fatal */
            if (prc != CX_OK && !any_failed)
                rc = cx_error_set(e, prc, "decryption pipeline: %s", pe.msg);
        }
        u.base += nb;
    }
    cx_progress_finish(&prog);
    return rc;
#undef TAKES
}

typedef struct epoch_ud {
    cx_progress *prog;
    const cx_logger *log;
    cx_status *status;
    const char *job_hex;
    int epochs;
    double t_last;                 /* when the previous epoch ended */
    json_t *train_loss, *val_loss; /* the curve for the job report (aggregates only) */
} epoch_ud;

/* A loss as JSON: null when not finite (jansson has no NaN). */
static json_t *loss_json(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static void on_epoch(void *ud, int epoch, double train_loss, double val_loss, double lr)
{
    epoch_ud *u = ud;
    double now = cx_now_seconds();
    cx_status_job_epoch(u->status, u->job_hex, epoch, u->epochs, train_loss, val_loss,
                        now - u->t_last);
    u->t_last = now;
    cx_progress_update(u->prog, (uint64_t)epoch);
    cx_log_info(u->log, "epoch %d: train loss %.5f, validation loss %.5f, lr %.3g", epoch,
                train_loss, val_loss, lr);
    if (json_array_size(u->train_loss) < CX_JOB_CURVE_MAX) {
        json_array_append_new(u->train_loss, loss_json(train_loss));
        json_array_append_new(u->val_loss, loss_json(val_loss));
    }
}

static int addr_cmp(const void *a, const void *b)
{
    return memcmp(a, b, CX_CHAIN_ID_LEN);
}

/* Everything one run of cx_job_execute holds, so each phase below is a function over it;
 * job_run_free releases what the phases took. */
typedef struct job_run {
    const cx_job_params *p;
    cx_job_output *out;
    double t0;
    cx_secmem_stats sm0; /* secure memory when the job started */
    char job_hex[CX_CHAIN_ID_HEX_LEN + 1], pool_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_ledger_job job;
    cx_ledger_pool pool;
    cx_ledger_enclave enc;
    uint8_t *doc; /* this TEE's own attestation document */
    size_t doc_len;
    cx_nitro_doc nd;
    uint8_t *req; /* the job request */
    size_t req_len;
    uint8_t config_hash[32], buyer_x[32];
    cx_spec spec;
    int spec_ok;
    cx_compute_budget budget; /* min(the operator's, the pool's policy) */
    cx_backend *be;
    cx_device_choice dev;
    json_t *report;
    cx_ledger_contribution *contribs;
    size_t n_contribs;
    cand *cs;
    size_t n_cands;
    cx_x25519_key *key;
    cx_cxb_known_key *known;         /* data keys of Seal-sealed blobs (secure memory) */
    json_t *curve_train, *curve_val; /* loss per epoch, for the report */
    size_t n_known;
    cx_data_format fmt;
    size_t n_ok; /* header-valid blobs of the job's format */
    json_t *data;
    cx_dataset_schema *schema;
    cx_parser *parser;
    cx_dataset *ds;
    double t_dec;
    int reparsed;
    cx_statement_rows *srows;
    size_t n_rows;
    cx_job_commit_item *items;
    size_t n_items;
    uint64_t total_rows;
    uint8_t commitment[32];
    cx_model *model;
    cx_train_result tr;
    double eps, order;
    json_t *extra;
    uint8_t *model_bytes; /* plaintext model: secure memory */
    size_t model_len;
    cx_x25519_key *model_key; /* the model's own key (RULES.md §2.2) */
    cx_job_membuf sealed;     /* ciphertext: plain malloc is fine */
    uint8_t result_hash[32];
    /* across ranks (p->comm of more than one): the ranks that met for this job; this process
     * is rank 0 (cx_job_execute) or another rank (cx_job_execute_rank) */
    cx_job_ranks *ranks;
    uint8_t leader_pk[32]; /* rank 0's enclave key, which every rank's document binds */
    int alone;             /* the job runs on rank 0 alone (ranks met, nothing split) */
    int owes;              /* rank 0: what the other ranks wait for next (RANKS_OWE_*) */
    int follower;          /* this process is not rank 0 */
    /* another rank's failure after the plan arrived, held for the first exchange (the other
     * ranks are waiting there, not in the plan) */
    cx_err held_rc;
    cx_error held;
} job_run;

enum { RANKS_OWE_NONE = 0, RANKS_OWE_PLAN, RANKS_OWE_GO };

static void job_run_free(job_run *r)
{
    json_decref(r->report);
    json_decref(r->curve_train);
    json_decref(r->curve_val);
    json_decref(r->data);
    json_decref(r->extra);
    cx_nitro_doc_free(&r->nd);
    free(r->doc);
    free(r->sealed.p);
    cx_secmem_free(r->model_bytes);
    cx_backend_destroy(r->be);
    cx_model_free(r->model);
    cx_dataset_free(r->ds);
    cx_parser_free(r->parser);
    cx_dataset_schema_free(r->schema);
    cx_x25519_key_free(r->key);
    cx_x25519_key_free(r->model_key);
    cx_secmem_free(r->known);
    for (size_t i = 0; i < r->n_cands; i++) {
        free(r->cs[i].key_object);
        free(r->cs[i].header_raw);
    }
    free(r->cs);
    cx_job_ranks_free(r->ranks);
    free(r->items);
    free(r->srows);
    free(r->contribs);
    free(r->req);
    if (r->spec_ok)
        cx_spec_free(&r->spec);
}

/* the job (accepted by this enclave), its pool, and the registered enclave, which must hold
 * this TEE's keys */
static cx_err load_job(job_run *r, cx_error *e)
{
    const cx_job_params *p = r->p;
    cx_err rc;
    if ((rc = cx_ledger_job_get(p->ledger, &p->job_id, &r->job, e)) != CX_OK)
        return rc;
    /* only a job this enclave accepted: its escrow is locked to this enclave's result */
    if (r->job.state != CX_LEDGER_JOB_ACCEPTED ||
        !cx_chain_id_equal(&r->job.enclave_id, &p->enclave_id))
        return cx_error_set(e, CX_ERR_STATE, "job %s is %s, not accepted by this enclave",
                            r->job_hex, cx_ledger_job_state_name(r->job.state));
    if ((rc = cx_ledger_pool_get(p->ledger, &r->job.pool_id, &r->pool, e)) != CX_OK)
        return rc;
    cx_chain_id_to_hex(&r->job.pool_id, r->pool_hex);
    if ((rc = cx_ledger_enclave_get(p->ledger, &p->enclave_id, &r->enc, e)) != CX_OK)
        return rc;
    uint8_t ed_pk[32], x_pk[32];
    cx_tee_public_keys(p->tee, ed_pk, x_pk);
    if (memcmp(ed_pk, r->enc.ed25519_pk, 32) != 0 || memcmp(x_pk, r->enc.x25519_pk, 32) != 0)
        return cx_error_set(e, CX_ERR_STATE,
                            "this TEE's keys are not those of the registered "
                            "enclave (re-register with `cloakx enclave register`)");
    return CX_OK;
}

/* this TEE's own measurement, as its report gives it: what the statement will carry */
static cx_err check_measurement(job_run *r, cx_error *e)
{
    cx_err rc;
    if ((rc = cx_tee_attest(r->p->tee, NULL, 0, NULL, 0, &r->doc, &r->doc_len, e)) != CX_OK ||
        (rc = cx_nitro_doc_parse(r->doc, r->doc_len, &r->nd, e)) != CX_OK)
        return rc;
    if (!(r->nd.pcr_present & 1u) || r->nd.pcr_len[0] != r->enc.measurement_len ||
        memcmp(r->nd.pcr[0], r->enc.measurement, r->enc.measurement_len) != 0)
        return cx_error_set(e, CX_ERR_STATE,
                            "this code's measurement (PCR0) is not the registered "
                            "enclave's: the binary changed since `cloakx enclave "
                            "register`; register it again");
    return CX_OK;
}

/* the job request: spec and the buyer's key, bound by the spec hash on the ledger */
static cx_err read_request(job_run *r, cx_error *e)
{
    cx_err rc;
    char spec_id[CX_STORE_ID_MAX];
    if ((rc = cx_job_blob_id_str(r->job.spec_blob_id, r->job.spec_blob_id_len, spec_id, e)) !=
            CX_OK ||
        (rc = cx_job_store_read_all(r->p->store, spec_id, 1 << 20, &r->req, &r->req_len, e)) !=
            CX_OK) {
        cx_error_prefix(e, "job request: ");
        return rc;
    }
    SHA256(r->req, r->req_len, r->config_hash);
    if (memcmp(r->config_hash, r->job.spec_hash, 32) != 0)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "job request: its SHA-256 is not the job's spec hash");
    if ((rc = cx_job_request_parse(r->req, r->req_len, &r->spec, r->buyer_x, e)) != CX_OK)
        return rc;
    r->spec_ok = 1;
    /* the spec alone bounds parameters (from one feature) and epochs: refused before any
     * blob is fetched or decrypted */
    cx_job_budget_for_pool(&r->p->budget, &r->pool.policy, &r->budget);
    cx_compute_cost cost;
    cx_spec_cost(&r->spec, 1, 2, 0, &cost);
    if ((rc = cx_compute_budget_check(&r->budget, &cost, e)) != CX_OK)
        return rc;
    /* the data's format, columns, label, vocabularies and classes: the spec's, never a blob's */
    if ((rc = cx_job_spec_check(&r->spec, &r->data, &r->schema, e)) != CX_OK)
        return rc;
    /* the pool's policy as the ledger holds it (RULES.md §9.8), whatever the buyer's client
     * checked */
    if ((rc = cx_job_policy_check(&r->spec, r->schema, &r->pool.policy, e)) != CX_OK)
        return rc;
    cx_dataset_schema_format(r->schema, &r->fmt);
    return CX_OK;
}

/* the compute device first: the decrypt pipeline's buffers and threads follow it */
static cx_err select_device(job_run *r, cx_error *e)
{
    const cx_job_params *p = r->p;
    cx_err rc;
    if ((rc = cx_backend_select(p->device ? p->device : "auto", r->spec.precision, r->spec.threads,
                                &r->be, &r->dev, e)) != CX_OK)
        return rc;
    cx_log_info(p->log, "job %s: device %s", r->job_hex, r->dev.report);
    cx_status_job_device(p->status, r->job_hex, r->dev.report);

    r->report = json_object();
    if (!r->report)
        return cx_error_set(e, CX_ERR_NOMEM, "report: out of memory");
    json_object_set_new(r->report, "job", json_string(r->job_hex));
    json_object_set_new(r->report, "pool", json_string(r->pool_hex));
    json_object_set_new(r->report, "tee",
                        json_pack("{s:s, s:b}", "backend", cx_tee_backend_name(p->tee), "simulated",
                                  cx_tee_is_simulated(p->tee)));
    return CX_OK;
}

/* the contributions registered before the job was created: a fixed, auditable set, their
 * headers checked and put in canonical (blob id) order, for the parser's merge order and the
 * commitment */
/* The data keys of the header-valid Seal-sealed blobs (suite 2), from the key servers, asked
 * as this enclave; each bound to its header's hash (cx_cxb_known_key). A blob whose Seal object
 * is at fault (another package, key servers this enclave does not use, shares that do not open)
 * fails alone, like a blob it cannot decrypt, so no seller can stall a job; key servers that
 * fail or refuse fail the job unsigned (retried later): that is not the seller's fault. */
static cx_err recover_seal_keys(job_run *r, cx_error *e)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_cands; i++)
        n += r->cs[i].state == 1 && r->cs[i].h.suite == CX_CXB_SUITE_KEY_OBJECT;
    if (n == 0)
        return CX_OK;
#ifdef CX_HAVE_SEAL
    const cx_job_params *p = r->p;
    /* CX_ERR_NET: what the worker retries (the key servers are a network service) */
    if (!p->seal)
        return cx_error_set(e, CX_ERR_NET,
                            "job %s: %zu contribution(s) are sealed with Seal and this worker has "
                            "no key servers (--keyservers FILE): the job is retried once it has",
                            r->job_hex, n);
    uint8_t(*keys)[32] = cx_secmem_alloc(n * 32, 0, e);
    const uint8_t **objs = calloc(n, sizeof *objs);
    size_t *lens = calloc(n, sizeof *lens), *which = calloc(n, sizeof *which);
    cx_err *rcs = calloc(n, sizeof *rcs);
    cx_error *whys = calloc(n, sizeof *whys);
    r->known = cx_secmem_alloc(n * sizeof *r->known, 0, e);
    cx_err rc = keys && objs && lens && which && rcs && whys && r->known
                    ? CX_OK
                    : cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
    size_t m = 0;
    for (size_t i = 0; rc == CX_OK && i < r->n_cands; i++)
        if (r->cs[i].state == 1 && r->cs[i].h.suite == CX_CXB_SUITE_KEY_OBJECT) {
            objs[m] = r->cs[i].key_object;
            lens[m] = r->cs[i].h.key_object_len;
            which[m++] = i;
        }
    double t = cx_now_seconds();
    if (rc == CX_OK) {
        rc = cx_seal_dataset_keys(p->seal, p->tee, &r->pool, objs, lens, m, keys, rcs, whys, e);
        cx_status_call(p->status, "seal", "fetch_key", cx_now_seconds() - t, rc);
        if (rc != CX_OK && rc != CX_ERR_NOMEM)
            rc = cx_error_wrap(CX_ERR_NET, e,
                               "job %s: %zu Seal-sealed blob(s) (the job is retried later; no "
                               "contribution is rejected for it): ",
                               r->job_hex, m);
    }
    for (size_t j = 0; rc == CX_OK && j < m; j++) {
        cand *c = &r->cs[which[j]];
        if (rcs[j] == CX_OK) {
            cx_cxb_known_key *k = &r->known[r->n_known++];
            memcpy(k->data_key, keys[j], 32);
            memcpy(k->header_hash, c->h.header_hash, 32);
        } else {
            /* the seller's object: another package, other key servers, shares that do not
             * open: the blob fails alone, as one that does not decrypt */
            reject(c, CX_REJECT_DECRYPT, "its Seal object: %s", whys[j].msg);
            c->late_fail = 1;
        }
    }
    cx_secmem_free(keys);
    free(objs);
    free(lens);
    free(which);
    free(rcs);
    free(whys);
    if (rc == CX_OK)
        cx_log_info(p->log,
                    "job %s: %zu data key(s) released by the Seal key servers (%zu blob(s) in "
                    "one request per set of key servers)",
                    r->job_hex, r->n_known, m);
    return rc;
#else
    return cx_error_set(e, CX_ERR_UNSUPPORTED,
                        "job %s: %zu contribution(s) are sealed with Seal: this build has none",
                        r->job_hex, n);
#endif
}

static cx_err open_contributions(job_run *r, cx_error *e)
{
    const cx_job_params *p = r->p;
    cx_err rc;
    if ((rc = cx_ledger_contributions_list(p->ledger, &r->job.pool_id, &r->contribs, &r->n_contribs,
                                           e)) != CX_OK)
        return rc;
    r->cs = calloc(r->n_contribs ? r->n_contribs : 1, sizeof *r->cs);
    if (!r->cs)
        return cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
    for (size_t i = 0; i < r->n_contribs; i++) {
        if (r->contribs[i].created_ms > r->job.created_ms)
            continue;
        cand *c = &r->cs[r->n_cands++];
        c->c = r->contribs[i];
        cx_chain_id_to_hex(&r->contribs[i].contributor, c->contributor);
    }
    cx_log_info(p->log, "job %s: %zu contribution(s) in the pool", r->job_hex, r->n_cands);

    if ((rc = cx_x25519_key_from_secret(cx_tee_x25519_secret(p->tee), &r->key, e)) != CX_OK)
        return rc;
    uint8_t key_id[32];
    cx_x25519_key_id(r->key, key_id);
    if ((rc = check_headers(p, r->cs, r->n_cands, r->pool_hex, &r->pool, key_id, e)) != CX_OK ||
        (rc = recover_seal_keys(r, e)) != CX_OK)
        return rc;
    cand *cs = r->cs;
    for (size_t i = 0; i + 1 < r->n_cands; i++)
        for (size_t j = i + 1; j < r->n_cands; j++)
            if (cx_job_blob_id_cmp(cs[i].blob_id, cs[j].blob_id) > 0) {
                cand t = cs[i];
                cs[i] = cs[j];
                cs[j] = t;
            }
    return CX_OK;
}

/* ---------------------------------------------------------- across ranks -- */

/* What crosses between the ranks of a job crosses the sealed channel (cx_job_ranks.sealed) as
 * these structs' bytes: every rank attested the same measurement, hence runs this same build
 * and lays them out alike. Padding is zeroed before anything is sent. */
typedef struct rank_status {
    int32_t rc;    /* cx_err of the sender's part */
    int32_t empty; /* the sender holds no accepted row: the job runs on rank 0 alone */
    char msg[CX_ERROR_MSG_MAX];
} rank_status;

typedef struct plan_head {
    rank_status st; /* rank 0's own failure before the plan: every rank stops */
    uint32_t alone; /* 1: rank 0 runs the job by itself, the other ranks stop here */
    uint32_t n_cands, req_len;
} plan_head;

/* One candidate of the plan; data_key only for one in state 1 (secure memory). */
typedef struct plan_rec {
    char blob_id[CX_STORE_ID_MAX];
    uint8_t contributor[32], header_hash[32], data_key[32];
    uint64_t plaintext_len;
    uint32_t chunk_size;
    int32_t owner;
    uint8_t state, klass, late_fail;
} plan_rec;

/* One candidate's outcome on the rank that owns it. */
typedef struct outcome_rec {
    uint8_t state, klass, late_fail;
    uint8_t tag_hash[32], used_header_hash[32];
    uint64_t rows, bad_rows;
    char reason[300];
} outcome_rec;

static int dist(const job_run *r)
{
    return r->ranks && !r->alone;
}

static size_t count_state(const cand *cs, size_t n, int owner, int state)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += cs[i].state == state && (owner < 0 || cs[i].owner == owner);
    return k;
}

/* Rank 0's failure as the other ranks report it. */
static cx_err rank0_failed(const rank_status *st, cx_error *e)
{
    if (st->rc == CX_OK)
        return CX_OK;
    return cx_error_set(e, (cx_err)st->rc, "rank 0: %.*s", (int)sizeof st->msg, st->msg);
}

static void status_set(rank_status *st, cx_err rc, const cx_error *le)
{
    memset(st, 0, sizeof *st);
    st->rc = (int32_t)rc;
    if (rc != CX_OK)
        snprintf(st->msg, sizeof st->msg, "%s", le->msg);
}

/* Every rank of the job meets (rank 0 here; the others in cx_job_execute_rank): attested, bound
 * to the job and to this enclave's key, checked against one another, the channel sealed. */
static cx_err join_ranks(job_run *r, cx_error *e)
{
    const cx_job_params *p = r->p;
    if (!p->comm || p->comm->size < 2)
        return CX_OK;
    if (!r->follower) { /* load_job checks it is the registered enclave's */
        uint8_t x[32];
        cx_tee_public_keys(p->tee, r->leader_pk, x);
    }
    cx_nitro_policy pol = {.allow_simulated = cx_tee_is_simulated(p->tee)};
    if (p->rank_policy)
        pol = *p->rank_policy;
    cx_err rc =
        cx_job_ranks_join(p->comm, p->tee, &pol, p->job_id.b, r->leader_pk, p->log, &r->ranks, e);
    if (rc != CX_OK)
        return rc;
    if (!r->follower)
        r->owes = RANKS_OWE_PLAN;
    cx_log_info(p->log,
                "job %s: rank %d of %d: every rank attested the same measurement; channel "
                "sealed",
                r->job_hex, r->ranks->rank, r->ranks->size);
    return CX_OK;
}

/* Rank 0 tells the other ranks what they wait for when it fails first: the plan or the go
 * with its error, so that they stop rather than wait in a collective for good. */
static void ranks_owe_failure(job_run *r, const cx_error *why)
{
    if (!r->ranks || r->owes == RANKS_OWE_NONE)
        return;
    cx_comm *c = r->ranks->sealed;
    cx_error le;
    /* the plan's head starts with its status: the go is that status alone */
    plan_head h;
    memset(&h, 0, sizeof h);
    status_set(&h.st, why->code != CX_OK ? why->code : CX_ERR_INTERNAL, why);
    size_t len = r->owes == RANKS_OWE_PLAN ? sizeof h : sizeof h.st;
    if (c->bcast(c, &h, len, 0, &le) != CX_OK)
        cx_log_warn(r->p->log, "job %s: telling the ranks: %s", r->job_hex, le.msg);
    r->owes = RANKS_OWE_NONE;
}

/* Rank 0's data keys for the suite-1 blobs still in the job (the Seal ones are known already):
 * handed to the rank that decrypts each. A header whose key does not open fails alone, as it
 * would in the pipeline. */
static cx_err open_data_keys(job_run *r, cx_error *e)
{
    size_t m = 0;
    for (size_t i = 0; i < r->n_cands; i++)
        m += r->cs[i].state == 1 && r->cs[i].h.suite != CX_CXB_SUITE_KEY_OBJECT;
    cx_cxb_known_key *k = cx_secmem_alloc((r->n_known + m + 1) * sizeof *k, 0, e);
    if (!k)
        return CX_ERR_NOMEM;
    if (r->n_known)
        memcpy(k, r->known, r->n_known * sizeof *k);
    cx_secmem_free(r->known);
    r->known = k;
    for (size_t i = 0; i < r->n_cands; i++) {
        cand *c = &r->cs[i];
        if (c->state != 1 || c->h.suite == CX_CXB_SUITE_KEY_OBJECT)
            continue;
        cx_cxb_known_key *x = &r->known[r->n_known];
        cx_error why;
        cx_err rc =
            cx_cxb_header_data_key(c->header_raw, c->header_raw_len, r->key, x->data_key, &why);
        if (rc == CX_ERR_NOMEM)
            return cx_error_set(e, rc, "job: out of memory");
        if (rc != CX_OK) {
            reject(c, CX_REJECT_DECRYPT, "tampered or corrupt: %s", why.msg);
            c->late_fail = 1;
            continue;
        }
        memcpy(x->header_hash, c->h.header_hash, 32);
        r->n_known++;
    }
    return CX_OK;
}

/* Rank 0: which rank decrypts which blob (balanced by bytes, cx_comm_assign_by_size) and its
 * key, with the job request, to every rank. A job the ranks cannot split runs on rank 0 alone:
 * fewer blobs than ranks, or gaps filled with the data's own means (a statistic of all rows). */
static cx_err plan_ranks(job_run *r, cx_error *e)
{
    if (!r->ranks)
        return CX_OK;
    cx_comm *c = r->ranks->sealed;
    const int P = r->ranks->size;
    const char *missing = json_string_value(json_object_get(r->data, "missing"));
    cx_err rc = CX_OK;
    if (missing && strcmp(missing, "mean") == 0) {
        r->alone = 1;
        cx_log_info(r->p->log,
                    "job %s: \"missing\": \"mean\" fills gaps with the means of all "
                    "rows: rank 0 runs it alone",
                    r->job_hex);
    } else if ((rc = open_data_keys(r, e)) == CX_OK &&
               count_state(r->cs, r->n_cands, -1, 1) < (size_t)P) {
        r->alone = 1;
        cx_log_info(r->p->log, "job %s: fewer blobs than ranks: rank 0 runs it alone", r->job_hex);
    }
    uint64_t *sizes = NULL;
    int *rank_of = NULL;
    size_t *which = NULL, m = 0;
    if (rc == CX_OK && !r->alone) {
        sizes = calloc(r->n_cands, sizeof *sizes);
        rank_of = calloc(r->n_cands, sizeof *rank_of);
        which = calloc(r->n_cands, sizeof *which);
        if (!sizes || !rank_of || !which)
            rc = cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
        for (size_t i = 0; rc == CX_OK && i < r->n_cands; i++)
            if (r->cs[i].state == 1) {
                sizes[m] = r->cs[i].h.plaintext_len;
                which[m++] = i;
            }
        if (rc == CX_OK)
            rc = cx_comm_assign_by_size(sizes, m, P, rank_of, NULL, e);
        for (size_t i = 0; i < r->n_cands; i++)
            r->cs[i].owner = -1;
        for (size_t j = 0; rc == CX_OK && j < m; j++)
            r->cs[which[j]].owner = rank_of[j];
    }
    free(sizes);
    free(rank_of);
    free(which);
    if (rc != CX_OK)
        return rc; /* ranks_owe_failure tells the ranks */
    plan_head h;
    memset(&h, 0, sizeof h);
    h.alone = (uint32_t)r->alone;
    h.n_cands = (uint32_t)r->n_cands;
    h.req_len = (uint32_t)r->req_len;
    r->owes = RANKS_OWE_NONE;
    if ((rc = c->bcast(c, &h, sizeof h, 0, e)) != CX_OK || r->alone)
        return rc;
    if ((rc = c->bcast(c, r->req, r->req_len, 0, e)) != CX_OK)
        return rc;
    /* the records carry data keys: secure memory, wiped when freed */
    plan_rec *recs = cx_secmem_alloc(r->n_cands * sizeof *recs + 1, 0, e);
    if (!recs)
        return CX_ERR_NOMEM; /* the others fail in their first exchange, waiting: MPI ends it */
    for (size_t i = 0; i < r->n_cands; i++) {
        const cand *x = &r->cs[i];
        plan_rec *o = &recs[i];
        memset(o, 0, sizeof *o);
        snprintf(o->blob_id, sizeof o->blob_id, "%s", x->blob_id);
        memcpy(o->contributor, x->c.contributor.b, 32);
        memcpy(o->header_hash, x->h.header_hash, 32);
        o->plaintext_len = x->h.plaintext_len;
        o->chunk_size = x->h.chunk_size;
        o->owner = x->owner;
        o->state = (uint8_t)x->state;
        o->klass = x->klass;
        o->late_fail = (uint8_t)x->late_fail;
        for (size_t k = 0; x->state == 1 && k < r->n_known; k++)
            if (memcmp(r->known[k].header_hash, x->h.header_hash, 32) == 0)
                memcpy(o->data_key, r->known[k].data_key, 32);
    }
    rc = c->bcast(c, recs, r->n_cands * sizeof *recs, 0, e);
    cx_secmem_free(recs);
    if (rc == CX_OK)
        cx_log_info(r->p->log, "job %s: %zu blob(s) across %d ranks, balanced by size", r->job_hex,
                    count_state(r->cs, r->n_cands, -1, 1), P);
    return rc;
}

/* Another rank: rank 0's plan: the job request (its spec parsed as rank 0 parsed it), the
 * candidates with their owners, and the data keys of this rank's blobs. */
static cx_err recv_plan(job_run *r, cx_error *e)
{
    cx_comm *c = r->ranks->sealed;
    plan_head h;
    cx_err rc = c->bcast(c, &h, sizeof h, 0, e);
    if (rc != CX_OK || (rc = rank0_failed(&h.st, e)) != CX_OK)
        return rc;
    r->alone = h.alone != 0;
    if (r->alone)
        return CX_OK;
    if (h.req_len == 0 || h.req_len > (1u << 20) || h.n_cands > 10000000u)
        return cx_error_set(e, CX_ERR_FORMAT, "rank 0's plan: %u candidates, request %u bytes",
                            h.n_cands, h.req_len);
    if (!(r->req = malloc(h.req_len)))
        return cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
    r->req_len = h.req_len;
    if ((rc = c->bcast(c, r->req, r->req_len, 0, e)) != CX_OK)
        return rc;
    plan_rec *recs = cx_secmem_alloc((size_t)h.n_cands * sizeof *recs + 1, 0, e);
    r->cs = calloc(h.n_cands ? h.n_cands : 1, sizeof *r->cs);
    r->known = cx_secmem_alloc(((size_t)h.n_cands + 1) * sizeof *r->known, 0, e);
    if (!recs || !r->cs || !r->known) {
        cx_secmem_free(recs);
        return cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
    }
    rc = c->bcast(c, recs, (size_t)h.n_cands * sizeof *recs, 0, e);
    for (size_t i = 0; rc == CX_OK && i < h.n_cands; i++) {
        const plan_rec *o = &recs[i];
        cand *x = &r->cs[r->n_cands++];
        memcpy(x->blob_id, o->blob_id, sizeof x->blob_id);
        x->blob_id[sizeof x->blob_id - 1] = '\0';
        memcpy(x->c.contributor.b, o->contributor, 32);
        memcpy(x->h.header_hash, o->header_hash, 32);
        x->h.plaintext_len = o->plaintext_len;
        x->h.chunk_size = o->chunk_size;
        x->owner = o->owner;
        x->state = o->state;
        x->klass = o->klass;
        x->late_fail = o->late_fail;
        if (o->owner == r->ranks->rank && o->state == 1) {
            cx_cxb_known_key *k = &r->known[r->n_known++];
            memcpy(k->header_hash, o->header_hash, 32);
            memcpy(k->data_key, o->data_key, 32);
        }
    }
    cx_secmem_free(recs);
    if (rc != CX_OK)
        return rc;
    uint8_t buyer_x[32];
    cx_err prc = cx_job_request_parse(r->req, r->req_len, &r->spec, buyer_x, &r->held);
    r->spec_ok = prc == CX_OK;
    if (prc == CX_OK)
        prc = cx_job_spec_check(&r->spec, &r->data, &r->schema, &r->held);
    if (prc == CX_OK)
        cx_dataset_schema_format(r->schema, &r->fmt);
    r->held_rc = prc;
    return CX_OK;
}

/* The job's data format is the spec's: a blob in another format is rejected alone. */
static cx_data_format format_of(cx_content_type ct)
{
    return ct == CX_CONTENT_JSONL ? CX_DATA_JSONL
           : ct == CX_CONTENT_F32 ? CX_DATA_F32
                                  : CX_DATA_CSV;
}

static const char *format_name(cx_data_format f)
{
    return f == CX_DATA_JSONL ? "jsonl" : f == CX_DATA_F32 ? "f32" : "csv";
}

/* the blobs in the spec's format; the parser for them */
static cx_err choose_format(job_run *r, cx_error *e)
{
    cand *cs = r->cs;
    for (size_t i = 0; i < r->n_cands; i++) {
        if (cs[i].state != 1)
            continue;
        if (format_of(cs[i].h.content_type) != r->fmt)
            reject(&cs[i], CX_REJECT_FORMAT, "content type %s is not the job's format %s",
                   cx_content_type_name(cs[i].h.content_type), format_name(r->fmt));
        else
            r->n_ok++;
    }
    if (r->n_ok == 0)
        return cx_error_set(e, CX_ERR_STATE, "job %s: no contribution passed the header checks",
                            r->job_hex);
    cx_err rc = cx_parser_new(r->schema, r->fmt, r->n_ok, &r->parser, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "job spec data: ");
    return CX_OK;
}

/* What the finalized dataset says of each blob fed to it (the candidates in state 2, of owner
 * or of any rank when owner is -1, in order): its rows, and a late failure for one that does not
 * parse or has no usable row. Returns how many failed. */
static size_t take_parsed(job_run *r, int owner)
{
    size_t late = 0;
    for (size_t i = 0, k = 0; i < r->n_cands; i++) {
        cand *c = &r->cs[i];
        if (c->state != 2 || (owner >= 0 && c->owner != owner))
            continue;
        const cx_blob_rows *br = &r->ds->blobs[k++];
        c->rows = br->rows;
        c->bad_rows = br->bad_rows;
        if (br->failed || br->rows == 0) {
            if (br->failed)
                reject(c, br->columns_differ ? CX_REJECT_FORMAT : CX_REJECT_PARSE,
                       "data does not parse under the job's schema: %s", br->error);
            else
                reject(c, CX_REJECT_PARSE, "no usable rows");
            c->late_fail = 1;
            late++;
        }
    }
    return late;
}

/* One pass: decrypt, authenticate and parse together. Only when a blob fails part way
 * (tampered) are its rows already in the parser; then the good blobs are parsed again
 * into a fresh parser (a second decryption, paid only in that case). */
static cx_err decrypt_and_parse_here(job_run *r, cx_error *e)
{
    const cx_job_params *p = r->p;
    cand *cs = r->cs;
    size_t n_cands = r->n_cands;
    cx_err rc;
    r->t_dec = cx_now_seconds();
    size_t n_failed = 0;
    const cx_cxb_keys keys = {r->key, r->known, r->n_known};
    if ((rc = run_pipeline(p, &r->dev, &keys, cs, n_cands, -1, 1, r->parser, 0, &n_failed, e)) !=
        CX_OK)
        return rc;
    cx_job_hook_point(p->hooks, "decrypted", p->log);
    size_t n_auth = 0;
    for (size_t i = 0; i < n_cands; i++)
        n_auth += cs[i].state == 2;
    if (n_auth == 0)
        return cx_error_set(e, CX_ERR_STATE, "job %s: no contribution could be authenticated",
                            r->job_hex);
    /* A blob that fails after the header checks (tampered, unparseable, no usable rows) is
     * something an auditor cannot see without the key, so its contributor is left out of
     * this job entirely: the accepted set is then exactly what `cloakx verify` recomputes,
     * every header-valid blob of the contributors the statement lists. Each round below
     * rejects at least one blob, so it ends. */
    int dirty = n_failed != 0;
    size_t n_left = n_auth;
    for (;;) {
        n_left -= disqualify(cs, n_cands);
        if (n_left == 0)
            return cx_error_set(e, CX_ERR_STATE, "job %s: no contribution was accepted",
                                r->job_hex);
        if (dirty) {
            /* the parser holds rows of blobs now left out (or part of a failed one) */
            cx_dataset_free(r->ds);
            r->ds = NULL;
            cx_parser_free(r->parser);
            r->parser = NULL;
            size_t dummy = 0;
            if ((rc = cx_parser_new(r->schema, r->fmt, n_left, &r->parser, e)) != CX_OK ||
                (rc = run_pipeline(p, &r->dev, &keys, cs, n_cands, -1, 2, r->parser, 1, &dummy,
                                   e)) != CX_OK)
                return rc;
            r->reparsed++;
        }
        if ((rc = cx_parser_finalize(r->parser, &r->ds, e)) != CX_OK) {
            cx_error_prefix(e, "job %s: ", r->job_hex);
            return rc;
        }
        const size_t late = take_parsed(r, -1);
        n_left -= late;
        if (late == 0 && !disqualify_pending(cs, n_cands))
            break;
        dirty = 1;
    }
    for (size_t i = 0; i < n_cands; i++)
        if (cs[i].state == 2)
            cs[i].state = 3;
    r->t_dec = cx_now_seconds() - r->t_dec;
    return CX_OK;
}

/* Every rank's status and the outcomes of the candidates it owns to every rank (collective):
 * afterwards all ranks hold the same table and decide alike. A rank that failed fails the job
 * on every rank, named in the error. *empty: some rank holds no accepted row. */
static cx_err exchange_outcomes(job_run *r, cx_err lrc, const cx_error *le, int empty_here,
                                int *empty, cx_error *e)
{
    cx_comm *c = r->ranks->sealed;
    outcome_rec *recs = calloc(r->n_cands ? r->n_cands : 1, sizeof *recs);
    if (!recs)
        lrc = CX_ERR_NOMEM; /* still takes part: the others are waiting */
    cx_err rc = CX_OK, first = CX_OK;
    int first_rank = -1;
    char first_msg[CX_ERROR_MSG_MAX] = "";
    *empty = 0;
    for (int k = 0; rc == CX_OK && k < c->size; k++) {
        rank_status st;
        cx_error oom = {.code = CX_ERR_NOMEM, .msg = "out of memory"};
        if (k == c->rank) {
            status_set(&st, lrc, recs ? le : &oom);
            st.empty = empty_here;
        }
        if ((rc = c->bcast(c, &st, sizeof st, k, e)) != CX_OK)
            break;
        if (st.rc != CX_OK) {
            if (first == CX_OK) {
                first = (cx_err)st.rc;
                first_rank = k;
                snprintf(first_msg, sizeof first_msg, "%s", st.msg);
            }
            continue; /* a failed rank sends no outcomes */
        }
        *empty |= st.empty != 0;
        size_t m = 0;
        for (size_t i = 0; i < r->n_cands; i++)
            if (r->cs[i].owner == k) {
                const cand *x = &r->cs[i];
                outcome_rec *o = &recs[m++];
                memset(o, 0, sizeof *o);
                o->state = (uint8_t)x->state;
                o->klass = x->klass;
                o->late_fail = (uint8_t)x->late_fail;
                memcpy(o->tag_hash, x->tag_hash, 32);
                memcpy(o->used_header_hash, x->used_header_hash, 32);
                o->rows = x->rows;
                o->bad_rows = x->bad_rows;
                snprintf(o->reason, sizeof o->reason, "%s", x->reason);
            }
        if (m == 0)
            continue;
        if ((rc = c->bcast(c, recs, m * sizeof *recs, k, e)) != CX_OK)
            break;
        if (k == c->rank)
            continue;
        m = 0;
        for (size_t i = 0; i < r->n_cands; i++)
            if (r->cs[i].owner == k) {
                cand *x = &r->cs[i];
                const outcome_rec *o = &recs[m++];
                x->state = o->state;
                x->klass = o->klass;
                x->late_fail = o->late_fail;
                memcpy(x->tag_hash, o->tag_hash, 32);
                memcpy(x->used_header_hash, o->used_header_hash, 32);
                x->rows = o->rows;
                x->bad_rows = o->bad_rows;
                memcpy(x->reason, o->reason, sizeof x->reason);
                x->reason[sizeof x->reason - 1] = '\0';
            }
    }
    free(recs);
    if (rc != CX_OK)
        return rc;
    if (first != CX_OK)
        return cx_error_set(e, first, "rank %d: %s", first_rank, first_msg);
    return CX_OK;
}

/* This rank's blobs, decrypted and parsed together, with the same rounds as one process
 * (decrypt_and_parse_here): after each round every rank's outcomes go to every rank, which
 * then leave out the same contributors. A rank left without an accepted row makes the job
 * fall back to rank 0 alone (r->alone), which then holds every key it needs. */
static cx_err decrypt_and_parse_ranks(job_run *r, cx_error *e)
{
    const cx_job_params *p = r->p;
    cand *cs = r->cs;
    const size_t n = r->n_cands;
    const int me = r->ranks->rank;
    const cx_cxb_keys keys = {NULL, r->known, r->n_known};
    r->t_dec = cx_now_seconds();
    cx_error le = {0};
    cx_err lrc = CX_OK;
    cx_parser_free(r->parser); /* rank 0's for every blob: each rank parses its own */
    r->parser = NULL;
    size_t fed = count_state(cs, n, me, 1), failed = 0;
    if (r->follower) { /* its failures so far, or to get a device, go to the ranks below */
        if ((lrc = r->held_rc) != CX_OK)
            le = r->held;
        else
            lrc = select_device(r, &le);
    }
    if (lrc == CX_OK && fed &&
        (lrc = cx_parser_new(r->schema, r->fmt, fed, &r->parser, &le)) == CX_OK)
        lrc = run_pipeline(p, &r->dev, &keys, cs, n, me, 1, r->parser, 0, &failed, &le);
    int empty = 0;
    cx_err rc = exchange_outcomes(r, lrc, &le, 0, &empty, e);
    if (rc != CX_OK)
        return rc;
    cx_job_hook_point(p->hooks, "decrypted", p->log);
    if (count_state(cs, n, -1, 2) == 0)
        return cx_error_set(e, CX_ERR_STATE, "job %s: no contribution could be authenticated",
                            r->job_hex);
    int have_ds = 0;
    for (;;) {
        disqualify(cs, n);
        const size_t before = count_state(cs, n, -1, 2);
        if (before == 0)
            return cx_error_set(e, CX_ERR_STATE, "job %s: no contribution was accepted",
                                r->job_hex);
        const size_t left = count_state(cs, n, me, 2);
        lrc = CX_OK;
        if (left != fed || failed) { /* the parser holds rows of blobs now left out */
            cx_dataset_free(r->ds);
            r->ds = NULL;
            cx_parser_free(r->parser);
            r->parser = NULL;
            have_ds = 0;
            fed = left;
            failed = 0;
            size_t dummy = 0;
            if (fed && (lrc = cx_parser_new(r->schema, r->fmt, fed, &r->parser, &le)) == CX_OK &&
                (lrc = run_pipeline(p, &r->dev, &keys, cs, n, me, 2, r->parser, 1, &dummy, &le)) ==
                    CX_OK)
                r->reparsed++;
        }
        int empty_here = fed == 0;
        if (lrc == CX_OK && fed && !have_ds) {
            lrc = cx_parser_finalize(r->parser, &r->ds, &le);
            if (lrc == CX_ERR_FORMAT) { /* no row accepted here: rank 0 takes the job alone */
                lrc = CX_OK;
                empty_here = 1;
            } else if (lrc == CX_OK) {
                have_ds = 1;
                take_parsed(r, me);
            }
        }
        if ((rc = exchange_outcomes(r, lrc, &le, empty_here, &empty, e)) != CX_OK)
            return rc;
        if (empty) {
            r->alone = 1;
            cx_log_warn(p->log,
                        "job %s: a rank was left without an accepted row: rank 0 decrypts and "
                        "trains the job alone",
                        r->job_hex);
            return CX_OK;
        }
        const size_t late = before - count_state(cs, n, -1, 2);
        if (late == 0 && !disqualify_pending(cs, n))
            break;
    }
    for (size_t i = 0; i < n; i++)
        if (cs[i].state == 2)
            cs[i].state = 3;
    r->t_dec = cx_now_seconds() - r->t_dec;
    return CX_OK;
}

static cx_err decrypt_and_parse(job_run *r, cx_error *e)
{
    if (dist(r)) {
        cx_err rc = decrypt_and_parse_ranks(r, e);
        if (rc == CX_OK && !r->alone && !r->follower)
            r->owes = RANKS_OWE_GO;
        if (rc != CX_OK || !r->alone || r->follower)
            return rc;
        /* rank 0 alone from here: what failed stays rejected, the rest is read again */
        cx_dataset_free(r->ds);
        r->ds = NULL;
        cx_parser_free(r->parser);
        r->parser = NULL;
        for (size_t i = 0; i < r->n_cands; i++)
            if (r->cs[i].state == 2) {
                r->cs[i].state = 1;
                r->cs[i].rows = r->cs[i].bad_rows = 0;
            }
        if ((rc = cx_parser_new(r->schema, r->fmt, count_state(r->cs, r->n_cands, -1, 1),
                                &r->parser, e)) != CX_OK)
            return rc;
    }
    return decrypt_and_parse_here(r, e);
}

/* per-contributor accepted rows (ascending address, as the statement wants) and the
 * dataset commitment over the accepted blobs */
static cx_err commit_dataset(job_run *r, cx_error *e)
{
    cand *cs = r->cs;
    size_t n_acc_blobs = 0;
    for (size_t i = 0; i < r->n_cands; i++)
        n_acc_blobs += cs[i].state == 3;
    r->srows = calloc(n_acc_blobs ? n_acc_blobs : 1, sizeof *r->srows);
    r->items = calloc(n_acc_blobs ? n_acc_blobs : 1, sizeof *r->items);
    if (!r->srows || !r->items)
        return cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
    cx_statement_rows *srows = r->srows;
    for (size_t i = 0; i < r->n_cands; i++) {
        if (cs[i].state != 3)
            continue;
        cx_job_commit_item *it = &r->items[r->n_items++];
        snprintf(it->blob_id, sizeof it->blob_id, "%s", cs[i].blob_id);
        /* what was decrypted (equal to the checked header: check_same_blob) */
        memcpy(it->header_hash, cs[i].used_header_hash, 32);
        memcpy(it->tag_hash, cs[i].tag_hash, 32);
        r->total_rows += cs[i].rows;
        size_t k = 0;
        while (k < r->n_rows && memcmp(srows[k].contributor, cs[i].c.contributor.b, 32) != 0)
            k++;
        if (k == r->n_rows) {
            memcpy(srows[k].contributor, cs[i].c.contributor.b, 32);
            r->n_rows++;
        }
        srows[k].rows += cs[i].rows;
    }
    qsort(srows, r->n_rows, sizeof *srows, addr_cmp);
    return cx_job_dataset_commitment(r->items, r->n_items, r->commitment, e);
}

static cx_err train(job_run *r, cx_error *e)
{
    const cx_job_params *p = r->p;
    const cx_dataset *ds = r->ds;
    cx_train_data td = cx_job_train_data(ds);
    cx_progress eprog;
    cx_progress_start(&eprog, "training", (uint64_t)r->spec.epochs, p->progress);
    if (!(r->curve_train = json_array()) || !(r->curve_val = json_array()))
        return cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
    epoch_ud eu = {&eprog,         p->log,           p->status,      r->job_hex,
                   r->spec.epochs, cx_now_seconds(), r->curve_train, r->curve_val};
    cx_train_epoch_cb cb = {
        .fn = on_epoch, .ud = &eu, .deadline = p->time_limit_s > 0 ? r->t0 + p->time_limit_s : 0.0};
    uint64_t *row_index = NULL;
    if (dist(r)) { /* this rank's rows in the one-process table: every blob's, in blob-id order */
        if (!(row_index = malloc((ds->n ? ds->n : 1) * sizeof *row_index)))
            return cx_error_set(e, CX_ERR_NOMEM, "job: out of memory");
        uint64_t g = 0;
        size_t k = 0;
        for (size_t i = 0; i < r->n_cands; i++) {
            const cand *c = &r->cs[i];
            if (c->state != 3)
                continue;
            for (uint64_t j = 0; c->owner == r->ranks->rank && j < c->rows && k < ds->n; j++)
                row_index[k++] = g + j;
            g += c->rows;
        }
        if (k != ds->n) {
            free(row_index);
            return cx_error_set(e, CX_ERR_INTERNAL,
                                "job: this rank parsed %zu rows, its blobs "
                                "%zu",
                                ds->n, k);
        }
        td.row_index = row_index;
    }
    cx_log_info(p->log, "job %s: training %s on %zu rows x %zu features (%s backend%s)", r->job_hex,
                cx_model_kind_name(r->spec.model), ds->n, ds->d, r->be->name,
                dist(r) ? ", this rank's share" : "");
    if (r->follower) /* rank 0 speaks for the job */
        cb.fn = NULL;
    cx_err rc = cx_train_comm(&r->spec, &td, r->be, dist(r) ? r->ranks->sealed : NULL, &cb,
                              r->follower ? NULL : p->log, &r->model, &r->tr, e);
    free(row_index);
    cx_progress_finish(&eprog);
    if (rc != CX_OK)
        return rc;
    r->eps = r->order = NAN;
    if (r->spec.privacy &&
        (rc = cx_privacy_epsilon(r->spec.noise_multiplier, r->tr.sample_rate, r->tr.steps,
                                 r->spec.delta, NULL, 0, &r->eps, &r->order, e)) != CX_OK)
        return rc;
    if (r->spec.privacy)
        cx_status_job_epsilon(p->status, r->job_hex, cx_job_epsilon_total(&r->spec, r->eps));
    cx_job_hook_point(p->hooks, "trained", p->log);
    return CX_OK;
}

static cx_err timed_put(job_run *r, cx_error *e)
{
    double t = cx_now_seconds();
    cx_err rc =
        cx_job_store_put_bytes(r->p->store, r->sealed.p, r->sealed.len, r->out->model_blob_id, e);
    cx_status_call(r->p->status, "store", "put", cx_now_seconds() - t, rc);
    return rc;
}

/* The pool's ε cap on the real row count, before training (RULES.md §9.8): a spec whose
 * DP-SGD plan would spend more fails as a spec the pool does not take. */
static cx_err check_privacy(job_run *r, cx_error *e)
{
    return cx_job_epsilon_check(&r->spec, r->total_rows, &r->pool.policy, NULL, e);
}

/* The compute budget on the real data (all ranks' rows), and the time left, before training. */
static cx_err check_budget(job_run *r, cx_error *e)
{
    cx_compute_cost cost;
    cx_spec_cost(&r->spec, (int)r->ds->d, (int)r->ds->n_classes, r->total_rows, &cost);
    cx_err rc = cx_compute_budget_check(&r->budget, &cost, e);
    if (rc != CX_OK)
        return rc;
    if (r->p->time_limit_s > 0 && cx_now_seconds() > r->t0 + r->p->time_limit_s)
        return cx_error_set(e, CX_ERR_LIMIT, "job: over its time limit of %.0f s before training",
                            r->p->time_limit_s);
    return CX_OK;
}

/* Rank 0 lets the other ranks train: everything before training passed (a failure before this
 * point reached them through ranks_owe_failure). */
static cx_err go_ranks(job_run *r, cx_error *e)
{
    if (!dist(r))
        return CX_OK;
    rank_status st;
    status_set(&st, CX_OK, NULL);
    r->owes = RANKS_OWE_NONE;
    cx_comm *c = r->ranks->sealed;
    return c->bcast(c, &st, sizeof st, 0, e);
}

static cx_err recv_go(job_run *r, cx_error *e)
{
    cx_comm *c = r->ranks->sealed;
    rank_status st;
    cx_err rc = c->bcast(c, &st, sizeof st, 0, e);
    return rc != CX_OK ? rc : rank0_failed(&st, e);
}

/* the model, sealed to a fresh key of its own and stored; that key goes to the buyer only with
 * the payment (RULES.md §2.2): wrapped to the buyer in the key release the ledger reveals */
/* How the model is sealed: to a fresh X25519 model key (its secret into secret[0..32)), or
 * with the worker's Seal key servers under a data key split in two shares (share 1 into
 * secret[0..32), the data key into secret[64..96), the Seal object of share 2 into *obj). */
static cx_err model_key_target(job_run *r, cx_cxb_seal_params *sp, uint8_t *secret, uint8_t **obj,
                               cx_error *e)
{
#ifdef CX_HAVE_SEAL
    if (r->p->seal) {
        size_t len = 0;
        cx_err rc = cx_seal_model_object(r->p->seal, &r->p->job_id, obj, &len, secret + 32, e);
        if (rc == CX_OK && RAND_priv_bytes(secret, 32) != 1)
            rc = cx_error_set(e, CX_ERR_CRYPTO, "model key: no randomness for its share");
        if (rc != CX_OK)
            return rc;
        cx_job_model_split_key(secret, secret + 32, secret + 64);
        sp->key_object = *obj;
        sp->key_object_len = len;
        sp->data_key = secret + 64;
        return CX_OK;
    }
#else
    (void)obj;
#endif
    cx_err rc = cx_x25519_key_generate(&r->model_key, e);
    if (rc == CX_OK) {
        memcpy(secret, cx_x25519_key_secret(r->model_key), 32);
        sp->recipient_pub = cx_x25519_key_public(r->model_key);
    }
    return rc;
}

static cx_err seal_model(job_run *r, cx_error *e)
{
    cx_err rc;
    if ((rc = cx_job_model_meta(&r->spec, r->data, r->ds, &r->tr, r->eps, r->order, &r->extra,
                                e)) != CX_OK)
        return rc;
    json_object_set_new(r->extra, "job", json_string(r->job_hex));
    json_object_set_new(r->extra, "pool", json_string(r->pool_hex));
    /* the plaintext model bytes live in secure memory only (wiped when freed) */
    if ((rc = cx_model_serialize(r->model, r->extra, &r->model_bytes, &r->model_len, e)) != CX_OK)
        return rc;
    /* what the key release wraps to the buyer: the model key's secret, or with Seal the first
     * share of the model's data key (RULES.md §2.2) */
    uint8_t *secret = cx_secmem_alloc(96, 0, e);
    if (!secret)
        return CX_ERR_NOMEM;
    cx_cxb_seal_params sp = {
        .pool_id = r->pool_hex, .contributor = r->job_hex, .content_type = CX_CONTENT_MODEL};
    uint8_t *obj = NULL;
    rc = model_key_target(r, &sp, secret, &obj, e);
    if (rc == CX_OK)
        rc = cx_job_seal_bytes(&sp, r->model_bytes, r->model_len, &r->sealed, NULL, e);
    free(obj);
    if (rc == CX_OK)
        rc = timed_put(r, e);
    if (rc != CX_OK) {
        cx_secmem_free(secret);
        return rc;
    }
    SHA256(r->sealed.p, r->sealed.len, r->result_hash);
    uint8_t wrapped[CX_JOB_WRAPPED_KEY_LEN];
    cx_job_output *out = r->out;
    rc = cx_job_model_key_wrap(r->buyer_x, &r->p->job_id, r->result_hash, secret, wrapped, e);
    cx_secmem_free(secret);
    if (rc != CX_OK)
        return rc;
    return cx_job_key_release_sign(r->p->tee, &r->job, &r->enc, r->result_hash, wrapped,
                                   &out->key_release, &out->key_release_len, out->key_signature, e);
}

/* the statement, signed by the TEE */
static cx_err sign_statement(job_run *r, cx_error *e)
{
    cx_job_output *out = r->out;
    const cx_train_result *tr = &r->tr;
    cx_statement st;
    memset(&st, 0, sizeof st);
    memcpy(st.job_id, r->p->job_id.b, 32);
    memcpy(st.pool_id, r->job.pool_id.b, 32);
    st.code_measurement_len = r->nd.pcr_len[0];
    memcpy(st.code_measurement, r->nd.pcr[0], r->nd.pcr_len[0]);
    memcpy(st.config_hash, r->config_hash, 32);
    memcpy(st.dataset_commitment, r->commitment, 32);
    st.result_blob_id_len = strlen(out->model_blob_id);
    memcpy(st.result_blob_id, out->model_blob_id, st.result_blob_id_len);
    memcpy(st.result_hash, r->result_hash, 32);
    st.gpu_evidence_hash_len = 0; /* no GPU evidence collected here (RULES.md §4: empty) */
    if (r->ranks) { /* every rank that met: its channel key and document (RULES.md §5) */
        cx_bundle_rank *br = calloc((size_t)r->ranks->size, sizeof *br);
        if (!br)
            return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
        for (int k = 0; k < r->ranks->size; k++) {
            br[k].rank = (uint32_t)k;
            memcpy(br[k].x25519, r->ranks->pks[k], 32);
            br[k].document = r->ranks->docs[k];
            br[k].document_len = r->ranks->doc_lens[k];
        }
        cx_err hrc = cx_bundle_ranks_hash(br, (size_t)r->ranks->size, st.ranks_hash, e);
        free(br);
        if (hrc != CX_OK)
            return hrc;
        st.ranks_hash_len = 32;
    }
    st.rows = r->srows;
    st.n_rows = r->n_rows;
    /* every contribution of the job not accepted, with its class: the ledger refuses a
     * result that leaves one out (RULES.md §2 Submit 12) */
    cx_statement_rejected *rej = calloc(r->n_cands ? r->n_cands : 1, sizeof *rej);
    if (!rej)
        return cx_error_set(e, CX_ERR_NOMEM, "statement: out of memory");
    for (size_t i = 0; i < r->n_cands; i++) {
        const cand *c = &r->cs[i];
        if (c->state == 3)
            continue;
        if (c->klass < 1 || c->klass > CX_REJECT_REASON_MAX) {
            free(rej);
            return cx_error_set(e, CX_ERR_INTERNAL, "blob %s: rejected without a class",
                                c->blob_id);
        }
        cx_statement_rejected *x = &rej[st.n_rejected++];
        memcpy(x->contributor, c->c.contributor.b, 32);
        memcpy(x->blob_id, c->c.blob_id, c->c.blob_id_len);
        x->blob_id_len = c->c.blob_id_len;
        x->reason = c->klass;
    }
    st.rejected = rej;
    cx_statement_metric met[6];
    size_t nm = 0;
    const struct {
        const char *name;
        double v;
    } mv[] = {{"val_loss", tr->val.loss}, {"val_accuracy", tr->val.accuracy},
              {"val_auc", tr->val.auc},   {"val_macro_f1", tr->val.macro_f1},
              {"val_rmse", tr->val.rmse}, {"val_r2", tr->val.r2}};
    for (size_t i = 0; i < sizeof mv / sizeof mv[0]; i++) {
        if (isnan(mv[i].v) || mv[i].v < 0)
            continue;
        if (r->spec.task == CX_TASK_CLASSIFICATION && i >= 4)
            continue;
        if (r->spec.task != CX_TASK_CLASSIFICATION && i >= 1 && i <= 3)
            continue;
        snprintf(met[nm].name, sizeof met[nm].name, "%s", mv[i].name);
        met[nm++].value_micro = micro(mv[i].v);
    }
    st.metrics = met;
    st.n_metrics = nm;
    st.dp_epsilon_micro =
        r->spec.privacy ? micro(cx_job_epsilon_total(&r->spec, r->eps)) : CX_STATEMENT_NO_DP;
    st.dp_delta_1e12 = r->spec.privacy ? (uint64_t)llround(r->spec.delta * 1e12) : 0;
    cx_err rc = cx_statement_encode(&st, cx_unix_ms(), &out->statement, &out->statement_len, e);
    free(rej);
    if (rc != CX_OK || (rc = cx_tee_sign(r->p->tee, out->statement, out->statement_len,
                                         out->signature, e)) != CX_OK)
        return rc;
    return CX_OK;
}

/* the report's contributors (accepted, with their rows) and rejected blobs (with why) */
static void report_contributors(job_run *r)
{
    const cand *cs = r->cs;
    json_t *contributors = json_array(), *rejected = json_array();
    for (size_t k = 0; k < r->n_rows; k++) {
        cx_chain_addr a;
        memcpy(a.b, r->srows[k].contributor, 32);
        char ah[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(&a, ah);
        uint64_t bad = 0;
        unsigned nb = 0;
        for (size_t i = 0; i < r->n_cands; i++)
            if (cs[i].state == 3 && cx_chain_id_equal(&cs[i].c.contributor, &a)) {
                bad += cs[i].bad_rows;
                nb++;
            }
        json_array_append_new(contributors, json_pack("{s:s, s:I, s:I, s:i}", "address", ah, "rows",
                                                      (json_int_t)r->srows[k].rows, "bad_rows",
                                                      (json_int_t)bad, "blobs", (int)nb));
    }
    for (size_t i = 0; i < r->n_cands; i++)
        if (cs[i].state != 3)
            json_array_append_new(
                rejected, json_pack("{s:s, s:s, s:s, s:s}", "blob_id", cs[i].blob_id, "contributor",
                                    cs[i].contributor, "class", cx_reject_reason_name(cs[i].klass),
                                    "reason", cs[i].reason));
    json_object_set_new(r->report, "contributions", json_integer((json_int_t)r->n_cands));
    json_object_set_new(r->report, "accepted",
                        json_pack("{s:i, s:i, s:I, s:i}", "contributors", (int)r->n_rows, "blobs",
                                  (int)r->n_items, "rows", (json_int_t)r->total_rows, "features",
                                  (int)r->ds->d));
    json_object_set_new(r->report, "contributors", contributors);
    json_object_set_new(r->report, "rejected", rejected);
}

/* the report: what the worker and the demo print */
/* The training curve: loss per epoch and, with DP-SGD, the epsilon spent by each epoch's end
 * (every epoch takes the same number of Poisson steps), the DP standardisation's ε_s (spent
 * before the first) included as in the job's total. Aggregates only: no row or value. */
static void report_curve(job_run *r)
{
    size_t n = json_array_size(r->curve_train);
    json_t *eps = json_null();
    uint64_t per = n && r->tr.steps % n == 0 ? r->tr.steps / n : 0;
    if (r->spec.privacy && per) {
        eps = json_array();
        for (size_t i = 0; eps && i < n; i++) {
            double v = NAN;
            cx_error le;
            if (cx_privacy_epsilon(r->spec.noise_multiplier, r->tr.sample_rate,
                                   per * (uint64_t)(i + 1), r->spec.delta, NULL, 0, &v, NULL,
                                   &le) != CX_OK)
                v = NAN;
            json_array_append_new(eps, loss_json(cx_job_epsilon_total(&r->spec, v)));
        }
    }
    json_object_set_new(r->report, "curve",
                        json_pack("{s:O, s:O, s:o}", "train_loss", r->curve_train,
                                  "validation_loss", r->curve_val, "epsilon",
                                  eps ? eps : json_null()));
}

static void finish_report(job_run *r)
{
    json_t *report = r->report;
    json_object_set_new(report, "backend", json_string(r->be->name));
    /* across ranks: how many met (each attested, all listed in the statement) and whether the
     * job was split between them or ran on rank 0 alone */
    json_object_set_new(report, "ranks",
                        r->ranks
                            ? json_pack("{s:i, s:b}", "size", r->ranks->size, "split", !r->alone)
                            : json_pack("{s:i, s:b}", "size", 1, "split", 0));
    json_object_set_new(report, "device", json_string(r->dev.report));
    report_contributors(r);
    json_object_set_new(report, "model",
                        json_pack("{s:s, s:s, s:i, s:I, s:I}", "task", cx_task_name(r->spec.task),
                                  "type", cx_model_kind_name(r->spec.model), "epochs_run",
                                  r->tr.epochs_run, "train_rows", (json_int_t)r->tr.train_rows,
                                  "validation_rows", (json_int_t)r->tr.val_rows));
    json_object_set(report, "metrics", json_object_get(r->extra, "metrics"));
    report_curve(r);
    json_object_set_new(report, "privacy",
                        r->spec.privacy ? json_incref(json_object_get(r->extra, "privacy"))
                                        : json_null());
    json_object_set_new(report, "model_blob_id", json_string(r->out->model_blob_id));
    json_object_set_new(report, "result_hash", cx_job_hex_json(r->result_hash, 32));
    json_object_set_new(report, "config_hash", cx_job_hex_json(r->config_hash, 32));
    json_object_set_new(report, "dataset_commitment", cx_job_hex_json(r->commitment, 32));
    json_object_set_new(report, "code_measurement",
                        cx_job_hex_json(r->nd.pcr[0], r->nd.pcr_len[0]));
    json_object_set_new(report, "gpu_evidence",
                        json_string(strcmp(r->dev.backend, "cuda") == 0
                                        ? "none: the simulated TEE collects no GPU evidence, the "
                                          "statement's gpu_evidence_hash is empty"
                                        : "none: CPU-only job, the statement's gpu_evidence_hash "
                                          "is empty"));
    /* plaintext and keys live in secure memory; what could not be locked in RAM is said
     * here and loudly in the log */
    cx_secmem_stats sm;
    cx_secmem_stats_get(&sm);
    uint64_t unlocked = sm.unlocked_bytes_total - r->sm0.unlocked_bytes_total;
    json_object_set_new(
        report, "secure_memory",
        json_pack("{s:I, s:I, s:I, s:b}", "allocations", (json_int_t)(sm.allocs - r->sm0.allocs),
                  "unlocked_allocations", (json_int_t)(sm.unlocked_allocs - r->sm0.unlocked_allocs),
                  "unlocked_bytes", (json_int_t)unlocked, "lock_required", sm.require_lock));
    if (unlocked)
        cx_log_warn(r->p->log,
                    "job %s: %llu bytes of plaintext and keys could NOT be locked in RAM "
                    "(RLIMIT_MEMLOCK): they may be swapped to disk. Raise the limit (`ulimit -l`, "
                    "LimitMEMLOCK=) or run the worker with CAP_IPC_LOCK; --require-mlock refuses "
                    "to run instead",
                    r->job_hex, (unsigned long long)unlocked);
    json_object_set_new(report, "seconds",
                        json_pack("{s:f, s:b, s:f, s:f}", "decrypt_parse", r->t_dec,
                                  "reparsed_after_tamper", r->reparsed, "train", r->tr.seconds,
                                  "total", cx_now_seconds() - r->t0));
}

cx_err cx_job_execute(const cx_job_params *p, cx_job_output *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    job_run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.out = out;
    r.t0 = cx_now_seconds();
    cx_secmem_stats_get(&r.sm0);
    cx_chain_id_to_hex(&p->job_id, r.job_hex);
    /* the phases in order: their names are what the status page shows, their classes what
     * the enclave signs when the job fails there (RULES.md §6: a class, never what the data
     * said) */
    static const struct {
        const char *name;
        cx_err (*run)(job_run *, cx_error *);
        cx_chain_fail_reason why;
        int ranks_only; /* a job of one process neither runs nor shows it */
    } phases[] = {      /* first: the other ranks wait in it, and hear of any failure after it */
                  {"join_ranks", join_ranks, CX_CHAIN_FAIL_INTERNAL, 1},
                  {"load_job", load_job, CX_CHAIN_FAIL_INTERNAL, 0},
                  {"check_measurement", check_measurement, CX_CHAIN_FAIL_INTERNAL, 0},
                  {"read_request", read_request, CX_CHAIN_FAIL_SPEC, 0},
                  {"select_device", select_device, CX_CHAIN_FAIL_INTERNAL, 0},
                  {"open_contributions", open_contributions, CX_CHAIN_FAIL_DATA, 0},
                  {"choose_format", choose_format, CX_CHAIN_FAIL_DATA, 0},
                  {"plan_ranks", plan_ranks, CX_CHAIN_FAIL_INTERNAL, 1},
                  {"decrypt_and_parse", decrypt_and_parse, CX_CHAIN_FAIL_DATA, 0},
                  {"commit_dataset", commit_dataset, CX_CHAIN_FAIL_INTERNAL, 0},
                  {"check_privacy", check_privacy, CX_CHAIN_FAIL_SPEC, 0},
                  {"check_budget", check_budget, CX_CHAIN_FAIL_COMPUTE, 0},
                  {"go_ranks", go_ranks, CX_CHAIN_FAIL_INTERNAL, 1},
                  {"train", train, CX_CHAIN_FAIL_COMPUTE, 0},
                  {"seal_model", seal_model, CX_CHAIN_FAIL_INTERNAL, 0},
                  {"sign_statement", sign_statement, CX_CHAIN_FAIL_INTERNAL, 0}};
    const int several = p->comm && p->comm->size > 1;
    cx_err rc = CX_OK;
    for (size_t i = 0; rc == CX_OK && i < sizeof phases / sizeof phases[0]; i++) {
        if (phases[i].ranks_only && !several)
            continue;
        cx_status_job_phase(p->status, r.job_hex, phases[i].name);
        if ((rc = phases[i].run(&r, e)) != CX_OK) {
            out->fail_reason = (uint8_t)phases[i].why;
            ranks_owe_failure(&r, e);
        }
    }
    if (rc == CX_OK) {
        finish_report(&r);
        out->report = r.report;
        r.report = NULL;
        if (r.ranks) { /* the documents go into the result bundle */
            cx_comm_destroy(r.ranks->sealed);
            r.ranks->sealed = NULL;
            out->ranks = r.ranks;
            r.ranks = NULL;
        }
    } else {
        free(out->statement);
        out->statement = NULL;
        free(out->key_release);
        out->key_release = NULL;
    }
    job_run_free(&r);
    return rc;
}

cx_err cx_job_execute_rank(const cx_job_params *p, const uint8_t leader_pk[32], cx_error *e)
{
    if (!p->comm || p->comm->size < 2 || p->comm->rank == 0)
        return cx_error_set(e, CX_ERR_ARG, "job rank: not one of several ranks other than 0");
    job_run r;
    memset(&r, 0, sizeof r);
    cx_job_output out;
    memset(&out, 0, sizeof out);
    r.p = p;
    r.out = &out;
    r.follower = 1;
    r.t0 = cx_now_seconds();
    memcpy(r.leader_pk, leader_pk, 32);
    cx_chain_id_to_hex(&p->job_id, r.job_hex);
    static const struct {
        const char *name;
        cx_err (*run)(job_run *, cx_error *);
    } phases[] = {{"join_ranks", join_ranks},
                  {"plan", recv_plan},
                  {"decrypt_and_parse", decrypt_and_parse},
                  {"go", recv_go},
                  {"train", train}};
    cx_err rc = CX_OK;
    for (size_t i = 0; rc == CX_OK && !r.alone && i < sizeof phases / sizeof phases[0]; i++) {
        cx_status_job_phase(p->status, r.job_hex, phases[i].name);
        rc = phases[i].run(&r, e);
    }
    if (rc == CX_OK)
        cx_log_info(p->log, "job %s: rank %d done%s", r.job_hex, p->comm->rank,
                    r.alone ? " (rank 0 runs it alone)" : "");
    job_run_free(&r);
    return rc;
}
