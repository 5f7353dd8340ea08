import sys, time, statistics
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3] / "src"))
from handgrad.fast.blas import gemm_tn
from threadpoolctl import threadpool_limits
rng = np.random.default_rng(0)
pc = time.perf_counter
for b in (128, 512):
    res = {}
    for (k, n) in ((784, 256), (256, 128)):
        A = rng.random((b, k), dtype=np.float32); dZ = rng.random((b, n), dtype=np.float32)
        W = rng.random((k, n), dtype=np.float32); dW = np.empty_like(W)
        f = {
          "matmul_T": lambda: np.matmul(A.T, dZ, out=dW),
          "gemm_tn_b1": lambda: gemm_tn(-1e-6, A, dZ, 1.0, W),
          "gemm_tn_b0": lambda: gemm_tn(1.0, A, dZ, 0.0, dW),
        }
        t = {kk: [] for kk in f}
        with threadpool_limits(2, user_api="blas"):
            for r in range(30):
                for kk, fn in f.items():
                    s = pc()
                    for _ in range(20): fn()
                    t[kk].append((pc() - s) / 20 * 1e6)
        print(b, k, n, " ".join(f"{kk}={statistics.median(v):.1f}" for kk, v in t.items()), flush=True)
