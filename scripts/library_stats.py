"""Figures of the spec library that say whether its templates read as data (issue 10).

    python scripts/library_stats.py [SPEC_FOLDER]

prints, for every YAML file under the folder (default: the shipped library, ``vibench/specs``):
the share of lines that hold a ``${...}`` expression, the longest expression (its characters
between ``${`` and the matching ``}``, whitespace runs counted as one), and the length of
``isfm/M_01_ISFM.yaml``. ``tests/test_library_stats.py`` asserts the targets in :data:`TARGETS`.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

import yaml

LIBRARY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "vibench", "specs")

TARGETS = {"template_line_share": 0.08, "longest_expression": 100, "m01_lines": 90}
"""The issue's targets: at most 8% of lines hold `${`, no expression over 100 characters, M_01 in 90 lines."""


@dataclass(frozen=True)
class Stats:
    files: int
    lines: int
    template_lines: int
    longest: int
    longest_where: str
    m01_lines: int
    longest_by_file: dict[str, int]

    @property
    def template_line_share(self) -> float:
        return self.template_lines / self.lines if self.lines else 0.0


def expressions(text: str) -> list[str]:
    """The sources of the ``${...}`` expressions in a string (braces matched, quotes respected)."""
    out = []
    start = text.find("${")
    while start != -1:
        depth, k, quote = 0, start + 1, None
        while k < len(text):
            ch = text[k]
            if quote:
                quote = None if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        out.append(re.sub(r"\s+", " ", text[start + 2:k]).strip())
        start = text.find("${", k)
    return out


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def measure(folder: str = LIBRARY) -> Stats:
    files = lines = template_lines = longest = 0
    where = ""
    m01 = 0
    by_file: dict[str, int] = {}
    for dirpath, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(n for n in names if n.endswith((".yaml", ".yml"))):
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            files += 1
            file_lines = text.splitlines()
            lines += len(file_lines)
            template_lines += sum("${" in line for line in file_lines)
            if rel == "isfm/M_01_ISFM.yaml":
                m01 = len(file_lines)
            for s in _strings(yaml.load(text, Loader=yaml.CSafeLoader)):
                for expr in expressions(s):
                    by_file[rel] = max(by_file.get(rel, 0), len(expr))
                    if len(expr) > longest:
                        longest, where = len(expr), rel
    return Stats(files, lines, template_lines, longest, where, m01, by_file)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/library_stats.py", description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=LIBRARY, metavar="SPEC_FOLDER",
                        help="the folder of YAML specs to measure (default: the shipped library, vibench/specs)")
    folder = parser.parse_args(argv).folder
    # A folder that is missing, or holds no spec, is the caller's mistake: its figures were all 0 (exit 0).
    if not folder:
        parser.error("SPEC_FOLDER is empty: give a folder of YAML specs (none: the shipped library)")
    if not os.path.isdir(folder):
        parser.error(f"SPEC_FOLDER: {os.path.abspath(folder)} " + ("is not a folder" if os.path.exists(folder)
                                                                   else "does not exist"))
    stats = measure(folder)
    if not stats.files:
        parser.error(f"SPEC_FOLDER: {os.path.abspath(folder)} holds no YAML file (.yaml, .yml)")
    print(f"spec files:                {stats.files}")
    print(f"lines:                     {stats.lines}")
    print(f"lines holding ${{...}}:      {stats.template_lines} ({stats.template_line_share:.1%}; "
          f"target <= {TARGETS['template_line_share']:.0%})")
    print(f"longest expression:        {stats.longest} characters, in {stats.longest_where} "
          f"(target <= {TARGETS['longest_expression']})")
    print(f"isfm/M_01_ISFM.yaml:       {stats.m01_lines} lines (target <= {TARGETS['m01_lines']})")
    over = sorted((n, f) for f, n in stats.longest_by_file.items() if n > TARGETS["longest_expression"])
    for n, f in reversed(over):
        print(f"  over {TARGETS['longest_expression']} characters: {f} ({n})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
