/* cmd_groups.c — the two-word command groups (`cloakx attest ...`, `cloakx bench ...`):
 * each is a small table dispatched by cli_dispatch; the sub-commands live in cmd_*.c. */
#include "cli.h"

static const cx_command attest_commands[] = {
    /* attestation sub-commands: one line each */
    {NULL, NULL, NULL},
};

static const cx_command bench_commands[] = {
    /* benchmark sub-commands: one line each */
    {NULL, NULL, NULL},
};

int cmd_attest(cx_cli *cli, int argc, char **argv)
{
    return cli_dispatch(cli, "attest", attest_commands, argc, argv);
}

int cmd_bench(cx_cli *cli, int argc, char **argv)
{
    return cli_dispatch(cli, "bench", bench_commands, argc, argv);
}
