"""What the benchmarks record about the machine and the code they ran: shared by the speed
benchmark (``python -m bench.speed``, which imports it as ``bench.benchenv``) and
sklearn_parity.py (which imports it as a sibling module: the scripts run as
``python bench/<name>.py``, which puts bench/ first on sys.path)."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path

from threadpoolctl import threadpool_info

import handgrad as hg

ROOT = Path(__file__).resolve().parent.parent
BLAS_KEYS = ("internal_api", "version", "num_threads", "threading_layer", "architecture",
             "filepath")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_record() -> dict:
    """CPU, cores, kernel and load at the start of a run."""
    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "cpus_available": len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity") else None,
            "uname": " ".join(platform.uname()),
            "loadavg_at_start": list(os.getloadavg()),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}


def cpu_snapshot() -> tuple[float, float, float] | None:
    """(busy CPU-seconds of the whole machine, CPU-seconds of this process and its waited-for
    children, steal seconds) from /proc/stat and os.times(); None where /proc/stat is missing."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    t = os.times()
    return ((user + nice + system + irq + softirq) / tick,
            t.user + t.system + t.children_user + t.children_system, steal / tick)


def foreign_cpu(before, after, wall: float) -> dict | None:
    """CPU time other processes used between two snapshots: the measure of a busy machine."""
    if before is None or after is None:
        return None
    others = max(0.0, (after[0] - before[0]) - (after[1] - before[1]))
    return {"seconds": others, "share_of_one_cpu": others / wall if wall else 0.0,
            "steal_seconds": after[2] - before[2], "wall_seconds": wall}


def blas_record(info: dict) -> dict:
    """The parts of a threadpoolctl record a report shows."""
    return {k: info.get(k) for k in BLAS_KEYS}


def blas_libraries() -> list[dict]:
    return [blas_record(i) for i in threadpool_info() if i["user_api"] == "blas"]


def numpy_blas() -> dict:
    """threadpoolctl's record of numpy's own BLAS (scipy and torch may load others)."""
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    own = [i for i in blas if "numpy" in (i.get("filepath") or "")]
    return (own or blas or [{"num_threads": None}])[0]


def git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def source_digest(pkg: Path) -> str:
    """A short sha256 of a package's ``*.py`` files (relative names and contents)."""
    digest = hashlib.sha256()
    for f in sorted(pkg.rglob("*.py")):
        digest.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def handgrad_source(scope: str | None = None) -> dict:
    """Commit, uncommitted changes (in ``scope``, a path of the repository, or anywhere in it;
    read-only git calls) and a digest of the imported sources."""
    pkg = Path(hg.__file__).resolve().parent
    status = git("status", "--porcelain", *(("--", scope) if scope else ()))
    changed = status.splitlines() if status else []
    return {"version": hg.__version__, "commit": git("rev-parse", "HEAD"),
            "dirty": bool(changed) if status is not None else None, "dirty_scope": scope,
            "changed": changed[:50], "source_sha256": source_digest(pkg),
            "path": str(pkg)}


def run_record(machine: dict, **fields) -> dict:
    """The record of a benchmark run that started with ``machine`` (:func:`machine_record`):
    its date, the machine with the load average at the end, numpy, its BLAS and handgrad's
    source, then ``fields``."""
    import datetime as dt

    import numpy as np

    machine["loadavg_at_end"] = list(os.getloadavg())
    return {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine,
            "numpy": np.__version__, "blas": blas_record(numpy_blas()),
            "handgrad": handgrad_source("src"), **fields}


def machine_sentence(rec: dict) -> str:
    """The machine, load, numpy/BLAS and handgrad commit of a :func:`run_record`, as a sentence."""
    m, blas, src = rec["machine"], rec["blas"], rec["handgrad"]
    return (f"Machine: {m['cpu']}, {m['cpu_count']} CPUs; load average {m['loadavg_at_start']} at start, "
            f"{m['loadavg_at_end']} at end; numpy {rec['numpy']} with {blas['internal_api']} {blas['version']} "
            f"({blas['architecture']} kernels, default {blas['num_threads']} threads); handgrad at "
            f"{(src['commit'] or '?')[:7]}{' + uncommitted changes' if src['dirty'] else ''}.")
