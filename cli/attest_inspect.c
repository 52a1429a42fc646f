/* attest_inspect.c — `cloakx attest inspect` for GPU reports (raw SPDM), evidence JSON and result
 * bundles: parsed by attestation/'s own parsers, shown as JSON or as the same tree in text. */
#include "attest_inspect.h"

#include <stdlib.h>
#include <string.h>

#include "cx_attest.h"

/* ------------------------------------------------------------- helpers -- */

/* Sui-style address / object id: "0x" + 64 hex digits. */
static json_t *addr_json(const uint8_t id[CX_STATEMENT_ID_LEN])
{
    char a[CX_ADDR_HEX_LEN + 1];
    cx_addr_to_hex(id, a);
    return json_string(a);
}

static json_t *text_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

static size_t skip_space(const uint8_t *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    return i;
}

static int contains(const uint8_t *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return 1;
    return 0;
}

/* The text form is the JSON tree itself, so both outputs always carry the same fields. */
static void print_tree(const char *key, const json_t *v, int indent)
{
    if (json_is_object(v) || json_is_array(v)) {
        printf("%*s%s%s\n", indent, "", key,
               json_is_array(v) && json_array_size(v) == 0 ? "  (none)" : "");
        if (json_is_object(v)) {
            const char *k;
            const json_t *c;
            json_object_foreach((json_t *)v, k, c) print_tree(k, c, indent + 2);
        } else {
            for (size_t i = 0; i < json_array_size(v); i++) {
                char label[24];
                snprintf(label, sizeof label, "[%zu]", i);
                print_tree(label, json_array_get(v, i), indent + 2);
            }
        }
        return;
    }
    int width = indent < 22 ? 22 - indent : 1;
    printf("%*s%-*s ", indent, "", width, key);
    if (json_is_string(v))
        printf("%s\n", json_string_value(v));
    else if (json_is_integer(v))
        printf("%lld\n", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        printf("%s\n", json_is_true(v) ? "true" : "false");
    else
        printf("null\n");
}

/* Prints and frees j: --json as it is, text as a title and the tree (without kind/verified). */
static int emit(cx_cli *cli, json_t *j, const char *title)
{
    if (!j) {
        cx_error e;
        cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
        return cli_fail(cli, &e);
    }
    if (json_object_set_new(j, "verified", json_false()) != 0) {
        json_decref(j);
        cx_error e;
        cx_error_set(&e, CX_ERR_NOMEM, "out of memory");
        return cli_fail(cli, &e);
    }
    if (cli->json)
        return cli_print_json(cli, j);
    printf("%s\n", title);
    const char *k;
    json_t *c;
    json_object_foreach(j, k, c)
    {
        if (strcmp(k, "kind") != 0 && strcmp(k, "verified") != 0)
            print_tree(k, c, 0);
    }
    json_decref(j);
    return fflush(stdout) == 0 ? CX_EXIT_OK : CX_EXIT_FAILURE;
}

/* An artefact that does not parse is refused as evidence (exit 3), like verify would. */
static int refuse(cx_cli *cli, cx_error *e)
{
    if (e->code != CX_ERR_NOMEM)
        e->code = CX_ERR_VERIFY;
    return cli_fail(cli, e);
}

/* ---------------------------------------------------------- GPU report -- */

static json_t *report_json(const cx_gpu_report *r)
{
    json_t *meas = json_array();
    for (size_t i = 0; meas && i < r->n_meas; i++) {
        const cx_gpu_measurement *m = &r->meas[i];
        if (json_array_append_new(meas, json_pack("{s:i, s:i, s:o}", "index", m->index,
                                                  "value_type", m->value_type, "value",
                                                  cx_job_hex_json(m->value, m->value_len))) != 0) {
            json_decref(meas);
            return NULL;
        }
    }
    if (!meas)
        return NULL;
    return json_pack("{s:I, s:I, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o, s:o}", "length",
                     (json_int_t)r->total_len, "signed_length", (json_int_t)r->signed_len, "nonce",
                     cx_job_hex_json(r->nonce, CX_GPU_NONCE_LEN), "slot_id", r->slot_id,
                     "driver_version", text_or_null(r->driver_version), "vbios_version",
                     text_or_null(r->vbios_version), "project", text_or_null(r->project),
                     "project_sku", text_or_null(r->project_sku), "chip_sku",
                     text_or_null(r->chip_sku), "fwid",
                     r->has_fwid ? cx_job_hex_json(r->fwid, CX_GPU_FWID_LEN) : json_null(),
                     "opaque_fields", (int)r->n_opaque, "measurements", meas, "signature",
                     cx_job_hex_json(r->signature, CX_GPU_SIG_LEN));
}

/* Parses one report into its JSON (the report struct is large: heap, not stack). */
static cx_err report_parse_json(const uint8_t *buf, size_t len, json_t **out, cx_error *e)
{
    cx_gpu_report *r = malloc(sizeof *r);
    if (!r)
        return cx_error_set(e, CX_ERR_NOMEM, "out of memory");
    cx_err rc = cx_gpu_report_parse(buf, len, r, e);
    if (rc == CX_OK && !(*out = report_json(r)))
        rc = cx_error_set(e, CX_ERR_NOMEM, "out of memory");
    free(r);
    return rc;
}

int attest_detect_gpu_report(const uint8_t *buf, size_t len)
{
    /* SPDM 1.1 GET_MEASUREMENTS request header in front of the response */
    return len > 4 && buf[0] == 0x11 && buf[1] == 0xE0;
}

int attest_inspect_gpu_report(cx_cli *cli, const uint8_t *buf, size_t len)
{
    cx_error e = {0};
    json_t *j = NULL;
    if (report_parse_json(buf, len, &j, &e) != CX_OK)
        return refuse(cli, &e);
    if (json_object_set_new(j, "kind", json_string("gpu_report")) != 0) {
        json_decref(j);
        j = NULL;
    }
    return emit(cli, j,
                "NVIDIA GPU attestation report (SPDM 1.1 GET_MEASUREMENTS || MEASUREMENTS) — "
                "NOT verified (use 'cloakx attest verify-gpu --report FILE --certs CHAIN.pem')");
}

/* -------------------------------------------------------- evidence JSON -- */

static int count_certs(const char *pem, size_t len)
{
    int n = 0;
    const char *mark = "-----BEGIN CERTIFICATE-----";
    size_t m = strlen(mark);
    for (size_t i = 0; m <= len && i <= len - m; i++)
        if (memcmp(pem + i, mark, m) == 0)
            n++;
    return n;
}

static cx_err evidence_json(const cx_gpu_evidence_list *l, json_t **out, cx_error *e)
{
    uint8_t digest[CX_GPU_DIGEST_LEN];
    cx_err rc = cx_gpu_evidence_digest(l->items, l->n, digest, e);
    if (rc != CX_OK)
        return rc;
    json_t *gpus = json_array();
    *out = json_pack("{s:s, s:o, s:o}", "kind", "gpu_evidence", "gpu_digest",
                     cx_job_hex_json(digest, sizeof digest), "gpus", gpus);
    if (!*out)
        return cx_error_set(e, CX_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++) {
        const cx_gpu_evidence *ev = &l->items[i];
        json_t *rep = NULL;
        if ((rc = report_parse_json(ev->report, ev->report_len, &rep, e)) != CX_OK) {
            cx_error_prefix(e, "GPU %zu: ", i);
            break;
        }
        json_t *g = json_pack("{s:I, s:s, s:o, s:o, s:o, s:i, s:o}", "index", (json_int_t)i, "arch",
                              ev->arch, "nonce", cx_job_hex_json(ev->nonce, CX_GPU_NONCE_LEN),
                              "driver_version", text_or_null(ev->driver_version), "vbios_version",
                              text_or_null(ev->vbios_version), "certificates",
                              count_certs(ev->cert_chain, ev->cert_chain_len), "report", rep);
        if (json_array_append_new(gpus, g) != 0) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "out of memory");
            break;
        }
    }
    if (rc != CX_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int attest_detect_gpu_evidence(const uint8_t *buf, size_t len)
{
    size_t i = skip_space(buf, len);
    return i < len && buf[i] == '[';
}

int attest_inspect_gpu_evidence(cx_cli *cli, const uint8_t *buf, size_t len)
{
    cx_error e = {0};
    cx_gpu_evidence_list l = {0};
    json_t *j = NULL;
    if (cx_gpu_evidence_parse((const char *)buf, len, &l, &e) != CX_OK ||
        evidence_json(&l, &j, &e) != CX_OK) {
        cx_gpu_evidence_list_free(&l);
        return refuse(cli, &e);
    }
    cx_gpu_evidence_list_free(&l);
    return emit(cli, j,
                "NVIDIA GPU evidence JSON (spec §3.7) — NOT verified (use 'cloakx attest "
                "verify-gpu FILE')");
}

/* -------------------------------------------------------- result bundle -- */

static json_t *statement_json(const cx_statement *s, uint64_t ts)
{
    json_t *rows = json_array(), *mets = json_object();
    int bad = !rows || !mets;
    for (size_t i = 0; !bad && i < s->n_rows; i++)
        bad = json_array_append_new(rows, json_pack("{s:o, s:I}", "contributor",
                                                    addr_json(s->rows[i].contributor), "rows",
                                                    (json_int_t)s->rows[i].rows)) != 0;
    for (size_t i = 0; !bad && i < s->n_metrics; i++)
        bad = json_object_set_new(mets, s->metrics[i].name,
                                  json_integer((json_int_t)s->metrics[i].value_micro)) != 0;
    if (bad) {
        json_decref(rows);
        json_decref(mets);
        return NULL;
    }
    /* CloakX stores the store id's text; other bytes are shown only as hex. */
    char blob[CX_STATEMENT_BLOB_ID_MAX + 1];
    int printable = s->result_blob_id_len > 0;
    for (size_t i = 0; i < s->result_blob_id_len; i++) {
        printable &= s->result_blob_id[i] >= 0x21 && s->result_blob_id[i] <= 0x7e;
        blob[i] = (char)s->result_blob_id[i];
    }
    blob[s->result_blob_id_len] = '\0';
    json_t *j = json_pack(
        "{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "timestamp_ms",
        (json_int_t)ts, "job_id", cx_job_hex_json(s->job_id, CX_STATEMENT_ID_LEN), "pool_id",
        cx_job_hex_json(s->pool_id, CX_STATEMENT_ID_LEN), "code_measurement",
        cx_job_hex_json(s->code_measurement, s->code_measurement_len), "config_hash",
        cx_job_hex_json(s->config_hash, CX_STATEMENT_HASH_LEN), "dataset_commitment",
        cx_job_hex_json(s->dataset_commitment, CX_STATEMENT_HASH_LEN), "result_blob_id",
        printable ? json_string(blob) : json_null(), "result_blob_id_hex",
        cx_job_hex_json(s->result_blob_id, s->result_blob_id_len), "result_hash",
        cx_job_hex_json(s->result_hash, CX_STATEMENT_HASH_LEN), "gpu_evidence_hash",
        s->gpu_evidence_hash_len ? cx_job_hex_json(s->gpu_evidence_hash, s->gpu_evidence_hash_len)
                                 : json_null(),
        "contributors", rows, "metrics_micro", mets, "dp_epsilon_micro",
        s->dp_epsilon_micro == CX_STATEMENT_NO_DP ? json_null()
                                                  : json_integer((json_int_t)s->dp_epsilon_micro),
        "dp_delta_1e12", (json_int_t)s->dp_delta_1e12);
    /* version 3's commitment to a multi-rank job's ranks (null for a one-rank job) */
    if (j &&
        (json_object_set_new(j, "version", json_integer(s->version)) != 0 ||
         json_object_set_new(j, "ranks_hash",
                             s->ranks_hash_len ? cx_job_hex_json(s->ranks_hash, s->ranks_hash_len)
                                               : json_null()) != 0)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* What the embedded artefacts are, each through its own parser; their errors are shown, not
 * fatal: the bundle itself parsed. */
static json_t *tee_report_json(const cx_result_bundle *b)
{
    cx_nitro_doc d;
    cx_error e = {0};
    if (cx_nitro_doc_parse(b->tee_report, b->tee_report_len, &d, &e) != CX_OK)
        return json_pack("{s:I, s:s}", "bytes", (json_int_t)b->tee_report_len, "error", e.msg);
    int same_key = d.has_public_key && d.public_key_len == CX_STATEMENT_ED25519_PK_LEN &&
                   memcmp(d.public_key, b->public_key, CX_STATEMENT_ED25519_PK_LEN) == 0;
    json_t *j =
        json_pack("{s:I, s:s, s:s, s:I, s:b, s:b}", "bytes", (json_int_t)b->tee_report_len, "kind",
                  "nitro", "module_id", d.module_id, "timestamp", (json_int_t)d.timestamp_ms,
                  "public_key_matches", same_key, "simulated", d.simulated);
    cx_nitro_doc_free(&d);
    return j;
}

static json_t *bundle_gpu_json(const cx_result_bundle *b)
{
    if (!b->gpu_evidence)
        return json_null();
    cx_gpu_evidence_list l = {0};
    cx_error e = {0};
    json_t *j = NULL;
    if (cx_gpu_evidence_parse((const char *)b->gpu_evidence, b->gpu_evidence_len, &l, &e) !=
            CX_OK ||
        evidence_json(&l, &j, &e) != CX_OK)
        j = json_pack("{s:s}", "error", e.msg);
    cx_gpu_evidence_list_free(&l);
    if (j && json_object_set_new(j, "bytes", json_integer((json_int_t)b->gpu_evidence_len))) {
        json_decref(j);
        j = NULL;
    }
    if (j)
        json_object_del(j, "kind");
    return j;
}

/* A multi-rank job's ranks as the bundle lists them (null for a one-rank job), and whether they
 * hash to the statement's ranks_hash: what the bundle says, not a verification of the
 * documents. */
static json_t *bundle_ranks_json(const cx_result_bundle *b, const cx_statement *s)
{
    if (!b->n_ranks)
        return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a && i < b->n_ranks; i++) {
        const cx_bundle_rank *r = &b->ranks[i];
        if (json_array_append_new(
                a, json_pack("{s:I, s:o, s:I, s:I}", "rank", (json_int_t)r->rank, "x25519",
                             cx_job_hex_json(r->x25519, sizeof r->x25519), "document_bytes",
                             (json_int_t)r->document_len, "gpu_evidence_bytes",
                             (json_int_t)r->gpu_evidence_len)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    uint8_t h[32];
    int same = s->ranks_hash_len == 32 &&
               cx_bundle_ranks_hash(b->ranks, b->n_ranks, h, NULL) == CX_OK &&
               memcmp(h, s->ranks_hash, 32) == 0;
    return a ? json_pack("{s:o, s:b}", "list", a, "hash_matches_statement", same) : NULL;
}

int attest_detect_bundle(const uint8_t *buf, size_t len)
{
    size_t i = skip_space(buf, len);
    return i < len && buf[i] == '{' && contains(buf, len, "cloakx-result-bundle/");
}

int attest_inspect_bundle(cx_cli *cli, const uint8_t *buf, size_t len)
{
    cx_error e = {0};
    cx_result_bundle b = {0};
    cx_statement s = {0};
    uint64_t ts = 0;
    if (cx_result_bundle_parse((const char *)buf, len, &b, &e) != CX_OK)
        return refuse(cli, &e);
    if (cx_statement_decode(b.statement, b.statement_len, &s, &ts, &e) != CX_OK) {
        cx_result_bundle_free(&b);
        cx_error_prefix(&e, "bundle: \"statement\": ");
        return refuse(cli, &e);
    }
    json_t *j = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "kind", "result_bundle",
                          "statement", statement_json(&s, ts), "signature",
                          cx_job_hex_json(b.signature, CX_STATEMENT_ED25519_SIG_LEN), "public_key",
                          cx_job_hex_json(b.public_key, CX_STATEMENT_ED25519_PK_LEN), "enclave_id",
                          b.has_enclave_id ? addr_json(b.enclave_id) : json_null(), "tee_report",
                          tee_report_json(&b), "gpu_evidence", bundle_gpu_json(&b));
    if (j && json_object_set_new(j, "ranks", bundle_ranks_json(&b, &s)) != 0) {
        json_decref(j);
        j = NULL;
    }
    cx_statement_free(&s);
    cx_result_bundle_free(&b);
    return emit(cli, j,
                "CloakX result bundle (chain/RULES.md §5) — NOT verified (use 'cloakx verify "
                "FILE')");
}
