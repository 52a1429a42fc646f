/* test_attestation_statement.c — the result statement: Nautilus's weather vector reproduced byte
 * for byte and verified, a committed statement vector (built independently in Python), strict
 * decoding, chain's decoder agreeing with attestation's encoder, and the result bundle JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_attest.h"
#include "cx_chain.h"

static void unhex(const char *s, uint8_t *out, size_t want)
{
    size_t got = 0;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, want, &got, NULL), CX_OK);
    assert_int_equal(got, want);
}

static void test_weather_vector(void **state)
{
    (void)state;
    /* MANIFEST.md / spec §6.3: NAUT weather.move test_weather_flow */
    uint8_t payload[64];
    size_t pl = 0;
    payload[pl++] = 13;
    memcpy(payload + pl, "San Francisco", 13);
    pl += 13;
    uint64_t temp = 13;
    for (int i = 0; i < 8; i++)
        payload[pl++] = (uint8_t)(temp >> (8 * i));
    uint8_t *msg;
    size_t len;
    assert_int_equal(cx_intent_message_encode(0, 1744683300000ull, payload, pl, &msg, &len, NULL),
                     CX_OK);
    char *h = cx_hex_dup(msg, len);
    assert_string_equal(h, "00a0743a37960100000d53616e204672616e636973636f0d00000000000000");
    free(h);
    uint8_t pk[32], sig[64];
    unhex("e8e62201dbe293b703c759f653107acbc2c911fa1d2e66f2c747bec95971a2af", pk, 32);
    unhex("77b6d8be225440d00f3d6eb52e91076a8927cebfb520e58c19daf31ecf06b3798ec3d3ce9630a9eceee46d"
          "24f057794a60dd781657cb06d952269cfc5ae19500",
          sig, 64);
    assert_int_equal(cx_statement_verify_ed25519(pk, msg, len, sig, NULL), CX_OK);
    /* one changed byte anywhere (the temperature) or in the signature: refused */
    cx_error e;
    msg[len - 8] = 14;
    assert_int_equal(cx_statement_verify_ed25519(pk, msg, len, sig, &e), CX_ERR_AUTH);
    msg[len - 8] = 13;
    sig[10] ^= 0x40;
    assert_int_equal(cx_statement_verify_ed25519(pk, msg, len, sig, &e), CX_ERR_AUTH);
    free(msg);
    /* the other serde vector (enclave.move test_serde) */
    assert_int_equal(cx_intent_message_encode(0, 1744038900000ull, payload, pl, &msg, &len, NULL),
                     CX_OK);
    h = cx_hex_dup(msg, len);
    assert_string_equal(h, "0020b1d110960100000d53616e204672616e636973636f0d00000000000000");
    free(h);
    free(msg);
}

/* The statement of tests/gen_statement_vector.py (Python + cryptography, from RULES.md §4). */
static const char vec_msg[] =
    "0000b875bd9a0100000111111111111111111111111111111111111111111111111111111111111111112222"
    "2222222222222222222222222222222222222222222222222222222222223033333333333333333333333333"
    "3333333333333333333333333333333333333333333333333333333333333333333333204444444444444444"
    "4444444444444444444444444444444444444444444444442055555555555555555555555555555555555555"
    "555555555555555555555555552033886c646435a0292d7737a007a1e723a322dbc4b69ea38f1f12be5bbff8"
    "05492077777777777777777777777777777777777777777777777777777777777777770002160179a1565ea7"
    "cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3acb00400000000000029287d8584fb5b71b8d62e"
    "7224b867207d205fb61d42b7cce0deef95bf4e8202200300000000000002086163637572616379d9eb0d0000"
    "00000003617563584a0d0000000000c0c62d00000000008096980000000000";
static const char vec_sig[] = "62c1fac0eba4ce30de6458d86363fc990c3ac7da49d79194719a7c87f07e4b4e"
                              "94e66d40af12055fed7c56e8b65da3b0649c1ff1bf3680c6ce2373307a563004";

static void vector_statement(cx_statement *s, cx_statement_rows rows[2],
                             cx_statement_metric mets[2])
{
    memset(s, 0, sizeof *s);
    memset(s->job_id, 0x11, 32);
    memset(s->pool_id, 0x22, 32);
    memset(s->code_measurement, 0x33, 48);
    s->code_measurement_len = 48;
    memset(s->config_hash, 0x44, 32);
    memset(s->dataset_commitment, 0x55, 32);
    size_t bl = 0;
    assert_int_equal(cx_base64url_decode("M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk", 43,
                                         s->result_blob_id, sizeof s->result_blob_id, &bl, NULL),
                     CX_OK);
    s->result_blob_id_len = bl;
    memset(s->result_hash, 0x77, 32);
    /* given in descending order: the encoder sorts */
    unhex("29287d8584fb5b71b8d62e7224b867207d205fb61d42b7cce0deef95bf4e8202", rows[0].contributor,
          32);
    rows[0].rows = 800;
    unhex("160179a1565ea7cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3ac", rows[1].contributor,
          32);
    rows[1].rows = 1200;
    s->rows = rows;
    s->n_rows = 2;
    snprintf(mets[0].name, sizeof mets[0].name, "accuracy");
    mets[0].value_micro = 912345;
    snprintf(mets[1].name, sizeof mets[1].name, "auc");
    mets[1].value_micro = 871000;
    s->metrics = mets;
    s->n_metrics = 2;
    s->dp_epsilon_micro = 3000000;
    s->dp_delta_1e12 = 10000000;
}

static void test_statement_vector(void **state)
{
    (void)state;
    cx_statement s;
    cx_statement_rows rows[2];
    cx_statement_metric mets[2];
    vector_statement(&s, rows, mets);
    uint8_t *msg;
    size_t len;
    assert_int_equal(cx_statement_encode(&s, 1764115200000ull, &msg, &len, NULL), CX_OK);
    char *h = cx_hex_dup(msg, len);
    assert_string_equal(h, vec_msg);
    free(h);
    uint8_t seed[32], sig[64], want[64];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    assert_int_equal(cx_statement_sign_ed25519(seed, msg, len, sig, NULL), CX_OK);
    unhex(vec_sig, want, 64);
    assert_memory_equal(sig, want, 64);
    uint8_t pk[32];
    unhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8", pk, 32);
    assert_int_equal(cx_statement_verify_ed25519(pk, msg, len, sig, NULL), CX_OK);

    /* attestation's decoder gives the fields back, contributors ascending */
    cx_statement d;
    uint64_t ts = 0;
    assert_int_equal(cx_statement_decode(msg, len, &d, &ts, NULL), CX_OK);
    assert_true(ts == 1764115200000ull);
    assert_int_equal(d.n_rows, 2);
    assert_memory_equal(d.rows[0].contributor, rows[1].contributor, 32);
    assert_int_equal(d.rows[0].rows, 1200);
    assert_int_equal(d.n_metrics, 2);
    assert_string_equal(d.metrics[1].name, "auc");
    assert_int_equal(d.result_blob_id_len, 32);
    assert_int_equal(d.gpu_evidence_hash_len, 0);
    cx_statement_free(&d);

    /* chain's independent decoder reads the same bytes the same way (RULES.md §4) */
    cx_chain_statement c;
    cx_error e;
    if (cx_chain_statement_decode(msg, len, &c, &e) != CX_OK)
        fail_msg("chain decode: %s", e.msg);
    assert_int_equal(c.intent, CX_STATEMENT_INTENT);
    assert_true(c.timestamp_ms == 1764115200000ull);
    assert_memory_equal(c.job_id.b, s.job_id, 32);
    assert_memory_equal(c.pool_id.b, s.pool_id, 32);
    assert_int_equal(c.code_measurement_len, 48);
    assert_memory_equal(c.dataset_commitment, s.dataset_commitment, 32);
    assert_memory_equal(c.result_hash, s.result_hash, 32);
    assert_int_equal(c.n_rows, 2);
    assert_memory_equal(c.rows[1].contributor.b, rows[0].contributor, 32);
    assert_int_equal(c.rows[1].rows, 800);
    assert_int_equal(c.n_metrics, 2);
    assert_true(c.dp_epsilon_micro == 3000000 && c.dp_delta_1e12 == 10000000);
    cx_chain_statement_free(&c);
    free(msg);
}

static void test_statement_strict(void **state)
{
    (void)state;
    cx_statement s;
    cx_statement_rows rows[2];
    cx_statement_metric mets[2];
    vector_statement(&s, rows, mets);
    uint8_t *msg;
    size_t len;
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, NULL), CX_OK);
    cx_error e;
    cx_statement d;
    cx_chain_statement c;
    /* every truncation fails in both decoders */
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(cx_statement_decode(msg, cut, &d, NULL, &e), CX_ERR_FORMAT);
        assert_int_equal(cx_chain_statement_decode(msg, cut, &c, &e), CX_ERR_FORMAT);
    }
    /* a trailing byte */
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, msg, len);
    longer[len] = 0;
    assert_int_equal(cx_statement_decode(longer, len + 1, &d, NULL, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_chain_statement_decode(longer, len + 1, &c, &e), CX_ERR_FORMAT);
    free(longer);
    /* another intent scope, another version */
    msg[0] = 1;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_chain_statement_decode(msg, len, &c, &e), CX_ERR_FORMAT);
    msg[0] = 0;
    msg[9] = 2;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_chain_statement_decode(msg, len, &c, &e), CX_ERR_FORMAT);
    free(msg);
    /* contributors out of order on the wire: encode the same contributor twice (refused), and
     * a hand-made descending pair is refused by both decoders */
    memcpy(rows[0].contributor, rows[1].contributor, 32);
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    vector_statement(&s, rows, mets);
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, NULL), CX_OK);
    /* the rows start after: 1+8+1+32+32+(1+48)+(1+32)*2+(1+32)+(1+32)+1 + count byte */
    size_t off = 1 + 8 + 1 + 32 + 32 + 49 + 33 + 33 + 33 + 33 + 1 + 1;
    uint8_t tmp[40];
    memcpy(tmp, msg + off, 40);
    memmove(msg + off, msg + off + 40, 40);
    memcpy(msg + off + 40, tmp, 40);
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "ascending"));
    assert_int_equal(cx_chain_statement_decode(msg, len, &c, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "ascending"));
    free(msg);
    /* encoder argument checks */
    vector_statement(&s, rows, mets);
    s.code_measurement_len = 0;
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    vector_statement(&s, rows, mets);
    snprintf(mets[0].name, sizeof mets[0].name, "has space");
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
}

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
    cx_statement_metric mets[2];
    vector_statement(&s, rows, mets);
    cx_result_bundle b;
    memset(&b, 0, sizeof b);
    assert_int_equal(cx_statement_encode(&s, 5, &b.statement, &b.statement_len, NULL), CX_OK);
    uint8_t seed[32] = {9};
    assert_int_equal(
        cx_statement_sign_ed25519(seed, b.statement, b.statement_len, b.signature, NULL), CX_OK);
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
    cx_statement_metric mets[2];
    vector_statement(&s, two, mets);
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
    cx_result_bundle b;
    memset(&b, 0, sizeof b);
    cx_error e;
    if (cx_statement_encode(&s, 5, &b.statement, &b.statement_len, &e) != CX_OK)
        fail_msg("encode: %s", e.msg);
    assert_true(b.statement_len > 4000000);
    assert_true(b.statement_len <= CX_BUNDLE_STATEMENT_MAX);
    uint8_t seed[32] = {9};
    assert_int_equal(
        cx_statement_sign_ed25519(seed, b.statement, b.statement_len, b.signature, NULL), CX_OK);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weather_vector),
        cmocka_unit_test(test_bundle_max_contributors),
        cmocka_unit_test(test_statement_vector),
        cmocka_unit_test(test_statement_strict),
        cmocka_unit_test(test_bundle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
