"""Grade a learner's ``(dW, db)`` against the reference and name the slips, working backwards
from δ_L the way the error flows: at the last layer first, find the fewest slips of the
catalogue (:mod:`.slips`) whose gradients equal the learner's there; keep them (a slip on δ
is inherited below) and go on to the layer below. Where no slip (or pair of slips) explains a
layer, the diagnosis stops: "none of the known slips", and the first layer where it departs.
"""

from __future__ import annotations

from itertools import product

import numpy as np

from .problem import Problem
from .slips import BIAS_SLIPS, HIDDEN_SLIPS, OUTPUT_SLIPS, WEIGHT_SLIPS, applies, gradients

RTOL = 1e-7  # float64: a right gradient agrees to ~1e-13; a slip is off by far more


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """``max |got − want| / max |want|`` (0 when both are 0)."""
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    diff = float(np.max(np.abs(got - want))) if want.size else 0.0
    return diff / scale if scale > 0 else diff


def close(got, want) -> bool:
    return got.shape == want.shape and relative_error(got, want) <= RTOL


def diagnose(p: Problem, dW, db) -> dict:
    """``{"arrays": [per layer and array: matches, error], "slips": [(layer, name, array)],
    "unexplained": None or the first layer no known slip explains}``."""
    ref_W, ref_b = gradients(p)
    arrays = []
    for l in range(1, p.L + 1):
        for name, got, want in (("dW", dW[l - 1], ref_W[l - 1]), ("db", db[l - 1], ref_b[l - 1])):
            arrays.append({"layer": l, "array": f"{name}{l}", "matches": close(got, want),
                           "relative_error": relative_error(got, want)})
    found: set = set()
    unexplained = None
    for k in range(p.L, 0, -1):
        exp_W, exp_b = gradients(p, frozenset(found))
        if close(dW[k - 1], exp_W[k - 1]) and close(db[k - 1], exp_b[k - 1]):
            continue
        more = _explain(p, k, found, dW[k - 1], db[k - 1], dW, db)
        if more is None:
            unexplained = k
            break
        found |= more
    return {"arrays": arrays, "slips": sorted(found, key=lambda s: (-s[0], s[1])), "unexplained": unexplained}


def _explain(p: Problem, k: int, found: set, got_W, got_b, dW, db) -> set | None:
    """The fewest slips at layer ``k`` (one on δ_k or none, and per array one or none) whose
    gradients, on top of ``found``, equal the learner's dW_k and db_k; among as few, the one
    the layer below agrees with (a slip on δ_k is inherited there, one of dW_k alone is not);
    None if none explain layer k."""
    on_delta = [None] + [s for s in (OUTPUT_SLIPS if k == p.L else HIDDEN_SLIPS) if applies(p, k, s)]
    on_W = [None] + [s for s in WEIGHT_SLIPS if applies(p, k, s)]
    on_b = [None] + [s for s in BIAS_SLIPS if applies(p, k, s)]
    trials = []
    for d, w, b in product(on_delta, on_W, on_b):
        trial = ({(k, d, None)} if d else set()) | ({(k, w, "W")} if w else set()) | ({(k, b, "b")} if b else set())
        if trial:
            trials.append(trial)
    trials.sort(key=len)
    explained = []
    for trial in trials:
        if explained and len(trial) > len(explained[0]):
            break
        g_W, g_b = gradients(p, frozenset(found | trial))
        if close(got_W, g_W[k - 1]) and close(got_b, g_b[k - 1]):
            explained.append((trial, g_W, g_b))
    if not explained:
        return None
    if k > 1:
        for trial, g_W, g_b in explained:
            if close(dW[k - 2], g_W[k - 2]) and close(db[k - 2], g_b[k - 2]):
                return trial
    return explained[0][0]
