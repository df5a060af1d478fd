"""Completion latency of the real yaml-language-server on a generated 200-node spec.

    python benchmarks/editor_latency.py [--runs N]

Opens the spec of tests/test_editor.py (200 nodes, every catalogue block) against the committed
JSON Schema and times completion of a block name (`block: |`) and of a block's parameters, the
minimum over N runs each. Needs node and npm (the language server is installed into .tools/ on first
use). Without them, or when that install fails (offline), it prints one line "editor latency: skipped:
REASON" and exits with :data:`SKIPPED` (77, the automake convention for a skipped test), which
``make bench`` reports as skipped rather than failed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SKIPPED = 77


def server_missing() -> str | None:
    """Why the language server cannot run here (no node or npm, a failed install), or None once it is installed."""
    import pytest

    from tests.lsp.server import ensure_installed

    try:
        with contextlib.redirect_stderr(io.StringIO()):  # its banner for pytest; the reason is printed once here
            ensure_installed()
    except pytest.skip.Exception as skip:
        return (skip.msg or "the language server is not available").removeprefix("EDITOR TESTS NOT RUN: ")
    except pytest.fail.Exception as failure:  # npm install failed: its first line and npm's last words
        lines = [line.strip() for line in (failure.msg or "").splitlines() if line.strip()]
        return " ".join(dict.fromkeys(lines[:1] + lines[-1:])) or "installing the language server failed"
    except subprocess.TimeoutExpired as timeout:
        return f"`{' '.join(map(str, timeout.cmd))}` took more than {timeout.timeout:.0f} s"
    return None


def main() -> int:
    from vibench.compiler.cli_args import _positive

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=_positive, default=5,
                        help="completions of each kind; the fastest counts (default: 5)")
    args = parser.parse_args()
    reason = server_missing()
    if reason is not None:
        print(f"editor latency: skipped: {reason}")
        return SKIPPED
    import pytest

    from tests.lsp.server import file_uri, start_server
    from tests.test_editor import probe_200_nodes

    try:
        server = start_server()
    except pytest.fail.Exception as failure:  # the committed JSON Schema is stale
        print(f"editor latency: failed: {failure.msg}", file=sys.stderr)
        return 1
    path, text, marks = probe_200_nodes()
    uri = file_uri(path)
    server.open(uri, text)
    try:
        server.diagnostics(uri)
        for mark, what in (("value", "block names"), ("keys", "conv1d's parameters")):
            runs = []
            for _ in range(args.runs):
                start = time.perf_counter()
                items = server.completion(uri, *marks[mark])
                runs.append(time.perf_counter() - start)
            print(f"200-node spec, completion of {what}: {min(runs) * 1000:.0f} ms "
                  f"(min of {args.runs}; {len(items)} items)")
    finally:
        server.close(uri)
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
