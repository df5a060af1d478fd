"""The JSON Schema's markdown (and vibench-lsp's template completion docs, which reuse it) wrote a template's name,
a parameter's default and its choices into markdown as they are: a template in a folder
``fam/[click](http:evil.example)/`` was ``**fam/[click](http:evil.example)/T**``, a link in VS Code's hover, and a
default ``a`[click me](http:x)`b`` closed its own single-backtick span. A name is now prose only when no markdown
reads it as markup, else a code span, and every value is a code span with a fence longer than any backtick run in it
(docs/editor.md). ``vibench-compile schema`` also wrote a template's U+202E, C1 controls (U+009B) and U+2028 raw
to the terminal; they are JSON escapes now, in the same JSON (docs/cli.md: what the command prints is safe).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from vibench.compiler.cli import main
from vibench.schemas.jsonschema import build_schema, schema_text

NAME = "fam/[click](http:evil.example)/T"
TEMPLATE = """\
vibench: 1
name: T
doc: A template.
params:
  p: {type: str, default: "a`[click me](http:evil.example)`b"}
  q: {type: str, default: z, choices: [z, "y`[c2](http:evil.example)`"]}
  r: {type: str, default: "x\\n\\n[c3](http:evil.example)"}
  s: {type: float, default: .inf}
inputs:
  x: {shape: [B, 4]}
nodes:
  lin: {block: linear, in: x, out_features: 4}
outputs: {y: lin}
"""
_RUN = re.compile("`+")


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    folder = tmp_path / "lib" / "fam" / "[click](http:evil.example)"
    folder.mkdir(parents=True)
    (folder / "T.yaml").write_text(TEMPLATE, encoding="utf-8")
    return tmp_path / "lib"


def outside_code(markdown: str) -> str:
    """``markdown`` with its code spans taken out, as CommonMark reads them: a run of n backticks opens one that the
    next run of exactly n closes (a span holds no blank line: that ends the paragraph first)."""
    out, i = [], 0
    while (m := _RUN.search(markdown, i)) is not None:
        out.append(markdown[i:m.start()])
        close = next((c for c in _RUN.finditer(markdown, m.end()) if len(c.group()) == len(m.group())), None)
        if close is None or "\n\n" in markdown[m.end():close.start()]:
            out.append(m.group())
            i = m.end()
        else:
            i = close.end()
    return "".join(out) + markdown[i:]


def assert_no_link(markdown: str) -> None:
    prose = outside_code(markdown)
    assert "evil" not in prose and "[" not in prose and "](" not in prose, markdown


def markdowns(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        return [v for k, v in schema.items() if k == "markdownDescription"] + [
            m for v in schema.values() for m in markdowns(v)]
    return [m for v in schema for m in markdowns(v)] if isinstance(schema, list) else []


def test_the_outside_code_reader_sees_the_old_links() -> None:
    assert "](" in outside_code(f"**{NAME}**: A template.")
    assert "](" in outside_code("default `\"a`[click me](http:evil.example)`b\"`")
    assert "](" in outside_code("default `x\n\n[c3](http:evil.example)`")
    assert outside_code("a ``x`[y](z)`` b") == "a  b"


def test_template_names_defaults_and_choices_are_code_spans(lib: Path) -> None:
    schema = build_schema(search_path=[str(lib)])
    entry = next(e for e in schema["properties"]["extends"]["anyOf"] if e.get("const") == NAME)
    assert entry["markdownDescription"].startswith(f"**`{NAME}`**: A template.")
    assert_no_link(entry["markdownDescription"])
    condition = next(c for c in schema["allOf"] if c["if"]["properties"]["extends"].get("const") == NAME)
    with_ = condition["then"]["properties"]["with"]
    texts = markdowns(with_)
    assert len(texts) == 5 and "`str`; default ``\"a`[click me](http:evil.example)`b\"``" in texts[1]
    assert "`'z' | 'y`[c2](http:evil.example)`'`" in texts[2] and "`float`; default `.inf`" in texts[4]
    for text in texts:
        assert_no_link(text)
    assert with_["description"] == f"Values for the parameters of `{NAME}`."  # plain text: as written


def test_a_name_markdown_reads_as_it_is_stays_prose(lib: Path) -> None:
    schema = build_schema(search_path=[str(lib)])
    entry = next(e for e in schema["properties"]["extends"]["anyOf"] if e.get("const") == "cnn/ResNet1D")
    assert entry["markdownDescription"].startswith("**cnn/ResNet1D**: ")
    www = lib / "www.evil.example"
    www.mkdir()
    (www / "T.yaml").write_text(TEMPLATE, encoding="utf-8")  # `**www.evil.example/T**` is a link in GFM
    entry = next(e for e in build_schema(search_path=[str(lib)])["properties"]["extends"]["anyOf"]
                 if e.get("const") == "www.evil.example/T")
    assert entry["markdownDescription"].startswith("**`www.evil.example/T`**")


def test_an_invalid_template_names_itself_in_code(lib: Path) -> None:
    (lib / "fam" / "[click](http:evil.example)" / "T.yaml").write_text("vibench: 1\nname: T\n", encoding="utf-8")
    entry = next(e for e in build_schema(search_path=[str(lib)])["properties"]["extends"]["anyOf"]
                 if e.get("const") == NAME)
    assert "(invalid: E" in entry["markdownDescription"]
    assert_no_link(entry["markdownDescription"])


def test_the_completion_docs_of_a_template_show_no_link(lib: Path) -> None:
    pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls)")
    from lsprotocol import types as t

    from vibench.lsp.catalog import Catalog
    from vibench.lsp.completion import resolve

    item = resolve(t.CompletionItem(label=NAME, data={"template": NAME}), Catalog([str(lib)]))
    assert isinstance(item.documentation, t.MarkupContent) and "A template." in item.documentation.value
    assert_no_link(item.documentation.value)


ACTING = "\u202e\u009b\u0085\u2028\u2029\u007f"


def test_the_schema_escapes_what_would_act_on_a_terminal(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "lib" / "fam"
    folder.mkdir(parents=True)
    doc = f"Evil{ACTING}doc, caf\u00e9 \u2192 ok."
    (folder / "E\u202evil.yaml").write_text(TEMPLATE.replace("doc: A template.", f"doc: {json.dumps(doc)}"),
                                            encoding="utf-8")
    assert main(["schema", "-I", str(tmp_path / "lib")]) == 0
    shown = capfd.readouterr().out
    assert main(["schema", "-I", str(tmp_path / "lib"), "-o", str(tmp_path / "s.json")]) == 0
    written = (tmp_path / "s.json").read_text(encoding="utf-8")
    for text in (shown, written):
        assert not set(ACTING) & set(text) and "\\u202e" in text and "\\u009b" in text
        assert "caf\u00e9 \u2192 ok." in text  # printable text stays as it is (UTF-8)
        schema = json.loads(text)
        entry = next(e for e in schema["properties"]["extends"]["anyOf"] if e.get("const") == "fam/E\u202evil")
        assert doc in entry["markdownDescription"]  # the same JSON
    assert shown == written == schema_text(search_path=[str(tmp_path / "lib")])


def test_an_ignored_key_and_its_reference_are_code_spans(lib: Path) -> None:
    """A key the reference ignores (and the reference's name) came from the template as written, in single
    backticks a backtick in them closes; the template's reason stays markdown, as its docs are."""
    (lib / "fam" / "R.yaml").write_text(TEMPLATE.replace("name: T", "name: R") + (
        "reference:\n  model: \"M`[c4](http:evil.example)`\"\n"
        "  ignored_keys: {\"k`[c5](http:evil.example)`\": never read}\n"), encoding="utf-8")
    schema = build_schema(search_path=[str(lib)])
    condition = next(c for c in schema["allOf"] if c["if"]["properties"]["extends"].get("const") == "fam/R")
    key = condition["then"]["properties"]["with"]["properties"]["k`[c5](http:evil.example)`"]
    assert_no_link(key["markdownDescription"])
    assert key["markdownDescription"].endswith("The template says why: never read")
    assert key["description"].startswith("`k`[c5](http:evil.example)`` does not change")  # text: as written
