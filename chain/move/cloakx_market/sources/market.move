// market.move — the CloakX marketplace on Sui: pools, the enclave registry (Nitro attestation
// verified on chain), contributions, jobs with escrow, enclave acceptance/failure, results with
// exact payouts and the model key released only by the paying transaction (chain/RULES.md).

/// Every public function here is one ledger call of chain/cx_chain.h, with the checks of
/// RULES.md in the order RULES.md gives them; an abort rolls the whole transaction back, as a
/// refused call does on the local ledger. Events carry the same fields for every kind
/// (object, pool, address, amount, time) so a follower decodes them one way.
module cloakx_market::market;

use cloakx_market::payout;
use cloakx_market::wire::{Self, IntentMessage, ResultStatement, JobMessage, ContributorRows, RejectedContribution};
use std::string::{Self, String};
use sui::balance::Balance;
use sui::clock::Clock;
use sui::coin::{Self, Coin};
use sui::ed25519;
use sui::event;
use sui::nitro_attestation::NitroAttestationDocument;
use sui::table::{Self, Table};
use sui::vec_set::{Self, VecSet};

// === abort codes (C maps each to a cx_err class: ARG 1..19, STATE 20..29, VERIFY 30..49,
// AUTH 50; wire::EFormat = 100 is FORMAT, payout::EFees = 200 is ARG) ===

const EThemeLength: u64 = 1;
const EMinContributors: u64 = 2;
const EMaxRows: u64 = 3;
const EFees: u64 = 4;
const EMeasurementCount: u64 = 5;
const EMeasurementLength: u64 = 6;
const EBlobIdLength: u64 = 7;
const ESpecHashLength: u64 = 8;
const ESpecBlobIdLength: u64 = 9;
const EPaymentZero: u64 = 10;
const EPaymentBelowPrice: u64 = 11;
const EDeadlineNotFuture: u64 = 12;
const EKeyLength: u64 = 13;
const EDocBlobIdLength: u64 = 14;
const ENoPublicKey: u64 = 15;
const ENoPcr0: u64 = 16;
const EHashLength: u64 = 17;
const EForbiddenCount: u64 = 18;
const EForbiddenName: u64 = 19;
const EEnclaveKeyTaken: u64 = 20;
const EBlobAlreadyRegistered: u64 = 21;
const EEnclaveAlreadyInPool: u64 = 22;
const EJobNotOpen: u64 = 23;
const EJobNotAccepted: u64 = 24;
const EDeadlinePassed: u64 = 25;
const EGracePassed: u64 = 26;
const ENotExpired: u64 = 27;
const ENoEnclaveAccepted: u64 = 28;
const ENotOperator: u64 = 30;
const EMeasurementNotAccepted: u64 = 31;
const EEnclaveNotInPool: u64 = 32;
const EWrongPool: u64 = 33;
const EOtherJob: u64 = 35;
const EMeasurementMismatch: u64 = 36;
const ETimestamp: u64 = 37;
const ESpecMismatch: u64 = 38;
const EUnknownContributor: u64 = 39;
const EOtherEnclave: u64 = 40;
const EWrongIntent: u64 = 41;
const EKeyReleaseOtherModel: u64 = 42;
const EBadX25519Endorsement: u64 = 43;
/// RULES.md §2 Submit 12: a contribution of the job is neither accepted nor rejected
const EContributionUnaccounted: u64 = 44;
/// RULES.md §2 Submit 13: a rejected entry is no contribution of the job
const ERejectedNotOfJob: u64 = 45;
/// a pool's sealing names bits other than HPKE (1) and Seal (2)
const ESealing: u64 = 46;
const EBadSignature: u64 = 50;

// === rules' constants ===

const THEME_MAX: u64 = 200;
const MAX_MEASUREMENTS: u64 = 16;
const MEASUREMENT_MAX: u64 = 64;
const BLOB_ID_MAX: u64 = 64;
const BPS_DENOM: u64 = 10000;
/// a pool's policy: forbidden column names (RULES.md §1 Pool policy)
const FORBIDDEN_MAX: u64 = 32;
const COLUMN_NAME_MAX: u64 = 128;
/// clock skew allowed around a job's lifetime (RULES.md §2, rule 9)
const SKEW_MS: u64 = 300000;
/// after the deadline an accepted job still takes its enclave's result or failure this long
const RESULT_GRACE_MS: u64 = 3600000;
/// what the enclave signs to bind its X25519 receiving key to its attested Ed25519 key
/// (attestation/tee.c, cx_tee_x25519_endorse): the domain, its NUL, then the key
const X25519_ENDORSE_DOMAIN: vector<u8> = b"cloakx/enclave-x25519/v1";

const STATE_OPEN: u8 = 0;
const STATE_PAID: u8 = 1;
const STATE_REFUNDED: u8 = 2;
const STATE_ACCEPTED: u8 = 3;

// === objects ===

/// Held by the publisher: sets the protocol fee address.
public struct AdminCap has key, store {
    id: UID,
}

/// The one shared registry: the protocol fee address, and every enclave key (a key is
/// registered once).
public struct Market has key {
    id: UID,
    protocol_addr: address,
    enclave_keys: Table<vector<u8>, ID>,
}

/// RULES.md §1 Pool. T is the coin jobs pay in (SUI on the public networks).
public struct Pool<phantom T> has key {
    id: UID,
    theme: String,
    price: u64,
    min_contributors: u64,
    max_rows_per_contributor: u64,
    operator_fee_bps: u64,
    protocol_fee_bps: u64,
    measurements: vector<vector<u8>>,
    operator: address,
    creator: address,
    created_ms: u64,
    /// the enclaves the operator added (§2.1): sealing targets, the only ones that accept jobs
    enclaves: VecSet<ID>,
    /// their Sui addresses (of their Ed25519 keys): who seal_approve_dataset releases to (§2.3)
    enclave_addrs: VecSet<address>,
    /// (contributor, blob id) -> contribution: a contributor registers a blob once
    claims: Table<Claim, ID>,
    /// contributor -> number of contributions (RULES.md §2 Submit 11: listed ones have one)
    contributors: Table<address, u64>,
    /// the contributions in registration order (index -> registration) and each claim's index:
    /// a job's contributions are those registered no later than its creation: the first
    /// `Job.n_contributions`, then any registered in the job's own millisecond after it (the
    /// Clock never goes backwards, so they form a prefix) (RULES.md §2 Submit 12-13)
    entries: Table<u64, Registration>,
    claim_index: Table<Claim, u64>,
    n_entries: u64,
    /// what a job's spec may ask of the data (RULES.md §1 Pool policy, §8, §9.8)
    policy: PoolPolicy,
}

/// RULES.md §1 Pool policy. The chain cannot read a spec (it holds only its hash): the buyer's
/// client refuses a spec that breaks the policy before paying, and the enclave, which reads
/// the policy from here, fails such a job with reason `spec` (§9.8). 0 = no limit.
public struct PoolPolicy has copy, drop, store {
    require_dp: bool,
    /// cap on the job's total ε (every DP mechanism the job runs), in millionths
    max_epsilon_micro: u64,
    /// names that may never be a feature or the label (ASCII case-insensitive)
    forbidden_columns: vector<vector<u8>>,
    /// the compute budget per job (§8): the worker runs under min(this, its operator's)
    max_params: u64,
    max_epochs: u64,
    max_flops: u64,
    /// how a blob's data key may be sealed (RULES.md §2.3): SEALING_HPKE | SEALING_SEAL bits,
    /// 0 = either
    sealing: u8,
}

/// PoolPolicy.sealing: the data key HPKE-sealed to one of the pool's enclaves (.cxb suite 1)
const SEALING_HPKE: u8 = 1;
/// PoolPolicy.sealing: the data key Seal-encrypted for the pool (suite 2, seal_approve_dataset)
const SEALING_SEAL: u8 = 2;

public struct Claim has copy, drop, store {
    contributor: address,
    blob_id: vector<u8>,
}

/// A contribution in the pool's registration order, with when it was registered.
public struct Registration has copy, drop, store {
    claim: Claim,
    created_ms: u64,
}

/// RULES.md §1 Enclave; immutable once registered.
public struct Enclave has key {
    id: UID,
    ed25519_pk: vector<u8>,
    x25519_pk: vector<u8>,
    measurement: vector<u8>,
    attestation_sha256: vector<u8>,
    attestation_blob_id: vector<u8>,
    registrant: address,
    registered_ms: u64,
}

/// RULES.md §1 Contribution; immutable.
public struct Contribution has key {
    id: UID,
    pool_id: ID,
    blob_id: vector<u8>,
    contributor: address,
    created_ms: u64,
}

/// An enclave-signed message as it was signed.
public struct Signed has copy, drop, store {
    message: vector<u8>,
    signature: vector<u8>,
}

/// RULES.md §1 Result (one per job, kept in the job).
public struct JobResult has copy, drop, store {
    enclave_id: ID,
    statement: vector<u8>,
    signature: vector<u8>,
    accepted_contributors: u64,
    refunded: bool,
    submitted_ms: u64,
    /// the model key wrapped to the buyer: set only by the paying transaction
    model_key: vector<u8>,
}

/// RULES.md §1 Job; the escrow is the payment itself, held until paid out or refunded.
public struct Job<phantom T> has key {
    id: UID,
    pool_id: ID,
    buyer: address,
    spec_hash: vector<u8>,
    spec_blob_id: vector<u8>,
    payment: u64,
    escrow: Balance<T>,
    deadline_ms: u64,
    created_ms: u64,
    /// the pool's contributions when the job was created: the job's (RULES.md §2 Submit 12)
    n_contributions: u64,
    state: u8,
    enclave_id: Option<ID>,
    accepted_ms: u64,
    fail_reason: u8,
    acceptance: Option<Signed>,
    failure: Option<Signed>,
    key_release: Option<Signed>,
    result: Option<JobResult>,
}

// === events (RULES.md §1.2) ===

public struct PoolCreated has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }
public struct EnclaveRegistered has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }
public struct PoolEnclaveAdded has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }
public struct ContributionRegistered has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }
public struct JobCreated has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }
public struct JobAccepted has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }
public struct JobFailed has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }
public struct ResultSubmitted has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }
public struct PaymentReleased has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }
public struct JobRefunded has copy, drop { object_id: ID, pool_id: ID, addr: address, amount: u64, timestamp_ms: u64 }

fun init(ctx: &mut TxContext) {
    init_market(ctx)
}

fun init_market(ctx: &mut TxContext) {
    transfer::share_object(Market {
        id: object::new(ctx),
        protocol_addr: ctx.sender(),
        enclave_keys: table::new(ctx),
    });
    transfer::public_transfer(AdminCap { id: object::new(ctx) }, ctx.sender());
}

public fun set_protocol_address(_: &AdminCap, market: &mut Market, addr: address) {
    market.protocol_addr = addr;
}

// === pools ===

public fun create_pool<T>(
    theme: vector<u8>,
    price: u64,
    min_contributors: u64,
    max_rows_per_contributor: u64,
    operator_fee_bps: u64,
    protocol_fee_bps: u64,
    measurements: vector<vector<u8>>,
    operator: address,
    require_dp: bool,
    max_epsilon_micro: u64,
    forbidden_columns: vector<vector<u8>>,
    max_params: u64,
    max_epochs: u64,
    max_flops: u64,
    sealing: u8,
    clock: &Clock,
    ctx: &mut TxContext,
): ID {
    let theme_len = theme.length();
    assert!(theme_len >= 1 && theme_len <= THEME_MAX, EThemeLength);
    assert!(min_contributors >= 1, EMinContributors);
    assert!(max_rows_per_contributor >= 1, EMaxRows);
    assert!(operator_fee_bps <= BPS_DENOM && protocol_fee_bps <= BPS_DENOM - operator_fee_bps, EFees);
    let n = measurements.length();
    assert!(n >= 1 && n <= MAX_MEASUREMENTS, EMeasurementCount);
    let mut i = 0;
    while (i < n) {
        let m = measurements.borrow(i).length();
        assert!(m >= 1 && m <= MEASUREMENT_MAX, EMeasurementLength);
        i = i + 1;
    };
    check_forbidden(&forbidden_columns);
    assert!(sealing & (SEALING_HPKE | SEALING_SEAL) == sealing, ESealing);
    let now = clock.timestamp_ms();
    let pool = Pool<T> {
        id: object::new(ctx),
        theme: string::utf8(theme),
        price,
        min_contributors,
        max_rows_per_contributor,
        operator_fee_bps,
        protocol_fee_bps,
        measurements,
        operator,
        creator: ctx.sender(),
        created_ms: now,
        enclaves: vec_set::empty(),
        enclave_addrs: vec_set::empty(),
        claims: table::new(ctx),
        contributors: table::new(ctx),
        entries: table::new(ctx),
        claim_index: table::new(ctx),
        n_entries: 0,
        policy: PoolPolicy {
            require_dp,
            max_epsilon_micro,
            forbidden_columns,
            max_params,
            max_epochs,
            max_flops,
            sealing,
        },
    };
    let id = object::id(&pool);
    event::emit(PoolCreated { object_id: id, pool_id: id, addr: ctx.sender(), amount: 0, timestamp_ms: now });
    transfer::share_object(pool);
    id
}

/// RULES.md §1 Pool policy: at most FORBIDDEN_MAX names of 1..COLUMN_NAME_MAX bytes without
/// control characters, none listed twice (ASCII case-insensitive), as ledger.c checks them.
fun check_forbidden(names: &vector<vector<u8>>) {
    let n = names.length();
    assert!(n <= FORBIDDEN_MAX, EForbiddenCount);
    let mut i = 0;
    while (i < n) {
        let name = names.borrow(i);
        let len = name.length();
        assert!(len >= 1 && len <= COLUMN_NAME_MAX, EForbiddenName);
        let mut k = 0;
        while (k < len) {
            let c = *name.borrow(k);
            assert!(c >= 0x20 && c != 0x7f, EForbiddenName);
            k = k + 1;
        };
        let mut j = 0;
        while (j < i) {
            assert!(!ascii_equal_ci(names.borrow(j), name), EForbiddenName);
            j = j + 1;
        };
        i = i + 1;
    };
}

fun ascii_lower(c: u8): u8 {
    if (c >= 0x41 && c <= 0x5a) { c + 0x20 } else { c }
}

fun ascii_equal_ci(a: &vector<u8>, b: &vector<u8>): bool {
    let n = a.length();
    if (n != b.length()) return false;
    let mut i = 0;
    while (i < n) {
        if (ascii_lower(*a.borrow(i)) != ascii_lower(*b.borrow(i))) return false;
        i = i + 1;
    };
    true
}

/// Whether the pool's policy forbids this column as a feature or the label (what the enclave
/// and the buyer's client check against the spec).
public fun pool_forbids<T>(pool: &Pool<T>, column: &vector<u8>): bool {
    let names = &pool.policy.forbidden_columns;
    let mut i = 0;
    while (i < names.length()) {
        if (ascii_equal_ci(names.borrow(i), column)) return true;
        i = i + 1;
    };
    false
}

public fun pool_policy<T>(pool: &Pool<T>): PoolPolicy {
    pool.policy
}

/// Whether the pool takes blobs whose data key is sealed the given way (SEALING_HPKE or
/// SEALING_SEAL): what sellers' clients, the enclave and seal_approve_dataset check.
public fun pool_accepts_sealing<T>(pool: &Pool<T>, sealing: u8): bool {
    let s = pool.policy.sealing;
    s == 0 || s & sealing == sealing
}

public fun pool_accepts<T>(pool: &Pool<T>, measurement: &vector<u8>): bool {
    pool.measurements.contains(measurement)
}

// === enclaves (RULES.md §2.1) ===

/// Register the enclave of a Nitro attestation document that `0x2::nitro_attestation::
/// load_nitro_attestation` verified in the same transaction (Nautilus's register_enclave):
/// its Ed25519 key is the document's public_key, its measurement PCR0; its X25519 key must
/// be endorsed by that Ed25519 key. The document's SHA-256 and store blob id are recorded so
/// anyone can fetch the document and check it.
public fun register_enclave(
    market: &mut Market,
    document: NitroAttestationDocument,
    x25519_pk: vector<u8>,
    x25519_endorsement: vector<u8>,
    attestation_sha256: vector<u8>,
    attestation_blob_id: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
): ID {
    let pk_opt = *document.public_key();
    assert!(pk_opt.is_some(), ENoPublicKey);
    let ed25519_pk = pk_opt.destroy_some();
    let pcrs = document.pcrs();
    let mut measurement = vector[];
    let mut i = 0;
    while (i < pcrs.length()) {
        let entry = pcrs.borrow(i);
        if (entry.index() == 0) {
            measurement = *entry.value();
        };
        i = i + 1;
    };
    assert!(measurement.length() > 0, ENoPcr0);
    assert!(ed25519_pk.length() == 32, EKeyLength);
    assert!(x25519_endorsed(&ed25519_pk, &x25519_pk, &x25519_endorsement), EBadX25519Endorsement);
    register_checked(market, ed25519_pk, x25519_pk, measurement, attestation_sha256, attestation_blob_id, clock, ctx)
}

/// Whether `endorsement` is the attested key's signature over the X25519 key.
public fun x25519_endorsed(ed25519_pk: &vector<u8>, x25519_pk: &vector<u8>, endorsement: &vector<u8>): bool {
    let mut msg = X25519_ENDORSE_DOMAIN;
    msg.push_back(0);
    msg.append(*x25519_pk);
    x25519_pk.length() == 32 && ed25519::ed25519_verify(endorsement, ed25519_pk, &msg)
}

fun register_checked(
    market: &mut Market,
    ed25519_pk: vector<u8>,
    x25519_pk: vector<u8>,
    measurement: vector<u8>,
    attestation_sha256: vector<u8>,
    attestation_blob_id: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
): ID {
    assert!(ed25519_pk.length() == 32 && x25519_pk.length() == 32, EKeyLength);
    let m = measurement.length();
    assert!(m >= 1 && m <= MEASUREMENT_MAX, EMeasurementLength);
    assert!(attestation_sha256.length() == 32, EHashLength);
    let b = attestation_blob_id.length();
    assert!(b >= 1 && b <= BLOB_ID_MAX, EDocBlobIdLength);
    assert!(!market.enclave_keys.contains(ed25519_pk), EEnclaveKeyTaken);
    let now = clock.timestamp_ms();
    let enclave = Enclave {
        id: object::new(ctx),
        ed25519_pk,
        x25519_pk,
        measurement,
        attestation_sha256,
        attestation_blob_id,
        registrant: ctx.sender(),
        registered_ms: now,
    };
    let id = object::id(&enclave);
    market.enclave_keys.add(enclave.ed25519_pk, id);
    event::emit(EnclaveRegistered { object_id: id, pool_id: object::id_from_address(@0x0), addr: ctx.sender(), amount: 0, timestamp_ms: now });
    transfer::freeze_object(enclave);
    id
}

/// The Sui address of an Ed25519 key: blake2b256(0x00 || pk) (spec §3.5).
fun ed25519_address(pk: &vector<u8>): address {
    let mut b = vector[0u8];
    b.append(*pk);
    sui::address::from_bytes(sui::hash::blake2b256(&b))
}

#[test_only]
public fun ed25519_address_for_testing(pk: &vector<u8>): address { ed25519_address(pk) }

/// RULES.md §2.3 seal_approve_dataset: a data key of this pool (id = pool id || nonce) goes only
/// to an enclave the pool's operator added, asking as its own key, and only when the pool takes
/// Seal-sealed data.
public(package) fun dataset_access<T>(id: &vector<u8>, pool: &Pool<T>, sender: address): bool {
    let pool_bytes = object::id_to_bytes(&object::id(pool));
    if (id.length() <= 32 || id.length() > 64) return false;
    if (!pool_accepts_sealing(pool, SEALING_SEAL)) return false;
    let mut i = 0;
    while (i < 32) {
        if (id[i] != pool_bytes[i]) return false;
        i = i + 1;
    };
    pool.enclave_addrs.contains(&sender)
}

/// RULES.md §2.3 seal_approve_model: the model key of this job (id = job id) goes only to its
/// buyer, once the job is paid.
public(package) fun model_access<T>(id: &vector<u8>, job: &Job<T>, sender: address): bool {
    *id == object::id_to_bytes(&object::id(job)) && sender == job.buyer && job.state == STATE_PAID
}

/// Only the pool's operator adds an enclave to its pool, and only one whose measurement the
/// pool accepts.
public fun add_pool_enclave<T>(pool: &mut Pool<T>, enclave: &Enclave, clock: &Clock, ctx: &TxContext) {
    assert!(ctx.sender() == pool.operator, ENotOperator);
    assert!(pool_accepts(pool, &enclave.measurement), EMeasurementNotAccepted);
    let id = object::id(enclave);
    assert!(!pool.enclaves.contains(&id), EEnclaveAlreadyInPool);
    pool.enclaves.insert(id);
    let addr = ed25519_address(&enclave.ed25519_pk);
    if (!pool.enclave_addrs.contains(&addr)) pool.enclave_addrs.insert(addr);
    event::emit(PoolEnclaveAdded { object_id: id, pool_id: object::id(pool), addr: ctx.sender(), amount: 0, timestamp_ms: clock.timestamp_ms() });
}

// === contributions ===

public fun register_contribution<T>(pool: &mut Pool<T>, blob_id: vector<u8>, clock: &Clock, ctx: &mut TxContext): ID {
    let n = blob_id.length();
    assert!(n >= 1 && n <= BLOB_ID_MAX, EBlobIdLength);
    let contributor = ctx.sender();
    let claim = Claim { contributor, blob_id };
    assert!(!pool.claims.contains(claim), EBlobAlreadyRegistered);
    let now = clock.timestamp_ms();
    let pool_id = object::id(pool);
    let c = Contribution { id: object::new(ctx), pool_id, blob_id, contributor, created_ms: now };
    let id = object::id(&c);
    pool.claims.add(claim, id);
    pool.entries.add(pool.n_entries, Registration { claim, created_ms: now });
    pool.claim_index.add(claim, pool.n_entries);
    pool.n_entries = pool.n_entries + 1;
    if (pool.contributors.contains(contributor)) {
        let count = pool.contributors.borrow_mut(contributor);
        *count = *count + 1;
    } else {
        pool.contributors.add(contributor, 1);
    };
    event::emit(ContributionRegistered { object_id: id, pool_id, addr: contributor, amount: 0, timestamp_ms: now });
    transfer::freeze_object(c);
    id
}

// === jobs (RULES.md §2) ===

/// The whole coin is the payment, escrowed in the job.
public fun create_job<T>(
    pool: &Pool<T>,
    spec_hash: vector<u8>,
    spec_blob_id: vector<u8>,
    payment: Coin<T>,
    deadline_ms: u64,
    clock: &Clock,
    ctx: &mut TxContext,
): ID {
    assert!(spec_hash.length() == 32, ESpecHashLength);
    assert!(spec_blob_id.length() <= BLOB_ID_MAX, ESpecBlobIdLength);
    let amount = payment.value();
    assert!(amount > 0, EPaymentZero);
    assert!(amount >= pool.price, EPaymentBelowPrice);
    let now = clock.timestamp_ms();
    assert!(deadline_ms > now, EDeadlineNotFuture);
    let pool_id = object::id(pool);
    let job = Job<T> {
        id: object::new(ctx),
        pool_id,
        buyer: ctx.sender(),
        spec_hash,
        spec_blob_id,
        payment: amount,
        escrow: payment.into_balance(),
        deadline_ms,
        created_ms: now,
        n_contributions: pool.n_entries,
        state: STATE_OPEN,
        enclave_id: option::none(),
        accepted_ms: 0,
        fail_reason: 0,
        acceptance: option::none(),
        failure: option::none(),
        key_release: option::none(),
        result: option::none(),
    };
    let id = object::id(&job);
    event::emit(JobCreated { object_id: id, pool_id, addr: ctx.sender(), amount, timestamp_ms: now });
    transfer::share_object(job);
    id
}

/// Plain Ed25519 (RFC 8032) over the bytes exactly as given: Nautilus's verify_signature.
public fun signed_by(enclave_pk: &vector<u8>, message: &vector<u8>, signature: &vector<u8>): bool {
    signature.length() == 64 && ed25519::ed25519_verify(signature, enclave_pk, message)
}

fun within_lifetime(timestamp_ms: u64, created_ms: u64, now: u64): bool {
    (timestamp_ms as u128) + (SKEW_MS as u128) >= (created_ms as u128) &&
        (timestamp_ms as u128) <= (now as u128) + (SKEW_MS as u128)
}

/// The checks every job message shares once its signature verified (RULES.md §6): decodes
/// with the expected intent, names this job, pool and the enclave's code, and was signed
/// within the job's lifetime.
public fun check_job_message(
    bytes: vector<u8>,
    intent: u8,
    job_id: address,
    pool_id: address,
    measurement: &vector<u8>,
    created_ms: u64,
    now: u64,
): JobMessage {
    let m = wire::decode_job_message(bytes);
    assert!(m.msg_intent() == intent, EWrongIntent);
    assert!(m.msg_job_id() == job_id && m.msg_pool_id() == pool_id, EOtherJob);
    assert!(m.msg_code_measurement() == measurement, EMeasurementMismatch);
    assert!(within_lifetime(m.msg_timestamp_ms(), created_ms, now), ETimestamp);
    m
}

/// The enclave takes the job: OPEN -> ACCEPTED, escrow locked to it.
public fun accept_job<T>(
    job: &mut Job<T>,
    pool: &Pool<T>,
    enclave: &Enclave,
    acceptance: vector<u8>,
    signature: vector<u8>,
    clock: &Clock,
    ctx: &TxContext,
) {
    let now = clock.timestamp_ms();
    check_accept(job, pool, enclave, now);
    assert!(signed_by(&enclave.ed25519_pk, &acceptance, &signature), EBadSignature);
    apply_accept(job, enclave, Signed { message: acceptance, signature }, now, ctx);
}

/// accept_job's checks before the signature's (package-internal, like apply_*: tests drive
/// check_* + apply_* with messages naming the objects they created, which no fixed test
/// vector can sign).
public(package) fun check_accept<T>(job: &Job<T>, pool: &Pool<T>, enclave: &Enclave, now: u64) {
    assert!(job.state == STATE_OPEN, EJobNotOpen);
    assert!(now <= job.deadline_ms, EDeadlinePassed);
    assert!(object::id(pool) == job.pool_id, EWrongPool);
    assert!(pool_accepts(pool, &enclave.measurement), EMeasurementNotAccepted);
    assert!(pool.enclaves.contains(&object::id(enclave)), EEnclaveNotInPool);
}

/// accept_job after its signature check.
public(package) fun apply_accept<T>(job: &mut Job<T>, enclave: &Enclave, signed: Signed, now: u64, ctx: &TxContext) {
    let job_id = object::id(job).to_address();
    let m = check_job_message(signed.message, wire::intent_accept(), job_id, job.pool_id.to_address(),
        &enclave.measurement, job.created_ms, now);
    assert!(m.msg_config_hash() == &job.spec_hash, ESpecMismatch);
    job.state = STATE_ACCEPTED;
    job.enclave_id = option::some(object::id(enclave));
    job.accepted_ms = now;
    job.acceptance = option::some(signed);
    event::emit(JobAccepted { object_id: object::id(job), pool_id: job.pool_id, addr: ctx.sender(), amount: 0, timestamp_ms: now });
}

/// The accepting enclave gives the job up: ACCEPTED -> REFUNDED, nothing revealed.
public fun fail_job<T>(
    job: &mut Job<T>,
    enclave: &Enclave,
    failure: vector<u8>,
    signature: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let now = clock.timestamp_ms();
    check_fail(job, enclave);
    assert!(signed_by(&enclave.ed25519_pk, &failure, &signature), EBadSignature);
    apply_fail(job, enclave, Signed { message: failure, signature }, now, ctx);
}

public(package) fun check_fail<T>(job: &Job<T>, enclave: &Enclave) {
    assert!(job.state == STATE_ACCEPTED, EJobNotAccepted);
    assert!(job.enclave_id == option::some(object::id(enclave)), EOtherEnclave);
}

public(package) fun apply_fail<T>(job: &mut Job<T>, enclave: &Enclave, signed: Signed, now: u64, ctx: &mut TxContext) {
    let job_id = object::id(job).to_address();
    let m = check_job_message(signed.message, wire::intent_fail(), job_id, job.pool_id.to_address(),
        &enclave.measurement, job.created_ms, now);
    job.fail_reason = m.msg_reason();
    job.failure = option::some(signed);
    event::emit(JobFailed { object_id: object::id(job), pool_id: job.pool_id, addr: ctx.sender(), amount: (m.msg_reason() as u64), timestamp_ms: now });
    refund(job, now, ctx);
}

/// Anyone, once an OPEN job's deadline, or an ACCEPTED job's deadline + grace, has passed.
public fun refund_expired<T>(job: &mut Job<T>, clock: &Clock, ctx: &mut TxContext) {
    let now = clock.timestamp_ms();
    assert!(job.state == STATE_OPEN || job.state == STATE_ACCEPTED, EJobNotOpen);
    assert!(now > job.deadline_ms, ENotExpired);
    // an accepted job's escrow stays locked to its enclave for the grace period
    assert!(job.state == STATE_OPEN || (now as u128) > (job.deadline_ms as u128) + (RESULT_GRACE_MS as u128), ENotExpired);
    refund(job, now, ctx);
}

fun refund<T>(job: &mut Job<T>, now: u64, ctx: &mut TxContext) {
    job.state = STATE_REFUNDED;
    let amount = job.escrow.value();
    let coin = coin::from_balance(job.escrow.withdraw_all(), ctx);
    transfer::public_transfer(coin, job.buyer);
    event::emit(JobRefunded { object_id: object::id(job), pool_id: job.pool_id, addr: job.buyer, amount, timestamp_ms: now });
}

// === results ===

/// Rules 6..9 of RULES.md §2 "Submit result" on a statement whose signature (rule 5) was
/// checked: decodes under §4, names this job and pool and the enclave's measurement, and its
/// timestamp lies in the job's lifetime.
public fun check_statement(
    bytes: vector<u8>,
    job_id: address,
    pool_id: address,
    measurement: &vector<u8>,
    created_ms: u64,
    now: u64,
): IntentMessage<ResultStatement> {
    let msg = wire::decode_statement(bytes);
    let s = msg.payload();
    assert!(s.job_id() == job_id && s.pool_id() == pool_id, EOtherJob);
    assert!(s.code_measurement() == measurement, EMeasurementMismatch);
    assert!(within_lifetime(msg.timestamp_ms(), created_ms, now), ETimestamp);
    msg
}

/// The accepting enclave's result with its key release: paid (key revealed) or refunded (k
/// not reached: key not revealed). The checks run in RULES.md §2's order, the first failure
/// being the one reported: rules 1..4 (check_submit), 5 (the statement's signature), 6..10
/// (check_result_statement), 11 (the key release's signature, then check_key_release) and 12.
public fun submit_result<T>(
    market: &Market,
    job: &mut Job<T>,
    pool: &Pool<T>,
    enclave: &Enclave,
    statement: vector<u8>,
    signature: vector<u8>,
    key_release: vector<u8>,
    key_signature: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let now = clock.timestamp_ms();
    check_submit(job, pool, enclave, now);
    assert!(signed_by(&enclave.ed25519_pk, &statement, &signature), EBadSignature);
    let msg = check_result_statement(job, pool, enclave, copy statement, now);
    assert!(signed_by(&enclave.ed25519_pk, &key_release, &key_signature), EBadSignature);
    finish_result(market, job, pool, enclave, msg, Signed { message: statement, signature },
        Signed { message: key_release, signature: key_signature }, now, ctx);
}

/// Rules 1..4 of "Submit result", and the job must be the one this enclave accepted.
public(package) fun check_submit<T>(job: &Job<T>, pool: &Pool<T>, enclave: &Enclave, now: u64) {
    assert!(job.state != STATE_OPEN, ENoEnclaveAccepted);
    assert!(job.state == STATE_ACCEPTED, EJobNotAccepted);
    assert!((now as u128) <= (job.deadline_ms as u128) + (RESULT_GRACE_MS as u128), EGracePassed);
    assert!(job.enclave_id == option::some(object::id(enclave)), EOtherEnclave);
    assert!(object::id(pool) == job.pool_id, EWrongPool);
    assert!(pool_accepts(pool, &enclave.measurement), EMeasurementNotAccepted);
}

/// Rules 6..10 of "Submit result" on the statement (its signature checked before): decodes,
/// names this job, pool and the enclave's code, lies in the job's lifetime, and lists only
/// contributors with a contribution in the pool.
public(package) fun check_result_statement<T>(
    job: &Job<T>,
    pool: &Pool<T>,
    enclave: &Enclave,
    statement: vector<u8>,
    now: u64,
): IntentMessage<ResultStatement> {
    let msg = check_statement(statement, object::id(job).to_address(), job.pool_id.to_address(),
        &enclave.measurement, job.created_ms, now);
    // RULES.md §2 Submit 10: the enclave ran the job's spec
    assert!(msg.payload().config_hash() == &job.spec_hash, ESpecMismatch);
    let listed = msg.payload().contributors();
    let mut i = 0;
    while (i < listed.length()) {
        assert!(pool.contributors.contains(listed.borrow(i).contributor()), EUnknownContributor);
        i = i + 1;
    };
    check_contributions_accounted(job, pool, msg.payload());
    msg
}

/// RULES.md §2 Submit 12-13. The job's contributions are those registered no later than the
/// job's creation (created_ms <= the job's, as the enclave and `cloakx verify` read them): the
/// pool's first n_contributions, then any registered later in the job's own millisecond (a
/// prefix: the Clock never goes backwards). The statement's contributors and rejected lists are
/// strictly ascending (wire.move), so each lookup is a binary search.
fun check_contributions_accounted<T>(job: &Job<T>, pool: &Pool<T>, s: &ResultStatement) {
    let rejected = s.rejected();
    let mut i = 0;
    while (i < pool.n_entries) {
        let reg = pool.entries.borrow(i);
        if (i >= job.n_contributions && reg.created_ms > job.created_ms) break;
        let c = &reg.claim;
        assert!(is_listed(s.contributors(), c.contributor) ||
            is_rejected(rejected, c.contributor, &c.blob_id), EContributionUnaccounted);
        i = i + 1;
    };
    let mut x = 0;
    while (x < rejected.length()) {
        let r = rejected.borrow(x);
        let claim = Claim { contributor: r.rejected_contributor(), blob_id: *r.rejected_blob_id() };
        assert!(pool.claim_index.contains(claim), ERejectedNotOfJob);
        let k = *pool.claim_index.borrow(claim);
        assert!(k < job.n_contributions || pool.entries.borrow(k).created_ms <= job.created_ms,
            ERejectedNotOfJob);
        x = x + 1;
    };
}

/// Binary search of who in the strictly ascending contributors.
fun is_listed(listed: &vector<ContributorRows>, who: address): bool {
    let key = sui::address::to_bytes(who);
    let (mut lo, mut hi) = (0, listed.length());
    while (lo < hi) {
        let mid = (lo + hi) / 2;
        let at = sui::address::to_bytes(listed.borrow(mid).contributor());
        if (at == key) return true;
        if (wire::bytes_lt(&at, &key)) lo = mid + 1 else hi = mid;
    };
    false
}

/// Binary search of (who, blob_id) in the rejected list, ascending by contributor then blob id.
fun is_rejected(rejected: &vector<RejectedContribution>, who: address, blob_id: &vector<u8>): bool {
    let key = sui::address::to_bytes(who);
    let (mut lo, mut hi) = (0, rejected.length());
    while (lo < hi) {
        let mid = (lo + hi) / 2;
        let r = rejected.borrow(mid);
        let at = sui::address::to_bytes(r.rejected_contributor());
        if (at == key && r.rejected_blob_id() == blob_id) return true;
        let below = wire::bytes_lt(&at, &key) ||
            (at == key && wire::blob_lt(r.rejected_blob_id(), blob_id));
        if (below) lo = mid + 1 else hi = mid;
    };
    false
}

/// submit_result after its signature checks (tests drive check_submit + apply_result with
/// messages naming the objects they created, which no fixed vector can sign).
public(package) fun apply_result<T>(
    market: &Market,
    job: &mut Job<T>,
    pool: &Pool<T>,
    enclave: &Enclave,
    statement: Signed,
    key_release: Signed,
    now: u64,
    ctx: &mut TxContext,
) {
    let msg = check_result_statement(job, pool, enclave, statement.message, now);
    finish_result(market, job, pool, enclave, msg, statement, key_release, now, ctx);
}

/// RULES.md §2 Submit 14 (the key release's signature) and 15, then the payout or the refund.
fun finish_result<T>(
    market: &Market,
    job: &mut Job<T>,
    pool: &Pool<T>,
    enclave: &Enclave,
    msg: IntentMessage<ResultStatement>,
    statement: Signed,
    key_release: Signed,
    now: u64,
    ctx: &mut TxContext,
) {
    let job_id = object::id(job);
    let s = msg.payload();
    let listed = s.contributors();
    let mut rows = vector[];
    let mut i = 0;
    while (i < listed.length()) {
        rows.push_back(listed.borrow(i).accepted_rows());
        i = i + 1;
    };
    let km = check_job_message(key_release.message, wire::intent_key(), job_id.to_address(),
        job.pool_id.to_address(), &enclave.measurement, job.created_ms, now);
    assert!(km.msg_result_hash() == s.result_hash(), EKeyReleaseOtherModel);
    let split = payout::split(job.payment, pool.protocol_fee_bps, pool.operator_fee_bps,
        pool.max_rows_per_contributor, &rows);
    let refunded = split.accepted() < pool.min_contributors;
    job.result = option::some(JobResult {
        enclave_id: object::id(enclave),
        statement: statement.message,
        signature: statement.signature,
        accepted_contributors: split.accepted(),
        refunded,
        submitted_ms: now,
        model_key: if (refunded) vector[] else *km.msg_wrapped_key(),
    });
    event::emit(ResultSubmitted { object_id: job_id, pool_id: job.pool_id, addr: ctx.sender(), amount: split.accepted(), timestamp_ms: now });
    if (refunded) {
        refund(job, now, ctx);
        return
    };
    job.state = STATE_PAID;
    job.key_release = option::some(key_release);
    pay(job, market.protocol_addr, split.protocol_fee(), now, ctx);
    pay(job, pool.operator, split.operator_fee(), now, ctx);
    let shares = split.shares();
    i = 0;
    while (i < listed.length()) {
        let c = listed.borrow(i);
        if (c.accepted_rows() > 0) {
            pay(job, c.contributor(), shares[i], now, ctx);
        };
        i = i + 1;
    };
}

/// A payout from the escrow; a zero amount is still an event so every payee appears once.
fun pay<T>(job: &mut Job<T>, to: address, amount: u64, now: u64, ctx: &mut TxContext) {
    if (amount > 0) {
        transfer::public_transfer(coin::take(&mut job.escrow, amount, ctx), to);
    };
    event::emit(PaymentReleased { object_id: object::id(job), pool_id: job.pool_id, addr: to, amount, timestamp_ms: now });
}

// === reads ===

public fun protocol_address(m: &Market): address { m.protocol_addr }

public fun pool_operator<T>(p: &Pool<T>): address { p.operator }

public fun pool_price<T>(p: &Pool<T>): u64 { p.price }

public fun pool_has_enclave<T>(p: &Pool<T>, enclave: ID): bool { p.enclaves.contains(&enclave) }

public fun pool_contributions_of<T>(p: &Pool<T>, who: address): u64 {
    if (p.contributors.contains(who)) *p.contributors.borrow(who) else 0
}

public fun enclave_ed25519_pk(e: &Enclave): &vector<u8> { &e.ed25519_pk }

public fun enclave_measurement(e: &Enclave): &vector<u8> { &e.measurement }

public fun job_state<T>(j: &Job<T>): u8 { j.state }

public fun job_escrow<T>(j: &Job<T>): u64 { j.escrow.value() }

public fun job_payment<T>(j: &Job<T>): u64 { j.payment }

public fun job_enclave<T>(j: &Job<T>): Option<ID> { j.enclave_id }

public fun job_fail_reason<T>(j: &Job<T>): u8 { j.fail_reason }

public fun job_has_result<T>(j: &Job<T>): bool { j.result.is_some() }

public fun job_result_refunded<T>(j: &Job<T>): bool { j.result.borrow().refunded }

public fun job_result_accepted<T>(j: &Job<T>): u64 { j.result.borrow().accepted_contributors }

public fun job_model_key<T>(j: &Job<T>): vector<u8> { j.result.borrow().model_key }

public fun state_open(): u8 { STATE_OPEN }

public fun state_paid(): u8 { STATE_PAID }

public fun state_refunded(): u8 { STATE_REFUNDED }

public fun state_accepted(): u8 { STATE_ACCEPTED }

// === test-only entry points ===

#[test_only]
public fun init_for_testing(ctx: &mut TxContext) {
    init_market(ctx)
}

/// Registration without a Nitro document (tests cannot make one that verifies): the same
/// checks after the document's fields are taken.
#[test_only]
public fun register_enclave_for_testing(
    market: &mut Market,
    ed25519_pk: vector<u8>,
    x25519_pk: vector<u8>,
    measurement: vector<u8>,
    attestation_blob_id: vector<u8>,
    clock: &Clock,
    ctx: &mut TxContext,
): ID {
    register_checked(market, ed25519_pk, x25519_pk, measurement,
        x"2222222222222222222222222222222222222222222222222222222222222222", attestation_blob_id, clock, ctx)
}

#[test_only]
public fun signed_for_testing(message: vector<u8>): Signed {
    Signed { message, signature: vector[] }
}
