#!/usr/bin/env python3
"""report_check.py — checks what the cli draws (cli/svg_plot.c, `cloakx bench report`,
`cloakx train --report`): well-formed XML, marks inside the picture, and every number shown
equal to the JSON it came from.

  report_check.py svg FILE.svg [--marks N] [--text TEXT]...   one chart
  report_check.py report DIR                                    DIR/report.html vs report.json
  report_check.py train DIR                                     DIR/loss.svg vs DIR/train.json
  report_check.py job DIR                                       the same for a worker's job report
Exits 1 with the reasons on stderr when a check fails.
"""
import json
import math
import re
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
errors = []


def fail(msg):
    errors.append(msg)


def fmt(v):
    """The C side's svg_format_value."""
    if not math.isfinite(v):
        return "-"
    return "%.0f" % v if abs(v) >= 1000.0 else "%.4g" % v


def local(tag):
    return tag.split("}", 1)[-1]


def text_of(el):
    return "".join(el.itertext())


def check_svg(svg, where):
    """One <svg> element: size, coordinates inside it, every mark's title and value agree."""
    if local(svg.tag) != "svg" or not svg.tag.startswith(SVG):
        fail(f"{where}: root is {svg.tag}, not an SVG element")
        return []
    try:
        w, h = float(svg.get("width")), float(svg.get("height"))
    except (TypeError, ValueError):
        fail(f"{where}: width/height missing")
        return []
    if svg.get("viewBox") != "0 0 %g %g" % (w, h):
        fail(f"{where}: viewBox {svg.get('viewBox')} is not 0 0 {w:g} {h:g}")
    for el in svg.iter():
        for attr, limit in (("x", w), ("x1", w), ("x2", w), ("cx", w), ("y", h), ("y1", h),
                            ("y2", h), ("cy", h), ("width", w), ("height", h)):
            v = el.get(attr)
            if v is None:
                continue
            try:
                f = float(v)
            except ValueError:
                fail(f"{where}: <{local(el.tag)} {attr}=\"{v}\"> is not a number")
                continue
            if not (math.isfinite(f) and -0.5 <= f <= limit + 0.5):
                fail(f"{where}: <{local(el.tag)} {attr}={f}> lies outside the {w:g}x{h:g} picture")
        d = el.get("d")
        if d is not None:
            nums = [float(t) for t in re.findall(r"-?\d+(?:\.\d+)?", d)]
            for i, v in enumerate(nums):
                if not -0.5 <= v <= (w if i % 2 == 0 else h) + 0.5:
                    fail(f"{where}: path point {v} outside the picture")
    marks = [el for el in svg.iter() if el.get("class") == "mark"]
    for m in marks:
        v = float(m.get("data-value"))
        t = m.find(SVG + "title")
        if t is None or not (t.text or "").endswith(": " + fmt(v)):
            fail(f"{where}: mark {m.get('data-series')} value {v!r} titled "
                 f"{t.text if t is not None else None!r}, not '...: {fmt(v)}'")
    # a bar's printed value follows its rect
    children = list(svg.iter())
    for i, el in enumerate(children):
        if local(el.tag) == "rect" and el.get("class") == "mark":
            nxt = [c for c in children[i + 1:] if c.get("class") == "value"][:1]
            want = fmt(float(el.get("data-value")))
            if not nxt or (nxt[0].text or "") != want:
                fail(f"{where}: bar {el.get('data-series')} shows "
                     f"{nxt[0].text if nxt else None!r}, not {want}")
    return marks


def cmd_svg(args):
    path = args[0]
    marks_want, texts = None, []
    i = 1
    while i < len(args):
        if args[i] == "--marks":
            marks_want = int(args[i + 1])
        elif args[i] == "--text":
            texts.append(args[i + 1])
        else:
            sys.exit(f"unknown argument {args[i]}")
        i += 2
    root = ET.parse(path).getroot()
    marks = check_svg(root, path)
    if marks_want is not None and len(marks) != marks_want:
        fail(f"{path}: {len(marks)} marks, expected {marks_want}")
    shown = [text_of(el) for el in root.iter() if local(el.tag) in ("text", "title")]
    for t in texts:
        if t not in shown:
            fail(f"{path}: no text element reads {t!r} (have {shown[:8]}...)")


def json_at(root, path):
    v = root
    for k in path.split("."):
        if isinstance(v, list):
            v = v[int(k)]
        elif isinstance(v, dict):
            v = v[k]
        else:
            raise KeyError(path)
    return v


def check_refs(page, data, where):
    """Every element naming a data-ref shows that JSON value, exactly and as printed."""
    n = 0
    for el in page.iter():
        ref = el.get("data-ref")
        if ref is None:
            continue
        n += 1
        try:
            want = json_at(data, ref)
        except (KeyError, IndexError, ValueError):
            fail(f"{where}: data-ref {ref} is not in the JSON")
            continue
        got = float(el.get("data-value"))
        if not isinstance(want, (int, float)) or got != float(want):
            fail(f"{where}: {ref} drawn as {got!r}, the JSON has {want!r}")
        if local(el.tag) == "td" and text_of(el) != fmt(float(want)):
            fail(f"{where}: table cell of {ref} prints {text_of(el)!r}, not {fmt(float(want))}")
    return n


def marks_of(svg, series_prefix=""):
    return [el for el in svg.iter() if el.get("class") == "mark"
            and (el.get("data-series") or "").startswith(series_prefix)]


def chart(page, title):
    for svg in page.iter(SVG + "svg"):
        t = svg.find(SVG + "title")
        if t is not None and t.text == title:
            return svg
    return None


def cmd_report(args):
    d = args[0]
    data = json.load(open(f"{d}/report.json"))
    page = ET.parse(f"{d}/report.html").getroot()  # the page itself is well-formed XML
    # self-contained: nothing to fetch, no script
    for el in page.iter():
        tag = local(el.tag)
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            fail(f"report.html: <{tag}> element (the page must stand alone)")
        for a in ("src", "href", "xlink:href", "{http://www.w3.org/1999/xlink}href"):
            if el.get(a) and not el.get(a).startswith("#"):
                fail(f"report.html: <{tag} {a}={el.get(a)}> refers outside the page")
    if "url(" in open(f"{d}/report.html").read():
        fail("report.html: CSS url() refers outside the page")
    svgs = list(page.iter(SVG + "svg"))
    for i, svg in enumerate(svgs):
        check_svg(svg, f"report.html chart {i}")
    n = check_refs(page, data, "report.html")
    benches = data["benches"]
    for name in ("version", "decrypt", "parse", "train", "train_sweep", "ledger", "train_gpu"):
        b = benches.get(name)
        if b is None:
            fail(f"report.json: no entry for {name}")
        elif not ("result" in b or "skipped" in b or "error" in b):
            fail(f"report.json: {name} has no result, reason or error")
    # what each ran bench must show: its figures, one mark per measured value
    if "result" in benches.get("decrypt", {}):
        runs = benches["decrypt"]["result"]["runs"]
        svg = chart(page, "Decryption throughput vs threads")
        if svg is None or len(marks_of(svg)) != 3 * len(runs):
            fail(f"decrypt chart: {len(marks_of(svg)) if svg is not None else 'no'} marks for "
                 f"{len(runs)} runs x 3")
    if "result" in benches.get("train_sweep", {}):
        sweep = benches["train_sweep"]["result"]["sweep"]
        for title in ("Samples/s vs batch size", "% of the machine's FMA peak vs batch size",
                      "GFLOP/s vs width"):
            svg = chart(page, title)
            got = len(marks_of(svg, "cloakx")) if svg is not None else -1
            if got != len(sweep):
                fail(f"sweep chart {title!r}: {got} cloakx marks for {len(sweep)} rows")
    if "result" in benches.get("train", {}):
        svg = chart(page, "Training throughput vs threads")
        if svg is None or not marks_of(svg, "cloakx"):
            fail("train: no throughput chart")
    if "result" in benches.get("ledger", {}):
        svg = chart(page, "Local-ledger transactions beside a bare durable SQLite transaction")
        if svg is None or len(marks_of(svg)) != 6:
            fail("ledger chart: expected 3 transactions beside 3 peer bars")
    # a bench that failed or was skipped says so on the page
    text = text_of(page)
    for name, b in benches.items():
        for k in ("error", "skipped"):
            if k in b and name != "version" and b[k] not in text:
                fail(f"report.html: the {k} of {name} ({b[k]!r}) is not on the page")
    if n < 20 and not errors:
        fail(f"report.html: only {n} numbers tied to report.json")
    print(f"report: {len(svgs)} charts, {n} numbers equal to report.json")


def cmd_train(args, name="train.json"):
    d = args[0]
    data = json.load(open(f"{d}/{name}"))
    svg = ET.parse(f"{d}/loss.svg").getroot()
    check_svg(svg, "loss.svg")
    n = check_refs(svg, data, "loss.svg")
    epochs = data["epochs"]
    want = sum(1 for e in epochs for k in ("train_loss", "validation_loss")
               if isinstance(e.get(k), (int, float)))
    if n != want:
        fail(f"loss.svg: {n} points, train.json has {want} losses")
    if "epsilon" in (epochs[0] if epochs else {}):
        eps = ET.parse(f"{d}/epsilon.svg").getroot()
        check_svg(eps, "epsilon.svg")
        ne = check_refs(eps, data, "epsilon.svg")
        if ne != len(epochs):
            fail(f"epsilon.svg: {ne} points for {len(epochs)} epochs")
        e = [x["epsilon"] for x in epochs]
        if any(b < a for a, b in zip(e, e[1:])):
            fail(f"train.json: epsilon falls between epochs: {e}")
    print(f"train: {n} loss points equal to {name}")


def cmd_job(args):
    """A worker's job report directory (--reports): its curve plotted as train's, and the epochs
    exactly the job report's curve."""
    cmd_train(args, "report.json")
    data = json.load(open(f"{args[0]}/report.json"))
    curve = data["report"]["curve"]
    for k in ("train_loss", "validation_loss"):
        if [e.get(k) for e in data["epochs"]] != curve[k]:
            fail(f"report.json: the epochs' {k} differ from the report's curve")
    if curve.get("epsilon") is not None and [e.get("epsilon") for e in data["epochs"]] != curve["epsilon"]:
        fail("report.json: the epochs' epsilon differs from the report's curve")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    {"svg": cmd_svg, "report": cmd_report, "train": cmd_train,
     "job": cmd_job}[sys.argv[1]](sys.argv[2:])
    if errors:
        for e in errors[:40]:
            print("FAIL: " + e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
