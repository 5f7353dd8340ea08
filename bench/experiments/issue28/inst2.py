import sys, time, statistics, collections
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
import handgrad as hg
from handgrad.fast import step
from handgrad.fast.blas import gemm_tn
from handgrad.fast.kernels import LOSSES
from threadpoolctl import threadpool_limits
rng = np.random.default_rng(0)
n = 60000; sizes = [784, 256, 128, 10]
X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
threads = int(sys.argv[2])
pc = time.perf_counter
for b in map(int, sys.argv[1].split(",")):
    net = hg.MLP(sizes, activation="relu", dtype="float32", l2=0.0, seed=0)
    ws = net.workspace(b)
    acc = collections.Counter()
    batches = [(X[s:s+b], y[s:s+b]) for s in range(0, n - b + 1, b)]
    def run():
        for xb, yb in batches:
            t0 = pc(); m = b; A = xb; inputs = []
            for l in range(3):
                inputs.append(A)
                t = pc(); Z = np.matmul(A, net.weights[l], out=ws.Z[l][:m]); acc[f"f_mm{l}"] += pc() - t
                t = pc(); Z += net.biases[l]; acc[f"f_bias{l}"] += pc() - t
                if l == 2: break
                t = pc(); D = np.greater(Z, 0, out=ws.D[l][:m]); acc[f"f_gt{l}"] += pc() - t
                t = pc(); A = np.multiply(Z, D, out=Z); acc[f"f_mul{l}"] += pc() - t
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
    with threadpool_limits(threads, user_api="blas"):
        run(); acc.clear()
        for r in range(3): run()
    tot = acc["step_total"]
    print(f"batch {b} threads {threads}: per step µs (total {tot/3/len(batches)*1e6:.1f})")
    print("  " + "  ".join(f"{k}={v/3/len(batches)*1e6:.1f}" for k, v in acc.items() if k != "step_total"))
