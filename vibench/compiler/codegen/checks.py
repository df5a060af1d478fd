"""The checks at the entry of the model's ``forward``: each input's dtype, rank and fixed sizes, then
the spec's shape constraints (``L >= 32``), each with a message naming the input and the rule.

They run when ``model.check_inputs`` is true (the default), are skipped by TorchScript, and use
``torch._check`` under ``torch.compile``/``torch.export`` (see ``_require`` in
:mod:`vibench.compiler.codegen.support`), so a traced graph keeps them. In eager mode one inline
condition (every test, in order, joined by ``and``) guards the calls, which only run to name the
failed rule: a call per input cost a small model (an ISFM task head) about a tenth of its forward.
A constraint's call also hands ``_require`` the sizes it reads and the value of each side of its text
(:func:`found_sizes`), so its message says what the input gave; they are read on that failing path
only (and while tracing, where they leave the graph as it was).
Every size of an input is at least 1, as the shapes were checked (a symbol stands for a positive
integer): an input whose shape holds a symbol no earlier input gave adds ``x.numel() > 0`` to the fast
test, and ``_check_input`` names the empty axis (a length of 0 gave NaN or finite logits from an empty
window, a ZeroDivisionError or torch's own error deep in ``forward``, depending on the template).
The fast test reads a dtype with ``getattr(x, "dtype", None)``, so that a list, a number or None reaches
``_check_input``'s TypeError (``x.dtype`` raised AttributeError; it costs ~6 ns, an ``isinstance`` ~25 ns
and a line per input).
"""

from __future__ import annotations

import ast

from vibench.compiler import registry
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.statements import Line
from vibench.compiler.ir import Constraint, Node, Unit, ValueRef
from vibench.compiler.space import solve_ge
from vibench.compiler.symbolic import Dim, Expr, FloorDiv, fmt_shape


def input_checks(unit: Unit, var: dict[str, str]) -> list[Line]:
    """The guarded block of checks (empty when the model has no tensor inputs). They call
    ``_check_input`` and ``_require``, and ``_same_size`` where inputs share a size (:func:`shares_sizes`)."""
    me = c.ref("self")
    checks: list[ast.expr] = []
    fast: list[ast.expr] = []  # the same tests inline: the eager fast path
    where: dict[str, ast.expr] = {}  # symbol -> the size it is read from
    owner: dict[str, str] = {}
    source: dict[str, str] = {}  # symbol -> that size as its message names it, `x.shape[1]`
    # A floating input follows a cast model's dtype (support._cast_dtype) unless the floating inputs
    # differ in dtype: the parameters then say nothing of each input's. One that only ports reading any
    # floating dtype take (a sampling rate) may also keep its declared dtype.
    floats = {t.dtype for _, t in unit.inputs if t.dtype.startswith(("float", "bfloat"))}
    for name, t in unit.inputs:
        x = c.ref(var[name])
        sizes = [d if isinstance(d, int) else -1 for d in t.shape]
        how = {"cast": False} if len(floats) > 1 else {"keep": True} if t.dtype in floats and keeps(unit, name) else {}
        checks.append(c.call("_check_input", me, name, x, c.dotted(f"torch.{t.dtype}"), sizes, fmt_shape(t.shape),
                             **how))
        fast.append(c.compare(c.call("getattr", x, "dtype", None), "==", c.dotted(f"torch.{t.dtype}")))
        fast.append(c.compare(c.method(x, "dim"), "==", len(sizes)))
        fast += [c.compare(c.index(c.attr(x, "shape"), k), "==", s) for k, s in enumerate(sizes) if s >= 0]
        if any(not isinstance(d, int) and not d.symbols() <= set(where) for d in t.shape):
            fast.append(c.compare(c.method(x, "numel"), ">", 0))  # a size first read here: none is 0
        for axis, d in enumerate(t.shape):
            if isinstance(d, Expr) and d == Expr.symbol(next(iter(d.symbols()))):
                symbol = next(iter(d.symbols()))
                size = c.index(c.attr(x, "shape"), axis)
                if symbol in where:
                    fast.append(c.compare(size, "==", where[symbol]))
                    checks.append(c.call("_same_size", me, owner[symbol], c.clone(where[symbol]), name,
                                         c.clone(size), symbol))
                else:
                    where[symbol], owner[symbol], source[symbol] = size, name, f"{name}.shape[{axis}]"
    for constraint in unit.constraints:
        if not set(_symbols(constraint.lhs)) or not set(_symbols(constraint.lhs)) <= set(where):
            continue
        test = constraint_test(constraint.lhs, constraint.op, constraint.mod, where)
        fast.append(c.clone(test))
        message = f"the inputs must satisfy {constraint.text} ({constraint.reason})"
        checks.append(c.call("_require", me, test, message, found_sizes(constraint, where, source)))
    if not checks:
        return []
    guard = c.both([c.attr(me, "check_inputs"), c.not_(c.call("torch.jit.is_scripting"))])
    failed = c.both([c.call("torch.compiler.is_compiling"), c.not_(c.both(fast))], "or")
    calls = [Line(ast.If(test=failed, body=[], orelse=[]), "", [Line(ast.Expr(value=e)) for e in checks])]
    return [Line(ast.If(test=guard, body=[], orelse=[]), "", calls)]


def found_sizes(constraint: Constraint, where: dict[str, ast.expr], source: dict[str, str]) -> ast.List:
    """What ``_require`` reports of a broken constraint, as ``(what, value, where)`` triples read on its failing
    path only: each size the constraint reads, with the input axis it comes from (``("L", x.shape[1],
    "x.shape[1]")``), then each side of its text that is not a bare size or number (``("L // 128", x.shape[1] //
    128, "")``), as the compiler's ``--input`` says it (:func:`~vibench.compiler.constraints.found_text`)."""
    found = [c.tuple_of(s, c.clone(where[s]), source[s]) for s in sorted(_symbols(constraint.lhs))]
    sides: dict[str, ast.expr] = {}
    try:
        tree = ast.parse(constraint.text, mode="eval").body  # the compiler's rendering of the sizes, never run
    except (SyntaxError, ValueError, RecursionError):
        return c.list_of(*found)
    for alternative in tree.values if isinstance(tree, ast.BoolOp) else [tree]:
        for side in [alternative.left, *alternative.comparators] if isinstance(alternative, ast.Compare) else []:
            text = ast.get_source_segment(constraint.text, side)
            code = None if isinstance(side, (ast.Name, ast.Constant)) else _read_sizes(side, where)
            if text and code is not None:
                sides.setdefault(text, code)
    return c.list_of(*found, *(c.tuple_of(text, code, "") for text, code in sides.items()))


def _read_sizes(side: ast.expr, where: dict[str, ast.expr]) -> ast.expr | None:
    """``side`` (sizes, ints, ``+ - * // %``) with each size read from its input's shape; None if it holds
    anything else."""
    if isinstance(side, ast.Name):
        return c.clone(where[side.id]) if side.id in where else None
    if isinstance(side, ast.Constant):
        return c.const(side.value) if type(side.value) is int else None
    if isinstance(side, ast.UnaryOp) and isinstance(side.op, ast.USub):
        operand = _read_sizes(side.operand, where)
        return None if operand is None else ast.UnaryOp(op=ast.USub(), operand=operand)
    if isinstance(side, ast.BinOp) and isinstance(side.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)):
        left, right = _read_sizes(side.left, where), _read_sizes(side.right, where)
        return None if left is None or right is None else ast.BinOp(left=left, op=type(side.op)(), right=right)
    return None


def shares_sizes(unit: Unit) -> bool:
    """Whether a size symbol of ``unit``'s inputs is read twice - by two inputs (``x`` [B, L, C] and ``fs``
    [B]) or by two axes of one (``x`` [B, L, L]: model.py raised NameError, `_same_size` not defined): its
    checks then call ``_same_size``."""
    seen: set[str] = set()
    for _, t in unit.inputs:
        for d in t.shape:
            if isinstance(d, Expr) and d == Expr.symbol(symbol := next(iter(d.symbols()))):
                if symbol in seen:
                    return True
                seen.add(symbol)
    return False


def keeps(unit: Unit, name: str) -> bool:
    """Whether input ``name`` of ``unit`` is read, and only by ports that take any floating dtype
    (:attr:`~vibench.compiler.blocks.base.Block.any_float_inputs`: the HSE embeddings' ``fs``), also
    inside composites: a cast model may then take it in its declared dtype too (a float32 sampling rate
    in a ``.half()`` model, where float16 would hold no rate above 65,504 Hz)."""
    return read_only_by(unit, name, "any_float_inputs")


def positive(unit: Unit, name: str) -> bool:
    """Whether some port that reads input ``name`` of ``unit`` (inside composites too) takes positive values
    only (:attr:`~vibench.compiler.blocks.base.Block.positive_inputs`: a sampling rate): vibench.testing
    draws positive values for it."""
    readers = [(node, port) for node in unit.nodes for port, ref in node.inputs if ref == ValueRef(name, None)]
    for node, port in readers:
        units = {id(copy.unit): copy.unit for copy in node.copies if copy.unit is not None}
        if any(positive(u, port) for u in units.values()) or any(
                (block := registry.get(copy.block or node.block)) is not None and port in block.positive_inputs
                for copy in node.copies if copy.unit is None):
            return True
    return False


def read_only_by(unit: Unit, name: str, ports: str) -> bool:
    """Whether input ``name`` of ``unit`` is read, and only by the ports a block lists in its attribute
    ``ports``, also inside composites."""
    readers = [(node, port) for node in unit.nodes for port, ref in node.inputs if ref == ValueRef(name, None)]
    return bool(readers) and all(_reads_as(node, port, ports) for node, port in readers)


def _reads_as(node: Node, port: str, ports: str) -> bool:
    units = {id(copy.unit): copy.unit for copy in node.copies if copy.unit is not None}
    if units:
        return all(read_only_by(unit, port, ports) for unit in units.values())
    blocks = {copy.block or node.block for copy in node.copies}
    return all((block := registry.get(name)) is not None and port in getattr(block, ports) for name in blocks)


def constraint_test(lhs: Dim, op: str, mod: int, where: dict[str, ast.expr]) -> ast.expr:
    """The test of ``lhs >= 0``, ``lhs == 0`` or ``lhs % mod == 0`` as its message states it: a bound
    on one size where the floor divisions allow (``x.shape[1] <= 40015`` for ``-(L // 8) + 5001 >= 0``,
    :func:`~vibench.compiler.space.solve_ge`), otherwise with the constant on the right
    (``x.shape[2] // 4 == 32``); an equality or a divisibility of sizes that all count negatively is tested
    negated (``t.shape[1] == 4`` for ``4 - K == 0``, not ``-t.shape[1] == -4``)."""
    if op in ("==", "%") and isinstance(lhs, Expr) and all(coef < 0 for _, coef in lhs.terms):
        lhs = -lhs
    if op == "%":
        return c.compare(c.binop(dim_code(lhs, where), "%", mod), "==", 0)
    if op == ">=":
        solved = solve_ge(lhs)
        if solved is not None and solved[0] in where:
            symbol, bound, k = solved
            return c.compare(c.clone(where[symbol]), bound, k)
    k = lhs.const if isinstance(lhs, Expr) else 0
    return c.compare(dim_code(lhs - k, where), op, -k)


def _symbols(d: Dim) -> set[str]:
    return d.symbols() if isinstance(d, Expr) else set()


def dim_code(d: Dim, where: dict[str, ast.expr]) -> ast.expr:
    """Python for a canonical size expression, with each symbol read from its input's shape."""
    if isinstance(d, int):
        return c.const(d)
    terms: list[ast.expr] = []
    for mono, coef in d.terms:
        factors = [where[a] if isinstance(a, str) else _floordiv(a, where) for a in mono]
        term = c.chain("*", ([abs(coef)] if abs(coef) != 1 else []) + factors)
        terms.append(c.neg(term) if coef < 0 and not terms else term if coef > 0 or not terms else term)
        if coef < 0 and len(terms) > 1:
            terms[-1] = ast.UnaryOp(op=ast.USub(), operand=term)  # marked for subtraction below
    out = terms[0]
    for term in terms[1:]:
        if isinstance(term, ast.UnaryOp) and isinstance(term.op, ast.USub):
            out = c.binop(out, "-", term.operand)
        else:
            out = c.binop(out, "+", term)
    if d.const:
        out = c.binop(out, "+" if d.const > 0 else "-", abs(d.const))
    return out


def _floordiv(atom: FloorDiv, where: dict[str, ast.expr]) -> ast.expr:
    return c.binop(dim_code(atom.num, where), "//", atom.den)
