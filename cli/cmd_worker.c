/* cmd_worker.c — `cloakx worker`: the operator's node. Follows the ledger's events, runs each
 * job inside the (simulated) TEE and submits the attested result; restarts cleanly. */
#include "cli.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct wout {
    cx_cli *cli;
    const char *reports; /* --reports DIR, or NULL */
} wout;

/* --reports DIR: DIR/<job>/report.json (the job, its status and report) with loss.svg and,
 * under DP-SGD, epsilon.svg from the report's curve; a failure to write is a warning, never the
 * job's. */
static void write_job_report(wout *o, const char *job, const char *status, const json_t *report)
{
    const json_t *curve = json_object_get(report, "curve");
    const json_t *tl = json_object_get(curve, "train_loss"),
                 *vl = json_object_get(curve, "validation_loss");
    const json_t *el = json_object_get(curve, "epsilon");
    size_t n = json_array_size(tl);
    double *v = calloc(3 * (n ? n : 1), sizeof *v);
    char dir[4096];
    cx_error e;
    snprintf(dir, sizeof dir, "%.3000s/%s", o->reports, job);
    json_t *head = json_pack("{s:s, s:s, s:O}", "job", job, "status", status, "report", report);
    cx_err rc = v && head ? CX_OK : cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CX_OK && i < n; i++) {
        json_t *t = json_array_get(tl, i), *w = json_array_get(vl, i), *x = json_array_get(el, i);
        v[i] = json_is_number(t) ? json_number_value(t) : NAN;
        v[n + i] = json_is_number(w) ? json_number_value(w) : NAN;
        v[2 * n + i] = json_is_number(x) ? json_number_value(x) : NAN;
    }
    const json_t *delta = json_object_get(json_object_get(report, "privacy"), "delta");
    cli_curve c = {.n = (int)n,
                   .train = v,
                   .val = v + n,
                   .eps = json_array_size(el) == n && n ? v + 2 * n : NULL,
                   .delta = json_is_number(delta) ? json_number_value(delta) : 0.0};
    if (rc == CX_OK) {
        rc = cli_curve_report(dir, "report.json", head, &c, &e);
        head = NULL;
    }
    if (rc != CX_OK)
        cx_log_warn(&o->cli->log, "worker: job %s: its report was not written to %s: %s", job, dir,
                    e.msg);
    json_decref(head);
    free(v);
}

static void on_job(void *ud, const char *job, const char *status, const json_t *report,
                   const char *error)
{
    wout *o = ud;
    if (o->reports && report && json_object_get(report, "curve"))
        write_job_report(o, job, status, report);
    if (o->cli->json) {
        json_t *j = json_pack("{s:s, s:s}", "job", job, "status", status);
        if (!j)
            return;
        if (report)
            json_object_set(j, "report", (json_t *)report);
        if (error)
            json_object_set_new(j, "error", json_string(error));
        char *s = cx_json_dumps(j, 0);
        json_decref(j);
        if (s) {
            puts(s);
            free(s);
        }
    } else {
        const json_t *acc = report ? json_object_get(report, "accepted") : NULL;
        printf("job %s: %s", job, status);
        if (acc)
            printf(" (%lld contributor(s), %lld rows accepted, %zu rejected)",
                   (long long)json_integer_value(json_object_get(acc, "contributors")),
                   (long long)json_integer_value(json_object_get(acc, "rows")),
                   json_array_size(json_object_get(report, "rejected")));
        if (error)
            printf(": %s", error);
        printf("\n");
    }
    fflush(stdout);
}

/* The status model and its server; the token from token_file's first line or the
 * environment (never from the command line, where other users see it). */
static int start_status(cx_cli *cli, const char *listen, const char *token_file, cx_status **status,
                        cx_status_server **srv, cx_error *e)
{
    char *token = NULL;
    if (token_file) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (cx_file_read_all(token_file, 4096, &buf, &len, e) != CX_OK)
            return cli_fail(cli, e);
        size_t n = strcspn((char *)buf, "\r\n");
        buf[n] = 0;
        token = (char *)buf;
    } else if (getenv("CLOAKX_STATUS_TOKEN")) {
        token = strdup(getenv("CLOAKX_STATUS_TOKEN"));
        if (!token) {
            cx_error_set(e, CX_ERR_NOMEM, "out of memory");
            return cli_fail(cli, e);
        }
    }
    cx_err rc = cx_status_new(status, e);
    if (rc == CX_OK)
        rc = cx_status_server_start(*status, listen, token, srv, e);
    if (token) {
        cx_memwipe(token, strlen(token));
        free(token);
    }
    if (rc != CX_OK) {
        cx_status_free(*status);
        *status = NULL;
        return rc == CX_ERR_ARG ? cli_usage(cli, "%s", e->msg) : cli_fail(cli, e);
    }
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(strrchr(listen, ':') - listen), listen);
    fprintf(stderr, "cloakx worker: status on http://%s:%u/\n", host, cx_status_server_port(*srv));
    fflush(stderr);
    return 0;
}

int cmd_worker(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf(
            "usage: cloakx worker [--ledger L] [--store S] --key DIR --state DIR\n"
            "         [--devca DIR] [--once] [--device auto|cpu|cuda[:N]] [--threads N]\n"
            "         [--poll-ms N] [--listen HOST:PORT [--token-file F]] [--json]\n"
            "         [--job-time-limit SECONDS] [--max-job-params N] [--max-job-epochs N]\n"
            "         [--max-job-flops X] [--require-mlock] [--keyservers FILE]\n"
            "         [--reports DIR]\n\n"
            "The operator's worker. Follows the ledger's event stream from a cursor kept\n"
            "in --state DIR, and for each JobCreated runs the job inside this node's TEE\n"
            "(the enclave registered with `cloakx enclave register --state DIR`; SIMULATED\n"
            "in this build): checks each contribution's header, decrypts and authenticates\n"
            "the blobs, parses and trains, seals the model to the buyer, stores it, has the\n"
            "TEE sign the result statement and submits it (signed by --key). Each job's\n"
            "state is kept in DIR/jobs/; a killed worker restarts cleanly (no job lost, none\n"
            "paid twice). Results: DIR/results/<job>.bundle.json and .report.json.\n"
            "--device picks the training backend (default auto: the GPU when one is usable,\n"
            "else the CPU; with the GPU, decrypted chunks go to pinned memory and the\n"
            "decrypt threads run near it). The simulated TEE collects no GPU evidence, so\n"
            "the statement's GPU evidence hash stays empty either way; the job report says\n"
            "which backend ran.\n"
            "--once processes what is there and exits (1 if a job failed). Stop it with any\n"
            "signal, at any point: every step is crash-safe. Test hook:\n"
            "CLOAKX_WORKER_PAUSE_AT=decrypted|trained|signed makes the worker stop there\n"
            "(writing DIR/paused-<phase>) so that a test can kill it.\n"
            "--reports DIR (or CLOAKX_REPORTS): for each job that trained, DIR/<job>/report.json\n"
            "(the job report: rows and contributors accepted, rejections, metrics, epsilon,\n"
            "and its curve: loss per epoch, epsilon spent by each epoch's end under DP-SGD)\n"
            "with loss.svg and epsilon.svg; aggregates only, never a row, value or key.\n"
            "--keyservers FILE (or CLOAKX_KEYSERVERS): the Seal key servers this enclave asks,\n"
            "as itself, for the data keys of blobs sealed with Seal (contribute\n"
            "--keyservers); without it a job with such a blob fails and is retried.\n"
            "--listen HOST:PORT serves a read-only status page (/), its JSON (/api/status)\n"
            "and Prometheus metrics (/metrics): the enclave, each job's phase, progress,\n"
            "loss curve, epsilon and per-contributor acceptance, recent errors; never rows,\n"
            "values or keys. Port 0 picks a free port; the address is logged on stderr.\n"
            "Beyond 127.0.0.0/8 a bearer token is required: --token-file F (its first line)\n"
            "or CLOAKX_STATUS_TOKEN; when given, every request must carry it.\n"
            "Limits per job, so that no buyer ties the worker up: --job-time-limit (wall\n"
            "clock from the job's start, default 3600; a job over it fails and its buyer is\n"
            "refunded after the deadline), --max-job-params (default 100000000),\n"
            "--max-job-epochs (default 10000), --max-job-flops (epochs x rows x 6 x\n"
            "parameters, default 1e16); 0 lifts a limit. A spec over the budget fails\n"
            "before any blob is decrypted.\n"
            "Plaintext and keys live in memory locked in RAM (mlock). When RLIMIT_MEMLOCK\n"
            "is too low, the worker warns (and each job report says) how much could not be\n"
            "locked; --require-mlock refuses to run such a job instead.\n"
            "--ranks N runs the worker as N ranks on this machine (under mpirun; started by\n"
            "mpirun itself, across hosts, it does the same without --ranks). Rank 0 is the\n"
            "registered enclave and follows the ledger; every rank is its own TEE. For each\n"
            "job the ranks attest fresh channel keys bound to the job and to rank 0's key,\n"
            "refuse a rank of another measurement, seal the channel between them, and each\n"
            "decrypts its share of the blobs (balanced by size, keys from rank 0) and trains\n"
            "data-parallel. The statement commits to every rank's document and the bundle\n"
            "carries them (`cloakx verify` checks them). A rank that dies ends the worker\n"
            "(MPI); restarted, it runs the job again. CLOAKX_WORKER_PAUSE_RANK=R limits\n"
            "CLOAKX_WORKER_PAUSE_AT to rank R. Without MPI: one process.\n");
        return CX_EXIT_OK;
    }
    cx_worker_config c = {0};
    const char *devca_s = NULL, *threads_s = NULL, *poll_s = NULL, *listen_s = NULL,
               *token_file = NULL, *time_s = NULL, *params_s = NULL, *epochs_s = NULL,
               *flops_s = NULL, *keyservers = NULL, *reports = NULL, *ranks_s = NULL;
    const cli_arg args[] = {
        {.name = "--ledger", .val = &c.ledger_url, .env = "CLOAKX_LEDGER"},
        {.name = "--store", .val = &c.store_url, .env = "CLOAKX_STORE"},
        {.name = "--key", .val = &c.key_dir},
        {.name = "--state", .val = &c.state_dir},
        {.name = "--devca", .val = &devca_s},
        {.name = "--threads", .val = &threads_s},
        {.name = "--poll-ms", .val = &poll_s},
        {.name = "--device", .val = &c.device},
        {.name = "--once", .flag = &c.once},
        {.name = "--listen", .val = &listen_s},
        {.name = "--token-file", .val = &token_file},
        {.name = "--job-time-limit", .val = &time_s},
        {.name = "--max-job-params", .val = &params_s},
        {.name = "--max-job-epochs", .val = &epochs_s},
        {.name = "--max-job-flops", .val = &flops_s},
        {.name = "--require-mlock", .flag = &c.require_mlock},
        {.name = "--keyservers", .val = &keyservers, .env = "CLOAKX_KEYSERVERS"},
        {.name = "--reports", .val = &reports, .env = "CLOAKX_REPORTS"},
        {.name = "--ranks", .val = &ranks_s},
        {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    cx_error e;
    cx_error_clear(&e);
    uint64_t v;
    if (ranks_s && (cli_parse_u64(ranks_s, "--ranks", &v, &e) != CX_OK || v < 1 || v > 1024))
        return cli_usage(cli, "--ranks takes a number 1..1024");
    const int launched = cx_comm_mpi_launched();
    if (ranks_s && v > 1 && launched == 0) /* returns only to work in one process */
        cli_exec_under_mpirun(cli, argc, argv, (int)v, "worker", "working");
    if (!c.ledger_url || !c.store_url || !c.key_dir || !c.state_dir)
        return cli_usage(cli, "--ledger, --store, --key and --state are required");
    char devca[PATH_MAX];
    if (cli_devca_dir(devca_s, devca, sizeof devca, &e) != CX_OK)
        return cli_fail(cli, &e);
    c.devca_dir = devca;
    if (threads_s) {
        if (cli_parse_u64(threads_s, "--threads", &v, &e) != CX_OK || v > 1024)
            return cli_usage(cli, "--threads takes 0..1024");
        c.threads = (int)v;
    }
    if (poll_s) {
        if (cli_parse_u64(poll_s, "--poll-ms", &v, &e) != CX_OK || v < 1 || v > 600000)
            return cli_usage(cli, "--poll-ms takes 1..600000");
        c.poll_ms = (unsigned)v;
    }
    c.job_time_limit_s = 3600;
    c.budget = (cx_compute_budget){.max_params = 100000000, .max_epochs = 10000, .max_flops = 1e16};
    if (time_s) {
        if (cli_parse_u64(time_s, "--job-time-limit", &v, &e) != CX_OK || v > 30 * 86400)
            return cli_usage(cli, "--job-time-limit takes 0..2592000 seconds");
        c.job_time_limit_s = (double)v;
    }
    if (params_s) {
        if (cli_parse_u64(params_s, "--max-job-params", &v, &e) != CX_OK)
            return cli_usage(cli, "--max-job-params takes a count");
        c.budget.max_params = v;
    }
    if (epochs_s) {
        if (cli_parse_u64(epochs_s, "--max-job-epochs", &v, &e) != CX_OK || v > 100000)
            return cli_usage(cli, "--max-job-epochs takes 0..100000");
        c.budget.max_epochs = (int)v;
    }
    if (flops_s) {
        char *end = NULL;
        double f = strtod(flops_s, &end);
        if (!end || *end || !(f >= 0) || f > 1e30)
            return cli_usage(cli, "--max-job-flops takes a number of flops (e.g. 1e15)");
        c.budget.max_flops = f;
    }
#ifdef CX_HAVE_SEAL
    cx_seal_config seal;
    if (keyservers) {
        if (cx_seal_config_load(keyservers, &seal, &e) != CX_OK)
            return cli_fail(cli, &e);
        c.seal = &seal;
    }
#else
    if (keyservers)
        return cli_usage(cli, "--keyservers: this build has no Seal");
#endif
    c.progress = cli->progress;
    c.log = &cli->log;
    cx_comm *comm = NULL;
    if (launched > 1) {
        if (cx_comm_mpi_create(&comm, &e) != CX_OK) {
            cx_error_prefix(&e, "worker: started by an MPI launcher with %d ranks: ", launched);
            return cli_fail(cli, &e);
        }
        c.comm = comm;
        if (comm->rank != 0)
            c.progress = 0; /* rank 0 speaks for the job */
    }
    c.hooks.pause_at = getenv("CLOAKX_WORKER_PAUSE_AT");
    c.hooks.pause_dir = c.state_dir;
    const char *pause_rank = getenv("CLOAKX_WORKER_PAUSE_RANK");
    if (pause_rank && atoi(pause_rank) != (comm ? comm->rank : 0))
        c.hooks.pause_at = NULL;
    wout o = {cli, reports};
    c.on_job = on_job;
    c.ud = &o;
    cx_status *status = NULL;
    cx_status_server *srv = NULL;
    cx_logger slog;
    if (listen_s && (!comm || comm->rank == 0)) {
        int urc2 = start_status(cli, listen_s, token_file, &status, &srv, &e);
        if (urc2)
            return urc2;
        cx_status_logger(status, &cli->log, &slog);
        c.log = &slog;
        c.status = status;
    }
    cx_worker_stats st;
    cx_err wrc = cx_worker_run(&c, &st, &e);
    cx_status_server_stop(srv);
    cx_status_free(status);
    const int rank = comm ? comm->rank : 0;
    if (wrc != CX_OK && rank != 0 && comm->abort) {
        /* rank 0 may be waiting for this one in a collective: end every rank now */
        int code = cli_fail(cli, &e);
        comm->abort(comm, code);
    }
    cx_comm_destroy(comm);
    if (wrc != CX_OK)
        return cli_fail(cli, &e);
    if (rank != 0)
        return CX_EXIT_OK;
    if (!cli->json)
        fprintf(stderr, "cloakx worker: %u event(s); jobs paid %u, refunded %u, failed %u\n",
                st.events, st.jobs_paid, st.jobs_refunded, st.jobs_failed);
    return c.once && st.jobs_failed ? CX_EXIT_FAILURE : CX_EXIT_OK;
}
