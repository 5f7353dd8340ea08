"""Is the floor slower when the weight-gradient product writes into W itself (as SGD must)?"""
import sys, time, statistics
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
from threadpoolctl import threadpool_limits
from bench.speed.workloads import GemmFloor
rng = np.random.default_rng(0)
X = rng.standard_normal((60000, 784), dtype=np.float32)
sizes = [784, 256, 128, 10]
for b in map(int, sys.argv[1].split(",")):
    plain = GemmFloor(sizes, X, b)
    inplace = GemmFloor(sizes, X, b)
    W = [op[1] for op in inplace.batches[0][1][:3]]
    for gather, ops in inplace.batches:
        for j, l in ((3, 2), (5, 1), (7, 0)):
            a, c, out = ops[j]
            assert out.shape == W[l].shape
            ops[j] = (a, c, W[l])
    for th in (1, 2):
        ts = {"plain": [], "inplace": []}
        with threadpool_limits(th, user_api="blas"):
            for r in range(6):
                for k, f in (("plain", plain.epoch), ("inplace", inplace.epoch)):
                    t = time.perf_counter(); f(); ts[k].append(time.perf_counter() - t)
        m = {k: statistics.median(v[1:]) for k, v in ts.items()}
        print(b, th, {k: round(v, 3) for k, v in m.items()}, "inplace/plain %.2f" % (m["inplace"] / m["plain"]), flush=True)
