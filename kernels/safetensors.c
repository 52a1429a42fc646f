/* safetensors.c — model files in the safetensors format: a deterministic writer and a strict
 * reader for untrusted files (header bounds, JSON, offsets, sizes, no trailing bytes). */
#include "cx_kernels.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies tensors as little-endian bytes: port it for this host"
#endif

#define ST_HEADER_ALIGN 8
#define ST_PREFIX 8 /* the u64 header length */

static const struct {
    const char *name;
    size_t size;
} dtype_table[CX_SAFETENSORS_DTYPE__COUNT] = {
    [CX_SAFETENSORS_BOOL] = {"BOOL", 1},       [CX_SAFETENSORS_U8] = {"U8", 1},
    [CX_SAFETENSORS_I8] = {"I8", 1},           [CX_SAFETENSORS_F8_E4M3] = {"F8_E4M3", 1},
    [CX_SAFETENSORS_F8_E5M2] = {"F8_E5M2", 1}, [CX_SAFETENSORS_I16] = {"I16", 2},
    [CX_SAFETENSORS_U16] = {"U16", 2},         [CX_SAFETENSORS_F16] = {"F16", 2},
    [CX_SAFETENSORS_BF16] = {"BF16", 2},       [CX_SAFETENSORS_I32] = {"I32", 4},
    [CX_SAFETENSORS_U32] = {"U32", 4},         [CX_SAFETENSORS_F32] = {"F32", 4},
    [CX_SAFETENSORS_I64] = {"I64", 8},         [CX_SAFETENSORS_U64] = {"U64", 8},
    [CX_SAFETENSORS_F64] = {"F64", 8},
};

typedef struct st_tensor {
    char *name;
    cx_safetensors_dtype dtype;
    size_t ndim;
    uint64_t shape[CX_SAFETENSORS_MAX_DIMS];
    uint64_t n_elements;
    size_t n_bytes;
    uint8_t *own;        /* written tensors own a copy */
    const uint8_t *data; /* own, or a view into the parsed file */
} st_tensor;

struct cx_safetensors {
    st_tensor *t;
    size_t n, cap;
    char **mkey, **mval;
    size_t mn, mcap;
    uint8_t *file; /* parsed file bytes (tensor views point here) */
    size_t file_len;
};

const char *cx_safetensors_dtype_name(cx_safetensors_dtype dt)
{
    return (unsigned)dt < CX_SAFETENSORS_DTYPE__COUNT ? dtype_table[dt].name : NULL;
}

size_t cx_safetensors_dtype_size(cx_safetensors_dtype dt)
{
    return (unsigned)dt < CX_SAFETENSORS_DTYPE__COUNT ? dtype_table[dt].size : 0;
}

cx_err cx_safetensors_dtype_parse(const char *name, cx_safetensors_dtype *dt, cx_error *e)
{
    for (int i = 0; name && i < CX_SAFETENSORS_DTYPE__COUNT; i++)
        if (strcmp(name, dtype_table[i].name) == 0) {
            *dt = (cx_safetensors_dtype)i;
            return CX_OK;
        }
    return cx_error_set(e, CX_ERR_FORMAT, "safetensors: unknown dtype \"%.40s\"",
                        name ? name : "(null)");
}

cx_err cx_safetensors_new(cx_safetensors **out, cx_error *e)
{
    if (!out)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: no output handle");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: allocating a tensor set");
    return CX_OK;
}

void cx_safetensors_free(cx_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free(st->t[i].name);
        if (st->t[i].own) {
            cx_memwipe(st->t[i].own, st->t[i].n_bytes);
            free(st->t[i].own);
        }
    }
    free(st->t);
    for (size_t i = 0; i < st->mn; i++) {
        free(st->mkey[i]);
        free(st->mval[i]);
    }
    free(st->mkey);
    free(st->mval);
    if (st->file) {
        cx_memwipe(st->file, st->file_len);
        free(st->file);
    }
    free(st);
}

static st_tensor *find_tensor(const cx_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0)
            return &st->t[i];
    return NULL;
}

/* Element count and byte size of a shape, refusing any overflow. */
static cx_err shape_size(const char *name, cx_safetensors_dtype dt, const uint64_t *shape,
                         size_t ndim, uint64_t *n_el, size_t *n_bytes, cx_error *e)
{
    uint64_t n = 1;
    int zero = 0;
    for (size_t d = 0; d < ndim; d++) {
        if (shape[d] > (uint64_t)INT64_MAX)
            return cx_error_set(e, CX_ERR_FORMAT, "safetensors: tensor \"%.80s\": dimension %zu "
                                "is too large", name, d);
        if (shape[d] == 0)
            zero = 1;
        else if (!zero && n > UINT64_MAX / shape[d])
            return cx_error_set(e, CX_ERR_FORMAT, "safetensors: tensor \"%.80s\": element count "
                                "overflows", name);
        else if (!zero)
            n *= shape[d];
    }
    if (zero)
        n = 0;
    size_t sz = cx_safetensors_dtype_size(dt);
    if (sz == 0)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: tensor \"%.80s\": invalid dtype", name);
    if (n > SIZE_MAX / sz)
        return cx_error_set(e, CX_ERR_FORMAT, "safetensors: tensor \"%.80s\": byte size "
                            "overflows", name);
    *n_el = n;
    *n_bytes = (size_t)n * sz;
    return CX_OK;
}

static cx_err grow_tensors(cx_safetensors *st, cx_error *e)
{
    if (st->n < st->cap)
        return CX_OK;
    size_t cap = st->cap ? st->cap * 2 : 8;
    st_tensor *t = realloc(st->t, cap * sizeof *t);
    if (!t)
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: growing the tensor list");
    st->t = t;
    st->cap = cap;
    return CX_OK;
}

cx_err cx_safetensors_add(cx_safetensors *st, const char *name, cx_safetensors_dtype dtype,
                          const uint64_t *shape, size_t ndim, const void *data, size_t n_bytes,
                          cx_error *e)
{
    if (!st || !name || (ndim > 0 && !shape) || (n_bytes > 0 && !data))
        return cx_error_set(e, CX_ERR_ARG, "safetensors: add: missing argument");
    if (!name[0] || strcmp(name, CX_SAFETENSORS_METADATA_KEY) == 0)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: invalid tensor name \"%.80s\"", name);
    if (ndim > CX_SAFETENSORS_MAX_DIMS)
        return cx_error_set(e, CX_ERR_LIMIT, "safetensors: tensor \"%.80s\" has %zu dimensions, "
                            "at most %d", name, ndim, CX_SAFETENSORS_MAX_DIMS);
    if (find_tensor(st, name))
        return cx_error_set(e, CX_ERR_ARG, "safetensors: tensor \"%.80s\" already added", name);
    uint64_t n_el;
    size_t want;
    cx_err rc = shape_size(name, dtype, shape, ndim, &n_el, &want, e);
    if (rc != CX_OK)
        return rc;
    if (want != n_bytes)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: tensor \"%.80s\": %zu bytes given, "
                            "dtype and shape need %zu", name, n_bytes, want);
    if ((rc = grow_tensors(st, e)) != CX_OK)
        return rc;
    st_tensor *t = &st->t[st->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->own = malloc(n_bytes ? n_bytes : 1);
    if (!t->name || !t->own) {
        free(t->name);
        free(t->own);
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: copying tensor \"%.80s\"", name);
    }
    if (n_bytes)
        memcpy(t->own, data, n_bytes);
    t->data = t->own;
    t->dtype = dtype;
    t->ndim = ndim;
    for (size_t d = 0; d < ndim; d++)
        t->shape[d] = shape[d];
    t->n_elements = n_el;
    t->n_bytes = n_bytes;
    st->n++;
    return CX_OK;
}

cx_err cx_safetensors_meta_set(cx_safetensors *st, const char *key, const char *value,
                               cx_error *e)
{
    if (!st || !key || !value)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: meta_set: missing argument");
    char *v = strdup(value);
    if (!v)
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: copying metadata \"%.80s\"", key);
    for (size_t i = 0; i < st->mn; i++)
        if (strcmp(st->mkey[i], key) == 0) {
            free(st->mval[i]);
            st->mval[i] = v;
            return CX_OK;
        }
    if (st->mn == st->mcap) {
        size_t cap = st->mcap ? st->mcap * 2 : 8;
        char **k = realloc(st->mkey, cap * sizeof *k);
        if (k)
            st->mkey = k;
        char **w = k ? realloc(st->mval, cap * sizeof *w) : NULL;
        if (w)
            st->mval = w;
        if (!k || !w) {
            free(v);
            return cx_error_set(e, CX_ERR_NOMEM, "safetensors: growing the metadata");
        }
        st->mcap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: copying metadata key");
    }
    st->mkey[st->mn] = k;
    st->mval[st->mn] = v;
    st->mn++;
    return CX_OK;
}

const char *cx_safetensors_meta_get(const cx_safetensors *st, const char *key)
{
    if (!st || !key)
        return NULL;
    for (size_t i = 0; i < st->mn; i++)
        if (strcmp(st->mkey[i], key) == 0)
            return st->mval[i];
    return NULL;
}

size_t cx_safetensors_meta_count(const cx_safetensors *st)
{
    return st ? st->mn : 0;
}

cx_err cx_safetensors_meta_at(const cx_safetensors *st, size_t i, const char **key,
                              const char **value, cx_error *e)
{
    if (!st || i >= st->mn)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: metadata index %zu out of range", i);
    if (key)
        *key = st->mkey[i];
    if (value)
        *value = st->mval[i];
    return CX_OK;
}

size_t cx_safetensors_count(const cx_safetensors *st)
{
    return st ? st->n : 0;
}

static void view_of(const st_tensor *s, cx_safetensors_tensor *t)
{
    t->name = s->name;
    t->dtype = s->dtype;
    t->ndim = s->ndim;
    t->shape = s->shape;
    t->n_elements = s->n_elements;
    t->data = s->data;
    t->n_bytes = s->n_bytes;
}

cx_err cx_safetensors_at(const cx_safetensors *st, size_t i, cx_safetensors_tensor *t,
                         cx_error *e)
{
    if (!st || !t || i >= st->n)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: tensor index %zu out of range", i);
    view_of(&st->t[i], t);
    return CX_OK;
}

cx_err cx_safetensors_find(const cx_safetensors *st, const char *name, cx_safetensors_tensor *t,
                           cx_error *e)
{
    if (!st || !name || !t)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: find: missing argument");
    const st_tensor *s = find_tensor(st, name);
    if (!s)
        return cx_error_set(e, CX_ERR_NOTFOUND, "safetensors: no tensor \"%.80s\"", name);
    view_of(s, t);
    return CX_OK;
}

/* IEEE half → float, subnormals and specials included. */
static float half_to_float(uint16_t h)
{
    int sign = h >> 15, ex = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (ex == 0)
        v = ldexpf((float)man, -24);
    else if (ex == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 0x400), ex - 25);
    return sign ? -v : v;
}

/* OCP FP8 E4M3 ("FN": no infinities, S.1111.111 is NaN), bias 7. */
static float e4m3_to_float(uint8_t b)
{
    int sign = b >> 7, ex = (b >> 3) & 0xf, man = b & 7;
    float v;
    if (ex == 0xf && man == 7)
        v = NAN;
    else if (ex == 0)
        v = ldexpf((float)man, -9);
    else
        v = ldexpf((float)(man | 8), ex - 10);
    return sign ? -v : v;
}

cx_err cx_safetensors_tensor_to_f32(const cx_safetensors_tensor *t, float *out, size_t n_out,
                                    cx_error *e)
{
    if (!t || (t->n_elements > 0 && !out))
        return cx_error_set(e, CX_ERR_ARG, "safetensors: to_f32: missing argument");
    if (n_out < t->n_elements)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: tensor \"%.80s\" has %llu elements, "
                            "output holds %zu", t->name, (unsigned long long)t->n_elements,
                            n_out);
    const uint8_t *p = t->data;
    size_t n = (size_t)t->n_elements;
    for (size_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case CX_SAFETENSORS_BOOL: out[i] = p[i] ? 1.0f : 0.0f; break;
        case CX_SAFETENSORS_U8: out[i] = (float)p[i]; break;
        case CX_SAFETENSORS_I8: out[i] = (float)(int8_t)p[i]; break;
        case CX_SAFETENSORS_F8_E4M3: out[i] = e4m3_to_float(p[i]); break;
        case CX_SAFETENSORS_F8_E5M2: out[i] = half_to_float((uint16_t)(p[i] << 8)); break;
        case CX_SAFETENSORS_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); out[i] = (float)v; break; }
        case CX_SAFETENSORS_U16: { uint16_t v; memcpy(&v, p + 2 * i, 2); out[i] = (float)v; break; }
        case CX_SAFETENSORS_F16: { uint16_t v; memcpy(&v, p + 2 * i, 2); out[i] = half_to_float(v); break; }
        case CX_SAFETENSORS_BF16: {
            uint16_t v;
            memcpy(&v, p + 2 * i, 2);
            uint32_t bits = (uint32_t)v << 16;
            memcpy(&out[i], &bits, 4);
            break;
        }
        case CX_SAFETENSORS_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); out[i] = (float)v; break; }
        case CX_SAFETENSORS_U32: { uint32_t v; memcpy(&v, p + 4 * i, 4); out[i] = (float)v; break; }
        case CX_SAFETENSORS_F32: memcpy(&out[i], p + 4 * i, 4); break;
        case CX_SAFETENSORS_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); out[i] = (float)v; break; }
        case CX_SAFETENSORS_U64: { uint64_t v; memcpy(&v, p + 8 * i, 8); out[i] = (float)v; break; }
        case CX_SAFETENSORS_F64: { double v; memcpy(&v, p + 8 * i, 8); out[i] = (float)v; break; }
        default:
            return cx_error_set(e, CX_ERR_ARG, "safetensors: tensor \"%.80s\": invalid dtype",
                                t->name);
        }
    }
    return CX_OK;
}

/* ------------------------------------------------------------------ writer -- */

/* Largest element first keeps every tensor aligned to its element size; then by name. */
static int cmp_write_order(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    size_t sx = cx_safetensors_dtype_size(x->dtype), sy = cx_safetensors_dtype_size(y->dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static cx_err build_header(const cx_safetensors *st, const st_tensor **order, json_t **out,
                           cx_error *e)
{
    json_t *root = json_object();
    if (!root)
        goto nomem;
    uint64_t off = 0;
    for (size_t i = 0; i < st->n; i++) {
        const st_tensor *t = order[i];
        json_t *shape = json_array();
        if (!shape)
            goto nomem_root;
        for (size_t d = 0; d < t->ndim; d++)
            if (json_array_append_new(shape, json_integer((json_int_t)t->shape[d])) != 0) {
                json_decref(shape);
                goto nomem_root;
            }
        json_t *ent = json_pack("{s:s, s:o, s:[I,I]}", "dtype", cx_safetensors_dtype_name(t->dtype),
                                "shape", shape, "data_offsets", (json_int_t)off,
                                (json_int_t)(off + t->n_bytes));
        if (!ent || json_object_set_new(root, t->name, ent) != 0)
            goto nomem_root;
        off += t->n_bytes;
    }
    if (st->mn > 0) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, CX_SAFETENSORS_METADATA_KEY, meta) != 0)
            goto nomem_root;
        for (size_t i = 0; i < st->mn; i++)
            if (json_object_set_new(meta, st->mkey[i], json_string(st->mval[i])) != 0)
                goto nomem_root;
    }
    *out = root;
    return CX_OK;
nomem_root:
    json_decref(root);
nomem:
    return cx_error_set(e, CX_ERR_NOMEM, "safetensors: building the header (or a name or "
                        "metadata string is not valid UTF-8)");
}

cx_err cx_safetensors_serialize(const cx_safetensors *st, uint8_t **out, size_t *out_len,
                                cx_error *e)
{
    if (!st || !out || !out_len)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: serialize: missing argument");
    *out = NULL;
    *out_len = 0;
    const st_tensor **order = malloc((st->n ? st->n : 1) * sizeof *order);
    if (!order)
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: ordering tensors");
    size_t body = 0;
    for (size_t i = 0; i < st->n; i++) {
        order[i] = &st->t[i];
        if (st->t[i].n_bytes > SIZE_MAX - body) {
            free(order);
            return cx_error_set(e, CX_ERR_LIMIT, "safetensors: tensors too large in total");
        }
        body += st->t[i].n_bytes;
    }
    qsort(order, st->n, sizeof *order, cmp_write_order);
    json_t *hdr = NULL;
    cx_err rc = build_header(st, order, &hdr, e);
    if (rc != CX_OK) {
        free(order);
        return rc;
    }
    char *text = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(hdr);
    if (!text) {
        free(order);
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: serialising the header");
    }
    size_t tlen = strlen(text);
    size_t hlen = (tlen + ST_HEADER_ALIGN - 1) / ST_HEADER_ALIGN * ST_HEADER_ALIGN;
    if (hlen > CX_SAFETENSORS_MAX_HEADER || body > SIZE_MAX - ST_PREFIX - hlen) {
        free(text);
        free(order);
        return cx_error_set(e, CX_ERR_LIMIT, "safetensors: header of %zu bytes is over the "
                            "limit of %u", hlen, CX_SAFETENSORS_MAX_HEADER);
    }
    size_t total = ST_PREFIX + hlen + body;
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf) {
        free(text);
        free(order);
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: allocating %zu bytes", total);
    }
    uint64_t h64 = hlen;
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(h64 >> (8 * i));
    memcpy(buf + ST_PREFIX, text, tlen);
    memset(buf + ST_PREFIX + tlen, ' ', hlen - tlen);
    free(text);
    size_t off = ST_PREFIX + hlen;
    for (size_t i = 0; i < st->n; i++) {
        if (order[i]->n_bytes)
            memcpy(buf + off, order[i]->data, order[i]->n_bytes);
        off += order[i]->n_bytes;
    }
    free(order);
    *out = buf;
    *out_len = total;
    return CX_OK;
}

cx_err cx_safetensors_write_file(const cx_safetensors *st, const char *path, cx_error *e)
{
    if (!path)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: no output path");
    uint8_t *buf;
    size_t len;
    cx_err rc = cx_safetensors_serialize(st, &buf, &len, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_file_write_atomic(path, buf, len, 0644, e);
    cx_memwipe(buf, len);
    free(buf);
    if (rc != CX_OK)
        cx_error_prefix(e, "safetensors: writing %s: ", path);
    return rc;
}

/* ------------------------------------------------------------------ reader -- */

#define ST_BAD(e, ...) cx_error_set((e), CX_ERR_FORMAT, __VA_ARGS__)

static cx_err get_u64(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return CX_ERR_FORMAT;
    *out = (uint64_t)json_integer_value(v);
    return CX_OK;
}

static cx_err parse_tensor(cx_safetensors *st, const char *name, const json_t *ent, uint64_t *beg,
                           uint64_t *end, cx_error *e)
{
    if (!json_is_object(ent))
        return ST_BAD(e, "safetensors: header entry \"%.80s\" is not an object", name);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)ent, k, v) {
        if (strcmp(k, "dtype") != 0 && strcmp(k, "shape") != 0 && strcmp(k, "data_offsets") != 0)
            return cx_error_set(e, CX_ERR_FORMAT, "safetensors: tensor \"%.80s\": unknown key "
                                "\"%.40s\"", name, k);
    }
    const json_t *jd = json_object_get(ent, "dtype"), *js = json_object_get(ent, "shape"),
                 *jo = json_object_get(ent, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo))
        return ST_BAD(e, "safetensors: tensor \"%.80s\" needs dtype (string), shape and "
                   "data_offsets (arrays)", name);
    cx_safetensors_dtype dt = CX_SAFETENSORS_DTYPE__COUNT; /* set on success (-O3 cannot see it) */
    cx_err rc = cx_safetensors_dtype_parse(json_string_value(jd), &dt, e);
    if (rc != CX_OK) {
        cx_error_prefix(e, "tensor \"%.80s\": ", name);
        return rc;
    }
    size_t ndim = json_array_size(js);
    if (ndim > CX_SAFETENSORS_MAX_DIMS)
        return cx_error_set(e, CX_ERR_LIMIT, "safetensors: tensor \"%.80s\" has %zu dimensions, "
                            "at most %d", name, ndim, CX_SAFETENSORS_MAX_DIMS);
    if (json_array_size(jo) != 2 || get_u64(json_array_get(jo, 0), beg) != CX_OK ||
        get_u64(json_array_get(jo, 1), end) != CX_OK)
        return ST_BAD(e, "safetensors: tensor \"%.80s\": data_offsets must be two integers >= 0",
                   name);
    if ((rc = grow_tensors(st, e)) != CX_OK)
        return rc;
    st_tensor *t = &st->t[st->n];
    memset(t, 0, sizeof *t);
    for (size_t d = 0; d < ndim; d++)
        if (get_u64(json_array_get(js, d), &t->shape[d]) != CX_OK)
            return ST_BAD(e, "safetensors: tensor \"%.80s\": shape entries must be integers >= 0",
                       name);
    if ((rc = shape_size(name, dt, t->shape, ndim, &t->n_elements, &t->n_bytes, e)) != CX_OK)
        return rc;
    t->name = strdup(name);
    if (!t->name)
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: copying a tensor name");
    t->dtype = dt;
    t->ndim = ndim;
    st->n++;
    return CX_OK;
}

static cx_err parse_metadata(cx_safetensors *st, const json_t *meta, cx_error *e)
{
    if (!json_is_object(meta))
        return cx_error_set(e, CX_ERR_FORMAT, "safetensors: \"__metadata__\" is not an object");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)meta, k, v) {
        if (!json_is_string(v))
            return ST_BAD(e, "safetensors: metadata \"%.80s\" is not a string", k);
        cx_err rc = cx_safetensors_meta_set(st, k, json_string_value(v), e);
        if (rc != CX_OK)
            return rc;
    }
    return CX_OK;
}

typedef struct st_span {
    uint64_t beg, end;
    size_t idx;
} st_span;

static int cmp_span(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    if (x->beg != y->beg)
        return x->beg < y->beg ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Takes ownership of file (freed on failure too). */
static cx_err parse_owned(uint8_t *file, size_t len, cx_safetensors **out, cx_error *e)
{
    cx_safetensors *st = NULL;
    json_t *root = NULL;
    st_span *spans = NULL;
    st_tensor *sorted = NULL;
    cx_err rc;
    if (len < ST_PREFIX) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "safetensors: %zu bytes is too short for a header "
                          "length", len);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | file[i];
    if (hlen > CX_SAFETENSORS_MAX_HEADER) {
        rc = cx_error_set(e, CX_ERR_LIMIT, "safetensors: header length %llu is over the limit "
                          "of %u", (unsigned long long)hlen, CX_SAFETENSORS_MAX_HEADER);
        goto fail;
    }
    if (hlen > len - ST_PREFIX) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "safetensors: header length %llu exceeds the %zu "
                          "bytes after it", (unsigned long long)hlen, len - ST_PREFIX);
        goto fail;
    }
    if (hlen == 0 || file[ST_PREFIX] != '{') {
        rc = cx_error_set(e, CX_ERR_FORMAT, "safetensors: header does not start with '{'");
        goto fail;
    }
    json_error_t jerr;
    root = json_loadb((const char *)file + ST_PREFIX, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "safetensors: header JSON: %s (at byte %d)", jerr.text,
                          jerr.position);
        goto fail;
    }
    if (!json_is_object(root)) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "safetensors: header is not a JSON object");
        goto fail;
    }
    if ((rc = cx_safetensors_new(&st, e)) != CX_OK)
        goto fail;
    size_t nkeys = json_object_size(root);
    spans = malloc((nkeys ? nkeys : 1) * sizeof *spans);
    if (!spans) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "safetensors: %zu header entries", nkeys);
        goto fail;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, CX_SAFETENSORS_METADATA_KEY) == 0) {
            if ((rc = parse_metadata(st, val, e)) != CX_OK)
                goto fail;
            continue;
        }
        uint64_t b = 0, en = 0;
        if ((rc = parse_tensor(st, key, val, &b, &en, e)) != CX_OK)
            goto fail;
        spans[st->n - 1] = (st_span){b, en, st->n - 1};
    }
    /* The reference rule: in offset order, each tensor starts where the previous ended
     * (the first at 0), holds exactly dtype size × elements bytes, and the last ends at
     * the end of the file. So no overlap, no gap, no trailing bytes. */
    qsort(spans, st->n, sizeof *spans, cmp_span);
    size_t body = len - ST_PREFIX - (size_t)hlen;
    uint64_t pos = 0;
    sorted = malloc((st->n ? st->n : 1) * sizeof *sorted);
    if (!sorted) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "safetensors: ordering %zu tensors", st->n);
        goto fail;
    }
    for (size_t i = 0; i < st->n; i++) {
        st_tensor *t = &st->t[spans[i].idx];
        if (spans[i].beg != pos || spans[i].end < spans[i].beg) {
            rc = ST_BAD(e, "safetensors: tensor \"%.80s\": data_offsets overlap, leave a gap or "
                     "are reversed", t->name);
            goto fail;
        }
        if (spans[i].end - spans[i].beg != t->n_bytes) {
            rc = cx_error_set(e, CX_ERR_FORMAT, "safetensors: tensor \"%.80s\": %llu bytes for "
                              "%s × %llu elements (needs %zu)", t->name,
                              (unsigned long long)(spans[i].end - spans[i].beg),
                              cx_safetensors_dtype_name(t->dtype),
                              (unsigned long long)t->n_elements, t->n_bytes);
            goto fail;
        }
        if (spans[i].end > body) {
            rc = ST_BAD(e, "safetensors: tensor \"%.80s\" runs past the end of the file", t->name);
            goto fail;
        }
        t->data = file + ST_PREFIX + hlen + spans[i].beg;
        pos = spans[i].end;
        sorted[i] = *t;
    }
    if (pos != body) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "safetensors: %llu bytes of tensor data declared, "
                          "%zu present (trailing or missing bytes)", (unsigned long long)pos,
                          body);
        goto fail;
    }
    /* Keep the tensors in file order. */
    if (st->n)
        memcpy(st->t, sorted, st->n * sizeof *sorted);
    free(sorted);
    free(spans);
    json_decref(root);
    st->file = file;
    st->file_len = len;
    *out = st;
    return CX_OK;
fail:
    free(sorted);
    free(spans);
    json_decref(root);
    cx_safetensors_free(st);
    if (file) {
        cx_memwipe(file, len);
        free(file);
    }
    return rc;
}

cx_err cx_safetensors_parse(const uint8_t *buf, size_t len, cx_safetensors **out, cx_error *e)
{
    if (!out || (!buf && len))
        return cx_error_set(e, CX_ERR_ARG, "safetensors: parse: missing argument");
    *out = NULL;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return cx_error_set(e, CX_ERR_NOMEM, "safetensors: copying %zu bytes", len);
    if (len)
        memcpy(copy, buf, len);
    return parse_owned(copy, len, out, e);
}

cx_err cx_safetensors_read_file(const char *path, size_t max_bytes, cx_safetensors **out,
                                cx_error *e)
{
    if (!path || !out)
        return cx_error_set(e, CX_ERR_ARG, "safetensors: read_file: missing argument");
    *out = NULL;
    if (max_bytes == 0)
        max_bytes = (size_t)4 << 30;
    uint8_t *buf;
    size_t len;
    cx_err rc = cx_file_read_all(path, max_bytes, &buf, &len, e);
    if (rc != CX_OK)
        return rc;
    rc = parse_owned(buf, len, out, e);
    if (rc != CX_OK)
        cx_error_prefix(e, "%s: ", path);
    return rc;
}
