/* test_proto_statement.c — the result statement codec: Nautilus's weather vector reproduced
 * byte for byte and verified, the committed statement vectors (built independently in Python;
 * version 3 and version 2) encoded, signed, decoded and re-encoded, and strict decoding. */
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
    assert_int_equal(d.ranks_hash_len, 32);
    assert_memory_equal(d.ranks_hash, s.ranks_hash, 32);
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

/* Offset of the contributors' count in the vector's version 3 encoding: intent, timestamp,
 * version, ids, (1+48) measurement, (1+32) config hash, commitment, blob id and result hash,
 * (1+0) GPU evidence hash, (1+32) ranks hash. */
static size_t rows_offset(void)
{
    return 1 + 8 + 1 + 32 + 32 + 49 + 33 + 33 + 33 + 33 + 1 + 33;
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
    msg[9] = 4;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "version 4"));
    /* version 2 or 1 bytes of a version 3 statement: the ranks hash is read as contributors */
    msg[9] = 2;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    msg[9] = 1;
    assert_int_equal(cx_statement_decode(msg, len, &d, NULL, &e), CX_ERR_FORMAT);
    free(msg);
    /* contributors out of order on the wire: encode the same contributor twice (refused), and
     * a hand-made descending pair is refused by the decoder */
    memcpy(rows[0].contributor, rows[1].contributor, 32);
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    vector_statement(&s, rows, rej, mets);
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, NULL), CX_OK);
    size_t off = rows_offset() + 1; /* after the count byte */
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
    return rows_offset() + 1 + 2 * 40;
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
    s.ranks_hash_len = 0;
    s.version = CX_STATEMENT_VERSION_1;
    assert_int_equal(cx_statement_encode(&s, 1, &msg, &len, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "rejected"));
}

/* Version 3's ranks hash: a statement with it and one without (a one-rank job) round-trip;
 * any length but 0 and 32 is refused by the encoder and the decoder; versions 1 and 2 have
 * none. */
static void test_statement_ranks_hash(void **state)
{
    (void)state;
    cx_statement s, d;
    cx_statement_rows rows[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    cx_error e;
    uint8_t *with, *without, *again, *msg;
    size_t lw, lo, la, len;
    vector_statement(&s, rows, rej, mets);
    assert_int_equal(cx_statement_encode(&s, 9, &with, &lw, NULL), CX_OK);
    s.ranks_hash_len = 0;
    assert_int_equal(cx_statement_encode(&s, 9, &without, &lo, NULL), CX_OK);
    /* the hash is a vector<u8> right after gpu_evidence_hash: length byte 32 then the bytes, or
     * the length byte 0 alone */
    size_t at = rows_offset() - 33;
    assert_int_equal(lw, lo + 32);
    assert_int_equal(with[9], CX_STATEMENT_VERSION);
    assert_int_equal(with[at - 1], 0); /* the empty GPU evidence hash */
    assert_int_equal(with[at], 32);
    assert_memory_equal(with + at + 1, s.ranks_hash, 32);
    assert_int_equal(without[at], 0);
    assert_memory_equal(with, without, at);
    assert_memory_equal(with + at + 33, without + at + 1, lo - at - 1);
    uint8_t *bytes[2] = {with, without};
    size_t lens[2] = {lw, lo}, want_len[2] = {32, 0};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cx_statement_decode(bytes[i], lens[i], &d, NULL, NULL), CX_OK);
        assert_int_equal(d.version, CX_STATEMENT_VERSION);
        assert_int_equal(d.ranks_hash_len, want_len[i]);
        if (want_len[i])
            assert_memory_equal(d.ranks_hash, s.ranks_hash, 32);
        assert_int_equal(d.n_rejected, 3);
        assert_int_equal(cx_statement_encode(&d, 9, &again, &la, NULL), CX_OK);
        assert_int_equal(la, lens[i]);
        assert_memory_equal(again, bytes[i], la);
        free(again);
        cx_statement_free(&d);
    }
    /* a 31-byte ranks hash on the wire (length byte 31, one byte less): refused */
    msg = malloc(lw);
    assert_non_null(msg);
    memcpy(msg, with, at);
    msg[at] = 31;
    memcpy(msg + at + 1, with + at + 1, 31);
    memcpy(msg + at + 32, with + at + 33, lw - at - 33);
    assert_int_equal(cx_statement_decode(msg, lw - 1, &d, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "ranks_hash"));
    assert_null(d.rows);
    /* 33 bytes: refused too */
    memcpy(msg, with, lw);
    msg[at] = 33;
    assert_int_equal(cx_statement_decode(msg, lw, &d, NULL, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "ranks_hash"));
    free(msg);
    /* the encoder refuses 31 bytes, and a ranks hash at version 1 or 2 */
    vector_statement(&s, rows, rej, mets);
    s.ranks_hash_len = 31;
    assert_int_equal(cx_statement_encode(&s, 9, &msg, &len, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "ranks hash"));
    s.ranks_hash_len = 32;
    s.version = CX_STATEMENT_VERSION_2;
    assert_int_equal(cx_statement_encode(&s, 9, &msg, &len, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "version 2 has no ranks hash"));
    s.n_rejected = 0;
    s.version = CX_STATEMENT_VERSION_1;
    assert_int_equal(cx_statement_encode(&s, 9, &msg, &len, &e), CX_ERR_ARG);
    free(with);
    free(without);
}

/* The committed version 2 vector (from before version 3) still decodes, with an empty ranks
 * hash, verifies under its signature and re-encodes to itself; it is the version 3 encoding of
 * the same statement without a ranks hash, but for the version byte and the hash's length
 * byte. */
static void test_statement_version_2(void **state)
{
    (void)state;
    uint8_t v2[600], sig[64], pk[32];
    size_t l2 = strlen(vec_msg_v2) / 2;
    assert_true(l2 <= sizeof v2);
    unhex(vec_msg_v2, v2, l2);
    unhex(vec_sig_v2, sig, 64);
    unhex("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8", pk, 32);
    assert_int_equal(cx_ed25519_verify(pk, v2, l2, sig, NULL), CX_OK);
    cx_statement d, s;
    uint64_t ts = 0;
    assert_int_equal(cx_statement_decode(v2, l2, &d, &ts, NULL), CX_OK);
    assert_int_equal(d.version, CX_STATEMENT_VERSION_2);
    assert_int_equal(d.ranks_hash_len, 0);
    assert_int_equal(d.n_rows, 2);
    assert_int_equal(d.n_rejected, 3);
    assert_int_equal(d.rejected[2].reason, CX_REJECT_DECRYPT);
    assert_int_equal(d.n_metrics, 2);
    assert_true(d.dp_epsilon_micro == 3000000);
    uint8_t *again = NULL;
    size_t la = 0;
    assert_int_equal(cx_statement_encode(&d, ts, &again, &la, NULL), CX_OK);
    assert_int_equal(la, l2);
    assert_memory_equal(again, v2, l2);
    free(again);
    cx_statement_free(&d);
    /* the same statement at version 3 without a ranks hash */
    cx_statement_rows rows[2];
    cx_statement_rejected rej[3];
    cx_statement_metric mets[2];
    vector_statement(&s, rows, rej, mets);
    s.ranks_hash_len = 0;
    uint8_t *v3 = NULL;
    size_t l3 = 0;
    assert_int_equal(cx_statement_encode(&s, ts, &v3, &l3, NULL), CX_OK);
    size_t at = rows_offset() - 33;
    assert_int_equal(l3, l2 + 1);
    assert_int_equal(v3[9], 3);
    assert_int_equal(v2[9], 2);
    assert_memory_equal(v3 + 10, v2 + 10, at - 10);
    assert_int_equal(v3[at], 0);
    assert_memory_equal(v3 + at + 1, v2 + at, l2 - at);
    free(v3);
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
    s.ranks_hash_len = 0;
    s.version = CX_STATEMENT_VERSION_2;
    assert_int_equal(cx_statement_encode(&s, 7, &v2, &l2, NULL), CX_OK);
    s.version = CX_STATEMENT_VERSION_1;
    assert_int_equal(cx_statement_encode(&s, 7, &v1, &l1, NULL), CX_OK);
    assert_int_equal(l1 + 1, l2);
    size_t off = rejected_offset() - 33; /* no ranks hash in either */
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
        cmocka_unit_test(test_statement_version_2),
        cmocka_unit_test(test_statement_ranks_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
