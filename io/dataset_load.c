/* dataset_load.c — plaintext files into a dataset: each file memory-mapped and cut at
 * row boundaries into pieces parsed on OpenMP threads, or one file per thread. */
#include "dataset_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parse the data part [d, end) of one text blob on nt threads: cut at newlines, let
 * each thread take the rows that start in its piece, then re-parse any piece whose
 * guessed start was inside a quoted field (the previous piece ended elsewhere). */
static cx_err parse_pieces(cx_parser *p, cx_blob_state *b, const char *d, const char *end, int nt,
                           cx_error *e)
{
    size_t len = (size_t)(end - d);
    if (nt < 1 || len < ((size_t)1 << 20))
        nt = 1;
    uint64_t line0 = b->segs[0].line;
    cx_blob_reset_segs(b);
    cx_err rc = cx_blob_segs(p, b, (size_t)nt, e);
    if (rc != CX_OK)
        return rc;
    const char **st = calloc((size_t)nt + 1, sizeof *st);
    const char **en = calloc((size_t)nt, sizeof *en);
    if (!st || !en) {
        free(st);
        free(en);
        return cx_error_set(e, CX_ERR_NOMEM, "parser: out of memory");
    }
    st[0] = d;
    st[nt] = end;
    for (int k = 1; k < nt; k++) {
        const char *g = d + len / (size_t)nt * (size_t)k - 1;
        if (g < st[k - 1])
            g = st[k - 1];
        const char *nl = memchr(g, '\n', (size_t)(end - g));
        st[k] = nl ? nl + 1 : end;
    }
    /* reserve each piece's rows from the line density of the first 256 KiB, so that
     * storage does not grow (copy, wipe) while parsing */
    size_t probe = len < ((size_t)256 << 10) ? len : ((size_t)256 << 10);
    size_t lines = (size_t)cx_count_nl(d, d + probe) + 1;
    const cx_format_ops *ops = p->ops;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int k = 0; k < nt; k++) {
        b->segs[k].line = 1;
        size_t plen = (size_t)(st[k + 1] - st[k]);
        (void)cx_seg_reserve(&b->segs[k],
                             (size_t)((double)plen / (double)probe * (double)lines * 1.05) + 16);
        b->segs[k].oom = CX_OK;
        en[k] = st[k] < st[k + 1] ? ops->parse(&b->segs[k], st[k], st[k + 1], end, 1) : st[k];
    }
    for (int k = 1; k < nt && rc == CX_OK; k++) {
        if (en[k - 1] == st[k])
            continue;
        /* the guess was wrong (a quoted newline): redo this piece from the true start */
        cx_seg_free(&b->segs[k]);
        if ((rc = cx_seg_init(&b->segs[k], p->schema, &b->lay, e)) != CX_OK)
            break;
        b->segs[k].line = 1;
        st[k] = en[k - 1];
        en[k] = st[k] < st[k + 1] ? ops->parse(&b->segs[k], st[k], st[k + 1], end, 1) : st[k];
    }
    /* line numbers: each piece counted from 1; shift by the lines before it */
    uint64_t base = line0 - 1;
    for (int k = 0; k < nt && rc == CX_OK; k++) {
        cx_seg *s = &b->segs[k];
        if (s->oom)
            rc = cx_seg_status(s, e);
        for (size_t j = 0; j < s->n_listed; j++)
            s->listed[j].line += base;
        base += s->line - 1;
    }
    free(st);
    free(en);
    return rc;
}

cx_err cx_blob_load_text(cx_parser *p, cx_blob_state *b, const char *d, size_t len, int nt,
                         cx_error *e)
{
    const char *end = d + len;
    cx_err rc = CX_OK;
    while (cx_blob_need_pre(b) && d < end) {
        cx_csv_scan fresh = CX_CSV_SCAN_INIT;
        const char *re = p->ops->record_end(d, end, p->schema->delimiter, 1, &fresh);
        int consumed;
        if ((rc = cx_blob_pre_record(p, b, d, re, &consumed, e)) != CX_OK || !consumed)
            break;
        d = re;
    }
    if (rc == CX_OK && b->have_lay && !cx_blob_need_pre(b) && d < end)
        rc = parse_pieces(p, b, d, end, nt, e);
    return rc;
}

cx_err cx_blob_load_f32(cx_parser *p, cx_blob_state *b, const char *d, size_t len, int nt,
                        cx_error *e)
{
    size_t need = 0, off = 0;
    cx_err rc = cx_blob_f32_layout(p, b, (const uint8_t *)d, len, &need, &off, e);
    if (rc == CX_ERR_STATE)
        rc = cx_error_set(e, CX_ERR_FORMAT, "f32: file ends inside the header");
    if (rc != CX_OK)
        return rc;
    const size_t rb = b->f32_rowbytes;
    size_t nr = (len - off) / rb;
    if ((len - off) % rb)
        rc = cx_error_set(e, CX_ERR_FORMAT, "f32: data ends inside a row");
    else if (nr != b->f32_rows)
        rc = cx_error_set(e, CX_ERR_FORMAT, "f32: %llu rows announced, %zu present",
                          (unsigned long long)b->f32_rows, nr);
    if (rc != CX_OK)
        return rc;
    if (nt < 1 || nr * rb < ((size_t)1 << 20))
        nt = 1;
    cx_blob_reset_segs(b);
    if ((rc = cx_blob_segs(p, b, (size_t)nt, e)) != CX_OK)
        return rc;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int k = 0; k < nt; k++) {
        size_t r0 = nr * (size_t)k / (size_t)nt, r1 = nr * (size_t)(k + 1) / (size_t)nt;
        if (cx_seg_reserve(&b->segs[k], r1 - r0))
            cx_f32_rows(&b->segs[k], (const uint8_t *)d + off + r0 * rb, r1 - r0, r0);
    }
    b->f32_seen = nr;
    for (int k = 0; k < nt && rc == CX_OK; k++)
        rc = cx_seg_status(&b->segs[k], e);
    return rc;
}

static cx_err load_one(cx_parser *p, size_t idx, const char *path, int nt, cx_error *e)
{
    cx_blob_state *b = &p->blobs[idx];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cx_error_errno(e, errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO, errno, "open %s",
                              path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return cx_error_errno(e, CX_ERR_IO, err, "stat %s", path);
    }
    size_t len = (size_t)st.st_size;
    const char *map = NULL;
    if (len) {
        void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int err = errno;
            close(fd);
            return cx_error_errno(e, CX_ERR_IO, err, "mmap %s", path);
        }
        map = m;
        /* two hints: madvise takes one advice value, not flags (SEQUENTIAL | WILLNEED is
         * WILLNEED alone); hints only, so a refusal changes nothing */
        (void)madvise(m, len, MADV_SEQUENTIAL);
        (void)madvise(m, len, MADV_WILLNEED);
    }
    close(fd);
    cx_err rc = p->ops->load(p, b, map ? map : "", len, nt, e);
    if (rc == CX_OK)
        rc = cx_blob_finish(p, b, e);
    if (map)
        munmap((void *)map, len);
    if (rc != CX_OK) {
        cx_error_prefix(e, "%s: ", path);
        return cx_blob_fail(b, idx, e);
    }
    return CX_OK;
}

cx_err cx_dataset_load_files(const cx_dataset_schema *s, const char *const *paths, size_t n_paths,
                             int threads, cx_dataset **out, cx_error *e)
{
    if (!s || !paths || n_paths == 0 || !out)
        return cx_error_set(e, CX_ERR_ARG, "load: needs a schema and files");
    cx_data_format fmt = cx_data_format_from_path(paths[0]);
    for (size_t i = 1; i < n_paths; i++)
        if (cx_data_format_from_path(paths[i]) != fmt)
            return cx_error_set(e, CX_ERR_ARG, "load: %s: all files must have one format",
                                paths[i]);
    if (s->format_given && s->format != fmt)
        return cx_error_set(e, CX_ERR_ARG, "load: %s: not of the schema's format \"%s\"",
                            paths[0], cx_format_ops_of(s->format)->name);
    cx_error local;
    if (!e)
        e = &local;
    int nt = threads > 0 ? threads : omp_get_max_threads();
    cx_parser *p;
    cx_err rc = cx_parser_new(s, fmt, n_paths, &p, e);
    if (rc != CX_OK)
        return rc;
    if (n_paths >= (size_t)nt && nt > 1) {
        /* enough files for every thread: one file per thread at a time */
        cx_error *errs = calloc(n_paths, sizeof *errs);
        cx_err *rcs = calloc(n_paths, sizeof *rcs);
        if (!errs || !rcs) {
            rc = cx_error_set(e, CX_ERR_NOMEM, "load: out of memory");
        } else {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
            for (size_t i = 0; i < n_paths; i++)
                rcs[i] = load_one(p, i, paths[i], 1, &errs[i]);
            for (size_t i = 0; i < n_paths && rc == CX_OK; i++)
                if ((rc = rcs[i]) != CX_OK)
                    *e = errs[i];
        }
        free(errs);
        free(rcs);
    } else {
        for (size_t i = 0; i < n_paths && rc == CX_OK; i++)
            rc = load_one(p, i, paths[i], nt, e);
    }
    if (rc == CX_OK)
        rc = cx_parser_finalize(p, out, e);
    cx_parser_free(p);
    return rc;
}
