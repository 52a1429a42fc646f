/* test_attestation_tee_sim.c — the simulated TEE: dev CA made once, documents in the Nitro
 * format that the real verifier accepts only with allow_simulated and the dev root, PCR0 =
 * SHA-384 of the running binary, keys persisted 0600 in a SIMULATED file, Ed25519 signing,
 * debug-mode documents, the X25519 key endorsement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "cx_attest.h"

typedef struct fixture {
    char dir[64], ca[96], state[96];
    uint8_t *root_pem;
    size_t root_pem_len;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cx_tee_sim_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->ca, sizeof f->ca, "%s/devca", f->dir);
    snprintf(f->state, sizeof f->state, "%s/state", f->dir);
    cx_error e;
    if (cx_tee_sim_devca_create(f->ca, &e) != CX_OK)
        return -1;
    char p[160];
    snprintf(p, sizeof p, "%s/%s", f->ca, CX_TEE_SIM_ROOT_CERT);
    if (cx_file_read_all(p, 1 << 16, &f->root_pem, &f->root_pem_len, &e) != CX_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f->root_pem);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void sha384_self(uint8_t out[48])
{
    uint8_t *b;
    size_t n;
    assert_int_equal(cx_file_read_all("/proc/self/exe", 1u << 30, &b, &n, NULL), CX_OK);
    unsigned int len;
    assert_int_equal(EVP_Digest(b, n, out, &len, EVP_sha384(), NULL), 1);
    free(b);
}

static void test_documents_verify_only_when_allowed(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    cx_tee *t;
    cx_tee_sim_config cfg = {.devca_dir = f->ca};
    assert_int_equal(cx_tee_sim_open(&cfg, &t, &e), CX_OK);
    assert_string_equal(cx_tee_backend_name(t), "sim");
    assert_true(cx_tee_is_simulated(t));
    uint8_t ud[149], nonce[32], pk[32];
    memset(ud, 0xab, sizeof ud);
    memset(nonce, 0x5c, sizeof nonce);
    cx_tee_public_keys(t, pk, NULL);
    uint8_t *doc;
    size_t len;
    assert_int_equal(cx_tee_attest(t, ud, sizeof ud, nonce, sizeof nonce, &doc, &len, &e), CX_OK);
    assert_true(len > 500 && doc[0] == 0x84 && doc[1] == 0x44); /* untagged COSE_Sign1 */

    cx_nitro_policy p = {.root_pem = (char *)f->root_pem, .root_pem_len = f->root_pem_len,
                         .allow_simulated = 1};
    cx_nitro_doc d;
    cx_nitro_check c;
    assert_int_equal(cx_nitro_verify(doc, len, &p, &d, &c, &e), CX_OK);
    assert_true(d.simulated);
    assert_false(d.debug);
    assert_int_equal(strncmp(d.module_id, CX_NITRO_SIM_MODULE_PREFIX, 17), 0);
    assert_true(d.has_public_key && d.public_key_len == 32);
    assert_memory_equal(d.public_key, pk, 32);
    assert_true(d.has_user_data && d.user_data_len == 149);
    assert_memory_equal(d.user_data, ud, 149);
    assert_true(d.has_nonce && d.nonce_len == 32);
    assert_memory_equal(d.nonce, nonce, 32);
    assert_int_equal(d.pcr_present, 0xffffu);
    uint8_t self[48];
    sha384_self(self);
    assert_memory_equal(d.pcr[0], self, 48); /* measurement = this binary */
    assert_memory_equal(d.pcr[2], self, 48);
    uint64_t now = cx_unix_ms();
    assert_true(d.timestamp_ms <= now && d.timestamp_ms + 60000 > now);
    cx_nitro_doc_free(&d);

    /* PCR policy works on simulated documents too */
    cx_nitro_pcr_expect good[] = {{0, self, 48}};
    p.pcrs = good;
    p.n_pcrs = 1;
    assert_int_equal(cx_nitro_verify(doc, len, &p, NULL, &c, &e), CX_OK);
    uint8_t other[48];
    memcpy(other, self, 48);
    other[47] ^= 1;
    cx_nitro_pcr_expect bad[] = {{0, other, 48}};
    p.pcrs = bad;
    assert_int_equal(cx_nitro_verify(doc, len, &p, NULL, &c, &e), CX_ERR_VERIFY);
    assert_int_equal(c, CX_NITRO_CHECK_PCR);
    p.n_pcrs = 0;

    /* refused without allow_simulated, even with the dev root pinned */
    p.allow_simulated = 0;
    assert_int_equal(cx_nitro_verify(doc, len, &p, NULL, &c, &e), CX_ERR_VERIFY);
    assert_int_equal(c, CX_NITRO_CHECK_SIMULATED);
    assert_non_null(strstr(e.msg, "simulated: "));
    /* and never chains to the AWS root */
    cx_nitro_policy aws = {.allow_simulated = 1};
    assert_int_equal(cx_nitro_verify(doc, len, &aws, NULL, &c, &e), CX_ERR_VERIFY);
    assert_int_equal(c, CX_NITRO_CHECK_ROOT);
    /* the leaf lives 3 hours, like the NSM's */
    p.allow_simulated = 1;
    p.at_ms = now + 4ull * 3600 * 1000;
    assert_int_equal(cx_nitro_verify(doc, len, &p, NULL, &c, &e), CX_ERR_VERIFY);
    assert_int_equal(c, CX_NITRO_CHECK_EXPIRED);
    /* a flipped byte in the payload breaks the ES384 signature */
    p.at_ms = 0;
    doc[40] ^= 0x01; /* inside module_id */
    assert_int_equal(cx_nitro_verify(doc, len, &p, NULL, &c, &e), CX_ERR_VERIFY);
    assert_int_equal(c, CX_NITRO_CHECK_SIGNATURE);
    free(doc);

    /* absent user_data / nonce are CBOR null */
    assert_int_equal(cx_tee_attest(t, NULL, 0, NULL, 0, &doc, &len, &e), CX_OK);
    assert_int_equal(cx_nitro_verify(doc, len, &p, &d, &c, &e), CX_OK);
    assert_false(d.has_user_data);
    assert_false(d.has_nonce);
    cx_nitro_doc_free(&d);
    free(doc);
    uint8_t big[513] = {0};
    assert_int_equal(cx_tee_attest(t, big, sizeof big, NULL, 0, &doc, &len, &e), CX_ERR_LIMIT);
    cx_tee_close(t);
}

static void test_keys_persist_and_sign(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    cx_tee *t1, *t2, *t3;
    cx_tee_sim_config cfg = {.devca_dir = f->ca, .state_dir = f->state};
    assert_int_equal(cx_tee_sim_open(&cfg, &t1, &e), CX_OK);
    uint8_t ed1[32], x1[32], ed2[32], x2[32];
    cx_tee_public_keys(t1, ed1, x1);
    cx_tee_close(t1);

    char path[200];
    snprintf(path, sizeof path, "%s/%s", f->state, CX_TEE_SIM_STATE_FILE);
    assert_non_null(strstr(path, "SIMULATED"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    uint8_t *txt;
    size_t n;
    assert_int_equal(cx_file_read_all(path, 4096, &txt, &n, NULL), CX_OK);
    assert_non_null(strstr((char *)txt, "SIMULATED"));
    free(txt);

    /* a restarted worker gets the same enclave keys back */
    assert_int_equal(cx_tee_sim_open(&cfg, &t2, &e), CX_OK);
    cx_tee_public_keys(t2, ed2, x2);
    assert_memory_equal(ed1, ed2, 32);
    assert_memory_equal(x1, x2, 32);

    /* X25519 secret matches the public key; Ed25519 signature verifies */
    EVP_PKEY *xk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, cx_tee_x25519_secret(t2), 32);
    uint8_t xpub[32];
    size_t xl = 32;
    assert_non_null(xk);
    assert_int_equal(EVP_PKEY_get_raw_public_key(xk, xpub, &xl), 1);
    assert_memory_equal(xpub, x2, 32);
    EVP_PKEY_free(xk);
    static const uint8_t msg[] = "result statement";
    uint8_t sig[64];
    assert_int_equal(cx_tee_sign(t2, msg, sizeof msg, sig, &e), CX_OK);
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ed2, 32);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, 64, msg, sizeof msg), 1);
    sig[0] ^= 1;
    assert_int_not_equal(EVP_DigestVerify(md, sig, 64, msg, sizeof msg), 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    cx_tee_close(t2);

    /* a key file others can read is refused */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(cx_tee_sim_open(&cfg, &t3, &e), CX_ERR_VERIFY);
    assert_int_equal(chmod(path, 0600), 0);
    /* without a state dir the keys are fresh each time */
    cx_tee_sim_config eph = {.devca_dir = f->ca};
    assert_int_equal(cx_tee_sim_open(&eph, &t3, &e), CX_OK);
    cx_tee_public_keys(t3, ed2, NULL);
    assert_memory_not_equal(ed1, ed2, 32);
    cx_tee_close(t3);
    /* no dev CA: a clear error */
    cx_tee_sim_config none = {.devca_dir = f->state};
    assert_int_equal(cx_tee_sim_open(&none, &t3, &e), CX_ERR_NOTFOUND);
}

static void test_debug_mode_refused_unless_allowed(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    cx_tee *t;
    cx_tee_sim_config cfg = {.devca_dir = f->ca, .debug_mode = 1};
    assert_int_equal(cx_tee_sim_open(&cfg, &t, &e), CX_OK);
    uint8_t *doc;
    size_t len;
    assert_int_equal(cx_tee_attest(t, NULL, 0, NULL, 0, &doc, &len, &e), CX_OK);
    cx_nitro_policy p = {.root_pem = (char *)f->root_pem, .root_pem_len = f->root_pem_len,
                         .allow_simulated = 1};
    cx_nitro_check c;
    assert_int_equal(cx_nitro_verify(doc, len, &p, NULL, &c, &e), CX_ERR_VERIFY);
    assert_int_equal(c, CX_NITRO_CHECK_DEBUG);
    assert_non_null(strstr(e.msg, "debug: "));
    p.allow_debug = 1;
    cx_nitro_doc d;
    assert_int_equal(cx_nitro_verify(doc, len, &p, &d, &c, &e), CX_OK);
    assert_true(d.debug);
    cx_nitro_doc_free(&d);
    free(doc);
    cx_tee_close(t);
}

static void test_x25519_endorsement(void **state)
{
    fixture *f = *state;
    cx_error e = {0};
    cx_tee *a, *b;
    cx_tee_sim_config cfg = {.devca_dir = f->ca};
    assert_int_equal(cx_tee_sim_open(&cfg, &a, &e), CX_OK);
    assert_int_equal(cx_tee_sim_open(&cfg, &b, &e), CX_OK);
    uint8_t eda[32], xa[32], edb[32], xb[32], sig[64];
    cx_tee_public_keys(a, eda, xa);
    cx_tee_public_keys(b, edb, xb);
    assert_int_equal(cx_tee_x25519_endorse(a, sig, &e), CX_OK);
    assert_int_equal(cx_tee_x25519_endorsement_verify(eda, xa, sig, &e), CX_OK);
    /* another enclave's X25519 key, or another signer: refused */
    assert_int_equal(cx_tee_x25519_endorsement_verify(eda, xb, sig, &e), CX_ERR_VERIFY);
    assert_int_equal(cx_tee_x25519_endorsement_verify(edb, xa, sig, &e), CX_ERR_VERIFY);
    cx_tee_close(a);
    cx_tee_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_documents_verify_only_when_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_persist_and_sign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debug_mode_refused_unless_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_x25519_endorsement, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
