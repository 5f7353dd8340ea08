"""Prediction in chunks: same answers whatever the chunk size, memory that does not grow
with the number of rows, and bad rows named by their place in the whole input."""

import tracemalloc

import numpy as np
import pytest

import handgrad as hg
from handgrad.model import Model
from handgrad.data.preprocessing import Standardizer


@pytest.fixture
def net():
    return hg.MLP([20, 32, 16, 4], activation="tanh", dtype="float32", seed=0)


def test_chunk_size_does_not_change_predictions(net):
    X = np.random.default_rng(0).normal(size=(1000, 20)).astype(np.float32)
    ref = net.predict_proba(X, batch_size=1000)
    for bs in (1, 7, 256, 999, 5000):
        np.testing.assert_allclose(net.predict_proba(X, batch_size=bs), ref, rtol=1e-6, atol=1e-7)
        assert np.array_equal(net.predict(X, batch_size=bs), ref.argmax(axis=1))
    np.testing.assert_allclose(ref.sum(axis=1), 1.0, rtol=1e-6)
    # row order does not matter either
    perm = np.random.default_rng(1).permutation(1000)
    np.testing.assert_allclose(net.predict_proba(X[perm], batch_size=128), ref[perm], rtol=1e-6, atol=1e-7)


def test_prediction_memory_does_not_grow_with_rows(net):
    X = np.random.default_rng(0).normal(size=(200_000, 20)).astype(np.float32)  # 16 MB
    net.predict_proba(X[:10])
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    P = net.predict_proba(X, batch_size=4096)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    result = P.nbytes  # 3.2 MB: the answer itself
    chunk = 4096 * (20 + 32 + 16 + 4) * 4  # ~1.2 MB of workspace and chunk temporaries
    assert peak < result + 4 * chunk, (peak, result)
    assert peak < X.nbytes / 3


def test_float64_input_to_float32_net_is_converted_per_chunk(net):
    X = np.random.default_rng(0).normal(size=(50_000, 20))  # float64, 8 MB
    tracemalloc.start()
    P = net.predict_proba(X, batch_size=1024)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert P.dtype == np.float32
    assert peak < X.nbytes / 2  # never a whole float32 copy of X plus temporaries


def test_non_finite_row_is_named_by_its_global_index(net):
    X = np.zeros((10_000, 20), dtype=np.float32)
    X[7_777, 3] = np.nan  # messages count rows and columns from 1: X[7777, 3] is row 7778, column 4
    with pytest.raises(ValueError, match="holds nan in row 7778, column 4"):
        net.predict_proba(X, batch_size=1000)
    X[7_777, 3] = 0
    X[9_001, 0] = np.inf
    with pytest.raises(ValueError, match="holds inf in row 9002, column 1"):
        net.predict(X, batch_size=512)


def test_overflowing_inputs_raise_instead_of_answering():
    net = hg.MLP([3, 4, 2], activation="relu", dtype="float32", seed=0)
    X = np.full((5, 3), 3e38, dtype=np.float32)  # finite, but the first layer overflows
    with pytest.raises(ValueError, match="too large"):
        net.predict(X)


def test_model_predictions_in_chunks_match_whole(net):
    rng = np.random.default_rng(2)
    X = rng.normal(loc=5, scale=3, size=(3000, 20))
    model = Model(net, np.array(["a", "b", "c", "d"]), Standardizer().fit(X), None, {})
    whole = model.predict_log_proba(X, batch_size=3000)
    np.testing.assert_allclose(model.predict_log_proba(X, batch_size=100), whole, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(whole)) and np.all(whole <= 0)
    X[2500, 7] = -np.inf
    with pytest.raises(ValueError, match="holds -inf in row 2501, column 8"):
        model.predict(X, batch_size=512)
