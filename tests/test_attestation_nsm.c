/* test_attestation_nsm.c — the /dev/nsm CBOR codec against the bytes of spec §1.7, response
 * decoding (documents, PCRs, random, in-band errors, malformed), and the Nitro cx_tee backend
 * through the device seam with a stand-in device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cx_attest.h"

#define DOC_PATH CX_SHARED_TESTDATA "/attestation/nitro/nautilus_weather_20250415.cose"

static void expect_hex(const uint8_t *b, size_t n, const char *hex)
{
    char *h = cx_hex_dup(b, n);
    assert_non_null(h);
    assert_string_equal(h, hex);
    free(h);
}

static void test_request_encoding(void **state)
{
    (void)state;
    uint8_t *r;
    size_t n;
    assert_int_equal(cx_nsm_request_get_random(&r, &n, NULL), CX_OK);
    expect_hex(r, n, "6947657452616e646f6d");
    free(r);
    assert_int_equal(cx_nsm_request_describe_pcr(0, &r, &n, NULL), CX_OK);
    expect_hex(r, n, "a16b4465736372696265504352a165696e64657800");
    free(r);
    assert_int_equal(cx_nsm_request_describe_pcr(300, &r, &n, NULL), CX_OK);
    expect_hex(r, n, "a16b4465736372696265504352a165696e64657819012c");
    free(r);
    /* spec example: 32-byte public key, other fields null, 77 bytes */
    uint8_t pk[32];
    for (int i = 0; i < 32; i++)
        pk[i] = (uint8_t)i;
    assert_int_equal(cx_nsm_request_attestation(NULL, 0, NULL, 0, pk, 32, &r, &n, NULL), CX_OK);
    assert_int_equal(n, 77);
    expect_hex(r, n,
               "a16b4174746573746174696f6ea369757365725f64617461f6656e6f6e6365f66a7075626c69635f"
               "6b65795820000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    free(r);
    uint8_t ud[3] = {1, 2, 3}, nonce[1] = {9};
    assert_int_equal(cx_nsm_request_attestation(ud, 3, nonce, 1, NULL, 0, &r, &n, NULL), CX_OK);
    expect_hex(r, n,
               "a16b4174746573746174696f6ea369757365725f6461746143010203656e6f6e636541096a70"
               "75626c69635f6b6579f6");
    free(r);
    uint8_t big[513] = {0};
    cx_error e;
    assert_int_equal(cx_nsm_request_attestation(big, 513, NULL, 0, NULL, 0, &r, &n, &e),
                     CX_ERR_LIMIT);
}

static void test_response_decoding(void **state)
{
    (void)state;
    cx_nsm_response r;
    cx_error e;
    /* {"GetRandom": {"random": h'0102'}} */
    static const uint8_t rnd[] = {0xa1, 0x69, 'G', 'e', 't', 'R', 'a', 'n', 'd', 'o', 'm', 0xa1,
                                  0x66, 'r', 'a', 'n', 'd', 'o', 'm', 0x42, 0x01, 0x02};
    assert_int_equal(cx_nsm_response_decode(rnd, sizeof rnd, &r, &e), CX_OK);
    assert_int_equal(r.kind, CX_NSM_RESPONSE_GET_RANDOM);
    assert_int_equal(r.data_len, 2);
    cx_nsm_response_free(&r);
    /* {"DescribePCR": {"lock": true, "data": h'aa'}} */
    static const uint8_t pcr[] = {0xa1, 0x6b, 'D', 'e', 's', 'c', 'r', 'i', 'b', 'e', 'P', 'C',
                                  'R', 0xa2, 0x64, 'l', 'o', 'c', 'k', 0xf5, 0x64, 'd', 'a', 't',
                                  'a', 0x41, 0xaa};
    assert_int_equal(cx_nsm_response_decode(pcr, sizeof pcr, &r, &e), CX_OK);
    assert_int_equal(r.kind, CX_NSM_RESPONSE_DESCRIBE_PCR);
    assert_true(r.lock);
    assert_int_equal(r.data_len, 1);
    assert_int_equal(r.data[0], 0xaa);
    cx_nsm_response_free(&r);
    /* {"Error": "InvalidArgument"} */
    static const uint8_t err[] = {0xa1, 0x65, 'E', 'r', 'r', 'o', 'r', 0x6f, 'I', 'n', 'v', 'a',
                                  'l', 'i', 'd', 'A', 'r', 'g', 'u', 'm', 'e', 'n', 't'};
    assert_int_equal(cx_nsm_response_decode(err, sizeof err, &r, &e), CX_OK);
    assert_int_equal(r.kind, CX_NSM_RESPONSE_ERROR);
    assert_string_equal(r.error, "InvalidArgument");
    cx_nsm_response_free(&r);
    /* malformed: indefinite map, unknown kind, wrong inner type, truncated */
    static const uint8_t indef[] = {0xbf, 0x65, 'E', 'r', 'r', 'o', 'r', 0x61, 'x', 0xff};
    assert_int_equal(cx_nsm_response_decode(indef, sizeof indef, &r, &e), CX_ERR_FORMAT);
    static const uint8_t unk[] = {0xa1, 0x63, 'F', 'o', 'o', 0xa0};
    assert_int_equal(cx_nsm_response_decode(unk, sizeof unk, &r, &e), CX_ERR_FORMAT);
    uint8_t wrong[sizeof rnd];
    memcpy(wrong, rnd, sizeof rnd);
    wrong[19] = 0x62; /* random as a text string */
    assert_int_equal(cx_nsm_response_decode(wrong, sizeof wrong, &r, &e), CX_ERR_FORMAT);
    assert_int_equal(cx_nsm_response_decode(rnd, sizeof rnd - 1, &r, &e), CX_ERR_FORMAT);
}

/* A stand-in NSM: records the last request, answers with canned bytes. */
typedef struct fake_dev {
    uint8_t last_req[CX_NSM_REQUEST_MAX];
    size_t last_len;
    const uint8_t *answer;
    size_t answer_len;
    int calls;
} fake_dev;

static cx_err fake_transact(void *ud, const uint8_t *req, size_t req_len, uint8_t *resp,
                            size_t *resp_len, cx_error *e)
{
    fake_dev *f = ud;
    f->calls++;
    assert_true(req_len <= sizeof f->last_req);
    memcpy(f->last_req, req, req_len);
    f->last_len = req_len;
    if (f->answer_len > *resp_len)
        return cx_error_set(e, CX_ERR_DEVICE, "fake: buffer too small");
    memcpy(resp, f->answer, f->answer_len);
    *resp_len = f->answer_len;
    return CX_OK;
}

/* {"Attestation": {"document": <doc>}} */
static uint8_t *wrap_document(const uint8_t *doc, size_t len, size_t *out_len)
{
    static const uint8_t head[] = {0xa1, 0x6b, 'A', 't', 't', 'e', 's', 't', 'a', 't', 'i', 'o',
                                   'n', 0xa1, 0x68, 'd', 'o', 'c', 'u', 'm', 'e', 'n', 't', 0x59};
    uint8_t *b = malloc(sizeof head + 2 + len);
    assert_non_null(b);
    memcpy(b, head, sizeof head);
    b[sizeof head] = (uint8_t)(len >> 8);
    b[sizeof head + 1] = (uint8_t)len;
    memcpy(b + sizeof head + 2, doc, len);
    *out_len = sizeof head + 2 + len;
    return b;
}

static void test_nitro_backend_through_seam(void **state)
{
    (void)state;
    uint8_t *doc;
    size_t doc_len;
    assert_int_equal(cx_file_read_all(DOC_PATH, 1 << 20, &doc, &doc_len, NULL), CX_OK);
    fake_dev fd = {0};
    size_t ans_len;
    uint8_t *ans = wrap_document(doc, doc_len, &ans_len);
    fd.answer = ans;
    fd.answer_len = ans_len;
    cx_nsm_device dev = {.ud = &fd, .transact = fake_transact, .close = NULL};
    cx_tee *t;
    cx_error e = {0};
    assert_int_equal(cx_tee_nitro_open(&dev, NULL, &t, &e), CX_OK);
    assert_string_equal(cx_tee_backend_name(t), "nitro");
    assert_false(cx_tee_is_simulated(t));
    uint8_t ud[149] = {7}, nonce[32] = {8}, pk[32];
    cx_tee_public_keys(t, pk, NULL);
    uint8_t *got;
    size_t got_len;
    assert_int_equal(cx_tee_attest(t, ud, sizeof ud, nonce, sizeof nonce, &got, &got_len, &e),
                     CX_OK);
    assert_int_equal(got_len, doc_len);
    assert_memory_equal(got, doc, doc_len);
    free(got);
    /* the request the device saw: our user_data, nonce and Ed25519 key */
    uint8_t *want;
    size_t want_len;
    assert_int_equal(cx_nsm_request_attestation(ud, sizeof ud, nonce, sizeof nonce, pk, 32,
                                                &want, &want_len, NULL),
                     CX_OK);
    assert_int_equal(fd.last_len, want_len);
    assert_memory_equal(fd.last_req, want, want_len);
    free(want);

    /* in-band error: a device error naming it */
    static const uint8_t err[] = {0xa1, 0x65, 'E', 'r', 'r', 'o', 'r', 0x6d, 'I', 'n', 'p', 'u',
                                  't', 'T', 'o', 'o', 'L', 'a', 'r', 'g', 'e'};
    fd.answer = err;
    fd.answer_len = sizeof err;
    assert_int_equal(cx_tee_attest(t, ud, sizeof ud, NULL, 0, &got, &got_len, &e), CX_ERR_DEVICE);
    assert_non_null(strstr(e.msg, "InputTooLarge"));
    cx_tee_close(t);
    free(ans);
    free(doc);
}

static void test_random_and_pcr_through_seam(void **state)
{
    (void)state;
    /* {"GetRandom": {"random": 4 bytes}}: a 10-byte request needs three calls */
    static const uint8_t rnd[] = {0xa1, 0x69, 'G', 'e', 't', 'R', 'a', 'n', 'd', 'o', 'm', 0xa1,
                                  0x66, 'r', 'a', 'n', 'd', 'o', 'm', 0x44, 1, 2, 3, 4};
    fake_dev fd = {.answer = rnd, .answer_len = sizeof rnd};
    cx_nsm_device dev = {.ud = &fd, .transact = fake_transact};
    uint8_t buf[10];
    cx_error e;
    assert_int_equal(cx_nsm_get_random(&dev, buf, sizeof buf, &e), CX_OK);
    assert_int_equal(fd.calls, 3);
    assert_int_equal(buf[9], 2);
    /* kind mismatch: a GetRandom answer to DescribePCR */
    int lock;
    uint8_t data[64];
    size_t n;
    assert_int_equal(cx_nsm_describe_pcr(&dev, 0, &lock, data, sizeof data, &n, &e),
                     CX_ERR_FORMAT);
    /* no /dev/nsm here */
    cx_nsm_device real;
    assert_int_equal(cx_nsm_device_open("/nonexistent/nsm", &real, &e), CX_ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_encoding),
        cmocka_unit_test(test_response_decoding),
        cmocka_unit_test(test_nitro_backend_through_seam),
        cmocka_unit_test(test_random_and_pcr_through_seam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
