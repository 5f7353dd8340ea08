"""The loss and accuracy of a network on a held-out set, as the training loops report them."""

from __future__ import annotations

import numpy as np

from ..core.heads import n_correct
from ..fast.kernels import LOSSES
from ..fast.predict import forward_in_chunks

Array = np.ndarray


def evaluate(net, X: Array, y: Array, batch_size: int = 4096) -> tuple[float, float | None]:
    """(mean data loss without L2, accuracy — None for regression) of validated X, y."""
    logits = forward_in_chunks(net, X, batch_size)
    hits = n_correct(net.output, logits, y)
    return LOSSES[net.output](logits, y)[0], None if hits is None else hits / X.shape[0]
