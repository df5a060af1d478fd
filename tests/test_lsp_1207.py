"""vibench-lsp against the QA pass of 1207.

1. Diagnostics are placed in time linear in their number and the text: each searched to its line's end (100,000
   unknown keys on a 1 MB line held the server for hours), counted here in characters searched, never in seconds.
   They are placed on the checker thread, not the event loop; at most ``MAX_PROBLEMS`` are, then one more says how
   many are not shown.
2. A ``debounceMs`` that is no number of milliseconds from 0 to 60,000 (a 401-digit integer: an OverflowError
   traceback in the answer to ``initialize``; ``1e999`` or ``1e12``: no edit checked again) is refused with a
   warning message, and the value before kept; ``--debounce-ms`` likewise.
3. A document whose path holds a NUL (``file:///x/%00x.vibench.yaml``) is checked as an unsaved one: it was
   "checking failed (a bug): ValueError: embedded null byte", and no diagnostics ever.
4. A header block with two ``Content-Length`` headers that disagree is skipped: the last one was taken, and its
   body swallowed the next request.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import re
import threading
import time
from typing import Any

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from vibench.lsp import checking  # noqa: E402
from vibench.lsp.outline import outline  # noqa: E402
from vibench.lsp.server import _configure, create_server, serve  # noqa: E402
from vibench.lsp.text import Lines  # noqa: E402

TIMEOUT = 120.0
"""Seconds an in-process session waits for the server's answers: generous, so a loaded machine never fails."""


def keys_line(count: int) -> str:
    """A spec on one line with ``count`` unknown top-level keys (E101 each)."""
    return "{" + ", ".join(f"k{i}: 1" for i in range(count)) + ", vibench: 1}\n"


class _Sent:
    """A writer keeping what the in-process server sends."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.messages.append(json.loads(data.split(b"\r\n\r\n", 1)[1]))

    def close(self) -> None:
        pass

    def of(self, method: str) -> list[dict[str, Any]]:
        return [m["params"] for m in self.messages if m.get("method") == method]


def _receive(server: Any, message: dict[str, Any] | bytes) -> None:
    server.protocol.receive(message if isinstance(message, bytes) else
                            json.dumps({"jsonrpc": "2.0", **message}).encode())


async def _until(done: Any, what: str) -> None:
    """Wait, letting the server's event loop run, until ``done()``."""
    deadline = time.monotonic() + TIMEOUT
    while not done():
        assert time.monotonic() < deadline, f"no {what} within {TIMEOUT:g} s"
        await asyncio.sleep(0.02)


def _in_process(session: Any, debounce: float = 0.05, options: dict[str, Any] | None = None) -> _Sent:
    """Run ``session(server, sent)`` (a coroutine function) on an initialized in-process server."""
    server = create_server([], debounce=debounce)
    sent = _Sent()
    server.protocol.set_writer(sent)

    async def run() -> None:
        params: dict[str, Any] = {"capabilities": {}}
        if options is not None:
            params["initializationOptions"] = options
        _receive(server, {"id": 1, "method": "initialize", "params": params})
        try:
            await session(server, sent)
        finally:
            server._checker.shutdown(wait=True)

    asyncio.run(run())
    return sent


# --------------------------------------------------------------------------------------------
# 1. placing many diagnostics
# --------------------------------------------------------------------------------------------


class _CountedBreaks:
    """checking's line-break pattern, counting the characters its searches read."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.read = 0

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        found = self.pattern.search(text, pos)
        self.read += (len(text) if found is None else found.end()) - pos
        return found

    def finditer(self, text: str, pos: int = 0) -> Any:
        self.read += len(text) - pos
        return self.pattern.finditer(text, pos)


def test_diagnostics_on_one_long_line_are_placed_reading_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 unknown keys on one line: each diagnostic's line end was searched for from its key (the line read
    about 500 times over); it is read once, and each diagnostic still ends at its key."""
    text = keys_line(1000)
    checked = checking.check(text, None, 1, [])
    assert len([d for d in checked.diagnostics if d.code == "E101"]) >= 999
    counted = _CountedBreaks(checking._LINE_END)
    monkeypatch.setattr(checking, "_LINE_END", counted)
    placed = checking.problems(checked, outline(text), Lines(text))
    assert counted.read <= 2 * len(text)
    keys = [text[p.start:p.end] for p in placed if p.diagnostic.code == "E101"]
    assert keys[:3] == ["k0", "k1", "k2"] and len(keys) >= 999


def _token_length_as_before(text: str, start: int) -> int:
    """The length a diagnostic's token had, found by searching the text (before 1207; a backslash is part of a
    plain scalar since 1207c, as in the compiler's carets)."""
    if start >= len(text):
        return 0
    quote = text[start]
    if quote in "'\"":
        end = text.find(quote, start + 1)
        return end - start + 1 if end > start else 1
    end = start
    while end < len(text) and (text[end].isalnum() or text[end] in "_-.$/#\\"
                               or not (text[end].isascii() or text[end].isspace())):
        end += 1
    return max(end - start, 1)


def test_line_and_value_ends_are_those_a_search_finds() -> None:
    pieces = ["a", "b_1", " ", ":", "'", '"', "\n", "\r", "\r\n", "\x85", "\u2028", "é", "😀", "\t", ".", "#", "\\"]
    rnd = random.Random(1207)
    for _ in range(500):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 30)))
        spans = checking._Spans(text)
        for start in rnd.sample(range(len(text) + 1), min(len(text) + 1, 12)):
            found = checking._LINE_END.search(text, start)
            assert spans.line_end(start) == (len(text) if found is None else found.start()), (text, start)
            assert spans.token_length(start) == _token_length_as_before(text, start), (text, start)


def test_past_the_limit_one_more_diagnostic_says_how_many_are_not_shown() -> None:
    text = "vibench: 1\nk0: 1\nk1: 1\nk2: 1\nk3: 1\nk4: 1\n"
    checked = checking.check(text, None, 1, [])
    assert [d.code for d in checked.diagnostics] == ["E101"] * 5
    placed = checking.problems(checked, outline(text), Lines(text), limit=3)
    assert [text[p.start:p.end] for p in placed] == ["k0", "k1", "k2", "k3"]  # the last: where the first left out is
    more = placed[-1].diagnostic
    assert (more.code, more.severity) == ("more", "note")
    assert placed[-1].message.startswith("2 more problems not shown: vibench-lsp shows the first 3 of the 5")
    assert len(checking.problems(checked, outline(text), Lines(text), limit=5)) == 5  # none left out: no note


def test_the_problems_the_compiler_counted_past_its_own_cap_are_said_too() -> None:
    """Validation builds 1,000 diagnostics and counts the rest on the last (Diagnostic.more): at the same cap the
    server showed its 1,000 and no `more` problem, for exactly the 100,000-key case the cap was made for."""
    from vibench.compiler.diagnostics import MAX_DIAGNOSTICS

    text = "vibench: 1\n" + "".join(f"k{i}: 1\n" for i in range(MAX_DIAGNOSTICS + 7))
    checked = checking.check(text, None, 1, [])
    assert len(checked.diagnostics) == MAX_DIAGNOSTICS
    placed = checking.problems(checked, outline(text), Lines(text), limit=MAX_DIAGNOSTICS)
    assert len(placed) == MAX_DIAGNOSTICS + 1
    assert placed[-1].diagnostic.code == "more"
    assert placed[-1].message.startswith(f"7 more problems not shown: vibench-lsp shows the first {MAX_DIAGNOSTICS:,} "
                                         f"of the {MAX_DIAGNOSTICS + 7:,}")
    assert text[placed[-1].start:placed[-1].end] == f"k{MAX_DIAGNOSTICS - 1}"  # at the last shown


def test_diagnostics_are_placed_on_the_checker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Placing ran on the event loop: while it did (hours for a 1 MB line), no request was answered."""
    threads: list[str] = []
    placing = checking.problems

    def recorded(*args: Any, **kwargs: Any) -> list[checking.Problem]:
        threads.append(threading.current_thread().name)
        return placing(*args, **kwargs)

    monkeypatch.setattr(checking, "problems", recorded)
    uri = "file:///nowhere/t.vibench.yaml"

    async def session(server: Any, sent: _Sent) -> None:
        _receive(server, {"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": "vibench: 1\nk0: 1\n"}}})
        await _until(lambda: sent.of("textDocument/publishDiagnostics"), "diagnostics")

    sent = _in_process(session)
    (published,) = sent.of("textDocument/publishDiagnostics")
    assert [d["code"] for d in published["diagnostics"]] == ["E101"]
    assert threads == ["vibench-check"]


# --------------------------------------------------------------------------------------------
# 2. debounceMs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [pytest.param(10**400, id="401-digits"), 1e12, float("inf"), float("nan"), -1,
                                   60_001, "100", True, [100]])
def test_a_debounce_that_is_no_number_of_milliseconds_in_range_is_refused(value: Any) -> None:
    ls = create_server([], debounce=0.25)
    shown: list[Any] = []
    ls.window_show_message = shown.append  # type: ignore[method-assign]
    _configure(ls, {"debounceMs": value})
    assert ls.debounce == 0.25
    (message,) = [m.message for m in shown]
    assert message.startswith("vibench-lsp: debounceMs ")
    assert "is not used (expected a number of milliseconds" in message
    assert message.endswith("it stays 250") and len(message) < 200  # (a 401-digit number is not written out)
    ls._checker.shutdown(wait=True)


@pytest.mark.parametrize(("value", "seconds"), [(0, 0.0), (20, 0.02), (60_000, 60.0), (12.5, 0.0125)])
def test_a_debounce_in_range_is_taken_without_a_word(value: Any, seconds: float) -> None:
    ls = create_server([])
    shown: list[Any] = []
    ls.window_show_message = shown.append  # type: ignore[method-assign]
    _configure(ls, {"debounceMs": value})
    assert ls.debounce == seconds and shown == []
    _configure(ls, {"debounceMs": None})  # as if left out: kept
    assert ls.debounce == seconds and shown == []
    ls._checker.shutdown(wait=True)


def test_a_huge_or_infinite_debounce_over_the_protocol_is_refused_and_edits_are_checked() -> None:
    """`initializationOptions: {debounceMs: <401 digits>}` was answered with an OverflowError traceback; a
    `didChangeConfiguration` to `1e999` (infinite) stopped every later check."""
    uri = "file:///nowhere/d.vibench.yaml"
    answers: list[dict[str, Any]] = []

    async def session(server: Any, sent: _Sent) -> None:
        answers.extend(m for m in sent.messages if m.get("id") == 1)
        _receive(server, b'{"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration", '
                         b'"params": {"settings": {"vibench": {"debounceMs": 1e999}}}}')
        _receive(server, {"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": "vibench: 1\nk0: 1\n"}}})
        await _until(lambda: sent.of("textDocument/publishDiagnostics"), "diagnostics")
        _receive(server, {"method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": "vibench: 1\nk1: 1\nk2: 1\n"}]}})
        await _until(lambda: sent.of("textDocument/publishDiagnostics")[-1]["version"] == 2, "a check of the edit")

    sent = _in_process(session, options={"debounceMs": 10**400})
    assert len(answers) == 1 and "error" not in answers[0] and "result" in answers[0]
    shown = [m["message"] for m in sent.of("window/showMessage")]
    assert len(shown) == 2 and all("debounceMs" in m and "it stays 50" in m for m in shown)
    assert "Infinity" in shown[1]
    assert len(sent.of("textDocument/publishDiagnostics")[-1]["diagnostics"]) == 2
    assert not any("Traceback" in json.dumps(m) for m in sent.messages)


@pytest.mark.parametrize("value", ["inf", "nan", "-5", "1e12", "soon"])
def test_a_debounce_option_out_of_range_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        serve([f"--debounce-ms={value}"])  # (refused before the server takes standard input and output)
    assert ended.value.code == 2
    assert "--debounce-ms: expected a number of milliseconds" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# 3. a path holding a NUL
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("uri", "was"), [
    ("file:///tmp/x/%00x.vibench.yaml", "ValueError: embedded null byte"),
    ("file:///tmp/x/\ud800a.vibench.yaml", "UnicodeEncodeError"),  # valid JSON; no OS call takes the path
])
def test_a_document_whose_path_no_os_call_takes_is_checked_as_unsaved(uri: str, was: str) -> None:
    paths: list[str | None] = []

    async def session(server: Any, sent: _Sent) -> None:
        _receive(server, {"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": "vibench: 1\nk0: 1\n"}}})
        paths.append(server.docs[uri].path)
        await _until(lambda: sent.of("textDocument/publishDiagnostics"), "diagnostics")

    sent = _in_process(session)
    assert paths == [None]
    (published,) = sent.of("textDocument/publishDiagnostics")
    assert [d["code"] for d in published["diagnostics"]] == ["E101"]
    assert sent.of("window/logMessage") == [], f"was: checking failed (a bug): {was}"


# --------------------------------------------------------------------------------------------
# 4. two Content-Length headers
# --------------------------------------------------------------------------------------------


def _bodies(data: bytes) -> list[Any]:
    from vibench.lsp.stdio import read_message

    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    out: list[Any] = []
    while (body := read_message(stream)) is not None:
        out.append(body)
    return out


NEXT = b'{"jsonrpc": "2.0", "id": 2, "method": "shutdown"}'


def test_a_header_block_whose_lengths_disagree_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    following = b"Content-Length: %d\r\n\r\n" % len(NEXT) + NEXT
    with caplog.at_level("WARNING", logger="vibench.lsp"):
        assert _bodies(b"Content-Length: 2\r\nContent-Length: 300\r\n\r\n{}" + following) == [NEXT]
        assert _bodies(b"Content-Length: 300\r\ncontent-length: 2\r\n\r\n{}" + following) == [NEXT]
    assert any("two Content-Length headers disagree: 2 and 300" in r.getMessage() for r in caplog.records)


def test_a_length_given_twice_alike_is_read() -> None:
    assert _bodies(b"Content-Length: 2\r\ncontent-length: 002\r\n\r\n{}" + b"Content-Length: 2\r\n\r\n[]") == [
        b"{}", b"[]"]
