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
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    vector_statement(&s, rows, rej, mets);
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
    /* the rejected contributions ascending by (contributor, blob id), a prefix first */
    assert_int_equal(d.version, CX_STATEMENT_VERSION);
    assert_int_equal(d.n_rejected, 3);
    assert_memory_equal(d.rejected[0].contributor, rows[1].contributor, 32);
    assert_int_equal(d.rejected[0].blob_id_len, 32);
    assert_int_equal(d.rejected[0].reason, CX_REJECT_HEADER);
    assert_int_equal(d.rejected[1].blob_id_len, 4);
    assert_memory_equal(d.rejected[1].blob_id, "blob", 4);
    assert_int_equal(d.rejected[1].reason, CX_REJECT_CONTRIBUTOR);
    assert_memory_equal(d.rejected[2].blob_id, "blob-b", 6);
    assert_int_equal(d.rejected[2].reason, CX_REJECT_DECRYPT);
    assert_string_equal(cx_reject_reason_name(d.rejected[2].reason), "decrypt");
    assert_string_equal(cx_reject_reason_name(0), "unknown");
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
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    vector_statement(&s, rows, rej, mets);
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
    msg[9] = 3;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    /* version 1 bytes of a version 2 statement: the rejected list is read as metrics */
    msg[9] = 1;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    free(msg);
    /* contributors out of order on the wire: encode the same contributor twice (refused), and
     * a hand-made descending pair is refused by the decoder */
    memcpy(rows[0].contributor, rows[1].contributor, 32);
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    vector_statement(&s, rows, rej, mets);
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
    vector_statement(&s, rows, rej, mets);
    s.code_measurement_len = 0;
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    vector_statement(&s, rows, rej, mets);
    snprintf(mets[0].name, sizeof mets[0].name, "has space");
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
}

/* Offset of the rejected list's count in the vector's encoding (after the two rows). */
static size_t rejected_offset(void)
{
    return 1 + 8 + 1 + 32 + 32 + 49 + 33 + 33 + 33 + 33 + 1 + 1 + 2 * 40;
}

/* The rejected list's strict rules: order, reason classes, blob id lengths. */
static void test_statement_rejected_strict(void **state)
{
    (void)state;
    cx_statement s, d;
    cx_statement_rows rows[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    cx_error e;
    uint8_t *msg;
    size_t len;
    vector_statement(&s, rows, rej, mets);
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, NULL), CX_OK);
    size_t off = rejected_offset();
    assert_int_equal(msg[off], 3);
    /* first entry: a1 || 32 || 09 x 32 || reason 1: the reason byte at off + 1 + 32 + 33 */
    size_t reason_at = off + 1 + 32 + 1 + 32;
    assert_int_equal(msg[reason_at], CX_REJECT_HEADER);
    msg[reason_at] = 0;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "reason"));
    msg[reason_at] = CX_REJECT_REASON_MAX + 1;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    msg[reason_at] = CX_REJECT_HEADER;
    /* the second and third entries (same contributor a2) swapped: "blob-b" before "blob" */
    size_t second = reason_at + 1, e2 = 32 + 1 + 4 + 1, e3 = 32 + 1 + 6 + 1;
    uint8_t tmp[64];
    memcpy(tmp, msg + second, e2);
    memmove(msg + second, msg + second + e2, e3);
    memcpy(msg + second + e3, tmp, e2);
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "rejected contributions not strictly ascending"));
    free(msg);
    /* the same contribution twice, a reason outside the classes, an empty blob id: refused
     * by the encoder */
    vector_statement(&s, rows, rej, mets);
    rej[0] = rej[2];
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "twice"));
    vector_statement(&s, rows, rej, mets);
    rej[1].reason = 7;
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    vector_statement(&s, rows, rej, mets);
    rej[1].blob_id_len = 0;
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    /* a version 1 statement cannot carry rejected contributions */
    vector_statement(&s, rows, rej, mets);
    s.version = CX_STATEMENT_VERSION_1;
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
}

/* Version 1 (no rejected list) still decodes, for results kept from before version 2, and
 * re-encodes to itself; it is the version 2 encoding without the list's count byte. */
static void test_statement_version_1(void **state)
{
    (void)state;
    cx_statement s, d;
    cx_statement_rows rows[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    uint8_t *v2, *v1, *again;
    size_t l2, l1, la;
    vector_statement(&s, rows, rej, mets);
    s.n_rejected = 0;
    assert_int_equal(cx_statement_encode(&s, 7, &v2, &l2, NULL), CX_OK);
    s.version = CX_STATEMENT_VERSION_1;
    assert_int_equal(cx_statement_encode(&s, 7, &v1, &l1, NULL), CX_OK);
    assert_int_equal(l1 + 1, l2);
    size_t off = rejected_offset();
    assert_int_equal(v2[9], 2);
    assert_int_equal(v1[9], 1);
    assert_int_equal(v2[off], 0);
    assert_memory_equal(v1 + 10, v2 + 10, off - 10);
    assert_memory_equal(v1 + off, v2 + off + 1, l1 - off);
    assert_int_equal(cx_statement_decode(v1, l1, &d, NULL, NULL), CX_OK);
    assert_int_equal(d.version, CX_STATEMENT_VERSION_1);
    assert_int_equal(d.n_rejected, 0);
    assert_int_equal(d.n_rows, 2);
    assert_int_equal(cx_statement_encode(&d, 7, &again, &la, NULL), CX_OK);
    assert_int_equal(la, l1);
    assert_memory_equal(again, v1, l1);
    cx_statement_free(&d);
    free(again);
    free(v1);
    free(v2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weather_vector),
        cmocka_unit_test(test_statement_vector),
        cmocka_unit_test(test_statement_strict),
        cmocka_unit_test(test_statement_rejected_strict),
        cmocka_unit_test(test_statement_version_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
