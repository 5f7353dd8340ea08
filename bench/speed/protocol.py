"""The measurement protocol shared by every part: configuration and targets, the data, the
network, BLAS thread probing, the interleaved timing helper, statistics, the record of the
machine and versions, and the runner of child processes (``python -m bench.speed.child``)."""

from __future__ import annotations

import datetime as dt
import gc
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

import handgrad as hg

from ..benchenv import ROOT, blas_record, handgrad_source, machine_record, numpy_blas

SIZES = [784, 256, 128, 10]
N_CLASSES = SIZES[-1]
SGD_LR = 0.01
ADAM_LR = 1e-3
PREDICT_CHUNK = 8192          # rows per torch call in the "torch chunked" variant
WARMUP_ROWS = 1000            # the untimed warm-up predict in each subprocess
PREDICT_VARIANTS = ("handgrad", "torch_chunked", "torch_whole")
# targets (issue 28, tightening issue 18's): ≤ 0.90 × PyTorch eager at every batch size, SGD and
# Adam; within 10% of the GEMM floor at batch 128 and up (shuffled: of the floor that gathers its
# rows), 20% below (where a step's fixed overhead weighs more); the scikit-learn estimator's
# epoch within 20% of the floor
SGD_VS_TORCH = 0.90
VS_FLOOR = 1.10
VS_FLOOR_SMALL_BATCH = 1.2
SMALL_BATCH = 128
ADAM_VS_TORCH = 0.90
ESTIMATOR_VS_FLOOR = 1.2
PREDICT_EXTRA_MB = 64.0
BUSY_SHARE = 0.05             # warn when other processes used > 5 % of one CPU during a part

CHILD_MODULE = __name__.rpartition(".")[0] + ".child"     # bench.speed.child


@dataclass(frozen=True)
class Config:
    n_train: int = 60_000
    batches: tuple = (16, 32, 64, 128, 512)
    predict_rows: int = 1_000_000
    reps: int = 5
    warmup: int = 1
    pause: float = 0.2
    scaling_flops: float = 3e10      # floating-point operations per scaling point (≈ ≲ 1 s)
    widths: tuple = (64, 128, 256, 512, 1024, 2048)
    depths: tuple = (1, 2, 3, 4, 5, 6, 7, 8)
    scaling_batches: tuple = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    compare_rounds: int = 3          # --baseline-src: current/baseline child pairs
    quick: bool = False


QUICK = dict(n_train=2_000, predict_rows=100_000, reps=2, scaling_flops=1e9,
             widths=(64, 256), depths=(1, 3), scaling_batches=(32, 256), compare_rounds=2,
             quick=True)


# ----- data, network, threads -------------------------------------------------------------------

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


def new_net(sizes: list[int]):
    """The measured network: ReLU hidden layers, softmax, float32, seed 0, no L2 (the default).
    Only long-standing arguments, so that the same call builds the net of an older handgrad."""
    return hg.MLP(sizes, activation="relu", dtype="float32", seed=0)


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


# ----- the timing helper, statistics ------------------------------------------------------------

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


# ----- child processes --------------------------------------------------------------------------

def run_child(args: list[str], what: str, env: dict | None = None) -> dict:
    """Run ``python -m bench.speed.child ARGS`` from the repository root (``env``: its whole
    environment, default this one's) and return the JSON of its last line of output."""
    proc = subprocess.run([sys.executable, "-m", CHILD_MODULE, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} subprocess failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----- the record of the machine and the versions -----------------------------------------------

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
