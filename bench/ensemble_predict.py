"""Predicting with an ensemble against one network (issue 25: "predicting 100k rows ≤ 3× one
network's time"), side by side in one run.

    python bench/ensemble_predict.py [--rows 100000] [--repeats 5]

Trains, on a table with numeric and text columns and missing cells (20,000 rows), one network
(``--ensemble 1``) and an ensemble (``--ensemble 8``) through the CLI, then times
``handgrad predict`` on a 100,000-row CSV of the same columns (whole processes: reading,
encoding, every member's forward pass, writing) and ``Model.predict`` in process (the
forward passes and the encoding alone), alternating the two models, median of ``--repeats``.
Writes bench/results/ensemble_predict.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchenv import machine_record  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
HANDGRAD = [sys.executable, "-m", "handgrad"]


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({f"x{i}": rng.normal(size=n).round(4) for i in range(12)})
    f["colour"] = rng.choice(["red", "green", "blue", "grey"], n)
    f["size"] = rng.choice(["S", "M", "L"], n)
    f.loc[rng.random(n) < 0.05, "x3"] = np.nan
    score = f.x0 + np.sin(f.x1) + (f.colour == "red") - 0.5 * f.x2 * f.x4
    f["kind"] = np.where(score > score.median(), "yes", "no")
    return f


def timed(argv) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    from handgrad.model.files import load_model

    work = Path(tempfile.mkdtemp(prefix="hg-ens-predict-"))
    table(20_000, 0).to_csv(work / "train.csv", index=False)
    new = table(args.rows, 1).drop(columns="kind")
    new.to_csv(work / "new.csv", index=False)
    models = {}
    for k in (1, 8):
        subprocess.run([*HANDGRAD, "train", "--data", str(work / "train.csv"), "--target", "kind", "--ensemble",
                        str(k), "--no-plot", "--quiet", "--out-dir", str(work / f"k{k}")], check=True)
        models[k] = work / f"k{k}" / "model.safetensors"
    import dataclasses

    from handgrad.model.files import save_model

    loaded = {k: load_model(p) for k, p in models.items()}
    # the worst case: every one of the 8 members kept (the kept ones repeated, equal weights)
    ens = loaded[8]
    nets = [ens.networks[i % len(ens.networks)] for i in range(8)]
    loaded["all 8"] = dataclasses.replace(ens, net=nets[0], members=nets[1:], member_weights=np.full(8, 1 / 8))
    models["all 8"] = work / "all8.safetensors"
    save_model(loaded["all 8"], models["all 8"])
    proc, inproc = {k: [] for k in models}, {k: [] for k in models}
    for _ in range(args.repeats):
        for k in models:
            proc[k].append(timed([*HANDGRAD, "predict", str(models[k]), "--data", str(work / "new.csv"),
                                  "--out", str(work / f"p{k}.csv".replace(" ", ""))]))
            t0 = time.perf_counter()
            loaded[k].predict_proba(new)
            inproc[k].append(time.perf_counter() - t0)
    rec = {"machine": machine_record(), "rows": args.rows, "repeats": args.repeats,
           "members": {k: len(m.networks) for k, m in loaded.items()},
           "sizes": {k: [n.sizes for n in m.networks] for k, m in loaded.items()},
           "predict_process_s": proc, "predict_proba_in_process_s": inproc}
    med = {name: {k: float(np.median(v)) for k, v in d.items()} for name, d in
           (("process", proc), ("in process", inproc))}
    md = [f"# Predicting {args.rows:,} rows: an ensemble against one network", "",
          f"- Machine: {rec['machine']}",
          f"- bench/ensemble_predict.py: a 20,000-row table (12 numeric columns, 2 text, 5 % empty cells in "
          f"one) trained with `--ensemble 1` and `--ensemble 8`; the ensemble kept {rec['members'][8]} networks "
          f"({', '.join(str(s) for s in rec['sizes'][8])}); medians of {args.repeats}, the two models alternating.", "",
          "| | one network (s) | the ensemble (s) | ratio | all 8 members kept (s) | ratio |",
          "|---|---|---|---|---|---|"]
    for name in ("process", "in process"):
        one, ens, worst = med[name][1], med[name][8], med[name]["all 8"]
        label = "`handgrad predict` process" if name == "process" else "`Model.predict_proba` in process"
        md.append(f"| {label} | {one:.2f} | {ens:.2f} | {ens / one:.2f} | {worst:.2f} | {worst / one:.2f} |")
    Path(args.out, "ensemble_predict.json").write_text(json.dumps(rec, indent=1, default=str))
    Path(args.out, "ensemble_predict.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
