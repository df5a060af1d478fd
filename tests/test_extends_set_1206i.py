"""Values given with the compile that a spec's `with:` would read (QA 12-06i).

mine.yaml declares `classes` and extends cnn/ResNet1D `with: {num_classes: classes}`. `--set num_classes=5
--set classes=6` built 5 logits, recorded `classes: 6` in model.py and said nothing: the given `num_classes`
replaces the `with:` value, the only reader of `classes`. That is E201 (:func:`unread_given`), naming both.
Each alone stays as documented (docs/language.md): `classes` reaches `num_classes` through `with:`, and
`num_classes` replaces the `with:` value. And W101 for a `--set` key the reference ignores says it came from
--set (it stood at the library file's `params:` line as if the file wrote it).

:func:`unread_given` and the words of :func:`ignored_key_warning` need `resolve` to call them (see the report of
QA 12-06i); the end-to-end tests say so until it does."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import EXIT_OK, main
from vibench.compiler.load import load_text
from vibench.compiler.resolve import Library, resolve_file
from vibench.compiler.resolve_extends import ignored_key_warning, unread_given
from vibench.compiler.validate import validate

MINE = """\
vibench: 1
name: Mine
params:
  classes: {type: int, default: 4, ge: 1}
extends: cnn/ResNet1D
with: {num_classes: %s, layers: [1, 1, 1, 1], initial_channels: 8}
"""


def root_of(text: str, in_python: bool = False):
    doc = load_text(text, "mine.yaml", None)
    library = Library()
    library.in_python = in_python
    root, _ = resolve_file(doc, validate(doc), library)
    return root, library


def test_a_given_value_whose_only_reader_is_replaced_is_e201() -> None:
    root, words = root_of(MINE % "classes")
    (d,) = unread_given(root, {"num_classes": 5, "classes": 6}, words)
    assert d.code == "E201" and (d.pos.line, d.pos.col) == (6, 21)
    assert d.message == ("`classes` (from --set) has no effect: `num_classes` (from --set) replaces "
                         "`with: {num_classes: classes}`, the only value that reads it")
    assert d.notes == ("the value is the one given on the command line: `--set classes=...`",)
    assert "`--set classes` alone" in d.hint and "`--set num_classes` alone" in d.hint
    root, words = root_of(MINE % "'${classes + 1}'", in_python=True)
    (d,) = unread_given(root, ["num_classes", "classes"], words)
    assert "(given in Python)" in d.message and "`with: {num_classes: ${classes + 1}}`" in d.message
    assert "`classes=` alone" in d.hint


@pytest.mark.parametrize("given", [{"classes"}, {"num_classes"}, {"layers", "classes"}])
def test_one_of_them_alone_is_fine(given: set[str]) -> None:
    root, words = root_of(MINE % "classes")
    assert unread_given(root, given, words) == []


def test_a_value_read_elsewhere_too_is_fine() -> None:
    root, words = root_of(MINE.replace("initial_channels: 8", "initial_channels: classes") % "classes")
    assert unread_given(root, {"num_classes", "classes"}, words) == []


def test_a_declared_default_that_reads_another_parameter_is_a_fallback() -> None:
    # A template's own default reading another parameter is a key fallback (B_09_FNO's `modes: {default:
    # num_modes}`, as PHM-Vibench takes `modes` when a config gives both): both given is no error.
    text = ("vibench: 1\nname: Own\nparams:\n  width: 8\n  hidden: '${width * 2}'\ninputs: {x: {shape: [B, 4]}}\n"
            "nodes:\n  fc: {block: linear, in: x, out_features: hidden}\noutputs: {y: fc}\n")
    root, words = root_of(text)
    assert unread_given(root, {"hidden", "width"}, words) == []


def test_the_ignored_key_warning_says_where_a_given_value_came_from() -> None:
    root, words = root_of("vibench: 1\nextends: transformer/Informer\n")
    reason = dict(root.reference.ignored_keys)["num_heads"]
    assert "(from --set)" not in ignored_key_warning("num_heads", root, reason, None).message
    assert ignored_key_warning("num_heads", root, reason, None, words).message.startswith("`num_heads` (from --set) ")
    words.in_python = True
    assert "`num_heads` (given in Python) does not change" in ignored_key_warning("num_heads", root, reason, None,
                                                                              words).message


# -- end to end, as documented ---------------------------------------------------------------------------------


def test_each_alone_still_sets_the_class_count(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(MINE % "classes", encoding="utf-8")
    assert str(vibench.check(str(path), params={"classes": 6}).root.outputs[0][2]) == "[B, 6]"
    assert str(vibench.check(str(path), params={"num_classes": 5}).root.outputs[0][2]) == "[B, 5]"


def test_both_given_is_refused_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(MINE % "classes", encoding="utf-8")
    assert main([str(path), "-o", str(tmp_path / "out.py"), "--set", "num_classes=5", "--set", "classes=6"]) \
        != EXIT_OK
    assert "error[E201]: `classes` (from --set) has no effect" in capsys.readouterr().err
    assert not (tmp_path / "out.py").exists()
    with pytest.raises(vibench.SpecError, match="`classes` \\(given in Python\\) has no effect"):
        vibench.build(str(path), num_classes=5, classes=6)


def test_w101_of_a_set_key_says_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transformer/Informer", "--check", "--set", "num_heads=4"]) == EXIT_OK
    assert "warning[W101]: `num_heads` (from --set) does not change the outputs" in capsys.readouterr().err
