"""The shapes pass as two passes over frozen IR (issue 10, item 4): elaborate, then type-check.

``elaborate`` turns a unit definition and its values into a concrete graph with no tensor types beyond
the declared inputs; ``typecheck`` types that graph. These tests drive the two functions directly:
what elaboration produces, that its result is frozen and verified, that type checking it gives the
unit the whole compiler gives, and that the errors of both passes are reported together.
"""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

import vibench
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.elaborate import elaborate
from vibench.compiler.elaborated import ElabNode, Elaborated, Failed, verify_elaborated
from vibench.compiler.ir import Ref, UnitDef
from vibench.compiler.ir_verify import verify
from vibench.compiler.pipeline import load
from vibench.compiler.resolve import Library, resolve
from vibench.compiler.shapes import _Specializer
from vibench.compiler.unit_builder import typecheck
from vibench.compiler.validate import validate

SPEC = textwrap.dedent("""\
    vibench: 1
    name: Passes
    params:
      depth: {type: int, default: 3}
      heads: {type: "dict[str, int]", default: {a: 2, b: 5}}
      extra: {type: bool, default: false}
    inputs: {x: {shape: [B, 4, L]}}
    nodes:
      stem: {block: conv1d, in: x, out_channels: 8, kernel_size: 3, padding: 1}
      skip: {block: relu, in: stem, when: "${extra}"}
      body: {block: conv1d, in: skip, out_channels: 8, kernel_size: "${2 * i + 1}", padding: "${i}", repeat: "${depth}"}
      pool: {block: mean, in: body, dim: 2}
      fan: {block: linear, in: pool, out_features: "${item}", for_each: [3, 7]}
      cat: {block: concat, in: fan, dim: 1}
      head: {block: linear, in: cat, out_features: "${item}", for_each: "${heads}"}
    outputs: {a: head.a, b: head.b}
""")


def _root(text: str) -> tuple[UnitDef, Library]:
    doc = load(text=text)
    library = Library(None)
    library.sources[doc.file] = doc.text
    return resolve(doc, validate(doc), library, None), library


def _elaborate(text: str) -> tuple[Elaborated, _Specializer]:
    root, library = _root(text)
    owner = _Specializer(library)
    owner.stack.append(root)
    return elaborate(owner, owner.graph(root), dict(root.param_values or {}), {}), owner


def test_elaboration_gives_the_concrete_graph_before_any_type() -> None:
    el, owner = _elaborate(SPEC)
    assert not owner.diags.items
    verify_elaborated(el)
    modes = {n.name: n.mode for n in el.nodes}
    assert modes == {"stem": "one", "skip": "off", "body": "repeat", "pool": "one", "fan": "each", "cat": "one",
                     "a": "one", "b": "one"}
    body = next(n for n in el.nodes if n.name == "body")
    # every copy's values evaluated with its own `i`, each located at its key
    assert [(c.values["kernel_size"], c.values["padding"]) for c in body.copies] == [(1, 0), (3, 1), (5, 2)]
    assert all(c.positions["kernel_size"] is not None and c.positions["kernel_size"].line == 11
               for c in body.copies)
    assert [c.values["out_features"] for c in next(n for n in el.nodes if n.name == "fan").copies] == [3, 7]
    assert dict(el.groups) == {"head": ("a", "b")}
    assert [c.values["out_features"] for n in el.nodes if n.name in ("a", "b") for c in n.copies] == [2, 5]
    # the switched-off node keeps its input as written, for the type checker to pass through
    skip = next(n for n in el.nodes if n.name == "skip")
    assert skip.copies == () and [str(r) for _, r, _ in skip.refs] == ["stem"]
    assert [name for name, _ in el.inputs] == ["x"]  # the only types so far: the declared inputs


def test_the_elaborated_unit_is_frozen_and_elaborating_again_gives_the_same() -> None:
    el, _ = _elaborate(SPEC)
    again, _ = _elaborate(SPEC)
    assert [(n.name, n.mode, [dict(c.values) for c in n.copies]) for n in el.nodes] == \
        [(n.name, n.mode, [dict(c.values) for c in n.copies]) for n in again.nodes]
    with pytest.raises(dataclasses.FrozenInstanceError):
        el.nodes = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        el.nodes[0].mode = "off"  # type: ignore[misc]


def test_type_checking_the_elaborated_unit_gives_the_compiled_unit() -> None:
    el, owner = _elaborate(SPEC)
    unit = typecheck(owner, el)
    verify(unit)
    compiled = vibench.check(text=SPEC).root
    assert [n.name for n in unit.nodes] == [n.name for n in compiled.nodes]
    assert [(name, str(t)) for name, _, t in unit.outputs] == [("a", "[B, 2]"), ("b", "[B, 5]")]
    assert [(name, str(t)) for name, _, t in compiled.outputs] == [("a", "[B, 2]"), ("b", "[B, 5]")]
    assert [str(t) for _, t in unit.node("body").outputs] == ["[B, 8, L]"]
    assert unit.param_count == compiled.param_count


def test_verify_elaborated_refuses_a_broken_graph() -> None:
    el, _ = _elaborate(SPEC)
    stem = el.nodes[0]
    reads_later = ElabNode(stem.nd, ((None, Ref("cat", None), None),), "one", stem.copies)
    with pytest.raises(AssertionError, match="reads cat before it exists"):
        verify_elaborated(dataclasses.replace(el, nodes=(reads_later, *el.nodes[1:])))
    with pytest.raises(AssertionError, match="switched-off node has no copies"):
        verify_elaborated(dataclasses.replace(el, nodes=(ElabNode(stem.nd, stem.refs, "off", stem.copies),
                                                         *el.nodes[1:])))


BOTH = textwrap.dedent("""\
    vibench: 1
    name: Both
    params:
      n: {type: int, default: 2}
    inputs: {x: {shape: [B, 4, L]}}
    nodes:
      a: {block: conv1d, in: x, in_channels: 5, out_channels: 8, kernel_size: 3}
      b: {block: relu, in: a, when: "${n}"}
      c: {block: conv1d, in: x, out_channels: 8, kernel_size: 3, repeat: "${n + undefined_name}"}
      d: {block: add, in: [b, c]}
    outputs: {y: d}
""")


def test_errors_of_both_passes_are_reported_together() -> None:
    """Node `a` fails type checking (E301: 4 channels, not 5); `b` (reading it) and `c` fail
    elaboration (E211, E204); `d`, reading the failed nodes, adds nothing."""
    with pytest.raises(SpecError) as err:
        vibench.check(text=BOTH)
    found = sorted((d.code, d.pos.line if d.pos else 0) for d in err.value.diagnostics if d.severity == "error")
    assert found == [("E204", 9), ("E211", 8), ("E301", 7)]


def test_a_unit_that_fails_as_a_whole_fails_in_elaboration() -> None:
    off = SPEC.replace("outputs: {a: head.a, b: head.b}", "outputs: {a: {from: head.a, when: false}}")
    with pytest.raises(Failed):
        _elaborate(off)
    with pytest.raises(SpecError) as err:
        vibench.check(text=off)
    assert err.value.codes == ["E103"]
