"""A value as completion writes it into a spec: text the compiler's loader reads back as that very string.

A block parameter's fixed values are any strings a plug-in declares (``Literal["a: b", "#x", "yes", "1",
"null", "x\\ny"]``), and completion inserted them as they are: YAML then read `a: b` as a mapping, `#x` as a
comment (no value), `yes` and `on` as true (the loader reads YAML 1.1's booleans), `1` as a number, `null` as
null, and a line break split the document. A value is written plain only where the loader reads that plain
text back as the same string, in a block mapping, a flow mapping and a flow list alike (:func:`reads_plain`:
the loader itself is asked); else in double quotes with YAML's escapes (:func:`quoted`), which JSON reads
too. Typed after an opening quote, the text is escaped for that quote (:func:`inside_quotes`).

    >>> quoted("a: b"), quoted("x\\ny"), reads_plain("fast"), reads_plain("on")
    ('"a: b"', '"x\\\\ny"', True, False)
"""

from __future__ import annotations

from functools import lru_cache

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}

_LONGEST_PLAIN = 200
"""The longest text :func:`reads_plain` asks the loader about; a longer one is quoted (no fixed value is that
long, and the question costs a load of the text three times)."""


@lru_cache(maxsize=2048)  # (the catalogue's names are asked on every completion of a `block:`)
def reads_plain(text: str) -> bool:
    """Whether the compiler's loader reads ``text``, written plain as a value, as the string ``text`` itself:
    after a key (``k: text``), in a flow mapping (``{k: text}``) and in a flow list (``[text]``). Not so for
    text YAML reads as another type (``on``, ``null``, ``1``, ``.inf``), text it reads otherwise (``a: b``,
    ``#x``, ``x, y`` in a flow, spaces around it), text it refuses (``010``, ``@x``, ``*x``) and text holding a
    line break or a character that is not printable."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import load_text

    if not text or len(text) > _LONGEST_PLAIN or not text.isprintable():
        return False
    for written, read in ((f"k: {text}\n", lambda d: d["k"]), (f"{{k: {text}}}\n", lambda d: d["k"]),
                          (f"[{text}]\n", lambda d: d[0])):
        try:
            value = read(load_text(written).data)
        except (SpecError, KeyError, IndexError, TypeError):  # refused, or read as some other structure
            return False
        if type(value) is not str or value != text:
            return False
    return True


def quoted(text: str, json: bool = False) -> str:
    """``text`` in double quotes, escaped as YAML (and JSON, for ``json``) reads it back: quote and backslash,
    line breaks, tabs and every character that is not printable (``\\u2028``, which YAML takes for a line break
    inside quotes too; a C1 control, which libyaml refuses written out)."""
    return f'"{_escaped(text, json)}"'


def inside_quotes(text: str, quote: str, json: bool = False) -> str | None:
    """``text`` typed after an opening ``quote`` (``"`` or ``'``) that it is to close with: escaped for it
    (``''`` for a quote inside single quotes); None where single quotes cannot hold it (a line break or a
    character that is not printable, which only double quotes escape)."""
    if quote == '"':
        return _escaped(text, json)
    return text.replace("'", "''") if text.isprintable() else None


def _escaped(text: str, json: bool) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        elif json:  # JSON has no \U: a surrogate pair, which the loader reads as JSON means it
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)
