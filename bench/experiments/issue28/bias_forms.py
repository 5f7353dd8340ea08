import sys, time, statistics, ctypes
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "src"))
from handgrad.fast import blas
from threadpoolctl import threadpool_limits
g = blas._FUNCS[np.dtype(np.float32)]["gemm"]
pc = time.perf_counter
rng = np.random.default_rng(0)
for m in (128, 512):
  for k, n in ((784, 256), (256, 128)):
    A = rng.random((m, k), dtype=np.float32); W = rng.random((k, n), dtype=np.float32); b = rng.random(n, dtype=np.float32)
    Z = np.empty((m, n), np.float32)
    pa, pw, pz = A.ctypes.data, W.ctypes.data, Z.ctypes.data
    def mm_add():
        np.matmul(A, W, out=Z); np.add(Z, b, out=Z)
    def fill_gemm():
        Z[...] = b; g(101, 111, 111, m, n, k, 1.0, pa, k, pw, n, 1.0, pz, n)
    def mm_only():
        np.matmul(A, W, out=Z)
    fs = [mm_add, fill_gemm, mm_only]
    t = {f.__name__: [] for f in fs}
    with threadpool_limits(2, user_api="blas"):
        for r in range(40):
            for f in fs:
                s = pc()
                for _ in range(10): f()
                t[f.__name__].append((pc() - s) / 10)
    print(m, k, n, " ".join(f"{kk}={statistics.median(v)*1e6:.1f}" for kk, v in t.items()))
