import numpy as np

import handgrad as hg
from handgrad.core.dense import dense_backward, dense_forward


def test_dense_gradients_match_finite_differences(rng):
    X, W, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)

    def backward(dZ, X, W, b):
        dW, db, dX = dense_backward(dZ, X, W)
        return [dX, dW, db]

    report = hg.gradcheck_op(dense_forward, backward, [X, W, b], ["X", "W", "b"])
    assert report.passed, str(report)


def test_dense_backward_formulas(rng):
    X, W = rng.normal(size=(5, 4)), rng.normal(size=(4, 3))
    dZ = rng.normal(size=(5, 3))
    dW, db, dX = dense_backward(dZ, X, W)
    # entrywise: dW_kj = Σ_i X_ik dZ_ij, db_j = Σ_i dZ_ij, dX_ik = Σ_j dZ_ij W_kj
    np.testing.assert_allclose(dW, np.einsum("ik,ij->kj", X, dZ))
    np.testing.assert_allclose(db, dZ.sum(axis=0))
    np.testing.assert_allclose(dX, np.einsum("ij,kj->ik", dZ, W))
