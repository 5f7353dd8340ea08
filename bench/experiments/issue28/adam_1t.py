import sys, time, statistics, ctypes
import numpy as np, handgrad as hg
from handgrad.training import optim
from handgrad.fast.blas import _numpy_openblas
lib = ctypes.CDLL(_numpy_openblas())
setn, getn = lib.scipy_openblas_set_num_threads64_, lib.scipy_openblas_get_num_threads64_
setn.argtypes = [ctypes.c_int]; getn.restype = ctypes.c_int
orig = optim.Adam.step
def one_thread(self, params, grads):
    n = getn()
    setn(1)
    try:
        orig(self, params, grads)
    finally:
        setn(n)
rng = np.random.default_rng(0)
n = 60000; X = rng.random((n, 784), dtype=np.float32); y = rng.integers(0, 10, n)
for b in map(int, sys.argv[1].split(",")):
    nets = {"orig": hg.MLP([784,256,128,10], seed=0), "one": hg.MLP([784,256,128,10], seed=0)}
    T = {k: [] for k in nets}
    for r in range(7):
        for k in (("orig", "one") if r % 2 == 0 else ("one", "orig")):
            optim.Adam.step = orig if k == "orig" else one_thread
            t = time.perf_counter()
            hg.fit(nets[k], X, y, epochs=1, batch_size=b, optimizer="adam", shuffle=False, diagnostics=False, blas_threads=2)
            if r: T[k].append(time.perf_counter() - t)
    print(b, {k: f"{statistics.median(v):.3f}" for k, v in T.items()}, f"one/orig {statistics.median(T['one'])/statistics.median(T['orig']):.3f}", flush=True)
