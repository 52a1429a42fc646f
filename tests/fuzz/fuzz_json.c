/* fuzz_json.c — libFuzzer target for the JSON helpers: parse arbitrary bytes, then run
 * the strict key check and typed getters the job-spec loader uses. */
#include "cx_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    if (cx_json_parse((const char *)data, size, &j, NULL) != CX_OK)
        return 0;
    static const char *const allowed[] = {"a", "b", "n", "s", NULL};
    cx_error e;
    (void)cx_json_check_keys(j, allowed, "fuzz", &e);
    int64_t i = 0;
    double d = 0;
    const char *s = NULL;
    int b = 0;
    (void)cx_json_get_int(j, "a", 0, -5, 5, &i, &e);
    (void)cx_json_get_number(j, "n", 0, 0.0, 1.0, &d, &e);
    (void)cx_json_get_string(j, "s", 0, &s, &e);
    (void)cx_json_get_bool(j, "b", 0, &b, &e);
    free(cx_json_dumps(j, 0));
    json_decref(j);
    return 0;
}
