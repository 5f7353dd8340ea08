"""The fast training step (handgrad.fast.step) equals the reference backprop
(handgrad.core.backprop) on the same inputs: every activation, every output head, with and
without L2, sample weights and soft labels, the plain-SGD step fused into the products or not,
in float64 (1e-12) and float32, with the BLAS routes taken at every size (threshold forced to
0) and with the default threshold on both sides of it."""

import numpy as np
import pytest

import handgrad as hg
from handgrad.fast import blas

ACTS = ["relu", "leaky_relu", "leaky_relu(alpha=0.2)", "sigmoid", "tanh", "identity", "custom"]
HEADS = ["softmax", "logistic", "identity", "exp", "huber"]
TOL = {"float64": 1e-12, "float32": 2e-5}
DELTA = 0.5  # the Huber head's threshold: targets ~ N(0, 1) put residuals on both sides of it


def _custom():
    if "softsign_fast" not in hg.available_activations():
        hg.register_activation("softsign_fast", lambda z: z / (1 + np.abs(z)),
                               lambda z: 1 / (1 + np.abs(z)) ** 2)
    return "softsign_fast"


@pytest.fixture(params=["numpy route", "BLAS route"])
def route(request, monkeypatch):
    """Run each test with the default size threshold (these small arrays take numpy's route)
    and with it forced to 0 (every product and update goes through the ctypes BLAS calls)."""
    if request.param == "BLAS route":
        if not blas._FUNCS:
            pytest.fail(f"the fast path found no BLAS to call: {blas.SOURCE}")
        monkeypatch.setattr(blas, "SMALL", 0)
    return request.param


def close(fast, ref, tol, what):
    """Agreement relative to the array's scale: max |fast − ref| ≤ tol · max |ref|."""
    fast, ref = np.asarray(fast, np.float64), np.asarray(ref, np.float64)
    scale = max(np.abs(ref).max(), np.finfo(np.float64).tiny)
    err = np.abs(fast - ref).max() / scale
    assert err <= tol, f"{what}: relative difference {err:.3g} > {tol:g}"


def problem(activation, output, dtype, soft=False, weighted=False, l2=0.01, m=13, sizes=(7, 9, 8, 4),
            seed=0):
    act = _custom() if activation == "custom" else activation
    rng = np.random.default_rng(seed)
    net = hg.MLP(list(sizes), activation=act, l2=l2, dtype=dtype, seed=seed, output=output,
                 huber_delta=DELTA)
    net.flat += rng.normal(scale=0.05, size=net.n_params).astype(dtype)  # non-zero biases
    X = rng.normal(size=(m, sizes[0])).astype(dtype)
    K = sizes[-1]
    if output == "softmax":
        y = rng.dirichlet(np.ones(K), size=m).astype(dtype) if soft else rng.integers(0, K, m)
    elif output == "logistic":
        y = (rng.uniform(size=(m, K)) if soft else rng.integers(0, 2, (m, K))).astype(dtype)
    elif output == "exp":  # Poisson counts
        y = rng.poisson(1.5, size=(m, K)).astype(dtype)
    else:
        y = rng.normal(size=(m, K)).astype(dtype)
    w = rng.uniform(0.2, 3, m).astype(dtype) if weighted else None
    return net, net.check_X(X), net.check_y(y, m), net.check_sample_weight(w, m)


def reference_and_fast(net, X, y, w, part="total"):
    ref = net.backprop(X, y, w, part)
    ref_grad = net.flat_grad.copy()
    net.flat_grad[...] = np.nan  # the fast path must overwrite every entry
    fast = net.train_step(X, y, w, net.workspace(X.shape[0] + 3), part=part)
    return ref, ref_grad, fast, net.flat_grad.copy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("output", HEADS)
def test_gradients_equal_the_reference(route, dtype, activation, output):
    gemm_before, nn_before = blas.CALLS["gemm"], blas.CALLS["gemm_nn"]
    for soft, weighted, l2 in [(False, False, 0.0), (True, True, 0.01), (False, True, 0.3)]:
        net, X, y, w = problem(activation, output, dtype, soft, weighted, l2)
        ref, ref_grad, fast, fast_grad = reference_and_fast(net, X, y, w)
        what = f"{activation}/{output}/{dtype} soft={soft} weighted={weighted} l2={l2}"
        if output == "huber":  # both branches of h_δ are exercised, in every output column
            R = np.abs(net.forward(X) - y)
            assert np.all((R < DELTA).any(axis=0) & (R > DELTA).any(axis=0)), what
        assert fast.data_loss == pytest.approx(ref.data_loss, rel=TOL[dtype], abs=1e-300), what
        assert fast.l2_loss == ref.l2_loss and fast.correct == ref.correct, what
        for name, lo_hi in zip(net.param_names, [r for pair in zip(net.layout.weight_ranges,
                                                                    net.layout.bias_ranges) for r in pair]):
            lo, hi = lo_hi
            close(fast_grad[lo:hi], ref_grad[lo:hi], TOL[dtype], f"{what}: d{name}")
    # with L2 the weight gradient is one GEMM with β = 1, and every layer's bias rides its
    # forward GEMM: the forced route must have called both, numpy's route neither
    assert (blas.CALLS["gemm"] > gemm_before) == (route == "BLAS route")
    assert (blas.CALLS["gemm_nn"] > nn_before) == (route == "BLAS route")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_data_part_alone_equals_the_reference(route, dtype):
    net, X, y, w = problem("tanh", "softmax", dtype, soft=True, weighted=True, l2=0.5)
    ref, ref_grad, fast, fast_grad = reference_and_fast(net, X, y, w, part="data")
    assert fast.l2_loss == ref.l2_loss == 0.0 and ref.data_loss == pytest.approx(fast.data_loss, rel=TOL[dtype])
    close(fast_grad, ref_grad, TOL[dtype], "data part")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh", "identity", "custom"])
@pytest.mark.parametrize("output", HEADS)
def test_fused_sgd_step_equals_gradient_then_update(route, dtype, activation, output):
    net, X, y, w = problem(activation, output, dtype, soft=True, weighted=True, l2=0.02)
    start = net.flat.copy()
    fused = net.copy()
    ref = net.backprop(X, y, w)
    net.flat -= np.asarray(0.1, dtype) * net.flat_grad                  # θ ← θ − η ∂L/∂θ
    before = blas.CALLS.copy()
    result = fused.train_step(X, y, w, fused.workspace(X.shape[0]), sgd_lr=0.1)
    took = blas.CALLS["gemm"] > before["gemm"]
    assert took == (route == "BLAS route")  # the fused weight step is a GEMM with β
    assert result.data_loss == pytest.approx(ref.data_loss, rel=TOL[dtype])
    # compare the updates, not the parameters (which would hide an error in the small step)
    close(fused.flat - start, net.flat - start, TOL[dtype] * 10, f"{activation}/{output} fused step")
    assert np.abs(fused.flat - start).max() > 1e-4  # the step did move the parameters


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sizes_above_the_threshold_take_blas_and_agree(dtype):
    """Default threshold, arrays above it: W_1 is 300×128 = 38,400 entries ≥ blas.SMALL and
    δ_1 is 300×128 too, so the weight-gradient GEMM of the fused step and the
    optimizer's axpy/scal all go through BLAS without forcing anything."""
    assert blas._FUNCS, f"the fast path found no BLAS to call: {blas.SOURCE}"
    before = blas.CALLS.copy()
    net, X, y, w = problem("relu", "softmax", dtype, l2=0.01, m=300, sizes=(300, 128, 10))
    ref, ref_grad, fast, fast_grad = reference_and_fast(net, X, y, w)
    close(fast_grad, ref_grad, TOL[dtype], "gradients above the threshold")
    start = net.flat.copy()
    fused = net.copy()
    net.backprop(X, y, w)
    fused.train_step(X, y, w, fused.workspace(300), sgd_lr=0.05)
    close(fused.flat - start, -0.05 * net.flat_grad, TOL[dtype] * 10, "fused step above the threshold")
    opt = hg.training.optim.Adam(lr=1e-3)
    opt.init(net.n_params, net.dtype)
    opt.step(net.flat, net.flat_grad)
    taken = {k: blas.CALLS[k] - before[k] for k in ("gemm", "gemm_nn", "axpy", "scal")}
    assert all(n > 0 for n in taken.values()), f"fell back to numpy: BLAS calls {taken}"


MIXED = [["relu", "identity"], ["tanh", "backward-only"], ["identity", "relu", "backward-only", "sigmoid"]]


@pytest.mark.parametrize("activations", MIXED, ids=["relu,identity", "tanh,backward-only", "four"])
def test_one_activation_per_layer_including_ones_known_only_by_backward(route, activations):
    """Layers without a stored derivative (identity; an Activation given only a backward)
    beside layers with one: the fast path keeps Z for exactly those layers."""
    from handgrad.core.activations import Activation

    bo = Activation("softsign_bo", lambda Z: Z / (1 + np.abs(Z)),
                    lambda dA, Z, A: dA / (1 + np.abs(Z)) ** 2, needs_input=True)
    acts = [bo if a == "backward-only" else a for a in activations]
    sizes = (5,) + (6,) * len(acts) + (3,)
    net, X, y, w = problem("relu", "softmax", "float64", weighted=True, sizes=sizes)
    net.activations = [hg.get_activation(a) for a in acts]
    ref, ref_grad, fast, fast_grad = reference_and_fast(net, X, y, w)
    close(fast_grad, ref_grad, 1e-12, f"{activations}")
    start, fused = net.flat.copy(), net.copy()
    net.backprop(X, y, w)
    fused.train_step(X, y, w, fused.workspace(X.shape[0]), sgd_lr=0.1)
    close(fused.flat - start, -0.1 * net.flat_grad, 1e-11, f"{activations} fused")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("output", HEADS)
def test_prediction_equals_the_reference_forward(dtype, activation, output):
    """Prediction runs each activation's in-place kernel (no derivative): logits in chunks,
    probabilities, decisions and the training loop's forward_in_chunks against the reference."""
    from handgrad.core import heads
    from handgrad.fast.predict import forward_in_chunks

    net, X, _, _ = problem(activation, output, dtype, m=50)
    ref = net.forward(X)
    for batch in (7, 50, 4096):
        got = np.concatenate([z.copy() for _, z in net.logits_in_chunks(X, batch_size=batch)])
        close(got, ref, TOL[dtype], f"logits in chunks of {batch}")
        close(forward_in_chunks(net, X, batch), ref, TOL[dtype], f"forward_in_chunks({batch})")
    if output in ("identity", "exp", "huber"):  # regression: the mean, Z or e^Z
        mean = np.exp(ref) if output == "exp" else ref
        close(net.predict(X), mean[:, 0] if mean.shape[1] == 1 else mean, TOL[dtype], "regression")
        return
    probs = heads.probabilities(output, ref)
    close(net.predict_proba(X, batch_size=7), probs, TOL[dtype], "predict_proba")
    pred = net.predict(X, batch_size=7)
    if output == "softmax":
        top2 = np.sort(probs, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 1e-3  # away from near ties, the reference decides
        assert np.array_equal(pred[clear], probs.argmax(axis=1)[clear])
        assert np.array_equal(pred, net.predict_proba(X).argmax(axis=1))  # always, ties included
    else:
        clear = np.abs(ref) > 1e-3
        assert np.array_equal((pred == 1)[clear], (ref > 0)[clear])
