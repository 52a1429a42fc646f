// wire.move — strict BCS decoding of what an enclave signs (chain/RULES.md §4 and §6): the
// result statement and the enclave's job messages, refused exactly where chain/bcs.c refuses.

/// The Move mirror of the signed payloads. `IntentMessage<T>` is Nautilus's wrapper; the
/// decoders read the signed bytes themselves (not sui::bcs) because RULES.md §4 requires
/// minimal ULEB128 lengths, which sui::bcs does not check.
module cloakx_market::wire;

use std::string::{Self, String};

/// The bytes do not decode under RULES.md §4 / §6.
const EFormat: u64 = 100;

const STATEMENT_INTENT: u8 = 0;
const STATEMENT_VERSION: u8 = 3;
const REJECT_REASON_MAX: u8 = 6;
const MSG_VERSION: u8 = 1;
const INTENT_ACCEPT: u8 = 1;
const INTENT_FAIL: u8 = 2;
const INTENT_KEY: u8 = 3;
const FAIL_REASON_MAX: u8 = 4;
const MEASUREMENT_MAX: u64 = 64;
const BLOB_ID_MAX: u64 = 64;
const HASH_LEN: u64 = 32;
const HASH_MAX: u64 = 64;
const RANKS_HASH_LEN: u64 = 32;
const MAX_CONTRIBUTORS: u64 = 100000;
const MAX_METRICS: u64 = 64;
const METRIC_NAME_MAX: u64 = 64;
const WRAPPED_KEY_MAX: u64 = 256;
const BCS_MAX_SEQ: u64 = 0x7fffffff;

public struct IntentMessage<T> has copy, drop {
    intent: u8,
    timestamp_ms: u64,
    payload: T,
}

public struct ContributorRows has copy, drop, store {
    contributor: address,
    accepted_rows: u64,
}

/// A contribution of the job the enclave did not accept, with its reason class (RULES.md §4).
public struct RejectedContribution has copy, drop, store {
    contributor: address,
    blob_id: vector<u8>,
    reason: u8,
}

public struct Metric has copy, drop, store {
    name: String,
    value_micro: u64,
}

/// RULES.md §4, field for field.
public struct ResultStatement has copy, drop {
    version: u8,
    job_id: address,
    pool_id: address,
    code_measurement: vector<u8>,
    config_hash: vector<u8>,
    dataset_commitment: vector<u8>,
    result_blob_id: vector<u8>,
    result_hash: vector<u8>,
    gpu_evidence_hash: vector<u8>,
    ranks_hash: vector<u8>,
    contributors: vector<ContributorRows>,
    rejected: vector<RejectedContribution>,
    metrics: vector<Metric>,
    dp_epsilon_micro: u64,
    dp_delta_1e12: u64,
}

/// RULES.md §6: the enclave's JobAcceptance (intent 1), JobFailure (2) and KeyRelease (3).
/// Fields that the intent does not carry stay empty / zero.
public struct JobMessage has copy, drop {
    intent: u8,
    timestamp_ms: u64,
    version: u8,
    job_id: address,
    pool_id: address,
    code_measurement: vector<u8>,
    config_hash: vector<u8>,
    reason: u8,
    result_hash: vector<u8>,
    wrapped_key: vector<u8>,
}

/// The Move mirror of RULES.md §6's three payloads, field for field (what the enclave's
/// BCS encodes; wire_tests checks std::bcs of each against the signed vectors).
public struct JobAcceptance has copy, drop {
    version: u8,
    job_id: address,
    pool_id: address,
    code_measurement: vector<u8>,
    config_hash: vector<u8>,
}

public struct JobFailure has copy, drop {
    version: u8,
    job_id: address,
    pool_id: address,
    code_measurement: vector<u8>,
    reason: u8,
}

public struct KeyRelease has copy, drop {
    version: u8,
    job_id: address,
    pool_id: address,
    code_measurement: vector<u8>,
    result_hash: vector<u8>,
    wrapped_key: vector<u8>,
}

public struct Reader has drop {
    bytes: vector<u8>,
    pos: u64,
}

fun reader(bytes: vector<u8>): Reader {
    Reader { bytes, pos: 0 }
}

fun get_u8(r: &mut Reader): u8 {
    assert!(r.pos < r.bytes.length(), EFormat);
    let b = r.bytes[r.pos];
    r.pos = r.pos + 1;
    b
}

fun get_u64(r: &mut Reader): u64 {
    let mut v = 0u64;
    let mut i = 0u8;
    while (i < 8) {
        v = v | ((get_u8(r) as u64) << (8 * i));
        i = i + 1;
    };
    v
}

/// ULEB128, minimal, at most 2^31 - 1 (the BCS sequence limit).
fun get_uleb(r: &mut Reader): u64 {
    let mut v = 0u64;
    let mut shift = 0u8;
    loop {
        assert!(shift <= 28, EFormat);
        let b = get_u8(r);
        v = v | (((b & 0x7f) as u64) << shift);
        if (b & 0x80 == 0) {
            // a zero last byte after the first adds nothing: not minimal
            assert!(b != 0 || shift == 0, EFormat);
            break
        };
        shift = shift + 7;
    };
    assert!(v <= BCS_MAX_SEQ, EFormat);
    v
}

fun get_fixed(r: &mut Reader, n: u64): vector<u8> {
    assert!(n <= r.bytes.length() - r.pos, EFormat);
    let mut out = vector[];
    let mut i = 0;
    while (i < n) {
        out.push_back(r.bytes[r.pos + i]);
        i = i + 1;
    };
    r.pos = r.pos + n;
    out
}

/// vector<u8> of min..max bytes.
fun get_bytes(r: &mut Reader, min: u64, max: u64): vector<u8> {
    let n = get_uleb(r);
    assert!(n >= min && n <= max, EFormat);
    get_fixed(r, n)
}

fun get_address(r: &mut Reader): address {
    sui::address::from_bytes(get_fixed(r, 32))
}

fun expect_end(r: &Reader) {
    assert!(r.pos == r.bytes.length(), EFormat);
}

/// a < b, bytewise (addresses are ordered as their 32 bytes)
public(package) fun bytes_lt(a: &vector<u8>, b: &vector<u8>): bool {
    let n = a.length();
    let mut i = 0;
    while (i < n) {
        let (x, y) = (a[i], b[i]);
        if (x != y) return x < y;
        i = i + 1;
    };
    false
}

/// a < b for blob ids: bytewise, a proper prefix first
public(package) fun blob_lt(a: &vector<u8>, b: &vector<u8>): bool {
    let (na, nb) = (a.length(), b.length());
    let n = if (na < nb) na else nb;
    let mut i = 0;
    while (i < n) {
        let (x, y) = (a[i], b[i]);
        if (x != y) return x < y;
        i = i + 1;
    };
    na < nb
}

fun printable(name: &vector<u8>): bool {
    let mut i = 0;
    while (i < name.length()) {
        let c = name[i];
        if (c < 0x21 || c > 0x7e) return false;
        i = i + 1;
    };
    true
}

/// Decode the signing bytes of a result (IntentMessage<ResultStatement>) under every rule
/// of RULES.md §4; aborts with EFormat on the first one broken.
public fun decode_statement(bytes: vector<u8>): IntentMessage<ResultStatement> {
    let mut r = reader(bytes);
    let intent = get_u8(&mut r);
    assert!(intent == STATEMENT_INTENT, EFormat);
    let timestamp_ms = get_u64(&mut r);
    let version = get_u8(&mut r);
    assert!(version == STATEMENT_VERSION, EFormat);
    let job_id = get_address(&mut r);
    let pool_id = get_address(&mut r);
    let code_measurement = get_bytes(&mut r, 1, MEASUREMENT_MAX);
    let config_hash = get_bytes(&mut r, HASH_LEN, HASH_LEN);
    let dataset_commitment = get_bytes(&mut r, HASH_LEN, HASH_LEN);
    let result_blob_id = get_bytes(&mut r, 1, BLOB_ID_MAX);
    let result_hash = get_bytes(&mut r, HASH_LEN, HASH_LEN);
    let gpu_evidence_hash = get_bytes(&mut r, 0, HASH_MAX);
    // version 3: empty (a one-rank job) or the 32-byte commitment to every rank's attestation
    let ranks_hash = get_bytes(&mut r, 0, RANKS_HASH_LEN);
    assert!(ranks_hash.length() == 0 || ranks_hash.length() == RANKS_HASH_LEN, EFormat);
    let n = get_uleb(&mut r);
    assert!(n <= MAX_CONTRIBUTORS, EFormat);
    let mut contributors = vector[];
    let mut prev = vector[];
    let mut i = 0;
    while (i < n) {
        let raw = get_fixed(&mut r, 32);
        // strictly ascending: sorted, no contributor twice
        assert!(i == 0 || bytes_lt(&prev, &raw), EFormat);
        prev = raw;
        let accepted_rows = get_u64(&mut r);
        contributors.push_back(ContributorRows {
            contributor: sui::address::from_bytes(raw),
            accepted_rows,
        });
        i = i + 1;
    };
    // rejected contributions: strictly ascending by (contributor, blob id), a prefix first
    let k = get_uleb(&mut r);
    assert!(n + k <= MAX_CONTRIBUTORS, EFormat);
    let mut rejected = vector[];
    let mut prev_who = vector[];
    let mut prev_blob = vector[];
    let mut x = 0;
    while (x < k) {
        let who = get_fixed(&mut r, 32);
        let blob_id = get_bytes(&mut r, 1, BLOB_ID_MAX);
        let reason = get_u8(&mut r);
        assert!(reason >= 1 && reason <= REJECT_REASON_MAX, EFormat);
        assert!(x == 0 || bytes_lt(&prev_who, &who) ||
            (prev_who == who && blob_lt(&prev_blob, &blob_id)), EFormat);
        prev_who = who;
        prev_blob = blob_id;
        rejected.push_back(RejectedContribution {
            contributor: sui::address::from_bytes(who),
            blob_id,
            reason,
        });
        x = x + 1;
    };
    let m = get_uleb(&mut r);
    assert!(m <= MAX_METRICS, EFormat);
    let mut metrics = vector[];
    let mut j = 0;
    while (j < m) {
        let name = get_bytes(&mut r, 1, METRIC_NAME_MAX);
        assert!(printable(&name), EFormat);
        let value_micro = get_u64(&mut r);
        metrics.push_back(Metric { name: string::utf8(name), value_micro });
        j = j + 1;
    };
    let dp_epsilon_micro = get_u64(&mut r);
    let dp_delta_1e12 = get_u64(&mut r);
    expect_end(&r);
    IntentMessage {
        intent,
        timestamp_ms,
        payload: ResultStatement {
            version,
            job_id,
            pool_id,
            code_measurement,
            config_hash,
            dataset_commitment,
            result_blob_id,
            result_hash,
            gpu_evidence_hash,
            ranks_hash,
            contributors,
            rejected,
            metrics,
            dp_epsilon_micro,
            dp_delta_1e12,
        },
    }
}

/// Decode an enclave job message (RULES.md §6): known intent, version, exact lengths, a
/// failure reason in 1..4, no trailing bytes.
public fun decode_job_message(bytes: vector<u8>): JobMessage {
    let mut r = reader(bytes);
    let intent = get_u8(&mut r);
    assert!(intent >= INTENT_ACCEPT && intent <= INTENT_KEY, EFormat);
    let timestamp_ms = get_u64(&mut r);
    let version = get_u8(&mut r);
    assert!(version == MSG_VERSION, EFormat);
    let job_id = get_address(&mut r);
    let pool_id = get_address(&mut r);
    let code_measurement = get_bytes(&mut r, 1, MEASUREMENT_MAX);
    let mut config_hash = vector[];
    let mut reason = 0u8;
    let mut result_hash = vector[];
    let mut wrapped_key = vector[];
    if (intent == INTENT_ACCEPT) {
        config_hash = get_bytes(&mut r, HASH_LEN, HASH_LEN);
    } else if (intent == INTENT_FAIL) {
        reason = get_u8(&mut r);
        assert!(reason >= 1 && reason <= FAIL_REASON_MAX, EFormat);
    } else {
        result_hash = get_bytes(&mut r, HASH_LEN, HASH_LEN);
        wrapped_key = get_bytes(&mut r, 1, WRAPPED_KEY_MAX);
    };
    expect_end(&r);
    JobMessage {
        intent,
        timestamp_ms,
        version,
        job_id,
        pool_id,
        code_measurement,
        config_hash,
        reason,
        result_hash,
        wrapped_key,
    }
}

// === accessors ===

public fun intent<T>(m: &IntentMessage<T>): u8 { m.intent }

public fun timestamp_ms<T>(m: &IntentMessage<T>): u64 { m.timestamp_ms }

public fun payload<T>(m: &IntentMessage<T>): &T { &m.payload }

public fun version(s: &ResultStatement): u8 { s.version }

public fun job_id(s: &ResultStatement): address { s.job_id }

public fun pool_id(s: &ResultStatement): address { s.pool_id }

public fun code_measurement(s: &ResultStatement): &vector<u8> { &s.code_measurement }

public fun config_hash(s: &ResultStatement): &vector<u8> { &s.config_hash }

public fun dataset_commitment(s: &ResultStatement): &vector<u8> { &s.dataset_commitment }

public fun result_blob_id(s: &ResultStatement): &vector<u8> { &s.result_blob_id }

public fun result_hash(s: &ResultStatement): &vector<u8> { &s.result_hash }

public fun gpu_evidence_hash(s: &ResultStatement): &vector<u8> { &s.gpu_evidence_hash }

public fun ranks_hash(s: &ResultStatement): &vector<u8> { &s.ranks_hash }

public fun contributors(s: &ResultStatement): &vector<ContributorRows> { &s.contributors }

public fun rejected(s: &ResultStatement): &vector<RejectedContribution> { &s.rejected }

public fun metrics(s: &ResultStatement): &vector<Metric> { &s.metrics }

public fun dp_epsilon_micro(s: &ResultStatement): u64 { s.dp_epsilon_micro }

public fun dp_delta_1e12(s: &ResultStatement): u64 { s.dp_delta_1e12 }

public fun contributor(c: &ContributorRows): address { c.contributor }

public fun accepted_rows(c: &ContributorRows): u64 { c.accepted_rows }

public fun rejected_contributor(x: &RejectedContribution): address { x.contributor }

public fun rejected_blob_id(x: &RejectedContribution): &vector<u8> { &x.blob_id }

public fun rejected_reason(x: &RejectedContribution): u8 { x.reason }

public fun metric_name(m: &Metric): &String { &m.name }

public fun metric_value_micro(m: &Metric): u64 { m.value_micro }

public fun msg_intent(m: &JobMessage): u8 { m.intent }

public fun msg_timestamp_ms(m: &JobMessage): u64 { m.timestamp_ms }

public fun msg_job_id(m: &JobMessage): address { m.job_id }

public fun msg_pool_id(m: &JobMessage): address { m.pool_id }

public fun msg_code_measurement(m: &JobMessage): &vector<u8> { &m.code_measurement }

public fun msg_config_hash(m: &JobMessage): &vector<u8> { &m.config_hash }

public fun msg_reason(m: &JobMessage): u8 { m.reason }

public fun msg_result_hash(m: &JobMessage): &vector<u8> { &m.result_hash }

public fun msg_wrapped_key(m: &JobMessage): &vector<u8> { &m.wrapped_key }

public fun intent_accept(): u8 { INTENT_ACCEPT }

public fun intent_fail(): u8 { INTENT_FAIL }

public fun intent_key(): u8 { INTENT_KEY }

// === test-only constructors: tests build statements and encode them with std::bcs ===

#[test_only]
public fun new_rows(contributor: address, accepted_rows: u64): ContributorRows {
    ContributorRows { contributor, accepted_rows }
}

#[test_only]
public fun new_metric(name: vector<u8>, value_micro: u64): Metric {
    Metric { name: string::utf8(name), value_micro }
}

#[test_only]
public fun new_statement_message(
    timestamp_ms: u64,
    job_id: address,
    pool_id: address,
    code_measurement: vector<u8>,
    config_hash: vector<u8>,
    result_hash: vector<u8>,
    contributors: vector<ContributorRows>,
): IntentMessage<ResultStatement> {
    IntentMessage {
        intent: STATEMENT_INTENT,
        timestamp_ms,
        payload: ResultStatement {
            version: STATEMENT_VERSION,
            job_id,
            pool_id,
            code_measurement,
            config_hash,
            dataset_commitment: x"6666666666666666666666666666666666666666666666666666666666666666",
            result_blob_id: b"model-blob",
            result_hash,
            gpu_evidence_hash: vector[],
            ranks_hash: vector[],
            contributors,
            rejected: vector[],
            metrics: vector[Metric { name: string::utf8(b"val_auc"), value_micro: 871234 }],
            dp_epsilon_micro: 3000000,
            dp_delta_1e12: 10000000,
        },
    }
}

/// A rejected contribution of a test statement (reason: a class of RULES.md §4).
#[test_only]
public fun new_rejected(contributor: address, blob_id: vector<u8>, reason: u8): RejectedContribution {
    RejectedContribution { contributor, blob_id, reason }
}

/// The statement of m with these rejected contributions (ascending, as a decoder wants).
#[test_only]
public fun with_rejected(
    mut m: IntentMessage<ResultStatement>,
    rejected: vector<RejectedContribution>,
): IntentMessage<ResultStatement> {
    m.payload.rejected = rejected;
    m
}

/// The statement of m with this ranks hash (a multi-rank job's commitment, RULES.md §4).
#[test_only]
public fun with_ranks_hash(
    mut m: IntentMessage<ResultStatement>,
    ranks_hash: vector<u8>,
): IntentMessage<ResultStatement> {
    m.payload.ranks_hash = ranks_hash;
    m
}

/// The signing bytes of a job message with the given intent (RULES.md §6 layout).
#[test_only]
public fun encode_job_message(m: &JobMessage): vector<u8> {
    let mut out = vector[m.intent];
    out.append(std::bcs::to_bytes(&m.timestamp_ms));
    out.push_back(m.version);
    out.append(std::bcs::to_bytes(&m.job_id));
    out.append(std::bcs::to_bytes(&m.pool_id));
    out.append(std::bcs::to_bytes(&m.code_measurement));
    if (m.intent == INTENT_ACCEPT) {
        out.append(std::bcs::to_bytes(&m.config_hash));
    } else if (m.intent == INTENT_FAIL) {
        out.push_back(m.reason);
    } else {
        out.append(std::bcs::to_bytes(&m.result_hash));
        out.append(std::bcs::to_bytes(&m.wrapped_key));
    };
    out
}

#[test_only]
public fun new_job_message(
    intent: u8,
    timestamp_ms: u64,
    job_id: address,
    pool_id: address,
    code_measurement: vector<u8>,
    config_hash: vector<u8>,
    reason: u8,
    result_hash: vector<u8>,
    wrapped_key: vector<u8>,
): JobMessage {
    JobMessage {
        intent,
        timestamp_ms,
        version: MSG_VERSION,
        job_id,
        pool_id,
        code_measurement,
        config_hash,
        reason,
        result_hash,
        wrapped_key,
    }
}

#[test_only]
public fun acceptance_message(timestamp_ms: u64, job_id: address, pool_id: address,
    code_measurement: vector<u8>, config_hash: vector<u8>): IntentMessage<JobAcceptance> {
    IntentMessage { intent: INTENT_ACCEPT, timestamp_ms, payload: JobAcceptance {
        version: MSG_VERSION, job_id, pool_id, code_measurement, config_hash } }
}

#[test_only]
public fun failure_message(timestamp_ms: u64, job_id: address, pool_id: address,
    code_measurement: vector<u8>, reason: u8): IntentMessage<JobFailure> {
    IntentMessage { intent: INTENT_FAIL, timestamp_ms, payload: JobFailure {
        version: MSG_VERSION, job_id, pool_id, code_measurement, reason } }
}

#[test_only]
public fun key_release_message(timestamp_ms: u64, job_id: address, pool_id: address,
    code_measurement: vector<u8>, result_hash: vector<u8>, wrapped_key: vector<u8>): IntentMessage<KeyRelease> {
    IntentMessage { intent: INTENT_KEY, timestamp_ms, payload: KeyRelease {
        version: MSG_VERSION, job_id, pool_id, code_measurement, result_hash, wrapped_key } }
}
