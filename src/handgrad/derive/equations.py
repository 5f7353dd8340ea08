"""The equations of one network, instantiated: forward (F1, F2, …) and backward (B1, B2, …).

:func:`forward_rows` and :func:`backward_rows` return :class:`Eq` rows in the order the code
evaluates them (``core.backprop.forward``, the head's fused loss, ``core.backprop.backward``),
numbered as docs/derivations.md §8 numbers them for seed 004's network. Each row carries its
equation and shapes for this network's sizes, the rule it uses, the equations of
derivations.md it instantiates and the reference function that computes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.activations import Activation
from ..errors import InputError
from .notation import A, M, Code, T, W, Z, b, d, delta, frac_m, number, shape, shapes

CORE = "handgrad.core."
BUILT_IN = ("relu", "leaky_relu", "sigmoid", "tanh", "identity")


@dataclass(frozen=True)
class Eq:
    """One step: label (``F1``, ``B2``), equation, shapes, rule (prose and math), the places
    in derivations.md (``§2 eq. 2.2``) and the functions of handgrad.core that compute it.
    ``key`` names the array it produces in the worked step (``Z1``, ``dW3``, …)."""

    label: str
    eq: M
    shape: M
    rule: tuple
    refs: str
    funcs: tuple[str, ...]
    key: str = ""
    notes: tuple = field(default=())


@dataclass(frozen=True)
class Net:
    """What a derivation needs of a network: widths ``[n_0, …, n_L]``, the hidden activations
    (one per hidden layer), the head, λ, the batch size m and the Huber head's threshold δ
    (None for the other heads)."""

    sizes: tuple[int, ...]
    activations: tuple[Activation, ...]
    output: str
    l2: float
    m: int
    delta: float | None = None

    @property
    def L(self) -> int:
        return len(self.sizes) - 1


def check_activation(act: Activation, layer: int) -> Activation:
    if act.base not in BUILT_IN:
        raise InputError(
            f"layer {layer} uses the custom activation {act.name!r}; derive writes out the "
            f"derivatives of the built-in ones only ({', '.join(BUILT_IN)}): use one of those")
    return act


# ---- the activations: forward f, and the backward step written from the output ----------

def _alpha(act: Activation) -> str:
    return number(act.params.get("alpha", 0.01))


def act_forward(act: Activation, l: int) -> M:
    """``A_l = f(Z_l)`` for a built-in activation."""
    z = Z(l)
    body = {
        "relu": M(f"\\operatorname{{ReLU}}({z.tex})", f"ReLU({z.txt})"),
        "leaky_relu": M(f"\\max({_alpha(act)} {z.tex}, {z.tex})", f"max({_alpha(act)} {z.txt}, {z.txt})"),
        "sigmoid": M(f"\\sigma({z.tex})", f"σ({z.txt})"),
        "tanh": M(f"\\tanh({z.tex})", f"tanh({z.txt})"),
        "identity": z,
    }[act.base]
    return A(l) + " = " + body


def act_factor(act: Activation, l: int) -> M | None:
    """``f'(Z_l)`` written as the code evaluates it, from the output ``A_l`` (§4); None for
    the identity (f' = 1)."""
    a = A(l)
    return {
        "relu": M(f"\\mathbb{{1}}[{a.tex} > 0]", f"1[{a.txt} > 0]"),
        "leaky_relu": M(f"(\\mathbb{{1}}[{a.tex} > 0] + {_alpha(act)}\\cdot\\mathbb{{1}}[{a.tex} \\le 0])",
                        f"(1[{a.txt} > 0] + {_alpha(act)}·1[{a.txt} ≤ 0])"),
        "sigmoid": M(f"{a.tex}\\odot(1 - {a.tex})", f"{a.txt} ⊙ (1 − {a.txt})"),
        "tanh": M(f"(1 - {a.tex}\\odot {a.tex})", f"(1 − {a.txt} ⊙ {a.txt})"),
        "identity": None,
    }[act.base]


ACT_INFO = {  # section, equation, forward function, backward function, the rule of f'
    "relu": ("§4.1", "4.1", "activations.relu_forward", "activations.relu_backward",
             "ReLU'(z) = 1[z > 0] (0 at the kink), read off the output: A > 0 exactly when Z > 0"),
    "leaky_relu": ("§4.2", "4.2", "activations.make_leaky_relu", "activations.make_leaky_relu",
                   "f'(z) = 1 for z > 0, else alpha; sign(A) = sign(Z), so it is read off the output"),
    "sigmoid": ("§4.3", "4.3", "activations.sigmoid_forward", "activations.sigmoid_backward",
                "sigma' = sigma(1 - sigma) = A(1 - A), written from the output"),
    "tanh": ("§4.4", "4.4", "activations.tanh_forward", "activations.tanh_backward",
             "tanh' = 1 - tanh^2 = 1 - A^2, written from the output"),
    "identity": ("§4.5", "4.5", "activations.identity_forward", "activations.identity_backward",
                 "f'(z) = 1, so the error passes through unchanged"),
}


# ---- the heads: the output and loss rows, and delta_L -----------------------------------

def _l2_term(net: Net) -> M:
    if net.l2 == 0:
        return M("", "")
    return M(f" + \\lambda\\sum_{{l=1}}^{{{net.L}}}\\lVert W_l\\rVert_F^2", f" + λ Σₗ ‖Wₗ‖²_F")


def head_rows(net: Net, first: int) -> list[Eq]:
    """The output (``log P``, ``P`` or ``μ``) and the loss with the batch mean and L2 term."""
    L, K, m = net.L, net.sizes[-1], net.m
    z = Z(L)
    l2_funcs = (CORE + "losses.l2_penalty",) if net.l2 else ()
    l2_refs = ", §5 eq. 5.1" if net.l2 else ""
    zik = M(f"Z_{{{L},ik}}", f"Z{L}ᵢₖ".translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")))
    if net.output == "softmax":
        out = Eq(f"F{first}", M(f"\\log P = {z.tex} - \\operatorname{{lse}}({z.tex})",
                                f"log P = {z.txt} − lse({z.txt})"),
                 shape(m, K), ("row-wise log-softmax, with the row maximum subtracted first "
                               "(log-sum-exp): no overflow, no log 0",),
                 "§3 eq. 3.1-3.2", (CORE + "losses.log_softmax",), key="logP")
        loss = M("\\mathcal{L} = -\\frac{1}{m}\\sum_{i,k}Y_{ik}\\log P_{ik}", "L = −(1/m) Σᵢₖ Yᵢₖ log Pᵢₖ")
        loss_refs, loss_fn = "§1 eq. 1.5-1.6, §3 eq. 3.3", "losses.softmax_cross_entropy"
        loss_rule = ("cross-entropy of each row, averaged over the m rows of the batch",)
    elif net.output == "logistic":
        out = Eq(f"F{first}", M(f"P = \\sigma({z.tex})", f"P = σ({z.txt})"), shape(m, K),
                 ("elementwise: each output is its own yes/no probability",),
                 "§12 eq. 12.1", (CORE + "activations.sigmoid_forward",), key="P")
        loss = (M("\\mathcal{L} = \\frac{1}{m}\\sum_{i,k}\\big[\\operatorname{softplus}(", "L = (1/m) Σᵢₖ [softplus(")
                + zik + ") - " + M("Y_{ik}", "Yᵢₖ") + zik + M("\\big]", "]"))
        loss_refs, loss_fn = "§12 eq. 12.1-12.2", "heads.sigmoid_binary_cross_entropy"
        loss_rule = ("binary cross-entropy summed over the outputs, averaged over the m rows; "
                     "softplus form, no log of 0",)
    elif net.output == "identity":
        out = Eq(f"F{first}", M(f"P = {z.tex}", f"P = {z.txt}"), shape(m, K),
                 ("the output is the prediction itself (regression)",), "§12 eq. 12.4", (), key="P")
        loss = (M("\\mathcal{L} = \\frac{1}{2m}\\sum_{i,k}(", "L = (1/2m) Σᵢₖ (") + zik
                + M(" - Y_{ik})^2", " − Yᵢₖ)²"))
        loss_refs, loss_fn = "§12 eq. 12.4", "heads.squared_error"
        loss_rule = ("half the squared error, summed over the outputs, averaged over the m rows",)
    elif net.output == "huber":
        out = Eq(f"F{first}", M(f"P = {z.tex}", f"P = {z.txt}"), shape(m, K),
                 ("the output is the prediction itself (regression), as for the identity head",),
                 "§14 eq. 14.1", (), key="P")
        loss = (M("\\mathcal{L} = \\frac{1}{m}\\sum_{i,k}h_\\delta(", "L = (1/m) Σᵢₖ h_δ(") + zik
                + M(" - Y_{ik})", " − Yᵢₖ)"))
        loss_refs, loss_fn = "§14 eq. 14.1-14.2", "heads.huber_loss"
        dv = number(net.delta)
        loss_rule = ("the Huber loss with threshold ", M(f"\\delta = {dv}", f"δ = {dv}"), ", ",
                     M("h_\\delta(r) = \\frac{1}{2}r^2", "h_δ(r) = ½r²"), " for ",
                     M("\\lvert r\\rvert \\le \\delta", "|r| ≤ δ"), " and ",
                     M("\\delta(\\lvert r\\rvert - \\frac{1}{2}\\delta)", "δ(|r| − ½δ)"),
                     " beyond: squared near the target, linear far from it; summed over the "
                     "outputs, averaged over the m rows")
    else:  # exp
        out = Eq(f"F{first}", M(f"\\mu = e^{{{z.tex}}}", f"μ = exp({z.txt})"), shape(m, K),
                 ("the log link's inverse: the predicted mean is positive",), "§13 eq. 13.1",
                 (CORE + "heads.regression_mean",), key="P")
        loss = (M("\\mathcal{L} = \\frac{1}{m}\\sum_{i,k}\\big[e^{", "L = (1/m) Σᵢₖ [exp(") + zik
                + M("} - Y_{ik}", ") − Yᵢₖ") + zik + M(" + Y_{ik}\\log Y_{ik} - Y_{ik}\\big]",
                                                    " + Yᵢₖ log Yᵢₖ − Yᵢₖ]"))
        loss_refs, loss_fn = "§13 eq. 13.2", "heads.exp_poisson_deviance"
        loss_rule = ("half the Poisson deviance, summed over the outputs, averaged over the m rows",)
    rule = loss_rule + (("; the penalty is on the weights only and is not averaged over the "
                         "batch",) if net.l2 else ())
    loss_row = Eq(f"F{first + 1}", loss + _l2_term(net), M("\\text{scalar}", "scalar"), rule,
                  loss_refs + l2_refs, (CORE + loss_fn,) + l2_funcs, key="loss")
    return [out, loss_row]


def delta_L_row(net: Net) -> Eq:
    """B1: ``δ_L = (P − Y)/m``, the head's fused gradient (eq. 2.1); for the Huber head the
    residual clipped to ±δ, over m."""
    L, K, m = net.L, net.sizes[-1], net.m
    dl, z = delta(L), Z(L)
    if net.output == "huber":
        return Eq("B1", dl + " = " + frac_m() + huber_clip(z), shape(m, K),
                  (M("h_\\delta'", "h_δ'"), " is the residual clipped to ",
                   M("[-\\delta, \\delta]", "[−δ, δ]"), " (", M(f"\\delta = {number(net.delta)}",
                                                            f"δ = {number(net.delta)}"),
                   ", the Huber threshold; ", dl, " with its index is the error of layer ", str(L),
                   "): the residual itself inside, ", M("\\pm\\delta", "±δ"), " outside, so an "
                   "outlier pulls no harder than a residual of ", M("\\delta", "δ"),
                   "; the 1/m enters here, once"),
                  "§2 eq. 2.1, §14 eq. 14.3", (CORE + "heads.huber_loss",), key=f"d{L}")
    p = {"softmax": M("P", "P"), "logistic": M("P", "P"), "identity": M("P", "P"),
         "exp": M("\\mu", "μ")}[net.output]
    eq = dl + " = " + frac_m() + "(" + p + M(" - Y)", " − Y)")
    rule, refs, fn = {
        "softmax": (("softmax and cross-entropy fused: the softmax Jacobian ",
                     M("\\operatorname{diag}(p) - pp^{\\top}", "diag(p) − ppᵀ"), " times ",
                     M("-y/p", "−y/p"), " reduces to ", M("p - y", "p − y"),
                     " (each row of Y sums to 1); the 1/m of the batch mean enters here, once"),
                    "§2 eq. 2.1, §3 eq. 3.4-3.6", "losses.softmax_cross_entropy"),
        "logistic": (("softplus' = sigma, so the gradient is sigma(Z) - Y with no division by "
                      "P or 1 - P; the 1/m enters here, once",),
                     "§2 eq. 2.1, §12 eq. 12.3", "heads.sigmoid_binary_cross_entropy"),
        "identity": (("the derivative of half the square; the 1/m enters here, once",),
                     "§2 eq. 2.1, §12 eq. 12.5", "heads.squared_error"),
        "exp": (("d/dz of e^z - y z is mu - y: the log link cancels the 1/mu; the 1/m "
                 "enters here, once",), "§2 eq. 2.1, §13 eq. 13.3", "heads.exp_poisson_deviance"),
    }[net.output]
    return Eq("B1", eq, shape(m, K), rule, refs, (CORE + fn,), key=f"d{L}")


def huber_clip(z: M) -> M:
    """``clip(Z − Y, −δ, δ)``: the derivative of the Huber loss (§14 eq. 14.3)."""
    return M(f"\\operatorname{{clip}}({z.tex} - Y, -\\delta, \\delta)", f"clip({z.txt} − Y, −δ, δ)")


# ---- the rows -------------------------------------------------------------------------

def forward_rows(net: Net) -> list[Eq]:
    """F1 … : Z_l and A_l for every layer, then the output and the loss."""
    rows, n, m = [], net.sizes, net.m
    for l in range(1, net.L + 1):
        eq = Z(l) + " = " + A(l - 1) + W(l) + M(f" + \\mathbf{{1}}{T(b(l)).tex}", f" + {b(l).txt}")
        rows.append(Eq(f"F{len(rows) + 1}", eq,
                       shapes(shape(m, n[l - 1]), shape(n[l - 1], n[l]), " + ", shape(n[l]),
                              result=shape(m, n[l])),
                       ("affine map, one matrix product for the whole batch; the bias row is "
                        "added to every sample (numpy broadcasting)",),
                       "§1 eq. 1.2", (CORE + "dense.dense_forward",), key=f"Z{l}"))
        if l < net.L:
            act = net.activations[l - 1]
            sec, eqn, fwd, _, _ = ACT_INFO[act.base]
            rows.append(Eq(f"F{len(rows) + 1}", act_forward(act, l), shape(m, n[l]),
                           ("elementwise",), f"§1 eq. 1.3, {sec} eq. {eqn}", (CORE + fwd,),
                           key=f"A{l}"))
    return rows + head_rows(net, len(rows) + 1)


def backward_rows(net: Net) -> list[Eq]:
    """B1 … : δ_L, then per layer l = L … 1 the gradients of W_l and b_l, ∂L/∂A_{l-1} and
    δ_{l-1} (the last two for l ≥ 2 only: ∂L/∂X is not needed)."""
    rows, n, m = [delta_L_row(net)], net.sizes, net.m
    for l in range(net.L, 0, -1):
        label = lambda: f"B{len(rows) + 1}"
        dW = d(W(l)) + " = " + T(A(l - 1)) + delta(l)
        dW_shape = [shape(n[l - 1], m), shape(m, n[l])]
        refs, funcs = "§2 eq. 2.2", (CORE + "dense.dense_backward",)
        rule = ["chain rule through ", Z(l) + " = " + A(l - 1) + W(l) + M(" + \\dots", " + …"),
                ": each weight is used by every sample, so its gradient sums over the rows"]
        if net.l2:
            dW = dW + M(f" + 2\\lambda {W(l).tex}", f" + 2λ {W(l).txt}")
            dW_shape += [" + ", shape(n[l - 1], n[l])]
            refs += ", §5 eq. 5.2"
            funcs += (CORE + "losses.l2_penalty_grad",)
            rule += ["; plus the penalty's gradient ", M("2\\lambda W", "2λW"), " (no 1/m)"]
        rows.append(Eq(label(), dW, shapes(*dW_shape, result=shape(n[l - 1], n[l])),
                       tuple(rule), refs, funcs, key=f"dW{l}"))
        rows.append(Eq(label(), d(b(l)) + " = " + M("\\mathbf{1}^{\\top}", "1ᵀ") + delta(l),
                       shapes(shape(1, m), shape(m, n[l]), result=shape(n[l])),
                       ("column sums of ", delta(l), ": the bias touches every sample"),
                       "§2 eq. 2.3", (CORE + "dense.dense_backward",), key=f"db{l}"))
        if l == 1:
            break
        rows.append(Eq(label(), d(A(l - 1)) + " = " + delta(l) + T(W(l)),
                       shapes(shape(m, n[l]), shape(n[l], n[l - 1]), result=shape(m, n[l - 1])),
                       ("chain rule: each unit of ", A(l - 1), " feeds every unit of layer "
                        f"{l} through ", W(l), ", so its gradient sums over those units"),
                       "§2 eq. 2.4", (CORE + "dense.dense_backward",), key=f"dA{l - 1}"))
        act = net.activations[l - 2]
        sec, eqn, _, bwd, why = ACT_INFO[act.base]
        factor = act_factor(act, l - 1)
        eq = delta(l - 1) + " = " + d(A(l - 1))
        shp = [shape(m, n[l - 1])]
        if factor is not None:
            eq = eq + M("\\odot ", " ⊙ ") + factor
            shp += [M(" \\odot ", " ⊙ "), shape(m, n[l - 1])]
        rows.append(Eq(label(), eq, shapes(*shp, result=shape(m, n[l - 1])),
                       ("elementwise activation, so its Jacobian is diagonal and the chain rule "
                        "is a product entry by entry, not a matrix product; " + why,),
                       f"§2 eq. 2.5, {sec} eq. {eqn}", (CORE + bwd,), key=f"d{l - 1}"))
    return rows


def network_line(net: Net) -> tuple:
    """``X (4×3) → dense 10 → relu → … → softmax``, as §8's first line, as prose segments."""
    parts = [M("X", "X"), f" ({net.m}×{net.sizes[0]})"]
    for l in range(1, net.L + 1):
        parts.append(f" → dense {net.sizes[l]}")
        if l < net.L:
            parts += [" → ", Code(net.activations[l - 1].name)]
    return tuple(parts) + (" → ", Code(net.output))


