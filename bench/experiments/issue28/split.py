"""ReLU's forward (f'(Z) then Z ⊙ f'(Z)) on one thread vs split by rows with a persistent
worker thread (numpy releases the GIL in its loops): is a handover cheap enough?"""
import threading, time, statistics
import numpy as np
pc = time.perf_counter
rng = np.random.default_rng(0)
class Worker:
    def __init__(self):
        self.go, self.done, self.job = threading.Event(), threading.Event(), None
        threading.Thread(target=self.run, daemon=True).start()
    def run(self):
        while True:
            self.go.wait(); self.go.clear(); self.job(); self.done.set()
    def submit(self, job):
        self.job = job; self.done.clear(); self.go.set()
w = Worker()
for m in (128, 512):
    Z0 = rng.standard_normal((m, 256), dtype=np.float32); Z = Z0.copy(); D = np.empty_like(Z)
    def relu(lo, hi):
        np.greater(Z[lo:hi], 0, out=D[lo:hi]); np.multiply(Z[lo:hi], D[lo:hi], out=Z[lo:hi])
    def one(): relu(0, m)
    def split():
        h = m // 2
        w.submit(lambda: relu(h, m)); relu(0, h); w.done.wait()
    t = {"one": [], "split": []}
    for r in range(300):
        for k, f in (("one", one), ("split", split)):
            Z[...] = Z0; s = pc(); f(); t[k].append(pc() - s)
    print(m, {k: f"{statistics.median(v)*1e6:.1f} µs" for k, v in t.items()})
