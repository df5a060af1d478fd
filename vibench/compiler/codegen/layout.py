"""Laying out code nodes as text that ``ruff format`` leaves unchanged (line length 120).

Expressions are printed flat (:func:`flat`) with Python's precedence and ruff's spacing; a line
that does not fit is split the way ruff (and black) split it: at the last bracket pair, its
contents on one indented line when they fit, else one item per line with a trailing comma, each
item split again as needed (:func:`split`). Strings are written by :func:`string` (the one
escaping path for text in code); a string too long for its line becomes an implicit
concatenation in parentheses; comments and docstrings are cleaned of line breaks and control
characters by :func:`comment_text` and :func:`docstring`.

``tests/test_codegen_layout.py`` checks the output against ``ruff format`` on generated trees.

>>> from vibench.compiler.codegen import code as c
>>> flat(c.binop(c.ref("a"), "**", 2))
'a**2'
>>> print("\\n".join(split("self.head = ", c.call("nn.Linear", 4096, 10), "", indent=100)))
self.head = nn.Linear(
    4096, 10
)
"""

from __future__ import annotations

import ast

from vibench.compiler.codegen.text import WIDTH, comment_lines, comment_text, docstring, long_string, string

__all__ = ["WIDTH", "comment_lines", "comment_text", "docstring", "flat", "split", "string"]

# Precedence, lowest first (Python's grammar); a child weaker than its context is parenthesised.
_TERNARY, _OR, _AND, _NOT, _CMP, _BOR, _BXOR, _BAND, _SHIFT, _ARITH, _TERM, _UNARY, _POW, _ATOM = range(14)
_BINOP_TEXT = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
_BINOP_PREC = {
    ast.Add: _ARITH,
    ast.Sub: _ARITH,
    ast.Mult: _TERM,
    ast.Div: _TERM,
    ast.FloorDiv: _TERM,
    ast.Mod: _TERM,
    ast.MatMult: _TERM,
    ast.Pow: _POW,
    ast.BitOr: _BOR,
    ast.BitAnd: _BAND,
    ast.BitXor: _BXOR,
    ast.LShift: _SHIFT,
    ast.RShift: _SHIFT,
}
_CMP_TEXT = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


# --------------------------------------------------------------------------------------------
# flat expressions
# --------------------------------------------------------------------------------------------


def flat(e: ast.expr) -> str:
    """One-line source of an expression, spaced as ruff spaces it."""
    return _flat(e, _TERNARY)


def _number(value: int | float | complex) -> str:
    """A number as ruff format writes it: ``repr``, less the ``+`` of a positive exponent.

    >>> _number(1e16), _number(1.5e-05), _number(-1e308), _number(3)
    ('1e16', '1.5e-05', '-1e308', '3')
    """
    text = repr(value)
    return text.replace("e+", "e") if isinstance(value, float | complex) else text


_ATOMS = frozenset({ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.ListComp})


def _prec(e: ast.expr) -> int:
    if e.__class__ in _ATOMS:  # the most common nodes, answered before the tests below
        return _ATOM
    if isinstance(e, ast.IfExp):
        return _TERNARY
    if isinstance(e, ast.BoolOp):
        return _OR if isinstance(e.op, ast.Or) else _AND
    if isinstance(e, ast.UnaryOp):
        return _NOT if isinstance(e.op, ast.Not) else _UNARY
    if isinstance(e, ast.Compare):
        return _CMP
    if isinstance(e, ast.BinOp):
        return _BINOP_PREC[type(e.op)]
    if isinstance(e, ast.Constant) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
        return _UNARY if e.value < 0 else _ATOM  # `-1` binds like a unary minus
    if isinstance(e, ast.Starred):
        return _TERNARY
    return _ATOM


def _flat(e: ast.expr, context: int) -> str:
    text = _flat_bare(e)
    if context > _TERNARY and _prec(e) < context:  # (nothing binds looser than a ternary: no test needed)
        return f"({text})"
    return text


def _simple_power(e: ast.expr) -> bool:
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        return _simple_power(e.operand)
    if isinstance(e, ast.Constant):
        return isinstance(e.value, (int, float)) and not isinstance(e.value, bool)
    if isinstance(e, ast.Name):
        return True
    if isinstance(e, ast.Attribute):
        return _simple_power(e.value) if not isinstance(e.value, ast.Constant) else False
    return False


def _flat_bare(e: ast.expr) -> str:
    if isinstance(e, ast.Constant):
        v = e.value
        if v is Ellipsis:
            return "..."
        if isinstance(v, str):
            return string(v)
        if isinstance(v, bool) or v is None:
            return repr(v)
        assert not isinstance(v, bytes)  # the emitter never writes bytes literals
        return _number(v)
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Attribute):
        base = _flat(e.value, _ATOM)
        if isinstance(e.value, ast.Constant) and isinstance(e.value.value, int):
            base = f"({base})"
        return f"{base}.{e.attr}"
    if isinstance(e, ast.Call):
        return f"{_flat(e.func, _ATOM)}({', '.join(_call_items(e))})"
    if isinstance(e, ast.Subscript):
        return f"{_flat(e.value, _ATOM)}[{_subscript_text(e.slice)}]"
    if isinstance(e, ast.List):
        return "[" + ", ".join(_flat(x, _TERNARY) for x in e.elts) + "]"
    if isinstance(e, ast.Tuple):
        inner = ", ".join(_flat(x, _TERNARY) for x in e.elts)
        return f"({inner},)" if len(e.elts) == 1 else f"({inner})"
    if isinstance(e, ast.Dict):
        return "{" + ", ".join(_dict_item(k, v) for k, v in zip(e.keys, e.values, strict=True)) + "}"
    if isinstance(e, ast.Starred):
        return "*" + _flat(e.value, _ATOM)
    if isinstance(e, ast.BinOp):
        prec = _BINOP_PREC[type(e.op)]
        op = _BINOP_TEXT[type(e.op)]
        if isinstance(e.op, ast.Pow):  # right-associative
            left, right = _flat(e.left, prec + 1), _flat(e.right, prec)
            if _simple_power(e.left) and _simple_power(e.right) and not left.startswith("("):
                return f"{left}**{right}"
            return f"{left} ** {right}"
        return f"{_flat(e.left, prec)} {op} {_flat(e.right, prec + 1)}"
    if isinstance(e, ast.UnaryOp):
        if isinstance(e.op, ast.Not):
            return "not " + _flat(e.operand, _NOT)
        sign = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}[type(e.op)]
        return sign + _flat(e.operand, _UNARY)
    if isinstance(e, ast.BoolOp):
        prec = _prec(e)
        word = " or " if isinstance(e.op, ast.Or) else " and "
        return word.join(_flat(v, prec + 1) for v in e.values)
    if isinstance(e, ast.Compare):
        parts = [_flat(e.left, _CMP + 1)]
        for cmp, comp in zip(e.ops, e.comparators, strict=True):
            parts.append(f"{_CMP_TEXT[type(cmp)]} {_flat(comp, _CMP + 1)}")
        return " ".join(parts)
    if isinstance(e, ast.IfExp):
        return f"{_flat(e.body, _OR)} if {_flat(e.test, _OR)} else {_flat(e.orelse, _TERNARY)}"
    if isinstance(e, ast.ListComp | ast.GeneratorExp):
        inner = " ".join(_comp_parts(e))
        return f"[{inner}]" if isinstance(e, ast.ListComp) else f"({inner})"
    raise TypeError(f"cannot lay out {type(e).__name__} (this is a bug)")


def _dict_item(k: ast.expr | None, v: ast.expr) -> str:
    if k is None:
        return "**" + _flat(v, _ATOM)
    return f"{_flat(k, _TERNARY)}: {_flat(v, _TERNARY)}"


def _call_items(e: ast.Call) -> list[str]:
    items = [_flat(a, _TERNARY) for a in e.args]
    for kw in e.keywords:
        items.append(f"{kw.arg}={_flat(kw.value, _TERNARY)}" if kw.arg else "**" + _flat(kw.value, _ATOM))
    return items


def _comp_parts(e: ast.ListComp | ast.GeneratorExp) -> list[str]:
    parts = [_flat(e.elt, _TERNARY)]
    for gen in e.generators:
        parts.append(f"for {_flat(gen.target, _TERNARY)} in {_flat(gen.iter, _OR)}")
        parts += [f"if {_flat(cond, _OR)}" for cond in gen.ifs]
    return parts


def _complex_slice_part(e: ast.expr | None) -> bool:
    if e is None or isinstance(e, ast.Name | ast.Constant):
        return False
    if isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Name | ast.Constant):
        return False
    return True


def _slice_text(s: ast.Slice, spaced: bool) -> str:
    lo = "" if s.lower is None else _flat(s.lower, _TERNARY)
    hi = "" if s.upper is None else _flat(s.upper, _TERNARY)
    if not spaced:
        text = f"{lo}:{hi}"
        if s.step is not None:
            text += ":" + _flat(s.step, _TERNARY)
        return text
    text = (f"{lo} :" if lo else ":") + (f" {hi}" if hi else "")
    if s.step is not None:
        text += " : " + _flat(s.step, _TERNARY) if hi or lo else ": " + _flat(s.step, _TERNARY)
    return text


def _subscript_text(key: ast.expr) -> str:
    parts = key.elts if isinstance(key, ast.Tuple) else [key]
    spaced = any(
        isinstance(p, ast.Slice) and any(_complex_slice_part(x) for x in (p.lower, p.upper, p.step)) for p in parts
    )
    texts = [_slice_text(p, spaced) if isinstance(p, ast.Slice) else _flat(p, _TERNARY) for p in parts]
    if isinstance(key, ast.Tuple) and len(parts) == 1:
        return texts[0] + ","
    return ", ".join(texts)


# --------------------------------------------------------------------------------------------
# splitting long lines
# --------------------------------------------------------------------------------------------


class _Group:
    """The last bracket pair of an expression: ``head`` + items + ``close``."""

    def __init__(
        self,
        head: str,
        items: list[tuple[str, ast.expr, str]],
        close: str,
        *,
        commas: bool = True,
        sole_comma: bool = False,
        collection: bool = False,
    ) -> None:
        self.head = head  # text up to and including the opening bracket
        self.items = items  # (prefix, expression, flat text) of each item
        self.close = close  # the closing bracket (and anything after it on the line)
        self.commas = commas  # items are comma-separated (comprehension clauses are not)
        self.sole_comma = sole_comma  # a one-item tuple keeps its comma
        self.collection = collection  # a list, tuple or dict literal: split, it takes one item per line


def _group(e: ast.expr) -> _Group | None:
    if isinstance(e, ast.Call):
        items: list[tuple[str, ast.expr, str]] = [("", a, _flat(a, _TERNARY)) for a in e.args]
        for kw in e.keywords:
            prefix = f"{kw.arg}=" if kw.arg else "**"
            items.append((prefix, kw.value, prefix + _flat(kw.value, _TERNARY if kw.arg else _ATOM)))
        return _Group(_flat(e.func, _ATOM) + "(", items, ")")
    if isinstance(e, ast.List):
        return _Group("[", [("", x, _flat(x, _TERNARY)) for x in e.elts], "]", collection=True)
    if isinstance(e, ast.Tuple):
        return _Group(
            "(", [("", x, _flat(x, _TERNARY)) for x in e.elts], ")", sole_comma=len(e.elts) == 1, collection=True
        )
    if isinstance(e, ast.Dict):
        dict_items: list[tuple[str, ast.expr, str]] = []
        for k, v in zip(e.keys, e.values, strict=True):
            prefix = "**" if k is None else _flat(k, _TERNARY) + ": "
            dict_items.append((prefix, v, _dict_item(k, v)))
        return _Group("{", dict_items, "}", collection=True)
    if isinstance(e, ast.Subscript):
        key = e.slice
        if isinstance(key, ast.Tuple) or isinstance(key, ast.Slice):
            return None  # index tuples and slices are short in emitted code; they stay on their line
        return _Group(_flat(e.value, _ATOM) + "[", [("", key, _flat(key, _TERNARY))], "]")
    if isinstance(e, ast.ListComp | ast.GeneratorExp):
        parts = _comp_parts(e)
        first = e.elt
        items = [("", first, parts[0])] + [("", ast.Constant(value=None), p) for p in parts[1:]]
        opening, closing = ("[", "]") if isinstance(e, ast.ListComp) else ("(", ")")
        return _Group(opening, items, closing, commas=False)
    if isinstance(e, ast.Starred):
        inner = _group(e.value)
        if inner is None:
            return None
        inner.head = "*" + inner.head
        return inner
    if isinstance(e, ast.BinOp | ast.Compare | ast.BoolOp) and _prec(e) < _ATOM:
        # The last bracket of the line is in the last operand (ruff's right-hand split).
        last = (
            e.right if isinstance(e, ast.BinOp) else e.comparators[-1] if isinstance(e, ast.Compare) else e.values[-1]
        )
        full = _flat(e, _TERNARY)
        last_text = _flat(last, _TERNARY)
        if not full.endswith(last_text) or _flat_bare(last) != last_text:
            return None
        inner = _group(last)
        if inner is None:
            return None
        inner.head = full[: len(full) - len(last_text)] + inner.head
        return inner
    return None


def split(prefix: str, e: ast.expr, suffix: str, indent: int, width: int = WIDTH, *, inside: bool = False) -> list[str]:
    """``prefix + e + suffix`` as one or more lines (the first unindented, the rest indented relative
    to it), split like ruff when it does not fit in ``width`` at column ``indent`` (``inside``: the
    expression is an item between brackets already)."""
    text = prefix + _flat(e, _TERNARY) + suffix
    if indent + len(text) <= width:
        return [text]
    if isinstance(e, ast.IfExp):  # `a if c else b`: one part per line, in parentheses unless inside brackets
        at = indent if inside and not prefix else indent + 4
        parts = split("", e.body, "", at, width, inside=True) + [f"if {_flat(e.test, _OR)}"]
        parts += split("else ", e.orelse, "", at, width, inside=True)
        if inside and not prefix:
            return parts[:-1] + [parts[-1] + suffix]
        return [prefix + "("] + ["    " + p for p in parts] + [")" + suffix]
    if isinstance(e, ast.Constant) and isinstance(e.value, str):
        room = width - indent - 4
        return [prefix + "("] + ["    " + p for p in long_string(e.value, room)] + [")" + suffix]
    group = _group(e)
    if inside and not prefix and isinstance(e, ast.BinOp | ast.BoolOp | ast.Compare):
        if parenthesized(e):  # an operand chain between brackets: one operand per line, as ruff splits it
            return operator_lines("", e, indent, width, suffix)
    if group is None or not group.items:
        return [text]
    if isinstance(e, ast.Subscript) and indent + len(prefix + group.head) > width:
        # The line up to the subscript's bracket does not fit: ruff leaves the subscript (`[0]`) after the
        # bracket before it, as black's omitted trailers do (`x = f(\n    ...\n)[0]`).
        trailer = _flat_bare(e)[len(_flat(e.value, _ATOM)) :]
        return split(prefix, e.value, trailer + suffix, indent, width, inside=inside)
    inner = indent + 4
    lines = [prefix + group.head]
    joined = (", " if group.commas else " ").join(t for _, _, t in group.items)
    if group.sole_comma:
        joined += ","
    if len(group.items) == 1 or not group.commas:
        if inner + len(joined) <= width:
            lines.append("    " + joined)
        elif not group.commas:
            for k, (item_prefix, item, item_text) in enumerate(group.items):
                body = split(item_prefix, item, "", inner, width, inside=True) if k == 0 else [item_text]
                lines += ["    " + b for b in body]
        else:
            item_prefix, item, _ = group.items[0]
            body = split(item_prefix, item, "," if group.sole_comma else "", inner, width, inside=True)
            lines += ["    " + b for b in body]
    elif inner + len(joined) <= width and not group.collection:
        lines.append("    " + joined)
    else:
        for item_prefix, item, _ in group.items:
            lines += ["    " + b for b in split(item_prefix, item, ",", inner, width, inside=True)]
    lines.append(group.close + suffix)
    return lines


# Operator chains, split as ruff splits them (also used by codegen/wrapping.py's statements).


def _operands(e: ast.expr) -> list[tuple[str, ast.expr, str]]:
    """``e``'s operands at its loosest operator level, each as (leading operator, operand, flat text): a
    left-associative chain ``a + b - c`` is three operands; a tighter operand (``b * c`` in
    ``a + b * c``) is one."""
    if isinstance(e, ast.BinOp):
        prec = _BINOP_PREC[type(e.op)]
        left = e.left
        same = isinstance(left, ast.BinOp) and _prec(left) == prec and prec != _POW
        head = _operands(left) if same else [("", left, _flat(left, prec))]
        return head + [(_BINOP_TEXT[type(e.op)], e.right, _flat(e.right, prec + 1))]
    if isinstance(e, ast.BoolOp):
        word = "or" if isinstance(e.op, ast.Or) else "and"
        prec = _prec(e)
        return [("" if k == 0 else word, v, _flat(v, prec + 1)) for k, v in enumerate(e.values)]
    assert isinstance(e, ast.Compare)
    rest = [(_CMP_TEXT[type(op)], v, _flat(v, _CMP + 1)) for op, v in zip(e.ops, e.comparators, strict=True)]
    return [("", e.left, _flat(e.left, _CMP + 1)), *rest]


def _last_operand(e: ast.expr) -> ast.expr:
    if isinstance(e, ast.BinOp):
        return e.right
    if isinstance(e, ast.BoolOp):
        return e.values[-1]
    assert isinstance(e, ast.Compare)
    return e.comparators[-1]


def parenthesized(e: ast.expr) -> bool:
    """Whether ruff puts ``e`` (an assigned or returned value too long for its line) in parentheses
    and splits it at its operators, rather than at its last operand's brackets: ruff omits the
    parentheses only for one operator whose right operand has brackets (``a + self.f(\\n    x\\n)``)."""
    if not isinstance(e, ast.BinOp | ast.BoolOp | ast.Compare) or _prec(e) >= _ATOM:
        return False
    if _is_power(e):
        return False  # `a**b` is not split (the emitter's powers are short)
    return len(_operands(e)) > 2 or _group(_last_operand(e)) is None


def operator_lines(lead: str, e: ast.expr, indent: int, width: int = WIDTH, suffix: str = "") -> list[str]:
    """``e`` between brackets at column ``indent``, one operand per line with its operator leading
    (``lead`` before the first); an operand too long for its line splits the same way at its own
    operators, on the same column (``and a.shape[2]\n+ b.shape[2]\n== 0``), or at its brackets."""
    lines: list[str] = []
    for k, (op, operand, text) in enumerate(_operands(e)):
        first = lead if k == 0 else f"{op} "
        if indent + len(first + text) <= width or text != flat(operand):  # fits, or in parentheses: whole
            lines.append(first + text)
        elif isinstance(operand, ast.BinOp | ast.BoolOp | ast.Compare) and not _is_power(operand):
            lines += operator_lines(first, operand, indent, width)
        else:  # an operand with brackets splits at them (`+ self.f(\n    x\n)`)
            lines += split(first, operand, "", indent, width, inside=True)
    lines[-1] += suffix
    return lines


def _is_power(e: ast.expr) -> bool:
    return isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow)
