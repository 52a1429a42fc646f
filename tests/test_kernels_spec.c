/* test_kernels_spec.c — the job spec: defaults, a full valid spec, and a table of bad specs
 * each refused with a message naming the offending key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "kernels_testutil.h"

static void test_full_spec(void **state)
{
    (void)state;
    cx_error e;
    cx_spec s;
    const char *txt =
        "{\"task\":\"classification\",\"data\":{\"format\":\"csv\",\"label\":\"y\"},"
        "\"model\":{\"type\":\"mlp\",\"hidden\":[64,32],\"activation\":\"gelu\"},"
        "\"loss\":\"cross_entropy\","
        "\"optimizer\":{\"type\":\"adamw\",\"lr\":0.003,\"weight_decay\":0.01,\"beta2\":0.99},"
        "\"schedule\":{\"type\":\"cosine\",\"min_lr\":0.0001},\"batch_size\":128,\"epochs\":7,"
        "\"validation_split\":0.25,\"early_stopping\":{\"patience\":3},\"seed\":42,"
        "\"precision\":\"fp32\",\"threads\":2,"
        "\"privacy\":{\"noise_multiplier\":1.1,\"max_grad_norm\":0.5,\"delta\":1e-6,"
        "\"sampling\":\"poisson\"}}";
    if (kt_spec(txt, &s, &e) != 0)
        fail_msg("%s", e.msg);
    assert_int_equal(s.task, CX_TASK_CLASSIFICATION);
    assert_int_equal(s.model, CX_MODEL_MLP);
    assert_int_equal(s.n_hidden, 2);
    assert_int_equal(s.hidden[1], 32);
    assert_int_equal(s.activation, CX_ACT_GELU);
    assert_int_equal(s.optimizer, CX_OPTIM_ADAMW);
    assert_true(s.lr == 0.003 && s.weight_decay == 0.01 && s.beta2 == 0.99 && s.beta1 == 0.9);
    assert_int_equal(s.schedule, CX_SCHED_COSINE);
    assert_int_equal(s.batch_size, 128);
    assert_int_equal(s.epochs, 7);
    assert_int_equal(s.patience, 3);
    assert_int_equal(s.seed, 42);
    assert_int_equal(s.threads, 2);
    assert_true(s.privacy && s.noise_multiplier == 1.1 && s.max_grad_norm == 0.5);
    assert_non_null(s.data);
    assert_string_equal(json_string_value(json_object_get(s.data, "label")), "y");
    cx_spec_free(&s);

    /* minimal specs take defaults that follow the model */
    assert_int_equal(kt_spec("{\"task\":\"regression\",\"model\":{\"type\":\"linear\"}}", &s, &e),
                     0);
    assert_int_equal(s.loss, CX_LOSS_MSE);
    assert_int_equal(s.optimizer, CX_OPTIM_ADAM);
    assert_null(s.data);
    cx_spec_free(&s);
    assert_int_equal(kt_spec("{\"task\":\"classification\",\"model\":{\"type\":\"logistic\"}}",
                             &s, &e),
                     0);
    assert_int_equal(s.loss, CX_LOSS_BCE);
    cx_spec_free(&s);
}

typedef struct bad_case {
    const char *spec;
    const char *names; /* what the message must contain */
} bad_case;

static void test_bad_specs(void **state)
{
    (void)state;
#define M "\"model\":{\"type\":\"softmax\"}"
    static const bad_case cases[] = {
        {"[]", "object"},
        {"{" M "}", "\"task\""},
        {"{\"task\":\"clustering\"," M "}", "\"task\""},
        {"{\"task\":\"classification\"}", "\"model\""},
        {"{\"task\":\"classification\"," M ",\"epoch\":3}", "\"epoch\""},
        {"{\"task\":\"classification\",\"model\":{\"type\":\"svm\"}}", "model.type"},
        {"{\"task\":\"classification\",\"model\":{\"type\":\"mlp\"}}", "model.hidden"},
        {"{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[0]}}",
         "model.hidden"},
        {"{\"task\":\"classification\",\"model\":{\"type\":\"mlp\",\"hidden\":[4],"
         "\"activation\":\"swish\"}}",
         "model.activation"},
        {"{\"task\":\"classification\",\"model\":{\"type\":\"softmax\",\"hidden\":[4]}}",
         "model.hidden"},
        {"{\"task\":\"classification\",\"model\":{\"type\":\"softmax\",\"depth\":2}}", "\"depth\""},
        {"{\"task\":\"classification\"," M ",\"epochs\":0}", "\"epochs\""},
        {"{\"task\":\"classification\"," M ",\"epochs\":2.5}", "\"epochs\""},
        {"{\"task\":\"classification\"," M ",\"batch_size\":-1}", "\"batch_size\""},
        {"{\"task\":\"classification\"," M ",\"validation_split\":0.95}", "\"validation_split\""},
        {"{\"task\":\"classification\"," M ",\"optimizer\":{\"type\":\"rmsprop\"}}",
         "optimizer.type"},
        {"{\"task\":\"classification\"," M ",\"optimizer\":{\"lr\":-1}}", "\"lr\""},
        {"{\"task\":\"classification\"," M ",\"optimizer\":{\"type\":\"adam\",\"momentum\":0.9}}",
         "optimizer.momentum"},
        {"{\"task\":\"classification\"," M ",\"optimizer\":{\"type\":\"sgd\",\"beta1\":0.9}}",
         "optimizer.beta1"},
        {"{\"task\":\"classification\"," M ",\"optimizer\":{\"lrate\":1}}", "\"lrate\""},
        {"{\"task\":\"classification\"," M ",\"schedule\":{\"type\":\"linear\"}}",
         "schedule.type"},
        {"{\"task\":\"classification\"," M ",\"schedule\":{\"type\":\"step\",\"gamma\":2}}",
         "\"gamma\""},
        {"{\"task\":\"classification\"," M ",\"precision\":\"fp16\"}", "\"precision\""},
        {"{\"task\":\"classification\"," M ",\"early_stopping\":{\"patience\":0}}",
         "\"patience\""},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"noise_multiplier\":-1}}",
         "\"noise_multiplier\""},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"max_grad_norm\":0}}",
         "\"max_grad_norm\""},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"delta\":0.9}}", "\"delta\""},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"sampling\":\"shuffle\"}}",
         "privacy.sampling"},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"epsilon\":1}}", "\"epsilon\""},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"standardize\":\"fit\"}}",
         "privacy.standardize"},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"standardize\":\"dp\"}}",
         "privacy.standardize_epsilon"},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"standardize_epsilon\":1}}",
         "privacy.standardize_epsilon"},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"standardize\":\"declared\","
         "\"standardize_epsilon\":1}}",
         "privacy.standardize_epsilon"},
        {"{\"task\":\"classification\"," M ",\"privacy\":{\"standardize\":\"dp\","
         "\"standardize_epsilon\":0}}",
         "standardize_epsilon"},
        {"{\"task\":\"classification\"," M ",\"privacy\":true}", "\"privacy\""},
        {"{\"task\":\"classification\"," M ",\"data\":5}", "\"data\""},
        {"{\"task\":\"classification\",\"model\":{\"type\":\"linear\"}}", "\"model.type\""},
        {"{\"task\":\"regression\"," M "}", "\"model.type\""},
        {"{\"task\":\"regression\",\"model\":{\"type\":\"linear\"},\"loss\":\"bce\"}", "\"loss\""},
        {"{\"task\":\"classification\"," M ",\"loss\":\"hinge\"}", "\"loss\""},
        {"{\"task\":\"classification\"," M ",\"seed\":-3}", "\"seed\""},
        {"{\"task\":\"stats\"," M "}", "\"model\""},
    };
#undef M
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cx_error e;
        cx_spec s;
        cx_error_clear(&e);
        if (kt_spec(cases[i].spec, &s, &e) == 0)
            fail_msg("case %zu accepted: %s", i, cases[i].spec);
        assert_int_equal(e.code, CX_ERR_FORMAT);
        if (!strstr(e.msg, cases[i].names))
            fail_msg("case %zu: message \"%s\" does not name %s", i, e.msg, cases[i].names);
    }
}

static void test_schedules(void **state)
{
    (void)state;
    cx_spec s;
    cx_spec_defaults(&s);
    s.lr = 0.1;
    s.epochs = 10;
    assert_true(cx_lr_at(&s, 7) == 0.1);
    s.schedule = CX_SCHED_STEP;
    s.step_size = 3;
    s.gamma = 0.5;
    assert_true(fabs(cx_lr_at(&s, 2) - 0.1) < 1e-12);
    assert_true(fabs(cx_lr_at(&s, 3) - 0.05) < 1e-12);
    assert_true(fabs(cx_lr_at(&s, 7) - 0.025) < 1e-12);
    s.schedule = CX_SCHED_COSINE;
    s.min_lr = 0.01;
    assert_true(fabs(cx_lr_at(&s, 0) - 0.1) < 1e-12);
    assert_true(fabs(cx_lr_at(&s, 5) - 0.055) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_spec),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
