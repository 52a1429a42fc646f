/* seal_keys.c — Seal for sealed blobs (.cxb suite 2): the key servers a party uses, a seller's
 * key object for a pool, the check of a header's key part, and the enclave's key recovery. */
#include "cx_engine.h"
#include "job_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

int cx_job_header_key_ok(const uint8_t *hb, const cx_cxb_header *h, const uint8_t key_id[32],
                         const cx_ledger_pool *pool, char *why, size_t why_len)
{
    unsigned sealing =
        h->suite == CX_CXB_SUITE_HPKE ? CX_LEDGER_SEALING_HPKE : CX_LEDGER_SEALING_SEAL;
    if (!cx_ledger_pool_accepts_sealing(&pool->policy, sealing)) {
        snprintf(why, why_len, "sealed with %s, which the pool does not accept (it takes %s)",
                 cx_ledger_sealing_name((uint8_t)sealing),
                 cx_ledger_sealing_name(pool->policy.sealing));
        return 0;
    }
    if (h->suite == CX_CXB_SUITE_HPKE) {
        if (memcmp(h->recipient_key_id, key_id, 32) == 0)
            return 1;
        snprintf(why, why_len, "sealed to another recipient, not this pool's enclave");
        return 0;
    }
#ifdef CX_HAVE_SEAL
    cx_seal_object *o = NULL;
    cx_error le;
    int ok = 0;
    if (cx_seal_object_decode(hb + h->key_object_off, h->key_object_len, &o, &le) != CX_OK)
        snprintf(why, why_len, "its key object is no Seal object: %s", le.msg);
    else if (o->dem != CX_SEAL_DEM_PLAIN)
        snprintf(why, why_len, "its Seal object carries data, not a data key");
    else if (o->id_len <= CX_CHAIN_ID_LEN || o->id_len > CX_CHAIN_ID_LEN + CX_SEAL_NONCE_MAX ||
             memcmp(o->id, pool->id.b, CX_CHAIN_ID_LEN) != 0)
        snprintf(why, why_len, "its Seal identity is not this pool's (pool id || nonce)");
    else
        ok = 1;
    cx_seal_object_free(o);
    return ok;
#else
    (void)hb;
    (void)pool;
    snprintf(why, why_len, "its data key is in a Seal object and this build has no Seal");
    return 0;
#endif
}

#ifdef CX_HAVE_SEAL

void cx_seal_local_package(cx_chain_addr *out)
{
    static const char seed[] = "cloakx/local-market/seal_policy";
    SHA256((const uint8_t *)seed, sizeof seed - 1, out->b);
}

/* One server of the config file: {"url", "object_id", "public_key"}. */
static cx_err server_from_json(const json_t *s, size_t i, cx_seal_config *c, cx_error *e)
{
    const char *url = json_string_value(json_object_get(s, "url"));
    const char *id = json_string_value(json_object_get(s, "object_id"));
    const char *pk = json_string_value(json_object_get(s, "public_key"));
    cx_chain_addr oid;
    size_t got = 0;
    if (!url || strlen(url) >= sizeof c->urls[i] || !id || !pk ||
        cx_chain_id_from_hex(id, &oid, e) != CX_OK ||
        cx_hex_decode(pk, strlen(pk), c->servers[i].pk, CX_SEAL_G2_LEN, &got, e) != CX_OK ||
        got != CX_SEAL_G2_LEN)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "key servers: servers[%zu] needs \"url\", \"object_id\" (0x…) and "
                            "\"public_key\" (96 bytes hex)",
                            i);
    snprintf(c->urls[i], sizeof c->urls[i], "%s", url);
    c->servers[i].url = c->urls[i];
    memcpy(c->servers[i].object_id, oid.b, CX_SEAL_ADDR_LEN);
    return CX_OK;
}

cx_err cx_seal_config_from_json(const json_t *j, cx_seal_config *c, cx_error *e)
{
    memset(c, 0, sizeof *c);
    static const char *const keys[] = {"package", "threshold", "servers", "timeout_ms", NULL};
    cx_err rc = json_is_object(j) ? cx_json_check_keys(j, keys, "key servers", e)
                                  : cx_error_set(e, CX_ERR_FORMAT, "key servers: not an object");
    if (rc != CX_OK)
        return rc;
    const char *pkg = json_string_value(json_object_get(j, "package"));
    const json_t *servers = json_object_get(j, "servers");
    json_t *t = json_object_get(j, "threshold"), *to = json_object_get(j, "timeout_ms");
    size_t n = json_array_size(servers);
    if (!pkg || cx_chain_id_from_hex(pkg, &c->package, e) != CX_OK)
        return cx_error_set(e, CX_ERR_FORMAT, "key servers: \"package\" (0x…) is required");
    if (n < 1 || n > CX_SEAL_CONFIG_SERVERS_MAX)
        return cx_error_set(e, CX_ERR_FORMAT, "key servers: \"servers\" lists 1..%d servers",
                            CX_SEAL_CONFIG_SERVERS_MAX);
    if (!json_is_integer(t) || json_integer_value(t) < 1 || (size_t)json_integer_value(t) > n)
        return cx_error_set(e, CX_ERR_FORMAT, "key servers: \"threshold\" must be 1..%zu", n);
    c->threshold = (uint8_t)json_integer_value(t);
    c->timeout_ms = 10000;
    if (to &&
        (!json_is_integer(to) || json_integer_value(to) < 100 || json_integer_value(to) > 600000))
        return cx_error_set(e, CX_ERR_FORMAT, "key servers: \"timeout_ms\" must be 100..600000");
    if (to)
        c->timeout_ms = (long)json_integer_value(to);
    for (size_t i = 0; i < n; i++) {
        if ((rc = server_from_json(json_array_get(servers, i), i, c, e)) != CX_OK)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (memcmp(c->servers[k].object_id, c->servers[i].object_id, CX_SEAL_ADDR_LEN) == 0)
                return cx_error_set(e, CX_ERR_FORMAT, "key servers: servers[%zu] repeats %zu", i,
                                    k);
    }
    c->n_servers = n;
    return CX_OK;
}

cx_err cx_seal_config_load(const char *path, cx_seal_config *c, cx_error *e)
{
    json_t *j = NULL;
    cx_err rc = cx_json_load_file(path, &j, e);
    if (rc == CX_OK)
        rc = cx_seal_config_from_json(j, c, e);
    json_decref(j);
    if (rc != CX_OK)
        cx_error_prefix(e, "%s: ", path);
    return rc;
}

/* A Seal object (DEM plain) to identity id under c's servers; *key: the DEM key it yields. */
static cx_err plain_object(const cx_seal_config *c, const uint8_t *id, size_t id_len, uint8_t **obj,
                           size_t *len, uint8_t key[32], cx_error *e)
{
    cx_seal_server srv[CX_SEAL_CONFIG_SERVERS_MAX];
    for (size_t i = 0; i < c->n_servers; i++) {
        memcpy(srv[i].object_id, c->servers[i].object_id, CX_SEAL_ADDR_LEN);
        memcpy(srv[i].pk, c->servers[i].pk, CX_SEAL_G2_LEN);
    }
    cx_seal_encrypt_params p = {.package_id = c->package.b,
                                .id = id,
                                .id_len = id_len,
                                .servers = srv,
                                .n_servers = c->n_servers,
                                .threshold = c->threshold,
                                .dem = CX_SEAL_DEM_PLAIN};
    return cx_seal_encrypt(&p, NULL, 0, obj, len, key, e);
}

cx_err cx_seal_dataset_object(const cx_seal_config *c, const cx_chain_id *pool, uint8_t **obj,
                              size_t *len, uint8_t data_key[32], cx_error *e)
{
    uint8_t id[CX_CHAIN_ID_LEN + 16];
    memcpy(id, pool->b, CX_CHAIN_ID_LEN);
    if (RAND_bytes(id + CX_CHAIN_ID_LEN, 16) != 1)
        return cx_error_set(e, CX_ERR_CRYPTO, "seal: no randomness for the nonce");
    return plain_object(c, id, sizeof id, obj, len, data_key, e);
}

cx_err cx_seal_model_object(const cx_seal_config *c, const cx_chain_id *job, uint8_t **obj,
                            size_t *len, uint8_t share[32], cx_error *e)
{
    return plain_object(c, job->b, CX_CHAIN_ID_LEN, obj, len, share, e);
}

/* The TEE signs the Seal certificate: the enclave asks for keys as itself. */
static cx_err tee_sign(void *ud, const uint8_t *msg, size_t len,
                       uint8_t sig[CX_CHAIN_ED25519_SIG_LEN], cx_error *e)
{
    return cx_tee_sign(ud, msg, len, sig, e);
}

/* One key object to open: its bytes in, its key or what is wrong with it out. */
typedef struct key_task {
    const uint8_t *obj;
    size_t len;
    uint8_t *key; /* 32 bytes out */
    cx_err rc;    /* the object's own fault, when not CX_OK */
    cx_error *why;
    cx_seal_object *o;
    uint32_t servers; /* bit k: c->servers[k] is one the object names */
} key_task;

/* Which of c's servers the object names (pinned keys only, never one from an answer); the
 * object's fault when it is under another package or names too few of them. */
static cx_err object_servers(const cx_seal_config *c, const cx_seal_object *o, uint32_t *mask,
                             cx_error *e)
{
    *mask = 0;
    size_t n = 0;
    for (size_t i = 0; i < o->n_services; i++)
        for (size_t k = 0; k < c->n_servers; k++)
            if (memcmp(o->services[i].object_id, c->servers[k].object_id, CX_SEAL_ADDR_LEN) == 0 &&
                !(*mask & (1u << k))) {
                *mask |= 1u << k;
                n++;
            }
    if (memcmp(o->package_id, c->package.b, CX_SEAL_ADDR_LEN) != 0)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "sealed under another Seal package than this enclave's key servers'");
    if (n < o->threshold)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "sealed to key servers this enclave does not use (%zu of the %u "
                            "needed are configured)",
                            n, o->threshold);
    return CX_OK;
}

/* One fetch_key round for the tasks of group (all naming the same servers, mask): every id in
 * one request, asked by user under policy function with the object argument arg; then each
 * object's key from its shares. The key servers' failures are CX_ERR_NET (e), the objects'
 * own in their tasks. */
static cx_err fetch_group(const cx_seal_config *c, const cx_seal_user *user, const char *function,
                          const cx_seal_object_arg *arg, key_task **group, size_t n_group,
                          uint32_t mask, cx_error *e)
{
    cx_seal_endpoint use[CX_SEAL_CONFIG_SERVERS_MAX];
    size_t n = 0;
    for (size_t k = 0; k < c->n_servers; k++)
        if (mask & (1u << k)) {
            int seen = 0; /* one URL asked once, whatever object ids it serves */
            for (size_t m = 0; m < n; m++)
                seen |= use[m].url == c->servers[k].url;
            if (!seen)
                use[n++] = c->servers[k];
        }
    const uint8_t **ids = calloc(n_group, sizeof *ids);
    size_t *id_lens = calloc(n_group, sizeof *id_lens), *n_keys = calloc(n_group, sizeof *n_keys);
    const cx_seal_object **objs = calloc(n_group, sizeof *objs);
    cx_seal_key *keys = calloc(n_group * n, sizeof *keys);
    cx_seal_elgamal_key *k = cx_secmem_alloc(sizeof *k, 0, e);
    uint8_t *ptb = NULL;
    size_t ptb_len = 0;
    char *body = NULL;
    cx_err rc = ids && id_lens && n_keys && objs && keys && k
                    ? CX_OK
                    : cx_error_set(e, CX_ERR_NOMEM, "seal: out of memory");
    for (size_t j = 0; rc == CX_OK && j < n_group; j++) {
        ids[j] = group[j]->o->id;
        id_lens[j] = group[j]->o->id_len;
        objs[j] = group[j]->o;
    }
    if (rc == CX_OK)
        rc = cx_seal_ptb_approve_many(&c->package, CX_SEAL_POLICY_MODULE, function, ids, id_lens,
                                      n_group, arg, 1, &ptb, &ptb_len, e);
    if (rc == CX_OK)
        rc = cx_seal_request_build(user, c->package.b, ptb, ptb_len, CX_SEAL_SESSION_MIN,
                                   cx_unix_ms(), k, &body, e);
    /* the key servers' failures (down, refusing, bad answers) are theirs or the operator's,
     * never the objects': CX_ERR_NET, which the worker retries */
    if (rc == CX_OK && (rc = cx_seal_fetch_keys_many(use, n, body, c->timeout_ms, objs, n_group, k,
                                                     keys, n_keys, e)) != CX_OK)
        rc = cx_error_wrap(CX_ERR_NET, e, "the key servers: ");
    for (size_t j = 0; rc == CX_OK && j < n_group; j++) {
        key_task *t = group[j];
        uint8_t *key = NULL;
        size_t key_len = 0;
        cx_seal_decrypt_params dp = {.keys = keys + j * n, .n_keys = n_keys[j]};
        t->rc = cx_seal_decrypt(t->o, &dp, &key, &key_len, t->why);
        if (t->rc == CX_OK && key_len != 32)
            t->rc = cx_error_set(t->why, CX_ERR_FORMAT,
                                 "seal: the object's key is %zu bytes, not 32", key_len);
        if (t->rc == CX_OK)
            memcpy(t->key, key, 32);
        else if (t->rc == CX_ERR_NOMEM)
            rc = cx_error_set(e, CX_ERR_NOMEM, "%s", t->why->msg);
        cx_secmem_free(key);
    }
    if (keys)
        OPENSSL_cleanse(keys, n_group * n * sizeof *keys);
    free(keys);
    cx_secmem_free(k);
    free(body);
    free(ptb);
    free(objs);
    free(n_keys);
    free(id_lens);
    free(ids);
    return rc;
}

/* The keys of the tasks' Seal objects from c's servers, asked by user under policy function
 * with the object argument arg: one fetch_key round per set of key servers the objects name
 * (at most CX_SEAL_APPROVE_IDS_MAX ids each), not one per object. */
static cx_err recover_keys(const cx_seal_config *c, const cx_seal_user *user, const char *function,
                           const cx_seal_object_arg *arg, key_task *t, size_t n, cx_error *e)
{
    key_task **group = calloc(n ? n : 1, sizeof *group);
    cx_err rc = group ? CX_OK : cx_error_set(e, CX_ERR_NOMEM, "seal: out of memory");
    for (size_t i = 0; rc == CX_OK && i < n; i++) {
        t[i].rc = cx_seal_object_decode(t[i].obj, t[i].len, &t[i].o, t[i].why);
        if (t[i].rc == CX_OK)
            t[i].rc = object_servers(c, t[i].o, &t[i].servers, t[i].why);
    }
    for (size_t i = 0; rc == CX_OK && i < n; i++) {
        if (t[i].rc != CX_OK || !t[i].o || !t[i].servers)
            continue;
        uint32_t mask = t[i].servers;
        size_t n_group = 0;
        for (size_t j = i; j < n && n_group < CX_SEAL_APPROVE_IDS_MAX; j++)
            if (t[j].rc == CX_OK && t[j].o && t[j].servers == mask) {
                group[n_group++] = &t[j];
                t[j].servers = 0; /* taken */
            }
        rc = fetch_group(c, user, function, arg, group, n_group, mask, e);
    }
    for (size_t i = 0; i < n; i++) {
        cx_seal_object_free(t[i].o);
        t[i].o = NULL;
    }
    free(group);
    return rc;
}

/* The policy's object argument: a shared object at the version Sui gave it (a key server's dry
 * run refuses another); the local ledger has no versions and its key server reads the id alone,
 * so 1 stands there. */
static cx_seal_object_arg shared_arg(const cx_chain_id *id, uint64_t shared_version)
{
    return (cx_seal_object_arg){.id = *id,
                                .initial_shared_version = shared_version ? shared_version : 1};
}

cx_err cx_seal_dataset_keys(const cx_seal_config *c, cx_tee *tee, const cx_ledger_pool *pool,
                            const uint8_t *const *objs, const size_t *lens, size_t n,
                            uint8_t (*keys)[32], cx_err *rcs, cx_error *whys, cx_error *e)
{
    uint8_t ed[CX_TEE_ED25519_PK_LEN], x[CX_TEE_X25519_LEN];
    cx_tee_public_keys(tee, ed, x);
    cx_seal_user user = {ed, tee_sign, tee};
    cx_seal_object_arg arg = shared_arg(&pool->id, pool->shared_version);
    key_task *t = calloc(n ? n : 1, sizeof *t);
    if (!t)
        return cx_error_set(e, CX_ERR_NOMEM, "seal: out of memory");
    for (size_t i = 0; i < n; i++)
        t[i] = (key_task){.obj = objs[i], .len = lens[i], .key = keys[i], .why = &whys[i]};
    cx_err rc = recover_keys(c, &user, CX_SEAL_APPROVE_DATASET, &arg, t, n, e);
    for (size_t i = 0; i < n; i++)
        rcs[i] = t[i].rc;
    free(t);
    return rc;
}

cx_err cx_seal_model_key(const cx_seal_config *c, const cx_chain_key *buyer,
                         const cx_ledger_job *job, const uint8_t *obj, size_t len,
                         uint8_t share[32], cx_error *e)
{
    cx_seal_user user = cx_seal_user_of_key(buyer);
    cx_seal_object_arg arg = shared_arg(&job->id, job->shared_version);
    key_task t = {.obj = obj, .len = len, .key = share, .why = e};
    cx_err rc = recover_keys(c, &user, CX_SEAL_APPROVE_MODEL, &arg, &t, 1, e);
    return rc != CX_OK ? rc : t.rc;
}

#endif
