import time, statistics
import numpy as np
pc = time.perf_counter
rng = np.random.default_rng(0)
for m in (128, 512):
    Z0 = rng.standard_normal((m, 256), dtype=np.float32)
    Z = Z0.copy(); D = np.empty_like(Z); Db = np.empty(Z.shape, bool)
    big = np.empty((2048, 2048), np.float32)
    def gt_mul():
        np.greater(Z, 0, out=D); np.multiply(Z, D, out=Z)
    def heav_mul():
        np.heaviside(Z, 0, out=D); np.multiply(Z, D, out=Z)
    def gtb_view():
        np.greater(Z, 0, out=Db); D[...] = Db; np.multiply(Z, D, out=Z)
    def max_only(): np.maximum(Z, 0, out=Z)
    def gt_only(): np.greater(Z, 0, out=D)
    def gtb_only(): np.greater(Z, 0, out=Db)
    fs = [gt_mul, heav_mul, gtb_view, max_only, gt_only, gtb_only]
    t = {f.__name__: [] for f in fs}
    for r in range(200):
        for f in fs:
            Z[...] = Z0
            big[::64] += 1
            s = pc(); f(); t[f.__name__].append(pc() - s)
    print(m, " ".join(f"{k}={statistics.median(v)*1e6:.1f}" for k, v in t.items()))
