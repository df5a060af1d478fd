"""Figures of the spec library that say whether its templates read as data (issue 10).

    python scripts/library_stats.py [SPEC_FOLDER]

prints, for every YAML file under the folder (default: the shipped library, ``vibench/specs``):
the share of lines that hold a ``${...}`` expression, the longest expression (its characters
between ``${`` and the matching ``}``, whitespace runs counted as one), and the length of
``isfm/M_01_ISFM.yaml``. ``tests/test_library_stats.py`` asserts the targets in :data:`TARGETS`.

Each file is read as the compiler reads a spec (:func:`vibench.compiler.load.read_spec_file`, a repeated key
or a YAML 1.1 number read as PyYAML reads them): a file it refuses (not YAML, not UTF-8, nested deeper than
64 levels or larger than 16 MiB, aliases expanding past its size limit, a dangling link...) is skipped with a
note on standard error naming the file, line and column, its lines not counted, and the exit status is 1.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field

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
    skipped: tuple[str, ...] = field(default=())  # one note per file the compiler's loader refused

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
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import read_spec_file

    files = lines = template_lines = longest = 0
    where = ""
    m01 = 0
    by_file: dict[str, int] = {}
    skipped: list[str] = []
    for dirpath, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(n for n in names if n.endswith((".yaml", ".yml"))):
            path = os.path.join(dirpath, name)
            # The compiler's bounded reader, not yaml.load: 200,000 levels of `[` crashed the process, 8 lines of
            # nested aliases took a minute and 1.7 GB, and bad YAML, bad UTF-8 or a dangling link was a traceback.
            try:
                doc = read_spec_file(path, lenient_keys=True)
            except SpecError as err:
                first = err.diagnostics[0]
                skipped.append(f"{first.pos or path}: error[{first.code}]: {first.message}"
                               + (f" ({first.found})" if first.found and first.found != path else ""))
                continue
            text = doc.text
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            files += 1
            file_lines = text.splitlines()
            lines += len(file_lines)
            template_lines += sum("${" in line for line in file_lines)
            if rel == "isfm/M_01_ISFM.yaml":
                m01 = len(file_lines)
            for s in _strings(doc.data):
                for expr in expressions(s):
                    by_file[rel] = max(by_file.get(rel, 0), len(expr))
                    if len(expr) > longest:
                        longest, where = len(expr), rel
    return Stats(files, lines, template_lines, longest, where, m01, by_file, tuple(skipped))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/library_stats.py", description=__doc__.splitlines()[0],
                                     epilog="A file the compiler cannot read as a spec (bad YAML or UTF-8, too deep or "
                                     "too large, a dangling link) is skipped with a note naming it on standard "
                                     "error, and the exit status is 1; the figures are those of the other files.")
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
    for note in stats.skipped:
        print(f"note: skipped {note}", file=sys.stderr)
    if not stats.files:
        parser.error(f"SPEC_FOLDER: {os.path.abspath(folder)} holds no YAML file (.yaml, .yml)"
                     + (f" that can be read ({len(stats.skipped)} skipped)" if stats.skipped else ""))
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
    if stats.skipped:
        print(f"({len(stats.skipped)} file{'s' if len(stats.skipped) > 1 else ''} skipped: see the notes above)")
    return 1 if stats.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
