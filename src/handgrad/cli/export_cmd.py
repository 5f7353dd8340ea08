"""``handgrad export MODEL --format onnx|torch --out FILE`` and
``handgrad import-sklearn PICKLE --out MODEL`` (handgrad.export behind them; docs/export.md)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from ..errors import InputError

PICKLE_WARNING = ("warning: loading a pickle runs whatever code it holds; import only a file you "
                  "made or trust")


def add_parsers(sub) -> None:
    ex = sub.add_parser("export", help="write a model file as ONNX or as a PyTorch state_dict",
                        description="Export a handgrad model file (preprocessing included) to ONNX, "
                                    "or to a PyTorch state_dict plus its architecture.")
    ex.add_argument("model", metavar="MODEL")
    ex.add_argument("--format", required=True, choices=["onnx", "torch"], dest="export_format")
    ex.add_argument("--out", required=True, metavar="FILE", help="the file to write (.onnx / .pt)")
    ex.set_defaults(func=cmd_export)

    im = sub.add_parser("import-sklearn",
                        help="turn a pickled scikit-learn MLPClassifier or MLPRegressor into a model file",
                        description="Read a fitted scikit-learn MLPClassifier or MLPRegressor (or a "
                                    "Pipeline of a StandardScaler or handgrad's TableTransformer and "
                                    "one) from a pickle or joblib file and write a handgrad model file. "
                                    "Loading a pickle runs code: only from a trusted file.")
    im.add_argument("pickle", metavar="PICKLE")
    im.add_argument("--out", required=True, metavar="MODEL", help="the model file to write")
    im.set_defaults(func=cmd_import_sklearn)


def _check_out(out: str) -> Path:
    path = Path(out)
    if path.is_dir():
        raise InputError(f"--out {out} is a directory; give a file path")
    return path


def cmd_export(args) -> int:
    from ..export import save_onnx, save_torch
    from ..model.files import load_model

    out = _check_out(args.out)
    model = load_model(args.model)
    path = (save_onnx if args.export_format == "onnx" else save_torch)(model, out)
    print(f"wrote {path} ({args.export_format}, {path.stat().st_size:,} bytes)")
    return 0


def cmd_import_sklearn(args) -> int:
    from ..export import model_from_sklearn
    from ..model.files import save_model

    out = _check_out(args.out)
    source = Path(args.pickle)
    if not source.is_file():
        raise InputError(f"{args.pickle}: no such file")
    print(PICKLE_WARNING, file=sys.stderr)
    try:
        import joblib  # reads joblib dumps and plain pickles alike

        obj = joblib.load(source)
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError) as exc:
        raise InputError(f"cannot read {args.pickle} as a pickle of a scikit-learn estimator "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    model = model_from_sklearn(obj)
    save_model(model, out)
    what = (f"regression, {model.net.output} output" if model.is_regressor
            else f"classes {model.classes.tolist()}")
    print(f"wrote {out}: {' → '.join(map(str, model.net.sizes))}, {what}")
    return 0
