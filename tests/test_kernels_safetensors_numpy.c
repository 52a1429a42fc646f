/* test_kernels_safetensors_numpy.c — a model file we write loads in Python/NumPy as is (with
 * the `safetensors` package when installed, else parsed by hand), and a file NumPy writes loads here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cx_kernels.h"

#define PYTHON "/usr/bin/python3"

/* argv[1]: the file we wrote, to check; argv[2]: a file for Python to write for us. */
static const char *const check_py =
    "import json, struct, sys\n"
    "import numpy as np\n"
    "path, outp = sys.argv[1], sys.argv[2]\n"
    "raw = open(path, 'rb').read()\n"
    "n = struct.unpack('<Q', raw[:8])[0]\n"
    "assert n % 8 == 0, n\n"
    "hdr = json.loads(raw[8:8 + n].decode('utf-8'))\n"
    "base = 8 + n\n"
    "DT = {'F32': '<f4', 'F64': '<f8', 'I64': '<i8', 'I32': '<i4', 'U8': 'u1', 'BF16': '<u2'}\n"
    "def get(name):\n"
    "    t = hdr[name]\n"
    "    b, e = t['data_offsets']\n"
    "    a = np.frombuffer(raw[base + b:base + e], dtype=DT[t['dtype']]).reshape(t['shape'])\n"
    "    if t['dtype'] == 'BF16':\n"
    "        a = (a.astype(np.uint32) << 16).view(np.float32)\n"
    "    return a\n"
    "w = get('dense.weight')\n"
    "assert w.shape == (3, 4) and w.dtype == np.float32, (w.shape, w.dtype)\n"
    "exp = (np.arange(12, dtype=np.float32) * np.float32(0.25) - np.float32(1.0)).reshape(3, 4)\n"
    "assert np.array_equal(w, exp), w\n"
    "m = get('norm.mean')\n"
    "assert m.dtype == np.float64 and np.array_equal(m, np.array([1.0/3, -2.5, 1e300]))\n"
    "assert np.array_equal(get('step'), np.array([-7, 2**40], dtype=np.int64))\n"
    "assert np.array_equal(get('classes'), np.array([[1, -2], [3, 4]], dtype=np.int32))\n"
    "assert np.array_equal(get('mask'), np.array([0, 1, 255], dtype=np.uint8))\n"
    "assert np.array_equal(get('half'), np.array([1.0, -2.0, 3.140625], dtype=np.float32))\n"
    "meta = hdr['__metadata__']\n"
    "assert meta == {'spec': '{\"model\": \"mlp\"}', 'epsilon': '2.5'}, meta\n"
    "# Offsets contiguous from 0 to the end of the file, in order.\n"
    "spans = sorted(tuple(v['data_offsets']) for k, v in hdr.items() if k != '__metadata__')\n"
    "pos = 0\n"
    "for b, e in spans:\n"
    "    assert b == pos, (b, pos)\n"
    "    pos = e\n"
    "assert base + pos == len(raw)\n"
    "try:\n"
    "    from safetensors.numpy import load_file\n"
    "except ImportError:\n"
    "    load_file = None\n"
    "if load_file:\n"
    "    d = load_file(path)\n"
    "    assert np.array_equal(d['dense.weight'], exp)\n"
    "    assert np.array_equal(d['step'], np.array([-7, 2**40]))\n"
    "    print('checked with the safetensors package too')\n"
    "# Now write one by hand, the way the reference writer lays it out.\n"
    "ts = {'b': np.array([[1.5, -2.0]], dtype=np.float32), 'a': np.arange(5, dtype=np.int64)}\n"
    "h, off, blobs = {'__metadata__': {'by': 'numpy'}}, 0, []\n"
    "for k in ['a', 'b']:\n"
    "    by = ts[k].tobytes()\n"
    "    h[k] = {'dtype': {'float32': 'F32', 'int64': 'I64'}[str(ts[k].dtype)],\n"
    "            'shape': list(ts[k].shape), 'data_offsets': [off, off + len(by)]}\n"
    "    off += len(by)\n"
    "    blobs.append(by)\n"
    "hb = json.dumps(h).encode()\n"
    "hb += b' ' * (-len(hb) % 8)\n"
    "open(outp, 'wb').write(struct.pack('<Q', len(hb)) + hb + b''.join(blobs))\n"
    "print('numpy: ok')\n";

static int run_python(const char *a1, const char *a2)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl(PYTHON, PYTHON, "-c", check_py, a1, a2, (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_numpy_roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/cx_stnp_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char mine[256], theirs[256];
    snprintf(mine, sizeof mine, "%s/cloakx.safetensors", dir);
    snprintf(theirs, sizeof theirs, "%s/numpy.safetensors", dir);

    cx_error e;
    cx_safetensors *st;
    assert_int_equal(cx_safetensors_new(&st, &e), CX_OK);
    float w[12];
    for (int i = 0; i < 12; i++)
        w[i] = (float)i * 0.25f - 1.0f;
    const double mean[3] = {1.0 / 3, -2.5, 1e300};
    const int64_t step[2] = {-7, (int64_t)1 << 40};
    const int32_t cls[4] = {1, -2, 3, 4};
    const uint8_t mask[3] = {0, 1, 255};
    const uint16_t half[3] = {0x3f80, 0xc000, 0x4049};
    const uint64_t s34[] = {3, 4}, s3[] = {3}, s2[] = {2}, s22[] = {2, 2};
    assert_int_equal(cx_safetensors_add(st, "dense.weight", CX_SAFETENSORS_F32, s34, 2, w, sizeof w,
                                        &e),
                     CX_OK);
    assert_int_equal(cx_safetensors_add(st, "norm.mean", CX_SAFETENSORS_F64, s3, 1, mean,
                                        sizeof mean, &e),
                     CX_OK);
    assert_int_equal(cx_safetensors_add(st, "step", CX_SAFETENSORS_I64, s2, 1, step, sizeof step,
                                        &e),
                     CX_OK);
    assert_int_equal(cx_safetensors_add(st, "classes", CX_SAFETENSORS_I32, s22, 2, cls, sizeof cls,
                                        &e),
                     CX_OK);
    assert_int_equal(cx_safetensors_add(st, "mask", CX_SAFETENSORS_U8, s3, 1, mask, sizeof mask,
                                        &e),
                     CX_OK);
    assert_int_equal(cx_safetensors_add(st, "half", CX_SAFETENSORS_BF16, s3, 1, half, sizeof half,
                                        &e),
                     CX_OK);
    assert_int_equal(cx_safetensors_meta_set(st, "spec", "{\"model\": \"mlp\"}", &e), CX_OK);
    assert_int_equal(cx_safetensors_meta_set(st, "epsilon", "2.5", &e), CX_OK);
    assert_int_equal(cx_safetensors_write_file(st, mine, &e), CX_OK);
    cx_safetensors_free(st);

    assert_int_equal(run_python(mine, theirs), 0);

    cx_safetensors *rd;
    assert_int_equal(cx_safetensors_read_file(theirs, 0, &rd, &e), CX_OK);
    assert_string_equal(cx_safetensors_meta_get(rd, "by"), "numpy");
    cx_safetensors_tensor t;
    float out[5];
    assert_int_equal(cx_safetensors_find(rd, "a", &t, &e), CX_OK);
    assert_int_equal(t.dtype, CX_SAFETENSORS_I64);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 5, &e), CX_OK);
    for (int i = 0; i < 5; i++)
        assert_true(out[i] == (float)i);
    assert_int_equal(cx_safetensors_find(rd, "b", &t, &e), CX_OK);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(cx_safetensors_tensor_to_f32(&t, out, 5, &e), CX_OK);
    assert_true(out[0] == 1.5f && out[1] == -2.0f);
    cx_safetensors_free(rd);
    unlink(mine);
    unlink(theirs);
    rmdir(dir);
}

int main(void)
{
    /* Skip (77) where Debian's python3 with NumPy is absent. */
    if (access(PYTHON, X_OK) != 0 ||
        system(PYTHON " -c 'import numpy' >/dev/null 2>&1") != 0) {
        fprintf(stderr, "skipped: %s with numpy not available\n", PYTHON);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numpy_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
