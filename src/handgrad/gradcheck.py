"""Gradient checking: analytic gradients against central finite differences, in float64.

For a scalar function L(θ) and each checked entry θ_j::

    numeric_j = (L(θ + h e_j) − L(θ − h e_j)) / (2h),      h = 1e-5

whose error is O(h²) (the O(h) terms cancel), against the analytic ``∂L/∂θ_j``. An entry
passes when ``|analytic − numeric| ≤ atol + rtol·|numeric|`` with atol = 1e-8, rtol = 1e-6
(derivations.md §1). Everything runs in float64: in float32 the rounding error of L, about
1e-7·|L|/h ≈ 1e-2, would swamp the differences being measured.

Three entry points, all returning a :class:`GradcheckReport` (prints as a table, is truthy
when everything passed):

* :func:`gradcheck` — a whole :class:`~handgrad.MLP` (``gradcheck(net, X, y)``), or any
  function (dispatching to :func:`gradcheck_function`);
* :func:`gradcheck_function` — ``fn(*params) -> (loss, [grad per param])``, e.g.
  ``gradcheck_function(fn, [W, b])``;
* :func:`gradcheck_op` — an op given as ``forward(*inputs)`` and ``backward(dOut, *inputs)``;
  it is checked through the scalar ``L = Σ G ⊙ forward(*inputs)`` with a fixed random G, whose
  gradient is exactly ``backward(G, *inputs)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .errors import InputError
from .validation import check_count, check_positive

Array = np.ndarray
H, ATOL, RTOL = 1e-5, 1e-8, 1e-6


@dataclass
class ParamCheck:
    """The check of one parameter array."""

    name: str
    shape: tuple
    checked: int
    total: int
    max_abs_err: float
    max_rel_err: float
    worst_index: tuple
    worst_analytic: float
    worst_numeric: float
    failed: int

    @property
    def passed(self) -> bool:
        return self.failed == 0


@dataclass
class GradcheckReport:
    """Per-parameter results of a gradient check; ``bool(report)`` is True when all passed."""

    title: str
    checks: list[ParamCheck]
    h: float = H
    atol: float = ATOL
    rtol: float = RTOL
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        # a check of no entry proves nothing: it does not pass
        return all(c.passed for c in self.checks) and any(c.checked for c in self.checks)

    def __bool__(self) -> bool:
        return self.passed

    def __getitem__(self, name: str) -> ParamCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def __str__(self) -> str:
        head = ["param", "shape", "checked", "max abs err", "max rel err", "worst entry",
                "analytic", "numeric", "result"]
        rows = [[c.name, "×".join(map(str, c.shape)) or "scalar", f"{c.checked}/{c.total}",
                 f"{c.max_abs_err:.2e}", f"{c.max_rel_err:.2e}",
                 str(c.worst_index), f"{c.worst_analytic:.6g}", f"{c.worst_numeric:.6g}",
                 "ok" if c.passed else f"FAIL ({c.failed})"] for c in self.checks]
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
        fmt = lambda r: "  ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip()
        n_ok = sum(c.passed for c in self.checks)
        lines = [f"gradcheck: {self.title}",
                 f"central differences in float64, h={self.h:g}; an entry passes when "
                 f"|analytic - numeric| <= {self.atol:g} + {self.rtol:g}*|numeric|",
                 fmt(head), fmt(["-" * w for w in widths])]
        lines += [fmt(r) for r in rows]
        lines += [f"note: {n}" for n in self.notes]
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(f"{verdict}: {n_ok} of {len(self.checks)} parameters within tolerance")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):  # IPython shows the table
        p.text(str(self))


def _as_float64_params(params: Sequence[Array]) -> list[Array]:
    out = []
    for i, p in enumerate(params):
        if not isinstance(p, np.ndarray) or p.dtype != np.float64:
            raise InputError(
                f"parameter {i} must be a float64 numpy array (gradient checks run in float64 "
                f"so rounding does not drown the differences); pass p.astype(np.float64)")
        if not p.flags.writeable:
            raise InputError(f"parameter {i} is read-only; the checker perturbs entries in place")
        out.append(p)
    return out


def _pick_entries(size: int, max_entries: int | None, rng: np.random.Generator) -> Array:
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_entries, replace=False))


def gradcheck_function(fn: Callable[..., tuple[float, Sequence[Array]]], params: Sequence[Array],
                       names: Sequence[str] | None = None, *, h: float = H, atol: float = ATOL,
                       rtol: float = RTOL, max_entries: int | None = 2000, seed: int = 0,
                       title: str = "function") -> GradcheckReport:
    """Check ``fn(*params) -> (loss, grads)`` at ``params`` (float64 arrays).

    Each checked entry of each parameter is perturbed in place by ±h and restored; ``fn``
    must therefore read its parameters from the arrays it is given. ``max_entries`` caps the
    entries checked per parameter (a seeded random sample, reported as e.g. 2000/200704);
    None checks them all.
    """
    max_entries = None if max_entries is None else check_count(max_entries, "max_entries")
    h = check_positive(h, "h (the finite-difference step)")
    atol = check_positive(atol, "atol", allow_zero=True)
    rtol = check_positive(rtol, "rtol", allow_zero=True)
    seed = check_count(seed, "seed", minimum=0)
    params = _as_float64_params(params)
    if not params:
        raise InputError("no parameters to check: give at least one array")
    names = list(names) if names is not None else [f"p{i}" for i in range(len(params))]
    if len(names) != len(params):
        raise InputError(f"got {len(names)} names for {len(params)} parameters")
    _, grads = fn(*params)
    grads = [np.array(g, dtype=np.float64) for g in grads]  # copy: fn may reuse its buffers
    if len(grads) != len(params):
        raise InputError(f"fn returned {len(grads)} gradients for {len(params)} parameters")
    rng = np.random.default_rng(seed)
    checks = []
    for name, p, g in zip(names, params, grads):
        if g.shape != p.shape:
            raise InputError(f"gradient of {name} has shape {g.shape} but the parameter has {p.shape}")
        flat_p = p.reshape(-1)  # a view for contiguous arrays: writes reach fn's parameters
        if not np.shares_memory(flat_p, p):
            raise InputError(f"parameter {name} must be contiguous so its entries can be perturbed")
        idx = _pick_entries(p.size, max_entries, rng)
        numeric = np.empty(idx.size)
        for k, j in enumerate(idx):
            old = flat_p[j]
            flat_p[j] = old + h
            up = float(fn(*params)[0])
            flat_p[j] = old - h
            down = float(fn(*params)[0])
            flat_p[j] = old
            numeric[k] = (up - down) / (2 * h)
        analytic = g.reshape(-1)[idx]
        checks.append(_summarise(name, p.shape, idx, analytic, numeric, atol, rtol))
    return GradcheckReport(title, checks, h, atol, rtol)


def _summarise(name, shape, idx, analytic, numeric, atol, rtol) -> ParamCheck:
    err = np.abs(analytic - numeric)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    rel = np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)
    failed = err > atol + rtol * np.abs(numeric)
    if idx.size == 0:
        return ParamCheck(name, tuple(shape), 0, 0, 0.0, 0.0, (), 0.0, 0.0, 0)
    # the worst entry: the worst failing one if any fail, else the largest absolute error
    k = int(np.argmax(np.where(failed, err, -1.0))) if failed.any() else int(np.argmax(err))
    where = tuple(int(i) for i in np.unravel_index(idx[k], shape)) if shape else ()
    return ParamCheck(name, tuple(shape), int(idx.size), int(np.prod(shape, dtype=np.int64)),
                      float(err.max()), float(rel.max()), where, float(analytic[k]),
                      float(numeric[k]), int(failed.sum()))


def gradcheck_op(forward: Callable[..., Array], backward: Callable[..., Sequence[Array] | Array],
                 inputs: Sequence[Array], names: Sequence[str] | None = None, *,
                 seed: int = 0, **kw) -> GradcheckReport:
    """Check an op: ``forward(*inputs) -> out`` and ``backward(dOut, *inputs) -> grads``.

    The scalar checked is ``L = Σ G ⊙ forward(*inputs)`` for a fixed standard-normal ``G``
    of the output's shape; its exact gradient w.r.t. each input is what ``backward(G, *inputs)``
    must return (one array per input, or a single array for a one-input op).
    """
    seed = check_count(seed, "seed", minimum=0)
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    G = np.random.default_rng(seed + 1).standard_normal(np.shape(forward(*inputs)))

    def fn(*xs):
        grads = backward(G, *xs)
        if isinstance(grads, np.ndarray):
            grads = [grads]
        return float(np.sum(G * forward(*xs))), grads

    return gradcheck_function(fn, inputs, names, seed=seed,
                              title=kw.pop("title", getattr(forward, "__name__", "op")), **kw)


def gradcheck_network(net, X, y, sample_weight=None, *, part: str = "total",
                      max_entries: int | None = 2000, seed: int = 0, **kw) -> GradcheckReport:
    """Check ``net.loss_and_grads`` (``part`` = "total", "data" or "l2") on a float64 copy.

    A note is added when a pre-activation lies within 1e-3 of a kink of its activation
    (e.g. ReLU at 0), or a residual of the Huber head within 1e-3 of ±δ (where its second
    derivative jumps, derivations.md §14): finite differences straddling a kink measure a
    one-sided slope, so a failure there says nothing about the code.
    """
    net64 = net.astype("float64")
    X64 = net64.check_X(X)
    y64 = net64.check_y(y, X64.shape[0])
    w = net64.check_sample_weight(sample_weight, X64.shape[0])

    def fn(*_params):  # the params are views of net64.flat: perturbing them perturbs the net
        return net64.loss_and_grads(X64, y64, w, part)

    report = gradcheck_function(fn, net64.params, net64.param_names, max_entries=max_entries,
                                seed=seed, title=f"{net!r}, {part} loss, {X64.shape[0]} samples", **kw)
    report.notes += _kink_notes(net64, X64) + _huber_notes(net64, X64, y64)
    return report


def _kink_notes(net, X) -> list[str]:
    notes, A = [], X
    for l, act in enumerate(net.activations):
        Z = A @ net.weights[l] + net.biases[l]
        for k in act.kinks:
            d = float(np.min(np.abs(Z - k)))
            if d < 1e-3:
                notes.append(f"layer {l + 1} ({act.name}): a pre-activation lies {d:.1e} from the "
                             f"kink at {k:g}; entries touching it may fail for that reason alone")
        A = act.forward(Z)
    return notes


def _huber_notes(net, X, Y) -> list[str]:
    if net.output != "huber":
        return []
    d = float(np.min(np.abs(np.abs(net.forward(X) - Y) - net.huber_delta)))
    if d >= 1e-3:
        return []
    return [f"output (huber, δ={net.huber_delta:g}): a residual Z − Y lies {d:.1e} from ±δ, "
            "where the loss's curvature jumps; entries touching it may fail for that reason alone"]


def gradcheck(target, *args, **kwargs) -> GradcheckReport:
    """Public gradient checker.

    * ``gradcheck(net, X, y, sample_weight=None, part="total")`` — a :class:`~handgrad.MLP`;
    * ``gradcheck(fn, params, names=None)`` — any ``fn(*params) -> (loss, grads)``.

    Keyword options: ``h`` (1e-5), ``atol`` (1e-8), ``rtol`` (1e-6), ``max_entries`` per
    parameter (2000, None for all), ``seed``. Returns a :class:`GradcheckReport`; print it
    for the table, ``bool(report)`` / ``report.passed`` for the verdict.

    Example:
        >>> import numpy as np, handgrad as hg
        >>> net = hg.MLP([4, 5, 3], activation="tanh", l2=0.1, dtype="float64")
        >>> X = np.random.default_rng(0).normal(size=(6, 4))
        >>> bool(hg.gradcheck(net, X, np.array([0, 1, 2, 0, 1, 2])))
        True
    """
    from .network import MLP

    if isinstance(target, MLP):
        return gradcheck_network(target, *args, **kwargs)
    if callable(target):
        return gradcheck_function(target, *args, **kwargs)
    raise InputError(f"gradcheck takes an MLP or a function fn(*params) -> (loss, grads), "
                     f"got {type(target).__name__}")
