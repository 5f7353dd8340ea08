"""Common slips, generated for one network: how each would look with its sizes, why it is
wrong, and — with a worked step — the gradient it gives next to the finite differences.

The slips are those docs/derivations.md §9 corrects in the seed notes and §2 warns about:
the softmax Jacobian taken as p(1−p) (seed 000 l. 11–13), a missing transpose, the wrong
layer's weights (seed 001 l. 30, seed 004 l. 155), a dropped activation mask (seed 001
l. 30), the batch mean's 1/m taken twice (§2), and 2λW written λW (§5); for the Huber head,
its gradient without the clip (the squared error's, §14).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import backprop
from ..gradcheck import ATOL, RTOL
from .equations import Net, act_factor, huber_clip
from .notation import A, M, T, W, Z, b, d, delta, frac_m, number, shape

Array = np.ndarray


@dataclass
class Slip:
    """One slip: the wrong and the right equation, what the shapes say, why it is wrong;
    ``applies`` False with ``reason`` when this network cannot make it; ``outcome`` the
    numbers (filled in by :func:`measure`)."""

    title: str
    wrong: M
    right: M
    shapes: tuple
    why: tuple
    applies: bool = True
    reason: str = ""
    compute: object = None          # step -> {param name: slipped gradient}; may raise ValueError
    outcome: tuple = ()
    differs: bool | None = None     # with numbers: does the slip disagree with the differences?


def _dims(*n) -> M:
    return shape(*n)


def softmax_jacobian(net: Net) -> Slip:
    L, K, m = net.L, net.sizes[-1], net.m
    title = "The softmax Jacobian taken as p(1 - p)"
    if net.output != "softmax":  # no softmax equation to show: its P − Y is not this head's
        return Slip(title, M("", ""), M("", ""), (), (), False, f"the {net.output} head is "
                    "elementwise: its derivative has no off-diagonal terms to forget")
    P, Y = M("P", "P"), M("Y", "Y")
    wrong = delta(L) + " = " + frac_m() + M("(-Y\\oslash P)\\odot P\\odot(1 - P) = ", "(−Y ⊘ P) ⊙ P ⊙ (1 − P) = ") \
        + frac_m() + M("(Y\\odot P - Y)", "(Y ⊙ P − Y)")
    right = delta(L) + " = " + frac_m() + "(" + P + M(" - ", " − ") + Y + ")"
    s = Slip(title, wrong, right,
             ("Both sides are ", _dims(m, K), ", so no shape check catches it."),
             ("p(1 - p) is only the diagonal of the softmax Jacobian ",
              M("\\operatorname{diag}(p) - pp^{\\top}", "diag(p) − ppᵀ"),
              " (derivations.md §3 eq. 3.4): every probability depends on every logit, and the "
              "off-diagonal terms carry the gradient to the other classes. With one-hot Y the "
              f"slipped rows are 0 in the {K - 1} column{'s' if K > 2 else ''} of the wrong "
              "classes (where the true gradient is p/m), and they no longer sum to 0. Every "
              "gradient below B1 inherits the error."))

    def compute(step):
        wrong_delta = (step.Y * step.arrays["P"] - step.Y) / step.X.shape[0]
        return _grads_below(step, net.L + 1, wrong_delta)
    s.compute = compute
    return s


def forgotten_clip(net: Net) -> Slip | None:
    """The Huber head's gradient written as the squared error's: (Z − Y)/m, no clip."""
    if net.output != "huber":
        return None
    L, K, m = net.L, net.sizes[-1], net.m
    z = Z(L)
    s = Slip("The Huber gradient without its clip",
             delta(L) + " = " + frac_m() + "(" + z + M(" - Y)", " − Y)"),
             delta(L) + " = " + frac_m() + huber_clip(z),
             ("Both sides are ", _dims(m, K), ", so no shape check catches it."),
             (M("(Z - Y)/m", "(Z − Y)/m"), " is the gradient of half the squared error "
              "(derivations.md §12 eq. 12.5); it is the Huber loss's gradient too only where the "
              "residual lies within ", M("\\pm\\delta", "±δ"), " (", M(f"\\delta = {number(net.delta)}",
                                                         f"δ = {number(net.delta)}"),
              "). Beyond, ", M("h_\\delta", "h_δ"), " is linear and its slope is ",
              M("\\pm\\delta", "±δ"), " (§14 eq. 14.3): without the clip an outlier's whole "
              "residual pulls on the weights, the robustness the head was chosen for is gone, and "
              "every gradient below B1 inherits the error."))

    def compute(step):
        return _grads_below(step, L + 1, (step.arrays[f"Z{L}"] - step.Y) / step.X.shape[0])
    s.compute = compute
    return s


def transpose(net: Net) -> Slip:
    n, m = net.sizes, net.m
    layers = [l for l in range(net.L, 0, -1) if n[l] > 1 and n[l - 1] > 1]
    l = layers[0] if layers else net.L
    l2w = M(f" + 2\\lambda {W(l).tex}", f" + 2λ {W(l).txt}") if net.l2 else M("", "")
    wrong = d(W(l)) + " = " + T(delta(l)) + A(l - 1) + l2w
    right = d(W(l)) + " = " + T(A(l - 1)) + delta(l) + l2w
    got, want = _dims(n[l], n[l - 1]), _dims(n[l - 1], n[l])
    if n[l] != n[l - 1]:
        shapes = (T(delta(l)) + A(l - 1), " is ", _dims(n[l], m), _dims(m, n[l - 1]),
                  M(" \\to ", " → "), got, ": numpy computes it without complaint, but ", W(l),
                  " is ", want, ". Adding it to ", W(l), " fails to broadcast — and a quick ",
                  "reshape to ", want, " to make it fit scrambles the entries silently; the fix "
                  "is the transpose.")
    else:
        shapes = ("Here ", W(l), " is square ", want, ", so the slipped gradient has the right "
                  "shape and nothing stops it: it is the transpose of the gradient.")
    dA_shapes = ((" The same slip in ", d(A(l - 1)), " (", delta(l), W(l), " without the ",
                  "transpose) is ", _dims(m, n[l]), _dims(n[l - 1], n[l]), ", which ")
                 + (("numpy refuses (the inner sizes differ).",) if n[l] != n[l - 1] else
                    ("multiplies, and is wrong.",))) if l > 1 else ()
    s = Slip(f"A missing transpose (layer {l})", wrong, right, shapes + dA_shapes,
             ("From ", Z(l) + " = " + A(l - 1) + W(l) + M(" + \\dots", " + …"), ", entry ",
              M("(k, j)", "(k, j)"), " of the gradient is ", M("\\sum_i A_{ik}\\delta_{ij}",
                                                             "Σᵢ Aᵢₖ δᵢⱼ"),
              " (derivations.md §2), which is ", T(A(l - 1)) + delta(l),
              ": the gradient has the shape of the weight it belongs to."))
    if not layers:
        s.applies, s.reason = False, "every weight matrix here is a row or a column, whose transpose is a reshape"
        return s

    def compute(step):
        dl, A_prev = step.arrays[f"d{l}"], step.cache[l - 1][0]
        slipped = dl.T @ A_prev
        if slipped.shape != step.weights[l - 1].shape:
            slipped = slipped.reshape(step.weights[l - 1].shape)   # the "fix" that scrambles
        return {f"W{l}": slipped + 2 * step.lam * step.weights[l - 1]}
    s.compute = compute
    return s


def wrong_weights(net: Net) -> Slip:
    n, m = net.sizes, net.m
    if net.L < 2:
        return Slip("The wrong layer's weights", M("", ""), M("", ""), (), (), False,
                    "with one layer there is no other layer's weights to take")
    silent = [l for l in range(net.L, 1, -1) if n[l] == n[l - 1] == n[l - 2]]
    l = silent[0] if silent else net.L
    wrong = d(A(l - 1)) + " = " + delta(l) + T(W(l - 1))
    right = d(A(l - 1)) + " = " + delta(l) + T(W(l))
    prod = (delta(l), T(W(l - 1)), " is ", _dims(m, n[l]), _dims(n[l - 1], n[l - 2]))
    if n[l] != n[l - 1]:
        shapes = prod + (": the inner sizes differ and numpy raises an error.",)
    elif n[l - 2] != n[l - 1]:
        shapes = prod + (M(" \\to ", " → "), _dims(m, n[l - 2]), ", but ", A(l - 1), " is ",
                         _dims(m, n[l - 1]), ": the product with the activation's derivative fails.")
    else:
        shapes = prod + (": every width here is ", str(n[l]), ", so the shapes agree and only "
                         "the numbers show the slip.",)
    fwd = Z(l) + " = " + A(l - 1) + W(l - 1) + " + " + b(l)
    shapes += (" The same slip in the forward pass, ", fwd, " (seed 004 l. 155), is ",
               _dims(m, n[l - 1]), _dims(n[l - 2], n[l - 1]),
               "." if n[l - 1] == n[l - 2] else ": it does not multiply either.")
    s = Slip(f"The wrong layer's weights (layer {l})", wrong, right, shapes,
             (Z(l), f" depends on ", A(l - 1), " through ", W(l), " only (derivations.md §1 eq. "
              "1.2), so the chain rule carries the error of layer ", str(l), " back through ",
              W(l), ": the weights of the layer the error comes from."))

    def compute(step):
        dA = step.arrays[f"d{l}"] @ step.weights[l - 2].T
        Zp, Ap = step.cache[l - 2][1], step.cache[l - 1][0]
        if dA.shape != Ap.shape:
            raise ValueError(f"the result is {_txt(dA.shape)} where A{l - 1} is {_txt(Ap.shape)}")
        return _grads_below(step, l, step.activations[l - 2].backward(dA, Zp, Ap))
    s.compute = compute
    return s


def dropped_mask(net: Net) -> Slip:
    n, m = net.sizes, net.m
    hidden = [k for k in range(net.L - 1, 0, -1) if net.activations[k - 1].base != "identity"]
    if net.L < 2 or not hidden:
        return Slip("A dropped activation mask", M("", ""), M("", ""), (), (), False,
                    "no hidden layer" if net.L < 2 else
                    "every hidden activation is the identity: f' = 1, there is nothing to drop")
    k = hidden[0]
    act = net.activations[k - 1]
    wrong = delta(k) + " = " + d(A(k))
    right = delta(k) + " = " + d(A(k)) + M("\\odot ", " ⊙ ") + act_factor(act, k)
    why = {"relu": ("a unit with ", Z(k), " ≤ 0 outputs the constant 0 and passes no gradient "
                    "back; without the mask the error flows through units that were off"),
           "leaky_relu": ("units with ", Z(k), " ≤ 0 have slope alpha, not 1; without the factor "
                          "they pass the error back unscaled"),
           "sigmoid": ("sigma' = A(1 - A) is at most 1/4; without it the error is too large "
                       "everywhere, and most where the unit saturates",),
           "tanh": ("tanh' = 1 - A^2 is at most 1; without it the error is too large, most "
                    "where the unit saturates",)}[act.base]
    s = Slip(f"A dropped activation mask (layer {k}, {act.name})", wrong, right,
             ("Both sides are ", _dims(m, n[k]), ": the shapes cannot show this one."),
             ("The activation sits between ", Z(k), " and ", A(k), ", so the chain rule "
              "multiplies by its derivative (derivations.md §2 eq. 2.5): ") + why + (".",))

    def compute(step):
        return _grads_below(step, k + 1, step.arrays[f"dA{k}"])
    s.compute = compute
    return s


def double_mean(net: Net) -> Slip:
    L, n, m = net.L, net.sizes, net.m
    l2w = M(f" + 2\\lambda {W(L).tex}", f" + 2λ {W(L).txt}") if net.l2 else M("", "")
    wrong = d(W(L)) + " = " + frac_m() + T(A(L - 1)) + delta(L) + l2w
    right = d(W(L)) + " = " + T(A(L - 1)) + delta(L) + l2w
    s = Slip("The batch mean's 1/m taken twice", wrong, right,
             ("The shapes agree: ", _dims(n[L - 1], n[L]), "."),
             (delta(L), " already holds the 1/m of the batch mean (B1), and every later "
              "equation is linear in it (derivations.md §2, \"why 1/m appears once\"). "
              f"Dividing again makes the data part of the gradient m = {m} times too small."))
    if m == 1:
        s.applies, s.reason = False, "with a batch of one, 1/m is 1: the slip shows once m > 1"
        return s

    def compute(step):
        dl, A_prev = step.arrays[f"d{L}"], step.cache[L - 1][0]
        return {f"W{L}": A_prev.T @ dl / step.X.shape[0] + 2 * step.lam * step.weights[L - 1]}
    s.compute = compute
    return s


def half_penalty(net: Net) -> Slip | None:
    L, n = net.L, net.sizes
    if not net.l2:
        return None
    wrong = d(W(L)) + " = " + T(A(L - 1)) + delta(L) + M(f" + \\lambda {W(L).tex}", f" + λ {W(L).txt}")
    right = d(W(L)) + " = " + T(A(L - 1)) + delta(L) + M(f" + 2\\lambda {W(L).tex}", f" + 2λ {W(L).txt}")
    s = Slip("The penalty's gradient written as lambda W", wrong, right,
             ("The shapes agree: ", _dims(n[L - 1], n[L]), "."),
             ("The derivative of ", M("\\lambda W_{kj}^2", "λ W²ₖⱼ"), " is ",
              M("2\\lambda W_{kj}", "2λ Wₖⱼ"), " (derivations.md §5 eq. 5.2). PyTorch's "
              "weight_decay adds wd W, the gradient of (wd/2) times the square: the two "
              "conventions differ by the factor 2 (§5 eq. 5.3)."))

    def compute(step):
        dl, A_prev = step.arrays[f"d{L}"], step.cache[L - 1][0]
        return {f"W{L}": A_prev.T @ dl + step.lam * step.weights[L - 1]}
    s.compute = compute
    return s


def all_slips(net: Net) -> list[Slip]:
    out = [softmax_jacobian(net), forgotten_clip(net), transpose(net), wrong_weights(net),
           dropped_mask(net), double_mean(net), half_penalty(net)]
    return [s for s in out if s is not None]


def _grads_below(step, l: int, wrong_delta: Array) -> dict[str, Array]:
    """Gradients of layers 1 … l−1 when δ_{l−1} is ``wrong_delta``: the rest of the backward
    pass is the reference's own (``core.backprop.backward`` on those layers)."""
    k = l - 1
    dWs, dbs = backprop.backward(wrong_delta, step.weights[:k], step.activations, step.cache[:k],
                                 step.lam)
    out = {}
    for i in range(k):
        out[f"W{i + 1}"], out[f"b{i + 1}"] = dWs[i], dbs[i]
    return out


def _txt(shape_) -> str:
    return "(" + "×".join(map(str, shape_)) + ")"


def measure(slip: Slip, step) -> None:
    """Fill ``slip.outcome``: for each gradient the slip changes, how many entries fail the
    gradient checker's rule against the central differences, and the worst relative error."""
    if not slip.applies or slip.compute is None:
        return
    try:
        wrong = slip.compute(step)
    except ValueError as exc:
        slip.differs = True
        slip.outcome = ("numpy refuses it: ", str(exc).splitlines()[0] + ".")
        return
    parts, differs, against = [], False, "the central differences"
    for name, g in wrong.items():
        ref = step.numeric.get(name)
        if ref is None:  # too big to difference in full: the checked analytic gradient
            ref, against = step.grads[name], "the checked gradients"
        err = np.abs(g - ref)
        scale = np.maximum(np.abs(g), np.abs(ref))
        rel = np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)
        failed = int(np.count_nonzero(err > ATOL + RTOL * np.abs(ref)))
        differs |= failed > 0
        parts.append(f"{name} in {failed} of {g.size} entries (max relative error {rel.max():.2g})")
    slip.differs = differs
    slip.outcome = (f"the slipped gradients disagree with {against} (the gradient checker's "
                    "rule) for " + "; ".join(parts) + "."
                    + ("" if differs else " On this batch the slip happens to give the right "
                       "numbers."),)
