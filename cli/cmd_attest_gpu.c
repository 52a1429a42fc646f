/* cmd_attest_gpu.c — `cloakx attest verify-gpu` (offline H100 CC evidence verification) and
 * `cloakx attest collect-gpu` (evidence collection through NVML on a confidential node). */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cx_attest.h"

static const char verify_help[] =
    "usage: cloakx attest verify-gpu EVIDENCE.json [options]\n"
    "       cloakx attest verify-gpu --report RAW.bin --certs CHAIN.pem [options]\n\n"
    "Verifies NVIDIA H100 confidential-computing evidence offline: the SPDM 1.1\n"
    "GET_MEASUREMENTS report of each GPU (every field), its request nonce, the ECDSA P-384\n"
    "signature with the leaf certificate, the 5-certificate chain to the NVIDIA Device\n"
    "Identity CA at the given time, the FWID against the leaf certificate, driver and VBIOS\n"
    "versions, and (with --reference) the measurements. EVIDENCE.json is the list of\n"
    "{arch, nonce, evidence, certificate} that NVIDIA's tools read and write.\n\n"
    "options:\n"
    "  --nonce HEX        the 32-byte nonce the verifier expects (freshness); without it the\n"
    "                     report is only compared with the nonce written in the evidence file\n"
    "  --root PEM         trust anchor instead of the embedded NVIDIA Device Identity CA\n"
    "  --reference FILE   operator-pinned reference measurements (cloakx-gpu-reference/v1,\n"
    "                     see attestation/GPU_REFERENCE.md); without it measurements are\n"
    "                     reported \"not_compared\"\n"
    "  --driver-rim FILE  NVIDIA driver RIM (SWID XML) as reference values and version\n"
    "  --vbios-rim FILE   NVIDIA VBIOS RIM (SWID XML) likewise; RIM signatures are NOT\n"
    "                     verified (\"rim\": \"not_checked\"): trust these files as you\n"
    "                     would an operator-pinned reference\n"
    "  --at UNIX_MS       validate certificates at this time (default: now)\n"
    "  --online           also ask OCSP (chain certificates 1..3, their AIA responder,\n"
    "                     ocsp.ndis.nvidia.com) over the network; a revoked, unsigned or\n"
    "                     unreachable answer fails the GPU (\"failed\": \"ocsp\")\n"
    "  --ocsp-url URL     send the OCSP requests to URL instead (a relay, a test responder)\n"
    "  --json             per-GPU results on stdout\n\n"
    "Offline (the default) OCSP is reported \"not_checked\", never \"passed\". NVIDIA RIMs\n"
    "are not downloaded and their XML signatures are not verified, so \"rim\" is always\n"
    "\"not_checked\".\n"
    "exit: 0 all GPUs verified, 3 a check failed (named), 1 unreadable input, 2 usage.\n";

static const char collect_help[] =
    "usage: cloakx attest collect-gpu --nonce HEX --out EVIDENCE.json [--json]\n\n"
    "Collects the attestation report and certificate chain of every GPU through NVML\n"
    "(libnvidia-ml.so.1, loaded at run time) with the given 32-byte nonce and writes the\n"
    "evidence JSON that `cloakx attest verify-gpu` and NVIDIA's tools read. Needs an NVIDIA\n"
    "driver and GPUs in confidential-computing mode.\n";

static int parse_nonce(cx_cli *cli, const char *hex, uint8_t out[CX_GPU_NONCE_LEN])
{
    size_t got = 0;
    cx_error e;
    if (cx_hex_decode(hex, strlen(hex), out, CX_GPU_NONCE_LEN, &got, &e) != CX_OK ||
        got != CX_GPU_NONCE_LEN)
        return cli_usage(cli, "--nonce must be %d bytes of hex", CX_GPU_NONCE_LEN);
    return CX_EXIT_OK;
}

static const char *meas_word(const cx_gpu_verify_result *r)
{
    return r->measurements == CX_GPU_CHECK_NOT_CHECKED ? "not_compared"
                                                       : cx_gpu_check_name(r->measurements);
}

static json_t *gpu_json(size_t idx, const cx_gpu_evidence *ev, const cx_gpu_verify_result *r,
                        int rc, const cx_error *e, const char *nonce_source, cx_gpu_check ocsp)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char nonce[2 * CX_GPU_NONCE_LEN + 1] = "";
    if (r->format == CX_GPU_CHECK_PASSED &&
        cx_hex_encode(r->report.nonce, CX_GPU_NONCE_LEN, nonce, sizeof nonce, NULL) != CX_OK)
        nonce[0] = '\0';
    int bad = 0;
    bad |= json_object_set_new(o, "index", json_integer((json_int_t)idx));
    bad |= json_object_set_new(o, "arch", json_string(ev->arch));
    bad |= json_object_set_new(o, "nonce", nonce[0] ? json_string(nonce) : json_null());
    bad |= json_object_set_new(o, "nonce_check", json_string(cx_gpu_check_name(r->nonce)));
    bad |= json_object_set_new(o, "nonce_source", json_string(nonce_source));
    bad |= json_object_set_new(o, "format", json_string(cx_gpu_check_name(r->format)));
    bad |= json_object_set_new(o, "driver_version",
                               r->report.driver_version[0] ? json_string(r->report.driver_version)
                                                           : json_null());
    bad |= json_object_set_new(o, "vbios_version",
                               r->report.vbios_version[0] ? json_string(r->report.vbios_version)
                                                          : json_null());
    bad |= json_object_set_new(o, "driver_check", json_string(cx_gpu_check_name(r->driver)));
    bad |= json_object_set_new(o, "vbios_check", json_string(cx_gpu_check_name(r->vbios)));
    bad |= json_object_set_new(o, "signature", json_string(cx_gpu_check_name(r->signature)));
    bad |= json_object_set_new(o, "chain", json_string(cx_gpu_check_name(r->chain)));
    bad |= json_object_set_new(o, "fwid", json_string(cx_gpu_check_name(r->fwid)));
    bad |= json_object_set_new(o, "measurements", json_string(meas_word(r)));
    bad |=
        json_object_set_new(o, "measurements_compared", json_integer((json_int_t)r->meas_compared));
    bad |= json_object_set_new(o, "measurement_count", json_integer((json_int_t)r->report.n_meas));
    bad |= json_object_set_new(o, "ocsp", json_string(cx_gpu_check_name(ocsp)));
    bad |= json_object_set_new(o, "rim", json_string("not_checked"));
    bad |= json_object_set_new(o, "leaf", json_string(r->leaf_subject));
    bad |= json_object_set_new(o, "verified", json_boolean(rc == CX_OK));
    bad |= json_object_set_new(o, "failed", r->failed[0] ? json_string(r->failed) : json_null());
    bad |= json_object_set_new(o, "error", rc != CX_OK ? json_string(e->msg) : json_null());
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void print_human(size_t idx, const cx_gpu_evidence *ev, const cx_gpu_verify_result *r,
                        int rc, const char *nonce_source, cx_gpu_check ocsp)
{
    printf("GPU %zu (%s): %s\n", idx, ev->arch, rc == CX_OK ? "verified" : "FAILED");
    if (r->format != CX_GPU_CHECK_PASSED) {
        printf("  format:        failed\n");
        return;
    }
    printf("  leaf:          %s\n", r->leaf_subject);
    printf("  driver:        %s (%s)\n", r->report.driver_version, cx_gpu_check_name(r->driver));
    printf("  vbios:         %s (%s)\n", r->report.vbios_version, cx_gpu_check_name(r->vbios));
    printf("  nonce:         %s (against %s)\n", cx_gpu_check_name(r->nonce), nonce_source);
    printf("  signature:     %s\n", cx_gpu_check_name(r->signature));
    printf("  chain:         %s\n", cx_gpu_check_name(r->chain));
    printf("  fwid:          %s\n", cx_gpu_check_name(r->fwid));
    printf("  measurements:  %s (%zu of %zu compared)\n", meas_word(r), r->meas_compared,
           r->report.n_meas);
    printf("  ocsp:          %s%s\n", cx_gpu_check_name(ocsp),
           ocsp == CX_GPU_CHECK_NOT_CHECKED ? " (offline)" : "");
    printf("  rim:           not_checked (RIMs are not downloaded)\n");
}

/* Evidence-content problems are verification failures (exit 3); I/O stays exit 1. */
static int fail_verify(cx_cli *cli, cx_error *e)
{
    if (e->code == CX_ERR_FORMAT || e->code == CX_ERR_LIMIT)
        e->code = CX_ERR_VERIFY;
    return cli_fail(cli, e);
}

int cmd_attest_verify_gpu(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(verify_help, stdout);
        return CX_EXIT_OK;
    }
    const char *evidence_path = NULL, *report_path = NULL, *certs_path = NULL;
    const char *nonce_hex = NULL, *root_path = NULL, *ref_path = NULL, *at_str = NULL;
    const char *ocsp_url = NULL, *driver_rim = NULL, *vbios_rim = NULL;
    int online = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--online") == 0) {
            online = 1;
            continue;
        }
        const char **slot = strcmp(a, "--nonce") == 0        ? &nonce_hex
                            : strcmp(a, "--root") == 0       ? &root_path
                            : strcmp(a, "--reference") == 0  ? &ref_path
                            : strcmp(a, "--at") == 0         ? &at_str
                            : strcmp(a, "--report") == 0     ? &report_path
                            : strcmp(a, "--certs") == 0      ? &certs_path
                            : strcmp(a, "--ocsp-url") == 0   ? &ocsp_url
                            : strcmp(a, "--driver-rim") == 0 ? &driver_rim
                            : strcmp(a, "--vbios-rim") == 0  ? &vbios_rim
                                                             : NULL;
        if (slot) {
            if (i + 1 >= argc)
                return cli_usage(cli, "%s needs a value", a);
            *slot = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return cli_usage(cli, "unknown option '%s'", a);
        } else if (!evidence_path) {
            evidence_path = a;
        } else {
            return cli_usage(cli, "unexpected argument '%s'", a);
        }
    }
    if (!evidence_path == !report_path)
        return cli_usage(cli, "give EVIDENCE.json or --report RAW.bin --certs CHAIN.pem");
    if (report_path && !certs_path)
        return cli_usage(cli, "--report needs --certs CHAIN.pem");
    if (evidence_path && certs_path)
        return cli_usage(cli, "--certs goes with --report");
    if (ocsp_url && !online)
        return cli_usage(cli, "--ocsp-url goes with --online");

    uint8_t nonce[CX_GPU_NONCE_LEN];
    if (nonce_hex && parse_nonce(cli, nonce_hex, nonce) != CX_EXIT_OK)
        return CX_EXIT_USAGE;
    cx_gpu_verify_opts opts = {0};
    if (at_str) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(at_str, &end, 10);
        if (errno || !end || *end || v <= 0)
            return cli_usage(cli, "--at wants milliseconds since the epoch");
        opts.at_unix_ms = v;
    }

    cx_error e;
    cx_error_clear(&e);
    int exit_code = CX_EXIT_OK;
    uint8_t *root = NULL;
    size_t root_len = 0;
    cx_gpu_reference *ref = NULL;
    cx_gpu_evidence_list list = {0};
    cx_gpu_verify_result *res = NULL;
    json_t *out = NULL, *arr = NULL;

    if (root_path) {
        if (cx_file_read_all(root_path, 1u << 20, &root, &root_len, &e) != CX_OK) {
            exit_code = cli_fail(cli, &e);
            goto done;
        }
        opts.root_pem = (const char *)root;
        opts.root_pem_len = root_len;
    }
    if (ref_path && cx_gpu_reference_load(ref_path, &ref, &e) != CX_OK) {
        exit_code = cli_fail(cli, &e); /* a bad reference is the operator's input: exit 1/2 */
        goto done;
    }
    if ((driver_rim &&
         cx_gpu_reference_load_rim(driver_rim, CX_GPU_RIM_DRIVER, &ref, &e) != CX_OK) ||
        (vbios_rim && cx_gpu_reference_load_rim(vbios_rim, CX_GPU_RIM_VBIOS, &ref, &e) != CX_OK)) {
        exit_code = cli_fail(cli, &e);
        goto done;
    }
    if (driver_rim || vbios_rim)
        cx_log_warn(&cli->log, "RIM signatures are not verified: the RIM files are trusted as "
                               "given");
    opts.reference = ref;

    if (evidence_path) {
        if (cx_gpu_evidence_load(evidence_path, &list, &e) != CX_OK) {
            exit_code = fail_verify(cli, &e);
            goto done;
        }
    } else {
        uint8_t *rep = NULL, *chain = NULL;
        size_t rep_len = 0, chain_len = 0;
        if (cx_file_read_all(report_path, 1u << 20, &rep, &rep_len, &e) != CX_OK ||
            cx_file_read_all(certs_path, 1u << 20, &chain, &chain_len, &e) != CX_OK) {
            free(rep);
            exit_code = cli_fail(cli, &e);
            goto done;
        }
        /* A raw report carries its own nonce; bytes 4..35 when present. */
        uint8_t rnonce[CX_GPU_NONCE_LEN] = {0};
        if (rep_len >= 36)
            memcpy(rnonce, rep + 4, CX_GPU_NONCE_LEN);
        /* The verifier reports the size limit as a format failure, not the list builder. */
        cx_gpu_evidence ev = {.report = rep,
                              .report_len = rep_len,
                              .cert_chain = (char *)chain,
                              .cert_chain_len = chain_len};
        snprintf(ev.arch, sizeof ev.arch, "HOPPER");
        memcpy(ev.nonce, rnonce, sizeof rnonce);
        list.items = malloc(sizeof ev);
        if (!list.items) {
            free(rep);
            free(chain);
            cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
            exit_code = cli_fail(cli, &e);
            goto done;
        }
        list.items[0] = ev;
        list.n = 1;
    }

    res = malloc(sizeof *res);
    arr = json_array();
    if (!res || !arr) {
        cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
        exit_code = cli_fail(cli, &e);
        goto done;
    }
    if (!nonce_hex)
        cx_log_warn(&cli->log,
                    "no --nonce: the report nonce is %s, so freshness is not "
                    "established",
                    evidence_path ? "only compared with the evidence file's" : "not checked");
    cx_error first;
    cx_error_clear(&first);
    size_t n_failed = 0;
    for (size_t i = 0; i < list.n; i++) {
        const cx_gpu_evidence *ev = &list.items[i];
        const char *src = "not_checked";
        opts.expected_nonce = NULL;
        if (nonce_hex) {
            opts.expected_nonce = nonce;
            src = "--nonce";
        } else if (evidence_path) {
            opts.expected_nonce = ev->nonce;
            src = "evidence_file";
        }
        opts.expected_driver = ev->driver_version;
        opts.expected_vbios = ev->vbios_version;
        cx_error ge;
        cx_error_clear(&ge);
        cx_err rc = cx_gpu_verify(ev->report, ev->report_len, ev->cert_chain, ev->cert_chain_len,
                                  &opts, res, &ge);
        if (rc != CX_OK && rc != CX_ERR_VERIFY && rc != CX_ERR_FORMAT) {
            cx_error_prefix(&ge, "GPU %zu: ", i);
            exit_code = cli_fail(cli, &ge);
            goto done;
        }
        cx_gpu_check ocsp = CX_GPU_CHECK_NOT_CHECKED;
        if (online && res->format == CX_GPU_CHECK_PASSED) {
            cx_error oe;
            cx_error_clear(&oe);
            cx_err orc = cx_gpu_ocsp_check(ev->cert_chain, ev->cert_chain_len, opts.root_pem,
                                           opts.root_pem_len, ocsp_url, 15, &ocsp, &oe);
            if (orc != CX_OK) {
                /* asked to check revocation and could not: that GPU is not verified */
                if (ocsp == CX_GPU_CHECK_NOT_CHECKED)
                    cx_log_warn(&cli->log, "GPU %zu: OCSP not checked: %s", i, oe.msg);
                if (rc == CX_OK) {
                    rc = CX_ERR_VERIFY;
                    snprintf(res->failed, sizeof res->failed, "ocsp");
                    ge = oe;
                }
            }
        }
        if (rc != CX_OK && n_failed++ == 0) {
            first = ge;
            cx_error_prefix(&first, "GPU %zu: ", i);
            first.code = CX_ERR_VERIFY;
        }
        if (cli->json) {
            json_t *g = gpu_json(i, ev, res, rc, &ge, src, ocsp);
            if (!g || json_array_append_new(arr, g) != 0) {
                cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
                exit_code = cli_fail(cli, &e);
                goto done;
            }
        } else {
            print_human(i, ev, res, rc, src, ocsp);
        }
    }

    uint8_t digest[CX_GPU_DIGEST_LEN];
    char digest_hex[2 * CX_GPU_DIGEST_LEN + 1];
    if (cx_gpu_evidence_digest(list.items, list.n, digest, &e) != CX_OK ||
        cx_hex_encode(digest, sizeof digest, digest_hex, sizeof digest_hex, &e) != CX_OK) {
        exit_code = cli_fail(cli, &e);
        goto done;
    }
    if (n_failed)
        fprintf(stderr, "cloakx %s: error: %s\n", cli->cmd, first.msg);
    if (cli->json) {
        const char *ref_src = !ref                                         ? "none"
                              : cx_gpu_reference_from_rim(ref) && ref_path ? "operator_json+rim"
                              : cx_gpu_reference_from_rim(ref) ? "rim_unverified_signature"
                                                               : "operator_json";
        out = json_pack("{s:o, s:b, s:s, s:s, s:s}", "gpus", arr, "verified", n_failed == 0,
                        "gpu_digest", digest_hex, "root",
                        root_path ? root_path : "embedded NVIDIA Device Identity CA", "reference",
                        ref_src);
        arr = NULL;
        if (!out || (n_failed && json_object_set_new(out, "error", json_string(first.msg)))) {
            cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
            exit_code = cli_fail(cli, &e);
            goto done;
        }
        exit_code = cli_print_json(cli, out);
        out = NULL;
    } else {
        printf("gpu_digest (spec §4.2): %s\n", digest_hex);
        printf("%s\n", n_failed ? "result: FAILED" : "result: all GPUs verified");
    }
    if (n_failed)
        exit_code = CX_EXIT_VERIFY;
done:
    json_decref(out);
    json_decref(arr);
    free(res);
    free(root);
    cx_gpu_reference_free(ref);
    cx_gpu_evidence_list_free(&list);
    return exit_code;
}

int cmd_attest_collect_gpu(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        fputs(collect_help, stdout);
        return CX_EXIT_OK;
    }
    const char *nonce_hex = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--nonce") == 0 ? &nonce_hex
                            : strcmp(argv[i], "--out") == 0 ? &out_path
                                                            : NULL;
        if (!slot)
            return cli_usage(cli, "unexpected argument '%s'", argv[i]);
        if (i + 1 >= argc)
            return cli_usage(cli, "%s needs a value", argv[i]);
        *slot = argv[++i];
    }
    if (!nonce_hex || !out_path)
        return cli_usage(cli, "--nonce HEX and --out EVIDENCE.json are required");
    uint8_t nonce[CX_GPU_NONCE_LEN];
    if (parse_nonce(cli, nonce_hex, nonce) != CX_EXIT_OK)
        return CX_EXIT_USAGE;

    cx_error e;
    cx_gpu_nvml *nv = NULL;
    cx_gpu_evidence_list list = {0};
    int exit_code = CX_EXIT_OK;
    cx_gpu_cc_state st;
    if (cx_gpu_nvml_open(&nv, &e) != CX_OK || cx_gpu_cc_state_get(nv, &st, &e) != CX_OK) {
        exit_code = cli_fail(cli, &e);
        goto done;
    }
    cx_log_info(&cli->log,
                "NVML: %u GPU(s), driver %s, CC feature %u, environment %u, "
                "DevTools %u",
                st.n_gpus, st.driver_version, st.cc_feature, st.environment, st.devtools_mode);
    if (st.devtools_mode)
        cx_log_warn(&cli->log, "GPU is in DevTools mode: not confidential");
    if (cx_gpu_collect(nv, nonce, &list, &e) != CX_OK ||
        cx_gpu_evidence_save(out_path, &list, &e) != CX_OK) {
        exit_code = cli_fail(cli, &e);
        goto done;
    }
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:b}", "out", out_path, "gpus", (int)list.n,
                              "nonce", nonce_hex, "driver_version", st.driver_version,
                              "devtools_mode", (int)st.devtools_mode);
        if (!j) {
            cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
            exit_code = cli_fail(cli, &e);
            goto done;
        }
        exit_code = cli_print_json(cli, j);
    } else {
        printf("wrote evidence of %zu GPU(s) to %s\n", list.n, out_path);
    }
done:
    cx_gpu_evidence_list_free(&list);
    cx_gpu_nvml_close(nv);
    return exit_code;
}
