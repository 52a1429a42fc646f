/* fuzz_chain_bundle.c — libFuzzer target for the result bundle JSON reader (strict keys,
 * hex/base64 fields, embedded statement, ranks); whatever parses must write back and parse
 * again. */
#include <stdlib.h>
#include <string.h>

#include "cx_attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_result_bundle b;
    if (cx_result_bundle_parse((const char *)data, size, &b, NULL) != CX_OK)
        return 0;
    char *text = NULL;
    if (cx_result_bundle_to_json(&b, &text, NULL) != CX_OK)
        __builtin_trap();
    cx_result_bundle b2;
    if (cx_result_bundle_parse(text, strlen(text), &b2, NULL) != CX_OK ||
        b2.statement_len != b.statement_len || b2.tee_report_len != b.tee_report_len ||
        b2.n_ranks != b.n_ranks || memcmp(b2.statement, b.statement, b.statement_len) != 0 ||
        memcmp(b2.signature, b.signature, sizeof b.signature) != 0)
        __builtin_trap();
    free(text);
    cx_result_bundle_free(&b);
    cx_result_bundle_free(&b2);
    return 0;
}
