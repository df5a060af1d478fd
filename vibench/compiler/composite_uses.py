"""What the uses of a composite block cost a compilation: counted, bounded, and shared between uses.

Each use of a composite block (each copy of a `repeat` or `for_each` node of it) binds the block's parameters,
computes its `let:` values and runs its `checks:`, and each copy of a node gathers the keys its `with:` gives.
The node limit (E213) counts the copies, not what each copy processes again: a block of 4,000 parameters used
by a `for_each` of 1,000 took 21 s and 1.6 GB to check, one of 400 checks used 20,000 times over a minute.

* :func:`charge` counts that work, the declarations processed, against :func:`declaration_limit` (ten per allowed
  node, :data:`~vibench.compiler.limits.DECLARATIONS_PER_NODE`): the use that takes a compilation past it is
  E213, located there, as a node past the node limit is.
* :func:`bind_use` binds a use's parameters at a cost in proportion to what differs between uses: the
  parameters the use sets, those their defaults read, and the required ones are bound for it; the others (all
  defaults that read none of those) are bound once per definition and the values they set, and shared. A use
  with the values of one before it is a lookup, its large values' keys too (:func:`frozen_values`); a use whose
  values differ binds again the large values it shares with an earlier one, and counts their items.
* :func:`inputs_env` gives the names the block's inputs (their `when`, layout and shape) read: its parameters,
  without computing its `let:` values unless an input reads one.

The memos live in the specialiser's per-compilation memo (``param_memo``; their keys start with a token of this
module's, where typecheck's start with a block name), so nothing outlives the compilation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.elaborated import Failed, FreezeMemo, freeze
from vibench.compiler.expr import FUNCTIONS, contains_template, template_names
from vibench.compiler.ir import Pos, Template, UnitDef
from vibench.compiler.lets import let_env
from vibench.compiler.limits import DECLARATIONS_PER_NODE, MAX_NESTING, MIN_DECLARATIONS
from vibench.compiler.params import bind_params

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer

# The keys of this module's memo entries.
_WORK, _PLAN, _REST, _USE, _KEPT, _INPUTS, _BOUND, _FROZEN = (object() for _ in range(8))
_CONSTANTS = frozenset({"true", "false", "null"})  # names an expression knows without its environment
_CHAIN = MAX_NESTING // 2  # the longest chain of defaults a shared binding takes (far from the limit's E204)


def declaration_limit(max_nodes: int) -> int:
    """The declarations a compilation may process under a node limit of ``max_nodes``."""
    return max(MIN_DECLARATIONS, DECLARATIONS_PER_NODE * max_nodes)


@dataclass
class _Work:
    spent: int
    limit: int


def charge(owner: _Specializer, count: int, where: Callable[[int, int], Diagnostic]) -> None:
    """Count ``count`` declarations processed; past the compilation's limit, report ``where(spent, limit)`` (an
    E213 located at the use) once per compilation, and raise :class:`Failed` (then at every use after it, as
    the node limit does)."""
    past = _spend(owner, count)
    if past is None:
        return
    owner.diags.add(where(*past))
    raise Failed()


def _spend(owner: _Specializer, count: int) -> tuple[int, int] | None:
    """Count ``count`` declarations processed: None within the limit; past it, (spent, limit) the first time, for
    the caller to report (then fail), and :class:`Failed` raised after that (the limit is said once)."""
    memo = owner.param_memo
    work = memo.get((_WORK,))
    if work is None:
        work = memo[(_WORK,)] = _Work(0, declaration_limit(owner.max_nodes))
    work.spent += count
    if work.spent <= work.limit:
        return None
    if owner.limit_hit:
        raise Failed()
    owner.limit_hit = True
    return work.spent, work.limit


def frozen_values(owner: _Specializer) -> FreezeMemo:
    """The keys of the large values frozen in this compilation (:func:`~vibench.compiler.elaborated.freeze`'s
    memo), which the specialiser's keys and :func:`bind_use`'s share."""
    memo = owner.param_memo.get((_FROZEN,))
    if memo is None:
        memo = owner.param_memo[(_FROZEN,)] = {}
    return memo


def too_much_work(what: str, pos: Pos | None, node: str | None, spent: int, limit: int, per_use: str, *,
                  note: str = "a composite block's declarations are processed again for every copy that uses it",
                  fix: str = "use the block fewer times or give it fewer declarations (values that do not change "
                             "between the copies can be one parameter holding a mapping)") -> Diagnostic:
    """E213 for the use ``what`` (`copy 1,001 of 10,000 of node `a``) that takes the declarations processed past
    ``limit``; ``per_use``: what it processes (`1,001 parameters of block `Body``); ``note``: why it is processed
    again; ``fix``: the hint's advice before raising the limit. ``node``: None where the caller adds it."""
    return Diagnostic(
        "E213", f"the model processes more declarations than allowed at {what}", pos, node=node,
        expected=f"at most {limit:,} declarations processed: parameters, `let` values and checks of each use "
                 "of a composite block, `with:` keys of each copy of a node, large values bound again "
                 f"(one per {ITEMS_PER_DECLARATION} items)",
        found=f"{spent:,} so far; this use processes {per_use}",
        notes=(note,),
        hint=f"{fix}; if the model really is this large, raise --max-nodes (max_nodes= in the API): the limit is "
             f"{DECLARATIONS_PER_NODE} declarations per allowed node, at least {MIN_DECLARATIONS:,}")


def counted(count: int, what: str) -> str:
    """``count`` and ``what`` (`1 parameter`, `3 parameters`)."""
    return f"{count:,} {what}" + ("s" if count != 1 else "")


# -- binding a use's parameters -------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What a definition's parameters read, for sharing their binding between uses."""

    names: frozenset[str]
    required: frozenset[str]
    readers: dict[str, list[str]]  # parameter -> the parameters whose default reads it
    reads: dict[str, frozenset[str]]  # parameter -> the parameters its default reads


def _plan(block: UnitDef) -> _Plan | None:
    """The plan of ``block``'s parameters; None where a shared binding could say something other than binding
    them all at once: defaults that read a name that is no parameter (an unknown name's "did you mean" lists
    every parameter), read each other in a cycle or in a chain near the limit of :data:`MAX_NESTING`."""
    names = frozenset(d.name for d in block.params)
    if len(names) != len(block.params):
        return None
    reads: dict[str, frozenset[str]] = {}
    readers: dict[str, list[str]] = {}
    for decl in block.params:
        if decl.required or not contains_template(decl.default):
            reads[decl.name] = frozenset()
            continue
        written = template_names(decl.default)
        if any(n not in names and n not in FUNCTIONS and n not in _CONSTANTS for n in written):
            return None
        read = reads[decl.name] = written & names
        for n in read:
            readers.setdefault(n, []).append(decl.name)
    # The longest chain of defaults ending at each parameter, in an order where each comes after those it reads
    # (Kahn's); a parameter never placed is in a cycle.
    waiting = {n: len(r) for n, r in reads.items()}
    chain = {n: 1 for n, left in waiting.items() if left == 0}
    ready = list(chain)
    while ready:
        name = ready.pop()
        for reader in readers.get(name, ()):
            chain[reader] = max(chain.get(reader, 1), chain[name] + 1)
            waiting[reader] -= 1
            if waiting[reader] == 0:
                ready.append(reader)
    if len(chain) != len(names) or max(chain.values(), default=0) > _CHAIN:
        return None
    return _Plan(names, frozenset(d.name for d in block.params if d.required), readers, reads)


def bind_use(owner: _Specializer, block: UnitDef, values: dict[str, Any], positions: dict[str, Pos | None],
             call_pos: Pos | None, origin: Callable[[str], str],
             copy: str = "") -> tuple[dict[str, Any], list[Diagnostic]]:
    """The parameters of a use of ``block`` that sets ``values`` (set at ``positions``), as
    :func:`~vibench.compiler.params.bind_params` binds them, with its diagnostics, at a cost in proportion to what
    the use sets (see the module docstring). ``origin`` as for ``bind_params``; ``copy``: the copy of a node this
    use is (`copy 3 of 100 of node `a``), for an E213."""
    memo = owner.param_memo
    key = (_USE, id(block), freeze(values, frozen_values(owner)))
    hit = memo.get(key)
    kept = _definition(memo, _KEPT, block, lambda: [0, 0])  # this definition's bindings kept, and looked up
    if hit is not None and hit[0] is block:  # (ids are kept with their definition: compared, not trusted)
        kept[1] += 1
        return hit[1], []
    again = _bound_again(owner, block, values, positions, call_pos, copy or f"a use of block `{block.name}`")
    if again:
        return {}, again
    where = f"block `{block.name}`"
    given = {k: (v, positions.get(k)) for k, v in values.items()}
    bound: dict[str, Any] | None = None
    diags: list[Diagnostic] = []
    plan = _definition(memo, _PLAN, block, lambda: _plan(block))
    if plan is not None and all(k in plan.names for k in values):  # (an unknown key: E111, said by bind_params)
        bound, diags = _bind_shared(memo, block, plan, given, where, call_pos, origin)
    if bound is None:
        bound, diags = bind_params(block.params, given, env={}, where=where, unknown_code="E111",
                                   call_pos=call_pos, origin=origin)
    values_kept = memo.get((_KEPT,), 0)
    if not diags and values_kept < MAX_KEPT_VALUES and (kept[0] < MAX_UNREAD_KEPT or kept[1]):
        memo[(_KEPT,)] = values_kept + len(bound)
        kept[0] += 1
        memo[key] = (block, bound)
    return bound, diags


def _bound_again(owner: _Specializer, block: UnitDef, values: dict[str, Any], positions: dict[str, Pos | None],
                 call_pos: Pos | None, use: str) -> list[Diagnostic]:
    """Count the large values (lists and mappings that ``freeze`` memoised) that this use, whose values no earlier
    use had, sets to the same objects as an earlier use did: each is validated, copied and frozen again, a walk of
    all its items (the copies of `repeat: 1000, v: big, k: ${i}` with a list of 100,000 took 60 s and 2.4 GB). One
    declaration per :data:`ITEMS_PER_DECLARATION` items; a value's first binding is free (the spec's own size,
    bounded where it is loaded). The E213 that goes past the limit, at the largest such value, is returned (the
    caller names the node); :class:`Failed` after it."""
    seen = owner.param_memo.get((_BOUND,))
    if seen is None:
        seen = owner.param_memo[(_BOUND,)] = {}
    frozen = frozen_values(owner)
    items, largest, name = 0, 0, ""
    for key, value in values.items():
        entry = frozen.get(id(value))
        if entry is None or entry[0] is not value:
            continue  # (a small value: counted with its parameter)
        if seen.get(id(value)) is not value:
            seen[id(value)] = value  # (kept: its id is not reused while the entry is)
            continue
        items += entry[2]
        if entry[2] > largest:
            largest, name = entry[2], key
    past = _spend(owner, -(-items // ITEMS_PER_DECLARATION)) if items else None
    if past is None:
        return []
    return [too_much_work(
        use, positions.get(name) or call_pos, None, *past,
        f"the {counted(largest, 'item')} of `{name}` again" + (f" ({items:,} items in all)" if items > largest else ""),
        note=f"`{name}` is the value an earlier use set; a use whose values differ from every earlier use's (a "
             "`repeat` copy reading `i`) binds all of them again",
        fix=f"pass `{name}` to fewer such uses, or make it smaller (a `let:` of the block can compute it from a "
            "smaller parameter)")]


ITEMS_PER_DECLARATION = 2
"""Items of a large value bound again (:func:`_bound_again`; a mapping's keys and values, at any depth) counted as
one declaration processed: binding an item again takes about half the time a declaration does (0.85 us, measured;
a declaration about 2 us, :data:`~vibench.compiler.limits.DECLARATIONS_PER_NODE`)."""

MAX_KEPT_VALUES = 100_000
"""Parameter values of bound uses a compilation keeps for the uses after them with the same values."""

MAX_UNREAD_KEPT = 64
"""Bindings of a definition kept before one is looked up: the uses of a `repeat` that differ in `i` never meet
again, and keeping each of 20,000 took 10 MB."""


def _bind_shared(memo: dict[tuple[object, ...], Any], block: UnitDef, plan: _Plan,
                 given: dict[str, tuple[Any, Pos | None]], where: str, call_pos: Pos | None,
                 origin: Callable[[str], str]) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """``given`` bound with the parameters it leaves unchanged shared (None: they say something when bound,
    which binding them all at once reports, in its order)."""
    keys = frozenset(given)
    own = set(keys) | plan.required  # the parameters bound for this use: those set, required, and their readers
    todo = list(own)
    while todo:
        for reader in plan.readers.get(todo.pop(), ()):
            if reader not in own:
                own.add(reader)
                todo.append(reader)
    entry = memo.get((_REST, id(block), keys))
    if entry is None or entry[0] is not block:
        shared, problems = bind_params(tuple(d for d in block.params if d.name not in own), {}, env={},
                                       where=where, unknown_code="E111", call_pos=call_pos)
        entry = memo[(_REST, id(block), keys)] = (block, None if problems else shared)
    rest: dict[str, Any] | None = entry[1]
    if rest is None:
        return None, []
    # The shared values that the defaults bound here read, as names they see (never bound again).
    mine = [d for d in block.params if d.name in own]
    read = {n: rest[n] for d in mine if d.name not in keys for n in sorted(plan.reads[d.name]) if n not in own}
    bound, diags = bind_params(tuple(mine), given, env=read, where=where, unknown_code="E111", call_pos=call_pos,
                               origin=origin)
    return {**rest, **bound}, diags


def _definition(memo: dict[tuple[object, ...], Any], kind: object, block: UnitDef, make: Callable[[], Any]) -> Any:
    """The memo entry ``kind`` of the definition ``block``, made at its first use."""
    entry = memo.get((kind, id(block)))
    if entry is None or entry[0] is not block:
        entry = memo[(kind, id(block))] = (block, make())
    return entry[1]


# -- the names the inputs read -----------------------------------------------------------------------------------


def inputs_env(owner: _Specializer, block: UnitDef, bound: dict[str, Any]) -> dict[str, Any]:
    """The names ``block``'s inputs read at a use whose parameters are ``bound``: ``bound`` and the `let:` values
    (those that can be computed without the inputs' sizes). The `let:` values are computed only where an input
    reads a name that is none of the parameters (a `let`, or an unknown name, whose "did you mean" lists them)."""
    if not block.lets or not _definition(owner.param_memo, _INPUTS, block, lambda: _inputs_read_lets(block)):
        return bound
    return let_env(block, bound, partial=True)  # the block's own pass reports a value it cannot compute


def _inputs_read_lets(block: UnitDef) -> bool:
    """Whether an input's `when`, layout or shape reads a name that is no parameter of ``block``, other than a
    dimension symbol (a plain name in a shape that is no parameter nor `let`) or a function; or its shape is one
    `${...}`, whose symbols may name a `let`."""
    params = {d.name for d in block.params}
    lets = {let.name for let in block.lets}
    for decl in block.inputs:
        if isinstance(decl.shape, Template):
            return True
        written = [decl.when, decl.layout, *decl.shape]
        for value in written:
            if isinstance(value, str) and value in lets:
                return True
            names = template_names(value) if isinstance(value, (Template, list, dict)) else frozenset()
            if any(n not in params and n not in FUNCTIONS and n not in _CONSTANTS for n in names):
                return True
    return False

