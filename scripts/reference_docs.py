"""Write (or check) docs/blocks.md and docs/templates.md, the block and template reference.

    python scripts/reference_docs.py          # rewrite both pages (`make docs`)
    python scripts/reference_docs.py --check  # exit 1 naming `make docs` when a page is out of date

Both pages are generated from the block registry and the spec library by
:mod:`vibench.compiler.reference_docs` (the same text as `vibench-compile --blocks NAME` and
`--list NAME`); only the shipped library and built-in blocks are covered (VIBENCH_SPEC_PATH is ignored).
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `python scripts/...` puts only scripts/ on the path
    sys.path.insert(0, ROOT)
PAGES = ("docs/blocks.md", "docs/templates.md")


def pages() -> dict[str, str]:
    """Each page's path (relative to the repository) and its current text."""
    from vibench.compiler.reference_docs import blocks_markdown, templates_markdown

    return {PAGES[0]: blocks_markdown(), PAGES[1]: templates_markdown()}


def stale() -> list[str]:
    """The pages whose committed text differs from the generated one."""
    out = []
    for rel, text in pages().items():
        path = os.path.join(ROOT, rel)
        try:
            with open(path, encoding="utf-8") as fh:
                current = fh.read()
        except FileNotFoundError:
            current = None
        if current != text:
            out.append(rel)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a page is out of date")
    args = parser.parse_args(argv)
    os.environ.pop("VIBENCH_SPEC_PATH", None)
    if args.check:
        old = stale()
        if old:
            print(f"{', '.join(old)} out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    from vibench.compiler.outputs import write_atomic

    for rel, text in pages().items():
        write_atomic(os.path.join(ROOT, rel), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
