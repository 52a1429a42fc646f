/* test_engine_job.c — the job pipeline's small pieces: dataset commitment (canonical order,
 * binding every field), job requests (round trip, strictness), blob ids, the training fill
 * values a model carries for prediction, and where an enclave's document is. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "cx_engine.h"

static void test_commitment(void **state)
{
    (void)state;
    cx_job_commit_item a[3], b[3];
    memset(a, 0, sizeof a);
    const char *ids[3] = {"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                          "ccccccccccccccccccccccccccccccccccccccccccc"};
    for (int i = 0; i < 3; i++) {
        strcpy(a[i].blob_id, ids[i]);
        memset(a[i].header_hash, 0x10 + i, 32);
        memset(a[i].tag_hash, 0x20 + i, 32);
    }
    memcpy(b, a, sizeof a);
    uint8_t c1[32], c2[32], want[32];
    assert_int_equal(cx_job_dataset_commitment(a, 3, c1, NULL), CX_OK);
    /* the same set in another order: the same commitment */
    cx_job_commit_item t = b[0];
    b[0] = b[2];
    b[2] = t;
    assert_int_equal(cx_job_dataset_commitment(b, 3, c2, NULL), CX_OK);
    assert_memory_equal(c1, c2, 32);
    /* independently: SHA-256 over (len, id, header hash, tag hash) in ascending id order */
    uint8_t buf[3 * (1 + 43 + 64)], *p = buf;
    const int order[3] = {1, 0, 2};
    for (int k = 0; k < 3; k++) {
        int i = order[k];
        *p++ = 43;
        memcpy(p, ids[i], 43);
        p += 43;
        memset(p, 0x10 + i, 32);
        p += 32;
        memset(p, 0x20 + i, 32);
        p += 32;
    }
    SHA256(buf, sizeof buf, want);
    assert_memory_equal(c1, want, 32);
    /* any changed tag changes it */
    memcpy(b, a, sizeof a);
    b[1].tag_hash[31] ^= 1;
    assert_int_equal(cx_job_dataset_commitment(b, 3, c2, NULL), CX_OK);
    assert_memory_not_equal(c1, c2, 32);
    /* the empty set is SHA-256 of nothing */
    assert_int_equal(cx_job_dataset_commitment(NULL, 0, c2, NULL), CX_OK);
    SHA256((const uint8_t *)"", 0, want);
    assert_memory_equal(c2, want, 32);
}

static void test_request(void **state)
{
    (void)state;
    json_t *spec = NULL;
    const char *st = "{\"task\": \"classification\", \"data\": {\"label\": \"risk\"},"
                     " \"model\": {\"type\": \"mlp\", \"hidden\": [32]},"
                     " \"privacy\": {\"noise_multiplier\": 1.0, \"max_grad_norm\": 1.0}}";
    assert_int_equal(cx_json_parse(st, strlen(st), &spec, NULL), CX_OK);
    uint8_t x[32], back[32];
    for (int i = 0; i < 32; i++)
        x[i] = (uint8_t)i;
    char *req = NULL;
    size_t len = 0;
    assert_int_equal(cx_job_request_build(spec, x, &req, &len, NULL), CX_OK);
    cx_spec s;
    cx_error e;
    assert_int_equal(cx_job_request_parse((uint8_t *)req, len, &s, back, &e), CX_OK);
    assert_memory_equal(x, back, 32);
    assert_int_equal(s.privacy, 1);
    assert_int_equal(s.task, CX_TASK_CLASSIFICATION);
    cx_spec_free(&s);
    free(req);
    /* strict: unknown keys, another format, a short key, a bad spec */
    const char *bad[] = {
        "{\"format\":\"cloakx-job-request/1\",\"spec\":{\"task\":\"regression\",\"model\":"
        "{\"type\":\"linear\"}},\"buyer_x25519\":\"AAEC\"}",
        "{\"format\":\"cloakx-job-request/2\",\"spec\":{},\"buyer_x25519\":\"\"}",
        "{\"format\":\"cloakx-job-request/1\",\"spec\":{\"task\":\"x\"},\"buyer_x25519\":"
        "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}",
        "{\"format\":\"cloakx-job-request/1\",\"extra\":1}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(cx_job_request_parse((const uint8_t *)bad[i], strlen(bad[i]), &s,
                                                  back, &e),
                             CX_OK);
    json_decref(spec);
}

static void test_blob_ids(void **state)
{
    (void)state;
    char out[CX_STORE_ID_MAX];
    const char *good = "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0";
    assert_int_equal(cx_job_blob_id_str((const uint8_t *)good, strlen(good), out, NULL), CX_OK);
    assert_string_equal(out, good);
    assert_int_not_equal(cx_job_blob_id_str((const uint8_t *)"../etc/passwd", 13, out, NULL),
                         CX_OK);
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(cx_file_write_atomic(path, text, strlen(text), 0600, NULL), CX_OK);
}

/* "missing": "mean": training keeps its fill values with the data; predicting with a
 * model's metadata fills gaps with them, not with the predicted file's own means. */
static void test_fill_values(void **state)
{
    (void)state;
    write_text("fill_train.csv", "x,c,y\n1,a,0\n,b,1\n9,a,0\n");
    json_t *j = json_pack("{s:s, s:s, s:s, s:{s:n}}", "label", "y", "label_type", "class",
                          "missing", "mean", "categorical", "c");
    cx_dataset_schema *sc = NULL;
    cx_dataset *ds = NULL;
    const char *paths[1] = {"fill_train.csv"};
    assert_int_equal(cx_dataset_schema_from_json(j, &sc, NULL), CX_OK);
    assert_int_equal(cx_dataset_load_files(sc, paths, 1, 1, &ds, NULL), CX_OK);
    assert_int_equal(ds->d, 3); /* x, c=a, c=b */
    assert_non_null(ds->fill_values);
    assert_true(ds->fill_values[0] == 5.0f);
    assert_true(isnan(ds->fill_values[1]) && isnan(ds->fill_values[2]));
    assert_true(ds->X[1 * 3 + 0] == 5.0f);
    cx_dataset_free(ds);
    cx_dataset_schema_free(sc);
    json_decref(j);

    write_text("fill_pred.csv", "x,z\n,1\n100,1\n100,1\n");
    json_t *meta = json_pack("{s:s, s:s}", "predict_schema",
                             "{\"features\":[\"x\",\"z\"],\"missing\":\"mean\"}",
                             "fill_values", "[5.0, 7.0]");
    assert_int_equal(cx_job_predict_data_load(meta, 2, "fill_pred.csv", &ds, NULL), CX_OK);
    assert_int_equal(ds->n, 3);
    assert_true(ds->X[0] == 5.0f && ds->X[1] == 1.0f && ds->X[2] == 100.0f);
    cx_dataset_free(ds);
    /* a model without them: the file's own means, as before they were stored */
    json_object_del(meta, "fill_values");
    assert_int_equal(cx_job_predict_data_load(meta, 2, "fill_pred.csv", &ds, NULL), CX_OK);
    assert_true(ds->X[0] == 100.0f);
    cx_dataset_free(ds);
    /* malformed: wrong length, not a number */
    const char *bad[] = {"[5.0]", "[5.0, \"7\"]", "{}", "[5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_object_set_new(meta, "fill_values", json_string(bad[i]));
        cx_error e;
        ds = NULL;
        assert_int_equal(cx_job_predict_data_load(meta, 2, "fill_pred.csv", &ds, &e),
                         CX_ERR_FORMAT);
        assert_null(ds);
    }
    json_decref(meta);
}

/* cx_job_store_read_all: a blob of exactly max bytes is read whole, one byte more is refused,
 * also for limits below the first buffer's size */
static void test_store_read_limit(void **state)
{
    (void)state;
    char dir[] = "/tmp/cx-test-readall-XXXXXX", url[64];
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "local:%s", dir);
    cx_store *s = NULL;
    assert_int_equal(cx_job_store_open(url, NULL, &s, NULL), CX_OK);
    static uint8_t data[8192];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    char big[CX_STORE_ID_MAX], small[CX_STORE_ID_MAX];
    assert_int_equal(cx_job_store_put_bytes(s, data, sizeof data, big, NULL), CX_OK);
    assert_int_equal(cx_job_store_put_bytes(s, data, 200, small, NULL), CX_OK);
    uint8_t *b = NULL;
    size_t n = 0;
    cx_error e;
    if (cx_job_store_read_all(s, big, sizeof data, &b, &n, &e) != CX_OK)
        fail_msg("a blob of exactly max bytes: %s", e.msg);
    assert_int_equal(n, sizeof data);
    assert_memory_equal(b, data, n);
    free(b);
    assert_int_equal(cx_job_store_read_all(s, big, sizeof data - 1, &b, &n, &e), CX_ERR_LIMIT);
    assert_null(b);
    assert_int_equal(cx_job_store_read_all(s, small, 200, &b, &n, &e), CX_OK);
    assert_int_equal(n, 200);
    assert_memory_equal(b, data, n);
    free(b);
    assert_int_equal(cx_job_store_read_all(s, small, 199, &b, &n, &e), CX_ERR_LIMIT);
    assert_int_equal(cx_job_store_read_all(s, small, 100, &b, &n, &e), CX_ERR_LIMIT);
    cx_store_free(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Where an enclave's attestation document is fetched: the blob id the ledger recorded, or for
 * an enclave registered under ledger schema v1 (none recorded) base64url(SHA-256), which is
 * where local:DIR put it. */
static void test_enclave_doc_id(void **state)
{
    (void)state;
    char dir[] = "/tmp/cx-test-docid-XXXXXX", url[64], stored[CX_STORE_ID_MAX], id[CX_STORE_ID_MAX];
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof url, "local:%s", dir);
    cx_store *s = NULL;
    assert_int_equal(cx_job_store_open(url, NULL, &s, NULL), CX_OK);
    static const char doc[] = "an attestation document";
    assert_int_equal(cx_job_store_put_bytes(s, doc, sizeof doc, stored, NULL), CX_OK);
    cx_ledger_enclave en;
    memset(&en, 0, sizeof en);
    SHA256((const uint8_t *)doc, sizeof doc, en.attestation_hash);
    assert_int_equal(cx_job_enclave_doc_id(&en, id, NULL), CX_OK);
    assert_string_equal(id, stored);
    static const char wid[] = "M4hNZoWbtyZdYzuyEMEyNiTxhsuQeNR6Q0vUSRbIuMA"; /* not a SHA-256 */
    memcpy(en.attestation_blob_id, wid, strlen(wid));
    en.attestation_blob_id_len = strlen(wid);
    assert_int_equal(cx_job_enclave_doc_id(&en, id, NULL), CX_OK);
    assert_string_equal(id, wid);
    cx_error e;
    en.attestation_blob_id[3] = '/';
    assert_int_equal(cx_job_enclave_doc_id(&en, id, &e), CX_ERR_FORMAT);
    cx_store_free(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enclave_doc_id),
        cmocka_unit_test(test_commitment),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_blob_ids),
        cmocka_unit_test(test_fill_values),
        cmocka_unit_test(test_store_read_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
