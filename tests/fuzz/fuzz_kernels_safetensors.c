/* fuzz_kernels_safetensors.c — libFuzzer target for the safetensors reader (model files are
 * untrusted input): parse, walk every tensor and metadata entry, and re-serialise what parsed. */
#include <stdlib.h>
#include <string.h>

#include "cx_kernels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_error e;
    cx_safetensors *st = NULL;
    if (cx_safetensors_parse(data, size, &st, &e) != CX_OK)
        return 0;
    size_t n = cx_safetensors_count(st);
    for (size_t i = 0; i < n; i++) {
        cx_safetensors_tensor t;
        if (cx_safetensors_at(st, i, &t, &e) != CX_OK)
            abort();
        cx_safetensors_tensor f;
        if (cx_safetensors_find(st, t.name, &f, &e) != CX_OK || f.data != t.data)
            abort();
        /* Converting touches every byte the reader vouched for. */
        if (t.n_elements <= 4096) {
            float out[4096];
            if (cx_safetensors_tensor_to_f32(&t, out, 4096, &e) != CX_OK)
                abort();
        }
    }
    for (size_t i = 0; i < cx_safetensors_meta_count(st); i++) {
        const char *k, *v;
        if (cx_safetensors_meta_at(st, i, &k, &v, &e) != CX_OK || !cx_safetensors_meta_get(st, k))
            abort();
    }
    /* Whatever the reader accepts, the writer can write and the reader reads back. Empty
     * names are legal in files but not for our writer. */
    uint8_t *buf;
    size_t len;
    if (cx_safetensors_serialize(st, &buf, &len, &e) == CX_OK) {
        cx_safetensors *again = NULL;
        if (cx_safetensors_parse(buf, len, &again, &e) != CX_OK ||
            cx_safetensors_count(again) != n)
            abort();
        cx_safetensors_free(again);
        free(buf);
    }
    cx_safetensors_free(st);
    return 0;
}
