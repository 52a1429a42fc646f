/* test_attestation_gpu_evidence.c — evidence JSON (§3.7) read/write round trip, strict
 * refusal of malformed entries, and known answers for the §4.2 GPU evidence digest. */
#include "attestation_gpu_testutil.h"

/* Computed independently with Python hashlib (see tests/data/gpu/README.md). */
#define DIGEST_0                                                                                   \
    "b81fa279a418635d32cc20f666fffa0da8f3e0038b3ff62460e52237f0e2eb6866d2ebab180e2f94b00d9df5c275" \
    "ef50"
#define DIGEST_1                                                                                   \
    "975496ba0238d98883d4a25704930c651028ed6716a14ff17692983bbddcf7e7f70875086bc306d615933ef11868" \
    "ffda"
#define DIGEST_2                                                                                   \
    "d0b97d124b3a5c433f4e5f37f271f50b927c8bd7949cfc4fbc301d50ef7a07743cb7066b7f0e879e2bb08cb5a4f4" \
    "795e"

static void digest_hex(const cx_gpu_evidence *items, size_t n, char out[2 * CX_GPU_DIGEST_LEN + 1])
{
    uint8_t d[CX_GPU_DIGEST_LEN];
    cx_error e;
    assert_int_equal(cx_gpu_evidence_digest(items, n, d, &e), CX_OK);
    assert_int_equal(cx_hex_encode(d, sizeof d, out, 2 * CX_GPU_DIGEST_LEN + 1, &e), CX_OK);
}

static void test_load_committed_file(void **state)
{
    (void)state;
    cx_gpu_evidence_list l;
    cx_error e;
    assert_int_equal(cx_gpu_evidence_load(CX_TESTDATA "/gpu/nvtrust_evidence.json", &l, &e), CX_OK);
    assert_int_equal(l.n, 1);
    sample s;
    sample_load(&s);
    assert_string_equal(l.items[0].arch, "HOPPER");
    assert_int_equal(l.items[0].report_len, s.report_len);
    assert_memory_equal(l.items[0].report, s.report, s.report_len);
    assert_int_equal(l.items[0].cert_chain_len, s.chain_len);
    assert_memory_equal(l.items[0].cert_chain, s.chain, s.chain_len);
    uint8_t nonce[CX_GPU_NONCE_LEN];
    sample_nonce(nonce);
    assert_memory_equal(l.items[0].nonce, nonce, CX_GPU_NONCE_LEN);
    assert_string_equal(l.items[0].driver_version, "550.90.07");
    assert_string_equal(l.items[0].vbios_version, "96.00.9F.00.01");
    char hex[2 * CX_GPU_DIGEST_LEN + 1];
    digest_hex(l.items, l.n, hex);
    assert_string_equal(hex, DIGEST_1);
    cx_gpu_evidence_list_free(&l);
    sample_free(&s);
}

static void test_round_trip_and_digest(void **state)
{
    (void)state;
    sample s;
    sample_load(&s);
    uint8_t nonce[CX_GPU_NONCE_LEN];
    sample_nonce(nonce);
    cx_gpu_evidence_list l = {0};
    cx_error e;
    char hex[2 * CX_GPU_DIGEST_LEN + 1];
    digest_hex(NULL, 0, hex);
    assert_string_equal(hex, DIGEST_0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(cx_gpu_evidence_add(&l, "HOPPER", nonce, s.report, s.report_len,
                                             (const char *)s.chain, s.chain_len, NULL, NULL, &e),
                         CX_OK);
    digest_hex(l.items, 1, hex);
    assert_string_equal(hex, DIGEST_1);
    digest_hex(l.items, 2, hex);
    assert_string_equal(hex, DIGEST_2);

    char *text = NULL;
    assert_int_equal(cx_gpu_evidence_to_json(&l, &text, &e), CX_OK);
    assert_non_null(strstr(text, "\"certificate\""));
    assert_non_null(strstr(text, "\"arch\": \"HOPPER\""));
    assert_null(strstr(text, "driver_version")); /* absent stays absent */
    cx_gpu_evidence_list back;
    assert_int_equal(cx_gpu_evidence_parse(text, strlen(text), &back, &e), CX_OK);
    assert_int_equal(back.n, 2);
    digest_hex(back.items, back.n, hex);
    assert_string_equal(hex, DIGEST_2);
    free(text);

    /* save/load through a file */
    char path[] = "/tmp/cx_gpu_evidence_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(cx_gpu_evidence_save(path, &back, &e), CX_OK);
    cx_gpu_evidence_list again;
    assert_int_equal(cx_gpu_evidence_load(path, &again, &e), CX_OK);
    assert_int_equal(again.n, 2);
    unlink(path);

    /* order matters: swapping two different GPUs changes the digest */
    again.items[1].report[100] ^= 1;
    char h1[2 * CX_GPU_DIGEST_LEN + 1], h2[2 * CX_GPU_DIGEST_LEN + 1];
    digest_hex(again.items, 2, h1);
    cx_gpu_evidence t = again.items[0];
    again.items[0] = again.items[1];
    again.items[1] = t;
    digest_hex(again.items, 2, h2);
    assert_string_not_equal(h1, h2);

    cx_gpu_evidence_list_free(&again);
    cx_gpu_evidence_list_free(&back);
    cx_gpu_evidence_list_free(&l);
    sample_free(&s);
}

static void test_nras_shape(void **state)
{
    (void)state;
    const char *text = "{\"nonce\": \"" SAMPLE_NONCE "\", \"arch\": \"HOPPER\", \"evidence_list\": "
                       "[{\"evidence\": \"EQ==\", \"certificate\": \"QQ==\"}]}";
    cx_gpu_evidence_list l;
    cx_error e;
    assert_int_equal(cx_gpu_evidence_parse(text, strlen(text), &l, &e), CX_OK);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].report_len, 1);
    assert_int_equal(l.items[0].report[0], 0x11);
    assert_string_equal(l.items[0].cert_chain, "A");
    cx_gpu_evidence_list_free(&l);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *n = SAMPLE_NONCE;
    char buf[1024];
    const char *fmt[] = {
        "[]",
        "{}",
        "5",
        "[5]",
        "[{\"nonce\": \"%s\", \"evidence\": \"EQ==\"}]",
        "[{\"nonce\": \"%s\", \"certificate\": \"QQ==\"}]",
        "[{\"evidence\": \"EQ==\", \"certificate\": \"QQ==\", \"x\": \"%s\"}]",
        "[{\"nonce\": \"%s00\", \"evidence\": \"EQ==\", \"certificate\": \"QQ==\"}]",
        "[{\"nonce\": \"%s\", \"evidence\": \"E===\", \"certificate\": \"QQ==\"}]",
        "[{\"nonce\": \"%s\", \"evidence\": \"\", \"certificate\": \"QQ==\"}]",
        "[{\"nonce\": \"%s\", \"evidence\": \"EQ==\", \"certificate\": 7}]",
        "[{\"nonce\": \"%s\", \"evidence\": \"EQ==\", \"certificate\": \"AA==\"}]",
        ("[{\"nonce\": \"%s\", \"evidence\": \"EQ==\", \"certificate\": \"QQ==\", "
         "\"arch\": \"HOPPERHOPPERHOPPER\"}]"),
    };
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(buf, sizeof buf, fmt[i], n);
#pragma GCC diagnostic pop
        cx_gpu_evidence_list l;
        cx_error e;
        if (cx_gpu_evidence_parse(buf, strlen(buf), &l, &e) == CX_OK)
            fail_msg("case %zu accepted: %s", i, buf);
        assert_int_equal(l.n, 0);
        assert_null(l.items);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_committed_file),
        cmocka_unit_test(test_round_trip_and_digest),
        cmocka_unit_test(test_nras_shape),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
