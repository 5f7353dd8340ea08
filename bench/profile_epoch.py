"""Where the time of one training epoch goes: a cProfile of ``handgrad.fit``, grouped.

Usage::

    python bench/profile_epoch.py [--batch 128] [--optimizer sgd] [--repo-path DIR]

One epoch of the 784-256-128-10 ReLU MLP on 60,000 synthetic float32 rows (the speed
benchmark's part (a)), after a warm-up epoch, under cProfile. Each profiled function's own
time (``tottime``) is put in one group — matrix products (the GEMMs and the bias add that
sits in the same function), the fused loss, activations and masks, the optimizer, input
checks, the rest — and the groups are printed as a table, with the GEMM floor of the same
epoch (the products alone, preallocated) for scale. cProfile adds a few microseconds per
call, so the "rest" is inflated a little; compare groups, not the total, with `python -m bench.speed`.

``--repo-path`` profiles another checkout's ``src`` (e.g. an older commit, checked out with
``git worktree add``) to compare before and after.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

# (label, substrings of "file:function"): matrix products run inside numpy's matmul ufunc, which
# cProfile does not see as a call of its own, so their time is counted in the functions that
# call them (fast/step.py's forward and backward)
GROUPS = [
    ("matrix products (+ bias add, inside fast.step's forward/backward)",
     ("step.py:forward", "step.py:backward", "gemm_tn", "gemv_t", "matmul")),
    ("fused loss (softmax + cross-entropy)", ("softmax_cross_entropy", "log_softmax", "logsumexp",
                                              "row_max", "row_sum", "check_targets",
                                              "binary_cross_entropy", "squared_error")),
    ("activations and their derivatives", ("derivative_into", "forward_into", "kernels.py:<lambda>",
                                           "relu", "leaky", "sigmoid", "tanh")),
    ("optimizer update", ("optim.py:step", "axpy", "scal")),
    ("input checks (once per fit)", ("check_matrix", "check_shape", "first_non_finite", "check_X",
                                     "check_y", "check_finite", "isfinite")),
    ("accuracy bookkeeping", ("n_correct", "argmax", "count_nonzero")),
]


def group_of(name: str) -> str:
    for label, keys in GROUPS:
        if any(k in name for k in keys):
            return label
    return "the rest (Python glue, numpy calls, loop)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--optimizer", default="sgd")
    ap.add_argument("--repo-path", default=None)
    args = ap.parse_args()
    if args.repo_path:
        sys.path.insert(0, f"{args.repo_path}/src")
    import numpy as np

    import handgrad as hg

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60_000, 784), dtype=np.float32)
    y = np.argmax(X @ np.random.default_rng(1).standard_normal((784, 10)).astype(np.float32), axis=1)
    net = hg.MLP([784, 256, 128, 10], seed=0)
    kw = dict(epochs=1, batch_size=args.batch, optimizer=args.optimizer, lr=0.01 if args.optimizer == "sgd" else 1e-3,
              shuffle=False, diagnostics=False)
    if args.optimizer == "sgd":
        kw["momentum"] = 0.0
    hg.fit(net, X, y, **kw)  # warm-up
    t0 = time.perf_counter()
    hg.fit(net, X, y, **kw)
    plain = time.perf_counter() - t0
    prof = cProfile.Profile()
    prof.enable()
    hg.fit(net, X, y, **kw)
    prof.disable()
    stats = pstats.Stats(prof).stats
    totals: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.items():
        key = group_of(f"{filename.rsplit('/', 1)[-1]}:{func}")
        totals[key] = totals.get(key, 0.0) + tottime
    whole = sum(totals.values())
    print(f"handgrad {hg.__version__} from {hg.__file__}")
    print(f"one {args.optimizer} epoch at batch {args.batch}: {plain:.3f} s unprofiled, {whole:.3f} s profiled\n")
    print("| where | seconds | share |")
    print("|---|---|---|")
    for label, sec in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"| {label} | {sec:.3f} | {sec / whole:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
