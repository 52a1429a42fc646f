/* test_attestation_bundle.c — the result bundle JSON around the committed statement vector:
 * written and read back, strict parsing, a statement of 100000 contributors, and a multi-rank
 * job's ranks (round trip, strict parsing, sizes, the ranks hash against its known answer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "cx_attest.h"
#include "proto_statement_vector.h"

/* b written to a bundle file in a fresh directory and read back into r (the file is gone after). */
static void bundle_file_roundtrip(const cx_result_bundle *b, cx_result_bundle *r)
{
    char dir[] = "/tmp/cx_bundle_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/result.json", dir);
    cx_error e;
    if (cx_result_bundle_write(b, path, &e) != CX_OK)
        fail_msg("write: %s", e.msg);
    cx_err rc = cx_result_bundle_read(path, r, &e);
    unlink(path);
    rmdir(dir);
    if (rc != CX_OK)
        fail_msg("read: %s", e.msg);
}

static void test_bundle(void **state)
{
    (void)state;
    cx_statement s;
    cx_statement_rows rows[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    vector_statement(&s, rows, rej, mets);
    cx_result_bundle b;
    memset(&b, 0, sizeof b);
    assert_int_equal(cx_statement_encode(&s, 5, &b.statement, &b.statement_len, NULL), CX_OK);
    uint8_t seed[32] = {9};
    assert_int_equal(cx_ed25519_sign(seed, b.statement, b.statement_len, b.signature, NULL), CX_OK);
    memset(b.public_key, 0xab, 32);
    b.has_enclave_id = 1;
    memset(b.enclave_id, 0xcd, 32);
    static uint8_t report[300];
    for (size_t i = 0; i < sizeof report; i++)
        report[i] = (uint8_t)(i * 7);
    b.tee_report = report;
    b.tee_report_len = sizeof report;
    cx_error e;
    cx_result_bundle r;
    bundle_file_roundtrip(&b, &r);
    assert_int_equal(r.statement_len, b.statement_len);
    assert_memory_equal(r.statement, b.statement, b.statement_len);
    assert_memory_equal(r.signature, b.signature, 64);
    assert_memory_equal(r.public_key, b.public_key, 32);
    assert_int_equal(r.has_enclave_id, 1);
    assert_memory_equal(r.enclave_id, b.enclave_id, 32);
    assert_int_equal(r.tee_report_len, sizeof report);
    assert_memory_equal(r.tee_report, report, sizeof report);
    assert_null(r.gpu_evidence);
    assert_null(r.ranks); /* a one-rank job's bundle */
    assert_int_equal(r.n_ranks, 0);
    cx_result_bundle_free(&r);

    /* strict parsing: each broken variant is refused with a reason naming the key */
    char *text;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, NULL), CX_OK);
    json_t *j;
    assert_int_equal(cx_json_parse(text, strlen(text), &j, NULL), CX_OK);
    free(text);
    static const struct {
        const char *key, *value, *reason;
    } bad[] = {
        {"format", "cloakx-result-bundle/2", "format"},
        {"signature", "00", "signature"},
        {"public_key", "zz", "public_key"},
        {"statement", "00", "statement"},
        {"tee_report", "", "tee_report"},
        {"tee_report", "!!!!", "tee_report"},
        {"enclave_id", "0x12", "enclave_id"},
        {"extra", "1", "extra"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *c = json_deep_copy(j);
        assert_non_null(c);
        assert_int_equal(json_object_set_new(c, bad[i].key, json_string(bad[i].value)), 0);
        char *t = cx_json_dumps(c, 0);
        assert_non_null(t);
        cx_result_bundle x;
        assert_int_not_equal(cx_result_bundle_parse(t, strlen(t), &x, &e), CX_OK);
        if (!strstr(e.msg, bad[i].reason))
            fail_msg("case %zu: message \"%s\" does not name %s", i, e.msg, bad[i].reason);
        free(t);
        json_decref(c);
    }
    /* a missing required key */
    json_t *c = json_deep_copy(j);
    assert_int_equal(json_object_del(c, "signature"), 0);
    char *t = cx_json_dumps(c, 0);
    cx_result_bundle x;
    assert_int_equal(cx_result_bundle_parse(t, strlen(t), &x, &e), CX_ERR_FORMAT);
    free(t);
    json_decref(c);
    json_decref(j);

    /* RULES.md §5: GPU evidence and report up to 1 MiB; 1 MiB exactly (base64 with padding)
     * is accepted, one byte more refused */
    uint8_t *ev = calloc(1, CX_BUNDLE_REPORT_MAX + 1);
    assert_non_null(ev);
    b.gpu_evidence = ev;
    b.gpu_evidence_len = CX_BUNDLE_REPORT_MAX;
    assert_int_equal(cx_result_bundle_to_json(&b, &t, NULL), CX_OK);
    if (cx_result_bundle_parse(t, strlen(t), &x, &e) != CX_OK)
        fail_msg("1 MiB of GPU evidence refused: %s", e.msg);
    assert_int_equal(x.gpu_evidence_len, CX_BUNDLE_REPORT_MAX);
    cx_result_bundle_free(&x);
    free(t);
    b.gpu_evidence_len = CX_BUNDLE_REPORT_MAX + 1;
    assert_int_equal(cx_result_bundle_to_json(&b, &t, NULL), CX_OK);
    assert_int_equal(cx_result_bundle_parse(t, strlen(t), &x, &e), CX_ERR_FORMAT);
    free(t);
    free(ev);
    free(b.statement);
}

/* RULES.md §4 allows 100000 contributors in a statement (4 MB of rows): a bundle holding it
 * is written, read back and decoded; a statement over the bundle's cap is refused as a limit. */
static void test_bundle_max_contributors(void **state)
{
    (void)state;
    cx_statement s;
    cx_statement_rows two[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    vector_statement(&s, two, rej, mets);
    const size_t n = (size_t)100000 /* RULES.md §4 */;
    cx_statement_rows *rows = calloc(n, sizeof *rows);
    assert_non_null(rows);
    for (size_t i = 0; i < n; i++) {
        rows[i].contributor[0] = 0x10;
        rows[i].contributor[28] = (uint8_t)(i >> 24);
        rows[i].contributor[29] = (uint8_t)(i >> 16);
        rows[i].contributor[30] = (uint8_t)(i >> 8);
        rows[i].contributor[31] = (uint8_t)i;
        rows[i].rows = 1000 + i;
    }
    s.rows = rows;
    s.n_rows = n;
    s.n_rejected = 0; /* 100000 entries in all */
    cx_result_bundle b;
    memset(&b, 0, sizeof b);
    cx_error e;
    if (cx_statement_encode(&s, 5, &b.statement, &b.statement_len, &e) != CX_OK)
        fail_msg("encode: %s", e.msg);
    assert_true(b.statement_len > 4000000);
    assert_true(b.statement_len <= CX_BUNDLE_STATEMENT_MAX);
    uint8_t seed[32] = {9};
    assert_int_equal(cx_ed25519_sign(seed, b.statement, b.statement_len, b.signature, NULL), CX_OK);
    memset(b.public_key, 0xab, 32);
    static uint8_t report[1 << 20];
    b.tee_report = report;
    b.tee_report_len = sizeof report;
    b.gpu_evidence = report;
    b.gpu_evidence_len = sizeof report; /* every field at its largest at once */
    cx_result_bundle r;
    bundle_file_roundtrip(&b, &r); /* all 100000 contributors accepted */
    assert_int_equal(r.statement_len, b.statement_len);
    cx_statement d;
    assert_int_equal(cx_statement_decode(r.statement, r.statement_len, &d, NULL, &e), CX_OK);
    assert_int_equal(d.n_rows, n);
    assert_int_equal(d.rows[n - 1].rows, 1000 + n - 1);
    cx_statement_free(&d);
    cx_result_bundle_free(&r);

    /* the largest statement: 100000 rejected contributions with 64-byte blob ids */
    cx_statement_rejected *big_rej = calloc(n, sizeof *big_rej);
    assert_non_null(big_rej);
    for (size_t i = 0; i < n; i++) {
        memcpy(big_rej[i].contributor, rows[i].contributor, 32);
        memset(big_rej[i].blob_id, 0x5a, 64);
        big_rej[i].blob_id_len = 64;
        big_rej[i].reason = CX_REJECT_PARSE;
    }
    s.n_rows = 0;
    s.rejected = big_rej;
    s.n_rejected = n;
    free(b.statement);
    if (cx_statement_encode(&s, 5, &b.statement, &b.statement_len, &e) != CX_OK)
        fail_msg("encode: %s", e.msg);
    assert_true(b.statement_len > 9000000);
    assert_true(b.statement_len <= CX_BUNDLE_STATEMENT_MAX);
    assert_int_equal(cx_ed25519_sign(seed, b.statement, b.statement_len, b.signature, NULL), CX_OK);
    bundle_file_roundtrip(&b, &r);
    assert_int_equal(cx_statement_decode(r.statement, r.statement_len, &d, NULL, &e), CX_OK);
    assert_int_equal(d.n_rejected, n);
    cx_statement_free(&d);
    cx_result_bundle_free(&r);
    /* one entry more than 100000 in all: refused */
    s.n_rows = 1;
    uint8_t *over = NULL;
    size_t over_len = 0;
    assert_int_equal(cx_statement_encode(&s, 5, &over, &over_len, &e), CX_ERR_ARG);
    free(big_rej);

    /* a statement field over the cap: a limit error naming it */
    char *t = NULL;
    uint8_t *big = calloc(1, (size_t)CX_BUNDLE_STATEMENT_MAX + 1);
    assert_non_null(big);
    free(b.statement);
    b.statement = big;
    b.statement_len = (size_t)CX_BUNDLE_STATEMENT_MAX + 1;
    b.gpu_evidence = NULL;
    b.gpu_evidence_len = 0;
    assert_int_equal(cx_result_bundle_to_json(&b, &t, NULL), CX_OK);
    assert_int_equal(cx_result_bundle_parse(t, strlen(t), &r, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "statement"));
    free(t);
    free(big);
    free(rows);
}

/* ---------------------------------------------------------------- ranks -- */

/* The two ranks of vec_ranks_hash (tests/gen_statement_vector.py): rank 1 with GPU evidence. */
static void vector_ranks(cx_bundle_rank r[2])
{
    static uint8_t d0[] = "rank-0 attestation document", d1[] = "rank-1 attestation document",
                   g1[] = "rank-1 gpu evidence";
    memset(r, 0, 2 * sizeof *r);
    r[0].rank = 0;
    memset(r[0].x25519, 0xa0, 32);
    r[0].document = d0;
    r[0].document_len = sizeof d0 - 1;
    r[1].rank = 1;
    memset(r[1].x25519, 0xa1, 32);
    r[1].document = d1;
    r[1].document_len = sizeof d1 - 1;
    r[1].gpu_evidence = g1;
    r[1].gpu_evidence_len = sizeof g1 - 1;
}

/* A bundle of the committed statement (whose ranks_hash is that of vector_ranks) with ranks. */
static void ranks_bundle(cx_result_bundle *b, cx_bundle_rank *ranks, size_t n)
{
    cx_statement s;
    cx_statement_rows rows[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    vector_statement(&s, rows, rej, mets);
    memset(b, 0, sizeof *b);
    assert_int_equal(cx_statement_encode(&s, 5, &b->statement, &b->statement_len, NULL), CX_OK);
    uint8_t seed[32] = {9};
    assert_int_equal(cx_ed25519_sign(seed, b->statement, b->statement_len, b->signature, NULL),
                     CX_OK);
    assert_int_equal(cx_ed25519_public_from_seed(seed, b->public_key, NULL), CX_OK);
    static uint8_t report[] = "the enclave's attestation document";
    b->tee_report = report;
    b->tee_report_len = sizeof report - 1;
    b->ranks = ranks;
    b->n_ranks = n;
}

/* RULES.md §5's ranks hash, computed here on hand-assembled bytes with OpenSSL's one-shot
 * SHA256, and by Python (vec_ranks_hash): the same 32 bytes as cx_bundle_ranks_hash's. */
static void test_ranks_hash_known_answer(void **state)
{
    (void)state;
    cx_bundle_rank r[2];
    vector_ranks(r);
    uint8_t buf[15 + 4 + 2 * (4 + 32 + 32 + 32)], *p = buf;
    memcpy(p, "cloakx/ranks/v1", 15);
    p += 15;
    *p++ = 2, *p++ = 0, *p++ = 0, *p++ = 0; /* n, u32 little endian */
    for (int i = 0; i < 2; i++) {
        *p++ = (uint8_t)i, *p++ = 0, *p++ = 0, *p++ = 0;
        memcpy(p, r[i].x25519, 32);
        p += 32;
        SHA256(r[i].document, r[i].document_len, p);
        p += 32;
        if (r[i].gpu_evidence)
            SHA256(r[i].gpu_evidence, r[i].gpu_evidence_len, p);
        else
            memset(p, 0, 32);
        p += 32;
    }
    assert_int_equal((size_t)(p - buf), sizeof buf);
    uint8_t want[32], py[32], got[32];
    SHA256(buf, sizeof buf, want);
    unhex(vec_ranks_hash, py, 32);
    assert_memory_equal(want, py, 32);
    cx_error e;
    if (cx_bundle_ranks_hash(r, 2, got, &e) != CX_OK)
        fail_msg("ranks hash: %s", e.msg);
    assert_memory_equal(got, want, 32);
    /* it is the committed statement's ranks_hash */
    cx_statement s;
    cx_statement_rows rows[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    vector_statement(&s, rows, rej, mets);
    assert_memory_equal(s.ranks_hash, got, 32);

    /* every input counts: a key byte, a document byte, the GPU evidence left out, one rank */
    uint8_t other[32];
    r[1].x25519[31] ^= 1;
    assert_int_equal(cx_bundle_ranks_hash(r, 2, other, NULL), CX_OK);
    assert_memory_not_equal(other, want, 32);
    vector_ranks(r);
    uint8_t d1[] = "rank-1 attestation documenT";
    r[1].document = d1;
    assert_int_equal(cx_bundle_ranks_hash(r, 2, other, NULL), CX_OK);
    assert_memory_not_equal(other, want, 32);
    vector_ranks(r);
    r[1].gpu_evidence = NULL;
    r[1].gpu_evidence_len = 0;
    assert_int_equal(cx_bundle_ranks_hash(r, 2, other, NULL), CX_OK);
    assert_memory_not_equal(other, want, 32);
    vector_ranks(r);
    assert_int_equal(cx_bundle_ranks_hash(r, 1, other, NULL), CX_OK);
    assert_memory_not_equal(other, want, 32);

    /* lists outside the rules: none, ranks out of order, no document, evidence without bytes */
    assert_int_equal(cx_bundle_ranks_hash(r, 0, other, &e), CX_ERR_ARG);
    assert_int_equal(cx_bundle_ranks_hash(NULL, 2, other, &e), CX_ERR_ARG);
    r[1].rank = 2;
    assert_int_equal(cx_bundle_ranks_hash(r, 2, other, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "in order"));
    vector_ranks(r);
    r[0].document_len = 0;
    assert_int_equal(cx_bundle_ranks_hash(r, 2, other, &e), CX_ERR_ARG);
    vector_ranks(r);
    r[1].gpu_evidence = NULL;
    assert_int_equal(cx_bundle_ranks_hash(r, 2, other, &e), CX_ERR_ARG);
    assert_int_equal(cx_bundle_ranks_hash(r, CX_BUNDLE_MAX_RANKS + 1, other, &e), CX_ERR_ARG);
}

/* A bundle with ranks is written and read back field for field; its ranks hash is the
 * statement's. */
static void test_bundle_ranks_roundtrip(void **state)
{
    (void)state;
    cx_bundle_rank ranks[2];
    vector_ranks(ranks);
    cx_result_bundle b, r;
    ranks_bundle(&b, ranks, 2);
    bundle_file_roundtrip(&b, &r);
    assert_int_equal(r.n_ranks, 2);
    assert_non_null(r.ranks);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(r.ranks[i].rank, i);
        assert_memory_equal(r.ranks[i].x25519, ranks[i].x25519, 32);
        assert_int_equal(r.ranks[i].document_len, ranks[i].document_len);
        assert_memory_equal(r.ranks[i].document, ranks[i].document, ranks[i].document_len);
        assert_int_equal(r.ranks[i].gpu_evidence_len, ranks[i].gpu_evidence_len);
    }
    assert_null(r.ranks[0].gpu_evidence);
    assert_memory_equal(r.ranks[1].gpu_evidence, ranks[1].gpu_evidence, ranks[1].gpu_evidence_len);
    cx_statement d;
    assert_int_equal(cx_statement_decode(r.statement, r.statement_len, &d, NULL, NULL), CX_OK);
    uint8_t h[32];
    assert_int_equal(cx_bundle_ranks_hash(r.ranks, r.n_ranks, h, NULL), CX_OK);
    assert_int_equal(d.ranks_hash_len, 32);
    assert_memory_equal(d.ranks_hash, h, 32);
    cx_statement_free(&d);
    cx_result_bundle_free(&r);

    /* the JSON shape of RULES.md §5: rank, x25519 hex, document base64, no gpu_evidence key for
     * a rank without it */
    char *text;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, NULL), CX_OK);
    json_t *j;
    assert_int_equal(cx_json_parse(text, strlen(text), &j, NULL), CX_OK);
    free(text);
    json_t *a = json_object_get(j, "ranks");
    assert_true(json_is_array(a) && json_array_size(a) == 2);
    json_t *x0 = json_array_get(a, 0), *x1 = json_array_get(a, 1);
    assert_int_equal(json_integer_value(json_object_get(x1, "rank")), 1);
    assert_string_equal(json_string_value(json_object_get(x0, "x25519")),
                        "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0");
    assert_string_equal(json_string_value(json_object_get(x0, "document")),
                        "cmFuay0wIGF0dGVzdGF0aW9uIGRvY3VtZW50");
    assert_null(json_object_get(x0, "gpu_evidence"));
    assert_string_equal(json_string_value(json_object_get(x1, "gpu_evidence")),
                        "cmFuay0xIGdwdSBldmlkZW5jZQ==");
    /* a null gpu_evidence is read as none, as at the top level */
    assert_int_equal(json_object_set_new(x0, "gpu_evidence", json_null()), 0);
    text = cx_json_dumps(j, 0);
    assert_non_null(text);
    cx_error e;
    if (cx_result_bundle_parse(text, strlen(text), &r, &e) != CX_OK)
        fail_msg("null gpu_evidence: %s", e.msg);
    assert_null(r.ranks[0].gpu_evidence);
    cx_result_bundle_free(&r);
    free(text);
    json_decref(j);
    free(b.statement);
}

/* The parser refuses every malformed list of ranks, naming what is wrong. */
static void test_bundle_ranks_malformed(void **state)
{
    (void)state;
    cx_bundle_rank ranks[3];
    vector_ranks(ranks);
    ranks[2] = ranks[1];
    ranks[2].rank = 2;
    cx_result_bundle b;
    ranks_bundle(&b, ranks, 3);
    char *text;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, NULL), CX_OK);
    json_t *j;
    assert_int_equal(cx_json_parse(text, strlen(text), &j, NULL), CX_OK);
    free(text);
    enum {
        GAP,
        RANK_ORDER,
        HEX_SHORT,
        HEX_NOT,
        UNKNOWN_KEY,
        NO_DOCUMENT,
        BAD_B64,
        EMPTY_DOC,
        RANK_STRING,
        NOT_OBJECT,
        EMPTY,
        NOT_ARRAY,
        NULL_RANKS,
        N_CASES
    };
    static const char *const why[N_CASES] = {
        [GAP] = "not 1",           [RANK_ORDER] = "not 0",        [HEX_SHORT] = "x25519",
        [HEX_NOT] = "x25519",      [UNKNOWN_KEY] = "unknown key", [NO_DOCUMENT] = "document",
        [BAD_B64] = "document",    [EMPTY_DOC] = "document",      [RANK_STRING] = "rank",
        [NOT_OBJECT] = "ranks[1]", [EMPTY] = "1..1024",           [NOT_ARRAY] = "1..1024",
        [NULL_RANKS] = "1..1024",
    };
    for (int c = 0; c < N_CASES; c++) {
        json_t *k = json_deep_copy(j);
        assert_non_null(k);
        json_t *a = json_object_get(k, "ranks");
        json_t *x = json_array_get(a, 1);
        switch (c) {
        case GAP: /* ranks 0, 2: rank 1 left out */
            assert_int_equal(json_array_remove(a, 1), 0);
            break;
        case RANK_ORDER: /* ranks 1, 0, 2 */
            json_object_set_new(json_array_get(a, 0), "rank", json_integer(1));
            json_object_set_new(x, "rank", json_integer(0));
            break;
        case HEX_SHORT: /* 31 bytes of hex */
            json_object_set_new(x, "x25519",
                                json_string("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
                                            "a1a1a1a1a1a1a1a1a1a1a1a1a1a1"));
            break;
        case HEX_NOT:
            json_object_set_new(x, "x25519",
                                json_string("zz1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a"
                                            "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"));
            break;
        case UNKNOWN_KEY:
            json_object_set_new(x, "tee_report", json_string("AAAA"));
            break;
        case NO_DOCUMENT:
            json_object_del(x, "document");
            break;
        case BAD_B64:
            json_object_set_new(x, "document", json_string("!!!!"));
            break;
        case EMPTY_DOC:
            json_object_set_new(x, "document", json_string(""));
            break;
        case RANK_STRING:
            json_object_set_new(x, "rank", json_string("1"));
            break;
        case NOT_OBJECT:
            json_array_set_new(a, 1, json_string("rank 1"));
            break;
        case EMPTY:
            json_array_clear(a);
            break;
        case NOT_ARRAY:
            json_object_set_new(k, "ranks", json_object());
            break;
        case NULL_RANKS:
            json_object_set_new(k, "ranks", json_null());
            break;
        }
        char *t = cx_json_dumps(k, 0);
        assert_non_null(t);
        cx_result_bundle x2;
        cx_error e;
        cx_err rc = cx_result_bundle_parse(t, strlen(t), &x2, &e);
        if (rc != CX_ERR_FORMAT)
            fail_msg("case %d: %d, not a format error", c, rc);
        if (!strstr(e.msg, why[c]))
            fail_msg("case %d: message \"%s\" does not say %s", c, e.msg, why[c]);
        assert_null(x2.ranks);
        free(t);
        json_decref(k);
    }
    /* the unchanged copy parses: the cases above failed for their change alone */
    char *t = cx_json_dumps(j, 0);
    cx_result_bundle ok;
    assert_int_equal(cx_result_bundle_parse(t, strlen(t), &ok, NULL), CX_OK);
    assert_int_equal(ok.n_ranks, 3);
    cx_result_bundle_free(&ok);
    free(t);

    /* 1025 ranks: refused */
    json_t *a = json_object_get(j, "ranks");
    while (json_array_size(a) <= CX_BUNDLE_MAX_RANKS) {
        json_t *x = json_deep_copy(json_array_get(a, 0));
        json_object_set_new(x, "rank", json_integer((json_int_t)json_array_size(a)));
        json_array_append_new(a, x);
    }
    t = cx_json_dumps(j, 0);
    cx_error e;
    assert_int_equal(cx_result_bundle_parse(t, strlen(t), &ok, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "1..1024"));
    free(t);
    /* 1024: taken */
    json_array_remove(a, CX_BUNDLE_MAX_RANKS);
    t = cx_json_dumps(j, 0);
    if (cx_result_bundle_parse(t, strlen(t), &ok, &e) != CX_OK)
        fail_msg("1024 ranks: %s", e.msg);
    assert_int_equal(ok.n_ranks, CX_BUNDLE_MAX_RANKS);
    assert_int_equal(ok.ranks[CX_BUNDLE_MAX_RANKS - 1].rank, CX_BUNDLE_MAX_RANKS - 1);
    cx_result_bundle_free(&ok);
    free(t);
    json_decref(j);

    /* the writer refuses what the parser would: ranks out of order, no document */
    ranks[2].rank = 1;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "in order"));
    ranks[2].rank = 2;
    ranks[2].document = NULL;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, &e), CX_ERR_ARG);
    free(b.statement);
}

/* Sizes (RULES.md §5): a rank's document and evidence up to 1 MiB each, all ranks' up to
 * CX_BUNDLE_RANKS_MAX together; over either, the writer and the parser refuse as a limit. */
static void test_bundle_ranks_sizes(void **state)
{
    (void)state;
    const size_t n = CX_BUNDLE_RANKS_MAX / CX_BUNDLE_REPORT_MAX + 1; /* one document too many */
    uint8_t *doc = malloc(CX_BUNDLE_REPORT_MAX + 1);
    assert_non_null(doc);
    memset(doc, 0x3c, CX_BUNDLE_REPORT_MAX + 1);
    cx_bundle_rank *ranks = calloc(n, sizeof *ranks);
    assert_non_null(ranks);
    for (size_t i = 0; i < n; i++) {
        ranks[i].rank = (uint32_t)i;
        ranks[i].document = doc;
        ranks[i].document_len = 16;
    }
    cx_result_bundle b;
    ranks_bundle(&b, ranks, 2);
    cx_error e;
    char *text = NULL;
    /* 1 MiB exactly is taken, one byte more refused by the writer and by the parser */
    ranks[1].document_len = CX_BUNDLE_REPORT_MAX;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, NULL), CX_OK);
    cx_result_bundle r;
    if (cx_result_bundle_parse(text, strlen(text), &r, &e) != CX_OK)
        fail_msg("1 MiB document: %s", e.msg);
    assert_int_equal(r.ranks[1].document_len, CX_BUNDLE_REPORT_MAX);
    cx_result_bundle_free(&r);
    free(text);
    ranks[1].document_len = CX_BUNDLE_REPORT_MAX + 1;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, &e), CX_ERR_LIMIT);
    ranks[1].document_len = CX_BUNDLE_REPORT_MAX;
    ranks[1].gpu_evidence = doc;
    ranks[1].gpu_evidence_len = CX_BUNDLE_REPORT_MAX + 1;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, &e), CX_ERR_LIMIT);
    ranks[1].gpu_evidence = NULL;
    ranks[1].gpu_evidence_len = 0;
    /* the parser's per-rank cap: the base64 of 1 MiB + 1 put in by hand */
    ranks[1].document_len = 16;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, NULL), CX_OK);
    json_t *j;
    assert_int_equal(cx_json_parse(text, strlen(text), &j, NULL), CX_OK);
    free(text);
    char *big = cx_base64_dup(doc, CX_BUNDLE_REPORT_MAX + 1);
    assert_non_null(big);
    json_object_set_new(json_array_get(json_object_get(j, "ranks"), 1), "gpu_evidence",
                        json_string(big));
    free(big);
    text = cx_json_dumps(j, 0);
    json_decref(j);
    assert_int_equal(cx_result_bundle_parse(text, strlen(text), &r, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "ranks[1]"));
    free(text);

    /* all ranks together: n documents of 1 MiB are one over CX_BUNDLE_RANKS_MAX */
    for (size_t i = 0; i < n; i++)
        ranks[i].document_len = CX_BUNDLE_REPORT_MAX;
    b.n_ranks = n;
    assert_int_equal(cx_result_bundle_to_json(&b, &text, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "together"));
    /* the parser counts them too: the text of one rank less is taken, and with one more 1 MiB
     * document spliced in as the array's last entry it is refused */
    b.n_ranks = n - 1;
    if (cx_result_bundle_to_json(&b, &text, &e) != CX_OK)
        fail_msg("%zu MiB of ranks: %s", n - 1, e.msg);
    if (cx_result_bundle_parse(text, strlen(text), &r, &e) != CX_OK)
        fail_msg("%zu MiB of ranks: %s", n - 1, e.msg);
    assert_int_equal(r.n_ranks, n - 1);
    cx_result_bundle_free(&r);
    char *b64 = cx_base64_dup(doc, CX_BUNDLE_REPORT_MAX);
    assert_non_null(b64);
    char head[160];
    int hl = snprintf(head, sizeof head,
                      ", {\"rank\": %zu, \"x25519\": \"%064d\", \"document\": \"", n - 1, 0);
    const char *open = strstr(text, "\"ranks\": [");
    assert_non_null(open);
    const char *close = strchr(open, ']'); /* base64 and hex hold no ']' */
    assert_non_null(close);
    size_t pre = (size_t)(close - text), bl = strlen(b64), tl = strlen(text);
    char *more = malloc(tl + (size_t)hl + bl + 3);
    assert_non_null(more);
    memcpy(more, text, pre);
    memcpy(more + pre, head, (size_t)hl);
    memcpy(more + pre + (size_t)hl, b64, bl);
    memcpy(more + pre + (size_t)hl + bl, "\"}", 2);
    memcpy(more + pre + (size_t)hl + bl + 2, close, tl - pre + 1);
    free(b64);
    free(text);
    assert_true(strlen(more) <= CX_BUNDLE_MAX_BYTES);
    assert_int_equal(cx_result_bundle_parse(more, strlen(more), &r, &e), CX_ERR_LIMIT);
    assert_non_null(strstr(e.msg, "ranks"));
    free(more);
    free(b.statement);
    free(ranks);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundle_max_contributors),
        cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_ranks_hash_known_answer),
        cmocka_unit_test(test_bundle_ranks_roundtrip),
        cmocka_unit_test(test_bundle_ranks_malformed),
        cmocka_unit_test(test_bundle_ranks_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
