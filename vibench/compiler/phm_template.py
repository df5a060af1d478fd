"""Which library template a PHM-Vibench config's `model:` section picks by its ``type`` and ``name``.

``type`` names a family, which is a folder of the library (:data:`FAMILY_FOLDERS`), and ``name`` a template in it:
``CNN/ResNet1D`` is ``cnn/ResNet1D``. A family or model vibench has no template for is E220, which says why when
PHM-Vibench cannot build it either (:func:`~vibench.compiler.phm_reference.why_not_buildable`), and a name with a
look-alike character (a Cyrillic `е` in `ResNеt1D`) says which character is not ASCII. Used by
:func:`vibench.compiler.phm.translate`.
"""

from __future__ import annotations

import os
import unicodedata

from vibench.compiler.diagnostics import Diagnostic, SpecError, suggest
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc
from vibench.compiler.params import expected_names
from vibench.compiler.phm_reference import MODELS, type_for_name, why_not_buildable
from vibench.compiler.spec_files import LIBRARY_DIR, SPEC_SUFFIXES

FAMILY_FOLDERS = {"ISFM": "isfm", "ISFM_Prompt": "isfm", "CNN": "cnn", "RNN": "rnn", "Transformer": "transformer",
                  "MLP": "mlp", "NO": "no",
                  "X_model": "x_model"}
"""PHM-Vibench model type -> library folder (the prompt-guided ISFM_Prompt family lives with the ISFM specs)."""


def template_for(kind: str, name: str, type_pos: Pos | None, name_pos: Pos | None, doc: LoadedDoc,
                 hidden: list[str]) -> str:
    """The library template of ``kind``/``name`` (``hidden``: those of the two a base config gave, never quoted)."""
    folder = FAMILY_FOLDERS.get(kind)
    if folder is None:
        reason = why_not_buildable(kind, name)
        family = type_for_name(kind)
        hint = (f"`{kind}` is a model `name` of type `{family}`: write `type: {family}` and `name: {kind}`"
                if family else suggest(kind, FAMILY_FOLDERS))
        notes = (reason,) if reason else (f"PHM-Vibench has {', '.join(f'{kind}/{n}' for n in MODELS[kind])}; "
                                          "vibench has no template for them yet",)
        raise SpecError([Diagnostic("E220", f"no vibench templates for PHM-Vibench model type `{kind}`", type_pos,
                                    expected="one of " + ", ".join(f"`{k}`" for k in FAMILY_FOLDERS),
                                    notes=notes, hint=_with_non_ascii(kind, hint, hidden))], {doc.file: doc.text})
    if not name.replace("_", "").isalnum():
        raise no_template(kind, name, folder, name_pos, doc, hidden)
    family = type_for_name(name)
    if family is not None and family != kind:  # the factory imports src.model_factory.<type>.<name>
        raise SpecError([Diagnostic("E220", f"no PHM-Vibench model `{kind}/{name}`: `{name}` is of type "
                                    f"`{family}`, not `{kind}`", type_pos, expected=f"`type: {family}`",
                                    notes=(why_not_buildable(kind, name) or "",), hint=f"write `type: {family}`")],
                        {doc.file: doc.text})
    return f"{folder}/{name}"


def no_template(kind: str, name: str, folder: str, pos: Pos | None, doc: LoadedDoc,
                hidden: list[str]) -> SpecError:
    """E220: the library's folder ``folder`` holds no template ``name`` (of PHM-Vibench's type ``kind``)."""
    base = os.path.join(LIBRARY_DIR, folder)
    available = sorted(os.path.splitext(f)[0] for f in os.listdir(base)
                       if f.endswith(SPEC_SUFFIXES)) if os.path.isdir(base) else []
    reason = why_not_buildable(kind, name)
    note = reason or "PHM-Vibench has this model; vibench has no template for it yet"
    return SpecError([Diagnostic("E220", f"no vibench template for PHM-Vibench model `{kind}/{name}`", pos,
                                 expected=expected_names(available, f"the library's `{folder}/` folder",
                                                         "holds no templates"),
                                 notes=(note,),
                                 hint=_with_non_ascii(name, suggest(name, available) or
                                                      "`vibench-compile --list` shows the library", hidden))],
                     {doc.file: doc.text})


def _with_non_ascii(name: str, hint: str | None, hidden: list[str]) -> str | None:
    """``hint``, led by the first character of ``name`` that is not ASCII: a look-alike (`ResNеt1D` with a Cyrillic
    `е`) reads as the name suggested, and "did you mean ResNet1D?" alone does not say what differs. A name a base
    config gave (in ``hidden``) is not spelt out, not even a character of it.

    >>> _with_non_ascii("ResNеt1D", "did you mean `ResNet1D`?", [])
    '`е` (U+0435 CYRILLIC SMALL LETTER IE) at position 5 is not ASCII: did you mean `ResNet1D`?'
    """
    at = next((i for i, ch in enumerate(name) if not ch.isascii()), None)
    if at is None or name in hidden:
        return hint
    ch = name[at]
    shown = f"`{ch}` " if ch.isprintable() and not ch.isspace() else ""
    what = f"{shown}(U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}) at position {at + 1} is not ASCII"
    more = sum(not c.isascii() for c in name) - 1
    what += f" (and {more:,} more)" if more else ""
    return f"{what}: {hint}" if hint else what
