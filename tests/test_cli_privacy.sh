#!/usr/bin/env bash
# test_cli_privacy.sh — `cloakx privacy`: ε and the best order for a noise level, σ for a
# target ε (Opacus' published values), JSON keys, and exit 2 for every kind of bad input.
set -euo pipefail
cx=${CLOAKX:?}
fail() { echo "FAIL: $*" >&2; exit 1; }
# ctest runs tests in parallel in one directory: work in a private one.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

"$cx" privacy --help | grep >/dev/null 'usage: cloakx privacy' || fail "--help"

# Opacus test_rdp_accountant: σ=1.5, q=0.04, 90 epochs = 2250 steps, δ=1e-5 → ε=7.32911117143.
out=$("$cx" privacy --noise 1.5 --sample-rate 0.04 --steps 2250 --delta 1e-5 --json)
python3 - "$out" <<'PY' || fail "epsilon json: $out"
import json, sys
v = json.loads(sys.argv[1])
assert abs(v['epsilon'] - 7.32911117143) < 1e-8, v
assert v['order'] == 3.9, v
assert v['steps'] == 2250 and v['noise_multiplier'] == 1.5 and v['convention'] == 'opacus'
PY
# --epochs E is floor(E / q) steps, as Opacus.
out2=$("$cx" privacy --noise 1.5 --sample-rate 0.04 --epochs 90 --delta 1e-5 --json)
[ "$out" = "$out2" ] || fail "--epochs 90 differs from --steps 2250"
"$cx" privacy --noise 1.5 --sample-rate 0.04 --steps 2250 --delta 1e-5 | grep >/dev/null 'epsilon 7.32911 at order 3.9' \
    || fail "text output"

# Opacus test_get_noise_multiplier_rdp_epochs / _steps: σ = 1.416 / 1.3562 for ε = 8.
for case in "90 --epochs 1.416" "2000 --steps 1.3562"; do
    set -- $case
    out=$("$cx" privacy --epsilon 8 --sample-rate 0.04 "$2" "$1" --delta 1e-5 --json)
    python3 - "$out" "$3" <<'PY' || fail "solve json ($case): $out"
import json, sys
v = json.loads(sys.argv[1])
assert abs(v['noise_multiplier'] - float(sys.argv[2])) < 5e-5, v
assert 7.99 <= v['epsilon'] <= 8 and v['target_epsilon'] == 8 and v['order'] > 1, v
PY
done

# Opacus' analysis/rdp.py docstring example, one segment's orders given as a range.
out=$("$cx" privacy --noise 3 --sample-rate 1e-4 --steps 4 --delta 1e-5 --orders 2:32,40.5 --json)
python3 - "$out" <<'PY' || fail "orders json: $out"
import json, sys
v = json.loads(sys.argv[1])
assert 0 < v['epsilon'] < 1 and v['order'] in [float(a) for a in range(2, 33)] + [40.5], v
PY

# No noise: ε is infinite, printed as null.
out=$("$cx" privacy --noise 0 --sample-rate 0.5 --steps 3 --delta 1e-5 --json)
python3 -c 'import json,sys; v=json.loads(sys.argv[1]); assert v["epsilon"] is None and v["order"] is None, v' "$out" \
    || fail "sigma 0: $out"

expect_rc() {
    local want=$1; shift
    set +e
    "$cx" privacy "$@" >/dev/null 2>err.txt; local rc=$?
    set -e
    [ "$rc" -eq "$want" ] || fail "privacy $* exited $rc, want $want ($(cat err.txt))"
}
base=(--sample-rate 0.01 --steps 100 --delta 1e-5)
expect_rc 2 "${base[@]}"                                    # neither --noise nor --epsilon
expect_rc 2 --noise 1 --epsilon 2 "${base[@]}"              # both
expect_rc 2 --noise 1 --sample-rate 0.01 --steps 100        # no delta
expect_rc 2 --noise 1 --steps 100 --delta 1e-5              # no sample rate
expect_rc 2 --noise 1 --sample-rate 0.01 --delta 1e-5       # no steps
expect_rc 2 --noise 1 --sample-rate 0.01 --steps 1 --epochs 1 --delta 1e-5
expect_rc 2 --noise 1 --sample-rate 1.5 --steps 100 --delta 1e-5
expect_rc 2 --noise 1 --sample-rate 0.01 --steps 100 --delta 0
expect_rc 2 --noise 1 --sample-rate 0.01 --steps 100 --delta 1
expect_rc 2 --noise -1 "${base[@]}"
expect_rc 2 --noise nan "${base[@]}"
expect_rc 2 --noise 1x "${base[@]}"
expect_rc 2 --noise 1 --sample-rate 0.01 --steps -5 --delta 1e-5
expect_rc 2 --noise 1 --sample-rate 0.01 --steps 1.5 --delta 1e-5
expect_rc 2 --noise 1 "${base[@]}" --orders 1,2
expect_rc 2 --noise 1 "${base[@]}" --orders 5:3
expect_rc 2 --noise 1 "${base[@]}" --orders ,
expect_rc 2 --noise 1 "${base[@]}" --tolerance 0.1
expect_rc 2 --epsilon 0 "${base[@]}"
expect_rc 2 --noise 1 "${base[@]}" --bogus
expect_rc 2 --noise 1 "${base[@]}" --noise 2
expect_rc 2 --noise
# A budget no noise can meet is a runtime failure (exit 1), with a reason.
expect_rc 1 --epsilon 0.01 --sample-rate 0.05 --steps 1000 --delta 1e-5
grep -q 'out of reach' err.txt || fail "unreachable epsilon message"
echo "cli privacy: ok"
