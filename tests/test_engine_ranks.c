/* test_engine_ranks.c — a rank's per-job attestation (engine/ranks.c): a document bound to the
 * job, its place, rank 0's key and its channel key passes; one made for another job, rank,
 * size, rank 0 or key, one of another measurement, an edited one, and a simulated one where
 * none is allowed are each refused, naming the rank and the check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_engine.h"

typedef struct fx {
    char dir[64];
    cx_tee *tee, *other; /* this build, and a TEE measuring another executable */
    uint8_t *root;
    size_t root_len;
    cx_nitro_policy pol;
    uint8_t pcr0[64];
    size_t pcr0_len;
    uint8_t job[32], leader[32], x[32];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/cx_ranks_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    cx_error e;
    assert_int_equal(cx_tee_sim_devca_create(f->dir, &e), CX_OK);
    cx_tee_sim_config c = {.devca_dir = f->dir};
    assert_int_equal(cx_tee_sim_open(&c, &f->tee, &e), CX_OK);
    c.exe_path = "/bin/sh";
    assert_int_equal(cx_tee_sim_open(&c, &f->other, &e), CX_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, CX_TEE_SIM_ROOT_CERT);
    assert_int_equal(cx_file_read_all(path, 1 << 16, &f->root, &f->root_len, &e), CX_OK);
    f->pol = (cx_nitro_policy){
        .root_pem = (const char *)f->root, .root_pem_len = f->root_len, .allow_simulated = 1};
    uint8_t *doc = NULL;
    size_t len = 0;
    assert_int_equal(cx_tee_attest(f->tee, NULL, 0, NULL, 0, &doc, &len, &e), CX_OK);
    cx_nitro_doc d;
    assert_int_equal(cx_nitro_doc_parse(doc, len, &d, &e), CX_OK);
    f->pcr0_len = d.pcr_len[0];
    memcpy(f->pcr0, d.pcr[0], d.pcr_len[0]);
    cx_nitro_doc_free(&d);
    free(doc);
    for (int i = 0; i < 32; i++) {
        f->job[i] = (uint8_t)(i + 1);
        f->x[i] = (uint8_t)(0x80 + i);
    }
    uint8_t xpk[32];
    cx_tee_public_keys(f->tee, f->leader, xpk); /* rank 0 is this TEE */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    cx_tee_close(f->tee);
    cx_tee_close(f->other);
    free(f->root);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* tee's document for (job, rank, size, leader, x) */
static void make_doc(cx_tee *tee, const uint8_t job[32], uint32_t rank, uint32_t size,
                     const uint8_t leader[32], const uint8_t x[32], uint8_t **doc, size_t *len)
{
    uint8_t ud[32];
    cx_job_rank_binding(job, rank, size, leader, x, ud);
    cx_error e;
    assert_int_equal(cx_tee_attest(tee, ud, sizeof ud, NULL, 0, doc, len, &e), CX_OK);
}

static cx_err check(fx *f, const uint8_t *doc, size_t len, uint32_t rank, uint32_t size,
                    const uint8_t x[32], cx_error *e)
{
    return cx_job_rank_doc_check(doc, len, &f->pol, f->pcr0, f->pcr0_len, f->job, rank, size,
                                 f->leader, x, e);
}

static void test_bound_document_passes(void **state)
{
    fx *f = *state;
    uint8_t *doc;
    size_t len;
    cx_error e;
    make_doc(f->tee, f->job, 1, 2, f->leader, f->x, &doc, &len);
    assert_int_equal(check(f, doc, len, 1, 2, f->x, &e), CX_OK);
    free(doc);
    /* rank 0's own document: its key is the leader's */
    make_doc(f->tee, f->job, 0, 2, f->leader, f->x, &doc, &len);
    assert_int_equal(check(f, doc, len, 0, 2, f->x, &e), CX_OK);
    free(doc);
}

static void test_binding_refused(void **state)
{
    fx *f = *state;
    uint8_t *doc;
    size_t len;
    cx_error e;
    uint8_t other[32];
    memcpy(other, f->job, 32);
    other[0] ^= 1;
    make_doc(f->tee, other, 1, 2, f->leader, f->x, &doc, &len); /* another job */
    assert_int_equal(check(f, doc, len, 1, 2, f->x, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "rank 1: its attestation is not bound"));
    free(doc);
    make_doc(f->tee, f->job, 1, 2, f->leader, f->x, &doc, &len);
    assert_int_equal(check(f, doc, len, 2, 3, f->x, &e), CX_ERR_VERIFY); /* another place */
    assert_int_equal(check(f, doc, len, 1, 3, f->x, &e), CX_ERR_VERIFY); /* another size */
    memcpy(other, f->x, 32);
    other[31] ^= 1;
    assert_int_equal(check(f, doc, len, 1, 2, other, &e), CX_ERR_VERIFY); /* swapped key */
    free(doc);
    memcpy(other, f->leader, 32);
    other[5] ^= 1;
    make_doc(f->tee, f->job, 1, 2, other, f->x, &doc, &len); /* made for another rank 0 */
    assert_int_equal(check(f, doc, len, 1, 2, f->x, &e), CX_ERR_VERIFY);
    free(doc);
    /* rank 0 must be the enclave whose key signs: another TEE claiming rank 0 is refused even
     * with a document bound to the right leader key */
    make_doc(f->other, f->job, 0, 2, f->leader, f->x, &doc, &len);
    cx_nitro_doc d;
    assert_int_equal(cx_nitro_doc_parse(doc, len, &d, &e), CX_OK);
    assert_int_equal(cx_job_rank_doc_check(doc, len, &f->pol, d.pcr[0], d.pcr_len[0], f->job, 0, 2,
                                           f->leader, f->x, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "rank 0: its attestation is not of the enclave key"));
    cx_nitro_doc_free(&d);
    free(doc);
}

static void test_other_measurement_refused(void **state)
{
    fx *f = *state;
    uint8_t *doc;
    size_t len;
    cx_error e;
    make_doc(f->other, f->job, 1, 2, f->leader, f->x, &doc, &len);
    assert_int_equal(check(f, doc, len, 1, 2, f->x, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "rank 1: another measurement"));
    free(doc);
}

static void test_edited_or_untrusted_refused(void **state)
{
    fx *f = *state;
    uint8_t *doc;
    size_t len;
    cx_error e;
    make_doc(f->tee, f->job, 1, 2, f->leader, f->x, &doc, &len);
    doc[len - 10] ^= 0x40; /* in the signature */
    assert_int_equal(check(f, doc, len, 1, 2, f->x, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "rank 1: its attestation does not verify"));
    doc[len - 10] ^= 0x40;
    /* the AWS root, nothing simulated: what a production node's ranks check */
    cx_nitro_policy aws = {0};
    assert_int_equal(cx_job_rank_doc_check(doc, len, &aws, f->pcr0, f->pcr0_len, f->job, 1, 2,
                                           f->leader, f->x, &e),
                     CX_ERR_VERIFY);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_document_passes),
        cmocka_unit_test(test_binding_refused),
        cmocka_unit_test(test_other_measurement_refused),
        cmocka_unit_test(test_edited_or_untrusted_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
