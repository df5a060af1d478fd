"""The hint of E112 for a value that is a parameter's name taken as text.

A plain name reads a parameter, `let` or loop variable only where text is not taken (docs/language.md, "Names
as values"): written at a node for a parameter that takes text (`activation: relu`), under `let:` (a `let` has
no type), or set for a parameter that takes text (`s: {type: str, default: n}`), it stays text. When that text
reaches a parameter it does not fit, :func:`name_hint` says where it became text and how to read the name there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Collector, suggest
from vibench.compiler.expr import Unknown, bare_name, template_names
from vibench.compiler.ir import NodeDef, UnitDef
from vibench.compiler.param_errors import choice_hint, quote_hint
from vibench.compiler.resolve_decls import LOOP_NAMES

if TYPE_CHECKING:
    from pydantic import BaseModel


def value_hint(udef: UnitDef, env: Mapping[str, Any], diags: Collector, nd: NodeDef, field: str, value: Any,
               params: type[BaseModel], errors: list[dict]) -> str | None:
    """The hint of an E112 for ``value`` refused by ``field`` (pydantic's ``errors``): how to read the parameter a
    plain name names (:func:`name_hint`), else the fixed text it is closest to (``mean`` for ``Mean``:
    :func:`~vibench.compiler.param_errors.choice_hint`; "a plain name reads a parameter" is no hint where the
    field takes text), else how a name no parameter has was meant, else to quote a choice YAML read as another
    type."""
    named = type(value) is str and value in env
    return ((name_hint(udef, env, diags, nd, field, value) if named else None)
            or choice_hint(params, field, errors, value)
            or name_hint(udef, env, diags, nd, field, value)
            or quote_hint(params, field, errors, nd.params, diags.sources))


def name_hint(udef: UnitDef, env: Mapping[str, Any], diags: Collector, nd: NodeDef, field: str,
              value: Any) -> str | None:
    """For a plain name that was taken as text and refused by ``field`` of node ``nd`` of ``udef`` (whose
    values are ``env``): how to read the parameter, or which name was meant; None when ``value`` is no name, or
    a name that no parameter or `let` has and that the node did not write (`${merge(cfg, {'bias': 'yes'})}` computed
    the text `yes`: no plain name was written to be read).
    A parameter of that name is meant to be read, so its W105 ("never used") is taken back from ``diags``.

    >>> from vibench.compiler.expr import parse_value
    >>> from vibench.compiler.ir import LetDef
    >>> unit = UnitDef("U", "U", None, (), (), (), (), "u.yaml", None, lets=(LetDef("width", "n"),))
    >>> node = NodeDef("fc", 0, "linear", (), (("out_features", parse_value("${width}", None), None),))
    >>> print(name_hint(unit, {"n": 4, "width": "n"}, Collector(), node, "out_features", "n")[:61])
    `width` is the text 'n': a plain name under `let:` stays text
    """
    name = bare_name(value)
    if name is None:
        return None
    written = _written(nd, field)
    copies = _copy_names(nd)
    if name in env or (name in copies and _writes_plainly(written, name)):
        decl = next((d for d in udef.params if d.name == name), None)
        if decl is not None:  # meant to read it: this hint says how, so no "never used" (W105) as well
            diags.drop("W105", decl.pos)
        if bare_name(written) == name:  # the node wrote the name itself
            return f"`{field}` takes text, so `{name}` is the text {name!r} here: write `${{{name}}}` to read `{name}`"
        return _text_source(udef, env, written, field, name)
    if not _writes_plainly(written, name):  # text an expression, a parameter or a `let` gave: no name to read here
        return None
    if name in LOOP_NAMES:  # the name of another kind of copy's loop variable, or of one where the node has none
        return _outside_copies(nd, name, copies)
    near = suggest(name, [n for n in env if not isinstance(env[n], Unknown)] + list(copies))
    return f"a plain name reads a parameter, `let` or loop variable; none is named `{name}`" + (
        f" ({near})" if near else "")


def _copy_names(nd: NodeDef) -> tuple[str, ...]:
    """The loop variables the copies of node ``nd`` have: `i` of a `repeat`; `i` and `item` of a `for_each`, and
    `key` of one over a mapping (of one a `${...}` or a name gives too: it may be a mapping); none otherwise."""
    if nd.for_each is not None:
        return ("i", "item") if isinstance(nd.for_each, list) else ("i", "item", "key")
    return ("i",) if nd.repeat is not None else ()


def _outside_copies(nd: NodeDef, name: str, copies: tuple[str, ...]) -> str:
    """The hint for the loop name ``name`` written plainly at node ``nd``, whose copies (if any) do not have it
    (their loop names are ``copies``): which copies have it, and what ``nd`` has instead."""
    where = {"i": "`repeat`/`for_each`", "item": "`for_each`", "key": "a `for_each` over a mapping"}[name]
    if not copies:
        has = f"node `{nd.name}` has " + ("neither" if name == "i" else "no `for_each`")
    else:
        has = f"the copies of node `{nd.name}` have only " + " and ".join(f"`{n}`" for n in copies)
    return (f"a plain name reads a parameter, `let` or loop variable, and `{name}` exists only in the copies of "
            f"{where}: {has}")


def _written(nd: NodeDef, field: str) -> Any:
    """What node ``nd`` wrote for ``field``: its own key's value, else the value a `with:` written as a mapping
    gives it (its own keys win, as they do for the values); None where neither sets it (`with: cfg`)."""
    own = [raw for key, raw, _ in nd.params if key == field]
    if own or not isinstance(nd.with_, dict):
        return own[0] if own else None
    return nd.with_.get(field)


def _writes_plainly(written: Any, name: str) -> bool:
    """Whether ``written`` is the plain name ``name`` or holds it as a list's item or a mapping's value
    (`kernel_size: [3, k]`): where a plain name reads a parameter, not a value a `${...}` computed."""
    if isinstance(written, list):
        return any(_writes_plainly(item, name) for item in written)
    if isinstance(written, dict):
        return any(_writes_plainly(item, name) for item in written.values())
    return bare_name(written) == name


def _text_source(udef: UnitDef, env: Mapping[str, Any], written: Any, field: str, name: str) -> str:
    """Where the text ``name`` that reached ``field`` (which takes no text) became text, and how to read the
    parameter ``name`` there instead: the `let` or parameter that the node's value ``written`` reads and holds it."""
    read = template_names(written)
    let = next((d for d in udef.lets if d.name in read and env.get(d.name) == name), None)
    if let is not None:
        return (f"`{let.name}` is the text {name!r}: a plain name under `let:` stays text (a `let` has no type); "
                f"write `{let.name}: \"${{{name}}}\"` there to read `{name}`")
    holder = next((d for d in udef.params if d.name in read and env.get(d.name) == name), None)
    if holder is not None:
        return (f"`{holder.name}` takes text (`{holder.type}`), so the plain name `{name}` set for it is the text "
                f"{name!r}: give `{holder.name}` a type without text to read `{name}`, or write `{field}: {name}` here")
    return (f"the text {name!r} reaches `{field}`, which takes no text: write `${{{name}}}` where it is set to read "
            f"`{name}`")
