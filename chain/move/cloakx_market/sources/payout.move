// payout.move — the exact payout split of chain/RULES.md §3: floor fees, pro-rata shares of
// capped rows, and the largest-remainder rule, so that fees + shares = payment to the unit.

module cloakx_market::payout;

/// Protocol + operator fees above 10000 bps.
const EFees: u64 = 200;

const BPS_DENOM: u64 = 10000;
const INDEX_MASK: u256 = 0xffffffff;

public struct Split has copy, drop {
    protocol_fee: u64,
    operator_fee: u64,
    /// payment - fees: what the contributors share
    contributors_total: u64,
    /// one share per row given, in the same order (0 where capped rows are 0)
    shares: vector<u64>,
    /// contributors with capped rows > 0
    accepted: u64,
}

/// Split `pay` (RULES.md §3). `rows` are the statement's rows in its (ascending address)
/// order; each is capped at `max_rows` (0 = no cap).
public fun split(
    pay: u64,
    protocol_bps: u64,
    operator_bps: u64,
    max_rows: u64,
    rows: &vector<u64>,
): Split {
    assert!(protocol_bps + operator_bps <= BPS_DENOM, EFees);
    let protocol_fee = ((((pay as u128) * (protocol_bps as u128)) / (BPS_DENOM as u128)) as u64);
    let operator_fee = ((((pay as u128) * (operator_bps as u128)) / (BPS_DENOM as u128)) as u64);
    let c = pay - protocol_fee - operator_fee;
    let n = rows.length();
    let mut weights = vector[];
    let mut total_w = 0u128;
    let mut accepted = 0u64;
    let mut i = 0;
    while (i < n) {
        let mut w = rows[i];
        if (max_rows != 0 && w > max_rows) {
            w = max_rows;
        };
        if (w > 0) {
            total_w = total_w + (w as u128);
            accepted = accepted + 1;
        };
        weights.push_back(w);
        i = i + 1;
    };
    let mut shares = vector[];
    if (accepted == 0) {
        i = 0;
        while (i < n) {
            shares.push_back(0);
            i = i + 1;
        };
        return Split { protocol_fee, operator_fee, contributors_total: c, shares, accepted }
    };
    // floor shares, and sort keys (fractional part, then ascending position = ascending address)
    let mut given = 0u64;
    let mut keys = vector[];
    i = 0;
    while (i < n) {
        let w = weights[i];
        let num = (c as u128) * (w as u128);
        let s = ((num / total_w) as u64);
        shares.push_back(s);
        given = given + s;
        if (w > 0) {
            let frac = num % total_w;
            keys.push_back(((frac as u256) << 32) | (INDEX_MASK - (i as u256)));
        };
        i = i + 1;
    };
    // the R = C - sum(floor) < accepted leftover units: one each to the largest remainders
    let mut left = c - given;
    let sorted = sort_desc(keys);
    let mut j = 0;
    while (left > 0) {
        let idx = ((INDEX_MASK - (sorted[j] & INDEX_MASK)) as u64);
        let s = shares.borrow_mut(idx);
        *s = *s + 1;
        left = left - 1;
        j = j + 1;
    };
    Split { protocol_fee, operator_fee, contributors_total: c, shares, accepted }
}

/// Bottom-up merge sort, largest first (keys are distinct: each carries its position).
fun sort_desc(v: vector<u256>): vector<u256> {
    let n = v.length();
    let mut src = v;
    let mut width = 1;
    while (width < n) {
        let mut dst = vector[];
        let mut lo = 0;
        while (lo < n) {
            let mid = if (lo + width < n) lo + width else n;
            let hi = if (lo + 2 * width < n) lo + 2 * width else n;
            let mut a = lo;
            let mut b = mid;
            while (a < mid || b < hi) {
                if (b >= hi || (a < mid && src[a] > src[b])) {
                    dst.push_back(src[a]);
                    a = a + 1;
                } else {
                    dst.push_back(src[b]);
                    b = b + 1;
                };
            };
            lo = hi;
        };
        src = dst;
        width = width * 2;
    };
    src
}

public fun protocol_fee(s: &Split): u64 { s.protocol_fee }

public fun operator_fee(s: &Split): u64 { s.operator_fee }

public fun contributors_total(s: &Split): u64 { s.contributors_total }

public fun shares(s: &Split): &vector<u64> { &s.shares }

public fun accepted(s: &Split): u64 { s.accepted }
