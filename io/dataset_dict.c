/* dataset_dict.c — the string -> dense id dictionary (column names, category values,
 * class names) and the name-list helpers the parsers share. */
#include "parse_internal.h"

#include <stdlib.h>

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

void cx_dict_init(cx_dict *d)
{
    memset(d, 0, sizeof *d);
}

void cx_dict_free(cx_dict *d)
{
    cx_secarena_free(&d->arena); /* the names, wiped */
    /* the lengths and the hash slots are derived from the names too */
    if (d->lens)
        cx_memwipe(d->lens, d->cap * sizeof *d->lens);
    if (d->slots)
        cx_memwipe(d->slots, d->n_slots * sizeof *d->slots);
    free(d->names);
    free(d->lens);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

uint32_t cx_dict_find(const cx_dict *d, const char *s, size_t len)
{
    if (!d->n_slots)
        return CX_DICT_NONE;
    size_t mask = d->n_slots - 1;
    for (size_t i = (size_t)hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t v = d->slots[i];
        if (!v)
            return CX_DICT_NONE;
        if (d->lens[v - 1] == len && memcmp(d->names[v - 1], s, len) == 0)
            return v - 1;
    }
}

static int dict_grow(cx_dict *d)
{
    size_t ns = d->n_slots ? 2 * d->n_slots : 16;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl)
        return 0;
    for (size_t id = 0; id < d->n; id++) {
        size_t i = (size_t)hash_bytes(d->names[id], d->lens[id]) & (ns - 1);
        while (sl[i])
            i = (i + 1) & (ns - 1);
        sl[i] = (uint32_t)id + 1;
    }
    if (d->slots)
        cx_memwipe(d->slots, d->n_slots * sizeof *d->slots);
    free(d->slots);
    d->slots = sl;
    d->n_slots = ns;
    return 1;
}

uint32_t cx_dict_intern(cx_dict *d, const char *s, size_t len)
{
    uint32_t id = cx_dict_find(d, s, len);
    if (id != CX_DICT_NONE)
        return id;
    if (d->n >= 0x7FFFFFFFu)
        return CX_DICT_NONE;
    if ((d->n + 1) * 2 > d->n_slots && !dict_grow(d))
        return CX_DICT_NONE;
    if (d->n == d->cap) {
        size_t nc = d->cap ? 2 * d->cap : 8;
        char **nn = realloc(d->names, nc * sizeof *nn);
        if (!nn)
            return CX_DICT_NONE;
        d->names = nn;
        size_t *nl = realloc(d->lens, nc * sizeof *nl);
        if (!nl)
            return CX_DICT_NONE;
        d->lens = nl;
        d->cap = nc;
    }
    char *c = cx_secarena_alloc(&d->arena, len + 1, NULL);
    if (!c)
        return CX_DICT_NONE;
    memcpy(c, s, len);
    c[len] = 0;
    d->names[d->n] = c;
    d->lens[d->n] = len;
    size_t mask = d->n_slots - 1;
    size_t i = (size_t)hash_bytes(s, len) & mask;
    while (d->slots[i])
        i = (i + 1) & mask;
    d->slots[i] = (uint32_t)d->n + 1;
    return (uint32_t)d->n++;
}

void cx_names_free(char **names, size_t n)
{
    if (!names)
        return;
    /* a headerless CSV's first record is split into names: they may be data */
    for (size_t i = 0; i < n; i++) {
        if (names[i])
            cx_memwipe(names[i], strlen(names[i]));
        free(names[i]);
    }
    free(names);
}

int cx_names_push(char ***names, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        char **nn = realloc(*names, 2 * *cap * sizeof *nn);
        if (!nn)
            return -1;
        *names = nn;
        *cap *= 2;
    }
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, s, len);
    c[len] = 0;
    (*names)[(*n)++] = c;
    return 0;
}

int64_t cx_names_find(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int64_t)i;
    return -1;
}
