"""JSON specs: what JSON writers produce is read as they meant it, and what JSON is not is explained.

* A character beyond U+FFFF escaped as a UTF-16 surrogate pair (``"\\ud83d\\ude00"``, Python's
  ``json.dumps`` default) reads as that character, as ``json.loads`` reads it; libyaml alone refused it.
  A lone surrogate escape stays E001; positions after a rewritten pair are those of the text as written.
* ``//`` and ``/* */`` comments (JSON has none, YAML's are ``#``) are named in the E001 they cause, and in
  the hint of the unknown key or parameter they turn into.
* The carets under a quoted name cover it as written, quotes and escapes included.
* A document that is not a mapping is worded as it is (`an integer`, `null`); two JSON objects in one file
  say that a spec file holds one document, and a `}` or `,` left after the document is named as such.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import vibench
from vibench.compiler import cli
from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.load import load_text
from vibench.compiler.load_compose import MAX_PAIR_SCALARS

SPEC: dict = {
    "vibench": 1,
    "name": "TinyJson",
    "doc": "A tiny model.",
    "inputs": {"x": {"shape": ["B", 1, "L"], "doc": "Raw signal."}},
    "nodes": {
        "conv": {"block": "conv1d", "in": "x", "out_channels": 4, "kernel_size": 3, "padding": 1},
        "pool": {"block": "adaptive_avg_pool1d", "in": "conv", "output_size": 1},
        "flat": {"block": "flatten", "in": "pool"},
        "head": {"block": "linear", "in": "flat", "out_features": 2},
    },
    "outputs": {"logits": "head"},
}


def spec(**changes: object) -> dict:
    return {**json.loads(json.dumps(SPEC)), **changes}


def error_of(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        vibench.check(text=text)
    return info.value


def only(err: SpecError, code: str) -> Diagnostic:
    found = [d for d in err.diagnostics if d.code == code]
    assert len(found) == 1, err.render()
    return found[0]


def underlined(err: SpecError, d: Diagnostic) -> str:
    """The text the rendered carets of ``d`` stand under: the source line and the caret line have prefixes of
    one width (``12 | `` and ``   | ``), so the carets' columns are the line's (ASCII lines in these cases)."""
    rendered = d.render(err.sources).splitlines()
    source = next(i for i, line in enumerate(rendered) if line.startswith(f"{d.pos.line} | "))
    caret = re.search(r"\^+", rendered[source + 1])
    assert caret is not None, "\n".join(rendered)
    return rendered[source][caret.start():caret.end()]


def column_of(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first ``needle`` in ``text``."""
    index = text.index(needle)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


# --------------------------------------------------------------------------------------------
# 1. Surrogate-pair escapes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", [
    "Emoji \U0001F600 and \u00e9",
    "\U0001F600\U0001F601\U0001F602 three in a row",
    "a literal backslash before one: \\ud83d \\\\ud83d \U0001F600",
    "\U0010FFFF and \U00010000, the ends of the astral planes",
])
@pytest.mark.parametrize("indent", [None, 2])
def test_a_surrogate_pair_escape_reads_as_json_loads_reads_it(doc: str, indent: int | None) -> None:
    data = spec(doc=doc, metadata={"\U0001F600 key": ["\U0001F4A5", "plain"]})
    text = json.dumps(data, indent=indent)  # ensure_ascii: every character beyond U+FFFF as a pair
    assert "\\ud83d" in text.lower() or "\\udbff" in text.lower()
    assert load_text(text, "spec.json").data == json.loads(text) == data
    root = vibench.check(text=text).root
    assert (root.doc, root.metadata) == (doc, data["metadata"])


def test_a_surrogate_pair_spec_file_compiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "emoji.json"
    path.write_text(json.dumps(spec(doc="Bearing faults \U0001F6E0"), indent=2), encoding="ascii")
    assert cli.main([str(path), "--check"]) == 0, capsys.readouterr().err


def test_a_pair_in_a_plain_or_single_quoted_yaml_scalar_stays_text() -> None:
    """Only in double quotes is a backslash an escape: elsewhere `\\ud83d\\ude00` is twelve characters."""
    text = 'a: "\\ud83d\\ude00"\nb: \'\\ud83d\\ude00\'\nc: \\ud83d\\ude00 # \\ud83d\\ude00\n'
    assert load_text(text).data == {"a": "\U0001F600", "b": "\\ud83d\\ude00", "c": "\\ud83d\\ude00"}


@pytest.mark.parametrize("escape", ["\\ud800", "\\udc00", "\\ude00\\ud83d", "\\ud83d\\u0041"])
def test_a_lone_surrogate_escape_stays_e001_at_the_escape(escape: str) -> None:
    text = json.dumps(spec(doc="x"), indent=2).replace('"doc": "x"', f'"doc": "\U0001F600 then {escape}"')
    text = text.replace("\U0001F600", "\\ud83d\\ude00")  # a pair before it on the same line, rewritten
    d = only(error_of(text), "E001")
    assert (d.pos.line, d.pos.col) == column_of(text, escape)
    assert escape[:6] in (d.found or "") and "surrogate pair without its other half" in (d.found or "")
    assert "UTF-8" in (d.hint or "")


def test_positions_after_a_rewritten_pair_are_those_of_the_text_as_written() -> None:
    data = spec(doc="\U0001F600\U0001F600 on the line of the typo")
    data["nmae"] = 3  # after the doc on the same line
    text = json.dumps(data)  # one line
    err = error_of(text)
    d = only(err, "E101")
    assert (d.pos.line, d.pos.col) == column_of(text, '"nmae"')
    assert underlined(err, d) == '"nmae"'


def test_a_syntax_error_after_a_rewritten_pair_is_located_in_the_text_as_written() -> None:
    text = '{"vibench": 1, "doc": "\\ud83d\\ude00\\ud83d\\ude01" "name": "M"}'
    d = only(error_of(text), "E001")
    assert (d.pos.line, d.pos.col) == column_of(text, '"name"')


def test_many_pairs_on_one_line_read_and_locate_as_written() -> None:
    """Strings of many pairs on one line, then a typo: every position after them is the written one (the
    columns were re-sorted per pair: 32,000 pairs on one line took 11 s; now once per string)."""
    data = spec(doc="\U0001F600" * 3000, metadata={"a": "\U0001F601" * 2000, "b": "x\U0001F602"})
    data["nmae"] = 3
    text = json.dumps(data)  # one line, ensure_ascii: 5,001 pairs in three strings
    err = error_of(text)
    d = only(err, "E101")
    assert (d.pos.line, d.pos.col) == column_of(text, '"nmae"')
    assert load_text(text, "f.json").data["metadata"] == json.loads(text)["metadata"]


def test_pairs_are_rewritten_in_a_bounded_number_of_strings() -> None:
    def text(strings: int) -> str:
        return json.dumps(spec(metadata={f"key{i}": "\U0001F600" for i in range(strings)}), indent=1)

    vibench.check(text=text(MAX_PAIR_SCALARS - 1))  # and the doc: MAX_PAIR_SCALARS strings
    d = only(error_of(text(MAX_PAIR_SCALARS + 5)), "E001")
    assert "surrogate pair" in (d.found or "") and "ensure_ascii=False" in (d.hint or "")


# --------------------------------------------------------------------------------------------
# 2. Comments as JSON-with-comments writes them
# --------------------------------------------------------------------------------------------

LINES = json.dumps(SPEC, indent=2).splitlines()


@pytest.mark.parametrize(("line", "edit", "comment"), [
    (2, lambda s: s + " // the format version", "//"),  # after `,`: E001 on the next line
    (4, lambda s: "  // the graph\n" + s, "//"),  # a line of its own
    (4, lambda s: "  /* the graph */\n" + s, "/*"),
])
def test_a_slash_comment_before_a_syntax_error_is_named(line: int, edit: object, comment: str) -> None:
    lines = list(LINES)
    lines[line] = edit(lines[line])  # type: ignore[operator]
    text = "\n".join(lines)
    d = only(error_of(text), "E001")
    where = column_of(text, comment)
    assert any(f"`{comment}` at line {where[0]}, column {where[1]} starts a comment" in n and "no `//` or `/* */`"
               in n for n in d.notes), d.notes
    assert "`# ...`" in (d.hint or "") and "JSON has none" in (d.hint or "")


PRETTY = json.dumps(SPEC, indent=2)


@pytest.mark.parametrize(("text", "comment"), [
    # on the last member, no comma after it: E001 at the `//` itself (it was cut off with the error's column)
    (PRETTY.replace('"logits": "head"\n  }', '"logits": "head"\n  } // the head'), "//"),
    (PRETTY.replace('"name": "TinyJson",', '"name": "TinyJson" // the name\n  ,'), "//"),
    # a header over several lines: E001 two lines after its `*/`, past the `{`
    ("/*\n * Model spec\n */\n" + PRETTY, "/*"),
    # a comment over two lines before a key: E001 at that key, the line after the `*/`
    (PRETTY.replace('  "inputs"', '  /* multi\n     line */\n  "inputs"'), "/*"),
    # the error inside the comment's text (YAML reads `: ` there), lines after its `/*`
    (PRETTY.replace('  "inputs"', '  /*\n     the input\n     shape: B, 1, L\n  */\n  "inputs"'), "/*"),
])
def test_a_comment_on_the_last_member_or_over_several_lines_is_named(text: str, comment: str) -> None:
    d = only(error_of(text), "E001")
    where = column_of(text, comment)
    assert any(f"`{comment}` at line {where[0]}, column {where[1]} starts a comment" in n for n in d.notes), (
        d.pos, d.notes)
    assert "`# ...`" in (d.hint or "")


@pytest.mark.parametrize("value", ['"src/**/*.csv"', "[src/**/, b]", '"see http://x /* y */"'])
def test_a_glob_or_a_url_near_a_syntax_error_is_no_comment(value: str) -> None:
    """A `*/` with no comment's `/*` before it, or slashes inside a string, next to an unrelated error."""
    text = f"vibench: 1\nname: M\nmetadata: {{files: {value}}}\ninputs: {{x: {{shape: [B, 1, L]}}}}\n" \
           "nodes: {a: {block: relu, in: x}\noutputs: {y: a}\n"
    d = only(error_of(text), "E001")
    assert not any("comment" in n for n in d.notes) and d.hint == (
        "check indentation, brackets and quotes around this position")


def test_slashes_in_a_string_are_no_comment() -> None:
    text = '{"vibench": 1, "doc": "see https://example.org, // not a comment"\n "name": "M"}'
    d = only(error_of(text), "E001")
    assert not any("comment" in n for n in d.notes) and d.hint == (
        "check indentation, brackets and quotes around this position")


@pytest.mark.parametrize("value", ['[//nas/a, //nas/b]', '[/*.csv]', '"data lives on\n  //nas/share"'])
def test_slashes_in_a_plain_value_or_a_string_over_lines_are_no_comment(value: str) -> None:
    """A `//` or `/*` that no comment would write (a path, a glob, a string's next line) far from an
    unrelated syntax error was named as a comment, and its hint replaced the usual one."""
    text = f"vibench: 1\nname: M\nmetadata: {{shares: {value}}}\ninputs: {{x: {{shape: [B, 1, L]}}}}\n" \
           "nodes: {a: {block: relu, in: x}\noutputs: {y: a}\n"
    d = only(error_of(text), "E001")
    assert not any("comment" in n for n in d.notes) and d.hint == (
        "check indentation, brackets and quotes around this position")


def test_a_comment_read_as_part_of_a_parameter_says_so() -> None:
    text = json.dumps(SPEC).replace('"out_channels": 4', '/* width */ "out_channels": 4')
    err = error_of(text)
    d = only(err, "E111")
    assert "no `//` or `/* */` comments" in (d.hint or "") and "`# ...`" in (d.hint or "")
    assert underlined(err, d) == '/* width */ "out_channels"'


def test_a_comment_key_says_so() -> None:
    data = spec()
    data["// note"] = "JSON has no comments, so some write them as keys"
    d = only(error_of(json.dumps(data, indent=2)), "E101")
    assert "no `//` or `/* */` comments" in (d.hint or "")


def test_a_comment_read_as_part_of_a_composite_blocks_parameter_says_so() -> None:
    text = """vibench: 1
name: M
inputs: {x: {shape: [B, 4]}}
blocks:
  Dense:
    params: {width: 8}
    inputs: {x: {shape: [B, 4]}}
    nodes: {fc: {block: linear, in: x, out_features: "${width}"}}
    outputs: {y: fc}
nodes: {d: {block: Dense, in: x, /* wide */ width: 4}}
outputs: {y: d}
"""
    d = only(error_of(text), "E111")
    assert "no `//` or `/* */` comments" in (d.hint or "")


# --------------------------------------------------------------------------------------------
# 3. Carets under quoted names
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "old", "new", "written"), [
    ("E111", '"kernel_size": 3', '"kernel_sise": 3', '"kernel_sise"'),
    ("E111", '"kernel_size": 3', '"kernel\\u005fsise": 3', '"kernel\\u005fsise"'),
    ("E101", '"name": "TinyJson"', '"nmae": "TinyJson"', '"nmae"'),
    ("E401", '"in": "pool"', '"in": "poll"', '"poll"'),
    ("E401", '"logits": "head"', '"logits": "haed"', '"haed"'),
    ("E110", '"block": "linear"', '"block": "lineer"', '"lineer"'),
])
def test_carets_cover_a_quoted_name_as_written(code: str, old: str, new: str, written: str) -> None:
    text = json.dumps(SPEC, indent=2)
    assert old in text
    text = text.replace(old, new)
    err = error_of(text)
    d = only(err, code)
    assert (d.pos.line, d.pos.col) == column_of(text, written)
    assert underlined(err, d) == written
    assert d.span == len(written)  # what an editor underlines too


def test_an_editor_underlines_a_quoted_name_and_its_fix_keeps_the_quotes() -> None:
    from vibench.lsp import checking
    from vibench.lsp.outline import outline
    from vibench.lsp.text import Lines

    text = json.dumps(SPEC, indent=2).replace('"kernel_size": 3', '"kernel_sise": 3')
    problem = next(p for p in checking.problems(checking.check(text, None, 1, []), outline(text), Lines(text))
                   if p.diagnostic.code == "E111")
    assert text[problem.start:problem.end] == '"kernel_sise"'
    assert problem.fix is not None
    start, end, name = problem.fix
    assert text[:start] + name + text[end:] == json.dumps(SPEC, indent=2)


@pytest.mark.parametrize(("key", "written"), [("'nmae'", "'nmae'"), ("'it''s'", "'it''s'"), ("nmae", "nmae")])
def test_carets_cover_a_yaml_key_as_written(key: str, written: str) -> None:
    err = error_of(f"vibench: 1\nname: M\n{key}: 3\ninputs: {{x: {{shape: [B, 4]}}}}\n"
                   "nodes: {fc: {block: linear, in: x, out_features: 4}}\noutputs: {y: fc}\n")
    assert underlined(err, only(err, "E101")) == written


# --------------------------------------------------------------------------------------------
# 4. Wording
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "found"), [
    ("42\n", "an integer"),
    ("[1, 2]\n", "a list"),
    ("null\n", "null"),
    ("~\n", "null"),
    ("", "an empty document"),
    ("# only a comment\n", "an empty document"),
])
def test_a_document_that_is_not_a_mapping_is_named(text: str, found: str) -> None:
    assert only(error_of(text), "E102").found == found


@pytest.mark.parametrize("between", ["\n", " ", "\n...\n"])
def test_two_documents_without_a_separator_are_one_document_too_many(between: str) -> None:
    text = json.dumps(spec()) + between + json.dumps(spec(name="Second"))
    d = only(error_of(text), "E001")
    assert d.message == "a spec file holds exactly one YAML document"
    assert (d.pos.line, d.pos.col) == column_of(text, '{"vibench": 1, "name": "Second"')


@pytest.mark.parametrize(("after", "message"), [
    ("}", "unmatched `}` after the end of the document"),
    ("]", "unmatched `]` after the end of the document"),
    (",", "`,` after the end of the document"),
])
def test_a_bracket_or_comma_after_the_document_is_named(after: str, message: str) -> None:
    text = json.dumps(spec(doc="\U0001F600")) + after  # a rewritten pair before it, on its line
    d = only(error_of(text), "E001")
    assert message in d.message and (d.pos.line, d.pos.col) == (1, len(text))
