"""Completion latency of the real yaml-language-server on a generated 200-node spec.

    python benchmarks/editor_latency.py [--runs N]

Opens the spec of tests/test_editor.py (200 nodes, every catalogue block) against the committed
JSON Schema and times completion of a block name (`block: |`) and of a block's parameters, the
minimum over N runs each. Needs node (the language server is installed into .tools/ on first use).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from tests.lsp.server import file_uri, start_server
    from tests.test_editor import probe_200_nodes

    server = start_server()
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
