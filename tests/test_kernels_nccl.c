/* test_kernels_nccl.c — what of the NCCL all-reduce can be checked without a GPU: its argument
 * checks, every reason to fall back (not cuda, turned off, a "cuda" backend that no module
 * made), that the trainer then sums through the host with a warning and the host path's bits,
 * and that the NCCL module exports its table and alone links libnccl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/nccl_module.h"
#include "kernels_testutil.h"

/* Whether a file whose path contains `needle` is mapped into this process. */
static int mapped(const char *needle)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4096];
    int hit = 0;
    while (!hit && fgets(line, sizeof line, f))
        hit = strstr(line, needle) != NULL;
    fclose(f);
    return hit;
}

static void test_arguments(void **state)
{
    (void)state;
    cx_error e;
    cx_nccl *n = (cx_nccl *)&e; /* must be reset to NULL */
    cx_comm *self;
    cx_backend *be;
    assert_int_equal(cx_comm_self_create(&self, &e), CX_OK);
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 1, &be, &e), CX_OK);
    assert_int_equal(cx_nccl_create(NULL, self, &n, &e), CX_ERR_ARG);
    assert_null(n);
    assert_int_equal(cx_nccl_create(be, NULL, &n, &e), CX_ERR_ARG);
    assert_int_equal(cx_nccl_create(be, self, NULL, &e), CX_ERR_ARG);
    float buf[4] = {0};
    assert_int_equal(cx_nccl_allreduce_f32(NULL, buf, 4, &e), CX_ERR_ARG);
    assert_int_equal(cx_nccl_version(NULL, &e), CX_ERR_ARG);
    assert_int_equal(cx_nccl_library_version(NULL), 0);
    assert_int_equal(cx_nccl_device(NULL), -1);
    cx_nccl_destroy(NULL);
    cx_backend_destroy(be);
    cx_comm_destroy(self);
}

/* A cpu backend, and one renamed "cuda" that no cuda module made (with or without a driver or
 * a GPU here, the module refuses it rather than reading its context), and CLOAKX_NCCL=0. */
static void test_unavailable(void **state)
{
    (void)state;
    cx_error e;
    cx_nccl *n = NULL;
    cx_comm *self;
    cx_backend *be;
    assert_int_equal(cx_comm_self_create(&self, &e), CX_OK);
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 1, &be, &e), CX_OK);
    assert_int_equal(cx_nccl_create(be, self, &n, &e), CX_ERR_UNSUPPORTED);
    assert_null(n);
    assert_non_null(strstr(e.msg, "NCCL is not used: "));
    assert_non_null(strstr(e.msg, cx_nccl_built() ? "the backend is cpu, not cuda" : "not built"));
    const char *cpu_name = be->name;
    be->name = "cuda";
    assert_int_equal(cx_nccl_create(be, self, &n, &e), CX_ERR_UNSUPPORTED);
    assert_null(n);
    if (cx_nccl_built())
        assert_true(strstr(e.msg, "no CUDA driver here") ||
                    strstr(e.msg, "not a backend of the cuda module"));
    assert_int_equal(setenv("CLOAKX_NCCL", "0", 1), 0);
    assert_int_equal(cx_nccl_create(be, self, &n, &e), CX_ERR_UNSUPPORTED);
    if (cx_nccl_built())
        assert_non_null(strstr(e.msg, "turned off (CLOAKX_NCCL=0)"));
    assert_int_equal(unsetenv("CLOAKX_NCCL"), 0);
    be->name = cpu_name;
    cx_backend_destroy(be);
    cx_comm_destroy(self);
}

typedef struct captured {
    int warned;
    char msg[1024];
} captured;

static void capture(void *ud, cx_log_level level, const char *msg)
{
    captured *c = ud;
    if (level == CX_LOG_WARN && strstr(msg, "gradients summed through host memory")) {
        c->warned++;
        snprintf(c->msg, sizeof c->msg, "%s", msg);
    }
}

static cx_model *train(cx_backend *be, const char *dist, captured *cap, cx_train_result *res)
{
    enum { ROWS = 300, COLS = 5 };
    static float x[ROWS * COLS], y[ROWS];
    cx_rng r;
    cx_rng_seed(&r, 5);
    kt_data(&r, x, y, ROWS, COLS, CX_TASK_CLASSIFICATION, 3);
    cx_spec s;
    cx_error e;
    assert_int_equal(kt_spec("{\"task\": \"classification\", \"model\": {\"type\": \"mlp\", "
                             "\"hidden\": [16]}, \"batch_size\": 32, \"epochs\": 3, \"seed\": 3, "
                             "\"threads\": 1}",
                             &s, &e),
                     0);
    cx_train_data d = {.rows = ROWS, .cols = COLS, .x = x, .y = y};
    cx_logger lg = {.level = CX_LOG_DEBUG, .fn = capture, .ud = cap};
    if (dist)
        assert_int_equal(setenv("CLOAKX_TRAIN_DIST", dist, 1), 0);
    cx_model *m = NULL;
    cx_err rc = cx_train_comm(&s, &d, be, NULL, NULL, &lg, &m, res, &e);
    if (rc != CX_OK)
        fail_msg("train: %s", e.msg);
    assert_int_equal(unsetenv("CLOAKX_TRAIN_DIST"), 0);
    cx_spec_free(&s);
    return m;
}

/* The trainer's fallback: a "cuda" backend without NCCL sums through the host, says why in a
 * warning, and gives the cpu host path's bits; a cpu backend falls back silently. The host path
 * at one rank (CLOAKX_TRAIN_DIST=1) gives the one-process bits on the cpu. */
static void test_train_fallback(void **state)
{
    (void)state;
    cx_error e;
    cx_backend *be;
    assert_int_equal(cx_backend_cpu_create(CX_PRECISION_FP32, 1, &be, &e), CX_OK);
    captured c0 = {0}, c1 = {0}, c2 = {0};
    cx_train_result r0, r1, r2;
    cx_model *one = train(be, NULL, &c0, &r0);
    cx_model *host = train(be, "1", &c1, &r1);
    const char *cpu_name = be->name;
    be->name = "cuda";
    cx_model *fell = train(be, "1", &c2, &r2);
    be->name = cpu_name;
    assert_int_equal(r0.nccl + r1.nccl + r2.nccl, 0);
    assert_int_equal(c0.warned + c1.warned, 0);
    assert_int_equal(c2.warned, 1);
    assert_non_null(strstr(c2.msg, "NCCL is not used: "));
    assert_int_equal(r1.steps, r0.steps);
    assert_int_equal(one->n_params, host->n_params);
    assert_memory_equal(host->params, one->params, one->n_params * sizeof(float));
    assert_memory_equal(fell->params, host->params, host->n_params * sizeof(float));
    cx_model_free(one);
    cx_model_free(host);
    cx_model_free(fell);
    cx_backend_destroy(be);
}

#ifdef CX_NCCL_MODULE
/* The DT_NEEDED entries of an ELF64 shared object, joined by spaces into out. */
static void needed(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    assert_true(len > (long)sizeof(Elf64_Ehdr));
    unsigned char *b = malloc((size_t)len);
    assert_non_null(b);
    rewind(f);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
    assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
    assert_int_equal(eh->e_ident[EI_CLASS], ELFCLASS64);
    assert_true(eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) <= (uint64_t)len);
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(b + eh->e_shoff);
    out[0] = '\0';
    int found = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNAMIC)
            continue;
        found = 1;
        assert_true(sh[i].sh_link < eh->e_shnum);
        const Elf64_Shdr *str = &sh[sh[i].sh_link];
        assert_true(sh[i].sh_offset + sh[i].sh_size <= (uint64_t)len);
        assert_true(str->sh_offset + str->sh_size <= (uint64_t)len);
        const Elf64_Dyn *d = (const Elf64_Dyn *)(b + sh[i].sh_offset);
        for (size_t k = 0; k < sh[i].sh_size / sizeof *d && d[k].d_tag != DT_NULL; k++) {
            if (d[k].d_tag != DT_NEEDED)
                continue;
            assert_true(d[k].d_un.d_val < str->sh_size);
            const char *name = (const char *)b + str->sh_offset + d[k].d_un.d_val;
            size_t used = strlen(out);
            snprintf(out + used, cap - used, "%s ", name);
        }
    }
    assert_true(found);
    free(b);
}
#endif

/* The NCCL module (where this build has it) links libnccl and exports its table; the cuda
 * module does not link libnccl, and nothing maps it before the first call that needs it. */
static void test_module(void **state)
{
    (void)state;
#ifdef CX_NCCL_MODULE
    char deps[4096];
    assert_int_equal(cx_nccl_built(), 1);
    needed(CX_NCCL_MODULE, deps, sizeof deps);
    assert_non_null(strstr(deps, "libnccl.so"));
    assert_non_null(strstr(deps, "libcudart.so"));
    needed(CX_CUDA_MODULE, deps, sizeof deps);
    assert_null(strstr(deps, "libnccl"));
    assert_false(mapped("libnccl"));
    void *h = dlopen(CX_NCCL_MODULE, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    cx_nccl_module_fn get;
    *(void **)&get = dlsym(h, CX_NCCL_MODULE_SYMBOL);
    assert_non_null(get);
    const cx_nccl_api *t = get();
    assert_int_equal(t->abi, CX_NCCL_MODULE_ABI);
    assert_int_equal(t->table_size, sizeof(cx_nccl_api));
    cx_error e;
    int v = 0;
    if (cx_nccl_version(&v, &e) != CX_OK)
        fail_msg("cx_nccl_version: %s", e.msg);
    print_message("libnccl version code %d (built against %d)\n", v, t->built_version);
    assert_true(v >= 20000 && v < 30000); /* NCCL 2.x */
    assert_true(mapped("libnccl"));
    assert_int_equal(dlclose(h), 0);
#else
    cx_error e;
    int v = -1;
    assert_int_equal(cx_nccl_built(), 0);
    assert_int_equal(cx_nccl_version(&v, &e), CX_ERR_UNSUPPORTED);
    assert_int_equal(v, 0);
    assert_false(mapped("libnccl"));
#endif
}

/* Where the module is missing (or libnccl: the same failed dlopen) or foreign, NCCL is
 * unavailable, saying why; training then takes the host path (test_train_fallback). */
static void test_module_missing(void **state)
{
    (void)state;
#ifdef CX_NCCL_MODULE
    cx_error e;
    int v = -1;
    assert_int_equal(setenv("CLOAKX_NCCL_MODULE", "/nonexistent/libcloakx_nccl.so", 1), 0);
    assert_int_equal(cx_nccl_version(&v, &e), CX_ERR_UNSUPPORTED);
    assert_int_equal(v, 0);
    assert_non_null(strstr(e.msg, "could not be loaded"));
    assert_non_null(strstr(e.msg, "/nonexistent/libcloakx_nccl.so"));
    assert_int_equal(setenv("CLOAKX_NCCL_MODULE", CX_CUDA_MODULE, 1), 0); /* not this module */
    assert_int_equal(cx_nccl_version(&v, &e), CX_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "from another build"));
    assert_int_equal(unsetenv("CLOAKX_NCCL_MODULE"), 0);
#else
    skip();
#endif
}

static void test_local_rank(void **state)
{
    (void)state;
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                       "PMIX_LOCAL_RANK", "SLURM_LOCALID"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(unsetenv(vars[i]), 0);
    assert_int_equal(cx_comm_local_rank(), -1);
    assert_int_equal(setenv("SLURM_LOCALID", "2", 1), 0);
    assert_int_equal(cx_comm_local_rank(), 2);
    assert_int_equal(setenv("OMPI_COMM_WORLD_LOCAL_RANK", "3", 1), 0); /* Open MPI's first */
    assert_int_equal(cx_comm_local_rank(), 3);
    assert_int_equal(setenv("OMPI_COMM_WORLD_LOCAL_RANK", "3x", 1), 0);
    assert_int_equal(cx_comm_local_rank(), -1);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(unsetenv(vars[i]), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: nothing has mapped libnccl yet */
        cmocka_unit_test(test_module),         cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_unavailable),    cmocka_unit_test(test_train_fallback),
        cmocka_unit_test(test_module_missing), cmocka_unit_test(test_local_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
