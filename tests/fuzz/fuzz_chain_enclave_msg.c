/* fuzz_chain_enclave_msg.c — libFuzzer target for the enclave's job messages (RULES.md §6):
 * what the decoder accepts re-encodes to exactly the same bytes (one canonical encoding). */
#include <stdlib.h>
#include <string.h>

#include "cx_chain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_chain_msg m;
    if (cx_chain_msg_decode(data, size, &m, NULL) != CX_OK)
        return 0;
    uint8_t *re = NULL;
    size_t rl = 0;
    if (cx_chain_msg_encode(&m, &re, &rl, NULL) != CX_OK || rl != size ||
        memcmp(re, data, size) != 0)
        __builtin_trap();
    free(re);
    return 0;
}
