/* test_chain_sui_diff.c CASES.json OUT.json — the differential test's C side: rebuilds every
 * transaction that tests/sui_diff/gen.mjs built with @mysten/sui, and requires the same
 * TransactionData bytes, intent digest, transaction digest, signature, serialized signature,
 * address and suiprivkey; decodes the SDK's bytes and encodes them again; writes its own bytes
 * for check.mjs. A failing case is printed whole, as a reproducer. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cx_chain.h"

typedef struct ctx {
    json_t *c; /* the case */
    char why[1024];
} ctx;

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* decimal text -> n bytes little endian (u8..u256) */
static int decimal_le(const char *s, uint8_t *out, size_t n)
{
    memset(out, 0, n);
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        unsigned carry = (unsigned)(*s - '0');
        for (size_t i = 0; i < n; i++) {
            carry += out[i] * 10u;
            out[i] = (uint8_t)carry;
            carry >>= 8;
        }
        if (carry)
            return 0;
    }
    return 1;
}

static uint64_t u64_of(const char *s)
{
    uint8_t b[8];
    uint64_t v = 0;
    if (!decimal_le(s, b, 8))
        return 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static int ref_of(json_t *o, cx_sui_object_ref *r, cx_error *e)
{
    size_t n = 0;
    if (cx_sui_address_parse(str(o, "objectId"), &r->id, e) != CX_OK ||
        cx_sui_base58_decode(str(o, "digest"), r->digest, sizeof r->digest, &n, e) != CX_OK ||
        n != 32)
        return 0;
    r->version = u64_of(str(o, "version"));
    return 1;
}

static int add_pure(cx_sui_tx *tx, json_t *in, cx_error *e)
{
    const char *type = str(in, "type"), *v = str(in, "value");
    uint8_t b[32];
    if (!strcmp(type, "u64"))
        return cx_sui_tx_pure_u64(tx, u64_of(v), NULL, e) == CX_OK;
    if (!strcmp(type, "address")) {
        cx_chain_addr a;
        return cx_sui_address_parse(v, &a, e) == CX_OK &&
               cx_sui_tx_pure_address(tx, &a, NULL, e) == CX_OK;
    }
    if (!strcmp(type, "string"))
        return cx_sui_tx_pure_bytes(tx, (const uint8_t *)v, strlen(v), NULL, e) == CX_OK;
    if (!strcmp(type, "vector<u8>")) {
        size_t n = strlen(v) / 2, got = 0;
        uint8_t *p = malloc(n + 1);
        int ok = p && (n == 0 || cx_hex_decode(v, strlen(v), p, n, &got, e) == CX_OK) &&
                 cx_sui_tx_pure_bytes(tx, p, got, NULL, e) == CX_OK;
        free(p);
        return ok;
    }
    if (!strcmp(type, "bool")) {
        b[0] = !strcmp(v, "true");
        return cx_sui_tx_pure(tx, b, 1, NULL, e) == CX_OK;
    }
    static const struct {
        const char *t;
        size_t n;
    } ints[] = {{"u8", 1}, {"u16", 2}, {"u32", 4}, {"u128", 16}, {"u256", 32}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (!strcmp(type, ints[i].t))
            return decimal_le(v, b, ints[i].n) && cx_sui_tx_pure(tx, b, ints[i].n, NULL, e) == CX_OK;
    return 0;
}

static cx_sui_arg arg_of(json_t *a)
{
    cx_sui_arg r = {CX_SUI_ARG_GAS_COIN, 0, 0};
    json_t *in = json_object_get(a, "input"), *res = json_object_get(a, "result");
    if (in) {
        r.kind = CX_SUI_ARG_INPUT;
        r.index = (uint16_t)json_integer_value(in);
    } else if (res) {
        r.kind = CX_SUI_ARG_RESULT;
        r.index = (uint16_t)json_integer_value(res);
        json_t *sub = json_object_get(a, "sub");
        if (json_is_integer(sub))
            r = cx_sui_nested(r, (uint16_t)json_integer_value(sub));
    }
    return r;
}

static cx_sui_arg *args_of(json_t *list, size_t *n)
{
    *n = json_array_size(list);
    cx_sui_arg *a = calloc(*n + 1, sizeof *a);
    for (size_t i = 0; a && i < *n; i++)
        a[i] = arg_of(json_array_get(list, i));
    return a;
}

static int add_command(cx_sui_tx *tx, json_t *c, cx_error *e)
{
    const char *kind = str(c, "kind");
    size_t n = 0;
    cx_err rc = CX_ERR_ARG;
    if (!strcmp(kind, "moveCall")) {
        cx_chain_addr pkg;
        json_t *ta = json_object_get(c, "typeArguments");
        size_t nt = json_array_size(ta);
        const char *types[CX_SUI_TYPE_ARGS_MAX + 1];
        for (size_t i = 0; i < nt && i < CX_SUI_TYPE_ARGS_MAX; i++)
            types[i] = json_string_value(json_array_get(ta, i));
        cx_sui_arg *a = args_of(json_object_get(c, "arguments"), &n);
        if (a && cx_sui_address_parse(str(c, "package"), &pkg, e) == CX_OK)
            rc = cx_sui_tx_move_call(tx, &pkg, str(c, "module"), str(c, "function"), types, nt,
                                     a, n, NULL, e);
        free(a);
    } else if (!strcmp(kind, "splitCoins")) {
        cx_sui_arg *a = args_of(json_object_get(c, "amounts"), &n);
        if (a)
            rc = cx_sui_tx_split_coins(tx, arg_of(json_object_get(c, "coin")), a, n, NULL, e);
        free(a);
    } else if (!strcmp(kind, "transferObjects")) {
        cx_sui_arg *a = args_of(json_object_get(c, "objects"), &n);
        if (a)
            rc = cx_sui_tx_transfer_objects(tx, a, n, arg_of(json_object_get(c, "address")), e);
        free(a);
    } else if (!strcmp(kind, "mergeCoins")) {
        cx_sui_arg *a = args_of(json_object_get(c, "sources"), &n);
        if (a)
            rc = cx_sui_tx_merge_coins(tx, arg_of(json_object_get(c, "destination")), a, n, e);
        free(a);
    } else if (!strcmp(kind, "makeMoveVec")) {
        cx_sui_arg *a = args_of(json_object_get(c, "elements"), &n);
        const char *t = json_string_value(json_object_get(c, "type"));
        if (a)
            rc = cx_sui_tx_make_move_vec(tx, t, a, n, NULL, e);
        free(a);
    }
    return rc == CX_OK;
}

static int build(json_t *c, const cx_chain_key *k, cx_sui_tx *tx, cx_error *e)
{
    cx_sui_tx_init(tx);
    json_t *in;
    size_t i;
    json_array_foreach(json_object_get(c, "inputs"), i, in)
    {
        const char *kind = str(in, "kind");
        cx_sui_object_ref r;
        memset(&r, 0, sizeof r);
        int ok;
        if (!strcmp(kind, "pure")) {
            ok = add_pure(tx, in, e);
        } else if (!strcmp(kind, "shared")) {
            ok = cx_sui_address_parse(str(in, "objectId"), &r.id, e) == CX_OK &&
                 cx_sui_tx_shared(tx, &r.id, u64_of(str(in, "initialSharedVersion")),
                                  json_is_true(json_object_get(in, "mutable")), NULL, e) == CX_OK;
        } else {
            ok = ref_of(in, &r, e) &&
                 (!strcmp(kind, "owned") ? cx_sui_tx_object(tx, &r, NULL, e)
                                         : cx_sui_tx_receiving(tx, &r, NULL, e)) == CX_OK;
        }
        if (!ok)
            return 0;
    }
    json_t *cmd;
    json_array_foreach(json_object_get(c, "commands"), i, cmd) if (!add_command(tx, cmd, e))
        return 0;
    tx->sender = *cx_chain_key_address(k);
    const char *owner = json_string_value(json_object_get(c, "gas_owner"));
    tx->gas_owner = tx->sender;
    if (owner && cx_sui_address_parse(owner, &tx->gas_owner, e) != CX_OK)
        return 0;
    json_t *gas = json_object_get(c, "gas_payment");
    tx->n_gas_payment = json_array_size(gas);
    tx->gas_payment = calloc(tx->n_gas_payment + 1, sizeof *tx->gas_payment);
    if (!tx->gas_payment)
        return 0;
    for (i = 0; i < tx->n_gas_payment; i++)
        if (!ref_of(json_array_get(gas, i), &tx->gas_payment[i], e))
            return 0;
    tx->gas_price = u64_of(str(c, "gas_price"));
    tx->gas_budget = u64_of(str(c, "gas_budget"));
    const char *exp = json_string_value(json_object_get(c, "expiration_epoch"));
    if (exp) {
        tx->has_expiration_epoch = 1;
        tx->expiration_epoch = u64_of(exp);
    }
    return 1;
}

static int same_text(ctx *x, const char *what, const char *c_value, const char *sdk_value)
{
    if (!strcmp(c_value, sdk_value))
        return 1;
    snprintf(x->why, sizeof x->why, "%s differs:\n  C   %s\n  SDK %s", what, c_value, sdk_value);
    return 0;
}

/* Everything one case compares; 1 when all equal. *c_bytes: C's TransactionData. */
static int check_case(ctx *x, uint8_t **c_bytes, size_t *c_len)
{
    json_t *c = x->c, *sdk = json_object_get(c, "sdk");
    cx_error e = {0};
    uint8_t seed[32], back[32];
    size_t n = 0;
    cx_chain_key *k = NULL;
    if (cx_hex_decode(str(c, "key_seed"), 64, seed, 32, &n, &e) != CX_OK ||
        cx_chain_key_from_seed(seed, &k, &e) != CX_OK) {
        snprintf(x->why, sizeof x->why, "key: %s", e.msg);
        return 0;
    }
    int ok = 0;
    char addr[CX_CHAIN_ID_HEX_LEN + 1], priv[CX_SUI_PRIVKEY_LEN + 1];
    char hex[65], b58[CX_SUI_DIGEST_B58_MAX + 1], b64[CX_SUI_SIGNATURE_B64_LEN + 1];
    char sighex[129];
    uint8_t digest[32], sig[CX_SUI_SIGNATURE_LEN], *sdk_bytes = NULL, *again = NULL;
    size_t sdk_len = 0, again_len = 0;
    cx_sui_tx tx, dec;
    cx_sui_tx_init(&dec);
    cx_chain_id_to_hex(cx_chain_key_address(k), addr);
    if (!same_text(x, "address", addr, str(sdk, "address")))
        goto out;
    if (cx_sui_privkey_encode(seed, priv, &e) != CX_OK ||
        !same_text(x, "suiprivkey", priv, str(sdk, "suiprivkey")))
        goto out;
    if (cx_sui_privkey_decode(str(sdk, "suiprivkey"), back, &e) != CX_OK ||
        memcmp(back, seed, 32) != 0) {
        snprintf(x->why, sizeof x->why, "the SDK's suiprivkey does not decode to the seed");
        goto out;
    }
    const char *tx_b64 = str(sdk, "tx_bytes");
    sdk_bytes = malloc(strlen(tx_b64) + 1);
    if (!sdk_bytes ||
        cx_base64_decode(tx_b64, strlen(tx_b64), sdk_bytes, strlen(tx_b64), &sdk_len, &e) != CX_OK)
        goto fail_e;
    if (!build(c, k, &tx, &e)) {
        cx_sui_tx_free(&tx);
        goto fail_e;
    }
    cx_err rc = cx_sui_tx_encode(&tx, c_bytes, c_len, &e);
    cx_sui_tx_free(&tx);
    if (rc != CX_OK)
        goto fail_e;
    if (*c_len != sdk_len || memcmp(*c_bytes, sdk_bytes, sdk_len) != 0) {
        size_t at = 0;
        while (at < *c_len && at < sdk_len && (*c_bytes)[at] == sdk_bytes[at])
            at++;
        snprintf(x->why, sizeof x->why,
                 "TransactionData differs: C %zu bytes, SDK %zu bytes, first difference at "
                 "offset %zu",
                 *c_len, sdk_len, at);
        goto out;
    }
    if (cx_sui_intent_digest(CX_SUI_INTENT_TRANSACTION, *c_bytes, *c_len, digest, &e) != CX_OK ||
        cx_hex_encode(digest, 32, hex, sizeof hex, &e) != CX_OK)
        goto fail_e;
    if (!same_text(x, "intent digest", hex, str(sdk, "intent_digest")))
        goto out;
    if (cx_sui_tx_digest(*c_bytes, *c_len, digest, &e) != CX_OK ||
        cx_sui_base58_encode(digest, 32, b58, sizeof b58, &e) != CX_OK)
        goto fail_e;
    if (!same_text(x, "transaction digest", b58, str(sdk, "tx_digest")))
        goto out;
    if (cx_sui_tx_sign(k, *c_bytes, *c_len, sig, &e) != CX_OK ||
        cx_hex_encode(sig + 1, 64, sighex, sizeof sighex, &e) != CX_OK ||
        cx_base64_encode(sig, sizeof sig, b64, sizeof b64, &e) != CX_OK)
        goto fail_e;
    if (!same_text(x, "signature", sighex, str(sdk, "signature")) ||
        !same_text(x, "serialized signature", b64, str(sdk, "serialized_signature")))
        goto out;
    /* what the SDK encoded, decoded here and encoded again */
    if (cx_sui_tx_decode(sdk_bytes, sdk_len, &dec, &e) != CX_OK ||
        cx_sui_tx_encode(&dec, &again, &again_len, &e) != CX_OK)
        goto fail_e;
    if (again_len != sdk_len || memcmp(again, sdk_bytes, sdk_len) != 0) {
        snprintf(x->why, sizeof x->why, "decode + encode of the SDK's bytes changed them");
        goto out;
    }
    if (dec.n_inputs != json_array_size(json_object_get(c, "inputs")) ||
        dec.n_commands != json_array_size(json_object_get(c, "commands")) ||
        !cx_chain_id_equal(&dec.sender, cx_chain_key_address(k))) {
        snprintf(x->why, sizeof x->why, "decoded counts or sender differ from the program");
        goto out;
    }
    ok = 1;
    goto out;
fail_e:
    snprintf(x->why, sizeof x->why, "C failed: %s", e.msg);
out:
    cx_sui_tx_free(&dec);
    free(again);
    free(sdk_bytes);
    cx_chain_key_free(k);
    return ok;
}

/* ---- --market: the cloakx_market calls of chain/sui_market.c against market_calls.mjs ---- */

static uint8_t *hex_of(json_t *p, const char *k, size_t *n)
{
    const char *h = str(p, k);
    uint8_t *b = malloc(strlen(h) / 2 + 1);
    if (b && cx_hex_decode(h, strlen(h), b, strlen(h) / 2 + 1, n, NULL) != CX_OK) {
        free(b);
        return NULL;
    }
    return b;
}

static int shared_of(json_t *p, const char *k, cx_sui_shared_ref *r)
{
    json_t *o = json_object_get(p, k);
    r->initial_shared_version = u64_of(str(o, "isv"));
    return cx_sui_address_parse(str(o, "id"), &r->id, NULL) == CX_OK;
}

static int market_call(json_t *p, const char *name, cx_sui_tx *tx, cx_error *e)
{
    cx_sui_market m = {0};
    cx_sui_shared_ref pool, job;
    cx_sui_object_ref enclave;
    if (cx_sui_address_parse(str(p, "package"), &m.package, e) != CX_OK ||
        !shared_of(p, "market", &m.market) || !shared_of(p, "pool", &pool) ||
        !shared_of(p, "job", &job) || !ref_of(json_object_get(p, "enclave"), &enclave, e))
        return 0;
    size_t n1 = 0, n2 = 0, n3 = 0, n4 = 0, n5 = 0, n6 = 0;
    uint8_t *msg = hex_of(p, "msg", &n1), *sig = hex_of(p, "sig", &n2);
    uint8_t *st = hex_of(p, "statement", &n3), *key = hex_of(p, "key_release", &n4);
    uint8_t *ksig = hex_of(p, "key_sig", &n5), *blob = hex_of(p, "blob", &n6);
    cx_err rc = CX_ERR_ARG;
    if (!msg || !sig || !st || !key || !ksig || !blob) {
        rc = cx_error_set(e, CX_ERR_FORMAT, "bad parameters");
    } else if (!strcmp(name, "create_pool")) {
        cx_ledger_pool_params pp = {0};
        size_t ml[2] = {0, 0};
        uint8_t *ms[2] = {NULL, NULL};
        json_t *mj = json_object_get(p, "measurements");
        for (size_t i = 0; i < 2; i++) {
            const char *h = json_string_value(json_array_get(mj, i));
            ms[i] = malloc(64);
            if (ms[i] && h)
                cx_hex_decode(h, strlen(h), ms[i], 64, &ml[i], NULL);
            pp.measurements[i] = ms[i];
            pp.measurement_lens[i] = ml[i];
        }
        pp.n_measurements = 2;
        pp.theme = str(p, "theme");
        pp.price = u64_of(str(p, "price"));
        pp.min_contributors = (uint32_t)u64_of(str(p, "k"));
        pp.max_rows_per_contributor = u64_of(str(p, "rows"));
        pp.operator_fee_bps = (uint32_t)u64_of(str(p, "op_bps"));
        pp.protocol_fee_bps = (uint32_t)u64_of(str(p, "proto_bps"));
        pp.policy.require_dp = json_is_true(json_object_get(p, "require_dp"));
        pp.policy.max_epsilon_micro = u64_of(str(p, "max_epsilon_micro"));
        pp.policy.max_params = u64_of(str(p, "max_params"));
        pp.policy.max_epochs = u64_of(str(p, "max_epochs"));
        pp.policy.max_flops = u64_of(str(p, "max_flops"));
        pp.policy.sealing = (uint8_t)json_integer_value(json_object_get(p, "sealing"));
        json_t *fj = json_object_get(p, "forbidden");
        for (size_t i = 0; i < json_array_size(fj) && i < CX_CHAIN_FORBIDDEN_MAX; i++)
            snprintf(pp.policy.forbidden_columns[pp.policy.n_forbidden++],
                     sizeof pp.policy.forbidden_columns[0], "%s",
                     json_string_value(json_array_get(fj, i)));
        if (cx_sui_address_parse(str(p, "operator"), &pp.operator_addr, e) == CX_OK)
            rc = cx_sui_market_create_pool(tx, &m, &pp, e);
        free(ms[0]);
        free(ms[1]);
    } else if (!strcmp(name, "register_enclave")) {
        size_t a, b, c, d, f;
        uint8_t *doc = hex_of(p, "doc", &a), *x = hex_of(p, "x25519", &b);
        uint8_t *en = hex_of(p, "endorsement", &c), *sha = hex_of(p, "doc_sha256", &d);
        uint8_t *db = hex_of(p, "doc_blob", &f);
        if (doc && x && en && sha && db)
            rc = cx_sui_market_register_enclave(tx, &m, doc, a, x, en, sha, db, f, e);
        free(doc);
        free(x);
        free(en);
        free(sha);
        free(db);
    } else if (!strcmp(name, "add_pool_enclave")) {
        rc = cx_sui_market_add_pool_enclave(tx, &m, &pool, &enclave, e);
    } else if (!strcmp(name, "register_contribution")) {
        rc = cx_sui_market_register_contribution(tx, &m, &pool, blob, n6, e);
    } else if (!strcmp(name, "create_job")) {
        size_t a, b;
        uint8_t *spec = hex_of(p, "spec_hash", &a), *sb = hex_of(p, "spec_blob", &b);
        if (spec && sb)
            rc = cx_sui_market_create_job(tx, &m, &pool, spec, sb, b, u64_of(str(p, "payment")),
                                          u64_of(str(p, "deadline")), e);
        free(spec);
        free(sb);
    } else if (!strcmp(name, "accept_job")) {
        rc = cx_sui_market_accept_job(tx, &m, &job, &pool, &enclave, msg, n1, sig, e);
    } else if (!strcmp(name, "fail_job")) {
        rc = cx_sui_market_fail_job(tx, &m, &job, &enclave, msg, n1, sig, e);
    } else if (!strcmp(name, "submit_result")) {
        rc = cx_sui_market_submit_result(tx, &m, &job, &pool, &enclave, st, n3, sig, key, n4,
                                         ksig, e);
    } else if (!strcmp(name, "refund_expired")) {
        rc = cx_sui_market_refund_expired(tx, &m, &job, e);
    }
    free(msg);
    free(sig);
    free(st);
    free(key);
    free(ksig);
    free(blob);
    return rc == CX_OK;
}

static int market_main(const char *path)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        return 2;
    }
    json_t *p = json_object_get(root, "params"), *calls = json_object_get(root, "calls"), *v;
    const char *name;
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    cx_chain_key *k = NULL;
    size_t failed = 0, total = 0;
    if (cx_chain_key_from_seed(seed, &k, NULL) != CX_OK)
        return 2;
    json_object_foreach(calls, name, v)
    {
        total++;
        cx_error e = {0};
        cx_sui_tx tx;
        cx_sui_tx_init(&tx);
        uint8_t *bytes = NULL, *sdk = NULL;
        size_t len = 0, sdk_len = 0;
        const char *b64 = json_string_value(v);
        int ok = b64 && market_call(p, name, &tx, &e);
        tx.sender = tx.gas_owner = *cx_chain_key_address(k);
        tx.gas_payment = calloc(1, sizeof *tx.gas_payment);
        ok = ok && tx.gas_payment && ref_of(json_object_get(p, "gas"), tx.gas_payment, &e);
        tx.n_gas_payment = tx.gas_payment ? 1 : 0;
        tx.gas_price = 1000;
        tx.gas_budget = 50000000;
        ok = ok && cx_sui_tx_encode(&tx, &bytes, &len, &e) == CX_OK;
        sdk = b64 ? malloc(strlen(b64)) : NULL;
        ok = ok && sdk && cx_base64_decode(b64, strlen(b64), sdk, strlen(b64), &sdk_len, &e) == CX_OK;
        if (!ok || len != sdk_len || memcmp(bytes, sdk, len) != 0) {
            size_t at = 0;
            while (ok && at < len && at < sdk_len && bytes[at] == sdk[at])
                at++;
            fprintf(stderr, "FAIL market call %s: %s (C %zu bytes, SDK %zu, first difference at %zu)\n",
                    name, e.msg[0] ? e.msg : "bytes differ", len, sdk_len, at);
            failed++;
        }
        free(bytes);
        free(sdk);
        cx_sui_tx_free(&tx);
    }
    cx_chain_key_free(k);
    json_decref(root);
    printf("test_chain_sui_diff --market: %zu of %zu cloakx_market calls equal to @mysten/sui's\n",
           total - failed, total);
    return failed || total < 9 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--market"))
        return market_main(argv[2]);
    if (argc != 3) {
        fprintf(stderr, "usage: %s CASES.json OUT.json\n", argv[0]);
        return 2;
    }
    json_error_t je;
    json_t *root = json_load_file(argv[1], 0, &je);
    if (!root) {
        fprintf(stderr, "%s: %s (line %d)\n", argv[1], je.text, je.line);
        return 2;
    }
    json_t *cases = json_object_get(root, "cases"), *outs = json_array();
    size_t i, failed = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        ctx x = {c, ""};
        uint8_t *bytes = NULL;
        size_t len = 0;
        if (!check_case(&x, &bytes, &len)) {
            char *dump = json_dumps(c, JSON_COMPACT);
            fprintf(stderr, "FAIL case %zu (seed %s): %s\nreproducer: %s\n", i,
                    str(root, "seed"), x.why, dump ? dump : "?");
            free(dump);
            failed++;
        }
        char *b64 = bytes ? cx_base64_dup(bytes, len) : NULL;
        json_array_append_new(outs, json_pack("{s:I, s:s}", "case", (json_int_t)i, "tx_bytes",
                                              b64 ? b64 : ""));
        free(b64);
        free(bytes);
    }
    json_t *out = json_pack("{s:o}", "cases", outs);
    int wrote = json_dump_file(out, argv[2], JSON_COMPACT) == 0;
    json_decref(out);
    size_t total = json_array_size(cases);
    printf("test_chain_sui_diff: %zu of %zu transactions equal to @mysten/sui's (seed %s)\n",
           total - failed, total, str(root, "seed"));
    json_decref(root);
    if (!wrote) {
        fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    return failed || total == 0 ? 1 : 0;
}
