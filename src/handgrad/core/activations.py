"""Hidden-layer activations: each forward ``f`` beside its derivative ``f'`` (derivations.md §4).

Every activation is an :class:`Activation` holding

* ``forward(Z) -> A``, elementwise, shape-preserving: ``A = f(Z)``  (eq. 1.3);
* ``derivative(Z, A) -> f'(Z)``, the same shape;
* ``backward(dA, Z, A) -> dZ = dA ⊙ f'(Z)``, the chain rule through an elementwise map (eq. 2.5).

For the built-ins the derivative is written in terms of the *output* ``A`` where that is
possible (sigmoid' = A(1−A), tanh' = 1−A², ReLU' = 1{A>0}), so the backward pass only needs
what the forward pass already kept; ``needs_input`` is False for them. A custom activation,
registered as a pair ``(f, f')`` with ``f'`` a function of ``Z``, has ``needs_input=True``.

These are the reference forms: plain numpy, a new array out of every call. The in-place
kernels the training step uses are in :mod:`handgrad.fast.kernels` and are tested equal.

Softmax is *not* here: it never gets a derivative of its own; it is fused with the
cross-entropy in :mod:`handgrad.core.losses` (its Jacobian is ``diag(p) − p pᵀ``, and composing
it with the loss gives the much simpler ``P − Y``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import GradientCheckError, InputError

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """An elementwise activation and its analytic derivative.

    Attributes:
        name: canonical name, e.g. ``"relu"`` or ``"leaky_relu(alpha=0.2)"``.
        forward: ``f(Z) -> A``, shape (n, d) -> (n, d).
        backward: ``(dA, Z, A) -> dZ = dA ⊙ f'(Z)``, all shape (n, d). ``Z`` may be ``None``
            when ``needs_input`` is False.
        needs_input: whether ``backward``/``derivative`` read ``Z`` (else only ``A``).
        init: ``"he"`` for the ReLU family, ``"glorot"`` otherwise (see :mod:`handgrad.core.init`).
        kinks: points where ``f`` is not differentiable (gradient checks stay away from them).
        params: parameters of the activation (e.g. ``{"alpha": 0.01}``), for model files.
        base: the family name (``"leaky_relu"`` for every α), which picks the fast kernel.
        derivative: ``(Z, A) -> f'(Z)`` as an array (None for the identity), the factor
            ``backward`` multiplies by. An activation without it is differentiated through
            ``backward`` only.
        homogeneous: ``f(z) = z·f'(z)`` (positively homogeneous of degree 1: ReLU, leaky
            ReLU), with ``f'`` readable off ``Z`` as off ``A``; the fast path uses it to form
            ``A = Z ⊙ f'(Z)`` from the derivative it stores anyway.
    """

    name: str
    forward: Callable[[Array], Array]
    backward: Callable[[Array, Array | None, Array], Array]
    needs_input: bool = False
    init: str = "glorot"
    kinks: tuple[float, ...] = ()
    params: dict = field(default_factory=dict)
    base: str = ""
    derivative: Callable[[Array | None, Array], Array] | None = None
    homogeneous: bool = False

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def _backward_from(derivative):
    """``backward(dA, Z, A) = dA ⊙ f'(Z)``: the chain rule through an elementwise map (eq. 2.5)."""
    def backward(dA: Array, Z: Array | None, A: Array) -> Array:
        return dA * derivative(Z, A)
    return backward


# --- identity: f(z) = z, f'(z) = 1 -------------------------------------------------------

def identity_forward(Z: Array) -> Array:
    """``A = Z``."""
    return Z


def identity_backward(dA: Array, Z: Array | None, A: Array) -> Array:
    """``dZ = dA`` because ``f'(z) = 1``."""
    return dA


# --- ReLU: f(z) = max(0, z), f'(z) = 1{z > 0} = 1{a > 0} ---------------------------------

def relu_forward(Z: Array) -> Array:
    """``A = max(0, Z)`` (eq. 4.1)."""
    return np.maximum(Z, 0)


def relu_derivative(Z: Array | None, A: Array) -> Array:
    """``f'(Z) = 1{A > 0}`` (eq. 4.1), in A's dtype.

    ReLU'(0) = 0 by convention (as PyTorch): ``A > 0`` exactly when ``Z > 0``, so the mask can
    be read off the output.
    """
    return (A > 0).astype(A.dtype)


relu_backward = _backward_from(relu_derivative)
relu_backward.__doc__ = "``dZ = dA ⊙ 1{A > 0}`` (derivations.md eq. 4.1)."


# --- leaky ReLU: f(z) = max(αz, z), f'(z) = 1 if z > 0 else α -----------------------------

def make_leaky_relu(alpha: float = 0.01) -> Activation:
    """Leaky ReLU ``f(z) = z if z > 0 else αz`` (= ``max(αz, z)`` for 0 < α < 1; eq. 4.2).

    ``f'(z) = 1`` for z > 0 and ``α`` for z ≤ 0. With α > 0, ``sign(a) = sign(z)``, so the
    derivative is read off the output: ``f' = 1`` where ``A > 0``, else ``α``.
    """
    alpha = float(alpha)
    if not (0.0 < alpha < 1.0):
        raise InputError(
            f"leaky_relu slope alpha must be in (0, 1), got {alpha}; the usual value is 0.01"
        )

    def leaky_relu_forward(Z: Array) -> Array:
        return np.where(Z > 0, Z, alpha * Z)

    def leaky_relu_derivative(Z: Array | None, A: Array) -> Array:
        return np.where(A > 0, 1.0, alpha).astype(A.dtype)

    name = "leaky_relu" if alpha == 0.01 else f"leaky_relu(alpha={alpha:g})"
    return Activation(name, leaky_relu_forward, _backward_from(leaky_relu_derivative), init="he",
                      kinks=(0.0,), params={"alpha": alpha}, base="leaky_relu",
                      derivative=leaky_relu_derivative, homogeneous=True)


# --- sigmoid: σ(z) = 1/(1+e^{−z}), σ'(z) = σ(z)(1−σ(z)) -----------------------------------

def sigmoid_forward(Z: Array) -> Array:
    """``A = 1/(1+exp(−Z))`` (eq. 4.3), without overflow for any |z|.

    ``exp(−z)`` overflows for z ≪ 0, so the negative side uses the equal form
    ``e^{z}/(1+e^{z})``: with ``E = exp(−|z|) ∈ (0, 1]``, σ(z) = 1/(1+E) for z ≥ 0 and
    E/(1+E) for z < 0. No exponential of a positive number is ever taken.
    """
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0, E).astype(Z.dtype) / (1 + E)


def sigmoid_derivative(Z: Array | None, A: Array) -> Array:
    """``σ'(Z) = A(1 − A)`` (derivations.md eq. 4.3, seed 004)."""
    return A * (1 - A)


sigmoid_backward = _backward_from(sigmoid_derivative)
sigmoid_backward.__doc__ = "``dZ = dA ⊙ A(1−A)`` (derivations.md eq. 4.3)."


# --- tanh: f'(z) = 1 − tanh²(z) ----------------------------------------------------------

def tanh_forward(Z: Array) -> Array:
    """``A = tanh(Z)`` (eq. 4.4; numpy's tanh saturates cleanly to ±1, no overflow)."""
    return np.tanh(Z)


def tanh_derivative(Z: Array | None, A: Array) -> Array:
    """``tanh'(Z) = 1 − A²`` (derivations.md eq. 4.4, seed 004)."""
    return 1 - A * A


tanh_backward = _backward_from(tanh_derivative)
tanh_backward.__doc__ = "``dZ = dA ⊙ (1 − A²)`` (derivations.md eq. 4.4)."


_REGISTRY: dict[str, Callable[..., Activation]] = {
    "identity": lambda: Activation("identity", identity_forward, identity_backward,
                                   base="identity"),
    "relu": lambda: Activation("relu", relu_forward, relu_backward, init="he", kinks=(0.0,),
                               base="relu", derivative=relu_derivative, homogeneous=True),
    "leaky_relu": make_leaky_relu,
    "sigmoid": lambda: Activation("sigmoid", sigmoid_forward, sigmoid_backward, base="sigmoid",
                                  derivative=sigmoid_derivative),
    "tanh": lambda: Activation("tanh", tanh_forward, tanh_backward, base="tanh",
                               derivative=tanh_derivative),
}
_ALIASES = {"linear": "identity", "logistic": "sigmoid", "leakyrelu": "leaky_relu"}
_SPEC = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(?:\((.*)\))?\s*$")


def available_activations() -> list[str]:
    """Names accepted by :func:`get_activation` (built-in and registered)."""
    return sorted(_REGISTRY)


def get_activation(spec: str | Activation, **params) -> Activation:
    """Return the :class:`Activation` for a name such as ``"relu"`` or ``"leaky_relu(alpha=0.1)"``.

    Also accepts ``"leaky_relu:0.1"`` (the command-line spelling) and an :class:`Activation`,
    returned as is. Unknown names raise :class:`InputError` listing the known ones.
    """
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        raise InputError(f"activation must be a name or an Activation, got {type(spec).__name__}")
    text = spec.strip()
    if ":" in text:  # "leaky_relu:0.1"
        base, _, value = text.partition(":")
        text = f"{base}(alpha={value})"
    match = _SPEC.match(text)
    if not match:
        raise InputError(f"cannot read activation {spec!r}; write e.g. 'relu' or 'leaky_relu(alpha=0.1)'")
    name = match.group(1).lower()
    name = _ALIASES.get(name, name)
    if name not in _REGISTRY:
        raise InputError(
            f"unknown activation {spec!r}; choose one of {', '.join(available_activations())} "
            "or register your own with handgrad.register_activation(name, f, fprime)"
        )
    args = dict(params)
    if match.group(2):
        for item in match.group(2).split(","):
            key, eq, value = item.partition("=")
            if not eq:  # positional: "leaky_relu(0.1)"
                key, value = "alpha", key
            try:
                args[key.strip()] = float(value)
            except ValueError:
                raise InputError(f"activation parameter {item.strip()!r} in {spec!r} is not a number") from None
    try:
        return _REGISTRY[name](**args)
    except TypeError:
        raise InputError(f"activation {name!r} takes no parameters {sorted(args)}") from None


def register_activation(name: str, f: Callable[[Array], Array], fprime: Callable[[Array], Array],
                        *, init: str = "glorot", kinks: tuple[float, ...] = (),
                        overwrite: bool = False) -> Activation:
    """Register a custom activation from the pair ``(f, f')``, after gradient-checking it.

    ``f`` and ``fprime`` are elementwise functions of the pre-activation ``Z`` (shape kept).
    Before registering, ``fprime`` is compared with the central difference
    ``(f(z+h) − f(z−h)) / 2h`` (h = 1e-5, float64) on 161 points of [−3.99, 4.01] that stay
    at least 1e-3 away from the given ``kinks``; a mismatch raises :class:`GradientCheckError`
    naming the worst point. ``init`` picks the weight initialiser of the layer that feeds it
    (``"he"`` or ``"glorot"``).

    Returns the :class:`Activation`, also usable by name afterwards: ``MLP(..., activation=name)``.
    """
    key = name.strip().lower()
    if not _SPEC.match(key) or "(" in key:
        raise InputError(f"activation name {name!r} must be a plain identifier such as 'softplus'")
    if key in _REGISTRY and not overwrite:
        raise InputError(f"activation {key!r} already exists; pass overwrite=True to replace it")
    if init not in ("he", "glorot"):
        raise InputError(f"init must be 'he' or 'glorot', got {init!r}")
    check_activation_pair(f, fprime, kinks=kinks, name=key)

    def custom_derivative(Z: Array, A: Array) -> Array:
        return np.asarray(fprime(Z), dtype=Z.dtype)

    def custom_forward(Z: Array) -> Array:
        return np.asarray(f(Z), dtype=Z.dtype)

    act = Activation(key, custom_forward, _backward_from(custom_derivative), needs_input=True,
                     init=init, kinks=tuple(float(k) for k in kinks), base=key,
                     derivative=custom_derivative)
    _REGISTRY[key] = lambda: act
    return act


def unregister_activation(name: str) -> None:
    """Remove a custom activation registered with :func:`register_activation`."""
    key = name.strip().lower()
    if key in ("identity", "relu", "leaky_relu", "sigmoid", "tanh"):
        raise InputError(f"{key!r} is built in and cannot be removed")
    _REGISTRY.pop(key, None)


def check_activation_pair(f, fprime, *, kinks=(), name="activation", h=1e-5,
                          atol=1e-8, rtol=1e-6) -> None:
    """Raise :class:`GradientCheckError` unless ``fprime`` is the derivative of ``f``.

    Central differences in float64 on 161 points of [−4, 4] shifted by 0.0123 off the integers (so
    that common kinks such as 0 are avoided), minus points within 1e-3 of ``kinks``.
    Pass rule per point: ``|f'(z) − num| ≤ atol + rtol·|num|`` (the tolerances of :mod:`handgrad.gradcheck`).
    """
    z = np.linspace(-4.0, 4.0, 161) + 0.0123
    for k in kinks:
        z = z[np.abs(z - k) >= 1e-3]
    z = z.reshape(-1, 1)
    try:
        fz = np.asarray(f(z), dtype=np.float64)
        analytic = np.asarray(fprime(z), dtype=np.float64)
        numeric = (np.asarray(f(z + h), dtype=np.float64) - np.asarray(f(z - h), dtype=np.float64)) / (2 * h)
    except Exception as exc:  # a user function that fails on an array: say so plainly
        raise GradientCheckError(
            f"activation {name!r}: f or f' failed on a float64 array of shape {z.shape}: {exc}"
        ) from exc
    for what, arr in (("f", fz), ("f'", analytic)):
        if arr.shape != z.shape:
            raise GradientCheckError(
                f"activation {name!r}: {what} must be elementwise (same shape out as in), "
                f"got shape {arr.shape} for input {z.shape}")
        if not np.all(np.isfinite(arr)):
            raise GradientCheckError(f"activation {name!r}: {what} is not finite on [-3.99, 4.01]")
    err = np.abs(analytic - numeric)
    bad = err > atol + rtol * np.abs(numeric)
    if np.any(bad):
        i = int(np.argmax(np.where(bad, err, -1)))
        raise GradientCheckError(
            f"activation {name!r}: the derivative you gave disagrees with finite differences "
            f"at z = {z[i, 0]:.4f}: f'(z) = {analytic[i, 0]:.8g} but (f(z+h)-f(z-h))/2h = "
            f"{numeric[i, 0]:.8g} ({int(bad.sum())} of {bad.size} points fail); fix fprime "
            "or, if f has a kink there, list it in kinks=")
