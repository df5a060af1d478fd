"""model.py's size is bounded before it is written (QA of 12-07, resource cliffs: n14).

Fourteen levels of a block using the one below twice with a value of its own (49,150 nodes, within the node limit)
wrote a 24 MB model.py of 295,045 lines in 93 s of CPU: a class per use of the bottom block, and the chains of
layers above it written out at each use, nested 42 brackets deep. Laying out a constructor flattened all it holds
again at each level of its brackets (time in the depth times the size), and each level of a chain written inline
copied the layers of the chains below it twice and walked them again. Now the layout writes only what fits on a
line, a chain is copied once per use and not walked again, and model.py's lines are counted from the grouped
classes before any is written: past the limit (2.5 lines per allowed node, at least 100,000) the spec is E213 at
the use that makes the classes, and no file is written. Counts are asserted, never times.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

import vibench
from tests.test_codegen import _tree
from vibench.compiler import emit, limits
from vibench.compiler.cli import main
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen import flat_expressions, layout
from vibench.compiler.codegen.model_lines import CLASS_LINES, HEADER_LINES, ModelLines, line_limit
from vibench.compiler.codegen.structure import group
from vibench.compiler.codegen.text import width

FLOOR = 500  # the tests' floor of the line limit (100,000 by default): small specs cross it


def _chain(levels: int) -> str:
    """Blocks L0..L{levels}, each using the one below twice with a value of its own (`j`): L0 is 2**levels classes,
    the blocks above it chains of layers written out at each use."""
    lines = ["vibench: 1", "name: N", "inputs: {x: {shape: [B, 4, L]}}", "blocks:",
             "  L0:", "    params: {j: 0}", "    inputs: {x: {shape: [B, C, L]}}",
             '    nodes: {d: {block: dropout, in: x, p: "${j * 0.000001}"}}', "    outputs: {y: d}"]
    for k in range(1, levels + 1):
        use = f'{{block: L{k - 1}, in: x, repeat: 2, j: "${{j * 2 + i}}"}}'
        lines += [f"  L{k}:", "    params: {j: 0}", "    inputs: {x: {shape: [B, C, L]}}", f"    nodes: {{d: {use}}}",
                  "    outputs: {y: d}"]
    return "\n".join(lines) + f"\nnodes:\n  a: {{block: L{levels}, in: x}}\noutputs: {{y: a}}\n"


@pytest.fixture
def floor(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(limits, "MIN_LINES", FLOOR)
    return FLOOR


def _lines(text: str, **kwargs: object) -> int:
    return ModelLines(group(vibench.check(text=text, **kwargs))).total


def test_nested_distinct_blocks_past_the_line_limit_are_e213_before_any_class_is_written(
        floor: int, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _chain(7)  # 383 nodes, 128 classes of L0
    explained: list[object] = []
    real = emit.explain_structure
    monkeypatch.setattr(emit, "explain_structure", lambda *a: explained.append(a) or real(*a))
    with pytest.raises(vibench.SpecError) as info:
        vibench.compile_spec(text=text, max_nodes=400)
    (d,) = info.value.diagnostics
    assert explained == []  # refused before any class's constructors were written
    assert (d.code, d.node, d.message) == ("E213", "d", "model.py would have more than 1,000 lines at node `d`")
    assert d.pos is not None and (d.pos.line, d.pos.col) == (13, 13)  # L1's use of L0, whose `j` differs per use
    assert d.expected == f"at most 1,000 lines of model.py (2.5 per allowed node, at least {floor:,})"
    lines = _lines(text)
    assert d.found == f"about {lines:,} lines in 129 classes"
    assert any("block `L0` is 128 of the classes" in n and "its uses differ in `j`" in n for n in d.notes)
    assert d.hint is not None and "--max-nodes" in d.hint and "max_nodes=" in d.hint
    assert "-->" in str(info.value) and "13 |     nodes: {d:" in str(info.value)  # the spec's line (API text)
    assert vibench.check(text=text, max_nodes=400).root is not None  # --check writes no model.py: not refused


def test_a_spec_just_under_the_line_limit_compiles_and_one_over_it_is_refused(floor: int) -> None:
    """The limit is model.py's lines as written (1207e: the early count missed the layers that nesting splits over
    several lines, and a file a third over the limit was written): the count before writing never exceeds them."""
    text = _chain(7)
    written = vibench.compile_spec(text=text).source.count("\n")
    assert _lines(text) <= written
    fits = math.ceil(written / limits.LINES_PER_NODE)  # the least node limit whose line limit takes the file
    assert line_limit(fits) >= written > line_limit(fits - 1)
    assert vibench.compile_spec(text=text, max_nodes=fits).source.count("\n") == written
    with pytest.raises(vibench.SpecError) as info:
        vibench.compile_spec(text=text, max_nodes=fits - 1)
    assert info.value.codes == ["E213"]


def test_the_cli_writes_no_file_past_the_line_limit(floor: int, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    spec, out = tmp_path / "n7.yaml", tmp_path / "model.py"
    spec.write_text(_chain(7), encoding="utf-8")
    assert main([str(spec), "-o", str(out), "--max-nodes", "400"]) == 1
    err = capsys.readouterr().err
    assert "error[E213]: model.py would have more than 1,000 lines at node `d`" in err
    assert f"{spec}:13:13" in err and "block `L0` is 128 of the classes" in err
    assert not out.exists()


def _layers(count: int) -> str:
    nodes = "\n".join(f"  c{k}: {{block: conv1d, in: {'x' if k == 0 else f'c{k - 1}'}, out_channels: 4, "
                      f"kernel_size: 1, dilation: {k + 1}}}" for k in range(count))
    head = "vibench: 1\nname: Chain\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n"
    return f"{head}{nodes}\noutputs: {{y: c{count - 1}}}\n"


def test_a_chain_of_layers_has_two_lines_per_node_so_one_at_the_node_limit_fits_the_default() -> None:
    assert _lines(_layers(300)) == HEADER_LINES + CLASS_LINES + 2 * 300  # its constructor and forward statement
    written = [vibench.compile_spec(text=_layers(n)).source.count("\n") for n in (300, 600)]
    assert written[1] - written[0] == 2 * 300  # as model.py has them (besides its helpers and input checks)
    assert line_limit(limits.MAX_NODES) == 250_000 >= HEADER_LINES + CLASS_LINES + 2 * limits.MAX_NODES
    assert line_limit(1_000) == limits.MIN_LINES == 100_000  # far above the library's longest model.py (1,223)


def _nested(depth: int) -> ast.expr:
    """A chain of layers written inline, nested ``depth`` levels: 2**depth leaves, a few brackets a level."""
    if depth == 0:
        return c.call("Leaf")
    inner = c.call("nn.Sequential", _nested(depth - 1), _nested(depth - 1))
    return c.call("nn.Sequential", c.call("OrderedDict", d=inner))


def test_a_deeply_nested_constructor_is_flattened_once_not_once_per_level(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _nested(10)
    nodes = sum(1 for _ in c.walk(tree))
    written: list[ast.expr] = []
    real = flat_expressions.flat_bare
    monkeypatch.setattr(flat_expressions, "flat_bare", lambda e: written.append(e) or real(e))
    lines = layout.split("self.a = ", tree, "", 8)
    # Only what fits on a line is written (3,070 nodes here); the layout wrote all that each of the 30 levels of
    # brackets around the leaves held, again at each level: 325,675 nodes for these 17,394.
    assert len(written) <= nodes, (len(written), nodes)
    monkeypatch.undo()
    assert ast.dump(ast.parse("\n".join(lines)).body[0].value) == ast.dump(tree)  # type: ignore[attr-defined]


def test_a_chain_written_inline_is_not_walked_again_by_each_level_above_it(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _chain(8)
    structures = len(group(vibench.check(text=text)).structures)  # 256 classes of L0, 255 chains, the model
    rebuilt: list[object] = []
    real = c._trimmed
    monkeypatch.setattr(c, "_trimmed", lambda node, changed: rebuilt.append(node) or real(node, changed))
    vibench.compile_spec(text=text)
    # A few nodes per class or chain: those around the layers a chain copied. Each level looked for torch's
    # defaults to leave out in every layer of the chains below it, which it had copied without them: 20,745 nodes.
    assert len(rebuilt) <= 5 * structures, (len(rebuilt), structures)


def test_the_least_width_of_an_expression_is_never_more_than_its_width() -> None:
    import random

    r = random.Random(120717)
    for _ in range(400):
        tree = _tree(4, r)
        text = layout.flat(tree)
        assert layout.least_width(tree, 10**9) <= width(text)
        for room in (0, 10, 40, 120):  # past `room`, the count says so
            assert (layout.least_width(tree, room) > room) <= (width(text) > room)
