"""A small Language Server Protocol client over stdio, enough to drive yaml-language-server in tests.

It speaks JSON-RPC 2.0 with ``Content-Length`` framing, answers the server's own requests
(``workspace/configuration`` with the given settings, capability registration and progress with
``null``) and keeps every ``textDocument/publishDiagnostics`` it receives. The server ignores
settings pushed by ``workspace/didChangeConfiguration`` alone, so they are served on request.

    >>> server = LanguageServer([node, server_js, "--stdio"], settings={"yaml": {...}})  # doctest: +SKIP
    >>> server.initialize(root_uri)                                                        # doctest: +SKIP
    >>> server.open(uri, text); server.diagnostics(uri)                                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class LspError(RuntimeError):
    """The server answered a request with an error, died, or did not answer in time."""


@dataclass
class Published:
    """The latest diagnostics the server published for one document."""

    version: int | None
    items: list[dict[str, Any]]
    when: float


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: dict[str, Any] | None = None


def file_uri(path: str | os.PathLike[str]) -> str:
    return Path(path).resolve().as_uri()


class LanguageServer:
    """One language-server process and the documents opened in it."""

    def __init__(self, command: list[str], settings: dict[str, Any], cwd: str | None = None,
                 timeout: float = 30.0, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self._next_id = 0
        self._pending: dict[int, _Pending] = {}
        self._published: dict[str, Published] = {}
        self._versions: dict[str, int] = {}
        self._version_counter = 0
        self._publications: dict[str, int] = {}  # publishDiagnostics received, per uri
        self.shown: list[dict[str, Any]] = []  # the params of each window/showMessage, in order
        self.logged: list[dict[str, Any]] = []  # the params of each window/logMessage, in order
        self.unframed: list[bytes] = []  # what came on standard output that is no well-framed JSON-RPC message
        self._changed = threading.Condition()
        self._write_lock = threading.Lock()
        self.stderr_lines: list[str] = []
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=cwd, env=env)
        self._reader = threading.Thread(target=self._read_loop, name="lsp-reader", daemon=True)
        self._reader.start()
        self._stderr_reader = threading.Thread(target=self._drain_stderr, name="lsp-stderr", daemon=True)
        self._stderr_reader.start()

    # -- protocol ---------------------------------------------------------------------------------

    def initialize(self, root_uri: str) -> dict[str, Any]:
        capabilities = {
            "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": True}},
            "textDocument": {
                "synchronization": {"dynamicRegistration": False},
                "completion": {"completionItem": {"snippetSupport": True,
                                                  "documentationFormat": ["markdown", "plaintext"]}},
                "hover": {"contentFormat": ["markdown", "plaintext"]},
                "publishDiagnostics": {"relatedInformation": True, "versionSupport": True},
            },
        }
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": root_uri,
                                             "capabilities": capabilities,
                                             "workspaceFolders": [{"uri": root_uri, "name": "root"}]})
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": self.settings})
        return result

    def open(self, uri: str, text: str, language_id: str = "yaml") -> None:
        """Open a document. Versions never repeat, not even across close and reopen: the server
        caches parsed documents by (uri, version)."""
        with self._changed:
            self._published.pop(uri, None)
            version = self._versions[uri] = self._new_version()
        self.notify("textDocument/didOpen",
                    {"textDocument": {"uri": uri, "languageId": language_id, "version": version, "text": text}})

    def change(self, uri: str, text: str) -> None:
        """Replace the whole text of an open document."""
        with self._changed:
            version = self._versions[uri] = self._new_version()
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": [{"text": text}]})

    def _new_version(self) -> int:
        self._version_counter += 1
        return self._version_counter

    def close(self, uri: str) -> None:
        """Close a document, and wait for the server's clearing of its diagnostics (which would
        otherwise pass for the diagnostics of the next document opened at the same uri)."""
        with self._changed:
            seen = self._publications.get(uri, 0)
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        deadline = time.monotonic() + self.timeout
        with self._changed:
            while self._publications.get(uri, 0) == seen and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            self._versions.pop(uri, None)
            self._published.pop(uri, None)

    def completion(self, uri: str, line: int, character: int) -> list[dict[str, Any]]:
        """Completion items at a 0-based position."""
        result = self.request("textDocument/completion",
                              {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        if result is None:
            return []
        return result["items"] if isinstance(result, dict) else result

    def hover(self, uri: str, line: int, character: int) -> str:
        """The hover text at a 0-based position ("" when there is none)."""
        result = self.request("textDocument/hover",
                              {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        if not result:
            return ""
        contents = result["contents"]
        if isinstance(contents, dict):
            return contents.get("value", "")
        if isinstance(contents, list):
            return "\n".join(c if isinstance(c, str) else c.get("value", "") for c in contents)
        return str(contents)

    def definition(self, uri: str, line: int, character: int) -> list[dict[str, Any]]:
        """The locations ``textDocument/definition`` answers (a single one as a list)."""
        result = self.request("textDocument/definition",
                              {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        if result is None:
            return []
        return result if isinstance(result, list) else [result]

    def document_symbols(self, uri: str) -> list[dict[str, Any]]:
        return self.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}}) or []

    def code_actions(self, uri: str, diagnostics: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The code actions for ``diagnostics`` (asked over the range of the first)."""
        return self.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": diagnostics[0]["range"],
                                                        "context": {"diagnostics": diagnostics}}) or []

    def resolve(self, item: dict[str, Any]) -> dict[str, Any]:
        return self.request("completionItem/resolve", item)

    def diagnostics(self, uri: str, timeout: float | None = None) -> list[dict[str, Any]]:
        """The diagnostics published for the current version of ``uri`` (waits for them)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._changed:
            while True:
                pub = self._published.get(uri)
                current = self._versions.get(uri)
                if pub is not None and (pub.version is None or pub.version == current):
                    return pub.items
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise LspError(f"no diagnostics for {uri} (version {current}) within the timeout"
                                   + self._stderr_tail())
                self._changed.wait(left)

    def wait_until(self, done: Any, what: str, timeout: float | None = None) -> None:
        """Wait until ``done()`` (read under the lock that messages are recorded under) is true. It is asked
        again on each message and at least every 0.1 s: a condition on something else than the server's messages
        (a file a plug-in writes) was seen only when the timeout ran out (2 minutes per test)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise LspError(f"no {what} within the timeout" + self._stderr_tail())
                self._changed.wait(min(left, 0.1))

    def shutdown(self) -> None:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", None, timeout=5)
                self.notify("exit", None)
                self.proc.wait(timeout=5)
            except (LspError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=self.timeout)  # all the server wrote is read (its streams end with it)
        self._stderr_reader.join(timeout=self.timeout)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    # -- JSON-RPC ---------------------------------------------------------------------------------

    def request(self, method: str, params: Any, timeout: float | None = None) -> Any:
        msg_id, pending = self.send_request(method, params)
        if not pending.done.wait(timeout or self.timeout):
            self._pending.pop(msg_id, None)
            raise LspError(f"{method}: no answer within {timeout or self.timeout} s" + self._stderr_tail())
        self._pending.pop(msg_id, None)
        if pending.error is not None:
            raise LspError(f"{method}: {pending.error.get('message')}")
        return pending.result

    def send_request(self, method: str, params: Any) -> tuple[int, _Pending]:
        """Send a request without waiting: its id, and what is set (``done``) when its answer comes."""
        with self._write_lock:
            self._next_id += 1
            msg_id = self._next_id
        pending = self._pending[msg_id] = _Pending()
        self._send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id, pending

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode("utf-8")
        assert self.proc.stdin is not None
        with self._write_lock:
            try:
                self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError) as err:
                raise LspError(f"the server is gone: {err}" + self._stderr_tail()) from None

    def _read_loop(self) -> None:
        """Read messages as LSP frames them (``Name: value`` header lines ending ``\r\n``, an empty line,
        a body of ``Content-Length`` bytes holding a JSON-RPC 2.0 object); anything else is kept in
        :attr:`unframed` and skipped."""
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self._wake_all()
                    return
                if line == b"\r\n":
                    break
                name, colon, value = line.partition(b":")
                if not (line.endswith(b"\r\n") and colon and name.isascii() and name.strip() == name):
                    self.unframed.append(line)
                    continue
                if name.lower() == b"content-length":
                    length = int(value)
            if length is None:
                self.unframed.append(b"(a header without Content-Length)")
                continue
            body = stream.read(length)
            try:
                message = json.loads(body.decode("utf-8"))
            except ValueError:
                message = None
            if not (isinstance(message, dict) and message.get("jsonrpc") == "2.0"):
                self.unframed.append(body)
                continue
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # a request from the server
            self._send({"jsonrpc": "2.0", "id": message["id"], "result": self._answer(message)})
        elif "method" in message:
            if message["method"] == "window/showMessage":
                with self._changed:
                    self.shown.append(message["params"])
                    self._changed.notify_all()
            if message["method"] == "window/logMessage":
                with self._changed:
                    self.logged.append(message["params"])
                    self._changed.notify_all()
            if message["method"] == "textDocument/publishDiagnostics":
                params = message["params"]
                with self._changed:
                    uri = params["uri"]
                    self._publications[uri] = self._publications.get(uri, 0) + 1
                    if uri in self._versions:  # not the clearing that follows a close
                        self._published[uri] = Published(params.get("version"), params["diagnostics"],
                                                         time.monotonic())
                    self._changed.notify_all()
        else:
            pending = self._pending.get(message.get("id"))
            if pending is not None:
                pending.result = message.get("result")
                pending.error = message.get("error")
                pending.done.set()

    def _answer(self, request: dict[str, Any]) -> Any:
        if request["method"] == "workspace/configuration":
            return [self._section(item.get("section")) for item in request["params"]["items"]]
        return None  # client/registerCapability, window/workDoneProgress/create, ...

    def _section(self, section: str | None) -> Any:
        value: Any = self.settings
        for part in (section or "").split("."):
            if not part:
                continue
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    def _wake_all(self) -> None:
        for pending in list(self._pending.values()):
            pending.error = {"message": "the server exited" + self._stderr_tail()}
            pending.done.set()
        with self._changed:
            self._changed.notify_all()

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace").rstrip())

    def _stderr_tail(self) -> str:
        tail = "\n".join(self.stderr_lines[-20:])
        return f"\nserver stderr:\n{tail}" if tail else ""
