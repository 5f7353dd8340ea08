import sys, time, statistics, collections
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
import handgrad as hg
from handgrad.fast.blas import gemm_tn, affine_into
from handgrad.fast.kernels import LOSSES
from bench.speed.workloads import GemmFloor
from threadpoolctl import threadpool_limits
rng = np.random.default_rng(0)
n = 60000; sizes = [784, 256, 128, 10]
X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
threads = int(sys.argv[2])
pc = time.perf_counter
for b in map(int, sys.argv[1].split(",")):
    net = hg.MLP(sizes, activation="relu", dtype="float32", l2=0.0, seed=0)
    ws = net.workspace(b)
    fl = GemmFloor(sizes, X, b)
    acc = collections.Counter()
    nb = n // b
    def steps(js):
        for j in js:
            xb, yb = X[j*b:(j+1)*b], y[j*b:(j+1)*b]
            t0 = pc(); m = b; A = xb; inputs = []
            for l in range(3):
                inputs.append(A)
                t = pc(); Z = affine_into(A, net.weights[l], net.biases[l], ws.Z[l][:m]); acc[f"f_mm{l}"] += pc() - t
                if l == 2: break
                t = pc(); D = np.greater(Z, 0, out=ws.D[l][:m]); A = np.multiply(Z, D, out=Z); acc[f"f_relu{l}"] += pc() - t
            t = pc(); stats = {}; loss, dZ = LOSSES["softmax"](Z, yb, None, out=ws.dZ[-1][:m], work=ws.T[:m], stats=stats); acc["loss"] += pc() - t
            ones = ws.ones[:m]
            for l in (2, 1, 0):
                W = net.weights[l]
                if l > 0:
                    t = pc(); dA = np.matmul(dZ, W.T, out=ws.dZ[l - 1][:m]); acc[f"b_dA{l}"] += pc() - t
                t = pc(); gemm_tn(-1e-4, inputs[l], dZ, 1.0, W); acc[f"b_gemm{l}"] += pc() - t
                t = pc(); g = np.matmul(ones, dZ, out=net.bias_grads[l]); np.subtract(net.biases[l], np.multiply(g, 1e-4, out=g), out=net.biases[l]); acc[f"b_bias{l}"] += pc() - t
                if l == 0: break
                t = pc(); dZ = np.multiply(dA, ws.D[l - 1][:m], out=dA); acc[f"b_mulD{l}"] += pc() - t
            acc["step_total"] += pc() - t0
    def floor(js):
        for j in js:
            ops = fl.batches[j][1]
            for i, (a, w, o) in enumerate(ops):
                t = pc(); np.matmul(a, w, out=o); acc[f"floor{i}"] += pc() - t
    def real(js):
        for j in js:
            t = pc(); net.train_step(X[j*b:(j+1)*b], y[j*b:(j+1)*b], None, ws, sgd_lr=1e-4); acc["real_step"] += pc() - t
    with threadpool_limits(threads, user_api="blas"):
        for e in range(3):
            if e == 1: acc.clear()
            for s in range(0, nb, 8):
                js = range(s, min(s + 8, nb)); steps(js); floor(js); real(js)
    k = 2 * nb
    print(f"batch {b} threads {threads}: per step µs: instrumented step {acc['step_total']/k*1e6:.1f}, real step {acc['real_step']/k*1e6:.1f}, floor {sum(v for kk, v in acc.items() if kk.startswith('floor'))/k*1e6:.1f}")
    prods = sum(v for kk, v in acc.items() if kk.startswith(("f_mm", "b_dA", "b_gemm")))
    print(f"  products in step {prods/k*1e6:.1f}; floor per op " + " ".join(f"{acc[f'floor{i}']/k*1e6:.0f}" for i in range(8)))
    print("  " + "  ".join(f"{kk}={v/k*1e6:.1f}" for kk, v in acc.items() if not kk.startswith(("floor", "step_total", "real"))))
