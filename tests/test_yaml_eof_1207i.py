"""E001 at the end of a file without a last line break is on its last line (1207i).

`vibench: 1\\nname: [a,` (no final newline) was said at 3:1, a line the file does not have (libyaml ends the
stream on a line of its own), with an empty snippet; the editor, which clamps to the text, said 2:10. Both say
the end of the last line now.
"""

from __future__ import annotations

import pytest

import vibench
from vibench.compiler.diagnostics import SpecError


@pytest.mark.parametrize(("text", "where"), [
    ("vibench: 1\nname: [a,", (2, 10)),  # no last line break: the end of line 2
    ("vibench: 1\nname: [a,\n", (3, 1)),  # a last line break: the empty line after it exists
    ("vibench: 1\r\nname: {a: 1,", (2, 13)),
])
def test_the_end_of_the_file_is_a_place_in_it(text: str, where: tuple[int, int]) -> None:
    with pytest.raises(SpecError) as caught:
        vibench.check(text=text)
    [found] = caught.value.diagnostics
    assert found.code == "E001"
    assert (found.pos.line, found.pos.col) == where
    assert found.pos.line <= len(text.splitlines()) + (text.endswith("\n") and 1)
