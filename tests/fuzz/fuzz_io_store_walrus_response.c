/* fuzz_io_store_walrus_response.c — libFuzzer target for what a Walrus publisher or
 * aggregator sends back: store results (by HTTP status) and JSON error bodies. */
#include "store_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const long statuses[] = {200, 201, 400, 404, 413, 429, 500, 503};
    long st = statuses[data[0] % (sizeof statuses / sizeof *statuses)];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char id[CX_STORE_ID_MAX];
    cx_walrus_result kind;
    cx_error e;
    if (cx_walrus_parse_store_response(st, body, len, id, &kind, &e) == CX_OK &&
        !cx_store_id_valid(id))
        __builtin_trap(); /* success must always carry a well-formed id */
    char msg[300];
    cx_walrus_error_text(body, len, msg, sizeof msg);
    for (const char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            __builtin_trap(); /* untrusted text is sanitised before it reaches a message */
    return 0;
}
