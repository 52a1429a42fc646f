/* gemm_avx512.c — packed fp32 GEMM with AVX-512 register-tile micro-kernels (12 × 32 and
 * 12 × 16) for the CPU backend; compiled for AVX-512 and only called after a run-time check. */
#include "cpu_gemm.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CX_GEMM_HAVE_AVX512 1
#endif

#ifdef CX_GEMM_HAVE_AVX512

#define TGT __attribute__((target("avx512f,avx512vl,fma")))
#define INL __attribute__((always_inline)) inline

int cx_gemm_avx512_usable(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

/* Ap: MR-row micro-panels of op(A)[i0 .. i0+mc, p0 .. p0+kc], each kc × MR (k-major), rows
 * past mc zero so the micro-kernel always runs full tiles. */
static void pack_a(int ta, const float *a, int lda, int i0, int mc, int p0, int kc, float *ap)
{
    for (int ir = 0; ir < mc; ir += CX_GEMM_MR) {
        int mr = mc - ir < CX_GEMM_MR ? mc - ir : CX_GEMM_MR;
        float *dst = ap + (size_t)ir * kc;
        if (ta) { /* op(A)[i][p] = a[p][i]: MR contiguous floats per p */
            for (int p = 0; p < kc; p++) {
                const float *src = a + (size_t)(p0 + p) * lda + i0 + ir;
                float *d = dst + (size_t)p * CX_GEMM_MR;
                int r = 0;
                for (; r < mr; r++)
                    d[r] = src[r];
                for (; r < CX_GEMM_MR; r++)
                    d[r] = 0.0f;
            }
        } else { /* op(A)[i][p] = a[i][p]: read each row contiguously, write strided */
            for (int r = 0; r < mr; r++) {
                const float *src = a + (size_t)(i0 + ir + r) * lda + p0;
                for (int p = 0; p < kc; p++)
                    dst[(size_t)p * CX_GEMM_MR + r] = src[p];
            }
            for (int r = mr; r < CX_GEMM_MR; r++)
                for (int p = 0; p < kc; p++)
                    dst[(size_t)p * CX_GEMM_MR + r] = 0.0f;
        }
    }
}

/* Bp: nr-column micro-panels of op(B)[p0 .. p0+kc, j0 .. j0+nc], each kc × nr (k-major),
 * columns past nc zero. Whole 32-wide panels of an untransposed B are copied a row of B at a
 * time in vectors: a 128-byte memcpy per panel row made packing a third of the weight
 * gradients' time (k = 1024, B used by few row tiles); this way it is about a seventh. */
TGT static void pack_b(int tb, const float *b, int ldb, int p0, int kc, int j0, int nc, int nr,
                       float *bp)
{
    int whole = 0;
    if (!tb && nr == 32) {
        whole = nc - nc % 32;
        const float *src = b + (size_t)p0 * ldb + j0;
        for (int p = 0; p < kc; p++, src += ldb) {
            float *d = bp + (size_t)p * 32;
            for (int jr = 0; jr < whole; jr += 32) {
                _mm512_store_ps(d + (size_t)jr * kc, _mm512_loadu_ps(src + jr));
                _mm512_store_ps(d + (size_t)jr * kc + 16, _mm512_loadu_ps(src + jr + 16));
            }
        }
    }
    for (int jr = whole; jr < nc; jr += nr) {
        int w = nc - jr < nr ? nc - jr : nr;
        float *dst = bp + (size_t)jr * kc;
        if (!tb) { /* op(B)[p][j] = b[p][j]: rows of w floats */
            for (int p = 0; p < kc; p++) {
                const float *src = b + (size_t)(p0 + p) * ldb + j0 + jr;
                float *d = dst + (size_t)p * nr;
                memcpy(d, src, (size_t)w * sizeof(float));
                for (int j = w; j < nr; j++)
                    d[j] = 0.0f;
            }
        } else { /* op(B)[p][j] = b[j][p]: read each of B's rows contiguously */
            for (int j = 0; j < w; j++) {
                const float *src = b + (size_t)(j0 + jr + j) * ldb + p0;
                for (int p = 0; p < kc; p++)
                    dst[(size_t)p * nr + j] = src[p];
            }
            for (int j = w; j < nr; j++)
                for (int p = 0; p < kc; p++)
                    dst[(size_t)p * nr + j] = 0.0f;
        }
    }
}

/* An epilogue's operands at one tile (cx_gemm_epilogue): bias at its columns, out at its place. */
typedef struct tile_epi {
    const float *bias;
    float *out;
    int relu;
} tile_epi;

/* C tile (mr × nr valid of MR × NV·16) = alpha·acc + beta·C (first k-block: beta as
 * given, 0 never reads C) or C + alpha·acc (later k-blocks, beta_eff = 1). */
#define STORE_ROW(acc, v, crow, mask, full)                                                        \
    do {                                                                                           \
        __m512 r_ = _mm512_mul_ps(acc, va);                                                        \
        if (beta_eff != 0.0f) {                                                                    \
            __m512 old_ = full ? _mm512_loadu_ps(crow + 16 * (v))                                  \
                               : _mm512_maskz_loadu_ps(mask, crow + 16 * (v));                     \
            r_ = beta_eff == 1.0f ? _mm512_add_ps(r_, old_)                                        \
                                  : _mm512_fmadd_ps(old_, _mm512_set1_ps(beta_eff), r_);           \
        }                                                                                          \
        if (te) { /* the epilogue: z = C + bias, out = relu(z) or z */                             \
            r_ = _mm512_add_ps(r_, full ? _mm512_loadu_ps(te->bias + 16 * (v))                     \
                                        : _mm512_maskz_loadu_ps(mask, te->bias + 16 * (v)));       \
            const __m512 o_ = te->relu ? _mm512_max_ps(r_, _mm512_setzero_ps()) : r_;              \
            if (full)                                                                              \
                _mm512_storeu_ps(orow + 16 * (v), o_);                                             \
            else                                                                                   \
                _mm512_mask_storeu_ps(orow + 16 * (v), mask, o_);                                  \
        }                                                                                          \
        if (full)                                                                                  \
            _mm512_storeu_ps(crow + 16 * (v), r_);                                                 \
        else                                                                                       \
            _mm512_mask_storeu_ps(crow + 16 * (v), mask, r_);                                      \
    } while (0)

/* rows × 32 tile (rows ≤ 12, a constant after inlining): 2·rows accumulators, two B vectors
 * and a broadcast A element per FMA row. Row i of the tile at k step p is a[i·rs + p·ps]: a
 * packed micro-panel (rs 1, ps MR) or op(A) read in place (rs, ps = lda, 1, or 1, lda
 * transposed). Every element of C gets the same FMAs in the same order whatever the rows. */
TGT static INL void ukr_x32(const int rows, int kc, const float *a, size_t rs, size_t ps,
                            const float *bp, float *c, int ldc, int mr, int nr, float alpha,
                            float beta_eff, const tile_epi *te)
{
    __m512 c0[CX_GEMM_MR], c1[CX_GEMM_MR];
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++)
        c0[i] = c1[i] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++) {
        const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
        _mm_prefetch((const char *)(bp + 8 * CX_GEMM_NR), _MM_HINT_T0);
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            const __m512 av = _mm512_set1_ps(a[i * rs]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
        a += ps;
        bp += CX_GEMM_NR;
    }
    const __m512 va = _mm512_set1_ps(alpha);
    const int full = nr == 32;
    const __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xffff : (1u << nr) - 1u);
    const __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xffff : nr > 16 ? (1u << (nr - 16)) - 1u : 0);
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++) {
        if (i < mr) {
            float *crow = c + (size_t)i * ldc;
            float *orow = te ? te->out + (size_t)i * ldc : NULL;
            STORE_ROW(c0[i], 0, crow, m0, full);
            if (nr > 16)
                STORE_ROW(c1[i], 1, crow, m1, full);
        }
    }
}

/* The full tile, and the last tile of a block with 8 or 4 rows or fewer: a 64-row block (the
 * first layer's weight gradient) otherwise ran a sixth tile two-thirds empty. */
TGT static void ukr_12x32(int kc, const float *a, size_t rs, size_t ps, const float *bp, float *c,
                          int ldc, int mr, int nr, float alpha, float beta_eff, const tile_epi *te)
{
    ukr_x32(CX_GEMM_MR, kc, a, rs, ps, bp, c, ldc, mr, nr, alpha, beta_eff, te);
}

TGT static void ukr_8x32(int kc, const float *a, size_t rs, size_t ps, const float *bp, float *c,
                         int ldc, int mr, int nr, float alpha, float beta_eff, const tile_epi *te)
{
    ukr_x32(8, kc, a, rs, ps, bp, c, ldc, mr, nr, alpha, beta_eff, te);
}

TGT static void ukr_4x32(int kc, const float *a, size_t rs, size_t ps, const float *bp, float *c,
                         int ldc, int mr, int nr, float alpha, float beta_eff, const tile_epi *te)
{
    ukr_x32(4, kc, a, rs, ps, bp, c, ldc, mr, nr, alpha, beta_eff, te);
}

/* 12 × 16 tile for narrow outputs (n ≤ 16, e.g. a 10-class logit layer). */
TGT static void ukr_12x16(int kc, const float *ap, const float *bp, float *c, int ldc, int mr,
                          int nr, float alpha, float beta_eff)
{
    __m512 c0[CX_GEMM_MR];
#pragma GCC unroll 12
    for (int i = 0; i < CX_GEMM_MR; i++)
        c0[i] = _mm512_setzero_ps();
    for (int p = 0; p < kc; p++) {
        const __m512 b0 = _mm512_load_ps(bp);
#pragma GCC unroll 12
        for (int i = 0; i < CX_GEMM_MR; i++)
            c0[i] = _mm512_fmadd_ps(_mm512_set1_ps(ap[i]), b0, c0[i]);
        ap += CX_GEMM_MR;
        bp += 16;
    }
    const __m512 va = _mm512_set1_ps(alpha);
    const int full = nr == 16;
    const tile_epi *te = NULL; /* no epilogue here: STORE_ROW's */
    float *orow = NULL;
    const __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xffff : (1u << nr) - 1u);
#pragma GCC unroll 12
    for (int i = 0; i < CX_GEMM_MR; i++)
        if (i < mr)
            STORE_ROW(c0[i], 0, c + (size_t)i * ldc, m0, full);
}

/* The epilogue over C already stored, for the cases that never reach a wide tile. */
static void epilogue_in_place(const cx_gemm_epilogue *ep, float *c, int ldc, int m, int n)
{
    if (!ep)
        return;
    for (int i = 0; i < m; i++) {
        const size_t at = (size_t)(c + (size_t)i * ldc - ep->c0), j0 = at % (size_t)ldc;
        float *z = c + (size_t)i * ldc;
        for (int j = 0; j < n; j++) {
            z[j] += ep->bias[j0 + j];
            ep->out[at + j] = ep->relu && !(z[j] > 0.0f) ? 0.0f : z[j];
        }
    }
}

TGT void cx_gemm_avx512(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc, float *ws,
                        const cx_gemm_epilogue *ep)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0 || alpha == 0.0f) { /* C = beta·C; beta 0 writes zeros without reading C */
        for (int i = 0; i < m; i++) {
            float *ci = c + (size_t)i * ldc;
            for (int j = 0; j < n; j++)
                ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
        }
        epilogue_in_place(ep, c, ldc, m, n);
        return;
    }
    float *ap = ws, *bp = ws + CX_GEMM_WS_A;
    const int nr = n <= 16 ? 16 : CX_GEMM_NR;
    const cx_gemm_epilogue *ep_narrow = nr == 16 ? ep : NULL; /* after the loops, in place */
    if (nr == 16)
        ep = NULL;
    for (int jc = 0; jc < n; jc += CX_GEMM_NC) {
        const int nc = n - jc < CX_GEMM_NC ? n - jc : CX_GEMM_NC;
        for (int pc = 0; pc < k; pc += CX_GEMM_KC) {
            const int kc = k - pc < CX_GEMM_KC ? k - pc : CX_GEMM_KC;
            const float beta_eff = pc == 0 ? beta : 1.0f;
            pack_b(tb, b, ldb, pc, kc, jc, nc, nr, bp);
            for (int ic = 0; ic < m; ic += CX_GEMM_MC) {
                const int mc = m - ic < CX_GEMM_MC ? m - ic : CX_GEMM_MC;
                /* The wide tile reads whole 12-row tiles of op(A) in place (each element is a
                 * broadcast operand, and a tile's rows stay in L1 across the column panels):
                 * copying A cost ~15 % of the step's GEMM time. Only a last partial tile and
                 * the narrow tile's rows are packed. */
                const int full_rows = nr == CX_GEMM_NR ? mc - mc % CX_GEMM_MR : 0;
                if (full_rows < mc)
                    pack_a(ta, a, lda, ic + full_rows, mc - full_rows, pc, kc,
                           ap + (size_t)full_rows * kc);
                for (int jr = 0; jr < nc; jr += nr) {
                    const int w = nc - jr < nr ? nc - jr : nr;
                    const float *bpj = bp + (size_t)jr * kc;
                    for (int ir = 0; ir < mc; ir += CX_GEMM_MR) {
                        const int h = mc - ir < CX_GEMM_MR ? mc - ir : CX_GEMM_MR;
                        float *ct = c + (size_t)(ic + ir) * ldc + jc + jr;
                        /* the epilogue's operands at this tile, after its last k-block */
                        tile_epi te_at = {0};
                        const tile_epi *te = NULL;
                        if (ep && pc + kc == k) {
                            const size_t at = (size_t)(ct - ep->c0);
                            te_at.bias = ep->bias + at % (size_t)ldc;
                            te_at.out = ep->out + at;
                            te_at.relu = ep->relu;
                            te = &te_at;
                        }
                        if (nr == 16)
                            ukr_12x16(kc, ap + (size_t)ir * kc, bpj, ct, ldc, h, w, alpha,
                                      beta_eff);
                        else if (ir < full_rows)
                            ukr_12x32(kc,
                                      ta ? a + (size_t)pc * lda + ic + ir
                                         : a + (size_t)(ic + ir) * lda + pc,
                                      ta ? 1 : (size_t)lda, ta ? (size_t)lda : 1, bpj, ct, ldc, h,
                                      w, alpha, beta_eff, te);
                        else /* the last, partial tile: packed, zero rows past h */
                            (h <= 4   ? ukr_4x32
                             : h <= 8 ? ukr_8x32
                                      : ukr_12x32)(kc, ap + (size_t)ir * kc, 1, CX_GEMM_MR, bpj, ct,
                                                   ldc, h, w, alpha, beta_eff, te);
                    }
                }
            }
        }
    }
    epilogue_in_place(ep_narrow, c, ldc, m, n);
}

#define NARROW_TA_ROWS 16

/* op(B) (k × n, n ≤ 16) as k rows of 16 floats, columns past n zero. */
static void pack_b_narrow(int tb, const float *b, int ldb, int k, int n, float *bp)
{
    for (int p = 0; p < k; p++) {
        float *d = bp + (size_t)p * 16;
        for (int j = 0; j < n; j++)
            d[j] = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
        for (int j = n; j < 16; j++)
            d[j] = 0.0f;
    }
}

/* C row = alpha·acc + beta·C row (beta 0 never reads C), n ≤ 16 columns under mask. */
#define STORE_NARROW(acc, crow)                                                                    \
    do {                                                                                           \
        __m512 r_ = _mm512_mul_ps(acc, va);                                                        \
        if (beta != 0.0f)                                                                          \
            r_ = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, crow), _mm512_set1_ps(beta), r_);     \
        _mm512_mask_storeu_ps(crow, mask, r_);                                                     \
    } while (0)

TGT void cx_gemm_avx512_narrow(int ta, int tb, int m, int n, int k, float alpha, const float *a,
                               int lda, const float *b, int ldb, float beta, float *c, int ldc,
                               float *ws)
{
    if (m <= 0 || n <= 0 || n > 16)
        return;
    if (k > CX_GEMM_NARROW_KMAX || k <= 0 || alpha == 0.0f) { /* the general kernel's cases */
        cx_gemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ws, NULL);
        return;
    }
    pack_b_narrow(tb, b, ldb, k, n, ws);
    const __m512 va = _mm512_set1_ps(alpha);
    const __mmask16 mask = (__mmask16)(n == 16 ? 0xffff : (1u << n) - 1u);
    int i0 = 0;
    /* a tile of rows, each element of op(A) broadcast straight from memory into its FMA: op(A)
     * is read once, in place; the packed kernel copied all of it for a few columns of output.
     * Transposed, a tile's 16 elements of one p are one cache line. */
    if (ta) {
        for (; i0 + NARROW_TA_ROWS <= m; i0 += NARROW_TA_ROWS) {
            __m512 acc[NARROW_TA_ROWS];
#pragma GCC unroll 16
            for (int r = 0; r < NARROW_TA_ROWS; r++)
                acc[r] = _mm512_setzero_ps();
            const float *bp = ws, *ap = a + i0;
            for (int p = 0; p < k; p++, ap += lda, bp += 16) {
                const __m512 bv = _mm512_load_ps(bp);
#pragma GCC unroll 16
                for (int r = 0; r < NARROW_TA_ROWS; r++)
                    acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ap[r]), bv, acc[r]);
            }
#pragma GCC unroll 16
            for (int r = 0; r < NARROW_TA_ROWS; r++)
                STORE_NARROW(acc[r], c + (size_t)(i0 + r) * ldc);
        }
    } else {
        for (; i0 + CX_GEMM_MR <= m; i0 += CX_GEMM_MR) {
            __m512 acc[CX_GEMM_MR];
#pragma GCC unroll 12
            for (int r = 0; r < CX_GEMM_MR; r++)
                acc[r] = _mm512_setzero_ps();
            const float *bp = ws, *ar = a + (size_t)i0 * lda;
            const size_t ld = (size_t)lda;
            for (int p = 0; p < k; p++, bp += 16) {
                const __m512 bv = _mm512_load_ps(bp);
#pragma GCC unroll 12
                for (int r = 0; r < CX_GEMM_MR; r++)
                    acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ar[r * ld + p]), bv, acc[r]);
            }
#pragma GCC unroll 12
            for (int r = 0; r < CX_GEMM_MR; r++)
                STORE_NARROW(acc[r], c + (size_t)(i0 + r) * ldc);
        }
    }
    for (; i0 < m; i0++) { /* the last rows one at a time: the same order over p */
        __m512 acc = _mm512_setzero_ps();
        const float *bp = ws;
        for (int p = 0; p < k; p++, bp += 16) {
            const float av = ta ? a[(size_t)p * lda + i0] : a[(size_t)i0 * lda + p];
            acc = _mm512_fmadd_ps(_mm512_set1_ps(av), _mm512_load_ps(bp), acc);
        }
        STORE_NARROW(acc, c + (size_t)i0 * ldc);
    }
}

#else /* no x86-64 AVX-512 intrinsics with this compiler: never usable */

int cx_gemm_avx512_usable(void)
{
    return 0;
}

void cx_gemm_avx512(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc, float *ws,
                    const cx_gemm_epilogue *ep)
{
    (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b;
    (void)ldb, (void)beta, (void)c, (void)ldc, (void)ws, (void)ep;
}

void cx_gemm_avx512_narrow(int ta, int tb, int m, int n, int k, float alpha, const float *a,
                           int lda, const float *b, int ldb, float beta, float *c, int ldc,
                           float *ws)
{
    cx_gemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ws, NULL);
}

#endif
