"""Compile-time costs of nested composites and of for_each inside a composite (a QA pass on 12-07).

What was wrong:

* a ``for_each`` of m copies inside a composite used n times with values of its own took cubic time: each shape
  comment asked every use for the type of each port through ``Node.outputs``, which builds the list of every
  copy's outputs anew (m ports x n uses x m copies), and grouping compared each use's m constructors with the
  first use's in full, though nodes built alike share one tree (99 uses of 1,000 copies: 60 s);
* blocks nested n deep, each using the one below twice with values of its own, wrote the chain of layers of the
  block below again at each of its 2^k uses at every level, and anti-unified all those copies; and each use tried
  first without its input sizes kept every frame of that try (the garbage collector is paused while compiling):
  13 levels took 32 s and 887 MB.

What is right now: a port's type is found by its index; each pair of constructor trees is compared once; a chain
of layers is written once per node and values, and the uses' equal trees are compared once; a try that needed
sizes known leaves no frame behind. The emitted model.py is unchanged (the golden files say so).
"""

from __future__ import annotations

import gc
import textwrap
from typing import Any

import pytest

from vibench.compiler import ir
from vibench.compiler.codegen import explain, explain_literals, structure
from vibench.compiler.codegen.plan import Child
from vibench.compiler.ir import Instance, Node, TensorType
from vibench.compiler.pipeline import compile_program, compile_source


def _for_each_in_composite(uses: int, copies: int) -> str:
    """The QA's fe4.yaml: a composite with a for_each of ``copies`` convolutions, used ``uses`` times, each with a
    value of its own."""
    return textwrap.dedent(f"""\
        vibench: 1
        name: Fe
        params: {{n: {uses}, m: {copies}}}
        inputs: {{x: {{shape: [B, 4, L]}}}}
        blocks:
          Body:
            params: {{n: 1, k: 0}}
            inputs: {{x: {{shape: [B, C, L]}}}}
            nodes:
              r: {{block: conv1d, in: x, out_channels: 4, kernel_size: 1, for_each: "${{list(range(n))}}",
                  bias: "${{k >= 0}}"}}
              s: {{block: add, in: r}}
            outputs: {{y: s}}
        nodes:
          f: {{block: Body, in: x, for_each: "${{list(range(n))}}", n: m, k: "${{item}}"}}
          s: {{block: add, in: f}}
        outputs: {{y: s}}
        """)


def _nested(levels: int) -> str:
    """The QA's gen.py: blocks D0..Dn, each Di using D(i-1) twice, each use with a value of its own."""
    blocks = ["  D0:", "    params: {k: 1}", "    inputs: {x: {shape: [B, C, L]}}", "    nodes:",
              '      c: {block: conv1d, in: x, out_channels: 4, kernel_size: 1, bias: "${k > 0}"}',
              "    outputs: {y: c}"]
    for i in range(1, levels + 1):
        blocks += [f"  D{i}:", "    params: {k: 1}", "    inputs: {x: {shape: [B, C, L]}}", "    nodes:",
                   f'      a: {{block: D{i - 1}, in: x, k: "${{k*2}}"}}',
                   f'      b: {{block: D{i - 1}, in: a, k: "${{k*2+1}}"}}', "    outputs: {y: b}"]
    return "\n".join(["vibench: 1", "name: Nested", "inputs: {x: {shape: [B, 4, L]}}", "blocks:", *blocks,
                      "nodes:", f"  top: {{block: D{levels}, in: x}}", "outputs: {y: top}", ""])


def _counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[Any]:
    """Replace function ``owner.name`` by one that records the arguments of each call and calls it."""
    calls: list[Any] = []
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_port_of_a_parallel_node_is_found_by_its_index() -> None:
    types = [TensorType((1, k + 1)) for k in range(3)]
    copies = tuple(Instance((), None, (("y", t),), 0, 0) for t in types)
    node = Node("r", "conv1d", "primitive", (), copies, False, None, parallel=True)
    assert node.outputs == (("0", types[0]), ("1", types[1]), ("2", types[2]))
    assert [node.find_output(p) for p in ("0", "2", None)] == [types[0], types[2], types[0]]
    assert [node.find_output(p) for p in ("3", "01", "-1", "y", "٢")] == [None] * 5
    assert node.output("1") == types[1]
    with pytest.raises(KeyError):
        node.output("3")
    single = Node("c", "chunk", "primitive", (), (Instance((), None, (("a", types[0]), ("b", types[1])), 0, 0),),
                  False, None)
    assert [single.find_output(p) for p in ("b", None, "c")] == [types[1], types[0], None]


def test_shape_comments_of_a_for_each_in_a_composite_do_not_list_its_outputs_per_port(
        monkeypatch: pytest.MonkeyPatch) -> None:
    uses = copies = 12
    program = compile_program(text=_for_each_in_composite(uses, copies))
    listed: list[int] = []  # the copies each listing of a parallel node's outputs went through
    outputs = ir.Node.outputs

    def counted(node: Node) -> tuple[tuple[str, TensorType], ...]:
        if node.parallel:
            listed.append(len(node.copies))
        return outputs.fget(node)  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr(ir.Node, "outputs", property(counted))
    source = compile_source(program)
    assert source.count("nn.Conv1d(") >= 1 and "r_11 = " in source
    # Each node's outputs listed a few times per use: not once per port and use (12 * 12 * 2 listings before).
    assert len(listed) <= 4 * (uses + copies), len(listed)


def test_grouping_compares_each_pair_of_constructors_once(monkeypatch: pytest.MonkeyPatch) -> None:
    uses = copies = 10
    program = compile_program(text=_for_each_in_composite(uses, copies).replace("k >= 0", "k > 4"))
    calls = _counting(monkeypatch, structure, "matches")
    classes = structure.group(program)
    body = classes.of_unit[program.units[0].key]
    assert len(body.plans) == uses  # one class for every use: the bias differs, the code does not
    # Trees of the uses: one with bias=False, one with bias=True, shared by the copies built alike (were compared
    # copy by copy: (uses - 1) * copies = 90 comparisons).
    primitive = [args for args in calls if not isinstance(args[0], Child)]
    assert len(primitive) <= 2, len(primitive)


def test_a_chain_of_layers_is_written_once_per_node_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    levels = 6
    program = compile_program(text=_nested(levels))
    assert len(program.units) == 2 ** (levels + 1) - 1  # every use is a unit of its own
    inlined = _counting(monkeypatch, explain, "inlined")
    walked = _counting(monkeypatch, explain_literals, "differences")
    source = compile_source(program)
    assert source.count("nn.Conv1d(4, 4, kernel_size=1)") == 2 ** levels
    # Two nodes (a, b) of each level's class, written in two passes: at most 4 chains per level, not one per use
    # (2 ** levels per level before).
    assert len(inlined) <= 4 * levels, len(inlined)
    # Each anti-unification walks the uses' distinct trees, one here (all the uses' trees before: 2 ** levels).
    assert sum(len(args[0]) for args in walked) <= 4 * levels, [len(args[0]) for args in walked]


def test_a_try_that_needed_sizes_known_leaves_no_frames_behind() -> None:
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        compile_program(text=_nested(5))
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        frames = [o for o in gc.garbage if type(o).__name__ == "frame" and o.f_code.co_name == "specialize_once"]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    # Each of the 63 uses was tried first without its input size C, and that try's frames were kept (in a cycle
    # with the exception raised again for the one caught) until the collector ran: a whole nesting of them.
    assert frames == []
