"""The timed callables: a handgrad epoch, the GEMM floor of an epoch, a PyTorch eager epoch, a
scikit-learn epoch, and the handgrad-vs-floor measurement that parts (a), (d) and the
``--baseline-src`` children share, and the step against the floor in alternating chunks of
steps (part (a)); plus the loss checks and PyTorch's optimizer defaults."""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np

import handgrad as hg

from .protocol import (ADAM_LR, SGD_LR, SIZES, Config, handgrad_threads, interleaved, new_net,
                       numpy_blas_controller, stats)


def handgrad_epoch(net, X, y, batch: int, optimizer: str, shuffle: bool = False) -> Callable[[], object]:
    """One handgrad epoch (SGD lr 0.01 without momentum, or Adam lr 1e-3), with no shuffling
    unless ``shuffle`` (then fit's own: a new order every call, its rows gathered per batch)."""
    lr = SGD_LR if optimizer == "sgd" else ADAM_LR
    return lambda: hg.fit(net, X, y, epochs=1, batch_size=batch, optimizer=optimizer,
                          momentum=0.0, lr=lr, shuffle=shuffle, diagnostics=False)



class GemmFloor:
    """Exactly the matrix products of one epoch of MLP steps, back to back, into preallocated
    outputs: per batch, forward A_{l-1}·W_l for every layer, backward A_{l-1}ᵀ·dZ_l and (except
    for the first layer) dZ_l·W_lᵀ. A_0 is the real X batch (a view); the other A and dZ are
    fixed random arrays. Python overhead is one ``np.matmul`` call per product.

    With ``order`` (a permutation of X's rows) each batch's rows are first gathered from X in
    that order into one reused buffer (``np.take(..., out=)``): the floor of a shuffled epoch,
    which has to read its rows from wherever they are (issue 28: the gather counts)."""

    def __init__(self, sizes: list[int], X: np.ndarray, batch: int, seed: int = 2,
                 order: np.ndarray | None = None):
        rng = np.random.default_rng(seed)

        def rand(*shape):
            return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)

        L = len(sizes) - 1
        W = [rand(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        A = [None] + [rand(batch, n) for n in sizes[1:-1]]       # inputs of layers 2..L
        dZ = [rand(batch, n) for n in sizes[1:]]
        Z = [np.empty((batch, n), np.float32) for n in sizes[1:]]
        dW = [np.empty((a, b), np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
        dA = [None] + [np.empty((batch, n), np.float32) for n in sizes[1:-1]]
        rows = np.empty((batch, X.shape[1]), X.dtype)
        self.X, self.batches = X, []
        for s in range(0, X.shape[0], batch):
            k = min(batch, X.shape[0] - s)
            gather = None if order is None else (order[s:s + k], rows[:k])
            ins = [X[s:s + k] if order is None else rows[:k]] + [a[:k] for a in A[1:]]
            ops = []
            for l in range(L):
                ops.append((ins[l], W[l], Z[l][:k]))
            for l in reversed(range(L)):
                ops.append((ins[l].T, dZ[l][:k], dW[l]))
                if l > 0:
                    ops.append((dZ[l][:k], W[l].T, dA[l][:k]))
            self.batches.append((gather, ops))
        self.products_per_batch = 3 * L - 1

    @property
    def ops(self) -> list:
        return [op for _, ops in self.batches for op in ops]

    def epoch(self) -> None:
        matmul, take, X = np.matmul, np.take, self.X
        for gather, ops in self.batches:
            if gather is not None:
                take(X, gather[0], axis=0, out=gather[1])
            for a, b, out in ops:
                matmul(a, b, out=out)


def floor_epoch(sizes, X, batch: int, threads: int, gather: bool = False) -> Callable[[], None]:
    """The GEMM floor of one epoch with numpy's BLAS set to ``threads`` (as handgrad used);
    with ``gather``, of a shuffled epoch (its rows gathered in a random order first)."""
    order = np.random.default_rng(3).permutation(X.shape[0]) if gather else None
    floor, blas = GemmFloor(sizes, X, batch, order=order), numpy_blas_controller()

    def run():
        with blas.limit(limits=threads):
            floor.epoch()
    return run


def step_vs_floor(sizes: list[int], X, y, batch: int, threads: int, rounds: int = 3,
                  chunk: int = 8) -> dict:
    """handgrad's training step as ``fit`` runs it (plain SGD fused into the products, the rows
    in order) against the floor's products of the same batches, alternating in chunks of
    ``chunk`` steps — the order flipped every chunk — over ``rounds`` epochs after an untimed
    one, at ``threads`` BLAS threads. The machine's drift over seconds falls on both alike,
    which whole epochs alternating do not give on a noisy machine (their handgrad/floor at batch
    512 moved from 0.97 to 1.20 between two runs here, while this ratio held 1.13–1.17).
    ``fit``'s loop around the step (slicing, sums, callbacks) is not in it: it bounds the
    step, not the epoch. Returns {"ratio": step / floor, "seconds": per epoch of each}."""
    n_steps = X.shape[0] // batch                     # whole batches only, on both sides
    if n_steps == 0:
        raise ValueError(f"step_vs_floor needs at least one batch of {batch} rows, X has {X.shape[0]}")
    net = new_net(sizes)
    yy, ws, floor = net.check_y(y, X.shape[0]), net.workspace(batch), GemmFloor(sizes, X, batch)
    total = {"step": 0.0, "floor": 0.0}
    flip = 0  # one count over all rounds: each side goes first in every other chunk

    def steps(batches):
        for j in batches:
            net.train_step(X[j * batch:(j + 1) * batch], yy[j * batch:(j + 1) * batch], None, ws,
                           sgd_lr=SGD_LR)

    def products(batches):
        for j in batches:
            for a, b, out in floor.batches[j][1]:
                np.matmul(a, b, out=out)

    with numpy_blas_controller().limit(limits=threads):
        for r in range(rounds + 1):
            for start in range(0, n_steps, chunk):
                batches = range(start, min(start + chunk, n_steps))
                pair = (("step", steps), ("floor", products))
                flip += 1
                for name, fn in (pair if flip % 2 else pair[::-1]):
                    t0 = time.perf_counter()
                    fn(batches)
                    if r:
                        total[name] += time.perf_counter() - t0
    return {"ratio": total["step"] / total["floor"],
            "seconds": {k: v / rounds for k, v in total.items()}, "chunk": chunk, "rounds": rounds}


def handgrad_vs_floor(cfg: Config, sizes: list[int], X, y, batch: int,
                      optimizer: str = "sgd") -> tuple[dict, object]:
    """A new net; handgrad's epoch interleaved with its GEMM floor at handgrad's thread count.
    Returns ({BLAS threads, ratio of the medians handgrad/floor, seconds of both}, the net as
    the warm-up and timed epochs left it)."""
    net = new_net(sizes)
    threads = handgrad_threads(net, X, y, batch, optimizer)
    fns = {"handgrad": handgrad_epoch(net, X, y, batch, optimizer),
           "floor": floor_epoch(sizes, X, batch, threads)}
    times = interleaved(fns, cfg.reps, cfg.warmup, cfg.pause)
    med = {k: statistics.median(v) for k, v in times.items()}
    return ({"threads": threads, "ratio": med["handgrad"] / med["floor"],
             "seconds": {k: stats(v) for k, v in times.items()}}, net)


def torch_model_like(net):
    """``Sequential(Linear, ReLU, …, Linear)`` in float32 holding handgrad's weights."""
    import torch

    params = net.params
    layers = []
    for i in range(0, len(params), 2):
        W, b = params[i], params[i + 1]
        lin = torch.nn.Linear(W.shape[0], W.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T, dtype=np.float32)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float32)))
        layers.append(lin)
        if i + 2 < len(params):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_epoch(model, opt, Xt, yt, batch: int) -> Callable[[], None]:
    """One PyTorch eager epoch over contiguous slices of preconverted tensors."""
    import torch

    cross_entropy = torch.nn.functional.cross_entropy
    n = Xt.shape[0]

    def run():
        for s in range(0, n, batch):
            loss = cross_entropy(model(Xt[s:s + batch]), yt[s:s + batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return run


def sklearn_sgd_epoch(X, y, batch: int, info: dict, estimator=None) -> Callable[[], None]:
    """One MLPClassifier SGD epoch (a new estimator per call: its ``fit`` includes the input
    checks and the initialisation) — scikit-learn's, or ``estimator`` with its parameters
    (handgrad's, ``handgrad.sklearn.MLPClassifier``); notes its dtype and loss."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def run():
        clf = (estimator or MLPClassifier)(hidden_layer_sizes=tuple(SIZES[1:-1]), activation="relu",
                            solver="sgd", momentum=0.0, alpha=0.0, max_iter=1, shuffle=False,
                            batch_size=batch, learning_rate_init=SGD_LR, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter=1 on purpose
            clf.fit(X, y)
        info["dtype"] = str(clf.coefs_[0].dtype)
        info["loss"] = float(clf.loss_)
    return run


def mean_loss_handgrad(net, X, y) -> float:
    return float(net.loss(X, y))


def mean_loss_torch(model, X, y) -> float:
    import torch

    with torch.inference_mode():
        return float(torch.nn.functional.cross_entropy(model(torch.from_numpy(X)),
                                                       torch.from_numpy(y)))


def torch_optimizer_defaults(model) -> dict:
    """What PyTorch's ``foreach=None``/``fused=None`` resolve to for these (CPU) parameters."""
    try:
        from torch.optim.optimizer import _default_to_fused_or_foreach
        fused, foreach = _default_to_fused_or_foreach(list(model.parameters()), False, False)
        return {"foreach": bool(foreach), "fused": bool(fused)}
    except Exception as exc:   # a private helper; report rather than guess
        return {"error": repr(exc)}
