/* nvml.c — GPU evidence collection through NVML, loaded with dlopen at run time so the
 * binary has no link-time dependency on the NVIDIA driver (spec attestation.md §3.1). */
#include "gpu_nvml.h"

#include <dlfcn.h>
#include <string.h>

_Static_assert(sizeof(cx_nvml_cc_report) == 12332, "nvmlConfComputeGpuAttestationReport_t");
_Static_assert(sizeof(cx_nvml_cc_cert) == 9224, "nvmlConfComputeGpuCertificate_t");

#define NVML_LIB "libnvidia-ml.so.1"

struct cx_gpu_nvml {
    cx_nvml_ops ops;
    void *dl; /* NULL for a test table */
};

static const char *nv_err(const cx_gpu_nvml *nv, cx_nvml_ret r)
{
    const char *s = nv->ops.error_string ? nv->ops.error_string(r) : NULL;
    return s ? s : "unknown NVML error";
}

cx_err cx_gpu_nvml_open_ops(const cx_nvml_ops *ops, cx_gpu_nvml **out, cx_error *e)
{
    *out = NULL;
    if (!ops || !ops->init || !ops->shutdown || !ops->device_count || !ops->device_by_index ||
        !ops->cc_state || !ops->cc_report || !ops->cc_cert || !ops->driver_version ||
        !ops->vbios_version || !ops->architecture)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "NVML lacks a confidential-computing entry point (driver too old?)");
    cx_gpu_nvml *nv = calloc(1, sizeof *nv);
    if (!nv)
        return cx_error_set(e, CX_ERR_NOMEM, "nvml: out of memory");
    nv->ops = *ops;
    cx_nvml_ret r = nv->ops.init();
    if (r != CX_NVML_SUCCESS) {
        cx_error_set(e, CX_ERR_DEVICE, "nvmlInit_v2 failed: %s (%d)", nv_err(nv, r), r);
        free(nv);
        return CX_ERR_DEVICE;
    }
    *out = nv;
    return CX_OK;
}

/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
#define SYM(field, name)                                                                           \
    do {                                                                                           \
        *(void **)(&ops.field) = dlsym(dl, name);                                                  \
    } while (0)

cx_err cx_gpu_nvml_open(cx_gpu_nvml **out, cx_error *e)
{
    *out = NULL;
    void *dl = dlopen(NVML_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        return cx_error_set(e, CX_ERR_UNSUPPORTED, NVML_LIB " not found: no NVIDIA driver (%s)",
                            why ? why : "dlopen failed");
    }
    cx_nvml_ops ops;
    memset(&ops, 0, sizeof ops);
    SYM(init, "nvmlInit_v2");
    SYM(shutdown, "nvmlShutdown");
    SYM(error_string, "nvmlErrorString");
    SYM(device_count, "nvmlDeviceGetCount_v2");
    SYM(device_by_index, "nvmlDeviceGetHandleByIndex_v2");
    SYM(cc_state, "nvmlSystemGetConfComputeState");
    SYM(cc_report, "nvmlDeviceGetConfComputeGpuAttestationReport");
    SYM(cc_cert, "nvmlDeviceGetConfComputeGpuCertificate");
    SYM(driver_version, "nvmlSystemGetDriverVersion");
    SYM(vbios_version, "nvmlDeviceGetVbiosVersion");
    SYM(architecture, "nvmlDeviceGetArchitecture");
    SYM(memory_info, "nvmlDeviceGetMemoryInfo");
    SYM(utilization, "nvmlDeviceGetUtilizationRates");
    cx_err rc = cx_gpu_nvml_open_ops(&ops, out, e);
    if (rc != CX_OK) {
        dlclose(dl);
        return rc;
    }
    (*out)->dl = dl;
    return CX_OK;
}

void cx_gpu_nvml_close(cx_gpu_nvml *nv)
{
    if (!nv)
        return;
    (void)nv->ops.shutdown();
    if (nv->dl)
        dlclose(nv->dl);
    free(nv);
}

cx_err cx_gpu_usage_get(cx_gpu_nvml *nv, unsigned index, cx_gpu_usage *out, cx_error *e)
{
    if (!nv || !out)
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_usage_get: NULL argument");
    memset(out, 0, sizeof *out);
    if (!nv->ops.memory_info || !nv->ops.utilization)
        return cx_error_set(e, CX_ERR_UNSUPPORTED, "NVML lacks the memory or utilisation query");
    cx_nvml_device dev = NULL;
    cx_nvml_ret r = nv->ops.device_by_index(index, &dev);
    if (r != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE, "nvmlDeviceGetHandleByIndex_v2(%u) failed: %s",
                            index, nv_err(nv, r));
    cx_nvml_memory m = {0};
    cx_nvml_utilization u = {0};
    if ((r = nv->ops.memory_info(dev, &m)) != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE, "nvmlDeviceGetMemoryInfo failed: %s", nv_err(nv, r));
    if ((r = nv->ops.utilization(dev, &u)) != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE, "nvmlDeviceGetUtilizationRates failed: %s",
                            nv_err(nv, r));
    out->memory_total = m.total;
    out->memory_used = m.used;
    out->utilization_gpu = u.gpu;
    out->utilization_memory = u.memory;
    return CX_OK;
}

cx_err cx_gpu_cc_state_get(cx_gpu_nvml *nv, cx_gpu_cc_state *out, cx_error *e)
{
    if (!nv || !out)
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_cc_state_get: NULL argument");
    memset(out, 0, sizeof *out);
    cx_nvml_ret r = nv->ops.device_count(&out->n_gpus);
    if (r != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE, "nvmlDeviceGetCount_v2 failed: %s", nv_err(nv, r));
    cx_nvml_cc_system_state st = {0};
    r = nv->ops.cc_state(&st);
    if (r != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE,
                            "nvmlSystemGetConfComputeState failed: %s (no confidential-"
                            "computing support on this system?)",
                            nv_err(nv, r));
    out->environment = st.environment;
    out->cc_feature = st.cc_feature;
    out->devtools_mode = st.devtools_mode;
    char drv[sizeof out->driver_version];
    memset(drv, 0, sizeof drv);
    r = nv->ops.driver_version(drv, sizeof drv - 1);
    if (r != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE, "nvmlSystemGetDriverVersion failed: %s",
                            nv_err(nv, r));
    memcpy(out->driver_version, drv, sizeof drv);
    return CX_OK;
}

static cx_err collect_one(cx_gpu_nvml *nv, unsigned idx, const uint8_t *nonce, const char *driver,
                          cx_nvml_cc_report *rep, cx_nvml_cc_cert *cert, cx_gpu_evidence_list *out,
                          cx_error *e)
{
    cx_nvml_device dev = NULL;
    cx_nvml_ret r = nv->ops.device_by_index(idx, &dev);
    if (r != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE, "GPU %u: nvmlDeviceGetHandleByIndex_v2: %s", idx,
                            nv_err(nv, r));
    unsigned arch = 0;
    if ((r = nv->ops.architecture(dev, &arch)) != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE, "GPU %u: nvmlDeviceGetArchitecture: %s", idx,
                            nv_err(nv, r));
    const char *arch_name = arch == CX_NVML_ARCH_HOPPER      ? "HOPPER"
                            : arch == CX_NVML_ARCH_BLACKWELL ? "BLACKWELL"
                                                             : NULL;
    if (!arch_name)
        return cx_error_set(e, CX_ERR_UNSUPPORTED,
                            "GPU %u: architecture %u has no confidential computing (Hopper or "
                            "Blackwell needed)",
                            idx, arch);
    char vbios[32];
    memset(vbios, 0, sizeof vbios);
    if ((r = nv->ops.vbios_version(dev, vbios, sizeof vbios - 1)) != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE, "GPU %u: nvmlDeviceGetVbiosVersion: %s", idx,
                            nv_err(nv, r));
    memset(rep, 0, sizeof *rep);
    memcpy(rep->nonce, nonce, CX_GPU_NONCE_LEN);
    if ((r = nv->ops.cc_report(dev, rep)) != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE,
                            "GPU %u: nvmlDeviceGetConfComputeGpuAttestationReport: %s", idx,
                            nv_err(nv, r));
    if (rep->report_size < 36 || rep->report_size > sizeof rep->report)
        return cx_error_set(e, CX_ERR_DEVICE, "GPU %u: attestation report size %u out of range",
                            idx, rep->report_size);
    /* The requester nonce is bytes 4..35 of the report (§3.2): a cheap sanity check here,
     * the verifier checks it properly. */
    if (memcmp(rep->report + 4, nonce, CX_GPU_NONCE_LEN) != 0)
        return cx_error_set(e, CX_ERR_DEVICE, "GPU %u: the report does not carry our nonce", idx);
    memset(cert, 0, sizeof *cert);
    if ((r = nv->ops.cc_cert(dev, cert)) != CX_NVML_SUCCESS)
        return cx_error_set(e, CX_ERR_DEVICE, "GPU %u: nvmlDeviceGetConfComputeGpuCertificate: %s",
                            idx, nv_err(nv, r));
    if (cert->attestation_cert_chain_size == 0 ||
        cert->attestation_cert_chain_size > sizeof cert->attestation_cert_chain)
        return cx_error_set(e, CX_ERR_DEVICE, "GPU %u: certificate chain size %u out of range", idx,
                            cert->attestation_cert_chain_size);
    /* NVML may count a trailing NUL; the PEM text ends before it. */
    size_t clen = cert->attestation_cert_chain_size;
    while (clen > 0 && cert->attestation_cert_chain[clen - 1] == 0)
        clen--;
    cx_err rc =
        cx_gpu_evidence_add(out, arch_name, nonce, rep->report, rep->report_size,
                            (const char *)cert->attestation_cert_chain, clen, driver, vbios, e);
    if (rc != CX_OK)
        cx_error_prefix(e, "GPU %u: ", idx);
    return rc;
}

cx_err cx_gpu_collect(cx_gpu_nvml *nv, const uint8_t nonce[CX_GPU_NONCE_LEN],
                      cx_gpu_evidence_list *out, cx_error *e)
{
    if (!nv || !nonce || !out)
        return cx_error_set(e, CX_ERR_ARG, "cx_gpu_collect: NULL argument");
    memset(out, 0, sizeof *out);
    cx_gpu_cc_state st;
    if (cx_gpu_cc_state_get(nv, &st, e) != CX_OK)
        return e ? e->code : CX_ERR_DEVICE;
    if (st.n_gpus == 0)
        return cx_error_set(e, CX_ERR_NOTFOUND, "NVML sees no GPU");
    if (st.cc_feature != 1)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "GPU confidential computing is off (ccFeature=%u): no CC mode, so "
                            "there is no evidence to collect",
                            st.cc_feature);
    /* The two NVML structs are 21 KiB: heap, not stack. */
    cx_nvml_cc_report *rep = malloc(sizeof *rep);
    cx_nvml_cc_cert *cert = malloc(sizeof *cert);
    cx_err rc = CX_OK;
    if (!rep || !cert)
        rc = cx_error_set(e, CX_ERR_NOMEM, "collect: out of memory");
    for (unsigned i = 0; rc == CX_OK && i < st.n_gpus; i++)
        rc = collect_one(nv, i, nonce, st.driver_version, rep, cert, out, e);
    free(rep);
    free(cert);
    if (rc != CX_OK)
        cx_gpu_evidence_list_free(out);
    return rc;
}

cx_err cx_gpu_cc_state_query(cx_gpu_cc_state *out, cx_error *e)
{
    cx_gpu_nvml *nv = NULL;
    cx_err rc = cx_gpu_nvml_open(&nv, e);
    if (rc != CX_OK)
        return rc;
    rc = cx_gpu_cc_state_get(nv, out, e);
    cx_gpu_nvml_close(nv);
    return rc;
}
