"""What pictures, hovers and W116 write of a spec's text, bounded and shown as written.

- a composite's parameter value or a block name in a hover was markdown prose that a GitHub-flavoured
  renderer (VS Code's) turned into a link: `p: "https://evil.example/login"` showed `(p=https://...)`, a
  `block: www.evil.com/x#Www` was bold `www.evil.com/...`, a name `x@y.z` a mailto link. A parameter value is
  now a code span, and :func:`~vibench.lsp.visible.plain` escapes what starts an autolink (`\\://`, `www\\.`,
  an `@` as a code span);
- `--graph` clipped a `doc:` to 500 characters before escaping: 600 `<` (6 bytes each in the page's JSON,
  5 in DOT) in a `repeat: 30000` body made a 192 MB page from a 2.7 kB spec. A tooltip is now clipped to
  MAX_DOC_BYTES as written too, so a copy costs at most some hundred bytes of doc;
- W116 clipped a cell before quoting it, so its line break showed as `'x\\\\nforged'`: the repr is clipped now.

Sizes are asserted, never times.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vibench.compiler import render
from vibench.compiler.cli import main
from vibench.compiler.render_view import MAX_DOC_BYTES
from vibench.lsp import checking
from vibench.lsp.catalog import Catalog
from vibench.lsp.document import Document
from vibench.lsp.hover import hover
from vibench.lsp.visible import plain

COPIES = 200

_AUTOLINKS = ("https://evil.example/login", "http://e.co", "ftp://e.co", "www.evil.com/x#Www", "WWW.e.com",
              "x@y.z", "mailto:a@b.co", "(www.e.com)")


@pytest.mark.parametrize("text", _AUTOLINKS)
def test_plain_breaks_every_autolink_trigger(text: str) -> None:
    shown = plain(text)
    assert not re.search(r"(?<!\\)://|(?i:www)\.|@(?!`)", shown), shown
    # what a reader sees is the text: drop the backslashes and the code span around an `@`
    assert shown.replace("\\", "").replace("`@`", "@") == text


def test_plain_keeps_a_name_as_it_was() -> None:
    assert plain("cnn/ResNet1D#Block") == "cnn/ResNet1D#Block" and plain("cout=16") == "cout=16"
    assert plain("a\\://b") == "a\\\\\\://b"  # its own backslash escaped, then the `:`


def _hover_at(text: str, word: str, tmp_path: Path) -> str:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    doc = Document(path.as_uri(), str(path), text)
    doc.record(checking.check(text, doc.path, 1, []))
    catalog = Catalog([str(tmp_path)])
    result = hover(doc, catalog, text.index(word) + 1)
    assert result is not None
    return result.contents.value  # type: ignore[union-attr]


def test_a_parameter_value_in_a_hover_is_a_code_span(tmp_path: Path) -> None:
    text = """\
vibench: 1
name: M
inputs:
  x: {shape: [B, 4, L]}
blocks:
  Sub:
    params: {p: {type: str}}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      rr: {block: relu, in: x}
    outputs: {y: rr}
nodes:
  s: {block: Sub, in: x, p: "https://evil.example/login"}
outputs: {y: s}
"""
    shown = _hover_at(text, "rr}", tmp_path)  # the reference to it in `outputs:`
    assert "in `Sub` (p=`https://evil.example/login`):" in shown, shown


def _sub_spec(doc: str, repeat: int) -> str:
    return f"""\
vibench: 1
name: M
inputs:
  x: {{shape: [B, 4, L]}}
blocks:
  Sub:
    inputs: {{x: {{shape: [B, C, L], doc: "{doc}"}}}}
    nodes:
      r: {{block: relu, in: x, doc: "{doc}"}}
    outputs: {{y: r}}
nodes:
  s: {{block: Sub, in: x, repeat: {repeat}}}
outputs: {{y: s}}
"""


@pytest.mark.parametrize(("name", "depth"), [("g.html", "0"), ("g.dot", "1")])
def test_a_doc_of_markup_costs_some_hundred_bytes_a_copy(tmp_path: Path, name: str, depth: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(_sub_spec("<" * 600, repeat=COPIES), encoding="utf-8")
    assert main([str(spec), "--graph", str(tmp_path / name), "--depth", depth]) == 0, capsys.readouterr().err
    size = (tmp_path / name).stat().st_size
    # two docs a copy (its input's and its node's), each at most MAX_DOC_BYTES as written: 600 `<` were
    # 3,000 (DOT: 2,500) bytes each
    assert size < COPIES * (2 * MAX_DOC_BYTES + 600), size


def test_a_doc_is_clipped_by_its_written_size() -> None:
    assert render.tooltip("a" * 600).startswith("a" * render.MAX_DOC)  # plain text: 500 characters, as before
    for doc in ("<" * 600, "&" * 600, '"' * 600, "\u202e" * 600, "\x1b" * 600, "卷" * 600, "\ud800" * 600):
        shown = render.tooltip(doc)
        kept = shown[:shown.index("... (")]
        assert doc.startswith(kept) and len(kept) * 3 <= MAX_DOC_BYTES, (doc[:1], len(kept))
        for target in ("dot", "dot-tooltip", "script", "html"):
            assert len(render.escape(kept, target).encode("utf-8", "surrogatepass")) <= MAX_DOC_BYTES


def test_w116_quotes_a_cell_with_a_line_break_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta = tmp_path / "meta.csv"
    meta.write_bytes(b'Id,Dataset_id,Label\n1,1,2\n2,1,"x\nforged"\n')
    assert main(["cnn/ResNet1D", "--check", "--metadata", str(meta)]) == 0
    err = capsys.readouterr().err
    assert "`Label` 'x\\nforged', not an integer" in err, err


def test_the_html_page_writes_each_doc_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The page named each copy's docs again (6 KB a copy of a block whose docs held 600 `<`): each distinct doc is
    written once, the items naming it by number, so the docs add the same bytes whatever the copies."""
    sizes = []
    for doc in ("", "<" * 600):
        spec = tmp_path / "s.yaml"
        spec.write_text(_sub_spec(doc, repeat=COPIES), encoding="utf-8")
        assert main([str(spec), "--graph", str(tmp_path / "g.html")]) == 0, capsys.readouterr().err
        sizes.append((tmp_path / "g.html").stat().st_size)
    # two docs of at most MAX_DOC_BYTES each, and a number of a few characters on each of the copies' items
    assert sizes[1] - sizes[0] < 2 * MAX_DOC_BYTES + COPIES * 2 * 12, sizes
