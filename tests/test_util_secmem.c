/* test_util_secmem.c — secure memory: alignment, guard pages, lock state, wipe on free,
 * allocation failure, and the lock-limit failure and fallback (in a child without
 * CAP_IPC_LOCK, since root may lock without limit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <linux/capability.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cx_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define CX_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CX_TEST_ASAN 1
#endif
#endif
#ifndef CX_TEST_ASAN
#define CX_TEST_ASAN 0
#endif

static void test_alloc_basic(void **state)
{
    (void)state;
    cx_error e;
    uint8_t *p = cx_secmem_alloc(100, 0, &e);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
    assert_int_equal(cx_secmem_size(p), 100);
    memset(p, 0xaa, 100);
    cx_secmem_free(p);
    cx_secmem_free(NULL);
}

static void test_alloc_too_large(void **state)
{
    (void)state;
    cx_error e;
    assert_null(cx_secmem_alloc(SIZE_MAX - 10, 0, &e));
    assert_int_equal(e.code, CX_ERR_NOMEM);
    assert_null(cx_secmem_alloc((size_t)1 << 46, 0, &e)); /* 64 TiB: mmap refuses */
    assert_int_equal(e.code, CX_ERR_NOMEM);
    assert_non_null(strstr(e.msg, "secure memory"));
}

/* Touching the page after the buffer must fault (guard page). */
static void test_guard_page(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* a sanitizer's handler would turn the fault into exit(1) */
        uint8_t *p = cx_secmem_alloc(10, 0, NULL);
        long ps = sysconf(_SC_PAGESIZE);
        volatile uint8_t *beyond = p + ps;
        *beyond = 1;
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
}

static int drop_ipc_lock(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0)
        return -1;
    data[0].effective &= ~(1u << CAP_IPC_LOCK);
    data[0].permitted &= ~(1u << CAP_IPC_LOCK);
    return (int)syscall(SYS_capset, &hdr, data);
}

/* Child: with a 0 lock limit, REQUIRE_LOCK fails with CX_ERR_LIMIT and a clear message,
 * and the default falls back to unlocked memory. */
static void test_lock_limit(void **state)
{
    (void)state;
#if CX_TEST_ASAN
    /* AddressSanitizer replaces mlock() with a no-op that succeeds, so no limit can be hit. */
    skip();
#endif
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        if (drop_ipc_lock() != 0 || setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
            _exit(10);
        cx_error e;
        void *p = cx_secmem_alloc(4096, CX_SECMEM_REQUIRE_LOCK, &e);
        if (p != NULL)
            _exit(11);
        if (e.code != CX_ERR_LIMIT || !strstr(e.msg, "RLIMIT_MEMLOCK"))
            _exit(12);
        p = cx_secmem_alloc(4096, 0, &e);
        if (!p || cx_secmem_is_locked(p))
            _exit(13);
        cx_secmem_free(p);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Child with a 0 lock limit: every unlocked allocation is counted (so the worker can say how
 * much could not be locked), and with the process-wide require policy (the operator's
 * --require-mlock) an allocation without CX_SECMEM_REQUIRE_LOCK is refused too. */
static void test_unlocked_counted_and_required(void **state)
{
    (void)state;
#if CX_TEST_ASAN
    skip(); /* mlock() is a no-op under AddressSanitizer */
#endif
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        if (drop_ipc_lock() != 0 || setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
            _exit(10);
        cx_secmem_stats a, b;
        cx_secmem_stats_get(&a);
        void *p = cx_secmem_alloc(3 * 4096 + 1, 0, NULL);
        if (!p)
            _exit(11);
        cx_secmem_stats_get(&b);
        if (b.unlocked_allocs != a.unlocked_allocs + 1 ||
            b.unlocked_bytes_total < a.unlocked_bytes_total + 4 * 4096 ||
            b.unlocked_bytes_live < 4 * 4096)
            _exit(12);
        cx_secmem_free(p);
        cx_secmem_require_lock(1);
        cx_error e;
        p = cx_secmem_alloc(4096, 0, &e);
        if (p || e.code != CX_ERR_LIMIT || !strstr(e.msg, "CAP_IPC_LOCK"))
            _exit(13);
        cx_secmem_stats_get(&b);
        if (!b.require_lock || b.unlocked_bytes_live != a.unlocked_bytes_live)
            _exit(14);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Every allocation is counted, and every release (each one wipes) too. */
static void test_stats_count_allocs_and_wipes(void **state)
{
    (void)state;
    cx_secmem_stats a, b;
    cx_secmem_stats_get(&a);
    void *p = cx_secmem_alloc(100, 0, NULL), *q = cx_secmem_realloc_wiped(NULL, 10, NULL);
    assert_non_null(p);
    assert_non_null(q);
    memset(q, 7, 10);
    q = cx_secmem_realloc_wiped(q, 5000, NULL);
    assert_non_null(q);
    assert_int_equal(((uint8_t *)q)[9], 7);
    assert_int_equal(((uint8_t *)q)[10], 0);
    cx_secmem_stats_get(&b);
    assert_int_equal(b.allocs - a.allocs, 3);
    assert_int_equal(b.frees - a.frees, 1);
    cx_secmem_free(p);
    cx_secmem_free(q);
    cx_secmem_stats_get(&b);
    assert_int_equal(b.frees - a.frees, 3);
}

static void test_locked_when_allowed(void **state)
{
    (void)state;
    struct rlimit rl;
    getrlimit(RLIMIT_MEMLOCK, &rl);
    void *p = cx_secmem_alloc(4096, 0, NULL);
    assert_non_null(p);
    if (geteuid() == 0 || rl.rlim_cur >= 3 * 4096)
        assert_true(cx_secmem_is_locked(p));
    cx_secmem_free(p);
}

static void test_wipe(void **state)
{
    (void)state;
    uint8_t buf[32];
    memset(buf, 0x5a, sizeof buf);
    cx_memwipe(buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0);
}

/* The arena: small allocations share blocks, 8-byte aligned and disjoint; one larger than a
 * block gets its own; freeing releases (wipes and unmaps) every block. */
static void test_arena(void **state)
{
    (void)state;
    cx_secmem_stats a, b, c;
    cx_secmem_stats_get(&a);
    cx_secarena ar;
    cx_secarena_init(&ar);
    uint8_t *prev = NULL;
    for (int i = 0; i < 500; i++) {
        uint8_t *p = cx_secarena_alloc(&ar, 13, NULL);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        memset(p, 0xa5, 13);
        if (prev)
            assert_true(p >= prev + 13 || p + 13 <= prev);
        prev = p;
    }
    uint8_t *big = cx_secarena_alloc(&ar, 3u << 20, NULL);
    assert_non_null(big);
    memset(big, 0x5a, 3u << 20);
    cx_secmem_stats_get(&b);
    assert_true(b.allocs - a.allocs <= 6); /* 500 x 16 bytes: pages doubling, then the big one */
    cx_secarena_free(&ar);
    assert_null(ar.head);
    cx_secmem_stats_get(&c);
    assert_int_equal(c.frees - a.frees, b.allocs - a.allocs);
    assert_int_equal(c.locked_bytes_live + c.unlocked_bytes_live,
                     a.locked_bytes_live + a.unlocked_bytes_live);
}

/* An allocation of a huge page or more starts on a huge page boundary (so that it can be
 * backed by transparent huge pages: a fault per 2 MiB, not per 4 KiB), with the usual guard
 * page right after its last page, and its bytes usable end to end. */
static void test_large_alloc_huge_aligned_and_guarded(void **state)
{
    (void)state;
    long ps = sysconf(_SC_PAGESIZE);
    size_t len = ((size_t)4 << 20) + 100;
    uint8_t *p = cx_secmem_alloc(len, 0, NULL);
    assert_non_null(p);
    if (ps == 4096)
        assert_int_equal((uintptr_t)p % ((uintptr_t)2 << 20), 0);
    assert_int_equal(cx_secmem_size(p), len);
    memset(p, 0x3c, len);
    assert_int_equal(p[len - 1], 0x3c);
    cx_secmem_free(p);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        uint8_t *q = cx_secmem_alloc(len, 0, NULL);
        if (!q)
            _exit(10);
        size_t pages = (len + (size_t)ps - 1) / (size_t)ps * (size_t)ps;
        volatile uint8_t *beyond = q + pages;
        *beyond = 1;
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
}

/* Memory that could not be locked is faulted in when allocated, as locking would have done,
 * so that its first touches do not land in the caller's hot loop: touching every page of it
 * afterwards takes (almost) no page faults. Skipped where the kernel cannot populate
 * (MADV_POPULATE_WRITE, Linux 5.14). */
static void test_unlocked_alloc_prefaulted(void **state)
{
    (void)state;
#if CX_TEST_ASAN || !defined(MADV_POPULATE_WRITE)
    skip();
#else
    long ps = sysconf(_SC_PAGESIZE);
    void *probe =
        mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(probe != MAP_FAILED);
    int can = madvise(probe, (size_t)ps, MADV_POPULATE_WRITE) == 0;
    munmap(probe, (size_t)ps);
    if (!can)
        skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        if (drop_ipc_lock() != 0 || setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
            _exit(10);
        size_t len = (size_t)256 * (size_t)ps;
        volatile uint8_t *p = cx_secmem_alloc(len, 0, NULL);
        if (!p || cx_secmem_is_locked((void *)p))
            _exit(11);
        struct rusage a, b;
        getrusage(RUSAGE_SELF, &a);
        for (size_t i = 0; i < len; i += (size_t)ps)
            p[i] = 1;
        getrusage(RUSAGE_SELF, &b);
        if (b.ru_minflt - a.ru_minflt > 8) /* 256 before: one per page */
            _exit(12);
        cx_secmem_free((void *)p);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_alloc_basic),
        cmocka_unit_test(test_alloc_too_large),
        cmocka_unit_test(test_guard_page),
        cmocka_unit_test(test_lock_limit),
        cmocka_unit_test(test_locked_when_allowed),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_unlocked_counted_and_required),
        cmocka_unit_test(test_stats_count_allocs_and_wipes),
        cmocka_unit_test(test_large_alloc_huge_aligned_and_guarded),
        cmocka_unit_test(test_unlocked_alloc_prefaulted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
