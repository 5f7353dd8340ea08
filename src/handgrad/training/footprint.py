"""What training holds in memory, as parts of a :class:`~handgrad.memory_plan.MemoryPlan`: one
account for :func:`~handgrad.fit`, :func:`~handgrad.fit_many` (and so cross-validation, which
trains its folds with it), :func:`~handgrad.training.streaming.fit_stream` and the search.

Per network, arrays of its parameter count P (counted from the code that allocates them):

* its weights and their gradient (``MLP``: ``flat``, ``flat_grad``);
* the optimizer's state and scratch: Adam m, v and two scratch buffers (4); SGD one scratch
  buffer and, with momentum, the velocity (``training.optim``; stacked, two scratch buffers);
* the weights at the start of each epoch (kept in case it diverges) and, with early stopping,
  the best epoch's;
* one training alone: for the diagnostics of an epoch's last step, the weights before it and
  a layer's change; with checkpoints, the optimizer's state copied and everything serialised
  while a file is written;
* trained together (``fast.stacked``): the stack's own copy of the weights, its gradient and
  the scratch of its weight gradients, and one copy while a stopped model leaves the stack;
  with worker processes, one more for the result a worker sends back.

Per batch row and unit: :data:`~handgrad.memory_plan.BUFFERS_PER_UNIT` buffers of the step,
and one per unit of the rows predicted at once on the validation part (chunks of
:data:`PREDICT_ROWS`, :data:`STACK_PREDICT_ROWS` per model in a stack).
"""

from __future__ import annotations

import dataclasses

from ..memory_plan import BUFFERS_PER_UNIT, MemoryPlan, memory_needed

PREDICT_ROWS = 4096        # fast.predict.forward_in_chunks' chunk
STACK_PREDICT_ROWS = 1024  # fast.stacked.Stack.logits' chunk


@dataclasses.dataclass(frozen=True)
class Fixes:
    """How a refusal names what to change: each a phrase that follows "use"."""
    layers: str = "fewer or narrower layers"
    batch: str = "a smaller batch_size"
    together: str | None = "fewer networks at once"  # None: nothing to offer


def optimizer_arrays(optimizer, momentum: float = 0.9, stacked: bool = False) -> tuple[int, int, str]:
    """(parameter-sized arrays an optimizer allocates, how many of them are its state — what a
    checkpoint copies —, what they are) for an optimizer name or object."""
    name = str(getattr(optimizer, "name", optimizer)).lower()
    momentum = getattr(optimizer, "momentum", momentum)
    if name in ("sgd", "nesterov"):
        velocity = 1 if (momentum or name == "nesterov") else 0
        scratch = 2 if stacked else 1
        return scratch + velocity, velocity, "SGD's velocity and scratch" if velocity else "SGD's scratch"
    return 4, 2, "Adam's state"  # Adam, AdamW (m, v, two scratch); an unknown one: as much


def add_training(plan: MemoryPlan, sizes, itemsize: int, *, optimizer="adam", momentum: float = 0.9,
                 batch_rows: int, eval_rows: int = 0, networks: int = 1, together: int = 1,
                 best: bool = True, diagnostics: bool = False, checkpoints: bool = False,
                 workers: int = 1, held: bool = False, fixes: Fixes = Fixes()) -> MemoryPlan:
    """Add to ``plan`` what training ``networks`` networks of ``sizes`` holds, ``together`` of
    them at once (1: one after another with :func:`~handgrad.fit`; > 1: stacked by
    :func:`~handgrad.fit_many`, split over ``workers`` processes); ``batch_rows`` (already
    clipped to the rows) per step, ``eval_rows`` validation rows per network, ``best``: early
    stopping keeps the best weights; ``held``: the networks exist already."""
    n_params = memory_needed(sizes, 1)[0]
    state, kept, state_name = optimizer_arrays(optimizer, momentum, stacked=together > 1)
    # the networks' own weights and gradients (made before training; forked workers share them)
    plan.add("weights and gradients" + (f" of {networks} networks" if networks > 1 else ""), 2 * networks * n_params * itemsize,
             fixes.layers, held=held)
    extras = state + 1 + best  # optimizer, epoch-start copy, best copy
    names = [state_name, "epoch-start" + (" and best" if best else "") + " copies"]
    if together > 1:
        extras += 3 + 1 + (workers > 1)  # the stack's weights, gradient, scratch; select; result
        names.insert(0, "the stack's copies")
    else:
        names += ["diagnostics"] if diagnostics else []
        # a checkpoint: the state copied, then weights, state, best (and epoch-start) serialised
        extras += 2 * diagnostics + (kept + (1 + kept + best + 1) if checkpoints else 0)
        if checkpoints:
            names.append("checkpoint writes")
    per_process = -(-together // max(1, workers))
    plan.add(_label(", ".join(names), together, extras), together * extras * n_params * itemsize,
             f"{fixes.layers} or {fixes.together}" if together > 1 and fixes.together else fixes.layers,
             largest=per_process * extras * n_params * itemsize)
    units = sum(int(s) for s in sizes)
    step = together * BUFFERS_PER_UNIT * batch_rows * units * itemsize
    plan.add(f"activations of {_times(together)}{batch_rows:,} rows", step, fixes.batch,
             largest=per_process * BUFFERS_PER_UNIT * batch_rows * units * itemsize)
    chunk = min(eval_rows, STACK_PREDICT_ROWS if together > 1 else PREDICT_ROWS)
    predict = together * chunk * (units - int(sizes[0])) * itemsize
    plan.add(f"predictions of {_times(together)}{chunk:,} validation rows", predict, fixes.layers,
             largest=per_process * chunk * (units - int(sizes[0])) * itemsize)
    return plan


def _times(k: int) -> str:
    return f"{k} × " if k > 1 else ""


def _label(what: str, k: int, arrays: int) -> str:
    return f"{what}, {arrays} arrays the parameters' size" + (" per network" if k > 1 else "")


def data_bytes(rows: int, width: int, itemsize: int, copies: float = 1.0) -> int:
    """Bytes of ``copies`` copies of ``rows`` × ``width`` numbers of ``itemsize`` bytes."""
    return int(copies * rows * width * itemsize)
