"""How a :class:`~vibench.compiler.resolve.Library` finds spec files (:class:`SpecSearch`, which it is): the roots
of the search path (the spec's own folder, the compiled spec's, folders the user adds, then the shipped library),
the file a reference names (:meth:`SpecSearch.find`, :meth:`SpecSearch.locate`: never outside the search path,
E205 otherwise), how a file is named in messages (:meth:`SpecSearch.display`) and the did-you-mean of an unknown
reference. Separate from :mod:`vibench.compiler.resolve`, which loads and resolves what is found: finding reads
folders, never a spec's text. What a lookup missed or followed is recorded in ``absent`` and ``links``
(:mod:`vibench.compiler.resolve_recording`).
"""

from __future__ import annotations

import os
from typing import Any

from vibench.compiler.caller_words import CallerWords
from vibench.compiler.diagnostics import Diagnostic, SpecError, clip, closest
from vibench.compiler.ir import Pos
from vibench.compiler.resolve_recording import _ABSENT, _LINKS
from vibench.compiler.resolve_refusals import refuse_unusable, undecodable
from vibench.compiler.spec_files import LIBRARY_DIR, LISTING_IN_PYTHON, SPEC_SUFFIXES, names_folder, working_folder
from vibench.compiler.spec_paths import unnamable, within


class SpecSearch(CallerWords):
    """The spec search path of a compilation and the lookups on it; its messages name what the caller gave in the
    caller's words (:class:`~vibench.compiler.caller_words.CallerWords`)."""

    def __init__(self, search_path: list[str] | None = None, cwd: str | None = None) -> None:
        super().__init__()
        # once the working folder was removed, a stand-in that holds nothing (relative names find no file there)
        self.cwd = os.path.abspath(cwd or working_folder())
        # absolute, from it, and never normalised: `lib/../x` is where the file system's `..` leads (past a folder
        # link, not back to the folder that holds it), as every path of a lookup (:func:`joined`)
        self.user_dirs = [os.path.join(self.cwd, p) for p in (search_path or [])]
        self.walked: dict[str, list[tuple[str, str]]] = {}  # a root -> its hint walk's spec files (one walk per root)
        recording = _ABSENT.get()
        # absolute paths a lookup tried before the file it took (all of them when it found none)
        self.absent: set[str] = recording if recording is not None else set()
        # the path a lookup took -> the real path it read, where they differ (a link on the way)
        linking = _LINKS.get()
        self.links: dict[str, str] = linking if linking is not None else {}
        # The compiled spec's folder (for text, the working folder): a file it uses from a subfolder may
        # use files of this folder too (`../c.yaml#X`, `c#X`), as the spec itself may.
        self.home: str | None = None

    def roots(self, from_dir: str | None) -> list[str]:
        roots = []
        if from_dir:
            roots.append(from_dir)
        if self.home and self.home != from_dir:
            roots.append(self.home)
        roots += self.user_dirs
        roots.append(LIBRARY_DIR)
        return roots

    def display(self, path: str) -> str:
        """How a file is named in messages and model.py headers (stable across machines)."""
        real = os.path.realpath(path)
        lib = os.path.realpath(LIBRARY_DIR)
        if real == lib:
            return "vibench/specs"
        if real.startswith(lib + os.sep):
            return "vibench/specs/" + os.path.relpath(real, lib).replace(os.sep, "/")
        rel = os.path.relpath(real, self.cwd)
        return real if rel.startswith("..") else rel.replace(os.sep, "/")

    def find(self, ref: str, from_dir: str | None, pos: Pos | None) -> str:
        """The absolute path a reference names (E205 when there is none on the search path)."""
        path = self.locate(ref, from_dir, pos)
        if path is not None:
            return path
        relative = is_relative(ref)
        searched = [b for b in ([from_dir] if (relative and from_dir) else self.roots(from_dir)) if b is not None]
        where = "relative to the spec's folder" if relative else "on the search path"
        hint = self._hint(ref, searched, relative, self.roots(from_dir))
        raise _error("E205", f"unknown spec `{ref}`", pos, hint=hint,
                     notes=(f"searched {where}: " + ", ".join(self.display(r) for r in searched),))

    def locate(self, ref: str, from_dir: str | None, pos: Pos | None) -> str | None:
        """The absolute path a reference names, None when no file has that name; a name that is there but
        unusable (outside the search path, a folder, another suffix) or unwritable raises its error, as
        :meth:`find` does (a caller that tries several names must not take the next one past such a file)."""
        roots = self.roots(from_dir)
        if os.path.isabs(ref) or ref.startswith("~"):
            raise _error("E205", f"spec reference `{ref}` is an absolute path", pos,
                         hint="name library specs as `family/Name` and your own files relative to the spec")
        problem = unnamable(ref)
        if problem is not None:  # before any look-up: the operating system refuses such a path (a bare ValueError)
            raise _error("E205", f"spec reference `{clip(ref, 200)}` {problem}", pos,
                         expected="a spec such as `cnn/ResNet1D` or `./base.yaml`",
                         hint="no file can be named so: remove the character from the reference")
        candidates: list[str] = []
        written: dict[str, str] = {}  # a candidate -> the folder it is looked for in
        relative = is_relative(ref)
        bases = [os.path.join(self.cwd, b) if b else None for b in ([from_dir] if (relative and from_dir) else roots)]
        for base in bases:
            if base is None or names_folder(ref):  # `./blocks/`, `./`, `sub/..`: no file has such a name
                continue
            stem = joined(base, ref)
            options = [stem] if stem.endswith(SPEC_SUFFIXES) else [stem + s for s in SPEC_SUFFIXES]
            candidates += options
            written.update(dict.fromkeys(options, base))
        real_roots = [os.path.realpath(r) for r in roots]
        for index, cand in enumerate(candidates):
            # what a link (of the file, or of a folder on the way) leads to outside is refused whatever it is: a link
            # to /dev/zero was an unknown spec, with a did-you-mean of another such link
            if os.path.isfile(cand) or (os.path.lexists(cand) and not within(os.path.realpath(cand), real_roots)):
                self.absent.update(candidates[:index])
                real = os.path.realpath(cand)
                if not within(real, real_roots):
                    # Named as written, never resolved: where a link leads outside is not the spec's to learn.
                    add = ("add its folder to `search_path=`" if self.in_python
                           else "add its folder with --spec-path (or VIBENCH_SPEC_PATH)")
                    raise _error("E205", f"spec reference `{ref}` points outside the spec search path", pos,
                                 found=clip(_as_written(cand, written[cand], self.cwd), 200),
                                 hint=add if os.path.isfile(cand) else "it leads to no regular file either: point "
                                 "the link at a .yaml, .yml or .json spec file in the search path")
                if cand != real:
                    self.links[cand] = real
                return real
        self.absent.update(candidates)
        searched = [b for b in bases if b is not None]
        named = [joined(b, ref) for b in searched if ref]  # (`""` names no folder: the one searched)
        inside = [p for p in candidates + named if within(os.path.realpath(p), real_roots)]
        refuse_unusable(ref, [p for p in inside if p in candidates], [p for p in inside if p not in candidates],
                         pos, self.cwd, self.display)
        return None

    def _hint(self, ref: str, roots: list[str], relative: bool, usable_in: list[str]) -> str | None:
        # Suggestions are spelt like the reference: `./blocks.yaml` for a relative one, `cnn/ResNet1D`
        # for a library one; only files a reference may name (regular, and really in `usable_in`, the search path).
        names = set()
        real_roots = [os.path.realpath(r) for r in usable_in]
        for root in roots:
            for rel in (rel for rel, real in self._spec_files(root) if within(real, real_roots)):
                if not relative:
                    names.add(os.path.splitext(rel)[0])
                elif ref.endswith(SPEC_SUFFIXES):
                    names.add(("./" if ref.startswith("./") else "") + rel)
                else:
                    names.add(("./" if ref.startswith("./") else "") + os.path.splitext(rel)[0])
        # A name that holds `#` cannot be written in a reference (`#` separates a file from a block in it): never
        # suggested (`./part#1` was suggested for `./part#1.yaml`, as written); said why when the user wrote one.
        hashed = sorted(n for n in names if "#" in n and n.startswith(ref + "#"))
        if hashed:
            return (f"`#` separates a spec file from a block in it (`file.yaml#Block`), so this reference names a "
                    f"block of `{ref}`: a file whose name holds `#`, such as `{clip(hashed[0], 200)}`, cannot be named "
                    "in a reference; rename it without `#`")
        # Never the name as written (a FIFO or a folder named `x.yaml` is listed as a file): it is no spec. Compared
        # as written: `./blocks` is what `./blocks/` (a folder's name) meant.
        names = {n for n in names if "#" not in n and n != ref}
        # A name whose bytes are not UTF-8 (`T\udce9`, shown `T\xe9`) looks like what was written (`Té`) but no spec
        # text can hold it: said so when it is the nearest, never offered as a did-you-mean.
        nearest = closest(ref, names)
        if nearest is not None and undecodable(nearest):
            return (f"the nearest file, `{clip(nearest, 200)}`, has a name that is not valid UTF-8 (each `\\xNN` is a "
                    "byte of another encoding), so no spec can name it; rename it with a UTF-8 name")
        if nearest is not None:
            return f"did you mean `{nearest}`?"
        return None if relative else LISTING_IN_PYTHON if self.in_python else \
            "run `vibench-compile --list` to see the library"

    def _spec_files(self, root: str) -> list[tuple[str, str]]:
        """The regular spec files under ``root`` (a link to a device is none), each as (its path from ``root``,
        ``/``-separated; its real path), that a hint suggests from: at most 500 folders (a spec in `/` or a home
        must not walk all of it) and about 2,000 files, walked once per compile (a spec naming 1,000 missing files
        walked 600 folders for each: 9.5 s in the editor). os.walk follows no link to a folder: only a file's own
        link leads elsewhere."""
        found = self.walked.get(root)
        if found is None:
            found = self.walked[root] = []
            real_root = os.path.realpath(root)
            for visited, (dirpath, dirs, files) in enumerate(os.walk(root), start=1):
                if visited > 500 or len(found) > 2000:
                    break
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for path in (os.path.join(dirpath, f) for f in files if f.endswith(SPEC_SUFFIXES)):
                    rel = os.path.relpath(path, root)
                    if os.path.isfile(path):
                        real = os.path.realpath(path) if os.path.islink(path) else os.path.join(real_root, rel)
                        found.append((rel.replace(os.sep, "/"), real))
        return found


def joined(folder: str, ref: str) -> str:
    """The path ``ref`` names from ``folder`` as the file system reads it: joined, never normalised. ``..`` is
    left for the file system, which follows it from where a link on the way leads (``top/link/../x.yaml`` with
    ``link -> ../real/inner`` is ``real/x.yaml``; ``os.path.normpath`` made it ``top/x.yaml``), and a folder on
    the way must be there (``./nothere/../blocks`` names no file) and be a folder.

    >>> joined("/specs", "./sub/../base.yaml")
    '/specs/./sub/../base.yaml'
    """
    return os.path.join(folder, ref)


def _as_written(path: str, base: str, cwd: str) -> str:
    """``path``, looked for in ``base``, named from the working folder as written: the folder's relative name, then
    the reference, `..` kept (``link/../x.yaml``: trimmed by name, it was `x.yaml`, which is another file)."""
    rest = path[len(base):].lstrip(os.sep)
    rest = rest[2:] if rest.startswith("." + os.sep) else rest
    folder = os.path.relpath(base, cwd)
    return (rest if folder == os.curdir else os.path.join(folder, rest)).replace(os.sep, "/")


def _error(code: str, message: str, pos: Pos | None, **kw: Any) -> SpecError:
    return SpecError([Diagnostic(code, message, pos, **kw)])


def is_relative(ref: str) -> bool:
    """Whether a spec reference names a file relative to the spec's folder (`./base.yaml`, `base.yaml`), not a spec
    of the search path (`cnn/ResNet1D`)."""
    return ref.startswith((".", "/")) or ref.endswith(SPEC_SUFFIXES)
