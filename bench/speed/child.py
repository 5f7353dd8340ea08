"""What the speed benchmark's subprocesses run; each prints one line of JSON.

Started by the parent (``protocol.run_child``) from the repository root:

    python -m bench.speed.child predict --variant handgrad|torch_chunked|torch_whole
                                        --rows N --threads T
        part (c): one predict_proba call over N fresh rows, its time and peak extra memory;
    python -m bench.speed.child epochs --n N --batches 128,512 --optimizers sgd,adam
                                       --reps R --warmup W --pause P [--expect-src DIR]
        ``--baseline-src``: the handgrad epoch against its GEMM floor (as in part (a)) for
        whichever handgrad ``PYTHONPATH`` selects; ``--expect-src`` fails the child unless
        handgrad was imported from DIR.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

import handgrad as hg

from ..benchenv import numpy_blas, source_digest
from .protocol import (N_CLASSES, PREDICT_CHUNK, PREDICT_VARIANTS, SIZES, WARMUP_ROWS, Config,
                       fill_normal, make_data, new_net)
from .workloads import handgrad_vs_floor, mean_loss_handgrad, torch_model_like


# ----- part (c): one predict_proba call in a fresh process --------------------------------------

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
    net = new_net(SIZES)
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


# ----- --baseline-src: handgrad epochs vs the GEMM floor for the handgrad on PYTHONPATH ---------

def imported_handgrad() -> dict:
    """Where the handgrad of this process comes from, its version and a digest of its sources."""
    pkg = Path(hg.__file__).resolve().parent
    return {"src": str(pkg.parent), "version": getattr(hg, "__version__", None),
            "source_sha256": source_digest(pkg)}


def epochs_child(cfg: Config, optimizers: list[str], expect_src: str | None) -> dict:
    """Per optimizer and batch: the epoch of part (a)/(b) against its GEMM floor, interleaved."""
    source = imported_handgrad()
    if expect_src is not None and Path(source["src"]) != Path(expect_src).resolve():
        raise SystemExit(f"expected handgrad from {expect_src}, imported it from {source['src']}")
    X, y = make_data(cfg.n_train)
    n_check = min(X.shape[0], 10_000)
    runs = []
    for optimizer in optimizers:
        for B in cfg.batches:
            r, net = handgrad_vs_floor(cfg, SIZES, X, y, B, optimizer)
            runs.append({"optimizer": optimizer, "batch": B, **r,
                         "loss_after_runs": mean_loss_handgrad(net, X[:n_check], y[:n_check])})
    return {"handgrad": source, "n_train": cfg.n_train, "runs": runs}


# ----- entry ------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.speed.child",
                                 description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("predict", help="part (c): one predict_proba call in this process")
    p.add_argument("--variant", required=True, choices=PREDICT_VARIANTS)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    e = sub.add_parser("epochs", help="--baseline-src: handgrad epochs vs the GEMM floor")
    e.add_argument("--n", type=int, required=True)
    e.add_argument("--batches", required=True, help="comma-separated batch sizes")
    e.add_argument("--optimizers", required=True, help="comma-separated: sgd, adam")
    e.add_argument("--reps", type=int, required=True)
    e.add_argument("--warmup", type=int, required=True)
    e.add_argument("--pause", type=float, required=True)
    e.add_argument("--expect-src", default=None,
                   help="fail unless handgrad is imported from this directory")
    args = ap.parse_args(argv)
    if args.what == "predict":
        result = predict_child(args.variant, args.rows, args.threads)
    else:
        cfg = Config(n_train=args.n, batches=tuple(int(b) for b in args.batches.split(",")),
                     reps=args.reps, warmup=args.warmup, pause=args.pause)
        result = epochs_child(cfg, args.optimizers.split(","), args.expect_src)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
