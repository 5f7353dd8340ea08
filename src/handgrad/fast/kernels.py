"""In-place kernels of the training step and of prediction, each equal to a reference function.

| kernel                         | must equal (handgrad.core…)                       |
|--------------------------------|---------------------------------------------------|
| ``row_max``, ``row_sum``       | ``Z.max(axis=1)``, ``Z.sum(axis=1)`` as columns   |
| ``softmax_into``               | ``losses.softmax``                                |
| ``softmax_cross_entropy``      | ``losses.softmax_cross_entropy``                  |
| ``sigmoid_binary_cross_entropy`` | ``heads.sigmoid_binary_cross_entropy``          |
| ``squared_error``              | ``heads.squared_error``                           |
| ``exp_poisson_deviance``       | ``heads.exp_poisson_deviance``                    |
| ``huber_loss``                 | ``heads.huber_loss``                              |
| ``kernel_for(act)``            | ``act.forward`` / ``act.derivative``              |

They write into buffers the caller owns (``out=``, ``work=``) and take fewer passes over
memory than the reference forms; tests/fast/ runs both on the same inputs. The regression
heads' arithmetic lives in ``*_rows`` functions (:data:`REGRESSION_ROWS`) that the
stacked step of K models (:mod:`handgrad.fast.stacked`) calls too.
"""

from __future__ import annotations

# size: every in-place kernel of the training step and of prediction, beside the table of the
# references they must equal; split by head, that table and the shared row helpers would scatter.

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..core.activations import Activation
from ..core.heads import regression_mean, xlogx
from ..errors import InputError

Array = np.ndarray


# ----- row reductions over the class axis ---------------------------------------------------

def row_max(Z: Array) -> Array:
    """``max_k Z_ik`` as an (m, 1) column.

    numpy reduces along a short contiguous axis slowly (23 µs for 512×10 here); reducing the
    transposed copy along its first axis is elementwise maxima of long rows (3 µs).
    """
    return np.maximum.reduce(np.ascontiguousarray(Z.T), axis=0)[:, None]


def row_sum(Z: Array) -> Array:
    """``Σ_k Z_ik`` as an (m, 1) column, as the product ``Z·1`` (BLAS; 1.7 µs against 8.6 µs
    for ``Z.sum(axis=1)`` at 512×10 here)."""
    return (Z @ _ones(Z.shape[1], Z.dtype))[:, None]


@functools.lru_cache(maxsize=64)
def _ones(n: int, dtype) -> Array:
    out = np.ones(n, dtype=dtype)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def _row_starts(m: int, k: int) -> Array:
    """``[0, k, 2k, …]`` (m,): where each row of a C-ordered (m, k) array starts, flat."""
    out = np.arange(0, m * k, k)
    out.flags.writeable = False
    return out


# ----- output heads -------------------------------------------------------------------------

def softmax_into(Z: Array, out: Array | None = None) -> Array:
    """``core.losses.softmax`` with the row reductions above; ``out`` may be ``Z``."""
    E = np.subtract(Z, row_max(Z), out=out)
    np.exp(E, out=E)
    E /= row_sum(E)
    return E


def sigmoid_from_exp(Z: Array, E: Array, out: Array | None = None) -> Array:
    """``core.activations.sigmoid_forward`` given ``E = exp(−|Z|)`` (which the logistic loss
    needs too): ``1/(1+E)`` where Z ≥ 0, ``E/(1+E)`` where Z < 0, one division for both.
    ``out`` may be Z itself."""
    return np.divide(np.where(Z >= 0, 1.0, E), np.add(E, 1.0), out=out)


def softmax_cross_entropy(Z: Array, y: Array, sample_weight: Array | None = None,
                          out: Array | None = None, work: Array | None = None,
                          stats: dict | None = None, smoothing: float = 0.0) -> tuple[float, Array]:
    """``core.losses.softmax_cross_entropy`` in fewer passes (derivations.md eq. 3.3').

    With ``c_i = max_k Z_ik``, ``T = Z − c`` (into ``work``) and ``s_i = Σ_k exp(T_ik)``:
    ``CE_i = log s_i − Σ_k Y_ik T_ik`` (using ``Σ_k Y_ik = 1``; for labels ``T_{i,y_i}``) and
    ``∂L/∂Z = exp(T)·(w/(m·s)) − w·Y/m`` (into ``out``): P − Y without forming P or Y.
    ``stats["correct"]`` is set, for labels, to the number of rows whose true class has the
    largest logit (T_{i,y_i} = 0), the training accuracy at no extra pass.
    Label smoothing ε (eq. 16.3): ``Ỹ = (1 − ε)Y + ε/K`` without forming it — the label's
    entry gets (1 − ε)·w/m subtracted, every entry ε/K·w/m, and ``Σ_k Ỹ_ik T_ik = (1 − ε) T_{i,y_i}
    + (ε/K) Σ_k T_ik``.
    """
    m = Z.shape[0]
    T = np.subtract(Z, row_max(Z), out=work)                        # T = Z − c ≤ 0
    dZ = np.exp(T, out=out)
    s = row_sum(dZ)
    row_scale = 1 / (m * s) if sample_weight is None else sample_weight[:, None] / (m * s)
    dZ *= row_scale                                                 # w·P/m
    target_scale = (1 / m) if sample_weight is None else sample_weight / m
    if y.ndim == 1:
        at = _row_starts(m, Z.shape[1]) + y                         # flat index of (i, y_i)
        t_y = T.reshape(-1)[at]
        if stats is not None:
            stats["correct"] = int(np.count_nonzero(t_y == 0))
        if smoothing:                                               # eq. 16.3
            K = Z.shape[1]
            t_y = (1 - smoothing) * t_y + (smoothing / K) * T.sum(axis=1)
            dZ -= (smoothing / K) * (target_scale if sample_weight is None else target_scale[:, None])
            target_scale = (1 - smoothing) * target_scale
        dZ.reshape(-1)[at] -= target_scale                          # w·(P − Y)/m
    else:
        if smoothing:
            y = (1 - smoothing) * y + smoothing / Z.shape[1]        # eq. 16.1
        t_y = (y * T).sum(axis=1)
        dZ -= y * (target_scale if sample_weight is None else target_scale[:, None])
    per_sample = np.log(s[:, 0]) - t_y                              # CE_i = log s_i − Σ_k Y_ik T_ik
    if sample_weight is not None:
        per_sample = per_sample * sample_weight
    return float(per_sample.sum(dtype=np.float64) / m), dZ


def sigmoid_binary_cross_entropy(Z: Array, Y: Array, sample_weight: Array | None = None,
                                 out: Array | None = None, work: Array | None = None,
                                 stats: dict | None = None) -> tuple[float, Array]:
    """``core.heads.sigmoid_binary_cross_entropy`` with ``e^{−|Z|}`` computed once for both
    softplus and σ, and ∂L/∂Z written into ``out``."""
    m = Z.shape[0]
    E = np.exp(-np.abs(Z))
    per_sample = (np.maximum(Z, 0) + np.log1p(E) - Y * Z).sum(axis=1)
    dZ = sigmoid_from_exp(Z, E, out=out)
    dZ -= Y
    if sample_weight is not None:
        per_sample = per_sample * sample_weight
        dZ *= sample_weight[:, None]
    dZ /= m
    return float(per_sample.sum(dtype=np.float64) / m), dZ


# The regression heads in two parts. ``*_rows(Z, Y, w, m, out, work)`` returns the weighted
# per-row losses w_i ℓ_i (rows,) and ∂L/∂Z = diag(w)·h'(Z, Y)/m into ``out``, with ``m`` the
# batch size or one per row as a (rows, 1) column: the stacked step of K models divides each
# model's rows by its own m_k, and shares this code rather than a copy of it.

def _batch_mean(per_sample: Array, dZ: Array, m: int) -> tuple[float, Array]:
    return float(per_sample.sum(dtype=np.float64) / m), dZ


def squared_error_rows(Z: Array, Y: Array, w: Array | None, m, out: Array | None = None,
                       work: Array | None = None) -> tuple[Array, Array]:
    """Rows of :func:`squared_error`: ``w_i ½‖Z_i − Y_i‖²`` and ``diag(w)(Z − Y)/m``."""
    dZ = np.subtract(Z, Y, out=out)
    per_sample = 0.5 * np.einsum("ik,ik->i", dZ, dZ)
    if w is not None:
        per_sample = per_sample * w
        dZ *= w[:, None]
    dZ /= m
    return per_sample, dZ


def squared_error(Z: Array, Y: Array, sample_weight: Array | None = None,
                  out: Array | None = None, work: Array | None = None,
                  stats: dict | None = None) -> tuple[float, Array]:
    """``core.heads.squared_error`` with ∂L/∂Z written into ``out``."""
    return _batch_mean(*squared_error_rows(Z, Y, sample_weight, Z.shape[0], out), Z.shape[0])


def exp_poisson_rows(Z: Array, Y: Array, w: Array | None, m, out: Array | None = None,
                     work: Array | None = None) -> tuple[Array, Array]:
    """Rows of :func:`exp_poisson_deviance`: ``w_i Σ_k [e^Z − Y·Z + Y log Y − Y]`` and
    ``diag(w)(e^Z − Y)/m``."""
    terms = xlogx(Y) - Y - Y * Z
    mu = np.exp(Z, out=out)
    terms += mu
    per_sample = terms.sum(axis=1)
    dZ = np.subtract(mu, Y, out=mu)
    if w is not None:
        per_sample = per_sample * w
        dZ *= w[:, None]
    dZ /= m
    return per_sample, dZ


def exp_poisson_deviance(Z: Array, Y: Array, sample_weight: Array | None = None,
                         out: Array | None = None, work: Array | None = None,
                         stats: dict | None = None) -> tuple[float, Array]:
    """``core.heads.exp_poisson_deviance`` with μ = e^Z computed once, into ``out`` (which may
    be Z: Y·Z is taken first), for both the loss and ∂L/∂Z = w·(μ − Y)/m."""
    return _batch_mean(*exp_poisson_rows(Z, Y, sample_weight, Z.shape[0], out), Z.shape[0])


def huber_rows(Z: Array, Y: Array, w: Array | None, m, out: Array | None = None,
               work: Array | None = None, delta: float = 1.0) -> tuple[Array, Array]:
    """Rows of :func:`huber_loss`: ``w_i Σ_k h_δ(Z_ik − Y_ik)`` (rows,) and
    ``diag(w) clip(Z − Y, −δ, δ)/m`` (rows, K), from Z, Y, ``out``, ``work`` (rows, K), w (rows,)
    or None and m a number or a (rows, 1) column."""
    R = np.subtract(Z, Y, out=work)                                    # r = Z − Y
    C = np.clip(R, -delta, delta, out=out)                             # c = h_δ'(r), eq. 14.3
    # h_δ(r) = c·r − ½c² on both sides of δ (c = r inside; c = δ·sign r outside, where it is
    # δ|r| − ½δ²): the loss read off the gradient's array, without a branch (eq. 14.4)
    per_sample = np.einsum("ik,ik->i", C, R) - 0.5 * np.einsum("ik,ik->i", C, C)
    if w is not None:
        per_sample = per_sample * w
        C *= w[:, None]
    C /= m
    return per_sample, C


def huber_loss(Z: Array, Y: Array, sample_weight: Array | None = None, out: Array | None = None,
               work: Array | None = None, stats: dict | None = None, delta: float = 1.0
               ) -> tuple[float, Array]:
    """``core.heads.huber_loss`` without a temporary of Z's size: the residual into ``work``,
    its clip (the gradient before w/m) into ``out`` (which may be Z), the loss from two row-wise
    dot products of those (eq. 14.4) instead of a branch per entry, w/m applied in place."""
    return _batch_mean(*huber_rows(Z, Y, sample_weight, Z.shape[0], out, work, delta), Z.shape[0])


REGRESSION_ROWS = {"identity": squared_error_rows, "exp": exp_poisson_rows, "huber": huber_rows}


LOSSES = {"softmax": softmax_cross_entropy, "logistic": sigmoid_binary_cross_entropy,
          "identity": squared_error, "exp": exp_poisson_deviance, "huber": huber_loss}


def probabilities_into(output: str, logits: Array, out: Array | None = None) -> Array:
    """``core.heads.probabilities``: softmax rows or σ elementwise, into ``out``."""
    if output == "softmax":
        return softmax_into(logits, out=out)
    if output != "logistic":  # a regression head: σ of its output would mean nothing
        raise InputError(f"a regression network (output={output!r}) has no probabilities; "
                         "use predict")
    return sigmoid_from_exp(logits, np.exp(-np.abs(logits)), out=out)


def decide(output: str, logits: Array) -> Array:
    """Predictions from logits, equal to the argmax of ``core.heads.probabilities`` away from
    near ties: the argmax of :func:`probabilities_into` (so that ``predict``
    always agrees with ``predict_proba``, even where logits closer than softmax can resolve
    tie), 1{z > 0} = 1{σ(z) > ½} for logistic outputs, for regression the predicted mean
    ``core.heads.regression_mean`` (Z, or e^Z for the exp head) in a new array."""
    if output == "softmax":
        return np.argmax(softmax_into(logits.copy()), axis=1)
    if output == "logistic":
        return (logits > 0).astype(np.int64)
    mu = regression_mean(output, logits)
    return mu.copy() if mu is logits else mu


# ----- subnormal numbers ------------------------------------------------------------------------

def flush_subnormals(a: Array) -> Array:
    """Set the subnormal entries of ``a`` (0 < |x| < the smallest normal number, ~1.2e-38 in
    float32) to 0, in place; equal to the identity up to that absolute difference.

    Weights of ReLU units that never fire shrink under the L2 penalty by a constant factor per
    step and end up subnormal, and so do Adam's second moments of tiny gradients. On many CPUs
    arithmetic on subnormals takes a slow path (tens of times slower per operation), so a
    matrix product holding a few thousand of them slows down the whole step; at zero they cost
    nothing and stay zero."""
    np.copyto(a, 0, where=np.abs(a) < np.finfo(a.dtype).tiny)
    return a


# ----- hidden activations --------------------------------------------------------------------

@dataclass(frozen=True)
class ActivationKernel:
    """In-place forms of an :class:`~handgrad.core.activations.Activation`.

    ``forward_into(Z, out)``: ``A = f(Z)`` into ``out`` (which may be ``Z``);
    ``derivative_into(Z, A, out)``: ``f'(Z)`` into ``out``, or None (identity, or an activation
    known only by its ``backward``); ``homogeneous``: ``A = Z ⊙ f'(Z)`` (the ReLU family);
    ``needs_input``: f' reads Z, so it must be taken before A overwrites Z.
    """

    forward_into: Callable[[Array, Array | None], Array]
    derivative_into: Callable[[Array | None, Array, Array], Array] | None
    homogeneous: bool = False
    needs_input: bool = False


def _relu_derivative_into(Z, A, out):
    return np.greater(A, 0, out=out)            # 1{A > 0} as 1.0 / 0.0


def _leaky_kernel(alpha: float) -> ActivationKernel:
    def derivative_into(Z, A, out):
        D = np.greater(A, 0, out=np.empty(A.shape, A.dtype) if out is None else out)
        D *= 1 - alpha
        D += alpha                              # 1 where A > 0, α elsewhere
        return D

    def forward_into(Z, out):
        return np.multiply(Z, derivative_into(None, Z, None), out=out)   # A = Z ⊙ f'(Z)

    return ActivationKernel(forward_into, derivative_into, homogeneous=True)


def _sigmoid_derivative_into(Z, A, out):
    D = np.subtract(1, A, out=out)
    D *= A                                      # (1 − A)·A
    return D


def _tanh_derivative_into(Z, A, out):
    D = np.multiply(A, A, out=out)
    return np.subtract(1, D, out=D)             # 1 − A²


def _identity_into(Z, out):
    if out is not None and out is not Z:
        out[...] = Z
        return out
    return Z


def _generic(act: Activation) -> ActivationKernel:
    """Any other activation: its reference functions, copied into the buffers."""
    def forward_into(Z, out):
        A = act.forward(Z)
        if out is None:
            return A
        out[...] = A
        return out

    def derivative_into(Z, A, out):
        out[...] = act.derivative(Z, A)
        return out

    return ActivationKernel(forward_into, None if act.derivative is None else derivative_into,
                            needs_input=act.needs_input)


def kernel_for(act: Activation) -> ActivationKernel:
    """The in-place kernel of ``act``: a hand-written one for the built-in families, else the
    activation's own functions (always for one that reads Z, as registered ones do)."""
    if act.needs_input:
        return _generic(act)
    if act.base == "relu":
        return ActivationKernel(lambda Z, out: np.multiply(Z, Z > 0, out=out),
                                _relu_derivative_into, homogeneous=True)
    if act.base == "leaky_relu":
        return _leaky_kernel(act.params["alpha"])
    if act.base == "sigmoid":
        return ActivationKernel(lambda Z, out: sigmoid_from_exp(Z, np.exp(-np.abs(Z)), out=out),
                                _sigmoid_derivative_into)
    if act.base == "tanh":
        return ActivationKernel(lambda Z, out: np.tanh(Z, out=out), _tanh_derivative_into)
    if act.base == "identity":
        return ActivationKernel(_identity_into, None)
    return _generic(act)
