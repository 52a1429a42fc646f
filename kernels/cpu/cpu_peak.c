/* cpu_peak.c — this core's fp32 FMA peak, measured with a register-only FMA loop (the widest
 * vectors the CPU has), so benchmarks can print achieved GFLOP/s as a share of it. */
#include "cx_kernels.h"
#include "cpu_gemm.h"

#include <time.h>

static double thread_cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* 12 independent accumulators cover FMA latency × issue width on current x86 cores. */
#define FMA_BODY(op, r)                                                                       \
    "vxorps %%xmm0,%%xmm0,%%xmm0\n\t"                                                         \
    "vxorps %%xmm1,%%xmm1,%%xmm1\n\t"                                                         \
    "1:\n\t" op " %%" r "1,%%" r "1,%%" r "2\n\t" op " %%" r "1,%%" r "1,%%" r "3\n\t" op      \
    " %%" r "1,%%" r "1,%%" r "4\n\t" op " %%" r "1,%%" r "1,%%" r "5\n\t" op " %%" r          \
    "1,%%" r "1,%%" r "6\n\t" op " %%" r "1,%%" r "1,%%" r "7\n\t" op " %%" r "1,%%" r         \
    "1,%%" r "8\n\t" op " %%" r "1,%%" r "1,%%" r "9\n\t" op " %%" r "1,%%" r "1,%%" r        \
    "10\n\t" op " %%" r "1,%%" r "1,%%" r "11\n\t" op " %%" r "1,%%" r "1,%%" r "12\n\t" op   \
    " %%" r "1,%%" r "1,%%" r "13\n\t"                                                        \
    "dec %0\n\t"                                                                              \
    "jnz 1b\n\t"
#define FMA_CLOBBERS                                                                          \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",  \
        "xmm11", "xmm12", "xmm13", "cc"

__attribute__((target("avx512f"))) static void fma_loop_512(long iters)
{
    __asm__ volatile(FMA_BODY("vfmadd231ps", "zmm") : "+r"(iters) : : FMA_CLOBBERS);
}

__attribute__((target("avx2,fma"))) static void fma_loop_256(long iters)
{
    __asm__ volatile(FMA_BODY("vfmadd231ps", "ymm") : "+r"(iters) : : FMA_CLOBBERS);
}

double cx_cpu_fma_peak_gflops(double seconds, const char **what)
{
    __builtin_cpu_init();
    const int w512 = cx_gemm_avx512_usable();
    if (!w512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        if (what)
            *what = "no AVX2/FMA: not measured";
        return 0.0;
    }
    if (what)
        *what = w512 ? "AVX-512 FMA, 12 chains" : "AVX2 FMA, 12 chains";
    const double lanes = w512 ? 16.0 : 8.0;
    long iters = 1L << 20, done = 0;
    double used = 0.0, best = 0.0;
    /* per CPU second of this thread: the core's rate even when other processes share it */
    while (used < seconds) {
        double t0 = thread_cpu_seconds();
        if (w512)
            fma_loop_512(iters);
        else
            fma_loop_256(iters);
        double dt = thread_cpu_seconds() - t0;
        used += dt;
        done += iters;
        if (dt > 1e-3) {
            double r = (double)iters * 12.0 * lanes * 2.0 / dt / 1e9;
            best = r > best ? r : best;
        }
        if (dt < 0.02)
            iters *= 2;
    }
    (void)done;
    return best;
}
#else
double cx_cpu_fma_peak_gflops(double seconds, const char **what)
{
    (void)seconds;
    if (what)
        *what = "not x86-64: not measured";
    return 0.0;
}
#endif
