/* test_attestation_binding.c — spec §4.2 binding: known-answer vectors (computed independently
 * with /usr/bin/python3 hashlib, see below), user_data layout, and the two-way verifier on
 * simulated-TEE documents: evidence moved to another job, key or challenge is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "cx_attest.h"

/* Vector inputs: job_id = 00..1f, pk_enc = the Nautilus weather key, challenge = 40..5f,
 * gpu_digest = 80..af. Expected values from:
 *   /usr/bin/python3 -c 'import hashlib; job=bytes(range(32)); pk=bytes.fromhex("e8e6...a2af");
 *     ch=bytes(range(0x40,0x60)); dg=bytes(range(0x80,0xb0));
 *     n=hashlib.sha256(b"cloakx/gpu-nonce/v1\x00"+job+pk+ch).digest();
 *     print(n.hex(), hashlib.sha256(b"CXAT\x01"+job+ch+n+dg).hexdigest())' */
static const char PK_HEX[] = "e8e62201dbe293b703c759f653107acbc2c911fa1d2e66f2c747bec95971a2af";
static const char KAT_NONCE[] = "82593030866c0114351019d20dfc8e3a8190de674b3487b86617f742a0ba43db";
static const char KAT_UD_SHA256[] =
    "808114029695ea71c56be91a4d3105cf97e52acc3a045fc3c0265ca01920cbf8";

static void fill(uint8_t *b, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(start + i);
}

static void test_known_answer(void **state)
{
    (void)state;
    uint8_t job[32], ch[32], pk[32], nonce[32];
    size_t n;
    fill(job, 32, 0x00);
    fill(ch, 32, 0x40);
    assert_int_equal(cx_hex_decode(PK_HEX, 64, pk, 32, &n, NULL), CX_OK);
    assert_int_equal(cx_bind_gpu_nonce(job, pk, ch, nonce, NULL), CX_OK);
    char hex[97];
    cx_hex_encode(nonce, 32, hex, sizeof hex, NULL);
    assert_string_equal(hex, KAT_NONCE);

    cx_bind_user_data ud;
    memcpy(ud.job_id, job, 32);
    memcpy(ud.challenge, ch, 32);
    memcpy(ud.gpu_nonce, nonce, 32);
    fill(ud.gpu_digest, 48, 0x80);
    uint8_t out[CX_BIND_USER_DATA_LEN];
    cx_bind_user_data_encode(&ud, out);
    assert_memory_equal(out, "CXAT\x01", 5);
    assert_memory_equal(out + 101, ud.gpu_digest, 48);
    uint8_t md[32];
    unsigned int ml;
    assert_int_equal(EVP_Digest(out, sizeof out, md, &ml, EVP_sha256(), NULL), 1);
    cx_hex_encode(md, 32, hex, sizeof hex, NULL);
    assert_string_equal(hex, KAT_UD_SHA256);

    cx_bind_user_data back;
    assert_int_equal(cx_bind_user_data_decode(out, sizeof out, &back, NULL), CX_OK);
    assert_memory_equal(&back, &ud, sizeof ud);
    cx_error e;
    assert_int_equal(cx_bind_user_data_decode(out, 148, &back, &e), CX_ERR_VERIFY);
    out[0] = 'X';
    assert_int_equal(cx_bind_user_data_decode(out, sizeof out, &back, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "magic"));
    out[0] = 'C';
    out[4] = 2;
    assert_int_equal(cx_bind_user_data_decode(out, sizeof out, &back, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "version"));
}

typedef struct fixture {
    char dir[64];
    uint8_t *root_pem;
    size_t root_pem_len;
    cx_tee *a, *b; /* two enclaves with different keys */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cx_bind_XXXXXX");
    if (!mkdtemp(f->dir) || cx_tee_sim_devca_create(f->dir, NULL) != CX_OK)
        return -1;
    char p[128];
    snprintf(p, sizeof p, "%s/%s", f->dir, CX_TEE_SIM_ROOT_CERT);
    cx_tee_sim_config cfg = {.devca_dir = f->dir};
    if (cx_file_read_all(p, 1 << 16, &f->root_pem, &f->root_pem_len, NULL) != CX_OK ||
        cx_tee_sim_open(&cfg, &f->a, NULL) != CX_OK || cx_tee_sim_open(&cfg, &f->b, NULL) != CX_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cx_tee_close(f->a);
    cx_tee_close(f->b);
    free(f->root_pem);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* The enclave side of §4.2: derive the GPU nonce from its key, attest with the digest. */
static void attest_bound(fixture *f, cx_tee *t, const uint8_t job[32], const uint8_t pk_for_nonce[32],
                         const uint8_t ch[32], const uint8_t digest[48], cx_nitro_doc *out)
{
    cx_bind_user_data ud;
    memcpy(ud.job_id, job, 32);
    memcpy(ud.challenge, ch, 32);
    assert_int_equal(cx_bind_gpu_nonce(job, pk_for_nonce, ch, ud.gpu_nonce, NULL), CX_OK);
    memcpy(ud.gpu_digest, digest, 48);
    uint8_t bytes[CX_BIND_USER_DATA_LEN];
    cx_bind_user_data_encode(&ud, bytes);
    uint8_t *doc;
    size_t len;
    assert_int_equal(cx_tee_attest(t, bytes, sizeof bytes, ch, 32, &doc, &len, NULL), CX_OK);
    cx_nitro_policy p = {.root_pem = (char *)f->root_pem, .root_pem_len = f->root_pem_len,
                         .allow_simulated = 1};
    cx_error e;
    assert_int_equal(cx_nitro_verify(doc, len, &p, out, NULL, &e), CX_OK);
    free(doc);
}

static void test_two_way_binding(void **state)
{
    fixture *f = *state;
    uint8_t job[32], job2[32], ch[32], ch2[32], digest[48], digest2[48], pka[32], pkb[32];
    fill(job, 32, 1);
    fill(job2, 32, 2);
    fill(ch, 32, 3);
    fill(ch2, 32, 4);
    fill(digest, 48, 5);
    fill(digest2, 48, 6);
    cx_tee_public_keys(f->a, pka, NULL);
    cx_tee_public_keys(f->b, pkb, NULL);
    uint8_t nonce_a[1][32], nonce_b[1][32], nonce_job2[1][32], nonce_ch2[1][32];
    assert_int_equal(cx_bind_gpu_nonce(job, pka, ch, nonce_a[0], NULL), CX_OK);
    assert_int_equal(cx_bind_gpu_nonce(job, pkb, ch, nonce_b[0], NULL), CX_OK);
    assert_int_equal(cx_bind_gpu_nonce(job2, pka, ch, nonce_job2[0], NULL), CX_OK);
    assert_int_equal(cx_bind_gpu_nonce(job, pka, ch2, nonce_ch2[0], NULL), CX_OK);
    cx_error e;
    cx_nitro_doc d;

    /* the honest case: both directions hold */
    attest_bound(f, f->a, job, pka, ch, digest, &d);
    assert_int_equal(cx_bind_verify(&d, job, ch, digest, (const uint8_t(*)[32])nonce_a, 1, &e),
                     CX_OK);
    /* the document checked against another job / challenge */
    assert_int_equal(cx_bind_verify(&d, job2, ch, digest, (const uint8_t(*)[32])nonce_a, 1, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "binding: job_id"));
    assert_int_equal(cx_bind_verify(&d, job, ch2, digest, (const uint8_t(*)[32])nonce_a, 1, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "binding: challenge"));
    /* GPU evidence requested for another enclave key, job or challenge */
    const uint8_t(*moved[])[32] = {(const uint8_t(*)[32])nonce_b, (const uint8_t(*)[32])nonce_job2,
                                   (const uint8_t(*)[32])nonce_ch2};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cx_bind_verify(&d, job, ch, digest, moved[i], 1, &e), CX_ERR_VERIFY);
        assert_non_null(strstr(e.msg, "binding: gpu report 0 nonce"));
    }
    /* second of two GPUs is foreign */
    uint8_t two[2][32];
    memcpy(two[0], nonce_a[0], 32);
    memcpy(two[1], nonce_b[0], 32);
    assert_int_equal(cx_bind_verify(&d, job, ch, digest, (const uint8_t(*)[32])two, 2, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "gpu report 1 nonce"));
    /* evidence swapped after attesting: digest differs */
    assert_int_equal(cx_bind_verify(&d, job, ch, digest2, (const uint8_t(*)[32])nonce_a, 1, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "binding: gpu_digest"));
    cx_nitro_doc_free(&d);

    /* enclave B replays A's binding (nonce computed for A's key): B's document is refused */
    attest_bound(f, f->b, job, pka, ch, digest, &d);
    assert_int_equal(cx_bind_verify(&d, job, ch, digest, (const uint8_t(*)[32])nonce_a, 1, &e),
                     CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "binding: gpu_nonce"));
    cx_nitro_doc_free(&d);

    /* a document without the binding */
    uint8_t *doc;
    size_t len;
    assert_int_equal(cx_tee_attest(f->a, NULL, 0, NULL, 0, &doc, &len, NULL), CX_OK);
    cx_nitro_policy p = {.root_pem = (char *)f->root_pem, .root_pem_len = f->root_pem_len,
                         .allow_simulated = 1};
    assert_int_equal(cx_nitro_verify(doc, len, &p, &d, NULL, &e), CX_OK);
    assert_int_equal(cx_bind_verify(&d, job, ch, digest, NULL, 0, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "binding: user_data"));
    cx_nitro_doc_free(&d);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test_setup_teardown(test_two_way_binding, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
