"""The inputs of :func:`~vibench.testing.check_runtime` and :func:`~vibench.testing.random_inputs`.

A caller's mistake in them is a TypeError or ValueError naming the input, raised before anything is
compiled or drawn, never a finding; :func:`routing_ids` gives the values an input that routes samples
to per-system heads may hold. Moved out of ``oracles_runtime.py``, with the checks ``random_inputs``
shares with it.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.expr import MAX_INT
from vibench.testing.specs import TensorCase

if TYPE_CHECKING:
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.ir import Program, Unit

MAX_ELEMENTS = 2**28
"""The most elements :func:`check_runtime` and :func:`random_inputs` draw for one input (1 GiB of
float32): larger sizes are a caller's mistake (a ValueError), not an allocator error from inside them."""

SYSTEM_PORT = "system_id"
"""The optional port of per-system routing (:mod:`vibench.compiler.blocks.isfm_routing`): [B] integer
ids, each naming a system that a parameter maps (``num_classes: {"1": 4, "7": 2}``)."""

_SEED_RANGE = (-(2**63), 2**64 - 1)  # what torch.Generator.manual_seed takes


def cases_of(inputs: Any) -> tuple[TensorCase, ...] | None:
    """``inputs`` as TensorCases; None for a dict of sizes (their dtypes are known after compiling)."""
    if isinstance(inputs, Mapping):
        return None
    if isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)):
        wrong = [t for t in inputs if not isinstance(t, TensorCase)]
        if not wrong:
            return tuple(inputs)
        found = f"a {type(inputs).__name__} holding {type(wrong[0]).__name__}"
    else:
        found = type(inputs).__name__
    raise TypeError("inputs is a sequence of vibench.testing.TensorCase or a dict of input name -> sizes such as "
                    f"{{'x': (2, 1, 64)}}, not {found}")


def sizes_of(inputs: Any, cases: tuple[TensorCase, ...] | None) -> dict[str, tuple[int, ...]]:
    return {t.name: t.dims for t in cases} if cases is not None else dict(inputs)


def check_cases(cases: tuple[TensorCase, ...] | None) -> None:
    """ValueError for an input given twice (the last would silently win), a dtype that is no dtype
    name, or a ``fill`` its dtype cannot hold; TypeError for a ``fill`` that is no number (torch.full
    would fail later, naming no input, or silently round 1.5 to 1)."""
    seen: set[str] = set()
    for case in cases or ():
        if case.name in seen:
            raise ValueError(f"inputs gives {case.name!r:.60} twice: give each input one TensorCase")
        seen.add(case.name)
        check_dtype(case)
        check_values(case)


def check_dtype(case: TensorCase, where: str = "inputs") -> None:
    """TypeError or ValueError for a TensorCase dtype that is no dtype name of vibench."""
    from vibench.compiler.blocks.base import ALL_DTYPES
    from vibench.compiler.diagnostics import one_of
    from vibench.compiler.suggestions import suggest

    if not isinstance(case.dtype, str):
        raise TypeError(f"{where}: the dtype of {case.name!r:.60} is a name such as 'float32', not "
                        f"{type(case.dtype).__name__} ({case.dtype!r:.40})")
    if case.dtype not in ALL_DTYPES:
        meant = suggest(case.dtype, ALL_DTYPES)
        raise ValueError(f"{where}: the dtype of {case.name!r:.60} is {case.dtype!r:.40}, no dtype of vibench; "
                         f"the dtypes are {one_of(ALL_DTYPES)}" + (f": {meant}" if meant else ""))


def check_values(case: TensorCase, where: str = "inputs") -> None:
    """TypeError or ValueError for a ``fill`` or ``choices`` value that is no number or that the case's
    dtype (a valid one) cannot hold exactly: 1.5 or NaN for an integer dtype, 2**70 for int64, 1e300 for
    float32 (torch would round, overflow, or fail naming no input)."""
    if case.fill is not None:
        _check_value(case, case.fill, "fill", where)
    if not isinstance(case.choices, tuple):
        raise TypeError(f"{where}: the choices of {case.name!r:.60} are a tuple of ints, not "
                        f"{type(case.choices).__name__}")
    for value in case.choices:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where}: the choices of {case.name!r:.60} are ints (system ids), not "
                            f"{type(value).__name__} ({value!r:.40})")
        _check_value(case, value, "choices", where)


def _check_value(case: TensorCase, value: Any, what: str, where: str) -> None:
    import torch

    dtype = getattr(torch, case.dtype)
    if isinstance(value, bool) and what == "fill" and dtype == torch.bool:
        return  # a bool input filled with True or False (torch.full takes it as it is)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        also = " or, for a bool input, a bool" if what == "fill" else ""
        raise TypeError(f"{where}: the {what} of {case.name!r:.60} is a number{also} (an int such as a system id; "
                        f"None: drawn values), not {type(value).__name__} ({value!r:.40})")
    said = f"{where}: the {what} of {case.name!r:.60} is {value!r:.40}"
    if dtype == torch.bool or not (dtype.is_floating_point or dtype.is_complex):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{said}, which the {case.dtype} input cannot hold (torch would make it "
                             f"{'an error' if not math.isfinite(value) else int(value)}): give an integer")
        low, high = (0, 1) if dtype == torch.bool else (torch.iinfo(dtype).min, torch.iinfo(dtype).max)
        if not low <= value <= high:
            raise ValueError(f"{said}, outside the range of {case.dtype} ({low} to {high})")
        return
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if math.isfinite(number) or isinstance(value, int):
        limit = torch.finfo(dtype).max
        if not -limit <= number <= limit:
            raise ValueError(f"{said}, beyond the range of {case.dtype} (at most {limit:.6g} in magnitude: torch "
                             "would make it an infinity; give float('inf') if that is meant)")


def check_elements(bindings: dict[str, tuple[int, ...]], where: str = "inputs") -> None:
    """ValueError for an input of more than :data:`MAX_ELEMENTS` elements, before anything is drawn. A size 0
    counts as 1: an input of no elements is bounded by its other sizes as a full one is (torch computes its
    strides all the same, and (0, 2**62, 4) overflowed them, naming no input), so that :func:`random_inputs`
    takes the bounds :func:`check_runtime` takes, and a size 0 besides."""
    for name, dims in bindings.items():
        count = math.prod(size or 1 for size in dims)  # (at most 1,000 sizes, each at most 2**62: read first)
        if count > MAX_ELEMENTS:
            shown = f"{count}" if count < 10**30 else "more than 10**30"  # (str() refuses 4,300 digits)
            zero = " counting a size 0 as 1" if 0 in dims else ""
            raise ValueError(f"{where} gives {name!r:.60} the sizes {tuple(dims)!r:.80}: {shown} elements{zero}, "
                             f"more than check_runtime and random_inputs draw for one input (at most 2**28 = "
                             f"{MAX_ELEMENTS})")


def check_draw(inputs: Any, seed: Any) -> tuple[TensorCase, ...]:
    """The arguments of :func:`~vibench.testing.random_inputs` checked: TypeError or ValueError naming the
    input for what no tensor can be drawn of (see there)."""
    if isinstance(inputs, Mapping):
        first = next(iter(inputs), "x")
        raise TypeError("inputs is a sequence of vibench.testing.TensorCase (a case's .inputs, which name the "
                        f"dtypes), not a dict of sizes as check_runtime takes it: write (TensorCase({first!r:.40}, "
                        f"sizes, sizes, 'float32'),) for each input")
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise TypeError(f"inputs is a sequence of vibench.testing.TensorCase (a case's .inputs), not "
                        f"{type(inputs).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed is an int, not {type(seed).__name__} ({seed!r:.40})")
    if not _SEED_RANGE[0] <= seed <= _SEED_RANGE[1]:
        raise ValueError(f"seed is an int from -2**63 to 2**64 - 1 (what torch seeds with), got {seed}")
    for k, case in enumerate(inputs):
        if not isinstance(case, TensorCase):
            raise TypeError(f"inputs[{k}] is a vibench.testing.TensorCase, not {type(case).__name__}")
        where = f"inputs[{k}]"
        check_dtype(case, where)
        check_elements({case.name: _dims(case, where)}, where)
        check_values(case, where)
    return tuple(inputs)


def _dims(case: TensorCase, where: str) -> tuple[int, ...]:
    """The sizes of ``case`` as ints, within check_runtime's bounds on an entry of ``inputs``
    (:func:`vibench.compiler.pipeline.python_inputs`): at most :data:`~vibench.compiler.limits.MAX_INPUT_SIZES`
    of them, read from the iterable no further (``itertools.repeat(1)`` was read for ever), each from 0 (which
    check_runtime refuses: an input of no elements) to 2**62."""
    from vibench.compiler.limits import MAX_INPUT_SIZES

    if isinstance(case.dims, (str, bytes)) or not isinstance(case.dims, Iterable):
        raise TypeError(f"{where}: the sizes of {case.name!r:.60} are a tuple of ints such as (2, 1, 64), not "
                        f"{type(case.dims).__name__}")
    sizes = []
    for size in itertools.islice(case.dims, MAX_INPUT_SIZES + 1):
        try:
            if isinstance(size, bool):
                raise TypeError
            sizes.append(operator.index(size))
        except TypeError:
            raise TypeError(f"{where}: the sizes of {case.name!r:.60} are ints, not {type(size).__name__} "
                            f"({size!r:.40})") from None
    if len(sizes) > MAX_INPUT_SIZES:
        raise ValueError(f"{where}: the sizes of {case.name!r:.60} are more than {MAX_INPUT_SIZES:,} (one per axis "
                         "of the input)")
    if any(size < 0 for size in sizes):
        raise ValueError(f"{where}: the sizes of {case.name!r:.60} are integers >= 0, got {tuple(sizes)!r:.120}")
    # check_runtime's bound (vibench.check's inputs): beyond it torch failed naming no input ("Overflow when
    # unpacking long long"), also for an input of no elements, (0, 10**20)
    if any(size > MAX_INT for size in sizes):
        raise ValueError(f"{where}: the sizes of {case.name!r:.60} are at most 2**62, got {tuple(sizes)!r:.120}")
    return tuple(sizes)


# --------------------------------------------------------------------------------------------
# inputs against the compiled model
# --------------------------------------------------------------------------------------------


def ordered(cases: tuple[TensorCase, ...] | None, bindings: dict[str, tuple[int, ...]],
            program: Program) -> tuple[TensorCase, ...]:
    """The inputs in the order the model's forward takes them (the spec's declaration); ValueError for
    an input of the model that ``inputs`` left out, or a TensorCase of another dtype than the input's
    declared one (the model refuses it: no finding). An input read by a sampling rate is drawn positive;
    one that routes samples to per-system heads, without a ``fill``, is drawn from the systems those
    heads serve (:func:`routing_ids`): an id with no head, also as a ``fill``, is the caller's mistake
    (a ValueError), not the model's."""
    from vibench.compiler.codegen.checks import positive

    declared = program.root.inputs
    given = {t.name: t for t in cases} if cases is not None else {
        name: TensorCase(name, tuple(d if isinstance(d, int) else str(d) for d in t.shape), tuple(bindings[name]),
                         t.dtype) for name, t in declared if name in bindings}
    missing = [name for name, _ in declared if name not in given]
    if missing:
        raise ValueError(f"inputs leaves out {', '.join(map(repr, missing))}: give every input the model takes "
                         f"({', '.join(name for name, _ in declared)})")
    out = []
    for name, t in declared:
        case = given[name]
        if case.dtype != t.dtype:
            raise ValueError(f"inputs gives {name!r} the dtype {case.dtype}, but the model declares it {t.dtype} "
                             f"(give TensorCase(..., {t.dtype!r}), or declare the input `dtype: {case.dtype}`)")
        if positive(program.root, name):
            case = replace(case, positive=True)
        ids = routing_ids(program.root, name)
        if ids and case.fill is not None and case.fill not in ids:
            raise ValueError(f"inputs gives {name!r} the fill {case.fill!r:.40}, a system id the model has no head "
                             f"for: its heads serve the systems {', '.join(map(str, ids))}")
        if ids and case.fill is None and not case.choices:
            case = replace(case, choices=ids)
        out.append(case)
    return tuple(out)


def routing_ids(unit: Unit, name: str) -> tuple[int, ...]:
    """The system ids input ``name`` of ``unit`` may hold: those that every node reading it on a
    :data:`SYSTEM_PORT` (inside composites too) has a head for, in the parameter that maps system ids
    (``num_classes: {"1": 4, "2": 3}``); all of their ids when no id is common to them; () when no such
    node reads it (any value does: a prompt table takes every id)."""
    found: list[set[int]] = []
    _routing(unit, name, found)
    if not found:
        return ()
    return tuple(sorted(set.intersection(*found) or set.union(*found)))


def _routing(unit: Unit, name: str, found: list[set[int]]) -> None:
    from vibench.compiler.ir import ValueRef

    for node in unit.nodes:
        for port, ref in node.inputs:
            if ref != ValueRef(name, None):
                continue
            for copy in node.copies:
                if copy.unit is not None:
                    _routing(copy.unit, port, found)
                elif port == SYSTEM_PORT and not isinstance(copy.params, tuple):
                    ids = mapped_ids(getattr(copy.params, field) for field in type(copy.params).model_fields)
                    if ids:
                        found.append(set(ids))


def mapped_ids(values: Iterable[Any]) -> list[int]:
    """The system ids of the first of ``values`` that maps system ids (a dict whose keys are integers
    written as text, ``{"1": 4, "7": 2}``), sorted; [] when none does."""
    for value in values:
        if isinstance(value, dict) and value and all(isinstance(k, str) and k.lstrip("-").isdigit() for k in value):
            return sorted(int(k) for k in value)
    return []


def check_refused_inputs(text: str, bindings: dict[str, tuple[int, ...]], err: SpecError) -> None:
    """ValueError for inputs that made the compiler refuse the spec (E305) through the caller's mistake,
    not a finding: names the spec does not declare, sizes of another rank or fixed size than the
    declared shape, or two sizes for one symbol (``x`` [B, 4] as (2, 4), ``y`` [B, 4] as (3, 4)). Only on
    that error path: the spec's inputs are then read by compiling it with no sizes bound."""
    import vibench
    from vibench.compiler.diagnostics import SpecError, suggest

    if "E305" not in err.codes:
        return
    try:
        shapes = [(name, t.shape) for name, t in vibench.check(text=text).root.inputs]
        declared = [name for name, _ in shapes]
    except SpecError:
        return  # the spec itself is refused: the finding stands
    unknown = [name for name in bindings if name not in declared]
    _check_declared_shapes(dict(shapes), bindings)
    _check_symbols(dict(shapes), bindings)
    if unknown:
        hints = [f"`{name}`: {hint}" for name in unknown if (hint := suggest(name, declared))]
        raise ValueError(f"inputs names {', '.join(map(repr, unknown))}, which the model does not take: give only "
                         f"the inputs it takes ({', '.join(declared)})" + "".join(f"; {h}" for h in hints)) from None


def _written(shape: Any) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _check_declared_shapes(shapes: dict[str, Any], bindings: dict[str, tuple[int, ...]]) -> None:
    """ValueError for sizes of ``bindings`` of another rank than the input's declared shape, or another
    size on a fixed axis: a caller's mistake, not a finding."""
    for name, dims in bindings.items():
        if name not in shapes:
            continue
        shape = shapes[name]
        wrong = len(dims) != len(shape) or any(isinstance(d, int) and d != n for d, n in zip(shape, dims, strict=True))
        if wrong:
            what = f"{len(dims)} sizes for {len(shape)} axes" if len(dims) != len(shape) else "another fixed size"
            raise ValueError(f"inputs gives {name!r} the sizes {tuple(dims)}, but the model declares it "
                             f"{_written(shape)}: {what}") from None


def _check_symbols(shapes: dict[str, Any], bindings: dict[str, tuple[int, ...]]) -> None:
    """ValueError for two sizes of one symbol of the declared shapes (the compiler binds the first and
    refuses the second as E305, which names neither input)."""
    from vibench.compiler.symbolic import Expr

    first: dict[str, tuple[str, int, int]] = {}  # symbol -> (input, axis, size) where it was first given
    for name, dims in bindings.items():
        for axis, (d, size) in enumerate(zip(shapes.get(name, ()), dims, strict=False)):
            symbols = d.symbols() if isinstance(d, Expr) else set()
            if len(symbols) != 1 or d != Expr.symbol(next(iter(symbols))):
                continue  # a fixed size, or an expression of symbols: the compiler's own check
            symbol = next(iter(symbols))
            seen = first.setdefault(symbol, (name, axis, size))
            if seen[2] != size:
                other, other_axis, other_size = seen
                raise ValueError(
                    f"inputs gives {symbol} two sizes: {other_size} in {other!r} {tuple(bindings[other])} (axis "
                    f"{other_axis} of {_written(shapes[other])}) and {size} in {name!r} {tuple(dims)} (axis {axis} "
                    f"of {_written(shapes[name])}): give {symbol} one size in every input") from None
