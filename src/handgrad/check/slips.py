"""The backward pass with slips in it: the reference recursion (derivations.md §2, eq. 2.1–2.5,
5.2), where any layer's step may be replaced by the slip a learner makes there.

A slip is ``(layer, name, array)``. Three kinds:

* at the output (layer L), on δ_L: the softmax Jacobian taken as p(1−p), the batch mean's 1/m
  left out or taken twice, the error's sign flipped — every gradient below inherits it;
* on a hidden layer's δ_k = (δ_{k+1} W_{k+1}ᵀ) ⊙ f′(Z_k): the mask dropped, f′ taken at A_k
  instead of Z_k, the mask of the next layer, the weights of the wrong layer, W_{k+1} without
  its transpose — inherited by the layers below k;
* on one array only (dW_k or db_k): the penalty written λW or left out, the penalty on the bias,
  the 1/m left out or taken twice in that array alone, a transposed dW_k, a flipped sign.

:data:`CATALOGUE` says each in words, with the wrong and the right equation.
"""

from __future__ import annotations

import numpy as np

from ..core.heads import LOSSES
from .problem import Problem

# name: (what it is, the wrong equation, the right one); k is the layer, L the last
CATALOGUE = {
    "softmax_diagonal": ("the softmax Jacobian taken as p(1 − p)", "δ_L = (Y ⊙ P − Y)/m",
                         "δ_L = (P − Y)/m: every probability depends on every logit (derivations.md §3)"),
    "no_mean": ("the batch mean's 1/m left out", "δ_L = P − Y", "δ_L = (P − Y)/m"),
    "double_mean": ("the batch mean's 1/m taken twice", "δ_L = (P − Y)/m²", "δ_L = (P − Y)/m"),
    "output_sign": ("the output error's sign flipped", "δ_L = (Y − P)/m", "δ_L = (P − Y)/m"),
    "no_mask": ("the activation mask dropped", "δ_k = δ_{k+1} W_{k+1}ᵀ", "δ_k = (δ_{k+1} W_{k+1}ᵀ) ⊙ f′(Z_k)"),
    "derivative_at_A": ("f′ taken at the activation A_k instead of Z_k", "δ_k = (δ_{k+1} W_{k+1}ᵀ) ⊙ f′(A_k)",
                        "δ_k = (δ_{k+1} W_{k+1}ᵀ) ⊙ f′(Z_k) (for the sigmoid f′(Z) = A(1 − A))"),
    "mask_of_next_layer": ("the mask of the wrong layer", "δ_k = (δ_{k+1} W_{k+1}ᵀ) ⊙ f′(Z_{k+1})",
                           "δ_k = (δ_{k+1} W_{k+1}ᵀ) ⊙ f′(Z_k)"),
    "wrong_weights": ("the wrong layer's weights", "δ_k = (δ_{k+1} W_kᵀ) ⊙ f′(Z_k)",
                      "δ_k = (δ_{k+1} W_{k+1}ᵀ) ⊙ f′(Z_k): the error of layer k+1 comes back through W_{k+1}"),
    "no_transpose": ("a missing transpose", "δ_k = (δ_{k+1} W_{k+1}) ⊙ f′(Z_k)", "δ_k = (δ_{k+1} W_{k+1}ᵀ) ⊙ f′(Z_k)"),
    "half_l2": ("the penalty's gradient written λW", "dW_k = A_{k−1}ᵀ δ_k + λ W_k",
                "dW_k = A_{k−1}ᵀ δ_k + 2λ W_k: the derivative of λW² is 2λW (derivations.md §5)"),
    "no_l2": ("the penalty's gradient left out", "dW_k = A_{k−1}ᵀ δ_k", "dW_k = A_{k−1}ᵀ δ_k + 2λ W_k"),
    "l2_on_bias": ("the penalty applied to the bias", "db_k = 1ᵀ δ_k + 2λ b_k",
                   "db_k = 1ᵀ δ_k: L = … + λ Σ‖W_l‖² has no bias in it"),
    "array_no_mean": ("the 1/m left out of this array", "m · A_{k−1}ᵀ δ_k (+ 2λ W_k) for dW_k, or m · 1ᵀ δ_k for db_k",
                      "δ_k holds the 1/m already: dW_k = A_{k−1}ᵀ δ_k + 2λ W_k, db_k = 1ᵀ δ_k"),
    "array_double_mean": ("the 1/m taken twice in this array", "A_{k−1}ᵀ δ_k / m (+ 2λ W_k) for dW_k, or 1ᵀ δ_k / m for db_k",
                          "δ_k holds the 1/m already: dW_k = A_{k−1}ᵀ δ_k + 2λ W_k, db_k = 1ᵀ δ_k"),
    "transposed": ("dW_k transposed", "dW_k = δ_kᵀ A_{k−1}", "dW_k = A_{k−1}ᵀ δ_k, the shape of W_k"),
    "negated": ("the sign flipped in this array", "−(the gradient)", "the gradient (descent subtracts it)"),
}
OUTPUT_SLIPS = ("softmax_diagonal", "no_mean", "double_mean", "output_sign")
HIDDEN_SLIPS = ("no_mask", "derivative_at_A", "mask_of_next_layer", "wrong_weights", "no_transpose")
WEIGHT_SLIPS = ("half_l2", "no_l2", "array_no_mean", "array_double_mean", "transposed", "negated")
BIAS_SLIPS = ("l2_on_bias", "array_no_mean", "array_double_mean", "negated")


def applies(p: Problem, k: int, name: str) -> bool:
    """Whether slip ``name`` can be made at layer ``k`` (1-based) of problem ``p`` and show: the
    shapes must allow it (else numpy refuses it in the learner's own code), and it must change
    something (the penalty's slips need λ > 0; f′ at A is f′ at Z for ReLU-like units)."""
    n, L = p.sizes, p.L
    if name in OUTPUT_SLIPS:
        return k == L and (name != "softmax_diagonal" or p.output == "softmax") and \
            (name not in ("no_mean", "double_mean") or p.m > 1)
    if name in HIDDEN_SLIPS:
        if k >= L:
            return False
        base = p.activations[k - 1].base
        return {"no_mask": base != "identity",
                "derivative_at_A": base in ("sigmoid", "tanh"),
                "mask_of_next_layer": k + 1 < L and n[k] == n[k + 1] and base != "identity",
                "wrong_weights": n[k + 1] == n[k] and n[k - 1] == n[k],
                "no_transpose": n[k + 1] == n[k]}[name]
    if name in ("half_l2", "no_l2", "l2_on_bias"):
        return p.l2 > 0
    if name in ("array_no_mean", "array_double_mean"):
        return p.m > 1
    if name == "transposed":
        return n[k - 1] == n[k]
    return True


def gradients(p: Problem, slips=frozenset()) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(dW, db)`` of problem ``p`` (row convention) with the slips ``{(layer, name, array),
    ...}`` made (``array``: "W" or "b" for a slip of one array, None for one on δ); no slips:
    the reference backward pass."""
    at: dict[int, set] = {}
    for k, name, which in slips:
        at.setdefault(k, set()).add(name if which is None else (name, which))
    cache, A = [], p.X
    for l, (W, b) in enumerate(zip(p.weights, p.biases)):
        Z = A @ W + b                                               # eq. 1.2
        cache.append((A, Z))
        if l < len(p.activations):
            A = p.activations[l].forward(Z)                         # eq. 1.3
    L, m, lam = p.L, p.m, p.l2
    Z_L = cache[-1][1]
    _, delta = LOSSES[p.output](Z_L, p.Y, None)                     # eq. 2.1: δ_L, with its 1/m
    mine = at.get(L, set())
    if "softmax_diagonal" in mine:
        P = np.exp(Z_L - Z_L.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        delta = (p.Y * P - p.Y) / m
    delta = delta * (m if "no_mean" in mine else 1 / m if "double_mean" in mine else 1)
    delta = -delta if "output_sign" in mine else delta
    dW, db = [None] * L, [None] * L
    for l in range(L, 0, -1):
        mine = at.get(l, set())
        A_prev, _ = cache[l - 1]
        W, b = p.weights[l - 1], p.biases[l - 1]
        penalty = 0 if ("no_l2", "W") in mine else lam if ("half_l2", "W") in mine else 2 * lam
        dW[l - 1] = _array(A_prev.T @ delta, penalty * W, {n for n, w in _arrays(mine) if w == "W"}, m)  # eq. 2.2, 5.2
        db[l - 1] = _array(delta.sum(axis=0), (2 * lam * b) if ("l2_on_bias", "b") in mine else 0,
                           {n for n, w in _arrays(mine) if w == "b"}, m)                               # eq. 2.3
        if l > 1:
            below = at.get(l - 1, set())
            back = W if "no_transpose" in below else p.weights[l - 2].T if "wrong_weights" in below else W.T
            dA = delta @ back                                        # eq. 2.4
            act = p.activations[l - 2]
            Z_prev, A_here = cache[l - 2][1], cache[l - 1][0]
            if "no_mask" in below:
                delta = dA
            elif "derivative_at_A" in below:
                delta = act.backward(dA, A_here, act.forward(A_here))  # f′ read at A as if it were Z
            elif "mask_of_next_layer" in below:
                Z_next = cache[l - 1][1]
                delta = act.backward(dA, Z_next, act.forward(Z_next))
            else:
                delta = act.backward(dA, Z_prev, A_here)             # eq. 2.5
    return dW, db


def _arrays(mine: set):
    return [x for x in mine if isinstance(x, tuple)]


def _array(data, penalty, slips: set, m: int):
    """One layer's gradient array: its data part (with the array's own 1/m slips) plus the
    penalty's part, then transposed or negated as slipped."""
    if "array_no_mean" in slips:
        data = data * m
    if "array_double_mean" in slips:
        data = data / m
    out = data + penalty
    if "transposed" in slips:
        out = out.T
    return -out if "negated" in slips else out
