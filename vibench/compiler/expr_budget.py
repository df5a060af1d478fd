"""The steps the expressions of one compilation may take together (see :mod:`vibench.compiler.expr_eval`).

:func:`budget` opens one shared :class:`Budget` for a compilation; the evaluator reads it (:data:`BUDGET`),
spends from it what each expression took, and when it is spent says how to get past it (:func:`budget_hint`).
Without one each expression is bounded on its own (:data:`~vibench.compiler.expr_functions.MAX_STEPS`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from vibench.compiler.expr_functions import MAX_TOTAL_STEPS
from vibench.compiler.limits import MAX_NODES, MIN_EXPRESSION_STEPS, STEPS_PER_NODE


class Budget:
    """Steps left to the expressions of one compilation (``lowered``: fewer than a default node limit gives)."""

    __slots__ = ("left", "limit", "lowered")

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.limit = limit
        self.lowered = limit < MAX_TOTAL_STEPS


BUDGET: ContextVar[Budget | None] = ContextVar("vibench_expression_budget", default=None)


@contextlib.contextmanager
def budget(steps: int = MAX_TOTAL_STEPS) -> Iterator[None]:
    """Share one budget of ``steps`` among every expression evaluated inside (one compilation), never
    fewer than :data:`~vibench.compiler.limits.MIN_EXPRESSION_STEPS`.

    Without it each expression is bounded on its own (:data:`~vibench.compiler.expr_functions.MAX_STEPS`); with
    it, a spec of many expensive expressions (or one expression copied by ``repeat``) also stops, at the
    expression that exhausts the budget. Callers give ``STEPS_PER_NODE * max_nodes``: the floor keeps a node
    limit lowered to a model's size from refusing the expressions of its templates (the library
    spends up to 21 steps per node), while still bounding the time of a hostile spec.
    """
    token = BUDGET.set(Budget(max(steps, MIN_EXPRESSION_STEPS)))
    try:
        yield
    finally:
        BUDGET.reset(token)


def budget_hint(shared: Budget) -> str:
    """How to get past a spent budget: a lowered node limit sets it (and the expression that exhausts it may
    be a template's own, which the user need not change), or else the spec's copies spend it."""
    if shared.lowered:
        return (f"the budget follows the node limit, lowered here (--max-nodes; max_nodes= in the API): "
                f"{STEPS_PER_NODE} steps per allowed node, at least {MIN_EXPRESSION_STEPS:,}; raise it "
                f"(the default, {MAX_NODES:,} nodes, allows {MAX_TOTAL_STEPS:,} steps)")
    return "a `repeat` or many copies evaluate this expression again and again; compute large values once, " \
           "in a parameter"
