/* spec.c — the JSON job spec: strict parsing (unknown keys, wrong types and out-of-range
 * values name the key), defaults per model, and consistency checks between its parts. */
#include "cx_kernels.h"

#include <math.h>
#include <string.h>

typedef struct name_val {
    const char *name;
    int val;
} name_val;

static const name_val tasks[] = {{"classification", CX_TASK_CLASSIFICATION},
                                 {"regression", CX_TASK_REGRESSION},
                                 {"stats", CX_TASK_STATS},
                                 {NULL, 0}};
static const name_val models[] = {{"linear", CX_MODEL_LINEAR},
                                  {"logistic", CX_MODEL_LOGISTIC},
                                  {"softmax", CX_MODEL_SOFTMAX},
                                  {"mlp", CX_MODEL_MLP},
                                  {NULL, 0}};
static const name_val losses[] = {{"mse", CX_LOSS_MSE},
                                  {"bce", CX_LOSS_BCE},
                                  {"logistic", CX_LOSS_BCE},
                                  {"cross_entropy", CX_LOSS_XENT},
                                  {NULL, 0}};
static const name_val optims[] = {
    {"sgd", CX_OPTIM_SGD}, {"adam", CX_OPTIM_ADAM}, {"adamw", CX_OPTIM_ADAMW}, {NULL, 0}};
static const name_val scheds[] = {{"constant", CX_SCHED_CONSTANT},
                                  {"cosine", CX_SCHED_COSINE},
                                  {"step", CX_SCHED_STEP},
                                  {NULL, 0}};
static const name_val acts[] = {{"relu", CX_ACT_RELU},
                                {"gelu", CX_ACT_GELU},
                                {"tanh", CX_ACT_TANH},
                                {"sigmoid", CX_ACT_SIGMOID},
                                {NULL, 0}};
static const name_val precs[] = {{"fp32", CX_PRECISION_FP32},
                                 {"tf32", CX_PRECISION_TF32},
                                 {"bf16", CX_PRECISION_BF16},
                                 {NULL, 0}};

static const char *name_of(const name_val *t, int v)
{
    for (; t->name; t++)
        if (t->val == v)
            return t->name;
    return "?";
}

const char *cx_task_name(cx_task t) { return name_of(tasks, t); }
const char *cx_model_kind_name(cx_model_kind m) { return name_of(models, m); }
const char *cx_loss_name(cx_loss l) { return l == CX_LOSS_BCE ? "bce" : name_of(losses, l); }
const char *cx_optim_name(cx_optim_kind o) { return name_of(optims, o); }
const char *cx_schedule_name(cx_schedule s) { return name_of(scheds, s); }

/* A string key whose value must be one of the table's names. */
static cx_err get_enum(const json_t *obj, const char *key, const char *path, const name_val *t,
                       int *out, cx_error *e)
{
    const char *s = NULL;
    if (cx_json_get_string(obj, key, 0, &s, e) != CX_OK)
        return cx_error_set(e, CX_ERR_FORMAT, "spec: key \"%s\" must be a string", path);
    if (!s)
        return CX_OK;
    for (const name_val *p = t; p->name; p++)
        if (strcmp(p->name, s) == 0) {
            *out = p->val;
            return CX_OK;
        }
    char allowed[256] = "";
    for (const name_val *p = t; p->name; p++) {
        strncat(allowed, p->name, sizeof allowed - strlen(allowed) - 1);
        if (p[1].name)
            strncat(allowed, ", ", sizeof allowed - strlen(allowed) - 1);
    }
    return cx_error_set(e, CX_ERR_FORMAT, "spec: key \"%s\" = \"%s\" is not one of: %s", path, s,
                        allowed);
}

#define TRY(x)                                                                                 \
    do {                                                                                       \
        cx_err try_rc_ = (x);                                                                  \
        if (try_rc_ != CX_OK)                                                                  \
            return try_rc_;                                                                    \
    } while (0)
#define TRYP(x, where)                                                                         \
    do {                                                                                       \
        cx_err try_rc_ = (x);                                                                  \
        if (try_rc_ != CX_OK)                                                                  \
            return cx_error_wrap(try_rc_, e, "spec%s%s: ", (where)[0] ? " " : "", where);      \
    } while (0)

static cx_err get_num(const json_t *o, const char *key, const char *where, double lo, double hi,
                      double *out, cx_error *e)
{
    TRYP(cx_json_get_number(o, key, 0, lo, hi, out, e), where);
    return CX_OK;
}

static cx_err get_int(const json_t *o, const char *key, const char *where, int64_t lo,
                      int64_t hi, int *out, cx_error *e)
{
    int64_t v = *out;
    TRYP(cx_json_get_int(o, key, 0, lo, hi, &v, e), where);
    *out = (int)v;
    return CX_OK;
}

/* An optional sub-object: absent → NULL; present but not an object → error. */
static cx_err get_obj(const json_t *j, const char *key, const json_t **out, cx_error *e)
{
    *out = json_object_get(j, key);
    if (*out && !json_is_object(*out))
        return cx_error_set(e, CX_ERR_FORMAT, "spec: key \"%s\" must be an object", key);
    return CX_OK;
}

void cx_spec_defaults(cx_spec *s)
{
    memset(s, 0, sizeof *s);
    s->task = CX_TASK_CLASSIFICATION;
    s->model = CX_MODEL_SOFTMAX;
    s->activation = CX_ACT_RELU;
    s->loss = CX_LOSS_XENT;
    s->optimizer = CX_OPTIM_ADAM;
    s->lr = 1e-3;
    s->momentum = 0.0;
    s->weight_decay = 0.0;
    s->beta1 = 0.9;
    s->beta2 = 0.999;
    s->eps = 1e-8;
    s->schedule = CX_SCHED_CONSTANT;
    s->step_size = 10;
    s->gamma = 0.1;
    s->min_lr = 0.0;
    s->batch_size = 64;
    s->epochs = 10;
    s->validation_split = 0.2;
    s->patience = 0;
    s->seed = 1;
    s->precision = CX_PRECISION_FP32;
    s->threads = 0;
    s->privacy = 0;
    s->noise_multiplier = 1.0;
    s->max_grad_norm = 1.0;
    s->delta = 1e-5;
}

static cx_err parse_model(const json_t *m, cx_spec *s, cx_error *e)
{
    static const char *const keys[] = {"type", "hidden", "activation", NULL};
    TRYP(cx_json_check_keys(m, keys, "model", e), "");
    int kind = s->model;
    if (!json_object_get(m, "type"))
        return cx_error_set(e, CX_ERR_FORMAT, "spec: missing required key \"model.type\"");
    TRY(get_enum(m, "type", "model.type", models, &kind, e));
    s->model = (cx_model_kind)kind;
    int act = s->activation;
    TRY(get_enum(m, "activation", "model.activation", acts, &act, e));
    s->activation = (cx_act)act;
    const json_t *h = json_object_get(m, "hidden");
    if (h) {
        if (s->model != CX_MODEL_MLP)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "spec: key \"model.hidden\" is only valid for model \"mlp\"");
        if (!json_is_array(h))
            return cx_error_set(e, CX_ERR_FORMAT,
                                "spec: key \"model.hidden\" must be a list of layer sizes");
        size_t n = json_array_size(h);
        if (n < 1 || n > CX_SPEC_MAX_HIDDEN)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "spec: key \"model.hidden\" must list 1 to %d layer sizes",
                                CX_SPEC_MAX_HIDDEN);
        for (size_t i = 0; i < n; i++) {
            const json_t *v = json_array_get(h, i);
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > 65536)
                return cx_error_set(e, CX_ERR_FORMAT,
                                    "spec: key \"model.hidden\"[%zu] must be an integer in "
                                    "[1, 65536]",
                                    i);
            s->hidden[i] = (int)json_integer_value(v);
        }
        s->n_hidden = (int)n;
    } else if (s->model == CX_MODEL_MLP) {
        return cx_error_set(e, CX_ERR_FORMAT,
                            "spec: missing required key \"model.hidden\" for model \"mlp\"");
    }
    return CX_OK;
}

static cx_err parse_optimizer(const json_t *o, cx_spec *s, cx_error *e)
{
    static const char *const keys[] = {"type",  "lr",  "momentum",     "weight_decay",
                                       "beta1", "beta2", "eps", NULL};
    TRYP(cx_json_check_keys(o, keys, "optimizer", e), "");
    int k = s->optimizer;
    TRY(get_enum(o, "type", "optimizer.type", optims, &k, e));
    s->optimizer = (cx_optim_kind)k;
    TRY(get_num(o, "lr", "optimizer", 1e-12, 100.0, &s->lr, e));
    TRY(get_num(o, "momentum", "optimizer", 0.0, 0.9999, &s->momentum, e));
    TRY(get_num(o, "weight_decay", "optimizer", 0.0, 10.0, &s->weight_decay, e));
    TRY(get_num(o, "beta1", "optimizer", 0.0, 0.9999999, &s->beta1, e));
    TRY(get_num(o, "beta2", "optimizer", 0.0, 0.9999999, &s->beta2, e));
    TRY(get_num(o, "eps", "optimizer", 1e-12, 1.0, &s->eps, e));
    if (s->optimizer != CX_OPTIM_SGD && json_object_get(o, "momentum"))
        return cx_error_set(e, CX_ERR_FORMAT,
                            "spec: key \"optimizer.momentum\" applies to \"sgd\" only");
    if (s->optimizer == CX_OPTIM_SGD &&
        (json_object_get(o, "beta1") || json_object_get(o, "beta2") || json_object_get(o, "eps")))
        return cx_error_set(e, CX_ERR_FORMAT,
                            "spec: keys \"optimizer.beta1/beta2/eps\" apply to adam/adamw only");
    return CX_OK;
}

static cx_err parse_schedule(const json_t *o, cx_spec *s, cx_error *e)
{
    static const char *const keys[] = {"type", "step_size", "gamma", "min_lr", NULL};
    TRYP(cx_json_check_keys(o, keys, "schedule", e), "");
    int k = s->schedule;
    TRY(get_enum(o, "type", "schedule.type", scheds, &k, e));
    s->schedule = (cx_schedule)k;
    TRY(get_int(o, "step_size", "schedule", 1, 1000000, &s->step_size, e));
    TRY(get_num(o, "gamma", "schedule", 1e-6, 1.0, &s->gamma, e));
    TRY(get_num(o, "min_lr", "schedule", 0.0, 100.0, &s->min_lr, e));
    return CX_OK;
}

static cx_err parse_privacy(const json_t *o, cx_spec *s, cx_error *e)
{
    static const char *const keys[] = {"noise_multiplier", "max_grad_norm", "delta",
                                       "sampling",         "standardize",   "standardize_epsilon",
                                       NULL};
    TRYP(cx_json_check_keys(o, keys, "privacy", e), "");
    s->privacy = 1;
    TRY(get_num(o, "noise_multiplier", "privacy", 0.0, 1e6, &s->noise_multiplier, e));
    TRY(get_num(o, "max_grad_norm", "privacy", 1e-9, 1e9, &s->max_grad_norm, e));
    TRY(get_num(o, "delta", "privacy", 1e-30, 0.5, &s->delta, e));
    if (s->delta <= 0.0)
        return cx_error_set(e, CX_ERR_FORMAT, "spec: key \"privacy.delta\" must be > 0");
    const char *samp = NULL;
    TRYP(cx_json_get_string(o, "sampling", 0, &samp, e), "privacy");
    if (samp && strcmp(samp, "poisson") != 0)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "spec: key \"privacy.sampling\" = \"%s\": only \"poisson\" is "
                            "supported (the accountant assumes Poisson sampling)",
                            samp);
    const char *st = NULL;
    TRYP(cx_json_get_string(o, "standardize", 0, &st, e), "privacy");
    if (st && strcmp(st, "dp") != 0 && strcmp(st, "declared") != 0)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "spec: key \"privacy.standardize\" = \"%s\": must be \"declared\" "
                            "(the spec's own \"mean\" and \"std\") or \"dp\" (computed on the "
                            "declared \"min\"..\"max\" with the Laplace mechanism)",
                            st);
    s->dp_standardize = st && strcmp(st, "dp") == 0;
    int has_eps = json_object_get(o, "standardize_epsilon") != NULL;
    if (has_eps != s->dp_standardize)
        return cx_error_set(e, CX_ERR_FORMAT, "%s",
                            s->dp_standardize
                                ? "spec: \"privacy.standardize\": \"dp\" needs "
                                  "\"privacy.standardize_epsilon\" (the pure epsilon it spends)"
                                : "spec: key \"privacy.standardize_epsilon\" goes with "
                                  "\"privacy.standardize\": \"dp\"");
    if (s->dp_standardize)
        TRY(get_num(o, "standardize_epsilon", "privacy", 1e-6, 100.0, &s->standardize_epsilon, e));
    return CX_OK;
}

cx_err cx_spec_parse(const json_t *j, cx_spec *out, cx_error *e)
{
    static const char *const keys[] = {
        "task",   "data",       "model",      "loss",     "optimizer",        "schedule",
        "epochs", "batch_size", "seed",       "threads",  "validation_split", "early_stopping",
        "precision", "privacy", "comment",    NULL};
    cx_spec s;
    cx_spec_defaults(&s);
    if (!json_is_object(j))
        return cx_error_set(e, CX_ERR_FORMAT, "spec: expected a JSON object");
    TRY(cx_json_check_keys(j, keys, "spec", e));
    int v = s.task;
    if (!json_object_get(j, "task"))
        return cx_error_set(e, CX_ERR_FORMAT, "spec: missing required key \"task\"");
    TRY(get_enum(j, "task", "task", tasks, &v, e));
    s.task = (cx_task)v;
    const json_t *o;
    TRY(get_obj(j, "model", &o, e));
    if (s.task != CX_TASK_STATS) {
        if (!o)
            return cx_error_set(e, CX_ERR_FORMAT, "spec: missing required key \"model\"");
        TRY(parse_model(o, &s, e));
    } else if (o) {
        return cx_error_set(e, CX_ERR_FORMAT, "spec: key \"model\" is not used by task \"stats\"");
    }
    /* loss default follows the model */
    switch (s.model) {
    case CX_MODEL_LINEAR:
        s.loss = CX_LOSS_MSE;
        break;
    case CX_MODEL_LOGISTIC:
        s.loss = CX_LOSS_BCE;
        break;
    case CX_MODEL_SOFTMAX:
        s.loss = CX_LOSS_XENT;
        break;
    case CX_MODEL_MLP:
        s.loss = s.task == CX_TASK_REGRESSION ? CX_LOSS_MSE : CX_LOSS_XENT;
        break;
    }
    v = s.loss;
    TRY(get_enum(j, "loss", "loss", losses, &v, e));
    s.loss = (cx_loss)v;
    TRY(get_obj(j, "optimizer", &o, e));
    if (o)
        TRY(parse_optimizer(o, &s, e));
    TRY(get_obj(j, "schedule", &o, e));
    if (o)
        TRY(parse_schedule(o, &s, e));
    TRY(get_int(j, "epochs", "", 1, 100000, &s.epochs, e));
    TRY(get_int(j, "batch_size", "", 1, 1 << 20, &s.batch_size, e));
    TRY(get_int(j, "threads", "", 0, 1024, &s.threads, e));
    int64_t seed = (int64_t)s.seed;
    TRYP(cx_json_get_int(j, "seed", 0, 0, INT64_MAX, &seed, e), "");
    s.seed = (uint64_t)seed;
    TRY(get_num(j, "validation_split", "", 0.0, 0.9, &s.validation_split, e));
    TRY(get_obj(j, "early_stopping", &o, e));
    if (o) {
        static const char *const es_keys[] = {"patience", NULL};
        TRYP(cx_json_check_keys(o, es_keys, "early_stopping", e), "");
        TRY(get_int(o, "patience", "early_stopping", 1, 100000, &s.patience, e));
        if (s.patience == 0)
            s.patience = 5;
    }
    v = s.precision;
    TRY(get_enum(j, "precision", "precision", precs, &v, e));
    s.precision = (cx_precision)v;
    TRY(get_obj(j, "privacy", &o, e));
    if (o)
        TRY(parse_privacy(o, &s, e));
    TRY(get_obj(j, "data", &o, e));

    /* consistency between model, task and loss */
    if (s.task == CX_TASK_CLASSIFICATION) {
        if (s.model == CX_MODEL_LINEAR)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "spec: key \"model.type\" = \"linear\" is for task "
                                "\"regression\" (use logistic, softmax or mlp)");
        if (s.loss == CX_LOSS_MSE)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "spec: key \"loss\" = \"mse\" is for task \"regression\"");
        if (s.model == CX_MODEL_LOGISTIC && s.loss != CX_LOSS_BCE)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "spec: key \"loss\": model \"logistic\" takes \"bce\"");
        if ((s.model == CX_MODEL_SOFTMAX || s.model == CX_MODEL_MLP) && s.loss != CX_LOSS_XENT)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "spec: key \"loss\": model \"%s\" takes \"cross_entropy\"",
                                cx_model_kind_name(s.model));
    } else if (s.task == CX_TASK_REGRESSION) {
        if (s.model == CX_MODEL_LOGISTIC || s.model == CX_MODEL_SOFTMAX)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "spec: key \"model.type\" = \"%s\" is for task "
                                "\"classification\" (use linear or mlp)",
                                cx_model_kind_name(s.model));
        if (s.loss != CX_LOSS_MSE)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "spec: key \"loss\": task \"regression\" takes \"mse\"");
    }
    if (s.privacy && s.task == CX_TASK_STATS)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "spec: key \"privacy\" is not supported for task \"stats\"");

    s.data = o ? json_incref((json_t *)o) : NULL;
    s.raw = json_deep_copy(j);
    if (!s.raw) {
        json_decref(s.data);
        return cx_error_set(e, CX_ERR_NOMEM, "spec: copying the spec");
    }
    *out = s;
    return CX_OK;
}

cx_err cx_spec_load(const char *path, cx_spec *out, cx_error *e)
{
    json_t *j = NULL;
    cx_err rc = cx_json_load_file(path, &j, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_spec_parse(j, out, e);
    json_decref(j);
    return rc;
}

void cx_spec_free(cx_spec *s)
{
    if (!s)
        return;
    json_decref(s->data);
    json_decref(s->raw);
    s->data = NULL;
    s->raw = NULL;
}

void cx_spec_cost(const cx_spec *s, int n_features, int n_outputs, size_t rows,
                  cx_compute_cost *out)
{
    /* in double: 16 layers of 65,536 overflow nothing here, whatever the spec says */
    int n_out = s->task == CX_TASK_REGRESSION || s->model == CX_MODEL_LOGISTIC ? 1 : n_outputs;
    int layers = (s->model == CX_MODEL_MLP ? s->n_hidden : 0) + 1;
    double np = 0.0, din = n_features < 1 ? 1 : n_features;
    for (int l = 0; l < layers; l++) {
        double dout = l + 1 < layers ? s->hidden[l] : (n_out < 1 ? 1 : n_out);
        np += din * dout + dout;
        din = dout;
    }
    out->params = np >= 1.8e19 ? UINT64_MAX : (uint64_t)np;
    out->epochs = s->epochs;
    out->flops = (double)s->epochs * (double)rows * 6.0 * np;
}

cx_err cx_compute_budget_check(const cx_compute_budget *b, const cx_compute_cost *c,
                               cx_error *e)
{
    if (b->max_params && c->params > b->max_params)
        return cx_error_set(e, CX_ERR_LIMIT,
                            "compute budget: the model has %llu parameters, the budget allows "
                            "%llu",
                            (unsigned long long)c->params, (unsigned long long)b->max_params);
    if (b->max_epochs && c->epochs > b->max_epochs)
        return cx_error_set(e, CX_ERR_LIMIT,
                            "compute budget: %d epochs asked, the budget allows %d", c->epochs,
                            b->max_epochs);
    if (b->max_flops > 0 && c->flops > b->max_flops)
        return cx_error_set(e, CX_ERR_LIMIT,
                            "compute budget: training needs about %.3g flops (epochs x rows x 6 "
                            "x parameters), the budget allows %.3g",
                            c->flops, b->max_flops);
    return CX_OK;
}
