"""``--baseline-src``: the handgrad epochs of parts (a) and (b) for the current handgrad and for
another source tree, side by side. Each measurement is a child process
(``python -m bench.speed.child epochs``) with ``PYTHONPATH`` set to one of the two source
directories; the children alternate current, baseline, current, baseline, …"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import handgrad as hg

from .protocol import Config, run_child

OPTIMIZER_OF_PART = {"a": "sgd", "b": "adam"}
SIDES = ("current", "baseline")


def current_src() -> Path:
    """The directory the handgrad imported here comes from (the working tree's src/ for an
    editable install)."""
    return Path(hg.__file__).resolve().parent.parent


def baseline_problem(src: Path) -> str | None:
    """Why ``src`` cannot be a baseline source directory, or None."""
    if not (src / "handgrad" / "__init__.py").is_file():
        return f"{src} has no handgrad/__init__.py (give the src directory of a checkout)"
    if src.resolve() == current_src():
        return f"{src} is where the current handgrad is imported from"
    return None


def run_comparison(cfg: Config, optimizers: list[str], baseline_src: Path, log) -> dict:
    """``cfg.compare_rounds`` rounds of (current child, baseline child); per optimizer and
    batch the median over the rounds of each side's handgrad/floor ratio and handgrad seconds,
    and current/baseline of those medians."""
    sources = {"current": current_src(), "baseline": baseline_src.resolve()}
    args = ["epochs", "--n", str(cfg.n_train), "--batches", ",".join(map(str, cfg.batches)),
            "--optimizers", ",".join(optimizers), "--reps", str(cfg.reps),
            "--warmup", str(cfg.warmup), "--pause", repr(cfg.pause)]
    log(f"  (compare) handgrad epochs vs the GEMM floor, {', '.join(optimizers)}, batches "
        f"{', '.join(map(str, cfg.batches))}: {cfg.compare_rounds} rounds of a current and a "
        f"baseline child, each {cfg.warmup} warm-up + {cfg.reps} rounds per measurement")
    children: dict[str, list[dict]] = {side: [] for side in SIDES}
    for r in range(cfg.compare_rounds):
        for side in SIDES:
            env = {**os.environ, "PYTHONPATH": str(sources[side])}
            t0 = time.perf_counter()
            res = run_child([*args, "--expect-src", str(sources[side])], f"{side} epochs", env)
            children[side].append(res)
            log(f"  (compare) round {r + 1}/{cfg.compare_rounds} {side:<8}: handgrad/floor "
                + ", ".join(f"{x['optimizer']} {x['batch']} {x['ratio']:.2f}" for x in res["runs"])
                + f" ({time.perf_counter() - t0:.1f} s)")
    handgrad = {side: children[side][0]["handgrad"] for side in SIDES}
    identical = handgrad["current"]["source_sha256"] == handgrad["baseline"]["source_sha256"]
    if identical:
        log("  (compare) note: the two source trees have identical handgrad sources")
    rows = []
    for i, first in enumerate(children["current"][0]["runs"]):
        row = {"optimizer": first["optimizer"], "batch": first["batch"]}
        for side in SIDES:
            runs = [c["runs"][i] for c in children[side]]
            ratios = [x["ratio"] for x in runs]
            hg_s = [x["seconds"]["handgrad"]["median"] for x in runs]
            floor_s = [x["seconds"]["floor"]["median"] for x in runs]
            row[side] = {"ratio_median": statistics.median(ratios), "ratios": ratios,
                         "handgrad_s_median": statistics.median(hg_s), "handgrad_s": hg_s,
                         "floor_s_median": statistics.median(floor_s), "floor_s": floor_s,
                         "threads": sorted({x["threads"] for x in runs}),
                         "loss_after_runs": [x["loss_after_runs"] for x in runs]}
        row["current/baseline"] = {
            "handgrad/floor": row["current"]["ratio_median"] / row["baseline"]["ratio_median"],
            "handgrad_s": row["current"]["handgrad_s_median"] / row["baseline"]["handgrad_s_median"]}
        rows.append(row)
    return {"sources": handgrad, "identical_sources": identical, "n_train": cfg.n_train,
            "rounds": cfg.compare_rounds, "reps": cfg.reps, "warmup": cfg.warmup,
            "pause": cfg.pause, "optimizers": optimizers, "rows": rows, "children": children}
