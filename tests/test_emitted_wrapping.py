"""Statements the emitter wrote on one line whatever their length (QA): a tuple of targets from a node
with several outputs, the `+`/`*` chains of add and mul with many inputs, a `del` of many values and
the input checks' conditions overflowed 120 columns with long names (ruff E501, and `ruff format`
rewrote them). They are now wrapped as ruff format wraps them; the oracle is ruff itself."""

from __future__ import annotations

import ast
import json
import os
import random
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vibench
from tests.parity import ROOT
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.render import statement
from vibench.compiler.resolve_decls import MAX_NAME

RUFF = os.path.join(os.path.dirname(sys.executable), "ruff")
CONFIG = os.path.join(ROOT, "pyproject.toml")
HEAD = {8: "class A:\n    def f(self):\n", 12: "class A:\n    def f(self):\n        if k:\n",
        16: "class A:\n    def f(self):\n        if k:\n            if j:\n"}


def _ruff_accepts(path: Path, *select: str) -> None:
    """``path`` passes ruff check (only the ``select`` rules, if any: fragments name undefined values)
    and ruff format --check."""
    chosen = ["--select", ",".join(select)] if select else []
    for args in (["check", "--no-cache", *chosen], ["format", "--check", "--diff", "--no-cache"]):
        done = subprocess.run([RUFF, *args, "--config", CONFIG, str(path)], capture_output=True, text=True)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


# -- 1. the layouts against ruff format ---------------------------------------------------------


def _name(r: random.Random) -> str:
    return r.choice("abcdefgh") + "_" * r.randint(0, 1) + "x" * r.randint(0, MAX_NAME + 8)


def _operand(r: random.Random) -> ast.expr:
    k = r.random()
    if k < 0.7:
        return c.ref(_name(r))
    if k < 0.85:
        return c.index(c.ref(_name(r)), c.span(), 0)
    return c.call(c.dotted("self." + _name(r)), *[c.ref(_name(r)) for _ in range(r.randint(1, 3))])


def _statement(r: random.Random) -> ast.stmt:
    kind = r.choice(["unpack", "chain", "aug", "del", "return"])
    if kind == "unpack":
        targets: list[ast.expr] = [c.ref(_name(r)) for _ in range(r.randint(1, 7))]
        if r.random() < 0.3:
            targets.append(c.tuple_of(c.ref(_name(r)), c.ref("_")))
        func = r.choice(["torch.chunk", "torch.split", "self." + _name(r)])
        value = c.call(c.dotted(func), *[c.ref(_name(r)) for _ in range(r.randint(1, 4))],
                       **({"dim": 1} if r.random() < 0.5 else {}))
        return ast.Assign(targets=[c.tuple_of(*targets)], value=value)
    if kind == "del":
        return ast.Delete(targets=[c.ref(_name(r)) for _ in range(r.randint(1, 9))])
    value = c.chain(r.choice(["+", "*", "-"]), [_operand(r) for _ in range(r.randint(2, 14))])
    if kind == "chain":
        return ast.Assign(targets=[c.ref(_name(r))], value=value)
    if kind == "aug":
        return ast.AugAssign(target=c.ref(_name(r)), op=ast.Add(), value=value)
    return ast.Return(value=value)


def test_statements_are_laid_out_as_ruff_format_writes_them(tmp_path: Path) -> None:
    """Random unpackings, operator chains, augmented assignments, returns and deletes at three depths:
    ruff format changes nothing, every line fits, and the text parses to the same statement."""
    r = random.Random(20261206)
    for case in range(300):
        stmt = _statement(r)
        indent = (8, 12, 16)[case % 3]
        lines = statement(stmt, indent)
        assert all(indent + len(x) <= 120 for x in lines), lines
        source = HEAD[indent] + "\n".join(" " * indent + x for x in lines) + "\n"
        parsed = ast.parse(source).body[0]
        while not isinstance(parsed, type(stmt)):
            parsed = parsed.body[-1]  # type: ignore[attr-defined]
        if isinstance(parsed, ast.Delete) and isinstance(parsed.targets[0], ast.Tuple):
            parsed.targets = parsed.targets[0].elts  # `del (a, b)` deletes a and b
        assert ast.unparse(parsed) == ast.unparse(ast.fix_missing_locations(stmt)), source
        (tmp_path / f"case_{case}.py").write_text(source)
    _ruff_accepts(tmp_path, "E", "W")


def test_a_statement_that_fits_stays_on_one_line() -> None:
    names = [c.ref(n) for n in ("a", "b", "c")]
    assert statement(ast.Assign(targets=[c.tuple_of(*names)], value=c.call("self.f", c.ref("x"))), 8) == [
        "a, b, c = self.f(x)"]
    assert statement(ast.Assign(targets=[c.ref("y")], value=c.chain("+", names)), 8) == ["y = a + b + c"]
    assert statement(ast.Delete(targets=names), 8) == ["del a, b, c"]
    one = ast.Assign(targets=[c.ref("y")], value=c.binop(c.ref("a" * 60), "+", c.call("self.f", c.ref("x" * 60))))
    assert statement(one, 8) == ["y = " + "a" * 60 + " + self.f(", "    " + "x" * 60, ")"]  # split at its bracket


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, MAX_NAME), min_size=2, max_size=8), st.sampled_from([8, 12, 16]))
def test_long_names_in_any_statement_fit_as_ruff_writes_them(tmp_path: Path, sizes: list[int], indent: int) -> None:
    refs = [c.ref("v" + "x" * (n - 1)) for n in sizes]
    stmts: list[ast.stmt] = [
        ast.Assign(targets=[c.tuple_of(*refs)], value=c.call("torch.chunk", refs[0], len(refs), dim=1)),
        ast.Assign(targets=[c.tuple_of(*refs)], value=c.call(c.dotted("self." + refs[-1].id), refs[0])),
        ast.Assign(targets=[refs[0]], value=c.chain("+", refs)),
        ast.Assign(targets=[refs[0]], value=c.chain("*", refs)),
        ast.AugAssign(target=refs[0], op=ast.Sub(), value=c.chain("+", refs[1:]) if len(refs) > 2 else refs[1]),
        ast.Delete(targets=refs),
    ]
    body = "\n".join(" " * indent + x for stmt in stmts for x in statement(stmt, indent))
    path = tmp_path / "s.py"
    path.write_text(HEAD[indent] + body + "\n")
    _ruff_accepts(path, "E", "W")


# -- 2. specs with long names ---------------------------------------------------------------------


def _spec(n: int, size: int) -> dict:
    """Inputs, a chunk of ``n`` pieces, concat/add/mul of all of them, sub and a sum of the inputs, every
    name ``size`` characters long: a tuple target, chains, a long ``del`` and long input checks."""
    def name(k: int, tag: str) -> str:
        return (f"{tag}{k}_" + "v" * size)[:size]

    ins = [name(k, "i") for k in range(4)]
    chunk, total, prod, cat, diff, both, last = (name(0, t) for t in ("c", "t", "p", "k", "d", "s", "l"))
    pieces = [f"{chunk}.{k}" for k in range(n)]
    return {
        "vibench": 1, "name": "Wrap",
        "inputs": {x: {"shape": ["B", 2 * n, "L"]} for x in ins},
        "nodes": {
            both: {"block": "add", "in": ins},
            chunk: {"block": "chunk", "in": both, "chunks": n, "dim": 1},
            cat: {"block": "concat", "in": pieces[::-1], "dim": 1},
            total: {"block": "add", "in": pieces},
            prod: {"block": "mul", "in": pieces},
            diff: {"block": "sub", "in": [total, prod]},
            last: {"block": "concat", "in": [diff, cat], "dim": 1},
        },
        "outputs": {name(0, "y"): last, name(0, "z"): cat},
    }


def _compiled(spec: dict, tmp_path: Path, file: str) -> types.ModuleType:
    (tmp_path / f"{file}.json").write_text(json.dumps(spec))
    source = vibench.compile_spec(str(tmp_path / f"{file}.json")).source
    (tmp_path / f"{file}.py").write_text(source)
    _ruff_accepts(tmp_path / f"{file}.py")
    module = types.ModuleType(f"emitted_{file}")
    exec(compile(source, file, "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("n, size", [(3, MAX_NAME), (6, MAX_NAME), (12, 11), (14, MAX_NAME), (16, 24)])
def test_long_names_compile_to_a_file_ruff_accepts_that_computes_the_same(tmp_path: Path, n: int,
                                                                           size: int) -> None:
    """The wrapped file computes what the one-line file of the same spec with short names computes."""
    wrapped = _compiled(_spec(n, size), tmp_path, "wrapped")
    short = _compiled(_spec(n, 3), tmp_path, "short")
    torch.manual_seed(0)
    xs = [torch.randn(2, 2 * n, 5) for _ in range(4)]
    with torch.no_grad():
        got = wrapped.Wrap().eval()(*xs)
        want = short.Wrap().eval()(*xs)
    assert [torch.equal(a, b) for a, b in zip(got.values(), want.values(), strict=True)] == [True, True]
    source = (tmp_path / "wrapped.py").read_text()
    if size == MAX_NAME and n >= 6:
        assert "        (\n            c0_" in source and "        ) = torch.chunk(" in source
        assert "        del (\n" in source and "\n            + c0_" in source and "\n            * c0_" in source
    if n <= 6:  # short names fit on one line
        short_source = (tmp_path / "short.py").read_text()
        assert "del (" not in short_source and " = (\n" not in short_source and "        c0_, c0__1, " in short_source


def test_input_checks_with_long_names_and_a_long_constraint_are_wrapped(tmp_path: Path) -> None:
    """Four inputs of 32-character names whose lengths add up (concat, then add): the fast test's
    terms and the constraint's sum of products split at their operators, in the condition and in
    `_require`'s argument."""
    ins = {(f"in{k}_" + "q" * MAX_NAME)[:MAX_NAME]: {"shape": ["B", 4, s]} for k, s in enumerate("LMPN")}
    names = list(ins)
    spec = {"vibench": 1, "name": "Wrap", "inputs": ins,
            "nodes": {"c": {"block": "concat", "in": names[:3], "dim": 2},
                      "s": {"block": "add", "in": ["c", names[3]]}},
            "outputs": {"o": "s"}}
    module = _compiled(spec, tmp_path, "checks")
    source = (tmp_path / "checks.py").read_text()
    assert f"\n                and -{names[0]}.shape[2]\n                + {names[0]}.shape[2] * " in source
    assert f"\n                    -{names[0]}.shape[2]\n                    + " in source  # `_require`'s argument
    xs = [torch.ones(2, 4, n) for n in (2, 3, 1, 6)]
    assert module.Wrap()(*xs).shape == (2, 4, 6)
    with pytest.raises(ValueError, match="must satisfy"):
        module.Wrap()(*xs[:3], torch.ones(2, 4, 5))
