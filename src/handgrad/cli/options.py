"""The command line's options checked before a command runs, each refusal naming its flag.

argparse only converts: ``--lr nan``, ``--seed -1`` or ``--batch-size 0`` reach the commands as
numbers, ``--activation relux`` as a name. :func:`check_options` holds every numeric option of
every subcommand to its range with the checks of :mod:`handgrad.validation`, every name option
to the names handgrad knows, and the options of ``train`` to each other (one given where another
makes it do nothing, or contradicts it) — so the one-line message names ``--lr`` rather than an
API argument, and nothing is loaded or trained before the mistake is reported. Options whose
default depends on whether they were given (``--test-fraction``, ``--budget``) are parsed as
None and set to their defaults here, after the check.
"""

from __future__ import annotations

from ..errors import InputError, listed
from ..validation import check_count, check_fraction, check_positive, check_seed, check_smoothing

TEST_FRACTION, BUDGET = 0.2, 60.0  # the defaults of --test-fraction and --budget


def _positive(v, flag):
    return check_positive(v, flag)


def _non_negative(v, flag):
    return check_positive(v, flag, allow_zero=True)


def _count(minimum):
    return lambda v, flag: check_count(v, flag, minimum=minimum)


def _widths(v, flag):
    return [check_count(n, f"{flag} width", minimum=1) for n in v]


# option (argparse dest) -> check(value, flag); None values are the defaults' "auto"/"off"
RULES = {
    "lr": _positive, "momentum": check_fraction, "weight_decay": _non_negative,
    "l2": _non_negative, "epochs": _count(1), "batch_size": _count(1),
    "val_fraction": check_fraction, "test_fraction": check_fraction, "patience": _count(0),
    "budget": _positive, "max_categories": _count(1), "checkpoint_every": _count(1),
    "seed": check_seed, "samples": _count(1), "max_entries": _count(1),
    "hidden": _widths, "sizes": _widths, "huber_delta": _positive, "ensemble": _count(1),
    "label_smoothing": check_smoothing, "dropout": check_fraction,
}


def check_options(args) -> None:
    """Refuse (InputError naming the flag) any numeric option of ``args`` out of its range, an
    unknown name, or ``train`` options that contradict each other; then set the defaults
    that depend on whether an option was given."""
    for dest, check in RULES.items():
        value = getattr(args, dest, None)
        if value is not None:
            check(value, "--" + dest.replace("_", "-"))
    _check_names(args)
    if getattr(args, "command", None) == "train":
        check_train_combinations(args)
        args.test_fraction = TEST_FRACTION if args.test_fraction is None else args.test_fraction
        args.budget = BUDGET if args.budget is None else args.budget


def _check_names(args) -> None:
    """``--activation``: every name known (``leaky_relu:0.2`` included; ``auto``, train's
    default, alone), before any data is read."""
    from ..core.activations import get_activation

    names = getattr(args, "activation", None)
    if names == "auto" and getattr(args, "command", None) == "train":
        return  # the task's default (model.once.auto_activation)
    for name in [names] if isinstance(names, str) else names or ():
        try:
            get_activation(name)
        except InputError as exc:
            raise InputError(f"--activation: {exc}") from None


def check_train_combinations(args) -> None:
    """Refuse ``train`` options that one another makes do nothing, or contradict: each message
    names both and says which to drop."""
    target = args.target
    for dest, flag in _COLUMN_OPTIONS:
        if target is not None and target in (getattr(args, dest, None) or ()):
            raise InputError(f"{flag} names {target!r}, the --target column: the target is what the "
                             f"model learns to predict, never one of its inputs; remove it from {flag}")
    if args.budget is not None and not args.search:
        raise InputError(f"--budget {args.budget:g} is the time --search may take; without --search "
                         "nothing uses it (the training runs its --epochs): add --search or drop --budget")
    if args.test and args.test_fraction is not None:
        raise InputError(f"--test {args.test} is the test part, so --test-fraction "
                         f"{args.test_fraction:g} has nothing to hold out: drop one of them")
    if args.metric is not None and args.val_fraction == 0:
        raise InputError(f"--metric {args.metric} is watched on the validation part, and --val-fraction 0 "
                         "holds none out: drop --metric, or give --val-fraction a fraction such as 0.1")
    if args.search:
        _check_search(args)
    if getattr(args, "ensemble", 1) is None:
        _default_ensemble(args)
    elif args.ensemble > 1:
        _check_ensemble(args)


_COLUMN_OPTIONS = (("categorical", "--categorical"), ("numeric", "--numeric"), ("drop", "--drop"),
                   ("id_column", "--id-column"))


def check_named_columns(args, columns, table: str) -> None:
    """Once the ``--data`` table is read: every column ``--categorical``, ``--numeric``,
    ``--drop`` and ``--id-column`` name is one of its ``columns`` (named per option)."""
    have = set(columns)
    for dest, flag in _COLUMN_OPTIONS:
        missing = [c for c in getattr(args, dest, None) or () if c not in have]
        if missing:
            raise InputError(f"{flag} names {listed(missing)}, not a column of {table}; its columns "
                             f"are {listed(columns)}")


def _given(args, *flags: str) -> list[str]:
    """Those of the train options ``flags`` that ``args`` sets to other than their defaults."""
    from ..model.classifier import DEFAULTS as D

    defaults = {"--hidden": None, "--activation": D["activation"], "--lr": D["lr"], "--l2": D["l2"],
                "--batch-size": None, "--epochs": D["epochs"], "--patience": D["patience"],
                "--val-fraction": None, "--refit": False}
    return [f for f in flags if getattr(args, f[2:].replace("-", "_")) != defaults[f]]


def _check_search(args) -> None:
    """``--search``: the options it chooses itself, and those that do not apply to it."""
    given = _given(args, "--hidden", "--activation", "--lr", "--l2", "--batch-size", "--epochs", "--patience",
                   "--val-fraction", "--refit")
    if given:
        raise InputError(f"--search chooses {', '.join(given)} itself; drop {'them' if len(given) > 1 else 'it'}"
                         " or drop --search")
    for flag, value in (("--checkpoint-dir", args.checkpoint_dir), ("--resume", args.resume)):
        if value:
            raise InputError(f"{flag} does not work with --search: the search trains many short runs "
                             "and keeps no checkpoints to resume; drop it or drop --search")


def _default_ensemble(args) -> None:
    """``--ensemble`` not given: the default ensemble (:data:`~handgrad.model.ensemble.ENSEMBLE`
    members), unless an option sets up one network — its settings, a search, a refit,
    checkpoints, a stream, or no validation part — then one network."""
    from ..model.ensemble import ENSEMBLE

    one = _given(args, "--hidden", "--activation", "--lr", "--l2", "--refit") + [
        flag for flag, value in (("--search", args.search), ("--checkpoint-dir", args.checkpoint_dir),
                                 ("--stream-buffer", args.stream_buffer)) if value]
    if args.val_fraction == 0:
        one.append("--val-fraction 0")
    args.ensemble = 1 if one else ENSEMBLE
    args.ensemble_default = True
    args.ensemble_why = (f"one network, not the default ensemble of {ENSEMBLE}: {', '.join(one)} "
                         f"set{'s' if len(one) == 1 else ''} up one network's run" if one else None)


def _check_ensemble(args) -> None:
    """``--ensemble K`` (K > 1): the settings each member draws itself, and the runs an ensemble
    has no form of yet."""
    given = _given(args, "--hidden", "--activation", "--lr", "--l2")
    if given:
        raise InputError(f"--ensemble {args.ensemble} draws each member's {', '.join(given)} itself; drop "
                         f"{'them' if len(given) > 1 else 'it'}, or give --ensemble 1 to set {'them' if len(given) > 1 else 'it'}")
    for flag, value, why in (
            ("--search", args.search, "the search trains one network per candidate"),
            ("--refit", args.refit, "members trained on a hold-out part are kept as they are"),
            ("--checkpoint-dir", args.checkpoint_dir, "an ensemble's members keep no checkpoints yet"),
            ("--stream-buffer", args.stream_buffer, "a streamed file trains one network")):
        if value:
            raise InputError(f"{flag} does not go with --ensemble {args.ensemble}: {why}; "
                             f"drop {flag} or give --ensemble 1")
