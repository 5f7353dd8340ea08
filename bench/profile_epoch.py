"""Where each microsecond of a training epoch goes, next to the GEMM floor of the same epoch.

Usage (from the repository root)::

    python bench/profile_epoch.py [--reps 5] [--rows 8192] [--pause 0.1] [--out bench/results]

For SGD (lr 0.01, no momentum: the update fused into the backward products) and Adam (lr 1e-3)
epochs of 784-256-128-10 at batch 16, 32, 64, 128 and 512, and of the small tabular network
12-64-3 at batch 32 (float32, ReLU, softmax; X ~ N(0, 1), labels from a random linear teacher),
one run times side by side, interleaved (``bench.speed.protocol.interleaved``: a warm-up round,
then ``--reps`` rounds, ``gc.collect()`` and a pause before each call):

* **plain**: one ``handgrad.fit`` epoch (its defaults: shuffled, diagnostics on; SGD momentum 0),
  untouched;
* **instrumented**: the same epoch with the real functions wrapped by ``time.perf_counter``
  (nothing reimplemented): ``EpochRunner._take`` (batch gather), ``fast.step.forward``, the
  loss kernel from ``fast.step.LOSSES``, ``fast.step.backward``, ``fast.step.loss_and_grads``
  (its own time minus those three: the step's glue — L2 term, checks, result), ``SGD.step`` /
  ``Adam.step``, ``DeadUnits.update`` + ``epoch_diagnostics`` (diagnostics),
  ``EpochRunner.flush`` (subnormals) and ``EpochRunner.run``; the loop remainder is
  ``run`` minus the parts inside it (Python of the loop, slicing, sums, the wrappers of the
  parts called from the loop) and the fit set-up is the fit minus ``run`` (checks, thread
  limit, workspace, history);
* **the GEMM floor** (``bench.speed.workloads.GemmFloor``: the products of the epoch alone, into
  preallocated arrays, at the BLAS thread count ``fit`` picks), whole and split into its forward
  and backward products.

Medians over the repetitions; per step = per epoch / number of batches. "× floor" is a part's
time over the whole floor's; forward and backward are also given over their own products
(for SGD the backward includes the fused update). The wrappers cost time: the instrumented
epoch is reported next to the plain one. Writes ``profile_epoch.md`` (date, CPU, numpy/BLAS,
load average at start and end) and ``profile_epoch.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:          # `python bench/profile_epoch.py` puts bench/ first
    sys.path.insert(0, str(ROOT))

import handgrad as hg
from bench.benchenv import blas_record, handgrad_source, machine_record, numpy_blas
from bench.speed.protocol import (
    ADAM_LR,
    SGD_LR,
    fill_normal,
    handgrad_threads,
    interleaved,
    make_data,
    new_net,
    numpy_blas_controller,
)
from bench.speed.workloads import GemmFloor
from handgrad.fast import step as fstep
from handgrad.training import optim, steps
from handgrad.training.diagnostics import DeadUnits

BIG, SMALL = [784, 256, 128, 10], [12, 64, 3]
CASES = [(BIG, b) for b in (16, 32, 64, 128, 512)] + [(SMALL, 32)]
PARTS = ("batch gather", "forward", "loss kernel", "backward", "step glue", "optimizer step",
         "diagnostics", "subnormal flush", "loop remainder", "fit set-up")


class Probe:
    """perf_counter around the real functions, installed only for the instrumented epoch."""

    def __init__(self):
        self.t = {}
        self.n = {}
        self.saved = []

    def timed(self, fn, name):
        t, n, pc = self.t, self.n, time.perf_counter

        def wrapper(*a, **k):
            t0 = pc()
            r = fn(*a, **k)
            t[name] += pc() - t0
            n[name] += 1
            return r
        return wrapper

    def patch(self, owner, attr, name):
        self.saved.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, self.timed(getattr(owner, attr), name))

    def __enter__(self):
        for key in ("run", "gather", "lag", "forward", "loss", "backward", "opt", "diag",
                    "flush"):
            self.t[key], self.n[key] = 0.0, 0
        self.patch(steps.EpochRunner, "run", "run")
        self.patch(steps.EpochRunner, "_take", "gather")
        self.patch(steps.EpochRunner, "flush", "flush")
        self.patch(fstep, "loss_and_grads", "lag")
        self.patch(fstep, "forward", "forward")
        self.patch(fstep, "backward", "backward")
        self.saved.append((fstep, "LOSSES", fstep.LOSSES))   # a new dict: kernels' is untouched
        fstep.LOSSES = {k: self.timed(f, "loss") for k, f in fstep.LOSSES.items()}
        self.patch(optim.SGD, "step", "opt")
        self.patch(optim.Adam, "step", "opt")
        self.patch(DeadUnits, "update", "diag")
        self.patch(steps, "epoch_diagnostics", "diag")
        return self

    def __exit__(self, *exc):
        while self.saved:
            owner, attr, orig = self.saved.pop()
            setattr(owner, attr, orig)


def parts_of(t: dict, total: float) -> dict:
    """Seconds per epoch of each part from one instrumented epoch's raw sums."""
    inner = t["forward"] + t["loss"] + t["backward"]
    return {"batch gather": t["gather"], "forward": t["forward"], "loss kernel": t["loss"],
            "backward": t["backward"], "step glue": t["lag"] - inner,
            "optimizer step": t["opt"], "diagnostics": t["diag"], "subnormal flush": t["flush"],
            "loop remainder": t["run"] - t["gather"] - t["lag"] - t["opt"] - t["diag"] - t["flush"],
            "fit set-up": total - t["run"]}


def data(sizes, n):
    if sizes == BIG:
        return make_data(n)
    X = fill_normal(np.empty((n, sizes[0]), np.float32), 0)
    teacher = np.random.default_rng(1).standard_normal((sizes[0], sizes[-1]), dtype=np.float32)
    return X, np.argmax(X @ teacher, axis=1).astype(np.int64)


def measure(sizes, batch, optimizer, X, y, reps, pause):
    net = new_net(sizes)
    lr = SGD_LR if optimizer == "sgd" else ADAM_LR
    threads = handgrad_threads(net, X, y, batch, optimizer)

    def epoch():
        hg.fit(net, X, y, epochs=1, batch_size=batch, optimizer=optimizer, lr=lr, momentum=0.0)

    runs = []

    def instrumented():
        with Probe() as p:
            t0 = time.perf_counter()
            epoch()
            total = time.perf_counter() - t0
        runs.append((total, parts_of(p.t, total), dict(p.n)))

    floor, blas = GemmFloor(sizes, X, batch), numpy_blas_controller()
    L, per = len(sizes) - 1, floor.products_per_batch
    ops = {"fwd": [o for i, o in enumerate(floor.ops) if i % per < L],
           "bwd": [o for i, o in enumerate(floor.ops) if i % per >= L], "all": floor.ops}

    def products(which):
        def run():
            with blas.limit(limits=threads):
                for a, b, out in ops[which]:
                    np.matmul(a, b, out=out)
        return run

    times = interleaved({"plain": epoch, "instrumented": instrumented,
                         "floor": products("all"), "floor_fwd": products("fwd"),
                         "floor_bwd": products("bwd")}, reps, 1, pause)
    runs = runs[1:]                                           # the warm-up round
    med = {k: statistics.median(v) for k, v in times.items()}
    med["instrumented"] = statistics.median(r[0] for r in runs)
    parts = {k: statistics.median(r[1][k] for r in runs) for k in PARTS}
    n_steps = -(-X.shape[0] // batch)
    return {"sizes": sizes, "batch": batch, "optimizer": optimizer, "threads": threads,
            "steps": n_steps, "calls": runs[-1][2], "seconds": med, "parts": parts,
            "all_seconds": times}


def table(r) -> list[str]:
    us = 1e6 / r["steps"]
    s, p = r["seconds"], r["parts"]
    fl = s["floor"]
    rows = [f"#### {'-'.join(map(str, r['sizes']))}, {r['optimizer']}, batch {r['batch']} "
            f"({r['steps']} steps, {r['threads']} BLAS thread(s))", "",
            "| part | µs/step | % of epoch | × floor | × its products |", "|---|---|---|---|---|"]
    own = {"forward": s["floor_fwd"], "backward": s["floor_bwd"]}
    for k in PARTS:
        mine = f"{p[k] / own[k]:.2f}" if k in own else ""
        rows.append(f"| {k} | {p[k] * us:.1f} | {100 * p[k] / s['instrumented']:.1f} | "
                    f"{p[k] / fl:.2f} | {mine} |")
    rows += [f"| **epoch, instrumented** | **{s['instrumented'] * us:.1f}** | 100 | "
             f"**{s['instrumented'] / fl:.2f}** | |",
             f"| **epoch, plain** | **{s['plain'] * us:.1f}** | "
             f"{100 * s['plain'] / s['instrumented']:.1f} | **{s['plain'] / fl:.2f}** | |",
             f"| GEMM floor (fwd {s['floor_fwd'] * us:.1f} + bwd {s['floor_bwd'] * us:.1f}) | "
             f"{fl * us:.1f} | {100 * fl / s['instrumented']:.1f} | 1.00 | |", ""]
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rows", type=int, default=8192)
    ap.add_argument("--pause", type=float, default=0.1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    a = ap.parse_args(argv)
    start = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    machine = machine_record()
    blas = blas_record(numpy_blas())
    results = []
    for sizes, batch in CASES:
        X, y = data(sizes, a.rows)
        for opt in ("sgd", "adam"):
            r = measure(sizes, batch, opt, X, y, a.reps, a.pause)
            results.append(r)
            print("\n".join(table(r)), flush=True)
    load_end = list(os.getloadavg())
    head = ["# Where an epoch's microseconds go (`python bench/profile_epoch.py`)", "",
            f"- date: {start}; {a.rows:,} rows, float32, medians of {a.reps} interleaved "
            "repetitions after a warm-up",
            f"- CPU: {machine['cpu']} ({machine['cpus_available']} of {machine['cpu_count']} "
            f"CPUs available); OPENBLAS_CORETYPE={machine['openblas_coretype']}",
            f"- numpy {np.__version__}, BLAS: {blas['internal_api']} {blas['version']} "
            f"({blas['architecture']} kernels, threading {blas['threading_layer']}, "
            f"{blas['num_threads']} threads by default)",
            f"- handgrad: {json.dumps(handgrad_source())}",
            f"- load average (1, 5, 15 min) at start {machine['loadavg_at_start']}, "
            f"at end {[round(v, 2) for v in load_end]}. **The machine is shared**: other "
            "processes may have run during the measurement; compare rows of one run only.",
            "", "| network, optimizer, batch | " + " | ".join(PARTS)
            + " | epoch (instr.) | epoch (plain) | floor | plain/floor |",
            "|---" * (len(PARTS) + 5) + "|"]
    for r in results:
        us = 1e6 / r["steps"]
        head.append(f"| {'-'.join(map(str, r['sizes']))} {r['optimizer']} {r['batch']} | "
                    + " | ".join(f"{r['parts'][k] * us:.1f}" for k in PARTS)
                    + f" | {r['seconds']['instrumented'] * us:.1f} | {r['seconds']['plain'] * us:.1f}"
                    f" | {r['seconds']['floor'] * us:.1f} | "
                    f"{r['seconds']['plain'] / r['seconds']['floor']:.2f} |")
    head += ["", "(µs per step; per-configuration tables below.)", ""]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    body = [line for r in results for line in table(r)]
    (out / "profile_epoch.md").write_text("\n".join(head + body) + "\n")
    (out / "profile_epoch.json").write_text(json.dumps(
        {"date": start, "machine": machine, "loadavg_at_end": load_end, "numpy": np.__version__,
         "numpy_blas": blas, "handgrad": handgrad_source(), "results": results}, indent=1))
    print("\n".join(head))
    print(f"wrote {out / 'profile_epoch.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
