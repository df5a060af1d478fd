"""The walk of a folder for its spec templates (:func:`walk_specs`), within limits (:data:`WALK_FOLDERS`,
:data:`WALK_ENTRIES`): what ``vibench-compile --list`` (:mod:`vibench.compiler.library_index`) lists of a spec-path
folder, and what the schema of a folder's templates (:mod:`vibench.schemas.template_schema`) offers. Separate from
the listing, which compiles what the walk finds: the walk reads folders and at most the first 512 bytes of a
`.json` file, to tell a JSON Schema ``vibench-compile schema`` wrote from a spec (:func:`written_schema`)."""

from __future__ import annotations

import os
from typing import NamedTuple

from vibench.compiler.spec_files import SPEC_SUFFIXES

WALK_FOLDERS = 500
"""Folders one spec-path folder's walk reads, at most, as a "did you mean" does
(:data:`~vibench.compiler.reference_templates.MAX_HINT_FOLDERS`): `--list -I ~` walked a whole home, every folder
of it, before it listed its first 1,000 templates."""

WALK_ENTRIES = 20_000
"""Entries (files and folders) one walk reads from its folders, at most: a folder of a million files is read no
further. Ten times the names a "did you mean" takes from a folder (:data:`MAX_HINT_NAMES
<vibench.compiler.reference_templates.MAX_HINT_NAMES>`): a folder of specs holds other files too, and a spec file
costs a look at its kind (a `.json` one, its first line as well), about 20 us."""


class FolderWalk(NamedTuple):
    """The spec files a folder's walk found (:func:`walk_specs`), and why it stopped before its end (None: it did
    not), as `after reading 500 folders`."""

    paths: list[str]
    stopped: str | None


def walk_specs(root: str) -> FolderWalk:
    """The spec files under ``root`` that are templates, in walk order (a folder's files by name, then its
    folders by name, each walked whole), within :data:`WALK_FOLDERS` folders and :data:`WALK_ENTRIES` entries.
    Skipped: hidden files and folders (``.git``, ``.venv``), what is no regular file (a dangling link, a FIFO named
    ``x.yaml``), the JSON Schemas ``vibench-compile schema`` wrote; a linked folder is not walked (as ``os.walk``)
    and one inside that cannot be read offers nothing. ``root`` itself unreadable stops the walk at its start,
    saying why (:data:`UNREADABLE`): an `-I` folder of mode 000 was listed as holding no specs."""
    paths: list[str] = []
    pending = [root]  # the folders still to read, the next one last
    folders = entries = 0
    while pending:
        if folders == WALK_FOLDERS or entries == WALK_ENTRIES:
            return FolderWalk(paths, _limit_reached(folders, entries))
        folder = pending.pop()
        folders += 1
        listed: list[os.DirEntry[str]] = []
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    if entries == WALK_ENTRIES:  # (the rest of a huge folder is never read)
                        return FolderWalk(paths + _specs(listed), _limit_reached(folders, entries))
                    entries += 1
                    listed.append(entry)
        except OSError as err:
            if folder == root and not isinstance(err, FileNotFoundError):
                return FolderWalk([], f"{UNREADABLE} ({err.strerror or err})")
            continue  # removed or unreadable since it was listed
        paths += _specs(listed)
        pending += sorted((e.path for e in listed if not e.name.startswith(".") and _is_folder(e)), reverse=True)
    return FolderWalk(paths, None)


UNREADABLE = "at its start: the folder cannot be read"
"""How :attr:`FolderWalk.stopped` begins for a folder whose walk read nothing, as it cannot read the folder."""


def _limit_reached(folders: int, entries: int) -> str:
    return (f"after reading {WALK_FOLDERS:,} folders" if folders == WALK_FOLDERS else
            f"after reading {WALK_ENTRIES:,} files and folders")


def _specs(listed: list[os.DirEntry[str]]) -> list[str]:
    """The templates among a folder's entries, by name."""
    return sorted(e.path for e in listed if e.name.endswith(SPEC_SUFFIXES) and not e.name.startswith(".")
                  and _is_file(e) and not written_schema(e.path))


# How a schema `vibench-compile schema` writes begins; here, not in vibench/schemas, as the walk skips such
# files and the schema modules import the walk.
SCHEMA_HEAD = ('"$schema": "https://json-schema.org/draft/2020-12/schema"', '"$id": "https://vibench.dev/schemas/')


def written_schema(path: str) -> bool:
    """Whether ``path`` is a JSON Schema ``vibench-compile schema`` wrote (its first lines say so)."""
    if not path.endswith(".json"):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(512)
    except OSError:
        return False
    return all(line in head for line in SCHEMA_HEAD)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """A folder to walk into: not through a symbolic link (a link to a parent folder walked round forever)."""
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    """A regular file, or a link to one (a spec may be linked in)."""
    try:
        return entry.is_file()
    except OSError:
        return False
