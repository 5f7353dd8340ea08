import sys, time, statistics, math
import numpy as np, handgrad as hg
from handgrad.training import optim
from handgrad.fast.blas import scal
orig = optim.Adam.step
CH = int(sys.argv[2])
def chunked(self, params, grads):
    self.t += 1
    lr, b1, b2 = self.lr, self.beta1, self.beta2
    for lo, hi in self._decay_ranges:
        scal(1 - lr * self.weight_decay, params[lo:hi])
    root_bias2 = math.sqrt(1 - b2 ** self.t)
    eps = self.eps * root_bias2 if self.eps_on == "v_hat" else self.eps
    alpha = -lr * root_bias2 / (1 - b1 ** self.t)
    n = params.shape[0]
    for s in range(0, n, CH):
        m, v, g, p, t1 = self.m[s:s+CH], self.v[s:s+CH], grads[s:s+CH], params[s:s+CH], self._tmp[s:s+CH]
        m *= b1; np.multiply(g, 1 - b1, out=t1); m += t1
        np.multiply(g, g, out=t1); t1 *= 1 - b2; v *= b2; v += t1
        np.sqrt(v, out=t1); t1 += eps; np.divide(m, t1, out=t1); t1 *= alpha; p += t1
rng = np.random.default_rng(0)
n = 60000; X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
b = int(sys.argv[1])
nets = {"orig": hg.MLP([784,256,128,10], seed=0), "chunked": hg.MLP([784,256,128,10], seed=0)}
T = {k: [] for k in nets}
for r in range(5):
    for k in (("orig", "chunked") if r % 2 == 0 else ("chunked", "orig")):
        optim.Adam.step = orig if k == "orig" else chunked
        t = time.perf_counter()
        hg.fit(nets[k], X, y, epochs=1, batch_size=b, optimizer="adam", lr=1e-3, shuffle=False, diagnostics=False, blas_threads=2)
        T[k].append(time.perf_counter() - t)
print(b, CH, {k: f"{statistics.median(v):.3f}" for k, v in T.items()}, "loss diff", abs(nets["orig"].loss(X[:5000], y[:5000]) - nets["chunked"].loss(X[:5000], y[:5000])))
