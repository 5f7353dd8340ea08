"""``handgrad export MODEL --format onnx|torch --out FILE`` and
``handgrad import-sklearn FILE --out MODEL`` (handgrad.export behind them; docs/export.md).

``import-sklearn`` reads a ``.skops`` file with a list of trusted types, and a pickle or joblib
file only with ``--trust-pickle`` (:mod:`handgrad.export.sklearn_files`)."""

from __future__ import annotations

from .paths import output_file


def add_parsers(sub) -> None:
    ex = sub.add_parser("export", help="write a model file as ONNX or as a PyTorch state_dict",
                        description="Export a handgrad model file (preprocessing included) to ONNX, "
                                    "or to a PyTorch state_dict plus its architecture.")
    ex.add_argument("model", metavar="MODEL")
    ex.add_argument("--format", required=True, choices=["onnx", "torch"], dest="export_format")
    ex.add_argument("--out", required=True, metavar="FILE", help="the file to write (.onnx / .pt)")
    ex.set_defaults(func=cmd_export)

    im = sub.add_parser("import-sklearn",
                        help="turn a saved scikit-learn MLPClassifier or MLPRegressor (.skops, or a "
                             "trusted pickle) into a model file",
                        description="Read a fitted scikit-learn MLPClassifier or MLPRegressor (or a "
                                    "Pipeline of a StandardScaler or handgrad's TableTransformer and "
                                    "one) from a .skops file (skops.io.dump; only the types such an "
                                    "estimator holds are loaded) or, with --trust-pickle, a pickle or "
                                    "joblib file, and write a handgrad model file.")
    im.add_argument("pickle", metavar="FILE", help="a .skops file, or a pickle/joblib file with --trust-pickle")
    im.add_argument("--out", required=True, metavar="MODEL", help="the model file to write")
    im.add_argument("--trust-pickle", action="store_true",
                    help="load a pickle or joblib file: loading one runs whatever code it holds, "
                         "so only for a file you made or trust")
    im.set_defaults(func=cmd_import_sklearn)


def cmd_export(args) -> int:
    from ..export import save_onnx, save_torch
    from ..model.files import load_model

    out = output_file(args.out, "--out", [args.model])  # checked before the model is read
    model = load_model(args.model)
    path = (save_onnx if args.export_format == "onnx" else save_torch)(model, out, inputs=[args.model])
    print(f"wrote {path} ({args.export_format}, {path.stat().st_size:,} bytes)")
    return 0


def cmd_import_sklearn(args) -> int:
    from ..export import model_from_sklearn
    from ..export.sklearn_files import load_sklearn
    from ..model.files import save_model

    out = output_file(args.out, "--out", [args.pickle])  # checked before the file is read
    obj = load_sklearn(args.pickle, trust_pickle=args.trust_pickle, consent="--trust-pickle")
    model = model_from_sklearn(obj)
    save_model(model, out, inputs=[args.pickle])
    what = (f"regression, {model.net.output} output" if model.is_regressor
            else f"classes {model.classes.tolist()}")
    print(f"wrote {out}: {' → '.join(map(str, model.net.sizes))}, {what}")
    return 0
