/* fuzz_proto_statement.c — libFuzzer target for the result-statement decoder: whatever it
 * accepts re-encodes to exactly the input bytes (one canonical encoding), and what it refuses
 * leaves nothing allocated. */
#include <stdlib.h>
#include <string.h>

#include "cx_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_statement s;
    uint64_t ts = 0;
    if (cx_statement_decode(data, size, &s, &ts, NULL) != CX_OK) {
        if (s.rows || s.metrics || s.n_rows || s.n_metrics)
            __builtin_trap();
        return 0;
    }
    uint8_t *re = NULL;
    size_t rl = 0;
    if (cx_statement_encode(&s, ts, &re, &rl, NULL) != CX_OK || rl != size ||
        memcmp(re, data, size) != 0)
        __builtin_trap();
    free(re);
    cx_statement_free(&s);
    return 0;
}
