/* fuzz_hex.c — libFuzzer target for the hex codec: decode arbitrary text, and check
 * that whatever decodes re-encodes to the same digits (lower-cased). */
#include "cx_util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[512];
    size_t n = 0;
    if (cx_hex_decode((const char *)data, size, out, sizeof out, &n, NULL) != CX_OK)
        return 0;
    char enc[1025];
    if (cx_hex_encode(out, n, enc, sizeof enc, NULL) != CX_OK)
        abort();
    const char *digits = (const char *)data;
    size_t dlen = size;
    if (dlen >= 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        digits += 2;
        dlen -= 2;
    }
    if (dlen != n * 2)
        abort();
    for (size_t i = 0; i < dlen; i++)
        if (tolower((unsigned char)digits[i]) != enc[i])
            abort();
    return 0;
}
