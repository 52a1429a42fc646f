/* fuzz_attestation_gpu_evidence.c — libFuzzer target for the GPU evidence JSON reader (§3.7)
 * and the reference readers (operator JSON, NVIDIA RIM XML); accepted evidence is
 * re-serialised and digested. */
#include <stdlib.h>
#include <string.h>

#include "cx_attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_error e;
    cx_gpu_evidence_list l;
    if (cx_gpu_evidence_parse((const char *)data, size, &l, &e) == CX_OK) {
        char *text = NULL;
        uint8_t d[CX_GPU_DIGEST_LEN];
        (void)cx_gpu_evidence_digest(l.items, l.n, d, &e);
        if (cx_gpu_evidence_to_json(&l, &text, &e) == CX_OK) {
            cx_gpu_evidence_list back;
            if (cx_gpu_evidence_parse(text, strlen(text), &back, &e) != CX_OK || back.n != l.n)
                abort(); /* what we write we must read back */
            cx_gpu_evidence_list_free(&back);
            free(text);
        }
        cx_gpu_evidence_list_free(&l);
    }
    cx_gpu_reference *ref = NULL;
    if (cx_gpu_reference_parse((const char *)data, size, &ref, &e) == CX_OK)
        (void)cx_gpu_reference_count(ref);
    cx_gpu_reference_free(ref);
    ref = NULL;
    if (cx_gpu_reference_parse_rim((const char *)data, size, CX_GPU_RIM_DRIVER, &ref, &e) == CX_OK)
        (void)cx_gpu_reference_count(ref);
    cx_gpu_reference_free(ref);
    return 0;
}
