/* device_pipeline.h — what a job's decrypt pipeline takes from the chosen compute device: pinned
 * chunk buffers (decrypted chunks DMA straight to the GPU) and decrypt threads near that GPU. */
#ifndef CX_ENGINE_DEVICE_PIPELINE_H
#define CX_ENGINE_DEVICE_PIPELINE_H

#include "cx_io.h"
#include "cx_kernels.h"

/* Lives as long as the pipeline config that points into it. */
typedef struct cx_device_pipeline {
    cx_buf_allocator pinned;
    char cpulist[1024];
} cx_device_pipeline;

/* For a cuda choice: cfg->allocator = pinned host memory (cx_cuda_pinned_*), and, when hwloc
 * knows the GPU's locality and cfg->cpulist is not already set, cfg->cpulist = the CPUs near
 * it. For a cpu choice (or NULL) cfg is left as it is (cx_secmem buffers, no binding).
 * Never fails: a missing locality is logged and the threads stay unbound. Returns 1 when the
 * allocator was switched to pinned memory. */
int cx_device_pipeline_setup(const cx_device_choice *ch, cx_device_pipeline *dp,
                             cx_pipeline_config *cfg, const cx_logger *lg);

#endif
