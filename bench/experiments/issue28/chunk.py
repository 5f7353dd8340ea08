import sys, time, statistics
import numpy as np, handgrad as hg
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
from bench.speed.workloads import GemmFloor
from threadpoolctl import threadpool_limits
rng = np.random.default_rng(0)
n = 60000; X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
b = int(sys.argv[1]); th = int(sys.argv[2])
net = hg.MLP([784,256,128,10], dtype="float32", seed=0)
yy = net.check_y(y, n); ws = net.workspace(b); fl = GemmFloor([784,256,128,10], X, b)
nb = n // b
def steps(js):
    for j in js: net.train_step(X[j*b:(j+1)*b], yy[j*b:(j+1)*b], None, ws, sgd_lr=0.01)
def floor(js):
    for j in js:
        for a, w, o in fl.batches[j][1]: np.matmul(a, w, out=o)
with threadpool_limits(th, user_api="blas"):
    for CH in (nb, 64, 8):
        T = {"steps": 0.0, "floor": 0.0}
        for e in range(4):
            for s in range(0, nb, CH):
                js = range(s, min(s + CH, nb))
                for k, f in ((("steps", steps), ("floor", floor)) if (s // CH + e) % 2 == 0 else (("floor", floor), ("steps", steps))):
                    t = time.perf_counter(); f(js); 
                    if e: T[k] += time.perf_counter() - t
        print(f"batch {b} threads {th} chunk {CH}: steps/floor {T['steps']/T['floor']:.3f}  (floor {T['floor']/3/nb*1e6:.0f} µs/step)", flush=True)
