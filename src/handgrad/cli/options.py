"""The command line's numbers checked before a command runs, each refusal naming its flag.

argparse only converts: ``--lr nan``, ``--seed -1`` or ``--batch-size 0`` reach the commands as
numbers. :func:`check_options` holds every numeric option of every subcommand to its range
with the checks of :mod:`handgrad.validation`, so the one-line message names ``--lr`` rather
than an API argument, and nothing is loaded or trained before the mistake is reported.
"""

from __future__ import annotations

from ..validation import check_count, check_fraction, check_positive, check_seed


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
    "hidden": _widths, "sizes": _widths, "huber_delta": _positive,
}


def check_options(args) -> None:
    """Refuse (InputError naming the flag) any numeric option of ``args`` out of its range."""
    for dest, check in RULES.items():
        value = getattr(args, dest, None)
        if value is not None:
            check(value, "--" + dest.replace("_", "-"))
