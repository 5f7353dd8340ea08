"""A learner's backward pass, as the template of docs/check.md asks, in both conventions — with
switches that put one of the catalogued slips at one layer, the way a learner would write it
("half_l2@2": the penalty's gradient written λW in layer 2; "no_mask@1": layer 1's mask
dropped). The tests of handgrad check grade these."""

import numpy as np


def f(act, Z):
    return {"relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
            "tanh": np.tanh, "identity": lambda z: z,
            "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z)}[act](Z)


def df(act, Z):
    if act == "relu":
        return (Z > 0).astype(float)
    if act == "leaky_relu":
        return np.where(Z > 0, 1.0, 0.01)
    if act == "sigmoid":
        s = 1 / (1 + np.exp(-Z))
        return s * (1 - s)
    if act == "tanh":
        return 1 - np.tanh(Z) ** 2
    return np.ones_like(Z)


def softmax(Z, axis):
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


def output_error(P, Y, m, slips):
    """δ_L, or what a slip at the output makes of it (the same in both conventions)."""
    if "softmax_diagonal" in slips:
        return (Y * P - Y) / m           # −Y/P times the diagonal P(1 − P)
    if "no_mean" in slips:
        return P - Y
    if "output_sign" in slips:
        return (Y - P) / m
    return (P - Y) / m / (m if "double_mean" in slips else 1)


def layer_gradients(grad, bias, grad_transposed, W, b, l2, m, k, slips):
    """Layer k's (dW, db) from their data parts (``grad_transposed``: the data part of dW
    written the other way round), with the slips of one array made at layer k."""
    if f"array_no_mean:W@{k}" in slips:
        grad = grad * m
    if f"array_double_mean:W@{k}" in slips:
        grad = grad / m
    if f"array_no_mean:b@{k}" in slips:
        bias = bias * m
    if f"array_double_mean:b@{k}" in slips:
        bias = bias / m
    grad = grad + (0 if f"no_l2@{k}" in slips else l2 if f"half_l2@{k}" in slips else 2 * l2) * W
    if f"l2_on_bias@{k}" in slips:
        bias = bias + 2 * l2 * b
    if f"transposed@{k}" in slips:
        grad = grad_transposed + 2 * l2 * W.T
    if f"negated:W@{k}" in slips:
        grad = -grad
    if f"negated:b@{k}" in slips:
        bias = -bias
    return grad, bias


def row_backprop(X, Y, weights, biases, l2, act="relu", head="softmax", slips=()):
    """Row convention: X (m, n0), W (n_in, n_out), b (n_out,)."""
    m, L = X.shape[0], len(weights)
    As, Zs, A = [X], [], X
    for l in range(L):
        Z = A @ weights[l] + biases[l]
        Zs.append(Z)
        if l < L - 1:
            A = f(act, Z)
            As.append(A)
    P = softmax(Zs[-1], 1) if head == "softmax" else 1 / (1 + np.exp(-Zs[-1])) if head == "logistic" else Zs[-1]
    delta = output_error(P, Y, m, slips)
    dW, db = [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        k = l + 1
        dW[l], db[l] = layer_gradients(As[l].T @ delta, delta.sum(axis=0), delta.T @ As[l], weights[l],
                                       biases[l], l2, m, k, slips)
        if l > 0:
            j = k - 1                       # the hidden layer whose δ comes next
            if f"wrong_weights@{j}" in slips:
                dA = delta @ weights[l - 1].T
            elif f"no_transpose@{j}" in slips:
                dA = delta @ weights[l]
            else:
                dA = delta @ weights[l].T
            if f"no_mask@{j}" in slips:
                delta = dA
            elif f"derivative_at_A@{j}" in slips:
                delta = dA * df(act, As[l])  # σ′ of the activation, not of Z
            elif f"mask_of_next_layer@{j}" in slips:
                delta = dA * df(act, Zs[l])
            else:
                delta = dA * df(act, Zs[l - 1])
    return dW, db


def column_backprop(X, Y, weights, biases, l2, act="relu", head="softmax", slips=()):
    """Column convention (seeds 001/003): X (n0, m), W (n_out, n_in), b (n_out, 1)."""
    m, L = X.shape[1], len(weights)
    As, Zs, A = [X], [], X
    for l in range(L):
        Z = weights[l] @ A + biases[l]
        Zs.append(Z)
        if l < L - 1:
            A = f(act, Z)
            As.append(A)
    P = softmax(Zs[-1], 0) if head == "softmax" else 1 / (1 + np.exp(-Zs[-1])) if head == "logistic" else Zs[-1]
    delta = output_error(P, Y, m, slips)
    dW, db = [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        k = l + 1
        dW[l], db[l] = layer_gradients(delta @ As[l].T, delta.sum(axis=1, keepdims=True), As[l] @ delta.T,
                                       weights[l], biases[l], l2, m, k, slips)
        if l > 0:
            j = k - 1
            if f"wrong_weights@{j}" in slips:
                dA = weights[l - 1].T @ delta
            elif f"no_transpose@{j}" in slips:
                dA = weights[l] @ delta
            else:
                dA = weights[l].T @ delta
            if f"no_mask@{j}" in slips:
                delta = dA
            elif f"derivative_at_A@{j}" in slips:
                delta = dA * df(act, As[l])
            elif f"mask_of_next_layer@{j}" in slips:
                delta = dA * df(act, Zs[l])
            else:
                delta = dA * df(act, Zs[l - 1])
    return dW, db


def raises(X, Y, weights, biases, l2):
    Z = X @ weights[1]  # the second layer's weights on the inputs: shapes that do not fit
    return [Z], [Z]
