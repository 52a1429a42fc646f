/* fuzz_attestation_gpu_spdm.c — libFuzzer target for the H100 SPDM report parser, and for
 * the verifier behind it (with the real nvtrust chain) on inputs that parse. */
#include <stdlib.h>
#include <string.h>

#include "cx_attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_gpu_report *r = malloc(sizeof *r);
    if (!r)
        return 0;
    cx_error e;
    if (cx_gpu_report_parse(data, size, r, &e) == CX_OK) {
        /* Touch every parsed field so the sanitizers see any bad offset. */
        volatile unsigned sink = 0;
        for (size_t i = 0; i < r->n_meas; i++)
            sink += r->meas[i].value[r->meas[i].value_len ? r->meas[i].value_len - 1 : 0];
        for (size_t i = 0; i < r->n_opaque; i++)
            if (r->opaque[i].len)
                sink += data[r->opaque[i].offset + r->opaque[i].len - 1];
        sink += (unsigned)strlen(r->driver_version) + (unsigned)strlen(r->vbios_version);
        (void)sink;
        cx_gpu_verify_result *v = malloc(sizeof *v);
        /* A one-certificate "chain" (the root itself) exercises the verifier's refusal path
         * without a costly signature check per input. */
        const char *root = cx_gpu_default_root_pem();
        if (v)
            (void)cx_gpu_verify(data, size, root, strlen(root), NULL, v, &e);
        free(v);
    }
    free(r);
    return 0;
}
