/* verify.c — result bundles from what the ledger and the store hold, and their verification:
 * statement, signature, TEE report, key binding, measurement, ledger, contributions accounted
 * for, spec, result hash, model recipient, GPU evidence, commitment. */
#include "cx_engine.h"
#include "job_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* ------------------------------------------------------------------ bundles -- */

cx_err cx_job_bundle_from_ledger(cx_ledger *l, cx_store *s, const cx_chain_id *job,
                                 cx_result_bundle *out, cx_error *e)
{
    memset(out, 0, sizeof *out);
    cx_ledger_result r;
    memset(&r, 0, sizeof r);
    cx_err rc = cx_ledger_result_get(l, job, &r, e);
    if (rc != CX_OK)
        return rc;
    cx_ledger_enclave en;
    rc = cx_ledger_enclave_get(l, &r.enclave_id, &en, e);
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    if (rc == CX_OK)
        rc = cx_job_enclave_doc_read(s, &en, CX_BUNDLE_REPORT_MAX, &doc, &doc_len, e);
    if (rc == CX_OK) {
        out->statement = r.statement;
        out->statement_len = r.statement_len;
        r.statement = NULL;
        memcpy(out->signature, r.signature, 64);
        memcpy(out->public_key, en.ed25519_pk, 32);
        out->has_enclave_id = 1;
        memcpy(out->enclave_id, r.enclave_id.b, 32);
        out->tee_report = doc;
        out->tee_report_len = doc_len;
        doc = NULL;
    }
    free(doc);
    cx_ledger_result_free(&r);
    return rc;
}

/* ------------------------------------------------------------------- verify -- */

typedef struct vlog {
    json_t *checks;
} vlog;

static void vnote(vlog *v, const char *check, const char *status, const char *detail)
{
    if (v->checks)
        json_array_append_new(v->checks, json_pack("{s:s, s:s, s:s}", "check", check, "status",
                                                   status, "detail", detail ? detail : ""));
}

static cx_err vfail(vlog *v, cx_error *e, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static cx_err vfail(vlog *v, cx_error *e, const char *check, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vnote(v, check, "failed", msg);
    return cx_error_set(e, CX_ERR_VERIFY, "%s: %s", check, msg);
}

/* SHA-256 of a stored blob and of its chunk tags, streamed (no key needed). */
static cx_err blob_hashes(cx_store *s, const char *id, cx_cxb_header *h, uint8_t whole[32],
                          uint8_t tags[32], cx_error *e)
{
    cx_reader r;
    cx_err rc = cx_store_get(s, id, &r, e);
    if (rc != CX_OK)
        return rc;
    EVP_MD_CTX *mw = EVP_MD_CTX_new(), *mt = EVP_MD_CTX_new();
    uint8_t *buf = malloc(1 << 16);
    uint8_t hb[CX_CXB_MAX_HEADER_LEN];
    if (!mw || !mt || !buf || EVP_DigestInit_ex(mw, EVP_sha256(), NULL) != 1 ||
        EVP_DigestInit_ex(mt, EVP_sha256(), NULL) != 1) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "hashing blob %s", id);
        goto out;
    }
    if ((rc = cx_cxb_header_read(&r, hb, h, e)) != CX_OK)
        goto out;
    if (EVP_DigestUpdate(mw, hb, h->header_len) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 of blob %s", id);
        goto out;
    }
    for (uint64_t i = 0; i < h->chunk_count && rc == CX_OK; i++) {
        size_t left = cx_cxb_chunk_plain_len(h, i) + CX_CXB_TAG_LEN;
        uint8_t tag[CX_CXB_TAG_LEN];
        size_t tpos = 0;
        while (left && rc == CX_OK) {
            size_t want = left > (1u << 16) ? (1u << 16) : left, got = 0;
            rc = cx_reader_read_full(&r, buf, want, &got, e);
            if (rc == CX_OK && got != want)
                rc = cx_error_set(e, CX_ERR_FORMAT, "blob %s: truncated in chunk %llu", id,
                                  (unsigned long long)i);
            if (rc != CX_OK)
                break;
            if (EVP_DigestUpdate(mw, buf, got) != 1) {
                rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 of blob %s", id);
                break;
            }
            /* the tag is the chunk's last 16 bytes, possibly split across reads */
            size_t tail = left - got < CX_CXB_TAG_LEN ? CX_CXB_TAG_LEN - (left - got) : 0;
            if (tail) {
                size_t take = tail > got ? got : tail;
                memcpy(tag + tpos, buf + got - take, take);
                tpos += take;
            }
            left -= got;
        }
        if (rc == CX_OK && EVP_DigestUpdate(mt, tag, CX_CXB_TAG_LEN) != 1)
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 of blob %s tags", id);
    }
    if (rc == CX_OK) {
        size_t got = 0;
        rc = cx_reader_read_full(&r, buf, 1, &got, e);
        if (rc == CX_OK && got)
            rc = cx_error_set(e, CX_ERR_FORMAT, "blob %s: bytes after its last chunk", id);
    }
    unsigned int l1 = 0, l2 = 0;
    if (rc == CX_OK && (EVP_DigestFinal_ex(mw, whole, &l1) != 1 ||
                        EVP_DigestFinal_ex(mt, tags, &l2) != 1 || l1 != 32 || l2 != 32))
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256");
out:
    free(buf);
    EVP_MD_CTX_free(mw);
    EVP_MD_CTX_free(mt);
    if (r.close)
        r.close(r.ctx);
    return rc;
}

/* One registered contribution as an auditor sees it: ok when it passes the job's header
 * checks (check_headers: recipient, pool, contributor, no duplicate, training data). */
typedef struct vcand {
    char id[CX_STORE_ID_MAX];
    cx_cxb_header h;
    int ok, listed;
} vcand;

/* Recompute the dataset commitment as an auditor can: the pool's contributions registered
 * before the job that pass the job's header checks, are in the data format the job's spec
 * declares and whose contributor the statement lists. */
static cx_err recompute_commitment(cx_ledger *l, cx_store *s, const cx_statement *st,
                                   const uint8_t x_pk[32], uint8_t out[32], size_t *n_blobs,
                                   cx_error *e)
{
    cx_chain_id job_id, pool_id;
    memcpy(job_id.b, st->job_id, 32);
    memcpy(pool_id.b, st->pool_id, 32);
    cx_ledger_job job;
    cx_err rc = cx_ledger_job_get(l, &job_id, &job, e);
    if (rc != CX_OK)
        return rc;
    cx_ledger_pool pool;
    if ((rc = cx_ledger_pool_get(l, &pool_id, &pool, e)) != CX_OK)
        return rc;
    cx_ledger_contribution *cs = NULL;
    size_t n = 0;
    if ((rc = cx_ledger_contributions_list(l, &pool_id, &cs, &n, e)) != CX_OK)
        return rc;
    cx_job_commit_item *items = calloc(n ? n : 1, sizeof *items);
    vcand *vc = calloc(n ? n : 1, sizeof *vc);
    if (!items || !vc) {
        free(items);
        free(vc);
        free(cs);
        return cx_error_set(e, CX_ERR_NOMEM, "verify: out of memory");
    }
    uint8_t key_id[32];
    rc = cx_x25519_public_key_id(x_pk, key_id, e);
    char pool_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&pool_id, pool_hex);
    for (size_t i = 0; i < n && rc == CX_OK; i++) {
        vcand *c = &vc[i];
        if (cs[i].created_ms > job.created_ms)
            continue;
        for (size_t k = 0; k < st->n_rows && !c->listed; k++)
            c->listed = memcmp(st->rows[k].contributor, cs[i].contributor.b, 32) == 0;
        char ch[CX_CHAIN_ID_HEX_LEN + 1];
        cx_error le;
        cx_reader r;
        if (cx_job_blob_id_str(cs[i].blob_id, cs[i].blob_id_len, c->id, &le) != CX_OK ||
            cx_store_get(s, c->id, &r, &le) != CX_OK)
            continue;
        uint8_t hb[CX_CXB_MAX_HEADER_LEN];
        cx_err hrc = cx_cxb_header_read(&r, hb, &c->h, &le);
        if (r.close)
            r.close(r.ctx);
        if (hrc != CX_OK)
            continue;
        cx_chain_id_to_hex(&cs[i].contributor, ch);
        char why[200];
        if (!cx_job_header_key_ok(hb, &c->h, key_id, &pool, why, sizeof why) ||
            strcmp(c->h.pool_id, pool_hex) != 0 || strcmp(c->h.contributor, ch) != 0)
            continue;
        int dup = 0;
        for (size_t k = 0; k < i && !dup; k++)
            dup = vc[k].ok && memcmp(vc[k].h.header_hash, c->h.header_hash, 32) == 0;
        if (dup)
            continue;
        c->ok = c->h.content_type == CX_CONTENT_CSV || c->h.content_type == CX_CONTENT_JSONL ||
                c->h.content_type == CX_CONTENT_F32;
    }
    /* the job's one data format is the one its spec declares (RULES.md, "The job's data") */
    cx_content_type job_ct = CX_CONTENT_RAW;
    if (rc == CX_OK)
        rc = cx_job_spec_content_type(s, &job, &job_ct, e);
    size_t m = 0;
    for (size_t i = 0; i < n && rc == CX_OK; i++) {
        if (!vc[i].ok || !vc[i].listed || vc[i].h.content_type != job_ct)
            continue;
        cx_cxb_header h;
        uint8_t whole[32], tags[32];
        cx_error le;
        if (blob_hashes(s, vc[i].id, &h, whole, tags, &le) != CX_OK)
            continue;
        /* the header checked above and the bytes hashed here come from two reads of a store
         * that may answer them differently: they must be the same blob */
        if (memcmp(h.header_hash, vc[i].h.header_hash, 32) != 0) {
            rc = cx_error_set(e, CX_ERR_VERIFY,
                              "the store served blob %s with another header on a second read",
                              vc[i].id);
            break;
        }
        snprintf(items[m].blob_id, sizeof items[m].blob_id, "%s", vc[i].id);
        memcpy(items[m].header_hash, h.header_hash, 32);
        memcpy(items[m].tag_hash, tags, 32);
        m++;
    }
    if (rc == CX_OK)
        rc = cx_job_dataset_commitment(items, m, out, e);
    *n_blobs = m;
    free(vc);
    free(items);
    free(cs);
    return rc;
}

/* One run of cx_job_verify_bundle: the bundle, the options, the checks noted so far, and
 * what the earlier checks decoded for the later ones. */
typedef struct verify_run {
    const cx_result_bundle *b;
    const cx_job_verify_opts *o;
    vlog v;
    cx_statement st;
    uint64_t ts;
    cx_chain_id jid;
    char job_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_nitro_doc doc;
    cx_cxb_header model; /* the stored sealed model's header (have_model) */
    int have_model;
    int has_model_key; /* the ledger revealed the job's key release */
    uint8_t *req;      /* the job request read from the store (malloc'ed), or NULL */
    size_t req_len;
} verify_run;

/* the statement decodes, and is for the job asked about */
static cx_err check_statement(verify_run *r, cx_error *e)
{
    cx_error le;
    if (cx_statement_decode(r->b->statement, r->b->statement_len, &r->st, &r->ts, &le) != CX_OK)
        return vfail(&r->v, e, "statement", "%s", le.msg);
    memcpy(r->jid.b, r->st.job_id, 32);
    cx_chain_id_to_hex(&r->jid, r->job_hex);
    if (r->o->job && !cx_chain_id_equal(r->o->job, &r->jid)) {
        char want[CX_CHAIN_ID_HEX_LEN + 1];
        cx_chain_id_to_hex(r->o->job, want);
        return vfail(&r->v, e, "statement", "the statement is for job %s, not %s (replayed)",
                     r->job_hex, want);
    }
    char detail[400];
    snprintf(detail, sizeof detail, "job %s, %zu contributor(s), signed at %llu ms", r->job_hex,
             r->st.n_rows, (unsigned long long)r->ts);
    vnote(&r->v, "statement", "ok", detail);
    return CX_OK;
}

static cx_err check_signature(verify_run *r, cx_error *e)
{
    const cx_result_bundle *b = r->b;
    cx_error le;
    if (cx_ed25519_verify(b->public_key, b->statement, b->statement_len, b->signature, &le) !=
        CX_OK)
        return vfail(&r->v, e, "signature",
                     "the statement's Ed25519 signature does not verify "
                     "under the bundle's enclave key (%s)",
                     le.msg);
    vnote(&r->v, "signature", "ok", "Ed25519 over the intent message, by the enclave key");
    return CX_OK;
}

/* the TEE report verifies under the trust anchor */
static cx_err check_report(verify_run *r, cx_error *e)
{
    cx_nitro_policy pol = {.root_pem = r->o->root_pem,
                           .root_pem_len = r->o->root_pem_len,
                           .at_doc_time = 1,
                           .allow_simulated = r->o->allow_simulated};
    cx_nitro_check failed = CX_NITRO_CHECK_OK;
    cx_error le;
    if (cx_nitro_verify(r->b->tee_report, r->b->tee_report_len, &pol, &r->doc, &failed, &le) !=
        CX_OK)
        return vfail(&r->v, e, "report", "%s", le.msg);
    char detail[400];
    snprintf(detail, sizeof detail, "%s document of %s verified (chain, ES384 signature)%s",
             r->doc.simulated ? "SIMULATED Nitro-format" : "Nitro", r->doc.module_id,
             r->doc.simulated ? "; accepted only because of --allow-simulated" : "");
    vnote(&r->v, "report", "ok", detail);
    return CX_OK;
}

/* the report binds the signing key and endorses the X25519 receiving key */
static cx_err check_key_binding(verify_run *r, cx_error *e)
{
    const cx_nitro_doc *doc = &r->doc;
    cx_error le;
    if (!doc->has_public_key || doc->public_key_len != 32 ||
        memcmp(doc->public_key, r->b->public_key, 32) != 0)
        return vfail(&r->v, e, "key_binding",
                     "the report's public_key is not the key that signed "
                     "the statement");
    if (!doc->has_user_data || doc->user_data_len != CX_JOB_REG_USER_DATA_LEN ||
        cx_tee_x25519_endorsement_verify(r->b->public_key, doc->user_data, doc->user_data + 32,
                                         &le) != CX_OK)
        return vfail(&r->v, e, "key_binding",
                     "the report does not carry an endorsed X25519 "
                     "receiving key");
    vnote(&r->v, "key_binding", "ok", "report public_key = signing key; X25519 key endorsed by it");
    return CX_OK;
}

/* the statement's measurement is the report's PCR0, and (with a ledger) the pool accepts it */
static cx_err check_measurement(verify_run *r, cx_error *e)
{
    const cx_statement *st = &r->st;
    cx_error le;
    if (!(r->doc.pcr_present & 1u) || r->doc.pcr_len[0] != st->code_measurement_len ||
        memcmp(r->doc.pcr[0], st->code_measurement, st->code_measurement_len) != 0)
        return vfail(&r->v, e, "measurement",
                     "the statement's code measurement is not the report's "
                     "PCR0");
    const cx_job_verify_opts *o = r->o;
    if (o->measurement && (o->measurement_len != st->code_measurement_len ||
                           memcmp(o->measurement, st->code_measurement, o->measurement_len) != 0))
        return vfail(&r->v, e, "measurement",
                     "the enclave ran other code than --measurement pins (PCR0 differs)");
    if (!o->ledger) {
        if (o->measurement)
            vnote(&r->v, "measurement", "ok", "statement = report PCR0 = the --measurement pin");
        else
            vnote(&r->v, "measurement", "skipped",
                  "statement = report PCR0, but which code that is was not checked: give "
                  "--measurement HEX or --ledger");
        return CX_OK;
    }
    cx_ledger_pool pool;
    cx_chain_id pid;
    memcpy(pid.b, st->pool_id, 32);
    if (cx_ledger_pool_get(r->o->ledger, &pid, &pool, &le) != CX_OK)
        return vfail(&r->v, e, "measurement", "pool: %s", le.msg);
    int ok = 0;
    for (size_t i = 0; i < pool.n_measurements && !ok; i++)
        ok = pool.measurement_lens[i] == st->code_measurement_len &&
             memcmp(pool.measurements[i], st->code_measurement, st->code_measurement_len) == 0;
    if (!ok)
        return vfail(&r->v, e, "measurement",
                     "the pool does not accept this enclave "
                     "measurement");
    vnote(&r->v, "measurement", "ok",
          o->measurement ? "statement = report PCR0 = the --measurement pin, accepted by the pool"
                         : "statement = report PCR0, accepted by the pool");
    return CX_OK;
}

/* the ledger accepted this very statement, from the enclave the bundle carries */
static cx_err check_ledger(verify_run *r, cx_error *e)
{
    const cx_result_bundle *b = r->b;
    cx_error le;
    if (!r->o->ledger) {
        vnote(&r->v, "ledger", "skipped", "no --ledger");
        return CX_OK;
    }
    cx_ledger_result lr;
    memset(&lr, 0, sizeof lr);
    if (cx_ledger_result_get(r->o->ledger, &r->jid, &lr, &le) != CX_OK)
        return vfail(&r->v, e, "ledger", "job %s has no accepted result: %s", r->job_hex, le.msg);
    int same = lr.statement_len == b->statement_len &&
               memcmp(lr.statement, b->statement, b->statement_len) == 0 &&
               memcmp(lr.signature, b->signature, 64) == 0;
    int refunded = lr.refunded;
    r->has_model_key = lr.model_key_len > 0;
    cx_chain_id eid = lr.enclave_id;
    cx_ledger_result_free(&lr);
    if (!same)
        return vfail(&r->v, e, "ledger",
                     "the ledger accepted a different statement for job %s "
                     "(this one is forged or replayed)",
                     r->job_hex);
    /* the enclave is the one the ledger accepted the result from, whatever the bundle
     * says (its enclave_id is optional): a bundle naming another one is refused */
    char eid_hex[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(&eid, eid_hex);
    if (b->has_enclave_id && memcmp(b->enclave_id, eid.b, 32) != 0)
        return vfail(&r->v, e, "ledger",
                     "the bundle names another enclave than the one the ledger accepted "
                     "the result from (%s)",
                     eid_hex);
    cx_ledger_enclave en;
    uint8_t dh[32];
    SHA256(b->tee_report, b->tee_report_len, dh);
    if (cx_ledger_enclave_get(r->o->ledger, &eid, &en, &le) != CX_OK)
        return vfail(&r->v, e, "ledger", "enclave %s: %s", eid_hex, le.msg);
    if (memcmp(en.ed25519_pk, b->public_key, 32) != 0 ||
        memcmp(en.x25519_pk, r->doc.user_data, 32) != 0 || memcmp(en.attestation_hash, dh, 32) != 0)
        return vfail(&r->v, e, "ledger",
                     "the registered enclave's keys or attestation "
                     "document differ from the bundle's");
    vnote(&r->v, "ledger", "ok",
          refunded ? "the ledger's accepted result (buyer refunded: k "
                     "not reached), from the bundle's registered enclave"
                   : "the ledger's accepted result (payment released), from the bundle's "
                     "registered enclave");
    return CX_OK;
}

/* Every contribution of the job (registered in its pool no later than the job's creation) is
 * accepted (its contributor listed) or rejected with a class, and every rejected entry is one
 * of them (RULES.md §2 Submit 12-13): a contribution the result leaves out was dropped, by a
 * failing store or by whoever wrote the statement (issue 13 item 5). */
static cx_err check_contributions(verify_run *r, cx_error *e)
{
    const cx_statement *st = &r->st;
    cx_error le;
    if (!r->o->ledger) {
        vnote(&r->v, "contributions", "skipped",
              "whether the result accounts for every contribution needs --ledger");
        return CX_OK;
    }
    cx_ledger_job job;
    cx_ledger_contribution *cs = NULL;
    size_t n = 0;
    cx_chain_id pid;
    memcpy(pid.b, st->pool_id, 32);
    if (cx_ledger_job_get(r->o->ledger, &r->jid, &job, &le) != CX_OK ||
        cx_ledger_contributions_list(r->o->ledger, &pid, &cs, &n, &le) != CX_OK)
        return vfail(&r->v, e, "contributions", "%s", le.msg);
    unsigned char *seen = calloc(st->n_rejected ? st->n_rejected : 1, 1);
    if (!seen) {
        free(cs);
        return cx_error_set(e, CX_ERR_NOMEM, "verify: out of memory");
    }
    size_t n_job = 0, n_accepted = 0;
    cx_err rc = CX_OK;
    for (size_t i = 0; i < n && rc == CX_OK; i++) {
        const cx_ledger_contribution *c = &cs[i];
        if (c->created_ms > job.created_ms)
            continue;
        n_job++;
        const cx_statement_rejected *x =
            cx_statement_find_rejected(st, c->contributor.b, c->blob_id, c->blob_id_len);
        if (x) {
            seen[x - st->rejected] = 1;
            continue;
        }
        if (cx_statement_find_contributor(st, c->contributor.b)) {
            n_accepted++;
            continue;
        }
        char id[CX_CHAIN_ID_HEX_LEN + 1], by[CX_CHAIN_ID_HEX_LEN + 1], blob[CX_STORE_ID_MAX];
        cx_chain_id_to_hex(&c->id, id);
        cx_chain_id_to_hex(&c->contributor, by);
        if (cx_job_blob_id_str(c->blob_id, c->blob_id_len, blob, &le) != CX_OK)
            snprintf(blob, sizeof blob, "(not a store id)");
        rc = vfail(&r->v, e, "contributions",
                   "contribution %s of %s (blob %s), registered before the job, is neither "
                   "accepted nor rejected by the result: it was left out",
                   id, by, blob);
    }
    for (size_t k = 0; rc == CX_OK && k < st->n_rejected; k++)
        if (!seen[k]) {
            cx_chain_addr a;
            char by[CX_CHAIN_ID_HEX_LEN + 1];
            memcpy(a.b, st->rejected[k].contributor, 32);
            cx_chain_id_to_hex(&a, by);
            rc = vfail(&r->v, e, "contributions",
                       "rejected entry %zu (of %s) is no contribution of the job's pool "
                       "registered before the job",
                       k, by);
        }
    free(seen);
    free(cs);
    if (rc != CX_OK)
        return rc;
    char detail[400];
    snprintf(detail, sizeof detail,
             "all %zu contribution(s) of the job accounted for: %zu accepted, %zu rejected with "
             "a reason class",
             n_job, n_accepted, st->n_rejected);
    vnote(&r->v, "contributions", "ok", detail);
    return CX_OK;
}

/* the stored result blob is this job's sealed model and hashes to the statement's hash */
static cx_err check_result_hash(verify_run *r, cx_error *e)
{
    const cx_statement *st = &r->st;
    cx_error le;
    if (!r->o->store) {
        vnote(&r->v, "result_hash", "skipped", "no --store");
        return CX_OK;
    }
    char rid[CX_STORE_ID_MAX];
    cx_cxb_header h;
    uint8_t whole[32], tags[32];
    if (cx_job_blob_id_str(st->result_blob_id, st->result_blob_id_len, rid, &le) != CX_OK ||
        blob_hashes(r->o->store, rid, &h, whole, tags, &le) != CX_OK)
        return vfail(&r->v, e, "result_hash", "the result blob: %s", le.msg);
    if (memcmp(whole, st->result_hash, 32) != 0)
        return vfail(&r->v, e, "result_hash",
                     "the stored model blob %s does not hash to the "
                     "statement's result hash",
                     rid);
    if (h.content_type != CX_CONTENT_MODEL || strcmp(h.contributor, r->job_hex) != 0)
        return vfail(&r->v, e, "result_hash", "blob %s is not this job's sealed model", rid);
    r->model = h;
    r->have_model = 1;
    vnote(&r->v, "result_hash", "ok", "SHA-256 of the stored sealed model = result_hash");
    return CX_OK;
}

/* the job request the statement's config_hash commits to: from --spec, else the one the
 * ledger's job names (its spec blob in the store); NULL when neither is at hand */
static cx_err job_request(verify_run *r, cx_error *e)
{
    const cx_job_verify_opts *o = r->o;
    cx_error le;
    if (o->request) {
        uint8_t h[32];
        SHA256(o->request, o->request_len, h);
        if (memcmp(h, r->st.config_hash, 32) != 0)
            return vfail(&r->v, e, "spec",
                         "the statement's config_hash is not the SHA-256 of the --spec job "
                         "request");
    }
    if (o->ledger) {
        cx_ledger_job job;
        if (cx_ledger_job_get(o->ledger, &r->jid, &job, &le) != CX_OK)
            return vfail(&r->v, e, "spec", "job %s: %s", r->job_hex, le.msg);
        if (memcmp(job.spec_hash, r->st.config_hash, 32) != 0)
            return vfail(&r->v, e, "spec",
                         "the statement's config_hash is not the spec hash of job %s on the "
                         "ledger",
                         r->job_hex);
        char sid[CX_STORE_ID_MAX];
        if (!o->request && o->store &&
            (cx_job_blob_id_str(job.spec_blob_id, job.spec_blob_id_len, sid, &le) != CX_OK ||
             cx_job_store_read_all(o->store, sid, 1 << 20, &r->req, &r->req_len, &le) != CX_OK))
            return vfail(&r->v, e, "spec", "the job request: %s", le.msg);
        if (r->req) {
            uint8_t h[32];
            SHA256(r->req, r->req_len, h);
            if (memcmp(h, job.spec_hash, 32) != 0)
                return vfail(&r->v, e, "spec",
                             "the stored job request does not hash to the job's spec hash");
        }
    }
    if (!o->request && !o->ledger) {
        vnote(&r->v, "spec", "skipped",
              "config_hash not checked: give --spec REQUEST.json or --ledger");
        return CX_OK;
    }
    vnote(&r->v, "spec", "ok",
          o->request && o->ledger ? "config_hash = SHA-256 of --spec = the job's spec hash"
          : o->request            ? "config_hash = SHA-256 of the --spec job request"
                                  : "config_hash = the job's spec hash on the ledger");
    return CX_OK;
}

/* the model is sealed to the buyer who asked for it: its header's recipient is the key the
 * job request names (the request's hash is the statement's config_hash, checked above) */
/* A model sealed with Seal (RULES.md §2.2): its header's Seal object is for this job's id (the
 * seal_approve_model policy: the buyer, once paid), read again and bound to the hashed header;
 * the other share is in the key release the ledger revealed with the payment. */
static cx_err check_model_seal(verify_run *r, cx_error *e)
{
#ifdef CX_HAVE_SEAL
    char rid[CX_STORE_ID_MAX];
    uint8_t hb[CX_CXB_MAX_HEADER_LEN];
    cx_cxb_header h;
    cx_reader rd;
    cx_error le;
    cx_seal_object *o = NULL;
    if (cx_job_blob_id_str(r->st.result_blob_id, r->st.result_blob_id_len, rid, &le) != CX_OK ||
        cx_store_get(r->o->store, rid, &rd, &le) != CX_OK)
        return vfail(&r->v, e, "model_recipient", "the model blob: %s", le.msg);
    cx_err rc = cx_cxb_header_read(&rd, hb, &h, &le);
    if (rd.close)
        rd.close(rd.ctx);
    if (rc != CX_OK || memcmp(h.header_hash, r->model.header_hash, 32) != 0)
        return vfail(&r->v, e, "model_recipient",
                     "the model blob's header is not the one hashed (%s)",
                     rc != CX_OK ? le.msg : "the store served other bytes");
    rc = cx_seal_object_decode(hb + h.key_object_off, h.key_object_len, &o, &le);
    int ok = rc == CX_OK && o->dem == CX_SEAL_DEM_PLAIN && o->id_len == CX_CHAIN_ID_LEN &&
             memcmp(o->id, r->jid.b, CX_CHAIN_ID_LEN) == 0;
    cx_seal_object_free(o);
    if (!ok)
        return vfail(&r->v, e, "model_recipient",
                     "the model's Seal object is not for this job's id (%s)",
                     rc != CX_OK ? le.msg : "another identity or a data-carrying object");
    if (!r->o->ledger) {
        vnote(&r->v, "model_recipient", "skipped",
              "sealed with Seal for this job (the buyer, once paid); the other half of its key "
              "is in the key release on the ledger (--ledger)");
        return CX_OK;
    }
    if (!r->has_model_key)
        return vfail(&r->v, e, "model_recipient",
                     "the model is sealed with Seal and the ledger revealed no key release for "
                     "the other half of its key");
    vnote(&r->v, "model_recipient", "ok",
          "sealed under a key split in two: one half released to the buyer by the enclave-signed "
          "key release the ledger revealed with the payment, the other by the Seal key servers "
          "to this job's buyer once paid");
    return CX_OK;
#else
    return vfail(&r->v, e, "model_recipient", "the model is sealed with Seal: this build has none");
#endif
}

static cx_err check_model_recipient(verify_run *r, cx_error *e)
{
    const uint8_t *req = r->o->request ? r->o->request : r->req;
    size_t req_len = r->o->request ? r->o->request_len : r->req_len;
    if (!req || !r->have_model) {
        vnote(&r->v, "model_recipient", "skipped",
              "needs the sealed model (--store) and the job request (--spec, or --ledger with "
              "--store)");
        return CX_OK;
    }
    cx_spec spec;
    uint8_t buyer_x[32], id[32];
    cx_error le;
    if (cx_job_request_parse(req, req_len, &spec, buyer_x, &le) != CX_OK)
        return vfail(&r->v, e, "model_recipient", "the job request: %s", le.msg);
    cx_spec_free(&spec);
    if (cx_x25519_public_key_id(buyer_x, id, &le) != CX_OK)
        return vfail(&r->v, e, "model_recipient", "%s", le.msg);
    if (r->model.suite == CX_CXB_SUITE_KEY_OBJECT)
        return check_model_seal(r, e);
    if (memcmp(id, r->model.recipient_key_id, 32) == 0) {
        vnote(&r->v, "model_recipient", "ok",
              "the sealed model's recipient = the job request's buyer key");
        return CX_OK;
    }
    /* RULES.md §2.2: sealed to the job's own model key, whose key the enclave wrapped to the
     * buyer in the key release the ledger revealed with the payment */
    if (!r->o->ledger) {
        vnote(&r->v, "model_recipient", "skipped",
              "sealed to the job's own model key: its release to the buyer is on the ledger "
              "(--ledger)");
        return CX_OK;
    }
    if (!r->has_model_key)
        return vfail(&r->v, e, "model_recipient",
                     "the model is sealed to another key than the buyer's in the job request, "
                     "and the ledger revealed no key release for it");
    vnote(&r->v, "model_recipient", "ok",
          "sealed to the job's model key, released to the buyer by the enclave-signed key "
          "release the ledger revealed with the payment");
    return CX_OK;
}

/* the GPU evidence the statement commits to (gpu_evidence_hash: SHA-256, or SHA-384 when 48
 * bytes), from the bundle or given with --gpu-evidence */
static cx_err check_gpu_evidence(verify_run *r, cx_error *e)
{
    const cx_statement *st = &r->st;
    if (st->gpu_evidence_hash_len == 0) {
        vnote(&r->v, "gpu_evidence", "ok", "none: the statement commits to no GPU (CPU job)");
        return CX_OK;
    }
    const uint8_t *ev = r->o->gpu_evidence ? r->o->gpu_evidence : r->b->gpu_evidence;
    size_t ev_len = r->o->gpu_evidence ? r->o->gpu_evidence_len : r->b->gpu_evidence_len;
    if (!ev) {
        vnote(&r->v, "gpu_evidence", "skipped",
              "the statement commits to GPU evidence that neither the bundle nor "
              "--gpu-evidence holds");
        return CX_OK;
    }
    uint8_t h[64];
    size_t hl = st->gpu_evidence_hash_len;
    if (hl == 32)
        SHA256(ev, ev_len, h);
    else if (hl == 48)
        SHA384(ev, ev_len, h);
    else
        return vfail(&r->v, e, "gpu_evidence",
                     "a gpu_evidence_hash of %zu bytes (32 or 48 expected)", hl);
    if (memcmp(h, st->gpu_evidence_hash, hl) != 0)
        return vfail(&r->v, e, "gpu_evidence",
                     "the GPU evidence does not hash to the statement's gpu_evidence_hash");
    vnote(&r->v, "gpu_evidence", "ok", "the GPU evidence hashes to gpu_evidence_hash");
    return CX_OK;
}

/* A job across ranks: the statement's ranks_hash is the bundle's list of ranks, and every
 * rank's document verifies, attests the statement's measurement and is bound to the job, its
 * place and the key that signed (what each rank checked before it took part). */
static cx_err check_ranks(verify_run *r, cx_error *e)
{
    const cx_result_bundle *b = r->b;
    const cx_statement *st = &r->st;
    if (st->ranks_hash_len == 0) {
        if (b->n_ranks)
            return vfail(&r->v, e, "ranks",
                         "the bundle lists %zu rank(s) the statement does not commit to",
                         b->n_ranks);
        vnote(&r->v, "ranks", "ok", "one process: the statement commits to no other rank");
        return CX_OK;
    }
    if (!b->n_ranks) {
        vnote(&r->v, "ranks", "skipped",
              "the statement commits to ranks the bundle does not list (the worker's "
              "results/<job>.bundle.json does)");
        return CX_OK;
    }
    uint8_t h[32];
    cx_error le;
    if (cx_bundle_ranks_hash(b->ranks, b->n_ranks, h, &le) != CX_OK)
        return vfail(&r->v, e, "ranks", "%s", le.msg);
    if (memcmp(h, st->ranks_hash, 32) != 0)
        return vfail(&r->v, e, "ranks",
                     "the bundle's %zu rank(s) do not hash to the statement's ranks_hash",
                     b->n_ranks);
    cx_nitro_policy pol = {.root_pem = r->o->root_pem,
                           .root_pem_len = r->o->root_pem_len,
                           .at_doc_time = 1,
                           .allow_simulated = r->o->allow_simulated};
    for (size_t k = 0; k < b->n_ranks; k++)
        if (cx_job_rank_doc_check(b->ranks[k].document, b->ranks[k].document_len, &pol,
                                  st->code_measurement, st->code_measurement_len, st->job_id,
                                  (uint32_t)k, (uint32_t)b->n_ranks, b->public_key,
                                  b->ranks[k].x25519, &le) != CX_OK)
            return vfail(&r->v, e, "ranks", "%s", le.msg);
    char detail[300];
    snprintf(detail, sizeof detail,
             "%zu ranks, each attested by its own TEE with the statement's measurement and bound "
             "to this job, its place and the signing key; they hash to ranks_hash",
             b->n_ranks);
    vnote(&r->v, "ranks", "ok", detail);
    return CX_OK;
}

/* the dataset commitment, recomputed from the ledger's contributions and the stored blobs */
static cx_err check_commitment(verify_run *r, cx_error *e)
{
    cx_error le;
    if (!(r->o->store && r->o->ledger)) {
        vnote(&r->v, "dataset_commitment", "skipped", "needs --ledger and --store");
        return CX_OK;
    }
    /* the enclave's keys were checked against the ledger above */
    uint8_t c[32];
    size_t nb = 0;
    if (recompute_commitment(r->o->ledger, r->o->store, &r->st, r->doc.user_data, c, &nb, &le) !=
        CX_OK)
        return vfail(&r->v, e, "dataset_commitment", "%s", le.msg);
    if (memcmp(c, r->st.dataset_commitment, 32) != 0)
        return vfail(&r->v, e, "dataset_commitment",
                     "recomputed over %zu blob(s) it differs "
                     "from the statement's",
                     nb);
    char detail[400];
    snprintf(detail, sizeof detail, "recomputed over %zu blob(s): equal", nb);
    vnote(&r->v, "dataset_commitment", "ok", detail);
    return CX_OK;
}

cx_err cx_job_verify_bundle(const cx_result_bundle *b, const cx_job_verify_opts *o, json_t **checks,
                            cx_error *e)
{
    verify_run r;
    memset(&r, 0, sizeof r);
    r.b = b;
    r.o = o;
    r.v.checks = json_array();
    if (!r.v.checks)
        return cx_error_set(e, CX_ERR_NOMEM, "verify: out of memory");
    cx_err rc;
    if ((rc = check_statement(&r, e)) == CX_OK && (rc = check_signature(&r, e)) == CX_OK &&
        (rc = check_report(&r, e)) == CX_OK && (rc = check_key_binding(&r, e)) == CX_OK &&
        (rc = check_measurement(&r, e)) == CX_OK && (rc = check_ledger(&r, e)) == CX_OK &&
        (rc = check_contributions(&r, e)) == CX_OK && (rc = job_request(&r, e)) == CX_OK &&
        (rc = check_result_hash(&r, e)) == CX_OK && (rc = check_model_recipient(&r, e)) == CX_OK &&
        (rc = check_gpu_evidence(&r, e)) == CX_OK && (rc = check_ranks(&r, e)) == CX_OK)
        rc = check_commitment(&r, e);
    free(r.req);
    cx_statement_free(&r.st);
    cx_nitro_doc_free(&r.doc);
    if (checks)
        *checks = r.v.checks;
    else
        json_decref(r.v.checks);
    return rc;
}

json_t *cx_job_rejected_json(const cx_statement *st)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < st->n_rejected; i++) {
        const cx_statement_rejected *x = &st->rejected[i];
        cx_chain_addr a;
        char by[CX_CHAIN_ID_HEX_LEN + 1], blob[2 * CX_STATEMENT_BLOB_ID_MAX + 1];
        memcpy(a.b, x->contributor, 32);
        cx_chain_id_to_hex(&a, by);
        cx_error le;
        char sid[CX_STORE_ID_MAX];
        if (cx_job_blob_id_str(x->blob_id, x->blob_id_len, sid, &le) == CX_OK)
            snprintf(blob, sizeof blob, "%s", sid);
        else if (cx_hex_encode(x->blob_id, x->blob_id_len, blob, sizeof blob, &le) != CX_OK)
            snprintf(blob, sizeof blob, "?");
        json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "contributor", by, "blob_id", blob,
                                             "reason", cx_reject_reason_name(x->reason)));
    }
    return out;
}

int cx_job_verify_complete(const json_t *checks)
{
    size_t n = json_array_size(checks);
    for (size_t i = 0; i < n; i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(checks, i), "status")), "ok") !=
            0)
            return 0;
    return n > 0;
}
