"""Where each parameter lives in the network's one flat buffer.

All parameters sit in one contiguous 1-D buffer in the order ``W_1 b_1 W_2 b_2 … W_L b_L``
(``W_l`` of shape (n_{l-1}, n_l) row-major, ``b_l`` of shape (n_l,)), and the gradients in a
second buffer laid out the same way, so an optimizer can update every parameter with a few
whole-buffer operations. :class:`Layout` is the one place that knows the offsets: the
network's views, the optimizers' weight-decay ranges, the diagnostics and the L-BFGS solver
all ask it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Array = np.ndarray


class Layout:
    """The parameter layout of a network with widths ``sizes = [n_0, n_1, …, n_L]``."""

    def __init__(self, sizes: Sequence[int]):
        self.sizes = [int(s) for s in sizes]
        self.weight_ranges: list[tuple[int, int]] = []
        self.bias_ranges: list[tuple[int, int]] = []
        off = 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            self.weight_ranges.append((off, off + n_in * n_out))
            off += n_in * n_out
            self.bias_ranges.append((off, off + n_out))
            off += n_out
        self.n_params = off

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def param_names(self) -> list[str]:
        """``["W1", "b1", "W2", "b2", …]``."""
        return [f"{k}{l}" for l in range(1, self.n_layers + 1) for k in ("W", "b")]

    def views(self, buffer: Array) -> tuple[list[Array], list[Array]]:
        """``([W_1, …, W_L], [b_1, …, b_L])`` as views into ``buffer`` (writing to them writes
        the buffer)."""
        weights = [buffer[lo:hi].reshape(n_in, n_out) for (lo, hi), n_in, n_out
                   in zip(self.weight_ranges, self.sizes[:-1], self.sizes[1:])]
        biases = [buffer[lo:hi] for lo, hi in self.bias_ranges]
        return weights, biases

    def weight_mask(self) -> Array:
        """Boolean mask over the buffer: True on weight entries, False on biases."""
        mask = np.zeros(self.n_params, dtype=bool)
        for lo, hi in self.weight_ranges:
            mask[lo:hi] = True
        return mask
