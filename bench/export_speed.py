"""ONNX Runtime on an exported handgrad model next to handgrad's own predict_proba.

One run, one machine: a digits-sized classifier (64 features standardised → 128 ReLU → 10
softmax, float32) predicting 1,000,000 rows, best of 3 timings for each engine, after one
warm-up call. Prints a Markdown table and writes it to bench/results/export_speed.md.

    python bench/export_speed.py [--rows 1000000] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

import handgrad as hg
from handgrad.data.preprocessing import Standardizer
from handgrad.export import to_onnx

from benchenv import cpu_model  # noqa: E402  (bench/ is the script's directory)


def best_of(fn, repeats=3) -> float:
    fn()  # warm-up: first-call allocations, thread pools
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(8.0, 4.0, size=(args.rows, 64)).astype(np.float32)
    net = hg.MLP([64, 128, 10], activation="relu", dtype="float32", seed=0)
    model = hg.Model(net, np.arange(10), scaler=Standardizer().fit(X[:10_000]))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    session = ort.InferenceSession(to_onnx(model).SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"])
    t_hg = best_of(lambda: model.predict_proba(X))
    t_ort = best_of(lambda: session.run(["probabilities"], {"X": X}))
    P_hg = model.predict_proba(X)
    (P_ort,) = session.run(["probabilities"], {"X": X})
    err = float(np.max(np.abs(P_ort - P_hg) / P_hg))
    rows = [("handgrad Model.predict_proba", t_hg), ("ONNX Runtime (exported)", t_ort)]
    lines = [f"# ONNX Runtime vs handgrad predict_proba ({args.rows:,} rows)", "",
             f"CPU: {cpu_model()} ({os.cpu_count()} logical cores, shared); Python "
             f"{platform.python_version()}, numpy {np.__version__}, onnxruntime {ort.__version__}, "
             f"handgrad {hg.__version__}; ORT intra-op threads: {args.threads or 'default'}.", "",
             "Model: 64 features (standardised) → 128 ReLU → 10 softmax, float32. Best of 3 after a "
             "warm-up, same process, same data.", "",
             "| engine | seconds | rows/s |", "|---|---:|---:|"]
    lines += [f"| {name} | {t:.3f} | {args.rows / t:,.0f} |" for name, t in rows]
    lines += ["", f"Largest relative difference of the probabilities: {err:.2e}.", "",
              "Command: `python bench/export_speed.py`" + (f" --rows {args.rows}" if args.rows != 1_000_000 else "")]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(__file__).parent / "results" / "export_speed.md"
    out.write_text(text)


if __name__ == "__main__":
    main()
