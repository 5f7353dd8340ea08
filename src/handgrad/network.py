"""The multi-layer perceptron: parameters in one flat buffer, the reference backprop, the fast
training step, predictions.

Network (row convention, derivations.md §1–2), L dense layers, hidden activations f_l:

    A_0 = X                                    (m, n_0)
    Z_l = A_{l-1} W_l + b_l                    (m, n_l)         l = 1..L
    A_l = f_l(Z_l)                             (m, n_l)         l = 1..L-1
    P   = softmax(Z_L)                         (m, K),  K = n_L
    L   = (1/m) Σ_i CE(Y_i, P_i) + λ Σ_l ‖W_l‖²_F

Two ways through it, computing the same numbers:

* :meth:`MLP.loss_and_grads` / :meth:`MLP.backprop` run the reference,
  :mod:`handgrad.core.backprop` (eq. 2.1–2.5 as one short loop, plain numpy);
* :meth:`MLP.train_step` runs the fast path, :mod:`handgrad.fast.step` (preallocated
  buffers, BLAS, plain SGD fused into the products), which the training loop uses and
  tests/fast/ holds equal to the reference.

All parameters live in one contiguous 1-D buffer ``flat`` (each W_l, b_l is a view of a
slice, see :mod:`handgrad.layout`) and the gradients likewise in ``flat_grad``.
"""

from __future__ import annotations

# size: the one public network class — parameters, the reference pass, the fast step's door,
# predictions — reads best whole; the work itself lives in core/ and fast/.
from typing import Sequence

import numpy as np

from .core import backprop
from .core.activations import Activation, get_activation
from .core.backprop import StepResult
from .core.heads import LOSSES, REGRESSION_HEADS, check_head, n_correct
from .core.init import INITIALISERS
from .core.losses import l2_penalty, l2_penalty_grad
from .errors import InputError
from .fast import step
from .fast.kernels import decide, probabilities_into
from .fast.memory import Workspace, aligned_empty, aligned_zeros
from .fast.predict import logits_in_chunks
from .layout import Layout
from .memory_plan import MemoryPlan, memory_needed
from .validation import (check_head_targets, check_l2, check_matrix, check_positive,
                         check_sample_weight, check_seed, check_sizes, check_smoothing)

Array = np.ndarray
_DTYPES = {"float32": np.float32, "float64": np.float64}
INIT_BLOCK = 1 << 20  # initial weights drawn this many at a time (float64, then cast)


def resolve_dtype(dtype) -> np.dtype:
    """``"float32"``/``"float64"`` (or the numpy types) -> np.dtype; anything else is refused."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in _DTYPES:
        raise InputError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt


class MLP:
    """A multi-layer perceptron classifier with hand-written backpropagation.

    ``Z_l = A_{l-1} W_l + b_l``, ``A_l = f(Z_l)`` for hidden layers; the last layer gives logits,
    and the loss is the fused softmax cross-entropy averaged over the batch plus
    ``λ Σ‖W_l‖²``.

    Shapes: ``sizes = [n_0, n_1, ..., n_L]`` includes the input width ``n_0`` and the number
    of classes ``n_L = K``; ``W_l`` is ``(n_{l-1}, n_l)``, ``b_l`` is ``(n_l,)``.

    Initialisation: weights of a layer followed by a ReLU-family activation are He-normal,
    all others (sigmoid, tanh, identity, the output layer) Glorot-uniform; biases are 0.
    Draws come from ``numpy.random.default_rng(seed)``, in float64, then cast to ``dtype``,
    so the same seed gives the same network in float32 and float64.

    Args:
        sizes: layer widths, at least ``[n_in, n_classes]``; n_classes ≥ 2.
        activation: a name (``"relu"``, ``"leaky_relu"``, ``"sigmoid"``, ``"tanh"``,
            ``"identity"``, or a registered custom one) for every hidden layer, or a list
            with one per hidden layer.
        l2: λ ≥ 0 of the penalty ``λ Σ_l ‖W_l‖²_F`` (biases not penalised).
        dtype: ``"float32"`` or ``"float64"``; all computation stays in it.
        seed: seed of the initialisation.
        output: the output layer and its loss (:mod:`handgrad.core.heads`): ``"softmax"``
            (classes, cross-entropy; the default), ``"logistic"`` (independent yes/no outputs,
            binary cross-entropy), ``"identity"`` (regression, half squared error), ``"exp"``
            (counts, half the Poisson deviance) or ``"huber"`` (regression, the Huber loss).
        huber_delta: the Huber head's threshold δ > 0 (derivations.md §14): residuals within
            ±δ are squared, larger ones count linearly. Ignored by the other heads.
        label_smoothing: the softmax head's ε in [0, 1) (derivations.md §16): training targets
            (1 − ε)·one-hot + ε/K. Ignored by the other heads.
        params: ``[W_1, b_1, …]`` to start from (copied; shapes as :attr:`params`) instead of
            drawing the initial weights — a loaded model, a scikit-learn fit.

    Example:
        >>> import numpy as np, handgrad as hg
        >>> net = hg.MLP([3, 10, 6, 3], activation="relu", dtype="float64", seed=0)
        >>> X = np.random.default_rng(1).normal(size=(5, 3)); y = np.array([0, 1, 2, 1, 0])
        >>> loss, grads = net.loss_and_grads(X, y)
        >>> [g.shape for g in grads][:2]
        [(3, 10), (10,)]
    """

    def __init__(self, sizes: Sequence[int], activation="relu", l2: float = 0.0,
                 dtype="float32", seed: int | None = 0, output: str = "softmax",
                 huber_delta: float | None = 1.0, label_smoothing: float = 0.0,
                 params: Sequence[Array] | None = None):
        self.sizes = check_sizes(sizes)
        self.output = check_head(output, self.sizes[-1])
        # None for the other heads: a threshold they ignore must not tell two networks apart
        self.huber_delta = check_positive(huber_delta, "huber_delta") if output == "huber" else None
        self.label_smoothing = check_smoothing(label_smoothing) if output == "softmax" else 0.0
        self.activations = _check_activations(activation, len(self.sizes) - 2)
        self.l2 = check_l2(l2)
        self.dtype = resolve_dtype(dtype)
        self.seed = check_seed(seed)
        # refused before allocating: parameters and gradients, and the initial draws of a block
        # (fit checks again with its batch and optimizer state: training.footprint)
        draws = max(min(a, max(1, INIT_BLOCK // b)) * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        MemoryPlan("this network", self.sizes).add(
            "parameters, gradients", memory_needed(self.sizes, self.dtype.itemsize)[1],
            "fewer or narrower layers").add("initial draws (float64)", 2 * 8 * draws).check()
        self.layout = Layout(self.sizes)
        self._allocate(aligned_zeros(self.n_params, self.dtype))
        if params is None:
            self._init_weights(self.seed)
        else:  # a loaded model, a scikit-learn fit: no initial draws to throw away
            self.set_params(params)

    def _allocate(self, flat: Array) -> None:
        """Take ``flat`` as the parameter buffer; a zeroed gradient buffer; the views of both
        (one contiguous, cache-line-aligned buffer each, see fast.memory.aligned_empty)."""
        self.flat = flat
        self.flat_grad = aligned_zeros(self.n_params, self.dtype)
        self.weights, self.biases = self.layout.views(self.flat)
        self.weight_grads, self.bias_grads = self.layout.views(self.flat_grad)

    def use_grad_buffer(self, buffer: Array) -> Array:
        """Make ``buffer`` — contiguous, (n_params,), the net's dtype — the gradient buffer
        ``flat_grad`` (:attr:`grads` become views of it); return the previous one. Data-parallel
        training (:mod:`handgrad.distributed`) reduces the gradient in a longer buffer that also
        carries the step's sums: one Allreduce, no copy."""
        assert buffer.shape == (self.n_params,) and buffer.dtype == self.dtype and buffer.flags.c_contiguous
        previous, self.flat_grad = self.flat_grad, buffer
        self.weight_grads, self.bias_grads = self.layout.views(buffer)
        return previous

    # ----- structure -------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Total number of scalars in all W_l and b_l."""
        return self.layout.n_params

    @property
    def n_layers(self) -> int:
        """Number of dense layers L (hidden layers + the output layer)."""
        return self.layout.n_layers

    @property
    def n_classes(self) -> int:
        """Width of the output layer (classes for softmax, outputs otherwise)."""
        return self.sizes[-1]

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    @property
    def head_params(self) -> dict:
        """The keyword arguments of the head's loss besides (Z, Y, sample_weight):
        ``{"delta": δ}`` for the Huber head, ``{"smoothing": ε}`` for a softmax head with label
        smoothing, ``{}`` for the others."""
        if self.output == "huber":
            return {"delta": self.huber_delta}
        return {"smoothing": self.label_smoothing} if getattr(self, "label_smoothing", 0.0) else {}

    @property
    def head_options(self) -> dict:
        """The keyword arguments that make another network's head this one's:
        ``MLP(sizes, ..., **net.head_options)`` (the output, and its δ or ε)."""
        return {"output": self.output, **({"huber_delta": self.huber_delta} if self.output == "huber" else {}),
                **({"label_smoothing": self.label_smoothing} if self.head_params.get("smoothing") else {})}

    @property
    def params(self) -> list[Array]:
        """``[W_1, b_1, ..., W_L, b_L]``: views into ``flat`` (writing to them changes the net)."""
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    @property
    def grads(self) -> list[Array]:
        """Gradients aligned with :attr:`params`: views into ``flat_grad``."""
        return [g for pair in zip(self.weight_grads, self.bias_grads) for g in pair]

    @property
    def weight_mask(self) -> Array:
        """Boolean mask over ``flat``: True on weight entries, False on biases."""
        return self.layout.weight_mask()

    @property
    def param_names(self) -> list[str]:
        return self.layout.param_names

    def set_params(self, params: Sequence[Array]) -> None:
        """Copy ``[W_1, b_1, ...]`` into the network (shapes must match :attr:`params`)."""
        own = self.params
        if len(params) != len(own):
            raise InputError(f"expected {len(own)} arrays [W1, b1, ...], got {len(params)}")
        for name, dst, src in zip(self.param_names, own, params):
            src = np.asarray(src)
            if src.shape != dst.shape:
                raise InputError(f"{name} must have shape {dst.shape}, got {src.shape}")
            dst[...] = src

    def _init_weights(self, seed) -> None:
        rng = np.random.default_rng(seed)
        inits = [a.init for a in self.activations] + ["glorot"]
        for W, b, scheme, n_in, n_out in zip(self.weights, self.biases, inits,
                                             self.sizes[:-1], self.sizes[1:]):
            block = max(1, INIT_BLOCK // n_out)  # float64 draws of a block of rows at a time
            for start in range(0, n_in, block):
                rows = min(block, n_in - start)
                W[start:start + rows] = INITIALISERS[scheme](rng, n_in, n_out, rows=rows)
            b[...] = 0

    def astype(self, dtype) -> "MLP":
        """A copy of this network in another dtype (same weights, rounded if narrowing)."""
        other = MLP.__new__(MLP)
        other.__dict__.update(self.__dict__)
        other.dtype = resolve_dtype(dtype)
        flat = aligned_empty(self.n_params, other.dtype)
        flat[...] = self.flat
        other._allocate(flat)
        return other

    def copy(self) -> "MLP":
        return self.astype(self.dtype)

    def __repr__(self) -> str:
        hidden = " → ".join(f"{n} {a.name}" for n, a in zip(self.sizes[1:-1], self.activations))
        head = f"huber(δ={self.huber_delta:g})" if self.output == "huber" else self.output
        head += f"(smoothing {self.label_smoothing:g})" if self.head_params.get("smoothing") else ""
        arch = f"{self.sizes[0]} → " + (hidden + " → " if hidden else "") + f"{self.sizes[-1]} {head}"
        return f"MLP({arch}; l2={self.l2:g}, dtype={self.dtype.name}, params={self.n_params})"

    # ----- input checks ----------------------------------------------------------------
    def check_X(self, X) -> Array:
        """Validate a feature matrix and return it as a C-contiguous array of the net's dtype."""
        return check_matrix(X, "X", self.sizes[0], self.dtype, owner="this network")

    def check_y(self, y, m: int) -> Array:
        """Validate targets for m samples (labels 0..K-1 or probability rows)."""
        return check_head_targets(self.output, y, m, self.n_classes, self.dtype)

    def check_sample_weight(self, sample_weight, m: int) -> Array | None:
        return check_sample_weight(sample_weight, m, self.dtype)

    # ----- the reference: core.backprop --------------------------------------------------
    def forward(self, X) -> Array:
        """Logits ``Z_L`` for X (m, n_0) -> (m, K) (eq. 1.1–1.3, the reference forward pass)."""
        return backprop.forward(self.weights, self.biases, self.activations, self.check_X(X))[0]

    def backprop(self, X, y, sample_weight=None, part: str = "total", masks=None) -> StepResult:
        """One reference forward and backward pass (:mod:`handgrad.core.backprop`); the
        gradient of the ``part`` — ``"total"`` (data + L2), ``"data"`` or ``"l2"`` — lands in
        :attr:`grads` (views into ``flat_grad``), the losses of that part and the rows predicted
        right in the returned :class:`~handgrad.core.backprop.StepResult` (as
        :meth:`train_step` returns them). ``masks``: dropout scales S_l (m, n_l) per hidden
        layer, or None (derivations.md §20; ``core.dropout.keep_scale`` draws them)."""
        if part not in ("total", "data", "l2"):
            raise InputError(f"part must be 'total', 'data' or 'l2', got {part!r}")
        X = self.check_X(X)
        y = self.check_y(y, X.shape[0])
        w = self.check_sample_weight(sample_weight, X.shape[0])
        l2_loss = l2_penalty(self.weights, self.l2)
        if part == "l2":  # eq. 5.2 alone: 2λW_l, nothing on the biases
            for W, gW, gb in zip(self.weights, self.weight_grads, self.bias_grads):
                gW[...] = l2_penalty_grad(W, self.l2)
                gb[...] = 0
            return StepResult(0.0, l2_loss)
        lam = self.l2 if part == "total" else 0.0
        data_loss, _, dW, db, logits = backprop.loss_and_grads(
            self.weights, self.biases, self.activations, self.output, X, y, w, lam, self.head_params, masks)
        for dst, src in zip(self.grads, [g for pair in zip(dW, db) for g in pair]):
            dst[...] = src
        return StepResult(data_loss, l2_loss if part == "total" else 0.0,
                          n_correct(self.output, logits, y))

    def loss_and_grads(self, X, y, sample_weight=None, part: str = "total"
                       ) -> tuple[float, list[Array]]:
        """Loss and its gradient w.r.t. every parameter, by the reference backpropagation.

        ``part`` selects ``"total"`` (data + L2), ``"data"`` (the averaged loss of the head
        only) or ``"l2"`` (the penalty only), so each can be gradient-checked on its own.

        Returns ``(loss, grads)`` with ``grads = [dW_1, db_1, ...]`` aligned with
        :attr:`params`. The grads are views into ``flat_grad``: the next call overwrites
        them, so copy what you keep. :meth:`backprop` returns the loss's parts too.
        """
        return self.backprop(X, y, sample_weight, part).loss, self.grads

    def input_gradient(self, X, y) -> Array:
        """``∂ℓ_i/∂X_i`` (m, n_0): each row's gradient of its own loss (the head's, as trained)
        with respect to the network's input, by the reference backward pass carried through the
        first layer (``core.backprop.input_gradient``, derivations.md §19)."""
        X = self.check_X(X)
        y = self.check_y(y, X.shape[0])
        return backprop.input_gradient(self.weights, self.biases, self.activations, self.output, X, y,
                                       self.head_params)

    def loss(self, X, y, sample_weight=None) -> float:
        """Total loss (data + L2) at X, y."""
        X = self.check_X(X)
        y = self.check_y(y, X.shape[0])
        w = self.check_sample_weight(sample_weight, X.shape[0])
        logits = backprop.forward(self.weights, self.biases, self.activations, X)[0]
        data_loss = LOSSES[self.output](logits, y, w, **self.head_params)[0]
        return data_loss + l2_penalty(self.weights, self.l2)

    # ----- the fast path: fast.step --------------------------------------------------------
    def train_step(self, X: Array, y: Array, w: Array | None, ws: Workspace,
                   part: str = "total", sgd_lr: float | None = None, masks=None) -> StepResult:
        """One training step's forward and backward pass in the workspace ``ws`` on inputs
        already validated (:meth:`check_X`, :meth:`check_y`, :meth:`check_sample_weight`):
        the gradient of ``part`` ("total" or "data") into ``flat_grad``; with ``sgd_lr`` = η
        the plain-SGD update ``θ ← θ − η·∂L/∂θ`` is done inside the backward products instead
        (the weight gradients are never formed; the bias gradients pass through their part of
        ``flat_grad``). ``masks``: dropout scales, as for :meth:`backprop`. Equal to
        :meth:`backprop` (tests/fast/)."""
        return step.loss_and_grads(self, X, y, w, ws, part, sgd_lr, masks)

    def workspace(self, capacity: int) -> Workspace:
        """Buffers for :meth:`train_step` on batches of up to ``capacity`` rows."""
        return Workspace(self, capacity)

    # ----- predictions (fast path, in chunks) ------------------------------------------------
    def logits_in_chunks(self, X, batch_size: int = 4096, transform=None, column_names=None,
                         encoded: bool = False):
        """Yield ``(start, logits)`` for consecutive chunks of at most ``batch_size`` rows,
        each checked for NaN/inf and overflow (see :func:`handgrad.fast.predict.logits_in_chunks`)."""
        return logits_in_chunks(self, X, batch_size, transform, column_names, encoded)

    def predict_proba(self, X, batch_size: int = 4096) -> Array:
        """Probabilities P (m, K): softmax rows that sum to 1, or σ(Z) for a logistic output.
        Computed in chunks of ``batch_size`` rows, so the extra memory is the (m, K) result plus
        a few chunks. A regression network (``output="identity"``, ``"exp"``, ``"huber"``) has
        none."""
        if self.output in REGRESSION_HEADS:
            raise InputError(f"a regression network (output={self.output!r}) has no probabilities; "
                             "use predict")
        out = None
        for start, logits in self.logits_in_chunks(X, batch_size):
            if out is None:
                out = np.empty((np.shape(X)[0], self.n_classes), dtype=self.dtype)
            probabilities_into(self.output, logits, out=out[start:start + logits.shape[0]])
        return out

    def predict(self, X, batch_size: int = 4096) -> Array:
        """Class indices (m,) for softmax: the argmax of :meth:`predict_proba`'s rows (so the two
        always agree, also where logits closer than softmax can resolve tie); 0/1 decisions
        1{Z > 0} for logistic outputs; for regression the predicted values (Z, or e^Z for the
        exp head). A single output of a head other than softmax gives shape (m,), several
        (m, K)."""
        out = None
        for start, logits in self.logits_in_chunks(X, batch_size):
            decided = decide(self.output, logits)
            if out is None:
                shape = (np.shape(X)[0],) + decided.shape[1:]
                out = np.empty(shape, dtype=decided.dtype)
            out[start:start + logits.shape[0]] = decided
        if self.output != "softmax" and self.n_outputs == 1:
            return out[:, 0]
        return out


def _check_activations(activation, n_hidden: int) -> list[Activation]:
    if isinstance(activation, (list, tuple)):
        if len(activation) != n_hidden:
            raise InputError(f"got {len(activation)} activations for {n_hidden} hidden layers; "
                             "give one name for all, or exactly one per hidden layer")
        return [get_activation(a) for a in activation]
    act = get_activation(activation)
    return [act] * n_hidden
