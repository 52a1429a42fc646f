/* sui_tx.c — Sui programmable transactions in BCS (spec §3.2), byte-identical with @mysten/sui
 * 2.33.x: builder, encoder, strict decoder, intent digests, Ed25519 signatures, base58, suiprivkey.
 */
#include "cx_chain.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ------------------------------------------------------------ type tags -- */

void cx_sui_type_free(cx_sui_type *t)
{
    if (!t)
        return;
    if (t->elem) {
        cx_sui_type_free(t->elem);
        free(t->elem);
    }
    for (size_t i = 0; i < t->n_params; i++)
        cx_sui_type_free(&t->params[i]);
    free(t->params);
    memset(t, 0, sizeof *t);
}

static int ident_ok(const char *s, size_t n)
{
    if (n < 1 || n > CX_SUI_IDENT_MAX || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

typedef struct type_parser {
    const char *s;
    size_t pos;
} type_parser;

static void skip_space(type_parser *p)
{
    while (p->s[p->pos] == ' ')
        p->pos++;
}

static int take(type_parser *p, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(p->s + p->pos, lit, n) != 0)
        return 0;
    p->pos += n;
    return 1;
}

/* "0x" + 1..64 hex digits, left-padded to 32 bytes */
static cx_err parse_short_address(const char *hex, size_t n, cx_chain_addr *out, cx_error *e)
{
    if (n < 3 || n > 66 || hex[0] != '0' || (hex[1] != 'x' && hex[1] != 'X'))
        return cx_error_set(e, CX_ERR_FORMAT, "sui: address '%.*s' is not 0x + 1..64 hex digits",
                            (int)n, hex);
    char full[65];
    size_t digits = n - 2;
    memset(full, '0', 64 - digits);
    memcpy(full + 64 - digits, hex + 2, digits);
    size_t got = 0;
    cx_err rc = cx_hex_decode(full, 64, out->b, sizeof out->b, &got, e);
    if (rc != CX_OK || got != 32)
        return cx_error_set(e, CX_ERR_FORMAT, "sui: address '%.*s' is not hex", (int)n, hex);
    return CX_OK;
}

cx_err cx_sui_address_parse(const char *s, cx_chain_addr *out, cx_error *e)
{
    if (!s)
        return cx_error_set(e, CX_ERR_ARG, "sui: no address");
    return parse_short_address(s, strlen(s), out, e);
}

static cx_err parse_type(type_parser *p, int depth, cx_sui_type *out, cx_error *e);

static cx_err parse_ident(type_parser *p, char out[CX_SUI_IDENT_MAX + 1], cx_error *e)
{
    size_t start = p->pos;
    while (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_')
        p->pos++;
    size_t n = p->pos - start;
    if (!ident_ok(p->s + start, n))
        return cx_error_set(e, CX_ERR_FORMAT, "sui: type '%s': bad identifier at %zu", p->s, start);
    memcpy(out, p->s + start, n);
    out[n] = 0;
    return CX_OK;
}

static cx_err parse_struct(type_parser *p, int depth, cx_sui_type *out, cx_error *e)
{
    size_t start = p->pos;
    while (isxdigit((unsigned char)p->s[p->pos]) || p->s[p->pos] == 'x' || p->s[p->pos] == 'X')
        p->pos++;
    out->kind = CX_SUI_TYPE_STRUCT;
    cx_err rc = parse_short_address(p->s + start, p->pos - start, &out->address, e);
    if (rc != CX_OK)
        return rc;
    if (!take(p, "::"))
        return cx_error_set(e, CX_ERR_FORMAT, "sui: type '%s': '::' expected at %zu", p->s, p->pos);
    if ((rc = parse_ident(p, out->module, e)) != CX_OK)
        return rc;
    if (!take(p, "::"))
        return cx_error_set(e, CX_ERR_FORMAT, "sui: type '%s': '::' expected at %zu", p->s, p->pos);
    if ((rc = parse_ident(p, out->name, e)) != CX_OK)
        return rc;
    skip_space(p);
    if (!take(p, "<"))
        return CX_OK;
    for (;;) {
        if (out->n_params == CX_SUI_TYPE_ARGS_MAX)
            return cx_error_set(e, CX_ERR_LIMIT, "sui: type '%s': more than %d type parameters",
                                p->s, CX_SUI_TYPE_ARGS_MAX);
        cx_sui_type *np = realloc(out->params, (out->n_params + 1) * sizeof *np);
        if (!np)
            return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
        out->params = np;
        memset(&np[out->n_params], 0, sizeof *np);
        out->n_params++;
        skip_space(p);
        if ((rc = parse_type(p, depth + 1, &np[out->n_params - 1], e)) != CX_OK)
            return rc;
        skip_space(p);
        if (take(p, ">"))
            return CX_OK;
        if (!take(p, ","))
            return cx_error_set(e, CX_ERR_FORMAT, "sui: type '%s': ',' or '>' expected at %zu",
                                p->s, p->pos);
    }
}

static const struct {
    const char *name;
    cx_sui_type_kind kind;
} prims[] = {
    {"bool", CX_SUI_TYPE_BOOL}, {"u8", CX_SUI_TYPE_U8},           {"u16", CX_SUI_TYPE_U16},
    {"u32", CX_SUI_TYPE_U32},   {"u64", CX_SUI_TYPE_U64},         {"u128", CX_SUI_TYPE_U128},
    {"u256", CX_SUI_TYPE_U256}, {"address", CX_SUI_TYPE_ADDRESS}, {"signer", CX_SUI_TYPE_SIGNER},
};

static cx_err parse_type(type_parser *p, int depth, cx_sui_type *out, cx_error *e)
{
    if (depth > CX_SUI_TYPE_DEPTH_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "sui: type '%s' nests deeper than %d", p->s,
                            CX_SUI_TYPE_DEPTH_MAX);
    if (take(p, "vector<")) {
        out->kind = CX_SUI_TYPE_VECTOR;
        out->elem = calloc(1, sizeof *out->elem);
        if (!out->elem)
            return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
        skip_space(p);
        cx_err rc = parse_type(p, depth + 1, out->elem, e);
        if (rc != CX_OK)
            return rc;
        skip_space(p);
        if (!take(p, ">"))
            return cx_error_set(e, CX_ERR_FORMAT, "sui: type '%s': '>' expected at %zu", p->s,
                                p->pos);
        return CX_OK;
    }
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++) {
        size_t n = strlen(prims[i].name);
        if (strncmp(p->s + p->pos, prims[i].name, n) != 0)
            continue;
        /* only after the match: the input may end before n characters */
        char next = p->s[p->pos + n];
        if (!isalnum((unsigned char)next) && next != '_' && next != ':') {
            p->pos += n;
            out->kind = prims[i].kind;
            return CX_OK;
        }
    }
    return parse_struct(p, depth, out, e);
}

cx_err cx_sui_type_parse(const char *s, cx_sui_type *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return cx_error_set(e, CX_ERR_ARG, "sui: no type");
    type_parser p = {s, 0};
    skip_space(&p);
    cx_err rc = parse_type(&p, 0, out, e);
    if (rc == CX_OK) {
        skip_space(&p);
        if (s[p.pos] != 0)
            rc = cx_error_set(e, CX_ERR_FORMAT, "sui: type '%s': trailing text at %zu", s, p.pos);
    }
    if (rc != CX_OK)
        cx_sui_type_free(out);
    return rc;
}

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int failed;
} strbuf;

static void sb_add(strbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static void format_type(strbuf *b, const cx_sui_type *t)
{
    if (t->kind == CX_SUI_TYPE_VECTOR) {
        sb_add(b, "vector<");
        format_type(b, t->elem);
        sb_add(b, ">");
        return;
    }
    if (t->kind != CX_SUI_TYPE_STRUCT) {
        for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
            if (prims[i].kind == t->kind)
                sb_add(b, prims[i].name);
        return;
    }
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&t->address, hex);
    sb_add(b, hex);
    sb_add(b, "::");
    sb_add(b, t->module);
    sb_add(b, "::");
    sb_add(b, t->name);
    if (t->n_params) {
        sb_add(b, "<");
        for (size_t i = 0; i < t->n_params; i++) {
            if (i)
                sb_add(b, ", ");
            format_type(b, &t->params[i]);
        }
        sb_add(b, ">");
    }
}

cx_err cx_sui_type_format(const cx_sui_type *t, char **out, cx_error *e)
{
    strbuf b = {0};
    format_type(&b, t);
    if (b.failed || !b.p) {
        free(b.p);
        *out = NULL;
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    }
    *out = b.p;
    return CX_OK;
}

static void put_type(cx_bcs_writer *w, const cx_sui_type *t)
{
    cx_bcs_put_uleb(w, (uint64_t)t->kind);
    if (t->kind == CX_SUI_TYPE_VECTOR) {
        put_type(w, t->elem);
    } else if (t->kind == CX_SUI_TYPE_STRUCT) {
        cx_bcs_put_fixed(w, t->address.b, CX_CHAIN_ID_LEN);
        cx_bcs_put_bytes(w, (const uint8_t *)t->module, strlen(t->module));
        cx_bcs_put_bytes(w, (const uint8_t *)t->name, strlen(t->name));
        cx_bcs_put_uleb(w, t->n_params);
        for (size_t i = 0; i < t->n_params; i++)
            put_type(w, &t->params[i]);
    }
}

static cx_err get_ident(cx_bcs_reader *r, char out[CX_SUI_IDENT_MAX + 1], const char *what,
                        cx_error *e)
{
    const uint8_t *p;
    size_t n;
    cx_err rc = cx_bcs_get_bytes(r, CX_SUI_IDENT_MAX, &p, &n, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "sui: %s: ", what);
    if (!ident_ok((const char *)p, n))
        return cx_error_set(e, CX_ERR_FORMAT, "sui: %s is not a Move identifier", what);
    memcpy(out, p, n);
    out[n] = 0;
    return CX_OK;
}

static cx_err get_type(cx_bcs_reader *r, int depth, cx_sui_type *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    if (depth > CX_SUI_TYPE_DEPTH_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "sui: type tag nests deeper than %d",
                            CX_SUI_TYPE_DEPTH_MAX);
    uint64_t tag;
    cx_err rc = cx_bcs_get_uleb(r, &tag, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "sui: type tag: ");
    if (tag > CX_SUI_TYPE_U256)
        return cx_error_set(e, CX_ERR_FORMAT, "sui: type tag %llu unknown",
                            (unsigned long long)tag);
    out->kind = (cx_sui_type_kind)tag;
    if (tag == CX_SUI_TYPE_VECTOR) {
        if (!(out->elem = calloc(1, sizeof *out->elem)))
            return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
        return get_type(r, depth + 1, out->elem, e);
    }
    if (tag != CX_SUI_TYPE_STRUCT)
        return CX_OK;
    uint64_t n;
    if ((rc = cx_bcs_get_fixed(r, out->address.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = get_ident(r, out->module, "struct module", e)) != CX_OK ||
        (rc = get_ident(r, out->name, "struct name", e)) != CX_OK ||
        (rc = cx_bcs_get_uleb(r, &n, e)) != CX_OK)
        return rc;
    if (n > CX_SUI_TYPE_ARGS_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "sui: struct tag with %llu type parameters",
                            (unsigned long long)n);
    if (n && !(out->params = calloc((size_t)n, sizeof *out->params)))
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    for (uint64_t i = 0; i < n; i++) {
        out->n_params++;
        if ((rc = get_type(r, depth + 1, &out->params[i], e)) != CX_OK)
            return rc;
    }
    return CX_OK;
}

/* -------------------------------------------------------------- builder -- */

void cx_sui_tx_init(cx_sui_tx *tx)
{
    memset(tx, 0, sizeof *tx);
}

static void command_free(cx_sui_command *c)
{
    for (size_t i = 0; i < c->n_type_args; i++)
        cx_sui_type_free(&c->type_args[i]);
    free(c->type_args);
    free(c->args);
    memset(c, 0, sizeof *c);
}

void cx_sui_tx_free(cx_sui_tx *tx)
{
    if (!tx)
        return;
    for (size_t i = 0; i < tx->n_inputs; i++)
        free(tx->inputs[i].pure);
    free(tx->inputs);
    for (size_t i = 0; i < tx->n_commands; i++)
        command_free(&tx->commands[i]);
    free(tx->commands);
    free(tx->gas_payment);
    memset(tx, 0, sizeof *tx);
}

cx_sui_arg cx_sui_gas_coin(void)
{
    cx_sui_arg a = {CX_SUI_ARG_GAS_COIN, 0, 0};
    return a;
}

cx_sui_arg cx_sui_nested(cx_sui_arg result, uint16_t i)
{
    cx_sui_arg a = {CX_SUI_ARG_NESTED_RESULT, result.index, i};
    return a;
}

static cx_err add_input(cx_sui_tx *tx, cx_sui_input *in, cx_sui_arg *out, cx_error *e)
{
    if (tx->n_inputs >= CX_SUI_INPUTS_MAX) {
        free(in->pure);
        return cx_error_set(e, CX_ERR_LIMIT, "sui: more than %d inputs", CX_SUI_INPUTS_MAX);
    }
    cx_sui_input *ni = realloc(tx->inputs, (tx->n_inputs + 1) * sizeof *ni);
    if (!ni) {
        free(in->pure);
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    }
    tx->inputs = ni;
    ni[tx->n_inputs] = *in;
    if (out) {
        out->kind = CX_SUI_ARG_INPUT;
        out->index = (uint16_t)tx->n_inputs;
        out->sub = 0;
    }
    tx->n_inputs++;
    return CX_OK;
}

cx_err cx_sui_tx_pure(cx_sui_tx *tx, const uint8_t *bcs, size_t len, cx_sui_arg *out, cx_error *e)
{
    if (len > CX_SUI_PURE_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "sui: pure input of %zu bytes (max %d)", len,
                            CX_SUI_PURE_MAX);
    cx_sui_input in = {0};
    in.kind = CX_SUI_INPUT_PURE;
    in.pure = malloc(len ? len : 1);
    if (!in.pure)
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    if (len)
        memcpy(in.pure, bcs, len);
    in.pure_len = len;
    return add_input(tx, &in, out, e);
}

cx_err cx_sui_tx_pure_u64(cx_sui_tx *tx, uint64_t v, cx_sui_arg *out, cx_error *e)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return cx_sui_tx_pure(tx, b, sizeof b, out, e);
}

cx_err cx_sui_tx_pure_address(cx_sui_tx *tx, const cx_chain_addr *a, cx_sui_arg *out, cx_error *e)
{
    return cx_sui_tx_pure(tx, a->b, CX_CHAIN_ID_LEN, out, e);
}

cx_err cx_sui_tx_pure_bytes(cx_sui_tx *tx, const uint8_t *p, size_t n, cx_sui_arg *out, cx_error *e)
{
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_bytes(&w, p, n);
    uint8_t *b;
    size_t len;
    cx_err rc = cx_bcs_writer_finish(&w, &b, &len, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_sui_tx_pure(tx, b, len, out, e);
    free(b);
    return rc;
}

cx_err cx_sui_tx_object(cx_sui_tx *tx, const cx_sui_object_ref *ref, cx_sui_arg *out, cx_error *e)
{
    cx_sui_input in = {0};
    in.kind = CX_SUI_INPUT_OWNED;
    in.ref = *ref;
    return add_input(tx, &in, out, e);
}

cx_err cx_sui_tx_shared(cx_sui_tx *tx, const cx_chain_id *id, uint64_t initial_shared_version,
                        int is_mutable, cx_sui_arg *out, cx_error *e)
{
    cx_sui_input in = {0};
    in.kind = CX_SUI_INPUT_SHARED;
    in.ref.id = *id;
    in.initial_shared_version = initial_shared_version;
    in.is_mutable = is_mutable ? 1 : 0;
    return add_input(tx, &in, out, e);
}

cx_err cx_sui_tx_receiving(cx_sui_tx *tx, const cx_sui_object_ref *ref, cx_sui_arg *out,
                           cx_error *e)
{
    cx_sui_input in = {0};
    in.kind = CX_SUI_INPUT_RECEIVING;
    in.ref = *ref;
    return add_input(tx, &in, out, e);
}

/* Appends c (taking its allocations, freed on failure); *result names its result. */
static cx_err add_command(cx_sui_tx *tx, cx_sui_command *c, cx_sui_arg *result, cx_error *e)
{
    if (tx->n_commands >= CX_SUI_COMMANDS_MAX) {
        command_free(c);
        return cx_error_set(e, CX_ERR_LIMIT, "sui: more than %d commands", CX_SUI_COMMANDS_MAX);
    }
    cx_sui_command *nc = realloc(tx->commands, (tx->n_commands + 1) * sizeof *nc);
    if (!nc) {
        command_free(c);
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    }
    tx->commands = nc;
    nc[tx->n_commands] = *c;
    if (result) {
        result->kind = CX_SUI_ARG_RESULT;
        result->index = (uint16_t)tx->n_commands;
        result->sub = 0;
    }
    tx->n_commands++;
    return CX_OK;
}

static cx_err copy_args(cx_sui_command *c, const cx_sui_arg *args, size_t n, cx_error *e)
{
    if (n > CX_SUI_COMMAND_ARGS_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "sui: a command with %zu arguments (max %d)", n,
                            CX_SUI_COMMAND_ARGS_MAX);
    if (n == 0)
        return CX_OK;
    c->args = malloc(n * sizeof *c->args);
    if (!c->args)
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    memcpy(c->args, args, n * sizeof *args);
    c->n_args = n;
    return CX_OK;
}

static cx_err parse_type_args(cx_sui_command *c, const char *const *types, size_t n, cx_error *e)
{
    if (n > CX_SUI_TYPE_ARGS_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "sui: %zu type arguments (max %d)", n,
                            CX_SUI_TYPE_ARGS_MAX);
    if (n == 0)
        return CX_OK;
    c->type_args = calloc(n, sizeof *c->type_args);
    if (!c->type_args)
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    for (size_t i = 0; i < n; i++) {
        cx_err rc = cx_sui_type_parse(types[i], &c->type_args[i], e);
        if (rc != CX_OK)
            return rc;
        c->n_type_args++;
    }
    return CX_OK;
}

cx_err cx_sui_tx_move_call(cx_sui_tx *tx, const cx_chain_addr *package, const char *module,
                           const char *function, const char *const *type_args, size_t n_type_args,
                           const cx_sui_arg *args, size_t n_args, cx_sui_arg *result, cx_error *e)
{
    if (!module || !function || !ident_ok(module, strlen(module)) ||
        !ident_ok(function, strlen(function)))
        return cx_error_set(e, CX_ERR_ARG, "sui: move call %s::%s: not Move identifiers",
                            module ? module : "?", function ? function : "?");
    cx_sui_command c = {0};
    c.kind = CX_SUI_CMD_MOVE_CALL;
    c.package = *package;
    snprintf(c.module, sizeof c.module, "%s", module);
    snprintf(c.function, sizeof c.function, "%s", function);
    cx_err rc = parse_type_args(&c, type_args, n_type_args, e);
    if (rc == CX_OK)
        rc = copy_args(&c, args, n_args, e);
    if (rc != CX_OK) {
        command_free(&c);
        return rc;
    }
    return add_command(tx, &c, result, e);
}

static cx_err simple_command(cx_sui_tx *tx, cx_sui_command_kind kind, cx_sui_arg target,
                             const cx_sui_arg *args, size_t n, cx_sui_arg *result, cx_error *e)
{
    cx_sui_command c = {0};
    c.kind = kind;
    c.target = target;
    cx_err rc = copy_args(&c, args, n, e);
    if (rc != CX_OK) {
        command_free(&c);
        return rc;
    }
    return add_command(tx, &c, result, e);
}

cx_err cx_sui_tx_split_coins(cx_sui_tx *tx, cx_sui_arg coin, const cx_sui_arg *amounts, size_t n,
                             cx_sui_arg *result, cx_error *e)
{
    return simple_command(tx, CX_SUI_CMD_SPLIT_COINS, coin, amounts, n, result, e);
}

cx_err cx_sui_tx_merge_coins(cx_sui_tx *tx, cx_sui_arg destination, const cx_sui_arg *sources,
                             size_t n, cx_error *e)
{
    return simple_command(tx, CX_SUI_CMD_MERGE_COINS, destination, sources, n, NULL, e);
}

cx_err cx_sui_tx_transfer_objects(cx_sui_tx *tx, const cx_sui_arg *objects, size_t n,
                                  cx_sui_arg address, cx_error *e)
{
    return simple_command(tx, CX_SUI_CMD_TRANSFER_OBJECTS, address, objects, n, NULL, e);
}

cx_err cx_sui_tx_make_move_vec(cx_sui_tx *tx, const char *elem_type, const cx_sui_arg *elements,
                               size_t n, cx_sui_arg *result, cx_error *e)
{
    cx_sui_command c = {0};
    c.kind = CX_SUI_CMD_MAKE_MOVE_VEC;
    cx_err rc = elem_type ? parse_type_args(&c, &elem_type, 1, e) : CX_OK;
    if (rc == CX_OK)
        rc = copy_args(&c, elements, n, e);
    if (rc != CX_OK) {
        command_free(&c);
        return rc;
    }
    return add_command(tx, &c, result, e);
}

/* -------------------------------------------------------------- encoder -- */

static void put_ref(cx_bcs_writer *w, const cx_sui_object_ref *r)
{
    cx_bcs_put_fixed(w, r->id.b, CX_CHAIN_ID_LEN);
    cx_bcs_put_u64(w, r->version);
    cx_bcs_put_bytes(w, r->digest, CX_SUI_DIGEST_LEN);
}

static void put_arg(cx_bcs_writer *w, const cx_sui_arg *a)
{
    cx_bcs_put_uleb(w, (uint64_t)a->kind);
    if (a->kind != CX_SUI_ARG_GAS_COIN)
        cx_bcs_put_u16(w, a->index);
    if (a->kind == CX_SUI_ARG_NESTED_RESULT)
        cx_bcs_put_u16(w, a->sub);
}

/* An argument names an input that exists or a command before the one using it. */
static cx_err arg_check(const cx_sui_tx *tx, size_t cmd, const cx_sui_arg *a, cx_error *e)
{
    switch (a->kind) {
    case CX_SUI_ARG_GAS_COIN:
        return CX_OK;
    case CX_SUI_ARG_INPUT:
        if (a->index < tx->n_inputs)
            return CX_OK;
        return cx_error_set(e, CX_ERR_ARG, "sui: command %zu uses input %u of %zu", cmd, a->index,
                            tx->n_inputs);
    case CX_SUI_ARG_RESULT:
    case CX_SUI_ARG_NESTED_RESULT:
        if (a->index < cmd)
            return CX_OK;
        return cx_error_set(e, CX_ERR_ARG, "sui: command %zu uses the result of command %u", cmd,
                            a->index);
    }
    return cx_error_set(e, CX_ERR_ARG, "sui: argument kind %d unknown", (int)a->kind);
}

static cx_err command_check(const cx_sui_tx *tx, size_t i, cx_error *e)
{
    const cx_sui_command *c = &tx->commands[i];
    cx_err rc = CX_OK;
    for (size_t j = 0; j < c->n_args && rc == CX_OK; j++)
        rc = arg_check(tx, i, &c->args[j], e);
    if (rc == CX_OK && c->kind != CX_SUI_CMD_MOVE_CALL && c->kind != CX_SUI_CMD_MAKE_MOVE_VEC)
        rc = arg_check(tx, i, &c->target, e);
    if (rc == CX_OK && c->kind == CX_SUI_CMD_MAKE_MOVE_VEC && c->n_type_args > 1)
        rc = cx_error_set(e, CX_ERR_ARG, "sui: MakeMoveVec takes at most one element type");
    return rc;
}

/* BCS ProgrammableTransaction: the inputs and the commands. */
static void put_ptb(cx_bcs_writer *w, const cx_sui_tx *tx)
{
    cx_bcs_put_uleb(w, tx->n_inputs);
    for (size_t i = 0; i < tx->n_inputs; i++) {
        const cx_sui_input *in = &tx->inputs[i];
        if (in->kind == CX_SUI_INPUT_PURE) {
            cx_bcs_put_uleb(w, 0);
            cx_bcs_put_bytes(w, in->pure, in->pure_len);
            continue;
        }
        cx_bcs_put_uleb(w, 1); /* CallArg::Object */
        if (in->kind == CX_SUI_INPUT_SHARED) {
            cx_bcs_put_uleb(w, 1);
            cx_bcs_put_fixed(w, in->ref.id.b, CX_CHAIN_ID_LEN);
            cx_bcs_put_u64(w, in->initial_shared_version);
            cx_bcs_put_u8(w, in->is_mutable ? 1 : 0);
        } else {
            cx_bcs_put_uleb(w, in->kind == CX_SUI_INPUT_OWNED ? 0 : 2);
            put_ref(w, &in->ref);
        }
    }
    cx_bcs_put_uleb(w, tx->n_commands);
    for (size_t i = 0; i < tx->n_commands; i++) {
        const cx_sui_command *c = &tx->commands[i];
        cx_bcs_put_uleb(w, (uint64_t)c->kind);
        switch (c->kind) {
        case CX_SUI_CMD_MOVE_CALL:
            cx_bcs_put_fixed(w, c->package.b, CX_CHAIN_ID_LEN);
            cx_bcs_put_bytes(w, (const uint8_t *)c->module, strlen(c->module));
            cx_bcs_put_bytes(w, (const uint8_t *)c->function, strlen(c->function));
            cx_bcs_put_uleb(w, c->n_type_args);
            for (size_t j = 0; j < c->n_type_args; j++)
                put_type(w, &c->type_args[j]);
            break;
        case CX_SUI_CMD_TRANSFER_OBJECTS:
            break;
        case CX_SUI_CMD_SPLIT_COINS:
        case CX_SUI_CMD_MERGE_COINS:
            put_arg(w, &c->target);
            break;
        case CX_SUI_CMD_MAKE_MOVE_VEC: /* Option<TypeTag> */
            cx_bcs_put_uleb(w, c->n_type_args);
            if (c->n_type_args)
                put_type(w, &c->type_args[0]);
            break;
        }
        cx_bcs_put_uleb(w, c->n_args);
        for (size_t j = 0; j < c->n_args; j++)
            put_arg(w, &c->args[j]);
        if (c->kind == CX_SUI_CMD_TRANSFER_OBJECTS)
            put_arg(w, &c->target);
    }
}

static cx_err commands_check(const cx_sui_tx *tx, cx_error *e)
{
    for (size_t i = 0; i < tx->n_commands; i++) {
        cx_err rc = command_check(tx, i, e);
        if (rc != CX_OK)
            return rc;
    }
    return CX_OK;
}

cx_err cx_sui_ptb_encode(const cx_sui_tx *tx, uint8_t **out, size_t *len, cx_error *e)
{
    *out = NULL;
    *len = 0;
    cx_err rc = commands_check(tx, e);
    if (rc != CX_OK)
        return rc;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    put_ptb(&w, tx);
    return cx_bcs_writer_finish(&w, out, len, e);
}

cx_err cx_sui_tx_encode(const cx_sui_tx *tx, uint8_t **out, size_t *len, cx_error *e)
{
    *out = NULL;
    *len = 0;
    if (tx->n_gas_payment > CX_SUI_GAS_OBJECTS_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "sui: %zu gas coins (max %d)", tx->n_gas_payment,
                            CX_SUI_GAS_OBJECTS_MAX);
    cx_err rc = commands_check(tx, e);
    if (rc != CX_OK)
        return rc;
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_uleb(&w, 0); /* TransactionData::V1 */
    cx_bcs_put_uleb(&w, 0); /* TransactionKind::ProgrammableTransaction */
    put_ptb(&w, tx);
    cx_bcs_put_fixed(&w, tx->sender.b, CX_CHAIN_ID_LEN);
    cx_bcs_put_uleb(&w, tx->n_gas_payment);
    for (size_t i = 0; i < tx->n_gas_payment; i++)
        put_ref(&w, &tx->gas_payment[i]);
    cx_bcs_put_fixed(&w, tx->gas_owner.b, CX_CHAIN_ID_LEN);
    cx_bcs_put_u64(&w, tx->gas_price);
    cx_bcs_put_u64(&w, tx->gas_budget);
    if (tx->has_expiration_epoch) {
        cx_bcs_put_uleb(&w, 1);
        cx_bcs_put_u64(&w, tx->expiration_epoch);
    } else {
        cx_bcs_put_uleb(&w, 0);
    }
    return cx_bcs_writer_finish(&w, out, len, e);
}

/* -------------------------------------------------------------- decoder -- */

static cx_err get_count(cx_bcs_reader *r, uint64_t max, const char *what, size_t *n, cx_error *e)
{
    uint64_t v;
    cx_err rc = cx_bcs_get_uleb(r, &v, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "sui: %s count: ", what);
    if (v > max)
        return cx_error_set(e, CX_ERR_LIMIT, "sui: %llu %s (max %llu)", (unsigned long long)v, what,
                            (unsigned long long)max);
    /* every element takes at least one byte: a count larger than the rest is a lie */
    if (v > r->len - r->off)
        return cx_error_set(e, CX_ERR_FORMAT, "sui: %llu %s in %zu bytes", (unsigned long long)v,
                            what, r->len - r->off);
    *n = (size_t)v;
    return CX_OK;
}

static cx_err get_ref(cx_bcs_reader *r, cx_sui_object_ref *ref, cx_error *e)
{
    const uint8_t *p;
    size_t n;
    cx_err rc;
    if ((rc = cx_bcs_get_fixed(r, ref->id.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = cx_bcs_get_u64(r, &ref->version, e)) != CX_OK ||
        (rc = cx_bcs_get_bytes(r, CX_SUI_DIGEST_LEN, &p, &n, e)) != CX_OK)
        return cx_error_wrap(rc, e, "sui: object ref: ");
    if (n != CX_SUI_DIGEST_LEN)
        return cx_error_set(e, CX_ERR_FORMAT, "sui: object digest of %zu bytes", n);
    memcpy(ref->digest, p, n);
    return CX_OK;
}

static cx_err get_arg(cx_bcs_reader *r, cx_sui_arg *a, cx_error *e)
{
    uint64_t kind;
    cx_err rc = cx_bcs_get_uleb(r, &kind, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "sui: argument: ");
    if (kind > CX_SUI_ARG_NESTED_RESULT)
        return cx_error_set(e, CX_ERR_FORMAT, "sui: argument kind %llu unknown",
                            (unsigned long long)kind);
    a->kind = (cx_sui_arg_kind)kind;
    a->index = a->sub = 0;
    if (kind != CX_SUI_ARG_GAS_COIN && (rc = cx_bcs_get_u16(r, &a->index, e)) != CX_OK)
        return rc;
    if (kind == CX_SUI_ARG_NESTED_RESULT && (rc = cx_bcs_get_u16(r, &a->sub, e)) != CX_OK)
        return rc;
    return CX_OK;
}

static cx_err get_args(cx_bcs_reader *r, cx_sui_command *c, cx_error *e)
{
    size_t n;
    cx_err rc = get_count(r, CX_SUI_COMMAND_ARGS_MAX, "command arguments", &n, e);
    if (rc != CX_OK || n == 0)
        return rc;
    if (!(c->args = calloc(n, sizeof *c->args)))
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    for (size_t i = 0; i < n; i++) {
        if ((rc = get_arg(r, &c->args[i], e)) != CX_OK)
            return rc;
        c->n_args++;
    }
    return CX_OK;
}

static cx_err get_input(cx_bcs_reader *r, cx_sui_input *in, cx_error *e)
{
    uint64_t kind, obj;
    cx_err rc = cx_bcs_get_uleb(r, &kind, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "sui: input: ");
    if (kind == 0) {
        const uint8_t *p;
        size_t n;
        if ((rc = cx_bcs_get_bytes(r, CX_SUI_PURE_MAX, &p, &n, e)) != CX_OK)
            return cx_error_wrap(rc, e, "sui: pure input: ");
        in->kind = CX_SUI_INPUT_PURE;
        if (!(in->pure = malloc(n ? n : 1)))
            return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
        if (n)
            memcpy(in->pure, p, n);
        in->pure_len = n;
        return CX_OK;
    }
    if (kind != 1)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "sui: call argument kind %llu not supported",
                            (unsigned long long)kind);
    if ((rc = cx_bcs_get_uleb(r, &obj, e)) != CX_OK)
        return cx_error_wrap(rc, e, "sui: object input: ");
    switch (obj) {
    case 0:
        in->kind = CX_SUI_INPUT_OWNED;
        return get_ref(r, &in->ref, e);
    case 1:
        in->kind = CX_SUI_INPUT_SHARED;
        if ((rc = cx_bcs_get_fixed(r, in->ref.id.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
            (rc = cx_bcs_get_u64(r, &in->initial_shared_version, e)) != CX_OK ||
            (rc = cx_bcs_get_bool(r, &in->is_mutable, e)) != CX_OK)
            return cx_error_wrap(rc, e, "sui: shared object: ");
        return CX_OK;
    case 2:
        in->kind = CX_SUI_INPUT_RECEIVING;
        return get_ref(r, &in->ref, e);
    }
    return cx_error_set(e, CX_ERR_FORMAT, "sui: object argument kind %llu unknown",
                        (unsigned long long)obj);
}

static cx_err get_command(cx_bcs_reader *r, cx_sui_command *c, cx_error *e)
{
    uint64_t kind;
    size_t n;
    cx_err rc = cx_bcs_get_uleb(r, &kind, e);
    if (rc != CX_OK)
        return cx_error_wrap(rc, e, "sui: command: ");
    switch (kind) {
    case CX_SUI_CMD_MOVE_CALL:
        c->kind = CX_SUI_CMD_MOVE_CALL;
        if ((rc = cx_bcs_get_fixed(r, c->package.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
            (rc = get_ident(r, c->module, "move call module", e)) != CX_OK ||
            (rc = get_ident(r, c->function, "move call function", e)) != CX_OK ||
            (rc = get_count(r, CX_SUI_TYPE_ARGS_MAX, "type arguments", &n, e)) != CX_OK)
            return rc;
        if (n && !(c->type_args = calloc(n, sizeof *c->type_args)))
            return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
        for (size_t i = 0; i < n; i++) {
            c->n_type_args++;
            if ((rc = get_type(r, 0, &c->type_args[i], e)) != CX_OK)
                return rc;
        }
        return get_args(r, c, e);
    case CX_SUI_CMD_TRANSFER_OBJECTS:
        c->kind = CX_SUI_CMD_TRANSFER_OBJECTS;
        if ((rc = get_args(r, c, e)) != CX_OK)
            return rc;
        return get_arg(r, &c->target, e);
    case CX_SUI_CMD_SPLIT_COINS:
    case CX_SUI_CMD_MERGE_COINS:
        c->kind = (cx_sui_command_kind)kind;
        if ((rc = get_arg(r, &c->target, e)) != CX_OK)
            return rc;
        return get_args(r, c, e);
    case CX_SUI_CMD_MAKE_MOVE_VEC: {
        uint64_t some;
        c->kind = CX_SUI_CMD_MAKE_MOVE_VEC;
        if ((rc = cx_bcs_get_uleb(r, &some, e)) != CX_OK)
            return rc;
        if (some > 1)
            return cx_error_set(e, CX_ERR_FORMAT, "sui: option tag %llu", (unsigned long long)some);
        if (some) {
            if (!(c->type_args = calloc(1, sizeof *c->type_args)))
                return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
            c->n_type_args = 1;
            if ((rc = get_type(r, 0, &c->type_args[0], e)) != CX_OK)
                return rc;
        }
        return get_args(r, c, e);
    }
    }
    return cx_error_set(e, CX_ERR_UNSUPPORTED, "sui: command kind %llu not supported",
                        (unsigned long long)kind);
}

/* BCS ProgrammableTransaction into tx's inputs and commands. */
static cx_err get_ptb(cx_bcs_reader *r, cx_sui_tx *tx, cx_error *e)
{
    size_t n;
    cx_err rc;
    if ((rc = get_count(r, CX_SUI_INPUTS_MAX, "inputs", &n, e)) != CX_OK)
        return rc;
    if (n && !(tx->inputs = calloc(n, sizeof *tx->inputs)))
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    for (size_t i = 0; i < n; i++) {
        tx->n_inputs++;
        if ((rc = get_input(r, &tx->inputs[i], e)) != CX_OK)
            return rc;
    }
    if ((rc = get_count(r, CX_SUI_COMMANDS_MAX, "commands", &n, e)) != CX_OK)
        return rc;
    if (n && !(tx->commands = calloc(n, sizeof *tx->commands)))
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    for (size_t i = 0; i < n; i++) {
        tx->n_commands++;
        if ((rc = get_command(r, &tx->commands[i], e)) != CX_OK)
            return rc;
    }
    return CX_OK;
}

static cx_err decode_body(cx_bcs_reader *r, cx_sui_tx *tx, cx_error *e)
{
    uint64_t tag;
    size_t n;
    cx_err rc;
    if ((rc = cx_bcs_get_uleb(r, &tag, e)) != CX_OK)
        return rc;
    if (tag != 0)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "sui: TransactionData version %llu",
                            (unsigned long long)tag);
    if ((rc = cx_bcs_get_uleb(r, &tag, e)) != CX_OK)
        return rc;
    if (tag != 0)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "sui: transaction kind %llu is not a programmable transaction",
                            (unsigned long long)tag);
    if ((rc = get_ptb(r, tx, e)) != CX_OK)
        return rc;
    if ((rc = cx_bcs_get_fixed(r, tx->sender.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = get_count(r, CX_SUI_GAS_OBJECTS_MAX, "gas coins", &n, e)) != CX_OK)
        return rc;
    if (n && !(tx->gas_payment = calloc(n, sizeof *tx->gas_payment)))
        return cx_error_set(e, CX_ERR_NOMEM, "sui: out of memory");
    for (size_t i = 0; i < n; i++) {
        tx->n_gas_payment++;
        if ((rc = get_ref(r, &tx->gas_payment[i], e)) != CX_OK)
            return rc;
    }
    if ((rc = cx_bcs_get_fixed(r, tx->gas_owner.b, CX_CHAIN_ID_LEN, e)) != CX_OK ||
        (rc = cx_bcs_get_u64(r, &tx->gas_price, e)) != CX_OK ||
        (rc = cx_bcs_get_u64(r, &tx->gas_budget, e)) != CX_OK ||
        (rc = cx_bcs_get_uleb(r, &tag, e)) != CX_OK)
        return rc;
    if (tag == 1) {
        tx->has_expiration_epoch = 1;
        rc = cx_bcs_get_u64(r, &tx->expiration_epoch, e);
    } else if (tag != 0) {
        rc = cx_error_set(e, CX_ERR_UNSUPPORTED, "sui: transaction expiration kind %llu",
                          (unsigned long long)tag);
    }
    if (rc == CX_OK)
        rc = cx_bcs_reader_end(r, e);
    if (rc == CX_OK)
        rc = commands_check(tx, e);
    return rc;
}

cx_err cx_sui_tx_decode(const uint8_t *b, size_t len, cx_sui_tx *out, cx_error *e)
{
    cx_sui_tx_init(out);
    if (!b)
        return cx_error_set(e, CX_ERR_ARG, "sui: no transaction bytes");
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, b, len);
    cx_err rc = decode_body(&r, out, e);
    if (rc != CX_OK) {
        cx_sui_tx_free(out);
        return cx_error_wrap(rc, e, "sui: TransactionData: ");
    }
    return CX_OK;
}

cx_err cx_sui_ptb_decode(const uint8_t *b, size_t len, cx_sui_tx *out, cx_error *e)
{
    cx_sui_tx_init(out);
    if (!b)
        return cx_error_set(e, CX_ERR_ARG, "sui: no transaction bytes");
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, b, len);
    cx_err rc = get_ptb(&r, out, e);
    if (rc == CX_OK)
        rc = cx_bcs_reader_end(&r, e);
    if (rc == CX_OK)
        rc = commands_check(out, e);
    if (rc != CX_OK) {
        cx_sui_tx_free(out);
        return cx_error_wrap(rc, e, "sui: ProgrammableTransaction: ");
    }
    return CX_OK;
}

/* ------------------------------------------------------------- signing -- */

cx_err cx_sui_intent_digest(uint8_t scope, const uint8_t *msg, size_t len,
                            uint8_t out[CX_SUI_DIGEST_LEN], cx_error *e)
{
    const uint8_t intent[3] = {scope, 0, 0}; /* scope, version V0, app id Sui */
    crypto_generichash_state st;
    if (crypto_generichash_init(&st, NULL, 0, CX_SUI_DIGEST_LEN) != 0 ||
        crypto_generichash_update(&st, intent, sizeof intent) != 0 ||
        crypto_generichash_update(&st, msg, len) != 0 ||
        crypto_generichash_final(&st, out, CX_SUI_DIGEST_LEN) != 0)
        return cx_error_set(e, CX_ERR_CRYPTO, "sui: BLAKE2b failed");
    return CX_OK;
}

cx_err cx_sui_tx_digest(const uint8_t *tx, size_t len, uint8_t out[CX_SUI_DIGEST_LEN], cx_error *e)
{
    static const char tag[] = "TransactionData::";
    crypto_generichash_state st;
    if (crypto_generichash_init(&st, NULL, 0, CX_SUI_DIGEST_LEN) != 0 ||
        crypto_generichash_update(&st, (const uint8_t *)tag, sizeof tag - 1) != 0 ||
        crypto_generichash_update(&st, tx, len) != 0 ||
        crypto_generichash_final(&st, out, CX_SUI_DIGEST_LEN) != 0)
        return cx_error_set(e, CX_ERR_CRYPTO, "sui: BLAKE2b failed");
    return CX_OK;
}

/* flag 0x00 || Ed25519(digest) || public key: a Sui signature over an intent digest. */
static cx_err sign_digest(const cx_chain_key *k, const uint8_t digest[CX_SUI_DIGEST_LEN],
                          uint8_t out[CX_SUI_SIGNATURE_LEN], cx_error *e)
{
    cx_err rc = cx_chain_key_sign(k, digest, CX_SUI_DIGEST_LEN, out + 1, e);
    if (rc != CX_OK)
        return rc;
    out[0] = 0x00; /* Ed25519 */
    memcpy(out + 1 + CX_CHAIN_ED25519_SIG_LEN, cx_chain_key_public(k), CX_CHAIN_ED25519_PK_LEN);
    return CX_OK;
}

cx_err cx_sui_tx_sign(const cx_chain_key *k, const uint8_t *tx, size_t len,
                      uint8_t out[CX_SUI_SIGNATURE_LEN], cx_error *e)
{
    uint8_t digest[CX_SUI_DIGEST_LEN];
    cx_err rc = cx_sui_intent_digest(CX_SUI_INTENT_TRANSACTION, tx, len, digest, e);
    return rc == CX_OK ? sign_digest(k, digest, out, e) : rc;
}

cx_err cx_sui_personal_message_digest(const uint8_t *msg, size_t len,
                                      uint8_t out[CX_SUI_DIGEST_LEN], cx_error *e)
{
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    cx_bcs_put_bytes(&w, msg, len);
    uint8_t *b;
    size_t n;
    cx_err rc = cx_bcs_writer_finish(&w, &b, &n, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_sui_intent_digest(CX_SUI_INTENT_PERSONAL_MESSAGE, b, n, out, e);
    free(b);
    return rc;
}

cx_err cx_sui_personal_message_sign(const cx_chain_key *k, const uint8_t *msg, size_t len,
                                    uint8_t out[CX_SUI_SIGNATURE_LEN], cx_error *e)
{
    uint8_t digest[CX_SUI_DIGEST_LEN];
    cx_err rc = cx_sui_personal_message_digest(msg, len, digest, e);
    return rc == CX_OK ? sign_digest(k, digest, out, e) : rc;
}

cx_err cx_sui_personal_message_verify(const uint8_t pk[CX_CHAIN_ED25519_PK_LEN], const uint8_t *msg,
                                      size_t len, const uint8_t sig[CX_CHAIN_ED25519_SIG_LEN],
                                      cx_error *e)
{
    uint8_t digest[CX_SUI_DIGEST_LEN];
    cx_err rc = cx_sui_personal_message_digest(msg, len, digest, e);
    return rc == CX_OK ? cx_ed25519_verify(pk, digest, sizeof digest, sig, e) : rc;
}

/* --------------------------------------------------------------- base58 -- */

static const char B58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

cx_err cx_sui_base58_encode(const uint8_t *b, size_t len, char *out, size_t cap, cx_error *e)
{
    enum { B58_IN_MAX = 128 };
    if (len > B58_IN_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "base58: input of %zu bytes", len);
    uint8_t digits[B58_IN_MAX * 138 / 100 + 1]; /* base 58, least significant first */
    size_t n = 0, zeros = 0;
    while (zeros < len && b[zeros] == 0)
        zeros++;
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = b[i];
        for (size_t j = 0; j < n; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits[n++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    if (zeros + n + 1 > cap)
        return cx_error_set(e, CX_ERR_LIMIT, "base58: output buffer too small");
    size_t o = 0;
    for (size_t i = 0; i < zeros; i++)
        out[o++] = '1';
    for (size_t i = n; i > 0; i--)
        out[o++] = B58[digits[i - 1]];
    out[o] = 0;
    return CX_OK;
}

cx_err cx_sui_base58_decode(const char *s, uint8_t *out, size_t cap, size_t *out_len, cx_error *e)
{
    enum { B58_OUT_MAX = 128 };
    size_t slen = strlen(s);
    if (slen > B58_OUT_MAX * 138 / 100 + 1)
        return cx_error_set(e, CX_ERR_LIMIT, "base58: text of %zu characters", slen);
    uint8_t bytes[B58_OUT_MAX + 1]; /* base 256, least significant first */
    size_t n = 0, zeros = 0;
    while (zeros < slen && s[zeros] == '1')
        zeros++;
    for (size_t i = zeros; i < slen; i++) {
        const char *p = s[i] ? strchr(B58, s[i]) : NULL;
        if (!p)
            return cx_error_set(e, CX_ERR_FORMAT, "base58: '%c' is not a base58 digit", s[i]);
        unsigned carry = (unsigned)(p - B58);
        for (size_t j = 0; j < n; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)carry;
            carry >>= 8;
        }
        while (carry) {
            if (n == sizeof bytes)
                return cx_error_set(e, CX_ERR_LIMIT, "base58: value too long");
            bytes[n++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    if (zeros + n > cap)
        return cx_error_set(e, CX_ERR_LIMIT, "base58: %zu bytes do not fit in %zu", zeros + n, cap);
    memset(out, 0, zeros);
    for (size_t i = 0; i < n; i++)
        out[zeros + i] = bytes[n - 1 - i];
    *out_len = zeros + n;
    return CX_OK;
}

/* --------------------------------------------------------------- bech32 -- */

static const char BECH32[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
static const char PRIVKEY_HRP[] = "suiprivkey";

static uint32_t bech32_polymod(const uint8_t *v, size_t n)
{
    static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    uint32_t chk = 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t top = (uint8_t)(chk >> 25);
        chk = ((chk & 0x1ffffff) << 5) ^ v[i];
        for (int j = 0; j < 5; j++)
            if ((top >> j) & 1)
                chk ^= gen[j];
    }
    return chk;
}

/* hrp expanded || data (5-bit values), for the checksum */
static size_t bech32_expand(const uint8_t *data5, size_t n, uint8_t *out)
{
    size_t h = sizeof PRIVKEY_HRP - 1, o = 0;
    for (size_t i = 0; i < h; i++)
        out[o++] = (uint8_t)(PRIVKEY_HRP[i] >> 5);
    out[o++] = 0;
    for (size_t i = 0; i < h; i++)
        out[o++] = (uint8_t)(PRIVKEY_HRP[i] & 31);
    memcpy(out + o, data5, n);
    return o + n;
}

enum { PRIVKEY_BYTES = 33, PRIVKEY_DATA5 = (PRIVKEY_BYTES * 8 + 4) / 5 /* 53 */ };

cx_err cx_sui_privkey_encode(const uint8_t seed[32], char out[CX_SUI_PRIVKEY_LEN + 1], cx_error *e)
{
    uint8_t raw[PRIVKEY_BYTES], data5[PRIVKEY_DATA5 + 6], buf[2 * sizeof PRIVKEY_HRP + 64];
    raw[0] = 0x00; /* Ed25519 */
    memcpy(raw + 1, seed, 32);
    size_t n = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            data5[n++] = (uint8_t)((acc >> bits) & 31);
        }
    }
    if (bits)
        data5[n++] = (uint8_t)((acc << (5 - bits)) & 31);
    size_t m = bech32_expand(data5, n, buf);
    memset(buf + m, 0, 6);
    uint32_t mod = bech32_polymod(buf, m + 6) ^ 1; /* bech32, not bech32m */
    for (size_t i = 0; i < 6; i++)
        data5[n + i] = (uint8_t)((mod >> (5 * (5 - i))) & 31);
    size_t o = 0;
    memcpy(out, PRIVKEY_HRP, sizeof PRIVKEY_HRP - 1);
    o = sizeof PRIVKEY_HRP - 1;
    out[o++] = '1';
    for (size_t i = 0; i < n + 6; i++)
        out[o++] = BECH32[data5[i]];
    out[o] = 0;
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(data5, sizeof data5);
    sodium_memzero(buf, sizeof buf);
    (void)e;
    return o == CX_SUI_PRIVKEY_LEN ? CX_OK
                                   : cx_error_set(e, CX_ERR_INTERNAL, "suiprivkey: length %zu", o);
}

cx_err cx_sui_privkey_decode(const char *s, uint8_t seed[32], cx_error *e)
{
    if (!s || strlen(s) != CX_SUI_PRIVKEY_LEN)
        return cx_error_set(e, CX_ERR_FORMAT, "suiprivkey: not %d characters", CX_SUI_PRIVKEY_LEN);
    int lower = 0, upper = 0;
    char text[CX_SUI_PRIVKEY_LEN + 1];
    for (size_t i = 0; i < CX_SUI_PRIVKEY_LEN; i++) {
        lower |= islower((unsigned char)s[i]) != 0;
        upper |= isupper((unsigned char)s[i]) != 0;
        text[i] = (char)tolower((unsigned char)s[i]);
    }
    text[CX_SUI_PRIVKEY_LEN] = 0;
    cx_err rc = CX_OK;
    uint8_t data5[PRIVKEY_DATA5 + 6], buf[2 * sizeof PRIVKEY_HRP + 64], raw[PRIVKEY_BYTES + 1];
    size_t h = sizeof PRIVKEY_HRP - 1;
    if (lower && upper)
        rc = cx_error_set(e, CX_ERR_FORMAT, "suiprivkey: mixed case");
    else if (strncmp(text, PRIVKEY_HRP, h) != 0 || text[h] != '1')
        rc = cx_error_set(e, CX_ERR_FORMAT, "suiprivkey: does not start with suiprivkey1");
    for (size_t i = 0; rc == CX_OK && i < PRIVKEY_DATA5 + 6; i++) {
        const char *p = strchr(BECH32, text[h + 1 + i]);
        if (!p || !text[h + 1 + i])
            rc = cx_error_set(e, CX_ERR_FORMAT, "suiprivkey: '%c' is not a bech32 character",
                              text[h + 1 + i]);
        else
            data5[i] = (uint8_t)(p - BECH32);
    }
    if (rc == CX_OK && bech32_polymod(buf, bech32_expand(data5, PRIVKEY_DATA5 + 6, buf)) != 1)
        rc = cx_error_set(e, CX_ERR_FORMAT, "suiprivkey: bad checksum");
    if (rc == CX_OK) {
        unsigned acc = 0, bits = 0;
        size_t n = 0;
        for (size_t i = 0; i < PRIVKEY_DATA5; i++) {
            acc = (acc << 5) | data5[i];
            bits += 5;
            if (bits >= 8) {
                bits -= 8;
                raw[n++] = (uint8_t)((acc >> bits) & 0xff);
            }
        }
        /* the 1 leftover bit must be zero padding */
        if (n != PRIVKEY_BYTES || (acc & ((1u << bits) - 1)) != 0)
            rc = cx_error_set(e, CX_ERR_FORMAT, "suiprivkey: bad padding");
        else if (raw[0] != 0x00)
            rc = cx_error_set(e, CX_ERR_UNSUPPORTED,
                              "suiprivkey: key scheme flag 0x%02x is not Ed25519", raw[0]);
        else
            memcpy(seed, raw + 1, 32);
    }
    sodium_memzero(text, sizeof text);
    sodium_memzero(data5, sizeof data5);
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(raw, sizeof raw);
    return rc;
}
