/* cmd_balance.c — `cloakx balance`: an address's balance on the ledger, and the local ledger's
 * SIMULATED faucet (test and demo money; the Sui backend has no such thing). */
#include "cli.h"

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
    const cli_arg args[] = {{.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
                           {.name = "--key", .val = &key},
                           {.name = "--address", .val = &addr_s},
                           {.name = "--faucet", .val = &faucet_s},
                           {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!ledger_url || (!key == !addr_s))
        return cli_usage(cli, "--ledger and one of --key or --address are required");
    cx_error e;
    cx_error_clear(&e);
    cli_role r = {0};
    cx_chain_addr a;
    uint64_t faucet = 0, bal = 0;
    int rc = CX_EXIT_OK;
    if (faucet_s && cli_parse_u64(faucet_s, "--faucet", &faucet, &e) != CX_OK)
        return cli_fail(cli, &e);
    if (!key && cx_chain_id_from_hex(addr_s, &a, &e) != CX_OK)
        goto fail;
    if (cli_role_open(&r, key, ledger_url, NULL, &cli->log, &e) != CX_OK)
        goto fail;
    if (key)
        a = *cx_chain_key_address(r.key);
    if (faucet_s && cx_ledger_local_faucet(r.ledger, &a, faucet, &e) != CX_OK)
        goto fail;
    if (cx_ledger_balance_get(r.ledger, &a, &bal, &e) != CX_OK)
        goto fail;
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&a, hex);
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:I, s:s}", "address", hex, "balance", (json_int_t)bal,
                              "ledger", cx_ledger_backend_name(r.ledger));
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
    cli_role_close(&r);
    return rc;
}
