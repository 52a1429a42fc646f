/* fuzz_attestation_nitro_cose.c — libFuzzer target for the Nitro document parser: arbitrary
 * bytes through the strict COSE/CBOR parse, and what parses through the full verifier. */
#include "cx_attest.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_nitro_doc d;
    cx_error e;
    if (cx_nitro_doc_parse(data, size, &d, &e) != CX_OK) {
        if (strncmp(e.msg, "format: ", 8) != 0)
            abort(); /* every parse refusal names the format check */
        return 0;
    }
    if (!d.module_id || d.cabundle_count == 0 || !(d.pcr_present & 1u))
        abort();
    cx_nitro_doc_free(&d);
    /* the real document's time, so the chain code runs on mutated certificates */
    cx_nitro_policy p = {.at_ms = 1744684007462ull, .allow_debug = 1};
    cx_nitro_check c;
    cx_err rc = cx_nitro_verify(data, size, &p, &d, &c, &e);
    if ((rc == CX_OK) != (c == CX_NITRO_CHECK_OK))
        abort();
    if (rc == CX_OK)
        cx_nitro_doc_free(&d);
    return 0;
}
