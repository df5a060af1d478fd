"""The expression budget under a lowered node limit, and two docs sentences that were false (QA of 12-07).

- ``--max-nodes`` at a model's node count refused every library template that spends more than ten
  expression steps per node (cnn/MobileNet1D, 183 nodes, up to ``--max-nodes 380``; isfm/M_01_ISFM at 32),
  with an E204 at an expression of the template's own and a hint to rewrite it: the budget, ten steps per
  allowed node, now has a floor (``limits.MIN_EXPRESSION_STEPS``), and an E204 below the default budget
  says that it follows ``--max-nodes`` / ``max_nodes=``.
- docs/errors.md said every code is triggered by a file in tests/broken/ (not E004, E114, nor any W or I).
- docs/performance.md named a table file that no run writes.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

import vibench
from tests.helpers import ROOT
from vibench.compiler import cli, expr, limits
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.listing_check import node_count
from vibench.compiler.resolve import LIBRARY_DIR

TEMPLATES = sorted(
    os.path.relpath(os.path.join(folder, name), LIBRARY_DIR)[: -len(".yaml")]
    for folder, _, files in os.walk(LIBRARY_DIR)
    for name in files
    if name.endswith(".yaml")
)


def _node_limit(name: str) -> int:
    """The least node limit ``name`` compiles under, as the compiler counts: the nodes of the model it builds
    (``listing_check.node_count``), or those its file declares where more (a node dropped by `when:` counts: the
    compile refuses a file that declares more nodes than the limit before it elaborates one)."""
    with open(os.path.join(LIBRARY_DIR, name + ".yaml"), encoding="utf-8") as fh:
        declared = len(yaml.safe_load(fh).get("nodes") or ())
    return max(node_count(vibench.check(name).root, {}), declared)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_library_template_compiles_with_the_node_limit_at_its_node_count(name: str) -> None:
    """One node less is E213 (the count is the compiler's), never E204."""
    count = _node_limit(name)
    for margin in (0, 2):
        assert vibench.check(name, max_nodes=count + margin).root is not None
    with pytest.raises(SpecError) as info:
        vibench.check(name, max_nodes=count - 1)
    assert "E204" not in info.value.codes and "E213" in info.value.codes


def test_the_cli_checks_mobilenet_at_its_node_count(capsys: pytest.CaptureFixture[str]) -> None:
    """The reported case: 183 nodes (docs/cli.md), `--max-nodes 300` was E204 in the template's `project` node."""
    assert cli.main(["cnn/MobileNet1D", "--check", "--max-nodes", "183"]) == 0
    assert cli.main(["isfm/M_01_ISFM", "--check", "--max-nodes", "18"]) == 0
    assert "MobileNet1D" in capsys.readouterr().out


def _let_bomb(values: int, size: int) -> str:
    """A one-node model whose `let` values each build a list of ``size`` elements (about 3 steps an element)."""
    lets = "\n".join(f'  c{k}: "${{len([j for j in range({size})]) + {k}}}"' for k in range(values))
    return (f"vibench: 1\nname: Bomb\nlet:\n{lets}\ninputs: {{x: {{shape: [B, 4, L]}}}}\n"
            f'nodes:\n  conv: {{block: conv1d, in: x, out_channels: "${{c0 - {size} + 4}}", kernel_size: 1}}\n'
            "outputs: {y: conv}\n")


def test_the_floor_still_bounds_a_hostile_spec_and_says_to_raise_the_node_limit() -> None:
    with pytest.raises(SpecError) as info:  # 40 values of about 12,000 steps: past the floor at any small limit
        vibench.check(text=_let_bomb(40, 4000), max_nodes=1)
    d = info.value.diagnostics[0]
    assert info.value.codes == ["E204"]
    assert f"(limit {limits.MIN_EXPRESSION_STEPS:,} per compilation)" in d.message
    assert d.hint is not None and "--max-nodes" in d.hint and "max_nodes=" in d.hint and "raise" in d.hint
    assert vibench.check(text=_let_bomb(40, 4000)).root.name == "Bomb"  # the default budget takes it


def test_the_budget_is_ten_steps_per_node_above_the_floor() -> None:
    text = _let_bomb(6, 4000)  # about 72,000 steps: within 10,000 nodes' 100,000, beyond 5,000 nodes' 50,000
    assert vibench.check(text=text, max_nodes=10_000).root.name == "Bomb"
    with pytest.raises(SpecError) as info:
        vibench.check(text=text, max_nodes=5_000)
    assert info.value.codes == ["E204"] and "(limit 50,000 per compilation)" in info.value.diagnostics[0].message


def test_a_budget_at_the_default_keeps_its_hint_about_copies() -> None:
    cost = "len([i for i in range(20000)])"  # about 60,000 steps
    with expr.budget(), pytest.raises(expr.ExprError) as info:
        for _ in range(20):
            expr.evaluate_value(expr.parse_template("${" + cost + "}", None), {})
    assert info.value.hint is not None and "repeat" in info.value.hint and "max-nodes" not in info.value.hint
    with expr.budget(10), pytest.raises(expr.ExprError) as info:  # a budget below the floor gets the floor
        for _ in range(20):
            expr.evaluate_value(expr.parse_template("${len([i for i in range(2000)])}", None), {})
    assert f"limit {limits.MIN_EXPRESSION_STEPS:,} per" in info.value.message


def test_the_help_and_docs_say_the_budget_follows_the_node_limit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    helped = " ".join(capsys.readouterr().out.split())
    assert "10 steps per allowed node, at least 20,000" in helped
    docs = {name: " ".join((Path(ROOT) / "docs" / name).read_text(encoding="utf-8").split())
            for name in ("cli.md", "errors.md", "language.md")}
    for name, text in docs.items():
        assert "10 steps per allowed node, at least 20,000" in text, name
    assert limits.MIN_EXPRESSION_STEPS == 20_000 and limits.STEPS_PER_NODE == 10


def _diagnostics_exceptions() -> set[str]:
    source = (Path(ROOT) / "tests" / "test_diagnostics.py").read_text(encoding="utf-8")
    block = source[source.index("COVERED_ELSEWHERE = {"):]
    return set(re.findall(r'^\s+"(E\d{3})":', block[: block.index("}")], flags=re.M))


def test_the_errors_doc_says_which_codes_tests_broken_triggers() -> None:
    doc = (Path(ROOT) / "docs" / "errors.md").read_text(encoding="utf-8")
    intro = " ".join(doc[: doc.index("## E001")].split())
    assert "Every code below is triggered" not in intro
    said = set(re.search(r"Every error code below but ([^.]*?) is triggered", intro).group(1).split(" and "))
    assert said == _diagnostics_exceptions()
    broken = (Path(ROOT) / "tests" / "broken").rglob("*")
    corpus = " ".join(p.read_text(encoding="utf-8", errors="replace") for p in broken if p.is_file())
    assert not re.search(r"# expect: [WI]\d", corpus)  # "No warning (W) or note (I) is in tests/broken/"
    tests = " ".join(p.read_text(encoding="utf-8") for p in (Path(ROOT) / "tests").glob("test_*.py")
                     if p.name != "test_budget_1207.py")
    others = {code for heading in re.findall(r"^## ([WI]\d{3}(?:, [WI]\d{3})*)", doc, flags=re.M)
              for code in heading.split(", ")}
    assert len(others) > 20 and not {code for code in others if code not in tests}
    warned = {m for p in (Path(ROOT) / "tests" / "warnings").glob("*.yaml")
              for m in re.findall(r"# expect: ([WI]\d{3})", p.read_text(encoding="utf-8"))}
    assert warned == {"W105", "W106", "I104"} and "W105, W106 and I104 have files in `tests/warnings/`" in intro


def test_the_performance_doc_names_the_file_forward_py_writes() -> None:
    doc = " ".join((Path(ROOT) / "docs" / "performance.md").read_text(encoding="utf-8").split())
    assert "forward_1205d.json" not in doc
    script = (Path(ROOT) / "benchmarks" / "forward.py").read_text(encoding="utf-8")
    default = re.search(r'"--out", default=os\.path\.join\(ROOT, ([^)]*)\)', script).group(1)
    path = "/".join(json.loads(f"[{default}]"))
    assert path == "benchmarks/out/forward.json" and f"`{path}`, forward.py's `--out` default" in doc
    makefile = (Path(ROOT) / "Makefile").read_text(encoding="utf-8")
    benchmarks = makefile[makefile.index("BENCHMARKS ="):makefile.index("\ngolden:")]
    assert "forward.py" in benchmarks and "--out" not in benchmarks  # `make bench` runs forward.py with its default
