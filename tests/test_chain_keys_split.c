/* test_chain_keys_split.c — Sui addresses of known keys, account keys signing like the Sui SDK
 * and RFC 8032, and the exact payout split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <unistd.h>

#include "cx_chain.h"

static char *hex(const uint8_t *p, size_t n)
{
    char *s = cx_hex_dup(p, n);
    assert_non_null(s);
    return s;
}

static void unhex(const char *s, uint8_t *out, size_t want)
{
    size_t got = 0;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, want, &got, NULL), CX_OK);
    assert_int_equal(got, want);
}

static void test_addresses(void **state)
{
    (void)state;
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    cx_chain_key *k;
    assert_int_equal(cx_chain_key_from_seed(seed, &k, NULL), CX_OK);
    char *h = hex(cx_chain_key_public(k), 32);
    assert_string_equal(h, "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
    free(h);
    char a[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(cx_chain_key_address(k), a);
    assert_string_equal(a, "0x160179a1565ea7cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3ac");
    /* spec §6.2: personal message "hello" — Ed25519 over BLAKE2b-256(03 00 00 05 "hello") is
     * deterministic, so ours must reproduce the SDK's serialized signature byte for byte */
    static const char ser_b64[] =
        "AAq+MqnciuX91LqxBAGpXVG4PENVdvMFcBKqHKN04i0l40EAOOYXewWvoPBNvXdH"
        "KhEGfQghYcDUKRolzwoYNgcDoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==";
    uint8_t ser[97], digest[32], sig[64];
    size_t sl = 0;
    assert_int_equal(cx_base64_decode(ser_b64, strlen(ser_b64), ser, sizeof ser, &sl, NULL), CX_OK);
    assert_int_equal(sl, 97);
    static const uint8_t pm[] = {0x03, 0x00, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'};
    assert_int_equal(crypto_generichash(digest, 32, pm, sizeof pm, NULL, 0), 0);
    assert_int_equal(cx_chain_key_sign(k, digest, 32, sig, NULL), CX_OK);
    assert_int_equal(ser[0], 0x00);
    assert_memory_equal(sig, ser + 1, 64);
    assert_memory_equal(cx_chain_key_public(k), ser + 65, 32);
    cx_chain_id back;
    assert_int_equal(cx_chain_id_from_hex(a, &back, NULL), CX_OK);
    assert_true(cx_chain_id_equal(&back, cx_chain_key_address(k)));
    cx_error e;
    assert_int_equal(cx_chain_id_from_hex("0x1601", &back, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_chain_id_from_hex(a + 2, &back, &e), CX_ERR_FORMAT);
    cx_chain_key_free(k);
    /* NAUT seal_policy.move test_pk_to_address */
    uint8_t pk[32];
    unhex("5c38d3668c45ff891766ee99bd3522ae48d9771dc77e8a6ac9f0bde6c3a2ca48", pk, 32);
    cx_chain_addr ad;
    assert_int_equal(cx_chain_addr_from_ed25519(pk, &ad, NULL), CX_OK);
    cx_chain_id_to_hex(&ad, a);
    assert_string_equal(a, "0x29287d8584fb5b71b8d62e7224b867207d205fb61d42b7cce0deef95bf4e8202");
}

/* Signing and verifying with an account key: RFC 8032 test 1 (from_seed is plain Ed25519),
 * then a fresh key whose signature stops verifying once a bit flips. */
static void test_key_sign_verify(void **state)
{
    (void)state;
    uint8_t seed[32], pk[32], want[64], sig[64];
    unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
    unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pk, 32);
    unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc6"
          "1e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
          want, 64);
    cx_chain_key *k;
    assert_int_equal(cx_chain_key_from_seed(seed, &k, NULL), CX_OK);
    assert_memory_equal(cx_chain_key_public(k), pk, 32);
    assert_int_equal(cx_chain_key_sign(k, (const uint8_t *)"", 0, sig, NULL), CX_OK);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(cx_ed25519_verify(pk, (const uint8_t *)"", 0, sig, NULL), CX_OK);
    cx_chain_key_free(k);

    assert_int_equal(cx_chain_key_generate(&k, NULL), CX_OK);
    assert_int_equal(cx_chain_key_sign(k, (const uint8_t *)"m", 1, sig, NULL), CX_OK);
    assert_int_equal(cx_ed25519_verify(cx_chain_key_public(k), (const uint8_t *)"m", 1, sig, NULL),
                     CX_OK);
    sig[3] ^= 1;
    assert_int_equal(cx_ed25519_verify(cx_chain_key_public(k), (const uint8_t *)"m", 1, sig, NULL),
                     CX_ERR_AUTH);
    cx_chain_key_free(k);
}

/* ------------------------------------------------------------------ split -- */

static void rand_addr(cx_chain_addr *a, unsigned *seed)
{
    for (int i = 0; i < 32; i++)
        a->b[i] = (uint8_t)rand_r(seed);
}

static int cmp_rows(const void *a, const void *b)
{
    return memcmp(((const cx_chain_rows *)a)->contributor.b,
                  ((const cx_chain_rows *)b)->contributor.b, 32);
}

static void test_split_adds_up(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 1 + (size_t)(rand_r(&seed) % 40);
        cx_chain_rows *rows = calloc(n, sizeof *rows);
        assert_non_null(rows);
        for (size_t i = 0; i < n; i++) {
            rand_addr(&rows[i].contributor, &seed);
            int kind = rand_r(&seed) % 4;
            rows[i].rows = kind == 0   ? 0
                           : kind == 1 ? (uint64_t)rand_r(&seed) % 10
                                       : ((uint64_t)rand_r(&seed) << 20) ^ (uint64_t)rand_r(&seed);
        }
        qsort(rows, n, sizeof *rows, cmp_rows);
        uint64_t pay = (iter % 3 == 0)
                           ? (uint64_t)rand_r(&seed) % 1000
                           : (((uint64_t)rand_r(&seed) << 31) ^ (uint64_t)rand_r(&seed));
        if (iter % 50 == 0)
            pay = UINT64_MAX - (uint64_t)iter; /* the 128-bit intermediates matter here */
        uint32_t pb = (uint32_t)rand_r(&seed) % 2000, ob = (uint32_t)rand_r(&seed) % 3000;
        uint64_t cap = (rand_r(&seed) % 2) ? 0 : 1 + (uint64_t)rand_r(&seed) % 5000;
        cx_chain_split s;
        assert_int_equal(cx_chain_split_compute(pay, pb, ob, cap, rows, n, &s, NULL), CX_OK);
        unsigned __int128 sum = (unsigned __int128)s.protocol_fee + s.operator_fee;
        uint64_t csum = 0;
        size_t pos = 0;
        for (size_t i = 0; i < s.n_payouts; i++)
            csum += s.payouts[i].amount;
        for (size_t i = 0; i < n; i++)
            pos += rows[i].rows > 0;
        assert_int_equal(s.n_payouts, pos);
        if (pos) {
            sum += csum;
            assert_true(sum == pay);
            assert_true(csum == s.contributors_total);
        }
        assert_true(s.protocol_fee == (uint64_t)(((unsigned __int128)pay * pb) / 10000));
        assert_true(s.operator_fee == (uint64_t)(((unsigned __int128)pay * ob) / 10000));
        cx_chain_split_free(&s);
        free(rows);
    }
}

static void test_split_remainder_rule(void **state)
{
    (void)state;
    static const struct {
        uint64_t pay;
        uint32_t protocol_bps, operator_bps;
        uint64_t cap, rows[3];
        uint64_t protocol_fee, operator_fee, contributors_total, paid[3];
    } cases[] = {
        /* C = 10 over weights 1,1,1: shares 3,3,3 and one leftover unit; equal fractional
         * parts, so the smallest address gets it */
        {10, 0, 0, 0, {7, 7, 7}, 0, 0, 10, {4, 3, 3}},
        /* weights 1,2,4 (C = 100): exact 14.28, 28.57, 57.14 -> 14,28,57 = 99; largest
         * fractional part is 28.57 (.571) -> 14,29,57 */
        {100, 0, 0, 0, {1, 2, 4}, 0, 0, 100, {14, 29, 57}},
        /* cap: rows 1, 1000, 5000 with cap 1000 -> weights 1, 1000, 1000; fees 1% + 5% of
         * 10000; floors 4, 4697, 4697 (sum 9398); remainders 1396, 1303, 1303: first gets a
         * unit, the tie between the other two goes to the smaller address */
        {10000, 100, 500, 1000, {1, 1000, 5000}, 100, 500, 9400, {5, 4698, 4697}},
        /* rows near the ledger's cap (2^63-1): W exceeds 2^64, so the fractional parts
         * C*w mod W do too (19.2e18, 12.6e18, 8.0e18; R = 2); compared truncated to 64 bits
         * the two leftover units went to the 2nd and 3rd instead of the 1st and 2nd */
        {5249979066121302518u,
         0,
         0,
         INT64_MAX,
         {5193743734873177028u, 5699294076718560316u, 8967379549718436003u},
         0,
         0,
         5249979066121302518u,
         {1372934182944283603u, 1506573303576723333u, 2370471579600295582u}},
    };
    cx_chain_rows rows[3];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < 3; i++)
        rows[i].contributor.b[0] = (uint8_t)(i + 1);
    cx_chain_split s;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int i = 0; i < 3; i++)
            rows[i].rows = cases[c].rows[i];
        assert_int_equal(cx_chain_split_compute(cases[c].pay, cases[c].protocol_bps,
                                                cases[c].operator_bps, cases[c].cap, rows, 3, &s,
                                                NULL),
                         CX_OK);
        assert_int_equal(s.protocol_fee, cases[c].protocol_fee);
        assert_int_equal(s.operator_fee, cases[c].operator_fee);
        assert_int_equal(s.contributors_total, cases[c].contributors_total);
        assert_int_equal(s.n_payouts, 3);
        for (int i = 0; i < 3; i++)
            assert_int_equal(s.payouts[i].amount, cases[c].paid[i]);
        cx_chain_split_free(&s);
    }
    /* refused: fees above 100 %, unsorted rows */
    cx_error e;
    assert_int_equal(cx_chain_split_compute(1, 6000, 5000, 0, rows, 3, &s, &e), CX_ERR_ARG);
    rows[0].contributor.b[0] = 9;
    assert_int_equal(cx_chain_split_compute(1, 0, 0, 0, rows, 3, &s, &e), CX_ERR_ARG);
}

/* The enclave's job messages (RULES.md §6): the exact bytes of a JobAcceptance, a round trip
 * of each kind, and the decoder refuses what the rules refuse (unknown intent or version, a
 * reason out of range, a wrong-length hash, an empty key, trailing or missing bytes). */
static void test_enclave_messages(void **state)
{
    (void)state;
    cx_chain_msg m = {.intent = CX_CHAIN_MSG_ACCEPT, .version = 1, .timestamp_ms = 0x0102};
    memset(m.job_id.b, 0x11, 32);
    memset(m.pool_id.b, 0x22, 32);
    memset(m.code_measurement, 0x33, 48);
    m.code_measurement_len = 48;
    memset(m.config_hash, 0x44, 32);
    uint8_t *b;
    size_t n;
    cx_error e;
    assert_int_equal(cx_chain_msg_encode(&m, &b, &n, &e), CX_OK);
    /* intent u8, timestamp u64 LE, version u8, job, pool, ULEB 48 || meas, ULEB 32 || hash */
    assert_int_equal(n, 1 + 8 + 1 + 32 + 32 + 1 + 48 + 1 + 32);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[1], 0x02);
    assert_int_equal(b[2], 0x01);
    assert_int_equal(b[9], 1);
    assert_int_equal(b[10], 0x11);
    assert_int_equal(b[74], 48);
    assert_int_equal(b[123], 32);
    assert_int_equal(b[124], 0x44);
    cx_chain_msg d;
    assert_int_equal(cx_chain_msg_decode(b, n, &d, &e), CX_OK);
    assert_int_equal(d.intent, CX_CHAIN_MSG_ACCEPT);
    assert_int_equal(d.timestamp_ms, 0x0102);
    assert_memory_equal(d.config_hash, m.config_hash, 32);
    assert_true(cx_chain_id_equal(&d.pool_id, &m.pool_id));
    assert_int_equal(cx_chain_msg_decode(b, n - 1, &d, &e), CX_ERR_FORMAT);
    uint8_t *longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, b, n);
    longer[n] = 0;
    assert_int_equal(cx_chain_msg_decode(longer, n + 1, &d, &e), CX_ERR_FORMAT);
    free(longer);
    b[123] = 31; /* a 31-byte config hash */
    assert_int_equal(cx_chain_msg_decode(b, n - 1, &d, &e), CX_ERR_FORMAT);
    b[0] = 0; /* intent 0 is the result statement, not a job message */
    assert_int_equal(cx_chain_msg_decode(b, n, &d, &e), CX_ERR_FORMAT);
    b[0] = 1;
    b[9] = 2; /* version */
    assert_int_equal(cx_chain_msg_decode(b, n, &d, &e), CX_ERR_FORMAT);
    free(b);

    m.intent = CX_CHAIN_MSG_FAIL;
    m.reason = CX_CHAIN_FAIL_COMPUTE;
    assert_int_equal(cx_chain_msg_encode(&m, &b, &n, &e), CX_OK);
    assert_int_equal(cx_chain_msg_decode(b, n, &d, &e), CX_OK);
    assert_int_equal(d.reason, CX_CHAIN_FAIL_COMPUTE);
    b[n - 1] = 5; /* no such reason */
    assert_int_equal(cx_chain_msg_decode(b, n, &d, &e), CX_ERR_FORMAT);
    free(b);
    m.reason = 0;
    assert_int_equal(cx_chain_msg_encode(&m, &b, &n, &e), CX_ERR_FORMAT);

    m.intent = CX_CHAIN_MSG_KEY;
    memset(m.result_hash, 0x55, 32);
    assert_int_equal(cx_chain_msg_encode(&m, &b, &n, &e), CX_ERR_FORMAT); /* no key */
    memset(m.wrapped_key, 0x66, 80);
    m.wrapped_key_len = 80;
    assert_int_equal(cx_chain_msg_encode(&m, &b, &n, &e), CX_OK);
    assert_int_equal(cx_chain_msg_decode(b, n, &d, &e), CX_OK);
    assert_int_equal(d.wrapped_key_len, 80);
    assert_memory_equal(d.wrapped_key, m.wrapped_key, 80);
    assert_memory_equal(d.result_hash, m.result_hash, 32);
    free(b);
    m.wrapped_key_len = CX_CHAIN_WRAPPED_KEY_MAX + 1;
    assert_int_equal(cx_chain_msg_encode(&m, &b, &n, &e), CX_ERR_FORMAT);
    m.intent = 4;
    m.wrapped_key_len = 80;
    assert_int_equal(cx_chain_msg_encode(&m, &b, &n, &e), CX_ERR_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_key_sign_verify),
        cmocka_unit_test(test_split_adds_up),
        cmocka_unit_test(test_split_remainder_rule),
        cmocka_unit_test(test_enclave_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
