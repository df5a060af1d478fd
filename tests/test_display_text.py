"""Text the command prints about names and docs a spec or a folder holds: one line per entry, aligned in
terminal columns, carets under their character, nothing lost or clipped twice; and diagnostics that say
what the user can do (defects a QA helper found).

- `--list -I DIR` writes a line break in a file or folder name as `\\n` (a file could forge listing lines);
- `--summary` and `--list` align by display width (CJK takes two columns; a tab is written `\\t`);
- the caret stands under its token after zero-width characters and Thai vowel marks;
- `--list NAME` shows a doc's text after a \\r or U+2028;
- a long check message is clipped once, with the right count;
- `--graph --depth N` labels a nested frame with the composite's path (`layer2.0.downsample`);
- an unused node (E403) is reported with the other nodes' errors, not instead of them;
- a spec reference to a file whose name holds `#` is explained, not answered with itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

import vibench
from tests.helpers import ROOT
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import display_width

INNER = ("vibench: 1\nname: Inner\ninputs:\n  x: {shape: [B, C, L]}\nnodes:\n  r: {block: relu, in: x}\n"
         "outputs: {y: r}\n")


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# -- --list -I DIR: names on one line --------------------------------------------------------------------------


def test_list_writes_line_breaks_in_names_folders_and_shadowing_folders(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "lib\nFORGED-FOLDER"
    (folder / "cnn").mkdir(parents=True)
    (folder / "evil\nFAKE-ENTRY  pretend template.yaml").write_text(INNER, encoding="utf-8")
    shutil.copy(os.path.join(ROOT, "vibench", "specs", "cnn", "ResNet1D.yaml"), folder / "cnn" / "ResNet1D.yaml")
    rc, out, err = _run(["--list", "-I", str(folder)], capsys)
    assert rc == 0, err
    lines = out.splitlines()
    assert not [line for line in lines if line.startswith(("FAKE-ENTRY", "FORGED-FOLDER"))], out
    assert "evil\\nFAKE-ENTRY  pretend template  (x [B, C, L] -> y [B, C, L])" in lines
    assert f"in {tmp_path}/lib\\nFORGED-FOLDER (spec path):" in lines
    hidden = next(line for line in lines if line.startswith("cnn/ResNet1D ") and "hidden" in line)
    assert hidden.endswith(f"[hidden by the one in {tmp_path}/lib\\nFORGED-FOLDER]")


# -- alignment in terminal columns ------------------------------------------------------------------------------


@pytest.fixture
def wide_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "漢字ブロック.yaml").write_text(INNER, encoding="utf-8")
    (tmp_path / "fam" / "tab\tname.yaml").write_text(INNER, encoding="utf-8")
    (tmp_path / "align.yaml").write_text(
        'vibench: 1\nname: Align\ninputs:\n  x: {shape: [B, 8, L]}\nnodes:\n'
        '  a: {block: "./fam/漢字ブロック.yaml", in: x}\n  b: {block: "./fam/tab\\tname.yaml", in: a}\n'
        "  c: {block: relu, in: b}\noutputs: {y: c}\n", encoding="utf-8")
    return tmp_path


def test_summary_columns_align_in_terminal_columns(wide_names: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(["align.yaml", "--check", "--summary"], capsys)
    assert rc == 0, err
    rows = [line for line in out.splitlines() if "[B, 8, L]" in line and line[:1] in "abc"]
    assert len(rows) == 3 and "\t" not in out and "tab\\tname" in rows[1]
    assert len({display_width(row[:row.index("[B, 8, L]")]) for row in rows}) == 1, rows
    assert len({display_width(row) for row in rows}) == 1, rows  # the numbers end in one column too


def test_list_columns_align_in_terminal_columns(wide_names: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(["--list", "-I", "fam"], capsys)
    assert rc == 0, err
    rows = [line for line in out.splitlines() if "(x [B, C, L]" in line and not line.startswith(" ")][-2:]
    assert {row.split("  ")[0] for row in rows} == {"tab\\tname", "漢字ブロック"}
    assert len({display_width(row[:row.index("(x [B, C, L]")]) for row in rows}) == 1, rows


# -- carets --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("doc", "columns"), [("ที่นี่", 2), ("a\u200bb\u200bc", 3), ("ok\ufe0f!", 3), ("नमस्ते", 4),
                                             ("卷积层", 6), ("e\u0301te\u0301", 3)])
def test_the_caret_stands_under_its_token_after_marks_and_zero_width_characters(
        tmp_path: Path, doc: str, columns: int, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "caret.yaml"
    spec.write_text(f'vibench: 1\nname: Caret\ninputs:\n  x: {{shape: [B, 8, L]}}\nnodes:\n'
                    f'  a: {{doc: "{doc}", block: rleu, in: x}}\noutputs: {{y: a}}\n', encoding="utf-8")
    rc, _, err = _run([str(spec), "--check"], capsys)
    assert rc == 1
    lines = err.splitlines()
    source = next(k for k, line in enumerate(lines) if line.startswith("6 | "))
    caret = lines[source + 1]
    # `6 |   a: {doc: "`, the doc's columns (a mark or a zero-width character takes none), `", block: `
    assert caret.index("^") == len('6 |   a: {doc: "') + columns + len('", block: ')
    assert caret.endswith("^^^^") and caret.count("^") == 4


def test_display_width_counts_marks_and_format_characters_as_none() -> None:
    assert display_width("ที่") == 1 and display_width("\u200b\ufe0f\u20dd") == 0
    assert display_width("卷积") == 4 and display_width("ｘ") == 2  # wide and full-width: two
    assert display_width("\u202e\x1b") == 2  # drawn as symbols by terminal_safe: one column each


# -- --list NAME: the whole doc ----------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\\u2028", "\\r", "\\x85"])
def test_list_shows_the_doc_after_any_line_break(tmp_path: Path, separator: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Lost.yaml").write_text(
        f'vibench: 1\nname: Lost\ndoc: "Summary line.{separator}This sentence is shown too.\\nThird line."\n'
        "inputs:\n  x: {shape: [B, 8, L]}\nnodes:\n  r: {block: relu, in: x}\noutputs: {y: r}\n", encoding="utf-8")
    rc, out, err = _run(["--list", "Lost", "-I", str(tmp_path)], capsys)
    assert rc == 0, err
    assert out.startswith("Lost: Summary line.\n\n  This sentence is shown too.\n  Third line.\n")


# -- a check's message, clipped once ---------------------------------------------------------------------------


def test_a_long_check_message_is_clipped_once_with_the_right_count(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "clip.yaml"
    spec.write_text("vibench: 1\nname: ClipTwice\nparams:\n  w: 4\nchecks:\n"
                    "  - {that: \"${w > 100}\", message: \"first line\\rsecond part ${'x' * 1000}\", at: w}\n"
                    "inputs:\n  x: {shape: [B, 8, L]}\nnodes:\n"
                    "  c: {block: conv1d, in: x, out_channels: w, kernel_size: 1}\noutputs: {y: c}\n", encoding="utf-8")
    rc, out, _ = _run([str(spec), "--check", "--format", "json"], capsys)
    assert rc == 1
    message = json.loads(out)["diagnostics"][0]["message"]
    whole = "first line\\rsecond part " + "x" * 1000  # as one line: the \r written `\r`
    assert message == whole[:500] + f"... ({len(whole) - 500:,} more characters)"


# -- frames of nested composites ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".dot", ".mmd", ".html"])
def test_nested_frames_are_labelled_with_the_composites_path(tmp_path: Path, suffix: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    picture = tmp_path / f"r{suffix}"
    rc, _, err = _run([os.path.join(ROOT, "examples", "resnet18_1d.yaml"), "--graph", str(picture), "--depth", "2"],
                      capsys)
    assert rc == 0, err
    text = picture.read_text(encoding="utf-8")
    if suffix == ".dot":
        assert 'label="layer2.0.downsample\\nShortcut"' in text and 'label="layer2.0\\nBasicBlock"' in text
        assert 'label="downsample\\nShortcut"' not in text
    elif suffix == ".mmd":
        assert re.search(r'subgraph n\d+ \["layer2\.0\.downsample: Shortcut"\]', text)
        assert '["downsample: Shortcut"]' not in text
    else:
        names = set(re.findall(r'"name": "([^"]*)"', text))
        assert {"layer2", "layer2.0", "layer2.0.downsample", "layer2.1"} <= names and "downsample" not in names


# -- an unused node and the other errors -------------------------------------------------------------------------

PASSES = """\
vibench: 1
name: Passes
inputs:
  x: {shape: [B, 8, L]}
nodes:
  dead: {block: relu, in: x}
  c: {block: conv1d, in: x, out_channels: 4, kernel_size: 3, bogus: 1}
  d: {block: rleu, in: c}
outputs: {y: d}
"""


def _codes(text: str) -> list[str]:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    return err.value.codes


def test_an_unused_node_is_reported_with_the_errors_of_the_others() -> None:
    assert _codes(PASSES) == ["E403", "E111", "E110"]
    assert _codes(PASSES.replace("  dead: {block: relu, in: x}\n", "")) == ["E111", "E110"]
    # the unused node is checked too, and alone it is E403 alone
    assert _codes(PASSES.replace("dead: {block: relu", "dead: {block: reul")) == ["E403", "E110", "E111", "E110"]
    assert _codes(PASSES.replace(", bogus: 1", "").replace("rleu", "relu")) == ["E403"]


def test_an_unused_node_in_a_composite_is_reported_with_the_others() -> None:
    spec = """\
vibench: 1
name: Nested
blocks:
  Body:
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      spare: {block: sigmoid, in: x}
      r: {block: relu, in: x, slope: 2}
    outputs: {y: r}
inputs:
  x: {shape: [B, 8, L]}
nodes:
  b: {block: Body, in: x, repeat: 2}
  p: {block: max_pool1d, in: x, kernel_size: 0}
outputs: {y: b, z: p}
"""
    codes = _codes(spec)  # once, though the body is used twice
    assert codes == ["E403", "E111", "E104"], codes


# -- `#` in a file name ----------------------------------------------------------------------------------------------


def test_a_reference_to_a_file_named_with_a_hash_is_explained(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "part#1.yaml").write_text(INNER, encoding="utf-8")
    (tmp_path / "part2.yaml").write_text(INNER, encoding="utf-8")
    spec = tmp_path / "hash.yaml"
    spec.write_text('vibench: 1\nname: Hash\ninputs:\n  x: {shape: [B, 8, L]}\n'
                    'nodes:\n  a: {block: "./part#1.yaml", in: x}\noutputs: {y: a}\n', encoding="utf-8")
    rc, _, err = _run([str(spec), "--check"], capsys)
    assert rc == 1 and "error[E205]: unknown spec `./part`" in err
    assert "did you mean `./part#1`" not in err
    assert "`#` separates a spec file from a block in it" in err and "rename it without `#`" in err
    # a near name with `#` is never the suggestion for another reference
    spec.write_text(spec.read_text(encoding="utf-8").replace("./part#1.yaml", "./prt"), encoding="utf-8")
    rc, _, err = _run([str(spec), "--check"], capsys)
    assert rc == 1 and "did you mean `./part2`?" in err and "#" not in err.split("hint:", 1)[1]
