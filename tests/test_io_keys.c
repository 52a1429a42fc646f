/* test_io_keys.c — key files: save/load round trips, 0600 secrets, refusal of readable
 * secrets and malformed files; Ed25519 against RFC 8032 test 1; X25519 key ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cx_io.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cx_test_keys_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void test_x25519_roundtrip(void **state)
{
    (void)state;
    char sk[128], pk[128];
    path_of(sk, sizeof sk, "x.key");
    path_of(pk, sizeof pk, "x.pub");
    cx_x25519_key *k, *l;
    cx_error e;
    assert_int_equal(cx_x25519_key_generate(&k, &e), CX_OK);
    assert_int_equal(cx_x25519_key_save(k, sk, pk, &e), CX_OK);
    struct stat st;
    assert_int_equal(stat(sk, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(cx_x25519_key_load(sk, &l, &e), CX_OK);
    assert_memory_equal(cx_x25519_key_secret(k), cx_x25519_key_secret(l), 32);
    assert_memory_equal(cx_x25519_key_public(k), cx_x25519_key_public(l), 32);
    assert_int_equal(cx_secmem_size(l) >= 64, 1);
    uint8_t pub[32], id1[32], id2[32];
    assert_int_equal(cx_x25519_public_load(pk, pub, &e), CX_OK);
    assert_memory_equal(pub, cx_x25519_key_public(k), 32);
    cx_x25519_key_id(k, id1);
    assert_int_equal(cx_x25519_public_key_id(pub, id2, &e), CX_OK);
    assert_memory_equal(id1, id2, 32);
    /* the file is one documented line */
    uint8_t *buf;
    size_t len;
    assert_int_equal(cx_file_read_all(pk, 256, &buf, &len, &e), CX_OK);
    assert_true(len > 24 && memcmp(buf, "cloakx-x25519-public-v1 ", 24) == 0);
    assert_int_equal(buf[len - 1], '\n');
    free(buf);
    /* a public file is not a secret file and vice versa */
    assert_int_equal(cx_x25519_key_load(pk, &l, &e) == CX_OK, 0);
    cx_x25519_key_free(l);
    cx_x25519_key_free(k);
}

static void test_secret_permissions(void **state)
{
    (void)state;
    char sk[128];
    path_of(sk, sizeof sk, "perm.key");
    cx_x25519_key *k, *l = NULL;
    cx_error e;
    assert_int_equal(cx_x25519_key_generate(&k, &e), CX_OK);
    assert_int_equal(cx_x25519_key_save(k, sk, NULL, &e), CX_OK);
    assert_int_equal(chmod(sk, 0644), 0);
    assert_int_equal(cx_x25519_key_load(sk, &l, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "chmod 600"));
    assert_null(l);
    cx_x25519_key_free(k);
}

static void test_malformed(void **state)
{
    (void)state;
    char p[128];
    path_of(p, sizeof p, "bad.key");
    const char *bad[] = {
        "cloakx-x25519-secret-v1\n",
        "cloakx-x25519-secret-v1 AAAA\n",                                          /* 3 bytes */
        "cloakx-x25519-secret-v2 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", /* version */
        "cloakx-x25519-secret-v1 !!!!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", /* base64 */
        "cloakx-ed25519-secret-v1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        /* 96 bytes: longer than any key, still a length other than 32 (FORMAT.md) */
        ("cloakx-x25519-secret-v1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cx_error e;
        assert_int_equal(cx_file_write_atomic(p, bad[i], strlen(bad[i]), 0600, &e), CX_OK);
        cx_x25519_key *k = NULL;
        assert_int_equal(cx_x25519_key_load(p, &k, &e), CX_ERR_FORMAT);
        assert_null(k);
    }
    cx_error e;
    cx_x25519_key *k = NULL;
    path_of(p, sizeof p, "missing.key");
    assert_int_equal(cx_x25519_key_load(p, &k, &e), CX_ERR_NOTFOUND);
}

static void test_ed25519_rfc8032(void **state)
{
    (void)state;
    /* RFC 8032 §7.1, TEST 1 (empty message) */
    uint8_t seed[32], pub[32], sig[64], got[64];
    size_t n;
    assert_int_equal(cx_hex_decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                                   64, seed, 32, &n, NULL), CX_OK);
    assert_int_equal(cx_hex_decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                                   64, pub, 32, &n, NULL), CX_OK);
    assert_int_equal(cx_hex_decode("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                                   "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
                                   128, sig, 64, &n, NULL), CX_OK);
    cx_ed25519_key *k;
    assert_int_equal(cx_ed25519_key_from_seed(seed, &k, NULL), CX_OK);
    assert_memory_equal(cx_ed25519_key_public(k), pub, 32);
    assert_int_equal(cx_ed25519_key_sign(k, (const uint8_t *)"", 0, got, NULL), CX_OK);
    assert_memory_equal(got, sig, 64);
    assert_int_equal(cx_ed25519_verify(pub, (const uint8_t *)"", 0, sig, NULL), CX_OK);
    got[0] ^= 1;
    cx_error e;
    assert_int_equal(cx_ed25519_verify(pub, (const uint8_t *)"", 0, got, &e), CX_ERR_AUTH);

    char sk[128], pk[128];
    path_of(sk, sizeof sk, "ed.key");
    path_of(pk, sizeof pk, "ed.pub");
    assert_int_equal(cx_ed25519_key_save(k, sk, pk, &e), CX_OK);
    cx_ed25519_key *l;
    assert_int_equal(cx_ed25519_key_load(sk, &l, &e), CX_OK);
    assert_memory_equal(cx_ed25519_key_seed(l), seed, 32);
    uint8_t p2[32];
    assert_int_equal(cx_ed25519_public_load(pk, p2, &e), CX_OK);
    assert_memory_equal(p2, pub, 32);
    cx_ed25519_key_free(k);
    cx_ed25519_key_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x25519_roundtrip),
        cmocka_unit_test(test_secret_permissions),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_ed25519_rfc8032),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
