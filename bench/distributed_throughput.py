"""Throughput of data-parallel training (docs/distributed.md): rows per second of one epoch.

    python bench/distributed_throughput.py [BLAS_THREADS]               # one process
    mpiexec -n 2 python bench/distributed_throughput.py [BLAS_THREADS]  # two ranks

float32, 20,000 random rows, 3 epochs, the fastest epoch; a small network at batch 32 and a
large one at batch 256 (the global batch). Rank 0 prints one JSON line.
"""

from __future__ import annotations

import json
import sys

import numpy as np

import handgrad as hg
from handgrad.distributed import launched_size

NETWORKS = [("64-128-10, batch 32", [64, 128, 10], 32),
            ("784-512-256-10, batch 256", [784, 512, 256, 10], 256)]


def main(argv) -> None:
    threads = int(argv[0]) if argv else "auto"
    dp = None
    if launched_size() > 1:
        from handgrad.distributed import DataParallel
        dp = DataParallel()
    rng = np.random.default_rng(0)
    n, result = 20_000, {"ranks": 1 if dp is None else dp.size, "blas_threads": threads}
    for name, sizes, batch in NETWORKS:
        X = rng.normal(size=(n, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], n)
        net = hg.MLP(sizes, dtype="float32", seed=0)
        history = hg.fit(net, X, y, epochs=3, batch_size=batch, diagnostics=False,
                         data_parallel=dp, blas_threads=threads)
        seconds = min(e["time"] for e in history.epochs)
        result[name] = {"epoch_s": round(seconds, 3), "rows_per_s": round(n / seconds)}
    if dp is None or dp.root:
        print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
