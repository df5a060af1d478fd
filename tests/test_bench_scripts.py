"""The command lines of examples/run_demo.py and the benchmarks: bad arguments are usage errors (exit 2,
no traceback), a spec path is read from the caller's folder, and a benchmark that cannot run here says
so and exits with the status `make bench` reports as skipped. Each script runs as a subprocess with tiny
arguments; nothing here depends on timing.

benchmarks/startup.py removes the checkout's bytecode while it measures, so it is only run here with
arguments it refuses before touching any."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIPPED = 77  # benchmarks/editor_latency.py's exit status when it cannot run; `make bench` knows it


def run(script: str, *args: str, cwd: Path = ROOT, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def assert_usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "usage:" in result.stderr and message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--batch", "0"], "--batch: expected a positive integer, got 0"),
    (["--batch", "-1"], "--batch: expected a positive integer, got -1"),
    (["--length", "0"], "--length: expected a positive integer, got 0"),
    (["--set", "foo"], "--set expects KEY=VALUE, got `foo`"),
])
def test_run_demo_refuses_bad_arguments_with_a_usage_error(args: list[str], message: str) -> None:
    assert_usage_error(run("examples/run_demo.py", *args), message)


def test_run_demo_reads_a_spec_path_from_the_callers_folder(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "tiny_cnn.json", tmp_path / "mine.json")
    result = run("examples/run_demo.py", "mine.json", "--batch", "2", "--length", "256", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"compiled {tmp_path / 'mine.json'} in " in result.stdout
    assert "output logits: (2, 4)" in result.stdout
    written = re.search(r"-> (\S+)\n", result.stdout)
    assert written is not None and os.path.isabs(written.group(1)), result.stdout
    assert Path(written.group(1)).samefile(ROOT / "build" / "model.py")


@pytest.mark.parametrize(("shape", "permute", "expected"), [
    ("[B, 1, T]", "", "input  x: (2, 1, 300)"),  # channels first, the length named T
    ("[N, T, 2]", "  xt: {block: permute, in: x, dims: [0, 2, 1]}\n", "input  x: (2, 300, 2)"),  # channels last
])
def test_run_demo_sizes_a_length_symbol_of_any_name(tmp_path: Path, shape: str, permute: str, expected: str) -> None:
    """--length sizes the signal's one free axis besides the batch, whatever its name (it sized only `L`, so
    `[B, 1, T]` ran at T = 1 and was refused); other free sizes are 1, and the demo says so."""
    spec = (f"vibench: 1\nname: Named\ninputs:\n  x: {{shape: {shape}}}\nnodes:\n{permute}"
            f"  conv: {{block: conv1d, in: {'xt' if permute else 'x'}, out_channels: 4, kernel_size: 9}}\n"
            "  pool: {block: adaptive_avg_pool1d, in: conv, output_size: 1}\n"
            "outputs:\n  y: pool\n")
    (tmp_path / "named.yaml").write_text(spec)
    result = run("examples/run_demo.py", "named.yaml", "--batch", "2", "--length", "300", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert expected in result.stdout and "output y: (2, 4, 1)" in result.stdout
    assert "set to 1" not in result.stdout


def test_run_demo_names_a_length_the_model_cannot_take_before_running_it() -> None:
    result = run("examples/run_demo.py", "examples/patchtst_classifier.yaml", "--length", "2050")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "--length 2050" in result.stderr and "L % 16 == 0" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--sizes", "0"], "--sizes: expected a positive integer, got 0"),
    (["--sizes", "-5"], "--sizes: expected a positive integer, got -5"),
    (["--sizes", "100", "100", "100"], "--sizes: each size once (repeated: 100)"),
    (["--runs", "0"], "--runs: expected a positive integer, got 0"),
])
def test_scale_refuses_bad_arguments_with_a_usage_error(args: list[str], message: str) -> None:
    assert_usage_error(run("benchmarks/scale.py", *args), message)


def test_scale_says_when_its_sizes_check_no_target() -> None:
    result = run("benchmarks/scale.py", "--sizes", "50", "--runs", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "targets not checked" in result.stdout
    assert "targets missed" not in result.stdout


def test_startup_refuses_bad_arguments_before_touching_bytecode() -> None:
    assert_usage_error(run("benchmarks/startup.py", "--runs", "0"), "--runs: expected a positive integer, got 0")


def test_startup_stops_on_a_spec_that_does_not_compile_before_touching_bytecode(tmp_path: Path) -> None:
    if not (Path(sys.executable).parent / "vibench-compile").exists():
        pytest.skip("vibench-compile is not installed next to this interpreter")
    bytecode = set((ROOT / "vibench").rglob("*.pyc"))
    result = run("benchmarks/startup.py", "--spec", "missing.yaml", "--runs", "1", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "missing.yaml" in result.stderr and "nothing was timed" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    # startup.py clears bytecode to time a cold start: none of it is gone (another test worker may add some)
    assert bytecode <= set((ROOT / "vibench").rglob("*.pyc"))


def test_editor_latency_without_node_is_skipped_as_make_bench_expects(tmp_path: Path) -> None:
    result = run("benchmarks/editor_latency.py", "--runs", "1", path=str(tmp_path))  # a PATH with no node or npm
    assert result.returncode == SKIPPED, result.stderr[-2000:]
    assert result.stdout.startswith("editor latency: skipped: ") and result.stdout.count("\n") == 1, result.stdout
    assert "Traceback" not in result.stderr
    bench = (ROOT / "Makefile").read_text().split("\nbench:", 1)[1].split("\n\n", 1)[0]
    assert f"[ $$code -eq {SKIPPED} ]; then what=skipped" in bench


def test_forward_runs_each_case_in_a_process_of_its_own(tmp_path: Path) -> None:
    """Without a reference: vibench's own figures, from a case's own process, reach the report (the
    case's figures come back through a file; the parent never builds the template)."""
    out = tmp_path / "forward.json"
    result = run("benchmarks/forward.py", "--only", "mlp/Dlinear", "--budget", "0.05", "--min-pairs", "1",
                 "--out", str(out), "--default-malloc")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "comparison with PHM-Vibench is SKIPPED" in result.stdout

    report = json.loads(out.read_text(encoding="utf-8"))
    (case,) = report["cases"]
    assert case["process"] != report["process"]
    assert case["template"] == "mlp/Dlinear" and case["error"] is None
    assert case["forward"]["vibench_ms"] > 0 and case["train"]["vibench_ms"] > 0 and case["parameters"] > 0


def test_forward_reports_a_case_whose_process_fails_and_goes_on() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_forward", ROOT / "benchmarks" / "forward.py")
    assert spec is not None and spec.loader is not None
    forward = sys.modules["bench_forward"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
    try:
        spec.loader.exec_module(forward)
    finally:
        del sys.modules["bench_forward"]
    row = forward.run_case_isolated(forward.CASES[0], ["--budget", "not-a-number"], str(ROOT / "build"))
    assert row.error is not None and row.error.startswith("its process ended with status 2: ")
    assert "invalid float value: 'not-a-number'" in row.error
