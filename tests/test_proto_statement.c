/* test_proto_statement.c — the result statement codec: Nautilus's weather vector reproduced
 * byte for byte and verified, the committed statement vector (built independently in Python)
 * encoded, signed, decoded and re-encoded, and strict decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_statement_vector.h"

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
    assert_int_equal(cx_ed25519_verify(pk, msg, len, sig, NULL), CX_OK);
    /* one changed byte anywhere (the temperature) or in the signature: refused */
    cx_error e;
    msg[len - 8] = 14;
    assert_int_equal(cx_ed25519_verify(pk, msg, len, sig, &e), CX_ERR_AUTH);
    msg[len - 8] = 13;
    sig[10] ^= 0x40;
    assert_int_equal(cx_ed25519_verify(pk, msg, len, sig, &e), CX_ERR_AUTH);
    free(msg);
    /* the other serde vector (enclave.move test_serde) */
    assert_int_equal(cx_intent_message_encode(0, 1744038900000ull, payload, pl, &msg, &len, NULL),
                     CX_OK);
    h = cx_hex_dup(msg, len);
    assert_string_equal(h, "0020b1d110960100000d53616e204672616e636973636f0d00000000000000");
    free(h);
    free(msg);
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
    assert_int_equal(cx_ed25519_sign(seed, msg, len, sig, NULL), CX_OK);
    unhex(vec_sig, want, 64);
    assert_memory_equal(sig, want, 64);
    uint8_t pk[32];
    unhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8", pk, 32);
    assert_int_equal(cx_ed25519_verify(pk, msg, len, sig, NULL), CX_OK);

    /* the decoder gives every field back, contributors ascending */
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
    assert_memory_equal(d.job_id, s.job_id, 32);
    assert_memory_equal(d.pool_id, s.pool_id, 32);
    assert_int_equal(d.code_measurement_len, 48);
    assert_memory_equal(d.code_measurement, s.code_measurement, 48);
    assert_memory_equal(d.config_hash, s.config_hash, 32);
    assert_memory_equal(d.dataset_commitment, s.dataset_commitment, 32);
    assert_memory_equal(d.result_blob_id, s.result_blob_id, 32);
    assert_memory_equal(d.result_hash, s.result_hash, 32);
    assert_memory_equal(d.rows[1].contributor, rows[0].contributor, 32);
    assert_int_equal(d.rows[1].rows, 800);
    assert_string_equal(d.metrics[0].name, "accuracy");
    assert_int_equal(d.metrics[0].value_micro, 912345);
    assert_true(d.dp_epsilon_micro == 3000000 && d.dp_delta_1e12 == 10000000);
    /* and what it decodes encodes to the same bytes (one canonical encoding) */
    uint8_t *again = NULL;
    size_t again_len = 0;
    assert_int_equal(cx_statement_encode(&d, ts, &again, &again_len, NULL), CX_OK);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, msg, len);
    free(again);
    cx_statement_free(&d);
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
    /* every truncation fails */
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(cx_statement_decode(msg, cut, &d, NULL, &e), CX_ERR_FORMAT);
    }
    /* a trailing byte */
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, msg, len);
    longer[len] = 0;
    assert_int_equal(cx_statement_decode(longer, len + 1, &d, NULL, &e), CX_ERR_FORMAT);
    free(longer);
    /* another intent scope, another version */
    msg[0] = 1;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    msg[0] = 0;
    msg[9] = 2;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    free(msg);
    /* contributors out of order on the wire: encode the same contributor twice (refused), and
     * a hand-made descending pair is refused by the decoder */
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
    free(msg);
    /* encoder argument checks */
    vector_statement(&s, rows, mets);
    s.code_measurement_len = 0;
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    vector_statement(&s, rows, mets);
    snprintf(mets[0].name, sizeof mets[0].name, "has space");
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weather_vector),
        cmocka_unit_test(test_statement_vector),
        cmocka_unit_test(test_statement_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
