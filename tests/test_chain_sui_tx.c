/* test_chain_sui_tx.c — chain/sui_tx.c against the spec's vectors (§3.3 transaction, §6.1 keys,
 * §6.2 signatures and digests): TransactionData bytes, intent digest, serialized signature,
 * base58 digest, suiprivkey both ways, type tags, and the decoder's refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cx_chain.h"

static const char TX_HEX[] =
    "0000030101333333333333333333333333333333333333333333333333333333333333333305000000000000000100"
    "040301020300082a0000000000000001004444444444444444444444444444444444444444444444444444444444444444"
    "066d61726b6574067375626d69740003010000010100010200160179a1565ea7cff27ead23f54cc7f50893bf58155cd7"
    "285156e57afa31c3ac011111111111111111111111111111111111111111111111111111111111111111070000000000"
    "0000202222222222222222222222222222222222222222222222222222222222222222160179a1565ea7cff27ead23f5"
    "4cc7f50893bf58155cd7285156e57afa31c3ace803000000000000809698000000000000";

static cx_chain_key *seed_key(void)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    cx_chain_key *k = NULL;
    assert_int_equal(cx_chain_key_from_seed(seed, &k, NULL), CX_OK);
    return k;
}

static void from_hex(const char *hex, uint8_t **out, size_t *len)
{
    size_t n = strlen(hex) / 2;
    *out = malloc(n);
    assert_non_null(*out);
    assert_int_equal(cx_hex_decode(hex, strlen(hex), *out, n, len, NULL), CX_OK);
}

/* spec §3.3: market::submit(shared 0x33.. isv 5 mut, vector[1,2,3], 42u64) */
static void build_spec_tx(cx_sui_tx *tx, const cx_chain_key *k)
{
    cx_sui_tx_init(tx);
    cx_chain_id shared, pkg;
    memset(shared.b, 0x33, 32);
    memset(pkg.b, 0x44, 32);
    cx_sui_arg a[3];
    const uint8_t v[3] = {1, 2, 3};
    assert_int_equal(cx_sui_tx_shared(tx, &shared, 5, 1, &a[0], NULL), CX_OK);
    assert_int_equal(cx_sui_tx_pure_bytes(tx, v, 3, &a[1], NULL), CX_OK);
    assert_int_equal(cx_sui_tx_pure_u64(tx, 42, &a[2], NULL), CX_OK);
    assert_int_equal(cx_sui_tx_move_call(tx, &pkg, "market", "submit", NULL, 0, a, 3, NULL, NULL),
                     CX_OK);
    tx->sender = *cx_chain_key_address(k);
    tx->gas_owner = tx->sender;
    tx->gas_payment = calloc(1, sizeof *tx->gas_payment);
    assert_non_null(tx->gas_payment);
    tx->n_gas_payment = 1;
    memset(tx->gas_payment[0].id.b, 0x11, 32);
    tx->gas_payment[0].version = 7;
    memset(tx->gas_payment[0].digest, 0x22, 32);
    tx->gas_price = 1000;
    tx->gas_budget = 10000000;
}

static void test_spec_transaction_bytes_digests_signature(void **state)
{
    (void)state;
    cx_chain_key *k = seed_key();
    cx_sui_tx tx;
    build_spec_tx(&tx, k);
    uint8_t *bytes, *want;
    size_t len, want_len;
    cx_error e;
    if (cx_sui_tx_encode(&tx, &bytes, &len, &e) != CX_OK)
        fail_msg("encode: %s", e.msg);
    from_hex(TX_HEX, &want, &want_len);
    assert_int_equal(len, 276);
    assert_memory_equal(bytes, want, len);

    uint8_t d[32];
    char hex[65], b58[CX_SUI_DIGEST_B58_MAX + 1];
    assert_int_equal(cx_sui_intent_digest(CX_SUI_INTENT_TRANSACTION, bytes, len, d, NULL), CX_OK);
    assert_int_equal(cx_hex_encode(d, 32, hex, sizeof hex, NULL), CX_OK);
    assert_string_equal(hex, "7844ff65426b7ef99312ed0719aa4287ce3a62e6dda0ba7c15e1482bdb8d45a7");
    assert_int_equal(cx_sui_tx_digest(bytes, len, d, NULL), CX_OK);
    assert_int_equal(cx_sui_base58_encode(d, 32, b58, sizeof b58, NULL), CX_OK);
    assert_string_equal(b58, "68LAtSqPRxuaJL8W8MnvNNBP8EdRHQArXu1ATowHu5jk");

    uint8_t sig[CX_SUI_SIGNATURE_LEN];
    char b64[CX_SUI_SIGNATURE_B64_LEN + 1];
    assert_int_equal(cx_sui_tx_sign(k, bytes, len, sig, NULL), CX_OK);
    assert_int_equal(cx_base64_encode(sig, sizeof sig, b64, sizeof b64, NULL), CX_OK);
    assert_string_equal(b64, "AKd5hKJ2Bi6OoGaXfsYeoJxFR9EmIa64i6yF16vOjJ8B6hg6OMLLy+ZbYadnBF8k0LuG9rX"
                             "IMbvW8lUjXS5ZSQYDoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==");

    /* decode and encode again: the same bytes, the same fields */
    cx_sui_tx back;
    if (cx_sui_tx_decode(bytes, len, &back, &e) != CX_OK)
        fail_msg("decode: %s", e.msg);
    assert_int_equal(back.n_inputs, 3);
    assert_int_equal(back.inputs[0].kind, CX_SUI_INPUT_SHARED);
    assert_int_equal(back.inputs[0].initial_shared_version, 5);
    assert_int_equal(back.inputs[0].is_mutable, 1);
    assert_int_equal(back.n_commands, 1);
    assert_string_equal(back.commands[0].function, "submit");
    assert_int_equal(back.gas_budget, 10000000);
    uint8_t *again;
    size_t again_len;
    assert_int_equal(cx_sui_tx_encode(&back, &again, &again_len, NULL), CX_OK);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, bytes, len);
    free(again);
    cx_sui_tx_free(&back);
    cx_sui_tx_free(&tx);
    free(bytes);
    free(want);
    cx_chain_key_free(k);
}

static void test_personal_message_signature(void **state)
{
    (void)state;
    cx_chain_key *k = seed_key();
    uint8_t sig[CX_SUI_SIGNATURE_LEN];
    char b64[CX_SUI_SIGNATURE_B64_LEN + 1];
    assert_int_equal(cx_sui_personal_message_sign(k, (const uint8_t *)"hello", 5, sig, NULL),
                     CX_OK);
    assert_int_equal(cx_base64_encode(sig, sizeof sig, b64, sizeof b64, NULL), CX_OK);
    assert_string_equal(b64, "AAq+MqnciuX91LqxBAGpXVG4PENVdvMFcBKqHKN04i0l40EAOOYXewWvoPBNvXdHKhEGfQ"
                             "ghYcDUKRolzwoYNgcDoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==");
    cx_chain_key_free(k);
}

static void test_suiprivkey_both_ways(void **state)
{
    (void)state;
    uint8_t seed[32], back[32];
    char text[CX_SUI_PRIVKEY_LEN + 1];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    assert_int_equal(cx_sui_privkey_encode(seed, text, NULL), CX_OK);
    assert_string_equal(text, "suiprivkey1qqqqzqsrqszsvpcgpy9qkrqdpc83qygjzv2p29shrqv35xcur50p74yefn7");
    assert_int_equal(cx_sui_privkey_decode(text, back, NULL), CX_OK);
    assert_memory_equal(back, seed, 32);
    /* spec §6.1 mnemonic key */
    uint8_t *want;
    size_t n;
    from_hex("dd09307a43ba6dc186b5709e4ca51f4fc71911c143f7ceffcf8c60e6b03bc8fa", &want, &n);
    assert_int_equal(
        cx_sui_privkey_decode("suiprivkey1qrwsjvr6gwaxmsvxk4cfun99ra8uwxg3c9pl0nhle7xxpe4s80y05ctazer",
                              back, NULL),
        CX_OK);
    assert_memory_equal(back, want, 32);
    cx_chain_key *k;
    assert_int_equal(cx_chain_key_from_seed(back, &k, NULL), CX_OK);
    char addr[CX_CHAIN_ID_HEX_LEN + 1];
    cx_chain_id_to_hex(cx_chain_key_address(k), addr);
    assert_string_equal(addr,
                        "0xa2d14fad60c56049ecf75246a481934691214ce413e6a8ae2fe6834c173a6133");
    cx_chain_key_free(k);
    free(want);
    /* upper case is the same key; mixed case, a changed character, another scheme are not */
    char upper[CX_SUI_PRIVKEY_LEN + 1];
    for (size_t i = 0; i <= CX_SUI_PRIVKEY_LEN; i++)
        upper[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i]);
    assert_int_equal(cx_sui_privkey_decode(upper, back, NULL), CX_OK);
    upper[5] = 'r';
    cx_error e;
    assert_int_equal(cx_sui_privkey_decode(upper, back, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "mixed case"));
    text[20] = text[20] == 'q' ? 'p' : 'q';
    assert_int_equal(cx_sui_privkey_decode(text, back, &e), CX_ERR_FORMAT);
    assert_non_null(strstr(e.msg, "checksum"));
    /* a secp256k1 key from @mysten/sui 2.33.1 (Secp256k1Keypair.fromSecretKey(7 x 32)) */
    assert_int_equal(
        cx_sui_privkey_decode("suiprivkey1qyrswpc8qurswpc8qurswpc8qurswpc8qurswpc8qurswpc8qurswua9amz",
                              back, &e),
        CX_ERR_UNSUPPORTED);
    assert_int_equal(cx_sui_privkey_decode("suiprivkey1", back, &e), CX_ERR_FORMAT);
}

static void test_type_tags(void **state)
{
    (void)state;
    cx_sui_type t;
    char *s;
    assert_int_equal(cx_sui_type_parse("0x2::coin::Coin<0x2::sui::SUI>", &t, NULL), CX_OK);
    assert_int_equal(cx_sui_type_format(&t, &s, NULL), CX_OK);
    assert_string_equal(s, "0x0000000000000000000000000000000000000000000000000000000000000002::"
                           "coin::Coin<0x0000000000000000000000000000000000000000000000000000000000"
                           "000002::sui::SUI>");
    free(s);
    cx_sui_type_free(&t);
    assert_int_equal(cx_sui_type_parse("vector<vector<u256>>", &t, NULL), CX_OK);
    assert_int_equal(t.kind, CX_SUI_TYPE_VECTOR);
    assert_int_equal(t.elem->elem->kind, CX_SUI_TYPE_U256);
    cx_sui_type_free(&t);
    assert_int_equal(cx_sui_type_parse("0x1::m::T<u8, address>", &t, NULL), CX_OK);
    assert_int_equal(t.n_params, 2);
    cx_sui_type_free(&t);
    static const char *const bad[] = {"vector<u8", "0x2::coin", "u64 x", "0x2::1coin::C",
                                      "0xg::a::B", "", "u8>", "0x2::a::B<>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cx_error e;
        if (cx_sui_type_parse(bad[i], &t, &e) == CX_OK)
            fail_msg("'%s' parsed", bad[i]);
    }
    char deep[256] = "";
    for (int i = 0; i < 17; i++)
        strcat(deep, "vector<");
    strcat(deep, "u8");
    for (int i = 0; i < 17; i++)
        strcat(deep, ">");
    assert_int_equal(cx_sui_type_parse(deep, &t, NULL), CX_ERR_LIMIT);
}

static void test_decoder_refusals(void **state)
{
    (void)state;
    uint8_t *b;
    size_t n;
    from_hex(TX_HEX, &b, &n);
    cx_sui_tx tx;
    cx_error e;
    assert_int_equal(cx_sui_tx_decode(b, n - 1, &tx, &e), CX_ERR_FORMAT); /* truncated */
    uint8_t *longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, b, n);
    longer[n] = 0;
    assert_int_equal(cx_sui_tx_decode(longer, n + 1, &tx, &e), CX_ERR_FORMAT); /* trailing */
    free(longer);
    b[0] = 1; /* TransactionData V2 */
    assert_int_equal(cx_sui_tx_decode(b, n, &tx, &e), CX_ERR_UNSUPPORTED);
    b[0] = 0;
    /* the command's third argument Input(2) -> Input(9): names no input */
    /* V1, kind, 3 inputs (43 + 6 + 10 bytes), 1 command: MoveCall, package, "market",
     * "submit", 0 type args, 3 args of 3 bytes: the third one's index byte */
    size_t at = 2 + 1 + 43 + 6 + 10 + 1 + 1 + 32 + 7 + 7 + 1 + 1 + 3 + 3 + 1;
    assert_int_equal(b[at], 2);
    b[at] = 9;
    assert_int_equal(cx_sui_tx_decode(b, n, &tx, &e), CX_ERR_ARG);
    assert_non_null(strstr(e.msg, "input 9"));
    b[at] = 2;
    assert_int_equal(cx_sui_tx_decode(b, n, &tx, NULL), CX_OK);
    cx_sui_tx_free(&tx);
    free(b);
}

static void test_base58(void **state)
{
    (void)state;
    const uint8_t in[] = {0, 0, 1, 2, 0xff};
    char s[32];
    uint8_t out[8];
    size_t n;
    assert_int_equal(cx_sui_base58_encode(in, sizeof in, s, sizeof s, NULL), CX_OK);
    assert_string_equal(s, "11LiA"); /* two leading zero bytes are two '1's */
    assert_int_equal(cx_sui_base58_decode(s, out, sizeof out, &n, NULL), CX_OK);
    assert_int_equal(n, sizeof in);
    assert_memory_equal(out, in, sizeof in);
    assert_int_equal(cx_sui_base58_decode("0OIl", out, sizeof out, &n, NULL), CX_ERR_FORMAT);
}

/* chain/sui_market.c: an event of the package decodes into a ledger event; others do not */
static void test_market_events(void **state)
{
    (void)state;
    cx_sui_market m = {0};
    memset(m.package.b, 0xab, 32);
    cx_sui_event ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.type, sizeof ev.type, "0x%s::market::JobCreated",
             "abababababababababababababababababababababababababababababababab");
    uint8_t bcs[32 * 3 + 16];
    memset(bcs, 0x11, 32);
    memset(bcs + 32, 0x22, 32);
    memset(bcs + 64, 0x33, 32);
    for (int i = 0; i < 8; i++) {
        bcs[96 + i] = (uint8_t)(100000ull >> (8 * i));
        bcs[104 + i] = (uint8_t)(1760000000000ull >> (8 * i));
    }
    ev.bcs = bcs;
    ev.bcs_len = sizeof bcs;
    memset(ev.tx_digest, 0x44, 32);
    cx_ledger_event out;
    cx_error e;
    if (cx_sui_market_event_decode(&m, &ev, &out, &e) != CX_OK)
        fail_msg("decode: %s", e.msg);
    assert_int_equal(out.kind, CX_LEDGER_EV_JOB_CREATED);
    assert_int_equal(out.amount, 100000);
    assert_int_equal(out.timestamp_ms, 1760000000000ull);
    assert_int_equal(out.object_id.b[0], 0x11);
    assert_int_equal(out.pool_id.b[0], 0x22);
    assert_int_equal(out.addr.b[0], 0x33);
    assert_int_equal(out.tx_digest[0], 0x44);
    ev.bcs_len--; /* truncated */
    assert_int_equal(cx_sui_market_event_decode(&m, &ev, &out, &e), CX_ERR_FORMAT);
    ev.bcs_len++;
    memcpy(ev.type + 2, "ac", 2); /* another package */
    assert_int_equal(cx_sui_market_event_decode(&m, &ev, &out, &e), CX_ERR_NOTFOUND);
    memcpy(ev.type + 2, "ab", 2);
    snprintf(strstr(ev.type, "::market::") + 10, 32, "Minted");
    assert_int_equal(cx_sui_market_event_decode(&m, &ev, &out, &e), CX_ERR_NOTFOUND);
    /* abort codes map to the error classes of market.move's list */
    assert_int_equal(cx_sui_market_abort_class(11), CX_ERR_ARG);   /* EPaymentBelowPrice */
    assert_int_equal(cx_sui_market_abort_class(23), CX_ERR_STATE); /* EJobNotOpen */
    assert_int_equal(cx_sui_market_abort_class(39), CX_ERR_VERIFY); /* EUnknownContributor */
    assert_int_equal(cx_sui_market_abort_class(50), CX_ERR_AUTH);  /* EBadSignature */
    assert_int_equal(cx_sui_market_abort_class(100), CX_ERR_FORMAT);
    assert_int_equal(cx_sui_market_abort_class(7777), CX_ERR_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_transaction_bytes_digests_signature),
        cmocka_unit_test(test_personal_message_signature),
        cmocka_unit_test(test_suiprivkey_both_ways),
        cmocka_unit_test(test_type_tags),
        cmocka_unit_test(test_decoder_refusals),
        cmocka_unit_test(test_base58),
        cmocka_unit_test(test_market_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
