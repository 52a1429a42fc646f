/* test_attestation_gpu_nvml.c — GPU evidence collection against a stand-in NVML (the
 * function-pointer seam): real sample bytes come back, CC-off, wrong architecture, bad
 * sizes and driver errors are refused clearly; without a driver dlopen fails by name. */
#include "attestation_gpu_testutil.h"

#include <dlfcn.h>

#include "gpu_nvml.h"

/* The fake device: state for one test at a time (test code, not library code). */
static struct {
    sample s;
    unsigned n_gpus, cc_feature, arch;
    int init_rc, report_rc, ignore_nonce;
    unsigned chain_size_override;
    int inits, shutdowns;
} fake;

static cx_nvml_ret f_init(void)
{
    fake.inits++;
    return fake.init_rc;
}
static cx_nvml_ret f_shutdown(void)
{
    fake.shutdowns++;
    return 0;
}
static const char *f_err(cx_nvml_ret r)
{
    return r == 999 ? "Driver Not Loaded (fake)" : "fake error";
}
static cx_nvml_ret f_count(unsigned *n)
{
    *n = fake.n_gpus;
    return 0;
}
static cx_nvml_ret f_dev(unsigned i, cx_nvml_device *d)
{
    *d = (cx_nvml_device)(uintptr_t)(i + 1);
    return i < fake.n_gpus ? 0 : 2;
}
static cx_nvml_ret f_state(cx_nvml_cc_system_state *st)
{
    st->environment = 2;
    st->cc_feature = fake.cc_feature;
    st->devtools_mode = 0;
    return 0;
}
static cx_nvml_ret f_report(cx_nvml_device d, cx_nvml_cc_report *r)
{
    (void)d;
    if (fake.report_rc)
        return fake.report_rc;
    uint8_t nonce[32];
    memcpy(nonce, r->nonce, 32);
    memcpy(r->report, fake.s.report, fake.s.report_len);
    r->report_size = (unsigned)fake.s.report_len;
    /* the sample was produced with SAMPLE_NONCE; the fake "GPU" refuses others unless told
     * to misbehave, which shows the collector's own nonce check */
    if (!fake.ignore_nonce && memcmp(nonce, fake.s.report + 4, 32) != 0)
        return 2;
    return 0;
}
static cx_nvml_ret f_cert(cx_nvml_device d, cx_nvml_cc_cert *c)
{
    (void)d;
    memcpy(c->attestation_cert_chain, fake.s.chain, fake.s.chain_len);
    c->attestation_cert_chain[fake.s.chain_len] = 0; /* NVML counts a trailing NUL */
    c->attestation_cert_chain_size =
        fake.chain_size_override ? fake.chain_size_override : (unsigned)fake.s.chain_len + 1;
    c->cert_chain_size = 0;
    return 0;
}
static cx_nvml_ret f_driver(char *buf, unsigned n)
{
    snprintf(buf, n, "550.90.07");
    return 0;
}
static cx_nvml_ret f_vbios(cx_nvml_device d, char *buf, unsigned n)
{
    (void)d;
    snprintf(buf, n, "96.00.9F.00.01");
    return 0;
}
static cx_nvml_ret f_arch(cx_nvml_device d, unsigned *a)
{
    (void)d;
    *a = fake.arch;
    return 0;
}

/* device d (index + 1) uses d GiB of 80, at 10·d % and 5·d % utilisation */
static cx_nvml_ret f_mem(cx_nvml_device d, cx_nvml_memory *m)
{
    unsigned long long i = (unsigned long long)(uintptr_t)d;
    m->total = 80ull << 30;
    m->used = i << 30;
    m->free = m->total - m->used;
    return 0;
}
static cx_nvml_ret f_util(cx_nvml_device d, cx_nvml_utilization *u)
{
    u->gpu = 10 * (unsigned)(uintptr_t)d;
    u->memory = 5 * (unsigned)(uintptr_t)d;
    return 0;
}

static const cx_nvml_ops fake_ops = {f_init,   f_shutdown, f_err,    f_count, f_dev, f_state,
                                     f_report, f_cert,     f_driver, f_vbios, f_arch, f_mem,
                                     f_util};

/* memory and utilisation of each GPU by index; an NVML without the queries says so */
static void test_usage_by_index(void **state)
{
    (void)state;
    cx_error e;
    cx_gpu_nvml *nv = NULL;
    assert_int_equal(cx_gpu_nvml_open_ops(&fake_ops, &nv, &e), CX_OK);
    cx_gpu_usage u;
    assert_int_equal(cx_gpu_usage_get(nv, 1, &u, &e), CX_OK);
    assert_true(u.memory_total == 80ull << 30 && u.memory_used == 2ull << 30);
    assert_int_equal(u.utilization_gpu, 20);
    assert_int_equal(u.utilization_memory, 10);
    assert_int_equal(cx_gpu_usage_get(nv, 7, &u, &e), CX_ERR_DEVICE);
    cx_gpu_nvml_close(nv);
    cx_nvml_ops old = fake_ops;
    old.memory_info = NULL;
    old.utilization = NULL;
    assert_int_equal(cx_gpu_nvml_open_ops(&old, &nv, &e), CX_OK);
    assert_int_equal(cx_gpu_usage_get(nv, 0, &u, &e), CX_ERR_UNSUPPORTED);
    cx_gpu_nvml_close(nv);
}

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    sample_load(&fake.s);
    fake.n_gpus = 2;
    fake.cc_feature = 1;
    fake.arch = CX_NVML_ARCH_HOPPER;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sample_free(&fake.s);
    return 0;
}

static cx_err collect(cx_gpu_evidence_list *l, cx_error *e)
{
    cx_gpu_nvml *nv = NULL;
    cx_err rc = cx_gpu_nvml_open_ops(&fake_ops, &nv, e);
    if (rc != CX_OK)
        return rc;
    uint8_t nonce[CX_GPU_NONCE_LEN];
    sample_nonce(nonce);
    rc = cx_gpu_collect(nv, nonce, l, e);
    cx_gpu_nvml_close(nv);
    return rc;
}

static void test_collect_and_verify(void **state)
{
    (void)state;
    cx_gpu_evidence_list l;
    cx_error e;
    assert_int_equal(collect(&l, &e), CX_OK);
    assert_int_equal(fake.inits, 1);
    assert_int_equal(fake.shutdowns, 1);
    assert_int_equal(l.n, 2);
    uint8_t nonce[CX_GPU_NONCE_LEN];
    sample_nonce(nonce);
    cx_gpu_verify_result *r = malloc(sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < l.n; i++) {
        assert_string_equal(l.items[i].arch, "HOPPER");
        assert_string_equal(l.items[i].driver_version, "550.90.07");
        assert_string_equal(l.items[i].vbios_version, "96.00.9F.00.01");
        assert_int_equal(l.items[i].cert_chain_len, fake.s.chain_len); /* NUL dropped */
        cx_gpu_verify_opts o = {.expected_nonce = nonce,
                                .at_unix_ms = SAMPLE_AT_MS,
                                .expected_driver = l.items[i].driver_version,
                                .expected_vbios = l.items[i].vbios_version};
        assert_int_equal(cx_gpu_verify(l.items[i].report, l.items[i].report_len,
                                       l.items[i].cert_chain, l.items[i].cert_chain_len, &o, r, &e),
                         CX_OK);
    }
    /* the collected file is the evidence JSON */
    char *text = NULL;
    assert_int_equal(cx_gpu_evidence_to_json(&l, &text, &e), CX_OK);
    cx_gpu_evidence_list back;
    assert_int_equal(cx_gpu_evidence_parse(text, strlen(text), &back, &e), CX_OK);
    assert_int_equal(back.n, 2);
    free(text);
    cx_gpu_evidence_list_free(&back);
    free(r);
    cx_gpu_evidence_list_free(&l);
}

static void test_cc_state(void **state)
{
    (void)state;
    cx_gpu_nvml *nv = NULL;
    cx_error e;
    assert_int_equal(cx_gpu_nvml_open_ops(&fake_ops, &nv, &e), CX_OK);
    cx_gpu_cc_state st;
    assert_int_equal(cx_gpu_cc_state_get(nv, &st, &e), CX_OK);
    assert_int_equal(st.n_gpus, 2);
    assert_int_equal(st.cc_feature, 1);
    assert_int_equal(st.environment, 2);
    assert_string_equal(st.driver_version, "550.90.07");
    cx_gpu_nvml_close(nv);
}

static void test_refusals(void **state)
{
    (void)state;
    cx_gpu_evidence_list l;
    cx_error e;

    fake.cc_feature = 0;
    assert_int_equal(collect(&l, &e), CX_ERR_VERIFY);
    assert_non_null(strstr(e.msg, "confidential computing is off"));
    fake.cc_feature = 1;

    fake.arch = 8; /* Ampere */
    assert_int_equal(collect(&l, &e), CX_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "architecture 8"));
    fake.arch = CX_NVML_ARCH_HOPPER;

    fake.n_gpus = 0;
    assert_int_equal(collect(&l, &e), CX_ERR_NOTFOUND);
    fake.n_gpus = 2;

    fake.init_rc = 999;
    assert_int_equal(collect(&l, &e), CX_ERR_DEVICE);
    assert_non_null(strstr(e.msg, "Driver Not Loaded"));
    fake.init_rc = 0;

    fake.report_rc = 3;
    assert_int_equal(collect(&l, &e), CX_ERR_DEVICE);
    assert_non_null(strstr(e.msg, "AttestationReport"));
    fake.report_rc = 0;

    /* a GPU that returns a report for another nonce is caught by the collector */
    fake.ignore_nonce = 1;
    cx_gpu_nvml *nv = NULL;
    assert_int_equal(cx_gpu_nvml_open_ops(&fake_ops, &nv, &e), CX_OK);
    uint8_t other[CX_GPU_NONCE_LEN] = {1};
    assert_int_equal(cx_gpu_collect(nv, other, &l, &e), CX_ERR_DEVICE);
    assert_non_null(strstr(e.msg, "nonce"));
    cx_gpu_nvml_close(nv);
    fake.ignore_nonce = 0;

    fake.chain_size_override = 0x1401;
    assert_int_equal(collect(&l, &e), CX_ERR_DEVICE);
    assert_non_null(strstr(e.msg, "certificate chain size"));
    fake.chain_size_override = 0;
    assert_int_equal(l.n, 0);

    /* a driver without the CC entry points */
    cx_nvml_ops old = fake_ops;
    old.cc_report = NULL;
    assert_int_equal(cx_gpu_nvml_open_ops(&old, &nv, &e), CX_ERR_UNSUPPORTED);
    assert_null(nv);
}

/* On a machine without the NVIDIA driver the real loader says so plainly. */
static void test_no_driver(void **state)
{
    (void)state;
    void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h) {
        dlclose(h);
        skip(); /* a driver is installed here: nothing to check */
    }
    cx_gpu_nvml *nv = NULL;
    cx_error e;
    assert_int_equal(cx_gpu_nvml_open(&nv, &e), CX_ERR_UNSUPPORTED);
    assert_null(nv);
    assert_non_null(strstr(e.msg, "libnvidia-ml.so.1 not found: no NVIDIA driver"));
    cx_gpu_cc_state st;
    assert_int_equal(cx_gpu_cc_state_query(&st, &e), CX_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "no NVIDIA driver"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_collect_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cc_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_by_index, setup, teardown),
        cmocka_unit_test(test_no_driver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
