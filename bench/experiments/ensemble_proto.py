"""Experiment (issue 25, before building it): how much would an ensemble of networks with
sampled settings, chosen by greedy selection on out-of-fold predictions, gain over the single
default network? On the regression panel's splits, in one process.

    python bench/experiments/ensemble_proto.py --tables hitters,carseats --members 8

Per table and seed: each of K settings (the default first, then seeded draws of activation,
width, L2 and learning rate) is cross-validated on the training rows as `handgrad train` does
(5 rank-stratified folds, early stopping on each fold's held-out part), its out-of-fold
predictions kept; Caruana's greedy selection with replacement picks weights on them; each
chosen setting is trained again on all rows for the median of its folds' best epochs; the test
prediction is the weighted mean. Also scored: the default alone, the plain mean of all K, and
the 'oracle' best single setting on the test part (an upper bound, not a method)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from regression_panel import PANEL, export, split  # noqa: E402
from tabular_common import read  # noqa: E402


def settings(k: int, seed: int, width: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = [{"activation": "tanh", "hidden_sizes": [width], "l2": 1e-4, "lr": 1e-3}]
    while len(out) < k:
        out.append({"activation": str(rng.choice(["relu", "tanh"])),
                    "hidden_sizes": [int(rng.choice([max(32, width // 2), width, min(512, 2 * width)]))]
                    * int(rng.choice([1, 1, 2])),
                    "l2": float(10 ** rng.uniform(-5, -2)), "lr": float(10 ** rng.uniform(-3.5, -2.3))})
    return out


def caruana(oof: np.ndarray, y: np.ndarray, rounds: int = 25) -> np.ndarray:
    """Weights (K,) by greedy forward selection with replacement of the mean of the chosen
    columns of ``oof`` (n, K) minimising the squared error against ``y``."""
    n, K = oof.shape
    counts = np.zeros(K)
    current = np.zeros(n)
    for r in range(rounds):
        trial = (current * r + oof.T) / (r + 1)             # (K, n): adding each member once more
        err = ((trial - y) ** 2).mean(axis=1)
        k = int(np.argmin(err))
        counts[k] += 1
        current = trial[k]
    return counts / counts.sum()


def run_table(name, tmp, seeds, K):
    from handgrad.data import load_table_frame
    from handgrad.model.crossval import _fit_runs
    from handgrad.model.once import auto_width, encoded_width, prepare_run, train_once
    from handgrad.training.splits import rank_strata, stratified_folds

    path, target = export(name, tmp)
    raw = read(path)
    rows = []
    for seed in range(seeds):
        train, test = split(raw, target, seed)
        train.to_csv(tmp / "train.csv", index=False)
        test.to_csv(tmp / "test.csv", index=False)
        tr = load_table_frame(tmp / "train.csv", target, task="regression")
        te = load_table_frame(tmp / "test.csv", target, task="regression")
        X, y = tr.frame, tr.y
        t0 = time.perf_counter()
        width = auto_width(encoded_width(X, {}))
        cfgs = settings(K, seed, width)
        folds = stratified_folds(rank_strata(y, 5), 5, seed)
        oof = np.zeros((len(y), K))
        epochs = []
        for k, cfg in enumerate(cfgs):
            runs = [prepare_run(X.iloc[keep], y[keep], X_val=X.iloc[held], y_val=y[held], seed=seed,
                                task="regression", **cfg) for keep, held in folds]
            hist = _fit_runs(runs)
            for (keep, held), run in zip(folds, runs):
                oof[held, k] = run.target.inverse(run.net.predict(run.X_val))
            epochs.append(int(np.ceil(np.median([h.best_epoch or len(h.epochs) for h in hist]))))
        w = caruana(oof, y)
        preds = np.zeros((len(te.y), K))
        for k, cfg in enumerate(cfgs):
            m = train_once(X, y, task="regression", seed=seed, validation_fraction=0.0, patience=None,
                           epochs=epochs[k], **cfg)
            preds[:, k] = m.predict(te.frame[list(m.input_columns)])
        seconds = time.perf_counter() - t0

        def r2(p):
            return 1 - ((p - te.y) ** 2).sum() / ((te.y - te.y.mean()) ** 2).sum()

        rows.append({"default": r2(preds[:, 0]), "selected": r2(preds @ w), "mean": r2(preds.mean(axis=1)),
                     "oracle": max(r2(preds[:, k]) for k in range(K)), "chosen": int((w > 0).sum()),
                     "seconds": seconds})
    agg = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    print(f"{name:13s} " + "  ".join(f"{k} {v:.4f}" if k not in ("seconds", "chosen") else f"{k} {v:.1f}"
                                      for k, v in agg.items()), flush=True)
    return agg


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", default=",".join(PANEL))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--members", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = {n: run_table(n, Path(tmp), args.seeds, args.members) for n in args.tables.split(",")}
    for key in ("default", "selected", "mean", "oracle"):
        print(key, round(float(np.mean([r[key] for r in res.values()])), 4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
