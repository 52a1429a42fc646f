/* sui_graphql.c — a Sui GraphQL client over libcurl + jansson (spec §2.2): the queries the
 * ledger needs, with retries and backoff, timeouts, response size limits and clear errors. */
#include "cx_chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

/* The query texts, shaped like @mysten/sui 2.33.1's own (the files of src/graphql/queries) and
 * validated against its schema.graphql by test_chain_sui_graphql. */
static const char Q_CHAIN_ID[] = "query { chainIdentifier }";
static const char Q_GAS_PRICE[] = "query { epoch { referenceGasPrice } }";
static const char Q_OBJECT[] =
    "query getObject($id: SuiAddress!) { object(address: $id) { address version digest "
    "owner { __typename ... on AddressOwner { address { address } } "
    "... on ObjectOwner { address { address } } ... on Shared { initialSharedVersion } } "
    "asMoveObject { contents { type { repr } bcs } } } }";
static const char Q_COINS[] =
    "query getCoins($owner: SuiAddress!, $type: String!, $after: String) { address(address: "
    "$owner) { objects(first: 50, after: $after, filter: { type: $type }) { pageInfo { "
    "hasNextPage endCursor } nodes { address version digest contents { json } } } } }";
static const char Q_EVENTS[] =
    "query listEvents($filter: EventFilter, $after: String) { events(first: 50, after: $after, "
    "filter: $filter) { pageInfo { hasNextPage endCursor } nodes { timestamp transaction { "
    "digest } sender { address } contents { type { repr } bcs } } } }";
static const char Q_EXECUTE[] =
    "mutation executeTransaction($tx: Base64!, $sigs: [Base64!]!) { executeTransaction("
    "transactionDataBcs: $tx, signatures: $sigs) { effects { status digest timestamp "
    "executionError { message abortCode } objectChanges(first: 50) { nodes { address idCreated } } "
    "events(first: 50) { nodes { timestamp sender { address } contents { type { repr } bcs } } } "
    "} } }";
static const char Q_SIMULATE[] =
    "query simulateTransaction($tx: JSON!) { simulateTransaction(transaction: $tx, "
    "checksEnabled: true, doGasSelection: false) { effects { status executionError { message "
    "abortCode } gasEffects { gasSummary { computationCost storageCost storageRebate } } } } }";

struct cx_sui_gql {
    char *url;
    cx_sui_gql_opts o;
    CURL *h;
    int attempts;
};

cx_err cx_sui_gql_open(const cx_sui_gql_opts *o, cx_sui_gql **out, cx_error *e)
{
    *out = NULL;
    if (!o || !o->url || strncmp(o->url, "http", 4) != 0)
        return cx_error_set(e, CX_ERR_ARG, "graphql: an http(s) URL is required");
    cx_sui_gql *g = calloc(1, sizeof *g);
    if (!g || !(g->url = strdup(o->url))) {
        free(g);
        return cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    }
    g->o = *o;
    g->o.url = g->url;
    if (!g->o.connect_timeout_ms)
        g->o.connect_timeout_ms = 5000;
    if (!g->o.timeout_ms)
        g->o.timeout_ms = 30000;
    if (g->o.max_attempts <= 0)
        g->o.max_attempts = 5;
    if (!g->o.backoff_ms)
        g->o.backoff_ms = 200;
    if (!g->o.backoff_max_ms)
        g->o.backoff_max_ms = 10000;
    if (!g->o.max_response)
        g->o.max_response = 8u << 20;
    if (!(g->h = curl_easy_init())) {
        cx_sui_gql_close(g);
        return cx_error_set(e, CX_ERR_NET, "graphql: curl_easy_init failed");
    }
    *out = g;
    return CX_OK;
}

void cx_sui_gql_close(cx_sui_gql *g)
{
    if (!g)
        return;
    if (g->h)
        curl_easy_cleanup(g->h);
    free(g->url);
    free(g);
}

int cx_sui_gql_attempts(const cx_sui_gql *g)
{
    return g ? g->attempts : 0;
}

typedef struct resp {
    char *p;
    size_t n, max;
    int too_big;
    long retry_after_s; /* -1 when absent */
} resp;

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    size_t k = s * n;
    if (k > r->max - r->n) {
        r->too_big = 1;
        return 0; /* aborts the transfer */
    }
    char *q = realloc(r->p, r->n + k + 1);
    if (!q)
        return 0;
    memcpy(q + r->n, p, k);
    r->n += k;
    q[r->n] = 0;
    r->p = q;
    return k;
}

static size_t on_header(char *p, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    size_t k = s * n;
    static const char name[] = "retry-after:";
    if (k > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
        char buf[32];
        size_t m = k - (sizeof name - 1) < sizeof buf - 1 ? k - (sizeof name - 1) : sizeof buf - 1;
        memcpy(buf, p + sizeof name - 1, m);
        buf[m] = 0;
        char *end;
        long v = strtol(buf, &end, 10);
        if (end != buf && v >= 0)
            r->retry_after_s = v;
    }
    return k;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Transient: worth another attempt. */
static int transient_curl(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_COULDNT_RESOLVE_HOST:
        return 1;
    default:
        return 0;
    }
}

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(g->h, opt, val);                                                  \
    } while (0)

/* One POST; *status the HTTP status (0 when none). */
static CURLcode post_once(cx_sui_gql *g, const char *body, struct curl_slist *hdrs, resp *r,
                          long *status)
{
    CURLcode c = CURLE_OK;
    curl_easy_reset(g->h);
    SETOPT(CURLOPT_URL, g->url);
    SETOPT(CURLOPT_POSTFIELDS, body);
    SETOPT(CURLOPT_HTTPHEADER, hdrs);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, r);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, r);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, g->o.connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, g->o.timeout_ms);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    if (c == CURLE_OK)
        c = curl_easy_perform(g->h);
    *status = 0;
    curl_easy_getinfo(g->h, CURLINFO_RESPONSE_CODE, status);
    return c;
}

/* The messages of errors[], joined, into e. */
static cx_err graphql_errors(json_t *errors, cx_error *e)
{
    char msg[768] = "";
    size_t i, used = 0;
    json_t *err;
    json_array_foreach(errors, i, err)
    {
        const char *m = json_string_value(json_object_get(err, "message"));
        int w = snprintf(msg + used, sizeof msg - used, "%s%s", i ? "; " : "",
                         m ? m : "(no message)");
        if (w < 0 || (size_t)w >= sizeof msg - used)
            break;
        used += (size_t)w;
    }
    return cx_error_set(e, CX_ERR_VERIFY, "graphql: the server refused the query: %s", msg);
}

cx_err cx_sui_gql_query(cx_sui_gql *g, const char *query, json_t *variables, json_t **data,
                        cx_error *e)
{
    *data = NULL;
    g->attempts = 0;
    json_t *req = json_pack("{s:s}", "query", query);
    if (req && variables)
        json_object_set(req, "variables", variables);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = hdrs ? curl_slist_append(hdrs, "Accept: application/json") : NULL;
    if (!body || !h2) {
        free(body);
        curl_slist_free_all(h2 ? h2 : hdrs);
        return cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    }
    hdrs = h2;
    cx_err rc = CX_ERR_NET;
    long delay = g->o.backoff_ms;
    resp r = {0};
    for (;;) {
        free(r.p);
        memset(&r, 0, sizeof r);
        r.max = g->o.max_response;
        r.retry_after_s = -1;
        long status = 0;
        g->attempts++;
        CURLcode c = post_once(g, body, hdrs, &r, &status);
        int retry = 0;
        if (r.too_big) {
            rc = cx_error_set(e, CX_ERR_LIMIT, "graphql: response larger than %zu bytes",
                              g->o.max_response);
        } else if (c != CURLE_OK) {
            retry = transient_curl(c);
            rc = cx_error_set(e, CX_ERR_NET, "graphql: %s: %s", g->url, curl_easy_strerror(c));
        } else if (status == 429 || status >= 500) {
            retry = 1;
            rc = cx_error_set(e, CX_ERR_NET, "graphql: %s: HTTP %ld", g->url, status);
        } else if (status != 200) {
            rc = cx_error_set(e, CX_ERR_NET, "graphql: %s: HTTP %ld: %.200s", g->url, status,
                              r.p ? r.p : "");
        } else {
            json_error_t je;
            json_t *doc = json_loadb(r.p ? r.p : "", r.n, 0, &je);
            json_t *errors = doc ? json_object_get(doc, "errors") : NULL;
            if (!doc || !json_is_object(doc)) {
                rc = cx_error_set(e, CX_ERR_FORMAT, "graphql: response is not JSON: %s", je.text);
            } else if (json_array_size(errors) > 0) {
                rc = graphql_errors(errors, e);
            } else if (!json_is_object(json_object_get(doc, "data"))) {
                rc = cx_error_set(e, CX_ERR_FORMAT, "graphql: response has no data");
            } else {
                *data = json_incref(json_object_get(doc, "data"));
                rc = CX_OK;
            }
            json_decref(doc);
        }
        if (!retry || g->attempts >= g->o.max_attempts)
            break;
        long wait = delay;
        if (r.retry_after_s >= 0)
            wait = r.retry_after_s * 1000 > g->o.backoff_max_ms ? g->o.backoff_max_ms
                                                                 : r.retry_after_s * 1000;
        sleep_ms(wait);
        delay = delay * 2 > g->o.backoff_max_ms ? g->o.backoff_max_ms : delay * 2;
    }
    if (rc != CX_OK && rc != CX_ERR_LIMIT && g->attempts > 1)
        cx_error_wrap(rc, e, "(after %d attempts) ", g->attempts);
    free(r.p);
    free(body);
    curl_slist_free_all(hdrs);
    return rc;
}

/* ------------------------------------------------------------- helpers -- */

/* data.a.b.c... (NULL when any step is missing) */
static json_t *at(json_t *o, const char *path)
{
    char key[64];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        o = json_object_get(o, key);
        path += n + (path[n] == '.');
    }
    return o;
}

/* UInt53 (number) or BigInt (string) as u64 */
static int get_u64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 1;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return 0;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return 0;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *out = x;
    return 1;
}

static cx_err shape(const char *what, cx_error *e)
{
    return cx_error_set(e, CX_ERR_FORMAT, "graphql: unexpected response: %s", what);
}

static cx_err get_addr(json_t *v, cx_chain_addr *out, const char *what, cx_error *e)
{
    const char *s = json_string_value(v);
    if (!s || cx_sui_address_parse(s, out, NULL) != CX_OK)
        return shape(what, e);
    return CX_OK;
}

static cx_err get_digest(json_t *v, uint8_t out[32], const char *what, cx_error *e)
{
    size_t n = 0;
    const char *s = json_string_value(v);
    if (!s || cx_sui_base58_decode(s, out, 32, &n, NULL) != CX_OK || n != 32)
        return shape(what, e);
    return CX_OK;
}

static cx_err get_b64(json_t *v, size_t max, uint8_t **out, size_t *len, const char *what,
                      cx_error *e)
{
    const char *s = json_string_value(v);
    *out = NULL;
    *len = 0;
    if (!s)
        return shape(what, e);
    size_t cap = strlen(s) / 4 * 3 + 3;
    if (cap > max + 3)
        return cx_error_set(e, CX_ERR_LIMIT, "graphql: %s larger than %zu bytes", what, max);
    uint8_t *b = malloc(cap + 1);
    if (!b)
        return cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    if (cx_base64_decode(s, strlen(s), b, cap, len, NULL) != CX_OK) {
        free(b);
        return shape(what, e);
    }
    *out = b;
    return CX_OK;
}

static cx_err copy_str(json_t *v, char *out, size_t cap, const char *what, cx_error *e)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) >= cap)
        return shape(what, e);
    memcpy(out, s, strlen(s) + 1);
    return CX_OK;
}

/* DateTime "YYYY-MM-DDTHH:MM:SS[.fff]Z" -> ms since the epoch; 0 when absent or unreadable */
static uint64_t datetime_ms(json_t *v)
{
    const char *s = json_string_value(v);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0, frac_digits = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    const char *dot = strchr(s, '.');
    for (const char *p = dot ? dot + 1 : ""; *p >= '0' && *p <= '9'; p++)
        if (frac_digits < 3) {
            ms = ms * 10 + (*p - '0');
            frac_digits++;
        }
    while (dot && frac_digits++ < 3)
        ms *= 10;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (uint64_t)t * 1000u + (uint64_t)ms;
}

/* --------------------------------------------------------------- calls -- */

cx_err cx_sui_gql_chain_identifier(cx_sui_gql *g, char out[CX_SUI_CHAIN_ID_MAX + 1], cx_error *e)
{
    json_t *d;
    cx_err rc = cx_sui_gql_query(g, Q_CHAIN_ID, NULL, &d, e);
    if (rc == CX_OK)
        rc = copy_str(at(d, "chainIdentifier"), out, CX_SUI_CHAIN_ID_MAX + 1, "chainIdentifier",
                      e);
    json_decref(d);
    return rc;
}

cx_err cx_sui_gql_reference_gas_price(cx_sui_gql *g, uint64_t *out, cx_error *e)
{
    json_t *d;
    cx_err rc = cx_sui_gql_query(g, Q_GAS_PRICE, NULL, &d, e);
    if (rc == CX_OK && !get_u64(at(d, "epoch.referenceGasPrice"), out))
        rc = shape("epoch.referenceGasPrice", e);
    json_decref(d);
    return rc;
}

void cx_sui_object_free(cx_sui_object *o)
{
    if (!o)
        return;
    free(o->bcs);
    memset(o, 0, sizeof *o);
}

static cx_err object_ref(json_t *node, cx_sui_object_ref *ref, cx_error *e)
{
    cx_err rc = get_addr(json_object_get(node, "address"), &ref->id, "object address", e);
    if (rc == CX_OK && !get_u64(json_object_get(node, "version"), &ref->version))
        rc = shape("object version", e);
    if (rc == CX_OK)
        rc = get_digest(json_object_get(node, "digest"), ref->digest, "object digest", e);
    return rc;
}

cx_err cx_sui_gql_object(cx_sui_gql *g, const cx_chain_id *id, cx_sui_object *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(id, hex);
    json_t *vars = json_pack("{s:s}", "id", hex), *d = NULL;
    if (!vars)
        return cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    cx_err rc = cx_sui_gql_query(g, Q_OBJECT, vars, &d, e);
    json_decref(vars);
    json_t *o = rc == CX_OK ? at(d, "object") : NULL;
    if (rc == CX_OK && json_is_null(o))
        rc = cx_error_set(e, CX_ERR_NOTFOUND, "sui: object %s does not exist", hex);
    if (rc == CX_OK && !json_is_object(o))
        rc = shape("object", e);
    if (rc == CX_OK)
        rc = object_ref(o, &out->ref, e);
    json_t *owner = rc == CX_OK ? json_object_get(o, "owner") : NULL;
    const char *kind = json_string_value(json_object_get(owner, "__typename"));
    if (rc == CX_OK && kind) {
        if (!strcmp(kind, "AddressOwner") || !strcmp(kind, "ObjectOwner")) {
            out->owner_kind = kind[0] == 'A' ? CX_SUI_OWNER_ADDRESS : CX_SUI_OWNER_OBJECT;
            rc = get_addr(at(owner, "address.address"), &out->owner, "owner address", e);
        } else if (!strcmp(kind, "Shared")) {
            out->owner_kind = CX_SUI_OWNER_SHARED;
            if (!get_u64(json_object_get(owner, "initialSharedVersion"),
                         &out->initial_shared_version))
                rc = shape("initialSharedVersion", e);
        } else {
            out->owner_kind =
                !strcmp(kind, "Immutable") ? CX_SUI_OWNER_IMMUTABLE : CX_SUI_OWNER_OTHER;
        }
    }
    json_t *contents = rc == CX_OK ? at(o, "asMoveObject.contents") : NULL;
    if (rc == CX_OK && json_is_object(contents)) {
        rc = copy_str(at(contents, "type.repr"), out->type, sizeof out->type, "object type", e);
        if (rc == CX_OK)
            rc = get_b64(json_object_get(contents, "bcs"), 256u << 10, &out->bcs, &out->bcs_len,
                         "object bcs", e);
    }
    json_decref(d);
    if (rc != CX_OK)
        cx_sui_object_free(out);
    return rc;
}

/* pageInfo -> next cursor (kept when the page is empty) and has_next */
static cx_err page_info(json_t *conn, const char *cursor, char next[CX_CHAIN_CURSOR_MAX],
                        int *has_next, cx_error *e)
{
    json_t *pi = json_object_get(conn, "pageInfo");
    const char *end = json_string_value(json_object_get(pi, "endCursor"));
    *has_next = json_is_true(json_object_get(pi, "hasNextPage"));
    if (!end)
        end = cursor ? cursor : "";
    if (strlen(end) >= CX_CHAIN_CURSOR_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "graphql: cursor of %zu characters", strlen(end));
    memcpy(next, end, strlen(end) + 1);
    return CX_OK;
}

cx_err cx_sui_gql_coins(cx_sui_gql *g, const cx_chain_addr *owner, const char *coin_type,
                        const char *cursor, cx_sui_coin **out, size_t *n,
                        char next_cursor[CX_CHAIN_CURSOR_MAX], int *has_next, cx_error *e)
{
    *out = NULL;
    *n = 0;
    char hex[CX_CHAIN_ID_HEX_LEN + 1], type[CX_SUI_TYPE_REPR_MAX + 32];
    cx_chain_id_to_hex(owner, hex);
    snprintf(type, sizeof type, "0x2::coin::Coin<%s>", coin_type ? coin_type : "0x2::sui::SUI");
    json_t *vars = json_pack("{s:s, s:s}", "owner", hex, "type", type), *d = NULL;
    if (vars && cursor && *cursor)
        json_object_set_new(vars, "after", json_string(cursor));
    if (!vars)
        return cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    cx_err rc = cx_sui_gql_query(g, Q_COINS, vars, &d, e);
    json_decref(vars);
    json_t *conn = rc == CX_OK ? at(d, "address.objects") : NULL;
    if (rc == CX_OK && !conn) { /* an address that never held anything */
        json_decref(d);
        *has_next = 0;
        snprintf(next_cursor, CX_CHAIN_CURSOR_MAX, "%s", cursor ? cursor : "");
        return CX_OK;
    }
    json_t *nodes = json_object_get(conn, "nodes");
    size_t cnt = json_array_size(nodes);
    cx_sui_coin *coins = cnt ? calloc(cnt, sizeof *coins) : NULL;
    if (rc == CX_OK && cnt && !coins)
        rc = cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    for (size_t i = 0; rc == CX_OK && i < cnt; i++) {
        json_t *node = json_array_get(nodes, i);
        rc = object_ref(node, &coins[i].ref, e);
        if (rc == CX_OK && !get_u64(at(node, "contents.json.balance"), &coins[i].balance))
            rc = shape("coin balance", e);
    }
    if (rc == CX_OK)
        rc = page_info(conn, cursor, next_cursor, has_next, e);
    json_decref(d);
    if (rc != CX_OK) {
        free(coins);
        return rc;
    }
    *out = coins;
    *n = cnt;
    return CX_OK;
}

void cx_sui_events_free(cx_sui_event *ev, size_t n)
{
    for (size_t i = 0; ev && i < n; i++)
        free(ev[i].bcs);
    free(ev);
}

static cx_err event_of(json_t *node, const uint8_t *tx_digest, cx_sui_event *ev, cx_error *e)
{
    cx_err rc = CX_OK;
    if (tx_digest)
        memcpy(ev->tx_digest, tx_digest, 32);
    else
        rc = get_digest(at(node, "transaction.digest"), ev->tx_digest, "event transaction", e);
    if (rc == CX_OK)
        rc = get_addr(at(node, "sender.address"), &ev->sender, "event sender", e);
    if (rc == CX_OK)
        rc = copy_str(at(node, "contents.type.repr"), ev->type, sizeof ev->type, "event type", e);
    if (rc == CX_OK)
        rc = get_b64(at(node, "contents.bcs"), 64u << 10, &ev->bcs, &ev->bcs_len, "event bcs", e);
    ev->timestamp_ms = datetime_ms(json_object_get(node, "timestamp"));
    return rc;
}

static cx_err events_of(json_t *nodes, const uint8_t *tx_digest, cx_sui_event **out, size_t *n,
                        cx_error *e)
{
    size_t cnt = json_array_size(nodes);
    *out = NULL;
    *n = 0;
    if (!cnt)
        return CX_OK;
    cx_sui_event *ev = calloc(cnt, sizeof *ev);
    if (!ev)
        return cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    cx_err rc = CX_OK;
    for (size_t i = 0; rc == CX_OK && i < cnt; i++)
        rc = event_of(json_array_get(nodes, i), tx_digest, &ev[i], e);
    if (rc != CX_OK) {
        cx_sui_events_free(ev, cnt);
        return rc;
    }
    *out = ev;
    *n = cnt;
    return CX_OK;
}

cx_err cx_sui_gql_events(cx_sui_gql *g, const char *type_filter, const char *cursor,
                         cx_sui_event **out, size_t *n, char next_cursor[CX_CHAIN_CURSOR_MAX],
                         int *has_next, cx_error *e)
{
    *out = NULL;
    *n = 0;
    if (!type_filter || !*type_filter)
        return cx_error_set(e, CX_ERR_ARG, "graphql: events need a type filter");
    json_t *vars = json_pack("{s:{s:s}}", "filter", "type", type_filter), *d = NULL;
    if (vars && cursor && *cursor)
        json_object_set_new(vars, "after", json_string(cursor));
    if (!vars)
        return cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    cx_err rc = cx_sui_gql_query(g, Q_EVENTS, vars, &d, e);
    json_decref(vars);
    json_t *conn = rc == CX_OK ? at(d, "events") : NULL;
    if (rc == CX_OK && !json_is_object(conn))
        rc = shape("events", e);
    if (rc == CX_OK)
        rc = events_of(json_object_get(conn, "nodes"), NULL, out, n, e);
    if (rc == CX_OK && (rc = page_info(conn, cursor, next_cursor, has_next, e)) != CX_OK) {
        cx_sui_events_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    json_decref(d);
    return rc;
}

void cx_sui_effects_free(cx_sui_effects *fx)
{
    if (!fx)
        return;
    free(fx->created);
    cx_sui_events_free(fx->events, fx->n_events);
    memset(fx, 0, sizeof *fx);
}

static cx_err failure_of(json_t *eff, char error[512], uint64_t *abort_code, int *has_abort,
                         cx_error *e)
{
    json_t *err = json_object_get(eff, "executionError");
    const char *m = json_string_value(json_object_get(err, "message"));
    snprintf(error, 512, "%s", m ? m : "transaction failed (no message)");
    if (has_abort)
        *has_abort = get_u64(json_object_get(err, "abortCode"), abort_code);
    (void)e;
    return CX_OK;
}

cx_err cx_sui_gql_execute(cx_sui_gql *g, const uint8_t *tx, size_t len,
                          const uint8_t sig[CX_SUI_SIGNATURE_LEN], cx_sui_effects *out,
                          cx_error *e)
{
    memset(out, 0, sizeof *out);
    char *tx64 = cx_base64_dup(tx, len), *sig64 = cx_base64_dup(sig, CX_SUI_SIGNATURE_LEN);
    json_t *vars = tx64 && sig64 ? json_pack("{s:s, s:[s]}", "tx", tx64, "sigs", sig64) : NULL;
    free(tx64);
    free(sig64);
    if (!vars)
        return cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    json_t *d = NULL;
    cx_err rc = cx_sui_gql_query(g, Q_EXECUTE, vars, &d, e);
    json_decref(vars);
    json_t *eff = rc == CX_OK ? at(d, "executeTransaction.effects") : NULL;
    const char *status = json_string_value(json_object_get(eff, "status"));
    uint8_t digest[32];
    if (rc == CX_OK && (!status || (strcmp(status, "SUCCESS") && strcmp(status, "FAILURE"))))
        rc = shape("effects.status", e);
    if (rc == CX_OK)
        rc = get_digest(json_object_get(eff, "digest"), digest, "effects.digest", e);
    if (rc == CX_OK)
        rc = cx_sui_base58_encode(digest, 32, out->digest, sizeof out->digest, e);
    if (rc == CX_OK) {
        out->success = !strcmp(status, "SUCCESS");
        if (!out->success)
            rc = failure_of(eff, out->error, &out->abort_code, &out->has_abort_code, e);
    }
    json_t *changes = rc == CX_OK ? at(eff, "objectChanges.nodes") : NULL;
    size_t nc = json_array_size(changes);
    if (rc == CX_OK && nc && !(out->created = calloc(nc, sizeof *out->created)))
        rc = cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    for (size_t i = 0; rc == CX_OK && i < nc; i++) {
        json_t *c = json_array_get(changes, i);
        if (json_is_true(json_object_get(c, "idCreated")))
            rc = get_addr(json_object_get(c, "address"), &out->created[out->n_created++],
                          "created object", e);
    }
    if (rc == CX_OK)
        rc = events_of(at(eff, "events.nodes"), digest, &out->events, &out->n_events, e);
    json_decref(d);
    if (rc != CX_OK)
        cx_sui_effects_free(out);
    return rc;
}

cx_err cx_sui_gql_simulate(cx_sui_gql *g, const uint8_t *tx, size_t len, int *success,
                           uint64_t *gas_used, char error[512], cx_error *e)
{
    *success = 0;
    *gas_used = 0;
    error[0] = 0;
    char *tx64 = cx_base64_dup(tx, len);
    json_t *vars = tx64 ? json_pack("{s:{s:{s:s}}}", "tx", "bcs", "value", tx64) : NULL;
    free(tx64);
    if (!vars)
        return cx_error_set(e, CX_ERR_NOMEM, "graphql: out of memory");
    json_t *d = NULL;
    cx_err rc = cx_sui_gql_query(g, Q_SIMULATE, vars, &d, e);
    json_decref(vars);
    json_t *eff = rc == CX_OK ? at(d, "simulateTransaction.effects") : NULL;
    const char *status = json_string_value(json_object_get(eff, "status"));
    uint64_t comp = 0, stor = 0, reb = 0;
    json_t *sum = at(eff, "gasEffects.gasSummary");
    if (rc == CX_OK && (!status || !get_u64(json_object_get(sum, "computationCost"), &comp) ||
                        !get_u64(json_object_get(sum, "storageCost"), &stor) ||
                        !get_u64(json_object_get(sum, "storageRebate"), &reb)))
        rc = shape("simulateTransaction.effects", e);
    if (rc == CX_OK) {
        *success = !strcmp(status, "SUCCESS");
        *gas_used = comp + stor > reb ? comp + stor - reb : 0;
        if (!*success)
            rc = failure_of(eff, error, NULL, NULL, e);
    }
    json_decref(d);
    return rc;
}

/* For the test that validates every query text against the SDK's schema. */
const char *const cx_sui_gql_query_texts_for_tests[] = {
    Q_CHAIN_ID, Q_GAS_PRICE, Q_OBJECT, Q_COINS, Q_EVENTS, Q_EXECUTE, Q_SIMULATE, NULL,
};
