/* cmd_keyserver.c — `cloakx keyserver init|show|run`: a local Seal key server, the embedded
 * stand-in for Seal's key servers as local: stands in for Walrus (chain/RULES.md §2.3). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#ifdef CX_HAVE_SEAL

#define KEYFILE_MAX 4096

/* A key file: {"object_id": "0x…", "msk": "<64 hex>"}, mode 0600. The msk lands in secure
 * memory; the caller wipes ks. */
static cx_err keyfile_load(const char *path, cx_seal_ks *ks, uint8_t object_id[CX_SEAL_ADDR_LEN],
                           cx_error *e)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    cx_err rc = cx_file_read_all(path, KEYFILE_MAX, &raw, &len, e);
    if (rc != CX_OK)
        return rc;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    cx_memwipe(raw, len);
    free(raw);
    const char *id = json_string_value(json_object_get(j, "object_id"));
    const char *msk = json_string_value(json_object_get(j, "msk"));
    cx_chain_addr oid;
    size_t got = 0;
    if (!id || !msk || cx_chain_id_from_hex(id, &oid, e) != CX_OK ||
        cx_hex_decode(msk, strlen(msk), ks->msk, sizeof ks->msk, &got, e) != CX_OK ||
        got != sizeof ks->msk)
        rc = cx_error_set(e, CX_ERR_FORMAT,
                          "%s: not a key server key file (object_id and msk, 32 bytes hex)", path);
    else
        memcpy(object_id, oid.b, CX_SEAL_ADDR_LEN);
    if (msk)
        cx_memwipe((void *)msk, strlen(msk));
    json_decref(j);
    return rc;
}

/* {"object_id", "public_key"} (and, running, "url" and "package"): what encryptors and
 * requesters pin. */
static int print_identity(cx_cli *cli, const uint8_t object_id[CX_SEAL_ADDR_LEN],
                          const uint8_t msk[CX_SEAL_SCALAR_LEN], const char *url,
                          const cx_chain_addr *package)
{
    cx_error e;
    uint8_t pk[CX_SEAL_G2_LEN];
    char id_hex[2 + 2 * CX_SEAL_ADDR_LEN + 1] = "0x", pk_hex[2 * CX_SEAL_G2_LEN + 1];
    if (cx_seal_public_key(msk, pk, &e) != CX_OK ||
        cx_hex_encode(object_id, CX_SEAL_ADDR_LEN, id_hex + 2, sizeof id_hex - 2, &e) != CX_OK ||
        cx_hex_encode(pk, sizeof pk, pk_hex, sizeof pk_hex, &e) != CX_OK)
        return cli_fail(cli, &e);
    json_t *j = json_pack("{s:s, s:s}", "object_id", id_hex, "public_key", pk_hex);
    char pkg[CX_CHAIN_ID_HEX_LEN + 1] = "";
    if (package)
        cx_chain_id_to_hex(package, pkg);
    if (j && url)
        json_object_set_new(j, "url", json_string(url));
    if (j && package)
        json_object_set_new(j, "package", json_string(pkg));
    return cli_role_print(cli, j, "key server %s\npublic key %s%s%s%s%s\n", id_hex, pk_hex,
                          url ? "\nlistening on " : "", url ? url : "",
                          package ? "\npolicy package " : "", pkg);
}

/* The --keys FILE argument of init and show (help text printed on -h). 1: go on with *path;
 * 0: stop with *exit_code. */
static int keys_arg(cx_cli *cli, int argc, char **argv, const char *help, const char **path,
                    int *exit_code)
{
    *path = NULL;
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        *exit_code = CX_EXIT_OK;
        return 0;
    }
    const cli_arg args[] = {{.name = "--keys", .val = path}, {0}};
    *exit_code = cli_args_parse(cli, argc, argv, args);
    if (*exit_code)
        return 0;
    if (!*path) {
        *exit_code = cli_usage(cli, "--keys FILE is required");
        return 0;
    }
    return 1;
}

static int keyserver_init(cx_cli *cli, int argc, char **argv)
{
    const char *path;
    int ret;
    if (!keys_arg(cli, argc, argv,
                  "usage: cloakx keyserver init --keys FILE [--json]\n\n"
                  "Creates a key server's master key and object id in FILE (mode 0600; an\n"
                  "existing file is never overwritten) and prints the object id and public key\n"
                  "that sellers and enclaves pin.\n",
                  &path, &ret))
        return ret;
    if (access(path, F_OK) == 0)
        return cli_usage(cli, "%s exists: a key server's key is never overwritten", path);
    cx_error e;
    uint8_t msk[CX_SEAL_SCALAR_LEN], oid[CX_SEAL_ADDR_LEN];
    char msk_hex[2 * CX_SEAL_SCALAR_LEN + 1], id_hex[2 + 2 * CX_SEAL_ADDR_LEN + 1] = "0x";
    char *text = NULL;
    cx_err rc = cx_seal_master_key_generate(msk, &e);
    if (rc == CX_OK && RAND_bytes(oid, sizeof oid) != 1)
        rc = cx_error_set(&e, CX_ERR_CRYPTO, "keyserver: no randomness for the object id");
    if (rc == CX_OK)
        rc = cx_hex_encode(msk, sizeof msk, msk_hex, sizeof msk_hex, &e);
    if (rc == CX_OK)
        rc = cx_hex_encode(oid, sizeof oid, id_hex + 2, sizeof id_hex - 2, &e);
    if (rc == CX_OK &&
        asprintf(&text, "{\"object_id\": \"%s\", \"msk\": \"%s\"}\n", id_hex, msk_hex) < 0)
        rc = cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
    if (rc == CX_OK)
        rc = cx_file_write_atomic(path, text, strlen(text), 0600, &e);
    ret = rc == CX_OK ? print_identity(cli, oid, msk, NULL, NULL) : cli_fail(cli, &e);
    if (text) {
        cx_memwipe(text, strlen(text));
        free(text);
    }
    cx_memwipe(msk_hex, sizeof msk_hex);
    cx_memwipe(msk, sizeof msk);
    return ret;
}

static int keyserver_show(cx_cli *cli, int argc, char **argv)
{
    const char *path;
    int ret;
    if (!keys_arg(cli, argc, argv,
                  "usage: cloakx keyserver show --keys FILE [--json]\n\n"
                  "Prints the key server's object id and public key.\n",
                  &path, &ret))
        return ret;
    cx_error e;
    cx_seal_ks ks = {0};
    uint8_t oid[CX_SEAL_ADDR_LEN];
    ret = keyfile_load(path, &ks, oid, &e) == CX_OK ? print_identity(cli, oid, ks.msk, NULL, NULL)
                                                    : cli_fail(cli, &e);
    cx_memwipe(&ks, sizeof ks);
    return ret;
}

static int keyserver_run(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx keyserver run --keys FILE --ledger L [--listen HOST:PORT]\n"
               "         [--package 0x…] [--max-ttl MIN] [--json]\n\n"
               "Serves Seal's key-server API (POST /v1/fetch_key) on HOST:PORT (default\n"
               "127.0.0.1:2024; port 0 picks a free one, printed) until stopped by a signal.\n"
               "A key is released only under the marketplace's policies on the ledger\n"
               "(chain/RULES.md §2.3): a dataset key to an enclave the pool's operator added,\n"
               "a model key to the job's buyer once the job is paid. --package: the policy\n"
               "package's id (default: the local market's, SHA-256 of\n"
               "\"cloakx/local-market/seal_policy\"); --max-ttl: the longest session\n"
               "accepted, 1..30 minutes (default 30).\n");
        return CX_EXIT_OK;
    }
    const char *path = NULL, *ledger_url = NULL, *listen = "127.0.0.1:2024", *package = NULL,
               *ttl_s = NULL;
    const cli_arg args[] = {{.name = "--keys", .val = &path},
                            {.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
                            {.name = "--listen", .val = &listen},
                            {.name = "--package", .val = &package},
                            {.name = "--max-ttl", .val = &ttl_s},
                            {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!path || !ledger_url)
        return cli_usage(cli, "--keys FILE and --ledger L are required");
    cx_error e;
    cx_error_clear(&e);
    cx_seal_ks ks = {.max_ttl_min = CX_SEAL_TTL_MIN_MAX, .log = &cli->log};
    uint64_t v;
    if (ttl_s) {
        if (cli_parse_u64(ttl_s, "--max-ttl", &v, &e) != CX_OK || v < 1 || v > CX_SEAL_TTL_MIN_MAX)
            return cli_usage(cli, "--max-ttl takes 1..%d minutes", CX_SEAL_TTL_MIN_MAX);
        ks.max_ttl_min = (uint32_t)v;
    }
    if (!package)
        cx_seal_local_package(&ks.package);
    else if (cx_chain_id_from_hex(package, &ks.package, &e) != CX_OK)
        return cli_fail(cli, &e);
    uint8_t oid[CX_SEAL_ADDR_LEN];
    cx_seal_ks_server *srv = NULL;
    cx_err rc = keyfile_load(path, &ks, oid, &e);
    if (rc == CX_OK)
        rc = cx_job_ledger_open(ledger_url, &cli->log, &ks.ledger, &e);
    if (rc == CX_OK)
        rc = cx_seal_ks_server_start(&ks, listen, &srv, &e);
    int ret = CX_EXIT_OK;
    if (rc == CX_OK) {
        char url[96];
        const char *colon = strrchr(listen, ':');
        snprintf(url, sizeof url, "http://%.*s:%u", (int)(colon - listen), listen,
                 cx_seal_ks_server_port(srv));
        ret = print_identity(cli, oid, ks.msk, url, &ks.package);
        fflush(stdout);
        /* until a signal ends the process: the server keeps no state to save */
        while (ret == CX_EXIT_OK)
            pause();
    } else {
        ret = cli_fail(cli, &e);
    }
    cx_seal_ks_server_stop(srv);
    cx_ledger_close(ks.ledger);
    cx_memwipe(&ks, sizeof ks);
    return ret;
}

static const cx_command keyserver_commands[] = {
    {"init", "create a key server's master key file; print its object id and public key",
     keyserver_init},
    {"show", "print a key server's object id and public key", keyserver_show},
    {"run", "serve Seal's key-server API under the marketplace's policies", keyserver_run},
    {NULL, NULL, NULL},
};

int cmd_keyserver(cx_cli *cli, int argc, char **argv)
{
    return cli_dispatch(cli, "keyserver", keyserver_commands, argc, argv);
}

#else

int cmd_keyserver(cx_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage(cli, "keyserver: this build has no Seal (blst could not be fetched at "
                          "configure time)");
}

#endif
