/* model_meta.c — what `cloakx train` and a marketplace job store next to a model's weights
 * (spec, predict schema, features, classes, metrics, DP epsilon, gap fill values), and how
 * `cloakx predict` parses new rows with it. One source, so both kinds of model predict alike. */
#include "cx_engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

json_t *cx_job_names_json(char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(names[i] ? names[i] : "")) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *cx_job_metrics_json(const cx_metrics *m, cx_task task)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "loss", json_real(m->loss));
    json_object_set_new(j, "rows", json_integer((json_int_t)m->n));
    if (task == CX_TASK_CLASSIFICATION) {
        json_object_set_new(j, "accuracy", json_real(m->accuracy));
        json_object_set_new(j, "macro_f1", json_real(m->macro_f1));
        if (!isnan(m->auc))
            json_object_set_new(j, "roc_auc", json_real(m->auc));
    } else {
        json_object_set_new(j, "rmse", json_real(m->rmse));
        if (!isnan(m->r2))
            json_object_set_new(j, "r2", json_real(m->r2));
    }
    return j;
}

/* With declared columns, predict's schema is the spec's own: its features (every declared
 * column but the label) and vocabularies, the label's column left out so that files without
 * it parse, the format left to the file's name. Nothing in it comes from the data. */
static json_t *predict_schema_declared(const json_t *data)
{
    json_t *s = json_deep_copy(data);
    json_t *feats = json_array(), *cats = json_object();
    if (!s || !feats || !cats)
        goto fail;
    const char *label = json_string_value(json_object_get(data, "label"));
    const json_t *given = json_object_get(data, "features");
    const json_t *cols = json_object_get(data, "columns");
    /* the model's feature order: the named features', else the declared columns' */
    size_t n = given ? json_array_size(given) : json_array_size(cols);
    for (size_t i = 0; i < n; i++) {
        const char *nm = given ? json_string_value(json_array_get(given, i))
                               : json_string_value(json_object_get(json_array_get(cols, i), "name"));
        if (!nm || (label && strcmp(nm, label) == 0))
            continue;
        if (json_array_append_new(feats, json_string(nm)) != 0)
            goto fail;
        for (size_t k = 0; k < json_array_size(cols); k++) {
            const json_t *c = json_array_get(cols, k);
            const char *cn = json_string_value(json_object_get(c, "name"));
            const char *type = json_string_value(json_object_get(c, "type"));
            if (cn && type && strcmp(cn, nm) == 0 && strcmp(type, "categorical") == 0 &&
                json_object_set(cats, nm, json_object_get(c, "values")) != 0)
                goto fail;
        }
    }
    json_object_del(s, "label");
    json_object_del(s, "label_type");
    json_object_del(s, "columns");
    json_object_del(s, "format");
    json_object_set_new(s, "features", feats);
    if (json_object_size(cats))
        json_object_set_new(s, "categorical", cats);
    else
        json_decref(cats);
    return s;
fail:
    json_decref(s);
    json_decref(feats);
    json_decref(cats);
    return NULL;
}

/* The schema predict must use: the training data's feature columns in order (label left
 * out, so files without it parse) and the categorical vocabularies as training saw them,
 * which reproduces the one-hot layout exactly. */
static json_t *predict_schema(const json_t *data, const cx_dataset *ds)
{
    if (json_object_get(data, "columns"))
        return predict_schema_declared(data);
    json_t *s = json_deep_copy(data);
    json_t *feats = json_array(), *cats = json_object();
    if (!s || !feats || !cats)
        goto fail;
    json_object_del(s, "label");
    json_object_del(s, "label_type");
    const json_t *given = json_object_get(data, "categorical");
    for (size_t i = 0; i < ds->d; i++) {
        const char *nm = ds->feature_names[i];
        const char *eq = strchr(nm, '=');
        int is_cat = 0;
        while (eq && given) {
            char col[512];
            size_t l = (size_t)(eq - nm);
            if (l < sizeof col) {
                memcpy(col, nm, l);
                col[l] = 0;
                if (json_object_get(given, col)) {
                    json_t *voc = json_object_get(cats, col);
                    if (!voc) {
                        voc = json_array();
                        if (!voc || json_object_set_new(cats, col, voc) != 0 ||
                            json_array_append_new(feats, json_string(col)) != 0)
                            goto fail;
                    }
                    if (json_array_append_new(voc, json_string(eq + 1)) != 0)
                        goto fail;
                    is_cat = 1;
                    break;
                }
            }
            eq = strchr(eq + 1, '=');
        }
        if (!is_cat && json_array_append_new(feats, json_string(nm)) != 0)
            goto fail;
    }
    json_object_set_new(s, "features", feats);
    if (json_object_size(cats))
        json_object_set_new(s, "categorical", cats);
    else {
        json_object_del(s, "categorical");
        json_decref(cats);
    }
    return s;
fail:
    json_decref(s);
    json_decref(feats);
    json_decref(cats);
    return NULL;
}

static json_t *fill_values_json(const cx_dataset *ds)
{
    json_t *a = json_array();
    for (size_t j = 0; a && j < ds->d; j++) {
        float v = ds->fill_values[j];
        if (json_array_append_new(a, isfinite(v) ? json_real((double)v) : json_null()) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

cx_train_data cx_job_train_data(const cx_dataset *ds)
{
    return (cx_train_data){.rows = ds->n,
                           .cols = (int)ds->d,
                           .x = ds->X,
                           .y = ds->y,
                           .n_classes = (int)ds->n_classes,
                           .mean = ds->given_mean,
                           .std = ds->given_std,
                           .y_stats_given = ds->y_stats_given,
                           .y_mean = ds->y_mean,
                           .y_std = ds->y_std,
                           .lo = ds->bound_lo,
                           .hi = ds->bound_hi,
                           .y_bounds_given = ds->y_bounds_given,
                           .y_lo = ds->y_lo,
                           .y_hi = ds->y_hi};
}

double cx_job_epsilon_total(const cx_spec *spec, double sgd_eps)
{
    if (!spec->privacy)
        return NAN;
    return sgd_eps + (spec->dp_standardize ? spec->standardize_epsilon : 0.0);
}

cx_err cx_job_model_meta(const cx_spec *spec, const json_t *data, const cx_dataset *ds,
                         const cx_train_result *tr, double eps, double order, json_t **out,
                         cx_error *e)
{
    *out = NULL;
    json_t *x = json_object();
    json_t *ps = predict_schema(data, ds), *feats = cx_job_names_json(ds->feature_names, ds->d);
    json_t *mj = cx_job_metrics_json(&tr->val, spec->task);
    json_t *classes = spec->task == CX_TASK_CLASSIFICATION
                          ? cx_job_names_json(ds->class_names, ds->n_classes)
                          : json_null();
    json_t *fills = ds->fill_values ? fill_values_json(ds) : json_null();
    json_t *pj =
        spec->privacy
            ? json_pack("{s:f, s:f, s:f, s:f, s:f, s:I, s:f, s:s, s:s}", "epsilon", eps, "delta",
                        spec->delta, "order", order, "noise_multiplier", spec->noise_multiplier,
                        "max_grad_norm", spec->max_grad_norm, "steps", (json_int_t)tr->steps,
                        "sample_rate", tr->sample_rate, "sampling", "poisson", "accountant", "rdp")
            : json_null();
    if (pj && spec->dp_standardize &&
        json_object_update_new(pj, json_pack("{s:s, s:f, s:f}", "standardize", "dp",
                                             "standardize_epsilon", spec->standardize_epsilon,
                                             "epsilon_total",
                                             cx_job_epsilon_total(spec, eps))) != 0) {
        json_decref(pj);
        pj = NULL;
    }
    int ok = x && ps && feats && mj && classes && fills && pj;
    if (ok) {
        json_object_set(x, "spec", spec->raw);
        json_object_set(x, "predict_schema", ps);
        json_object_set(x, "features", feats);
        if (ds->label_name)
            json_object_set_new(x, "label", json_string(ds->label_name));
        if (spec->task == CX_TASK_CLASSIFICATION)
            json_object_set(x, "classes", classes);
        json_object_set(x, "metrics", mj);
        json_object_set_new(x, "train_rows", json_integer((json_int_t)tr->train_rows));
        json_object_set_new(x, "epochs_run", json_integer(tr->epochs_run));
        /* what predict fills gaps with under "missing": "mean": the training data's means,
         * not those of the rows being predicted */
        if (ds->fill_values)
            json_object_set(x, "fill_values", fills);
        if (spec->privacy) {
            char buf[64];
            snprintf(buf, sizeof buf, "%.6g", cx_job_epsilon_total(spec, eps));
            json_object_set(x, "privacy", pj);
            json_object_set_new(x, "epsilon", json_string(buf));
        }
    }
    json_decref(ps);
    json_decref(feats);
    json_decref(mj);
    json_decref(classes);
    json_decref(fills);
    json_decref(pj);
    if (!ok) {
        json_decref(x);
        return cx_error_set(e, CX_ERR_NOMEM, "model metadata: out of memory");
    }
    *out = x;
    return CX_OK;
}

/* The model's "fill_values" (metadata text: a JSON list, null for one-hot columns) as d
 * floats, NaN where null. */
static cx_err load_fill_values(const json_t *meta, size_t d, float **out, cx_error *e)
{
    *out = NULL;
    const char *txt = json_string_value(json_object_get(meta, "fill_values"));
    if (!txt)
        return CX_OK;
    json_error_t je;
    json_t *a = json_loads(txt, 0, &je);
    cx_err rc = CX_OK;
    if (!json_is_array(a) || json_array_size(a) != d) {
        rc = cx_error_set(e, CX_ERR_FORMAT,
                          "model: metadata \"fill_values\" is not a list of %zu values", d);
        goto out;
    }
    float *v = malloc((d ? d : 1) * sizeof *v);
    if (!v) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "model: out of memory");
        goto out;
    }
    for (size_t j = 0; j < d; j++) {
        json_t *x = json_array_get(a, j);
        if (json_is_null(x)) {
            v[j] = NAN;
        } else if (json_is_number(x) && isfinite(json_number_value(x))) {
            v[j] = (float)json_number_value(x);
        } else {
            free(v);
            rc = cx_error_set(e, CX_ERR_FORMAT, "model: metadata \"fill_values\"[%zu] is invalid",
                              j);
            goto out;
        }
    }
    *out = v;
out:
    json_decref(a);
    return rc;
}

cx_err cx_job_predict_data_load(const json_t *meta, size_t n_features, const char *path,
                                cx_dataset **out, cx_error *e)
{
    *out = NULL;
    json_error_t je;
    const char *ps = json_string_value(json_object_get(meta, "predict_schema"));
    json_t *schema_j = ps ? json_loads(ps, 0, &je) : NULL;
    if (!json_is_object(schema_j)) {
        json_decref(schema_j);
        return cx_error_set(e, CX_ERR_FORMAT,
                            "model: metadata \"predict_schema\" missing or invalid (not "
                            "written by cloakx train?)");
    }
    float *fill = NULL;
    cx_dataset_schema *schema = NULL;
    cx_dataset *ds = NULL;
    const char *miss = json_string_value(json_object_get(schema_j, "missing"));
    int given = 0;
    cx_err rc = CX_OK;
    if (miss && strcmp(miss, "mean") == 0) {
        if ((rc = load_fill_values(meta, n_features, &fill, e)) != CX_OK)
            goto out;
        /* gaps stay NaN in the parse and take the training values below */
        given = fill != NULL;
        if (given && json_object_set_new(schema_j, "missing", json_string("keep")) != 0) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "predict: out of memory");
            goto out;
        }
    }
    const char *paths[1] = {path};
    if ((rc = cx_dataset_schema_from_json(schema_j, &schema, e)) != CX_OK ||
        (rc = cx_dataset_load_files(schema, paths, 1, 0, &ds, e)) != CX_OK)
        goto out;
    if (given && ds->d == n_features)
        for (size_t i = 0; i < ds->n; i++)
            for (size_t j = 0; j < ds->d; j++)
                if (isnan(ds->X[i * ds->d + j]))
                    ds->X[i * ds->d + j] = fill[j];
    *out = ds;
    ds = NULL;
out:
    cx_dataset_free(ds);
    cx_dataset_schema_free(schema);
    json_decref(schema_j);
    free(fill);
    return rc;
}
