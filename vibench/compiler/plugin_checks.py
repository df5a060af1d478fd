"""What a plug-in block returns or raises, checked before the compiler uses it, and the words that show it.

:mod:`vibench.compiler.plugin_calls` calls a plug-in's methods and raises E114 with what these checks
find; each check only says what is wrong (None: nothing), so that it holds no state and calls nothing of
the plug-in's:

* :func:`checked_dim`: a dim of an output shape or a FLOP count, as the compiler holds one: a whole
  number in [0, 2**62] or a :class:`~vibench.compiler.symbolic.Expr` rebuilt through its own arithmetic
  (an Expr built by hand, ``Expr({}, -5)`` or one with a float coefficient, is refused, not carried into
  later messages);
* :func:`count_problem` (``param_count``, ...), :func:`constant_problem` (a constant of its code): a
  number vibench and Python can print (an integer of 5,000 digits cannot be: Python refuses to write it);
* :func:`shape_error_problem`, :func:`need_problem`: the fields of a ShapeError or a NeedConcrete its
  ``infer`` raised, which become the spec's own error (E301, E303, ...) only when they are what
  ``ctx.fail`` and ``ctx.concrete`` make;
* :func:`unbound_reads`: the names a code tree reads that it does not bind itself, as Python scopes them.
* :func:`class_bindings`: the names a class body binds, as Python scopes them (:func:`mangled`: as the class holds
  them), which a native class of a plug-in must still hold as its body made them
  (:func:`~vibench.compiler.registry_plugins._changed_attributes`).

>>> L = Expr.symbol("L")
>>> checked_dim(L // 2 + 1), checked_dim(Expr({}, 7)), checked_dim(-L)
((Expr('L // 2 + 1'), None), (7, None), (None, 'negative for every size of its symbols'))
"""

from __future__ import annotations

import ast
import builtins
import importlib.metadata
import math
import operator
import reprlib
from collections.abc import Collection
from typing import Any

from vibench.compiler.codegen import code as c
from vibench.compiler.diagnostics import clip
from vibench.compiler.expr_functions import MAX_INT
from vibench.compiler.plugin_guard import guarded
from vibench.compiler.symbolic import Dim, Expr, FloorDiv

GROUP = "vibench.blocks"  # the entry-point group of block plug-ins (see vibench.compiler.registry)
MAX_CONSTANT = 2**64
"""The largest integer (in magnitude) a plug-in's code may write: more than any integer tensor holds (int64,
uint64); a constant beyond it can only be a mistake, and one of 4,300 digits Python will not even write."""
SHAPE_CODES = ("E104", "E112", "E301", "E302", "E303", "E304", "E306", "E405")
"""The codes a shape rule's error may have: those of the spec's parameters, inputs, shapes and dtypes."""
_SHOWN = 160  # characters of a plug-in's value or exception message in a diagnostic


# --------------------------------------------------------------------------------------------
# numbers and sizes
# --------------------------------------------------------------------------------------------


def whole(value: Any) -> int | None:
    """``value`` as a whole number (a numpy integer is one; a bool is not), else None."""
    if isinstance(value, bool):
        return None
    return guarded(lambda: int(operator.index(value)), lambda _: None)  # (whatever its __index__ raises: none)


def count_problem(number: int | None) -> str | None:
    """What keeps a count (``param_count``, ``buffer_count``, ``submodule_count``) from being one."""
    if number is None:
        return "a wrong value"
    if number < 0:
        return "a negative number"
    return "a number beyond 2**62, the compiler's bound on integers" if number > MAX_INT else None


def checked_dim(value: Any) -> tuple[Dim | None, str | None]:
    """``(dim, None)``: ``value`` as a dim of a shape or a FLOP count; ``(None, why)`` when it is none: a whole
    number in [0, 2**62], or an Expr rebuilt through the canonical arithmetic of
    :mod:`vibench.compiler.symbolic` (whole coefficients within 2**62, symbols that are identifiers, floor
    divisions by whole numbers >= 2) that is not negative for every size of its symbols."""
    if isinstance(value, Expr):
        rebuilt = guarded(lambda: _rebuilt_or_why(value),  # (a hand-made Expr whose parts do not compute)
                          lambda err: (None, f"an expression that does not rebuild ({exception_text(err)})"))
        if rebuilt[1] is not None:
            return rebuilt
        value = rebuilt[0]
        if isinstance(value, Expr):
            low, high = value.bounds({})
            return (None, "negative for every size of its symbols") if high < 0 else (value, None)
    number = whole(value)
    if number is None:
        return None, "not a whole number or a symbolic expression"
    if number < 0:
        return None, "negative"
    return (None, "beyond 2**62, the compiler's bound on integers") if number > MAX_INT else (number, None)


class _Malformed(ValueError):
    pass


def _rebuilt_or_why(e: Expr) -> tuple[Dim | None, str | None]:
    try:
        return _rebuilt(e), None
    except _Malformed as err:
        return None, str(err)


def _rebuilt(e: Expr) -> Dim:
    """``e`` computed again from its parts with Expr's arithmetic: its canonical form (an int when constant).
    Numerators first, with an explicit stack: a floor division nests as deep as symbolic's own bounds let it
    (:data:`~vibench.compiler.symbolic.MAX_EXPR_SIZE`; 65 pooling stages are legitimate), and those bounds
    (checked by the arithmetic itself, ExpressionTooLarge) are the only ones on what a plug-in returns."""
    done: dict[int, Dim] = {}  # id of an Expr of ``e`` -> its rebuilt form
    entered: set[int] = set()
    stack: list[tuple[Expr, bool]] = [(e, False)]
    while stack:
        expr, ready = stack.pop()
        if ready:
            done[id(expr)] = _sum(expr, done)
        elif id(expr) in entered:
            if id(expr) not in done:  # (only its own numerators are above it on the stack)
                raise _Malformed("an expression that holds itself")
        else:
            entered.add(id(expr))
            stack.append((expr, True))
            stack += [(atom.num, False) for atom in _atoms(expr) if isinstance(atom, FloorDiv)]
    return done[id(e)]


def _atoms(e: Any) -> list[Any]:
    """The factors of ``e``'s terms, each checked to be a symbol or a floor division of an Expr by a whole number
    in [2, 2**62] (``_Malformed`` if a part is not what Expr's arithmetic makes)."""
    if not isinstance(e, Expr) or not isinstance(e.terms, tuple):
        raise _Malformed("an expression whose terms are no tuple")
    atoms: list[Any] = []
    for term in e.terms:
        if not (isinstance(term, tuple) and len(term) == 2 and isinstance(term[0], tuple) and term[0]):
            raise _Malformed(f"an expression with the term {shown(term)}, not (atoms, coefficient)")
        for atom in term[0]:
            if isinstance(atom, str):
                if not (atom.isidentifier() and atom.isprintable()):
                    raise _Malformed(f"an expression with the symbol {shown(atom)}, not an identifier")
            elif not (isinstance(atom, FloorDiv) and isinstance(atom.num, Expr) and type(atom.den) is int
                      and 2 <= atom.den <= MAX_INT):
                raise _Malformed(f"an expression with the factor {shown(atom)}, not a symbol or a floor division")
        atoms += term[0]
    return atoms


def _sum(e: Expr, done: dict[int, Dim]) -> Dim:
    """``e``'s terms multiplied out and added up again (its floor divisions' numerators rebuilt in ``done``):
    the terms collected at once, as ``+`` would add them one by one (a sum of 10,000 terms stays linear)."""
    terms: dict[Any, int] = {}
    const = _coefficient(e.const)
    for atoms, coefficient in e.terms:
        value: Dim = _coefficient(coefficient)
        for atom in atoms:
            value = value * (Expr.symbol(atom) if isinstance(atom, str) else done[id(atom.num)] // atom.den)
        if isinstance(value, int):
            const += value
            continue
        for monomial, times in value.terms:
            terms[monomial] = terms.get(monomial, 0) + times
        const += value.const
    return Expr._make(terms, const)


def _coefficient(value: Any) -> int:
    if type(value) is not int:
        raise _Malformed(f"an expression with the coefficient {shown(value)}, not a whole number")
    if abs(value) > MAX_INT:
        raise _Malformed("an expression with a coefficient beyond 2**62, the compiler's bound on integers")
    return value


# --------------------------------------------------------------------------------------------
# code
# --------------------------------------------------------------------------------------------

# The constants model.py's code writes (flat_expressions). Not bytes: no block's code needs one, and the layout
# never writes a bytes literal (a plug-in's `ast.Constant(b'x')` was an internal error at `-o`).
_PLAIN = (type(None), bool, int, float, complex, str, type(Ellipsis))


def constant_problem(value: Any) -> str | None:
    """Why model.py cannot write ``value`` as a literal (None: it can): not a plain value (bytes included), a
    float or complex that is not finite (``nan`` would be a name, ``(inf+0j).real`` too), an integer beyond
    :data:`MAX_CONSTANT`."""
    if isinstance(value, bytes):
        return "a bytes value, which model.py's code never writes (its constants are None, bools, numbers, strings " \
            "and `...`)"
    if type(value) not in _PLAIN:
        return "not a plain value"
    if isinstance(value, float) and not math.isfinite(value):
        return "not a plain value (model.py would write it as a name)"
    if isinstance(value, complex) and not (math.isfinite(value.real) and math.isfinite(value.imag)):
        return "not a plain value (a part of it is not finite: model.py would write it as a name)"
    if type(value) is int and abs(value) > MAX_CONSTANT:
        return "beyond 2**64 in magnitude, more than any integer tensor holds"
    return None


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def unbound_reads(tree: ast.expr) -> list[ast.Name]:
    """The names ``tree`` reads that it does not bind itself, in the order :func:`code.walk` meets them.
    A comprehension binds its targets for its conditions, its later iterables and its element, not for its
    first iterable, which Python evaluates outside it (``[Scale for Scale in Scale(x)]`` reads the name
    ``Scale``); a lambda binds its parameters for its body, not for its defaults."""
    unbound: set[int] = set()
    stack: list[tuple[ast.AST, frozenset[str]]] = [(tree, frozenset())]
    while stack:
        node, bound = stack.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and node.id not in bound:
                unbound.add(id(node))
        elif isinstance(node, _COMPREHENSIONS):
            inner = bound
            for k, generator in enumerate(node.generators):
                stack.append((generator.iter, bound if k == 0 else inner))
                inner = inner | {n.id for n in c.walk(generator.target) if isinstance(n, ast.Name)}
                stack += [(part, inner) for part in (generator.target, *generator.ifs)]
            parts = (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)
            stack += [(part, inner) for part in parts]
        elif isinstance(node, ast.Lambda):
            arguments = node.args
            names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
            names += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
            stack += [(d, bound) for d in (*arguments.defaults, *arguments.kw_defaults) if d is not None]
            stack.append((node.body, bound | set(names)))
        else:
            stack += [(child, bound) for child in ast.iter_child_nodes(node)]
    return [n for n in c.walk(tree) if isinstance(n, ast.Name) and id(n) in unbound]


def class_bindings(tree: ast.ClassDef) -> dict[str, tuple[int, bool]]:
    """Each name the body of the class ``tree`` binds, as Python scopes it (a ``def``, an assignment, an import,
    a ``for``, ``with``, ``except`` or ``match`` target, a ``del``; inside an ``if`` or ``try`` too; not inside a
    function, a nested class, a lambda or a comprehension, which have scopes of their own) -> (how many
    statements bind it, whether that one is a ``def`` without decorators at the body's top level).

    >>> class_bindings(ast.parse("class A:\\n    k = 1\\n    def f(self): x = 2").body[0])
    {'f': (1, True), 'k': (1, False)}
    """
    found: dict[str, tuple[int, bool]] = {}

    def bind(name: str, plain_def: bool = False) -> None:
        count = found.get(name, (0, False))[0]
        found[name] = (count + 1, plain_def and not count)

    top = {id(node) for node in tree.body}
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bind(node.name, id(node) in top and not isinstance(node, ast.ClassDef) and not node.decorator_list)
            inner = {id(statement) for statement in node.body}  # its own scope; its decorators, defaults, bases: ours
            stack += [child for child in ast.iter_child_nodes(node) if id(child) not in inner]
            continue
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bind(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bind(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bind(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bind(node.rest)
        stack += ast.iter_child_nodes(node)
    return dict(sorted(found.items()))


def mangled(name: str, class_name: str) -> str:
    """``name`` bound in the body of class ``class_name`` as the class's namespace holds it (private names are
    mangled).

    >>> mangled("__scale", "_Gain"), mangled("__init__", "Gain")
    ('_Gain__scale', '__init__')
    """
    if not name.startswith("__") or name.endswith("__") or not class_name.strip("_"):
        return name
    return f"_{class_name.lstrip('_')}{name}"


# --------------------------------------------------------------------------------------------
# what infer raised
# --------------------------------------------------------------------------------------------


def shape_error_problem(err: Exception, ports: Collection[str], params: Collection[str]) -> str | None:
    """What makes a ShapeError a plug-in raised other than one ``ctx.fail`` makes (None: nothing): a code
    that is not one of :data:`SHAPE_CODES`, a message that is no text, ``expected``, ``found`` or ``hint``
    neither text nor None, ``notes`` not a tuple of texts, a ``port`` or ``param`` the block does not have."""
    # (a ShapeError of the plug-in's own making whose fields do not read, or do not compare)
    return guarded(lambda: _shape_error_problem(err, ports, params),
                   lambda failed: f"its fields do not read ({exception_text(failed)})")


def _shape_error_problem(err: Exception, ports: Collection[str], params: Collection[str]) -> str | None:
    code, message, notes = err.code, err.message, err.notes  # type: ignore[attr-defined]
    if not (isinstance(code, str) and code in SHAPE_CODES):
        return f"its code {shown(code)} is not one a shape rule reports ({', '.join(SHAPE_CODES)})"
    if not (isinstance(message, str) and message.strip()):
        return f"its message {shown(message)} is no text"
    for field in ("expected", "found", "hint"):
        value = getattr(err, field)
        if value is not None and not isinstance(value, str):
            return f"its `{field}` {shown(value)} is neither text nor None"
    if not (isinstance(notes, tuple | list) and all(isinstance(n, str) for n in notes)):
        return f"its `notes` {shown(notes)} is not a tuple of texts"
    for field, names, what in (("port", ports, "input port"), ("param", params, "parameter")):
        value = getattr(err, field)
        if value is not None and not (isinstance(value, str) and value in names):
            return f"its `{field}` {shown(value)} names no {what} of the block"
    return None


def need_problem(need: Exception, symbols: Collection[str]) -> str | None:
    """What makes a NeedConcrete a plug-in raised other than one ``ctx.concrete`` makes (None: nothing): its
    ``symbols`` a non-empty set of the symbols of the node's input shapes (``symbols``), its ``what`` text."""
    # (an exception of the plug-in's own making whose fields do not read, or do not compare)
    return guarded(lambda: _need_problem(need, symbols), lambda err: f"its fields do not read ({exception_text(err)})")


def _need_problem(need: Exception, symbols: Collection[str]) -> str | None:
    needed, what = need.symbols, need.what  # type: ignore[attr-defined]
    if not (isinstance(needed, set | frozenset) and needed and all(isinstance(s, str) for s in needed)):
        return f"its symbols {shown(needed)} are not a set of the input sizes' symbols"
    unknown = sorted(needed - set(symbols))
    if unknown:
        return f"it names the symbol {shown(unknown[0])}, which no input shape of the node holds"
    if not (isinstance(what, str) and what.strip()):
        return f"what it says needs them, {shown(what)}, is no text"
    return None


# --------------------------------------------------------------------------------------------
# words
# --------------------------------------------------------------------------------------------


def origin(block: Any) -> str:
    """The plug-in ``block`` comes from, as warnings W120 and W121 name it (```name = module`` (distribution
    NAME VERSION)``), or the module that defines it when no entry point brings that module."""
    cls = type(block)
    module = str(getattr(cls, "__module__", "?"))
    try:
        return _entry_point(cls, module) or f"the module `{module}` (registered by it, not through a `{GROUP}` " \
            "entry point)"
    except Exception:  # noqa: BLE001 - installed metadata that does not read: the module names it
        return f"the module `{module}`"


def _entry_point(cls: type, module: str) -> str | None:
    points = sorted(importlib.metadata.entry_points(group=GROUP),
                    key=lambda ep: (str(getattr(ep, "name", "")), str(getattr(ep, "value", ""))))
    for ep in points:
        target, _, attr = str(getattr(ep, "value", "")).partition(":")
        target, attr = target.strip(), attr.strip()
        if (module == target or module.startswith(target + ".")) and attr in ("", cls.__qualname__):
            dist = getattr(ep, "dist", None)
            name, version = getattr(dist, "name", None), getattr(dist, "version", None)
            distribution = f"{name} {version}" if name and version else name
            where = f"`{getattr(ep, 'name', '?')} = {getattr(ep, 'value', '?')}`"
            return f"the plug-in {where}" + (f" (distribution {distribution})" if distribution else "")
    return None


def exception_text(err: BaseException) -> str:
    """``Type: message`` of an exception, on one line and bounded (a plug-in's message is any text)."""
    text = guarded(lambda: str(err), lambda _: "(its message cannot be shown)")  # (its __str__ is the plug-in's)
    name = type(err).__name__
    return clip_text(f"{name}: {text}" if text else name)


def digits(number: int) -> str:
    """An integer for a message: itself, or how many digits it has when it is too long to read (Python
    refuses to write one of more than 4,300 digits)."""
    if abs(number) < 10**40:
        return str(number)
    return f"an integer of {math.floor(math.log10(abs(number))) + 1:,} digits"


class _Repr(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        return f"<{digits(x)}>" if abs(x) >= 10**40 else super().repr_int(x, level)

    def repr_instance(self, x: Any, level: int) -> str:
        """``repr(x)`` cut in the middle, or ``x`` named by its type when its ``__repr__`` raises (reprlib's own
        catches an Exception only, and writes the object's address, which changes from run to run)."""
        text = guarded(lambda: builtins.repr(x), lambda _: f"a {type(x).__name__}")
        if len(text) > self.maxother:
            head = max(0, (self.maxother - 3) // 2)
            text = text[:head] + "..." + text[len(text) - max(0, self.maxother - 3 - head):]
        return text


_REPR = _Repr()
_REPR.maxstring = _REPR.maxother = 120
_REPR.maxlevel = 3


def shown(value: Any) -> str:
    """A plug-in's value for a message: its repr, bounded (``reprlib``: a long list or text is cut), or its type
    when the repr raises (the plug-in's ``__repr__``, or the ``__iter__`` of a list of its own making)."""
    return clip_text(guarded(lambda: _REPR.repr(value), lambda _: f"a {type(value).__name__}"))


def clip_text(text: str) -> str:
    """``text`` cut for a diagnostic (:data:`_SHOWN` characters)."""
    return clip(text, _SHOWN)
