"""Preallocated arrays for training an MLP, reused at every step.

A training step needs, per layer, the pre-activations Z_l (m, n_l), the activation derivative
f'(Z_l) and the backward errors δ_l — a few MB at most, but allocating and freeing them at
every one of the ~500 steps of an epoch costs time (page faults, cache misses, allocator
calls). A :class:`Workspace` allocates them once for batches of up to ``capacity`` rows; the
network writes into views of them (``[:m]`` for a smaller last batch). The arithmetic is the
same as without a workspace, so results are bit-identical (tests/test_workspace.py).

Layout per layer l = 1..L (row convention, see docs/derivations.md §2):

* ``Z[l]`` (capacity, n_l): Z_l, overwritten in place by A_l = f(Z_l) for hidden layers
  whose activation does not need Z_l in its backward pass;
* ``D[l]`` (capacity, n_l): f'(Z_l) for hidden layers (None for the identity, or for an
  activation without a ``derivative``);
* ``dZ[l]`` (capacity, n_l): ∂L/∂A_l, turned in place into δ_l = ∂L/∂A_l ⊙ f'(Z_l);
* ``logP`` (capacity, K): log-probabilities of the fused loss; ``ones`` (capacity,): for 1ᵀδ.
"""

from __future__ import annotations

import numpy as np


class Workspace:
    """Buffers for batches of up to ``capacity`` rows of ``net`` (same dtype as the net).

    ``training=False`` allocates only the forward buffers ``Z`` (prediction in chunks).
    """

    def __init__(self, net, capacity: int, training: bool = True):
        dt = net.dtype
        self.capacity = int(capacity)
        self.sizes = list(net.sizes)
        self.dtype = dt
        self.Z = [np.empty((capacity, n), dt) for n in net.sizes[1:]]
        if not training:
            return
        self.D = [np.empty((capacity, n), dt) if act.derivative is not None
                  and act.base != "identity" else None
                  for n, act in zip(net.sizes[1:-1], net.activations)]
        self.dZ = [np.empty((capacity, n), dt) for n in net.sizes[1:]]
        self.logP = np.empty((capacity, net.sizes[-1]), dt)
        self.ones = np.ones(capacity, dt)

    def fits(self, net, m: int) -> bool:
        """Whether this workspace can serve ``net`` for a batch of ``m`` rows."""
        return m <= self.capacity and self.sizes == list(net.sizes) and self.dtype == net.dtype
