/* fuzz_kernels_spec.c — libFuzzer target for the job-spec parser (buyers send specs): any
 * bytes through cx_spec_parse, then the model it describes and its LR schedule. */
#include "train_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    if (cx_json_parse((const char *)data, size, &j, NULL) != CX_OK)
        return 0;
    cx_spec s;
    cx_error e;
    if (cx_spec_parse(j, &s, &e) == CX_OK) {
        /* the architecture on a small input, only when it is small enough to allocate */
        double np = 0;
        int prev = 5;
        for (int l = 0; l < s.n_hidden; l++) {
            np += (double)prev * s.hidden[l];
            prev = s.hidden[l];
        }
        cx_model *m = NULL;
        if (np < 1e6 && cx_model_create(&s, 5, 3, &m, &e) == CX_OK) {
            cx_model_init(m, s.seed);
            cx_model_free(m);
        }
        for (int ep = 0; ep < s.epochs && ep < 8; ep++)
            (void)cx_lr_at(&s, ep);
        cx_spec_free(&s);
    }
    json_decref(j);
    return 0;
}
