/* cmd_balance.c — `cloakx balance`: an address's balance on the ledger, and the local ledger's
 * SIMULATED faucet (test and demo money; the Sui backend has no such thing). */
#include "cli.h"
#include "job.h"

#include <string.h>

int cmd_balance(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx balance [--ledger L] (--key DIR | --address 0x…) [--faucet N] "
               "[--json]\n\n"
               "Prints the balance of the key dir's address (or --address) on the ledger\n"
               "(--ledger or $CLOAKX_LEDGER). --faucet N first credits N units of SIMULATED\n"
               "money: local ledger only, for tests and the demo.\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *key = NULL, *addr_s = NULL, *faucet_s = NULL;
    for (int i = 1; i < argc; i++) {
        if (cx_job_opt(argc, argv, &i, "--ledger", &ledger_url) ||
            cx_job_opt(argc, argv, &i, "--key", &key) ||
            cx_job_opt(argc, argv, &i, "--address", &addr_s) ||
            cx_job_opt(argc, argv, &i, "--faucet", &faucet_s))
            continue;
        return cli_usage(cli, "unexpected argument '%s'", argv[i]);
    }
    ledger_url = cx_job_env_default(ledger_url, "CLOAKX_LEDGER");
    if (!ledger_url || (!key == !addr_s))
        return cli_usage(cli, "--ledger and one of --key or --address are required");
    cx_error e;
    cx_error_clear(&e);
    cx_ledger *l = NULL;
    cx_chain_key *k = NULL;
    cx_chain_addr a;
    uint64_t faucet = 0, bal = 0;
    int rc = CX_EXIT_OK;
    if (faucet_s && cx_job_parse_u64(faucet_s, "--faucet", &faucet, &e) != CX_OK)
        return cli_fail(cli, &e);
    if (key) {
        if (cx_job_identity_load(key, &k, &e) != CX_OK)
            goto fail;
        a = *cx_chain_key_address(k);
    } else if (cx_chain_id_from_hex(addr_s, &a, &e) != CX_OK) {
        goto fail;
    }
    if (cx_job_ledger_open(ledger_url, &cli->log, &l, &e) != CX_OK)
        goto fail;
    if (faucet_s && cx_ledger_local_faucet(l, &a, faucet, &e) != CX_OK)
        goto fail;
    if (cx_ledger_balance_get(l, &a, &bal, &e) != CX_OK)
        goto fail;
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&a, hex);
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:I, s:s}", "address", hex, "balance", (json_int_t)bal,
                              "ledger", cx_ledger_backend_name(l));
        if (faucet_s)
            json_object_set_new(j, "faucet_simulated", json_integer((json_int_t)faucet));
        rc = cli_print_json(cli, j);
    } else {
        if (faucet_s)
            printf("credited %llu SIMULATED units (local faucet)\n", (unsigned long long)faucet);
        printf("%s: %llu\n", hex, (unsigned long long)bal);
    }
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    cx_ledger_close(l);
    cx_chain_key_free(k);
    return rc;
}
