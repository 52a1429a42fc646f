#!/usr/bin/python3
# torch_mlp.py — the PyTorch peer of `cloakx bench train`: the same reference MLP
# (64 -> 256 -> 256 -> 10, ReLU, cross-entropy, batch 1024, Adam lr 1e-3, fp32) on the same
# synthetic rows (written by `cloakx bench train --save-data PREFIX`), timed the same way
# (best epoch after a warm-up epoch). Prints samples/s (per wall second and per CPU second of
# the process) and the BLAS torch runs on. --hidden/--batch size the network for the sweep.
import argparse
import json
import os
import sys
import time

torch = np = None


def load_torch(policy):
    """Import torch after setting OpenMP's wait policy (libgomp reads it when it loads),
    the same policy `cloakx bench train` runs with."""
    global torch, np
    os.environ["OMP_WAIT_POLICY"] = policy
    try:
        import numpy
        import torch as t
    except ImportError as exc:  # Debian: apt-get install python3-torch
        print("torch_mlp.py: %s (install python3-torch)" % exc, file=sys.stderr)
        sys.exit(77)
    torch, np = t, numpy


def blas_in_use():
    """Which BLAS torch's CPU GEMMs go through: torch's build config, and what
    libblas.so.3 (Debian's alternative) resolves to when torch uses the system BLAS."""
    cfg = torch.__config__.show()
    line = next((f[f.index("BLAS_INFO"):].strip() for f in cfg.replace("\n", ",").split(",")
                 if "BLAS_INFO" in f), "BLAS_INFO=?")
    target = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    return line, target


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="PREFIX of PREFIX.x.f32 / PREFIX.y.f32 (cloakx bench train "
                                    "--save-data); default: synthetic rows from numpy")
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=256, help="width of both hidden layers")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N] (the GPU peer of "
                                                     "cloakx bench train --device cuda)")
    ap.add_argument("--wait-policy", choices=["passive", "active"], default="passive",
                    help="OMP_WAIT_POLICY, as cloakx bench train (default passive)")
    a = ap.parse_args()
    load_torch(a.wait_policy)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("torch_mlp.py: this PyTorch (%s) has no usable CUDA device" % torch.__version__,
              file=sys.stderr)
        sys.exit(77)
    dev = torch.device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.data:
        x = np.fromfile(a.data + ".x.f32", dtype="<f4").reshape(-1, 64)
        y = np.fromfile(a.data + ".y.f32", dtype="<f4").astype(np.int64)
    else:
        rng = np.random.default_rng(20261126)
        x = rng.standard_normal((a.rows, 64), dtype=np.float32)
        w = rng.uniform(-1, 1, (64, 10)).astype(np.float32)
        y = np.argmax(x @ w + rng.uniform(-0.5, 0.5, (a.rows, 10)), axis=1)
    # the same preprocessing as cloakx: standardise with training statistics
    x = (x - x.mean(0)) / x.std(0)
    X, Y = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(y)
    X, Y = X.to(dev), Y.to(dev)  # on a GPU: the whole dataset on the device, as cloakx does
    n = X.shape[0]
    torch.manual_seed(1)
    h, bs = a.hidden, a.batch
    model = torch.nn.Sequential(torch.nn.Linear(64, h), torch.nn.ReLU(),
                                torch.nn.Linear(h, h), torch.nn.ReLU(),
                                torch.nn.Linear(h, 10)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    times, cpus, last = [], [], float("nan")
    for _ in range(a.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(n, device=dev)
        # the loss stays on the device and is read once an epoch, as cloakx does: a .item()
        # per step would make the GPU peer wait for the host at every step
        total = torch.zeros((), device=dev)
        for b0 in range(0, n, bs):
            idx = perm[b0:b0 + bs]
            xb, yb = X[idx], Y[idx]
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        last = total.item() / n
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    best = min(times[1:]) if len(times) > 1 else times[0]
    best_cpu = min(cpus[1:]) if len(cpus) > 1 else cpus[0]
    info, target = blas_in_use()
    out = {"samples_per_s": n / best, "epoch_s": best, "rows": n, "hidden": h, "batch": bs,
           "samples_per_cpu_s": n / best_cpu if best_cpu > 0 else 0.0, "epoch_cpu_s": best_cpu, "threads": torch.get_num_threads(),
           "train_loss": last, "torch": torch.__version__, "device": str(dev), "blas_info": info, "libblas.so.3": target,
           "omp_wait_policy": a.wait_policy}
    if a.json:
        print(json.dumps(out))
    else:
        print("pytorch %s: %.0f samples/s (epoch %.3f s, %d threads, OMP_WAIT_POLICY=%s, "
              "train loss %.4f)" % (torch.__version__, out["samples_per_s"], best, out["threads"],
                                    a.wait_policy, last))
        print("  BLAS: %s; libblas.so.3 -> %s" % (info, target))


main()
