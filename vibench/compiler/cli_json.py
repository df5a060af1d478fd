"""The JSON that ``vibench-compile --format json`` prints (see :mod:`vibench.compiler.cli`): text that strict
parsers read, and whether a command line asks for it before it is parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any


def format_json(args: Sequence[str]) -> bool:
    """Whether a compile's command line asks for ``--format json`` (read as written: a usage error raised
    while it is parsed, `--depth 1 --depth 2`, heeds it too). Only the full name counts, as for the parser, which
    takes no abbreviation (cli_args._Parser).

    >>> format_json(["spec.yaml", "--format", "json"]), format_json(["--", "--format", "json"])
    (True, False)
    """
    if "--" in args:  # the words after it are positional, as argparse reads them (`-- --format json`: a spec)
        args = args[: list(args).index("--")]
    given = [args[k + 1] for k, a in enumerate(args[:-1]) if a == "--format"]
    given += [a.partition("=")[2] for a in args if a.startswith("--format=")]
    return given == ["json"]


def to_json(value: Any, indent: int = 2) -> str:
    """``value`` as JSON text that strict parsers read: a file name's byte that is not UTF-8 (Python's
    surrogate escape, ``\\udce9``, which json.dumps wrote as a lone surrogate) as the text ``\\xe9``, as
    model.py's header writes it; any other lone surrogate as the text ``\\ud800``."""
    return json.dumps(_no_surrogates(value), indent=indent)


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub(_shown_surrogate, value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_surrogates(v) for v in value]
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown_surrogate(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"
