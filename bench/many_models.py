"""Many models for the price of few: ``handgrad.fit_many`` against one ``fit`` and against K
``fit`` calls one after another, on small data, side by side in one run.

Usage (from the repository root)::

    python bench/many_models.py [--reps 3] [--out bench/results]

Data: scikit-learn's digits (1,797 × 64, 10 classes; network 64 → 128 → 10, the CLI's default
width), breast_cancer (569 × 30, 2 classes; 30 → 64 → 2) and a 5,000-row table
(``make_classification``, 20 features, 3 classes; 20 → 64 → 3). Inputs standardised, float32,
ReLU, Adam, batch 32, a 20% validation part (each model its own seeded split).

* **grid**: the 16 configurations of a small grid search — learning rate {3e-4, 1e-3, 3e-3,
  1e-2} × L2 {1e-4, 1e-3} × seed {0, 1} — each with early stopping (patience 10, at most 200
  epochs), trained by one ``fit_many`` call; against one ``fit`` of the default configuration
  (lr 1e-3, L2 1e-4, seed 0) and the 16 ``fit`` calls in a row. Target (issue 18): 16
  configurations in ≤ 4 × one fit.
* **curve**: K = 1, 2, 4, 8, 16, 32 seeds of the default configuration for 30 epochs, no early
  stopping: the time of ``fit_many`` over the time of one ``fit`` of the same 30 epochs; a plot
  (``many_models.png``).

Interleaved timing (``bench.speed.protocol.interleaved``: a warm-up round, then ``--reps``
rounds, ``gc.collect()`` before each call); medians. Each grid run also records the largest
difference between a model trained by ``fit_many`` and the same model trained by ``fit``
(float32: rounding; float64 equality is tested in tests/test_fit_many.py). Writes
``many_models.md``, ``many_models.json`` and ``many_models.png`` into ``--out``, with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:          # `python bench/many_models.py` puts bench/ first
    sys.path.insert(0, str(ROOT))

import handgrad as hg
from bench.benchenv import machine_record, machine_sentence, run_record
from bench.speed.protocol import interleaved

GRID = [dict(lr=lr, l2=l2, seed=seed) for lr in (3e-4, 1e-3, 3e-3, 1e-2) for l2 in (1e-4, 1e-3)
        for seed in (0, 1)]
DEFAULT = dict(lr=1e-3, l2=1e-4, seed=0)
CURVE_K = (1, 2, 4, 8, 16, 32)
TARGET = 4.0
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def datasets() -> dict:
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification

    out = {}
    for name, (X, y), width in [("digits", load_digits(return_X_y=True), 128),
                                ("breast_cancer", load_breast_cancer(return_X_y=True), 64),
                                ("table_5k", make_classification(5000, 20, n_informative=10,
                                                                 n_classes=3, random_state=0), 64)]:
        X = ((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)).astype(np.float32)
        out[name] = (X, y.astype(int), [X.shape[1], width, int(y.max()) + 1])
    return out


def _nets(sizes, configs):
    return [hg.MLP(sizes, l2=c["l2"], seed=c["seed"]) for c in configs]


def grid_part(X, y, sizes, reps: int) -> dict:
    kw = dict(epochs=200, batch_size=32, validation_fraction=0.2, patience=10)
    lrs, seeds = [c["lr"] for c in GRID], [c["seed"] for c in GRID]
    last = {}

    def together():
        nets = _nets(sizes, GRID)
        last["histories"] = hg.fit_many(nets, X, y, lr=lrs, seed=seeds, **kw)
        last["nets"] = nets

    def together_workers():
        hg.fit_many(_nets(sizes, GRID), X, y, lr=lrs, seed=seeds, workers="auto", **kw)

    def one():
        hg.fit(_nets(sizes, [DEFAULT])[0], X, y, lr=DEFAULT["lr"], seed=DEFAULT["seed"],
               diagnostics=False, **kw)

    def in_a_row():
        nets = _nets(sizes, GRID)
        for n, c in zip(nets, GRID):
            hg.fit(n, X, y, lr=c["lr"], seed=c["seed"], diagnostics=False, **kw)
        last["alone"] = nets

    times = interleaved({"fit_many": together, "fit_many_workers": together_workers, "one_fit": one,
                         "fits_in_a_row": in_a_row}, reps)
    med = {k: statistics.median(v) for k, v in times.items()}
    diff = max(float(np.abs(a.flat - b.flat).max() / np.abs(b.flat).max())
               for a, b in zip(last["nets"], last["alone"]))
    epochs = [len(h) for h in last["histories"]]
    return {"times": times, "median": med, "ratio_vs_one_fit": med["fit_many"] / med["one_fit"],
            "workers_ratio_vs_one_fit": med["fit_many_workers"] / med["one_fit"],
            "mean_fit": med["fits_in_a_row"] / len(GRID),
            "speedup_vs_in_a_row": med["fits_in_a_row"] / med["fit_many"],
            "epochs_run": epochs, "max_rel_weight_diff_float32": diff}


def curve_part(X, y, sizes, reps: int) -> dict:
    kw = dict(epochs=30, batch_size=32, validation_fraction=0.2, patience=None)
    fns = {"one_fit": lambda: hg.fit(hg.MLP(sizes, l2=1e-4, seed=0), X, y, lr=1e-3, seed=0,
                                     diagnostics=False, **kw)}
    for k in CURVE_K:
        for workers in (1, "auto"):
            fns[f"K={k} workers={workers}"] = (lambda k=k, w=workers: hg.fit_many(
                [hg.MLP(sizes, l2=1e-4, seed=s) for s in range(k)], X, y, lr=1e-3,
                seed=list(range(k)), workers=w, **kw))
    times = interleaved(fns, reps)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"times": times, "median": med,
            "ratio": {k: med[f"K={k} workers=1"] / med["one_fit"] for k in CURVE_K},
            "ratio_workers": {k: med[f"K={k} workers=auto"] / med["one_fit"] for k in CURVE_K}}


def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ks = np.array(CURVE_K)
    for name, r in results.items():
        for key, style, what in (("ratio", "-", "1 process"), ("ratio_workers", "--", f"{CORES} processes")):
            ratio = np.array([r["curve"][key][k] for k in CURVE_K])
            ax.plot(ks, ks / ratio, marker="o", ls=style, label=f"{name} {r['sizes']}, {what}")
    ax.plot(ks, ks, ls=":", color="grey", label="ideal (K models for the price of one)")
    ax.axhline(1, color="black", lw=0.5)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("K models trained together (fit_many)")
    ax.set_ylabel("speed-up over K fits one after another")
    ax.set_title("fit_many: 30 epochs, batch 32, Adam, float32")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_record()
    results = {}
    for name, (X, y, sizes) in datasets().items():
        print(f"{name} {sizes} ...", file=sys.stderr, flush=True)
        results[name] = {"sizes": sizes, "rows": int(X.shape[0]),
                         "grid": grid_part(X, y, sizes, args.reps),
                         "curve": curve_part(X, y, sizes, args.reps)}
    record = run_record(machine, reps=args.reps, results=results)
    (out / "many_models.json").write_text(json.dumps(record, indent=1, default=float))
    plot(results, out / "many_models.png")
    (out / "many_models.md").write_text(report(record))
    print(report(record))
    return 0


def report(rec: dict) -> str:
    lines = [f"# fit_many: many models for the price of few ({rec['date']})", "",
             f"{machine_sentence(rec)} Medians of "
             f"{rec['reps']} interleaved repetitions.", "",
             "## 16 configurations (lr × L2 × seed), early stopping, one call", "",
             "One fit: the default configuration (lr 1e-3, L2 1e-4, seed 0) alone; mean fit: the 16 fits "
             "in a row / 16 (the slow learning rates run longer before early stopping ends them). "
             f"fit_many in 1 process, and split over the {CORES} cores (`workers=\"auto\"`).", "",
             "| data | network | one fit | mean fit | 16 fits in a row | fit_many | fit_many / one fit "
             f"(target ≤ {TARGET:g}) | fit_many, {CORES} processes | ÷ one fit | ÷ mean fit | epochs run | "
             "max rel. diff fit_many vs fit (float32) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rec["results"].items():
        g = r["grid"]
        med = g["median"]
        lines.append(f"| {name} ({r['rows']} rows) | {'-'.join(map(str, r['sizes']))} | "
                     f"{med['one_fit']:.2f} s | {g['mean_fit']:.2f} s | {med['fits_in_a_row']:.2f} s | "
                     f"{med['fit_many']:.2f} s | {g['ratio_vs_one_fit']:.2f} | {med['fit_many_workers']:.2f} s | "
                     f"**{g['workers_ratio_vs_one_fit']:.2f}** | {med['fit_many_workers'] / g['mean_fit']:.2f} | "
                     f"{min(g['epochs_run'])}–{max(g['epochs_run'])} | {g['max_rel_weight_diff_float32']:.1e} |")
    lines += ["", "## K seeds, 30 epochs: time of fit_many(K) / time of one fit (same epochs)", "",
              "| data | processes | " + " | ".join(f"K={k}" for k in CURVE_K) + " |",
              "|---|---|" + "---|" * len(CURVE_K)]
    for name, r in rec["results"].items():
        for key, what in (("ratio", "1"), ("ratio_workers", f"auto ({CORES} cores)")):
            lines.append(f"| {name} | {what} | " + " | ".join(f"{r['curve'][key][k]:.2f}" for k in CURVE_K) + " |")
    lines += ["", "![speed-up](many_models.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
