"""The pygls protocol the server speaks, with three workarounds for pygls 2.1 (each checked by a test in
tests/test_lsp_protocol.py; drop one when pygls does it itself):

* **no future kept per notification.** ``JsonRPCProtocol._execute_handler`` files the future of a handler
  that is a generator (pygls' own ``didOpen``, ``didChange``, ``didClose``, ``didSave``, which then call
  vibench's) or a coroutine under its message id in ``_request_futures``, and only a request's answer takes
  it out again: each notification left one behind (about 2 KB a keystroke, 6,002 after 6,000 edits). Here
  a finished future leaves that table (:meth:`VibenchProtocol._execute_handler`).
* **a request whose parameters do not read gets an error answer.** pygls reads a message's parameters
  before it looks at its id: a ``textDocument/hover`` at line -1, or with ``params: null``, got no answer
  at all (the client waited for ever) and popped up "Error in server". Here it is answered with JSON-RPC's
  InvalidParams (-32602) (:meth:`VibenchProtocol.structure_message`).
* **an edit to a document that is not open is ignored**, with a line in the log (standard error): pygls'
  ``didChange`` raised ``KeyError`` there, shown to the user as an error message.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from concurrent.futures import Future
from typing import Any
from urllib.parse import unquote

from lsprotocol import types as t
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

logger = logging.getLogger("vibench.lsp")


class _Answered:
    """What :meth:`VibenchProtocol.structure_message` gives for a request it answered with an error."""


ANSWERED = _Answered()


class VibenchProtocol(LanguageServerProtocol):
    """pygls' language-server protocol with the workarounds of the module docstring."""

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

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if not (isinstance(data, dict) and "id" in data and "method" in data):
                raise  # a notification or an answer: nobody waits for a reply (pygls logs it)
            logger.warning("vibench-lsp: %r request %r does not read: %s", data.get("method"), data.get("id"),
                           error)
            self._send_response(data["id"], None, error.to_response_error())
            return ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is ANSWERED:
            return
        super().handle_message(message)

    @lsp_method(t.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: t.DidChangeTextDocumentParams) -> Generator[Any, Any, None]:
        if unquote(params.text_document.uri) not in self.workspace.text_documents:
            logger.warning("vibench-lsp: an edit of %s, which is not open, ignored", params.text_document.uri)
            return
        yield from super().lsp_text_document__did_change(params)
