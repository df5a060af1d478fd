"""Sandboxed ``${...}`` expressions.

A spec value may contain ``${expr}``: a value that is exactly one ``${expr}`` takes the expression's
value (an int stays an int), any other string is interpolated. ``$${`` writes a literal ``${``.

Expressions use a small, Python-like language, parsed with :mod:`ast` but *never* compiled or
passed to ``eval``; this module walks the tree itself and accepts only:

* literals (numbers, strings, booleans, None), lists and tuples, list comprehensions;
* names bound by the spec: parameters, ``i`` (the copy index inside ``repeat``) and dimension
  symbols whose value is known at compile time;
* arithmetic ``+ - * / // % **``, comparisons, ``and or not``, ``a if c else b``, indexing and slicing;
* calls of the functions in :data:`FUNCTIONS` (no attributes, no keyword arguments, no imports):
  numeric helpers, ``get(mapping, key, default)``, ``keys``, ``omit(mapping, *keys)``,
  ``merge(mapping, ...)``, ``dict(pairs)``, the type tests of :data:`PREDICATES` (``is_mapping``...),
  ``all``/``any`` and ``require(condition, message)``, which fails the compile with the spec
  author's message when the condition is false.

Every evaluation is bounded, so no expression can hang the compiler or exhaust memory, and no
``MemoryError`` or ``RecursionError`` escapes:

* syntax: at most :data:`MAX_EXPR_CHARS` characters and :data:`MAX_NESTING` levels of nesting;
* values: integers up to :data:`MAX_INT` in magnitude, strings and lists up to :data:`MAX_LEN`
  elements, nested values up to :data:`MAX_VALUE_DEPTH` levels;
* work: every operation costs a step and every value it creates costs its size (a list counts its
  elements, deeply; a string one cell per 64 characters); one expression may take
  :data:`MAX_STEPS`, and all expressions of one compilation together :data:`MAX_TOTAL_STEPS`
  (see :func:`budget`). Operations whose cost is not linear in their inputs (``%`` formatting of
  strings, ``round`` to huge precisions, ``sum`` of lists) are refused or made linear.

Failures raise :class:`ExprError` with the offending text.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import keyword
import math
import operator
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeGuard

from vibench.compiler.diagnostics import suggest
from vibench.compiler.ir import Pos, Template
from vibench.compiler.symbolic import NeedConcrete

MAX_INT = 2**62
MAX_LEN = 100_000
MAX_STEPS = 100_000  # one expression
MAX_TOTAL_STEPS = 1_000_000  # every expression of one compilation together (10 per allowed node)
MAX_EXPR_CHARS = 2_000
MAX_NESTING = 100  # levels of the expression's syntax tree
MAX_VALUE_DEPTH = 64  # levels of nested lists and mappings in a value (as in a spec file)


class ExprError(Exception):
    """An expression that cannot be parsed (``syntax=True``) or evaluated."""

    def __init__(self, message: str, text: str = "", *, syntax: bool = False, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.syntax = syntax
        self.hint = hint


class _Budget:
    """Steps left to the expressions of one compilation."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.limit = limit


_BUDGET: ContextVar[_Budget | None] = ContextVar("vibench_expression_budget", default=None)


@contextlib.contextmanager
def budget(steps: int = MAX_TOTAL_STEPS) -> Iterator[None]:
    """Share one budget of ``steps`` among every expression evaluated inside (one compilation).

    Without it each expression is bounded on its own (:data:`MAX_STEPS`); with it, a spec of many
    expensive expressions (or one expression copied by ``repeat``) also stops, at the expression
    that exhausts the budget.
    """
    token = _BUDGET.set(_Budget(steps))
    try:
        yield
    finally:
        _BUDGET.reset(token)


class Unknown:
    """A name that exists but has no compile-time value (e.g. a dimension bound to ``L // 2``).

    When ``symbol`` is set, reading the name raises :class:`NeedConcrete` instead of failing: the
    shapes pass then specialises again with that dimension known, if the caller knows it.
    """

    def __init__(self, why: str, symbol: str | None = None) -> None:
        self.why = why
        self.symbol = symbol




def _range(*args: Any) -> list[int]:
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in args) or not 1 <= len(args) <= 3:
        raise ExprError("range() takes one to three integers")
    r = range(*args)
    if len(r) > MAX_LEN:
        raise ExprError(f"range() of {len(r):,} values is too long (limit {MAX_LEN:,})")
    return list(r)


def _get(mapping: Any, key: Any, default: Any = None) -> Any:
    if not isinstance(mapping, dict):
        raise ExprError(f"get() takes a mapping, found {type(mapping).__name__}")
    return mapping.get(key, default)


def _keys(mapping: Any) -> list:
    if not isinstance(mapping, dict):
        raise ExprError(f"keys() takes a mapping, found {type(mapping).__name__}")
    return list(mapping)


def _omit(mapping: Any, *names: Any) -> dict:
    if not isinstance(mapping, dict):
        raise ExprError(f"omit() takes a mapping, found {type(mapping).__name__}")
    return {k: v for k, v in mapping.items() if k not in names}


def _dict(pairs: Any) -> dict:
    if not isinstance(pairs, list | tuple) or not all(isinstance(p, list | tuple) and len(p) == 2 for p in pairs):
        raise ExprError("dict() takes a list of [key, value] pairs")
    if not all(isinstance(p[0], str | int) and not isinstance(p[0], bool) for p in pairs):
        raise ExprError("dict() keys must be strings or integers")
    return {k: v for k, v in pairs}


def _require(condition: Any, message: Any = "a requirement of the spec is not met") -> bool:
    if not condition:
        text = str(message)
        raise ExprError(text if len(text) <= 500 else text[:500] + "...")
    return True


def _merge(*mappings: Any) -> dict:
    """The union of mappings; a later one wins on a shared key (``merge(defaults, given)``)."""
    out: dict = {}
    for m in mappings:
        if not isinstance(m, dict):
            raise ExprError(f"merge() takes mappings, found {type(m).__name__}")
        out.update(m)
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


PREDICATES: dict[str, Callable[[Any], bool]] = {
    "is_mapping": lambda x: isinstance(x, dict),
    "is_list": lambda x: isinstance(x, list | tuple),
    "is_int": _is_int,
    "is_number": _is_number,
    "is_str": lambda x: isinstance(x, str),
    "is_bool": lambda x: isinstance(x, bool),
    "is_none": lambda x: x is None,
}
"""Type tests: ``is_mapping(num_classes)`` instead of ``str(num_classes)[:1] == '{'``. ``true`` is
not an int and not a number (as for parameters)."""


def _round(x: Any, ndigits: Any = None) -> Any:
    if ndigits is not None and (isinstance(ndigits, bool) or not isinstance(ndigits, int) or abs(ndigits) > 64):
        raise ExprError(f"round() takes at most 64 digits, found {str(ndigits)[:20]}")
    return round(x, ndigits)


def _sum(values: Any, start: Any = 0) -> Any:
    """sum() in linear time: lists and tuples are concatenated once, not pairwise."""
    if not isinstance(values, list | tuple):
        raise ExprError(f"sum() takes a list, found {type(values).__name__}")
    if isinstance(start, list | tuple):
        out = list(start)
        for v in values:
            if not isinstance(v, type(start)):
                raise ExprError(f"sum() of {type(start).__name__}s met a {type(v).__name__}")
            out.extend(v)
            if len(out) > MAX_LEN:
                raise ExprError(f"sum() gives more than {MAX_LEN:,} values")
        return out if isinstance(start, list) else tuple(out)
    return sum(values, start)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "get": _get,
    "keys": _keys,
    "omit": _omit,
    "merge": _merge,
    "dict": _dict,
    "require": _require,
    "all": all,
    "any": any,
    "min": min,
    "max": max,
    "abs": abs,
    "len": len,
    "int": int,
    "float": float,
    "round": _round,
    "sum": _sum,
    "bool": bool,
    "str": str,
    "list": list,
    "range": _range,
    "ceil": math.ceil,
    "floor": math.floor,
    "log2": math.log2,
    "sqrt": math.sqrt,
    **PREDICATES,
}
"""The only callables an expression may use."""

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: lambda a, b: a is b if b is None or a is None else a == b,  # `x is None`; never object identity
    ast.IsNot: lambda a, b: a is not b if b is None or a is None else a != b,
}


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def has_template(value: str) -> bool:
    return "${" in value


_PARSED: dict[str, tuple | str] = {}  # template text -> its parts (specs and aliases repeat templates)


def parse_template(text: str, pos: Pos | None) -> Template | str:
    """Split a string into literal parts and parsed ``${...}`` expressions (ExprError on bad syntax)."""
    parts = _PARSED.get(text)
    if parts is None:
        parts = _split_template(text)
        if len(_PARSED) > 50_000:
            _PARSED.clear()
        _PARSED[text] = parts
    return parts if isinstance(parts, str) else Template(text, parts, pos)


def _split_template(text: str) -> tuple | str:
    parts: list[Any] = []
    buf: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("$${", i):
            buf.append("${")
            i += 3
            continue
        if text.startswith("${", i):
            end = _matching_brace(text, i + 2)
            if end < 0:
                raise ExprError("unclosed `${` (missing `}`)", text, syntax=True)
            source = text[i + 2 : end].strip()
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(parse_expression(source))
            i = end + 1
            continue
        buf.append(text[i])
        i += 1
    if buf:
        parts.append("".join(buf))
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)
    return tuple(parts)


def _matching_brace(text: str, start: int) -> int:
    depth = 0
    quote = ""
    for j in range(start, len(text)):
        ch = text[j]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "{[(":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "}":
            if depth == 0:
                return j
            depth -= 1
    return -1


def parse_expression(source: str) -> ast.expr:
    if not source:
        raise ExprError("empty expression `${}`", source, syntax=True)
    if len(source) > MAX_EXPR_CHARS:
        raise ExprError(f"expression longer than {MAX_EXPR_CHARS} characters", source[:60] + "...", syntax=True)
    try:
        with warnings.catch_warnings():  # `${1x}`: Python's SyntaxWarning must not reach the user's terminal
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        detail = getattr(err, "msg", None) or str(err) or type(err).__name__
        raise ExprError(f"invalid expression: {detail}", source, syntax=True) from None
    _check_allowed(tree.body, source)
    return tree.body


_ALLOWED_NODES = (
    ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript,
    ast.Slice, ast.List, ast.Tuple, ast.Call, ast.ListComp, ast.comprehension, ast.Load, ast.Store,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)


def _check_allowed(node: ast.AST, source: str) -> None:
    stack = [(node, 1)]
    while stack:
        sub, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ExprError(f"expression nests deeper than {MAX_NESTING} levels", source[:60], syntax=True,
                            hint="split it into parameters with their own expressions")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(sub))
        if not isinstance(sub, _ALLOWED_NODES):
            what = type(sub).__name__
            hint = "attribute access is not allowed in spec expressions" if isinstance(sub, ast.Attribute) else None
            raise ExprError(f"`{what}` is not allowed", source, syntax=True,
                            hint=hint or "spec expressions take names, literals, operators and allowed calls")
        if isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Attribute):
                raise ExprError(f"attribute access (`{ast.unparse(sub.func)}`) is not allowed", source, syntax=True,
                                hint=f"call one of the allowed functions instead: {', '.join(sorted(FUNCTIONS))}")
            if not isinstance(sub.func, ast.Name) or sub.func.id not in FUNCTIONS:
                name = sub.func.id if isinstance(sub.func, ast.Name) else ast.unparse(sub.func)
                raise ExprError(f"call of `{name}` is not allowed", source, syntax=True,
                                hint=f"allowed functions: {', '.join(sorted(FUNCTIONS))}")
            if sub.keywords:
                raise ExprError("keyword arguments are not allowed", source, syntax=True,
                                hint="pass the arguments by position")
        if isinstance(sub, ast.Constant) and not isinstance(sub.value, (int, float, str, bool, type(None))):
            raise ExprError(f"literal {sub.value!r} is not allowed", source, syntax=True)
        if isinstance(sub, ast.comprehension) and (sub.is_async or not isinstance(sub.target, ast.Name)):
            raise ExprError("comprehensions take one plain loop variable", source, syntax=True)
        if isinstance(sub, ast.Name) and sub.id.startswith("__"):
            raise ExprError(f"name `{sub.id}` is not allowed", source, syntax=True)


def parse_value(value: Any, pos: Pos | None) -> Any:
    """Replace every string with ``${...}`` in a (nested) value by a Template."""
    if isinstance(value, str):
        return parse_template(value, pos) if has_template(value) else value
    if isinstance(value, list):
        return [parse_value(v, pos) for v in value]
    if isinstance(value, dict):
        return {k: parse_value(v, pos) for k, v in value.items()}
    return value


def bare_name(value: Any) -> str | None:
    """``value`` when it is a plain name such as ``channels``: in a field that takes no text, the name
    of a parameter, ``let`` or loop variable in scope reads its value (``out_channels: channels`` is
    ``out_channels: "${channels}"``), as a name does in a shape."""
    if isinstance(value, str) and value.isidentifier() and not keyword.iskeyword(value) and not value.startswith("__"):
        return value
    return None


def name_template(name: str, pos: Pos | None) -> Template:
    """The template a plain name stands for (``channels`` -> ``${channels}``)."""
    return Template("${" + name + "}", (_name_node(name),), pos)


def written_name(name: str, pos: Pos | None) -> Template:
    """A plain name where a template may stand, before the names pass knows whether it reads anything
    (its text is the name itself, not ``${name}``: see :func:`is_written_name`)."""
    return Template(name, (_name_node(name),), pos)


def is_written_name(value: Any) -> TypeGuard[Template]:
    return isinstance(value, Template) and "${" not in value.text


@functools.lru_cache(maxsize=4096)
def _name_node(name: str) -> ast.expr:
    return ast.Name(id=name, ctx=ast.Load())


def contains_template(value: Any) -> bool:
    if isinstance(value, Template):
        return True
    if isinstance(value, list):
        return any(contains_template(v) for v in value)
    if isinstance(value, dict):
        return any(contains_template(v) for v in value.values())
    return False


_NO_NAMES: frozenset[str] = frozenset()
_NAMES: dict[str, frozenset[str]] = {}  # template text -> the names it reads (specs repeat templates)


def template_names(value: Any) -> frozenset[str]:
    """Every name a (nested) value's templates read."""
    if isinstance(value, Template):
        names = _NAMES.get(value.text)
        if names is None:
            found: set[str] = set()
            for part in value.parts:
                if not isinstance(part, str):
                    bound = {g.target.id for n in ast.walk(part) if isinstance(n, ast.ListComp)
                             for g in n.generators if isinstance(g.target, ast.Name)}
                    found |= {n.id for n in ast.walk(part) if isinstance(n, ast.Name) and n.id not in bound}
            if len(_NAMES) > 50_000:
                _NAMES.clear()
            names = _NAMES[value.text] = frozenset(found)
        return names
    if isinstance(value, list):
        return frozenset().union(*(template_names(v) for v in value)) if value else _NO_NAMES
    if isinstance(value, dict):
        return frozenset().union(*(template_names(v) for v in value.values())) if value else _NO_NAMES
    return _NO_NAMES


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


def evaluate_value(value: Any, env: dict[str, Any]) -> Any:
    """Evaluate every Template inside a (nested) value."""
    if isinstance(value, Template):
        return evaluate_template(value, env)
    if isinstance(value, list):
        return [evaluate_value(v, env) for v in value]
    if isinstance(value, dict):
        return {k: evaluate_value(v, env) for k, v in value.items()}
    return value


def evaluate_template(t: Template, env: dict[str, Any]) -> Any:
    if t.whole:
        return _Evaluator(env, t.text).run(t.expr)
    out = []
    length = 0
    for part in t.parts:
        if isinstance(part, str):
            out.append(part)
        else:
            v = _Evaluator(env, t.text).run(part)
            out.append(v if isinstance(v, str) else _to_text(v))
        length += len(out[-1])
        if length > MAX_LEN:
            raise ExprError("interpolated string is too long", t.text[:200])
    return "".join(out)


def _to_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_SCALARS = frozenset({int, float, bool, type(None)})


class _Evaluator:
    def __init__(self, env: dict[str, Any], text: str) -> None:
        self.env = env
        self.text = text
        self.steps = 0
        self.shared = _BUDGET.get()
        self.limit = MAX_STEPS if self.shared is None else min(MAX_STEPS, self.shared.left)

    def fail(self, message: str, hint: str | None = None) -> ExprError:
        return ExprError(message, self.text[:200], hint=hint)

    def run(self, node: ast.expr) -> Any:
        try:
            return self.eval(node, {})
        except ExprError:
            raise
        except RecursionError:
            raise self.fail("expression nests too deeply") from None
        except MemoryError:
            raise self.fail("expression needs too much memory") from None
        except ZeroDivisionError:
            raise self.fail("division by zero") from None
        except (TypeError, ValueError, IndexError, KeyError, OverflowError) as err:
            raise self.fail(f"{type(err).__name__}: {str(err)[:200]}") from None
        finally:
            if self.shared is not None:
                self.shared.left -= min(self.steps, self.shared.left)

    def spend(self, steps: int) -> None:
        self.steps += steps
        if self.steps > self.limit:
            if self.shared is not None and self.limit < MAX_STEPS:
                raise self.fail(f"the spec's expressions together take too many steps (limit "
                                f"{self.shared.limit:,} per compilation)",
                                hint="a `repeat` or many copies evaluate this expression again and again; "
                                "compute large values once, in a parameter")
            raise self.fail(f"expression takes too many steps to evaluate (limit {MAX_STEPS:,})",
                            hint="expressions compute parameters; large lists and strings are not needed")

    def charge(self, value: Any) -> None:
        """Spend a value's size (lists and mappings counted deeply; refuses values nested too deeply)."""
        if not isinstance(value, list | tuple | dict | str):
            self.spend(1)
            return
        left = self.limit - self.steps
        total = 0
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            v, depth = stack.pop()
            total += 1
            if isinstance(v, str):
                total += len(v) >> 6
            elif isinstance(v, list | tuple | dict):
                if depth > MAX_VALUE_DEPTH:
                    raise self.fail(f"value nests deeper than {MAX_VALUE_DEPTH} levels")
                items = list(v.items()) if isinstance(v, dict) else v
                stack.extend((item, depth + 1) for item in items)
            if total > left:
                break
        self.spend(total)

    def check(self, value: Any) -> Any:
        kind = type(value)
        if kind is int or kind is float or kind is bool or value is None:  # the common case, kept cheap
            if kind is int and not -MAX_INT <= value <= MAX_INT:
                raise self.fail(f"integer {str(value)[:20]}... is too large")
            self.steps += 1
            return value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise self.fail(f"integer {str(value)[:20]}... is too large")
        if isinstance(value, (str, list, tuple)) and len(value) > MAX_LEN:
            raise self.fail(f"value of length {len(value):,} is too long (limit {MAX_LEN:,})")
        self.charge(value)
        return value

    def eval(self, node: ast.expr, local: dict[str, Any]) -> Any:
        self.steps += 1
        if self.steps > self.limit:
            self.spend(0)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.name(node.id, local)
        if isinstance(node, ast.BinOp):
            left = self.eval(node.left, local)
            right = self.eval(node.right, local)
            if isinstance(node.op, ast.Pow):
                self.check_pow(left, right)
            if isinstance(node.op, ast.Mult):
                self.check_repeat(left, right)
            if isinstance(node.op, ast.Div) and isinstance(left, bool | int | float) and right == 0:
                raise self.fail("division by zero")
            if isinstance(node.op, ast.Mod) and isinstance(left, str):
                raise self.fail("`%` formatting of strings is not allowed", hint="build the text with str() and +")
            if isinstance(node.op, ast.Add | ast.Mult):
                self.charge_operands(left, right)
            return self.check(_BINOPS[type(node.op)](left, right))
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand, local)
            if isinstance(node.op, ast.Not):
                return not v
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.UAdd):
                return +v
            raise self.fail("`~` is not allowed")
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for v in node.values:
                    result = self.eval(v, local)
                    if not result:
                        return result
                return result
            result = False
            for v in node.values:
                result = self.eval(v, local)
                if result:
                    return result
            return result
        if isinstance(node, ast.Compare):
            left = self.eval(node.left, local)
            for op, comp in zip(node.ops, node.comparators, strict=False):
                right = self.eval(comp, local)
                if isinstance(op, ast.In | ast.NotIn) and isinstance(right, dict):
                    self.charge_operands(left, None)  # a key lookup reads only the key
                else:
                    self.charge_operands(left, right)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.eval(node.body if self.eval(node.test, local) else node.orelse, local)
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value, local)
            if isinstance(node.slice, ast.Slice):
                s = node.slice
                lo = self.eval(s.lower, local) if s.lower else None
                hi = self.eval(s.upper, local) if s.upper else None
                st = self.eval(s.step, local) if s.step else None
                return self.check(base[lo:hi:st])
            index = self.eval(node.slice, local)
            if isinstance(base, dict):
                if index not in base:
                    raise self.fail(f"key {repr(index)[:60]} not found", hint=suggest(str(index), map(str, base)))
                return base[index]
            if not isinstance(base, (list, tuple, str)):
                raise self.fail(f"cannot index a {type(base).__name__}")
            if not isinstance(index, int):
                raise self.fail(f"list index must be an integer, found {repr(index)[:60]}")
            if not -len(base) <= index < len(base):
                raise self.fail(f"index {index} is out of range for a list of length {len(base)}")
            return base[index]
        if isinstance(node, ast.List | ast.Tuple):
            return self.check([self.eval(e, local) for e in node.elts])
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            fn = FUNCTIONS[node.func.id]
            args = [self.eval(a, local) for a in node.args]
            for a in args:
                if isinstance(a, list | tuple | dict | str):
                    self.charge(a)  # what the function reads
            try:
                return self.check(fn(*args))
            except ExprError as err:  # a function's own message (require's is the spec author's)
                raise self.fail(err.message, err.hint) from None
        if isinstance(node, ast.ListComp):
            return self.check(self.comprehension(node, 0, dict(local)))
        raise self.fail(f"`{type(node).__name__}` is not allowed")  # pragma: no cover - parse rejects it

    def charge_operands(self, left: Any, right: Any) -> None:
        """Spend the size of containers an operator reads (comparing or concatenating them)."""
        if type(left) in _SCALARS and type(right) in _SCALARS:
            return
        for v in (left, right):
            if isinstance(v, list | tuple | dict):
                self.charge(v)
            elif isinstance(v, str):
                self.spend(1 + (len(v) >> 6))

    def comprehension(self, node: ast.ListComp, k: int, local: dict[str, Any]) -> list:
        if k == len(node.generators):
            return [self.eval(node.elt, local)]
        gen = node.generators[k]
        out: list = []
        for item in self.eval(gen.iter, local):
            assert isinstance(gen.target, ast.Name)
            local[gen.target.id] = item
            if all(self.eval(cond, local) for cond in gen.ifs):
                out.extend(self.comprehension(node, k + 1, local))
                if len(out) > MAX_LEN:
                    raise self.fail("comprehension result is too long")
        return out

    def name(self, name: str, local: dict[str, Any]) -> Any:
        if name in local:
            return local[name]
        if name in self.env:
            value = self.env[name]
            if isinstance(value, Unknown):
                if value.symbol is not None:
                    raise NeedConcrete(frozenset({value.symbol}), f"the expression `{self.text}`")
                raise self.fail(f"`{name}` is not known at compile time: {value.why}",
                                hint="use a number or a parameter here, or bind the dimension with --input")
            return value
        if name in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[name]
        raise self.fail(f"unknown name `{name}`", hint=suggest(name, list(self.env)) or _known(self.env))

    def check_pow(self, base: Any, exp: Any) -> None:
        if isinstance(exp, int | float) and abs(exp) > 256:
            raise self.fail(f"exponent {exp} is too large")
        if isinstance(base, int | float) and isinstance(exp, int | float) and abs(base) > 1 and exp > 0:
            if exp * math.log2(abs(base)) > 62:
                raise self.fail(f"{base} ** {exp} is too large")

    def check_repeat(self, a: Any, b: Any) -> None:
        for seq, times in ((a, b), (b, a)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * max(times, 0) > MAX_LEN:
                raise self.fail("repeated value is too long")


def _known(env: dict[str, Any]) -> str | None:
    names = sorted(k for k in env if not k.startswith("_"))
    if not names:
        return None
    shown = ", ".join(f"`{n}`" for n in names[:10])
    return f"names defined here: {shown}" + (" ..." if len(names) > 10 else "")
