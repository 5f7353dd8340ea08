"""fast.blas.affine_into (Z = AW + 1bᵀ, eq. 1.2, with the bias added by the GEMM's β on the
BLAS route) equals numpy's product plus the broadcast bias, on both routes and for the
operand forms BLAS must describe or refuse: row slices, rows of a wider matrix (a leading
dimension wider than the row), read-only inputs, strided columns and repeated rows (no
leading dimension: numpy's route), empty batches, both dtypes; mismatched shapes refused on
both routes; the stacked (K, m, n) operands of fast.stacked on numpy's route."""

import numpy as np
import pytest

from handgrad.fast import blas

TOL = {np.float64: 1e-13, np.float32: 2e-6}


def reference(A, W, b):
    return np.asarray(A, np.float64) @ np.asarray(W, np.float64) + np.asarray(b, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("small", [0, None], ids=["BLAS route forced", "default threshold"])
@pytest.mark.parametrize("form", ["plain", "row slice", "wide rows", "read-only", "strided columns",
                                  "broadcast rows", "empty", "empty row slice"])
def test_affine_into_equals_product_plus_bias(monkeypatch, dtype, small, form):
    if small is not None:
        monkeypatch.setattr(blas, "SMALL", small)
    rng = np.random.default_rng(3)
    m, k, n = (0 if form.startswith("empty") else 37), 23, 300   # 37×300 = 11,100 < SMALL by default
    big = rng.normal(size=(m + 5, k + 4)).astype(dtype)
    A = {"row slice": big[2:m + 2, :k + 4],       # rows of a taller matrix
         "wide rows": big[:m, 1:k + 1],           # contiguous rows, leading dimension k + 4
         "strided columns": big[:m, ::2],         # no leading dimension: numpy's route
         "broadcast rows": np.broadcast_to(big[0, :k], (m, k)),  # one row m times: stride 0
         "empty row slice": big[:0],
         }.get(form, rng.normal(size=(m, k)).astype(dtype))
    k = A.shape[1]
    if form == "read-only":
        A.flags.writeable = False
    W = rng.normal(size=(k, n)).astype(dtype)
    b = rng.normal(size=n).astype(dtype)
    out = np.full((m + 2, n), np.nan, dtype)[:m]          # a row slice of a workspace buffer
    before = blas.CALLS["gemm_nn"]
    got = blas.affine_into(A, W, b, out)
    assert got is out
    ref = reference(A, W, b)
    if m:
        assert np.abs(out - ref).max() <= TOL[dtype] * np.abs(ref).max()
    blas_route = (bool(blas._FUNCS) and small == 0 and m > 0
                  and form not in ("strided columns", "broadcast rows"))
    assert (blas.CALLS["gemm_nn"] > before) == blas_route


def test_affine_into_above_the_default_threshold_takes_blas():
    assert blas._FUNCS, f"the fast path found no BLAS to call: {blas.SOURCE}"
    rng = np.random.default_rng(4)
    A, W = rng.normal(size=(200, 64)).astype(np.float32), rng.normal(size=(64, 256)).astype(np.float32)
    b = rng.normal(size=256).astype(np.float32)
    out = np.empty((200, 256), np.float32)                  # 51,200 entries ≥ SMALL
    before = blas.CALLS["gemm_nn"]
    blas.affine_into(A, W, b, out)
    assert blas.CALLS["gemm_nn"] == before + 1
    ref = reference(A, W, b)
    assert np.abs(out - ref).max() <= 2e-6 * np.abs(ref).max()


def test_address_is_the_data_pointer_for_every_form():
    a = np.ones((6, 8), np.float32)
    ro = a.copy()
    ro.flags.writeable = False
    for v in (a, a[2:], a[:, 3:], a.T, ro, a[:0]):
        assert blas._address(v) == v.ctypes.data


@pytest.mark.parametrize("small", [0, None], ids=["BLAS route forced", "default threshold"])
def test_mismatched_shapes_are_refused_on_both_routes(monkeypatch, small):
    """BLAS takes the shapes on trust (a W with a row too many or too few would be read past
    or short); the BLAS route checks them and leaves the refusal to numpy's."""
    if small is not None:
        monkeypatch.setattr(blas, "SMALL", small)
    A = np.ones((200, 64), np.float32)
    b = np.zeros(256, np.float32)
    for W, out in [(np.ones((63, 256), np.float32), np.empty((200, 256), np.float32)),
                   (np.ones((65, 256), np.float32), np.empty((200, 256), np.float32)),
                   (np.ones((64, 256), np.float32), np.empty((199, 256), np.float32))]:
        with pytest.raises(ValueError):
            blas.affine_into(A, W, b, out)
    C = np.zeros((64, 256), np.float32)
    with pytest.raises(ValueError):
        blas.gemm_tn(1.0, A, np.ones((199, 256), np.float32), 1.0, C)
    with pytest.raises(ValueError):
        blas.gemm_tn(1.0, A, np.ones((200, 255), np.float32), 1.0, C)


def test_stacked_inputs_take_numpys_route(monkeypatch):
    """fast.stacked runs fast.step.forward on (K, m, n) arrays with biases (K, 1, n): with the
    threshold at 0 they still take numpy's batched product and equal each model alone."""
    monkeypatch.setattr(blas, "SMALL", 0)
    rng = np.random.default_rng(5)
    A = rng.normal(size=(3, 40, 16))
    W = rng.normal(size=(3, 16, 24))
    b = rng.normal(size=(3, 1, 24))
    out = np.empty((3, 40, 24))
    before = blas.CALLS["gemm_nn"]
    blas.affine_into(A, W, b, out)
    assert blas.CALLS["gemm_nn"] == before
    for k in range(3):
        np.testing.assert_allclose(out[k], A[k] @ W[k] + b[k], rtol=1e-13, atol=1e-13)
