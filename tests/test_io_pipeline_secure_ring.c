/* test_io_pipeline_secure_ring.c — the pipeline's default chunk buffers are one secure ring:
 * one locked allocation whatever the buffer count (not one mapping per buffer), every chunk
 * decrypted through it in order, the ring wiped and released when the run ends, and the
 * default ring of 2 threads locked within the common 8 MiB RLIMIT_MEMLOCK. */
#include "io_cxb_testutil.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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

/* Decrypt blob (from a file when via_file) with the default allocator; returns the secure
 * allocations the run made. */
static uint64_t run_counting(const cx_x25519_key *k, const membuf *blob, int threads,
                             size_t buffers, int via_file, const uint8_t *pt, size_t len)
{
    char path[] = "/tmp/cx_test_ring_XXXXXX";
    cx_pipeline_blob in = {.id = "ring", .fd = -1};
    cx_mem_reader mr;
    if (via_file) {
        in.fd = mkstemp(path);
        assert_true(in.fd >= 0);
        unlink(path);
        assert_int_equal(cx_write_full(in.fd, blob->data, blob->len, NULL), CX_OK);
    } else {
        cx_reader_from_memory(&in.reader, &mr, blob->data, blob->len);
    }
    collect c = {0};
    cx_pipeline_result res;
    cx_pipeline_config cfg = {.threads = threads, .buffers = buffers};
    cx_pipeline_consumer cons = {collect_chunk, collect_done, &c};
    cx_secmem_stats a, b;
    cx_secmem_stats_get(&a);
    cx_error e;
    cx_err rc = cx_pipeline_run(&cfg, k, &in, 1, &cons, &res, &e);
    if (rc != CX_OK)
        fail_msg("%s", e.msg);
    cx_secmem_stats_get(&b);
    assert_int_equal(c.len, len);
    assert_memory_equal(c.data, pt, len);
    assert_int_equal(c.order_errors, 0);
    assert_int_equal(c.blobs_done_ok, 1);
    /* everything the run allocated securely was released (and so wiped) */
    assert_int_equal(b.allocs - a.allocs, b.frees - a.frees);
    assert_int_equal(b.locked_bytes_live, a.locked_bytes_live);
    assert_int_equal(b.unlocked_bytes_live, a.unlocked_bytes_live);
    if (in.fd >= 0)
        close(in.fd);
    free(c.data);
    return b.allocs - a.allocs;
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

/* In a child without CAP_IPC_LOCK and with an 8 MiB lock limit (the usual default), the
 * default ring of 2 threads with 1 MiB chunks is locked: nothing falls back to unlocked
 * memory. Runs first: the child forks before this process has started OpenMP threads. */
static void test_default_ring_locked_in_8mib(void **state)
{
    (void)state;
#if CX_TEST_ASAN
    skip(); /* mlock() is a no-op under AddressSanitizer */
#endif
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    size_t len = 6u * CX_CXB_DEFAULT_CHUNK + 5;
    uint8_t *pt = malloc(len);
    assert_non_null(pt);
    fill_pattern(pt, len, 5);
    membuf blob = {0};
    seal_to(k, pt, len, 0, CX_CONTENT_RAW, &blob, NULL, NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {(rlim_t)8 << 20, (rlim_t)8 << 20};
        if (drop_ipc_lock() != 0 || setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
            _exit(10);
        cx_mem_reader mr;
        cx_pipeline_blob in = {.id = "locked", .fd = -1};
        cx_reader_from_memory(&in.reader, &mr, blob.data, blob.len);
        collect c = {0};
        cx_pipeline_result res;
        cx_pipeline_config cfg = {.threads = 2};
        cx_pipeline_consumer cons = {collect_chunk, collect_done, &c};
        cx_secmem_stats a, b;
        cx_secmem_stats_get(&a);
        if (cx_pipeline_run(&cfg, k, &in, 1, &cons, &res, NULL) != CX_OK)
            _exit(11);
        cx_secmem_stats_get(&b);
        if (c.len != len || memcmp(c.data, pt, len) != 0)
            _exit(12);
        if (b.unlocked_allocs != a.unlocked_allocs)
            _exit(13); /* some of the ring could not be locked */
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    free(blob.data);
    free(pt);
    cx_x25519_key_free(k);
}

static void test_ring_is_one_allocation(void **state)
{
    (void)state;
    cx_x25519_key *k;
    assert_int_equal(cx_x25519_key_generate(&k, NULL), CX_OK);
    /* default 1 MiB chunks: a ring of 2..8 MiB, over the huge-page threshold */
    size_t len = 5u * CX_CXB_DEFAULT_CHUNK + 777;
    uint8_t *pt = malloc(len);
    assert_non_null(pt);
    fill_pattern(pt, len, 77);
    membuf blob = {0};
    seal_to(k, pt, len, 0, CX_CONTENT_RAW, &blob, NULL, NULL);
    for (int via_file = 0; via_file < 2; via_file++)
        for (int threads = 1; threads <= 2; threads++) {
            uint64_t two = run_counting(k, &blob, threads, 2, via_file, pt, len);
            uint64_t eight = run_counting(k, &blob, threads, 8, via_file, pt, len);
            /* the ring is one allocation: more buffers add none */
            assert_int_equal(two, eight);
        }
    free(blob.data);
    free(pt);
    cx_x25519_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_ring_locked_in_8mib),
        cmocka_unit_test(test_ring_is_one_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
