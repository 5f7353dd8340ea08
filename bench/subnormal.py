"""Subnormal numbers in the weights: what they cost the products here, and what flushing costs.

    python bench/subnormal.py [--reps 7] [--out bench/results]

Two measurements, each side by side in one run (interleaved, medians of ``--reps``):

1. the three products of a training step for a 784→256 float32 layer at batch 128
   (``X·W``, ``Xᵀ·δ``, ``δ·Wᵀ``) with W normal, and with 25 % of W's entries subnormal
   (the state L2 leaves dead ReLU units in); ratio subnormal/normal;
2. a whole ``fit`` epoch of a 784-256-128-10 ReLU net at batch 128 with L2, half of whose
   first-layer units can never fire (very negative biases) and whose weights start subnormal,
   with the loop's flush of subnormals (``training.steps.FLUSH_EVERY`` = 32) and without (0);
   ratio with/without, and the count of subnormal parameters left at the end of each.

Whether (1) shows a slowdown depends on the CPU and the BLAS kernels (many x86 cores take a
slow microcode path on subnormal operands; some do not); the machine is recorded.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import handgrad as hg
from handgrad.fast.blas import kernel_info
from handgrad.training import steps

from benchenv import cpu_model  # noqa: E402  (bench/ is the script's directory)


def interleaved(fns: dict, reps: int) -> dict:
    times = {k: [] for k in fns}
    for _ in range(reps + 1):  # the first round warms up
        for k, fn in fns.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v[1:]) for k, v in times.items()}


def subnormal_count(a: np.ndarray) -> int:
    return int(np.count_nonzero((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)))


def products(reps: int) -> dict:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 784), dtype=np.float32)
    D = rng.standard_normal((128, 256), dtype=np.float32)
    W = rng.standard_normal((784, 256), dtype=np.float32) * np.float32(0.05)
    Ws = W.copy()
    Ws[rng.uniform(size=W.shape) < 0.25] = np.float32(3e-39)

    def step(Wm):
        def run():
            for _ in range(50):
                X @ Wm
                X.T @ D
                D @ Wm.T
        return run

    med = interleaved({"normal": step(W), "subnormal": step(Ws)}, reps)
    return {"seconds_per_50_steps": med, "ratio subnormal/normal": med["subnormal"] / med["normal"],
            "subnormal_entries": subnormal_count(Ws)}


def fit_epoch(reps: int) -> dict:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12_800, 784), dtype=np.float32)
    y = rng.integers(0, 10, len(X))
    base = hg.MLP([784, 256, 128, 10], l2=1e-3, seed=0)
    base.biases[0][:128] = -1e4
    base.weights[0][:, :128] = np.float32(3e-39)  # dead units' weights, already subnormal
    left = {}

    def epoch(flush_every):
        def run():
            steps.FLUSH_EVERY = flush_every
            net = base.copy()
            hg.fit(net, X, y, epochs=1, batch_size=128, optimizer="sgd", lr=0.01, momentum=0.0,
                   shuffle=False, diagnostics=False)
            left[flush_every] = subnormal_count(net.flat)
        return run

    med = interleaved({"flush every 32 steps": epoch(32), "no flush": epoch(0)}, reps)
    steps.FLUSH_EVERY = 32
    return {"seconds": med, "ratio flush/no flush": med["flush every 32 steps"] / med["no flush"],
            "subnormal parameters left": {"flush every 32 steps": left[32], "no flush": left[0]}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpu": cpu_model(), "blas": kernel_info(),
              "numpy": np.__version__, "handgrad": hg.__version__, "reps": args.reps,
              "products": products(args.reps), "fit_epoch": fit_epoch(args.reps)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "subnormal.json").write_text(json.dumps(result, indent=2))
    p, f = result["products"], result["fit_epoch"]
    md = [f"# Subnormal weights ({result['date']})", "",
          f"- Machine: {result['cpu']}; numpy {result['numpy']}, BLAS {result['blas']['library']} "
          f"{result['blas']['version']} ({result['blas']['kernels']} kernels, {result['blas']['threads']} threads)",
          f"- Protocol: bench/subnormal.py, medians of {args.reps} interleaved repetitions", "",
          "| measurement | normal / with flush | subnormal / without flush | ratio |",
          "|---|---|---|---|",
          f"| 50 steps of the 784→256 layer's 3 products, 25 % of W subnormal | "
          f"{p['seconds_per_50_steps']['normal']:.4f} s | {p['seconds_per_50_steps']['subnormal']:.4f} s | "
          f"{p['ratio subnormal/normal']:.2f} (subnormal/normal) |",
          f"| fit epoch, 784-256-128-10, half the first layer dead and subnormal | "
          f"{f['seconds']['flush every 32 steps']:.3f} s | {f['seconds']['no flush']:.3f} s | "
          f"{f['ratio flush/no flush']:.2f} (flush/no flush) |", "",
          f"Subnormal parameters left after the epoch: {f['subnormal parameters left']['flush every 32 steps']:,} "
          f"with the flush, {f['subnormal parameters left']['no flush']:,} without."]
    (out / "subnormal.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
