/* json.c — strict helpers over jansson: load with position-bearing errors, reject unknown
 * keys, and typed getters whose errors name the key and the accepted range. */
#include "cx_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cx_err cx_json_load_file(const char *path, json_t **out, cx_error *e)
{
    json_error_t je;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        return cx_error_set(e, CX_ERR_FORMAT, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    return CX_OK;
}

cx_err cx_json_parse(const char *text, size_t len, json_t **out, cx_error *e)
{
    json_error_t je;
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        return cx_error_set(e, CX_ERR_FORMAT, "JSON at line %d column %d: %s", je.line, je.column,
                            je.text);
    return CX_OK;
}

cx_err cx_json_check_keys(const json_t *obj, const char *const *allowed, const char *where,
                          cx_error *e)
{
    if (!json_is_object(obj))
        return cx_error_set(e, CX_ERR_FORMAT, "%s: expected a JSON object", where);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0) {
                ok = 1;
                break;
            }
        if (!ok)
            return cx_error_set(e, CX_ERR_FORMAT, "%s: unknown key \"%s\"", where, key);
    }
    return CX_OK;
}

static cx_err missing(const char *key, int required, cx_error *e)
{
    if (required)
        return cx_error_set(e, CX_ERR_FORMAT, "missing required key \"%s\"", key);
    return CX_OK;
}

cx_err cx_json_get_string(const json_t *obj, const char *key, int required, const char **out,
                          cx_error *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return missing(key, required, e);
    if (!json_is_string(v))
        return cx_error_set(e, CX_ERR_FORMAT, "key \"%s\" must be a string", key);
    *out = json_string_value(v);
    return CX_OK;
}

cx_err cx_json_get_int(const json_t *obj, const char *key, int required, int64_t min, int64_t max,
                       int64_t *out, cx_error *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return missing(key, required, e);
    if (!json_is_integer(v))
        return cx_error_set(e, CX_ERR_FORMAT, "key \"%s\" must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "key \"%s\" = %lld is out of range [%lld, %lld]", key, (long long)x,
                            (long long)min, (long long)max);
    *out = x;
    return CX_OK;
}

cx_err cx_json_get_number(const json_t *obj, const char *key, int required, double min,
                          double max, double *out, cx_error *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return missing(key, required, e);
    if (!json_is_number(v))
        return cx_error_set(e, CX_ERR_FORMAT, "key \"%s\" must be a number", key);
    double x = json_number_value(v);
    if (!isfinite(x) || x < min || x > max)
        return cx_error_set(e, CX_ERR_FORMAT, "key \"%s\" = %g is out of range [%g, %g]", key, x,
                            min, max);
    *out = x;
    return CX_OK;
}

cx_err cx_json_get_bool(const json_t *obj, const char *key, int required, int *out, cx_error *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return missing(key, required, e);
    if (!json_is_boolean(v))
        return cx_error_set(e, CX_ERR_FORMAT, "key \"%s\" must be true or false", key);
    *out = json_is_true(v);
    return CX_OK;
}

char *cx_json_dumps(const json_t *v, int pretty)
{
    size_t flags = JSON_SORT_KEYS | JSON_REAL_PRECISION(17);
    flags |= pretty ? JSON_INDENT(2) : JSON_COMPACT;
    return json_dumps(v, flags);
}
