/* dpsgd.c — the randomness DP-SGD needs, drawn from a CSPRNG (AES-256-CTR keyed by
 * OpenSSL's RAND_bytes): Gaussian noise for the clipped gradient sum and Poisson sampling. */
#include "cx_kernels.h"
#include "cpu/cpu_gauss.h"

#include <math.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

struct cx_dp_rng {
    EVP_CIPHER_CTX *ctx;
    uint8_t *buf; /* keystream scratch, in secure memory */
    size_t cap;
};

cx_err cx_dp_rng_create(cx_dp_rng **out, cx_error *e)
{
    cx_dp_rng *r = cx_secmem_alloc(sizeof *r, 0, e);
    if (!r)
        return e ? e->code : CX_ERR_NOMEM;
    memset(r, 0, sizeof *r);
    uint8_t key[32], iv[16];
    cx_err rc = CX_OK;
    if (RAND_bytes(key, sizeof key) != 1 || RAND_bytes(iv, sizeof iv) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "dp-sgd: RAND_bytes for the noise key");
        goto out;
    }
    r->ctx = EVP_CIPHER_CTX_new();
    if (!r->ctx || EVP_EncryptInit_ex(r->ctx, EVP_aes_256_ctr(), NULL, key, iv) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "dp-sgd: AES-256-CTR init");
        goto out;
    }
out:
    cx_memwipe(key, sizeof key);
    if (rc != CX_OK) {
        cx_dp_rng_free(r);
        return rc;
    }
    *out = r;
    return CX_OK;
}

void cx_dp_rng_free(cx_dp_rng *r)
{
    if (!r)
        return;
    EVP_CIPHER_CTX_free(r->ctx);
    cx_secmem_free(r->buf);
    cx_secmem_free(r);
}

/* Fill r->buf with `bytes` of keystream (the CTR encryption of zeros). */
static cx_err keystream(cx_dp_rng *r, size_t bytes, cx_error *e)
{
    if (bytes > r->cap) {
        size_t cap = bytes < 65536 ? 65536 : bytes;
        uint8_t *nb = cx_secmem_alloc(cap, 0, e);
        if (!nb)
            return e ? e->code : CX_ERR_NOMEM;
        cx_secmem_free(r->buf);
        r->buf = nb;
        r->cap = cap;
    }
    /* the keystream is the encryption of zeros; buf is all zeros only when freshly
     * allocated, so zero it (cheaper than a second buffer of zeros to read from) */
    memset(r->buf, 0, bytes);
    size_t done = 0;
    while (done < bytes) {
        int chunk = bytes - done > (1u << 30) ? (1 << 30) : (int)(bytes - done);
        int outl = 0;
        if (EVP_EncryptUpdate(r->ctx, r->buf + done, &outl, r->buf + done, chunk) != 1 ||
            outl != chunk)
            return cx_error_openssl(e, CX_ERR_CRYPTO, "dp-sgd: AES-256-CTR keystream");
        done += (size_t)chunk;
    }
    return CX_OK;
}

/* 53-bit uniform in (0, 1]: never 0, so log() is finite */
static inline double u01_open0(uint64_t x) { return ((double)(x >> 11) + 1.0) * 0x1.0p-53; }

cx_err cx_dp_rng_gaussian(cx_dp_rng *r, float *out, size_t n, cx_error *e)
{
    size_t pairs = (n + 1) / 2;
    cx_err rc = keystream(r, pairs * 16, e);
    if (rc != CX_OK)
        return rc;
    /* Box–Muller, vectorised (cpu/gauss.c): one step's noise for the reference MLP took
     * 1.7 ms of CPU in scalar libm calls, a third of the step */
    cx_gauss_box_muller((const uint64_t *)(void *)r->buf, out, n);
    return CX_OK;
}

cx_err cx_dp_rng_laplace(cx_dp_rng *r, double *out, size_t n, cx_error *e)
{
    cx_err rc = keystream(r, n * 8, e);
    if (rc != CX_OK)
        return rc;
    const uint64_t *u = (const uint64_t *)(void *)r->buf;
    for (size_t i = 0; i < n; i++) {
        double mag = -log(u01_open0(u[i])); /* Exp(1) from bits 11..63 */
        out[i] = (u[i] & 1u) ? -mag : mag;  /* the sign from bit 0 */
    }
    return CX_OK;
}

cx_err cx_dp_standardize(const float *x, size_t n, size_t d, const double *lo, const double *hi,
                         double epsilon, cx_dp_rng *r, float *mean, float *std, cx_error *e)
{
    return cx_dp_standardize_comm(x, n, n, d, lo, hi, epsilon, r, NULL, mean, std, e);
}

cx_err cx_dp_standardize_comm(const float *x, size_t n_local, size_t n, size_t d,
                              const double *lo, const double *hi, double epsilon, cx_dp_rng *r,
                              cx_comm *comm, float *mean, float *std, cx_error *e)
{
    if (!(epsilon > 0) || n == 0)
        return cx_error_set(e, CX_ERR_ARG, "dp standardisation: needs epsilon > 0 and rows");
    size_t m = 0;
    for (size_t j = 0; j < d; j++)
        if (!isnan(lo[j]) && !isnan(hi[j])) {
            if (!(hi[j] > lo[j]))
                return cx_error_set(e, CX_ERR_ARG,
                                    "dp standardisation: column %zu: bounds must have lo < hi", j);
            m++;
        }
    const int dist = comm && comm->size > 1;
    /* this rank's sums S1, S2 per column; then [status, mean (d), std (d)] from rank 0 */
    double *sums = calloc(2 * d + 1, sizeof *sums);
    float *out = calloc(2 * d + 1, sizeof *out);
    cx_err rc = sums && out ? CX_OK : cx_error_set(e, CX_ERR_NOMEM, "dp standardisation");
    for (size_t j = 0; rc == CX_OK && j < d; j++) {
        if (isnan(lo[j]) || isnan(hi[j]))
            continue;
        const double c = 0.5 * (lo[j] + hi[j]);
        double s1 = 0.0, s2 = 0.0;
        for (size_t i = 0; i < n_local; i++) {
            double v = x[i * d + j];
            v = isnan(v) ? c : v < lo[j] ? lo[j] : v > hi[j] ? hi[j] : v;
            s1 += v - c;
            s2 += (v - c) * (v - c);
        }
        sums[2 * j] = s1;
        sums[2 * j + 1] = s2;
    }
    if (rc == CX_OK && dist) /* the sums of the whole table, before any noise */
        rc = comm->allreduce_f64(comm, sums, 2 * d, CX_COMM_SUM, e);
    if (rc != CX_OK) {
        free(sums);
        free(out);
        return rc;
    }
    double noise[2];
    for (size_t j = 0; (!dist || comm->rank == 0) && rc == CX_OK && j < d; j++) {
        if (isnan(lo[j]) || isnan(hi[j])) {
            out[1 + j] = 0.0f;
            out[1 + d + j] = 1.0f;
            continue;
        }
        const double c = 0.5 * (lo[j] + hi[j]), rad = 0.5 * (hi[j] - lo[j]);
        double s1 = sums[2 * j], s2 = sums[2 * j + 1];
        /* the sums are data: the noise is drawn after them, and they leave only noised */
        rc = cx_dp_rng_laplace(r, noise, 2, e);
        if (rc != CX_OK)
            break;
        const double share = epsilon / (2.0 * (double)m);
        s1 += noise[0] * rad / share;
        s2 += noise[1] * rad * rad / share;
        double mu = s1 / (double)n, var = s2 / (double)n - mu * mu;
        /* a variance below the noise's own scale (rad² / (share · n)) says nothing: flooring the
         * std there (public quantities only, so free post-processing) keeps a small budget from
         * blowing the inputs up by 1000 / rad, as the absolute floor alone did */
        double mv = c + mu, floor_sd = fmax(rad * 1e-3, rad / sqrt(share * (double)n));
        mv = mv < lo[j] ? lo[j] : mv > hi[j] ? hi[j] : mv;
        double sd = var > floor_sd * floor_sd ? sqrt(var) : floor_sd;
        out[1 + j] = (float)mv;
        out[1 + d + j] = (float)(sd > rad ? rad : sd);
    }
    cx_memwipe(sums, (2 * d + 1) * sizeof *sums);
    free(sums);
    if (dist) { /* rank 0's release, or its failure, to every rank */
        out[0] = rc == CX_OK ? 0.0f : 1.0f;
        cx_error be;
        cx_err brc = comm->bcast(comm, out, (2 * d + 1) * sizeof *out, 0, &be);
        if (brc != CX_OK && rc == CX_OK) {
            rc = brc;
            if (e)
                *e = be;
        }
        if (rc == CX_OK && out[0] != 0.0f)
            rc = cx_error_set(e, CX_ERR_CRYPTO, "dp standardisation: rank 0 failed to draw noise");
    }
    if (rc == CX_OK) {
        memcpy(mean, out + 1, d * sizeof *mean);
        memcpy(std, out + 1 + d, d * sizeof *std);
    }
    free(out);
    return rc;
}

cx_err cx_dp_rng_poisson(cx_dp_rng *r, size_t n, double q, int32_t *idx, size_t *count,
                         cx_error *e)
{
    *count = 0;
    if (n == 0 || q <= 0.0)
        return CX_OK;
    if (q >= 1.0) {
        for (size_t i = 0; i < n; i++)
            idx[i] = (int32_t)i;
        *count = n;
        return CX_OK;
    }
    /* gaps between chosen rows are geometric: skip = floor(log U / log(1 − q)), so the
     * cost is one uniform per chosen row rather than one per row */
    const double lq = log1p(-q);
    size_t pos = 0, k = 0;
    for (;;) {
        const size_t batch = 4096;
        cx_err rc = keystream(r, batch * 8, e);
        if (rc != CX_OK)
            return rc;
        const uint64_t *u = (const uint64_t *)(void *)r->buf;
        for (size_t i = 0; i < batch; i++) {
            double skip = floor(log(u01_open0(u[i])) / lq);
            if (skip >= (double)(n - pos)) {
                *count = k;
                return CX_OK;
            }
            pos += (size_t)skip;
            idx[k++] = (int32_t)pos;
            pos++;
            if (pos >= n) {
                *count = k;
                return CX_OK;
            }
        }
    }
}
