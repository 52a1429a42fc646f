/* test_kernels_metrics.c — validation metrics against hand-computed values: accuracy,
 * ROC AUC with ties, macro F1, RMSE and R². */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kernels_testutil.h"

static void test_auc(void **state)
{
    (void)state;
    cx_error e;
    double auc;
    /* scikit-learn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75 */
    float y[4] = {0, 0, 1, 1}, s[4] = {0.1f, 0.4f, 0.35f, 0.8f};
    assert_int_equal(cx_metrics_roc_auc(y, s, 4, &auc, &e), CX_OK);
    assert_true(fabs(auc - 0.75) < 1e-12);
    /* ties get half credit: all equal → 0.5 */
    float t[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    assert_int_equal(cx_metrics_roc_auc(y, t, 4, &auc, &e), CX_OK);
    assert_true(fabs(auc - 0.5) < 1e-12);
    /* one class only: undefined */
    float y1[2] = {1, 1};
    assert_int_equal(cx_metrics_roc_auc(y1, s, 2, &auc, &e), CX_OK);
    assert_true(isnan(auc));
}

static void test_classification(void **state)
{
    (void)state;
    cx_error e;
    cx_metrics m;
    /* 3 classes; predictions argmax: 0,1,2,2,1,0 vs truth 0,1,2,1,1,2 */
    float y[6] = {0, 1, 2, 1, 1, 2};
    float p[18] = {.8f, .1f, .1f, .1f, .8f, .1f, .1f, .1f, .8f,
                   .1f, .2f, .7f, .2f, .6f, .2f, .5f, .3f, .2f};
    assert_int_equal(cx_metrics_classification(y, p, 6, 3, 3, &m, &e), CX_OK);
    assert_true(fabs(m.accuracy - 4.0 / 6.0) < 1e-12);
    /* class 0: tp1 fp1 fn0 → 2/3; class 1: tp2 fp0 fn1 → 0.8; class 2: tp1 fp1 fn1 → 0.5 */
    assert_true(fabs(m.macro_f1 - (2.0 / 3.0 + 0.8 + 0.5) / 3.0) < 1e-12);
    assert_true(isnan(m.auc));
    /* binary with one probability per row */
    float yb[4] = {0, 0, 1, 1}, pb[4] = {0.1f, 0.6f, 0.4f, 0.9f};
    assert_int_equal(cx_metrics_classification(yb, pb, 4, 1, 2, &m, &e), CX_OK);
    assert_true(fabs(m.accuracy - 0.5) < 1e-12);
    assert_true(fabs(m.auc - 0.75) < 1e-12);
    float bad[1] = {5};
    assert_int_equal(cx_metrics_classification(bad, pb, 1, 1, 2, &m, &e), CX_ERR_FORMAT);
}

static void test_regression(void **state)
{
    (void)state;
    cx_error e;
    cx_metrics m;
    float y[4] = {1, 2, 3, 4}, p[4] = {1, 2, 3, 5};
    assert_int_equal(cx_metrics_regression(y, p, 4, &m, &e), CX_OK);
    assert_true(fabs(m.rmse - 0.5) < 1e-12);
    assert_true(fabs(m.r2 - (1.0 - 1.0 / 5.0)) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auc),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_regression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
