/* kernels_testutil.h — helpers shared by the kernels tests: specs from JSON text, small
 * nets on the CPU backend and seeded synthetic data. */
#ifndef CX_TESTS_KERNELS_TESTUTIL_H
#define CX_TESTS_KERNELS_TESTUTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

static inline int kt_spec(const char *text, cx_spec *s, cx_error *e)
{
    json_t *j = NULL;
    if (cx_json_parse(text, strlen(text), &j, e) != CX_OK)
        return -1;
    cx_err rc = cx_spec_parse(j, s, e);
    json_decref(j);
    return rc == CX_OK ? 0 : -1;
}

/* Seeded data: x ~ U(-1, 1); labels per task. */
static inline void kt_data(cx_rng *r, float *x, float *y, size_t rows, int cols, cx_task task,
                           int classes)
{
    for (size_t i = 0; i < rows * (size_t)cols; i++)
        x[i] = (float)(2.0 * cx_rng_uniform(r) - 1.0);
    for (size_t i = 0; i < rows; i++)
        y[i] = task == CX_TASK_CLASSIFICATION ? (float)cx_rng_below(r, (uint64_t)classes)
                                              : (float)(2.0 * cx_rng_uniform(r) - 1.0);
}

#endif
