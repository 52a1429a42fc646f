/* attestation_gpu_testutil.h — shared by the GPU evidence tests: loading the real nvtrust
 * H100 sample (report + chain) and its expected values from MANIFEST.md. */
#ifndef CX_TESTS_ATTESTATION_GPU_TESTUTIL_H
#define CX_TESTS_ATTESTATION_GPU_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_attest.h"

#define GPU_DIR CX_SHARED_TESTDATA "/attestation/gpu/"
#define SAMPLE_NONCE "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"
/* 2026-01-01T00:00:00Z: inside every certificate's validity */
#define SAMPLE_AT_MS 1767225600000LL

typedef struct sample {
    uint8_t *report;
    size_t report_len;
    uint8_t *chain;
    size_t chain_len;
} sample;

static inline void sample_load(sample *s)
{
    cx_error e;
    assert_int_equal(cx_file_read_all(GPU_DIR "nvtrust_hopper_report.bin", 1 << 20, &s->report,
                                      &s->report_len, &e),
                     CX_OK);
    assert_int_equal(cx_file_read_all(GPU_DIR "nvtrust_hopper_certchain.pem", 1 << 20, &s->chain,
                                      &s->chain_len, &e),
                     CX_OK);
}

static inline void sample_free(sample *s)
{
    free(s->report);
    free(s->chain);
}

static inline void sample_nonce(uint8_t out[CX_GPU_NONCE_LEN])
{
    size_t got = 0;
    assert_int_equal(
        cx_hex_decode(SAMPLE_NONCE, strlen(SAMPLE_NONCE), out, CX_GPU_NONCE_LEN, &got, NULL),
        CX_OK);
    assert_int_equal(got, CX_GPU_NONCE_LEN);
}

#endif
