/* fuzz_proto_bcs.c — libFuzzer target for the BCS reader: a program (the first bytes) picks
 * which values to read from the rest; every value read must write back to exactly the bytes
 * it was read from (strict reading = one encoding per value), and no read runs past the end. */
#include <stdlib.h>
#include <string.h>

#include "cx_proto.h"

enum { OPS = 14 };

/* Reads one value of kind op and writes it again; CX_OK while both succeed. */
static cx_err step(int op, cx_bcs_reader *r, cx_bcs_writer *w)
{
    uint8_t b[32];
    uint64_t u = 0;
    size_t n = 0;
    int f = 0;
    uint32_t idx = 0;
    const uint8_t *p = NULL;
    const char *s = NULL;
    cx_err rc;
    switch (op) {
    case 0:
        if ((rc = cx_bcs_get_u8(r, b, NULL)) == CX_OK)
            cx_bcs_put_u8(w, b[0]);
        return rc;
    case 1: {
        uint16_t v = 0;
        if ((rc = cx_bcs_get_u16(r, &v, NULL)) == CX_OK)
            cx_bcs_put_u16(w, v);
        return rc;
    }
    case 2: {
        uint32_t v = 0;
        if ((rc = cx_bcs_get_u32(r, &v, NULL)) == CX_OK)
            cx_bcs_put_u32(w, v);
        return rc;
    }
    case 3:
        if ((rc = cx_bcs_get_u64(r, &u, NULL)) == CX_OK)
            cx_bcs_put_u64(w, u);
        return rc;
    case 4:
        if ((rc = cx_bcs_get_u128(r, b, NULL)) == CX_OK)
            cx_bcs_put_u128(w, b);
        return rc;
    case 5:
        if ((rc = cx_bcs_get_u256(r, b, NULL)) == CX_OK)
            cx_bcs_put_u256(w, b);
        return rc;
    case 6:
        if ((rc = cx_bcs_get_bool(r, &f, NULL)) == CX_OK)
            cx_bcs_put_bool(w, f);
        return rc;
    case 7:
        if ((rc = cx_bcs_get_uleb(r, &u, NULL)) == CX_OK)
            cx_bcs_put_uleb(w, u);
        return rc;
    case 8:
        if ((rc = cx_bcs_get_seq_len(r, 1000, 1, &n, NULL)) == CX_OK)
            cx_bcs_put_seq_len(w, n);
        return rc;
    case 9:
        if ((rc = cx_bcs_get_variant(r, 5, &idx, NULL)) == CX_OK)
            cx_bcs_put_variant(w, idx);
        return rc;
    case 10:
        if ((rc = cx_bcs_get_option(r, &f, NULL)) == CX_OK)
            cx_bcs_put_option(w, f);
        return rc;
    case 11:
        if ((rc = cx_bcs_get_addr(r, b, NULL)) == CX_OK)
            cx_bcs_put_addr(w, b);
        return rc;
    case 12:
        if ((rc = cx_bcs_get_bytes(r, 256, &p, &n, NULL)) == CX_OK)
            cx_bcs_put_bytes(w, p, n);
        return rc;
    default:
        if ((rc = cx_bcs_get_str(r, 256, &s, &n, NULL)) == CX_OK)
            cx_bcs_put_str(w, s, n);
        return rc;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t prog = data[0] % 16;
    if (prog > size - 1)
        prog = size - 1;
    const uint8_t *ops = data + 1, *payload = data + 1 + prog;
    size_t plen = size - 1 - prog;
    cx_bcs_reader r;
    cx_bcs_reader_init(&r, payload, plen);
    cx_bcs_writer w;
    cx_bcs_writer_init(&w);
    size_t consumed = 0; /* what the successful reads took: a failed one may have moved on */
    for (size_t i = 0; i < prog; i++) {
        if (step(ops[i] % OPS, &r, &w) != CX_OK)
            break;
        consumed = r.off;
    }
    if (r.off > plen)
        __builtin_trap();
    uint8_t *out = NULL;
    size_t n = 0;
    if (cx_bcs_writer_finish(&w, &out, &n, NULL) != CX_OK)
        __builtin_trap(); /* what the reader accepted, the writer must take */
    if (n != consumed || (n && memcmp(out, payload, n) != 0))
        __builtin_trap();
    free(out);
    return 0;
}
