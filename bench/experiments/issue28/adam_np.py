import sys, time, statistics, math
import numpy as np, handgrad as hg
from handgrad.training import optim
orig = optim.Adam.step
def numpy_only(self, params, grads):
    self.t += 1
    lr, b1, b2, tmp, m, v = self.lr, self.beta1, self.beta2, self._tmp, self.m, self.v
    root_bias2 = math.sqrt(1 - b2 ** self.t)
    m *= b1; np.multiply(grads, 1 - b1, out=tmp); m += tmp
    np.multiply(grads, grads, out=tmp); tmp *= 1 - b2; v *= b2; v += tmp
    np.sqrt(v, out=tmp); tmp += self.eps * root_bias2; np.divide(m, tmp, out=tmp)
    tmp *= -lr * root_bias2 / (1 - b1 ** self.t); params += tmp
rng = np.random.default_rng(0)
n = 60000; X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
th = int(sys.argv[2])
for b in map(int, sys.argv[1].split(",")):
    nets = {"orig": hg.MLP([784,256,128,10], seed=0), "numpy": hg.MLP([784,256,128,10], seed=0)}
    T = {k: [] for k in nets}
    for r in range(6):
        for k in (("orig", "numpy") if r % 2 == 0 else ("numpy", "orig")):
            optim.Adam.step = orig if k == "orig" else numpy_only
            t = time.perf_counter()
            hg.fit(nets[k], X, y, epochs=1, batch_size=b, optimizer="adam", shuffle=False, diagnostics=False, blas_threads=th)
            if r: T[k].append(time.perf_counter() - t)
    print(b, th, {k: f"{statistics.median(v):.3f}" for k, v in T.items()}, f"numpy/orig {statistics.median(T['numpy'])/statistics.median(T['orig']):.3f}", flush=True)
