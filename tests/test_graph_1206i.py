"""`--graph` pictures (issue 1206i):

- a shape pooled and joined through 11 layers is an 18,000-character formula: Graphviz refused the .dot (a
  string holds at most 16,384 characters), .svg/.png failed as a usage error for a spec that compiles, and a
  repeat of 400 copies wrote it on every edge of its page (368 MB). Shapes, names and blocks are cut to
  render.MAX_LABEL columns, as --summary cuts its cells, and the page names each shape once;
- the .html page at --depth N did not open the copies of a repeat at the last level, which the .dot draws
  open; it opens exactly the groups the .dot draws;
- a one-copy repeat/for_each was framed `net`, not `net.0` (docs/cli.md: copies numbered even when one);
- a cluster without a doc took the tooltip of the one around it (Graphviz passes it down): tooltip="";
- the page merged parallel edges (a for_each's copies into one concat drawn as one edge); it draws the
  .dot's edges, one per input, however many copies of a closed composite that input feeds;
- `(1 more characters)`; docs/cli.md names every --graph suffix and says Mermaid has no tooltips.

The page's data is checked with a reading of its script (:func:`_page_state`); where node is installed, the
page's own script runs under tests/graph_page_harness.js too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from vibench.compiler import render
from vibench.compiler.cli import main
from vibench.compiler.render_view import MAX_LABEL, label


def _long_spec(layers: int) -> str:
    """A length pooled and joined through ``layers`` layers: its formula doubles each time."""
    nodes, previous = [], "x"
    for k in range(layers):
        nodes += [f"  p{k}: {{block: max_pool1d, in: {previous}, kernel_size: 3, stride: 3}}",
                  f"  c{k}: {{block: concat, in: [{previous}, p{k}], dim: 2}}"]
        previous = f"c{k}"
    return ("vibench: 1\nname: Long\nblocks:\n  Chain:\n    inputs: {x: {shape: [B, C, L]}}\n    nodes:\n"
            "      r0: {block: relu, in: x}\n      r1: {block: relu, in: r0}\n    outputs: {y: r1}\n"
            "inputs: {x: {shape: [B, 4, L]}}\nnodes:\n" + "\n".join(nodes)
            + f"\n  stack: {{block: Chain, in: {previous}, repeat: 20}}\noutputs: {{y: stack}}\n")


FE = """\
vibench: 1
name: FE
blocks:
  Br:
    params: {c: {type: int}}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      a: {block: conv1d, in: x, out_channels: "${c}", kernel_size: 1}
    outputs: {y: a}
inputs:
  x: {shape: [B, 4, L]}
nodes:
  rep: {block: Br, in: x, c: 4, repeat: 3}
  br: {block: Br, in: rep, for_each: [2, 3, 5], c: "${item}"}
  cat: {block: concat, in: br, dim: 1}
  one: {block: Br, in: x, c: 4, repeat: 1}
  solo: {block: Br, in: x, for_each: [6], c: "${item}"}
outputs:
  o1: cat
  o2: one
  o3: solo.0
"""

TIP = """\
vibench: 1
name: Tip
blocks:
  In:
    inputs: {x: {shape: [B, C]}}
    nodes: {r: {block: relu, in: x}}
    outputs: {y: r}
  Out:
    inputs: {x: {shape: [B, C]}}
    nodes: {inner: {block: In, in: x}}
    outputs: {y: inner}
inputs: {x: {shape: [B, 4]}}
nodes:
  outer: {block: Out, in: x, doc: OUTER DOC}
outputs: {y: outer}
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path / name)


def _graph(spec: str, out: Path, depth: int, capsys: pytest.CaptureFixture[str]) -> str:
    assert main([spec, "--graph", str(out), "--depth", str(depth)]) == 0, capsys.readouterr().err
    return out.read_text(encoding="utf-8")


def _data(page: str) -> dict[str, Any]:
    return json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)[1])


def _page_state(data: dict[str, Any]) -> tuple[list[str], list[str], list[tuple[str, str, str]]]:
    """What the page's script draws at first (templates/graph.html.j2, draw()): frames, boxes and edges (from
    box, to box, shape), by their labels."""
    parent: dict[str, str | None] = {}
    by_id: dict[str, dict[str, Any]] = {}

    def index(items: list[dict[str, Any]], up: str | None) -> None:
        for it in items:
            by_id[it["id"]], parent[it["id"]] = it, up
            index(it.get("children", []), it["id"])

    index(data["items"], None)
    opened = {i for i, it in by_id.items() if it.get("open")}
    frames: list[str] = []
    boxes: list[str] = []

    def collect(items: list[dict[str, Any]]) -> None:
        for it in items:
            if it["kind"] == "group" and it["id"] in opened:
                frames.append(it["id"])
                collect(it["children"])
            else:
                boxes.append(it["id"])

    collect(data["items"])

    def visible(box: str) -> str:
        shown, up = box, parent[box]
        while up is not None:
            if up not in opened:
                shown = up
            up = parent[up]
        return shown

    edges, seen = [], set()
    for a, b, shape, wire in data["edges"]:
        s, t = visible(a), visible(b)
        if s != t and s in boxes and t in boxes and (s, t, wire) not in seen:
            seen.add((s, t, wire))
            edges.append((s, t, data["shapes"][shape]))

    def text(box: str) -> str:  # as the .dot labels a box: a closed composite by its node's name
        it = by_id[box]
        name = it["name"].rsplit(".", 1)[-1] if it["kind"] == "group" else it["name"]
        return name + (f"\\n{it['detail']}" if it["detail"] else "")

    return ([f"{by_id[f]['name']}\\n{by_id[f]['detail']}" for f in frames], [text(b) for b in boxes],
            [(text(s), text(t), shape) for s, t, shape in edges])


def _dot_state(dot: str) -> tuple[list[str], list[str], list[tuple[str, str, str]]]:
    """The .dot's clusters, boxes and edges by their labels."""
    names = dict(re.findall(r'^\s*(n\d+) \[label="([^"]*)"', dot, re.M))
    edges = [(names[a], names[b], shape) for a, b, shape in re.findall(r'^\s*(n\d+) -> (n\d+) \[label="([^"]*)"', dot,
                                                                        re.M)]
    return re.findall(r'label="([^"]*)"; style', dot), list(names.values()), edges


# -- long shapes --------------------------------------------------------------------------------------------


def test_a_long_shape_is_cut_in_every_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, "long.yaml", _long_spec(11))
    dot = _graph(spec, tmp_path / "g.dot", 1, capsys)
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', dot)
    assert max(len(s) for s in strings) <= 5 * MAX_LABEL  # Graphviz takes 16,384 (escaped: 5 a character)
    shapes = re.findall(r'-> n\d+ \[label="([^"]*)"', dot)
    assert any(s.endswith("...") and len(s) == MAX_LABEL for s in shapes)
    mermaid = _graph(spec, tmp_path / "g.mmd", 1, capsys)
    assert max(len(line) for line in mermaid.splitlines()) < 10 * MAX_LABEL
    page = _graph(spec, tmp_path / "g.html", 0, capsys)
    data = _data(page)
    assert max(len(s) for s in data["shapes"]) == MAX_LABEL
    # the repeat's 20 copies name their shapes (the same ones) by number: the page grows with its boxes only
    assert len(data["shapes"]) < 30 and len(data["edges"]) > 60
    assert len(page) < 15_000 + 300 * len(data["edges"]), len(page)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_draws_a_long_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, "long.yaml", _long_spec(11))
    svg = _graph(spec, tmp_path / "g.svg", 1, capsys)
    assert "<svg" in svg and "...</text>" in svg


def test_label_cuts_by_columns_and_characters() -> None:
    assert label("[B, 4, L]") == "[B, 4, L]"
    long = "[B, " + "L + " * 100 + "L]"
    assert label(long) == long[:MAX_LABEL - 3] + "..."
    wide = label("卷" * 150)  # two columns each
    assert wide == "卷" * ((MAX_LABEL - 3) // 2) + "..."
    marks = label("a" + "\u0301" * 10_000)  # marks take no column, but are characters
    assert len(marks) == MAX_LABEL and marks.endswith("...")


def test_tooltip_counts_one_more_character() -> None:
    assert render.tooltip("a" * (render.MAX_DOC + 1)).endswith("... (1 more character)")
    assert render.tooltip("a" * (render.MAX_DOC + 2)).endswith("... (2 more characters)")


# -- the page opens what the .dot draws, and draws its edges ------------------------------------------------


@pytest.mark.parametrize(("spec", "depth"), [("cnn/ResNet1D", 1), ("cnn/ResNet1D", 2), ("fe", 0), ("fe", 1),
                                             ("fe", 2), ("tip", 1), ("isfm/backbone/B_10_VIBT", 1)])
def test_the_page_starts_as_the_dot_draws(spec: str, depth: int, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    if spec in ("fe", "tip"):
        spec = _write(tmp_path, f"{spec}.yaml", FE if spec == "fe" else TIP)
    frames, boxes, edges = _page_state(_data(_graph(spec, tmp_path / "g.html", depth, capsys)))
    dot_frames, dot_boxes, dot_edges = _dot_state(_graph(spec, tmp_path / "g.dot", depth, capsys))
    assert sorted(frames) == sorted(dot_frames)
    assert sorted(boxes) == sorted(dot_boxes)
    assert sorted(edges) == sorted(dot_edges)


def test_the_page_keeps_parallel_edges_and_merges_a_copied_input(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, "fe.yaml", FE)
    _, _, edges = _page_state(_data(_graph(spec, tmp_path / "g.html", 0, capsys)))
    into_cat = sorted(shape for _, target, shape in edges if target == "cat\\nconcat")
    assert into_cat == ["[B, 2, L]", "[B, 3, L]", "[B, 5, L]"]  # one per copy of the for_each
    into_br = [source for source, target, _ in edges if target == "br\\nfor_each: Br"]
    assert into_br == ["rep\\nBr x3"]  # `rep` feeds each of the 3 copies: one edge while they are closed


def test_a_one_copy_repeat_or_for_each_is_numbered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, "fe.yaml", FE)
    dot = _graph(spec, tmp_path / "g.dot", 1, capsys)
    assert 'label="one.0\\nBr"' in dot and 'label="solo.0\\nBr"' in dot
    assert "one.0: Br" in _graph(spec, tmp_path / "g.mmd", 1, capsys)


def test_a_cluster_without_a_doc_has_no_tooltip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, "tip.yaml", TIP)
    dot = _graph(spec, tmp_path / "g.dot", 2, capsys)
    assert 'label="outer\\nOut"; style="rounded,dashed"; color="#7a8aa6"; tooltip="OUTER DOC";' in dot
    assert 'label="outer.inner\\nIn"; style="rounded,dashed"; color="#7a8aa6"; tooltip="";' in dot
    if shutil.which("dot") is not None:
        assert _graph(spec, tmp_path / "g.svg", 2, capsys).count("OUTER DOC") == 1


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(("spec", "depth"), [("cnn/ResNet1D", 1), ("fe", 0)])
def test_the_pages_script_draws_what_the_dot_draws(spec: str, depth: int, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    if spec == "fe":
        spec = _write(tmp_path, "fe.yaml", FE)
    _graph(spec, tmp_path / "g.html", depth, capsys)
    run = subprocess.run(["node", os.path.join(ROOT, "tests", "graph_page_harness.js"), str(tmp_path / "g.html")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    drawn = json.loads(run.stdout)["initial"]
    dot_frames, dot_boxes, dot_edges = _dot_state(_graph(spec, tmp_path / "g.dot", depth, capsys))
    assert sorted(drawn["frames"]) == sorted("\u2212 " + f.replace("\\n", ": ") for f in dot_frames)
    boxes = [b.replace(" | ", "\\n") for b in drawn["boxes"]]
    boxes = [b[2:].split("\\n")[0].rsplit(".", 1)[-1] + "\\n" + b.split("\\n")[1] if b.startswith("+ ") else b
             for b in boxes]  # a closed composite: its path and block; the .dot's box: its name and block
    assert sorted(boxes) == sorted(dot_boxes)
    assert sorted(drawn["edges"]) == sorted(shape for _, _, shape in dot_edges)
    assert drawn["clashes"] == 0


# -- docs -----------------------------------------------------------------------------------------------------


def test_the_graph_row_names_every_suffix() -> None:
    cli_md = (Path(ROOT) / "docs" / "cli.md").read_text(encoding="utf-8")
    row = next(line for line in cli_md.splitlines() if line.startswith("| `--graph FILE`"))
    for suffix in render.GRAPH_SUFFIXES:
        assert f"`{suffix}`" in row, suffix
    assert "not in Mermaid" in row and "needs a stem" in row


def test_the_page_spreads_no_list_into_a_call() -> None:
    # `Math.min(...inner.map(...))` over a frame of some 100,000 boxes overflowed the call stack (RangeError:
    # nothing was drawn), and filtering every box for each frame made the first draw frames x boxes: the page's
    # script takes extents in one walk up from each box.
    import re
    from pathlib import Path

    import vibench.compiler.render as render_module

    page = Path(render_module.__file__).with_name("templates") / "graph.html.j2"
    script = page.read_text(encoding="utf-8")
    assert not re.search(r"Math\.(min|max)\(\s*\.\.\.", script)
    assert "boxes.filter(" not in script
