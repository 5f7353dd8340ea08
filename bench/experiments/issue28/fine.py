"""Fine-interleaved A/B of the training step: current handgrad vs a baseline copy (package
handgrad_base), chunks of CH steps alternating, plus the GEMM floor's products for the same
batches. Prints per-batch-size sums and ratios."""
import sys, time
import numpy as np
ROOT = str(__import__("pathlib").Path(__file__).resolve().parents[3]); sys.path.insert(0, sys.argv[4]); sys.path.insert(0, ROOT)
import handgrad as hg, handgrad_base as hb
from bench.speed.workloads import GemmFloor
from threadpoolctl import threadpool_limits
threads = int(sys.argv[2]); epochs = int(sys.argv[3]); CH = 8
rng = np.random.default_rng(0)
n = 60000; sizes = [784, 256, 128, 10]
X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
pc = time.perf_counter
for b in map(int, sys.argv[1].split(",")):
    nets = {"cur": hg.MLP(sizes, dtype="float32", seed=0), "base": hb.MLP(sizes, dtype="float32", seed=0)}
    wss = {k: v.workspace(b) for k, v in nets.items()}
    ys = {k: v.check_y(y, n) for k, v in nets.items()}
    fl = GemmFloor(sizes, X, b)
    nb = n // b
    T = {"cur": 0.0, "base": 0.0, "floor": 0.0}
    with threadpool_limits(threads, user_api="blas"):
        for e in range(epochs + 1):
            if e == 1: T = {k: 0.0 for k in T}
            for s in range(0, nb, CH):
                idx = range(s, min(s + CH, nb))
                order = ["cur", "base", "floor"] if (s // CH) % 2 == 0 else ["floor", "base", "cur"]
                for k in order:
                    t = pc()
                    if k == "floor":
                        for j in idx:
                            for a, w, o in fl.batches[j][1]: np.matmul(a, w, out=o)
                    else:
                        net, ws, yy = nets[k], wss[k], ys[k]
                        for j in idx:
                            net.train_step(X[j*b:(j+1)*b], yy[j*b:(j+1)*b], None, ws, sgd_lr=0.01)
                    T[k] += pc() - t
    print(f"batch {b} threads {threads}: cur/base {T['cur']/T['base']:.3f}  cur/floor {T['cur']/T['floor']:.3f}  base/floor {T['base']/T['floor']:.3f}", flush=True)
