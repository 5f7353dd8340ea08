import sys, time, statistics
import numpy as np, handgrad as hg
from threadpoolctl import threadpool_limits
rng = np.random.default_rng(0)
n = 60000; X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
b = int(sys.argv[1])
net = hg.MLP([784,256,128,10], dtype="float32", seed=0)
yy = net.check_y(y, n); ws = net.workspace(b)
def fit(): hg.fit(net, X, y, epochs=1, batch_size=b, optimizer="sgd", lr=0.01, momentum=0.0, shuffle=False, diagnostics=False)
def fit2(): hg.fit(net, X, y, epochs=1, batch_size=b, optimizer="sgd", lr=0.01, momentum=0.0, shuffle=False, diagnostics=False, blas_threads=2)
def steps():
    with threadpool_limits(2, user_api="blas"):
        for s in range(0, n, b): net.train_step(X[s:s+b], yy[s:s+b], None, ws, sgd_lr=0.01)
T = {"fit": [], "fit2": [], "steps": []}
for r in range(6):
    for k, f in (("fit", fit), ("fit2", fit2), ("steps", steps)):
        t = time.perf_counter(); f(); T[k].append(time.perf_counter() - t)
print(b, {k: f"{statistics.median(v[1:]):.3f}" for k, v in T.items()})
