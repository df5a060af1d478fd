"""Errors in a spec's `metadata:` and `reference:` sections are located at the entry that has them.

A `${...}` in `metadata:` or a computed `reference.state_dict_renames` was reported at 1:1 (`vibench: 1`),
the unit's position; a rename pair of the wrong length got pydantic's words (`missing required key 1`,
`Tuple should have at most 2 items`). In a template a spec extends, such an error is at the template's
entry, and moves to the user's `with:` setting when that setting alone causes it (see
:mod:`vibench.compiler.blame`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic

_BODY = ("vibench: 1\nname: T\nparams: {width: 3}\ninputs: {x: {shape: [B, 3]}}\n"
         "nodes: {head: {block: linear, in: x, out_features: \"${width}\"}}\noutputs: {y: head}\n")


def _error(text: str | None = None, path: Path | None = None) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path)) if path is not None else vibench.check(text=text)
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


def _at(d: Diagnostic) -> tuple[int, int]:
    assert d.pos is not None
    return d.pos.line, d.pos.col


# -- metadata ---------------------------------------------------------------------------------------------


def test_an_unknown_name_in_metadata_is_at_its_entry() -> None:
    d = _error(_BODY + "metadata: {note: \"${nosuch}\"}\n")
    assert d.code == "E204" and d.message.startswith("unknown name `nosuch` in `metadata`")
    assert _at(d) == (7, 18) and d.found == "${nosuch}" and d.hint is not None and "`width`" in d.hint


def test_the_failing_entry_of_a_nested_metadata_value_is_the_one_shown() -> None:
    text = _BODY + ("metadata:\n  fine: \"${width}\"\n  deep:\n    list: [1, \"${width * 2}\", \"${width // 0}\"]\n")
    d = _error(text)
    assert d.code == "E204" and "division by zero" in d.message and "`metadata`" in d.message
    assert _at(d) == (10, 31) and d.found == "${width // 0}"


def test_a_metadata_template_that_does_not_parse_is_at_its_entry() -> None:
    d = _error(_BODY + "metadata:\n  a: 1\n  b: \"${width +}\"\n")
    assert d.code == "E203" and "`metadata`" in d.message
    assert _at(d) == (9, 6) and d.found == "width +"


def test_metadata_of_a_spec_that_extends_a_template_is_at_its_entry(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(_BODY, encoding="utf-8")
    (tmp_path / "mine.yaml").write_text("vibench: 1\nextends: ./base.yaml\nmetadata:\n  ok: 1\n"
                                        "  note: \"${nosuch}\"\n", encoding="utf-8")
    d = _error(path=tmp_path / "mine.yaml")
    assert d.code == "E204" and d.pos is not None and d.pos.file.endswith("mine.yaml") and _at(d) == (5, 9)
    (tmp_path / "mine.yaml").write_text("vibench: 1\nextends: ./base.yaml\nmetadata: {note: \"${(}\"}\n",
                                        encoding="utf-8")
    d = _error(path=tmp_path / "mine.yaml")
    assert d.code == "E203" and d.pos is not None and d.pos.file.endswith("mine.yaml") and _at(d) == (3, 18)


# -- reference.state_dict_renames ------------------------------------------------------------------------


def test_a_computed_rename_that_is_no_rule_is_at_the_template() -> None:
    d = _error(_BODY + "reference:\n  model: CNN/T\n  state_dict_renames: '${[[\"[\", \"x\"]]}'\n")
    assert d.code == "E210" and "invalid regular expression" in d.message
    assert d.message.startswith("`reference.state_dict_renames`: ")
    assert _at(d) == (9, 23) and d.found == "['[', 'x']"


@pytest.mark.parametrize(("value", "code", "words"), [
    ("'${nosuch}'", "E204", "unknown name `nosuch` in `reference.state_dict_renames`"),
    ("'${width}'", "E210", "`reference.state_dict_renames` must give [pattern, replacement] pairs of strings"),
    ("'${[}'", "E203", "in `reference.state_dict_renames`"),
])
def test_every_error_of_a_computed_rename_is_at_the_template(value: str, code: str, words: str) -> None:
    d = _error(_BODY + f"reference:\n  model: CNN/T\n  state_dict_renames: {value}\n")
    assert d.code == code and words in d.message and _at(d) == (9, 23)


@pytest.mark.parametrize("pair", ['["^classifier[.]"]', '["a", "b", "c"]', "[]"])
def test_a_rename_of_the_wrong_length_says_what_a_rename_is(pair: str) -> None:
    text = _BODY + f"reference:\n  model: CNN/T\n  state_dict_renames:\n    - [\"^fc[.]\", \"head.\"]\n    - {pair}\n"
    d = _error(text)
    assert d.code == "E102" and d.message == "wrong type for `reference.state_dict_renames.1`"
    assert _at(d) == (11, 7)  # the entry, not the list, nor 1:1
    assert d.expected is not None and "`[pattern, replacement]`, two strings" in d.expected
    assert '`["^classifier[.]", "head."]`' in d.expected  # an example to copy
    assert "Tuple" not in d.expected and "`1`" not in (d.expected + d.message)
    assert d.found is not None and d.found.startswith("list [")


def test_a_rename_pair_of_two_strings_still_compiles_and_is_kept() -> None:
    text = _BODY + "reference:\n  model: CNN/T\n  state_dict_renames: [[\"^fc[.]\", \"head.\"]]\n"
    assert vibench.check(text=text).root.state_dict_renames == (("^fc[.]", "head."),)


def test_a_spec_that_extends_a_template_has_its_own_renames_checked_at_the_pair(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(_BODY, encoding="utf-8")
    (tmp_path / "mine.yaml").write_text("vibench: 1\nextends: ./base.yaml\nreference:\n  model: CNN/T\n"
                                        "  state_dict_renames:\n    - ['^fc[', 'head.']\n", encoding="utf-8")
    d = _error(path=tmp_path / "mine.yaml")
    assert d.code == "E210" and d.pos is not None and d.pos.file.endswith("mine.yaml") and _at(d) == (6, 8)


# -- in a template the user extends ---------------------------------------------------------------------


_TEMPLATE = (_BODY + "metadata:\n  classes: \"${1 // (4 - width)}\"\nreference:\n  model: CNN/T\n"
             "  state_dict_renames: \"${[['^fc[.]', 'head.'], ['(' if width > 4 else 'x', 'y']]}\"\n")


def test_an_error_a_template_raises_about_a_setting_moves_to_that_setting(tmp_path: Path) -> None:
    """`with: {width: 4}` divides by zero in the template's metadata; `width: 5` gives a rename `(`: each
    error is raised at the template's entry and moved to the `with:` key that causes it."""
    (tmp_path / "base.yaml").write_text(_TEMPLATE, encoding="utf-8")
    for width, code, line, col in ((4, "E204", 8, 12), (5, "E210", 11, 23)):
        (tmp_path / "mine.yaml").write_text(
            f"vibench: 1\nextends: ./base.yaml\nwith:\n  width: {width}\n", encoding="utf-8")
        d = _error(path=tmp_path / "mine.yaml")
        assert d.code == code and d.pos is not None and d.pos.file.endswith("mine.yaml") and _at(d) == (4, 10)
        assert d.origin is not None and d.origin.file.endswith("base.yaml") and (d.origin.line, d.origin.col) == (
            line, col)
        assert d.notes and d.notes[0].startswith("raised by") and f"base.yaml:{line}:{col}" in d.notes[0]


def test_an_error_no_setting_explains_stays_at_the_templates_entry(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        _BODY + "metadata: {note: \"${nosuch}\"}\nreference:\n  model: CNN/T\n"
        "  state_dict_renames: '${[[\"[\", \"x\"]]}'\n", encoding="utf-8")
    (tmp_path / "mine.yaml").write_text("vibench: 1\nextends: ./base.yaml\nwith:\n  width: 4\n", encoding="utf-8")
    d = _error(path=tmp_path / "mine.yaml")
    assert d.code == "E204" and d.pos is not None and d.pos.file.endswith("base.yaml") and _at(d) == (7, 18)
    (tmp_path / "base.yaml").write_text(
        _BODY + "reference:\n  model: CNN/T\n  state_dict_renames: '${[[\"[\", \"x\"]]}'\n", encoding="utf-8")
    d = _error(path=tmp_path / "mine.yaml")
    assert d.code == "E210" and d.pos is not None and d.pos.file.endswith("base.yaml") and _at(d) == (9, 23)
