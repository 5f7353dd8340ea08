"""The ``handgrad`` command line: a thin layer over the Python API.

Errors in what the user gave (bad names, shapes, files) end with a one-line message on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import __version__
from .errors import InputError


def _cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(epochs=args.epochs, lr=args.lr, seed=args.seed)
    return 0


def _cmd_gradcheck(args) -> int:
    from .gradcheck import gradcheck
    from .network import MLP

    net = MLP(args.sizes, activation=args.activation, l2=args.l2, dtype=args.dtype, seed=args.seed)
    rng = np.random.default_rng(args.seed + 1)
    X = rng.standard_normal((args.samples, net.sizes[0]))
    y = rng.integers(0, net.n_classes, size=args.samples)
    report = gradcheck(net, X, y, part=args.part, max_entries=args.max_entries)
    print(report)
    return 0 if report.passed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handgrad", description="MLP classifiers with hand-derived backpropagation.")
    parser.add_argument("--version", action="version", version=f"handgrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="train seed 004's 3→10→6→3 network by gradient descent")
    demo.add_argument("--epochs", type=int, default=3000)
    demo.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo)

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
    gc.set_defaults(func=_cmd_gradcheck)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "activation", None) and len(args.activation) == 1:
        args.activation = args.activation[0]
    try:
        return args.func(args)
    except InputError as exc:
        print(f"handgrad {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("handgrad: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
