"""Speed: handgrad vs PyTorch eager vs scikit-learn vs the GEMM floor, side by side.

Usage (from the repository root)::

    python -m bench.speed [--parts a,b,c,d] [--reps 5] [--quick] [--out bench/results] [--no-fail]
                          [--pause 0.2] [--baseline-src OTHER_CHECKOUT/src]

The package's modules: ``protocol`` (configuration, data, BLAS thread probing, the interleaved
timing helper, statistics, the machine record, the child-process runner), ``workloads`` (the
timed callables: handgrad, PyTorch and scikit-learn epochs, the GEMM floor), ``parts`` (parts a–d),
``compare`` (``--baseline-src``), ``child`` (what runs in the subprocesses:
``python -m bench.speed.child predict|epochs …``), ``report`` (speed.md, speed.json, the scaling
figure, speed_compare.md) and ``cli`` (the options; ``__main__`` calls it).

Protocol common to every part:

* Data: X ~ N(0, 1), float32, drawn by ``numpy.random.default_rng(0)`` straight into a
  preallocated float32 array in row chunks (no float64 temporaries); labels y = argmax(X·T) for
  a fixed random linear teacher T (784×10, seed 1), so the loss is meaningful. Every library
  gets the very same arrays (PyTorch through ``torch.from_numpy``, no copy).
* Network: 784-256-128-10, ReLU hidden layers, softmax cross-entropy, float32. The PyTorch
  models are built with handgrad's initial weights, so the nets of parts (a) and (b) do the
  same arithmetic on the same batches; their losses after the runs are printed as a check.
* Timing: ``time.perf_counter`` around one call (one epoch, one predict). The measured
  callables of a comparison run interleaved, A B C A B C …, one untimed warm-up round first,
  then ``--reps`` timed rounds (≥ 5 for recorded results); ``gc.collect()`` and a pause of
  ``--pause`` seconds (default 0.2) precede every call, untimed, so that spin-waiting worker
  threads of the previous library (OpenBLAS pthreads, PyTorch's OpenMP) are asleep when the next
  one starts. Reported: the median per callable; every ratio is a ratio of medians.
* Threads: handgrad's ``fit`` chooses its own BLAS thread count (it may limit BLAS to one thread
  for small products); a handgrad callback records the count inside ``fit`` in an untimed
  probe run, and the GEMM floor runs with exactly that many numpy BLAS threads, and PyTorch with
  ``torch.set_num_threads`` of that count. scikit-learn runs with numpy's BLAS as it is. The
  counts are reported per measurement.
* A busy machine ruins these numbers (on 2 CPUs, BLAS and OpenMP threads that wait for a core
  can make an epoch many times slower), so the CPU time that other processes used while each
  part ran is measured (/proc/stat minus this process and its children) and reported; above
  5 % of one CPU the part is flagged as unreliable. Run nothing else meanwhile.

Parts:

(a) One SGD epoch (lr 0.01, no momentum, no L2, no shuffling, so the same batches for all) on
    60,000 samples at batch 16, 32, 64, 128 and 512:
    - handgrad ``fit(net, X, y, epochs=1, batch_size=B, optimizer="sgd", momentum=0.0,
      lr=0.01, shuffle=False, diagnostics=False)``, the net created outside the timed region and
      re-used (one more epoch of SGD costs the same);
    - PyTorch eager: ``Sequential(Linear, ReLU, Linear, ReLU, Linear)``, ``cross_entropy``,
      ``torch.optim.SGD(lr=0.01)`` with its default ``foreach`` (which resolves to the
      per-parameter loop on CPU), a plain loop over contiguous slices: forward, loss,
      ``zero_grad(set_to_none=True)``, ``backward``, ``step``;
    - scikit-learn ``MLPClassifier(hidden_layer_sizes=(256, 128), solver="sgd", momentum=0,
      alpha=0, max_iter=1, shuffle=False, batch_size=B, learning_rate_init=0.01)``, a new
      estimator per call (its ``fit`` includes initialisation and input checks), its
      ConvergenceWarning silenced; its compute dtype (coefs_[0].dtype) is reported;
    - the GEMM floor: per batch exactly the 8 products a step needs, X_b·W1, A1·W2, A2·W3,
      then A2ᵀ·dZ3, dZ3·W3ᵀ, A1ᵀ·dZ2, dZ2·W2ᵀ, X_bᵀ·dZ1 (no dX for the first layer), with
      ``np.matmul(..., out=preallocated)`` on fixed random A/dZ arrays and the real X batches
      (views, no copies), back to back over all batches of the epoch, float32.
    - shuffled (issue 28): handgrad's ``fit`` with ``shuffle=True`` (a new order per call, the
      rows gathered per batch into a reused buffer) on a net of its own, against the GEMM floor
      that first gathers each batch's rows from X in a random order (``np.take(..., out=)``):
      reading rows from wherever they are is part of a shuffled epoch's floor;
    - handgrad's scikit-learn estimator (issue 28): ``handgrad.sklearn.MLPClassifier`` with the
      scikit-learn settings above, a new estimator per call;
    - the step alone against the floor, alternating in chunks of 8 steps (``workloads.
      step_vs_floor``): ``fit``'s fused SGD step and the floor's products of the same batches,
      the order flipped every chunk, over reps/2 epochs — the ratio least moved by the
      machine's drift (whole epochs alternating moved ±20 % between runs on the 2-CPU EPYC).
    Ratios: handgrad/PyTorch, handgrad/floor, PyTorch/floor, sklearn/handgrad, shuffled
    handgrad/floor with the gather, the gather's share of the floor, estimator/floor, step/floor
    in chunks.
    Targets (issue 28): handgrad ≤ 0.90 × PyTorch at every batch size; ≤ 1.10 × the GEMM floor
    at batch 128 and 512 (shuffled: × the floor with the gather; the step in chunks likewise),
    ≤ 1.2 × at 16–64; the estimator ≤ 1.2 × the floor.
(b) The same epoch with Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8) at the same batches:
    handgrad ``optimizer="adam"`` vs ``torch.optim.Adam`` with ``foreach=False`` (what the
    default ``foreach=None`` resolves to on CPU: a Python loop over the parameters — the
    resolution is checked at run time and reported) and ``foreach=True``; ``fused=True`` is
    timed too, for information only. Target: handgrad ≤ 0.90 × the faster of foreach=False and
    foreach=True.
(c) ``predict_proba`` on 1,000,000 × 784 float32 rows with a net of the trained shape (the
    weight values do not change the cost): handgrad ``net.predict_proba(X)`` vs PyTorch eager
    under ``torch.inference_mode()`` applied in chunks of 8192 rows into a preallocated output
    ("torch chunked") and applied to the whole tensor at once ("torch whole"); softmax included
    in both. Every call runs in a fresh subprocess (``python -m bench.speed.child predict``),
    the three variants interleaved, ``--reps`` processes each. A process fills X in float32
    chunks, makes a 1,000-row warm-up call, records its resident set size (VmRSS) as the
    baseline, resets the kernel's RSS high-water mark (``/proc/self/clear_refs``), times one
    predict over all rows and reports the peak extra memory ``ru_maxrss − baseline``
    (``getrusage``). The high-water mark of a freshly exec'ed process can include its parent's
    resident set; if ``ru_maxrss`` was already above the baseline before the call, the peak is
    taken from ``VmHWM`` (the same counter, reset) instead, and that is reported.
    Throughput = rows / median seconds.
    Targets: handgrad throughput ≥ torch chunked and ≥ torch whole; handgrad peak extra memory
    ≤ 64 MB (the largest over the processes; note the 1e6×10 float32 output alone is 40 MB).
(d) Scaling: the ratio handgrad SGD epoch / GEMM floor (same protocol as (a)) while varying the
    width (hidden w, w for w in 64 … 2048, batch 128), the depth (1 … 8 hidden layers of 256,
    batch 128) and the batch (16 … 4096 at 784-256-128-10). Each point trains on the first n
    samples, n ≈ a fixed budget of floating-point operations (3e10, ≲ 1 s) divided by the
    operations per sample, at least 8 batches and at most 60,000, a whole number of batches.
    No targets of its own; a 3-panel figure with lines at 1.10 and (batch panel) 1.2.

Before/after (``--baseline-src DIR``, DIR the ``src`` directory of another handgrad checkout,
e.g. ``mkdir -p /tmp/hg-base && git archive HEAD src | tar -x -C /tmp/hg-base`` and
``--baseline-src /tmp/hg-base/src``): after the selected parts, the handgrad epochs of parts (a)
(SGD) and/or (b) (Adam) — whichever of the two are selected — are measured for the current
handgrad and for DIR's. Two versions of one package cannot share a process, so each
measurement runs in a child (``python -m bench.speed.child epochs``) with ``PYTHONPATH`` set to
one source directory only (the current one: the directory the handgrad imported here comes
from); the child checks which handgrad it imported. A child builds the same data and nets
(``hg.MLP(sizes, activation="relu", dtype="float32", seed=0)``, ``hg.fit`` with long-standing
arguments only) and, per optimizer and batch, times the handgrad epoch interleaved with the
GEMM floor exactly as above (probe of the thread count, warm-up, ``--reps`` rounds, pauses),
reporting the medians and the ratio handgrad/floor. The parent runs the children alternately,
current, baseline, current, baseline, … for 3 rounds (2 with ``--quick``), and reports per
optimizer and batch the median over the rounds of each side's handgrad/floor ratio and of its
handgrad seconds, and current/baseline of those medians (< 1: the current tree is faster). The
floor is the same code in both children, so the ratio to it discounts a machine that drifts
between children. No target: it does not change the exit status. Printed, written to
``speed_compare.md`` and to speed.json under ``"baseline_comparison"``.

Writes ``speed.md`` (tables, date, machine, versions, threads, handgrad commit and whether the
tree was dirty), ``speed.json`` (everything, every repetition) and ``speed_scaling.png`` to
``--out`` (default bench/results). ``--quick`` shrinks everything (2,000 samples, 100,000
predict rows, 2 repetitions, a small scaling grid) and writes to a temporary directory unless
``--out`` is given: a smoke test of the instrument, not a result. The exit status is 1 if a
target fails, unless ``--no-fail``.
"""
