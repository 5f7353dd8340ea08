import sys, timeit
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
from handgrad.fast.blas import gemv_t, gemm_tn, _FUNCS
from handgrad.fast.kernels import softmax_cross_entropy
from threadpoolctl import threadpool_limits
rng = np.random.default_rng(0)
def t(stmt, n=2000):
    return min(timeit.repeat(stmt, number=n, repeat=5, globals=globals())) / n * 1e6
with threadpool_limits(int(sys.argv[1]), user_api="blas"):
  for m in (32, 128, 512):
    for c in (256, 128, 10):
        dZ = rng.standard_normal((m, c), dtype=np.float32); ones = np.ones(m, np.float32); bvec = np.zeros(c, np.float32); g = np.empty(c, np.float32)
        print(m, c, "gemv %.1f" % t("gemv_t(-1e-3, dZ, ones, 1.0, bvec)"), "sum0 %.1f" % t("np.add.reduce(dZ, axis=0, out=g)"),
              "sum0+axpy %.1f" % t("np.add.reduce(dZ, axis=0, out=g); np.multiply(g, -1e-3, out=g); np.add(bvec, g, out=bvec)"),
              "matmul %.1f" % t("np.matmul(ones, dZ, out=g)"),
              "biasadd %.1f" % t("np.add(dZ, bvec, out=dZ)"), "copyto %.1f" % t("dZ[...] = bvec"))
    Z = rng.standard_normal((m, 10), dtype=np.float32); y = rng.integers(0, 10, m); out = np.empty_like(Z); work = np.empty_like(Z)
    print(m, "softmax_ce %.1f" % t("softmax_cross_entropy(Z, y, None, out=out, work=work, stats={})"))
