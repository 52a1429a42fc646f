/* cmd_contribute.c — `cloakx contribute`: a seller seals data files to the attested key of an
 * enclave the pool's operator added (pool and contributor bound in the header), stores and
 * registers each blob. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cx_err fd_write(void *ctx, const void *buf, size_t len, cx_error *e)
{
    return cx_write_full(*(int *)ctx, buf, len, e);
}

/* How a blob's data key is sealed: to an enclave's X25519 key (x_pk), or (seal, with the
 * seal module) into a Seal object for the pool that the key servers release to its enclaves. */
typedef struct key_target {
    const uint8_t *x_pk;
    const void *seal; /* const cx_seal_config * */
    const cx_chain_id *pool;
} key_target;

/* Seal one file into a temporary file (ciphertext only), then put it in the store. */
static cx_err seal_and_store(cx_store *s, const char *path, const key_target *kt,
                             const char *pool_hex, const char *contributor,
                             char id[CX_STORE_ID_MAX], cx_error *e)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return cx_error_errno(e, CX_ERR_IO, errno, "%s", path);
    struct stat sb;
    if (fstat(in, &sb) != 0) {
        int en = errno;
        close(in);
        return cx_error_errno(e, CX_ERR_IO, en, "%s", path);
    }
    const char *tmpdir = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/cloakx-seal-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int out = mkstemp(tmpl);
    if (out < 0) {
        int en = errno;
        close(in);
        return cx_error_errno(e, CX_ERR_IO, en, "creating a temporary file in %s", tmpl);
    }
    unlink(tmpl);
    cx_data_format f = cx_data_format_from_path(path);
    cx_cxb_seal_params p = {.recipient_pub = kt->x_pk,
                            .pool_id = pool_hex,
                            .contributor = contributor,
                            .content_type = f == CX_DATA_JSONL ? CX_CONTENT_JSONL
                                            : f == CX_DATA_F32 ? CX_CONTENT_F32
                                                               : CX_CONTENT_CSV};
    cx_err rc = CX_OK;
    uint8_t *obj = NULL, *data_key = NULL;
    size_t obj_len = 0;
#ifdef CX_HAVE_SEAL
    if (kt->seal) {
        if (!(data_key = cx_secmem_alloc(32, 0, e)))
            rc = CX_ERR_NOMEM;
        else
            rc = cx_seal_dataset_object(kt->seal, kt->pool, &obj, &obj_len, data_key, e);
        p.recipient_pub = NULL;
        p.key_object = obj;
        p.key_object_len = obj_len;
        p.data_key = data_key;
    }
#endif
    cx_reader r;
    cx_reader_from_fd(&r, in);
    cx_writer w = {fd_write, &out};
    if (rc == CX_OK)
        rc = cx_cxb_seal(&p, &r, (uint64_t)sb.st_size, &w, NULL, NULL, e);
    cx_secmem_free(data_key);
    free(obj);
    close(in);
    if (rc == CX_OK && lseek(out, 0, SEEK_SET) != 0)
        rc = cx_error_errno(e, CX_ERR_IO, errno, "rewinding the sealed file");
    if (rc == CX_OK) {
        cx_reader_from_fd(&r, out);
        rc = cx_store_put(s, &r, id, e);
    }
    close(out);
    if (rc != CX_OK)
        cx_error_prefix(e, "%s: ", path);
    return rc;
}

int cmd_contribute(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx contribute [--ledger L] [--store S] --key DIR --pool POOL\n"
               "         [--devca DIR] [--allow-simulated] [--enclave ID] [--no-register]\n"
               "         [--keyservers FILE] FILE... | --blob BLOB_ID   [--json]\n\n"
               "For each FILE (CSV, JSON lines or f32, by extension): picks the enclave the\n"
               "pool's operator added to the pool most recently (or --enclave, which must be\n"
               "one of those; an enclave anybody else registered is never a target) and says\n"
               "which, checks its attestation document from the\n"
               "store (verified under the AWS Nitro root, or the development root of --devca\n"
               "with --allow-simulated; its keys, the X25519 endorsement, and a measurement\n"
               "the pool accepts), seals the file to its X25519 key with the pool id and the\n"
               "seller's address (from --key) in the authenticated header, stores the blob\n"
               "and registers it in the pool, signed by --key. The plaintext never leaves this\n"
               "machine. --no-register only stores; --blob registers an already stored blob.\n"
               "--keyservers FILE (or CLOAKX_KEYSERVERS): seal each file's data key with Seal\n"
               "instead, to the pool under the key servers FILE lists (JSON: package,\n"
               "threshold, servers with url, object_id, public_key): they release it only to\n"
               "an enclave the pool's operator added (chain/RULES.md §2.3), checked on every\n"
               "request, not once here. A pool says which sealings it accepts (`cloakx pool\n"
               "show`); a file sealed another way is refused before it is stored.\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *store_url = NULL, *key = NULL, *pool_s = NULL, *devca_s = NULL,
               *enclave_s = NULL, *blob = NULL, *keyservers = NULL;
    int allow_sim = 0, no_register = 0;
    const char **files = calloc((size_t)argc, sizeof *files);
    size_t n_files = 0;
    if (!files) {
        cx_error e;
        cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
        return cli_fail(cli, &e);
    }
    const cli_arg args[] = {
        {.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
        {.name = "--store", .val = &store_url, .env = "CLOAKX_STORE"},
        {.name = "--key", .val = &key},
        {.name = "--pool", .val = &pool_s},
        {.name = "--devca", .val = &devca_s},
        {.name = "--enclave", .val = &enclave_s},
        {.name = "--blob", .val = &blob},
        {.name = "--keyservers", .val = &keyservers, .env = "CLOAKX_KEYSERVERS"},
        {.name = "--allow-simulated", .flag = &allow_sim},
        {.name = "--no-register", .flag = &no_register},
        {.name = "", .list = files, .n = &n_files, .cap = (size_t)argc},
        {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc) {
        free(files);
        return urc;
    }
    if (!ledger_url || !store_url || !key || !pool_s || (n_files == 0) == (blob == NULL)) {
        free(files);
        return cli_usage(cli, "--ledger, --store, --key, --pool and either FILE... or --blob "
                              "are required");
    }
    cx_error e;
    cx_error_clear(&e);
    cli_role r = {0};
    cx_ledger_enclave *ens = NULL;
    const cx_ledger_enclave *en = NULL;
    size_t ne = 0;
    char *root = NULL;
    size_t root_len = 0;
    json_t *out = json_array();
    int rc = CX_EXIT_OK;
    cx_chain_id pid;
    key_target kt = {.pool = &pid};
    cx_ledger_pool pool;
    char me[CX_CHAIN_ID_HEX_LEN + 1];
    if (!out) {
        cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (cx_chain_id_from_hex(pool_s, &pid, &e) != CX_OK ||
        cli_role_open(&r, key, ledger_url, store_url, &cli->log, &e) != CX_OK ||
        cx_ledger_pool_get(r.ledger, &pid, &pool, &e) != CX_OK)
        goto fail;
    cx_chain_id_to_hex(cx_chain_key_address(r.key), me);
    if (blob) {
        cx_chain_id cid;
        if (!cx_store_id_valid(blob)) {
            cx_error_set(&e, CX_ERR_ARG, "--blob: \"%.60s\" is not a blob id", blob);
            goto fail;
        }
        if (cx_ledger_contribution_register(r.ledger, r.key, &pid, (const uint8_t *)blob,
                                            strlen(blob), &cid, &e) != CX_OK)
            goto fail;
        char ch[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(&cid, ch);
        json_array_append_new(out, json_pack("{s:s, s:s}", "blob_id", blob, "contribution", ch));
        if (!cli->json)
            printf("registered blob %s as contribution %s\n", blob, ch);
        goto print;
    }
    /* refused here, before anything is stored: the enclave would reject the blob anyway */
    unsigned sealing = keyservers ? CX_LEDGER_SEALING_SEAL : CX_LEDGER_SEALING_HPKE;
    if (!cx_ledger_pool_accepts_sealing(&pool.policy, sealing)) {
        cx_error_set(&e, CX_ERR_VERIFY, "pool %s accepts only %s-sealed data, not %s%s", pool_s,
                     cx_ledger_sealing_name(pool.policy.sealing),
                     cx_ledger_sealing_name((uint8_t)sealing),
                     keyservers ? "" : " (seal with Seal: --keyservers FILE)");
        goto fail;
    }
#ifdef CX_HAVE_SEAL
    cx_seal_config seal;
    if (keyservers) {
        if (cx_seal_config_load(keyservers, &seal, &e) != CX_OK)
            goto fail;
        kt.seal = &seal;
        if (!cli->json)
            printf("sealing with Seal: %u of %zu key servers release the data key, only to an "
                   "enclave the pool's operator added\n",
                   seal.threshold, seal.n_servers);
        goto seal_files;
    }
#else
    if (keyservers) {
        cx_error_set(&e, CX_ERR_UNSUPPORTED, "--keyservers: this build has no Seal");
        goto fail;
    }
#endif
    if (cx_ledger_enclaves_for_pool(r.ledger, &pid, &ens, &ne, &e) != CX_OK)
        goto fail;
    for (size_t i = 0; i < ne && !en; i++) {
        char h[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(&ens[i].id, h);
        if (!enclave_s || strcmp(h, enclave_s) == 0)
            en = &ens[i];
    }
    if (!en) {
        cx_error_set(&e, CX_ERR_NOTFOUND,
                     "pool %s has no registered enclave%s%s that its operator added to it and "
                     "whose measurement it accepts (chain/RULES.md §2.1)",
                     pool_s, enclave_s ? " " : "", enclave_s ? enclave_s : "");
        goto fail;
    }
    if (allow_sim && cli_devroot_for(devca_s, &root, &root_len, &e) != CX_OK)
        goto fail;
    cx_nitro_policy pol = {
        .root_pem = root, .root_pem_len = root_len, .at_doc_time = 1, .allow_simulated = allow_sim};
    if (cx_job_enclave_check(r.store, en, &pool, &pol, &e) != CX_OK) {
        cx_error_prefix(&e, "not sealing to this enclave: ");
        goto fail;
    }
    char eh[CX_CHAIN_ID_HEX_LEN + 1], oph[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&en->id, eh);
    cx_chain_id_to_hex(&pool.operator_addr, oph);
    /* the seller sees whom its data goes to: only the pool operator's enclaves are offered */
    if (!cli->json)
        printf("sealing to enclave %s: added to the pool by its operator %s (%s of %zu)\n", eh, oph,
               enclave_s ? "chosen with --enclave" : "the most recently added", ne);
    kt.x_pk = en->x25519_pk;
#ifdef CX_HAVE_SEAL
seal_files:
#endif
    for (size_t i = 0; i < n_files; i++) {
        char id[CX_STORE_ID_MAX];
        if (seal_and_store(r.store, files[i], &kt, pool_s, me, id, &e) != CX_OK)
            goto fail;
        json_t *item = json_pack("{s:s, s:s}", "file", files[i], "blob_id", id);
        if (item)
            json_object_set_new(item, kt.seal ? "sealing" : "enclave",
                                json_string(kt.seal ? "seal" : eh));
        if (!no_register) {
            cx_chain_id cid;
            if (cx_ledger_contribution_register(r.ledger, r.key, &pid, (const uint8_t *)id,
                                                strlen(id), &cid, &e) != CX_OK) {
                json_decref(item);
                cx_error_prefix(&e, "%s (blob %s): ", files[i], id);
                goto fail;
            }
            char ch[CX_CHAIN_ID_HEX_LEN + 1];
            cx_chain_id_to_hex(&cid, ch);
            json_object_set_new(item, "contribution", json_string(ch));
            if (!cli->json)
                printf("%s: sealed to enclave %.18s…, stored as %s, contribution %s\n", files[i],
                       eh, id, ch);
        } else if (!cli->json) {
            printf("%s: sealed to enclave %.18s…, stored as %s (not registered)\n", files[i], eh,
                   id);
        }
        json_array_append_new(out, item);
    }
print:
    if (cli->json) {
        json_t *j = json_pack("{s:s, s:s, s:O}", "contributor", me, "pool", pool_s, "blobs", out);
        if (j && en) /* eh, oph: set when en was picked */
            json_object_set_new(j, "enclave", json_pack("{s:s, s:s}", "id", eh, "added_by", oph));
        if (j && kt.seal) /* Seal: the key servers release the key, to the pool's enclaves */
            json_object_set_new(j, "sealing", json_string("seal"));
        rc = cli_print_json(cli, j);
    }
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    json_decref(out);
    free(root);
    free(ens);
    free(files);
    cli_role_close(&r);
    return rc;
}
