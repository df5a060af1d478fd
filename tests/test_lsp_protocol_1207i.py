"""vibench-lsp's session and the files around it (vibench/lsp/protocol.py, server.py, checking.py, folders.py).

What was wrong, and what is right now:

* a second ``initialize`` was taken: pygls built a new workspace while the server kept its documents, so an open
  buffer was replaced by the text on disk (document symbols of the saved file, edits ignored as "not open", a
  buffer without a file failed with a traceback in ``error.data``). It is answered with Invalid Request (-32600)
  and changes nothing;
* a request after ``shutdown`` got no answer (pygls dropped it), and the client waited for ever. It is answered
  with Invalid Request; ``exit`` still ends the process with status 0;
* a file an open spec extends, changed on disk outside the editor, left the spec's diagnostics as they were:
  ``workspace/didChangeWatchedFiles`` re-checks the open documents, and the server registers a watcher of spec
  files with a client that lets it (only then);
* an unsaved document (``untitled:Untitled-1``) read a relative ``extends: ./x.yaml`` from the server's working
  folder, while hover read nothing: the reference is E205 at its place, saying to save the file first; a library
  name still works.

Every check over the server is ordered by messages, never by time (the server handles them in order).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.server import ROOT  # noqa: E402
from tests.lsp.vibench_lsp import TIMEOUT, start_vibench_server  # noqa: E402
from tests.test_lsp_protocol_1206f import RecordingServer  # noqa: E402

SPEC = """vibench: 1
name: X
inputs:
  x: {shape: [B, 3, L]}
nodes:
  a: {block: relu, in: x}
outputs:
  y: a
"""
TEMPLATE = """vibench: 1
name: Base
params:
  width: {type: int, default: 4}
inputs:
  x: {shape: [B, 3, L]}
nodes:
  a: {block: relu, in: x}
outputs:
  y: a
"""


def error_of(server: LanguageServer, method: str, params: Any) -> dict[str, Any] | None:
    """The error answer to a request (None when it is answered with a result)."""
    _, pending = server.send_request(method, params)
    assert pending.done.wait(server.timeout), f"no answer to {method}"
    return pending.error


@pytest.fixture
def lsp():
    server = start_vibench_server()
    yield server
    server.shutdown()


def test_a_second_initialize_is_refused_and_the_open_documents_stay(lsp: LanguageServer, tmp_path: Path) -> None:
    saved = tmp_path / "spec.vibench.yaml"
    saved.write_text("vibench: 1\n")  # what pygls' new workspace read in place of the buffer
    uri = file_uri(saved)
    lsp.open(uri, SPEC)
    assert lsp.diagnostics(uri) == []
    error = error_of(lsp, "initialize", {"processId": None, "capabilities": {}})
    assert error is not None and error["code"] == -32600 and "only once" in error["message"]
    assert [s["name"] for s in lsp.document_symbols(uri)][:1] == ["x"]
    lsp.change(uri, SPEC.replace("in: x", "in: q"))  # an edit is still applied and checked
    assert ["unknown value `q`" in d["message"] for d in lsp.diagnostics(uri)] == [True]


def test_a_request_after_shutdown_is_answered_and_exit_still_ends_the_process() -> None:
    server = start_vibench_server()
    try:
        assert server.request("shutdown", None) is None
        hover = {"textDocument": {"uri": "file:///nowhere.yaml"}, "position": {"line": 0, "character": 0}}
        error = error_of(server, "textDocument/hover", hover)
        assert error is not None and error["code"] == -32600 and "after `shutdown`" in error["message"]
        server.notify("textDocument/didSave", {"textDocument": {"uri": "file:///nowhere.yaml"}})  # dropped
        server.notify("exit", None)
        assert server.proc.wait(timeout=TIMEOUT) == 0
    finally:
        server.shutdown()


def test_a_template_changed_on_disk_rechecks_the_spec_extending_it(lsp: LanguageServer, tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(TEMPLATE)
    top = tmp_path / "top.vibench.yaml"
    top.write_text("vibench: 1\nextends: ./base.yaml\nwith: {width: 8}\n")
    uri = file_uri(top)
    lsp.open(uri, top.read_text())
    assert [d["code"] for d in lsp.diagnostics(uri) if d["severity"] == 1] == []
    base.write_text(TEMPLATE.replace("nodes:", "nodez: 1\nnodes:"))
    lsp.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": file_uri(base), "type": 2}]})
    lsp.wait_until(lambda: any(d["code"] == "E101" for d in lsp._published[uri].items), "a re-check", timeout=60)


def _session(watched: dict[str, Any]) -> list[dict[str, Any]]:
    """The registrations vibench-lsp asks of a client whose ``workspace.didChangeWatchedFiles`` is ``watched``."""
    server = RecordingServer()
    try:
        capabilities = {"workspace": {"didChangeWatchedFiles": watched}}
        server.request("initialize", {"processId": None, "rootUri": file_uri(ROOT), "capabilities": capabilities})
        server.notify("initialized", {})
        server.request("shutdown", None)  # answered after what `initialized` sent
        return [m["params"] for m in server.received if m.get("method") == "client/registerCapability"]
    finally:
        server.shutdown()


def test_a_watcher_of_spec_files_is_registered_only_with_a_client_that_lets_it() -> None:
    [registered] = _session({"dynamicRegistration": True})
    [registration] = registered["registrations"]
    assert registration["method"] == "workspace/didChangeWatchedFiles"
    assert registration["registerOptions"] == {"watchers": [{"globPattern": "**/*.{yaml,yml,json}"}]}
    assert _session({"dynamicRegistration": False}) == []


def test_an_unsaved_document_reads_no_relative_reference_from_the_working_folder(lsp: LanguageServer) -> None:
    # the server's working folder (ROOT) holds the library: the check compiled this text against it
    relative = "vibench: 1\nextends: ./vibench/specs/cnn/ResNet1D.yaml\nwith: {num_classes: 4}\n"
    assert os.path.isfile(ROOT / "vibench/specs/cnn/ResNet1D.yaml")
    lsp.open("untitled:Untitled-1", relative)
    [error] = lsp.diagnostics("untitled:Untitled-1")
    assert error["code"] == "E205"
    assert error["range"] == {"start": {"line": 1, "character": 9}, "end": {"line": 1, "character": 42}}
    assert "hint: save the file first: a relative path is read from the file's folder" in error["message"]
    assert "an unsaved document has no folder" not in error["message"]  # (the stand-in folder it is checked in)
    # nor do the editor's features: `./cnn/ResNet1D.yaml` was looked for on the search path, and hover showed the
    # library's template while the check said E205
    lsp.open("untitled:Untitled-3", "vibench: 1\nextends: ./cnn/ResNet1D.yaml\n")
    assert lsp.diagnostics("untitled:Untitled-3")[0]["code"] == "E205"
    assert "ResNet1D" not in lsp.hover("untitled:Untitled-3", 1, 15)
    assert lsp.definition("untitled:Untitled-3", 1, 15) == []
    lsp.open("untitled:Untitled-2", relative.replace("./vibench/specs/cnn/ResNet1D.yaml", "cnn/ResNet1D"))
    assert lsp.diagnostics("untitled:Untitled-2") == []
    assert "ResNet1D" in lsp.hover("untitled:Untitled-2", 1, 12)
