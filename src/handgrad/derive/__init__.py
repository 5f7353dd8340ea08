"""``handgrad derive``: the backpropagation of one network, written out equation by equation.

For the network a user describes — widths, hidden activations, output head, L2 strength, a
batch size — the document gives the forward pass layer by layer with the shape of every
term, the loss with its batch mean and penalty, the backward pass in the order the code runs
it (each equation with its shapes, the rule it uses, the section of docs/derivations.md it
instantiates and the function of :mod:`handgrad.core` that computes it), optionally one
worked step with every intermediate array and each gradient beside its finite-difference
check, and the common slips as they would appear in this network.

    >>> from handgrad.derive import derive
    >>> print(derive([3, 10, 6, 3], "relu", l2=0.01, format="markdown"))   # doctest: +SKIP

Formats: ``"text"`` (fits 80 columns), ``"markdown"`` (GitHub math), ``"latex"`` (a
standalone document).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..network import MLP
from ..validation import SEED_MAX, check_count
from .document import blocks
from .equations import Eq, Net, backward_rows, check_activation, forward_rows
from .numbers import Step, worked_step
from .render import RENDERERS
from .slips import Slip, all_slips, measure

FORMATS = tuple(RENDERERS)
MAX_BATCH = 256  # the worked step is for reading: a few rows show every term


@dataclass
class Derivation:
    """A derivation before rendering: the network, its equation rows, the worked step (None
    without numbers) and the slips (measured on the step when there is one)."""

    net: Net
    forward: list[Eq]
    backward: list[Eq]
    step: Step | None
    slips: list[Slip]
    blocks: list

    def render(self, format: str = "text") -> str:
        """The document as ``"text"``, ``"markdown"`` or ``"latex"``."""
        return RENDERERS[_check_format(format)](self.blocks)


def _check_format(format: str) -> str:
    if format not in RENDERERS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    return format


def derivation_of(net: MLP, *, batch: int = 4, seed: int = 0, numbers: bool = False,
                  title: str | None = None, source: tuple = ()) -> Derivation:
    """The derivation of an existing network ``net`` (its sizes, activations, head, λ and,
    for the worked step, its weights), for a batch of ``batch`` rows."""
    m = check_count(batch, "batch", minimum=1, maximum=MAX_BATCH)
    seed = check_count(seed, "seed", minimum=0, maximum=SEED_MAX - 1)
    acts = tuple(check_activation(a, l) for l, a in enumerate(net.activations, start=1))
    spec = Net(tuple(net.sizes), acts, net.output, float(net.l2), m, net.huber_delta)
    step = None
    if numbers:
        net64 = net.astype("float64")
        step = worked_step([W.copy() for W in net64.weights], [b.copy() for b in net64.biases],
                           list(acts), net.output, float(net.l2), m, seed, net.head_params)
    slips = all_slips(spec)
    if step is not None:
        for s in slips:
            measure(s, step)
    arch = " → ".join(map(str, net.sizes))
    head = f"huber, δ = {net.huber_delta:g}" if net.output == "huber" else net.output
    title = title or f"Backpropagation for {arch} ({_act_names(acts)}, {head})"
    doc = blocks(spec, title=title, source=source, slips=slips, step=step,
                 commands=_commands(spec, seed))
    return Derivation(spec, forward_rows(spec), backward_rows(spec), step, slips, doc)


def derivation(sizes, activation="relu", *, output: str = "softmax", l2: float = 0.0,
               batch: int = 4, seed: int = 0, numbers: bool = False,
               huber_delta: float = 1.0) -> Derivation:
    """The derivation of ``MLP(sizes, activation, l2=l2, output=output, seed=seed,
    huber_delta=huber_delta)``.

    ``sizes`` = [n_0, …, n_L] (input width, hidden widths, outputs), ``activation`` one name
    for every hidden layer or one per hidden layer (``"leaky_relu(alpha=0.2)"`` or
    ``"leaky_relu:0.2"``), ``output`` one of softmax, logistic, identity, exp, huber (with
    threshold ``huber_delta``, ignored by the other heads).
    """
    if isinstance(activation, (list, tuple)) and len(activation) == 1:
        activation = activation[0]
    net = MLP(sizes, activation=activation, l2=l2, dtype="float64",
              seed=check_count(seed, "seed", minimum=0, maximum=SEED_MAX - 1), output=output,
              huber_delta=huber_delta)
    source = (f"Parameters of the worked step: MLP(..., seed={seed})'s initialisation (He-normal "
              "before ReLU-family layers, Glorot-uniform otherwise, biases 0; derivations.md §10).",)
    return derivation_of(net, batch=batch, seed=seed, numbers=numbers, source=source)


def derive(sizes, activation="relu", *, output: str = "softmax", l2: float = 0.0, batch: int = 4,
           seed: int = 0, format: str = "text", numbers: bool = False,
           huber_delta: float = 1.0) -> str:
    """The derivation document (a str) of the network ``sizes``/``activation``/``output``/``l2``
    (/``huber_delta``) with a batch of ``batch`` rows; ``numbers=True`` adds one worked step
    (seeded by ``seed``) with every array and each gradient's finite-difference check. See
    :func:`derivation`."""
    _check_format(format)
    return derivation(sizes, activation, output=output, l2=l2, batch=batch, seed=seed,
                      numbers=numbers, huber_delta=huber_delta).render(format)


def derive_network(net: MLP, *, batch: int = 4, seed: int = 0, format: str = "text",
                   numbers: bool = False, title: str | None = None, source: tuple = ()) -> str:
    """The derivation document of an existing network (e.g. a loaded model's ``net``); the
    worked step uses its own weights."""
    _check_format(format)
    return derivation_of(net, batch=batch, seed=seed, numbers=numbers, title=title,
                         source=source).render(format)


def _act_names(acts) -> str:
    names = [a.name for a in acts]
    if not names:
        return "no hidden layer"
    return names[0] if len(set(names)) == 1 else ", ".join(names)


def _cli_activation(act) -> str:
    return f"leaky_relu:{act.params['alpha']:g}" if act.base == "leaky_relu" else act.name


def _commands(net: Net, seed: int) -> list[str] | None:
    """The learner's next commands for this network: gradcheck it, then train it."""
    if net.output != "softmax":
        return None
    acts = " ".join(dict.fromkeys(_cli_activation(a) for a in net.activations)) \
        if len({a.name for a in net.activations}) <= 1 else \
        " ".join(_cli_activation(a) for a in net.activations)
    act_opt = f" --activation {acts}" if acts else ""
    l2 = f" --l2 {net.l2:g}" if net.l2 else " --l2 0"
    sizes = " ".join(map(str, net.sizes))
    hidden = " ".join(map(str, net.sizes[1:-1]))
    data = "--dataset three_class" if net.sizes[0] == 3 else "--data your.csv --target label"
    lines = [f"handgrad gradcheck --sizes {sizes}{act_opt}{l2} --seed {seed}"]
    if hidden:
        lines.append(f"handgrad train {data} --hidden {hidden}{act_opt}{l2}")
    return lines


__all__ = ["derive", "derive_network", "derivation", "derivation_of", "Derivation", "FORMATS",
           "Step", "Slip"]
