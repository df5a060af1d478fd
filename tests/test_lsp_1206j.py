"""vibench-lsp (and one compiler message) against the QA pass of 1206j.

1. One ``didChange`` of many incremental edits costs about its length and the document's: each edit built a new
   line index and copied the whole text (2,000 edits of a 700 KB spec held the server 12 s). Counted in work (line
   indexes built, characters split into lines), never in seconds.
2. A ``specPath`` folder holding a NUL is left off the search path with a message: os.scandir raised ValueError on
   it, and every library reference was an internal error with a traceback.
3. YAML's merge key: ``<<: *conv`` and ``<<: {...}`` give the mapping their keys, as the compiler reads them; no
   node, symbol or completion is called ``<<``.
4. A PHM-Vibench config whose `model:` type and name come from a base config completes and hovers its model keys.
5. ``notebookDocument/didChange`` of a notebook that is not open, and ``workspace/executeCommand`` of an unknown
   command, get no "Error in server" and no traceback.
6. (compiler) `extends: ./zl.yaml`, a link to /dev/zero outside the folder, points outside the search path (it was
   "unknown spec ... did you mean `./ul.yaml`", another such link); a hint suggests only files a reference may name.
7. Go to definition on a `base_configs` entry opens only a file the compiler reads; a diagnostic on a name that
   starts with an emoji (`😀𝕏`, E106) covers the whole name.

Over the server as tests/test_lsp.py drives it, or in-process where what is counted is the server's own work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.server import marked  # noqa: E402
from tests.lsp.vibench_lsp import start_vibench_server  # noqa: E402
from vibench.compiler.diagnostics import SpecError  # noqa: E402
from vibench.compiler.pipeline import compile_program  # noqa: E402
from vibench.lsp import checking  # noqa: E402
from vibench.lsp import text as text_module  # noqa: E402
from vibench.lsp.catalog import Catalog  # noqa: E402
from vibench.lsp.outline import outline  # noqa: E402
from vibench.lsp.outline_scanner import MAX_ENTRIES  # noqa: E402
from vibench.lsp.server import _configure, create_server  # noqa: E402
from vibench.lsp.text import EditedText, Lines  # noqa: E402


@pytest.fixture(scope="module")
def lsp() -> Iterator[LanguageServer]:
    server = start_vibench_server()
    yield server
    server.shutdown()


def open_spec(lsp: LanguageServer, path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    uri = file_uri(path)
    lsp.open(uri, text)
    lsp.diagnostics(uri)
    return uri


class _Sent:
    """A writer keeping what the in-process server sends."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    def close(self) -> None:
        pass


def _receive(server: Any, message: dict[str, Any]) -> None:
    server.protocol.receive(json.dumps({"jsonrpc": "2.0", **message}).encode())


# --------------------------------------------------------------------------------------------
# 1. many edits in one didChange
# --------------------------------------------------------------------------------------------


def _one_edit(text: str, start: tuple[int, int], end: tuple[int, int], new: str, encoding: str) -> str:
    """An edit as LSP places it, the slow and plain way: a line index of the whole text, then a copy."""
    lines = Lines(text, encoding)
    a, b = sorted((lines.offset(*start), lines.offset(*end)))
    return text[:a] + new + text[b:]


def test_edits_on_one_list_of_lines_give_the_text_edits_one_by_one_give() -> None:
    pieces = ["a", "b", " ", "\n", "\r", "\r\n", "\u2028", "\x85", "\x0c", "é", "\U0001F600"]
    rnd = random.Random(1206)
    for _ in range(3000):
        encoding = rnd.choice(["utf-16", "utf-8", "utf-32"])
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12)))
        edited, expected = EditedText(text, encoding), text
        for _ in range(rnd.randint(1, 6)):  # positions beyond a line or the text, ranges given end first
            start, end = (rnd.randint(0, 6), rnd.randint(0, 6)), (rnd.randint(0, 6), rnd.randint(0, 6))
            new = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 4)))
            edited.replace(start, end, new)
            expected = _one_edit(expected, start, end, new, encoding)
        assert edited.text == expected, (text, encoding)


def test_a_message_of_many_edits_costs_its_length_and_the_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 edits in one didChange (a multi-cursor edit) of a 2,000-line text: no line index of the text is built
    per edit, and what is split into lines is the text once and each edit's own lines (about 3 % of what 1,000
    copies of the text would be)."""
    text = "".join(f"key_{i:05}: value\n" for i in range(2000))  # no spec: opening it starts no compile
    edits = [(line, 0, "#") for line in range(1999, 999, -1)]  # bottom-up, each valid on what the ones before left
    expected = text
    for line, character, new in edits:
        expected = _one_edit(expected, (line, character), (line, character), new, "utf-16")
    built, split = [], []

    class CountedLines(Lines):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(1)
            super().__init__(*args, **kwargs)

    splitter = getattr(text_module, "split_lines", None)

    def counted_split(piece: str) -> list[str]:
        split.append(len(piece))
        assert splitter is not None
        return splitter(piece)

    server = create_server([], debounce=3600.0)  # no check runs: the timers wait an hour
    server.protocol.set_writer(_Sent())
    uri = "file:///w/notes.yaml"
    changes = [{"range": {"start": {"line": line, "character": ch}, "end": {"line": line, "character": ch}},
                "text": new} for line, ch, new in edits]

    async def session() -> str:
        _receive(server, {"id": 1, "method": "initialize", "params": {"capabilities": {}}})
        _receive(server, {"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": text}}})
        monkeypatch.setattr(text_module, "Lines", CountedLines)
        monkeypatch.setattr(text_module, "split_lines", counted_split, raising=False)
        _receive(server, {"method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": 2}, "contentChanges": changes}})
        monkeypatch.undo()
        server._checker.shutdown(wait=True)
        return server.workspace.get_text_document(uri).source

    assert asyncio.run(session()) == expected
    assert len(built) <= 1
    assert sum(split) <= 3 * len(text)  # the text once, then a few lines per edit (not 1,000 texts)


# --------------------------------------------------------------------------------------------
# 2. a specPath folder with a NUL
# --------------------------------------------------------------------------------------------


def test_a_spec_path_folder_holding_a_nul_is_left_off_with_a_message(tmp_path: Path) -> None:
    ls = create_server([])
    shown: list[Any] = []
    ls.window_show_message = shown.append  # type: ignore[method-assign]
    _configure(ls, {"specPath": ["my\x00components", str(tmp_path)]})
    assert ls.catalog.search_path == [str(tmp_path)]
    assert len(shown) == 1 and "NUL" in shown[0].message and '"my\\u0000components"' in shown[0].message
    assert "cnn/ResNet1D" in ls.catalog.templates()  # os.scandir raised ValueError here
    ls._checker.shutdown(wait=True)


def test_a_nul_in_spec_path_over_the_server(tmp_path: Path) -> None:
    server = start_vibench_server(settings={"vibench": {"specPath": ["my\x00components"]}})
    try:
        text, at = marked("vibench: 1\nextends: cnn/Res⟨ref⟩Net1D\nwith: {num_classes: 3}\n")
        uri = open_spec(server, tmp_path / "m.vibench.yaml", text)
        assert [d["code"] for d in server.diagnostics(uri) if d["code"] == "internal"] == []
        assert "cnn/ResNet1D" in {item["label"] for item in server.completion(uri, *at["ref"])}
        assert "ResNet1D" in server.hover(uri, *at["ref"])
        server.wait_until(lambda: server.shown, "a message")
        assert "NUL" in server.shown[0]["message"] and not any("Traceback" in line for line in server.stderr_lines)
    finally:
        server.shutdown()


# --------------------------------------------------------------------------------------------
# 3. YAML merge keys
# --------------------------------------------------------------------------------------------

ANCHORED = """\
vibench: 1
name: T
metadata:
  conv: &conv {block: conv1d, out_channels: 4, kernel_size: 3, padding: 1}
inputs:
  x: {shape: [B, 4, L]}
nodes:
  c⟨c1⟩1: {<<: *conv, in: x}
  c2: {<<: *conv, in: c1, ⟨key⟩}
outputs: {y: c2}
"""

IN_PLACE = """\
vibench: 1
name: T
inputs:
  x: {shape: [B, 3, L]}
nodes:
  <<: {c: {block: conv1d, in: x, out_channels: 4, kernel_size: 3}}
  d: {block: relu, in: ⟨ref⟩c}
  e: {block: relu, in: ⟨in⟩x}
outputs: {y: d, z: e}
"""


def test_merged_keys_are_read_as_written(lsp: LanguageServer, tmp_path: Path) -> None:
    text, at = marked(ANCHORED)
    uri = open_spec(lsp, tmp_path / "anchored.vibench.yaml", text)
    assert lsp.diagnostics(uri) == []
    assert lsp.hover(uri, *at["c1"]).startswith("**c1**: `conv1d`")  # was `?`: no `block:` seen
    offered = {item["label"] for item in lsp.completion(uri, *at["key"])}
    assert {"stride", "dilation"} <= offered and not {"in", "block", "out_channels", "<<"} & offered
    assert [s["name"] for s in lsp.document_symbols(uri)] == ["x", "c1", "c2", "y"]


def test_a_mapping_merged_in_place_gives_its_nodes(lsp: LanguageServer, tmp_path: Path) -> None:
    text, at = marked(IN_PLACE)
    uri = open_spec(lsp, tmp_path / "in_place.vibench.yaml", text)
    assert lsp.diagnostics(uri) == []
    offered = [item["label"] for item in lsp.completion(uri, *at["in"])]
    assert "c" in offered and "<<" not in offered and '"<<"' not in offered
    assert lsp.hover(uri, *at["ref"]).startswith("**c**: `conv1d`")
    target = lsp.definition(uri, *at["ref"])
    assert [(d["range"]["start"]["line"], d["range"]["start"]["character"]) for d in target] == [(5, 7)]
    assert "<<" not in {s["name"] for s in lsp.document_symbols(uri)}


def test_the_outline_merges_as_the_compiler_does() -> None:
    o = outline("a: &a {k: 1, m: 1}\nb: &b {k: 2, n: 2}\nc: &c {<<: [*a, *b], m: 3}\n"
                "d:\n  <<: *c\n  x: 1\ne: {<<: *nowhere, f: 1}\nq: {\"<<\": text}\n")
    assert o.keys(("c",)) == ["m", "k", "n"]  # its own keys, then the merged ones
    assert [o.value(("c", key)) for key in ("k", "m", "n")] == ["1", "3", "2"]  # own wins, then the first merged
    assert o.keys(("d",)) == ["x", "m", "k", "n"]  # a merge of a mapping that merges
    assert o.keys(("e",)) == ["f"]  # an alias of no anchor merges nothing, and `<<` is no key
    assert o.keys(("q",)) == ["<<"] and o.value(("q", "<<")) == "text"  # a quoted `<<` is a key
    assert ("c", "<<") not in o.entries and ("c", "<<", 0) not in o.entries


def test_merges_of_merges_stay_within_the_outlines_limit() -> None:
    """Each level merges the one before twice: 2^40 copies as written; the outline stops at its limit."""
    lines = ["l0: &l0 {a: 1, b: 2}"] + [f"l{i}: &l{i} {{x: {{<<: *l{i - 1}}}, y: {{<<: *l{i - 1}}}}}"
                                          for i in range(1, 41)]
    o = outline("\n".join(lines) + "\n")
    assert len(o.entries) <= MAX_ENTRIES + len(lines) * 4
    assert o.value(("l2", "x", "y", "a")) == "1"


# --------------------------------------------------------------------------------------------
# 4. a PHM config's model from its base configs
# --------------------------------------------------------------------------------------------


def test_a_phm_config_whose_model_is_in_a_base_config_completes_it(lsp: LanguageServer, tmp_path: Path) -> None:
    (tmp_path / "configs" / "base").mkdir(parents=True)
    (tmp_path / "configs" / "base" / "model.yaml").write_text("model:\n  type: CNN\n  name: ResNet1D\n")
    (tmp_path / "exp").mkdir()
    text, at = marked("base_configs:\n  model: ../configs/base/model.yaml\nmodel:\n  num_cl⟨key⟩asses: 4\n  ⟨new⟩\n"
                      "data: {}\n")
    uri = open_spec(lsp, tmp_path / "exp" / "e.yaml", text)
    params = {p.name for p in Catalog().unit("cnn/ResNet1D", None).params}  # type: ignore[union-attr]
    offered = {item["label"] for item in lsp.completion(uri, *at["new"])}
    assert params - {"num_classes"} <= offered and "num_classes" not in offered
    assert lsp.hover(uri, *at["key"]).startswith("**num_classes**")


# --------------------------------------------------------------------------------------------
# 5. notebooks and commands
# --------------------------------------------------------------------------------------------


def test_an_unknown_notebook_or_command_gets_no_error_message_or_traceback(caplog: pytest.LogCaptureFixture) -> None:
    server = create_server([], debounce=3600.0)
    sent = _Sent()
    server.protocol.set_writer(sent)
    notebook = "file:///w/nb.ipynb"

    async def session() -> None:
        _receive(server, {"id": 1, "method": "initialize", "params": {"capabilities": {}}})
        _receive(server, {"method": "notebookDocument/didChange", "params": {
            "notebookDocument": {"uri": notebook, "version": 2}, "change": {}}})
        _receive(server, {"method": "notebookDocument/didOpen", "params": {"notebookDocument": {
            "uri": notebook, "notebookType": "jupyter", "version": 1, "cells": []}, "cellTextDocuments": []}})
        _receive(server, {"method": "notebookDocument/didChange", "params": {  # a cell that is not open
            "notebookDocument": {"uri": notebook, "version": 2}, "change": {"cells": {"textContent": [{
                "document": {"uri": "cell9", "version": 2}, "changes": [{"text": "x"}]}]}}}})
        _receive(server, {"method": "notebookDocument/didChange", "params": {  # a cell this message opens
            "notebookDocument": {"uri": notebook, "version": 3}, "change": {"cells": {
                "structure": {"array": {"start": 0, "deleteCount": 0, "cells": [{"kind": 2, "document": "cell2"}]},
                              "didOpen": [{"uri": "cell2", "languageId": "yaml", "version": 1, "text": "q: 1\n"}]},
                "textContent": [{"document": {"uri": "cell2", "version": 2}, "changes": [{"text": "z: 2\n"}]}]}}}})
        _receive(server, {"id": 2, "method": "workspace/executeCommand", "params": {"command": "nope"}})
        await asyncio.sleep(0)
        server._checker.shutdown(wait=True)

    with caplog.at_level(logging.INFO):
        asyncio.run(session())
    assert [m for m in sent.messages if m.get("method") == "window/showMessage"] == []
    answer = next(m for m in sent.messages if m.get("id") == 2)
    assert answer["error"]["code"] == -32602 and "nope" in answer["error"]["message"]
    assert [r.getMessage() for r in caplog.records if r.exc_info is not None] == []
    assert sum("not open" in r.getMessage() for r in caplog.records) == 2
    assert server.workspace.get_text_document("cell2").source == "z: 2\n"  # opened and edited in one message


# --------------------------------------------------------------------------------------------
# 6. (compiler) a link outside to a device
# --------------------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/zero") or not hasattr(os, "mkfifo"), reason="needs /dev and FIFOs")
def test_a_link_to_a_device_outside_points_outside_the_search_path(tmp_path: Path) -> None:
    specs, outside = tmp_path / "specs", tmp_path / "outside"
    specs.mkdir()
    outside.mkdir()
    os.mkfifo(outside / "f.yaml")
    os.symlink(outside, specs / "ol")  # a folder on the way leads outside
    os.symlink("/dev/zero", specs / "zl.yaml")
    os.symlink("/dev/null", specs / "ul.yaml")
    (specs / "zy.yaml").write_text("vibench: 1\n")
    spec = specs / "m.vibench.yaml"
    for reference, message, hint in [
        ("./zl.yaml", "spec reference `./zl.yaml` points outside the spec search path", "no regular file"),
        ("./ol/f.yaml", "spec reference `./ol/f.yaml` points outside the spec search path", "no regular file"),
        ("./zz.yaml", "unknown spec `./zz.yaml`", "did you mean `./zy.yaml`?"),  # never `./zl.yaml`, `./ul.yaml`
    ]:
        spec.write_text(f"vibench: 1\nextends: {reference}\n")
        with pytest.raises(SpecError) as caught:
            compile_program(str(spec), search_path=[])
        first = caught.value.diagnostics[0]
        assert (first.code, first.message) == ("E205", message)
        assert hint in (first.hint or "")


# --------------------------------------------------------------------------------------------
# 7. base_configs definitions, and a name starting with an emoji
# --------------------------------------------------------------------------------------------


def test_definition_of_a_base_config_opens_only_what_the_compiler_reads(lsp: LanguageServer, tmp_path: Path) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / ".git").mkdir(parents=True)
    (project / "exp").mkdir()
    outside.mkdir()
    for folder in (project, outside):
        (folder / "m.yaml").write_text("model:\n  type: CNN\n  name: ResNet1D\n")
    text, at = marked("base_configs:\n  model: ../../out⟨out⟩side/m.yaml\n  other: m⟨in⟩.yaml\ndata: {}\n")
    uri = open_spec(lsp, project / "exp" / "e.yaml", text)
    assert any(d["code"] == "E205" for d in lsp.diagnostics(uri))  # the compiler reads no file outside the project
    assert lsp.definition(uri, *at["out"]) == []
    assert [d["uri"] for d in lsp.definition(uri, *at["in"])] == [file_uri(project / "m.yaml")]  # (from its root)


def test_a_diagnostic_covers_a_name_that_starts_with_an_emoji() -> None:
    text = ("vibench: 1\nname: T\ninputs:\n  x: {shape: [B, 3, L]}\nnodes:\n"
            "  \U0001F600\U0001D54F: {block: relu, in: x}\noutputs: {y: x}\n")
    checked = checking.check(text, None, 1, [])
    placed = checking.problems(checked, outline(text), Lines(text))
    assert [(p.diagnostic.code, text[p.start:p.end]) for p in placed] == [("E106", "\U0001F600\U0001D54F")]
