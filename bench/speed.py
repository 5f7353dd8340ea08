"""Speed: handgrad vs PyTorch eager vs scikit-learn vs the GEMM floor, side by side.

Usage::

    python bench/speed.py [--parts a,b,c,d] [--reps 5] [--quick] [--out bench/results] [--no-fail]

Protocol common to every part:

* Data: X ~ N(0, 1), float32, drawn by ``numpy.random.default_rng(0)`` straight into a
  preallocated float32 array in row chunks (no float64 temporaries); labels y = argmax(X·T) for
  a fixed random linear teacher T (784×10, seed 1), so the loss is meaningful. Every library
  gets the very same arrays (PyTorch through ``torch.from_numpy``, no copy).
* Network: 784-256-128-10, ReLU hidden layers, softmax cross-entropy, float32. The PyTorch
  models are built with handgrad's initial weights, so the nets of parts (a) and (b) do the
  same arithmetic on the same batches; their losses after the runs are printed as a check.
* Timing: ``time.perf_counter`` around one call (one epoch, one predict). The measured
  callables of a comparison run interleaved, A B C A B C …, one untimed warm-up round first,
  then ``--reps`` timed rounds (≥ 5 for recorded results); ``gc.collect()`` and a pause of
  ``--pause`` seconds (default 0.2) precede every call, untimed, so that spin-waiting worker
  threads of the previous library (OpenBLAS pthreads, PyTorch's OpenMP) are asleep when the next
  one starts. Reported: the median per callable; every ratio is a ratio of medians.
* Threads: handgrad's ``fit`` chooses its own BLAS thread count (it may limit BLAS to one thread
  for small products); a handgrad callback records the count inside ``fit`` in an untimed
  probe run, and the GEMM floor runs with exactly that many numpy BLAS threads, and PyTorch with
  ``torch.set_num_threads`` of that count. scikit-learn runs with numpy's BLAS as it is. The
  counts are reported per measurement.
* A busy machine ruins these numbers (on 2 CPUs, BLAS and OpenMP threads that wait for a core
  can make an epoch many times slower), so the CPU time that other processes used while each
  part ran is measured (/proc/stat minus this process and its children) and reported; above
  5 % of one CPU the part is flagged as unreliable. Run nothing else meanwhile.

Parts:

(a) One SGD epoch (lr 0.01, no momentum, no L2, no shuffling, so the same batches for all) on
    60,000 samples at batch 128 and 512:
    - handgrad ``fit(net, X, y, epochs=1, batch_size=B, optimizer="sgd", momentum=0.0,
      lr=0.01, shuffle=False, diagnostics=False)``, the net created outside the timed region and
      re-used (one more epoch of SGD costs the same);
    - PyTorch eager: ``Sequential(Linear, ReLU, Linear, ReLU, Linear)``, ``cross_entropy``,
      ``torch.optim.SGD(lr=0.01)`` with its default ``foreach`` (which resolves to the
      per-parameter loop on CPU), a plain loop over contiguous slices: forward, loss,
      ``zero_grad(set_to_none=True)``, ``backward``, ``step``;
    - scikit-learn ``MLPClassifier(hidden_layer_sizes=(256, 128), solver="sgd", momentum=0,
      alpha=0, max_iter=1, shuffle=False, batch_size=B, learning_rate_init=0.01)``, a new
      estimator per call (its ``fit`` includes initialisation and input checks), its
      ConvergenceWarning silenced; its compute dtype (coefs_[0].dtype) is reported;
    - the GEMM floor: per batch exactly the 8 products a step needs, X_b·W1, A1·W2, A2·W3,
      then A2ᵀ·dZ3, dZ3·W3ᵀ, A1ᵀ·dZ2, dZ2·W2ᵀ, X_bᵀ·dZ1 (no dX for the first layer), with
      ``np.matmul(..., out=preallocated)`` on fixed random A/dZ arrays and the real X batches
      (views, no copies), back to back over all batches of the epoch, float32.
    Ratios: handgrad/PyTorch, handgrad/floor, PyTorch/floor, sklearn/handgrad.
    Targets: handgrad ≤ 0.75 × PyTorch and ≤ 1.2 × the GEMM floor, at both batch sizes.
(b) The same epoch with Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8) at batch 128 and 512:
    handgrad ``optimizer="adam"`` vs ``torch.optim.Adam`` with ``foreach=False`` (what the
    default ``foreach=None`` resolves to on CPU: a Python loop over the parameters — the
    resolution is checked at run time and reported) and ``foreach=True``; ``fused=True`` is
    timed too, for information only. Target: handgrad ≤ 0.75 × the faster of foreach=False and
    foreach=True.
(c) ``predict_proba`` on 1,000,000 × 784 float32 rows with a net of the trained shape (the
    weight values do not change the cost): handgrad ``net.predict_proba(X)`` vs PyTorch eager
    under ``torch.inference_mode()`` applied in chunks of 8192 rows into a preallocated output
    ("torch chunked") and applied to the whole tensor at once ("torch whole"); softmax included
    in both. Every call runs in a fresh subprocess (this script with a hidden flag), the three
    variants interleaved, ``--reps`` processes each. A process fills X in float32 chunks, makes
    a 1,000-row warm-up call, records its resident set size (VmRSS) as the baseline, resets the
    kernel's RSS high-water mark (``/proc/self/clear_refs``), times one predict over all rows
    and reports the peak extra memory ``ru_maxrss − baseline`` (``getrusage``). The high-water
    mark of a freshly exec'ed process can include its parent's resident set; if ``ru_maxrss``
    was already above the baseline before the call, the peak is taken from ``VmHWM`` (the same
    counter, reset) instead, and that is reported. Throughput = rows / median seconds.
    Targets: handgrad throughput ≥ torch chunked and ≥ torch whole; handgrad peak extra memory
    ≤ 64 MB (the largest over the processes; note the 1e6×10 float32 output alone is 40 MB).
(d) Scaling: the ratio handgrad SGD epoch / GEMM floor (same protocol as (a)) while varying the
    width (hidden w, w for w in 64 … 2048, batch 128), the depth (1 … 8 hidden layers of 256,
    batch 128) and the batch (16 … 4096 at 784-256-128-10). Each point trains on the first n
    samples, n ≈ a fixed budget of floating-point operations (3e10, ≲ 1 s) divided by the
    operations per sample, at least 8 batches and at most 60,000, a whole number of batches.
    No targets; a 3-panel figure with a dashed line at 1.2.

Writes ``speed.md`` (tables, date, machine, versions, threads, handgrad commit and whether the
tree was dirty), ``speed.json`` (everything, every repetition) and ``speed_scaling.png`` to
``--out`` (default bench/results). ``--quick`` shrinks everything (2,000 samples, 100,000
predict rows, 2 repetitions, a small scaling grid) and writes to a temporary directory unless
``--out`` is given: a smoke test of the instrument, not a result. The exit status is 1 if a
target fails, unless ``--no-fail``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from threadpoolctl import ThreadpoolController

import handgrad as hg
from benchenv import (ROOT, blas_record, cpu_snapshot, foreign_cpu, handgrad_source,
                      machine_record, numpy_blas)

SIZES = [784, 256, 128, 10]
N_CLASSES = SIZES[-1]
SGD_LR = 0.01
ADAM_LR = 1e-3
PREDICT_CHUNK = 8192          # rows per torch call in the "torch chunked" variant
WARMUP_ROWS = 1000            # the untimed warm-up predict in each subprocess
# targets
SGD_VS_TORCH = 0.75
VS_FLOOR = 1.2
ADAM_VS_TORCH = 0.75
PREDICT_EXTRA_MB = 64.0
BUSY_SHARE = 0.05             # warn when other processes used > 5 % of one CPU during a part
MB = 1024 * 1024


@dataclass(frozen=True)
class Config:
    n_train: int = 60_000
    batches: tuple = (128, 512)
    predict_rows: int = 1_000_000
    reps: int = 5
    warmup: int = 1
    pause: float = 0.2
    scaling_flops: float = 3e10      # floating-point operations per scaling point (≈ ≲ 1 s)
    widths: tuple = (64, 128, 256, 512, 1024, 2048)
    depths: tuple = (1, 2, 3, 4, 5, 6, 7, 8)
    scaling_batches: tuple = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    quick: bool = False


QUICK = dict(n_train=2_000, predict_rows=100_000, reps=2, scaling_flops=1e9,
             widths=(64, 256), depths=(1, 3), scaling_batches=(32, 256), quick=True)


# ----- data, threads ----------------------------------------------------------------------------

def fill_normal(X: np.ndarray, seed: int, chunk: int = 16384) -> np.ndarray:
    """Fill a C-contiguous float32 array with N(0, 1) draws, chunk by chunk, in place."""
    rng = np.random.default_rng(seed)
    for s in range(0, X.shape[0], chunk):
        rng.standard_normal(out=X[s:s + chunk], dtype=np.float32)
    return X


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X ~ N(0, 1) float32 (n, 784) and y = argmax(X·T) for a fixed random teacher T."""
    X = fill_normal(np.empty((n, SIZES[0]), dtype=np.float32), seed)
    teacher = np.random.default_rng(seed + 1).standard_normal((SIZES[0], N_CLASSES),
                                                              dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    for s in range(0, n, 65536):
        y[s:s + 65536] = np.argmax(X[s:s + 65536] @ teacher, axis=1)
    return X, y


def numpy_blas_controller():
    """A threadpoolctl controller of numpy's BLAS only (``.limit(limits=n)`` is a context)."""
    return ThreadpoolController().select(filepath=numpy_blas().get("filepath", ""))


class ThreadProbe:
    """A handgrad callback that records numpy's BLAS thread count inside ``fit``."""

    def __init__(self):
        self.threads = None

    def on_train_begin(self, info):
        self.threads = numpy_blas()["num_threads"]


def handgrad_threads(net, X, y, batch: int, optimizer: str) -> int:
    """The BLAS thread count handgrad's ``fit`` uses for this net and batch (one untimed step;
    the net's weights are restored). Falls back to numpy's default if the probe saw nothing."""
    probe = ThreadProbe()
    before = [p.copy() for p in net.params]
    hg.fit(net, X[:batch], y[:batch], epochs=1, batch_size=batch, optimizer=optimizer,
           momentum=0.0, lr=1e-6, shuffle=False, diagnostics=False, callbacks=[probe])
    net.set_params(before)
    return probe.threads or numpy_blas()["num_threads"]


# ----- the timing helper ------------------------------------------------------------------------

def interleaved(fns: dict[str, Callable[[], object]], reps: int, warmup: int = 1,
                pause: float = 0.0) -> dict[str, list[float]]:
    """Time each callable ``reps`` times, interleaved A B C A B C …, after ``warmup`` untimed
    rounds; ``gc.collect()`` and ``pause`` seconds of sleep before every call, untimed."""
    times = {name: [] for name in fns}
    for r in range(warmup + reps):
        for name, fn in fns.items():
            gc.collect()
            if pause:
                time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            seconds = time.perf_counter() - t0
            if r >= warmup:
                times[name].append(seconds)
    return times


def stats(seconds: list[float]) -> dict:
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "all": seconds}


# ----- the measured things ----------------------------------------------------------------------

def handgrad_epoch(net, X, y, batch: int, optimizer: str) -> Callable[[], object]:
    """One handgrad epoch (SGD lr 0.01 without momentum, or Adam lr 1e-3), no shuffling."""
    lr = SGD_LR if optimizer == "sgd" else ADAM_LR
    return lambda: hg.fit(net, X, y, epochs=1, batch_size=batch, optimizer=optimizer,
                          momentum=0.0, lr=lr, shuffle=False, diagnostics=False)


def torch_model_like(net):
    """``Sequential(Linear, ReLU, …, Linear)`` in float32 holding handgrad's weights."""
    import torch

    params = net.params
    layers = []
    for i in range(0, len(params), 2):
        W, b = params[i], params[i + 1]
        lin = torch.nn.Linear(W.shape[0], W.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T, dtype=np.float32)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float32)))
        layers.append(lin)
        if i + 2 < len(params):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_epoch(model, opt, Xt, yt, batch: int) -> Callable[[], None]:
    """One PyTorch eager epoch over contiguous slices of preconverted tensors."""
    import torch

    cross_entropy = torch.nn.functional.cross_entropy
    n = Xt.shape[0]

    def run():
        for s in range(0, n, batch):
            loss = cross_entropy(model(Xt[s:s + batch]), yt[s:s + batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return run


def sklearn_sgd_epoch(X, y, batch: int, info: dict) -> Callable[[], None]:
    """One scikit-learn MLPClassifier SGD epoch (a new estimator per call); notes its dtype."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def run():
        clf = MLPClassifier(hidden_layer_sizes=tuple(SIZES[1:-1]), activation="relu",
                            solver="sgd", momentum=0.0, alpha=0.0, max_iter=1, shuffle=False,
                            batch_size=batch, learning_rate_init=SGD_LR, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter=1 on purpose
            clf.fit(X, y)
        info["dtype"] = str(clf.coefs_[0].dtype)
        info["loss"] = float(clf.loss_)
    return run


class GemmFloor:
    """Exactly the matrix products of one epoch of MLP steps, back to back, into preallocated
    outputs: per batch, forward A_{l-1}·W_l for every layer, backward A_{l-1}ᵀ·dZ_l and (except
    for the first layer) dZ_l·W_lᵀ. A_0 is the real X batch (a view); the other A and dZ are
    fixed random arrays. Python overhead is one ``np.matmul`` call per product."""

    def __init__(self, sizes: list[int], X: np.ndarray, batch: int, seed: int = 2):
        rng = np.random.default_rng(seed)

        def rand(*shape):
            return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)

        L = len(sizes) - 1
        W = [rand(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        A = [None] + [rand(batch, n) for n in sizes[1:-1]]       # inputs of layers 2..L
        dZ = [rand(batch, n) for n in sizes[1:]]
        Z = [np.empty((batch, n), np.float32) for n in sizes[1:]]
        dW = [np.empty((a, b), np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
        dA = [None] + [np.empty((batch, n), np.float32) for n in sizes[1:-1]]
        self.ops = []
        for s in range(0, X.shape[0], batch):
            k = min(batch, X.shape[0] - s)
            ins = [X[s:s + k]] + [a[:k] for a in A[1:]]
            for l in range(L):
                self.ops.append((ins[l], W[l], Z[l][:k]))
            for l in reversed(range(L)):
                self.ops.append((ins[l].T, dZ[l][:k], dW[l]))
                if l > 0:
                    self.ops.append((dZ[l][:k], W[l].T, dA[l][:k]))
        self.products_per_batch = 3 * L - 1

    def epoch(self) -> None:
        matmul = np.matmul
        for a, b, out in self.ops:
            matmul(a, b, out=out)


def floor_epoch(sizes, X, batch: int, threads: int) -> Callable[[], None]:
    """The GEMM floor of one epoch with numpy's BLAS set to ``threads`` (as handgrad used)."""
    floor, blas = GemmFloor(sizes, X, batch), numpy_blas_controller()

    def run():
        with blas.limit(limits=threads):
            floor.epoch()
    return run


def mean_loss_handgrad(net, X, y) -> float:
    return float(net.loss(X, y))


def mean_loss_torch(model, X, y) -> float:
    import torch

    with torch.inference_mode():
        return float(torch.nn.functional.cross_entropy(model(torch.from_numpy(X)),
                                                       torch.from_numpy(y)))


def torch_optimizer_defaults(model) -> dict:
    """What PyTorch's ``foreach=None``/``fused=None`` resolve to for these (CPU) parameters."""
    try:
        from torch.optim.optimizer import _default_to_fused_or_foreach
        fused, foreach = _default_to_fused_or_foreach(list(model.parameters()), False, False)
        return {"foreach": bool(foreach), "fused": bool(fused)}
    except Exception as exc:   # a private helper; report rather than guess
        return {"error": repr(exc)}


# ----- part (a): SGD epoch ----------------------------------------------------------------------

def part_a(cfg: Config, X, y, log) -> dict:
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    out = {"n_train": X.shape[0], "lr": SGD_LR, "batches": {}}
    for B in cfg.batches:
        net = hg.MLP(SIZES, activation="relu", l2=0.0, dtype="float32", seed=0)
        threads = handgrad_threads(net, X, y, B, "sgd")
        torch.set_num_threads(threads)
        model = torch_model_like(net)
        opt = torch.optim.SGD(model.parameters(), lr=SGD_LR)
        sk_info: dict = {}
        fns = {
            "handgrad": handgrad_epoch(net, X, y, B, "sgd"),
            "torch": torch_epoch(model, opt, Xt, yt, B),
            "sklearn": sklearn_sgd_epoch(X, y, B, sk_info),
            "floor": floor_epoch(SIZES, X, B, threads),
        }
        log(f"  (a) SGD epoch, batch {B}: {cfg.warmup} warm-up + {cfg.reps} rounds of "
            f"{', '.join(fns)} (BLAS/torch threads {threads}/{torch.get_num_threads()})")
        times = interleaved(fns, cfg.reps, cfg.warmup, cfg.pause)
        med = {k: statistics.median(v) for k, v in times.items()}
        n_check = min(X.shape[0], 10_000)
        out["batches"][B] = {
            "seconds": {k: stats(v) for k, v in times.items()},
            "ratios": {"handgrad/torch": med["handgrad"] / med["torch"],
                       "handgrad/floor": med["handgrad"] / med["floor"],
                       "torch/floor": med["torch"] / med["floor"],
                       "sklearn/handgrad": med["sklearn"] / med["handgrad"]},
            "threads": {"handgrad_blas": threads, "floor_blas": threads,
                        "torch": torch.get_num_threads(),
                        "numpy_blas_default": numpy_blas()["num_threads"]},
            "torch_sgd_default": torch_optimizer_defaults(model),
            "sklearn": sk_info,
            # same init, same batches, same number of epochs: these should agree closely
            "loss_after_runs": {"handgrad": mean_loss_handgrad(net, X[:n_check], y[:n_check]),
                                "torch": mean_loss_torch(model, X[:n_check], y[:n_check]),
                                "epochs": cfg.warmup + cfg.reps, "rows": n_check},
        }
    return out


# ----- part (b): Adam epoch ---------------------------------------------------------------------

ADAM_VARIANTS = {"torch_foreach_false": {"foreach": False},
                 "torch_foreach_true": {"foreach": True},
                 "torch_fused": {"fused": True}}   # fused: information only, not in the target


def part_b(cfg: Config, X, y, log) -> dict:
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    out = {"n_train": X.shape[0], "lr": ADAM_LR, "batches": {}}
    for B in cfg.batches:
        net = hg.MLP(SIZES, activation="relu", l2=0.0, dtype="float32", seed=0)
        threads = handgrad_threads(net, X, y, B, "adam")
        torch.set_num_threads(threads)
        fns = {"handgrad": handgrad_epoch(net, X, y, B, "adam")}
        models = {}
        for name, kw in ADAM_VARIANTS.items():
            models[name] = torch_model_like(net)
            opt = torch.optim.Adam(models[name].parameters(), lr=ADAM_LR, **kw)
            fns[name] = torch_epoch(models[name], opt, Xt, yt, B)
        log(f"  (b) Adam epoch, batch {B}: {cfg.warmup} warm-up + {cfg.reps} rounds of "
            f"{', '.join(fns)} (BLAS/torch threads {threads}/{torch.get_num_threads()})")
        times = interleaved(fns, cfg.reps, cfg.warmup, cfg.pause)
        med = {k: statistics.median(v) for k, v in times.items()}
        faster = min(("torch_foreach_false", "torch_foreach_true"), key=med.get)
        n_check = min(X.shape[0], 10_000)
        out["batches"][B] = {
            "seconds": {k: stats(v) for k, v in times.items()},
            "faster_torch": faster,
            "ratios": {"handgrad/faster_torch": med["handgrad"] / med[faster],
                       "handgrad/torch_foreach_false": med["handgrad"] / med["torch_foreach_false"],
                       "handgrad/torch_foreach_true": med["handgrad"] / med["torch_foreach_true"],
                       "handgrad/torch_fused": med["handgrad"] / med["torch_fused"]},
            "threads": {"handgrad_blas": threads, "torch": torch.get_num_threads()},
            "torch_adam_default": torch_optimizer_defaults(models["torch_foreach_false"]),
            "loss_after_runs": {"handgrad": mean_loss_handgrad(net, X[:n_check], y[:n_check]),
                                **{k: mean_loss_torch(m, X[:n_check], y[:n_check])
                                   for k, m in models.items()},
                                "epochs": cfg.warmup + cfg.reps, "rows": n_check},
        }
    return out


# ----- part (c): predict_proba throughput and memory, one subprocess per call -------------------

PREDICT_VARIANTS = ("handgrad", "torch_chunked", "torch_whole")


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _maxrss_kb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform == "darwin" else r          # bytes on macOS, KiB on Linux


def predict_child(variant: str, rows: int, threads: int) -> dict:
    """Run in a fresh process: make the input, warm up, measure one predict over all rows."""
    net = hg.MLP(SIZES, activation="relu", dtype="float32", seed=0)
    X = fill_normal(np.empty((rows, SIZES[0]), dtype=np.float32), seed=3)
    if variant == "handgrad":
        predict = net.predict_proba
        data = X
    else:
        import torch

        torch.set_num_threads(threads)
        model = torch_model_like(net).eval()
        data = torch.from_numpy(X)

        if variant == "torch_chunked":
            def predict(x):
                with torch.inference_mode():
                    out = torch.empty((x.shape[0], N_CLASSES), dtype=torch.float32)
                    for s in range(0, x.shape[0], PREDICT_CHUNK):
                        out[s:s + PREDICT_CHUNK] = torch.softmax(model(x[s:s + PREDICT_CHUNK]),
                                                                 dim=1)
                    return out
        else:
            def predict(x):
                with torch.inference_mode():
                    return torch.softmax(model(x), dim=1)
    predict(data[:WARMUP_ROWS])
    gc.collect()
    baseline = _status_kb("VmRSS")
    try:                                   # reset the RSS high-water mark (VmHWM, ru_maxrss)
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    maxrss_before = _maxrss_kb()
    t0 = time.perf_counter()
    P = predict(data)
    seconds = time.perf_counter() - t0
    maxrss_after, hwm_after = _maxrss_kb(), _status_kb("VmHWM")
    P = np.asarray(P)
    rusage_clean = baseline is not None and maxrss_before <= baseline + 1024
    extra_rusage = (maxrss_after - baseline) / 1024 if baseline is not None else None
    extra_hwm = (hwm_after - baseline) / 1024 if reset and hwm_after and baseline else None
    return {
        "variant": variant, "rows": rows, "seconds": seconds,
        "baseline_rss_mb": None if baseline is None else baseline / 1024,
        "maxrss_before_mb": maxrss_before / 1024,
        "extra_mb_ru_maxrss": extra_rusage, "extra_mb_vmhwm": extra_hwm,
        "hwm_reset": reset, "ru_maxrss_clean": rusage_clean,
        "extra_mb": extra_rusage if (rusage_clean or extra_hwm is None) else extra_hwm,
        "extra_mb_source": "ru_maxrss" if (rusage_clean or extra_hwm is None) else "VmHWM",
        "output": {"shape": list(P.shape), "dtype": str(P.dtype),
                   "max_row_sum_error": float(np.abs(P[:1000].sum(axis=1) - 1).max())},
        "threads": {"numpy_blas": numpy_blas()["num_threads"],
                    "torch": None if variant == "handgrad" else threads},
    }


def run_predict_child(variant: str, rows: int, threads: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_predict-child", variant,
           "--_rows", str(rows), "--_threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"predict subprocess {variant} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def part_c(cfg: Config, log) -> dict:
    threads = numpy_blas()["num_threads"]
    runs = {v: [] for v in PREDICT_VARIANTS}
    log(f"  (c) predict_proba on {cfg.predict_rows:,} rows: {cfg.reps} fresh processes per "
        f"variant, interleaved (BLAS/torch threads {threads}/{threads})")
    for _ in range(cfg.reps):
        for v in PREDICT_VARIANTS:
            runs[v].append(run_predict_child(v, cfg.predict_rows, threads))
    summary = {}
    for v, rs in runs.items():
        med = statistics.median(r["seconds"] for r in rs)
        extras = [r["extra_mb"] for r in rs]
        summary[v] = {"seconds": stats([r["seconds"] for r in rs]),
                      "rows_per_s": cfg.predict_rows / med,
                      "extra_mb_median": statistics.median(extras), "extra_mb_max": max(extras),
                      "extra_mb_sources": sorted({r["extra_mb_source"] for r in rs})}
    hg_rate = summary["handgrad"]["rows_per_s"]
    return {"rows": cfg.predict_rows, "chunk": PREDICT_CHUNK, "threads": threads,
            "summary": summary, "runs": runs,
            "ratios": {"handgrad/torch_chunked (throughput)":
                       hg_rate / summary["torch_chunked"]["rows_per_s"],
                       "handgrad/torch_whole (throughput)":
                       hg_rate / summary["torch_whole"]["rows_per_s"]}}


# ----- part (d): scaling against the GEMM floor -------------------------------------------------

def flops_per_sample(sizes: list[int]) -> int:
    """Multiply-adds ×2 of the 3L−1 products of a step, per sample (no dX for layer 1)."""
    prods = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * (3 * sum(prods) - prods[0])


def samples_for(sizes: list[int], batch: int, budget: float, available: int) -> tuple[int, int]:
    """(n, effective batch): n ≈ budget / flops per sample, ≥ 8 batches, ≤ available, whole
    batches."""
    n = int(budget / flops_per_sample(sizes))
    n = min(max(n, 8 * batch), available)
    batch = min(batch, n)
    return max(batch, n - n % batch), batch


def scaling_points(cfg: Config) -> list[tuple[str, int, list[int], int]]:
    pts = [("width", w, [784, w, w, 10], 128) for w in cfg.widths]
    pts += [("depth", d, [784] + [256] * d + [10], 128) for d in cfg.depths]
    pts += [("batch", b, SIZES, b) for b in cfg.scaling_batches]
    return pts


def part_d(cfg: Config, X, y, log) -> dict:
    out = {"flops_budget": cfg.scaling_flops, "points": []}
    for panel, x, sizes, B in scaling_points(cfg):
        n, B = samples_for(sizes, B, cfg.scaling_flops, X.shape[0])
        Xn, yn = X[:n], y[:n]
        net = hg.MLP(sizes, activation="relu", l2=0.0, dtype="float32", seed=0)
        threads = handgrad_threads(net, Xn, yn, B, "sgd")
        fns = {"handgrad": handgrad_epoch(net, Xn, yn, B, "sgd"),
               "floor": floor_epoch(sizes, Xn, B, threads)}
        times = interleaved(fns, cfg.reps, cfg.warmup, cfg.pause)
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = med["handgrad"] / med["floor"]
        log(f"  (d) {panel} {x:>5} ({'-'.join(map(str, sizes))}, batch {B}, n {n}, "
            f"{threads} BLAS threads): handgrad/floor {ratio:.2f}")
        out["points"].append({"panel": panel, "x": x, "sizes": sizes, "batch": B, "n": n,
                              "threads": threads, "ratio": ratio,
                              "seconds": {k: stats(v) for k, v in times.items()}})
    return out


def plot_scaling(d: dict, path: Path, note: str = "") -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    titles = {"width": "width w (784-w-w-10, batch 128)",
              "depth": "hidden layers of 256 (batch 128)",
              "batch": "batch size (784-256-128-10)"}
    for ax, panel in zip(axes, ("width", "depth", "batch")):
        pts = [p for p in d["points"] if p["panel"] == panel]
        xs = [p["x"] for p in pts]
        if pts:
            ax.plot(xs, [p["ratio"] for p in pts], "o-", label="handgrad")
        ax.axhline(VS_FLOOR, ls="--", color="grey", label=f"target {VS_FLOOR}")
        ax.axhline(1.0, ls=":", color="lightgrey")
        if panel != "depth":
            ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.minorticks_off()
        ax.set_xlabel(titles[panel])
        ax.set_ylabel("SGD epoch time / GEMM floor")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("handgrad SGD epoch time / the time of its matrix products alone "
                 f"(ratio of medians){note}")
    fig.savefig(path, dpi=110)


# ----- environment, report ----------------------------------------------------------------------

def environment() -> dict:
    import matplotlib
    import scipy
    import sklearn
    import threadpoolctl
    import torch

    blas = numpy_blas()
    parallel = torch.__config__.parallel_info().splitlines()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_record(),
        "numpy_blas": blas_record(blas),
        "torch": {"version": torch.__version__, "threads": torch.get_num_threads(),
                  "interop_threads": torch.get_num_interop_threads(),
                  "parallel": [l.strip() for l in parallel
                               if "Math Kernel" in l or "MKL-DNN" in l or "backend" in l]},
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
                     "torch": torch.__version__, "threadpoolctl": threadpoolctl.__version__,
                     "matplotlib": matplotlib.__version__},
        "handgrad": handgrad_source(),
    }


def check_targets(results: dict) -> list[dict]:
    """Every target as {name, value, limit, op, passed}."""
    targets = []

    def add(name, value, op, limit):
        ok = value <= limit if op == "≤" else value >= limit
        targets.append({"name": name, "value": value, "op": op, "limit": limit, "passed": ok})

    for B, r in results.get("a", {}).get("batches", {}).items():
        add(f"SGD epoch, batch {B}: handgrad / PyTorch", r["ratios"]["handgrad/torch"],
            "≤", SGD_VS_TORCH)
        add(f"SGD epoch, batch {B}: handgrad / GEMM floor", r["ratios"]["handgrad/floor"],
            "≤", VS_FLOOR)
    for B, r in results.get("b", {}).get("batches", {}).items():
        add(f"Adam epoch, batch {B}: handgrad / faster PyTorch ({r['faster_torch']})",
            r["ratios"]["handgrad/faster_torch"], "≤", ADAM_VS_TORCH)
    if "c" in results:
        c = results["c"]
        add("predict_proba throughput: handgrad / torch chunked",
            c["ratios"]["handgrad/torch_chunked (throughput)"], "≥", 1.0)
        add("predict_proba throughput: handgrad / torch whole tensor",
            c["ratios"]["handgrad/torch_whole (throughput)"], "≥", 1.0)
        add("predict_proba peak extra memory of handgrad, MB (max over processes)",
            c["summary"]["handgrad"]["extra_mb_max"], "≤", PREDICT_EXTRA_MB)
    return targets


def fmt_target(t: dict) -> str:
    return (f"{'PASS' if t['passed'] else 'FAIL'}  {t['name']} = {t['value']:.3g} "
            f"{t['op']} {t['limit']:g}")


def busy_line(total: dict | None, results: dict) -> str:
    """One line saying how much CPU other processes took during the run (per part)."""
    if total is None:
        return "- Other processes' CPU use during the run: unknown (no /proc/stat)"
    per = ", ".join(f"({p}) {r['foreign_cpu']['share_of_one_cpu']:.0%}"
                    for p, r in sorted(results.items()) if r.get("foreign_cpu"))
    busy = [p for p, r in sorted(results.items())
            if r.get("foreign_cpu") and r["foreign_cpu"]["share_of_one_cpu"] > BUSY_SHARE]
    verdict = (f" — **busy machine: the numbers of part(s) {', '.join(busy)} are unreliable**"
               if busy else " — quiet machine")
    return (f"- Other processes' CPU use during the run: {total['seconds']:.1f} CPU-s "
            f"({total['share_of_one_cpu']:.0%} of one CPU on average; per part {per}; "
            f"steal {total['steal_seconds']:.1f} s){verdict}")


def render_markdown(cfg: Config, env: dict, results: dict, targets: list[dict],
                    wall: float) -> str:
    m, hgs, blas, tv = env["machine"], env["handgrad"], env["numpy_blas"], env["torch"]
    dirty = {True: "dirty (uncommitted changes: " + ", ".join(
        c.strip() for c in hgs["changed"][:10]) + ")", False: "clean", None: "unknown"}[hgs["dirty"]]
    lines = [
        "# Speed: handgrad vs PyTorch eager vs scikit-learn vs the GEMM floor",
        "",
        *(["**QUICK RUN — tiny sizes, a smoke test of the script, not results.**", ""]
          if cfg.quick else []),
        f"- Date: {env['date']}",
        f"- Machine: {m['cpu']}; {m['cpu_count']} CPUs ({m['cpus_available']} available); "
        f"{m['uname']}; load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}",
        f"- numpy BLAS: {blas['internal_api']} {blas['version']} ({blas['threading_layer']}, "
        f"{blas['architecture']}), {blas['num_threads']} threads by default",
        f"- PyTorch {tv['version']}: {tv['threads']} threads by default; "
        + "; ".join(tv["parallel"]),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        f"- handgrad {hgs['version']} at commit {hgs['commit']}, tree {dirty}; "
        f"source sha256 {hgs['source_sha256']}",
        busy_line(env["machine"].get("foreign_cpu"), results),
        f"- Protocol: see the docstring of bench/speed.py. {cfg.warmup} untimed warm-up round, "
        f"then median of {cfg.reps} interleaved repetitions; ratios are ratios of medians; "
        f"{cfg.pause:g} s pause before each call. Total run time {wall:.0f} s.",
        "",
    ]
    if "a" in results:
        a = results["a"]
        lines += [f"## (a) One SGD epoch, 784-256-128-10 ReLU, float32, {a['n_train']:,} samples",
                  "",
                  "| batch | handgrad s | PyTorch s | scikit-learn s | GEMM floor s | "
                  "handgrad/PyTorch | handgrad/floor | PyTorch/floor | sklearn/handgrad | "
                  "threads (BLAS / torch) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for B, r in a["batches"].items():
            s, q = {k: v["median"] for k, v in r["seconds"].items()}, r["ratios"]
            lines.append(f"| {B} | {s['handgrad']:.3f} | {s['torch']:.3f} | {s['sklearn']:.3f} | "
                         f"{s['floor']:.3f} | {q['handgrad/torch']:.2f} | "
                         f"{q['handgrad/floor']:.2f} | {q['torch/floor']:.2f} | "
                         f"{q['sklearn/handgrad']:.2f} | {r['threads']['handgrad_blas']} / "
                         f"{r['threads']['torch']} |")
        r0 = next(iter(a["batches"].values()))
        lines += ["", f"PyTorch SGD default on CPU resolves to {r0['torch_sgd_default']}; "
                  f"scikit-learn computed in {r0['sklearn'].get('dtype')}. Check (same init, "
                  "same batches): mean loss on the first rows after all epochs — " + "; ".join(
                      f"batch {B}: handgrad {r['loss_after_runs']['handgrad']:.4f}, PyTorch "
                      f"{r['loss_after_runs']['torch']:.4f}" for B, r in a["batches"].items())
                  + ".", ""]
    if "b" in results:
        b = results["b"]
        lines += [f"## (b) One Adam epoch (lr {ADAM_LR:g}), same network and data", "",
                  "| batch | handgrad s | torch foreach=False s | torch foreach=True s | "
                  "torch fused s (info) | handgrad/faster of the two | handgrad/fused |",
                  "|---|---|---|---|---|---|---|"]
        for B, r in b["batches"].items():
            s, q = {k: v["median"] for k, v in r["seconds"].items()}, r["ratios"]
            lines.append(f"| {B} | {s['handgrad']:.3f} | {s['torch_foreach_false']:.3f} | "
                         f"{s['torch_foreach_true']:.3f} | {s['torch_fused']:.3f} | "
                         f"{q['handgrad/faster_torch']:.2f} ({r['faster_torch']}) | "
                         f"{q['handgrad/torch_fused']:.2f} |")
        r0 = next(iter(b["batches"].values()))
        lines += ["", f"torch.optim.Adam's default (foreach=None) on CPU resolves to "
                  f"{r0['torch_adam_default']}, i.e. foreach=False is the default here.", ""]
    if "c" in results:
        c = results["c"]
        labels = {"handgrad": "handgrad `net.predict_proba(X)`",
                  "torch_chunked": f"PyTorch, chunks of {c['chunk']} rows",
                  "torch_whole": "PyTorch, whole tensor at once"}
        lines += [f"## (c) predict_proba on {c['rows']:,} × 784 float32 rows", "",
                  "| variant | rows/s | median s | peak extra MB (median / max) | source |",
                  "|---|---|---|---|---|"]
        for v, s in c["summary"].items():
            lines.append(f"| {labels[v]} | {s['rows_per_s']:,.0f} | {s['seconds']['median']:.3f} "
                         f"| {s['extra_mb_median']:.1f} / {s['extra_mb_max']:.1f} | "
                         f"{', '.join(s['extra_mb_sources'])} |")
        lines += ["", "Throughput ratios (handgrad / PyTorch): " + "; ".join(
            f"{k} {v:.2f}" for k, v in c["ratios"].items())
            + f". One fresh process per call, {c['threads']} BLAS / torch threads.", ""]
    if "d" in results:
        lines += ["## (d) Scaling: handgrad SGD epoch / GEMM floor", "",
                  "![scaling](speed_scaling.png)", ""]
        for panel in ("width", "depth", "batch"):
            pts = [p for p in results["d"]["points"] if p["panel"] == panel]
            if not pts:
                continue
            lines += [f"| {panel} | sizes | batch | samples | BLAS threads | handgrad s | "
                      "floor s | ratio |", "|---|---|---|---|---|---|---|---|"]
            lines += [f"| {p['x']} | {'-'.join(map(str, p['sizes']))} | {p['batch']} | {p['n']} "
                      f"| {p['threads']} | {p['seconds']['handgrad']['median']:.4f} | "
                      f"{p['seconds']['floor']['median']:.4f} | {p['ratio']:.2f} |" for p in pts]
            lines.append("")
    if targets:
        lines += ["## Targets", "", *[f"- {fmt_target(t)}" for t in targets], ""]
    return "\n".join(lines) + "\n"


# ----- main -------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="a,b,c,d", help="comma-separated subset of a,b,c,d")
    ap.add_argument("--reps", type=int, default=None,
                    help="timed repetitions per measurement (default 5; 2 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes, a smoke test; writes to a temporary directory unless --out")
    ap.add_argument("--out", type=Path, default=None,
                    help="directory for speed.md/.json/_scaling.png (default bench/results)")
    ap.add_argument("--pause", type=float, default=0.2,
                    help="seconds of sleep before each timed call (default 0.2)")
    ap.add_argument("--no-fail", action="store_true", help="exit 0 even if a target fails")
    ap.add_argument("--_predict-child", dest="child", help=argparse.SUPPRESS)
    ap.add_argument("--_rows", dest="child_rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--_threads", dest="child_threads", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(predict_child(args.child, args.child_rows, args.child_threads)))
        return 0

    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts or parts - set("abcd"):
        ap.error("--parts must be a comma-separated subset of a,b,c,d")
    cfg = Config(**QUICK) if args.quick else Config()
    if args.reps is not None:
        if args.reps < 1:
            ap.error("--reps must be ≥ 1")
        cfg = Config(**{**asdict(cfg), "reps": args.reps})
    cfg = Config(**{**asdict(cfg), "pause": max(args.pause, 0.0)})
    out = args.out or (Path(tempfile.mkdtemp(prefix="handgrad-speed-quick-")) if args.quick
                       else ROOT / "bench" / "results")

    def log(*a, **k):
        print(*a, **k, flush=True)

    env = environment()
    log(f"handgrad speed benchmark{' (QUICK: not results)' if cfg.quick else ''}: parts "
        f"{','.join(sorted(parts))}, {cfg.reps} reps; numpy BLAS "
        f"{env['numpy_blas']['internal_api']} {env['numpy_blas']['version']} "
        f"{env['numpy_blas']['num_threads']} threads, torch {env['torch']['version']} "
        f"{env['torch']['threads']} threads; load average {env['machine']['loadavg_at_start'][0]:.2f}")
    if cfg.reps < 5 and not cfg.quick:
        log(f"  note: {cfg.reps} repetitions; recorded results should use ≥ 5")
    t0, cpu0 = time.perf_counter(), cpu_snapshot()
    results: dict = {}

    def measured(part: str, run: Callable[[], dict]) -> None:
        """Run one part and record how much CPU other processes took meanwhile."""
        start, snap = time.perf_counter(), cpu_snapshot()
        results[part] = run()
        busy = foreign_cpu(snap, cpu_snapshot(), time.perf_counter() - start)
        results[part]["foreign_cpu"] = busy
        if busy and busy["share_of_one_cpu"] > BUSY_SHARE:
            log(f"  WARNING: other processes used {busy['seconds']:.1f} CPU-s during part "
                f"{part} ({busy['share_of_one_cpu']:.0%} of one CPU): its numbers are unreliable")

    if parts & set("abd"):
        X, y = make_data(cfg.n_train)
        for part, fn in (("a", part_a), ("b", part_b), ("d", part_d)):
            if part in parts:
                measured(part, lambda: fn(cfg, X, y, log))
        del X, y
    if "c" in parts:
        measured("c", lambda: part_c(cfg, log))
    wall = time.perf_counter() - t0
    env["machine"]["loadavg_at_end"] = list(os.getloadavg())
    env["machine"]["foreign_cpu"] = foreign_cpu(cpu0, cpu_snapshot(), wall)

    targets = check_targets(results)
    report = render_markdown(cfg, env, results, targets, wall)
    print()
    print(report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.md").write_text(report, encoding="utf-8")
    if "d" in results:
        plot_scaling(results["d"], out / "speed_scaling.png",
                     f"\n{env['date'][:10]}, handgrad {(env['handgrad']['commit'] or '?')[:8]}"
                     f"{'+dirty' if env['handgrad']['dirty'] else ''}"
                     + (" — QUICK RUN, not results" if cfg.quick else ""))
    payload = {**env, "config": asdict(cfg), "parts": sorted(parts), "total_seconds": wall,
               "targets": targets, "results": results}
    (out / "speed.json").write_text(json.dumps(payload, indent=2, default=str) + "\n",
                                    encoding="utf-8")
    print(f"wrote {out / 'speed.md'}, {out / 'speed.json'}"
          + (f", {out / 'speed_scaling.png'}" if "d" in results else ""))
    for t in targets:
        print(fmt_target(t))
    failed = [t for t in targets if not t["passed"]]
    if failed and not args.no_fail:
        print(f"{len(failed)} of {len(targets)} targets failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
