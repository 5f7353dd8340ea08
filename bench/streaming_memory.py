"""Peak memory of ``handgrad train --stream-buffer`` and of ``handgrad predict`` on a Parquet
file, beside the in-memory path's on the same file.

Usage (from the repository root)::

    python bench/streaming_memory.py [--rows 1000000] [--features 32] [--buffer 100000]
                                     [--row-group 50000] [--epochs 1] [--out bench/results]

Data: ``--rows`` × ``--features`` float32 features (standard normal) and a three-class text
label from a linear score, written in row groups of ``--row-group`` rows (zstd). The buffer
holds ``--buffer`` rows: the file's float32 feature matrix must be at least 5× the buffer's
(the script refuses smaller ratios). Each command runs in its own process; its peak resident
set size is the ``ru_maxrss`` that ``os.wait4`` returns for that process alone (the plot
helper is off: ``--no-plot``), each started by a launcher of ~10 MiB (see ``LAUNCHER``). Runs,
in order:

* a baseline: a process that imports what ``handgrad train`` imports (handgrad's command line,
  numpy, pandas, pyarrow) and nothing else;
* streamed train: ``handgrad train --stream-buffer BUFFER``; streamed predict of its model;
* in-memory predict of the same model (the Parquet reader forced to the in-memory path);
* in-memory train: ``handgrad train`` without ``--stream-buffer`` (table encoding, a 10%
  validation part, the same epochs, width and batch size).

Writes ``streaming_memory.md`` into ``--out``, with the machine.
The default run takes about 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:          # `python bench/streaming_memory.py` puts bench/ first
    sys.path.insert(0, str(ROOT))

from bench.benchenv import handgrad_source, machine_record

MB = 1024 * 1024
IMPORTS = "import handgrad.cli.main, handgrad.data.stream, numpy, pandas, pyarrow.parquet"
# predict through the in-memory reader, on the same Parquet file
IN_MEMORY_PREDICT = ("import sys, handgrad.data.stream as s; s.is_parquet = lambda p: False; "
                     "from handgrad.cli.main import main; sys.exit(main(sys.argv[1:]))")


def write_parquet(path: Path, rows: int, features: int, group: int, seed: int = 0) -> None:
    """The table, one row group at a time (this process never holds all of it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    w = rng.normal(size=features)
    names = [f"x{j}" for j in range(features)]
    writer = None
    for start in range(0, rows, group):
        X = rng.standard_normal((min(group, rows - start), features), dtype=np.float32)
        score = X @ w / np.sqrt(features)
        y = np.where(score > 0.5, "high", np.where(score < -0.5, "low", "mid"))
        table = pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "label": y})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=group)
    writer.close()


# Each command is started by this small launcher, whose peak RSS (~10 MiB) is all a child
# inherits: Linux counts the peak of the memory a process had before exec() into its
# ru_maxrss, so a child forked from this script would start at this script's peak (numpy,
# pyarrow, the table it wrote) and a smaller command would read as large as the script
LAUNCHER = ("import json, os, sys; pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ); "
            "_, status, usage = os.wait4(pid, 0); "
            "open(sys.argv[1], 'w').write(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]))")


def run(argv: list[str]) -> dict:
    """Run ``argv`` through the launcher; wall time, the peak RSS of that process alone (its
    ru_maxrss from os.wait4; MiB) and its standard output."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage.json"
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *argv], capture_output=True,
                              text=True)
        wall = time.perf_counter() - t0
        code, maxrss_kib = json.loads(report.read_text()) if report.exists() else (proc.returncode, 0)
    if code != 0 or proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({code}): {proc.stderr.strip()[-500:]}")
    return {"argv": argv, "seconds": round(wall, 2), "peak_rss_mib": round(maxrss_kib / 1024, 1),
            "stdout": proc.stdout}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--buffer", type=int, default=100_000)
    ap.add_argument("--row-group", type=int, default=50_000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    ratio = args.rows / args.buffer
    if ratio < 5:
        raise SystemExit(f"--rows {args.rows} is only {ratio:.1f}x --buffer {args.buffer}; give at least 5x")
    handgrad = [sys.executable, "-m", "handgrad"]
    common = ["--target", "label", "--epochs", str(args.epochs), "--hidden", "64", "--batch-size", "256",
              "--no-plot", "--json"]
    with tempfile.TemporaryDirectory(prefix="handgrad-stream-") as tmp:
        tmp = Path(tmp)
        data = tmp / "big.parquet"
        t0 = time.perf_counter()
        write_parquet(data, args.rows, args.features, args.row_group)
        print(f"wrote {data.stat().st_size / MB:.0f} MiB in {time.perf_counter() - t0:.0f}s", flush=True)
        runs = {"baseline (imports only)": run([sys.executable, "-c", IMPORTS])}
        runs["train, streamed"] = run([*handgrad, "train", "--data", str(data), *common, "--out-dir",
                                       str(tmp / "s"), "--stream-buffer", str(args.buffer)])
        model = str(tmp / "s" / "model.safetensors")
        runs["predict, streamed"] = run([*handgrad, "predict", model, "--data", str(data),
                                         "--out", str(tmp / "ps.csv"), "--quiet"])
        runs["predict, in memory"] = run([sys.executable, "-c", IN_MEMORY_PREDICT, "predict", model,
                                          "--data", str(data), "--out", str(tmp / "pm.csv"), "--quiet"])
        same = (tmp / "ps.csv").read_bytes() == (tmp / "pm.csv").read_bytes()
        runs["train, in memory"] = run([*handgrad, "train", "--data", str(data), *common, "--out-dir",
                                        str(tmp / "m"), "--val-fraction", "0.1"])
        for name, r in runs.items():
            print(f"{name}: {r['peak_rss_mib']} MiB, {r['seconds']} s", flush=True)
        sizes = {"rows": args.rows, "features": args.features, "row_group_rows": args.row_group,
                 "buffer_rows": args.buffer, "file_mib": round(data.stat().st_size / MB, 1),
                 "feature_matrix_float32_mib": round(args.rows * args.features * 4 / MB, 1),
                 "buffer_float32_mib": round(args.buffer * args.features * 4 / MB, 1), "epochs": args.epochs}
    accuracy = {k: json.loads(runs[k]["stdout"])["test_accuracy"]
                for k in ("train, streamed", "train, in memory")}
    for r in runs.values():
        r.pop("stdout")
    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine_record(), "handgrad": handgrad_source(), "sizes": sizes,
              "runs": runs, "test_accuracy": accuracy, "predictions_identical": same}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "streaming_memory.md").write_text(report(result))
    print(f"wrote {args.out / 'streaming_memory.md'}")


def report(r: dict) -> str:
    s, m, h, runs = r["sizes"], r["machine"], r["handgrad"], r["runs"]
    base = runs["baseline (imports only)"]["peak_rss_mib"]
    lines = [
        "# Streaming from Parquet: peak memory", "",
        f"`python bench/streaming_memory.py` on {r['date']}: {m['cpu']}, {m['cpus_available']} CPUs "
        f"available, {m['uname']}; handgrad {h['version']} at {str(h.get('commit'))[:10]}"
        + (" with uncommitted changes" if h.get("dirty") else "") + ".", "",
        f"Data: {s['rows']:,} rows × {s['features']} float32 features + a text label (3 classes), "
        f"{s['rows'] // s['row_group_rows']} row groups of {s['row_group_rows']:,} rows; the file "
        f"{s['file_mib']} MiB (zstd), its feature matrix {s['feature_matrix_float32_mib']} MiB as float32. "
        f"Buffer: {s['buffer_rows']:,} rows = {s['buffer_float32_mib']} MiB as float32, "
        f"{s['feature_matrix_float32_mib'] / s['buffer_float32_mib']:.0f}× smaller than the feature matrix. "
        f"Network {s['features']} → 64 → 3, batch 256, {s['epochs']} epoch(s).", "",
        "Peak RSS is `ru_maxrss` of each command's process alone (`os.wait4` in a ~10 MiB launcher); "
        "\"above baseline\" subtracts the process that only imports the same modules.", "",
        "| command | peak RSS (MiB) | above baseline (MiB) | wall (s) |", "|---|---:|---:|---:|"]
    for name, run in runs.items():
        rss = run["peak_rss_mib"]
        lines.append(f"| {name} | {rss:.0f} | {rss - base:.0f} | {run['seconds']} |")
    acc = r["test_accuracy"]
    lines += ["", f"Test accuracy: streamed {acc['train, streamed']:.4f}, in memory "
                  f"{acc['train, in memory']:.4f} (each on its own held-out test rows: streamed, a seeded "
                  f"sample of at most the buffer's rows; in memory, a stratified 20%). Streamed and "
                  f"in-memory predictions of the streamed model identical: {r['predictions_identical']}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
