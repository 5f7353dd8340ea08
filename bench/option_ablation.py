"""One option against the defaults, through the CLI, on tables of the classification panel
(issue 25: a hand-derived addition stays out of the default unless the panel says so).

    python bench/option_ablation.py --option "--label-smoothing 0.1" --name label_smoothing_ablation \
        --tables penguins,carseats,oj,titanic,mroz,creditcard,attrition,arrowhead --seeds 3

Per table and seed: the panel's split (bench/tabular_panel.py) written to train.csv and
test.csv, then ``handgrad train --data train.csv --target T --test test.csv --no-plot --json
--seed S`` with no option and with ``--option``; the test accuracy of each. Writes
bench/results/NAME.{json,md} with the machine.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import regression_panel  # noqa: E402
import tabular_panel  # noqa: E402
from benchenv import machine_record  # noqa: E402
from tabular_common import HANDGRAD, read, run_process  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"
SCORES = ("accuracy", "balanced_accuracy", "log_loss", "ece", "r2", "rmse")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--option", required=True, help='the options to try, as one string ("--label-smoothing 0.1")')
    ap.add_argument("--name", required=True, help="results file name (NAME.md, NAME.json)")
    ap.add_argument("--tables", default="penguins,carseats,oj,titanic,mroz,creditcard,attrition,arrowhead")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--panel", default="classification", choices=["classification", "regression"],
                    help="the tables: bench/tabular_panel.py's or bench/regression_panel.py's")
    ap.add_argument("--score", default="accuracy", choices=SCORES,
                    help="the test part's score the table compares (lower is better for log_loss and ece)")
    args = ap.parse_args()
    extra = shlex.split(args.option)
    runs = []
    for name in args.tables.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"hg-opt-{name}-"))
        panel = regression_panel if args.panel == "regression" else tabular_panel
        path, target = panel.export(name, work)
        raw = read(path)
        for seed in range(args.seeds):
            train, test = panel.split(raw, target, seed)
            train.to_csv(work / "train.csv", index=False)
            test.to_csv(work / "test.csv", index=False)
            row = {"table": name, "seed": seed}
            for label, opts in (("default", []), ("option", extra)):
                cmd = [HANDGRAD, "train", "--data", str(work / "train.csv"), "--target", target, "--test",
                       str(work / "test.csv"), "--no-plot", "--json", "--quiet", "--seed", str(seed),
                       "--out-dir", str(work / f"out-{label}"), *opts]
                done, seconds = run_process(cmd, 900)
                ok = done is not None and done.returncode == 0
                test = json.loads(done.stdout)["test"] if ok else {}
                row[label] = {**{k: test.get(k) for k in SCORES}, "seconds": seconds, "status": "ok" if ok else
                              ("timeout" if done is None else done.stderr.strip().splitlines()[-1][:300])}
            runs.append(row)
            print(f"{name} seed {seed}: default {row['default'][args.score]}, {args.option} "
                  f"{row['option'][args.score]}", file=sys.stderr, flush=True)
    rec = {"machine": machine_record(), "option": args.option, "seeds": args.seeds, "score": args.score,
           "panel": args.panel,
           "date": time.strftime("%Y-%m-%d %H:%M %Z"), "runs": runs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(rec, indent=1, default=str))
    (out / f"{args.name}.md").write_text(render(rec))
    print(render(rec))
    return 0


def render(rec: dict) -> str:
    score = rec.get("score", "accuracy")
    lower = score in ("log_loss", "ece", "rmse")  # lower is better: the gain is the fall
    unit = "" if lower or score == "r2" else " (points)"
    lines = [f"# `{rec['option']}` against the defaults, through the CLI ({rec['date']}, {rec['seeds']} seeds)", "",
             f"- Machine: {rec['machine']}",
             f"- bench/option_ablation.py: `handgrad train --test test.csv` on the {rec.get('panel', 'classification')} panel's splits, "
             f"with no option and with the option; the test part's {score}, means over seeds"
             + (" (gain: how much lower it is with the option)" if lower else "") + ".", "",
             f"| table | default | with the option | gain{unit} |", "|---|---|---|---|"]
    gains = []
    for table in dict.fromkeys(r["table"] for r in rec["runs"]):
        rows = [r for r in rec["runs"] if r["table"] == table]
        if any(r[k].get(score) is None for r in rows for k in ("default", "option")):
            failed = [f"seed {r['seed']} {k}: {r[k]['status']}" for r in rows for k in ("default", "option")
                      if r[k].get(score) is None]
            lines.append(f"| {table} | — | — | failed: {'; '.join(failed)} |")
            continue
        a = np.mean([r["default"][score] for r in rows])
        b = np.mean([r["option"][score] for r in rows])
        gain = (a - b) if lower else (b - a) if score == "r2" else 100 * (b - a)
        gains.append(gain)
        lines.append(f"| {table} | {a:.4f} | {b:.4f} | {gain:+.{2 if unit else 4}f} |")
    if gains:
        lines += ["", f"Mean gain {np.mean(gains):+.{2 if unit else 4}f}{unit.replace('(', '').replace(')', '')}; better on {sum(g > 0 for g in gains)} of "
                      f"{len(gains)} tables, worse on {sum(g < 0 for g in gains)}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
