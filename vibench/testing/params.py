"""Parameter values for a block, drawn from its pydantic model and its ``test_hints``."""

from __future__ import annotations

import collections.abc
import functools
import itertools
import math
import operator
import re
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from vibench.testing.specs import block_of

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy
    from pydantic.fields import FieldInfo

_OMIT = object()  # "leave this parameter at its default"

_SIZES = ("min_length", "max_length", "pattern")  # constraints of the value they annotate, never of its items
MAX_LENGTH = 256
"""The longest ``min_length`` of a parameter :func:`block_params` draws (items of a list, tuple or dict, characters
of a str): a spec holding more is no small case, and hypothesis would run out of data drawing it."""


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low excluded, high excluded) from annotated-types constraints (Ge, Gt, Le, Lt). An infinite
    bound on its own side (``ge=-inf``, ``lt=inf``) bounds no finite value, the only values a spec holds: it is no
    bound (as a finite one it made a grid of infinities, or of nothing: ``gt=-inf, lt=1.0`` had "no float")."""
    lo = hi = None
    open_lo = open_hi = False
    for m in metadata:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo, open_lo = m.gt, True
        if getattr(m, "le", None) is not None:
            hi = m.le
        if getattr(m, "lt", None) is not None:
            hi, open_hi = m.lt, True
    if isinstance(lo, float) and lo == -math.inf:
        lo, open_lo = None, False
    if isinstance(hi, float) and hi == math.inf:
        hi, open_hi = None, False
    return lo, hi, open_lo, open_hi


def _constraint(metadata: list[Any], name: str) -> Any:
    """The last value of constraint ``name`` (``multiple_of``, ``min_length``, ``max_length``, ``pattern``) in
    ``metadata``, as pydantic applies them: annotated-types' MultipleOf, MinLen, MaxLen, Len, pydantic's
    StringConstraints and ``Field(pattern=...)``; None when none gives it."""
    found = None
    for m in metadata:
        if getattr(m, name, None) is not None:
            found = getattr(m, name)
    return found


def _items(metadata: list[Any]) -> list[Any]:
    """The constraints an item of a list, tuple or dict value is drawn within: the value's own lengths and
    pattern (``tuple[int, ...] = Field(min_length=5)``) bound the value, not its items."""
    return [m for m in metadata if all(getattr(m, name, None) is None for name in _SIZES)]


def _lengths(metadata: list[Any], least: int, span: int) -> tuple[int, int]:
    """The lengths to draw: from ``min_length`` (else ``least``) to ``span`` more, within ``max_length``.
    ValueError when no length meets both, or when ``min_length`` exceeds :data:`MAX_LENGTH`."""
    low, high = _constraint(metadata, "min_length"), _constraint(metadata, "max_length")
    if low is not None and low > MAX_LENGTH:
        raise ValueError(f"its min_length={low} is more than the {MAX_LENGTH} items or characters a drawn spec holds")
    first = low if low is not None else least
    if high is not None and first > high:
        if low is not None:
            raise ValueError(f"no length lies within its bounds (min_length={low}, max_length={high})")
        first = high  # (max_length=0: the empty value only)
    return first, first + span if high is None else min(high, first + span)


def _multiples(lo: float | None, hi: float | None, open_lo: bool, open_hi: bool, step: float,
               count: int) -> tuple[int, int]:
    """The first and last ``k`` with ``k * step`` within the bounds (``count`` of them on an open side; the
    bounds hold none: ValueError)."""
    exact = all(isinstance(v, int) for v in (lo, hi, step) if v is not None)  # (2**62 / 4 as a float is off)
    first = (int(-(-lo // step)) if exact else math.ceil(lo / step)) if lo is not None else None
    last = (int(hi // step) if exact else math.floor(hi / step)) if hi is not None else None
    if first is not None and open_lo and first * step <= lo:  # type: ignore[operator]
        first += 1
    if last is not None and open_hi and last * step >= hi:  # type: ignore[operator]
        last -= 1
    if first is None and last is None:
        first, last = -(count // 2), count // 2
    first = first if first is not None else last - count  # type: ignore[operator]
    last = last if last is not None else first + count
    if first > last:
        raise ValueError(f"no multiple of {step!r} lies within its bounds ({'(' if open_lo else '['}{lo!r}, {hi!r}"
                         f"{')' if open_hi else ']'})")
    return first, last


def _int_strategy(lo: float | None, hi: float | None, open_lo: bool, open_hi: bool,
                  multiple_of: float | None = None) -> SearchStrategy[int]:
    import hypothesis.strategies as st

    if multiple_of is not None:  # k * multiple_of, for k from the first multiple within the bounds
        if isinstance(multiple_of, float) and multiple_of.is_integer():
            multiple_of = int(multiple_of)
        if not isinstance(multiple_of, int) or multiple_of <= 0:
            raise ValueError(f"its multiple_of={multiple_of!r} is no whole number above 0")
        start, stop = _multiples(lo, hi, open_lo, open_hi, multiple_of, 8)
        return st.integers(start, min(stop, start + 7)).map(functools.partial(operator.mul, multiple_of))
    if lo is None and hi is None:
        return st.integers(-4, 4)  # axis-like: dims, offsets
    # the whole numbers inside the bounds (ge=2.5 starts at 3; int(2.5) drew 2), raised here when there are none
    # (gt=0, lt=1 failed in the draw)
    first = (math.floor(lo) + 1 if open_lo else math.ceil(lo)) if lo is not None else None
    last = (math.ceil(hi) - 1 if open_hi else math.floor(hi)) if hi is not None else None
    low = first if first is not None else last - 8  # type: ignore[operator]
    high = last if last is not None else low + 7
    if low > high:
        raise ValueError(f"no whole number lies within its bounds ({'(' if open_lo else '['}{lo!r}, {hi!r}"
                         f"{')' if open_hi else ']'})")
    small = st.integers(low, min(high, low + 7))
    larger = [v for v in (16, 32, 64) if low <= v <= high]
    return st.one_of(small, st.sampled_from(larger)) if larger else small


def _float_strategy(lo: float | None, hi: float | None, open_lo: bool, open_hi: bool,
                    metadata: list[Any] | None = None) -> SearchStrategy[float]:
    import hypothesis.strategies as st

    multiple_of = _constraint(metadata or [], "multiple_of")
    if multiple_of is not None:
        return _float_multiples(lo, hi, open_lo, open_hi, multiple_of, metadata or [])
    low = float(lo) if lo is not None else (float(hi) - 2 if hi is not None else -1.0)
    high = float(hi) if hi is not None else low + (1.0 if lo is not None else 2.0)
    # A grid of 20 steps keeps the emitted literals short (0.35, not 0.3498713...).
    first, last = (1 if open_lo else 0), (19 if open_hi else 20)
    points = [_grid_point(low, high, k, open_lo, open_hi) for k in range(first, last + 1)]
    inside = [value for value in points if value is not None]
    if not inside:
        raise ValueError(f"no float of its grid lies within its bounds ({'(' if open_lo else '['}{low!r}, {high!r}"
                         f"{')' if open_hi else ']'})")
    grid = [inside[0] if value is None else value for value in points]
    return st.integers(first, last).map(lambda k: grid[k - first])


def _float_multiples(lo: float | None, hi: float | None, open_lo: bool, open_hi: bool, multiple_of: Any,
                     metadata: list[Any]) -> SearchStrategy[float]:
    """Up to 21 multiples of ``multiple_of`` within the bounds, each as short as pydantic still takes it (0.3, not
    0.30000000000000004: its check of a multiple allows a rounding error)."""
    import hypothesis.strategies as st

    if not isinstance(multiple_of, (int, float)) or not 0 < multiple_of < math.inf:
        raise ValueError(f"its multiple_of={multiple_of!r} is no finite number above 0")
    first, last = _multiples(lo, hi, open_lo, open_hi, multiple_of, 20)
    takes = _validator(float, metadata)
    grid = []
    for k in sorted({first + (last - first) * j // 20 for j in range(21)}):
        exact = k * multiple_of
        grid += [value for value in (round(exact, 6), float(f"{exact:.6g}"), float(exact)) if takes(value)][:1]
    if not grid:
        raise ValueError(f"no multiple of {multiple_of!r} that pydantic takes lies within its bounds")
    return st.sampled_from(grid)


def _validator(tp: Any, metadata: list[Any]) -> Callable[[Any], bool]:
    """Whether pydantic, validating strictly as BlockParams does, takes a value of ``tp`` with ``metadata``."""
    from pydantic import ConfigDict, TypeAdapter, ValidationError

    try:
        adapter = TypeAdapter(Annotated[(tp, *metadata)] if metadata else tp, config=ConfigDict(strict=True))
    except Exception as err:  # noqa: BLE001 - pydantic's words for constraints it cannot apply, said as ours
        raise ValueError(f"pydantic cannot apply its constraints ({type(err).__name__}: {err})"[:300]) from None

    def takes(value: Any) -> bool:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    return takes


def _grid_point(low: float, high: float, k: int, open_lo: bool, open_hi: bool) -> float | None:
    """Point ``k`` of 20 from ``low`` to ``high``, as short as it stays within the bounds: rounded to 6
    decimals (0.35), else to 6 significant digits (a range such as (0, 1e-7), which 6 decimals collapse
    to 0.0, outside the bound ``gt=0``), else as computed; None when even that is outside. Finite for any
    finite bounds: where ``high - low`` overflows (``ge=-1.7e308, le=1.7e308``) the point is a weighted sum
    of the two, each term within its bound."""
    exact = low + (high - low) * k / 20
    if not math.isfinite(exact):
        exact = low * ((20 - k) / 20) + high * (k / 20)
    for value in (round(exact, 6), float(f"{exact:.6g}"), exact):
        if (low < value if open_lo else low <= value) and (value < high if open_hi else value <= high):
            return value
    return None


def _text_strategy(metadata: list[Any]) -> SearchStrategy[str]:
    """Short strings within ``min_length`` / ``max_length`` and, given a ``pattern``, holding a match of it (pydantic
    searches for one): a full match from hypothesis, padded to ``min_length`` on a side the pattern does not anchor,
    kept only if pydantic takes it. ValueError for a pattern Python cannot read, or none of whose matches fits the
    lengths."""
    import hypothesis.strategies as st

    pattern = _constraint(metadata, "pattern")
    pattern = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    first, last = _lengths(metadata, 0 if pattern is not None else 1, 5)
    if pattern is None:
        return st.text(alphabet="abc ", min_size=first, max_size=last)
    try:
        compiled = re.compile(pattern)
        shortest, longest = re._parser.parse(pattern).getwidth()  # type: ignore[attr-defined]
    except (re.error, RecursionError, OverflowError) as err:
        raise ValueError(f"its pattern {pattern!r:.80} is no regular expression Python reads ({err})") from None
    start = pattern.startswith(("^", "\\A"))
    end = pattern.endswith(("$", "\\Z")) and not pattern.endswith("\\$")
    high = _constraint(metadata, "max_length")
    if (high is not None and shortest > high) or (start and end and longest < first):
        raise ValueError(f"no match of its pattern {pattern!r:.80} has a length within its bounds "
                         f"(min_length={_constraint(metadata, 'min_length')}, max_length={high})")
    pad = functools.partial(_padded, first, "" if end else "a", "" if start or not end else "a")
    matches = st.from_regex(compiled, fullmatch=True, alphabet=st.characters(
        exclude_categories=("Cs", "Cc", "Cf", "Co", "Cn", "Zl", "Zp")))  # characters a spec writes as they are
    return matches.map(pad).filter(_validator(str, metadata))


def _padded(length: int, after: str, before: str, text: str) -> str:
    """``text`` made ``length`` characters long with ``after`` (else ``before``) repeated; as it was without either."""
    missing = length - len(text)
    if missing <= 0 or not (after or before):
        return text
    return text + after * missing if after else before * missing + text


def _type_strategy(tp: Any, metadata: list[Any]) -> SearchStrategy[Any]:
    """Values of type ``tp`` within the constraints in ``metadata`` (the field's, or an ``Annotated`` member's):
    bounds (ge, gt, le, lt), ``multiple_of``, and ``min_length`` / ``max_length`` / ``pattern`` (of a str, list,
    tuple or dict). ValueError for constraints no value meets, or none it can draw."""
    import hypothesis.strategies as st

    origin = typing.get_origin(tp)
    if origin is Annotated:
        inner, *extra = typing.get_args(tp)
        return _type_strategy(inner, [c for m in extra for c in getattr(m, "metadata", [m])])
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_type_strategy(arg, metadata) for arg in typing.get_args(tp)])
    if origin is Literal:
        return st.sampled_from(typing.get_args(tp))
    if tp is type(None):
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return _int_strategy(*_bounds(metadata), _constraint(metadata, "multiple_of"))
    if tp is float:
        return _float_strategy(*_bounds(metadata), metadata)
    if tp is str:
        return _text_strategy(metadata)
    if tp is Any:
        return st.one_of(st.none(), st.booleans(), st.integers(-2, 8), st.sampled_from(["a", "b"]))
    if getattr(tp, "__supertype__", None) is not None:  # typing.NewType("Width", int)
        return _type_strategy(tp.__supertype__, metadata)
    if tp in (tuple, list, dict):
        origin = tp
    if origin in (tuple, list, collections.abc.Sequence):
        return _sequence_strategy(tp, origin, metadata)
    if origin in (dict, collections.abc.Mapping):
        key_type, value_type = typing.get_args(tp) or (str, int)
        first, last = _lengths(metadata, 0, 2)
        pool = max(4, last)  # keys enough for min_length
        keys = st.integers(0, pool - 1) if key_type is int else st.sampled_from([*"abcd", *(f"k{k}" for k in
                                                                                               range(4, pool))])
        return st.dictionaries(keys, _type_strategy(value_type, _items(metadata)), min_size=first, max_size=last)
    raise TypeError(f"no strategy for parameter type {tp!r}")


def _sequence_strategy(tp: Any, origin: Any, metadata: list[Any]) -> SearchStrategy[Any]:
    """Lists or tuples within ``min_length`` / ``max_length``: 1 to 4 items by default; a long one repeats
    up to 8 drawn items (a spec of a few hundred drawn numbers would exhaust hypothesis's data)."""
    import hypothesis.strategies as st

    args = [a for a in typing.get_args(tp) if a is not Ellipsis]
    items = _items(metadata)
    if origin is tuple and len(args) > 1:  # tuple[int, str]: one value of each
        low, high = _constraint(metadata, "min_length"), _constraint(metadata, "max_length")
        if (low is not None and len(args) < low) or (high is not None and len(args) > high):
            raise ValueError(f"it always holds {len(args)} items, outside its bounds (min_length={low}, "
                             f"max_length={high})")
        return st.tuples(*(_type_strategy(a, items) for a in args))
    element = _type_strategy(args[0], items) if args else st.integers(-2, 8)
    first, last = _lengths(metadata, 1, 3)
    if last <= 8:
        values = st.lists(element, min_size=first, max_size=last)
    else:
        drawn = st.lists(element, min_size=1, max_size=8)
        values = st.tuples(st.integers(first, last), drawn).map(_repeated)
    return values.map(tuple) if origin is tuple else values


def _repeated(length_items: tuple[int, list[Any]]) -> list[Any]:
    length, items = length_items
    return list(itertools.islice(itertools.cycle(items), length))


def _inferred(info: FieldInfo) -> bool:
    """A field the shape rule fills in from the input (the catalogue's convention: default None and
    "(inferred" in the description). Drawing it would mostly contradict the input, so it is left out."""
    return info.default is None and "(inferred" in (info.description or "")


def block_params(name: str) -> SearchStrategy[dict[str, Any]]:
    """Parameter values for block ``name``, keyed as a spec writes them: hinted choices, else drawn
    from each field's type and bounds; optional fields are sometimes left out, inferred fields always
    are. A parameter it cannot draw (a hint no spec can hold, a type it has no values of) is a
    TypeError or ValueError naming the block and the parameter, raised here, not in a draw."""
    import hypothesis.strategies as st

    block = block_of(name)
    fields = block.Params.model_fields
    spec_key = {field: info.alias if isinstance(info.alias, str) else field for field, info in fields.items()}
    hinted: set[str] = set()
    parts: list[SearchStrategy[dict[str, Any]]] = []
    for key, choices in block.test_hints.items():
        keys = tuple(spec_key.get(k, k) for k in (key if isinstance(key, tuple) else (key,)))
        _check_choices(name, key, choices)
        hinted.update(keys)
        pick = st.sampled_from(choices) if isinstance(key, tuple) else st.sampled_from(choices).map(_one)
        parts.append(pick.map(functools.partial(_named, keys)))
    for field, info in fields.items():
        if spec_key[field] in hinted or _inferred(info):
            continue
        try:
            value = _type_strategy(info.annotation, list(info.metadata))
        except (TypeError, ValueError) as err:
            raise type(err)(f"block `{name}`: parameter `{spec_key[field]}` cannot be drawn ({err}); give the "
                            f"block `test_hints` for it") from None
        if not info.is_required():
            value = st.one_of(st.just(_OMIT), value)
        parts.append(value.map(functools.partial(_named_unless_omitted, spec_key[field])))
    order = [spec_key[field] for field in fields]

    def merge(dicts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
        merged = {k: v for d in dicts for k, v in d.items()}
        return {k: merged[k] for k in sorted(merged, key=order.index)}

    return st.tuples(*parts).map(merge)


def _check_choices(name: str, key: Any, choices: Any) -> None:
    """TypeError or ValueError naming the block and the parameter for ``test_hints`` choices that no
    spec can hold (an Enum member, a set...), or that are not a sequence to sample from."""
    from vibench.testing.specs import yaml_value

    if not isinstance(choices, (tuple, list)) or not choices:
        raise TypeError(f"block `{name}`: test_hints[{key!r}] is {type(choices).__name__}, not a non-empty tuple "
                        "of choices")
    for choice in choices:
        try:
            yaml_value(choice)
        except (TypeError, ValueError) as err:
            raise type(err)(f"block `{name}`: test_hints[{key!r}] offers {choice!r:.60}, which a spec cannot hold "
                            f"({err})") from None


def _one(value: Any) -> tuple[Any]:
    return (value,)


def _named(keys: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(keys, values, strict=True))


def _named_unless_omitted(field: str, value: Any) -> dict[str, Any]:
    return {} if value is _OMIT else {field: value}

