/* fuzz_base64.c — libFuzzer target for base64 and base64url: decode arbitrary text with
 * both, and check the round trip of every successful decode. */
#include "cx_util.h"

#include <stdlib.h>
#include <string.h>

static void roundtrip(const uint8_t *data, size_t size, int url)
{
    uint8_t out[1024];
    size_t n = 0;
    cx_err rc = url ? cx_base64url_decode((const char *)data, size, out, sizeof out, &n, NULL)
                    : cx_base64_decode((const char *)data, size, out, sizeof out, &n, NULL);
    if (rc != CX_OK)
        return;
    char *enc = url ? cx_base64url_dup(out, n) : cx_base64_dup(out, n);
    if (!enc)
        abort();
    uint8_t again[1024];
    size_t m = 0;
    rc = url ? cx_base64url_decode(enc, strlen(enc), again, sizeof again, &m, NULL)
             : cx_base64_decode(enc, strlen(enc), again, sizeof again, &m, NULL);
    if (rc != CX_OK || m != n || memcmp(out, again, n) != 0)
        abort();
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    roundtrip(data, size, 0);
    roundtrip(data, size, 1);
    return 0;
}
