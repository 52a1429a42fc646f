/* cpu_gemm.h — the CPU backend's own fp32 GEMM kernels (internal to kernels/): packed
 * AVX-512 micro-kernels chosen at run time, with OpenBLAS as the portable fallback. */
#ifndef CX_KERNELS_CPU_GEMM_H
#define CX_KERNELS_CPU_GEMM_H

#include <stddef.h>

/* Blocking of the packed kernel: a KC-deep slice of op(B), NC columns wide, is packed
 * once per thread and swept by MC-row blocks of op(A) (MC × KC stays in L2, one KC × NR
 * micro-panel of B in L1). The summation order over k depends only on KC, never on the
 * thread count, so results are bit-identical for any number of threads. */
#define CX_GEMM_MR 12
#define CX_GEMM_NR 32
#define CX_GEMM_KC 256
#define CX_GEMM_MC 144
#define CX_GEMM_NC 1024

/* Per-thread packing buffers of the packed kernel, in floats. */
#define CX_GEMM_WS_A ((size_t)CX_GEMM_MC * CX_GEMM_KC)
#define CX_GEMM_WS_B ((size_t)CX_GEMM_KC * CX_GEMM_NC)
#define CX_GEMM_WS_FLOATS (CX_GEMM_WS_A + CX_GEMM_WS_B)

/* 1 when this CPU runs the AVX-512 kernel (AVX-512 F, checked at run time). */
int cx_gemm_avx512_usable(void);

/* A dense layer's bias and activation applied to each tile of C in registers, after its last
 * k-block, before it is stored: z = C + bias[column], stored as C, and out = max(z, 0)
 * (relu) or z, stored in out at C's place (same ldc). c0 is C's first element, where a
 * tile's place is counted from (a caller splitting C among threads passes the whole). The
 * arithmetic is bias_act_forward's, so the bits are those of C stored, then that pass. */
typedef struct cx_gemm_epilogue {
    const float *c0, *bias;
    float *out;
    int relu;
} cx_gemm_epilogue;

/* Row-major C (m, n) = alpha · op(A) (m, k) · op(B) (k, n) + beta · C on the calling
 * thread, op(X) = Xᵀ when trans_x; beta == 0 never reads C; then ep (NULL: none) on every
 * tile. ws: CX_GEMM_WS_FLOATS floats, 64-byte aligned. Only call when
 * cx_gemm_avx512_usable(). */
void cx_gemm_avx512(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc, float *ws,
                    const cx_gemm_epilogue *ep);

/* The same for narrow outputs (n ≤ 16, e.g. a 10-class logit layer): op(A) is read in place
 * (12-row tiles, each element broadcast into its FMA), op(B) packed once k × 16 into ws; the
 * sum over k runs in one order (bit-identical for any row split). k past CX_GEMM_NARROW_KMAX
 * goes to cx_gemm_avx512. */
#define CX_GEMM_NARROW_KMAX ((int)(CX_GEMM_WS_FLOATS / 16))
void cx_gemm_avx512_narrow(int trans_a, int trans_b, int m, int n, int k, float alpha,
                           const float *a, int lda, const float *b, int ldb, float beta, float *c,
                           int ldc, float *ws);

#endif
