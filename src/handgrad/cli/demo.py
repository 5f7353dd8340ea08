"""The seed-004 demo: train X (n×3) → 10 → ReLU → 6 → ReLU → 3 → softmax by plain gradient descent."""

from __future__ import annotations

import numpy as np

from ..data import make_three_class
from ..network import MLP


def run_demo(epochs: int = 3000, lr: float = 0.1, seed: int = 0, every: int = 300,
             print_fn=print) -> dict:
    """Full-batch gradient descent ``θ ← θ − lr·∂L/∂θ`` on the generated 3-class dataset.

    Trains on 75% of the samples and reports accuracy on the held-out 25%. Returns a dict
    with the loss trace and the final train / test accuracy.
    """
    X, y = make_three_class(800, seed=seed)
    n_train = 600
    Xtr, ytr, Xte, yte = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    mean, std = Xtr.mean(axis=0), Xtr.std(axis=0)
    Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
    net = MLP([3, 10, 6, 3], activation="relu", l2=1e-4, dtype="float64", seed=seed)
    print_fn(f"seed-004 network: {net!r}")
    print_fn(f"data: {n_train} training and {len(yte)} test samples, 3 features, 3 classes")
    losses = []
    for epoch in range(1, epochs + 1):
        loss, _ = net.loss_and_grads(Xtr, ytr)
        net.flat -= lr * net.flat_grad  # gradient descent on every W and b at once
        losses.append(loss)
        if epoch == 1 or epoch % every == 0:
            acc = float(np.mean(net.predict(Xtr) == ytr))
            print_fn(f"epoch {epoch:5d}  loss {loss:.4f}  train accuracy {acc:.3f}")
    train_acc = float(np.mean(net.predict(Xtr) == ytr))
    test_acc = float(np.mean(net.predict(Xte) == yte))
    print_fn(f"final: train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}")
    return {"losses": losses, "train_accuracy": train_acc, "test_accuracy": test_acc}
