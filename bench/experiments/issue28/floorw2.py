import sys, time
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
from handgrad.fast.blas import gemm_tn
from bench.speed.workloads import GemmFloor
from threadpoolctl import threadpool_limits
rng = np.random.default_rng(0)
n = 60000; sizes = [784, 256, 128, 10]
X = rng.random((n, 784), dtype=np.float32)
threads = int(sys.argv[2]); pc = time.perf_counter
for b in map(int, sys.argv[1].split(",")):
    fl = GemmFloor(sizes, X, b); nb = n // b
    # the same products with each weight-gradient product written into its W (β = 1, α = −η)
    Ws = {i: rng.standard_normal(fl.batches[0][1][i][2].shape, dtype=np.float32) for i in (3, 5, 7)}
    def floor(js):
        for j in js:
            for a, w, o in fl.batches[j][1]: np.matmul(a, w, out=o)
    def floor_into_w(js):
        for j in js:
            for i, (a, w, o) in enumerate(fl.batches[j][1]):
                if i in (3, 5, 7):   # weight-gradient products (A^T dZ): into the layer's W
                    W = Ws[i]
                    if W.size >= 32768: gemm_tn(-1e-6, a.T, w, 1.0, W)
                    else: np.matmul(a, w, out=o)
                else:
                    np.matmul(a, w, out=o)
    T = {"floor": 0.0, "into_w": 0.0}
    with threadpool_limits(threads, user_api="blas"):
        for e in range(4):
            if e == 1: T = {k: 0.0 for k in T}
            for s in range(0, nb, 8):
                js = range(s, min(s + 8, nb))
                for k, f in (("floor", floor), ("into_w", floor_into_w)) if (s // 8) % 2 else (("into_w", floor_into_w), ("floor", floor)):
                    t = pc(); f(js); T[k] += pc() - t
    print(f"batch {b} threads {threads}: into_w/floor {T['into_w']/T['floor']:.3f}", flush=True)
