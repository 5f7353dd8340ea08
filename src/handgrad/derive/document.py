"""The derivation document of one network, as a list of blocks (see :mod:`.render`)."""

from __future__ import annotations

import numpy as np

from ..core.regularization import l2_to_sklearn_alpha, l2_to_torch_weight_decay
from .equations import Net, backward_rows, forward_rows, network_line
from .notation import M, W, b, number, shape
from .render import Array, Bullets, Commands, Display, Heading, Para, Table


def _n_params(sizes) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _penalty(net: Net) -> tuple:
    if not net.l2:
        return ("No L2 penalty (λ = 0). With one, the loss gains ",
                M("\\lambda\\sum_l\\lVert W_l\\rVert_F^2", "λ Σₗ ‖Wₗ‖²_F"),
                " and every weight gradient gains ", M("2\\lambda W_l", "2λ Wₗ"),
                " (derivations.md §5).")
    lam = number(net.l2)
    return ("L2 penalty ", M(f"\\lambda = {lam}", f"λ = {lam}"), ", in handgrad's convention "
            "(derivations.md §5 eq. 5.1, handgrad.core.regularization): ",
            M("\\lambda\\sum_l\\lVert W_l\\rVert_F^2", "λ Σₗ ‖Wₗ‖²_F"),
            " on the weights only, added to the batch mean and not averaged itself; its "
            "gradient is ", M("2\\lambda W_l", "2λ Wₗ"), ". The same penalty is scikit-learn's "
            f"alpha = 2·m·λ = {number(l2_to_sklearn_alpha(net.l2, net.m))} at this batch size "
            f"and PyTorch's weight_decay = 2λ = {number(l2_to_torch_weight_decay(net.l2))} "
            "(on the weights only).")


def _loss_display(net: Net) -> M:
    ell = {"softmax": M("\\operatorname{CE}(Y_i, P_i)", "CE(Yᵢ, Pᵢ)")}.get(net.output, M("\\ell_i", "ℓᵢ"))
    out = M("\\mathcal{L} = \\frac{1}{m}\\sum_{i=1}^{m}", "L = (1/m) Σᵢ ") + ell
    if net.l2:
        norms = [M(f"\\lVert {W(l).tex}\\rVert_F^2", f"‖{W(l).txt}‖²") for l in range(1, net.L + 1)]
        terms = norms[0]
        for t in norms[1:]:
            terms = terms + " + " + t
        out = out + M(" + \\lambda(", " + λ(") + terms + ")"
    return out


def blocks(net: Net, *, title: str, source: tuple, slips: list, step=None, commands=None) -> list:
    """Every block of the document: network, forward pass, loss, backward pass, the worked
    step (when ``step`` is given), the common slips, what to run next."""
    fwd = forward_rows(net)
    head_at = next(i for i, r in enumerate(fwd) if r.key in ("logP", "P"))
    bwd = backward_rows(net)
    out = [Heading(1, (title,)),
           Para(("The network: ",) + network_line(net) + (
               f". L = {net.L} dense layer{'s' if net.L > 1 else ''}, "
               f"{_n_params(net.sizes):,} parameters; a batch of m = {net.m} sample"
               f"{'s' if net.m > 1 else ''}, one per row (derivations.md §1; §8 calls it n). ",)
               + source),
           Para(_penalty(net)),
           Para(("Every equation below is this network's instance of the general one in "
                 "docs/derivations.md (the section and equation are named beside it) and is "
                 "computed by the function of handgrad.core named with it. Shapes are "
                 "rows × columns; a bias is a vector, added to every row. ",
                 M("\\mathbb{1}[\\cdot]", "1[·]"), " is 1 where the condition holds, ",
                 M("\\odot", "⊙"), " is the product entry by entry.")),
           Heading(2, ("Forward pass",)),
           Para(("Layer by layer, as handgrad.core.backprop.forward runs it (derivations.md §1, "
                 "eq. 1.1-1.3), from ", M("A_0 = X", "A₀ = X"), ":")),
           Table(fwd[:head_at]),
           Heading(2, ("Output and loss",)),
           Para(("The loss is the batch mean of a per-sample loss, plus the penalty:",)),
           Display(_loss_display(net)),
           Table(fwd[head_at:]),
           Heading(2, ("Backward pass",)),
           Para(("From the loss back to the first layer, in the order "
                 "handgrad.core.backprop.backward runs (derivations.md §2, eq. 2.1-2.5). "
                 "Each gradient has the shape of what it differentiates. ∂L/∂X is not "
                 "needed and not computed.",)),
           Table(bwd)]
    if step is not None:
        out += _worked(net, fwd + bwd, step)
    out += _slips(net, slips, step)
    if commands:
        out += [Heading(2, ("Next",)), Para(("Check these gradients against finite differences, "
                                             "then train:",)), Commands(commands)]
    return out


def _worked(net: Net, rows, step) -> list:
    out = [Heading(2, ("One worked step",)),
           Para((f"A batch of m = {net.m} rows drawn from N(0, 1), random targets of the "
                 f"{net.output} head, every array computed by the reference core in float64 and "
                 "rounded to 4 decimals here. Each parameter gradient is followed by its central "
                 "differences (L(θ + h e_j) - L(θ - h e_j))/2h with h = 1e-5 and the gradient "
                 "checker's verdict, |analytic - numeric| ≤ 1e-8 + 1e-6·|numeric| "
                 "(derivations.md §7, handgrad.gradcheck).",)
                + ((f" The batch was drawn again {step.redraws} time(s) to keep every "
                    "pre-activation 1e-3 or more away from a kink (§7)"
                    + (" and every residual as far from ±δ, with one beyond it (§14)."
                       if net.output == "huber" else "."),) if step.redraws else ())),
           Array("", M("X", "X") + _dims(step.X), step.X)]
    if net.output == "softmax":
        out.append(Array("", M("y", "y") + " (labels; Y is their one-hot rows)", step.y))
    else:
        out.append(Array("", M("Y", "Y"), step.Y))
    for l in range(1, net.L + 1):
        out += [Array("", W(l) + _dims(step.weights[l - 1]), step.weights[l - 1]),
                Array("", b(l) + _dims(step.biases[l - 1]), step.biases[l - 1])]
    checks = {c.name: c for c in step.report.checks}
    for r in rows:
        if r.key == "loss":
            out.append(Para((f"{r.label}: ", M("\\mathcal{L}", "L"),
                             f" = {step.loss:.6f} (data {step.data_loss:.6f}, penalty "
                             f"{step.l2_loss:.6f})",)))
            continue
        out.append(Array(r.label, _lhs(r.eq) + _dims(step.arrays[r.key]), step.arrays[r.key]))
        if r.key.startswith(("dW", "db")):
            name = r.key[1:]
            c = checks[name]
            if step.numeric[name] is not None:
                out.append(Array("", M("\\text{central differences}", "central differences"),
                                 step.numeric[name]))
            verdict = "passes" if c.passed else "FAILS"
            out.append(Para((f"Check of {name}: {c.checked} of {c.total} entries, max relative "
                             f"error {c.max_rel_err:.1e}, max absolute error {c.max_abs_err:.1e}: "
                             f"{verdict}.",)))
    return out


def _dims(a) -> M:
    return " " + shape(*np.shape(a))


def _lhs(eq: M) -> M:
    """The left-hand side of an equation, the name of the array it computes."""
    return M(eq.tex.split(" = ", 1)[0], eq.txt.split(" = ", 1)[0])


def _slips(net: Net, slips: list, step) -> list:
    out = [Heading(2, ("Common slips",)),
           Para(("The mistakes that docs/derivations.md §9 corrects in the seed notes and §2 "
                 + ("(§14 for the Huber head) " if net.output == "huber" else "")
                 + "warns about, as each would appear in this network"
                 + (", with the gradient each gives on the worked step beside the central "
                    "differences." if step is not None else
                    " (with --numbers, each is also measured against finite differences)."),))]
    for s in slips:
        out.append(Heading(3, (s.title,)))
        if not s.applies:
            out.append(Para((f"Not possible in this network: {s.reason}.",)))
            if not s.wrong.tex:
                continue
        out += [Para(("Slip:",)), Display(s.wrong), Para(("Right:",)), Display(s.right),
                Para(s.shapes), Para(("Why: ",) + s.why)]
        if step is not None and s.applies:
            out.append(Para(("On the worked step: ",) + s.outcome))
    return out
