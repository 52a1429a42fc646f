/* test_util_file.c — atomic writes (content, mode, no temp left behind, abort keeps the
 * old file, a SIGKILLed writer leaves nothing), bounded reads, mkdir -p, failure paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cx_util.h"
#include "file_internal.h"

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

/* Fork a writer that opens an atomic file in sub (flags as cx_atomic_open_flags), writes,
 * then waits; SIGKILL it there and return how many entries sub holds afterwards. */
static int killed_writer_entries(const char *sub, unsigned flags)
{
    assert_int_equal(mkdir(sub, 0700), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        char path[400];
        snprintf(path, sizeof path, "%s/plain.txt", sub);
        cx_atomic_file f;
        cx_error e;
        if (cx_atomic_open_flags(&f, path, 0600, flags, &e) != CX_OK ||
            cx_atomic_write(&f, "plaintext", 9, &e) != CX_OK)
            _exit(10);
        if (write(p[1], "w", 1) != 1)
            _exit(11);
        for (;;)
            pause();
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    return count_entries(sub);
}

/* The writer's data lives in an unnamed O_TMPFILE until commit, so a kill leaves nothing. */
static void test_killed_writer_leaves_nothing(void **state)
{
    (void)state;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/killed", dir);
    assert_int_equal(killed_writer_entries(sub, 0), 0);
}

/* Same on tmpfs (/dev/shm) where present: a second filesystem with O_TMPFILE. */
static void test_killed_writer_tmpfs(void **state)
{
    (void)state;
    char shm[] = "/dev/shm/cx_test_file_XXXXXX";
    if (!mkdtemp(shm))
        skip();
    char sub[300];
    snprintf(sub, sizeof sub, "%s/killed", shm);
    int n = killed_writer_entries(sub, 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", shm);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(n, 0);
}

/* The fallback for filesystems without O_TMPFILE (forced here by CX_ATOMIC_NO_TMPFILE):
 * commit gives the content and mode, abort removes its temp; a kill leaves the named temp,
 * which shows the flag really took the mkstemp path. */
static void test_fallback_named_temp(void **state)
{
    (void)state;
    char sub[300], path[400];
    snprintf(sub, sizeof sub, "%s/fallback", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/f.bin", sub);
    cx_atomic_file f;
    cx_error e;
    assert_int_equal(cx_atomic_open_flags(&f, path, 0640, CX_ATOMIC_NO_TMPFILE, &e), CX_OK);
    assert_non_null(f.tmp_path);
    assert_int_equal(count_entries(sub), 1);
    assert_int_equal(cx_atomic_write(&f, "abc", 3, &e), CX_OK);
    assert_int_equal(cx_atomic_commit(&f, &e), CX_OK);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(count_entries(sub), 1);
    assert_int_equal(cx_atomic_open_flags(&f, path, 0640, CX_ATOMIC_NO_TMPFILE, &e), CX_OK);
    assert_int_equal(cx_atomic_write(&f, "zzzz", 4, &e), CX_OK);
    cx_atomic_abort(&f);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3);
    assert_int_equal(count_entries(sub), 1);

    char killed[300];
    snprintf(killed, sizeof killed, "%s/fallback-killed", dir);
    assert_int_equal(killed_writer_entries(killed, CX_ATOMIC_NO_TMPFILE), 1);
}

/* The O_TMPFILE path: no name exists before commit; commit names it with the right mode. */
static void test_tmpfile_commit(void **state)
{
    (void)state;
    char sub[300], path[400];
    snprintf(sub, sizeof sub, "%s/tmpfile", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/t.bin", sub);
    assert_int_equal(cx_file_write_atomic(path, "old", 3, 0600, NULL), CX_OK);
    cx_atomic_file f;
    cx_error e;
    assert_int_equal(cx_atomic_open(&f, path, 0604, &e), CX_OK);
    assert_int_equal(count_entries(sub), 1);
    assert_int_equal(cx_atomic_write(&f, "newer", 5, &e), CX_OK);
    assert_int_equal(cx_atomic_commit(&f, &e), CX_OK);
    assert_int_equal(count_entries(sub), 1);
    uint8_t *buf;
    size_t len;
    assert_int_equal(cx_file_read_all(path, 100, &buf, &len, &e), CX_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "newer", 5);
    free(buf);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0604);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomic_write_and_read), cmocka_unit_test(test_abort_keeps_old),
        cmocka_unit_test(test_unwritable_dir),        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_mkdir_p),
        cmocka_unit_test(test_killed_writer_leaves_nothing),
        cmocka_unit_test(test_killed_writer_tmpfs),
        cmocka_unit_test(test_fallback_named_temp),
        cmocka_unit_test(test_tmpfile_commit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
