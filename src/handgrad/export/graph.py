"""The prediction of a :class:`~handgrad.export.spec.Portable` as ONNX operators.

The emitters write into a *builder* (:class:`Builder` here for a standalone ONNX file;
:mod:`handgrad.export.skl2onnx_converter` has one over skl2onnx's container), so the same
operators serve ``handgrad.export.to_onnx`` and the skl2onnx converter. Operators used exist
in the default domain from opset 13 on (LabelEncoder: ai.onnx.ml opset 2):

* preprocessing: ``(x − mean)/scale`` in double (handgrad standardises in float64), then a
  Cast to the network's dtype; a table's columns as handgrad's TableEncoder encodes them;
* the network: one ``Gemm`` per layer, then ``Relu``, ``LeakyRelu(alpha)``, ``Sigmoid``,
  ``Tanh`` or nothing (identity);
* the head: ``Softmax``; σ for logistic outputs written as handgrad writes it,
  ``where(z ≥ 0, 1, e^{−|z|}) / (1 + e^{−|z|})`` (ONNX Runtime's Sigmoid saturates, which
  would lose the relative accuracy of small probabilities); ``Exp`` for the Poisson head;
* a Model regressor's target scaling: ``Cast`` to double, ``Mul`` by the scale, ``Add`` the
  mean, then ``Exp`` when the model learned log y (handgrad's ``TargetScaler.inverse``, in
  double as handgrad runs it).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

ML_DOMAIN = "ai.onnx.ml"
FLOAT, DOUBLE, INT64, STRING, BOOL = 1, 11, 7, 8, 9  # onnx.TensorProto codes
_CODES = {np.dtype(np.float32): FLOAT, np.dtype(np.float64): DOUBLE}


def proto_type(dtype) -> int:
    """numpy float dtype -> TensorProto code (FLOAT or DOUBLE)."""
    return _CODES[np.dtype(dtype)]


class Builder:
    """Collects nodes and initializers of one graph, naming every value uniquely."""

    def __init__(self, reserved=()):
        from onnx import helper, numpy_helper

        self._helper, self._numpy_helper = helper, numpy_helper
        # the graph's input and output names (a table's column names): never reused inside
        self.nodes, self.initializers, self._used = [], [], set(reserved)

    def name(self, hint: str) -> str:
        name, i = hint, 0
        while name in self._used:
            i += 1
            name = f"{hint}_{i}"
        self._used.add(name)
        return name

    def const(self, hint: str, array) -> str:
        array = np.asarray(array)
        if array.dtype.kind in "OUS":
            array = np.array([str(v).encode("utf-8") for v in array.ravel()],
                             dtype=object).reshape(array.shape)
        name = self.name(hint)
        self.initializers.append(self._numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs, hint: str | None = None, *, out: str | None = None,
             domain: str = "", version: int | None = None, **attrs) -> str:
        out = out if out is not None else self.name(hint or op.lower())
        self.nodes.append(self._helper.make_node(op, list(inputs), [out], name=self.name("n_" + op),
                                                 domain=domain, **attrs))
        return out


# ----- preprocessing ------------------------------------------------------------------------

def standardize(b, p, x: str, in_dtype) -> str:
    """Matrix input ``x`` (in_dtype) -> the network's input (p.dtype)."""
    if p.mean is not None:
        if np.dtype(in_dtype) != np.float64:
            x = b.node("Cast", [x], "x_double", to=DOUBLE)
        x = b.node("Sub", [x, b.const("scaler_mean", p.mean.astype(np.float64))], "centered")
        x = b.node("Div", [x, b.const("scaler_scale", p.scale.astype(np.float64))], "standardized")
        in_dtype = np.float64
    if np.dtype(in_dtype) != p.dtype:
        x = b.node("Cast", [x], "x_net", to=proto_type(p.dtype))
    return x


def encode_table(b, p, inputs: dict[str, str]) -> str:
    """One input per table column (numeric/boolean: double (N, 1), NaN = empty; date: double
    (N, 1), days since 1970-01-01, NaN = empty; categorical: string (N, 1), "" = empty) -> the encoded features (N, n_features) in p.dtype, column
    for column what ``TableEncoder.transform`` gives."""
    blocks = []
    for s in p.encoder.columns_:
        kind = s["kind"]
        if kind == "dropped":
            continue
        x = inputs[s["name"]]
        if kind in ("numeric", "boolean"):
            nan = b.node("IsNaN", [x], "is_missing")
            filled = b.node("Where", [nan, b.const("fill", np.array(s["fill"])), x], "filled")
            mapped = [_quantile_map(b, s, filled)] if kind == "numeric" and "quantiles" in s else []
            if kind == "numeric" and (not mapped or s.get("both")):
                centered = b.node("Sub", [filled, b.const("mean", np.array(s["mean"]))], "centered")
                blocks.append(b.node("Div", [centered, b.const("scale", np.array(s["scale"]))], "scaled"))
            blocks += mapped or ([filled] if kind == "boolean" else [])
            if s["indicator"]:
                blocks.append(b.node("Cast", [nan], "indicator", to=DOUBLE))
        elif kind == "date":
            blocks += _date(b, s, x)
        elif kind == "categorical":
            blocks.append(_one_hot(b, s, x))
        else:
            raise InputError(f"column {s['name']!r} has the kind {kind!r}, which has no ONNX form here")
    x = b.node("Concat", blocks, "encoded", axis=1) if len(blocks) > 1 else blocks[0]
    return x if p.dtype == np.float64 else b.node("Cast", [x], "x_net", to=proto_type(p.dtype))


def _quantile_map(b, s, x: str) -> str:
    """A column's quantile map (``data.quantiles.apply_map``) as a sum of clipped segments:
    ``q(x) = z_0 + Σ_k s_k·(min(max(x, x_k), x_{k+1}) − x_k)``, s_k segment k's slope; x (N, 1)."""
    from ..data.quantiles import knots

    xs, zs = knots(s["quantiles"])
    if xs.size == 1:  # one knot: every value maps to z_0
        xs, zs = np.r_[xs, np.inf], np.r_[zs, zs]  # a flat segment: slope 0
    lo, hi = xs[:-1], xs[1:]
    clipped = b.node("Min", [b.node("Max", [x, b.const("knots_lo", lo)], "above"), b.const("knots_hi", hi)], "clipped")
    run = b.node("Sub", [clipped, b.const("knots_lo", lo)], "run")
    rise = b.node("MatMul", [run, b.const("slopes", (np.diff(zs) / np.diff(xs)).reshape(-1, 1))], "rise")
    return b.node("Add", [rise, b.const("z0", np.array(zs[0]))], "quantile_mapped")


def _date(b, s, t: str) -> list[str]:
    """The features of a date column (``handgrad.data.dates.features``) from its input: days
    since 1970-01-01 (double, NaN = empty). The calendar comes from the day number by integer
    arithmetic in double, exact below 2**53 (H. Hinnant's ``civil_from_days``)."""
    def k(v):
        return b.const("k", np.array(v, dtype=np.float64))

    def op(name, *args, hint=None):
        return b.node(name, [a if isinstance(a, str) else k(a) for a in args], hint)

    def floor_div(x, d):
        return op("Floor", op("Div", x, d), hint="quotient")

    nan = op("IsNaN", t, hint="is_missing")
    t = op("Where", nan, s["fill"], t, hint="date_filled")
    day = op("Floor", t, hint="day")
    z = op("Add", day, 719468)
    era = floor_div(z, 146097)
    doe = op("Sub", z, op("Mul", era, 146097))
    yoe = floor_div(op("Sub", op("Add", op("Sub", doe, floor_div(doe, 1460)), floor_div(doe, 36524)),
                       floor_div(doe, 146096)), 365)
    doy_march = op("Sub", doe, op("Sub", op("Add", op("Mul", yoe, 365), floor_div(yoe, 4)), floor_div(yoe, 100)))
    mp = floor_div(op("Add", op("Mul", doy_march, 5), 2), 153)  # March = 0
    jan_feb = op("GreaterOrEqual", mp, 10)
    jan_feb_1 = b.node("Cast", [jan_feb], "jan_feb", to=DOUBLE)
    month0 = op("Sub", op("Add", mp, 2), op("Mul", jan_feb_1, 12), hint="month0")
    year = op("Add", op("Add", yoe, op("Mul", era, 400)), jan_feb_1, hint="year")

    def divides(n):
        return op("Equal", op("Sub", year, op("Mul", floor_div(year, n), n)), 0)

    leap = op("Or", op("And", divides(4), op("Not", divides(100))), divides(400))
    leap_1 = b.node("Cast", [leap], "leap", to=DOUBLE)
    doy0 = op("Where", jan_feb, op("Sub", doy_march, 306), op("Add", op("Add", doy_march, 59), leap_1), hint="doy0")
    shifted = op("Add", day, 3)
    weekday = op("Sub", shifted, op("Mul", 7, floor_div(shifted, 7)), hint="weekday")
    out = []
    angles = {"month": lambda: op("Mul", month0, 2 * np.pi / 12),
              "weekday": lambda: op("Mul", weekday, 2 * np.pi / 7),
              "yearday": lambda: op("Div", op("Mul", doy0, 2 * np.pi), op("Add", leap_1, 365)),
              "time": lambda: op("Mul", op("Sub", t, day), 2 * np.pi)}
    for part in s["parts"]:
        if part == "elapsed":
            out.append(op("Div", op("Sub", t, s["mean"]), s["scale"], hint="elapsed"))
        else:
            angle = angles[part]()
            out += [op("Sin", angle, hint=f"{part}_sin"), op("Cos", angle, hint=f"{part}_cos")]
    if s["indicator"]:
        out.append(b.node("Cast", [nan], "indicator", to=DOUBLE))
    return out


def _one_hot(b, s, x: str) -> str:
    """The 0/1 columns of a categorical variable: levels = categories, (other), (missing);
    an unseen text goes to (other) if there is one, else nowhere (all 0), as handgrad does."""
    from ..data.features import MISSING, OTHER

    levels = list(s["categories"]) + ([OTHER] if s["other"] else []) + ([MISSING] if s["missing"] else [])
    index = {c: j for j, c in enumerate(levels)}
    nowhere = -1
    keys = list(index) + [""]  # "" is an empty cell: (missing) if the column has it
    values = list(index.values()) + [index.get(MISSING, nowhere)]
    idx = b.node("LabelEncoder", [x], "level", domain=ML_DOMAIN, version=2, keys_strings=keys,
                 values_int64s=values, default_int64=index.get(OTHER, nowhere))
    hot = b.node("Equal", [idx, b.const("levels", np.arange(len(levels), dtype=np.int64))], "is_level")
    return b.node("Cast", [hot], "one_hot", to=DOUBLE)


# ----- the network and its head ---------------------------------------------------------------

def network(b, p, x: str) -> str:
    """Input (N, n_0) in p.dtype -> logits (N, n_L)."""
    for layer, (W, bias) in enumerate(zip(p.weights, p.biases)):
        x = b.node("Gemm", [x, b.const(f"W{layer + 1}", W.astype(p.dtype)),
                            b.const(f"b{layer + 1}", bias.astype(p.dtype))], f"z{layer + 1}")
        if layer < len(p.activations):
            name, alpha = p.activations[layer]
            if name == "relu":
                x = b.node("Relu", [x], f"a{layer + 1}")
            elif name == "leaky_relu" and p.dtype == np.float32:
                x = b.node("LeakyRelu", [x], f"a{layer + 1}", alpha=float(alpha))
            elif name == "leaky_relu":  # LeakyRelu's alpha is a float32 attribute: 1e-8 off
                pos = b.node("Greater", [x, b.const("zero", np.array(0, dtype=p.dtype))], "positive")
                scaled = b.node("Mul", [x, b.const("alpha", np.array(alpha, dtype=p.dtype))], "scaled")
                x = b.node("Where", [pos, x, scaled], f"a{layer + 1}")
            elif name == "sigmoid":
                x = b.node("Sigmoid", [x], f"a{layer + 1}")
            elif name == "tanh":
                x = b.node("Tanh", [x], f"a{layer + 1}")
    return x


def mixture(b, p, x: str, z: str) -> str:
    """An ensemble's mean ``Σ_k w_k·h(Z_k)`` over its networks (``z``: the first's logits, the
    others computed from ``x``), h the softmax for classes, μ (Z, or e^Z for exp) for numbers;
    summed in double and given in the networks' dtype, as ``Model`` averages."""
    parts = []
    for k, (net, w) in enumerate(zip([p, *p.members], p.member_weights)):
        if w == 0:
            continue
        zk = z if k == 0 else network(b, net, x)
        if p.task == "regressor":
            h = b.node("Exp", [zk], "mu") if p.head == "exp" else zk
        else:
            h = b.node("Softmax", [zk], "softmax", axis=1)
        if p.dtype != np.float64:
            h = b.node("Cast", [h], "member_double", to=DOUBLE)
        parts.append(b.node("Mul", [h, b.const("member_weight", np.array(w, dtype=np.float64))], "weighted"))
    mean = parts[0] if len(parts) == 1 else b.node("Sum", parts, "ensemble_mean")
    return mean if p.dtype == np.float64 else b.node("Cast", [mean], "ensemble", to=proto_type(p.dtype))


def values(b, p, z: str, out: str, mu: str | None = None) -> str:
    """A regressor's logits -> its predictions ``out``: μ = Z (identity, huber) or e^Z (exp) in
    the network's dtype (an ensemble's: ``mu``, its :func:`mixture`); then, for a Model, the
    target's units in double: ``g⁻¹(target_scale·μ + target_mean)``, g = log for the target
    scaling "log"."""
    if mu is None:
        mu = b.node("Exp", [z], "mu") if p.head == "exp" else z
    if p.target_kind is None:
        return b.node("Identity", [mu], out=out)
    if p.dtype != np.float64:
        mu = b.node("Cast", [mu], "mu_double", to=DOUBLE)
    if np.any(p.target_scale != 1):
        mu = b.node("Mul", [mu, b.const("target_scale", p.target_scale.astype(np.float64))], "scaled")
    if np.any(p.target_mean != 0):
        mu = b.node("Add", [mu, b.const("target_mean", p.target_mean.astype(np.float64))], "shifted")
    if p.target_log:
        return b.node("Exp", [mu], out=out)
    return b.node("Identity", [mu], out=out)


def _sigmoid(b, p, z: str) -> str:
    """σ(z) = where(z ≥ 0, 1, E)/(1 + E), E = e^{−|z|}: handgrad's form, accurate in the tails."""
    one = b.const("one", np.array(1, dtype=p.dtype))
    E = b.node("Exp", [b.node("Neg", [b.node("Abs", [z], "abs")], "neg_abs")], "e_neg_abs")
    nonneg = b.node("GreaterOrEqual", [z, b.const("zero", np.array(0, dtype=p.dtype))], "nonneg")
    top = b.node("Where", [nonneg, one, E], "numerator")
    return b.node("Div", [top, b.node("Add", [one, E], "denominator")], "sigmoid")


def head(b, p, z: str, outputs: dict[str, str], label_dtype=None, mixed: str | None = None) -> None:
    """Logits -> the named outputs: ``label`` and ``probabilities`` for classifiers,
    ``variable`` for regressors. ``label_dtype`` overrides the labels' dtype (skl2onnx
    declares int64 labels for numeric classes). ``mixed``: an ensemble's :func:`mixture`
    (probabilities, or μ), in place of the head of ``z``."""
    if p.task == "regressor":
        values(b, p, z, outputs["variable"], mu=mixed)
        return
    if p.temperature != 1:  # softmax(log P / T): for one network softmax(Z / T) (derivations §18)
        T = b.const("temperature", np.array(p.temperature, dtype=p.dtype))
        logs = b.node("Log", [mixed], "log_p") if mixed is not None else z
        P = b.node("Softmax", [b.node("Div", [logs, T], "tempered")], "softmax", axis=1)
    elif mixed is not None:
        P = mixed
    elif p.task == "binary":
        neg = b.node("Neg", [z], "neg_z")
        P = b.node("Concat", [_sigmoid(b, p, neg), _sigmoid(b, p, z)], "p_binary", axis=1)
    elif p.head == "softmax":
        P = b.node("Softmax", [z], "softmax", axis=1)
    else:
        P = _sigmoid(b, p, z)
    if p.clip:  # handgrad.sklearn's predict_proba: never exactly 0 or 1
        info = np.finfo(p.dtype)
        top = np.nextafter(p.dtype.type(1), p.dtype.type(0))
        b.node("Clip", [P, b.const("p_min", np.array(info.tiny, dtype=p.dtype)),
                        b.const("p_max", np.array(top, dtype=p.dtype))],
               out=outputs["probabilities"])
    else:
        b.node("Identity", [P], out=outputs["probabilities"])
    P = outputs["probabilities"]
    if p.task == "multilabel":
        on, cut = ((z, np.array(0, dtype=p.dtype)) if p.multilabel_on == "logits"
                   else (P, np.array(0.5, dtype=p.dtype)))
        yes = b.node("Greater", [on, b.const("threshold", cut)], "yes")
        b.node("Cast", [yes], out=outputs["label"], to=INT64)
        return
    classes = np.asarray(p.classes)
    if label_dtype is not None:
        classes = classes.astype(label_dtype)
    elif classes.dtype.kind in "iub":
        classes = classes.astype(np.int64)
    if p.threshold is not None:  # two classes: classes[1] where its probability reaches the cut
        p1 = b.node("Gather", [P, b.const("second", np.array(1, dtype=np.int64))], "p_second", axis=1)
        at = b.node("GreaterOrEqual", [p1, b.const("threshold", np.array(p.threshold, dtype=p.dtype))], "cut")
        idx = b.node("Cast", [at], "class_index", to=INT64)
    else:
        idx = b.node("ArgMax", [P], "class_index", axis=1, keepdims=0)
    b.node("Gather", [b.const("classes", classes), idx], out=outputs["label"], axis=0)
