"""The pygls protocol the server speaks: each message the client sends gets the answer JSON-RPC and LSP
prescribe, or is dropped with a line in the log (standard error), never a traceback or an "Error in server"
pop-up; with workarounds for pygls 2.1 (each checked by a test in tests/test_lsp_protocol.py,
tests/test_lsp_protocol_1206f.py or tests/test_lsp_protocol_1207i.py; drop one when pygls does it itself):

* **a message that does not read is answered.** :meth:`VibenchProtocol.receive` takes each body as
  :mod:`vibench.lsp.stdio` frames it (pygls' read loop, with its ``json.loads``, is not used). A body that is not
  UTF-8, not JSON, or nests deeper than Python's JSON reader goes gets JSON-RPC's Invalid Request (-32600) when
  its ``id`` can be read (:func:`readable_id`), else Parse Error (-32700) with a null id; pygls logged a
  traceback and answered nothing, and the client waited for ever. A message that is JSON but no JSON-RPC 2.0
  request (an array, a ``"method": 5``, an ``id`` that is an object, ``"jsonrpc": "1.0"``) gets Invalid Request
  (pygls answered ``"method": 5`` with -32603 and its traceback in ``error.data``); such a notification or
  answer is dropped.
* **nothing but ``initialize`` and ``exit`` before ``initialize``**, as LSP asks: a request is answered with
  ServerNotInitialized (-32002), a notification dropped (pygls answered a hover with null, and a ``didOpen``
  popped up "Error in server: The workspace is not available").
* **``initialize`` once, and nothing but ``exit`` after ``shutdown``.** A second ``initialize`` is answered with
  Invalid Request (-32600) and changes nothing: pygls built a new workspace, and the open documents' text was
  replaced by what is on disk (a buffer with no file failed with a traceback). A request after ``shutdown`` is
  answered with Invalid Request (pygls dropped it, and the client waited for ever); a notification is dropped.
* **parameters that do not read.** pygls reads a message's parameters before it looks at its id: a
  ``textDocument/hover`` at line -1, or with ``params: null``, got no answer at all and popped up "Error in
  server". Such a request is answered with InvalidParams (-32602); such a notification (a ``didChange`` with
  ``version: null``) is dropped (:meth:`VibenchProtocol.structure_message`). A request for a method the server
  has no handler of is read with whatever parameters it has, none included (JSON-RPC lets a message leave
  ``params`` out), and answered Method Not Found (-32601): pygls' generic message demanded ``params``, so
  ``{"id": 12, "method": "no/such"}`` got "Invalid Params: ... missing 1 required positional argument".
* **no future kept per notification.** ``JsonRPCProtocol._execute_handler`` files the future of a handler
  that is a generator (pygls' own ``didOpen``, ``didChange``, ``didClose``, ``didSave``, which then call
  vibench's) or a coroutine under its message id in ``_request_futures``, and only a request's answer takes
  it out again: each notification left one behind (about 2 KB a keystroke, 6,002 after 6,000 edits). Here
  a finished future leaves that table (:meth:`VibenchProtocol._execute_handler`).
* **an edit to a document that is not open is ignored**, with a line in the log: pygls' ``didChange``
  raised ``KeyError`` there, shown to the user as an error message; so is a ``notebookDocument/didChange`` of a
  notebook (or of a cell) that is not open (:meth:`VibenchProtocol._unknown_notebook`).
* **an unknown command is answered without a traceback**: pygls answered ``workspace/executeCommand`` of a
  command it has not with InvalidParams by raising it, and logged its traceback each time; here the answer is
  sent and one line logged (:meth:`VibenchProtocol._unknown_command`).
* **an edit is placed by LSP's lines** (:class:`vibench.lsp.text.EditedText`): pygls' ``TextDocument`` applies
  an incremental change to the lines of ``str.splitlines``, which also end at U+2028, NEL and a form feed, so
  an edit after one of them landed on another line (and its quick fix then rewrote the wrong text); and a
  character past a ``\\r\\n`` line's end took the ``\\r``. The text, edited here (a message's edits on one list
  of its lines, so that many edits cost no more than their length and the text's), is handed to pygls' document
  whole.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Generator
from concurrent.futures import Future
from typing import Any
from urllib.parse import unquote

import cattrs
from lsprotocol import types as t
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage, LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from vibench.lsp.text import EditedText

logger = logging.getLogger("vibench.lsp")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_NOT_INITIALIZED = -32002

ID_SCAN = 2**20
"""Characters of a message that does not read in which its ``id`` is looked for (clients write it first)."""
# JSON's tokens, roughly. A string runs to its closing quote or, cut short, to the end of the text: one token
# either way, so that a cut string is scanned once (when it had to close, each `\"` in it started another string
# scanned to the end: quadratic, minutes for a cut body of a MiB).
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.S)


class _Handled:
    """What :meth:`VibenchProtocol.structure_message` gives for a message it answered or dropped itself."""


HANDLED = _Handled()


class VibenchProtocol(LanguageServerProtocol):
    """pygls' language-server protocol with the checks and workarounds of the module docstring."""

    initialize_received = False  # set by the first `initialize` request

    def receive(self, body: bytes) -> None:
        """Handle one message's body as the stream framed it (see the module docstring)."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as err:
            self._refuse(body.decode("utf-8", "replace"), f"the message is not UTF-8 (byte {err.start})")
            return
        try:
            data = json.loads(text)
        except RecursionError:
            self._refuse(text, "the message nests deeper than the server reads")
            return
        except ValueError as err:
            self._refuse(text, f"the message is not JSON: {err}")
            return
        problem = _envelope_problem(data)
        if problem is None:
            self.handle_message(self.structure_message(data))
            return
        is_request = isinstance(data, dict) and "method" in data and "id" in data
        no_answer = isinstance(data, dict) and ("method" in data or "result" in data or "error" in data)
        msg_id = data.get("id") if is_request and _is_id(data.get("id")) else None
        if no_answer and not is_request:  # a notification or an answer: nobody waits for a reply
            logger.warning("vibench-lsp: a message dropped: %s", problem)
            return
        logger.warning("vibench-lsp: a message refused (answered, id %r): %s", msg_id, problem)
        self.answer_error(msg_id, INVALID_REQUEST, f"Invalid Request: {problem}")

    def _refuse(self, text: str, problem: str) -> None:
        """Answer a body that does not read: Invalid Request to the request whose id can be read, else Parse Error."""
        msg_id = readable_id(text)
        logger.warning("vibench-lsp: %s (id %r)", problem, msg_id)
        if msg_id is None:
            self.answer_error(None, PARSE_ERROR, f"Parse Error: {problem}")
        else:
            self.answer_error(msg_id, INVALID_REQUEST, f"Invalid Request: {problem}")

    def answer_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        """Send a JSON-RPC error answer; ``msg_id`` None is sent as ``"id": null`` (pygls leaves a null id out)."""
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    def structure_message(self, data: Any) -> Any:
        """The message as pygls' typed object (as pygls' own, which logs a traceback when the parameters do not
        read); :data:`HANDLED` for a request it answered with InvalidParams, or a message it dropped."""
        if not isinstance(data, dict) or "jsonrpc" not in data:
            return data  # (as json's object hook: an object inside a message)
        method = data.get("method")
        if "id" not in data:
            kind: Any = self.get_message_type(method) or JsonRPCNotification
        elif "error" in data:
            kind = t.ResponseErrorMessage
        elif "method" in data:  # (a method without a handler: read as any request, and answered -32601 later)
            kind = (self.get_message_type(method) if self._handles(method) else None) or JsonRPCRequestMessage
        else:
            kind = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
        if kind in (JsonRPCNotification, JsonRPCRequestMessage) and "params" not in data:
            data = {**data, "params": None}  # JSON-RPC's params may be left out; the generic messages need one
        try:
            return self._converter.structure(data, kind)
        except Exception as error:  # noqa: BLE001 - cattrs' errors, or an lsprotocol validator's: the client's data
            summary = "; ".join(cattrs.transform_error(error))  # `invalid value @ $.params.position`
            if "id" in data and "method" in data:
                logger.warning("vibench-lsp: %r request %r does not read: %s", method, data["id"], summary)
                self.answer_error(data["id"], INVALID_PARAMS, f"Invalid Params: {summary}")
            else:
                what = f"{method!r} notification" if "id" not in data else f"answer to {data['id']!r}"
                logger.warning("vibench-lsp: %s dropped: it does not read: %s", what, summary)
            return HANDLED

    def _handles(self, method: Any) -> bool:
        """Whether the server has a handler of ``method`` (pygls' own, or one of vibench's features)."""
        return method in self.fm.builtin_features or method in self.fm.features

    def handle_message(self, message: Any) -> None:
        if message is HANDLED:
            return
        method = getattr(message, "method", None)
        if self._shutdown and method is not None and method != t.EXIT:
            self._after_shutdown(message)
            return
        if method == t.INITIALIZE and self.initialize_received:
            # pygls would build a new workspace, and read the open documents' text again from disk
            logger.warning("vibench-lsp: a second initialize (id %r) refused", message.id)
            self.answer_error(message.id, INVALID_REQUEST, "Invalid Request: `initialize` may be sent only once")
            return
        if method == t.INITIALIZE:
            self.initialize_received = True
        elif method is not None and method != t.EXIT and not self.initialize_received:
            if hasattr(message, "id"):
                answer = f"ServerNotInitialized: `{method}` before `initialize`"
                self.answer_error(message.id, SERVER_NOT_INITIALIZED, answer)
            else:
                logger.warning("vibench-lsp: %r before initialize dropped", method)
            return
        if method == t.WORKSPACE_EXECUTE_COMMAND and hasattr(message, "id") and self._unknown_command(message):
            return
        if method == t.NOTEBOOK_DOCUMENT_DID_CHANGE and self._unknown_notebook(message.params):
            return
        super().handle_message(message)

    def _after_shutdown(self, message: Any) -> None:
        """Answer a request after ``shutdown`` with InvalidRequest, as LSP asks (pygls dropped it, and the client
        waited for ever); drop a notification, with a line in the log."""
        if hasattr(message, "id"):
            answer = f"Invalid Request: `{message.method}` after `shutdown`: the server takes only `exit` now"
            self.answer_error(message.id, INVALID_REQUEST, answer)
        else:
            logger.warning("vibench-lsp: %r after shutdown dropped", message.method)

    def _unknown_command(self, message: Any) -> bool:
        """Answer an ``executeCommand`` of a command the server has not (it has none) with InvalidParams, as pygls
        does, but without the traceback pygls logged for each (its handler raised the answer); False for a known one."""
        command = message.params.command
        if command in self.fm.commands:
            return False
        logger.warning("vibench-lsp: workspace/executeCommand of unknown command %r answered InvalidParams", command)
        self.answer_error(message.id, INVALID_PARAMS, f"Invalid Params: Command name {command!r} is not defined")
        return True

    def _unknown_notebook(self, params: t.DidChangeNotebookDocumentParams) -> bool:
        """Whether a notebook's edit names a notebook or cell that is not open: dropped with a line in the log (pygls
        raised ``KeyError``, shown as "Error in server"). The server serves no notebook (it offers no notebook sync);
        pygls keeps those a client opens."""
        uri = params.notebook_document.uri
        if unquote(uri) not in self.workspace.notebook_documents:
            logger.warning("vibench-lsp: an edit of notebook %s, which is not open, ignored", uri)
            return True
        cells = params.change.cells
        structure = cells.structure if cells is not None else None
        opened = {unquote(d.uri) for d in (structure.did_open or [])} if structure is not None else set()
        # (a cell the same message opens, as its structure change adds it, is open when its text is edited)
        closed = [text.document.uri for text in (cells.text_content or []) if unquote(text.document.uri)
                  not in self.workspace.text_documents and unquote(text.document.uri) not in opened] \
            if cells is not None else []
        if closed:
            logger.warning("vibench-lsp: an edit of notebook %s ignored: its cell %s is not open", uri, closed[0])
        return bool(closed)

    def _execute_handler(self, msg_id: Any, handler: Any, callback: Any, args: tuple[Any, ...] | None = None,
                         kwargs: dict[str, Any] | None = None) -> None:
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(lambda done: self._forget(msg_id, done))

    def _forget(self, msg_id: Any, future: Future[Any] | Any) -> None:
        """Take a finished future out of the table (a request's answer may have taken it already)."""
        if self._request_futures.get(msg_id) is future:
            self._request_futures.pop(msg_id, None)

    @lsp_method(t.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: t.DidChangeTextDocumentParams) -> Generator[Any, Any, None]:
        uri = params.text_document.uri
        if unquote(uri) not in self.workspace.text_documents:
            logger.warning("vibench-lsp: an edit of %s, which is not open, ignored", uri)
            return
        document = self.workspace.get_text_document(uri)
        kind = self.workspace.position_encoding
        encoding = str(getattr(kind, "value", kind) or "utf-16")  # an enum member, or its value
        edited = EditedText(document.source, encoding)
        for change in params.content_changes:  # each applies to the text the ones before it left
            if isinstance(change, t.TextDocumentContentChangePartial):
                r = change.range
                edited.replace((r.start.line, r.start.character), (r.end.line, r.end.character), change.text)
            else:
                edited = EditedText(change.text, encoding)
        # the text placed by LSP's lines, handed to pygls' document whole (its own edits split lines as Python does)
        document.apply_change(t.TextDocumentContentChangeWholeDocument(text=edited.text))
        document.version = params.text_document.version
        handler = self.fm.features.get(t.TEXT_DOCUMENT_DID_CHANGE)
        if handler is not None:
            yield handler, (params,), None


def _is_id(value: Any) -> bool:
    """Whether ``value`` is an id LSP allows: an integer or a string."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _envelope_problem(data: Any) -> str | None:
    """What makes ``data`` no JSON-RPC 2.0 message LSP takes, or None."""
    if not isinstance(data, dict):
        return f"a message is a JSON object, not {type(data).__name__ if data is not None else 'null'}"
    if data.get("jsonrpc") != "2.0":
        return f'"jsonrpc" must be "2.0", not {json.dumps(data.get("jsonrpc"))[:40]}'
    if "id" in data and not _is_id(data["id"]) and not (data["id"] is None and "error" in data):
        return f'"id" must be an integer or a string, not {json.dumps(data["id"])[:40]}'
    if "method" in data and not isinstance(data["method"], str):
        return f'"method" must be a string, not {json.dumps(data["method"])[:40]}'
    if "method" not in data and "id" not in data:
        return 'neither "method" nor "id"'
    return None


def readable_id(text: str) -> int | str | None:
    """The ``id`` of a message that does not read as a whole, found in its first :data:`ID_SCAN` characters (each
    read once): the integer or string value of the key ``id`` of the outermost object; None if there is none.

    >>> readable_id('{"jsonrpc": "2.0", "id": 12, "params": [[[[')
    12
    >>> readable_id('{"params": {"id": 3}, "id": "a"}'), readable_id('{"params": {"id": 3}}')
    ('a', None)
    """
    depth, previous, state = 0, "", ""  # state: "key" after `"id"` in the outermost object, "colon" after its `:`
    for match in _TOKEN.finditer(text, 0, ID_SCAN):
        token = match.group()
        if state == "colon":
            try:
                value = json.loads(token)
            except ValueError:
                return None
            return value if _is_id(value) else None
        state = "colon" if state == "key" and token == ":" else ""
        if depth == 1 and token == '"id"' and previous in ("{", ","):
            state = "key"
        if token in ("{", "["):
            depth += 1
        elif token in ("}", "]"):
            depth -= 1
        previous = token
    return None
