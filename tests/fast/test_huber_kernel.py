"""The Huber head's fast kernel (handgrad.fast.kernels.huber_loss) equals its reference
(handgrad.core.heads.huber_loss) on the same inputs — float64 to 1e-12 and float32 loosely,
with and without sample weights, one and several outputs, residuals inside and outside ±δ,
thresholds from far below the residuals to far above them — and writes where it is told."""

import numpy as np
import pytest

from handgrad.core.heads import huber_loss
from handgrad.fast import kernels

TOL = {np.float64: 1e-12, np.float32: 2e-6}


def _inputs(dtype, m, K, delta, weighted, seed=0):
    """Z, Y with residuals spread over [−4δ, 4δ] (both sides of ±δ in every column) plus a few
    at 100δ, and weights (some 0) or None."""
    rng = np.random.default_rng(seed)
    Y = rng.normal(size=(m, K))
    R = rng.uniform(-4 * delta, 4 * delta, size=(m, K))
    R[::7] *= 25                                       # outliers, far in the linear part
    Z = Y + R
    w = rng.uniform(0, 3, m) if weighted else None
    if weighted:
        w[::5] = 0
    return Z.astype(dtype), Y.astype(dtype), None if w is None else w.astype(dtype)


def _scaled_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), np.finfo(np.float64).tiny)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("delta", [1e-3, 0.5, 1.0, 7.0])
def test_fast_kernel_equals_the_reference(dtype, weighted, K, delta):
    Z, Y, w = _inputs(dtype, 64, K, delta, weighted)
    inside = np.abs(Z.astype(np.float64) - Y) <= delta
    assert inside.any() and (~inside).any()
    ref_loss, ref_dZ = huber_loss(Z, Y, w, delta=delta)
    out, work = np.empty_like(Z), np.empty_like(Z)
    Z_before = Z.copy()
    loss, dZ = kernels.huber_loss(Z, Y, w, out=out, work=work, delta=delta)
    assert dZ is out and dZ.dtype == dtype and np.array_equal(Z, Z_before)
    assert loss == pytest.approx(ref_loss, rel=TOL[dtype])
    assert _scaled_diff(dZ, ref_dZ) <= TOL[dtype]
    # in place over Z (as the stacked step calls it), and without buffers (evaluation)
    Z2 = Z.copy()
    loss2, dZ2 = kernels.huber_loss(Z2, Y, w, out=Z2, work=work, delta=delta)
    assert dZ2 is Z2 and loss2 == loss and np.array_equal(dZ2, dZ)
    loss3, dZ3 = kernels.huber_loss(Z, Y, w, delta=delta)
    assert loss3 == loss and np.array_equal(dZ3, dZ)


def test_kernel_is_the_entry_of_its_head_and_its_rows_are_the_stacks():
    assert kernels.LOSSES["huber"] is kernels.huber_loss
    assert kernels.REGRESSION_ROWS["huber"] is kernels.huber_rows
    # per-row batch sizes (K models stacked, fast.stacked): each row divided by its own m
    Z, Y, w = _inputs(np.float64, 12, 2, 0.5, True)
    m_col = np.repeat([3.0, 4.0, 5.0], 4)[:, None]
    per_sample, dZ = kernels.huber_rows(Z, Y, w, m_col, delta=0.5)
    assert np.array_equal(dZ, w[:, None] * np.clip(Z - Y, -0.5, 0.5) / m_col)
    for lo in (0, 4, 8):  # per row: w_i ℓ_i, whatever m is
        ref_loss, _ = huber_loss(Z[lo:lo + 1], Y[lo:lo + 1], w[lo:lo + 1], delta=0.5)
        assert per_sample[lo] == pytest.approx(ref_loss, rel=1e-12, abs=1e-300)
