"""K networks of one shape, side by side: parameters stacked on a leading model axis, one
training step for all of them with batched products (``matmul`` over the model axis), and
their optimizers' updates as whole-stack operations.

The equations are those of :mod:`handgrad.core.backprop` with an index k in front — each
model's slice computed as the model alone computes it, to rounding (derivations.md §1–§5):

    Z_l[k] = A_{l-1}[k] W_l[k] + b_l[k]             (K, m, n_{l-1})(K, n_{l-1}, n_l) → (K, m, n_l)
    A_l[k] = f(Z_l[k])                             elementwise, the core activation's own f
    ∂L/∂Z_L[k] = diag(w[k]) (P[k] − Y[k]) / m       softmax cross-entropy, eq. 3.6–3.7, or the
                                                   logistic, identity, exp or Huber head's δ_L
                                                   (eq. 12.3, 12.5, 13.3, 14.3)
    ∂L/∂W_l[k] = A_{l-1}[k]ᵀ δ_l[k] + 2λ_k W_l[k]   eq. 2.2 + 5.2
    ∂L/∂b_l[k] = 1ᵀ δ_l[k]                          eq. 2.3
    δ_{l-1}[k] = (δ_l[k] W_l[k]ᵀ) ⊙ f'(Z_{l-1}[k])  eq. 2.4–2.5, through the activation's backward

Why: on small tables a step of one small network costs tens of microseconds of Python and
numpy call overhead around microseconds of arithmetic; K networks in one step pay that
overhead once. tests/test_fit_many.py holds every model equal to training it alone.

Rows per model: a step takes m_k ≤ M rows for model k, padded to M with rows of weight 0,
and divides by its own m_k, so that the sums over M rows are model k's sums over its m_k. A
model with m_k = 0 (its epoch has fewer batches) computes zeros and is left out of the
optimizer's step.
"""

from __future__ import annotations

# size: the stacked step and the stacked optimizers share the (K, P) layout and are read
# together against fast.step and training.optim; the regression heads are fast.kernels' own.

import numpy as np

from .kernels import REGRESSION_ROWS, _row_starts, row_max, row_sum, sigmoid_from_exp
from .memory import Workspace, aligned_empty
from .step import forward

Array = np.ndarray
# row-wise dot products: numpy ≥ 2.0's vecdot, einsum before it (3× slower here)
_rowdot = getattr(np, "vecdot", None) or (lambda a, b: np.einsum("ki,ki->k", a, b))


class Stack:
    """The parameters of K networks of one shape (``nets``: sizes, activations, dtype and
    output head with its ``head_params`` alike) as a (K, P) buffer, with per-model views
    ``weights[l]`` (K, n_{l-1}, n_l) and ``biases[l]`` (K, 1, n_l) — the 1 broadcasts over a
    batch's rows — a
    gradient buffer laid out alike, the L2 strengths λ_k (K,), and buffers for batches of
    ``capacity`` rows per model (every step is padded to it)."""

    def __init__(self, nets, capacity: int):
        net = nets[0]
        self._build(net, np.stack([n.flat for n in nets]),
                    np.array([n.l2 for n in nets], dtype=net.dtype), capacity)

    def _build(self, net, flat: Array, lam: Array, capacity: int) -> None:
        self.net, self.capacity = net, capacity
        self.layout, self.activations, self.dtype = net.layout, net.activations, net.dtype
        self.n_layers = net.n_layers
        self.flat, self.grad, self.lam = flat, np.zeros_like(flat), lam
        self.weights, self.biases = self._views(self.flat)
        self.weight_grads, self.bias_grads = self._views(self.grad)
        K, sizes = flat.shape[0], self.layout.sizes
        # fast.step.forward slices its buffers [:m] with m = X.shape[0] = K: all of them
        self.ws = Workspace(net, capacity)
        self.ws.Z = [aligned_empty((K, capacity, n), self.dtype) for n in sizes[1:]]
        self.ws.D = [None if d is None else aligned_empty((K, capacity, n), self.dtype)
                     for d, n in zip(self.ws.D, sizes[1:-1])]
        self.dA = [aligned_empty((K, capacity, n), self.dtype) for n in sizes[1:-1]]
        self.scratch = [aligned_empty((K, a, b), self.dtype) for a, b in zip(sizes[:-1], sizes[1:])]
        self.lam2 = (2 * lam)[:, None, None]
        self.ones = np.ones(capacity, self.dtype)
        # the Huber head's residual (its kernel's ``work``); the other heads need no scratch
        self.work = (aligned_empty((K * capacity, sizes[-1]), self.dtype) if net.output == "huber"
                     else None)
        self._pred = None  # buffers for logits(), made at the first call

    def logits(self, X: Array, chunk: int = 1024) -> Array:
        """Every model's logits (K, n, n_L) of its rows ``X`` (K, n, n_0) (or (1, n, n_0):
        the same rows for all), ``chunk`` rows at a time (forward pass, eq. 1.1–1.3)."""
        K, n = self.k, X.shape[1]
        out = np.empty((K, n, self.layout.sizes[-1]), self.dtype)
        if self._pred is None or self._pred.Z[0].shape[1] < min(chunk, n):
            self._pred = Workspace.for_prediction(self.net, 1)
            self._pred.Z = [aligned_empty((K, min(chunk, n), w), self.dtype) for w in self.layout.sizes[1:]]
        for s in range(0, n, chunk):
            part = np.broadcast_to(X[:, s:s + chunk], (K,) + X[:, s:s + chunk].shape[1:])
            c = part.shape[1]
            ws = self._pred
            if c < ws.Z[0].shape[1]:  # a last, shorter chunk: views of the buffers
                ws = Workspace.for_prediction(self.net, 1)
                ws.Z = [Z[:, :c] for Z in self._pred.Z]
            out[:, s:s + c] = forward(self, part, ws)[0]
        return out

    @property
    def k(self) -> int:
        return self.flat.shape[0]

    def _views(self, buf: Array) -> tuple[list[Array], list[Array]]:
        # splitting the last axis of a row slice is a view: writes reach the buffer
        sizes, K = self.layout.sizes, buf.shape[0]
        weights = [buf[:, lo:hi].reshape(K, a, b) for (lo, hi), a, b
                   in zip(self.layout.weight_ranges, sizes[:-1], sizes[1:])]
        biases = [buf[:, None, lo:hi] for lo, hi in self.layout.bias_ranges]
        return weights, biases

    def select(self, keep: Array) -> "Stack":
        """The stack of the models ``keep`` (indices), in that order (copies). This stack gives
        up its buffers first (only its weights stay readable): the two are never held at once."""
        flat = self.flat[keep]
        self.grad = self.scratch = self.ws = self.dA = self.work = self._pred = None
        self.weights = self.biases = self.weight_grads = self.bias_grads = None
        new = Stack.__new__(Stack)
        new._build(self.net, flat, self.lam[keep], self.capacity)
        return new

    def l2_losses(self) -> Array:
        """λ_k Σ_l ‖W_l[k]‖²_F per model (K,), as core.losses.l2_penalty sums it (a dot
        product of each model's weights with themselves, in their dtype)."""
        total = np.zeros(self.k)
        for lo, hi in self.layout.weight_ranges:
            W = self.flat[:, lo:hi]
            total += _rowdot(W, W)
        return self.lam.astype(np.float64) * total

    def step(self, X: Array, y: Array, w: Array | None, rows: Array | None = None, masks=None
             ) -> tuple[Array, Array, Array | None]:
        """One forward and backward pass of every model on its batch: ``X`` (K, capacity,
        n_0), targets ``y`` — integer labels (K, capacity) for the softmax output, 0/1 values
        (K, capacity, n_L) for the logistic one, real values (K, capacity, n_L) for the
        regression heads — weights ``w`` (K, capacity) or None (all 1), ``rows`` (K,): how
        many of each model's rows are its batch — the rest is padding, which ``w`` must weight
        0 — or None (all ``capacity``); ``masks``: per hidden layer the models' dropout
        scales (K, capacity, n_l), or None (derivations.md §20; folded into the stored f′ as
        :func:`~handgrad.fast.step.forward` does). Fills ``grad``; returns the per-model data loss
        (1/m_k)Σ w_i ℓ_i and L2 loss, each (K,), and the rows predicted right (K,), or None
        for a regression head."""
        l2 = self.l2_losses()
        M = self.capacity
        Z, inputs, pre = forward(self, X, self.ws, keep=True, masks=masks)  # eq. 1.1–1.3, 20.2
        K, C = Z.shape[0], Z.shape[-1]
        # m: each model's own batch size, so that its arithmetic is what it is alone
        m = M if rows is None else np.repeat(np.maximum(rows, 1), M).astype(self.dtype)
        m_k = M if rows is None else np.maximum(rows, 1)
        Z2, w1 = Z.reshape(K * M, C), None if w is None else w.reshape(-1)
        if self.net.output in REGRESSION_ROWS:  # fast.kernels' own rows, δ_L written over Z2
            per_sample, dZ2 = REGRESSION_ROWS[self.net.output](
                Z2, y.reshape(Z2.shape), w1, m if rows is None else m[:, None], out=Z2,
                work=self.work, **self.net.head_params)
            hits = None
            if rows is not None:  # padding repeats a row e^Z may overflow on: inf·0 would be NaN
                pad = (np.arange(M)[None, :] >= rows[:, None]).reshape(-1)
                per_sample[pad], dZ2[pad] = 0, 0
        else:
            loss = _softmax_ce if self.net.output == "softmax" else _logistic_ce
            per_sample, dZ2, hit = loss(Z2, y, w1, m, **self.net.head_params)
            hit = hit.reshape(K, M)
            if rows is not None:
                hit &= np.arange(M)[None, :] < rows[:, None]
            hits = hit.sum(axis=1)
        data = per_sample.reshape(K, M).sum(axis=1, dtype=np.float64) / m_k
        dZ = dZ2.reshape(K, M, C)
        for l in range(self.n_layers - 1, -1, -1):
            W = self.weights[l]
            dA = np.matmul(dZ, W.transpose(0, 2, 1), out=self.dA[l - 1]) if l > 0 else None  # eq. 2.4
            gW = self.weight_grads[l]
            np.matmul(inputs[l].transpose(0, 2, 1), dZ, out=gW)           # eq. 2.2
            gW += np.multiply(W, self.lam2, out=self.scratch[l])          # eq. 5.2
            np.matmul(self.ones, dZ, out=self.bias_grads[l][:, 0])        # eq. 2.3: 1ᵀδ
            if l == 0:
                break
            if self.ws.D[l - 1] is not None:
                dZ = np.multiply(dA, self.ws.D[l - 1], out=dA)             # eq. 2.5
            else:
                dZ = self.activations[l - 1].backward(dA, pre[l - 1], inputs[l])
        return data, l2, hits


def _softmax_ce(Z2: Array, y: Array, w1: Array | None, m, smoothing: float = 0.0
                ) -> tuple[Array, Array, Array]:
    """Softmax cross-entropy of the K·M rows ``Z2`` (K·M, C) with labels ``y`` (K, M), as
    fast.kernels.softmax_cross_entropy computes it (eq. 3.3'; with label smoothing ε, eq.
    16.3): the weighted CE_i, ∂L/∂Z = w·(P − Ỹ)/m written over Z2, and whether each row's true
    class has the largest logit. ``m``: the batch size, or each row's model's (K·M,)."""
    C = Z2.shape[1]
    T = np.subtract(Z2, row_max(Z2), out=Z2)                           # T = Z − c ≤ 0
    at = _row_starts(Z2.shape[0], C) + y.reshape(-1)                   # flat (i, y_i)
    t_y = T.reshape(-1)[at]
    hit = t_y == 0                                                     # true class largest
    if smoothing:  # before T is overwritten: Σ_k Ỹ_ik T_ik (eq. 16.3)
        t_y = (1 - smoothing) * t_y + (smoothing / C) * T.sum(axis=1)
    dZ2 = np.exp(T, out=T)
    s = row_sum(dZ2)
    per_sample = np.log(s[:, 0]) - t_y                                 # CE_i
    m_col = m if np.ndim(m) == 0 else m[:, None]
    scale = 1 / m if w1 is None else w1 / m                            # w/m, per row
    dZ2 *= (1 / (m_col * s)) if w1 is None else w1[:, None] / (m_col * s)  # w·P/m
    if smoothing:
        dZ2 -= (smoothing / C) * (scale if np.ndim(scale) == 0 else scale[:, None])
        scale = (1 - smoothing) * scale
    dZ2.reshape(-1)[at] -= scale                                       # w·(P − Ỹ)/m
    if w1 is not None:
        per_sample = per_sample * w1
    return per_sample, dZ2, hit


def _logistic_ce(Z2: Array, Y: Array, w1: Array | None, m) -> tuple[Array, Array, Array]:
    """Binary cross-entropy of sigmoid outputs, as fast.kernels.sigmoid_binary_cross_entropy
    computes it (eq. 12.2–12.3): Σ_k softplus(Z) − Y·Z per row (weighted), ∂L/∂Z = w·(σ(Z) − Y)/m
    written over Z2, and whether every output of a row is on its target's side of ½."""
    Y2 = Y.reshape(Z2.shape)
    E = np.exp(-np.abs(Z2))
    per_sample = (np.maximum(Z2, 0) + np.log1p(E) - Y2 * Z2).sum(axis=1)
    hit = np.all((Z2 > 0) == (Y2 > 0.5), axis=1)
    dZ2 = sigmoid_from_exp(Z2, E, out=Z2)
    dZ2 -= Y2
    if w1 is not None:
        per_sample = per_sample * w1
        dZ2 *= w1[:, None]
    dZ2 /= m if np.ndim(m) == 0 else m[:, None]
    return per_sample, dZ2, hit


class StackedOptimizer:
    """The optimizers of K models (each a :mod:`handgrad.training.optim` object, whose
    hyperparameters and learning rate it takes) as whole-stack updates of a (K, P) buffer.
    Each model's update is its optimizer's formula with its own η_k and step count t_k;
    ``step(..., models)`` updates only the rows ``models``."""

    def __init__(self, optimizers, n_params: int, dtype, weight_ranges):
        first = optimizers[0]
        self.name = first.name
        self.config = first.config()
        if any(o.config() != self.config for o in optimizers):
            raise ValueError("models trained together share one optimizer kind and its settings "
                             "(the learning rate may differ)")
        K = len(optimizers)
        self.lr = np.array([o.lr for o in optimizers], dtype=np.float64)
        self.decay_ranges = list(weight_ranges) if getattr(first, "weight_decay", 0) else []
        self.t = np.zeros(K, dtype=np.int64)
        self.tmp = self.tmp2 = None  # scratch, allocated at the first step
        if self.name == "adam":
            self.b1, self.b2, self.eps = first.beta1, first.beta2, first.eps
            self.eps_on_v_hat = first.eps_on == "v_hat"
            self.weight_decay = first.weight_decay
            self.m = np.zeros((K, n_params), dtype)
            self.v = np.zeros((K, n_params), dtype)
        else:
            self.momentum, self.nesterov = first.momentum, first.nesterov
            self.velocity = np.zeros((K, n_params), dtype) if first.momentum else None

    def state_buffers(self) -> list[Array]:
        if self.name == "adam":
            return [self.m, self.v]
        return [] if self.velocity is None else [self.velocity]

    def select(self, keep: Array) -> None:
        """Keep the state of the models ``keep`` only, in that order (one state array copied
        at a time; the scratch is made again at the next step)."""
        self.lr, self.t = self.lr[keep], self.t[keep]
        self.tmp = self.tmp2 = None
        if self.name == "adam":
            self.m = self.m[keep]
            self.v = self.v[keep]
        elif self.velocity is not None:
            self.velocity = self.velocity[keep]

    def step(self, flat: Array, grad: Array, models: Array | None = None) -> None:
        """Update ``flat`` (K, P) from ``grad`` in place; only the rows ``models`` if given
        (one row at a time, through views: no copy of the stack's rows)."""
        if models is None:
            self._step(flat, grad, slice(None))
            return
        for j in models:
            self._step(flat[j:j + 1], grad[j:j + 1], slice(j, j + 1))

    def _step(self, flat: Array, g: Array, rows: slice) -> None:
        """The update of the models ``rows`` (a slice: the state arrays' rows are views)."""
        lr = self.lr[rows][:, None]
        if self.tmp is None or self.tmp.shape[0] < flat.shape[0] or self.tmp.shape[1:] != flat.shape[1:]:
            self.tmp = self.tmp2 = None
            self.tmp, self.tmp2 = np.empty_like(flat), np.empty_like(flat)
        tmp, tmp2 = self.tmp[:flat.shape[0]], self.tmp2[:flat.shape[0]]
        if self.name == "adam":
            self.t[rows] += 1
            t = self.t[rows][:, None]
            for lo, hi in self.decay_ranges:                         # AdamW: W ← (1 − ηw)W
                flat[:, lo:hi] *= (1 - lr * self.weight_decay).astype(flat.dtype)
            m, v = self.m[rows], self.v[rows]
            m *= self.b1
            m += np.multiply(g, 1 - self.b1, out=tmp)                # m ← β₁m + (1−β₁)g
            v *= self.b2
            np.multiply(g, g, out=tmp)
            v += np.multiply(tmp, 1 - self.b2, out=tmp)              # v ← β₂v + (1−β₂)g²
            root_bias2 = np.sqrt(1 - self.b2 ** t)
            denom = np.sqrt(v, out=tmp)
            denom += (self.eps * root_bias2).astype(flat.dtype) if self.eps_on_v_hat else self.eps
            step = np.divide(m, denom, out=tmp)
            step *= (lr * root_bias2 / (1 - self.b1 ** t)).astype(flat.dtype)
            flat -= step                                             # θ ← θ − η·m̂/(√v̂ + ε)
            return
        lr = lr.astype(flat.dtype)
        if self.velocity is None:
            flat -= np.multiply(g, lr, out=tmp)                      # θ ← θ − ηg
            return
        vel = self.velocity[rows]
        vel *= self.momentum
        vel -= np.multiply(g, lr, out=tmp)                           # v ← μv − ηg
        if self.nesterov:
            flat += np.multiply(vel, self.momentum, out=tmp2)
            flat -= tmp                                              # θ ← θ + μv − ηg
        else:
            flat += vel                                              # θ ← θ + v


def batch_rows(orders: list[Array], batch_sizes: list[int], offsets: list[int], M: int
               ) -> tuple[Array, Array]:
    """One epoch's batches of K models, laid out for slicing: model k visits its rows in
    ``orders[k]`` in batches of ``batch_sizes[k]`` (≤ M); returns ``rows`` (K, steps·M), whose
    [k, b·M : b·M + c] are the rows of model k's batch b (plus ``offsets[k]``: where its rows
    start among all models'), c = ``counts[b, k]``, followed by padding (its first row, weight
    0 in the step), and ``counts`` (steps, K)."""
    K = len(orders)
    n_batches = [-(-o.size // bs) for o, bs in zip(orders, batch_sizes)]
    steps = max(n_batches)
    counts = np.zeros((steps, K), dtype=np.intp)
    rows = np.empty((K, steps * M), dtype=np.intp)
    for k, (order, bs, off) in enumerate(zip(orders, batch_sizes, offsets)):
        rows[k] = off
        if bs == M:  # the usual case: batches end to end, padding only at the end
            rows[k, :order.size] = order + off
            counts[:, k] = np.clip(order.size - M * np.arange(steps), 0, M)
            continue
        for b in range(n_batches[k]):
            part = order[b * bs:(b + 1) * bs]
            rows[k, b * M:b * M + part.size] = part + off
            counts[b, k] = part.size
    return rows, counts


def finite_rows(a: Array) -> Array:
    """Per model (row of a (K, …) array): whether every entry is finite."""
    return np.isfinite(a.reshape(a.shape[0], -1)).all(axis=1)


__all__ = ["Stack", "StackedOptimizer", "batch_rows", "finite_rows"]
