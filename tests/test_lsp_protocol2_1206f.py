"""vibench-lsp against malformed input, second round (vibench/lsp/stdio.py, protocol.py, checking.py, server.py):
a header line with a long run of blanks, a header block that never ends, a cut body full of escaped quotes are
each read in one pass (they froze the server); a length written with leading zeros is a length; a request left
without ``params`` is answered as JSON-RPC says; a quick fix replaces the name the diagnostic says is unknown,
not another name the message quotes; related information in another file is placed in LSP's units.

Every check over the server is ordered by messages, never by time (see tests/test_lsp_protocol_1206f.py): a
server that hangs on a message answers nothing, and the client's wait for the answer fails.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import file_uri  # noqa: E402
from tests.lsp.server import ROOT  # noqa: E402
from tests.lsp.vibench_lsp import TIMEOUT  # noqa: E402
from tests.test_lsp_protocol_1206f import HEAD, RecordingServer, ended_clean, fixes, frame, hover, replaced  # noqa: E402


@pytest.fixture
def server():
    running = RecordingServer()
    running.initialize(file_uri(ROOT))
    yield running
    running.shutdown()


def bodies(data: bytes) -> list[bytes | object]:
    """What :func:`read_message` reads from ``data``, message by message, up to its end."""
    from vibench.lsp.stdio import read_message

    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    out: list[bytes | object] = []
    while (body := read_message(stream)) is not None:
        out.append(body)
    return out


OK = b'{"jsonrpc": "2.0", "method": "ok"}'


# --------------------------------------------------------------------------------------------
# framing (vibench/lsp/stdio.py)
# --------------------------------------------------------------------------------------------


def test_header_lines_with_long_runs_of_blanks_are_read_at_once(server: RecordingServer) -> None:
    """A line cut at 64 KiB inside a run of blanks, and `X-Junk:` with 20,000 blanks before its value, took the
    header pattern a time cubic in the blanks (22 s for 2,000): the server read nothing more. (What follows the
    first line is written in less than a pipe holds: a server stuck on it leaves the test waiting for answers.)"""
    server.raw(b"a:" + b" " * 70_000 + b"x\r\n\r\n" + frame(hover("after-cut")))
    server.raw(b"X-Junk:" + b" " * 20_000 + b"y \t\r\n" + frame(hover("after-blanks")))
    assert server.answer("after-cut")["result"] is None
    assert server.answer("after-blanks")["result"] is None
    ended_clean(server)


def test_a_header_value_is_read_without_its_blanks() -> None:
    assert bodies(b"Content-Length: \t 34 \t \r\n\r\n" + OK + b"content-length:34\n\n" + OK) == [OK, OK]


def test_a_length_written_with_leading_zeros_is_read() -> None:
    """`Content-Length: 000...0034` (31 digits) was refused as too long to read, and the message lost."""
    assert bodies(b"Content-Length: " + b"0" * 30 + b"34\r\n\r\n" + OK + b"Content-Length: 000\r\n\r\n") == [OK, b""]


def test_a_header_block_beyond_its_limits_is_skipped_unkept() -> None:
    """2,000,000 distinct header lines without an empty one were all kept (206 MB). A block of more lines or
    bytes than any client sends is no message's: it is read to its end without keeping its lines, and skipped
    like any header block that does not read; the message after it is read."""
    from vibench.lsp.stdio import MAX_HEADER_BYTES, MAX_HEADER_LINES, _headers

    many = b"".join(b"H%d: v\r\n" % k for k in range(10_000))
    wide = b"".join(b"H%d: %s\r\n" % (k, b"v" * 1000) for k in range(MAX_HEADER_BYTES // 1000 + 1))
    for block in (many, wide):
        message = block + b"Content-Length: 34\r\n\r\n" + OK.replace(b"ok", b"no")
        assert bodies(message + b"Content-Length: 34\r\n\r\n" + OK) == [OK]
        (problem,) = _headers(io.BytesIO(block + b"\r\n")).values()  # type: ignore[union-attr]
        assert problem == b"a header block of more than %d lines or %d bytes" % (MAX_HEADER_LINES, MAX_HEADER_BYTES)


# --------------------------------------------------------------------------------------------
# messages (vibench/lsp/protocol.py)
# --------------------------------------------------------------------------------------------


def test_a_cut_body_full_of_escaped_quotes_is_answered(server: RecordingServer) -> None:
    """A body cut inside a string: each escaped quote in it started another string, scanned to the end
    (quadratic: 4.9 s for 16,000 of them, hours for the MiB the id is looked for in). Each string is now one
    token however it ends."""
    server.raw(frame(b'{"jsonrpc": "2.0", "id": "cut", "method": "textDocument/hover", "x": "' + b'\\"' * 2**19))
    server.raw(frame(b'{"jsonrpc": "2.0", "method": "textDocument/hover", "params": {"x": ' + b'"\\' * 2**19))
    server.raw(frame(hover("after")))  # (a pipe holds it while a server is stuck on the body before)
    assert server.answer("after")["result"] is None
    assert server.answer("cut")["error"]["code"] == -32600
    assert [m["error"]["code"] for m in server.answers_without_id()] == [-32700]
    ended_clean(server)


def test_a_cut_string_is_one_token_of_the_id_scan() -> None:
    from vibench.lsp.protocol import _TOKEN, readable_id

    assert [m.group() for m in _TOKEN.finditer('{"a": "x\\"y')] == ["{", '"a"', ":", '"x\\"y']
    assert readable_id('{"a": "x\\"y", "id": 4, "b": "cut') == 4
    assert readable_id('{"a": "x\\"y, "id": 4') is None  # (the id is inside the string)
    assert readable_id('{"id": "cut') is None


def test_a_request_without_params_is_answered_as_its_method_allows(server: RecordingServer) -> None:
    """JSON-RPC lets a request leave `params` out: `{"id": 12, "method": "no/such"}` got InvalidParams "missing
    1 required positional argument: 'params'". A method the server has no handler of (LSP's own included) is
    Method Not Found; a method that takes parameters still gets InvalidParams; `shutdown` takes none."""
    for msg_id, method in (
        ("none", "no/such"),
        ("custom", "$/custom"),
        ("refs", "textDocument/references"),
        ("hover", "textDocument/hover"),
    ):
        server.raw(frame({"jsonrpc": "2.0", "id": msg_id, "method": method}))
    server.raw(frame({"jsonrpc": "2.0", "method": "no/such"}))  # a notification: dropped
    server.raw(frame(hover("after")))
    assert server.answer("after")["result"] is None
    for msg_id in ("none", "custom", "refs"):
        assert server.answer(msg_id)["error"]["code"] == -32601, server.answer(msg_id)
    assert server.answer("none")["error"]["message"] == "Method Not Found: no/such"
    assert server.answer("hover")["error"]["code"] == -32602
    assert server.shown == []
    server.raw(frame({"jsonrpc": "2.0", "id": "down", "method": "shutdown"}))
    assert server.answer("down") == {"jsonrpc": "2.0", "id": "down", "result": None}
    server.raw(frame({"jsonrpc": "2.0", "method": "exit"}))
    assert server.proc.wait(timeout=TIMEOUT) == 0  # exit after shutdown: 0 (1 had it not been taken)
    ended_clean(server)


# --------------------------------------------------------------------------------------------
# quick fixes (vibench/lsp/checking.py)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "fix"),
    [
        # the reading node's name is as near the suggestion as the misspelt name: the fix was lost
        ("layer1: {block: relu, in: x}\n  layer2: {block: relu, in: lyaer1}", ("E401", "lyaer1", "layer1")),
        ("conv: {block: relu, in: x}\n  conw: {block: relu, in: cnov}", ("E401", "cnov", "conv")),
        ("conv: {block: relu, in: x}\n  convv: {block: relu, in: cov}", ("E401", "cov", "conv")),
        # a misspelt key the hint names
        ("act: {block: relu, inn: x}", ("E405", "inn", "in")),
    ],
)
def test_the_fix_replaces_the_name_the_diagnostic_is_about(nodes: str, fix: tuple[str, str, str]) -> None:
    last = nodes.rsplit("\n  ", 1)[-1].split(":")[0]
    assert fixes(HEAD + f"  {nodes}\noutputs: {{y: {last}}}\n") == [fix]


@pytest.mark.parametrize(
    ("block", "reference"), [("relu", "outx.outt"), ("add", "[outx.outt, x]"), ("add", "{a: outx.outt}")]
)
def test_a_misspelt_port_is_replaced_not_its_node(block: str, reference: str) -> None:
    """ "node `outx` has no output port `outt`", "did you mean `out`?": the fix rewrote the node, `out.outt`."""
    text = HEAD + "  outx: {block: lstm, in: x, hidden_size: 4}\n" + f"  o: {{block: {block}, in: {reference}}}\n"
    text += "outputs: {y: o}\n"
    assert fixes(text) == [("E405", "outt", "out")]
    assert replaced(text) == [text.replace("outx.outt", "outx.out")]


# --------------------------------------------------------------------------------------------
# related information in another file (vibench/lsp/checking.py, server.py)
# --------------------------------------------------------------------------------------------

TEMPLATE = """\
vibench: 1
name: Tpl
inputs: {x: {shape: [B, 3]}}
nodes: {r: {doc: "\U0001d54f\U0001d54f", block: relx, in: x}}
outputs: {y: r}
"""
USE = "vibench: 1\nname: Use\nextends: ./tpl.yaml\n"


def related(tmp_path: Path, template: str, encoding: str = "utf-16") -> list[tuple[object, object]]:
    """(elsewhere, elsewhere_at) of each problem of a spec extending ``template``."""
    from vibench.lsp import checking
    from vibench.lsp.outline import outline
    from vibench.lsp.text import Lines

    (tmp_path / "tpl.yaml").write_text(template, encoding="utf-8", newline="")
    checked = checking.check(USE, str(tmp_path / "use.yaml"), 1, [], encoding)
    return [(p.elsewhere, p.elsewhere_at) for p in checking.problems(checked, outline(USE), Lines(USE, encoding))]


@pytest.mark.parametrize(("encoding", "character"), [("utf-16", 32), ("utf-8", 36), ("utf-32", 30)])
def test_a_position_in_another_file_counts_that_files_units(tmp_path: Path, encoding: str, character: int) -> None:
    """`relx` after two `𝕏` is the compiler's column 31, in code points: LSP's UTF-16 character is 32 (the
    related information said 30, a unit left of the name per character beyond U+FFFF)."""
    assert related(tmp_path, TEMPLATE, encoding) == [((str(tmp_path / "tpl.yaml"), 4, 31), (3, character))]


def test_a_position_in_another_file_counts_lsps_lines(tmp_path: Path) -> None:
    """A NEL ends a line for YAML (the compiler's line 4), not for LSP (line 2, after the NEL on it)."""
    template = "vibench: 1\nname: Tpl\n# \U0001d54f\x85 x\n"
    assert related(tmp_path, template) == [((str(tmp_path / "tpl.yaml"), 4, 2), (2, 6))]


def test_a_warning_in_another_file_is_placed_in_its_text_read_from_disk(tmp_path: Path) -> None:
    """A warning comes without the texts an error carries: the file is read again."""
    template = (
        '{vibench: 1, name: Tpl, doc: "\U0001d54f", params: {unused: {type: int, default: 3}},'
        " inputs: {x: {shape: [B]}}, nodes: {r: {block: relu, in: x}}, outputs: {y: r}}\n"
    )
    column = template.index("unused") + 1  # in code points; one more UTF-16 unit for the `𝕏` before it
    assert related(tmp_path, template) == [((str(tmp_path / "tpl.yaml"), 1, column), (0, column))]


def test_related_information_is_sent_in_lsps_units(server: RecordingServer, tmp_path: Path) -> None:
    (tmp_path / "tpl.yaml").write_text(TEMPLATE, encoding="utf-8")
    uri = file_uri(tmp_path / "use.yaml")
    server.open(uri, USE)
    (found,) = server.diagnostics(uri)
    (where,) = found["relatedInformation"]
    assert where["location"]["uri"] == (tmp_path / "tpl.yaml").as_uri()
    assert where["location"]["range"]["start"] == {"line": 3, "character": 32}
    ended_clean(server)
