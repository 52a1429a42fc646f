/* proto_statement_vector.h — the committed statement vectors of tests/gen_statement_vector.py
 * (Python + cryptography, from RULES.md §4 and §5: version 3 and the same at version 2) and the
 * statement they encode, for the codec tests and the bundle tests. */
#ifndef CX_TEST_PROTO_STATEMENT_VECTOR_H
#define CX_TEST_PROTO_STATEMENT_VECTOR_H

#include <string.h>

#include "cx_proto.h"

static void unhex(const char *s, uint8_t *out, size_t want)
{
    size_t got = 0;
    assert_int_equal(cx_hex_decode(s, strlen(s), out, want, &got, NULL), CX_OK);
    assert_int_equal(got, want);
}

/* version 3, with the ranks hash of the two ranks of vec_ranks_hash */
static const char vec_msg[] =
    "0000b875bd9a0100000311111111111111111111111111111111111111111111111111111111111111112222"
    "2222222222222222222222222222222222222222222222222222222222223033333333333333333333333333"
    "3333333333333333333333333333333333333333333333333333333333333333333333204444444444444444"
    "4444444444444444444444444444444444444444444444442055555555555555555555555555555555555555"
    "555555555555555555555555552033886c646435a0292d7737a007a1e723a322dbc4b69ea38f1f12be5bbff8"
    "05492077777777777777777777777777777777777777777777777777777777777777770020565516358db058"
    "558d78491082820c73378ae3e3d18a3de53bf33f6ec8ec9c3e02160179a1565ea7cff27ead23f54cc7f50893"
    "bf58155cd7285156e57afa31c3acb00400000000000029287d8584fb5b71b8d62e7224b867207d205fb61d42"
    "b7cce0deef95bf4e8202200300000000000003160179a1565ea7cff27ead23f54cc7f50893bf58155cd72851"
    "56e57afa31c3ac2009090909090909090909090909090909090909090909090909090909090909090129287d"
    "8584fb5b71b8d62e7224b867207d205fb61d42b7cce0deef95bf4e820204626c6f620629287d8584fb5b71b8"
    "d62e7224b867207d205fb61d42b7cce0deef95bf4e820206626c6f622d620302086163637572616379d9eb0d"
    "000000000003617563584a0d0000000000c0c62d00000000008096980000000000";
static const char vec_sig[] = "b8f7e3f6f4ee861c81d29aa87eff1f858c48dc2e343f5c4b640303a53431cd32"
                              "8563bd27d1db136ce9d200a884fb0b18aba98361210533b754b9a03285c2ea0f";
/* the same statement at version 2 (no ranks_hash): the committed vector before version 3 */
static const char vec_msg_v2[] =
    "0000b875bd9a0100000211111111111111111111111111111111111111111111111111111111111111112222"
    "2222222222222222222222222222222222222222222222222222222222223033333333333333333333333333"
    "3333333333333333333333333333333333333333333333333333333333333333333333204444444444444444"
    "4444444444444444444444444444444444444444444444442055555555555555555555555555555555555555"
    "555555555555555555555555552033886c646435a0292d7737a007a1e723a322dbc4b69ea38f1f12be5bbff8"
    "05492077777777777777777777777777777777777777777777777777777777777777770002160179a1565ea7"
    "cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3acb00400000000000029287d8584fb5b71b8d62e"
    "7224b867207d205fb61d42b7cce0deef95bf4e8202200300000000000003160179a1565ea7cff27ead23f54c"
    "c7f50893bf58155cd7285156e57afa31c3ac2009090909090909090909090909090909090909090909090909"
    "090909090909090129287d8584fb5b71b8d62e7224b867207d205fb61d42b7cce0deef95bf4e820204626c6f"
    "620629287d8584fb5b71b8d62e7224b867207d205fb61d42b7cce0deef95bf4e820206626c6f622d62030208"
    "6163637572616379d9eb0d000000000003617563584a0d0000000000c0c62d00000000008096980000000000";
static const char vec_sig_v2[] = "c3d0636aede02828fdcc77b4f6b58d4fc9b24dc454266a3021403268d43d1c09"
                                 "326c06ec74d35a4401963a69ff5051a218f8138e3185cb35b74d2a60f5072804";
/* RULES.md §5: the ranks hash of rank 0 (x25519 a0 x 32, document "rank-0 attestation
 * document", no GPU evidence) and rank 1 (a1 x 32, "rank-1 attestation document", GPU evidence
 * "rank-1 gpu evidence") */
static const char vec_ranks_hash[] =
    "565516358db058558d78491082820c73378ae3e3d18a3de53bf33f6ec8ec9c3e";

static void vector_statement(cx_statement *s, cx_statement_rows rows[2],
                             cx_statement_rejected rej[3], cx_statement_metric mets[2])
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
    unhex(vec_ranks_hash, s->ranks_hash, 32);
    s->ranks_hash_len = 32;
    /* given in descending order: the encoder sorts */
    unhex("29287d8584fb5b71b8d62e7224b867207d205fb61d42b7cce0deef95bf4e8202", rows[0].contributor,
          32);
    rows[0].rows = 800;
    unhex("160179a1565ea7cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3ac", rows[1].contributor,
          32);
    rows[1].rows = 1200;
    s->rows = rows;
    s->n_rows = 2;
    /* rejected, given out of order too: (a2, "blob-b", decrypt), (a1, 09 x 32, header),
     * (a2, "blob", contributor) */
    memset(rej, 0, 3 * sizeof *rej);
    memcpy(rej[0].contributor, rows[0].contributor, 32);
    memcpy(rej[0].blob_id, "blob-b", 6);
    rej[0].blob_id_len = 6;
    rej[0].reason = CX_REJECT_DECRYPT;
    memcpy(rej[1].contributor, rows[1].contributor, 32);
    memset(rej[1].blob_id, 0x09, 32);
    rej[1].blob_id_len = 32;
    rej[1].reason = CX_REJECT_HEADER;
    memcpy(rej[2].contributor, rows[0].contributor, 32);
    memcpy(rej[2].blob_id, "blob", 4);
    rej[2].blob_id_len = 4;
    rej[2].reason = CX_REJECT_CONTRIBUTOR;
    s->rejected = rej;
    s->n_rejected = 3;
    snprintf(mets[0].name, sizeof mets[0].name, "accuracy");
    mets[0].value_micro = 912345;
    snprintf(mets[1].name, sizeof mets[1].name, "auc");
    mets[1].value_micro = 871000;
    s->metrics = mets;
    s->n_metrics = 2;
    s->dp_epsilon_micro = 3000000;
    s->dp_delta_1e12 = 10000000;
}

#endif
