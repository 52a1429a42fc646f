/* gpu_nvml.h — internal: the NVML entry points CloakX uses, as a function-pointer table,
 * so collection runs against the real driver (dlopen) or a test stand-in alike. */
#ifndef CX_ATTEST_GPU_NVML_H
#define CX_ATTEST_GPU_NVML_H

#include "cx_attest.h"

/* NVML ABI (go-nvml gen/nvml/nvml.h; spec attestation.md §3.1). */
typedef int cx_nvml_ret; /* nvmlReturn_t; 0 = NVML_SUCCESS */
typedef void *cx_nvml_device;
enum { CX_NVML_SUCCESS = 0, CX_NVML_ARCH_HOPPER = 9, CX_NVML_ARCH_BLACKWELL = 10 };

typedef struct cx_nvml_cc_system_state {
    unsigned int environment, cc_feature, devtools_mode;
} cx_nvml_cc_system_state;

typedef struct cx_nvml_cc_report {
    unsigned int is_cec_report_present;
    unsigned int report_size;
    unsigned int cec_report_size;
    unsigned char nonce[32];
    unsigned char report[0x2000];
    unsigned char cec_report[0x1000];
} cx_nvml_cc_report; /* nvmlConfComputeGpuAttestationReport_t, 12332 bytes */

typedef struct cx_nvml_cc_cert {
    unsigned int cert_chain_size;
    unsigned int attestation_cert_chain_size;
    unsigned char cert_chain[0x1000];
    unsigned char attestation_cert_chain[0x1400];
} cx_nvml_cc_cert; /* nvmlConfComputeGpuCertificate_t, 9224 bytes */

typedef struct cx_nvml_memory {
    unsigned long long total, free, used;
} cx_nvml_memory; /* nvmlMemory_t */

typedef struct cx_nvml_utilization {
    unsigned int gpu, memory; /* percent over the last sample period */
} cx_nvml_utilization; /* nvmlUtilization_t */

typedef struct cx_nvml_ops {
    cx_nvml_ret (*init)(void);     /* nvmlInit_v2 */
    cx_nvml_ret (*shutdown)(void); /* nvmlShutdown */
    const char *(*error_string)(cx_nvml_ret);
    cx_nvml_ret (*device_count)(unsigned int *);                    /* nvmlDeviceGetCount_v2 */
    cx_nvml_ret (*device_by_index)(unsigned int, cx_nvml_device *); /* ..HandleByIndex_v2 */
    cx_nvml_ret (*cc_state)(cx_nvml_cc_system_state *); /* nvmlSystemGetConfComputeState */
    cx_nvml_ret (*cc_report)(cx_nvml_device, cx_nvml_cc_report *);
    cx_nvml_ret (*cc_cert)(cx_nvml_device, cx_nvml_cc_cert *);
    cx_nvml_ret (*driver_version)(char *, unsigned int); /* nvmlSystemGetDriverVersion */
    cx_nvml_ret (*vbios_version)(cx_nvml_device, char *, unsigned int);
    cx_nvml_ret (*architecture)(cx_nvml_device, unsigned int *); /* nvmlDeviceGetArchitecture */
    /* optional (status metrics): nvmlDeviceGetMemoryInfo, nvmlDeviceGetUtilizationRates */
    cx_nvml_ret (*memory_info)(cx_nvml_device, cx_nvml_memory *);
    cx_nvml_ret (*utilization)(cx_nvml_device, cx_nvml_utilization *);
} cx_nvml_ops;

/* Initialise through a given table (tests); cx_gpu_nvml_open fills one with dlsym. */
cx_err cx_gpu_nvml_open_ops(const cx_nvml_ops *ops, cx_gpu_nvml **out, cx_error *e);

#endif
