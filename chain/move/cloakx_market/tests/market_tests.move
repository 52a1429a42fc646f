// market_tests.move — the contract on objects, case for case with tests/test_chain_ledger.c:
// escrow, exact payouts, k-minimum refunds, deadlines and grace, acceptance/failure, the model
// key revealed only by paying, operator-only pool enclaves, and every refusal. Messages name
// the objects created here, so no fixed vector can sign them: these tests drive check_* +
// apply_* (the entry functions minus the signature check, which wire_tests covers).
#[test_only]
module cloakx_market::market_tests;

use cloakx_market::market::{Self, Market, Pool, Enclave, Job};
use cloakx_market::vectors;
use cloakx_market::wire;
use sui::clock::{Self, Clock};
use sui::coin::{Self, Coin};
use sui::sui::SUI;
use sui::test_scenario::{Self as ts, Scenario};

const ADMIN: address = @0xAD; // publishes: the protocol fee address
const OP: address = @0xA0;
const BUYER: address = @0xB0;
const ANYONE: address = @0xC0;
const NOW: u64 = 1760000000000;
const HOUR: u64 = 3600000;
const PAYMENT: u64 = 100000;

fun meas(): vector<u8> {
    x"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
}

fun spec(): vector<u8> { x"5555555555555555555555555555555555555555555555555555555555555555" }

fun model_hash(): vector<u8> { x"7777777777777777777777777777777777777777777777777777777777777777" }

fun wrapped(): vector<u8> { x"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a" }

fun contributor(i: u64): address {
    if (i == 0) @0x101 else if (i == 1) @0x102 else if (i == 2) @0x103 else if (i == 3) @0x104 else @0x105
}

public struct World {
    sc: Scenario,
    clock: Clock,
    pool: ID,
    enclave: ID,
    job: ID,
}

fun blob(i: u64): vector<u8> {
    let mut b = b"blob-of-contributor-";
    b.push_back(0x30 + (i as u8));
    b
}

/// test_chain_ledger.c setup(): pool (price 1000, k 3, cap 1000 rows, 5 % operator, 1 %
/// protocol), the operator's enclave added to it, 5 contributions, one job paying 100000.
fun setup(): World {
    setup_sealing(0)
}

/// setup() with a pool accepting only the given sealings (PoolPolicy.sealing)
fun setup_sealing(sealing: u8): World {
    let mut sc = ts::begin(ADMIN);
    market::init_for_testing(sc.ctx());
    let mut clock = clock::create_for_testing(sc.ctx());
    clock.set_for_testing(NOW);
    sc.next_tx(OP);
    let pool = market::create_pool<SUI>(b"wearables and cardiac risk", 1000, 3, 1000, 500, 100,
        vector[meas()], OP, false, 0, vector[], 0, 0, 0, sealing, &clock, sc.ctx());
    sc.next_tx(OP);
    let enclave = register(&mut sc, &clock, vectors::enclave_pk(), meas());
    sc.next_tx(OP);
    add_enclave(&mut sc, &clock, pool, enclave);
    let mut i = 0;
    while (i < 5) {
        sc.next_tx(contributor(i));
        contribute(&mut sc, &clock, pool, blob(i));
        i = i + 1;
    };
    sc.next_tx(BUYER);
    let job = new_job(&mut sc, &clock, pool, PAYMENT, NOW + HOUR);
    sc.next_tx(OP);
    World { sc, clock, pool, enclave, job }
}

fun finish(w: World) {
    let World { sc, clock, pool: _, enclave: _, job: _ } = w;
    clock.destroy_for_testing();
    sc.end();
}

fun register(sc: &mut Scenario, clock: &Clock, pk: vector<u8>, measurement: vector<u8>): ID {
    let mut m = sc.take_shared<Market>();
    let id = market::register_enclave_for_testing(&mut m, pk, x"1111111111111111111111111111111111111111111111111111111111111111",
        measurement, b"walrus-doc-0001", clock, sc.ctx());
    ts::return_shared(m);
    id
}

fun add_enclave(sc: &mut Scenario, clock: &Clock, pool_id: ID, enclave_id: ID) {
    let mut pool = sc.take_shared_by_id<Pool<SUI>>(pool_id);
    let enclave = sc.take_immutable_by_id<Enclave>(enclave_id);
    market::add_pool_enclave(&mut pool, &enclave, clock, sc.ctx());
    ts::return_immutable(enclave);
    ts::return_shared(pool);
}

fun contribute(sc: &mut Scenario, clock: &Clock, pool_id: ID, blob_id: vector<u8>) {
    let mut pool = sc.take_shared_by_id<Pool<SUI>>(pool_id);
    market::register_contribution(&mut pool, blob_id, clock, sc.ctx());
    ts::return_shared(pool);
}

fun new_job(sc: &mut Scenario, clock: &Clock, pool_id: ID, amount: u64, deadline: u64): ID {
    let pool = sc.take_shared_by_id<Pool<SUI>>(pool_id);
    let pay = coin::mint_for_testing<SUI>(amount, sc.ctx());
    let id = market::create_job(&pool, spec(), b"spec", pay, deadline, clock, sc.ctx());
    ts::return_shared(pool);
    id
}

fun job_msg(w: &World, job: ID, intent: u8, config: vector<u8>, reason: u8, result: vector<u8>): vector<u8> {
    wire::encode_job_message(&wire::new_job_message(intent, w.clock.timestamp_ms(), job.to_address(),
        w.pool.to_address(), meas(), config, reason, result, wrapped()))
}

/// accept_job minus its signature check
fun accept_with(w: &mut World, job_id: ID, enclave_id: ID, message: vector<u8>) {
    let now = w.clock.timestamp_ms();
    let mut job = w.sc.take_shared_by_id<Job<SUI>>(job_id);
    let pool = w.sc.take_shared_by_id<Pool<SUI>>(w.pool);
    let enclave = w.sc.take_immutable_by_id<Enclave>(enclave_id);
    market::check_accept(&job, &pool, &enclave, now);
    market::apply_accept(&mut job, &enclave, market::signed_for_testing(message), now, w.sc.ctx());
    ts::return_immutable(enclave);
    ts::return_shared(pool);
    ts::return_shared(job);
}

fun accept(w: &mut World, job_id: ID) {
    let m = job_msg(w, job_id, wire::intent_accept(), spec(), 0, vector[]);
    let enclave = w.enclave;
    accept_with(w, job_id, enclave, m);
}

/// a statement for job with rows[i] for who[i] (ascending)
fun statement(w: &World, job: ID, who: vector<address>, rows: vector<u64>): vector<u8> {
    let mut list = vector[];
    let mut i = 0;
    while (i < who.length()) {
        list.push_back(wire::new_rows(who[i], rows[i]));
        i = i + 1;
    };
    std::bcs::to_bytes(&wire::new_statement_message(w.clock.timestamp_ms(), job.to_address(),
        w.pool.to_address(), meas(), spec(), model_hash(), list))
}

/// the same, with rejected contributions
fun statement_rejecting(
    w: &World, job: ID, who: vector<address>, rows: vector<u64>,
    rejected: vector<wire::RejectedContribution>,
): vector<u8> {
    let mut list = vector[];
    let mut i = 0;
    while (i < who.length()) {
        list.push_back(wire::new_rows(who[i], rows[i]));
        i = i + 1;
    };
    let m = wire::new_statement_message(w.clock.timestamp_ms(), job.to_address(),
        w.pool.to_address(), meas(), spec(), model_hash(), list);
    std::bcs::to_bytes(&wire::with_rejected(m, rejected))
}

fun first4(): vector<address> {
    vector[contributor(0), contributor(1), contributor(2), contributor(3)]
}

/// submits stmt for w's job with the enclave's key release
fun submit_stmt(w: &mut World, stmt: vector<u8>) {
    let job = w.job;
    let key = job_msg(w, job, wire::intent_key(), vector[], 0, model_hash());
    let enclave = w.enclave;
    submit_with(w, job, enclave, stmt, key);
}

fun all5(): vector<address> {
    vector[contributor(0), contributor(1), contributor(2), contributor(3), contributor(4)]
}

/// submit_result minus its two signature checks
fun submit_with(w: &mut World, job_id: ID, enclave_id: ID, stmt: vector<u8>, key: vector<u8>) {
    let now = w.clock.timestamp_ms();
    let m = w.sc.take_shared<Market>();
    let mut job = w.sc.take_shared_by_id<Job<SUI>>(job_id);
    let pool = w.sc.take_shared_by_id<Pool<SUI>>(w.pool);
    let enclave = w.sc.take_immutable_by_id<Enclave>(enclave_id);
    market::check_submit(&job, &pool, &enclave, now);
    market::apply_result(&m, &mut job, &pool, &enclave, market::signed_for_testing(stmt),
        market::signed_for_testing(key), now, w.sc.ctx());
    ts::return_immutable(enclave);
    ts::return_shared(pool);
    ts::return_shared(job);
    ts::return_shared(m);
}

fun submit(w: &mut World, job_id: ID, rows: vector<u64>) {
    let stmt = statement(w, job_id, all5(), rows);
    let key = job_msg(w, job_id, wire::intent_key(), vector[], 0, model_hash());
    let enclave = w.enclave;
    submit_with(w, job_id, enclave, stmt, key);
}

fun refund_expired(w: &mut World, job_id: ID) {
    let mut job = w.sc.take_shared_by_id<Job<SUI>>(job_id);
    market::refund_expired(&mut job, &w.clock, w.sc.ctx());
    ts::return_shared(job);
}

fun fail_with(w: &mut World, job_id: ID, enclave_id: ID, reason: u8) {
    let now = w.clock.timestamp_ms();
    let msg = job_msg(w, job_id, wire::intent_fail(), vector[], reason, vector[]);
    let mut job = w.sc.take_shared_by_id<Job<SUI>>(job_id);
    let enclave = w.sc.take_immutable_by_id<Enclave>(enclave_id);
    market::check_fail(&job, &enclave);
    market::apply_fail(&mut job, &enclave, market::signed_for_testing(msg), now, w.sc.ctx());
    ts::return_immutable(enclave);
    ts::return_shared(job);
}

/// SUI coins an address holds (after next_tx)
fun coins(sc: &Scenario, who: address): u64 {
    let ids = ts::ids_for_address<Coin<SUI>>(who);
    let mut total = 0;
    let mut i = 0;
    while (i < ids.length()) {
        let c = sc.take_from_address_by_id<Coin<SUI>>(who, ids[i]);
        total = total + c.value();
        ts::return_to_address(who, c);
        i = i + 1;
    };
    total
}

fun state(w: &mut World, job_id: ID): u8 {
    let job = w.sc.take_shared_by_id<Job<SUI>>(job_id);
    let s = market::job_state(&job);
    ts::return_shared(job);
    s
}

// === the cases of test_chain_ledger.c ===

#[test]
fun paid_exactly() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    assert!(state(&mut w, job) == market::state_accepted());
    submit(&mut w, job, vector[10, 500, 5000, 333, 0]);
    w.sc.next_tx(ANYONE);
    assert!(state(&mut w, job) == market::state_paid());
    assert!(coins(&w.sc, ADMIN) == 1000);
    assert!(coins(&w.sc, OP) == 5000);
    let mut total = coins(&w.sc, ADMIN) + coins(&w.sc, OP);
    let mut i = 0;
    while (i < 5) {
        total = total + coins(&w.sc, contributor(i));
        i = i + 1;
    };
    assert!(total == PAYMENT);
    assert!(coins(&w.sc, contributor(4)) == 0);
    // capped rows: 5000 rows earn what 1000 rows earn
    assert!(coins(&w.sc, contributor(1)) == 25502 && coins(&w.sc, contributor(2)) == 51004);
    let j = w.sc.take_shared_by_id<Job<SUI>>(job);
    assert!(market::job_escrow(&j) == 0);
    assert!(market::job_result_accepted(&j) == 4);
    assert!(!market::job_result_refunded(&j));
    // the paying transaction revealed the model key
    assert!(market::job_model_key(&j) == wrapped());
    ts::return_shared(j);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EJobNotAccepted)]
fun submitted_twice_refused() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    submit(&mut w, job, vector[10, 10, 10, 10, 10]);
    w.sc.next_tx(OP);
    submit(&mut w, job, vector[10, 10, 10, 10, 10]);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EJobNotOpen)]
fun paid_job_cannot_be_refunded() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    submit(&mut w, job, vector[10, 10, 10, 10, 10]);
    w.clock.increment_for_testing(3 * HOUR);
    w.sc.next_tx(ANYONE);
    refund_expired(&mut w, job);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EMeasurementNotAccepted)]
fun enclave_of_other_code_cannot_join_the_pool() {
    let mut w = setup();
    let other = register(&mut w.sc, &w.clock, vectors::weather_pk(), x"bbbb");
    w.sc.next_tx(OP);
    let pool = w.pool;
    add_enclave(&mut w.sc, &w.clock, pool, other);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ENotOperator)]
fun only_the_operator_adds_enclaves() {
    let mut w = setup();
    w.sc.next_tx(ANYONE);
    let other = register(&mut w.sc, &w.clock, vectors::weather_pk(), meas());
    w.sc.next_tx(ANYONE);
    let pool = w.pool;
    add_enclave(&mut w.sc, &w.clock, pool, other);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EEnclaveNotInPool)]
fun enclave_not_added_cannot_accept() {
    // same code, registered by someone else, never added by the operator (issue 13, attack 6)
    let mut w = setup();
    w.sc.next_tx(ANYONE);
    let other = register(&mut w.sc, &w.clock, vectors::weather_pk(), meas());
    w.sc.next_tx(ANYONE);
    let job = w.job;
    let m = job_msg(&w, job, wire::intent_accept(), spec(), 0, vector[]);
    accept_with(&mut w, job, other, m);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EEnclaveAlreadyInPool)]
fun enclave_added_twice_refused() {
    let mut w = setup();
    let (pool, enclave) = (w.pool, w.enclave);
    add_enclave(&mut w.sc, &w.clock, pool, enclave);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EEnclaveKeyTaken)]
fun enclave_key_registered_once() {
    let mut w = setup();
    register(&mut w.sc, &w.clock, vectors::enclave_pk(), meas());
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EOtherJob)]
fun replay_for_another_job_refused() {
    let mut w = setup();
    w.sc.next_tx(BUYER);
    let pool = w.pool;
    let job2 = new_job(&mut w.sc, &w.clock, pool, 5000, NOW + HOUR);
    w.sc.next_tx(OP);
    accept(&mut w, job2);
    // a statement the enclave made for job 1, offered for job 2
    let stmt = statement(&w, w.job, all5(), vector[10, 10, 10, 10, 10]);
    let key = job_msg(&w, job2, wire::intent_key(), vector[], 0, model_hash());
    let enclave = w.enclave;
    submit_with(&mut w, job2, enclave, stmt, key);
    finish(w);
}

#[test]
fun k_not_reached_refunds_and_reveals_nothing() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    submit(&mut w, job, vector[100, 0, 200, 0, 0]); // 2 accepted < k = 3
    w.sc.next_tx(ANYONE);
    assert!(state(&mut w, job) == market::state_refunded());
    assert!(coins(&w.sc, BUYER) == PAYMENT);
    assert!(coins(&w.sc, contributor(0)) == 0 && coins(&w.sc, OP) == 0);
    let j = w.sc.take_shared_by_id<Job<SUI>>(job);
    assert!(market::job_result_refunded(&j));
    assert!(market::job_result_accepted(&j) == 2);
    assert!(market::job_model_key(&j) == vector[]);
    ts::return_shared(j);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EUnknownContributor)]
fun unknown_contributor_refused() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    // ANYONE (0xc0) has no contribution in the pool; it sorts first
    let who = vector[ANYONE, contributor(0), contributor(1), contributor(2), contributor(3)];
    let stmt = statement(&w, job, who, vector[10, 10, 10, 10, 10]);
    let key = job_msg(&w, job, wire::intent_key(), vector[], 0, model_hash());
    let enclave = w.enclave;
    submit_with(&mut w, job, enclave, stmt, key);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ENotExpired)]
fun refund_before_deadline_refused() {
    let mut w = setup();
    let job = w.job;
    refund_expired(&mut w, job);
    finish(w);
}

#[test]
fun open_job_refunded_after_deadline() {
    let mut w = setup();
    let job = w.job;
    w.clock.increment_for_testing(HOUR + 1);
    refund_expired(&mut w, job);
    w.sc.next_tx(ANYONE);
    assert!(state(&mut w, job) == market::state_refunded());
    assert!(coins(&w.sc, BUYER) == PAYMENT);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EJobNotOpen)]
fun refunded_twice_refused() {
    let mut w = setup();
    let job = w.job;
    w.clock.increment_for_testing(HOUR + 1);
    refund_expired(&mut w, job);
    w.sc.next_tx(ANYONE);
    refund_expired(&mut w, job);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EDeadlinePassed)]
fun accept_after_deadline_refused() {
    let mut w = setup();
    let job = w.job;
    w.clock.increment_for_testing(HOUR + 1);
    accept(&mut w, job);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ENotExpired)]
fun accepted_job_locked_during_grace() {
    // issue 13, attack 3: after acceptance the buyer cannot take the escrow back early
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    w.clock.increment_for_testing(HOUR + HOUR); // past the deadline, inside the grace hour
    refund_expired(&mut w, job);
    finish(w);
}

#[test]
fun result_inside_grace_paid() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    w.clock.increment_for_testing(HOUR + HOUR);
    submit(&mut w, job, vector[10, 10, 10, 10, 10]);
    w.sc.next_tx(ANYONE);
    assert!(state(&mut w, job) == market::state_paid());
    finish(w);
}

#[test]
fun accepted_job_refunded_after_grace() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    w.clock.increment_for_testing(2 * HOUR + 1);
    refund_expired(&mut w, job);
    w.sc.next_tx(ANYONE);
    assert!(coins(&w.sc, BUYER) == PAYMENT);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EGracePassed)]
fun result_after_grace_refused() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    w.clock.increment_for_testing(2 * HOUR + 1);
    submit(&mut w, job, vector[10, 10, 10, 10, 10]);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ENoEnclaveAccepted)]
fun result_needs_an_accepted_job() {
    let mut w = setup();
    let job = w.job;
    submit(&mut w, job, vector[10, 10, 10, 10, 10]);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EOtherEnclave)]
fun result_from_another_enclave_refused() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    let other = register(&mut w.sc, &w.clock, vectors::weather_pk(), meas());
    w.sc.next_tx(OP);
    let pool = w.pool;
    add_enclave(&mut w.sc, &w.clock, pool, other);
    w.sc.next_tx(OP);
    let stmt = statement(&w, job, all5(), vector[10, 10, 10, 10, 10]);
    let key = job_msg(&w, job, wire::intent_key(), vector[], 0, model_hash());
    submit_with(&mut w, job, other, stmt, key);
    finish(w);
}

#[test]
fun enclave_failure_refunds() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    let enclave = w.enclave;
    fail_with(&mut w, job, enclave, 3);
    w.sc.next_tx(ANYONE);
    assert!(state(&mut w, job) == market::state_refunded());
    assert!(coins(&w.sc, BUYER) == PAYMENT);
    let j = w.sc.take_shared_by_id<Job<SUI>>(job);
    assert!(market::job_fail_reason(&j) == 3);
    assert!(!market::job_has_result(&j));
    ts::return_shared(j);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EJobNotAccepted)]
fun failure_of_an_open_job_refused() {
    let mut w = setup();
    let (job, enclave) = (w.job, w.enclave);
    fail_with(&mut w, job, enclave, 1);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EOtherEnclave)]
fun failure_by_another_enclave_refused() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    let other = register(&mut w.sc, &w.clock, vectors::weather_pk(), meas());
    w.sc.next_tx(OP);
    fail_with(&mut w, job, other, 1);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ESpecMismatch)]
fun acceptance_of_another_spec_refused() {
    let mut w = setup();
    let job = w.job;
    let m = job_msg(&w, job, wire::intent_accept(), model_hash(), 0, vector[]);
    let enclave = w.enclave;
    accept_with(&mut w, job, enclave, m);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EWrongIntent)]
fun key_release_is_not_an_acceptance() {
    let mut w = setup();
    let job = w.job;
    let m = job_msg(&w, job, wire::intent_key(), vector[], 0, model_hash());
    let enclave = w.enclave;
    accept_with(&mut w, job, enclave, m);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EKeyReleaseOtherModel)]
fun key_release_for_another_model_refused() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    let stmt = statement(&w, job, all5(), vector[10, 10, 10, 10, 10]);
    let key = job_msg(&w, job, wire::intent_key(), vector[], 0, spec());
    let enclave = w.enclave;
    submit_with(&mut w, job, enclave, stmt, key);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EPaymentBelowPrice)]
fun payment_below_price_refused() {
    let mut w = setup();
    w.sc.next_tx(BUYER);
    let pool = w.pool;
    new_job(&mut w.sc, &w.clock, pool, 999, NOW + HOUR);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EPaymentZero)]
fun zero_payment_refused() {
    let mut w = setup();
    w.sc.next_tx(BUYER);
    let pool = w.pool;
    new_job(&mut w.sc, &w.clock, pool, 0, NOW + HOUR);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EDeadlineNotFuture)]
fun deadline_now_refused() {
    let mut w = setup();
    w.sc.next_tx(BUYER);
    let pool = w.pool;
    new_job(&mut w.sc, &w.clock, pool, 1000, NOW);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EBlobAlreadyRegistered)]
fun contributor_registers_a_blob_once() {
    let mut w = setup();
    w.sc.next_tx(contributor(0));
    let pool = w.pool;
    contribute(&mut w.sc, &w.clock, pool, blob(0));
    finish(w);
}

#[test]
fun others_may_claim_a_public_blob_id() {
    // the owner is not locked out by whoever registers its id first
    let mut w = setup();
    w.sc.next_tx(ANYONE);
    let pool_id = w.pool;
    contribute(&mut w.sc, &w.clock, pool_id, blob(1));
    w.sc.next_tx(ANYONE);
    let pool = w.sc.take_shared_by_id<Pool<SUI>>(pool_id);
    assert!(market::pool_contributions_of(&pool, ANYONE) == 1);
    assert!(market::pool_contributions_of(&pool, contributor(1)) == 1);
    ts::return_shared(pool);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EBlobIdLength)]
fun empty_blob_id_refused() {
    let mut w = setup();
    let pool = w.pool;
    contribute(&mut w.sc, &w.clock, pool, vector[]);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EBlobIdLength)]
fun blob_id_of_65_bytes_refused() {
    let mut w = setup();
    let pool = w.pool;
    let mut b = vector[];
    while (b.length() < 65) {
        b.push_back(0x41);
    };
    contribute(&mut w.sc, &w.clock, pool, b);
    finish(w);
}

// === pool parameters (ledger.c's argument checks) ===

fun pool_with(theme: vector<u8>, k: u64, rows: u64, op_bps: u64, proto_bps: u64, ms: vector<vector<u8>>) {
    let mut sc = ts::begin(OP);
    let clock = clock::create_for_testing(sc.ctx());
    market::create_pool<SUI>(theme, 1000, k, rows, op_bps, proto_bps, ms, OP, false, 0, vector[],
        0, 0, 0, 0, &clock, sc.ctx());
    clock.destroy_for_testing();
    sc.end();
}

fun pool_with_forbidden(names: vector<vector<u8>>): bool {
    let mut sc = ts::begin(OP);
    let clock = clock::create_for_testing(sc.ctx());
    market::create_pool<SUI>(b"t", 1000, 1, 1, 0, 0, vector[x"01"], OP, true, 1000000, names,
        100000000, 10000, 10000000000000000, 1, &clock, sc.ctx());
    sc.next_tx(OP);
    let pool = sc.take_shared<Pool<SUI>>();
    let policy_kept = market::pool_forbids(&pool, &b"SSN") && !market::pool_forbids(&pool, &b"age");
    ts::return_shared(pool);
    clock.destroy_for_testing();
    sc.end();
    policy_kept
}

#[test]
fun pool_keeps_its_policy() {
    assert!(pool_with_forbidden(vector[b"ssn", b"zip"]));
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EForbiddenName)]
fun forbidden_column_listed_twice_is_refused() {
    pool_with_forbidden(vector[b"ssn", b"SSN"]);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EForbiddenName)]
fun empty_forbidden_column_is_refused() {
    pool_with_forbidden(vector[b""]);
}

fun pool_with_sealing(sealing: u8): bool {
    let mut sc = ts::begin(OP);
    let clock = clock::create_for_testing(sc.ctx());
    market::create_pool<SUI>(b"t", 1000, 1, 1, 0, 0, vector[x"01"], OP, false, 0, vector[], 0, 0, 0,
        sealing, &clock, sc.ctx());
    sc.next_tx(OP);
    let pool = sc.take_shared<Pool<SUI>>();
    let hpke = market::pool_accepts_sealing(&pool, 1);
    let seal = market::pool_accepts_sealing(&pool, 2);
    ts::return_shared(pool);
    clock.destroy_for_testing();
    sc.end();
    (if (hpke) 1 else 0) + (if (seal) 2 else 0) == (if (sealing == 0) 3 else sealing)
}

#[test]
fun pool_keeps_its_sealing() {
    assert!(pool_with_sealing(0)); // either
    assert!(pool_with_sealing(1)); // HPKE only
    assert!(pool_with_sealing(2)); // Seal only
    assert!(pool_with_sealing(3));
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ESealing)]
fun unknown_sealing_bit_is_refused() {
    pool_with_sealing(4);
}

#[test]
fun fees_may_sum_to_10000() {
    pool_with(b"t", 1, 1, 9000, 1000, vector[x"01"]);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EThemeLength)]
fun empty_theme_refused() {
    pool_with(b"", 1, 1, 0, 0, vector[x"01"]);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EMinContributors)]
fun k_zero_refused() {
    pool_with(b"t", 0, 1, 0, 0, vector[x"01"]);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EMaxRows)]
fun row_cap_zero_refused() {
    pool_with(b"t", 1, 0, 0, 0, vector[x"01"]);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EFees)]
fun fees_above_10000_refused() {
    pool_with(b"t", 1, 1, 9000, 1001, vector[x"01"]);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EMeasurementCount)]
fun no_measurement_refused() {
    pool_with(b"t", 1, 1, 0, 0, vector[]);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EMeasurementLength)]
fun empty_measurement_refused() {
    pool_with(b"t", 1, 1, 0, 0, vector[x"01", vector[]]);
}

// === RULES.md §2 Submit 12-13: every contribution of the job accounted for ===

#[test]
#[expected_failure(abort_code = cloakx_market::market::EContributionUnaccounted)]
fun dropped_contribution_refused() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    // contributor 4's contribution is neither accepted nor rejected
    let stmt = statement(&w, job, first4(), vector[10, 10, 10, 10]);
    submit_stmt(&mut w, stmt);
    finish(w);
}

#[test]
fun rejected_contribution_accounted() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    let stmt = statement_rejecting(&w, job, first4(), vector[10, 10, 10, 10],
        vector[wire::new_rejected(contributor(4), blob(4), 4)]);
    submit_stmt(&mut w, stmt);
    w.sc.next_tx(ANYONE);
    assert!(state(&mut w, job) == market::state_paid());
    finish(w);
}

#[test]
fun contribution_after_the_job_not_needed() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    // registered after the job was created: not the job's, so the statement may ignore it
    w.clock.increment_for_testing(1); // a millisecond after the job's creation
    w.sc.next_tx(ANYONE);
    let pool = w.pool;
    contribute(&mut w.sc, &w.clock, pool, b"late-blob");
    w.sc.next_tx(OP);
    let stmt = statement(&w, job, all5(), vector[10, 10, 10, 10, 10]);
    submit_stmt(&mut w, stmt);
    w.sc.next_tx(ANYONE);
    assert!(state(&mut w, job) == market::state_paid());
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ERejectedNotOfJob)]
fun rejected_entry_not_a_contribution_refused() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    let stmt = statement_rejecting(&w, job, all5(), vector[10, 10, 10, 10, 10],
        vector[wire::new_rejected(contributor(0), b"no-such-blob", 3)]);
    submit_stmt(&mut w, stmt);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::ERejectedNotOfJob)]
fun rejected_entry_registered_after_the_job_refused() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    w.clock.increment_for_testing(1); // a millisecond after the job's creation
    w.sc.next_tx(ANYONE);
    let pool = w.pool;
    contribute(&mut w.sc, &w.clock, pool, b"late-blob");
    w.sc.next_tx(OP);
    let stmt = statement_rejecting(&w, job, all5(), vector[10, 10, 10, 10, 10],
        vector[wire::new_rejected(ANYONE, b"late-blob", 1)]);
    submit_stmt(&mut w, stmt);
    finish(w);
}

// === RULES.md §2.3: the Seal policies ===

#[test]
fun seal_dataset_key_only_to_the_pools_enclave() {
    let mut w = setup();
    let pool = w.sc.take_shared_by_id<Pool<SUI>>(w.pool);
    let mut id = object::id_to_bytes(&w.pool);
    id.append(x"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"); // the seller's nonce
    let enclave = market::ed25519_address_for_testing(&vectors::enclave_pk());
    assert!(market::dataset_access(&id, &pool, enclave));
    assert!(!market::dataset_access(&id, &pool, ANYONE));
    assert!(!market::dataset_access(&id, &pool, OP)); // not even the operator
    let mut other = id;
    let b0 = other[0];
    *other.borrow_mut(0) = b0 ^ 1; // another pool's id
    assert!(!market::dataset_access(&other, &pool, enclave));
    assert!(!market::dataset_access(&object::id_to_bytes(&w.pool), &pool, enclave)); // no nonce
    ts::return_shared(pool);
    finish(w);
}

#[test]
fun seal_dataset_key_never_for_a_pool_without_seal() {
    let mut w = setup_sealing(1); // HPKE only
    let pool = w.sc.take_shared_by_id<Pool<SUI>>(w.pool);
    let mut id = object::id_to_bytes(&w.pool);
    id.append(x"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a");
    let enclave = market::ed25519_address_for_testing(&vectors::enclave_pk());
    assert!(!market::dataset_access(&id, &pool, enclave)); // even the pool's own enclave
    ts::return_shared(pool);
    finish(w);
}

#[test]
fun seal_model_key_only_to_the_buyer_once_paid() {
    let mut w = setup();
    let job = w.job;
    let id = object::id_to_bytes(&job);
    {
        let j = w.sc.take_shared_by_id<Job<SUI>>(job);
        assert!(!market::model_access(&id, &j, BUYER)); // open: not paid
        ts::return_shared(j);
    };
    accept(&mut w, job);
    submit(&mut w, job, vector[10, 10, 10, 10, 10]);
    w.sc.next_tx(ANYONE);
    let j = w.sc.take_shared_by_id<Job<SUI>>(job);
    assert!(market::model_access(&id, &j, BUYER));
    assert!(!market::model_access(&id, &j, OP));
    assert!(!market::model_access(&object::id_to_bytes(&w.pool), &j, BUYER)); // another id
    ts::return_shared(j);
    finish(w);
}

#[test]
#[expected_failure(abort_code = cloakx_market::market::EContributionUnaccounted)]
fun contribution_in_the_jobs_millisecond_is_the_jobs() {
    let mut w = setup();
    let job = w.job;
    accept(&mut w, job);
    // registered after the job but in its millisecond: created_ms <= the job's, so the enclave
    // reads it and the statement must account for it
    w.sc.next_tx(ANYONE);
    let pool = w.pool;
    contribute(&mut w.sc, &w.clock, pool, b"same-ms-blob");
    w.sc.next_tx(OP);
    let stmt = statement(&w, job, all5(), vector[10, 10, 10, 10, 10]);
    submit_stmt(&mut w, stmt);
    finish(w);
}
