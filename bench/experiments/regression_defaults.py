"""Experiment: variants of handgrad's regression defaults on bench/tabular_regression.py's panel,
the same splits, in one process (what `handgrad train --data train.csv --target Y` trains,
through handgrad.model.classifier.train_model, without the process start-up or plots).

    python bench/experiments/regression_defaults.py --variants base,l2_1e3 [--tables a,b] [--seeds 3]

Prints per table the 3-seed mean test R² of each variant and the panel mean; with --json, the
raw numbers. Variants are named option sets (VARIANTS below); used to choose the defaults."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from regression_panel import PANEL, export, split  # noqa: E402
from tabular_common import read  # noqa: E402

VARIANTS = {
    "base": {},
    "l2_1e3": {"l2": 1e-3},
    "l2_1e2": {"l2": 1e-2},
    "log": {"target_transform": "log"},
    "std": {"target_transform": "standardize"},
    "relu_std": {"activation": "relu", "target_transform": "standardize"},
    "huber": {"loss": "huber"},
    "wide": {"hidden_sizes": [256]},
    "two": {"hidden_sizes": [128, 128]},
    "lr3e3": {"lr": 3e-3},
    "b64": {"batch_size": 64},
    "tanh": {"activation": "tanh"},
    "tanh_l2_1e3": {"activation": "tanh", "l2": 1e-3},
    "tanh_l2_1e2": {"activation": "tanh", "l2": 1e-2},
}


def main() -> int:
    from handgrad.data import load_table_frame
    from handgrad.model.classifier import train_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="base")
    ap.add_argument("--tables", default=",".join(PANEL))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    variants = args.variants.split(",")
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in args.tables.split(","):
            path, target = export(name, tmp)
            raw = read(path)
            for seed in range(args.seeds):
                train, test = split(raw, target, seed)
                train.to_csv(tmp / "train.csv", index=False)
                test.to_csv(tmp / "test.csv", index=False)
                tr = load_table_frame(tmp / "train.csv", target, task="auto")
                if tr.task != "regression":
                    tr = load_table_frame(tmp / "train.csv", target, task="regression")
                te = load_table_frame(tmp / "test.csv", target, task="regression")
                for v in variants:
                    opts = {"task": "regression", "seed": seed, **VARIANTS.get(v, {})}
                    t0 = time.perf_counter()
                    try:
                        if v.startswith("avg_"):  # the mean of the named variants' predictions
                            from handgrad.training.evaluation import regression_metrics, regression_sums_of

                            preds = []
                            for part in v[4:].split("+"):
                                model = train_model(tr.frame, tr.y, **{**opts, **VARIANTS[part]})
                                preds.append(model.predict(te.frame[list(model.input_columns)]))
                            r2 = regression_metrics(regression_sums_of(np.mean(preds, axis=0), te.y), len(te.y))["r2"]
                        else:
                            model = train_model(tr.frame, tr.y, **opts)
                            r2 = model.score(te.frame[list(model.input_columns)], te.y)
                    except ValueError:  # a variant that does not apply (the log of a zero)
                        r2 = float("nan")
                    results.setdefault(name, {}).setdefault(v, []).append((r2, time.perf_counter() - t0))
            row = "  ".join(f"{v} {np.mean([r for r, _ in results[name][v]]):.4f} "
                            f"({np.mean([s for _, s in results[name][v]]):.1f}s)" for v in variants)
            print(f"{name:14s} {row}", flush=True)
    means = {v: np.mean([np.mean([r for r, _ in results[n][v]]) for n in results]) for v in variants}
    print("mean          ", "  ".join(f"{v} {m:.4f}" for v, m in means.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
