"""Emitting at the sizes the limits allow (a hostile-input QA pass on 12-06): `add` and `mul` of hundreds or
thousands of inputs, a doc of megabytes, thousands of distinct uses of one composite; and a doc of several lines
on an input or an output, kept under its item in the class docstring."""

from __future__ import annotations

import ast
import functools
import operator
import subprocess
import sys
import textwrap

import pytest

import vibench
from vibench.compiler.blocks.arith import MAX_CHAIN
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen import structure, text
from vibench.compiler.codegen.plan import IN, MOD, plan_unit
from vibench.compiler.codegen.statements import fill_markers


def _fan_in(block: str, count: int, factor: str) -> str:
    return textwrap.dedent(f"""\
        vibench: 1
        name: FanIn
        inputs: {{x: {{shape: [B, 3]}}}}
        nodes:
          branch: {{block: scale, in: x, factor: "{factor}", for_each: "${{range({count})}}"}}
          joined: {{block: {block}, in: branch}}
        outputs: {{y: joined}}
        """)


def _forward_value(source: str) -> ast.expr:
    """The value ``joined`` is assigned in the emitted forward."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.BinOp, ast.Call)):
            if any(isinstance(n, ast.Name) and n.id == "branch_1" for n in ast.walk(node.value)):
                return node.value
    raise AssertionError("no sum of the branches in forward")


@pytest.mark.parametrize(("block", "fold", "factor"), [
    ("add", operator.add, "${(item + 1) / 7}"),
    ("mul", operator.mul, "${1 + (item % 13) / 97}"),
])
def test_add_and_mul_of_a_thousand_inputs_build_and_fold_left_to_right(block, fold, factor) -> None:
    """1,000 inputs (the most copies a `for_each` makes) were a RecursionError (exit 3, "internal error")
    from 500 on: the emitted `a + b + ...` nests once per input. Past MAX_CHAIN inputs it is one call that
    adds (multiplies) in the chain's order: the result equals the left-to-right fold to the bit."""
    import torch

    count = 1000
    result = vibench.compile_spec(text=_fan_in(block, count, factor))
    value = _forward_value(result.source)
    assert isinstance(value, ast.Call) and ast.unparse(value.func) in ("sum", "math.prod")
    compile(result.source, "model.py", "exec")  # (ast.parse above read it too)
    model = vibench.build(text=_fan_in(block, count, factor)).eval()
    x = torch.randn(4, 3, dtype=torch.float32)
    factors = [float(eval(factor[2:-1], {"item": k})) for k in range(count)]  # noqa: S307 - the test's own text
    branches = [x * f for f in factors]
    with torch.no_grad():
        assert torch.equal(model(x), functools.reduce(fold, branches))


def test_up_to_max_chain_inputs_stay_one_expression() -> None:
    """The reference's `a + b + c` form (and its numerics) below the threshold: unchanged code for every model."""
    value = _forward_value(vibench.compile_spec(text=_fan_in("add", MAX_CHAIN, "${item + 1}")).source)
    assert isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)
    value = _forward_value(vibench.compile_spec(text=_fan_in("add", MAX_CHAIN + 1, "${item + 1}")).source)
    assert isinstance(value, ast.Call) and ast.unparse(value.func) == "sum"
    assert len(value.args[0].elts) == MAX_CHAIN and ast.unparse(value.args[1]) == "branch_0"  # type: ignore[attr-defined]


def test_an_in_list_of_twenty_thousand_inputs_compiles() -> None:
    """An `in:` list has no length limit of its own (the 2,000,000 values of a file bound it)."""
    spec = textwrap.dedent("""\
        vibench: 1
        name: Wide
        inputs: {x: {shape: [B, 3]}}
        nodes:
          r: {block: relu, in: x}
          s: {block: mul, in: [%s]}
        outputs: {y: s}
        """) % ", ".join(["r"] * 20_000)
    source = vibench.compile_spec(text=spec).source
    compile(source, "model.py", "exec")
    assert "import math" in source and "math.prod(" in source


def test_markers_are_filled_in_a_tree_deeper_than_the_stack() -> None:
    """fill_markers (and trim) walk with their own stack: a plug-in's code may nest as deep as it likes."""
    depth = 5_000
    tree: ast.expr = c.ref(f"{IN}0")
    for _ in range(depth):
        tree = c.binop(tree, "+", c.call(c.ref(MOD), c.ref(f"{IN}1")))
    filled = fill_markers(tree, ["a", "b"], c.attr(c.ref("self"), "layer"), c.ref)
    node, steps = filled, 0
    while isinstance(node, ast.BinOp):
        assert isinstance(node.right, ast.Call) and isinstance(node.right.args[0], ast.Name)
        assert node.right.args[0].id == "b" and isinstance(node.right.func, ast.Attribute)
        node, steps = node.left, steps + 1
    assert steps == depth and isinstance(node, ast.Name) and node.id == "a"
    assert c.trim(tree) is tree  # nothing to leave out: the tree itself


# -- a long doc ---------------------------------------------------------------------------------------


def test_docstring_and_comment_measure_each_character_a_bounded_number_of_times(monkeypatch) -> None:
    """A long word was cut one line at a time, the rest copied and measured again for each line: quadratic
    (a 1 MB doc took 25 s to emit). Count the characters measured."""
    measured = [0]
    real = text.width

    def counting(s: str) -> int:
        measured[0] += len(s)
        return real(s)

    monkeypatch.setattr(text, "width", counting)
    monkeypatch.setattr(text, "_columns", counting)
    word = "卷积e\u0301" * 20_000  # 80,000 characters, not ASCII: measured character by character
    lines = text.docstring([word, "A" * 80_000], 4)
    assert "".join(line.strip().strip('"') for line in lines) == word + "A" * 80_000
    assert measured[0] < 10 * 160_000
    measured[0] = 0
    comment = text.comment_lines(word, 8)
    assert "".join(line[2:] for line in comment) == word
    assert measured[0] < 10 * 80_000


def test_a_doc_of_megabytes_is_emitted_in_linear_time() -> None:
    """Run under a CPU limit far above what the linear code takes (well under a second for the text) and
    far below the quadratic one (minutes): a 4 MB one-word doc, a 1 MB one of wide characters."""
    script = textwrap.dedent("""\
        import resource
        resource.setrlimit(resource.RLIMIT_CPU, (20, 20))
        from vibench.compiler.codegen import text
        for word in ("A" * 4_000_000, "卷积e\\u0301" * 250_000):
            lines = text.docstring(["First line.", word, "Last line."], 4)
            assert "".join(line.strip() for line in lines[1:-2]) == word
            text.comment_lines(word, 8)
            text.long_string(word, 100)
        print("done")
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr[-2000:]


def test_split_breaks_cuts_at_every_break_character() -> None:
    assert text._split_breaks("a\r\nb\u2028c\x85") == ["a", "", "b", "c", ""]
    assert text._split_breaks("") == [""]


# -- many distinct uses of one composite ------------------------------------------------------------------


class _CountingSlots(dict):
    """A plan's slots that count how often their names are read in full."""

    reads = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        _CountingSlots.reads += 1
        return super().__iter__()


def test_grouping_reads_each_use_a_bounded_number_of_times() -> None:
    """Each new use of a composite read every use before it (their slot names, and a scan of the checked ones
    per use): 1,000 distinct uses took 12 s to emit, 5,000 over a minute. Count the reads of the uses' slots."""
    uses = 600
    spec = textwrap.dedent(f"""\
        vibench: 1
        name: T
        inputs: {{x: {{shape: [B, 2, L]}}}}
        blocks:
          A:
            params: {{k: 1}}
            inputs: {{x: {{shape: [B, C, L]}}}}
            nodes: {{c: {{block: conv1d, in: x, out_channels: 2, kernel_size: 1, dilation: "${{k}}"}}}}
            outputs: {{y: c}}
        nodes: {{n: {{block: A, in: x, k: "${{i + 1}}", repeat: {uses}}}}}
        outputs: {{y: n}}
        """)
    program = vibench.check(text=spec)
    built: dict = {}
    plans = {}
    for unit in program.units:
        plan = plan_unit(unit, built)
        plan.slots = _CountingSlots(plan.slots)
        plans[id(unit)] = plan
    _CountingSlots.reads = 0
    classes = structure.group(program, plans)
    shared = [s for s in classes.structures if not s.is_root]
    assert len(shared) == 1 and len(shared[0].plans) == uses  # one class, `A(k)`
    assert _CountingSlots.reads < 5 * uses
    assert [shared[0].position(p.unit) for p in shared[0].plans] == list(range(uses))


# -- a doc of several lines in the Inputs / Outputs list -----------------------------------------------------


def test_a_doc_of_several_lines_stays_under_its_item() -> None:
    spec = textwrap.dedent("""\
        vibench: 1
        name: T
        doc: A model.
        inputs: {x: {shape: [B, 2, L], doc: "first line\\nsecond line\\n\\nfourth"}}
        nodes:
          c: {block: relu, in: x}
        outputs: {y: {from: c, doc: "out one\\r\\nout two"}}
        """)
    source = vibench.compile_spec(text=spec).source
    doc = source[source.index('class T(nn.Module):\n    """'):]
    doc = doc[: doc.index('    """\n') + 8]
    assert textwrap.dedent("""\
            Inputs:
                x [B, 2, L] float32: first line
                    second line

                    fourth
            Outputs:
                y [B, 2, L] float32: out one
                    out two
        """) in textwrap.dedent(doc.split("\n", 1)[1])
