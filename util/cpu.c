/* cpu.c — run-time detection of the CPU features the engine's fast paths use
 * (AES-NI, VAES, VPCLMULQDQ, AVX2, AVX-512), checked with CPUID and XGETBV. */
#include "cx_util.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

void cx_cpu_features_detect(cx_cpu_features *f)
{
    memset(f, 0, sizeof *f);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    f->aesni = !!(c & bit_AES);
    f->pclmul = !!(c & bit_PCLMUL);
    int osxsave = !!(c & bit_OSXSAVE);
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    int ymm_ok = (xcr0 & 0x6) == 0x6;
    int zmm_ok = (xcr0 & 0xe6) == 0xe6;
    f->avx = ymm_ok && (c & bit_AVX);
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f->avx2 = f->avx && (b & bit_AVX2);
        f->avx512f = zmm_ok && (b & bit_AVX512F);
        f->avx512bw = zmm_ok && (b & bit_AVX512BW);
        f->sha = !!(b & bit_SHA);
        f->vaes = ymm_ok && (c & (1u << 9));
        f->vpclmulqdq = ymm_ok && (c & (1u << 10));
    }
}
#else
void cx_cpu_features_detect(cx_cpu_features *f)
{
    memset(f, 0, sizeof *f);
}
#endif
