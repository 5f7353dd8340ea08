"""Accuracy parity: handgrad vs PyTorch vs scikit-learn on the same MLP, side by side.

Usage::

    python bench/accuracy_parity.py [--seeds 5] [--epochs 100] [--out bench/results]

Protocol (identical for the three libraries unless said otherwise):

* Datasets: scikit-learn's digits, iris, wine and breast_cancer loaders.
* For every dataset and seed s in 0..seeds−1: a stratified 75/25 train/test split by
  ``sklearn.model_selection.train_test_split(stratify=y, random_state=s)`` (so all three
  libraries see exactly the same rows), then a ``StandardScaler`` fitted on the training part.
* Network: n_features → 100 ReLU → n_classes, softmax output with mean cross-entropy
  (scikit-learn's ``MLPClassifier`` default hidden layer).
* Optimizer: Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8, mini-batches of 32 (the last one
  smaller), 100 epochs, no early stopping, constant learning rate.
* L2 on the weights only (not the biases): scikit-learn ``alpha = 1e-4``; handgrad
  ``λ = l2_from_sklearn_alpha(1e-4, 32) = α/(2·32)`` (penalty ``λΣ‖W‖²`` in the loss);
  PyTorch ``weight_decay = l2_to_torch_weight_decay(λ) = 2λ`` in an Adam parameter group
  holding the weights only, with a second group (weight_decay 0) for the biases. Torch's
  Adam adds ``weight_decay·W`` to the gradient before the moment estimates (coupled L2, not
  AdamW), which is exactly the gradient of ``λΣ‖W‖²`` in the loss.
* dtype: float64 everywhere (scikit-learn computes in float64 for float64 input; handgrad
  and PyTorch are run in float64 too so that precision is not a variable).
* Each library keeps its own initialisation and its own shuffling, seeded by s.
* One thread for all three: ``torch.set_num_threads(1)`` and threadpoolctl's BLAS limit
  (numpy, hence handgrad and scikit-learn). The products are tiny, so more threads do not
  help; and on a shared 2-CPU machine PyTorch's two OpenMP threads ran digits ~40× slower
  whenever another process held a CPU, which made the timings meaningless.

Known differences that the protocol does not remove (they are the libraries' own choices):

* Initialisation: handgrad He-normal hidden weights, Glorot-uniform output weights, zero
  biases; PyTorch ``nn.Linear`` U(±1/√fan_in) for weights and biases; scikit-learn
  Glorot-uniform U(±√(6/(fan_in+fan_out))) for weights and biases.
* scikit-learn divides ``alpha`` by the number of rows in the actual batch, so on the last,
  smaller batch of an epoch its penalty is stronger than λ = α/(2·32); handgrad and PyTorch
  use the fixed λ on every batch.
* scikit-learn's Adam adds ε to √v rather than to √v̂ (the bias correction is folded into the
  step size); with ε = 1e-8 this only matters for near-zero second moments.
* For two classes (breast_cancer) scikit-learn uses one logistic output unit instead of a
  2-unit softmax: the same model family with fewer parameters and a different parametrisation.

Result: mean (± std over seeds) test accuracy per library and dataset, and whether handgrad
is within 1 point (0.01) of the better of the other two. The wall-clock training time per
library and dataset (summed over seeds, fit only, after one untimed warm-up fit per library)
is printed for information; it is not a target. The script exits with status 1 if handgrad is more than 1 point below the best
other library on any dataset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

import handgrad as hg
from handgrad.training.optim import Adam
from handgrad.core.regularization import l2_from_sklearn_alpha, l2_to_torch_weight_decay
from handgrad import fit

DATASETS = {
    "digits": load_digits,
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
}
LIBRARIES = ("handgrad", "torch", "sklearn")
LABELS = {"handgrad": "handgrad", "torch": "PyTorch", "sklearn": "scikit-learn"}
THRESHOLD = 0.01  # "within 1 point" of accuracy
THREADS = 1       # see the docstring


@dataclass(frozen=True)
class Protocol:
    hidden: int = 100
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    batch_size: int = 32
    epochs: int = 100
    alpha: float = 1e-4          # scikit-learn's L2 strength; the others are converted from it
    test_size: float = 0.25

    @property
    def l2(self) -> float:
        """handgrad's λ (penalty λΣ‖W‖² on the batch-mean loss)."""
        return l2_from_sklearn_alpha(self.alpha, self.batch_size)

    @property
    def weight_decay(self) -> float:
        """PyTorch's weight_decay on the weights: 2λ."""
        return l2_to_torch_weight_decay(self.l2)


@dataclass
class Run:
    """One library trained on one split: test accuracy, fit time, last-epoch training loss."""
    accuracy: float
    seconds: float
    final_train_loss: float


def split_and_scale(X, y, seed: int, test_size: float):
    """The stratified train/test split shared by all libraries, standardised on train."""
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, stratify=y,
                                              random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    return (scaler.transform(X_tr).astype(np.float64), scaler.transform(X_te).astype(np.float64),
            y_tr.astype(np.int64), y_te.astype(np.int64))


# ----- the three libraries ---------------------------------------------------------------------

def run_handgrad(X_tr, y_tr, X_te, y_te, seed: int, p: Protocol) -> Run:
    """handgrad MLP in float64; init and shuffling seeded by ``seed``."""
    n_classes = int(y_tr.max()) + 1
    t0 = time.perf_counter()
    net = hg.MLP([X_tr.shape[1], p.hidden, n_classes], activation="relu", l2=p.l2,
                 dtype="float64", seed=seed)
    opt = Adam(lr=p.lr, beta1=p.beta1, beta2=p.beta2, eps=p.eps)
    history = fit(net, X_tr, y_tr, epochs=p.epochs, batch_size=p.batch_size, optimizer=opt,
                  lr=p.lr, schedule="constant", seed=seed, diagnostics=False)
    seconds = time.perf_counter() - t0
    accuracy = float(np.mean(net.predict(X_te) == y_te))
    return Run(accuracy, seconds, history.epochs[-1]["train_loss"])


def run_torch(X_tr, y_tr, X_te, y_te, seed: int, p: Protocol) -> Run:
    """PyTorch eager on CPU in float64; L2 as weight_decay on a weights-only param group."""
    n_classes = int(y_tr.max()) + 1
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(X_tr.shape[1], p.hidden), torch.nn.ReLU(),
        torch.nn.Linear(p.hidden, n_classes),
    ).to(torch.float64)
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    biases = [m.bias for m in model if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.Adam([{"params": weights, "weight_decay": p.weight_decay},
                            {"params": biases, "weight_decay": 0.0}],
                           lr=p.lr, betas=(p.beta1, p.beta2), eps=p.eps)
    X, y = torch.from_numpy(X_tr), torch.from_numpy(y_tr)
    n = X.shape[0]
    shuffle = torch.Generator().manual_seed(seed)
    for _ in range(p.epochs):
        order = torch.randperm(n, generator=shuffle)
        total = 0.0
        for start in range(0, n, p.batch_size):
            rows = order[start:start + p.batch_size]
            loss = torch.nn.functional.cross_entropy(model(X[rows]), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * rows.numel()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        predicted = model(torch.from_numpy(X_te)).argmax(dim=1).numpy()
        # report the training loss like the others: data loss + λΣ‖W‖², averaged over the epoch
        l2 = p.l2 * sum(float((w ** 2).sum()) for w in weights)
    return Run(float(np.mean(predicted == y_te)), seconds, total / n + l2)


def run_sklearn(X_tr, y_tr, X_te, y_te, seed: int, p: Protocol) -> Run:
    """scikit-learn MLPClassifier, forced to run all epochs (no early stopping)."""
    t0 = time.perf_counter()
    clf = MLPClassifier(hidden_layer_sizes=(p.hidden,), activation="relu", solver="adam",
                        alpha=p.alpha, batch_size=p.batch_size, learning_rate="constant",
                        learning_rate_init=p.lr, beta_1=p.beta1, beta_2=p.beta2,
                        epsilon=p.eps, max_iter=p.epochs, shuffle=True, random_state=seed,
                        early_stopping=False, tol=0.0, n_iter_no_change=10**9)
    with warnings.catch_warnings():
        # max_iter is reached on purpose: that is the protocol, not a failure to converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_tr, y_tr)
    seconds = time.perf_counter() - t0
    if clf.n_iter_ != p.epochs:
        raise RuntimeError(f"scikit-learn stopped after {clf.n_iter_} epochs, not {p.epochs}")
    return Run(float(np.mean(clf.predict(X_te) == y_te)), seconds, float(clf.loss_))


RUNNERS = {"handgrad": run_handgrad, "torch": run_torch, "sklearn": run_sklearn}


# ----- running, summarising, reporting ---------------------------------------------------------

def warm_up(p: Protocol) -> None:
    """One untimed 1-epoch fit per library on iris, so that lazy imports, library loading and
    first-call set-up costs do not land in the first timed run."""
    X, y = load_iris(return_X_y=True)
    X_tr, X_te, y_tr, y_te = split_and_scale(X, y, 0, p.test_size)
    for runner in RUNNERS.values():
        runner(X_tr, y_tr, X_te, y_te, 0, replace(p, epochs=1))


def run_all(seeds: list[int], p: Protocol, log=print) -> dict:
    """Every dataset × seed × library; returns the raw per-seed results."""
    results = {}
    for name, loader in DATASETS.items():
        X, y = loader(return_X_y=True)
        runs = {lib: [] for lib in LIBRARIES}
        n_test = None
        for seed in seeds:
            X_tr, X_te, y_tr, y_te = split_and_scale(X, y, seed, p.test_size)
            n_test = len(y_te)
            for lib in LIBRARIES:
                runs[lib].append(RUNNERS[lib](X_tr, y_tr, X_te, y_te, seed, p))
            log(f"  {name:<14} seed {seed}: " + "  ".join(
                f"{LABELS[lib]} {runs[lib][-1].accuracy:.4f}" for lib in LIBRARIES), flush=True)
        results[name] = {
            "n_samples": int(X.shape[0]), "n_features": int(X.shape[1]),
            "n_classes": len(np.unique(y)), "n_train": int(X.shape[0] - n_test),
            "n_test": int(n_test),
            "seeds": seeds,
            "libraries": {lib: {
                "accuracy": [r.accuracy for r in runs[lib]],
                "fit_seconds": [r.seconds for r in runs[lib]],
                "final_train_loss": [r.final_train_loss for r in runs[lib]],
            } for lib in LIBRARIES},
        }
    return results


def summarise(results: dict) -> dict:
    """Per dataset: mean/std accuracy per library, the best other library, the verdict."""
    summary = {}
    for name, res in results.items():
        libs = res["libraries"]
        mean = {lib: statistics.fmean(libs[lib]["accuracy"]) for lib in LIBRARIES}
        std = {lib: statistics.pstdev(libs[lib]["accuracy"]) for lib in LIBRARIES}
        best = max(("torch", "sklearn"), key=lambda lib: mean[lib])
        diff = mean["handgrad"] - mean[best]
        summary[name] = {
            "mean": mean, "std": std, "best_other": best, "handgrad_minus_best": diff,
            # the tiny slack only absorbs float rounding of an exact −0.01
            "within_1pt": diff >= -THRESHOLD - 1e-12,
            "fit_seconds_total": {lib: sum(libs[lib]["fit_seconds"]) for lib in LIBRARIES},
        }
    return summary


def handgrad_revision() -> str:
    """The git commit of the handgrad checkout (with "+dirty" if src/ has local changes)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root,
                               text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def environment() -> dict:
    uname = platform.uname()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "processor": platform.processor() or uname.machine,
            "uname": f"{uname.system} {uname.release} {uname.version} {uname.machine}",
            "cpu_count": os.cpu_count(),
            "threads": {"torch": torch.get_num_threads(),
                        "blas": sorted({p["num_threads"] for p in threadpool_info()
                                        if p["user_api"] == "blas"})},
        },
        "versions": {
            "python": platform.python_version(),
            "handgrad": f"{hg.__version__} (git {handgrad_revision()})",
            "numpy": np.__version__, "scikit-learn": sklearn.__version__,
            "torch": torch.__version__,
        },
    }


def render_markdown(summary: dict, results: dict, env: dict, p: Protocol, seeds: list[int]) -> str:
    def acc(name, lib):
        s = summary[name]
        return f"{s['mean'][lib]:.4f} ± {s['std'][lib]:.4f}"

    m, v = env["machine"], env["versions"]
    lines = [
        "# Accuracy parity: handgrad vs PyTorch vs scikit-learn",
        "",
        f"- Date: {env['date']}",
        (f"- Machine: {m['processor']}; {m['uname']}; {m['cpu_count']} CPUs "
         f"(run on {m['threads']['torch']} torch thread, BLAS threads {m['threads']['blas']})"),
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        (f"- Protocol: stratified 75/25 split per seed (seeds {seeds[0]}..{seeds[-1]}), "
         f"StandardScaler on train; n_in → {p.hidden} ReLU → softmax; Adam lr {p.lr:g}, "
         f"betas ({p.beta1}, {p.beta2}), eps {p.eps:g}; batch {p.batch_size}; {p.epochs} "
         f"epochs, no early stopping; L2 on weights: sklearn alpha {p.alpha:g} = handgrad "
         f"λ {p.l2:g} = torch weight_decay {p.weight_decay:g} (weights-only param group); "
         "float64 in all three; each library's own init and shuffling. See the script's "
         "docstring."),
        "",
        f"Test accuracy, mean ± std over {len(seeds)} seeds:",
        "",
        "| dataset | handgrad | PyTorch | scikit-learn | best other | handgrad − best | within 1 pt? |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        lines.append(f"| {name} | {acc(name, 'handgrad')} | {acc(name, 'torch')} | "
                     f"{acc(name, 'sklearn')} | {LABELS[s['best_other']]} | "
                     f"{s['handgrad_minus_best'] * 100:+.2f} pt | "
                     f"{'yes' if s['within_1pt'] else 'NO'} |")
    lines += [
        "",
        "Test-set sizes (one test sample, as a share of the mean over seeds): " + "; ".join(
            f"{name} {r['n_test']} ({100 / (r['n_test'] * len(seeds)):.2f} pt)"
            for name, r in results.items()) + ".",
        "",
        ("Wall-clock training time in seconds, summed over seeds (fit only, one thread each, "
         "after an untimed warm-up fit; informational, not a target):"),
        "",
        "| dataset | handgrad | PyTorch | scikit-learn |",
        "|---|---|---|---|",
    ]
    for name, s in summary.items():
        t = s["fit_seconds_total"]
        lines.append(f"| {name} | {t['handgrad']:.2f} | {t['torch']:.2f} | {t['sklearn']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5, help="number of seeds, run as 0..N-1 (default 5)")
    ap.add_argument("--epochs", type=int, default=100, help="training epochs (default 100)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results",
                    help="directory for accuracy_parity.md and .json (default bench/results)")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.epochs < 1:
        ap.error("--seeds and --epochs must be ≥ 1")

    p = Protocol(epochs=args.epochs)
    seeds = list(range(args.seeds))
    torch.set_num_threads(THREADS)
    with threadpool_limits(limits=THREADS, user_api="blas"):
        env = environment()
        t0 = time.perf_counter()
        warm_up(p)
        results = run_all(seeds, p)
        wall = time.perf_counter() - t0
    summary = summarise(results)
    report = render_markdown(summary, results, env, p, seeds)
    report += f"\nTotal run time of the benchmark: {wall:.1f} s.\n"
    print()
    print(report)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "accuracy_parity.md").write_text(report, encoding="utf-8")
    payload = {**env, "protocol": {**asdict(p), "l2_handgrad": p.l2,
                                   "weight_decay_torch": p.weight_decay, "dtype": "float64"},
               "threshold": THRESHOLD, "total_seconds": wall, "summary": summary,
               "results": results}
    (args.out / "accuracy_parity.json").write_text(json.dumps(payload, indent=2) + "\n",
                                                   encoding="utf-8")
    print(f"wrote {args.out / 'accuracy_parity.md'} and {args.out / 'accuracy_parity.json'}")

    failing = [name for name, s in summary.items() if not s["within_1pt"]]
    if failing:
        print(f"FAIL: handgrad is more than {THRESHOLD * 100:g} point below the best other "
              f"library on: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
