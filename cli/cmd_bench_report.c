/* cmd_bench_report.c — `cloakx bench report --out DIR`: runs the bench suite (each bench a child
 * `cloakx --json bench ...` or bench_ledger), keeps their JSON with the host's CPU, kernels and
 * library versions in DIR/report.json, and draws DIR/report.html from it. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "cx_kernels.h"

#ifndef CLOAKX_VERSION
#define CLOAKX_VERSION "unknown"
#endif

enum { REPORT_MAX_ARGS = 24, REPORT_MAX_OUTPUT = 64 << 20 };

typedef struct report_opts {
    const char *out, *peer, *ledger_bench, *device, *from;
    int quick;
} report_opts;

/* One bench to run: a cloakx command (argv after `cloakx --json`) or a program. */
typedef struct bench_step {
    const char *name;    /* its key under "benches" */
    const char *program; /* NULL: this cloakx */
    const char *argv[REPORT_MAX_ARGS];
} bench_step;

/* Runs program argv with stdout captured (*out, NUL-terminated, malloc'ed) and stderr into
 * log_path; *status is the exit code (128 + signal when killed). */
static cx_err run_captured(const char *program, char *const argv[], const char *log_path,
                           char **out, int *status, cx_error *e)
{
    int p[2];
    *out = NULL;
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0)
        return cx_error_errno(e, CX_ERR_IO, errno, "creating %s", log_path);
    if (pipe2(p, O_CLOEXEC) != 0) {
        close(log_fd);
        return cx_error_errno(e, CX_ERR_IO, errno, "pipe");
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(p[0]);
        close(p[1]);
        close(log_fd);
        return cx_error_errno(e, CX_ERR_IO, err, "fork");
    }
    if (pid == 0) { /* the child: only async-signal-safe calls until exec */
        if (dup2(p[1], STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
            _exit(127);
        execv(program, argv);
        _exit(127);
    }
    close(p[1]);
    close(log_fd);
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    cx_err rc = buf ? CX_OK : cx_error_set(e, CX_ERR_NOMEM, "bench output");
    for (;;) {
        if (rc == CX_OK && len + 1 >= cap) {
            char *nb = cap < REPORT_MAX_OUTPUT ? realloc(buf, cap * 2) : NULL;
            if (!nb)
                rc = cx_error_set(e, CX_ERR_LIMIT, "%s: more than %d bytes of output", argv[0],
                                  REPORT_MAX_OUTPUT);
            else
                buf = nb, cap *= 2;
        }
        char sink[4096];
        ssize_t n =
            rc == CX_OK ? read(p[0], buf + len, cap - 1 - len) : read(p[0], sink, sizeof sink);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (rc == CX_OK)
            len += (size_t)n;
    }
    close(p[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR) {
            free(buf);
            return cx_error_errno(e, CX_ERR_IO, errno, "waiting for %s", argv[0]);
        }
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    if (rc != CX_OK) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    return CX_OK;
}

/* The last non-empty line of a log (why a bench failed), at most cap - 1 characters. */
static void last_log_line(const char *path, char *line, size_t cap)
{
    snprintf(line, cap, "no message (see %.400s)", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[1024];
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (buf[0])
            snprintf(line, cap, "%.500s", buf);
    }
    fclose(f);
}

/* Runs one step; returns its entry for "benches" ({argv, seconds, exit_code, result | error}). */
static json_t *run_step(cx_cli *cli, const bench_step *st, const char *dir)
{
    char *argv[REPORT_MAX_ARGS + 4], log_path[PATH_MAX];
    int n = 0;
    json_t *entry = json_object(), *shown = json_array();
    if (!entry || !shown) {
        json_decref(entry);
        json_decref(shown);
        return NULL;
    }
    argv[n++] = (char *)(st->program ? st->program : "cloakx");
    if (!st->program)
        argv[n++] = "--json";
    for (int i = 0; st->argv[i] && n < REPORT_MAX_ARGS + 3; i++)
        argv[n++] = (char *)st->argv[i];
    argv[n] = NULL;
    for (int i = 0; i < n; i++)
        json_array_append_new(shown, json_string(argv[i]));
    json_object_set_new(entry, "argv", shown);
    snprintf(log_path, sizeof log_path, "%s/logs/%s.log", dir, st->name);
    cx_log_info(&cli->log, "bench report: running %s", st->name);
    cx_error e;
    char *text = NULL;
    int status = 0;
    double t0 = cx_now_seconds();
    cx_err rc = run_captured(st->program ? st->program : "/proc/self/exe", argv, log_path, &text,
                             &status, &e);
    json_object_set_new(entry, "seconds", json_real(cx_now_seconds() - t0));
    json_object_set_new(entry, "log", json_string(log_path));
    if (rc != CX_OK) {
        json_object_set_new(entry, "error", json_string(e.msg));
        return entry;
    }
    json_object_set_new(entry, "exit_code", json_integer(status));
    json_error_t je;
    json_t *res = json_loads(text, JSON_DECODE_ANY, &je);
    free(text);
    const char *msg = json_string_value(json_object_get(json_object_get(res, "error"), "message"));
    if (status == 0 && json_is_object(res)) {
        json_object_set_new(entry, "result", res);
        return entry;
    }
    char why[512];
    if (msg)
        snprintf(why, sizeof why, "%s", msg);
    else if (status != 0)
        last_log_line(log_path, why, sizeof why);
    else
        snprintf(why, sizeof why, "output is not a JSON object (%s)", je.text);
    json_decref(res);
    cx_log_warn(&cli->log, "bench report: %s failed: %s", st->name, why);
    json_object_set_new(entry, "error", json_string(why));
    return entry;
}

static json_t *skipped(const char *why)
{
    return json_pack("{s:s}", "skipped", why);
}

/* The CPU's model name as /proc/cpuinfo says it. */
static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            const char *v = strchr(line, ':');
            if (v) {
                v += 1 + (v[1] == ' ');
                snprintf(out, cap, "%.*s", (int)strcspn(v, "\n"), v);
            }
            break;
        }
    fclose(f);
}

/* bench_ledger beside this cloakx in a build tree (build/cli/cloakx → build/bench/), or NULL. */
static const char *find_ledger_bench(char *buf, size_t cap)
{
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    snprintf(buf, cap, "%.4000s/../bench/bench_ledger", exe);
    return access(buf, X_OK) == 0 ? buf : NULL;
}

/* The host: CPU, kernels in use, library versions (from `cloakx version` and the benches). */
static json_t *host_json(const json_t *benches)
{
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    double load = -1;
    if (getloadavg(&load, 1) != 1)
        load = -1;
    const char *wait = getenv("OMP_WAIT_POLICY");
    json_t *libs = json_object();
    const json_t *build =
        json_object_get(json_object_get(json_object_get(benches, "version"), "result"), "build");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)build, k, v)
    {
        if (json_is_string(v))
            json_object_set(libs, k, v);
    }
    json_object_set_new(libs, "jansson", json_string(JANSSON_VERSION));
    const json_t *train = json_object_get(json_object_get(benches, "train"), "result");
    if (json_string_value(json_object_get(train, "peer_torch")))
        json_object_set(libs, "torch (peer)", json_object_get(train, "peer_torch"));
    const json_t *ctx =
        json_object_get(json_object_get(json_object_get(benches, "ledger"), "result"), "context");
    if (json_string_value(json_object_get(ctx, "library_version")))
        json_object_set(libs, "google-benchmark", json_object_get(ctx, "library_version"));
    return json_pack("{s:s, s:i, s:f, s:{s:s, s:s, s:s}, s:o, s:s}", "cpu", cpu, "cores",
                     (int)sysconf(_SC_NPROCESSORS_ONLN), "load_average_1m", load, "kernels", "gemm",
                     cx_cpu_gemm_name(cx_cpu_gemm_select()), "openblas_core",
                     openblas_get_corename(), "omp_wait_policy", wait ? wait : "default",
                     "libraries", libs, "cloakx_version", CLOAKX_VERSION);
}

/* The GPU bench runs when opts->device picks a GPU here; else why not. */
static int gpu_usable(const report_opts *o, char *why, size_t cap)
{
    if (strcmp(o->device, "cpu") == 0) {
        snprintf(why, cap, "--device cpu");
        return 0;
    }
    cx_backend *be = NULL;
    cx_device_choice dev;
    cx_error e;
    if (cx_backend_select(o->device, CX_PRECISION_FP32, 1, &be, &dev, &e) != CX_OK) {
        snprintf(why, cap, "no GPU: %.400s", e.msg);
        return 0;
    }
    cx_backend_destroy(be);
    if (strcmp(dev.backend, "cuda") != 0) {
        snprintf(why, cap, "no GPU: %.400s", dev.report);
        return 0;
    }
    return 1;
}

/* Runs the suite; *report gets the whole report.json, *failed how many benches failed. */
static cx_err run_suite(cx_cli *cli, const report_opts *o, json_t **report, int *failed,
                        cx_error *e)
{
    const int q = o->quick;
    const char *peer = o->peer ? o->peer : q ? "none" : NULL;
    char ledger_buf[PATH_MAX];
    const char *ledger = o->ledger_bench
                             ? (strcmp(o->ledger_bench, "none") == 0 ? NULL : o->ledger_bench)
                             : find_ledger_bench(ledger_buf, sizeof ledger_buf);
    char gpu_why[512];
    int gpu = gpu_usable(o, gpu_why, sizeof gpu_why);
    bench_step steps[] = {
        {"version", NULL, {"version"}},
        {"decrypt", NULL, {"bench", "decrypt", "--size", q ? "4M" : "256M"}},
        {"parse", NULL, {"bench", "parse", "--mb", q ? "2" : "64"}},
        {"train", NULL, {"bench", "train"}},
        {"train_sweep", NULL, {"bench", "train", "--sweep"}},
        {"ledger", ledger, {"--benchmark_format=json"}},
        {"train_gpu", NULL, {"bench", "train", "--device", o->device}},
    };
    enum { S_TRAIN = 3, S_SWEEP = 4, S_LEDGER = 5, S_GPU = 6, N_STEPS = 7 };
    const char **a = steps[S_TRAIN].argv + 2;
    if (q)
        *a++ = "--rows", *a++ = "4096", *a++ = "--epochs", *a++ = "2";
    if (peer)
        *a++ = "--peer", *a++ = peer;
    a = steps[S_SWEEP].argv + 3;
    if (q)
        *a++ = "--sizes", *a++ = "32,128,512", *a++ = "--sweep-gflop", *a++ = "0.02";
    if (peer)
        *a++ = "--peer", *a++ = peer;
    if (q)
        steps[S_LEDGER].argv[1] = "--benchmark_min_time=0.001";
    if (q) {
        a = steps[S_GPU].argv + 4;
        *a++ = "--rows", *a++ = "16384", *a++ = "--epochs", *a++ = "2";
    }

    json_t *benches = json_object();
    if (!benches)
        return cx_error_set(e, CX_ERR_NOMEM, "bench report");
    *failed = 0;
    for (int i = 0; i < N_STEPS; i++) {
        json_t *entry;
        if (i == S_LEDGER && !ledger)
            entry = skipped(o->ledger_bench ? "--ledger-bench none"
                                            : "bench_ledger not found beside cloakx (build the "
                                              "bench/ targets, or --ledger-bench PATH)");
        else if (i == S_GPU && !gpu)
            entry = skipped(gpu_why);
        else
            entry = run_step(cli, &steps[i], o->out);
        if (!entry) {
            json_decref(benches);
            return cx_error_set(e, CX_ERR_NOMEM, "bench report");
        }
        if (json_object_get(entry, "error"))
            ++*failed;
        json_object_set_new(benches, steps[i].name, entry);
    }
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    *report =
        json_pack("{s:s, s:i, s:s, s:b, s:o, s:o}", "report", "cloakx bench report", "format", 1,
                  "generated_at", when, "quick", q, "host", host_json(benches), "benches", benches);
    return *report ? CX_OK : cx_error_set(e, CX_ERR_NOMEM, "bench report");
}

static int usage_help(void)
{
    printf("usage: cloakx bench report --out DIR [--quick] [--peer PATH|none]\n"
           "                           [--ledger-bench PATH|none] [--device auto|cpu|cuda[:N]]\n"
           "                           [--from REPORT.json]\n\n"
           "Runs the bench suite, each bench beside its peer in the same run: decrypt (256M,\n"
           "vs OpenSSL), parse (64 MB, vs a strtof loop), train (the reference MLP vs PyTorch\n"
           "and cblas_sgemm, DP-SGD vs plain), the width x batch sweep, the ledger's Google\n"
           "Benchmark (bench_ledger, found beside cloakx or --ledger-bench) and, when --device\n"
           "(default auto) finds a GPU, GPU training. Writes DIR/report.json (every bench's\n"
           "JSON, the CPU, kernels and library versions), DIR/report.html (one file, inline\n"
           "SVG plots, nothing fetched when viewed) and each bench's stderr in DIR/logs/.\n"
           "--quick: small inputs and no PyTorch peer (unless --peer), seconds in all: checks\n"
           "that the suite and the report work, not figures to quote. --from: draw DIR's HTML\n"
           "from an existing report.json without running anything. Exit 1 when a bench\n"
           "failed (the report says which and why).\n");
    return CX_EXIT_OK;
}

int cmd_bench_report(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv))
        return usage_help();
    report_opts o = {.device = "auto"};
    const cli_arg args[] = {{.name = "--out", .val = &o.out},
                            {.name = "--quick", .flag = &o.quick},
                            {.name = "--peer", .val = &o.peer},
                            {.name = "--ledger-bench", .val = &o.ledger_bench},
                            {.name = "--device", .val = &o.device},
                            {.name = "--from", .val = &o.from},
                            {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!o.out)
        return cli_usage(cli, "--out DIR is required");

    cx_error e;
    cx_error_clear(&e);
    json_t *report = NULL;
    char *html = NULL, path[PATH_MAX];
    size_t html_len = 0;
    int failed = 0, rc_exit = CX_EXIT_OK;
    FILE *mf = NULL;
    snprintf(path, sizeof path, "%s/logs", o.out);
    if (cx_mkdir_p(path, 0755, &e) != CX_OK)
        goto fail;
    if (o.from) {
        json_error_t je;
        report = json_load_file(o.from, 0, &je);
        if (!json_is_object(report)) {
            cx_error_set(&e, CX_ERR_FORMAT, "%s: not a report (%s, line %d)", o.from, je.text,
                         je.line);
            goto fail;
        }
    } else {
        if (run_suite(cli, &o, &report, &failed, &e) != CX_OK)
            goto fail;
        char *txt = json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
        snprintf(path, sizeof path, "%s/report.json", o.out);
        cx_err rc = txt ? cx_file_write_atomic(path, txt, strlen(txt), 0644, &e)
                        : cx_error_set(&e, CX_ERR_NOMEM, "report.json");
        free(txt);
        if (rc != CX_OK)
            goto fail;
    }
    mf = open_memstream(&html, &html_len);
    if (!mf) {
        cx_error_errno(&e, CX_ERR_NOMEM, errno, "open_memstream");
        goto fail;
    }
    cx_err rc = cli_bench_report_html(report, mf, &e);
    if (fclose(mf) != 0 && rc == CX_OK)
        rc = cx_error_set(&e, CX_ERR_NOMEM, "formatting report.html");
    mf = NULL;
    if (rc != CX_OK)
        goto fail;
    snprintf(path, sizeof path, "%s/report.html", o.out);
    if (cx_file_write_atomic(path, html, html_len, 0644, &e) != CX_OK)
        goto fail;
    if (cli->json) {
        char jp[PATH_MAX];
        snprintf(jp, sizeof jp, "%s/report.json", o.out);
        rc_exit = cli_print_json(cli, json_pack("{s:s, s:s, s:i}", "html", path, "json",
                                                o.from ? o.from : jp, "failed", failed));
    } else {
        printf("report: %s (%d bench%s failed)\n", path, failed, failed == 1 ? "" : "es");
    }
    if (failed && rc_exit == CX_EXIT_OK)
        rc_exit = CX_EXIT_FAILURE;
    goto done;
fail:
    rc_exit = cli_fail(cli, &e);
done:
    json_decref(report);
    free(html);
    return rc_exit;
}
