"""The stack of open YAML containers that :class:`~vibench.lsp.outline_scanner.Scanner` keeps.

A :class:`_Frame` is one open container (block or flow mapping or sequence) with the path its entries
go under and what it expects next; :class:`ContainerStack` holds them and opens and closes them as
indentation, brackets and commas say. Kept apart from the scanner, which reads the text and records its
keys and scalars: these moves create no entries and read no text, only the frames and the entries' ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from vibench.compiler.load_compose import MAX_DEPTH
from vibench.lsp.outline_model import Outline, Path


class _Ended(Exception):
    """Raised beyond :data:`MAX_DEPTH` containers (:meth:`ContainerStack._push`) or
    :data:`~vibench.lsp.outline_scanner.MAX_ENTRIES` entries (:meth:`Scanner._enter
    <vibench.lsp.outline_scanner.Scanner._enter>`); :meth:`Scanner.run <vibench.lsp.outline_scanner.Scanner.run>`
    stops there."""


@dataclass
class _Frame:
    kind: str  # "root", "bmap", "bseq", "fmap", "fseq"
    indent: int  # column of a block container's keys or dashes (-1 for the root and flow containers)
    path: Path
    key: str | None = None  # mappings: the current key
    index: int = -1  # sequences: the current item
    state: str = "value"  # "key": expecting a key; "value": expecting a value; "done": value given

    @property
    def flow(self) -> bool:
        return self.kind in ("fmap", "fseq")

    def slot(self) -> Path | None:
        """Where a value goes now: the current key's or item's path (None: no key yet)."""
        if self.kind == "root":
            return ()
        if self.kind in ("bmap", "fmap"):
            return None if self.key is None else (*self.path, self.key)
        return (*self.path, self.index)


class ContainerStack:
    """Open containers, innermost last (the root frame first), and the moves on them. Block containers close
    when a line is indented less than their keys (or dashes); flow ones at their bracket. The attributes are
    set by :class:`~vibench.lsp.outline_scanner.Scanner`, which extends it."""

    stack: list[_Frame]
    flow_depth: int  # open flow containers
    outline: Outline
    last_end: int
    last_token_end: int

    @property
    def top(self) -> _Frame:
        return self.stack[-1]

    @property
    def in_flow(self) -> bool:
        return self.flow_depth > 0

    def _token(self, end: int) -> None:
        self.last_end = max(self.last_end, end)
        self.last_token_end = end

    def _extend(self, end: int) -> None:
        self.last_end = max(self.last_end, end)

    def _container(self, path: Path, kind: str) -> None:
        entry = self.outline.entries.get(path)
        if entry is not None and entry.kind == "none":
            entry.kind = kind

    def _push(self, frame: _Frame) -> None:
        if len(self.stack) > MAX_DEPTH:  # MAX_DEPTH containers open (and the root frame): one more is E002
            raise _Ended
        self._container(frame.path, "map" if frame.kind in ("bmap", "fmap") else "seq")
        self.stack.append(frame)
        if frame.flow:
            self.flow_depth += 1

    def _pop(self) -> None:
        frame = self.stack.pop()
        if frame.flow:
            self.flow_depth -= 1
        entry = self.outline.entries.get(frame.path)
        if entry is not None:
            entry.end = max(entry.end, self.last_end)
        self.top.state = "done"

    def _line_start(self, col: int, dash: bool) -> None:
        """Close the block containers a line at ``col`` leaves."""
        while self.top.kind in ("bmap", "bseq"):
            if self.top.indent > col or (self.top.kind == "bseq" and self.top.indent == col and not dash):
                self._pop()
                continue
            break

    def _value_slot(self) -> Path | None:
        """Where a new value (or container) goes: the slot of the top frame, if it awaits one."""
        top = self.top
        if top.state != "value":
            return None
        return top.slot()

    def _close(self) -> None:
        while len(self.stack) > 1:
            flow = self.top.flow
            self._pop()
            if flow:
                break

    def _comma(self) -> None:
        top = self.top
        if top.kind == "fmap":
            top.key, top.state = None, "key"
        elif top.kind == "fseq":
            top.index += 1
            top.state = "value"
