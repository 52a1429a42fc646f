/* cmd_demo.c — `cloakx demo`: the whole marketplace on the embedded defaults in one process
 * (local ledger, local store, SIMULATED TEE): sellers, a thief, a buyer, the worker, payouts. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

enum { DEMO_MAX_SELLERS = 200, DEMO_CHUNK = 4096 };

typedef struct ident {
    char dir[PATH_MAX];
    cx_chain_key *key;
    uint8_t x_pub[32];
    char addr[CX_CHAIN_ID_HEX_LEN + 1];
} ident;

typedef struct demo {
    cx_cli *cli;
    FILE *say;
    int step, nsteps;
    char dir[PATH_MAX];
    json_t *worker_report;
    char worker_status[16];
    char worker_error[CX_ERROR_MSG_MAX + 64];
} demo;

static void step(demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void step(demo *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(d->say, "[%d/%d] ", ++d->step, d->nsteps);
    vfprintf(d->say, fmt, ap);
    fputc('\n', d->say);
    va_end(ap);
    fflush(d->say);
}

/* A role's key dir, as `cloakx keygen` makes it, so the CLI can be used on the demo dir. */
static cx_err ident_make(const char *keys_dir, const char *name, ident *id, cx_error *e)
{
    memset(id, 0, sizeof *id);
    cli_keydir k;
    cx_err rc = cx_job_path_join(id->dir, sizeof id->dir, keys_dir, name, e);
    if (rc == CX_OK && (rc = cli_keydir_create(id->dir, 1, &k, e)) == CX_OK) {
        memcpy(id->x_pub, cx_x25519_key_public(k.x), 32);
        rc = cx_chain_key_from_seed(cx_ed25519_key_seed(k.ed), &id->key, e);
        cli_keydir_free(&k);
    }
    if (rc == CX_OK)
        cx_chain_id_to_hex(cx_chain_key_address(id->key), id->addr);
    return rc;
}

#ifdef CX_HAVE_SEAL
/* --seal: three local Seal key servers on loopback, threshold 2, each with its own master key
 * and its own handle on the demo's ledger (chain/RULES.md §2.3 policies). */
enum { DEMO_KEY_SERVERS = 3 };
typedef struct demo_seal {
    cx_seal_ks ks[DEMO_KEY_SERVERS];
    cx_seal_ks_server *srv[DEMO_KEY_SERVERS];
    cx_seal_config cfg;
} demo_seal;

static cx_err demo_seal_start(demo_seal *ds, const char *ledger_path, const cx_logger *log,
                              cx_error *e)
{
    cx_seal_local_package(&ds->cfg.package);
    ds->cfg.threshold = 2;
    ds->cfg.timeout_ms = 10000;
    for (int i = 0; i < DEMO_KEY_SERVERS; i++) {
        cx_seal_ks *k = &ds->ks[i];
        cx_seal_endpoint *ep = &ds->cfg.servers[i];
        cx_err rc = cx_seal_master_key_generate(k->msk, e);
        if (rc == CX_OK)
            rc = cx_job_ledger_open(ledger_path, log, &k->ledger, e);
        if (rc == CX_OK)
            rc = cx_seal_public_key(k->msk, ep->pk, e);
        k->package = ds->cfg.package;
        k->max_ttl_min = CX_SEAL_TTL_MIN_MAX;
        if (rc == CX_OK)
            rc = cx_seal_ks_server_start(k, "127.0.0.1:0", &ds->srv[i], e);
        if (rc != CX_OK)
            return rc;
        memset(ep->object_id, 0x51 + i, CX_SEAL_ADDR_LEN); /* the local servers' object ids */
        snprintf(ds->cfg.urls[i], sizeof ds->cfg.urls[i], "http://127.0.0.1:%u",
                 cx_seal_ks_server_port(ds->srv[i]));
        ep->url = ds->cfg.urls[i];
        ds->cfg.n_servers++;
    }
    return CX_OK;
}

static void demo_seal_stop(demo_seal *ds)
{
    for (int i = 0; i < DEMO_KEY_SERVERS; i++) {
        cx_seal_ks_server_stop(ds->srv[i]);
        cx_ledger_close(ds->ks[i].ledger);
    }
    cx_memwipe(ds, sizeof *ds);
}

/* The thief asks the key servers for the data key of blob id as himself: *refusal says why not
 * (CX_OK: refused, as it must be). */
static cx_err demo_thief_asks(const demo_seal *ds, cx_store *s, const char *id,
                              const cx_chain_key *thief, char *refusal, size_t cap, cx_error *e)
{
    uint8_t *blob = NULL, hb[CX_CXB_MAX_HEADER_LEN];
    size_t len = 0, n_keys = 0;
    cx_cxb_header h;
    cx_seal_object *o = NULL;
    uint8_t *ptb = NULL;
    size_t ptb_len = 0;
    char *body = NULL;
    cx_seal_elgamal_key k;
    cx_seal_key keys[DEMO_KEY_SERVERS];
    cx_seal_user u = cx_seal_user_of_key(thief);
    const char *kind;
    cx_err rc = cx_job_store_read_all(s, id, (size_t)1 << 30, &blob, &len, e);
    if (rc == CX_OK)
        rc = cx_cxb_header_parse(blob, len, &h, NULL, e);
    if (rc == CX_OK) {
        memcpy(hb, blob, h.header_len);
        rc = cx_seal_object_decode(hb + h.key_object_off, h.key_object_len, &o, e);
    }
    cx_seal_object_arg pool = {.initial_shared_version = 1};
    if (rc == CX_OK) {
        memcpy(pool.id.b, o->id, CX_CHAIN_ID_LEN);
        rc = cx_seal_ptb_approve(&ds->cfg.package, CX_SEAL_POLICY_MODULE, CX_SEAL_APPROVE_DATASET,
                                 o->id, o->id_len, &pool, 1, &ptb, &ptb_len, e);
    }
    if (rc == CX_OK)
        rc = cx_seal_request_build(&u, ds->cfg.package.b, ptb, ptb_len, 10, cx_unix_ms(), &k, &body,
                                   e);
    if (rc == CX_OK) {
        cx_error why;
        if (cx_seal_fetch_keys(ds->cfg.servers, ds->cfg.n_servers, body, 5000, o, &k, keys, &n_keys,
                               &why) == CX_OK)
            rc = cx_error_set(e, CX_ERR_INTERNAL, "the key servers gave the thief a data key");
        else if ((kind = strstr(why.msg, "NoAccess: ")) != NULL)
            snprintf(refusal, cap, "NoAccess from the key servers: %.*s",
                     (int)strcspn(kind + 10, ";"), kind + 10);
        else
            snprintf(refusal, cap, "%s", why.msg);
        cx_memwipe(keys, sizeof keys);
        cx_memwipe(&k, sizeof k);
    }
    free(body);
    free(ptb);
    cx_seal_object_free(o);
    free(blob);
    return rc;
}
#endif

/* A seller seals its data (in memory) to the enclave, or with Seal under the demo's key
 * servers (seal), and stores it. With tamper, one byte of chunk 1 is changed on the way to the
 * store, as a faulty or malicious storage path would. */
static cx_err seller_store(cx_store *s, const uint8_t *data, size_t len, const uint8_t enc_x[32],
                           const void *seal, const cx_chain_id *pool, const char *pool_hex,
                           const char *contributor, int tamper, char id[CX_STORE_ID_MAX],
                           cx_error *e)
{
    cx_job_membuf m = {0};
    cx_cxb_seal_params p = {.recipient_pub = enc_x,
                            .pool_id = pool_hex,
                            .contributor = contributor,
                            .content_type = CX_CONTENT_CSV,
                            .chunk_size = DEMO_CHUNK};
    cx_cxb_header h;
    cx_err rc = CX_OK;
    uint8_t *obj = NULL, *data_key = NULL;
    (void)pool;
#ifdef CX_HAVE_SEAL
    size_t obj_len = 0;
    if (seal) {
        if (!(data_key = cx_secmem_alloc(32, 0, e)))
            rc = CX_ERR_NOMEM;
        else
            rc = cx_seal_dataset_object(seal, pool, &obj, &obj_len, data_key, e);
        p.recipient_pub = NULL;
        p.key_object = obj;
        p.key_object_len = obj_len;
        p.data_key = data_key;
    }
#else
    (void)seal;
#endif
    if (rc == CX_OK)
        rc = cx_job_seal_bytes(&p, data, len, &m, &h, e);
    cx_secmem_free(data_key);
    free(obj);
    if (rc == CX_OK && tamper) {
        uint64_t c = h.chunk_count > 1 ? 1 : 0;
        size_t pl = cx_cxb_chunk_plain_len(&h, c);
        m.p[(size_t)cx_cxb_chunk_offset(&h, c) + (pl > 200 ? 100 : pl / 2)] ^= 0x01;
    }
    if (rc == CX_OK)
        rc = cx_job_store_put_bytes(s, m.p, m.len, id, e);
    free(m.p);
    return rc;
}

static void on_job(void *ud, const char *job, const char *status, const json_t *report,
                   const char *error)
{
    demo *d = ud;
    (void)job;
    snprintf(d->worker_status, sizeof d->worker_status, "%s", status);
    if (error)
        snprintf(d->worker_error, sizeof d->worker_error, "%s", error);
    json_decref(d->worker_report);
    d->worker_report = report ? json_deep_copy(report) : NULL;
}

static const char *short_addr(const char *hex, char buf[24])
{
    snprintf(buf, 24, "%.10s…%s", hex, hex + strlen(hex) - 4);
    return buf;
}

/* `cloakx demo --write-data DIR`: the same sellers' data as plaintext files plus the spec,
 * for walking through the marketplace by hand (README) and for the end-to-end tests. */
static int write_data(cx_cli *cli, const char *dir, unsigned n, size_t rows_base)
{
    cx_error e;
    cx_error_clear(&e);
    if (cx_mkdir_p(dir, 0700, &e) != CX_OK)
        return cli_fail(cli, &e);
    char path[PATH_MAX];
    json_t *files = json_array();
    for (unsigned i = 0; i < n; i++) {
        uint8_t *buf = NULL;
        size_t len = 0, rows = rows_base + (i * 137u) % (rows_base + 1);
        char name[64];
        snprintf(name, sizeof name, "seller%02u.csv", i + 1);
        if (cx_job_path_join(path, sizeof path, dir, name, &e) != CX_OK ||
            cli_demo_data_csv(2026, i, rows, &buf, &len, &e) != CX_OK)
            goto fail;
        cx_err rc = cx_file_write_atomic(path, buf, len, 0600, &e);
        cx_secmem_free(buf);
        if (rc != CX_OK)
            goto fail;
        json_array_append_new(files, json_string(path));
    }
    const char *spec = cli_demo_spec_json();
    if (cx_job_path_join(path, sizeof path, dir, "spec.json", &e) != CX_OK ||
        cx_file_write_atomic(path, spec, strlen(spec), 0644, &e) != CX_OK)
        goto fail;
    if (cli->json)
        return cli_print_json(cli, json_pack("{s:o, s:s}", "data", files, "spec", path));
    printf("wrote %u seller CSV files (SIMULATED wearable/health data) and %s\n", n, path);
    json_decref(files);
    return CX_EXIT_OK;
fail:
    json_decref(files);
    return cli_fail(cli, &e);
}

int cmd_demo(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx demo [--dir D] [--sellers N] [--rows N] [--seal]\n"
               "                   [--device auto|cpu|cuda[:N]] [--json]\n"
               "       cloakx demo --write-data DIR [--sellers N] [--rows N]\n\n"
               "Runs the whole marketplace on the embedded defaults, with no network, in a\n"
               "fresh temporary directory (or D, which must be new or empty): a local SQLite\n"
               "ledger, a local blob store and a SIMULATED TEE (development CA made on the\n"
               "spot). N sellers (default 20) with synthetic wearable and health data seal it\n"
               "to the pool's attested enclave; one seller's blob is tampered with on its way\n"
               "to the store, and a thief registers another seller's blob as his own. A buyer\n"
               "pays for a DP-SGD classification job; the worker runs it in the TEE and\n"
               "submits the signed result; the ledger pays out. The report: backend, rows and\n"
               "contributors accepted, the rejected ones with reasons, validation metrics,\n"
               "epsilon, each payout, the fees and the verification verdict (--json: as JSON).\n"
               "Key dirs of every role are left in D/keys, so every other command can be\n"
               "tried on D afterwards. --write-data writes the sellers' CSV files and the\n"
               "spec instead. --device (default auto: the GPU when one is usable, else the\n"
               "CPU) picks the worker's training backend; the report says which one ran.\n"
               "--seal: the sellers seal with Seal instead: three local key servers (threshold\n"
               "2) on loopback release each blob's data key only to an enclave the pool's\n"
               "operator added (the thief asks too, and is refused).\n");
        return CX_EXIT_OK;
    }
    const char *dir_s = NULL, *write_dir = NULL, *n_s = NULL, *rows_s = NULL, *device = NULL;
    int use_seal = 0;
    const cli_arg args[] = {{.name = "--dir", .val = &dir_s},
                            {.name = "--write-data", .val = &write_dir},
                            {.name = "--sellers", .val = &n_s},
                            {.name = "--rows", .val = &rows_s},
                            {.name = "--device", .val = &device},
                            {.name = "--seal", .flag = &use_seal},
                            {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    cx_error e;
    cx_error_clear(&e);
    uint64_t nsel = 20, rows_base = 500;
    if ((n_s && (cli_parse_u64(n_s, "--sellers", &nsel, &e) != CX_OK || nsel < 1 ||
                 nsel > DEMO_MAX_SELLERS)) ||
        (rows_s && (cli_parse_u64(rows_s, "--rows", &rows_base, &e) != CX_OK || rows_base < 50 ||
                    rows_base > 1000000)))
        return cli_usage(cli, "--sellers takes 1..%d and --rows 50..1000000", DEMO_MAX_SELLERS);
    if (write_dir)
        return write_data(cli, write_dir, (unsigned)nsel, (size_t)rows_base);
    if (nsel < 3)
        return cli_usage(cli, "the demo needs at least 3 sellers");
#ifndef CX_HAVE_SEAL
    if (use_seal)
        return cli_usage(cli, "--seal: this build has no Seal (blst was not fetched)");
#endif

    double t0 = cx_now_seconds();
    demo d = {.cli = cli, .say = cli->json ? stderr : stdout, .nsteps = use_seal ? 10 : 9};
    if (dir_s) {
        if (cx_mkdir_p(dir_s, 0700, &e) != CX_OK)
            return cli_fail(cli, &e);
        snprintf(d.dir, sizeof d.dir, "%s", dir_s);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(d.dir, sizeof d.dir, "%s/cloakx-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(d.dir)) {
            cx_error_errno(&e, CX_ERR_IO, errno, "creating a demo directory");
            return cli_fail(cli, &e);
        }
    }
    char ledger_path[PATH_MAX], store_url[PATH_MAX + 16], devca[PATH_MAX], keys[PATH_MAX],
        opstate[PATH_MAX];
    if (cx_job_path_join(ledger_path, sizeof ledger_path, d.dir, "ledger.db", &e) != CX_OK ||
        cx_job_path_join(devca, sizeof devca, d.dir, "devca", &e) != CX_OK ||
        cx_job_path_join(keys, sizeof keys, d.dir, "keys", &e) != CX_OK ||
        cx_job_path_join(opstate, sizeof opstate, d.dir, "operator", &e) != CX_OK)
        return cli_fail(cli, &e);
    snprintf(store_url, sizeof store_url, "local:%s/store", d.dir);
    if (access(ledger_path, F_OK) == 0) {
        cx_error_set(&e, CX_ERR_STATE, "%s already holds a demo: give a new --dir", d.dir);
        return cli_fail(cli, &e);
    }

    int rc = CX_EXIT_OK;
    const void *seal = NULL; /* const cx_seal_config *, with --seal */
#ifdef CX_HAVE_SEAL
    demo_seal ds;
    memset(&ds, 0, sizeof ds);
#endif
    cx_ledger *l = NULL;
    cx_store *s = NULL;
    cx_tee *tee = NULL;
    char *root = NULL;
    size_t root_len = 0;
    ident op, buyer, thief, *sellers = calloc(nsel, sizeof *sellers);
    memset(&op, 0, sizeof op);
    memset(&buyer, 0, sizeof buyer);
    memset(&thief, 0, sizeof thief);
    char(*blob_ids)[CX_STORE_ID_MAX] = calloc(nsel, sizeof *blob_ids);
    uint64_t *rows = calloc(nsel, sizeof *rows);
    json_t *report = json_object(), *checks = NULL;
    cx_result_bundle bundle;
    memset(&bundle, 0, sizeof bundle);
    cx_ledger_result res;
    memset(&res, 0, sizeof res);
    cx_statement st;
    memset(&st, 0, sizeof st);
    uint8_t *mblob = NULL, *model = NULL;
    size_t mblob_len = 0, model_len = 0;
    cx_x25519_key *buyer_x = NULL;
    if (!sellers || !blob_ids || !rows || !report) {
        cx_error_set(&e, CX_ERR_NOMEM, "demo: out of memory");
        goto fail;
    }
    /* seller 7 (or the first) is tampered with; the last one is robbed */
    const unsigned tampered = nsel >= 8 ? 6 : 0, victim = (unsigned)nsel - 1;

    /* 1. the embedded defaults */
    step(&d,
         "embedded defaults in %s: local SQLite ledger, local blob store, SIMULATED TEE "
         "(development CA made now); no network",
         d.dir);
    if (cx_job_ledger_open(ledger_path, &cli->log, &l, &e) != CX_OK ||
        cx_job_store_open(store_url, &cli->log, &s, &e) != CX_OK ||
        cx_tee_sim_devca_create(devca, &e) != CX_OK ||
        cli_devroot_load(devca, &root, &root_len, &e) != CX_OK)
        goto fail;
#ifdef CX_HAVE_SEAL
    if (use_seal) {
        if (demo_seal_start(&ds, ledger_path, &cli->log, &e) != CX_OK)
            goto fail;
        seal = &ds.cfg;
        fprintf(d.say,
                "      + 3 local Seal key servers on loopback (%s, %s, %s), threshold 2, "
                "policies on the local ledger\n",
                ds.cfg.urls[0], ds.cfg.urls[1], ds.cfg.urls[2]);
    }
#endif

    /* 2. identities */
    if (ident_make(keys, "operator", &op, &e) != CX_OK ||
        ident_make(keys, "buyer", &buyer, &e) != CX_OK ||
        ident_make(keys, "thief", &thief, &e) != CX_OK)
        goto fail;
    for (unsigned i = 0; i < nsel; i++) {
        char name[32];
        snprintf(name, sizeof name, "seller%02u", i + 1);
        if (ident_make(keys, name, &sellers[i], &e) != CX_OK)
            goto fail;
    }
    step(&d,
         "identities: operator, buyer, %u sellers and a thief (Ed25519 addresses, X25519 "
         "keys in %s)",
         (unsigned)nsel, keys);

    /* 3. pool */
    uint8_t meas[48];
    if (cx_job_measure_self(meas, &e) != CX_OK)
        goto fail;
    cx_ledger_pool_params pp = {
        .theme = "Wearables & health: 1-year cardiometabolic risk",
        .price = 10000,
        .min_contributors = nsel >= 7 ? 5 : (uint32_t)nsel - 2,
        .max_rows_per_contributor = 900,
        .operator_fee_bps = 500,
        .protocol_fee_bps = 100,
        .n_measurements = 1,
        .operator_addr = *cx_chain_key_address(op.key),
    };
    pp.measurements[0] = meas;
    pp.measurement_lens[0] = 48;
    cx_chain_id pool_id;
    char pool_hex[CX_CHAIN_ID_HEX_LEN + 1];
    if (cx_ledger_pool_create(l, op.key, &pp, &pool_id, &e) != CX_OK)
        goto fail;
    cx_chain_id_to_hex(&pool_id, pool_hex);
    step(&d,
         "pool %.18s… \"%s\": price %llu, k = %u, rows capped at %llu per seller, fees "
         "operator %u bps + protocol %u bps",
         pool_hex, pp.theme, (unsigned long long)pp.price, pp.min_contributors,
         (unsigned long long)pp.max_rows_per_contributor, pp.operator_fee_bps, pp.protocol_fee_bps);

    /* 4. enclave */
    cx_job_registration reg;
    if (cx_job_tee_open(opstate, devca, &cli->log, &tee, &e) != CX_OK ||
        cx_job_enclave_register(l, s, tee, op.key, root, root_len, 1, &pool_id, opstate, &reg,
                                &e) != CX_OK)
        goto fail;
    char enc_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&reg.id, enc_hex);
    cx_tee_close(tee); /* the worker opens it again from its state, as a separate node would */
    tee = NULL;
    step(&d,
         "enclave %.18s… registered: SIMULATED Nitro-format document verified "
         "(--allow-simulated), measurement accepted by the pool, added to the pool by its "
         "operator (only such enclaves are sealing targets and take the pool's jobs)",
         enc_hex);

    /* 5. sellers */
    cx_nitro_policy pol = {
        .root_pem = root, .root_pem_len = root_len, .at_doc_time = 1, .allow_simulated = 1};
    cx_ledger_pool pool;
    if (cx_ledger_pool_get(l, &pool_id, &pool, &e) != CX_OK ||
        cx_job_enclave_check(s, &reg.enclave, &pool, &pol, &e) != CX_OK)
        goto fail;
    uint64_t total_rows = 0;
    cx_progress prog;
    cx_progress_start(&prog, "sealing", nsel, cli->progress);
    for (unsigned i = 0; i < nsel; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        rows[i] = rows_base + (i * 137u) % (rows_base + 1);
        total_rows += rows[i];
        if (cli_demo_data_csv(2026, i, rows[i], &data, &len, &e) != CX_OK)
            goto fail;
        cx_err src = seller_store(s, data, len, reg.enclave.x25519_pk, seal, &pool_id, pool_hex,
                                  sellers[i].addr, i == tampered, blob_ids[i], &e);
        cx_secmem_free(data);
        if (src != CX_OK)
            goto fail;
        cx_chain_id cid;
        /* the thief saw the victim's blob in the public store and claims it first; its owner
         * registers it as well (a claim does not lock the owner out: the enclave pays only
         * the registration whose contributor sealed the blob) */
        if (i == victim &&
            cx_ledger_contribution_register(l, thief.key, &pool_id, (const uint8_t *)blob_ids[i],
                                            strlen(blob_ids[i]), &cid, &e) != CX_OK)
            goto fail;
        if (cx_ledger_contribution_register(l, sellers[i].key, &pool_id,
                                            (const uint8_t *)blob_ids[i], strlen(blob_ids[i]), &cid,
                                            &e) != CX_OK)
            goto fail;
        cx_progress_update(&prog, i + 1);
    }
    cx_progress_finish(&prog);
    char sa[24], sb2[24];
    step(&d,
         "%u sellers sealed %llu rows %s and registered their blobs; seller %u's blob was "
         "altered on its way to the store; the thief %s registered seller %u's blob (%s) as "
         "his own before its owner did",
         (unsigned)nsel, (unsigned long long)total_rows,
         seal ? "with Seal (each data key in a Seal object for the pool: 2 of the 3 key servers "
                "release it, only to an enclave the pool's operator added)"
              : "to the enclave's X25519 key",
         tampered + 1, short_addr(thief.addr, sa), victim + 1, short_addr(blob_ids[victim], sb2));
#ifdef CX_HAVE_SEAL
    if (seal) {
        char refusal[CX_ERROR_MSG_MAX];
        if (demo_thief_asks(&ds, s, blob_ids[0], thief.key, refusal, sizeof refusal, &e) != CX_OK)
            goto fail;
        step(&d,
             "the thief asked the key servers for seller 1's data key as himself: refused "
             "(%s)",
             refusal);
    }
#endif

    /* 6. the buyer's job */
    json_t *spec_j = NULL;
    char *req = NULL;
    size_t req_len = 0;
    const char *spec_text = cli_demo_spec_json();
    uint64_t payment = 20000;
    if (cx_json_parse(spec_text, strlen(spec_text), &spec_j, &e) != CX_OK)
        goto fail;
    cx_err jrc = cx_job_request_build(spec_j, buyer.x_pub, &req, &req_len, &e);
    json_decref(spec_j);
    char rid[CX_STORE_ID_MAX];
    uint8_t h[32];
    cx_chain_id job_id;
    if (jrc == CX_OK) {
        SHA256((const uint8_t *)req, req_len, h);
        jrc = cx_job_store_put_bytes(s, req, req_len, rid, &e);
    }
    free(req);
    if (jrc != CX_OK ||
        cx_ledger_local_faucet(l, cx_chain_key_address(buyer.key), 50000, &e) != CX_OK ||
        cx_ledger_job_create(l, buyer.key, &pool_id, h, (const uint8_t *)rid, strlen(rid), payment,
                             cx_unix_ms() + 3600 * 1000, &job_id, &e) != CX_OK)
        goto fail;
    char job_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&job_id, job_hex);
    step(&d,
         "buyer (50000 SIMULATED units from the local faucet) created job %.18s…: MLP "
         "classifier of \"risk\" with DP-SGD (sigma 1.0, C 1.0, delta 1e-5), %llu escrowed",
         job_hex, (unsigned long long)payment);

    /* 7. the worker */
    step(&d, "worker: follows the ledger's events; the enclave accepts the job (a signed "
             "acceptance: the escrow is now locked to its result), runs it inside the SIMULATED "
             "TEE (headers checked, blobs decrypted and authenticated, parsed, trained, model "
             "sealed under a fresh key, that key wrapped to the buyer, statement and key "
             "release signed) and submits both: one transaction pays and reveals the key");
    char opdir[PATH_MAX];
    snprintf(opdir, sizeof opdir, "%s", op.dir);
    cx_worker_config wc = {.ledger_url = ledger_path,
                           .store_url = store_url,
                           .state_dir = opstate,
                           .devca_dir = devca,
                           .key_dir = opdir,
                           .once = 1,
                           .device = device,
                           .progress = cli->progress,
                           .log = &cli->log,
                           .on_job = on_job,
                           .ud = &d,
                           .seal = seal};
    cx_worker_stats ws;
    if (cx_worker_run(&wc, &ws, &e) != CX_OK)
        goto fail;
    if (strcmp(d.worker_status, "paid") != 0) {
        cx_error_set(&e, CX_ERR_STATE, "the job was not paid: %s %s", d.worker_status,
                     d.worker_error);
        goto fail;
    }

    /* 8. the buyer takes the model */
    cx_ledger_job job;
    uint64_t ts = 0;
    char mid[CX_STORE_ID_MAX], kpath[PATH_MAX], mpath[PATH_MAX];
    if (cx_ledger_job_get(l, &job_id, &job, &e) != CX_OK ||
        cx_ledger_result_get(l, &job_id, &res, &e) != CX_OK ||
        cx_statement_decode(res.statement, res.statement_len, &st, &ts, &e) != CX_OK ||
        cx_job_blob_id_str(st.result_blob_id, st.result_blob_id_len, mid, &e) != CX_OK ||
        cx_job_store_read_all(s, mid, (size_t)1 << 30, &mblob, &mblob_len, &e) != CX_OK ||
        cx_job_path_join(kpath, sizeof kpath, buyer.dir, "x25519.key", &e) != CX_OK ||
        cx_job_path_join(mpath, sizeof mpath, buyer.dir, "model.safetensors", &e) != CX_OK ||
        cx_x25519_key_load(kpath, &buyer_x, &e) != CX_OK)
        goto fail;
    /* the stored model alone is ciphertext to the buyer: sealed to the job's own key */
    cx_error ne;
    cx_cxb_keys bk = {.x25519 = buyer_x};
    if (cx_job_model_unseal(mblob, mblob_len, &bk, job_hex, &model, &model_len, &ne) == CX_OK) {
        cx_error_set(&e, CX_ERR_INTERNAL, "the stored model opened without its released key");
        goto fail;
    }
    if (cx_job_model_fetch(l, s, &job_id, buyer_x, buyer.key, seal, &model, &model_len, mid, &e) !=
            CX_OK ||
        cx_file_write_atomic(mpath, model, model_len, 0600, &e) != CX_OK)
        goto fail;
    step(&d,
         "buyer: the stored model does not open with the buyer's key alone; with %s it does, "
         "checked against the signed result hash: %s (%zu bytes, safetensors)",
         seal ? "both halves of its key, one revealed (wrapped to the buyer) by the paying "
                "transaction and one released by the key servers to the buyer because the job "
                "is paid,"
              : "the model key the paying transaction revealed (wrapped to the buyer)",
         mpath, model_len);

    /* 9. an auditor verifies */
    char bpath[PATH_MAX];
    if (cx_job_path_join(bpath, sizeof bpath, d.dir, "result.bundle.json", &e) != CX_OK ||
        cx_job_bundle_from_ledger(l, s, &job_id, &bundle, &e) != CX_OK ||
        cx_result_bundle_write(&bundle, bpath, &e) != CX_OK)
        goto fail;
    cx_job_verify_opts vo = {
        .ledger = l, .store = s, .root_pem = root, .root_pem_len = root_len, .allow_simulated = 1};
    cx_error ve;
    cx_err vrc = cx_job_verify_bundle(&bundle, &vo, &checks, &ve);
    if (vrc == CX_OK && !cx_job_verify_complete(checks)) /* VERIFIED only when all ran */
        vrc = cx_error_set(&ve, CX_ERR_VERIFY, "INCOMPLETE: a check did not run");
    step(&d, "auditor verified the result bundle %s: %s", bpath,
         vrc == CX_OK ? "VERIFIED" : ve.msg);

    /* the report */
    const json_t *wr = d.worker_report;
    json_t *payouts = json_array();
    uint64_t paid_sum = 0;
    for (size_t i = 0; i < res.split.n_payouts; i++) {
        char ah[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(&res.split.payouts[i].to, ah);
        const char *who = "?";
        uint64_t r = 0;
        char namebuf[32] = "";
        for (unsigned k = 0; k < nsel; k++)
            if (strcmp(sellers[k].addr, ah) == 0) {
                snprintf(namebuf, sizeof namebuf, "seller%02u", k + 1);
                who = namebuf;
            }
        for (size_t k = 0; k < st.n_rows; k++)
            if (memcmp(st.rows[k].contributor, res.split.payouts[i].to.b, 32) == 0)
                r = st.rows[k].rows;
        uint64_t bal = 0;
        cx_error be;
        if (cx_ledger_balance_get(l, &res.split.payouts[i].to, &bal, &be) != CX_OK)
            bal = 0;
        json_array_append_new(payouts, json_pack("{s:s, s:s, s:I, s:I, s:I}", "seller", who,
                                                 "address", ah, "rows", (json_int_t)r, "amount",
                                                 (json_int_t)res.split.payouts[i].amount, "balance",
                                                 (json_int_t)bal));
        paid_sum += res.split.payouts[i].amount;
    }
    uint64_t total = paid_sum + res.split.protocol_fee + res.split.operator_fee;
    json_t *rejected = json_deep_copy(json_object_get(wr, "rejected"));
    for (size_t i = 0; i < json_array_size(rejected); i++) {
        json_t *r = json_array_get(rejected, i);
        const char *c = json_string_value(json_object_get(r, "contributor"));
        for (unsigned k = 0; c && k < nsel; k++)
            if (strcmp(sellers[k].addr, c) == 0) {
                char nb[32];
                snprintf(nb, sizeof nb, "seller%02u", k + 1);
                json_object_set_new(r, "who", json_string(nb));
            }
        if (c && strcmp(thief.addr, c) == 0)
            json_object_set_new(r, "who", json_string("thief"));
    }
    double secs = cx_now_seconds() - t0;
    json_object_set_new(report, "dir", json_string(d.dir));
    json_object_set_new(report, "simulated",
                        json_string("TEE, money (local faucet) and data are SIMULATED"));
    json_object_set_new(
        report, "backend",
        json_pack("{s:O, s:O, s:s, s:s, s:s}", "compute", json_object_get(wr, "backend"), "device",
                  json_object_get(wr, "device"), "tee", "sim (SIMULATED Nitro-format)", "ledger",
                  cx_ledger_backend_name(l), "store", cx_store_kind(s)));
    json_object_set_new(report, "sealing", json_string(seal ? "seal" : "hpke"));
    json_object_set_new(report, "pool", json_string(pool_hex));
    json_object_set_new(report, "job", json_string(job_hex));
    json_object_set_new(report, "enclave", json_string(enc_hex));
    json_object_set_new(report, "sellers", json_integer((json_int_t)nsel));
    json_object_set(report, "accepted", json_object_get(wr, "accepted"));
    json_object_set_new(report, "rejected", rejected);
    json_object_set(report, "metrics", json_object_get(wr, "metrics"));
    json_object_set(report, "privacy", json_object_get(wr, "privacy"));
    json_object_set_new(report, "payment", json_integer((json_int_t)job.payment));
    json_object_set_new(report, "job_state", json_string(cx_ledger_job_state_name(job.state)));
    json_object_set_new(report, "payouts", payouts);
    json_object_set_new(
        report, "fees",
        json_pack("{s:I, s:s, s:I, s:s}", "protocol", (json_int_t)res.split.protocol_fee,
                  "protocol_address",
                  "0x0000000000000000000000000000000000000000000000000000000000000000", "operator",
                  (json_int_t)res.split.operator_fee, "operator_address", op.addr));
    json_object_set_new(report, "payouts_add_up", json_boolean(total == job.payment));
    json_object_set_new(report, "verification",
                        json_pack("{s:b, s:s, s:O}", "verified", vrc == CX_OK, "message",
                                  vrc == CX_OK ? "VERIFIED" : ve.msg, "checks", checks));
    json_object_set_new(report, "gpu_evidence",
                        json_string("none: CPU-only job, empty "
                                    "gpu_evidence_hash in the statement"));
    json_object_set_new(report, "model", json_string(mpath));
    json_object_set_new(report, "bundle", json_string(bpath));
    json_object_set_new(report, "seconds", json_real(secs));

    if (cli->json) {
        rc = cli_print_json(cli, json_incref(report));
    } else {
        const json_t *acc = json_object_get(wr, "accepted"), *m = json_object_get(wr, "metrics"),
                     *pv = json_object_get(wr, "privacy");
        printf(
            "\n== CloakX demo report (SIMULATED TEE and money; synthetic data; no network) ==\n");
        printf("backend:      %s; TEE sim (SIMULATED); ledger %s; store %s\n",
               json_string_value(json_object_get(wr, "device")), cx_ledger_backend_name(l),
               cx_store_kind(s));
        printf("accepted:     %lld of %zu contributions; %lld sellers, %lld rows, %lld "
               "features\n",
               (long long)json_integer_value(json_object_get(acc, "blobs")),
               (size_t)json_integer_value(json_object_get(wr, "contributions")),
               (long long)json_integer_value(json_object_get(acc, "contributors")),
               (long long)json_integer_value(json_object_get(acc, "rows")),
               (long long)json_integer_value(json_object_get(acc, "features")));
        printf("rejected:\n");
        for (size_t i = 0; i < json_array_size(rejected); i++) {
            json_t *r = json_array_get(rejected, i);
            const char *who = json_string_value(json_object_get(r, "who"));
            printf("  - %-26s %s\n", who ? who : "?",
                   json_string_value(json_object_get(r, "reason")));
        }
        printf("validation:   accuracy %.3f, ROC AUC %.3f, macro F1 %.3f, log loss %.3f "
               "(%lld held-out rows)\n",
               json_real_value(json_object_get(m, "accuracy")),
               json_real_value(json_object_get(m, "roc_auc")),
               json_real_value(json_object_get(m, "macro_f1")),
               json_real_value(json_object_get(m, "loss")),
               (long long)json_integer_value(json_object_get(m, "rows")));
        if (json_is_object(pv))
            printf("privacy:      epsilon %.3f at delta %g (DP-SGD, sigma %.2f, clip %.2f, "
                   "Poisson q %.4f, %lld steps, RDP accountant)\n",
                   json_real_value(json_object_get(pv, "epsilon")),
                   json_real_value(json_object_get(pv, "delta")),
                   json_real_value(json_object_get(pv, "noise_multiplier")),
                   json_real_value(json_object_get(pv, "max_grad_norm")),
                   json_real_value(json_object_get(pv, "sample_rate")),
                   (long long)json_integer_value(json_object_get(pv, "steps")));
        printf("payouts:      job %s, payment %llu (rows capped at %llu per seller for the "
               "split)\n",
               cx_ledger_job_state_name(job.state), (unsigned long long)job.payment,
               (unsigned long long)pp.max_rows_per_contributor);
        for (size_t i = 0; i < json_array_size(payouts); i++) {
            json_t *p = json_array_get(payouts, i);
            char ab[24];
            printf("  %-9s %s  %5lld rows  %6lld\n",
                   json_string_value(json_object_get(p, "seller")),
                   short_addr(json_string_value(json_object_get(p, "address")), ab),
                   (long long)json_integer_value(json_object_get(p, "rows")),
                   (long long)json_integer_value(json_object_get(p, "amount")));
        }
        printf("fees:         protocol %llu (treasury 0x000…), operator %llu; sellers %llu; "
               "total %llu = payment: %s\n",
               (unsigned long long)res.split.protocol_fee,
               (unsigned long long)res.split.operator_fee, (unsigned long long)paid_sum,
               (unsigned long long)total, total == job.payment ? "yes, exactly" : "NO");
        printf("verification: %s\n", vrc == CX_OK ? "VERIFIED" : ve.msg);
        for (size_t i = 0; i < json_array_size(checks); i++) {
            json_t *c = json_array_get(checks, i);
            printf("  %-19s %-7s %s\n", json_string_value(json_object_get(c, "check")),
                   json_string_value(json_object_get(c, "status")),
                   json_string_value(json_object_get(c, "detail")));
        }
        printf("gpu evidence: none (CPU-only job: the statement's gpu_evidence_hash is empty)\n");
        printf("time:         %.1f s.  Everything is in %s (try: cloakx job status %s "
               "--ledger %s)\n",
               secs, d.dir, job_hex, ledger_path);
    }
    if (vrc != CX_OK || total != job.payment)
        rc = CX_EXIT_VERIFY;
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    cx_x25519_key_free(buyer_x);
    cx_secmem_free(model);
    free(mblob);
    cx_statement_free(&st);
    cx_ledger_result_free(&res);
    cx_result_bundle_free(&bundle);
    json_decref(checks);
    json_decref(report);
    json_decref(d.worker_report);
    free(root);
    cx_tee_close(tee);
#ifdef CX_HAVE_SEAL
    demo_seal_stop(&ds);
#endif
    cx_store_free(s);
    cx_ledger_close(l);
    cx_chain_key_free(op.key);
    cx_chain_key_free(buyer.key);
    cx_chain_key_free(thief.key);
    for (unsigned i = 0; sellers && i < nsel; i++)
        cx_chain_key_free(sellers[i].key);
    free(sellers);
    free(blob_ids);
    free(rows);
    return rc;
}
