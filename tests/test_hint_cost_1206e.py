"""A "did you mean" costs a bounded amount of work per pass, however many names are unknown.

5,000 nodes reading misspelt names (`in: nodx_17`) took 208 s: one difflib lookup among 2,000 candidates
per reference, although only the first 50 diagnostics are shown. The graph pass shares one
:class:`~vibench.compiler.diagnostics.Suggestions` among its unknown names: the first ones (in source
order) get their suggestion, the later ones the list of defined names, and every one is still reported.
"""

from __future__ import annotations

import difflib

import pytest

import vibench
from vibench.compiler.suggestions import MAX_SUGGEST_POOL, MAX_SUGGEST_WORK, Suggestions, suggest


def _typos(nodes: int, typos: int) -> str:
    """``nodes`` relu nodes; the last ``typos`` of them read `nodx_<k>` (meant: node_<k>)."""
    lines = ["vibench: 1", "name: T", "inputs: {x: {shape: [B, 4, L]}}", "nodes:"]
    for k in range(nodes):
        source = f"nodx_{k - 1}" if k >= nodes - typos else "x"
        lines.append(f"  node_{k}: {{block: relu, in: {source}}}")
    return "\n".join([*lines, f"outputs: {{y: node_{nodes - 1}}}", ""])


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = difflib.get_close_matches

    def counting(word, possibilities, n=3, cutoff=0.6):  # type: ignore[no-untyped-def]
        seen.append(word)
        return real(word, possibilities, n, cutoff)

    monkeypatch.setattr(difflib, "get_close_matches", counting)
    return seen


def test_the_graph_pass_bounds_its_lookups_and_reports_every_unknown_name(lookups: list[str]) -> None:
    typos = 60
    with pytest.raises(vibench.SpecError) as caught:
        vibench.check(text=_typos(MAX_SUGGEST_POOL, typos))
    diags = caught.value.diagnostics
    assert [d.code for d in diags] == ["E401"] * typos
    suggested = MAX_SUGGEST_WORK // MAX_SUGGEST_POOL
    assert len(lookups) == suggested
    first = MAX_SUGGEST_POOL - typos
    for k, d in enumerate(diags):
        assert d.message == f"node `node_{first + k}` reads unknown value `nodx_{first + k - 1}`"
        if k < suggested:  # the first ones, which the command line shows
            assert d.hint == f"did you mean `node_{first + k - 1}`?"
        else:
            assert d.hint is not None and d.hint.startswith("names defined in model `T`: `node_0`, `node_1`")


def test_the_messages_are_the_same_at_every_run() -> None:
    texts = []
    for _ in range(2):
        with pytest.raises(vibench.SpecError) as caught:
            vibench.check(text=_typos(MAX_SUGGEST_POOL, 60))
        texts.append(caught.value.render(limit=None))
    assert texts[0] == texts[1]


def test_suggestions_agree_with_suggest_while_the_work_lasts() -> None:
    names = [f"layer_{k}" for k in range(30)] + ["conv", "Linear", "relu"]
    many = Suggestions(names)
    for name in ("layr_3", "lineer", "RELU", "conv2", "softmax", "x" * 200):
        assert many.hint(name) == suggest(name, names)


def test_spent_suggestions_keep_only_a_match_but_for_case() -> None:
    names = ["conv", "Linear", "relu"]
    spent = Suggestions(names, work=len(names))  # one lookup
    assert spent.hint("lineer") == "did you mean `Linear`?"
    assert spent.hint("relu6") is None  # close, but the work is spent
    assert spent.hint("LINEAR") == "did you mean `Linear`?"
    assert spent.closest("conv") == "conv"


def test_the_module_examples_run() -> None:
    import doctest

    import vibench.compiler.suggestions as module

    result = doctest.testmod(module)
    assert result.attempted and not result.failed
