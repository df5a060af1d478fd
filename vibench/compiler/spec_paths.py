"""Paths that spec text names: whether a string can name a file at all (:func:`unnamable`) and whether a real
path lies on the spec search path (:func:`within`). Imports nothing of the compiler, so that any module can use it.

The search path's rule (docs/language.md): no spec reads a file outside it, through ``..`` or a symbolic link;
:meth:`vibench.compiler.resolve.Library.find` and the slot folders of :mod:`vibench.compiler.slots` both apply it.
"""

from __future__ import annotations

import os


def unnamable(text: str) -> str | None:
    """Why no file or folder can be named ``text`` (the end of a message: "holds ..."), None when one can.

    A NUL character ends a name for the operating system, and a lone surrogate (U+D800...U+DFFF that is no
    undecodable byte of a file name, as Python's ``params=`` may give) has no bytes in the file system's encoding:
    ``os`` functions raise a bare ValueError for either.

    >>> unnamable("cnn/ResNet1D") is None
    True
    >>> print(unnamable("./a" + chr(0) + "b"))
    holds a NUL character (`\\0`), which no file name can hold
    """
    if "\0" in text:
        return "holds a NUL character (`\\0`), which no file name can hold"
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        return "holds a lone surrogate character (U+D800...U+DFFF), which no file name can hold"
    return None


def within(real: str, real_roots: list[str]) -> bool:
    """Whether the real path ``real`` is one of ``real_roots`` or lies in one of them.

    >>> within("/lib/specs/cnn/A.yaml", ["/home/u", "/lib/specs"]), within("/lib/specs2/A.yaml", ["/lib/specs"])
    (True, False)
    """
    return any(real == r or real.startswith(r + os.sep) for r in real_roots)
