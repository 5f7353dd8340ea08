"""Backprop diagnostics kept per epoch, and the callback dispatch shared by the training loops.

Per layer l, from the epoch's last step: the gradient norm ‖∂L/∂W_l‖_F and the update-to-weight
ratio ‖ΔW_l‖_F / ‖W_l‖_F (≈1e-3 is the usual healthy order of magnitude); and per hidden layer
of the ReLU family, the fraction of *dead* units: units whose pre-activation was ≤ 0 on every
training row of the epoch, so that no gradient reached their incoming weights.

Dead units are found from what the forward pass already stores: the workspace holds
f'(Z_l) of every step (1 where a ReLU unit is active, 0 or α where not), so a running
elementwise maximum over the batches' rows (:class:`DeadUnits`) costs one reduction per layer
and step — no extra forward pass over a probe set.
"""

from __future__ import annotations

import math

import numpy as np


class DeadUnits:
    """Which ReLU-family units were active on at least one training row of the epoch."""

    def __init__(self, net):
        # f'(z) of an active unit is 1; of an inactive one 0 (ReLU) or α (leaky ReLU)
        self.layers = [(l, act.params.get("alpha", 0.0))
                       for l, act in enumerate(net.activations)
                       if act.base in ("relu", "leaky_relu") and act.derivative is not None]
        self.active = {l: np.zeros(n, dtype=bool) for l, n in enumerate(net.sizes[1:-1])}
        self.n_hidden = len(net.activations)
        self.reset()

    def reset(self) -> None:
        for a in self.active.values():
            a[...] = False
        self.seen = False
        self.pending = list(self.layers)  # layers with a unit not seen active yet this epoch
        self.steps = 0

    def update(self, ws, m: int) -> None:
        """Fold in the step just computed in workspace ``ws`` (its first ``m`` rows).

        A unit is active on some row iff its column of f'(Z) sums to more than m·α (every row
        inactive) — the column sums are one matrix-vector product with the workspace's ones.
        A layer whose units have all been active is done for the epoch (looked at every 8th step,
        from the first): the rest of the epoch costs nothing (~30 µs a step for 784-256-128-10
        before).
        """
        for l, alpha in self.pending:
            D = ws.D[l]
            if D is not None:
                sums = ws.ones[:m] @ D[:m]
                np.logical_or(self.active[l], sums > m * alpha + (1 - alpha) / 2, out=self.active[l])
        self.steps += 1
        if self.steps % 8 == 1:  # not every step: a layer that keeps a dead unit stays pending
            self.pending = [(l, alpha) for l, alpha in self.pending if not self.active[l].all()]
        self.seen = True

    def fractions(self) -> list[float | None]:
        """Per hidden layer: the dead fraction, or None (not ReLU-family, or no step seen)."""
        tracked = dict(self.layers)
        return [float(1 - self.active[l].mean()) if l in tracked and self.seen else None
                for l in range(self.n_hidden)]


def frobenius(a: np.ndarray) -> float:
    """‖a‖_F = √(Σ a²): what ``np.linalg.norm`` gives, as one dot product (its argument
    handling costs more than the product for the layers of a small network)."""
    v = a.reshape(-1)
    return math.sqrt(float(np.dot(v, v)))


def epoch_diagnostics(net, before: np.ndarray | None, grad_norms, dead: DeadUnits) -> dict | None:
    """The diagnostics record of an epoch whose last step started from ``before`` (flat
    parameters) with weight-gradient norms ``grad_norms``."""
    if before is None:
        return None
    ratios = []
    for W, (lo, hi) in zip(net.weights, net.layout.weight_ranges):
        old = before[lo:hi]
        denom = frobenius(old)
        ratios.append(frobenius(W.reshape(-1) - old) / denom if denom else math.inf)
    return {"grad_norm": [float(g) for g in grad_norms], "update_ratio": ratios,
            "dead_fraction": dead.fractions() if dead is not None else [None] * len(net.activations)}


def notify(callbacks, method: str, *args) -> bool:
    """Call ``method`` on every callback (a plain callable counts as ``on_epoch_end``); True
    when one asks to stop (by returning True or setting ``stop``)."""
    stop = False
    for cb in callbacks:
        fn = getattr(cb, method, None)
        if fn is None and method == "on_epoch_end" and callable(cb):
            fn = cb
        if fn is not None:
            stop |= bool(fn(*args))
            stop |= bool(getattr(cb, "stop", False))
    return stop
