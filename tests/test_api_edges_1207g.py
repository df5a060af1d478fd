"""Edge arguments of the spec API and of `vibench.testing`'s spec sources.

What was wrong, and what is right now:
- `check('')` (and `compile_spec`, `build`) said "spec `` is a folder, not a regular file" and named vibench's
  install folder (the empty name joined to the library is the library itself); `load_spec('')` said "cannot read
  spec file ... --> :1:1". An empty spec is the `ValueError` "no spec given", as `vibench-compile ''`'s usage error.
- `load_spec('a\\x00b')` was Python's bare "embedded null byte"; `load_spec('a' * 100_000)` put the whole name in
  its `-->` line (100,656 characters); a dangling link or a link loop said "cannot read spec file: No such file
  or directory". Now load_spec says what `check` says: E004, the name shown by its first 200 characters, and
  the link's own words (`is a dangling symbolic link (...)`).
- `testing.mutated_specs(sources=[("a", 3)])` said the pair was "not a tuple of 2 items" (it is one); now it says
  which item is of the wrong kind, and a `pathlib.Path` path is taken, as the API takes one.
- `testing.shipped_specs(3)` raised posixpath's TypeError and `shipped_specs("/nope")` gave the library's specs
  alone; now a TypeError and a ValueError name `root`.
"""

from __future__ import annotations

import os
import pathlib

import pytest

import vibench
from vibench import SpecError, testing

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "resnet18_1d.yaml"


@pytest.mark.parametrize("function", [vibench.check, vibench.compile_spec, vibench.build, vibench.load_spec])
def test_an_empty_spec_name_is_no_spec_given(function) -> None:
    with pytest.raises(ValueError, match="^no spec given: spec is ''") as info:
        function("")
    assert "specs" not in str(info.value)  # no install folder named


def test_a_spec_name_no_file_can_have_is_e004_for_load_spec_as_for_check() -> None:
    for spec in ("a\x00b", "a" * 100_000):
        with pytest.raises(SpecError) as info:
            vibench.load_spec(spec)
        (diag,) = info.value.diagnostics
        assert diag.code == "E004" and diag.message == "no such spec file" and diag.pos is None
        assert len(info.value.render()) < 1000, len(info.value.render())
        with pytest.raises(SpecError) as checked:
            vibench.check(spec)
        assert checked.value.diagnostics[0].found == diag.found  # shown as check shows it
    with pytest.raises(SpecError, match="no such spec file"):
        vibench.load_spec("a\x00b", text="vibench: 1\nextends: cnn/ResNet1D\n")  # the name of a text, with a NUL


def test_load_spec_says_a_link_leads_to_no_file_in_checks_words(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    os.symlink(tmp_path / "nowhere.yaml", "dangling.yaml")
    os.symlink("loop.yaml", "loop.yaml")
    for name, words in (("dangling.yaml", "is a dangling symbolic link (to "), ("loop.yaml", "leads round in a loop")):
        messages = []
        for function in (vibench.load_spec, vibench.check):
            with pytest.raises(SpecError) as info:
                function(name)
            messages.append(info.value.diagnostics[0].message)
        assert messages[0] == messages[1] and words in messages[0], messages


def test_load_spec_still_reads_a_file_and_a_text_named_by_a_missing_path() -> None:
    assert vibench.load_spec(str(EXAMPLE)).name
    assert vibench.load_spec("nowhere/x.yaml", text="vibench: 1\nextends: cnn/ResNet1D\n").extends == "cnn/ResNet1D"


def test_a_sources_pair_of_the_wrong_kinds_names_the_item() -> None:
    with pytest.raises(TypeError, match=r"^sources\[0\]: the path is a str or os.PathLike, not int \(3\)$"):
        testing.mutated_specs(sources=[("a", 3)])
    with pytest.raises(TypeError, match=r"^sources\[0\]: the shown name is a str, not int"):
        testing.mutated_specs(sources=[(1, str(EXAMPLE))])
    with pytest.raises(TypeError, match=r"not a tuple of 3 items"):
        testing.mutated_specs(sources=[("a", "b", "c")])
    testing.mutated_specs(sources=[("resnet18_1d.yaml", EXAMPLE)])  # a Path, as the API takes one
    with pytest.raises(ValueError, match="names no file"):
        testing.mutated_specs(sources=[("x", ROOT / "nowhere.yaml")])


def test_shipped_specs_checks_its_root(tmp_path) -> None:
    with pytest.raises(TypeError, match="^root is a checkout's folder .*, not int$"):
        testing.shipped_specs(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not exist"):
        testing.shipped_specs(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="is not a folder"):
        testing.shipped_specs(EXAMPLE)
    checkout = tmp_path / "run[1]"  # a folder name glob would read as a pattern
    (checkout / "examples").mkdir(parents=True)
    (checkout / "examples" / "m.yaml").write_text(EXAMPLE.read_text())
    found = dict(testing.shipped_specs(checkout))
    assert found["examples/m.yaml"] == str(checkout / "examples" / "m.yaml")
    assert dict(testing.shipped_specs()).keys() > {"examples/resnet18_1d.yaml"}
