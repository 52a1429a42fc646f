/* test_chain_move_vectors.c — the bytes the Move package's tests embed (tests/vectors.move,
 * written by chain/move/tools/gen_vectors.py in Python) are the bytes C encodes and signs:
 * cx_statement_encode, cx_chain_msg_encode and plain Ed25519, each compared byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cx_chain.h"

static const uint64_t TS = 1764115200000ull;

/* The x"…" of `public fun NAME(): vector<u8> { x"…" }` in vectors.move (malloc'ed bytes). */
static uint8_t *vector_of(const char *text, const char *name, size_t *len)
{
    char key[96];
    snprintf(key, sizeof key, "public fun %s(): vector<u8> { x\"", name);
    const char *p = strstr(text, key);
    if (!p)
        fail_msg("vectors.move has no %s", name);
    p += strlen(key);
    const char *end = strchr(p, '"');
    assert_non_null(end);
    size_t n = (size_t)(end - p) / 2;
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    size_t got = 0;
    assert_int_equal(cx_hex_decode(p, (size_t)(end - p), b, n, &got, NULL), CX_OK);
    *len = got;
    return b;
}

static char *read_vectors(void)
{
    FILE *f = fopen(CX_MOVE_VECTORS, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof buf - 1);
    buf[n] = 0;
    return buf;
}

static void expect_vector(const char *text, const char *name, const uint8_t *want, size_t len)
{
    size_t n;
    uint8_t *b = vector_of(text, name, &n);
    if (n != len || memcmp(b, want, len) != 0) {
        char *h = cx_hex_dup(want, len);
        fail_msg("%s: vectors.move differs from C's bytes %s", name, h);
    }
    free(b);
}

static void seed_fill(uint8_t seed[32], int from, int step)
{
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(from + step * i);
}

static void sign_check(const char *text, const char *name, const uint8_t seed[32],
                       const uint8_t *msg, size_t len)
{
    uint8_t sig[64];
    assert_int_equal(cx_ed25519_sign(seed, msg, len, sig, NULL), CX_OK);
    expect_vector(text, name, sig, sizeof sig);
}

static void job_msg(cx_chain_msg *m, uint8_t intent)
{
    memset(m, 0, sizeof *m);
    m->intent = intent;
    m->timestamp_ms = TS;
    m->version = CX_CHAIN_MSG_VERSION;
    memset(m->job_id.b, 0x11, 32);
    memset(m->pool_id.b, 0x22, 32);
    memset(m->code_measurement, 0x33, 48);
    m->code_measurement_len = 48;
}

static void test_messages_equal_c_encoding(void **state)
{
    (void)state;
    const char *text = read_vectors();
    uint8_t seed[32], other[32], pk[32];
    seed_fill(seed, 0, 1);
    seed_fill(other, 0x99, 0);
    assert_int_equal(cx_ed25519_public_from_seed(seed, pk, NULL), CX_OK);
    expect_vector(text, "enclave_pk", pk, 32);

    /* the result statement (RULES.md §4): the committed vector of attestation/ */
    cx_statement s;
    memset(&s, 0, sizeof s);
    /* version 3 (RULES.md §4): the Move package's vectors and decoder carry the (here empty)
     * `rejected` list and the ranks hash of a two-rank job (that of tests/gen_statement_vector.py,
     * RULES.md §5) */
    memset(s.job_id, 0x11, 32);
    memset(s.pool_id, 0x22, 32);
    memset(s.code_measurement, 0x33, 48);
    s.code_measurement_len = 48;
    memset(s.config_hash, 0x44, 32);
    memset(s.dataset_commitment, 0x55, 32);
    static const char blob[] = "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk"; /* unpadded */
    assert_int_equal(cx_base64url_decode(blob, strlen(blob), s.result_blob_id,
                                         sizeof s.result_blob_id, &s.result_blob_id_len, NULL),
                     CX_OK);
    memset(s.result_hash, 0x77, 32);
    size_t got = 0;
    assert_int_equal(
        cx_hex_decode("565516358db058558d78491082820c73378ae3e3d18a3de53bf33f6ec8ec9c3e", 64,
                      s.ranks_hash, 32, &got, NULL),
        CX_OK);
    s.ranks_hash_len = 32;
    cx_statement_rows rows[2];
    assert_int_equal(
        cx_hex_decode("29287d8584fb5b71b8d62e7224b867207d205fb61d42b7cce0deef95bf4e8202", 64,
                      rows[0].contributor, 32, &got, NULL),
        CX_OK);
    rows[0].rows = 800;
    assert_int_equal(
        cx_hex_decode("160179a1565ea7cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3ac", 64,
                      rows[1].contributor, 32, &got, NULL),
        CX_OK);
    rows[1].rows = 1200;
    s.rows = rows; /* any order: the encoder sorts */
    s.n_rows = 2;
    cx_statement_metric metrics[2] = {{"accuracy", 912345}, {"auc", 871000}};
    s.metrics = metrics;
    s.n_metrics = 2;
    s.dp_epsilon_micro = 3000000;
    s.dp_delta_1e12 = 10000000;
    uint8_t *st = NULL;
    size_t st_len = 0;
    assert_int_equal(cx_statement_encode(&s, TS, &st, &st_len, NULL), CX_OK);
    expect_vector(text, "statement", st, st_len);
    sign_check(text, "statement_sig", seed, st, st_len);
    sign_check(text, "statement_sig_other_key", other, st, st_len);
    /* what the Move verifier reads, the C decoder reads the same */
    cx_statement back;
    uint64_t ts = 0;
    assert_int_equal(cx_statement_decode(st, st_len, &back, &ts, NULL), CX_OK);
    assert_int_equal(ts, TS);
    assert_int_equal(back.version, CX_STATEMENT_VERSION);
    assert_int_equal(back.n_rows, 2);
    assert_int_equal(back.ranks_hash_len, 32);
    assert_memory_equal(back.ranks_hash, s.ranks_hash, 32);
    cx_statement_free(&back);
    free(st);

    /* the enclave's job messages (RULES.md §6) */
    struct {
        const char *name, *sig_name;
        uint8_t intent;
    } kinds[] = {{"acceptance", "acceptance_sig", CX_CHAIN_MSG_ACCEPT},
                 {"failure", "failure_sig", CX_CHAIN_MSG_FAIL},
                 {"key_release", "key_release_sig", CX_CHAIN_MSG_KEY}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        cx_chain_msg m;
        job_msg(&m, kinds[i].intent);
        memset(m.config_hash, 0x44, 32);
        m.reason = CX_CHAIN_FAIL_COMPUTE;
        memset(m.result_hash, 0x77, 32);
        memset(m.wrapped_key, 0x5a, 80);
        m.wrapped_key_len = kinds[i].intent == CX_CHAIN_MSG_KEY ? 80 : 0;
        if (kinds[i].intent != CX_CHAIN_MSG_ACCEPT)
            memset(m.config_hash, 0, 32);
        if (kinds[i].intent != CX_CHAIN_MSG_FAIL)
            m.reason = 0;
        if (kinds[i].intent != CX_CHAIN_MSG_KEY)
            memset(m.result_hash, 0, 32);
        uint8_t *b = NULL;
        size_t n = 0;
        assert_int_equal(cx_chain_msg_encode(&m, &b, &n, NULL), CX_OK);
        expect_vector(text, kinds[i].name, b, n);
        sign_check(text, kinds[i].sig_name, seed, b, n);
        cx_chain_msg decoded;
        assert_int_equal(cx_chain_msg_decode(b, n, &decoded, NULL), CX_OK);
        assert_int_equal(decoded.intent, kinds[i].intent);
        free(b);
    }

    /* the X25519 key's endorsement by the attested key (attestation/tee.c) */
    uint8_t x25519[32], endorse[sizeof "cloakx/enclave-x25519/v1" + 32];
    memset(x25519, 0x99, sizeof x25519);
    memcpy(endorse, "cloakx/enclave-x25519/v1", sizeof "cloakx/enclave-x25519/v1");
    memcpy(endorse + sizeof "cloakx/enclave-x25519/v1", x25519, 32);
    expect_vector(text, "x25519_pk", x25519, 32);
    sign_check(text, "x25519_endorsement", seed, endorse, sizeof endorse);
    sign_check(text, "x25519_endorsement_other_key", other, endorse, sizeof endorse);
}

/* The comparison can fail: a vector one byte off is told apart. */
static void test_a_changed_byte_is_seen(void **state)
{
    (void)state;
    const char *text = read_vectors();
    size_t n;
    uint8_t *b = vector_of(text, "acceptance", &n);
    cx_chain_msg m;
    job_msg(&m, CX_CHAIN_MSG_ACCEPT);
    memset(m.config_hash, 0x45, 32); /* not the vector's 0x44 */
    uint8_t *c = NULL;
    size_t cn = 0;
    assert_int_equal(cx_chain_msg_encode(&m, &c, &cn, NULL), CX_OK);
    assert_int_equal(cn, n);
    assert_true(memcmp(b, c, n) != 0);
    free(b);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_equal_c_encoding),
        cmocka_unit_test(test_a_changed_byte_is_seen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
