/* attest_inspect.h — the artefact kinds `cloakx attest inspect` knows besides Nitro documents
 * (GPU reports, evidence JSON, result bundles): a cheap detector and a printer each. */
#ifndef CX_CLI_ATTEST_INSPECT_H
#define CX_CLI_ATTEST_INSPECT_H

#include "cli.h"

/* Detectors look at the bytes only; printers parse with attestation/'s strict parsers,
 * print (--json or text) without verifying, and return the exit code (3: unparseable). */
int attest_detect_gpu_report(const uint8_t *buf, size_t len);
int attest_inspect_gpu_report(cx_cli *cli, const uint8_t *buf, size_t len);
int attest_detect_gpu_evidence(const uint8_t *buf, size_t len);
int attest_inspect_gpu_evidence(cx_cli *cli, const uint8_t *buf, size_t len);
int attest_detect_bundle(const uint8_t *buf, size_t len);
int attest_inspect_bundle(cx_cli *cli, const uint8_t *buf, size_t len);

#endif /* CX_CLI_ATTEST_INSPECT_H */
