import sys, time, statistics
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
import handgrad as hg
from handgrad.fast import step
from threadpoolctl import threadpool_limits
from bench.speed.workloads import GemmFloor
rng = np.random.default_rng(0)
n = 60000; sizes = [784, 256, 128, 10]
X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
threads = int(sys.argv[2]); reps = int(sys.argv[3])
for b in map(int, sys.argv[1].split(",")):
    net = hg.MLP(sizes, activation="relu", dtype="float32", l2=0.0, seed=0)
    ws = net.workspace(b)
    fl = GemmFloor(sizes, X, b)
    fops = [op for i, op in enumerate(fl.ops) if i % 8 < 3]
    bops = [op for i, op in enumerate(fl.ops) if i % 8 >= 3]
    batches = [(X[s:s+b], y[s:s+b]) for s in range(0, n, b)]
    def floor_f():
        for a, w, o in fops: np.matmul(a, w, out=o)
    def floor_b():
        for a, w, o in bops: np.matmul(a, w, out=o)
    def fwd():
        for xb, yb in batches: step.forward(net, xb, ws, keep=True)
    m = b
    dZ = rng.standard_normal((b, 10), dtype=np.float32) * 1e-3
    def bwd():
        logits, inputs, pre = step.forward(net, batches[0][0], ws, keep=True)
        for xb, yb in batches:
            if xb.shape[0] != b: continue
            inputs[0] = xb
            step.backward(net, dZ[:xb.shape[0]], inputs, pre, 0.0, ws, sgd_lr=1e-4)
    def full():
        for xb, yb in batches: step.loss_and_grads(net, xb, yb, None, ws, sgd_lr=1e-4)
    fns = {"floor_f": floor_f, "fwd": fwd, "floor_b": floor_b, "bwd": bwd, "floor": fl.epoch, "full": full}
    times = {k: [] for k in fns}
    with threadpool_limits(threads, user_api="blas"):
        for f in fns.values(): f()
        for r in range(reps):
            for k, f in fns.items():
                t = time.perf_counter(); f(); times[k].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(b, threads, " ".join(f"{k}={v:.3f}" for k, v in med.items()), f"fwd/ff={med['fwd']/med['floor_f']:.2f} bwd/fb={med['bwd']/med['floor_b']:.2f} full/floor={med['full']/med['floor']:.2f}", flush=True)
