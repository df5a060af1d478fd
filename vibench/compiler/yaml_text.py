"""A parameter value given in Python as the YAML text that ``--set`` reads back as that value.

model.py's regenerate line (:mod:`vibench.compiler.codegen.header`) and the message of its class's settings
check write the values given to ``vibench.build`` / ``compile_spec`` this way, so that the command compiles the
model they compiled: the command line reads a ``--set`` value as YAML (``activation=relu `` is ``relu``,
``tag=1`` the int 1), so a str is written plain only where the loader reads it back as that str, else
double-quoted with every character that is not printable escaped (a line break as ``\\n``: the header stays one
printable line, and YAML folds a raw one into a space); an infinite float is ``.inf``; a subclass of int, float
or str (an ``IntEnum``, a str ``Enum``) is the plain value it holds, as the compiler read it, never its ``repr``.
Inside a list or a mapping every str is quoted, as JSON writes it (``[1,"b"]``).

>>> [yaml_text(v) for v in ("relu", "relu ", "1", 1, 1.5, float("-inf"), None, True)]
['relu', '"relu "', '"1"', '1', '1.5', '-.inf', 'null', 'true']
>>> print(yaml_text({"a": [1, "x\\ny"], 2: 0.5}))
{"a":[1,"x\\ny"],2: 0.5}
"""

from __future__ import annotations

import contextvars
import math
from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def yaml_text(value: Any, nested: bool = False) -> str:
    """``value`` as YAML text that the compiler's loader reads back as the same value (a tuple as a list).
    ``nested``: inside a list or mapping, where a str is always quoted. TypeError for a value no spec holds
    (a set, bytes, a mapping key that is a tuple)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return float.__repr__(value)
    if isinstance(value, str):
        text = str.__str__(value)  # a str Enum's member as the str it is (its str() is `Mode.X`)
        if not nested and _reads_as_itself(text):  # (shell() escapes what is not printable: `$'模型\u3000'`)
            return text
        return '"' + "".join(_escaped(ch) for ch in text) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(yaml_text(v, True) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_entry(k, v) for k, v in value.items()) + "}"
    raise TypeError(f"no YAML value for {type(value).__name__}")


def _entry(key: Any, value: Any) -> str:
    """A mapping's entry: ``"a":1`` after a quoted key, as JSON writes it; ``2: 1`` after another (YAML reads
    ``2:1`` as one plain scalar)."""
    if isinstance(key, (list, tuple, dict)):
        raise TypeError(f"no YAML mapping key for {type(key).__name__}")
    written = yaml_text(key, True)
    return f"{written}:{yaml_text(value, True)}" if written.startswith('"') else f"{written}: {yaml_text(value, True)}"


def _escaped(ch: str) -> str:
    """One character inside a double-quoted YAML str: as it is when printable, else an escape YAML reads back."""
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _reads_as_itself(text: str) -> bool:
    """Whether ``--set`` reads ``text`` written plain as that same str: the loader the option reads it with
    decides (``relu``, ``a b``, ``模型`` yes; ``relu ``, ``1``, ``yes``, ``null``, ``a: b``, ``a #b``, ``[1]``,
    ``010`` (E001) no)."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import load_text

    try:
        # In a context of its own: the compilation's count of the values its spec files load is not charged.
        data = contextvars.Context().run(load_text, text, "--set").data
    except SpecError:
        return False
    return type(data) is str and data == text
