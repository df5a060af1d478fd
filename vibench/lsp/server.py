"""The language server: pygls glue between LSP messages and the features of this package.

Threads and timing. Requests (completion, hover, definition, symbols, code actions) run on the event
loop and read only the current text, its outline (cached per version) and the last good check, so
they never wait for a compile. Whether a document is a spec at all is told from its top-level keys
(:mod:`vibench.lsp.spec_kind`), so a large file that is none (``package-lock.json``) never has an
outline, and one beyond vibench-compile's 16 MiB is not read at all (the user is told once). Checks
run one at a time on a worker thread: an edit (re)starts a per-document timer of ``debounce``
seconds; when it fires, the text of that moment is compiled, its diagnostics placed in it (on the
worker too: at most :data:`~vibench.lsp.checking.MAX_PROBLEMS`) and published, unless a newer edit
arrived meanwhile (that one's timer publishes). Opening a document checks it at once, saving one
re-checks every open document (a template it extends may be the file saved), and so does a change on disk the
client reports (``workspace/didChangeWatchedFiles``; the server registers a watcher of :data:`WATCHED_FILES` when
the client lets it register one). `exit` ends the process
at once, also in the middle of a check: the worker is a daemon thread, and a busy one is not waited
for (:mod:`vibench.lsp.worker`). A background thread imports the compiler and reads the block
catalogue and the library while the client is still starting, so that the first request does not pay
for it.

Streams and text. The protocol has private copies of standard input and output; what the process
prints (a plug-in's ``print`` or ``os.write(1, ...)``) goes to standard error (:mod:`vibench.lsp.stdio`).
Messages are framed by vibench's own reader, which refuses a ``Content-Length`` beyond what it reads
(:func:`vibench.lsp.stdio.read_message`, in place of pygls' read loop), and each gets the answer JSON-RPC and
LSP prescribe (:mod:`vibench.lsp.protocol`: a body that does not read, a request before ``initialize``, one
whose parameters do not read), with pygls' workarounds there too. Every text the editor shows is escaped
(:mod:`vibench.lsp.visible`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from typing import Any, BinaryIO

from lsprotocol import types as t
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from vibench._version import __version__
from vibench.lsp import checking, completion, hover, navigation, spec_kind, visible
from vibench.lsp.catalog import Catalog
from vibench.lsp.completion import span_range
from vibench.lsp.document import Document
from vibench.lsp.outline import Outline, outline
from vibench.lsp.protocol import VibenchProtocol
from vibench.lsp.settings import configure as _configure
from vibench.lsp.settings import debounce_option, usable_path
from vibench.lsp.stdio import MAX_MESSAGE_BYTES, Refused, read_message
from vibench.lsp.text import Lines
from vibench.lsp.worker import Worker

logger = logging.getLogger("vibench.lsp")

DEBOUNCE = 0.1
"""Seconds of quiet after an edit before the document is checked."""
TRIGGER_CHARACTERS = [".", "/", ":", ",", "[", "{", " "]
WATCHED_FILES = "**/*.{yaml,yml,json}"
"""The files whose changes on disk the server asks a client to report (each may be a spec a document uses)."""

# what a check hands the event loop: the check, outline and placed diagnostics of a spec; (None, None, None) for a
# document that is no spec; None for one superseded while it waited
_CheckResult = tuple[checking.Checked, Outline, list[checking.Problem]] | tuple[None, None, None] | None


class VibenchServer(LanguageServer):
    """A pygls server holding the open documents, the catalogue and the check scheduler."""

    protocol: VibenchProtocol

    def __init__(self, search_path: list[str] | None = None, debounce: float = DEBOUNCE) -> None:
        super().__init__("vibench-lsp", __version__, protocol_cls=VibenchProtocol)
        self.docs: dict[str, Document] = {}
        self.catalog = Catalog(search_path)
        self.debounce = debounce
        self._timers: dict[str, asyncio.Task[None]] = {}
        # One worker runs every compile and the warm-up, one at a time; a daemon thread, so that `exit`
        # ends the process even while a check runs (vibench.lsp.worker).
        self._checker = Worker("vibench-check")
        self._library_warm = False
        self.shutdown_requested = False
        self.exit_code = 0  # of the process; 1 when `exit` comes before `shutdown` (as LSP asks)

    # -- the stream ---------------------------------------------------------------------------

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve on the streams until `exit` or their end: pygls' ``start_io`` with the messages framed by
        :func:`vibench.lsp.stdio.read_message` and handled by :meth:`VibenchProtocol.receive`, not by pygls'
        read loop (which died of a huge ``Content-Length``, see :mod:`vibench.lsp.stdio`)."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(self._serve_stream(stdin or sys.stdin.buffer))
        except BrokenPipeError:
            logger.error("vibench-lsp: the connection to the client is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):  # `exit` ends the loop with SystemExit (serve() returns its code)
            pass
        finally:
            self.shutdown()

    async def _serve_stream(self, stream: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        while self._stop_event is not None and not self._stop_event.is_set():
            body = await loop.run_in_executor(self.thread_pool, read_message, stream)
            if body is None:
                return
            if isinstance(body, Refused):
                self._tell_refused(body)
                continue
            try:
                self.protocol.receive(body)
            except Exception:  # a bug of the server's: logged, and the next message is read (as pygls' loop)
                logger.exception("vibench-lsp: a message could not be handled (a bug in vibench-lsp)")

    def _tell_refused(self, refused: Refused) -> None:
        message = (f"vibench-lsp: a message of {refused.length} bytes from the editor was skipped unread: more than "
                   f"{MAX_MESSAGE_BYTES:,}, the most the server reads (a document beyond "
                   f"{spec_kind.MAX_BYTES // 2**20} MiB is not read at all)")
        logger.warning("%s", message)
        self.window_show_message(t.ShowMessageParams(type=t.MessageType.Warning, message=visible.visible(message)))

    # -- documents ----------------------------------------------------------------------------

    def open(self, uri: str, text: str, version: int | None, language_id: str | None = None) -> Document:
        path = to_fs_path(uri) if uri.startswith("file:") else None
        # A path holding a NUL (`file:///x/%00a.yaml`) names no file: the document is checked as an unsaved one (each
        # os call on the path raised ValueError, and every check failed as a bug in the server)
        if path is not None and not usable_path(path):  # (nor one of a lone surrogate, `\ud800`: UnicodeEncodeError)
            path = None
        kind = self.workspace.position_encoding
        encoding = str(getattr(kind, "value", kind) or "utf-16")  # an enum member, or its value
        doc = self.docs[uri] = Document(uri, path, text, version, encoding, language_id=language_id)
        return doc

    def document(self, uri: str) -> Document | None:
        doc = self.docs.get(uri)
        if doc is not None:
            source = self.workspace.get_text_document(uri).source
            if source != doc.text:
                doc.update(source, self.workspace.get_text_document(uri).version)
        return doc

    # -- checking -----------------------------------------------------------------------------

    def schedule(self, uri: str, delay: float) -> None:
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        task = self._timers[uri] = asyncio.ensure_future(self._check_later(uri, delay))
        task.add_done_callback(self._report_failure)

    def _report_failure(self, task: asyncio.Task[None]) -> None:
        """A check that failed inside the server (a bug) is logged to the client, not lost."""
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        self.window_log_message(t.LogMessageParams(type=t.MessageType.Error, message=visible.visible(
            f"vibench-lsp: checking failed (a bug): {type(error).__name__}: {error}")))

    async def _check_later(self, uri: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        doc = self.docs.get(uri)
        if doc is None:
            return
        if doc.too_large:  # read no further: not even whether it is a spec
            self._tell_too_large(doc)
            self.publish(doc, [])
            return
        text, version, revision, name = doc.text, doc.version, doc.revision, doc.name
        search = self.catalog.search_path

        def run() -> _CheckResult:
            """The check, outline and placed diagnostics of a spec; (None, None, None): not a spec; None:
            superseded. The diagnostics are placed here too, not on the event loop: 100,000 of them on a 1 MB line
            take a while even placed in linear time, and requests are answered meanwhile."""
            current = self.docs.get(uri)
            if current is None or current.version != version:
                return None  # superseded while waiting for the worker
            if not spec_kind.is_spec(text, name):  # from the top-level keys: no outline of a non-spec
                return None, None, None
            self.catalog.blocks()  # the registry fully loaded before the compiler reads it
            checked, text_outline = checking.check(text, doc.path, version, search, doc.encoding), outline(text)
            return checked, text_outline, checking.problems(checked, text_outline, Lines(text, doc.encoding))

        def guarded() -> _CheckResult:
            """run(), whose BaseException (a plug-in's KeyboardInterrupt as the registry imports it, say) is
            reported as a failure: raised in the event loop, a KeyboardInterrupt would end the server."""
            try:
                return run()
            except Exception:
                raise
            except BaseException as err:  # noqa: BLE001 - never a signal: this is not the main thread
                raise RuntimeError(f"{type(err).__name__}: {err}") from None

        result = await asyncio.get_running_loop().run_in_executor(self._checker, guarded)
        current = self.docs.get(uri)
        if result is None or current is None or current.version != version:
            return
        checked, text_outline, placed = result
        current.know(revision, checked is not None)
        if checked is None or text_outline is None or placed is None:  # not a spec: nothing to say
            self.publish(current, [])
            return
        current.adopt(text_outline)
        current.record(checked)
        current.problems = placed
        self.publish(current, [_lsp_diagnostic(current, p) for p in current.problems])
        if not self._library_warm:  # after the first check, read the rest while the user reads
            self._library_warm = True
            asyncio.get_running_loop().run_in_executor(self._checker, self.catalog.warm_library)

    def _tell_too_large(self, doc: Document) -> None:
        """Say once per opened document why a file beyond vibench-compile's limit gets nothing."""
        if doc.told_too_large:
            return
        doc.told_too_large = True
        self.window_show_message(t.ShowMessageParams(type=t.MessageType.Warning,
                                                     message=visible.visible(too_large_message(doc))))

    def publish(self, doc: Document, diagnostics: list[t.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            t.PublishDiagnosticsParams(uri=doc.uri, diagnostics=diagnostics, version=doc.version))


def too_large_message(doc: Document) -> str:
    name = os.path.basename(doc.path) if doc.path else doc.uri
    return (f"vibench-lsp: {name} is larger than {spec_kind.MAX_BYTES // 2**20} MiB, the most vibench-compile reads "
            "(E002); vibench-lsp does not read it: no diagnostics, completion or hover for it")


def _lsp_diagnostic(doc: Document, p: checking.Problem) -> t.Diagnostic:
    from pathlib import Path

    d = p.diagnostic
    related = None
    if p.elsewhere is not None:
        file, line, col = p.elsewhere
        # LSP's line and character (in the agreed encoding) there, counted in that file's text; the compiler's as
        # they are when it could not be read (its code-point column put a place after a `𝕏` a unit to the left)
        line, character = p.elsewhere_at or (max(line - 1, 0), max(col - 1, 0))
        where = t.Position(line=line, character=character)
        related = [t.DiagnosticRelatedInformation(
            location=t.Location(uri=Path(file).as_uri(), range=t.Range(start=where, end=where)),
            message=visible.visible(f"{d.code}: {d.message}"))]
    severity = {"warning": t.DiagnosticSeverity.Warning, "note": t.DiagnosticSeverity.Information}.get(
        d.severity, t.DiagnosticSeverity.Error)
    return t.Diagnostic(range=span_range(doc, p.start, p.end), message=visible.visible(p.message), code=d.code,
                        source="vibench", severity=severity,
                        related_information=related, data=navigation.fix_data(doc, p.fix) if p.fix else None)


def create_server(search_path: list[str] | None = None, debounce: float = DEBOUNCE) -> VibenchServer:
    """The server with every feature registered (``start_io()`` runs it on stdin/stdout)."""
    server = VibenchServer(search_path, debounce)

    @server.feature(t.INITIALIZE)
    def initialize(ls: VibenchServer, params: t.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict):
            _configure(ls, options)

    @server.feature(t.INITIALIZED)
    def initialized(ls: VibenchServer, params: t.InitializedParams) -> None:
        ls._checker.submit(ls.catalog.warm)  # imports while the client is still starting
        workspace = ls.client_capabilities.workspace
        watched = workspace.did_change_watched_files if workspace is not None else None
        if watched is not None and watched.dynamic_registration:  # (a client that does not say so is sent none)
            options = t.DidChangeWatchedFilesRegistrationOptions(watchers=[t.FileSystemWatcher(WATCHED_FILES)])
            registration = t.Registration("vibench-spec-files", t.WORKSPACE_DID_CHANGE_WATCHED_FILES, options)
            ls.client_register_capability(t.RegistrationParams(registrations=[registration]))

    @server.feature(t.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_files(ls: VibenchServer, params: t.DidChangeWatchedFilesParams) -> None:
        # a file an open document depends on (a template it extends, a block file, a base config) changed outside
        # the editor: every open document is checked again, after the debounce, so that a burst of changes (a
        # `git checkout`) costs one check each
        for uri in list(ls.docs):
            ls.schedule(uri, ls.debounce)

    @server.feature(t.SHUTDOWN)
    def shutdown(ls: VibenchServer, params: None) -> None:
        ls.shutdown_requested = True

    @server.feature(t.EXIT)
    def exit_(ls: VibenchServer, params: None) -> None:
        # pygls ends the loop with SystemExit, which start_io() swallows: serve() returns the code.
        ls.exit_code = 0 if ls.shutdown_requested else 1

    @server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration(ls: VibenchServer, params: t.DidChangeConfigurationParams) -> None:
        settings = params.settings.get("vibench") if isinstance(params.settings, dict) else None
        if isinstance(settings, dict):
            _configure(ls, settings)
            for uri in list(ls.docs):
                ls.schedule(uri, ls.debounce)

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: VibenchServer, params: t.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.open(item.uri, item.text, item.version, item.language_id)
        ls.schedule(item.uri, 0.0)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: VibenchServer, params: t.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri not in ls.docs:
            return
        source = ls.workspace.get_text_document(uri).source
        ls.docs[uri].update(source, params.text_document.version)
        ls.schedule(uri, ls.debounce)

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: VibenchServer, params: t.DidSaveTextDocumentParams) -> None:
        for uri in list(ls.docs):
            ls.schedule(uri, 0.0 if uri == params.text_document.uri else ls.debounce)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: VibenchServer, params: t.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        timer = ls._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        doc = ls.docs.pop(uri, None)
        if doc is not None:
            ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(t.TEXT_DOCUMENT_COMPLETION,
                    t.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS, resolve_provider=True))
    def on_completion(ls: VibenchServer, params: t.CompletionParams) -> t.CompletionList | None:
        doc = ls.document(params.text_document.uri)
        if doc is None or not doc.answers_completion():
            return None
        offset = doc.lines.offset(params.position.line, params.position.character)
        items = completion.complete(doc, ls.catalog, offset)
        return t.CompletionList(is_incomplete=False, items=[visible.completion_item(item) for item in items])

    @server.feature(t.COMPLETION_ITEM_RESOLVE)
    def on_resolve(ls: VibenchServer, item: t.CompletionItem) -> t.CompletionItem:
        return visible.completion_item(completion.resolve(item, ls.catalog))

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: VibenchServer, params: t.HoverParams) -> t.Hover | None:
        doc = ls.document(params.text_document.uri)
        if doc is None or not doc.is_spec():
            return None
        offset = doc.lines.offset(params.position.line, params.position.character)
        return visible.hover(hover.hover(doc, ls.catalog, offset))

    @server.feature(t.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: VibenchServer, params: t.DefinitionParams) -> list[t.Location] | None:
        doc = ls.document(params.text_document.uri)
        if doc is None or not doc.is_spec():
            return None
        offset = doc.lines.offset(params.position.line, params.position.character)
        return navigation.definition(doc, ls.catalog, offset)

    @server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(ls: VibenchServer, params: t.DocumentSymbolParams) -> list[t.DocumentSymbol] | None:
        doc = ls.document(params.text_document.uri)
        if doc is None or not doc.is_spec():
            return None
        return [visible.symbol(symbol) for symbol in navigation.symbols(doc)]

    @server.feature(t.TEXT_DOCUMENT_CODE_ACTION,
                    t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix]))
    def on_code_action(ls: VibenchServer, params: t.CodeActionParams) -> list[t.CodeAction] | None:
        doc = ls.document(params.text_document.uri)
        if doc is None:
            return None
        return [visible.code_action(action) for action in navigation.code_actions(doc, params)]

    return server


def serve(argv: list[str] | None = None) -> int:
    """Run the server on stdin/stdout (what ``vibench-lsp`` does); the exit status is 1 when the
    client sent `exit` without `shutdown` first, else 0."""
    import argparse

    from vibench.lsp.stdio import take_stdio

    parser = argparse.ArgumentParser(prog="vibench-lsp", description="The vibench language server (LSP over stdio).")
    parser.add_argument("--spec-path", "-I", action="append", default=[], metavar="DIR",
                        help="extra folder for `extends:` and spec references (also VIBENCH_SPEC_PATH)")
    parser.add_argument("--debounce-ms", type=debounce_option, default=DEBOUNCE * 1000,
                        help="quiet time after an edit before checking (default %(default)g)")
    parser.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (the default and only mode)")
    parser.add_argument("--version", action="version", version=f"vibench-lsp {__version__}")
    ns = parser.parse_args(argv)
    env: Any = os.environ.get("VIBENCH_SPEC_PATH", "")
    # joined to the working folder, never tidied, as the CLI's are (`-I link/..` is where the link leads up from)
    from vibench.compiler.spec_files import working_folder

    search = [os.path.join(working_folder(), p) for p in [*ns.spec_path, *env.split(os.pathsep)] if p]
    channel_in, channel_out = take_stdio()  # before anything else runs: a plug-in's print goes to stderr
    server = create_server(search, ns.debounce_ms / 1000)
    server.start_io(channel_in, channel_out)
    if server._checker.busy():
        # A check (or the warm-up) is still running: end now, without waiting for it, and without
        # finalizing the interpreter under a thread that may be importing or printing.
        for stream in (channel_out, sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(server.exit_code)
    return server.exit_code
