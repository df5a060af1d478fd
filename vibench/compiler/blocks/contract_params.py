"""The parameter model of a block, checked for the block contract (:mod:`vibench.compiler.blocks.contract`):
the settings of BlockParams kept (strict, no unknown keys, frozen: a spec is checked alike whatever block it
uses), parameters a node can hold (ASCII identifiers, not Python keywords, without an alias, not ``self``, not a
node key, of types a spec can give), bounds
the compiler can take (within 2**62, or past every spec integer up to 2**64), and defaults that their own type
and bounds take. :class:`Problem`, what every check of the contract returns, is defined here and imported by
the contract module.
"""

from __future__ import annotations

import keyword
import typing
from typing import Any, NamedTuple

from vibench.compiler.codegen import code as c
from vibench.compiler.expr_functions import MAX_INT


class Problem(NamedTuple):
    """Where a block breaks the contract, and how to fix it."""

    text: str
    hint: str


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut at ``limit`` characters (``repr`` escapes what does not print)."""
    from vibench.compiler.plugin_checks import shown

    text = shown(value)  # (reprlib's: an integer of 5,000 digits has no repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def param_problems(params: type) -> list[Problem]:
    """What keeps ``params`` (a BlockParams subclass) from being a block's parameter model (empty: nothing)."""
    return _config_problems(params) + _param_problems(params) + _default_problems(params)


# What BlockParams sets and a parameter model may not loosen: (setting, value, what the looser one lets through).
_CONFIG = (
    ("extra", "forbid", "a node's misspelt parameter (`gian: 5.0` for `gain`) or node key (`repaet: 3` for "
     "`repeat`) would pass without a word, where every block refuses it (E111)"),
    ("strict", True, "a spec's `'3'` would become the integer 3 and `true` the number 1, where every block "
     "refuses them (E112)"),
    ("frozen", True, "a shape rule could change the parameters that the node's copies share"),
)


def _config_problems(params: type) -> list[Problem]:
    """The settings of BlockParams' ``model_config`` (strict, no unknown keys, frozen) that ``params`` loosens, for
    the model or for one parameter (``Field(strict=False)``): a spec is checked as strictly whatever block it uses."""
    config = params.model_config  # type: ignore[attr-defined]
    problems = [Problem(f"its `Params` sets `{key}={config.get(key)!r}` in its `model_config`: {why}",
                        f"leave `{key}` out of the `model_config` (BlockParams sets `{key}={value!r}`)")
                for key, value, why in _CONFIG if config.get(key) != value]
    for field, info in params.model_fields.items():  # type: ignore[attr-defined]
        if any(getattr(item, "strict", None) is False for item in _metadata(info.metadata, info.annotation)):
            problems.append(Problem(f"parameter `{field}` is declared `strict=False`: {_CONFIG[1][2]}",
                                    "leave `strict` out of the parameter's `Field` or `Annotated` (BlockParams "
                                    "validates strictly)"))
    return problems


def _metadata(found: list[Any], annotation: Any) -> list[Any]:
    """``found`` and the metadata of every ``Annotated`` within ``annotation`` (``list[Annotated[int, ...]]``)."""
    items, stack = list(found), [annotation]
    while stack:
        part = stack.pop()
        args = typing.get_args(part)
        if typing.get_origin(part) is typing.Annotated:
            items += part.__metadata__
            args = args[:1]
        stack += [a for a in args if a is not Ellipsis]
    return items


def _param_problems(params: type) -> list[Problem]:
    from vibench.schemas.document import NODE_KEYS

    generated = params.model_config.get("alias_generator") is not None  # type: ignore[attr-defined]
    problems = []
    for key, info in params.model_fields.items():  # type: ignore[attr-defined]
        alias = _alias_problem(key, info, generated)
        if alias is not None:
            problems.append(alias)
        if keyword.iskeyword(key):
            problems.append(Problem(f"parameter `{key}` is a Python keyword: model.py passes a parameter as a keyword "
                                    f"argument, and `{key}=...` is a syntax error there", "rename the parameter"))
        elif not c.is_identifier(key):  # model.py passes it as a keyword argument: an ASCII identifier
            problems.append(Problem(f"parameter {key!r} is not a Python identifier of ASCII letters, digits and `_`",
                                    "rename the parameter"))
        elif key == "self":
            problems.append(Problem("parameter `self` cannot be a block parameter (it is the module in model.py)",
                                    "rename the parameter"))
        elif key in NODE_KEYS:
            problems.append(Problem(f"parameter `{key}` has the name of a node key (`{'`, `'.join(NODE_KEYS)}` are "
                                    "the node's own: the node's would shadow it)", "rename the parameter"))
        else:
            problems += _type_problems(key, info.annotation)
    return problems


_ALIASES = ("alias", "validation_alias", "serialization_alias")


def _alias_problem(key: str, info: Any, generated: bool) -> Problem | None:
    """A parameter's alias of any kind (``Field(alias=...)``, ``validation_alias``, ``serialization_alias``, one an
    ``alias_generator`` makes) other than its own name: a spec, the schema, the editor and the errors name a
    parameter by its name, and the block's code reads it by that name (``p.k``); an alias would make the key a spec
    writes differ from it (the schema of such a block could not even be made)."""
    for kind in _ALIASES:
        alias = getattr(info, kind, None)
        if alias is not None and alias != key:
            made = generated and info.alias_priority == 1  # (1: made by the generator; 2: the Field's own)
            where = "its `model_config`'s `alias_generator` gives it" if made else f"`{kind}`"
            use = "pydantic would write out" if kind == "serialization_alias" else "a spec would have to write"
            return Problem(f"parameter `{key}` has the alias {_shown(alias)} ({where}), which {use} instead of its "
                           f"name: specs, the schema and the errors name a parameter as the block's code reads it "
                           f"(`p.{key}`)",
                           "drop the `alias_generator` from the `model_config`" if made else
                           f"drop the parameter's `{kind}` (name the parameter as specs write it)")
    return None


SPEC_VALUES = "a spec gives None, bool, int, float, str, and lists and mappings of them"
_BOUNDS = ("ge", "gt", "le", "lt", "multiple_of", "min_length", "max_length")
_ABOVE, _BELOW = ("le", "lt", "max_length"), ("ge", "gt")  # bounds that a large (small) value passes


def _bound_problem(key: str, bound: str, value: int) -> Problem | None:
    """Why an integer bound cannot be the compiler's (None: it can). A spec's integers are within 2**62, so an
    upper bound above 2**62 (``le=2**63 - 1``, int64's largest) or a lower bound below -2**62 refuses none of
    them: taken up to 2**64 (:data:`~vibench.compiler.plugin_checks.MAX_CONSTANT`, uint64's limit), which
    model.py writes and a float holds when a class checks it. Any other bound beyond 2**62 refuses every spec
    integer, and one of 5,000 digits cannot even be printed."""
    from vibench.compiler.plugin_checks import MAX_CONSTANT

    if abs(value) <= MAX_INT:
        return None
    passed = (bound in _ABOVE and value > 0) or (bound in _BELOW and value < 0)
    if passed and abs(value) <= MAX_CONSTANT:
        return None
    text = f"parameter `{key}` has the bound `{bound}` {_shown(value)}, beyond 2**62, the compiler's bound on integers"
    if passed:
        return Problem(text + ", and beyond 2**64, the largest bound of that side vibench takes",
                       "bound it within 2**62, as a spec's integers are, or within 2**64 (int64's and uint64's "
                       "limits are)")
    return Problem(text + ": no spec integer meets it", "bound it within 2**62, as a spec's integers are")


def _default_problems(params: type) -> list[Problem]:
    """A parameter's integer bounds ones the compiler can take (:func:`_bound_problem`), and its default a value
    its own type and bounds take: pydantic validates what a node gives, never the default it falls back on
    (`k: int = "abc"` reached model.py as a string)."""
    from pydantic import ConfigDict, TypeAdapter, ValidationError

    from vibench.schemas.blocks import _tuple_fields

    problems = []
    for key, info in params.model_fields.items():  # type: ignore[attr-defined]
        huge = [problem for constraint in info.metadata for bound in _BOUNDS
                if type(value := getattr(constraint, bound, None)) is int
                and (problem := _bound_problem(key, bound, value)) is not None]
        problems += huge
        if huge or info.is_required() or _type_problem(info.annotation) is not None:
            continue  # (a bound of 5,000 digits: even pydantic's messages about it cannot be printed)
        try:
            default = info.get_default(call_default_factory=True)
        except Exception as err:  # noqa: BLE001 - the plug-in's factory
            problems.append(Problem(f"parameter `{key}` has a default factory that raised {type(err).__name__}",
                                    "give it a default that can be made"))
            continue
        why = _value_problem(default)
        if why is None and default is not None:  # (None: "not set", as `k: int = None` is often written)
            given = tuple(default) if key in _tuple_fields(params) and isinstance(default, list) else default
            annotation: Any = info.annotation
            if info.metadata:
                annotation = typing.Annotated[(annotation, *info.metadata)]  # (its bounds: `Field(1, ge=1)`)
            try:
                TypeAdapter(annotation, config=ConfigDict(strict=True)).validate_python(given)
            except ValidationError as err:
                why = "which its own type refuses (" + "; ".join(str(e["msg"]) for e in err.errors()[:2]) + ")"
        if why is not None:
            problems.append(Problem(f"parameter `{key}` has the default {_shown(default)}, {why}",
                                    "give it a default that its type and bounds take (a node that does not set the "
                                    "parameter gets the default)"))
    return problems


def _value_problem(value: Any) -> str | None:
    """Why a default cannot be printed or compiled, or None: an integer beyond 2**64 (an integer of 5,000 digits
    cannot even be printed). One beyond 2**62 (int64's largest, as a seed) reaches model.py only through what
    the plug-in returns, which is checked there: a size or count within 2**62, a constant within 2**64 (E114).
    (A NaN default is E114 at a node that does not set it:
    :meth:`vibench.compiler.typecheck.TypeCheck.validate_params`.)"""
    from vibench.compiler.plugin_checks import MAX_CONSTANT

    if type(value) is int and abs(value) > MAX_CONSTANT:
        return "an integer beyond 2**64, more than any integer tensor holds or model.py writes"
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else ()
    return next((why for item in items if (why := _value_problem(item)) is not None), None)


def _type_problem(annotation: Any) -> Any:
    """The part of a parameter's type that no spec value can be (``None``: a spec can give each part).
    A spec holds plain data (:data:`SPEC_VALUES`) and the parameter models are strict: an Enum, a
    class of the plug-in's own or a set can never be set from a spec."""
    import collections.abc
    import types

    if annotation is Any or annotation in (bool, int, float, str, type(None), list, tuple, dict):
        return None
    if getattr(annotation, "__supertype__", None) is not None:  # typing.NewType("Width", int)
        return _type_problem(annotation.__supertype__)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_problem(args[0])
    if origin is typing.Literal:
        return None if all(type(a) in (bool, int, float, str, type(None)) for a in args) else annotation
    if origin in (typing.Union, types.UnionType, list, tuple, dict, collections.abc.Sequence,
                  collections.abc.Mapping):
        return next((found for a in args if a is not Ellipsis and (found := _type_problem(a)) is not None), None)
    return annotation


def _type_problems(key: str, annotation: Any) -> list[Problem]:
    import enum

    found = _type_problem(annotation)
    if found is None:
        return []
    name = found.__name__ if isinstance(found, type) else repr(found)
    hint = "declare it as one of those types"
    if isinstance(found, type) and issubclass(found, enum.Enum):
        values = ", ".join(repr(m.value) for m in list(found)[:8])
        hint = f"declare a choice as a Literal of its values (Literal[{values}]), as the built-in blocks do"
    return [Problem(f"parameter `{key}` has the type {name}, which no spec value is ({SPEC_VALUES})", hint)]
