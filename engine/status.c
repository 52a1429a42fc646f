/* status.c — the worker's live status model (enclave, jobs, progress, acceptance, errors, call
 * latencies) and its two renderings: the JSON API and Prometheus text (exposition format 0.0.4). */
#include "cx_engine.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    ST_MAX_JOBS = 256,    /* the oldest finished job is forgotten beyond this */
    ST_MAX_ERRORS = 32,   /* recent errors kept */
    ST_MAX_PHASES = 24,   /* phases per job */
    ST_MAX_EPOCHS = 4096, /* loss points per job */
    ST_MAX_CALLS = 32,    /* distinct (service, op) pairs */
    ST_TEXT = 320,
};

typedef struct st_phase {
    char name[32];
    double t; /* monotonic seconds when it began */
} st_phase;

typedef struct st_job {
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    char state[16]; /* queued, running, paid, refunded, failed, closed */
    uint64_t payment, created_ms;
    st_phase phases[ST_MAX_PHASES];
    size_t n_phases;
    double t_start, t_end;
    uint64_t blobs_done, blobs_total, bytes_done, bytes_total;
    int epoch, epochs;
    double *train_loss, *val_loss; /* per epoch */
    size_t n_loss;
    double epsilon; /* NAN: none spent (or no DP) */
    char error[ST_TEXT];
    json_t *acceptance; /* {"contributors": [...], "rejected": [...]} from the report */
    char device[96];
} st_job;

typedef struct st_call {
    char service[16], op[32];
    uint64_t count, errors[CX_ERR__COUNT];
    double seconds_sum;
} st_call;

struct cx_status {
    pthread_mutex_t mu;
    /* enclave */
    char enclave_hex[CX_CHAIN_ID_HEX_LEN + 1], tee_backend[16], device[64], cc_mode[64];
    char measurement_hex[2 * CX_CHAIN_MEASUREMENT_MAX + 1];
    uint64_t attested_ms;
    double t_start;
    st_job *jobs[ST_MAX_JOBS];
    size_t n_jobs;
    struct {
        uint64_t at_ms;
        char level[8], msg[ST_TEXT];
    } errors[ST_MAX_ERRORS];
    size_t n_errors, errors_next;
    uint64_t errors_total, warnings_total;
    st_call calls[ST_MAX_CALLS];
    size_t n_calls;
    /* totals over every job */
    uint64_t bytes_decrypted_total;
    double decrypt_seconds_total, train_seconds_total;
    uint64_t train_rows_epochs_total; /* rows × epochs trained */
    uint64_t epochs_total;
    double epoch_seconds_sum;
    /* the logger wrapper */
    const cx_logger *inner;
    cx_gpu_nvml *nvml; /* NULL: no GPU metrics */
    unsigned n_gpus;
};

cx_err cx_status_new(cx_status **out, cx_error *e)
{
    cx_status *s = calloc(1, sizeof *s);
    if (!s)
        return cx_error_set(e, CX_ERR_NOMEM, "status: out of memory");
    int en = pthread_mutex_init(&s->mu, NULL);
    if (en != 0) {
        free(s);
        return cx_error_errno(e, CX_ERR_INTERNAL, en, "status: mutex");
    }
    snprintf(s->tee_backend, sizeof s->tee_backend, "unknown");
    s->t_start = cx_now_seconds();
    *out = s;
    return CX_OK;
}

static void job_free(st_job *j)
{
    if (!j)
        return;
    free(j->train_loss);
    free(j->val_loss);
    json_decref(j->acceptance);
    free(j);
}

void cx_status_free(cx_status *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_jobs; i++)
        job_free(s->jobs[i]);
    cx_gpu_nvml_close(s->nvml);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void cx_status_enclave(cx_status *s, const char *enclave_hex, const char *tee_backend,
                       const uint8_t *measurement, size_t measurement_len, uint64_t attested_ms,
                       const char *device, const char *cc_mode)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    copy(s->enclave_hex, sizeof s->enclave_hex, enclave_hex);
    copy(s->tee_backend, sizeof s->tee_backend, tee_backend);
    copy(s->device, sizeof s->device, device);
    copy(s->cc_mode, sizeof s->cc_mode, cc_mode);
    s->measurement_hex[0] = 0;
    if (measurement_len > CX_CHAIN_MEASUREMENT_MAX)
        measurement_len = CX_CHAIN_MEASUREMENT_MAX;
    for (size_t i = 0; i < measurement_len; i++)
        snprintf(s->measurement_hex + 2 * i, 3, "%02x", measurement[i]);
    s->attested_ms = attested_ms;
    pthread_mutex_unlock(&s->mu);
}

/* The job's entry, created when new (the oldest finished one makes room); under the lock. */
static st_job *job_get(cx_status *s, const char *hex)
{
    for (size_t i = 0; i < s->n_jobs; i++)
        if (strcmp(s->jobs[i]->hex, hex) == 0)
            return s->jobs[i];
    if (s->n_jobs == ST_MAX_JOBS) {
        size_t victim = ST_MAX_JOBS;
        for (size_t i = 0; i < s->n_jobs && victim == ST_MAX_JOBS; i++)
            if (strcmp(s->jobs[i]->state, "queued") != 0 &&
                strcmp(s->jobs[i]->state, "running") != 0)
                victim = i;
        if (victim == ST_MAX_JOBS)
            return NULL;
        job_free(s->jobs[victim]);
        memmove(&s->jobs[victim], &s->jobs[victim + 1],
                (s->n_jobs - victim - 1) * sizeof s->jobs[0]);
        s->n_jobs--;
    }
    st_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    copy(j->hex, sizeof j->hex, hex);
    copy(j->state, sizeof j->state, "queued");
    j->epsilon = NAN;
    j->created_ms = cx_unix_ms();
    s->jobs[s->n_jobs++] = j;
    return j;
}

void cx_status_gpu_attach(cx_status *s, cx_gpu_nvml *nv, unsigned n_gpus)
{
    if (!s) {
        cx_gpu_nvml_close(nv);
        return;
    }
    pthread_mutex_lock(&s->mu);
    cx_gpu_nvml_close(s->nvml);
    s->nvml = nv;
    s->n_gpus = n_gpus;
    pthread_mutex_unlock(&s->mu);
}

void cx_status_job_queued(cx_status *s, const char *job_hex, uint64_t payment)
{
    if (!s || !job_hex)
        return;
    pthread_mutex_lock(&s->mu);
    st_job *j = job_get(s, job_hex);
    if (j)
        j->payment = payment;
    pthread_mutex_unlock(&s->mu);
}

void cx_status_job_phase(cx_status *s, const char *job_hex, const char *phase)
{
    if (!s || !job_hex || !phase)
        return;
    pthread_mutex_lock(&s->mu);
    st_job *j = job_get(s, job_hex);
    if (j) {
        if (strcmp(j->state, "running") != 0) {
            /* a (re)run starts afresh: progress of an earlier attempt is not this one's */
            copy(j->state, sizeof j->state, "running");
            j->t_start = cx_now_seconds();
            j->n_phases = 0;
            j->n_loss = 0;
            j->error[0] = 0;
        }
        if (j->n_phases < ST_MAX_PHASES) {
            copy(j->phases[j->n_phases].name, sizeof j->phases[0].name, phase);
            j->phases[j->n_phases++].t = cx_now_seconds();
        }
    }
    pthread_mutex_unlock(&s->mu);
}

void cx_status_job_decrypt(cx_status *s, const char *job_hex, uint64_t blobs_done,
                           uint64_t blobs_total, uint64_t bytes_done, uint64_t bytes_total)
{
    if (!s || !job_hex)
        return;
    pthread_mutex_lock(&s->mu);
    st_job *j = job_get(s, job_hex);
    if (j) {
        if (bytes_done >= j->bytes_done)
            s->bytes_decrypted_total += bytes_done - j->bytes_done;
        else
            s->bytes_decrypted_total += bytes_done; /* a new pass (a re-parse) */
        j->blobs_done = blobs_done;
        j->blobs_total = blobs_total;
        j->bytes_done = bytes_done;
        j->bytes_total = bytes_total;
    }
    pthread_mutex_unlock(&s->mu);
}

void cx_status_job_epoch(cx_status *s, const char *job_hex, int epoch, int epochs,
                         double train_loss, double val_loss, double seconds)
{
    if (!s || !job_hex)
        return;
    pthread_mutex_lock(&s->mu);
    st_job *j = job_get(s, job_hex);
    if (j && j->n_loss < ST_MAX_EPOCHS) {
        double *t = realloc(j->train_loss, (j->n_loss + 1) * sizeof *t);
        if (t)
            j->train_loss = t;
        double *v = t ? realloc(j->val_loss, (j->n_loss + 1) * sizeof *v) : NULL;
        if (v) {
            j->val_loss = v;
            j->train_loss[j->n_loss] = train_loss;
            j->val_loss[j->n_loss] = val_loss;
            j->n_loss++;
        }
    }
    if (j) {
        j->epoch = epoch;
        j->epochs = epochs;
    }
    if (seconds >= 0) {
        s->epochs_total++;
        s->epoch_seconds_sum += seconds;
    }
    pthread_mutex_unlock(&s->mu);
}

void cx_status_job_device(cx_status *s, const char *job_hex, const char *device)
{
    if (!s || !job_hex || !device)
        return;
    pthread_mutex_lock(&s->mu);
    st_job *j = job_get(s, job_hex);
    if (j)
        copy(j->device, sizeof j->device, device);
    pthread_mutex_unlock(&s->mu);
}

void cx_status_job_epsilon(cx_status *s, const char *job_hex, double epsilon)
{
    if (!s || !job_hex)
        return;
    pthread_mutex_lock(&s->mu);
    st_job *j = job_get(s, job_hex);
    if (j)
        j->epsilon = epsilon;
    pthread_mutex_unlock(&s->mu);
}

void cx_status_job_end(cx_status *s, const char *job_hex, const char *state, const json_t *report,
                       const char *error)
{
    if (!s || !job_hex || !state)
        return;
    /* what is kept of the report: addresses, counts and reasons; built before the lock */
    json_t *acc = NULL;
    const char *dev = NULL;
    double t_dec = 0, t_train = 0;
    json_int_t rows = 0, epochs = 0;
    if (report) {
        acc = json_object();
        json_t *c = json_object_get(report, "contributors"),
               *r = json_object_get(report, "rejected");
        if (acc && c)
            json_object_set_new(acc, "contributors", json_deep_copy(c));
        if (acc && r)
            json_object_set_new(acc, "rejected", json_deep_copy(r));
        dev = json_string_value(json_object_get(report, "device"));
        json_t *sec = json_object_get(report, "seconds"), *m = json_object_get(report, "model");
        t_dec = json_number_value(json_object_get(sec, "decrypt_parse"));
        t_train = json_number_value(json_object_get(sec, "train"));
        rows = json_integer_value(json_object_get(m, "train_rows"));
        epochs = json_integer_value(json_object_get(m, "epochs_run"));
    }
    pthread_mutex_lock(&s->mu);
    st_job *j = job_get(s, job_hex);
    if (j) {
        copy(j->state, sizeof j->state, state);
        j->t_end = cx_now_seconds();
        if (error)
            copy(j->error, sizeof j->error, error);
        if (acc) {
            json_decref(j->acceptance);
            j->acceptance = acc;
            acc = NULL;
        }
        if (dev)
            copy(j->device, sizeof j->device, dev);
        if (report && j->n_phases) { /* ran here, not just settled after a restart */
            s->decrypt_seconds_total += t_dec;
            s->train_seconds_total += t_train;
            if (rows > 0 && epochs > 0)
                s->train_rows_epochs_total += (uint64_t)rows * (uint64_t)epochs;
        }
    }
    pthread_mutex_unlock(&s->mu);
    json_decref(acc);
}

void cx_status_call(cx_status *s, const char *service, const char *op, double seconds, cx_err rc)
{
    if (!s || !service || !op)
        return;
    pthread_mutex_lock(&s->mu);
    st_call *c = NULL;
    for (size_t i = 0; i < s->n_calls && !c; i++)
        if (strcmp(s->calls[i].service, service) == 0 && strcmp(s->calls[i].op, op) == 0)
            c = &s->calls[i];
    if (!c && s->n_calls < ST_MAX_CALLS) {
        c = &s->calls[s->n_calls++];
        copy(c->service, sizeof c->service, service);
        copy(c->op, sizeof c->op, op);
    }
    if (c) {
        c->count++;
        c->seconds_sum += seconds > 0 ? seconds : 0;
        if (rc != CX_OK && (unsigned)rc < CX_ERR__COUNT)
            c->errors[rc]++;
    }
    pthread_mutex_unlock(&s->mu);
}

static void status_log(void *ud, cx_log_level level, const char *msg)
{
    cx_status *s = ud;
    if (level <= CX_LOG_WARN) {
        pthread_mutex_lock(&s->mu);
        size_t k = s->errors_next;
        s->errors[k].at_ms = cx_unix_ms();
        copy(s->errors[k].level, sizeof s->errors[k].level,
             level == CX_LOG_ERROR ? "error" : "warn");
        copy(s->errors[k].msg, sizeof s->errors[k].msg, msg);
        s->errors_next = (k + 1) % ST_MAX_ERRORS;
        if (s->n_errors < ST_MAX_ERRORS)
            s->n_errors++;
        if (level == CX_LOG_ERROR)
            s->errors_total++;
        else
            s->warnings_total++;
        pthread_mutex_unlock(&s->mu);
    }
    const cx_logger *in = s->inner;
    if (in && level <= in->level)
        cx_log(in, level, "%s", msg);
}

void cx_status_logger(cx_status *s, const cx_logger *inner, cx_logger *out)
{
    if (!s) {
        *out = inner ? *inner : (cx_logger){.level = CX_LOG_ERROR};
        return;
    }
    s->inner = inner;
    /* warnings reach the model even when the inner logger shows errors only */
    cx_log_level lv = inner ? inner->level : CX_LOG_ERROR;
    *out = (cx_logger){.level = lv > CX_LOG_WARN ? lv : CX_LOG_WARN, .fn = status_log, .ud = s};
}

/* ------------------------------------------------------------------ JSON -- */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *job_json(const st_job *j, double now)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "job", j->hex, "state", j->state, "payment",
                          (json_int_t)j->payment, "created_ms", (json_int_t)j->created_ms);
    if (!o)
        return NULL;
    json_t *ph = json_array();
    for (size_t i = 0; ph && i < j->n_phases; i++) {
        double end = i + 1 < j->n_phases ? j->phases[i + 1].t : (j->t_end > 0 ? j->t_end : now);
        json_array_append_new(ph, json_pack("{s:s, s:f}", "phase", j->phases[i].name, "seconds",
                                            end - j->phases[i].t));
    }
    json_object_set_new(o, "phases", ph);
    json_object_set_new(o, "phase",
                        j->n_phases ? json_string(j->phases[j->n_phases - 1].name) : json_null());
    json_object_set_new(
        o, "progress",
        json_pack("{s:I, s:I, s:I, s:I, s:i, s:i}", "blobs_fetched", (json_int_t)j->blobs_done,
                  "blobs_total", (json_int_t)j->blobs_total, "bytes_decrypted",
                  (json_int_t)j->bytes_done, "bytes_total", (json_int_t)j->bytes_total, "epoch",
                  j->epoch, "epochs", j->epochs));
    json_t *tl = json_array(), *vl = json_array();
    for (size_t i = 0; tl && vl && i < j->n_loss; i++) {
        json_array_append_new(tl, num_or_null(j->train_loss[i]));
        json_array_append_new(vl, num_or_null(j->val_loss[i]));
    }
    json_object_set_new(o, "loss", json_pack("{s:o, s:o}", "train", tl, "validation", vl));
    json_object_set_new(o, "epsilon_spent", num_or_null(j->epsilon));
    json_object_set_new(o, "seconds",
                        j->t_start > 0 ? json_real((j->t_end > 0 ? j->t_end : now) - j->t_start)
                                       : json_null());
    json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
    json_object_set_new(o, "device", j->device[0] ? json_string(j->device) : json_null());
    json_object_set_new(o, "acceptance",
                        j->acceptance ? json_deep_copy(j->acceptance) : json_null());
    return o;
}

char *cx_status_json(cx_status *s)
{
    if (!s)
        return NULL;
    pthread_mutex_lock(&s->mu);
    double now = cx_now_seconds();
    uint64_t now_ms = cx_unix_ms();
    json_t *root = json_object();
    json_t *en = json_pack("{s:s, s:s, s:s, s:s, s:s}", "enclave_id", s->enclave_hex, "tee_backend",
                           s->tee_backend, "measurement", s->measurement_hex, "device", s->device,
                           "cc_mode", s->cc_mode);
    if (en) {
        json_object_set_new(en, "simulated", json_boolean(strcmp(s->tee_backend, "sim") == 0));
        json_object_set_new(en, "attested_ms",
                            s->attested_ms ? json_integer((json_int_t)s->attested_ms)
                                           : json_null());
        json_object_set_new(en, "attestation_age_seconds",
                            s->attested_ms && now_ms >= s->attested_ms
                                ? json_real((double)(now_ms - s->attested_ms) / 1000.0)
                                : json_null());
    }
    json_t *jobs = json_array();
    for (size_t i = s->n_jobs; jobs && i-- > 0;) /* newest first */
        json_array_append_new(jobs, job_json(s->jobs[i], now));
    json_t *errs = json_array();
    for (size_t k = 0; errs && k < s->n_errors; k++) {
        size_t i = (s->errors_next + ST_MAX_ERRORS - 1 - k) % ST_MAX_ERRORS; /* newest first */
        json_array_append_new(errs,
                              json_pack("{s:I, s:s, s:s}", "at_ms", (json_int_t)s->errors[i].at_ms,
                                        "level", s->errors[i].level, "message", s->errors[i].msg));
    }
    json_object_set_new(root, "enclave", en);
    json_object_set_new(root, "jobs", jobs);
    json_object_set_new(root, "errors", errs);
    json_object_set_new(root, "now_ms", json_integer((json_int_t)now_ms));
    json_object_set_new(root, "uptime_seconds", json_real(now - s->t_start));
    pthread_mutex_unlock(&s->mu);
    char *out = root ? cx_json_dumps(root, 0) : NULL;
    json_decref(root);
    return out;
}

/* ------------------------------------------------------------ Prometheus -- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

static void metric_head(sbuf *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values here are our own fixed words (states, services, ops, error kinds), which
 * need no escaping; numbers are printed so that Go's and Python's parsers read them back. */
static void sample(sbuf *b, const char *name, const char *labels, double v)
{
    if (isnan(v))
        sb_printf(b, "%s%s NaN\n", name, labels);
    else if (isinf(v))
        sb_printf(b, "%s%s %s\n", name, labels, v > 0 ? "+Inf" : "-Inf");
    else
        sb_printf(b, "%s%s %.17g\n", name, labels, v);
}

char *cx_status_metrics(cx_status *s)
{
    if (!s)
        return NULL;
    static const char *const states[] = {"queued",   "running", "paid",
                                         "refunded", "failed",  "closed"};
    sbuf b = {0};
    char lab[160];
    pthread_mutex_lock(&s->mu);
    metric_head(&b, "cloakx_jobs", "gauge", "Jobs this worker knows, by state.");
    for (size_t k = 0; k < sizeof states / sizeof states[0]; k++) {
        unsigned n = 0;
        for (size_t i = 0; i < s->n_jobs; i++)
            n += strcmp(s->jobs[i]->state, states[k]) == 0;
        snprintf(lab, sizeof lab, "{state=\"%s\"}", states[k]);
        sample(&b, "cloakx_jobs", lab, n);
    }
    metric_head(&b, "cloakx_decrypted_bytes_total", "counter",
                "Plaintext bytes decrypted and authenticated, over every job.");
    sample(&b, "cloakx_decrypted_bytes_total", "", (double)s->bytes_decrypted_total);
    metric_head(&b, "cloakx_decrypt_seconds_total", "counter",
                "Seconds spent decrypting and parsing, over every finished job.");
    sample(&b, "cloakx_decrypt_seconds_total", "", s->decrypt_seconds_total);
    metric_head(&b, "cloakx_decrypt_throughput_bytes_per_second", "gauge",
                "Decrypted bytes per second of decrypt-and-parse time, over finished jobs.");
    sample(&b, "cloakx_decrypt_throughput_bytes_per_second", "",
           s->decrypt_seconds_total > 0
               ? (double)s->bytes_decrypted_total / s->decrypt_seconds_total
               : 0);
    metric_head(&b, "cloakx_train_seconds_total", "counter",
                "Seconds spent training, over every finished job.");
    sample(&b, "cloakx_train_seconds_total", "", s->train_seconds_total);
    metric_head(&b, "cloakx_train_throughput_rows_per_second", "gauge",
                "Training rows times epochs per second of training, over finished jobs.");
    sample(&b, "cloakx_train_throughput_rows_per_second", "",
           s->train_seconds_total > 0 ? (double)s->train_rows_epochs_total / s->train_seconds_total
                                      : 0);
    metric_head(&b, "cloakx_epoch_duration_seconds", "summary", "Duration of training epochs.");
    sample(&b, "cloakx_epoch_duration_seconds_sum", "", s->epoch_seconds_sum);
    sample(&b, "cloakx_epoch_duration_seconds_count", "", (double)s->epochs_total);
    metric_head(&b, "cloakx_call_duration_seconds", "summary",
                "Latency of ledger and store calls, by service and operation.");
    for (size_t i = 0; i < s->n_calls; i++) {
        snprintf(lab, sizeof lab, "{service=\"%s\",op=\"%s\"}", s->calls[i].service,
                 s->calls[i].op);
        sample(&b, "cloakx_call_duration_seconds_sum", lab, s->calls[i].seconds_sum);
        sample(&b, "cloakx_call_duration_seconds_count", lab, (double)s->calls[i].count);
    }
    metric_head(&b, "cloakx_call_errors_total", "counter",
                "Failed ledger and store calls, by service, operation and error kind.");
    for (size_t i = 0; i < s->n_calls; i++)
        for (int k = 1; k < CX_ERR__COUNT; k++) {
            if (!s->calls[i].errors[k])
                continue;
            snprintf(lab, sizeof lab, "{service=\"%s\",op=\"%s\",kind=\"%s\"}", s->calls[i].service,
                     s->calls[i].op, cx_err_name((cx_err)k));
            sample(&b, "cloakx_call_errors_total", lab, (double)s->calls[i].errors[k]);
        }
    metric_head(&b, "cloakx_log_messages_total", "counter", "Warnings and errors logged.");
    sample(&b, "cloakx_log_messages_total", "{level=\"error\"}", (double)s->errors_total);
    sample(&b, "cloakx_log_messages_total", "{level=\"warn\"}", (double)s->warnings_total);
    uint64_t now_ms = cx_unix_ms();
    if (s->attested_ms && now_ms >= s->attested_ms) {
        metric_head(&b, "cloakx_enclave_attestation_age_seconds", "gauge",
                    "Age of the enclave's registered attestation document.");
        sample(&b, "cloakx_enclave_attestation_age_seconds", "",
               (double)(now_ms - s->attested_ms) / 1000.0);
    }
    /* GPUs, sampled now (NVML is thread-safe; the lock keeps the handle alive) */
    cx_gpu_usage gu[16];
    int gok[16];
    unsigned ng = s->nvml ? (s->n_gpus < 16 ? s->n_gpus : 16) : 0;
    for (unsigned g = 0; g < ng; g++) {
        cx_error ge;
        gok[g] = cx_gpu_usage_get(s->nvml, g, &gu[g], &ge) == CX_OK;
    }
    static const struct {
        const char *name, *type, *help;
    } gm[] = {{"cloakx_gpu_memory_used_bytes", "gauge", "GPU memory in use (NVML)."},
              {"cloakx_gpu_memory_total_bytes", "gauge", "GPU memory in all (NVML)."},
              {"cloakx_gpu_utilization_ratio", "gauge",
               "Fraction of the last sample period a kernel ran on the GPU (NVML)."},
              {"cloakx_gpu_memory_utilization_ratio", "gauge",
               "Fraction of the last sample period GPU memory was read or written (NVML)."}};
    for (size_t k = 0; ng && k < sizeof gm / sizeof gm[0]; k++) {
        metric_head(&b, gm[k].name, gm[k].type, gm[k].help);
        for (unsigned g = 0; g < ng; g++) {
            if (!gok[g])
                continue;
            double v = k == 0   ? (double)gu[g].memory_used
                       : k == 1 ? (double)gu[g].memory_total
                       : k == 2 ? gu[g].utilization_gpu / 100.0
                                : gu[g].utilization_memory / 100.0;
            snprintf(lab, sizeof lab, "{gpu=\"%u\"}", g);
            sample(&b, gm[k].name, lab, v);
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
