"""The scanner behind :mod:`vibench.lsp.outline`: spec text read line by line, never failing.

:class:`Scanner` keeps a stack of open YAML containers (block and flow mappings and sequences) and
records every key and scalar it reads into an :class:`~vibench.lsp.outline_model.Outline`. Its
state at a line start is a small tuple, so :func:`~vibench.lsp.outline.cursor_at` can resume at
a line shortly before the cursor's. Also the characters of a name (:data:`WORD_CHARS`) and where a
word starts.

Like the compiler's loader, the scanner reads at most :data:`~vibench.compiler.load_compose.MAX_DEPTH`
nested containers: where the text nests deeper (the compiler's E002), the outline ends, so that
``[[[[...`` costs time and memory in proportion to the text and its depth up to that limit, not to
the square of its depth (each entry's path holds every level above it). It also ends after
:data:`MAX_ENTRIES` keys and items, so that what it holds stays bounded where the text is large (each
costs 350 to 600 bytes, and ``[1,1,...`` writes one every two characters). Its work is linear in
the text: a block scalar's lines are joined once, and a plain scalar's end is found by one search.
"""

from __future__ import annotations

import re

from vibench.lsp.outline_merge import MERGE, apply_merges
from vibench.lsp.outline_model import Entry, Outline, Path, after_idle, closing_quote, plain_scalar, unquote
from vibench.lsp.outline_stack import ContainerStack, _Ended, _Frame
from vibench.lsp.text import BOM

WORD_CHARS = r"[A-Za-z0-9_./#\-]"
_WORD_SET = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./#-")
_SPACE = " \t"
_BLANKS = re.compile(r"[ \t]+")
_TAG = re.compile(r"[^ \t]+")  # an anchor or tag (`&a`, `!!map`), read past

MAX_ENTRIES = 100_000
"""The most entries (keys and sequence items) an outline holds: where a text has more, the outline ends
there, as it does beyond ``load_compose.MAX_DEPTH`` (docs/editor.md). The largest spec of the library has 436, a spec
of 20,000 nodes about 100,000; at the limit an outline holds 35 to 60 MB. The compiler takes up to 2,000,000
values (``load_compose.MAX_EXPANDED``), which would cost the outline about 1 GB and 10 to 15 s (on the event
loop, for a hover)."""
CHECKPOINT = 512
"""Characters between the line starts whose scanner state an outline keeps (:attr:`Outline.states`): the cursor
is found by reading at most about this much text before its line, and a text of many short lines keeps one
state per ``CHECKPOINT`` characters, not one per line."""


class Scanner(ContainerStack):
    """Reads text line by line into an :class:`Outline`, keeping a stack of open containers.

    Block containers close when a line is indented less than their keys (or dashes); flow ones at
    their bracket. The state at a line start (the stack, flow depth, block scalar) is a small tuple,
    so a scan can resume at any line (:meth:`restore`).
    """

    def __init__(self, text: str) -> None:
        self.text = text  # its line breaks written as `\n` (see :func:`yaml_lines`)
        self.bom = 1 if text.startswith(BOM) else 0
        self.outline = Outline()
        self.outline.entries[()] = Entry((), None)
        self.stack: list[_Frame] = [_Frame("root", -1, ())]
        self.last_end = 0
        self.block_scalar: int | None = None  # the indentation a block scalar's lines exceed
        self.block_entry: Entry | None = None
        self.block_lines: list[str] = []  # the block scalar's lines so far, joined once it ends
        self.quote: tuple[str, int, bool, list[str]] | None = None  # a quoted string still open at a line end
        self.open_quote = False  # whether the text ends inside a quoted string (`block: "` typed)
        # The last scalar read: (start, end, role, path); role "key" for a key or a key being typed.
        self.last_scalar: tuple[int, int, str, Path] | None = None
        self.last_token_end = 0
        self.flow_depth = 0  # open flow containers
        self.entered = 0  # entries made (those before a restored state included)
        self.ended = False  # the text nests deeper than MAX_DEPTH or holds more than MAX_ENTRIES: the outline ends
        self.first_col: int | None = None  # the column of the line's first token when tags or anchors precede it
        self.anchors: dict[str, Path] = {}  # `&name` -> where its value is (for `<<: *name`)

    # -- driving ------------------------------------------------------------------------------

    def run(self, start: int = 0, states: list[tuple[int, tuple]] | None = None) -> Scanner:
        """Scan from offset ``start`` (a line start); record in ``states`` (offset, state) at a line start
        every :data:`CHECKPOINT` characters or so, where no quoted string is open."""
        offset = max(start, self.bom)  # the text after a byte-order mark
        if self.ended:
            return self
        text, n, due = self.text, len(self.text), offset
        while True:  # line by line, each sliced when read: no list of all lines at once
            if self.quote is None:
                offset = after_idle(text, offset, self.block_scalar is not None)
            end = text.find("\n", offset)
            end = n if end < 0 else end
            if states is not None and offset >= due and self.quote is None:
                states.append((offset, self._state()))
                due = offset + CHECKPOINT
            try:
                cut = end - 1 if end > offset and text[end - 1] == "\r" else end  # a `\r\n` line break
                self._line(offset, text[offset:cut])
            except _Ended:  # too deep (the compiler's E002) or too many entries: nothing after this is outlined
                self.ended, self.quote = True, None
                self._end_block_scalar()
                return self
            if end == n:
                break
            offset = end + 1
        self._end_block_scalar()
        if self.quote is not None:  # never closed: it ends with the text
            quote, begin, first, parts = self.quote
            self.quote, self.open_quote = None, True
            self._scalar(begin, len(self.text), unquote(" ".join(p.strip() for p in parts), quote), False, first)
            self._token(len(self.text))
        return self

    def finish(self) -> Outline:
        while len(self.stack) > 1:
            self._pop()
        self.outline.entries[()].end = self.last_end
        apply_merges(self.outline, MAX_ENTRIES - self.entered)
        return self.outline

    def _state(self) -> tuple:
        """The state at a line start outside a quoted string (:meth:`restore` takes it)."""
        frames = tuple((f.kind, f.indent, f.path, f.key, f.index, f.state) for f in self.stack)
        return frames, self.flow_depth, self.block_scalar, self.last_end, self.entered

    def restore(self, state: tuple) -> Scanner:
        frames, self.flow_depth, self.block_scalar, self.last_end, self.entered = state
        self.stack = [_Frame(*f) for f in frames]
        return self

    def _line(self, start: int, line: str) -> None:
        if self.block_scalar is not None:
            indent = len(line) - len(line.lstrip(" "))
            if not line.strip():
                return
            if indent > self.block_scalar:
                self._extend(start + len(line.rstrip()))
                if self.block_entry is not None:  # the text, lines joined once it ends (indentation not kept)
                    self.block_entry.end = self.last_end
                    self.block_lines.append(line.strip())
                return
            self.block_scalar = None
            self._end_block_scalar()
        i, n = 0, len(line)
        line_start = not self.in_flow
        if self.quote is not None:
            i = self._continue_quote(start, line)
            if i < 0:
                return
            line_start = False
        # The column of the tags and anchors that begin the line (`&k n1: ...`, `!!str vibench: 1`): they are the
        # key's, so the token after them is the line's first, and its mapping is at their column, not the key's.
        properties: int | None = None
        while i < n:
            ch = line[i]
            if ch in _SPACE:
                blanks = _BLANKS.match(line, i)
                i = blanks.end() if blanks else i + 1
                continue
            if ch == "#" and (i == 0 or line[i - 1] in _SPACE):
                return
            first = properties is not None
            if line_start:
                if i == 0 and (line.startswith(("---", "...")) and line[3:4] in ("", " ", "\t")):
                    i += 3
                    continue
                if i == 0 and ch == "%":
                    return
                dash = ch == "-" and line[i + 1:i + 2] in ("", " ", "\t")
                self._line_start(i, dash)
                if dash:
                    self._dash(i)
                    self._token(start + i + 1)
                    i += 1
                    continue  # what follows the dash starts an item at its own column
                line_start, first = False, True
            if ch in "{[":
                self._open("fmap" if ch == "{" else "fseq")
                self._token(start + i + 1)
                i += 1
            elif ch in "}]":
                self._token(start + i + 1)
                self._close()
                i += 1
            elif ch == "," and self.in_flow:
                self._token(start + i + 1)
                self._comma()
                i += 1
            elif ch == ":" and line[i + 1:i + 2] in ("", " ", "\t"):
                i += 1  # a colon without a key before it
            elif ch in "|>" and not self.in_flow and self.top.state == "value":
                self._block_scalar(start + i, start + len(line.rstrip()))
                return
            elif ch in "&!":
                tag = _TAG.match(line, i)
                slot = self._value_slot()
                if ch == "&" and tag and slot is not None:  # the value it anchors goes there (or the key after it)
                    self.anchors[tag.group()[1:]] = slot
                if first and properties is None:
                    properties = i
                i = tag.end() if tag else i + 1
                continue
            else:
                self.first_col = properties
                i = self._read_scalar(start, line, i, first)
                self.first_col = None
            properties = None

    def _read_scalar(self, start: int, line: str, i: int, first: bool) -> int:
        n = len(line)
        if line[i] in "'\"":
            close = closing_quote(line, i + 1, line[i])
            if close is None:  # the string goes on on the next lines
                self.quote = (line[i], start + i, first, [line[i + 1:]])
                return n
            return self._after_scalar(start, line, i, close, unquote(line[i + 1:close - 1], line[i]), True, first)
        value = plain_scalar(line, i, self.in_flow)
        return self._after_scalar(start, line, i, i + len(value), value, False, first)

    def _continue_quote(self, start: int, line: str) -> int:
        """Read a line of a quoted string begun on an earlier line; the index after it, or -1."""
        assert self.quote is not None
        quote, begin, first, parts = self.quote
        close = closing_quote(line, 0, quote)
        if close is None:
            parts.append(line)
            return -1
        parts.append(line[:close - 1])
        self.quote = None
        value = " ".join(p.strip() for p in parts)
        return self._after_scalar(start, line, -1, close, unquote(value, quote), True, first, begin - start)

    def _after_scalar(self, start: int, line: str, i: int, end: int, value: str, quoted: bool, first: bool,
                      begin: int | None = None) -> int:
        """Whether the scalar ending at ``line[end]`` is a key; record it; the index to go on from."""
        n = len(line)
        k = end
        while k < n and line[k] in _SPACE:
            k += 1
        is_key = k < n and line[k] == ":" and (quoted or self.in_flow or line[k + 1:k + 2] in ("", " ", "\t"))
        self._scalar(start + (i if begin is None else begin), start + end, value, is_key, first)
        if not quoted and value.startswith(("<<", "*")):  # YAML's merge key, an alias (`"<<"` is text)
            self._merge_or_alias(value, is_key)
        self._token(start + end)
        return k + 1 if is_key else max(end, i + 1)

    def _merge_or_alias(self, value: str, is_key: bool) -> None:
        """Note a plain `<<` key's mapping, or the anchor a plain `*alias` value names (:mod:`outline_merge`)."""
        top, last = self.top, self.last_scalar
        if is_key and value == MERGE and top.kind in ("bmap", "fmap") and top.key == MERGE:
            self.outline.merges.setdefault(top.path, "")
        elif not is_key and value.startswith("*") and last is not None and last[2] == "value":
            self.outline.aliases[last[3]] = self.anchors.get(value[1:])

    # -- structure ----------------------------------------------------------------------------

    def _enter(self, path: Path, key_span: tuple[int, int] | None) -> Entry:
        entry = self.outline.entries.get(path)
        if entry is None:
            self.entered += 1
            if self.entered > MAX_ENTRIES:
                raise _Ended
            entry = self.outline.entries[path] = Entry(path, key_span, end=key_span[1] if key_span else 0)
            self.outline.children.setdefault(path[:-1], []).append(path[-1])
        return entry

    def _dash(self, col: int) -> None:
        top = self.top
        if top.kind == "bseq" and top.indent == col:
            top.index += 1
        else:
            path = self._value_slot()
            if path is None:
                path = top.slot() or top.path
            self._push(_Frame("bseq", col, path, index=0))
        seq = self.top
        seq.state = "value"
        self._enter((*seq.path, seq.index), None)

    def _open(self, kind: str) -> None:
        path = self._value_slot()
        if path is None:
            path = self.top.slot() or self.top.path
        frame = _Frame(kind, -1, path, state="key" if kind == "fmap" else "value", index=0)
        if self.top.kind == "fseq":
            self._enter(path, None)
        self._push(frame)

    def _block_scalar(self, start: int, end: int) -> None:
        path = self.top.slot()
        self.block_entry = None
        if path is not None:
            entry = self._enter(path, None) if path else self.outline.entries[()]
            entry.kind, entry.value, entry.value_span, entry.end = "scalar", "", (start, end), end
            self.block_entry = entry
        self.top.state = "done"
        self.block_scalar = max(self.top.indent, 0) if self.top.kind == "bmap" else 0
        self._token(end)

    def _end_block_scalar(self) -> None:
        """Join the lines of the block scalar just read (once: adding each line to the text so far cost the
        square of its length)."""
        if self.block_entry is not None and self.block_lines:
            self.block_entry.value = "\n".join(self.block_lines)
        self.block_entry, self.block_lines = None, []

    def _scalar(self, start: int, end: int, value: str, is_key: bool, first: bool) -> None:
        top = self.top
        # the column matters only for the first token of a line (near its start): a long line of
        # flow text does not search back to its start for each scalar
        col = -1
        if first and self.first_col is not None:  # after the line's tags or anchors: a key's mapping is at them
            first, col = is_key, self.first_col  # (a value after them is read as it was: `x:` then `  &a foo`)
        elif first:
            col = start - line_start_at(self.text, start, self.bom)
        if is_key:
            if first and not (top.kind == "bmap" and top.indent == col):
                path = self._value_slot()
                if path is None:
                    path = top.slot() or top.path
                self._push(_Frame("bmap", col, path, state="key"))
                top = self.top
            if top.kind in ("bmap", "fmap"):
                top.key, top.state = value, "value"
                self._enter((*top.path, value), (start, end))
                self.last_scalar = (start, end, "key", top.path)
            return
        if first and top.kind == "bmap" and top.indent == col:  # a key being typed (no colon yet)
            self.last_scalar = (start, end, "key", top.path)
            return
        if first and top.kind == "bmap" and top.state == "value" and col > top.indent:
            # `conv:` then a word on the next line: most likely the first key of a mapping being typed
            path = top.slot()
            self.last_scalar = (start, end, "key", path if path is not None else top.path)
            return
        if top.kind == "fmap" and top.state == "key":  # `{block` being typed
            self.last_scalar = (start, end, "key", top.path)
            return
        slot = self._value_slot()
        if slot is None:
            self.last_scalar = None  # a continuation line or stray text
            return
        entry = self._enter(slot, None) if slot else self.outline.entries[()]
        entry.kind, entry.value, entry.value_span, entry.end = "scalar", value, (start, end), end
        top.state = "done"
        self.last_scalar = (start, end, "value", slot)

    # -- the cursor ---------------------------------------------------------------------------

    def cursor(self, offset: int, line_before: str) -> tuple[Path, str]:
        """(path, role) of a word ending at ``offset``, the end of the scanned text."""
        if self.ended:  # the scan stopped before the cursor
            return self.top.path, "none"
        last = self.last_scalar
        # a word ends at the cursor, or the cursor is inside an open quote (editors close it: `block: "|"`)
        if last is not None and last[1] == offset and (word_start(self.text, offset) < offset or self.open_quote):
            return last[3], last[2]
        top = self.top
        if not top.flow and not line_before.strip(_SPACE):  # a blank line start, in block context
            col = len(line_before)
            self._line_start(col, False)
            top = self.top
            if top.kind == "bmap" and top.indent == col:
                return top.path, "key"
            if top.state == "value" and col > top.indent:
                slot = top.slot()
                if top.kind == "bseq":
                    return slot if slot is not None else top.path, "value"
                return (slot if slot is not None else top.path), "key"
            return top.path, "none"
        if top.kind == "fmap":
            if top.state == "key":
                return top.path, "key"
            if top.state == "value":
                return top.slot() or top.path, "value"
            return top.path, "none"
        if top.state == "value":
            slot = top.slot()
            if slot is not None:
                return slot, "value"
        return top.path, "none"


def line_start_at(text: str, offset: int, bom: int) -> int:
    """The offset where the line of ``offset`` starts (after a byte-order mark on the first line)."""
    return max(text.rfind("\n", 0, offset) + 1, bom)


def word_start(text: str, offset: int) -> int:
    """Where the name that ends at ``offset`` starts (``offset`` itself when none does)."""
    start = offset
    while start > 0 and text[start - 1] in _WORD_SET:
        start -= 1
    return start
