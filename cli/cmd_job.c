/* cmd_job.c — `cloakx job create|status|submit|refund`: a buyer's paid job for a pool (spec
 * and model key stored beside it), its state and settlement, and the operator's recovery calls. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

static int job_create(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx job create [--ledger L] [--store S] --key DIR --pool POOL\n"
               "         --spec SPEC.json --pay N [--deadline DURATION] [--json]\n\n"
               "The buyer (--key DIR: signs with ed25519.key; the model is sealed to\n"
               "x25519.pub) stores a job request (the spec of kernels/README.md and the\n"
               "buyer's X25519 key) in the blob store and creates the job on the ledger with\n"
               "its SHA-256, escrowing N units until a valid result is accepted or the\n"
               "deadline (default 1h; e.g. 90s, 30m, 2d) passes. A spec the worker would\n"
               "refuse, or that breaks the pool's policy (DP required, epsilon cap, forbidden\n"
               "columns, compute budget: chain/RULES.md §9.8), is refused before paying.\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *store_url = NULL, *key = NULL, *pool_s = NULL,
               *spec_path = NULL, *pay_s = NULL, *deadline_s = "1h";
    const cli_arg args[] = {{.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
                           {.name = "--store", .val = &store_url, .env = "CLOAKX_STORE"},
                           {.name = "--key", .val = &key},
                           {.name = "--pool", .val = &pool_s},
                           {.name = "--spec", .val = &spec_path},
                           {.name = "--pay", .val = &pay_s},
                           {.name = "--deadline", .val = &deadline_s},
                           {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!ledger_url || !store_url || !key || !pool_s || !spec_path || !pay_s)
        return cli_usage(cli, "--ledger, --store, --key, --pool, --spec and --pay are required");
    cx_error e;
    cx_error_clear(&e);
    uint64_t pay, dl;
    if (cli_parse_u64(pay_s, "--pay", &pay, &e) != CX_OK ||
        cli_parse_duration_ms(deadline_s, &dl, &e) != CX_OK)
        return cli_fail(cli, &e);
    cli_role r = {0};
    json_t *spec_j = NULL;
    char *req = NULL;
    size_t req_len = 0;
    int rc = CX_EXIT_OK;
    cx_chain_id pid, jid;
    uint8_t bx[32], h[32];
    cx_spec check;
    int check_ok = 0;
    cx_dataset_schema *schema = NULL;
    cx_ledger_pool pool;
    if (cx_chain_id_from_hex(pool_s, &pid, &e) != CX_OK ||
        cx_json_load_file(spec_path, &spec_j, &e) != CX_OK)
        goto fail;
    /* refuse a spec the worker would refuse, before paying for it */
    if (cx_spec_parse(spec_j, &check, &e) != CX_OK) {
        cx_error_prefix(&e, "%s: ", spec_path);
        goto fail;
    }
    check_ok = 1;
    if (cx_job_spec_check(&check, NULL, &schema, &e) != CX_OK) {
        cx_error_prefix(&e, "%s: ", spec_path);
        goto fail;
    }
    if (cli_x25519_pub_load(key, bx, &e) != CX_OK ||
        cx_job_request_build(spec_j, bx, &req, &req_len, &e) != CX_OK ||
        cli_role_open(&r, key, ledger_url, store_url, &cli->log, &e) != CX_OK ||
        cx_ledger_pool_get(r.ledger, &pid, &pool, &e) != CX_OK)
        goto fail;
    /* and one the pool's policy refuses (RULES.md §9.8; the enclave checks it again) */
    if (cx_job_policy_check(&check, schema, &pool.policy, &e) != CX_OK) {
        cx_error_prefix(&e, "%s: ", spec_path);
        goto fail;
    }
    char rid[CX_STORE_ID_MAX];
    SHA256((const uint8_t *)req, req_len, h);
    if (cx_job_store_put_bytes(r.store, req, req_len, rid, &e) != CX_OK ||
        cx_ledger_job_create(r.ledger, r.key, &pid, h, (const uint8_t *)rid, strlen(rid), pay,
                             cx_unix_ms() + dl, &jid, &e) != CX_OK)
        goto fail;
    char hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&jid, hex);
    rc = cli_role_print(
        cli,
        json_pack("{s:s, s:s, s:I}", "job", hex, "request_blob", rid, "payment", (json_int_t)pay),
        "%s\n", hex);
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    if (check_ok)
        cx_spec_free(&check);
    cx_dataset_schema_free(schema);
    json_decref(spec_j);
    free(req);
    cli_role_close(&r);
    return rc;
}

static int job_status(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx job status JOB [--ledger L] [--store S --bundle OUT.json] "
               "[--json]\n\n"
               "The job's state (open, accepted, paid, refunded), payment, deadline and the\n"
               "enclave that accepted it (chain/RULES.md §2); once a result\n"
               "is accepted: the statement's per-contributor rows, metrics, epsilon, the\n"
               "payouts and fees. --bundle writes the result bundle (chain/RULES.md §5) for\n"
               "`cloakx verify`, with the enclave's attestation document from --store.\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *store_url = NULL, *job_s = NULL, *bundle = NULL;
    const cli_arg args[] = {{.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
                           {.name = "--store", .val = &store_url, .env = "CLOAKX_STORE"},
                           {.name = "--bundle", .val = &bundle},
                           {.name = "", .val = &job_s},
                           {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!ledger_url || !job_s || (bundle && !store_url))
        return cli_usage(cli, "JOB and --ledger are required (and --store with --bundle)");
    cx_error e;
    cx_error_clear(&e);
    cx_ledger *l = NULL;
    cx_store *s = NULL;
    cx_ledger_result r;
    memset(&r, 0, sizeof r);
    cx_statement st;
    memset(&st, 0, sizeof st);
    int rc = CX_EXIT_OK, have_result = 0;
    cx_chain_id jid;
    cx_ledger_job job;
    if (cx_chain_id_from_hex(job_s, &jid, &e) != CX_OK ||
        cx_job_ledger_open(ledger_url, &cli->log, &l, &e) != CX_OK ||
        cx_ledger_job_get(l, &jid, &job, &e) != CX_OK)
        goto fail;
    char ph[CX_CHAIN_ID_HEX_LEN + 1], bh[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&job.pool_id, ph);
    cx_chain_id_to_hex(&job.buyer, bh);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "job", job_s, "state",
                          cx_ledger_job_state_name(job.state), "pool", ph, "buyer", bh, "payment",
                          (json_int_t)job.payment, "deadline_ms", (json_int_t)job.deadline_ms,
                          "created_ms", (json_int_t)job.created_ms);
    /* the enclave the escrow is locked to, and why it gave the job up if it did */
    char eh[CX_CHAIN_ID_HEX_LEN + 1] = "";
    if (j && !cx_chain_id_is_zero(&job.enclave_id)) {
        cx_chain_id_to_hex(&job.enclave_id, eh);
        json_object_set_new(j, "enclave", json_string(eh));
        json_object_set_new(j, "accepted_ms", json_integer((json_int_t)job.accepted_ms));
        json_object_set_new(j, "result_deadline_ms",
                            json_integer((json_int_t)(job.deadline_ms + CX_LEDGER_RESULT_GRACE_MS)));
    }
    if (j && job.fail_reason)
        json_object_set_new(
            j, "failure",
            json_string(cx_chain_fail_reason_name((cx_chain_fail_reason)job.fail_reason)));
    cx_error le;
    if (cx_ledger_result_get(l, &jid, &r, &le) == CX_OK) {
        have_result = 1;
        uint64_t ts = 0;
        json_t *res = json_pack("{s:b, s:I, s:b}", "refunded", r.refunded, "accepted_contributors",
                                (json_int_t)r.accepted_contributors, "model_key_released",
                                r.model_key_len > 0);
        if (cx_statement_decode(r.statement, r.statement_len, &st, &ts, &le) == CX_OK) {
            json_t *rows = json_array(), *mets = json_object();
            for (size_t i = 0; i < st.n_rows; i++) {
                cx_chain_addr a;
                memcpy(a.b, st.rows[i].contributor, 32);
                char ah[CX_CHAIN_ID_HEX_LEN + 1];
                cx_chain_id_to_hex(&a, ah);
                json_array_append_new(rows, json_pack("{s:s, s:I}", "address", ah, "rows",
                                                      (json_int_t)st.rows[i].rows));
            }
            for (size_t i = 0; i < st.n_metrics; i++)
                json_object_set_new(mets, st.metrics[i].name,
                                    json_real((double)st.metrics[i].value_micro / 1e6));
            json_object_set_new(res, "rows", rows);
            json_object_set_new(res, "rejected", cx_job_rejected_json(&st));
            json_object_set_new(res, "metrics", mets);
            if (st.dp_epsilon_micro != CX_STATEMENT_NO_DP)
                json_object_set_new(res, "epsilon", json_real((double)st.dp_epsilon_micro / 1e6));
            char rb[CX_STATEMENT_BLOB_ID_MAX + 1];
            memcpy(rb, st.result_blob_id, st.result_blob_id_len);
            rb[st.result_blob_id_len] = 0;
            json_object_set_new(res, "model_blob_id", json_string(rb));
        }
        if (!r.refunded) {
            json_object_set_new(res, "protocol_fee",
                                json_integer((json_int_t)r.split.protocol_fee));
            json_object_set_new(res, "operator_fee",
                                json_integer((json_int_t)r.split.operator_fee));
            json_t *pays = json_array();
            for (size_t i = 0; i < r.split.n_payouts; i++) {
                char ah[CX_CHAIN_ID_HEX_LEN + 1];
                cx_chain_id_to_hex(&r.split.payouts[i].to, ah);
                json_array_append_new(pays, json_pack("{s:s, s:I}", "address", ah, "amount",
                                                      (json_int_t)r.split.payouts[i].amount));
            }
            json_object_set_new(res, "payouts", pays);
        }
        json_object_set_new(j, "result", res);
    }
    if (bundle) {
        cx_result_bundle b;
        if (!have_result) {
            json_decref(j);
            cx_error_set(&e, CX_ERR_NOTFOUND, "job %s has no accepted result yet", job_s);
            goto fail;
        }
        if (cx_job_store_open(store_url, &cli->log, &s, &e) != CX_OK ||
            cx_job_bundle_from_ledger(l, s, &jid, &b, &e) != CX_OK) {
            json_decref(j);
            goto fail;
        }
        cx_err brc = cx_result_bundle_write(&b, bundle, &e);
        cx_result_bundle_free(&b);
        if (brc != CX_OK) {
            json_decref(j);
            goto fail;
        }
        json_object_set_new(j, "bundle", json_string(bundle));
    }
    if (cli->json) {
        rc = cli_print_json(cli, j);
    } else {
        printf("job %s: %s\n  pool %s, buyer %s\n  payment %llu, deadline %llu ms\n", job_s,
               cx_ledger_job_state_name(job.state), ph, bh, (unsigned long long)job.payment,
               (unsigned long long)job.deadline_ms);
        if (*eh)
            printf("  accepted by enclave %s: escrow locked to its result until %llu ms\n", eh,
                   (unsigned long long)(job.deadline_ms + CX_LEDGER_RESULT_GRACE_MS));
        if (job.fail_reason)
            printf("  the enclave gave it up (%s): buyer refunded\n",
                   cx_chain_fail_reason_name((cx_chain_fail_reason)job.fail_reason));
        json_t *res = json_object_get(j, "result");
        if (res) {
            printf("  result: %llu accepted contributor(s)%s\n",
                   (unsigned long long)r.accepted_contributors,
                   r.refunded ? ", fewer than k: buyer refunded" : "");
            json_t *pays = json_object_get(res, "payouts");
            for (size_t i = 0; i < json_array_size(pays); i++)
                printf("    paid %s %lld\n",
                       json_string_value(json_object_get(json_array_get(pays, i), "address")),
                       (long long)json_integer_value(
                           json_object_get(json_array_get(pays, i), "amount")));
            if (!r.refunded)
                printf("    fees: protocol %llu, operator %llu\n",
                       (unsigned long long)r.split.protocol_fee,
                       (unsigned long long)r.split.operator_fee);
        }
        if (bundle)
            printf("  bundle written to %s\n", bundle);
        json_decref(j);
    }
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    cx_statement_free(&st);
    cx_ledger_result_free(&r);
    cx_store_free(s);
    cx_ledger_close(l);
    return rc;
}

/* A hex field of a worker's job state into *out (malloc'ed). */
static cx_err state_hex(const json_t *st, const char *name, uint8_t **out, size_t *len,
                        cx_error *e)
{
    *out = NULL;
    const char *h = json_string_value(json_object_get(st, name));
    if (!h)
        return cx_error_set(e, CX_ERR_FORMAT, "job state: no %s (the job was not signed)", name);
    size_t cap = strlen(h) / 2;
    *out = malloc(cap ? cap : 1);
    if (!*out)
        return cx_error_set(e, CX_ERR_NOMEM, "out of memory");
    cx_err rc = cx_hex_decode(h, strlen(h), *out, cap, len, e);
    if (rc != CX_OK) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int job_submit(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx job submit JOB --from STATE.json [--ledger L] --key DIR "
               "[--json]\n\n"
               "Submits a signed result, as the worker saved it (STATE.json: its state\n"
               "dir's jobs/<job>.json, with the statement and the key release), as JOB's\n"
               "result (operator recovery; the worker normally does this), from the enclave\n"
               "that accepted JOB. The ledger accepts it only under chain/RULES.md §2: job\n"
               "accepted by that enclave, valid signatures, statement and key release for\n"
               "this job and its model, ... A forged or replayed result is refused (exit 3,\n"
               "or 1 when the job is not accepted).\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *key = NULL, *job_s = NULL, *from = NULL;
    const cli_arg args[] = {{.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
                           {.name = "--key", .val = &key},
                           {.name = "--from", .val = &from},
                           {.name = "", .val = &job_s},
                           {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!ledger_url || !key || !job_s || !from)
        return cli_usage(cli, "JOB, --from, --ledger and --key are required");
    cx_error e;
    cx_error_clear(&e);
    json_t *st = NULL;
    uint8_t *stmt = NULL, *sig = NULL, *kr = NULL, *ksig = NULL;
    size_t sl = 0, gl = 0, kl = 0, kgl = 0;
    cli_role r = {0};
    int rc = CX_EXIT_OK;
    cx_chain_id jid;
    cx_ledger_job job;
    if (cx_chain_id_from_hex(job_s, &jid, &e) != CX_OK || cx_json_load_file(from, &st, &e) != CX_OK ||
        state_hex(st, "statement", &stmt, &sl, &e) != CX_OK ||
        state_hex(st, "signature", &sig, &gl, &e) != CX_OK ||
        state_hex(st, "key_release", &kr, &kl, &e) != CX_OK ||
        state_hex(st, "key_signature", &ksig, &kgl, &e) != CX_OK)
        goto fail;
    if (gl != CX_CHAIN_ED25519_SIG_LEN || kgl != CX_CHAIN_ED25519_SIG_LEN) {
        cx_error_set(&e, CX_ERR_FORMAT, "%s: a signature is not 64 bytes", from);
        goto fail;
    }
    if (cli_role_open(&r, key, ledger_url, NULL, &cli->log, &e) != CX_OK ||
        cx_ledger_job_get(r.ledger, &jid, &job, &e) != CX_OK)
        goto fail;
    /* from the enclave the job is locked to (the ledger refuses any other) */
    cx_ledger_signed ss = {stmt, sl, sig}, ks = {kr, kl, ksig};
    if (cx_ledger_result_submit(r.ledger, r.key, &jid, &job.enclave_id, &ss, &ks, &e) != CX_OK)
        goto fail;
    rc = cli_role_print(cli, json_pack("{s:s, s:b}", "job", job_s, "accepted", 1),
                       "result accepted for job %s\n", job_s);
    goto done;
fail:
    rc = cli_fail(cli, &e);
done:
    json_decref(st);
    free(stmt);
    free(sig);
    free(kr);
    free(ksig);
    cli_role_close(&r);
    return rc;
}

static int job_refund(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx job refund JOB [--ledger L] --key DIR [--json]\n\n"
               "Returns the escrowed payment to the buyer after the deadline of an open job,\n"
               "or, once an enclave accepted the job, after the deadline and its grace period\n"
               "(1 h: the escrow stays locked to the enclave's result until then; chain/\n"
               "RULES.md §2). Anyone may call it; --key signs the transaction.\n");
        return CX_EXIT_OK;
    }
    const char *ledger_url = NULL, *key = NULL, *job_s = NULL;
    const cli_arg args[] = {{.name = "--ledger", .val = &ledger_url, .env = "CLOAKX_LEDGER"},
                           {.name = "--key", .val = &key},
                           {.name = "", .val = &job_s},
                           {0}};
    int urc = cli_args_parse(cli, argc, argv, args);
    if (urc)
        return urc;
    if (!ledger_url || !key || !job_s)
        return cli_usage(cli, "JOB, --ledger and --key are required");
    cx_error e;
    cx_error_clear(&e);
    cli_role r = {0};
    cx_chain_id jid;
    int rc;
    if (cx_chain_id_from_hex(job_s, &jid, &e) != CX_OK ||
        cli_role_open(&r, key, ledger_url, NULL, &cli->log, &e) != CX_OK ||
        cx_ledger_job_refund_expired(r.ledger, r.key, &jid, &e) != CX_OK)
        rc = cli_fail(cli, &e);
    else
        rc = cli_role_print(cli, json_pack("{s:s, s:s}", "job", job_s, "state", "refunded"),
                           "job %s refunded\n", job_s);
    cli_role_close(&r);
    return rc;
}

static const cx_command job_commands[] = {
    {"create", "create a paid job (spec + buyer key stored, payment escrowed)", job_create},
    {"status", "a job's state, result, payouts; --bundle writes its result bundle", job_status},
    {"submit", "submit a worker's saved signed result as a job's result (operator)", job_submit},
    {"refund", "refund the buyer of an expired job (deadline; + grace once accepted)",
     job_refund},
    {NULL, NULL, NULL},
};

int cmd_job(cx_cli *cli, int argc, char **argv)
{
    return cli_dispatch(cli, "job", job_commands, argc, argv);
}
