"""A tagged scalar whose text is empty or only a sign (`!!int ""`, `!!float "-"`, a bare `!!int`) is E001 at the
scalar, as any other invalid tagged scalar is: PyYAML's constructors read its first character and raised
IndexError, which reached the user as an internal error with a traceback (exit 3)."""

from __future__ import annotations

import pytest

from vibench.compiler.diagnostics import SpecError
from vibench.compiler.load import load_text


@pytest.mark.parametrize("value", ['!!int ""', '!!int "-"', '!!int "+"', '!!float ""', "!!int", '!!float "-"'])
def test_an_empty_tagged_number_is_e001(value: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_text(f"vibench: 1\nname: T\nk: {value}\nz: 1\n", "t.yaml")
    (d,) = caught.value.diagnostics
    assert d.code == "E001"
    assert d.message.startswith(("invalid int scalar", "invalid float scalar"))
    assert d.pos is not None and d.pos.file == "t.yaml"
