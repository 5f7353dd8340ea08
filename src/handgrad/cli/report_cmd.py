"""``handgrad report MODEL [--data FILE] [--out PAGE.html]``: one self-contained HTML page per
model — what a user sends a colleague. It needs no network to be viewed: the pictures are PNGs
inside the page (``data:`` URIs), there is no script and no external style. It shows the data
(columns, their encodings, the notes of training), the settings, the learning curves, the
ensemble, the held-out calibration; with ``--data`` (labelled rows the model did not train on)
also the metrics — the same numbers as ``evaluate --json``, which the page carries verbatim in
a ``<script type="application/json" id="handgrad-evaluation">`` block —, the confusion matrix
or the residuals, the reliability diagram, a two-class model's ROC and precision-recall curves
and the permutation importance; without it, the test part's scores and importance recorded when
the model was trained."""

from __future__ import annotations

import base64
import html
import json
import tempfile
from pathlib import Path

import numpy as np

from ..errors import InputError


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML page about a model (and its scores on a file)")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--data", metavar="FILE", help="labelled rows to score (CSV/TSV/Parquet): metrics, "
                                                   "pictures and importance on them")
    p.add_argument("--target", metavar="COLUMN", help="the label (or number) column of --data "
                                                      "(default: the one the model was trained on)")
    p.add_argument("--out", metavar="FILE", help="the page to write (default: MODEL with .html)")
    p.add_argument("--repeats", type=int, default=5, metavar="N", help="shuffles per column for the importance")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_report, dataset=None, data_dir=None, download=False)


def cmd_report(args) -> int:
    from ..atomic import atomic_write_bytes
    from ..model.files import load_model, model_info
    from .commands import _evaluation_data, _score
    from .figure import _mpl
    from .terminal import echo

    out = Path(args.out) if args.out else Path(args.model).with_suffix(".html")
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give the page's file name")
    if args.repeats < 1:
        raise InputError(f"--repeats must be ≥ 1, got {args.repeats}")
    model, info = load_model(args.model), model_info(args.model)
    _mpl()  # matplotlib, or the install hint, before any work
    evaluation = imp = None
    with tempfile.TemporaryDirectory() as tmp:
        figures = _record_figures(model, Path(tmp))
        if args.data:
            from .insight import importance

            X, y, name = _evaluation_data(args, model)
            evaluation, pred = _score(model, X, y, with_predictions=True)
            evaluation = {"data": name, **evaluation}
            imp = importance(model, X, y, repeats=args.repeats, seed=args.seed)
            figures += _data_figures(model, evaluation, y, pred, imp, Path(tmp), name)
        page = _page(args.model, model, info, evaluation, imp, figures)
    atomic_write_bytes(out, page.encode("utf-8"))
    echo(f"wrote {out}")
    return 0


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _record_figures(model, tmp: Path) -> list[tuple[str, str]]:
    from .plots import plot_learning_curves

    history = model.record.get("history") or {}
    if not history.get("epochs"):
        return []
    path = plot_learning_curves(history["epochs"], tmp / "curves.png", title="learning curves",
                                best_epoch=history.get("best_epoch"))
    return [("Learning curves" + (" (the first kept member)" if model.members else ""), _png(path))]


def _data_figures(model, ev, y, pred, imp, tmp: Path, name: str) -> list[tuple[str, str]]:
    from .plots import plot_confusion_matrix, plot_importance, plot_regression, plot_reliability, plot_roc_pr

    out = []
    if model.is_regressor:
        out.append(("Predicted against actual, residuals", _png(plot_regression(
            np.asarray(y, dtype=np.float64), pred, tmp / "reg.png", title=name, names=model.target_names))))
    else:
        out.append(("Confusion matrix", _png(plot_confusion_matrix(
            ev["confusion_matrix"], [str(c) for c in model.classes], tmp / "cm.png", title=name))))
        out.append(("Reliability diagram", _png(plot_reliability(ev["reliability"], tmp / "rel.png",
                                                                 title=f"expected calibration error {ev['ece']:.4f}"))))
        positive = model.encode(y) == 1
        if model.classes.size == 2 and positive.any() and (~positive).any():
            out.append(("ROC and precision-recall curves", _png(plot_roc_pr(
                np.asarray(pred)[:, 1], positive, tmp / "roc.png", title=name,
                positive_name=str(model.classes[1]), threshold=model.threshold))))
    out.append(("Permutation importance", _png(plot_importance(imp, tmp / "imp.png", title=name))))
    return out


def _table(rows, head=None) -> str:
    e = html.escape
    h = f"<tr>{''.join(f'<th>{e(str(c))}</th>' for c in head)}</tr>" if head else ""
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{h}{body}</table>"


def _num(v) -> str:
    return "—" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def _page(path, model, info, ev, imp, figures) -> str:
    from .info import _features_line, _hyperparameters, _outputs_line
    from .insight import calibration_lines

    e, r = html.escape, model.record
    parts = [f"<h1>handgrad model {e(str(path))}</h1>",
             f"<p>{e(repr(model.net))}" + (f"; an ensemble of {len(model.networks)} networks" if model.members else "")
             + f"; {e(_outputs_line(info))}</p>",
             "<h2>Data</h2>", f"<p>{e(_features_line(info))}</p>",
             f"<p>trained on {e(str(r.get('dataset')))}: {r.get('n_train')} training rows, {r.get('n_val')} "
             "validation rows</p>"]
    encoder = info.get("preprocessing") or {}
    if encoder.get("type") == "table":
        parts.append(_table([(c["name"], c["kind"], _encoding(c)) for c in encoder["encoder"]["columns"]],
                            ["column", "kind", "encoding"]))
    notes = [*((r.get("table") or {}).get("notes") or []), *r.get("warnings", [])]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{e(str(n))}</li>" for n in notes) + "</ul>")
    parts += ["<h2>Settings</h2>", f"<p>{e(_hyperparameters(r))}</p>"]
    if r.get("ensemble"):
        parts.append(_table([(k, m["hidden_sizes"], m["l2"], m["lr"], m["epochs"], _num(m["held_out_score"]),
                              f"{m['weight']:.2f}") for k, m in enumerate(r["ensemble"]["members"])],
                            ["member", "hidden", "L2", "learning rate", "epochs", "held-out score", "weight"]))
    cal = calibration_lines(r)
    if cal:
        parts += ["<h2>Calibration on held-out rows</h2>", "<ul>" + "".join(f"<li>{e(c)}</li>" for c in cal) + "</ul>"]
    if ev is not None:
        keys = (("r2", "rmse", "mae", "median_absolute_error") if model.is_regressor else
                ("accuracy", "balanced_accuracy", "macro_f1", "log_loss", "roc_auc", "ece", "majority_accuracy"))
        parts += [f"<h2>Scores on {e(str(ev['data']))} ({ev['n_samples']} rows)</h2>",
                  _table([(k, _num(ev.get(k))) for k in keys], ["metric", "value"])]
        if not model.is_regressor:
            parts.append(_table([(c["class"], _num(c["precision"]), _num(c["recall"]), _num(c["f1"]), c["support"])
                                 for c in ev["per_class"]], ["class", "precision", "recall", "F1", "support"]))
    elif r.get("test"):
        parts += ["<h2>Scores recorded at training</h2>",
                  _table([(k, _num(v)) for k, v in r["test"].items()], ["metric", "value"])]
    shown = imp or (r.get("importance") if (r.get("importance") or {}).get("columns") else None)
    if shown:
        key = shown["ranked_by"]
        parts += [f"<h2>Columns that matter ({e('rise in log loss' if key == 'log_loss' else 'fall in R²')} "
                  f"when one is shuffled, mean ± sd of {shown['repeats']})</h2>",
                  _table([(c["column"], _num(c[key + "_mean"]), _num(c[key + "_std"])) for c in shown["columns"]],
                         ["column", "mean", "sd"])]
    for title, uri in figures:
        parts += [f"<h2>{e(title)}</h2>", f'<img alt="{e(title)}" src="{uri}">']
    if ev is not None:  # the numbers, as evaluate --json gives them
        data = json.dumps(ev, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
        data = data.replace("</", "<\\/")  # a label holding "</script>" cannot end the block
        parts.append(f'<script type="application/json" id="handgrad-evaluation">{data}</script>')
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;"
             "text-align:left}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>handgrad report: {e(str(path))}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def _encoding(c: dict) -> str:
    kind = c["kind"]
    if kind == "numeric":
        how = "quantile map" + (" and standardised" if c.get("both") else "") if "quantiles" in c else \
            f"standardised (mean {c['mean']:.4g}, sd {c['scale']:.4g})"
        return how + (f"; empty cells → {c['fill']:.4g} plus a missing indicator" if c["indicator"] else "")
    if kind == "categorical":
        return f"one-hot, {len(c['categories'])} categories" + (" + (other)" if c["other"] else "") + \
            (" + (missing)" if c["missing"] else "")
    if kind == "dropped":
        return f"dropped: {c['why']}"
    return kind
