/* train.c — the training loop: deterministic split and standardisation, minibatch SGD
 * (shuffled fixed batches) or DP-SGD (Poisson sampling, clipping, noise), early stopping,
 * validation metrics; and prediction with a trained model. */
#include "train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(code, ...)                                                                        \
    do {                                                                                       \
        rc = cx_error_set(e, code, __VA_ARGS__);                                               \
        goto out;                                                                              \
    } while (0)
#define CHECK(x)                                                                               \
    do {                                                                                       \
        if ((rc = (x)) != CX_OK)                                                               \
            goto out;                                                                          \
    } while (0)

/* Mean loss over rows of device data (dx, dy) — or, when the data is streamed (dx NULL),
 * of host rows (hx raw, hy) standardised on the device with dmean/dinv — and, optionally, the
 * model outputs (probabilities or standardised values) on the host. */
static cx_err evaluate(cx_net *n, const float *dx, const float *dy, const float *hx,
                       const float *hy, const float *dmean, const float *dinv, size_t rows,
                       float *out_host, double *loss, cx_error *e)
{
    cx_backend *be = n->be;
    const cx_model *m = n->m;
    int cols = m->dims[0], k = m->n_outputs;
    float *lr = malloc((size_t)n->cap * sizeof *lr);
    if (!lr)
        return cx_error_set(e, CX_ERR_NOMEM, "evaluate: allocating");
    double acc = 0.0;
    cx_err rc = CX_OK;
    for (size_t r0 = 0; r0 < rows; r0 += (size_t)n->cap) {
        int b = (int)(rows - r0 < (size_t)n->cap ? rows - r0 : (size_t)n->cap);
        if (dx) {
            be->copy(be, n->act[0], dx + r0 * cols, (size_t)b * cols * sizeof(float));
            be->copy(be, n->labels, dy + r0, (size_t)b * sizeof(float));
        } else {
            CHECK(be->upload(be, n->act[0], hx + r0 * cols, (size_t)b * cols * sizeof(float),
                             e));
            CHECK(be->upload(be, n->labels, hy + r0, (size_t)b * sizeof(float), e));
            be->standardize(be, b, cols, n->act[0], dmean, dinv);
        }
        cx_net_forward(n, b);
        cx_net_loss(n, b, 0.0f);
        CHECK(be->download(be, lr, n->loss_rows, (size_t)b * sizeof(float), e));
        for (int i = 0; i < b; i++)
            acc += lr[i];
        if (out_host)
            CHECK(be->download(be, out_host + r0 * k, n->probs, (size_t)b * k * sizeof(float),
                               e));
    }
    *loss = rows ? acc / (double)rows : NAN;
out:
    free(lr);
    return rc;
}

/* One non-private step on the batch whose indices are in n->idx: gather, forward, loss,
 * backward, optimizer, loss summed into dloss. Every argument is the same from step to step
 * for a given b (the per-step values are in dhyper and n->idx), so the cuda backend can
 * capture it once and replay it. */
static void step_ops(cx_net *n, const cx_spec *s, int b, const float *dxtr, const float *dytr,
                     const float *dmean, const float *dinv, float *dm, float *dv,
                     const float *dhyper, double *dloss)
{
    cx_backend *be = n->be;
    const size_t np = n->m->n_params;
    const int cols = n->m->dims[0];
    if (dxtr) {
        be->gather_rows(be, b, cols, n->idx, dxtr, n->act[0]);
        be->gather_rows(be, b, 1, n->idx, dytr, n->labels);
    } else { /* streamed: the raw rows are in act[0] already */
        be->standardize(be, b, cols, n->act[0], dmean, dinv);
    }
    cx_net_forward(n, b);
    cx_net_loss(n, b, 1.0f / (float)b);
    cx_net_backward(n, b, 0, 0, 0.0f);
    switch (s->optimizer) {
    case CX_OPTIM_ADAM:
    case CX_OPTIM_ADAMW:
        be->adam_update_dev(be, np, n->params, n->grads, dm, dv, dhyper, (float)s->beta1,
                            (float)s->beta2, (float)s->eps, (float)s->weight_decay,
                            s->optimizer == CX_OPTIM_ADAMW);
        break;
    case CX_OPTIM_SGD:
        be->sgd_update_dev(be, np, n->params, n->grads, dm, dhyper, (float)s->momentum,
                           (float)s->weight_decay);
        break;
    }
    be->sum_acc(be, (size_t)b, n->loss_rows, dloss);
}

/* Streaming for training data larger than device memory: the host gathers each batch's rows
 * into one of two staging slots (pinned memory on the cuda backend, whose copy stream moves
 * slot k+1 while batch k computes); the compute stream copies the slot into the network's
 * input. Backends without streaming (cpu) upload synchronously: the same sequence, eagerly. */
typedef struct stager {
    cx_backend *be;
    int async; /* cx_backend_stream_* available */
    size_t cols, cap;
    float *hx[2], *hy[2]; /* host staging (cap × cols, cap) */
    float *dx[2], *dy[2]; /* device staging */
} stager;

static void stager_free(stager *g)
{
    for (int i = 0; i < 2; i++) {
        if (g->async) /* copies still in flight must not land in freed memory */
            (void)cx_backend_stream_host_wait(g->be, i, NULL);
        size_t nx = g->cap * g->cols * sizeof(float), ny = g->cap * sizeof(float);
        if (g->async) {
            cx_cuda_pinned_free(NULL, g->hx[i], nx);
            cx_cuda_pinned_free(NULL, g->hy[i], ny);
        } else {
            if (g->hx[i])
                cx_memwipe(g->hx[i], nx);
            if (g->hy[i])
                cx_memwipe(g->hy[i], ny);
            free(g->hx[i]);
            free(g->hy[i]);
        }
        if (g->be) {
            g->be->free(g->be, g->dx[i]);
            g->be->free(g->be, g->dy[i]);
        }
    }
    memset(g, 0, sizeof *g);
}

static cx_err stager_init(stager *g, cx_backend *be, size_t cols, size_t cap, cx_error *e)
{
    memset(g, 0, sizeof *g);
    g->be = be;
    g->cols = cols;
    g->cap = cap;
    cx_err rc = CX_OK;
    size_t nx = cap * cols * sizeof(float), ny = cap * sizeof(float);
    for (int i = 0; i < 2 && rc == CX_OK; i++) {
        rc = be->alloc(be, nx, (void **)&g->dx[i], e);
        if (rc == CX_OK)
            rc = be->alloc(be, ny, (void **)&g->dy[i], e);
    }
    if (rc != CX_OK)
        goto fail;
    cx_error pe;
    rc = cx_backend_stream_host_wait(be, 0, &pe); /* also sets the copy stream up */
    if (rc == CX_OK) {
        g->async = 1;
    } else if (rc != CX_ERR_UNSUPPORTED) {
        if (e)
            *e = pe;
        goto fail;
    }
    rc = CX_OK;
    for (int i = 0; i < 2; i++) {
        g->hx[i] = g->async ? cx_cuda_pinned_alloc(NULL, nx, e) : malloc(nx);
        g->hy[i] = g->async ? cx_cuda_pinned_alloc(NULL, ny, e) : malloc(ny);
        if (!g->hx[i] || !g->hy[i]) {
            rc = g->async ? (e ? e->code : CX_ERR_NOMEM)
                          : cx_error_set(e, CX_ERR_NOMEM, "train: allocating staging buffers");
            goto fail;
        }
    }
    return CX_OK;
fail:
    stager_free(g);
    return rc;
}

/* Gather rows idx (b) of the host table (x, y) into slot and start its upload. */
static cx_err stager_put(stager *g, int slot, const float *x, const float *y, const int32_t *idx,
                         int b, cx_error *e)
{
    cx_err rc;
    if (g->async && (rc = cx_backend_stream_host_wait(g->be, slot, e)) != CX_OK)
        return rc; /* the slot's previous copy still reads its staging memory */
    for (int r = 0; r < b; r++) {
        memcpy(g->hx[slot] + (size_t)r * g->cols, x + (size_t)idx[r] * g->cols,
               g->cols * sizeof(float));
        g->hy[slot][r] = y[idx[r]];
    }
    size_t nx = (size_t)b * g->cols * sizeof(float), ny = (size_t)b * sizeof(float);
    if (!g->async) {
        rc = g->be->upload(g->be, g->dx[slot], g->hx[slot], nx, e);
        return rc != CX_OK ? rc : g->be->upload(g->be, g->dy[slot], g->hy[slot], ny, e);
    }
    rc = cx_backend_stream_upload(g->be, slot, g->dx[slot], g->hx[slot], nx, e);
    if (rc == CX_OK)
        rc = cx_backend_stream_upload(g->be, slot, g->dy[slot], g->hy[slot], ny, e);
    return rc;
}

/* The slot's b rows into the network's input and labels (raw: step_ops standardises). */
static cx_err stager_take(stager *g, int slot, cx_net *n, int b, cx_error *e)
{
    cx_err rc;
    if (g->async && (rc = cx_backend_stream_acquire(g->be, slot, e)) != CX_OK)
        return rc;
    g->be->copy(g->be, n->act[0], g->dx[slot], (size_t)b * g->cols * sizeof(float));
    g->be->copy(g->be, n->labels, g->dy[slot], (size_t)b * sizeof(float));
    return g->async ? cx_backend_stream_release(g->be, slot, e) : CX_OK;
}

static cx_err check_data(const cx_spec *s, const cx_train_data *d, int *n_classes, cx_error *e)
{
    if (!d || !d->x || !d->y || d->rows < 2 || d->cols < 1)
        return cx_error_set(e, CX_ERR_ARG, "train: need at least 2 rows and 1 feature column");
    if (d->rows > INT32_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "train: %zu rows exceed the 2^31 limit", d->rows);
    for (size_t i = 0; i < d->rows * (size_t)d->cols; i++)
        if (!isfinite(d->x[i]))
            return cx_error_set(e, CX_ERR_FORMAT,
                                "train: feature value of row %zu column %zu is not finite",
                                i / d->cols, i % d->cols);
    int maxc = -1;
    for (size_t i = 0; i < d->rows; i++) {
        float y = d->y[i];
        if (!isfinite(y))
            return cx_error_set(e, CX_ERR_FORMAT, "train: label of row %zu is not finite", i);
        if (s->task == CX_TASK_CLASSIFICATION) {
            if (y < 0 || y != floorf(y) || y > 65535)
                return cx_error_set(e, CX_ERR_FORMAT,
                                    "train: label of row %zu is not a class index 0..65535", i);
            if ((int)y > maxc)
                maxc = (int)y;
        }
    }
    if (s->task == CX_TASK_CLASSIFICATION) {
        int nc = d->n_classes > 0 ? d->n_classes : maxc + 1;
        if (maxc >= nc)
            return cx_error_set(e, CX_ERR_FORMAT, "train: label %d but only %d classes", maxc,
                                nc);
        *n_classes = nc;
    } else {
        *n_classes = 0;
    }
    return CX_OK;
}

cx_err cx_train(const cx_spec *s, const cx_train_data *d, cx_backend *be_in,
                const cx_train_epoch_cb *cb, const cx_logger *lg, cx_model **out,
                cx_train_result *res, cx_error *e)
{
    cx_err rc = CX_OK;
    cx_backend *be = be_in, *be_own = NULL;
    cx_model *m = NULL;
    cx_net net = {0};
    cx_dp_rng *dprng = NULL;
    /* graph of a full non-private step: 0 not tried yet, 1 captured, -1 unavailable (cpu) or
     * failed (then every step runs eagerly, as on the cpu); declared here for the cleanup */
    int gstate = 0;
    int32_t *perm = NULL, *sample = NULL;
    float *xtr = NULL, *ytr = NULL, *xva = NULL, *yva = NULL, *noise = NULL, *outv = NULL;
    float *lr_rows = NULL;
    double *mean = NULL, *var = NULL;
    float *dxtr = NULL, *dytr = NULL, *dxva = NULL, *dyva = NULL, *dm = NULL, *dv = NULL;
    float *dbest = NULL;
    float *dmean = NULL, *dinv = NULL;
    /* non-private steps: the epoch's permutation, the per-step optimizer values of the epoch
     * (dsched, 3 floats a step, copied to dhyper before each step) and the loss sum */
    int32_t *dperm = NULL;
    float *dsched = NULL, *dhyper = NULL, *sched = NULL;
    double *dloss = NULL;
    float *yvs = NULL; /* standardised validation targets (regression) */
    stager stg = {0};
    int streamed = 0;
    int n_classes = 0;
    double t0 = cx_now_seconds();

    memset(res, 0, sizeof *res);
    *out = NULL;
    if (s->task == CX_TASK_STATS)
        return cx_error_set(e, CX_ERR_ARG,
                            "train: task \"stats\" computes statistics and trains no model");
    CHECK(check_data(s, d, &n_classes, e));
    if (!be) {
        CHECK(cx_backend_create("cpu", s->precision, s->threads, &be_own, e));
        be = be_own;
    } else if (be->precision != s->precision) {
        FAIL(CX_ERR_ARG, "train: spec asks for precision %s but the %s backend runs %s",
             cx_precision_name(s->precision), be->name, cx_precision_name(be->precision));
    }
    CHECK(cx_model_create(s, d->cols, n_classes, &m, e));
    cx_model_init(m, s->seed);

    /* deterministic split: a seeded permutation, the first n_val rows held out */
    const size_t rows = d->rows, cols = (size_t)d->cols;
    size_t n_val = (size_t)floor((double)rows * s->validation_split);
    if (n_val >= rows)
        n_val = rows - 1;
    const size_t n_tr = rows - n_val;
    cx_rng rng;
    cx_rng_seed(&rng, s->seed);
    perm = malloc(rows * sizeof *perm);
    xtr = malloc(n_tr * cols * sizeof *xtr);
    ytr = malloc(n_tr * sizeof *ytr);
    xva = malloc((n_val ? n_val : 1) * cols * sizeof *xva);
    yva = malloc((n_val ? n_val : 1) * sizeof *yva);
    mean = calloc(cols, sizeof *mean);
    var = calloc(cols, sizeof *var);
    if (!perm || !xtr || !ytr || !xva || !yva || !mean || !var)
        FAIL(CX_ERR_NOMEM, "train: allocating the %zu-row split", rows);
    for (size_t i = 0; i < rows; i++)
        perm[i] = (int32_t)i;
    for (size_t i = rows - 1; i > 0; i--) {
        size_t j = cx_rng_below(&rng, i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < rows; i++) {
        const float *src = d->x + (size_t)perm[i] * cols;
        if (i < n_val) {
            memcpy(xva + i * cols, src, cols * sizeof(float));
            yva[i] = d->y[perm[i]];
        } else {
            memcpy(xtr + (i - n_val) * cols, src, cols * sizeof(float));
            ytr[i - n_val] = d->y[perm[i]];
        }
    }
    /* standardiser from the training split only (two passes, double, fixed order) */
    for (size_t i = 0; i < n_tr; i++)
        for (size_t j = 0; j < cols; j++)
            mean[j] += xtr[i * cols + j];
    for (size_t j = 0; j < cols; j++)
        mean[j] /= (double)n_tr;
    for (size_t i = 0; i < n_tr; i++)
        for (size_t j = 0; j < cols; j++) {
            double t = xtr[i * cols + j] - mean[j];
            var[j] += t * t;
        }
    for (size_t j = 0; j < cols; j++) {
        double sd = sqrt(var[j] / (double)n_tr);
        m->mean[j] = (float)mean[j];
        m->inv_std[j] = sd > 1e-12 ? (float)(1.0 / sd) : 1.0f; /* constant column: centred */
    }
    if (s->task == CX_TASK_REGRESSION) {
        double ym = 0.0, yv = 0.0;
        for (size_t i = 0; i < n_tr; i++)
            ym += ytr[i];
        ym /= (double)n_tr;
        for (size_t i = 0; i < n_tr; i++)
            yv += (ytr[i] - ym) * (ytr[i] - ym);
        double ysd = sqrt(yv / (double)n_tr);
        m->y_mean = (float)ym;
        m->y_std = ysd > 1e-12 ? (float)ysd : 1.0f;
        for (size_t i = 0; i < n_tr; i++)
            ytr[i] = (ytr[i] - m->y_mean) / m->y_std;
    }

    /* plan all device memory up front */
    const int B = s->batch_size < (int)n_tr ? s->batch_size : (int)n_tr;
    int cap = B;
    if (s->privacy) /* Poisson batches vary; larger ones are processed in chunks of cap */
        cap = (int)fmin((double)n_tr, B + 8.0 * sqrt((double)B) + 8.0);
    if (cap < 256 && (size_t)cap < rows)
        cap = (int)(rows < 256 ? rows : 256); /* evaluation passes reuse the workspace */
    CHECK(cx_net_create(be, m, cap, &net, e));
    const size_t np = m->n_params;
#define DALLOC(p, count)                                                                       \
    CHECK(be->alloc(be, (size_t)(count) * sizeof(float), (void **)&(p), e))
    DALLOC(dm, np);
    DALLOC(dv, np);
    DALLOC(dmean, cols);
    DALLOC(dinv, cols);
    if (s->patience > 0)
        DALLOC(dbest, np);
    const size_t steps_ep = (n_tr + (size_t)B - 1) / (size_t)B;
    if (!s->privacy) {
        DALLOC(dperm, n_tr); /* int32, the size of a float */
        DALLOC(dsched, steps_ep * 3);
        DALLOC(dhyper, 3);
        DALLOC(dloss, 2); /* one double */
    }
#undef DALLOC
    if (s->task == CX_TASK_REGRESSION && n_val) {
        yvs = malloc(n_val * sizeof *yvs); /* standardised validation targets for the loss */
        if (!yvs)
            FAIL(CX_ERR_NOMEM, "train: allocating validation targets");
        for (size_t i = 0; i < n_val; i++)
            yvs[i] = (yva[i] - m->y_mean) / m->y_std;
    }
    CHECK(be->upload(be, dmean, m->mean, cols * sizeof(float), e));
    CHECK(be->upload(be, dinv, m->inv_std, cols * sizeof(float), e));

    /* the data on the device when it fits (all epochs run there), else streamed from host
     * memory batch by batch; CLOAKX_TRAIN_STREAM=1 forces streaming, =0 forbids it */
    {
        const char *sv = getenv("CLOAKX_TRAIN_STREAM");
        int force = sv && strcmp(sv, "1") == 0, never = sv && strcmp(sv, "0") == 0;
        cx_error ae;
        cx_err ar = CX_OK;
        if (!force) {
            ar = be->alloc(be, n_tr * cols * sizeof(float), (void **)&dxtr, &ae);
            if (ar == CX_OK)
                ar = be->alloc(be, n_tr * sizeof(float), (void **)&dytr, &ae);
            if (ar == CX_OK)
                ar = be->alloc(be, (n_val ? n_val : 1) * cols * sizeof(float), (void **)&dxva,
                               &ae);
            if (ar == CX_OK)
                ar = be->alloc(be, (n_val ? n_val : 1) * sizeof(float), (void **)&dyva, &ae);
            if (ar != CX_OK && (ar != CX_ERR_NOMEM || never)) {
                if (e)
                    *e = ae;
                rc = ar;
                goto out;
            }
        }
        if (force || ar != CX_OK) {
            be->free(be, dxtr);
            be->free(be, dytr);
            be->free(be, dxva);
            be->free(be, dyva);
            dxtr = dytr = dxva = dyva = NULL;
            streamed = 1;
            CHECK(stager_init(&stg, be, cols, (size_t)cap, e));
            cx_log_info(lg, "training data streamed from host memory (%s): %zu rows of %zu "
                            "features, %s staging",
                        force ? "CLOAKX_TRAIN_STREAM=1" : ae.msg, rows, cols,
                        stg.async ? "double-buffered pinned" : "synchronous");
        }
    }
    if (!streamed) {
        CHECK(be->upload(be, dxtr, xtr, n_tr * cols * sizeof(float), e));
        CHECK(be->upload(be, dytr, ytr, n_tr * sizeof(float), e));
        if (n_val) {
            CHECK(be->upload(be, dxva, xva, n_val * cols * sizeof(float), e));
            CHECK(be->upload(be, dyva, yvs ? yvs : yva, n_val * sizeof(float), e));
        }
        be->standardize(be, (int)n_tr, (int)cols, dxtr, dmean, dinv);
        if (n_val)
            be->standardize(be, (int)n_val, (int)cols, dxva, dmean, dinv);
    }

    sample = malloc(n_tr * sizeof *sample);
    lr_rows = malloc((size_t)cap * sizeof *lr_rows);
    sched = malloc(steps_ep * 3 * sizeof *sched);
    if (!sample || !lr_rows || !sched)
        FAIL(CX_ERR_NOMEM, "train: allocating batch indices");
    const double q = s->privacy ? fmin(1.0, (double)B / (double)n_tr) : 0.0;
    const int dp_steps = (int)fmax(1.0, floor((double)n_tr / (double)B + 0.5));
    if (s->privacy) {
        CHECK(cx_dp_rng_create(&dprng, e));
        noise = cx_secmem_alloc(np * sizeof(float), 0, e);
        if (!noise)
            FAIL(e ? e->code : CX_ERR_NOMEM, "train: allocating the noise buffer");
    }

    double best = INFINITY, train_loss = NAN, val_loss = NAN;
    int best_epoch = -1, t = 0, epoch;
    int full_steps = 0;
    for (epoch = 0; epoch < s->epochs; epoch++) {
        const double lr = cx_lr_at(s, epoch);
        double loss_acc = 0.0;
        size_t loss_n = 0;
        if (!s->privacy) {
            /* shuffled fixed-size batches (the last one may be smaller) */
            for (size_t i = 0; i < n_tr; i++)
                sample[i] = (int32_t)i;
            for (size_t i = n_tr - 1; i > 0; i--) {
                size_t j = cx_rng_below(&rng, i + 1);
                int32_t tmp = sample[i];
                sample[i] = sample[j];
                sample[j] = tmp;
            }
            /* sync-free: one upload of the permutation and of the step values per epoch,
             * device-to-device copies before each step, the loss read once per epoch */
            for (size_t st = 0; st < steps_ep; st++) {
                float tt = (float)(t + 1 + (int)st);
                sched[3 * st] = (float)lr;
                sched[3 * st + 1] = 1.0f - powf((float)s->beta1, tt); /* adam_update's rounding */
                sched[3 * st + 2] = 1.0f - powf((float)s->beta2, tt);
            }
            const double zero = 0.0;
            if (!streamed)
                CHECK(be->upload(be, dperm, sample, n_tr * sizeof(int32_t), e));
            CHECK(be->upload(be, dsched, sched, steps_ep * 3 * sizeof(float), e));
            CHECK(be->upload(be, dloss, &zero, sizeof zero, e));
            int slot = 0;
            if (streamed) /* batch 0 into slot 0; each step then prefetches the next */
                CHECK(stager_put(&stg, 0, xtr, ytr, sample,
                                 (int)(n_tr < (size_t)B ? n_tr : (size_t)B), e));
            for (size_t b0 = 0, st = 0; b0 < n_tr; b0 += (size_t)B, st++) {
                int b = (int)(n_tr - b0 < (size_t)B ? n_tr - b0 : (size_t)B);
                if (streamed) {
                    size_t n0 = b0 + (size_t)B;
                    if (n0 < n_tr) {
                        int nb = (int)(n_tr - n0 < (size_t)B ? n_tr - n0 : (size_t)B);
                        CHECK(stager_put(&stg, slot ^ 1, xtr, ytr, sample + n0, nb, e));
                    }
                    CHECK(stager_take(&stg, slot, &net, b, e));
                    slot ^= 1;
                } else {
                    be->copy(be, net.idx, dperm + b0, (size_t)b * sizeof(int32_t));
                }
                be->copy(be, dhyper, dsched + 3 * st, 3 * sizeof(float));
                ++t;
                /* capture a full step once, after one eager full step has let cuBLAS pick
                 * its kernels; the last, smaller batch of an epoch always runs eagerly */
                if (b == B && gstate == 0 && full_steps > 0) {
                    cx_error ge;
                    if (cx_backend_graph_begin(be, &ge) == CX_OK) {
                        step_ops(&net, s, b, dxtr, dytr, dmean, dinv, dm, dv, dhyper, dloss);
                        if (cx_backend_graph_end(be, &ge) == CX_OK) {
                            gstate = 1;
                            cx_log_info(lg, "training step captured in a CUDA graph");
                        } else {
                            gstate = -1; /* nothing of the capture ran: run the step eagerly */
                            cx_log_warn(lg, "no CUDA graph, steps run eagerly: %s", ge.msg);
                        }
                    } else {
                        gstate = -1;
                        if (ge.code != CX_ERR_UNSUPPORTED)
                            cx_log_warn(lg, "no CUDA graph, steps run eagerly: %s", ge.msg);
                    }
                }
                if (b == B && gstate == 1)
                    CHECK(cx_backend_graph_launch(be, e));
                else
                    step_ops(&net, s, b, dxtr, dytr, dmean, dinv, dm, dv, dhyper, dloss);
                if (b == B)
                    full_steps++;
            }
            CHECK(be->download(be, &loss_acc, dloss, sizeof loss_acc, e));
            loss_n = n_tr;
        } else {
            /* DP-SGD: Poisson batches, per-example clipping, Gaussian noise on the sum,
             * divided by the expected batch size q·N (Opacus semantics). These steps stay
             * eager (no graph): batch sizes vary and the noise comes from the host CSPRNG. */
            for (int st = 0; st < dp_steps; st++) {
                size_t k = 0;
                CHECK(cx_dp_rng_poisson(dprng, n_tr, q, sample, &k, e));
                if (k == 0)
                    be->scale(be, np, net.grads, 0.0f);
                for (size_t c0 = 0; c0 < k; c0 += (size_t)cap) {
                    int b = (int)(k - c0 < (size_t)cap ? k - c0 : (size_t)cap);
                    if (streamed) {
                        CHECK(stager_put(&stg, 0, xtr, ytr, sample + c0, b, e));
                        CHECK(stager_take(&stg, 0, &net, b, e));
                        be->standardize(be, b, (int)cols, net.act[0], dmean, dinv);
                    } else {
                        CHECK(be->upload(be, net.idx, sample + c0, (size_t)b * sizeof(int32_t),
                                         e));
                        be->gather_rows(be, b, (int)cols, net.idx, dxtr, net.act[0]);
                        be->gather_rows(be, b, 1, net.idx, dytr, net.labels);
                    }
                    cx_net_forward(&net, b);
                    cx_net_loss(&net, b, 1.0f);
                    cx_net_backward(&net, b, c0 > 0, 1, (float)s->max_grad_norm);
                    CHECK(be->download(be, lr_rows, net.loss_rows, (size_t)b * sizeof(float),
                                       e));
                    for (int i = 0; i < b; i++)
                        loss_acc += lr_rows[i];
                    loss_n += (size_t)b;
                }
                CHECK(cx_dp_rng_gaussian(dprng, noise, np, e));
                CHECK(be->noise_add(be, np, net.grads, noise,
                                    (float)(s->noise_multiplier * s->max_grad_norm), e));
                be->scale(be, np, net.grads, (float)(1.0 / (q * (double)n_tr)));
                cx_optim_step(be, s, np, net.params, net.grads, dm, dv, lr, ++t);
            }
        }
        CHECK(be->sync(be, e));
        train_loss = loss_n ? loss_acc / (double)loss_n : NAN;
        if (!isfinite(train_loss) && loss_n)
            FAIL(CX_ERR_FORMAT,
                 "train: the loss diverged (not finite) in epoch %d; lower optimizer.lr",
                 epoch + 1);
        if (n_val)
            CHECK(evaluate(&net, dxva, dyva, xva, yvs ? yvs : yva, dmean, dinv, n_val, NULL,
                           &val_loss, e));
        else
            val_loss = train_loss;
        cx_log_info(lg, "epoch %d/%d: train loss %.6f, validation loss %.6f, lr %.3g",
                    epoch + 1, s->epochs, train_loss, val_loss, lr);
        if (cb && cb->fn)
            cb->fn(cb->ud, epoch + 1, train_loss, val_loss, lr);
        if (s->patience > 0) {
            if (val_loss < best) {
                best = val_loss;
                best_epoch = epoch;
                be->copy(be, dbest, net.params, np * sizeof(float));
            } else if (epoch - best_epoch >= s->patience) {
                cx_log_info(lg, "early stopping after epoch %d (best %d)", epoch + 1,
                            best_epoch + 1);
                epoch++;
                break;
            }
        } else {
            best_epoch = epoch;
        }
    }
    if (s->patience > 0 && best_epoch >= 0)
        be->copy(be, net.params, dbest, np * sizeof(float));
    CHECK(be->download(be, m->params, net.params, np * sizeof(float), e));

    /* metrics on the validation split (the training split when none is held out) */
    {
        size_t ne = n_val ? n_val : n_tr;
        const float *dx = n_val ? dxva : dxtr, *dy = n_val ? dyva : dytr;
        outv = malloc(ne * (size_t)m->n_outputs * sizeof *outv);
        if (!outv)
            FAIL(CX_ERR_NOMEM, "train: allocating validation outputs");
        double vl;
        const float *hx = n_val ? xva : xtr, *hy = n_val ? (yvs ? yvs : yva) : ytr;
        CHECK(evaluate(&net, dx, dy, hx, hy, dmean, dinv, ne, outv, &vl, e));
        const float *yh = n_val ? yva : ytr;
        if (s->task == CX_TASK_CLASSIFICATION) {
            CHECK(cx_metrics_classification(yh, outv, ne, m->n_outputs, m->n_classes, &res->val,
                                            e));
        } else {
            float *yo = n_val ? yva : ytr;
            for (size_t i = 0; i < ne; i++) {
                outv[i] = outv[i] * m->y_std + m->y_mean;
                if (!n_val)
                    yo[i] = yo[i] * m->y_std + m->y_mean; /* back to the original scale */
            }
            CHECK(cx_metrics_regression(yo, outv, ne, &res->val, e));
        }
        res->val.loss = vl;
    }
    res->train_loss = train_loss;
    res->epochs_run = epoch;
    res->best_epoch = best_epoch + 1;
    res->steps = (uint64_t)t;
    res->sample_rate = q;
    res->train_rows = n_tr;
    res->val_rows = n_val;
    res->seconds = cx_now_seconds() - t0;
    res->samples_per_s = res->seconds > 0 ? (double)n_tr * epoch / res->seconds : 0.0;
    res->streamed = streamed;
    res->graph = gstate == 1;
    *out = m;
    m = NULL;
out:
    if (be) {
        if (gstate == 1)
            cx_backend_graph_reset(be); /* the graph reads the buffers freed below */
        be->free(be, dxtr);
        be->free(be, dytr);
        be->free(be, dxva);
        be->free(be, dyva);
        be->free(be, dm);
        be->free(be, dv);
        be->free(be, dbest);
        be->free(be, dmean);
        be->free(be, dinv);
        be->free(be, dperm);
        be->free(be, dsched);
        be->free(be, dhyper);
        be->free(be, dloss);
    }
    stager_free(&stg);
    cx_net_destroy(&net);
    cx_backend_destroy(be_own);
    cx_model_free(m);
    cx_dp_rng_free(dprng);
    cx_secmem_free(noise);
    free(perm);
    free(sample);
    free(lr_rows);
    free(sched);
    free(yvs);
    free(xtr);
    free(ytr);
    free(xva);
    free(yva);
    free(outv);
    free(mean);
    free(var);
    return rc;
}

cx_err cx_model_predict(const cx_model *m, cx_backend *be_in, const float *x, size_t rows,
                        int standardise, float *out, cx_error *e)
{
    cx_err rc = CX_OK;
    cx_backend *be = be_in, *be_own = NULL;
    cx_net net = {0};
    float *dmean = NULL, *dinv = NULL;
    if (rows == 0)
        return CX_OK;
    if (!be) {
        CHECK(cx_backend_cpu_create(CX_PRECISION_FP32, 0, &be_own, e));
        be = be_own;
    }
    const int cols = m->n_features, k = m->n_outputs;
    const int cap = rows < 4096 ? (int)rows : 4096;
    CHECK(cx_net_create(be, m, cap, &net, e));
    CHECK(be->alloc(be, (size_t)cols * sizeof(float), (void **)&dmean, e));
    CHECK(be->alloc(be, (size_t)cols * sizeof(float), (void **)&dinv, e));
    CHECK(be->upload(be, dmean, m->mean, (size_t)cols * sizeof(float), e));
    CHECK(be->upload(be, dinv, m->inv_std, (size_t)cols * sizeof(float), e));
    {
        /* the loss ops read labels: give them valid ones (device memory may be garbage) */
        float *zeros = calloc((size_t)cap, sizeof *zeros);
        if (!zeros)
            FAIL(CX_ERR_NOMEM, "predict: allocating");
        rc = be->upload(be, net.labels, zeros, (size_t)cap * sizeof(float), e);
        free(zeros);
        if (rc != CX_OK)
            goto out;
    }
    for (size_t r0 = 0; r0 < rows; r0 += (size_t)cap) {
        int b = (int)(rows - r0 < (size_t)cap ? rows - r0 : (size_t)cap);
        CHECK(be->upload(be, net.act[0], x + r0 * cols, (size_t)b * cols * sizeof(float), e));
        if (standardise)
            be->standardize(be, b, cols, net.act[0], dmean, dinv);
        cx_net_forward(&net, b);
        cx_net_loss(&net, b, 0.0f); /* labels are zero: only the probabilities are used */
        CHECK(be->download(be, out + r0 * k, net.probs, (size_t)b * k * sizeof(float), e));
    }
    CHECK(be->sync(be, e));
    if (m->task == CX_TASK_REGRESSION)
        for (size_t i = 0; i < rows * (size_t)k; i++)
            out[i] = out[i] * m->y_std + m->y_mean;
out:
    if (be) {
        be->free(be, dmean);
        be->free(be, dinv);
    }
    cx_net_destroy(&net);
    cx_backend_destroy(be_own);
    return rc;
}
