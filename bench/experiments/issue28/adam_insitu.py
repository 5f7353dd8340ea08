import sys, time, statistics, math, collections
import numpy as np, handgrad as hg
from handgrad.training import optim
from handgrad.fast.blas import scal, axpy
from threadpoolctl import threadpool_limits
acc = collections.Counter(); cnt = [0]
pc = time.perf_counter
def instrumented(self, params, grads):
    self.t += 1; cnt[0] += 1
    tmp, tmp2, lr = self._tmp, self._tmp2, self.lr
    b1, b2 = self.beta1, self.beta2
    t = pc(); scal(b1, self.m); acc["scal_m"] += pc() - t
    t = pc(); axpy(1 - b1, grads, self.m, tmp2); acc["axpy_m"] += pc() - t
    t = pc(); np.multiply(grads, grads, out=tmp); acc["mul"] += pc() - t
    t = pc(); scal(b2, self.v); acc["scal_v"] += pc() - t
    t = pc(); axpy(1 - b2, tmp, self.v, tmp2); acc["axpy_v"] += pc() - t
    root_bias2 = math.sqrt(1 - b2 ** self.t)
    t = pc(); np.sqrt(self.v, out=tmp); acc["sqrt"] += pc() - t
    t = pc(); tmp += self.eps * root_bias2; acc["add"] += pc() - t
    t = pc(); np.divide(self.m, tmp, out=tmp); acc["div"] += pc() - t
    t = pc(); axpy(-lr * root_bias2 / (1 - b1 ** self.t), tmp, params, tmp2); acc["axpy_p"] += pc() - t
optim.Adam.step = instrumented
rng = np.random.default_rng(0)
n = 60000; X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
th = int(sys.argv[2])
for b in map(int, sys.argv[1].split(",")):
    net = hg.MLP([784,256,128,10], seed=0)
    hg.fit(net, X, y, epochs=1, batch_size=b, optimizer="adam", shuffle=False, diagnostics=False, blas_threads=th)
    acc.clear(); cnt[0] = 0
    t0 = pc()
    hg.fit(net, X, y, epochs=1, batch_size=b, optimizer="adam", shuffle=False, diagnostics=False, blas_threads=th)
    tot = pc() - t0
    k = cnt[0]
    print(b, th, f"epoch {tot:.3f}s; adam per step {sum(acc.values())/k*1e6:.0f} µs:", " ".join(f"{kk}={v/k*1e6:.0f}" for kk, v in acc.items()))
