"""Optimizers over the network's flat parameter buffer (schedules: :mod:`.schedules`).

An optimizer keeps its state in the open (flat arrays of the same length as the parameter
buffer) and updates the buffer in place with a few whole-buffer numpy operations:

    opt = Adam(lr=1e-3)
    opt.init(net.n_params, net.dtype)
    loss, _ = net.loss_and_grads(Xb, yb)
    opt.step(net.flat, net.flat_grad)

``opt.lr`` is the current learning rate η; a schedule sets it before each epoch.
``state_dict()`` / ``load_state_dict()`` expose the state for checkpoints.

The updates go through BLAS level-1 routines (``axpy``: y ← a·x + y, ``scal``: x ← a·x, in
place on contiguous arrays, see :mod:`handgrad.fast.blas`): one pass over the buffer each, where
numpy's ``p -= lr * g`` makes two and allocates a temporary.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..fast.blas import axpy, scal
from ..fast.memory import aligned_empty, aligned_zeros
from ..validation import check_fraction as _fraction
from ..validation import check_positive as _positive
# the schedules lived in this module before; their names still import from here
from .schedules import (SCHEDULES, CosineLR, ExponentialLR, ReduceOnPlateau,  # noqa: F401
                        Schedule, StepLR, make_schedule)

Array = np.ndarray
__all__ = ["SGD", "Adam", "OPTIMIZERS", "make_optimizer",
           "Schedule", "StepLR", "ExponentialLR", "CosineLR", "ReduceOnPlateau", "SCHEDULES",
           "make_schedule"]


class SGD:
    """Stochastic gradient descent with optional (Nesterov) momentum.

    With gradient g, learning rate η and momentum μ (the formulation of Sutskever, Martens,
    Dahl & Hinton, "On the importance of initialization and momentum in deep learning",
    ICML 2013, as scikit-learn's MLP uses it):

        classical:  v ← μ·v − η·g;   θ ← θ + v
        Nesterov:   v ← μ·v − η·g;   θ ← θ + μ·v − η·g
        μ = 0:      θ ← θ − η·g

    (PyTorch keeps η outside the velocity, ``v ← μv + g; θ ← θ − ηv``; the two agree while η
    is constant.) The velocity starts at 0.
    """

    name = "sgd"

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
        self.lr = _positive(lr, "learning rate")
        self.momentum = _fraction(momentum, "momentum")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise InputError("Nesterov momentum needs momentum > 0 (e.g. momentum=0.9)")
        self.velocity: Array | None = None
        self._tmp: Array | None = None

    def init(self, n_params: int, dtype, weight_ranges=None) -> None:
        """State for a buffer of ``n_params`` entries (``weight_ranges`` is unused: no decay)."""
        self.velocity = aligned_zeros(n_params, dtype) if self.momentum else None
        self._tmp = aligned_empty(n_params, dtype)  # only the numpy fallback of axpy uses it

    def step(self, params: Array, grads: Array) -> None:
        """One update of ``params`` in place from ``grads`` (flat contiguous arrays)."""
        lr, v, tmp = self.lr, self.velocity, self._tmp
        if v is None:
            axpy(-lr, grads, params, tmp)                            # θ ← θ − ηg
            return
        scal(self.momentum, v)
        axpy(-lr, grads, v, tmp)                                     # v ← μv − ηg
        if self.nesterov:
            axpy(self.momentum, v, params, tmp)
            axpy(-lr, grads, params, tmp)                            # θ ← θ + μv − ηg
        else:
            axpy(1.0, v, params, tmp)                                # θ ← θ + v

    def state_buffers(self) -> list[Array]:
        """The state arrays updated in place (for flushing subnormals)."""
        return [] if self.velocity is None else [self.velocity]

    @property
    def fuses_into_backward(self) -> bool:
        """Plain SGD (μ = 0) can update each layer inside the products that compute its
        gradient (``fast.step.backward(..., sgd_lr=η)``), which the training loop then does."""
        return self.velocity is None and self.momentum == 0

    def state_dict(self) -> dict:
        return {"lr": self.lr, "velocity": None if self.velocity is None else self.velocity.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.lr = float(state["lr"])
        if state.get("velocity") is not None:
            self.velocity[...] = state["velocity"]

    def config(self) -> dict:
        return {"name": self.name, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam:
    """Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015, Alg. 1),
    optionally with decoupled weight decay (AdamW: Loshchilov & Hutter, "Decoupled Weight
    Decay Regularization", ICLR 2019).

    At step t = 1, 2, … with gradient g:

        m ← β₁·m + (1−β₁)·g            v ← β₂·v + (1−β₂)·g²
        m̂ = m / (1−β₁ᵗ)                 v̂ = v / (1−β₂ᵗ)
        θ ← θ − η·m̂ / (√v̂ + ε)

    ``eps_on="v"`` adds ε to √v instead of √v̂, as scikit-learn's MLP does (its step is
    ``θ − η·(√(1−β₂ᵗ)/(1−β₁ᵗ))·m/(√v + ε)``).

    With ``weight_decay`` = w > 0 the weights (not the biases) are first shrunk,
    ``W ← W − η·w·W``, outside the adaptive scaling (unlike L2 in the loss, whose gradient
    2λW gets divided by √v̂).
    """

    name = "adam"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, eps_on: str = "v_hat"):
        if eps_on not in ("v_hat", "v"):
            raise InputError(f"eps_on must be 'v_hat' (Adam's paper) or 'v' (scikit-learn), got {eps_on!r}")
        self.eps_on = eps_on
        self.lr = _positive(lr, "learning rate")
        self.beta1 = _fraction(beta1, "beta1")
        self.beta2 = _fraction(beta2, "beta2")
        self.eps = _positive(eps, "eps")
        self.weight_decay = _positive(weight_decay, "weight_decay", allow_zero=True)
        self.t = 0
        self.m: Array | None = None
        self.v: Array | None = None

    def init(self, n_params: int, dtype, weight_ranges=None) -> None:
        """State for a buffer of ``n_params`` entries; ``weight_ranges`` are the (start, stop)
        slices of the weights (``net.layout.weight_ranges``), which AdamW's decay shrinks."""
        self.m = aligned_zeros(n_params, dtype)
        self.v = aligned_zeros(n_params, dtype)
        self._tmp = aligned_empty(n_params, dtype)
        self._tmp2 = aligned_empty(n_params, dtype)  # only the numpy fallback of axpy uses it
        if self.weight_decay and weight_ranges is None:
            raise InputError("AdamW weight decay needs the weight ranges (net.layout.weight_ranges)")
        self._decay_ranges = list(weight_ranges) if self.weight_decay else []
        self.t = 0

    def step(self, params: Array, grads: Array) -> None:
        """One update of ``params`` in place from ``grads`` (flat contiguous arrays).

        Computed as ``θ ← θ − (η·√(1−β₂ᵗ)/(1−β₁ᵗ)) · m / (√v + ε·√(1−β₂ᵗ))``, which equals
        Algorithm 1's ``θ − η·m̂/(√v̂ + ε)`` (multiply numerator and denominator by
        √(1−β₂ᵗ)) and saves a pass over the buffer.
        """
        self.t += 1
        tmp, tmp2, lr = self._tmp, self._tmp2, self.lr
        b1, b2 = self.beta1, self.beta2
        for lo, hi in self._decay_ranges:                            # AdamW: W ← (1 − ηw)W
            scal(1 - lr * self.weight_decay, params[lo:hi])
        scal(b1, self.m)
        axpy(1 - b1, grads, self.m, tmp2)                            # m ← β₁m + (1−β₁)g
        np.multiply(grads, grads, out=tmp)
        scal(b2, self.v)
        axpy(1 - b2, tmp, self.v, tmp2)                              # v ← β₂v + (1−β₂)g²
        root_bias2 = math.sqrt(1 - b2 ** self.t)
        np.sqrt(self.v, out=tmp)
        tmp += self.eps * root_bias2 if self.eps_on == "v_hat" else self.eps  # √v + ε√(1−β₂ᵗ)
        np.divide(self.m, tmp, out=tmp)
        axpy(-lr * root_bias2 / (1 - b1 ** self.t), tmp, params, tmp2)

    def state_buffers(self) -> list[Array]:
        """The state arrays updated in place (for flushing subnormals)."""
        return [self.m, self.v]

    def state_dict(self) -> dict:
        return {"lr": self.lr, "t": self.t, "m": self.m.copy(), "v": self.v.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.lr = float(state["lr"])
        self.t = int(state["t"])
        self.m[...] = state["m"]
        self.v[...] = state["v"]

    def config(self) -> dict:
        config = {"name": self.name, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                  "weight_decay": self.weight_decay}
        if self.eps_on != "v_hat":  # only when set, so older checkpoints' fingerprints match
            config["eps_on"] = self.eps_on
        return config


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(name: str, lr: float, **options):
    """``"sgd"`` / ``"adam"`` / ``"adamw"`` (Adam with weight_decay, default 0.01) -> optimizer."""
    key = str(name).lower()
    if key == "adamw":
        options.setdefault("weight_decay", 0.01)
        key = "adam"
    if key == "nesterov":
        options.setdefault("momentum", 0.9)
        options["nesterov"] = True
        key = "sgd"
    if key not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {name!r}; choose sgd, nesterov, adam or adamw")
    cls = OPTIMIZERS[key]
    allowed = {"sgd": {"momentum", "nesterov"}, "adam": {"beta1", "beta2", "eps", "weight_decay"}}[key]
    unknown = set(options) - allowed
    if unknown:
        raise InputError(f"optimizer {key} does not take {sorted(unknown)}; it takes {sorted(allowed)}")
    return cls(lr=lr, **options)
