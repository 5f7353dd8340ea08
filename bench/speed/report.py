"""The reports: speed.md (tables, targets, machine), speed.json (everything), the scaling figure
speed_scaling.png, and speed_compare.md for ``--baseline-src``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from .protocol import (ADAM_LR, ADAM_VS_TORCH, BUSY_SHARE, ESTIMATOR_VS_FLOOR, PREDICT_EXTRA_MB, SGD_VS_TORCH,
                       SMALL_BATCH, VS_FLOOR, VS_FLOOR_SMALL_BATCH, Config)


def check_targets(results: dict) -> list[dict]:
    """Every target as {name, value, limit, op, passed}."""
    targets = []

    def add(name, value, op, limit):
        ok = value <= limit if op == "≤" else value >= limit
        targets.append({"name": name, "value": value, "op": op, "limit": limit, "passed": ok})

    for B, r in results.get("a", {}).get("batches", {}).items():
        add(f"SGD epoch, batch {B}: handgrad / PyTorch", r["ratios"]["handgrad/torch"],
            "≤", SGD_VS_TORCH)
        limit = VS_FLOOR if int(B) >= SMALL_BATCH else VS_FLOOR_SMALL_BATCH
        add(f"SGD epoch, batch {B}: handgrad / GEMM floor", r["ratios"]["handgrad/floor"], "≤", limit)
        if "step/floor (chunks)" in r["ratios"]:
            add(f"SGD step, batch {B}: handgrad / GEMM floor, alternating in chunks of 8 steps",
                r["ratios"]["step/floor (chunks)"], "≤", limit)
        if "handgrad_shuffled/floor_gather" in r["ratios"]:
            add(f"SGD epoch, batch {B}, shuffled: handgrad / GEMM floor with the gather",
                r["ratios"]["handgrad_shuffled/floor_gather"], "≤", limit)
            add(f"SGD epoch, batch {B}: handgrad.sklearn.MLPClassifier / GEMM floor",
                r["ratios"]["handgrad_estimator/floor"], "≤", ESTIMATOR_VS_FLOOR)
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
    hgs, tv = env["handgrad"], env["torch"]
    dirty = {True: "dirty (uncommitted changes: " + ", ".join(
        c.strip() for c in hgs["changed"][:10]) + ")", False: "clean", None: "unknown"}[hgs["dirty"]]
    lines = [
        "# Speed: handgrad vs PyTorch eager vs scikit-learn vs the GEMM floor",
        "",
        *(["**QUICK RUN — tiny sizes, a smoke test of the script, not results.**", ""]
          if cfg.quick else []),
        f"- Date: {env['date']}",
        *machine_lines(env),
        f"- PyTorch {tv['version']}: {tv['threads']} threads by default; "
        + "; ".join(tv["parallel"]),
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        f"- handgrad {hgs['version']} at commit {hgs['commit']}, tree {dirty}; "
        f"source sha256 {hgs['source_sha256']}",
        busy_line(env["machine"].get("foreign_cpu"), results),
        f"- Protocol: see the docstring of bench/speed/__init__.py. {cfg.warmup} untimed warm-up round, "
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
        if all("handgrad_shuffled" in r["seconds"] for r in a["batches"].values()):
            lines += ["", "Shuffled (`fit`'s own order, its rows gathered per batch) against the floor that "
                      "gathers its rows in a random order first; and handgrad's scikit-learn estimator "
                      "(`handgrad.sklearn.MLPClassifier`, scikit-learn's SGD settings, a new estimator "
                      "per call) against the plain floor; and `fit`'s step (fused SGD, unshuffled) against "
                      "the floor's products of the same batches, alternating in chunks of 8 steps — the "
                      "ratio least moved by the machine's drift (whole epochs alternating carry ±20 % here):", "",
                      "| batch | handgrad shuffled s | floor with gather s | gather's share of the floor | "
                      "shuffled/floor with gather | estimator s | estimator/floor | step/floor, chunks of 8 steps |",
                      "|---|---|---|---|---|---|---|---|"]
            for B, r in a["batches"].items():
                s, q = {k: v["median"] for k, v in r["seconds"].items()}, r["ratios"]
                lines.append(f"| {B} | {s['handgrad_shuffled']:.3f} | {s['floor_gather']:.3f} | "
                             f"{q['floor_gather/floor'] - 1:+.0%} | {q['handgrad_shuffled/floor_gather']:.2f} | "
                             f"{s['handgrad_estimator']:.3f} | {q['handgrad_estimator/floor']:.2f} | "
                             + (f"{q['step/floor (chunks)']:.2f} |" if "step/floor (chunks)" in q else "|"))
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
        ax.axhline(VS_FLOOR, ls="--", color="grey", label=f"target {VS_FLOOR} (batch ≥ {SMALL_BATCH})")
        if panel == "batch":
            ax.axhline(VS_FLOOR_SMALL_BATCH, ls="-.", color="grey",
                       label=f"target {VS_FLOOR_SMALL_BATCH} (batch < {SMALL_BATCH})")
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


def foreign_line(busy: dict | None) -> str:
    """Other processes' CPU use during one measurement, with the busy-machine verdict."""
    if busy is None:
        return "- Other processes' CPU use: unknown (no /proc/stat)"
    share = busy["share_of_one_cpu"]
    return (f"- Other processes' CPU use meanwhile: {busy['seconds']:.1f} CPU-s ({share:.0%} of "
            f"one CPU)" + (" — **busy machine: unreliable**" if share > BUSY_SHARE
                           else " — quiet machine"))


def machine_lines(env: dict) -> list[str]:
    """The machine and numpy's BLAS (its kernel set), as every report records them."""
    m, blas = env["machine"], env["numpy_blas"]
    pin = m.get("openblas_coretype")
    return [f"- Machine: {m['cpu']}; {m['cpu_count']} CPUs ({m['cpus_available']} available); "
            f"{m['uname']}; load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}",
            f"- numpy BLAS: {blas['internal_api']} {blas['version']} ({blas['threading_layer']}, "
            f"{blas['architecture']} kernels{f', OPENBLAS_CORETYPE={pin}' if pin else ''}), "
            f"{blas['num_threads']} threads by default"]


def render_comparison(comp: dict, env: dict, quick: bool) -> str:
    """speed_compare.md: per optimizer and batch, current vs baseline handgrad/floor and seconds."""
    def source(side):
        s = comp["sources"][side]
        return f"- {side}: handgrad {s['version']} from {s['src']}, source sha256 {s['source_sha256']}"

    lines = [
        "# Speed before/after: the current handgrad vs a baseline source tree", "",
        *(["**QUICK RUN — tiny sizes, a smoke test of the script, not results.**", ""]
          if quick else []),
        f"- Date: {env['date']}", *machine_lines(env), source("current"), source("baseline"),
        *(["- **The two trees have identical handgrad sources.**"]
          if comp["identical_sources"] else []),
        f"- Protocol: {comp['rounds']} child processes per side, alternating current, baseline, "
        f"…; in each, per optimizer and batch, {comp['warmup']} warm-up + {comp['reps']} "
        f"interleaved rounds of the handgrad epoch and its GEMM floor ({comp['pause']:g} s pause), "
        f"{comp['n_train']:,} samples, 784-256-128-10 ReLU, float32 (parts (a)/(b) of "
        "bench/speed/__init__.py). Per side: the median over the children of each child's "
        "median ratio handgrad/floor and median handgrad seconds; current/baseline is the "
        "ratio of those medians (< 1: the current tree is faster).",
        foreign_line(comp.get("foreign_cpu")), "",
        "| optimizer | batch | handgrad/floor current | handgrad/floor baseline | "
        "current/baseline | handgrad s current | handgrad s baseline | current/baseline (s) | "
        "BLAS threads (current / baseline) | loss after the runs (current / baseline) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in comp["rows"]:
        c, b, q = r["current"], r["baseline"], r["current/baseline"]
        lines.append(
            f"| {r['optimizer']} | {r['batch']} | {c['ratio_median']:.3f} | "
            f"{b['ratio_median']:.3f} | **{q['handgrad/floor']:.3f}** | "
            f"{c['handgrad_s_median']:.4f} | {b['handgrad_s_median']:.4f} | "
            f"{q['handgrad_s']:.3f} | {'/'.join(map(str, c['threads']))} / "
            f"{'/'.join(map(str, b['threads']))} | {c['loss_after_runs'][0]:.4f} / "
            f"{b['loss_after_runs'][0]:.4f} |")
    return "\n".join(lines) + "\n"


def write_outputs(out: Path, cfg: Config, env: dict, parts: set, results: dict,
                  targets: list[dict], wall: float, report: str,
                  comparison: dict | None = None, comparison_md: str | None = None) -> list[Path]:
    """speed.md, speed_scaling.png (with part d), speed.json and, with a comparison,
    speed_compare.md, into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "speed.md", out / "speed.json"]
    (out / "speed.md").write_text(report, encoding="utf-8")
    if "d" in results:
        plot_scaling(results["d"], out / "speed_scaling.png",
                     f"\n{env['date'][:10]}, handgrad {(env['handgrad']['commit'] or '?')[:8]}"
                     f"{'+dirty' if env['handgrad']['dirty'] else ''}"
                     + (" — QUICK RUN, not results" if cfg.quick else ""))
        written.append(out / "speed_scaling.png")
    payload = {**env, "config": asdict(cfg), "parts": sorted(parts), "total_seconds": wall,
               "targets": targets, "results": results}
    if comparison is not None:
        payload["baseline_comparison"] = comparison
    (out / "speed.json").write_text(json.dumps(payload, indent=2, default=str) + "\n",
                                    encoding="utf-8")
    if comparison_md is not None:
        (out / "speed_compare.md").write_text(comparison_md, encoding="utf-8")
        written.append(out / "speed_compare.md")
    return written
