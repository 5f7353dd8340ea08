"""handgrad derive --numbers: the worked step comes from the reference core, agrees with
finite differences, matches an independent plain-numpy recomputation and what the document
prints; each slip gives a gradient the finite differences reject."""

import re

import numpy as np
import pytest

from handgrad.derive import derivation

CASES = [([3, 10, 6, 3], "relu", "softmax", 0.01),           # seed 004's network, §8
         ([4, 5, 3], "sigmoid", "logistic", 0.0),
         ([2, 4, 4, 4, 2], "tanh", "identity", 0.1),
         ([3, 6, 2], "leaky_relu(alpha=0.2)", "exp", 0.02),
         ([3, 5, 4, 3], ["identity", "relu"], "softmax", 0.0),
         ([5, 2], "relu", "softmax", 0.03),                   # one layer
         ([2, 3, 3, 3, 3, 3, 2], "tanh", "logistic", 0.01),  # six layers
         ([3, 6, 5, 3], "relu", "huber", 0.01)]


def plain_numpy(step, act_names, output):
    """Forward and backward written out again in numpy alone, from the step's X, targets and
    parameters: a check of the core that shares none of its code."""
    f = {"relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0) * 1.0),
         "leaky_relu": (lambda z: np.where(z > 0, z, 0.2 * z), lambda z, a: np.where(z > 0, 1.0, 0.2)),
         "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
         "tanh": (np.tanh, lambda z, a: 1 - np.tanh(z) ** 2),
         "identity": (lambda z: z, lambda z, a: np.ones_like(z))}
    Ws, bs, lam, X, Y = step.weights, step.biases, step.lam, step.X, step.Y
    m, L = X.shape[0], len(Ws)
    out, A, As, Zs = {}, X, [X], []
    for l in range(L):
        Z = A @ Ws[l] + bs[l]
        Zs.append(Z)
        out[f"Z{l + 1}"] = Z
        if l < L - 1:
            A = f[act_names[l]][0](Z)
            As.append(A)
            out[f"A{l + 1}"] = A
    Z = Zs[-1]
    if output == "softmax":
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        P = E / E.sum(axis=1, keepdims=True)
        out["logP"] = np.log(P)
        data = -(Y * np.log(P)).sum() / m
    elif output == "logistic":
        P = 1 / (1 + np.exp(-Z))
        data = -(Y * np.log(P) + (1 - Y) * np.log(1 - P)).sum() / m
    elif output == "identity":
        P = Z
        data = 0.5 * ((Z - Y) ** 2).sum() / m
    elif output == "huber":
        P, delta, R = Z, step.head_params["delta"], np.abs(Z - Y)
        data = np.where(R <= delta, 0.5 * R ** 2, delta * (R - 0.5 * delta)).sum() / m
    else:
        P = np.exp(Z)
        ylogy = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1)), 0)
        data = (P - Y * Z + ylogy - Y).sum() / m
    out["P"] = P
    d = (np.clip(Z - Y, -delta, delta) if output == "huber" else P - Y) / m
    for l in range(L, 0, -1):
        out[f"d{l}"] = d
        out[f"dW{l}"] = As[l - 1].T @ d + 2 * lam * Ws[l - 1]
        out[f"db{l}"] = d.sum(axis=0)
        if l > 1:
            out[f"dA{l - 1}"] = d @ Ws[l - 1].T
            d = out[f"dA{l - 1}"] * f[act_names[l - 2]][1](Zs[l - 2], As[l - 1])
    return out, data + lam * sum((W ** 2).sum() for W in Ws)


def _names(activation, n_hidden):
    names = activation if isinstance(activation, list) else [activation] * n_hidden
    return [a.split("(")[0] for a in names]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[2]}-{len(c[0]) - 1}layers")
def case(request):
    sizes, act, output, l2 = request.param
    return request.param, derivation(sizes, act, output=output, l2=l2, batch=4, seed=2, numbers=True)


def test_step_is_the_reference_core_and_passes_the_check(case):
    (sizes, act, output, l2), d = case
    step = d.step
    assert step.report.passed
    for name, g in step.grads.items():  # the loop shown equals core.backprop.backward exactly
        assert np.array_equal(step.arrays["d" + name], g)
    for name, num in step.numeric.items():
        np.testing.assert_allclose(num, step.grads[name], rtol=1e-6, atol=1e-8)
    assert step.loss == pytest.approx(step.loss_fn(), abs=0)


def test_plain_numpy_recomputes_every_array(case):
    (sizes, act, output, l2), d = case
    mine, loss = plain_numpy(d.step, _names(act, len(sizes) - 2), output)
    assert d.step.loss == pytest.approx(loss, rel=1e-12)
    for key, value in d.step.arrays.items():
        np.testing.assert_allclose(value, mine[key], rtol=1e-10, atol=1e-13, err_msg=key)


def test_printed_arrays_are_the_step_rounded(case):
    (sizes, act, output, l2), d = case
    text = d.render("text")
    labels = {r.label: r.key for r in d.forward + d.backward if r.key != "loss"}
    blocks = re.findall(r"^\[([FB]\d+)\] .*\n((?:  .*\n)+)", text, re.M)
    assert {lab for lab, _ in blocks} == set(labels)
    for lab, body in blocks:
        value = d.step.arrays[labels[lab]]
        if value.size > 200:  # summarised by numpy
            continue
        printed = np.array([float(x) for x in re.findall(r"-?\d+\.\d+", body)])
        np.testing.assert_allclose(printed, value.reshape(-1), atol=5.1e-5, err_msg=lab)
    assert text.count("passes.") == 2 * (len(sizes) - 1) and "FAILS" not in text


def test_every_slip_that_applies_disagrees_with_finite_differences(case):
    (sizes, act, output, l2), d = case
    applicable = [s for s in d.slips if s.applies]
    assert applicable
    for s in applicable:
        assert s.differs, s.title
    titles = " ".join(s.title for s in d.slips)
    for word in ("softmax Jacobian", "transpose", "wrong layer", "mask"):
        assert word in titles
    if output == "softmax":
        assert d.slips[0].applies


def test_shapes_written_are_the_shapes_computed(case):
    (sizes, act, output, l2), d = case
    for r in d.forward + d.backward:
        if r.key == "loss":
            continue
        result = r.shape.txt.rsplit("→", 1)[-1].strip()
        assert result == "(" + "×".join(map(str, d.step.arrays[r.key].shape)) + ")", r.label


def test_huber_residuals_keep_off_the_kink_and_some_are_clipped():
    for delta in (0.05, 0.4, 3.0):
        d = derivation([3, 5, 2], "tanh", output="huber", huber_delta=delta, batch=6, seed=1, numbers=True)
        R = np.abs(d.step.arrays["Z2"] - d.step.Y)
        assert np.min(np.abs(R - delta)) >= 1e-3 and np.any(R > delta) and d.step.report.passed
        clip = next(s for s in d.slips if "clip" in s.title)
        assert clip.applies and clip.differs


def test_kinks_are_avoided():
    d = derivation([2, 8, 2], "relu", batch=16, seed=5, numbers=True)
    Z = d.step.arrays["Z1"]
    assert np.min(np.abs(Z)) >= 1e-3 and d.step.report.passed
