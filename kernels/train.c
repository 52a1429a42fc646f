/* train.c — the training loop, in one process or across ranks: deterministic split and
 * standardisation, minibatch SGD or DP-SGD, early stopping, metrics; and prediction. */
#include "train_internal.h"
#include "kernels_math.h"

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

/* Host buffers that hold anything derived from the rows (the split, labels, standardiser
 * sums, per-row losses, outputs) are secure memory: locked where the limit allows, wiped
 * when freed (cx_secmem_free). */
static void *host_alloc(size_t bytes) { return cx_secmem_alloc(bytes, 0, NULL); }

/* Mean loss over rows of device data (dx, dy) — or, when the data is streamed (dx NULL),
 * of host rows (hx raw, hy) standardised on the device with dmean/dinv — and, optionally, the
 * model outputs (probabilities or standardised values) on the host. */
static cx_err evaluate(cx_net *n, const float *dx, const float *dy, const float *hx,
                       const float *hy, const float *dmean, const float *dinv, size_t rows,
                       cx_comm *comm, float *out_host, double *loss, cx_error *e)
{
    cx_backend *be = n->be;
    const cx_model *m = n->m;
    int cols = m->dims[0], k = m->n_outputs;
    float *lr = host_alloc((size_t)n->cap * sizeof *lr);
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
    if (comm && comm->size > 1) { /* the mean over every rank's rows */
        double sum[2] = {acc, (double)rows};
        CHECK(comm->allreduce_f64(comm, sum, 2, CX_COMM_SUM, e));
        acc = sum[0];
        rows = (size_t)sum[1];
    }
    *loss = rows ? acc / (double)rows : NAN;
out:
    cx_secmem_free(lr);
    return rc;
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
            cx_secmem_free(g->hx[i]);
            cx_secmem_free(g->hy[i]);
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
        g->hx[i] = g->async ? cx_cuda_pinned_alloc(NULL, nx, e) : host_alloc(nx);
        g->hy[i] = g->async ? cx_cuda_pinned_alloc(NULL, ny, e) : host_alloc(ny);
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

static cx_err check_data(const cx_spec *s, const cx_train_data *d, size_t min_rows,
                         int *n_classes, cx_error *e)
{
    if (!d || !d->x || !d->y || d->rows < min_rows || d->cols < 1)
        return cx_error_set(e, CX_ERR_ARG, "train: need at least %zu row%s and 1 feature column",
                            min_rows, min_rows == 1 ? "" : "s");
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
            return cx_error_set(e, CX_ERR_FORMAT, "train: a label is not one of the classes");
        *n_classes = nc;
    } else {
        *n_classes = 0;
    }
    return CX_OK;
}

/* One run of cx_train: its inputs, the host split, the device buffers and the progress, so that
 * each phase below is a function of it and train_run_free releases whatever exists. */
typedef struct train_run {
    const cx_spec *s;
    const cx_train_data *d;
    const cx_logger *lg;
    cx_backend *be, *be_own;
    cx_model *m;
    cx_net net;
    cx_rng rng; /* split, then each epoch's shuffle */
    size_t rows, cols, n_tr, n_val, np, steps_ep;
    double deadline; /* cx_now_seconds() past which training stops; 0: none */
    int B;   /* batch size (DP-SGD: the expected one) */
    int cap; /* rows per network pass */
    /* host: the split (xtr/ytr training, xva/yva validation, yvs the validation targets
     * standardised for the loss in regression), batch indices, the per-step optimizer values
     * of an epoch (sched, 3 floats a step), losses read back, and DP noise (secure memory) */
    float *xtr, *ytr, *xva, *yva, *yvs;
    int32_t *sample;
    float *sched, *lr_rows, *noise, *outv;
    /* device: the data when resident (else streamed through stg), optimizer state, the best
     * parameters (early stopping), the standardiser, and for non-private steps the epoch's
     * permutation, its step values (copied to dhyper before each step) and the loss sum */
    float *dxtr, *dytr, *dxva, *dyva;
    float *dm, *dv, *dbest, *dmean, *dinv;
    int32_t *dperm;
    float *dsched, *dhyper;
    double *dloss;
    stager stg;
    int streamed;
    /* graph of a full non-private step: 0 not tried yet, 1 captured, -1 unavailable (cpu) or
     * failed (then every step runs eagerly, as on the cpu) */
    int gstate;
    int full_steps; /* full-size non-private steps run so far */
    cx_dp_rng *dprng;
    double q;     /* DP-SGD: Poisson rate */
    int dp_steps; /* DP-SGD: steps per epoch */
    int t;        /* optimizer steps taken */
    int epoch, best_epoch;
    double best, train_loss, val_loss;
    /* across ranks (dist: comm has more than one): n_tr and n_val above count the global
     * split, m_tr and m_val this rank's rows of it (equal to them in one process) */
    cx_comm *comm;
    int dist;
    size_t m_tr, m_val;
    int32_t *tmap;        /* global training position -> this rank's training row, or -1 */
    int32_t *tpos, *vpos; /* this rank's training / validation row -> global position */
    int32_t *lidx;        /* this rank's rows of a batch (cap) */
    float *hgrad;         /* the gradients on the host for the all-reduce (np + 1: a flag) */
    cx_nccl *nccl;        /* the gradients' all-reduce on the device (cuda backend), or NULL */
    cx_comm *comm_own;    /* CLOAKX_TRAIN_DIST=1 without a communicator: a "self" one */
} train_run;

#define TRY(x)                                                                                 \
    do {                                                                                       \
        cx_err rc_ = (x);                                                                      \
        if (rc_ != CX_OK)                                                                      \
            return rc_;                                                                        \
    } while (0)

/* One non-private step on the batch whose indices are in net.idx: gather, forward, loss,
 * backward, optimizer, loss summed into dloss. Every argument is the same from step to step
 * for a given b (the per-step values are in dhyper and net.idx), so the cuda backend can
 * capture it once and replay it. */
static void step_ops(train_run *r, int b)
{
    cx_backend *be = r->be;
    cx_net *n = &r->net;
    const cx_spec *s = r->s;
    const int cols = (int)r->cols;
    if (r->dxtr) {
        be->gather_rows(be, b, cols, n->idx, r->dxtr, n->act[0]);
        be->gather_rows(be, b, 1, n->idx, r->dytr, n->labels);
    } else { /* streamed: the raw rows are in act[0] already */
        be->standardize(be, b, cols, n->act[0], r->dmean, r->dinv);
    }
    cx_net_forward(n, b);
    cx_net_loss(n, b, 1.0f / (float)b);
    cx_net_backward(n, b, 0, 0, 0.0f);
    switch (s->optimizer) {
    case CX_OPTIM_ADAM:
    case CX_OPTIM_ADAMW:
        be->adam_update_dev(be, r->np, n->params, n->grads, r->dm, r->dv, r->dhyper,
                            (float)s->beta1, (float)s->beta2, (float)s->eps,
                            (float)s->weight_decay, s->optimizer == CX_OPTIM_ADAMW);
        break;
    case CX_OPTIM_SGD:
        be->sgd_update_dev(be, r->np, n->params, n->grads, r->dm, r->dhyper,
                           (float)s->momentum, (float)s->weight_decay);
        break;
    }
    be->sum_acc(be, (size_t)b, n->loss_rows, r->dloss);
}

/* The backend (the caller's, or a cpu one with the spec's threads) and the initial model. */
static cx_err train_setup(train_run *r, cx_backend *be_in, cx_error *e)
{
    const cx_spec *s = r->s;
    int n_classes = 0;
    if (!r->dist) {
        TRY(check_data(s, r->d, 2, &n_classes, e));
    } else { /* every rank checks its shard; they fail together and agree on the classes */
        cx_error le;
        cx_err lrc = check_data(s, r->d, 1, &n_classes, &le);
        double v[2] = {lrc != CX_OK, (double)n_classes};
        TRY(r->comm->allreduce_f64(r->comm, v, 2, CX_COMM_MAX, e));
        if (lrc != CX_OK) {
            if (e)
                *e = le;
            return lrc;
        }
        if (v[0] > 0)
            return cx_error_set(e, CX_ERR_ARG,
                                "train: another rank refused its shard of the data");
        n_classes = (int)v[1];
    }
    if (!be_in) {
        TRY(cx_backend_create("cpu", s->precision, s->threads, &r->be_own, e));
        r->be = r->be_own;
    } else if (be_in->precision != s->precision) {
        return cx_error_set(e, CX_ERR_ARG,
                            "train: spec asks for precision %s but the %s backend runs %s",
                            cx_precision_name(s->precision), be_in->name,
                            cx_precision_name(be_in->precision));
    } else {
        r->be = be_in;
    }
    TRY(cx_model_create(s, r->d->cols, n_classes, &r->m, e));
    cx_model_init(r->m, s->seed);
    return CX_OK;
}

/* The split's and the steps' arithmetic (split_data, plan_device, plan_steps) once more,
 * without the data: kept beside them so the two cannot drift apart. */
void cx_spec_dp_plan(const cx_spec *s, size_t rows, double *q, uint64_t *steps)
{
    size_t n_val = (size_t)floor((double)rows * s->validation_split);
    if (rows && n_val >= rows)
        n_val = rows - 1;
    size_t n_tr = rows - n_val;
    if (n_tr == 0) {
        *q = 1.0;
        *steps = (uint64_t)(s->epochs > 0 ? s->epochs : 0);
        return;
    }
    size_t B = (size_t)s->batch_size < n_tr ? (size_t)s->batch_size : n_tr;
    if (B == 0)
        B = 1;
    *q = fmin(1.0, (double)B / (double)n_tr);
    int per_epoch = (int)fmax(1.0, floor((double)n_tr / (double)B + 0.5));
    *steps = (uint64_t)(s->epochs > 0 ? s->epochs : 0) * (uint64_t)per_epoch;
}

/* Deterministic split: a seeded permutation, the first n_val rows held out. */
static cx_err split_data(train_run *r, cx_error *e)
{
    const cx_train_data *d = r->d;
    const size_t rows = d->rows, cols = (size_t)d->cols;
    r->rows = rows;
    r->cols = cols;
    r->n_val = (size_t)floor((double)rows * r->s->validation_split);
    if (r->n_val >= rows)
        r->n_val = rows - 1;
    r->n_tr = rows - r->n_val;
    const size_t n_val = r->n_val, n_tr = r->n_tr;
    cx_rng_seed(&r->rng, r->s->seed);
    int32_t *perm = malloc(rows * sizeof *perm);
    r->xtr = host_alloc(n_tr * cols * sizeof *r->xtr);
    r->ytr = host_alloc(n_tr * sizeof *r->ytr);
    r->xva = host_alloc((n_val ? n_val : 1) * cols * sizeof *r->xva);
    r->yva = host_alloc((n_val ? n_val : 1) * sizeof *r->yva);
    if (!perm || !r->xtr || !r->ytr || !r->xva || !r->yva) {
        free(perm);
        return cx_error_set(e, CX_ERR_NOMEM, "train: allocating the %zu-row split", rows);
    }
    for (size_t i = 0; i < rows; i++)
        perm[i] = (int32_t)i;
    for (size_t i = rows - 1; i > 0; i--) {
        size_t j = cx_rng_below(&r->rng, i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < rows; i++) {
        const float *src = d->x + (size_t)perm[i] * cols;
        if (i < n_val) {
            memcpy(r->xva + i * cols, src, cols * sizeof(float));
            r->yva[i] = d->y[perm[i]];
        } else {
            memcpy(r->xtr + (i - n_val) * cols, src, cols * sizeof(float));
            r->ytr[i - n_val] = d->y[perm[i]];
        }
    }
    free(perm);
    r->m_tr = n_tr;
    r->m_val = n_val;
    return CX_OK;
}

/* The same split across ranks: the global row count from every rank's count, each of this
 * rank's rows' global place (row_index, or its contiguous shard in rank order), the same seeded
 * permutation of the global rows on every rank, and each rank keeps its own rows of either
 * part, in the order of their global positions, with the maps between the two. */
static cx_err split_data_dist(train_run *r, cx_error *e)
{
    const cx_train_data *d = r->d;
    cx_comm *c = r->comm;
    const size_t cols = (size_t)d->cols;
    double *counts = calloc((size_t)c->size, sizeof *counts);
    if (!counts)
        return cx_error_set(e, CX_ERR_NOMEM, "train: allocating the rank counts");
    counts[c->rank] = (double)d->rows;
    cx_err rc = c->allreduce_f64(c, counts, (size_t)c->size, CX_COMM_SUM, e);
    size_t rows = 0, off = 0;
    for (int k = 0; k < c->size; k++) {
        if (k == c->rank)
            off = rows;
        rows += (size_t)counts[k];
    }
    free(counts);
    if (rc != CX_OK)
        return rc;
    if (rows < 2 || rows > INT32_MAX)
        return cx_error_set(e, CX_ERR_ARG, "train: %zu rows across the ranks (need 2..2^31)", rows);
    r->rows = rows;
    r->cols = cols;
    r->n_val = (size_t)floor((double)rows * r->s->validation_split);
    if (r->n_val >= rows)
        r->n_val = rows - 1;
    r->n_tr = rows - r->n_val;
    const size_t n_val = r->n_val, n_tr = r->n_tr;
    cx_rng_seed(&r->rng, r->s->seed);
    int32_t *perm = malloc(rows * sizeof *perm);
    /* global row -> this rank's row, or -1 */
    int32_t *local = malloc(rows * sizeof *local);
    r->tmap = malloc(n_tr * sizeof *r->tmap);
    if (!perm || !local || !r->tmap) {
        free(perm);
        free(local);
        return cx_error_set(e, CX_ERR_NOMEM, "train: allocating the %zu-row split", rows);
    }
    for (size_t g = 0; g < rows; g++)
        local[g] = -1;
    for (size_t i = 0; i < d->rows; i++) {
        const uint64_t g = d->row_index ? d->row_index[i] : off + i;
        if (g >= rows || local[g] >= 0) {
            free(perm);
            free(local);
            return cx_error_set(e, CX_ERR_ARG,
                                "train: this rank's row %zu is row %llu of %zu across the ranks "
                                "(out of range or given twice)",
                                i, (unsigned long long)g, rows);
        }
        local[g] = (int32_t)i;
    }
    for (size_t i = 0; i < rows; i++)
        perm[i] = (int32_t)i;
    for (size_t i = rows - 1; i > 0; i--) { /* the draws of split_data, in its order */
        size_t j = cx_rng_below(&r->rng, i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    size_t mt = 0, mv = 0;
    for (size_t i = 0; i < rows; i++)
        if (local[perm[i]] >= 0)
            *(i < n_val ? &mv : &mt) += 1;
    r->m_tr = mt;
    r->m_val = mv;
    r->xtr = host_alloc((mt ? mt : 1) * cols * sizeof *r->xtr);
    r->ytr = host_alloc((mt ? mt : 1) * sizeof *r->ytr);
    r->xva = host_alloc((mv ? mv : 1) * cols * sizeof *r->xva);
    r->yva = host_alloc((mv ? mv : 1) * sizeof *r->yva);
    r->tpos = malloc((mt ? mt : 1) * sizeof *r->tpos);
    r->vpos = malloc((mv ? mv : 1) * sizeof *r->vpos);
    if (!r->xtr || !r->ytr || !r->xva || !r->yva || !r->tpos || !r->vpos) {
        free(perm);
        free(local);
        return cx_error_set(e, CX_ERR_NOMEM, "train: allocating the %zu-row split", rows);
    }
    mt = mv = 0;
    for (size_t i = 0; i < rows; i++) {
        const int32_t l = local[perm[i]];
        if (i >= n_val)
            r->tmap[i - n_val] = l >= 0 ? (int32_t)mt : -1;
        if (l < 0)
            continue;
        const float *src = d->x + (size_t)l * cols;
        if (i < n_val) {
            memcpy(r->xva + mv * cols, src, cols * sizeof(float));
            r->yva[mv] = d->y[l];
            r->vpos[mv++] = (int32_t)i;
        } else {
            memcpy(r->xtr + mt * cols, src, cols * sizeof(float));
            r->ytr[mt] = d->y[l];
            r->tpos[mt++] = (int32_t)(i - n_val);
        }
    }
    free(perm);
    free(local);
    return CX_OK;
}

static cx_err fit_columns(train_run *r, cx_error *e);
static cx_err fit_target(train_run *r, cx_error *e);

/* Does the data declare column j's standardisation? */
static int declared(const cx_train_data *d, size_t j)
{
    return d->mean && d->std && !isnan(d->mean[j]);
}

/* The DP standardisation (spec "privacy.standardize": "dp"): every column without a declared
 * standardisation, and a regression target without one, estimated by cx_dp_standardize on
 * its declared range, the spec's standardize_epsilon split evenly over all of them. */
static cx_err dp_standardiser(train_run *r, int dp_y, cx_error *e)
{
    const cx_train_data *d = r->d;
    const size_t cols = r->cols;
    cx_model *m = r->m;
    double *lo = malloc(cols * sizeof *lo), *hi = malloc(cols * sizeof *hi);
    float *mean = malloc(cols * sizeof *mean), *sd = malloc(cols * sizeof *sd);
    cx_err rc = lo && hi && mean && sd ? CX_OK
                                       : cx_error_set(e, CX_ERR_NOMEM, "train: out of memory");
    size_t ranged = 0;
    for (size_t j = 0; rc == CX_OK && j < cols; j++) {
        int range = !declared(d, j) && d->lo && d->hi && !isnan(d->lo[j]);
        if (!declared(d, j) && !range)
            rc = cx_error_set(e, CX_ERR_ARG,
                              "train: feature column %zu has neither a declared standardisation "
                              "nor a range for \"privacy.standardize\": \"dp\"",
                              j);
        lo[j] = range ? d->lo[j] : NAN;
        hi[j] = range ? d->hi[j] : NAN;
        ranged += (size_t)range;
    }
    if (rc == CX_OK && !r->dprng)
        rc = cx_dp_rng_create(&r->dprng, e);
    const double share = r->s->standardize_epsilon / (double)(ranged + (size_t)dp_y);
    if (rc == CX_OK && ranged)
        rc = cx_dp_standardize_comm(r->xtr, r->m_tr, r->n_tr, cols, lo, hi,
                                    share * (double)ranged, r->dprng, r->comm, mean, sd, e);
    for (size_t j = 0; rc == CX_OK && ranged && j < cols; j++)
        if (!isnan(lo[j])) {
            m->mean[j] = mean[j];
            m->inv_std[j] = 1.0f / sd[j]; /* > 0: clamped below by the mechanism */
        }
    if (rc == CX_OK && dp_y) {
        double ylo = d->y_lo, yhi = d->y_hi;
        float ym, ysd;
        rc = cx_dp_standardize_comm(r->ytr, r->m_tr, r->n_tr, 1, &ylo, &yhi, share, r->dprng,
                                    r->comm, &ym, &ysd, e);
        m->y_mean = ym;
        m->y_std = ysd;
    }
    free(lo);
    free(hi);
    free(mean);
    free(sd);
    return rc;
}

/* The standardiser, per column: the declared one where the data gives it; the rest under
 * "privacy.standardize": "dp" by the DP mechanism on the declared ranges (dp_standardiser),
 * otherwise from the training split only (two passes, double, fixed order). In regression
 * the targets the same way, the training ones standardised in place. */
static cx_err fit_standardiser(train_run *r, cx_error *e)
{
    const cx_train_data *d = r->d;
    const size_t cols = r->cols;
    const int regression = r->s->task == CX_TASK_REGRESSION;
    const int dp = r->s->privacy && r->s->dp_standardize;
    cx_model *m = r->m;
    size_t undeclared = 0;
    for (size_t j = 0; j < cols; j++)
        undeclared += (size_t)!declared(d, j);
    const int dp_y = dp && regression && !d->y_stats_given;
    if (dp_y && !d->y_bounds_given)
        return cx_error_set(e, CX_ERR_ARG,
                            "train: the target has neither a declared standardisation nor a "
                            "range for \"privacy.standardize\": \"dp\"");
    cx_err rc = CX_OK;
    if (dp && (undeclared || dp_y))
        rc = dp_standardiser(r, dp_y, e);
    else if (undeclared)
        rc = fit_columns(r, e);
    if (rc != CX_OK)
        return rc;
    for (size_t j = 0; j < cols; j++)
        if (declared(d, j)) {
            m->mean[j] = d->mean[j];
            m->inv_std[j] = d->std[j] > 0 ? 1.0f / d->std[j] : 1.0f;
        }
    if (regression && d->y_stats_given) {
        m->y_mean = d->y_mean;
        m->y_std = d->y_std > 0 ? d->y_std : 1.0f;
    } else if (regression && !dp_y) {
        return fit_target(r, e); /* it standardises in place */
    }
    for (size_t i = 0; regression && i < r->m_tr; i++)
        r->ytr[i] = (r->ytr[i] - m->y_mean) / m->y_std;
    return CX_OK;
}

/* The feature standardiser from the training split. */
static cx_err fit_columns(train_run *r, cx_error *e)
{
    const size_t n_tr = r->n_tr, m_tr = r->m_tr, cols = r->cols;
    const float *xtr = r->xtr;
    cx_model *m = r->m;
    /* zeroed, as fresh mappings are */
    double *mean = host_alloc(cols * sizeof *mean), *var = host_alloc(cols * sizeof *var);
    if (!mean || !var) {
        cx_secmem_free(mean);
        cx_secmem_free(var);
        return cx_error_set(e, CX_ERR_NOMEM, "train: allocating the %zu-row split", r->rows);
    }
    cx_err rc = CX_OK;
    for (size_t i = 0; i < m_tr; i++)
        for (size_t j = 0; j < cols; j++)
            mean[j] += xtr[i * cols + j];
    /* across ranks: each pass's sums over every rank's rows (n_tr is the global count) */
    if (r->dist && (rc = r->comm->allreduce_f64(r->comm, mean, cols, CX_COMM_SUM, e)) != CX_OK)
        goto out;
    for (size_t j = 0; j < cols; j++)
        mean[j] /= (double)n_tr;
    for (size_t i = 0; i < m_tr; i++)
        for (size_t j = 0; j < cols; j++) {
            double t = xtr[i * cols + j] - mean[j];
            var[j] += t * t;
        }
    if (r->dist && (rc = r->comm->allreduce_f64(r->comm, var, cols, CX_COMM_SUM, e)) != CX_OK)
        goto out;
    for (size_t j = 0; j < cols; j++) {
        double sd = sqrt(var[j] / (double)n_tr);
        m->mean[j] = (float)mean[j];
        m->inv_std[j] = sd > 1e-12 ? (float)(1.0 / sd) : 1.0f; /* constant column: centred */
    }
out:
    cx_secmem_free(mean);
    cx_secmem_free(var);
    return rc;
}

/* The regression target's standardiser from the training split (across ranks: from every
 * rank's sums), applied in place. */
static cx_err fit_target(train_run *r, cx_error *e)
{
    const size_t n_tr = r->n_tr, m_tr = r->m_tr;
    cx_model *m = r->m;
    float *ytr = r->ytr;
    double ym = 0.0, yv = 0.0;
    for (size_t i = 0; i < m_tr; i++)
        ym += ytr[i];
    if (r->dist)
        TRY(r->comm->allreduce_f64(r->comm, &ym, 1, CX_COMM_SUM, e));
    ym /= (double)n_tr;
    for (size_t i = 0; i < m_tr; i++)
        yv += (ytr[i] - ym) * (ytr[i] - ym);
    if (r->dist)
        TRY(r->comm->allreduce_f64(r->comm, &yv, 1, CX_COMM_SUM, e));
    double ysd = sqrt(yv / (double)n_tr);
    m->y_mean = (float)ym;
    m->y_std = ysd > 1e-12 ? (float)ysd : 1.0f;
    for (size_t i = 0; i < m_tr; i++)
        ytr[i] = (ytr[i] - m->y_mean) / m->y_std;
    return CX_OK;
}

/* All device memory but the data, planned up front; the standardiser uploaded. */
static cx_err plan_device(train_run *r, cx_error *e)
{
    const cx_spec *s = r->s;
    cx_backend *be = r->be;
    const size_t n_tr = r->n_tr, n_val = r->n_val;
    r->B = s->batch_size < (int)n_tr ? s->batch_size : (int)n_tr;
    r->cap = r->B;
    if (s->privacy) /* Poisson batches vary; larger ones are processed in chunks of cap */
        r->cap = (int)fmin((double)n_tr, r->B + 8.0 * sqrt((double)r->B) + 8.0);
    if (r->cap < 256 && (size_t)r->cap < r->rows)
        r->cap = (int)(r->rows < 256 ? r->rows : 256); /* evaluation passes reuse the workspace */
    TRY(cx_net_create(be, r->m, r->cap, &r->net, e));
    r->np = r->m->n_params;
#define DALLOC(p, count) TRY(be->alloc(be, (size_t)(count) * sizeof(float), (void **)&(p), e))
    DALLOC(r->dm, r->np);
    DALLOC(r->dv, r->np);
    DALLOC(r->dmean, r->cols);
    DALLOC(r->dinv, r->cols);
    if (s->patience > 0)
        DALLOC(r->dbest, r->np);
    r->steps_ep = (n_tr + (size_t)r->B - 1) / (size_t)r->B;
    if (!s->privacy && !r->dist) { /* across ranks, each step uploads its own rows' indices */
        DALLOC(r->dperm, n_tr); /* int32, the size of a float */
        DALLOC(r->dsched, r->steps_ep * 3);
        DALLOC(r->dhyper, 3);
    }
    if (!s->privacy)
        DALLOC(r->dloss, 2); /* one double */
#undef DALLOC
    if (s->task == CX_TASK_REGRESSION && n_val) {
        /* standardised validation targets */
        r->yvs = host_alloc((r->m_val ? r->m_val : 1) * sizeof *r->yvs);
        if (!r->yvs)
            return cx_error_set(e, CX_ERR_NOMEM, "train: allocating validation targets");
        for (size_t i = 0; i < r->m_val; i++)
            r->yvs[i] = (r->yva[i] - r->m->y_mean) / r->m->y_std;
    }
    TRY(be->upload(be, r->dmean, r->m->mean, r->cols * sizeof(float), e));
    return be->upload(be, r->dinv, r->m->inv_std, r->cols * sizeof(float), e);
}

/* The data on the device when it fits (all epochs run there), else streamed from host memory
 * batch by batch; CLOAKX_TRAIN_STREAM=1 forces streaming, =0 forbids it. */
static cx_err place_data(train_run *r, cx_error *e)
{
    cx_backend *be = r->be;
    /* this rank's rows (across ranks one may hold no training or no validation row) */
    const size_t n_tr = r->m_tr, n_val = r->m_val, cols = r->cols;
    const char *sv = getenv("CLOAKX_TRAIN_STREAM");
    int force = sv && strcmp(sv, "1") == 0, never = sv && strcmp(sv, "0") == 0;
    cx_error ae;
    cx_err ar = CX_OK;
    if (!force) {
        ar = be->alloc(be, (n_tr ? n_tr : 1) * cols * sizeof(float), (void **)&r->dxtr, &ae);
        if (ar == CX_OK)
            ar = be->alloc(be, (n_tr ? n_tr : 1) * sizeof(float), (void **)&r->dytr, &ae);
        if (ar == CX_OK)
            ar = be->alloc(be, (n_val ? n_val : 1) * cols * sizeof(float), (void **)&r->dxva,
                           &ae);
        if (ar == CX_OK)
            ar = be->alloc(be, (n_val ? n_val : 1) * sizeof(float), (void **)&r->dyva, &ae);
        if (ar != CX_OK && (ar != CX_ERR_NOMEM || never)) {
            if (e)
                *e = ae;
            return ar;
        }
    }
    if (force || ar != CX_OK) {
        be->free(be, r->dxtr);
        be->free(be, r->dytr);
        be->free(be, r->dxva);
        be->free(be, r->dyva);
        r->dxtr = r->dytr = r->dxva = r->dyva = NULL;
        r->streamed = 1;
        TRY(stager_init(&r->stg, be, cols, (size_t)r->cap, e));
        cx_log_info(r->lg,
                    "training data streamed from host memory (%s): %zu rows of %zu "
                    "features, %s staging",
                    force ? "CLOAKX_TRAIN_STREAM=1" : ae.msg, r->rows, cols,
                    r->stg.async ? "double-buffered pinned" : "synchronous");
        return CX_OK;
    }
    if (n_tr) {
        TRY(be->upload(be, r->dxtr, r->xtr, n_tr * cols * sizeof(float), e));
        TRY(be->upload(be, r->dytr, r->ytr, n_tr * sizeof(float), e));
    }
    if (n_val) {
        TRY(be->upload(be, r->dxva, r->xva, n_val * cols * sizeof(float), e));
        TRY(be->upload(be, r->dyva, r->yvs ? r->yvs : r->yva, n_val * sizeof(float), e));
    }
    if (n_tr)
        be->standardize(be, (int)n_tr, (int)cols, r->dxtr, r->dmean, r->dinv);
    if (n_val)
        be->standardize(be, (int)n_val, (int)cols, r->dxva, r->dmean, r->dinv);
    return CX_OK;
}

/* Across ranks: NCCL for the gradients when every rank can use it (cx_nccl_create is
 * collective and agrees on it), else the host path; a cuda backend says why it is not used. */
static cx_err plan_nccl(train_run *r, cx_error *e)
{
    cx_error ne;
    cx_err rc = cx_nccl_create(r->be, r->comm, &r->nccl, &ne);
    if (rc == CX_OK) {
        const int v = cx_nccl_library_version(r->nccl);
        cx_log_info(r->lg, "gradients summed by NCCL %d.%d.%d on device buffers (GPU %d)",
                    v / 10000, v / 100 % 100, v % 100, cx_nccl_device(r->nccl));
        return CX_OK;
    }
    if (rc != CX_ERR_UNSUPPORTED) { /* the communicator itself failed */
        if (e)
            *e = ne;
        return rc;
    }
    if (r->be->name && strcmp(r->be->name, "cuda") == 0)
        cx_log_warn(r->lg, "gradients summed through host memory: %s", ne.msg);
    return CX_OK;
}

/* Host buffers of the steps, and DP-SGD's sampling rate, step count, CSPRNG and noise. */
static cx_err plan_steps(train_run *r, cx_error *e)
{
    const cx_spec *s = r->s;
    r->sample = malloc(r->n_tr * sizeof *r->sample);
    r->lr_rows = host_alloc((size_t)r->cap * sizeof *r->lr_rows);
    r->sched = malloc(r->steps_ep * 3 * sizeof *r->sched);
    if (!r->sample || !r->lr_rows || !r->sched)
        return cx_error_set(e, CX_ERR_NOMEM, "train: allocating batch indices");
    if (r->dist) {
        TRY(plan_nccl(r, e));
        r->lidx = malloc((size_t)r->cap * sizeof *r->lidx);
        r->hgrad = r->nccl ? NULL : host_alloc((r->np + 1) * sizeof *r->hgrad);
        if (!r->lidx || (!r->nccl && !r->hgrad))
            return cx_error_set(e, CX_ERR_NOMEM, "train: allocating the all-reduce buffers");
    }
    r->q = s->privacy ? fmin(1.0, (double)r->B / (double)r->n_tr) : 0.0;
    r->dp_steps = (int)fmax(1.0, floor((double)r->n_tr / (double)r->B + 0.5));
    if (s->privacy) {
        if (!r->dprng) /* the DP standardisation may have made it */
            TRY(cx_dp_rng_create(&r->dprng, e));
        r->noise = cx_secmem_alloc(r->np * sizeof(float), 0, e);
        if (!r->noise)
            return cx_error_set(e, e ? e->code : CX_ERR_NOMEM,
                                "train: allocating the noise buffer");
    }
    return CX_OK;
}

/* Run one full-size (b == B) or smaller non-private step whose batch is in place: a full one
 * is captured in a CUDA graph once, after one eager full step has let cuBLAS pick its
 * kernels, and replayed from then on; the last, smaller batch of an epoch runs eagerly. */
static cx_err run_plain_step(train_run *r, int b, cx_error *e)
{
    cx_backend *be = r->be;
    if (b == r->B && r->gstate == 0 && r->full_steps > 0) {
        cx_error ge;
        if (cx_backend_graph_begin(be, &ge) == CX_OK) {
            step_ops(r, b);
            if (cx_backend_graph_end(be, &ge) == CX_OK) {
                r->gstate = 1;
                cx_log_info(r->lg, "training step captured in a CUDA graph");
            } else {
                r->gstate = -1; /* nothing of the capture ran: run the step eagerly */
                cx_log_warn(r->lg, "no CUDA graph, steps run eagerly: %s", ge.msg);
            }
        } else {
            r->gstate = -1;
            if (ge.code != CX_ERR_UNSUPPORTED)
                cx_log_warn(r->lg, "no CUDA graph, steps run eagerly: %s", ge.msg);
        }
    }
    if (b == r->B && r->gstate == 1)
        TRY(cx_backend_graph_launch(be, e));
    else
        step_ops(r, b);
    if (b == r->B)
        r->full_steps++;
    return CX_OK;
}

/* A non-private epoch: shuffled fixed-size batches (the last one may be smaller), without a
 * host synchronisation: one upload of the permutation and of the step values, device-to-device
 * copies before each step, the loss read once at the end. */
/* The worker's time limit per job: checked before every step, so that a job over it stops
 * within one step, whatever its epochs. */
static cx_err check_deadline(const train_run *r, cx_error *e)
{
    if (r->deadline > 0 && cx_now_seconds() > r->deadline)
        return cx_error_set(e, CX_ERR_LIMIT,
                            "train: over the job's time limit (stopped in epoch %d of %d)",
                            r->epoch + 1, r->s->epochs);
    return CX_OK;
}

/* The epoch's permutation of the (global) training positions into r->sample. */
static void shuffle_epoch(train_run *r)
{
    int32_t *sample = r->sample;
    for (size_t i = 0; i < r->n_tr; i++)
        sample[i] = (int32_t)i;
    for (size_t i = r->n_tr - 1; i > 0; i--) {
        size_t j = cx_rng_below(&r->rng, i + 1);
        int32_t tmp = sample[i];
        sample[i] = sample[j];
        sample[j] = tmp;
    }
}

static cx_err plain_epoch(train_run *r, double lr, double *loss_acc, size_t *loss_n,
                          cx_error *e)
{
    cx_backend *be = r->be;
    const size_t n_tr = r->n_tr, B = (size_t)r->B;
    int32_t *sample = r->sample;
    shuffle_epoch(r);
    for (size_t st = 0; st < r->steps_ep; st++) {
        int t = r->t + 1 + (int)st;
        r->sched[3 * st] = (float)lr;
        r->sched[3 * st + 1] = cxm_adam_bias_correction((float)r->s->beta1, t);
        r->sched[3 * st + 2] = cxm_adam_bias_correction((float)r->s->beta2, t);
    }
    const double zero = 0.0;
    if (!r->streamed)
        TRY(be->upload(be, r->dperm, sample, n_tr * sizeof(int32_t), e));
    TRY(be->upload(be, r->dsched, r->sched, r->steps_ep * 3 * sizeof(float), e));
    TRY(be->upload(be, r->dloss, &zero, sizeof zero, e));
    int slot = 0;
    if (r->streamed) /* batch 0 into slot 0; each step then prefetches the next */
        TRY(stager_put(&r->stg, 0, r->xtr, r->ytr, sample, (int)(n_tr < B ? n_tr : B), e));
    for (size_t b0 = 0, st = 0; b0 < n_tr; b0 += B, st++) {
        int b = (int)(n_tr - b0 < B ? n_tr - b0 : B);
        if (r->streamed) {
            size_t n0 = b0 + B;
            if (n0 < n_tr) {
                int nb = (int)(n_tr - n0 < B ? n_tr - n0 : B);
                TRY(stager_put(&r->stg, slot ^ 1, r->xtr, r->ytr, sample + n0, nb, e));
            }
            TRY(stager_take(&r->stg, slot, &r->net, b, e));
            slot ^= 1;
        } else {
            be->copy(be, r->net.idx, r->dperm + b0, (size_t)b * sizeof(int32_t));
        }
        TRY(check_deadline(r, e));
        be->copy(be, r->dhyper, r->dsched + 3 * st, 3 * sizeof(float));
        ++r->t;
        TRY(run_plain_step(r, b, e));
    }
    TRY(be->download(be, loss_acc, r->dloss, sizeof *loss_acc, e));
    *loss_n = n_tr;
    return CX_OK;
}

/* Training rows idx (b, this rank's) into the network's input and labels, standardised. */
static cx_err load_rows(train_run *r, const int32_t *idx, int b, cx_error *e)
{
    cx_backend *be = r->be;
    cx_net *net = &r->net;
    if (r->streamed) {
        TRY(stager_put(&r->stg, 0, r->xtr, r->ytr, idx, b, e));
        TRY(stager_take(&r->stg, 0, net, b, e));
        be->standardize(be, b, (int)r->cols, net->act[0], r->dmean, r->dinv);
        return CX_OK;
    }
    TRY(be->upload(be, net->idx, idx, (size_t)b * sizeof(int32_t), e));
    be->gather_rows(be, b, (int)r->cols, net->idx, r->dxtr, net->act[0]);
    be->gather_rows(be, b, 1, net->idx, r->dytr, net->labels);
    return CX_OK;
}

/* Across ranks, after each rank's backward pass: the gradients summed over the ranks (by NCCL
 * on the device, or through the host) — under DP-SGD with the step's one Gaussian draw, N(0, σ²C²) per coordinate, added
 * by rank 0 alone before the sum, so the sum carries exactly the noise of one process. The
 * all-reduce also carries one flag more, set by a rank past the job's time limit, so that the
 * ranks stop at the same step (a rank stopping alone would leave the others waiting here). */
static cx_err reduce_grads(train_run *r, int noise, cx_error *e)
{
    cx_backend *be = r->be;
    cx_net *net = &r->net;
    const size_t np = r->np;
    if (noise && r->comm->rank == 0) {
        TRY(cx_dp_rng_gaussian(r->dprng, r->noise, np, e));
        TRY(be->noise_add(be, np, net->grads, r->noise,
                          (float)(r->s->noise_multiplier * r->s->max_grad_norm), e));
    }
    const int late = r->deadline > 0 && cx_now_seconds() > r->deadline;
    if (r->nccl) { /* on the device, queued on the backend's stream; the flag over comm */
        double flag = late;
        TRY(cx_nccl_allreduce_f32(r->nccl, net->grads, np, e));
        TRY(r->comm->allreduce_f64(r->comm, &flag, 1, CX_COMM_MAX, e));
        if (flag > 0.0)
            return cx_error_set(e, CX_ERR_LIMIT,
                                "train: over the job's time limit on a rank (stopped in epoch %d "
                                "of %d)",
                                r->epoch + 1, r->s->epochs);
        return CX_OK;
    }
    TRY(be->download(be, r->hgrad, net->grads, np * sizeof(float), e));
    r->hgrad[np] = late ? 1.0f : 0.0f;
    TRY(r->comm->allreduce_f32(r->comm, r->hgrad, np + 1, e));
    if (r->hgrad[np] > 0.0f)
        return cx_error_set(e, CX_ERR_LIMIT,
                            "train: over the job's time limit on a rank (stopped in epoch %d of "
                            "%d)",
                            r->epoch + 1, r->s->epochs);
    return be->upload(be, net->grads, r->hgrad, np * sizeof(float), e);
}

/* A non-private step across ranks on the global batch gidx (b global training positions):
 * this rank's rows of it forward and backward with the loss scaled by 1/b (the global batch),
 * the gradients summed over the ranks, the optimizer step (the same on every rank). */
static cx_err dist_step(train_run *r, const int32_t *gidx, int b, double lr, cx_error *e)
{
    cx_backend *be = r->be;
    cx_net *net = &r->net;
    int bl = 0;
    for (int j = 0; j < b; j++)
        if (r->tmap[gidx[j]] >= 0)
            r->lidx[bl++] = r->tmap[gidx[j]];
    if (bl > 0) {
        TRY(load_rows(r, r->lidx, bl, e));
        cx_net_forward(net, bl);
        cx_net_loss(net, bl, 1.0f / (float)b);
        cx_net_backward(net, bl, 0, 0, 0.0f);
        be->sum_acc(be, (size_t)bl, net->loss_rows, r->dloss);
    } else {
        be->scale(be, r->np, net->grads, 0.0f); /* none of the batch here: adds nothing */
    }
    TRY(reduce_grads(r, 0, e));
    cx_optim_step(be, r->s, r->np, net->params, net->grads, r->dm, r->dv, lr, ++r->t);
    return CX_OK;
}

/* A non-private epoch across ranks: the permutation and batches of one process over the global
 * training positions (every rank draws the same), each step on this rank's rows of them. */
static cx_err plain_epoch_dist(train_run *r, double lr, double *loss_acc, size_t *loss_n,
                               cx_error *e)
{
    cx_backend *be = r->be;
    const size_t n_tr = r->n_tr, B = (size_t)r->B;
    const double zero = 0.0;
    shuffle_epoch(r);
    TRY(be->upload(be, r->dloss, &zero, sizeof zero, e));
    for (size_t b0 = 0; b0 < n_tr; b0 += B)
        TRY(dist_step(r, r->sample + b0, (int)(n_tr - b0 < B ? n_tr - b0 : B), lr, e));
    TRY(be->download(be, loss_acc, r->dloss, sizeof *loss_acc, e));
    *loss_n = r->m_tr; /* summed over the ranks by end_epoch */
    return CX_OK;
}

/* One DP-SGD step: a Poisson batch, per-example clipping, Gaussian noise on the sum, divided
 * by the expected batch size q·N (Opacus semantics). It stays eager (no graph): batch sizes
 * vary and the noise comes from the host CSPRNG. Across ranks each samples its own rows at the
 * global q (independent Poisson samples of disjoint shards are one Poisson sample of the whole)
 * and reduce_grads adds the noise once. */
static cx_err dp_step(train_run *r, double lr, double *loss_acc, size_t *loss_n, cx_error *e)
{
    cx_backend *be = r->be;
    cx_net *net = &r->net;
    const cx_spec *s = r->s;
    const size_t cap = (size_t)r->cap;
    size_t k = 0;
    TRY(cx_dp_rng_poisson(r->dprng, r->m_tr, r->q, r->sample, &k, e));
    if (k == 0)
        be->scale(be, r->np, net->grads, 0.0f);
    for (size_t c0 = 0; c0 < k; c0 += cap) {
        int b = (int)(k - c0 < cap ? k - c0 : cap);
        TRY(load_rows(r, r->sample + c0, b, e));
        cx_net_forward(net, b);
        cx_net_loss(net, b, 1.0f);
        cx_net_backward(net, b, c0 > 0, 1, (float)s->max_grad_norm);
        TRY(be->download(be, r->lr_rows, net->loss_rows, (size_t)b * sizeof(float), e));
        for (int i = 0; i < b; i++)
            *loss_acc += r->lr_rows[i];
        *loss_n += (size_t)b;
    }
    if (r->dist) {
        TRY(reduce_grads(r, 1, e));
    } else {
        TRY(cx_dp_rng_gaussian(r->dprng, r->noise, r->np, e));
        TRY(be->noise_add(be, r->np, net->grads, r->noise,
                          (float)(s->noise_multiplier * s->max_grad_norm), e));
    }
    be->scale(be, r->np, net->grads, (float)(1.0 / (r->q * (double)r->n_tr)));
    cx_optim_step(be, s, r->np, net->params, net->grads, r->dm, r->dv, lr, ++r->t);
    return CX_OK;
}

/* After an epoch's steps: its training loss, the validation loss, the log line and callback,
 * and early stopping (*stop set when patience ran out). */
static cx_err end_epoch(train_run *r, const cx_train_epoch_cb *cb, double lr, double loss_acc,
                        size_t loss_n, int *stop, cx_error *e)
{
    const cx_spec *s = r->s;
    cx_backend *be = r->be;
    TRY(be->sync(be, e));
    if (r->dist) { /* every rank's share of the epoch's loss */
        double sum[2] = {loss_acc, (double)loss_n};
        TRY(r->comm->allreduce_f64(r->comm, sum, 2, CX_COMM_SUM, e));
        loss_acc = sum[0];
        loss_n = (size_t)sum[1];
    }
    r->train_loss = loss_n ? loss_acc / (double)loss_n : NAN;
    if (!isfinite(r->train_loss) && loss_n)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "train: the loss diverged (not finite) in epoch %d; lower "
                            "optimizer.lr",
                            r->epoch + 1);
    if (r->n_val)
        TRY(evaluate(&r->net, r->dxva, r->dyva, r->xva, r->yvs ? r->yvs : r->yva, r->dmean,
                     r->dinv, r->m_val, r->comm, NULL, &r->val_loss, e));
    else
        r->val_loss = r->train_loss;
    cx_log_info(r->lg, "epoch %d/%d: train loss %.6f, validation loss %.6f, lr %.3g",
                r->epoch + 1, s->epochs, r->train_loss, r->val_loss, lr);
    if (cb && cb->fn)
        cb->fn(cb->ud, r->epoch + 1, r->train_loss, r->val_loss, lr);
    if (s->patience <= 0) {
        r->best_epoch = r->epoch;
    } else if (r->val_loss < r->best) {
        r->best = r->val_loss;
        r->best_epoch = r->epoch;
        be->copy(be, r->dbest, r->net.params, r->np * sizeof(float));
    } else if (r->epoch - r->best_epoch >= s->patience) {
        cx_log_info(r->lg, "early stopping after epoch %d (best %d)", r->epoch + 1,
                    r->best_epoch + 1);
        *stop = 1;
    }
    return CX_OK;
}

/* The epochs; leaves the kept parameters (the best epoch's under early stopping) in the model
 * and the number of epochs run in r->epoch. */
static cx_err run_epochs(train_run *r, const cx_train_epoch_cb *cb, cx_error *e)
{
    const cx_spec *s = r->s;
    r->best = INFINITY;
    r->train_loss = r->val_loss = NAN;
    r->best_epoch = -1;
    for (r->epoch = 0; r->epoch < s->epochs; r->epoch++) {
        const double lr = cx_lr_at(s, r->epoch);
        double loss_acc = 0.0;
        size_t loss_n = 0;
        if (!s->privacy && r->dist)
            TRY(plain_epoch_dist(r, lr, &loss_acc, &loss_n, e));
        else if (!s->privacy)
            TRY(plain_epoch(r, lr, &loss_acc, &loss_n, e));
        else
            for (int st = 0; st < r->dp_steps; st++) {
                if (!r->dist) /* across ranks reduce_grads agrees on the limit */
                    TRY(check_deadline(r, e));
                TRY(dp_step(r, lr, &loss_acc, &loss_n, e));
            }
        int stop = 0;
        TRY(end_epoch(r, cb, lr, loss_acc, loss_n, &stop, e));
        if (stop) {
            r->epoch++;
            break;
        }
    }
    if (s->patience > 0 && r->best_epoch >= 0)
        r->be->copy(r->be, r->net.params, r->dbest, r->np * sizeof(float));
    return r->be->download(r->be, r->m->params, r->net.params, r->np * sizeof(float), e);
}

/* Metrics on the validation split (the training split when none is held out). */
static cx_err final_metrics(train_run *r, cx_train_result *res, cx_error *e)
{
    const cx_model *m = r->m;
    const size_t n_val = r->n_val, ne = n_val ? n_val : r->n_tr;
    const float *dx = n_val ? r->dxva : r->dxtr, *dy = n_val ? r->dyva : r->dytr;
    r->outv = host_alloc(ne * (size_t)m->n_outputs * sizeof *r->outv);
    if (!r->outv)
        return cx_error_set(e, CX_ERR_NOMEM, "train: allocating validation outputs");
    float *outv = r->outv;
    double vl;
    const float *hx = n_val ? r->xva : r->xtr, *hy = n_val ? (r->yvs ? r->yvs : r->yva) : r->ytr;
    TRY(evaluate(&r->net, dx, dy, hx, hy, r->dmean, r->dinv, ne, NULL, outv, &vl, e));
    if (r->s->task == CX_TASK_CLASSIFICATION) {
        const float *yh = n_val ? r->yva : r->ytr;
        TRY(cx_metrics_classification(yh, outv, ne, m->n_outputs, m->n_classes, &res->val, e));
    } else {
        float *yo = n_val ? r->yva : r->ytr;
        for (size_t i = 0; i < ne; i++) {
            outv[i] = outv[i] * m->y_std + m->y_mean;
            if (!n_val)
                yo[i] = yo[i] * m->y_std + m->y_mean; /* back to the original scale */
        }
        TRY(cx_metrics_regression(yo, outv, ne, &res->val, e));
    }
    res->val.loss = vl;
    return CX_OK;
}

/* The same metrics across ranks: each rank's outputs and labels put at their global positions
 * in zeroed tables and summed over the ranks (each entry comes from one rank, so the sum is
 * exact), the metrics then computed on the whole of them, in the order of one process. */
static cx_err final_metrics_dist(train_run *r, cx_train_result *res, cx_error *e)
{
    const cx_model *m = r->m;
    const int k = m->n_outputs, val = r->n_val > 0;
    const size_t ne = val ? r->n_val : r->n_tr, nl = val ? r->m_val : r->m_tr;
    const int32_t *pos = val ? r->vpos : r->tpos;
    float *outl = host_alloc((nl ? nl : 1) * (size_t)k * sizeof *outl);
    float *yg = host_alloc(ne * sizeof *yg);
    r->outv = host_alloc(ne * (size_t)k * sizeof *r->outv);
    cx_err rc = CX_OK;
    if (!outl || !yg || !r->outv) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "train: allocating validation outputs");
        goto out;
    }
    double vl;
    const float *hx = val ? r->xva : r->xtr, *hy = val ? (r->yvs ? r->yvs : r->yva) : r->ytr;
    CHECK(evaluate(&r->net, val ? r->dxva : r->dxtr, val ? r->dyva : r->dytr, hx, hy, r->dmean,
                   r->dinv, nl, r->comm, outl, &vl, e));
    const int regression = r->s->task == CX_TASK_REGRESSION;
    for (size_t i = 0; i < nl; i++) {
        const size_t g = (size_t)pos[i];
        memcpy(r->outv + g * (size_t)k, outl + i * (size_t)k, (size_t)k * sizeof(float));
        /* labels on the original scale (training targets were standardised in place) */
        yg[g] = val ? r->yva[i] : regression ? r->ytr[i] * m->y_std + m->y_mean : r->ytr[i];
    }
    CHECK(r->comm->allreduce_f32(r->comm, r->outv, ne * (size_t)k, e));
    CHECK(r->comm->allreduce_f32(r->comm, yg, ne, e));
    if (!regression) {
        CHECK(cx_metrics_classification(yg, r->outv, ne, k, m->n_classes, &res->val, e));
    } else {
        for (size_t i = 0; i < ne; i++)
            r->outv[i] = r->outv[i] * m->y_std + m->y_mean;
        CHECK(cx_metrics_regression(yg, r->outv, ne, &res->val, e));
    }
    res->val.loss = vl;
out:
    cx_secmem_free(outl);
    cx_secmem_free(yg);
    return rc;
}

/* Every rank must end with the same parameters (the same sums, the same updates): rank 0's
 * are broadcast and compared bit for bit, so a divergence is an error, not a silent model. */
static cx_err check_same_model(train_run *r, cx_error *e)
{
    const size_t bytes = r->np * sizeof(float);
    float *p0 = malloc(bytes ? bytes : 1);
    if (!p0)
        return cx_error_set(e, CX_ERR_NOMEM, "train: allocating the model check");
    memcpy(p0, r->m->params, bytes);
    cx_err rc = r->comm->bcast(r->comm, p0, bytes, 0, e);
    double differ = rc == CX_OK && memcmp(p0, r->m->params, bytes) != 0;
    free(p0);
    if (rc == CX_OK)
        rc = r->comm->allreduce_f64(r->comm, &differ, 1, CX_COMM_SUM, e);
    if (rc == CX_OK && differ > 0)
        rc = cx_error_set(e, CX_ERR_INTERNAL,
                          "train: the ranks ended with different models (%g of %d differ)", differ,
                          r->comm->size);
    return rc;
}

static void train_run_free(train_run *r)
{
    cx_backend *be = r->be;
    if (be) {
        if (r->gstate == 1)
            cx_backend_graph_reset(be); /* the graph reads the buffers freed below */
        void *dev[] = {r->dxtr, r->dytr, r->dxva,  r->dyva,   r->dm,     r->dv,   r->dbest,
                       r->dmean, r->dinv, r->dperm, r->dsched, r->dhyper, r->dloss};
        for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
            be->free(be, dev[i]);
    }
    stager_free(&r->stg);
    cx_nccl_destroy(r->nccl); /* waits for its queued collectives, before the buffers go */
    cx_net_destroy(&r->net);
    cx_backend_destroy(r->be_own);
    cx_model_free(r->m);
    cx_dp_rng_free(r->dprng);
    cx_secmem_free(r->noise);
    free(r->sample);
    cx_secmem_free(r->lr_rows);
    free(r->sched);
    cx_secmem_free(r->yvs);
    cx_secmem_free(r->xtr);
    cx_secmem_free(r->ytr);
    cx_secmem_free(r->xva);
    cx_secmem_free(r->yva);
    cx_secmem_free(r->outv);
    free(r->tmap);
    free(r->tpos);
    free(r->vpos);
    free(r->lidx);
    cx_secmem_free(r->hgrad);
    cx_comm_destroy(r->comm_own);
}

cx_err cx_train(const cx_spec *s, const cx_train_data *d, cx_backend *be,
                const cx_train_epoch_cb *cb, const cx_logger *lg, cx_model **out,
                cx_train_result *res, cx_error *e)
{
    return cx_train_comm(s, d, be, NULL, cb, lg, out, res, e);
}

cx_err cx_train_comm(const cx_spec *s, const cx_train_data *d, cx_backend *be, cx_comm *comm,
                     const cx_train_epoch_cb *cb, const cx_logger *lg, cx_model **out,
                     cx_train_result *res, cx_error *e)
{
    const double t0 = cx_now_seconds();
    memset(res, 0, sizeof *res);
    *out = NULL;
    if (s->task == CX_TASK_STATS)
        return cx_error_set(e, CX_ERR_ARG,
                            "train: task \"stats\" computes statistics and trains no model");
    train_run r = {.s = s,
                   .d = d,
                   .lg = lg,
                   .deadline = cb ? cb->deadline : 0.0,
                   .comm = comm,
                   .dist = comm && comm->size > 1};
    cx_err rc = CX_OK;
    const char *force = getenv("CLOAKX_TRAIN_DIST");
    if (!r.dist && force && strcmp(force, "1") == 0) { /* the across-ranks path at one rank */
        if (!comm)
            rc = cx_comm_self_create(&r.comm_own, e);
        r.comm = comm ? comm : r.comm_own;
        r.dist = rc == CX_OK;
    }
    if (rc == CX_OK)
        rc = train_setup(&r, be, e);
    if (rc == CX_OK)
        rc = r.dist ? split_data_dist(&r, e) : split_data(&r, e);
    if (rc == CX_OK)
        rc = fit_standardiser(&r, e);
    if (rc == CX_OK)
        rc = plan_device(&r, e);
    if (rc == CX_OK)
        rc = place_data(&r, e);
    if (rc == CX_OK)
        rc = plan_steps(&r, e);
    if (rc == CX_OK)
        rc = run_epochs(&r, cb, e);
    if (rc == CX_OK && r.dist)
        rc = check_same_model(&r, e);
    if (rc == CX_OK)
        rc = r.dist ? final_metrics_dist(&r, res, e) : final_metrics(&r, res, e);
    if (rc == CX_OK) {
        res->train_loss = r.train_loss;
        res->epochs_run = r.epoch;
        res->best_epoch = r.best_epoch + 1;
        res->steps = (uint64_t)r.t;
        res->sample_rate = r.q;
        res->train_rows = r.n_tr;
        res->val_rows = r.n_val;
        res->seconds = cx_now_seconds() - t0;
        res->samples_per_s =
            res->seconds > 0 ? (double)r.n_tr * r.epoch / res->seconds : 0.0;
        res->streamed = r.streamed;
        res->graph = r.gstate == 1;
        res->nccl = r.nccl != NULL;
        *out = r.m;
        r.m = NULL;
    }
    train_run_free(&r);
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
