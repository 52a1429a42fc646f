/* cx_attest.h — attestation: TEE backends (Nitro /dev/nsm, simulated), verification of
 * Nitro documents and NVIDIA H100 evidence, their binding, and the signed result statement. */
#ifndef CX_ATTEST_H
#define CX_ATTEST_H

#include "cx_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================== Nitro documents, NSM, binding, TEE backends ===================== */

/* ===================== NVIDIA GPU evidence ===================== */

/* ===================== result statement (BCS, intent message, Ed25519) ===================== */

#ifdef __cplusplus
}
#endif
#endif /* CX_ATTEST_H */
