"""The target scaling a regression model stores.

**The scaling** (:class:`TargetScaler`): the network learns ``t = (g(y) − μ)/σ`` with μ, σ
fitted on the training rows only, ``g`` the identity (or, on request, the logarithm); the
exp (Poisson) head learns ``t = y/σ`` (σ the training mean, so that e^0 = 1
starts at the mean). A prediction is mapped back, ``y = g⁻¹(σ·p + μ)`` with ``p`` the head's
prediction, so every number a user sees is in the target's own units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

TRANSFORMS = ("auto", "standardize", "log", "none")


@dataclass
class TargetScaler:
    """``t = (g(y) − mean)/scale`` per output, ``g = log`` when ``log`` else the identity;
    ``inverse(p) = g⁻¹(scale·p + mean)``. Shapes: mean, scale (k,); y, t, p (n,) or (n, k).

    ``kind``: ``"standardize"`` (mean and standard deviation of y), ``"log"`` (of log y),
    ``"scale"`` (mean 0, scale = the mean of y: the exp head) or ``"none"`` (0 and 1)."""

    kind: str
    mean: np.ndarray
    scale: np.ndarray

    @property
    def log(self) -> bool:
        return self.kind == "log"

    @classmethod
    def fit(cls, y: np.ndarray, kind: str) -> "TargetScaler":
        """Fitted on the training targets ``y`` (n,) or (n, k)."""
        from .preprocessing import robust_mean_std

        Y = _columns(y)
        if kind == "log":
            Y = np.log(Y)
        if kind in ("standardize", "log"):
            mean, std = robust_mean_std(Y)
            scale = np.where(std > 0, std, 1.0)
        elif kind == "scale":
            mean = np.zeros(Y.shape[1])
            avg = Y.mean(axis=0)
            scale = np.where(avg > 0, avg, 1.0)
        elif kind == "none":
            mean, scale = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
        else:
            raise InputError(f"target transform must be one of standardize, log, scale, none; got {kind!r}")
        return cls(kind, np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64))

    def transform(self, y: np.ndarray) -> np.ndarray:
        """Targets in their units -> what the network learns (float64, y's shape)."""
        y = np.asarray(y, dtype=np.float64)
        Y = _columns(y)
        if self.log:
            if np.any(Y <= 0):
                raise InputError(f"the model learned the logarithm of its target, which needs numbers "
                                 f"> 0; got {Y[Y <= 0][0]:g}")
            Y = np.log(Y)
        return ((Y - self.mean) / self.scale).reshape(y.shape)

    def inverse(self, p: np.ndarray) -> np.ndarray:
        """The head's predictions ``p`` (n,) or (n, k) -> the target's units (float64)."""
        p = np.asarray(p, dtype=np.float64)
        out = _columns(p) * self.scale + self.mean
        if self.log:
            with np.errstate(over="ignore"):
                out = np.exp(out)
        return out.reshape(p.shape)

    def to_json(self) -> dict:
        return {"kind": self.kind, "mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, obj, n_outputs: int) -> "TargetScaler":
        """A scaler from its JSON form, checked (kind known, n_outputs finite means, scales > 0)."""
        if not (isinstance(obj, dict) and set(obj) == {"kind", "mean", "scale"}):
            raise InputError("'target' scaling must be {\"kind\", \"mean\", \"scale\"}")
        kind = obj["kind"]
        if kind not in ("standardize", "log", "scale", "none"):
            raise InputError(f"unknown target scaling kind {kind!r}")
        parts = []
        for name in ("mean", "scale"):
            v = obj[name]
            if not (isinstance(v, list) and len(v) == n_outputs
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
                raise InputError(f"target scaling {name!r} must list {n_outputs} numbers")
            a = np.asarray(v, dtype=np.float64)
            if not np.all(np.isfinite(a)):
                raise InputError(f"target scaling {name!r} holds a number that is not finite")
            parts.append(a)
        if np.any(parts[1] <= 0):
            raise InputError("target scaling 'scale' must be > 0")
        return cls(kind, *parts)


def choose_transform(y: np.ndarray, option: str, loss: str) -> tuple[str, list[str]]:
    """The :class:`TargetScaler` kind for training targets ``y`` and ``--target-transform``
    ``option`` (and notes, none so far). The Poisson loss learns counts on their own scale
    ("scale"); "log" needs every target > 0; "auto" standardises.

    "auto" never takes the logarithm, by measurement: on bench/tabular_regression.py's positive,
    skewed targets (3 seeds, R² in the target's units) learning log y lost to learning y itself
    on every one — CPS1988 wages (skewness 6.5) 0.273 against 0.300, surveys' weights (2.3)
    0.913 against 0.918, Hitters' salaries (1.6) 0.367 against 0.449 — since exp of the
    predicted mean of log y is the geometric mean, below the mean that the squared error
    scores. ``--target-transform log`` is there for a user who wants relative errors."""
    if option not in TRANSFORMS:
        raise InputError(f"target transform must be one of {', '.join(TRANSFORMS)}, got {option!r}")
    Y = _columns(y)
    if loss == "poisson":
        if np.any(Y < 0):
            raise InputError(f"the Poisson loss models counts and rates ≥ 0; the target holds {Y.min():g}")
        if option in ("log", "standardize"):
            raise InputError(f"--target-transform {option} does not go with the Poisson loss, whose "
                             "log link already models the logarithm of the mean; leave it at auto")
        return ("none" if option == "none" else "scale"), []
    if option == "log":
        if np.any(Y <= 0):
            raise InputError(f"--target-transform log needs a target > 0 in every training row; it holds "
                             f"{Y.min():g} (for counts with zeros try --loss poisson)")
        return "log", []
    return ("standardize" if option == "auto" else option), []


def _columns(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return y[:, None] if y.ndim == 1 else y
