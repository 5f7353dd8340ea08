"""``handgrad check FILE.py[:FUNCTION] --sizes …``: grade a learner's own backward pass
(:mod:`handgrad.check`). Exit 0 when every array matches the reference, 1 when one does not,
2 when the function cannot be called (its own traceback lines are shown, not handgrad's)."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="check your own backward pass against the reference and name the slip",
                       description="Call FUNCTION(X, Y, weights, biases, l2) -> (dW, db) of FILE.py on random "
                                   "batches and compare every gradient with handgrad's; a wrong one is explained "
                                   "by the slip that gives it (docs/check.md has the template).")
    p.add_argument("target", metavar="FILE.py[:FUNCTION]", help="your file, and the function (default backprop)")
    p.add_argument("--sizes", type=int, nargs="+", required=True, metavar="N",
                   help="layer widths n0 … nL, the inputs first (e.g. 3 10 6 3)")
    p.add_argument("--activation", nargs="+", default=["relu"], metavar="NAME",
                   help="hidden activation: one, or one per hidden layer (relu, leaky_relu, sigmoid, tanh, identity)")
    p.add_argument("--output", default="softmax", choices=["softmax", "logistic", "identity"])
    p.add_argument("--l2", type=float, default=0.0, help="λ of the penalty λ Σ‖W‖² (default 0)")
    p.add_argument("--convention", default="row", choices=["row", "column"],
                   help="row: X (m, n0), W (n_in, n_out), b (n_out,); column: X (n0, m), W (n_out, n_in), b (n_out, 1)")
    p.add_argument("--batch", type=int, default=5, metavar="M", help="rows per batch (default 5)")
    p.add_argument("--trials", type=int, default=3, help="random batches and weights to check on (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)


def cmd_check(args) -> int:
    from ..check import SubmissionError, check_backprop, load_function
    from ..errors import InputError
    from .commands import _emit_json

    try:
        fn, name = load_function(args.target)
        result = check_backprop(fn, args.sizes, activation=args.activation if len(args.activation) > 1
                                else args.activation[0], output=args.output, l2=args.l2,
                                convention=args.convention, batch=args.batch, seed=args.seed,
                                trials=args.trials, name=name)
    except SubmissionError as exc:
        if args.json:
            _emit_json({"passed": False, "callable": False, "error": str(exc), "traceback": exc.trace})
            return 2
        if exc.trace:
            print(exc.trace, file=sys.stderr)
        raise InputError(str(exc)) from None
    if args.json:
        _emit_json({**result.to_dict(), "callable": True})
    else:
        print(result)
    return 0 if result.passed else 1
