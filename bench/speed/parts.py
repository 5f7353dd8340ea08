"""The four parts: (a) SGD epoch, (b) Adam epoch, (c) predict_proba in fresh subprocesses,
(d) scaling against the GEMM floor. Each returns the dict stored under its letter in speed.json."""

from __future__ import annotations

import statistics

from ..benchenv import numpy_blas
from .protocol import (ADAM_LR, PREDICT_CHUNK, PREDICT_VARIANTS, SGD_LR, SIZES, Config,
                       handgrad_threads, interleaved, new_net, run_child, stats)
from .workloads import (floor_epoch, handgrad_epoch, handgrad_vs_floor, mean_loss_handgrad,
                        mean_loss_torch, sklearn_sgd_epoch, step_vs_floor, torch_epoch,
                        torch_model_like, torch_optimizer_defaults)


# ----- part (a): SGD epoch ----------------------------------------------------------------------

def part_a(cfg: Config, X, y, log) -> dict:
    import torch

    from handgrad.sklearn import MLPClassifier as HandgradMLPClassifier

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    out = {"n_train": X.shape[0], "lr": SGD_LR, "batches": {}}
    for B in cfg.batches:
        net = new_net(SIZES)
        threads = handgrad_threads(net, X, y, B, "sgd")
        torch.set_num_threads(threads)
        model = torch_model_like(net)
        opt = torch.optim.SGD(model.parameters(), lr=SGD_LR)
        sk_info: dict = {}
        est_info: dict = {}
        fns = {
            "handgrad": handgrad_epoch(net, X, y, B, "sgd"),
            "torch": torch_epoch(model, opt, Xt, yt, B),
            "sklearn": sklearn_sgd_epoch(X, y, B, sk_info),
            "floor": floor_epoch(SIZES, X, B, threads),
            # issue 28: shuffled against the floor that gathers its rows, and the estimator
            "handgrad_shuffled": handgrad_epoch(new_net(SIZES), X, y, B, "sgd", shuffle=True),
            "floor_gather": floor_epoch(SIZES, X, B, threads, gather=True),
            "handgrad_estimator": sklearn_sgd_epoch(X, y, B, est_info, HandgradMLPClassifier),
        }
        log(f"  (a) SGD epoch, batch {B}: {cfg.warmup} warm-up + {cfg.reps} rounds of "
            f"{', '.join(fns)} (BLAS/torch threads {threads}/{torch.get_num_threads()})")
        times = interleaved(fns, cfg.reps, cfg.warmup, cfg.pause)
        med = {k: statistics.median(v) for k, v in times.items()}
        # the same comparison with less of the machine's drift in it: the step against the
        # floor's products in alternating chunks of 8 steps (fit's loop around the step excluded)
        chunked = step_vs_floor(SIZES, X, y, B, threads, rounds=max(1, cfg.reps // 2))
        n_check = min(X.shape[0], 10_000)
        out["batches"][B] = {
            "seconds": {k: stats(v) for k, v in times.items()},
            "ratios": {"handgrad/torch": med["handgrad"] / med["torch"],
                       "handgrad/floor": med["handgrad"] / med["floor"],
                       "torch/floor": med["torch"] / med["floor"],
                       "sklearn/handgrad": med["sklearn"] / med["handgrad"],
                       "handgrad_shuffled/floor_gather": med["handgrad_shuffled"] / med["floor_gather"],
                       "floor_gather/floor": med["floor_gather"] / med["floor"],
                       "handgrad_estimator/floor": med["handgrad_estimator"] / med["floor"],
                       "step/floor (chunks)": chunked["ratio"]},
            "step_vs_floor_chunks": chunked,
            "threads": {"handgrad_blas": threads, "floor_blas": threads,
                        "torch": torch.get_num_threads(),
                        "numpy_blas_default": numpy_blas()["num_threads"]},
            "torch_sgd_default": torch_optimizer_defaults(model),
            "sklearn": sk_info,
            "handgrad_estimator": est_info,
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
        net = new_net(SIZES)
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

def part_c(cfg: Config, log) -> dict:
    """Runs ``python -m bench.speed.child predict`` (see child.predict_child) per call."""
    threads = numpy_blas()["num_threads"]
    runs = {v: [] for v in PREDICT_VARIANTS}
    log(f"  (c) predict_proba on {cfg.predict_rows:,} rows: {cfg.reps} fresh processes per "
        f"variant, interleaved (BLAS/torch threads {threads}/{threads})")
    for _ in range(cfg.reps):
        for v in PREDICT_VARIANTS:
            runs[v].append(run_child(["predict", "--variant", v, "--rows", str(cfg.predict_rows),
                                      "--threads", str(threads)], f"predict {v}"))
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
        r, _ = handgrad_vs_floor(cfg, sizes, X[:n], y[:n], B, "sgd")
        log(f"  (d) {panel} {x:>5} ({'-'.join(map(str, sizes))}, batch {B}, n {n}, "
            f"{r['threads']} BLAS threads): handgrad/floor {r['ratio']:.2f}")
        out["points"].append({"panel": panel, "x": x, "sizes": sizes, "batch": B, "n": n,
                              "threads": r["threads"], "ratio": r["ratio"],
                              "seconds": r["seconds"]})
    return out
