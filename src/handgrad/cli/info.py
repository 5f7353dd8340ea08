"""``handgrad info MODEL``: what a model file holds, read without running it.

The file's structure (sizes, classes, tensors) is validated by the loader; its training
``record`` is free-form JSON that other versions or other hands may have written. So each part
of the record is shown by its own small function, and a part whose shape is not the expected
one is shown as it is (shortened), never as a traceback: ``info`` shows any loadable file.
Everything read from the file is printed as plain text (see :mod:`handgrad.cli.terminal`).
"""

from __future__ import annotations

from .commands import _emit_json
from .search import describe

_SHOWN = 200  # characters of an unexpected value shown as it is


def cmd_info(args) -> int:
    from ..model.files import model_info
    from .terminal import markup, print_lines

    info = model_info(args.model)
    if args.json:
        _emit_json(info)
        return 0
    record = info.get("record")
    record = record if isinstance(record, dict) else {}
    acts = ", ".join(a["name"] + (f"({a['params']})" if a.get("params") else "") for a in info["activations"])
    lines = [markup("[bold]{}[/] (handgrad model format {}, written by handgrad {})", args.model,
                    info["format_version"], info["handgrad_version"]),
             f"architecture: {' → '.join(map(str, info['sizes']))}; hidden activations: {acts or 'none'}",
             f"parameters: {info['n_params']:,} ({info['dtype']}), l2 = {info['l2']:g}",
             _part("classes", _outputs_line, info),
             _part("features", _features_line, info)]
    for key, show in _RECORD_PARTS:
        if record.get(key) or (key == "dataset" and record.get("n_train") is not None):
            lines.extend(_part(key, show, record).split("\n"))  # one printed line each
    print_lines(*lines)
    return 0


def _part(name: str, show, source) -> str:
    """``show(source)``, or ``name: <the raw value>`` when the file holds something unexpected."""
    try:
        return show(source)
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        raw = repr(source.get(name) if isinstance(source, dict) else source)
        return f"{name}: {raw[:_SHOWN]}{'…' if len(raw) > _SHOWN else ''} (not in the expected form)"


def _trained_on(r) -> str:
    """What the record says of the training data and time, leaving out what it does not say."""
    rows = [f"{r[k]} {what}" for k, what in (("n_train", "train"), ("n_val", "validation")) if r.get(k) is not None]
    return ("trained on " + (str(r["dataset"]) if r.get("dataset") is not None else "data not recorded")
            + (f" ({', '.join(rows)} rows)" if rows else "")
            + (f" at {r['created']}" if r.get("created") is not None else ""))


def _imported(r) -> str:
    version = r.get("sklearn_version")
    return f"imported from {r['imported_from']}" + (f" (scikit-learn {version})" if version else "")


def _hyperparameters(r) -> str:
    return "hyperparameters: " + ", ".join(f"{k}={v}" for k, v in r["hyperparameters"].items())


def _history(r) -> str:
    h = r["history"]
    return (f"training: {len(h.get('epochs') or [])} epochs, best epoch {h.get('best_epoch')}, "
            f"{h.get('stop_reason')}")


def _selection(r) -> str:
    s = r["selection"]
    return f"epochs chosen by {s['method']}: {s['epochs']} (watching {s['monitor']})"


def _search(r) -> str:
    s = r["search"]
    return (f"found by --search: {s['runs']} runs of {s['candidates']} candidates in "
            f"{float(s['seconds']):.0f}s on {s['validation']}; winner {describe(s['winner'])}")


def _test(r) -> str:
    t = r["test"]
    if "r2" in t:
        return f"test R²: {float(t['r2']):.4f}, RMSE {float(t['rmse']):.6g} on {t['n_samples']} samples"
    return f"test accuracy: {float(t['accuracy']) * 100:.2f}% on {t['n_samples']} samples"


def _outputs_line(info) -> str:
    """The classes, or what a regressor predicts: its target(s), head and target scaling."""
    if info.get("task") != "regression":
        return f"classes: {', '.join(map(str, info['classes']))}"
    head = info["head"]
    loss = {"identity": "squared error", "huber": f"Huber loss (δ = {head['params'].get('delta')})",
            "exp": "Poisson deviance (log link)"}.get(head["name"], head["name"])
    names = ", ".join(info["target_names"] or ["the target"])
    target = info.get("target") or {}
    scaling = {"standardize": "standardised", "log": "its logarithm, standardised",
               "scale": "divided by its training mean", "none": "as it is"}.get(target.get("kind"), "as it is")
    return f"regression of {names}: {head['name']} output, {loss}; the network learns the target {scaling}"


def _ensemble(r) -> str:
    """One line per member: its settings, epochs, held-out score and weight (0: not chosen)."""
    e = r["ensemble"]
    rows = [f"  member {k}: hidden {m['hidden_sizes']} {m['activation'] if isinstance(m['activation'], str) else '/'.join(m['activation'])}, "
            f"l2 {float(m['l2']):.2g}, lr {float(m['lr']):.2g}, {m['epochs']} epochs, held-out {e['score']} "
            f"{float(m['held_out_score']):.4g}, weight {float(m['weight']):.2f}"
            for k, m in enumerate(e["members"])]
    chosen = sum(float(m["weight"]) > 0 for m in e["members"])
    return (f"ensemble: {chosen} of {len(e['members'])} members kept by {e['selection']['method']} "
            f"on {e['held_out']}\n" + "\n".join(rows))


def _warnings(r) -> str:
    return "\n".join(f"warning (when trained): {w}" for w in r["warnings"])


def _calibration(r) -> str:
    from .insight import calibration_lines

    return "\n".join(calibration_lines(r))


def _importance(r) -> str:
    from .insight import importance_lines

    imp = r["importance"]
    if not imp.get("columns"):
        return f"importance: not computed ({imp.get('skipped', 'no test part')})"
    return "\n".join(importance_lines(imp, f"on the {imp.get('data', 'test part')}", top=10))


_RECORD_PARTS = [("dataset", _trained_on), ("imported_from", _imported), ("hyperparameters", _hyperparameters),
                 ("history", _history), ("selection", _selection), ("search", _search),
                 ("ensemble", _ensemble), ("test", _test), ("warnings", _warnings),
                 ("calibration", _calibration), ("importance", _importance)]


def _features_line(info) -> str:
    n = len(info["feature_names"]) if info["feature_names"] else info["sizes"][0]
    prep = info.get("preprocessing") or {}
    if prep.get("type") != "table":
        return f"features: {n}" + (" (standardised)" if prep else "")
    kinds: dict[str, list[str]] = {}
    for c in prep["encoder"]["columns"]:
        quantile_only = "quantiles" in c and not c.get("both")  # both: standardised too, as plain numeric
        kinds.setdefault("numeric (quantile-scaled)" if quantile_only else c["kind"], []).append(c["name"])
    parts = [f"{k} {', '.join(v)}" for k, v in kinds.items()]
    return f"features: {n} from {len(prep['encoder']['columns'])} table columns ({'; '.join(parts)})"
