"""References that name something there but no spec: said as what it is, never as an unknown spec.

:func:`refuse_unusable` for a path that is a FIFO, a folder or a file of another suffix (``./notes.md``),
:func:`refuse_phm` for a PHM-Vibench config named by ``extends:`` or ``block:``, and :func:`slot_hint` for a
slot value written as a path (``../../cnn/ResNet1D``): each raises or returns the diagnostic at the
reference, for :class:`vibench.compiler.resolve.Library`.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import stat
from collections.abc import Callable

from vibench.compiler.diagnostics import Diagnostic, SpecError, clip, closest, suggest
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc, _file_kind, is_experiment
from vibench.compiler.spec_files import SPEC_SUFFIXES


def refuse_unusable(ref: str, candidates: list[str], written: list[str], pos: Pos | None, cwd: str,
                    display: Callable[[str], str] = os.path.realpath) -> None:
    """E004 when a path a reference names is there but no regular file (a FIFO, a folder), E205 when it is a
    file whose suffix is not a spec's (`./notes.md`). ``candidates``: the spec paths looked for; ``written``:
    the reference as written, in each folder searched (both inside the search path); ``display``: how a message
    names a folder (`vibench/specs/cnn` for the library's)."""
    for path in candidates:
        try:
            mode = os.stat(path).st_mode  # never opened: a FIFO would wait for a writer
        except (OSError, ValueError) as err:
            if os.path.islink(path):  # there, but leads nowhere: not an unknown spec with a did-you-mean
                loop = isinstance(err, OSError) and err.errno == errno.ELOOP
                raise SpecError([Diagnostic(
                    "E004", f"spec reference `{clip(ref, 200)}` is " + (
                        "a symbolic link loop" if loop else
                        "a broken symbolic link (its target does not exist)"), pos,
                    found=clip(os.path.relpath(path, cwd).replace(os.sep, "/"), 200),
                    hint="point the link at a .yaml, .yml or .json spec file, or remove it")]) from None
            continue
        if not stat.S_ISREG(mode):
            raise SpecError([Diagnostic(
                "E004", f"spec reference `{clip(ref, 200)}` is {_file_kind(mode)}, not a regular file", pos,
                found=clip(os.path.relpath(path, cwd).replace(os.sep, "/"), 200),
                hint="name a .yaml, .yml or .json spec file")])
    for path in written:
        if os.path.isdir(path):  # `./dd`, `isfm/backbone`: E004 as docs/errors.md says, never a guessed spec in it
            raise SpecError([Diagnostic(
                "E004", f"spec reference `{clip(ref, 200)}` is a folder, not a regular file", pos,
                found=clip(display(path), 200), hint=_folder_hint(ref, path))])
        if os.path.isfile(path):
            suffix = os.path.splitext(path)[1]
            stem = os.path.splitext(os.path.basename(path))[0]
            raise SpecError([Diagnostic(
                "E205", f"spec reference `{clip(ref, 200)}` names a file that is not .yaml, .yml or .json", pos,
                expected="a .yaml, .yml or .json file (the suffix may be left out)",
                found=f"a `{clip(suffix, 40)}` file" if suffix else "a file without a suffix",
                hint=f"rename it `{clip(stem, 200)}.yaml`: only the spec given to vibench-compile may have another "
                "suffix")])


def undecodable(name: str) -> bool:
    """Whether the file name ``name`` (as ``os`` gives it) holds bytes that are not UTF-8: Python's surrogate escape
    keeps each as a lone surrogate (``T\\udce9``), which no spec text holds (spec files are UTF-8), so no reference
    can name the file.

    >>> undecodable("T\\udce9"), undecodable("Té")
    (True, False)
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


MAX_LISTED = 3  # specs of a folder a hint names
MAX_SCANNED = 2_000  # entries of a folder read for them: a folder of a million files is not listed whole


def _folder_hint(ref: str, folder: str) -> str:
    """How to name a spec of the folder a reference named: the first few of its spec files (sorted, suffix left
    out, spelt from the reference: ``isfm/backbone/B_01_BiLSTM``, ``./dd/part``); regular files only, never
    through a link."""
    found: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in itertools.islice(entries, MAX_SCANNED):
                name = entry.name
                if name.endswith(SPEC_SUFFIXES) and "#" not in name and entry.is_file(follow_symlinks=False):
                    found.append(os.path.splitext(name)[0])
    except OSError:  # unreadable (search-only): its names cannot be listed
        pass
    named = [f"`{clip(ref.rstrip('/'), 100)}/{clip(name, 100)}`" for name in sorted(found)[:MAX_LISTED]
             if not undecodable(name)]
    if not named:
        return "a reference names a .yaml, .yml or .json spec file, with or without its suffix"
    more = ", ..." if len(found) > len(named) else ""
    return f"a reference names a spec file, not a folder: name one of its specs, such as {', '.join(named)}{more}"


def refuse_phm(doc: LoadedDoc, pos: Pos | None, library_dir: str) -> None:
    """E103 at the reference (``pos``) when ``doc`` is a PHM-Vibench config instead of a vibench spec; for an
    experiment config, the hint names the template of ``library_dir`` its `model:` section picks, if any."""
    from vibench.compiler.validate import phm_refusal

    template = None
    if is_experiment(doc.data):
        model = doc.data.get("model")
        name = model.get("name") if isinstance(model, dict) else None
        kind = str(model.get("type") if isinstance(model, dict) else None).lower()
        if isinstance(name, str) and name.isidentifier():
            # A library folder that holds a spec by that name (PHM-Vibench's names are unique across its model
            # types; the folder named for the type first): `CNN/ResNet1D` -> `cnn/ResNet1D`.
            folders = sorted(f for f in os.listdir(library_dir) if os.path.isdir(os.path.join(library_dir, f)))
            found = [f"{f}/{name}" for f in sorted(folders, key=lambda f: f != kind)
                     if os.path.isfile(os.path.join(library_dir, f, name + ".yaml"))]
            template = found[0] if found else None
    error = phm_refusal(doc, pos, template)
    if error is not None:
        raise error


_COMPONENT = re.compile(r"[^\W][\w.-]*")  # a name a component file may have: no leading dot or dash, no spaces


def slot_hint(name: str, slot: str, offered: list[str], suffixes: tuple[str, ...],
              in_python: bool = False) -> str | None:
    """A "did you mean" for a slot value, or how to add the component (``in_python``: the folders are
    `search_path=`'s, not `--spec-path`'s); never a path to create for a value that is a path (`/etc/passwd`,
    `../../cnn/ResNet1D`, `x.yaml`): a slot value names a component."""
    if "/" in name or "\\" in name or ".." in name or os.path.isabs(name) or name.endswith(suffixes):
        base = os.path.splitext(name.replace("\\", "/").rstrip("/").rpartition("/")[2])[0]
        close = closest(base, offered) if base else None
        return (f"write `{close}`: " if close else "") + "a slot value is a component's name, without a folder " \
            f"or a suffix (one of those `{slot}/` offers, listed above)"
    if not _COMPONENT.fullmatch(name):  # `""`, `" "`, `.`, `-x`: no file by that name to add
        close = suggest(name.strip(), offered) if name.strip() else None
        return close or f"a slot value is a component's name (one of those `{slot}/` offers, listed above)"
    folders = "a `search_path=` folder" if in_python else "a --spec-path folder"
    return suggest(name, offered) or f"add `{slot}/{name}.yaml` to {folders}"
