#!/usr/bin/env python3
"""scaling_model.py — the per-step cost model of kernels/README.md ("Scaling") evaluated for 8
GPUs on one node (NCCL on NVLink) and 8 nodes (one GPU each, the sealed host ring over
InfiniBand): the table in the README. Every figure is a flag, so a measured one can replace
the cited or assumed default (e.g. --aes-gbs from `openssl speed -evp aes-256-gcm` here)."""
import argparse


def mlp_params(dims):
    return sum(a * b + b for a, b in zip(dims, dims[1:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ranks", type=int, default=8)
    ap.add_argument("--batches", default="1024,8192,65536")
    # H100 SXM datasheet: TF32 tensor 989 TFLOP/s with sparsity, 494.7 dense; FP32 66.9
    ap.add_argument("--peak-tflops", type=float, default=494.7)
    ap.add_argument("--efficiency", type=float, default=0.5, help="achieved share of the peak")
    ap.add_argument("--floor-us", type=float, default=40.0,
                    help="per-step floor: the step's ~20 kernels replayed from a CUDA graph")
    ap.add_argument("--nvlink-gbs", type=float, default=360.0, help="NCCL ring bus bandwidth")
    ap.add_argument("--nvlink-alpha-us", type=float, default=1.5, help="per ring step")
    ap.add_argument("--ib-gbs", type=float, default=45.0, help="NDR 400 Gb/s = 50 GB/s, 90%%")
    ap.add_argument("--ib-alpha-us", type=float, default=8.0, help="per ring step (5-10 us)")
    ap.add_argument("--aes-gbs", type=float, default=4.5, help="AES-256-GCM, one core")
    ap.add_argument("--bounce-gbs", type=float, default=4.0,
                    help="CC-mode host<->GPU through encrypted bounce buffers (assumed)")
    a = ap.parse_args()
    n = a.ranks
    F = a.peak_tflops * 1e12 * a.efficiency
    floor = a.floor_us * 1e-6
    models = [("64-256-256-10 (reference)", mlp_params([64, 256, 256, 10])),
              ("1024-2048-2048-2048-10", mlp_params([1024, 2048, 2048, 2048, 10]))]
    print(f"F = {F / 1e12:.0f} TFLOP/s per GPU, floor {a.floor_us:g} us/step; {n} ranks")
    print(f"{'model':<27} {'P':>11} {'B':>6} {'6PB GFLOP':>10} {'T_1 us':>8} "
          f"{'NVLink: comm us':>16} {'x':>6} {'IB sealed: bounce+seal+wire+lat us':>36} {'x':>6}")
    for name, P in models:
        g = 4.0 * P  # gradient bytes
        ring = 2.0 * (n - 1) / n * g  # bytes each rank sends in a ring all-reduce
        for B in (int(b) for b in a.batches.split(",")):
            t1 = max(6.0 * P * B / F, floor)
            tn = max(6.0 * P * B / (n * F), floor)
            nccl = ring / (a.nvlink_gbs * 1e9) + 2 * (n - 1) * a.nvlink_alpha_us * 1e-6
            bounce = 2.0 * g / (a.bounce_gbs * 1e9)  # download and upload
            seal = 2.0 * ring / (a.aes_gbs * 1e9)  # seal what goes out, open what comes in
            wire = ring / (a.ib_gbs * 1e9)
            lat = 2 * (n - 1) * a.ib_alpha_us * 1e-6
            host = bounce + seal + wire + lat
            parts = "+".join(f"{t * 1e6:.0f}" for t in (bounce, seal, wire, lat))
            print(f"{name:<27} {P:>11,} {B:>6} {6 * P * B / 1e9:>10.2f} {t1 * 1e6:>8.0f} "
                  f"{nccl * 1e6:>16.0f} {t1 / (tn + nccl):>5.2f}x {parts:>36} "
                  f"{t1 / (tn + host):>5.2f}x")


if __name__ == "__main__":
    main()
