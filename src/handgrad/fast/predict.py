"""Prediction in chunks: memory independent of the number of rows, NaN/inf refused by row.

:func:`logits_in_chunks` computes ``core.backprop.forward``'s logits one chunk at a time in one
reused forward-only :class:`~handgrad.fast.memory.Workspace`.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, cell_of, row_of, shown
from ..validation import check_finite, check_shape, first_non_finite
from .kernels import row_max
from .memory import Workspace
from .step import forward


def logits_in_chunks(net, X, batch_size: int = 4096, transform=None, column_names=None,
                     encoded: bool = False):
    """Yield ``(start, logits)`` for consecutive chunks of at most ``batch_size`` rows.

    For predicting on more rows than fit in memory twice over: X is validated for shape
    up front, then converted (to the net's dtype, after ``transform`` if given) and checked
    for NaN/inf one chunk at a time. Extra memory stays at a few chunks' worth, whatever the
    number of rows. ``logits`` is a view into the workspace: use it before the next chunk.
    A refusal names the row (counted from 1 over the whole of X), the column (by
    ``column_names`` when given) and the value (``encoded``: X is a table's encoding, whose
    numeric columns are standardised already).
    """
    for start, logits in members_logits_in_chunks([net], X, batch_size, transform, column_names, encoded):
        yield start, logits[0]


def members_logits_in_chunks(nets, X, batch_size: int = 4096, transform=None, column_names=None,
                             encoded: bool = False):
    """:func:`logits_in_chunks` of several networks of one input width and dtype (the members
    of an ensemble): yield ``(start, [logits of each net])``, each chunk converted once and
    every network's output checked as one network's is."""
    net = nets[0]
    n_in = net.sizes[0] if transform is None else None
    arr = check_shape(X, "X", n_in, owner="this network")
    batch_size = max(1, int(batch_size))
    spaces = [Workspace.for_prediction(n, min(batch_size, arr.shape[0])) for n in nets]
    for start in range(0, arr.shape[0], batch_size):
        raw = arr[start:start + batch_size]
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused below
            chunk = transform(raw) if transform is not None else raw
            chunk = np.ascontiguousarray(chunk, dtype=net.dtype)
        if chunk.shape[1] != net.sizes[0]:
            raise InputError(f"X has {chunk.shape[1]} features but this network takes {net.sizes[0]}")
        yield start, [_checked_logits(n, ws, raw, chunk, start, transform, column_names, encoded)
                      for n, ws in zip(nets, spaces)]


def _checked_logits(net, ws, raw, chunk, start: int, transform, column_names=None, encoded=False):
    """One network's logits of one converted chunk, NaN/inf in its input or output refused
    (rows counted from 1 over the whole of X, columns named by ``column_names`` when given)."""
    def check_z1(Z1):
        # NaN/±inf anywhere in a row of X makes that whole row of Z_1 = X W_1 + b_1
        # non-finite (NaN·w and ±inf·0 are NaN), so checking Z_1 (n_1 columns) clears X
        # (n_0 columns) more cheaply; on a hit, X itself is searched for the message.
        if first_non_finite(Z1) is None:
            return
        check_finite(raw, "X", start, column_names)  # a NaN/inf the user gave
        bad = first_non_finite(chunk)
        if bad is not None:  # finite as given, not after conversion/standardisation
            value = f"the standardised value {shown(raw[bad])}" if encoded else shown(raw[bad])
            raise InputError(
                f"X holds {value} in {cell_of(bad, start, column_names)}, too large for this "
                f"{net.dtype.name} network" + (" after its standardisation" if transform else "")
                + "; rescale that column")
        bad = first_non_finite(Z1)
        raise InputError(f"X {row_of(start + bad[0])} is too large for the network's weights: "
                         "its first layer overflows; rescale the inputs")

    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused here
        logits = forward(net, chunk, ws, check_z1=check_z1)[0]
        # log-probabilities need max − min of a row to be finite as well
        spread = row_max(logits)[:, 0] + row_max(-logits)[:, 0]
    bad = first_non_finite(logits)
    if bad is None and not np.all(np.isfinite(spread)):
        bad = (int(np.argmax(~np.isfinite(spread))), 0)
    if bad is not None:
        raise InputError(f"the network's output is NaN or inf for {row_of(start + bad[0])}: its "
                         "inputs are too large for the weights (overflow); rescale them")
    return logits


def forward_in_chunks(net, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """``core.backprop.forward``'s logits (m, n_L) of validated X, computed ``batch_size`` rows
    at a time without checks
    (the training loop's evaluation of its validation set; overflow shows as NaN/inf)."""
    out = np.empty((X.shape[0], net.n_outputs), dtype=net.dtype)
    ws = Workspace.for_prediction(net, min(batch_size, X.shape[0]))
    for s in range(0, X.shape[0], batch_size):
        chunk = X[s:s + batch_size]
        out[s:s + chunk.shape[0]] = forward(net, chunk, ws)[0]
    return out
