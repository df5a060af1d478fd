"""The zip directory of a checkpoint file, read before ``torch.load`` expands anything.

``torch.save`` stores every entry of its zip archive as it is (no compression), so a file holds what it
declares. ``torch.load`` expands a compressed entry in memory before it can say a word about the file (1 MB of
deflate holds 1 GiB of zeros), and allocates what an entry declares: :func:`zip_problem` reads the archive's
central directory alone (``zipfile``, nothing extracted) and refuses compressed entries, or entries that
declare more bytes than the file holds (several pointing at one stored block). A legacy checkpoint (a plain
pickle, not a zip) is compressed by no one and not read here.

vibench.runtime.checkpoint's :func:`read_checkpoint` says these words; model.py's loader carries the same
check and says them too (tests/test_checkpoint_bombs_1206g.py compares the two).

>>> import io, torch, zipfile
>>> saved = io.BytesIO()
>>> torch.save({"w": torch.zeros(3)}, saved)
>>> zip_problem(saved, len(saved.getvalue()))
''
>>> packed = io.BytesIO()
>>> with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
...     archive.writestr("archive/data/0", bytes(1 << 20))
>>> print(zip_problem(packed, len(packed.getvalue())))  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
1 of its zip entries is compressed ('archive/data/0' expands 1,0... bytes to 1,048,576), which torch.save
never writes, so none was expanded; save the tensors again with torch.save
"""

from __future__ import annotations

import zipfile
from typing import BinaryIO

MAX_NAME_CHARS = 120
"""The most characters of an entry's name (as ``repr`` writes it) a message shows."""


def zip_problem(file: BinaryIO, size: int) -> str:
    """Why the zip archive in ``file`` (a seekable binary file of ``size`` bytes, starting ``PK\\x03\\x04``)
    is not given to ``torch.load``, in words that follow "cannot read the checkpoint PATH: "; '' to read it.

    An archive whose end record is missing ends early (a file cut short, as torch's own reader says); one whose
    directory ``zipfile`` cannot read is damaged (miniz, torch's reader, could read what ``zipfile`` cannot:
    an entry's name that is no UTF-8, and expand it)."""
    try:
        with zipfile.ZipFile(file) as archive:  # its close leaves ``file`` open
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:  # a version it lacks
        if str(err) == "File is not a zip file":  # zipfile found no end record
            return "the file ends early (truncated?)"
        return f"the file is damaged or not a PyTorch checkpoint (zip: {shown(str(err), 160)})"
    misplaced = layout_problem(file, size, [e.filename for e in entries])
    if misplaced:
        return f"the file is not laid out as torch.save writes it: {misplaced}, so nothing was read"
    packed = sorted((e for e in entries if e.compress_type != zipfile.ZIP_STORED), key=lambda e: -e.file_size)
    if packed:
        largest = packed[0]
        name = shown(repr(largest.filename), MAX_NAME_CHARS)
        verb = "is" if len(packed) == 1 else "are"
        return (f"{len(packed):,} of its zip entries {verb} compressed ({name} expands {largest.compress_size:,} bytes "
                f"to {largest.file_size:,}), which torch.save never writes, so none was expanded; save the tensors "
                "again with torch.save")
    declared = sum(e.file_size for e in entries)
    if declared > size:
        return (f"the file is damaged or not a PyTorch checkpoint (zip: its entries declare {declared:,} bytes, "
                f"more than the file's {size:,})")
    return ""


def layout_problem(file: BinaryIO, size: int, names: list[str]) -> str:
    """Where the archive in ``file`` is laid out so that ``zipfile`` (these checks) and miniz (torch's reader) could
    read different entries: its central directory not where its end record says (``zipfile`` reads the one just
    before the end record, miniz the one at the declared offset: two directories, one checked, one loaded), or two
    entries whose names differ in case alone (miniz finds ``data.pkl`` as ``data.PKL``); '' where they agree.
    torch.save writes no archive comment and a zip64 end record right before the plain one."""
    file.seek(max(0, size - 98))
    tail = file.read(98).rjust(98, b"\0")  # a zip64 end record (56 bytes), its locator (20), the end record (22)

    def number(at: int, width: int) -> int:
        return int.from_bytes(tail[at:at + width], "little")

    zip64 = tail[56:60] == b"PK\x06\x07"  # miniz reads the zip64 record the locator names, zipfile the one before it
    record, directory, offset = (number(64, 8), number(40, 8), number(48, 8)) if zip64 else (size - 22, number(88, 4),
                                                                                           number(92, 4))
    if tail[76:80] != b"PK\x05\x06" or tail[96:] != b"\0\0":
        return "its end record is not the file's last 22 bytes"
    if zip64 and (record != size - 98 or tail[:4] != b"PK\x06\x06"):
        return "its zip64 end record is not right before its end record"
    if offset + directory != record:
        return f"its central directory is at byte {record - directory:,}, its end record says {offset:,}"
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.lower(), name)
        if other is not name:
            return f"two entries are named {shown(repr(other), MAX_NAME_CHARS)} and {shown(repr(name), MAX_NAME_CHARS)}"
    return ""


def shown(text: str, limit: int) -> str:
    """Text from a file or from torch in a message (a checkpoint's name, an entry's): control characters escaped,
    a file name's byte that is no UTF-8 (Python's surrogate escape) as ``\\xff``, as vibench-compile names the file
    (``display.escaped``), at most ``limit`` characters. The checkpoint modules' one rule."""
    flat = text if text.isprintable() else "".join(
        f"\\x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF else ch.encode("unicode_escape").decode("ascii")
        for ch in text)
    return flat if len(flat) <= limit else flat[:limit] + "..."
