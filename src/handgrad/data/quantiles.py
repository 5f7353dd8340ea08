"""The quantile map of a numeric column (docs/derivations.md §17): each value is sent to the
standard normal quantile of its rank among the training values,

    q(x) = Φ⁻¹(F̂(x)),   F̂ the training values' empirical distribution, read off K knots,

so a skewed column (incomes, amounts with a spike at 0, counts with a long tail) reaches the
network spread like a standard normal, and its outliers sit at most a few units out, instead
of crowding the bulk into a sliver of the standardised range (bench/results/scaling_ablation.md
measures what this does on the classification panel).

The map is stored as knots ``(x_k, z_k)``, k = 0…K−1, x strictly increasing, z non-decreasing,
and applied as the piecewise-linear interpolation between them, constant beyond the ends —
what ``numpy.interp`` computes and what the ONNX export writes as a sum of clipped segments.
Fitted on the training rows, never learned: no gradient flows into it.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ..errors import InputError

KNOTS = 128  # the quantiles kept per column: 1/127 of the rows between knots
SKEW = 1.0  # scaling="auto" maps a column whose skewness is beyond ±SKEW (bench/results/scaling_ablation.md)


def fit_map(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The knots ``(xs, zs)`` of a column's present training values ``x`` (n,), n ≥ 1.

    Knot k sits at the training quantile of level p_k = k/(K−1), K = min(KNOTS, n); its value is
    z_k = Φ⁻¹(p_k) with p_k clipped to [1/(2n), 1 − 1/(2n)] (the smallest of n values stands
    near the 1/(2n) quantile: finite ends, about ±3.3 for n = 1000). Where several knots fall on
    one value (a spike: a column that is 0 on a third of the rows), they become one knot whose z
    is their mean — the middle of the spike's share of the normal — so the map stays a function
    and is continuous. A constant column maps to 0.
    """
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = x.size
    k = min(KNOTS, n)
    levels = np.linspace(0.0, 1.0, k) if k > 1 else np.array([0.5])
    with np.errstate(over="ignore", invalid="ignore"):
        xs = np.quantile(x, levels)
    bad = ~np.isfinite(xs)  # linear interpolation between two values near ±1.8e308
    xs[bad] = x[np.clip(np.round(levels[bad] * (n - 1)).astype(int), 0, n - 1)]
    xs = np.maximum.accumulate(xs)  # rounding in the interpolation must not make it fall
    edge = 0.5 / n
    normal = NormalDist()
    z = np.array([normal.inv_cdf(min(max(p, edge), 1.0 - edge)) if 0 < edge < 0.5 else 0.0
                  for p in levels])
    uniq, start, count = np.unique(xs, return_index=True, return_counts=True)
    zs = np.add.reduceat(z, start) / count if uniq.size > 1 else np.zeros(1)  # exactly 0
    steep = _steep(uniq, zs)
    while steep.size:  # knots a few subnormals apart: their slope would overflow; merge them
        keep = np.ones(uniq.size, dtype=bool)
        keep[steep[0] + 1] = False
        uniq, zs = uniq[keep], zs[keep]
        steep = _steep(uniq, zs)
    return uniq, zs


def _steep(xs, zs) -> np.ndarray:
    """The segments whose slope is not a finite number."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return np.flatnonzero(~np.isfinite(np.diff(zs) / np.diff(xs)))


def skewed(x: np.ndarray) -> bool:
    """Whether a column's present training values ``x`` (n,) are far from symmetric: the sample
    skewness ``mean(((x − μ)/σ)³)`` beyond ±SKEW (an exponential's is 2, a lognormal's with
    σ = 1 is 6, a count that is 0 on most rows is well above 1; a normal's or a uniform's is 0) —
    the columns ``scaling="auto"`` maps by their quantiles. Computed on x divided by its largest
    magnitude, so that cubes of values near 1e308 do not overflow."""
    x = np.asarray(x, dtype=np.float64)
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if not top > 0:
        return False
    u = x / top
    sd = u.std()
    if not sd > 0:
        return False
    return bool(abs(np.mean(((u - u.mean()) / sd) ** 3)) > SKEW)


def apply_map(x: np.ndarray, xs: np.ndarray, zs: np.ndarray) -> np.ndarray:
    """``q(x)`` (same shape as x): linear between the knots, z_0 below x_0, z_{K−1} above."""
    return np.interp(np.asarray(x, dtype=np.float64), xs, zs)


def knots(m: dict) -> tuple[np.ndarray, np.ndarray]:
    """The arrays of a map ``{"x": [...], "z": [...]}`` that :func:`fit_map` made or
    :func:`check_map` passed (a model file's encoding is checked once, when it is read)."""
    return np.asarray(m["x"], dtype=np.float64), np.asarray(m["z"], dtype=np.float64)


def check_map(m, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The knots of a stored map ``{"x": [...], "z": [...]}`` (a model file anyone may have
    written), or a one-line refusal naming the column."""
    def refuse(why):
        raise InputError(f"column {name!r} of the table encoding: its quantile map {why}")

    if not isinstance(m, dict) or set(m) != {"x", "z"}:
        refuse("must be {'x': [...], 'z': [...]}")
    vals = []
    for key in ("x", "z"):
        v = m[key]
        if not isinstance(v, list) or not v or not all(
                isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in v):
            refuse(f"needs a non-empty list of finite numbers as {key!r}")
        vals.append(np.asarray(v, dtype=np.float64))
    xs, zs = vals
    if xs.size != zs.size:
        refuse(f"has {xs.size} x but {zs.size} z")
    if np.any(np.diff(xs) <= 0) or np.any(np.diff(zs) < 0):
        refuse("must have increasing x and non-decreasing z")
    if _steep(xs, zs).size:
        refuse("has knots so close that the slope between them is not a finite number")
    return xs, zs
