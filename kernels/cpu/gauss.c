/* gauss.c — Box–Muller Gaussians for DP-SGD's noise: a loop the compiler vectorises with the
 * C library's vector log/cos (glibc libmvec) in AVX-512 and AVX2 builds chosen at run time. */
#include "cpu_gauss.h"

#include <math.h>
#include <string.h>

/* 52 random bits as a double in [1, 2): exact, and vectorises without 64-bit conversions */
static inline double one_two(uint64_t x)
{
    uint64_t b = 0x3ff0000000000000ull | (x >> 12);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* u1 in (0, 1] (never 0: log stays finite), θ = 2π·u2 with u2 in [0, 1). sin θ is taken as
 * cos(θ − π/2): a sin beside a cos becomes one sincos call, which has no vector form. */
#define BOX_MULLER_LOOP(lo, hi)                                                               \
    for (size_t i = (lo); i < (hi); i++) {                                                    \
        const double u1 = 2.0 - one_two(ur[i]), u2 = one_two(ua[i]) - 1.0;                    \
        const double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;                        \
        oc[i] = (float)(rad * cos(th));                                                       \
        os[i] = (float)(rad * cos(th - M_PI_2));                                              \
    }

typedef void (*bm_fn)(const uint64_t *restrict ur, const uint64_t *restrict ua,
                      float *restrict oc, float *restrict os, size_t m);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target("avx512f,avx512dq"))) static void
bm_avx512(const uint64_t *restrict ur, const uint64_t *restrict ua, float *restrict oc,
          float *restrict os, size_t m)
{
    BOX_MULLER_LOOP(0, m)
}

__attribute__((target("avx2,fma"))) static void bm_avx2(const uint64_t *restrict ur,
                                                        const uint64_t *restrict ua,
                                                        float *restrict oc, float *restrict os,
                                                        size_t m)
{
    BOX_MULLER_LOOP(0, m)
}
#endif

static void bm_portable(const uint64_t *restrict ur, const uint64_t *restrict ua,
                        float *restrict oc, float *restrict os, size_t m)
{
    BOX_MULLER_LOOP(0, m)
}

static bm_fn pick(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        return bm_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return bm_avx2;
#endif
    return bm_portable;
}

void cx_gauss_box_muller(const uint64_t *u, float *out, size_t n)
{
    const size_t pairs = (n + 1) / 2, full = n - pairs; /* full: pairs with both outputs */
    const uint64_t *ur = u, *ua = u + pairs;
    pick()(ur, ua, out, out + pairs, full);
    if (pairs > full) { /* n odd: the last pair's cosine only */
        const size_t i = pairs - 1;
        const double u1 = 2.0 - one_two(ur[i]), u2 = one_two(ua[i]) - 1.0;
        out[i] = (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
    }
}
