"""What a scalar that PyYAML reads otherwise than vibench is, in words that quote nothing of it: for a file whose
contents are not shown (a PHM-Vibench base config, :func:`vibench.compiler.phm_base.base_model`), from the E001 (or
a date key's E102) that :mod:`vibench.compiler.load_numbers` builds for it.
"""

from __future__ import annotations

import re

from vibench.compiler.diagnostics import Diagnostic

_READINGS = (  # what the E001 (E102) of a reading says after the text -> what it is, and how both read it alike
    ("is a base-60 number", "a YAML 1.1 number in base 60 (`1:30` is 90 to PyYAML)", "write the number in decimal"),
    ("has a leading zero", "a YAML 1.1 number with a leading zero (`010` is octal 8 to PyYAML)",
     "write the number in decimal, without the leading zero"),
    ("is not a JSON number", "a YAML 1.1 number with a leading zero, which JSON has not",
     "write it without the leading zero"),
    ("is no number in Python", "a YAML 1.1 number with an underscore Python refuses (`10_`)",
     "write it with each underscore between two digits"),
    ("is no number in YAML 1.1", "a float that PyYAML reads as a string (`1e-1`)",
     "write it with a dot and a signed exponent (`0.1`, `1.0e-5`)"),
    ("is a number in YAML 1.2", "a key that vibench reads as a number and PyYAML as a name (`1e-1:`)", ""),
    ("cannot be read by PyYAML: YAML 1.1 reads it as its value key",
     "`=`, YAML 1.1's value key, which PyYAML refuses with the whole file", ""),
    ("cannot be read by PyYAML", "an impossible date, which PyYAML refuses with the whole file", ""),
    ("is a date", "a date, which PyYAML reads as no string", ""),
    ("is not a string", "a date as a key, which PyYAML reads as no name", ""),
)
_READ_TEXT = re.compile(r"(?:key )?`[^`]*` ")


def reading_words(d: Diagnostic) -> tuple[str, str]:
    """What the E001 (or a date key's E102) of a scalar PyYAML reads otherwise says it is, and how to write it
    so that both read it alike, in words that quote nothing of it: for a file whose contents are not shown (a
    PHM-Vibench base config, :func:`vibench.compiler.phm_base.base_model`).

    >>> reading_words(Diagnostic("E001", "`2020-01-01` is a date in YAML 1.1: PyYAML reads it as no string"))
    ('a date, which PyYAML reads as no string', 'quote it')
    """
    said = _READ_TEXT.sub("", d.message, count=1)
    for start, what, how in _READINGS:
        if said.startswith(start):
            return what, f"{how}, or quote it" if how else "quote it"
    return "a value that PyYAML reads otherwise than vibench", "quote it"
