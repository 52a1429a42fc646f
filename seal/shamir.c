/* shamir.c — Seal's threshold sharing: Shamir over GF(2^8) with the AES polynomial, byte-wise,
 * shares at x = 1..n, recombined by Lagrange interpolation at 0 (SEAL-RS tss.rs). */
#include "cx_seal.h"
#include "seal_internal.h"

#include <string.h>

#include <openssl/rand.h>

/* Carry-less multiply reduced by x^8+x^4+x^3+x+1 without branches or tables on the data, so
 * the time taken says nothing about the secret bytes. */
static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    for (int i = 0; i < 8; i++) {
        r ^= (uint8_t)(-(b & 1) & a);
        uint8_t hi = (uint8_t) - (a >> 7);
        a = (uint8_t)((a << 1) ^ (hi & 0x1b));
        b >>= 1;
    }
    return r;
}

/* a^254 = a^-1 in GF(2^8)* (and 0 for 0). */
static uint8_t gf_inv(uint8_t a)
{
    uint8_t r = 1, p = a;
    for (int bit = 1; bit < 8; bit++) { /* 254 = 0b11111110 */
        p = gf_mul(p, p);
        r = gf_mul(r, p);
    }
    return r;
}

cx_err cx_seal_shamir_split(const uint8_t secret[CX_SEAL_KEY_LEN], uint8_t threshold, size_t n,
                            uint8_t (*shares)[CX_SEAL_KEY_LEN], cx_error *e)
{
    if (threshold == 0 || n < threshold || n > CX_SEAL_MAX_SERVERS)
        return cx_error_set(e, CX_ERR_ARG, "seal: threshold %u of %zu shares", threshold, n);
    uint8_t coeffs[CX_SEAL_MAX_SERVERS];
    cx_err rc = CX_OK;
    for (size_t byte = 0; byte < CX_SEAL_KEY_LEN; byte++) {
        coeffs[0] = secret[byte];
        if (threshold > 1 && RAND_bytes(coeffs + 1, threshold - 1) != 1) {
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "seal: random polynomial");
            break;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t x = (uint8_t)(i + 1), y = 0;
            for (int k = threshold - 1; k >= 0; k--) /* Horner */
                y = (uint8_t)(gf_mul(y, x) ^ coeffs[k]);
            shares[i][byte] = y;
        }
    }
    cx_memwipe(coeffs, sizeof coeffs);
    return rc;
}

void cx_seal_shamir_eval(const uint8_t *xs, const uint8_t (*ys)[CX_SEAL_KEY_LEN], size_t k,
                         uint8_t x, uint8_t out[CX_SEAL_KEY_LEN])
{
    uint8_t acc[CX_SEAL_KEY_LEN] = {0};
    for (size_t j = 0; j < k; j++) {
        /* basis_j(x) = prod_{m != j} (x - x_m) / (x_j - x_m); the indices are public */
        uint8_t num = 1, den = 1;
        for (size_t m = 0; m < k; m++) {
            if (m == j)
                continue;
            num = gf_mul(num, (uint8_t)(x ^ xs[m]));
            den = gf_mul(den, (uint8_t)(xs[j] ^ xs[m]));
        }
        uint8_t l = gf_mul(num, gf_inv(den));
        for (size_t b = 0; b < CX_SEAL_KEY_LEN; b++)
            acc[b] ^= gf_mul(ys[j][b], l);
    }
    memcpy(out, acc, CX_SEAL_KEY_LEN);
    cx_memwipe(acc, sizeof acc);
}

cx_err cx_seal_shamir_combine(const uint8_t *xs, const uint8_t (*ys)[CX_SEAL_KEY_LEN], size_t k,
                              uint8_t secret[CX_SEAL_KEY_LEN], cx_error *e)
{
    if (k == 0 || k > 255)
        return cx_error_set(e, CX_ERR_ARG, "seal: combining %zu shares", k);
    for (size_t j = 0; j < k; j++) {
        if (xs[j] == 0)
            return cx_error_set(e, CX_ERR_FORMAT, "seal: share index 0");
        for (size_t m = 0; m < j; m++)
            if (xs[m] == xs[j])
                return cx_error_set(e, CX_ERR_FORMAT, "seal: share index %u twice", xs[j]);
    }
    cx_seal_shamir_eval(xs, ys, k, 0, secret);
    return CX_OK;
}
