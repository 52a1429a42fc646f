/* fuzz_attestation_nitro_nsm.c — libFuzzer target for the /dev/nsm response decoder (what a
 * compromised or buggy device could hand back). */
#include "cx_attest.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_nsm_response r;
    if (cx_nsm_response_decode(data, size, &r, NULL) != CX_OK)
        return 0;
    if (r.kind != CX_NSM_RESPONSE_ERROR && !r.data)
        abort();
    cx_nsm_response_free(&r);
    return 0;
}
