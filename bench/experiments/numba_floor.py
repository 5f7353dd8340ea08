"""Experiment: bench/numpy_floor.py's digits loop with the elementwise passes fused by numba.

    pip install numba && python bench/experiments/numba_floor.py sgd|adam

Would a JIT (an optional dependency handgrad does not have) bring issue 5's 0.5 × scikit-
learn within reach? Each group of elementwise passes becomes one compiled loop: bias + ReLU +
its derivative, bias + softmax + cross-entropy + δ, the masked δ₁ with its column sums, the
optimizer update. The five GEMMs stay numpy's. As in numpy_floor.py there is no Python-level
logic, no L2 term and no check, and the numbers are not a trained model: only the cost counts.
Run on 2026-11-23 (numba 0.68.1, numpy 2.4.6, one BLAS thread): 0.43 (sgd) and 0.46 (adam)
× scikit-learn's fit, against 0.50 / 0.50 for the numpy loop.
"""
import sys, time, warnings
import numpy as np, numba
from threadpoolctl import threadpool_limits
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.neural_network import MLPClassifier as S
warnings.simplefilter("ignore")

@numba.njit(cache=True, fastmath=False)
def bias_relu(Z, b, D):
    m, n = Z.shape
    for i in range(m):
        for j in range(n):
            z = Z[i, j] + b[j]
            if z > 0.0:
                Z[i, j] = z; D[i, j] = 1.0
            else:
                Z[i, j] = 0.0; D[i, j] = 0.0

@numba.njit(cache=True)
def softmax_ce(Z, b, y, inv_m):
    m, K = Z.shape
    loss = 0.0
    for i in range(m):
        mx = -np.inf
        for k in range(K):
            Z[i, k] += b[k]
            if Z[i, k] > mx: mx = Z[i, k]
        s = 0.0
        for k in range(K):
            e = np.exp(Z[i, k] - mx); Z[i, k] = e; s += e
        loss += np.log(s) - (np.log(Z[i, y[i]]))
        for k in range(K):
            Z[i, k] = Z[i, k] / s * inv_m
        Z[i, y[i]] -= inv_m
    return loss * inv_m

@numba.njit(cache=True)
def mask_colsum(dA, D, g):
    m, n = dA.shape
    for j in range(n): g[j] = 0.0
    for i in range(m):
        for j in range(n):
            v = dA[i, j] * D[i, j]; dA[i, j] = v; g[j] += v

@numba.njit(cache=True)
def colsum(A, g):
    m, n = A.shape
    for j in range(n): g[j] = 0.0
    for i in range(m):
        for j in range(n): g[j] += A[i, j]

@numba.njit(cache=True)
def nesterov(theta, g, v, lr, mu):
    for i in range(theta.size):
        vi = mu * v[i] - lr * g[i]; v[i] = vi; theta[i] += mu * vi - lr * g[i]

@numba.njit(cache=True)
def adam(theta, g, m1, m2, a, b1, b2, eps):
    for i in range(theta.size):
        gi = g[i]; mi = b1 * m1[i] + (1 - b1) * gi; si = b2 * m2[i] + (1 - b2) * gi * gi
        m1[i] = mi; m2[i] = si; theta[i] -= a * mi / (np.sqrt(si) + eps)

X, yall = load_digits(return_X_y=True)
Xtr, _, ytr, _ = train_test_split(X, yall, random_state=0, stratify=yall)
Xtr = StandardScaler().fit_transform(Xtr)
solver = sys.argv[1]
kw = dict(hidden_layer_sizes=(100,), max_iter=200, random_state=0, solver=solver)
if solver == "sgd": kw["learning_rate_init"] = 0.01
n, d = Xtr.shape; H, K, bs = 100, 10, 200
r = np.random.default_rng(0)
W1, b1, W2, b2 = r.normal(size=(d, H)) * .1, np.zeros(H), r.normal(size=(H, K)) * .1, np.zeros(K)
G1, g1, G2, g2 = np.empty_like(W1), np.empty_like(b1), np.empty_like(W2), np.empty_like(b2)
flat = np.zeros(W1.size + H + W2.size + K); g = np.zeros_like(flat); v = np.zeros_like(flat); s2 = np.zeros_like(flat)
Z1 = np.empty((bs, H)); D = np.empty((bs, H)); Z2 = np.empty((bs, K)); dA = np.empty((bs, H))
Xb = np.empty((bs, d)); yb = np.zeros(bs, dtype=np.int64); idx = np.arange(n)
def run(steps):
    for s in range(steps):
        np.take(Xtr, idx[:bs], axis=0, out=Xb)
        np.matmul(Xb, W1, out=Z1)
        bias_relu(Z1, b1, D)
        np.matmul(Z1, W2, out=Z2)
        softmax_ce(Z2, b2, yb, 1.0 / bs)
        np.matmul(Z1.T, Z2, out=G2)
        colsum(Z2, g2)
        np.matmul(Z2, W2.T, out=dA)
        mask_colsum(dA, D, g1)
        np.matmul(Xb.T, dA, out=G1)
        if solver == "sgd": nesterov(flat, g, v, 0.01, 0.9)
        else: adam(flat, g, v, s2, 1e-3, 0.9, 0.999, 1e-8)
with threadpool_limits(1):
    m = S(**kw).fit(Xtr, ytr); steps = m.n_iter_ * -(-n // bs)
    run(50)
    ts, tf = [], []
    for _ in range(5):
        t0 = time.perf_counter(); S(**kw).fit(Xtr, ytr); ts.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); run(steps); tf.append(time.perf_counter() - t0)
    print(f"digits {solver}: sklearn {np.median(ts)*1e3:.0f} ms; GEMMs + numba-fused elementwise {np.median(tf)*1e3:.0f} ms = {np.median(tf)/np.median(ts):.3f}; {np.median(tf)/steps*1e6:.0f} us/step")
