"""examples/run_demo.py on any spec that passes --check (QA of 12-06): inputs in their declared dtypes, statistics
only for float and complex outputs, `--set` values named as the command line names them, and templates found on
`-I` folders and VIBENCH_SPEC_PATH. Run as a subprocess from the checkout, as test_run_demo.py runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DTYPES = """\
vibench: 1
name: Dtypes
inputs:
  x: {shape: [B, 4], dtype: float64}
  mask: {shape: [B, 4], dtype: bool}
  ids: {shape: [B], dtype: int64}
  z: {shape: [B, 4], dtype: complex64}
nodes:
  fc: {block: linear, in: x, out_features: 3}
  magnitude: {block: abs, in: z}
outputs:
  y: fc
  picked: ids
  kept: mask
  spectrum: z
  size: magnitude
"""

HALF = """\
vibench: 1
name: Half
inputs:
  x: {shape: [B, 1, L], dtype: float16}
nodes:
  conv: {block: conv1d, in: x, out_channels: 2, kernel_size: 3}
outputs:
  y: conv
"""

TINY = """\
vibench: 1
name: Tiny
params:
  width: {type: int, default: 4, ge: 1}
inputs:
  x: {shape: [B, 1, L]}
nodes:
  conv: {block: conv1d, in: x, out_channels: width, kernel_size: 3}
outputs:
  y: conv
"""


def _demo(*args: str, cwd: Path, spec_path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VIBENCH_SPEC_PATH", None)
    if spec_path is not None:
        env["VIBENCH_SPEC_PATH"] = spec_path
    return subprocess.run([sys.executable, str(ROOT / "examples" / "run_demo.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_demo_builds_each_input_in_its_declared_dtype_and_summarises_numeric_outputs(tmp_path: Path) -> None:
    """float64, bool and complex64 inputs got float32 randn (model.py's input check raised ValueError); an int64
    output's mean() raised."""
    (tmp_path / "dtypes.yaml").write_text(DTYPES)
    (tmp_path / "half.yaml").write_text(HALF)
    run = _demo("dtypes.yaml", "--batch", "3", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert "input  x: (3, 4) float64 random" in lines
    assert "input  mask: (3, 4) bool all true" in lines
    assert "input  ids: (3,) int64 system id 1" in lines
    assert "input  z: (3, 4) complex64 random" in lines
    assert "output picked: (3,) int64" in lines and "output kept: (3, 4) bool" in lines  # no statistics
    assert any(line.startswith("output y: (3, 3) float64  mean ") for line in lines), lines
    assert any(line.startswith("output spectrum: (3, 4) complex64  mean |z| ") for line in lines), lines
    assert any(line.startswith("output size: (3, 4) float32  mean ") for line in lines), lines
    run = _demo("half.yaml", "--batch", "2", "--length", "64", cwd=tmp_path)
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    if run.returncode == 0:
        assert "input  x: (2, 1, 64) float16 synthetic bearing vibration (fs = 12 kHz)" in run.stdout
    else:  # a torch without float16 convolutions on the CPU: said so, in one line
        assert run.stderr.startswith("the model compiled, but torch cannot run it on the CPU"), run.stderr


def test_the_demos_set_values_are_named_as_the_command_line_names_them(tmp_path: Path) -> None:
    """The demo's notes said "the value is `width` as given in Python (a keyword of vibench.build...)"."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    run = _demo("tiny.yaml", "--set", "width=0", cwd=tmp_path)
    assert run.returncode == 1
    assert "error[E208]" in run.stderr and "`--set width=...`" in run.stderr, run.stderr
    assert "Python" not in run.stderr


def test_the_demo_finds_templates_on_the_spec_path(tmp_path: Path) -> None:
    """find_spec(SPEC) without a search path: `fam/Tiny` on VIBENCH_SPEC_PATH was "no such spec file". A value the
    template refuses shows that the template was found, without running a model."""
    (tmp_path / "lib" / "fam").mkdir(parents=True)
    (tmp_path / "lib" / "fam" / "Tiny.yaml").write_text(TINY)
    (tmp_path / "work").mkdir()
    for run in (_demo("fam/Tiny", "--set", "width=0", cwd=tmp_path / "work", spec_path=str(tmp_path / "lib")),
                _demo("fam/Tiny", "-I", "../lib", "--set", "width=0", cwd=tmp_path / "work")):
        assert run.returncode == 1 and "error[E208]: parameter `width` of model `Tiny`" in run.stderr, run.stderr
    run = _demo("fam/Tny", "-I", "../lib", cwd=tmp_path / "work")
    assert run.returncode == 2 and "no such spec file: fam/Tny; did you mean `fam/Tiny`?" in run.stderr, run.stderr
