/* cmd_keygen.c — `cloakx keygen --out DIR`: an X25519 key pair (receiving sealed data) and an
 * Ed25519 key pair (signing), in the text format of io/FORMAT.md, secrets 0600. */
#include "cli.h"

#include <string.h>

int cmd_keygen(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx keygen --out DIR [--force] [--json]\n\n"
               "Writes DIR/x25519.key + DIR/x25519.pub (receive sealed data: others seal to\n"
               "x25519.pub with 'cloakx seal --to') and DIR/ed25519.key + DIR/ed25519.pub\n"
               "(signing). Secret files are created with mode 0600; existing files are kept\n"
               "unless --force. Formats: io/FORMAT.md.\n");
        return CX_EXIT_OK;
    }
    const char *dir = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--force") == 0)
            force = 1;
        else
            return cli_usage(cli, "unexpected argument '%s'", argv[i]);
    }
    if (!dir)
        return cli_usage(cli, "--out DIR is required");

    cx_error e;
    cx_error_clear(&e);
    cli_keydir k;
    if (cli_keydir_create(dir, force, &k, &e) != CX_OK)
        return cli_fail(cli, &e);
    const cx_x25519_key *x = k.x;
    const cx_ed25519_key *ed = k.ed;
    const char *xk = k.path[CLI_KEYDIR_X_KEY], *xp = k.path[CLI_KEYDIR_X_PUB],
               *ek = k.path[CLI_KEYDIR_ED_KEY], *ep = k.path[CLI_KEYDIR_ED_PUB];
    int rc = CX_EXIT_OK;
    uint8_t id[CX_CXB_KEY_ID_LEN];
    cx_x25519_key_id(x, id);
    char idhex[2 * CX_CXB_KEY_ID_LEN + 1], xpub[64], epub[64];
    if (cx_hex_encode(id, sizeof id, idhex, sizeof idhex, &e) != CX_OK ||
        cx_base64_encode(cx_x25519_key_public(x), 32, xpub, sizeof xpub, &e) != CX_OK ||
        cx_base64_encode(cx_ed25519_key_public(ed), 32, epub, sizeof epub, &e) != CX_OK) {
        rc = cli_fail(cli, &e);
        goto done;
    }
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "x25519_key", xk,
                              "x25519_pub", xp, "ed25519_key", ek, "ed25519_pub", ep,
                              "x25519_public", xpub, "x25519_key_id", idhex, "ed25519_public",
                              epub);
        if (!j) {
            cx_error_set(&e, CX_ERR_NOMEM, "building JSON");
            rc = cli_fail(cli, &e);
            goto done;
        }
        rc = cli_print_json(cli, j);
    } else {
        printf("X25519 (receive sealed data): %s, %s\n  key id %s\n", xk, xp, idhex);
        printf("Ed25519 (signing):            %s, %s\n", ek, ep);
    }
done:
    cli_keydir_free(&k);
    return rc;
}
