/* test_kernels_quality.c — model quality against scikit-learn on the datasets it ships
 * (iris, wine, breast cancer, diabetes): same split (row i held out when i % 4 == 0), our
 * accuracy (R²) within 1.5 points of LogisticRegression / MLPClassifier (Ridge). Skips (77)
 * without sklearn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "kernels_testutil.h"

#define SKDATA "/usr/lib/python3/dist-packages/sklearn/datasets/data/"
#define REF_PY CX_TESTDATA "/../kernels_sklearn_ref.py"

/* sklearn's CSVs: a header "n_samples,n_features,names..." then features and the label. */
static int load_sk_csv(const char *path, float **x, float **y, size_t *rows, int *cols)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n;
    int c;
    if (fscanf(f, "%zu,%d", &n, &c) != 2 || n == 0 || c < 1) {
        fclose(f);
        return -1;
    }
    int ch;
    while ((ch = fgetc(f)) != '\n' && ch != EOF)
        ;
    *x = malloc(n * (size_t)c * sizeof(float));
    *y = malloc(n * sizeof(float));
    assert_non_null(*x);
    assert_non_null(*y);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < c; j++)
            assert_int_equal(fscanf(f, "%f,", &(*x)[i * c + j]), 1);
        assert_int_equal(fscanf(f, "%f", &(*y)[i]), 1);
    }
    fclose(f);
    *rows = n;
    *cols = c;
    return 0;
}

/* diabetes ships as two gzipped whitespace-separated files (features, target) */
static int load_diabetes(float **x, float **y, size_t *rows, int *cols)
{
    const size_t n = 442;
    const int c = 10;
    *x = malloc(n * c * sizeof(float));
    *y = malloc(n * sizeof(float));
    assert_true(*x && *y);
    FILE *f = popen("zcat " SKDATA "diabetes_data_raw.csv.gz", "r");
    FILE *g = popen("zcat " SKDATA "diabetes_target.csv.gz", "r");
    int ok = f && g;
    for (size_t i = 0; ok && i < n; i++) {
        for (int j = 0; ok && j < c; j++)
            ok = fscanf(f, "%f", &(*x)[i * c + j]) == 1;
        ok = ok && fscanf(g, "%f", &(*y)[i]) == 1;
    }
    if (f)
        pclose(f);
    if (g)
        pclose(g);
    *rows = n;
    *cols = c;
    return ok ? 0 : -1;
}

static double sklearn_score(const char *ds, const char *model)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s 2>/dev/null", REF_PY, ds, model);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NAN;
    double v = NAN;
    if (fscanf(p, "%lf", &v) != 1)
        v = NAN;
    pclose(p);
    return v;
}

static int have_sklearn(void)
{
    struct stat st;
    return stat("/usr/bin/python3", &st) == 0 && stat(SKDATA "iris.csv", &st) == 0 &&
           system("/usr/bin/python3 -c 'import sklearn' 2>/dev/null") == 0;
}

static void check(const char *ds, const char *file, const char *ref_model, const char *spec_txt)
{
    const int regression = strcmp(ref_model, "ridge") == 0;
    cx_error e;
    cx_spec s;
    if (kt_spec(spec_txt, &s, &e) != 0)
        fail_msg("%s", e.msg);
    float *x = NULL, *y = NULL;
    size_t n = 0;
    int c = 0;
    char path[512];
    snprintf(path, sizeof path, SKDATA "%s", file ? file : "");
    if (regression)
        assert_int_equal(load_diabetes(&x, &y, &n, &c), 0);
    else
        assert_int_equal(load_sk_csv(path, &x, &y, &n, &c), 0);
    size_t nte = (n + 3) / 4, ntr = n - nte;
    float *xtr = malloc(ntr * c * sizeof *xtr), *ytr = malloc(ntr * sizeof *ytr);
    float *xte = malloc(nte * c * sizeof *xte), *yte = malloc(nte * sizeof *yte);
    assert_true(xtr && ytr && xte && yte);
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 4 == 0) {
            memcpy(xte + b * c, x + i * c, c * sizeof(float));
            yte[b++] = y[i];
        } else {
            memcpy(xtr + a * c, x + i * c, c * sizeof(float));
            ytr[a++] = y[i];
        }
    }
    cx_train_data d = {.rows = ntr, .cols = c, .x = xtr, .y = ytr};
    cx_model *m;
    cx_train_result res;
    if (cx_train(&s, &d, NULL, NULL, NULL, &m, &res, &e) != CX_OK)
        fail_msg("%s: %s", ds, e.msg);
    float *pr = malloc(nte * m->n_outputs * sizeof *pr);
    assert_non_null(pr);
    assert_int_equal(cx_model_predict(m, NULL, xte, nte, 1, pr, &e), CX_OK);
    cx_metrics mt;
    if (regression)
        assert_int_equal(cx_metrics_regression(yte, pr, nte, &mt, &e), CX_OK);
    else
        assert_int_equal(
            cx_metrics_classification(yte, pr, nte, m->n_outputs, m->n_classes, &mt, &e), CX_OK);
    const double score = regression ? mt.r2 : mt.accuracy;
    const char *what = regression ? "R2" : "accuracy";
    double ref = sklearn_score(ds, ref_model);
    print_message("%-14s cloakx %s %s %.4f, scikit-learn %s %.4f (%zu test rows, %.2f s)\n", ds,
                  cx_model_kind_name(s.model), what, score, ref_model, ref, nte, res.seconds);
    if (isnan(ref))
        fail_msg("%s: scikit-learn reference failed", ds);
    if (score < ref - 0.015)
        fail_msg("%s: %s %.4f is more than 1.5 points below scikit-learn's %.4f", ds, what,
                 score, ref);
    free(pr);
    cx_model_free(m);
    free(x);
    free(y);
    free(xtr);
    free(ytr);
    free(xte);
    free(yte);
    cx_spec_free(&s);
}

static void test_iris_softmax(void **state)
{
    (void)state;
    check("iris", "iris.csv", "logreg",
          /* sklearn's C = 1 is an L2 penalty of 1/(C·n) on the mean loss: n = 112 → 0.009 */
          "{\"task\":\"classification\",\"model\":{\"type\":\"softmax\"},\"epochs\":300,"
          "\"batch_size\":16,\"validation_split\":0,\"optimizer\":{\"type\":\"adam\","
          "\"lr\":0.05,\"weight_decay\":0.009},\"schedule\":{\"type\":\"cosine\"},"
          "\"seed\":1,\"threads\":1}");
}

static void test_breast_cancer_logistic(void **state)
{
    (void)state;
    check("breast_cancer", "breast_cancer.csv", "logreg",
          "{\"task\":\"classification\",\"model\":{\"type\":\"logistic\"},\"epochs\":200,"
          "\"batch_size\":32,\"validation_split\":0,\"optimizer\":{\"type\":\"adamw\","
          "\"lr\":0.01,\"weight_decay\":0.01},\"seed\":1,\"threads\":1}");
}

static void test_wine_mlp(void **state)
{
    (void)state;
    check("wine", "wine_data.csv", "mlp",
          "{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[32],"
          "\"activation\":\"relu\"},\"epochs\":200,\"batch_size\":16,\"validation_split\":0,"
          "\"optimizer\":{\"type\":\"adam\",\"lr\":0.003},\"seed\":1,\"threads\":1}");
}

static void test_diabetes_linear(void **state)
{
    (void)state;
    /* sklearn's Ridge(alpha = 1) on standardised features: a penalty of alpha/n on the mean
     * loss's ½‖w‖² scale, 1/331 ≈ 0.003 as L2 weight decay */
    check("diabetes", NULL, "ridge",
          "{\"task\":\"regression\",\"model\":{\"type\":\"linear\"},\"epochs\":300,"
          "\"batch_size\":32,\"validation_split\":0,\"optimizer\":{\"type\":\"adam\","
          "\"lr\":0.02,\"weight_decay\":0.003},\"schedule\":{\"type\":\"cosine\"},"
          "\"seed\":1,\"threads\":1}");
}

int main(void)
{
    if (!have_sklearn()) {
        fprintf(stderr, "scikit-learn or its shipped data absent: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iris_softmax),
        cmocka_unit_test(test_breast_cancer_logistic),
        cmocka_unit_test(test_wine_mlp),
        cmocka_unit_test(test_diabetes_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
