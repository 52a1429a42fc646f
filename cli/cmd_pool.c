/* cmd_pool.c — `cloakx pool create|show`: a thematic data pool on the ledger (price, k, row
 * cap, fees, accepted enclave measurements) and what it holds. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int pool_create(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx pool create [--ledger L] --key DIR --theme TEXT --price N --k K\n"
               "         --max-rows M [--operator-fee BPS] [--protocol-fee BPS]\n"
               "         [--measurement HEX|self]... [--operator 0x…] [--json]\n\n"
               "Creates a pool signed by the key dir's identity. k = minimum number of\n"
               "contributors with accepted rows for a job to pay out (else the buyer is\n"
               "refunded); M caps each contributor's rows in the payout split. Fees are in\n"
               "basis points (defaults: operator 500, protocol 100). --measurement: the enclave\n"
               "PCR0 values (hex) whose results the pool pays; 'self' (the default) is this\n"
               "binary's measurement under the simulated TEE. --operator (default: the\n"
               "creator) receives the operator fee. Rules: chain/RULES.md.\n\n"
               "The pool's policy, fixed here (chain/RULES.md §1, §8, §9.8):\n"
               "  --require-dp            every job's spec must use DP (\"privacy\")\n"
               "  --max-epsilon E         cap on a job's total epsilon (all DP mechanisms)\n"
               "  --forbid-column NAME    a column that may never be a feature or the label\n"
               "                          (repeatable, up to 32; case-insensitive)\n"
               "  --max-params N, --max-epochs N, --max-flops F\n"
               "                          the compute budget per job; workers run under the\n"
               "                          smaller of this and their operator's\n"
               "  --sealing hpke|seal|any how sellers may seal a blob's data key: HPKE to one of\n"
               "                          the pool's enclaves, Seal key servers, or either\n"
               "                          (default any)\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *key = NULL, *theme = NULL, *price_s = NULL, *k_s = NULL,
               *max_s = NULL, *opfee_s = "500", *protofee_s = "100", *op_s = NULL;
    const char *meas[CX_CHAIN_MAX_MEASUREMENTS], *forbid[CX_CHAIN_FORBIDDEN_MAX];
    const char *eps_s = NULL, *mparams_s = NULL, *mepochs_s = NULL, *mflops_s = NULL,
               *sealing_s = "any";
    size_t n_meas = 0, n_forbid = 0;
    int require_dp = 0;
    const cli_arg args[] = {
        {.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
        {.name = "--key", .val = &key},
        {.name = "--theme", .val = &theme},
        {.name = "--price", .val = &price_s},
        {.name = "--k", .val = &k_s},
        {.name = "--max-rows", .val = &max_s},
        {.name = "--operator-fee", .val = &opfee_s},
        {.name = "--protocol-fee", .val = &protofee_s},
        {.name = "--operator", .val = &op_s},
        {.name = "--measurement", .list = meas, .n = &n_meas, .cap = CX_CHAIN_MAX_MEASUREMENTS},
        {.name = "--require-dp", .flag = &require_dp},
        {.name = "--max-epsilon", .val = &eps_s},
        {.name = "--forbid-column", .list = forbid, .n = &n_forbid, .cap = CX_CHAIN_FORBIDDEN_MAX},
        {.name = "--max-params", .val = &mparams_s},
        {.name = "--max-epochs", .val = &mepochs_s},
        {.name = "--max-flops", .val = &mflops_s},
        {.name = "--sealing", .val = &sealing_s},
        {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!ledger_url || !key || !theme || !price_s || !k_s || !max_s)
        return cli_usage(cli, "--ledger, --key, --theme, --price, --k and --max-rows are "
                              "required");
    if (n_meas == 0)
        meas[n_meas++] = "self";
    cx_error e;
    cx_error_clear(&e);
    uint64_t price, k, max_rows, opfee, protofee;
    if (cli_parse_u64(price_s, "--price", &price, &e) != CX_OK ||
        cli_parse_u64(k_s, "--k", &k, &e) != CX_OK ||
        cli_parse_u64(max_s, "--max-rows", &max_rows, &e) != CX_OK ||
        cli_parse_u64(opfee_s, "--operator-fee", &opfee, &e) != CX_OK ||
        cli_parse_u64(protofee_s, "--protocol-fee", &protofee, &e) != CX_OK)
        return cli_fail(cli, &e);
    if (k < 1 || k > UINT32_MAX || opfee > 10000 || protofee > 10000)
        return cli_usage(cli, "--k must be >= 1 and fees at most 10000 bps");
    cx_ledger_pool_policy pol = {.require_dp = require_dp};
    if (strcmp(sealing_s, "hpke") == 0)
        pol.sealing = CX_LEDGER_SEALING_HPKE;
    else if (strcmp(sealing_s, "seal") == 0)
        pol.sealing = CX_LEDGER_SEALING_SEAL;
    else if (strcmp(sealing_s, "any") != 0)
        return cli_usage(cli, "--sealing takes hpke, seal or any, not '%s'", sealing_s);
    if ((mparams_s && cli_parse_u64(mparams_s, "--max-params", &pol.max_params, &e) != CX_OK) ||
        (mepochs_s && cli_parse_u64(mepochs_s, "--max-epochs", &pol.max_epochs, &e) != CX_OK))
        return cli_fail(cli, &e);
    if (mflops_s) {
        char *end = NULL;
        double f = strtod(mflops_s, &end);
        if (!end || *end || !(f >= 1) || f >= 9.2e18)
            return cli_usage(cli, "--max-flops: a number of flops in [1, 9.2e18), e.g. 1e15");
        pol.max_flops = (uint64_t)f;
    }
    if (eps_s) {
        char *end = NULL;
        double v = strtod(eps_s, &end);
        if (!end || *end || !(v > 0) || v > 1e6)
            return cli_usage(cli, "--max-epsilon: a number in (0, 1e6]");
        pol.max_epsilon_micro = (uint64_t)llround(v * 1e6);
        if (!pol.max_epsilon_micro)
            return cli_usage(cli, "--max-epsilon: at least 1e-6");
    }
    for (size_t i = 0; i < n_forbid; i++) {
        if (strlen(forbid[i]) < 1 || strlen(forbid[i]) > CX_CHAIN_COLUMN_NAME_MAX)
            return cli_usage(cli, "--forbid-column: a column name of 1..128 bytes");
        snprintf(pol.forbidden_columns[i], sizeof pol.forbidden_columns[i], "%s", forbid[i]);
    }
    pol.n_forbidden = n_forbid;
    uint8_t mbuf[CX_CHAIN_MAX_MEASUREMENTS][CX_CHAIN_MEASUREMENT_MAX];
    cx_ledger_pool_params pp = {.theme = theme,
                                .price = price,
                                .min_contributors = (uint32_t)k,
                                .max_rows_per_contributor = max_rows,
                                .operator_fee_bps = (uint32_t)opfee,
                                .protocol_fee_bps = (uint32_t)protofee,
                                .policy = pol};
    for (size_t i = 0; i < n_meas; i++) {
        size_t len = 0;
        if (strcmp(meas[i], "self") == 0) {
            if (cx_job_measure_self(mbuf[i], &e) != CX_OK)
                return cli_fail(cli, &e);
            len = 48;
        } else if (cx_hex_decode(meas[i], strlen(meas[i]), mbuf[i], CX_CHAIN_MEASUREMENT_MAX, &len,
                                 &e) != CX_OK ||
                   len == 0) {
            return cli_usage(cli, "--measurement: hex of 1..64 bytes, or 'self'");
        }
        pp.measurements[i] = mbuf[i];
        pp.measurement_lens[i] = len;
    }
    pp.n_measurements = n_meas;
    cli_role r = {0};
    int rc = CX_EXIT_OK;
    cx_chain_id id;
    if (cli_role_open(&r, key, NULL, NULL, &cli->log, &e) != CX_OK)
        goto fail;
    pp.operator_addr = *cx_chain_key_address(r.key);
    if (op_s && cx_chain_id_from_hex(op_s, &pp.operator_addr, &e) != CX_OK)
        goto fail;
    if (cx_job_ledger_open(ledger_url, &cli->log, &r.ledger, &e) != CX_OK ||
        cx_ledger_pool_create(r.ledger, r.key, &pp, &id, &e) != CX_OK)
        goto fail;
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&id, hex);
    rc = cli_role_print(cli, json_pack("{s:s}", "pool", hex), "%s\n", hex);
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    cli_role_close(&r);
    return rc;
}

static int pool_show(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx pool show POOL [--ledger L] [--json]\n\n"
               "The pool's parameters, its contributions and its enclaves: those its operator\n"
               "added whose measurement it accepts, the most recently added first (the only\n"
               "sealing targets; chain/RULES.md §2.1).\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *pool_s = NULL;
    const cli_arg args[] = {{.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
                           {.name = "", .val = &pool_s},
                           {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!ledger_url || !pool_s)
        return cli_usage(cli, "POOL and --ledger are required");
    cx_error e;
    cx_error_clear(&e);
    cx_chain_id pid;
    cx_ledger *l = NULL;
    cx_ledger_pool p;
    cx_ledger_contribution *cs = NULL;
    cx_ledger_enclave *ens = NULL;
    size_t nc = 0, ne = 0;
    int rc = CX_EXIT_OK;
    if (cx_chain_id_from_hex(pool_s, &pid, &e) != CX_OK ||
        cx_job_ledger_open(ledger_url, &cli->log, &l, &e) != CX_OK ||
        cx_ledger_pool_get(l, &pid, &p, &e) != CX_OK ||
        cx_ledger_contributions_list(l, &pid, &cs, &nc, &e) != CX_OK ||
        cx_ledger_enclaves_for_pool(l, &pid, &ens, &ne, &e) != CX_OK)
        goto fail;
    char op[CX_CHAIN_ID_HEX_LEN + 1], by[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&p.operator_addr, op);
    cx_chain_id_to_hex(&p.created_by, by);
    json_t *j = json_pack("{s:s, s:s, s:I, s:i, s:I, s:i, s:i, s:s, s:s, s:I}", "pool", pool_s,
                          "theme", p.theme, "price", (json_int_t)p.price, "k",
                          (int)p.min_contributors, "max_rows_per_contributor",
                          (json_int_t)p.max_rows_per_contributor, "operator_fee_bps",
                          (int)p.operator_fee_bps, "protocol_fee_bps", (int)p.protocol_fee_bps,
                          "operator", op, "created_by", by, "created_ms", (json_int_t)p.created_ms);
    json_t *ms = json_array(), *ca = json_array(), *ea = json_array();
    for (size_t i = 0; i < p.n_measurements; i++)
        json_array_append_new(ms, cx_job_hex_json(p.measurements[i], p.measurement_lens[i]));
    for (size_t i = 0; i < nc; i++) {
        char id[CX_CHAIN_ID_HEX_LEN + 1], who[CX_CHAIN_ID_HEX_LEN + 1], blob[CX_STORE_ID_MAX];
        cx_chain_id_to_hex(&cs[i].id, id);
        cx_chain_id_to_hex(&cs[i].contributor, who);
        if (cx_job_blob_id_str(cs[i].blob_id, cs[i].blob_id_len, blob, &e) != CX_OK)
            snprintf(blob, sizeof blob, "(not a store id)");
        json_array_append_new(ca, json_pack("{s:s, s:s, s:s}", "contribution", id, "blob_id", blob,
                                            "contributor", who));
    }
    for (size_t i = 0; i < ne; i++) {
        char id[CX_CHAIN_ID_HEX_LEN + 1], doc[CX_STORE_ID_MAX];
        cx_chain_id_to_hex(&ens[i].id, id);
        cx_error de;
        if (cx_job_enclave_doc_id(&ens[i], doc, &de) != CX_OK)
            snprintf(doc, sizeof doc, "(not a store id)");
        json_array_append_new(ea,
                              json_pack("{s:s, s:o, s:s, s:o}", "enclave", id, "measurement",
                                        cx_job_hex_json(ens[i].measurement, ens[i].measurement_len),
                                        "document_blob", doc, "document_sha256",
                                        cx_job_hex_json(ens[i].attestation_hash, 32)));
    }
    json_t *fa = json_array();
    for (size_t i = 0; i < p.policy.n_forbidden; i++)
        json_array_append_new(fa, json_string(p.policy.forbidden_columns[i]));
    json_object_set_new(
        j, "policy",
        json_pack("{s:b, s:f, s:o, s:I, s:I, s:f, s:s}", "require_dp", p.policy.require_dp,
                  "max_epsilon", (double)p.policy.max_epsilon_micro / 1e6, "forbidden_columns",
                  fa, "max_params", (json_int_t)p.policy.max_params, "max_epochs",
                  (json_int_t)p.policy.max_epochs, "max_flops", (double)p.policy.max_flops,
                  "sealing", cx_ledger_sealing_name(p.policy.sealing)));
    json_object_set_new(j, "measurements", ms);
    json_object_set_new(j, "contributions", ca);
    json_object_set_new(j, "enclaves", ea);
    if (cli->json) {
        rc = cli_print_json(cli, j);
    } else {
        printf("pool %s: \"%s\"\n  price %llu, k %u, max rows per contributor %llu, fees: "
               "operator %u bps, protocol %u bps\n  operator %s\n",
               pool_s, p.theme, (unsigned long long)p.price, p.min_contributors,
               (unsigned long long)p.max_rows_per_contributor, p.operator_fee_bps,
               p.protocol_fee_bps, op);
        char cap[32] = "none";
        if (p.policy.max_epsilon_micro)
            snprintf(cap, sizeof cap, "%g", (double)p.policy.max_epsilon_micro / 1e6);
        printf("  policy: DP %s, epsilon cap %s, compute budget per job: params %llu, "
               "epochs %llu, flops %.3g (0: none)\n",
               p.policy.require_dp ? "required" : "optional", cap, (unsigned long long)p.policy.max_params,
               (unsigned long long)p.policy.max_epochs, (double)p.policy.max_flops);
        printf("  sealing accepted: %s\n", cx_ledger_sealing_name(p.policy.sealing));
        for (size_t i = 0; i < p.policy.n_forbidden; i++)
            printf("    forbidden column '%s'\n", p.policy.forbidden_columns[i]);
        printf("  accepted measurements: %zu; enclaves: %zu; contributions: %zu\n",
               p.n_measurements, ne, nc);
        for (size_t i = 0; i < json_array_size(ea); i++)
            printf("    enclave %s (document blob %s)\n",
                   json_string_value(json_object_get(json_array_get(ea, i), "enclave")),
                   json_string_value(json_object_get(json_array_get(ea, i), "document_blob")));
        for (size_t i = 0; i < json_array_size(ca); i++) {
            json_t *c = json_array_get(ca, i);
            printf("    blob %s from %s\n", json_string_value(json_object_get(c, "blob_id")),
                   json_string_value(json_object_get(c, "contributor")));
        }
        json_decref(j);
    }
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    free(cs);
    free(ens);
    cx_ledger_close(l);
    return rc;
}

static const cx_command pool_commands[] = {
    {"create", "create a data pool (price, k, row cap, fees, accepted measurements)", pool_create},
    {"show", "a pool's parameters, contributions and enclaves", pool_show},
    {NULL, NULL, NULL},
};

int cmd_pool(cx_cli *cli, int argc, char **argv)
{
    return cli_dispatch(cli, "pool", pool_commands, argc, argv);
}
