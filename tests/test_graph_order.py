"""The graph pass's two ways to order a unit: specs whose nodes read only earlier nodes keep their
order without networkx; others are ordered by networkx (ties by spec order). Both find the same dead
nodes (E403)."""

from __future__ import annotations

import pytest

import vibench
from vibench.compiler import graph

HEAD = "vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\nnodes:\n"


def _names(text: str) -> list[str]:
    return [n.name for n in vibench.check(text=text).root.nodes]


def test_graph_order_in_spec_order_without_networkx(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("networkx path taken for a spec already in order")

    monkeypatch.setattr(graph, "_analyse", refuse)
    text = HEAD + ("  a: {block: linear, in: x, out_features: 3}\n  b: {block: relu, in: a}\n"
                   "  c: {block: add, in: [b, a]}\noutputs: {y: c}\n")
    assert _names(text) == ["a", "b", "c"]


def test_graph_order_of_nodes_that_read_later_ones() -> None:
    text = HEAD + ("  c: {block: add, in: [b, a]}\n  b: {block: relu, in: a}\n"
                   "  a: {block: linear, in: x, out_features: 3}\n  d: {block: relu, in: x}\noutputs: {y: c, z: d}\n")
    assert _names(text) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("reverse", [False, True])
def test_graph_dead_nodes_found_either_way(reverse: bool) -> None:
    lines = ["  a: {block: relu, in: x}\n", "  dead1: {block: relu, in: a}\n", "  dead2: {block: relu, in: dead1}\n",
             "  b: {block: relu, in: a}\n"]
    text = HEAD + "".join(reversed(lines) if reverse else lines) + "outputs: {y: b}\n"
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    assert sorted((d.code, d.node) for d in info.value.diagnostics) == [("E403", "dead1"), ("E403", "dead2")]
