"""Aliases nest what they name where they stand: a chain `&a1 [*a0], &a2 [*a1], ...` is two levels as written and
as deep as the chain once read. The loader bounded only the written depth, so a 440-link chain (8 KB, within the
alias size budget) reached the passes 440 levels deep and ended in a RecursionError traceback (names.py); the
expanded depth is now bounded as the written one is (64 levels, E002), at the alias that crosses it."""

from __future__ import annotations

import pytest

from vibench.compiler.diagnostics import SpecError
from vibench.compiler.load import load_text
from vibench.compiler.load_compose import MAX_DEPTH


def chain(links: int) -> str:
    return ", ".join(["&a0 [0]", *(f"&a{i} [*a{i - 1}]" for i in range(1, links))])


def spec(value: str) -> str:
    node = f"{{block: linear, in: x, out_features: 2, extra: [{value}]}}"
    return f"vibench: 1\nname: T\ninputs:\n  x: {{shape: [B, 4]}}\nnodes:\n  a: {node}\noutputs:\n  y: a\n"


def depth(value: object) -> int:
    level = 0
    while isinstance(value, list) and value:
        value, level = value[-1], level + 1
    return level


@pytest.mark.parametrize("links", [80, 440])
def test_a_chain_of_aliases_deeper_than_the_limit_is_e002_at_the_alias_that_crosses_it(links: int) -> None:
    text = spec(chain(links))
    with pytest.raises(SpecError) as caught:
        load_text(text, "t.yaml")
    (d,) = caught.value.diagnostics
    assert d.code == "E002" and "once its aliases are expanded" in d.message
    assert d.pos is not None and d.pos.line == 6
    # the alias of the first link that nests past the limit: `extra: [...]` and the node's mapping hold it
    crossing = text.splitlines()[5].index("*a")
    assert d.pos.col > crossing


def test_a_chain_within_the_limit_loads_as_deep_as_it_reads() -> None:
    links = MAX_DEPTH - 8  # nodes, a, extra and the document hold the chain
    doc = load_text(spec(chain(links)), "t.yaml")
    assert depth(doc.data["nodes"]["a"]["extra"]) == links + 1


def test_an_alias_of_a_deep_mapping_inside_a_mapping_counts_its_levels() -> None:
    deep = "{k: " * 40 + "1" + "}" * 40  # 40 levels, within the limit where it is written
    holder = "{k: " * 30 + "*d" + "}" * 30  # 30 more where it is read
    text = f"vibench: 1\nname: T\nd: &d {deep}\ne: {holder}\n"
    with pytest.raises(SpecError) as caught:
        load_text(text, "t.yaml")
    assert [d.code for d in caught.value.diagnostics] == ["E002"]
    shallow = "{k: " * 20 + "*d" + "}" * 20  # 40 + 20 + the document: within the limit
    doc = load_text(f"vibench: 1\nname: T\nd: &d {deep}\ne: {shallow}\n", "t.yaml")
    assert doc.data["e"]["k"]["k"] is not None


def test_aliases_of_shallow_values_stay_free() -> None:
    text = "vibench: 1\nname: T\nw: &w [1, 2]\nv: &v {a: *w, b: *w}\nu: [*v, *v, [*v, [*v]]]\n"
    doc = load_text(text, "t.yaml")
    assert doc.data["u"][2][1][0] == {"a": [1, 2], "b": [1, 2]}
