"""Evaluating parsed ``${...}`` templates in a sandbox (see :mod:`vibench.compiler.expr`).

:class:`_Evaluator` walks the syntax tree itself (nothing is compiled or passed to ``eval``), counting
steps against :data:`~vibench.compiler.expr_functions.MAX_STEPS` and the compilation's shared
:func:`budget` (:mod:`vibench.compiler.expr_budget`, re-exported here), and checking every value it creates
against the bounds of :mod:`vibench.compiler.expr_functions`. A name bound to an :class:`Unknown` has no
compile-time value.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from vibench.compiler.diagnostics import clip, suggest
from vibench.compiler.expr_budget import BUDGET, budget_hint
from vibench.compiler.expr_budget import budget as budget  # re-exported: expr.py imports it here
from vibench.compiler.expr_functions import (
    FUNCTIONS,
    MAX_INT,
    MAX_LEN,
    MAX_STEPS,
    MAX_VALUE_DEPTH,
    ExprError,
)
from vibench.compiler.ir import Template
from vibench.compiler.symbolic_errors import NeedConcrete


class Unknown:
    """A name that exists but has no compile-time value (e.g. a dimension bound to ``L // 2``).

    When ``symbol`` is set, reading the name raises :class:`NeedConcrete` instead of failing: the
    shapes pass then specialises again with that dimension known, if the caller knows it.
    """

    def __init__(self, why: str, symbol: str | None = None) -> None:
        self.why = why
        self.symbol = symbol


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
# Evaluation
# --------------------------------------------------------------------------------------------


def evaluate_value(value: Any, env: Mapping[str, Any]) -> Any:
    """Evaluate every Template inside a (nested) value (an ExprError says which one failed: its ``pos``)."""
    if isinstance(value, Template):
        try:
            return evaluate_template(value, env)
        except ExprError as err:
            err.pos = err.pos or value.pos
            raise
    if isinstance(value, list):
        return [evaluate_value(v, env) for v in value]
    if isinstance(value, dict):
        return {k: evaluate_value(v, env) for k, v in value.items()}
    return value


def evaluate_template(t: Template, env: Mapping[str, Any]) -> Any:
    return _Evaluator(env, t.text).run(t.expr if t.whole else t.parts)


def _to_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_SCALARS = frozenset({int, float, bool, type(None)})


class _Evaluator:
    def __init__(self, env: Mapping[str, Any], text: str) -> None:
        self.env = env
        self.text = text
        self.steps = 0
        self.shared = BUDGET.get()
        self.limit = MAX_STEPS if self.shared is None else min(MAX_STEPS, self.shared.left)

    def fail(self, message: str, hint: str | None = None) -> ExprError:
        return ExprError(message, self.text[:200], hint=hint)

    def run(self, what: ast.expr | tuple[str | ast.expr, ...]) -> Any:
        """The value of an expression, or the text of a template's parts (literal text and expressions)."""
        try:
            return self.eval(what, {}) if isinstance(what, ast.expr) else self.interpolate(what)
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

    def interpolate(self, parts: tuple[str | ast.expr, ...]) -> str:
        """The text of ``"a${x}b${y}"``, charged as ``+`` charges the text it builds: a step per 64 characters
        (``"${s}${s}"`` cost one step at any length, and ten thousand of them built a gigabyte)."""
        out = []
        length = 0
        for part in parts:
            if isinstance(part, str):
                text = part
            else:
                v = self.eval(part, {})
                text = v if isinstance(v, str) else _to_text(v)
            length += len(text)
            if length > MAX_LEN:
                raise self.fail("interpolated string is too long")
            self.spend(1 + (len(text) >> 6))
            out.append(text)
        return "".join(out)

    def spend(self, steps: int) -> None:
        self.steps += steps
        if self.steps > self.limit:
            if self.shared is not None and self.limit < MAX_STEPS:  # ("... per compilation)": blame, --list)
                raise self.fail(f"the spec's expressions together take too many steps (limit "
                                f"{self.shared.limit:,} per compilation)", hint=budget_hint(self.shared))
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

    def too_large(self, value: int) -> ExprError:
        """The error for an integer beyond :data:`MAX_INT` in magnitude, wherever the expression made it."""
        digits = str(value)
        shown = digits if len(digits) <= 24 else digits[:20] + "..."
        return self.fail(f"integer {shown} is too large (at most 2**62 in magnitude)",
                         hint="expressions compute sizes and counts; none comes near 2**62")

    def bounded(self, value: Any) -> Any:
        """``value``, refused when it is an integer beyond :data:`MAX_INT` in magnitude: every integer an
        expression produces (a literal, a negation, an operator's or a function's result) meets one bound."""
        if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT <= value <= MAX_INT:
            raise self.too_large(value)
        return value

    def check(self, value: Any) -> Any:
        kind = type(value)
        if kind is int or kind is float or kind is bool or value is None:  # the common case, kept cheap
            if kind is int and not -MAX_INT <= value <= MAX_INT:
                raise self.too_large(value)
            self.steps += 1
            return value
        self.bounded(value)  # an int subclass
        if isinstance(value, (str, list, tuple)) and len(value) > MAX_LEN:
            raise self.fail(f"value of length {len(value):,} is too long (limit {MAX_LEN:,})")
        self.charge(value)
        return value

    def eval(self, node: ast.expr, local: dict[str, Any]) -> Any:
        self.steps += 1
        if self.steps > self.limit:
            self.spend(0)
        if isinstance(node, ast.Constant):  # `9223372036854775808` is too large as written, not only once used
            return self.bounded(node.value)
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
                return self.bounded(-v)
            if isinstance(node.op, ast.UAdd):
                return self.bounded(+v)
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
                    raise self.fail(f"key {clip(repr(index), 60)} not found", hint=suggest(str(index), map(str, base)))
                return base[index]
            if not isinstance(base, (list, tuple, str)):
                kind = type(base).__name__
                what = "null" if base is None else f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"  # not `a int`
                raise self.fail(f"cannot index {what}")
            if not isinstance(index, int):
                raise self.fail(f"list index must be an integer, found {clip(repr(index), 60)}")
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
                                hint="use a number or a parameter here, or bind the dimension "
                                     "(--input; in Python, inputs=)")
            return value
        if name in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[name]
        raise self.fail(f"unknown name `{name}`", hint=suggest(name, list(self.env)) or _known(self.env))

    def check_pow(self, base: Any, exp: Any) -> None:
        if isinstance(exp, int | float) and abs(exp) > 256:
            raise self.fail(f"exponent {exp} is too large")
        if isinstance(base, int | float) and base < 0 and isinstance(exp, float) and not exp.is_integer():
            raise self.fail(f"({base}) ** {exp:g} has no real value (a negative number to a fractional power)")
        if isinstance(base, int | float) and isinstance(exp, int | float) and abs(base) > 1 and exp > 0:
            if exp * math.log2(abs(base)) > 62:
                raise self.fail(f"{base} ** {exp} is too large")

    def check_repeat(self, a: Any, b: Any) -> None:
        for seq, times in ((a, b), (b, a)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * max(times, 0) > MAX_LEN:
                raise self.fail("repeated value is too long")


def _known(env: Mapping[str, Any]) -> str | None:
    names = sorted(k for k in env if not k.startswith("_"))
    if not names:
        return None
    shown = ", ".join(f"`{n}`" for n in names[:10])
    return f"names defined here: {shown}" + (" ..." if len(names) > 10 else "")
