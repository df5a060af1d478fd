"""Parameter values for a block, drawn from its pydantic model and its ``test_hints``."""

from __future__ import annotations

import collections.abc
import functools
import math
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal

from vibench.testing.specs import block_of

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy
    from pydantic.fields import FieldInfo

_OMIT = object()  # "leave this parameter at its default"



def _bounds(metadata: list[Any]) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low excluded, high excluded) from annotated-types constraints (Ge, Gt, Le, Lt)."""
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
    return lo, hi, open_lo, open_hi


def _int_strategy(lo: float | None, hi: float | None, open_lo: bool, open_hi: bool) -> SearchStrategy[int]:
    import hypothesis.strategies as st

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


def _float_strategy(lo: float | None, hi: float | None, open_lo: bool, open_hi: bool) -> SearchStrategy[float]:
    import hypothesis.strategies as st

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


def _grid_point(low: float, high: float, k: int, open_lo: bool, open_hi: bool) -> float | None:
    """Point ``k`` of 20 from ``low`` to ``high``, as short as it stays within the bounds: rounded to 6
    decimals (0.35), else to 6 significant digits (a range such as (0, 1e-7), which 6 decimals collapse
    to 0.0, outside the bound ``gt=0``), else as computed; None when even that is outside."""
    exact = low + (high - low) * k / 20
    for value in (round(exact, 6), float(f"{exact:.6g}"), exact):
        if (low < value if open_lo else low <= value) and (value < high if open_hi else value <= high):
            return value
    return None


def _type_strategy(tp: Any, metadata: list[Any]) -> SearchStrategy[Any]:
    """Values of type ``tp`` within the bounds in ``metadata`` (the field's, or an ``Annotated`` member's)."""
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
        return _int_strategy(*_bounds(metadata))
    if tp is float:
        return _float_strategy(*_bounds(metadata))
    if tp is str:
        return st.text(alphabet="abc ", min_size=1, max_size=6)
    if tp is Any:
        return st.one_of(st.none(), st.booleans(), st.integers(-2, 8), st.sampled_from(["a", "b"]))
    if getattr(tp, "__supertype__", None) is not None:  # typing.NewType("Width", int)
        return _type_strategy(tp.__supertype__, metadata)
    if tp in (tuple, list, dict):
        origin = tp
    if origin in (tuple, list, collections.abc.Sequence):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if origin is tuple and len(args) > 1:  # tuple[int, str]: one value of each
            return st.tuples(*(_type_strategy(a, metadata) for a in args))
        element = _type_strategy(args[0], metadata) if args else st.integers(-2, 8)
        values = st.lists(element, min_size=1, max_size=4)
        return values.map(tuple) if origin is tuple else values
    if origin in (dict, collections.abc.Mapping):
        key_type, value_type = typing.get_args(tp) or (str, int)
        keys = st.integers(0, 3) if key_type is int else st.sampled_from("abcd")
        return st.dictionaries(keys, _type_strategy(value_type, metadata), max_size=2)
    raise TypeError(f"no strategy for parameter type {tp!r}")


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

