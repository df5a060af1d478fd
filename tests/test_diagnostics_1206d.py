"""Diagnostics of the 1206 QA pass: the setting an error of a given value is blamed on, no W105 for a parameter
that a node of an unknown block names, and E303 for a channels-first block given the time axis of an input
whose `layout:` says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import vibench
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import Diagnostic


def _diagnostics(path: Path, **kw: Any) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path), **kw)
    return list(info.value.diagnostics)


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- W105 next to an unknown block -------------------------------------------------------------------

UNKNOWN_BLOCK = """vibench: 1
name: T
params: {p: 4, q: 2}
inputs: {x: {shape: [B, 4, L]}}
nodes:
  c: {block: BLOCK, in: x, out_channels: p, kernel_size: 1}
outputs: {y: c}
"""


@pytest.mark.parametrize(("block", "code"), [("conv1dd", "E110"), ("./notes.md#X", "E205")])
def test_a_parameter_named_by_a_node_of_an_unknown_block_is_not_unused(
        tmp_path: Path, block: str, code: str) -> None:
    """`out_channels: p` of a block nobody knows may read `p` (a parameter that takes no text) or be the
    text "p": W105 "`p` is declared but never used" was a guess, and a wrong one for a typo of conv1d."""
    path = _spec(tmp_path, UNKNOWN_BLOCK.replace("BLOCK", block))
    found = _diagnostics(path)
    assert [d.code for d in found if d.severity == "error"] == [code]
    unused = [d.message for d in found if d.code == "W105"]
    assert unused == ["parameter `q` is declared but never used"]  # no node names `q`: still said


# -- E303 for the time axis a layout names -------------------------------------------------------------


def _e303(tmp_path: Path, shape: str, layout: str, node: str) -> Diagnostic:
    path = _spec(tmp_path, f"vibench: 1\nname: Roles\ninputs: {{x: {{shape: {shape}, layout: {layout}}}}}\n"
                           f"nodes:\n  n: {node}\noutputs: {{y: n}}\n")
    (d,) = [d for d in _diagnostics(path) if d.severity == "error"]
    assert d.code == "E303" and d.hint is not None
    return d


def test_conv1d_given_the_time_axis_of_a_blc_input_says_so(tmp_path: Path) -> None:
    """`[B, L, 4], layout: BLC` into a conv1d: its channels are L, which is time. Giving L a number (the old
    hint) compiles a model that convolves over the 4 channels as time; the fix is the transpose (W107 says so
    when L is a number)."""
    d = _e303(tmp_path, "[B, L, 4]", "BLC", "{block: conv1d, in: x, out_channels: 8, kernel_size: 1}")
    assert d.hint == ("`L` is the time axis of input `x` by its `layout:`, and `conv1d` reads its channels from "
                      "dimension 1: transpose first (`{block: transpose, dim0: 1, dim1: 2}`), or read the input "
                      "`as: BCL`")
    fixed = _spec(tmp_path, "vibench: 1\nname: Roles\ninputs: {x: {shape: [B, L, 4], layout: BLC, as: BCL}}\n"
                            "nodes:\n  n: {block: conv1d, in: x, out_channels: 8, kernel_size: 1}\n"
                            "outputs: {y: n}\n")
    vibench.check(str(fixed))  # the hint's spelling compiles


def test_lstm_given_the_time_axis_of_a_bcl_input_as_features_says_so(tmp_path: Path) -> None:
    d = _e303(tmp_path, "[B, L, 4]", "BCL", "{block: lstm, in: x, hidden_size: 8}")
    assert "`L` is the time axis of input `x`" in d.hint and "`as: BLC`" in d.hint  # type: ignore[operator]


@pytest.mark.parametrize(("shape", "layout", "nodes"), [
    ("[B, 4, L]", "BCL", "  n: {block: conv1d, in: x, out_channels: 8, kernel_size: 1}\n"),  # L: the channels
    ("[B, L, 4]", "BLC",
     "  t: {block: transpose, in: x, dim0: 1, dim1: 2}\n  n: {block: linear, in: t, out_features: 2}\n"),
])
def test_a_free_channel_count_or_a_linear_across_time_keeps_the_binding_hint(
        tmp_path: Path, shape: str, layout: str, nodes: str) -> None:
    """A free channel count must be bound; a linear across time is a design (token mixing), not swapped axes."""
    path = _spec(tmp_path, f"vibench: 1\nname: Roles\ninputs: {{x: {{shape: {shape}, layout: {layout}}}}}\n"
                           f"nodes:\n{nodes}outputs: {{y: n}}\n")
    (d,) = [d for d in _diagnostics(path) if d.severity == "error"]
    assert d.code == "E303" and d.hint is not None and d.hint.startswith("give `L` a number in `inputs:`")


# -- blame: the given value an error says it is about ------------------------------------------------------

SCOPED = "vibench: 1\nextends: isfm/M_01_ISFM\nwith: {backbone: B_08_PatchTST}\n"


def test_a_with_key_is_still_blamed_when_the_error_says_no_given_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same pair without the note (a width that does not divide into heads names no value's origin): the
    first setting, the file's key, as before."""
    spec = _spec(tmp_path, "vibench: 1\nextends: transformer/Autoformer\n"
                           "with: {input_dim: 1, num_classes: 3, d_model: 40}\n")
    assert main([str(spec), "--check", "--set", "n_heads=16"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "without this `d_model` the error goes away, as it does without `--set n_heads`" in err


@pytest.mark.parametrize("with_file", [True, False])
def test_a_slot_parameter_from_the_command_line_is_said_to_be_the_command_lines(
        tmp_path: Path, with_file: bool, capsys: pytest.CaptureFixture[str]) -> None:
    """End to end: the component's E208 carries the value's origin (an `inherit: true` node passes it on), so
    both runs - a user file choosing the backbone, and the template with `--set backbone=` - name `--set`."""
    argv = ([str(_spec(tmp_path, SCOPED))] if with_file else ["isfm/M_01_ISFM", "--set", "backbone=B_08_PatchTST"])
    assert main([*argv, "--set", "num_heads=0", "--check"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "error[E208]: parameter `num_heads` of block `B_08_PatchTST` is out of bounds" in err
    from vibench.compiler.spec_files import LIBRARY_DIR

    lines = open(f"{LIBRARY_DIR}/isfm/M_01_ISFM.yaml", encoding="utf-8").read().splitlines()
    backbone = next(k for k, text in enumerate(lines, 1) if text.startswith("  backbone: {block:"))
    assert f"M_01_ISFM.yaml:{backbone}:3" in err
    assert "note: the value is the one given on the command line: `--set num_heads=...`" in err
    assert "without this `backbone`" not in err


def test_a_slot_parameter_set_in_the_users_with_is_blamed_there(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, "vibench: 1\nextends: isfm/M_01_ISFM\nwith: {backbone: B_08_PatchTST, num_heads: 0}\n")
    assert main([str(spec), "--check"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "error[E208]" in err and f"{spec.name}:3:" in err and "command line" not in err, err
