"""E112's hint for a text that is none of a parameter's fixed texts: the nearest choice, never "a plain name
reads a parameter" (the field takes text)."""

import pytest

import vibench


def _hint(features: str, params: str = "") -> str | None:
    text = (f"vibench: 1\nname: Feat\n{params}inputs: {{x: {{shape: [B, 2, 64]}}}}\n"
            f"nodes:\n  f: {{block: signal_features, in: x, features: {features}}}\noutputs: {{y: f}}\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (d,) = [d for d in err.value.diagnostics if d.code == "E112"]
    return d.hint


def test_a_choice_in_another_case_is_named() -> None:
    # `mean` among 'Mean', 'Std', ...: the hint said "a plain name reads a parameter ...; none is named `mean`".
    assert _hint("[mean]") == "did you mean `Mean`? (the choices are case-sensitive)"


def test_a_misspelt_choice_is_named() -> None:
    assert _hint("[Mean, Kurtosys]") == "did you mean `Kurtosis`?"


def test_a_text_near_no_choice_is_sent_to_the_choices() -> None:
    hint = _hint("[Mean, bogus]")
    assert hint is not None and "choices" in hint and "plain name" not in hint


def test_a_parameter_written_as_a_plain_name_still_says_how_to_read_it() -> None:
    # A node writing the name of its own parameter where text is taken: reading it is what was meant.
    hint = _hint("[feat]", "params:\n  feat: {type: str, default: Mean}\n")
    assert hint is not None and "${feat}" in hint
