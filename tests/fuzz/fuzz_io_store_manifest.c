/* fuzz_io_store_manifest.c — libFuzzer target for CloakX's Walrus manifest parser; an
 * accepted manifest must re-encode and parse back to the same parts. */
#include <string.h>

#include "store_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_walrus_manifest m, m2;
    cx_error e;
    if (cx_walrus_manifest_parse(data, size, &m, &e) != CX_OK)
        return 0;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < m.nparts; i++) {
        if (!cx_store_id_valid(m.parts[i].blob_id) || m.parts[i].size == 0 ||
            m.parts[i].size > m.part_size)
            __builtin_trap();
        sum += m.parts[i].size;
    }
    if (sum != m.size)
        __builtin_trap();
    char *txt = NULL;
    size_t len = 0;
    if (cx_walrus_manifest_encode(&m, &txt, &len, &e) == CX_OK) {
        if (cx_walrus_manifest_parse((const uint8_t *)txt, len, &m2, &e) != CX_OK ||
            m2.nparts != m.nparts || m2.size != m.size ||
            memcmp(m2.parts, m.parts, m.nparts * sizeof *m.parts) != 0)
            __builtin_trap();
        cx_walrus_manifest_free(&m2);
        free(txt);
    }
    cx_walrus_manifest_free(&m);
    return 0;
}
