/* test_kernels_gemm.c — the CPU backend's GEMM kernels against a double-precision reference
 * at awkward sizes (every transpose, alpha/beta, partial tiles, k past one KC block), beta 0
 * never reading C, bit-identical results for any thread count, and the dense layer's GEMM
 * with its bias and activation in the epilogue giving the bits of the two ops in sequence. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu_gemm.h"
#include "cx_kernels.h"

#define ATOL 1e-5
#define RTOL 1e-4

typedef struct shape {
    int m, n, k;
} shape;

/* 1 × 1 up to tiles that straddle MR/NR/MC/KC/NC edges, narrow (n ≤ 16) outputs too */
static const shape shapes[] = {{1, 1, 1},
                               {13, 33, 17},
                               {12, 32, 256},
                               {25, 65, 257},
                               {145, 47, 3},
                               {30, 17, 513},
                               {7, 1100, 9},
                               {200, 16, 31},
                               {97, 10, 300},
                               {3, 40, 1},
                               {1030, 10, 1024},
                               {25, 1, 7},
                               {5, 3, CX_GEMM_NARROW_KMAX + 5}};

static void fill(cx_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(cx_rng_uniform(r) - 0.5);
}

/* C = alpha·op(A)·op(B) + beta·C in double, the reference every kernel must meet. */
static void gemm_ref(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++)
                s += (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                     (double)(tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
            double old = beta == 0.0f ? 0.0 : (double)beta * c[(size_t)i * ldc + j];
            c[(size_t)i * ldc + j] = (float)(alpha * s + old);
        }
}

typedef void (*gemm_fn)(void *ctx, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                        int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Every shape × transpose × (alpha, beta) against the reference; C's padding columns
 * (ldc > n) must come back untouched; with beta 0 C starts as NaN and must not leak in. */
static void check_all(gemm_fn fn, void *ctx)
{
    cx_rng r;
    cx_rng_seed(&r, 7);
    const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.7f, -0.5f}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int v = 0; v < 3; v++) {
                    const int m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
                    const float alpha = ab[v][0], beta = ab[v][1];
                    const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
                    const size_t na = (size_t)lda * (ta ? k : m), nb = (size_t)ldb * (tb ? n : k);
                    const size_t nc = (size_t)ldc * m;
                    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
                    float *c = malloc(nc * sizeof *c), *ref = malloc(nc * sizeof *ref);
                    assert_non_null(a);
                    assert_non_null(b);
                    assert_non_null(c);
                    assert_non_null(ref);
                    fill(&r, a, na);
                    fill(&r, b, nb);
                    fill(&r, ref, nc);
                    for (size_t i = 0; i < nc; i++)
                        c[i] = (beta == 0.0f && (int)(i % (size_t)ldc) < n) ? NAN : ref[i];
                    gemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc);
                    fn(ctx, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < ldc; j++) {
                            float got = c[(size_t)i * ldc + j], want = ref[(size_t)i * ldc + j];
                            if (j >= n) {
                                if (got != want)
                                    fail_msg("%dx%dx%d ta %d tb %d: padding (%d,%d) changed", m, n,
                                             k, ta, tb, i, j);
                                continue;
                            }
                            if (!(fabs((double)got - want) <= ATOL + fabs((double)want) * RTOL))
                                fail_msg("%dx%dx%d ta %d tb %d alpha %g beta %g: (%d,%d) = %.9g, "
                                         "reference %.9g",
                                         m, n, k, ta, tb, alpha, beta, i, j, got, want);
                        }
                    free(a);
                    free(b);
                    free(c);
                    free(ref);
                }
}

static void run_avx512(void *ctx, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                       int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    cx_gemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ctx, NULL);
}

static void run_avx512_narrow(void *ctx, int ta, int tb, int m, int n, int k, float alpha,
                              const float *a, int lda, const float *b, int ldb, float beta,
                              float *c, int ldc)
{
    if (n <= 16)
        cx_gemm_avx512_narrow(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ctx);
    else
        cx_gemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ctx, NULL);
}

static void run_backend(void *ctx, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                        int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    cx_backend *be = ctx;
    be->sgemm(be, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void test_avx512_kernel_matches_reference(void **state)
{
    (void)state;
    if (!cx_gemm_avx512_usable())
        skip();
    float *ws = aligned_alloc(64, CX_GEMM_WS_FLOATS * sizeof(float));
    assert_non_null(ws);
    check_all(run_avx512, ws);
    check_all(run_avx512_narrow, ws); /* n ≤ 16: op(A) read in place */
    free(ws);
}

/* The backend as the trainer calls it (the kernel chosen for this CPU, split over threads),
 * and the portable fallback forced by CLOAKX_CPU_GEMM=openblas. */
static void test_backend_sgemm_matches_reference(void **state)
{
    (void)state;
    for (int forced = 0; forced < 2; forced++) {
        if (forced)
            assert_int_equal(setenv("CLOAKX_CPU_GEMM", "openblas", 1), 0);
        for (int threads = 1; threads <= 3; threads++) {
            cx_backend *be = NULL;
            cx_error e;
            assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, threads, &be, &e), CX_OK);
            check_all(run_backend, be);
            be->destroy(be);
        }
    }
    assert_int_equal(unsetenv("CLOAKX_CPU_GEMM"), 0);
    assert_int_equal(cx_cpu_gemm_select(),
                     cx_gemm_avx512_usable() ? CX_CPU_GEMM_AVX512 : CX_CPU_GEMM_OPENBLAS);
}

/* The own kernels' results may not depend on how many threads split C (a 10-wide output
 * too: the narrow kernel). */
static void bits_independent_of_threads(int m, int n, int k)
{
    cx_rng r;
    cx_rng_seed(&r, 11);
    float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
    float *c1 = malloc((size_t)m * n * sizeof *c1), *c2 = malloc((size_t)m * n * sizeof *c2);
    assert_true(a && b && c1 && c2);
    fill(&r, a, (size_t)m * k);
    fill(&r, b, (size_t)k * n);
    for (int ta = 0; ta < 2; ta++) {
        float *out[2] = {c1, c2};
        for (int v = 0; v < 2; v++) {
            cx_backend *be = NULL;
            cx_error e;
            assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, v ? 2 : 1, &be, &e), CX_OK);
            /* op(A) is m × k either way: a transposed A is read as its k × m storage */
            be->sgemm(be, ta, 0, m, n, k, 1.0f, a, ta ? m : k, b, n, 0.0f, out[v], n);
            be->destroy(be);
        }
        if (cx_cpu_gemm_select() == CX_CPU_GEMM_AVX512)
            assert_memory_equal(c1, c2, (size_t)m * n * sizeof *c1);
    }
    free(a);
    free(b);
    free(c1);
    free(c2);
}

static void test_sgemm_bits_independent_of_threads(void **state)
{
    (void)state;
    bits_independent_of_threads(1000, 300, 700);
    bits_independent_of_threads(1000, 10, 700);
}

/* dense_forward = sgemm then bias_act_forward, bit for bit: every activation (relu and none
 * in the epilogue, the others by the two ops), 1 and 2 threads, tiles past every edge, k past
 * one KC block, a narrow layer and one small enough for one thread. */
static void test_dense_fused_matches_two_ops(void **state)
{
    (void)state;
    static const shape dense[] = {{1024, 256, 64}, {37, 45, 13}, {200, 33, 300},
                                  {20, 300, 40},   {50, 10, 30}, {3, 40, 7}};
    static const cx_act acts[] = {CX_ACT_NONE, CX_ACT_RELU, CX_ACT_GELU, CX_ACT_TANH,
                                  CX_ACT_SIGMOID};
    for (int threads = 1; threads <= 2; threads++) {
        cx_backend *be = NULL;
        cx_error e;
        assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, threads, &be, &e), CX_OK);
        assert_non_null(be->dense_forward);
        for (size_t si = 0; si < sizeof dense / sizeof dense[0]; si++) {
            const int rows = dense[si].m, n = dense[si].n, k = dense[si].k;
            const size_t nz = (size_t)rows * n, nx = (size_t)rows * k;
            float *x = malloc(nx * sizeof *x), *w = malloc((size_t)k * n * sizeof *w);
            float *bias = malloc((size_t)n * sizeof *bias);
            float *z1 = malloc(nz * sizeof *z1), *z2 = malloc(nz * sizeof *z2);
            float *o1 = malloc(nz * sizeof *o1), *o2 = malloc(nz * sizeof *o2);
            assert_true(x && w && bias && z1 && z2 && o1 && o2);
            cx_rng r;
            cx_rng_seed(&r, 1 + si);
            fill(&r, x, nx);
            fill(&r, w, (size_t)k * n);
            fill(&r, bias, (size_t)n);
            for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ai++) {
                const cx_act act = acts[ai];
                be->dense_forward(be, act, rows, n, k, x, w, bias, z1, o1);
                be->sgemm(be, 0, 0, rows, n, k, 1.0f, x, k, w, n, 0.0f, z2, n);
                be->bias_act_forward(be, act, rows, n, z2, bias, o2);
                if (memcmp(z1, z2, nz * sizeof *z1) || memcmp(o1, o2, nz * sizeof *o1))
                    fail_msg("dense_forward %dx%dx%d act %d, %d threads: not the two ops' bits",
                             rows, n, k, (int)act, threads);
            }
            free(x);
            free(w);
            free(bias);
            free(z1);
            free(z2);
            free(o1);
            free(o2);
        }
        be->destroy(be);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avx512_kernel_matches_reference),
        cmocka_unit_test(test_backend_sgemm_matches_reference),
        cmocka_unit_test(test_sgemm_bits_independent_of_threads),
        cmocka_unit_test(test_dense_fused_matches_two_ops),
    };
    printf("cpu gemm kernel on this machine: %s\n", cx_cpu_gemm_name(cx_cpu_gemm_select()));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
