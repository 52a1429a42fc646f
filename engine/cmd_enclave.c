/* cmd_enclave.c — `cloakx enclave register|show`: start this node's TEE (simulated here),
 * verify its attestation document as the ledger's rules ask, record its keys on the ledger. */
#include "cli.h"
#include "job.h"

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
               "are refused unless --allow-simulated), stores it in the blob store (sellers\n"
               "and auditors fetch it by its SHA-256) and registers the keys, the measurement\n"
               "(PCR0) and the document hash on the ledger, signed by --key. With --pool, it\n"
               "refuses (exit 3) when that pool does not accept the measurement.\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *store_url = NULL, *key = NULL, *state = NULL, *devca_s = NULL,
               *pool_s = NULL;
    int allow_sim = 0;
    for (int i = 1; i < argc; i++) {
        if (cx_job_opt(argc, argv, &i, "--ledger", &ledger_url) ||
            cx_job_opt(argc, argv, &i, "--store", &store_url) ||
            cx_job_opt(argc, argv, &i, "--key", &key) ||
            cx_job_opt(argc, argv, &i, "--state", &state) ||
            cx_job_opt(argc, argv, &i, "--devca", &devca_s) ||
            cx_job_opt(argc, argv, &i, "--pool", &pool_s))
            continue;
        if (strcmp(argv[i], "--allow-simulated") == 0) {
            allow_sim = 1;
            continue;
        }
        return cli_usage(cli, "unexpected argument '%s'", argv[i]);
    }
    ledger_url = cx_job_env_default(ledger_url, "CLOAKX_LEDGER");
    store_url = cx_job_env_default(store_url, "CLOAKX_STORE");
    if (!ledger_url || !store_url || !key || !state)
        return cli_usage(cli, "--ledger, --store, --key and --state are required");
    cx_error e;
    cx_error_clear(&e);
    char devca[PATH_MAX];
    if (cx_job_devca_dir(devca_s, devca, sizeof devca, &e) != CX_OK)
        return cli_fail(cli, &e);
    cx_tee *tee = NULL;
    cx_ledger *l = NULL;
    cx_store *s = NULL;
    cx_chain_key *ck = NULL;
    char *root = NULL;
    size_t root_len = 0;
    int rc = CX_EXIT_OK;
    cx_chain_id pid;
    if (pool_s && cx_chain_id_from_hex(pool_s, &pid, &e) != CX_OK)
        goto fail;
    if (cx_job_identity_load(key, &ck, &e) != CX_OK ||
        cx_job_tee_open(state, devca, &cli->log, &tee, &e) != CX_OK)
        goto fail;
    if (cx_tee_is_simulated(tee) && cx_job_devroot_load(devca, &root, &root_len, &e) != CX_OK)
        goto fail;
    cx_job_registration reg;
    if (cx_job_ledger_open(ledger_url, &cli->log, &l, &e) != CX_OK ||
        cx_job_store_open(store_url, &cli->log, &s, &e) != CX_OK ||
        cx_job_enclave_register(l, s, tee, ck, root, root_len, allow_sim, pool_s ? &pid : NULL,
                                state, &reg, &e) != CX_OK)
        goto fail;
    const cx_ledger_enclave *en = &reg.enclave;
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&reg.id, hex);
    char *mh = cx_hex_dup(en->measurement, en->measurement_len);
    char *xh = cx_hex_dup(en->x25519_pk, 32), *eh = cx_hex_dup(en->ed25519_pk, 32);
    if (cli->json) {
        rc = cli_print_json(cli, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "enclave", hex,
                                           "measurement", mh ? mh : "", "ed25519", eh ? eh : "",
                                           "x25519", xh ? xh : "", "document_blob", reg.doc_blob_id,
                                           "simulated", cx_tee_is_simulated(tee), "backend",
                                           cx_tee_backend_name(tee)));
    } else {
        printf("enclave %s registered (%s TEE%s)\n  measurement (PCR0) %s\n  document blob %s\n",
               hex, cx_tee_backend_name(tee),
               cx_tee_is_simulated(tee) ? ": SIMULATED, development only" : "", mh ? mh : "",
               reg.doc_blob_id);
    }
    free(mh);
    free(xh);
    free(eh);
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    free(root);
    cx_tee_close(tee);
    cx_store_free(s);
    cx_ledger_close(l);
    cx_chain_key_free(ck);
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
    for (int i = 1; i < argc; i++) {
        if (cx_job_opt(argc, argv, &i, "--state", &state) ||
            cx_job_opt(argc, argv, &i, "--devca", &devca_s))
            continue;
        return cli_usage(cli, "unexpected argument '%s'", argv[i]);
    }
    if (!state)
        return cli_usage(cli, "--state is required");
    cx_error e;
    cx_error_clear(&e);
    char devca[PATH_MAX];
    cx_tee *tee = NULL;
    if (cx_job_devca_dir(devca_s, devca, sizeof devca, &e) != CX_OK ||
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
        char *eh = cx_hex_dup(ed, 32), *xh = cx_hex_dup(x, 32), *mh = cx_hex_dup(m, 48);
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "enclave", hex, "ed25519", eh ? eh : "",
                      "x25519", xh ? xh : "", "measurement", mh ? mh : "", "backend",
                      cx_tee_backend_name(tee), "simulated", cx_tee_is_simulated(tee));
        free(eh);
        free(xh);
        free(mh);
        if (cli->json) {
            rc = cli_print_json(cli, j);
        } else {
            printf("enclave %s (%s%s)\n  ed25519 %s\n  x25519  %s\n  PCR0    %s\n", hex,
                   cx_tee_backend_name(tee), cx_tee_is_simulated(tee) ? ", SIMULATED" : "",
                   json_string_value(json_object_get(j, "ed25519")),
                   json_string_value(json_object_get(j, "x25519")),
                   json_string_value(json_object_get(j, "measurement")));
            json_decref(j);
        }
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
