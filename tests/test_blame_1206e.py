"""Where an error caused by a user's value is reported (12-06, fourth pass): a value set in a node's `with:`
mapping at its own key (it was at the mapping, or at its first key), and a value given with the compile of a
template compiled by name, or of a file whose `with:` key it overrides, named in the error's note (it got none:
only errors outside the compiled file were tried)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import Diagnostic

COMMAND_LINE = "the value is the one given on the command line: `--set {}=...`"


def _errors(spec: str | Path, **kw: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec), **kw)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.severity == "error"]


@pytest.mark.parametrize("with_", [
    "    with: {backbone: B_08_PatchTST, num_heads: 7}\n",
    "    with:\n      backbone: B_08_PatchTST\n      num_heads: 7\n",
])
def test_a_value_of_a_nodes_with_mapping_is_blamed_at_its_own_key(tmp_path: Path, with_: str) -> None:
    """PatchTST's heads must divide the width 128: the error is at `num_heads`, not at `{` or `backbone:`."""
    text = ("vibench: 1\nname: Mine\ninputs:\n  x: {shape: [B, 1024, 2]}\nnodes:\n  m:\n    block: isfm/M_01_ISFM\n"
            "    in: x\n" + with_ + "outputs:\n  y: m\n")
    spec = tmp_path / "mine.yaml"
    spec.write_text(text, encoding="utf-8")
    errors = _errors(spec)
    assert errors and {d.code for d in errors} == {"E302"}
    line = next(k for k, row in enumerate(text.splitlines(), 1) if "num_heads" in row)
    col = text.splitlines()[line - 1].index("num_heads") + 1
    assert {(d.pos.file, d.pos.line, d.pos.col) for d in errors if d.pos} == {(str(spec), line, col)}


def test_an_unknown_key_of_a_with_mapping_is_at_that_key(tmp_path: Path) -> None:
    spec = tmp_path / "typo.yaml"
    spec.write_text("vibench: 1\nname: M\ninputs: {x: {shape: [B, 2, 16]}}\noutputs: {y: a}\n"
                    "nodes: {a: {block: conv1d, in: x, out_channels: 8, with: {kernel_size: 3, kernel_sise: 3}}}\n",
                    encoding="utf-8")
    (d,) = _errors(spec)
    # the key, not the `{` at 58
    assert (d.code, d.pos.line if d.pos else None, d.pos.col if d.pos else None) == ("E111", 5, 75)
    assert "kernel_sise" in d.message


def test_a_template_compiled_by_name_says_which_set_value_gives_its_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Autoformer's 8 heads do not divide `--set d_model=30`: the error stays at the template's node and
    names the command line's value (it said nothing of it)."""
    assert main(["transformer/Autoformer", "--check", "--set", "d_model=30"]) == 1
    err = capsys.readouterr().err
    assert "error[E301]" in err and "Autoformer.yaml:52:" in err
    assert COMMAND_LINE.format("d_model") + "; without it the error goes away" in err


def test_from_python_the_note_names_the_keyword() -> None:
    (d,) = _errors("transformer/Autoformer", params={"d_model": 30})
    assert d.code == "E301" and d.pos is not None and d.pos.file.endswith("Autoformer.yaml")
    assert any(n.startswith("the value is `d_model` as given in Python") for n in d.notes), d.notes
    assert not any("--set" in n for n in d.notes)


def test_of_two_given_values_that_each_take_the_error_away_the_note_names_both_in_the_callers_words() -> None:
    errors = _errors("isfm/M_01_ISFM", params={"backbone": "B_08_PatchTST", "num_heads": 7})
    assert errors and all(d.code == "E302" for d in errors)
    note = errors[0].notes[0]
    assert "as given in Python" in note and "as it does without `num_heads=`" in note and "--set" not in note


def test_a_set_value_overriding_the_files_with_key_is_named_there(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The file says `num_heads: 7`, `--set num_heads=6` overrides it: the error (parts of 6) is at the file's
    key, and its note says the value checked is the command line's (it read as if the file's 7 failed)."""
    spec = tmp_path / "isfm.yaml"
    spec.write_text("vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  backbone: B_08_PatchTST\n  num_heads: 7\n",
                    encoding="utf-8")
    assert main([str(spec), "--check", "--set", "num_heads=6"]) == 1
    err = capsys.readouterr().err
    assert "splits into parts of 6" in err and f"{spec.name}:5:14" in err
    assert COMMAND_LINE.format("num_heads") + "; it gives the value checked" in err


def test_an_error_no_given_value_causes_gets_no_note(tmp_path: Path) -> None:
    """A given width that is fine beside a node that fails whatever it is: no trial blames the value."""
    spec = tmp_path / "own.yaml"
    spec.write_text("vibench: 1\nname: Own\nparams: {width: 8}\ninputs: {x: {shape: [B, 2, 16]}}\n"
                    "nodes:\n  a: {block: conv1d, in: x, out_channels: '${width}', kernel_size: 3}\n"
                    "  b: {block: linear, in: a, in_features: 5, out_features: 4}\noutputs: {y: b}\n",
                    encoding="utf-8")
    (d,) = _errors(spec, params={"width": 4})
    assert d.code.startswith("E3") and not any("given in Python" in n for n in d.notes), d


def test_an_error_the_given_value_causes_in_the_users_own_file_is_named(tmp_path: Path) -> None:
    """Groups of 8 need a multiple of 8 channels: `width=4` given from Python breaks the second conv."""
    spec = tmp_path / "own.yaml"
    spec.write_text("vibench: 1\nname: Own\nparams: {width: 8}\ninputs: {x: {shape: [B, 2, 16]}}\n"
                    "nodes:\n  a: {block: conv1d, in: x, out_channels: '${width}', kernel_size: 3}\n"
                    "  b: {block: conv1d, in: a, out_channels: 8, kernel_size: 3, groups: 8}\noutputs: {y: b}\n",
                    encoding="utf-8")
    vibench.check(str(spec))
    (d,) = _errors(spec, params={"width": 4})
    assert d.node == "b" and any(n.startswith("the value is `width` as given in Python") for n in d.notes), d
