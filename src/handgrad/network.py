"""The multi-layer perceptron: forward pass, hand-derived backward pass, predictions.

Network (row convention, derivations.md §1–2), L dense layers, hidden activations f_l:

    A_0 = X                                    (m, n_0)
    Z_l = A_{l-1} W_l + b_l                    (m, n_l)         l = 1..L
    A_l = f_l(Z_l)                             (m, n_l)         l = 1..L-1
    P   = softmax(Z_L)                         (m, K),  K = n_L
    L   = (1/m) Σ_i CE(Y_i, P_i) + λ Σ_l ‖W_l‖²_F

Backward (derivations.md eq. 2.1–2.5):

    δ_L   = (P − Y)/m                                      fused loss, losses.softmax_cross_entropy
    ∂L/∂W_l = A_{l-1}ᵀ δ_l + 2λ W_l                          layers.dense_backward + l2_penalty_grad
    ∂L/∂b_l = 1ᵀ δ_l
    δ_{l-1} = (δ_l W_lᵀ) ⊙ f'_{l-1}(Z_{l-1})                  layers.dense_backward + Activation.backward

All parameters live in one contiguous 1-D buffer ``flat`` (each W_l, b_l is a reshaped view
of a slice) and the gradients likewise in ``flat_grad``, in the same order, so an optimizer
can update every parameter with a few whole-buffer operations.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .core.activations import Activation, get_activation
from .fast.blas import gemm_tn, gemv_t
from .errors import InputError
from .core.init import INITIALISERS
from .core.dense import dense_backward, dense_forward
from .validation import check_finite, check_matrix, check_shape, first_non_finite
from .fast.memory import Workspace, aligned_empty, aligned_zeros
from .core.heads import LOSSES, check_head, check_head_targets, decide, n_correct, probabilities
from .core.losses import l2_penalty, row_max

Array = np.ndarray
_DTYPES = {"float32": np.float32, "float64": np.float64}


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
        output: the output layer and its loss (:mod:`handgrad.heads`): ``"softmax"``
            (classes, cross-entropy; the default), ``"logistic"`` (independent yes/no outputs,
            binary cross-entropy) or ``"identity"`` (regression, half squared error).

    Example:
        >>> import numpy as np, handgrad as hg
        >>> net = hg.MLP([3, 10, 6, 3], activation="relu", dtype="float64", seed=0)
        >>> X = np.random.default_rng(1).normal(size=(5, 3)); y = np.array([0, 1, 2, 1, 0])
        >>> loss, grads = net.loss_and_grads(X, y)
        >>> [g.shape for g in grads][:2]
        [(3, 10), (10,)]
    """

    def __init__(self, sizes: Sequence[int], activation="relu", l2: float = 0.0,
                 dtype="float32", seed: int | None = 0, output: str = "softmax"):
        self.sizes = _check_sizes(sizes)
        self.output = check_head(output, self.sizes[-1])
        self.activations = _check_activations(activation, len(self.sizes) - 2)
        self.l2 = _check_l2(l2)
        self.dtype = resolve_dtype(dtype)
        self.seed = seed
        # one contiguous, cache-line-aligned buffer each (see workspace.aligned_empty)
        self.flat = aligned_zeros(self.n_params, self.dtype)
        self.flat_grad = aligned_zeros(self.n_params, self.dtype)
        self.weights, self.biases = _views(self.flat, self.sizes)
        self.weight_grads, self.bias_grads = _views(self.flat_grad, self.sizes)
        self._init_weights(seed)
        self.last_data_loss = float("nan")
        self.last_l2_loss = float("nan")

    # ----- structure -------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Total number of scalars in all W_l and b_l."""
        return sum(a * b + b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def n_layers(self) -> int:
        """Number of dense layers L (hidden layers + the output layer)."""
        return len(self.sizes) - 1

    @property
    def n_classes(self) -> int:
        """Width of the output layer (classes for softmax, outputs otherwise)."""
        return self.sizes[-1]

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

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
        """Boolean mask over ``flat``: True on weight entries, False on biases (for decay)."""
        mask = np.zeros(self.n_params, dtype=bool)
        off = 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            mask[off:off + n_in * n_out] = True
            off += n_in * n_out + n_out
        return mask

    @property
    def param_names(self) -> list[str]:
        return [f"{k}{l}" for l in range(1, self.n_layers + 1) for k in ("W", "b")]

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
            W[...] = INITIALISERS[scheme](rng, n_in, n_out)
            b[...] = 0

    def astype(self, dtype) -> "MLP":
        """A copy of this network in another dtype (same weights, rounded if narrowing)."""
        other = MLP.__new__(MLP)
        other.__dict__.update(self.__dict__)
        other.dtype = resolve_dtype(dtype)
        other.flat = aligned_empty(self.n_params, other.dtype)
        other.flat[...] = self.flat
        other.flat_grad = aligned_zeros(self.n_params, other.dtype)
        other.weights, other.biases = _views(other.flat, self.sizes)
        other.weight_grads, other.bias_grads = _views(other.flat_grad, self.sizes)
        return other

    def copy(self) -> "MLP":
        return self.astype(self.dtype)

    def __repr__(self) -> str:
        hidden = " → ".join(f"{n} {a.name}" for n, a in zip(self.sizes[1:-1], self.activations))
        arch = f"{self.sizes[0]} → " + (hidden + " → " if hidden else "") + f"{self.sizes[-1]} {self.output}"
        return f"MLP({arch}; l2={self.l2:g}, dtype={self.dtype.name}, params={self.n_params})"

    # ----- input checks ----------------------------------------------------------------
    def check_X(self, X) -> Array:
        """Validate a feature matrix and return it as a C-contiguous array of the net's dtype."""
        return check_matrix(X, "X", self.sizes[0], self.dtype, owner="this network")

    def check_y(self, y, m: int) -> Array:
        """Validate targets for m samples (labels 0..K-1 or probability rows)."""
        return check_head_targets(self.output, y, m, self.n_classes, self.dtype)

    def check_sample_weight(self, sample_weight, m: int) -> Array | None:
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=self.dtype)
        if w.shape != (m,):
            raise InputError(f"sample_weight must have shape ({m},), one weight per sample; got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InputError("sample_weight must be finite and ≥ 0")
        return w

    # ----- forward / backward ----------------------------------------------------------
    def _forward(self, X: Array, keep: bool, ws: Workspace | None = None, check_z1=None
                 ) -> tuple[Array, list[Array], list[Array | None]]:
        """Logits of validated X (eq. 1.1–1.3); with ``keep`` also the layer inputs A_{l-1}
        and the Z_l that activations reading their input need for the backward pass.

        With a :class:`~handgrad.workspace.Workspace`, every array is written into its
        buffers (A_l over Z_l in place) and f'(Z_l) is stored in ``ws.D[l]``.
        ``check_z1(Z_1)`` is called on the first pre-activation before any activation reads it.
        """
        inputs, pre = [], []
        m = X.shape[0]
        A = X
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            if keep:
                inputs.append(A)
            Z = dense_forward(A, W, b, out=None if ws is None else ws.Z[l][:m])
            if l == 0 and check_z1 is not None:
                check_z1(Z)
            if l == self.n_layers - 1:
                return Z, inputs, pre
            act = self.activations[l]
            if not keep:  # prediction: no backward pass, no derivatives
                A = act.forward(Z, out=None if ws is None else Z)
                continue
            D = None if ws is None else ws.D[l]
            if D is None:  # no derivative buffer: keep Z beside A for act.backward
                pre.append(Z if act.needs_input else None)
                A = act.forward(Z)
            elif act.homogeneous:  # A = Z ⊙ f'(Z), and f' reads the same off Z as off A
                A = np.multiply(Z, act.derivative(Z, Z, out=D[:m]), out=Z)
            elif act.needs_input:  # f'(Z) must be read before A overwrites Z
                act.derivative(Z, None, out=D[:m])
                A = act.forward(Z, out=Z)
            else:
                A = act.forward(Z, out=Z)
                act.derivative(None, A, out=D[:m])
        raise AssertionError("unreachable")

    def _backward(self, dZ: Array, inputs: list[Array], pre: list[Array | None],
                  lam: float, ws: Workspace | None = None, sgd_lr: float | None = None) -> None:
        """Fill ``flat_grad`` from δ_L = dZ (derivations.md eq. 2.1–2.5), adding 2λW_l.

        With a workspace, ∂L/∂A_{l-1} is written into ``ws.dZ[l-1]`` and multiplied in place
        by the stored f'(Z_{l-1}), the same product ``Activation.backward`` forms.

        With ``sgd_lr`` = η (plain SGD, a workspace required) the gradients are not stored:
        each layer's update happens inside the products that compute them,
        ``W_l ← (1 − 2λη)·W_l − η·A_{l−1}ᵀδ_l`` and ``b_l ← b_l − η·1ᵀδ_l``, after
        ``δ_l W_lᵀ`` has used the old ``W_l``. Same step as storing ∂L/∂θ and then
        ``θ ← θ − η·∂L/∂θ``, up to rounding inside the BLAS kernel.
        """
        m = dZ.shape[0]
        for l in range(self.n_layers - 1, -1, -1):
            dX = None if ws is None or l == 0 else ws.dZ[l - 1][:m]
            W = self.weights[l]
            if sgd_lr is None:
                gW = self.weight_grads[l]
                if lam:
                    # ∂L/∂W = 2λW + A_{l-1}ᵀδ_l (5.2 + 2.2) as one product with β = 1 on top of
                    # 2λW: no temporary, one pass fewer than adding 2λW afterwards
                    np.multiply(W, 2 * lam, out=gW)
                    gemm_tn(1.0, inputs[l], dZ, 1.0, gW)
                _, _, dA = dense_backward(dZ, inputs[l], W, dW=gW, db=self.bias_grads[l],
                                          need_dX=l > 0, dX=dX, need_dW=not lam,
                                          ones=None if ws is None else ws.ones[:m])
            else:
                dA = np.matmul(dZ, W.T, out=dX) if l > 0 else None       # eq. 2.4, old W
                gemm_tn(-sgd_lr, inputs[l], dZ, 1 - 2 * lam * sgd_lr, W)  # eq. 2.2 + step
                gemv_t(-sgd_lr, dZ, ws.ones[:m], 1.0, self.biases[l])     # eq. 2.3 + step
            if l == 0:
                break
            act = self.activations[l - 1]
            if ws is not None and ws.D[l - 1] is not None:
                dZ = np.multiply(dA, ws.D[l - 1][:m], out=dA)        # δ = ∂L/∂A ⊙ f'(Z)
            else:
                dZ = act.backward(dA, pre[l - 1], inputs[l])

    def forward(self, X) -> Array:
        """Logits ``Z_L`` for X (m, n_0) -> (m, K)."""
        return self._forward(self.check_X(X), keep=False)[0]

    def loss_and_grads(self, X, y, sample_weight=None, part: str = "total"
                       ) -> tuple[float, list[Array]]:
        """Loss and its gradient w.r.t. every parameter, by backpropagation.

        ``part`` selects ``"total"`` (data + L2), ``"data"`` (the averaged cross-entropy only)
        or ``"l2"`` (the penalty only), so each can be gradient-checked on its own.

        Returns ``(loss, grads)`` with ``grads = [dW_1, db_1, ...]`` aligned with
        :attr:`params`. The grads are views into ``flat_grad``: the next call overwrites
        them, so copy what you keep. ``last_data_loss`` and ``last_l2_loss`` hold the parts.
        """
        if part not in ("total", "data", "l2"):
            raise InputError(f"part must be 'total', 'data' or 'l2', got {part!r}")
        X = self.check_X(X)
        y = self.check_y(y, X.shape[0])
        w = self.check_sample_weight(sample_weight, X.shape[0])
        return self._loss_and_grads(X, y, w, part)

    def _loss_and_grads(self, X: Array, y: Array, w: Array | None, part: str = "total",
                        ws: Workspace | None = None, sgd_lr: float | None = None
                        ) -> tuple[float, list[Array]]:
        """:meth:`loss_and_grads` on inputs already validated (the training loop's path, which
        passes a :class:`~handgrad.workspace.Workspace` so that no step allocates).

        ``sgd_lr`` = η makes this a whole plain-SGD step: the parameters are updated inside
        the backward products (see :meth:`_backward`) and ``flat_grad`` is left untouched.
        """
        self.last_l2_loss = l2_penalty(self.weights, self.l2)
        if part == "l2":
            self.last_data_loss = 0.0
            np.multiply(self.flat, 2 * self.l2, out=self.flat_grad)
            for g in self.bias_grads:
                g[...] = 0
            return self.last_l2_loss, self.grads
        if sgd_lr is not None and (ws is None or part != "total"):
            raise ValueError("a fused SGD step needs a workspace and the total loss")
        m = X.shape[0]
        logits, inputs, pre = self._forward(X, keep=True, ws=ws)
        self.last_logits = logits
        stats: dict = {}
        self.last_data_loss, dZ = LOSSES[self.output](
            logits, y, w, out=None if ws is None else ws.dZ[-1][:m],
            work=None if ws is None else ws.logP[:m], stats=stats)
        # rows predicted right (None for regression): the loss counts them when it can
        self.last_correct = stats["correct"] if "correct" in stats else n_correct(self.output, logits, y)
        self._backward(dZ, inputs, pre, self.l2 if part == "total" else 0.0, ws, sgd_lr)
        if part == "data":
            return self.last_data_loss, self.grads
        return self.last_data_loss + self.last_l2_loss, self.grads

    def loss(self, X, y, sample_weight=None) -> float:
        """Total loss (data + L2) at X, y (the gradient is computed and discarded)."""
        X = self.check_X(X)
        y = self.check_y(y, X.shape[0])
        w = self.check_sample_weight(sample_weight, X.shape[0])
        logits = self._forward(X, keep=False)[0]
        return LOSSES[self.output](logits, y, w)[0] + l2_penalty(self.weights, self.l2)

    def logits_in_chunks(self, X, batch_size: int = 4096, transform=None):
        """Yield ``(start, logits)`` for consecutive chunks of at most ``batch_size`` rows.

        For predicting on more rows than fit in memory twice over: X is validated for shape
        up front, then converted (to the net's dtype, after ``transform`` if given) and checked
        for NaN/inf one chunk at a time, and the layers are computed in one reused
        :class:`~handgrad.workspace.Workspace`. Extra memory stays at a few chunks' worth,
        whatever the number of rows. ``logits`` is a view into the workspace: use it before
        the next chunk.
        """
        n_in = self.sizes[0] if transform is None else None
        arr = check_shape(X, "X", n_in, owner="this network")
        batch_size = max(1, int(batch_size))
        ws = Workspace(self, min(batch_size, arr.shape[0]), training=False)
        for start in range(0, arr.shape[0], batch_size):
            raw = arr[start:start + batch_size]
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused below
                chunk = transform(raw) if transform is not None else raw
                chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
            if chunk.shape[1] != self.sizes[0]:
                raise InputError(f"X has {chunk.shape[1]} features but this network takes {self.sizes[0]}")

            def check_z1(Z1, raw=raw, chunk=chunk, start=start):
                # NaN/±inf anywhere in a row of X makes that whole row of Z_1 = X W_1 + b_1
                # non-finite (NaN·w and ±inf·0 are NaN), so checking Z_1 (n_1 columns) clears X
                # (n_0 columns) more cheaply; on a hit, X itself is searched for the message.
                if first_non_finite(Z1) is None:
                    return
                check_finite(raw, "X", row_offset=start)  # a NaN/inf the user gave
                bad = first_non_finite(chunk)
                if bad is not None:  # finite as given, not after conversion/standardisation
                    r, c = bad
                    raise InputError(
                        f"X row {start + r}, column {c} ({raw[r, c]!r:.12}) is too large for this "
                        f"{self.dtype.name} network" + (" after its standardisation" if transform else "")
                        + "; rescale it")
                bad = first_non_finite(Z1)
                raise InputError(f"X row {start + bad[0]} is too large for the network's weights: "
                                 "its first layer overflows; rescale the inputs")

            with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused here
                logits = self._forward(chunk, keep=False, ws=ws, check_z1=check_z1)
                logits = logits[0]
                # log-probabilities need max − min of a row to be finite as well
                spread = row_max(logits)[:, 0] + row_max(-logits)[:, 0]
            bad = first_non_finite(logits)
            if bad is None and not np.all(np.isfinite(spread)):
                bad = (int(np.argmax(~np.isfinite(spread))), 0)
            if bad is not None:
                raise InputError(f"the network's output is NaN or inf for row {start + bad[0]}: its "
                                 "inputs are too large for the weights (overflow); rescale them")
            yield start, logits

    def predict_proba(self, X, batch_size: int = 4096) -> Array:
        """Probabilities P (m, K): softmax rows that sum to 1, or σ(Z) for a logistic output.
        Computed in chunks of ``batch_size`` rows, so the extra memory is the (m, K) result plus
        a few chunks. A regression network (``output="identity"``) has none."""
        if self.output == "identity":
            probabilities(self.output, None)  # raises the explanation
        out = None
        for start, logits in self.logits_in_chunks(X, batch_size):
            if out is None:
                out = np.empty((np.shape(X)[0], self.n_classes), dtype=self.dtype)
            probabilities(self.output, logits, out=out[start:start + logits.shape[0]])
        return out

    def predict(self, X, batch_size: int = 4096) -> Array:
        """Class indices ``argmax_k Z_L`` (m,) for softmax (softmax is monotone, so the logits
        suffice); 0/1 decisions 1{Z > 0} for logistic outputs; the values Z for regression.
        A single logistic or identity output gives shape (m,), several (m, K)."""
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


def _views(buffer: Array, sizes: list[int]) -> tuple[list[Array], list[Array]]:
    """Slice a flat buffer into W_l (n_{l-1}, n_l) and b_l (n_l,) views, in order W1 b1 W2 b2 …"""
    weights, biases, off = [], [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights.append(buffer[off:off + n_in * n_out].reshape(n_in, n_out))
        off += n_in * n_out
        biases.append(buffer[off:off + n_out])
        off += n_out
    return weights, biases


def _check_sizes(sizes) -> list[int]:
    try:
        out = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise InputError(f"sizes must be a list of layer widths such as [784, 128, 10], got {sizes!r}") from None
    if any(float(s) != o for s, o in zip(sizes, out)):
        raise InputError(f"layer widths must be whole numbers, got {list(sizes)}")
    if len(out) < 2:
        raise InputError(f"sizes needs at least the input width and the number of classes, got {out}")
    if any(s < 1 for s in out):
        raise InputError(f"every layer width must be ≥ 1, got {out}")
    return out


def _check_activations(activation, n_hidden: int) -> list[Activation]:
    if isinstance(activation, (list, tuple)):
        if len(activation) != n_hidden:
            raise InputError(f"got {len(activation)} activations for {n_hidden} hidden layers; "
                             "give one name for all, or exactly one per hidden layer")
        return [get_activation(a) for a in activation]
    act = get_activation(activation)
    return [act] * n_hidden


def _check_l2(l2) -> float:
    try:
        lam = float(l2)
    except (TypeError, ValueError):
        raise InputError(f"l2 must be a number ≥ 0, got {l2!r}") from None
    if not np.isfinite(lam) or lam < 0:
        raise InputError(f"l2 must be a finite number ≥ 0, got {l2!r}")
    return lam
