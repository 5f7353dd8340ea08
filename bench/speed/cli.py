"""The command line: ``python -m bench.speed [options]`` (see the package docstring)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path

from .. import speed
from ..benchenv import ROOT, cpu_snapshot, foreign_cpu
from .compare import OPTIMIZER_OF_PART, baseline_problem, run_comparison
from .parts import part_a, part_b, part_c, part_d
from .protocol import BUSY_SHARE, QUICK, Config, environment, make_data
from .report import check_targets, fmt_target, render_comparison, render_markdown, write_outputs


def parse_args(argv=None) -> tuple[argparse.Namespace, set, Config]:
    ap = argparse.ArgumentParser(prog="python -m bench.speed",
                                 description=speed.__doc__.split("\n")[0])
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
    ap.add_argument("--baseline-src", type=Path, default=None, metavar="DIR",
                    help="also time the handgrad epochs of parts a/b (those selected) for the "
                         "handgrad in DIR (another checkout's src/) against the current one, in "
                         "alternating child processes; writes speed_compare.md")
    args = ap.parse_args(argv)

    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts or parts - set("abcd"):
        ap.error("--parts must be a comma-separated subset of a,b,c,d")
    cfg = Config(**QUICK) if args.quick else Config()
    if args.reps is not None:
        if args.reps < 1:
            ap.error("--reps must be ≥ 1")
        cfg = Config(**{**asdict(cfg), "reps": args.reps})
    cfg = Config(**{**asdict(cfg), "pause": max(args.pause, 0.0)})
    if args.baseline_src is not None:
        if not parts & set(OPTIMIZER_OF_PART):
            ap.error("--baseline-src compares the epochs of parts a and/or b: select one of them")
        problem = baseline_problem(args.baseline_src)
        if problem:
            ap.error(f"--baseline-src: {problem}")
    return args, parts, cfg


def main(argv=None) -> int:
    args, parts, cfg = parse_args(argv)
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

    def measured(what: str, run: Callable[[], dict]) -> dict:
        """Run one part (or the comparison) and record how much CPU other processes took."""
        start, snap = time.perf_counter(), cpu_snapshot()
        result = run()
        busy = foreign_cpu(snap, cpu_snapshot(), time.perf_counter() - start)
        result["foreign_cpu"] = busy
        if busy and busy["share_of_one_cpu"] > BUSY_SHARE:
            log(f"  WARNING: other processes used {busy['seconds']:.1f} CPU-s during {what} "
                f"({busy['share_of_one_cpu']:.0%} of one CPU): its numbers are unreliable")
        return result

    if parts & set("abd"):
        X, y = make_data(cfg.n_train)
        for part, fn in (("a", part_a), ("b", part_b), ("d", part_d)):
            if part in parts:
                results[part] = measured(f"part {part}", partial(fn, cfg, X, y, log))
        del X, y
    if "c" in parts:
        results["c"] = measured("part c", lambda: part_c(cfg, log))
    comparison = None
    if args.baseline_src is not None:
        optimizers = [o for p, o in OPTIMIZER_OF_PART.items() if p in parts]
        comparison = measured("the baseline comparison", lambda: run_comparison(
            cfg, optimizers, args.baseline_src, log))
    wall = time.perf_counter() - t0
    env["machine"]["loadavg_at_end"] = list(os.getloadavg())
    env["machine"]["foreign_cpu"] = foreign_cpu(cpu0, cpu_snapshot(), wall)

    targets = check_targets(results)
    report = render_markdown(cfg, env, results, targets, wall)
    print()
    print(report)
    comparison_md = None
    if comparison is not None:
        comparison_md = render_comparison(comparison, env, cfg.quick)
        print(comparison_md)
    written = write_outputs(out, cfg, env, parts, results, targets, wall, report,
                            comparison, comparison_md)
    print("wrote " + ", ".join(map(str, written)))
    for t in targets:
        print(fmt_target(t))
    failed = [t for t in targets if not t["passed"]]
    if failed and not args.no_fail:
        print(f"{len(failed)} of {len(targets)} targets failed", file=sys.stderr)
        return 1
    return 0
