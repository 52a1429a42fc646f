/* cx_attest.h — attestation: TEE backends (Nitro /dev/nsm, simulated), verification of
 * Nitro documents and NVIDIA H100 evidence, their binding, and the result bundle. */
#ifndef CX_ATTEST_H
#define CX_ATTEST_H

#include "cx_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================== Nitro documents, NSM, binding, TEE backends ===================== */

/* --- AWS Nitro attestation documents (spec attestation.md §1): untagged COSE_Sign1, ES384 --- */
#define CX_NITRO_DOC_MAX 16384u      /* whole COSE_Sign1 document, bytes */
#define CX_NITRO_PAYLOAD_MAX 16384u  /* NSM-DOC §3.1: payload 1..16384 */
#define CX_NITRO_PCR_COUNT 32u       /* PCR indices 0..31 */
#define CX_NITRO_PCR_MAXLEN 64u      /* PCR values are 32, 48 or 64 bytes */
#define CX_NITRO_CERT_MAX 1024u      /* certificate and each cabundle entry: 1..1024 bytes */
#define CX_NITRO_CABUNDLE_MAX 9u     /* leaf + cabundle <= 10 certificates (Sui's cap) */
#define CX_NITRO_FIELD_MAX 1024u     /* public_key: 1..1024 bytes */
#define CX_NITRO_USER_DATA_MAX 512u  /* user_data and nonce: 0..512 bytes */
#define CX_NITRO_MODULE_ID_MAX 256u
#define CX_NITRO_SIG_LEN 96u         /* raw r||s, P-384 */
/* Every document of the simulated TEE has a module_id with this prefix, and its certificates
 * carry CX_NITRO_SIM_SUBJECT_MARK in their subject O= field. */
#define CX_NITRO_SIM_MODULE_PREFIX "cloakx-simulated-"
#define CX_NITRO_SIM_SUBJECT_MARK "CloakX SIMULATED TEE (development only)"

/* A parsed document. Pointers are owned by the struct (cx_nitro_doc_free). Optional byte
 * fields that were absent or CBOR null have has_* = 0. */
typedef struct cx_nitro_doc {
    char *module_id;
    char digest[8];         /* "SHA384" */
    uint64_t timestamp_ms;  /* UTC ms since the epoch, signed by the NSM */
    uint32_t pcr_present;   /* bit i set: PCR i is in the document */
    uint8_t pcr[CX_NITRO_PCR_COUNT][CX_NITRO_PCR_MAXLEN];
    uint8_t pcr_len[CX_NITRO_PCR_COUNT];
    uint8_t *certificate;   /* leaf, DER */
    size_t certificate_len;
    size_t cabundle_count;  /* [0] = root ... [n-1] = issuer of the leaf */
    uint8_t *cabundle[CX_NITRO_CABUNDLE_MAX];
    size_t cabundle_len[CX_NITRO_CABUNDLE_MAX];
    int has_public_key, has_user_data, has_nonce;
    uint8_t *public_key, *user_data, *nonce;
    size_t public_key_len, user_data_len, nonce_len;
    int debug;     /* PCR0 is all zeros: a debug-mode enclave */
    int simulated; /* module_id prefix or certificate marker of the simulated TEE */
    /* the signed parts, kept raw (the Sig_structure uses them as they are) */
    uint8_t *protected_hdr, *payload;
    size_t protected_hdr_len, payload_len;
    uint8_t signature[CX_NITRO_SIG_LEN];
} cx_nitro_doc;

/* Strict parse (definite lengths only, exact key set and types, size limits, no duplicate
 * keys; tag 18 or untagged). Checks no signature. Errors are CX_ERR_FORMAT/LIMIT with a
 * message starting "format: ". */
cx_err cx_nitro_doc_parse(const uint8_t *buf, size_t len, cx_nitro_doc *out, cx_error *e);
void cx_nitro_doc_free(cx_nitro_doc *doc); /* zeroes *doc; safe on a zeroed struct */

typedef struct cx_nitro_pcr_expect {
    unsigned index;
    const uint8_t *value;
    size_t len;
} cx_nitro_pcr_expect;

typedef struct cx_nitro_policy {
    const char *root_pem;    /* trusted root (PEM text); NULL = embedded AWS Nitro root G1 */
    size_t root_pem_len;
    uint64_t at_ms;          /* verification time, ms since the epoch; 0 = now */
    int at_doc_time;         /* verify at the document's own timestamp (offline audit) */
    const cx_nitro_pcr_expect *pcrs; /* PCRs that must match */
    size_t n_pcrs;
    int allow_debug;         /* accept PCR0 all zeros */
    int allow_simulated;     /* accept the simulated TEE's documents (with its dev root) */
} cx_nitro_policy;

/* Which check refused a document. cx_nitro_check_name gives the reason word used in
 * messages and by the CLI: "format", "signature", "chain", "expired", "root", "pcr",
 * "debug", "simulated". */
typedef enum cx_nitro_check {
    CX_NITRO_CHECK_OK = 0,
    CX_NITRO_CHECK_FORMAT,
    CX_NITRO_CHECK_SIGNATURE,
    CX_NITRO_CHECK_CHAIN,
    CX_NITRO_CHECK_EXPIRED,
    CX_NITRO_CHECK_ROOT,
    CX_NITRO_CHECK_PCR,
    CX_NITRO_CHECK_DEBUG,
    CX_NITRO_CHECK_SIMULATED,
} cx_nitro_check;
const char *cx_nitro_check_name(cx_nitro_check c);

/* Parse and verify: root pin, certificate chain at the policy time, COSE ES384 signature,
 * PCR policy, debug / simulated refusal. On success *out holds the document (caller frees).
 * On failure returns CX_ERR_VERIFY (or FORMAT/LIMIT), *failed names the check (may be NULL)
 * and e->msg starts with the reason: "signature: ...", "chain: ...", "expired: ...",
 * "root: ...", "pcr N: ...", "format: ...", "debug: ...", "simulated: ...". */
cx_err cx_nitro_verify(const uint8_t *buf, size_t len, const cx_nitro_policy *policy,
                       cx_nitro_doc *out, cx_nitro_check *failed, cx_error *e);
/* The embedded AWS Nitro Enclaves root G1 (PEM text). */
const char *cx_nitro_aws_root_g1_pem(void);

/* --- /dev/nsm (spec §1.7): CBOR request/response codec and the ioctl behind a seam --- */
#define CX_NSM_REQUEST_MAX 0x1000u
#define CX_NSM_RESPONSE_MAX 0x3000u

/* The device seam: transact sends one request and fills resp (cap *resp_len in, bytes out).
 * cx_nsm_device_open gives the real /dev/nsm; tests supply their own. */
typedef struct cx_nsm_device {
    void *ud;
    cx_err (*transact)(void *ud, const uint8_t *req, size_t req_len, uint8_t *resp,
                       size_t *resp_len, cx_error *e);
    void (*close)(void *ud); /* may be NULL */
} cx_nsm_device;

cx_err cx_nsm_device_open(const char *path /* NULL = /dev/nsm */, cx_nsm_device *out,
                          cx_error *e);
void cx_nsm_device_close(cx_nsm_device *dev);

/* Requests, CBOR-encoded into out (malloc'ed, caller frees). NULL fields encode as null. */
cx_err cx_nsm_request_attestation(const uint8_t *user_data, size_t ud_len, const uint8_t *nonce,
                                  size_t nonce_len, const uint8_t *public_key, size_t pk_len,
                                  uint8_t **out, size_t *out_len, cx_error *e);
cx_err cx_nsm_request_describe_pcr(uint16_t index, uint8_t **out, size_t *out_len, cx_error *e);
cx_err cx_nsm_request_get_random(uint8_t **out, size_t *out_len, cx_error *e);

typedef enum cx_nsm_response_kind {
    CX_NSM_RESPONSE_ATTESTATION = 1,
    CX_NSM_RESPONSE_DESCRIBE_PCR,
    CX_NSM_RESPONSE_GET_RANDOM,
    CX_NSM_RESPONSE_ERROR,
} cx_nsm_response_kind;

typedef struct cx_nsm_response {
    cx_nsm_response_kind kind;
    uint8_t *data;   /* document / PCR data / random bytes (malloc'ed) */
    size_t data_len;
    int lock;        /* DescribePCR */
    char error[32];  /* Error: "InvalidArgument", ... */
} cx_nsm_response;

/* Decode a response (strict, definite lengths). An in-band {"Error": ...} is decoded as
 * kind ERROR with CX_OK; the helpers below turn it into CX_ERR_DEVICE. */
cx_err cx_nsm_response_decode(const uint8_t *buf, size_t len, cx_nsm_response *out, cx_error *e);
void cx_nsm_response_free(cx_nsm_response *r);

cx_err cx_nsm_attest(cx_nsm_device *dev, const uint8_t *user_data, size_t ud_len,
                     const uint8_t *nonce, size_t nonce_len, const uint8_t *public_key,
                     size_t pk_len, uint8_t **doc, size_t *doc_len, cx_error *e);
cx_err cx_nsm_describe_pcr(cx_nsm_device *dev, uint16_t index, int *lock, uint8_t *data,
                           size_t cap, size_t *len, cx_error *e);
cx_err cx_nsm_get_random(cx_nsm_device *dev, uint8_t *buf, size_t len, cx_error *e);

/* --- cx_tee: the enclave (keys, attestation, signing); backends "nitro" and "sim" --- */
#define CX_TEE_ED25519_PK_LEN 32u
#define CX_TEE_ED25519_SIG_LEN 64u
#define CX_TEE_X25519_LEN 32u

typedef struct cx_tee cx_tee;

/* Simulated TEE. Its dev CA (ES384 root key + certificate) is made once in devca_dir
 * (cx_tee_sim_devca_create: "install time"); open loads it. state_dir (optional) keeps the
 * enclave keys across restarts in a 0600 file named SIMULATED-enclave-keys.json. */
#define CX_TEE_SIM_ROOT_CERT "SIMULATED-devroot.pem"
#define CX_TEE_SIM_ROOT_KEY "SIMULATED-devroot.key"
#define CX_TEE_SIM_STATE_FILE "SIMULATED-enclave-keys.json"
cx_err cx_tee_sim_devca_create(const char *devca_dir, cx_error *e); /* no-op if present */

typedef struct cx_tee_sim_config {
    const char *devca_dir;  /* required */
    const char *state_dir;  /* NULL: keys live only in this process */
    const char *exe_path;   /* measured as PCR0 (and PCR2); NULL = /proc/self/exe */
    int debug_mode;         /* PCR0..2 all zeros, as a real debug-mode enclave reports */
    const cx_logger *log;
} cx_tee_sim_config;
cx_err cx_tee_sim_open(const cx_tee_sim_config *cfg, cx_tee **out, cx_error *e);

/* Nitro backend: keys made in enclave memory, documents from the NSM through dev
 * (taken over: closed by cx_tee_close). */
cx_err cx_tee_nitro_open(cx_nsm_device *dev, const cx_logger *log, cx_tee **out, cx_error *e);

const char *cx_tee_backend_name(const cx_tee *tee); /* "nitro" | "sim" */
int cx_tee_is_simulated(const cx_tee *tee);
void cx_tee_public_keys(const cx_tee *tee, uint8_t ed25519_pk[CX_TEE_ED25519_PK_LEN],
                        uint8_t x25519_pk[CX_TEE_X25519_LEN]);
/* A Nitro-format document with public_key = the Ed25519 public key (raw 32 bytes). */
cx_err cx_tee_attest(cx_tee *tee, const uint8_t *user_data, size_t ud_len, const uint8_t *nonce,
                     size_t nonce_len, uint8_t **doc, size_t *doc_len, cx_error *e);
cx_err cx_tee_sign(cx_tee *tee, const uint8_t *msg, size_t len,
                   uint8_t sig[CX_TEE_ED25519_SIG_LEN], cx_error *e);
/* The X25519 secret (32 bytes, in cx_secmem, valid until close), for opening sealed blobs. */
const uint8_t *cx_tee_x25519_secret(const cx_tee *tee);
void cx_tee_close(cx_tee *tee);
/* The attested key is the Ed25519 one; the X25519 receiving key is bound to it by an Ed25519
 * signature over "cloakx/enclave-x25519/v1" 0x00 || x25519_pk, which registration checks
 * before anyone seals data to that key. */
cx_err cx_tee_x25519_endorse(cx_tee *tee, uint8_t sig[CX_TEE_ED25519_SIG_LEN], cx_error *e);
cx_err cx_tee_x25519_endorsement_verify(const uint8_t ed25519_pk[CX_TEE_ED25519_PK_LEN],
                                        const uint8_t x25519_pk[CX_TEE_X25519_LEN],
                                        const uint8_t sig[CX_TEE_ED25519_SIG_LEN], cx_error *e);

/* --- binding GPU evidence to the CPU TEE report (spec §4.2, exact) --- */
#define CX_BIND_ID_LEN 32u
#define CX_BIND_GPU_NONCE_LEN 32u
#define CX_BIND_GPU_DIGEST_LEN 48u
#define CX_BIND_USER_DATA_LEN 149u
#define CX_BIND_MAGIC "CXAT"
#define CX_BIND_VERSION 1u

/* gpu_nonce = SHA-256("cloakx/gpu-nonce/v1" 0x00 || job_id || pk_enc || challenge) */
cx_err cx_bind_gpu_nonce(const uint8_t job_id[32], const uint8_t pk_enc[32],
                         const uint8_t challenge[32], uint8_t out[32], cx_error *e);

typedef struct cx_bind_user_data {
    uint8_t job_id[32], challenge[32], gpu_nonce[32], gpu_digest[48];
} cx_bind_user_data;
/* "CXAT" || 0x01 || job_id || challenge || gpu_nonce || gpu_digest (149 bytes). */
void cx_bind_user_data_encode(const cx_bind_user_data *ud, uint8_t out[CX_BIND_USER_DATA_LEN]);
cx_err cx_bind_user_data_decode(const uint8_t *buf, size_t len, cx_bind_user_data *out,
                                cx_error *e);

/* Both directions, on an already verified document: its user_data names this job and
 * challenge; gpu_nonce recomputes from (job_id, doc public_key, challenge); every GPU
 * report's nonce equals gpu_nonce; gpu_digest (computed by the caller over the supplied
 * evidence, F2's digest function) equals user_data's. Fails with CX_ERR_VERIFY and a
 * message "binding: <what>: ..." (public_key, user_data, job_id, challenge, gpu_nonce,
 * gpu report N nonce, gpu_digest). report_nonces may be NULL when n_reports is 0. */
cx_err cx_bind_verify(const cx_nitro_doc *doc, const uint8_t job_id[32],
                      const uint8_t challenge[32], const uint8_t gpu_digest[48],
                      const uint8_t (*report_nonces)[32], size_t n_reports, cx_error *e);

/* ===================== NVIDIA GPU evidence ===================== */

/* H100 confidential-computing evidence (spec attestation.md §3): an SPDM 1.1
 * GET_MEASUREMENTS request || MEASUREMENTS response signed by the GPU, its 5-certificate
 * chain to the NVIDIA Device Identity CA, and the de-facto evidence JSON (§3.7). */
#define CX_GPU_NONCE_LEN 32
#define CX_GPU_SIG_LEN 96        /* ECDSA P-384 raw r || s */
#define CX_GPU_FWID_LEN 48
#define CX_GPU_DIGEST_LEN 48     /* SHA-384, §4.2 gpu_digest */
#define CX_GPU_MEAS_VALUE_MAX 64 /* H100 uses 48 (SHA-384) */
#define CX_GPU_MEAS_MAX 255      /* SPDM NumberOfBlocks is one byte */
#define CX_GPU_OPAQUE_FIELDS_MAX 64
#define CX_GPU_REPORT_MAX 8192   /* NVML attestationReport buffer */
#define CX_GPU_CHAIN_MAX 5120    /* NVML attestationCertChain buffer */
#define CX_GPU_CHAIN_CERTS 5     /* Hopper/Blackwell chains: exactly 5 certificates */

/* Opaque-data TLV types the verifier uses (LGV OpaqueData.OPAQUE_DATA_TYPES). */
enum {
    CX_GPU_OPAQUE_DRIVER_VERSION = 3,
    CX_GPU_OPAQUE_VBIOS_VERSION = 6,
    CX_GPU_OPAQUE_NVDEC0_STATUS = 11,
    CX_GPU_OPAQUE_CHIP_SKU = 15,
    CX_GPU_OPAQUE_PROJECT = 17,
    CX_GPU_OPAQUE_PROJECT_SKU = 18,
    CX_GPU_OPAQUE_FWID = 20,
};

typedef struct cx_gpu_measurement {
    uint8_t index;      /* 1-based block index */
    uint8_t spec;       /* MeasurementSpecification, 0x01 = DMTF */
    uint8_t value_type; /* DMTFSpecMeasurementValueType */
    uint16_t value_len;
    uint8_t value[CX_GPU_MEAS_VALUE_MAX];
} cx_gpu_measurement;

typedef struct cx_gpu_opaque_field {
    uint16_t type;
    uint16_t len;
    size_t offset; /* of the value, in the report bytes */
} cx_gpu_opaque_field;

/* Every field of the report; offsets point into the caller's report bytes. */
typedef struct cx_gpu_report {
    size_t total_len, signed_len;
    uint8_t req_version, req_code, req_param1, req_param2;
    uint8_t nonce[CX_GPU_NONCE_LEN]; /* requester nonce = the 32 bytes given to NVML */
    uint8_t slot_id;
    uint8_t resp_version, resp_code, resp_param1, resp_param2;
    uint8_t num_blocks;
    uint32_t record_len;
    size_t n_meas;
    cx_gpu_measurement meas[CX_GPU_MEAS_MAX];
    uint8_t resp_nonce[CX_GPU_NONCE_LEN];
    uint16_t opaque_len;
    size_t opaque_offset;
    size_t n_opaque;
    cx_gpu_opaque_field opaque[CX_GPU_OPAQUE_FIELDS_MAX];
    char driver_version[64]; /* "" when absent */
    char vbios_version[32];  /* "96.00.9f.00.01"; "" when absent */
    char project[32], project_sku[32], chip_sku[32];
    int has_fwid;
    uint8_t fwid[CX_GPU_FWID_LEN];
    uint8_t signature[CX_GPU_SIG_LEN];
} cx_gpu_report;

/* Parse with bounds checks on every field; CX_ERR_FORMAT names the field. */
cx_err cx_gpu_report_parse(const uint8_t *buf, size_t len, cx_gpu_report *out, cx_error *e);

/* Operator-pinned reference measurements (JSON, documented in attestation/GPU_REFERENCE.md):
 * {"format": "cloakx-gpu-reference/v1", "measurements": {"<index 1..255>": "<hex>" |
 *  ["<hex>", ...]}, "driver_version"?: "...", "vbios_version"?: "..."}. */
typedef struct cx_gpu_reference cx_gpu_reference;
cx_err cx_gpu_reference_load(const char *path, cx_gpu_reference **out, cx_error *e);
cx_err cx_gpu_reference_parse(const char *text, size_t len, cx_gpu_reference **out, cx_error *e);
size_t cx_gpu_reference_count(const cx_gpu_reference *ref);
/* NVIDIA driver / VBIOS RIM (SWID tag XML): active Resource index k-1 = report block k, its
 * Hash0..N-1 the alternatives, Meta@colloquialVersion the expected version. Adds to *inout
 * (allocating it when NULL); driver and VBIOS indices must be disjoint. The RIM's XMLDSig
 * signature is NOT verified: trust the file as much as an operator-pinned JSON. */
typedef enum cx_gpu_rim_kind { CX_GPU_RIM_DRIVER = 1, CX_GPU_RIM_VBIOS = 2 } cx_gpu_rim_kind;
cx_err cx_gpu_reference_parse_rim(const char *text, size_t len, cx_gpu_rim_kind kind,
                                  cx_gpu_reference **inout, cx_error *e);
cx_err cx_gpu_reference_load_rim(const char *path, cx_gpu_rim_kind kind,
                                 cx_gpu_reference **inout, cx_error *e);
int cx_gpu_reference_from_rim(const cx_gpu_reference *ref); /* 1: holds RIM values */
void cx_gpu_reference_free(cx_gpu_reference *ref);

typedef enum cx_gpu_check {
    CX_GPU_CHECK_NOT_CHECKED = 0,
    CX_GPU_CHECK_PASSED,
    CX_GPU_CHECK_FAILED,
} cx_gpu_check;
const char *cx_gpu_check_name(cx_gpu_check c); /* "not_checked", "passed", "failed" */

typedef struct cx_gpu_verify_opts {
    const uint8_t *expected_nonce; /* CX_GPU_NONCE_LEN bytes; NULL: nonce not checked */
    const char *root_pem;          /* trust anchor PEM text; NULL: the embedded NVIDIA root */
    size_t root_pem_len;
    int64_t at_unix_ms;            /* validity time; 0: now */
    const cx_gpu_reference *reference; /* NULL: measurements not compared */
    const char *expected_driver;   /* e.g. from NVML or the evidence JSON; NULL: not compared */
    const char *expected_vbios;
} cx_gpu_verify_opts;

typedef struct cx_gpu_verify_result {
    cx_gpu_report report;
    cx_gpu_check format, nonce, signature, chain, fwid, driver, vbios, measurements;
    cx_gpu_check ocsp, rim; /* online steps; never PASSED by the offline verifier */
    size_t meas_compared;
    char failed[32];      /* first failed check: "nonce", "signature", "chain", "expired", ... */
    char leaf_subject[256];
} cx_gpu_verify_result;

/* The offline subset of nvtrust's verifier (§3.5 steps 3, 5, 8): parse, nonce, chain to the
 * pinned root at the given time (5 certificates, own validity check so years past 9999 work),
 * signature with the leaf key, FWID vs the leaf's 2.23.133.5.4.1 extension, versions and
 * reference measurements. Runs every check it can; CX_ERR_VERIFY (or CX_ERR_FORMAT) names the
 * first failure, and *out says which checks passed. out is large: allocate it. */
cx_err cx_gpu_verify(const uint8_t *report, size_t report_len, const char *chain_pem,
                     size_t chain_len, const cx_gpu_verify_opts *opts,
                     cx_gpu_verify_result *out, cx_error *e);
/* The embedded NVIDIA Device Identity CA (PEM, DER SHA-256 102bf659…7b48). */
const char *cx_gpu_default_root_pem(void);

/* Optional online step (§3.5 step 4): OCSP for chain certificates 1..3, each POSTed with a
 * fresh 32-byte nonce to its AIA responder (ocsp.ndis.nvidia.com) or to url_override; the
 * response must be signed by an authorised responder chaining to the root (NULL: embedded),
 * echo the nonce, be current and say GOOD. *out: PASSED, FAILED (CX_ERR_VERIFY), or
 * NOT_CHECKED when the network failed (CX_ERR_NET). */
cx_err cx_gpu_ocsp_check(const char *chain_pem, size_t chain_len, const char *root_pem,
                         size_t root_len, const char *url_override, long timeout_s,
                         cx_gpu_check *out, cx_error *e);

/* Evidence JSON (§3.7): [{"arch", "nonce", "evidence": b64(report), "certificate":
 * b64(PEM chain) [, "driver_version", "vbios_version", "version"]}, ...]. */
typedef struct cx_gpu_evidence {
    char arch[16];                  /* "HOPPER" */
    uint8_t nonce[CX_GPU_NONCE_LEN];
    uint8_t *report;                /* malloc'ed */
    size_t report_len;
    char *cert_chain;               /* PEM text, malloc'ed, NUL-terminated */
    size_t cert_chain_len;
    char driver_version[64];        /* "" when absent */
    char vbios_version[32];
} cx_gpu_evidence;

typedef struct cx_gpu_evidence_list {
    cx_gpu_evidence *items;
    size_t n;
} cx_gpu_evidence_list;

cx_err cx_gpu_evidence_parse(const char *text, size_t len, cx_gpu_evidence_list *out,
                             cx_error *e);
cx_err cx_gpu_evidence_load(const char *path, cx_gpu_evidence_list *out, cx_error *e);
/* JSON text (caller frees) / atomic file in the same format NVIDIA's tools read. */
cx_err cx_gpu_evidence_to_json(const cx_gpu_evidence_list *l, char **out, cx_error *e);
cx_err cx_gpu_evidence_save(const char *path, const cx_gpu_evidence_list *l, cx_error *e);
/* Append a copy of (report, chain) with its nonce and versions. */
cx_err cx_gpu_evidence_add(cx_gpu_evidence_list *l, const char *arch, const uint8_t *nonce,
                           const uint8_t *report, size_t report_len, const char *chain,
                           size_t chain_len, const char *driver, const char *vbios,
                           cx_error *e);
void cx_gpu_evidence_list_free(cx_gpu_evidence_list *l);

/* §4.2: gpu_digest = SHA-384("cloakx/gpu-evidence/v1" 0x00 || u32le(n) || for i:
 * u32le(len(report_i)) || report_i || u32le(len(chain_i)) || chain_i), GPUs in NVML order. */
cx_err cx_gpu_evidence_digest(const cx_gpu_evidence *items, size_t n,
                              uint8_t out[CX_GPU_DIGEST_LEN], cx_error *e);

/* Collection through NVML, loaded with dlopen("libnvidia-ml.so.1") at run time. */
typedef struct cx_gpu_cc_state {
    unsigned n_gpus;
    unsigned environment;   /* 0 unavailable, 1 simulated, 2 production */
    unsigned cc_feature;    /* 1: confidential computing enabled */
    unsigned devtools_mode; /* 1: DevTools mode (not confidential) */
    char driver_version[64];
} cx_gpu_cc_state;

typedef struct cx_gpu_nvml cx_gpu_nvml; /* loaded NVML (or a test stand-in), initialised */
/* CX_ERR_UNSUPPORTED "libnvidia-ml.so.1 not found: no NVIDIA driver" without a driver. */
cx_err cx_gpu_nvml_open(cx_gpu_nvml **out, cx_error *e);
void cx_gpu_nvml_close(cx_gpu_nvml *nv);
/* The GPU CC state (for the CUDA backend's pre-check). */
cx_err cx_gpu_cc_state_get(cx_gpu_nvml *nv, cx_gpu_cc_state *out, cx_error *e);
/* Memory and utilisation of GPU index (NVML order), for monitoring. CX_ERR_UNSUPPORTED
 * when the driver lacks the queries. */
typedef struct cx_gpu_usage {
    unsigned long long memory_total, memory_used; /* bytes */
    unsigned utilization_gpu, utilization_memory; /* percent */
} cx_gpu_usage;
cx_err cx_gpu_usage_get(cx_gpu_nvml *nv, unsigned index, cx_gpu_usage *out, cx_error *e);
/* One call for callers without an NVML handle (the CUDA backend's pre-check): open, query,
 * close. CX_ERR_UNSUPPORTED without a driver. */
cx_err cx_gpu_cc_state_query(cx_gpu_cc_state *out, cx_error *e);
/* One evidence entry per GPU in NVML index order, all with the given nonce; refuses
 * (CX_ERR_VERIFY) when CC mode is off. */
cx_err cx_gpu_collect(cx_gpu_nvml *nv, const uint8_t nonce[CX_GPU_NONCE_LEN],
                      cx_gpu_evidence_list *out, cx_error *e);

/* The result statement, its codec, the intent message and Ed25519 live in proto/ (cx_proto.h,
 * included above): the ledger decodes the same bytes with the same decoder. */

/* The result bundle: a JSON file (format in chain/RULES.md §5) that lets anyone re-verify a
 * result offline. Strict parsing: exact key set, exact lengths, statement must decode. */
/* The statement may list 100000 contributors and rejected contributions in all (RULES.md §4:
 * at most 98 bytes each, 9.8 MB), so its hex form alone can reach 20 MiB; the reports are
 * base64 of at most 1 MiB each. A multi-rank job adds its ranks' attestations (issue 17): each
 * rank's document and GPU evidence at most 1 MiB like the enclave's own, all ranks together at
 * most CX_BUNDLE_RANKS_MAX decoded bytes (a Nitro document is ~4.5 KiB, one H100's evidence
 * ~12 KiB: 1024 ranks of 2 GPUs fit, or 320 of 8), whose base64 (42.7 MiB) and per-rank JSON
 * (< 1 MiB for 1024 ranks) the file cap adds to the 24 MiB a one-rank bundle may take. */
enum {
    CX_BUNDLE_STATEMENT_MAX = 10 << 20,
    CX_BUNDLE_REPORT_MAX = 1 << 20,
    CX_BUNDLE_MAX_RANKS = 1024,
    CX_BUNDLE_RANKS_MAX = 32 << 20,
    CX_BUNDLE_MAX_BYTES = 72 << 20
};
/* One rank of a multi-rank job (each rank its own TEE): its attestation as the bundle carries
 * it. Rank 0 is the registered enclave, which signs the statement. */
typedef struct cx_bundle_rank {
    uint32_t rank;      /* 0..n-1, the entry's index */
    uint8_t x25519[32]; /* the rank's X25519 public key */
    uint8_t *document;  /* COSE_Sign1 attestation document, 1..CX_BUNDLE_REPORT_MAX bytes */
    size_t document_len;
    uint8_t *gpu_evidence; /* optional GPU evidence bytes, <= CX_BUNDLE_REPORT_MAX; NULL when
                            * absent */
    size_t gpu_evidence_len;
} cx_bundle_rank;

/* The statement's ranks_hash (RULES.md §4, §5) of a list of n ranks (1..CX_BUNDLE_MAX_RANKS,
 * ranks 0..n-1 in order, each with a document): SHA-256("cloakx/ranks/v1" || u32le n || for
 * each rank in order: u32le rank || x25519 (32) || SHA-256(document) || SHA-256(gpu_evidence),
 * or 32 zero bytes without GPU evidence). CX_ERR_ARG for a list outside those rules. */
cx_err cx_bundle_ranks_hash(const cx_bundle_rank *r, size_t n, uint8_t out[32], cx_error *e);

typedef struct cx_result_bundle {
    uint8_t *statement; /* signing bytes (intent message) */
    size_t statement_len;
    uint8_t signature[CX_STATEMENT_ED25519_SIG_LEN];
    uint8_t public_key[CX_STATEMENT_ED25519_PK_LEN];
    int has_enclave_id;
    uint8_t enclave_id[CX_STATEMENT_ID_LEN]; /* ledger object id of the enclave (optional) */
    uint8_t *tee_report; /* attestation document (COSE_Sign1 bytes) */
    size_t tee_report_len;
    uint8_t *gpu_evidence; /* optional GPU evidence bytes; NULL when absent */
    size_t gpu_evidence_len;
    /* every rank's attestation of a multi-rank job (1..CX_BUNDLE_MAX_RANKS, in rank order);
     * NULL / 0 for a one-rank job (the JSON has no "ranks") */
    cx_bundle_rank *ranks;
    size_t n_ranks;
} cx_result_bundle;

/* The ranks, when there are any, are checked as the parser takes them (CX_ERR_ARG for their
 * shape, CX_ERR_LIMIT for their sizes); the other fields are written as given. */
cx_err cx_result_bundle_to_json(const cx_result_bundle *b, char **out, cx_error *e);
cx_err cx_result_bundle_parse(const char *text, size_t len, cx_result_bundle *out, cx_error *e);
cx_err cx_result_bundle_write(const cx_result_bundle *b, const char *path, cx_error *e);
cx_err cx_result_bundle_read(const char *path, cx_result_bundle *out, cx_error *e);
/* Frees every buffer the bundle points to (ranks and their documents and evidence too). */
void cx_result_bundle_free(cx_result_bundle *b);

#ifdef __cplusplus
}
#endif
#endif /* CX_ATTEST_H */
