#!/usr/bin/env python3
"""status_check.py — checks for the worker's status server, used by test_e2e_worker_status.sh.

  metrics FILE [NAME=VALUE|NAME>VALUE ...]  parse Prometheus text 0.0.4 strictly (the
                                             Prometheus client's parser plus a line grammar)
  scan DIR SECRETS_DIR DATA_DIR              no response under DIR holds a data row, three
                                             consecutive values of one, or any key material
"""
import base64
import json
import os
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
VALUE = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(?:{LABEL}(?:,{LABEL})*)?,?\}})? ({VALUE})(?: -?[0-9]+)?$")
HELP = re.compile(rf"^# HELP ({NAME}) .*$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def strict_lines(text):
    """The exposition format's grammar, line by line; every sample belongs to a declared
    family (its name, or name_sum/_count/_bucket for summaries and histograms), each family
    declared once."""
    if not text.endswith("\n"):
        fail("metrics: the text does not end with a newline")
    types = {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            if not HELP.match(line):
                fail(f"metrics line {n}: bad HELP: {line!r}")
        elif line.startswith("# TYPE "):
            m = TYPE.match(line)
            if not m:
                fail(f"metrics line {n}: bad TYPE: {line!r}")
            if m.group(1) in types:
                fail(f"metrics line {n}: {m.group(1)} declared twice")
            types[m.group(1)] = m.group(2)
        elif line.startswith("#") or line == "":
            fail(f"metrics line {n}: unexpected line {line!r}")
        else:
            m = SAMPLE.match(line)
            if not m:
                fail(f"metrics line {n}: not a sample: {line!r}")
            name = m.group(1)
            base = re.sub(r"_(sum|count|bucket)$", "", name)
            if name not in types and not (base in types and types[base] in ("summary", "histogram")):
                fail(f"metrics line {n}: {name} has no TYPE")


def normal(key):
    """name{b="1",a="2"} as name{a="2",b="1"}: labels in name order."""
    m = re.match(r"^([^{]*)(?:\{(.*)\})?$", key)
    labels = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or "")
    if not labels:
        return m.group(1)
    return m.group(1) + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels)) + "}"


def metrics(path, expects):
    text = open(path, encoding="utf-8").read()
    strict_lines(text)
    values = {}
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None
    if text_string_to_metric_families:
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                key = s.name + (
                    "{" + ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items())) + "}"
                    if s.labels else "")
                values[key] = s.value
    else:  # the line grammar above already held; read the values from it
        print("metrics: prometheus_client is not installed; line grammar only")
        for line in text.split("\n"):
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                values[normal(k)] = float(v)
    for ex in expects:
        m = re.match(r"^(.*?)(=|>)([0-9.eE+-]+)$", ex)
        if not m:
            fail(f"bad expectation {ex}")
        key, op, want = normal(m.group(1)), m.group(2), float(m.group(3))
        if key not in values:
            fail(f"metrics: no sample {key} (have {sorted(values)})")
        got = values[key]
        if (op == "=" and got != want) or (op == ">" and not got > want):
            fail(f"metrics: {key} = {got}, expected {op} {want}")
    print(f"metrics: {len(values)} samples parsed")


def forms(b):
    """The forms a leaked key would take: hex, base64, base64url (without padding)."""
    return {b.hex(), base64.b64encode(b).decode().rstrip("="),
            base64.urlsafe_b64encode(b).decode().rstrip("=")}


def secrets_of(secrets_dir):
    """Every secret key under secrets_dir: role keys (*.key: "cloakx-...-secret-v1 BASE64"), the
    simulated enclave's keys (SIMULATED-enclave-keys.json: hex) and the development CA's PEM."""
    out = set()
    for root, _, files in os.walk(secrets_dir):
        for f in files:
            path = os.path.join(root, f)
            if f.endswith(".key"):
                text = open(path, encoding="utf-8").read()
                if "BEGIN" in text:  # PEM: its base64 body lines
                    out.update(l for l in text.splitlines() if l and "-----" not in l)
                    continue
                for tok in text.split()[1:]:
                    out |= forms(base64.b64decode(tok))
            elif f == "SIMULATED-enclave-keys.json":
                for k, v in json.load(open(path)).items():
                    if k in ("ed25519_seed", "x25519_secret"):
                        out |= forms(bytes.fromhex(v))
    return {s for s in out if len(s) >= 24}


def data_needles(data_dir):
    needles = set()
    for f in os.listdir(data_dir):
        if not f.endswith(".csv"):
            continue
        lines = open(os.path.join(data_dir, f), encoding="utf-8").read().splitlines()[1:]
        for line in lines:
            vals = line.split(",")
            needles.add(line)
            for i in range(len(vals) - 2):
                for sep in (",", ", "):
                    needles.add(sep.join(vals[i:i + 3]))
    return needles


def scan(resp_dir, secrets_dir, data_dir):
    secrets = secrets_of(secrets_dir)
    rows = data_needles(data_dir)
    if not secrets or not rows:
        fail(f"scan: nothing to look for ({len(secrets)} secrets, {len(rows)} data needles)")
    n = 0
    for f in sorted(os.listdir(resp_dir)):
        body = open(os.path.join(resp_dir, f), encoding="utf-8", errors="replace").read()
        n += 1
        for s in secrets:
            if s in body:
                fail(f"scan: key material in response {f}")
        # numbers in JSON are compared as the page shows them, so look at tokens too
        for r in rows:
            if r in body:
                fail(f"scan: data values {r!r} in response {f}")
    if n == 0:
        fail("scan: no responses")
    print(f"scan: {n} responses clean of {len(rows)} data needles and {len(secrets)} key forms")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "metrics":
        metrics(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 5 and sys.argv[1] == "scan":
        scan(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
