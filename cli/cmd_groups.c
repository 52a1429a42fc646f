/* cmd_groups.c — the two-word command groups (`cloakx attest ...`, `cloakx bench ...`):
 * each is a small table dispatched by cli_dispatch; the sub-commands live in cmd_*.c. */
#include "cli.h"

static const cx_command attest_commands[] = {
    /* attestation sub-commands: one line each */
    {"verify-nitro", "verify an AWS Nitro attestation document (chain, signature, PCRs)", cmd_attest_verify_nitro},
    {"inspect", "pretty-print a Nitro document, GPU report, evidence JSON or result bundle", cmd_attest_inspect},
    {"verify-gpu", "verify NVIDIA H100 CC evidence (report, chain, FWID)", cmd_attest_verify_gpu},
    {"collect-gpu", "collect GPU evidence through NVML (CC node)", cmd_attest_collect_gpu},
    {NULL, NULL, NULL},
};

static const cx_command bench_commands[] = {
    /* benchmark sub-commands: one line each */
    {"decrypt", "decryption pipeline vs OpenSSL's own AES-256-GCM loop; 1 vs 2 threads", cmd_bench_decrypt},
    {"parse", "CSV parse rate per thread and on all threads, beside a strtof split loop", cmd_bench_parse},
    {"train", "reference MLP training: samples/s, GFLOP/s vs SGEMM; DP-SGD vs plain epoch", cmd_bench_train},
    {"report", "run the suite; report.json and one HTML page of plots (--out DIR)", cmd_bench_report},
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
