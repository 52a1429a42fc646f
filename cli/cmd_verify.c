/* cmd_verify.c — `cloakx verify BUNDLE`: an auditor re-checks a result offline (signature,
 * TEE report, key binding, measurement) and, given ledger and store, hashes and commitment. */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

int cmd_verify(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx verify BUNDLE.json [--ledger L] [--store S] [--allow-simulated]\n"
               "         [--devca DIR | --root PEM] [--job JOB] [--measurement HEX]\n"
               "         [--spec REQUEST.json] [--gpu-evidence FILE] [--json]\n\n"
               "Checks a result bundle (chain/RULES.md §5), in order: statement (strict BCS),\n"
               "signature (Ed25519 by the bundle's enclave key), report (the Nitro verifier:\n"
               "chain to the AWS Nitro root or --root; a SIMULATED document only with\n"
               "--allow-simulated, against the development root of --devca), key_binding\n"
               "(report public_key = signing key, X25519 key endorsed), measurement (statement\n"
               "= report PCR0, accepted by the pool), and with --ledger: ledger (the enclave as\n"
               "registered, and this exact statement is the job's accepted result: a forged or\n"
               "replayed bundle fails here); with --store: result_hash (SHA-256 of the stored\n"
               "sealed model); with both: dataset_commitment (recomputed from the pool's\n"
               "blobs). --job: the bundle must be that job's result (else: replayed). Says\n"
               "which check failed; exit 3 when one does, or when one asked for could not run\n"
               "(\"not checked\": a bundle without enclave_id has no dataset commitment check).\n"
               "Also: spec (config_hash = the job's spec hash on the ledger, and/or SHA-256 of\n"
               "--spec, the job request file), model_recipient (the sealed model's recipient\n"
               "= the buyer key of the job request), gpu_evidence (when the statement commits\n"
               "to some: the bundle's or --gpu-evidence hashes to gpu_evidence_hash),\n"
               "ranks (a job across ranks: the bundle's ranks hash to the statement's\n"
               "ranks_hash, and each rank's document verifies, attests the statement's\n"
               "measurement and is bound to the job, its place and the signing key),\n"
               "contributions (with --ledger: every contribution registered in the pool\n"
               "before the job is accepted or rejected with a reason class; one the result\n"
               "leaves out fails). The contributions the enclave rejected are listed, each\n"
               "with its class (header, format, decrypt, parse, policy, contributor).\n"
               "--measurement HEX pins the code (PCR0) for an auditor without the ledger.\n"
               "VERIFIED (exit 0) only when every check ran; when none failed but some could\n"
               "not run for want of an input, it says which and exits 4 (INCOMPLETE).\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *store_url = NULL, *path = NULL, *devca_s = NULL,
               *root_path = NULL, *job_s = NULL, *meas_s = NULL, *spec_path = NULL,
               *gpu_path = NULL;
    int allow_sim = 0;
    /* no environment defaults: an auditor names the ledger and store to check against */
    const cli_arg args[] = {{.name = "--ledger", .val = &ledger_url},
                           {.name = "--store", .val = &store_url},
                           {.name = "--devca", .val = &devca_s},
                           {.name = "--root", .val = &root_path},
                           {.name = "--job", .val = &job_s},
                           {.name = "--measurement", .val = &meas_s},
                           {.name = "--spec", .val = &spec_path},
                           {.name = "--gpu-evidence", .val = &gpu_path},
                           {.name = "--allow-simulated", .flag = &allow_sim},
                           {.name = "", .val = &path},
                           {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!path)
        return cli_usage(cli, "BUNDLE is required");
    cx_error e;
    cx_error_clear(&e);
    cx_result_bundle b;
    memset(&b, 0, sizeof b);
    cli_role r = {0};
    char *root = NULL;
    size_t root_len = 0;
    json_t *checks = NULL, *rejected = NULL;
    int rc = CX_EXIT_OK;
    cx_chain_id jid;
    uint8_t meas[64], *req = NULL, *gpu = NULL;
    size_t meas_len = 0, req_len = 0, gpu_len = 0;
    if (job_s && cx_chain_id_from_hex(job_s, &jid, &e) != CX_OK)
        goto fail;
    if (meas_s && (cx_hex_decode(meas_s, strlen(meas_s), meas, sizeof meas, &meas_len, &e) !=
                       CX_OK ||
                   meas_len == 0)) {
        rc = cli_usage(cli, "--measurement takes 1..64 bytes in hex");
        goto done;
    }
    if ((spec_path && cx_file_read_all(spec_path, 1 << 20, &req, &req_len, &e) != CX_OK) ||
        (gpu_path && cx_file_read_all(gpu_path, 1 << 20, &gpu, &gpu_len, &e) != CX_OK))
        goto fail;
    if (cx_result_bundle_read(path, &b, &e) != CX_OK) {
        if (e.code == CX_ERR_FORMAT || e.code == CX_ERR_LIMIT)
            e.code = CX_ERR_VERIFY; /* a malformed bundle is an integrity failure */
        goto fail;
    }
    if (root_path) {
        uint8_t *rb = NULL;
        if (cx_file_read_all(root_path, 1 << 20, &rb, &root_len, &e) != CX_OK)
            goto fail;
        root = (char *)rb;
    } else if (allow_sim && cli_devroot_for(devca_s, &root, &root_len, &e) != CX_OK) {
        goto fail;
    }
    if (cli_role_open(&r, NULL, ledger_url, store_url, &cli->log, &e) != CX_OK)
        goto fail;
    cx_job_verify_opts o = {.ledger = r.ledger,
                            .store = r.store,
                            .root_pem = root,
                            .root_pem_len = root_len,
                            .allow_simulated = allow_sim,
                            .job = job_s ? &jid : NULL,
                            .measurement = meas_s ? meas : NULL,
                            .measurement_len = meas_len,
                            .request = req,
                            .request_len = req_len,
                            .gpu_evidence = gpu,
                            .gpu_evidence_len = gpu_len};
    cx_err vrc = cx_job_verify_bundle(&b, &o, &checks, &e);
    int complete = vrc == CX_OK && cx_job_verify_complete(checks);
    /* what could not run: named, so an auditor knows what to give to finish the job */
    char skipped[512] = "";
    for (size_t i = 0; i < json_array_size(checks); i++) {
        json_t *c = json_array_get(checks, i);
        if (strcmp(json_string_value(json_object_get(c, "status")), "skipped") != 0)
            continue;
        size_t n = strlen(skipped);
        snprintf(skipped + n, sizeof skipped - n, "%s%s", n ? ", " : "",
                 json_string_value(json_object_get(c, "check")));
    }
    /* what the enclave rejected, and why (a class): an auditor sees who was left out */
    cx_statement st;
    if (cx_statement_decode(b.statement, b.statement_len, &st, NULL, NULL) == CX_OK) {
        rejected = cx_job_rejected_json(&st);
        cx_statement_free(&st);
    } else {
        rejected = json_array();
    }
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:b, s:b, s:O, s:O}", "bundle", path, "verified", complete,
                              "complete", vrc == CX_OK && complete, "checks", checks, "rejected",
                              rejected);
        if (vrc == CX_OK && !complete) {
            json_object_set_new(j, "skipped", json_string(skipped));
            fprintf(stderr, "cloakx verify: INCOMPLETE: not checked: %s\n", skipped);
            cli_print_json(cli, j);
            rc = CX_EXIT_INCOMPLETE;
        } else if (vrc != CX_OK) {
            json_object_set_new(j, "failed", json_string(e.msg));
            fprintf(stderr, "cloakx verify: %s\n", e.msg);
            cli_print_json(cli, j);
            rc = cx_err_exit_code(vrc);
        } else {
            rc = cli_print_json(cli, j);
        }
    } else {
        for (size_t i = 0; i < json_array_size(checks); i++) {
            json_t *c = json_array_get(checks, i);
            printf("  %-19s %-7s %s\n", json_string_value(json_object_get(c, "check")),
                   json_string_value(json_object_get(c, "status")),
                   json_string_value(json_object_get(c, "detail")));
        }
        size_t nr = json_array_size(rejected);
        if (nr)
            printf("  rejected by the enclave (%zu contribution(s), reason class):\n", nr);
        for (size_t i = 0; i < nr; i++) {
            json_t *x = json_array_get(rejected, i);
            printf("    %-11s blob %s of %s\n", json_string_value(json_object_get(x, "reason")),
                   json_string_value(json_object_get(x, "blob_id")),
                   json_string_value(json_object_get(x, "contributor")));
        }
        if (vrc == CX_OK && complete) {
            printf("VERIFIED\n");
        } else if (vrc == CX_OK) {
            printf("INCOMPLETE: nothing failed, but these checks did not run: %s\n", skipped);
            rc = CX_EXIT_INCOMPLETE;
        } else {
            printf("FAILED: %s\n", e.msg);
            rc = cli_fail(cli, &e);
        }
    }
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    json_decref(rejected);
    json_decref(checks);
    free(req);
    free(gpu);
    free(root);
    cx_result_bundle_free(&b);
    cli_role_close(&r);
    return rc;
}
