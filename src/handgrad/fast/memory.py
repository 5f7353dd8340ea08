"""Preallocated arrays for training an MLP, reused at every step.

A training step needs, per layer, the pre-activations Z_l (m, n_l), the activation derivative
f'(Z_l) and the backward errors δ_l — a few MB at most, but allocating and freeing them at
every one of the ~500 steps of an epoch costs time (page faults, cache misses, allocator
calls). A :class:`Workspace` allocates them once for batches of up to ``capacity`` rows; the
network writes into views of them (``[:m]`` for a smaller last batch). The step computed in
them (:mod:`handgrad.fast.step`) equals the reference backprop, which allocates as it goes,
to 1e-12 in float64 (tests/fast/).

Layout per layer l = 1..L (row convention, see docs/derivations.md §2):

* ``Z[l]`` (capacity, n_l): Z_l, overwritten in place by A_l = f(Z_l) for hidden layers
  whose activation does not need Z_l in its backward pass;
* ``D[l]`` (capacity, n_l): f'(Z_l) for hidden layers (None for the identity, or for an
  activation without a ``derivative``); ``kernels[l]``: the in-place forms of f_l
  (:func:`handgrad.fast.kernels.kernel_for`);
* ``dZ[l]`` (capacity, n_l): ∂L/∂A_l, turned in place into δ_l = ∂L/∂A_l ⊙ f'(Z_l);
* ``T`` (capacity, K): the shifted logits ``Z_L − max_k Z_L`` of the fused loss (eq. 3.3');
  ``ones`` (capacity,): for 1ᵀδ as a matrix-vector product.
"""

from __future__ import annotations

import numpy as np

from .kernels import kernel_for

ALIGN = 64  # bytes: a cache line, and the width of an AVX-512 register


def aligned_empty(shape, dtype, align: int = ALIGN) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``align``-byte boundary.

    numpy's allocator only promises 16 bytes. Where a buffer starts relative to cache lines
    changes how fast the BLAS kernels read and write it: with 16-byte-aligned workspaces an
    epoch took 0.34 s or 0.43 s here depending on where the allocator happened to put them.
    """
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(n * dtype.itemsize + align, dtype=np.uint8)
    offset = (-raw.ctypes.data) % align
    return raw[offset:offset + n * dtype.itemsize].view(dtype).reshape(shape)


def aligned_zeros(shape, dtype, align: int = ALIGN) -> np.ndarray:
    out = aligned_empty(shape, dtype, align)
    out.fill(0)
    return out


class Workspace:
    """Buffers for batches of up to ``capacity`` rows of ``net`` (same dtype as the net).

    ``training=False`` allocates only the forward buffers ``Z`` (prediction in chunks).
    """

    def __init__(self, net, capacity: int, training: bool = True):
        dt = net.dtype
        self.capacity = int(capacity)
        self.sizes = list(net.sizes)
        self.dtype = dt
        self.kernels = [kernel_for(act) for act in net.activations]
        self.Z = [aligned_empty((capacity, n), dt) for n in net.sizes[1:]]
        if not training:
            return
        self.D = [aligned_empty((capacity, n), dt) if k.derivative_into is not None else None
                  for n, k in zip(net.sizes[1:-1], self.kernels)]
        self.dZ = [aligned_empty((capacity, n), dt) for n in net.sizes[1:]]
        self.T = aligned_empty((capacity, net.sizes[-1]), dt)
        self.ones = np.ones(capacity, dt)

    def fits(self, net, m: int) -> bool:
        """Whether this workspace can serve ``net`` for a batch of ``m`` rows."""
        return m <= self.capacity and self.sizes == list(net.sizes) and self.dtype == net.dtype

    @classmethod
    def for_prediction(cls, net, capacity: int) -> "Workspace":
        """Only the forward buffers ``Z`` (prediction and evaluation in chunks)."""
        return cls(net, capacity, training=False)
