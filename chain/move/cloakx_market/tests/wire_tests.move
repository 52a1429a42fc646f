// wire_tests.move — the Move verifier on the committed vectors: attestation/'s statement vector
// and the enclave's job messages (gen_vectors.py) verify and decode; altered, re-signed or
// malformed bytes are refused as RULES.md §4 / §6 refuse them.
#[test_only]
module cloakx_market::wire_tests;

use cloakx_market::market;
use cloakx_market::vectors;
use cloakx_market::wire;

const JOB: address = @0x1111111111111111111111111111111111111111111111111111111111111111;
const POOL: address = @0x2222222222222222222222222222222222222222222222222222222222222222;
const TS: u64 = 1764115200000;

fun meas(): vector<u8> {
    x"333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333333"
}

#[test]
fun statement_vector_verifies_and_decodes() {
    let bytes = vectors::statement();
    assert!(market::signed_by(&vectors::enclave_pk(), &bytes, &vectors::statement_sig()));
    let msg = market::check_statement(bytes, JOB, POOL, &meas(), TS, TS);
    assert!(msg.intent() == 0 && msg.timestamp_ms() == TS);
    let s = msg.payload();
    assert!(s.version() == 3);
    assert!(s.rejected().length() == 0);
    // a two-rank job's commitment to its ranks' attestations (RULES.md §5)
    assert!(*s.ranks_hash() == x"565516358db058558d78491082820c73378ae3e3d18a3de53bf33f6ec8ec9c3e");
    assert!(s.job_id() == JOB && s.pool_id() == POOL);
    assert!(s.result_blob_id().length() == 32);
    assert!(s.gpu_evidence_hash().length() == 0);
    let rows = s.contributors();
    assert!(rows.length() == 2);
    assert!(rows.borrow(0).contributor() == @0x160179a1565ea7cff27ead23f54cc7f50893bf58155cd7285156e57afa31c3ac);
    assert!(rows.borrow(0).accepted_rows() == 1200);
    assert!(rows.borrow(1).accepted_rows() == 800);
    let metrics = s.metrics();
    assert!(metrics.length() == 2);
    assert!(*metrics.borrow(0).metric_name().as_bytes() == b"accuracy");
    assert!(metrics.borrow(1).metric_value_micro() == 871000);
    assert!(s.dp_epsilon_micro() == 3000000 && s.dp_delta_1e12() == 10000000);
    // the Move mirror has the statement's exact layout: BCS of the decoded message = the bytes
    assert!(std::bcs::to_bytes(&msg) == vectors::statement());
}

#[test]
fun nautilus_weather_vector_verifies() {
    assert!(market::signed_by(&vectors::weather_pk(), &vectors::weather_msg(), &vectors::weather_sig()));
}

#[test]
fun other_key_or_altered_bytes_do_not_verify() {
    let pk = vectors::enclave_pk();
    assert!(!market::signed_by(&pk, &vectors::statement(), &vectors::statement_sig_other_key()));
    let mut altered = vectors::statement();
    let last = altered.length() - 1;
    let flipped = altered[last] ^ 1;
    *&mut altered[last] = flipped;
    assert!(!market::signed_by(&pk, &altered, &vectors::statement_sig()));
    assert!(!market::signed_by(&pk, &vectors::statement(), &vector[1, 2, 3]));
}

#[test]
fun job_messages_verify_and_decode() {
    let pk = vectors::enclave_pk();
    assert!(market::signed_by(&pk, &vectors::acceptance(), &vectors::acceptance_sig()));
    assert!(market::signed_by(&pk, &vectors::failure(), &vectors::failure_sig()));
    assert!(market::signed_by(&pk, &vectors::key_release(), &vectors::key_release_sig()));
    let a = market::check_job_message(vectors::acceptance(), wire::intent_accept(), JOB, POOL, &meas(), TS, TS);
    assert!(*a.msg_config_hash() == x"4444444444444444444444444444444444444444444444444444444444444444");
    let f = market::check_job_message(vectors::failure(), wire::intent_fail(), JOB, POOL, &meas(), TS, TS);
    assert!(f.msg_reason() == 3);
    let k = market::check_job_message(vectors::key_release(), wire::intent_key(), JOB, POOL, &meas(), TS, TS);
    assert!(k.msg_wrapped_key().length() == 80);
    assert!(*k.msg_result_hash() == *wire::decode_statement(vectors::statement()).payload().result_hash());
    // the test encoder writes what the generator wrote
    let again = wire::new_job_message(3, TS, JOB, POOL, meas(), vector[], 0, *k.msg_result_hash(), *k.msg_wrapped_key());
    assert!(wire::encode_job_message(&again) == vectors::key_release());
}

#[test]
fun job_message_structs_mirror_the_signed_layout() {
    let config = x"4444444444444444444444444444444444444444444444444444444444444444";
    let result = x"7777777777777777777777777777777777777777777777777777777777777777";
    let mut key = vector[];
    while (key.length() < 80) {
        key.push_back(0x5a);
    };
    assert!(std::bcs::to_bytes(&wire::acceptance_message(TS, JOB, POOL, meas(), config)) == vectors::acceptance());
    assert!(std::bcs::to_bytes(&wire::failure_message(TS, JOB, POOL, meas(), 3)) == vectors::failure());
    assert!(std::bcs::to_bytes(&wire::key_release_message(TS, JOB, POOL, meas(), result, key)) == vectors::key_release());
}

#[test]
fun x25519_endorsement_checked() {
    let pk = vectors::enclave_pk();
    assert!(market::x25519_endorsed(&pk, &vectors::x25519_pk(), &vectors::x25519_endorsement()));
    assert!(!market::x25519_endorsed(&pk, &vectors::x25519_pk(), &vectors::x25519_endorsement_other_key()));
    let mut other = vectors::x25519_pk();
    *&mut other[0] = 0x98;
    assert!(!market::x25519_endorsed(&pk, &other, &vectors::x25519_endorsement()));
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EOtherJob)]
fun statement_for_another_job_refused() {
    market::check_statement(vectors::statement(), POOL, POOL, &meas(), TS, TS);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EMeasurementMismatch)]
fun statement_of_other_code_refused() {
    market::check_statement(vectors::statement(), JOB, POOL, &x"34", TS, TS);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ETimestamp)]
fun statement_older_than_the_job_refused() {
    // signed more than 5 minutes before the job was created
    market::check_statement(vectors::statement(), JOB, POOL, &meas(), TS + 300001, TS + 300001);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ETimestamp)]
fun statement_from_the_future_refused() {
    market::check_statement(vectors::statement(), JOB, POOL, &meas(), TS - 400000, TS - 300001);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EWrongIntent)]
fun failure_is_not_an_acceptance() {
    market::check_job_message(vectors::failure(), wire::intent_accept(), JOB, POOL, &meas(), TS, TS);
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun trailing_byte_refused() {
    let mut b = vectors::statement();
    b.push_back(0);
    wire::decode_statement(b);
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun truncated_statement_refused() {
    let mut b = vectors::statement();
    b.pop_back();
    wire::decode_statement(b);
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun job_message_is_not_a_statement() {
    wire::decode_statement(vectors::acceptance());
}

/// The statement's bytes with a field rewritten: offset 9 is the version, 10..74 the ids,
/// 74 the measurement's length byte (48), 123 the config hash's (32), 255 the GPU evidence
/// hash's (0), 256 the ranks hash's (32).
fun patched(at: u64, with: vector<u8>, drop_n: u64): vector<u8> {
    let src = vectors::statement();
    let mut out = vector[];
    let mut i = 0;
    while (i < at) {
        out.push_back(src[i]);
        i = i + 1;
    };
    out.append(with);
    i = at + drop_n;
    while (i < src.length()) {
        out.push_back(src[i]);
        i = i + 1;
    };
    out
}

#[test]
fun patch_offsets_are_right() {
    // rewriting a field with its own bytes gives the vector back
    assert!(patched(9, vector[3], 1) == vectors::statement());
    assert!(patched(74, vector[48], 1) == vectors::statement());
    assert!(patched(123, vector[32], 1) == vectors::statement());
    assert!(patched(255, vector[0, 32], 2) == vectors::statement());
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun version_1_refused() {
    wire::decode_statement(patched(9, vector[1], 1));
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun version_2_refused() {
    // a version 2 statement has no ranks hash: the ledger takes version 3 only (§2 Submit 6)
    wire::decode_statement(patched(9, vector[2], 1));
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun ranks_hash_of_31_bytes_refused() {
    // length byte 31 and one byte of the hash dropped
    wire::decode_statement(patched(256, vector[31], 2));
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun ranks_hash_of_31_bytes_encoded_refused() {
    let mut h = x"565516358db058558d78491082820c73378ae3e3d18a3de53bf33f6ec8ec9c3e";
    h.pop_back();
    let msg = wire::with_ranks_hash(wire::new_statement_message(TS, JOB, POOL, meas(),
        x"4444444444444444444444444444444444444444444444444444444444444444",
        x"7777777777777777777777777777777777777777777777777777777777777777",
        vector[wire::new_rows(@0x1, 1)]), h);
    wire::decode_statement(std::bcs::to_bytes(&msg));
}

#[test]
fun one_rank_and_multi_rank_statements_decode() {
    let one = wire::new_statement_message(TS, JOB, POOL, meas(),
        x"4444444444444444444444444444444444444444444444444444444444444444",
        x"7777777777777777777777777777777777777777777777777777777777777777",
        vector[wire::new_rows(@0x1, 1)]);
    let back = wire::decode_statement(std::bcs::to_bytes(&one));
    assert!(back == one);
    assert!(back.payload().ranks_hash().length() == 0);
    let many = wire::with_ranks_hash(one,
        x"565516358db058558d78491082820c73378ae3e3d18a3de53bf33f6ec8ec9c3e");
    let back = wire::decode_statement(std::bcs::to_bytes(&many));
    assert!(back == many);
    assert!(back.payload().ranks_hash().length() == 32);
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun non_minimal_length_refused() {
    // 32 written as 0xa0 0x00: the same value, not minimal
    wire::decode_statement(patched(123, vector[0xa0, 0x00], 1));
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun config_hash_of_31_bytes_refused() {
    wire::decode_statement(patched(123, vector[31], 2));
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun unsorted_contributors_refused() {
    let msg = wire::new_statement_message(TS, JOB, POOL, meas(),
        x"4444444444444444444444444444444444444444444444444444444444444444",
        x"7777777777777777777777777777777777777777777777777777777777777777",
        vector[wire::new_rows(@0x2, 1), wire::new_rows(@0x1, 1)]);
    wire::decode_statement(std::bcs::to_bytes(&msg));
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun contributor_twice_refused() {
    let msg = wire::new_statement_message(TS, JOB, POOL, meas(),
        x"4444444444444444444444444444444444444444444444444444444444444444",
        x"7777777777777777777777777777777777777777777777777777777777777777",
        vector[wire::new_rows(@0x1, 1), wire::new_rows(@0x1, 2)]);
    wire::decode_statement(std::bcs::to_bytes(&msg));
}

#[test]
fun sorted_contributors_decode() {
    let msg = wire::new_statement_message(TS, JOB, POOL, meas(),
        x"4444444444444444444444444444444444444444444444444444444444444444",
        x"7777777777777777777777777777777777777777777777777777777777777777",
        vector[wire::new_rows(@0x1, 1), wire::new_rows(@0x2, 2)]);
    let back = wire::decode_statement(std::bcs::to_bytes(&msg));
    assert!(back == msg);
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun unprintable_metric_name_refused() {
    // "val auc": a space is not 0x21..0x7e
    let mut b = std::bcs::to_bytes(&wire::new_statement_message(TS, JOB, POOL, meas(),
        x"4444444444444444444444444444444444444444444444444444444444444444",
        x"7777777777777777777777777777777777777777777777777777777777777777", vector[]));
    let n = b.length();
    // metrics: 01 07 "val_auc" value(8), then eps(8) delta(8): '_' sits at n - 24 - 7 + 3
    assert!(b[n - 28] == 0x5f);
    *&mut b[n - 28] = 0x20;
    wire::decode_statement(b);
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun failure_reason_out_of_range_refused() {
    let m = wire::new_job_message(2, TS, JOB, POOL, meas(), vector[], 5, vector[], vector[]);
    wire::decode_job_message(wire::encode_job_message(&m));
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun empty_wrapped_key_refused() {
    let m = wire::new_job_message(3, TS, JOB, POOL, meas(), vector[], 0,
        x"7777777777777777777777777777777777777777777777777777777777777777", vector[]);
    wire::decode_job_message(wire::encode_job_message(&m));
}

#[test]
#[expected_failure(abort_code = cloakx_market::wire::EFormat)]
fun unknown_intent_refused() {
    let mut b = vectors::acceptance();
    *&mut b[0] = 4;
    wire::decode_job_message(b);
}
