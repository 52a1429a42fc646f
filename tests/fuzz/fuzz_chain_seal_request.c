/* fuzz_chain_seal_request.c — libFuzzer target for what a key server reads from the network: a
 * ProgrammableTransaction that decodes re-encodes to exactly its bytes, and a fetch_key body never
 * crashes the key server and never gets a key without a signature it cannot forge. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cx_chain.h"

static cx_seal_ks g_ks; /* the fuzzer's own fixture, made once */
static char g_dir[] = "/tmp/cx_fuzz_ks_XXXXXX", g_path[64];

static void remove_fixture(void)
{
    cx_ledger_close(g_ks.ledger);
    unlink(g_path);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!mkdtemp(g_dir))
        abort();
    snprintf(g_path, sizeof g_path, "%s/ledger.db", g_dir);
    if (cx_ledger_local_open(g_path, NULL, &g_ks.ledger, NULL) != CX_OK ||
        cx_seal_master_key_generate(g_ks.msk, NULL) != CX_OK)
        abort();
    memset(g_ks.package.b, 0xd0, sizeof g_ks.package.b);
    g_ks.max_ttl_min = CX_SEAL_TTL_MIN_MAX;
    atexit(remove_fixture);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_sui_tx tx;
    if (cx_sui_ptb_decode(data, size, &tx, NULL) == CX_OK) {
        uint8_t *re = NULL;
        size_t rl = 0;
        if (cx_sui_ptb_encode(&tx, &re, &rl, NULL) != CX_OK || rl != size ||
            memcmp(re, data, size) != 0)
            __builtin_trap();
        free(re);
        cx_sui_tx_free(&tx);
    }
    int status = 0;
    char *resp = NULL;
    if (cx_seal_ks_fetch_key(&g_ks, (const char *)data, size, "1.0.0", 1760000000000ull, &status,
                             &resp, NULL) != CX_OK)
        return 0;
    if (!resp || status == 200) /* a key for bytes that nobody signed */
        __builtin_trap();
    free(resp);
    return 0;
}
