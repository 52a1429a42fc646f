/* fuzz_io_cxb.c — libFuzzer target for the .cxb header parser and the chunk reader. The first
 * byte picks: parse a header; or the committed KAT blob's valid header followed by fuzzed
 * chunk bytes, through the pipeline as a stream or as a mapped file; or a whole fuzzed blob. */
#define _GNU_SOURCE
#include "cx_io.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint8_t *kat;
static size_t kat_len, kat_hdr_len;
static cx_x25519_key *key;

static void init(void)
{
    if (kat)
        return;
    cx_error e;
    if (cx_file_read_all(CX_TESTDATA "/cxb/kat_csv_2chunks.cxb", 1 << 20, &kat, &kat_len, &e))
        abort();
    cx_cxb_header h;
    if (cx_cxb_header_parse(kat, kat_len, &h, NULL, &e) != CX_OK)
        abort();
    kat_hdr_len = h.header_len;
    uint8_t sk[32];
    for (int i = 0; i < 32; i++)
        sk[i] = (uint8_t)(0x40 + i); /* the KAT recipient secret (tests/data/cxb/kat.json) */
    if (cx_x25519_key_from_secret(sk, &key, &e) != CX_OK)
        abort();
}

static cx_err sink(void *ud, const cx_pipeline_chunk *c, cx_error *e)
{
    (void)e;
    size_t *n = ud;
    if (c->len > c->header->chunk_size)
        abort(); /* the pipeline must never hand out more than a chunk */
    *n += c->len;
    return CX_OK;
}

static void run(const uint8_t *blob, size_t len, int mapped)
{
    cx_pipeline_blob in = {.id = "fuzz", .fd = -1};
    cx_mem_reader mr;
    int fd = -1;
    if (mapped) {
        fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd < 0 || cx_write_full(fd, blob, len, NULL) != CX_OK)
            abort();
        in.fd = fd;
    } else {
        cx_reader_from_memory(&in.reader, &mr, blob, len);
    }
    size_t n = 0;
    cx_pipeline_config cfg = {.threads = 1, .buffers = 2, .buffer_size = 4096 + 16};
    cx_pipeline_consumer cons = {sink, NULL, &n};
    cx_pipeline_result res;
    cx_err rc = cx_pipeline_run(&cfg, key, &in, 1, &cons, &res, NULL);
    if (rc == CX_OK && (res.status != CX_OK || n != res.header.plaintext_len))
        abort(); /* success means every byte was delivered */
    if (fd >= 0)
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 5;
    data++, size--;
    if (mode == 0) {
        cx_cxb_header h;
        size_t need = 0;
        if (cx_cxb_header_parse(data, size, &h, &need, NULL) == CX_OK &&
            (h.header_len > size || h.header_len > CX_CXB_MAX_HEADER_LEN ||
             h.chunk_count == 0 || h.blob_len < h.header_len + h.plaintext_len))
            abort();
        cx_mem_reader mr;
        cx_reader r;
        cx_reader_from_memory(&r, &mr, data, size);
        uint8_t buf[CX_CXB_MAX_HEADER_LEN];
        cx_cxb_header_read(&r, buf, &h, NULL);
        return 0;
    }
    if (mode == 3 || mode == 4) {
        run(data, size, mode == 4);
        return 0;
    }
    /* valid header + fuzzed chunks */
    uint8_t *blob = malloc(kat_hdr_len + size + 1);
    if (!blob)
        abort();
    memcpy(blob, kat, kat_hdr_len);
    if (size)
        memcpy(blob + kat_hdr_len, data, size);
    run(blob, kat_hdr_len + size, mode == 2);
    free(blob);
    return 0;
}
