"""The fastest any numpy implementation of scikit-learn's MLP training step could be.

Usage::

    python bench/numpy_floor.py [--repeats 5] [--out bench/results]

Issue 5 asks handgrad.sklearn's ``fit`` to take ≤ 0.5 × scikit-learn's time for sgd and adam.
This benchmark asks whether numpy allows that at all. For each classifier set of
bench/sklearn_parity.py (digits, breast_cancer, wine; seed 0's 75/25 split, standardised,
``hidden_layer_sizes=(100,)``, batches of 200, float64, one BLAS thread) it times, side by side
and interleaved:

* scikit-learn's ``MLPClassifier.fit`` (its run fixes the number of steps);
* handgrad.sklearn's ``MLPClassifier.fit`` (the same run, step for step);
* **GEMMs only**: the five matrix products of a step (``X W₁``, ``A₁ W₂``, ``A₁ᵀ δ₂``,
  ``δ₂ W₂ᵀ``, ``Xᵀ δ₁``), into preallocated arrays, in a straight loop, that many times;
* **GEMMs + unavoidable elementwise work**: the same, plus the elementwise passes the step
  needs as scikit-learn and handgrad formulate it — gathering the batch rows, the two bias
  additions, ReLU and its derivative (as ``Z ⊙ [Z > 0]``), the output (softmax: row max,
  subtract, exp, row sum, divide; or the logistic σ), δ = P − Y, the masked δ₁, both bias
  gradients (``1ᵀ δ``) and the optimizer's passes over the parameter vector (Nesterov
  momentum: 5, Adam: 8). Left out, so that this is a lower bound: the loss value, the L2
  term, the shuffle, the scaling by 1/m, the learning-rate and bias-correction bookkeeping,
  every Python-level branch and function call, and any check. (Folding the biases into the
  products through a column of ones would drop the bias additions and bias gradients —
  about 11 µs of a digits step, 0.03 of the ratio — at the price of strided arrays and
  one more row in each product; nothing else here can be left out.)

The "floor" ratios are these loops' times over scikit-learn's fit time. The numbers in the
loops are not a trained model (the weights are random and the gradient buffer is not
wired to the products); only their cost is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from handgrad.sklearn import MLPClassifier as HgMLP

DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer, "wine": load_wine}
HIDDEN, BATCH = 100, 200


def floor_loop(X: np.ndarray, n_out: int, solver: str):
    """-> run(steps, gemm_only): the straight-line step loop described in the docstring."""
    n, d = X.shape
    bs = min(BATCH, n)
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(size=(d, HIDDEN)) * 0.1, np.zeros(HIDDEN)
    W2, b2 = rng.normal(size=(HIDDEN, n_out)) * 0.1, np.zeros(n_out)
    G1, g1, G2, g2 = np.empty_like(W1), np.empty_like(b1), np.empty_like(W2), np.empty_like(b2)
    n_params = W1.size + HIDDEN + W2.size + n_out
    theta, grad = np.zeros(n_params), np.zeros(n_params)
    v, s, tmp = np.zeros(n_params), np.zeros(n_params), np.empty(n_params)
    Xb, Z1, D = np.empty((bs, d)), np.empty((bs, HIDDEN)), np.empty((bs, HIDDEN))
    Z2, dA, T = np.empty((bs, n_out)), np.empty((bs, HIDDEN)), np.zeros((bs, n_out))
    ones, mx, rs = np.ones(bs), np.empty((bs, 1)), np.empty((bs, 1))
    rows = np.arange(bs)

    def run(steps: int, gemm_only: bool) -> None:
        for _ in range(steps):
            if not gemm_only:
                np.take(X, rows, axis=0, out=Xb)
            np.matmul(Xb, W1, out=Z1)
            if not gemm_only:
                np.add(Z1, b1, out=Z1)
                np.multiply(Z1, np.greater(Z1, 0, out=D), out=Z1)
            np.matmul(Z1, W2, out=Z2)
            if not gemm_only:
                np.add(Z2, b2, out=Z2)
                if n_out == 1:          # σ(z) = 1 / (1 + e^{−z})
                    np.negative(Z2, out=Z2); np.exp(Z2, out=Z2)
                    np.add(Z2, 1, out=Z2); np.reciprocal(Z2, out=Z2)
                else:                   # softmax
                    np.max(Z2, axis=1, keepdims=True, out=mx); np.subtract(Z2, mx, out=Z2)
                    np.exp(Z2, out=Z2); np.sum(Z2, axis=1, keepdims=True, out=rs)
                    np.divide(Z2, rs, out=Z2)
                np.subtract(Z2, T, out=Z2)
            np.matmul(Z1.T, Z2, out=G2)
            np.matmul(Z2, W2.T, out=dA)
            if not gemm_only:
                np.matmul(ones, Z2, out=g2)
                np.multiply(dA, D, out=dA)
            np.matmul(Xb.T, dA, out=G1)
            if gemm_only:
                continue
            np.matmul(ones, dA, out=g1)
            if solver == "sgd":   # v ← μv − ηg; θ ← θ + μv − ηg
                np.multiply(v, 0.9, out=v); np.multiply(grad, 0.01, out=tmp)
                np.subtract(v, tmp, out=v); np.add(theta, v, out=theta)
                np.subtract(theta, tmp, out=theta)
            else:                 # m ← β₁m + (1−β₁)g; s ← β₂s + (1−β₂)g²; θ ← θ − η m/(√s + ε)
                np.multiply(v, 0.9, out=v); np.multiply(grad, 0.1, out=tmp); np.add(v, tmp, out=v)
                np.multiply(grad, grad, out=tmp); np.multiply(s, 0.999, out=s)
                np.add(s, tmp, out=s)
                np.sqrt(s, out=tmp); np.add(tmp, 1e-8, out=tmp); np.divide(v, tmp, out=tmp)
                np.subtract(theta, tmp, out=theta)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    with threadpool_limits(1):
        for name, load in DATASETS.items():
            X, y = load(return_X_y=True)
            X_tr, _, y_tr, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
            X_tr = StandardScaler().fit_transform(X_tr)
            n_classes = len(np.unique(y_tr))
            for solver in ("sgd", "adam"):
                kw = dict(hidden_layer_sizes=(HIDDEN,), max_iter=200, random_state=0, solver=solver)
                if solver == "sgd":
                    kw["learning_rate_init"] = 0.01
                ref = SkMLP(**kw).fit(X_tr, y_tr)  # warm-up; its run fixes the step count
                HgMLP(**kw).fit(X_tr, y_tr)
                steps = ref.n_iter_ * -(-X_tr.shape[0] // BATCH)
                run = floor_loop(X_tr, 1 if n_classes == 2 else n_classes, solver)
                run(20, False)
                times = {"scikit-learn": [], "handgrad": [], "gemm": [], "floor": []}
                for _ in range(args.repeats):
                    for key, fn in (("scikit-learn", lambda: SkMLP(**kw).fit(X_tr, y_tr)),
                                    ("handgrad", lambda: HgMLP(**kw).fit(X_tr, y_tr)),
                                    ("gemm", lambda: run(steps, True)),
                                    ("floor", lambda: run(steps, False))):
                        t0 = time.perf_counter()
                        fn()
                        times[key].append(time.perf_counter() - t0)
                med = {k: statistics.median(v) for k, v in times.items()}
                rows.append({"dataset": name, "solver": solver, "steps": steps, **med})
                print(f"{name:14s} {solver:4s} {steps:5d} steps: sklearn {med['scikit-learn']*1e3:6.1f} ms"
                      f" | handgrad {med['handgrad'] / med['scikit-learn']:.3f}"
                      f" | GEMMs only {med['gemm'] / med['scikit-learn']:.3f}"
                      f" | GEMMs + elementwise {med['floor'] / med['scikit-learn']:.3f}", file=sys.stderr)
    lines = ["# The numpy floor of scikit-learn's MLP step", "",
             f"- Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
             "- Produced by `python bench/numpy_floor.py` (see its docstring); medians of "
             f"{args.repeats} interleaved repeats, one BLAS thread, float64.", "",
             "Ratios are times over scikit-learn's `fit` (issue 5 asks for ≤ 0.5).", "",
             "| dataset | solver | steps | scikit-learn fit | handgrad fit | GEMMs only | GEMMs + unavoidable elementwise (floor) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        sk = r["scikit-learn"]
        lines.append(f"| {r['dataset']} | {r['solver']} | {r['steps']} | {sk*1e3:.1f} ms | "
                     f"{r['handgrad']*1e3:.1f} ms ({r['handgrad']/sk:.2f}) | {r['gemm']*1e3:.1f} ms "
                     f"({r['gemm']/sk:.2f}) | {r['floor']*1e3:.1f} ms ({r['floor']/sk:.2f}) |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "numpy_floor.md").write_text("\n".join(lines) + "\n")
    (out / "numpy_floor.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
