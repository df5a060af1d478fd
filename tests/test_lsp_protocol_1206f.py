"""vibench-lsp against malformed input (vibench/lsp/stdio.py, protocol.py, checking.py, navigation.py,
completion.py): a ``Content-Length`` it will not read is refused and the messages after it are read; a body
that does not read, a message that is no JSON-RPC request, a request before ``initialize``, parameters or
``data`` that do not read each get the documented JSON-RPC error or a quiet drop, never a traceback or an
"Error in server" message; a quick fix replaces only a misspelt name written as a name, and only while it is
still there. Also the CLI's E001 for a file that is not UTF-8, located as every other diagnostic.

Every check over the server is ordered by messages, never by time: the server handles messages in order, so
once the answer to a later request has come, whatever an earlier message caused has come before it.
"""

from __future__ import annotations

import io
import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.server import ROOT  # noqa: E402
from tests.lsp.vibench_lsp import TIMEOUT  # noqa: E402
from tests.test_plugins_loading import spec_text  # noqa: E402


class RecordingServer(LanguageServer):
    """vibench-lsp, keeping every message it sends (an error answer with a null id too), and writing raw bytes."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        super().__init__([sys.executable, "-m", "vibench.lsp", "--debounce-ms=50"], settings={}, cwd=str(ROOT),
                         timeout=TIMEOUT)

    def _dispatch(self, message: dict[str, Any]) -> None:
        with self._arrived:
            self.received.append(message)
            self._arrived.notify_all()
        super()._dispatch(message)

    def raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def answer(self, msg_id: Any) -> dict[str, Any]:
        """The answer to the request ``msg_id`` sent raw (wait for it)."""
        found: list[dict[str, Any]] = []

        def arrived() -> bool:
            found[:] = [m for m in self.received if "method" not in m and m.get("id") == msg_id]
            return bool(found)

        with self._arrived:
            assert self._arrived.wait_for(arrived, self.timeout), f"no answer to {msg_id!r}" + self._stderr_tail()
        return found[0]

    def answers_without_id(self) -> list[dict[str, Any]]:
        return [m for m in self.received if "method" not in m and m.get("id") is None]


def frame(message: dict[str, Any] | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def hover(msg_id: Any, uri: str = "file:///nowhere.yaml", line: int = 0) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/hover",
            "params": {"textDocument": {"uri": uri}, "position": {"line": line, "character": 0}}}


@pytest.fixture
def lsp():
    server = RecordingServer()
    server.initialize(file_uri(ROOT))
    yield server
    server.shutdown()


def ended_clean(server: RecordingServer) -> str:
    """Shut ``server`` down; its standard error (which must hold no traceback)."""
    server.shutdown()
    assert server.proc.returncode == 0
    log = "\n".join(server.stderr_lines)
    assert "Traceback" not in log, log[-3000:]
    return log


# --------------------------------------------------------------------------------------------
# framing (vibench/lsp/stdio.py)
# --------------------------------------------------------------------------------------------


def test_a_content_length_beyond_the_limit_is_refused_and_later_messages_are_read(lsp: RecordingServer) -> None:
    """pygls' read loop died of 100000000000000 (MemoryError) and of 20 digits (OverflowError), and waited for
    the 4 GB of 4000000000, losing every later message. Each is refused unread, the user is told, and the
    request right after it is answered."""
    lengths = [b"100000000000000", b"99999999999999999999", b"4000000000", b"9" * 5000]
    for k, length in enumerate(lengths):
        lsp.raw(b"Content-Length: " + length + b"\r\n\r\n" + frame(hover(f"after-{k}")))
    for k in range(len(lengths)):
        assert lsp.answer(f"after-{k}")["result"] is None
    assert lsp.proc.poll() is None
    assert [m["type"] for m in lsp.shown] == [2] * len(lengths)
    assert all("skipped unread" in m["message"] for m in lsp.shown)
    assert "a message of 4000000000 bytes" in lsp.shown[2]["message"]
    ended_clean(lsp)


def test_header_names_are_read_in_any_case(lsp: RecordingServer) -> None:
    """`content-length:` was no header for pygls: the message was lost, and the next one with it."""
    body = json.dumps(hover("lower")).encode()
    lsp.raw(b"content-length: %d\r\ncontent-type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" % len(body)
            + body)
    lsp.raw(b"CONTENT-LENGTH:%d\r\n\r\n" % len(body) + body.replace(b'"lower"', b'"upper"'))
    assert lsp.answer("lower")["result"] is None and lsp.answer("upper")["result"] is None
    ended_clean(lsp)


def test_the_reader_skips_to_the_next_message_after_a_frame_it_cannot_read() -> None:
    """A length given short leaves the rest of its body before the next header; a header block without a
    number as its length is skipped; each message after them is read whole."""
    from vibench.lsp.stdio import MAX_MESSAGE_BYTES, Refused, read_message

    ok = frame({"jsonrpc": "2.0", "method": "ok"})
    stream = io.BytesIO(
        b'Content-Length: 3\r\n\r\n{"jsonrpc": "2.0", "method": "x"}' + ok
        + b"Content-Length: -5\r\n\r\n" + ok
        + b"Content-Type: text/plain\r\n\r\n" + ok
        + b"Content-Length: %d\r\n\r\n" % (MAX_MESSAGE_BYTES + 1) + b"[" * 100 + ok
    )
    body = ok.split(b"\r\n\r\n", 1)[1]
    read = [read_message(stream) for _ in range(6)]
    assert read == [b'{"j', body, body, body, Refused(str(MAX_MESSAGE_BYTES + 1)), body]
    assert read_message(stream) is None


# --------------------------------------------------------------------------------------------
# messages that do not read, and messages before initialize (vibench/lsp/protocol.py)
# --------------------------------------------------------------------------------------------


def test_a_body_that_does_not_read_is_answered(lsp: RecordingServer) -> None:
    """Not UTF-8, not JSON, or 3,000 levels deep: Invalid Request to the request whose id can be read, Parse
    Error with a null id otherwise (pygls logged a traceback and answered nothing)."""
    deep = b'{"jsonrpc": "2.0", "id": "deep", "method": "textDocument/hover", "extra": ' + b"[" * 3000 + b"]" * 3000
    lsp.raw(frame(b'{"jsonrpc": "2.0", "id": "bytes", "method": "textDocument/hover\xff", "params": {}}'))
    lsp.raw(frame(deep + b"}"))
    lsp.raw(frame(b'{"jsonrpc": "2.0", "id": "cut", "method": '))
    lsp.raw(frame(b'{"jsonrpc": "2.0", "method": "x\xff"}'))
    lsp.raw(frame(b"not json at all"))
    lsp.raw(frame(hover("after")))
    assert lsp.answer("after")["result"] is None
    for msg_id, why in (("bytes", "not UTF-8"), ("deep", "nests deeper"), ("cut", "not JSON")):
        error = lsp.answer(msg_id)["error"]
        assert error["code"] == -32600 and why in error["message"] and "data" not in error, error
    assert [m["error"]["code"] for m in lsp.answers_without_id()] == [-32700, -32700]
    assert all("id" in m for m in lsp.answers_without_id())  # `"id": null`, as JSON-RPC asks
    assert lsp.shown == []
    ended_clean(lsp)


def test_json_that_is_no_json_rpc_request_gets_invalid_request(lsp: RecordingServer) -> None:
    """`"method": 5` was answered -32603 with a Python traceback in `error.data`; an array or an object as id
    got nothing (or an answer the client could not match)."""
    lsp.raw(frame({"jsonrpc": "2.0", "id": "five", "method": 5, "params": {}}))
    lsp.raw(frame({"jsonrpc": "1.0", "id": "old", "method": "textDocument/hover", "params": {}}))
    lsp.raw(frame(b"[1, 2, 3]"))
    lsp.raw(frame({"jsonrpc": "2.0", "id": {"a": 1}, "method": "textDocument/hover", "params": {}}))
    lsp.raw(frame({"jsonrpc": "2.0", "method": 7}))  # a notification: nobody waits for an answer
    lsp.raw(frame(hover("after")))
    assert lsp.answer("after")["result"] is None
    for msg_id in ("five", "old"):
        error = lsp.answer(msg_id)["error"]
        assert error["code"] == -32600 and "data" not in error, error
    assert '"method" must be a string, not 5' in lsp.answer("five")["error"]["message"]
    assert [m["error"]["code"] for m in lsp.answers_without_id()] == [-32600, -32600]
    assert lsp.shown == []
    ended_clean(lsp)


def test_before_initialize_a_request_is_refused_and_a_notification_dropped() -> None:
    """A hover before `initialize` was answered null, a didOpen popped up "Error in server: RuntimeError: The
    workspace is not available". Now: ServerNotInitialized (-32002), and nothing shown."""
    server = RecordingServer()
    try:
        uri = file_uri(ROOT / "before.yaml")
        server.raw(frame(hover("early", uri)))
        server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1,
                                                                "text": spec_text("relu")}})
        assert server.answer("early")["error"]["code"] == -32002
        server.initialize(file_uri(ROOT))
        assert server.hover(uri, 3, 3) == ""  # the document opened before was not opened
        assert server.shown == []
    finally:
        log = ended_clean(server)
    assert "before initialize dropped" in log


def test_a_notification_whose_parameters_do_not_read_is_dropped_quietly(lsp: RecordingServer,
                                                                        tmp_path: Path) -> None:
    """A didChange with `version: null`, or a range at line -1, popped up "Error in server: Invalid Params"
    (the answer a request gets has no place in a notification). It is dropped with a line in the log; the
    document keeps its text."""
    uri = file_uri(tmp_path / "m.yaml")
    lsp.open(uri, spec_text("relu"))
    assert lsp.diagnostics(uri) == []
    lsp.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": None},
                                          "contentChanges": [{"text": spec_text("reluu")}]})
    below = {"start": {"line": -1, "character": 0}, "end": {"line": 0, "character": 0}}
    lsp.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 1000},
                                          "contentChanges": [{"range": below, "text": "x"}]})
    assert lsp.hover(uri, 4, 3).startswith("**n0**")  # still the text opened
    assert lsp.shown == []
    log = ended_clean(lsp)
    assert log.count("notification dropped: it does not read") == 2


def test_resolve_and_code_action_data_that_the_server_did_not_write(lsp: RecordingServer, tmp_path: Path) -> None:
    """`data: {"block": ["x"]}` on resolve, and a fix range that is negative or beyond 2**31, were answered
    -32603 (unhashable type, ValueError): the item comes back as it is, and no fix is offered."""
    for data in ({"block": ["x"]}, {"template": {"a": 1}}, {"block": 5}):
        assert lsp.resolve({"label": "x", "data": data}) == {"label": "x", "data": data}
    uri = file_uri(tmp_path / "c.yaml")
    lsp.open(uri, spec_text("reluu"))
    (found,) = lsp.diagnostics(uri)
    fix = found["data"]["fix"]
    assert lsp.code_actions(uri, [found])[0]["title"] == "Replace `reluu` with `relu`"
    for bad in ([-1, 0, 0, 5], [0, 0, 0, 2**31], [0, 0, 2**40, 0], [True, 0, 0, 5]):
        sent = {**found, "data": {"fix": {**fix, "range": bad}}}
        assert lsp.code_actions(uri, [sent]) == []
    assert lsp.shown == []
    ended_clean(lsp)


# --------------------------------------------------------------------------------------------
# quick fixes (vibench/lsp/checking.py, navigation.py)
# --------------------------------------------------------------------------------------------

HEAD = "vibench: 1\nname: T\nparams: {width: 4, kind: conv}\ninputs:\n  x: {shape: [B, 3, 16]}\nnodes:\n"


def fixes(text: str) -> list[tuple[str, str, str]]:
    """(code, text replaced, replacement) of each quick fix of ``text``'s diagnostics."""
    from vibench.lsp import checking
    from vibench.lsp.outline import outline
    from vibench.lsp.text import Lines

    checked = checking.check(text, None, 1, [])
    return [(p.diagnostic.code, text[p.fix[0]:p.fix[1]], p.fix[2])
            for p in checking.problems(checked, outline(text), Lines(text)) if p.fix is not None]


def replaced(text: str) -> list[str]:
    """``text`` with each quick fix applied, one at a time."""
    from vibench.lsp import checking
    from vibench.lsp.outline import outline
    from vibench.lsp.text import Lines

    checked = checking.check(text, None, 1, [])
    return [text[:p.fix[0]] + p.fix[2] + text[p.fix[1]:]
            for p in checking.problems(checked, outline(text), Lines(text)) if p.fix is not None]


@pytest.mark.parametrize("written", [
    """"${kind + 'v1d'}\"""",  # the misspelt `convv1d` is made by the expression: nowhere in the text
    """"${'conv' + '1dd'}\"""",
    """"${kind}1dd\"""",
])
def test_no_fix_for_a_name_an_expression_makes(written: str) -> None:
    """The fix replaced the run of name characters most like the suggestion: `'v1d'` became `'conv1d'`."""
    text = HEAD + f"  cc: {{block: {written}, in: x, out_channels: 4, kernel_size: 3}}\noutputs: {{y: cc}}\n"
    assert fixes(text) == []


@pytest.mark.parametrize(("written", "fixed"), [
    (""""${len('widht') + widht}\"""", """"${len('widht') + width}\""""),  # YAML double quotes
    ("""'${len(''widht'') + widht}'""", """'${len(''widht'') + width}'"""),  # YAML single quotes: '' is '
    (""""${len(\\"widht\\") + widht}\"""", """"${len(\\"widht\\") + width}\""""),  # \" is "
])
def test_a_fix_replaces_the_name_not_the_string_of_the_same_text(written: str, fixed: str) -> None:
    """`${len('widht') + widht}`: the fix rewrote the string literal, leaving the misspelt name."""
    node = "  cc:\n    block: conv1d\n    in: x\n    out_channels: VALUE\n    kernel_size: 3\noutputs: {y: cc}\n"
    text = HEAD + node.replace("VALUE", written)
    assert replaced(text) == [HEAD + node.replace("VALUE", fixed)]


def test_a_fix_in_a_json_spec_skips_the_escaped_string() -> None:
    spec = {"vibench": 1, "name": "T", "params": {"width": 4}, "inputs": {"x": {"shape": ["B", 3, 16]}},
            "nodes": {"cc": {"block": "conv1d", "in": "x", "out_channels": 'VALUE', "kernel_size": 3}},
            "outputs": {"y": "cc"}}
    text = json.dumps(spec, indent=2).replace('"VALUE"', json.dumps('${len("widht") + widht}'))
    assert replaced(text) == [text.replace('widht}', 'width}')]


@pytest.mark.parametrize(("node", "fix"), [
    ("conv: {block: conv1dd, in: x, out_channels: 4, kernel_size: 3}", ("E110", "conv1dd", "conv1d")),
    ('conv: {block: conv1d, in: x, out_channels: "${widht}", kernel_size: 3}', ("E204", "widht", "width")),
    ("conv: {block: relu, in: x}\n  fc: {block: relu, in: conv2}", ("E401", "conv2", "conv")),
])
def test_fixes_of_names_written_as_names_stay(node: str, fix: tuple[str, str, str]) -> None:
    """The misspelt name is the one the message names (`conv2`, not the node `fc`), replaced where written."""
    last = node.rsplit("\n  ", 1)[-1].split(":")[0]
    assert fixes(HEAD + f"  {node}\noutputs: {{y: {last}}}\n") == [fix]


def test_a_stale_fix_is_not_applied_to_the_text_that_moved_there(tmp_path: Path) -> None:
    """The fix's range was used as it was published: after two lines were added above, "Replace `conv1dd`"
    replaced part of `name: T`. The text it replaces travels with it, and a fix whose text moved is dropped."""
    server = RecordingServer()
    try:
        server.initialize(file_uri(ROOT))
        server.notify("workspace/didChangeConfiguration", {"settings": {"vibench": {"debounceMs": 60_000}}})
        uri = file_uri(tmp_path / "stale.yaml")
        text = spec_text("conv1dd")
        server.open(uri, text)
        (found,) = server.diagnostics(uri)
        assert found["data"]["fix"]["old"] == "conv1dd"
        assert [a["title"] for a in server.code_actions(uri, [found])] == ["Replace `conv1dd` with `conv1d`"]
        server.change(uri, "# one\n# two\n" + text)  # checked only after a minute: the editor keeps the old fix
        assert server.code_actions(uri, [found]) == []
        server.change(uri, text)  # the name is back where the fix says
        assert len(server.code_actions(uri, [found])) == 1
    finally:
        ended_clean(server)


# --------------------------------------------------------------------------------------------
# the CLI's E001 for bytes that are not UTF-8 (vibench/compiler/load.py)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "line", "col"), [
    (b'vibench: 1\nname: T\ndoc: "\xc3\xa9\xc3\xa9\xc3\xa9\xff"\n', 3, 10),  # characters, not bytes
    (b'vibench: 1\rname: T\rdoc: "\xff"\r', 3, 7),  # `\r` ends a line, as YAML reads it
    (b'vibench: 1\r\nname: T\r\ndoc: "\xff"\r\n', 3, 7),
    (b'vibench: 1\ndoc: "\xc2\x85\xff"\n', 3, 1),  # NEL ends a line too (YAML 1.1)
    (b'\xef\xbb\xbfvibench: 1\nname: "\xc3\xa9\xff"\n', 2, 9),  # a byte-order mark is no character of the line
])
def test_a_byte_that_is_not_utf8_is_located_as_other_diagnostics(raw: bytes, line: int, col: int) -> None:
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import decode_spec

    with pytest.raises(SpecError) as info:
        decode_spec(raw, "spec.yaml")
    (diag,) = info.value.diagnostics
    assert diag.code == "E001" and (diag.pos.line, diag.pos.col) == (line, col) and diag.found == "byte 0xff"
