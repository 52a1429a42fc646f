/* test_util_file.c — atomic writes (content, mode, no temp left behind, abort keeps the
 * old file), bounded reads, mkdir -p, and failure paths (unwritable directory, limits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cx_util.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/cx_test_file_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void test_atomic_write_and_read(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/secret.key", dir);
    cx_error e;
    assert_int_equal(cx_file_write_atomic(path, "hello", 5, 0600, &e), CX_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    uint8_t *buf;
    size_t len;
    assert_int_equal(cx_file_read_all(path, 1024, &buf, &len, &e), CX_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(buf[5], 0);
    free(buf);
    assert_int_equal(cx_file_read_all(path, 3, &buf, &len, &e), CX_ERR_LIMIT);
    assert_int_equal(count_entries(dir), 1);
}

static void test_abort_keeps_old(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    assert_int_equal(cx_file_write_atomic(path, "old", 3, 0644, NULL), CX_OK);
    cx_atomic_file f;
    assert_int_equal(cx_atomic_open(&f, path, 0644, NULL), CX_OK);
    assert_int_equal(cx_atomic_write(&f, "new-partial", 11, NULL), CX_OK);
    cx_atomic_abort(&f);
    uint8_t *buf;
    size_t len;
    assert_int_equal(cx_file_read_all(path, 100, &buf, &len, NULL), CX_OK);
    assert_memory_equal(buf, "old", 3);
    free(buf);
    assert_int_equal(count_entries(dir), 2); /* secret.key from before, keep.txt; no temp */
}

/* An unwritable directory gives CX_ERR_IO naming the path (checked in a child that is
 * not root, since root ignores permissions). */
static void test_unwritable_dir(void **state)
{
    (void)state;
    char ro[300];
    snprintf(ro, sizeof ro, "%s/ro", dir);
    assert_int_equal(mkdir(ro, 0555), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && setuid(65534) != 0)
            _exit(10);
        char path[400];
        snprintf(path, sizeof path, "%s/x", ro);
        cx_error e;
        cx_err rc = cx_file_write_atomic(path, "x", 1, 0600, &e);
        if (rc != CX_ERR_IO || !strstr(e.msg, ro))
            _exit(11);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_missing_file(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    cx_error e;
    assert_int_equal(cx_file_read_all("/nonexistent/cx", 10, &buf, &len, &e), CX_ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "/nonexistent/cx"));
}

static void test_mkdir_p(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    assert_int_equal(cx_mkdir_p(path, 0700, NULL), CX_OK);
    assert_int_equal(cx_mkdir_p(path, 0700, NULL), CX_OK);
    char file[300];
    snprintf(file, sizeof file, "%s/a/f", dir);
    assert_int_equal(cx_file_write_atomic(file, "", 0, 0600, NULL), CX_OK);
    cx_error e;
    snprintf(path, sizeof path, "%s/a/f/g", dir);
    assert_int_not_equal(cx_mkdir_p(path, 0700, &e), CX_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomic_write_and_read), cmocka_unit_test(test_abort_keeps_old),
        cmocka_unit_test(test_unwritable_dir),        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_mkdir_p),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
