/* device_pipeline.c — the decrypt pipeline's side of `--device`: pinned chunk buffers and CPU
 * binding near the chosen GPU (hwloc), so that plaintext goes from AES-GCM to the GPU by DMA. */
#include "device_pipeline.h"

#include <stdio.h>
#include <string.h>

int cx_device_pipeline_setup(const cx_device_choice *ch, cx_device_pipeline *dp,
                             cx_pipeline_config *cfg, const cx_logger *lg)
{
    memset(dp, 0, sizeof *dp);
    if (!ch || strcmp(ch->backend, "cuda") != 0 || ch->device < 0)
        return 0;
    dp->pinned.alloc = cx_cuda_pinned_alloc;
    dp->pinned.free = cx_cuda_pinned_free;
    dp->pinned.ud = NULL;
    cfg->allocator = &dp->pinned;
    if (!cfg->cpulist) {
        cx_error e;
        if (cx_cuda_device_cpulist(ch->device, dp->cpulist, sizeof dp->cpulist, &e) == CX_OK) {
            cfg->cpulist = dp->cpulist;
            cx_log_info(lg, "decrypt threads bound to CPUs %s (near GPU %d)", dp->cpulist,
                        ch->device);
        } else {
            cx_log_warn(lg, "decrypt threads left unbound: %s", e.msg);
        }
    }
    return 1;
}
