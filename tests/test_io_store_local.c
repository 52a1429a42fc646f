/* test_io_store_local.c — the local:DIR store: exact round trips at awkward sizes, ids
 * that are base64url(SHA-256), idempotence, fan-out, no temp files left, bad ids, corruption
 * detection, and many processes writing and reading the same store at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <dirent.h>

#include "io_store_testutil.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cx-test-store-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static cx_store *open_local(int verify)
{
    char url[300];
    snprintf(url, sizeof url, "local:%s/store", dir);
    cx_store_options o;
    memset(&o, 0, sizeof o);
    o.verify = verify;
    cx_store *s = NULL;
    cx_error e;
    if (cx_store_open(url, &o, &s, &e) != CX_OK)
        fail_msg("open %s: %s", url, e.msg);
    assert_string_equal(cx_store_kind(s), "local");
    return s;
}

static void put_bytes(cx_store *s, const uint8_t *p, size_t n, char id[CX_STORE_ID_MAX])
{
    mem_src m = {p, n, 0, 100000};
    cx_reader r = mem_reader(&m);
    cx_error e;
    if (cx_store_put(s, &r, id, &e) != CX_OK)
        fail_msg("put: %s", e.msg);
}

static void test_known_id(void **state)
{
    (void)state;
    cx_store *s = open_local(0);
    char id[CX_STORE_ID_MAX];
    put_bytes(s, (const uint8_t *)"abc", 3, id);
    /* SHA-256("abc") = ba7816bf...f20015ad, base64url without padding */
    assert_string_equal(id, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    char path[400];
    snprintf(path, sizeof path, "%s/store/un/%s", dir, id);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 3);
    put_bytes(s, NULL, 0, id);
    /* SHA-256("") */
    assert_string_equal(id, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    cx_store_free(s);
}

static void test_roundtrip_sizes(void **state)
{
    (void)state;
    cx_store *s = open_local(1);
    size_t sizes[] = {0, 1, 4095, 4096, 1u << 20, (1u << 20) + 1, 3u << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        uint8_t *p = test_bytes(sizes[i], (uint32_t)i + 100);
        char id[CX_STORE_ID_MAX], id2[CX_STORE_ID_MAX];
        put_bytes(s, p, sizes[i], id);
        put_bytes(s, p, sizes[i], id2); /* idempotent */
        assert_string_equal(id, id2);
        uint8_t *got;
        size_t len;
        cx_error e;
        assert_int_equal(read_all(s, id, &got, &len, &e), CX_OK);
        assert_int_equal(len, sizes[i]);
        assert_true(len == 0 || memcmp(got, p, len) == 0);
        cx_store_info st;
        assert_int_equal(cx_store_stat(s, id, &st, &e), CX_OK);
        assert_int_equal(st.size, sizes[i]);
        assert_int_equal(st.is_manifest, 0);
        free(got);
        free(p);
    }
    /* Nothing is left behind in the temporary directory. */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s/store/.tmp", dir);
    DIR *d = opendir(tmp);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    assert_int_equal(n, 0);
    cx_store_free(s);
}

static void test_errors(void **state)
{
    (void)state;
    cx_store *s = open_local(1);
    cx_error e;
    cx_reader r;
    cx_store_info st;
    assert_int_equal(cx_store_get(s, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0", &r, &e),
                     CX_ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "not found"));
    assert_int_equal(cx_store_get(s, "../../../../../../../../../../../etc/passwd", &r, &e),
                     CX_ERR_ARG);
    assert_int_equal(cx_store_stat(s, "short", &st, &e), CX_ERR_ARG);
    assert_int_equal(cx_store_get(s, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa=", &r, &e),
                     CX_ERR_ARG);
    /* Corruption on disk is caught when verifying. */
    char id[CX_STORE_ID_MAX];
    put_bytes(s, (const uint8_t *)"hello world", 11, id);
    char path[400];
    snprintf(path, sizeof path, "%s/store/%.2s/%s", dir, id, id);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fputc('H', f), 'H');
    fclose(f);
    uint8_t *got;
    size_t len;
    assert_int_equal(read_all(s, id, &got, &len, &e), CX_ERR_AUTH);
    assert_non_null(strstr(e.msg, "corrupt"));
    cx_store *s2 = NULL;
    assert_int_equal(cx_store_open("local:", NULL, &s2, &e), CX_ERR_ARG);
    assert_int_equal(cx_store_open("local:/proc/no/such/place", NULL, &s2, &e), CX_ERR_IO);
    cx_store_free(s);
}

/* Four processes each write the same blob and their own blob many times while reading
 * the shared one back: every read must be whole and exact. */
static void test_concurrent_processes(void **state)
{
    (void)state;
    const size_t n = 300000;
    uint8_t *shared = test_bytes(n, 4242);
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            cx_store *s = open_local(1);
            uint8_t *own = test_bytes(n, 5000 + (uint32_t)k);
            int bad = 0;
            for (int it = 0; it < 15 && !bad; it++) {
                char id[CX_STORE_ID_MAX], oid[CX_STORE_ID_MAX];
                mem_src m = {shared, n, 0, 0}, mo = {own, n, 0, 0};
                cx_reader r = mem_reader(&m), ro = mem_reader(&mo);
                cx_error e;
                uint8_t *got;
                size_t len;
                if (cx_store_put(s, &r, id, &e) != CX_OK ||
                    cx_store_put(s, &ro, oid, &e) != CX_OK ||
                    read_all(s, id, &got, &len, &e) != CX_OK)
                    bad = 1;
                else {
                    bad = len != n || memcmp(got, shared, n) != 0;
                    free(got);
                }
            }
            free(own);
            cx_store_free(s);
            _exit(bad);
        }
    }
    for (int k = 0; k < 4; k++) {
        int st = 0;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    free(shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_known_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_processes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
