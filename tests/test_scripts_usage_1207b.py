"""The command lines of the tooling scripts, QA round 1207b: a bad argument is a usage error (exit 2, no
traceback) found before any work, as benchmarks/forward.py does it: scripts/fuzz.py's timeouts have a floor,
scripts/device_check.py checks its device, case ids and --out first, examples/run_demo.py bounds its batch,
the reference scripts check --reference (and -k) first, scripts/reference.py and scripts/library_stats.py
parse their arguments, benchmarks/forward.py's hidden --case is range-checked. No reference checkout, GPU or
campaign is needed: every call stops at its arguments.

Second pass (QA2): run_demo.py draws its signals as tensors and bounds all its inputs together, naming the spec's
sizes when they are the cause; device_check.py and benchmarks/forward.py follow a symbolic --out to its target;
device_check.py checks a device of any kind first, refuses meta, a --compile id --only leaves out and an empty
--out; library_stats.py reads each file as the compiler does and skips one it refuses with a note."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.test_scripts_1206g import assert_usage_error, run

ROOT = Path(__file__).resolve().parent.parent


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
    (["--timeout", "1e10"], "argument --timeout: expected a number of seconds from 5 to 86400, got 1e10"),
    (["--timeout", "0"], "argument --timeout: expected at least 5 seconds, got 0"),  # QA2: it said "above 0"
    (["--timeout", "nan"], "argument --timeout: expected a number of seconds from 5 to 86400, got nan"),
    (["--runtime-timeout", "0"], "argument --runtime-timeout: expected at least 60 seconds, got 0"),
    (["--runtime-timeout", "inf"], "argument --runtime-timeout: expected a number of seconds from 60 to 86400"),
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


# == QA2 ======================================================================================
# -- 2. examples/run_demo.py: vectorised draw, one bound for all inputs, the spec's sizes named ---------


def demo_module() -> Any:
    import importlib.util

    module_spec = importlib.util.spec_from_file_location("run_demo_1207b", ROOT / "examples" / "run_demo.py")
    assert module_spec is not None and module_spec.loader is not None
    demo = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(demo)
    return demo


def test_run_demo_draws_its_signals_as_tensors_not_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python loop per signal (~65 us each): [4096, 4096, 4] took 18 minutes. The draw is a few tensor
    operations per block of signals, however many signals there are."""
    import torch

    demo = demo_module()
    calls = [0]
    sin = torch.sin

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return sin(*args, **kwargs)

    monkeypatch.setattr(torch, "sin", counted)
    signals = demo.synthetic_vibration(50, 20, 16)
    assert signals.shape == (50, 20, 16) and bool(torch.isfinite(signals).all())
    assert calls[0] <= 3  # one block of 1,000 signals: three sines, not three per signal
    assert not torch.equal(signals[0, 0], signals[0, 1])  # each signal its own speeds and noise
    assert torch.equal(signals, demo.synthetic_vibration(50, 20, 16))  # the same seed, the same batch
    monkeypatch.setattr(demo, "ELEMENTS_PER_DRAW", 64)  # blocks of 4 signals of 16 samples
    calls[0] = 0
    blocks = demo.synthetic_vibration(2, 5, 16)
    assert blocks.shape == (2, 5, 16) and bool(torch.isfinite(blocks).all()) and calls[0] == 3 * 3


MANY_CHANNELS = ("vibench: 1\nname: ManyChannels\nparams:\n  c: {type: int, default: 4096, ge: 1}\n"
                 "inputs:\n  x: {shape: [B, \"${c}\", L]}\nnodes:\n  r: {block: relu, in: x}\noutputs:\n  y: r\n")
MANY_INPUTS = ("vibench: 1\nname: ManyInputs\ninputs:\n  x0: {shape: [B, L]}\n  x1: {shape: [B, L]}\n"
               "  x2: {shape: [B, L]}\nnodes:\n  r: {block: add, in: [x0, x1, x2]}\noutputs:\n  y: r\n")


@pytest.mark.parametrize(("spec", "args", "message"), [
    (MANY_INPUTS, ["--batch", "4096", "--length", "8192"],
     "the demo's input `x0` would be (4096, 8192): 33,554,432 elements (100,663,296 with the other inputs), more "
     "than the 67,108,864 (256 MiB of float32) the demo draws; give a smaller --batch or --length"),
    (MANY_CHANNELS, ["--set", "c=1048576", "--batch", "64", "--length", "4"],
     "(64, 1048576, 4): 268,435,456 elements, more than the 67,108,864 (256 MiB of float32) the demo draws (the spec "
     "fixes its axis 1 at 1,048,576); give a smaller --batch or --length"),
    (MANY_CHANNELS, ["--set", "c=134217728"],
     "the spec fixes its axis 1 at 134,217,728, too large even at --batch 1 --length 1: give the spec a smaller "
     "channel or feature size (--set, for a template's parameter), or another spec"),
])
def test_run_demo_bounds_all_its_inputs_together_and_names_the_specs_sizes(
        tmp_path: Path, spec: str, args: list[str], message: str) -> None:
    """Three inputs of 2**26 elements each were drawn (1.8 GB); a channel size of the spec's was said to be the
    fault of --batch or --length."""
    (tmp_path / "m.yaml").write_text(spec)
    out = tmp_path / "model.py"
    assert_usage_error(run("examples/run_demo.py", str(tmp_path / "m.yaml"), *args, "-o", str(out)), message)
    assert not out.exists()


# -- 4. and 9. scripts/device_check.py and benchmarks/forward.py: --out, devices, --compile --------------


@pytest.fixture
def links(tmp_path: Path) -> Path:
    (tmp_path / "afile").write_text("{}")
    (tmp_path / "existing").mkdir()
    (tmp_path / "dangling").symlink_to("/nonexistent_1207b/rows.json")
    (tmp_path / "todir").symlink_to(tmp_path / "existing")
    (tmp_path / "round").symlink_to(tmp_path / "round")
    return tmp_path


def test_device_check_follows_a_symbolic_out_to_its_target_before_any_case_runs(
        links: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A dangling link passed (its own folder exists) and every case ran before the FileNotFoundError."""
    from scripts import device_check

    def said(out: str) -> str:
        return usage_exit(device_check.main, ["--device", "cpu", "--only", "mlp/Dlinear", "--out", out], capsys)

    assert (f"argument --out: cannot write {links / 'dangling'} (a symbolic link to /nonexistent_1207b/rows.json): "
            "its folder /nonexistent_1207b does not exist") in said(str(links / "dangling"))
    assert (f"argument --out: cannot write {links / 'afile' / 'x.json'}: {links / 'afile'} is a file, not a folder"
            in said(str(links / "afile" / "x.json")))
    assert f"{links / 'todir'} (a symbolic link to {links / 'existing'}) is a folder" in said(str(links / "todir"))
    assert "leads round in a loop" in said(str(links / "round"))
    assert "argument --out: an empty path names no file; give a file name" in said("")  # it wrote nothing, exit 0


def test_device_check_writes_through_a_link_to_a_new_file(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import device_check

    (tmp_path / "rows-link").symlink_to("rows.json")
    assert device_check.main(["--device", "cpu", "--only", "mlp/Dlinear", "--out", str(tmp_path / "rows-link")]) == 0
    assert (tmp_path / "rows-link").is_symlink()
    assert [row["case"] for row in json.loads((tmp_path / "rows.json").read_text())] == ["mlp/Dlinear"]
    assert "1 cases, 0 with a failed check" in capsys.readouterr().out


def test_device_check_refuses_meta_and_a_compile_id_that_only_leaves_out(capsys: pytest.CaptureFixture[str]) -> None:
    """meta ran every case to a traceback; `--only A --compile B` silently compiled nothing."""
    from scripts import device_check

    said = usage_exit(device_check.main, ["--device", "meta", "--only", "mlp/Dlinear"], capsys)
    assert "argument --device: a meta tensor holds no values, so no output can be compared" in said
    said = usage_exit(device_check.main, ["--device", "cpu", "--only", "mlp/Dlinear", "--compile", "mlp/gMLP"],
                      capsys)
    assert "argument --compile: `mlp/gMLP` is not among the cases of --only, which alone run; add it to --only" in said


def test_device_check_tries_a_device_of_any_kind_before_any_case_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """mps (on a machine without one) was accepted, then every case failed with a traceback."""
    import torch

    from scripts import device_check

    if torch.backends.mps.is_available():
        pytest.skip("this machine has an MPS device")
    assert device_check.main(["--device", "mps", "--only", "mlp/Dlinear"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("no mps device: mps cannot be checked (") and "Traceback" not in out
    assert "mlp/Dlinear" not in out  # no case ran


@pytest.mark.parametrize("args", [["--only", "mlp/Dlinear", "--out", "DANGLING"],
                                  ["--case", "0", "--row-out", "/nonexistent_1207b/row.json"]])
def test_forward_follows_a_symbolic_out_and_checks_row_out_first(links: Path, args: list[str]) -> None:
    """The dangling --out passed and the report was lost after every case was timed; --row-out was not checked
    at all (the case ran, then FileNotFoundError)."""
    args = [str(links / "dangling") if a == "DANGLING" else a for a in args]
    flag = "--out" if "--out" in args else "--row-out"
    result = run("benchmarks/forward.py", "--default-malloc", *args)
    assert_usage_error(result, f"argument {flag}: cannot write ")
    assert "its folder /nonexistent_1207b does not exist" in result.stderr
    assert not os.path.exists("/nonexistent_1207b")  # a link's target folder is not made


# -- 5. scripts/library_stats.py: each file read as the compiler reads a spec ------------------------


def test_library_stats_skips_a_file_the_compiler_refuses_with_a_note_naming_it(tmp_path: Path) -> None:
    """200,000 levels of `[` crashed the process (SIGSEGV), nested aliases took a minute and 1.7 GB, and bad
    YAML, bad UTF-8 or a dangling link was a traceback."""
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 200_000 + "]" * 200_000 + "\n")
    fan = ["l0: &l0 [1,1,1,1,1,1,1,1,1,1]"] + [f"l{k}: &l{k} [" + ",".join([f"*l{k - 1}"] * 10) + "]"
                                               for k in range(1, 6)]
    (tmp_path / "fan.yaml").write_text("\n".join(fan) + "\n")
    (tmp_path / "bad.yaml").write_text("a: [1, 2\nb: }\n")
    (tmp_path / "latin.yaml").write_bytes(b'a: "caf\xe9"\n')
    (tmp_path / "gone.yaml").symlink_to("/nonexistent_1207b/x.yaml")
    (tmp_path / "ok.yaml").write_text("vibench: 1\nname: M\ndoc: ${x + 1}\n")
    result = run("scripts/library_stats.py", str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    notes = {line.split(" ")[2].split(":")[0]: line for line in result.stderr.splitlines()
             if line.startswith("note: skipped ")}
    assert {os.path.basename(n) for n in notes} == {"deep.yaml", "fan.yaml", "bad.yaml", "latin.yaml", "gone.yaml"}
    assert f"note: skipped {tmp_path / 'deep.yaml'}:1:" in result.stderr and "nests deeper than 64 levels" in \
        result.stderr
    assert "error[E002]: aliases expand the document beyond the size limit" in notes[str(tmp_path / "fan.yaml")]
    assert "error[E001]: spec file is not valid UTF-8" in notes[str(tmp_path / "latin.yaml")]
    assert "error[E004]: cannot read spec file" in notes[str(tmp_path / "gone.yaml")]
    assert "error[E001]: YAML syntax error" in notes[str(tmp_path / "bad.yaml")]
    assert "spec files:                1\n" in result.stdout and "(5 files skipped: see the notes above)" in \
        result.stdout


def test_library_stats_help_says_how_a_refused_file_is_treated(capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import library_stats

    with pytest.raises(SystemExit):
        library_stats.main(["--help"])
    assert "is skipped with a note naming it on standard error, and the exit status is 1" in \
        " ".join(capsys.readouterr().out.split())
    assert library_stats.measure().skipped == ()  # the shipped library: every file read
