"""One worked step on a small random batch: every intermediate array of the derivation, each
parameter gradient, and its central-difference check (derivations.md §7).

Everything is computed by the reference core, in float64: ``core.backprop.forward`` for
(1.1)–(1.3), the head's fused loss for (2.1), and the loop of ``core.backprop.backward``
written out so that each δ_l and ∂L/∂A_{l-1} can be shown — ``dense_backward``,
``l2_penalty_grad`` and ``Activation.backward``, the same calls in the same order. The
gradients shown are those ``core.backprop.backward`` itself returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core import backprop
from ..core.dense import dense_backward
from ..core.heads import LOSSES, probabilities, regression_mean
from ..core.losses import l2_penalty, l2_penalty_grad, log_softmax, one_hot
from ..gradcheck import H, GradcheckReport, gradcheck_function

Array = np.ndarray
KINK_GAP = 1e-3          # §7: finite differences stay this far from a kink
MAX_FD_SHOWN = 400       # a parameter with more entries gets its check, not its array
MAX_FD_CHECKED = 2000    # entries checked per parameter (gradcheck's default)


@dataclass
class Step:
    """The worked step. ``arrays`` maps the keys of the equation rows (``Z1``, ``A1``,
    ``logP``/``P``, ``d3``, ``dW3``, ``db3``, ``dA2``, …) to their values; ``grads`` the
    parameter names (``W1``, ``b1``, …) to ``core.backprop.backward``'s gradients;
    ``numeric`` to the central differences (None where the parameter is too big to show);
    ``report`` is the gradient checker's verdict; ``head_params`` the head's loss's keyword
    arguments (the Huber head's ``delta``)."""

    X: Array
    y: Array
    Y: Array
    weights: list[Array]
    biases: list[Array]
    activations: list
    output: str
    lam: float
    arrays: dict[str, Array]
    data_loss: float
    l2_loss: float
    grads: dict[str, Array]
    numeric: dict[str, Array | None]
    report: GradcheckReport
    redraws: int = 0
    cache: list = field(default_factory=list)
    head_params: dict = field(default_factory=dict)

    @property
    def loss(self) -> float:
        return self.data_loss + self.l2_loss

    def loss_fn(self, weights=None, biases=None) -> float:
        """The total loss (1.6) at other parameters (the same batch), by the reference core."""
        weights = self.weights if weights is None else weights
        biases = self.biases if biases is None else biases
        data, l2, *_ = backprop.loss_and_grads(weights, biases, self.activations, self.output,
                                              self.X, self.y, None, self.lam, self.head_params)
        return data + l2


def _targets(output: str, rng: np.random.Generator, m: int, K: int, delta: float | None = None
             ) -> Array:
    """Random targets of the head's kind: labels, 0/1 outputs, real numbers (for the Huber
    head spread over a few δ, so that residuals fall on both sides of ±δ) or counts."""
    if output == "softmax":
        return rng.integers(0, K, size=m)
    if output == "logistic":
        return rng.integers(0, 2, size=(m, K)).astype(np.float64)
    if output == "identity":
        return rng.standard_normal((m, K))
    if output == "huber":
        return 2 * delta * rng.standard_normal((m, K))
    return rng.poisson(1.0, size=(m, K)).astype(np.float64)


def _off_the_huber_kink(logits: Array, Y: Array, delta: float) -> bool:
    """Every residual 1e-3 or more from ±δ, where h_δ'' jumps (§14), and one beyond ±δ (so
    the clip shows)."""
    R = np.abs(logits - Y)
    return bool(np.min(np.abs(R - delta)) >= KINK_GAP and np.any(R > delta))


def _near_kink(weights, biases, activations, X) -> bool:
    _, cache = backprop.forward(weights, biases, activations, X)
    for act, (_, Zl) in zip(activations, cache):
        if any(np.min(np.abs(Zl - k)) < KINK_GAP for k in act.kinks):
            return True
    return False


def worked_step(weights: list[Array], biases: list[Array], activations: list, output: str,
                lam: float, m: int, seed: int, head_params: dict | None = None) -> Step:
    """The step on a batch X (m, n_0) ~ N(0, 1) drawn from ``default_rng(seed + 1)``, redrawn
    while a pre-activation lies within 1e-3 of a kink (where a central difference measures a
    one-sided slope, §7); for the Huber head the targets are redrawn while a residual lies
    within 1e-3 of ±δ (§14). Parameters are float64 arrays [W_1 …], [b_1 …]; ``head_params``
    the head's loss's keyword arguments (``{"delta": δ}`` for the Huber head)."""
    head_params = dict(head_params or {})
    rng = np.random.default_rng(seed + 1)
    n0, K = weights[0].shape[0], weights[-1].shape[1]
    X, redraws = rng.standard_normal((m, n0)), 0
    while _near_kink(weights, biases, activations, X) and redraws < 100:
        X, redraws = rng.standard_normal((m, n0)), redraws + 1
    threshold = head_params.get("delta")  # the Huber head's δ (δ below is δ_L)
    y = _targets(output, rng, m, K, threshold)
    logits, cache = backprop.forward(weights, biases, activations, X)            # eq. 1.1-1.3
    while output == "huber" and not _off_the_huber_kink(logits, y, threshold) and redraws < 100:
        y, redraws = _targets(output, rng, m, K, threshold), redraws + 1
    Y = one_hot(y, K) if output == "softmax" else y

    arrays: dict[str, Array] = {}
    for l, (A_prev, Zl) in enumerate(cache, start=1):
        arrays[f"Z{l}"] = Zl
        if l > 1:
            arrays[f"A{l - 1}"] = A_prev
    if output == "softmax":
        arrays["logP"] = log_softmax(logits)                                      # eq. 3.2
        arrays["P"] = probabilities(output, logits)
    else:
        arrays["P"] = probabilities(output, logits) if output == "logistic" \
            else regression_mean(output, logits)
    data_loss, delta = LOSSES[output](logits, y, None, **head_params)            # eq. 2.1
    l2_loss = l2_penalty(weights, lam)                                            # eq. 5.1

    # core.backprop.backward's loop, keeping what it passes from one layer to the next
    L = len(weights)
    delta_L = delta
    for l in reversed(range(L)):
        A_prev = cache[l][0]
        arrays[f"d{l + 1}"] = delta
        dW, db, dA_prev = dense_backward(delta, A_prev, weights[l])              # eq. 2.2-2.4
        arrays[f"dW{l + 1}"] = dW + l2_penalty_grad(weights[l], lam)              # eq. 5.2
        arrays[f"db{l + 1}"] = db
        if l > 0:
            arrays[f"dA{l}"] = dA_prev
            delta = activations[l - 1].backward(dA_prev, cache[l - 1][1], A_prev)  # eq. 2.5
    dWs, dbs = backprop.backward(delta_L, weights, activations, cache, lam)
    grads = {}
    for l in range(L):
        grads[f"W{l + 1}"], grads[f"b{l + 1}"] = dWs[l], dbs[l]

    params = [p.copy() for pair in zip(weights, biases) for p in pair]
    names = [f"{k}{l + 1}" for l in range(L) for k in "Wb"]

    def fn(*ps):
        data, l2, dW_, db_, _ = backprop.loss_and_grads(list(ps[0::2]), list(ps[1::2]),
                                                        activations, output, X, y, None, lam,
                                                        head_params)
        return data + l2, [g for pair in zip(dW_, db_) for g in pair]

    report = gradcheck_function(fn, params, names, max_entries=MAX_FD_CHECKED, seed=seed,
                                title="the worked step, total loss")
    numeric = {name: (_central_differences(fn, params, i) if p.size <= MAX_FD_SHOWN else None)
               for i, (name, p) in enumerate(zip(names, params))}
    return Step(X, y, Y, list(weights), list(biases), list(activations), output, lam, arrays,
                data_loss, l2_loss, grads, numeric, report, redraws, cache, head_params)


def _central_differences(fn, params: list[Array], i: int) -> Array:
    """``(L(θ + h e_j) − L(θ − h e_j)) / 2h`` for every entry j of parameter i (eq. 7.1), with
    the gradient checker's h."""
    p = params[i].reshape(-1)
    out = np.empty(p.size)
    for j in range(p.size):
        old = p[j]
        p[j] = old + H
        up = fn(*params)[0]
        p[j] = old - H
        down = fn(*params)[0]
        p[j] = old
        out[j] = (up - down) / (2 * H)
    return out.reshape(params[i].shape)
