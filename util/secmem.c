/* secmem.c — memory for keys and plaintext: page-aligned between guard pages, locked
 * in RAM, left out of core dumps, and wiped before it is returned to the system. */
#include "cx_util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* Layout: [guard page][meta page][user pages...][guard page]; the meta page holds
 * the sizes so that free() needs only the pointer. */
typedef struct secmem_meta {
    uint64_t magic;
    size_t map_len;
    size_t user_len;
    size_t user_pages_len;
    int locked;
} secmem_meta;

#define SECMEM_MAGIC 0x43585345434d454dULL /* "CXSECMEM" */

/* The one process-wide state of this module, because what it describes is process-wide:
 * RLIMIT_MEMLOCK is a limit on the process, so whether locking is required and how much
 * could not be locked are facts about the process, not about any one caller. Atomics:
 * allocations come from many threads. */
static struct {
    atomic_int require_lock;
    atomic_uint_fast64_t lock_refusals, allocs, frees, unlocked_allocs, unlocked_bytes_total,
        unlocked_bytes_live, locked_bytes_live;
} g_secmem;

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

void cx_memwipe(void *p, size_t len)
{
    if (p && len)
        OPENSSL_cleanse(p, len);
}

static secmem_meta *meta_of(const void *p)
{
    return (secmem_meta *)((uintptr_t)p - page_size());
}

/* Allocations of at least one transparent huge page have their user pages start on a huge
 * page boundary and advised MADV_HUGEPAGE: a fault costs ~9 us per 4 KiB page on a
 * hypervisor that shadows the guest's page tables (measured: 4 MiB in 9 ms with 4 KiB pages,
 * 0.4 ms with huge pages), and the pipeline allocates its ring of chunk buffers per run. The
 * rules are unchanged: locked, guarded, left out of core dumps, wiped on free. */
#define SECMEM_HUGE ((size_t)2 << 20)

/* Map map_len bytes whose user pages (2 pages in) start on a huge page boundary when align:
 * map more, then unmap the slack before and after. */
static uint8_t *map_aligned(size_t map_len, size_t align, size_t ps, int *err)
{
    size_t raw_len = map_len + align;
    uint8_t *raw = mmap(NULL, raw_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        *err = errno;
        return NULL;
    }
    if (!align)
        return raw;
    uintptr_t user = ((uintptr_t)raw + 2 * ps + align - 1) & ~(uintptr_t)(align - 1);
    uint8_t *base = (uint8_t *)(user - 2 * ps);
    size_t head = (size_t)(base - raw), tail = raw_len - head - map_len;
    if ((head && munmap(raw, head) != 0) || (tail && munmap(base + map_len, tail) != 0)) {
        *err = errno;
        munmap(raw, raw_len); /* unmapping a range already unmapped is fine */
        return NULL;
    }
    return base;
}

void *cx_secmem_alloc(size_t len, unsigned flags, cx_error *e)
{
    size_t ps = page_size();
    if (len == 0)
        len = 1;
    if (len > SIZE_MAX - 4 * ps - SECMEM_HUGE) {
        cx_error_set(e, CX_ERR_NOMEM, "secure memory: %zu bytes is too large", len);
        return NULL;
    }
    size_t user_pages = (len + ps - 1) / ps * ps;
    size_t map_len = user_pages + 3 * ps;
    size_t align = ps == 4096 && user_pages >= SECMEM_HUGE ? SECMEM_HUGE : 0;
    int err = 0;
    uint8_t *base = map_aligned(map_len, align, ps, &err);
    if (!base) {
        cx_error_errno(e, CX_ERR_NOMEM, err, "secure memory: mmap of %zu bytes", map_len);
        return NULL;
    }
    if (madvise(base, map_len, MADV_DONTDUMP) != 0) {
        err = errno;
        munmap(base, map_len);
        cx_error_errno(e, CX_ERR_NOMEM, err, "secure memory: madvise(MADV_DONTDUMP)");
        return NULL;
    }
    uint8_t *user = base + 2 * ps;
    if (mprotect(base, ps, PROT_NONE) != 0 || mprotect(user + user_pages, ps, PROT_NONE) != 0) {
        err = errno;
        munmap(base, map_len);
        cx_error_errno(e, CX_ERR_NOMEM, err, "secure memory: guard pages");
        return NULL;
    }
#ifdef MADV_HUGEPAGE
    /* a hint: a kernel without transparent huge pages refuses it, and 4 KiB pages serve */
    if (align)
        (void)madvise(user, user_pages, MADV_HUGEPAGE);
#endif
    int locked = mlock(user - ps, user_pages + ps) == 0; /* mlock also faults every page in */
    if (!locked) {
        err = errno;
        if ((flags & CX_SECMEM_REQUIRE_LOCK) || atomic_load(&g_secmem.require_lock)) {
            atomic_fetch_add(&g_secmem.lock_refusals, 1);
            munmap(base, map_len);
            cx_error_errno(e, CX_ERR_LIMIT, err,
                           "secure memory: mlock of %zu bytes refused (RLIMIT_MEMLOCK; raise it "
                           "with `ulimit -l` or run with CAP_IPC_LOCK)",
                           user_pages);
            return NULL;
        }
        /* Fallback: unlocked but still excluded from dumps and wiped on free; counted, so
         * that the worker can say so loudly (cx_secmem_stats_get). Faulted in now, as mlock
         * would have, so that the first touches do not land in the caller's hot loop (the
         * pipeline decrypting into it); a kernel before 5.14 refuses the advice: a hint. */
#ifdef MADV_POPULATE_WRITE
        (void)madvise(user - ps, user_pages + ps, MADV_POPULATE_WRITE);
#endif
        atomic_fetch_add(&g_secmem.unlocked_allocs, 1);
        atomic_fetch_add(&g_secmem.unlocked_bytes_total, user_pages);
        atomic_fetch_add(&g_secmem.unlocked_bytes_live, user_pages);
    } else {
        atomic_fetch_add(&g_secmem.locked_bytes_live, user_pages);
    }
    atomic_fetch_add(&g_secmem.allocs, 1);
    secmem_meta *m = (secmem_meta *)(user - ps);
    m->magic = SECMEM_MAGIC;
    m->map_len = map_len;
    m->user_len = len;
    m->user_pages_len = user_pages;
    m->locked = locked;
    return user;
}

int cx_secmem_is_locked(const void *p)
{
    return p ? meta_of(p)->locked : 0;
}

size_t cx_secmem_size(const void *p)
{
    return p ? meta_of(p)->user_len : 0;
}

void cx_secmem_free(void *p)
{
    if (!p)
        return;
    size_t ps = page_size();
    secmem_meta *m = meta_of(p);
    if (m->magic != SECMEM_MAGIC)
        abort(); /* not ours: freeing it would corrupt memory */
    size_t map_len = m->map_len, user_pages = m->user_pages_len;
    int locked = m->locked;
    OPENSSL_cleanse(p, user_pages);
    OPENSSL_cleanse(m, sizeof *m);
    if (locked) {
        munlock((uint8_t *)p - ps, user_pages + ps);
        atomic_fetch_sub(&g_secmem.locked_bytes_live, user_pages);
    } else {
        atomic_fetch_sub(&g_secmem.unlocked_bytes_live, user_pages);
    }
    munmap((uint8_t *)p - 2 * ps, map_len);
    atomic_fetch_add(&g_secmem.frees, 1);
}

void cx_secmem_require_lock(int on)
{
    atomic_store(&g_secmem.require_lock, on ? 1 : 0);
}

void cx_secmem_stats_get(cx_secmem_stats *out)
{
    out->require_lock = atomic_load(&g_secmem.require_lock);
    out->lock_refusals = atomic_load(&g_secmem.lock_refusals);
    out->allocs = atomic_load(&g_secmem.allocs);
    out->frees = atomic_load(&g_secmem.frees);
    out->unlocked_allocs = atomic_load(&g_secmem.unlocked_allocs);
    out->unlocked_bytes_total = atomic_load(&g_secmem.unlocked_bytes_total);
    out->unlocked_bytes_live = atomic_load(&g_secmem.unlocked_bytes_live);
    out->locked_bytes_live = atomic_load(&g_secmem.locked_bytes_live);
}

void *cx_secmem_realloc_wiped(void *p, size_t len, cx_error *e)
{
    void *n = cx_secmem_alloc(len, 0, e);
    if (!n)
        return NULL;
    if (p) {
        size_t old = cx_secmem_size(p);
        memcpy(n, p, old < len ? old : len);
        cx_secmem_free(p);
    }
    return n;
}

/* ---------------------------------------------------------------- arena -- */

typedef struct secarena_block {
    struct secarena_block *next; /* the block made before this one */
    size_t cap, used;            /* bytes after the header */
} secarena_block;

enum { SECARENA_MAX_BLOCK = 1 << 20, SECARENA_ALIGN = 8 };

void cx_secarena_init(cx_secarena *a)
{
    memset(a, 0, sizeof *a);
}

void *cx_secarena_alloc(cx_secarena *a, size_t len, cx_error *e)
{
    size_t need = (len + SECARENA_ALIGN - 1) / SECARENA_ALIGN * SECARENA_ALIGN;
    if (need < len) {
        cx_error_set(e, CX_ERR_NOMEM, "secure memory: %zu bytes is too large", len);
        return NULL;
    }
    secarena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t hdr = sizeof *b, size = a->next_size ? a->next_size : page_size();
        if (size - hdr < need)
            size = need > SIZE_MAX - hdr ? SIZE_MAX : need + hdr;
        secarena_block *nb = cx_secmem_alloc(size, 0, e);
        if (!nb)
            return NULL;
        nb->next = b;
        nb->cap = cx_secmem_size(nb) - hdr;
        nb->used = 0;
        a->head = b = nb;
        size_t grown = size * 2;
        a->next_size = grown > SECARENA_MAX_BLOCK ? SECARENA_MAX_BLOCK : grown;
    }
    uint8_t *p = (uint8_t *)(b + 1) + b->used;
    b->used += need;
    return p;
}

void cx_secarena_free(cx_secarena *a)
{
    secarena_block *b = a->head;
    while (b) {
        secarena_block *next = b->next;
        cx_secmem_free(b);
        b = next;
    }
    memset(a, 0, sizeof *a);
}
