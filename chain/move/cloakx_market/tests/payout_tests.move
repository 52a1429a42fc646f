// payout_tests.move — RULES.md §3 on known splits (expected values computed by the C rule,
// chain/ledger.c cx_chain_split_compute): fees, caps, largest remainder, ties, exactness.
#[test_only]
module cloakx_market::payout_tests;

use cloakx_market::payout;

fun sum(v: &vector<u64>): u64 {
    let mut t = 0;
    let mut i = 0;
    while (i < v.length()) {
        t = t + v[i];
        i = i + 1;
    };
    t
}

#[test]
fun fees_caps_and_remainder_like_the_local_ledger() {
    // test_chain_ledger.c test_paid_exactly: 1 % protocol, 5 % operator, rows capped at 1000
    let s = payout::split(100000, 100, 500, 1000, &vector[10, 500, 5000, 333, 0]);
    assert!(s.protocol_fee() == 1000);
    assert!(s.operator_fee() == 5000);
    assert!(s.contributors_total() == 94000);
    assert!(*s.shares() == vector[510, 25502, 51004, 16984, 0]);
    assert!(s.accepted() == 4);
    assert!(s.protocol_fee() + s.operator_fee() + sum(s.shares()) == 100000);
}

#[test]
fun ties_go_to_the_lower_address() {
    let s = payout::split(10, 0, 0, 0, &vector[1, 1, 1]);
    assert!(*s.shares() == vector[4, 3, 3]);
}

#[test]
fun leftover_goes_to_the_largest_fraction() {
    // 100/7 = 14 r2, 200/7 = 28 r4, 400/7 = 57 r1: the one leftover unit goes to the second
    let s = payout::split(100, 0, 0, 0, &vector[1, 2, 4]);
    assert!(*s.shares() == vector[14, 29, 57]);
}

#[test]
fun cap_applies_before_the_split() {
    let s = payout::split(7, 0, 0, 5, &vector[9, 5, 1]);
    assert!(*s.shares() == vector[3, 3, 1]);
}

#[test]
fun exact_at_the_largest_amounts() {
    let m = 18446744073709551615;
    let s = payout::split(m, 100, 500, 0, &vector[m, m, 1]);
    assert!(s.protocol_fee() == 184467440737095516);
    assert!(s.operator_fee() == 922337203685477580);
    assert!(*s.shares() == vector[8669969714643489259, 8669969714643489259, 1]);
    assert!(s.protocol_fee() + s.operator_fee() + sum(s.shares()) == m);
}

#[test]
fun nobody_with_rows_gets_nothing() {
    let s = payout::split(1000, 100, 0, 10, &vector[0, 0]);
    assert!(s.accepted() == 0);
    assert!(*s.shares() == vector[0, 0]);
    assert!(s.contributors_total() == 990);
}

#[test]
#[expected_failure(abort_code = cloakx_market::payout::EFees)]
fun fees_above_10000_bps_refused() {
    payout::split(1000, 5000, 5001, 0, &vector[1]);
}
