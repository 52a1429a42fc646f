/* pipeline.c — the streaming decryption pipeline: one thread reads (or maps) blobs and hands
 * chunks to OpenMP decrypt tasks over a fixed ring of locked buffers, then delivers them in
 * order to the consumer; a full ring is the back-pressure. Faults are named per blob. */
#include "cx_io.h"
#include "cxb_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <hwloc.h>
#include <omp.h>
#include <openssl/evp.h>

enum { SLOT_CHUNK = 0, SLOT_PREFAILED = 1 };

typedef struct slot {
    uint8_t *buf;       /* plaintext goes here (and the ciphertext too, for streams) */
    const uint8_t *src; /* ciphertext || tag: buf, or inside the blob's mapping */
    size_t len;         /* ciphertext + tag bytes */
    size_t blob;
    int64_t index; /* chunk index; -1 for a header failure */
    int kind;
    int last;
    cx_err rc;
    cx_cxb_fault fault;
    uint64_t found;
    cx_error err;
} slot;

typedef struct blob_state {
    cx_cxb_ctx *ctx;
    uint8_t *map;
    size_t map_len;
    uint64_t total;    /* bytes the source holds, when len_known */
    int len_known;
    uint64_t consumed; /* stream bytes read so far */
    size_t inflight;   /* slots queued and not yet delivered */
    int reading_done;
    int failed;
} blob_state;

typedef struct run {
    const cx_pipeline_config *cfg;
    const cx_x25519_key *key;
    cx_pipeline_blob *blobs;
    size_t n;
    const cx_pipeline_consumer *consumer;
    cx_pipeline_result *results;
    slot *slots;
    size_t nslots, bufsize;
    char *dep; /* one dependence object per slot for the OpenMP tasks */
    blob_state *bs;
    cx_cxb_worker **workers;
    int nworkers;
    EVP_MD_CTX *tag_md;
    uint8_t *scratch; /* for draining a failed stream to learn its length */
    uint64_t seq, dseq;
    size_t cur_blob; /* the blob being read */
    int stop;
    cx_err rc;
    cx_error err;
} run;

#define SCRATCH_LEN (64u * 1024u)

static void *secmem_alloc_cb(void *ud, size_t len, cx_error *e)
{
    (void)ud;
    return cx_secmem_alloc(len, 0, e);
}
static void secmem_free_cb(void *ud, void *p, size_t len)
{
    (void)ud;
    (void)len;
    cx_secmem_free(p);
}
static const cx_buf_allocator secmem_allocator = {secmem_alloc_cb, secmem_free_cb, NULL};

cx_err cx_io_bind_thread(const char *cpulist, cx_error *e)
{
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return cx_error_set(e, CX_ERR_INTERNAL, "hwloc topology init");
    cx_err rc = CX_OK;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        rc = cx_error_set(e, CX_ERR_NOMEM, "hwloc bitmap");
    else if (hwloc_topology_load(topo) != 0)
        rc = cx_error_errno(e, CX_ERR_INTERNAL, errno, "hwloc topology load");
    else if (hwloc_bitmap_list_sscanf(set, cpulist) != 0 || hwloc_bitmap_iszero(set))
        rc = cx_error_set(e, CX_ERR_ARG, "bad CPU list '%s'", cpulist);
    else if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD) != 0)
        rc = cx_error_errno(e, CX_ERR_IO, errno, "binding thread to CPUs %s", cpulist);
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(topo);
    return rc;
}

static const char *blob_name(const run *r, size_t b)
{
    return r->blobs[b].id ? r->blobs[b].id : "(unnamed)";
}

static void release_blob_if_done(run *r, size_t b)
{
    blob_state *bs = &r->bs[b];
    if (bs->inflight || !bs->reading_done)
        return;
    cx_cxb_ctx_free(bs->ctx);
    bs->ctx = NULL;
    if (bs->map) {
        munmap(bs->map, bs->map_len);
        bs->map = NULL;
    }
}

/* Record a failed blob (its message names blob and chunk), tell the consumer, apply policy. */
static void fail_blob(run *r, size_t b, int64_t chunk, cx_err code, const char *why)
{
    cx_pipeline_result *res = &r->results[b];
    blob_state *bs = &r->bs[b];
    bs->failed = 1;
    res->status = code;
    res->failed_chunk = chunk;
    snprintf(res->error, sizeof res->error, "blob %.100s: %.400s", blob_name(r, b), why);
    if (r->consumer->blob_done) {
        cx_error ce;
        cx_error_clear(&ce);
        cx_err rc = r->consumer->blob_done(r->consumer->ud, b, res, &ce);
        if (rc != CX_OK && !r->stop) {
            r->stop = 1;
            r->rc = rc;
            r->err = ce;
            return;
        }
    }
    if (r->cfg->policy == CX_PIPELINE_FATAL && !r->stop) {
        r->stop = 1;
        r->rc = code;
        cx_error_set(&r->err, code, "%s", res->error);
    } else if (r->rc == CX_OK) {
        r->rc = code; /* remembered: the run reports the first failure even when skipping */
        cx_error_set(&r->err, code, "%s", res->error);
    }
}

/* A chunk found at the wrong place: say whether chunks were dropped or reordered, from
 * how long the blob really is (draining the rest of a stream if need be). */
static void classify_moved(run *r, size_t b, const slot *s, char *why, size_t cap)
{
    blob_state *bs = &r->bs[b];
    const cx_cxb_header *h = &r->results[b].header;
    if (!bs->len_known && r->cur_blob == b && !bs->map) {
        cx_reader *rd = &r->blobs[b].reader;
        for (;;) {
            size_t got = 0;
            if (rd->read(rd->ctx, r->scratch, SCRATCH_LEN, &got, NULL) != CX_OK)
                break;
            if (got == 0) {
                bs->len_known = 1;
                bs->total = bs->consumed;
                break;
            }
            bs->consumed += got;
            if (bs->consumed > h->blob_len)
                break; /* longer than it should be: not "dropped"; stop reading */
        }
        bs->reading_done = 1;
    }
    unsigned long long i = (unsigned long long)s->index, j = (unsigned long long)s->found;
    if (bs->len_known && bs->total < h->blob_len)
        snprintf(why, cap, "chunk %llu: chunk %llu found in its place: chunk%s %llu%s%.0llu "
                 "dropped (blob is %llu bytes short)",
                 i, j, j - i > 1 ? "s" : "", i, j - i > 1 ? ".." : "", j - i > 1 ? j - 1 : 0,
                 (unsigned long long)(h->blob_len - bs->total));
    else if (bs->len_known && bs->total == h->blob_len)
        snprintf(why, cap, "chunk %llu: chunk %llu found in its place: chunks reordered", i, j);
    else
        snprintf(why, cap, "chunk %llu: chunk %llu found in its place: chunks dropped or "
                 "reordered", i, j);
}

static void deliver_one(run *r)
{
    size_t si = (size_t)(r->dseq % r->nslots);
    char *dep = r->dep;
#pragma omp taskwait depend(in : dep[si])
    (void)dep;
    slot *s = &r->slots[si];
    r->dseq++;
    size_t b = s->blob;
    blob_state *bs = &r->bs[b];
    cx_pipeline_result *res = &r->results[b];
    bs->inflight--;
    if (bs->failed || r->stop) {
        release_blob_if_done(r, b);
        return;
    }
    if (s->kind == SLOT_PREFAILED || s->rc != CX_OK) {
        char why[CX_ERROR_MSG_MAX];
        if (s->kind == SLOT_CHUNK && s->fault == CX_CXB_FAULT_MOVED && s->found > (uint64_t)s->index)
            classify_moved(r, b, s, why, sizeof why);
        else
            snprintf(why, sizeof why, "%s", s->err.msg);
        fail_blob(r, b, s->index, s->rc, why);
        release_blob_if_done(r, b);
        return;
    }
    size_t plain = s->len - CX_CXB_TAG_LEN;
    if (s->index == 0 && EVP_DigestInit_ex(r->tag_md, EVP_sha256(), NULL) != 1) {
        r->stop = 1;
        r->rc = cx_error_openssl(&r->err, CX_ERR_CRYPTO, "tag hash");
        return;
    }
    if (EVP_DigestUpdate(r->tag_md, s->src + plain, CX_CXB_TAG_LEN) != 1) {
        r->stop = 1;
        r->rc = cx_error_openssl(&r->err, CX_ERR_CRYPTO, "tag hash");
        return;
    }
    cx_pipeline_chunk c = {b, r->blobs[b].id, &res->header, (uint64_t)s->index, s->buf, plain,
                           s->last};
    cx_error ce;
    cx_error_clear(&ce);
    cx_err rc = r->consumer->chunk(r->consumer->ud, &c, &ce);
    if (rc != CX_OK) {
        r->stop = 1;
        r->rc = rc;
        r->err = ce;
        return;
    }
    res->bytes += plain;
    if (s->last) {
        unsigned int hl = 0;
        if (EVP_DigestFinal_ex(r->tag_md, res->tag_hash, &hl) != 1) {
            r->stop = 1;
            r->rc = cx_error_openssl(&r->err, CX_ERR_CRYPTO, "tag hash");
            return;
        }
        res->status = CX_OK;
        res->failed_chunk = -1;
        if (r->consumer->blob_done) {
            rc = r->consumer->blob_done(r->consumer->ud, b, res, &ce);
            if (rc != CX_OK) {
                r->stop = 1;
                r->rc = rc;
                r->err = ce;
            }
        }
    }
    release_blob_if_done(r, b);
}

/* The next free slot, delivering the oldest first when the ring is full (back-pressure). */
static slot *acquire(run *r)
{
    while (r->seq - r->dseq >= r->nslots)
        deliver_one(r);
    slot *s = &r->slots[r->seq % r->nslots];
    s->kind = SLOT_CHUNK;
    s->rc = CX_OK;
    s->fault = CX_CXB_FAULT_NONE;
    s->last = 0;
    cx_error_clear(&s->err);
    return s;
}

static void submit(run *r, slot *s)
{
    size_t si = (size_t)(r->seq % r->nslots);
    r->seq++;
    r->bs[s->blob].inflight++;
    if (s->kind != SLOT_CHUNK)
        return;
    const cx_cxb_ctx *ctx = r->bs[s->blob].ctx;
    char *dep = r->dep;
    (void)dep; /* used only in the depend clause */
    cx_cxb_worker **workers = r->workers;
    int nw = r->nworkers;
#pragma omp task firstprivate(s, ctx, workers, nw) depend(out : dep[si])
    {
        int t = omp_get_thread_num();
        cx_cxb_worker *w = workers[t < nw ? t : 0];
        s->rc = cx_cxb_chunk_decrypt(ctx, w, (uint64_t)s->index, s->src, s->len, s->buf,
                                     &s->fault, &s->found, &s->err);
    }
}

static void prefail(run *r, size_t b, int64_t index, cx_err code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void prefail(run *r, size_t b, int64_t index, cx_err code, const char *fmt, ...)
{
    slot *s = acquire(r);
    s->kind = SLOT_PREFAILED;
    s->blob = b;
    s->index = index;
    s->rc = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err.msg, sizeof s->err.msg, fmt, ap);
    va_end(ap);
    s->err.code = code;
    submit(r, s);
}

/* Open blob b: map or read its header, open it with the key. 0 on success. */
static int open_blob(run *r, size_t b, uint8_t hdr[CX_CXB_MAX_HEADER_LEN])
{
    cx_pipeline_blob *in = &r->blobs[b];
    blob_state *bs = &r->bs[b];
    cx_pipeline_result *res = &r->results[b];
    cx_error e;
    cx_error_clear(&e);
    const uint8_t *hp = hdr;
    size_t hlen = 0;
    if (in->fd >= 0) {
        struct stat st;
        if (fstat(in->fd, &st) != 0) {
            prefail(r, b, -1, CX_ERR_IO, "stat: %s", strerror(errno));
            return -1;
        }
        bs->total = (uint64_t)st.st_size;
        bs->len_known = 1;
        if (st.st_size > 0) {
            void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, in->fd, 0);
            if (m == MAP_FAILED) {
                prefail(r, b, -1, CX_ERR_IO, "mmap: %s", strerror(errno));
                return -1;
            }
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            bs->map = m;
            bs->map_len = (size_t)st.st_size;
        }
        hp = bs->map;
        hlen = bs->map_len;
        cx_cxb_header h;
        size_t need = 0;
        if (cx_cxb_header_parse(hp ? hp : hdr, hlen, &h, &need, &e) != CX_OK) {
            prefail(r, b, -1, e.code == CX_ERR_FORMAT && hlen < need ? CX_ERR_AUTH : e.code,
                    "header: %s", e.msg);
            return -1;
        }
        hlen = h.header_len;
    } else {
        cx_cxb_header h;
        if (cx_cxb_header_read(&in->reader, hdr, &h, &e) != CX_OK) {
            prefail(r, b, -1, e.code, "header: %s", e.msg);
            return -1;
        }
        hlen = h.header_len;
        bs->consumed = hlen;
    }
    if (cx_cxb_open(hp, hlen, r->key, &bs->ctx, &e) != CX_OK) {
        prefail(r, b, -1, e.code, "header: %s", e.msg);
        return -1;
    }
    res->header = *cx_cxb_ctx_header(bs->ctx);
    res->header_ok = 1;
    if ((size_t)res->header.chunk_size + CX_CXB_TAG_LEN > r->bufsize) {
        prefail(r, b, -1, CX_ERR_LIMIT, "chunk size %u exceeds the pipeline buffers (%zu bytes)",
                res->header.chunk_size, r->bufsize);
        return -1;
    }
    return 0;
}

static void read_blob(run *r, size_t b, uint8_t hdr[CX_CXB_MAX_HEADER_LEN])
{
    blob_state *bs = &r->bs[b];
    r->cur_blob = b;
    if (open_blob(r, b, hdr) != 0) {
        bs->reading_done = 1;
        release_blob_if_done(r, b);
        return;
    }
    const cx_cxb_header *h = &r->results[b].header;
    cx_reader *rd = &r->blobs[b].reader;
    for (uint64_t i = 0; i < h->chunk_count; i++) {
        if (bs->failed || r->stop || bs->reading_done)
            break;
        slot *s = acquire(r);
        if (bs->failed || r->stop || bs->reading_done)
            break; /* delivering made room and also found this blob broken */
        size_t want = cx_cxb_chunk_plain_len(h, i) + CX_CXB_TAG_LEN;
        int last = i + 1 == h->chunk_count;
        s->blob = b;
        s->index = (int64_t)i;
        s->len = want;
        s->last = last;
        if (bs->map || bs->len_known) {
            uint64_t off = cx_cxb_chunk_offset(h, i);
            if (off + want > bs->total) {
                prefail(r, b, (int64_t)i, CX_ERR_AUTH,
                        "chunk %llu: truncated (blob is %llu bytes, %llu expected)",
                        (unsigned long long)i, (unsigned long long)bs->total,
                        (unsigned long long)h->blob_len);
                break;
            }
            if (last && bs->total > h->blob_len) {
                prefail(r, b, (int64_t)i, CX_ERR_AUTH,
                        "chunk %llu: extended (%llu bytes after the last chunk)",
                        (unsigned long long)i, (unsigned long long)(bs->total - h->blob_len));
                break;
            }
            s->src = bs->map + off;
        } else {
            size_t got = 0;
            cx_error e;
            if (cx_reader_read_full(rd, s->buf, want, &got, &e) != CX_OK) {
                prefail(r, b, (int64_t)i, e.code, "chunk %llu: %s", (unsigned long long)i, e.msg);
                break;
            }
            bs->consumed += got;
            if (got < want) {
                bs->len_known = 1;
                bs->total = bs->consumed;
                prefail(r, b, (int64_t)i, CX_ERR_AUTH,
                        "chunk %llu: truncated (stream ended %zu bytes into it, %zu expected)",
                        (unsigned long long)i, got, want);
                break;
            }
            if (last) {
                uint8_t extra;
                size_t more = 0;
                if (cx_reader_read_full(rd, &extra, 1, &more, &e) != CX_OK) {
                    prefail(r, b, (int64_t)i, e.code, "after chunk %llu: %s",
                            (unsigned long long)i, e.msg);
                    break;
                }
                if (more) {
                    prefail(r, b, (int64_t)i, CX_ERR_AUTH,
                            "chunk %llu: extended (data follows the last chunk)",
                            (unsigned long long)i);
                    break;
                }
                bs->len_known = 1;
                bs->total = bs->consumed;
            }
            s->src = s->buf;
        }
        submit(r, s);
    }
    bs->reading_done = 1;
    release_blob_if_done(r, b);
}

cx_err cx_pipeline_run(const cx_pipeline_config *cfg, const cx_x25519_key *key,
                       cx_pipeline_blob *blobs, size_t n, const cx_pipeline_consumer *consumer,
                       cx_pipeline_result *results, cx_error *e)
{
    if (!cfg || !key || (!blobs && n) || !consumer || !consumer->chunk || (!results && n))
        return cx_error_set(e, CX_ERR_ARG, "pipeline: missing argument");
    run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.key = key;
    r.blobs = blobs;
    r.n = n;
    r.consumer = consumer;
    r.results = results;
    cx_error_clear(&r.err);
    int threads = cfg->threads > 0 ? cfg->threads : omp_get_max_threads();
    if (threads > 1024)
        return cx_error_set(e, CX_ERR_ARG, "pipeline: %d threads", threads);
    r.nslots = cfg->buffers ? cfg->buffers : (size_t)(4 * threads);
    if (r.nslots < 2)
        r.nslots = 2;
    r.bufsize = cfg->buffer_size ? cfg->buffer_size : CX_CXB_DEFAULT_CHUNK + CX_CXB_TAG_LEN;
    const cx_buf_allocator *al = cfg->allocator ? cfg->allocator : &secmem_allocator;
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof results[i]);
        results[i].failed_chunk = -1;
        results[i].status = CX_ERR_STATE; /* not reached (a fatal failure stopped the run) */
        snprintf(results[i].error, sizeof results[i].error, "blob %s: not processed",
                 blobs[i].id ? blobs[i].id : "(unnamed)");
    }

    cx_err rc = CX_OK;
    r.slots = calloc(r.nslots, sizeof *r.slots);
    r.dep = calloc(r.nslots, 1);
    r.bs = calloc(n ? n : 1, sizeof *r.bs);
    r.workers = calloc((size_t)threads, sizeof *r.workers);
    r.tag_md = EVP_MD_CTX_new();
    r.scratch = malloc(SCRATCH_LEN);
    if (!r.slots || !r.dep || !r.bs || !r.workers || !r.tag_md || !r.scratch) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "pipeline state");
        goto done;
    }
    r.nworkers = threads;
    for (int t = 0; t < threads; t++)
        if ((rc = cx_cxb_worker_new(&r.workers[t], e)) != CX_OK)
            goto done;
    for (size_t i = 0; i < r.nslots; i++) {
        r.slots[i].buf = al->alloc(al->ud, r.bufsize, e);
        if (!r.slots[i].buf) {
            rc = e ? e->code : CX_ERR_NOMEM;
            cx_error_prefix(e, "pipeline buffers: ");
            goto done;
        }
    }

    int bind_failed = 0;
    cx_error bind_err;
    cx_error_clear(&bind_err);
#pragma omp parallel num_threads(threads)
    {
        if (cfg->cpulist) {
            cx_error be;
            if (cx_io_bind_thread(cfg->cpulist, &be) != CX_OK) {
#pragma omp critical(cx_pipeline_bind)
                {
                    bind_failed = 1;
                    bind_err = be;
                }
            }
        }
#pragma omp barrier
#pragma omp single
        {
            if (bind_failed) {
                r.stop = 1;
                r.rc = bind_err.code;
                r.err = bind_err;
            }
            uint8_t hdr[CX_CXB_MAX_HEADER_LEN];
            for (size_t b = 0; b < n && !r.stop; b++)
                read_blob(&r, b, hdr);
            while (r.dseq < r.seq)
                deliver_one(&r);
        }
    }
    rc = r.rc;
    if (rc != CX_OK && e)
        *e = r.err;

done:
    for (size_t b = 0; r.bs && b < n; b++) {
        cx_cxb_ctx_free(r.bs[b].ctx);
        if (r.bs[b].map)
            munmap(r.bs[b].map, r.bs[b].map_len);
    }
    for (size_t i = 0; r.slots && i < r.nslots; i++)
        if (r.slots[i].buf) {
            /* plaintext passed through these buffers: wipe before any allocator gets them */
            cx_memwipe(r.slots[i].buf, r.bufsize);
            al->free(al->ud, r.slots[i].buf, r.bufsize);
        }
    for (int t = 0; r.workers && t < r.nworkers; t++)
        cx_cxb_worker_free(r.workers[t]);
    free(r.workers);
    free(r.slots);
    free(r.dep);
    free(r.bs);
    free(r.scratch);
    EVP_MD_CTX_free(r.tag_md);
    return rc;
}
