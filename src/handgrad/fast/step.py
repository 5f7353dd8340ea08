"""The training step in preallocated buffers: forward, fused loss and backward without a
single allocation per step, and plain SGD folded into the backward products.

Each function computes what :mod:`handgrad.core.backprop` computes (tests/fast/ holds them
equal, float64 to 1e-12 relative, across every activation, head and size threshold):

* :func:`forward` = ``core.backprop.forward``: Z_l into ``ws.Z[l]`` (the bias through the
  GEMM's β: ``fast.blas.affine_into``), A_l over Z_l in place,
  f'(Z_l) into ``ws.D[l]`` while Z_l is at hand (for the ReLU family f'(Z) first and then
  ``A = Z ⊙ f'(Z)``, one pass fewer);
* :func:`backward` = ``core.backprop.backward``: ∂L/∂A into ``ws.dZ``, turned into δ in place
  with the stored f'; ``∂L/∂W = A_{l-1}ᵀδ_l + 2λW_l`` as one GEMM with β = 1 on top of 2λW_l;
  ``1ᵀδ`` as a GEMV with a vector of ones;
* with ``sgd_lr`` = η, the plain-SGD step ``θ ← θ − η·∂L/∂θ`` happens inside those products:
  ``W_l ← (1 − 2λη)·W_l − η·A_{l−1}ᵀδ_l`` (a GEMM with β), after ``δ_l W_lᵀ`` has used the old
  W_l, so the weight gradient is never stored (derivations.md §11); ``b_l ← b_l − η·1ᵀδ_l``
  from ``1ᵀδ_l`` in the bias-gradient buffer (numpy's vector-matrix product there is 2–4× faster
  than a GEMV with β through ctypes: 3 µs against 10 µs at 128×256, float32, on this 2-core
  EPYC, whose ~4 µs of call overhead the n_l-entry bias does not repay).
"""

from __future__ import annotations

import numpy as np

from ..core.backprop import StepResult
from ..core.heads import n_correct
from ..core.losses import l2_penalty
from ..errors import InputError
from .blas import affine_into, gemm_tn
from .kernels import LOSSES
from .memory import Workspace

Array = np.ndarray


def forward(net, X: Array, ws: Workspace, keep: bool = False, check_z1=None, masks=None
            ) -> tuple[Array, list[Array], list[Array | None]]:
    """``core.backprop.forward``: logits of validated X (m ≤ ws.capacity rows) in
    ``ws.Z[-1][:m]``; with ``keep`` also the layer inputs A_{l-1} and, per hidden layer, Z_l
    where an activation known only by ``backward`` needs it (else None).
    ``check_z1(Z_1)`` is called on the first pre-activation before any activation reads it.
    ``masks`` (with ``keep``): per hidden layer a dropout scale S_l (m, n_l) or None; S_l is
    folded into the stored derivative, ``D_l = f'(Z_l) ⊙ S_l``, and the layer's output is
    ``f(Z_l) ⊙ S_l`` (eq. 20.2), so that ``backward``'s ``δ = ∂L/∂Ã ⊙ D`` is eq. 20.3 and 2.5 in
    one product — the backward pass does not change."""
    inputs, pre = [], []
    m, last = X.shape[0], net.n_layers - 1
    A = X
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        if keep:
            inputs.append(A)
        Z = affine_into(A, W, b, ws.Z[l][:m])                         # eq. 1.2
        if l == 0 and check_z1 is not None:
            check_z1(Z)
        if l == last:
            return Z, inputs, pre
        k = ws.kernels[l]
        D = ws.D[l] if keep else None
        S = masks[l] if keep and masks is not None else None
        if keep:  # one entry per hidden layer: backward looks Z_l up by layer
            pre.append(Z if D is None and net.activations[l].needs_input else None)
        if S is not None and D is None:
            raise InputError(f"dropout needs a hidden activation with a derivative; layer {l + 1}'s "
                             f"{net.activations[l].name} has none (use relu, leaky_relu, sigmoid or tanh)")
        if not keep:  # prediction: no backward pass, no derivatives
            A = k.forward_into(Z, Z)
        elif D is None:  # no derivative buffer: keep Z beside a new A for act.backward
            A = k.forward_into(Z, None)
        elif k.homogeneous:  # A = Z ⊙ f'(Z), and f' reads the same off Z as off A
            Dm = k.derivative_into(Z, Z, D[:m])
            if S is not None:  # f(Z) ⊙ S = Z ⊙ (f'(Z) ⊙ S): the mask costs one pass
                np.multiply(Dm, S, out=Dm)                               # eq. 20.2
            A = np.multiply(Z, Dm, out=Z)
        else:
            if k.needs_input:  # f'(Z) must be read before A overwrites Z
                k.derivative_into(Z, None, D[:m])
                A = k.forward_into(Z, Z)
            else:
                A = k.forward_into(Z, Z)
                k.derivative_into(None, A, D[:m])
            if S is not None:                                            # eq. 20.2
                np.multiply(A, S, out=A)
                np.multiply(D[:m], S, out=D[:m])
    raise AssertionError("unreachable")


def backward(net, dZ: Array, inputs: list[Array], pre: list[Array | None], lam: float,
             ws: Workspace, sgd_lr: float | None = None) -> None:
    """``core.backprop.backward`` (with ``core.losses.l2_penalty_grad`` folded into the weight
    gradient's GEMM): fill ``net.flat_grad`` from δ_L = dZ, or with ``sgd_lr`` update the
    parameters in the products instead (see the module docstring)."""
    m = dZ.shape[0]
    ones = ws.ones[:m]
    for l in range(net.n_layers - 1, -1, -1):
        W = net.weights[l]
        dA = np.matmul(dZ, W.T, out=ws.dZ[l - 1][:m]) if l > 0 else None    # eq. 2.4, old W
        if sgd_lr is None:
            gW = net.weight_grads[l]
            if lam:  # 2λW first, then A_{l-1}ᵀδ_l added by the GEMM's β = 1: no temporary
                np.multiply(W, 2 * lam, out=gW)                              # eq. 5.2
                gemm_tn(1.0, inputs[l], dZ, 1.0, gW)                         # eq. 2.2
            else:
                np.matmul(inputs[l].T, dZ, out=gW)                           # eq. 2.2
            np.matmul(ones, dZ, out=net.bias_grads[l])                       # eq. 2.3
        else:
            gemm_tn(-sgd_lr, inputs[l], dZ, 1 - 2 * lam * sgd_lr, W)         # eq. 2.2 + step
            g = np.matmul(ones, dZ, out=net.bias_grads[l])                   # eq. 2.3
            np.subtract(net.biases[l], np.multiply(g, sgd_lr, out=g), out=net.biases[l])  # step
        if l == 0:
            break
        if ws.D[l - 1] is not None:
            dZ = np.multiply(dA, ws.D[l - 1][:m], out=dA)                    # eq. 2.5
        else:
            dZ = net.activations[l - 1].backward(dA, pre[l - 1], inputs[l])


def loss_and_grads(net, X: Array, y: Array, w: Array | None, ws: Workspace,
                   part: str = "total", sgd_lr: float | None = None, masks=None) -> StepResult:
    """``core.backprop.loss_and_grads`` for a training step, on validated inputs
    (m ≤ ws.capacity);
    gradients of the ``part`` ("total" or "data") in ``net.flat_grad``, or, with ``sgd_lr``,
    the plain-SGD update done in place (``part`` must then be "total"); ``masks``: dropout
    scales per hidden layer (see :func:`forward`)."""
    if sgd_lr is not None and part != "total":
        raise ValueError("a fused SGD step needs the total loss")
    if not ws.fits(net, X.shape[0]):
        raise InputError(f"a batch of {X.shape[0]} rows does not fit this workspace (made for "
                         f"{ws.capacity} rows of a {ws.sizes} {ws.dtype.name} network)")
    lam = net.l2 if part == "total" else 0.0
    l2_loss = l2_penalty(net.weights, net.l2)  # before a fused step changes the weights
    m = X.shape[0]
    logits, inputs, pre = forward(net, X, ws, keep=True, masks=masks)
    stats: dict = {}
    data_loss, dZ = LOSSES[net.output](logits, y, w, out=ws.dZ[-1][:m], work=ws.T[:m], stats=stats,
                                       **net.head_params)
    # rows predicted right (None for regression): the fused loss counts them when it can
    correct = stats["correct"] if "correct" in stats else n_correct(net.output, logits, y)
    backward(net, dZ, inputs, pre, lam, ws, sgd_lr)
    return StepResult(data_loss, l2_loss if part == "total" else 0.0, correct)
