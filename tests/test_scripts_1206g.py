"""The command lines of scripts/fuzz.py and of the benchmarks lsp_latency.py, scale.py and forward.py: a bad
value is a usage error (exit 2, no traceback) before any worker, server or timing starts; the fuzz
campaign never replaces a folder it did not make, keeps its report folder to its own run, says where its
partial findings are on Ctrl-C; the benchmarks leave no temporary folder behind. Nothing here times
anything: campaigns are empty or stubbed, benchmarks run at their smallest sizes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from scripts import fuzz
from vibench.testing import Finding

ROOT = Path(__file__).resolve().parent.parent


def run(script: str, *args: str, cwd: Path = ROOT, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if tmp is not None:  # where tempfile makes its folders: a benchmark must leave none there
        env["TMPDIR"] = str(tmp)
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def assert_usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "usage:" in result.stderr and message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def empty_campaign(out: Path) -> list[str]:
    """Options of a campaign with no phase: only the options checks, the folders and the report run."""
    return ["--valid", "0", "--mutations", "0", "--support", "0", "--no-save", "--out", str(out)]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIBENCH_CACHE", raising=False)  # main() sets it for its own run
    monkeypatch.delenv("VIBENCH_FUZZ_CODE", raising=False)


# --------------------------------------------------------------------------------------------
# scripts/fuzz.py


@pytest.mark.parametrize(("args", "message"), [
    (["--timeout", "0"], "argument --timeout: expected at least 5 seconds, got 0"),
    (["--timeout", "-1"], "argument --timeout: expected at least 5 seconds, got -1"),
    (["--runtime-timeout", "0"], "argument --runtime-timeout: expected at least 60 seconds, got 0"),
    (["--memory-mb", "50"], "argument --memory-mb: expected at least 256 MB (0: no limit), got 50"),
    (["--memory-mb", "100000000000000"], "argument --memory-mb: expected an integer from 0 to 16777216"),
    (["--valid", "-3"], "argument --valid: expected 0 or a positive integer (0: skip), got -3"),
    (["--mutations", "-5"], "argument --mutations: expected 0 or a positive integer (0: skip), got -5"),
    (["--support", "-1"], "argument --support: expected 0 or a positive integer (0: skip), got -1"),
    (["--max-nodes", "0"], "argument --max-nodes: expected an integer from 1 to 64, got 0"),
    (["--max-nodes", "100000"], "argument --max-nodes: expected an integer from 1 to 64, got 100000"),
    (["--progress", "0"], "argument --progress: expected a positive integer, got 0"),
    (["--progress-valid", "0"], "argument --progress-valid: expected a positive integer, got 0"),
    (["--backends", "bogus"], "argument --backends: expected a comma-separated list of compile, export, script, "
                              "got `bogus`"),
])
def test_fuzz_refuses_a_bad_option_value_before_any_worker_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None, args: list[str], message: str) -> None:
    """Such values reached the workers: every mutant a "crash", saved as an open regression."""
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        fuzz.main([*empty_campaign(out), *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing ran


def test_fuzz_refuses_report_and_regression_folders_it_cannot_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("mine\n")
    saving = ["--valid", "0", "--mutations", "0", "--out", str(tmp_path / "out"), "--regressions", str(tmp_path)]
    for args, message in ((["--out", str(a_file)], f"--out: {a_file} is a file, not a folder"),
                          (["--out", str(a_file / "sub")], f"--out: cannot create {a_file / 'sub'}"),
                          (["--regressions", str(a_file)], f"--regressions: {a_file} is a file, not a folder")):
        with pytest.raises(SystemExit) as exit_:
            fuzz.main([*saving, *args])  # the last --out / --regressions counts
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    assert a_file.read_text() == "mine\n"


def test_fuzz_snapshot_never_replaces_a_code_folder_it_did_not_make(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None) -> None:
    """`--snapshot --out ~` removed ~/code before copying vibench/ there."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "notes.txt").write_text("mine\n")
    with pytest.raises(SystemExit) as exit_:
        fuzz.main([*empty_campaign(tmp_path), "--snapshot"])
    assert exit_.value.code == 2
    assert f"{tmp_path / 'code'} exists and this script did not make it" in capsys.readouterr().err
    assert (tmp_path / "code" / "notes.txt").read_text() == "mine\n"


def test_fuzz_snapshot_keeps_relative_folders_where_the_caller_is(tmp_path: Path) -> None:
    """The snapshot's child runs in the checkout: a relative --out went half there, half to the caller's folder."""
    name = f"fuzz-out-{uuid.uuid4().hex[:8]}"
    try:
        args = [*empty_campaign(Path(name)), "--snapshot"]
        for _ in range(2):  # the second run replaces the snapshot the first one made
            result = run("scripts/fuzz.py", *args, cwd=tmp_path)
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        out = tmp_path / name
        assert f"vibench from {out / 'code' / 'vibench'}" in result.stdout
        assert (out / "code" / ".fuzz-snapshot").is_file() and (out / "code" / "vibench" / "__init__.py").is_file()
        assert json.loads((out / "summary.json").read_text())["seed"] == 0
        assert not (ROOT / name).exists()
    finally:
        if (ROOT / name).exists():  # only this test's own folder, made by the bug it checks
            shutil.rmtree(ROOT / name)


def test_fuzz_clears_what_an_earlier_run_left_in_its_report_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_env: None) -> None:
    (tmp_path / "summary.json").write_text('{"stale": true}')
    (tmp_path / "torch-stderr.log").write_text("an earlier run's log\n")
    minimised = tmp_path / "minimised"
    minimised.mkdir()
    (minimised / "crash-0123456789.yaml").write_text("# fuzz-kind: crash\nvibench: 1\n")
    (minimised / "mine-0123456789.yaml").write_text("vibench: 1\n")  # not the script's: no header
    (minimised / "notes.txt").write_text("mine\n")
    (tmp_path / "notes.txt").write_text("mine\n")
    assert fuzz.main(empty_campaign(tmp_path)) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "stale" not in summary and summary["mutations"] == {}
    assert not (tmp_path / "torch-stderr.log").exists()
    assert sorted(p.name for p in minimised.iterdir()) == ["mine-0123456789.yaml", "notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def _one_finding(args: Any, report: fuzz.Report, workers: Any, log: Any) -> None:
    finding = Finding("crash", "the compiling process died", "crash:exit status 1")
    report.counts["mutations crash"] += 1
    report.add(finding, fuzz.Example(finding, "static", "vibench: 1\n", "mutation 0"), log)


def test_fuzz_writes_its_figures_before_minimising(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> None:
    """A failure while minimising (the long end of a run) lost every figure of the campaign."""
    def late_failure(*args: Any) -> None:
        raise RuntimeError("late")

    monkeypatch.setattr(fuzz, "run_mutations", _one_finding)
    monkeypatch.setattr(fuzz, "minimise_and_save", late_failure)
    with pytest.raises(RuntimeError, match="late"):
        fuzz.main([*empty_campaign(tmp_path), "--mutations", "1"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["signatures"] == {"crash:exit status 1": 1} and summary["mutations"] == {"crash": 1}


def test_fuzz_on_ctrl_c_says_where_the_partial_findings_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: None) -> None:
    def interrupted(*args: Any) -> None:
        _one_finding(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(fuzz, "run_mutations", interrupted)
    assert fuzz.main([*empty_campaign(tmp_path), "--mutations", "5"]) == 130
    err = capsys.readouterr().err
    assert f"interrupted: the findings so far are in {tmp_path / 'findings.jsonl'}" in err
    assert "Traceback" not in err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["mutations"] == {"crash": 1}
    assert len((tmp_path / "findings.jsonl").read_text().splitlines()) == 1


# --------------------------------------------------------------------------------------------
# benchmarks


@pytest.mark.parametrize(("args", "message"), [
    (["--runs", "0"], "argument --runs: expected a positive integer, got 0"),
    (["--nodes", "0"], "argument --nodes: expected a positive integer, got 0"),
    (["--nodes", "5"], "argument --nodes: expected a node count from 8"),
    (["--nodes", "100001"], "to 100,000 (the compiler's limit), got 100001"),
])
def test_lsp_latency_refuses_bad_arguments_with_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("benchmarks/lsp_latency.py", *args, tmp=tmp_path)
    assert_usage_error(result, message)
    assert not list(tmp_path.iterdir())


def test_lsp_latency_takes_any_node_count_from_its_minimum_and_removes_its_folder(tmp_path: Path) -> None:
    """9 nodes (not a multiple of 4) broke the edit that should give a shape error (an AssertionError);
    each run left a /tmp/vibench-lsp-bench-* folder. Its exit status (targets) is not looked at."""
    result = run("benchmarks/lsp_latency.py", "--nodes", "9", "--runs", "1", tmp=tmp_path)
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]
    assert "9-node spec" in result.stdout and "not a shape error" not in result.stdout
    assert "Traceback" not in result.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("vibench-lsp-bench-")]


def test_scale_refuses_sizes_above_the_compilers_node_limit() -> None:
    """--sizes 100001 built the text and then stopped on the compiler's E213 with a traceback."""
    assert_usage_error(run("benchmarks/scale.py", "--sizes", "100001"),
                       "argument --sizes: expected at most 100,000 nodes (the compiler's limit), got 100001")


@pytest.mark.parametrize(("args", "message"), [
    (["--budget", "-1"], "argument --budget: expected a number of seconds above 0, got -1"),
    (["--budget", "0"], "argument --budget: expected a number of seconds above 0, got 0"),
    (["--min-pairs", "-3"], "argument --min-pairs: expected a positive integer, got -3"),
    (["--min-pairs", "0"], "argument --min-pairs: expected a positive integer, got 0"),
])
def test_forward_refuses_bad_timing_arguments_with_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    """-1 and -3 ended in an IndexError (exit 1); 0 silently became the default."""
    result = run("benchmarks/forward.py", "--only", "mlp/Dlinear", "--default-malloc", "--out",
                 str(tmp_path / "fw.json"), *args, tmp=tmp_path)
    assert_usage_error(result, message)
    assert not list(tmp_path.iterdir())


def test_forward_refuses_an_unwritable_report_before_timing(tmp_path: Path) -> None:
    """The report's path failed with a traceback after every case had been timed."""
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    out = a_file / "fw.json"  # a folder that cannot be made
    result = run("benchmarks/forward.py", "--only", "mlp/Dlinear", "--default-malloc", "--budget", "0.05",
                 "--min-pairs", "1", "--out", str(out), tmp=tmp_path)
    assert_usage_error(result, f"argument --out: cannot write {out}")
    assert "compiler start-up" not in result.stdout  # nothing ran
    result = run("benchmarks/forward.py", "--only", "mlp/Dlinear", "--default-malloc", "--out", str(tmp_path),
                 tmp=tmp_path)
    assert_usage_error(result, f"argument --out: {tmp_path} is a folder: give a file name")


def test_forward_removes_its_cache_folder(tmp_path: Path) -> None:
    """Every run left a /tmp/vibench-bench-cache-* folder (one template, the smallest budget)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    result = run("benchmarks/forward.py", "--only", "mlp/Dlinear", "--budget", "0.05", "--min-pairs", "1",
                 "--default-malloc", "--out", str(tmp_path / "fw.json"), tmp=folder)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "vibench cache " in result.stdout
    assert json.loads((tmp_path / "fw.json").read_text())["cases"][0]["error"] is None
    assert list(folder.iterdir()) == []
