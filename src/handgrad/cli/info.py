"""``handgrad info MODEL``: what a model file holds, read without running it."""

from __future__ import annotations

from .commands import _emit_json
from .search import describe


def cmd_info(args) -> int:
    from ..model.files import model_info

    info = model_info(args.model)
    if args.json:
        _emit_json(info)
        return 0
    from .terminal import print_lines

    record = info.get("record") or {}
    hist = record.get("history") or {}
    hyper = record.get("hyperparameters") or {}
    acts = ", ".join(a["name"] + (f"({a['params']})" if a.get("params") else "") for a in info["activations"])
    lines = [f"[bold]{args.model}[/] (handgrad model format {info['format_version']}, "
             f"written by handgrad {info['handgrad_version']})",
             f"architecture: {' → '.join(map(str, info['sizes']))}; hidden activations: {acts or 'none'}",
             f"parameters: {info['n_params']:,} ({info['dtype']}), l2 = {info['l2']:g}",
             f"classes: {', '.join(map(str, info['classes']))}",
             _features_line(info)]
    if record:
        lines.append(f"trained on {record.get('dataset')} ({record.get('n_train')} train, "
                     f"{record.get('n_val')} validation rows) at {record.get('created')}")
    if hyper:
        lines.append("hyperparameters: " + ", ".join(f"{k}={v}" for k, v in hyper.items()))
    if hist:
        lines.append(f"training: {len(hist.get('epochs', []))} epochs, best epoch {hist.get('best_epoch')}, "
                     f"{hist.get('stop_reason')}")
    if record.get("selection"):
        sel = record["selection"]
        lines.append(f"epochs chosen by {sel['method']}: {sel['epochs']} (watching {sel['monitor']})")
    if record.get("search"):
        srch = record["search"]
        lines.append(f"found by --search: {srch['runs']} runs of {srch['candidates']} candidates in "
                     f"{srch['seconds']:.0f}s on {srch['validation']}; winner {describe(srch['winner'])}")
    if record.get("test"):
        lines.append(f"test accuracy: {record['test']['accuracy'] * 100:.2f}% on {record['test']['n_samples']} samples")
    print_lines(*lines)
    return 0


def _features_line(info) -> str:
    n = len(info["feature_names"]) if info["feature_names"] else info["sizes"][0]
    prep = info.get("preprocessing") or {}
    if prep.get("type") != "table":
        return f"features: {n}" + (" (standardised)" if prep else "")
    kinds: dict[str, list[str]] = {}
    for c in prep["encoder"]["columns"]:
        kinds.setdefault(c["kind"], []).append(c["name"])
    parts = [f"{k} {', '.join(v)}" for k, v in kinds.items()]
    return f"features: {n} from {len(prep['encoder']['columns'])} table columns ({'; '.join(parts)})"
