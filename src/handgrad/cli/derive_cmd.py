"""``handgrad derive``: print the worked derivation of a network described by its options, or
of a saved model file (derivations instantiated by :mod:`handgrad.derive`)."""

from __future__ import annotations

from ..errors import InputError

DEFAULT_SIZES = [3, 10, 6, 3]  # seed 004's network, derivations.md §8


def add_parser(sub) -> None:
    """Register ``derive`` on the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "derive", help="write out backprop for a network: every equation with its shapes",
        description="Write out the forward and backward pass of a network, equation by equation, "
                    "with the shape of every term, the rule it uses, the section of "
                    "docs/derivations.md and the function that computes it; optionally one worked "
                    "step with finite-difference checks; and the common slips for this network.")
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help="a saved model file: derive its architecture (and use its weights)")
    p.add_argument("--sizes", type=int, nargs="+", default=None, metavar="N",
                   help="layer widths incl. inputs and outputs (default 3 10 6 3, seed 004's network)")
    p.add_argument("--activation", nargs="+", default=None, metavar="NAME",
                   help="relu (default), leaky_relu[:alpha], sigmoid, tanh, identity; one, or one "
                        "per hidden layer")
    p.add_argument("--output", default=None,
                   choices=["softmax", "logistic", "identity", "exp", "huber"],
                   help="the output head and its loss (default softmax)")
    p.add_argument("--huber-delta", type=float, default=None, metavar="DELTA",
                   help="the huber head's threshold δ > 0: residuals within ±δ are squared, "
                        "larger ones count linearly (default 1)")
    p.add_argument("--l2", type=float, default=None, help="λ of the penalty λΣ‖W‖² (default 0)")
    p.add_argument("--member", type=int, default=None, metavar="K",
                   help="with an ensemble MODEL: derive its member K (0 first; default 0)")
    p.add_argument("--batch", type=int, default=4, help="rows m of the batch (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch (default 0)")
    p.add_argument("--format", default="text", choices=["text", "markdown", "latex"],
                   help="text fits 80 columns; markdown renders on GitHub; latex is a standalone "
                        "document (default text)")
    p.add_argument("--numbers", action="store_true",
                   help="add one worked step: every array, each gradient beside finite differences")
    p.set_defaults(func=cmd_derive)


def cmd_derive(args) -> int:
    from ..derive import derive, derive_network
    from .terminal import echo

    if args.model is not None:
        given = [f"--{k.replace('_', '-')}" for k in ("sizes", "activation", "output", "l2",
                                                      "huber_delta")
                 if getattr(args, k) is not None]
        if given:
            raise InputError(f"{', '.join(given)} describe a network, and so does the model file "
                             f"{args.model!r}: give one or the other")
        from ..model.files import load_model

        networks = load_model(args.model).networks
        k = 0 if args.member is None else args.member
        if not 0 <= k < len(networks):
            raise InputError(f"--member {k}: the model file {args.model!r} holds "
                             + (f"an ensemble of {len(networks)} networks: give 0 to {len(networks) - 1}"
                                if len(networks) > 1 else "one network (member 0)"))
        which = f" (member {k} of its {len(networks)} networks)" if len(networks) > 1 else ""
        doc = derive_network(networks[k], batch=args.batch, seed=args.seed, format=args.format,
                             numbers=args.numbers,
                             title=f"Backpropagation for the model {args.model}{which}",
                             source=("Architecture, λ and (in the worked step) the trained "
                                     f"weights are those of the model file {args.model}{which}.",))
    else:
        if args.member is not None:
            raise InputError("--member picks a network of an ensemble MODEL file: give the model file")
        if args.huber_delta is not None and args.output != "huber":
            raise InputError("--huber-delta is the huber head's threshold: give it with --output huber")
        doc = derive(args.sizes or DEFAULT_SIZES, args.activation or "relu",
                     output=args.output or "softmax", l2=args.l2 or 0.0, batch=args.batch,
                     seed=args.seed, format=args.format, numbers=args.numbers,
                     huber_delta=1.0 if args.huber_delta is None else args.huber_delta)
    for line in doc.splitlines():
        echo(line)
    return 0
