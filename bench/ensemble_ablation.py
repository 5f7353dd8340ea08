"""One network against an ensemble, through the CLI, on the classification and regression
panels' tables and splits (issue 25: whether ``--ensemble K`` earns its time, and so whether
it becomes the default).

    python bench/ensemble_ablation.py --seeds 3 --k 8            # both panels, every table
    python bench/ensemble_ablation.py --tables iris_like,diabetes --seeds 1

Per table and seed: the panel's split written to train.csv and test.csv (as bench/tabular.py
and bench/tabular_regression.py make them), then ``handgrad train --no-plot`` with
``--ensemble 1`` and with ``--ensemble K``, each a whole process, timed. Reported: the test
score (accuracy, or R²), the process seconds and their ratio, with the machine. Writes
bench/results/ensemble_ablation.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import regression_panel  # noqa: E402
import tabular_panel  # noqa: E402
from benchenv import machine_record  # noqa: E402
from tabular_common import handgrad_run, run_panel  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--k", type=int, default=8, help="members of the ensemble (default 8)")
    ap.add_argument("--tables", default=None, help="comma-separated; default every table of both panels")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    runs, infos = [], {}
    for kind, panel, metric in (("classification", tabular_panel, "accuracy"),
                                ("regression", regression_panel, "r2")):
        names = [n for n in panel.PANEL if args.tables is None or n in args.tables.split(",")]
        if not names:
            continue

        def one_split(work, train, test, target, seed, metric=metric):
            out = {}
            for k in (1, args.k):
                r = handgrad_run(work, target, seed, args.timeout, (metric,), ("--no-plot", "--ensemble", str(k)),
                                 evaluate=False)
                out[f"k{k}"] = {"score": r.get(metric), "seconds": r["seconds"], "status": r["status"]}
            return out

        def line(r, metric=metric):
            return f"{r['table']} seed {r['seed']}: " + "; ".join(
                f"{k} {v['score'] if v['score'] is None else round(v['score'], 4)} ({v['seconds']:.1f} s)"
                for k, v in r.items() if k.startswith("k"))

        got_infos, got = run_panel(names, args.seeds, "hg-ens", panel.export, panel.describe, panel.split,
                                   one_split, line)
        infos.update(got_infos)
        runs += [{**r, "kind": kind, "metric": metric} for r in got]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rec = {"machine": machine_record(), "k": args.k, "seeds": args.seeds, "runs": runs}
    (out / "ensemble_ablation.json").write_text(json.dumps(rec, indent=1, default=str))
    (out / "ensemble_ablation.md").write_text(render(rec))
    print(render(rec))
    return 0


def render(rec: dict) -> str:
    k = rec["k"]
    lines = [f"# One network against an ensemble of {k}, through the CLI ({rec['seeds']} seeds)", "",
             f"- Machine: {rec['machine']}", "- `handgrad train --no-plot --ensemble 1` and `--ensemble "
             f"{k}` on the panels' splits (bench/ensemble_ablation.py); score: test accuracy (classes) or "
             "R² (numbers), means over seeds; seconds: the whole train process.", "",
             f"| table | task | one network | ensemble of {k} | gain | seconds, one | seconds, ensemble | ratio |",
             "|---|---|---|---|---|---|---|---|"]
    # both panels have a penguins and a carseats table (another target each)
    tables = dict.fromkeys((r["kind"], r["table"]) for r in rec["runs"])
    gains, ratios = [], []
    for kind, t in tables:
        rs = [r for r in rec["runs"] if r["table"] == t and r["kind"] == kind]
        ok = [r for r in rs if r["k1"]["score"] is not None and r[f"k{k}"]["score"] is not None]
        if not ok:
            lines.append(f"| {t} | {rs[0]['kind']} | {rs[0]['k1']['status']} | {rs[0][f'k{k}']['status']} | | | | |")
            continue
        one = np.mean([r["k1"]["score"] for r in ok])
        ens = np.mean([r[f"k{k}"]["score"] for r in ok])
        s1 = np.mean([r["k1"]["seconds"] for r in ok])
        sk = np.mean([r[f"k{k}"]["seconds"] for r in ok])
        gains.append(ens - one)
        ratios.append(sk / s1)
        lines.append(f"| {t} | {rs[0]['kind']} | {one:.4f} | {ens:.4f} | {ens - one:+.4f} | {s1:.1f} | {sk:.1f} | "
                     f"{sk / s1:.2f} |")
    if gains:
        lines += ["", f"Mean gain {np.mean(gains):+.4f} (better on {sum(g > 0 for g in gains)} of {len(gains)} "
                  f"tables, worse on {sum(g < 0 for g in gains)}); time ratio mean {np.mean(ratios):.2f}, "
                  f"max {np.max(ratios):.2f}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
