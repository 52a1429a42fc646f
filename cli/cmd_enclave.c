/* cmd_enclave.c — `cloakx enclave register|show`: start this node's TEE (simulated here),
 * verify its attestation document as the ledger's rules ask, record its keys on the ledger. */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int enclave_register(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx enclave register [--ledger L] [--store S] --key DIR --state DIR\n"
               "         [--devca DIR] [--pool POOL] [--allow-simulated] [--json]\n\n"
               "Starts the TEE (SIMULATED in this build: software keys in --state DIR/tee,\n"
               "documents in the AWS Nitro format signed by the development CA in --devca,\n"
               "default $CLOAKX_DEVCA or ~/.cloakx/devca, made on first use), has it attest\n"
               "its Ed25519 key with its X25519 receiving key and the endorsement of it in\n"
               "user_data, verifies the document with the Nitro verifier (simulated documents\n"
               "are refused unless --allow-simulated), stores it in the blob store (any store:\n"
               "local:DIR or walrus:) and registers the keys, the measurement (PCR0), the\n"
               "document's SHA-256 and its blob id on the ledger, signed by --key (sellers and\n"
               "auditors fetch the document by that id and check it against the hash). With\n"
               "--pool, it refuses (exit 3) when that pool does not accept the measurement.\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *store_url = NULL, *key = NULL, *state = NULL, *devca_s = NULL,
               *pool_s = NULL;
    int allow_sim = 0;
    const cli_arg args[] = {{.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
                           {.name = "--store", .val = &store_url, .env = "CLOAKX_STORE"},
                           {.name = "--key", .val = &key},
                           {.name = "--state", .val = &state},
                           {.name = "--devca", .val = &devca_s},
                           {.name = "--pool", .val = &pool_s},
                           {.name = "--allow-simulated", .flag = &allow_sim},
                           {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!ledger_url || !store_url || !key || !state)
        return cli_usage(cli, "--ledger, --store, --key and --state are required");
    cx_error e;
    cx_error_clear(&e);
    char devca[PATH_MAX];
    if (cli_devca_dir(devca_s, devca, sizeof devca, &e) != CX_OK)
        return cli_fail(cli, &e);
    cx_tee *tee = NULL;
    cli_role r = {0};
    char *root = NULL;
    size_t root_len = 0;
    int rc = CX_EXIT_OK;
    cx_chain_id pid;
    if (pool_s && cx_chain_id_from_hex(pool_s, &pid, &e) != CX_OK)
        goto fail;
    if (cli_role_open(&r, key, NULL, NULL, &cli->log, &e) != CX_OK ||
        cx_job_tee_open(state, devca, &cli->log, &tee, &e) != CX_OK)
        goto fail;
    if (cx_tee_is_simulated(tee) && cli_devroot_load(devca, &root, &root_len, &e) != CX_OK)
        goto fail;
    cx_job_registration reg;
    if (cx_job_ledger_open(ledger_url, &cli->log, &r.ledger, &e) != CX_OK ||
        cx_job_store_open(store_url, &cli->log, &r.store, &e) != CX_OK ||
        cx_job_enclave_register(r.ledger, r.store, tee, r.key, root, root_len, allow_sim,
                                pool_s ? &pid : NULL, state, &reg, &e) != CX_OK)
        goto fail;
    const cx_ledger_enclave *en = &reg.enclave;
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&reg.id, hex);
    json_t *j = json_pack("{s:s, s:o, s:o, s:o, s:s, s:o, s:b, s:s}", "enclave", hex, "measurement",
                          cx_job_hex_json(en->measurement, en->measurement_len), "ed25519",
                          cx_job_hex_json(en->ed25519_pk, 32), "x25519",
                          cx_job_hex_json(en->x25519_pk, 32), "document_blob", reg.doc_blob_id,
                          "document_sha256", cx_job_hex_json(en->attestation_hash, 32), "simulated",
                          cx_tee_is_simulated(tee), "backend", cx_tee_backend_name(tee));
    rc = cli_role_print(cli, j,
                       "enclave %s registered (%s TEE%s)\n  measurement (PCR0) %s\n  document "
                       "blob %s\n",
                       hex, cx_tee_backend_name(tee),
                       cx_tee_is_simulated(tee) ? ": SIMULATED, development only" : "",
                       json_string_value(json_object_get(j, "measurement")), reg.doc_blob_id);
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    free(root);
    cx_tee_close(tee);
    cli_role_close(&r);
    return rc;
}

static int enclave_show(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx enclave show --state DIR [--devca DIR] [--json]\n\n"
               "This node's enclave: its ledger id (after register), keys and measurement.\n");
        return CX_EXIT_OK;
    }
    const char *state = NULL, *devca_s = NULL;
    const cli_arg args[] = {
        {.name = "--state", .val = &state}, {.name = "--devca", .val = &devca_s}, {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!state)
        return cli_usage(cli, "--state is required");
    cx_error e;
    cx_error_clear(&e);
    char devca[PATH_MAX];
    cx_tee *tee = NULL;
    if (cli_devca_dir(devca_s, devca, sizeof devca, &e) != CX_OK ||
        cx_job_tee_open(state, devca, &cli->log, &tee, &e) != CX_OK)
        return cli_fail(cli, &e);
    uint8_t ed[32], x[32], m[48];
    cx_tee_public_keys(tee, ed, x);
    cx_chain_id id;
    char hex[CX_CHAIN_ID_HEX_LEN + 1] = "(not registered)";
    cx_error le;
    if (cx_job_enclave_state_load(state, &id, &le) == CX_OK)
        cx_chain_id_to_hex(&id, hex);
    int rc = CX_EXIT_OK;
    if (cx_job_measure_self(m, &e) != CX_OK) {
        rc = cli_fail(cli, &e);
    } else {
        json_t *j = json_pack("{s:s, s:o, s:o, s:o, s:s, s:b}", "enclave", hex, "ed25519",
                              cx_job_hex_json(ed, 32), "x25519", cx_job_hex_json(x, 32),
                              "measurement", cx_job_hex_json(m, 48), "backend",
                              cx_tee_backend_name(tee), "simulated", cx_tee_is_simulated(tee));
        rc = cli_role_print(cli, j, "enclave %s (%s%s)\n  ed25519 %s\n  x25519  %s\n  PCR0    %s\n",
                           hex, cx_tee_backend_name(tee),
                           cx_tee_is_simulated(tee) ? ", SIMULATED" : "",
                           json_string_value(json_object_get(j, "ed25519")),
                           json_string_value(json_object_get(j, "x25519")),
                           json_string_value(json_object_get(j, "measurement")));
    }
    cx_tee_close(tee);
    return rc;
}

static const cx_command enclave_commands[] = {
    {"register", "start the TEE, verify its attestation, register it on the ledger",
     enclave_register},
    {"show", "this node's enclave: id, keys, measurement", enclave_show},
    {NULL, NULL, NULL},
};

int cmd_enclave(cx_cli *cli, int argc, char **argv)
{
    return cli_dispatch(cli, "enclave", enclave_commands, argc, argv);
}
