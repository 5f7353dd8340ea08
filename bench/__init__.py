"""handgrad's benchmarks. ``bench.speed`` is a package run as ``python -m bench.speed`` from the
repository root; the other benchmarks are scripts run as ``python bench/<name>.py``."""
