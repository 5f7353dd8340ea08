"""``handgrad train --search``: one line per scored run while it searches (stderr), and the
leaderboard at the end (stdout); the options it refuses are checked in cli/options.py."""

from __future__ import annotations

import sys

from .terminal import clean, console, text


def describe(row: dict) -> str:
    """A candidate's settings in a few words: ``2×64 relu, lr 0.003, L2 1e-05, batch 32``."""
    hidden = row["hidden_sizes"]
    net = "linear (no hidden layer)" if not hidden else (
        f"{len(hidden)}×{hidden[0]} {row['activation']}" if len(set(hidden)) == 1
        else "-".join(map(str, hidden)) + f" {row['activation']}")
    return f"{net}, lr {row['lr']:g}, L2 {row['l2']:g}, batch {row['batch_size']}"


def _value(row: dict, monitor: str) -> str:
    value = row["score"]
    if value is None:  # a run the budget cut short: not scored
        return "—"
    return (f"{value:.4f}" if monitor.endswith(("loss", "_r2", "_rmse", "_mae"))
            else f"{value * 100:.2f}%")


class SearchProgress:
    """``on_result`` hook of the search: a line per scored run on stderr (unless quiet)."""

    def __init__(self, monitor: str, n_rungs: int, quiet: bool = False):
        self.monitor, self.n_rungs, self.quiet = monitor, n_rungs, quiet

    def __call__(self, row: dict) -> None:
        if self.quiet:
            return
        head = f"  rung {row['rung'] + 1}/{self.n_rungs}, ≤{row['max_epochs']} epochs: {describe(row)}"
        if row["stopped_by_budget"]:
            print(f"{head}: stopped by the budget after {row['seconds']:.1f}s, not scored", file=sys.stderr,
                  flush=True)
            return
        print(f"{head} → {self.monitor} {_value(row, self.monitor)} at epoch {row['epochs']}, "
              f"{row['seconds']:.1f}s", file=sys.stderr, flush=True)


def print_leaderboard(search: dict, top: int = 10) -> None:
    """The best ``top`` runs (a higher rung ranks first), on stdout."""
    monitor = search["monitor"]
    rows = search["leaderboard"][:top]
    title = (f"search: {search['runs']} runs of {search['candidates']} candidates in "
             f"{search['seconds']:.1f}s (budget {search['budget_seconds']:g}s), judged by "
             f"{monitor} on {search['validation']}")
    out = console()
    if out is None:  # pragma: no cover - the cli extra installs rich
        print(clean(title))
        for r in rows:
            print(clean(f"{r['rank']:>3} rung {r['rung'] + 1} {describe(r)} {_value(r, monitor)}"))
        return
    from rich.table import Table

    regression = any("val_r2" in r for r in rows)
    table = Table(title=text(title), title_justify="left")
    for col in ("rank", "rung", "network and settings", monitor, "val R²" if regression else "val acc",
                "epochs", "s"):
        table.add_column(col, justify="left" if col == "network and settings" else "right")
    for r in rows:
        if r["score"] is None:  # cut by the budget: listed, not scored
            table.add_row(str(r["rank"]), str(r["rung"] + 1), text(describe(r)), "cut by the budget",
                          "—", "—", f"{r['seconds']:.1f}")
            continue
        score = f"{r['val_r2']:.4f}" if regression else f"{r['val_accuracy'] * 100:.1f}%"
        table.add_row(str(r["rank"]), str(r["rung"] + 1), text(describe(r)), _value(r, monitor),
                      score, str(r["epochs"]), f"{r['seconds']:.1f}")
    out.print(table)


def run_search(args, X, y, monitor, progress, quiet, common):
    """``train --search`` (its options checked before the data was read: cli/options.py):
    :func:`~handgrad.model.search.search_classifier` with a line per scored run."""
    from ..model.search import RUNGS, search_classifier

    hook = SearchProgress(monitor or "val_loss", len(RUNGS), quiet)
    return search_classifier(X, y, budget=args.budget, seed=args.seed, monitor=monitor,
                             on_result=hook, callbacks=[progress], **common)
