/* cpu_gauss.h — Box–Muller Gaussians from uniform random words, vectorised (internal to
 * kernels/: DP-SGD's noise, kernels/dpsgd.c). */
#ifndef CX_KERNELS_CPU_GAUSS_H
#define CX_KERNELS_CPU_GAUSS_H

#include <stddef.h>
#include <stdint.h>

/* n standard normal floats from 2·⌈n/2⌉ random 64-bit words u: pair i takes u[i] (radius)
 * and u[⌈n/2⌉ + i] (angle) and gives out[i] = r·cos θ and, for i < n − ⌈n/2⌉,
 * out[⌈n/2⌉ + i] = r·sin θ, computed in double and rounded once. */
void cx_gauss_box_muller(const uint64_t *u, float *out, size_t n);

#endif
