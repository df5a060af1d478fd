"""Start vibench's own language server (``python -m vibench.lsp``) for the tests in tests/test_lsp.py."""

from __future__ import annotations

import sys

from tests.lsp.client import LanguageServer, file_uri
from tests.lsp.server import ROOT

TIMEOUT = 120.0
"""Seconds to wait for any answer or notification: generous, so a loaded machine never fails a test."""


def start_vibench_server(debounce_ms: int | None = 50, settings: dict | None = None,
                         env: dict[str, str] | None = None) -> LanguageServer:
    """A running, initialized vibench-lsp (the caller shuts it down); ``debounce_ms=None``: the
    server's default; ``settings`` are sent with `workspace/didChangeConfiguration`; ``env``: the
    server's environment (default: this process's)."""
    flags = [] if debounce_ms is None else [f"--debounce-ms={debounce_ms}"]
    server = LanguageServer([sys.executable, "-m", "vibench.lsp", *flags], settings=settings or {}, cwd=str(ROOT),
                            timeout=TIMEOUT, env=env)
    server.initialize(file_uri(ROOT))
    return server
