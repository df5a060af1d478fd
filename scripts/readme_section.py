"""Rewrite (or check) one generated section of the documentation (README.md or a file of docs/),
between its start and end markers: the file that holds the markers is the one written."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
DOCUMENTS = [README, *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]


def main(doc: str, start: str, end: str, body: Callable[[], str], what: str, target: str,
         argv: list[str] | None = None) -> int:
    """``--check``: exit 1 when the section is out of date; otherwise write it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the section is out of date")
    args = parser.parse_args(argv)
    for path in DOCUMENTS:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if start in text and end in text:
            break
    else:
        print(f"no document has the {what} markers ({start})", file=sys.stderr)
        return 1
    shown = os.path.relpath(path, ROOT)
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{body()}\n{end}{tail}"
    if args.check:
        if new != text:
            print(f"{shown}'s {what} is out of date: run `make {target}`", file=sys.stderr)
            return 1
        return 0
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(new)
    return 0
