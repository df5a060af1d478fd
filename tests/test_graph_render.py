"""Pictures of a graph (`--graph out.html|.svg|.png|.dot|.mmd`, `--depth N`) and `--summary --depth N`.

Spec text is untrusted: a spec whose docs hold `</script><script>alert(1)</script>` and quotes must
come out inert in every format (one escaping function, vibench.compiler.render.escape). The HTML
page's script is run under a stand-in DOM with node (tests/graph_page_harness.js) when node is
installed: it draws the boxes, the shapes on the edges, and expands and collapses composites.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT
from vibench.compiler import cli, render, render_graphviz
from vibench.compiler.cli import main

PAYLOAD = '</script><script>alert(1)</script> "quoted" \'single\' & <b>'

HOSTILE = f"""\
vibench: 1
name: Hostile
doc: {json.dumps(PAYLOAD)}
blocks:
  Pair:
    doc: {json.dumps(PAYLOAD)}
    params:
      width: {{type: int}}
    inputs:
      x: {{shape: [B, C, L], doc: {json.dumps(PAYLOAD)}}}
    nodes:
      conv: {{block: conv1d, in: x, out_channels: "${{width}}", kernel_size: 3, padding: 1,
              doc: {json.dumps(PAYLOAD)}}}
      act: {{block: relu, in: conv}}
    outputs: {{y: act}}
inputs:
  x: {{shape: [B, 2, L], doc: {json.dumps(PAYLOAD)}}}
nodes:
  stem: {{block: conv1d, in: x, out_channels: 8, kernel_size: 3, doc: {json.dumps(PAYLOAD)}}}
  pairs: {{block: Pair, in: stem, width: 8, repeat: 2, doc: {json.dumps(PAYLOAD)}}}
  pool: {{block: adaptive_avg_pool1d, in: pairs, output_size: 1}}
outputs:
  y: {{from: pool, doc: {json.dumps(PAYLOAD)}}}
"""


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hostile.yaml").write_text(HOSTILE, encoding="utf-8")
    return tmp_path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


# -- escaping ----------------------------------------------------------------------------------


def test_escape_makes_text_inert_in_every_format() -> None:
    html = render.escape(PAYLOAD, "html")
    assert "<" not in html and ">" not in html and '"' not in html and "'" not in html
    assert render.escape(PAYLOAD, "script").count("<") == 0
    dot = render.escape('a "b" \\ c\nd <i>', "dot")
    assert dot == 'a \\"b\\" \\\\ c\\nd &#60;i&#62;'
    mermaid = render.escape(PAYLOAD, "mermaid")
    assert not set('"<>[]{}()|`') & set(mermaid)


@pytest.mark.parametrize("suffix", [".html", ".dot", ".mmd", ".md"])
def test_hostile_docs_stay_inert(hostile: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(["hostile.yaml", "--graph", f"g{suffix}", "--depth", "2"], capsys)
    assert rc == 0, err
    text = (hostile / f"g{suffix}").read_text(encoding="utf-8")
    assert "alert(1)" in text or suffix in (".mmd", ".md")  # docs reach the page's tooltips
    assert "<script>alert" not in text and "</script><script>" not in text
    if suffix != ".html":
        assert "<" not in text.replace("-->", "")
    if suffix == ".html":
        # exactly the page's own two scripts; the data is JSON that parses back to the docs
        assert text.count("<script") == 2 and text.count("</script>") == 2
        data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S)[1])
        docs = [data["docs"][i["doc"]] for i in _items(data["items"]) if "doc" in i]  # each written once
        assert PAYLOAD in docs
    if suffix == ".dot":
        for line in text.splitlines():  # every quoted string is closed on its line: no attribute escapes
            assert len(re.findall(r'(?<!\\)"', line)) % 2 == 0, line


def _items(items: list[dict]) -> list[dict]:
    out = []
    for item in items:
        out.append(item)
        out += _items(item.get("children", []))
    return out


# -- the formats ---------------------------------------------------------------------------------


def test_depth_expands_composites_with_shapes_on_edges(hostile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["hostile.yaml", "--graph", "flat.dot"], capsys)[0] == 0
    assert _run(["hostile.yaml", "--graph", "deep.dot", "--depth", "1"], capsys)[0] == 0
    flat = (hostile / "flat.dot").read_text()
    deep = (hostile / "deep.dot").read_text()
    assert "cluster" not in flat and 'label="pairs\\nPair x2"' in flat
    assert deep.count("subgraph") == 3  # pairs, and each of its two copies
    assert 'label="pairs.0\\nPair"' in deep and 'label="pairs.1\\nPair"' in deep
    # edges carry the shapes in the model's symbols, inside the composite too
    assert deep.count('[label="[B, 8, L - 2]"]') >= 6
    assert '[label="[B, 8, 1]"]' in deep


def test_mermaid_and_markdown_keep_working(hostile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["hostile.yaml", "--graph", "g.mmd", "--depth", "1"], capsys)[0] == 0
    assert _run(["hostile.yaml", "--graph", "g.md"], capsys)[0] == 0
    mmd = (hostile / "g.mmd").read_text()
    assert mmd.startswith("flowchart TD\n") and "subgraph" in mmd and mmd.count("end\n") == 3
    assert (hostile / "g.md").read_text().startswith("```mermaid\nflowchart TD\n")


def test_html_page_is_self_contained(hostile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["hostile.yaml", "--graph", "g.html"], capsys)[0] == 0
    page = (hostile / "g.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(src|href)\s*=", page), "the page loads nothing"
    assert "http://" not in page.replace('"http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "default-src 'none'" in page  # and may load nothing either


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_html_page_draws_and_toggles_composites(hostile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["hostile.yaml", "--graph", "g.html"], capsys)[0] == 0
    run = subprocess.run(["node", os.path.join(ROOT, "tests", "graph_page_harness.js"), str(hostile / "g.html")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    drawn = json.loads(run.stdout)
    assert drawn["title"] == "Hostile"
    first = drawn["initial"]
    assert first["boxes"] == ["x", "stem | conv1d", "+ pairs | Pair x2", "pool | adaptive_avg_pool1d", "y"]
    assert first["frames"] == [] and set(first["edges"]) == {"[B, 2, L]", "[B, 8, L - 2]", "[B, 8, 1]"}
    assert PAYLOAD in first["titles"]  # docs as tooltips, set as text
    clicked = drawn["clicked"]  # the composite box opened: its two copies, still closed
    assert clicked["frames"] == ["\u2212 pairs: Pair x2"]
    assert "+ pairs.0 | Pair" in clicked["boxes"] and "+ pairs.1 | Pair" in clicked["boxes"]
    expanded = drawn["expanded"]
    assert len(expanded["frames"]) == 3 and expanded["boxes"].count("conv | conv1d") == 2
    assert expanded["edges"].count("[B, 8, L - 2]") >= 6
    assert drawn["collapsed"]["boxes"] == first["boxes"]
    assert [drawn[k]["clashes"] for k in ("initial", "clicked", "expanded", "collapsed")] == [0, 0, 0, 0]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("spec", ["cnn/ResNet1D", "transformer/Autoformer"])
def test_html_page_lays_out_library_models(spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Boxes never overlap, and every expanded composite's frame holds whole boxes and nests."""
    page = tmp_path / "g.html"
    assert _run([spec, "--graph", str(page), "--depth", "1"], capsys)[0] == 0
    run = subprocess.run(["node", os.path.join(ROOT, "tests", "graph_page_harness.js"), str(page)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    drawn = json.loads(run.stdout)
    assert len(drawn["expanded"]["frames"]) > len(drawn["initial"]["frames"]) > 0
    assert [drawn[k]["clashes"] for k in ("initial", "clicked", "expanded", "collapsed")] == [0, 0, 0, 0]


def test_html_page_starts_at_the_depth(hostile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["hostile.yaml", "--graph", "g.html", "--depth", "2"], capsys)[0] == 0
    page = (hostile / "g.html").read_text()
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)[1])
    assert data["depth"] == 2
    assert {i["name"] for i in _items(data["items"])} >= {"pairs", "pairs.0", "pairs.1", "conv", "act"}


def test_svg_without_graphviz_is_a_clear_usage_error(hostile: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_graphviz, "dot_binary", lambda: None)
    for name in ("g.svg", "g.png"):
        rc, out, err = _run(["hostile.yaml", "--graph", name], capsys)
        assert rc == cli.EXIT_USAGE and out == ""
        assert "needs Graphviz's `dot`" in err and "install Graphviz" in err and ".html" in err
        assert "Traceback" not in err and not (hostile / name).exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_svg_and_png_with_graphviz(hostile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["hostile.yaml", "--graph", "g.svg", "--depth", "1"], capsys)[0] == 0
    svg = (hostile / "g.svg").read_text()
    assert "<svg" in svg and "<script" not in svg and "[B, 8, L &#45; 2]" in svg  # dot writes - as &#45;
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in svg  # the docs, as tooltips, escaped by dot
    assert _run(["hostile.yaml", "--graph", "g.png"], capsys)[0] == 0
    assert (hostile / "g.png").read_bytes().startswith(b"\x89PNG")


def test_graphviz_failure_is_a_usage_error(hostile: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fake = hostile / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: syntax error in line 1' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(render_graphviz, "dot_binary", lambda: str(fake))
    (hostile / "g.svg").write_text("old")
    rc, _, err = _run(["hostile.yaml", "--graph", "g.svg"], capsys)
    assert rc == cli.EXIT_USAGE and "Graphviz `dot` failed: Error: syntax error" in err
    assert (hostile / "g.svg").read_text() == "old"  # nothing written


@pytest.mark.parametrize(("argv", "message"), [
    (["--graph", "g.txt"], "use a .html (.htm), .svg, .png, .dot (.gv), .mmd (.mermaid) or .md file name"),
    (["--graph", ".dot"], "the name needs a stem before its suffix, such as g.dot"),
    (["--depth", "1"], "--depth expands composites in --summary and --graph"),
    (["--summary", "--depth", "-1"], "expected a number of levels"),
    (["--summary", "--depth", "x"], "expected a number of levels"),
])
def test_bad_graph_options(hostile: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(["hostile.yaml", *argv], capsys)
    assert rc == cli.EXIT_USAGE and message in err and "Traceback" not in err


# -- --summary --depth ---------------------------------------------------------------------------


def test_summary_depth_lists_composite_bodies(hostile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(["hostile.yaml", "--check", "--summary", "--depth", "1", "--input", "x=4,2,100"], capsys)
    assert rc == 0
    rows = [line.split() for line in out.splitlines() if line.startswith(("pairs", "  pairs"))]
    assert [r[0] for r in rows] == ["pairs", "pairs.0.conv", "pairs.0.act", "pairs.1.conv", "pairs.1.act"]
    assert all(" ".join(r[-5:-2]) == "[4, 8, 98]" for r in rows)  # inner shapes in the model's terms
    assert int(rows[0][-2].replace(",", "")) == sum(int(r[-2].replace(",", "")) for r in rows[1:])


@pytest.mark.parametrize("spec", ["cnn/ResNet1D", "rnn/TransformerRNN", "transformer/PatchTST"])
def test_summary_depth_agrees_with_the_collapsed_rows(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each expanded composite's body: parameters add up, and its last row's shape is the node's."""
    rc, out, _ = _run([spec, "--check", "--summary", "--depth", "1", "--format", "json"], capsys)
    assert rc == 0
    nodes = json.loads(out)["nodes"]
    for k, node in enumerate(nodes):
        if node["level"] != 0:
            continue
        body = []
        for inner in nodes[k + 1:]:
            if inner["level"] == 0:
                break
            body.append(inner)
        if body:
            assert node["parameters"] == sum(b["parameters"] for b in body), node["name"]
            assert list(node["outputs"].values())[-1] in [list(b["outputs"].values())[0] for b in body], node["name"]


def test_svg_is_what_dot_writes(hostile: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The DOT text goes to `dot -Tsvg` on standard input; its output is written as it is."""
    fake = hostile / "dot"
    fake.write_text('#!/bin/sh\ncat > "$(dirname "$0")/fed.dot"\necho "<svg>$1</svg>"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(render_graphviz, "dot_binary", lambda: str(fake))
    assert _run(["hostile.yaml", "--graph", "g.svg", "--depth", "1"], capsys)[0] == 0
    assert (hostile / "g.svg").read_text() == "<svg>-Tsvg</svg>\n"
    assert (hostile / "fed.dot").read_text().startswith('digraph "Hostile" {')
