/* fuzz_chain_statement.c — libFuzzer target for the result-statement BCS decoders: chain's
 * decoder and attestation's must agree on every input, and what they accept re-encodes to
 * exactly the same bytes (one canonical encoding). */
#include <stdlib.h>
#include <string.h>

#include "cx_attest.h"
#include "cx_chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_chain_statement c;
    cx_statement a;
    uint64_t ts = 0;
    cx_err rc_c = cx_chain_statement_decode(data, size, &c, NULL);
    cx_err rc_a = cx_statement_decode(data, size, &a, &ts, NULL);
    if ((rc_c == CX_OK) != (rc_a == CX_OK))
        __builtin_trap();
    if (rc_c != CX_OK)
        return 0;
    if (c.n_rows != a.n_rows || c.timestamp_ms != ts || c.n_metrics != a.n_metrics ||
        memcmp(c.job_id.b, a.job_id, 32) != 0 || c.dp_delta_1e12 != a.dp_delta_1e12)
        __builtin_trap();
    for (size_t i = 0; i < c.n_rows; i++)
        if (c.rows[i].rows != a.rows[i].rows ||
            memcmp(c.rows[i].contributor.b, a.rows[i].contributor, 32) != 0)
            __builtin_trap();
    uint8_t *re = NULL;
    size_t rl = 0;
    if (cx_statement_encode(&a, ts, &re, &rl, NULL) != CX_OK || rl != size ||
        memcmp(re, data, size) != 0)
        __builtin_trap();
    free(re);
    cx_chain_statement_free(&c);
    cx_statement_free(&a);
    return 0;
}
