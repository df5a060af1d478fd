"""A unit's `let:` values and `checks:` in elaboration, and the input dimensions that name a `let`.

The `let` values are computed in order before the inputs are typed (:mod:`~vibench.compiler.lets`); each is then

* known: its value is in the unit's environment;
* *waiting*: it reads an input's size (``half: "${L // 2}"``), not bound yet: it is computed once the inputs are
  typed, or when an input's dimension names it (``y: [B, half]``), as that dimension's value;
* *failed*: it fails although every name it reads is known (``${sizes[0]}`` with ``sizes: []``).

The checks that read neither a waiting nor a failed value run first: a failed value is often what the template
author's check is about, and the user then reads the author's sentence at their own setting. A failed value is
reported next, at its `let`. The other checks run once the waiting values are known.

An input's `when`, `layout` or `${...}` shape that reads a waiting value is E204 saying so (an input is declared
before any size is bound; "unknown name" named a `let` the user had written). A dimension that names a waiting
value takes the value computed with the sizes bound, a number: ``--input x=2,16`` gives ``y`` the size 8. A
value that needs a free size is E303 at that dimension (its relation to the other sizes could not be checked by
the emitted model's input checks, which read a symbol's size from one axis and compare the others to it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.elaborated import Failed, expr_diag
from vibench.compiler.expr import FUNCTIONS, ExprError, Unknown, contains_template, evaluate_value, template_names
from vibench.compiler.ir import CheckDef, InputDecl, LetDef, Pos, Template, UnitDef
from vibench.compiler.lets import run_checks
from vibench.compiler.symbolic_errors import NeedConcrete

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer

_CONSTANTS = frozenset({"true", "false", "null"})  # names the evaluator knows without the environment


class LetValues:
    """The `let:` and `checks:` methods of :class:`~vibench.compiler.elaborate.Elaborator`, which sets the state
    below (see its ``__init__``)."""

    owner: _Specializer
    udef: UnitDef
    env: dict[str, Any]
    concrete: dict[str, int]
    param_pos: dict[str, Pos | None]
    waiting: dict[str, LetDef]  # by name, in order: computed once the inputs' sizes are bound
    later_checks: list[CheckDef]  # the checks that read a waiting value

    if TYPE_CHECKING:  # the driver's
        def error(self, diag: Diagnostic) -> Failed: ...
        def evaluate(self, value: Any, env: Any, pos: Pos | None, where: str, node: str | None, *,
                     nested: bool = False) -> Any: ...

    def whose(self) -> str:
        return f"of {'model' if len(self.owner.stack) <= 1 else 'block'} `{self.udef.name}`"

    def first_lets(self) -> None:
        """Compute the `let` values that need no input size, then run the checks that read none of the others;
        then the first value that failed is E204 (Failed)."""
        sizes = self.size_names()
        failed: dict[str, ExprError | None] = {}  # None: it reads a value that failed
        for let in self.udef.lets:
            if not contains_template(let.value):
                self.env[let.name] = let.value
                continue
            try:
                self.env[let.name] = evaluate_value(let.value, self.env)
            except NeedConcrete:
                self.waiting[let.name] = let
            except ExprError as error:
                names = template_names(let.value)
                if any(n in failed for n in names):
                    failed[let.name] = None
                elif any(n in self.waiting or (n not in self.env and (sizes is None or n in sizes)) for n in names):
                    self.waiting[let.name] = let
                else:
                    failed[let.name] = error
        self.split_checks(failed)
        # The first only, as the values are computed in order (a spent expression budget fails every one after it).
        for let in self.udef.lets:
            err = failed.get(let.name)
            if err is not None:
                raise self.error(expr_diag(err, let.pos, f"`let.{let.name}` {self.whose()}"))

    def size_names(self) -> frozenset[str] | None:
        """The names a `let` may wait for: the symbols the inputs' shapes write (None: any name, when a shape is
        one `${...}`, whose symbols are known once it is evaluated)."""
        names: set[str] = set()
        for decl in self.udef.inputs:
            if isinstance(decl.shape, Template):
                return None
            names.update(d for d in decl.shape if isinstance(d, str))
        return frozenset(names)

    def split_checks(self, failed: dict[str, ExprError | None]) -> None:
        """Run the checks that read no waiting or failed value (E215 raises Failed); keep those that read a
        waiting one for :meth:`last_lets`. A check that reads a failed value is left out: the value's error says
        what is wrong."""
        if not self.waiting and not failed:
            self.checks(self.udef.checks)
            return
        now: list[CheckDef] = []
        for check in self.udef.checks:
            names = template_names(check.that) | template_names(check.message)
            if any(n in failed for n in names):
                continue
            unbound = any(n not in self.env and n not in FUNCTIONS and n not in _CONSTANTS for n in names)
            (self.later_checks if unbound else now).append(check)
        self.checks(now)

    def checks(self, checks: list[CheckDef] | tuple[CheckDef, ...]) -> None:
        if not checks:
            return
        udef = self.udef if len(checks) == len(self.udef.checks) else replace(self.udef, checks=tuple(checks))
        failures = run_checks(udef, self.env, self.param_pos)
        for d in failures:
            self.owner.diags.add(d)
        if any(d.severity == "error" for d in failures):
            raise Failed()

    def last_lets(self) -> None:
        """The waiting values, the inputs' sizes bound (a name that is no size is E204 at its `let`), then the
        checks that read them. A value that needs a size left free is an ``Unknown`` that asks for it where it
        is read (NeedConcrete there: E303 unless a caller knows the size), so an unread `let` needs none (a
        symbol is a compile-time number only when something needs it as one); a check's, a promised output
        shape's or `metadata:`'s read asks here, at the `let` (those read the unit's values, not a node's)."""
        read_now: set[str] = set()
        if self.waiting:  # (the common case, none: no walk over the checks, promises and metadata)
            read_now = {n for c in self.later_checks for n in template_names(c.that) | template_names(c.message)}
            read_now |= {n for out in self.udef.outputs for d in out.shape or () for n in _names(d)}
            read_now |= template_names(self.udef.metadata)
        for let in list(self.waiting.values()):
            try:
                self.env[let.name] = self.evaluate(let.value, self.env, let.pos, f"`let.{let.name}` {self.whose()}",
                                                   None)
            except NeedConcrete as need:
                if let.name in read_now:
                    raise
                self.env[let.name] = Unknown(f"`let.{let.name}` reads an input's size", symbol=min(need.symbols))
            del self.waiting[let.name]
        self.checks(self.later_checks)

    def refuse_waiting(self, value: Any, pos: Pos | None, where: str) -> None:
        """E204 when ``value``, read before the inputs are typed (an input's `when`, `layout`, `${...}` shape),
        reads a `let` that waits for an input's size."""
        if not self.waiting:
            return
        names = template_names(value)
        let = next((let for let in self.waiting.values() if let.name in names), None)
        if let is None:
            return
        raise self.error(Diagnostic(
            "E204", f"{where} reads `{let.name}`, a `let` computed from the inputs' sizes",
            getattr(value, "pos", None) or pos, found=clip(f"`let.{let.name}`: {_text(let.value)}", 120),
            notes=(f"`let.{let.name}` is written at {let.pos}",) if let.pos is not None else (),
            hint="an input's `when`, `layout` and `${...}` shape are read before any size is bound: compute the "
                 "value from the parameters only"))

    def let_dimension(self, name: str, decl: InputDecl) -> Any:
        """The value of the waiting `let` ``name`` that a dimension of ``decl`` names, computed with the inputs'
        sizes bound (and the waiting values it reads, in order); NeedConcrete, located at the input, when it
        needs a size the caller leaves free."""
        needed = {name}
        for let in reversed(self.waiting.values()):
            if let.name in needed:
                needed |= {n for n in template_names(let.value) if n in self.waiting}
        for let in [let for let in self.waiting.values() if let.name in needed]:
            try:
                self.env[let.name] = evaluate_value(let.value, self.env)
            except ExprError as err:
                raise self.error(expr_diag(err, let.pos, f"`let.{let.name}` {self.whose()}")) from None
            except NeedConcrete as need:
                written = _text(self.waiting[name].value)
                need.what = f"the dimension `{name}` of input `{decl.name}` (`let.{name}` = {written})"
                need.node, need.pos = None, decl.dim_at(name) or decl.pos
                raise
            del self.waiting[let.name]
        value = self.env[name]
        size = isinstance(value, int) and not isinstance(value, bool) and value >= 1  # else E212, by the caller
        if size and len(self.owner.stack) > 1:  # a block: its call binds the caller's size to the name, unchecked
            self.match_call(name, value, decl)
        return value

    def match_call(self, name: str, value: Any, decl: InputDecl) -> None:
        """E301 when the call gives the dimension ``name`` of input ``decl`` of this block another size than its
        `let` value; NeedConcrete (the caller's size as a number) while the call's size is not asked for yet."""
        given = self.concrete.get(name)
        if given is None:
            need = NeedConcrete(frozenset({name}), f"the size the call gives to the dimension `{name}` of input "
                                f"`{decl.name}` (`let.{name}` = {value!r})")
            need.pos = decl.dim_at(name) or decl.pos
            raise need
        if given != value:
            raise self.error(Diagnostic(
                "E301", f"the call gives the dimension `{name}` of input `{decl.name}` the size {given}, not "
                f"`let.{name}`", decl.dim_at(name) or decl.pos,
                expected=f"{value!r} (`let.{name}` = {_text(self.udef_let(name).value)})",
                found=f"{given}", hint=f"`{name}` names the `let` value here, not a free size"))

    def udef_let(self, name: str) -> LetDef:
        return next(let for let in self.udef.lets if let.name == name)


def _names(dim: Any) -> set[str]:
    """The names a dimension of a promised output shape reads: a `${...}`'s, or a name written plainly."""
    return set(template_names(dim)) if isinstance(dim, Template) else {dim} if isinstance(dim, str) else set()


def _text(value: Any) -> str:
    return clip(f"`{value.text}`" if isinstance(value, Template) else repr(value), 80)
