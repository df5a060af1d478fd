"""Spec references against the QA pass of 1206e (vibench/compiler/resolve.py, slots.py).

* A reference no file can be named by — a NUL character (``extends: "a\\0b"``, ``block: "./a\\0b#X"``) or a
  lone surrogate given from Python — is E205 at the reference: the operating system's functions raised a bare
  ValueError (``vibench-compile`` said "internal error", exit 3). A slot folder so written is E214 saying why.
* A slot folder that is a symbolic link leading outside the spec search path is never listed: its E214 named
  the files there (`expected one of `plain`, `secret``, "did you mean `secret`?"). It is refused as a
  ``block:`` reference through such a link is (`not the spec's to learn`), and so is a component file in a
  slot folder that is such a link.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import vibench
from vibench.compiler import cli
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.resolve import Library, slot_components

NUL = "\0"
LONE = "\ud800"  # a lone surrogate: no bytes in the file system's encoding (only Python can give one)

MODEL = ("vibench: 1\nname: M\ninputs: {{x: {{shape: [B, 4]}}}}\nnodes: {{a: {{block: {block}, in: x}}}}\n"
         "outputs: {{y: a}}\n")


def errors(path: Path, **kw: object) -> list:
    with pytest.raises(SpecError) as err:
        vibench.check(str(path), **kw)  # type: ignore[arg-type]
    return err.value.diagnostics


# --------------------------------------------------------------------------------------------
# 1. references no file can be named by
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "line", "col"), [
    ('vibench: 1\nextends: "a\\0b"\n', 2, 10),
    ('vibench: 1\nextends: "./a\\0b.yaml"\n', 2, 10),
    (MODEL.format(block='"./a\\0b#X"'), 4, 20),
    (MODEL.format(block='"cnn/Res\\0Net1D"'), 4, 20),
], ids=["extends", "extends-file", "block-file-and-block", "block-library-name"])
def test_a_nul_in_a_reference_is_e205_at_the_reference(tmp_path: Path, text: str, line: int, col: int) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    (d,) = errors(path)
    assert (d.code, d.pos.line, d.pos.col) == ("E205", line, col)
    assert "NUL character" in d.message and "which no file name can hold" in d.message


def test_a_nul_reference_from_the_command_line_is_a_spec_error_not_an_internal_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ext_nul.yaml").write_text('vibench: 1\nextends: "a\\0b"\n', encoding="utf-8")
    (tmp_path / "use_nul.yaml").write_text(MODEL.format(block='"./a\\0b#X"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name, where in (("ext_nul.yaml", "ext_nul.yaml:2:10"), ("use_nul.yaml", "use_nul.yaml:4:20")):
        rc = cli.main([name, "--check"])
        out, err = capsys.readouterr()
        assert rc == cli.EXIT_SPEC, out + err
        assert "error[E205]" in out + err and where in out + err and "internal error" not in out + err


@pytest.mark.parametrize("value", ["./a" + LONE + "b", "./x" + NUL + "y", "cnn/Res" + NUL + "Net1D"])
def test_a_reference_built_from_a_value_given_in_python_is_e205(tmp_path: Path, value: str) -> None:
    """`block: "${comp}"` with comp given as params=: the reference is the value, checked as any reference."""
    path = tmp_path / "spec.yaml"
    path.write_text("vibench: 1\nname: P\nparams:\n  comp: {type: str, default: cnn/ResNet1D}\n"
                    "inputs: {x: {shape: [B, 1, L]}}\nnodes: {a: {block: \"${comp}\", in: x}}\noutputs: {y: a}\n",
                    encoding="utf-8")
    (d,) = errors(path, params={"comp": value})
    assert d.code == "E205" and "which no file name can hold" in d.message
    assert ("lone surrogate" in d.message) == (LONE in value)


def test_a_byte_that_is_no_utf8_is_a_name_like_any_other() -> None:
    """A surrogate escape (a file name's byte that is not UTF-8, U+DC80...U+DCFF) has bytes: a name, not refused."""
    from vibench.compiler.spec_paths import unnamable

    assert unnamable("./caf\udce9") is None and unnamable("cnn/ResNet1D") is None
    assert unnamable("a" + NUL) is not None and unnamable("a" + LONE) is not None


def test_a_very_long_reference_is_an_unknown_spec(tmp_path: Path) -> None:
    """ENAMETOOLONG, from a name or a path too long: the file is not there (no internal error)."""
    for ref in ("./" + "a" * 5000, "./" + "/".join(["a" * 250] * 30)):
        path = tmp_path / "spec.yaml"
        path.write_text(f'vibench: 1\nextends: "{ref}"\n', encoding="utf-8")
        (d,) = errors(path)
        assert d.code == "E205" and d.message.startswith("unknown spec")


def test_a_slot_folder_with_a_nul_is_e210_at_its_declaration(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text('vibench: 1\nname: M\nparams: {c: {type: str, default: X, slot: "a\\0b"}}\n'
                    'inputs: {x: {shape: [B, 4]}}\nnodes: {a: {block: "${c}", in: x}}\noutputs: {y: a}\n',
                    encoding="utf-8")
    (d,) = errors(path)
    assert d.code == "E210" and d.pos is not None and d.pos.line == 3 and "NUL character" in (d.found or "")
    assert slot_components("a" + NUL + "b", Library()) == []


# --------------------------------------------------------------------------------------------
# 2. a slot folder that leads outside the search path
# --------------------------------------------------------------------------------------------


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """/outside/{plain,secret}.yaml, and project/ whose slot folder `linkout` is a link to it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("plain", "secret"):
        (outside / f"{name}.yaml").write_text(MODEL.format(block="relu"), encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "linkout").symlink_to(outside, target_is_directory=True)
    (project / "s.yaml").write_text("vibench: 1\nname: S\nparams:\n  comp: {type: str, default: C1, slot: linkout}\n"
                                    "inputs: {x: {shape: [B, 4]}}\nnodes: {a: {block: \"linkout/${comp}\", in: x}}\n"
                                    "outputs: {y: a}\n", encoding="utf-8")
    return project


def test_a_slot_folder_linked_outside_lists_nothing_of_it(linked: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(linked)
    rc = cli.main(["s.yaml", "--check", "--set", "comp=secrt"])
    out, err = capsys.readouterr()
    text = out + err
    assert rc == cli.EXIT_SPEC and "error[E214]" in text
    assert "secret" not in text and "plain" not in text, text  # nothing of what lies outside
    assert str(linked.parent / "outside") not in text  # nor where the link leads
    assert "linkout/ (a symbolic link leads it outside the spec search path" in text
    assert "hint: add the folder a `linkout/` link leads to with --spec-path" in text  # not "add linkout/x.yaml"


def test_python_and_the_resolver_refuse_the_linked_slot_folder_too(linked: Path) -> None:
    (d,) = errors(linked / "s.yaml", params={"comp": "secret"})  # even a name that is there
    assert d.code == "E214" and "secret" not in (d.expected or "") and "secret" not in (d.hint or "").replace(
        "linkout/secret.yaml", "")
    assert slot_components("linkout", Library(), str(linked)) == []


def test_a_slot_folder_linked_outside_is_read_once_its_target_is_on_the_search_path(linked: Path) -> None:
    """--spec-path names the folder the link leads to: then it lies inside, as for a `block:` reference."""
    outside = str(linked.parent / "outside")
    assert slot_components("linkout", Library([outside]), str(linked)) == ["plain", "secret"]
    assert vibench.check(str(linked / "s.yaml"), params={"comp": "plain"}, search_path=[outside]) is not None


def test_a_component_file_linked_outside_is_not_offered(tmp_path: Path) -> None:
    """A slot folder inside whose file is a link to a spec outside: `block:` refuses it (E205), so the slot does
    not offer it; a link to a spec inside the search path is offered as before."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(MODEL.format(block="relu"), encoding="utf-8")
    project = tmp_path / "project"
    (project / "comps").mkdir(parents=True)
    (project / "comps" / "Own.yaml").write_text(MODEL.format(block="relu"), encoding="utf-8")
    (project / "comps" / "Alias.yaml").symlink_to(project / "comps" / "Own.yaml")
    (project / "comps" / "Leak.yaml").symlink_to(outside / "secret.yaml")
    assert slot_components("comps", Library(), str(project)) == ["Alias", "Own"]


def test_a_slot_folder_of_a_link_inside_the_search_path_is_listed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "A.yaml").write_text(MODEL.format(block="relu"), encoding="utf-8")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert slot_components("alias", Library(), str(tmp_path)) == ["A"]
    assert os.path.islink(tmp_path / "alias")
