/* encode.c — hex, base64 and unpadded base64url, strict in what they accept.
 * The codecs are libsodium's (constant-time, well tested); this file adds bounds and messages. */
#include "cx_util.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

size_t cx_hex_len(size_t bin_len)
{
    return bin_len * 2;
}

size_t cx_base64_len(size_t bin_len, int urlsafe_nopad)
{
    int variant = urlsafe_nopad ? sodium_base64_VARIANT_URLSAFE_NO_PADDING
                                : sodium_base64_VARIANT_ORIGINAL;
    return sodium_base64_encoded_len(bin_len, variant) - 1;
}

cx_err cx_hex_encode(const uint8_t *bin, size_t len, char *out, size_t cap, cx_error *e)
{
    if (len > (SIZE_MAX - 1) / 2 || cap < len * 2 + 1)
        return cx_error_set(e, CX_ERR_LIMIT, "hex: output buffer of %zu bytes too small", cap);
    sodium_bin2hex(out, cap, bin, len);
    return CX_OK;
}

static cx_err b64_encode(const uint8_t *bin, size_t len, char *out, size_t cap, int variant,
                         cx_error *e)
{
    if (len > SIZE_MAX / 2 || cap < sodium_base64_encoded_len(len, variant))
        return cx_error_set(e, CX_ERR_LIMIT, "base64: output buffer of %zu bytes too small", cap);
    sodium_bin2base64(out, cap, bin, len, variant);
    return CX_OK;
}

cx_err cx_base64_encode(const uint8_t *bin, size_t len, char *out, size_t cap, cx_error *e)
{
    return b64_encode(bin, len, out, cap, sodium_base64_VARIANT_ORIGINAL, e);
}

cx_err cx_base64url_encode(const uint8_t *bin, size_t len, char *out, size_t cap, cx_error *e)
{
    return b64_encode(bin, len, out, cap, sodium_base64_VARIANT_URLSAFE_NO_PADDING, e);
}

cx_err cx_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len,
                     cx_error *e)
{
    if (slen >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        slen -= 2;
    }
    if (slen % 2)
        return cx_error_set(e, CX_ERR_FORMAT, "hex: odd number of digits (%zu)", slen);
    if (slen / 2 > cap)
        return cx_error_set(e, CX_ERR_LIMIT, "hex: %zu bytes do not fit in %zu", slen / 2, cap);
    size_t n = 0;
    const char *end = NULL;
    if (sodium_hex2bin(out, cap, s, slen, NULL, &n, &end) != 0 || n != slen / 2)
        return cx_error_set(e, CX_ERR_FORMAT, "hex: invalid digit at offset %zu",
                            end ? (size_t)(end - s) : n * 2);
    if (out_len)
        *out_len = n;
    return CX_OK;
}

static cx_err b64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len,
                         int variant, const char *name, cx_error *e)
{
    size_t n = 0, pad = 0;
    const char *end = NULL;
    while (pad < 2 && pad < slen && s[slen - 1 - pad] == '=')
        pad++;
    if ((slen - pad) / 4 * 3 + ((slen - pad) % 4 * 3) / 4 > cap)
        return cx_error_set(e, CX_ERR_LIMIT, "%s: decoded data larger than %zu bytes", name, cap);
    if (sodium_base642bin(out, cap, s, slen, NULL, &n, &end, variant) != 0 ||
        (end && end != s + slen)) {
        return cx_error_set(e, CX_ERR_FORMAT, "%s: invalid encoding near offset %zu", name,
                            end ? (size_t)(end - s) : (size_t)0);
    }
    if (out_len)
        *out_len = n;
    return CX_OK;
}

cx_err cx_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len,
                        cx_error *e)
{
    return b64_decode(s, slen, out, cap, out_len, sodium_base64_VARIANT_ORIGINAL, "base64", e);
}

cx_err cx_base64url_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
                           size_t *out_len, cx_error *e)
{
    return b64_decode(s, slen, out, cap, out_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING,
                      "base64url", e);
}

char *cx_hex_dup(const uint8_t *bin, size_t len)
{
    size_t cap = len * 2 + 1;
    char *out = malloc(cap);
    if (out && cx_hex_encode(bin, len, out, cap, NULL) != CX_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static char *b64_dup(const uint8_t *bin, size_t len, int variant)
{
    size_t cap = sodium_base64_encoded_len(len, variant);
    char *out = malloc(cap);
    if (out)
        sodium_bin2base64(out, cap, bin, len, variant);
    return out;
}

char *cx_base64_dup(const uint8_t *bin, size_t len)
{
    return b64_dup(bin, len, sodium_base64_VARIANT_ORIGINAL);
}

char *cx_base64url_dup(const uint8_t *bin, size_t len)
{
    return b64_dup(bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
