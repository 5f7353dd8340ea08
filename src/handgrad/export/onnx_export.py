"""ONNX export: :func:`to_onnx`, :func:`save_onnx`, and :func:`onnx_inputs` to feed the result.

The exported graph is the whole prediction (see :mod:`handgrad.export.graph`):

* inputs: ``X`` (N, n_features) in the network's dtype for a numeric model; for a model
  trained on a table, one input per table column, shape (N, 1): double for numeric and
  true/false columns (NaN for an empty cell, 1/0 for true/false), double for date columns
  (days since 1970-01-01 00:00 on the clock as written, the time of day as the fraction; NaN
  for an empty cell), string for categorical columns (the text without surrounding spaces,
  "" for an empty cell);
* outputs: classifiers ``label`` (N,) (the original class labels: int64, double or string;
  (N, K) int64 0/1 for multilabel) and ``probabilities`` (N, K) in the network's dtype;
  regressors ``variable`` (N, n_outputs): for a Model in the target's units (its target
  scaling inside the graph) as double, like ``Model.predict``; for an estimator or MLP Z or
  e^Z in the network's dtype, like their ``predict``;
* metadata (``metadata_props``): handgrad_version, source, task, head, dtype, sizes,
  activations, classes, feature_names, input_columns, preprocessing, and for a Model
  regressor target_scaling ({"kind", "mean", "scale"}) and target_names; for an ensemble
  members (each one's sizes and activations) and member_weights;
* an ensemble is one graph: every member's network reads the same encoded input, and their
  probabilities (or μ) are averaged with the model's weights before the labels (or the target
  scaling).

The batch dimension N is dynamic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import InputError
from . import graph
from .spec import Portable, portable, source_files

OPSET = 17       # default domain; ONNX Runtime 1.14 and later run it
ML_OPSET = 2     # ai.onnx.ml: LabelEncoder with string keys


def _onnx():
    try:
        import onnx
    except ImportError:
        raise InputError("ONNX export needs the onnx package: pip install '.[export]' in handgrad's folder "
                         "(or pip install onnx onnxruntime)") from None
    return onnx


def to_onnx(obj, *, check: bool = True):
    """An ``onnx.ModelProto`` computing ``obj``'s predictions, preprocessing included.

    ``obj``: a :class:`~handgrad.model.Model`, a path of a model file, an
    :class:`~handgrad.MLP`, a fitted :class:`handgrad.sklearn.MLPClassifier` /
    :class:`~handgrad.sklearn.MLPRegressor`, or a Pipeline of a StandardScaler or
    TableTransformer and one of them. ``check`` runs ``onnx.checker.check_model`` on it.

    Raises:
        InputError: the object cannot be exported (custom activation, unfitted estimator, ...)
            or onnx is not installed.
    """
    onnx = _onnx()
    from onnx import helper

    p = portable(_load_if_path(obj))
    inputs, outputs = _inputs(p), _outputs(p)
    clash = sorted({i[0] for i in inputs} & {o[0] for o in outputs})
    if clash:
        raise InputError(f"the table column {clash[0]!r} has the name of an output of the ONNX graph "
                         f"({', '.join(o[0] for o in outputs)}), and ONNX needs every name once: "
                         "train the model with the column renamed to export it")
    b = graph.Builder(reserved=[i[0] for i in inputs + outputs])
    if p.encoder is not None:
        x = graph.encode_table(b, p, {name: name for name, _, _ in inputs})
    else:
        x = graph.standardize(b, p, "X", p.dtype)
    z = graph.network(b, p, x)
    mixed = graph.mixture(b, p, x, z) if p.members else None
    graph.head(b, p, z, {name: name for name, _, _ in outputs}, mixed=mixed)
    g = helper.make_graph(b.nodes, "handgrad", [helper.make_tensor_value_info(*i) for i in inputs],
                          [helper.make_tensor_value_info(*o) for o in outputs], b.initializers)
    model = helper.make_model(g, producer_name="handgrad", opset_imports=[
        helper.make_opsetid("", OPSET), helper.make_opsetid(graph.ML_DOMAIN, ML_OPSET)])
    from .._version import __version__

    model.producer_version = __version__
    model.doc_string = f"handgrad {p.task} exported from {p.source}"
    helper.set_model_props(model, p.metadata())
    if check:
        onnx.checker.check_model(model, full_check=True)
    return model


def save_onnx(obj, path, inputs=()) -> Path:
    """Write :func:`to_onnx`'s model to ``path`` atomically; return the path. ``path`` is
    never ``obj`` when that is a model file's path, nor one of ``inputs``."""
    path = Path(path)
    data = to_onnx(obj).SerializeToString()
    atomic_write_bytes(path, data, inputs=[*inputs, *source_files(obj)])
    return path


def _load_if_path(obj):
    if isinstance(obj, (str, Path)):
        from ..model.files import load_model

        return load_model(obj)
    return obj


def _inputs(p: Portable) -> list[tuple]:
    if p.encoder is None:
        return [("X", graph.proto_type(p.dtype), ["N", p.sizes[0]])]
    out = []
    for s in p.encoder.columns_:
        if s["kind"] == "dropped":
            continue
        code = graph.STRING if s["kind"] == "categorical" else graph.DOUBLE
        out.append((s["name"], code, ["N", 1]))
    return out


def _outputs(p: Portable) -> list[tuple]:
    ptype = graph.proto_type(p.dtype)
    if p.task == "regressor":
        return [("variable", graph.proto_type(p.values_dtype), ["N", p.n_outputs])]
    if p.task == "multilabel":
        return [("label", graph.INT64, ["N", p.n_outputs]),
                ("probabilities", ptype, ["N", p.n_outputs])]
    kind = np.asarray(p.classes).dtype.kind
    label = graph.STRING if kind in "OUS" else graph.DOUBLE if kind == "f" else graph.INT64
    return [("label", label, ["N"]), ("probabilities", ptype, ["N", len(p.classes)])]


def onnx_inputs(obj, X) -> dict[str, np.ndarray]:
    """The ``input_feed`` for ONNX Runtime's ``session.run(None, feed)`` on ``obj``'s export:
    ``{"X": X in the network's dtype}``, or for a table model one (N, 1) array per column of
    the DataFrame ``X``, converted by handgrad's rules (``TableEncoder.read``: empty cells
    NaN / "", true/false 1/0, numbers written as text read as in training, dates as days since
    1970-01-01, categorical text stripped, 3.0 read as "3"); a cell the model cannot read is
    refused naming its column, row and value."""
    p = portable(_load_if_path(obj))
    if p.encoder is None:
        return {"X": np.ascontiguousarray(X, dtype=p.dtype)}
    if not hasattr(X, "columns"):
        raise InputError("this model reads a table: give a pandas DataFrame with the columns "
                         f"{p.encoder.input_columns}")
    return {name: col.reshape(-1, 1) for name, col in p.encoder.read(X).items()}
