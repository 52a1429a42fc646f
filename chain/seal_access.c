/* seal_access.c — Seal's fetch_key exchange (spec §4.6), both sides: the request a key's user
 * signs and sends to every key server, and a key server's answer under the marketplace policy. */
#include "cx_chain.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cx_proto.h"
#include "cx_seal.h"

#define SDK_VERSION "0.1.0"        /* Client-Sdk-Version: any semver; the type "c" is not checked */
#define REQUEST_MAX (180u * 1024u) /* the key server's request body limit */
#define ANSWER_MAX (64u * 1024u)   /* a fetch_key answer for a few ids is < 1 KiB */
#define PTB_MAX (64u * 1024u)

/* ------------------------------------------------------------ requests -- */

cx_err cx_seal_ptb_approve_many(const cx_chain_addr *package, const char *module,
                                const char *function, const uint8_t *const *ids,
                                const size_t *id_lens, size_t n_ids,
                                const cx_seal_object_arg *objects, size_t n_objects, uint8_t **ptb,
                                size_t *ptb_len, cx_error *e)
{
    *ptb = NULL;
    *ptb_len = 0;
    if (strncmp(function, "seal_approve", 12) != 0)
        return cx_error_set(e, CX_ERR_ARG, "seal: %s is not a seal_approve function", function);
    if (n_ids < 1 || n_ids > CX_SEAL_APPROVE_IDS_MAX || n_objects > CX_SEAL_APPROVE_OBJECTS_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "seal: %zu ids (1..%d), %zu object arguments (≤ %d)",
                            n_ids, CX_SEAL_APPROVE_IDS_MAX, n_objects, CX_SEAL_APPROVE_OBJECTS_MAX);
    cx_sui_tx tx;
    cx_sui_tx_init(&tx);
    cx_sui_arg args[1 + CX_SEAL_APPROVE_OBJECTS_MAX];
    cx_err rc = CX_OK;
    /* each call its own id; the objects are inputs once, shared by every call */
    for (size_t i = 0; rc == CX_OK && i < n_objects; i++) {
        const cx_seal_object_arg *o = &objects[i];
        cx_sui_object_ref ref = {.id = o->id, .version = o->version};
        memcpy(ref.digest, o->digest, sizeof ref.digest);
        rc = o->initial_shared_version
                 ? cx_sui_tx_shared(&tx, &o->id, o->initial_shared_version, 0, &args[1 + i], e)
                 : cx_sui_tx_object(&tx, &ref, &args[1 + i], e);
    }
    for (size_t i = 0; rc == CX_OK && i < n_ids; i++) {
        rc = cx_sui_tx_pure_bytes(&tx, ids[i], id_lens[i], &args[0], e);
        if (rc == CX_OK)
            rc = cx_sui_tx_move_call(&tx, package, module, function, NULL, 0, args, 1 + n_objects,
                                     NULL, e);
    }
    if (rc == CX_OK)
        rc = cx_sui_ptb_encode(&tx, ptb, ptb_len, e);
    cx_sui_tx_free(&tx);
    return rc;
}

cx_err cx_seal_ptb_approve(const cx_chain_addr *package, const char *module, const char *function,
                           const uint8_t *id, size_t id_len, const cx_seal_object_arg *objects,
                           size_t n_objects, uint8_t **ptb, size_t *ptb_len, cx_error *e)
{
    return cx_seal_ptb_approve_many(package, module, function, &id, &id_len, 1, objects, n_objects,
                                    ptb, ptb_len, e);
}

/* A JSON string of base64(b); NULL when out of memory. */
static json_t *b64_json(const uint8_t *b, size_t n)
{
    char *s = cx_base64_dup(b, n);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

static cx_err sign_with_key(void *ud, const uint8_t *msg, size_t len,
                            uint8_t sig[CX_CHAIN_ED25519_SIG_LEN], cx_error *e)
{
    return cx_chain_key_sign(ud, msg, len, sig, e);
}

cx_seal_user cx_seal_user_of_key(const cx_chain_key *k)
{
    return (cx_seal_user){cx_chain_key_public(k), sign_with_key, (void *)k};
}

/* A Sui personal-message signature (flag 0x00 || Ed25519 || public key) by user over msg. */
static cx_err personal_message_sign(const cx_seal_user *user, const char *msg,
                                    uint8_t out[CX_SUI_SIGNATURE_LEN], cx_error *e)
{
    uint8_t digest[CX_SUI_DIGEST_LEN];
    cx_err rc = cx_sui_personal_message_digest((const uint8_t *)msg, strlen(msg), digest, e);
    if (rc == CX_OK)
        rc = user->sign(user->ud, digest, sizeof digest, out + 1, e);
    out[0] = 0x00; /* Ed25519 */
    memcpy(out + 1 + CX_CHAIN_ED25519_SIG_LEN, user->public_key, CX_CHAIN_ED25519_PK_LEN);
    return rc;
}

cx_err cx_seal_request_build(const cx_seal_user *user, const uint8_t package[CX_SEAL_ADDR_LEN],
                             const uint8_t *ptb, size_t ptb_len, uint32_t ttl_min, uint64_t now_ms,
                             cx_seal_elgamal_key *k, char **body, cx_error *e)
{
    *body = NULL;
    if (ttl_min < 1 || ttl_min > CX_SEAL_TTL_MIN_MAX)
        return cx_error_set(e, CX_ERR_ARG, "seal: a session lasts 1..%d minutes, not %u",
                            CX_SEAL_TTL_MIN_MAX, ttl_min);
    cx_chain_key *session = NULL;
    char *cert_msg = NULL;
    uint8_t *req = NULL;
    size_t req_len = 0;
    uint8_t cert_sig[CX_SUI_SIGNATURE_LEN], req_sig[CX_CHAIN_ED25519_SIG_LEN];
    char user_hex[2 + 2 * CX_CHAIN_ID_LEN + 1] = "0x";
    cx_chain_addr user_addr;
    json_t *j = NULL;
    /* a fresh session key per request: it signs only this request, under the certificate */
    cx_err rc = cx_seal_elgamal_generate(k, e);
    if (rc == CX_OK)
        rc = cx_chain_key_generate(&session, e);
    if (rc == CX_OK)
        rc = cx_seal_certificate_message(package, ttl_min, now_ms, cx_chain_key_public(session),
                                         &cert_msg, e);
    if (rc == CX_OK)
        rc = personal_message_sign(user, cert_msg, cert_sig, e);
    if (rc == CX_OK)
        rc = cx_seal_request_bytes(ptb, ptb_len, k->enc_key, k->enc_vk, &req, &req_len, e);
    if (rc == CX_OK)
        rc = cx_chain_key_sign(session, req, req_len, req_sig, e);
    if (rc == CX_OK)
        rc = cx_chain_addr_from_ed25519(user->public_key, &user_addr, e);
    if (rc == CX_OK)
        rc = cx_hex_encode(user_addr.b, CX_CHAIN_ID_LEN, user_hex + 2, sizeof user_hex - 2, e);
    if (rc == CX_OK) {
        json_t *cert =
            json_pack("{s:s, s:o, s:I, s:I, s:o, s:n}", "user", user_hex, "session_vk",
                      b64_json(cx_chain_key_public(session), CX_CHAIN_ED25519_PK_LEN),
                      "creation_time", (json_int_t)now_ms, "ttl_min", (json_int_t)ttl_min,
                      "signature", b64_json(cert_sig, sizeof cert_sig), "mvr_name");
        j = cert ? json_pack("{s:o, s:o, s:o, s:o, s:o}", "ptb", b64_json(ptb, ptb_len), "enc_key",
                             b64_json(k->enc_key, CX_SEAL_G1_LEN), "enc_verification_key",
                             b64_json(k->enc_vk, CX_SEAL_G2_LEN), "request_signature",
                             b64_json(req_sig, sizeof req_sig), "certificate", cert)
                 : NULL;
        *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (!*body)
            rc = cx_error_set(e, CX_ERR_NOMEM, "seal: building the request");
    }
    json_decref(j);
    free(req);
    free(cert_msg);
    cx_chain_key_free(session);
    if (rc != CX_OK)
        cx_memwipe(k, sizeof *k);
    return rc;
}

/* --------------------------------------------------------- the servers -- */

typedef struct fetch_one {
    CURL *h;
    char *buf;
    size_t len;
    int done, too_large;
    char error[160];
} fetch_one;

static size_t on_answer(char *p, size_t s, size_t n, void *ud)
{
    fetch_one *f = ud;
    size_t add = s * n;
    if (f->len + add > ANSWER_MAX) {
        f->too_large = 1;
        return 0; /* curl fails the transfer */
    }
    char *nb = realloc(f->buf, f->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + f->len, p, add);
    f->buf = nb;
    f->len += add;
    f->buf[f->len] = '\0';
    return add;
}

/* The answer's error for messages: the server's {"error","message"} when it sent one. */
static void http_error(fetch_one *f, long status)
{
    json_t *j = f->buf ? json_loadb(f->buf, f->len, 0, NULL) : NULL;
    const char *kind = json_string_value(json_object_get(j, "error"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (kind)
        snprintf(f->error, sizeof f->error, "HTTP %ld %s%s%.100s", status, kind, msg ? ": " : "",
                 msg ? msg : "");
    else
        snprintf(f->error, sizeof f->error, "HTTP %ld", status);
    json_decref(j);
}

static void transfer_done(fetch_one *f, CURLcode c)
{
    f->done = 1;
    long status = 0;
    curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &status);
    if (c != CURLE_OK)
        snprintf(f->error, sizeof f->error, "%s",
                 f->too_large ? "answer over 64 KiB" : curl_easy_strerror(c));
    else if (status != 200)
        http_error(f, status);
    if (f->error[0]) {
        free(f->buf);
        f->buf = NULL;
        f->len = 0;
    }
}

static void answers_of(const cx_seal_endpoint *servers, const fetch_one *f, size_t n,
                       cx_seal_answer *a)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(a[i].object_id, servers[i].object_id, CX_SEAL_ADDR_LEN);
        memcpy(a[i].pk, servers[i].pk, CX_SEAL_G2_LEN);
        a[i].name = servers[i].url;
        a[i].body = f[i].done ? f[i].buf : NULL;
        a[i].body_len = f[i].len;
        a[i].error = !f[i].done ? "no answer yet" : f[i].error[0] ? f[i].error : NULL;
    }
}

/* Do the answers so far cover every object? Opening them verifies each key (a pairing apiece),
 * so try only once the good answers could cover the thresholds. Each object's keys go to
 * keys + j·n. CX_OK when they do; else, with e, the first object not covered says why (with
 * e NULL, nothing is opened before the thresholds could be met). */
static cx_err covered(const cx_seal_object *const *objs, size_t n_objs,
                      const cx_seal_elgamal_key *k, const cx_seal_endpoint *servers,
                      const fetch_one *f, size_t n, cx_seal_answer *a, cx_seal_key *keys,
                      size_t *n_keys, cx_error *e)
{
    size_t good = 0;
    uint8_t need = 0;
    for (size_t i = 0; i < n; i++)
        good += f[i].done && f[i].buf;
    for (size_t j = 0; j < n_objs; j++)
        need = objs[j]->threshold > need ? objs[j]->threshold : need;
    if (!e && good < need)
        return CX_ERR_VERIFY;
    answers_of(servers, f, n, a);
    cx_error quiet;
    cx_err rc = CX_OK;
    for (size_t j = 0; j < n_objs && rc == CX_OK; j++) {
        n_keys[j] = 0;
        rc = cx_seal_collect_keys(objs[j], k, a, n, keys + j * n, &n_keys[j], e ? e : &quiet);
    }
    return rc;
}

cx_err cx_seal_fetch_keys(const cx_seal_endpoint *servers, size_t n, const char *body,
                          long timeout_ms, const cx_seal_object *o, const cx_seal_elgamal_key *k,
                          cx_seal_key *keys, size_t *n_keys, cx_error *e)
{
    return cx_seal_fetch_keys_many(servers, n, body, timeout_ms, &o, 1, k, keys, n_keys, e);
}

cx_err cx_seal_fetch_keys_many(const cx_seal_endpoint *servers, size_t n, const char *body,
                               long timeout_ms, const cx_seal_object *const *objs, size_t n_objs,
                               const cx_seal_elgamal_key *k, cx_seal_key *keys, size_t *n_keys,
                               cx_error *e)
{
    for (size_t j = 0; j < n_objs; j++)
        n_keys[j] = 0;
    if (n_objs == 0)
        return CX_OK;
    if (n == 0 || n > CX_SEAL_SERVERS_MAX)
        return cx_error_set(e, CX_ERR_ARG, "seal: %zu key servers (1..%d)", n, CX_SEAL_SERVERS_MAX);
    fetch_one *f = calloc(n, sizeof *f);
    cx_seal_answer *a = calloc(n, sizeof *a);
    CURLM *m = curl_multi_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 =
        hdrs ? curl_slist_append(hdrs, "Client-Sdk-Version: " SDK_VERSION) : NULL;
    cx_err rc = f && a && m && h2 ? CX_OK : cx_error_set(e, CX_ERR_NOMEM, "seal: out of memory");
    if (h2)
        hdrs = h2;
    for (size_t i = 0; rc == CX_OK && i < n; i++) {
        char url[CX_SEAL_URL_MAX + 16];
        size_t ul = strlen(servers[i].url);
        while (ul && servers[i].url[ul - 1] == '/')
            ul--;
        if (ul == 0 || ul > CX_SEAL_URL_MAX) {
            rc = cx_error_set(e, CX_ERR_ARG, "seal: key server %zu: bad URL", i);
            break;
        }
        snprintf(url, sizeof url, "%.*s/v1/fetch_key", (int)ul, servers[i].url);
        CURL *h = f[i].h = curl_easy_init();
        if (!h || curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_answer) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_WRITEDATA, &f[i]) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
            curl_multi_add_handle(m, h) != CURLM_OK)
            rc = cx_error_set(e, CX_ERR_NOMEM, "seal: key server %s: cannot set up the request",
                              servers[i].url);
    }
    /* all in parallel; stop as soon as the answers so far cover the threshold */
    int running = 1, ok = 0;
    while (rc == CX_OK && running && !ok) {
        CURLMcode mc = curl_multi_perform(m, &running);
        if (mc == CURLM_OK && running)
            mc = curl_multi_poll(m, NULL, 0, 200, NULL);
        if (mc != CURLM_OK) {
            rc = cx_error_set(e, CX_ERR_IO, "seal: %s", curl_multi_strerror(mc));
            break;
        }
        CURLMsg *msg;
        int left, finished = 0;
        while ((msg = curl_multi_info_read(m, &left)))
            for (size_t i = 0; msg->msg == CURLMSG_DONE && i < n; i++)
                if (f[i].h == msg->easy_handle) {
                    transfer_done(&f[i], msg->data.result);
                    finished = 1;
                }
        if (finished)
            ok = covered(objs, n_objs, k, servers, f, n, a, keys, n_keys, NULL) == CX_OK;
    }
    /* every server answered or failed: the collector names each one that failed */
    if (rc == CX_OK && !ok)
        rc = covered(objs, n_objs, k, servers, f, n, a, keys, n_keys, e);
    for (size_t i = 0; f && i < n; i++) {
        if (f[i].h) {
            curl_multi_remove_handle(m, f[i].h);
            curl_easy_cleanup(f[i].h);
        }
        free(f[i].buf);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(f);
    free(a);
    return rc;
}

/* ------------------------------------------------- the key server's side -- */

typedef struct ks_answer {
    int status;
    const char *kind;
    char msg[200];
} ks_answer;

static int refuse(ks_answer *a, int status, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(ks_answer *a, int status, const char *kind, const char *fmt, ...)
{
    a->status = status;
    a->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    return 0;
}

/* base64 field of exactly n bytes (n 0: any length up to cap, *len set). */
static int b64_field(const json_t *o, const char *key, uint8_t *out, size_t cap, size_t n,
                     size_t *len)
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t got = 0;
    cx_error quiet;
    if (!s || cx_base64_decode(s, strlen(s), out, cap, &got, &quiet) != CX_OK)
        return 0;
    if (len)
        *len = got;
    return n == 0 || got == n;
}

typedef struct ks_request {
    uint8_t ptb[PTB_MAX];
    size_t ptb_len;
    cx_seal_elgamal_key k; /* enc_key, enc_vk (no sk) */
    uint8_t req_sig[CX_CHAIN_ED25519_SIG_LEN];
    cx_chain_addr user;
    uint8_t session_vk[CX_CHAIN_ED25519_PK_LEN];
    uint64_t creation_ms;
    uint32_t ttl_min;
    uint8_t cert_sig[CX_SUI_SIGNATURE_LEN];
} ks_request;

static int parse_request(const json_t *j, ks_request *r, ks_answer *a)
{
    const json_t *c = json_object_get(j, "certificate");
    if (!json_is_object(j) || !json_is_object(c))
        return refuse(a, 400, "InvalidParameter", "the body is not a fetch_key request");
    if (!b64_field(j, "ptb", r->ptb, sizeof r->ptb, 0, &r->ptb_len) ||
        !b64_field(j, "enc_key", r->k.enc_key, sizeof r->k.enc_key, CX_SEAL_G1_LEN, NULL) ||
        !b64_field(j, "enc_verification_key", r->k.enc_vk, sizeof r->k.enc_vk, CX_SEAL_G2_LEN,
                   NULL) ||
        !b64_field(j, "request_signature", r->req_sig, sizeof r->req_sig, sizeof r->req_sig, NULL))
        return refuse(a, 400, "InvalidParameter",
                      "ptb, enc_key, enc_verification_key or request_signature malformed");
    const char *user = json_string_value(json_object_get(c, "user"));
    json_t *ct = json_object_get(c, "creation_time"), *ttl = json_object_get(c, "ttl_min");
    cx_error quiet;
    if (!user || cx_sui_address_parse(user, &r->user, &quiet) != CX_OK ||
        !b64_field(c, "session_vk", r->session_vk, sizeof r->session_vk, sizeof r->session_vk,
                   NULL) ||
        !json_is_integer(ct) || json_integer_value(ct) < 0 || !json_is_integer(ttl) ||
        json_integer_value(ttl) < 0 || json_integer_value(ttl) > 1000000 ||
        !b64_field(c, "signature", r->cert_sig, sizeof r->cert_sig, sizeof r->cert_sig, NULL))
        return refuse(a, 403, "InvalidCertificate", "the certificate is malformed");
    r->creation_ms = (uint64_t)json_integer_value(ct);
    r->ttl_min = (uint32_t)json_integer_value(ttl);
    return 1;
}

/* The inner id of command i: its first argument, a Pure input holding a BCS vector<u8>. */
static int call_id(const cx_sui_tx *tx, size_t i, const uint8_t **id, size_t *len)
{
    const cx_sui_input *in = &tx->inputs[tx->commands[i].args[0].index];
    if (in->kind != CX_SUI_INPUT_PURE)
        return 0;
    cx_bcs_reader r;
    cx_error quiet;
    cx_bcs_reader_init(&r, in->pure, in->pure_len);
    return cx_bcs_get_bytes(&r, CX_SEAL_ID_MAX, id, len, &quiet) == CX_OK &&
           cx_bcs_reader_end(&r, &quiet) == CX_OK && *len > 0;
}

/* Every command a seal_approve* call of this server's package whose arguments are inputs and
 * whose first is a Pure vector<u8>: the inner id (spec §4.6 "PTB rules"). */
static int check_ptb(const cx_sui_tx *tx, const cx_chain_addr *package, ks_answer *a)
{
    if (tx->n_inputs < 1 || tx->n_commands < 1 || tx->n_commands > 100)
        return refuse(a, 403, "InvalidPTB", "%zu inputs and %zu commands", tx->n_inputs,
                      tx->n_commands);
    for (size_t i = 0; i < tx->n_commands; i++) {
        const cx_sui_command *c = &tx->commands[i];
        if (c->kind != CX_SUI_CMD_MOVE_CALL || strncmp(c->function, "seal_approve", 12) != 0)
            return refuse(a, 403, "InvalidPTB", "command %zu is not a seal_approve call", i);
        if (memcmp(c->package.b, package->b, CX_CHAIN_ID_LEN) != 0)
            return refuse(a, 403, "InvalidPackage", "command %zu calls another package", i);
        if (c->n_args < 1)
            return refuse(a, 403, "InvalidPTB", "command %zu has no id argument", i);
        for (size_t k = 0; k < c->n_args; k++)
            if (c->args[k].kind != CX_SUI_ARG_INPUT)
                return refuse(a, 403, "InvalidPTB", "command %zu: argument %zu is no input", i, k);
        const uint8_t *id;
        size_t id_len;
        if (!call_id(tx, i, &id, &id_len))
            return refuse(a, 403, "InvalidPTB", "command %zu: the id is not a pure vector<u8>", i);
    }
    return 1;
}

/* The certificate: signed by its user over the session key, for this package, still valid;
 * and the request signed by that session key (spec §4.6). */
static int check_signatures(const ks_request *r, const cx_chain_addr *package, uint32_t max_ttl,
                            uint64_t now_ms, ks_answer *a)
{
    if (r->ttl_min < 1 || r->ttl_min > max_ttl)
        return refuse(a, 403, "InvalidCertificate", "ttl_min %u is not in 1..%u", r->ttl_min,
                      max_ttl);
    /* a little skew for the requester's clock, none past the session's end */
    if (r->creation_ms > now_ms + 60000 || now_ms >= r->creation_ms + r->ttl_min * 60000ull)
        return refuse(a, 403, "InvalidCertificate", "the session is not valid now");
    cx_error quiet;
    char *msg = NULL;
    uint8_t *req = NULL;
    size_t req_len = 0;
    int ok = 0;
    const uint8_t *pk = r->cert_sig + 1 + CX_CHAIN_ED25519_SIG_LEN;
    cx_chain_addr signer;
    if (r->cert_sig[0] != 0x00 || cx_chain_addr_from_ed25519(pk, &signer, &quiet) != CX_OK ||
        memcmp(signer.b, r->user.b, CX_CHAIN_ID_LEN) != 0)
        refuse(a, 403, "InvalidSignature", "the certificate is not signed by its user's key");
    else if (cx_seal_certificate_message(package->b, r->ttl_min, r->creation_ms, r->session_vk,
                                         &msg, &quiet) != CX_OK ||
             cx_sui_personal_message_verify(pk, (const uint8_t *)msg, strlen(msg), r->cert_sig + 1,
                                            &quiet) != CX_OK)
        refuse(a, 403, "InvalidSignature", "the certificate's signature does not verify");
    else if (cx_seal_request_bytes(r->ptb, r->ptb_len, r->k.enc_key, r->k.enc_vk, &req, &req_len,
                                   &quiet) != CX_OK ||
             cx_ed25519_verify(r->session_vk, req, req_len, r->req_sig, &quiet) != CX_OK)
        refuse(a, 403, "InvalidSessionSignature", "the request's signature does not verify");
    else
        ok = 1;
    free(msg);
    free(req);
    return ok;
}

/* The marketplace's policy (the Move package's seal_policy, RULES.md §2.3) on the ledger. */
static int approve(const cx_seal_ks *ks, const char *function, const uint8_t *id, size_t id_len,
                   const cx_chain_addr *user, ks_answer *a, cx_error *e)
{
    cx_chain_id obj;
    if (id_len < CX_CHAIN_ID_LEN)
        return refuse(a, 403, "NoAccess", "%s: the id names no object", function);
    memcpy(obj.b, id, CX_CHAIN_ID_LEN);
    if (strcmp(function, CX_SEAL_APPROVE_DATASET) == 0) {
        cx_ledger_pool *pool = malloc(sizeof *pool);
        if (!pool)
            return refuse(a, 503, "Failure", "out of memory");
        cx_err rc = cx_ledger_pool_get(ks->ledger, &obj, pool, e);
        int sealed_ok =
            rc == CX_OK && cx_ledger_pool_accepts_sealing(&pool->policy, CX_LEDGER_SEALING_SEAL);
        free(pool);
        if (rc == CX_ERR_NOTFOUND)
            return refuse(a, 403, "NoAccess", "%s: the id names no pool", function);
        if (rc != CX_OK)
            return refuse(a, 503, "Failure", "the ledger: %s", e->msg);
        if (!sealed_ok)
            return refuse(a, 403, "NoAccess", "%s: the pool does not accept Seal-sealed data",
                          function);
        cx_ledger_enclave *en = NULL;
        size_t n = 0;
        rc = cx_ledger_enclaves_for_pool(ks->ledger, &obj, &en, &n, e);
        if (rc == CX_ERR_NOTFOUND)
            return refuse(a, 403, "NoAccess", "%s: the id names no pool", function);
        if (rc != CX_OK)
            return refuse(a, 503, "Failure", "the ledger: %s", e->msg);
        int found = 0;
        for (size_t i = 0; i < n && !found; i++) {
            cx_chain_addr addr;
            found = cx_chain_addr_from_ed25519(en[i].ed25519_pk, &addr, e) == CX_OK &&
                    memcmp(addr.b, user->b, CX_CHAIN_ID_LEN) == 0;
        }
        free(en);
        return found ? 1
                     : refuse(a, 403, "NoAccess",
                              "%s: the requester is no enclave that the pool's operator added",
                              function);
    }
    if (strcmp(function, CX_SEAL_APPROVE_MODEL) == 0) {
        cx_ledger_job job;
        if (id_len != CX_CHAIN_ID_LEN)
            return refuse(a, 403, "NoAccess", "%s: the id is not a job id", function);
        cx_err rc = cx_ledger_job_get(ks->ledger, &obj, &job, e);
        if (rc == CX_ERR_NOTFOUND)
            return refuse(a, 403, "NoAccess", "%s: no such job", function);
        if (rc != CX_OK)
            return refuse(a, 503, "Failure", "the ledger: %s", e->msg);
        if (memcmp(job.buyer.b, user->b, CX_CHAIN_ID_LEN) != 0)
            return refuse(a, 403, "NoAccess", "%s: the requester is not the job's buyer", function);
        if (job.state != CX_LEDGER_JOB_PAID)
            return refuse(a, 403, "NoAccess", "%s: the job is %s, not paid", function,
                          cx_ledger_job_state_name(job.state));
        return 1;
    }
    return refuse(a, 403, "NoAccess", "%s is not a policy of this package", function);
}

/* usk for every call's identity, ElGamal-encrypted to the request's key. */
static cx_err answer_keys(const cx_seal_ks *ks, const cx_sui_tx *tx, const ks_request *r,
                          char **resp, cx_error *e)
{
    size_t n = tx->n_commands;
    uint8_t(*usks)[CX_SEAL_G1_LEN] = cx_secmem_alloc(n * CX_SEAL_G1_LEN, 0, e);
    uint8_t **ids = calloc(n, sizeof *ids);
    size_t *lens = calloc(n, sizeof *lens);
    cx_err rc = usks && ids && lens ? CX_OK : cx_error_set(e, CX_ERR_NOMEM, "seal: out of memory");
    for (size_t i = 0; rc == CX_OK && i < n; i++) {
        const uint8_t *id;
        size_t id_len;
        call_id(tx, i, &id, &id_len); /* checked by check_ptb */
        rc = cx_seal_full_id(ks->package.b, id, id_len, &ids[i], &lens[i], e);
        if (rc == CX_OK)
            rc = cx_seal_extract(ks->msk, ids[i], lens[i], usks[i], e);
    }
    if (rc == CX_OK)
        rc = cx_seal_fetch_key_response((const uint8_t *const *)ids, lens,
                                        (const uint8_t(*)[CX_SEAL_G1_LEN])usks, n, r->k.enc_key,
                                        resp, e);
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
    free(lens);
    cx_secmem_free(usks);
    return rc;
}

static char *error_body(const ks_answer *a)
{
    json_t *j = json_pack("{s:s, s:s}", "error", a->kind, "message", a->msg);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

cx_err cx_seal_ks_fetch_key(const cx_seal_ks *ks, const char *body, size_t len,
                            const char *sdk_version, uint64_t now_ms, int *status, char **resp,
                            cx_error *e)
{
    *resp = NULL;
    ks_answer a = {.status = 200};
    ks_request *r = calloc(1, sizeof *r);
    if (!r)
        return cx_error_set(e, CX_ERR_NOMEM, "seal key server: out of memory");
    json_t *j = NULL;
    cx_sui_tx tx;
    cx_sui_tx_init(&tx);
    cx_err rc = CX_OK;
    int ok = 1;
    if (!sdk_version || !sdk_version[0])
        ok = refuse(&a, 400, "MissingRequiredHeader", "Client-Sdk-Version is required");
    else if (len > REQUEST_MAX)
        ok = refuse(&a, 413, "InvalidParameter", "the request is over 180 KiB");
    else if (!(j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)))
        ok = refuse(&a, 400, "InvalidParameter", "the body is not JSON");
    ok = ok && parse_request(j, r, &a);
    const int parsed = ok;
    cx_error quiet;
    if (ok && cx_sui_ptb_decode(r->ptb, r->ptb_len, &tx, &quiet) != CX_OK)
        ok = refuse(&a, 403, "InvalidPTB", "%s", quiet.msg);
    ok = ok && check_ptb(&tx, &ks->package, &a);
    ok = ok && check_signatures(r, &ks->package, ks->max_ttl_min, now_ms, &a);
    for (size_t i = 0; ok && i < tx.n_commands; i++) {
        const uint8_t *id;
        size_t id_len;
        call_id(&tx, i, &id, &id_len);
        ok = approve(ks, tx.commands[i].function, id, id_len, &r->user, &a, &quiet);
    }
    if (ok)
        rc = answer_keys(ks, &tx, r, resp, e);
    else if (!(*resp = error_body(&a)))
        rc = cx_error_set(e, CX_ERR_NOMEM, "seal key server: out of memory");
    *status = ok ? 200 : a.status;
    /* an access log: who asked for how many keys, and the answer (never a key) */
    char who[CX_CHAIN_ID_HEX_LEN + 1] = "?";
    if (parsed)
        cx_chain_id_to_hex(&r->user, who);
    cx_log_info(ks->log, "fetch_key: %zu id(s) for %s: %d%s%s%s%s", tx.n_commands, who, *status,
                ok ? "" : " ", ok ? "" : a.kind, ok ? "" : ": ", ok ? "" : a.msg);
    cx_sui_tx_free(&tx);
    json_decref(j);
    free(r);
    return rc;
}
