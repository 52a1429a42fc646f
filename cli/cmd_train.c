/* cmd_train.c — `cloakx train` (spec + plaintext data files → safetensors model with its
 * metadata) and `cloakx predict` (model + data file → predictions CSV). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cx_io.h"
#include "cx_kernels.h"
#include "svg_plot.h" /* SVG_PLOT_MAX_POINTS */

/* ---- helpers ---- */

enum { TRAIN_CURVE_MAX = SVG_PLOT_MAX_POINTS };

/* Each epoch: the log line, the progress bar, and (for --report) the curve so far. */
typedef struct epoch_log {
    const cx_logger *lg;
    cx_progress *prog;
    int n;
    double train[TRAIN_CURVE_MAX], val[TRAIN_CURVE_MAX], lr[TRAIN_CURVE_MAX];
} epoch_log;

static void on_epoch(void *ud, int epoch, double train_loss, double val_loss, double lr)
{
    epoch_log *el = ud;
    cx_progress_update(el->prog, (uint64_t)epoch);
    cx_log_info(el->lg, "epoch %d: train loss %.6f, validation loss %.6f, lr %.3g", epoch,
                train_loss, val_loss, lr);
    if (el->n < TRAIN_CURVE_MAX) {
        el->train[el->n] = train_loss;
        el->val[el->n] = val_loss;
        el->lr[el->n++] = lr;
    }
}

/* --report DIR: train.json (the curve per epoch; with DP-SGD the epsilon spent by each epoch's
 * end) and loss.svg (train and validation loss), epsilon.svg with DP-SGD. Only aggregates of
 * the training run: no row, value or key. */
static cx_err write_train_report(const char *dir, const char *model_path, const cx_spec *spec,
                                 const cx_train_result *res, const char *device,
                                 const epoch_log *el, cx_error *e)
{
    /* DP-SGD takes the same number of steps every epoch (Poisson sampling, q = B/n): epoch k
     * has spent the epsilon of k of them */
    const int n = el->n;
    uint64_t per_epoch = n > 0 && res->steps % (uint64_t)n == 0 ? res->steps / (uint64_t)n : 0;
    int with_eps = spec->privacy && per_epoch > 0;
    double *eps = with_eps ? calloc((size_t)n, sizeof *eps) : NULL;
    if (with_eps && !eps)
        return cx_error_set(e, CX_ERR_NOMEM, "train report");
    for (int i = 0; with_eps && i < n; i++) {
        cx_err rc = cx_privacy_epsilon(spec->noise_multiplier, res->sample_rate,
                                       per_epoch * (uint64_t)(i + 1), spec->delta, NULL, 0, &eps[i],
                                       NULL, e);
        if (rc != CX_OK) {
            free(eps);
            return rc;
        }
    }
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "model", model_path, "task",
                          cx_task_name(spec->task), "model_type", cx_model_kind_name(spec->model),
                          "device", device, "steps", (json_int_t)res->steps, "steps_per_epoch",
                          (json_int_t)per_epoch);
    if (j && spec->privacy)
        json_object_set_new(j, "privacy",
                            json_pack("{s:f, s:f, s:f, s:f}", "noise_multiplier",
                                      spec->noise_multiplier, "max_grad_norm", spec->max_grad_norm,
                                      "delta", spec->delta, "sample_rate", res->sample_rate));
    cli_curve c = {
        .n = n, .train = el->train, .val = el->val, .lr = el->lr, .eps = eps, .delta = spec->delta};
    cx_err rc = cli_curve_report(dir, "train.json", j, &c, e);
    free(eps);
    return rc;
}

/* ---- cloakx train ---- */

int cmd_train(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx train --spec SPEC.json --data FILE... --out MODEL.safetensors\n"
               "                    [--threads N] [--device auto|cpu|cuda[:N]] [--report DIR]\n"
               "                    [--ranks N] [--json]\n\n"
               "Trains the model the job spec describes (kernels/README.md) on plaintext data\n"
               "files (CSV, JSON lines or f32, by extension; the spec's \"data\" object is the\n"
               "schema) on the chosen backend and writes a safetensors model with metadata:\n"
               "spec, features and encodings, standardiser, classes, metrics and, with\n"
               "\"privacy\", the DP-SGD epsilon at the spec's delta (Renyi-DP accountant,\n"
               "Poisson sampling). For development and benchmarks: the enclave pipeline calls\n"
               "the same code on decrypted blobs. --device (default auto: the GPU when one is\n"
               "usable, else the CPU) picks the backend; the output says which one ran.\n"
               "--report DIR writes DIR/train.json (loss per epoch and, with \"privacy\", the\n"
               "epsilon spent by each epoch's end), DIR/loss.svg and DIR/epsilon.svg.\n"
               "--ranks N trains data-parallel on N processes of this machine: the command runs\n"
               "itself again under `mpirun -np N` (with --oversubscribe --bind-to none, waiting\n"
               "ranks yielding their core, --allow-run-as-root as root). Started by mpirun\n"
               "directly (any hosts), it does the same without --ranks. Each rank parses the\n"
               "data, keeps its shard of the rows and uses cores/ranks threads unless told; the\n"
               "gradients are summed across the ranks every step, giving the one-process model\n"
               "up to reduction order; rank 0 writes the model and prints. Without MPI (not\n"
               "built, no mpirun, no libmpi) it says so and trains in one process.\n");
        return CX_EXIT_OK;
    }
    const char *spec_path = NULL, *out_path = NULL, *device = "auto", *report_dir = NULL;
    const char **files = calloc((size_t)argc, sizeof *files);
    size_t n_files = 0;
    int threads = -1, ranks = 1, rc_exit = CX_EXIT_OK;
    if (!files) {
        cx_error e;
        cx_error_set(&e, CX_ERR_NOMEM, "train: allocating arguments");
        return cli_fail(cli, &e);
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--spec") == 0 && i + 1 < argc)
            spec_path = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc)
            device = argv[++i];
        else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
            report_dir = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 0 || t > 1024) {
                free(files);
                return cli_usage(cli, "--threads takes a number 0..1024");
            }
            threads = (int)t;
        } else if (strcmp(argv[i], "--ranks") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1024) {
                free(files);
                return cli_usage(cli, "--ranks takes a number 1..1024");
            }
            ranks = (int)n;
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                files[n_files++] = argv[++i];
        } else {
            free(files);
            return cli_usage(cli, "unexpected argument '%s'", argv[i]);
        }
    }
    if (!spec_path || !out_path || n_files == 0) {
        free(files);
        return cli_usage(cli, "--spec, --data and --out are required");
    }

    cx_error e;
    cx_error_clear(&e);
    const int launched = cx_comm_mpi_launched();
    if (ranks > 1 && launched == 0)
        cli_exec_under_mpirun(cli, argc, argv, ranks, "train",
                              "training"); /* returns only to train in one process */
    /* CLOAKX_TRAIN_DIST=1 under a launcher of one rank: the across-ranks path on a real
     * communicator (bench/gpu-check.sh times NCCL against the host path so on one GPU) */
    const char *dist_env = getenv("CLOAKX_TRAIN_DIST");
    const int force_dist = dist_env && strcmp(dist_env, "1") == 0;
    cx_comm *comm = NULL;
    if (launched > 1 || (launched == 1 && force_dist)) {
        if (cx_comm_mpi_create(&comm, &e) != CX_OK) {
            cx_error_prefix(&e, "train: started by an MPI launcher with %d ranks: ", launched);
            free(files);
            return cli_fail(cli, &e);
        }
        /* the gradients cross between ranks sealed (ephemeral keys: no TEE attests a plain
         * train's ranks, so this keeps them from the network's readers, not from an active
         * man in the middle; a worker's ranks bind their keys to attestations) */
        static const uint8_t train_link_id[32] = "cloakx train --ranks, ephemeral";
        if (cx_comm_seal_ephemeral(&comm, train_link_id, &e) != CX_OK) {
            cx_error_prefix(&e, "train: sealing the channel between ranks: ");
            cx_comm_destroy(comm);
            free(files);
            return cli_fail(cli, &e);
        }
        if (ranks > 1 && ranks != comm->size && comm->rank == 0)
            cx_log_warn(&cli->log, "--ranks %d: the MPI launcher started %d ranks; training on %d",
                        ranks, comm->size, comm->size);
        if (comm->rank != 0) { /* rank 0 alone speaks; the others say only their errors */
            cli->log.level = CX_LOG_ERROR;
            cli->progress = 0;
            cli->json = 0;
        }
    }
    const int rank = comm ? comm->rank : 0, n_ranks = comm ? comm->size : 1;
    cx_spec spec;
    cx_dataset_schema *schema = NULL;
    cx_dataset *ds = NULL;
    cx_model *model = NULL;
    cx_backend *be = NULL;
    cx_device_choice dev;
    json_t *data = NULL, *extra = NULL, *mj = NULL;
    epoch_log *el = NULL;
    int spec_ok = 0;
    if (cx_spec_load(spec_path, &spec, &e) != CX_OK)
        goto fail;
    spec_ok = 1;
    if (threads >= 0) {
        spec.threads = threads;
    } else if (n_ranks > 1 && spec.threads == 0) { /* this machine's cores shared by its ranks */
        const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        long local = ls ? strtol(ls, NULL, 10) : n_ranks, cores = sysconf(_SC_NPROCESSORS_ONLN);
        spec.threads = (int)(local > 0 && cores / local > 1 ? cores / local : 1);
    }
    if (spec.task == CX_TASK_STATS) {
        cx_error_set(&e, CX_ERR_ARG, "spec: task \"stats\" trains no model: use `cloakx stats`");
        goto fail;
    }
    if (!spec.data || !json_object_get(spec.data, "label")) {
        cx_error_set(&e, CX_ERR_FORMAT, "spec: missing required key \"data.label\"");
        goto fail;
    }
    data = json_deep_copy(spec.data);
    if (!data) {
        cx_error_set(&e, CX_ERR_NOMEM, "train: copying the data schema");
        goto fail;
    }
    const char *want_lt = spec.task == CX_TASK_REGRESSION ? "numeric" : "class";
    const char *lt = json_string_value(json_object_get(data, "label_type"));
    if (!lt)
        json_object_set_new(data, "label_type", json_string(want_lt));
    else if (strcmp(lt, want_lt) != 0) {
        cx_error_set(&e, CX_ERR_FORMAT,
                     "spec: key \"data.label_type\" = \"%s\" but task \"%s\" "
                     "needs \"%s\"",
                     lt, cx_task_name(spec.task), want_lt);
        goto fail;
    }
    if (cx_dataset_schema_from_json(data, &schema, &e) != CX_OK) {
        cx_error_prefix(&e, "spec: ");
        goto fail;
    }
    cx_log_info(&cli->log, "parsing %zu data file(s)", n_files);
    if (cx_dataset_load_files(schema, files, n_files, spec.threads, &ds, &e) != CX_OK)
        goto fail;
    for (size_t b = 0; b < ds->n_blobs; b++)
        if (ds->blobs[b].bad_rows)
            cx_log_warn(
                &cli->log, "%s: %llu bad row(s) skipped (first at line %llu: %s)", files[b],
                (unsigned long long)ds->blobs[b].bad_rows,
                ds->blobs[b].n_listed ? (unsigned long long)ds->blobs[b].listed[0].line : 0ull,
                ds->blobs[b].n_listed ? cx_bad_reason_name(ds->blobs[b].listed[0].reason) : "?");

    cx_train_data td = cx_job_train_data(ds);
    if (comm) { /* this rank's rows: contiguous shards in rank order */
        size_t lo, hi;
        cx_comm_shard(ds->n, rank, n_ranks, &lo, &hi);
        td.x += lo * ds->d;
        td.y += lo;
        td.rows = hi - lo;
    }
    cx_train_result res;
    cx_progress prog;
    el = calloc(1, sizeof *el);
    if (!el) {
        cx_error_set(&e, CX_ERR_NOMEM, "train: the epoch log");
        goto fail;
    }
    el->lg = &cli->log;
    el->prog = &prog;
    cx_train_epoch_cb cb = {.fn = rank == 0 ? on_epoch : NULL, .ud = el};
    cx_log_info(&cli->log, "training %s on %zu rows x %zu features", cx_model_kind_name(spec.model),
                ds->n, ds->d);
    if (n_ranks > 1)
        cx_log_info(&cli->log, "%d ranks (MPI), %d thread(s) each", n_ranks, spec.threads);
    /* one rank per GPU: local rank r of a node takes GPU r mod (its GPUs) unless --device
     * names one (cx_comm_local_rank; a launcher that gives each rank one visible GPU makes
     * that GPU 0 of every rank, which this keeps) */
    char rank_dev[32];
    const int local_rank = comm ? cx_comm_local_rank() : -1;
    int n_gpus = 0;
    cx_error ge;
    if (local_rank > 0 && (strcmp(device, "auto") == 0 || strcmp(device, "cuda") == 0) &&
        cx_cuda_device_count(&n_gpus, &ge) == CX_OK && n_gpus > 0) {
        snprintf(rank_dev, sizeof rank_dev, "cuda:%d", local_rank % n_gpus);
        device = rank_dev;
    }
    if (cx_backend_select(device, spec.precision, spec.threads, &be, &dev, &e) != CX_OK)
        goto fail;
    cx_log_info(&cli->log, "device: %s", dev.report);
    cx_progress_start(&prog, "training", (uint64_t)spec.epochs, cli->progress);
    /* the trainer's warnings (e.g. why NCCL is not used) but not its per-epoch lines, which
     * on_epoch and the progress bar give */
    cx_logger tlog = cli->log;
    if (tlog.level > CX_LOG_WARN)
        tlog.level = CX_LOG_WARN;
    cx_err trc = cx_train_comm(&spec, &td, be, comm, &cb, &tlog, &model, &res, &e);
    cx_progress_finish(&prog);
    if (trc != CX_OK)
        goto fail;
    if (rank != 0) /* every rank holds the same model: rank 0 writes and reports it */
        goto done;

    double eps = NAN, order = NAN;
    if (spec.privacy) {
        if (cx_privacy_epsilon(spec.noise_multiplier, res.sample_rate, res.steps, spec.delta, NULL,
                               0, &eps, &order, &e) != CX_OK)
            goto fail;
    }
    if (cx_job_model_meta(&spec, data, ds, &res, eps, order, &extra, &e) != CX_OK)
        goto fail;
    mj = json_incref(json_object_get(extra, "metrics"));
    if (cx_model_save(model, extra, out_path, &e) != CX_OK)
        goto fail;
    if (report_dir &&
        write_train_report(report_dir, out_path, &spec, &res, dev.report, el, &e) != CX_OK)
        goto fail;

    if (cli->json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(out_path));
        json_object_set_new(o, "task", json_string(cx_task_name(spec.task)));
        json_object_set_new(o, "model_type", json_string(cx_model_kind_name(spec.model)));
        json_object_set_new(o, "rows", json_integer((json_int_t)ds->n));
        json_object_set_new(o, "features", json_integer((json_int_t)ds->d));
        json_object_set_new(o, "train_rows", json_integer((json_int_t)res.train_rows));
        json_object_set_new(o, "validation_rows", json_integer((json_int_t)res.val_rows));
        json_object_set_new(o, "epochs_run", json_integer(res.epochs_run));
        json_object_set_new(o, "best_epoch", json_integer(res.best_epoch));
        json_object_set_new(o, "steps", json_integer((json_int_t)res.steps));
        json_object_set_new(o, "train_loss", json_real(res.train_loss));
        json_object_set(o, "metrics", mj);
        json_object_set_new(o, "seconds", json_real(res.seconds));
        json_object_set_new(o, "samples_per_s", json_real(res.samples_per_s));
        json_object_set_new(o, "device", json_string(dev.report));
        json_object_set_new(o, "ranks", json_integer(n_ranks));
        /* how the gradients were summed across ranks: NCCL on the device, or the host */
        const char *allreduce = res.nccl ? "nccl" : comm || force_dist ? "host" : "none";
        json_object_set_new(o, "allreduce", json_string(allreduce));
        if (spec.privacy)
            json_object_set(o, "privacy", json_object_get(extra, "privacy"));
        rc_exit = cli_print_json(cli, o);
    } else {
        printf("model: %s (%s %s, %zu features, %d epochs, %.2f s)\n", out_path,
               cx_task_name(spec.task), cx_model_kind_name(spec.model), ds->d, res.epochs_run,
               res.seconds);
        printf("device: %s\n", dev.report);
        if (n_ranks > 1)
            printf("ranks: %d (MPI, data-parallel; %d thread(s) each)\n", n_ranks, spec.threads);
        if (spec.task == CX_TASK_CLASSIFICATION)
            printf("validation (%zu rows): loss %.4f, accuracy %.4f, macro F1 %.4f", res.val.n,
                   res.val.loss, res.val.accuracy, res.val.macro_f1);
        else
            printf("validation (%zu rows): loss %.4f, RMSE %.4f, R2 %.4f", res.val.n, res.val.loss,
                   res.val.rmse, res.val.r2);
        if (!isnan(res.val.auc))
            printf(", ROC AUC %.4f", res.val.auc);
        printf("\n");
        if (spec.privacy)
            printf("privacy: epsilon %.4g at delta %g (RDP order %g; sigma %g, C %g, q %.6g, "
                   "%llu steps, Poisson sampling)\n",
                   eps, spec.delta, order, spec.noise_multiplier, spec.max_grad_norm,
                   res.sample_rate, (unsigned long long)res.steps);
        if (spec.privacy && spec.dp_standardize)
            printf("privacy: standardisation by DP on the declared ranges, epsilon %.4g (pure); "
                   "in all epsilon %.4g\n",
                   spec.standardize_epsilon, cx_job_epsilon_total(&spec, eps));
    }
    goto done;
fail:
    if (n_ranks > 1)
        cx_error_prefix(&e, "rank %d of %d: ", rank, n_ranks);
    rc_exit = cli_fail(cli, &e);
    if (n_ranks > 1 && comm->abort) { /* the other ranks may wait in a collective for this one */
        fflush(NULL);
        comm->abort(comm, rc_exit);
    }
done:
    cx_comm_destroy(comm);
    free(el);
    json_decref(mj);
    json_decref(extra);
    json_decref(data);
    cx_model_free(model);
    cx_backend_destroy(be);
    cx_dataset_free(ds);
    cx_dataset_schema_free(schema);
    if (spec_ok)
        cx_spec_free(&spec);
    free(files);
    return rc_exit;
}

/* ---- cloakx predict ---- */

/* A CSV field, quoted per RFC 4180 when it needs it. */
static int csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n"))
        return fputs(s, f) < 0 ? -1 : 0;
    if (fputc('"', f) == EOF)
        return -1;
    for (; *s; s++)
        if ((*s == '"' && fputc('"', f) == EOF) || fputc(*s, f) == EOF)
            return -1;
    return fputc('"', f) == EOF ? -1 : 0;
}

int cmd_predict(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx predict --model MODEL.safetensors --data FILE --out PRED.csv "
               "[--json]\n\n"
               "Parses FILE with the schema the model was trained with (same features,\n"
               "same one-hot vocabularies; the label column may be absent), applies the\n"
               "model's standardiser and writes one CSV row per data row: for classification\n"
               "`class` then `p_<class>` per class, for regression `value`. Under the\n"
               "schema's \"missing\": \"mean\", gaps take the training data's means (stored\n"
               "in the model), not those of FILE.\n");
        return CX_EXIT_OK;
    }
    const char *model_path = NULL, *data_path = NULL, *out_path = NULL;
    const cli_arg args[] = {{.name = "--model", .val = &model_path},
                            {.name = "--data", .val = &data_path},
                            {.name = "--out", .val = &out_path},
                            {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!model_path || !data_path || !out_path)
        return cli_usage(cli, "--model, --data and --out are required");

    cx_error e;
    cx_error_clear(&e);
    cx_model *m = NULL;
    json_t *meta = NULL, *feats = NULL, *classes = NULL;
    cx_dataset *ds = NULL;
    float *pred = NULL;
    char *csv = NULL;
    size_t csv_len = 0;
    FILE *mf = NULL;
    int rc_exit = CX_EXIT_OK;
    if (cx_model_load(model_path, &m, &meta, &e) != CX_OK)
        goto fail;
    json_error_t je;
    const char *fs = json_string_value(json_object_get(meta, "features"));
    const char *cs = json_string_value(json_object_get(meta, "classes"));
    if (!fs || !(feats = json_loads(fs, 0, &je)) || !json_is_array(feats)) {
        cx_error_set(&e, CX_ERR_FORMAT,
                     "%s: metadata \"features\" missing or invalid (not "
                     "written by cloakx train?)",
                     model_path);
        goto fail;
    }
    if (cs && !(classes = json_loads(cs, 0, &je))) {
        cx_error_set(&e, CX_ERR_FORMAT, "%s: metadata \"classes\" is invalid", model_path);
        goto fail;
    }
    if (cx_job_predict_data_load(meta, (size_t)m->n_features, data_path, &ds, &e) != CX_OK)
        goto fail;
    if (ds->d != (size_t)m->n_features || json_array_size(feats) != ds->d) {
        cx_error_set(&e, CX_ERR_FORMAT, "%s: %zu features after encoding, the model takes %d",
                     data_path, ds->d, m->n_features);
        goto fail;
    }
    for (size_t j = 0; j < ds->d; j++)
        if (strcmp(ds->feature_names[j], json_string_value(json_array_get(feats, j))
                                             ? json_string_value(json_array_get(feats, j))
                                             : "") != 0) {
            cx_error_set(&e, CX_ERR_FORMAT, "%s: feature %zu is \"%s\", the model expects \"%s\"",
                         data_path, j, ds->feature_names[j],
                         json_string_value(json_array_get(feats, j)));
            goto fail;
        }
    const int k = m->n_outputs;
    pred = malloc((ds->n ? ds->n : 1) * (size_t)k * sizeof *pred);
    if (!pred) {
        cx_error_set(&e, CX_ERR_NOMEM, "predict: allocating %zu predictions", ds->n);
        goto fail;
    }
    if (cx_model_predict(m, NULL, ds->X, ds->n, 1, pred, &e) != CX_OK)
        goto fail;
    mf = open_memstream(&csv, &csv_len);
    if (!mf) {
        cx_error_errno(&e, CX_ERR_NOMEM, errno, "predict: open_memstream");
        goto fail;
    }
    const int nc = m->n_classes;
    if (m->task == CX_TASK_CLASSIFICATION) {
        fputs("class", mf);
        for (int c = 0; c < nc; c++) {
            char col[600];
            const char *cn = json_string_value(json_array_get(classes, (size_t)c));
            snprintf(col, sizeof col, "p_%s", cn ? cn : "?");
            fputc(',', mf);
            csv_field(mf, col);
        }
        fputc('\n', mf);
        for (size_t i = 0; i < ds->n; i++) {
            float p[2];
            const float *pr = pred + i * k;
            if (k == 1) { /* logistic: P(class 1) */
                p[0] = 1.0f - pr[0];
                p[1] = pr[0];
                pr = p;
            }
            int best = 0;
            for (int c = 1; c < nc; c++)
                if (pr[c] > pr[best])
                    best = c;
            const char *cn = json_string_value(json_array_get(classes, (size_t)best));
            char idx[16];
            snprintf(idx, sizeof idx, "%d", best);
            csv_field(mf, cn ? cn : idx);
            for (int c = 0; c < nc; c++)
                fprintf(mf, ",%.6g", (double)pr[c]);
            fputc('\n', mf);
        }
    } else {
        fputs("value\n", mf);
        for (size_t i = 0; i < ds->n; i++)
            fprintf(mf, "%.9g\n", (double)pred[i]);
    }
    if (fclose(mf) != 0) {
        mf = NULL;
        cx_error_set(&e, CX_ERR_NOMEM, "predict: formatting the CSV");
        goto fail;
    }
    mf = NULL;
    if (cx_file_write_atomic(out_path, csv, csv_len, 0600, &e) != CX_OK)
        goto fail;
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:I, s:s}", "predictions", out_path, "rows", (json_int_t)ds->n,
                              "task", cx_task_name(m->task));
        rc_exit = cli_print_json(cli, o);
    } else {
        printf("predictions: %s (%zu rows)\n", out_path, ds->n);
    }
    goto done;
fail:
    rc_exit = cli_fail(cli, &e);
done:
    if (mf)
        fclose(mf);
    free(csv);
    free(pred);
    cx_dataset_free(ds);
    json_decref(feats);
    json_decref(classes);
    json_decref(meta);
    cx_model_free(m);
    return rc_exit;
}
