/* test_engine_status.c — the worker's status model: job states and progress as the worker
 * reports them, totals across re-parse passes, call latencies and errors by kind, GPU gauges
 * (through a stand-in NVML), and the JSON and Prometheus renderings of all of it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cx_engine.h"
#include "gpu_nvml.h"

static const char JOB_A[] = "0x0a00000000000000000000000000000000000000000000000000000000000000";
static const char JOB_B[] = "0x0b00000000000000000000000000000000000000000000000000000000000000";

static void has_line(const char *text, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (!strstr(text, want) && strncmp(text, want + 1, strlen(want + 1)) != 0) {
        fprintf(stderr, "missing line: %s\n--- in ---\n%s", line, text);
        fail();
    }
}

static void test_job_lifecycle(void **state)
{
    (void)state;
    cx_status *s = NULL;
    cx_error e;
    assert_int_equal(cx_status_new(&s, &e), CX_OK);
    uint8_t meas[48];
    memset(meas, 0xab, sizeof meas);
    cx_status_enclave(s, JOB_A, "sim", meas, sizeof meas, cx_unix_ms() - 5000, "cpu", "no GPU");
    cx_status_job_queued(s, JOB_A, 500);
    cx_status_job_queued(s, JOB_B, 700);
    cx_status_job_phase(s, JOB_A, "load_job");
    cx_status_job_phase(s, JOB_A, "decrypt_and_parse");
    cx_status_job_decrypt(s, JOB_A, 1, 2, 600, 1000);
    cx_status_job_decrypt(s, JOB_A, 2, 2, 1000, 1000);
    /* a re-parse after a tampered blob starts a second pass over fewer bytes */
    cx_status_job_decrypt(s, JOB_A, 1, 1, 400, 400);
    cx_status_job_device(s, JOB_A, "cpu (2 threads)");
    cx_status_job_phase(s, JOB_A, "train");
    /* the device shows while the job runs, not only once it has ended */
    char *running = cx_status_json(s);
    assert_non_null(running);
    assert_non_null(strstr(running, "\"cpu (2 threads)\""));
    free(running);
    cx_status_job_epoch(s, JOB_A, 1, 2, 0.9, 0.8, 0.25);
    cx_status_job_epoch(s, JOB_A, 2, 2, 0.7, 0.6, 0.75);
    cx_status_job_epsilon(s, JOB_A, 1.5);
    cx_status_call(s, "ledger", "result_submit", 0.5, CX_OK);
    cx_status_call(s, "ledger", "result_submit", 0.25, CX_ERR_NET);
    cx_status_call(s, "store", "get", 0.125, CX_ERR_NOTFOUND);

    char *m = cx_status_metrics(s);
    assert_non_null(m);
    has_line(m, "cloakx_jobs{state=\"running\"} 1");
    has_line(m, "cloakx_jobs{state=\"queued\"} 1");
    has_line(m, "cloakx_decrypted_bytes_total 1400");
    has_line(m, "cloakx_epoch_duration_seconds_sum 1");
    has_line(m, "cloakx_epoch_duration_seconds_count 2");
    has_line(m, "cloakx_call_duration_seconds_sum{service=\"ledger\",op=\"result_submit\"} 0.75");
    has_line(m, "cloakx_call_duration_seconds_count{service=\"ledger\",op=\"result_submit\"} 2");
    has_line(
        m, "cloakx_call_errors_total{service=\"ledger\",op=\"result_submit\",kind=\"network\"} 1");
    has_line(m, "cloakx_call_errors_total{service=\"store\",op=\"get\",kind=\"not found\"} 1");
    has_line(m, "# TYPE cloakx_jobs gauge");
    assert_null(strstr(m, "cloakx_gpu_")); /* no GPU attached */
    free(m);

    json_t *report = json_pack(
        "{s:[{s:s, s:i, s:i, s:i}], s:[{s:s, s:s, s:s}], s:s, s:{s:f, s:f}, s:{s:i, s:i}}",
        "contributors", "address", "0x01", "rows", 10, "bad_rows", 0, "blobs", 1, "rejected",
        "blob_id", "b2", "contributor", "0x02", "reason", "tampered or corrupt: tag", "device",
        "cpu", "seconds", "decrypt_parse", 0.5, "train", 2.0, "model", "train_rows", 8,
        "epochs_run", 2);
    assert_non_null(report);
    cx_status_job_end(s, JOB_A, "paid", report, NULL);
    json_decref(report);
    cx_status_job_end(s, JOB_B, "failed", NULL, "no contribution was accepted");

    m = cx_status_metrics(s);
    has_line(m, "cloakx_jobs{state=\"paid\"} 1");
    has_line(m, "cloakx_jobs{state=\"failed\"} 1");
    has_line(m, "cloakx_jobs{state=\"running\"} 0");
    has_line(m, "cloakx_decrypt_throughput_bytes_per_second 2800");
    has_line(m, "cloakx_train_throughput_rows_per_second 8");
    free(m);

    char *js = cx_status_json(s);
    assert_non_null(js);
    json_error_t je;
    json_t *j = json_loads(js, 0, &je);
    free(js);
    assert_non_null(j);
    json_t *jobs = json_object_get(j, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    json_t *b = json_array_get(jobs, 0), *a = json_array_get(jobs, 1); /* newest first */
    assert_string_equal(json_string_value(json_object_get(a, "job")), JOB_A);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "paid");
    assert_string_equal(json_string_value(json_object_get(a, "phase")), "train");
    assert_int_equal(json_array_size(json_object_get(a, "phases")), 3);
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "loss"), "train")), 2);
    assert_true(json_real_value(json_object_get(a, "epsilon_spent")) == 1.5);
    json_t *acc = json_object_get(a, "acceptance");
    assert_int_equal(json_array_size(json_object_get(acc, "contributors")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(acc, "rejected"), 0), "reason")),
                        "tampered or corrupt: tag");
    assert_string_equal(json_string_value(json_object_get(b, "error")),
                        "no contribution was accepted");
    json_t *en = json_object_get(j, "enclave");
    assert_int_equal(strlen(json_string_value(json_object_get(en, "measurement"))), 96);
    assert_true(json_real_value(json_object_get(en, "attestation_age_seconds")) >= 5.0);
    json_decref(j);
    cx_status_free(s);
}

/* the worker's warnings and errors reach the recent errors and still go to the inner logger */
static int inner_lines;
static void inner_fn(void *ud, cx_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
    inner_lines++;
}

static void test_logger_keeps_errors(void **state)
{
    (void)state;
    cx_status *s = NULL;
    cx_error e;
    assert_int_equal(cx_status_new(&s, &e), CX_OK);
    cx_logger inner = {.level = CX_LOG_ERROR, .fn = inner_fn}, lg;
    cx_status_logger(s, &inner, &lg);
    inner_lines = 0;
    for (int i = 0; i < 40; i++)
        cx_log_error(&lg, "failure %d", i);
    cx_log_warn(&lg, "a warning");
    cx_log_info(&lg, "not kept");
    assert_int_equal(inner_lines, 40); /* the inner logger shows errors only */
    char *js = cx_status_json(s);
    json_t *j = json_loads(js, 0, NULL);
    free(js);
    json_t *errs = json_object_get(j, "errors");
    assert_int_equal(json_array_size(errs), 32); /* the most recent ones */
    assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 0), "message")),
                        "a warning");
    assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 1), "message")),
                        "failure 39");
    json_decref(j);
    char *m = cx_status_metrics(s);
    has_line(m, "cloakx_log_messages_total{level=\"error\"} 40");
    has_line(m, "cloakx_log_messages_total{level=\"warn\"} 1");
    free(m);
    cx_status_free(s);
}

/* ---- a stand-in NVML with two GPUs ---- */
static cx_nvml_ret f_ok(void)
{
    return 0;
}
static const char *f_err(cx_nvml_ret r)
{
    (void)r;
    return "fake";
}
static cx_nvml_ret f_count(unsigned *n)
{
    *n = 2;
    return 0;
}
static cx_nvml_ret f_dev(unsigned i, cx_nvml_device *d)
{
    *d = (cx_nvml_device)(uintptr_t)(i + 1);
    return i < 2 ? 0 : 2;
}
static cx_nvml_ret f_state(cx_nvml_cc_system_state *st)
{
    st->cc_feature = 1;
    return 0;
}
static cx_nvml_ret f_report(cx_nvml_device d, cx_nvml_cc_report *r)
{
    (void)d;
    (void)r;
    return 1;
}
static cx_nvml_ret f_cert(cx_nvml_device d, cx_nvml_cc_cert *c)
{
    (void)d;
    (void)c;
    return 1;
}
static cx_nvml_ret f_driver(char *b, unsigned n)
{
    snprintf(b, n, "550.0");
    return 0;
}
static cx_nvml_ret f_vbios(cx_nvml_device d, char *b, unsigned n)
{
    (void)d;
    snprintf(b, n, "x");
    return 0;
}
static cx_nvml_ret f_arch(cx_nvml_device d, unsigned *a)
{
    (void)d;
    *a = 9;
    return 0;
}
static cx_nvml_ret f_mem(cx_nvml_device d, cx_nvml_memory *m)
{
    m->total = 1000;
    m->used = 100 * (unsigned long long)(uintptr_t)d;
    m->free = m->total - m->used;
    return 0;
}
static cx_nvml_ret f_util(cx_nvml_device d, cx_nvml_utilization *u)
{
    u->gpu = 50 * (unsigned)(uintptr_t)d - 25; /* 25 %, 75 % */
    u->memory = 10;
    return 0;
}

static void test_gpu_gauges(void **state)
{
    (void)state;
    const cx_nvml_ops ops = {f_ok,   f_ok,     f_err,   f_count, f_dev, f_state, f_report,
                             f_cert, f_driver, f_vbios, f_arch,  f_mem, f_util};
    cx_status *s = NULL;
    cx_error e;
    cx_gpu_nvml *nv = NULL;
    assert_int_equal(cx_status_new(&s, &e), CX_OK);
    assert_int_equal(cx_gpu_nvml_open_ops(&ops, &nv, &e), CX_OK);
    cx_status_gpu_attach(s, nv, 2);
    char *m = cx_status_metrics(s);
    has_line(m, "cloakx_gpu_memory_used_bytes{gpu=\"0\"} 100");
    has_line(m, "cloakx_gpu_memory_used_bytes{gpu=\"1\"} 200");
    has_line(m, "cloakx_gpu_memory_total_bytes{gpu=\"1\"} 1000");
    has_line(m, "cloakx_gpu_utilization_ratio{gpu=\"0\"} 0.25");
    has_line(m, "cloakx_gpu_utilization_ratio{gpu=\"1\"} 0.75");
    has_line(m, "cloakx_gpu_memory_utilization_ratio{gpu=\"0\"} 0.10000000000000001");
    has_line(m, "# TYPE cloakx_gpu_memory_used_bytes gauge");
    free(m);
    cx_status_free(s); /* closes the NVML handle it took over */
}

/* a NULL model is "no status kept": every call is a no-op */
static void test_null_model(void **state)
{
    (void)state;
    cx_status_job_phase(NULL, JOB_A, "x");
    cx_status_job_decrypt(NULL, JOB_A, 1, 1, 1, 1);
    cx_status_job_device(NULL, JOB_A, "cpu");
    cx_status_job_end(NULL, JOB_A, "paid", NULL, NULL);
    cx_status_call(NULL, "ledger", "x", 1, CX_OK);
    assert_null(cx_status_json(NULL));
    assert_null(cx_status_metrics(NULL));
    cx_status_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_lifecycle),
        cmocka_unit_test(test_logger_keeps_errors),
        cmocka_unit_test(test_gpu_gauges),
        cmocka_unit_test(test_null_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
