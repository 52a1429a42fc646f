/* worker.c — the operator's worker: follows the ledger's events from a persisted cursor, has
 * the TEE accept each job, runs it, submits the signed result and key release (or the TEE's
 * signed failure); crash-safe (state files, ledger commit). */
#include "cx_engine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct worker {
    const cx_worker_config *cfg;
    cx_ledger *ledger;
    cx_store *store;
    cx_tee *tee;
    cx_chain_key *op;
    cx_chain_id enclave_id;
    char jobs_dir[PATH_MAX], results_dir[PATH_MAX], cursor_path[PATH_MAX];
    cx_worker_stats *stats;
    cx_nitro_policy rank_policy; /* across ranks: what the ranks' documents are checked under */
    uint8_t *rank_root;          /* its root (the simulated TEE's dev root), malloc'ed */
} worker;

/* What rank 0 tells the worker's other ranks, over the plain MPI communicator (a job id and a
 * public key: nothing secret), each time: run this job with me, or stop. */
enum { RANK_CMD_RUN = 1, RANK_CMD_QUIT = 2 };
typedef struct rank_cmd {
    int32_t op;
    uint8_t job_id[32];
    uint8_t leader_pk[32];
} rank_cmd;

static int multi_rank(const cx_worker_config *c)
{
    return c->comm && c->comm->size > 1;
}

/* The ranks' documents come from TEEs of this worker's kind: the simulated TEE's dev root
 * (development), else the AWS Nitro root with nothing simulated. */
static cx_err rank_policy_load(worker *w, cx_error *e)
{
    if (!cx_tee_is_simulated(w->tee)) {
        w->rank_policy = (cx_nitro_policy){0};
        return CX_OK;
    }
    char path[PATH_MAX];
    size_t len = 0;
    cx_err rc = cx_job_path_join(path, sizeof path, w->cfg->devca_dir, CX_TEE_SIM_ROOT_CERT, e);
    if (rc == CX_OK)
        rc = cx_file_read_all(path, 1 << 16, &w->rank_root, &len, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "ranks: the simulated TEE's root: ");
    w->rank_policy = (cx_nitro_policy){
        .root_pem = (const char *)w->rank_root, .root_pem_len = len, .allow_simulated = 1};
    return CX_OK;
}

/* The ranks that met for a job, as the result bundle carries them (RULES.md §5): [{"rank",
 * "x25519" (hex), "document" (base64)}], kept in the job's state from signing on. */
static json_t *ranks_json(const cx_job_ranks *r)
{
    json_t *a = json_array();
    for (int k = 0; a && k < r->size; k++) {
        char *x = cx_hex_dup(r->pks[k], 32), *d = cx_base64_dup(r->docs[k], r->doc_lens[k]);
        json_t *o = x && d ? json_pack("{s:i, s:s, s:s}", "rank", k, "x25519", x, "document", d)
                           : NULL;
        free(x);
        free(d);
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The other ranks wait for each command as long as rank 0 waits for a job: asleep, where the
 * communicator can (a blocking MPI broadcast spins a core per idle rank). */
static cx_err rank_cmd_bcast(cx_comm *c, rank_cmd *cmd, cx_error *e)
{
    return c->bcast_wait ? c->bcast_wait(c, cmd, sizeof *cmd, 0, e)
                         : c->bcast(c, cmd, sizeof *cmd, 0, e);
}

/* job NULL: stop */
static cx_err rank_cmd_send(cx_comm *c, cx_tee *tee, const cx_chain_id *job, cx_error *e)
{
    rank_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.op = job ? RANK_CMD_RUN : RANK_CMD_QUIT;
    if (job) {
        uint8_t x[32];
        memcpy(cmd.job_id, job->b, 32);
        cx_tee_public_keys(tee, cmd.leader_pk, x);
    }
    return rank_cmd_bcast(c, &cmd, e);
}

static cx_err write_json(const char *path, const json_t *j, cx_error *e)
{
    char *s = cx_json_dumps(j, 1);
    if (!s)
        return cx_error_set(e, CX_ERR_NOMEM, "worker: out of memory");
    cx_err rc = cx_file_write_atomic(path, s, strlen(s), 0600, e);
    free(s);
    return rc;
}

static cx_err job_path(const worker *w, const char *job_hex, char *out, size_t cap, cx_error *e)
{
    char name[CX_CHAIN_ID_HEX_LEN + 8];
    snprintf(name, sizeof name, "%s.json", job_hex);
    return cx_job_path_join(out, cap, w->jobs_dir, name, e);
}

/* The caller's callback and the status model hear about each job that ends. */
static void notify(worker *w, const char *hex, const char *status, const json_t *report,
                   const char *error)
{
    cx_status_job_end(w->cfg->status, hex, status, report, error);
    if (w->cfg->on_job)
        w->cfg->on_job(w->cfg->ud, hex, status, report, error);
}

/* ---- event stream ---- */

static cx_err follow_events(worker *w, cx_error *e)
{
    char cursor[CX_CHAIN_CURSOR_MAX] = "";
    uint8_t *cb = NULL;
    size_t cl = 0;
    cx_err rc = cx_file_read_all(w->cursor_path, CX_CHAIN_CURSOR_MAX - 1, &cb, &cl, e);
    if (rc == CX_OK) {
        while (cl && (cb[cl - 1] == '\n' || cb[cl - 1] == ' '))
            cl--;
        memcpy(cursor, cb, cl);
        cursor[cl] = 0;
        free(cb);
    } else if (rc != CX_ERR_IO && rc != CX_ERR_NOTFOUND) {
        return rc;
    }
    for (;;) {
        cx_ledger_event *ev = NULL;
        size_t n = 0;
        char next[CX_CHAIN_CURSOR_MAX];
        double t_call = cx_now_seconds();
        rc = cx_ledger_events_read(w->ledger, cursor, 256, &ev, &n, next, e);
        cx_status_call(w->cfg->status, "ledger", "events_read", cx_now_seconds() - t_call, rc);
        if (rc != CX_OK)
            return rc;
        for (size_t i = 0; i < n && rc == CX_OK; i++) {
            w->stats->events++;
            if (ev[i].kind != CX_LEDGER_EV_JOB_CREATED)
                continue;
            char hex[CX_CHAIN_ID_HEX_LEN + 1], path[PATH_MAX];
            cx_chain_id_to_hex(&ev[i].object_id, hex);
            /* an operator's worker runs the jobs of the pools it operates */
            cx_ledger_pool pool;
            if ((rc = cx_ledger_pool_get(w->ledger, &ev[i].pool_id, &pool, e)) != CX_OK)
                break;
            if (!cx_chain_id_equal(&pool.operator_addr, cx_chain_key_address(w->op))) {
                cx_log_debug(w->cfg->log, "worker: job %s: another operator's pool", hex);
                continue;
            }
            if ((rc = job_path(w, hex, path, sizeof path, e)) != CX_OK)
                break;
            if (access(path, F_OK) == 0)
                continue; /* seen before a crash: the job file is written before the cursor */
            json_t *j = json_pack("{s:s, s:s}", "job", hex, "phase", "pending");
            rc = j ? write_json(path, j, e) : cx_error_set(e, CX_ERR_NOMEM, "out of memory");
            json_decref(j);
            cx_log_info(w->cfg->log, "worker: job %s created (payment %llu)", hex,
                        (unsigned long long)ev[i].amount);
        }
        free(ev);
        if (rc != CX_OK)
            return rc;
        if (n == 0 || strcmp(next, cursor) == 0)
            return CX_OK;
        snprintf(cursor, sizeof cursor, "%s", next);
        char line[CX_CHAIN_CURSOR_MAX + 1];
        int ll = snprintf(line, sizeof line, "%s\n", cursor);
        if ((rc = cx_file_write_atomic(w->cursor_path, line, (size_t)ll, 0600, e)) != CX_OK)
            return rc;
    }
}

/* ---- one job ---- */

static json_t *settlement_json(cx_ledger *l, const cx_chain_id *job_id, int *refunded)
{
    cx_ledger_job job;
    cx_ledger_result r;
    memset(&r, 0, sizeof r);
    cx_error e;
    if (cx_ledger_job_get(l, job_id, &job, &e) != CX_OK)
        return NULL;
    json_t *s = json_pack("{s:s, s:I}", "state", cx_ledger_job_state_name(job.state), "payment",
                          (json_int_t)job.payment);
    *refunded = job.state == CX_LEDGER_JOB_REFUNDED;
    if (s && cx_ledger_result_get(l, job_id, &r, &e) == CX_OK) {
        json_object_set_new(s, "accepted_contributors",
                            json_integer((json_int_t)r.accepted_contributors));
        if (!r.refunded) {
            json_object_set_new(s, "protocol_fee", json_integer((json_int_t)r.split.protocol_fee));
            json_object_set_new(s, "operator_fee", json_integer((json_int_t)r.split.operator_fee));
            json_object_set_new(s, "contributors_total",
                                json_integer((json_int_t)r.split.contributors_total));
            json_t *pays = json_array();
            for (size_t i = 0; pays && i < r.split.n_payouts; i++) {
                char a[CX_CHAIN_ID_HEX_LEN + 1];
                cx_chain_id_to_hex(&r.split.payouts[i].to, a);
                json_array_append_new(pays, json_pack("{s:s, s:I}", "address", a, "amount",
                                                      (json_int_t)r.split.payouts[i].amount));
            }
            json_object_set_new(s, "payouts", pays);
        }
        cx_ledger_result_free(&r);
    }
    return s;
}

/* The ranks kept in the job's state (ranks_json) into the bundle, which then frees them. */
static cx_err bundle_ranks(const json_t *ranks, cx_result_bundle *b, cx_error *e)
{
    size_t n = json_array_size(ranks);
    if (!n)
        return CX_OK;
    if (!(b->ranks = calloc(n, sizeof *b->ranks)))
        return cx_error_set(e, CX_ERR_NOMEM, "out of memory");
    b->n_ranks = n;
    for (size_t k = 0; k < n; k++) {
        const json_t *o = json_array_get(ranks, k);
        const char *x = json_string_value(json_object_get(o, "x25519")),
                   *d = json_string_value(json_object_get(o, "document"));
        size_t xl = 0, dl = d ? strlen(d) : 0;
        cx_bundle_rank *br = &b->ranks[k];
        br->rank = (uint32_t)k;
        if (!x || !d || cx_hex_decode(x, strlen(x), br->x25519, 32, &xl, e) != CX_OK || xl != 32 ||
            !(br->document = malloc(dl / 4 * 3 + 3)) ||
            cx_base64_decode(d, dl, br->document, dl / 4 * 3 + 3, &br->document_len, e) != CX_OK) {
            for (size_t j = 0; j <= k; j++)
                free(b->ranks[j].document);
            free(b->ranks);
            b->ranks = NULL;
            b->n_ranks = 0; /* the bundle goes without them: verify says what it lacks */
            return cx_error_set(e, CX_ERR_FORMAT, "rank %zu in the job's state is malformed", k);
        }
    }
    return CX_OK;
}

static void write_results(worker *w, const cx_chain_id *job_id, const char *hex, json_t *st)
{
    cx_error e;
    char name[CX_CHAIN_ID_HEX_LEN + 24], path[PATH_MAX];
    cx_result_bundle b;
    if (cx_job_bundle_from_ledger(w->ledger, w->store, job_id, &b, &e) == CX_OK) {
        if (bundle_ranks(json_object_get(st, "ranks"), &b, &e) != CX_OK)
            cx_log_warn(w->cfg->log, "worker: the ranks of %s: %s", hex, e.msg);
        snprintf(name, sizeof name, "%s.bundle.json", hex);
        if (cx_job_path_join(path, sizeof path, w->results_dir, name, &e) != CX_OK ||
            cx_result_bundle_write(&b, path, &e) != CX_OK)
            cx_log_warn(w->cfg->log, "worker: writing the bundle of %s: %s", hex, e.msg);
        cx_result_bundle_free(&b);
    } else {
        cx_log_warn(w->cfg->log, "worker: bundle of %s: %s", hex, e.msg);
    }
    json_t *rep = json_object_get(st, "report");
    if (rep) {
        snprintf(name, sizeof name, "%s.report.json", hex);
        if (cx_job_path_join(path, sizeof path, w->results_dir, name, &e) != CX_OK ||
            write_json(path, rep, &e) != CX_OK)
            cx_log_warn(w->cfg->log, "worker: writing the report of %s: %s", hex, e.msg);
    }
}

static void settle(worker *w, const cx_chain_id *job_id, const char *hex, const char *path,
                   json_t *st)
{
    int refunded = 0;
    json_t *s = settlement_json(w->ledger, job_id, &refunded);
    json_t *rep = json_object_get(st, "report");
    if (s && rep)
        json_object_set(rep, "settlement", s);
    json_decref(s);
    json_object_set_new(st, "phase", json_string("done"));
    json_object_set_new(st, "outcome", json_string(refunded ? "refunded" : "paid"));
    cx_error e;
    if (write_json(path, st, &e) != CX_OK)
        cx_log_error(w->cfg->log, "worker: %s", e.msg);
    write_results(w, job_id, hex, st);
    if (refunded)
        w->stats->jobs_refunded++;
    else
        w->stats->jobs_paid++;
    notify(w, hex, refunded ? "refunded" : "paid", rep, NULL);
}

static void mark_failed(worker *w, const char *hex, const char *path, json_t *st, const char *why)
{
    json_object_set_new(st, "phase", json_string("failed"));
    json_object_set_new(st, "error", json_string(why));
    cx_error e;
    if (write_json(path, st, &e) != CX_OK)
        cx_log_error(w->cfg->log, "worker: %s", e.msg);
    w->stats->jobs_failed++;
    cx_log_error(w->cfg->log, "worker: job %s failed: %s", hex, why);
    notify(w, hex, "failed", json_object_get(st, "report"), why);
}

static int transient(cx_err c)
{
    return c == CX_ERR_IO || c == CX_ERR_NET || c == CX_ERR_DB || c == CX_ERR_NOMEM;
}

/* A hex field of the job state into *out (malloc'ed). */
static cx_err hex_field(json_t *st, const char *name, uint8_t **out, size_t *len, cx_error *e)
{
    *out = NULL;
    const char *h = json_string_value(json_object_get(st, name));
    if (!h)
        return cx_error_set(e, CX_ERR_FORMAT, "job state: no saved %s", name);
    size_t cap = strlen(h) / 2;
    *out = malloc(cap ? cap : 1);
    if (!*out)
        return cx_error_set(e, CX_ERR_NOMEM, "out of memory");
    cx_err rc = cx_hex_decode(h, strlen(h), *out, cap, len, e);
    if (rc != CX_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* The saved statement and key release, as the ledger takes them: one transaction that pays
 * and reveals the model's key to the buyer, or does neither (RULES.md §2). */
static cx_err submit(worker *w, const cx_chain_id *job_id, json_t *st, cx_error *e)
{
    uint8_t *stmt = NULL, *sig = NULL, *key = NULL, *ksig = NULL;
    size_t sl = 0, gl = 0, kl = 0, kgl = 0;
    cx_err rc;
    if ((rc = hex_field(st, "statement", &stmt, &sl, e)) == CX_OK &&
        (rc = hex_field(st, "signature", &sig, &gl, e)) == CX_OK &&
        (rc = hex_field(st, "key_release", &key, &kl, e)) == CX_OK &&
        (rc = hex_field(st, "key_signature", &ksig, &kgl, e)) == CX_OK &&
        (gl != CX_CHAIN_ED25519_SIG_LEN || kgl != CX_CHAIN_ED25519_SIG_LEN))
        rc = cx_error_set(e, CX_ERR_FORMAT, "job state: bad signature");
    if (rc == CX_OK) {
        cx_ledger_signed ss = {stmt, sl, sig}, ks = {key, kl, ksig};
        double t_call = cx_now_seconds();
        rc = cx_ledger_result_submit(w->ledger, w->op, job_id, &w->enclave_id, &ss, &ks, e);
        cx_status_call(w->cfg->status, "ledger", "result_submit", cx_now_seconds() - t_call, rc);
    }
    free(stmt);
    free(sig);
    free(key);
    free(ksig);
    return rc;
}

/* After a failure that retrying will not mend: the enclave signs that it gives the job up
 * (a reason class, nothing of the data) and the buyer is refunded now rather than after the
 * grace period. */
static void give_up(worker *w, const cx_chain_id *job_id, const char *hex, const char *path,
                    json_t *st)
{
    json_int_t reason = json_integer_value(json_object_get(st, "fail_reason"));
    if (reason < CX_CHAIN_FAIL_SPEC || reason > CX_CHAIN_FAIL_INTERNAL)
        reason = CX_CHAIN_FAIL_INTERNAL;
    cx_error e;
    if (cx_job_fail(w->ledger, w->tee, w->op, &w->enclave_id, job_id, (cx_chain_fail_reason)reason,
                    &e) != CX_OK) {
        cx_log_error(w->cfg->log, "worker: job %s: signing its failure: %s%s", hex, e.msg,
                     transient(e.code) ? " (will retry)" : "");
        return;
    }
    cx_log_warn(w->cfg->log, "worker: job %s: the enclave gave it up (%s); buyer refunded", hex,
                cx_chain_fail_reason_name((cx_chain_fail_reason)reason));
    json_object_set_new(st, "phase", json_string("done"));
    json_object_set_new(st, "outcome", json_string("refunded"));
    json_object_set_new(st, "note", json_string("the enclave's signed failure refunded the buyer"));
    if (write_json(path, st, &e) != CX_OK)
        cx_log_error(w->cfg->log, "worker: %s", e.msg);
    w->stats->jobs_refunded++;
}

/* Whether the ledger's result for the job is the one saved in st (a resubmission after a
 * crash that happened just after the commit point). */
static int ledger_has_ours(worker *w, const cx_chain_id *job_id, json_t *st)
{
    cx_ledger_result r;
    memset(&r, 0, sizeof r);
    cx_error e;
    if (cx_ledger_result_get(w->ledger, job_id, &r, &e) != CX_OK)
        return 0;
    char *gh = cx_hex_dup(r.signature, 64);
    const char *mine = json_string_value(json_object_get(st, "signature"));
    int same = gh && mine && strcmp(gh, mine) == 0;
    free(gh);
    cx_ledger_result_free(&r);
    return same;
}

static void process_job(worker *w, const char *hex)
{
    char path[PATH_MAX];
    cx_error e;
    cx_chain_id job_id;
    json_t *st = NULL;
    if (job_path(w, hex, path, sizeof path, &e) != CX_OK ||
        cx_chain_id_from_hex(hex, &job_id, &e) != CX_OK ||
        cx_json_load_file(path, &st, &e) != CX_OK) {
        cx_log_error(w->cfg->log, "worker: job %s: %s", hex, e.msg);
        return;
    }
    const char *phase = json_string_value(json_object_get(st, "phase"));
    if (!phase || strcmp(phase, "done") == 0)
        goto out;
    cx_ledger_job job;
    double t_call = cx_now_seconds();
    cx_err grc = cx_ledger_job_get(w->ledger, &job_id, &job, &e);
    cx_status_call(w->cfg->status, "ledger", "job_get", cx_now_seconds() - t_call, grc);
    if (grc != CX_OK) {
        cx_log_error(w->cfg->log, "worker: job %s: %s", hex, e.msg);
        goto out;
    }
    if (strcmp(phase, "pending") == 0 || strcmp(phase, "signed") == 0)
        cx_status_job_queued(w->cfg->status, hex, job.payment);
    int ours = job.state == CX_LEDGER_JOB_ACCEPTED && cx_chain_id_equal(&job.enclave_id, &w->enclave_id);
    if (job.state != CX_LEDGER_JOB_OPEN && !ours) {
        if (strcmp(phase, "signed") == 0 && ledger_has_ours(w, &job_id, st)) {
            cx_log_warn(w->cfg->log,
                        "worker: job %s: our result was already accepted (the "
                        "worker stopped after submitting)",
                        hex);
            settle(w, &job_id, hex, path, st);
        } else if (strcmp(phase, "pending") == 0) {
            /* settled before this worker got to it (another worker, or a refund), or taken by
             * another enclave of this operator */
            cx_log_info(w->cfg->log, "worker: job %s is already %s", hex,
                        cx_ledger_job_state_name(job.state));
            json_object_set_new(st, "phase", json_string("done"));
            json_object_set_new(st, "outcome", json_string(cx_ledger_job_state_name(job.state)));
            if (write_json(path, st, &e) != CX_OK)
                cx_log_error(w->cfg->log, "worker: %s", e.msg);
        } else if (strcmp(phase, "failed") != 0 || job.state == CX_LEDGER_JOB_REFUNDED) {
            json_object_set_new(st, "phase", json_string("done"));
            json_object_set_new(st, "outcome", json_string(cx_ledger_job_state_name(job.state)));
            if (write_json(path, st, &e) != CX_OK)
                cx_log_error(w->cfg->log, "worker: %s", e.msg);
            notify(w, hex, "closed", json_object_get(st, "report"),
                   "closed on the ledger without this worker's result");
        }
        goto out;
    }
    /* an open job's buyer gets the money back after the deadline; an accepted job's escrow
     * stays locked to its enclave for the grace period after it (RULES.md §2) */
    uint64_t expiry = job.deadline_ms + (ours ? CX_LEDGER_RESULT_GRACE_MS : 0);
    if (cx_unix_ms() > expiry) {
        if (cx_ledger_job_refund_expired(w->ledger, w->op, &job_id, &e) == CX_OK) {
            cx_log_warn(w->cfg->log, "worker: job %s: deadline passed; buyer refunded", hex);
            json_object_set_new(st, "phase", json_string("done"));
            json_object_set_new(st, "outcome", json_string("refunded"));
            json_object_set_new(st, "note", json_string("deadline passed: buyer refunded"));
            if (write_json(path, st, &e) != CX_OK)
                cx_log_error(w->cfg->log, "worker: %s", e.msg);
            w->stats->jobs_refunded++;
            notify(w, hex, "refunded", json_object_get(st, "report"), "deadline passed");
        } else {
            cx_log_error(w->cfg->log, "worker: job %s: refund: %s", hex, e.msg);
        }
        goto out;
    }
    if (strcmp(phase, "failed") == 0) {
        if (ours) /* its signed failure did not reach the ledger yet */
            give_up(w, &job_id, hex, path, st);
        goto out; /* an open one waits for its deadline, then the buyer is refunded above */
    }
    if (!ours) {
        /* the enclave takes the job before it reads any data: from here the escrow is
         * locked to its result or its signed failure */
        if (cx_job_accept(w->ledger, w->tee, w->op, &w->enclave_id, &job_id, &e) != CX_OK) {
            if (transient(e.code)) {
                cx_log_error(w->cfg->log, "worker: job %s: accepting: %s (will retry)", hex,
                             e.msg);
            } else {
                char why[CX_ERROR_MSG_MAX + 40];
                snprintf(why, sizeof why, "the ledger refused the acceptance: %s", e.msg);
                mark_failed(w, hex, path, st, why);
            }
            goto out;
        }
        cx_log_info(w->cfg->log, "worker: job %s accepted by this enclave", hex);
        cx_job_hook_point(&w->cfg->hooks, "accepted", w->cfg->log);
    }

    if (strcmp(phase, "pending") == 0) {
        cx_job_params p = {.ledger = w->ledger,
                           .store = w->store,
                           .tee = w->tee,
                           .seal = w->cfg->seal,
                           .enclave_id = w->enclave_id,
                           .job_id = job_id,
                           .device = w->cfg->device,
                           .threads = w->cfg->threads,
                           .progress = w->cfg->progress,
                           .log = w->cfg->log,
                           .hooks = &w->cfg->hooks,
                           .budget = w->cfg->budget,
                           .time_limit_s = w->cfg->job_time_limit_s,
                           .status = w->cfg->status,
                           .comm = multi_rank(w->cfg) ? w->cfg->comm : NULL,
                           .rank_policy = &w->rank_policy};
        cx_job_output o;
        cx_log_info(w->cfg->log, "worker: running job %s", hex);
        if (multi_rank(w->cfg) && rank_cmd_send(w->cfg->comm, w->tee, &job_id, &e) != CX_OK) {
            cx_log_error(w->cfg->log, "worker: job %s: calling the ranks: %s (will retry)", hex,
                         e.msg);
            goto out;
        }
        cx_secmem_stats sm0, sm1;
        cx_secmem_stats_get(&sm0);
        if (cx_job_execute(&p, &o, &e) != CX_OK) {
            cx_secmem_stats_get(&sm1);
            /* out of lockable memory (--require-mlock) reads as NOMEM deep down: no transient */
            int lock_refused = sm1.lock_refusals > sm0.lock_refusals;
            if (transient(e.code) && !lock_refused) {
                cx_log_error(w->cfg->log, "worker: job %s: %s (will retry)", hex, e.msg);
            } else {
                char why[CX_ERROR_MSG_MAX + 160];
                snprintf(why, sizeof why, "%s%s",
                         lock_refused ? "--require-mlock: secure memory could not be locked in "
                                        "RAM (RLIMIT_MEMLOCK; raise it or grant CAP_IPC_LOCK): "
                                      : "",
                         e.msg);
                json_object_set_new(st, "fail_reason", json_integer(o.fail_reason));
                mark_failed(w, hex, path, st, why);
                give_up(w, &job_id, hex, path, st);
            }
            goto out;
        }
        char *sh = cx_hex_dup(o.statement, o.statement_len), *gh = cx_hex_dup(o.signature, 64),
             *kh = cx_hex_dup(o.key_release, o.key_release_len),
             *kgh = cx_hex_dup(o.key_signature, 64);
        json_t *ranks = o.ranks ? ranks_json(o.ranks) : NULL;
        if (!sh || !gh || !kh || !kgh || (o.ranks && !ranks)) {
            json_decref(ranks);
            free(sh);
            free(gh);
            free(kh);
            free(kgh);
            cx_job_output_free(&o);
            cx_log_error(w->cfg->log, "worker: out of memory");
            goto out;
        }
        json_object_set_new(st, "phase", json_string("signed"));
        json_object_set_new(st, "statement", json_string(sh));
        json_object_set_new(st, "signature", json_string(gh));
        /* the model's key wrapped to the buyer: readable by the buyer alone, and revealed on
         * the ledger only by the paying transaction */
        json_object_set_new(st, "key_release", json_string(kh));
        json_object_set_new(st, "key_signature", json_string(kgh));
        json_object_set_new(st, "model_blob_id", json_string(o.model_blob_id));
        json_object_set(st, "report", o.report);
        if (ranks)
            json_object_set_new(st, "ranks", ranks);
        free(sh);
        free(gh);
        free(kh);
        free(kgh);
        cx_job_output_free(&o);
        /* saved before submitting: a crash from here on resubmits the same statement */
        if (write_json(path, st, &e) != CX_OK) {
            cx_log_error(w->cfg->log, "worker: job %s: %s", hex, e.msg);
            goto out;
        }
        cx_job_hook_point(&w->cfg->hooks, "signed", w->cfg->log);
    }

    if (submit(w, &job_id, st, &e) == CX_OK) {
        cx_log_info(w->cfg->log, "worker: job %s: result accepted by the ledger", hex);
        settle(w, &job_id, hex, path, st);
    } else if (ledger_has_ours(w, &job_id, st)) {
        settle(w, &job_id, hex, path, st);
    } else if (transient(e.code)) {
        cx_log_error(w->cfg->log, "worker: job %s: submitting: %s (will retry)", hex, e.msg);
    } else {
        char why[CX_ERROR_MSG_MAX + 32];
        snprintf(why, sizeof why, "the ledger refused the result: %s", e.msg);
        json_object_set_new(st, "fail_reason", json_integer(CX_CHAIN_FAIL_INTERNAL));
        mark_failed(w, hex, path, st, why);
        give_up(w, &job_id, hex, path, st);
    }
out:
    json_decref(st);
}

/* Whether this process may lock memory beyond RLIMIT_MEMLOCK: CAP_IPC_LOCK in its effective
 * set (root without it, e.g. in a container or under setpriv, is held to the limit). */
static int has_cap_ipc_lock(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capget, &h, d) != 0)
        return 0;
    return (d[CAP_IPC_LOCK / 32].effective >> (CAP_IPC_LOCK % 32)) & 1u;
}

/* Plaintext and keys go to locked memory; say at the start, loudly, when the lock limit
 * will not hold a job's data, or make every unlocked allocation fail (--require-mlock). */
static void secure_memory_policy(const cx_worker_config *c)
{
    if (c->require_mlock)
        cx_secmem_require_lock(1);
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    void *probe = cx_secmem_alloc(1, 0, NULL);
    int can_lock = probe && cx_secmem_is_locked(probe);
    cx_secmem_free(probe);
    if (can_lock && has_cap_ipc_lock())
        return; /* CAP_IPC_LOCK is not held to the limit */
    cx_log_warn(c->log,
                "worker: RLIMIT_MEMLOCK is %llu KiB: plaintext beyond it cannot be locked in RAM "
                "and may be swapped to disk (%s). Raise it (`ulimit -l unlimited`, systemd "
                "LimitMEMLOCK=infinity) or grant CAP_IPC_LOCK; each job report gives the bytes "
                "not locked",
                (unsigned long long)(rl.rlim_cur / 1024),
                c->require_mlock ? "--require-mlock: such jobs fail" : "jobs run, with a warning");
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What the status page says about this node: the registered enclave (measurement, when its
 * document was registered), the TEE backend, the training device and the GPU's CC mode. */
static void status_enclave(worker *w)
{
    cx_ledger_enclave en;
    cx_error e;
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&w->enclave_id, hex);
    int have = cx_ledger_enclave_get(w->ledger, &w->enclave_id, &en, &e) == CX_OK;
    const char *dev = w->cfg->device ? w->cfg->device : "auto";
    char cc[64] = "no GPU in use";
    if (strcmp(dev, "cpu") != 0) {
        cx_gpu_cc_state g;
        cx_gpu_nvml *nv = NULL;
        if (cx_gpu_nvml_open(&nv, &e) == CX_OK && cx_gpu_cc_state_get(nv, &g, &e) == CX_OK &&
            g.n_gpus) {
            snprintf(cc, sizeof cc, "%s%s (%u GPU%s)", g.cc_feature ? "on" : "off",
                     g.devtools_mode ? ", devtools" : "", g.n_gpus, g.n_gpus > 1 ? "s" : "");
            cx_status_gpu_attach(w->cfg->status, nv, g.n_gpus); /* the model owns it now */
            nv = NULL;
        } else {
            snprintf(cc, sizeof cc, "no NVIDIA GPU found");
        }
        cx_gpu_nvml_close(nv);
    }
    cx_status_enclave(w->cfg->status, hex, cx_tee_backend_name(w->tee),
                      have ? en.measurement : NULL, have ? en.measurement_len : 0,
                      have ? en.registered_ms : 0, dev, cc);
}

static cx_err process_jobs(worker *w, cx_error *e)
{
    DIR *d = opendir(w->jobs_dir);
    if (!d)
        return cx_error_errno(e, CX_ERR_IO, errno, "worker: opening %s", w->jobs_dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    cx_err rc = CX_OK;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l != CX_CHAIN_ID_HEX_LEN + 5 || strcmp(de->d_name + CX_CHAIN_ID_HEX_LEN, ".json") != 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) {
                rc = cx_error_set(e, CX_ERR_NOMEM, "worker: out of memory");
                break;
            }
            names = nn;
            cap = nc;
        }
        names[n] = strndup(de->d_name, CX_CHAIN_ID_HEX_LEN);
        if (!names[n]) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "worker: out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == CX_OK && n)
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; rc == CX_OK && i < n; i++)
        process_job(w, names[i]);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* A rank other than 0 of a multi-rank worker: its own TEE (fresh keys in this process: it is
 * never registered, rank 0's document vouches for nothing but rank 0), the store, and a loop
 * over rank 0's commands. A job that fails here fails on every rank (rank 0 reports it); the
 * rank waits for the next. */
static cx_err worker_rank_run(const cx_worker_config *c, cx_error *e)
{
    worker w = {.cfg = c, .store = c->store};
    cx_err rc = cx_tee_sim_devca_create(c->devca_dir, e);
    cx_tee_sim_config tc = {.devca_dir = c->devca_dir, .log = c->log};
    if (rc == CX_OK)
        rc = cx_tee_sim_open(&tc, &w.tee, e);
    if (rc == CX_OK && !c->store)
        rc = cx_job_store_open(c->store_url, c->log, &w.store, e);
    if (rc == CX_OK)
        rc = rank_policy_load(&w, e);
    cx_log_info(c->log, "worker: rank %d of %d waiting for rank 0's jobs", c->comm->rank,
                c->comm->size);
    while (rc == CX_OK) {
        rank_cmd cmd;
        if ((rc = rank_cmd_bcast(c->comm, &cmd, e)) != CX_OK ||
            cmd.op != RANK_CMD_RUN)
            break;
        cx_job_params p = {.store = w.store,
                           .tee = w.tee,
                           .device = c->device,
                           .threads = c->threads,
                           .progress = 0,
                           .log = c->log,
                           .hooks = &c->hooks,
                           .comm = c->comm,
                           .rank_policy = &w.rank_policy};
        memcpy(p.job_id.b, cmd.job_id, 32);
        char hex[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(&p.job_id, hex);
        cx_error je;
        if (cx_job_execute_rank(&p, cmd.leader_pk, &je) != CX_OK)
            cx_log_error(c->log, "worker: rank %d: job %s: %s", c->comm->rank, hex, je.msg);
    }
    cx_tee_close(w.tee);
    if (!c->store)
        cx_store_free(w.store);
    free(w.rank_root);
    return rc;
}

static cx_err worker_run(const cx_worker_config *c, cx_worker_stats *stats, cx_error *e)
{
    cx_worker_stats local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    worker w = {.cfg = c, .stats = stats, .store = c->store};
    int lock_fd = -1;
    cx_err rc;
    if ((rc = cx_mkdir_p(c->state_dir, 0700, e)) != CX_OK ||
        (rc = cx_job_path_join(w.jobs_dir, sizeof w.jobs_dir, c->state_dir, "jobs", e)) != CX_OK ||
        (rc = cx_job_path_join(w.results_dir, sizeof w.results_dir, c->state_dir, "results", e)) !=
            CX_OK ||
        (rc = cx_job_path_join(w.cursor_path, sizeof w.cursor_path, c->state_dir, "cursor", e)) !=
            CX_OK ||
        (rc = cx_mkdir_p(w.jobs_dir, 0700, e)) != CX_OK ||
        (rc = cx_mkdir_p(w.results_dir, 0700, e)) != CX_OK)
        return rc;
    /* one worker per state dir: a second one would run the same jobs (the lock goes away
     * with the process, however it ends) */
    char lock_path[PATH_MAX];
    if ((rc = cx_job_path_join(lock_path, sizeof lock_path, c->state_dir, "worker.lock", e)) !=
        CX_OK)
        return rc;
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0)
        return cx_error_errno(e, CX_ERR_IO, errno, "worker: %s", lock_path);
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int en = errno;
        close(lock_fd);
        if (en == EWOULDBLOCK)
            return cx_error_set(e, CX_ERR_STATE, "worker: another worker is using %s",
                                c->state_dir);
        return cx_error_errno(e, CX_ERR_IO, en, "worker: locking %s", lock_path);
    }
    secure_memory_policy(c);
    if ((rc = cx_job_enclave_state_load(c->state_dir, &w.enclave_id, e)) != CX_OK ||
        (rc = cx_job_identity_load(c->key_dir, &w.op, e)) != CX_OK ||
        (rc = cx_job_ledger_open(c->ledger_url, c->log, &w.ledger, e)) != CX_OK ||
        (!c->store && (rc = cx_job_store_open(c->store_url, c->log, &w.store, e)) != CX_OK) ||
        (rc = cx_job_tee_open(c->state_dir, c->devca_dir, c->log, &w.tee, e)) != CX_OK ||
        (multi_rank(c) && (rc = rank_policy_load(&w, e)) != CX_OK))
        goto out;
    if (c->status)
        status_enclave(&w);
    for (;;) {
        if ((rc = follow_events(&w, e)) != CX_OK || (rc = process_jobs(&w, e)) != CX_OK)
            break;
        if (c->once)
            break;
        /* A signal ends the process wherever it is: every step is crash-safe (state files
         * written atomically, the ledger submission is the commit point), so stopping
         * needs no cooperation, and no handler or global flag is kept. */
        struct timespec ts = {.tv_sec = (c->poll_ms ? c->poll_ms : 500) / 1000,
                              .tv_nsec = (long)((c->poll_ms ? c->poll_ms : 500) % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
out:
    close(lock_fd); /* releases the lock */
    free(w.rank_root);
    cx_tee_close(w.tee);
    if (!c->store)
        cx_store_free(w.store);
    cx_ledger_close(w.ledger);
    cx_chain_key_free(w.op);
    return rc;
}

cx_err cx_worker_run(const cx_worker_config *c, cx_worker_stats *stats, cx_error *e)
{
    if (!multi_rank(c))
        return worker_run(c, stats, e);
    if (c->comm->rank != 0)
        return worker_rank_run(c, e);
    cx_err rc = worker_run(c, stats, e);
    /* the other ranks stop however rank 0 ended (a crash ends them through MPI) */
    cx_error qe;
    if (rank_cmd_send(c->comm, NULL, NULL, &qe) != CX_OK)
        cx_log_warn(c->log, "worker: stopping the ranks: %s", qe.msg);
    return rc;
}
