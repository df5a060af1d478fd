"""QA of 12-06 (names and outputs): run_demo.py's `-o` of any suffix, `-o -` and `-o ""`; the long-key note past a
`#` that starts no comment; a `for_each` key `l`, `O` or `I` refused with the reason every other name gets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import vibench
from vibench.compiler.load_refusals import _long_key
from vibench.compiler.outputs import OutputError, output_target

ROOT = Path(__file__).resolve().parent.parent

TINY = """\
vibench: 1
name: Tiny
inputs:
  x: {shape: [B, 1, L]}
nodes:
  conv: {block: conv1d, in: x, out_channels: 2, kernel_size: 3}
outputs:
  y: conv
"""


def _demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("VIBENCH_SPEC_PATH", None)
    return subprocess.run([sys.executable, str(ROOT / "examples" / "run_demo.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name", ["m.txt", "mdl"])
def test_the_demo_imports_the_file_it_wrote_whatever_its_suffix(tmp_path: Path, name: str) -> None:
    """`-o m.txt` wrote the file, then spec_from_file_location (no loader for the suffix) gave None: an assert."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = _demo("tiny.yaml", "-o", name, "--batch", "2", "--length", "32", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert f"model Tiny: 8 parameters (imported from {tmp_path / name})" in run.stdout
    assert "output y: (2, 2, 30) float32" in run.stdout
    assert "class Tiny(nn.Module)" in (tmp_path / name).read_text()


def test_the_demo_refuses_dash_before_compiling(tmp_path: Path) -> None:
    """`-o -` wrote a file named `-`, whose Regenerate header (`-o -`) means standard output."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = _demo("tiny.yaml", "-o", "-", cwd=tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "-o -: the demo writes model.py to a file and imports it; give a file name" in run.stderr
    assert not (tmp_path / "-").exists() and run.stdout == ""


def test_the_demo_offers_no_dash_for_an_empty_path(tmp_path: Path) -> None:
    """`-o ""` answered "or `-o -` for standard output", a form the demo cannot take."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = _demo("tiny.yaml", "-o", "", cwd=tmp_path)
    assert run.returncode == 2 and "-o names no file (an empty path); give a file name" in run.stderr
    assert "`-o -`" not in run.stderr


def test_output_target_offers_streams_unless_told_not_to(tmp_path: Path) -> None:
    """vibench-compile's hints keep `-o -` (and --check for a non-regular file); a caller without them gets none."""
    with pytest.raises(OutputError, match="or `-o -` for standard output"):
        output_target("", "-o")
    with pytest.raises(OutputError) as err:
        output_target("", "-o", streams=False)
    assert str(err.value) == "-o names no file (an empty path); give a file name"
    with pytest.raises(OutputError, match="use --check"):
        output_target(str(tmp_path), "-o")
    with pytest.raises(OutputError) as err:
        output_target(str(tmp_path), "-o", streams=False)
    assert str(err.value).endswith("is not a regular file; refusing to replace it")
    with pytest.raises(OutputError) as err:
        output_target("", "the weights file")
    assert str(err.value) == "the weights file names no file (an empty path)"


LONG = "k" * 1100
NOTE = "the key before it is longer than 1,024 characters"


def _notes(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(vibench.SpecError) as err:
        vibench.compile_spec(str(path))
    return [n for d in err.value.diagnostics for n in d.notes]


@pytest.mark.parametrize("before", ['a: "#"', "a: '#'", "a#b: 1", 'a: "x # y"'])
def test_a_hash_that_starts_no_comment_keeps_the_long_key_note(tmp_path: Path, before: str) -> None:
    """`{a: "#", k...k: 1}` lost the note: any `#` on the line stopped the search."""
    text = f"vibench: 1\nname: M\nmetadata: {{{before}, {LONG}: 1}}\ninputs: {{x: {{shape: [B, 4]}}}}\n"
    assert any(NOTE in n for n in _notes(text, tmp_path))


def test_a_comment_before_the_index_still_gives_no_guess() -> None:
    """After a `#` that starts a comment (at the line's start or after a blank) what the index ends is not known."""
    for line in (f"# {LONG}", f"a: 1 # {LONG}", f"x: {{a: 1, #{LONG}"):
        assert not _long_key(line + ": 1", len(line)), line
    for line in (f"x: {{a: '#', {LONG}", f'x: {{a: "b # c", {LONG}', f"{LONG}#"):
        assert _long_key(line + ": 1", len(line)), line


@pytest.mark.parametrize(("key", "reads"), [("l", "the digit 1 or a capital I"), ("O", "the digit 0"),
                                            ("I", "the digit 1 or a lowercase l")])
def test_a_for_each_key_that_reads_like_a_digit_says_why(tmp_path: Path, key: str, reads: str) -> None:
    """E106 said "ASCII identifiers (not reserved names)" without the reason a node `l` is given."""
    text = ("vibench: 1\nname: FE\nparams:\n  heads: {type: \"dict[str, int]\", default: {" + key + ": 3, b: 4}}\n"
            "inputs: {x: {shape: [B, 8]}}\n"
            "nodes:\n  h: {block: linear, in: x, for_each: \"${heads}\", out_features: \"${item}\"}\n"
            "outputs: {y: {from: h.*}}\n")
    path = tmp_path / "fe.yaml"
    path.write_text(text)
    with pytest.raises(vibench.SpecError) as err:
        vibench.compile_spec(str(path))
    (diag,) = [d for d in err.value.diagnostics if d.severity == "error"]
    assert diag.code == "E106" and diag.node == "h" and f"a node named {key!r}" in diag.message
    assert diag.found is not None and f"`{key}` reads like {reads}" in diag.found and "(E741)" in diag.found
    assert diag.pos is not None and diag.pos.line == 7
