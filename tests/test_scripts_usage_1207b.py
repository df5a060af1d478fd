"""The command lines of the tooling scripts, QA round 1207b: a bad argument is a usage error (exit 2, no
traceback) found before any work, as benchmarks/forward.py does it: scripts/fuzz.py's timeouts have a floor,
scripts/device_check.py checks its device, case ids and --out first, examples/run_demo.py bounds its batch,
the reference scripts check --reference (and -k) first, scripts/reference.py and scripts/library_stats.py
parse their arguments, benchmarks/forward.py's hidden --case is range-checked. No reference checkout, GPU or
campaign is needed: every call stops at its arguments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def assert_usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "usage:" in result.stderr and message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def usage_exit(main: object, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What ``main(argv)`` says on standard error as it exits with status 2."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)  # type: ignore[operator]
    assert exit_.value.code == 2
    return capsys.readouterr().err


# -- 2. scripts/fuzz.py: a floor under the timeouts -----------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--timeout", "0.001"], "argument --timeout: expected at least 5 seconds, got 0.001"),
    (["--timeout", "4.9"], "argument --timeout: expected at least 5 seconds, got 4.9"),
    (["--runtime-timeout", "1"], "argument --runtime-timeout: expected at least 60 seconds, got 1"),
    (["--timeout", "1e10"], "argument --timeout: expected a number of seconds above 0 and at most 86400"),
])
def test_fuzz_refuses_a_timeout_under_which_every_case_is_a_hang(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str],
        message: str) -> None:
    """--timeout 0.001 made every case a "hang", saved as an open regression that replays clean (5 s)."""
    from scripts import fuzz

    monkeypatch.delenv("VIBENCH_FUZZ_CODE", raising=False)
    out = tmp_path / "out"
    campaign = ["--valid", "0", "--mutations", "0", "--support", "0", "--no-save", "--out", str(out)]
    assert message in usage_exit(fuzz.main, [*campaign, *args], capsys)
    assert not out.exists()


def test_fuzz_takes_the_floors_themselves() -> None:
    from scripts import fuzz_options

    args = fuzz_options.parser("fuzz").parse_args(["--timeout", "5", "--runtime-timeout", "60"])
    assert (args.timeout, args.runtime_timeout) == (fuzz_options.MIN_TIMEOUT, fuzz_options.MIN_RUNTIME_TIMEOUT)


# -- 4. scripts/device_check.py -------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--device", "bogus"], "argument --device: expected a torch device such as cuda, cuda:1 or cpu, got `bogus`"),
    (["--device", "cuda:abc"], "argument --device: expected a torch device such as cuda, cuda:1 or cpu"),
    (["--device", "cpu", "--only", "cnn/Resnet1D"], "argument --only: no case `cnn/Resnet1D`; did you mean "
                                                    "`cnn/ResNet1D`?"),
    (["--device", "cpu", "--only"], "argument --only: expected at least one argument"),
    (["--device", "cpu", "--compile", "cnn/ResNet1D", "nothing/Here"], "argument --compile: no case `nothing/Here`"),
    (["--device", "cpu", "--out", "/proc/x.json"], "argument --out: cannot write /proc/x.json"),
])
def test_device_check_refuses_bad_arguments_before_any_case_runs(
        capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    from scripts import device_check

    assert message in usage_exit(device_check.main, args, capsys)


def test_device_check_refuses_an_out_that_is_a_folder_or_in_no_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import device_check

    said = usage_exit(device_check.main, ["--device", "cpu", "--out", str(tmp_path)], capsys)
    assert f"argument --out: {tmp_path} is a folder: give a file name" in said
    said = usage_exit(device_check.main, ["--device", "cpu", "--out", str(tmp_path / "no" / "rows.json")], capsys)
    assert f"its folder {tmp_path / 'no'} does not exist" in said


# -- 5. examples/run_demo.py -----------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--length", "100000000000"], "argument --length: expected a positive integer of at most 16,777,216"),
    (["--batch", "4611686018427387905"], "argument --batch: expected a positive integer of at most 4,096"),
    (["--batch", "4096", "--length", "65536"], "the demo's input `x` would be (4096, 1, 65536): 268,435,456 elements"),
])
def test_run_demo_bounds_its_batch(tmp_path: Path, args: list[str], message: str) -> None:
    """--length 10**11 asked torch for 400 GB; --batch 2**62 + 1 was a ValueError traceback from the compiler."""
    out = tmp_path / "model.py"
    assert_usage_error(run("examples/run_demo.py", *args, "-o", str(out)), message)
    assert not out.exists()


# -- 6. the reference scripts ----------------------------------------------------------------------


def test_the_reference_scripts_refuse_a_folder_that_is_no_checkout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import record_reference_values, reference_cases_isfm, reference_cases_registry

    missing = str(tmp_path / "nonexistent")
    for main, argv in ((record_reference_values.main, ["--reference", missing]),
                       (reference_cases_isfm.main, ["--measure", "--reference", missing]),
                       (reference_cases_registry.main, ["--measure", "--reference", missing])):
        said = usage_exit(main, argv, capsys)
        assert f"--reference: {missing} is not a PHM-Vibench checkout" in said


def test_record_reference_values_refuses_a_k_that_selects_no_case(capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import record_reference_values

    for argv in (["-k", "zzzz", "--reference", "/nonexistent"], ["-k", "zzzz", "--list"]):
        assert "-k zzzz: no case name contains it" in usage_exit(record_reference_values.main, argv, capsys)


# -- 9. scripts/reference.py and scripts/library_stats.py ----------------------------------------------


def test_reference_py_parses_its_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--help was read as the folder: "error: .../--help is not a PHM-Vibench checkout", exit 1."""
    from scripts import reference

    with pytest.raises(SystemExit) as exit_:
        reference.main(["--help"])
    assert exit_.value.code == 0 and "REFERENCE_DIR" in capsys.readouterr().out
    assert "REFERENCE_DIR: /nonexistent does not exist" in usage_exit(reference.main, ["/nonexistent"], capsys)
    assert "the following arguments are required" in usage_exit(reference.main, [], capsys)
    assert "REFERENCE_DIR is empty" in usage_exit(reference.main, [""], capsys)  # `make reference REFERENCE=`
    assert reference.main([str(tmp_path)]) == 1  # a folder, but no checkout: the check's answer
    assert "is not a PHM-Vibench checkout" in capsys.readouterr().err


def test_library_stats_parses_its_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--help and a missing folder measured an empty folder and exited 0."""
    from scripts import library_stats

    with pytest.raises(SystemExit) as exit_:
        library_stats.main(["--help"])
    assert exit_.value.code == 0 and "SPEC_FOLDER" in capsys.readouterr().out
    assert "SPEC_FOLDER: /nonexistent does not exist" in usage_exit(library_stats.main, ["/nonexistent"], capsys)
    assert "holds no YAML file" in usage_exit(library_stats.main, [str(tmp_path)], capsys)
    assert "SPEC_FOLDER is empty" in usage_exit(library_stats.main, [""], capsys)
    (tmp_path / "m.yaml").write_text("vibench: 1\nname: M\ndoc: ${x}\n")
    assert library_stats.main([str(tmp_path)]) == 0
    assert "spec files:                1" in capsys.readouterr().out


# -- 10. benchmarks/forward.py's hidden --case -----------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["--case", "99999", "--row-out", "row.json"], "argument --case: expected a case index from 0 to "),
    (["--case", "-1", "--row-out", "row.json"], "argument --case: expected a case index from 0 to "),
    (["--case", "0"], "argument --case: needs --row-out FILE"),
])
def test_forward_refuses_a_case_index_out_of_range(args: list[str], message: str) -> None:
    assert_usage_error(run("benchmarks/forward.py", "--default-malloc", *args), message)
