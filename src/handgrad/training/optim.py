"""Optimizers and learning-rate schedules, over the network's flat parameter buffer.

An optimizer keeps its state in the open (flat arrays of the same length as the parameter
buffer) and updates the buffer in place with a few whole-buffer numpy operations:

    opt = Adam(lr=1e-3)
    opt.init(net.n_params, net.dtype)
    loss, _ = net.loss_and_grads(Xb, yb)
    opt.step(net.flat, net.flat_grad)

``opt.lr`` is the current learning rate η; a schedule sets it before each epoch.
``state_dict()`` / ``load_state_dict()`` expose the state for checkpoints.

The updates go through BLAS level-1 routines (``axpy``: y ← a·x + y, ``scal``: x ← a·x, in
place on contiguous arrays, see :mod:`handgrad.blas`): one pass over the buffer each, where
numpy's ``p -= lr * g`` makes two and allocates a temporary.
"""

from __future__ import annotations

import math

import numpy as np

from ..fast.blas import axpy, scal
from ..errors import InputError
from ..fast.memory import aligned_empty, aligned_zeros

Array = np.ndarray


def _weight_ranges(decay_mask: Array | None) -> list[tuple[int, int]]:
    """The runs of True in a boolean mask over the flat buffer, as (start, stop) pairs."""
    if decay_mask is None:
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], decay_mask.astype(np.int8), [0]))))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _positive(value, what: str, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InputError(f"{what} must be a finite number {'≥' if allow_zero else '>'} 0, got {value!r}")
    return v


def _fraction(value, what: str) -> float:
    v = _positive(value, what, allow_zero=True)
    if v >= 1:
        raise InputError(f"{what} must be in [0, 1), got {value!r}")
    return v


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

    def init(self, n_params: int, dtype, decay_mask: Array | None = None) -> None:
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

    @property
    def fuses_into_backward(self) -> bool:
        """Plain SGD (μ = 0) can update each layer inside the products that compute its
        gradient (``MLP._backward(sgd_lr=η)``), which the training loop then does."""
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

    With ``weight_decay`` = w > 0 the weights (not the biases) are first shrunk,
    ``W ← W − η·w·W``, outside the adaptive scaling (unlike L2 in the loss, whose gradient
    2λW gets divided by √v̂).
    """

    name = "adam"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0):
        self.lr = _positive(lr, "learning rate")
        self.beta1 = _fraction(beta1, "beta1")
        self.beta2 = _fraction(beta2, "beta2")
        self.eps = _positive(eps, "eps")
        self.weight_decay = _positive(weight_decay, "weight_decay", allow_zero=True)
        self.t = 0
        self.m: Array | None = None
        self.v: Array | None = None

    def init(self, n_params: int, dtype, decay_mask: Array | None = None) -> None:
        self.m = aligned_zeros(n_params, dtype)
        self.v = aligned_zeros(n_params, dtype)
        self._tmp = aligned_empty(n_params, dtype)
        self._tmp2 = aligned_empty(n_params, dtype)  # only the numpy fallback of axpy uses it
        if self.weight_decay and decay_mask is None:
            raise InputError("AdamW weight decay needs the mask of weight entries (decay_mask)")
        self._decay_ranges = _weight_ranges(decay_mask) if self.weight_decay else []
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
        tmp += self.eps * root_bias2                                 # √v + ε√(1−β₂ᵗ)
        np.divide(self.m, tmp, out=tmp)
        axpy(-lr * root_bias2 / (1 - b1 ** self.t), tmp, params, tmp2)

    def state_dict(self) -> dict:
        return {"lr": self.lr, "t": self.t, "m": self.m.copy(), "v": self.v.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.lr = float(state["lr"])
        self.t = int(state["t"])
        self.m[...] = state["m"]
        self.v[...] = state["v"]

    def config(self) -> dict:
        return {"name": self.name, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                "weight_decay": self.weight_decay}


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


# --- learning-rate schedules ----------------------------------------------------------------

class Schedule:
    """Base: ``lr(epoch)`` gives η for a 0-based epoch; ``observe(metric)`` is told the
    monitored loss after each epoch (only reduce-on-plateau uses it)."""

    name = "constant"

    def __init__(self, base_lr: float):
        self.base_lr = _positive(base_lr, "learning rate")

    def lr(self, epoch: int) -> float:
        return self.base_lr

    def observe(self, metric: float) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def config(self) -> dict:
        return {"name": self.name}


class StepLR(Schedule):
    """η_e = η₀ · γ^⌊e / step_size⌋ (divide by 1/γ every step_size epochs)."""

    name = "step"

    def __init__(self, base_lr: float, step_size: int = 30, gamma: float = 0.1):
        super().__init__(base_lr)
        self.step_size = int(_positive(step_size, "step_size"))
        self.gamma = _positive(gamma, "gamma")

    def lr(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)

    def config(self) -> dict:
        return {"name": self.name, "step_size": self.step_size, "gamma": self.gamma}


class ExponentialLR(Schedule):
    """η_e = η₀ · γ^e."""

    name = "exponential"

    def __init__(self, base_lr: float, gamma: float = 0.95):
        super().__init__(base_lr)
        self.gamma = _positive(gamma, "gamma")

    def lr(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** epoch

    def config(self) -> dict:
        return {"name": self.name, "gamma": self.gamma}


class CosineLR(Schedule):
    """η_e = η_min + (η₀ − η_min)·(1 + cos(π·e/T))/2 for e ≤ T, then η_min (the annealing of
    Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017,
    without restarts)."""

    name = "cosine"

    def __init__(self, base_lr: float, t_max: int, min_lr: float = 0.0):
        super().__init__(base_lr)
        self.t_max = int(_positive(t_max, "t_max"))
        self.min_lr = _positive(min_lr, "min_lr", allow_zero=True)

    def lr(self, epoch: int) -> float:
        e = min(epoch, self.t_max)
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * e / self.t_max)) / 2

    def config(self) -> dict:
        return {"name": self.name, "t_max": self.t_max, "min_lr": self.min_lr}


class ReduceOnPlateau(Schedule):
    """Multiply η by ``factor`` when the monitored loss has not improved on its best by more
    than ``threshold`` (relative) for ``patience`` epochs in a row; never below ``min_lr``.
    (As Keras/PyTorch ReduceLROnPlateau in "min" mode with a relative threshold.)"""

    name = "plateau"

    def __init__(self, base_lr: float, factor: float = 0.1, patience: int = 5,
                 threshold: float = 1e-4, min_lr: float = 0.0):
        super().__init__(base_lr)
        self.factor = _fraction(factor, "factor")
        if self.factor == 0:
            raise InputError("factor must be in (0, 1)")
        self.patience = int(_positive(patience, "patience", allow_zero=True))
        self.threshold = _positive(threshold, "threshold", allow_zero=True)
        self.min_lr = _positive(min_lr, "min_lr", allow_zero=True)
        self.current = self.base_lr
        self.best = math.inf
        self.bad_epochs = 0

    def lr(self, epoch: int) -> float:
        return self.current

    def observe(self, metric: float) -> None:
        if metric < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = metric, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.current = max(self.current * self.factor, self.min_lr)
            self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"current": self.current, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.current, self.best, self.bad_epochs = state["current"], state["best"], state["bad_epochs"]

    def config(self) -> dict:
        return {"name": self.name, "factor": self.factor, "patience": self.patience,
                "threshold": self.threshold, "min_lr": self.min_lr}


SCHEDULES = {"constant": Schedule, "step": StepLR, "exponential": ExponentialLR,
             "cosine": CosineLR, "plateau": ReduceOnPlateau}


def make_schedule(name: str, base_lr: float, epochs: int, **options) -> Schedule:
    """Build a schedule by name; ``cosine`` anneals over ``epochs`` unless ``t_max`` is given."""
    key = str(name).lower().replace("-", "_")
    key = {"reduce_on_plateau": "plateau", "exp": "exponential", "none": "constant"}.get(key, key)
    if key not in SCHEDULES:
        raise InputError(f"unknown learning-rate schedule {name!r}; choose {', '.join(SCHEDULES)}")
    if key == "cosine":
        options.setdefault("t_max", epochs)
    try:
        return SCHEDULES[key](base_lr, **options)
    except TypeError as exc:
        raise InputError(f"schedule {key}: {exc}") from None
