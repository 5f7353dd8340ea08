"""Shared helpers: random networks and data kept away from activation kinks."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import handgrad as hg

if os.environ.get("HANDGRAD_REQUIRE_TORCH") == "1" and importlib.util.find_spec("torch") is None:
    raise pytest.UsageError("HANDGRAD_REQUIRE_TORCH=1 but torch is not installed: "
                            "the PyTorch cross-check would be skipped; pip install -e '.[test]'")

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "identity"]


def far_from_kinks(net: hg.MLP, X: np.ndarray, margin: float = 1e-3) -> bool:
    """True when every hidden pre-activation is at least ``margin`` from its activation's kinks."""
    A = X
    for l, act in enumerate(net.activations):
        Z = A @ net.weights[l] + net.biases[l]
        if any(np.min(np.abs(Z - k)) < margin for k in act.kinks):
            return False
        A = act.forward(Z)
    return True


def make_problem(sizes, activation="relu", l2=0.0, seed=0, m=7, soft=False, dtype="float64"):
    """A network with random non-zero biases and a batch far from kinks (derivations.md §7)."""
    rng = np.random.default_rng(seed)
    net = hg.MLP(sizes, activation=activation, l2=l2, dtype=dtype, seed=seed)
    for b in net.biases:  # zero biases would make every kink sit at the same place
        b[...] = rng.normal(scale=0.1, size=b.shape)
    for _ in range(100):
        X = rng.normal(size=(m, sizes[0]))
        if far_from_kinks(net, X):
            break
    else:
        raise RuntimeError("could not draw a batch away from kinks")
    K = sizes[-1]
    if soft:
        y = rng.dirichlet(np.ones(K), size=m)
    else:
        y = rng.integers(0, K, size=m)
    return net, X, y


@pytest.fixture(autouse=True, scope="session")
def terminal_signal_dispositions():
    """Run the tests with the stop signals as a terminal gives them (Ctrl-C raises, SIGTERM and
    SIGHUP end the process), whatever launched pytest: a background job or ``nohup`` starts it
    with SIGINT or SIGHUP ignored, which processes inherit, and handgrad rightly keeps an
    ignored signal ignored — so the tests of what these signals do would test the launcher.
    The test of the ignored case sets it up itself."""
    import signal

    wanted = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL,
              signal.SIGHUP: signal.SIG_DFL}
    previous = {s: signal.signal(s, h) for s, h in wanted.items()}
    yield
    for s, h in previous.items():
        signal.signal(s, h)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_terminal_summary(terminalreporter):
    """How often the fast path took each BLAS route (ctypes calls into numpy's OpenBLAS) during
    this run: a fast path that silently fell back to numpy everywhere would show zeros."""
    from handgrad.fast import blas

    counts = ", ".join(f"{k} {blas.CALLS[k]:,}" for k in ("gemm", "gemm_nn", "axpy", "scal"))
    terminalreporter.write_line(f"handgrad BLAS calls in this run: {counts} ({blas.SOURCE})")
