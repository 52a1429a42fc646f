/* gpu_reference.h — internal: the reference-measurement set that the operator JSON
 * (gpu_verify.c) and NVIDIA RIM files (gpu_rim.c) both fill and the verifier compares. */
#ifndef CX_ATTEST_GPU_REFERENCE_H
#define CX_ATTEST_GPU_REFERENCE_H

#include "cx_attest.h"

#define CX_GPU_REF_ALT_MAX 8

typedef struct cx_gpu_ref_entry {
    uint8_t index; /* 1-based SPDM block index */
    size_t n_alt;
    uint16_t len[CX_GPU_REF_ALT_MAX];
    uint8_t value[CX_GPU_REF_ALT_MAX][CX_GPU_MEAS_VALUE_MAX];
} cx_gpu_ref_entry;

struct cx_gpu_reference {
    size_t n;
    cx_gpu_ref_entry entries[CX_GPU_MEAS_MAX];
    char driver_version[64]; /* "" when not pinned */
    char vbios_version[32];
    int from_rim; /* values came from RIM XML whose signature was not verified */
};

#endif
