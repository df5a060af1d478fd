"""Two command-line texts (QA, 12-07): an `--input` dimension of 30 characters or more was "larger than 2**62"
unread (`000...064` is 64; a negative or non-number one got the same words); and a file name's byte that is not
UTF-8, written `\\xe9` (4 columns), was counted as one column, so `--list` shifted that row's description by 3."""

from __future__ import annotations

import pytest

from vibench.compiler.cli_args import UsageError, _parse_inputs
from vibench.compiler.terminal_text import display_width, pad, terminal_safe

ZEROS = "0" * 28


@pytest.mark.parametrize(
    "written,value",
    [(ZEROS + "64", 64), ("+" + ZEROS + "16", 16), ("٠" * 28 + "٦٤", 64), ("1_" + "0" * 29, 10**29)],
)
def test_a_long_dimension_is_read(written: str, value: int) -> None:
    if value > 2**62:
        with pytest.raises(UsageError, match="larger than 2"):
            _parse_inputs([f"x=2,{written}"])
    else:
        assert _parse_inputs([f"x=2,{written}"]) == {"x": (2, value)}


@pytest.mark.parametrize(
    "written,words",
    [("-" + ZEROS + "01", "must be positive integers"), (ZEROS + "00", "must be positive integers"),
     ("A" * 31, "must be integers"), ("1__" + "0" * 29, "must be integers"), ("9" * 40, "larger than 2\\*\\*62")],
)
def test_a_long_dimension_that_is_no_size_says_why(written: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        _parse_inputs([f"x={written}"])


def test_a_byte_that_is_not_utf8_takes_the_columns_it_is_drawn_in() -> None:
    name = "caf\udce9"  # os.fsdecode(b"caf\xe9")
    assert terminal_safe(name) == "caf\\xe9"
    assert display_width(name) == len(terminal_safe(name)) == 7
    rows = [pad(n, 14) + "|" for n in ("fam/Bad", "fam/" + name)]
    assert len({len(terminal_safe(r)) for r in rows}) == 1  # the bars line up as drawn
