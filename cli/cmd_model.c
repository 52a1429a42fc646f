/* cmd_model.c — `cloakx model fetch`: the buyer takes the model of a paid job from the store,
 * checks it against the accepted statement's hash, opens it with the model key the paying
 * transaction revealed (chain/RULES.md §2.2) and writes the safetensors file. */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int model_fetch(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx model fetch JOB [--ledger L] [--store S] --key BUYER_KEY\n"
               "         --out MODEL.safetensors [--keyservers FILE] [--json]\n\n"
               "Reads JOB's paid result from the ledger, fetches the sealed model it names\n"
               "from the store and checks its SHA-256 against the signed statement. The model\n"
               "is sealed to a key of its own, which the ledger reveals, wrapped to the buyer,\n"
               "only in the transaction that paid the contributors: it is unwrapped with the\n"
               "buyer's X25519 secret (BUYER_KEY: a key dir or its x25519.key), the model\n"
               "decrypted and the safetensors file written (weights, standardiser, features,\n"
               "metrics, epsilon in its metadata); `cloakx predict --model` uses it. A job that\n"
               "is not paid (open, accepted, refunded) releases no model.\n"
               "A model sealed with Seal (a worker with --keyservers) opens only with the other\n"
               "half of its key as well, which the key servers of --keyservers FILE (or\n"
               "CLOAKX_KEYSERVERS) release to the job's buyer once the job is paid: --key is\n"
               "then the buyer's key dir.\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *store_url = NULL, *key = NULL, *job_s = NULL, *out = NULL,
               *keyservers = NULL;
    const cli_arg args[] = {
        {.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
        {.name = "--keyservers", .val = &keyservers, .env = "CLOAKX_KEYSERVERS"},
        {.name = "--store", .val = &store_url, .env = "CLOAKX_STORE"},
        {.name = "--key", .val = &key},
        {.name = "--out", .val = &out},
        {.name = "", .val = &job_s},
        {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!ledger_url || !store_url || !key || !job_s || !out)
        return cli_usage(cli, "JOB, --ledger, --store, --key and --out are required");
    cx_error e;
    cx_error_clear(&e);
    cli_role ro = {0};
    cx_x25519_key *xk = NULL;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    cx_safetensors *sf = NULL;
    int rc = CX_EXIT_OK;
    cx_chain_id jid;
    char kpath[PATH_MAX];
    struct stat sb;
    int key_dir = stat(key, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (key_dir)
        snprintf(kpath, sizeof kpath, "%s/x25519.key", key);
    else
        snprintf(kpath, sizeof kpath, "%s", key);
    const void *seal = NULL; /* const cx_seal_config * */
#ifdef CX_HAVE_SEAL
    cx_seal_config sc;
    if (keyservers) {
        if (!key_dir)
            return cli_usage(cli, "--keyservers: --key must be the buyer's key dir (its Ed25519 "
                                  "key asks the key servers)");
        if (cx_seal_config_load(keyservers, &sc, &e) != CX_OK)
            return cli_fail(cli, &e);
        seal = &sc;
    }
#else
    if (keyservers)
        return cli_usage(cli, "--keyservers: this build has no Seal");
#endif
    if (cx_chain_id_from_hex(job_s, &jid, &e) != CX_OK ||
        cx_x25519_key_load(kpath, &xk, &e) != CX_OK ||
        cli_role_open(&ro, seal ? key : NULL, ledger_url, store_url, &cli->log, &e) != CX_OK)
        goto fail;
    char rid[CX_STORE_ID_MAX];
    if (cx_job_model_fetch(ro.ledger, ro.store, &jid, xk, ro.key, seal, &pt, &pt_len, rid, &e) !=
        CX_OK) {
        cx_error_prefix(&e, "job %s: ", job_s);
        goto fail;
    }
    if (cx_safetensors_parse(pt, pt_len, &sf, &e) != CX_OK ||
        cx_file_write_atomic(out, pt, pt_len, 0600, &e) != CX_OK)
        goto fail;
    const char *eps = cx_safetensors_meta_get(sf, "epsilon");
    if (cli->json)
        rc = cli_print_json(cli,
                            json_pack("{s:s, s:s, s:s, s:I, s:s?}", "job", job_s, "model", out,
                                      "blob_id", rid, "bytes", (json_int_t)pt_len, "epsilon", eps));
    else
        printf("model of job %s written to %s (%zu bytes, %zu tensors%s%s)\n", job_s, out, pt_len,
               cx_safetensors_count(sf), eps ? ", DP epsilon " : "", eps ? eps : "");
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    cx_safetensors_free(sf);
    cx_secmem_free(pt);
    cx_x25519_key_free(xk);
    cli_role_close(&ro);
    return rc;
}

static const cx_command model_commands[] = {
    {"fetch", "fetch, check and unseal a job's model (buyer)", model_fetch},
    {NULL, NULL, NULL},
};

int cmd_model(cx_cli *cli, int argc, char **argv)
{
    return cli_dispatch(cli, "model", model_commands, argc, argv);
}
