"""Declared parameters: binding values to them (:func:`bind_params`).

Values are given by a call (a node's `with:`, ``--set``, Python keywords) or by defaults, which may read the
other parameters of the same declaration list in any order; each is checked against its declared type and
bounds by :func:`vibench.compiler.param_types.check_value`, where the type language lives.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from vibench.compiler.diagnostics import MAX_DIAGNOSTICS, Diagnostic, Suggestions, clip, suggest
from vibench.compiler.expr import ExprError, contains_template, evaluate_value, template_names
from vibench.compiler.ir import ParamDecl, Pos
from vibench.compiler.limits import MAX_NESTING
from vibench.compiler.load_numbers import BOOL_WORDS_HINT
from vibench.compiler.param_types import ONE_OF, check_value, choice_values, type_admits_text


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _cycle(name: str, chain: list[str], by_name: Mapping[str, ParamDecl]) -> str:
    """What a parameter whose value reads itself (``chain``: the parameters from it to the one that reads it
    again) depends on: its default, or the `with:` value of a spec extending the template (`width: ${width + 1}`)."""
    kinds = sorted({"`with:` value" if by_name[n].given else "default" for n in chain})
    if len(chain) == 1:
        return f"parameter `{name}` depends on itself through its {kinds[0]}"
    through = " and ".join(f"{kind}s" for kind in kinds)
    return f"parameter `{name}` depends on itself through the {through} of " + \
        " -> ".join(f"`{n}`" for n in [*chain, name])


def expected_names(names: Iterable[str], owner: str, none: str = "declares no parameters") -> str:
    """The `expected` of an E201 or E111 for a name that is no parameter of ``owner`` (``model `Net` ``): the
    parameters it declares, or that it declares none (`expected one of ` ended there); ``none`` says so of
    another kind of name (``owner`` a folder that "holds no templates"). Built once for all the unknown names of
    a pass: the text of 5,000 names, made again for each of 5,000 unknown keys, was most of a minute.

    >>> expected_names(["width", "depth"], "model `Net`"), expected_names([], "model `Net`")
    ('one of `width`, `depth`', '(none: model `Net` declares no parameters)')
    """
    shown = ", ".join(f"`{n}`" for n in names)
    return f"one of {shown}" if shown else f"(none: {owner} {none})"


def count_rest(built: list[Diagnostic], rest: int, what: str) -> list[Diagnostic]:
    """``built``, the first :data:`~vibench.compiler.diagnostics.MAX_DIAGNOSTICS` diagnostics of a kind, with the
    ``rest`` the pass counted but did not build on the last one (:attr:`Diagnostic.more`, and a note, as E111's
    in typecheck.py: "1,200 more unknown parameters of template `base` follow"). ``what``: the kind, `{s}` where
    its plural takes an `s` (``"unknown parameter{s} of template `base`"``)."""
    if not rest or not built:
        return built
    note = f"{rest:,} more {what.format(s='s' * (rest != 1))} follow{'s' * (rest == 1)}, counted but not listed"
    return [*built[:-1], replace(built[-1], more=rest, notes=(*built[-1].notes, note))]


def bind_params(
    decls: tuple[ParamDecl, ...],
    given: dict[str, tuple[Any, Pos | None]],
    *,
    env: dict[str, Any],
    where: str,
    unknown_code: str,
    call_pos: Pos | None,
    describe_given: Callable[[str], str] = lambda k: f"`{k}`",
    missing: Callable[[ParamDecl], tuple[Pos | None, str]] | None = None,
    origin: Callable[[str], str] | None = None,
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Bind values to declared parameters.

    ``given`` maps names to (value, position); values may hold templates, evaluated with ``env``
    (the caller's names). Defaults may hold templates too; they see the other parameters of the
    same declaration list. Returns the bound values and any diagnostics (unknown names, missing
    required parameters, type and bound errors, expression errors). ``missing`` gives the position
    and hint of an E209 for a declaration (default: ``call_pos`` and "set `name: ...`"). ``origin``,
    for values given outside the file (``--set``, Python keywords), gives a note saying where a
    refused given value came from (the error is placed at the parameter's declaration).
    """
    by_name = {d.name: d for d in decls}
    diags = _unknown_given(given, by_name, where, unknown_code, describe_given)
    values: dict[str, Any] = {}
    state: dict[str, str] = {}
    busy: list[str] = []  # the defaults being evaluated, each reading the next
    # The parameters in the longest chain of defaults that ends in each value computed (1: a value of its own, or
    # a default that reads no other parameter). The limit is on this chain, whatever order the parameters are
    # written in: `busy` alone counted only the defaults still being evaluated, so a chain written in order (each
    # default reads the one above, computed already) was never too deep, and the same chain written bottom-up was.
    chained: dict[str, int] = {}
    said_too_deep = False
    # Parameters whose value was reported (wrong type, out of bounds); a default that reads one is not
    # reported again (gMLP's `output_dim: {default: input_dim, ge: 1}` with `input_dim: 0`: one error).
    bad: set[str] = set()

    def value_of(name: str) -> Any:
        if state.get(name) == "done":
            return values[name]
        if state.get(name) == "busy":
            raise ExprError(_cycle(name, busy[busy.index(name):], by_name))
        if len(busy) >= MAX_NESTING:  # defaults read in a chain of thousands exhausted Python's stack
            raise _too_deep(name)
        state[name] = "busy"
        busy.append(name)
        try:
            return compute(name)
        finally:
            busy.pop()

    def compute(name: str) -> Any:
        nonlocal said_too_deep
        decl = by_name[name]
        told: tuple[str, ...] = ()
        if name in given:
            raw, pos = given[name]
            scope = env
            told = (note,) if origin is not None and (note := origin(name)) else ()
        elif not decl.required:
            raw, pos = decl.default, getattr(decl.default, "pos", None) or decl.pos
            scope = _LazyScope(value_of, by_name, env, bad, chained)
        else:
            state[name] = "done"
            values[name] = _MISSING
            pos, hint = missing(decl) if missing is not None else (call_pos, f"set `{name}: ...`")
            diags.append(Diagnostic("E209", f"missing required parameter `{name}` for {where}", pos,
                                    expected=f"a value of type {decl.type}", hint=hint))
            return _MISSING
        try:
            value = evaluate_value(raw, scope) if contains_template(raw) else raw
        except ExprError as err:
            state[name] = "done"
            values[name] = _MISSING
            deep = err.message.startswith(_TOO_DEEP)  # one chain too deep is said once, not per 32 links
            if not (isinstance(scope, _LazyScope) and scope.read_bad) and not (deep and said_too_deep):
                diags.append(Diagnostic("E203" if err.syntax else "E204", f"cannot evaluate `{name}`: {err.message}",
                                        pos, found=err.text or None, hint=err.hint, notes=told))
            said_too_deep = said_too_deep or deep
            return _MISSING
        chained[name] = scope.chained + 1 if isinstance(scope, _LazyScope) else 1
        coerced, code, message = check_value(decl, value)
        if code is not None:
            bad.add(name)
        caused = isinstance(scope, _LazyScope) and scope.read_bad  # by a value already reported: not again
        if code == "E202" and not caused:
            words = isinstance(value, bool) and type_admits_text(decl.type)  # `act: yes` where text is taken
            diags.append(Diagnostic(code, f"wrong type for parameter `{name}` of {where}", pos,
                                    expected=decl.type, found=f"{clip(repr(value), 80)} ({_kind(value)})",
                                    hint=BOOL_WORDS_HINT if words else None,
                                    notes=((message.partition(": ")[2],) if ("[" in decl.type or "any" in decl.type)
                                           and message else ())
                                    + told))
        elif code is not None and not caused:
            choice = (message or "").startswith(ONE_OF)
            diags.append(Diagnostic(code, f"parameter `{name}` of {where} is "
                                    + ("not one of the choices" if choice else "out of bounds"), pos,
                                    expected=(message or "").removeprefix("must be "), found=clip(repr(value), 80),
                                    hint=_choice_hint(coerced, decl) if choice else None, notes=told))
        state[name] = "done"
        values[name] = coerced
        return coerced

    for decl in decls:
        value_of(decl.name)
    return {k: v for k, v in values.items() if v is not _MISSING}, diags


def _unknown_given(given: Mapping[str, tuple[Any, Pos | None]], by_name: Mapping[str, ParamDecl], where: str,
                   code: str, describe_given: Callable[[str], str]) -> list[Diagnostic]:
    """``code`` (E201, E111) for each key of ``given`` that names no parameter of ``by_name``: the first
    :data:`~vibench.compiler.diagnostics.MAX_DIAGNOSTICS` built, with one "did you mean" budget and one
    `expected` text for them all, the rest counted on the last."""
    unknown = [(key, pos) for key, (_, pos) in given.items() if key not in by_name]
    if not unknown:
        return []
    expected = expected_names(by_name, where)
    names = Suggestions(by_name)
    built = [Diagnostic(code, f"unknown parameter {describe_given(key)} for {where}", pos, expected=expected,
                        hint=names.hint(key) or "remove it, or declare it in `params:`")
             for key, pos in unknown[:MAX_DIAGNOSTICS]]
    return count_rest(built, len(unknown) - len(built), f"unknown parameter{{s}} for {where}")


def _choice_hint(value: Any, decl: ParamDecl) -> str | None:
    """The hint of an E208 for a value that is none of ``decl``'s choices, as a block parameter's E112 says it
    (param_errors.choice_hint): the choice it is closest to, or the choice it equals but for its type."""
    choices = choice_values(decl)
    equal = next((c for c in choices if c == value), _MISSING)  # compared with `==`: `true` is 1, `1.0` is 1
    if equal is not _MISSING:
        return (f"write `{_written(equal)}`: a choice is compared by type as well as value, and `{_written(value)}` "
                f"({type(value).__name__}) is not `{_written(equal)}` ({type(equal).__name__})")
    texts = [c for c in choices if type(c) is str]
    if type(value) is not str or not texts:
        return None
    folded = [c for c in texts if c.casefold() == value.casefold()]
    if folded:
        return f"did you mean `{folded[0]}`? (the choices are case-sensitive)"
    return suggest(value, texts) or "write one of the choices listed under `expected` (they are case-sensitive)"


def _written(value: Any) -> str:
    """A scalar as a spec writes it (`true`, `null`, `1`)."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    return repr(value)


_TOO_DEEP = "parameter defaults read each other more than"


def _too_deep(name: str) -> ExprError:
    """E204 of a default that reads ``name``, the parameter that would make its chain of defaults too long."""
    return ExprError(f"{_TOO_DEEP} {MAX_NESTING} deep (`{name}` is the next one)",
                     hint="give some of them values of their own")


class _LazyScope(dict):
    """The names a parameter default sees: the other parameters (evaluated on demand) and ``env``."""

    def __init__(self, value_of: Callable[[str], Any], decls: dict[str, ParamDecl], env: dict[str, Any],
                 bad: set[str], chains: dict[str, int]) -> None:
        super().__init__(env)
        self._value_of = value_of
        self._decls = decls
        self._bad = bad  # the parameters whose value was reported (shared with bind_params)
        self._chains = chains  # each computed parameter's chain of defaults (shared with bind_params)
        self.read_bad = False  # whether the default read a parameter whose value was reported
        self.chained = 0  # the longest chain of defaults among the parameters the default read

    def __contains__(self, key: object) -> bool:
        return key in self._decls or super().__contains__(key)

    def __getitem__(self, key: str) -> Any:
        if key in self._decls:
            value = self._value_of(key)
            chain = self._chains.get(key, 1)
            if chain >= MAX_NESTING:  # this default would make the chain one parameter longer than allowed
                raise _too_deep(key)
            self.chained = max(self.chained, chain)
            if key in self._bad or value is _MISSING:
                self.read_bad = True
            if value is _MISSING:
                raise ExprError(f"parameter `{key}` has no valid value")
            return value
        return super().__getitem__(key)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._decls) + list(super().keys()))


_MISSING = object()


def referenced_names(value: Any) -> frozenset[str]:
    return template_names(value)

