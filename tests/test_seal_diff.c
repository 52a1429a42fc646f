/* test_seal_diff.c — the C side of the differential test against @mysten/seal (driven by
 * test_seal_diff.sh): SDK.json's objects, encrypted by the SDK, must re-encode bit for bit,
 * give the SDK's user secret keys and public keys, and decrypt in C to the SDK's plaintext with
 * just t servers' keys; then C encrypts COUNT random objects to the same test key servers into
 * C_OUT.json for the SDK to decrypt.
 * Usage: test_seal_diff SDK.json C_OUT.json COUNT SEED */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cx_proto.h"
#include "cx_seal.h"

#define POOL_MAX 16

typedef struct pool_server {
    char object_hex[CX_ADDR_HEX_LEN + 1];
    uint8_t object_id[32];
    uint8_t msk[32];
    uint8_t pk[CX_SEAL_G2_LEN];
} pool_server;

static int fail_case(size_t i, json_t *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_case(size_t i, json_t *c, const char *fmt, ...)
{
    fprintf(stderr, "FAIL case %zu: ", i);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    char *dump = json_dumps(c, JSON_COMPACT);
    fprintf(stderr, "\nreproducer: %s\n", dump ? dump : "?");
    free(dump);
    return 1;
}

static int hex_field(json_t *obj, const char *key, uint8_t *out, size_t want)
{
    const char *s = json_string_value(json_object_get(obj, key));
    size_t n = 0;
    return s && cx_hex_decode(s, strlen(s), out, want, &n, NULL) == CX_OK && n == want ? 0 : -1;
}

static uint8_t *b64_field(json_t *obj, const char *key, size_t *len)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s)
        return NULL;
    size_t cap = strlen(s) / 4 * 3 + 4;
    uint8_t *out = malloc(cap);
    if (out && cx_base64_decode(s, strlen(s), out, cap, len, NULL) != CX_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static int find_server(const pool_server *pool, size_t n_pool, const uint8_t *object_id)
{
    for (size_t s = 0; s < n_pool; s++)
        if (memcmp(pool[s].object_id, object_id, 32) == 0)
            return (int)s;
    return -1;
}

/* Distinct servers of the object, from a rotating start, until their services reach t: the
 * fewest keys that should open it. Returns how many keys were filled. */
static size_t pick_keys(const cx_seal_object *o, const pool_server *pool, size_t n_pool,
                        const uint8_t *full_id, size_t full_len, size_t rot, cx_seal_key *keys,
                        int *server_of_key)
{
    size_t k = 0, covered = 0;
    for (size_t step = 0; step < o->n_services && covered < o->threshold; step++) {
        size_t i = (step + rot) % o->n_services;
        int s = find_server(pool, n_pool, o->services[i].object_id);
        int seen = 0;
        for (size_t j = 0; j < k; j++)
            seen |= server_of_key[j] == s;
        if (s < 0 || seen)
            continue;
        memcpy(keys[k].object_id, pool[s].object_id, 32);
        memcpy(keys[k].pk, pool[s].pk, CX_SEAL_G2_LEN);
        if (cx_seal_extract(pool[s].msk, full_id, full_len, keys[k].usk, NULL) != CX_OK)
            return 0;
        keys[k].name = pool[s].object_hex;
        server_of_key[k++] = s;
        for (size_t m = 0; m < o->n_services; m++)
            covered += memcmp(o->services[m].object_id, pool[s].object_id, 32) == 0;
    }
    return k;
}

static int check_sdk_case(size_t ci, json_t *c, const pool_server *pool, size_t n_pool)
{
    char why[CX_ERROR_MSG_MAX + 64];
    cx_error e;
    size_t len = 0, pt_len = 0;
    uint8_t *bytes = b64_field(c, "object", &len);
    uint8_t *want_pt = b64_field(c, "plaintext", &pt_len);
    cx_seal_object *o = NULL;
    uint8_t *again = NULL, *full_id = NULL, *pt = NULL;
    size_t again_len = 0, full_len = 0, got_len = 0;
    int bad = 0;
    if (!bytes || !want_pt) {
        bad = fail_case(ci, c, "%s", "object or plaintext is not base64");
        goto out;
    }
    if (cx_seal_object_decode(bytes, len, &o, &e) != CX_OK) {
        bad = fail_case(ci, c, "C refused the SDK's object: %s", e.msg);
        goto out;
    }
    if (cx_seal_object_encode(o, &again, &again_len, &e) != CX_OK || again_len != len ||
        memcmp(again, bytes, len) != 0) {
        bad = fail_case(ci, c, "%s", "C's BCS re-encoding differs from the SDK's bytes");
        goto out;
    }
    if ((json_int_t)o->n_services != json_integer_value(json_object_get(c, "n")) ||
        (json_int_t)o->threshold != json_integer_value(json_object_get(c, "t")) ||
        (json_int_t)o->dem != json_integer_value(json_object_get(c, "dem"))) {
        bad = fail_case(ci, c, "%s", "n, t or DEM decoded differently");
        goto out;
    }
    if (cx_seal_full_id(o->package_id, o->id, o->id_len, &full_id, &full_len, &e) != CX_OK) {
        bad = fail_case(ci, c, "%s", e.msg);
        goto out;
    }
    /* the SDK's user secret keys are C's, server by server */
    json_t *usks = json_object_get(c, "usks");
    const char *obj_hex;
    json_t *v;
    json_object_foreach(usks, obj_hex, v)
    {
        uint8_t oid[32], sdk_usk[CX_SEAL_G1_LEN], c_usk[CX_SEAL_G1_LEN];
        size_t n = 0;
        const char *h = json_string_value(v);
        if (cx_hex_decode(obj_hex, strlen(obj_hex), oid, 32, &n, NULL) != CX_OK || !h ||
            cx_hex_decode(h, strlen(h), sdk_usk, sizeof sdk_usk, &n, NULL) != CX_OK) {
            bad = fail_case(ci, c, "%s", "bad usks entry");
            goto out;
        }
        int s = find_server(pool, n_pool, oid);
        if (s < 0 || cx_seal_extract(pool[s].msk, full_id, full_len, c_usk, &e) != CX_OK ||
            memcmp(c_usk, sdk_usk, sizeof c_usk) != 0) {
            bad = fail_case(ci, c, "user secret key of %s differs from the SDK's", obj_hex);
            goto out;
        }
    }
    cx_seal_key keys[POOL_MAX];
    int server_of_key[POOL_MAX];
    size_t k = pick_keys(o, pool, n_pool, full_id, full_len, ci, keys, server_of_key);
    uint8_t all_pks[CX_SEAL_MAX_SERVERS][CX_SEAL_G2_LEN];
    for (size_t i = 0; i < o->n_services; i++) {
        int s = find_server(pool, n_pool, o->services[i].object_id);
        if (s < 0) {
            bad = fail_case(ci, c, "%s", "a service is not one of the pool's servers");
            goto out;
        }
        memcpy(all_pks[i], pool[s].pk, CX_SEAL_G2_LEN);
    }
    cx_seal_decrypt_params dp = {
        .keys = keys, .n_keys = k, .all_pks = ci % 2 ? NULL : (const uint8_t(*)[96])all_pks};
    if (cx_seal_decrypt(o, &dp, &pt, &got_len, &e) != CX_OK) {
        snprintf(why, sizeof why, "%s", e.msg);
        bad = fail_case(ci, c, "C could not decrypt the SDK's object: %s", why);
        goto out;
    }
    if (got_len != pt_len || (pt_len && memcmp(pt, want_pt, pt_len) != 0))
        bad = fail_case(ci, c, "%s", "C's plaintext differs from the SDK's");
out:
    cx_secmem_free(pt);
    free(bytes);
    free(want_pt);
    free(again);
    free(full_id);
    cx_seal_object_free(o);
    return bad;
}

/* splitmix64: parameters of the C-made objects, reproducible from the seed */
static uint64_t next_u64(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t rnd_int(uint64_t *st, size_t lo, size_t hi)
{
    return lo + (size_t)(next_u64(st) % (hi - lo + 1));
}

static void rnd_bytes(uint64_t *st, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)next_u64(st);
}

static json_t *c_case(size_t ci, uint64_t *st, const pool_server *pool, size_t n_pool, cx_error *e)
{
    size_t n = rnd_int(st, 1, 5), max_t = n < 3 ? n : (ci % 3 == 0 ? n : 3);
    uint8_t t = (uint8_t)rnd_int(st, 1, max_t);
    cx_seal_server servers[5];
    int chosen[5];
    for (size_t i = 0; i < n; i++) {
        int s = (int)((ci + i) % n_pool);
        if (i > 0 && rnd_int(st, 0, 9) == 0)
            s = chosen[rnd_int(st, 0, i - 1)]; /* a server listed twice */
        chosen[i] = s;
        memcpy(servers[i].object_id, pool[s].object_id, 32);
        memcpy(servers[i].pk, pool[s].pk, CX_SEAL_G2_LEN);
    }
    uint8_t package[32], id[64], aad[40];
    rnd_bytes(st, package, 32);
    size_t id_len = rnd_int(st, 0, 64);
    rnd_bytes(st, id, id_len);
    const size_t sizes[] = {0, 1, 31, 32, 33, rnd_int(st, 0, 200), rnd_int(st, 0, 5000)};
    size_t msg_len = sizes[rnd_int(st, 0, 6)];
    uint8_t *msg = malloc(msg_len ? msg_len : 1);
    if (!msg)
        return NULL;
    rnd_bytes(st, msg, msg_len);
    size_t aad_len = rnd_int(st, 0, 2) == 0 ? 0 : rnd_int(st, 1, 40);
    rnd_bytes(st, aad, aad_len);
    cx_seal_encrypt_params p = {.package_id = package,
                                .id = id,
                                .id_len = id_len,
                                .servers = servers,
                                .n_servers = n,
                                .threshold = t,
                                .dem = ci % 2 ? CX_SEAL_DEM_HMAC256CTR : CX_SEAL_DEM_AES256GCM,
                                .aad = aad_len ? aad : NULL,
                                .aad_len = aad_len};
    uint8_t *obj = NULL;
    size_t obj_len = 0;
    json_t *c = NULL;
    if (cx_seal_encrypt(&p, msg, msg_len, &obj, &obj_len, NULL, e) == CX_OK) {
        /* the keys the SDK gets: the fewest distinct servers that reach t */
        cx_seal_object *o = NULL;
        uint8_t *full_id = NULL;
        size_t full_len = 0;
        cx_seal_key keys[POOL_MAX];
        int server_of_key[POOL_MAX];
        if (cx_seal_object_decode(obj, obj_len, &o, e) == CX_OK &&
            cx_seal_full_id(package, id, id_len, &full_id, &full_len, e) == CX_OK) {
            size_t k = pick_keys(o, pool, n_pool, full_id, full_len, ci, keys, server_of_key);
            json_t *ks = json_array();
            for (size_t j = 0; j < k; j++)
                json_array_append_new(ks, json_string(pool[server_of_key[j]].object_hex));
            char *ob = cx_base64_dup(obj, obj_len), *pb = cx_base64_dup(msg, msg_len);
            c = json_pack("{s:s, s:s, s:o, s:i, s:i}", "object", ob ? ob : "", "plaintext",
                          pb ? pb : "", "key_servers", ks, "n", (int)n, "t", (int)t);
            free(ob);
            free(pb);
        }
        free(full_id);
        cx_seal_object_free(o);
    }
    free(obj);
    free(msg);
    return c;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: test_seal_diff SDK.json C_OUT.json COUNT SEED\n");
        return 2;
    }
    cx_error e;
    json_t *in = NULL;
    if (cx_json_load_file(argv[1], &in, &e) != CX_OK) {
        fprintf(stderr, "test_seal_diff: %s\n", e.msg);
        return 1;
    }
    pool_server pool[POOL_MAX];
    json_t *servers = json_object_get(in, "servers");
    size_t n_pool = json_array_size(servers);
    if (n_pool == 0 || n_pool > POOL_MAX) {
        fprintf(stderr, "test_seal_diff: %zu servers in %s\n", n_pool, argv[1]);
        return 1;
    }
    int bad = 0;
    for (size_t s = 0; s < n_pool; s++) {
        json_t *js = json_array_get(servers, s);
        const char *oid = json_string_value(json_object_get(js, "objectId"));
        uint8_t pk[CX_SEAL_G2_LEN];
        if (!oid || cx_addr_from_hex(oid, pool[s].object_id, &e) != CX_OK ||
            hex_field(js, "msk", pool[s].msk, 32) || hex_field(js, "pk", pk, sizeof pk) ||
            cx_seal_public_key(pool[s].msk, pool[s].pk, &e) != CX_OK) {
            fprintf(stderr, "test_seal_diff: server %zu of %s is malformed\n", s, argv[1]);
            return 1;
        }
        cx_addr_to_hex(pool[s].object_id, pool[s].object_hex);
        if (memcmp(pk, pool[s].pk, sizeof pk) != 0) {
            fprintf(stderr, "FAIL: server %zu: C's public key msk·G2 differs from the SDK's\n", s);
            bad = 1;
        }
    }
    json_t *cases = json_object_get(in, "cases");
    size_t failed = 0;
    for (size_t i = 0; i < json_array_size(cases); i++)
        failed += (size_t)check_sdk_case(i, json_array_get(cases, i), pool, n_pool);
    printf("test_seal_diff: %zu of %zu @mysten/seal objects re-encoded and decrypted in C\n",
           json_array_size(cases) - failed, json_array_size(cases));

    size_t count = strtoul(argv[3], NULL, 10);
    uint64_t st = strtoull(argv[4], NULL, 10) ^ 0x5ea1c0de5ea1c0deull;
    json_t *out_cases = json_array();
    for (size_t i = 0; i < count; i++) {
        json_t *c = c_case(i, &st, pool, n_pool, &e);
        if (!c) {
            fprintf(stderr, "FAIL: C could not encrypt case %zu: %s\n", i, e.msg);
            bad = 1;
            break;
        }
        json_array_append_new(out_cases, c);
    }
    json_t *out = json_pack("{s:O, s:o}", "servers", servers, "cases", out_cases);
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    if (!text || cx_file_write_atomic(argv[2], text, strlen(text), 0600, &e) != CX_OK) {
        fprintf(stderr, "test_seal_diff: writing %s failed\n", argv[2]);
        bad = 1;
    } else {
        printf("test_seal_diff: C encrypted %zu objects for @mysten/seal\n", count);
    }
    free(text);
    json_decref(out);
    json_decref(in);
    return bad || failed ? 1 : 0;
}
