"""vibench-lsp's channel and protocol (vibench/lsp/stdio.py, vibench/lsp/protocol.py): nothing but the
protocol's messages on standard output, whatever a plug-in prints or writes; no future kept per
notification (pygls 2.1 kept one per edit); an error answer to a request whose parameters do not read;
an edit of a document that is not open ignored, without an error message.

Every check is ordered by messages, never by time: the server handles messages one at a time, in order,
so once the answer to a later request has come, whatever an earlier message caused has come before it.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.server import ROOT  # noqa: E402
from tests.lsp.vibench_lsp import start_vibench_server  # noqa: E402
from tests.test_plugins_loading import install, spec_text  # noqa: E402

HEADER = '''
import os
import sys

from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


print("PRINTED AT IMPORT")
'''
FORGED_BODY = '{"jsonrpc": "2.0", "method": "window/showMessage", "params": {"type": 1, "message": "FORGED"}}'
FORGED = f"Content-Length: {len(FORGED_BODY)}\r\n\r\n{FORGED_BODY}"  # a message a plug-in writes on stdout


def noisy_block(name: str, body: str) -> str:
    return f'''

@register
class B_{name}(Block):
    """A plug-in block that writes where it should not."""

    name = {name!r}
    Params = KParams

    def infer(self, p, ins, ctx):
        {body}
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])
'''


NOISY = {
    "p_print": 'print("PRINTED IN INFER"); sys.stdout.flush()',
    "p_fd": 'os.write(1, b"WRITTEN TO FD 1\\n")',
    "p_forge": f"sys.stdout.buffer.write({FORGED!r}.encode()); sys.stdout.buffer.flush()",
}
READING = {"p_stdin": "sys.stdin.read()"}  # reads nothing: the protocol's input is not the process's


@pytest.fixture
def noisy_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    source = HEADER + "".join(noisy_block(name, body) for name, body in {**NOISY, **READING}.items())
    install(site, "p_noisy", {"p_noisy/__init__.py": source}, ["noisy = p_noisy"])
    return site


def server_env(*sites: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, sites), str(ROOT)]), "VIBENCH_CACHE": "0"}


def test_what_a_plugin_prints_goes_to_stderr_never_into_the_protocol(noisy_site: Path, tmp_path: Path) -> None:
    """A plug-in printing at import and in `infer`, writing to descriptor 1 and forging a message on
    sys.stdout.buffer: the client reads well-framed messages only (the forged one never reaches it), the
    spec checks clean, and what was written is on standard error."""
    lsp = start_vibench_server(env=server_env(noisy_site))
    try:
        text = spec_text(*NOISY, shape="[B, 4, L]")
        uri = file_uri(tmp_path / "noisy.yaml")
        lsp.open(uri, text)
        assert lsp.diagnostics(uri) == []
        assert lsp.hover(uri, 4, 3).startswith("**n0**")  # the server still answers
    finally:
        lsp.shutdown()
    assert lsp.proc.returncode == 0
    assert lsp.unframed == []
    assert lsp.shown == []  # (the forged message was a showMessage)
    printed = "\n".join(lsp.stderr_lines)
    for line in ("PRINTED AT IMPORT", "PRINTED IN INFER", "WRITTEN TO FD 1", FORGED_BODY):
        assert line in printed, printed[-2000:]


def test_a_plugin_reading_standard_input_reads_nothing_of_the_protocol(noisy_site: Path, tmp_path: Path) -> None:
    """Standard input is the null device for the process (it took the client's messages, and waited for
    the end of a stream that never ends); the protocol reads its own copy."""
    lsp = start_vibench_server(env=server_env(noisy_site))
    try:
        uri = file_uri(tmp_path / "reading.yaml")
        lsp.open(uri, spec_text(*READING, shape="[B, 4, L]"))
        assert lsp.diagnostics(uri) == []
        assert lsp.hover(uri, 4, 3).startswith("**n0**")
    finally:
        lsp.shutdown()
    assert lsp.proc.returncode == 0 and lsp.unframed == []


@pytest.mark.skipif(os.name != "posix", reason="file descriptors 0-2 as POSIX has them")
def test_started_without_standard_error_the_process_writes_nothing_into_the_protocol() -> None:
    """Started with descriptor 2 closed (`2>&-`), the protocol's private copy of standard input took number 2
    and descriptor 1 became a copy of it: what the process printed went into the client's channel (a
    socket given as both). Now 2 is the null device first, and so is what the process writes."""
    import subprocess
    import sys

    probe = (
        "import os, sys\n"
        "from vibench.lsp.stdio import take_stdio\n"
        "channel_in, channel_out = take_stdio()\n"
        "ours = {(os.fstat(f.fileno()).st_dev, os.fstat(f.fileno()).st_ino) for f in (channel_in, channel_out)}\n"
        "for fd in (0, 1, 2):\n"
        "    st = os.fstat(fd)\n"
        "    assert (st.st_dev, st.st_ino) not in ours, fd\n"
        "os.write(1, b'PRINTED')\n"
        "print('PRINTED TOO')\n"
        "channel_out.write(b'PROTOCOL')\n"
        "channel_out.flush()\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], input=b"", stdout=subprocess.PIPE, cwd=str(ROOT),
                         preexec_fn=lambda: os.close(2), timeout=120)
    assert run.returncode == 0
    assert run.stdout == b"PROTOCOL"


# --------------------------------------------------------------------------------------------
# pygls workarounds (in-process: the protocol fed as the server's read loop feeds it)
# --------------------------------------------------------------------------------------------


class _Sent:
    """A writer keeping what the server sends."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    def close(self) -> None:
        pass


def _feed(protocol: Any, message: dict[str, Any]) -> None:
    """One message, read as pygls' read loop reads it (``json.loads`` with the protocol's hook)."""
    protocol.handle_message(json.loads(json.dumps({"jsonrpc": "2.0", **message}),
                                       object_hook=protocol.structure_message))


def test_no_future_is_kept_per_notification() -> None:
    """pygls 2.1 filed a future per notification handled by its own (generator) handlers and never took
    it out: 6,002 after 6,000 edits. The table holds none once the edits and requests are handled."""
    from vibench.lsp.server import create_server

    server = create_server([], debounce=3600.0)  # no check runs: the timers wait an hour
    sent = _Sent()
    server.protocol.set_writer(sent)
    uri = "file:///w/notes.yaml"
    text = "title: notes\n"  # no spec: opening it starts no compile

    async def session() -> int:
        _feed(server.protocol, {"id": 1, "method": "initialize", "params": {"capabilities": {}}})
        _feed(server.protocol, {"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": text}}})
        for version in range(2, 1002):
            _feed(server.protocol, {"method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}})
            _feed(server.protocol, {"method": "textDocument/didSave", "params": {"textDocument": {"uri": uri}}})
        _feed(server.protocol, {"id": 2, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}}})
        _feed(server.protocol, {"method": "textDocument/didClose", "params": {"textDocument": {"uri": uri}}})
        server._checker.shutdown(wait=True)  # the check of the opening, if it is still running, ends in the loop
        await asyncio.sleep(0)  # the callbacks of futures that finished in the loop
        return len(server.protocol._request_futures)

    assert asyncio.run(session()) == 0
    assert [m["id"] for m in sent.messages if "id" in m] == [1, 2]


# --------------------------------------------------------------------------------------------
# requests and notifications that do not read (over the real server)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lsp():
    server = start_vibench_server()
    yield server
    server.shutdown()


def test_a_request_whose_parameters_do_not_read_gets_an_error_answer(lsp: LanguageServer, tmp_path: Path) -> None:
    """pygls reads the parameters before the id: a hover at line -1 or without parameters was never
    answered (and popped up "Error in server"). Now each gets InvalidParams, and the server goes on."""
    shown = len(lsp.shown)
    text = spec_text("relu")
    uri = file_uri(tmp_path / "m.yaml")
    lsp.open(uri, text)
    assert lsp.diagnostics(uri) == []
    below_the_first_line = {"textDocument": {"uri": uri}, "position": {"line": -1, "character": 0}}
    broken = [
        lsp.send_request("textDocument/hover", below_the_first_line),
        lsp.send_request("textDocument/hover", None),
        lsp.send_request("textDocument/completion", {"textDocument": {"uri": uri}}),
    ]
    assert lsp.hover(uri, 4, 3).startswith("**n0**")  # answered after the broken ones: they were answered before
    for _, pending in broken:
        assert pending.done.is_set() and pending.error is not None, pending
        assert pending.error["code"] == -32602, pending.error
    assert lsp.shown[shown:] == []


def test_an_edit_of_a_document_that_is_not_open_is_ignored(lsp: LanguageServer, tmp_path: Path) -> None:
    """didChange for a document never opened, or closed, raised KeyError in pygls, shown to the user as
    an error message; now it is ignored (a line on standard error) and the documents that are open are
    checked on."""
    shown = len(lsp.shown)
    uri = file_uri(tmp_path / "open.yaml")
    lsp.open(uri, spec_text("relu"))
    assert lsp.diagnostics(uri) == []
    closed = file_uri(tmp_path / "closed.yaml")
    lsp.open(closed, spec_text("relu"))
    assert lsp.diagnostics(closed) == []
    lsp.close(closed)
    for never in (closed, file_uri(tmp_path / "never.yaml")):
        lsp.notify("textDocument/didChange", {"textDocument": {"uri": never, "version": 99},
                                              "contentChanges": [{"text": "vibench: 1\n"}]})
    lsp.change(uri, spec_text("reluu"))
    assert [d["code"] for d in lsp.diagnostics(uri)] == ["E110"]
    assert lsp.shown[shown:] == []
    lsp.close(uri)
