/* model.c — model architectures as stacks of dense layers (linear, logistic, softmax, mlp),
 * deterministic initialisation, the device workspace (forward/backward) and prediction. */
#include "train_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- deterministic RNG: xoshiro256** seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void cx_rng_seed(cx_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cx_rng_next(cx_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double cx_rng_uniform(cx_rng *r)
{
    return (double)(cx_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t cx_rng_below(cx_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t x;
    do
        x = cx_rng_next(r);
    while (x >= lim);
    return x % n;
}

/* ---- architecture ---- */

cx_err cx_model_create(const cx_spec *s, int n_features, int n_classes, cx_model **out, cx_error *e)
{
    if (n_features < 1)
        return cx_error_set(e, CX_ERR_ARG, "model: no feature columns");
    if (s->task == CX_TASK_STATS)
        return cx_error_set(e, CX_ERR_ARG, "model: task \"stats\" trains no model");
    if (s->task == CX_TASK_CLASSIFICATION && n_classes < 2)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "model: classification needs at least 2 classes, the data has %d",
                            n_classes);
    if (s->model == CX_MODEL_LOGISTIC && n_classes != 2)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "model: \"logistic\" is binary but the data has %d classes (use "
                            "\"softmax\")",
                            n_classes);
    cx_model *m = calloc(1, sizeof *m);
    if (!m)
        return cx_error_set(e, CX_ERR_NOMEM, "model: allocating");
    m->task = s->task;
    m->kind = s->model;
    m->loss = s->loss;
    m->act = s->model == CX_MODEL_MLP ? s->activation : CX_ACT_NONE;
    int n_out = s->task == CX_TASK_REGRESSION || s->model == CX_MODEL_LOGISTIC ? 1 : n_classes;
    m->n_layers = (s->model == CX_MODEL_MLP ? s->n_hidden : 0) + 1;
    m->dims = calloc((size_t)m->n_layers + 1, sizeof *m->dims);
    m->mean = calloc((size_t)n_features, sizeof(float));
    m->inv_std = calloc((size_t)n_features, sizeof(float));
    if (!m->dims || !m->mean || !m->inv_std) {
        cx_model_free(m);
        return cx_error_set(e, CX_ERR_NOMEM, "model: allocating");
    }
    m->dims[0] = n_features;
    for (int l = 0; l + 1 < m->n_layers; l++)
        m->dims[l + 1] = s->hidden[l];
    m->dims[m->n_layers] = n_out;
    size_t np = 0;
    for (int l = 0; l < m->n_layers; l++)
        np += (size_t)m->dims[l] * m->dims[l + 1] + m->dims[l + 1];
    m->n_params = np;
    if (np > CX_MODEL_MAX_PARAMS) {
        cx_model_free(m);
        return cx_error_set(e, CX_ERR_LIMIT, "model: %zu parameters exceed the limit of %llu", np,
                            (unsigned long long)CX_MODEL_MAX_PARAMS);
    }
    m->params = calloc(np, sizeof(float));
    if (!m->params) {
        cx_model_free(m);
        return cx_error_set(e, CX_ERR_NOMEM, "model: allocating %zu parameters", np);
    }
    m->n_features = n_features;
    m->n_outputs = n_out;
    m->n_classes = s->task == CX_TASK_CLASSIFICATION ? n_classes : 0;
    for (int j = 0; j < n_features; j++)
        m->inv_std[j] = 1.0f;
    m->y_mean = 0.0f;
    m->y_std = 1.0f;
    *out = m;
    return CX_OK;
}

size_t cx_model_layer_offset(const cx_model *m, int layer)
{
    size_t off = 0;
    for (int l = 0; l < layer && l < m->n_layers; l++)
        off += (size_t)m->dims[l] * m->dims[l + 1] + m->dims[l + 1];
    return off;
}

void cx_model_init(cx_model *m, uint64_t seed)
{
    cx_rng r;
    cx_rng_seed(&r, seed ^ 0x6d6f64656c696e69ull); /* own stream, apart from shuffling */
    for (int l = 0; l < m->n_layers; l++) {
        int fi = m->dims[l], fo = m->dims[l + 1];
        float *w = m->params + cx_model_layer_offset(m, l);
        /* hidden layers feeding ReLU/GELU: He-uniform; else Xavier(Glorot)-uniform */
        int he = l + 1 < m->n_layers && (m->act == CX_ACT_RELU || m->act == CX_ACT_GELU);
        double a = he ? sqrt(6.0 / fi) : sqrt(6.0 / (fi + fo));
        for (size_t i = 0; i < (size_t)fi * fo; i++)
            w[i] = (float)((2.0 * cx_rng_uniform(&r) - 1.0) * a);
        memset(w + (size_t)fi * fo, 0, (size_t)fo * sizeof(float));
    }
}

void cx_model_free(cx_model *m)
{
    if (!m)
        return;
    free(m->dims);
    if (m->params)
        cx_memwipe(m->params, m->n_params * sizeof(float)); /* trained weights are the result */
    free(m->params);
    free(m->mean);
    free(m->inv_std);
    free(m);
}

/* ---- device workspace ---- */

cx_err cx_net_create(cx_backend *be, const cx_model *m, int cap, cx_net *n, cx_error *e)
{
    memset(n, 0, sizeof *n);
    n->be = be;
    n->m = m;
    n->cap = cap;
    n->L = m->n_layers;
    cx_err rc;
#define ALLOC(ptr, count, type)                                                                    \
    do {                                                                                           \
        if ((rc = be->alloc(be, (size_t)(count) * sizeof(type), (void **)&(ptr), e)) != CX_OK)     \
            goto fail;                                                                             \
    } while (0)
    ALLOC(n->params, m->n_params, float);
    ALLOC(n->grads, m->n_params, float);
    ALLOC(n->act[0], (size_t)cap * m->dims[0], float);
    for (int l = 0; l < n->L; l++) {
        size_t sz = (size_t)cap * m->dims[l + 1];
        ALLOC(n->z[l], sz, float);
        ALLOC(n->delta[l], sz, float);
        if (l + 1 < n->L)
            ALLOC(n->act[l + 1], sz, float);
        else
            n->act[l + 1] = n->z[l]; /* the output layer has no activation */
    }
    ALLOC(n->labels, cap, float);
    ALLOC(n->probs, (size_t)cap * m->n_outputs, float);
    ALLOC(n->loss_rows, cap, float);
    ALLOC(n->norm_sq, cap, float);
    ALLOC(n->tmp_a, cap, float);
    ALLOC(n->tmp_d, cap, float);
    ALLOC(n->factor, cap, float);
    ALLOC(n->idx, cap, int32_t);
#undef ALLOC
    if ((rc = be->upload(be, n->params, m->params, m->n_params * sizeof(float), e)) != CX_OK)
        goto fail;
    return CX_OK;
fail:
    cx_net_destroy(n);
    return rc;
}

void cx_net_destroy(cx_net *n)
{
    cx_backend *be = n->be;
    if (!be)
        return;
    be->free(be, n->params);
    be->free(be, n->grads);
    be->free(be, n->act[0]);
    for (int l = 0; l < n->L; l++) {
        be->free(be, n->z[l]);
        be->free(be, n->delta[l]);
        if (l + 1 < n->L)
            be->free(be, n->act[l + 1]);
    }
    be->free(be, n->labels);
    be->free(be, n->probs);
    be->free(be, n->loss_rows);
    be->free(be, n->norm_sq);
    be->free(be, n->tmp_a);
    be->free(be, n->tmp_d);
    be->free(be, n->factor);
    be->free(be, n->idx);
    memset(n, 0, sizeof *n);
}

void cx_net_forward(cx_net *n, int rows)
{
    cx_backend *be = n->be;
    const cx_model *m = n->m;
    for (int l = 0; l < n->L; l++) {
        int fi = m->dims[l], fo = m->dims[l + 1];
        const float *w = n->params + cx_model_layer_offset(m, l);
        const float *b = w + (size_t)fi * fo;
        const cx_act act = l + 1 < n->L ? m->act : CX_ACT_NONE;
        /* z (B, fo) = act_l (B, fi) · W (fi, fo), then act_{l+1} = act(z + b) */
        if (be->dense_forward) {
            be->dense_forward(be, act, rows, fo, fi, n->act[l], w, b, n->z[l], n->act[l + 1]);
            continue;
        }
        be->sgemm(be, 0, 0, rows, fo, fi, 1.0f, n->act[l], fi, w, fo, 0.0f, n->z[l], fo);
        be->bias_act_forward(be, act, rows, fo, n->z[l], b, n->act[l + 1]);
    }
}

void cx_net_loss(cx_net *n, int rows, float grad_scale)
{
    cx_backend *be = n->be;
    const cx_model *m = n->m;
    const float *out = n->act[n->L];
    float *d = n->delta[n->L - 1];
    switch (m->loss) {
    case CX_LOSS_XENT:
        be->softmax_xent(be, rows, m->n_outputs, out, n->labels, grad_scale, n->probs, d,
                         n->loss_rows);
        break;
    case CX_LOSS_BCE:
        be->logistic_loss(be, rows, out, n->labels, grad_scale, n->probs, d, n->loss_rows);
        break;
    case CX_LOSS_MSE:
        be->mse_loss(be, rows, 1, out, n->labels, grad_scale, d, n->loss_rows);
        be->copy(be, n->probs, out, (size_t)rows * sizeof(float));
        break;
    }
}

void cx_net_backward(cx_net *n, int rows, int accumulate, int dp, float max_norm)
{
    cx_backend *be = n->be;
    const cx_model *m = n->m;
    /* 1. deltas of every layer, top-down (they are linear in the output delta, so clipping
     *    can be applied afterwards row by row) */
    for (int l = n->L - 1; l > 0; l--) {
        int fi = m->dims[l], fo = m->dims[l + 1];
        const float *w = n->params + cx_model_layer_offset(m, l);
        /* delta_{l-1} (B, fi) = delta_l (B, fo) · Wᵀ (fo, fi), then ⊙ act'(z_{l-1}) */
        be->sgemm(be, 0, 1, rows, fi, fo, 1.0f, n->delta[l], fo, w, fo, 0.0f, n->delta[l - 1], fi);
        be->act_backward(be, m->act, rows, fi, n->z[l - 1], n->act[l], n->delta[l - 1],
                         n->delta[l - 1]);
    }
    /* 2. DP-SGD: per-example norms ‖g_i‖² = Σ_l (‖a_l,i‖² + 1)·‖δ_l,i‖² without
     *    materialising per-example gradients; rows of every δ_l scaled by the clip factor */
    if (dp && be->dp_clip) {
        be->dp_clip(be, rows, n->L, m->dims, (const float *const *)n->act, n->delta, max_norm,
                    n->norm_sq, n->factor);
    } else if (dp) {
        for (int l = 0; l < n->L; l++) {
            int fi = m->dims[l], fo = m->dims[l + 1];
            be->row_norm_sq(be, rows, fi, n->act[l], 0, n->tmp_a);
            be->row_norm_sq(be, rows, fo, n->delta[l], 0, n->tmp_d);
            be->mul_acc(be, rows, n->tmp_a, n->tmp_d, l > 0, n->norm_sq); /* weights */
            be->row_norm_sq(be, rows, fo, n->delta[l], 1, n->norm_sq);    /* bias */
        }
        be->clip_factor(be, rows, n->norm_sq, max_norm, n->factor);
        for (int l = 0; l < n->L; l++)
            be->row_scale(be, rows, m->dims[l + 1], n->delta[l], n->factor);
    }
    /* 3. parameter gradients: one GEMM per layer over the (rescaled) deltas */
    for (int l = 0; l < n->L; l++) {
        int fi = m->dims[l], fo = m->dims[l + 1];
        float *gw = n->grads + cx_model_layer_offset(m, l);
        float *gb = gw + (size_t)fi * fo;
        /* gW (fi, fo) = act_lᵀ (fi, B) · delta_l (B, fo) */
        be->sgemm(be, 1, 0, fi, fo, rows, 1.0f, n->act[l], fi, n->delta[l], fo,
                  accumulate ? 1.0f : 0.0f, gw, fo);
        be->col_sum(be, rows, fo, n->delta[l], 1.0f, accumulate ? 1.0f : 0.0f, gb);
    }
}

/* ---- model files (safetensors) ---- */

static cx_err meta_setf(cx_safetensors *st, const char *key, cx_error *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static cx_err meta_setf(cx_safetensors *st, const char *key, cx_error *e, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cx_safetensors_meta_set(st, key, buf, e);
}

/* Builds the model's tensor set: the one layout both the file writer and the in-memory
 * serialiser (sealed to a buyer inside the enclave) produce. */
static cx_err model_tensors(const cx_model *m, const json_t *extra, cx_safetensors **out,
                            cx_error *e)
{
    cx_safetensors *st = NULL;
    cx_err rc = cx_safetensors_new(&st, e);
    if (rc != CX_OK)
        return rc;
    char name[64], *dims = NULL;
    for (int l = 0; l < m->n_layers && rc == CX_OK; l++) {
        int fi = m->dims[l], fo = m->dims[l + 1];
        const float *w = m->params + cx_model_layer_offset(m, l);
        uint64_t ws[2] = {(uint64_t)fi, (uint64_t)fo}, bs[1] = {(uint64_t)fo};
        snprintf(name, sizeof name, "layers.%d.weight", l);
        rc = cx_safetensors_add(st, name, CX_SAFETENSORS_F32, ws, 2, w,
                                (size_t)fi * fo * sizeof(float), e);
        if (rc != CX_OK)
            break;
        snprintf(name, sizeof name, "layers.%d.bias", l);
        rc = cx_safetensors_add(st, name, CX_SAFETENSORS_F32, bs, 1, w + (size_t)fi * fo,
                                (size_t)fo * sizeof(float), e);
    }
    uint64_t fs[1] = {(uint64_t)m->n_features};
    if (rc == CX_OK)
        rc = cx_safetensors_add(st, "standardizer.mean", CX_SAFETENSORS_F32, fs, 1, m->mean,
                                (size_t)m->n_features * sizeof(float), e);
    if (rc == CX_OK)
        rc = cx_safetensors_add(st, "standardizer.inv_std", CX_SAFETENSORS_F32, fs, 1, m->inv_std,
                                (size_t)m->n_features * sizeof(float), e);
    json_t *jd = json_array();
    for (int l = 0; jd && l <= m->n_layers; l++)
        json_array_append_new(jd, json_integer(m->dims[l]));
    dims = jd ? json_dumps(jd, JSON_COMPACT) : NULL;
    json_decref(jd);
    if (rc == CX_OK && !dims)
        rc = cx_error_set(e, CX_ERR_NOMEM, "model: serialising dims");
    if (rc == CX_OK)
        rc = cx_safetensors_meta_set(st, "cloakx.format", "cloakx-model-v1", e);
    if (rc == CX_OK)
        rc = cx_safetensors_meta_set(st, "task", cx_task_name(m->task), e);
    if (rc == CX_OK)
        rc = cx_safetensors_meta_set(st, "model", cx_model_kind_name(m->kind), e);
    if (rc == CX_OK)
        rc = cx_safetensors_meta_set(st, "loss", cx_loss_name(m->loss), e);
    if (rc == CX_OK)
        rc = cx_safetensors_meta_set(st, "activation", cx_act_name(m->act), e);
    if (rc == CX_OK)
        rc = cx_safetensors_meta_set(st, "dims", dims, e);
    if (rc == CX_OK)
        rc = meta_setf(st, "n_classes", e, "%d", m->n_classes);
    if (rc == CX_OK)
        rc = meta_setf(st, "y_mean", e, "%.9g", (double)m->y_mean);
    if (rc == CX_OK)
        rc = meta_setf(st, "y_std", e, "%.9g", (double)m->y_std);
    if (rc == CX_OK && extra) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)extra, key, v)
        {
            if (json_is_string(v)) {
                rc = cx_safetensors_meta_set(st, key, json_string_value(v), e);
            } else {
                char *txt = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
                rc = txt ? cx_safetensors_meta_set(st, key, txt, e)
                         : cx_error_set(e, CX_ERR_NOMEM, "model: serialising metadata");
                free(txt);
            }
            if (rc != CX_OK)
                break;
        }
    }
    free(dims);
    if (rc != CX_OK) {
        cx_safetensors_free(st);
        return rc;
    }
    *out = st;
    return CX_OK;
}

cx_err cx_model_serialize(const cx_model *m, const json_t *extra, uint8_t **out, size_t *out_len,
                          cx_error *e)
{
    *out = NULL;
    *out_len = 0;
    cx_safetensors *st = NULL;
    uint8_t *plain = NULL;
    size_t len = 0;
    cx_err rc = model_tensors(m, extra, &st, e);
    if (rc == CX_OK)
        rc = cx_safetensors_serialize(st, &plain, &len, e);
    cx_safetensors_free(st); /* wipes its copies of the weights */
    if (rc != CX_OK)
        return rc;
    uint8_t *sec = cx_secmem_alloc(len ? len : 1, 0, e);
    if (sec) {
        memcpy(sec, plain, len);
        *out = sec;
        *out_len = len;
    } else {
        rc = e ? e->code : CX_ERR_NOMEM;
    }
    cx_memwipe(plain, len);
    free(plain);
    return rc;
}

cx_err cx_model_save(const cx_model *m, const json_t *extra, const char *path, cx_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cx_err rc = cx_model_serialize(m, extra, &buf, &len, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_file_write_atomic(path, buf, len, 0644, e);
    cx_secmem_free(buf);
    if (rc != CX_OK)
        cx_error_prefix(e, "safetensors: writing %s: ", path);
    return rc;
}

static const char *enum_meta(const cx_safetensors *st, const char *key, cx_error *e)
{
    const char *v = cx_safetensors_meta_get(st, key);
    if (!v)
        cx_error_set(e, CX_ERR_FORMAT, "model file: metadata \"%s\" missing", key);
    return v;
}

static cx_err load_tensor(const cx_safetensors *st, const char *name, const uint64_t *shape,
                          size_t ndim, float *out, cx_error *e)
{
    cx_safetensors_tensor t;
    cx_err rc = cx_safetensors_find(st, name, &t, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "model file: ");
    uint64_t n = 1;
    int ok = t.ndim == ndim && t.dtype == CX_SAFETENSORS_F32;
    for (size_t i = 0; ok && i < ndim; i++) {
        ok = t.shape[i] == shape[i];
        n *= shape[i];
    }
    if (!ok)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "model file: tensor \"%s\" has the wrong dtype or shape", name);
    return cx_safetensors_tensor_to_f32(&t, out, (size_t)n, e);
}

cx_err cx_model_load(const char *path, cx_model **out, json_t **meta, cx_error *e)
{
    cx_safetensors *st = NULL;
    cx_model *m = NULL;
    json_t *dims = NULL, *jm = NULL;
    cx_err rc = cx_safetensors_read_file(path, 0, &st, e);
    if (rc != CX_OK)
        return rc;
    const char *fmt = cx_safetensors_meta_get(st, "cloakx.format");
    if (!fmt || strcmp(fmt, "cloakx-model-v1") != 0) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "%s: not a cloakx model (cloakx.format)", path);
        goto out;
    }
    /* rebuild the architecture through a spec, so the same checks apply */
    cx_spec s;
    cx_spec_defaults(&s);
    const char *task = enum_meta(st, "task", e), *kind = enum_meta(st, "model", e),
               *loss = enum_meta(st, "loss", e), *act = enum_meta(st, "activation", e),
               *dims_s = enum_meta(st, "dims", e), *ncls = enum_meta(st, "n_classes", e),
               *ym = enum_meta(st, "y_mean", e), *ys = enum_meta(st, "y_std", e);
    if (!task || !kind || !loss || !act || !dims_s || !ncls || !ym || !ys) {
        rc = e ? e->code : CX_ERR_FORMAT;
        goto out;
    }
    json_error_t je;
    dims = json_loads(dims_s, 0, &je);
    size_t nd = json_is_array(dims) ? json_array_size(dims) : 0;
    if (nd < 2 || nd > CX_SPEC_MAX_HIDDEN + 2) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "model file: metadata \"dims\" is not a layer list");
        goto out;
    }
    int d[CX_SPEC_MAX_HIDDEN + 2];
    for (size_t i = 0; i < nd; i++) {
        json_t *v = json_array_get(dims, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65536) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "model file: metadata \"dims\" is invalid");
            goto out;
        }
        d[i] = (int)json_integer_value(v);
    }
    char specbuf[1024];
    char hidden[512] = "";
    for (size_t i = 1; i + 1 < nd; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s%d", i > 1 ? "," : "", d[i]);
        strncat(hidden, one, sizeof hidden - strlen(hidden) - 1);
    }
    if (strcmp(kind, "mlp") == 0)
        snprintf(specbuf, sizeof specbuf,
                 "{\"task\":\"%s\",\"model\":{\"type\":\"mlp\",\"hidden\":[%s],"
                 "\"activation\":\"%s\"},\"loss\":\"%s\"}",
                 task, hidden, act, loss);
    else
        snprintf(specbuf, sizeof specbuf,
                 "{\"task\":\"%s\",\"model\":{\"type\":\"%s\"},\"loss\":\"%s\"}", task, kind, loss);
    json_t *js = json_loads(specbuf, 0, &je);
    if (!js) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "model file: task/model metadata is invalid");
        goto out;
    }
    rc = cx_spec_parse(js, &s, e);
    json_decref(js);
    if (rc != CX_OK) {
        cx_error_prefix(e, "model file: ");
        goto out;
    }
    char *end = NULL;
    long nc = strtol(ncls, &end, 10);
    if (*end || nc < 0 || nc > 65536) {
        cx_spec_free(&s);
        rc = cx_error_set(e, CX_ERR_FORMAT, "model file: metadata \"n_classes\" is invalid");
        goto out;
    }
    rc = cx_model_create(&s, d[0], (int)nc, &m, e);
    cx_spec_free(&s);
    if (rc != CX_OK)
        goto out;
    if ((size_t)m->n_layers + 1 != nd || m->dims[m->n_layers] != d[nd - 1]) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "model file: \"dims\" do not match the model");
        goto out;
    }
    m->y_mean = strtof(ym, NULL);
    m->y_std = strtof(ys, NULL);
    for (int l = 0; l < m->n_layers && rc == CX_OK; l++) {
        char name[64];
        float *w = m->params + cx_model_layer_offset(m, l);
        uint64_t ws[2] = {(uint64_t)m->dims[l], (uint64_t)m->dims[l + 1]};
        snprintf(name, sizeof name, "layers.%d.weight", l);
        rc = load_tensor(st, name, ws, 2, w, e);
        if (rc != CX_OK)
            break;
        snprintf(name, sizeof name, "layers.%d.bias", l);
        rc = load_tensor(st, name, ws + 1, 1, w + (size_t)m->dims[l] * m->dims[l + 1], e);
    }
    uint64_t fs[1] = {(uint64_t)m->n_features};
    if (rc == CX_OK)
        rc = load_tensor(st, "standardizer.mean", fs, 1, m->mean, e);
    if (rc == CX_OK)
        rc = load_tensor(st, "standardizer.inv_std", fs, 1, m->inv_std, e);
    if (rc != CX_OK)
        goto out;
    for (size_t i = 0; i < m->n_params; i++)
        if (!isfinite(m->params[i])) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "model file: a parameter is not finite");
            goto out;
        }
    if (meta) {
        jm = json_object();
        size_t n = cx_safetensors_meta_count(st);
        for (size_t i = 0; jm && i < n; i++) {
            const char *k, *v;
            if ((rc = cx_safetensors_meta_at(st, i, &k, &v, e)) != CX_OK)
                goto out;
            json_object_set_new(jm, k, json_string(v));
        }
        if (!jm) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "model file: metadata");
            goto out;
        }
        *meta = jm;
        jm = NULL;
    }
    *out = m;
    m = NULL;
out:
    json_decref(dims);
    json_decref(jm);
    cx_model_free(m);
    cx_safetensors_free(st);
    return rc;
}
