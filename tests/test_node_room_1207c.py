"""The node limit (E213) before any composite body is built (QA of 12-07, resource cliffs).

A chain of blocks each using the one below twice with a value of its own (`j: "${j * 2 + i}"`) is 2**k distinct bodies;
the limit was counted only once each body was specialised: 16 levels (196,607 nodes) took 33 s and 1.2 GB and ended in
E204 (the expression budget), not E213. Now each copy of a composite counts its body at its least (the `repeat`
counts it writes as numbers) before any body is built, and a body is built within the room the rest of the model
leaves it, so E213 stands at the copy that crosses the limit.
"""

from __future__ import annotations

from typing import Any

import pytest

import vibench
from tests.conftest import spec_text
from vibench.compiler import shapes
from vibench.compiler.diagnostics import Diagnostic


def _chain(levels: int, nodes: str) -> str:
    """Blocks L0..L{levels}, each using the one below twice, every use with a value of its own; ``nodes``: the
    model's nodes (L0 is one dropout: L{k} is 3 * 2**k - 2 nodes with its body)."""
    lines = ["vibench: 1", "name: N", "inputs: {x: {shape: [B, 4, L]}}", "blocks:",
             "  L0:", "    params: {j: 0}", "    inputs: {x: {shape: [B, C, L]}}",
             '    nodes: {d: {block: dropout, in: x, p: "${j * 0.000001}"}}', "    outputs: {y: d}"]
    for k in range(1, levels + 1):
        use = f'{{block: L{k - 1}, in: x, repeat: 2, j: "${{j * 2 + i}}"}}'
        lines += [f"  L{k}:", "    params: {j: 0}", "    inputs: {x: {shape: [B, C, L]}}", f"    nodes: {{d: {use}}}",
                  "    outputs: {y: d}"]
    return "\n".join(lines) + "\n" + spec_text(nodes)


def _refused(text: str, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> tuple[Diagnostic, int]:
    """The one error, and how many units were elaborated on the way (the model's own is the first)."""
    calls = []
    elaborate = shapes.elaborate

    def counted(*args: Any, **kw: Any) -> Any:
        calls.append(args[1].name)
        return elaborate(*args, **kw)

    monkeypatch.setattr(shapes, "elaborate", counted)
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, **kwargs)
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, [str(d) for d in errors]
    return errors[0], len(calls)


def test_a_use_whose_body_cannot_fit_is_refused_before_any_body_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _chain(6, "nodes:\n  a: {block: L6, in: x}\noutputs: {y: a}\n")  # 1 + 190 nodes
    d, elaborated = _refused(text, monkeypatch, max_nodes=150)
    assert elaborated == 1  # the model's unit only: none of the 127 distinct bodies below it was built
    assert (d.code, d.node, d.message) == ("E213", "a", "the model has more nodes than allowed at node `a`")
    assert d.pos is not None and d.pos.line == text.splitlines().index("  a: {block: L6, in: x}") + 1
    assert d.expected == "at most 150 nodes after expansion" and d.found == "at least 191 so far"
    assert any("`L6` is at least 191 nodes" in note for note in d.notes)
    assert vibench.check(text=text, max_nodes=191).root is not None  # the count is exact here: it fits


def test_e213_stands_at_the_use_that_crosses_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _chain(5, "nodes:\n  a: {block: L5, in: x}\n  b: {block: L5, in: a, j: 1}\noutputs: {y: b}\n")  # 95 each
    d, elaborated = _refused(text, monkeypatch, max_nodes=150)
    assert elaborated == 1 and d.node == "b" and d.found == "at least 190 so far"
    text = _chain(4, "nodes:\n  a: {block: L4, in: x, for_each: [1, 2, 3], j: item}\n"
                     "  c: {block: concat, in: a, dim: 1}\noutputs: {y: c}\n")  # 47 a copy
    d, elaborated = _refused(text, monkeypatch, max_nodes=120)
    assert elaborated == 1 and d.message == "the model has more nodes than allowed at copy 3 of 3 of node `a`"
    assert d.found == "at least 141 so far"


def test_a_body_is_built_within_the_room_the_rest_of_the_model_leaves() -> None:
    # The body's size reads its parameter: known once it is elaborated, within what `a` left (100 - 61 - 1).
    text = spec_text("""
        vibench: 1
        name: R
        inputs: {x: {shape: [B, 4, L]}}
        blocks:
          Blk:
            params: {n: 1}
            inputs: {x: {shape: [B, C, L]}}
            nodes: {d: {block: relu, in: x, repeat: "${n}"}}
            outputs: {y: d}
        nodes:
          a: {block: Blk, in: x, n: 60}
          b: {block: Blk, in: a, n: 50}
        outputs: {y: b}
    """)
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, max_nodes=100)
    (d,) = info.value.diagnostics
    assert (d.code, d.node, d.message) == ("E213", "d", "`repeat: 50` makes more nodes than a model may have")
    assert d.pos is not None and d.pos.line == 8  # in the body, before any of its 50 copies is made
    assert d.expected == "at most 100 nodes after expansion (38 left here)" and d.found == "50 copies"
    assert any("in `b`" in note for note in d.notes)
    assert vibench.check(text=text.replace("n: 50", "n: 38"), max_nodes=100).root is not None  # 61 + 39


def test_a_block_that_uses_itself_is_still_e206() -> None:
    text = spec_text("""
        vibench: 1
        name: S
        inputs: {x: {shape: [B, 4, L]}}
        blocks:
          Blk:
            inputs: {x: {shape: [B, C, L]}}
            nodes: {d: {block: Blk, in: x, repeat: 1000}}
            outputs: {y: d}
        nodes:
          a: {block: Blk, in: x, repeat: 1000}
        outputs: {y: a}
    """)
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    assert info.value.codes == ["E206"]


def test_nodes_that_may_be_switched_off_count_none_before_they_are_built() -> None:
    # Each `when`, `repeat: ${...}` or output `when` may leave nodes out: the least count is the nodes surely built.
    text = spec_text("""
        vibench: 1
        name: W
        params: {flag: false, n: 0}
        inputs: {x: {shape: [B, 4, L]}}
        blocks:
          Big:
            inputs: {x: {shape: [B, C, L]}}
            nodes: {d: {block: relu, in: x, repeat: 200}}
            outputs: {y: d}
          Blk:
            params: {flag: false, n: 0}
            inputs: {x: {shape: [B, C, L]}}
            nodes:
              a: {block: Big, in: x, when: "${flag}"}
              b: {block: Big, in: x, repeat: "${n}"}
              c: {block: Big, in: x}
              s: {block: add, in: [x, a, b]}
            outputs:
              y: s
              z: {from: c, when: "${flag}"}
        nodes:
          m: {block: Blk, in: x}
        outputs: {y: m.y}
    """)
    assert vibench.check(text=text, max_nodes=10).root is not None  # m, s and a, b switched off: 3 nodes
