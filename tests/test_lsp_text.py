"""vibench-lsp on unusual text: lone surrogates, line breaks other than `\\n`, a byte-order mark,
and the process's exit status.

LSP ends a line at ``\\r\\n``, ``\\n`` and ``\\r`` only; the compiler (YAML 1.1) also at NEL, U+2028
and U+2029, and it reads a file without its byte-order mark. The server must place the compiler's
positions by the compiler's count and answer every request by LSP's. Expected positions come from
the compiler's diagnostics and from splitting the text at LSP's line breaks, never from the server.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.server import ROOT  # noqa: E402
from tests.lsp.vibench_lsp import TIMEOUT  # noqa: E402
from vibench.lsp.text import Lines  # noqa: E402

SPEC = """\
vibench: 1
name: Odd
inputs: {x: {shape: [B, 4]}}
nodes:
  h: {block: linear, in: x, out_features: 3}
  g: {block: lineer, in: h, out_features: 2}
outputs: {y: g}
"""
LSP_BREAK = re.compile(r"\r\n|\r|\n")
YAML_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")  # libyaml's (YAML 1.1)


def lsp_position(text: str, offset: int) -> dict:
    """The LSP position (UTF-16) of an offset, counting lines at LSP's line breaks."""
    lines = LSP_BREAK.split(text[:offset])
    return {"line": len(lines) - 1, "character": len(lines[-1].encode("utf-16-le", "surrogatepass")) // 2}


def compiler_diagnostics(text: str) -> list:
    import vibench

    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    return list(info.value.diagnostics)


# --------------------------------------------------------------------------------------------
# positions (no server)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "units"), [("utf-16", 1), ("utf-8", 3), ("utf-32", 1)])
def test_a_lone_surrogate_is_one_character_of_its_line(encoding: str, units: int) -> None:
    text = "name: a\udc00b\nnext: \ud800\n"
    lines = Lines(text, encoding)
    assert lines.position(text.index("b")) == (0, 7 + units)
    assert lines.offset(0, 7 + units) == text.index("b")
    assert lines.position(text.index("\ud800") + 1) == (1, 6 + units)
    assert lines.offset(1, 99) == len(text) - 1


def test_lsp_positions_count_lines_at_cr_lf_and_crlf_only() -> None:
    text = "a: 1\rb: 2\r\nc: 3\nd: \x85e\u2028f\u2029g"
    lines = Lines(text)
    assert [lines.line_text(n) for n in range(4)] == ["a: 1", "b: 2", "c: 3", "d: \x85e\u2028f\u2029g"]
    for offset in range(len(text) + 1):
        if text[offset - 1:offset + 1] == "\r\n":
            continue  # between the two characters of one line break
        expected = lsp_position(text, offset)
        assert lines.position(offset) == (expected["line"], expected["character"]), offset
    assert lines.offset(0, 10) == 4 and lines.offset(1, 10) == 9 and lines.offset(3, 4) == text.index("e")


def test_compiler_positions_count_lines_as_the_compiler_does() -> None:
    """YAML 1.1 ends lines at NEL, U+2028 and U+2029 too; a byte-order mark is not in the compiler's text."""
    from vibench.compiler.load import load_text

    for text in ("a: 1\x85b: 2\rc: 3\r\nd: 4\u2028e: 5\u2029f: 6\ng: 7\n", "\ufeffa: 1\rb: [x, y]\n"):
        loaded = load_text(text.removeprefix("\ufeff"))
        lines = Lines(text)
        for key, (pos, _) in loaded.root.children.items():
            assert text[lines.line_col_offset(*pos):].startswith(key + ":"), (text, key)


def test_the_outline_reads_lines_as_yaml_does_and_skips_a_bom() -> None:
    from vibench.lsp.outline import cursor_at, outline

    expected = outline(SPEC)
    keys = [SPEC[e.key_span[0]:e.key_span[1]] for e in expected.entries.values() if e.key_span]
    for text in (SPEC.replace("\n", "\r"), SPEC.replace("\n", "\r\n"), SPEC.replace("\n", "\u2028"), "\ufeff" + SPEC):
        found = outline(text)
        assert found.keys(()) == expected.keys(()), repr(text[:12])
        assert found.value(("nodes", "g", "block")) == "lineer"
        assert [text[e.key_span[0]:e.key_span[1]] for e in found.entries.values() if e.key_span] == keys
        offset = text.index("in: h") + 4
        for base in (None, found):
            cursor = cursor_at(text, offset, whole_word=True, base=base)
            assert (cursor.role, cursor.path, cursor.word) == ("value", ("nodes", "g", "in"), "h"), repr(text[:12])
    assert outline("\ufeff" + SPEC).entry(("vibench",)).key_span == (1, 8)


def test_the_loader_reports_a_lone_surrogate_at_it() -> None:
    text = "vibench: 1\rname: T\udc00\n"
    (found,) = compiler_diagnostics(text)
    assert (found.code, found.pos.line, found.pos.col) == ("E001", 2, 8)
    assert "lone surrogate U+DC00" in found.message and found.found == "the character U+DC00"


@pytest.mark.parametrize(("text", "where"), [
    ("vibench: 1\rname: T\x01U\rinputs: {}\r", (2, 8)),  # `\r` lines: it was 1:19
    ("vibench: 1\r\nname: T\x01U\r\n", (2, 8)),
    ("vibench: 1\nname: T\x0bU\ndoc: x\n", (2, 8)),
])
def test_a_control_character_is_located_and_shown_on_its_own_line(text: str, where: tuple[int, int]) -> None:
    (found,) = compiler_diagnostics(text)
    assert (found.code, found.pos.line, found.pos.col) == ("E001", *where)
    excerpt = found.render({found.pos.file: text}).splitlines()[3]
    symbol = chr(0x2400 + ord(text[text.index("T") + 1]))
    assert excerpt == f"{where[0]} | name: T{symbol}U"  # str.splitlines broke the excerpt at \x0b


ODD = {
    "surrogate-in-name": SPEC.replace("name: Odd", "name: Odd\udc00"),
    "surrogate-before-a-request": SPEC.replace("in: h,", "in: h, doc: \ud800,"),
    "cr-only": SPEC.replace("\n", "\r"),
    "nel-and-u2028-in-a-comment": SPEC.replace("name: Odd", "name: Odd  # a\x85b\u2028c"),
    "u2029-in-a-quoted-string": SPEC.replace("name: Odd", "name: Odd\ndoc: 'a\u2029b'"),
    "bom-and-crlf": "\ufeff" + SPEC.replace("\n", "\r\n"),
    "bom-then-a-surrogate": "\ufeff# \udc00\n" + SPEC,
}
ODD_TEXTS = pytest.mark.parametrize("text", list(ODD.values()), ids=list(ODD))


@ODD_TEXTS
def test_the_features_answer_on_any_text(text: str) -> None:
    """Every feature answers at every position, in every encoding; a check never reports a bug."""
    from vibench.lsp import checking, completion, hover, navigation
    from vibench.lsp.catalog import Catalog
    from vibench.lsp.document import Document

    catalog = Catalog()
    for encoding in ("utf-16", "utf-8", "utf-32"):
        doc = Document("file:///odd.yaml", "/odd.yaml", text, encoding=encoding)
        assert doc.is_spec()
        doc.record(checking.check(text, doc.path, 1, []))
        assert doc.last is not None and all(d.code != "internal" for d in doc.last.diagnostics)
        checking.problems(doc.last, doc.outline, doc.lines)
        navigation.symbols(doc)
        for line, character in itertools.product(range(9), range(0, 60, 3)):
            offset = doc.lines.offset(line, character)
            doc.range(offset, offset)
            completion.complete(doc, catalog, offset)
            hover.hover(doc, catalog, offset)
            navigation.definition(doc, catalog, offset)


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


_NUMBER = itertools.count()


def open_text(lsp: LanguageServer, folder: Path, text: str) -> tuple[str, list[dict]]:
    """Open ``text`` as a document (the file on disk holds it without lone surrogates)."""
    path = folder / f"odd{next(_NUMBER)}.yaml"
    path.write_bytes(text.encode("utf-8", "replace"))
    uri = file_uri(path)
    lsp.open(uri, text)
    return uri, lsp.diagnostics(uri)


def expected_ranges(text: str) -> list[tuple[str, dict]]:
    """(code, LSP start) of the compiler's diagnostics for ``text``, read as the compiler reads a file."""
    body = text.removeprefix("\ufeff")
    out = []
    for d in compiler_diagnostics(body):
        starts = [0, *(m.end() for m in YAML_BREAK.finditer(body))]
        offset = starts[d.pos.line - 1] + d.pos.col - 1 + (len(text) - len(body))
        out.append((d.code, lsp_position(text, offset)))
    return out


@ODD_TEXTS
def test_diagnostics_land_where_the_compiler_puts_them(lsp: LanguageServer, tmp_path: Path, text: str) -> None:
    uri, found = open_text(lsp, tmp_path, text)
    assert [(d["code"], d["range"]["start"]) for d in found] == expected_ranges(text)
    assert not any("internal error" in d["message"] for d in found)


@ODD_TEXTS
def test_requests_answer_in_lsp_lines(lsp: LanguageServer, tmp_path: Path, text: str) -> None:
    uri, _ = open_text(lsp, tmp_path, text)
    lines = LSP_BREAK.split(text)
    g_line = next(i for i, line in enumerate(lines) if line.startswith("  g:"))
    h_line = next(i for i, line in enumerate(lines) if line.startswith("  h:"))
    x_line = next(i for i, line in enumerate(lines) if line.startswith("inputs:"))
    ref = lines[g_line].index("in: h") + 4
    assert lsp.definition(uri, g_line, ref) == [{"uri": uri, "range": {"start": {"line": h_line, "character": 2},
                                                                       "end": {"line": h_line, "character": 3}}}]
    assert lsp.hover(uri, g_line, ref).startswith("**h**")
    block = lines[g_line].index("lineer")
    items = lsp.completion(uri, g_line, block + 2)
    assert {i["textEdit"]["range"]["start"]["character"] for i in items} == {block}
    symbols = lsp.document_symbols(uri)
    assert [(s["name"], s["selectionRange"]["start"]["line"]) for s in symbols] == \
        [("x", x_line), ("h", h_line), ("g", g_line), ("y", len(lines) - 2)]
    assert not [line for line in lsp.stderr_lines if "Traceback" in line]


# --------------------------------------------------------------------------------------------
# the process
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shutdown_first", "status"), [(True, 0), (False, 1)])
def test_exit_status_says_whether_shutdown_came_first(shutdown_first: bool, status: int) -> None:
    """LSP: the server exits with 0 after `shutdown` then `exit`, with 1 on `exit` alone."""
    server = LanguageServer([sys.executable, "-m", "vibench.lsp"], settings={}, cwd=str(ROOT), timeout=TIMEOUT)
    try:
        server.initialize(file_uri(ROOT))
        if shutdown_first:
            server.request("shutdown", None)
        server.notify("exit", None)
        assert server.proc.wait(timeout=TIMEOUT) == status
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        server.shutdown()
