/* fuzz_engine_job.c — libFuzzer target for what the worker and `cloakx verify` read from
 * others: byte 0 picks a job request (buyer-written, from the store) or a result bundle,
 * which is then verified offline (statement, signature, report, binding, measurement). */
#include "cx_engine.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cx_error e;
    if (data[0] & 1) {
        cx_spec s;
        uint8_t x[32];
        if (cx_job_request_parse(data + 1, size - 1, &s, x, &e) == CX_OK)
            cx_spec_free(&s);
        return 0;
    }
    cx_result_bundle b;
    if (cx_result_bundle_parse((const char *)data + 1, size - 1, &b, &e) != CX_OK)
        return 0;
    cx_job_verify_opts o = {.allow_simulated = (data[0] & 2) != 0};
    json_t *checks = NULL;
    (void)cx_job_verify_bundle(&b, &o, &checks, &e);
    json_decref(checks);
    cx_result_bundle_free(&b);
    return 0;
}
