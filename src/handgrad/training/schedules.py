"""Learning-rate schedules: η for each epoch, set on the optimizer before the epoch starts."""

from __future__ import annotations

import math

from ..errors import InputError
from ..validation import check_fraction as _fraction
from ..validation import check_positive as _positive



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
