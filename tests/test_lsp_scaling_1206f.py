"""vibench-lsp's tolerant outline and quick spec scan against the QA pass of 1206f: work linear in the text.

* A ``|`` block scalar's lines are joined once (each line used to copy the text so far: a 2 MB block took
  24 s of a hover).
* The quick scan (:mod:`vibench.lsp.spec_kind`) reads runs of spaces and comments once (``[^\\n]*?`` then
  ``[ \\t]*:`` tried each run again at each character: 15-18 s per request on 100 KB), and repeats a group
  only a bounded number of times per match (the engine keeps state for each repetition until the match ends).
* The outline ends after :data:`~vibench.lsp.outline_scanner.MAX_ENTRIES` entries (7.5M list items held
  6.3 GB), finds a plain scalar's end by one search (a 15 MB value held 1.9 GB in the engine), and keeps a
  scanner state per :data:`~vibench.lsp.outline_scanner.CHECKPOINT` characters, not per line.

Work is counted (characters copied, entries, states, memory traced) where it can be. How often the regular
expression engine backtracks cannot be counted: those tests compare the CPU time at two sizes with a generous
ratio (linear: about 8 for 8 times the text; the quadratic patterns gave 57-65), never a wall-clock threshold.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from vibench.lsp import outline_scanner, spec_kind
from vibench.lsp.outline import cursor_at, outline
from vibench.lsp.outline_model import Entry
from vibench.lsp.outline_scanner import CHECKPOINT, MAX_ENTRIES, Scanner

SPEC_HEAD = "vibench: 1\nname: T\ninputs:\n  x: {shape: [B, 3, 16]}\nnodes:\n  a: {block: relu, in: x}\n"


def peak_memory(fn: Callable[[], Any]) -> int:
    """Bytes allocated at most while ``fn`` runs (the regular expression engine's state included)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------------------------
# 1. block scalars
# --------------------------------------------------------------------------------------------


def test_a_block_scalars_lines_are_joined_once(monkeypatch: pytest.MonkeyPatch) -> None:
    written = [0]

    class CountingEntry(Entry):
        """Counts the characters written to entries' values: the copies a scan makes."""

        def __setattr__(self, name: str, value: Any) -> None:
            if name == "value" and value:
                written[0] += len(value)
            super().__setattr__(name, value)

    monkeypatch.setattr(outline_scanner, "Entry", CountingEntry)
    lines = [f"line {i} of the text" for i in range(4000)]
    text = "vibench: 1\ndoc: |\n" + "".join(f"  {line}\n" for line in lines) + "name: T\n"
    o = outline(text)
    assert o.value(("doc",)) == "\n".join(lines)
    assert o.value(("name",)) == "T"
    assert written[0] <= 2 * len(text)  # joined once; it was each line's text so far: 4000 copies


# --------------------------------------------------------------------------------------------
# 2. the quick scan of spec_kind
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "keys"), [
    # block keys: a run of spaces in a line that is no key, in a key, and after `? `
    (lambda n: "foo: 1\nbar" + " " * n + "x\n", ["foo"]),
    (lambda n: "vibench: 1\nwide" + " " * n + ": 2\n", ["vibench", "wide"]),
    (lambda n: "a: 1\n? b" + " " * n + "c #\n", ["a"]),
    # flow keys: a run of spaces in a key, comments that are never closed, a gap of comments
    (lambda n: "{a" + " " * n + "b", []),
    (lambda n: "{" + "/*" * n, []),
    (lambda n: "{" + " /*," * n + '"vibench": 1}', ["vibench"]),  # no `*/` follows: no comment
    (lambda n: "{" + "/* c */ " * n + '"vibench": 1}', ["vibench"]),
], ids=["block-spaces", "block-key-spaces", "explicit-key-spaces", "flow-key-spaces", "flow-open-comments",
        "flow-open-comment-members", "flow-comment-gap"])
def test_the_quick_scan_reads_runs_of_spaces_and_comments_once(make: Callable[[int], str], keys: list[str]) -> None:
    # What it finds, on runs long enough that reading each run again was seconds (the time it takes is
    # measured by hand, not asserted: tests do not depend on the machine's speed).
    assert spec_kind.top_keys(make(3000)) == keys
    assert spec_kind.top_keys(make(40_000)) == keys


@pytest.mark.parametrize("text", [
    "#\n" * 500_000 + "a: 1\n",  # comments before the first key
    "{" + "/**/" * 250_000 + "}",  # JSON with comments
    '{"a": [' + '"s", ' * 200_000 + '"s"]}',  # strings in a nested list
    '{"a": "' + '\\"' * 500_000 + '"}',  # escapes in one string (a value: stepped over)
    "{" + "[" * 500_000,  # deep brackets, stepped over a run at a time
])
def test_the_quick_scan_holds_no_state_per_line_or_token(text: str) -> None:
    assert not spec_kind.is_spec(text, "other.yaml")
    # the text is not copied (ASCII, `\n` breaks); each repeated group used to hold ~140 bytes per repetition
    assert peak_memory(lambda: spec_kind.top_keys(text)) < len(text) // 4 + 100_000


def test_the_quick_scan_agrees_across_its_bounded_repetitions() -> None:
    """Each pattern repeats its group at most REPEAT times per match; the loop that joins matches reads on."""
    many = 3 * spec_kind.REPEAT
    assert spec_kind.top_keys("# c\n" * many + "vibench: 1\nnodes: {}\n") == ["vibench", "nodes"]
    assert spec_kind.top_keys("// c\n" * many + '{"vibench": 1}') == ["vibench"]
    nested = '{"metadata": {"a": [' + '"x", ' * many + '"}"]}, "vibench": 1}'
    assert spec_kind.top_keys(nested) == ["metadata", "vibench"]
    members = "{" + ", ".join(f'"k{i}": "{i}"' for i in range(many)) + "}"
    assert spec_kind.top_keys(members) == [f"k{i}" for i in range(many)]
    assert spec_kind.top_keys("{" + "// c\n" * many + "vibench: 1}") == ["vibench"]


# --------------------------------------------------------------------------------------------
# 3. the outline's size
# --------------------------------------------------------------------------------------------


def long_list(items: int) -> str:
    return SPEC_HEAD + "metadata: {a: [" + "1," * items + "1]}\nafter: T\n"


def test_the_outline_ends_after_max_entries() -> None:
    o = outline(long_list(MAX_ENTRIES + 10))
    assert len(o.entries) <= MAX_ENTRIES + 1  # and the root
    assert o.value(("nodes", "a", "block")) == "relu"  # what comes before the limit is read
    assert o.value(("metadata", "a", 100)) == "1"
    assert o.entry(("after",)) is None  # after it, nothing
    text = long_list(MAX_ENTRIES + 10)
    relu = text.index("relu") + 2
    for base in (None, o):
        assert cursor_at(text, text.index("after") + 2, whole_word=True, base=base).role == "none"
        cursor = cursor_at(text, relu, whole_word=True, base=base)
        assert (cursor.path, cursor.role, cursor.word) == (("nodes", "a", "block"), "value", "relu")


def test_the_outlines_memory_stops_growing_at_the_limit() -> None:
    """7.5M items (15 MB) held 6.3 GB: the memory grew with the text, about 400 bytes an item."""
    at_limit = peak_memory(lambda: outline(long_list(MAX_ENTRIES)))
    beyond = peak_memory(lambda: outline(long_list(4 * MAX_ENTRIES)))
    assert beyond < 1.3 * at_limit  # four times the items: what is held stays that of MAX_ENTRIES


@pytest.mark.parametrize("value", ["x" * 2_000_000, "a " * 1_000_000])
@pytest.mark.parametrize("flow", [False, True])
def test_a_long_plain_value_holds_no_state_per_character(value: str, flow: bool) -> None:
    text = SPEC_HEAD + ("doc: [" + value + "]\n" if flow else "doc: " + value + "\n")
    o = outline(text)
    assert (o.value(("doc", 0)) if flow else o.value(("doc",))) == value.rstrip()
    assert peak_memory(lambda: outline(text)) < 4 * len(text)  # the line and the value; it was 150 bytes a char


@pytest.mark.parametrize("body", [
    "\n" * 1_000_000,  # blank lines
    "  # a comment\n" * 100_000,  # comment lines
    "  - 1\n" * 50_000,  # short lines with entries
    "doc: |\n" + "  text\n" * 100_000,  # a block scalar's lines
])
def test_the_outline_keeps_a_state_per_checkpoint_not_per_line(body: str) -> None:
    text = SPEC_HEAD + "metadata:\n" + body
    o = outline(text)
    assert len(o.states) <= len(text) // CHECKPOINT + 2  # it was one per line: hundreds of bytes each
    assert [offset for offset, _ in o.states] == sorted({offset for offset, _ in o.states})
    assert all(offset == 0 or text[offset - 1] == "\n" for offset, _ in o.states)  # line starts


def test_the_cursor_resumes_at_a_checkpoint_and_finds_what_a_full_scan_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = "".join(f"  n{i}: {{block: conv1d, in: [x, n{i - 1}], out_channels: 4}}  # node {i}\n" for i in range(300))
    text = SPEC_HEAD + "doc: |\n  a\n\n  b\n" + nodes + "outputs: {y: n299}\n"
    base = outline(text)
    read = [0]
    real = Scanner._line

    def counting(self: Scanner, start: int, line: str) -> None:
        read[0] += len(line) + 1
        real(self, start, line)

    offsets = [text.index(w) + k for w in ("n150:", "conv1d, in: [x, n200", "n299}", "b\n") for k in (0, 2)]
    for offset in offsets:
        full = cursor_at(text, offset)
        monkeypatch.setattr(Scanner, "_line", counting)
        read[0] = 0
        resumed = cursor_at(text, offset, base=base)
        monkeypatch.setattr(Scanner, "_line", real)
        assert resumed == full
        assert read[0] <= CHECKPOINT + 2 * 80  # from the last checkpoint to the cursor: about CHECKPOINT characters
    edited = text.replace("n200: {", "n200: {checkpoint: true, ")  # an edit: the earlier outline serves as base
    offset = edited.index("n250") + 2
    assert cursor_at(edited, offset, base=base) == cursor_at(edited, offset)


def test_quoted_strings_longer_than_one_match_close_where_they_end() -> None:
    """closing_quote reads a bounded number of escapes per match: a string with more still ends at its quote."""
    escapes, quotes = '\\"' * 1000, "''" * 1000
    text = f'vibench: 1\ndoc: "{escapes}x"\nsingle: \'{quotes}y\'\nname: T\n'
    o = outline(text)
    assert o.value(("doc",)) == '"' * 1000 + "x"
    assert o.value(("single",)) == "'" * 1000 + "y"
    assert o.value(("name",)) == "T"
