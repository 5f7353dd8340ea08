"""The ``handgrad`` command line: a thin layer over the Python API (argparse + rich).

Errors in what the user gave (bad names, shapes, files) end with a one-line message on
stderr and exit status 2, never a traceback; a diverged training run exits with 3. Ctrl-C,
SIGTERM and SIGHUP end a command with status 128 + the signal (training first finishes its
step and writes a checkpoint); a reader of stdout that went away (``| head``) ends it quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

from .._version import __version__
from . import commands, stream_cmd
from .info import cmd_info
from .derive_cmd import add_parser as _derive_parser
from .export_cmd import add_parsers as _export_parsers
from .report_cmd import add_parser as _report_parser
from .check_cmd import add_parser as _check_parser
from .options import check_options
from .ranks import abort_ranks, end_rank, join_ranks
from ..data import BUILTIN_DATASETS
from ..data.features import CLI_SCALING, SCALINGS
from ..training.calibration import CALIBRATIONS
from ..training.threshold import METRICS
from ..errors import InputError, TrainingDivergedError
from ..errors import TrainingInterrupted

DATASETS = list(BUILTIN_DATASETS) + ["mnist"]


def _data_options(p, *, required_target: bool = False) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", metavar="FILE", help="a CSV/TSV/Parquet file")
    src.add_argument("--dataset", default="digits", choices=DATASETS,
                     help="a built-in dataset (default: digits)")
    p.add_argument("--target", metavar="COLUMN", help="the label (or number) column of --data")
    p.add_argument("--data-dir", metavar="DIR", help="where MNIST's IDX files are (or go)")
    p.add_argument("--download", action="store_true", help="download MNIST if missing (SHA-256 checked)")


def _train_parser(sub) -> None:
    from ..model.classifier import DEFAULTS as D

    p = sub.add_parser("train", help="train a classifier or regressor (default: digits) and save it",
                       description="Train an MLP classifier or regressor, evaluate it on a held-out test "
                                   "set, and save the model file and learning curves.")
    _data_options(p)
    p.add_argument("--hidden", type=int, nargs="+", default=None, metavar="N",
                   help="hidden layer widths (default: one layer of twice the inputs, 64 to 256)")
    p.add_argument("--activation", nargs="+", default=[D["activation"]], metavar="NAME",
                   help="relu, leaky_relu[:alpha], sigmoid, tanh, identity; one, or one per hidden layer "
                        "(default auto: relu for classes, tanh for a number)")
    p.add_argument("--optimizer", default=D["optimizer"], choices=["sgd", "nesterov", "adam", "adamw"])
    p.add_argument("--lr", type=float, default=D["lr"], help=f"learning rate (default {D['lr']})")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decoupled decay")
    p.add_argument("--schedule", default=D["schedule"],
                   choices=["constant", "step", "exponential", "cosine", "plateau"])
    p.add_argument("--epochs", type=int, default=D["epochs"], help=f"at most this many (default {D['epochs']})")
    p.add_argument("--batch-size", type=int, default=None,
                   help="rows per step (default: the power of two nearest rows/200, 32 to 256)")
    p.add_argument("--l2", type=float, default=D["l2"], help=f"λ of λΣ‖W‖² (default {D['l2']})")
    p.add_argument("--val-fraction", type=float, default=None,
                   help="stratified validation part of the training rows (0 = none; default: "
                        "5-fold cross-validation chooses the epochs on 20 to 4,999 rows, 0.1 above)")
    p.add_argument("--test-fraction", type=float, default=None,
                   help="stratified test part (default 0.2; 0: train on every row; not with --test)")
    p.add_argument("--test", metavar="FILE",
                   help="score the model on this table file instead of holding out a test part")
    p.add_argument("--patience", type=int, default=D["patience"],
                   help="early stopping patience in epochs, 0 = off (default 20)")
    p.add_argument("--class-weight", choices=["balanced"], default=None)
    p.add_argument("--label-smoothing", type=float, default=None, metavar="EPS",
                   help="train towards (1 − EPS)·one-hot + EPS/classes instead of one-hot targets "
                        "(classes only; e.g. 0.1; derivations.md §16)")
    p.add_argument("--dropout", type=float, default=None, metavar="P",
                   help="inverted dropout: while training, drop each hidden unit's output with "
                        "probability P and scale the kept ones by 1/(1 − P) (e.g. 0.1; "
                        "derivations.md §20; default none)")
    p.add_argument("--task", default="auto", choices=["auto", "classification", "regression"],
                   help="what --target holds (default auto: text, true/false and at most 20 distinct "
                        "whole numbers are classes; fractions and many whole numbers a number)")
    p.add_argument("--loss", default=None, choices=["squared", "huber", "poisson"],
                   help="regression loss: squared error (default), huber (robust to outliers) or "
                        "poisson (counts, log link)")
    p.add_argument("--huber-delta", type=float, default=None, metavar="D",
                   help="where the Huber loss turns linear, in the units the network learns: "
                        "standard deviations of the target unless --target-transform says otherwise "
                        "(default 1)")
    p.add_argument("--target-transform", default=None, choices=["auto", "standardize", "log", "none"],
                   help="how a regression target is scaled for the network (default auto: "
                        "standardised; log: its logarithm, for relative errors; none: as it is)")
    p.add_argument("--metric", default=None,
                   choices=["loss", "accuracy", "balanced_accuracy", "macro_f1", "rmse", "mae", "r2"],
                   help="what early stopping and --search watch on the validation part (default: "
                        "the loss, except the accuracy on a classification hold-out part of 500+ rows)")
    p.add_argument("--search", action="store_true",
                   help="search depth, width, activation, learning rate, L2 and batch size "
                        "(successive halving on the validation), then train the winner")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="time for --search (default 60; the final training comes after; only with --search)")
    p.add_argument("--refit", action="store_true",
                   help="after choosing the epochs on the validation part, train again on all rows")
    p.add_argument("--ensemble", type=int, default=None, metavar="K",
                   help="train K networks of sampled settings together and keep the weighted mean of "
                        "those greedy selection chooses on held-out predictions (default 8, or 1 when "
                        "--hidden, --activation, --lr, --l2, --search, --refit, --checkpoint-dir, "
                        "--stream-buffer or --val-fraction 0 sets up one network; 1: one network)")
    p.add_argument("--categorical", nargs="+", default=(), metavar="COLUMN",
                   help="treat these columns of --data as categories (one-hot)")
    p.add_argument("--numeric", nargs="+", default=(), metavar="COLUMN",
                   help="treat these columns of --data as numbers (a non-number is refused)")
    p.add_argument("--drop", nargs="+", default=(), metavar="COLUMN", help="ignore these columns of --data")
    p.add_argument("--id-column", nargs="+", default=(), metavar="COLUMN",
                   help="columns that identify rows: not features, copied into predict's output")
    p.add_argument("--max-categories", type=int, default=64, metavar="N",
                   help="one-hot columns per categorical column; rarer values share one (default 64)")
    p.add_argument("--calibrate", choices=CALIBRATIONS, default=None,
                   help="temperature: fit one temperature T on the held-out predictions (out-of-fold, or the "
                        "validation part) and predict softmax(log p / T) (default none)")
    p.add_argument("--threshold-metric", choices=METRICS, default=None,
                   help="two classes: choose the cut on the held-out predictions that maximises this "
                        "(default: the larger probability wins, a cut at 0.5)")
    p.add_argument("--scaling", choices=SCALINGS, default=None,
                   help="numeric columns reach the network standardised (x − mean)/std, as the normal "
                        "quantile of their rank among the training values, both side by side, or auto: "
                        "quantile for the skewed ones (|skewness| > 1), standard for the others "
                        f"(default {CLI_SCALING}: measured best on the panel, bench/results/scaling_both_ablation.md)")
    p.add_argument("--seed", type=int, default=D["seed"])
    p.add_argument("--dtype", default=D["dtype"], choices=["float32", "float64"])
    p.add_argument("--out-dir", default="handgrad-out", help="where outputs go (default handgrad-out)")
    p.add_argument("--model", metavar="PATH", help="model file (default OUT_DIR/model.safetensors)")
    p.add_argument("--plot", metavar="PATH", help="learning-curve PNG (default OUT_DIR/learning_curve.png)")
    p.add_argument("--no-plot", action="store_true", help="do not draw plots")
    p.add_argument("--checkpoint-dir", metavar="DIR",
                   help="write checkpoints there (every epoch by default, and on Ctrl-C, SIGTERM or SIGHUP)")
    p.add_argument("--checkpoint-every", type=int, default=1, metavar="N",
                   help="epochs between checkpoints (default 1)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --checkpoint-dir (same data and options); "
                        "with no checkpoint there yet (or no directory), start from the beginning")
    p.add_argument("--stream-buffer", type=int, default=None, metavar="ROWS",
                   help="stream a Parquet --data file through a shuffle buffer of ROWS rows instead "
                        "of loading it (numeric features; docs/distributed.md)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar, one summary line")
    p.set_defaults(func=stream_cmd.train_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handgrad", description="MLP classifiers and regressors with hand-derived backpropagation.")
    parser.add_argument("--version", action="version", version=f"handgrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _train_parser(sub)

    ev = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix of a model "
                                         "(a regressor: R², RMSE, MAE)")
    ev.add_argument("model", metavar="MODEL")
    _data_options(ev)
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--importance", action="store_true",
                    help="also which columns matter: permutation importance on these rows (and the gradient view)")
    ev.add_argument("--repeats", type=int, default=5, metavar="N",
                    help="shuffles per column for --importance (default 5)")
    ev.add_argument("--seed", type=int, default=0, help="the shuffles' seed for --importance (default 0)")
    ev.set_defaults(func=commands.cmd_evaluate)

    pr = sub.add_parser("predict", help="write a model's predictions for a data file to CSV")
    pr.add_argument("model", metavar="MODEL")
    _data_options(pr)
    pr.add_argument("--out", required=True, metavar="FILE", help="CSV to write (- for standard output)")
    pr.add_argument("--proba", action="store_true", help="also write one probability column per class "
                                                          "(classifiers)")
    pr.add_argument("--threshold", type=float, default=None, metavar="T",
                    help="two classes: predict the second class where its probability is ≥ T (default: the "
                         "model's own cut, 0.5 unless train --threshold-metric chose one)")
    pr.add_argument("--quiet", action="store_true")
    pr.set_defaults(func=stream_cmd.predict_command)  # a Parquet file is streamed

    info = sub.add_parser("info", help="architecture, parameter count and training record of a model")
    info.add_argument("model", metavar="MODEL")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)
    _export_parsers(sub)  # export, import-sklearn
    _report_parser(sub)
    _check_parser(sub)

    gc = sub.add_parser("gradcheck", help="check backprop against finite differences on a random network")
    gc.add_argument("--sizes", type=int, nargs="+", default=[3, 10, 6, 3],
                    help="layer widths incl. input and classes (default 3 10 6 3)")
    gc.add_argument("--activation", nargs="+", default=["relu"],
                    help="one activation for all hidden layers, or one per hidden layer")
    gc.add_argument("--l2", type=float, default=0.01, help="λ of the L2 penalty (default 0.01)")
    gc.add_argument("--dtype", default="float64", choices=["float32", "float64"],
                    help="dtype of the network (the check itself always runs in float64)")
    gc.add_argument("--samples", type=int, default=8, help="random samples in the batch (default 8)")
    gc.add_argument("--part", default="total", choices=["total", "data", "l2"])
    gc.add_argument("--max-entries", type=int, default=2000, help="entries checked per parameter")
    gc.add_argument("--seed", type=int, default=0)
    gc.set_defaults(func=commands.cmd_gradcheck)
    _derive_parser(sub)  # derive: backprop written out for one network

    demo = sub.add_parser("demo", help="train seed 004's 3→10→6→3 network by plain gradient descent")
    demo.add_argument("--epochs", type=int, default=3000)
    demo.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=commands.cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if isinstance(getattr(args, "activation", None), list) and len(args.activation) == 1:
        args.activation = args.activation[0]
    # resources: what a command holds until it ends (the locks of its output directories)
    with contextlib.ExitStack() as resources, _stop_signals_raise():
        args.resources = resources
        code = _run(args)
    return end_rank(code)  # under mpiexec a failed rank ends the job (cli/ranks.py)


def _run(args) -> int:
    try:
        check_options(args)
        join_ranks(args)  # mpiexec -n N handgrad train (cli/ranks.py)
        code = args.func(args)
        sys.stdout.flush()  # a reader that went away (| head) shows here, not at exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except InputError as exc:
        print(f"handgrad {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingDivergedError as exc:
        print(f"handgrad {args.command}: error: {exc}", file=sys.stderr)
        return 3
    except MemoryError as exc:  # past the memory plans (handgrad.memory_plan): other programs took it
        print(f"handgrad {args.command}: error: {out_of_memory(exc, args.command)}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output directory that cannot be written
        print(f"handgrad {args.command}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:  # a stop signal in training: the step finished, a checkpoint written
        _say(f"handgrad {args.command}: {exc}")
        return 128 + _signum(exc)
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP elsewhere
        signum = _signum(exc)
        _say(f"handgrad {args.command}: "
             + ("interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"))
        return 128 + signum
    except Exception:  # a bug: its traceback; under mpiexec the job ends with it (no rank left waiting)
        abort_ranks()
        raise


def out_of_memory(exc: MemoryError, command: str) -> str:
    """The one line for a :class:`MemoryError` that got past the memory checks (numpy's names
    the array it could not allocate)."""
    what = " ".join(str(exc).split()) or "an allocation failed"
    fix = ("use fewer or narrower layers (--hidden), a smaller --batch-size or --stream-buffer, or "
           "--val-fraction 0.1 instead of cross-validation's five networks" if command == "train"
           else "give it fewer rows at a time")
    return (f"ran out of memory ({what}): other programs may have taken memory since the check, "
            f"or a limit (ulimit -v, a container's) is lower than this machine's; free some, or {fix}")


def _signum(exc: BaseException) -> int:
    """The signal that raised ``exc`` (set by the handlers; a plain Ctrl-C has none)."""
    return getattr(exc, "signum", None) or signal.SIGINT


def _say(line: str) -> None:
    """The last line of a stopped command; the terminal may be gone (SIGHUP): never raise."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr)


def _reader_gone() -> int:
    """The reader of standard output closed it (``handgrad info --json M | head -1``): end
    quietly with status 1 — what rich does for the commands that print tables, and Python's
    documented recipe — with stdout pointed at /dev/null so that the interpreter's last
    flush finds nothing to complain about."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 1


@contextlib.contextmanager
def _stop_signals_raise():
    """SIGTERM and SIGHUP end a command as Ctrl-C does — an exception, so that a file being
    written is removed, and exit status 128 + the signal — instead of killing the process
    where it stands. Training replaces these handlers with its own while it runs (it stops
    after the current step and checkpoints: training/run.py)."""
    from ..signals import handled, interrupt

    def handler(signum, frame):
        raise interrupt(signum)

    with handled(("SIGTERM", "SIGHUP"), handler):
        yield


if __name__ == "__main__":
    sys.exit(main())
