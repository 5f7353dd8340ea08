"""Training runs that tests/test_distributed.py runs both in one process and over MPI ranks.

As a script, under ``mpiexec -n N python tests/distributed_cases.py OUT.npz CASE...``: every
rank trains each case with ``data_parallel=DataParallel()``; rank 0 writes the final weights
and the history's numbers to OUT.npz (``CASE/flat``, ``CASE/history``). Options: see main().
"""

from __future__ import annotations

import json
import sys

import numpy as np

import handgrad as hg

# the global batch sizes do not divide evenly by 2 or 3 ranks (and 203 rows leave a short last
# batch); "tiny_batch" has fewer rows per step than 3 ranks, so a rank's shard can be empty
CASES = {
    "adam64": dict(dtype="float64", optimizer="adam", batch_size=32, l2=1e-3, epochs=6,
                   validation_fraction=0.2, patience=3, class_weight="balanced", weights=True),
    "sgd64": dict(dtype="float64", optimizer="sgd", lr=0.05, momentum=0.9, batch_size=31,
                  l2=1e-3, epochs=6),
    "plain_sgd64": dict(dtype="float64", optimizer="sgd", lr=0.05, momentum=0.0, batch_size=25,
                        epochs=4, shuffle=False, validation_fraction=0.25,
                        monitor="val_macro_f1"),
    "tiny_batch64": dict(dtype="float64", optimizer="adam", batch_size=2, epochs=2, l2=1e-3),
    "regression64": dict(dtype="float64", optimizer="adam", batch_size=17, epochs=5, l2=1e-4,
                         output="identity", validation_fraction=0.2),
    "long64": dict(dtype="float64", optimizer="adam", batch_size=16, l2=1e-3, epochs=12,
                   validation_fraction=0.2),
    "adam32": dict(dtype="float32", optimizer="adam", batch_size=32, l2=1e-3, epochs=6,
                   validation_fraction=0.2, weights=True),
}
N_ROWS = 203


def data(case: dict):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N_ROWS, 6))
    if case.get("output") == "identity":
        y = np.stack([X[:, 0] - X[:, 1] * X[:, 2], np.sin(X[:, 3])], axis=1)
    else:
        y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 0.8)
    w = rng.uniform(0.5, 2.0, size=N_ROWS) if case.get("weights") else None
    return X, y, w


def train(name: str, data_parallel=None, **extra):
    """(net, history) of case ``name``."""
    case = dict(CASES[name])
    X, y, w = data(case)
    output = case.pop("output", "softmax")
    n_out = y.shape[1] if output == "identity" else 3
    net = hg.MLP([6, 16, 8, n_out], activation="tanh", l2=case.pop("l2", 0.0),
                 dtype=case.pop("dtype"), seed=1, output=output)
    case.pop("weights", None)
    lr = case.pop("lr", 1e-2)
    history = hg.fit(net, X, y, sample_weight=w, lr=lr, seed=5, data_parallel=data_parallel,
                     **case, **extra)
    return net, history


def numbers(history) -> np.ndarray:
    """The history's losses and accuracies per epoch, NaN where absent."""
    keys = ("train_loss", "train_data_loss", "train_l2_loss", "train_accuracy", "val_loss",
            "val_accuracy")
    return np.array([[np.nan if e.get(k) is None else e[k] for k in keys] for e in history.epochs])


def main(argv) -> None:
    """``OUT CASE... [--checkpoint DIR [--resume]] [--mismatch] [--pid-dir DIR]``."""
    import argparse
    import os
    import time

    from handgrad.distributed import DataParallel

    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("names", nargs="+")
    parser.add_argument("--checkpoint")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--mismatch", action="store_true", help="rank 1 trains one epoch more")
    parser.add_argument("--pid-dir", help="write rank.pid files; slow epochs down to be killed")
    args = parser.parse_args(argv)
    dp = DataParallel()
    extra = {}
    if args.checkpoint:
        extra.update(checkpoint_dir=args.checkpoint, resume=args.resume)
    if args.pid_dir:
        with open(os.path.join(args.pid_dir, f"{dp.rank}.pid"), "w") as f:
            f.write(str(os.getpid()))
        extra["callbacks"] = [lambda record, net: time.sleep(0.3)]
    if args.mismatch and dp.rank == 1:
        CASES[args.names[0]]["epochs"] += 1
    result = {}
    try:
        for name in args.names:
            net, history = train(name, dp, **extra)
            result[f"{name}/flat"] = net.flat.copy()
            result[f"{name}/history"] = numbers(history)
            result[f"{name}/best_epoch"] = np.array(history.best_epoch or 0)
            result[f"{name}/record"] = np.array(json.dumps(history.data_parallel))
    except hg.InputError as exc:
        print(f"rank {dp.rank}: {exc}", flush=True)
        sys.exit(2)
    if dp.root:
        np.savez(args.out, **result)


if __name__ == "__main__":
    main(sys.argv[1:])
