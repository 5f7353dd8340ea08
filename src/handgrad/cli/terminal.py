"""Terminal output of the command line: the live progress bar and the summary tables (rich).

Progress goes to stderr, so ``--json`` output on stdout stays machine-readable. When stderr is
not a terminal there is no animation: one plain line per reported epoch instead.
"""

from __future__ import annotations

import sys
import time

from ..training.loop import Callback


def _rich():
    try:
        import rich  # noqa: F401
    except ImportError:
        return None
    from rich.console import Console
    return Console


def stderr_console():
    return console(stderr=True)


class TrainingProgress(Callback):
    """A progress bar (epoch, loss, accuracy, time left) or, off a terminal, epoch log lines:
    of the folds of cross-validation while they choose the epochs (:meth:`on_fold_epoch`),
    then of each training run, counted against that run's own epochs (the number chosen, not
    ``--epochs``)."""

    def __init__(self, epochs: int, quiet: bool = False):
        self.epochs = epochs
        self.quiet = quiet
        self.console = stderr_console()
        self.live = bool(self.console and self.console.is_terminal and not quiet)
        self.progress = None
        self.task = None
        self.folds = None  # the folds' task (live) or their last logged epoch
        self.n_batches = 1
        self.every = max(1, epochs // 20)
        self.t0 = time.perf_counter()

    def _start(self):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
        # compact enough for an 80-column terminal
        self.progress = Progress(
            TextColumn("[bold]{task.fields[label]} {task.fields[epoch]:>3}/{task.fields[epochs]}"),
            BarColumn(bar_width=14), TextColumn("{task.fields[metrics]}"),
            TimeRemainingColumn(), TextColumn("left"),
            console=self.console, transient=False)
        self.progress.start()

    def on_fold_epoch(self, epoch: int, epochs: int, folds: int, running: int) -> None:
        """The ``folds`` of cross-validation finished ``epoch`` of at most ``epochs``;
        ``running`` of them still train in this process (0: all have stopped)."""
        self.on_stage_epoch(f"{folds}-fold cross-validation", epoch, epochs, running, unit="fold")

    def on_stage_epoch(self, label: str, epoch: int, epochs: int, running: int, unit: str = "network") -> None:
        """Networks trained together before the final one (the folds, an ensemble's members),
        ``label`` naming them, finished ``epoch`` of at most ``epochs``; ``running`` still train."""
        if self.quiet:
            return
        if self.live:
            if self.progress is None:
                self._start()
            if getattr(self, "stage", None) != label:
                self.stage = label
                self.folds = self.progress.add_task("folds", total=epochs, label=label,
                                                    epoch=epoch, epochs=epochs, metrics="")
                self.fold_epochs = epochs
            self.progress.update(self.folds, completed=epoch if running else epochs, epoch=epoch,
                                 metrics="" if running else "done")
            return
        every = max(1, epochs // 20)
        if epoch % every == 0 or epoch == 1 or not running:
            print(f"{label}: epoch {epoch:>4}/{epochs}" + ("" if running else f", every {unit} stopped")
                  + f"  ({time.perf_counter() - self.t0:.1f}s)", file=sys.stderr, flush=True)

    def on_train_begin(self, info: dict) -> None:
        self.epochs = info.get("epochs", self.epochs)  # this run's: e.g. what cross-validation chose
        self.every = max(1, self.epochs // 20)
        self.n_batches = info["n_batches"]
        self.stride = max(1, self.n_batches // 10)  # redraw ~10 times an epoch, not every batch
        if self.live:
            if self.progress is None:
                self._start()
            elif self.folds is not None:  # the folds are done: their bar stays, full
                self.progress.update(self.folds, completed=self.fold_epochs, metrics="done")
            self.task = self.progress.add_task("train", total=self.epochs * self.n_batches, label="epoch",
                                               epoch=1, epochs=self.epochs, metrics="")

    def on_batch_end(self, epoch: int, batch: int, n_batches: int, loss: float) -> None:
        if self.progress is not None and ((batch + 1) % self.stride == 0 or batch == n_batches - 1):
            self.progress.update(self.task, completed=epoch * n_batches + batch + 1, epoch=epoch + 1)

    def on_epoch_end(self, record: dict, net) -> None:
        text = _metrics_text(record)
        if self.progress is not None:
            self.progress.update(self.task, metrics=text)
        elif not self.quiet and (record["epoch"] % self.every == 0 or record["epoch"] == 1):
            self._log(record)
        self.last_record = record

    def _log(self, record: dict) -> None:
        print(f"epoch {record['epoch']:>4}/{self.epochs}  {_metrics_text(record)}  "
              f"({time.perf_counter() - self.t0:.1f}s)", file=sys.stderr, flush=True)
        self.logged = record["epoch"]

    def on_train_end(self, history) -> None:
        last = getattr(self, "last_record", None)
        if self.progress is None and not self.quiet and last and getattr(self, "logged", 0) != last["epoch"]:
            self._log(last)  # the epoch training ended on is always shown
        if self.progress is not None:
            # early stopping: show the bar as finished at the epoch where training ended
            self.progress.update(self.task, total=len(history) * self.n_batches,
                                 completed=len(history) * self.n_batches)
            self.progress.stop()
            self.progress = self.folds = None  # a next run (a refit) starts its own


def _metrics_text(record: dict) -> str:
    if record.get("train_accuracy") is None:  # a regression: its loss, and the validation R²
        text = f"loss {record['train_loss']:.4f}"
        if record.get("val_loss") is not None:
            text += f" · val {record['val_loss']:.4f}" + (
                f" R² {record['val_r2']:.3f}" if record.get("val_r2") is not None else "")
        return text
    text = f"loss {record['train_loss']:.4f} acc {record['train_accuracy']:.1%}"
    if record.get("val_loss") is not None:
        text += f" · val {record['val_loss']:.4f} {record['val_accuracy']:.1%}"
    return text


# ---- user text on the terminal ------------------------------------------------------------
# Labels, column names, paths and messages come from users and files. rich reads ``[...]`` in a
# string as markup (``[/INST]`` raises, ``[low]`` vanishes) and ``:name:`` as an emoji, and a
# terminal obeys escape sequences. So text is printed as plain text by default; only a
# :class:`Markup` string — handgrad's own template, its user values escaped by :func:`markup` —
# is read as markup. Every print helper here takes either.

_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean(text) -> str:
    """``text`` safe for one terminal line: control characters (ESC, CR, newline, tab, …) and
    bidirectional overrides shown as escapes such as ``\\x1b`` and ``\\n``; all else as is."""
    import unicodedata

    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) == "Cc" or ch in _BIDI else ch for ch in text)


class Markup(str):
    """A line of handgrad's own rich markup whose user parts were escaped (see :func:`markup`)."""


def markup_escape(text) -> str:
    """User text as literal text inside markup (also cleaned of control characters)."""
    from rich.markup import escape

    return escape(clean(text))


def markup(template: str, *values, **named) -> Markup:
    """``template.format(*values, **named)`` as :class:`Markup`, every value that is not a
    number escaped: ``markup("[bold]{}[/] on {}", path, name)``. Numbers keep their format
    specs (``{:.2f}``)."""
    def esc(v):
        return v if isinstance(v, (int, float)) else markup_escape(v)

    return Markup(template.format(*map(esc, values), **{k: esc(v) for k, v in named.items()}))


def text(value):
    """A rich renderable for a table cell or header: :class:`Markup` as markup, anything else
    as plain, cleaned text."""
    from rich.text import Text

    if isinstance(value, Markup):
        return Text.from_markup(value, emoji=False)
    return Text(clean(value))


def console(stderr: bool = False):
    """rich's Console as handgrad prints: no emoji codes, no guessed highlighting."""
    Console = _rich()
    return Console(stderr=stderr, highlight=False, emoji=False) if Console else None


def print_metrics(summary: dict, title: str) -> None:
    """Accuracy, the per-class table and the confusion matrix, on stdout. ``title`` and the
    class names are printed as plain text whatever they contain."""
    out = console()
    if out is None:  # pragma: no cover - the cli extra installs rich
        print(clean(f"{title}: accuracy {summary['accuracy']:.4f} on {summary['n_samples']} samples; "
                    + metrics_line(summary)))
        return
    from rich.table import Table
    print_lines(markup("[bold]{}[/]: accuracy [bold green]{:.2f}%[/] on {} samples", title,
                       summary["accuracy"] * 100, summary["n_samples"]),
                metrics_line(summary))
    note = majority_note(summary)
    if note:
        print_lines(markup("[yellow]note:[/] {}", note))
    table = Table(title="per class", title_justify="left")
    for col in ("class", "precision", "recall", "f1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for row in summary["per_class"]:
        table.add_row(text(row["class"]), f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                      f"{row['f1']:.3f}", str(row["support"]))
    out.print(table)
    names = [str(r["class"]) for r in summary["per_class"]]
    cm = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
    cm.add_column("true \\ pred")
    for n in names:
        cm.add_column(text(n), justify="right")
    for i, (n, counts) in enumerate(zip(names, summary["confusion_matrix"])):
        cm.add_row(text(n), *[(f"[bold]{c}[/]" if i == j else (f"[red]{c}[/]" if c else "·"))
                              for j, c in enumerate(counts)])
    out.print(cm)


def print_regression_metrics(summary: dict, title: str) -> None:
    """R², RMSE, MAE and the median absolute error, beside always predicting the training mean,
    on stdout (and one line per target when there are several)."""
    base = summary["baseline"]
    print_lines(markup("[bold]{}[/]: R² [bold green]{:.4f}[/] on {} samples", title, summary["r2"],
                       summary["n_samples"]),
                f"RMSE {summary['rmse']:.6g}, MAE {summary['mae']:.6g}, median absolute error "
                f"{summary['median_absolute_error']:.6g}",
                f"always predicting the training mean: R² {base['r2']:.4f}, RMSE {base['rmse']:.6g}, "
                f"MAE {base['mae']:.6g}")
    if summary["rmse"] >= base["rmse"]:
        print_lines(markup("[yellow]note:[/] {}", "the model predicts no better than the training mean "
                           "(RMSE): the features may not carry the target, or training stopped too "
                           "early; try --search"))
    for row in summary.get("per_target", []):
        print_lines(f"  {row['target']}: R² {row['r2']:.4f}, RMSE {row['rmse']:.6g}, MAE {row['mae']:.6g}")


def metrics_line(summary: dict) -> str:
    """Balanced accuracy, macro F1, and the log loss and ROC AUC where known, on one line."""
    parts = [f"balanced accuracy {summary['balanced_accuracy'] * 100:.2f}%",
             f"macro F1 {summary['macro_f1']:.3f}"]
    if summary.get("log_loss") is not None:
        parts.append(f"log loss {summary['log_loss']:.4f}")
    if summary.get("roc_auc") is not None:
        parts.append(f"ROC AUC {summary['roc_auc']:.4f}")
    if summary.get("ece") is not None:
        parts.append(f"expected calibration error {summary['ece']:.4f}")
    return ", ".join(parts)


def majority_note(summary: dict) -> str | None:
    """A warning when the model does no better than always answering the most common class."""
    if summary["accuracy"] > summary["majority_accuracy"] or len(summary["per_class"]) < 2:
        return None
    return (f"accuracy {summary['accuracy'] * 100:.1f}% is no better than always answering the most "
            f"common class ({summary['majority_accuracy'] * 100:.1f}%); look at the balanced "
            "accuracy, and try --class-weight balanced")


def print_lines(*lines, stderr: bool = False) -> None:
    """Print each line: a :class:`Markup` line as markup, any other as plain text (cleaned of
    control characters). Long lines are not broken, so a path stays one piece."""
    out = console(stderr)
    if out is None:  # pragma: no cover
        print(*(clean(ln) for ln in lines), sep="\n", file=sys.stderr if stderr else sys.stdout)
        return
    for line in lines:
        out.print(text(line), soft_wrap=True)


def echo(line, file=None) -> None:
    """``print`` of user-derived text (notes, progress lines): cleaned of control characters."""
    print(clean(line), file=file or sys.stdout, flush=file is sys.stderr)
