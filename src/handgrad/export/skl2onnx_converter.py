"""handgrad's estimators in skl2onnx: :func:`register_skl2onnx` registers a shape calculator and
a converter for :class:`handgrad.sklearn.MLPClassifier`, :class:`~handgrad.sklearn.MLPRegressor`
and :class:`~handgrad.sklearn.TableTransformer` (skl2onnx's documented extension API,
``update_registered_converter``), so that ``skl2onnx.to_onnx(pipeline, X)`` converts a
Pipeline ending in one of the estimators, with whatever skl2onnx converts before it
(StandardScaler, ColumnTransformer, ...) or a TableTransformer.

The TableTransformer reads one input per table column, named as the column, shape (N, 1), as
``handgrad.export.to_onnx`` does (:func:`skl2onnx_inputs` gives their ``initial_types``,
``handgrad.export.onnx_inputs`` the feed): a string tensor for a categorical column ("" for an
empty cell), a number tensor for a numeric or true/false column (cast to double; NaN for an
empty cell, 1/0 for true/false). Its output is the encoded features in double, as
``TableTransformer.transform`` gives them.

As skl2onnx's converter of scikit-learn's MLP, the network computes in the type of its input
(float for FloatTensorType, double for DoubleTensorType); classifiers give ``label`` and
``probabilities`` (a ZipMap after them unless ``options={"zipmap": False}``), regressors
``variable`` (N, n_outputs). The operators are those of :mod:`handgrad.export.graph`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputError
from . import graph
from .spec import portable


class _ContainerBuilder:
    """The builder interface of :mod:`.graph` over skl2onnx's scope and container."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def name(self, hint: str) -> str:
        return self.scope.get_unique_variable_name(hint)

    def const(self, hint: str, array) -> str:
        array = np.asarray(array)
        name = self.name(hint)
        if array.dtype.kind in "OUS":
            values = [str(v).encode("utf-8") for v in array.ravel()]
            code = graph.STRING
        else:
            from onnx.helper import np_dtype_to_tensor_dtype

            values, code = array.ravel().tolist(), np_dtype_to_tensor_dtype(array.dtype)
        self.container.add_initializer(name, code, list(array.shape), values)
        return name

    def node(self, op: str, inputs, hint: str | None = None, *, out: str | None = None,
             domain: str = "", version: int | None = None, **attrs) -> str:
        out = out if out is not None else self.name(hint or op.lower())
        extra = {"op_domain": domain} if domain else {}
        if version is not None:
            extra["op_version"] = version
        self.container.add_node(op, list(inputs), out, name=self.scope.get_unique_operator_name(op),
                                **extra, **attrs)
        return out


def _in_input_type(operator):
    """The estimator's :class:`Portable` computing in the operator's input type (float or
    double), the input's name."""
    from skl2onnx.common.data_types import DoubleTensorType

    p = portable(operator.raw_operator)
    dtype = np.dtype(np.float64 if isinstance(operator.inputs[0].type, DoubleTensorType) else np.float32)
    p = dataclasses.replace(p, dtype=dtype, weights=[W.astype(dtype) for W in p.weights],
                            biases=[b.astype(dtype) for b in p.biases])
    return p, dtype


def _convert(scope, operator, container):
    p, dtype = _in_input_type(operator)
    b = _ContainerBuilder(scope, container)
    x = operator.inputs[0].full_name
    if operator.inputs[0].type.__class__.__name__ not in ("FloatTensorType", "DoubleTensorType"):
        x = b.node("Cast", [x], "x_float", to=graph.proto_type(dtype))
    z = graph.network(b, p, x)
    if p.task == "regressor":
        graph.head(b, p, z, {"variable": operator.outputs[0].full_name})
        return
    label_dtype = None
    if p.task != "multilabel" and np.asarray(p.classes).dtype.kind not in "OUS":
        label_dtype = np.int64  # skl2onnx declares int64 labels for numeric classes
    graph.head(b, p, z, {"label": operator.outputs[0].full_name,
                         "probabilities": operator.outputs[1].full_name}, label_dtype)


def _classifier_shapes(operator):
    from skl2onnx.common.data_types import Int64TensorType
    from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes

    calculate_linear_classifier_output_shapes(operator)
    est = operator.raw_operator
    if est._label_binarizer.y_type_.startswith("multilabel"):
        N = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = Int64TensorType([N, est.n_outputs_])
        operator.outputs[1].type.shape = [N, est.n_outputs_]


def _regressor_shapes(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    N = operator.inputs[0].get_first_dimension()
    kind = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
    operator.outputs[0].type = kind([N, operator.raw_operator.n_outputs_])


def register_skl2onnx() -> None:
    """Register handgrad's MLPClassifier and MLPRegressor with skl2onnx (idempotent).

    Raises:
        InputError: skl2onnx is not installed.
    """
    try:
        from skl2onnx import update_registered_converter
    except ImportError:
        raise InputError("the skl2onnx converter needs skl2onnx: pip install '.[export]' in handgrad's folder") from None
    from ..sklearn import MLPClassifier, MLPRegressor, TableTransformer

    update_registered_converter(MLPClassifier, "HandgradMLPClassifier", _classifier_shapes, _convert,
                                options={"zipmap": [True, False, "columns"], "nocl": [True, False]})
    update_registered_converter(MLPRegressor, "HandgradMLPRegressor", _regressor_shapes, _convert)
    update_registered_converter(TableTransformer, "HandgradTableTransformer", _table_shapes,
                                _convert_table, parser=_parse_table)


def skl2onnx_inputs(obj) -> list[tuple]:
    """``initial_types`` for ``skl2onnx.to_onnx`` of a fitted TableTransformer or a Pipeline
    starting with one: ``(column, StringTensorType([None, 1]))`` for a categorical column,
    ``(column, DoubleTensorType([None, 1]))`` for a numeric or true/false one; the feed is
    ``handgrad.export.onnx_inputs(obj, frame)``."""
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    steps = getattr(obj, "steps", None)
    first = obj if steps is None else [s for _, s in steps if s not in (None, "passthrough")][0]
    encoder = getattr(first, "encoder_", None)
    if encoder is None:
        raise InputError(f"skl2onnx_inputs needs a fitted TableTransformer (or a Pipeline starting "
                         f"with one), got a {type(first).__name__}")
    return [(s["name"], StringTensorType([None, 1]) if s["kind"] == "categorical"
             else DoubleTensorType([None, 1])) for s in encoder.columns_ if s["kind"] != "dropped"]


def _parse_table(scope, model, inputs, custom_parsers=None):
    """The TableTransformer's operator over every column input, its output declared double
    from the start (skl2onnx guesses the next step's output types while parsing, from it)."""
    from skl2onnx.common.data_types import DoubleTensorType

    operator = scope.declare_local_operator("HandgradTableTransformer", model)
    operator.inputs = list(inputs)
    variable = scope.declare_local_variable("encoded", DoubleTensorType())
    operator.outputs.append(variable)
    return operator.outputs


def _table_shapes(operator):
    from skl2onnx.common.data_types import DoubleTensorType

    N = operator.inputs[0].get_first_dimension()
    names = operator.raw_operator.encoder_.feature_names_out_
    operator.outputs[0].type = DoubleTensorType([N, len(names)])


def _convert_table(scope, operator, container):
    """The table's column inputs -> the encoded features (double), by :func:`graph.encode_table`."""
    from types import SimpleNamespace

    encoder = operator.raw_operator.encoder_
    b = _ContainerBuilder(scope, container)
    have = {v.raw_name: v for v in operator.inputs}
    inputs = {}
    for s in encoder.columns_:
        if s["kind"] == "dropped":
            continue
        v = have.get(s["name"])
        if v is None:
            raise InputError(f"the TableTransformer reads the column {s['name']!r}, which is not among "
                             f"the inputs {sorted(have)}; give one input per column "
                             "(initial_types=handgrad.export.skl2onnx_inputs(pipeline))")
        kind = type(v.type).__name__
        if s["kind"] == "categorical":
            if kind != "StringTensorType":
                raise InputError(f"column {s['name']!r} is categorical: its input must be a string "
                                 f"tensor, not {kind} "
                                 "(initial_types=handgrad.export.skl2onnx_inputs(pipeline))")
            inputs[s["name"]] = v.full_name
        elif kind == "StringTensorType":
            raise InputError(f"column {s['name']!r} is {s['kind']}: its input must be a number tensor "
                             "(NaN for an empty cell, 1/0 for true/false), not strings "
                             "(initial_types=handgrad.export.skl2onnx_inputs(pipeline))")
        else:
            inputs[s["name"]] = (v.full_name if kind == "DoubleTensorType"
                                 else b.node("Cast", [v.full_name], "column_double", to=graph.DOUBLE))
    x = graph.encode_table(b, SimpleNamespace(encoder=encoder, dtype=np.dtype(np.float64)), inputs)
    b.node("Identity", [x], out=operator.outputs[0].full_name)
