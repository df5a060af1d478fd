"""Rewrite (or check) one generated section of README.md, between its start and end markers."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def main(doc: str, start: str, end: str, body: Callable[[], str], what: str, target: str,
         argv: list[str] | None = None) -> int:
    """``--check``: exit 1 when the section is out of date; otherwise write it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when README.md is out of date")
    args = parser.parse_args(argv)
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    if start not in text or end not in text:
        print(f"README.md has no {what} markers", file=sys.stderr)
        return 1
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{body()}\n{end}{tail}"
    if args.check:
        if new != text:
            print(f"README.md's {what} is out of date: run `make {target}`", file=sys.stderr)
            return 1
        return 0
    with open(README, "w", encoding="utf-8") as fh:
        fh.write(new)
    return 0
